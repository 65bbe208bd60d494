//! Deciding: the rules evaluated in order against an incident's facts, first match wins, into
//! a [`Decision`] with its plans, channels and explanation.

use chrono::{DateTime, Utc};

use super::*;
use crate::incident::Incident;

impl Policy {
    /// Decides for `incident`, given what happened before, at time `now`; an error when an
    /// amount it needs cannot be computed (the incident cannot be decided as it is).
    pub fn try_decide(
        &self,
        incident: &Incident,
        history: &History,
        now: DateTime<Utc>,
    ) -> Result<Decision, AmountError> {
        let (decision, problem) = self.decide_noting(incident, history, now);
        match problem {
            Some(e) => Err(e),
            None => Ok(decision),
        }
    }

    /// Like [`try_decide`](Self::try_decide), for previews of sample incidents: an offer whose
    /// amount cannot be computed is left out, with why in the explanation. What is recorded is
    /// decided by `try_decide`.
    pub fn decide(&self, incident: &Incident, history: &History, now: DateTime<Utc>) -> Decision {
        self.decide_noting(incident, history, now).0
    }

    /// The decision, and the first amount that could not be computed on the way (the offers it
    /// concerns are left out of the decision).
    fn decide_noting(
        &self,
        incident: &Incident,
        history: &History,
        now: DateTime<Utc>,
    ) -> (Decision, Option<AmountError>) {
        let facts = Facts::gather(incident, history, self.history_days());
        let json = facts.to_json();
        let mut explanation = Explanation {
            policy_version: self.version.clone(),
            ..Explanation::default()
        };
        let mut matched = None;
        for rule in &self.rules {
            let (verdict, condition, seen) = match &rule.condition {
                None => (Verdict::True, "true".to_owned(), Vec::new()),
                Some(c) => (c.evaluate(&facts), c.source().to_owned(), c.seen(&json)),
            };
            explanation.rules.push(RuleTrace {
                rule: rule.name.clone(),
                line: rule.line,
                condition,
                outcome: match &verdict {
                    Verdict::True => "matched".to_owned(),
                    Verdict::False => "not matched".to_owned(),
                    Verdict::Error(e) => format!("error: {e}"),
                },
                seen: seen.into_iter().collect(),
            });
            if verdict == Verdict::True {
                matched = Some(rule);
                break;
            }
        }
        let frequency = Frequency::assess(
            &history.order_incidents,
            incident.event_type,
            now,
            self.settings.order_window,
        );
        explanation.frequency = frequency.describe(self.settings.order_window);
        let Some(rule) = matched else {
            let decision = Decision::silent(Decision::NO_RULE, "", now, None, explanation);
            return (decision, None);
        };

        if let Frequency::Repeat { .. } = frequency {
            explanation
                .channels
                .push("none: coalesced into the earlier message".to_owned());
            let why = explanation.frequency.clone();
            let decision =
                Decision::silent(&rule.name, &rule.template, now, Some(why), explanation);
            return (decision, None);
        }

        // Channels: the rule's preference first, then any other as a fallback.
        let mut preference = rule.channels.clone();
        for channel in [Channel::Email, Channel::Sms] {
            if !preference.contains(&channel) {
                preference.push(channel);
            }
        }
        let (chosen, skipped) = choose(&preference, &incident.customer, &history.suppressed);
        for (channel, reason) in &skipped {
            explanation
                .channels
                .push(format!("{channel}: skipped, {}", reason.describe()));
        }
        // The rule's next listed channel that can reach the customer is held in reserve, in case
        // the chosen one fails on every provider.
        let standby = chosen.and_then(|chosen| {
            rule.channels
                .iter()
                .skip_while(|c| **c != chosen)
                .skip(1)
                .copied()
                .find(|c| usable(*c, &incident.customer).is_ok() && !history.suppressed.contains(c))
        });
        match chosen {
            Some(channel) if rule.channels.first() == Some(&channel) => explanation
                .channels
                .push(format!("{channel}: used (preferred)")),
            Some(channel) if rule.channels.contains(&channel) => explanation
                .channels
                .push(format!("{channel}: used (next in the rule's order)")),
            Some(channel) => explanation.channels.push(format!(
                "{channel}: used (fallback: the rule's channels cannot reach the customer)"
            )),
            None => explanation
                .channels
                .push("none can reach the customer".to_owned()),
        }
        if let (Some(standby), Some(chosen)) = (standby, chosen) {
            explanation.channels.push(format!(
                "{standby}: held in reserve, sent only if {chosen} fails on every provider"
            ));
        }

        // Offers: resolve, then take off what this order already received. An amount that
        // cannot be computed is noted; the offers it concerns are left out.
        let mut problem: Option<AmountError> = None;
        let given = history
            .order_incidents
            .iter()
            .try_fold(Decimal::ZERO, |sum, p| sum.checked_add(p.given))
            .ok_or_else(|| {
                AmountError::new(
                    "history.order_incidents.given",
                    "what this order already received is too large to add up",
                )
            });
        let resolve = |specs: &[OfferSpec],
                       notes: &mut Vec<String>,
                       problem: &mut Option<AmountError>|
         -> Vec<Offer> {
            let mut offers = Vec::new();
            for spec in specs {
                match spec.resolve(incident, now, self.settings.code_expiry) {
                    Ok(Ok(offer)) => offers.push(offer),
                    Ok(Err(why)) => {
                        notes.push(format!("{} not offered: {why}", spec.kind().as_str()))
                    }
                    Err(e) => {
                        notes.push(format!("{} not offered: {e}", spec.kind().as_str()));
                        problem.get_or_insert(e);
                    }
                }
            }
            let given = match &given {
                Ok(given) if *given > Decimal::ZERO => *given,
                Ok(_) => return offers,
                Err(e) => {
                    // Whatever it is, it is more than any offer: nothing that costs is given.
                    problem.get_or_insert(e.clone());
                    offers.retain(|o| o.cost.amount().is_zero());
                    notes.push(format!("costing offers not offered: {e}"));
                    return offers;
                }
            };
            let costless: Vec<Offer> = offers
                .iter()
                .filter(|o| o.cost.amount().is_zero())
                .cloned()
                .collect();
            match account_for_given(offers, given) {
                Ok((kept, changes)) => {
                    notes.extend(changes);
                    kept
                }
                Err(e) => {
                    notes.push(format!("costing offers not offered: {e}"));
                    problem.get_or_insert(e);
                    costless
                }
            }
        };
        let mut notes = Vec::new();
        let offers = resolve(&rule.offers, &mut notes, &mut problem);
        explanation.offers = offers.iter().map(Offer::describe).collect();
        explanation.offers.extend(notes);
        explanation.escalation = rule.escalate.clone();

        let free: Vec<Offer> = offers
            .iter()
            .filter(|o| o.cost.amount().is_zero())
            .cloned()
            .collect();
        let costs_money = free.len() < offers.len();
        let rule_plan = Plan {
            label: "rule",
            offers,
            escalation: rule.escalate.clone(),
        };
        // Whatever the fallback, an apology that costs nothing always fits.
        let apology = Plan {
            label: "apology only",
            offers: free.clone(),
            escalation: rule.escalate.clone(),
        };
        let over_budget_escalation = || {
            Some(
                rule.escalate
                    .clone()
                    .unwrap_or_else(|| "the offer did not fit the budget".to_owned()),
            )
        };
        let plans = if !costs_money {
            vec![rule_plan]
        } else if chosen.is_none() {
            // Nobody can be told of a code: give none, spend no budget; a person may still call.
            explanation
                .offers
                .push("no costing offer: no channel can tell the customer of it".to_owned());
            vec![apology]
        } else {
            match &rule.fallback {
                Fallback::Apology => {
                    explanation.fallback = "apology without the costing offers".to_owned();
                    vec![rule_plan, apology]
                }
                Fallback::Escalate => {
                    explanation.fallback =
                        "apology without the costing offers, and a person follows up".to_owned();
                    let fallback = Plan {
                        label: "fallback",
                        offers: free,
                        escalation: over_budget_escalation(),
                    };
                    vec![rule_plan, fallback]
                }
                Fallback::Offers {
                    offers: specs,
                    escalate,
                } => {
                    let mut smaller = resolve(specs, &mut explanation.offers, &mut problem);
                    smaller.retain(|o| !o.cost.amount().is_zero());
                    smaller.extend(free);
                    explanation.fallback = format!(
                        "instead: {}",
                        smaller
                            .iter()
                            .map(Offer::describe)
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    let fallback = Plan {
                        label: "fallback",
                        offers: smaller,
                        escalation: if *escalate {
                            over_budget_escalation()
                        } else {
                            rule.escalate.clone()
                        },
                    };
                    vec![rule_plan, fallback, apology]
                }
            }
        };
        // A plan whose offers cannot be added up cannot be checked against a budget.
        let currency = incident.order.total.currency();
        for plan in &plans {
            if let Err(e) = plan.cost(currency) {
                problem.get_or_insert(e);
            }
        }
        let delay = chrono::Duration::from_std(rule.delay).unwrap_or(chrono::Duration::zero());
        // Rule delays are at most a year (see `parse`), so this holds for any real `now`.
        let send_at = now.checked_add_signed(delay).unwrap_or(now);
        let decision = Decision {
            rule: rule.name.clone(),
            policy_version: self.version.clone(),
            template: rule.template.clone(),
            channels: chosen.into_iter().chain(standby).collect(),
            skipped,
            send_at,
            quiet_hours: rule.quiet_hours.clone(),
            plans,
            coalesced: None,
            explanation,
        };
        (decision, problem)
    }
}

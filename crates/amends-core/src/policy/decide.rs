//! Deciding: the rules evaluated in order against an incident's facts, first match wins, into
//! a [`Decision`] with its plans, channels and explanation.

use chrono::{DateTime, Utc};

use super::*;
use crate::incident::{Customer, Incident, IncidentDetails, IncidentType, Money};

/// The rule recorded for an overdue order held by the daily cap of automatic messages.
pub const HELD_RULE: &str = "(overdue: daily cap reached)";

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
        let event_type = incident.event_type;
        // A closing event on an order that had nothing go wrong: nothing to follow up, and
        // nothing to record (the console is for incidents, not for every delivery).
        if event_type.closes_loop() && !history.order_had_incident() {
            explanation.frequency =
                "no earlier incident on this order: nothing to follow up".to_owned();
            let mut decision = Decision::silent(Decision::NO_RULE, "", now, None, explanation);
            decision.ignored = Some(format!(
                "{event_type} on an order with no earlier incident: nothing to follow up"
            ));
            return (decision, None);
        }
        // An order placed only tells its promise; the watch keeps it, nothing is decided.
        if event_type == IncidentType::Placed {
            let mut decision = Decision::silent(Decision::NO_RULE, "", now, None, explanation);
            decision.ignored =
                Some("order.placed carries the promise only: the order is watched".to_owned());
            return (decision, None);
        }
        // An overdue order over the day's cap of automatic messages: recorded, nothing sent; the
        // first one held that day carries the summary a person follows up.
        if let IncidentDetails::Overdue(overdue) = &incident.details
            && let Some(held) = &overdue.held
        {
            explanation
                .channels
                .push(format!("none: held by amends: {held}"));
            let mut decision = Decision::silent(HELD_RULE, "", now, None, explanation);
            decision.held = Some(held.clone());
            if let Some(plan) = decision.plans.first_mut() {
                plan.escalation = overdue.summary.clone();
            }
            decision.explanation.escalation = overdue.summary.clone();
            return (decision, None);
        }
        let mut matched = None;
        for rule in &self.rules {
            let condition_text = || {
                rule.condition
                    .as_ref()
                    .map_or_else(|| "true".to_owned(), |c| c.source().to_owned())
            };
            if let Some(why) = self.rules_out(rule, incident, history) {
                explanation.rules.push(RuleTrace {
                    rule: rule.name.clone(),
                    line: rule.line,
                    kind: rule.kind.as_str().to_owned(),
                    condition: condition_text(),
                    outcome: format!("not tried: {why}"),
                    seen: Default::default(),
                });
                continue;
            }
            let (verdict, seen) = match &rule.condition {
                None => (Verdict::True, Vec::new()),
                Some(c) => (c.evaluate(&facts), c.seen(&json)),
            };
            explanation.rules.push(RuleTrace {
                rule: rule.name.clone(),
                line: rule.line,
                kind: rule.kind.as_str().to_owned(),
                condition: condition_text(),
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
        let news = EtaNews::of(incident, history);
        let frequency = match matched.map(|r| r.kind) {
            Some(RuleKind::Update) => Frequency::Update {
                told: news.and_then(|n| n.told),
                new: news.and_then(|n| n.new),
            },
            Some(RuleKind::FollowUp) => Frequency::follow_up(&history.order_incidents, event_type)
                .unwrap_or(Frequency::First),
            _ => Frequency::assess(
                &history.order_incidents,
                event_type,
                now,
                self.settings.order_window,
            ),
        };
        explanation.frequency = frequency.describe(self.settings.order_window);
        let Some(rule) = matched else {
            let mut decision = Decision::silent(Decision::NO_RULE, "", now, None, explanation);
            if event_type.closes_loop() {
                decision.ignored = Some(format!(
                    "no follow_up rule answers {event_type} on this order"
                ));
            }
            return (decision, None);
        };
        explanation.kind = rule.kind.as_str().to_owned();

        if frequency.coalesces() {
            explanation
                .channels
                .push("none: coalesced into the earlier message".to_owned());
            let why = explanation.frequency.clone();
            let mut decision =
                Decision::silent(&rule.name, &rule.template, now, Some(why), explanation);
            decision.kind = rule.kind;
            return (decision, None);
        }

        // What the message can say beside the offers.
        let earlier_incidents = history.order_incidents_told();
        if earlier_incidents > 0 {
            explanation.notes.push(format!(
                "again: the customer heard of {earlier_incidents} earlier incident(s) on this order"
            ));
        }
        let updates_promised =
            rule.kind == RuleKind::Apology && self.promises_updates(incident, &facts);
        if updates_promised {
            explanation.notes.push(
                "an update is promised: an update rule would answer a new date for this order"
                    .to_owned(),
            );
        }

        // Channels: the rule's preference first, then any other as a fallback.
        let mut preference = rule.channels.clone();
        for channel in [Channel::Email, Channel::Sms] {
            if !preference.contains(&channel) {
                preference.push(channel);
            }
        }
        let (chosen, mut skipped) = choose(&preference, &incident.customer, &history.suppressed);
        for (channel, reason) in &skipped {
            explanation
                .channels
                .push(format!("{channel}: skipped, {}", reason.describe()));
        }
        // The rule's channels listed after the chosen one: held in reserve (the next that can
        // reach the customer), or with `send = "all"`, each used too.
        let after: Vec<(Channel, Result<(), SkipReason>)> = chosen
            .map(|chosen| {
                rule.channels
                    .iter()
                    .skip_while(|c| **c != chosen)
                    .skip(1)
                    .map(|&c| (c, reaches(c, &incident.customer, &history.suppressed)))
                    .collect()
            })
            .unwrap_or_default();
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
        let mut channels: Vec<Channel> = chosen.into_iter().collect();
        match rule.send {
            SendMode::First => {
                let standby = after.iter().find(|(_, r)| r.is_ok()).map(|(c, _)| *c);
                if let (Some(standby), Some(chosen)) = (standby, chosen) {
                    explanation.channels.push(format!(
                        "{standby}: held in reserve, sent only if {chosen} fails on every provider"
                    ));
                    channels.push(standby);
                }
            }
            SendMode::All => {
                for (channel, reach) in after {
                    match reach {
                        Ok(()) => {
                            explanation
                                .channels
                                .push(format!("{channel}: used too (send = \"all\")"));
                            channels.push(channel);
                        }
                        Err(reason) => {
                            explanation
                                .channels
                                .push(format!("{channel}: skipped, {}", reason.describe()));
                            skipped.push((channel, reason));
                        }
                    }
                }
            }
        }

        // A follow-up restates the codes the order received that are still valid.
        let mut reminder_notes = Vec::new();
        let reminders = match rule.kind {
            RuleKind::FollowUp => remind(history, incident, now, &mut reminder_notes),
            _ => Vec::new(),
        };

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
        explanation.offers.extend(reminder_notes);
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
            kind: rule.kind,
            ignored: None,
            policy_version: self.version.clone(),
            template: rule.template.clone(),
            channels,
            send: rule.send,
            skipped,
            send_at,
            quiet_hours: rule.quiet_hours.clone(),
            plans,
            coalesced: None,
            held: None,
            earlier_incidents,
            updates_promised,
            previous_eta: match rule.kind {
                RuleKind::Update => news.and_then(|n| n.told),
                _ => None,
            },
            reminders,
            explanation,
        };
        (decision, problem)
    }
}

impl Policy {
    /// Why `rule` is not tried for `incident` at all, if it is not: its kind does not answer
    /// this incident, or it is promotional and the customer has not agreed to marketing.
    fn rules_out(&self, rule: &Rule, incident: &Incident, history: &History) -> Option<String> {
        if let Some(why) = rule.kind.excludes(incident, history) {
            return Some(why);
        }
        (rule.promotional && !incident.customer.consent.marketing)
            .then(|| "promotional, and the customer has not agreed to marketing".to_owned())
    }

    /// Whether an update rule would answer the next delay of this order bringing a date (or a
    /// new one), so that the apology for this delay may promise the customer an update.
    fn promises_updates(&self, incident: &Incident, facts: &Facts) -> bool {
        let IncidentDetails::Delayed(delay) = &incident.details else {
            return false;
        };
        let tz = &incident.customer.timezone;
        // The next delay as the policy would see it, once the customer was told of this one.
        let mut next = facts.clone();
        let known = delay.new_eta.is_some();
        next.incident.eta_unknown = false;
        next.incident.eta_changed = true;
        next.incident.eta_moved_days = i64::from(known);
        next.incident.delay_days = facts.incident.delay_days.saturating_add(i64::from(known));
        next.history.order_incidents = next.history.order_incidents.saturating_add(1);
        next.history.order_had_incident = true;
        next.history.order_incidents_told = next.history.order_incidents_told.saturating_add(1);
        next.history.last_eta = delay
            .new_eta
            .map(|eta| eta.date_in(tz).format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        next.history.last_eta_unknown = !known;
        self.rules
            .iter()
            .filter(|r| r.kind == RuleKind::Update)
            .filter(|r| !r.promotional || incident.customer.consent.marketing)
            .any(|r| {
                r.condition
                    .as_ref()
                    .is_none_or(|c| c.evaluate(&next) == Verdict::True)
            })
    }
}

/// Whether `channel` can reach `customer`: usable, and not suppressed.
fn reaches(
    channel: Channel,
    customer: &Customer,
    suppressed: &[Channel],
) -> Result<(), SkipReason> {
    usable(channel, customer)?;
    match (suppressed.contains(&channel), channel) {
        (false, _) => Ok(()),
        (true, Channel::Email) => Err(SkipReason::EmailSuppressed),
        (true, Channel::Sms) => Err(SkipReason::SmsSuppressed),
    }
}

/// The codes issued for the order's earlier incidents that are still valid at `now`, to restate
/// (with a line each in `notes`); nothing is issued again and nothing counts against budgets.
fn remind(
    history: &History,
    incident: &Incident,
    now: DateTime<Utc>,
    notes: &mut Vec<String>,
) -> Vec<Offer> {
    let currency = incident.order.total.currency();
    let mut reminders = Vec::new();
    for code in history.order_incidents.iter().flat_map(|p| &p.codes) {
        if let Some(expired) = code.expires_at.filter(|at| *at <= now) {
            notes.push(format!(
                "{} not restated: it expired at {}",
                code.code,
                expired.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
            continue;
        }
        let amount = match code
            .amount
            .map(|a| Money::new(a.normalize(), currency))
            .transpose()
        {
            Ok(amount) => amount,
            Err(e) => {
                notes.push(format!("{} not restated: {e}", code.code));
                continue;
            }
        };
        let offer = Offer {
            kind: code.kind,
            amount,
            percent: code.percent.map(|p| p.normalize()),
            cost: Money::zero(currency),
            expires_at: code.expires_at,
            substitutes: Vec::new(),
            refund: None,
            code: Some(code.code.clone()),
        };
        notes.push(format!("restates {} ({})", code.code, offer.describe()));
        reminders.push(offer);
    }
    reminders
}

//! The policy: rules the business edits (TOML), evaluated in order, first match wins.
//!
//! Each rule has a CEL condition over [`Facts`] (the incident, the customer and their history),
//! and names a template, channels in preference order, offers, a fallback for when the offers do
//! not fit the budget, an optional escalation to a person and an optional delay. Beside the rules
//! sit the frequency window, the code format and the budgets.
//!
//! Pure: [`Policy::decide`] takes an incident, its [`History`] and the current time and returns a
//! [`Decision`] with its [`Explanation`]; it reads no clock, no file and no database. The budget
//! reservation and the issuing of codes happen when the decision is recorded.
//!
//! - `facts`: what a condition sees; `condition`: CEL compile, check and evaluate;
//! - `offer`: offer kinds and amounts; `budget`: limits and checks; `code`: coupon codes;
//! - `frequency`: one apology per order per window, upgrades; `channel`: channel choice;
//! - `explain`: the explanation stored with every decision.

mod budget;
mod channel;
mod code;
mod condition;
mod explain;
mod facts;
mod frequency;
mod offer;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::incident::{Currency, Incident, Money};

pub use budget::Budget;
pub use channel::{Channel, SkipReason, UnknownChannel, choose, usable};
pub use code::{ALPHABET, CodeFormat};
pub use condition::{Condition, VARIABLES, Verdict};
pub use explain::{Explanation, RuleTrace, short};
pub use facts::{Facts, History, PriorIncident};
pub use frequency::{Frequency, severity};
pub use offer::{Amounts, Offer, OfferKind, OfferSpec, account_for_given, total_cost};

/// A policy that could not be loaded; one line naming where and why.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid policy.
    #[error("policy {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with the line.
        message: String,
    },
}

/// An amount the policy cannot compute for an incident: the event's numbers, or what its
/// history adds to them, are too large for exact arithmetic. One line naming the value, e.g.
/// `data.order.total: too large to compute an offer`; it is why such an event is dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct AmountError {
    field: String,
    problem: String,
}

impl AmountError {
    pub(crate) fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        AmountError {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The value it is about: a JSON path of the event (`data.order.total`), of the history
    /// (`history.order_incidents.given`), or `offers`.
    pub fn field(&self) -> &str {
        &self.field
    }
}

/// The rules file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    frequency: FrequencyFile,
    #[serde(default)]
    codes: CodesFile,
    #[serde(default)]
    budget: BudgetFile,
    #[serde(default, rename = "rule")]
    rules: Vec<toml::Spanned<RuleFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrequencyFile {
    #[serde(default = "default_order_window")]
    order_window: String,
    #[serde(default = "default_history_window")]
    history_window: String,
}

impl Default for FrequencyFile {
    fn default() -> Self {
        FrequencyFile {
            order_window: default_order_window(),
            history_window: default_history_window(),
        }
    }
}

fn default_order_window() -> String {
    "24h".to_owned()
}

fn default_history_window() -> String {
    "90days".to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodesFile {
    #[serde(default = "default_prefix")]
    prefix: String,
    #[serde(default = "default_length")]
    length: usize,
    #[serde(default = "default_expiry")]
    expires_in: String,
}

impl Default for CodesFile {
    fn default() -> Self {
        CodesFile {
            prefix: default_prefix(),
            length: default_length(),
            expires_in: default_expiry(),
        }
    }
}

fn default_prefix() -> String {
    "SORRY-".to_owned()
}

fn default_length() -> usize {
    8
}

fn default_expiry() -> String {
    "90days".to_owned()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BudgetFile {
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    daily: BTreeMap<String, String>,
    #[serde(default)]
    per_customer: BTreeMap<String, String>,
    #[serde(default)]
    per_customer_window: Option<String>,
}

/// One rule as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    /// CEL condition; a rule without one matches everything.
    #[serde(default)]
    when: Option<toml::Spanned<String>>,
    template: String,
    channels: Vec<Channel>,
    #[serde(default)]
    offers: Vec<toml::Spanned<offer::OfferFile>>,
    /// `"apology"`, `"escalate"`, or a table `{ offers = [...], escalate = true }`.
    #[serde(default)]
    fallback: Option<toml::Spanned<toml::Value>>,
    /// `true`, or the reason a person should follow up.
    #[serde(default)]
    escalate: Option<toml::Value>,
    /// Wait this long before sending, e.g. "30m".
    #[serde(default)]
    delay: Option<String>,
}

/// What a rule does when its offers do not fit the budget.
#[derive(Debug, Clone, PartialEq)]
pub enum Fallback {
    /// Apologise without the costing offers (the default).
    Apology,
    /// Apologise without them and ask a person to follow up.
    Escalate,
    /// Give these (smaller) offers instead, optionally escalating.
    Offers {
        /// The smaller offers.
        offers: Vec<OfferSpec>,
        /// Ask a person to follow up too.
        escalate: bool,
    },
}

/// One rule of a loaded policy.
#[derive(Debug)]
pub struct Rule {
    /// Unique name, recorded with every decision.
    pub name: String,
    /// The condition; `None` matches every incident.
    pub condition: Option<Condition>,
    /// Template key (a directory under `templates/`).
    pub template: String,
    /// Channels in preference order.
    pub channels: Vec<Channel>,
    /// What the rule gives beside the apology.
    pub offers: Vec<OfferSpec>,
    /// What it does over budget.
    pub fallback: Fallback,
    /// Why a person should follow up, if they should.
    pub escalate: Option<String>,
    /// Delay before sending.
    pub delay: Duration,
    /// Line of the rule in its file.
    pub line: usize,
}

/// The settings beside the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// At most one apology per order within this window.
    pub order_window: Duration,
    /// The window of the `history.*` counts.
    pub history_window: Duration,
    /// How codes look.
    pub codes: CodeFormat,
    /// How long codes are valid unless an offer says otherwise.
    pub code_expiry: Duration,
    /// The budgets.
    pub budget: Budget,
}

/// A loaded, validated policy.
#[derive(Debug)]
pub struct Policy {
    rules: Vec<Rule>,
    settings: Settings,
    version: String,
}

/// A set of offers to try against the budgets: the rule's, its fallback's, or none.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `rule`, `fallback` or `apology only`.
    pub label: &'static str,
    /// The offers.
    pub offers: Vec<Offer>,
    /// Why a person should follow up, if they should.
    pub escalation: Option<String>,
}

impl Plan {
    /// What the offers count against budgets.
    pub fn cost(&self, currency: Currency) -> Result<Money, AmountError> {
        total_cost(&self.offers, currency)
    }
}

/// What the policy decided for one incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Name of the rule that matched, or [`Decision::NO_RULE`].
    pub rule: String,
    /// Content hash of the policy.
    pub policy_version: String,
    /// Template key.
    pub template: String,
    /// Channels the message goes out on (empty when none is usable or it was coalesced): the
    /// first now; each next one held in reserve, sent only if the one before it fails on every
    /// provider (a channel the rule itself lists after the chosen one, and that can reach the
    /// customer).
    pub channels: Vec<Channel>,
    /// Channels considered and skipped, with why.
    pub skipped: Vec<(Channel, SkipReason)>,
    /// When to send.
    pub send_at: DateTime<Utc>,
    /// The plans to try in order against the budgets; the last never costs anything.
    pub plans: Vec<Plan>,
    /// Set when an earlier message about this order already covers this incident.
    pub coalesced: Option<String>,
    /// Why.
    pub explanation: Explanation,
}

impl Decision {
    /// Rule name recorded when no rule matched.
    pub const NO_RULE: &'static str = "(no rule matched)";

    /// Why nothing is sent because nobody can be reached, when that is so: recorded and logged,
    /// not an error. (A coalesced incident is not unreachable; see [`Decision::coalesced`].)
    pub fn unreachable(&self) -> Option<String> {
        if !self.channels.is_empty() || self.coalesced.is_some() {
            return None;
        }
        if self.rule == Self::NO_RULE {
            return Some("no policy rule matched".to_owned());
        }
        if self.skipped.is_empty() {
            return Some("the rule names no channel".to_owned());
        }
        Some(format!(
            "no usable channel: {}",
            self.skipped
                .iter()
                .map(|(c, r)| format!("{c}: {}", r.describe()))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    }

    /// A decision that sends and gives nothing: no rule matched, or the incident was coalesced.
    fn silent(
        rule: &str,
        template: &str,
        now: DateTime<Utc>,
        coalesced: Option<String>,
        explanation: Explanation,
    ) -> Decision {
        Decision {
            rule: rule.to_owned(),
            policy_version: explanation.policy_version.clone(),
            template: template.to_owned(),
            channels: Vec::new(),
            skipped: Vec::new(),
            send_at: now,
            plans: vec![Plan {
                label: "apology only",
                offers: Vec::new(),
                escalation: None,
            }],
            coalesced,
            explanation,
        }
    }

    /// Skipped channels as a map for storage (`{"sms": "no SMS consent"}`).
    pub fn skipped_map(&self) -> BTreeMap<&'static str, &'static str> {
        self.skipped
            .iter()
            .map(|(c, r)| (c.as_str(), r.describe()))
            .collect()
    }
}

/// The longest a rule may wait before sending: an apology a year late is none.
const MAX_DELAY: Duration = Duration::from_secs(365 * 86_400);

/// The first line of a TOML error, with its line number.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let cause = e.message().trim().to_owned();
    match e.span() {
        Some(span) => format!("line {}: {cause}", line_of(text, span.start)),
        None => cause,
    }
}

fn duration(what: &str, text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{what} {text:?} is not a duration like 24h or 30days: {e}"))
}

fn currency_map(
    what: &str,
    map: &BTreeMap<String, String>,
) -> Result<BTreeMap<Currency, Decimal>, String> {
    offer::per_currency(map).map_err(|(code, e)| match code {
        Some(code) => format!("{what}.{code}: {e}"),
        None => format!("{what}: {e}"),
    })
}

impl Policy {
    /// Reads and validates a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Policy::parse(&text).map_err(|message| PolicyError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses and validates policy text; the error names the line, the rule and the cause.
    ///
    /// Every condition is compiled, checked against the names of the facts, and evaluated
    /// against each sample incident, so a condition that cannot give true or false is refused.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        let settings = Policy::parse_settings(&file)?;
        if file.rules.is_empty() {
            return Err("no [[rule]] defined".to_owned());
        }
        let samples = sample_facts();
        let shape = samples.first().map(Facts::to_json).unwrap_or_default();
        let mut names = HashSet::new();
        let mut rules = Vec::with_capacity(file.rules.len());
        for spanned in file.rules {
            let line = line_of(text, spanned.span().start);
            let rule = spanned.into_inner();
            let name = rule.name.clone();
            let fail = |at: usize, cause: String| format!("line {at}: rule {name:?}: {cause}");
            if rule.name.trim().is_empty() {
                return Err(format!("line {line}: a rule has an empty name"));
            }
            if !names.insert(rule.name.clone()) {
                return Err(fail(line, "duplicate rule name".to_owned()));
            }
            if rule.template.trim().is_empty() {
                return Err(fail(line, "template is empty".to_owned()));
            }
            if rule.channels.is_empty() {
                return Err(fail(line, "channels is empty".to_owned()));
            }
            let condition = match &rule.when {
                Some(when) => {
                    let at = line_of(text, when.span().start);
                    let condition = Condition::compile(when.get_ref(), &shape)
                        .map_err(|e| fail(at, format!("condition: {e}")))?;
                    for sample in &samples {
                        if let Verdict::Error(e) = condition.evaluate(sample) {
                            return Err(fail(
                                at,
                                format!(
                                    "condition fails on a sample {} incident: {e}",
                                    sample.incident.event_type
                                ),
                            ));
                        }
                    }
                    Some(condition)
                }
                None => None,
            };
            let mut offers = Vec::new();
            for spanned in rule.offers {
                let at = line_of(text, spanned.span().start);
                offers.push(
                    OfferSpec::parse(spanned.into_inner())
                        .map_err(|e| fail(at, format!("offer: {e}")))?,
                );
            }
            let fallback = match rule.fallback {
                None => Fallback::Apology,
                Some(spanned) => {
                    let at = line_of(text, spanned.span().start);
                    parse_fallback(spanned.into_inner())
                        .map_err(|e| fail(at, format!("fallback: {e}")))?
                }
            };
            let escalate = match rule.escalate {
                None | Some(toml::Value::Boolean(false)) => None,
                Some(toml::Value::Boolean(true)) => Some(format!("rule {name} asks for a person")),
                Some(toml::Value::String(reason)) if !reason.trim().is_empty() => Some(reason),
                Some(_) => {
                    return Err(fail(
                        line,
                        "escalate must be true or the reason, as text".to_owned(),
                    ));
                }
            };
            let delay = match &rule.delay {
                Some(d) => duration("delay", d).map_err(|e| fail(line, e))?,
                None => Duration::ZERO,
            };
            if delay > MAX_DELAY {
                return Err(fail(
                    line,
                    format!(
                        "delay {:?} is longer than a year",
                        rule.delay.as_deref().unwrap_or_default()
                    ),
                ));
            }
            rules.push(Rule {
                name: rule.name,
                condition,
                template: rule.template,
                channels: rule.channels,
                offers,
                fallback,
                escalate,
                delay,
                line,
            });
        }
        let version = version_of(text);
        Ok(Policy {
            rules,
            settings,
            version,
        })
    }

    fn parse_settings(file: &PolicyFile) -> Result<Settings, String> {
        let codes = CodeFormat {
            prefix: file.codes.prefix.clone(),
            length: file.codes.length,
        };
        codes.validate().map_err(|e| format!("[codes]: {e}"))?;
        let budget = &file.budget;
        let timezone = match &budget.timezone {
            Some(tz) => tz
                .parse::<chrono_tz::Tz>()
                .map_err(|_| format!("[budget]: timezone {tz:?} is not an IANA time zone"))?,
            None => chrono_tz::UTC,
        };
        Ok(Settings {
            order_window: duration("[frequency] order_window", &file.frequency.order_window)?,
            history_window: duration("[frequency] history_window", &file.frequency.history_window)?,
            code_expiry: duration("[codes] expires_in", &file.codes.expires_in)?,
            codes,
            budget: Budget {
                daily: currency_map("[budget] daily", &budget.daily)?,
                per_customer: currency_map("[budget] per_customer", &budget.per_customer)?,
                customer_window: match &budget.per_customer_window {
                    Some(w) => duration("[budget] per_customer_window", w)?,
                    None => Budget::default().customer_window,
                },
                timezone,
            },
        })
    }

    /// The rules in evaluation order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The settings beside the rules.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Content hash (SHA-256, hex) of the policy text: recorded with every decision.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Template keys the rules refer to.
    pub fn templates(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.template.as_str())
    }

    /// The `history.*` window in whole days.
    pub fn history_days(&self) -> i64 {
        (self.settings.history_window.as_secs() / 86_400) as i64
    }

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
            plans,
            coalesced: None,
            explanation,
        };
        (decision, problem)
    }
}

impl Policy {
    /// The budget step without a database, for `amends policy explain`: tries the plans against
    /// the per-customer cap and today's budget as `history` states them. Returns the plan that
    /// would be given and one line per plan tried.
    pub fn settle_offline<'d>(
        &self,
        decision: &'d Decision,
        history: &History,
        currency: Currency,
    ) -> (Option<&'d Plan>, Vec<String>) {
        let budget = &self.settings.budget;
        let mut lines = Vec::new();
        for plan in &decision.plans {
            let cost = match plan.cost(currency) {
                Ok(cost) => cost,
                Err(e) => {
                    lines.push(format!("{}: {e}", plan.label));
                    continue;
                }
            };
            let verdict =
                budget
                    .precheck(&cost, history.compensation)
                    .and_then(|limit| match limit {
                        None => Ok(false),
                        Some(_) => budget
                            .daily_allows(&cost, history.budget_spent_today)
                            .map(|()| true),
                    });
            match verdict {
                Ok(false) => return (Some(plan), lines),
                Ok(true) => {
                    lines.push(format!(
                        "{}: {cost} fits the per-customer cap ({} given before) and today's budget ({} spent)",
                        plan.label, history.compensation, history.budget_spent_today
                    ));
                    return (Some(plan), lines);
                }
                Err(why) => lines.push(format!("{}: {why}", plan.label)),
            }
        }
        (None, lines)
    }
}

fn parse_fallback(value: toml::Value) -> Result<Fallback, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct FallbackFile {
        offers: Vec<offer::OfferFile>,
        #[serde(default)]
        escalate: bool,
    }
    match value {
        toml::Value::String(s) if s == "apology" => Ok(Fallback::Apology),
        toml::Value::String(s) if s == "escalate" => Ok(Fallback::Escalate),
        toml::Value::String(s) => Err(format!(
            "{s:?} is not a fallback (\"apology\", \"escalate\", or a table with offers)"
        )),
        table @ toml::Value::Table(_) => {
            let file: FallbackFile = table
                .try_into()
                .map_err(|e: toml::de::Error| e.message().to_owned())?;
            let offers = file
                .offers
                .into_iter()
                .map(OfferSpec::parse)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Fallback::Offers {
                offers,
                escalate: file.escalate,
            })
        }
        other => Err(format!(
            "expected text or a table, not {}",
            other.type_str()
        )),
    }
}

/// Facts of every sample incident with an empty history: the shape conditions are checked
/// against, and the incidents they must evaluate on.
fn sample_facts() -> Vec<Facts> {
    let default = crate::incident::Locale::parse("en").ok();
    crate::incident::SUPPORTED_TYPES
        .iter()
        .filter_map(|t| {
            let text = crate::incident::sample(t)?;
            let incident = crate::incident::parse(text.as_bytes(), None, default.as_ref()?).ok()?;
            Some(Facts::gather(&incident, &History::default(), 90))
        })
        .collect()
}

/// The version of a policy text: its SHA-256, in hex.
pub fn version_of(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

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
//! - `schedule`: when each channel's message is due (a rule's delay, quiet hours);
//! - `supersede`: a newer incident replacing the still-waiting messages of earlier ones;
//! - `explain`: the explanation stored with every decision.

mod budget;
mod channel;
mod code;
mod condition;
mod decide;
mod decision;
mod explain;
mod facts;
mod file;
mod frequency;
mod offer;
mod schedule;
mod settlement;
mod supersede;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_kinds;
#[cfg(test)]
mod tests_overdue;

use std::collections::HashSet;
use std::time::Duration;

use rust_decimal::Decimal;

use crate::incident::{Incident, IncidentDetails, IncidentType};

pub use budget::Budget;
pub use channel::{Channel, SkipReason, UnknownChannel, choose, usable};
pub use code::{ALPHABET, CodeFormat};
pub use condition::{Condition, VARIABLES, Verdict};
pub use decision::{Decision, Plan};
pub use explain::{Explanation, RuleTrace, short};
pub use facts::{EtaNews, Facts, History, PriorCode, PriorIncident};
pub use file::version_of;
pub use frequency::{Frequency, severity};
pub use offer::{Amounts, Offer, OfferKind, OfferSpec, account_for_given, total_cost};
pub use schedule::{Due, QuietDefaults, QuietOverride, local};
pub use settlement::{DeclinedOffer, Reservation, Settled, Settlement, Step};
pub use supersede::supersedes;

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

/// What a rule's message is, which decides the incidents it may match and how the order's
/// recent messages weigh on it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// An apology for a delay, a stockout or a cancellation (the default): one per order per
    /// frequency window.
    #[default]
    Apology,
    /// News about a delay the customer was already told of (a date where there was none, or a
    /// new date): never coalesced, never an apology of its own.
    Update,
    /// A word after the order shipped or arrived, for an order that had an incident: it gives
    /// nothing new and restates the codes still valid.
    FollowUp,
}

impl RuleKind {
    /// The name used in the policy file and the explanation (`apology`, `update`, `follow_up`).
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Apology => "apology",
            RuleKind::Update => "update",
            RuleKind::FollowUp => "follow_up",
        }
    }

    /// Why a rule of this kind cannot decide `incident` given `history`, if it cannot: an
    /// apology or an update never answers a closing event, a follow-up answers nothing else,
    /// and an update needs a delay the customer was already told of.
    pub fn excludes(self, incident: &Incident, history: &History) -> Option<String> {
        let event_type = incident.event_type;
        match self {
            RuleKind::Apology | RuleKind::Update if event_type.closes_loop() => Some(format!(
                "{event_type} is never apologised for: only a follow_up rule answers it"
            )),
            RuleKind::FollowUp if !event_type.closes_loop() => Some(format!(
                "a follow_up rule answers order.shipped and order.delivered, not {event_type}"
            )),
            RuleKind::Update
                if !matches!(event_type, IncidentType::Delayed | IncidentType::Overdue) =>
            {
                Some(format!(
                    "an update is about a delay or an overdue order, not {event_type}"
                ))
            }
            RuleKind::Update if is_overdue(incident, false) => Some(
                "the first word about an overdue order is an apology, not an update".to_owned(),
            ),
            RuleKind::Apology if is_overdue(incident, true) => Some(
                "the update promised with an overdue apology is an update, not a second apology"
                    .to_owned(),
            ),
            RuleKind::Update if history.last_told_delay().is_none() => Some(
                "an update needs a delay the customer was already told of on this order".to_owned(),
            ),
            _ => None,
        }
    }
}

/// Whether `incident` is an overdue order, and its update (`update`) or its apology (`!update`).
fn is_overdue(incident: &Incident, update: bool) -> bool {
    matches!(&incident.details, IncidentDetails::Overdue(o) if o.update == update)
}

/// Which of a rule's channels its message goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SendMode {
    /// The first that can reach the customer; the next listed one held in reserve (the default).
    #[default]
    First,
    /// Every listed channel that can reach the customer, each message sent once.
    All,
}

impl SendMode {
    /// The name used in the policy file (`first`, `all`).
    pub fn as_str(self) -> &'static str {
        match self {
            SendMode::First => "first",
            SendMode::All => "all",
        }
    }
}

/// One rule of a loaded policy.
#[derive(Debug)]
pub struct Rule {
    /// Unique name, recorded with every decision.
    pub name: String,
    /// What its message is.
    pub kind: RuleKind,
    /// Which of its channels the message goes out on.
    pub send: SendMode,
    /// Its message carries a promotion beyond making amends: only for customers who agreed to
    /// marketing (the others go on to the next rule).
    pub promotional: bool,
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
    /// Its own quiet hours per channel, over the configured ones.
    pub quiet_hours: QuietOverride,
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

impl Policy {
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
}

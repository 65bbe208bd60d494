//! What the policy decided for one incident: the plans to settle, the channels, and why.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::*;
use crate::incident::{Currency, Money};

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
    /// What the message is (the matched rule's kind; an apology when none matched).
    pub kind: RuleKind,
    /// Set when the incident is not to be recorded at all, with why: a closing event
    /// (`order.shipped`, `order.delivered`) on an order that had no incident, or that no
    /// follow-up rule answers. The customer gets nothing and the console stays clean.
    pub ignored: Option<String>,
    /// Content hash of the policy.
    pub policy_version: String,
    /// Template key.
    pub template: String,
    /// Channels the message goes out on (empty when none is usable or it was coalesced). With
    /// [`SendMode::First`], the first now and each next one held in reserve, sent only if the one
    /// before it fails on every provider (a channel the rule itself lists after the chosen one,
    /// and that can reach the customer); with [`SendMode::All`], every one now.
    pub channels: Vec<Channel>,
    /// How the channels are used.
    pub send: SendMode,
    /// Channels considered and skipped, with why.
    pub skipped: Vec<(Channel, SkipReason)>,
    /// When to send: now, or after the rule's delay (quiet hours may hold a channel's message
    /// longer; see [`Decision::schedule`]).
    pub send_at: DateTime<Utc>,
    /// The rule's own quiet hours per channel, over the configured ones.
    pub quiet_hours: QuietOverride,
    /// The plans to try in order against the budgets; the last never costs anything.
    pub plans: Vec<Plan>,
    /// Set when an earlier message about this order already covers this incident.
    pub coalesced: Option<String>,
    /// Set when amends holds the message back itself (an overdue order over the day's cap of
    /// automatic messages), with why: recorded and visible, nothing sent.
    pub held: Option<String>,
    /// Earlier incidents on this order the customer heard an apology for, so the message can
    /// say "again".
    pub earlier_incidents: u32,
    /// The policy would send an update if the date of this delay became known or moved, so the
    /// message may promise one.
    pub updates_promised: bool,
    /// For an update: the date the customer was last told (`None`: they were told it was
    /// unknown).
    pub previous_eta: Option<chrono::NaiveDate>,
    /// For a follow-up: the codes issued for the order and still valid, restated (not issued
    /// again).
    pub reminders: Vec<Offer>,
    /// Why.
    pub explanation: Explanation,
}

impl Decision {
    /// Rule name recorded when no rule matched.
    pub const NO_RULE: &'static str = "(no rule matched)";

    /// Why nothing is sent because nobody can be reached, when that is so: recorded and logged,
    /// not an error. (A coalesced incident is not unreachable; see [`Decision::coalesced`]; nor
    /// is an ignored one, which is not recorded.)
    pub fn unreachable(&self) -> Option<String> {
        if !self.channels.is_empty() || self.coalesced.is_some() || self.ignored.is_some() {
            return None;
        }
        if let Some(held) = &self.held {
            return Some(held.clone());
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
    pub(super) fn silent(
        rule: &str,
        template: &str,
        now: DateTime<Utc>,
        coalesced: Option<String>,
        explanation: Explanation,
    ) -> Decision {
        Decision {
            rule: rule.to_owned(),
            kind: RuleKind::Apology,
            ignored: None,
            policy_version: explanation.policy_version.clone(),
            template: template.to_owned(),
            channels: Vec::new(),
            send: SendMode::First,
            earlier_incidents: 0,
            updates_promised: false,
            previous_eta: None,
            reminders: Vec::new(),
            skipped: Vec::new(),
            send_at: now,
            quiet_hours: QuietOverride::new(),
            plans: vec![Plan {
                label: "apology only",
                offers: Vec::new(),
                escalation: None,
            }],
            coalesced,
            held: None,
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

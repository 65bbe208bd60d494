//! The policy: rules the business edits (TOML), evaluated in order, first match wins.
//!
//! Pure: [`Policy::decide`] takes an incident and the current time and returns a [`Decision`];
//! it reads no clock, no file and no database.

mod channel;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::incident::{Incident, IncidentType};

pub use channel::{Channel, SkipReason, UnknownChannel, choose, usable};

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

/// The rules file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default, rename = "rule")]
    rules: Vec<toml::Spanned<RuleFile>>,
}

/// One rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    /// Incident types the rule applies to; empty means every type.
    #[serde(default)]
    types: Vec<TypeName>,
    /// Customer tiers the rule applies to; empty means every customer.
    #[serde(default)]
    tiers: Vec<String>,
    template: String,
    channels: Vec<Channel>,
    /// Wait this long before sending, e.g. "30m".
    #[serde(default)]
    delay: Option<String>,
}

/// An incident type name, checked while the file is parsed so the error carries its line.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
struct TypeName(IncidentType);

impl TryFrom<String> for TypeName {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value
            .parse::<IncidentType>()
            .map(TypeName)
            .map_err(|_| format!("unknown incident type {value:?}"))
    }
}

/// One rule of a loaded policy.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique name, recorded with every decision.
    pub name: String,
    /// Incident types it applies to; empty means all.
    pub types: Vec<IncidentType>,
    /// Customer tiers it applies to; empty means all.
    pub tiers: Vec<String>,
    /// Template key (a directory under `templates/`).
    pub template: String,
    /// Channels in preference order.
    pub channels: Vec<Channel>,
    /// Delay before sending.
    pub delay: Duration,
    /// Line of the rule in its file.
    pub line: usize,
}

impl Rule {
    /// Why the rule does not match the incident, or `None` when it does.
    pub fn mismatch(&self, incident: &Incident) -> Option<String> {
        if !self.types.is_empty() && !self.types.contains(&incident.event_type) {
            return Some(format!(
                "type is {}, rule wants {}",
                incident.event_type.as_str(),
                self.types
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        if !self.tiers.is_empty() {
            let tier = incident.customer.tier.as_deref();
            if !tier.is_some_and(|t| self.tiers.iter().any(|w| w == t)) {
                return Some(format!(
                    "customer tier is {}, rule wants {}",
                    tier.unwrap_or("(none)"),
                    self.tiers.join(" or ")
                ));
            }
        }
        None
    }
}

/// A loaded, validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
}

/// What the policy decided for one incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Name of the rule that matched, or [`Decision::NO_RULE`].
    pub rule: String,
    /// Template key.
    pub template: String,
    /// Channels the message goes out on (empty when none is usable).
    pub channels: Vec<Channel>,
    /// Channels considered and skipped, with why.
    pub skipped: Vec<(Channel, SkipReason)>,
    /// When to send.
    pub send_at: DateTime<Utc>,
}

impl Decision {
    /// Rule name recorded when no rule matched.
    pub const NO_RULE: &'static str = "(no rule matched)";

    /// Why nothing is sent, when nothing is: recorded and logged, not an error.
    pub fn unreachable(&self) -> Option<String> {
        if !self.channels.is_empty() {
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

    /// Skipped channels as a map for storage (`{"sms": "no SMS consent"}`).
    pub fn skipped_map(&self) -> BTreeMap<&'static str, &'static str> {
        self.skipped
            .iter()
            .map(|(c, r)| (c.as_str(), r.describe()))
            .collect()
    }
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

    /// Parses and validates policy text; the error names the line and the cause.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            let cause = e.message().trim().to_owned();
            match e.span() {
                Some(span) => format!("line {}: {cause}", line_of(text, span.start)),
                None => cause,
            }
        })?;
        if file.rules.is_empty() {
            return Err("no [[rule]] defined".to_owned());
        }
        let mut names = HashSet::new();
        let mut rules = Vec::with_capacity(file.rules.len());
        for spanned in file.rules {
            let line = line_of(text, spanned.span().start);
            let rule = spanned.into_inner();
            let fail = |cause: String| format!("line {line}: rule {:?}: {cause}", rule.name);
            if rule.name.trim().is_empty() {
                return Err(format!("line {line}: a rule has an empty name"));
            }
            if !names.insert(rule.name.clone()) {
                return Err(fail("duplicate rule name".to_owned()));
            }
            if rule.template.trim().is_empty() {
                return Err(fail("template is empty".to_owned()));
            }
            if rule.channels.is_empty() {
                return Err(fail("channels is empty".to_owned()));
            }
            let delay = match &rule.delay {
                Some(d) => humantime::parse_duration(d)
                    .map_err(|e| fail(format!("delay {d:?} is not a duration: {e}")))?,
                None => Duration::ZERO,
            };
            rules.push(Rule {
                types: rule.types.iter().map(|t| t.0).collect(),
                tiers: rule.tiers.clone(),
                template: rule.template.clone(),
                channels: rule.channels.clone(),
                name: rule.name,
                delay,
                line,
            });
        }
        Ok(Policy { rules })
    }

    /// The rules in evaluation order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Template keys the rules refer to.
    pub fn templates(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.template.as_str())
    }

    /// The first matching rule, applied to the incident at time `now`.
    pub fn decide(&self, incident: &Incident, now: DateTime<Utc>) -> Decision {
        let Some(rule) = self.rules.iter().find(|r| r.mismatch(incident).is_none()) else {
            return Decision {
                rule: Decision::NO_RULE.to_owned(),
                template: String::new(),
                channels: Vec::new(),
                skipped: Vec::new(),
                send_at: now,
            };
        };
        let (chosen, skipped) = choose(&rule.channels, &incident.customer);
        let delay = chrono::Duration::from_std(rule.delay).unwrap_or(chrono::Duration::zero());
        Decision {
            rule: rule.name.clone(),
            template: rule.template.clone(),
            channels: chosen.into_iter().collect(),
            skipped,
            send_at: now + delay,
        }
    }
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{Locale, parse, sample};

    const POLICY: &str = r#"
[[rule]]
name = "vip-cancelled"
types = ["order.cancelled"]
tiers = ["vip"]
template = "order-cancelled"
channels = ["sms", "email"]

[[rule]]
name = "cancelled"
types = ["order.cancelled"]
template = "order-cancelled"
channels = ["email", "sms"]

[[rule]]
name = "delayed"
types = ["order.delayed"]
template = "order-delayed"
channels = ["email"]
delay = "10m"
"#;

    fn incident(event_type: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Incident {
        let mut event: serde_json::Value =
            serde_json::from_str(sample(event_type).unwrap()).unwrap();
        edit(&mut event);
        let body = serde_json::to_vec(&event).unwrap();
        parse(&body, None, &Locale::parse("en").unwrap()).unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn first_matching_rule_wins() {
        let policy = Policy::parse(POLICY).unwrap();
        let vip = incident("order.cancelled", |e| {
            e["data"]["customer"]["tier"] = "vip".into();
            e["data"]["customer"]["consent"]["sms"] = true.into();
        });
        let decision = policy.decide(&vip, now());
        assert_eq!(decision.rule, "vip-cancelled");
        assert_eq!(decision.channels, vec![Channel::Sms]);

        let regular = incident("order.cancelled", |e| {
            e["data"]["customer"]["tier"] = "regular".into();
        });
        let decision = policy.decide(&regular, now());
        assert_eq!(decision.rule, "cancelled");
        assert_eq!(decision.channels, vec![Channel::Email]);
        assert_eq!(decision.template, "order-cancelled");
    }

    #[test]
    fn delay_moves_send_at() {
        let policy = Policy::parse(POLICY).unwrap();
        let decision = policy.decide(&incident("order.delayed", |_| {}), now());
        assert_eq!(decision.send_at, now() + chrono::Duration::minutes(10));
    }

    #[test]
    fn no_matching_rule_is_recorded_not_an_error() {
        let policy = Policy::parse(POLICY).unwrap();
        let decision = policy.decide(&incident("order.stockout", |_| {}), now());
        assert_eq!(decision.rule, Decision::NO_RULE);
        assert!(decision.channels.is_empty());
        assert_eq!(decision.unreachable().unwrap(), "no policy rule matched");
    }

    #[test]
    fn sms_needs_consent_and_falls_back_to_email() {
        let policy = Policy::parse(POLICY).unwrap();
        let vip = incident("order.cancelled", |e| {
            e["data"]["customer"]["tier"] = "vip".into();
            e["data"]["customer"]["consent"]["sms"] = false.into();
        });
        let decision = policy.decide(&vip, now());
        assert_eq!(decision.channels, vec![Channel::Email]);
        assert_eq!(
            decision.skipped,
            vec![(Channel::Sms, SkipReason::NoSmsConsent)]
        );
    }

    #[test]
    fn customer_without_contacts_is_unreachable() {
        let policy = Policy::parse(POLICY).unwrap();
        let nobody = incident("order.cancelled", |e| {
            let customer = e["data"]["customer"].as_object_mut().unwrap();
            customer.remove("email");
            customer.remove("phone");
        });
        let decision = policy.decide(&nobody, now());
        assert!(decision.channels.is_empty());
        assert_eq!(
            decision.unreachable().unwrap(),
            "no usable channel: sms: no phone number; email: no email address"
        );
    }

    #[test]
    fn errors_name_the_line_and_cause() {
        let err = Policy::parse("[[rule]]\nname = \"a\"\ntypes = [\"order.lost\"]\ntemplate = \"t\"\nchannels = [\"email\"]\n")
            .unwrap_err();
        assert!(err.starts_with("line 3: "), "{err}");
        assert!(
            err.contains("unknown incident type \"order.lost\""),
            "{err}"
        );

        let err = Policy::parse("[[rule]]\nname = \"a\"\ntemplate = \"t\"\nchannels = [\"fax\"]\n")
            .unwrap_err();
        assert!(err.starts_with("line 4: "), "{err}");

        let dup = "[[rule]]\nname = \"a\"\ntemplate = \"t\"\nchannels = [\"email\"]\n\n[[rule]]\nname = \"a\"\ntemplate = \"t\"\nchannels = [\"email\"]\n";
        let err = Policy::parse(dup).unwrap_err();
        assert_eq!(err, "line 6: rule \"a\": duplicate rule name");

        let err = Policy::parse(
            "[[rule]]\nname = \"a\"\ntemplate = \"t\"\nchannels = [\"email\"]\ndelay = \"soon\"\n",
        )
        .unwrap_err();
        assert!(err.starts_with("line 1: rule \"a\": delay"), "{err}");
    }

    #[test]
    fn shipped_default_policy_is_valid_and_covers_every_type() {
        let policy = Policy::load(Path::new("policy/default.toml")).unwrap();
        for event_type in crate::incident::SUPPORTED_TYPES {
            let decision = policy.decide(&incident(event_type, |_| {}), now());
            assert_ne!(decision.rule, Decision::NO_RULE, "{event_type}");
        }
    }
}

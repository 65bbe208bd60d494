//! The policy file: the TOML the business edits, parsed and validated into a [`Policy`], every
//! error one line naming where and why.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::*;
use crate::incident::Currency;
use crate::timing::QuietHours;

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
    /// `"apology"` (the default), `"update"` or `"follow_up"`.
    #[serde(default)]
    kind: Option<toml::Spanned<String>>,
    /// `"first"` (the default) or `"all"`.
    #[serde(default)]
    send: Option<toml::Spanned<String>>,
    /// The message carries a promotion: only for customers who agreed to marketing.
    #[serde(default)]
    promotional: bool,
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
    /// `"off"` or `"21:00-08:00"` for every channel, or a table per channel.
    #[serde(default)]
    quiet_hours: Option<toml::Spanned<toml::Value>>,
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
            let kind = match &rule.kind {
                None => RuleKind::Apology,
                Some(kind) => match kind.get_ref().as_str() {
                    "apology" => RuleKind::Apology,
                    "update" => RuleKind::Update,
                    "follow_up" => RuleKind::FollowUp,
                    other => {
                        return Err(fail(
                            line_of(text, kind.span().start),
                            format!(
                                "kind {other:?} is not one of \"apology\", \"update\", \"follow_up\""
                            ),
                        ));
                    }
                },
            };
            let send = match &rule.send {
                None => SendMode::First,
                Some(send) => match send.get_ref().as_str() {
                    "first" => SendMode::First,
                    "all" => SendMode::All,
                    other => {
                        return Err(fail(
                            line_of(text, send.span().start),
                            format!("send {other:?} is not \"first\" or \"all\""),
                        ));
                    }
                },
            };
            // A follow-up restates what the order already received; it gives nothing new.
            if kind == RuleKind::FollowUp && (!rule.offers.is_empty() || rule.fallback.is_some()) {
                return Err(fail(
                    line,
                    "a follow_up rule gives nothing new (it restates the codes still valid): remove offers and fallback"
                        .to_owned(),
                ));
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
            let quiet_hours = match rule.quiet_hours {
                None => QuietOverride::new(),
                Some(spanned) => {
                    let at = line_of(text, spanned.span().start);
                    parse_quiet_hours(spanned.into_inner())
                        .map_err(|e| fail(at, format!("quiet_hours: {e}")))?
                }
            };
            rules.push(Rule {
                name: rule.name,
                kind,
                send,
                promotional: rule.promotional,
                condition,
                template: rule.template,
                channels: rule.channels,
                offers,
                fallback,
                escalate,
                delay,
                quiet_hours,
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

/// A rule's `quiet_hours`: one setting for every channel, or a table of them per channel.
fn parse_quiet_hours(value: toml::Value) -> Result<QuietOverride, String> {
    let quiet = |text: &str| QuietHours::parse(text).map_err(|e| e.to_string());
    match value {
        toml::Value::String(text) => {
            let q = quiet(&text)?;
            Ok([(Channel::Email, q), (Channel::Sms, q)].into())
        }
        toml::Value::Table(table) => table
            .into_iter()
            .map(|(key, value)| {
                let channel = key.parse::<Channel>().map_err(|e| e.to_string())?;
                match value {
                    toml::Value::String(text) => Ok((channel, quiet(&text)?)),
                    other => Err(format!(
                        "{key}: expected text (\"off\" or \"21:00-08:00\"), not {}",
                        other.type_str()
                    )),
                }
            })
            .collect(),
        other => Err(format!(
            "expected text (\"off\" or \"21:00-08:00\") or a table per channel, not {}",
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
        .chain(crate::incident::OWN_TYPES.iter())
        .filter_map(|t| {
            let text = crate::incident::sample(t)?;
            let incident = crate::incident::parse(text.as_bytes(), None, default.as_ref()?).ok()?;
            Some(Facts::gather(&incident, &sample_history(), 90))
        })
        .collect()
}

/// A history in which every fact has something to say: the order had a delay told without a
/// date, so the update facts are set on the samples conditions are checked against.
fn sample_history() -> History {
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default();
    History {
        order_incidents: vec![PriorIncident {
            event_type: crate::incident::IncidentType::Delayed,
            at,
            messaged: true,
            given: Decimal::ZERO,
            kind: RuleKind::Apology,
            eta: None,
            codes: Vec::new(),
            id: None,
            waiting: false,
            occurred_at: None,
        }],
        ..History::default()
    }
}

/// The version of a policy text: its SHA-256, in hex.
pub fn version_of(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

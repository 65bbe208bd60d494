//! The raw layers: built-in defaults, then the TOML file, then `AMENDS_*` environment variables,
//! each value kept as text with where it came from, and read back through typed getters that
//! name the key and its source in every error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::{ConfigError, ENV_PREFIX, InDoubtRule};

/// Every key with its built-in default (`None`: no default).
const KEYS: &[(&str, Option<&str>)] = &[
    ("amqp_url", Some("amqp://guest:guest@127.0.0.1:5672/%2f")),
    (
        "database_url",
        Some("postgres://postgres@127.0.0.1:5432/amends"),
    ),
    ("http_bind", Some("127.0.0.1:8080")),
    ("templates_dir", Some("templates")),
    ("policy", Some("policy/default.toml")),
    ("policy_reload_interval", Some("2s")),
    ("email_transport", Some("outbox")),
    ("sms_transport", Some("outbox")),
    ("outbox_dir", Some("var/outbox")),
    ("smtp_url", None),
    ("email_from", None),
    ("sms_from", Some("amends")),
    ("twilio_account_sid", None),
    ("twilio_auth_token", None),
    ("twilio_from", None),
    ("twilio_base_url", Some("https://api.twilio.com")),
    ("sendgrid_api_key", None),
    ("sendgrid_base_url", Some("https://api.sendgrid.com")),
    ("sendgrid_webhook_public_key", None),
    ("postmark_server_token", None),
    ("postmark_base_url", Some("https://api.postmarkapp.com")),
    ("postmark_webhook_user", None),
    ("postmark_webhook_password", None),
    ("vonage_api_key", None),
    ("vonage_api_secret", None),
    ("vonage_from", None),
    ("vonage_base_url", Some("https://rest.nexmo.com")),
    ("vonage_signature_secret", None),
    ("public_url", None),
    ("admin_token", None),
    ("admin_users", None),
    ("instance_name", None),
    ("default_locale", Some("en")),
    ("store_name", Some("Northwind Outfitters")),
    ("store_url", None),
    ("support_email", None),
    ("support_phone", None),
    ("store_address", None),
    ("store_logo_url", None),
    ("preferences_url", None),
    ("sms_transliterate", Some("es")),
    ("sms_max_segments", Some("3")),
    ("orders_exchange", Some("orders")),
    ("queue", Some("amends.order-events")),
    ("dead_letter_queue", Some("amends.order-events.dead")),
    ("events_exchange", Some("amends.events")),
    ("prefetch", Some("64")),
    ("max_redeliveries", Some("5")),
    ("database_max_connections", Some("8")),
    ("dispatch_batch_size", Some("50")),
    ("dispatch_concurrency", Some("16")),
    ("dispatch_poll_interval", Some("250ms")),
    ("lease_duration", Some("60s")),
    ("retry_schedule", Some("1s,5s,30s,2m,10m")),
    ("send_timeout", Some("30s")),
    ("provider_failure_threshold", Some("5")),
    ("provider_cool_off", Some("30s")),
    ("smtp_max_per_second", Some("0")),
    ("sendgrid_max_per_second", Some("100")),
    ("postmark_max_per_second", Some("50")),
    ("twilio_max_per_second", Some("10")),
    ("vonage_max_per_second", Some("30")),
    ("in_doubt_email", Some("resend")),
    ("in_doubt_sms", Some("unknown")),
    ("log_format", Some("text")),
];

/// Environment variables with the prefix that are not configuration keys.
const NOT_KEYS: &[&str] = &["CONFIG"];

/// Where a raw value came from, for error messages.
#[derive(Debug, Clone)]
enum Origin {
    Default,
    File(PathBuf),
    Env,
}

/// One raw value and its origin.
#[derive(Debug, Clone)]
struct Raw {
    value: String,
    origin: Origin,
}

/// The layered raw values, before typing.
pub(super) struct Layers {
    values: BTreeMap<&'static str, Raw>,
}

impl Layers {
    /// Reads the defaults, then the file's keys over them, then the environment's over both.
    pub(super) fn read(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Layers, ConfigError> {
        let mut values: BTreeMap<&'static str, Raw> = KEYS
            .iter()
            .filter_map(|(key, default)| {
                default.map(|d| {
                    (
                        *key,
                        Raw {
                            value: d.to_owned(),
                            origin: Origin::Default,
                        },
                    )
                })
            })
            .collect();

        if let Some((path, text)) = file {
            for (key, value) in parse_table(path, text)? {
                let Some((known, _)) = KEYS.iter().find(|(k, _)| *k == key) else {
                    return Err(ConfigError::UnknownKey {
                        path: path.to_path_buf(),
                        key,
                    });
                };
                values.insert(
                    known,
                    Raw {
                        value: raw_text(path, &key, value)?,
                        origin: Origin::File(path.to_path_buf()),
                    },
                );
            }
        }

        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if NOT_KEYS.contains(&rest) {
                continue;
            }
            let key = rest.to_lowercase();
            if let Some((known, _)) = KEYS.iter().find(|(k, _)| *k == key) {
                values.insert(
                    known,
                    Raw {
                        value,
                        origin: Origin::Env,
                    },
                );
            }
        }

        Ok(Layers { values })
    }

    fn origin(&self, key: &str) -> String {
        match self.values.get(key).map(|r| &r.origin) {
            Some(Origin::File(path)) => format!("{key} (in {})", path.display()),
            Some(Origin::Env) => format!("{ENV_PREFIX}{}", key.to_uppercase()),
            Some(Origin::Default) | None => format!("{key} (default)"),
        }
    }

    /// An error about `key`'s value, naming the key the way its source spells it.
    pub(super) fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin(key),
            message: message.into(),
        }
    }

    /// The value, or `None` when unset or blank.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|r| r.value.trim())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn require(&self, key: &str, why: &str) -> Result<&str, ConfigError> {
        self.get(key).ok_or_else(|| ConfigError::Invalid {
            origin: format!("{ENV_PREFIX}{}", key.to_uppercase()),
            message: format!("required {why}"),
        })
    }

    pub(super) fn string(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_owned)
    }

    pub(super) fn secret(&self, key: &str) -> Option<SecretString> {
        self.get(key).map(|v| SecretString::from(v.to_owned()))
    }

    pub(super) fn parse<T: std::str::FromStr>(
        &self,
        key: &str,
        what: &str,
    ) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        let value = self.require(key, "")?;
        value
            .parse()
            .map_err(|e| self.invalid(key, format!("{value:?} is not {what}: {e}")))
    }

    pub(super) fn url(&self, key: &str) -> Result<Option<Url>, ConfigError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let url =
            Url::parse(value).map_err(|e| self.invalid(key, format!("not a valid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(self.invalid(key, "must be an http or https URL"));
        }
        Ok(Some(url))
    }

    pub(super) fn in_doubt(&self, key: &str) -> Result<InDoubtRule, ConfigError> {
        match self.require(key, "")? {
            "resend" => Ok(InDoubtRule::Resend),
            "unknown" => Ok(InDoubtRule::Unknown),
            other => Err(self.invalid(key, format!("{other:?} is not resend or unknown"))),
        }
    }

    pub(super) fn duration(&self, key: &str) -> Result<Duration, ConfigError> {
        let value = self.require(key, "")?;
        humantime::parse_duration(value).map_err(|e| {
            self.invalid(
                key,
                format!("{value:?} is not a duration like 250ms or 30s: {e}"),
            )
        })
    }

    pub(super) fn positive<T>(&self, key: &str) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + Default,
        T::Err: std::fmt::Display,
    {
        let n: T = self.parse(key, "a positive whole number")?;
        if n <= T::default() {
            return Err(self.invalid(key, "must be greater than zero"));
        }
        Ok(n)
    }
}

/// `text` parsed as a TOML table; a syntax error keeps the parser's first line and its position.
fn parse_table(path: &Path, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse()
        .map_err(|e: toml::de::Error| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().lines().next().unwrap_or_default().to_owned()
                + &location(text, e.span()),
        })
}

/// A file's value as the text the environment would give: every value is parsed per key later,
/// whichever layer it came from. An array is a comma-separated list.
fn raw_text(path: &Path, key: &str, value: toml::Value) -> Result<String, ConfigError> {
    Ok(match value {
        toml::Value::String(s) => s,
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect::<Vec<_>>()
            .join(","),
        other => {
            return Err(ConfigError::Invalid {
                origin: format!("{key} (in {})", path.display()),
                message: format!("must be a string or number, not {}", other.type_str()),
            });
        }
    })
}

/// ` at line L column C` for a byte span of `text`.
fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return String::new();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    format!(" at line {line} column {column}")
}

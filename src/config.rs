//! Configuration: built-in defaults, then the TOML file, then `AMENDS_*` environment variables,
//! validated once into one typed [`Config`].
//!
//! Every key is flat and its environment name is `AMENDS_` + the key in upper case, so the file and
//! the environment cannot disagree about names. Values are read as text from either source and then
//! parsed per key, which lets every error name the key and where the bad value came from.
//! (Layering crates such as figment guess a type from environment text, which turns a phone number
//! sender like `+15551234567` into an integer; parsing per key avoids that.)

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::incident::Locale;
use crate::templates::StoreInfo;

/// Prefix of every environment variable amends reads.
pub const ENV_PREFIX: &str = "AMENDS_";

/// A configuration error: one line that names the key and the source of the bad value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML.
    #[error("configuration file {path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The file names a key amends does not know.
    #[error("unknown configuration key `{key}` in {path}")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A value is present but invalid.
    #[error("{origin}: {message}")]
    Invalid {
        /// Key and source, e.g. `AMENDS_HTTP_BIND` or `http_bind (in amends.toml)`.
        origin: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Which email transports exist; configured as a failover list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTransportKind {
    /// Files in the outbox directory.
    Outbox,
    /// An SMTP relay.
    Smtp,
    /// SendGrid's v3 Mail Send API.
    SendGrid,
    /// Postmark's Email API.
    Postmark,
}

/// Which SMS transports exist; configured as a failover list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsTransportKind {
    /// Files in the outbox directory.
    Outbox,
    /// Twilio Programmable Messaging.
    Twilio,
    /// Vonage SMS API.
    Vonage,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// How SMS texts are prepared and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsConfig {
    /// Languages whose SMS may be transliterated to GSM-7 (`á` → `a`) to fit more per segment.
    pub transliterate: Vec<String>,
    /// `templates check` warns when an SMS can take more segments than this.
    pub max_segments: usize,
}

/// Names of the broker objects amends declares and uses.
#[derive(Debug, Clone)]
pub struct AmqpNames {
    /// Topic exchange the order system publishes to.
    pub orders_exchange: String,
    /// Quorum queue amends consumes.
    pub queue: String,
    /// Queue for messages that cannot be processed.
    pub dead_letter_queue: String,
    /// Topic exchange for amends' outcome events.
    pub events_exchange: String,
}

/// How the dispatcher claims and sends outbox rows.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Rows claimed per round trip.
    pub batch_size: u32,
    /// Sends in flight at once per replica.
    pub concurrency: usize,
    /// How long to wait before looking again when nothing was due.
    pub poll_interval: Duration,
    /// How long a claim lasts before the reaper may take the row back; renewed every third of it
    /// while the message is handled, so it only runs out when its dispatcher is gone.
    pub lease_duration: Duration,
    /// Delay before each retry of a transient failure; when exhausted the message fails.
    pub retry_schedule: Vec<Duration>,
    /// Upper bound for one send, connection included.
    pub send_timeout: Duration,
    /// Consecutive transient failures after which a provider is skipped for `provider_cool_off`.
    pub provider_failure_threshold: u32,
    /// How long a failing provider is skipped before one send probes it again.
    pub provider_cool_off: Duration,
    /// Messages per second each provider is sent, shared by the replica's senders (0 = no limit).
    pub max_per_second: ProviderRates,
    /// What becomes of a message whose request may have reached its provider when its
    /// dispatcher stopped (a crash) or no answer came (a timeout), per channel.
    pub in_doubt: InDoubt,
}

/// What amends does with a message in doubt: one whose request may have reached the provider
/// without amends learning the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InDoubtRule {
    /// Send it again (email: with the same Message-ID): a rare repeat rather than a missing apology.
    Resend,
    /// Mark it `unknown` for a person; never sent again by amends.
    Unknown,
}

impl InDoubtRule {
    /// The word used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            InDoubtRule::Resend => "resend",
            InDoubtRule::Unknown => "unknown",
        }
    }
}

/// The in-doubt rule of each channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InDoubt {
    /// Email (default: resend, as at-least-once is the norm for email).
    pub email: InDoubtRule,
    /// SMS (default: unknown, as no SMS provider takes an idempotency key).
    pub sms: InDoubtRule,
}

/// A per-provider number of messages per second; 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderRates {
    /// SMTP relay.
    pub smtp: u32,
    /// SendGrid.
    pub sendgrid: u32,
    /// Postmark.
    pub postmark: u32,
    /// Twilio.
    pub twilio: u32,
    /// Vonage.
    pub vonage: u32,
}

/// Credentials and addresses of the SMTP transport.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `smtp://host:port` (plain), `smtp://…?tls=required` (STARTTLS) or `smtps://user:pass@host`.
    pub url: SecretString,
}

/// SendGrid v3 Mail Send.
#[derive(Debug, Clone)]
pub struct SendGridConfig {
    /// API key, sent as a bearer token.
    pub api_key: SecretString,
    /// `https://api.sendgrid.com`, or a local server in tests.
    pub base_url: Url,
}

/// Postmark Email API.
#[derive(Debug, Clone)]
pub struct PostmarkConfig {
    /// Server token (`X-Postmark-Server-Token`).
    pub server_token: SecretString,
    /// `https://api.postmarkapp.com`, or a local server in tests.
    pub base_url: Url,
}

/// Twilio Messages API.
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    /// Account SID (the user of HTTP Basic auth; not a secret).
    pub account_sid: String,
    /// Auth token (the password of HTTP Basic auth, and the key of webhook signatures).
    pub auth_token: SecretString,
    /// Sending number or messaging service sender.
    pub from: String,
    /// `https://api.twilio.com`, or a local server in tests.
    pub base_url: Url,
}

/// Vonage SMS API.
#[derive(Debug, Clone)]
pub struct VonageConfig {
    /// API key (not a secret).
    pub api_key: String,
    /// API secret.
    pub api_secret: SecretString,
    /// Sender id or number.
    pub from: String,
    /// `https://rest.nexmo.com`, or a local server in tests.
    pub base_url: Url,
}

/// What provider webhooks are verified with (each optional: a provider without its key has its
/// webhook answer 403).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Twilio's auth token (signs `X-Twilio-Signature`).
    pub twilio_auth_token: Option<SecretString>,
    /// SendGrid's Event Webhook verification key, base64 DER, checked at start-up.
    pub sendgrid_public_key: Option<String>,
    /// Postmark's webhook user and password (HTTP Basic).
    pub postmark_basic_auth: Option<(String, SecretString)>,
    /// The secret Vonage signs delivery receipts with (SHA-256 HMAC); the API secret unless set.
    pub vonage_signature_secret: Option<SecretString>,
}

/// A person who signs in to the console with their own name and password.
#[derive(Clone)]
pub struct AdminUser {
    /// Their name, recorded with what they change.
    pub name: String,
    /// Their password's Argon2 hash, a PHC string (`amends admin-user NAME` makes one).
    pub password_hash: String,
}

impl std::fmt::Debug for AdminUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminUser")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl AdminUser {
    /// Refuses a name that is empty, longer than 64 characters, or holds control characters.
    pub fn check_name(name: &str) -> Result<(), String> {
        if name.trim().is_empty()
            || name.chars().count() > 64
            || name.chars().any(char::is_control)
            || name.contains([':', ';'])
        {
            return Err(format!(
                "{name:?} is not a name of 1 to 64 characters without ':' or ';'"
            ));
        }
        Ok(())
    }

    /// Reads `name:hash` entries separated by `;` or new lines (PHC strings hold commas).
    pub fn parse_list(text: &str) -> Result<Vec<AdminUser>, String> {
        let mut users: Vec<AdminUser> = Vec::new();
        for entry in text
            .split([';', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (name, hash) = entry.split_once(':').ok_or_else(|| {
                "each entry is name:hash (make one with `amends admin-user NAME`)".to_owned()
            })?;
            let name = name.trim();
            AdminUser::check_name(name)?;
            argon2::PasswordHash::new(hash.trim()).map_err(|e| {
                format!("the password hash of {name:?} is not a PHC string ({e}): make one with `amends admin-user NAME`")
            })?;
            if users.iter().any(|u| u.name.eq_ignore_ascii_case(name)) {
                return Err(format!("{name:?} is listed twice"));
            }
            users.push(AdminUser {
                name: name.to_owned(),
                password_hash: hash.trim().to_owned(),
            });
        }
        Ok(users)
    }
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// AMQP broker URL (may hold a password).
    pub amqp_url: SecretString,
    /// PostgreSQL URL (may hold a password).
    pub database_url: SecretString,
    /// Address of the HTTP server.
    pub http_bind: SocketAddr,
    /// Directory of the shipped templates.
    pub templates_dir: PathBuf,
    /// The policy file.
    pub policy: PathBuf,
    /// How often the running daemon looks for a changed policy file.
    pub policy_reload_interval: Duration,
    /// Email transports in failover order.
    pub email_transports: Vec<EmailTransportKind>,
    /// SMS transports in failover order.
    pub sms_transports: Vec<SmsTransportKind>,
    /// Directory of the file outbox.
    pub outbox_dir: PathBuf,
    /// SMTP settings, required when `smtp` is an email transport.
    pub smtp: Option<SmtpConfig>,
    /// SendGrid settings, present when `sendgrid` is an email transport.
    pub sendgrid: Option<SendGridConfig>,
    /// Postmark settings, present when `postmark` is an email transport.
    pub postmark: Option<PostmarkConfig>,
    /// Twilio settings, present when `twilio` is an SMS transport.
    pub twilio: Option<TwilioConfig>,
    /// Vonage settings, present when `vonage` is an SMS transport.
    pub vonage: Option<VonageConfig>,
    /// Keys of the provider webhooks.
    pub webhooks: WebhookConfig,
    /// From mailbox of every email.
    pub email_from: lettre::message::Mailbox,
    /// Sender id of every SMS.
    pub sms_from: String,
    /// Externally visible base URL.
    pub public_url: Url,
    /// Token for the admin API and console; without it they are off.
    pub admin_token: Option<SecretString>,
    /// People who sign in to the console with their own password; none: with the admin token.
    pub admin_users: Vec<AdminUser>,
    /// Name of this replica, the `source` of outcome events and the owner of outbox claims.
    pub instance_name: String,
    /// Locale for customers who did not say.
    pub default_locale: Locale,
    /// The store the messages speak for.
    pub store: StoreInfo,
    /// How SMS texts are prepared and checked.
    pub sms: SmsConfig,
    /// Broker object names.
    pub amqp: AmqpNames,
    /// Unacknowledged deliveries the consumer holds at once.
    pub prefetch: u16,
    /// Times an event that keeps failing for a passing reason is delivered again before it is
    /// dead-lettered with the last error.
    pub max_redeliveries: u32,
    /// Size of the PostgreSQL pool.
    pub database_max_connections: u32,
    /// Dispatcher settings.
    pub dispatch: DispatchConfig,
    /// Log format.
    pub log_format: LogFormat,
}

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
struct Layers {
    values: BTreeMap<&'static str, Raw>,
}

impl Layers {
    fn origin(&self, key: &str) -> String {
        match self.values.get(key).map(|r| &r.origin) {
            Some(Origin::File(path)) => format!("{key} (in {})", path.display()),
            Some(Origin::Env) => format!("{ENV_PREFIX}{}", key.to_uppercase()),
            Some(Origin::Default) | None => format!("{key} (default)"),
        }
    }

    fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin(key),
            message: message.into(),
        }
    }

    /// The value, or `None` when unset or blank.
    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|r| r.value.trim())
            .filter(|v| !v.is_empty())
    }

    fn require(&self, key: &str, why: &str) -> Result<&str, ConfigError> {
        self.get(key).ok_or_else(|| ConfigError::Invalid {
            origin: format!("{ENV_PREFIX}{}", key.to_uppercase()),
            message: format!("required {why}"),
        })
    }

    fn string(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_owned)
    }

    fn secret(&self, key: &str) -> Option<SecretString> {
        self.get(key).map(|v| SecretString::from(v.to_owned()))
    }

    fn parse<T: std::str::FromStr>(&self, key: &str, what: &str) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        let value = self.require(key, "")?;
        value
            .parse()
            .map_err(|e| self.invalid(key, format!("{value:?} is not {what}: {e}")))
    }

    fn url(&self, key: &str) -> Result<Option<Url>, ConfigError> {
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

    fn in_doubt(&self, key: &str) -> Result<InDoubtRule, ConfigError> {
        match self.require(key, "")? {
            "resend" => Ok(InDoubtRule::Resend),
            "unknown" => Ok(InDoubtRule::Unknown),
            other => Err(self.invalid(key, format!("{other:?} is not resend or unknown"))),
        }
    }

    fn duration(&self, key: &str) -> Result<Duration, ConfigError> {
        let value = self.require(key, "")?;
        humantime::parse_duration(value).map_err(|e| {
            self.invalid(
                key,
                format!("{value:?} is not a duration like 250ms or 30s: {e}"),
            )
        })
    }

    fn positive<T>(&self, key: &str) -> Result<T, ConfigError>
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

impl Config {
    /// How templates are chosen and SMS prepared, by this configuration.
    pub fn template_settings(&self) -> crate::templates::Settings {
        crate::templates::Settings {
            default_locale: self.default_locale.clone(),
            sms_transliterate: self.sms.transliterate.clone(),
        }
    }

    /// Loads defaults, then `path` (or `AMENDS_CONFIG`) if given, then the process environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let path = path
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("AMENDS_CONFIG").map(PathBuf::from));
        let file = match path {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                Some((path, text))
            }
            None => None,
        };
        let file = file.as_ref().map(|(p, t)| (p.as_path(), t.as_str()));
        Config::from_sources(file, std::env::vars())
    }

    /// Builds the configuration from an optional file's text and a set of environment variables.
    ///
    /// Separate from [`Config::load`] so tests never touch the process environment.
    pub fn from_sources(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
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
            let table: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::Syntax {
                        path: path.to_path_buf(),
                        message: e.to_string().lines().next().unwrap_or_default().to_owned()
                            + &location(text, e.span()),
                    })?;
            for (key, value) in table {
                let Some((known, _)) = KEYS.iter().find(|(k, _)| *k == key) else {
                    return Err(ConfigError::UnknownKey {
                        path: path.to_path_buf(),
                        key,
                    });
                };
                let value = match value {
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
                            message: format!(
                                "must be a string or number, not {}",
                                other.type_str()
                            ),
                        });
                    }
                };
                values.insert(
                    known,
                    Raw {
                        value,
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

        Config::validate(&Layers { values })
    }

    fn validate(layers: &Layers) -> Result<Config, ConfigError> {
        let http_bind: SocketAddr = layers.parse("http_bind", "a socket address (host:port)")?;

        let email_transports = layers
            .require("email_transport", "")?
            .split(',')
            .map(|name| match name.trim() {
                "outbox" => Ok(EmailTransportKind::Outbox),
                "smtp" => Ok(EmailTransportKind::Smtp),
                "sendgrid" => Ok(EmailTransportKind::SendGrid),
                "postmark" => Ok(EmailTransportKind::Postmark),
                other => Err(layers.invalid(
                    "email_transport",
                    format!(
                        "unknown transport {other:?} (expected outbox, smtp, sendgrid or postmark)"
                    ),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sms_transports = layers
            .require("sms_transport", "")?
            .split(',')
            .map(|name| match name.trim() {
                "outbox" => Ok(SmsTransportKind::Outbox),
                "twilio" => Ok(SmsTransportKind::Twilio),
                "vonage" => Ok(SmsTransportKind::Vonage),
                other => Err(layers.invalid(
                    "sms_transport",
                    format!("unknown transport {other:?} (expected outbox, twilio or vonage)"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;

        let smtp = if email_transports.contains(&EmailTransportKind::Smtp) {
            let url = layers.require("smtp_url", "when email_transport includes smtp")?;
            let parsed = Url::parse(url)
                .map_err(|e| layers.invalid("smtp_url", format!("not a valid URL: {e}")))?;
            if !matches!(parsed.scheme(), "smtp" | "smtps") {
                return Err(layers.invalid("smtp_url", "must start with smtp:// or smtps://"));
            }
            if parsed.host_str().is_none() {
                return Err(layers.invalid("smtp_url", "has no host"));
            }
            Some(SmtpConfig {
                url: SecretString::from(url.to_owned()),
            })
        } else {
            None
        };

        // Each HTTP provider's keys are required only when it is named as a transport.
        let sendgrid = match email_transports.contains(&EmailTransportKind::SendGrid) {
            true => Some(SendGridConfig {
                api_key: required_secret(
                    layers,
                    "sendgrid_api_key",
                    "email_transport",
                    "sendgrid",
                )?,
                base_url: base_url(layers, "sendgrid_base_url")?,
            }),
            false => None,
        };
        let postmark = match email_transports.contains(&EmailTransportKind::Postmark) {
            true => Some(PostmarkConfig {
                server_token: required_secret(
                    layers,
                    "postmark_server_token",
                    "email_transport",
                    "postmark",
                )?,
                base_url: base_url(layers, "postmark_base_url")?,
            }),
            false => None,
        };
        let twilio = match sms_transports.contains(&SmsTransportKind::Twilio) {
            true => Some(TwilioConfig {
                account_sid: layers
                    .require("twilio_account_sid", "when sms_transport includes twilio")?
                    .to_owned(),
                auth_token: required_secret(
                    layers,
                    "twilio_auth_token",
                    "sms_transport",
                    "twilio",
                )?,
                from: layers
                    .require("twilio_from", "when sms_transport includes twilio")?
                    .to_owned(),
                base_url: base_url(layers, "twilio_base_url")?,
            }),
            false => None,
        };
        let vonage = match sms_transports.contains(&SmsTransportKind::Vonage) {
            true => Some(VonageConfig {
                api_key: layers
                    .require("vonage_api_key", "when sms_transport includes vonage")?
                    .to_owned(),
                api_secret: required_secret(
                    layers,
                    "vonage_api_secret",
                    "sms_transport",
                    "vonage",
                )?,
                from: layers
                    .require("vonage_from", "when sms_transport includes vonage")?
                    .to_owned(),
                base_url: base_url(layers, "vonage_base_url")?,
            }),
            false => None,
        };

        let sendgrid_public_key = layers.string("sendgrid_webhook_public_key");
        if let Some(key) = &sendgrid_public_key {
            crate::signature::sendgrid_key(key)
                .map_err(|e| layers.invalid("sendgrid_webhook_public_key", e.to_string()))?;
        }
        let postmark_basic_auth = match (
            layers.string("postmark_webhook_user"),
            layers.secret("postmark_webhook_password"),
        ) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::Invalid {
                    origin: "AMENDS_POSTMARK_WEBHOOK_PASSWORD".into(),
                    message: "required when postmark_webhook_user is set".into(),
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    origin: "AMENDS_POSTMARK_WEBHOOK_USER".into(),
                    message: "required when postmark_webhook_password is set".into(),
                });
            }
        };
        let webhooks = WebhookConfig {
            twilio_auth_token: layers.secret("twilio_auth_token"),
            sendgrid_public_key,
            postmark_basic_auth,
            vonage_signature_secret: layers
                .secret("vonage_signature_secret")
                .or_else(|| layers.secret("vonage_api_secret")),
        };

        let store_name = layers.require("store_name", "")?.to_owned();
        let email_from = match layers.get("email_from") {
            Some(from) => from.parse().map_err(|e| {
                layers.invalid("email_from", format!("{from:?} is not a mailbox: {e}"))
            })?,
            None if email_transports
                .iter()
                .all(|t| *t == EmailTransportKind::Outbox) =>
            {
                // The file outbox needs a From header but sends nothing, so a local address is enough.
                lettre::message::Mailbox::new(
                    Some(store_name.clone()),
                    "amends@localhost".parse().map_err(|e| {
                        layers.invalid("email_from", format!("default mailbox: {e}"))
                    })?,
                )
            }
            None => {
                return Err(ConfigError::Invalid {
                    origin: "AMENDS_EMAIL_FROM".into(),
                    message: "required when email is sent through a provider".into(),
                });
            }
        };

        let public_url = match layers.url("public_url")? {
            Some(url) => url,
            None => Url::parse(&format!("http://{http_bind}")).map_err(|e| {
                layers.invalid("public_url", format!("derived from http_bind: {e}"))
            })?,
        };

        let default_locale_text = layers.require("default_locale", "")?;
        let default_locale = Locale::parse(default_locale_text).map_err(|e| {
            layers.invalid("default_locale", format!("{default_locale_text:?}: {e}"))
        })?;

        let transliterate = match layers.string("sms_transliterate") {
            // An empty value means "unset" (the default), so switching it off needs a word.
            Some(list) if list.trim() == "none" => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| {
                    Locale::parse(l)
                        .map(|locale| locale.language().to_owned())
                        .map_err(|e| layers.invalid("sms_transliterate", format!("{l:?}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };

        let retry_text = layers.require("retry_schedule", "")?;
        let retry_schedule = retry_text
            .split(',')
            .map(|step| {
                humantime::parse_duration(step.trim()).map_err(|e| {
                    layers.invalid(
                        "retry_schedule",
                        format!("{:?} is not a duration: {e}", step.trim()),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let instance_name = match layers.string("instance_name") {
            Some(name) => name,
            None => default_instance_name(),
        };

        let log_format = match layers.require("log_format", "")? {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(layers.invalid("log_format", format!("{other:?} is not text or json")));
            }
        };

        for key in [
            "twilio_base_url",
            "sendgrid_base_url",
            "postmark_base_url",
            "vonage_base_url",
        ] {
            layers.url(key)?;
        }

        let amqp_url = layers.require("amqp_url", "")?;
        if !(amqp_url.starts_with("amqp://") || amqp_url.starts_with("amqps://")) {
            return Err(layers.invalid("amqp_url", "must start with amqp:// or amqps://"));
        }
        let database_url = layers.require("database_url", "")?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(layers.invalid("database_url", "must start with postgres://"));
        }

        let dispatch = DispatchConfig {
            batch_size: layers.positive("dispatch_batch_size")?,
            concurrency: layers.positive("dispatch_concurrency")?,
            poll_interval: layers.duration("dispatch_poll_interval")?,
            lease_duration: layers.duration("lease_duration")?,
            retry_schedule,
            send_timeout: layers.duration("send_timeout")?,
            provider_failure_threshold: layers.positive("provider_failure_threshold")?,
            provider_cool_off: layers.duration("provider_cool_off")?,
            max_per_second: ProviderRates {
                smtp: layers.parse("smtp_max_per_second", "a whole number (0 = no limit)")?,
                sendgrid: layers
                    .parse("sendgrid_max_per_second", "a whole number (0 = no limit)")?,
                postmark: layers
                    .parse("postmark_max_per_second", "a whole number (0 = no limit)")?,
                twilio: layers.parse("twilio_max_per_second", "a whole number (0 = no limit)")?,
                vonage: layers.parse("vonage_max_per_second", "a whole number (0 = no limit)")?,
            },
            in_doubt: InDoubt {
                email: layers.in_doubt("in_doubt_email")?,
                sms: layers.in_doubt("in_doubt_sms")?,
            },
        };
        if dispatch.lease_duration < Duration::from_secs(1) {
            // The lease is renewed every third of it while a message is handled; shorter than a
            // second, a database round trip could outlast the renewal.
            return Err(layers.invalid("lease_duration", "must be at least 1s"));
        }

        let admin_token = layers.secret("admin_token");
        let admin_users = match layers.get("admin_users") {
            Some(text) => {
                AdminUser::parse_list(text).map_err(|e| layers.invalid("admin_users", e))?
            }
            None => Vec::new(),
        };
        if !admin_users.is_empty() && admin_token.is_none() {
            return Err(layers.invalid(
                "admin_users",
                "needs AMENDS_ADMIN_TOKEN too: it signs the console's sessions and is the API's bearer token",
            ));
        }

        Ok(Config {
            amqp_url: SecretString::from(amqp_url.to_owned()),
            database_url: SecretString::from(database_url.to_owned()),
            http_bind,
            templates_dir: PathBuf::from(layers.require("templates_dir", "")?),
            policy: PathBuf::from(layers.require("policy", "")?),
            policy_reload_interval: layers.duration("policy_reload_interval")?,
            email_transports,
            sms_transports,
            outbox_dir: PathBuf::from(layers.require("outbox_dir", "")?),
            smtp,
            sendgrid,
            postmark,
            twilio,
            vonage,
            webhooks,
            email_from,
            sms_from: layers.require("sms_from", "")?.to_owned(),
            public_url,
            admin_token,
            admin_users,
            instance_name,
            default_locale,
            store: StoreInfo {
                name: store_name,
                url: layers.url("store_url")?,
                support_email: layers.string("support_email"),
                support_phone: layers.string("support_phone"),
                address: layers.string("store_address"),
                logo_url: layers.url("store_logo_url")?,
                preferences_url: layers.url("preferences_url")?,
            },
            sms: SmsConfig {
                transliterate,
                max_segments: layers.positive("sms_max_segments")?,
            },
            amqp: AmqpNames {
                orders_exchange: layers.require("orders_exchange", "")?.to_owned(),
                queue: layers.require("queue", "")?.to_owned(),
                dead_letter_queue: layers.require("dead_letter_queue", "")?.to_owned(),
                events_exchange: layers.require("events_exchange", "")?.to_owned(),
            },
            prefetch: layers.positive("prefetch")?,
            max_redeliveries: layers.parse("max_redeliveries", "a whole number")?,
            database_max_connections: layers.positive("database_max_connections")?,
            dispatch,
            log_format,
        })
    }
}

/// `host-pid`: unique per process on a machine, readable in the database's claim columns.
fn default_instance_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "amends".to_owned());
    format!("{host}-{}", std::process::id())
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

/// A secret a named transport needs, e.g. `AMENDS_SENDGRID_API_KEY: required when
/// email_transport includes sendgrid`.
fn required_secret(
    layers: &Layers,
    key: &str,
    list: &str,
    transport: &str,
) -> Result<SecretString, ConfigError> {
    layers
        .require(key, &format!("when {list} includes {transport}"))
        .map(|v| SecretString::from(v.to_owned()))
}

/// A provider's base URL (they all have defaults).
fn base_url(layers: &Layers, key: &str) -> Result<Url, ConfigError> {
    layers
        .url(key)?
        .ok_or_else(|| layers.invalid(key, "required"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = Config::from_sources(None, env(&[])).unwrap();
        assert_eq!(
            config.amqp_url.expose_secret(),
            "amqp://guest:guest@127.0.0.1:5672/%2f"
        );
        assert_eq!(
            config.database_url.expose_secret(),
            "postgres://postgres@127.0.0.1:5432/amends"
        );
        assert_eq!(config.http_bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.public_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(config.email_transports, vec![EmailTransportKind::Outbox]);
        assert_eq!(config.sms_transports, vec![SmsTransportKind::Outbox]);
        assert_eq!(config.outbox_dir, PathBuf::from("var/outbox"));
        assert_eq!(config.amqp.queue, "amends.order-events");
        assert_eq!(config.amqp.dead_letter_queue, "amends.order-events.dead");
        assert!(config.admin_token.is_none());
        assert_eq!(config.dispatch.retry_schedule.len(), 5);
    }

    #[test]
    fn env_overrides_file_and_file_overrides_defaults() {
        let file = "http_bind = \"0.0.0.0:9000\"\nprefetch = 10\nqueue = \"q.file\"\n";
        let config = Config::from_sources(
            Some((Path::new("amends.toml"), file)),
            env(&[("AMENDS_QUEUE", "q.env"), ("OTHER_QUEUE", "ignored")]),
        )
        .unwrap();
        assert_eq!(config.http_bind.port(), 9000);
        assert_eq!(config.prefetch, 10);
        assert_eq!(config.amqp.queue, "q.env");
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let err = Config::from_sources(None, env(&[("AMENDS_HTTP_BIND", "nope")])).unwrap_err();
        let line = err.to_string();
        assert!(line.starts_with("AMENDS_HTTP_BIND: "), "{line}");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn bad_file_value_names_the_key_and_file() {
        let err = Config::from_sources(Some((Path::new("a.toml"), "prefetch = 0\n")), env(&[]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "prefetch (in a.toml): must be greater than zero"
        );
    }

    #[test]
    fn unknown_file_key_is_rejected() {
        let err = Config::from_sources(Some((Path::new("a.toml"), "prefetsh = 3\n")), env(&[]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown configuration key `prefetsh` in a.toml"
        );
    }

    #[test]
    fn toml_syntax_error_has_a_line() {
        let err = Config::from_sources(Some((Path::new("a.toml"), "\nqueue = \n")), env(&[]))
            .unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn smtp_needs_url_and_from() {
        let err =
            Config::from_sources(None, env(&[("AMENDS_EMAIL_TRANSPORT", "smtp")])).unwrap_err();
        assert!(err.to_string().starts_with("AMENDS_SMTP_URL: "), "{err}");
        let err = Config::from_sources(
            None,
            env(&[
                ("AMENDS_EMAIL_TRANSPORT", "smtp"),
                ("AMENDS_SMTP_URL", "smtp://127.0.0.1:2525"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("AMENDS_EMAIL_FROM: "), "{err}");
    }

    #[test]
    fn a_provider_named_as_transport_needs_its_keys() {
        let err = Config::from_sources(None, env(&[("AMENDS_SMS_TRANSPORT", "outbox,twilio")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "AMENDS_TWILIO_ACCOUNT_SID: required when sms_transport includes twilio"
        );
        let err = Config::from_sources(
            None,
            env(&[
                ("AMENDS_EMAIL_TRANSPORT", "sendgrid"),
                ("AMENDS_EMAIL_FROM", "care@shop.example"),
            ]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "AMENDS_SENDGRID_API_KEY: required when email_transport includes sendgrid"
        );
        let config = Config::from_sources(
            None,
            env(&[
                ("AMENDS_EMAIL_TRANSPORT", "postmark,smtp"),
                ("AMENDS_SMTP_URL", "smtp://127.0.0.1:2525"),
                ("AMENDS_EMAIL_FROM", "care@shop.example"),
                ("AMENDS_POSTMARK_SERVER_TOKEN", "pm-secret"),
                ("AMENDS_SMS_TRANSPORT", "vonage"),
                ("AMENDS_VONAGE_API_KEY", "k"),
                ("AMENDS_VONAGE_API_SECRET", "v-secret"),
                ("AMENDS_VONAGE_FROM", "Northwind"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.email_transports,
            vec![EmailTransportKind::Postmark, EmailTransportKind::Smtp]
        );
        assert_eq!(
            config.postmark.as_ref().unwrap().base_url.as_str(),
            "https://api.postmarkapp.com/"
        );
        assert!(config.twilio.is_none() && config.sendgrid.is_none());
        // Secrets never show in the configuration's debug output.
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("pm-secret") && !debug.contains("v-secret"),
            "{debug}"
        );
    }

    #[test]
    fn unknown_transport_is_named() {
        let err =
            Config::from_sources(None, env(&[("AMENDS_SMS_TRANSPORT", "pigeon")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("AMENDS_SMS_TRANSPORT: unknown transport"),
            "{err}"
        );
    }

    #[test]
    fn admin_users_are_names_with_password_hashes_and_need_the_token() {
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0000000000000000000000000000000000000000000";
        let users = format!("Marta:{hash};\n Luis:{hash}\n");
        let config = Config::from_sources(
            None,
            env(&[("AMENDS_ADMIN_TOKEN", "t"), ("AMENDS_ADMIN_USERS", &users)]),
        )
        .unwrap();
        let names: Vec<&str> = config.admin_users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["Marta", "Luis"]);
        assert!(!format!("{config:?}").contains("argon2id"));
        for (value, problem) in [
            (format!("Marta:{hash}"), "needs AMENDS_ADMIN_TOKEN"),
            ("Marta".to_owned(), "name:hash"),
            ("Marta:secret".to_owned(), "not a PHC string"),
            (format!("Marta:{hash};marta:{hash}"), "listed twice"),
        ] {
            let token = if problem.starts_with("needs") {
                ""
            } else {
                "t"
            };
            let err = Config::from_sources(
                None,
                env(&[
                    ("AMENDS_ADMIN_TOKEN", token),
                    ("AMENDS_ADMIN_USERS", &value),
                ]),
            )
            .unwrap_err()
            .to_string();
            assert!(err.starts_with("AMENDS_ADMIN_USERS: "), "{err}");
            assert!(err.contains(problem), "{err}");
        }
    }

    #[test]
    fn retry_schedule_and_durations_parse() {
        let config = Config::from_sources(
            None,
            env(&[
                ("AMENDS_RETRY_SCHEDULE", "1ms, 2ms"),
                ("AMENDS_LEASE_DURATION", "2m"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.dispatch.retry_schedule,
            vec![Duration::from_millis(1), Duration::from_millis(2)]
        );
        assert_eq!(config.dispatch.lease_duration, Duration::from_secs(120));
        let err =
            Config::from_sources(None, env(&[("AMENDS_RETRY_SCHEDULE", "1s,soon")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("AMENDS_RETRY_SCHEDULE: \"soon\""),
            "{err}"
        );
    }

    #[test]
    fn sms_settings_parse_and_can_be_switched_off() {
        let defaults = Config::from_sources(None, env(&[])).unwrap();
        assert_eq!(defaults.sms.transliterate, vec!["es".to_owned()]);
        assert_eq!(defaults.sms.max_segments, 3);
        let config = Config::from_sources(
            None,
            env(&[
                ("AMENDS_SMS_TRANSLITERATE", "es-MX, pt"),
                ("AMENDS_SMS_MAX_SEGMENTS", "2"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.sms.transliterate,
            vec!["es".to_owned(), "pt".to_owned()]
        );
        assert_eq!(config.sms.max_segments, 2);
        let off = Config::from_sources(None, env(&[("AMENDS_SMS_TRANSLITERATE", "none")])).unwrap();
        assert!(off.sms.transliterate.is_empty());
        let err =
            Config::from_sources(None, env(&[("AMENDS_SMS_TRANSLITERATE", "es,??")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("AMENDS_SMS_TRANSLITERATE: \"??\""),
            "{err}"
        );
        let err =
            Config::from_sources(None, env(&[("AMENDS_PREFERENCES_URL", "ftp://x")])).unwrap_err();
        assert!(
            err.to_string().starts_with("AMENDS_PREFERENCES_URL: "),
            "{err}"
        );
    }

    #[test]
    fn the_example_file_is_valid_and_holds_the_defaults() {
        let path = Path::new("deploy/amends.example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let from_file = Config::from_sources(Some((path, &text)), env(&[])).unwrap();
        let defaults = Config::from_sources(None, env(&[])).unwrap();
        assert_eq!(format!("{from_file:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let config = Config::from_sources(
            None,
            env(&[
                ("AMENDS_ADMIN_TOKEN", "hunter2"),
                ("AMENDS_AMQP_URL", "amqp://u:pw-secret@h/"),
            ]),
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"));
        assert!(!debug.contains("pw-secret"));
    }
}

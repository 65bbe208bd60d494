//! Configuration: built-in defaults, then the TOML file, then `AMENDS_*` environment variables,
//! validated once into one typed [`Config`].
//!
//! Every key is flat and its environment name is `AMENDS_` + the key in upper case, so the file and
//! the environment cannot disagree about names. Values are read as text from either source and then
//! parsed per key, which lets every error name the key and where the bad value came from.
//! (Layering crates such as figment guess a type from environment text, which turns a phone number
//! sender like `+15551234567` into an integer; parsing per key avoids that.)
//!
//! `layers` reads the three sources into raw text, `validate` types it area by area, with
//! `providers` for the transports and provider settings and `admin` for the console's people.

mod admin;
mod layers;
mod providers;
mod report;
mod validate;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::incident::Locale;
use crate::policy::QuietDefaults;
use crate::templates::StoreInfo;
use crate::timing::CallingHours;

pub use admin::AdminUser;
pub use providers::{
    EmailTransportKind, PostmarkConfig, ProviderInFlight, ProviderRates, SendGridConfig,
    SmsTransportKind, SmtpConfig, TwilioConfig, VonageConfig, WebhookConfig,
};
pub use report::Setting;

use layers::Layers;

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
    #[error("unknown configuration key `{key}` in {path}{hint}")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// ` (did you mean `…`?)` when a known key is close, else empty.
        hint: String,
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

/// The link to the store's one-question feedback page, written with `{incident_id}` where the
/// id of the incident goes (`https://shop.example/feedback?incident={incident_id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackUrl(String);

impl FeedbackUrl {
    /// Where the incident id goes.
    pub const PLACEHOLDER: &'static str = "{incident_id}";

    /// Checks a link template: it names the incident and is an http(s) URL once it is filled in.
    pub fn parse(template: &str) -> Result<FeedbackUrl, String> {
        if !template.contains(Self::PLACEHOLDER) {
            return Err(format!(
                "must contain {}, where the incident id goes",
                Self::PLACEHOLDER
            ));
        }
        let sample = template.replace(Self::PLACEHOLDER, &uuid::Uuid::nil().to_string());
        let url = Url::parse(&sample).map_err(|e| {
            format!(
                "is not a valid URL once {} is filled in: {e}",
                Self::PLACEHOLDER
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must be an http or https URL".to_owned());
        }
        Ok(FeedbackUrl(template.to_owned()))
    }

    /// The link for one incident (a UUID needs no escaping in a URL).
    pub fn for_incident(&self, incident_id: uuid::Uuid) -> String {
        self.0.replace(Self::PLACEHOLDER, &incident_id.to_string())
    }
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
    /// Languages whose SMS letters are transliterated to GSM-7 (`á` → `a`, changing words) to fit
    /// more per segment; none by default. Punctuation is mapped for every language regardless.
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

/// The watch for orders whose promised date passed in silence.
#[derive(Debug, Clone, Copy)]
pub struct OverdueConfig {
    /// How long past the promised day before an order counts as overdue, and how days count.
    pub grace: crate::timing::Grace,
    /// How often the watcher looks.
    pub check_interval: Duration,
    /// How long after an overdue apology the promised update is due.
    pub update_after: Duration,
    /// Overdue orders a day that get an automatic message; the rest are held.
    pub daily_cap: u32,
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
    /// Sends each provider may have in flight at once per replica, within `concurrency`.
    pub max_in_flight: ProviderInFlight,
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

/// How long console sessions last.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// From sign-in, however busy the session.
    pub lifetime: Duration,
    /// Without a request.
    pub idle_timeout: Duration,
}

/// Sign-in and bearer-token limits: each bucket holds this many attempts and gets one back
/// every refill period.
#[derive(Debug, Clone, Copy)]
pub struct AccessLimits {
    /// Sign-in attempts per client address, per account name and per device.
    pub sign_in_attempts: u32,
    /// How often a sign-in bucket gets an attempt back.
    pub sign_in_refill: Duration,
    /// Bearer-token requests per client address.
    pub bearer_attempts: u32,
    /// How often a bearer-token bucket gets a request back.
    pub bearer_refill: Duration,
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
    /// Address of a second listener serving only the provider webhooks, for the internet.
    pub webhook_bind: Option<SocketAddr>,
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
    /// The token in force before the current one, still accepted during a rotation.
    pub admin_token_previous: Option<SecretString>,
    /// Reverse proxies whose `X-Forwarded-For` names the client's address.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long console sessions last.
    pub sessions: SessionConfig,
    /// How many sign-ins and bearer-token requests a client may try.
    pub access_limits: AccessLimits,
    /// Name of this replica, the `source` of outcome events and the owner of outbox claims.
    pub instance_name: String,
    /// Locale for customers who did not say.
    pub default_locale: Locale,
    /// The store the messages speak for.
    pub store: StoreInfo,
    /// The store's one-question feedback page, linked from follow-ups; none: no link.
    pub feedback_url: Option<FeedbackUrl>,
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
    /// The quiet hours of each channel, in the customer's time zone, where a rule sets none.
    pub quiet_hours: QuietDefaults,
    /// The hours of the customer's day in which the care team calls.
    pub call_hours: CallingHours,
    /// The watch for orders whose promised date passed in silence.
    pub overdue: OverdueConfig,
    /// How often the database-wide gauges are refreshed.
    pub metrics_refresh_interval: Duration,
    /// Personal data of incidents older than this is erased; `None`: kept for ever.
    pub retention: Option<Duration>,
    /// How often the erasure runs.
    pub retention_check_interval: Duration,
    /// Log format.
    pub log_format: LogFormat,
    /// The OpenTelemetry collector spans are exported to; `None`: none are.
    pub otlp_endpoint: Option<Url>,
    /// What start-up should warn about: `AMENDS_*` variables that name no key.
    pub warnings: Vec<String>,
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
        let file = read_file(path)?;
        let file = file.as_ref().map(|(p, t)| (p.as_path(), t.as_str()));
        Config::from_sources(file, std::env::vars())
    }

    /// What [`Config::load`] would read: every key's effective value (secrets masked) and
    /// source, the warnings, and whether the whole is valid.
    pub fn describe(path: Option<&Path>) -> Result<Described, ConfigError> {
        let file = read_file(path)?;
        let file = file.as_ref().map(|(p, t)| (p.as_path(), t.as_str()));
        let layers = Layers::read(file, std::env::vars())?;
        Ok(Described {
            settings: layers.settings()?,
            warnings: layers.warnings(),
            valid: Config::validate(&layers).map(|_| ()),
        })
    }

    /// Builds the configuration from an optional file's text and a set of environment variables.
    ///
    /// Separate from [`Config::load`] so tests never touch the process environment.
    pub fn from_sources(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let layers = Layers::read(file, env)?;
        let mut config = Config::validate(&layers)?;
        config.warnings = layers.warnings();
        Ok(config)
    }
}

/// The effective configuration as `amends config` shows it.
#[derive(Debug)]
pub struct Described {
    /// Every key, its value (secrets masked) and its source.
    pub settings: Vec<Setting>,
    /// `AMENDS_*` variables that name no key.
    pub warnings: Vec<String>,
    /// Whether the whole loads, and if not the one line that says why.
    pub valid: Result<(), ConfigError>,
}

/// The configuration file named by `path` or `AMENDS_CONFIG`, with its text, if any.
fn read_file(path: Option<&Path>) -> Result<Option<(PathBuf, String)>, ConfigError> {
    let path = path
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("AMENDS_CONFIG").map(PathBuf::from));
    path.map(|path| {
        std::fs::read_to_string(&path)
            .map(|text| (path.clone(), text))
            .map_err(|source| ConfigError::Read { path, source })
    })
    .transpose()
}

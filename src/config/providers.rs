//! The transports and the settings of each provider, read from the layers: a provider's keys are
//! required only when a transport list names it.

use secrecy::SecretString;
use url::Url;

use super::ConfigError;
use super::layers::Layers;

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

/// Per provider, how many of one replica's sends may be in flight at once; 0 means only
/// `dispatch_concurrency` bounds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderInFlight {
    /// The file outbox.
    pub outbox: usize,
    /// SMTP relay (each send in flight is one open connection).
    pub smtp: usize,
    /// SendGrid.
    pub sendgrid: usize,
    /// Postmark.
    pub postmark: usize,
    /// Twilio.
    pub twilio: usize,
    /// Vonage.
    pub vonage: usize,
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

/// What provider webhooks are verified with. Each list holds the current credential first, then
/// the previous one while a provider is switched to a new one (`*_previous`); an empty list (a
/// provider without its key) has that webhook answer 403.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Twilio's auth tokens (sign `X-Twilio-Signature`).
    pub twilio_auth_tokens: Vec<SecretString>,
    /// SendGrid's Event Webhook verification keys, base64 DER, checked at start-up.
    pub sendgrid_public_keys: Vec<String>,
    /// Postmark's webhook user and passwords (HTTP Basic).
    pub postmark_basic_auth: Vec<(String, SecretString)>,
    /// The secrets Vonage signs delivery receipts with (SHA-256 HMAC); the API secret unless set.
    pub vonage_signature_secrets: Vec<SecretString>,
}

/// The transport lists and the settings of every provider they name.
pub(super) struct Providers {
    pub(super) email_transports: Vec<EmailTransportKind>,
    pub(super) sms_transports: Vec<SmsTransportKind>,
    pub(super) smtp: Option<SmtpConfig>,
    pub(super) sendgrid: Option<SendGridConfig>,
    pub(super) postmark: Option<PostmarkConfig>,
    pub(super) twilio: Option<TwilioConfig>,
    pub(super) vonage: Option<VonageConfig>,
}

impl Providers {
    /// Reads both transport lists, then each named provider's settings.
    pub(super) fn read(layers: &Layers) -> Result<Providers, ConfigError> {
        let email_transports = email_transports(layers)?;
        let sms_transports = sms_transports(layers)?;
        let smtp = match email_transports.contains(&EmailTransportKind::Smtp) {
            true => Some(smtp(layers)?),
            false => None,
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
        Ok(Providers {
            email_transports,
            sms_transports,
            smtp,
            sendgrid,
            postmark,
            twilio,
            vonage,
        })
    }
}

fn email_transports(layers: &Layers) -> Result<Vec<EmailTransportKind>, ConfigError> {
    layers
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
        .collect()
}

fn sms_transports(layers: &Layers) -> Result<Vec<SmsTransportKind>, ConfigError> {
    layers
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
        .collect()
}

fn smtp(layers: &Layers) -> Result<SmtpConfig, ConfigError> {
    let url = layers.require("smtp_url", "when email_transport includes smtp")?;
    let parsed =
        Url::parse(url).map_err(|e| layers.invalid("smtp_url", format!("not a valid URL: {e}")))?;
    if !matches!(parsed.scheme(), "smtp" | "smtps") {
        return Err(layers.invalid("smtp_url", "must start with smtp:// or smtps://"));
    }
    if parsed.host_str().is_none() {
        return Err(layers.invalid("smtp_url", "has no host"));
    }
    Ok(SmtpConfig {
        url: SecretString::from(url.to_owned()),
    })
}

/// The current credential `current` and, while it is rotated, the previous one `previous`
/// (which makes no sense alone: it names `previous` when `current` is missing).
fn with_previous<T>(
    layers: &Layers,
    current: Option<T>,
    previous_key: &str,
    previous: Option<T>,
) -> Result<Vec<T>, ConfigError> {
    match (current, previous) {
        (Some(current), previous) => Ok(std::iter::once(current).chain(previous).collect()),
        (None, None) => Ok(Vec::new()),
        (None, Some(_)) => Err(layers.invalid(
            previous_key,
            "is the credential being replaced; set the current one beside it",
        )),
    }
}

/// The keys provider webhooks are checked with; each is optional.
pub(super) fn webhooks(layers: &Layers) -> Result<WebhookConfig, ConfigError> {
    let sendgrid_public_keys = with_previous(
        layers,
        layers.string("sendgrid_webhook_public_key"),
        "sendgrid_webhook_public_key_previous",
        layers.string("sendgrid_webhook_public_key_previous"),
    )?;
    for (key, name) in sendgrid_public_keys.iter().zip([
        "sendgrid_webhook_public_key",
        "sendgrid_webhook_public_key_previous",
    ]) {
        crate::signature::sendgrid_key(key).map_err(|e| layers.invalid(name, e.to_string()))?;
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
    let postmark_passwords = with_previous(
        layers,
        postmark_basic_auth
            .as_ref()
            .map(|(_, password)| password.clone()),
        "postmark_webhook_password_previous",
        layers.secret("postmark_webhook_password_previous"),
    )?;
    // The same user with either password.
    let postmark_basic_auth = match postmark_basic_auth {
        Some((user, _)) => postmark_passwords
            .into_iter()
            .map(|password| (user.clone(), password))
            .collect(),
        None => Vec::new(),
    };
    Ok(WebhookConfig {
        twilio_auth_tokens: with_previous(
            layers,
            layers.secret("twilio_auth_token"),
            "twilio_auth_token_previous",
            layers.secret("twilio_auth_token_previous"),
        )?,
        sendgrid_public_keys,
        postmark_basic_auth,
        vonage_signature_secrets: with_previous(
            layers,
            layers
                .secret("vonage_signature_secret")
                .or_else(|| layers.secret("vonage_api_secret")),
            "vonage_signature_secret_previous",
            layers.secret("vonage_signature_secret_previous"),
        )?,
    })
}

/// Checks every provider's base URL, named as a transport or not, so a typo shows at start-up
/// rather than on the day the provider is switched on.
pub(super) fn check_base_urls(layers: &Layers) -> Result<(), ConfigError> {
    for key in [
        "twilio_base_url",
        "sendgrid_base_url",
        "postmark_base_url",
        "vonage_base_url",
    ] {
        layers.url(key)?;
    }
    Ok(())
}

/// Each provider's sending rate.
pub(super) fn rates(layers: &Layers) -> Result<ProviderRates, ConfigError> {
    const WHAT: &str = "a whole number (0 = no limit)";
    Ok(ProviderRates {
        smtp: layers.parse("smtp_max_per_second", WHAT)?,
        sendgrid: layers.parse("sendgrid_max_per_second", WHAT)?,
        postmark: layers.parse("postmark_max_per_second", WHAT)?,
        twilio: layers.parse("twilio_max_per_second", WHAT)?,
        vonage: layers.parse("vonage_max_per_second", WHAT)?,
    })
}

/// Each provider's bound on sends in flight.
pub(super) fn in_flight(layers: &Layers) -> Result<ProviderInFlight, ConfigError> {
    const WHAT: &str = "a whole number (0 = bounded by dispatch_concurrency only)";
    Ok(ProviderInFlight {
        outbox: layers.parse("outbox_max_in_flight", WHAT)?,
        smtp: layers.parse("smtp_max_in_flight", WHAT)?,
        sendgrid: layers.parse("sendgrid_max_in_flight", WHAT)?,
        postmark: layers.parse("postmark_max_in_flight", WHAT)?,
        twilio: layers.parse("twilio_max_in_flight", WHAT)?,
        vonage: layers.parse("vonage_max_in_flight", WHAT)?,
    })
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

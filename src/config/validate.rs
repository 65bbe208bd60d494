//! Typing the layered values into a [`Config`], one area at a time; the first bad value found is
//! the error, named by key and source.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::layers::Layers;
use super::providers::{self, EmailTransportKind, Providers};
use super::{
    AccessLimits, AdminUser, AmqpNames, Config, ConfigError, DispatchConfig, FeedbackUrl, InDoubt,
    LogFormat, OverdueConfig, SessionConfig, SmsConfig,
};
use crate::incident::Locale;
use crate::policy::QuietDefaults;
use crate::templates::StoreInfo;
use crate::timing::{CallingHours, QuietHours};

impl Config {
    /// Checks every key once and builds the configuration from them.
    pub(super) fn validate(layers: &Layers) -> Result<Config, ConfigError> {
        let connections = connections(layers)?;
        let Providers {
            email_transports,
            sms_transports,
            smtp,
            sendgrid,
            postmark,
            twilio,
            vonage,
        } = Providers::read(layers)?;
        let webhooks = providers::webhooks(layers)?;
        providers::check_base_urls(layers)?;
        let store = store(layers)?;
        let email_from = email_from(layers, &store.name, &email_transports)?;
        let Admin {
            token: admin_token,
            previous: admin_token_previous,
            users: admin_users,
        } = admin(layers)?;

        Ok(Config {
            amqp_url: connections.amqp_url,
            database_url: connections.database_url,
            http_bind: connections.http_bind,
            webhook_bind: connections.webhook_bind,
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
            public_url: connections.public_url,
            admin_token,
            admin_users,
            admin_token_previous,
            trusted_proxies: trusted_proxies(layers)?,
            sessions: sessions(layers)?,
            access_limits: access_limits(layers)?,
            instance_name: layers
                .string("instance_name")
                .unwrap_or_else(default_instance_name),
            default_locale: default_locale(layers)?,
            store,
            feedback_url: feedback_url(layers)?,
            sms: sms(layers)?,
            amqp: amqp_names(layers)?,
            prefetch: layers.positive("prefetch")?,
            max_redeliveries: layers.parse("max_redeliveries", "a whole number")?,
            database_max_connections: connections.database_max_connections,
            dispatch: dispatch(layers)?,
            quiet_hours: quiet_hours(layers)?,
            call_hours: call_hours(layers)?,
            overdue: overdue(layers)?,
            metrics_refresh_interval: positive_duration(layers, "metrics_refresh_interval")?,
            retention: retention(layers)?,
            retention_check_interval: positive_duration(layers, "retention_check_interval")?,
            log_format: log_format(layers)?,
            otlp_endpoint: layers.url("otlp_endpoint")?,
            warnings: Vec::new(),
        })
    }
}

/// Where amends listens, and how it reaches the broker and the database.
struct Connections {
    http_bind: SocketAddr,
    webhook_bind: Option<SocketAddr>,
    public_url: Url,
    amqp_url: SecretString,
    database_url: SecretString,
    database_max_connections: u32,
}

fn connections(layers: &Layers) -> Result<Connections, ConfigError> {
    let http_bind: SocketAddr = layers.parse("http_bind", "a socket address (host:port)")?;
    let webhook_bind: Option<SocketAddr> = match layers.get("webhook_bind") {
        Some(_) => Some(layers.parse("webhook_bind", "a socket address (host:port)")?),
        None => None,
    };
    // Two listeners on one address would fail at bind time with a less telling error; port 0
    // (the OS chooses) is the exception, as each bind then gets its own port.
    if let Some(hooks) = webhook_bind
        && hooks == http_bind
        && hooks.port() != 0
    {
        return Err(layers.invalid(
            "webhook_bind",
            format!("{hooks} is also http_bind: give the webhook listener its own port"),
        ));
    }
    let public_url = match layers.url("public_url")? {
        Some(url) => url,
        None => Url::parse(&format!("http://{http_bind}"))
            .map_err(|e| layers.invalid("public_url", format!("derived from http_bind: {e}")))?,
    };
    let amqp_url = layers.require("amqp_url", "")?;
    if !(amqp_url.starts_with("amqp://") || amqp_url.starts_with("amqps://")) {
        return Err(layers.invalid("amqp_url", "must start with amqp:// or amqps://"));
    }
    let database_url = layers.require("database_url", "")?;
    if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
        return Err(layers.invalid("database_url", "must start with postgres://"));
    }
    Ok(Connections {
        http_bind,
        webhook_bind,
        public_url,
        amqp_url: SecretString::from(amqp_url.to_owned()),
        database_url: SecretString::from(database_url.to_owned()),
        database_max_connections: layers.positive("database_max_connections")?,
    })
}

/// The feedback link of follow-ups, if the store collects feedback.
fn feedback_url(layers: &Layers) -> Result<Option<FeedbackUrl>, ConfigError> {
    layers
        .get("feedback_url")
        .map(|template| FeedbackUrl::parse(template).map_err(|e| layers.invalid("feedback_url", e)))
        .transpose()
}

/// The store the messages speak for.
fn store(layers: &Layers) -> Result<StoreInfo, ConfigError> {
    Ok(StoreInfo {
        name: layers.require("store_name", "")?.to_owned(),
        url: layers.url("store_url")?,
        support_email: layers.string("support_email"),
        support_phone: layers.string("support_phone"),
        address: layers.string("store_address"),
        logo_url: layers.url("store_logo_url")?,
        preferences_url: layers.url("preferences_url")?,
    })
}

fn email_from(
    layers: &Layers,
    store_name: &str,
    email_transports: &[EmailTransportKind],
) -> Result<lettre::message::Mailbox, ConfigError> {
    match layers.get("email_from") {
        Some(from) => from
            .parse()
            .map_err(|e| layers.invalid("email_from", format!("{from:?} is not a mailbox: {e}"))),
        None if email_transports
            .iter()
            .all(|t| *t == EmailTransportKind::Outbox) =>
        {
            // The file outbox needs a From header but sends nothing, so a local address is enough.
            Ok(lettre::message::Mailbox::new(
                Some(store_name.to_owned()),
                "amends@localhost"
                    .parse()
                    .map_err(|e| layers.invalid("email_from", format!("default mailbox: {e}")))?,
            ))
        }
        None => Err(ConfigError::Invalid {
            origin: "AMENDS_EMAIL_FROM".into(),
            message: "required when email is sent through a provider".into(),
        }),
    }
}

fn default_locale(layers: &Layers) -> Result<Locale, ConfigError> {
    let text = layers.require("default_locale", "")?;
    Locale::parse(text).map_err(|e| layers.invalid("default_locale", format!("{text:?}: {e}")))
}

fn sms(layers: &Layers) -> Result<SmsConfig, ConfigError> {
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
    Ok(SmsConfig {
        transliterate,
        max_segments: layers.positive("sms_max_segments")?,
    })
}

fn amqp_names(layers: &Layers) -> Result<AmqpNames, ConfigError> {
    Ok(AmqpNames {
        orders_exchange: layers.require("orders_exchange", "")?.to_owned(),
        queue: layers.require("queue", "")?.to_owned(),
        dead_letter_queue: layers.require("dead_letter_queue", "")?.to_owned(),
        events_exchange: layers.require("events_exchange", "")?.to_owned(),
    })
}

fn dispatch(layers: &Layers) -> Result<DispatchConfig, ConfigError> {
    let retry_schedule = layers
        .require("retry_schedule", "")?
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
    let dispatch = DispatchConfig {
        batch_size: layers.positive("dispatch_batch_size")?,
        concurrency: layers.positive("dispatch_concurrency")?,
        poll_interval: layers.duration("dispatch_poll_interval")?,
        lease_duration: layers.duration("lease_duration")?,
        retry_schedule,
        send_timeout: layers.duration("send_timeout")?,
        provider_failure_threshold: layers.positive("provider_failure_threshold")?,
        provider_cool_off: layers.duration("provider_cool_off")?,
        max_per_second: providers::rates(layers)?,
        max_in_flight: providers::in_flight(layers)?,
        in_doubt: InDoubt {
            email: layers.in_doubt("in_doubt_email")?,
            sms: layers.in_doubt("in_doubt_sms")?,
        },
    };
    if dispatch.lease_duration < std::time::Duration::from_secs(1) {
        // The lease is renewed every third of it while a message is handled; shorter than a
        // second, a database round trip could outlast the renewal.
        return Err(layers.invalid("lease_duration", "must be at least 1s"));
    }
    Ok(dispatch)
}

/// The quiet hours of each channel.
fn quiet_hours(layers: &Layers) -> Result<QuietDefaults, ConfigError> {
    let read = |key: &str| {
        let text = layers.require(key, "")?;
        QuietHours::parse(text).map_err(|e| layers.invalid(key, e.to_string()))
    };
    Ok(QuietDefaults {
        email: read("email_quiet_hours")?,
        sms: read("sms_quiet_hours")?,
    })
}

fn call_hours(layers: &Layers) -> Result<CallingHours, ConfigError> {
    let text = layers.require("call_hours", "")?;
    CallingHours::parse(text).map_err(|e| layers.invalid("call_hours", e.to_string()))
}

/// The shortest admin token accepted: 32 characters (e.g. `openssl rand -hex 16`) cannot be
/// guessed through the bearer limits in any lifetime.
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// The admin tokens and the console's people.
struct Admin {
    token: Option<SecretString>,
    previous: Option<SecretString>,
    users: Vec<AdminUser>,
}

/// The admin token and the console's people, who need it: it signs their sessions.
fn admin(layers: &Layers) -> Result<Admin, ConfigError> {
    let admin_token = layers.secret("admin_token");
    let previous = layers.secret("admin_token_previous");
    for (key, token) in [
        ("admin_token", &admin_token),
        ("admin_token_previous", &previous),
    ] {
        if let Some(token) = token
            && token.expose_secret().chars().count() < MIN_ADMIN_TOKEN_LEN
        {
            return Err(layers.invalid(
                key,
                format!(
                    "must be at least {MIN_ADMIN_TOKEN_LEN} characters (e.g. `openssl rand -hex 32`)"
                ),
            ));
        }
    }
    if previous.is_some() && admin_token.is_none() {
        return Err(layers.invalid(
            "admin_token_previous",
            "needs AMENDS_ADMIN_TOKEN too: it is the token being rotated away from",
        ));
    }
    let admin_users = match layers.get("admin_users") {
        Some(text) => AdminUser::parse_list(text).map_err(|e| layers.invalid("admin_users", e))?,
        None => Vec::new(),
    };
    if !admin_users.is_empty() && admin_token.is_none() {
        return Err(layers.invalid(
            "admin_users",
            "needs AMENDS_ADMIN_TOKEN too: it signs the console's sessions and is the API's bearer token",
        ));
    }
    Ok(Admin {
        token: admin_token,
        previous,
        users: admin_users,
    })
}

/// `trusted_proxies`: comma-separated addresses or networks (`10.0.0.0/8`).
fn trusted_proxies(layers: &Layers) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    let Some(list) = layers.get("trusted_proxies") else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    layers.invalid(
                        "trusted_proxies",
                        format!("{p:?} is not an IP address or network (10.0.0.0/8)"),
                    )
                })
        })
        .collect()
}

/// How many sign-ins and bearer-token requests a client may try.
fn access_limits(layers: &Layers) -> Result<AccessLimits, ConfigError> {
    let limits = AccessLimits {
        sign_in_attempts: layers.positive("sign_in_attempts")?,
        sign_in_refill: layers.duration("sign_in_refill")?,
        bearer_attempts: layers.positive("bearer_attempts")?,
        bearer_refill: layers.duration("bearer_refill")?,
    };
    for (key, refill) in [
        ("sign_in_refill", limits.sign_in_refill),
        ("bearer_refill", limits.bearer_refill),
    ] {
        if refill < std::time::Duration::from_millis(1) {
            return Err(layers.invalid(key, "must be at least 1ms"));
        }
    }
    Ok(limits)
}

/// How long console sessions last: an idle timeout within the lifetime, neither below a minute
/// (the last use is recorded about once a minute).
fn sessions(layers: &Layers) -> Result<SessionConfig, ConfigError> {
    let lifetime = layers.duration("session_lifetime")?;
    let idle_timeout = layers.duration("session_idle_timeout")?;
    let minute = std::time::Duration::from_secs(60);
    if lifetime < minute {
        return Err(layers.invalid("session_lifetime", "must be at least 1m"));
    }
    if idle_timeout < minute {
        return Err(layers.invalid("session_idle_timeout", "must be at least 1m"));
    }
    if idle_timeout > lifetime {
        return Err(layers.invalid(
            "session_idle_timeout",
            "must not be longer than session_lifetime",
        ));
    }
    Ok(SessionConfig {
        lifetime,
        idle_timeout,
    })
}

/// A duration that must not be zero (an interval of nothing would spin).
fn positive_duration(layers: &Layers, key: &str) -> Result<std::time::Duration, ConfigError> {
    let duration = layers.duration(key)?;
    if duration.is_zero() {
        return Err(layers.invalid(key, "must be longer than zero"));
    }
    Ok(duration)
}

/// The watch for orders overdue in silence.
fn overdue(layers: &Layers) -> Result<OverdueConfig, ConfigError> {
    let days = layers.require("overdue_days", "")?;
    let days = days
        .parse::<crate::timing::DayCount>()
        .map_err(|e| layers.invalid("overdue_days", e.to_string()))?;
    Ok(OverdueConfig {
        grace: crate::timing::Grace {
            period: layers.duration("overdue_grace")?,
            days,
        },
        check_interval: positive_duration(layers, "overdue_check_interval")?,
        update_after: positive_duration(layers, "overdue_update_after")?,
        daily_cap: layers.parse("overdue_daily_cap", "a whole number")?,
    })
}

/// How long personal data is kept: a duration of at least a day, or `off`.
fn retention(layers: &Layers) -> Result<Option<std::time::Duration>, ConfigError> {
    if layers.require("retention", "")?.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let keep = layers.duration("retention")?;
    // Shorter would erase messages still waiting to be sent or answered.
    if keep < std::time::Duration::from_secs(86_400) {
        return Err(layers.invalid("retention", "must be at least 1d, or off"));
    }
    Ok(Some(keep))
}

fn log_format(layers: &Layers) -> Result<LogFormat, ConfigError> {
    match layers.require("log_format", "")? {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(layers.invalid("log_format", format!("{other:?} is not text or json"))),
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

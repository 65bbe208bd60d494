//! The configuration's tests: layering, validation, and the built-in defaults.

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
fn the_webhook_listener_is_off_unless_set() {
    let config = Config::from_sources(None, env(&[])).unwrap();
    assert_eq!(config.webhook_bind, None);
    let config =
        Config::from_sources(None, env(&[("AMENDS_WEBHOOK_BIND", "0.0.0.0:8081")])).unwrap();
    assert_eq!(config.webhook_bind, Some("0.0.0.0:8081".parse().unwrap()));
}

#[test]
fn a_bad_webhook_bind_names_the_key() {
    let err = Config::from_sources(None, env(&[("AMENDS_WEBHOOK_BIND", "8081")])).unwrap_err();
    let line = err.to_string();
    assert!(line.starts_with("AMENDS_WEBHOOK_BIND: "), "{line}");
    let err = Config::from_sources(
        None,
        env(&[
            ("AMENDS_HTTP_BIND", "0.0.0.0:8080"),
            ("AMENDS_WEBHOOK_BIND", "0.0.0.0:8080"),
        ]),
    )
    .unwrap_err();
    let line = err.to_string();
    assert!(line.starts_with("AMENDS_WEBHOOK_BIND: "), "{line}");
    assert!(line.contains("its own port"), "{line}");
}

#[test]
fn bad_file_value_names_the_key_and_file() {
    let err =
        Config::from_sources(Some((Path::new("a.toml"), "prefetch = 0\n")), env(&[])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "prefetch (in a.toml): must be greater than zero"
    );
}

#[test]
fn unknown_file_key_is_rejected() {
    let err =
        Config::from_sources(Some((Path::new("a.toml"), "prefetsh = 3\n")), env(&[])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown configuration key `prefetsh` in a.toml (did you mean `prefetch`?)"
    );
}

#[test]
fn a_misspelt_variable_is_ignored_with_a_warning_naming_the_closest_key() {
    let config = Config::from_sources(
        None,
        env(&[
            ("AMENDS_PREFECH", "3"),
            ("AMENDS_NO_SUCH_THING", "x"),
            ("AMENDS_CONFIG", "amends.toml"),
            ("PATH", "/bin"),
        ]),
    )
    .unwrap();
    assert_eq!(config.prefetch, 64, "the misspelt value is not used");
    assert_eq!(
        config.warnings,
        [
            "AMENDS_NO_SUCH_THING is not a configuration variable and is ignored",
            "AMENDS_PREFECH is not a configuration variable and is ignored; did you mean AMENDS_PREFETCH?",
        ]
    );
    let clean = Config::from_sources(None, env(&[("AMENDS_PREFETCH", "3")])).unwrap();
    assert!(clean.warnings.is_empty());
}

#[test]
fn toml_syntax_error_has_a_line() {
    let err =
        Config::from_sources(Some((Path::new("a.toml"), "\nqueue = \n")), env(&[])).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn smtp_needs_url_and_from() {
    let err = Config::from_sources(None, env(&[("AMENDS_EMAIL_TRANSPORT", "smtp")])).unwrap_err();
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
    let err =
        Config::from_sources(None, env(&[("AMENDS_SMS_TRANSPORT", "outbox,twilio")])).unwrap_err();
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
    let err = Config::from_sources(None, env(&[("AMENDS_SMS_TRANSPORT", "pigeon")])).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("AMENDS_SMS_TRANSPORT: unknown transport"),
        "{err}"
    );
}

#[test]
fn previous_webhook_credentials_stand_beside_the_current_ones() {
    let config = Config::from_sources(
        None,
        env(&[
            ("AMENDS_TWILIO_AUTH_TOKEN", "new-token"),
            ("AMENDS_TWILIO_AUTH_TOKEN_PREVIOUS", "old-token"),
            ("AMENDS_POSTMARK_WEBHOOK_USER", "postmark"),
            ("AMENDS_POSTMARK_WEBHOOK_PASSWORD", "new-password"),
            ("AMENDS_POSTMARK_WEBHOOK_PASSWORD_PREVIOUS", "old-password"),
            ("AMENDS_VONAGE_API_SECRET", "api-secret"),
            ("AMENDS_VONAGE_SIGNATURE_SECRET_PREVIOUS", "old-signature"),
        ]),
    )
    .unwrap();
    let hooks = &config.webhooks;
    let tokens: Vec<&str> = hooks
        .twilio_auth_tokens
        .iter()
        .map(|t| t.expose_secret())
        .collect();
    assert_eq!(tokens, ["new-token", "old-token"], "the current one first");
    let postmark: Vec<(&str, &str)> = hooks
        .postmark_basic_auth
        .iter()
        .map(|(user, password)| (user.as_str(), password.expose_secret()))
        .collect();
    assert_eq!(
        postmark,
        [("postmark", "new-password"), ("postmark", "old-password")]
    );
    assert_eq!(hooks.vonage_signature_secrets.len(), 2);
    assert!(hooks.sendgrid_public_keys.is_empty());
    let debug = format!("{config:?}");
    assert!(!debug.contains("old-token") && !debug.contains("old-password"));

    // A previous credential alone is a mistake: it names the key.
    let err = Config::from_sources(
        None,
        env(&[("AMENDS_TWILIO_AUTH_TOKEN_PREVIOUS", "old-token")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("AMENDS_TWILIO_AUTH_TOKEN_PREVIOUS"), "{err}");
    let err = Config::from_sources(
        None,
        env(&[
            ("AMENDS_SENDGRID_WEBHOOK_PUBLIC_KEY", "bm90IGEga2V5"),
            (
                "AMENDS_SENDGRID_WEBHOOK_PUBLIC_KEY_PREVIOUS",
                "bm90IGEga2V5",
            ),
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("AMENDS_SENDGRID_WEBHOOK_PUBLIC_KEY"), "{err}");
}

#[test]
fn admin_users_are_names_with_password_hashes_and_need_the_token() {
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0000000000000000000000000000000000000000000";
    let users = format!("Marta:{hash};\n Luis:{hash}\n");
    let config = Config::from_sources(
        None,
        env(&[
            ("AMENDS_ADMIN_TOKEN", LONG_TOKEN),
            ("AMENDS_ADMIN_USERS", &users),
        ]),
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
            LONG_TOKEN
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
    let err = Config::from_sources(None, env(&[("AMENDS_RETRY_SCHEDULE", "1s,soon")])).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("AMENDS_RETRY_SCHEDULE: \"soon\""),
        "{err}"
    );
}

#[test]
fn sms_settings_parse_and_can_be_switched_off() {
    let defaults = Config::from_sources(None, env(&[])).unwrap();
    assert!(defaults.sms.transliterate.is_empty());
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
fn the_built_in_defaults_given_as_a_file_change_nothing() {
    let path = Path::new("defaults.toml");
    let from_file = Config::from_sources(Some((path, layers::DEFAULTS_TOML)), env(&[])).unwrap();
    let defaults = Config::from_sources(None, env(&[])).unwrap();
    assert_eq!(format!("{from_file:?}"), format!("{defaults:?}"));
}

/// Every key and its default (`None`: none), written out once so that an edit of `defaults.toml`
/// that adds, drops or changes one fails here instead of changing amends unnoticed.
const KNOWN_KEYS: &[(&str, Option<&str>)] = &[
    ("amqp_url", Some("amqp://guest:guest@127.0.0.1:5672/%2f")),
    (
        "database_url",
        Some("postgres://postgres@127.0.0.1:5432/amends"),
    ),
    ("http_bind", Some("127.0.0.1:8080")),
    ("webhook_bind", None),
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
    ("twilio_auth_token_previous", None),
    ("twilio_from", None),
    ("twilio_base_url", Some("https://api.twilio.com")),
    ("sendgrid_api_key", None),
    ("sendgrid_base_url", Some("https://api.sendgrid.com")),
    ("sendgrid_webhook_public_key", None),
    ("sendgrid_webhook_public_key_previous", None),
    ("postmark_server_token", None),
    ("postmark_base_url", Some("https://api.postmarkapp.com")),
    ("postmark_webhook_user", None),
    ("postmark_webhook_password", None),
    ("postmark_webhook_password_previous", None),
    ("vonage_api_key", None),
    ("vonage_api_secret", None),
    ("vonage_from", None),
    ("vonage_base_url", Some("https://rest.nexmo.com")),
    ("vonage_signature_secret", None),
    ("vonage_signature_secret_previous", None),
    ("public_url", None),
    ("admin_token", None),
    ("admin_token_previous", None),
    ("trusted_proxies", None),
    ("session_lifetime", Some("12h")),
    ("session_idle_timeout", Some("30m")),
    ("sign_in_attempts", Some("10")),
    ("sign_in_refill", Some("6s")),
    ("bearer_attempts", Some("60")),
    ("bearer_refill", Some("100ms")),
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
    ("feedback_url", None),
    ("sms_transliterate", None),
    ("sms_max_segments", Some("3")),
    ("orders_exchange", Some("orders")),
    ("queue", Some("amends.order-events")),
    ("dead_letter_queue", Some("amends.order-events.dead")),
    ("events_exchange", Some("amends.events")),
    ("prefetch", Some("64")),
    ("max_redeliveries", Some("5")),
    ("database_max_connections", Some("8")),
    ("dispatch_batch_size", Some("50")),
    ("dispatch_concurrency", Some("64")),
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
    ("outbox_max_in_flight", Some("0")),
    ("smtp_max_in_flight", Some("16")),
    ("sendgrid_max_in_flight", Some("16")),
    ("postmark_max_in_flight", Some("16")),
    ("twilio_max_in_flight", Some("16")),
    ("vonage_max_in_flight", Some("16")),
    ("in_doubt_email", Some("resend")),
    ("in_doubt_sms", Some("unknown")),
    ("overdue_grace", Some("1d")),
    ("overdue_days", Some("calendar")),
    ("overdue_check_interval", Some("5m")),
    ("overdue_update_after", Some("2d")),
    ("overdue_daily_cap", Some("200")),
    ("metrics_refresh_interval", Some("15s")),
    ("retention", Some("400d")),
    ("retention_check_interval", Some("1h")),
    ("otlp_endpoint", None),
    ("sms_quiet_hours", Some("21:00-08:00")),
    ("email_quiet_hours", Some("off")),
    ("call_hours", Some("09:00-18:00")),
    ("log_format", Some("text")),
];

#[test]
fn the_built_in_defaults_parse_into_exactly_the_known_keys() {
    let keys = layers::keys().unwrap();
    let found: Vec<(&str, Option<&str>)> = keys
        .iter()
        .map(|(key, default)| (key.as_str(), default.as_deref()))
        .collect();
    let mut expected = KNOWN_KEYS.to_vec();
    expected.sort();
    assert_eq!(found, expected);
}

/// The rows of `docs/configuration.md`'s key tables: key, environment variable, default, each
/// as written between the pipes.
fn documented_rows(text: &str) -> Vec<[String; 3]> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in text.lines() {
        if line.starts_with("| key |") {
            in_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        let cells: Vec<String> = line.split('|').map(|c| c.trim().to_owned()).collect();
        assert!(cells.len() >= 5, "a row with four columns: {line}");
        rows.push([cells[1].clone(), cells[2].clone(), cells[3].clone()]);
    }
    rows
}

/// A cell without its backticks and quotes, so `` `8` `` and `"8"` compare equal.
fn loosely(cell: &str) -> String {
    cell.replace(['`', '"'], "")
}

#[test]
fn the_configuration_reference_documents_every_key_with_its_variable_and_default() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
    let text = std::fs::read_to_string(path).unwrap();
    let keys = layers::keys().unwrap();
    let mut documented = std::collections::BTreeSet::new();
    for [key, variable, default] in documented_rows(&text) {
        let key = key
            .strip_prefix('`')
            .and_then(|k| k.strip_suffix('`'))
            .unwrap_or_else(|| panic!("a key in backticks: {key}"))
            .to_owned();
        assert!(documented.insert(key.clone()), "{key} is documented twice");
        let Some(expected) = keys.get(&key) else {
            panic!("docs/configuration.md documents {key}, which defaults.toml does not have");
        };
        assert_eq!(
            loosely(&variable),
            format!("{ENV_PREFIX}{}", key.to_uppercase()),
            "the variable of {key}"
        );
        let expected = expected.as_deref().map_or("—".to_owned(), loosely);
        assert_eq!(loosely(&default), expected, "the default of {key}");
    }
    let missing: Vec<&String> = keys.keys().filter(|k| !documented.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:?}"
    );
}

#[test]
fn secrets_are_not_in_debug_output() {
    let config = Config::from_sources(
        None,
        env(&[
            (
                "AMENDS_ADMIN_TOKEN",
                "hunter2-hunter2-hunter2-hunter2-hunter2",
            ),
            ("AMENDS_AMQP_URL", "amqp://u:pw-secret@h/"),
        ]),
    )
    .unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("hunter2"));
    assert!(!debug.contains("pw-secret"));
}

#[test]
fn the_feedback_link_names_the_incident_and_is_a_web_address() {
    let defaults = Config::from_sources(None, env(&[])).unwrap();
    assert_eq!(defaults.feedback_url, None);
    let config = Config::from_sources(
        None,
        env(&[(
            "AMENDS_FEEDBACK_URL",
            "https://shop.example/feedback?incident={incident_id}&q=1",
        )]),
    )
    .unwrap();
    let id = uuid::Uuid::parse_str("0190b1c2-7d3e-7a4f-8b5c-6d7e8f901234").unwrap();
    assert_eq!(
        config.feedback_url.unwrap().for_incident(id),
        "https://shop.example/feedback?incident=0190b1c2-7d3e-7a4f-8b5c-6d7e8f901234&q=1"
    );
    for (bad, why) in [
        (
            "https://shop.example/feedback",
            "AMENDS_FEEDBACK_URL: must contain {incident_id}, where the incident id goes",
        ),
        (
            "ftp://shop.example/{incident_id}",
            "AMENDS_FEEDBACK_URL: must be an http or https URL",
        ),
        (
            "shop.example/{incident_id}",
            "AMENDS_FEEDBACK_URL: is not a valid URL once {incident_id} is filled in",
        ),
    ] {
        let err = Config::from_sources(None, env(&[("AMENDS_FEEDBACK_URL", bad)])).unwrap_err();
        assert!(err.to_string().starts_with(why), "{bad}: {err}");
    }
}

#[test]
fn quiet_and_calling_hours_parse_and_a_bad_one_names_its_key() {
    let config = Config::from_sources(None, env(&[])).unwrap();
    assert_eq!(config.quiet_hours.sms.to_string(), "21:00-08:00");
    assert_eq!(config.quiet_hours.email, crate::timing::QuietHours::Off);
    assert_eq!(config.call_hours.to_string(), "09:00-18:00");
    let config = Config::from_sources(
        None,
        env(&[
            ("AMENDS_SMS_QUIET_HOURS", "off"),
            ("AMENDS_EMAIL_QUIET_HOURS", "22:30-07:00"),
        ]),
    )
    .unwrap();
    assert_eq!(config.quiet_hours.sms, crate::timing::QuietHours::Off);
    assert_eq!(config.quiet_hours.email.to_string(), "22:30-07:00");
    let err = Config::from_sources(None, env(&[("AMENDS_SMS_QUIET_HOURS", "21-8")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "AMENDS_SMS_QUIET_HOURS: \"21-8\" is not off or a window like 21:00-08:00: \"21\" is not a time like 08:00"
    );
    let err = Config::from_sources(
        Some((Path::new("a.toml"), "email_quiet_hours = \"22:00-22:00\"\n")),
        env(&[]),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("email_quiet_hours (in a.toml): \"22:00-22:00\" is not off"),
        "{err}"
    );
    let err = Config::from_sources(None, env(&[("AMENDS_CALL_HOURS", "off")])).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("AMENDS_CALL_HOURS: \"off\" is not a window"),
        "{err}"
    );
}

/// An admin token long enough to be accepted.
const LONG_TOKEN: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn an_admin_token_shorter_than_32_characters_is_refused_naming_it() {
    for (key, extra) in [
        ("AMENDS_ADMIN_TOKEN", None),
        (
            "AMENDS_ADMIN_TOKEN_PREVIOUS",
            Some(("AMENDS_ADMIN_TOKEN", LONG_TOKEN)),
        ),
    ] {
        let mut vars = vec![(key, &LONG_TOKEN[..31])];
        vars.extend(extra);
        let err = Config::from_sources(None, env(&vars))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&format!("{key}: ")), "{err}");
        assert!(err.contains("at least 32 characters"), "{err}");
        assert!(
            !err.contains(&LONG_TOKEN[..31]),
            "the token is not shown: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let config = Config::from_sources(
        None,
        env(&[
            ("AMENDS_ADMIN_TOKEN", LONG_TOKEN),
            (
                "AMENDS_ADMIN_TOKEN_PREVIOUS",
                "fedcba9876543210fedcba9876543210",
            ),
        ]),
    )
    .unwrap();
    assert!(config.admin_token_previous.is_some());
    let err = Config::from_sources(None, env(&[("AMENDS_ADMIN_TOKEN_PREVIOUS", LONG_TOKEN)]))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("AMENDS_ADMIN_TOKEN_PREVIOUS: "), "{err}");
}

#[test]
fn trusted_proxies_and_session_durations_are_checked() {
    let config = Config::from_sources(
        None,
        env(&[("AMENDS_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.10,::1")]),
    )
    .unwrap();
    let proxies: Vec<String> = config
        .trusted_proxies
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(proxies, ["10.0.0.0/8", "192.168.1.10/32", "::1/128"]);
    assert_eq!(config.sessions.lifetime, Duration::from_secs(12 * 3600));
    assert_eq!(config.sessions.idle_timeout, Duration::from_secs(30 * 60));
    for (vars, key) in [
        (
            vec![("AMENDS_TRUSTED_PROXIES", "10.0.0.0/8,nope")],
            "AMENDS_TRUSTED_PROXIES",
        ),
        (
            vec![("AMENDS_SESSION_IDLE_TIMEOUT", "10s")],
            "AMENDS_SESSION_IDLE_TIMEOUT",
        ),
        (
            vec![
                ("AMENDS_SESSION_LIFETIME", "1h"),
                ("AMENDS_SESSION_IDLE_TIMEOUT", "2h"),
            ],
            "AMENDS_SESSION_IDLE_TIMEOUT",
        ),
        (
            vec![("AMENDS_SESSION_LIFETIME", "soon")],
            "AMENDS_SESSION_LIFETIME",
        ),
    ] {
        let err = Config::from_sources(None, env(&vars))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&format!("{key}: ")), "{err}");
    }
}

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
        "unknown configuration key `prefetsh` in a.toml"
    );
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

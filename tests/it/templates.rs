//! `amends templates check` and `amends templates preview`, through the binary.

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::repo;

fn amends(args: &[&str], dir: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_amends"));
    command
        .args(args)
        .env("AMENDS_POLICY", repo("policy/default.toml"))
        .env("AMENDS_TEMPLATES_DIR", repo("templates"));
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command.output().expect("amends runs")
}

fn output_of(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_shipped_templates_pass_the_check_and_report_each_sms() {
    let output = amends(&["templates", "check"], None);
    let text = output_of(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains(": 0 error(s), 0 warning(s)"), "{text}");
    for key in ["order-delayed", "order-stockout", "order-cancelled"] {
        for locale in ["en", "es"] {
            assert!(
                text.contains(&format!("{key} sms {locale}: up to ")),
                "{key} {locale}: {text}"
            );
        }
    }
}

#[test]
fn a_broken_template_fails_the_check_with_its_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("order-delayed");
    std::fs::create_dir(&key).expect("mkdir");
    std::fs::write(
        key.join("sms.en.hbs"),
        "{{store.name}}:\n{{#if delay.new_eta}}{{date delay.new_eta}}{{else}}{{delay.eta}}{{/if}}",
    )
    .expect("write");
    std::fs::write(key.join("sms.es.hbs"), "{{store.name}}: {{#if x}}").expect("write");
    let output = amends(
        &["templates", "check", &dir.path().display().to_string()],
        None,
    );
    let text = output_of(&output);
    assert!(!output.status.success(), "{text}");
    let file = key.join("sms.en.hbs").display().to_string();
    assert!(
        text.contains(&format!("{file}:2:")) && text.contains("unknown variable `delay.eta`"),
        "{text}"
    );
    assert!(
        text.contains(&key.join("sms.es.hbs").display().to_string()),
        "{text}"
    );
    assert!(text.contains("2 error(s)"), "{text}");
}

#[test]
fn preview_writes_the_email_and_prints_the_sms_segments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = amends(
        &[
            "templates",
            "preview",
            "order-delayed",
            "--channel",
            "email",
            "--locale",
            "es-ES",
        ],
        Some(dir.path()),
    );
    let text = output_of(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("locale es (customer es-ES)"), "{text}");
    assert!(text.contains("subject: "), "{text}");
    let html = std::fs::read_to_string(dir.path().join("var/preview/order-delayed.es-ES.html"))
        .expect("html written");
    assert!(html.contains("lang=\"es-ES\""), "{html}");
    let eml = std::fs::read_to_string(dir.path().join("var/preview/order-delayed.es-ES.eml"))
        .expect("eml written");
    let parsed = mailparse::parse_mail(eml.as_bytes()).expect("a valid email");
    assert_eq!(parsed.subparts.len(), 2, "text and HTML parts");

    let output = amends(
        &[
            "templates",
            "preview",
            "order-cancelled",
            "--channel",
            "sms",
            "--locale",
            "en-GB",
        ],
        Some(dir.path()),
    );
    let text = output_of(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("segment(s), GSM-7") || text.contains("segment(s), UCS-2"),
        "{text}"
    );
    assert!(text.contains("--- segment 1/"), "{text}");
    // The default policy gives a VIP cancelled by the store a gift certificate: its code shows.
    assert!(text.contains("rule vip-merchant-cancellation"), "{text}");
}

#[test]
fn preview_of_a_template_without_a_sample_asks_for_an_event() {
    let output = amends(&["templates", "preview", "vip-apology"], None);
    assert!(!output.status.success());
    assert!(
        output_of(&output).contains("give --event EVENT.json"),
        "{}",
        output_of(&output)
    );
}

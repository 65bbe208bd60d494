//! `amends config`: the effective configuration, where each value came from, secrets masked; a
//! misspelt variable named with the key it was meant to be.

const TOKEN: &str = "a-very-secret-admin-token-of-40-characters";

fn amends_config(env: &[(&str, &str)]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_amends"));
    command.arg("config");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("amends runs")
}

#[test]
fn config_shows_each_value_and_its_source_and_never_a_secret() {
    let output = amends_config(&[
        ("AMENDS_ADMIN_TOKEN", TOKEN),
        ("AMENDS_AMQP_URL", "amqp://amends:hunter2@broker:5672/%2f"),
        ("AMENDS_PREFECH", "3"),
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(!text.contains(TOKEN) && !text.contains("hunter2"), "{text}");
    let line = |variable: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{variable} ")))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("AMENDS_ADMIN_TOKEN").contains("********  [environment]"),
        "{text}"
    );
    assert!(
        line("AMENDS_AMQP_URL").contains("amqp://amends:********@broker:5672/%2f  [environment]"),
        "{text}"
    );
    assert!(line("AMENDS_PREFETCH").contains("64  [default]"), "{text}");
    assert!(
        line("AMENDS_RETENTION").contains("400d  [default]"),
        "{text}"
    );
    assert!(
        text.contains(
            "warning: AMENDS_PREFECH is not a configuration variable and is ignored; did you mean AMENDS_PREFETCH?"
        ),
        "{text}"
    );
    assert!(text.contains("the configuration is valid"), "{text}");
}

#[test]
fn config_shows_an_invalid_configuration_and_fails_naming_the_key() {
    let output = amends_config(&[("AMENDS_RETENTION", "2h")]);
    let text = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(text.contains("AMENDS_RETENTION"), "{text}");
    assert!(
        errors.contains("AMENDS_RETENTION: must be at least 1d, or off"),
        "{errors}"
    );
}

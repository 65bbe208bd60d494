//! The console end to end in a real browser: `tests/e2e/console.mjs` (Playwright driving
//! Debian's chromium) against this daemon, publishing events with the `amends` binary.
//!
//! It needs node, `npm ci` in `tests/e2e` and `/usr/bin/chromium`; `.ci/run` installs them. On a
//! machine without them the test says so and passes, unless `CI` is set: there it fails.
//! `AMENDS_E2E_SHOTS=docs/images` saves screenshots of the main pages.

use std::path::Path;
use std::process::Command;

use crate::helpers::{AMQP_URL, repo, spawn_app};

const TOKEN: &str = "browser-test-token-0123456789abcdef";

fn missing_tools() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "{chromium} is not installed (apt-get install chromium)"
        ));
    }
    if !Path::new(&repo("tests/e2e/node_modules/playwright-core")).exists() {
        return Some("playwright-core is not installed (npm ci --prefix tests/e2e)".to_owned());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".to_owned());
    }
    None
}

#[tokio::test]
async fn a_coordinator_edits_publishes_and_rolls_back_a_template_in_the_browser() {
    if let Some(missing) = missing_tools() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser test cannot run in CI: {missing}"
        );
        eprintln!("skipping the browser test: {missing}");
        return;
    }
    let app = spawn_app(&[("AMENDS_ADMIN_TOKEN", TOKEN)]).await;
    let mut command = tokio::process::Command::new("node");
    command
        .arg(repo("tests/e2e/console.mjs"))
        .env("AMENDS_E2E_URL", app.url(""))
        .env("AMENDS_E2E_TOKEN", TOKEN)
        .env("AMENDS_E2E_BIN", env!("CARGO_BIN_EXE_amends"))
        // What `amends publish` needs to reach this test's exchange.
        .env("AMENDS_AMQP_URL", AMQP_URL)
        .env("AMENDS_ORDERS_EXCHANGE", &app.names.exchange)
        .env("AMENDS_DATABASE_URL", app.names.database_url())
        .kill_on_drop(true);
    if let Ok(shots) = std::env::var("AMENDS_E2E_SHOTS") {
        command.env("AMENDS_E2E_SHOTS", repo(&shots));
    }
    let output = tokio::time::timeout(std::time::Duration::from_secs(300), command.output())
        .await
        .expect("the browser test finishes within 5 minutes")
        .expect("node runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("all steps passed"), "{printed}");

    // The messages delivered (the file outbox's .eml) read as the console showed: the shipped
    // heading, then the edited one, then the shipped one again.
    let mut emails: Vec<(std::time::SystemTime, String)> = crate::helpers::files(&app.email_dir())
        .into_iter()
        .map(|path| {
            let raw = std::fs::read(&path).expect("read eml");
            let parsed = mailparse::parse_mail(&raw).expect("an email");
            let html = html_of(&parsed).unwrap_or_default();
            let modified = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .expect("mtime");
            (modified, html)
        })
        .collect();
    emails.sort_by_key(|(modified, _)| *modified);
    let headings: Vec<bool> = emails
        .iter()
        .map(|(_, html)| html.contains("Perdona el retraso de tu pedido"))
        .collect();
    assert_eq!(headings, [false, true, false], "edited heading per email");
    app.stop().await;
}

/// The HTML part of an email, wherever it sits in the MIME tree.
fn html_of(part: &mailparse::ParsedMail<'_>) -> Option<String> {
    if part.ctype.mimetype == "text/html" {
        return part.get_body().ok();
    }
    part.subparts.iter().find_map(html_of)
}

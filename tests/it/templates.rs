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
    for key in [
        "order-delayed",
        "order-stockout",
        "order-cancelled",
        "order-overdue",
        "order-overdue-update",
    ] {
        for locale in ["en", "es", "fr", "de", "pt", "pt-BR"] {
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
fn preview_in_german_reads_german_with_german_formats() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = amends(
        &["templates", "preview", "order-delayed", "--locale", "de-DE"],
        Some(dir.path()),
    );
    let text = output_of(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("locale de (customer de-DE)"), "{text}");
    assert!(
        text.contains("Ihre Bestellung #10042 verspätet sich"),
        "{text}"
    );
    // The sample's new date and the order's total, as a German customer writes them.
    assert!(text.contains("Sonntag, 29. November"), "{text}");
    assert!(text.contains("129,90\u{a0}€"), "{text}");
    let html = std::fs::read_to_string(dir.path().join("var/preview/order-delayed.de-DE.html"))
        .expect("html written");
    assert!(html.contains("lang=\"de-DE\""), "{html}");

    let output = amends(
        &[
            "templates",
            "preview",
            "order-delayed",
            "--channel",
            "sms",
            "--locale",
            "de-DE",
        ],
        Some(dir.path()),
    );
    let text = output_of(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("segment(s), GSM-7"), "{text}");
    assert!(text.contains("Antworten Sie STOP."), "{text}");
}

#[test]
fn an_english_sms_with_typographic_punctuation_is_checked_and_previewed_as_gsm7() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("order-delayed");
    std::fs::create_dir(&key).expect("mkdir");
    // Typed in a word processor: a curly apostrophe, an en dash, an ellipsis.
    std::fs::write(
        key.join("sms.en.hbs"),
        "{{store.name}}: We\u{2019}re sorry \u{2013} your order {{order.number}} is running late\u{2026}",
    )
    .expect("write");
    let output = amends(
        &["templates", "check", &dir.path().display().to_string()],
        None,
    );
    let text = output_of(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("order-delayed sms en: up to 1 segment(s), GSM-7"),
        "{text}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_amends"))
        .args([
            "templates",
            "preview",
            "order-delayed",
            "--channel",
            "sms",
            "--locale",
            "en-GB",
        ])
        .env("AMENDS_POLICY", repo("policy/default.toml"))
        .env("AMENDS_TEMPLATES_DIR", dir.path())
        .current_dir(dir.path())
        .output()
        .expect("amends runs");
    let text = output_of(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 segment(s), GSM-7"), "{text}");
    assert!(
        text.contains("We're sorry - your order #10042 is running late..."),
        "{text}"
    );
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

fn cli(app: &crate::helpers::TestApp, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_amends"))
        .args(args)
        .env("AMENDS_POLICY", repo("policy/default.toml"))
        .env("AMENDS_TEMPLATES_DIR", repo("templates"))
        .env("AMENDS_DATABASE_URL", app.names.database_url())
        .output()
        .expect("amends runs");
    (output.status.success(), output_of(&output))
}

#[tokio::test]
async fn a_published_template_takes_effect_on_every_replica_without_a_restart() {
    let app = crate::helpers::spawn_app(&[]).await;
    let replica = app.spawn_replica(&[]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let edited = dir.path().join("sms.es.hbs");
    std::fs::write(
        &edited,
        "{{store.name}}: EDITADO. Tu pedido {{order.number}} llega con retraso.",
    )
    .expect("write");
    let name = "order-delayed/sms.es.hbs";
    let path = edited.display().to_string();
    let (ok, text) = cli(
        &app,
        &[
            "templates",
            "publish",
            name,
            &path,
            "--author",
            "ana",
            "--note",
            "shorter",
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("version 1 published"), "{text}");

    let sms_only = |e: &mut serde_json::Value| {
        e["data"]["customer"]
            .as_object_mut()
            .expect("customer")
            .remove("email");
    };
    let edited_count =
        "select count(*) from outbox where channel = 'sms' and body_text like '%EDITADO%'";
    // Both replicas were told at once, and each counts the reload it makes.
    for daemon in [&app, &replica] {
        crate::helpers::wait_until("each replica to reload its templates", || async {
            let metrics = daemon.scrape_metrics().await?;
            metrics
                .lines()
                .any(|l| l.starts_with("amends_template_reloads_total 1"))
                .then_some(())
        })
        .await;
    }
    // From then on every message, whichever replica takes it, is the new text.
    for _ in 0..6 {
        app.publish(&crate::helpers::event("order.delayed", sms_only))
            .await;
    }
    app.wait_for_count("select count(*) from outbox where channel = 'sms'", 6)
        .await;
    assert_eq!(app.count(edited_count).await, 6);

    // A text that fails the check is refused, and nothing is stored.
    std::fs::write(
        &edited,
        "{{store.name}}:\n{{#if delay.new_eta}} {{delay.eta}}{{/if}}",
    )
    .expect("write");
    let (ok, text) = cli(&app, &["templates", "publish", name, &path]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("not published") && text.contains("delay.eta"),
        "{text}"
    );
    assert_eq!(app.count("select count(*) from template_edit").await, 1);

    // Rolling back publishes the earlier text again, as a new version; history keeps both.
    let (ok, text) = cli(&app, &["templates", "rollback", name, "1"]);
    assert!(ok, "{text}");
    assert!(text.contains("version 2 published"), "{text}");
    let (ok, text) = cli(&app, &["templates", "history", name]);
    assert!(ok, "{text}");
    assert!(text.contains("version 2    published"), "{text}");
    assert!(text.contains("rollback to version 1"), "{text}");
    assert!(
        text.contains("version 1    retired") && text.contains("by ana: shorter"),
        "{text}"
    );
    // Version 0 is the shipped file.
    let (ok, text) = cli(&app, &["templates", "rollback", name, "0"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("version 3 published (the shipped file)"),
        "{text}"
    );
    let shipped = std::fs::read_to_string(repo("templates/order-delayed/sms.es.hbs")).unwrap();
    let body: String = sqlx::query_scalar(
        "select body from template_edit where name = $1 and status = 'published'",
    )
    .bind(name)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(body, shipped);
    replica.stop().await;
    app.stop().await;
}

#[test]
fn a_test_message_goes_to_the_address_given_marked_as_a_test() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outbox = dir.path().join("outbox");
    let output = Command::new(env!("CARGO_BIN_EXE_amends"))
        .args([
            "templates",
            "send-test",
            "order-delayed",
            "--channel",
            "email",
            "--locale",
            "es-ES",
            "--to",
            "Coordinator@Shop.example",
        ])
        .env("AMENDS_POLICY", repo("policy/default.toml"))
        .env("AMENDS_TEMPLATES_DIR", repo("templates"))
        .env("AMENDS_OUTBOX_DIR", &outbox)
        // No database is needed, or touched: a test is never a customer message.
        .env("AMENDS_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .expect("amends runs");
    let text = output_of(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("sent through outbox"), "{text}");
    let emails: Vec<_> = std::fs::read_dir(outbox.join("email"))
        .expect("email dir")
        .filter_map(|e| e.ok())
        .collect();
    assert_eq!(emails.len(), 1);
    let eml = std::fs::read(emails[0].path()).expect("eml");
    let parsed = mailparse::parse_mail(&eml).expect("a valid email");
    let subject = parsed
        .headers
        .iter()
        .find(|h| h.get_key_ref().eq_ignore_ascii_case("subject"))
        .map(|h| h.get_value())
        .unwrap_or_default();
    assert!(subject.starts_with("[TEST] "), "{subject}");
    let to = parsed
        .headers
        .iter()
        .find(|h| h.get_key_ref().eq_ignore_ascii_case("to"))
        .map(|h| h.get_value())
        .unwrap_or_default();
    assert!(
        to.to_lowercase().contains("coordinator@shop.example"),
        "{to}"
    );
    let html = parsed.subparts[1].get_body().expect("html");
    assert!(
        html.contains("TEST MESSAGE: not sent to any customer"),
        "{html}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_amends"))
        .args([
            "templates",
            "send-test",
            "order-delayed",
            "--channel",
            "sms",
            "--to",
            "not a number",
        ])
        .env("AMENDS_TEMPLATES_DIR", repo("templates"))
        .env("AMENDS_POLICY", repo("policy/default.toml"))
        .env("AMENDS_OUTBOX_DIR", &outbox)
        .output()
        .expect("amends runs");
    assert!(!output.status.success());
    assert!(
        output_of(&output).contains("--to"),
        "{}",
        output_of(&output)
    );
}

/// A copy of the shipped templates with each of `edits` (file name, text) written over it.
fn shipped_copy(edits: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let shipped = Path::new(&repo("templates")).to_path_buf();
    for group in std::fs::read_dir(&shipped).expect("templates") {
        let group = group.expect("entry").path();
        let target = dir.path().join(group.file_name().expect("a name"));
        std::fs::create_dir(&target).expect("mkdir");
        for file in std::fs::read_dir(&group).expect("group") {
            let file = file.expect("entry").path();
            std::fs::copy(&file, target.join(file.file_name().expect("a name"))).expect("copy");
        }
    }
    for (name, text) in edits {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

/// The shipped text of `name` with `line` added as its last line.
fn shipped_plus(name: &str, line: &str) -> String {
    let text = std::fs::read_to_string(repo(&format!("templates/{name}"))).expect("shipped");
    format!("{}\n{line}\n", text.trim_end())
}

#[test]
fn a_partial_that_includes_itself_fails_the_check_instead_of_crashing() {
    let contact = "partials/contact.en.hbs";
    let call = "partials/call.en.hbs";
    let lines = |name: &str| shipped_plus(name, "").lines().count();
    // The line of the shipped `name` that holds `text`, counted from 1.
    let line_of = |name: &str, text: &str| {
        let shipped = std::fs::read_to_string(repo(&format!("templates/{name}"))).expect("shipped");
        shipped
            .lines()
            .position(|l| l.contains(text))
            .expect("the include is there")
            + 1
    };
    let cases = [
        (
            "directly",
            vec![(contact, shipped_plus(contact, "{{> partials/contact}}"))],
            "partials/contact → partials/contact",
            contact,
            lines(contact),
        ),
        (
            "through a second partial",
            vec![(call, shipped_plus(call, "{{> partials/offers}}"))],
            "partials/call → partials/offers → partials/call",
            "partials/offers.en.hbs",
            line_of("partials/offers.en.hbs", "{{> partials/call}}"),
        ),
        (
            "only for gold customers",
            vec![(
                contact,
                shipped_plus(
                    contact,
                    "{{#if (eq customer.tier \"gold\")}}{{> partials/contact}}{{/if}}",
                ),
            )],
            "partials/contact → partials/contact",
            contact,
            lines(contact),
        ),
    ];
    for (how, edits, chain, file, line) in cases {
        let edits: Vec<(&str, &str)> = edits.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let dir = shipped_copy(&edits);
        let output = amends(
            &["templates", "check", &dir.path().display().to_string()],
            None,
        );
        let text = output_of(&output);
        // A stack overflow ends the process by a signal, with no exit code.
        assert_eq!(output.status.code(), Some(1), "{how}: {text}");
        let at = format!("{}:{line}:", dir.path().join(file).display());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&at) && stderr.contains(chain),
            "{how}: {at} {chain} in {stderr}"
        );
        assert!(text.contains("can include itself"), "{how}: {text}");
    }
}

#[test]
fn logging_and_unescaped_values_fail_the_check() {
    let sms = "order-delayed/sms.en.hbs";
    let greeting = "partials/greeting.en.hbs";
    let (sms_text, greeting_text) = (
        shipped_plus(sms, "{{log customer.email}}"),
        shipped_plus(greeting, "<p>{{{customer.first_name}}}</p>"),
    );
    // Text is never HTML: there a value written as it is is what is meant.
    let text = "partials/greeting.en.txt.hbs";
    let text_text = shipped_plus(text, "{{{customer.first_name}}}");
    let dir = shipped_copy(&[
        (sms, sms_text.as_str()),
        (greeting, greeting_text.as_str()),
        (text, text_text.as_str()),
    ]);
    let output = amends(
        &["templates", "check", &dir.path().display().to_string()],
        None,
    );
    let text = output_of(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    // Each on the line added, the last of its file.
    let at = |name: &str, body: &str| {
        format!(
            "{}:{}:",
            dir.path().join(name).display(),
            body.lines().count()
        )
    };
    let line_of = |at: String| {
        text.lines()
            .filter(|l| l.starts_with(&at))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        line_of(at(sms, &sms_text)).contains(
            "error: `{{log customer.email}}` would write customer data to the logs unmasked"
        ),
        "{text}"
    );
    assert!(
        line_of(at(greeting, &greeting_text)).contains(
            "error: `{{{customer.first_name}}}` writes its value without HTML escaping; use `{{customer.first_name}}`"
        ),
        "{text}"
    );
    // The third: templates are never given contacts, so `customer.email` is unknown too.
    assert!(
        text.contains("unknown variable `customer.email`") && text.contains(": 3 error(s)"),
        "{text}"
    );
}

/// The stdout lines of a running daemon (its logs), as they come.
fn collect_lines(
    stdout: tokio::process::ChildStdout,
) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    use tokio::io::AsyncBufReadExt;
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = lines.clone();
    tokio::spawn(async move {
        let mut reader = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            sink.lock().expect("lines").push(line);
        }
    });
    lines
}

/// The first log line (JSON) whose message is `message`.
async fn logged(lines: &std::sync::Mutex<Vec<String>>, message: &str) -> serde_json::Value {
    crate::helpers::wait_until(&format!("the log line {message:?}"), || async {
        lines
            .lock()
            .expect("lines")
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["message"] == message)
    })
    .await
}

#[tokio::test]
async fn a_cyclic_partial_published_behind_the_checks_back_is_refused_by_the_reloader() {
    use crate::helpers::{Names, declare, event, wait_until};

    let names = Names::new();
    let outbox = tempfile::tempdir().expect("temp dir");
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_amends"))
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("AMENDS_LOG_FORMAT", "json")
        .envs(names.env(outbox.path()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("amends starts");
    let lines = collect_lines(daemon.stdout.take().expect("stdout"));
    let running = logged(&lines, "amends running").await;
    let base = format!("http://{}", running["http"].as_str().expect("address"));
    let pool = sqlx::PgPool::connect(&names.database_url())
        .await
        .expect("database");
    let connection = crate::helpers::connect().await.expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(Default::default())
        .await
        .expect("confirms");
    declare(&connection, &names).await;
    let sent = |n: i64| {
        let pool = pool.clone();
        async move {
            wait_until(&format!("{n} messages sent"), || async {
                let count: i64 = sqlx::query_scalar(
                    "select count(*) from outbox where status = 'sent' and channel = 'email'",
                )
                .fetch_one(&pool)
                .await
                .ok()?;
                (count >= n).then_some(())
            })
            .await;
            let version: Option<String> = sqlx::query_scalar(
                "select template_version from outbox where status = 'sent' and channel = 'email' \
                 order by created_at desc limit 1",
            )
            .fetch_one(&pool)
            .await
            .expect("the latest message");
            version.expect("a template version")
        }
    };
    let publish = || async {
        let e = event("order.delayed", |e| {
            e["data"]["customer"]["locale"] = "en-GB".into();
        });
        amends::broker::publish_confirmed(
            &channel,
            &names.exchange,
            "order.delayed",
            &serde_json::to_vec(&e).expect("json"),
            lapin::BasicProperties::default().with_content_type("application/json".into()),
        )
        .await
        .expect("publish");
    };
    publish().await;
    let in_force = sent(1).await;

    // Straight into the table, as no check would let it: the partial includes itself for gold
    // customers. Then the notification every publish sends.
    let name = "partials/contact.en.hbs";
    let body = shipped_plus(
        name,
        "{{#if (eq customer.tier \"gold\")}}{{> partials/contact}}{{/if}}",
    );
    sqlx::query(
        "insert into template_edit (name, version, body, status, author, published_at) \
         values ($1, 1, $2, 'published', 'nobody', now())",
    )
    .bind(name)
    .bind(&body)
    .execute(&pool)
    .await
    .expect("insert");
    sqlx::query("select pg_notify('amends_templates', $1)")
        .bind(name)
        .execute(&pool)
        .await
        .expect("notify");

    let refused = logged(
        &lines,
        "published templates rejected; the ones in force stay",
    )
    .await;
    let problem = refused["problem"].as_str().unwrap_or_default();
    assert!(
        problem.contains("partials/contact → partials/contact")
            && problem.contains(&format!("{name} (version 1):{}", body.lines().count())),
        "{refused}"
    );
    assert_eq!(refused["level"], "ERROR");

    // Still running, still answering, still sending with the texts in force.
    let http = crate::helpers::http_client();
    let health = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert!(health.status().is_success());
    publish().await;
    assert_eq!(sent(2).await, in_force);
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|l| l == "amends_template_reloads_total 0"),
        "{metrics}"
    );
    assert!(
        daemon.try_wait().expect("status").is_none(),
        "the daemon ended"
    );

    daemon.start_kill().expect("kill");
    let _ = daemon.wait().await;
    pool.close().await;
    let _ = connection.close(200, "done".into()).await;
    names.clean_up().await;
}

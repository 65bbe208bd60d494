//! Hostile input against the real daemon: amounts past any arithmetic, absurd quantities, dates
//! and strings, huge and deeply nested bodies. Each event is dead-lettered with its own reason
//! or processed as it should be; none crashes or jams a consumer, and the daemon goes on.

use std::process::Stdio;
use std::time::Duration;

use lapin::options::BasicGetOptions;
use serde_json::{Value, json};

use crate::helpers::{Names, TestApp, event, spawn_app, wait_until};

/// What must become of one hostile event.
enum Expect {
    /// Dead-lettered, with a reason containing this text.
    Dead(String),
    /// Recorded, with a message queued for the customer.
    Processed,
}

struct Case {
    /// The hostile value, for the table.
    value: String,
    routing_key: String,
    body: Vec<u8>,
    /// The CloudEvents id, for a body that has one.
    id: Option<String>,
    expect: Expect,
}

fn dead(reason: &str) -> Expect {
    Expect::Dead(reason.to_owned())
}

fn case(value: &str, event: Value, expect: Expect) -> Case {
    Case {
        value: value.to_owned(),
        routing_key: event["type"].as_str().unwrap_or("order.delayed").to_owned(),
        id: event["id"].as_str().map(str::to_owned),
        body: serde_json::to_vec(&event).unwrap(),
        expect,
    }
}

/// The sample delay: a VIP five days late, who gets a percent_off offer (rule vip-delay-long).
fn delayed(edit: impl FnOnce(&mut Value)) -> Value {
    event("order.delayed", edit)
}

/// A case whose body is `event` serialized, then edited as text (for what JSON values cannot
/// hold, such as an integer past u64).
fn raw_case(
    value: &str,
    event: Value,
    edit: impl FnOnce(String) -> String,
    expect: Expect,
) -> Case {
    let mut case = case(value, event, expect);
    case.body = edit(String::from_utf8(case.body).unwrap()).into_bytes();
    case
}

fn cases() -> Vec<Case> {
    let huge = "79228162514264337593543950335";
    let line = json!({"sku": "SKU-1", "name": "Trail shoe", "quantity": 1});
    let padded = delayed(|e| e["data"]["padding"] = json!("x".repeat(10 * 1024 * 1024)));
    let padded_len = serde_json::to_vec(&padded).unwrap().len();
    vec![
        case(
            &format!("order.total {huge} (VIP, percent_off)"),
            delayed(|e| e["data"]["order"]["total"] = json!(huge)),
            dead(&format!(
                r#"data.order.total: "{huge}" is too large (at most 10000000000000.00)"#
            )),
        ),
        case(
            "order.total 10000000000000.00 (the bound, VIP)",
            delayed(|e| e["data"]["order"]["total"] = json!("10000000000000.00")),
            Expect::Processed,
        ),
        case(
            "order.total 0.0000000000000000000000000001",
            delayed(|e| e["data"]["order"]["total"] = json!("0.0000000000000000000000000001")),
            dead(
                r#"data.order.total: "0.0000000000000000000000000001" has more decimal places than EUR allows (2)"#,
            ),
        ),
        case(
            "order.total 1.5e3",
            delayed(|e| e["data"]["order"]["total"] = json!("1.5e3")),
            dead(r#"data.order.total: "1.5e3" is not a decimal amount"#),
        ),
        case(
            "order.total -0.00",
            delayed(|e| e["data"]["order"]["total"] = json!("-0.00")),
            Expect::Processed,
        ),
        case(
            "order.total -5.00",
            delayed(|e| e["data"]["order"]["total"] = json!("-5.00")),
            dead(r#"data.order.total: "-5.00" must not be negative"#),
        ),
        case(
            "order.total 10000000000000 JPY",
            delayed(|e| {
                e["data"]["order"]["currency"] = json!("JPY");
                e["data"]["order"]["total"] = json!("10000000000000");
                e["data"]["order"]["items"][0]["unit_price"] = json!("10000000000000");
            }),
            Expect::Processed,
        ),
        case(
            "order.total 1500000000.00 IDR",
            delayed(|e| {
                e["data"]["order"]["currency"] = json!("IDR");
                e["data"]["order"]["total"] = json!("1500000000.00");
                e["data"]["order"]["items"][0]["unit_price"] = json!("1500000000.00");
            }),
            Expect::Processed,
        ),
        case(
            "unit_price 99999999999999999999.99",
            delayed(|e| {
                e["data"]["order"]["items"][0]["unit_price"] = json!("99999999999999999999.99")
            }),
            dead(
                r#"data.order.items[0].unit_price: "99999999999999999999.99" is too large (at most 10000000000000.00)"#,
            ),
        ),
        case(
            "quantity 1e30",
            delayed(|e| e["data"]["order"]["items"][0]["quantity"] = json!(1e30)),
            dead("data.order.items[0].quantity: 1e+30 is too large (at most 1000000)"),
        ),
        raw_case(
            "quantity 18446744073709551616",
            delayed(|e| e["data"]["order"]["items"][0]["quantity"] = json!(424242)),
            |body| body.replace("424242", "18446744073709551616"),
            dead(
                "data.order.items[0].quantity: 1.8446744073709552e+19 is too large (at most 1000000)",
            ),
        ),
        case(
            "quantity -3",
            delayed(|e| e["data"]["order"]["items"][0]["quantity"] = json!(-3)),
            dead("data.order.items[0].quantity: expected a positive integer"),
        ),
        case(
            "quantity 2.5",
            delayed(|e| e["data"]["order"]["items"][0]["quantity"] = json!(2.5)),
            dead("data.order.items[0].quantity: expected a positive integer"),
        ),
        case(
            "order.items []",
            delayed(|e| e["data"]["order"]["items"] = json!([])),
            Expect::Processed,
        ),
        case(
            "order.items × 5000",
            delayed(|e| e["data"]["order"]["items"] = json!(vec![line.clone(); 5000])),
            dead("data.order.items: must have at most 1000 entries, not 5000"),
        ),
        case(
            "refund 200.00 on an order of 129.90",
            event("order.cancelled", |e| {
                e["data"]["cancellation"]["refund"]["amount"] = json!("200.00")
            }),
            dead("data.cancellation.refund.amount: 200.00 exceeds the order total 129.90"),
        ),
        case(
            "refund 9000000000000.00 (more than any budget)",
            event("order.cancelled", |e| {
                e["data"]["order"]["total"] = json!("9000000000000.00");
                e["data"]["cancellation"]["refund"]["amount"] = json!("9000000000000.00");
            }),
            Expect::Processed,
        ),
        case(
            &format!("substitute price {huge}"),
            event("order.stockout", |e| {
                e["data"]["stockout"]["substitutes"][0]["price"] = json!(huge)
            }),
            dead(&format!(
                r#"data.stockout.substitutes[0].price: "{huge}" is too large (at most 10000000000000.00)"#
            )),
        ),
        case(
            "new_eta 9999-12-31",
            delayed(|e| e["data"]["delay"]["new_eta"] = json!("9999-12-31")),
            dead(r#"data.delay.new_eta: "9999-12-31" is not in the years 2000 to 2199"#),
        ),
        case(
            "original_eta 0001-01-01",
            delayed(|e| e["data"]["delay"]["original_eta"] = json!("0001-01-01")),
            dead(r#"data.delay.original_eta: "0001-01-01" is not in the years 2000 to 2199"#),
        ),
        case(
            "time 0001-01-01T00:00:00Z",
            delayed(|e| e["time"] = json!("0001-01-01T00:00:00Z")),
            dead(r#"time: "0001-01-01T00:00:00Z" is not in the years 2000 to 2199"#),
        ),
        case(
            "time 2016-12-31T23:59:60Z (a leap second)",
            delayed(|e| e["time"] = json!("2016-12-31T23:59:60Z")),
            Expect::Processed,
        ),
        case(
            "timezone Mars/Olympus",
            delayed(|e| e["data"]["customer"]["timezone"] = json!("Mars/Olympus")),
            dead(r#"data.customer.timezone: "Mars/Olympus" is not an IANA time zone name"#),
        ),
        case(
            "locale tlh-Qo'noS!",
            delayed(|e| e["data"]["customer"]["locale"] = json!("tlh-Qo'noS!")),
            dead(r#"data.customer.locale: "tlh-Qo'noS!" is not a BCP 47 language tag"#),
        ),
        case(
            "locale of 300 characters",
            delayed(|e| e["data"]["customer"]["locale"] = json!(format!("en-{}", "x".repeat(297)))),
            dead("is too long for a language tag (at most 100 characters)"),
        ),
        case(
            "order.id of 10000 characters",
            delayed(|e| e["data"]["order"]["id"] = json!("A".repeat(10_000))),
            dead("data.order.id: must be at most 200 characters"),
        ),
        case(
            "first_name of 100000 characters",
            delayed(|e| e["data"]["customer"]["first_name"] = json!("Ana ".repeat(25_000))),
            dead("data.customer.first_name: must be at most 200 characters"),
        ),
        case(
            "tracking_url of 5000 characters",
            delayed(|e| {
                e["data"]["delay"]["tracking_url"] =
                    json!(format!("https://carrier.example/{}", "t".repeat(5000)))
            }),
            dead("data.delay.tracking_url: must be at most 2048 characters"),
        ),
        case(
            "first_name \"Ana 😀\u{202e}\" (emoji, bidi override)",
            delayed(|e| e["data"]["customer"]["first_name"] = json!("Ana 😀\u{202e}")),
            Expect::Processed,
        ),
        raw_case(
            "data nested 10000 levels deep",
            delayed(|_| {}),
            |body| {
                let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
                body.replacen(r#""data":{"#, &format!(r#""data":{{"deep":{deep},"#), 1)
            },
            dead("body is not valid JSON: recursion limit exceeded"),
        ),
        case(
            "a body of 10 MB",
            padded,
            dead(&format!(
                "body is {padded_len} bytes, more than the 1048576 an event may have"
            )),
        ),
    ]
}

/// The outbox messages of the event with CloudEvents id `id`.
async fn messages_of(app: &TestApp, id: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from outbox o join incident i using (incident_id) where i.event_id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .expect("count")
}

#[tokio::test]
async fn hostile_values_are_dead_lettered_with_their_reason_or_processed() {
    let app = spawn_app(&[]).await;
    let cases = cases();
    assert!(cases.len() > 21);
    for case in &cases {
        app.publish_raw(
            &case.routing_key,
            &case.body,
            Some("application/cloudevents+json"),
        )
        .await;
    }
    let expected_dead = cases
        .iter()
        .filter(|c| matches!(c.expect, Expect::Dead(_)))
        .count();
    let dead = app.dead_letters(expected_dead).await;

    let mut table = Vec::new();
    for case in &cases {
        match &case.expect {
            Expect::Dead(expected) => {
                let (_, reason, _) = dead
                    .iter()
                    .find(|(body, _, _)| *body == case.body)
                    .unwrap_or_else(|| panic!("{} was not dead-lettered", case.value));
                assert!(
                    reason.contains(expected.as_str()),
                    "{}: reason {reason:?} should contain {expected:?}",
                    case.value
                );
                table.push((case.value.clone(), format!("dead-lettered: {reason}")));
            }
            Expect::Processed => {
                let id = case.id.as_deref().expect("a processed case has an id");
                wait_until(&format!("a message for {}", case.value), || async {
                    (messages_of(&app, id).await >= 1).then_some(())
                })
                .await;
                table.push((case.value.clone(), "processed: message queued".to_owned()));
            }
        }
    }
    // Processed correctly, not just processed: 15 % of the largest total is capped at 30.00.
    let at_bound = cases
        .iter()
        .find(|c| c.value.starts_with("order.total 10000000000000.00"))
        .and_then(|c| c.id.clone())
        .unwrap();
    let issued: Vec<String> = sqlx::query_scalar(
        "select c.kind || ' ' || c.cost::text from compensation c join incident i using (incident_id)
         where i.event_id = $1 and c.status = 'issued'",
    )
    .bind(&at_bound)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(issued, ["percent_off 30.0000"]);

    for (_, reason, _) in &dead {
        assert!(!reason.contains('\n'), "one line: {reason}");
        for sign in ["panic", "internal", "overflow"] {
            assert!(
                !reason.to_lowercase().contains(sign),
                "a reason reads like a crash: {reason}"
            );
        }
    }

    // Still alive and consuming: an ordinary event after all of them is delivered.
    let normal = event("order.delayed", |_| {});
    app.publish(&normal).await;
    let id = normal["id"].as_str().unwrap().to_owned();
    wait_until("the ordinary event to be sent", || async {
        let sent: i64 = sqlx::query_scalar(
            "select count(*) from outbox o join incident i using (incident_id)
             where i.event_id = $1 and o.status = 'sent'",
        )
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .ok()?;
        (sent >= 1).then_some(())
    })
    .await;
    table.push((
        "an ordinary event afterwards".to_owned(),
        "processed: sent".to_owned(),
    ));

    // Nothing else was dead-lettered (a processed event among them, say).
    let connection = crate::helpers::connect().await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let extra = channel
        .basic_get(
            app.names.dead.as_str().into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .unwrap();
    assert!(extra.is_none(), "an unexpected dead letter");
    let _ = connection.close(200, "done".into()).await;

    let width = table
        .iter()
        .map(|(v, _)| v.chars().count())
        .max()
        .unwrap_or(0);
    println!("{:<width$}  outcome", "value");
    for (value, outcome) in &table {
        let outcome: String = outcome.chars().take(140).collect();
        println!("{value:<width$}  {outcome}");
    }
    app.stop().await;
}

/// `amends policy explain` with these files; returns whether it succeeded, and its stderr.
async fn explain(event: &Value, history: Option<&Value>) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let event_path = dir.path().join("event.json");
    std::fs::write(&event_path, serde_json::to_vec(event).unwrap()).unwrap();
    let names = Names::new();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_amends"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(names.env(dir.path()))
        .args(["policy", "explain"])
        .arg(&event_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(history) = history {
        let path = dir.path().join("history.json");
        std::fs::write(&path, serde_json::to_vec(history).unwrap()).unwrap();
        command.arg("--customer-history").arg(path);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("explain finishes")
        .expect("explain runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn policy_explain_reports_what_cannot_be_computed_as_an_error() {
    let huge = "79228162514264337593543950335";
    let (ok, stderr) = explain(
        &delayed(|e| e["data"]["order"]["total"] = json!(huge)),
        None,
    )
    .await;
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(&format!(
            r#"is not a valid order event: data.order.total: "{huge}" is too large"#
        )),
        "{stderr}"
    );

    // What the order already received is too large to add up: the event cannot be decided.
    let prior = json!({"type": "order.delayed", "at": "2026-01-01T00:00:00Z", "given": huge});
    let (ok, stderr) = explain(
        &delayed(|_| {}),
        Some(&json!({"order_incidents": [prior, prior]})),
    )
    .await;
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("cannot be decided: history.order_incidents.given: "),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // A customer who received more than any cap: over budget, explained, no error.
    let (ok, stderr) = explain(
        &delayed(|_| {}),
        Some(&json!({"compensation": huge, "budget_spent_today": huge})),
    )
    .await;
    assert!(ok, "{stderr}");
}

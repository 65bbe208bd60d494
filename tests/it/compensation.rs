//! Offers, budgets, coalescing, codes, escalations and policy reload, against the real
//! PostgreSQL and RabbitMQ.

use std::path::Path;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::helpers::{TestApp, event, repo, spawn_app, wait_until};

/// A policy that gives everyone a 10.00 EUR gift certificate, within the given budgets.
fn gift_policy(daily: &str, per_customer: &str) -> String {
    format!(
        r#"
[budget]
daily = {{ EUR = "{daily}" }}
per_customer = {{ EUR = "{per_customer}" }}

[[rule]]
name = "gift"
template = "order-delayed"
channels = ["email"]
offers = [{{ kind = "gift_certificate", amount = "10.00" }}]
"#
    )
}

/// Starts a daemon whose policy is `text`, written to a file the test may rewrite.
async fn with_policy(text: &str, extra: &[(&str, &str)]) -> (TestApp, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, text).expect("write policy");
    let path = path.display().to_string();
    let mut env = vec![
        ("AMENDS_POLICY", path.as_str()),
        ("AMENDS_POLICY_RELOAD_INTERVAL", "50ms"),
    ];
    env.extend_from_slice(extra);
    let app = spawn_app(&env).await;
    (app, dir, path)
}

async fn decisions(app: &TestApp) -> i64 {
    app.count("select count(*) from decision").await
}

async fn wait_for_decisions(app: &TestApp, n: i64) {
    wait_until(&format!("{n} decisions"), || async {
        (decisions(app).await >= n).then_some(())
    })
    .await
}

/// The decision for the event with CloudEvents id `id`, once recorded.
async fn decision_of(app: &TestApp, id: &Value) -> Value {
    let id = id.as_str().expect("event id").to_owned();
    wait_until(&format!("the decision of {id}"), || async {
        sqlx::query_scalar::<_, Value>(
            "select jsonb_build_object('rule', d.rule, 'coalesced', d.coalesced,
                    'policy_version', d.policy_version, 'explanation', d.explanation,
                    'escalated', d.escalated, 'incident_id', d.incident_id)
             from decision d join incident i using (incident_id) where i.event_id = $1",
        )
        .bind(&id)
        .fetch_optional(&app.pool)
        .await
        .expect("decision query")
    })
    .await
}

async fn ledger(app: &TestApp) -> Vec<(String, String, Option<String>, Decimal, Option<String>)> {
    sqlx::query_as("select kind, status, code, cost, reason from compensation order by created_at")
        .fetch_all(&app.pool)
        .await
        .expect("ledger")
}

#[tokio::test]
async fn concurrent_consumers_and_replicas_never_overspend_the_daily_budget() {
    // 50.00 a day, 10.00 an event: five can be given, whatever the concurrency.
    let (app, _dir, path) = with_policy(&gift_policy("50.00", "1000.00"), &[]).await;
    let replica = app.spawn_replica(&[("AMENDS_POLICY", path.as_str())]).await;
    let events: Vec<Value> = (0..24).map(|_| event("order.delayed", |_| {})).collect();
    for e in &events {
        app.publish(e).await;
    }
    wait_for_decisions(&app, 24).await;

    let rows = ledger(&app).await;
    let issued: Vec<_> = rows.iter().filter(|r| r.1 == "issued").collect();
    let declined: Vec<_> = rows.iter().filter(|r| r.1 == "declined").collect();
    assert_eq!(issued.len(), 5, "{rows:?}");
    assert_eq!(declined.len(), 19, "{rows:?}");
    let total: Decimal = issued.iter().map(|r| r.3).sum();
    assert_eq!(total, Decimal::new(5000, 2));
    for row in &declined {
        let reason = row.4.as_deref().unwrap_or_default();
        assert!(
            reason.contains("over the daily budget of 50.00 EUR"),
            "{reason}"
        );
    }
    let spent: Decimal = sqlx::query_scalar("select spent from budget_day")
        .fetch_one(&app.pool)
        .await
        .expect("budget row");
    assert_eq!(spent, Decimal::new(5000, 2));
    // Everyone still got their apology.
    app.wait_for_count("select count(*) from outbox", 24).await;
    let with_codes = app
        .count("select count(*) from outbox where body_text like '%Tu código: SORRY-%'")
        .await;
    assert_eq!(with_codes, 5);
    replica.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn the_per_customer_cap_holds_across_orders_and_falls_back() {
    let policy = gift_policy("1000.00", "25.00").replace(
        "offers = [{ kind = \"gift_certificate\", amount = \"10.00\" }]",
        "offers = [{ kind = \"gift_certificate\", amount = \"10.00\" }]\nfallback = { offers = [{ kind = \"amount_off\", amount = \"5.00\" }] }",
    );
    let (app, _dir, _) = with_policy(&policy, &[]).await;
    // Four incidents of one customer on four orders, at once: 10 + 10 + 5 fit 25.00, then
    // nothing does.
    for n in 0..4 {
        app.publish(&event("order.delayed", |e| {
            e["data"]["customer"]["id"] = "C-cap".into();
            e["data"]["order"]["id"] = format!("A-cap-{n}").into();
        }))
        .await;
    }
    wait_for_decisions(&app, 4).await;
    let rows = ledger(&app).await;
    let count =
        |kind: &str, status: &str| rows.iter().filter(|r| r.0 == kind && r.1 == status).count();
    // The customer's incidents queue on their lock, in whatever order: two get the gift, the
    // third the smaller fallback, the fourth only the apology.
    assert_eq!(count("gift_certificate", "issued"), 2, "{rows:?}");
    assert_eq!(count("amount_off", "issued"), 1, "{rows:?}");
    assert_eq!(count("gift_certificate", "declined"), 2, "{rows:?}");
    assert_eq!(count("amount_off", "declined"), 1, "{rows:?}");
    let given: Decimal = rows.iter().filter(|r| r.1 == "issued").map(|r| r.3).sum();
    assert_eq!(given, Decimal::new(2500, 2), "exactly the cap");
    let fallback = rows
        .iter()
        .find(|r| r.0 == "amount_off" && r.1 == "issued")
        .expect("fallback");
    assert!(
        fallback
            .4
            .as_deref()
            .unwrap_or_default()
            .starts_with("fallback: over the per-customer cap"),
        "{fallback:?}"
    );
    assert!(
        rows.iter().filter(|r| r.1 == "declined").all(|r| r
            .4
            .as_deref()
            .unwrap_or_default()
            .contains("per-customer cap of 25.00 EUR")),
        "{rows:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn one_apology_per_order_and_a_cancellation_upgrades_accounting_for_what_was_given() {
    let app = spawn_app(&[]).await;
    let order = |e: &mut Value| {
        e["data"]["order"]["id"] = "A-coalesce".into();
        e["data"]["customer"]["id"] = "C-coalesce".into();
    };
    // The sample delay: a VIP, five days late: 15% off, 19.49 of 129.90.
    let first = event("order.delayed", order);
    app.publish(&first).await;
    assert_eq!(
        decision_of(&app, &first["id"]).await["rule"],
        "vip-delay-long"
    );

    // Late again the same day, with the date already told: coalesced, nothing sent, nothing
    // given.
    let again = event("order.delayed", order);
    app.publish(&again).await;
    let decision = decision_of(&app, &again["id"]).await;
    assert!(
        decision["coalesced"]
            .as_str()
            .unwrap_or_default()
            .starts_with("coalesced"),
        "{decision}"
    );

    // Then cancelled by us: the cancellation message goes out, and the VIP gift certificate
    // (25.00) is topped up rather than repeated: 25.00 - 19.49.
    let cancelled = event("order.cancelled", order);
    app.publish(&cancelled).await;
    let decision = decision_of(&app, &cancelled["id"]).await;
    assert_eq!(decision["rule"], "vip-merchant-cancellation");
    assert!(decision["coalesced"].is_null());
    let frequency = decision["explanation"]["frequency"]
        .as_str()
        .unwrap_or_default();
    assert!(frequency.contains("upgrades"), "{frequency}");
    let offers = &decision["explanation"]["offers"];
    assert!(
        offers.to_string().contains("reduced to 5.51 EUR"),
        "{offers}"
    );

    let rows = ledger(&app).await;
    let issued: Vec<(String, Decimal)> = rows.iter().map(|r| (r.0.clone(), r.3)).collect();
    assert_eq!(
        issued,
        vec![
            ("percent_off".to_owned(), Decimal::new(1949, 2)),
            ("gift_certificate".to_owned(), Decimal::new(551, 2)),
        ]
    );
    // Four messages: the delay and the cancellation, each by SMS and email (a VIP's worst
    // harm); none for the coalesced one.
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 4)
        .await;
    assert_eq!(
        app.count("select count(*) from outbox where status not in ('standby', 'cancelled')")
            .await,
        4
    );
    app.stop().await;
}

#[tokio::test]
async fn codes_and_escalations_are_recorded_and_announced() {
    let app = spawn_app(&[]).await;
    let listener = app.listen_to_outcome_events().await;
    // The sample cancellation: a VIP whose order we cancelled.
    let e = event("order.cancelled", |_| {});
    app.publish(&e).await;
    let decision = decision_of(&app, &e["id"]).await;
    assert_eq!(decision["escalated"], true);

    // compensation.issued, escalation.requested and notification.sent for the SMS and the
    // email, in any order.
    let events: Vec<Value> = app
        .take(&listener, 4)
        .await
        .iter()
        .map(|(body, _)| serde_json::from_slice(body).expect("JSON event"))
        .collect();
    let of_type = |t: &str| {
        events
            .iter()
            .find(|v| v["type"] == t)
            .unwrap_or_else(|| panic!("no {t} in {events:?}"))
            .clone()
    };
    let issued = of_type("compensation.issued");
    let data = &issued["data"];
    assert_eq!(data["kind"], "gift_certificate");
    assert_eq!(data["amount"], "25.00");
    assert_eq!(data["currency"], "EUR");
    assert_eq!(data["incident"]["id"], e["id"]);
    assert_eq!(data["order_id"], e["data"]["order"]["id"]);
    let code = data["code"].as_str().expect("code");
    assert_eq!(issued["subject"], code);
    let random = code.strip_prefix("SORRY-").expect("prefix");
    assert_eq!(random.len(), 8);
    assert!(
        random
            .bytes()
            .all(|b| amends::policy::ALPHABET.contains(&b)),
        "{code}"
    );
    assert!(data["expires_at"].is_string());
    let stored: String =
        sqlx::query_scalar("select code from compensation where status = 'issued'")
            .fetch_one(&app.pool)
            .await
            .expect("ledger row");
    assert_eq!(stored, code);
    // The code reached the customer: the SMS names it.
    let sms = app.wait_for_files(&app.sms_dir(), 1).await;
    let sms: Value =
        serde_json::from_str(&std::fs::read_to_string(&sms[0]).expect("sms")).expect("json");
    assert!(
        sms["body"].as_str().unwrap_or_default().contains(code),
        "{sms}"
    );

    let escalation = of_type("escalation.requested");
    assert_eq!(
        escalation["data"]["reason"],
        "VIP order cancelled by us: call the customer personally"
    );
    assert_eq!(
        app.count("select count(*) from escalation where status = 'open'")
            .await,
        1
    );
    assert!(
        !serde_json::to_string(&events)
            .unwrap_or_default()
            .contains("ana@example.com")
    );

    // The database refuses a second use of the code, by the constraint the recorder retries on.
    let duplicate = sqlx::query(
        "insert into compensation (compensation_id, incident_id, customer_id, order_id, rule, kind,
                                   status, code, currency)
         select gen_random_uuid(), incident_id, 'C-x', 'A-x', 'r', 'amount_off', 'issued', $1, 'EUR'
         from incident limit 1",
    )
    .bind(code)
    .execute(&app.pool)
    .await
    .expect_err("duplicate code");
    assert!(amends::store::StoreError::from(duplicate).is_code_taken());
    app.stop().await;
}

#[tokio::test]
async fn a_changed_policy_takes_effect_and_a_broken_one_is_refused() {
    let v1 = gift_policy("100.00", "100.00");
    let (app, dir, _) = with_policy(&v1, &[]).await;
    let path = dir.path().join("policy.toml");
    let first = event("order.delayed", |_| {});
    app.publish(&first).await;
    let decision = decision_of(&app, &first["id"]).await;
    assert_eq!(decision["rule"], "gift");
    assert_eq!(decision["policy_version"], amends::policy::version_of(&v1));
    assert_eq!(decision["explanation"]["rules"][0]["outcome"], "matched");

    // A broken policy (a condition naming a field that does not exist) is refused: the daemon
    // keeps deciding with the one in force.
    std::fs::write(
        &path,
        v1.replace(
            "name = \"gift\"",
            "name = \"gift\"\nwhen = 'incident.dely_days > 1'",
        ),
    )
    .expect("write");
    let during = event("order.delayed", |_| {});
    app.publish(&during).await;
    assert_eq!(
        decision_of(&app, &during["id"]).await["policy_version"],
        amends::policy::version_of(&v1)
    );

    // A valid change is picked up within a few polls.
    let v2 = v1.replace("name = \"gift\"", "name = \"gift-v2\"");
    std::fs::write(&path, &v2).expect("write");
    let decision = wait_until("the new policy to decide", || async {
        let e = event("order.delayed", |_| {});
        app.publish(&e).await;
        let decision = decision_of(&app, &e["id"]).await;
        (decision["rule"] == "gift-v2").then_some(decision)
    })
    .await;
    assert_eq!(decision["policy_version"], amends::policy::version_of(&v2));
    app.stop().await;
}

#[test]
fn policy_explain_prints_the_rules_the_offer_and_the_budget() {
    let dir = tempfile::tempdir().expect("temp dir");
    let history = dir.path().join("history.json");
    std::fs::write(
        &history,
        json!({ "compensation": "50.00", "order_incidents": [] }).to_string(),
    )
    .expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_amends"))
        .args(["policy", "explain"])
        .arg(Path::new(&repo(
            "crates/amends-core/src/incident/samples/order.delayed.json",
        )))
        .arg("--customer-history")
        .arg(&history)
        .env("AMENDS_POLICY", repo("policy/default.toml"))
        .env("AMENDS_TEMPLATES_DIR", repo("templates"))
        .output()
        .expect("amends runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("✘ vip-merchant-cancellation"), "{text}");
    assert!(
        text.contains("saw customer.tier = \"vip\", incident.initiated_by = \"\""),
        "{text}"
    );
    assert!(text.contains("✔ vip-delay-long"), "{text}");
    // 50.00 given of the 60.00 cap: the 19.49 discount does not fit, free shipping does.
    assert!(
        text.contains("rule: over the per-customer cap of 60.00 EUR"),
        "{text}"
    );
    assert!(text.contains("offers: free_shipping"), "{text}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nname = \"x\"\nwhen = 'order.totl > 1.0'\ntemplate = \"order-delayed\"\nchannels = [\"email\"]\n",
    )
    .expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_amends"))
        .args(["policy", "check"])
        .arg(&bad)
        .env("AMENDS_TEMPLATES_DIR", repo("templates"))
        .output()
        .expect("amends runs");
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("line 3: rule \"x\": condition: `order` has no field `totl`"),
        "{err}"
    );
}

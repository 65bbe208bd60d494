//! Offers, budgets, coalescing, codes, escalations and policy reload, against the real
//! PostgreSQL and RabbitMQ.

use std::path::Path;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, daemon_database, event, repo, spawn_app, wait_until};

/// A policy that gives everyone a 10.00 EUR gift certificate, within the given budgets.
fn gift_policy(daily: &str, per_customer: &str) -> String {
    gift_policy_of("10.00", daily, per_customer)
}

/// A policy that gives everyone a gift certificate of `amount` EUR, within the given budgets.
fn gift_policy_of(amount: &str, daily: &str, per_customer: &str) -> String {
    format!(
        r#"
[budget]
daily = {{ EUR = "{daily}" }}
per_customer = {{ EUR = "{per_customer}" }}

[[rule]]
name = "gift"
template = "order-delayed"
channels = ["email"]
offers = [{{ kind = "gift_certificate", amount = "{amount}" }}]
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

/// What the day's budget row says was reserved (every replica's share, given or not).
async fn reserved_today(db: &PgPool) -> Decimal {
    sqlx::query_scalar("select coalesce(sum(spent), 0) from budget_day")
        .fetch_one(db)
        .await
        .expect("budget row")
}

/// What the ledger says was given.
async fn given(db: &PgPool) -> Decimal {
    sqlx::query_scalar("select coalesce(sum(cost), 0) from compensation where status = 'issued'")
        .fetch_one(db)
        .await
        .expect("ledger sum")
}

#[tokio::test]
async fn a_replica_gives_from_the_budget_it_holds_though_the_day_reads_as_spent() {
    // 2000.00 a day: the replica reserves a hundredth (20.00) at once and gives 10.00 an event.
    let (app, _dir, _path) = with_policy(&gift_policy("2000.00", "1000.00"), &[]).await;
    let first = event("order.delayed", |_| {});
    app.publish(&first).await;
    decision_of(&app, &first["id"]).await;
    assert_eq!(reserved_today(&app.pool).await, Decimal::new(2000, 2));
    // Other replicas reserve the rest of the day: the history reads it as spent, but this
    // replica still holds 10.00 of its own; the reservation wins and the plan is settled again.
    sqlx::query("update budget_day set spent = 2000")
        .execute(&app.pool)
        .await
        .expect("others spend");
    let second = event("order.delayed", |_| {});
    app.publish(&second).await;
    let decided = decision_of(&app, &second["id"]).await;
    let lines = decided["explanation"]["budget"].to_string();
    assert!(lines.contains("fits"), "{lines}");
    // Now nothing is left anywhere.
    let third = event("order.delayed", |_| {});
    app.publish(&third).await;
    let decided = decision_of(&app, &third["id"]).await;
    let lines = decided["explanation"]["budget"].to_string();
    assert!(
        lines.contains("over the daily budget of 2000.00 EUR"),
        "{lines}"
    );

    let rows = ledger(&app).await;
    let statuses: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(statuses, ["issued", "issued", "declined"], "{rows:?}");
    // The messages say what was granted, the settled-again one included.
    app.wait_for_count("select count(*) from outbox", 3).await;
    let with_codes = app
        .count("select count(*) from outbox where body_text like '%SORRY-%'")
        .await;
    assert_eq!(with_codes, 2);
    app.stop().await;
}

#[tokio::test]
async fn replicas_reserve_the_budget_in_chunks_never_over_it_and_return_what_they_did_not_give() {
    // 10.00 a day, 0.05 an event: each replica reserves 0.10 at once, so 200 fit the day.
    let (mut app, _dir, path) = with_policy(&gift_policy_of("0.05", "10.00", "1000.00"), &[]).await;
    let mut replica = app.spawn_replica(&[("AMENDS_POLICY", path.as_str())]).await;
    let events: Vec<Value> = (0..220).map(|_| event("order.delayed", |_| {})).collect();
    for e in &events {
        app.publish(e).await;
    }
    wait_for_decisions(&app, 220).await;
    let limit = Decimal::new(1000, 2);
    assert!(reserved_today(&app.pool).await <= limit);
    let given_running = given(&app.pool).await;
    assert!(given_running <= limit, "{given_running}");
    // Near the day's end one replica may hold a chunk the other's events could not use: at most
    // one chunk (0.10) per other replica goes ungiven.
    assert!(
        given_running >= limit - Decimal::new(10, 2),
        "{given_running}"
    );
    let rows = ledger(&app).await;
    assert_eq!(rows.len(), 220, "one ledger row per event");
    replica.halt().await;
    app.halt().await;
    // Stopped, they returned what they reserved and did not give: the day is what was given.
    let db = daemon_database(&app.names).await;
    assert_eq!(reserved_today(&db).await, given(&db).await);
    db.close().await;
    replica.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn a_replica_returns_the_budget_it_reserved_and_did_not_give_when_it_stops() {
    // 1000.00 a day: a chunk of 10.00, of which three events give 0.50 each.
    let (mut app, _dir, _path) =
        with_policy(&gift_policy_of("0.50", "1000.00", "1000.00"), &[]).await;
    for _ in 0..3 {
        app.publish(&event("order.delayed", |_| {})).await;
    }
    wait_for_decisions(&app, 3).await;
    assert_eq!(reserved_today(&app.pool).await, Decimal::new(1000, 2));
    assert_eq!(given(&app.pool).await, Decimal::new(150, 2));
    app.halt().await;
    let db = daemon_database(&app.names).await;
    assert_eq!(reserved_today(&db).await, Decimal::new(150, 2));
    db.close().await;
    app.stop().await;
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

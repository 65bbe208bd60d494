//! Personal data is not kept for ever (CONTRACT §3 `AMENDS_RETENTION`) and a customer can be
//! forgotten (CONTRACT §4 `amends forget`), while the ledger's amounts and codes, and a STOP,
//! stay.

use amends::store::Store;
use secrecy::SecretString;

use crate::helpers::{TestApp, event, files, spawn_app, wait_until};

const EMAIL: &str = "ana@example.com";
const PHONE: &str = "+34600111222";

/// `SELECT count(*)` of `sql` with one text parameter.
async fn count_with(app: &TestApp, sql: &str, value: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(value)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

/// Rows of any table of the daemon's database whose text holds `needle`, by table.
async fn tables_holding(app: &TestApp, needle: &str) -> Vec<(&'static str, i64)> {
    let mut found = Vec::new();
    for table in [
        "incident",
        "decision",
        "outbox",
        "attempt",
        "delivery_event",
        "suppression",
        "compensation",
        "escalation",
        "outcome_event",
    ] {
        let sql = format!("select count(*) from {table} t where t::text ilike '%' || $1 || '%'");
        let rows = count_with(app, &sql, needle).await;
        if rows > 0 {
            found.push((table, rows));
        }
    }
    found
}

/// How many rows of the daemon's database hold `needle`.
async fn rows_holding(app: &TestApp, needle: &str) -> i64 {
    tables_holding(app, needle)
        .await
        .iter()
        .map(|(_, n)| n)
        .sum()
}

/// Runs `amends forget --customer ID` against the app's database; its standard output.
async fn forget(app: &TestApp, customer: &str) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_amends"))
        .args(["forget", "--customer", customer])
        .env("AMENDS_DATABASE_URL", app.names.database_url())
        .env("AMENDS_OUTBOX_DIR", app.outbox.path())
        .env("AMENDS_POLICY", crate::helpers::repo("policy/default.toml"))
        .env("AMENDS_TEMPLATES_DIR", crate::helpers::repo("templates"))
        .output()
        .await
        .expect("amends runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

#[tokio::test]
async fn a_forgotten_customer_leaves_no_contact_behind_and_stays_stopped() {
    let app = spawn_app(&[]).await;
    let first = event("order.delayed", |e| {
        e["data"]["customer"]["id"] = "C-forget".into();
    });
    app.publish(&first).await;
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 2)
        .await;
    // They texted STOP to an earlier message.
    sqlx::query(
        "insert into suppression (channel, contact, reason, source) values ('sms', $1, 'stop', 'twilio')",
    )
    .bind(PHONE)
    .execute(&app.pool)
    .await
    .expect("suppress");
    let codes_before: Vec<(String, String)> = sqlx::query_as(
        "select code, cost::text from compensation where status = 'issued' order by code",
    )
    .fetch_all(&app.pool)
    .await
    .expect("codes");
    assert!(!codes_before.is_empty(), "the VIP's delay issues a code");
    assert!(rows_holding(&app, EMAIL).await > 0);
    assert!(rows_holding(&app, PHONE).await > 0);

    let report = forget(&app, "C-forget").await;
    assert!(report.contains("1 incident(s)"), "{report}");
    assert!(report.contains("2 message(s)"), "{report}");
    assert!(
        report.contains("1 suppression(s) kept as a keyed hash"),
        "{report}"
    );
    assert!(
        report.contains("2 file(s) of the file outbox removed"),
        "{report}"
    );
    assert!(files(&app.email_dir()).is_empty() && files(&app.sms_dir()).is_empty());

    // Nothing anywhere holds their address, number, name or id; the ledger keeps its codes.
    for needle in [EMAIL, PHONE, "García", "C-forget"] {
        let kept = tables_holding(&app, needle).await;
        assert!(kept.is_empty(), "{needle} is still kept in {kept:?}");
    }
    let codes_after: Vec<(String, String)> = sqlx::query_as(
        "select code, cost::text from compensation where status = 'issued' order by code",
    )
    .fetch_all(&app.pool)
    .await
    .expect("codes");
    assert_eq!(codes_after, codes_before);
    assert_eq!(
        count_with(
            &app,
            "select count(*) from audit where action = 'customer.forget' and subject like $1",
            "forgotten:%",
        )
        .await,
        1
    );

    // They order again: the email goes, their STOP still holds for SMS.
    let again = event("order.delayed", |e| {
        e["data"]["customer"]["id"] = "C-forget".into();
    });
    app.publish(&again).await;
    let again_id = again["id"].as_str().unwrap_or_default().to_owned();
    wait_until("the new incident's email", || async {
        let sent = count_with(
            &app,
            "select count(*) from outbox o join incident i using (incident_id)
             where i.event_id = $1 and o.channel = 'email' and o.status = 'sent'",
            &again_id,
        )
        .await;
        (sent == 1).then_some(())
    })
    .await;
    assert_eq!(
        count_with(
            &app,
            "select count(*) from outbox o join incident i using (incident_id)
             where i.event_id = $1 and o.channel = 'sms' and o.status <> 'cancelled'",
            &again_id,
        )
        .await,
        0,
        "a forgotten customer who said STOP gets no SMS"
    );

    // Forgetting again erases what came since, and then there is nothing left.
    let report = forget(&app, "C-forget").await;
    assert!(report.contains("1 incident(s)"), "{report}");
    let report = forget(&app, "C-forget").await;
    assert!(report.contains("nothing to erase"), "{report}");
    app.stop().await;
}

#[tokio::test]
async fn retention_erases_what_is_older_than_it_and_keeps_the_ledger() {
    let app = spawn_app(&[
        ("AMENDS_RETENTION", "30d"),
        ("AMENDS_RETENTION_CHECK_INTERVAL", "100ms"),
    ])
    .await;
    let old = event("order.delayed", |_| {});
    let recent = event("order.delayed", |e| {
        e["data"]["customer"]["email"] = "recent@example.com".into();
    });
    app.publish(&old).await;
    app.publish(&recent).await;
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 4)
        .await;
    let old_id = old["id"].as_str().unwrap_or_default().to_owned();
    let ledger = "select count(*) from compensation where status = 'issued'";
    let issued = app.count(ledger).await;
    // One incident is 31 days old.
    sqlx::query("update incident set created_at = now() - interval '31 days' where event_id = $1")
        .bind(&old_id)
        .execute(&app.pool)
        .await
        .expect("age it");

    wait_until("the old incident erased", || async {
        let erased = count_with(
            &app,
            "select count(*) from incident where event_id = $1 and erased_at is not null",
            &old_id,
        )
        .await;
        (erased == 1).then_some(())
    })
    .await;
    assert_eq!(
        rows_holding(&app, EMAIL).await,
        0,
        "the old one's address is gone"
    );
    assert_eq!(
        count_with(
            &app,
            "select count(*) from outbox o join incident i using (incident_id)
             where i.event_id = $1 and (o.body_text <> '' or o.recipient <> '')",
            &old_id,
        )
        .await,
        0
    );
    assert!(
        rows_holding(&app, "recent@example.com").await > 0,
        "the recent one is kept"
    );
    assert_eq!(
        app.count(ledger).await,
        issued,
        "the ledger keeps every code"
    );
    app.stop().await;
}

#[tokio::test]
async fn only_one_replica_at_a_time_erases() {
    let app = spawn_app(&[("AMENDS_RETENTION", "off")]).await;
    let url = SecretString::from(app.names.database_url());
    let store = Store::open(&url, 2, "retention-test").await.expect("store");
    let far_future = chrono::Utc::now() + chrono::Duration::days(1);
    // Another replica holds the retention lock.
    let mut other = app.pool.acquire().await.expect("connection");
    sqlx::query("select pg_advisory_lock($1)")
        .bind(0x616d_656e_6473_0001_i64)
        .execute(&mut *other)
        .await
        .expect("lock");
    assert_eq!(
        store.erase_older_than(far_future, 10).await.ok(),
        Some(None)
    );
    sqlx::query("select pg_advisory_unlock($1)")
        .bind(0x616d_656e_6473_0001_i64)
        .execute(&mut *other)
        .await
        .expect("unlock");
    drop(other);
    let erased = store.erase_older_than(far_future, 10).await.expect("erase");
    assert!(
        erased.is_some(),
        "free to erase once the other replica is done"
    );
    store.close().await;
    app.stop().await;
}

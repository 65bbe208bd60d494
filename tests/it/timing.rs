//! Due times against the real daemon, broker and database, the daemon's clock set by the test:
//! an SMS due in the customer's night waits for their morning and goes once; a newer incident
//! replaces a message still waiting; a reserve SMS standing in at night waits too. No test waits
//! for hours: the clock jumps.

use chrono::{DateTime, Days, NaiveTime, SecondsFormat, TimeZone, Utc};
use serde_json::Value;
use sqlx::Row;
use uuid::Uuid;

use amends::clock::{Clock, ManualTime};

use crate::helpers::{TestApp, event, files, http_client, spawn_app_with_clock, wait_until};

const TOKEN: &str = "timing-test-token-0123456789abcdef";

/// The customer's zone in the sample events.
fn madrid() -> amends::incident::TimeZone {
    amends::incident::TimeZone::parse("Europe/Madrid").expect("a zone")
}

/// The next `hour:minute` on a Madrid wall clock at or after the real now: the test clock never
/// runs behind the database's, whose timestamps the frequency window compares with it.
fn next_in_madrid(hour: u32, minute: u32) -> DateTime<Utc> {
    let now = Utc::now();
    let today = now.with_timezone(&madrid().tz()).date_naive();
    (0..3)
        .filter_map(|days| {
            let date = today.checked_add_days(Days::new(days))?;
            madrid()
                .tz()
                .from_local_datetime(&date.and_time(NaiveTime::from_hms_opt(hour, minute, 0)?))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .find(|t| *t >= now)
        .expect("a time within three days")
}

/// `hour:minute` in Madrid on the local day of `on`.
fn in_madrid(on: DateTime<Utc>, hour: u32, minute: u32) -> DateTime<Utc> {
    let date = on.with_timezone(&madrid().tz()).date_naive();
    madrid()
        .tz()
        .from_local_datetime(&date.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap()))
        .earliest()
        .expect("the hour exists")
        .with_timezone(&Utc)
}

/// A daemon with the SMS quiet hours on (21:00-08:00) and its clock at `time`.
async fn spawn_at(time: &ManualTime, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![
        ("AMENDS_SMS_QUIET_HOURS", "21:00-08:00"),
        ("AMENDS_ADMIN_TOKEN", TOKEN),
    ];
    env.extend_from_slice(extra);
    spawn_app_with_clock(&env, Clock::new(time.clone())).await
}

/// The sample event of `event_type` for a customer who can be reached by SMS only.
fn sms_only(event_type: &str, edit: impl FnOnce(&mut Value)) -> Value {
    event(event_type, |e| {
        e["data"]["customer"]
            .as_object_mut()
            .expect("a customer")
            .remove("email");
        edit(e);
    })
}

/// One message as stored.
#[derive(Debug)]
struct Message {
    outbox_id: Uuid,
    incident_id: Uuid,
    status: String,
    due_at: DateTime<Utc>,
    attempts: i32,
    scheduled_reason: Option<String>,
    cancelled_reason: Option<String>,
    superseded_by: Option<Uuid>,
}

/// The `channel` message of the event with CloudEvents id `event_id`, once recorded.
async fn message_of(app: &TestApp, event_id: &str, channel: &str) -> Message {
    wait_until(&format!("the {channel} message of {event_id}"), || async {
        let row = sqlx::query(
            "select o.outbox_id, o.incident_id, o.status, o.due_at, o.attempts, \
                    o.scheduled_reason, o.cancelled_reason, o.superseded_by \
             from outbox o join incident i using (incident_id) \
             where i.event_id = $1 and o.channel = $2",
        )
        .bind(event_id)
        .bind(channel)
        .fetch_optional(&app.pool)
        .await
        .expect("query")?;
        Some(Message {
            outbox_id: row.get("outbox_id"),
            incident_id: row.get("incident_id"),
            status: row.get("status"),
            due_at: row.get("due_at"),
            attempts: row.get("attempts"),
            scheduled_reason: row.get("scheduled_reason"),
            cancelled_reason: row.get("cancelled_reason"),
            superseded_by: row.get("superseded_by"),
        })
    })
    .await
}

/// The admin API's answer at `path`.
async fn api(app: &TestApp, path: &str) -> Value {
    let response = http_client()
        .get(app.url(path))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("the API answers");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.expect("JSON")
}

/// Publishes an event for an email-only customer (email has no quiet hours) and waits until its
/// email is out, the `n`th in all: proof that the dispatcher claimed what was due since.
async fn witness(app: &TestApp, n: usize) {
    let email_only = event("order.delayed", |e| {
        e["data"]["customer"]
            .as_object_mut()
            .expect("a customer")
            .remove("phone");
    });
    app.publish(&email_only).await;
    app.wait_for_files(&app.email_dir(), n).await;
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn a_night_sms_waits_for_the_end_of_the_quiet_hours_and_goes_once() {
    let night = next_in_madrid(3, 10);
    let morning = in_madrid(night, 8, 0);
    let time = ManualTime::new(night);
    let app = spawn_at(&time, &[]).await;

    let delay = sms_only("order.delayed", |_| {});
    app.publish(&delay).await;
    let sms = message_of(&app, delay["id"].as_str().unwrap(), "sms").await;
    // Stored with its due time at the end of the quiet hours, saying why.
    assert_eq!(sms.status, "pending");
    assert_eq!(sms.due_at, morning);
    assert_eq!(sms.attempts, 0);
    let reason = sms.scheduled_reason.expect("a reason to wait");
    assert!(
        reason.contains("in the sms quiet hours 21:00-08:00"),
        "{reason}"
    );
    // The API, and so the console, show it as scheduled until then, and the decision says when.
    let detail = api(&app, &format!("/api/incidents/{}", sms.incident_id)).await;
    let shown = &detail["messages"][0];
    assert_eq!(shown["status"], "pending");
    assert_eq!(shown["scheduled"]["until"], rfc3339(morning));
    assert_eq!(shown["scheduled"]["reason"], reason.as_str());
    let timing = detail["decision"]["explanation"]["timing"][0]
        .as_str()
        .expect("a timing line");
    assert!(
        timing.starts_with("sms: ") && timing.contains(" 08:00 Europe/Madrid"),
        "{timing}"
    );
    let listed = api(&app, "/api/incidents").await;
    let until = listed["incidents"][0]["messages"][0]["scheduled_until"]
        .as_str()
        .expect("scheduled in the list too");
    assert_eq!(DateTime::parse_from_rfc3339(until).unwrap(), morning);

    // Minutes before the end: the dispatcher sends what is due meanwhile, not this.
    time.set(morning - chrono::Duration::minutes(5));
    witness(&app, 1).await;
    let still = message_of(&app, delay["id"].as_str().unwrap(), "sms").await;
    assert_eq!((still.status.as_str(), still.attempts), ("pending", 0));
    assert!(files(&app.sms_dir()).is_empty());

    // Past the end: sent, once.
    time.set(morning + chrono::Duration::seconds(30));
    let sent = app.wait_for_files(&app.sms_dir(), 1).await;
    assert!(
        sent[0]
            .to_string_lossy()
            .contains(&sms.outbox_id.to_string())
    );
    wait_until("the SMS recorded as sent", || async {
        let m = message_of(&app, delay["id"].as_str().unwrap(), "sms").await;
        (m.status == "sent").then_some(m)
    })
    .await;
    witness(&app, 2).await;
    let done = message_of(&app, delay["id"].as_str().unwrap(), "sms").await;
    assert_eq!((done.status.as_str(), done.attempts), ("sent", 1));
    assert_eq!(files(&app.sms_dir()).len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_night_sms_is_not_sent_to_a_number_that_opted_out_while_it_waited() {
    let night = next_in_madrid(3, 10);
    let morning = in_madrid(night, 8, 0);
    let time = ManualTime::new(night);
    let app = spawn_at(&time, &[]).await;

    let delay = sms_only("order.delayed", |_| {});
    app.publish(&delay).await;
    let sms = message_of(&app, delay["id"].as_str().unwrap(), "sms").await;
    assert_eq!((sms.status.as_str(), sms.due_at), ("pending", morning));

    // The customer replies STOP (to an earlier message) during the night.
    let phone = delay["data"]["customer"]["phone"]
        .as_str()
        .expect("a phone");
    sqlx::query(
        "insert into suppression (channel, contact, reason, source) values ('sms', $1, 'stop', 'twilio')",
    )
    .bind(phone)
    .execute(&app.pool)
    .await
    .expect("suppressed");

    // Morning: the message is withheld and says why; nothing reaches the transport.
    time.set(morning + chrono::Duration::seconds(30));
    witness(&app, 1).await;
    let withheld = wait_until("the SMS withheld", || async {
        let m = message_of(&app, delay["id"].as_str().unwrap(), "sms").await;
        (m.status == "cancelled").then_some(m)
    })
    .await;
    assert_eq!(withheld.attempts, 0);
    assert_eq!(
        withheld.cancelled_reason.as_deref(),
        Some("the recipient was suppressed before it went out")
    );
    witness(&app, 2).await;
    assert!(files(&app.sms_dir()).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_cancellation_replaces_a_delay_notice_waiting_for_the_morning() {
    let night = next_in_madrid(3, 10);
    let morning = in_madrid(night, 8, 0);
    let time = ManualTime::new(night);
    let app = spawn_at(&time, &[]).await;

    // The order system cancelled the order a minute after it reported the delay.
    let delay = sms_only("order.delayed", |e| {
        e["time"] = rfc3339(night - chrono::Duration::minutes(2)).into();
    });
    let order = delay["data"]["order"]["id"].clone();
    let customer = delay["data"]["customer"]["id"].clone();
    let cancel = sms_only("order.cancelled", |e| {
        e["time"] = rfc3339(night - chrono::Duration::minutes(1)).into();
        e["data"]["order"]["id"] = order;
        e["data"]["customer"]["id"] = customer;
    });
    app.publish(&delay).await;
    let waiting = message_of(&app, delay["id"].as_str().unwrap(), "sms").await;
    assert_eq!(
        (waiting.status.as_str(), waiting.due_at),
        ("pending", morning)
    );

    app.publish(&cancel).await;
    let replacing = message_of(&app, cancel["id"].as_str().unwrap(), "sms").await;
    // The delay notice is cancelled, with why and by what, in the same transaction.
    let replaced = message_of(&app, delay["id"].as_str().unwrap(), "sms").await;
    assert_eq!(replaced.status, "cancelled");
    assert_eq!(replaced.superseded_by, Some(replacing.incident_id));
    let why = replaced.cancelled_reason.expect("why it was cancelled");
    assert!(why.contains("order.cancelled"), "{why}");
    // The cancellation is decided as if the customer had not heard of the delay: a first
    // message, not an upgrade of one they never got. Its SMS waits for the morning too.
    let detail = api(&app, &format!("/api/incidents/{}", replacing.incident_id)).await;
    let explanation = &detail["decision"]["explanation"];
    assert!(
        explanation["frequency"]
            .as_str()
            .unwrap()
            .starts_with("no message about this order"),
        "{explanation}"
    );
    assert!(
        explanation["superseded"][0]
            .as_str()
            .unwrap()
            .starts_with("replaces the waiting message of order.delayed"),
        "{explanation}"
    );
    assert_eq!(detail["decision"]["coalesced"], Value::Null);
    assert_eq!(replacing.status, "pending");
    assert_eq!(replacing.due_at, morning);
    // The escalation says to call in the customer's daytime: 09:00 to 18:00 their time.
    let call = &detail["escalation"]["call"];
    assert_eq!(call["now"], false);
    assert_eq!(call["timezone"], "Europe/Madrid");
    let from = DateTime::parse_from_rfc3339(call["from"].as_str().unwrap()).unwrap();
    assert_eq!(from.with_timezone(&Utc), in_madrid(night, 9, 0));
    assert_eq!(from.time(), NaiveTime::from_hms_opt(9, 0, 0).unwrap());
    let until = DateTime::parse_from_rfc3339(call["until"].as_str().unwrap()).unwrap();
    assert_eq!(until.with_timezone(&Utc), in_madrid(night, 18, 0));
    // The console shows the delay notice as cancelled, and by what.
    let old = api(&app, &format!("/api/incidents/{}", replaced.incident_id)).await;
    assert_eq!(old["messages"][0]["status"], "cancelled");
    assert_eq!(
        old["messages"][0]["cancelled"]["superseded_by_type"],
        "order.cancelled"
    );

    // In the morning only the cancellation goes out.
    time.set(morning + chrono::Duration::seconds(30));
    let sent = app.wait_for_files(&app.sms_dir(), 1).await;
    assert!(
        sent[0]
            .to_string_lossy()
            .contains(&replacing.outbox_id.to_string())
    );
    witness(&app, 1).await;
    assert_eq!(files(&app.sms_dir()).len(), 1);
    let replaced = message_of(&app, delay["id"].as_str().unwrap(), "sms").await;
    assert_eq!(
        (replaced.status.as_str(), replaced.attempts),
        ("cancelled", 0)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_newer_delay_replaces_the_waiting_one_instead_of_being_coalesced_into_it() {
    let night = next_in_madrid(23, 30);
    let time = ManualTime::new(night);
    let app = spawn_at(&time, &[]).await;
    let unknown = sms_only("order.delayed", |e| {
        e["data"]["delay"]
            .as_object_mut()
            .expect("a delay")
            .remove("new_eta");
    });
    let order = unknown["data"]["order"]["id"].clone();
    let customer = unknown["data"]["customer"]["id"].clone();
    let dated = sms_only("order.delayed", |e| {
        e["data"]["order"]["id"] = order;
        e["data"]["customer"]["id"] = customer;
    });
    app.publish(&unknown).await;
    let first = message_of(&app, unknown["id"].as_str().unwrap(), "sms").await;
    assert_eq!(first.status, "pending");
    app.publish(&dated).await;
    let second = message_of(&app, dated["id"].as_str().unwrap(), "sms").await;
    // Without supersession it would be coalesced into a message the customer never received.
    let detail = api(&app, &format!("/api/incidents/{}", second.incident_id)).await;
    assert_eq!(detail["decision"]["coalesced"], Value::Null);
    assert_eq!(second.status, "pending");
    let first = message_of(&app, unknown["id"].as_str().unwrap(), "sms").await;
    assert_eq!(first.status, "cancelled");
    assert_eq!(first.superseded_by, Some(second.incident_id));
    app.stop().await;
}

#[tokio::test]
async fn a_reserve_sms_standing_in_at_night_waits_for_the_morning() {
    let night = next_in_madrid(3, 10);
    let morning = in_madrid(night, 8, 0);
    let time = ManualTime::new(night);
    // Email (no quiet hours) goes at once, to an SMTP server that is not there: it fails, and the
    // SMS held in reserve stands in, at 03:10 on the customer's clock.
    let app = spawn_at(
        &time,
        &[
            ("AMENDS_EMAIL_TRANSPORT", "smtp"),
            ("AMENDS_SMTP_URL", "smtp://127.0.0.1:1"),
            ("AMENDS_EMAIL_FROM", "care@shop.example"),
        ],
    )
    .await;
    // Not a VIP: a VIP's long delay goes by SMS and email at once, with none in reserve.
    let delay = event("order.delayed", |e| {
        e["data"]["customer"]["tier"] = serde_json::Value::Null;
    });
    app.publish(&delay).await;
    let id = delay["id"].as_str().unwrap().to_owned();
    wait_until("the email to fail", || async {
        let m = message_of(&app, &id, "email").await;
        (m.status == "failed").then_some(())
    })
    .await;
    let held = wait_until("the reserve SMS to be held", || async {
        let m = message_of(&app, &id, "sms").await;
        let checked = m
            .scheduled_reason
            .as_deref()
            .is_some_and(|r| r.contains("(checked when sending)"));
        (m.status == "pending" && checked).then_some(m)
    })
    .await;
    assert_eq!(held.due_at, morning);
    assert_eq!(held.attempts, 0);
    let reason = held.scheduled_reason.unwrap();
    assert!(
        reason.starts_with("03:10 there is in the sms quiet hours 21:00-08:00"),
        "{reason}"
    );
    assert!(files(&app.sms_dir()).is_empty());

    time.set(morning + chrono::Duration::seconds(30));
    app.wait_for_files(&app.sms_dir(), 1).await;
    wait_until("the SMS recorded as sent", || async {
        let m = message_of(&app, &id, "sms").await;
        (m.status == "sent" && m.attempts == 1).then_some(())
    })
    .await;
    app.stop().await;
}

#[test]
fn policy_explain_says_what_an_event_replaces_and_when_each_message_goes_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let history = dir.path().join("history.json");
    // The order's earlier delay notice still waits for the morning.
    std::fs::write(
        &history,
        serde_json::json!({ "order_incidents": [
            { "type": "order.delayed", "at": "2026-11-24T01:00:00Z", "waiting": true }
        ] })
        .to_string(),
    )
    .expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_amends"))
        .args(["policy", "explain"])
        .arg(crate::helpers::repo(
            "crates/amends-core/src/incident/samples/order.delayed.json",
        ))
        .arg("--customer-history")
        .arg(&history)
        // 03:10 in Madrid, the customer's zone.
        .args(["--at", "2026-11-24T02:10:00Z"])
        .env("AMENDS_POLICY", crate::helpers::repo("policy/default.toml"))
        .env("AMENDS_TEMPLATES_DIR", crate::helpers::repo("templates"))
        .env("AMENDS_SMS_QUIET_HOURS", "21:00-08:00")
        .env("AMENDS_EMAIL_QUIET_HOURS", "off")
        .output()
        .expect("amends runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains(
            "supersedes: replaces the waiting message of order.delayed (recorded 2026-11-24T01:00:00Z), never sent: decided as if the customer had not heard of it"
        ),
        "{text}"
    );
    // Not coalesced into it, and not "delayed again": a first message.
    assert!(
        text.contains("frequency: no message about this order"),
        "{text}"
    );
    assert!(text.contains("✔ vip-delay-long"), "{text}");
    assert!(
        text.contains(
            "timing:\n  - sms: 2026-11-24 08:00 Europe/Madrid, as 03:10 there is in the sms quiet hours 21:00-08:00 (configured)\n  - email: at once\n"
        ),
        "{text}"
    );
}

/// Another replica's store on the test's database.
async fn other_replica(app: &TestApp) -> amends::store::Store {
    amends::store::Store::open(
        &secrecy::SecretString::from(app.names.database_url()),
        2,
        "other-replica",
    )
    .await
    .expect("the database opens")
}

#[tokio::test]
async fn a_replacement_and_a_claim_of_the_same_message_never_both_win() {
    let night = next_in_madrid(3, 10);
    let morning = in_madrid(night, 8, 0);
    let time = ManualTime::new(night);
    let app = spawn_at(&time, &[]).await;
    let other = other_replica(&app).await;
    let claim = |now| {
        other.claim_due(
            "other-replica",
            std::time::Duration::from_secs(600),
            50,
            &[],
            now,
        )
    };

    // The replacement goes first: while its transaction holds the waiting message, another
    // replica's claim passes it by, and after a rollback it is still waiting.
    let delay = sms_only("order.delayed", |e| {
        e["time"] = rfc3339(night - chrono::Duration::minutes(2)).into();
    });
    app.publish(&delay).await;
    let waiting = message_of(&app, delay["id"].as_str().unwrap(), "sms").await;
    // Reported after the delay: it would replace the delay notice, were it still waiting.
    let cancel = sms_only("order.cancelled", |e| {
        e["time"] = rfc3339(night - chrono::Duration::minutes(1)).into();
        e["data"]["order"]["id"] = delay["data"]["order"]["id"].clone();
        e["data"]["customer"]["id"] = delay["data"]["customer"]["id"].clone();
    });
    let body = serde_json::to_vec(&cancel).unwrap();
    let incident =
        amends::incident::parse(&body, None, &amends::incident::Locale::parse("en").unwrap())
            .expect("the event parses");
    let windows = amends::store::HistoryWindows {
        history: std::time::Duration::from_secs(86_400),
        customer: std::time::Duration::from_secs(86_400),
    };
    let begun = other
        .begin_incident(
            Uuid::now_v7(),
            &incident,
            amends::store::Received {
                payload: std::str::from_utf8(&body).unwrap(),
                traceparent: None,
            },
            windows,
            night.date_naive(),
        )
        .await
        .expect("begins");
    let amends::store::Begun::New(mut tx, history) = begun else {
        panic!("a new incident");
    };
    assert!(history.order_incidents[0].waiting);
    let done = tx
        .supersede(&[waiting.incident_id], "replaced in a test")
        .await
        .expect("supersedes");
    assert_eq!((done[0].cancelled, done[0].heard), (1, false));
    let claimed = claim(morning + chrono::Duration::hours(1))
        .await
        .expect("claims");
    assert!(claimed.iter().all(|m| m.outbox_id != waiting.outbox_id));
    // Rolled back now, not whenever the pool next uses the connection: until then its row locks
    // would make the claim below skip the message.
    tx.abandon().await.expect("rolls back");
    let after = message_of(&app, delay["id"].as_str().unwrap(), "sms").await;
    assert_eq!((after.status.as_str(), after.attempts), ("pending", 0));

    // The claim goes first: the message is on its way, so the cancellation replaces nothing and
    // is decided knowing the customer heard of the delay (an upgrade of it).
    let claimed = claim(morning + chrono::Duration::hours(1))
        .await
        .expect("claims");
    assert!(claimed.iter().any(|m| m.outbox_id == waiting.outbox_id));
    app.publish(&cancel).await;
    let replacing = message_of(&app, cancel["id"].as_str().unwrap(), "sms").await;
    let detail = api(&app, &format!("/api/incidents/{}", replacing.incident_id)).await;
    let explanation = &detail["decision"]["explanation"];
    assert_eq!(explanation["superseded"], Value::Null, "{explanation}");
    assert!(
        explanation["frequency"]
            .as_str()
            .unwrap()
            .contains("this is more serious, so it upgrades that message"),
        "{explanation}"
    );
    let claimed_one = message_of(&app, delay["id"].as_str().unwrap(), "sms").await;
    assert_eq!(claimed_one.status, "sending");
    assert_eq!(claimed_one.cancelled_reason, None);
    other.close().await;
    app.stop().await;
}

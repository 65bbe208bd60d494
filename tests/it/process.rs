//! The `amends` binary as an operator runs it: crash and restart, graceful stop, bad config.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::helpers::{Names, connect, daemon_database, declare, event, files, not_vip, wait_until};

fn amends(names: &Names, outbox: &Path, extra: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_amends"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", crate::logs::level())
        .envs(names.env(outbox))
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

fn start(names: &Names, outbox: &Path, extra: &[(&str, &str)]) -> Child {
    let mut command = amends(names, outbox, extra);
    command.arg("run");
    command.spawn().expect("amends starts")
}

/// Publishes one delay event and waits until its email is in `outbox`.
async fn one_event_delivered(names: &Names, channel: &lapin::Channel, outbox: &Path) {
    let e = event("order.delayed", not_vip);
    amends::broker::publish_confirmed(
        channel,
        &names.exchange,
        "order.delayed",
        &serde_json::to_vec(&e).unwrap(),
        lapin::BasicProperties::default(),
    )
    .await
    .unwrap();
    let email_dir = outbox.join("email");
    wait_until("the message", || async {
        (!files(&email_dir).is_empty()).then_some(())
    })
    .await;
}

/// Sends SIGTERM as an orchestrator would (with kill(1)).
fn sigterm(child: &Child) {
    let pid = child.id().expect("running") as i32;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A confirming channel on which the test's topology is declared.
async fn publisher(names: &Names) -> (lapin::Connection, lapin::Channel) {
    let connection = connect().await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel.confirm_select(Default::default()).await.unwrap();
    declare(&connection, names).await;
    (connection, channel)
}

async fn count(pool: &sqlx::PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn killed_mid_stream_and_restarted_every_event_yields_exactly_one_message() {
    const EVENTS: usize = 500;
    let names = Names::new();
    let outbox = tempfile::tempdir().unwrap();
    // A short lease so that claims the killed process held come back quickly.
    let settings = [
        ("AMENDS_LEASE_DURATION", "2s"),
        ("AMENDS_SEND_TIMEOUT", "1s"),
        ("AMENDS_PREFETCH", "32"),
    ];
    let mut first = start(&names, outbox.path(), &settings);

    let (connection, channel) = publisher(&names).await;
    let mut ids = Vec::new();
    for _ in 0..EVENTS {
        let e = event("order.delayed", not_vip);
        ids.push(e["id"].as_str().unwrap().to_owned());
        amends::broker::publish_confirmed(
            &channel,
            &names.exchange,
            "order.delayed",
            &serde_json::to_vec(&e).unwrap(),
            lapin::BasicProperties::default().with_content_type("application/json".into()),
        )
        .await
        .unwrap();
    }

    // Kill it (SIGKILL: no cleanup at all) once it is partway through.
    let email_dir = outbox.path().join("email");
    wait_until("the first messages", || async {
        (files(&email_dir).len() >= 40).then_some(())
    })
    .await;
    first.kill().await.unwrap();
    let at_kill = files(&email_dir).len();
    assert!(at_kill < EVENTS, "the kill came too late to test anything");

    let mut second = start(&names, outbox.path(), &settings);
    let pool = daemon_database(&names).await;
    wait_until("every event's message", || async {
        let sent = count(&pool, "select count(*) from outbox where status = 'sent'").await;
        (sent as usize >= EVENTS && files(&email_dir).len() >= EVENTS).then_some(())
    })
    .await;

    assert_eq!(files(&email_dir).len(), EVENTS, "one file per event");
    assert_eq!(
        count(&pool, "select count(*) from incident").await as usize,
        EVENTS
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from outbox where status not in ('standby', 'cancelled')"
        )
        .await as usize,
        EVENTS,
        "one message per event"
    );
    let recorded: Vec<String> = sqlx::query_scalar("select event_id from incident")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut recorded = recorded;
    recorded.sort();
    ids.sort();
    assert_eq!(recorded, ids, "every published event recorded once");

    second.start_kill().unwrap();
    let _ = second.wait().await;
    pool.close().await;
    let _ = connection.close(200, "done".into()).await;
    names.clean_up().await;
}

#[tokio::test]
async fn sigterm_stops_the_daemon_cleanly() {
    let names = Names::new();
    let outbox = tempfile::tempdir().unwrap();
    let mut child = start(&names, outbox.path(), &[]);
    let pool = daemon_database(&names).await;
    let (connection, channel) = publisher(&names).await;
    one_event_delivered(&names, &channel, outbox.path()).await;

    sigterm(&child);
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops within 30 s")
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    pool.close().await;
    let _ = connection.close(200, "done".into()).await;
    names.clean_up().await;
}

#[tokio::test]
async fn an_old_queue_without_the_delivery_limit_is_consumed_with_a_warning() {
    use lapin::options::QueueDeclareOptions;
    use lapin::types::{AMQPValue, FieldTable};
    // A queue declared by an older amends: quorum, without the delivery limit and the
    // dead-letter route. The broker cannot change a queue's arguments, so amends warns (RabbitMQ
    // 4.x would drop a message returned 20 times) and consumes it as it is.
    let names = Names::new();
    let connection = connect().await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    channel
        .queue_declare(
            names.queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await
        .unwrap();
    let outbox = tempfile::tempdir().unwrap();
    // Logs go to standard output.
    let child = amends(&names, outbox.path(), &[])
        .arg("run")
        .stdout(Stdio::piped())
        .spawn()
        .expect("amends starts");
    let (publisher, channel) = publisher(&names).await;
    one_event_delivered(&names, &channel, outbox.path()).await;
    sigterm(&child);
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("stops within 30 s")
        .unwrap();
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(
        log.contains("the queue exists with other arguments than amends declares")
            && log.contains("x-delivery-limit 20"),
        "{log}"
    );
    let _ = connection.close(200, "done".into()).await;
    let _ = publisher.close(200, "done".into()).await;
    names.clean_up().await;
}

#[tokio::test]
async fn a_bad_configuration_stops_start_up_naming_the_key() {
    let names = Names::new();
    let outbox = tempfile::tempdir().unwrap();
    let output = amends(
        &names,
        outbox.path(),
        &[("AMENDS_HTTP_BIND", "not-an-address")],
    )
    .arg("run")
    .output()
    .await
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains("AMENDS_HTTP_BIND"), "{stderr}");
}

//! RabbitMQ and PostgreSQL going away in the middle of a run and coming back: nothing is lost,
//! nothing is sent twice, and the daemon is back to normal on its own.
//!
//! The shared servers cannot be restarted by a test, so the daemon reaches each through a proxy
//! the test cuts (every connection closed, new ones refused, as a restarting server does) and
//! restores.

use std::time::{Duration, Instant};

use crate::daemon::{Daemon, LONG, all_sent, count, events, publish, tally};
use crate::helpers::{AMQP_URL, Names, daemon_database, wait_within};
use crate::proxy::Proxy;
use crate::smtp::SmtpSink;

const EVENTS: usize = 5_000;

/// How long the server stays away.
const OUTAGE: Duration = Duration::from_secs(5);

/// How long after the server is back the daemon must be ready again, without a human.
const RECOVERY: Duration = Duration::from_secs(30);

/// Which server goes away.
#[derive(Debug, Clone, Copy)]
enum Server {
    Broker,
    Database,
}

async fn outage(server: Server) {
    let _one = crate::ONE_AT_A_TIME.lock().await;
    let names = Names::new();
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(Default::default()).await;
    let upstream = match server {
        Server::Broker => "127.0.0.1:5672",
        Server::Database => "127.0.0.1:5432",
    };
    let proxy = Proxy::start(upstream.parse().unwrap()).await;
    let through_proxy = match server {
        Server::Broker => (
            "AMENDS_AMQP_URL",
            AMQP_URL.replace(":5672", &format!(":{}", proxy.port())),
        ),
        Server::Database => (
            "AMENDS_DATABASE_URL",
            names
                .database_url()
                .replace(":5432", &format!(":{}", proxy.port())),
        ),
    };
    let mut daemon = Daemon::start(
        &names,
        dir.path(),
        &smtp,
        &[(through_proxy.0, through_proxy.1.as_str())],
    );
    let _log = daemon.log_on_failure();
    let pool = daemon_database(&names).await;
    wait_within("the daemon to be ready", LONG, || async {
        daemon.ready().await.then_some(())
    })
    .await;
    let publisher = tokio::spawn({
        let names = names.clone();
        let events = events(EVENTS);
        async move { publish(&names, events).await }
    });

    // Mid-run: a third of the emails out.
    wait_within("a third of the emails", LONG, || async {
        (smtp.messages().await.len() >= EVENTS / 3).then_some(())
    })
    .await;
    let at_cut = smtp.messages().await.len();
    proxy.cut().await;
    let cut = Instant::now();
    // The daemon notices: not ready while the server is away.
    let noticed = wait_within("the daemon to report the outage", OUTAGE * 2, || async {
        (!daemon.ready().await).then_some(cut.elapsed())
    })
    .await;
    let remaining = OUTAGE.saturating_sub(cut.elapsed());
    tokio::time::sleep(remaining).await;
    proxy.restore();
    let restored = Instant::now();
    let ready_again = wait_within("the daemon to be ready again", RECOVERY, || async {
        daemon.ready().await.then_some(restored.elapsed())
    })
    .await;
    let before = smtp.messages().await.len();
    let sending_again = wait_within("emails to flow again", RECOVERY, || async {
        let now = smtp.messages().await.len();
        (now > before || now >= EVENTS).then_some(restored.elapsed())
    })
    .await;
    publisher.await.unwrap();
    all_sent(&pool, EVENTS).await;
    let drained = restored.elapsed();
    daemon.stop().await;

    let result = tally(&pool, &smtp).await;
    let incidents = count(&pool, "select count(*) from incident").await as usize;
    let dead = crate::helpers::connect()
        .await
        .unwrap()
        .create_channel()
        .await
        .unwrap()
        .queue_declare(
            names.dead.as_str().into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .map(|q| q.message_count())
        .unwrap_or(0);
    println!(
        "{server:?} outage of {OUTAGE:?} after {at_cut} of {EVENTS} emails: not ready after {noticed:.1?}; ready again {ready_again:.1?} and sending {sending_again:.1?} after it came back; all {} sent {drained:.1?} after; missing {}, repeated {}, dead-lettered {dead}",
        result.messages, result.missing, result.repeated,
    );
    assert_eq!(incidents, EVENTS, "every event recorded once");
    assert_eq!(result.messages, EVENTS, "one email per event");
    assert_eq!(result.missing, 0, "nothing lost");
    assert_eq!(result.repeated, 0, "nothing sent twice");
    assert_eq!(dead, 0, "no event dead-lettered for an outage");
    pool.close().await;
    names.clean_up().await;
}

#[tokio::test]
async fn rabbitmq_going_away_mid_run_loses_and_repeats_nothing() {
    outage(Server::Broker).await;
}

#[tokio::test]
async fn postgresql_going_away_mid_run_loses_and_repeats_nothing() {
    outage(Server::Database).await;
}

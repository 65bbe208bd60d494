//! SIGKILL at random moments of a long run, restarting each time: no apology is lost, and one is
//! repeated only if its request may have reached the SMTP server when the process died.

use rand::{Rng, SeedableRng};

use crate::daemon::{Daemon, LONG, all_sent, count, events, publish, received, tally};
use crate::helpers::{Names, daemon_database, wait_within};
use crate::metrics::histogram_quantiles;
use crate::smtp::SmtpSink;

const EVENTS: usize = 10_000;
const KILLS: usize = 10;

#[tokio::test]
async fn killed_at_ten_random_moments_no_apology_is_lost() {
    let _one = crate::ONE_AT_A_TIME.lock().await;
    let seed: u64 = std::env::var("AMENDS_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // The moments: after so many emails reached the server, spread over the run.
    let mut moments: Vec<usize> = (0..KILLS)
        .map(|_| rng.random_range(EVENTS / 50..EVENTS * 19 / 20))
        .collect();
    moments.sort_unstable();
    println!(
        "crash run: {EVENTS} events, SIGKILL after {moments:?} emails (AMENDS_FAULT_SEED={seed})"
    );

    let names = Names::new();
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(Default::default()).await;
    // A short lease so that claims the killed process held come back quickly.
    let mut daemon = Daemon::start(
        &names,
        dir.path(),
        &smtp,
        &[
            ("AMENDS_LEASE_DURATION", "2s"),
            ("AMENDS_SEND_TIMEOUT", "2s"),
        ],
    );
    let _log = daemon.log_on_failure();
    let pool = daemon_database(&names).await;
    let publisher = tokio::spawn({
        let names = names.clone();
        let events = events(EVENTS);
        async move { publish(&names, events).await }
    });

    let mut in_doubt_total = 0;
    let mut unsent_total = 0;
    let mut recoveries = Vec::new();
    for (kill, moment) in moments.iter().enumerate() {
        wait_within(
            &format!("{moment} emails before kill {}", kill + 1),
            LONG,
            || async { (smtp.messages().await.len() >= *moment).then_some(()) },
        )
        .await;
        daemon.kill().await;
        // What the dead process left claimed: requests that may have reached the server (in
        // doubt, resent), and claims whose request never left (simply due again).
        let in_doubt = count(
            &pool,
            "select count(*) from outbox where status = 'sending' and send_started_at is not null",
        )
        .await;
        let unsent = count(
            &pool,
            "select count(*) from outbox where status = 'sending' and send_started_at is null",
        )
        .await;
        in_doubt_total += in_doubt;
        unsent_total += unsent;
        let before = smtp.messages().await.len();
        let restarted = std::time::Instant::now();
        daemon.restart();
        // Back to work: a new email reaches the server (or there is nothing left to send).
        wait_within("the restarted daemon to send", LONG, || async {
            let now = smtp.messages().await.len();
            (now > before || now >= EVENTS).then_some(())
        })
        .await;
        recoveries.push(restarted.elapsed());
        println!(
            "kill {}: after {before} emails; {in_doubt} in doubt, {unsent} claimed but not sent; sending again {:.1?} after the restart",
            kill + 1,
            restarted.elapsed()
        );
    }
    publisher.await.unwrap();

    all_sent(&pool, EVENTS).await;
    let metrics = daemon.metrics().await.unwrap_or_default();
    daemon.stop().await;

    let result = tally(&pool, &smtp).await;
    let copies = received(&smtp).await;
    let incidents = count(&pool, "select count(*) from incident").await as usize;
    let unknown = count(
        &pool,
        "select count(*) from outbox where status in ('unknown', 'failed')",
    )
    .await;
    let lag = histogram_quantiles(&metrics, "amends_send_record_lag_seconds", &[0.5, 0.99]);
    println!(
        "crash run result: {KILLS} kills, {EVENTS} events, {} emails; missing {}, repeated {} (in doubt at the kills: {in_doubt_total}; claimed but not sent: {unsent_total}); slowest recovery {:.1?}; record lag p50 ≤ {:?} s, p99 ≤ {:?} s (last process)",
        result.messages,
        result.missing,
        result.repeated,
        recoveries.iter().max().copied().unwrap_or_default(),
        lag[0],
        lag[1],
    );
    assert_eq!(incidents, EVENTS, "every event recorded once");
    assert_eq!(result.messages, EVENTS, "one email per event");
    assert_eq!(result.missing, 0, "no apology lost");
    assert!(
        result.repeated as i64 <= in_doubt_total,
        "only messages in doubt at a kill may be repeated: {} repeated, {in_doubt_total} in doubt",
        result.repeated
    );
    assert_eq!(unknown, 0, "no email left unknown or failed");
    assert!(copies.len() >= EVENTS);
    pool.close().await;
    names.clean_up().await;
}

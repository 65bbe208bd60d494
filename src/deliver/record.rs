//! Recording: the outcomes of sends written back to the outbox in batches, each behind its
//! claim's fence, retried until they land.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Dispatcher;
use super::lease::Held;
use crate::store::{AttemptOutcome, FinishedAttempt};

/// How long the recorder keeps trying to write the last results once the daemon is stopping.
const RECORD_AT_STOP: Duration = Duration::from_secs(10);

/// A send's outcome on its way to the recorder, with when it became known; `attempt` is `None`
/// when the claim was lost before anything was sent (nothing to record).
pub(super) struct Finished {
    pub(super) outbox_id: uuid::Uuid,
    pub(super) attempt: Option<FinishedAttempt>,
    pub(super) at: Instant,
}

/// Largest number of results written in one statement.
const RECORD_BATCH: usize = 256;

/// Writes send results in batches, one statement (one commit) for all that are waiting.
///
/// Per-row commits would make the database's commit rate the ceiling of delivery; batching keeps
/// each result's own fence (`claimed_by`) while sharing the commit. A result is the only proof a
/// message went out, so a failed write is tried again until it lands (the leases stay alive
/// meanwhile); only at shutdown does the recorder give up after [`RECORD_AT_STOP`].
pub(super) async fn record_results(
    dispatcher: Arc<Dispatcher>,
    held: Held,
    mut pending: mpsc::Receiver<Finished>,
    token: CancellationToken,
) {
    let mut received = Vec::with_capacity(RECORD_BATCH);
    while pending.recv_many(&mut received, RECORD_BATCH).await > 0 {
        let ids: Vec<uuid::Uuid> = received.iter().map(|f| f.outbox_id).collect();
        let finished_at: Vec<Instant> = received.iter().map(|f| f.at).collect();
        let batch: Vec<FinishedAttempt> = received.drain(..).filter_map(|f| f.attempt).collect();
        let written = write(&dispatcher, &batch, &token).await;
        if written.is_some() {
            // How long an outcome waited to be recorded: a crash in this window is the only way
            // a message in doubt is sent twice.
            for at in &finished_at {
                dispatcher
                    .metrics
                    .record_lag
                    .observe(at.elapsed().as_secs_f64());
            }
        }
        if batch.iter().any(|r| {
            matches!(
                r.outcome,
                AttemptOutcome::Sent { .. } | AttemptOutcome::Failed { .. }
            )
        }) {
            dispatcher.wakeups.announcer.notify_one();
        }
        if let Some(written) = &written
            && written.len() < batch.len()
        {
            for lost in batch.iter().filter(|r| !written.contains(&r.outbox_id)) {
                tracing::warn!(outbox_id = %lost.outbox_id, "claim was lost before the result was recorded");
            }
        }
        if written.is_some() {
            held.remove(ids);
        }
    }
}

/// Writes one batch, retrying with backoff; `None` when it gave up (only once stopping).
async fn write(
    dispatcher: &Dispatcher,
    batch: &[FinishedAttempt],
    token: &CancellationToken,
) -> Option<Vec<uuid::Uuid>> {
    if batch.is_empty() {
        return Some(Vec::new());
    }
    let mut delay = Duration::from_millis(50);
    let mut stopping_since: Option<Instant> = None;
    loop {
        match dispatcher
            .store
            .finish_attempts(&dispatcher.instance, batch, dispatcher.clock.now())
            .await
        {
            Ok(written) => {
                dispatcher.health.database(true);
                return Some(written);
            }
            Err(e) => {
                dispatcher.health.database(false);
                if token.is_cancelled() {
                    let since = *stopping_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= RECORD_AT_STOP {
                        tracing::error!(error = %e, count = batch.len(), "recording attempts failed at shutdown; their claims will expire and the reaper will decide");
                        return None;
                    }
                }
                tracing::warn!(error = %e, retry_in = ?delay, count = batch.len(), "recording attempts failed; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

//! The dispatcher: claims due outbox rows with a lease, sends each through its channel's
//! providers, and records every attempt and the final status.
//!
//! A claim is one short statement (no transaction stays open during a send); results are written
//! only while this instance still holds the claim. Each message is marked just before its request
//! leaves, and its lease is kept alive until its outcome is recorded (see [`super::lease`]), so
//! after a crash the reaper knows which messages never left (due again) and which are in doubt
//! (sent again or `unknown`, as the channel's rule says).
//!
//! Failover is per message and immediate: a transient failure, a refusal or (where the channel
//! resends messages in doubt) a timeout on one provider hands the message to the next provider of
//! its channel in the same attempt. Backoff applies only when every provider has just failed; the
//! circuit breakers keep later messages away from a provider that keeps failing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::Claim;
use super::lease::{self, Held, Mark, Marker};
use super::record::{Finished, record_results};
use super::{SendError, Transports, Wakeups, retry};
use crate::clock::Clock;
use crate::config::DispatchConfig;
use crate::health::Health;
use crate::store::{AttemptOutcome, FinishedAttempt, Store};
use crate::telemetry::{
    AttemptLabels, ChannelLabels, Metrics, OutcomeLabels, ProviderResultLabels, TraceContext,
};

/// How long the dispatcher waits, once woken by new messages, before it claims them.
const WAKE_LINGER: Duration = Duration::from_millis(5);

/// How long a message whose mark could not be written waits before it is claimed again.
const UNMARKED_DELAY: Duration = Duration::from_secs(1);

/// Claims and sends due messages until cancelled.
pub struct Dispatcher {
    pub(super) store: Store,
    transports: Arc<Transports>,
    config: DispatchConfig,
    pub(super) instance: String,
    pub(super) metrics: Arc<Metrics>,
    pub(super) health: Arc<Health>,
    pub(super) wakeups: Wakeups,
    pub(super) clock: Clock,
}

impl Dispatcher {
    /// A dispatcher for `instance`; it waits on `wakeups.dispatcher` for new messages, and
    /// notifies `wakeups.announcer` when it recorded outcomes that have events to publish.
    pub fn new(
        store: Store,
        transports: Arc<Transports>,
        config: DispatchConfig,
        instance: String,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
        wakeups: Wakeups,
    ) -> Dispatcher {
        Dispatcher {
            store,
            transports,
            config,
            instance,
            metrics,
            health,
            wakeups,
            clock: Clock::system(),
        }
    }

    /// The same dispatcher, with messages due by `clock` (real time unless given).
    pub fn with_clock(mut self, clock: Clock) -> Dispatcher {
        self.clock = clock;
        self
    }

    /// Runs until `token` is cancelled, then waits for sends in flight to finish and be recorded.
    pub async fn run(self, token: CancellationToken) {
        let this = Arc::new(self);
        let permits = Arc::new(Semaphore::new(this.config.concurrency));
        let tracker = TaskTracker::new();
        let held = Held::default();
        let (marker, marker_task) = Marker::start(this.store.clone(), this.instance.clone());
        // The heartbeat outlives the senders: leases must stay alive until results are recorded.
        let heartbeat_token = CancellationToken::new();
        let heartbeat = tokio::spawn(lease::heartbeat(
            this.store.clone(),
            this.instance.clone(),
            held.clone(),
            this.config.lease_duration,
            heartbeat_token.clone(),
        ));
        let (results, pending) = mpsc::channel(this.config.concurrency * 2);
        let recorder = tokio::spawn(record_results(
            this.clone(),
            held.clone(),
            pending,
            token.clone(),
        ));
        let resend_safe = this.transports.resend_in_doubt_channels();
        // Reap on start: claims left by a replica that died are the likeliest to be waiting.
        let mut last_reap: Option<Instant> = None;
        let reap_every = this.config.lease_duration / 2;
        let mut backlog = false;

        while !token.is_cancelled() {
            if last_reap.is_none_or(|t| t.elapsed() >= reap_every) {
                this.reap(&held).await;
                last_reap = Some(Instant::now());
            }

            // Claim as many rows as there are free senders: a claimed row waiting for a sender
            // would hold its lease for nothing. With a backlog, wait until half the senders are
            // free, so one claim (one commit) serves many sends; otherwise the first free sender
            // is enough and a new message goes out at once.
            let want = (this.config.batch_size as usize).min(this.config.concurrency);
            let wait_for = if backlog { (want / 2).max(1) } else { 1 };
            let mut free_permits = tokio::select! {
                _ = token.cancelled() => break,
                permit = permits.clone().acquire_many_owned(wait_for as u32) => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            while free_permits.num_permits() < this.config.batch_size as usize {
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => free_permits.merge(permit),
                    Err(_) => break,
                }
            }
            let free = free_permits.num_permits();
            let claimed = match this
                .store
                .claim_due(
                    &this.instance,
                    this.config.lease_duration,
                    free as u32,
                    &resend_safe,
                    this.clock.now(),
                )
                .await
            {
                Ok(rows) => {
                    this.health.database(true);
                    rows
                }
                Err(e) => {
                    this.health.database(false);
                    tracing::warn!(error = %e, "claiming outbox rows failed");
                    Vec::new()
                }
            };
            backlog = claimed.len() == free;
            held.add(claimed.iter().map(|m| m.outbox_id));
            // Permits left over when fewer rows were due go back to the semaphore.
            for message in claimed.into_iter().map(Claim::from) {
                let Some(permit) = free_permits.split(1) else {
                    break;
                };
                let this = this.clone();
                let results = results.clone();
                let marker = marker.clone();
                let token = token.clone();
                let span = tracing::info_span!(
                    "attempt",
                    outbox_id = %message.outbox_id,
                    incident_id = %message.incident_id,
                    channel = %message.outgoing.channel,
                    attempt = message.attempt,
                );
                // The send joins the trace of its incident.
                TraceContext {
                    traceparent: message.traceparent.clone(),
                    tracestate: None,
                }
                .adopt(&span);
                tracker.spawn(
                    async move {
                        this.metrics.sends_in_flight.inc();
                        let outbox_id = message.outbox_id;
                        let attempt = this.deliver_guarded(message, &marker, &token).await;
                        this.metrics.sends_in_flight.dec();
                        drop(permit);
                        // The recorder outlives every sender, so this only fails if it panicked;
                        // then the claim expires and the reaper decides.
                        let finished = Finished {
                            outbox_id,
                            attempt,
                            at: Instant::now(),
                        };
                        if results.send(finished).await.is_err() {
                            tracing::error!("the attempt recorder is gone");
                        }
                    }
                    .instrument(span),
                );
            }
            drop(free_permits);
            if !backlog {
                // Nothing more is due: sleep until woken by new work or the poll interval.
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = this.wakeups.dispatcher.notified() => {
                        // Each recorded incident wakes the dispatcher; under load, lingering a
                        // moment lets one claim (one commit) take the messages of many.
                        tokio::time::sleep(WAKE_LINGER).await;
                    }
                    _ = tokio::time::sleep(this.config.poll_interval) => {}
                }
            }
        }
        tracker.close();
        tracker.wait().await;
        // Every sender has handed in its result; let the recorder write the last batch.
        drop(results);
        drop(marker);
        if let Err(e) = recorder.await {
            tracing::error!(error = %e, "the attempt recorder panicked");
        }
        heartbeat_token.cancel();
        let _ = heartbeat.await;
        let _ = marker_task.await;
        tracing::info!("dispatcher stopped");
    }

    /// Takes back expired claims of other (dead) dispatchers, never this one's own.
    async fn reap(&self, held: &Held) {
        match self.store.reap_expired(&held.ids(), self.clock.now()).await {
            Ok(reaped) if reaped.total() == 0 => {}
            Ok(reaped) => {
                for (fate, n) in [
                    ("released", reaped.released),
                    ("resent", reaped.resent),
                    ("unknown", reaped.unknown),
                ] {
                    self.metrics
                        .leases_reaped
                        .get_or_create(&OutcomeLabels {
                            outcome: fate.to_owned(),
                        })
                        .inc_by(n as u64);
                }
                tracing::warn!(
                    never_sent = reaped.released,
                    in_doubt_sent_again = reaped.resent,
                    in_doubt_unknown = reaped.unknown,
                    "took back expired outbox claims"
                );
            }
            Err(e) => tracing::warn!(error = %e, "reaping expired claims failed"),
        }
    }

    /// [`Self::deliver`], with a panic turned into that message's failure: in doubt, since the
    /// request may have left.
    async fn deliver_guarded(
        &self,
        message: Claim,
        marker: &Marker,
        token: &CancellationToken,
    ) -> Option<FinishedAttempt> {
        let outbox_id = message.outbox_id;
        let channel = message.outgoing.channel;
        let attempt = message.attempt;
        let started_at = Utc::now();
        match crate::health::contain(self.deliver(message, marker, token)).await {
            Ok(finished) => finished,
            Err(why) => {
                self.metrics.panic("sender");
                tracing::error!(panic = %why, "sending panicked");
                let error = format!("sending panicked: {why}");
                let outcome = if self.transports.resends_in_doubt(channel) {
                    self.retry_or_fail(attempt, None, error)
                } else {
                    AttemptOutcome::Unknown { error }
                };
                Some(FinishedAttempt {
                    outbox_id,
                    provider: "none".to_owned(),
                    started_at,
                    outcome,
                    failed_over: Vec::new(),
                })
            }
        }
    }

    /// Sends one message through its channel's providers, failing over at once, and classifies
    /// the outcome; `None` when the claim was lost before anything was sent.
    async fn deliver(
        &self,
        message: Claim,
        marker: &Marker,
        token: &CancellationToken,
    ) -> Option<FinishedAttempt> {
        let started = Utc::now();
        let clock = Instant::now();
        let routes = self.transports.for_channel(message.outgoing.channel);
        let resend_in_doubt = self.transports.resends_in_doubt(message.outgoing.channel);
        let finish = |provider: &str, outcome: AttemptOutcome, failed_over: Vec<String>| {
            Some(FinishedAttempt {
                outbox_id: message.outbox_id,
                provider: provider.to_owned(),
                started_at: started,
                outcome,
                failed_over,
            })
        };
        // Due by day but claimed at night (a retry, a reserve standing in, a claim taken back):
        // nothing leaves, and it waits for the morning without spending an attempt.
        if let Some((until, reason)) = message.held_until(self.clock.now()) {
            tracing::info!(%until, "in the customer's quiet hours; held until they end");
            return finish("none", AttemptOutcome::Held { until, reason }, Vec::new());
        }
        if routes.is_empty() {
            let error = format!("no transport configured for {}", message.outgoing.channel);
            return finish("none", AttemptOutcome::Failed { error }, Vec::new());
        }
        // Providers whose breaker is open are skipped; when every one is, the message waits
        // for the first to cool off rather than going to a provider known to be failing. No
        // request leaves, so this is not an attempt.
        let now = Instant::now();
        let open: Vec<Option<Duration>> = routes.iter().map(|r| r.breaker.open_for(now)).collect();
        if open.iter().all(Option::is_some) {
            let after = open.iter().flatten().min().copied().unwrap_or_default();
            tracing::info!(wait = ?after, "every provider is cooling off; the message waits");
            return finish(
                routes[0].transport.name(),
                AttemptOutcome::Released { after },
                Vec::new(),
            );
        }

        let mut marked = false;
        let mut used = "none";
        // Whether a later attempt may cure the failures so far, and the wait a provider asked for.
        let mut transient = false;
        let mut retry_after: Option<Duration> = None;
        let mut failures: Vec<(&str, String)> = Vec::new();
        let mut outcome: Option<AttemptOutcome> = None;
        for (route, _) in routes.iter().zip(&open).filter(|(_, o)| o.is_none()) {
            // The provider's own bound on sends in flight (the slot is held until its answer is
            // in), then its rate.
            let wait = async {
                let slot = match &route.in_flight {
                    Some(slots) => slots.clone().acquire_owned().await.ok(),
                    None => None,
                };
                if let Some(limiter) = &route.limiter {
                    limiter.until_ready().await;
                }
                slot
            };
            let Some(_slot) = unless_stopping(marked, token, wait).await else {
                let released = AttemptOutcome::Released {
                    after: Duration::ZERO,
                };
                return finish(used, released, named(&failures));
            };
            if !marked {
                match marker.mark(message.outbox_id).await {
                    Mark::Held => marked = true,
                    Mark::Lost => {
                        tracing::warn!("claim lost before sending; another dispatcher has it");
                        return None;
                    }
                    Mark::Failed(e) => {
                        tracing::warn!(error = %e, "could not mark the send as started; not sending");
                        let released = AttemptOutcome::Released {
                            after: UNMARKED_DELAY,
                        };
                        return finish(used, released, named(&failures));
                    }
                }
            }
            used = route.transport.name();
            let send_clock = Instant::now();
            let result = self
                .transports
                .send_with(&route.transport, &message.outgoing)
                .await;
            self.metrics
                .send_seconds
                .get_or_create(&ProviderResultLabels {
                    provider: used.to_owned(),
                    result: if result.is_ok() { "ok" } else { "error" }.to_owned(),
                })
                .observe(send_clock.elapsed().as_secs_f64());
            if route.breaker.record(&result, Instant::now()) {
                tracing::warn!(
                    provider = used,
                    "provider failing repeatedly; skipping it for a while"
                );
            }
            match result {
                Ok(id) => {
                    outcome = Some(AttemptOutcome::Sent {
                        provider_message_id: Some(id),
                    });
                    break;
                }
                Err(e @ SendError::Permanent { .. }) => {
                    outcome = Some(AttemptOutcome::Failed {
                        error: e.to_string(),
                    });
                    break;
                }
                Err(e @ SendError::Unknown { .. }) if !resend_in_doubt => {
                    outcome = Some(AttemptOutcome::Unknown {
                        error: e.to_string(),
                    });
                    break;
                }
                Err(e @ SendError::ProviderRejected { .. }) => {
                    tracing::warn!(provider = used, error = %e, "provider refused; failing over");
                    failures.push((used, e.to_string()));
                }
                Err(e @ SendError::Retryable { .. }) => {
                    tracing::warn!(provider = used, error = %e, "send failed; failing over");
                    if let SendError::Retryable {
                        retry_after: Some(asked),
                        ..
                    } = &e
                    {
                        retry_after = Some(retry_after.map_or(*asked, |r| r.min(*asked)));
                    }
                    transient = true;
                    failures.push((used, e.to_string()));
                }
                Err(e @ SendError::Unknown { .. }) => {
                    // The channel resends messages in doubt: the next provider may send it now.
                    tracing::warn!(provider = used, error = %e, "no answer; failing over");
                    transient = true;
                    failures.push((used, e.to_string()));
                }
            }
        }
        let (outcome, failed_over) = match outcome {
            Some(outcome) => (outcome, named(&failures)),
            // Every provider failed; if one may work later, the message waits for the schedule.
            None => {
                // One provider's failure speaks for itself; several are named each.
                let error = match failures.as_slice() {
                    [(_, only)] => only.clone(),
                    all => named(all).join("; "),
                };
                let outcome = if transient {
                    self.retry_or_fail(message.attempt, retry_after, error)
                } else {
                    AttemptOutcome::Failed { error }
                };
                (outcome, Vec::new())
            }
        };
        self.count(&message, used, &outcome, clock);
        finish(used, outcome, failed_over)
    }

    /// The next retry on the schedule, or a failure when it is exhausted.
    fn retry_or_fail(
        &self,
        attempt: i32,
        retry_after: Option<Duration>,
        why: String,
    ) -> AttemptOutcome {
        let retry = usize::try_from(attempt).unwrap_or(usize::MAX);
        match retry::delay(
            &self.config.retry_schedule,
            retry,
            retry_after,
            &mut rand::rng(),
        ) {
            Some(after) => AttemptOutcome::Retry { after, error: why },
            None => AttemptOutcome::Failed {
                error: format!("gave up after {attempt} attempts: {why}"),
            },
        }
    }

    /// Logs and counts one attempt's outcome.
    fn count(&self, message: &Claim, used: &str, outcome: &AttemptOutcome, clock: Instant) {
        let labels = ChannelLabels {
            channel: message.outgoing.channel.as_str().to_owned(),
            provider: used.to_owned(),
        };
        let kind = match outcome {
            AttemptOutcome::Sent { .. } => {
                self.metrics.messages_sent.get_or_create(&labels).inc();
                tracing::info!(provider = used, elapsed = ?clock.elapsed(), "message sent");
                "sent"
            }
            AttemptOutcome::Retry { after, error } => {
                tracing::warn!(provider = used, error = %error, retry_in = ?after, "every provider failed; will retry");
                "retry"
            }
            AttemptOutcome::Failed { error } => {
                self.metrics.messages_failed.get_or_create(&labels).inc();
                tracing::error!(provider = used, error = %error, "message failed");
                "failed"
            }
            AttemptOutcome::Unknown { error } => {
                tracing::error!(provider = used, error = %error, "message outcome unknown; not resending");
                "unknown"
            }
            AttemptOutcome::Released { .. } => "released",
            AttemptOutcome::Held { .. } => "held",
        };
        self.metrics
            .attempts
            .get_or_create(&AttemptLabels {
                outcome: kind.to_owned(),
                provider: used.to_owned(),
            })
            .inc();
    }
}

/// `provider: error` for each failure.
/// `wait` to its end; but while nothing of the message has left yet (`marked` false), a stop ends
/// it first with `None`, and the message is handed back.
async fn unless_stopping<T>(
    marked: bool,
    token: &CancellationToken,
    wait: impl Future<Output = T>,
) -> Option<T> {
    if marked {
        return Some(wait.await);
    }
    tokio::select! {
        _ = token.cancelled() => None,
        done = wait => Some(done),
    }
}

fn named(failures: &[(&str, String)]) -> Vec<String> {
    failures
        .iter()
        .map(|(provider, error)| format!("{provider}: {error}"))
        .collect()
}

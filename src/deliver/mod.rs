//! The dispatcher: claims due outbox rows with a lease, sends each through its channel's
//! transports, and records every attempt and the final status.
//!
//! A claim is one short statement (no transaction stays open during a send); results are written
//! only while this instance still holds the claim. A reaper hands expired claims back: to pending
//! where the transport makes a resend safe, otherwise to `unknown` for a human.

mod announce;
mod breaker;
pub mod email;
mod error;
mod http;
mod outbox;
mod postmark;
pub mod retry;
mod sendgrid;
mod smtp;
mod twilio;
mod vonage;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub use announce::Announcer;
pub use breaker::{Breaker, BreakerSettings};
pub use email::EmailSender;
pub use error::SendError;
pub use outbox::FileOutbox;
pub use postmark::Postmark;
pub use sendgrid::SendGrid;
pub use smtp::{Smtp, SmtpUrlError};
pub use twilio::Twilio;
pub use vonage::Vonage;

use crate::config::{Config, DispatchConfig, EmailTransportKind, SmsTransportKind};
use crate::policy::Channel;
use crate::store::{AttemptOutcome, ClaimedMessage, FinishedAttempt, Store};
use crate::telemetry::{ChannelLabels, Metrics, OutcomeLabels};

/// A provider that sends email: one send, classified.
pub trait EmailProvider {
    /// The name recorded with attempts and metrics.
    fn name(&self) -> &'static str;
    /// Sends `message` as `sender`; the provider's id for it on success.
    fn send(
        &self,
        message: &ClaimedMessage,
        sender: &EmailSender,
    ) -> impl std::future::Future<Output = Result<String, SendError>> + Send;
}

/// A provider that sends SMS: one send, classified.
pub trait SmsProvider {
    /// The name recorded with attempts and metrics.
    fn name(&self) -> &'static str;
    /// Sends `message`; the provider's id for it on success.
    fn send(
        &self,
        message: &ClaimedMessage,
    ) -> impl std::future::Future<Output = Result<String, SendError>> + Send;
}

/// One configured way to send a channel's messages.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Files in the outbox directory.
    Outbox(FileOutbox),
    /// An SMTP relay.
    Smtp(Smtp),
    /// SendGrid's Mail Send API.
    SendGrid(SendGrid),
    /// Postmark's Email API.
    Postmark(Postmark),
    /// Twilio's Messages API.
    Twilio(Twilio),
    /// Vonage's SMS API.
    Vonage(Vonage),
}

impl Transport {
    /// The name recorded with attempts and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Transport::Outbox(_) => "outbox",
            Transport::Smtp(_) => "smtp",
            Transport::SendGrid(p) => EmailProvider::name(p),
            Transport::Postmark(p) => EmailProvider::name(p),
            Transport::Twilio(p) => SmsProvider::name(p),
            Transport::Vonage(p) => SmsProvider::name(p),
        }
    }

    /// Whether a send cut off by a crash may be repeated without reaching the customer twice.
    /// None of the providers offers an idempotency key for sends, so only the file outbox can.
    pub fn resend_safe(&self) -> bool {
        matches!(self, Transport::Outbox(_))
    }
}

/// A transport with what every sender of the replica shares about it: its rate limiter and its
/// circuit breaker.
#[derive(Debug, Clone)]
struct Route {
    transport: Transport,
    limiter: Option<Arc<governor::DefaultDirectRateLimiter>>,
    breaker: Arc<Breaker>,
}

impl Route {
    fn new(transport: Transport, dispatch: &DispatchConfig) -> Route {
        let rates = &dispatch.max_per_second;
        let per_second = match &transport {
            Transport::Outbox(_) => 0,
            Transport::Smtp(_) => rates.smtp,
            Transport::SendGrid(_) => rates.sendgrid,
            Transport::Postmark(_) => rates.postmark,
            Transport::Twilio(_) => rates.twilio,
            Transport::Vonage(_) => rates.vonage,
        };
        let limiter = std::num::NonZeroU32::new(per_second).map(|n| {
            Arc::new(governor::RateLimiter::direct(governor::Quota::per_second(
                n,
            )))
        });
        Route {
            transport,
            limiter,
            breaker: Arc::new(Breaker::new(BreakerSettings {
                threshold: dispatch.provider_failure_threshold,
                cool_off: dispatch.provider_cool_off,
            })),
        }
    }
}

/// Where providers report what became of each message.
fn webhook(public_url: &url::Url, path: &str) -> url::Url {
    let mut url = public_url.clone();
    let base = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{base}{path}"));
    url
}

/// Senders' identities.
#[derive(Debug, Clone)]
pub struct Senders {
    /// Who emails are from, and their List-Unsubscribe link.
    pub email: EmailSender,
    /// Sender id of SMS.
    pub sms_from: String,
}

/// Transports per channel, in failover order.
#[derive(Debug, Clone)]
pub struct Transports {
    email: Vec<Route>,
    sms: Vec<Route>,
    senders: Senders,
}

impl Transports {
    /// Builds the configured transports.
    pub fn from_config(config: &Config) -> Result<Transports, TransportError> {
        let outbox = FileOutbox::new(&config.outbox_dir);
        let timeout = config.dispatch.send_timeout;
        let missing = |key: &str| TransportError::Config(format!("{key} settings are missing"));
        let email = config
            .email_transports
            .iter()
            .map(|kind| {
                Ok(match kind {
                    EmailTransportKind::Outbox => Transport::Outbox(outbox.clone()),
                    EmailTransportKind::Smtp => {
                        let smtp = config.smtp.as_ref().ok_or_else(|| missing("smtp"))?;
                        Transport::Smtp(Smtp::new(smtp, timeout)?)
                    }
                    EmailTransportKind::SendGrid => {
                        let c = config
                            .sendgrid
                            .as_ref()
                            .ok_or_else(|| missing("sendgrid"))?;
                        Transport::SendGrid(SendGrid::new(c, timeout)?)
                    }
                    EmailTransportKind::Postmark => {
                        let c = config
                            .postmark
                            .as_ref()
                            .ok_or_else(|| missing("postmark"))?;
                        Transport::Postmark(Postmark::new(c, timeout)?)
                    }
                })
            })
            .collect::<Result<Vec<_>, TransportError>>()?;
        let sms = config
            .sms_transports
            .iter()
            .map(|kind| {
                Ok(match kind {
                    SmsTransportKind::Outbox => Transport::Outbox(outbox.clone()),
                    SmsTransportKind::Twilio => {
                        let c = config.twilio.as_ref().ok_or_else(|| missing("twilio"))?;
                        let callback = webhook(&config.public_url, "/webhooks/twilio/status");
                        Transport::Twilio(Twilio::new(c, timeout, callback)?)
                    }
                    SmsTransportKind::Vonage => {
                        let c = config.vonage.as_ref().ok_or_else(|| missing("vonage"))?;
                        let callback = webhook(&config.public_url, "/webhooks/vonage/status");
                        Transport::Vonage(Vonage::new(c, timeout, callback)?)
                    }
                })
            })
            .collect::<Result<Vec<_>, TransportError>>()?;
        let route = |t| Route::new(t, &config.dispatch);
        Ok(Transports {
            email: email.into_iter().map(route).collect(),
            sms: sms.into_iter().map(route).collect(),
            senders: Senders {
                email: EmailSender {
                    from: config.email_from.clone(),
                    list_unsubscribe: config.store.preferences_url.clone(),
                },
                sms_from: config.sms_from.clone(),
            },
        })
    }

    fn for_channel(&self, channel: Channel) -> &[Route] {
        match channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
        }
    }

    /// Sends `message` once through the channel's providers in order, failing over as a real
    /// send does, but with no retry, no breaker and no record: for a person's test message.
    /// The provider used and its id for the message.
    pub async fn send_test(
        &self,
        message: &ClaimedMessage,
    ) -> Result<(&'static str, String), SendError> {
        let mut last = Err(SendError::ProviderRejected {
            message: format!("no transport configured for {}", message.channel),
        });
        for route in self.for_channel(message.channel) {
            match self.send_with(&route.transport, message).await {
                Ok(id) => return Ok((route.transport.name(), id)),
                Err(e @ SendError::ProviderRejected { .. }) => last = Err(e),
                Err(e) => return Err(e),
            }
        }
        last
    }

    /// Channels whose first transport can safely repeat an interrupted send.
    fn resend_safe_channels(&self) -> Vec<Channel> {
        [Channel::Email, Channel::Sms]
            .into_iter()
            .filter(|c| {
                self.for_channel(*c)
                    .iter()
                    .all(|r| r.transport.resend_safe())
            })
            .collect()
    }

    async fn send_with(
        &self,
        transport: &Transport,
        message: &ClaimedMessage,
    ) -> Result<String, SendError> {
        let from = &self.senders.email;
        match (transport, message.channel) {
            (Transport::Outbox(o), Channel::Email) => o.send_email(message, from).await,
            (Transport::Outbox(o), Channel::Sms) => {
                o.send_sms(message, &self.senders.sms_from).await
            }
            (Transport::Smtp(s), Channel::Email) => s.send(message, from).await,
            (Transport::SendGrid(p), Channel::Email) => EmailProvider::send(p, message, from).await,
            (Transport::Postmark(p), Channel::Email) => EmailProvider::send(p, message, from).await,
            (Transport::Twilio(p), Channel::Sms) => SmsProvider::send(p, message).await,
            (Transport::Vonage(p), Channel::Sms) => SmsProvider::send(p, message).await,
            (t, channel) => Err(SendError::ProviderRejected {
                message: format!("{} cannot send {channel}", t.name()),
            }),
        }
    }
}

/// A transport that cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The SMTP URL is unusable.
    #[error(transparent)]
    Smtp(#[from] SmtpUrlError),
    /// An HTTP client could not be built (TLS setup).
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// The configuration lacks a provider's settings.
    #[error("{0}")]
    Config(String),
}

/// Claims and sends due messages until cancelled.
pub struct Dispatcher {
    store: Store,
    transports: Arc<Transports>,
    config: DispatchConfig,
    instance: String,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    announce: Arc<Notify>,
}

impl Dispatcher {
    /// A dispatcher for `instance`; `wake` is notified when new messages were recorded, and the
    /// dispatcher notifies `announce` when it recorded outcomes that have events to publish.
    pub fn new(
        store: Store,
        transports: Transports,
        config: DispatchConfig,
        instance: String,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
        announce: Arc<Notify>,
    ) -> Dispatcher {
        Dispatcher {
            store,
            transports: Arc::new(transports),
            config,
            instance,
            metrics,
            wake,
            announce,
        }
    }

    /// Runs until `token` is cancelled, then waits for sends in flight to finish and be recorded.
    pub async fn run(self, token: CancellationToken) {
        let this = Arc::new(self);
        let permits = Arc::new(Semaphore::new(this.config.concurrency));
        let tracker = TaskTracker::new();
        let (results, pending) = mpsc::channel(this.config.concurrency * 2);
        let recorder = tokio::spawn(record_results(
            this.store.clone(),
            this.instance.clone(),
            pending,
            this.announce.clone(),
        ));
        let resend_safe = this.transports.resend_safe_channels();
        // Reap on start: claims left by a replica that died are the likeliest to be waiting.
        let mut last_reap: Option<Instant> = None;
        let reap_every = this.config.lease_duration / 2;
        let mut backlog = false;

        while !token.is_cancelled() {
            if last_reap.is_none_or(|t| t.elapsed() >= reap_every) {
                match this.store.reap_expired().await {
                    Ok(0) => {}
                    Ok(n) => {
                        this.metrics.leases_reaped.inc_by(n as u64);
                        tracing::warn!(reaped = n, "took back expired outbox claims");
                    }
                    Err(e) => tracing::warn!(error = %e, "reaping expired claims failed"),
                }
                last_reap = Some(Instant::now());
            }

            // Claim as many rows as there are free senders: a claimed row waiting for a sender
            // would hold its lease for nothing. With a backlog, wait until half the senders are
            // free, so one claim (one commit) serves many sends; otherwise the first free sender
            // is enough and a new message goes out at once.
            let want = (this.config.batch_size as usize).min(this.config.concurrency);
            let wait_for = if backlog { (want / 2).max(1) } else { 1 };
            let mut held = tokio::select! {
                _ = token.cancelled() => break,
                permit = permits.clone().acquire_many_owned(wait_for as u32) => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            while held.num_permits() < this.config.batch_size as usize {
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => held.merge(permit),
                    Err(_) => break,
                }
            }
            let free = held.num_permits();
            let claimed = match this
                .store
                .claim_due(
                    &this.instance,
                    this.config.lease_duration,
                    free as u32,
                    &resend_safe,
                )
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming outbox rows failed");
                    Vec::new()
                }
            };
            backlog = claimed.len() == free;
            // Permits left over when fewer rows were due go back to the semaphore with `held`.
            for message in claimed {
                let Some(permit) = held.split(1) else {
                    break;
                };
                let this = this.clone();
                let results = results.clone();
                let span = tracing::info_span!(
                    "attempt",
                    outbox_id = %message.outbox_id,
                    incident_id = %message.incident_id,
                    channel = %message.channel,
                    attempt = message.attempt,
                );
                tracker.spawn(
                    async move {
                        this.metrics.sends_in_flight.inc();
                        let finished = this.deliver(message).await;
                        this.metrics.sends_in_flight.dec();
                        drop(permit);
                        // The recorder outlives every sender, so this only fails if it panicked;
                        // then the claim expires and the reaper decides.
                        if results.send(finished).await.is_err() {
                            tracing::error!("the attempt recorder is gone");
                        }
                    }
                    .instrument(span),
                );
            }
            drop(held);
            if !backlog {
                // Nothing more is due: sleep until woken by new work or the poll interval.
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = this.wake.notified() => {}
                    _ = tokio::time::sleep(this.config.poll_interval) => {}
                }
            }
        }
        tracker.close();
        tracker.wait().await;
        // Every sender has handed in its result; let the recorder write the last batch.
        drop(results);
        if let Err(e) = recorder.await {
            tracing::error!(error = %e, "the attempt recorder panicked");
        }
        tracing::info!("dispatcher stopped");
    }

    /// Sends one message through its transports in order and classifies the outcome.
    async fn deliver(&self, message: ClaimedMessage) -> FinishedAttempt {
        let started = Utc::now();
        let clock = Instant::now();
        let routes = self.transports.for_channel(message.channel);
        let mut used = "none";
        let mut result = Err(SendError::ProviderRejected {
            message: format!("no transport configured for {}", message.channel),
        });
        // Providers whose breaker is open are skipped; when every one is, the message waits
        // for the first to cool off rather than going to a provider known to be failing.
        let open: Vec<Option<Duration>> = routes
            .iter()
            .map(|r| r.breaker.open_for(Instant::now()))
            .collect();
        if !routes.is_empty() && open.iter().all(Option::is_some) {
            let wait = open.iter().flatten().min().copied();
            used = routes[0].transport.name();
            result = Err(SendError::Retryable {
                message: "every provider is cooling off after repeated failures".to_owned(),
                retry_after: wait,
            });
        }
        let usable = routes.iter().zip(&open).filter(|(_, o)| o.is_none());
        let mut remaining = usable.clone().count();
        for (route, _) in usable {
            remaining -= 1;
            used = route.transport.name();
            if let Some(limiter) = &route.limiter {
                limiter.until_ready().await;
            }
            result = self.transports.send_with(&route.transport, &message).await;
            let opened = route.breaker.record(&result, Instant::now());
            if opened {
                tracing::warn!(
                    provider = used,
                    "provider failing repeatedly; skipping it for a while"
                );
            }
            match &result {
                Err(SendError::ProviderRejected { message: why }) => {
                    tracing::warn!(provider = used, error = %why, "provider refused, failing over");
                }
                // This failure took the provider out of use: the next one can try now.
                Err(SendError::Retryable { message: why, .. }) if opened && remaining > 0 => {
                    tracing::warn!(provider = used, error = %why, "failing over");
                }
                _ => break,
            }
        }
        self.metrics
            .send_seconds
            .observe(clock.elapsed().as_secs_f64());

        let outcome = match result {
            Ok(id) => AttemptOutcome::Sent {
                provider_message_id: Some(id),
            },
            Err(SendError::Retryable {
                message: why,
                retry_after,
            }) => {
                let retry = usize::try_from(message.attempt).unwrap_or(usize::MAX);
                match retry::delay(
                    &self.config.retry_schedule,
                    retry,
                    retry_after,
                    &mut rand::rng(),
                ) {
                    Some(after) => AttemptOutcome::Retry { after, error: why },
                    None => AttemptOutcome::Failed {
                        error: format!("gave up after {} attempts: {why}", message.attempt),
                    },
                }
            }
            Err(e @ (SendError::ProviderRejected { .. } | SendError::Permanent { .. })) => {
                AttemptOutcome::Failed {
                    error: e.to_string(),
                }
            }
            Err(e @ SendError::Unknown { .. }) => AttemptOutcome::Unknown {
                error: e.to_string(),
            },
        };

        let labels = ChannelLabels {
            channel: message.channel.as_str().to_owned(),
            provider: used.to_owned(),
        };
        let kind = match &outcome {
            AttemptOutcome::Sent { .. } => {
                self.metrics.messages_sent.get_or_create(&labels).inc();
                tracing::info!(provider = used, "message sent");
                "sent"
            }
            AttemptOutcome::Retry { after, error } => {
                tracing::warn!(provider = used, error = %error, retry_in = ?after, "send failed, will retry");
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
        };
        self.metrics
            .attempts
            .get_or_create(&OutcomeLabels {
                outcome: kind.to_owned(),
            })
            .inc();

        FinishedAttempt {
            outbox_id: message.outbox_id,
            provider: used.to_owned(),
            started_at: started,
            outcome,
        }
    }
}

/// Largest number of results written in one statement.
const RECORD_BATCH: usize = 256;

/// Writes send results in batches, one statement (one commit) for all that are waiting.
///
/// Per-row commits would make the database's commit rate the ceiling of delivery; batching keeps
/// each result's own fence (`claimed_by`) while sharing the commit.
async fn record_results(
    store: Store,
    instance: String,
    mut pending: mpsc::Receiver<FinishedAttempt>,
    announce: Arc<Notify>,
) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while pending.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let mut delay = Duration::from_millis(100);
        let written = loop {
            match store.finish_attempts(&instance, &batch).await {
                Ok(written) => break Some(written),
                // A short database blip must not turn sent messages into "unknown" ones.
                Err(e) if delay <= Duration::from_secs(2) => {
                    tracing::warn!(error = %e, retry_in = ?delay, "recording attempts failed");
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                }
                Err(e) => {
                    tracing::error!(error = %e, count = batch.len(), "recording attempts failed; their claims will expire and the reaper will decide");
                    break None;
                }
            }
        };
        if batch.iter().any(|r| {
            matches!(
                r.outcome,
                AttemptOutcome::Sent { .. } | AttemptOutcome::Failed { .. }
            )
        }) {
            announce.notify_one();
        }
        if let Some(written) = written
            && written.len() < batch.len()
        {
            for lost in batch.iter().filter(|r| !written.contains(&r.outbox_id)) {
                tracing::warn!(outbox_id = %lost.outbox_id, "claim was lost before the result was recorded");
            }
        }
        batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderRates;

    fn dispatch(twilio_per_second: u32) -> DispatchConfig {
        DispatchConfig {
            batch_size: 50,
            concurrency: 16,
            poll_interval: Duration::from_millis(250),
            lease_duration: Duration::from_secs(60),
            retry_schedule: vec![Duration::from_secs(1)],
            send_timeout: Duration::from_secs(30),
            provider_failure_threshold: 5,
            provider_cool_off: Duration::from_secs(30),
            max_per_second: ProviderRates {
                smtp: 0,
                sendgrid: 100,
                postmark: 50,
                twilio: twilio_per_second,
                vonage: 30,
            },
        }
    }

    #[test]
    fn each_route_gets_its_providers_rate_and_the_outbox_none() {
        let outbox = Route::new(
            Transport::Outbox(FileOutbox::new(std::path::Path::new("var/outbox"))),
            &dispatch(1),
        );
        assert!(outbox.limiter.is_none());
        let config = crate::config::TwilioConfig {
            account_sid: "AC1".into(),
            auth_token: secrecy::SecretString::from("t"),
            from: "+15550001111".into(),
            base_url: url::Url::parse("http://127.0.0.1:9").unwrap(),
        };
        let callback = url::Url::parse("http://127.0.0.1/webhooks/twilio/status").unwrap();
        let twilio =
            Transport::Twilio(Twilio::new(&config, Duration::from_secs(1), callback).unwrap());
        let limited = Route::new(twilio.clone(), &dispatch(1));
        let limiter = limited.limiter.expect("a limiter");
        // One message a second: the second in the same instant must wait.
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err());
        assert!(Route::new(twilio, &dispatch(0)).limiter.is_none());
    }

    #[test]
    fn webhook_urls_keep_the_public_path() {
        let base = url::Url::parse("https://shop.example/amends/").unwrap();
        assert_eq!(
            webhook(&base, "/webhooks/twilio/status").as_str(),
            "https://shop.example/amends/webhooks/twilio/status"
        );
        let bare = url::Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            webhook(&bare, "/webhooks/vonage/status").as_str(),
            "http://127.0.0.1:8080/webhooks/vonage/status"
        );
    }
}

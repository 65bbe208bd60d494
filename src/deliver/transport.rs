//! Transports: the providers of each channel in failover order, each with the rate limiter and
//! circuit breaker every sender of the replica shares.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::{
    Breaker, BreakerSettings, EmailSender, FileOutbox, Outgoing, Postmark, SendError, SendGrid,
    Smtp, SmtpUrlError, Twilio, Vonage,
};
use crate::config::{
    Config, DispatchConfig, EmailTransportKind, InDoubt, InDoubtRule, SmsTransportKind,
};
use crate::policy::Channel;

/// A provider that sends email: one send, classified.
pub trait EmailProvider {
    /// The name recorded with attempts and metrics.
    fn name(&self) -> &'static str;
    /// Sends `message` as `sender`; the provider's id for it on success.
    fn send(
        &self,
        message: &Outgoing,
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
        message: &Outgoing,
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
    /// None of the providers offers an idempotency key for sends, so only the file outbox can
    /// (it writes the same file again).
    pub fn resend_safe(&self) -> bool {
        matches!(self, Transport::Outbox(_))
    }
}

/// A transport with what every sender of the replica shares about it: its bound on sends in
/// flight, its rate limiter and its circuit breaker.
#[derive(Debug, Clone)]
pub(super) struct Route {
    pub(super) transport: Transport,
    pub(super) in_flight: Option<Arc<Semaphore>>,
    pub(super) limiter: Option<Arc<governor::DefaultDirectRateLimiter>>,
    pub(super) breaker: Arc<Breaker>,
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
        let bounds = &dispatch.max_in_flight;
        let in_flight = match &transport {
            Transport::Outbox(_) => bounds.outbox,
            Transport::Smtp(_) => bounds.smtp,
            Transport::SendGrid(_) => bounds.sendgrid,
            Transport::Postmark(_) => bounds.postmark,
            Transport::Twilio(_) => bounds.twilio,
            Transport::Vonage(_) => bounds.vonage,
        };
        // A bound at or above the replica's own adds nothing but a wait.
        let in_flight = (in_flight > 0 && in_flight < dispatch.concurrency)
            .then(|| Arc::new(Semaphore::new(in_flight)));
        let limiter = std::num::NonZeroU32::new(per_second).map(|n| {
            Arc::new(governor::RateLimiter::direct(governor::Quota::per_second(
                n,
            )))
        });
        Route {
            transport,
            in_flight,
            limiter,
            breaker: Arc::new(Breaker::new(BreakerSettings {
                threshold: dispatch.provider_failure_threshold,
                cool_off: dispatch.provider_cool_off,
            })),
        }
    }
}

/// Where providers report what became of each message: `path` under the public URL, keeping
/// any path the public URL has (amends behind a reverse proxy's prefix).
pub fn callback_url(public_url: &url::Url, path: &str) -> url::Url {
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
    in_doubt: InDoubt,
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
                        let callback = callback_url(&config.public_url, "/webhooks/twilio/status");
                        Transport::Twilio(Twilio::new(c, timeout, callback)?)
                    }
                    SmsTransportKind::Vonage => {
                        let c = config.vonage.as_ref().ok_or_else(|| missing("vonage"))?;
                        let callback = callback_url(&config.public_url, "/webhooks/vonage/status");
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
            in_doubt: config.dispatch.in_doubt,
        })
    }

    pub(super) fn for_channel(&self, channel: Channel) -> &[Route] {
        match channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
        }
    }

    /// Each configured provider's name and whether its circuit breaker is open at `now`; one
    /// serving both channels (the file outbox) is open when either of its breakers is.
    pub fn breakers_open(&self, now: std::time::Instant) -> Vec<(&'static str, bool)> {
        let mut open: Vec<(&'static str, bool)> = Vec::new();
        for route in self.email.iter().chain(&self.sms) {
            let name = route.transport.name();
            let is_open = route.breaker.open_for(now).is_some();
            match open.iter_mut().find(|(n, _)| *n == name) {
                Some((_, seen)) => *seen |= is_open,
                None => open.push((name, is_open)),
            }
        }
        open
    }

    /// Sends `message` once through the channel's providers in order, failing over as a real
    /// send does, through the same rate limiters and circuit breakers, but with no retry and no
    /// record: for a person's test message. The provider used and its id for the message.
    pub async fn send_test(&self, message: &Outgoing) -> Result<(&'static str, String), SendError> {
        let mut last = Err(SendError::ProviderRejected {
            message: format!("no transport configured for {}", message.channel),
        });
        let now = std::time::Instant::now();
        for route in self.for_channel(message.channel) {
            if let Some(wait) = route.breaker.open_for(now) {
                last = Err(SendError::ProviderRejected {
                    message: format!(
                        "{} is failing repeatedly and cools off for {}s more",
                        route.transport.name(),
                        wait.as_secs()
                    ),
                });
                continue;
            }
            if let Some(limiter) = &route.limiter {
                limiter.until_ready().await;
            }
            let result = self.send_with(&route.transport, message).await;
            route.breaker.record(&result, std::time::Instant::now());
            match result {
                Ok(id) => return Ok((route.transport.name(), id)),
                Err(e @ SendError::ProviderRejected { .. }) => last = Err(e),
                Err(e) => return Err(e),
            }
        }
        last
    }

    /// Whether a message of `channel` whose request may have reached its provider is sent again
    /// (the channel's in-doubt rule; always where every transport is the file outbox).
    pub(super) fn resends_in_doubt(&self, channel: Channel) -> bool {
        let rule = match channel {
            Channel::Email => self.in_doubt.email,
            Channel::Sms => self.in_doubt.sms,
        };
        rule == InDoubtRule::Resend
            || self
                .for_channel(channel)
                .iter()
                .all(|r| r.transport.resend_safe())
    }

    /// The channels whose messages in doubt are sent again.
    pub(super) fn resend_in_doubt_channels(&self) -> Vec<Channel> {
        [Channel::Email, Channel::Sms]
            .into_iter()
            .filter(|c| self.resends_in_doubt(*c))
            .collect()
    }

    pub(super) async fn send_with(
        &self,
        transport: &Transport,
        message: &Outgoing,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{ProviderInFlight, ProviderRates};

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
            max_in_flight: ProviderInFlight {
                outbox: 0,
                smtp: 4,
                sendgrid: 16,
                postmark: 16,
                twilio: 2,
                vonage: 16,
            },
            in_doubt: InDoubt {
                email: InDoubtRule::Resend,
                sms: InDoubtRule::Unknown,
            },
        }
    }

    fn outbox() -> Transport {
        Transport::Outbox(FileOutbox::new(std::path::Path::new("var/outbox")))
    }

    fn twilio() -> Transport {
        let config = crate::config::TwilioConfig {
            account_sid: "AC1".into(),
            auth_token: secrecy::SecretString::from("t"),
            from: "+15550001111".into(),
            base_url: url::Url::parse("http://127.0.0.1:9").unwrap(),
        };
        let callback = url::Url::parse("http://127.0.0.1/webhooks/twilio/status").unwrap();
        Transport::Twilio(Twilio::new(&config, Duration::from_secs(1), callback).unwrap())
    }

    #[test]
    fn each_route_gets_its_providers_rate_and_the_outbox_none() {
        let outbox = Route::new(outbox(), &dispatch(1));
        assert!(outbox.limiter.is_none());
        let twilio = twilio();
        let limited = Route::new(twilio.clone(), &dispatch(1));
        let limiter = limited.limiter.expect("a limiter");
        // One message a second: the second in the same instant must wait.
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err());
        assert!(Route::new(twilio, &dispatch(0)).limiter.is_none());
    }

    #[test]
    fn each_route_gets_its_providers_bound_on_sends_in_flight() {
        let outbox = Route::new(outbox(), &dispatch(1));
        // 0: only the replica's own bound applies.
        assert!(outbox.in_flight.is_none());
        let twilio = twilio();
        let bounded = Route::new(twilio.clone(), &dispatch(1));
        let slots = bounded.in_flight.expect("a bound");
        assert_eq!(slots.available_permits(), 2);
        // A provider bound as high as the replica's (16 here) is no bound at all.
        let mut wide = dispatch(1);
        wide.max_in_flight.twilio = 16;
        assert!(Route::new(twilio, &wide).in_flight.is_none());
    }

    #[test]
    fn webhook_urls_keep_the_public_path() {
        let base = url::Url::parse("https://shop.example/amends/").unwrap();
        assert_eq!(
            callback_url(&base, "/webhooks/twilio/status").as_str(),
            "https://shop.example/amends/webhooks/twilio/status"
        );
        let bare = url::Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            callback_url(&bare, "/webhooks/vonage/status").as_str(),
            "http://127.0.0.1:8080/webhooks/vonage/status"
        );
    }
}

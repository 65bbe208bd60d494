//! The outbox: lease-based claims, fenced results, and the reaper of expired claims.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreError};
use crate::policy::Channel;

/// A message claimed for sending by this instance.
#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    /// Outbox row id.
    pub outbox_id: Uuid,
    /// Incident it belongs to.
    pub incident_id: Uuid,
    /// Channel it goes out on.
    pub channel: Channel,
    /// Email address or E.164 number.
    pub recipient: String,
    /// Display name for the email `To` header.
    pub recipient_name: Option<String>,
    /// Customer locale.
    pub locale: String,
    /// Email subject.
    pub subject: Option<String>,
    /// Plain text body.
    pub body_text: String,
    /// HTML body.
    pub body_html: Option<String>,
    /// This claim's attempt number, starting at 1.
    pub attempt: i32,
    /// The quiet hours of the customer's day it must not be sent in (`21:00-08:00`), if any.
    pub quiet_hours: Option<String>,
    /// The customer's time zone, that of the quiet hours.
    pub timezone: Option<String>,
    /// The W3C traceparent of its incident's trace, if any.
    pub traceparent: Option<String>,
}

/// How one send attempt ended, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// Delivered to the provider.
    Sent {
        /// The provider's id for the message, if it gave one.
        provider_message_id: Option<String>,
    },
    /// Failed for now; try again after the delay.
    Retry {
        /// Delay before the next attempt.
        after: Duration,
        /// Why it failed.
        error: String,
    },
    /// Failed for good.
    Failed {
        /// Why.
        error: String,
    },
    /// It may or may not have been sent; a human must look.
    Unknown {
        /// Why it is unknown.
        error: String,
    },
    /// Handed back before any request left (shutdown, a lost mark): due again after the delay,
    /// and the claim does not count as an attempt.
    Released {
        /// Delay before it is due again.
        after: Duration,
    },
    /// Claimed in the customer's quiet hours (a retry, or a message held in reserve standing in
    /// late at night): nothing sent, due again when they end; not an attempt.
    Held {
        /// When the quiet hours end.
        until: DateTime<Utc>,
        /// Why it waits, as the console shows it.
        reason: String,
    },
}

/// What the reaper did with the expired claims it took back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reaped {
    /// Messages whose request never left: simply due again.
    pub released: usize,
    /// Messages in doubt on a channel that resends them (email: the same Message-ID).
    pub resent: usize,
    /// Messages in doubt left `unknown` for a person (SMS without an idempotency key).
    pub unknown: usize,
}

impl Reaped {
    /// Every message taken back.
    pub fn total(&self) -> usize {
        self.released + self.resent + self.unknown
    }
}

/// The outcome of one send, ready to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedAttempt {
    /// Outbox row id.
    pub outbox_id: Uuid,
    /// Transport that handled it.
    pub provider: String,
    /// When the attempt started.
    pub started_at: DateTime<Utc>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The providers this attempt failed over from, and why, e.g. `sendgrid: transient: HTTP
    /// 500`; recorded with the attempt even when the next provider sent it.
    pub failed_over: Vec<String>,
}

impl FinishedAttempt {
    /// The error recorded with the attempt: the outcome's own, after the providers failed over
    /// from.
    fn error(&self) -> Option<String> {
        let own = match &self.outcome {
            AttemptOutcome::Sent { .. } | AttemptOutcome::Released { .. } => None,
            AttemptOutcome::Held { reason, .. } => Some(reason.as_str()),
            AttemptOutcome::Retry { error, .. }
            | AttemptOutcome::Failed { error }
            | AttemptOutcome::Unknown { error } => Some(error.as_str()),
        };
        if self.failed_over.is_empty() {
            return own.map(str::to_owned);
        }
        let before = format!("failed over from {}", self.failed_over.join("; "));
        Some(match own {
            Some(own) => format!("{own} ({before})"),
            None => before,
        })
    }
}

impl Store {
    /// Claims up to `limit` messages due at `now` for `instance` for `lease`.
    ///
    /// `resend_safe` lists the channels whose messages are sent again when a crash leaves them in
    /// doubt (their request may have reached the provider).
    pub async fn claim_due(
        &self,
        instance: &str,
        lease: Duration,
        limit: u32,
        resend_safe: &[Channel],
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        let safe: Vec<String> = resend_safe.iter().map(|c| c.as_str().to_owned()).collect();
        let rows = sqlx::query_file!(
            "src/store/queries/claim_due.sql",
            instance,
            lease.as_secs_f64(),
            i64::from(limit),
            &safe,
            now,
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let channel = r
                    .channel
                    .parse::<Channel>()
                    .map_err(|e| StoreError::Encode {
                        what: "outbox channel",
                        message: e.to_string(),
                    })?;
                Ok(ClaimedMessage {
                    outbox_id: r.outbox_id,
                    incident_id: r.incident_id,
                    channel,
                    recipient: r.recipient,
                    recipient_name: r.recipient_name,
                    locale: r.locale,
                    subject: r.subject,
                    body_text: r.body_text,
                    body_html: r.body_html,
                    attempt: r.attempts,
                    quiet_hours: r.quiet_hours,
                    timezone: r.timezone,
                    traceparent: r.traceparent,
                })
            })
            .collect()
    }

    /// Records how a batch of attempts ended, in one statement; messages due again are due from
    /// `now` (the daemon's clock) on.
    ///
    /// Returns the ids actually written; a missing id means that claim was lost (another
    /// dispatcher owns the message now) and nothing was written for it.
    pub async fn finish_attempts(
        &self,
        instance: &str,
        results: &[FinishedAttempt],
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let mut ids = Vec::with_capacity(results.len());
        let mut providers = Vec::with_capacity(results.len());
        let mut message_ids: Vec<Option<String>> = Vec::with_capacity(results.len());
        let mut outcomes = Vec::with_capacity(results.len());
        let mut errors: Vec<Option<String>> = Vec::with_capacity(results.len());
        let mut due: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(results.len());
        let mut started = Vec::with_capacity(results.len());
        for result in results {
            let later = |after: &Duration| {
                chrono::Duration::from_std(*after)
                    .ok()
                    .and_then(|after| now.checked_add_signed(after))
                    .unwrap_or(now)
            };
            let (kind, message_id, due_at) = match &result.outcome {
                AttemptOutcome::Sent {
                    provider_message_id,
                } => ("sent", provider_message_id.clone(), None),
                AttemptOutcome::Retry { after, .. } => ("retry", None, Some(later(after))),
                AttemptOutcome::Failed { .. } => ("failed", None, None),
                AttemptOutcome::Unknown { .. } => ("unknown", None, None),
                AttemptOutcome::Released { after } => ("released", None, Some(later(after))),
                AttemptOutcome::Held { until, .. } => ("held", None, Some(*until)),
            };
            let error = result.error();
            ids.push(result.outbox_id);
            providers.push(result.provider.clone());
            message_ids.push(message_id);
            outcomes.push(kind.to_owned());
            errors.push(error);
            due.push(due_at);
            started.push(result.started_at);
        }
        let rows = sqlx::query_file!(
            "src/store/queries/finish_attempts.sql",
            instance,
            &ids,
            &providers,
            &message_ids as &[Option<String>],
            &outcomes,
            &errors as &[Option<String>],
            &due as &[Option<DateTime<Utc>>],
            &started,
            now,
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.outbox_id).collect())
    }

    /// Marks `ids`, claimed by `instance`, as having a request on its way to a provider; returns
    /// those still claimed. A message missing from the result must not be sent.
    pub async fn mark_started(
        &self,
        instance: &str,
        ids: &[Uuid],
    ) -> Result<Vec<Uuid>, StoreError> {
        let rows = sqlx::query_file!("src/store/queries/mark_started.sql", instance, ids)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| r.outbox_id).collect())
    }

    /// Extends `instance`'s claims on `ids` to `lease` from now; returns those still held.
    pub async fn extend_leases(
        &self,
        instance: &str,
        ids: &[Uuid],
        lease: Duration,
    ) -> Result<Vec<Uuid>, StoreError> {
        let rows = sqlx::query_file!(
            "src/store/queries/extend_leases.sql",
            instance,
            ids,
            lease.as_secs_f64()
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.outbox_id).collect())
    }

    /// Takes back expired claims, except on `held` (the caller's own messages in progress); one
    /// due again is due at `now`.
    pub async fn reap_expired(
        &self,
        held: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<Reaped, StoreError> {
        let rows = sqlx::query_file!("src/store/queries/reap_expired.sql", held, now)
            .fetch_all(&self.pool)
            .await?;
        let mut reaped = Reaped::default();
        for row in rows {
            match row.fate.as_str() {
                "released" => reaped.released += 1,
                "resent" => reaped.resent += 1,
                _ => reaped.unknown += 1,
            }
        }
        Ok(reaped)
    }
}

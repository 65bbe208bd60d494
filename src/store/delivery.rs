//! What providers report after a send (delivery events and each message's latest status), and
//! the suppression list.
//!
//! Three rules keep provider events honest whatever order or how often they arrive:
//! - each event carries the provider's own id for it, recorded once: the same event again
//!   changes nothing (no row, no status, no suppression, no outcome event);
//! - a message's delivery status only moves forward ([`status_rank`], [`supersedes`]);
//! - a suppression remembers who put it there and why, and an opt-in lifts only what the same
//!   provider's opt-out did ([`Lift`]).
//!
//! A webhook request's events and what they cause are written in one [`DeliveryTx`].

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Store, StoreError};
use crate::policy::Channel;

/// One event a provider reported about a message.
#[derive(Debug, Clone)]
pub struct DeliveryReport<'a> {
    /// Our outbox id, when the provider echoes it.
    pub outbox_id: Option<Uuid>,
    /// Which provider reported it.
    pub provider: &'a str,
    /// The provider's id for the message.
    pub provider_message_id: Option<&'a str>,
    /// The provider's id for this event (SendGrid's `sg_event_id`, Twilio's `MessageSid` with
    /// the status, ...): an event already recorded under it is not recorded again.
    pub provider_event_id: &'a str,
    /// Our word for the status: `delivered`, `bounced`, `failed`, `opened`, `complained`, …
    pub status: &'a str,
    /// The provider's reason, when it gave one.
    pub detail: Option<&'a str>,
    /// The event as received.
    pub payload: &'a serde_json::Value,
    /// When the provider says it happened.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Why a contact is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressionReason {
    /// The address does not exist.
    HardBounce,
    /// The customer marked a message as spam.
    SpamComplaint,
    /// The customer unsubscribed through the provider.
    Unsubscribed,
    /// The customer replied STOP.
    Stop,
    /// A person decided so.
    Manual,
}

impl SuppressionReason {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionReason::HardBounce => "hard_bounce",
            SuppressionReason::SpamComplaint => "spam_complaint",
            SuppressionReason::Unsubscribed => "unsubscribed",
            SuppressionReason::Stop => "stop",
            SuppressionReason::Manual => "manual",
        }
    }
}

/// A suppression in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// `email` or `sms`.
    pub channel: String,
    /// The address or number.
    pub contact: String,
    /// Why (`hard_bounce`, `spam_complaint`, `unsubscribed`, `stop`, `manual`).
    pub reason: String,
    /// Who put it there: a provider, or for `manual` the person (`cli` from the command line).
    pub source: String,
    /// The provider's or person's words.
    pub detail: Option<String>,
    /// When it was last set or refreshed.
    pub updated_at: DateTime<Utc>,
}

/// A contact as the suppression list keys it: email addresses in lower case.
pub fn contact_key(channel: Channel, contact: &str) -> String {
    match channel {
        Channel::Email => contact.trim().to_lowercase(),
        Channel::Sms => contact.trim().to_owned(),
    }
}

/// Who lifts a suppression, and so which suppressions they may lift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lift<'a> {
    /// A provider's opt-in (Twilio `START`, Postmark's reactivation): lifts only that provider's
    /// own suppression for `reason` (its opt-out), never another provider's, a bounce's, a
    /// complaint's or a person's.
    Provider {
        /// The provider, as it is named in the suppression's `source`.
        provider: &'a str,
        /// The reason of the suppression its opt-in answers.
        reason: SuppressionReason,
    },
    /// A person (console or command line): lifts every suppression of the contact.
    Person {
        /// Who, as recorded in `lifted_by`.
        who: &'a str,
    },
}

/// The rank of a delivery status: a message's status is only replaced by one of higher rank (or
/// of the same rank that happened no earlier, see [`supersedes`]). Progress runs queued <
/// sent < delivered < opened < clicked; the lasting bad outcomes (bounced, failed, undelivered,
/// ..., unsubscribed, complained) rank above all of it, so a late `delivered` or `opened` never
/// undoes them, while a complaint after an open does count. A soft bounce or deferral ranks as
/// `sent`: the delivery that follows it is progress. Statuses we do not know rank 0.
pub fn status_rank(status: &str) -> i16 {
    match status {
        "queued" | "accepted" | "scheduled" | "processed" | "sending" => 10,
        "sent" | "buffered" | "deferred" | "soft_bounced" => 20,
        "delivered" | "partially_delivered" => 30,
        "opened" | "read" => 40,
        "clicked" => 50,
        "bounced" | "failed" | "undelivered" | "dropped" | "blocked" | "expired" | "rejected"
        | "canceled" => 100,
        "unsubscribed" => 110,
        "complained" => 120,
        _ => 0,
    }
}

/// Whether a reported status (`rank`, happened at `at` when the provider says) replaces the
/// message's current one (`current`: its rank and when it happened; `None` when it has none).
/// `record_delivery.sql` applies exactly this in its update's condition.
pub fn supersedes(
    rank: i16,
    at: Option<DateTime<Utc>>,
    current: Option<(i16, Option<DateTime<Utc>>)>,
) -> bool {
    match current {
        None => true,
        Some((current_rank, current_at)) => {
            rank > current_rank
                || (rank == current_rank
                    && match (at, current_at) {
                        (Some(at), Some(current_at)) => at >= current_at,
                        _ => true,
                    })
        }
    }
}

/// What recording one provider event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The message it is about, when we know it.
    pub outbox_id: Option<Uuid>,
    /// False when the same event (same provider event id) had been recorded before: then
    /// nothing was changed, and the caller must not act on it again either.
    pub new: bool,
    /// Whether an outcome event was queued (a lasting failure of a sent message).
    pub announced: bool,
}

/// One webhook request's writes: its events and the suppressions they put or lift, committed
/// together or not at all (dropped without [`DeliveryTx::commit`], it rolls back).
pub struct DeliveryTx {
    tx: Transaction<'static, Postgres>,
}

impl DeliveryTx {
    /// Records a provider's event as instance `instance` (the source of the outcome event a
    /// lasting failure is announced with).
    pub async fn record(
        &mut self,
        instance: &str,
        report: &DeliveryReport<'_>,
    ) -> Result<Recorded, StoreError> {
        let row = sqlx::query_file!(
            "src/store/queries/record_delivery.sql",
            report.outbox_id,
            report.provider,
            report.provider_message_id,
            report.status,
            report.detail,
            report.payload.to_string(),
            report.occurred_at,
            instance,
            report.provider_event_id,
            status_rank(report.status),
        )
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(Recorded {
            outbox_id: row.outbox_id,
            new: row.inserted > 0,
            announced: row.announced > 0,
        })
    }

    /// Suppresses `contact` on `channel` as `source` for `reason` (see [`Store::suppress`]).
    pub async fn suppress(
        &mut self,
        channel: Channel,
        contact: &str,
        reason: SuppressionReason,
        source: &str,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query_file!(
            "src/store/queries/suppress.sql",
            channel.as_str(),
            contact_key(channel, contact),
            reason.as_str(),
            source,
            detail,
        )
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Lifts what `lift` may lift of `contact`'s suppressions on `channel`; how many it lifted.
    pub async fn lift(
        &mut self,
        channel: Channel,
        contact: &str,
        lift: Lift<'_>,
    ) -> Result<usize, StoreError> {
        let (lifted_by, provider, reason) = match lift {
            Lift::Provider { provider, reason } => {
                (provider, Some(provider), Some(reason.as_str()))
            }
            Lift::Person { who } => (who, None, None),
        };
        let rows = sqlx::query_file!(
            "src/store/queries/lift_suppression.sql",
            channel.as_str(),
            contact_key(channel, contact),
            lifted_by,
            provider,
            reason,
        )
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows.len())
    }

    /// Makes every write of this request permanent.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Starts the writes of one webhook request.
    pub async fn begin_delivery(&self) -> Result<DeliveryTx, StoreError> {
        Ok(DeliveryTx {
            tx: self.pool.begin().await?,
        })
    }

    /// Records one provider event on its own (see [`DeliveryTx::record`]).
    pub async fn record_delivery(
        &self,
        instance: &str,
        report: &DeliveryReport<'_>,
    ) -> Result<Recorded, StoreError> {
        let mut tx = self.begin_delivery().await?;
        let recorded = tx.record(instance, report).await?;
        tx.commit().await?;
        Ok(recorded)
    }

    /// Suppresses `contact` on `channel`, as `source` (a provider, or for
    /// [`SuppressionReason::Manual`] the person) for `reason`. It stands beside any other
    /// suppression of the contact; the same author's for the same reason is refreshed.
    pub async fn suppress(
        &self,
        channel: Channel,
        contact: &str,
        reason: SuppressionReason,
        source: &str,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_delivery().await?;
        tx.suppress(channel, contact, reason, source, detail)
            .await?;
        tx.commit().await
    }

    /// Lifts what `lift` may lift of `contact`'s suppressions on `channel`; true when it lifted
    /// any. The contact stays suppressed while another suppression remains in force.
    pub async fn lift_suppression(
        &self,
        channel: Channel,
        contact: &str,
        lift: Lift<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_delivery().await?;
        let lifted = tx.lift(channel, contact, lift).await?;
        tx.commit().await?;
        Ok(lifted > 0)
    }

    /// The suppressions in force, newest first, at most `limit`.
    pub async fn suppressions(&self, limit: i64) -> Result<Vec<Suppression>, StoreError> {
        let rows = sqlx::query_file_as!(
            Suppression,
            "src/store/queries/list_suppressions.sql",
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<DateTime<Utc>> {
        Some(s.parse().expect("a time"))
    }

    /// Whether `next` replaces `current` when both carry no time.
    fn replaces(current: &str, next: &str) -> bool {
        supersedes(status_rank(next), None, Some((status_rank(current), None)))
    }

    #[test]
    fn progress_only_moves_forward() {
        let order = ["queued", "sent", "delivered", "opened", "clicked"];
        for (i, earlier) in order.iter().enumerate() {
            for later in &order[i + 1..] {
                assert!(replaces(earlier, later), "{later} after {earlier}");
                assert!(!replaces(later, earlier), "{earlier} after {later}");
            }
        }
        assert!(supersedes(status_rank("queued"), None, None));
    }

    #[test]
    fn lasting_bad_outcomes_are_never_undone_by_progress() {
        for bad in [
            "bounced",
            "failed",
            "undelivered",
            "dropped",
            "blocked",
            "expired",
            "rejected",
            "complained",
            "unsubscribed",
        ] {
            for good in [
                "queued",
                "sent",
                "delivered",
                "opened",
                "clicked",
                "soft_bounced",
            ] {
                assert!(!replaces(bad, good), "{good} after {bad}");
                assert!(replaces(good, bad), "{bad} after {good}");
            }
        }
        // A complaint is worse news than the bounce of the same message, not the other way.
        assert!(replaces("bounced", "complained"));
        assert!(!replaces("complained", "bounced"));
    }

    #[test]
    fn a_soft_bounce_then_delivery_is_progress() {
        assert!(replaces("soft_bounced", "delivered"));
        assert!(replaces("deferred", "delivered"));
        assert!(!replaces("delivered", "soft_bounced"));
    }

    #[test]
    fn the_same_rank_goes_by_when_it_happened() {
        let opened = status_rank("opened");
        let current = Some((opened, at("2026-12-01T10:00:00Z")));
        assert!(supersedes(opened, at("2026-12-01T10:05:00Z"), current));
        assert!(!supersedes(opened, at("2026-12-01T09:55:00Z"), current));
        // Without a time on either side, the later report wins.
        assert!(supersedes(opened, None, current));
        assert!(supersedes(
            opened,
            at("2026-12-01T09:55:00Z"),
            Some((opened, None))
        ));
        // A time never lets a lower rank through.
        assert!(!supersedes(
            status_rank("delivered"),
            at("2026-12-02T00:00:00Z"),
            current
        ));
    }

    #[test]
    fn unknown_statuses_change_only_a_message_without_one() {
        assert_eq!(status_rank("resubscribed"), 0);
        assert!(supersedes(0, None, None));
        assert!(!replaces("queued", "something new"));
    }
}

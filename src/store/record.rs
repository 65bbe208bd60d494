//! The record step, in one transaction per incident:
//!
//! 1. lock the customer (advisory, to commit), so their history cannot change under us;
//! 2. insert the incident, or find it is a duplicate, and read the history in the same statement;
//! 3. (the caller decides, and reserves the global budget outside the transaction);
//! 4. write decision, messages, ledger, escalation and outcome events in one statement; commit.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::{AssertSqlSafe, Postgres, Transaction};
use uuid::Uuid;

use super::{Store, StoreError};
use crate::incident::{Currency, Incident};
use crate::policy::{Channel, Decision, DeclinedOffer, History, Offer, PriorIncident};

/// A rendered message to queue for sending.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Id of the outbox row, also the file name or provider reference of the message.
    pub outbox_id: Uuid,
    /// Channel it goes out on.
    pub channel: Channel,
    /// Email address or E.164 phone number.
    pub recipient: String,
    /// Display name for the email `To` header.
    pub recipient_name: Option<String>,
    /// Email subject.
    pub subject: Option<String>,
    /// Plain text (email text part, or the SMS).
    pub body_text: String,
    /// Email HTML part.
    pub body_html: Option<String>,
    /// The message this one is held in reserve for: sent only if that one fails.
    pub standby_for: Option<Uuid>,
    /// When it may go out: the decision's time, or later (a rule's delay, quiet hours).
    pub due_at: DateTime<Utc>,
    /// The quiet hours of the customer's day it is never sent in (`21:00-08:00`), if any.
    pub quiet_hours: Option<String>,
    /// Why it waits past the decision, when it does (shown as "scheduled").
    pub scheduled_reason: Option<String>,
}

/// What replacing an earlier incident's waiting messages did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Superseded {
    /// The earlier incident.
    pub incident_id: Uuid,
    /// How many of its waiting messages were cancelled (besides those held in reserve for them).
    pub cancelled: i64,
    /// Whether any other message of it is on its way or out: the customer heard of it.
    pub heard: bool,
}

/// The windows the history is read over.
#[derive(Debug, Clone, Copy)]
pub struct HistoryWindows {
    /// `history.incidents` and `history.messages`.
    pub history: Duration,
    /// Compensation counted against the per-customer cap.
    pub customer: Duration,
}

/// Everything recorded for an incident after the decision.
#[derive(Debug)]
pub struct Outcome<'a> {
    /// What the policy decided.
    pub decision: &'a Decision,
    /// The explanation, budget lines included.
    pub explanation: serde_json::Value,
    /// The offers given, with their codes.
    pub offers: &'a [Offer],
    /// Why the offers given are a fallback, when they are.
    pub fallback_reason: Option<String>,
    /// Offers the budget refused.
    pub declined: Vec<DeclinedOffer>,
    /// Why a person should follow up, if they should.
    pub escalation: Option<String>,
    /// The rendered messages.
    pub messages: Vec<NewMessage>,
    /// Which template texts they were rendered with.
    pub template_version: &'a str,
    /// This replica's name: the `source` of the outcome events.
    pub instance: &'a str,
    /// The customer's time zone, the one their messages' quiet hours are read in.
    pub timezone: &'a str,
}

/// An incident being recorded: the open transaction holding the customer's lock.
pub struct IncidentTx {
    tx: Transaction<'static, Postgres>,
    incident_id: Uuid,
}

impl std::fmt::Debug for IncidentTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentTx")
            .field("incident_id", &self.incident_id)
            .finish()
    }
}

/// What the record step found when it began.
#[derive(Debug)]
pub enum Begun {
    /// A new incident; decide, then [`IncidentTx::finish`].
    New(IncidentTx, History),
    /// The (source, id) was already recorded; nothing was stored.
    Duplicate,
}

/// The statement that begins an incident's transaction and takes its customer's lock.
///
/// Serialises the incidents of one customer for the rest of the transaction, so the history read
/// next (per-customer caps, one apology per order) cannot change under us. A transaction-level
/// advisory lock: released at commit or rollback, never left behind. Sent as one simple query
/// with `BEGIN`, which cannot take parameters: the id goes in hex-encoded, so no byte of it can
/// end the literal.
fn lock_customer(customer_id: &str) -> String {
    format!(
        "begin; select pg_advisory_xact_lock(hashtextextended('amends.customer:' || \
         convert_from(decode('{}', 'hex'), 'UTF8'), 0))",
        hex::encode(customer_id)
    )
}

/// `what`, a `numeric` read as text (`12.0000`), as the amount it is (`12`).
fn decimal(what: &'static str, text: &str) -> Result<Decimal, StoreError> {
    text.parse::<Decimal>()
        .map(|d| d.normalize())
        .map_err(|e| StoreError::Encode {
            what,
            message: e.to_string(),
        })
}

/// Encodes a value for a jsonb parameter.
fn json<T: serde::Serialize>(
    what: &'static str,
    value: &T,
) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Encode {
        what,
        message: e.to_string(),
    })
}

/// An event as it arrived: its body, and the trace it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// The CloudEvent as received (stored whole, so any decision can be explained later).
    pub payload: &'a str,
    /// The W3C traceparent the incident is recorded under, if any.
    pub traceparent: Option<&'a str>,
}

impl Store {
    /// Begins recording `incident`: locks its customer, inserts it, reads its history.
    pub async fn begin_incident(
        &self,
        incident_id: Uuid,
        incident: &Incident,
        received: Received<'_>,
        windows: HistoryWindows,
        budget_day: NaiveDate,
    ) -> Result<Begun, StoreError> {
        // BEGIN and the lock travel together: one round trip instead of two.
        let mut tx = self
            .pool
            .begin_with(AssertSqlSafe(lock_customer(&incident.customer.id)))
            .await?;
        let currency = incident.order.total.currency();
        let row = sqlx::query_file!(
            "src/store/queries/insert_incident.sql",
            incident_id,
            incident.key.source(),
            incident.key.id(),
            incident.event_type.as_str(),
            incident.order.id,
            incident.customer.id,
            received.payload,
            incident.time,
            windows.history.as_secs_f64(),
            currency.code(),
            windows.customer.as_secs_f64(),
            incident
                .customer
                .email
                .as_ref()
                .map(|e| e.as_str().to_lowercase()),
            incident.customer.phone.as_ref().map(|p| p.as_str()),
            budget_day,
            received.traceparent,
        )
        .fetch_one(&mut *tx)
        .await?;
        if row.inserted == 0 {
            tx.rollback().await?;
            return Ok(Begun::Duplicate);
        }
        let decode = |what: &'static str, message: String| StoreError::Encode { what, message };
        let mut order_incidents: Vec<PriorIncident> =
            serde_json::from_value(row.order_incidents)
                .map_err(|e| decode("order history", e.to_string()))?;
        // numeric(20, 4) comes back as 19.4900: show and compute it as the amount it is.
        for prior in &mut order_incidents {
            prior.given = prior.given.normalize();
        }
        let history = History {
            incidents: row.customer_incidents,
            messages: row.customer_messages,
            compensation: decimal("customer compensation", &row.customer_compensation)?,
            order_incidents,
            budget_spent_today: decimal("budget spent", &row.budget_spent)?,
            suppressed: row
                .suppressed
                .iter()
                .filter_map(|c| c.parse::<Channel>().ok())
                .collect(),
        };
        Ok(Begun::New(IncidentTx { tx, incident_id }, history))
    }

    /// Reserves `amount` from day `day`'s budget in `currency` if the day's total stays within
    /// `limit`: the new total, or `None` when it would not.
    pub async fn reserve_budget(
        &self,
        day: NaiveDate,
        currency: Currency,
        amount: Decimal,
        limit: Decimal,
    ) -> Result<Option<Decimal>, StoreError> {
        let total = sqlx::query_file_scalar!(
            "src/store/queries/reserve_budget.sql",
            day,
            currency.code(),
            amount.to_string(),
            limit.to_string(),
        )
        .fetch_optional(&self.pool)
        .await?;
        total.map(|t| decimal("budget total", &t)).transpose()
    }

    /// What day `day` has reserved from its budget in `currency`.
    pub async fn budget_spent(
        &self,
        day: NaiveDate,
        currency: Currency,
    ) -> Result<Decimal, StoreError> {
        let spent =
            sqlx::query_file_scalar!("src/store/queries/budget_spent.sql", day, currency.code())
                .fetch_one(&self.pool)
                .await?;
        decimal("budget spent", &spent)
    }

    /// Returns `amount`, reserved from day `day`'s budget in `currency` and not given.
    pub async fn release_budget(
        &self,
        day: NaiveDate,
        currency: Currency,
        amount: Decimal,
    ) -> Result<(), StoreError> {
        sqlx::query_file!(
            "src/store/queries/release_budget.sql",
            day,
            currency.code(),
            amount.to_string()
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl IncidentTx {
    /// The incident's id.
    pub fn incident_id(&self) -> Uuid {
        self.incident_id
    }

    /// Cancels the still-waiting messages (pending, never attempted, and those held in reserve
    /// for them) of the earlier incidents `replaced`, because this incident replaces them, and
    /// says for each what was cancelled and whether the customer heard of it anyway.
    pub async fn supersede(
        &mut self,
        replaced: &[Uuid],
        reason: &str,
    ) -> Result<Vec<Superseded>, StoreError> {
        if replaced.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query_file!(
            "src/store/queries/supersede.sql",
            replaced,
            self.incident_id,
            reason
        )
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Superseded {
                incident_id: r.incident_id,
                cancelled: r.cancelled,
                heard: r.heard,
            })
            .collect())
    }

    /// Records nothing after all: rolls the transaction back, the incident's row with it (an
    /// event the policy ignores is not an incident).
    pub async fn abandon(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }

    /// Writes everything decided, to be committed with [`IncidentTx::commit`]; returns how many
    /// messages were queued.
    pub async fn finish(
        &mut self,
        incident: &Incident,
        outcome: Outcome<'_>,
    ) -> Result<i64, StoreError> {
        let decision = outcome.decision;
        let channels: Vec<String> = decision
            .channels
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect();
        let skipped = json("skipped channels", &decision.skipped_map())?;
        let offers = json("offers", &outcome.offers)?;
        let send_at: DateTime<Utc> = decision.send_at;

        // Columns as arrays for unnest(); the messages are moved, not copied (bodies are large).
        let count = outcome.messages.len();
        let mut ids = Vec::with_capacity(count);
        let mut msg_channels = Vec::with_capacity(count);
        let mut recipients = Vec::with_capacity(count);
        let mut names: Vec<Option<String>> = Vec::with_capacity(count);
        let mut subjects: Vec<Option<String>> = Vec::with_capacity(count);
        let mut texts = Vec::with_capacity(count);
        let mut htmls: Vec<Option<String>> = Vec::with_capacity(count);
        let mut standby_for: Vec<Option<Uuid>> = Vec::with_capacity(count);
        let mut due: Vec<DateTime<Utc>> = Vec::with_capacity(count);
        let mut quiet: Vec<Option<String>> = Vec::with_capacity(count);
        let mut scheduled: Vec<Option<String>> = Vec::with_capacity(count);
        for m in outcome.messages {
            ids.push(m.outbox_id);
            msg_channels.push(m.channel.as_str().to_owned());
            recipients.push(m.recipient);
            names.push(m.recipient_name);
            subjects.push(m.subject);
            texts.push(m.body_text);
            htmls.push(m.body_html);
            standby_for.push(m.standby_for);
            due.push(m.due_at);
            quiet.push(m.quiet_hours);
            scheduled.push(m.scheduled_reason);
        }

        // The ledger: issued codes, then declined offers.
        let mut comp_ids = Vec::new();
        let mut kinds = Vec::new();
        let mut statuses = Vec::new();
        let mut codes: Vec<Option<String>> = Vec::new();
        let mut amounts: Vec<Option<String>> = Vec::new();
        let mut percents: Vec<Option<String>> = Vec::new();
        let mut costs = Vec::new();
        let mut expiries: Vec<Option<DateTime<Utc>>> = Vec::new();
        let mut reasons: Vec<Option<String>> = Vec::new();
        let issued = outcome
            .offers
            .iter()
            .filter(|o| o.kind.issues_code())
            .map(|o| (o, "issued", outcome.fallback_reason.clone()));
        let declined = outcome
            .declined
            .iter()
            .filter(|d| d.offer.kind.issues_code())
            .map(|d| (&d.offer, "declined", Some(d.reason.clone())));
        for (offer, status, reason) in issued.chain(declined) {
            comp_ids.push(Uuid::now_v7());
            kinds.push(offer.kind.as_str().to_owned());
            statuses.push(status.to_owned());
            codes.push(if status == "issued" {
                offer.code.clone()
            } else {
                None
            });
            amounts.push(offer.amount.map(|m| m.amount().to_string()));
            percents.push(offer.percent.map(|p| p.to_string()));
            costs.push(offer.cost.amount().to_string());
            expiries.push(offer.expires_at);
            reasons.push(reason);
        }

        let row = sqlx::query_file!(
            "src/store/queries/finish_incident.sql",
            self.incident_id,
            decision.rule,
            decision.template,
            &channels,
            skipped,
            decision.unreachable(),
            send_at,
            decision.policy_version,
            outcome.explanation,
            offers,
            decision.coalesced,
            outcome.escalation,
            incident.customer.locale.to_string(),
            &ids,
            &msg_channels,
            &recipients,
            &names as &[Option<String>],
            &subjects as &[Option<String>],
            &texts,
            &htmls as &[Option<String>],
            incident.customer.id,
            incident.order.id,
            incident.order.total.currency().code(),
            &comp_ids,
            &kinds,
            &statuses,
            &codes as &[Option<String>],
            &amounts as &[Option<String>],
            &percents as &[Option<String>],
            &costs,
            &expiries as &[Option<DateTime<Utc>>],
            &reasons as &[Option<String>],
            Uuid::now_v7(),
            outcome.instance,
            incident.key.source(),
            incident.key.id(),
            incident.event_type.as_str(),
            &standby_for as &[Option<Uuid>],
            outcome.template_version,
            &due,
            &quiet as &[Option<String>],
            &scheduled as &[Option<String>],
            outcome.timezone,
        )
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.queued)
    }

    /// Commits what [`IncidentTx::finish`] wrote.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::lock_customer;

    #[test]
    fn the_customer_id_reaches_the_lock_only_hex_encoded() {
        let statement = lock_customer("c-1'); drop table incident; --");
        assert!(!statement.contains("drop table"), "{statement}");
        assert_eq!(statement.matches('\'').count(), 8, "{statement}");
        assert!(statement.starts_with("begin; select pg_advisory_xact_lock("));
        assert!(statement.contains(&hex::encode("c-1'); drop table incident; --")));
    }
}

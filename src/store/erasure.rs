//! Erasing personal data (docs/privacy.md): incidents older than the retention, and everything
//! of a customer who asks to be forgotten. What is erased is gone; amounts, codes, decisions and
//! counts stay for the ledger, and a forgotten customer's suppressions stay as a keyed hash.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreError};

/// The advisory lock the retention job takes, so one replica at a time erases.
const RETENTION_LOCK: i64 = 0x616d_656e_6473_0001;

/// What one erasure did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// Incidents whose event lost its contact details and names.
    pub incidents: i64,
    /// Messages whose recipient, subject and bodies were erased.
    pub messages: i64,
    /// Provider receipts whose payload was erased.
    pub receipts: i64,
    /// Order watches removed.
    pub watches: i64,
}

/// What `amends forget` did for one customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// What the customer's id became (`forgotten:` and a keyed hash): how the ledger and the
    /// audit record name them now.
    pub pseudonym: String,
    /// What was erased of the customer's incidents and messages.
    pub erased: Erased,
    /// Messages still waiting that will now never be sent.
    pub cancelled: i64,
    /// Suppressions now kept as the hash of the contact.
    pub suppressions: i64,
    /// Ledger rows (compensation) whose customer id is now a hash.
    pub compensation: i64,
    /// Orders no longer watched for their promised date (the watch keeps contact details).
    pub watches: i64,
    /// The customer's messages the file outbox wrote (channel, message id): their files are
    /// for the caller to remove, the database holds no path to them any more.
    pub outbox_files: Vec<(String, Uuid)>,
}

impl Store {
    /// Erases the personal data of up to `limit` incidents created before `before`; `None` when
    /// another replica is erasing now.
    pub async fn erase_older_than(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Option<Erased>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mine = sqlx::query_scalar!(
            r#"select pg_try_advisory_xact_lock($1) as "locked!""#,
            RETENTION_LOCK
        )
        .fetch_one(&mut *tx)
        .await?;
        if !mine {
            return Ok(None);
        }
        let ids =
            sqlx::query_file_scalar!("src/store/queries/incidents_to_erase.sql", before, limit)
                .fetch_all(&mut *tx)
                .await?;
        let mut erased = erase(&mut tx, &ids).await?;
        // A watch untouched for as long as the retention is over: nothing more will come of it.
        erased.watches = i64::try_from(
            sqlx::query!(
                "delete from order_watch where order_id in
                   (select order_id from order_watch where updated_at < $1 limit $2)",
                before,
                limit
            )
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        )
        .unwrap_or(i64::MAX);
        tx.commit().await?;
        Ok(Some(erased))
    }

    /// Erases everything personal of customer `customer_id`, in one transaction: their
    /// incidents' contact details, names and messages, waiting messages cancelled, their
    /// suppressions and ledger rows keyed by a hash instead of the contact or the id.
    pub async fn forget_customer(&self, customer_id: &str) -> Result<Forgotten, StoreError> {
        let mut tx = self.pool().begin().await?;
        let ids = sqlx::query_scalar!(
            "select incident_id from incident where customer_id = $1 for update",
            customer_id
        )
        .fetch_all(&mut *tx)
        .await?;
        let outbox_files = sqlx::query!(
            "select channel, outbox_id from outbox
             where incident_id = any($1) and provider = 'outbox' and sent_at is not null",
            &ids
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (r.channel, r.outbox_id))
        .collect();
        let contacts = sqlx::query_file!("src/store/queries/customer_contacts.sql", &ids)
            .fetch_all(&mut *tx)
            .await?;
        let (channels, contacts): (Vec<String>, Vec<String>) =
            contacts.into_iter().map(|c| (c.channel, c.contact)).unzip();
        let suppressions = sqlx::query_file_scalar!(
            "src/store/queries/forget_suppressions.sql",
            &channels,
            &contacts
        )
        .fetch_one(&mut *tx)
        .await?;
        let cancelled = sqlx::query!(
            "update outbox set status = 'cancelled', updated_at = now(),
                    cancelled_reason = 'the customer asked to be forgotten'
             where incident_id = any($1) and status in ('pending', 'standby')",
            &ids
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let erased = erase(&mut tx, &ids).await?;
        sqlx::query!(
            "update incident
             set customer_id = amends_forgotten('customer', customer_id),
                 payload = jsonb_set(payload, '{data,customer,id}',
                                     to_jsonb(amends_forgotten('customer', customer_id)))
             where incident_id = any($1)",
            &ids
        )
        .execute(&mut *tx)
        .await?;
        // The outcome events name the customer by id (and a failure may quote a provider's
        // error, which can hold the address).
        sqlx::query!(
            "update outcome_event
             set data = (data - 'error')
                        || jsonb_build_object('customer_id', amends_forgotten('customer', $1))
             where data ->> 'customer_id' = $1",
            customer_id
        )
        .execute(&mut *tx)
        .await?;
        // People's notes on an escalation may name the customer.
        sqlx::query!(
            "update escalation set note = null where incident_id = any($1) and note is not null",
            &ids
        )
        .execute(&mut *tx)
        .await?;
        let compensation = sqlx::query!(
            "update compensation set customer_id = amends_forgotten('customer', customer_id)
             where customer_id = $1",
            customer_id
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let watches = sqlx::query!(
            "delete from order_watch where customer_id = $1",
            customer_id
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let pseudonym = sqlx::query_scalar!(
            r#"select amends_forgotten('customer', $1) as "pseudonym!""#,
            customer_id
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Forgotten {
            pseudonym,
            erased,
            cancelled: i64::try_from(cancelled).unwrap_or(i64::MAX),
            suppressions,
            compensation: i64::try_from(compensation).unwrap_or(i64::MAX),
            watches: i64::try_from(watches).unwrap_or(i64::MAX),
            outbox_files,
        })
    }
}

/// Erases the personal data of incidents `ids` in `tx`.
async fn erase(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ids: &[Uuid],
) -> Result<Erased, StoreError> {
    if ids.is_empty() {
        return Ok(Erased::default());
    }
    let row = sqlx::query_file!("src/store/queries/erase_incidents.sql", ids)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Erased {
        incidents: row.incidents,
        messages: row.messages,
        receipts: row.receipts,
        watches: 0,
    })
}

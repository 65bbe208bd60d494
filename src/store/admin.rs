//! The console's sessions, kept here so every replica sees a sign-out at once, and the audit
//! record of who did what in the console and the admin API.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};

/// A console session in force, as stored.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// Who signed in, as configured.
    pub person: String,
    /// The hash of their configured entry when they signed in.
    pub fingerprint: String,
    /// When the session was last used (recorded about once a minute).
    pub last_seen_at: DateTime<Utc>,
    /// When it ends, however busy.
    pub expires_at: DateTime<Utc>,
}

/// A new session, by the hash of its id.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// SHA-256 of the session id the cookie carries.
    pub id_hash: &'a [u8],
    /// Who.
    pub person: &'a str,
    /// The hash of their configured entry.
    pub fingerprint: &'a str,
    /// When it begins.
    pub created_at: DateTime<Utc>,
    /// When it ends, however busy.
    pub expires_at: DateTime<Utc>,
}

/// One action to record.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// Who: the signed-in person's name, or `api` for the bearer token.
    pub actor: &'a str,
    /// What, e.g. `template.publish`.
    pub action: &'a str,
    /// What it was done to; never a contact in full.
    pub subject: Option<&'a str>,
    /// More about it; contacts masked.
    pub detail: serde_json::Value,
    /// Where the request came from.
    pub client_address: Option<&'a str>,
}

/// One recorded action.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// Its place in the record; later actions have larger ids.
    pub id: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// What it was done to.
    pub subject: Option<String>,
    /// More about it.
    pub detail: serde_json::Value,
    /// Where the request came from.
    pub client_address: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Which part of the audit record to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries older than this id.
    pub before: Option<i64>,
    /// Only this person's (any case).
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// At most this many.
    pub limit: i64,
}

impl Store {
    /// Stores a new console session.
    pub async fn create_session(&self, session: &NewSession<'_>) -> Result<(), StoreError> {
        sqlx::query_file!(
            "src/store/queries/insert_session.sql",
            session.id_hash,
            session.person,
            session.fingerprint,
            session.created_at,
            session.expires_at,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session whose id hashes to `id_hash`, unless it was revoked.
    pub async fn session(&self, id_hash: &[u8]) -> Result<Option<SessionRecord>, StoreError> {
        let row =
            sqlx::query_file_as!(SessionRecord, "src/store/queries/find_session.sql", id_hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row)
    }

    /// Records that the session was used at `now`.
    pub async fn touch_session(
        &self,
        id_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query_file!("src/store/queries/touch_session.sql", id_hash, now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends one session; true when it was in force.
    pub async fn revoke_session(
        &self,
        id_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query_file!("src/store/queries/revoke_session.sql", id_hash, now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends every session of `person`; how many were in force.
    pub async fn revoke_person_sessions(
        &self,
        person: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query_file!("src/store/queries/revoke_person_sessions.sql", person, now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Deletes sessions revoked, past `now`, or idle since before `idle_since`; how many.
    pub async fn purge_sessions(
        &self,
        now: DateTime<Utc>,
        idle_since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query_file!("src/store/queries/purge_sessions.sql", now, idle_since)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Records one action.
    pub async fn audit(&self, entry: &AuditEntry<'_>) -> Result<(), StoreError> {
        sqlx::query_file!(
            "src/store/queries/insert_audit.sql",
            entry.actor,
            entry.action,
            entry.subject,
            entry.detail,
            entry.client_address,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The audit record, newest first, as `query` says.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query_file_as!(
            AuditRecord,
            "src/store/queries/list_audit.sql",
            query.before,
            query.actor,
            query.action,
            query.limit,
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}

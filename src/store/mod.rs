//! PostgreSQL: incidents, decisions, the compensation ledger and budgets, escalations, the outbox
//! and its attempts, outcome events, the console's sessions and the audit record.
//!
//! Every statement lives in `queries/` as one `.sql` file, checked at compile time by sqlx
//! against the migrations (offline data in `.sqlx/`). The rest of the crate sees typed functions
//! only, never tables.

mod admin;
mod console;
mod delivery;
mod erasure;
mod events;
mod gauges;
mod migrations;
mod outbox;
mod record;
mod templates;
mod watch;

use std::str::FromStr;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

pub use admin::{AuditEntry, AuditQuery, AuditRecord, NewSession, SessionRecord};
pub use console::{
    AttemptRecord, AttentionRecord, BudgetDayRecord, CompensationRecord, CustomerGivenRecord,
    DecisionRecord, DeliveryEventRecord, EscalationRecord, IncidentRecord, IncidentSearch,
    IncidentSummary, MessageRecord, Overview, TemplateEditSummary,
};
pub use delivery::{
    DeliveryReport, DeliveryTx, Lift, Recorded, Suppression, SuppressionReason, contact_key,
    status_rank, supersedes,
};
pub use erasure::{Erased, Forgotten};
pub use events::OutcomeEvent;
pub use gauges::OutboxCount;
pub use migrations::{DatabaseStatus, MigrationInfo, MigrationStatus, inspect};
pub use outbox::{AttemptOutcome, ClaimedMessage, FinishedAttempt, Reaped};
pub use record::{Begun, HistoryWindows, IncidentTx, NewMessage, Outcome, Received, Superseded};
pub use templates::{Publish, PublishedTemplate, TEMPLATES_CHANNEL, TemplateEdit};
pub use watch::{DueWatch, OPEN_STATES, PromiseNews, WatchMark, WatchNews, WatchRecord};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL does not parse.
    #[error("invalid database URL: {0}")]
    Url(#[source] sqlx::Error),
    /// The database could not be created.
    #[error("cannot create database: {0}")]
    Create(#[source] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed (connection, timeout, constraint).
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A value could not be encoded for the database.
    #[error("cannot encode {what}: {message}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why it failed.
        message: String,
    },
}

/// A constraint of the schema that work may run into, by what it means: the one place that
/// knows the constraints' names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// A generated coupon code was already taken.
    CodeTaken,
    /// Another edit of the same template took the version or the draft first.
    TemplateEditRaced,
}

impl Violation {
    fn of(constraint: &str) -> Option<Violation> {
        match constraint {
            "compensation_code_key" => Some(Violation::CodeTaken),
            "template_edit_name_version_key"
            | "template_edit_published_key"
            | "template_edit_draft_key" => Some(Violation::TemplateEditRaced),
            _ => None,
        }
    }
}

impl StoreError {
    /// The constraint this error violated, when it is one that work may run into.
    pub fn violation(&self) -> Option<Violation> {
        match self {
            StoreError::Query(sqlx::Error::Database(db)) => db.constraint().and_then(Violation::of),
            _ => None,
        }
    }

    /// True when the database named in the URL does not exist (SQLSTATE 3D000): nothing has
    /// created it yet (`amends migrate` or `amends run` does).
    pub fn is_missing_database(&self) -> bool {
        matches!(self, StoreError::Query(sqlx::Error::Database(db)) if db.code().as_deref() == Some("3D000"))
    }

    /// True when a generated coupon code was already taken (the unique ledger constraint): the
    /// caller retries with new codes.
    pub fn is_code_taken(&self) -> bool {
        self.violation() == Some(Violation::CodeTaken)
    }

    /// True when the database could not be reached or used at all (no connection, the pool timed
    /// out, the server is shutting down or starting up): the failure says nothing about the work
    /// being done, which will succeed unchanged once the database is back.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Query(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                // Class 08: connection exception; 57P01-57P03: shutting down or starting up;
                // 53300: too many connections.
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    code.starts_with("08")
                        || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
                }),
                _ => false,
            },
            _ => false,
        }
    }

    /// The database's reason when it refused the data itself (SQLSTATE class 22, "data
    /// exception", e.g. a `\u0000` in JSON), as opposed to failing to run the statement.
    pub fn rejected_data(&self) -> Option<String> {
        match self {
            StoreError::Query(sqlx::Error::Database(db))
                if db.code().is_some_and(|code| code.starts_with("22")) =>
            {
                Some(db.message().to_owned())
            }
            _ => None,
        }
    }
}

/// The migrations embedded in this binary: what `migrate` applies and `inspect` compares with.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Handle to the database, cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

/// Queries that run longer than this are cancelled by the server: nothing amends does should.
const STATEMENT_TIMEOUT: &str = "15s";

impl Store {
    /// Creates the database if missing, connects a pool of `max_connections` and migrates it.
    pub async fn open(
        url: &secrecy::SecretString,
        max_connections: u32,
        application_name: &str,
    ) -> Result<Store, StoreError> {
        let url = url.expose_secret();
        if !Postgres::database_exists(url)
            .await
            .map_err(StoreError::Create)?
        {
            match Postgres::create_database(url).await {
                Ok(()) => tracing::info!("created database"),
                // Another replica may have created it between our check and our create.
                Err(e) if Postgres::database_exists(url).await.unwrap_or(false) => {
                    tracing::debug!(error = %e, "database created concurrently")
                }
                Err(e) => return Err(StoreError::Create(e)),
            }
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(StoreError::Url)?
            .application_name(application_name)
            .options([("statement_timeout", STATEMENT_TIMEOUT)]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            // A ping before every acquire costs one round trip per transaction; a broken
            // connection fails its query instead, which the caller retries anyway.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations; concurrent replicas serialise on sqlx's advisory lock.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query_scalar!("select 1 as \"one!\"")
            .fetch_one(&self.pool)
            .await
            .is_ok()
    }

    /// A handle on the same database with a pool of `max_connections` of its own, for work that
    /// must never queue for a connection behind another's: the dispatcher's marks and records
    /// wait for no event being recorded, which keeps the window in which a crash leaves a sent
    /// message in doubt short.
    pub fn with_own_pool(&self, max_connections: u32) -> Store {
        let options = (*self.pool.connect_options()).clone();
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .connect_lazy_with(options);
        Store { pool }
    }

    /// The underlying pool, for tests and benchmarks that inspect tables directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

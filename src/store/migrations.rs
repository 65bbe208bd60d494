//! What a database holds of the migrations embedded in this binary, read without changing
//! anything: for `amends doctor`, which must never create or migrate what it inspects.
//!
//! These few statements run with `sqlx::query` rather than the checked macros: they read sqlx's
//! own table and the server's settings, not amends' schema, so there is nothing to check them
//! against at compile time.

use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::Migrate;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use super::{MIGRATOR, StoreError};

/// One migration, by version and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationInfo {
    /// Its version (the timestamp of its file name).
    pub version: i64,
    /// Its description (the rest of its file name).
    pub description: String,
}

/// How the migrations applied to a database compare with those embedded in this binary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Migrations embedded in this binary.
    pub embedded: usize,
    /// Migrations recorded as applied (successfully or not) in the database.
    pub applied: usize,
    /// Embedded migrations the database has not applied, oldest first.
    pub pending: Vec<MigrationInfo>,
    /// The first migration that failed part-way and left the database dirty.
    pub dirty: Option<i64>,
    /// Applied migrations whose file changed since (their checksum differs).
    pub changed: Vec<i64>,
    /// Applied migrations this binary does not know (a newer amends migrated the database).
    pub unknown: Vec<i64>,
}

impl MigrationStatus {
    /// Compares `embedded` (version, description, checksum) with `applied` (version, checksum)
    /// and the first `dirty` version, as sqlx's migrator would before running.
    pub fn compare(
        embedded: &[(i64, &str, &[u8])],
        applied: &[(i64, Vec<u8>)],
        dirty: Option<i64>,
    ) -> MigrationStatus {
        let applied_checksum =
            |version: i64| applied.iter().find(|(v, _)| *v == version).map(|(_, c)| c);
        let mut status = MigrationStatus {
            embedded: embedded.len(),
            applied: applied.len(),
            dirty,
            ..MigrationStatus::default()
        };
        for (version, description, checksum) in embedded {
            match applied_checksum(*version) {
                None => status.pending.push(MigrationInfo {
                    version: *version,
                    description: (*description).to_owned(),
                }),
                // A dirty migration's checksum says nothing: it is reported as dirty.
                Some(recorded) if recorded.as_slice() != *checksum && dirty != Some(*version) => {
                    status.changed.push(*version)
                }
                Some(_) => {}
            }
        }
        status.unknown = applied
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| !embedded.iter().any(|(e, _, _)| e == v))
            .collect();
        status
    }

    /// True when the database is exactly as this binary's migrations leave it.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty()
            && self.dirty.is_none()
            && self.changed.is_empty()
            && self.unknown.is_empty()
    }
}

/// What `amends doctor` learns of the database.
#[derive(Debug, Clone)]
pub struct DatabaseStatus {
    /// The server's version, as it reports it.
    pub server_version: String,
    /// The migrations, compared with this binary's.
    pub migrations: MigrationStatus,
}

/// Connects to `url` (creating nothing) and compares its migrations with this binary's.
pub async fn inspect(
    url: &SecretString,
    application_name: &str,
) -> Result<DatabaseStatus, StoreError> {
    let options = PgConnectOptions::from_str(url.expose_secret())
        .map_err(StoreError::Url)?
        .application_name(application_name)
        .options([("statement_timeout", "5s")]);
    let mut connection = PgConnection::connect_with(&options).await?;
    let server_version: String = sqlx::query_scalar(include_str!("queries/server_version.sql"))
        .fetch_one(&mut connection)
        .await?;
    let has_table: bool = sqlx::query_scalar(include_str!("queries/migrations_table_exists.sql"))
        .fetch_one(&mut connection)
        .await?;
    let (applied, dirty) = if has_table {
        let table = &MIGRATOR.table_name;
        let dirty = connection.dirty_version(table).await?;
        let applied = connection
            .list_applied_migrations(table)
            .await?
            .into_iter()
            .map(|m| (m.version, m.checksum.into_owned()))
            .collect();
        (applied, dirty)
    } else {
        (Vec::new(), None)
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), connection.close()).await;
    let embedded: Vec<(i64, &str, &[u8])> = MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| (m.version, m.description.as_ref(), m.checksum.as_ref()))
        .collect();
    Ok(DatabaseStatus {
        server_version,
        migrations: MigrationStatus::compare(&embedded, &applied, dirty),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMBEDDED: &[(i64, &str, &[u8])] = &[(1, "incidents", b"a"), (2, "outbox", b"b")];

    #[test]
    fn a_fresh_database_has_every_migration_pending() {
        let status = MigrationStatus::compare(EMBEDDED, &[], None);
        assert_eq!(status.pending.len(), 2);
        assert_eq!(status.pending[0].description, "incidents");
        assert!(!status.is_current());
    }

    #[test]
    fn a_migrated_database_is_current() {
        let applied = vec![(1, b"a".to_vec()), (2, b"b".to_vec())];
        let status = MigrationStatus::compare(EMBEDDED, &applied, None);
        assert!(status.is_current(), "{status:?}");
        assert_eq!((status.embedded, status.applied), (2, 2));
    }

    #[test]
    fn edited_unknown_and_dirty_migrations_are_told_apart() {
        let applied = vec![
            (1, b"edited".to_vec()),
            (2, b"x".to_vec()),
            (3, b"c".to_vec()),
        ];
        let status = MigrationStatus::compare(EMBEDDED, &applied, Some(2));
        assert_eq!(status.changed, vec![1]);
        assert_eq!(status.dirty, Some(2));
        assert_eq!(status.unknown, vec![3]);
        assert!(status.pending.is_empty());
        assert!(!status.is_current());
    }
}

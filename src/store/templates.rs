//! Edited template texts: every version of every file, the published one of each, and the
//! notification that tells every replica to reload.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};

/// The channel replicas listen on for published template changes.
pub const TEMPLATES_CHANNEL: &str = "amends_templates";

/// The published version of one template file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedTemplate {
    /// The file's name under the templates directory, e.g. `order-delayed/sms.es.hbs`.
    pub name: String,
    /// Its version number.
    pub version: i32,
    /// Its text.
    pub body: String,
}

/// What became of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// Published as this version.
    Published(i32),
    /// Not published: another version (0: the shipped file) came into force since the one the
    /// text was based on.
    Stale {
        /// The version in force now.
        current: i32,
    },
}

/// One version of a template file, for its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateEdit {
    /// Version number, from 1.
    pub version: i32,
    /// `draft`, `published`, `retired` or `discarded`.
    pub status: String,
    /// Who wrote it.
    pub author: String,
    /// Why.
    pub note: Option<String>,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// When it was published, if it was.
    pub published_at: Option<DateTime<Utc>>,
    /// Its text.
    pub body: String,
}

impl Store {
    /// The published version of every edited file.
    pub async fn published_templates(&self) -> Result<Vec<PublishedTemplate>, StoreError> {
        Ok(sqlx::query_file_as!(
            PublishedTemplate,
            "src/store/queries/published_templates.sql"
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Publishes `body` as the next version of `name`, retiring the one in force, and tells
    /// every replica; the new version number. With `from_draft`, the file's draft (if any)
    /// becomes that version, since it is what the editor was working on. With `based_on`, only
    /// if that version (0: the shipped file) is still the one in force; else nothing changes and
    /// the version in force is returned as [`Publish::Stale`].
    pub async fn publish_template(
        &self,
        name: &str,
        body: &str,
        author: &str,
        note: Option<&str>,
        from_draft: bool,
        based_on: Option<i32>,
    ) -> Result<Publish, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query_file!("src/store/queries/lock_template.sql", name)
            .fetch_one(&mut *tx)
            .await?;
        if let Some(expected) = based_on {
            let current = sqlx::query_file!("src/store/queries/published_version.sql", name)
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| row.version)
                .unwrap_or(0);
            if current != expected {
                return Ok(Publish::Stale { current });
            }
        }
        sqlx::query_file!("src/store/queries/retire_template.sql", name)
            .execute(&mut *tx)
            .await?;
        let promoted = if from_draft {
            sqlx::query_file!(
                "src/store/queries/promote_template_draft.sql",
                name,
                body,
                author,
                note
            )
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.version)
        } else {
            None
        };
        let version = match promoted {
            Some(version) => version,
            None => {
                sqlx::query_file!(
                    "src/store/queries/publish_template.sql",
                    name,
                    body,
                    author,
                    note
                )
                .fetch_one(&mut *tx)
                .await?
                .version
            }
        };
        tx.commit().await?;
        Ok(Publish::Published(version))
    }

    /// Saves `body` as the draft of `name` (replacing its draft's text, if it has one); the
    /// draft's version number.
    pub async fn save_template_draft(
        &self,
        name: &str,
        body: &str,
        author: &str,
        note: Option<&str>,
    ) -> Result<i32, StoreError> {
        let row = sqlx::query_file!(
            "src/store/queries/save_template_draft.sql",
            name,
            body,
            author,
            note
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.version)
    }

    /// Sets the draft of `name` aside; false when it had none.
    pub async fn discard_template_draft(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query_file!("src/store/queries/discard_template_draft.sql", name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Version `version` of `name`, with its text.
    pub async fn template_version(
        &self,
        name: &str,
        version: i32,
    ) -> Result<Option<TemplateEdit>, StoreError> {
        Ok(sqlx::query_file_as!(
            TemplateEdit,
            "src/store/queries/template_version.sql",
            name,
            version
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every version of `name`, newest first.
    pub async fn template_history(&self, name: &str) -> Result<Vec<TemplateEdit>, StoreError> {
        Ok(
            sqlx::query_file_as!(TemplateEdit, "src/store/queries/template_history.sql", name)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// A listener for published template changes, on its own connection.
    pub async fn listen_for_templates(&self) -> Result<sqlx::postgres::PgListener, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(TEMPLATES_CHANNEL).await?;
        Ok(listener)
    }
}

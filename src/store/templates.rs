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

/// One version of a template file, for its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateEdit {
    /// Version number, from 1.
    pub version: i32,
    /// `draft`, `published` or `retired`.
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
    /// every replica; the new version number.
    pub async fn publish_template(
        &self,
        name: &str,
        body: &str,
        author: &str,
        note: Option<&str>,
    ) -> Result<i32, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query_file!("src/store/queries/retire_template.sql", name)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query_file!(
            "src/store/queries/publish_template.sql",
            name,
            body,
            author,
            note
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.version)
    }

    /// Every version of `name`, newest first.
    pub async fn template_history(&self, name: &str) -> Result<Vec<TemplateEdit>, StoreError> {
        Ok(
            sqlx::query_file_as!(TemplateEdit, "src/store/queries/template_history.sql", name)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The text of version `version` of `name`, if it exists.
    pub async fn template_body(
        &self,
        name: &str,
        version: i32,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query_file!("src/store/queries/template_body.sql", name, version)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.body))
    }

    /// A listener for published template changes, on its own connection.
    pub async fn listen_for_templates(&self) -> Result<sqlx::postgres::PgListener, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(TEMPLATES_CHANNEL).await?;
        Ok(listener)
    }
}

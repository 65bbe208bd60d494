//! The audit record in the admin API: who did what in the console and the API, newest first.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::AppState;
use crate::http::auth::Admin;
use crate::http::error::{ApiError, ErrorBody};
use crate::store::{AuditQuery, AuditRecord};

/// Which part of the audit record to read.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Filter {
    /// At most this many (default 100, at most 500).
    pub limit: Option<i64>,
    /// Only entries older than this one: the `next_before` of the previous page.
    pub before: Option<i64>,
    /// Only this person's actions (`api` for the bearer token).
    pub actor: Option<String>,
    /// Only this action (`template.publish`, `suppression.add`, …).
    pub action: Option<String>,
}

/// One recorded action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    /// Its place in the record.
    pub id: i64,
    /// Who: the signed-in person, or `api` for the bearer token.
    pub actor: String,
    /// What: `sign_in`, `sign_in.refused`, `sign_out`, `sign_out.everywhere`,
    /// `template.draft_saved`, `template.draft_discarded`, `template.publish`,
    /// `template.rollback`, `template.test_sent`, `dead_letters.replay`, `escalation.handle`,
    /// `suppression.add`, `suppression.lift`.
    pub action: String,
    /// What it was done to (a template file, an escalation id, a masked contact).
    pub subject: Option<String>,
    /// More about it; contacts masked.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Where the request came from.
    pub client_address: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

impl From<AuditRecord> for AuditEntryView {
    fn from(r: AuditRecord) -> AuditEntryView {
        AuditEntryView {
            id: r.id,
            actor: r.actor,
            action: r.action,
            subject: r.subject,
            detail: r.detail,
            client_address: r.client_address,
            at: r.created_at,
        }
    }
}

/// A page of the audit record.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditEntryView>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<i64>,
}

/// Who did what, newest first.
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(Filter),
    responses((status = 200, body = AuditPage), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(filter): Query<Filter>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = super::activity::Limit {
        limit: filter.limit,
    }
    .get(100);
    let blank = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let entries: Vec<AuditEntryView> = state
        .store
        .audit_log(&AuditQuery {
            before: filter.before,
            actor: blank(filter.actor),
            action: blank(filter.action),
            limit,
        })
        .await?
        .into_iter()
        .map(AuditEntryView::from)
        .collect();
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditPage {
        entries,
        next_before,
    }))
}

//! Escalations in the admin API: incidents marked for a person, with the customer's contacts
//! and what they already received, and marking one handled with a note. The queue masks
//! contacts; one escalation, opened or handled, shows them: that person makes the call.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::views::EscalationRecord;
use crate::http::AppState;
use crate::http::auth::Admin;
use crate::http::error::{ApiError, Body, ErrorBody};

/// Which escalations to list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Filter {
    /// `open` (default), `handled` or `all`.
    pub status: Option<String>,
    /// At most this many (default 100).
    pub limit: Option<i64>,
}

/// Escalations, open ones oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationList {
    /// The escalations, contacts masked.
    pub escalations: Vec<EscalationRecord>,
}

/// Marking an escalation handled.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Handle {
    /// What was done (called the customer, offered …).
    #[serde(default)]
    pub note: Option<String>,
}

/// The escalation queue.
#[utoipa::path(get, path = "/api/escalations", tag = "escalations", params(Filter),
    responses((status = 200, body = EscalationList), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(filter): Query<Filter>,
) -> Result<Json<EscalationList>, ApiError> {
    let status = match filter.status.as_deref().unwrap_or("open") {
        "all" => None,
        s @ ("open" | "handled") => Some(s),
        other => {
            return Err(ApiError::Invalid(format!(
                "status {other:?}: expected open, handled or all"
            )));
        }
    };
    let limit = super::activity::Limit {
        limit: filter.limit,
    }
    .get(100);
    let escalations = state
        .store
        .escalations(status, limit)
        .await?
        .into_iter()
        .map(|e| EscalationRecord::from(e).calling(state.clock.now(), &state.config.call_hours))
        .collect();
    Ok(Json(EscalationList { escalations }))
}

/// One escalation, with the customer's contacts.
#[utoipa::path(get, path = "/api/escalations/{id}", tag = "escalations",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EscalationRecord), (status = 404, body = ErrorBody)))]
pub async fn one(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<Uuid>,
) -> Result<Json<EscalationRecord>, ApiError> {
    state
        .store
        .escalation(id)
        .await?
        .map(|e| {
            Json(EscalationRecord::opened(e).calling(state.clock.now(), &state.config.call_hours))
        })
        .ok_or_else(|| ApiError::NotFound(format!("no escalation {id}")))
}

/// Marks an escalation handled, by the signed-in person, with a note.
#[utoipa::path(post, path = "/api/escalations/{id}/handle", tag = "escalations",
    params(("id" = Uuid, Path)), request_body = Handle,
    responses((status = 200, body = EscalationRecord), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn handle(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<Uuid>,
    Body(handle): Body<Handle>,
) -> Result<Json<EscalationRecord>, ApiError> {
    let note = handle
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if !state.store.handle_escalation(id, &admin.user, note).await? {
        return match state.store.escalation(id).await? {
            Some(_) => Err(ApiError::Conflict(format!(
                "escalation {id} was already handled"
            ))),
            None => Err(ApiError::NotFound(format!("no escalation {id}"))),
        };
    }
    tracing::info!(escalation = %id, "escalation handled");
    crate::http::audit::by(
        &state,
        &admin,
        "escalation.handle",
        Some(&id.to_string()),
        serde_json::json!({ "note": note }),
    )
    .await;
    state
        .store
        .escalation(id)
        .await?
        .map(|e| {
            Json(EscalationRecord::opened(e).calling(state.clock.now(), &state.config.call_hours))
        })
        .ok_or_else(|| ApiError::NotFound(format!("no escalation {id}")))
}

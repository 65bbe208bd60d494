//! What happened, in the admin API: recent incidents and a search by order, customer, email or
//! phone; each incident with its decision, messages as sent, attempts and provider reports.
//!
//! Lists mask contacts (`a***@example.com`); one incident opened in full shows them (the
//! [`views`](super::views) decide which). Searches are POSTed, so no contact ever sits in a URL
//! or an access log.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::views::{
    AttentionRecord, CompensationRecord, DecisionRecord, EscalationRecord, IncidentSummary,
    MessageRecord, Overview,
};
use crate::http::AppState;
use crate::http::auth::Admin;
use crate::http::error::{ApiError, Body, ErrorBody};
use crate::incident::{EmailAddress, PhoneNumber};
use crate::store::IncidentSearch;

/// The most rows any list returns.
pub const MAX_LIMIT: i64 = 500;

/// How many rows to list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Limit {
    /// At most this many (default 50, at most 500).
    pub limit: Option<i64>,
}

/// A page of incidents.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Page {
    /// At most this many (default 50, at most 500).
    pub limit: Option<i64>,
    /// Only incidents older than this one: the last of the previous page.
    pub before: Option<Uuid>,
}

impl Limit {
    /// The limit asked for, within bounds.
    pub fn get(&self, default: i64) -> i64 {
        self.limit.unwrap_or(default).clamp(1, MAX_LIMIT)
    }
}

/// A search.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Search {
    /// An order id, a customer id, an email address or a phone number; empty for the newest.
    #[serde(default)]
    pub query: String,
    /// At most this many (default 50).
    #[serde(default)]
    pub limit: Option<i64>,
    /// Only incidents older than this one: the last of the previous page.
    #[serde(default)]
    pub before: Option<Uuid>,
}

/// Incidents, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentList {
    /// The incidents, contacts masked.
    pub incidents: Vec<IncidentSummary>,
}

/// One incident in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentDetail {
    /// The incident, contacts shown.
    pub incident: IncidentSummary,
    /// The CloudEvent as received.
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
    /// The decision with its explanation, when one was recorded.
    pub decision: Option<DecisionRecord>,
    /// Every message as rendered and sent, with its attempts and provider reports.
    pub messages: Vec<MessageRecord>,
    /// What was offered, issued or declined.
    pub compensation: Vec<CompensationRecord>,
    /// The escalation, if the incident was marked for a person.
    pub escalation: Option<EscalationRecord>,
}

/// What a search text can be: always an order or customer id, and an address or a number
/// when it reads as one.
pub fn search_of(query: &str) -> IncidentSearch {
    let query = query.trim();
    if query.is_empty() {
        return IncidentSearch::default();
    }
    IncidentSearch {
        id: Some(query.to_owned()),
        email: query
            .contains('@')
            .then(|| EmailAddress::parse(query).ok())
            .flatten()
            .map(|e| e.as_str().to_lowercase()),
        phone: PhoneNumber::parse(query)
            .ok()
            .map(|p| p.as_str().to_owned()),
        before: None,
        only: None,
    }
}

/// Which messages need a person.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AttentionFilter {
    /// `unknown` (sent or not, nobody knows: never resent by itself) or `failed` (for good).
    pub status: String,
    /// At most this many (default 50).
    pub limit: Option<i64>,
}

/// Messages that need a person, contacts masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttentionList {
    /// The messages, newest first.
    pub messages: Vec<AttentionRecord>,
}

/// Messages that failed for good, or whose outcome is unknown, newest first.
#[utoipa::path(get, path = "/api/messages", tag = "activity", params(AttentionFilter),
    responses((status = 200, body = AttentionList), (status = 422, body = ErrorBody)))]
pub async fn needing_attention(
    State(state): State<AppState>,
    _admin: Admin,
    Query(filter): Query<AttentionFilter>,
) -> Result<Json<AttentionList>, ApiError> {
    if !matches!(filter.status.as_str(), "failed" | "unknown") {
        return Err(ApiError::Invalid(format!(
            "status {:?}: expected failed or unknown",
            filter.status
        )));
    }
    let limit = Limit {
        limit: filter.limit,
    }
    .get(50);
    let messages = state
        .store
        .messages_needing_attention(&filter.status, limit)
        .await?
        .into_iter()
        .map(AttentionRecord::from)
        .collect();
    Ok(Json(AttentionList { messages }))
}

/// Counts for the front page.
#[utoipa::path(get, path = "/api/overview", tag = "activity",
    responses((status = 200, body = Overview), (status = 401, body = ErrorBody)))]
pub async fn overview(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Overview>, ApiError> {
    Ok(Json(state.store.overview().await?.into()))
}

/// The newest incidents.
#[utoipa::path(get, path = "/api/incidents", tag = "activity", params(Page),
    responses((status = 200, body = IncidentList), (status = 401, body = ErrorBody)))]
pub async fn recent(
    State(state): State<AppState>,
    _admin: Admin,
    Query(page): Query<Page>,
) -> Result<Json<IncidentList>, ApiError> {
    let search = IncidentSearch {
        before: page.before,
        ..IncidentSearch::default()
    };
    let limit = Limit { limit: page.limit }.get(50);
    let incidents = state.store.incidents(&search, limit).await?;
    Ok(Json(IncidentList {
        incidents: incidents.into_iter().map(IncidentSummary::from).collect(),
    }))
}

/// Incidents by order id, customer id, email address or phone number.
#[utoipa::path(post, path = "/api/incidents/search", tag = "activity", request_body = Search,
    responses((status = 200, body = IncidentList), (status = 401, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    _admin: Admin,
    Body(search): Body<Search>,
) -> Result<Json<IncidentList>, ApiError> {
    let limit = Limit {
        limit: search.limit,
    }
    .get(50);
    let found = IncidentSearch {
        before: search.before,
        ..search_of(&search.query)
    };
    let incidents = state.store.incidents(&found, limit).await?;
    Ok(Json(IncidentList {
        incidents: incidents.into_iter().map(IncidentSummary::from).collect(),
    }))
}

/// One incident: the event, the decision and why, every message as sent and what happened to
/// it, the compensation and the escalation.
#[utoipa::path(get, path = "/api/incidents/{id}", tag = "activity",
    params(("id" = Uuid, Path, description = "the incident")),
    responses((status = 200, body = IncidentDetail), (status = 404, body = ErrorBody)))]
pub async fn incident(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<Uuid>,
) -> Result<Json<IncidentDetail>, ApiError> {
    let record = state
        .store
        .incident(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no incident {id}")))?;
    // The same summary as in lists, contacts unmasked: the person opened this one.
    let only = IncidentSearch {
        only: Some(id),
        ..IncidentSearch::default()
    };
    let summary = state
        .store
        .incidents(&only, 1)
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("no incident {id}")))?;
    let messages = state.store.incident_messages(id).await?;
    let compensation = state.store.compensation(Some(id), MAX_LIMIT).await?;
    let escalation = state.store.escalation_of_incident(id).await?;
    Ok(Json(IncidentDetail {
        incident: IncidentSummary::opened(summary),
        event: record.payload,
        decision: record.decision.map(DecisionRecord::from),
        messages: messages.into_iter().map(MessageRecord::opened).collect(),
        compensation: compensation
            .into_iter()
            .map(CompensationRecord::from)
            .collect(),
        escalation: escalation.map(|e| {
            EscalationRecord::opened(e).calling(state.clock.now(), &state.config.call_hours)
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_reads_addresses_and_numbers() {
        let s = search_of("  Ana@Example.com ");
        assert_eq!(s.email.as_deref(), Some("ana@example.com"));
        assert_eq!(s.phone, None);
        let s = search_of("+34 600 111 222");
        assert_eq!(s.phone.as_deref(), Some("+34600111222"));
        assert_eq!(s.id.as_deref(), Some("+34 600 111 222"));
        let s = search_of("A-10042");
        assert_eq!((s.email, s.phone), (None, None));
        assert_eq!(s.id.as_deref(), Some("A-10042"));
        assert!(search_of("  ").id.is_none());
    }
}

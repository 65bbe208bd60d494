//! Suppressions in the admin API: the contacts amends sends nothing to on a channel (hard
//! bounces, spam complaints, STOP replies, a person's decision), listed masked; a person adds
//! one or lifts one. Contacts travel in request bodies, never in URLs, and are masked in the
//! audit record.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::views::Contact;
use crate::http::AppState;
use crate::http::auth::Admin;
use crate::http::error::{ApiError, Body, ErrorBody};
use crate::policy::Channel;
use crate::store::Lift;
use crate::store::{Suppression, SuppressionReason};

/// What the console records as the source of the suppressions people add and lift.
const SOURCE: &str = "console";

/// How many suppressions to list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Filter {
    /// At most this many (default 100, at most 500).
    pub limit: Option<i64>,
}

/// A suppression in force, its contact masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionView {
    /// `email` or `sms`.
    pub channel: String,
    /// The address or number, masked.
    #[schema(value_type = String)]
    pub contact: Contact,
    /// Why: `hard_bounce`, `spam_complaint`, `unsubscribed`, `stop` or `manual`.
    pub reason: String,
    /// Who put it there: a provider, `cli` or `console`.
    pub source: String,
    /// The provider's or person's words.
    pub detail: Option<String>,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

impl From<Suppression> for SuppressionView {
    fn from(s: Suppression) -> SuppressionView {
        SuppressionView {
            contact: Contact::recipient(&s.channel, &s.contact),
            channel: s.channel,
            reason: s.reason,
            source: s.source,
            detail: s.detail,
            updated_at: s.updated_at,
        }
    }
}

/// The suppressions in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionList {
    /// Newest first, contacts masked.
    pub suppressions: Vec<SuppressionView>,
}

/// Suppressing a contact.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AddSuppression {
    /// `email` or `sms`.
    pub channel: String,
    /// The email address or phone number (E.164).
    pub contact: String,
    /// Why, in a few words.
    #[serde(default)]
    pub note: Option<String>,
}

/// Lifting a contact's suppression.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LiftSuppression {
    /// `email` or `sms`.
    pub channel: String,
    /// The email address or phone number, as suppressed.
    pub contact: String,
}

/// What changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionChanged {
    /// `email` or `sms`.
    pub channel: String,
    /// The contact, masked.
    #[schema(value_type = String)]
    pub contact: Contact,
    /// True: suppressed now; false: allowed again.
    pub suppressed: bool,
}

fn channel(name: &str) -> Result<Channel, ApiError> {
    name.trim()
        .parse::<Channel>()
        .map_err(|e| ApiError::Invalid(format!("channel: {e}")))
}

/// The contact, checked as its channel's kind; masked for the answer and the audit record.
fn contact(channel: Channel, text: &str) -> Result<(String, Contact), ApiError> {
    let text = text.trim();
    let valid = match channel {
        Channel::Email => crate::incident::EmailAddress::parse(text).is_ok(),
        Channel::Sms => crate::incident::PhoneNumber::parse(text).is_ok(),
    };
    if !valid {
        return Err(ApiError::Invalid(match channel {
            Channel::Email => "contact: not an email address".to_owned(),
            Channel::Sms => "contact: not a phone number in E.164 form (+34600111222)".to_owned(),
        }));
    }
    Ok((text.to_owned(), Contact::recipient(channel.as_str(), text)))
}

/// The suppressions in force, newest first, contacts masked.
#[utoipa::path(get, path = "/api/suppressions", tag = "suppressions", params(Filter),
    responses((status = 200, body = SuppressionList), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(filter): Query<Filter>,
) -> Result<Json<SuppressionList>, ApiError> {
    let limit = super::activity::Limit {
        limit: filter.limit,
    }
    .get(100);
    let suppressions = state
        .store
        .suppressions(limit)
        .await?
        .into_iter()
        .map(SuppressionView::from)
        .collect();
    Ok(Json(SuppressionList { suppressions }))
}

/// Suppresses a contact on a channel: nothing more is sent to it there until it is lifted.
#[utoipa::path(post, path = "/api/suppressions", tag = "suppressions",
    request_body = AddSuppression,
    responses((status = 200, body = SuppressionChanged), (status = 422, body = ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    admin: Admin,
    Body(request): Body<AddSuppression>,
) -> Result<Json<SuppressionChanged>, ApiError> {
    let channel = channel(&request.channel)?;
    let (text, masked) = contact(channel, &request.contact)?;
    let note = request
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 500) {
        return Err(ApiError::Invalid("note: at most 500 characters".to_owned()));
    }
    state
        .store
        .suppress(channel, &text, SuppressionReason::Manual, SOURCE, note)
        .await?;
    tracing::info!(
        channel = channel.as_str(),
        "suppression added in the console"
    );
    crate::http::audit::by(
        &state,
        &admin,
        "suppression.add",
        Some(masked.as_str()),
        serde_json::json!({ "channel": channel.as_str(), "note": note }),
    )
    .await;
    Ok(Json(SuppressionChanged {
        channel: channel.as_str().to_owned(),
        contact: masked,
        suppressed: true,
    }))
}

/// Lifts a contact's suppression on a channel (the contact in the body, never in the URL).
#[utoipa::path(post, path = "/api/suppressions/lift", tag = "suppressions",
    request_body = LiftSuppression,
    responses((status = 200, body = SuppressionChanged), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn lift(
    State(state): State<AppState>,
    admin: Admin,
    Body(request): Body<LiftSuppression>,
) -> Result<Json<SuppressionChanged>, ApiError> {
    let channel = channel(&request.channel)?;
    let text = request.contact.trim();
    let masked = Contact::recipient(channel.as_str(), text);
    if !state
        .store
        .lift_suppression(channel, text, Lift::Person { who: &admin.user })
        .await?
    {
        return Err(ApiError::NotFound(format!(
            "no {} suppression in force for that contact",
            channel.as_str()
        )));
    }
    tracing::info!(
        channel = channel.as_str(),
        "suppression lifted in the console"
    );
    crate::http::audit::by(
        &state,
        &admin,
        "suppression.lift",
        Some(masked.as_str()),
        serde_json::json!({ "channel": channel.as_str() }),
    )
    .await;
    Ok(Json(SuppressionChanged {
        channel: channel.as_str().to_owned(),
        contact: masked,
        suppressed: false,
    }))
}

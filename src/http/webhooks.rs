//! Provider webhooks (CONTRACT §5): delivery statuses, bounces, complaints and SMS replies.
//!
//! Each request is authenticated first (see [`crate::signature`]); one that fails gets 403 and
//! changes nothing, as does every request to a provider whose key is not configured. A verified
//! event is recorded as received, updates its message's delivery status, and puts an address
//! or number on the suppression list when the customer must not be written to again (hard
//! bounce, spam complaint, unsubscribe, SMS STOP); START lifts it.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use uuid::Uuid;

use super::AppState;
use crate::policy::Channel;
use crate::signature;
use crate::store::{DeliveryReport, StoreError, SuppressionReason};

/// The keys webhooks are verified with; a provider without its key answers every request 403.
#[derive(Debug, Clone)]
pub struct WebhookKeys {
    /// The externally visible base URL Twilio signs requests to.
    pub public_url: url::Url,
    /// Twilio's auth token.
    pub twilio_auth_token: Option<SecretString>,
    /// SendGrid's Event Webhook verification key.
    pub sendgrid_public_key: Option<p256::ecdsa::VerifyingKey>,
    /// The user and password Postmark's webhooks present.
    pub postmark_basic_auth: Option<(String, SecretString)>,
    /// The secret Vonage signs delivery receipts with.
    pub vonage_signature_secret: Option<SecretString>,
}

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/twilio/status", post(twilio_status))
        .route("/webhooks/twilio/inbound", post(twilio_inbound))
        .route("/webhooks/sendgrid/events", post(sendgrid_events))
        .route("/webhooks/postmark/events", post(postmark_events))
        .route("/webhooks/vonage/status", post(vonage_status))
}

/// Why a webhook request was not taken.
enum Rejection {
    /// Not authenticated as the provider.
    Forbidden,
    /// Authenticated, but not something we can read.
    Malformed(String),
    /// We could not record it; the provider will retry.
    Store(StoreError),
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::Forbidden => (StatusCode::FORBIDDEN, "forbidden\n").into_response(),
            Rejection::Malformed(why) => {
                tracing::warn!(reason = %why, "webhook body not understood");
                (StatusCode::BAD_REQUEST, "malformed\n").into_response()
            }
            Rejection::Store(e) => {
                tracing::error!(error = %e, "recording a webhook failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "try again\n").into_response()
            }
        }
    }
}

impl From<StoreError> for Rejection {
    fn from(e: StoreError) -> Self {
        Rejection::Store(e)
    }
}

/// Records a provider's event and wakes the announcer when it queued an outcome event.
async fn record(state: &AppState, report: &DeliveryReport<'_>) -> Result<Option<Uuid>, Rejection> {
    let (found, announced) = state.store.record_delivery(&state.instance, report).await?;
    if announced {
        state.announce.notify_one();
    }
    Ok(found)
}

/// Whether an email delivery status means the address must not be written to again.
fn suppression_for(status: &str) -> Option<SuppressionReason> {
    match status {
        "bounced" => Some(SuppressionReason::HardBounce),
        "complained" => Some(SuppressionReason::SpamComplaint),
        "unsubscribed" => Some(SuppressionReason::Unsubscribed),
        _ => None,
    }
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Checks `X-Twilio-Signature` over the URL Twilio called and the form; the form on success.
fn twilio_verified(
    keys: &WebhookKeys,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, Rejection> {
    let token = keys
        .twilio_auth_token
        .as_ref()
        .ok_or(Rejection::Forbidden)?;
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or(Rejection::Forbidden)?;
    let mut url = keys.public_url.clone();
    let base = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{base}{}", uri.path()));
    url.set_query(uri.query());
    let params = form(body);
    if !signature::twilio_valid(token.expose_secret(), url.as_str(), &params, signature) {
        tracing::warn!(
            path = uri.path(),
            "Twilio webhook with a bad signature refused"
        );
        return Err(Rejection::Forbidden);
    }
    Ok(params)
}

async fn twilio_status(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Rejection> {
    let params = twilio_verified(&state.webhooks, &uri, &headers, &body)?;
    let sid =
        field(&params, "MessageSid").ok_or_else(|| Rejection::Malformed("no MessageSid".into()))?;
    let status = field(&params, "MessageStatus")
        .ok_or_else(|| Rejection::Malformed("no MessageStatus".into()))?;
    let error = field(&params, "ErrorCode");
    let payload = Value::Object(
        params
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    );
    let found = record(
        &state,
        &DeliveryReport {
            outbox_id: None,
            provider: "twilio",
            provider_message_id: Some(sid),
            status,
            detail: error.map(|code| format!("Twilio error {code}")).as_deref(),
            payload: &payload,
            occurred_at: None,
        },
    )
    .await?;
    // 21610: the recipient had replied STOP; carriers block further messages to them.
    if error == Some("21610")
        && let Some(to) = field(&params, "To")
    {
        state
            .store
            .suppress(
                Channel::Sms,
                to,
                SuppressionReason::Stop,
                "twilio",
                Some("error 21610"),
            )
            .await?;
    }
    tracing::info!(status, known = found.is_some(), "Twilio status recorded");
    Ok(StatusCode::NO_CONTENT)
}

/// Words that opt a number out of SMS, and back in, as carriers and Twilio define them.
const STOP_WORDS: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const START_WORDS: &[&str] = &["START", "YES", "UNSTOP"];

async fn twilio_inbound(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    let params = twilio_verified(&state.webhooks, &uri, &headers, &body)?;
    let from = field(&params, "From").ok_or_else(|| Rejection::Malformed("no From".into()))?;
    let word = field(&params, "Body")
        .unwrap_or_default()
        .trim()
        .to_uppercase();
    if STOP_WORDS.contains(&word.as_str()) {
        state
            .store
            .suppress(
                Channel::Sms,
                from,
                SuppressionReason::Stop,
                "twilio",
                Some("replied STOP"),
            )
            .await?;
        tracing::info!("SMS opt-out recorded");
    } else if START_WORDS.contains(&word.as_str()) {
        let lifted = state
            .store
            .lift_suppression(Channel::Sms, from, "twilio")
            .await?;
        tracing::info!(lifted, "SMS opt-in recorded");
    }
    // An empty TwiML answer: Twilio sends the carriers' opt-out confirmations itself.
    Ok((
        [(header::CONTENT_TYPE, "text/xml")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
    )
        .into_response())
}

async fn sendgrid_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Rejection> {
    let key = state
        .webhooks
        .sendgrid_public_key
        .as_ref()
        .ok_or(Rejection::Forbidden)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (
        header("x-twilio-email-event-webhook-signature"),
        header("x-twilio-email-event-webhook-timestamp"),
    ) else {
        return Err(Rejection::Forbidden);
    };
    if !signature::sendgrid_valid(key, timestamp, &body, signature) {
        tracing::warn!("SendGrid webhook with a bad signature refused");
        return Err(Rejection::Forbidden);
    }
    let events: Vec<Value> =
        serde_json::from_slice(&body).map_err(|e| Rejection::Malformed(e.to_string()))?;
    for event in &events {
        let text = |k: &str| event.get(k).and_then(Value::as_str);
        let Some(kind) = text("event") else { continue };
        let status = match (kind, text("type")) {
            ("bounce", Some("blocked")) => "blocked",
            ("bounce", _) => "bounced",
            ("spamreport", _) => "complained",
            ("open", _) => "opened",
            ("click", _) => "clicked",
            ("unsubscribe" | "group_unsubscribe", _) => "unsubscribed",
            (other, _) => other,
        };
        // sg_message_id is the X-Message-Id we stored, then a dot and a filter suffix.
        let message_id = text("sg_message_id").map(|id| id.split('.').next().unwrap_or(id));
        record(
            &state,
            &DeliveryReport {
                outbox_id: text("amends_outbox_id").and_then(|id| id.parse::<Uuid>().ok()),
                provider: "sendgrid",
                provider_message_id: message_id,
                status,
                detail: text("reason").or(text("response")),
                payload: event,
                occurred_at: event
                    .get("timestamp")
                    .and_then(Value::as_i64)
                    .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)),
            },
        )
        .await?;
        if let (Some(reason), Some(email)) = (suppression_for(status), text("email")) {
            state
                .store
                .suppress(Channel::Email, email, reason, "sendgrid", text("reason"))
                .await?;
        }
    }
    tracing::info!(events = events.len(), "SendGrid events recorded");
    Ok(StatusCode::NO_CONTENT)
}

async fn postmark_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Rejection> {
    let (user, password) = state
        .webhooks
        .postmark_basic_auth
        .as_ref()
        .ok_or(Rejection::Forbidden)?;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(Rejection::Forbidden)?;
    if !signature::basic_valid(authorization, user, password.expose_secret()) {
        tracing::warn!("Postmark webhook with bad credentials refused");
        return Err(Rejection::Forbidden);
    }
    let event: Value =
        serde_json::from_slice(&body).map_err(|e| Rejection::Malformed(e.to_string()))?;
    let text = |k: &str| event.get(k).and_then(Value::as_str);
    let record_type =
        text("RecordType").ok_or_else(|| Rejection::Malformed("no RecordType".into()))?;
    let hard = text("Type") == Some("HardBounce")
        || event.get("Inactive").and_then(Value::as_bool) == Some(true);
    let suppress_sending = event.get("SuppressSending").and_then(Value::as_bool);
    let status = match record_type {
        "Delivery" => "delivered",
        "Bounce" if hard => "bounced",
        "Bounce" => "soft_bounced",
        "SpamComplaint" => "complained",
        "Open" => "opened",
        "Click" => "clicked",
        "SubscriptionChange" if suppress_sending == Some(true) => "unsubscribed",
        "SubscriptionChange" => "resubscribed",
        _ => "other",
    };
    let outbox_id = event
        .get("Metadata")
        .and_then(|m| m.get("amends_outbox_id"))
        .and_then(Value::as_str)
        .and_then(|id| id.parse::<Uuid>().ok());
    record(
        &state,
        &DeliveryReport {
            outbox_id,
            provider: "postmark",
            provider_message_id: text("MessageID"),
            status,
            detail: text("Description").or(text("Details")),
            payload: &event,
            occurred_at: text("DeliveredAt")
                .or(text("BouncedAt"))
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
        },
    )
    .await?;
    let address = text("Email").or(text("Recipient"));
    match (suppression_for(status), address) {
        (Some(reason), Some(email)) => {
            state
                .store
                .suppress(
                    Channel::Email,
                    email,
                    reason,
                    "postmark",
                    text("Description"),
                )
                .await?
        }
        (None, Some(email)) if status == "resubscribed" => {
            state
                .store
                .lift_suppression(Channel::Email, email, "postmark")
                .await?;
        }
        _ => {}
    }
    tracing::info!(record_type, "Postmark event recorded");
    Ok(StatusCode::NO_CONTENT)
}

async fn vonage_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Rejection> {
    let secret = state
        .webhooks
        .vonage_signature_secret
        .as_ref()
        .ok_or(Rejection::Forbidden)?;
    // Vonage posts receipts form-encoded or, when so configured, as JSON.
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let params: Vec<(String, String)> = if json {
        let object: serde_json::Map<String, Value> =
            serde_json::from_slice(&body).map_err(|_| Rejection::Forbidden)?;
        object
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect()
    } else {
        form(&body)
    };
    if !signature::vonage_valid(secret.expose_secret(), &params) {
        tracing::warn!("Vonage receipt with a bad or missing signature refused");
        return Err(Rejection::Forbidden);
    }
    let status =
        field(&params, "status").ok_or_else(|| Rejection::Malformed("no status".into()))?;
    let payload = Value::Object(
        params
            .iter()
            .filter(|(k, _)| k != "sig")
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    );
    let error = field(&params, "err-code").filter(|c| *c != "0");
    record(
        &state,
        &DeliveryReport {
            outbox_id: field(&params, "client-ref").and_then(|id| id.parse::<Uuid>().ok()),
            provider: "vonage",
            provider_message_id: field(&params, "messageId"),
            status,
            detail: error.map(|code| format!("Vonage error {code}")).as_deref(),
            payload: &payload,
            occurred_at: None,
        },
    )
    .await?;
    tracing::info!(status, "Vonage receipt recorded");
    Ok(StatusCode::NO_CONTENT)
}

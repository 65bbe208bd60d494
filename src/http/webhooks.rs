//! Provider webhooks (CONTRACT §5): delivery statuses, bounces, complaints and SMS replies.
//!
//! Each request is authenticated first (see [`crate::signature`]), with the current credential
//! or, while a provider is switched to a new one, the previous one; a request that fails gets 403
//! and changes nothing, as does every request to a provider whose key is not configured, and one
//! whose signed timestamp (SendGrid, Vonage) is more than ten minutes from our clock: a replay.
//! Each refusal is logged and counted with the provider and the reason, never the contents.
//!
//! A verified request's events are recorded in one transaction, each under the provider's own id
//! for it, with what they cause: the message's delivery status (only ever forward), and the
//! suppression list when the customer must not be written to again (hard bounce, spam complaint,
//! unsubscribe, SMS STOP). An event recorded before causes nothing the second time, so a replayed
//! request or a retried batch changes nothing. An opt-in (SMS START, Postmark's reactivation)
//! lifts only that provider's own opt-out.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, NaiveDateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::AppState;
use crate::policy::Channel;
use crate::signature;
use crate::store::{DeliveryReport, DeliveryTx, Lift, StoreError, SuppressionReason};
use crate::telemetry::{WebhookRejectionLabels, WebhookRequestLabels};

/// The keys webhooks are verified with: for each provider the current one first, then the
/// previous one while it is rotated. A provider without any answers every request 403.
#[derive(Debug, Clone)]
pub struct WebhookKeys {
    /// The externally visible base URL Twilio signs requests to.
    pub public_url: url::Url,
    /// Twilio's auth tokens.
    pub twilio_auth_tokens: Vec<SecretString>,
    /// SendGrid's Event Webhook verification keys.
    pub sendgrid_public_keys: Vec<p256::ecdsa::VerifyingKey>,
    /// The user and passwords Postmark's webhooks present.
    pub postmark_basic_auth: Vec<(String, SecretString)>,
    /// The secrets Vonage signs delivery receipts with.
    pub vonage_signature_secrets: Vec<SecretString>,
}

/// Twilio's message status callbacks (CONTRACT §5), given with each SMS.
pub const TWILIO_STATUS_PATH: &str = "/webhooks/twilio/status";
/// Twilio's incoming SMS, set on the number in Twilio's console.
pub const TWILIO_INBOUND_PATH: &str = "/webhooks/twilio/inbound";
/// SendGrid's Event Webhook, set in SendGrid's mail settings.
pub const SENDGRID_EVENTS_PATH: &str = "/webhooks/sendgrid/events";
/// Postmark's delivery, bounce and spam-complaint webhooks, set on the message stream.
pub const POSTMARK_EVENTS_PATH: &str = "/webhooks/postmark/events";
/// Vonage's delivery receipts, given with each SMS.
pub const VONAGE_STATUS_PATH: &str = "/webhooks/vonage/status";

/// Routes of this module, each request counted by provider and result.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(TWILIO_STATUS_PATH, post(twilio_status))
        .route(TWILIO_INBOUND_PATH, post(twilio_inbound))
        .route(SENDGRID_EVENTS_PATH, post(sendgrid_events))
        .route(POSTMARK_EVENTS_PATH, post(postmark_events))
        .route(VONAGE_STATUS_PATH, post(vonage_status))
        .route_layer(middleware::from_fn_with_state(state, count))
}

/// Counts each webhook request in `amends_webhook_requests_total` by its provider (the path's
/// segment after `/webhooks/`) and what became of it.
async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let provider = request
        .uri()
        .path()
        .trim_start_matches("/webhooks/")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let response = next.run(request).await;
    state
        .metrics
        .webhook_requests
        .get_or_create(&WebhookRequestLabels {
            provider,
            result: request_result(response.status()).to_owned(),
        })
        .inc();
    response
}

/// The result label of a webhook response's status.
fn request_result(status: StatusCode) -> &'static str {
    match status {
        s if s.is_success() => "accepted",
        StatusCode::FORBIDDEN => "rejected",
        s if s.is_client_error() => "invalid",
        _ => "error",
    }
}

/// Why a request was refused as not the provider's own, in words an operator can act on: a
/// `stale` request is a replay, a `bad_signature` a wrong key (or a forgery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No key for this provider is configured.
    NotConfigured,
    /// The request carries no signature (or credentials) at all.
    NoSignature,
    /// The signature (or credentials) match no configured key.
    BadSignature,
    /// The signed timestamp is not a timestamp.
    BadTimestamp,
    /// The signed timestamp is more than ten minutes old or ahead.
    Stale,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Refusal::NotConfigured => "not_configured",
            Refusal::NoSignature => "no_signature",
            Refusal::BadSignature => "bad_signature",
            Refusal::BadTimestamp => "bad_timestamp",
            Refusal::Stale => "stale",
        }
    }
}

/// Why a webhook request was not taken.
enum Rejection {
    /// Not authenticated as the provider (already logged and counted by [`refuse`]).
    Forbidden,
    /// Authenticated, but not something we can read.
    Malformed(String),
    /// We could not record it; nothing of it was, and the provider will retry.
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

/// Refuses a request of `provider`: logged with the reason (no contents, no personal data) and
/// counted in `amends_webhook_rejections_total`.
fn refuse(state: &AppState, provider: &'static str, refusal: Refusal) -> Rejection {
    tracing::warn!(provider, reason = refusal.as_str(), "webhook refused");
    state
        .metrics
        .webhook_rejections
        .get_or_create(&WebhookRejectionLabels {
            provider: provider.to_owned(),
            reason: refusal.as_str().to_owned(),
        })
        .inc();
    Rejection::Forbidden
}

/// Which of `keys` (current first) `valid` accepts; says so when it is the previous one, so an
/// operator sees when the provider has switched and the previous key may go.
fn verified_with<K>(
    state: &AppState,
    provider: &'static str,
    keys: &[K],
    valid: impl Fn(&K) -> bool,
) -> Result<(), Rejection> {
    match keys.iter().position(valid) {
        Some(0) => Ok(()),
        Some(_) => {
            tracing::info!(provider, "webhook verified with the previous credential");
            Ok(())
        }
        None => Err(refuse(state, provider, Refusal::BadSignature)),
    }
}

/// Checks the signed timestamp `signed_at` against the daemon's clock.
fn fresh(state: &AppState, provider: &'static str, signed_at: &str) -> Result<(), Rejection> {
    match signature::fresh(signed_at, state.clock.now()) {
        Some(true) => Ok(()),
        Some(false) => Err(refuse(state, provider, Refusal::Stale)),
        None => Err(refuse(state, provider, Refusal::BadTimestamp)),
    }
}

/// An event's id when its provider gives none we can use: the digest of the event as received,
/// so the very same event sent again is still recognised.
fn digest(event: &Value) -> String {
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(event.to_string().as_bytes()))
    )
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
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, Rejection> {
    let keys = &state.webhooks;
    if keys.twilio_auth_tokens.is_empty() {
        return Err(refuse(state, "twilio", Refusal::NotConfigured));
    }
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refuse(state, "twilio", Refusal::NoSignature))?;
    let mut url = keys.public_url.clone();
    let base = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{base}{}", uri.path()));
    url.set_query(uri.query());
    let params = form(body);
    verified_with(state, "twilio", &keys.twilio_auth_tokens, |token| {
        signature::twilio_valid(token.expose_secret(), url.as_str(), &params, signature)
    })?;
    Ok(params)
}

/// Commits a request's writes, then wakes the announcer when they queued an outcome event.
async fn commit(state: &AppState, tx: DeliveryTx, announced: bool) -> Result<(), Rejection> {
    tx.commit().await?;
    if announced {
        state.announce.notify_one();
    }
    Ok(())
}

async fn twilio_status(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Rejection> {
    let params = twilio_verified(&state, &uri, &headers, &body)?;
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
    let mut tx = state.store.begin_delivery().await?;
    // Twilio reports each status of a message once; the same pair again is a retry or a replay.
    let recorded = tx
        .record(
            &state.instance,
            &DeliveryReport {
                outbox_id: None,
                provider: "twilio",
                provider_message_id: Some(sid),
                provider_event_id: &format!("{sid}:{status}"),
                status,
                detail: error.map(|code| format!("Twilio error {code}")).as_deref(),
                payload: &payload,
                occurred_at: None,
            },
        )
        .await?;
    // 21610: the recipient had replied STOP; carriers block further messages to them.
    if recorded.new
        && error == Some("21610")
        && let Some(to) = field(&params, "To")
    {
        tx.suppress(
            Channel::Sms,
            to,
            SuppressionReason::Stop,
            "twilio",
            Some("error 21610"),
        )
        .await?;
    }
    commit(&state, tx, recorded.announced).await?;
    tracing::info!(
        status,
        known = recorded.outbox_id.is_some(),
        new = recorded.new,
        "Twilio status recorded"
    );
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
    let params = twilio_verified(&state, &uri, &headers, &body)?;
    let from = field(&params, "From").ok_or_else(|| Rejection::Malformed("no From".into()))?;
    let sid = field(&params, "MessageSid")
        .or_else(|| field(&params, "SmsMessageSid"))
        .ok_or_else(|| Rejection::Malformed("no MessageSid".into()))?;
    let word = field(&params, "Body")
        .unwrap_or_default()
        .trim()
        .to_uppercase();
    let opt = if STOP_WORDS.contains(&word.as_str()) {
        Some("opted_out")
    } else if START_WORDS.contains(&word.as_str()) {
        Some("opted_in")
    } else {
        None
    };
    if let Some(status) = opt {
        // Kept under the incoming message's own id, so a captured START replayed after a later
        // STOP is recognised and lifts nothing. The number is on the suppression row; the event
        // keeps only what identifies the message.
        let payload = json!({
            "MessageSid": sid,
            "AccountSid": field(&params, "AccountSid"),
            "keyword": word,
        });
        let mut tx = state.store.begin_delivery().await?;
        let recorded = tx
            .record(
                &state.instance,
                &DeliveryReport {
                    outbox_id: None,
                    provider: "twilio",
                    provider_message_id: None,
                    provider_event_id: &format!("inbound:{sid}"),
                    status,
                    detail: None,
                    payload: &payload,
                    occurred_at: None,
                },
            )
            .await?;
        if !recorded.new {
            tracing::info!(status, "SMS reply already recorded; nothing changed");
        } else if status == "opted_out" {
            tx.suppress(
                Channel::Sms,
                from,
                SuppressionReason::Stop,
                "twilio",
                Some("replied STOP"),
            )
            .await?;
            tracing::info!("SMS opt-out recorded");
        } else {
            // START answers STOP, through the same provider: nothing else is lifted.
            let lifted = tx
                .lift(
                    Channel::Sms,
                    from,
                    Lift::Provider {
                        provider: "twilio",
                        reason: SuppressionReason::Stop,
                    },
                )
                .await?;
            tracing::info!(lifted, "SMS opt-in recorded");
        }
        commit(&state, tx, recorded.announced).await?;
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
    let keys = &state.webhooks.sendgrid_public_keys;
    if keys.is_empty() {
        return Err(refuse(&state, "sendgrid", Refusal::NotConfigured));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (
        header("x-twilio-email-event-webhook-signature"),
        header("x-twilio-email-event-webhook-timestamp"),
    ) else {
        return Err(refuse(&state, "sendgrid", Refusal::NoSignature));
    };
    verified_with(&state, "sendgrid", keys, |key| {
        signature::sendgrid_valid(key, timestamp, &body, signature)
    })?;
    // Only a signed timestamp says anything: checked once the signature is known to cover it.
    fresh(&state, "sendgrid", timestamp)?;
    let events: Vec<Value> =
        serde_json::from_slice(&body).map_err(|e| Rejection::Malformed(e.to_string()))?;
    // The whole batch in one transaction: should any event fail to record, none is, and
    // SendGrid's retry of the batch records each once.
    let mut tx = state.store.begin_delivery().await?;
    let (mut new, mut announced) = (0, false);
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
        let event_id = text("sg_event_id").map_or_else(|| digest(event), str::to_owned);
        let recorded = tx
            .record(
                &state.instance,
                &DeliveryReport {
                    outbox_id: text("amends_outbox_id").and_then(|id| id.parse::<Uuid>().ok()),
                    provider: "sendgrid",
                    provider_message_id: message_id,
                    provider_event_id: &event_id,
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
        announced |= recorded.announced;
        if !recorded.new {
            continue;
        }
        new += 1;
        if let (Some(reason), Some(email)) = (suppression_for(status), text("email")) {
            tx.suppress(Channel::Email, email, reason, "sendgrid", text("reason"))
                .await?;
        }
    }
    commit(&state, tx, announced).await?;
    tracing::info!(events = events.len(), new, "SendGrid events recorded");
    Ok(StatusCode::NO_CONTENT)
}

/// Postmark's id of one webhook event: `ID` for bounces and spam complaints, otherwise the
/// message with the record type and whatever tells one such event of it from another (the
/// recipient; the time of an open or click and the link; the time and direction of a
/// subscription change, whose `MessageID` is null for manual ones).
fn postmark_event_id(event: &Value, record_type: &str) -> String {
    let part = |k: &str| match event.get(k) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let fields: &[&str] = match record_type {
        "Bounce" | "SpamComplaint" => &["ID"],
        "Delivery" => &["MessageID", "Recipient"],
        "Open" => &["MessageID", "Recipient", "ReceivedAt"],
        "Click" => &["MessageID", "Recipient", "ReceivedAt", "OriginalLink"],
        "SubscriptionChange" => &["MessageID", "Recipient", "ChangedAt", "SuppressSending"],
        _ => &[],
    };
    let parts: Vec<String> = fields.iter().map(|f| part(f)).collect();
    if parts.iter().all(String::is_empty) {
        return digest(event);
    }
    format!("{record_type}:{}", parts.join("|"))
}

async fn postmark_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Rejection> {
    let credentials = &state.webhooks.postmark_basic_auth;
    if credentials.is_empty() {
        return Err(refuse(&state, "postmark", Refusal::NotConfigured));
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refuse(&state, "postmark", Refusal::NoSignature))?;
    verified_with(&state, "postmark", credentials, |(user, password)| {
        signature::basic_valid(authorization, user, password.expose_secret())
    })?;
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
    let mut tx = state.store.begin_delivery().await?;
    let recorded = tx
        .record(
            &state.instance,
            &DeliveryReport {
                outbox_id,
                provider: "postmark",
                provider_message_id: text("MessageID"),
                provider_event_id: &postmark_event_id(&event, record_type),
                status,
                detail: text("Description").or(text("Details")),
                payload: &event,
                occurred_at: text("DeliveredAt")
                    .or(text("BouncedAt"))
                    .or(text("ReceivedAt"))
                    .or(text("ChangedAt"))
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc)),
            },
        )
        .await?;
    let address = text("Email").or(text("Recipient"));
    match (recorded.new, suppression_for(status), address) {
        (false, _, _) => {}
        (true, Some(reason), Some(email)) => {
            tx.suppress(
                Channel::Email,
                email,
                reason,
                "postmark",
                text("Description"),
            )
            .await?
        }
        (true, None, Some(email)) if status == "resubscribed" => {
            // A reactivation answers Postmark's own unsubscribe: never another provider's
            // complaint, a bounce, or a person's decision.
            tx.lift(
                Channel::Email,
                email,
                Lift::Provider {
                    provider: "postmark",
                    reason: SuppressionReason::Unsubscribed,
                },
            )
            .await?;
        }
        _ => {}
    }
    commit(&state, tx, recorded.announced).await?;
    tracing::info!(record_type, new = recorded.new, "Postmark event recorded");
    Ok(StatusCode::NO_CONTENT)
}

async fn vonage_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Rejection> {
    let secrets = &state.webhooks.vonage_signature_secrets;
    if secrets.is_empty() {
        return Err(refuse(&state, "vonage", Refusal::NotConfigured));
    }
    // Vonage posts receipts form-encoded or, when so configured, as JSON.
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let params: Vec<(String, String)> = if json {
        let object: serde_json::Map<String, Value> = serde_json::from_slice(&body)
            .map_err(|_| refuse(&state, "vonage", Refusal::NoSignature))?;
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
    if field(&params, "sig").is_none() {
        return Err(refuse(&state, "vonage", Refusal::NoSignature));
    }
    verified_with(&state, "vonage", secrets, |secret| {
        signature::vonage_valid(secret.expose_secret(), &params)
    })?;
    // `timestamp` is among the signed parameters of every signed request.
    let signed_at = field(&params, "timestamp").unwrap_or_default();
    fresh(&state, "vonage", signed_at)?;
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
    let event_id = match field(&params, "messageId") {
        Some(id) => format!("{id}:{status}"),
        None => digest(&payload),
    };
    let mut tx = state.store.begin_delivery().await?;
    let recorded = tx
        .record(
            &state.instance,
            &DeliveryReport {
                outbox_id: field(&params, "client-ref").and_then(|id| id.parse::<Uuid>().ok()),
                provider: "vonage",
                provider_message_id: field(&params, "messageId"),
                provider_event_id: &event_id,
                status,
                detail: error.map(|code| format!("Vonage error {code}")).as_deref(),
                payload: &payload,
                // When the receipt was pushed, in UTC ("2026-12-07 10:05:00").
                occurred_at: field(&params, "message-timestamp")
                    .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").ok())
                    .map(|t| t.and_utc()),
            },
        )
        .await?;
    commit(&state, tx, recorded.announced).await?;
    tracing::info!(status, new = recorded.new, "Vonage receipt recorded");
    Ok(StatusCode::NO_CONTENT)
}

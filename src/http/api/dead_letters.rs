//! Dead letters in the admin API: the messages that could not be processed, with why, and
//! replaying one or all of them after a fix (as `amends dead-letters list|replay` does).

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::activity::Limit;
use crate::broker;
use crate::http::AppState;
use crate::http::auth::Admin;
use crate::http::error::{ApiError, Body, ErrorBody};

/// How long a broker operation of the console may take.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

/// One dead letter.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterView {
    /// The CloudEvent id, or the AMQP message id.
    pub id: Option<String>,
    /// The routing key it first arrived with.
    pub routing_key: String,
    /// Why it could not be processed (`x-amends-error`).
    pub error: String,
    /// Its size in bytes.
    pub size: usize,
}

/// The dead-letter queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterList {
    /// The queue's name.
    pub queue: String,
    /// Its messages, oldest first (all left in it).
    pub dead_letters: Vec<DeadLetterView>,
}

/// What to replay: one message by id, or all.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Replay {
    /// The message's id.
    #[serde(default)]
    pub id: Option<String>,
    /// Every message.
    #[serde(default)]
    pub all: bool,
}

/// How many were replayed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    /// Messages sent back to be processed again.
    pub replayed: usize,
}

/// Runs `work` on a confirming channel of a fresh broker connection, within the timeout.
async fn with_channel<T, F>(state: &AppState, work: F) -> Result<T, ApiError>
where
    F: AsyncFnOnce(&lapin::Channel) -> Result<T, broker::BrokerError>,
{
    let names = &state.config.amqp;
    let attempt = async {
        let name = format!("{}-console", state.instance);
        let connection = broker::connect(&state.amqp_url, &name).await?;
        let result = async {
            broker::declare_topology(&connection, names).await?;
            let channel = broker::confirm_channel(&connection).await?;
            work(&channel).await
        }
        .await;
        let _ = connection.close(200, "done".into()).await;
        result
    };
    match tokio::time::timeout(BROKER_TIMEOUT, attempt).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(ApiError::Unavailable(format!("the broker: {e}"))),
        Err(_) => Err(ApiError::Unavailable(
            "the broker did not answer in time".to_owned(),
        )),
    }
}

/// The messages in the dead-letter queue, each with why it is there.
#[utoipa::path(get, path = "/api/dead-letters", tag = "dead letters", params(Limit),
    responses((status = 200, body = DeadLetterList), (status = 503, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(limit): Query<Limit>,
) -> Result<Json<DeadLetterList>, ApiError> {
    let limit = limit.get(100) as usize;
    let names = state.config.amqp.clone();
    let letters = with_channel(&state, async |channel| {
        crate::dead_letters::list(channel, &names, limit).await
    })
    .await?;
    Ok(Json(DeadLetterList {
        queue: state.config.amqp.dead_letter_queue.clone(),
        dead_letters: letters
            .into_iter()
            .map(|l| DeadLetterView {
                id: l.id,
                routing_key: l.routing_key,
                error: l.error,
                size: l.size,
            })
            .collect(),
    }))
}

/// Sends dead letters back to the exchange and routing key they first came with, to be
/// processed again after a fix.
#[utoipa::path(post, path = "/api/dead-letters/replay", tag = "dead letters",
    request_body = Replay,
    responses((status = 200, body = Replayed), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn replay(
    State(state): State<AppState>,
    admin: Admin,
    Body(request): Body<Replay>,
) -> Result<Json<Replayed>, ApiError> {
    let only = match (request.id, request.all) {
        (Some(id), false) => Some(id),
        (None, true) => None,
        _ => {
            return Err(ApiError::Invalid(
                "give either the id of one message or \"all\": true".to_owned(),
            ));
        }
    };
    let names = state.config.amqp.clone();
    let wanted = only.clone();
    let subject = only.clone().unwrap_or_else(|| "all".to_owned());
    let replayed = with_channel(&state, async |channel| {
        crate::dead_letters::replay(channel, &names, wanted.as_deref()).await
    })
    .await?;
    if replayed == 0
        && let Some(id) = only
    {
        return Err(ApiError::NotFound(format!(
            "no message with id {id} in the dead-letter queue"
        )));
    }
    tracing::info!(replayed, "dead letters replayed");
    crate::http::audit::by(
        &state,
        &admin,
        "dead_letters.replay",
        Some(&subject),
        serde_json::json!({ "replayed": replayed }),
    )
    .await;
    Ok(Json(Replayed { replayed }))
}

//! `/healthz` (the process answers), `/readyz` (broker and database answer), `/metrics`.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;
use crate::broker;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = state.store.ping();
    let broker = async {
        let name = format!("{}-readyz", state.instance);
        match tokio::time::timeout(
            Duration::from_secs(3),
            broker::connect(&state.amqp_url, &name),
        )
        .await
        {
            Ok(Ok(connection)) => {
                let _ = connection.close(200, "readiness check".into()).await;
                true
            }
            _ => false,
        }
    };
    let (database, broker) = tokio::join!(database, broker);
    let status = if database && broker {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unreachable" };
    (
        status,
        axum::Json(serde_json::json!({
            "database": word(database),
            "broker": word(broker),
        })),
    )
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match state.metrics.encode() {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "encoding metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

//! `/healthz` (every worker task of the process is alive), `/readyz` (the consumer is consuming
//! and the database answers), `/metrics`.
//!
//! Both probes read what the daemon already knows ([`crate::health::Health`]): they open no
//! connection and run no query, so a flood of probes cannot starve the work.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;
use crate::telemetry::ProviderLabels;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let dead = state.health.dead();
    if dead.is_empty() {
        return (StatusCode::OK, "ok\n".to_owned());
    }
    let lines: String = dead
        .iter()
        .map(|(task, why)| format!("{task}: {why}\n"))
        .collect();
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("unhealthy: a worker task died\n{lines}"),
    )
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let readiness = state.health.readiness();
    let status = if readiness.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool, bad: &'static str| if ok { "ok" } else { bad };
    (
        status,
        axum::Json(serde_json::json!({
            "database": word(readiness.database, "unreachable"),
            "broker": word(readiness.consuming, "not consuming"),
        })),
    )
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // What this replica knows without a query: readiness and its breakers, as of this scrape.
    let metrics = &state.metrics;
    metrics
        .ready
        .set(i64::from(state.health.readiness().ready()));
    for (provider, open) in state.transports.breakers_open(std::time::Instant::now()) {
        metrics
            .breaker_open
            .get_or_create(&ProviderLabels {
                provider: provider.to_owned(),
            })
            .set(i64::from(open));
    }
    match metrics.encode() {
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

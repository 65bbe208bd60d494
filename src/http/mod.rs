//! The HTTP server: health, readiness and metrics, and the provider webhooks (the admin API
//! and console grow here).

mod health;
pub mod signature;
mod webhooks;

pub use webhooks::WebhookKeys;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use secrecy::SecretString;
use tower_http::timeout::TimeoutLayer;

use crate::store::Store;
use crate::telemetry::Metrics;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// Broker URL, for the readiness check.
    pub amqp_url: SecretString,
    /// Instance name, for the readiness check's connection name.
    pub instance: String,
    /// What provider webhooks are verified with.
    pub webhooks: Arc<WebhookKeys>,
    /// Woken when a webhook queued an outcome event to publish.
    pub announce: Arc<tokio::sync::Notify>,
}

/// Requests taking longer than this are answered 408; nothing here should.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The full router.
pub fn router(state: AppState) -> Router {
    health::router()
        .merge(webhooks::router())
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(state)
}

//! The HTTP server: health, readiness and metrics, the provider webhooks, and (when
//! `AMENDS_ADMIN_TOKEN` is set) the admin API under `/api/` and the coordinator's console at `/`.
//!
//! [`router`] serves all of it on `http_bind`; [`webhook_router`] serves only the webhooks, for
//! the optional internet-facing listener on `webhook_bind`.

pub mod api;
pub mod audit;
pub mod auth;
mod console;
pub mod error;
mod health;
mod webhooks;

pub use webhooks::{
    POSTMARK_EVENTS_PATH, SENDGRID_EVENTS_PATH, TWILIO_INBOUND_PATH, TWILIO_STATUS_PATH,
    VONAGE_STATUS_PATH, WebhookKeys,
};

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use secrecy::SecretString;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::Config;
use crate::editor::Editor;
use crate::reload::{PolicyCell, TemplatesCell};
use crate::store::Store;
use crate::telemetry::Metrics;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// Which worker tasks are alive and what the daemon's connections report.
    pub health: Arc<crate::health::Health>,
    /// Broker URL, for the dead-letter views.
    pub amqp_url: SecretString,
    /// Instance name, for the broker connections' names.
    pub instance: String,
    /// What provider webhooks are verified with.
    pub webhooks: Arc<WebhookKeys>,
    /// Woken when a webhook queued an outcome event to publish.
    pub announce: Arc<tokio::sync::Notify>,
    /// The configuration.
    pub config: Arc<Config>,
    /// The policy in force.
    pub policy: PolicyCell,
    /// The templates in force.
    pub templates: TemplatesCell,
    /// Checks and publishes template texts.
    pub editor: Editor,
    /// The providers, shared with the dispatcher: a test send goes through the same rate
    /// limiters and circuit breakers.
    pub transports: Arc<crate::deliver::Transports>,
    /// The admin token's sessions; `None` turns the admin API and console off.
    pub admin: Option<Arc<auth::AdminAuth>>,
    /// The daemon's "now": when a customer's calling hours are.
    pub clock: crate::clock::Clock,
}

/// Requests taking longer than this are answered 408; nothing here should.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Headers on every console and admin API answer: nothing cached, sniffed, framed or referred.
fn hardened<S: Clone + Send + Sync + 'static>(router: Router<S>, cache: &'static str) -> Router<S> {
    let headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            console::CONTENT_SECURITY_POLICY,
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, cache),
    ];
    headers.into_iter().fold(
        router,
        |router, (name, value): (HeaderName, &'static str)| {
            router.layer(SetResponseHeaderLayer::if_not_present(
                name,
                HeaderValue::from_static(value),
            ))
        },
    )
}

/// The full router.
pub fn router(state: AppState) -> Router {
    health::router()
        .merge(webhooks::router(state.clone()))
        .merge(hardened(console::router(), "no-cache"))
        .nest("/api", hardened(api::router(), "no-store"))
        .layer(timeout())
        .with_state(state)
}

/// Only the provider webhooks under `/webhooks/`: what the internet may reach. Every other path,
/// `/metrics`, `/api/` and the console included, is 404 here, so a listener serving this router
/// can face the internet while the full one stays internal.
pub fn webhook_router(state: AppState) -> Router {
    webhooks::router(state.clone())
        .fallback(not_found)
        .layer(timeout())
        .with_state(state)
}

/// The same bare 404 for every path the webhook listener does not serve.
async fn not_found() -> (axum::http::StatusCode, &'static str) {
    (axum::http::StatusCode::NOT_FOUND, "not found\n")
}

/// The one request deadline of both routers.
fn timeout() -> TimeoutLayer {
    TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT)
}

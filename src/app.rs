//! The running daemon: builds every part from a [`Config`], then runs the consumer, the
//! dispatcher and the HTTP server (with, when `webhook_bind` is set, a second listener serving
//! only the provider webhooks) until a cancellation token fires, and drains them.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::deliver::{Announcer, Dispatcher, TransportError, Transports, Wakeups};
use crate::gauges::Gauges;
use crate::health::Health;
use crate::http::{self, AppState};
use crate::ingest::Ingest;
use crate::policy::{Policy, PolicyError};
use crate::reload::{PolicyCell, PolicyReloader, TemplateReloader, TemplatesCell};
use crate::retention::Retention;
use crate::store::{Store, StoreError};
use crate::telemetry::Metrics;
use crate::templates::TemplateError;

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The templates are invalid.
    #[error("templates: {0}")]
    Templates(#[from] TemplateError),
    /// A rule names a template that does not exist.
    #[error(transparent)]
    MissingTemplate(#[from] crate::templates::MissingTemplate),
    /// A transport could not be built.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An HTTP address could not be bound.
    #[error("{key}: cannot listen on {addr}: {source}")]
    Bind {
        /// The configuration key that gave the address (`http_bind`, `webhook_bind`).
        key: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The template texts in force could not be gathered.
    #[error(transparent)]
    Edit(crate::editor::EditError),
    /// The HTTP server failed.
    #[error("HTTP server: {0}")]
    Serve(#[source] std::io::Error),
}

impl From<crate::editor::EditError> for AppError {
    fn from(e: crate::editor::EditError) -> AppError {
        match e {
            crate::editor::EditError::Store(e) => AppError::Store(e),
            crate::editor::EditError::Templates(e) => AppError::Templates(e),
            other => AppError::Edit(other),
        }
    }
}

/// Connections of the dispatcher's own pool: a claim, a mark, a record and a lease renewal can
/// each be under way at once.
const DISPATCHER_CONNECTIONS: u32 = 3;

/// How often the templates are rebuilt even without a notification (one that was missed while
/// the listening connection was down is caught by this).
const TEMPLATE_POLL: std::time::Duration = std::time::Duration::from_secs(30);

/// A built daemon, ready to run.
pub struct App {
    config: Arc<Config>,
    store: Store,
    policy: PolicyCell,
    templates: TemplatesCell,
    transports: Arc<Transports>,
    metrics: Arc<Metrics>,
    listener: TcpListener,
    /// The webhook-only listener, when `webhook_bind` is set.
    webhook_listener: Option<TcpListener>,
    clock: Clock,
}

/// Binds `addr`, or says which key gave the address that could not be bound.
async fn bind(key: &'static str, addr: SocketAddr) -> Result<TcpListener, AppError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| AppError::Bind { key, addr, source })
}

impl App {
    /// Loads content, opens (creating and migrating) the database and binds the HTTP port (and
    /// the webhook port, when configured).
    pub async fn build(config: Config) -> Result<App, AppError> {
        let policy = Policy::load(&config.policy)?;
        let transports = Arc::new(Transports::from_config(&config)?);
        let store = Store::open(
            &config.database_url,
            config.database_max_connections,
            &config.instance_name,
        )
        .await?;
        let templates = crate::editor::templates_in_force(
            &store,
            &config.templates_dir,
            &config.template_settings(),
        )
        .await?;
        templates.cover(&policy)?;
        let listener = bind("http_bind", config.http_bind).await?;
        let webhook_listener = match config.webhook_bind {
            Some(addr) => Some(bind("webhook_bind", addr).await?),
            None => None,
        };
        Ok(App {
            config: Arc::new(config),
            store,
            policy: Arc::new(arc_swap::ArcSwap::from_pointee(policy)),
            templates: Arc::new(arc_swap::ArcSwap::from_pointee(templates)),
            transports,
            metrics: Metrics::new(),
            listener,
            webhook_listener,
            clock: Clock::system(),
        })
    }

    /// The same daemon, taking "now" from `clock` (real time unless given): what decisions are
    /// made at and due times are measured by. Tests move it to cross quiet hours.
    pub fn with_clock(mut self, clock: Clock) -> App {
        self.clock = clock;
        self
    }

    /// The bound HTTP port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The bound port of the webhook-only listener, when `webhook_bind` is set.
    pub fn webhook_port(&self) -> Option<u16> {
        self.webhook_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// The store, for inspection in tests.
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Runs until `token` is cancelled: the consumer stops taking messages and finishes those in
    /// flight, the dispatcher finishes its sends, the HTTP listeners drain; then returns.
    pub async fn run(self, token: CancellationToken) -> Result<(), AppError> {
        let wakeups = Wakeups::default();
        let announce = wakeups.announcer.clone();
        let health = Health::new(self.metrics.clone());
        let ingest = Ingest::new(
            self.config.clone(),
            self.store.clone(),
            self.policy.clone(),
            self.templates.clone(),
            self.metrics.clone(),
            health.clone(),
            wakeups.clone(),
        )
        .with_clock(self.clock.clone());
        let reloader = PolicyReloader {
            path: self.config.policy.clone(),
            cell: self.policy.clone(),
            templates: self.templates.clone(),
            interval: self.config.policy_reload_interval,
            metrics: self.metrics.clone(),
        };
        let template_reloader = TemplateReloader {
            store: self.store.clone(),
            dir: self.config.templates_dir.clone(),
            settings: self.config.template_settings(),
            cell: self.templates.clone(),
            policy: self.policy.clone(),
            interval: TEMPLATE_POLL,
            metrics: self.metrics.clone(),
        };
        // Its own pool: recording what was sent must not wait behind events being recorded.
        let dispatcher_store = self.store.with_own_pool(DISPATCHER_CONNECTIONS);
        let dispatcher = Dispatcher::new(
            dispatcher_store.clone(),
            self.transports.clone(),
            self.config.dispatch.clone(),
            self.config.instance_name.clone(),
            self.metrics.clone(),
            health.clone(),
            wakeups.clone(),
        )
        .with_clock(self.clock.clone());
        let announcer = Announcer {
            store: self.store.clone(),
            amqp_url: self.config.amqp_url.clone(),
            exchange: self.config.amqp.events_exchange.clone(),
            instance: self.config.instance_name.clone(),
            poll_interval: self.config.dispatch.poll_interval,
            lease: self.config.dispatch.lease_duration,
            wake: announce.clone(),
        };
        let overdue = crate::watch::Watcher::new(
            self.config.clone(),
            self.store.clone(),
            self.policy.clone(),
            self.templates.clone(),
            self.metrics.clone(),
            wakeups.clone(),
        )
        .with_clock(self.clock.clone());
        let gauges = Gauges {
            store: self.store.clone(),
            amqp_url: self.config.amqp_url.clone(),
            dead_letter_queue: self.config.amqp.dead_letter_queue.clone(),
            policy: self.policy.clone(),
            metrics: self.metrics.clone(),
            interval: self.config.metrics_refresh_interval,
            clock: self.clock.clone(),
            instance: self.config.instance_name.clone(),
        };
        let hooks = &self.config.webhooks;
        let webhooks = http::WebhookKeys {
            public_url: self.config.public_url.clone(),
            twilio_auth_tokens: hooks.twilio_auth_tokens.clone(),
            // Checked when the configuration was loaded.
            sendgrid_public_keys: hooks
                .sendgrid_public_keys
                .iter()
                .filter_map(|key| crate::signature::sendgrid_key(key).ok())
                .collect(),
            postmark_basic_auth: hooks.postmark_basic_auth.clone(),
            vonage_signature_secrets: hooks.vonage_signature_secrets.clone(),
        };
        let admin = http::auth::AuthSettings::from_config(&self.config)
            .map(|settings| Arc::new(http::auth::AdminAuth::new(settings)));
        let state = AppState {
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            health: health.clone(),
            amqp_url: self.config.amqp_url.clone(),
            instance: self.config.instance_name.clone(),
            webhooks: Arc::new(webhooks),
            announce,
            config: self.config.clone(),
            policy: self.policy.clone(),
            templates: self.templates.clone(),
            editor: crate::editor::Editor::new(self.store.clone(), &self.config),
            transports: self.transports.clone(),
            admin,
            clock: self.clock.clone(),
        };
        let address = |l: &TcpListener| l.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(
            instance = %self.config.instance_name,
            http = %address(&self.listener),
            webhooks = %self.webhook_listener.as_ref().map(address).unwrap_or_default(),
            "amends running"
        );

        // Each worker runs under the health registry: one that panics or stops on its own makes
        // /healthz fail at once, so the orchestrator restarts the process.
        let t = token.child_token();
        let consumer = health.spawn("consumer", t.clone(), ingest.run(t));
        let t = token.child_token();
        let watcher = health.spawn("policy_reloader", t.clone(), reloader.run(t));
        let t = token.child_token();
        let template_watcher =
            health.spawn("template_reloader", t.clone(), template_reloader.run(t));
        let t = token.child_token();
        let sender = health.spawn("dispatcher", t.clone(), dispatcher.run(t));
        let t = token.child_token();
        let gauge_task = health.spawn("gauges", t.clone(), gauges.run(t));
        let t = token.child_token();
        let watch_task = health.spawn("overdue_watcher", t.clone(), overdue.run(t));
        let retention_task = self.config.retention.map(|keep| {
            let retention = Retention {
                store: self.store.clone(),
                keep,
                interval: self.config.retention_check_interval,
                clock: self.clock.clone(),
            };
            let t = token.child_token();
            health.spawn("retention", t.clone(), retention.run(t))
        });
        // The announcer stops last, so the outcomes of the final sends are announced too.
        let announcer_token = CancellationToken::new();
        let publisher = health.spawn(
            "announcer",
            announcer_token.clone(),
            announcer.run(announcer_token.clone()),
        );
        // The peer's address is what sign-in and bearer-token limits count by; the webhook
        // listener gives it too, so a handler reads it alike on either.
        let http_token = token.child_token();
        let server = axum::serve(
            self.listener,
            http::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { http_token.cancelled().await });
        let hooks_server = self.webhook_listener.map(|listener| {
            let hooks_token = token.child_token();
            axum::serve(
                listener,
                http::webhook_router(state).into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { hooks_token.cancelled().await })
        });

        // Both listeners drain on the one token; whichever ends first (an error) ends the other,
        // and the workers, too.
        let main = async {
            let served = server.await.map_err(AppError::Serve);
            token.cancel();
            served
        };
        let hooks = async {
            let Some(hooks_server) = hooks_server else {
                return Ok(());
            };
            let served = hooks_server.await.map_err(AppError::Serve);
            token.cancel();
            served
        };
        let (served, hooks_served) = tokio::join!(main, hooks);
        let served = served.and(hooks_served);
        let tasks = [
            consumer,
            sender,
            watcher,
            template_watcher,
            gauge_task,
            watch_task,
        ];
        for task in tasks.into_iter().chain(retention_task) {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a task panicked");
            }
        }
        announcer_token.cancel();
        if let Err(e) = publisher.await {
            tracing::error!(error = %e, "a task panicked");
        }
        dispatcher_store.close().await;
        self.store.close().await;
        tracing::info!("amends stopped");
        served
    }
}

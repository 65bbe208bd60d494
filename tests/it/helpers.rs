//! Test harness: a real daemon against the real RabbitMQ and PostgreSQL, isolated per test.
//!
//! Each test gets its own database (a fresh UUID name, dropped at the end), its own exchange and
//! queue names, its own outbox directory and an HTTP port chosen by the OS. Waiting is polling
//! with a deadline, never a fixed sleep.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use amends::app::App;
use amends::clock::Clock;
use amends::config::Config;
use lapin::options::{BasicGetOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection};
use serde_json::Value;
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long any wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Unique names for one test.
#[derive(Debug, Clone)]
pub struct Names {
    pub database: String,
    pub exchange: String,
    pub queue: String,
    pub dead: String,
    pub events: String,
}

impl Names {
    pub fn new() -> Names {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Names {
            database: format!("amends_test_{id}"),
            exchange: format!("test.{id}.orders"),
            queue: format!("test.{id}.order-events"),
            dead: format!("test.{id}.order-events.dead"),
            events: format!("test.{id}.events"),
        }
    }

    pub fn database_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.database)
    }

    /// The environment for a daemon using these names and `outbox`.
    pub fn env(&self, outbox: &Path) -> Vec<(String, String)> {
        [
            ("AMENDS_AMQP_URL", AMQP_URL.to_owned()),
            ("AMENDS_DATABASE_URL", self.database_url()),
            ("AMENDS_HTTP_BIND", "127.0.0.1:0".to_owned()),
            ("AMENDS_TEMPLATES_DIR", repo("templates")),
            ("AMENDS_POLICY", repo("policy/default.toml")),
            ("AMENDS_OUTBOX_DIR", outbox.display().to_string()),
            ("AMENDS_ORDERS_EXCHANGE", self.exchange.clone()),
            ("AMENDS_QUEUE", self.queue.clone()),
            ("AMENDS_DEAD_LETTER_QUEUE", self.dead.clone()),
            ("AMENDS_EVENTS_EXCHANGE", self.events.clone()),
            ("AMENDS_DATABASE_MAX_CONNECTIONS", "4".to_owned()),
            ("AMENDS_RETRY_SCHEDULE", "5ms,10ms,20ms".to_owned()),
            ("AMENDS_DISPATCH_POLL_INTERVAL", "20ms".to_owned()),
            ("AMENDS_SEND_TIMEOUT", "5s".to_owned()),
            ("AMENDS_LEASE_DURATION", "10s".to_owned()),
            ("AMENDS_STORE_URL", "https://shop.example".to_owned()),
            ("AMENDS_SUPPORT_EMAIL", "help@shop.example".to_owned()),
            // Tests run at any hour: no message waits for the customer's morning unless a test
            // sets the quiet hours (and the clock) itself.
            ("AMENDS_SMS_QUIET_HOURS", "off".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Drops the database and deletes the broker objects.
    pub async fn clean_up(&self) {
        if let Ok(mut admin) = PgConnection::connect(PG_ADMIN_URL).await {
            let sql = format!("drop database if exists \"{}\" with (force)", self.database);
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut admin)
                .await;
        }
        if let Ok(connection) = connect().await
            && let Ok(channel) = connection.create_channel().await
        {
            let listener = format!("{}.listener", self.events);
            for queue in [&self.queue, &self.dead, &listener] {
                let _ = channel
                    .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
            for exchange in [&self.exchange, &self.events] {
                let _ = channel
                    .exchange_delete(exchange.as_str().into(), Default::default())
                    .await;
            }
            let _ = connection.close(200, "test done".into()).await;
        }
    }
}

/// A path inside the repository.
pub fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

pub async fn connect() -> lapin::Result<Connection> {
    Connection::connect(AMQP_URL, Default::default()).await
}

/// A daemon running in this process.
pub struct TestApp {
    pub names: Names,
    pub outbox: Arc<tempfile::TempDir>,
    /// Whether this app removes the database and queues when it stops (replicas share them).
    owner: bool,
    pub port: u16,
    /// The webhook-only listener's port, when the test set `AMENDS_WEBHOOK_BIND`.
    pub webhook_port: Option<u16>,
    pub pool: PgPool,
    token: CancellationToken,
    task: Option<JoinHandle<()>>,
    /// Set once `stop` removed the database and queues.
    cleaned: bool,
    publisher: Connection,
    publish_channel: lapin::Channel,
}

/// Starts a daemon with the default configuration for tests plus `extra` environment.
pub async fn spawn_app(extra: &[(&str, &str)]) -> TestApp {
    let outbox = Arc::new(tempfile::tempdir().expect("temp dir"));
    start_app(Names::new(), outbox, true, extra, Clock::system()).await
}

/// Starts a daemon like [`spawn_app`] whose "now" is `clock`.
pub async fn spawn_app_with_clock(extra: &[(&str, &str)], clock: Clock) -> TestApp {
    let outbox = Arc::new(tempfile::tempdir().expect("temp dir"));
    start_app(Names::new(), outbox, true, extra, clock).await
}

async fn start_app(
    names: Names,
    outbox: Arc<tempfile::TempDir>,
    owner: bool,
    extra: &[(&str, &str)],
    clock: Clock,
) -> TestApp {
    crate::logs::init();
    let mut env = names.env(outbox.path());
    // Replicas in one process share a process id: name each one.
    let instance = format!("test-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    env.push(("AMENDS_INSTANCE_NAME".to_owned(), instance));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Config::from_sources(None, env).expect("test config");
    let app = App::build(config)
        .await
        .expect("app builds")
        .with_clock(clock);
    let port = app.port();
    let webhook_port = app.webhook_port();
    let pool = app.store().pool().clone();
    let token = CancellationToken::new();
    let run_token = token.clone();
    let task = tokio::spawn(async move {
        app.run(run_token).await.expect("app runs");
    });
    let publisher = connect().await.expect("broker");
    let publish_channel = publisher.create_channel().await.expect("channel");
    publish_channel
        .confirm_select(Default::default())
        .await
        .expect("confirms");
    // The daemon declares the topology when its consumer starts; declaring it here too (the same
    // way) lets the test publish before that without losing messages.
    declare(&publisher, &names).await;
    TestApp {
        names,
        outbox,
        owner,
        port,
        webhook_port,
        pool,
        token,
        task: Some(task),
        cleaned: false,
        publisher,
        publish_channel,
    }
}

/// Declares the topology exactly as the daemon does.
pub async fn declare(connection: &Connection, names: &Names) {
    let config = Config::from_sources(None, names.env(Path::new("unused"))).expect("config");
    amends::broker::declare_topology(connection, &config.amqp)
        .await
        .expect("topology");
}

impl TestApp {
    /// Another replica sharing this app's database, queues and outbox directory.
    pub async fn spawn_replica(&self, extra: &[(&str, &str)]) -> TestApp {
        start_app(
            self.names.clone(),
            self.outbox.clone(),
            false,
            extra,
            Clock::system(),
        )
        .await
    }

    /// Another replica like [`TestApp::spawn_replica`] whose "now" is `clock`.
    pub async fn spawn_replica_with_clock(&self, extra: &[(&str, &str)], clock: Clock) -> TestApp {
        start_app(self.names.clone(), self.outbox.clone(), false, extra, clock).await
    }

    /// Publishes raw bytes to the orders exchange with `routing_key` and waits for the confirm.
    pub async fn publish_raw(&self, routing_key: &str, body: &[u8], content_type: Option<&str>) {
        let mut properties = BasicProperties::default().with_delivery_mode(2);
        if let Some(ct) = content_type {
            properties = properties.with_content_type(ct.into());
        }
        amends::broker::publish_confirmed(
            &self.publish_channel,
            &self.names.exchange,
            routing_key,
            body,
            properties,
        )
        .await
        .expect("publish");
    }

    /// Puts `body` straight into the dead-letter queue, as amends does when it gives up on one.
    pub async fn put_dead_letter(&self, body: &[u8], headers: lapin::types::FieldTable) {
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/cloudevents+json".into())
            .with_headers(headers);
        amends::broker::publish_confirmed(
            &self.publish_channel,
            "",
            &self.names.dead,
            body,
            properties,
        )
        .await
        .expect("publish");
    }

    /// Publishes a CloudEvent routed by its type.
    pub async fn publish(&self, event: &Value) {
        let routing_key = event["type"].as_str().unwrap_or("order.delayed").to_owned();
        let body = serde_json::to_vec(event).expect("json");
        self.publish_raw(&routing_key, &body, Some("application/cloudevents+json"))
            .await;
    }

    pub fn email_dir(&self) -> PathBuf {
        self.outbox.path().join("email")
    }

    pub fn sms_dir(&self) -> PathBuf {
        self.outbox.path().join("sms")
    }

    /// Waits until `dir` holds at least `n` files, then returns them.
    pub async fn wait_for_files(&self, dir: &Path, n: usize) -> Vec<PathBuf> {
        wait_until(&format!("{n} files in {}", dir.display()), || async {
            let found = files(dir);
            (found.len() >= n).then_some(found)
        })
        .await
    }

    /// Number of rows a scalar count query returns.
    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.pool)
            .await
            .expect("count query")
    }

    /// Waits until a count query returns at least `n`.
    /// Messages sent that were rendered with template texts `version`.
    pub async fn count_of_version(&self, version: &str) -> i64 {
        sqlx::query_scalar(
            "select count(*) from outbox where status = 'sent' and template_version = $1",
        )
        .bind(version)
        .fetch_one(&self.pool)
        .await
        .expect("count")
    }

    pub async fn wait_for_count(&self, sql: &'static str, n: i64) {
        wait_until(&format!("{sql} >= {n}"), || async {
            (self.count(sql).await >= n).then_some(())
        })
        .await
    }

    /// Waits until the queue has no ready or unacknowledged messages (all processed).
    pub async fn wait_until_drained(&self) {
        let queue = self.names.queue.clone();
        wait_until("the queue to drain", || async {
            let declared = self
                .publish_channel
                .queue_declare(
                    queue.as_str().into(),
                    lapin::options::QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .ok()?;
            // message_count counts ready messages only; the unacked are checked via the database
            // by callers. A quorum queue answers passive declares with the ready count.
            (declared.message_count() == 0).then_some(())
        })
        .await
    }

    /// Takes messages from the dead-letter queue until `expected` arrived (or the deadline).
    pub async fn dead_letters(&self, expected: usize) -> Vec<(Vec<u8>, String, BasicProperties)> {
        self.take(&self.names.dead, expected)
            .await
            .into_iter()
            .map(|(body, properties)| {
                let reason = properties
                    .headers()
                    .as_ref()
                    .and_then(|h| h.inner().get("x-amends-error").cloned())
                    .map(|v| match v {
                        AMQPValue::LongString(s) => s.to_string(),
                        other => format!("{other:?}"),
                    })
                    .unwrap_or_default();
                (body, reason, properties)
            })
            .collect()
    }

    /// Binds a fresh queue to the events exchange (every type) and returns its name.
    pub async fn listen_to_outcome_events(&self) -> String {
        let channel = self.publisher.create_channel().await.expect("channel");
        bind_listener(&channel, &self.names.events).await
    }

    /// Takes messages from `queue` until `expected` arrived (or the deadline).
    pub async fn take(&self, queue: &str, expected: usize) -> Vec<(Vec<u8>, BasicProperties)> {
        let mut out = Vec::new();
        let channel = self.publisher.create_channel().await.expect("channel");
        let start = std::time::Instant::now();
        while out.len() < expected {
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {expected} messages in {queue}, got {}",
                out.len()
            );
            let got = channel
                .basic_get(queue.into(), BasicGetOptions { no_ack: true })
                .await
                .expect("basic.get");
            let Some(message) = got else {
                tokio::time::sleep(Duration::from_millis(25)).await;
                continue;
            };
            out.push((
                message.delivery.data.clone(),
                message.delivery.properties.clone(),
            ));
        }
        out
    }

    /// The daemon's `/metrics` text, or `None` while it does not answer.
    pub async fn scrape_metrics(&self) -> Option<String> {
        http_client()
            .get(self.url("/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()
    }

    /// The HTTP base URL.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stops the daemon gracefully and waits for it, keeping its database for the test to read.
    pub async fn halt(&mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("app task");
        }
    }

    /// Stops the daemon gracefully, waits for it, and removes everything the test created.
    pub async fn stop(mut self) {
        self.halt().await;
        let _ = self.publisher.close(200, "test done".into()).await;
        self.pool.close().await;
        if self.owner {
            self.names.clean_up().await;
        }
        self.cleaned = true;
    }
}

impl Drop for TestApp {
    /// A test that failed before `stop` (halted or not) still removes its database and queues.
    fn drop(&mut self) {
        if self.cleaned || !self.owner {
            return;
        }
        self.token.cancel();
        let names = self.names.clone();
        // The test's runtime is unwinding; clean up on a runtime of our own.
        let cleaner = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(names.clean_up());
            }
        });
        let _ = cleaner.join();
    }
}

/// Declares `<exchange>.listener`, binds it to `exchange` for every routing key, and returns
/// its name.
pub async fn bind_listener(channel: &lapin::Channel, exchange: &str) -> String {
    let queue = format!("{exchange}.listener");
    channel
        .queue_declare(
            queue.as_str().into(),
            lapin::options::QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("declare listener");
    channel
        .queue_bind(
            queue.as_str().into(),
            exchange.into(),
            "#".into(),
            Default::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind listener");
    queue
}

/// Finished (non-temporary) files in `dir`, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    found.sort();
    found
}

/// Polls `check` until it returns `Some`, or panics after [`DEADLINE`] naming `what`.
pub async fn wait_until<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    wait_within(what, DEADLINE, check).await
}

/// Polls `check` until it returns `Some`, or panics after `limit` naming `what`.
pub async fn wait_within<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The database of a daemon started as a process, once it has created and migrated it.
pub async fn daemon_database(names: &Names) -> PgPool {
    wait_until("the daemon's database", || async {
        let pool = PgPool::connect(&names.database_url()).await.ok()?;
        sqlx::query("select 1 from outbox limit 1")
            .execute(&pool)
            .await
            .ok()?;
        Some(pool)
    })
    .await
}

/// A sample event of `event_type` with a fresh id, order and customer, edited by `edit`.
///
/// Fresh orders and customers keep tests independent of the policy's memory: one apology per
/// order per window, and per-customer caps.
pub fn event(event_type: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let text = amends::incident::sample(event_type).expect("sample exists");
    let mut event: Value = serde_json::from_str(text).expect("sample is JSON");
    let id = uuid::Uuid::new_v4();
    event["id"] = id.to_string().into();
    let short = &id.simple().to_string()[..10];
    event["data"]["order"]["id"] = format!("A-{short}").into();
    event["data"]["customer"]["id"] = format!("C-{short}").into();
    edit(&mut event);
    event
}

/// An HTTP client for talking to the daemon. reqwest is built without a TLS crypto provider of
/// its own (amends installs ring), so a test's own client needs it installed first.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A request to the admin API as a signed-in browser: the session cookie (`name=value`) and,
/// for a change, the CSRF token; the status and the JSON answer (null when not JSON).
pub async fn call_signed_in(
    http: &reqwest::Client,
    url: String,
    cookie: &str,
    csrf: &str,
    method: reqwest::Method,
    body: Option<Value>,
) -> (reqwest::StatusCode, Value) {
    let mut request = http.request(method.clone(), url).header("cookie", cookie);
    if method != reqwest::Method::GET {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Makes the sample customer no VIP: one message per event, the other channel held in reserve
/// (a VIP's long delay or cancellation by us goes by SMS and email at once).
pub fn not_vip(event: &mut Value) {
    event["data"]["customer"]["tier"] = Value::Null;
}

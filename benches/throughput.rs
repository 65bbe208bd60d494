//! End-to-end throughput and memory of the `amends` daemon, against this machine's bare limit.
//!
//! `cargo bench --bench throughput` (optionally `-- --events N`). For each transport (file outbox,
//! SMTP to a local sink) it starts the release binary as a child process, publishes N events with
//! publisher confirms, and times from the first publish until every message is recorded as sent.
//! Peak RSS is the daemon's VmHWM. In the same run it measures a bare pipeline (consume → one
//! three-row INSERT statement → ack, prefetch 64, 8 connections) so the figures can be read as a
//! ratio: runs on shared machines vary up to 2× from one run to the next.

#[path = "../tests/support/metrics.rs"]
mod metrics;
#[path = "../tests/support/smtp.rs"]
mod smtp;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection as _, PgConnection};

const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const PG: &str = "postgres://postgres@127.0.0.1:5432";

fn main() -> anyhow::Result<()> {
    // reqwest is built without a TLS crypto provider of its own; the metrics scrape needs one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let events = std::env::args()
        .skip_while(|a| a != "--events")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000usize);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        println!("amends throughput benchmark: {events} events per run");
        let bare = bare_pipeline(events).await?;
        println!("bare pipeline (consume → 1 statement → ack): {bare:.0} events/s");
        let outbox = daemon_run(events, Transport::Outbox).await?;
        report("file outbox", &outbox, bare);
        let smtp = daemon_run(events, Transport::Smtp).await?;
        report("SMTP sink", &smtp, bare);
        Ok(())
    })
}

fn report(name: &str, run: &RunResult, bare: f64) {
    let lag = |i: usize| match run.record_lag.get(i).copied().flatten() {
        Some(seconds) => format!("≤ {:.1} ms", seconds * 1000.0),
        None => "n/a".to_owned(),
    };
    println!(
        "amends → {name}: recorded {:.0} events/s ({:.2}× bare), delivered {:.0} events/s ({:.2}× bare), {:.2} ms CPU per event, peak RSS {:.1} MiB, send to record p50 {} p99 {}",
        run.ingest_rate,
        run.ingest_rate / bare,
        run.rate,
        run.rate / bare,
        run.cpu_ms_per_event,
        run.peak_rss_kib as f64 / 1024.0,
        lag(0),
        lag(1),
    );
}

#[derive(Clone, Copy, PartialEq)]
enum Transport {
    Outbox,
    Smtp,
}

struct RunResult {
    /// Events recorded per second (consume → decide → render → record → ack).
    ingest_rate: f64,
    /// Events whose message was sent, per second.
    rate: f64,
    /// CPU time the daemon spent per event (user + system).
    cpu_ms_per_event: f64,
    peak_rss_kib: u64,
    /// Time from a send's outcome to its record: bucket bounds of the median and the 99th
    /// percentile, in seconds.
    record_lag: Vec<Option<f64>>,
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

async fn daemon_run(events: usize, transport: Transport) -> anyhow::Result<RunResult> {
    let id = unique("bench");
    let database = format!("amends_{id}");
    let outbox = tempfile::tempdir()?;
    // A free port for the daemon's /metrics, read at the end of the run.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let sink = match transport {
        Transport::Smtp => Some(smtp::SmtpSink::start(smtp::SmtpBehaviour::default()).await),
        Transport::Outbox => None,
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_amends"));
    command
        .arg("run")
        .env("RUST_LOG", "error")
        .env("AMENDS_DATABASE_URL", format!("{PG}/{database}"))
        .env(
            "AMENDS_DATABASE_MAX_CONNECTIONS",
            std::env::var("BENCH_CONNS").unwrap_or("8".into()),
        )
        .env("AMENDS_HTTP_BIND", format!("127.0.0.1:{port}"))
        .env("AMENDS_TEMPLATES_DIR", root.join("templates"))
        .env("AMENDS_POLICY", root.join("policy/default.toml"))
        .env("AMENDS_OUTBOX_DIR", outbox.path())
        .env("AMENDS_ORDERS_EXCHANGE", format!("{id}.orders"))
        .env("AMENDS_QUEUE", format!("{id}.events"))
        .env("AMENDS_DEAD_LETTER_QUEUE", format!("{id}.dead"))
        .env("AMENDS_EVENTS_EXCHANGE", format!("{id}.out"))
        // Throughput, whatever the hour: no SMS waits for the morning.
        .env("AMENDS_SMS_QUIET_HOURS", "off")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(sink) = &sink {
        command
            .env("AMENDS_EMAIL_TRANSPORT", "smtp")
            .env("AMENDS_SMTP_URL", sink.url())
            .env("AMENDS_EMAIL_FROM", "care@shop.example");
    }
    let mut child = command.spawn()?;
    let pid = child.id().unwrap_or(0);

    // Wait until the daemon has migrated its database and declared its queue.
    let url = format!("{PG}/{database}");
    let pool = loop {
        if let Ok(pool) = PgPoolOptions::new().max_connections(2).connect(&url).await
            && sqlx::query("select 1 from outbox limit 1")
                .execute(&pool)
                .await
                .is_ok()
        {
            break pool;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let connection = Connection::connect(AMQP_URL, Default::default()).await?;
    let channel = connection.create_channel().await?;
    channel.confirm_select(Default::default()).await?;
    let names = amends::config::Config::from_sources(
        None,
        [
            ("AMENDS_ORDERS_EXCHANGE".to_owned(), format!("{id}.orders")),
            ("AMENDS_QUEUE".to_owned(), format!("{id}.events")),
            ("AMENDS_DEAD_LETTER_QUEUE".to_owned(), format!("{id}.dead")),
            ("AMENDS_EVENTS_EXCHANGE".to_owned(), format!("{id}.out")),
        ],
    )?;
    amends::broker::declare_topology(&connection, &names.amqp).await?;

    let template: serde_json::Value =
        serde_json::from_str(amends::incident::sample("order.delayed").unwrap_or("{}"))?;
    let start = Instant::now();
    for _ in 0..events {
        let mut event = template.clone();
        let event_id = uuid::Uuid::new_v4();
        event["id"] = event_id.to_string().into();
        // One incident per order and customer, as in a real stream: the same order a thousand
        // times would be one apology and 999 coalesced incidents.
        let short = event_id.simple().to_string();
        event["data"]["order"]["id"] = format!("A-{}", &short[..12]).into();
        event["data"]["customer"]["id"] = format!("C-{}", &short[..12]).into();
        channel
            .basic_publish(
                format!("{id}.orders").as_str().into(),
                "order.delayed".into(),
                Default::default(),
                &serde_json::to_vec(&event)?,
                BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_content_type("application/cloudevents+json".into()),
            )
            .await?;
    }
    channel.wait_for_confirms().await?;
    let mut recorded_at = None;
    loop {
        let (recorded, sent): (i64, i64) = sqlx::query_as(
            "select (select count(*) from incident), \
                    (select count(*) from outbox where status = 'sent')",
        )
        .fetch_one(&pool)
        .await?;
        if recorded_at.is_none() && recorded as usize >= events {
            recorded_at = Some(start.elapsed());
        }
        if sent as usize >= events {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = start.elapsed();
    let recorded_in = recorded_at.unwrap_or(elapsed);
    let peak_rss_kib = peak_rss(pid);
    let cpu_seconds = cpu_seconds(pid);
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await?
        .text()
        .await?;
    let record_lag =
        metrics::histogram_quantiles(&metrics, "amends_send_record_lag_seconds", &[0.5, 0.99]);
    if std::env::var_os("BENCH_METRICS").is_some() {
        for line in metrics
            .lines()
            .filter(|l| l.contains("_sum") || l.contains("_count"))
        {
            println!("  {line}");
        }
    }

    child.start_kill()?;
    let _ = child.wait().await;
    pool.close().await;
    for queue in [format!("{id}.events"), format!("{id}.dead")] {
        let _ = channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = connection.close(200, "done".into()).await;
    drop_database(&database).await;
    Ok(RunResult {
        ingest_rate: events as f64 / recorded_in.as_secs_f64(),
        rate: events as f64 / elapsed.as_secs_f64(),
        peak_rss_kib,
        cpu_ms_per_event: cpu_seconds * 1000.0 / events as f64,
        record_lag,
    })
}

/// VmHWM (peak resident set) of a process, in KiB.
fn peak_rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU seconds a process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the command name (which may contain spaces) start after ')'.
            let rest = stat.rsplit_once(')')?.1.to_owned();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some(utime + stime)
        })
        .unwrap_or(0);
    // Linux reports in clock ticks of 1/100 s on every architecture amends runs on.
    ticks as f64 / 100.0
}

async fn drop_database(name: &str) {
    if let Ok(mut admin) = PgConnection::connect(&format!("{PG}/postgres")).await {
        let sql = format!("drop database if exists \"{name}\" with (force)");
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await;
    }
}

/// The bare limit: consume, one three-row INSERT statement per event, ack from handler tasks.
async fn bare_pipeline(events: usize) -> anyhow::Result<f64> {
    let database = unique("amends_bare");
    let mut admin = PgConnection::connect(&format!("{PG}/postgres")).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "create database \"{database}\""
    )))
    .execute(&mut admin)
    .await?;
    let pool = Arc::new(
        PgPoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect(&format!("{PG}/{database}"))
            .await?,
    );
    sqlx::raw_sql(
        "create table e (id text primary key, body jsonb not null);
         create table d (id text primary key, rule text not null);
         create table o (id text primary key, body text not null);",
    )
    .execute(pool.as_ref())
    .await?;

    let queue = unique("bare");
    let connection = Connection::connect(AMQP_URL, Default::default()).await?;
    let channel = connection.create_channel().await?;
    channel.confirm_select(Default::default()).await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        lapin::types::AMQPValue::LongString("quorum".into()),
    );
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            arguments,
        )
        .await?;
    let body = amends::incident::sample("order.delayed")
        .unwrap_or("{}")
        .as_bytes()
        .to_vec();

    let consumer_channel = connection.create_channel().await?;
    consumer_channel
        .basic_qos(64, BasicQosOptions::default())
        .await?;
    let mut consumer = consumer_channel
        .basic_consume(
            queue.as_str().into(),
            "bare".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;

    let start = Instant::now();
    let publisher = {
        let channel = channel.clone();
        let queue = queue.clone();
        let body = body.clone();
        tokio::spawn(async move {
            for _ in 0..events {
                channel
                    .basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        Default::default(),
                        &body,
                        BasicProperties::default().with_delivery_mode(2),
                    )
                    .await?;
            }
            channel.wait_for_confirms().await.map(|_| ())
        })
    };
    let done = Arc::new(tokio::sync::Semaphore::new(0));
    for _ in 0..events {
        let Some(Ok(delivery)) = consumer.next().await else {
            anyhow::bail!("bare consumer ended early");
        };
        let pool = pool.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let id = uuid::Uuid::new_v4().to_string();
            let text = String::from_utf8_lossy(&delivery.data).into_owned();
            let inserted = sqlx::query(
                "with a as (insert into e values ($1, cast($2::text as jsonb)) returning id),
                      b as (insert into d select id, 'rule' from a returning id)
                 insert into o select id, $2 from b",
            )
            .bind(&id)
            .bind(&text)
            .execute(pool.as_ref())
            .await;
            if inserted.is_ok() {
                let _ = delivery.ack(BasicAckOptions::default()).await;
            }
            done.add_permits(1);
        });
    }
    let _ = done.acquire_many(events as u32).await?;
    let rate = events as f64 / start.elapsed().as_secs_f64();
    publisher.await??;

    let _ = channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await;
    let _ = connection.close(200, "done".into()).await;
    pool.close().await;
    drop_database(&database).await;
    Ok(rate)
}

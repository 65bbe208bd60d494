//! End-to-end throughput, latency and cost of the `amends` daemon, against the same work done bare.
//!
//! `cargo bench --bench throughput [-- OPTIONS]` starts the daemon binary as child processes
//! against this machine's RabbitMQ and PostgreSQL and compares it, in the same run, with a bare
//! pipeline doing the same work with the same libraries (see `throughput/bare.rs`): runs on
//! shared machines vary up to 2× from one to the next, so the ratio is the figure to compare.
//!
//! Options:
//! - `--workload mix|worst|sustained|all` (default `all`): the realistic mix, the worst case
//!   (every event issues a code against the day's budget), or a sustained offered rate;
//! - `--events N` (default 5000): events per throughput run;
//! - `--replicas 1,2,3` (default `1,2,3`): daemon processes sharing the database and the queue;
//! - `--rate R` and `--duration S` (default 500 events/s for 60 s): the sustained run;
//! - `--smoke`: 500 events of the mix through one replica, asserting that every event was
//!   recorded once and every message handed over once. It asserts no timing, and
//!   `cargo bench --bench throughput --profile dev -- --smoke` runs it on the test build.
//!
//! Each daemon run reports ingested and delivered events per second (the time from the first
//! publish until every incident is recorded, and until every message is handed over), the
//! daemons' CPU seconds per event (utime + stime from `/proc/PID/stat`), their peak RSS (VmHWM),
//! the time from spawn until `/readyz` answers 200 on an already migrated database, and the
//! database transactions and rows written per event (`pg_stat_database`). Round trips per event
//! are counted in separate runs through a proxy that reads the PostgreSQL protocol
//! (`throughput/pgcount.rs`). Latency, in the sustained run, is from the instant each event was
//! published to the instant its message reached the SMTP sink (email) or its file was written
//! (SMS, the file outbox): measured outside the daemon, never from its own metrics.
//!
//! `BENCH_LOG=LEVEL` runs the daemons at that log level (`RUST_LOG`; by default `error`, so the
//! figures are the work without its per-event log lines; the daemon's own default is `info`).
//!
//! `BENCH_PERF=FILE` records the first replica of each measured run with `perf record` into FILE
//! (the last run's profile remains), for `perf report -i FILE`.

#[path = "../tests/support/metrics.rs"]
mod metrics;
#[path = "../tests/support/smtp.rs"]
mod smtp;

#[path = "throughput/bare.rs"]
mod bare;
#[path = "throughput/pgcount.rs"]
mod pgcount;
#[path = "throughput/workload.rs"]
mod workload;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{BasicProperties, Connection};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection as _, PgConnection, PgPool};

use workload::Kind;

const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const PG: &str = "postgres://postgres@127.0.0.1:5432";

/// What to run, from the command line.
struct Options {
    workloads: Vec<Workload>,
    events: usize,
    replicas: Vec<usize>,
    rate: u32,
    duration: u64,
    smoke: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Workload {
    Mix,
    Worst,
    Sustained,
}

fn options() -> anyhow::Result<Options> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let workloads = match value("--workload").as_deref().unwrap_or("all") {
        "all" => vec![Workload::Mix, Workload::Worst, Workload::Sustained],
        "mix" => vec![Workload::Mix],
        "worst" => vec![Workload::Worst],
        "sustained" => vec![Workload::Sustained],
        other => anyhow::bail!("--workload {other}: expected mix, worst, sustained or all"),
    };
    let replicas = value("--replicas")
        .unwrap_or_else(|| "1,2,3".to_owned())
        .split(',')
        .map(|n| n.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("--replicas: {e}"))?;
    if replicas.contains(&0) {
        anyhow::bail!("--replicas: each count must be at least 1");
    }
    let number = |flag: &str, default: u64| -> anyhow::Result<u64> {
        value(flag).map_or(Ok(default), |v| {
            v.parse().map_err(|e| anyhow::anyhow!("{flag} {v}: {e}"))
        })
    };
    Ok(Options {
        workloads,
        events: number("--events", 5_000)? as usize,
        replicas,
        rate: number("--rate", 500)? as u32,
        duration: number("--duration", 60)?,
        smoke: args.iter().any(|a| a == "--smoke"),
    })
}

fn main() -> anyhow::Result<()> {
    // reqwest is built without a TLS crypto provider of its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let options = options()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        if options.smoke {
            return smoke().await;
        }
        println!(
            "amends throughput benchmark: {} events per throughput run, replicas {:?}, {} ({} cores)",
            options.events,
            options.replicas,
            env!("CARGO_PKG_VERSION"),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
        for workload in &options.workloads {
            match workload {
                Workload::Mix => throughput(Kind::Mix, &options).await?,
                Workload::Worst => throughput(Kind::Worst, &options).await?,
                Workload::Sustained => sustained(&options).await?,
            }
        }
        Ok(())
    })
}

/// The CI smoke run: every event recorded once, every message handed over once. No timing.
async fn smoke() -> anyhow::Result<()> {
    let events = 500;
    let run = amends_run(Plan {
        kind: Kind::Mix,
        events,
        replicas: 1,
        rate: None,
        count_round_trips: false,
        verify: true,
    })
    .await?;
    println!(
        "smoke: {events} events of the mix, each recorded once, {} messages each handed over once",
        run.messages
    );
    Ok(())
}

async fn throughput(kind: Kind, options: &Options) -> anyhow::Result<()> {
    let name = match kind {
        Kind::Mix => "mix",
        Kind::Worst => "worst",
    };
    println!("\n== {name}: {} events ==", options.events);
    let run = unique("b").replace('_', "");
    let events = Arc::new(
        (0..options.events)
            .map(|seq| workload::event(kind, &run, seq))
            .collect::<anyhow::Result<Vec<_>>>()?,
    );
    let sink = smtp::SmtpSink::start(smtp::SmtpBehaviour::default()).await;
    let bare = bare::run(Arc::clone(&events), sink.port(), None).await?;
    println!(
        "bare (same work): ingested {:.0} events/s, delivered {:.0} events/s",
        bare.ingest_rate, bare.delivered_rate
    );
    let mut one_replica = None;
    for &replicas in &options.replicas {
        let result = amends_run(Plan {
            kind,
            events: options.events,
            replicas,
            rate: None,
            count_round_trips: false,
            verify: false,
        })
        .await?;
        let scaling = match one_replica {
            Some(one) if replicas > 1 => {
                format!(", {:.2}× one replica", result.delivered_rate / one)
            }
            _ => String::new(),
        };
        if replicas == 1 {
            one_replica = Some(result.delivered_rate);
        }
        println!(
            "amends, {replicas} replica(s): ingested {:.0} events/s ({:.2}× bare), delivered {:.0} events/s ({:.2}× bare){scaling}; {}",
            result.ingest_rate,
            result.ingest_rate / bare.ingest_rate,
            result.delivered_rate,
            result.delivered_rate / bare.delivered_rate,
            result.costs(),
        );
    }
    let counted_events = options.events.min(1_000);
    let counted = amends_run(Plan {
        kind,
        events: counted_events,
        replicas: 1,
        rate: None,
        count_round_trips: true,
        verify: false,
    })
    .await?;
    // The same count for the bare pipeline, to read amends' against: one statement per event,
    // one mark per message, and one claim per batch, which holds few rows (and some claims
    // none) when the dispatchers keep up with recording.
    let counter = pgcount::RoundTripCounter::start("127.0.0.1:5432".parse()?).await?;
    let subset = Arc::new(
        (0..counted_events)
            .map(|seq| workload::event(kind, &run, seq + options.events))
            .collect::<anyhow::Result<Vec<_>>>()?,
    );
    bare::run(subset, sink.port(), Some(counter.port())).await?;
    println!(
        "database round trips per event, through the counting proxy ({counted_events} events): amends {:.2} ({} messages), bare {:.2}",
        counted.round_trips_per_event.unwrap_or(f64::NAN),
        counted.messages,
        counter.round_trips() as f64 / counted_events as f64,
    );
    Ok(())
}

async fn sustained(options: &Options) -> anyhow::Result<()> {
    let events = options.rate as usize * options.duration as usize;
    println!(
        "\n== sustained: the mix offered at {} events/s for {} s ==",
        options.rate, options.duration
    );
    for &replicas in &options.replicas {
        let result = amends_run(Plan {
            kind: Kind::Mix,
            events,
            replicas,
            rate: Some(options.rate),
            count_round_trips: false,
            verify: false,
        })
        .await?;
        let latency = result.latency.as_deref().unwrap_or(&[]);
        let quantile = |q: f64| match latency.len() {
            0 => f64::NAN,
            n => latency[((n - 1) as f64 * q).round() as usize],
        };
        println!(
            "amends, {replicas} replica(s): offered {:.0} events/s, delivered {:.0} events/s; publish → handed over p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} messages); {}",
            result.offered_rate,
            result.delivered_rate,
            quantile(0.5),
            quantile(0.95),
            quantile(0.99),
            quantile(1.0),
            latency.len(),
            result.costs(),
        );
    }
    Ok(())
}

/// One daemon run.
struct Plan {
    kind: Kind,
    events: usize,
    replicas: usize,
    /// Publish at this rate (events/s) instead of as fast as the broker confirms.
    rate: Option<u32>,
    /// Connect the daemons through the round-trip counting proxy (its rates are not reported).
    count_round_trips: bool,
    /// Check that every event was recorded once and every message handed over once.
    verify: bool,
}

struct AmendsResult {
    ingest_rate: f64,
    delivered_rate: f64,
    /// Events published per second (the sustained run's achieved offered rate).
    offered_rate: f64,
    /// Messages handed over (sent outbox rows).
    messages: i64,
    /// Events that issued a code (cost money), of all events.
    costing_share: f64,
    /// CPU time of every replica together, per event (user + system).
    cpu_ms_per_event: f64,
    /// The largest VmHWM of the replicas.
    peak_rss_kib: u64,
    /// Spawn to `/readyz` 200, per replica, in milliseconds.
    ready_ms: Vec<f64>,
    /// Committed and rolled-back transactions on the daemons' database per event (the bench's
    /// own polling subtracted).
    transactions_per_event: f64,
    /// Rows inserted, updated and deleted per event.
    rows_per_event: f64,
    round_trips_per_event: Option<f64>,
    /// Time from a send's outcome to its record in the first replica
    /// (`amends_send_record_lag_seconds`): bucket bounds of the median and the 99th percentile,
    /// in seconds. A crash in that window leaves a sent message in doubt.
    record_lag: Vec<Option<f64>>,
    /// Publish → handed over of every message, sorted, in milliseconds (the paced run only).
    latency: Option<Vec<f64>>,
}

impl AmendsResult {
    fn costs(&self) -> String {
        let ready: Vec<String> = self.ready_ms.iter().map(|ms| format!("{ms:.0}")).collect();
        let lag = |i: usize| match self.record_lag.get(i).copied().flatten() {
            Some(seconds) => format!("≤ {:.1} ms", seconds * 1000.0),
            None => "n/a".to_owned(),
        };
        format!(
            "{:.2} ms CPU per event, peak RSS {:.1} MiB, ready after {} ms, {:.2} transactions and {:.1} rows written per event, {} messages, {:.0} % of events issued a code, send → record p50 {} p99 {}",
            self.cpu_ms_per_event,
            self.peak_rss_kib as f64 / 1024.0,
            ready.join("/"),
            self.transactions_per_event,
            self.rows_per_event,
            self.messages,
            self.costing_share * 100.0,
            lag(0),
            lag(1),
        )
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A free port on 127.0.0.1 for a daemon's HTTP server.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn amends_run(plan: Plan) -> anyhow::Result<AmendsResult> {
    let id = unique("bench");
    let database = format!("amends_{id}");
    let outbox = tempfile::tempdir()?;
    let sink = smtp::SmtpSink::start(smtp::SmtpBehaviour::default()).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let policy = outbox.path().join("policy.toml");
    std::fs::write(
        &policy,
        workload::policy(&std::fs::read_to_string(root.join("policy/default.toml"))?)?,
    )?;
    let counter = if plan.count_round_trips {
        Some(pgcount::RoundTripCounter::start("127.0.0.1:5432".parse()?).await?)
    } else {
        None
    };
    let daemon_url = match &counter {
        // The proxy reads the protocol, so the stream must not be encrypted.
        Some(counter) => format!(
            "postgres://postgres@127.0.0.1:{}/{database}?sslmode=disable",
            counter.port()
        ),
        None => format!("{PG}/{database}"),
    };
    let log_level = std::env::var("BENCH_LOG").unwrap_or_else(|_| "error".to_owned());
    let command = |args: &[&str], port: u16| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_amends"));
        if log_level != "error" {
            // Logged lines go nowhere: what is measured is producing them, not a terminal.
            command.stdout(Stdio::null());
        }
        command
            .args(args)
            .env("RUST_LOG", &log_level)
            .env("AMENDS_DATABASE_URL", &daemon_url)
            .env("AMENDS_HTTP_BIND", format!("127.0.0.1:{port}"))
            .env("AMENDS_TEMPLATES_DIR", root.join("templates"))
            .env("AMENDS_POLICY", &policy)
            .env("AMENDS_OUTBOX_DIR", outbox.path())
            .env("AMENDS_ORDERS_EXCHANGE", format!("{id}.orders"))
            .env("AMENDS_QUEUE", format!("{id}.events"))
            .env("AMENDS_DEAD_LETTER_QUEUE", format!("{id}.dead"))
            .env("AMENDS_EVENTS_EXCHANGE", format!("{id}.out"))
            // Throughput, whatever the hour: no SMS waits for the morning.
            .env("AMENDS_SMS_QUIET_HOURS", "off")
            .env("AMENDS_EMAIL_TRANSPORT", "smtp")
            .env("AMENDS_SMTP_URL", sink.url())
            .env("AMENDS_EMAIL_FROM", "care@shop.example")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    };

    // The database exists and is migrated before the first replica starts: ready time is
    // then the daemon's own start, not a migration.
    let migrated = command(&["migrate"], free_port()?)
        .stdout(Stdio::null())
        .status()
        .await?;
    if !migrated.success() {
        anyhow::bail!("amends migrate failed: {migrated}");
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let mut children = Vec::new();
    let mut ports: Vec<u16> = Vec::new();
    let mut ready_ms = Vec::new();
    for _ in 0..plan.replicas {
        let port = free_port()?;
        let spawned = Instant::now();
        let mut child = command(&["run"], port).spawn()?;
        let ready_url = format!("http://127.0.0.1:{port}/readyz");
        loop {
            if let Ok(response) = http.get(&ready_url).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("amends run exited before it was ready: {status}");
            }
            if spawned.elapsed() > Duration::from_secs(60) {
                anyhow::bail!("amends run was not ready within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        ready_ms.push(spawned.elapsed().as_secs_f64() * 1000.0);
        children.push(child);
        ports.push(port);
    }
    let pids: Vec<u32> = children.iter().filter_map(|c| c.id()).collect();
    // The counting runs are not profiled: their file would replace the measured run's.
    let profiler = match (std::env::var_os("BENCH_PERF"), pids.first()) {
        (Some(path), Some(pid)) if !plan.count_round_trips => Some(start_profiler(&path, *pid)?),
        _ => None,
    };

    let mut result = drive(
        &plan,
        &id,
        &database,
        &pids,
        &sink,
        outbox.path(),
        counter.as_ref(),
    )
    .await;
    if let Some(profiler) = profiler {
        stop_profiler(profiler).await;
    }
    if let (Ok(result), Some(port)) = (&mut result, ports.first()) {
        let text = http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        result.record_lag =
            metrics::histogram_quantiles(&text, "amends_send_record_lag_seconds", &[0.5, 0.99]);
    }

    for child in &mut children {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    if let Ok(connection) = Connection::connect(AMQP_URL, Default::default()).await {
        if let Ok(channel) = connection.create_channel().await {
            for queue in [format!("{id}.events"), format!("{id}.dead")] {
                let _ = channel
                    .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
            for exchange in [format!("{id}.orders"), format!("{id}.out")] {
                let _ = channel
                    .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                    .await;
            }
        }
        let _ = connection.close(200, "done".into()).await;
    }
    drop(counter);
    drop_database(&database).await;
    let mut result = result?;
    result.ready_ms = ready_ms;
    Ok(result)
}

/// Publishes, waits until everything is handed over, and measures; the daemons are running.
async fn drive(
    plan: &Plan,
    id: &str,
    database: &str,
    pids: &[u32],
    sink: &smtp::SmtpSink,
    outbox: &Path,
    counter: Option<&pgcount::RoundTripCounter>,
) -> anyhow::Result<AmendsResult> {
    let run = id.replace('_', "");
    let events = (0..plan.events)
        .map(|seq| workload::event(plan.kind, &run, seq))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&format!("{PG}/{database}"))
        .await?;
    // Backends report their statistics when idle for a second: wait for the start-up's.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let stats_before = database_stats(&pool, database).await?;
    let cpu_before: f64 = pids.iter().map(|&pid| cpu_seconds(pid)).sum();
    let trips_before = counter.map(|c| c.round_trips());

    let connection = Connection::connect(AMQP_URL, Default::default()).await?;
    let channel = connection.create_channel().await?;
    channel.confirm_select(Default::default()).await?;
    let exchange = format!("{id}.orders");
    let mut published_at = Vec::with_capacity(events.len());
    let start = Instant::now();
    for (seq, event) in events.iter().enumerate() {
        if let Some(rate) = plan.rate {
            let due = start + Duration::from_secs_f64(seq as f64 / f64::from(rate));
            tokio::time::sleep_until(due.into()).await;
        }
        published_at.push(SystemTime::now());
        // Not awaiting each confirm: the publisher keeps its pace, and confirms are awaited
        // together at the end.
        channel
            .basic_publish(
                exchange.as_str().into(),
                event.event_type.into(),
                Default::default(),
                &event.body,
                BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_content_type("application/cloudevents+json".into()),
            )
            .await?;
    }
    let published = start.elapsed();
    channel.wait_for_confirms().await?;

    // Poll until every incident is recorded and no message is waiting or being sent.
    let mut polls = 0u64;
    let mut recorded_at = None;
    let deadline = Instant::now() + Duration::from_secs(900);
    let messages = loop {
        let (recorded, open, sent): (i64, i64, i64) = sqlx::query_as(
            "select (select count(*) from incident), \
                    (select count(*) from outbox where status in ('pending', 'sending')), \
                    (select count(*) from outbox where status = 'sent')",
        )
        .fetch_one(&pool)
        .await?;
        polls += 1;
        if recorded_at.is_none() && recorded as usize >= plan.events {
            recorded_at = Some(start.elapsed());
        }
        if recorded as usize >= plan.events && open == 0 {
            break sent;
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "not done after 15 minutes: {recorded} of {} recorded, {open} messages waiting",
                plan.events
            );
        }
        for &pid in pids {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                anyhow::bail!("a daemon (pid {pid}) exited during the run");
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let elapsed = start.elapsed();
    let cpu = pids.iter().map(|&pid| cpu_seconds(pid)).sum::<f64>() - cpu_before;
    let peak_rss_kib = pids.iter().map(|&pid| peak_rss(pid)).max().unwrap_or(0);
    let round_trips_per_event = counter
        .zip(trips_before)
        .map(|(c, before)| (c.round_trips() - before) as f64 / plan.events as f64);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let stats_after = database_stats(&pool, database).await?;
    // Each poll is one transaction of the bench's own, as is the first statistics query.
    let transactions = stats_after.0 - stats_before.0 - polls as i64 - 1;
    let rows = stats_after.1 - stats_before.1;

    let (costing,): (i64,) = sqlx::query_as(
        "select count(distinct incident_id) from compensation where status = 'issued'",
    )
    .fetch_one(&pool)
    .await?;
    let handed_over = handed_over(sink, outbox).await?;
    let latency = plan.rate.map(|_| {
        let mut latency: Vec<f64> = handed_over
            .iter()
            .filter_map(|(seq, at)| {
                let published = published_at.get(*seq)?;
                Some(
                    at.duration_since(*published)
                        .unwrap_or_default()
                        .as_secs_f64()
                        * 1000.0,
                )
            })
            .collect();
        latency.sort_by(f64::total_cmp);
        latency
    });
    if plan.verify {
        verify(plan, &run, &pool, &handed_over, messages).await?;
    }
    pool.close().await;
    let _ = connection.close(200, "done".into()).await;
    Ok(AmendsResult {
        ingest_rate: plan.events as f64 / recorded_at.unwrap_or(elapsed).as_secs_f64(),
        delivered_rate: plan.events as f64 / elapsed.as_secs_f64(),
        offered_rate: plan.events as f64 / published.as_secs_f64(),
        messages,
        costing_share: costing as f64 / plan.events as f64,
        cpu_ms_per_event: cpu * 1000.0 / plan.events as f64,
        peak_rss_kib,
        ready_ms: Vec::new(),
        transactions_per_event: transactions as f64 / plan.events as f64,
        rows_per_event: rows as f64 / plan.events as f64,
        round_trips_per_event,
        record_lag: Vec::new(),
        latency,
    })
}

/// `perf record` (sampling the CPU clock, as virtual machines often have no hardware counters)
/// of process `pid` into `path`, when the environment asks for it with `BENCH_PERF=path`.
fn start_profiler(path: &std::ffi::OsStr, pid: u32) -> anyhow::Result<tokio::process::Child> {
    Ok(tokio::process::Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-F", "999", "-g", "-o"])
        .arg(path)
        .args(["-p", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?)
}

/// Ends `perf record` as Ctrl-C does, so it writes its file.
async fn stop_profiler(mut profiler: tokio::process::Child) {
    if let Some(pid) = profiler.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .await;
    }
    let _ = profiler.wait().await;
}

/// Transactions (committed + rolled back) and rows written on `database` so far.
async fn database_stats(pool: &PgPool, database: &str) -> anyhow::Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "select (xact_commit + xact_rollback)::bigint,
                (tup_inserted + tup_updated + tup_deleted)::bigint
         from pg_stat_database where datname = $1",
    )
    .bind(database)
    .fetch_one(pool)
    .await?)
}

/// Every message handed over, as (event sequence number, when): emails from the SMTP sink's
/// receive time, SMS from the modification time of their file in the outbox.
async fn handed_over(
    sink: &smtp::SmtpSink,
    outbox: &Path,
) -> anyhow::Result<Vec<(usize, SystemTime)>> {
    let mut messages = Vec::new();
    for mail in sink.messages().await {
        let seq = mail
            .rcpt_to
            .first()
            .and_then(|to| workload::seq_of(to))
            .ok_or_else(|| {
                anyhow::anyhow!("an email to {:?}, not a bench customer", mail.rcpt_to)
            })?;
        messages.push((seq, mail.received_at));
    }
    let sms = outbox.join("sms");
    if sms.exists() {
        for entry in std::fs::read_dir(sms)? {
            let entry = entry?;
            let text: serde_json::Value = serde_json::from_slice(&std::fs::read(entry.path())?)?;
            let to = text["to"].as_str().unwrap_or_default();
            let seq = workload::seq_of(to)
                .ok_or_else(|| anyhow::anyhow!("an SMS to {to}, not a bench customer"))?;
            messages.push((seq, entry.metadata()?.modified()?));
        }
    }
    Ok(messages)
}

/// Every event recorded exactly once and every message handed over exactly once, to its
/// customer's one contact (the mix gives each customer one).
async fn verify(
    plan: &Plan,
    run: &str,
    pool: &PgPool,
    handed_over: &[(usize, SystemTime)],
    sent_rows: i64,
) -> anyhow::Result<()> {
    let recorded: Vec<(String, i64)> =
        sqlx::query_as("select event_id, count(*) from incident group by event_id")
            .fetch_all(pool)
            .await?;
    let mut seen = vec![0i64; plan.events];
    for (event_id, count) in &recorded {
        let seq = event_id
            .strip_prefix(&format!("{run}-"))
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&s| s < plan.events)
            .ok_or_else(|| {
                anyhow::anyhow!("an incident of an event never published: {event_id}")
            })?;
        seen[seq] += count;
    }
    if let Some(seq) = seen.iter().position(|&n| n != 1) {
        anyhow::bail!("event {seq} was recorded {} times, not once", seen[seq]);
    }
    let (unsent,): (i64,) =
        sqlx::query_as("select count(*) from outbox where status not in ('sent', 'standby')")
            .fetch_one(pool)
            .await?;
    if unsent > 0 {
        anyhow::bail!("{unsent} outbox rows neither sent nor held in reserve");
    }
    let (without,): (i64,) = sqlx::query_as(
        "select count(*) from incident i where (select count(*) from outbox o
           where o.incident_id = i.incident_id and o.status = 'sent') <> 1",
    )
    .fetch_one(pool)
    .await?;
    if without > 0 {
        anyhow::bail!("{without} incidents without exactly one sent message");
    }
    let mut received: HashMap<usize, usize> = HashMap::new();
    for (seq, _) in handed_over {
        *received.entry(*seq).or_default() += 1;
    }
    for seq in 0..plan.events {
        match received.get(&seq) {
            Some(1) => {}
            Some(n) => anyhow::bail!("customer {seq} received {n} messages, not one"),
            None => anyhow::bail!("customer {seq} received nothing"),
        }
    }
    if handed_over.len() as i64 != sent_rows {
        anyhow::bail!(
            "{} messages handed over but {sent_rows} outbox rows sent",
            handed_over.len()
        );
    }
    Ok(())
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

async fn create_database(name: &str) -> anyhow::Result<()> {
    let mut admin = PgConnection::connect(&format!("{PG}/postgres")).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create database \"{name}\"")))
        .execute(&mut admin)
        .await?;
    Ok(())
}

async fn drop_database(name: &str) {
    if let Ok(mut admin) = PgConnection::connect(&format!("{PG}/postgres")).await {
        let sql = format!("drop database if exists \"{name}\" with (force)");
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await;
    }
}

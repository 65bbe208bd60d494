//! The `amends` binary as a child process the tests kill and restart, the events they publish,
//! and what they read back (the emails an SMTP sink received, the database).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use lapin::BasicProperties;
use lapin::options::BasicPublishOptions;
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::helpers::{Names, connect, declare, event, http_client, wait_within};
use crate::smtp::SmtpSink;

/// A daemon process: its settings, so it can be started again the same way, and its log.
pub struct Daemon {
    env: Vec<(String, String)>,
    log: PathBuf,
    port: u16,
    child: Option<Child>,
    starts: usize,
}

/// A port free right now on 127.0.0.1, for a daemon whose readiness the test polls.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Daemon {
    /// Starts `amends run` for `names`, sending email to `smtp`, with `extra` settings last.
    pub fn start(names: &Names, dir: &Path, smtp: &SmtpSink, extra: &[(&str, &str)]) -> Daemon {
        let port = free_port();
        let mut env = names.env(&dir.join("outbox"));
        for (key, value) in [
            ("AMENDS_HTTP_BIND", format!("127.0.0.1:{port}")),
            ("AMENDS_EMAIL_TRANSPORT", "smtp".to_owned()),
            ("AMENDS_SMTP_URL", smtp.url()),
            (
                "AMENDS_EMAIL_FROM",
                "Northwind Outfitters <care@shop.example>".to_owned(),
            ),
            ("RUST_LOG", crate::logs::level()),
        ] {
            env.push((key.to_owned(), value));
        }
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut daemon = Daemon {
            env,
            log: dir.join("amends.log"),
            port,
            child: None,
            starts: 0,
        };
        daemon.spawn();
        daemon
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("the daemon's log file");
        let child = Command::new(env!("CARGO_BIN_EXE_amends"))
            .arg("run")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            // Logs go to standard output, panics to standard error: both into the log.
            .stdout(Stdio::from(log.try_clone().expect("the log file again")))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("amends starts");
        self.child = Some(child);
        self.starts += 1;
    }

    /// SIGKILL: no cleanup at all, as a crash or an OOM kill.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill the daemon");
        }
    }

    /// Starts it again with the same settings.
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// SIGTERM, and waits for it to exit.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
            let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
        }
    }

    /// `/readyz` answers 200.
    pub async fn ready(&self) -> bool {
        http_client()
            .get(format!("http://127.0.0.1:{}/readyz", self.port))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    }

    /// The daemon's `/metrics` text.
    pub async fn metrics(&self) -> Option<String> {
        http_client()
            .get(format!("http://127.0.0.1:{}/metrics", self.port))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()
    }

    /// A guard that prints the end of the log if the test fails while it lives.
    pub fn log_on_failure(&self) -> LogOnFailure {
        LogOnFailure(self.log.clone())
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// Prints the end of the daemon's log when dropped during a panic (a failed wait or assert).
pub struct LogOnFailure(PathBuf);

impl Drop for LogOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() || crate::logs::wanted() {
            eprintln!("--- the daemon's log, last lines:\n{}", tail(&self.0));
        }
    }
}

/// How long a step of a long run may take before the test fails: these runs push thousands of
/// events through a debug build.
pub const LONG: Duration = Duration::from_secs(300);

/// `n` fresh delay events (a new order and customer each, so each is one email).
pub fn events(n: usize) -> Vec<Value> {
    (0..n).map(|_| event("order.delayed", |_| {})).collect()
}

/// Publishes `events` to the orders exchange with confirms, a window at a time.
pub async fn publish(names: &Names, events: Vec<Value>) {
    let connection = connect().await.expect("broker");
    declare(&connection, names).await;
    let channel = amends::broker::confirm_channel(&connection)
        .await
        .expect("confirm channel");
    for window in events.chunks(200) {
        let mut confirms = Vec::with_capacity(window.len());
        for e in window {
            let confirm = channel
                .basic_publish(
                    names.exchange.as_str().into(),
                    "order.delayed".into(),
                    BasicPublishOptions::default(),
                    &serde_json::to_vec(e).expect("json"),
                    BasicProperties::default()
                        .with_content_type("application/cloudevents+json".into())
                        .with_delivery_mode(2),
                )
                .await
                .expect("publish");
            confirms.push(confirm);
        }
        for confirm in confirms {
            let confirmation = confirm.await.expect("confirm");
            assert!(!confirmation.is_nack(), "the broker refused an event");
        }
    }
    let _ = connection.close(200, "published".into()).await;
}

/// Waits until all `events` emails are recorded as sent.
pub async fn all_sent(pool: &sqlx::PgPool, events: usize) {
    wait_within("every event's email", LONG, || async {
        let sent = count(
            pool,
            "select count(*) from outbox where channel = 'email' and status = 'sent'",
        )
        .await;
        (sent as usize >= events).then_some(())
    })
    .await;
}

/// A count from the database.
pub async fn count(pool: &sqlx::PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// How many copies of each message the SMTP sink received, by outbox id (its Message-ID).
pub async fn received(smtp: &SmtpSink) -> HashMap<String, usize> {
    let mut copies = HashMap::new();
    for mail in smtp.messages().await {
        let id = mail
            .data
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: <"))
            .and_then(|rest| rest.split('@').next())
            .unwrap_or_default()
            .to_owned();
        *copies.entry(id).or_insert(0) += 1;
    }
    copies
}

/// What a run delivered: emails never received, and copies received more than once.
#[derive(Debug, Default)]
pub struct Tally {
    pub messages: usize,
    pub missing: usize,
    pub repeated: usize,
}

/// Compares the emails the database holds with what the sink received.
pub async fn tally(pool: &sqlx::PgPool, smtp: &SmtpSink) -> Tally {
    let ids: Vec<String> = sqlx::query_scalar(
        "select outbox_id::text from outbox where channel = 'email' and status <> 'standby'",
    )
    .fetch_all(pool)
    .await
    .expect("outbox ids");
    let copies = received(smtp).await;
    Tally {
        messages: ids.len(),
        missing: ids.iter().filter(|id| !copies.contains_key(*id)).count(),
        repeated: copies.values().map(|n| n - 1).sum(),
    }
}

//! Fault injection against the real daemon, broker and database: SIGKILL at random moments,
//! RabbitMQ and PostgreSQL going away mid-run. Each run reports what it measured (kills, missing,
//! repeated, recovery time) on standard output; `cargo test --test faults -- --nocapture` shows
//! it.
//!
//! A binary of its own, so these long, heavy runs never share the machine with the other
//! integration tests; within it they run one at a time.

mod crash;
mod daemon;
mod outage;

#[allow(dead_code)]
#[path = "../it/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../support/logs.rs"]
mod logs;
#[path = "../support/metrics.rs"]
mod metrics;
#[path = "../support/proxy.rs"]
mod proxy;
#[path = "../support/smtp.rs"]
mod smtp;

/// Held by each test for its whole run: one fault run at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

//! amends makes amends: when an order goes wrong, it decides by the business's policy what
//! apology fits, renders it in the customer's language, and sends it once, by email or SMS.
//!
//! The flow runs one way (`docs/architecture.md` has the map, and what each module may import):
//! - [`ingest`]: consume order events from RabbitMQ, dead-letter what cannot be processed;
//! - [`incident`], [`policy`], [`templates`], [`timing`]: the pure core (the `amends-core`
//!   crate): parse an event into an incident, decide for it, settle its plans against the
//!   budgets, render it, and place it in the customer's day;
//! - [`record`]: decide, settle, render and record one incident in one transaction;
//! - [`store`]: PostgreSQL: incidents, decisions, ledger, budgets, escalations, the outbox;
//! - [`deliver`]: claim due outbox rows with a lease and send them through the providers, with
//!   failover, retries, circuit breakers and rate limits; announce the outcomes;
//! - [`retention`]: erase personal data older than the retention;
//! - [`watch`]: keep each order's promised delivery date, and raise the delay itself when it
//!   passes in silence;
//! - [`reload`] and [`editor`]: a changed policy file or published template text, in force
//!   within seconds, and the checks that keep a bad one out;
//! - [`http`]: health, metrics, the signed provider webhooks, the admin API and the console;
//! - [`health`], [`telemetry`], [`gauges`]: what the daemon knows of itself, logs and metrics,
//!   and the database-wide gauges (backlog, dead letters, budget);
//! - [`clock`]: the daemon's "now", which tests can set;
//! - [`broker`], [`dead_letters`], [`signature`], [`config`]: the plumbing they share.
//!
//! [`app`] wires them together; [`cli`] is the command line.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dead_letters;
pub mod deliver;
pub mod editor;
pub mod gauges;
pub mod health;
pub mod http;
pub mod ingest;
pub mod record;
pub mod reload;
pub mod retention;
pub mod signature;
pub mod store;
pub mod telemetry;
pub mod watch;

// The pure core, under the names the rest of the daemon uses.
pub use amends_core::{incident, policy, templates, timing};

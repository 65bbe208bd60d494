//! amends makes amends: when an order goes wrong, it decides by the business's policy what
//! apology fits, renders it in the customer's language, and sends it once, by email or SMS.
//!
//! The flow runs one way:
//! - [`ingest`]: consume order events from RabbitMQ, dead-letter what cannot be processed;
//! - [`incident`]: parse and validate a CloudEvent into a typed incident (pure);
//! - [`policy`]: decide template, channels, offers and escalation for an incident (pure);
//! - [`templates`]: render the message per channel and locale (pure);
//! - [`store`]: record incident, decision, compensation ledger, budgets, escalations and outbox
//!   rows in one transaction (PostgreSQL);
//! - [`deliver`]: claim due outbox rows with a lease and send them through the providers, with
//!   retries, failover, circuit breakers and rate limits;
//! - [`reload`]: swap in a changed policy file or published template texts while running;
//! - [`dead_letters`]: list and replay the messages that could not be processed;
//! - [`editor`]: check, publish and roll back template texts without a deploy;
//! - [`http`]: health, readiness and metrics, the signed provider webhooks, the admin API and
//!   the coordinator's console;
//! - [`health`]: which worker tasks are alive and what the daemon's connections report.
//!
//! [`app`] wires them together; [`config`] loads the configuration; [`cli`] is the command line.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod broker;
pub mod cli;
pub mod config;
pub mod dead_letters;
pub mod deliver;
pub mod editor;
pub mod health;
pub mod http;
pub mod incident;
pub mod ingest;
pub mod policy;
pub mod recovery;
pub mod reload;
pub mod store;
pub mod telemetry;
pub mod templates;

//! Integration tests: the real daemon against the real RabbitMQ and PostgreSQL.
//!
//! One binary (so the crate is linked once); each test isolates itself with [`helpers::Names`].

mod access;
mod browser;
mod compensation;
mod config_cli;
mod console;
mod doctor;
mod health;
mod helpers;
mod hostile;
mod listeners;
mod metrics;
mod overdue;
mod pipeline;
mod privacy;
mod process;
mod promises;
mod providers;
mod redelivery;
mod smtp_delivery;
mod templates;
mod timing;
mod traces;
mod watch_api;
mod webhooks;

#[path = "../support/logs.rs"]
mod logs;
#[path = "../support/proxy.rs"]
mod proxy;
#[path = "../support/smtp.rs"]
mod smtp;

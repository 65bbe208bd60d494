//! The command line (CONTRACT §4): `run`, `migrate`, `publish`, `policy check`, `policy explain`,
//! `templates check|preview|publish|history|rollback`, `suppression list|add|lift`,
//! `dead-letters list|replay`, `forget`, `config` and `doctor`.

mod doctor;
mod ops;
mod policy;
mod templates;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::config::Config;
use crate::incident::SUPPORTED_TYPES;
use crate::store::Store;
use crate::telemetry;

/// amends: turns order incidents into sincere, personal, budgeted apologies.
#[derive(Debug, Parser)]
#[command(name = "amends", version, about)]
pub struct Cli {
    /// Configuration file (TOML); every key can also be set as AMENDS_<KEY>.
    #[arg(long, global = true, env = "AMENDS_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: consumer, dispatcher and HTTP server, until SIGTERM or SIGINT.
    Run,
    /// Create the database if missing and apply migrations.
    Migrate,
    /// Publish a CloudEvent to the orders exchange, for trying amends out.
    Publish(PublishArgs),
    /// Work with the policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Work with the templates.
    #[command(subcommand)]
    Templates(TemplatesCommand),
    /// The contacts amends must not write to (bounces, complaints, STOP), and lifting them.
    #[command(subcommand)]
    Suppression(SuppressionCommand),
    /// The messages that could not be processed: why, and replaying them after a fix.
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(DeadLettersCommand),
    /// Erase a customer's personal data everywhere, at once, and say what was erased (their
    /// suppressions stay, as a keyed hash, so a customer who said STOP stays stopped).
    Forget {
        /// The customer's id, as the order system sends it (`data.customer.id`).
        #[arg(long)]
        customer: String,
    },
    /// Print the effective configuration: every key, its value (secrets masked) and where it
    /// came from; exits non-zero when the configuration is invalid.
    Config,
    /// Make a console sign-in for a person: reads their password on standard input and prints
    /// the `NAME:HASH` entry for AMENDS_ADMIN_USERS.
    #[command(name = "admin-user")]
    AdminUser {
        /// Their name, recorded with what they change.
        name: String,
    },
    /// Check the configuration, broker, database, templates, policy, providers and webhooks,
    /// one line each, saying what is wrong; changes nothing and sends nothing. Exits non-zero
    /// when a check fails (warnings do not).
    Doctor,
}

/// `dead-letters` subcommands.
#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// List the messages in the dead-letter queue with why each is there (all stay in it).
    List {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Send messages back to the orders exchange, as they first arrived.
    #[group(required = true, multiple = false)]
    Replay {
        /// The event id of the message to replay.
        id: Option<String>,
        /// Replay every message in the queue.
        #[arg(long)]
        all: bool,
    },
}

/// `suppression` subcommands.
#[derive(Debug, Subcommand)]
pub enum SuppressionCommand {
    /// List the suppressions in force, newest first.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Stop writing to a contact on a channel (a person's decision).
    Add {
        /// `email` or `sms`.
        #[arg(long, value_parser = ["email", "sms"])]
        channel: String,
        /// The address, or the number in E.164 (+34600111222).
        contact: String,
        /// Why, for whoever reads the list later.
        #[arg(long)]
        note: Option<String>,
    },
    /// Write to a contact again (a person's decision): lifts every suppression of the contact,
    /// whoever put it there.
    Lift {
        /// `email` or `sms`.
        #[arg(long, value_parser = ["email", "sms"])]
        channel: String,
        /// The address or number.
        contact: String,
    },
}

/// Arguments of `publish`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct PublishArgs {
    /// A file holding one CloudEvent (JSON), published as it is.
    pub event: Option<PathBuf>,
    /// Publish a built-in sample of this type, with a fresh id.
    #[arg(long, value_name = "TYPE", value_parser = clap::builder::PossibleValuesParser::new(SUPPORTED_TYPES))]
    pub sample: Option<String>,
}

/// `policy` subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Parse and validate the policy (default: the configured one).
    Check {
        /// Policy file to check instead of the configured one.
        file: Option<PathBuf>,
    },
    /// Show which rule an event matches and why each earlier rule did not, the offer, the
    /// budget, the channels and any escalation.
    Explain {
        /// The event: one CloudEvent (JSON), as it would be published.
        event: PathBuf,
        /// The customer's history as amends' database would report it (JSON: incidents,
        /// messages, compensation, order_incidents, budget_spent_today); default: none.
        #[arg(long, value_name = "FILE")]
        customer_history: Option<PathBuf>,
        /// Policy file to use instead of the configured one.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Decide as of this instant (RFC 3339) instead of now: when each message would go out
        /// depends on the hour in the customer's time zone.
        #[arg(long, value_name = "TIME")]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
}

/// `templates` subcommands.
#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// Check every template: syntax, unknown variables in every branch, missing partials and
    /// locales, and each rendered against the samples, SMS measured in segments.
    Check {
        /// Templates directory to check instead of the configured one.
        dir: Option<PathBuf>,
    },
    /// Render one template as a customer would get it, with the policy's offers.
    Preview(PreviewArgs),
    /// Publish a new text for one template file: checked like `templates check`, then in force
    /// on every running replica within seconds, with no restart.
    Publish {
        /// The file's name under the templates directory, e.g. order-delayed/sms.es.hbs.
        name: String,
        /// The file holding the new text.
        file: PathBuf,
        /// Who is publishing it (kept in the history).
        #[arg(long, default_value = "cli")]
        author: String,
        /// Why (kept in the history).
        #[arg(long)]
        note: Option<String>,
    },
    /// Send one template, rendered for its sample event, to an address or number you give:
    /// marked as a test, sent through the configured providers, never recorded as a message.
    SendTest {
        /// What to render, as for `preview`.
        #[command(flatten)]
        preview: PreviewArgs,
        /// The address (email) or number in E.164 (SMS) to send it to.
        #[arg(long)]
        to: String,
    },
    /// Every version of one template file, newest first.
    History {
        /// The file's name under the templates directory.
        name: String,
    },
    /// Publish an earlier version of one template file again.
    Rollback {
        /// The file's name under the templates directory.
        name: String,
        /// The version to restore (0: the file shipped in the templates directory).
        version: i32,
        /// Who is rolling back (kept in the history).
        #[arg(long, default_value = "cli")]
        author: String,
    },
}

/// Arguments of `templates preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// Template key, e.g. order-delayed.
    pub template: String,
    /// Which message to render.
    #[arg(long, value_parser = ["email", "sms"], default_value = "email")]
    pub channel: String,
    /// The customer's locale, e.g. es-ES (default: the event's, else the default locale).
    #[arg(long)]
    pub locale: Option<String>,
    /// The event to render for (default: the sample of the template's event type).
    #[arg(long, value_name = "EVENT.json")]
    pub event: Option<PathBuf>,
    /// Where the email's .eml and .html files are written.
    #[arg(long, value_name = "DIR", default_value = "var/preview")]
    pub out: PathBuf,
}

/// Runs the parsed command; the error is reported by `main` as one line.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    // Needs no configuration: it makes a value for one.
    if let Command::AdminUser { name } = &cli.command {
        return ops::admin_user(name);
    }
    // Shows an invalid configuration too, so it must not need a valid one.
    if let Command::Config = &cli.command {
        return ops::show_config(cli.config.as_deref());
    }
    // Loads the configuration itself: a configuration that does not load is its first finding.
    if let Command::Doctor = &cli.command {
        return doctor::doctor(cli.config.as_deref()).await;
    }
    let config = Config::load(cli.config.as_deref())?;
    // Spans are exported by the daemon only; the other commands are over in a moment.
    let traces = match (&cli.command, &config.otlp_endpoint) {
        (Command::Run, Some(endpoint)) => Some(telemetry::TraceExport {
            endpoint: endpoint.clone(),
            instance: config.instance_name.clone(),
        }),
        _ => None,
    };
    let _telemetry = telemetry::init(config.log_format, traces.as_ref());
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    match cli.command {
        Command::Run => run(config).await,
        Command::Migrate => {
            Store::open(&config.database_url, 1, &config.instance_name)
                .await
                .context("migrate")?
                .close()
                .await;
            println!("database is up to date");
            Ok(())
        }
        Command::Publish(args) => ops::publish(&config, args).await,
        Command::Policy(PolicyCommand::Check { file }) => policy::check(&config, file),
        Command::Policy(PolicyCommand::Explain {
            event,
            customer_history,
            policy,
            at,
        }) => policy::explain(
            &config,
            &event,
            customer_history.as_deref(),
            policy.as_deref(),
            at,
        ),
        Command::Templates(TemplatesCommand::Check { dir }) => {
            templates::check(&config, dir.as_deref())
        }
        Command::Templates(TemplatesCommand::Preview(args)) => templates::preview(&config, &args),
        Command::Templates(TemplatesCommand::Publish {
            name,
            file,
            author,
            note,
        }) => {
            let body = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            templates::publish(&config, &name, &body, &author, note.as_deref()).await
        }
        Command::Templates(TemplatesCommand::SendTest { preview, to }) => {
            templates::send_test(&config, &preview, &to).await
        }
        Command::Templates(TemplatesCommand::History { name }) => {
            templates::history(&config, &name).await
        }
        Command::Templates(TemplatesCommand::Rollback {
            name,
            version,
            author,
        }) => templates::rollback(&config, &name, version, &author).await,
        Command::Suppression(command) => ops::suppression(&config, command).await,
        Command::DeadLetters(command) => ops::dead_letters(&config, command).await,
        Command::Forget { customer } => ops::forget(&config, &customer).await,
        Command::AdminUser { name } => ops::admin_user(&name),
        Command::Config => ops::show_config(cli.config.as_deref()),
        Command::Doctor => doctor::doctor(cli.config.as_deref()).await,
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    let token = CancellationToken::new();
    tokio::spawn(shutdown_on_signal(token.clone()));
    app.run(token).await?;
    Ok(())
}

/// Cancels `token` on the first SIGTERM or SIGINT.
async fn shutdown_on_signal(token: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received, stopping"),
        _ = terminate => tracing::info!("SIGTERM received, stopping"),
    }
    token.cancel();
}

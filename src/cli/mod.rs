//! The command line (CONTRACT §4): `run`, `migrate`, `publish`, `policy check`, `policy explain`,
//! `templates check|preview|publish|history|rollback`, `suppression list|add|lift` and
//! `dead-letters list|replay`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use lapin::BasicProperties;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::broker;
use crate::config::Config;
use crate::incident::{self, SUPPORTED_TYPES};
use crate::policy::{Channel, History, Policy};
use crate::store::Store;
use crate::telemetry;
use crate::templates::{Settings, Severity, Templates, samples, sms};

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
    /// Make a console sign-in for a person: reads their password on standard input and prints
    /// the `NAME:HASH` entry for AMENDS_ADMIN_USERS.
    #[command(name = "admin-user")]
    AdminUser {
        /// Their name, recorded with what they change.
        name: String,
    },
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
    /// Write to a contact again (a person's decision).
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
        return admin_user(name);
    }
    let config = Config::load(cli.config.as_deref())?;
    telemetry::init_logs(config.log_format);
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
        Command::Publish(args) => publish(&config, args).await,
        Command::Policy(PolicyCommand::Check { file }) => {
            let path = file.unwrap_or_else(|| config.policy.clone());
            let policy = Policy::load(&path)?;
            let templates = Templates::load(&config.templates_dir, &Settings::of(&config))?;
            crate::app::check_templates(&policy, &templates)?;
            println!(
                "{}: {} rules, version {}, OK",
                path.display(),
                policy.rules().len(),
                crate::policy::short(policy.version())
            );
            Ok(())
        }
        Command::Policy(PolicyCommand::Explain {
            event,
            customer_history,
            policy,
        }) => explain(
            &config,
            &event,
            customer_history.as_deref(),
            policy.as_deref(),
        ),
        Command::Templates(TemplatesCommand::Check { dir }) => {
            templates_check(&config, dir.as_deref())
        }
        Command::Templates(TemplatesCommand::Preview(args)) => templates_preview(&config, &args),
        Command::Templates(TemplatesCommand::Publish {
            name,
            file,
            author,
            note,
        }) => {
            let body = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            templates_publish(&config, &name, &body, &author, note.as_deref()).await
        }
        Command::Templates(TemplatesCommand::SendTest { preview, to }) => {
            templates_send_test(&config, &preview, &to).await
        }
        Command::Templates(TemplatesCommand::History { name }) => {
            templates_history(&config, &name).await
        }
        Command::Templates(TemplatesCommand::Rollback {
            name,
            version,
            author,
        }) => {
            let store = open_store(&config).await?;
            let editor = crate::editor::Editor::new(store.clone(), &config);
            let policy = std::sync::Arc::new(Policy::load(&config.policy)?);
            let result = editor
                .rollback(policy, &name, version, &author, None, None)
                .await;
            store.close().await;
            let version_now = result.map_err(report_edit)?;
            let text = match version {
                0 => "the shipped file".to_owned(),
                _ => format!("the text of version {version}"),
            };
            println!(
                "{name} version {version_now} published ({text}); running replicas reload it within seconds"
            );
            Ok(())
        }
        Command::Suppression(command) => suppression(&config, command).await,
        Command::DeadLetters(command) => dead_letters(&config, command).await,
        Command::AdminUser { name } => admin_user(&name),
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

async fn publish(config: &Config, args: PublishArgs) -> anyhow::Result<()> {
    let body: Vec<u8> = match (&args.event, &args.sample) {
        (Some(path), _) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        (None, Some(event_type)) => {
            let text = incident::sample(event_type)
                .with_context(|| format!("no sample for {event_type}"))?;
            let mut event: serde_json::Value = serde_json::from_str(text)?;
            // A fresh id each time: the same id twice is, by design, the same event. A fresh
            // order too, or the second sample would be one more incident on the same order,
            // which the policy coalesces into the first apology.
            event["id"] = uuid::Uuid::now_v7().to_string().into();
            let order = format!("A-{}", rand::random_range(10_000..100_000));
            event["subject"] = order.clone().into();
            event["data"]["order"]["number"] = format!("#{}", &order[2..]).into();
            event["data"]["order"]["url"] = format!("https://shop.example/orders/{order}").into();
            event["data"]["order"]["id"] = order.into();
            event["time"] = chrono::Utc::now().to_rfc3339().into();
            serde_json::to_vec_pretty(&event)?
        }
        (None, None) => bail!("give an EVENT.json file or --sample TYPE"),
    };
    let json: serde_json::Value = serde_json::from_slice(&body)
        .context("the event is not JSON, so it has no type to route by")?;
    let Some(event_type) = json.get("type").and_then(|t| t.as_str()) else {
        bail!("the event has no \"type\" to use as the routing key");
    };
    let id = json.get("id").and_then(|v| v.as_str()).unwrap_or("(none)");

    let connection = broker::connect(&config.amqp_url, "amends-publish").await?;
    broker::declare_topology(&connection, &config.amqp).await?;
    let channel = broker::confirm_channel(&connection).await?;
    let properties = BasicProperties::default()
        .with_content_type("application/cloudevents+json".into())
        .with_message_id(id.into());
    broker::publish_confirmed(
        &channel,
        &config.amqp.orders_exchange,
        event_type,
        &body,
        properties,
    )
    .await?;
    let _ = connection.close(200, "published".into()).await;
    println!(
        "published {event_type} id={id} to exchange {:?}",
        config.amqp.orders_exchange
    );
    println!(
        "with the default outbox transport, the message appears under {}/email/ or {}/sms/",
        config.outbox_dir.display(),
        config.outbox_dir.display()
    );
    Ok(())
}

fn explain(
    config: &Config,
    event: &std::path::Path,
    history: Option<&std::path::Path>,
    policy: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let path = policy.unwrap_or(&config.policy);
    let policy = Policy::load(path)?;
    let body = std::fs::read(event).with_context(|| format!("cannot read {}", event.display()))?;
    let incident = incident::parse(&body, None, &config.default_locale)
        .with_context(|| format!("{} is not a valid order event", event.display()))?;
    let history: History = match history {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a customer history", file.display()))?
        }
        None => History::default(),
    };
    let now = chrono::Utc::now();
    let decision = policy
        .try_decide(&incident, &history, now)
        .with_context(|| format!("{} cannot be decided", event.display()))?;
    let currency = incident.order.total.currency();
    let (plan, budget) = policy.settle_offline(&decision, &history, currency);
    let mut explanation = decision.explanation.clone();
    explanation.budget = budget;
    if let Some(plan) = plan {
        explanation.escalation = plan.escalation.clone();
    }

    println!(
        "event {} {} from {} (order {}, {})",
        incident.event_type,
        incident.key.id(),
        incident.key.source(),
        incident.order.id,
        incident.order.total
    );
    println!(
        "customer {}: tier {}, locale {}",
        incident.customer.id,
        incident.customer.tier.as_deref().unwrap_or("(none)"),
        incident.customer.locale
    );
    println!("policy {}", path.display());
    print!("{}", explanation.to_text());
    match (&decision.coalesced, decision.unreachable()) {
        (Some(why), _) => println!("result: nothing sent, {why}"),
        (None, Some(why)) => println!("result: rule {}, nothing sent: {why}", decision.rule),
        (None, None) => {
            let given = plan
                .map(|p| {
                    p.offers
                        .iter()
                        .map(crate::policy::Offer::describe)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            println!(
                "result: rule {}, template {} by {}{}, offers: {}",
                decision.rule,
                decision.template,
                decision
                    .channels
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if decision.send_at > now {
                    format!(
                        " after {}",
                        humantime::format_duration(
                            (decision.send_at - now).to_std().unwrap_or_default()
                        )
                    )
                } else {
                    String::new()
                },
                if given.is_empty() {
                    "none".to_owned()
                } else {
                    given.join("; ")
                }
            );
        }
    }
    Ok(())
}

fn templates_check(config: &Config, dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    let dir = dir.unwrap_or(&config.templates_dir);
    let sources = crate::templates::read_sources(dir)?;
    let report = crate::templates::check::check(
        &sources,
        &Settings::of(config),
        &config.store,
        config.sms.max_segments,
    );
    for diagnostic in &report.diagnostics {
        println!("{diagnostic}");
    }
    for m in &report.sms {
        println!(
            "{} sms {}: up to {} segment(s), {}, {} characters ({})",
            m.key, m.locale, m.segments, m.encoding, m.characters, m.sample
        );
    }
    println!(
        "{}: {} templates checked, {} renders against the samples: {} error(s), {} warning(s)",
        dir.display(),
        report.variants,
        report.rendered,
        report.errors(),
        report.warnings()
    );
    // The first error again on stderr, where whoever runs the check (or a pipeline) looks.
    if let Some(first) = report
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error)
    {
        bail!("{} template error(s); the first: {first}", report.errors());
    }
    Ok(())
}

/// Renders `args.template` for the sample (or given) event as that customer would get it, with
/// the policy's offers and fresh codes, printing which rule gave them.
fn render_sample(
    config: &Config,
    args: &PreviewArgs,
) -> anyhow::Result<(
    crate::incident::Incident,
    Channel,
    crate::templates::Rendered,
)> {
    let templates = Templates::load(&config.templates_dir, &Settings::of(config))?;
    let mut incident = match &args.event {
        Some(path) => {
            let body =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            incident::parse(&body, None, &config.default_locale)
                .with_context(|| format!("{} is not a valid order event", path.display()))?
        }
        None => {
            let event_type = samples::type_of(&args.template).with_context(|| {
                format!(
                    "{} is not named after an event type, so there is no sample: give --event EVENT.json",
                    args.template
                )
            })?;
            crate::editor::sample_incident(event_type, &config.default_locale, None)
                .with_context(|| format!("no sample for {event_type}"))?
        }
    };
    if let Some(tag) = &args.locale {
        incident.customer.locale = crate::incident::Locale::parse(tag)
            .map_err(|e| anyhow::anyhow!("--locale {tag:?}: {e}"))?;
    }
    let channel = match args.channel.as_str() {
        "sms" => Channel::Sms,
        _ => Channel::Email,
    };

    // The built-in samples tell a story set on one day (their ETAs are dates of late 2026), so
    // they are read as on that day; an event of your own is read as now.
    let now = match args.event {
        Some(_) => chrono::Utc::now(),
        None => samples::now(),
    };
    // The offers the configured policy gives this event, with fresh codes, as if first seen.
    let recovery = match Policy::load(&config.policy) {
        Ok(policy) => {
            let recovery = crate::editor::sample_recovery(&policy, &incident, now);
            println!(
                "policy {}: rule {}",
                config.policy.display(),
                if recovery.rule.is_empty() {
                    "(none)"
                } else {
                    &recovery.rule
                }
            );
            recovery
        }
        Err(e) => {
            println!("policy not loaded, rendering without offers: {e}");
            crate::editor::SampleRecovery::apology(now)
        }
    };
    let message = recovery.render(
        &templates,
        &args.template,
        channel,
        &incident,
        &config.store,
    )?;
    Ok((incident, channel, message))
}

fn templates_preview(config: &Config, args: &PreviewArgs) -> anyhow::Result<()> {
    let (incident, channel, message) = render_sample(config, args)?;
    println!(
        "template {} {channel}, locale {} (customer {})",
        args.template, message.locale, incident.customer.locale
    );
    match channel {
        Channel::Sms => {
            let info = sms::analyse(&message.text);
            println!(
                "{} characters, {} segment(s), {} ({} units)",
                message.text.chars().count(),
                info.segments,
                info.encoding,
                info.units
            );
            let parts = sms::split(&message.text);
            for (i, part) in parts.iter().enumerate() {
                println!("--- segment {}/{} ---", i + 1, parts.len());
                println!("{part}");
            }
        }
        Channel::Email => {
            std::fs::create_dir_all(&args.out)
                .with_context(|| format!("cannot create {}", args.out.display()))?;
            let stem = format!("{}.{}", args.template, incident.customer.locale);
            let html_path = args.out.join(format!("{stem}.html"));
            let eml_path = args.out.join(format!("{stem}.eml"));
            let claimed = crate::store::ClaimedMessage {
                outbox_id: uuid::Uuid::now_v7(),
                incident_id: uuid::Uuid::nil(),
                channel,
                recipient: incident
                    .customer
                    .email
                    .as_ref()
                    .map(|e| e.as_str().to_owned())
                    .unwrap_or_else(|| "customer@example.com".to_owned()),
                recipient_name: incident.customer.first_name.clone(),
                locale: message.locale.clone(),
                subject: message.subject.clone(),
                body_text: message.text.clone(),
                body_html: message.html.clone(),
                attempt: 1,
            };
            let eml = crate::deliver::email::build(
                &claimed,
                &crate::deliver::EmailSender {
                    from: config.email_from.clone(),
                    list_unsubscribe: config.store.preferences_url.clone(),
                },
            )?
            .formatted();
            std::fs::write(&html_path, message.html.as_deref().unwrap_or_default())
                .with_context(|| format!("cannot write {}", html_path.display()))?;
            std::fs::write(&eml_path, eml)
                .with_context(|| format!("cannot write {}", eml_path.display()))?;
            println!("subject: {}", message.subject.unwrap_or_default());
            println!("--- text ---\n{}\n---", message.text);
            println!("wrote {} and {}", html_path.display(), eml_path.display());
        }
    }
    Ok(())
}

async fn suppression(config: &Config, command: SuppressionCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let channel = |name: &str| {
        name.parse::<Channel>()
            .map_err(|e| anyhow::anyhow!("--channel: {e}"))
    };
    let result = match command {
        SuppressionCommand::List { limit } => {
            let rows = store.suppressions(limit).await?;
            for row in &rows {
                println!(
                    "{:<5} {:<32} {:<15} {:<10} {}{}",
                    row.channel,
                    row.contact,
                    row.reason,
                    row.source,
                    row.updated_at.format("%Y-%m-%d %H:%M UTC"),
                    row.detail
                        .as_deref()
                        .map(|d| format!("  {d}"))
                        .unwrap_or_default()
                );
            }
            println!("{} suppression(s) in force", rows.len());
            Ok(())
        }
        SuppressionCommand::Add {
            channel: name,
            contact,
            note,
        } => {
            store
                .suppress(
                    channel(&name)?,
                    &contact,
                    crate::store::SuppressionReason::Manual,
                    "cli",
                    note.as_deref(),
                )
                .await?;
            println!("{name} to that contact is suppressed");
            Ok(())
        }
        SuppressionCommand::Lift {
            channel: name,
            contact,
        } => {
            if store
                .lift_suppression(channel(&name)?, &contact, "cli")
                .await?
            {
                println!("{name} to that contact is allowed again");
                Ok(())
            } else {
                Err(anyhow::anyhow!(
                    "no {name} suppression in force for that contact"
                ))
            }
        }
    };
    store.close().await;
    result
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.database_url, 1, &config.instance_name)
        .await
        .context("database")
}

/// The shortest password the console accepts for a person.
const MIN_PASSWORD: usize = 12;

/// Prints `NAME:HASH` for AMENDS_ADMIN_USERS, the password read from standard input's first line.
fn admin_user(name: &str) -> anyhow::Result<()> {
    crate::config::AdminUser::check_name(name).map_err(|e| anyhow::anyhow!(e))?;
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .context("cannot read the password on standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.chars().count() < MIN_PASSWORD {
        bail!("the password must have at least {MIN_PASSWORD} characters");
    }
    let hash = crate::http::auth::hash_password(password).map_err(|e| anyhow::anyhow!(e))?;
    println!("{name}:{hash}");
    Ok(())
}

/// Checks `body` as `name` among the templates in force, and publishes it if nothing is wrong.
async fn templates_publish(
    config: &Config,
    name: &str,
    body: &str,
    author: &str,
    note: Option<&str>,
) -> anyhow::Result<()> {
    crate::editor::ensure_template(name)?;
    let policy = std::sync::Arc::new(Policy::load(&config.policy)?);
    let store = open_store(config).await?;
    let editor = crate::editor::Editor::new(store.clone(), config);
    let edit = crate::editor::Edit {
        name,
        body,
        author,
        note,
        based_on: None,
    };
    let result = editor.publish(policy, edit, false).await;
    store.close().await;
    let (version, warnings) = result.map_err(report_edit)?;
    for diagnostic in &warnings {
        println!("{diagnostic}");
    }
    println!("{name} version {version} published; running replicas reload it within seconds");
    Ok(())
}

/// Prints every problem of a refused text, and says in one line why nothing was published.
fn report_edit(e: crate::editor::EditError) -> anyhow::Error {
    if let crate::editor::EditError::Rejected(diagnostics) = &e {
        for diagnostic in diagnostics {
            println!("{diagnostic}");
        }
    }
    anyhow::Error::new(e)
}

async fn templates_history(config: &Config, name: &str) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let history = store.template_history(name).await;
    store.close().await;
    let history = history?;
    if history.is_empty() {
        println!("{name}: no edits; the shipped file is in force");
    }
    for edit in &history {
        println!(
            "version {:<4} {:<9} {} by {}{}",
            edit.version,
            edit.status,
            edit.created_at.format("%Y-%m-%d %H:%M UTC"),
            edit.author,
            edit.note
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

async fn dead_letters(config: &Config, command: DeadLettersCommand) -> anyhow::Result<()> {
    let connection = broker::connect(&config.amqp_url, "amends-dead-letters").await?;
    broker::declare_topology(&connection, &config.amqp).await?;
    let channel = broker::confirm_channel(&connection).await?;
    let result = match command {
        DeadLettersCommand::List { limit } => {
            let letters = crate::dead_letters::list(&channel, &config.amqp, limit).await?;
            for letter in &letters {
                println!(
                    "{}  {}  {} bytes  {}",
                    letter.id.as_deref().unwrap_or("(no id)"),
                    if letter.routing_key.is_empty() {
                        "(no routing key)"
                    } else {
                        &letter.routing_key
                    },
                    letter.size,
                    letter.error
                );
            }
            println!(
                "{} message(s) in {}",
                letters.len(),
                config.amqp.dead_letter_queue
            );
            Ok(())
        }
        DeadLettersCommand::Replay { id, all: _ } => {
            let replayed =
                crate::dead_letters::replay(&channel, &config.amqp, id.as_deref()).await?;
            match (replayed, id) {
                (0, Some(id)) => Err(anyhow::anyhow!(
                    "no message with id {id} in the dead-letter queue"
                )),
                (n, _) => {
                    println!(
                        "{n} message(s) replayed to {:?}",
                        config.amqp.orders_exchange
                    );
                    Ok(())
                }
            }
        }
    };
    let _ = connection.close(200, "done".into()).await;
    result
}

async fn templates_send_test(config: &Config, args: &PreviewArgs, to: &str) -> anyhow::Result<()> {
    let (_, channel, message) = render_sample(config, args)?;
    let test = crate::editor::test_message(message, channel, to)
        .map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    let transports = crate::deliver::Transports::from_config(config)?;
    let (provider, id) = transports.send_test(&test).await?;
    println!(
        "test {channel} sent through {provider} (id {id}); it is not recorded as a customer message"
    );
    Ok(())
}

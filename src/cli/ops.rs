//! The operator's commands: publish a sample event, manage suppressions and dead letters,
//! make a console user.

use anyhow::{Context, bail};
use lapin::BasicProperties;

use super::{DeadLettersCommand, PublishArgs, SuppressionCommand};
use crate::broker;
use crate::config::Config;
use crate::incident;
use crate::policy::Channel;
use crate::store::Store;

pub(super) async fn publish(config: &Config, args: PublishArgs) -> anyhow::Result<()> {
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

pub(super) async fn suppression(
    config: &Config,
    command: SuppressionCommand,
) -> anyhow::Result<()> {
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
                .lift_suppression(
                    channel(&name)?,
                    &contact,
                    crate::store::Lift::Person { who: "cli" },
                )
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

/// `amends forget --customer ID`: erases the customer's personal data in one transaction, records
/// that it was done (under their pseudonym) and says what was erased.
pub(super) async fn forget(config: &Config, customer: &str) -> anyhow::Result<()> {
    let customer = customer.trim();
    if customer.is_empty() {
        anyhow::bail!("--customer: give the customer's id");
    }
    let store = open_store(config).await?;
    let result = store.forget_customer(customer).await;
    let forgotten = match result {
        Ok(forgotten) => forgotten,
        Err(e) => {
            store.close().await;
            return Err(e).context("forget");
        }
    };
    let erased = &forgotten.erased;
    if erased.incidents == 0 && forgotten.compensation == 0 && forgotten.watches == 0 {
        store.close().await;
        println!("nothing recorded for customer {customer}: nothing to erase");
        return Ok(());
    }
    let detail = serde_json::json!({
        "incidents": erased.incidents,
        "messages": erased.messages,
        "cancelled": forgotten.cancelled,
        "receipts": erased.receipts,
        "suppressions": forgotten.suppressions,
        "compensation": forgotten.compensation,
        "watches": forgotten.watches,
    });
    let audited = store
        .audit(&crate::store::AuditEntry {
            actor: "cli",
            action: "customer.forget",
            subject: Some(&forgotten.pseudonym),
            detail,
            client_address: None,
        })
        .await;
    store.close().await;
    let outbox = crate::deliver::FileOutbox::new(&config.outbox_dir);
    let mut files = 0;
    for (channel, id) in &forgotten.outbox_files {
        match outbox.remove(channel, *id).await {
            Ok(removed) => files += usize::from(removed),
            Err(e) => eprintln!(
                "warning: cannot remove the file outbox's copy of message {id} under {}: {e}",
                config.outbox_dir.display()
            ),
        }
    }
    if let Err(e) = audited {
        // The erasure is done and committed; only its record is missing.
        eprintln!("warning: the erasure is done, but recording it in the audit log failed: {e}");
    }
    println!("forgot customer {customer}, now {}:", forgotten.pseudonym);
    println!(
        "  {} incident(s): contact details and names erased from their events",
        erased.incidents
    );
    println!(
        "  {} message(s): recipients, subjects and bodies erased ({} still waiting, cancelled)",
        erased.messages, forgotten.cancelled
    );
    println!("  {} provider receipt(s) erased", erased.receipts);
    println!(
        "  {} order(s) no longer watched for their promised date",
        forgotten.watches
    );
    println!("  {files} file(s) of the file outbox removed");
    println!(
        "  {} suppression(s) kept as a keyed hash, so they still hold",
        forgotten.suppressions
    );
    println!(
        "  {} ledger row(s) kept under the pseudonym (amounts and codes stay)",
        forgotten.compensation
    );
    Ok(())
}

/// `amends config`: every key with its effective value (secrets masked) and its source, then
/// the warnings and whether the whole is valid.
pub(super) fn show_config(path: Option<&std::path::Path>) -> anyhow::Result<()> {
    let crate::config::Described {
        settings,
        warnings,
        valid,
    } = Config::describe(path)?;
    let width = settings.iter().map(|s| s.variable.len()).max().unwrap_or(0);
    for setting in &settings {
        let value = setting.value.as_deref().unwrap_or("(unset)");
        println!(
            "{:<width$}  {value}  [{}]",
            setting.variable, setting.origin
        );
    }
    for warning in &warnings {
        println!("warning: {warning}");
    }
    valid?;
    println!("the configuration is valid");
    Ok(())
}

pub(super) async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.database_url, 1, &config.instance_name)
        .await
        .context("database")
}

/// The shortest password the console accepts for a person.
pub(super) const MIN_PASSWORD: usize = 12;

/// Prints `NAME:HASH` for AMENDS_ADMIN_USERS, the password read from standard input's first line.
pub(super) fn admin_user(name: &str) -> anyhow::Result<()> {
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

pub(super) async fn dead_letters(
    config: &Config,
    command: DeadLettersCommand,
) -> anyhow::Result<()> {
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

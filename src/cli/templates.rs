//! `amends templates`: check, preview, send a test of, publish and list the history of
//! template texts.

use anyhow::{Context, bail};

use super::PreviewArgs;
use super::ops::open_store;
use crate::config::Config;
use crate::incident;
use crate::policy::{Channel, Policy};
use crate::templates::{Severity, Templates, samples, sms};

/// Checks the templates in `dir` as the daemon would load them: what `check` prints and
/// `doctor` sums up.
pub(super) fn report(
    config: &Config,
    dir: &std::path::Path,
) -> anyhow::Result<crate::templates::check::Report> {
    let sources = crate::templates::read_sources(dir)?;
    Ok(crate::templates::check::check(
        &sources,
        &config.template_settings(),
        &config.store,
        config.sms.max_segments,
    ))
}

pub(super) fn check(config: &Config, dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    let dir = dir.unwrap_or(&config.templates_dir);
    let report = report(config, dir)?;
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
pub(super) fn render_sample(
    config: &Config,
    args: &PreviewArgs,
) -> anyhow::Result<(
    crate::incident::Incident,
    Channel,
    crate::templates::Rendered,
)> {
    let templates = Templates::load(&config.templates_dir, &config.template_settings())?;
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
            samples::incident_in(event_type, &config.default_locale, None)
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
    let decision = match Policy::load(&config.policy) {
        Ok(policy) => {
            let decision = samples::SampleDecision::of(&policy, &incident, now, &mut rand::rng());
            println!(
                "policy {}: rule {}",
                config.policy.display(),
                if decision.rule.is_empty() {
                    "(none)"
                } else {
                    &decision.rule
                }
            );
            decision
        }
        Err(e) => {
            println!("policy not loaded, rendering without offers: {e}");
            samples::SampleDecision::apology(now)
        }
    };
    // A closing event is previewed as its follow-up, with the configured feedback link.
    let mut decision = decision;
    if incident.event_type.closes_loop() {
        decision.feedback_url = config
            .feedback_url
            .as_ref()
            .map(|url| url.for_incident(uuid::Uuid::nil()));
    }
    let message = decision.render(
        &templates,
        &args.template,
        channel,
        &incident,
        &config.store,
    )?;
    Ok((incident, channel, message))
}

pub(super) fn preview(config: &Config, args: &PreviewArgs) -> anyhow::Result<()> {
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
            let outgoing = crate::deliver::Outgoing {
                id: uuid::Uuid::now_v7(),
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
            };
            let eml = crate::deliver::email::build(
                &outgoing,
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

/// Checks `body` as `name` among the templates in force, and publishes it if nothing is wrong.
pub(super) async fn publish(
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
pub(super) fn report_edit(e: crate::editor::EditError) -> anyhow::Error {
    if let crate::editor::EditError::Rejected(diagnostics) = &e {
        for diagnostic in diagnostics {
            println!("{diagnostic}");
        }
    }
    anyhow::Error::new(e)
}

pub(super) async fn history(config: &Config, name: &str) -> anyhow::Result<()> {
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

pub(super) async fn send_test(config: &Config, args: &PreviewArgs, to: &str) -> anyhow::Result<()> {
    let (_, channel, message) = render_sample(config, args)?;
    let test = crate::deliver::test_message(message, channel, to)
        .map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    let transports = crate::deliver::Transports::from_config(config)?;
    let (provider, id) = transports.send_test(&test).await?;
    println!(
        "test {channel} sent through {provider} (id {id}); it is not recorded as a customer message"
    );
    Ok(())
}

/// Publishes `version` of `name` again (0: the shipped file).
pub(super) async fn rollback(
    config: &Config,
    name: &str,
    version: i32,
    author: &str,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let editor = crate::editor::Editor::new(store.clone(), config);
    let policy = std::sync::Arc::new(Policy::load(&config.policy)?);
    let result = editor
        .rollback(policy, name, version, author, None, None)
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

//! `amends policy`: check a policy file, and explain what it decides for an event.

use anyhow::Context;

use crate::config::Config;
use crate::incident;
use crate::policy::{History, Policy};
use crate::templates::Templates;

/// Checks a policy file (the configured one unless `file` is given) against the templates.
pub(super) fn check(config: &Config, file: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let path = file.unwrap_or_else(|| config.policy.clone());
    let policy = load_checked(config, &path)?;
    println!(
        "{}: {} rules, version {}, OK",
        path.display(),
        policy.rules().len(),
        crate::policy::short(policy.version())
    );
    Ok(())
}

/// Loads the policy at `path` and checks that the configured templates have every rule's
/// template: what `check` prints and `doctor` sums up.
pub(super) fn load_checked(config: &Config, path: &std::path::Path) -> anyhow::Result<Policy> {
    let policy = Policy::load(path)?;
    let templates = Templates::load(&config.templates_dir, &config.template_settings())?;
    templates.cover(&policy)?;
    Ok(policy)
}

pub(super) fn explain(
    config: &Config,
    event: &std::path::Path,
    history: Option<&std::path::Path>,
    policy: Option<&std::path::Path>,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<()> {
    let path = policy.unwrap_or(&config.policy);
    let policy = Policy::load(path)?;
    let body = std::fs::read(event).with_context(|| format!("cannot read {}", event.display()))?;
    let incident = incident::parse(&body, None, &config.default_locale)
        .with_context(|| format!("{} is not a valid order event", event.display()))?;
    let mut history: History = match history {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a customer history", file.display()))?
        }
        None => History::default(),
    };
    let now = at.unwrap_or_else(chrono::Utc::now);
    // Nothing can be claimed meanwhile here: every waiting message it replaces goes unheard.
    let replaced = history.superseded_by(&incident);
    let superseded = history.forget_unheard(&replaced);
    let decision = policy
        .try_decide(&incident, &history, now)
        .with_context(|| format!("{} cannot be decided", event.display()))?;
    let currency = incident.order.total.currency();
    let settled = policy.settle_offline(&decision, &history, currency);
    let mut explanation = decision.explanation.clone();
    explanation.escalation = settled.escalation().map(str::to_owned);
    explanation.budget = settled.lines.clone();
    explanation.superseded = superseded;
    let due = decision.schedule(now, &incident.customer.timezone, &config.quiet_hours);
    explanation.timing = due.iter().map(|d| d.line.clone()).collect();

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
        _ if decision.ignored.is_some() => println!(
            "result: nothing recorded, nothing sent: {}",
            decision.ignored.as_deref().unwrap_or_default()
        ),
        (Some(why), _) => println!("result: nothing sent, {why}"),
        (None, Some(why)) => println!("result: rule {}, nothing sent: {why}", decision.rule),
        (None, None) => {
            let given = settled
                .plan
                .map(|p| {
                    p.offers
                        .iter()
                        .map(crate::policy::Offer::describe)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let kind = match decision.kind {
                crate::policy::RuleKind::Apology => String::new(),
                kind => format!(" ({})", kind.as_str()),
            };
            let channels = decision
                .channels
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>();
            let channels = match decision.send {
                crate::policy::SendMode::All if channels.len() > 1 => channels.join(" and "),
                _ => channels.join(", "),
            };
            println!(
                "result: rule {}{kind}, template {} by {}{}, offers: {}",
                decision.rule,
                decision.template,
                channels,
                match due.first() {
                    Some(first) if first.at > now => format!(
                        " after {}",
                        humantime::format_duration((first.at - now).to_std().unwrap_or_default())
                    ),
                    _ => String::new(),
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

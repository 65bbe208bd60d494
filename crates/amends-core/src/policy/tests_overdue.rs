//! Orders overdue in silence, as the shipped policy decides them: an apology with a person
//! checking, the promised update as an update, a held order's silence with its summary, an
//! order.placed decided as nothing, and a delay after the overdue apology as an update.

use rust_decimal::Decimal;
use serde_json::Value;

use super::tests::{incident, now, shipped};
use super::*;
use crate::incident::{Incident, IncidentType};

/// An overdue order of a customer with no tier; `edit` changes `data.overdue`.
fn overdue(edit: impl FnOnce(&mut Value)) -> Incident {
    incident("order.overdue", |e| {
        e["data"]["customer"]["tier"] = Value::Null;
        edit(&mut e["data"]["overdue"]);
    })
}

/// The overdue apology, told to the customer `at`.
fn apologised(at: &str) -> PriorIncident {
    PriorIncident {
        event_type: IncidentType::Overdue,
        at: at.parse().unwrap(),
        messaged: true,
        given: Decimal::ZERO,
        kind: RuleKind::Apology,
        eta: None,
        codes: Vec::new(),
        id: None,
        waiting: false,
        occurred_at: None,
    }
}

#[test]
fn an_overdue_order_is_apologised_for_and_a_person_checks() {
    let policy = shipped();
    let decision = policy.decide(&overdue(|_| {}), &History::default(), now());
    assert_eq!(decision.rule, "overdue");
    assert_eq!(decision.kind, RuleKind::Apology);
    assert_eq!(decision.template, "order-overdue");
    assert!(!decision.channels.is_empty());
    let escalation = decision.plans[0].escalation.as_deref().unwrap_or_default();
    assert!(escalation.contains("carrier"), "{escalation}");

    // A VIP gets something for the wait.
    let vip = incident("order.overdue", |_| {});
    let decision = policy.decide(&vip, &History::default(), now());
    assert_eq!(decision.rule, "overdue-vip-or-repeat");
    assert!(!decision.plans[0].offers.is_empty());
}

#[test]
fn the_promised_update_is_an_update_never_a_second_apology() {
    let policy = shipped();
    let history = History {
        order_incidents: vec![apologised("2026-11-22T09:00:00Z")],
        ..History::default()
    };
    let update = overdue(|o| o["update"] = true.into());
    let decision = policy.decide(&update, &history, now());
    assert_eq!(decision.rule, "overdue-update");
    assert_eq!(decision.kind, RuleKind::Update);
    assert!(decision.plans.iter().all(|p| p.escalation.is_none()));

    // A policy whose only rule is an apology has nothing to say for the update.
    let only_apology =
        Policy::parse("[[rule]]\nname = \"sorry\"\ntemplate = \"t\"\nchannels = [\"email\"]\n")
            .unwrap();
    let decision = only_apology.decide(&update, &history, now());
    assert_eq!(decision.rule, Decision::NO_RULE);
    let traces = &decision.explanation.rules;
    assert!(
        traces[0]
            .outcome
            .contains("is an update, not a second apology"),
        "{traces:?}"
    );
    // And an update rule never answers the apology itself.
    let only_update = Policy::parse(
        "[[rule]]\nname = \"news\"\nkind = \"update\"\ntemplate = \"t\"\nchannels = [\"email\"]\n",
    )
    .unwrap();
    let decision = only_update.decide(&overdue(|_| {}), &history, now());
    assert_eq!(decision.rule, Decision::NO_RULE);
}

#[test]
fn a_delay_after_the_overdue_apology_is_news_of_a_date() {
    let policy = shipped();
    let history = History {
        order_incidents: vec![apologised("2026-11-22T09:00:00Z")],
        ..History::default()
    };
    let delayed = incident("order.delayed", |e| {
        e["data"]["customer"]["tier"] = Value::Null;
    });
    let decision = policy.decide(&delayed, &history, now());
    assert_eq!(decision.kind, RuleKind::Update, "{}", decision.rule);
    assert!(
        decision.rule.starts_with("delay-update"),
        "{}",
        decision.rule
    );
}

#[test]
fn an_order_held_by_the_daily_cap_is_recorded_silent_with_its_summary() {
    let policy = shipped();
    let held = overdue(|o| {
        o["held"] = "held: today's cap is reached".into();
        o["summary"] = "975 more orders held".into();
    });
    let decision = policy.decide(&held, &History::default(), now());
    assert!(decision.channels.is_empty());
    assert!(decision.ignored.is_none());
    assert_eq!(
        decision.unreachable().as_deref(),
        Some("held: today's cap is reached")
    );
    assert_eq!(
        decision.plans[0].escalation.as_deref(),
        Some("975 more orders held")
    );
    assert!(decision.plans.iter().all(|p| p.offers.is_empty()));
    // The others held that day carry no summary: no escalation.
    let quiet = overdue(|o| o["held"] = "held".into());
    let decision = policy.decide(&quiet, &History::default(), now());
    assert!(decision.plans.iter().all(|p| p.escalation.is_none()));
}

#[test]
fn an_order_placed_is_no_incident() {
    let placed = incident("order.placed", |_| {});
    let decision = shipped().decide(&placed, &History::default(), now());
    assert!(decision.ignored.is_some());
    assert!(decision.channels.is_empty());
}

#[test]
fn overdue_facts_count_the_days_on_the_customers_calendar() {
    let late = overdue(|o| o["overdue_since"] = "2026-11-27T08:00:00Z".into());
    let facts = Facts::gather(&late, &History::default(), 90);
    // Promised 2026-11-20; found on the 27th in Madrid.
    assert_eq!(facts.incident.overdue_days, 7);
    assert!(!facts.incident.overdue_update);
}

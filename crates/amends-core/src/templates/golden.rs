//! Golden files: every shipped template × locale × channel rendered for the sample events with
//! the offers the default policy gives them, so a change to any text shows in review as a diff
//! of `snapshots/` beside it. After an intended change: `cargo insta review` (or run the
//! tests with `INSTA_UPDATE=always` and read the diff before committing).

use serde_json::Value;

use super::{Extras, Settings, Templates, samples};

/// The settings of the default configuration: Spanish SMS transliterated to GSM-7.
fn settings() -> Settings {
    let mut settings = Settings::new(&Locale::parse("en").unwrap());
    settings.sms_transliterate = vec!["es".to_owned()];
    settings
}
use crate::incident::{Incident, Locale};
use crate::policy::{Channel, History, Policy};

/// The cases: a name, the sample type, and an edit to the sample event.
type Case = (&'static str, &'static str, fn(&mut Value));

const CASES: [Case; 6] = [
    ("delayed", "order.delayed", |_| {}),
    ("delayed-no-eta", "order.delayed", |e| {
        if let Some(delay) = e["data"]["delay"].as_object_mut() {
            delay.remove("new_eta");
        }
    }),
    ("stockout", "order.stockout", |_| {}),
    ("stockout-cancel-items", "order.stockout", |e| {
        e["data"]["stockout"]["action"] = "cancel_items".into();
        e["data"]["customer"]["tier"] = Value::Null;
    }),
    ("cancelled", "order.cancelled", |_| {}),
    ("cancelled-by-customer", "order.cancelled", |e| {
        e["data"]["cancellation"]["reason"] = "customer_request".into();
        e["data"]["cancellation"]["initiated_by"] = "customer".into();
    }),
];

fn incident(event_type: &str, locale: &str, edit: fn(&mut Value)) -> Incident {
    samples::edited(event_type, |e| {
        edit(e);
        e["data"]["customer"]["locale"] = locale.into();
    })
    .unwrap()
}

#[test]
fn every_shipped_template_in_every_locale() {
    let templates = Templates::load(&crate::shipped("templates"), &settings()).unwrap();
    let policy = Policy::load(&crate::shipped("policy/default.toml")).unwrap();
    let store = samples::store();
    let now = samples::now();
    for (name, event_type, edit) in CASES {
        for locale in ["en-GB", "es-ES"] {
            let incident = incident(event_type, locale, edit);
            let decision = policy.decide(&incident, &History::default(), now);
            let plan = policy
                .settle_offline(
                    &decision,
                    &History::default(),
                    incident.order.total.currency(),
                )
                .plan;
            let mut offers = plan.map(|p| p.offers.clone()).unwrap_or_default();
            // Fixed codes, as random ones would change every run.
            for (i, offer) in offers.iter_mut().enumerate() {
                if offer.kind.issues_code() {
                    offer.code = Some(format!("SORRY-GOLDEN{i}"));
                }
            }
            let extras = Extras {
                offers: &offers,
                escalated: plan.is_some_and(|p| p.escalation.is_some()),
                sent_at: now,
                ..Extras::apology(now)
            };
            let key = &decision.template;
            let email = templates
                .render(key, Channel::Email, &incident, &store, &extras)
                .unwrap();
            let sms = templates
                .render(key, Channel::Sms, &incident, &store, &extras)
                .unwrap();
            let info = super::sms::analyse(&sms.text);
            insta::assert_snapshot!(
                format!("{name}.{locale}.email"),
                format!(
                    "rule: {}\nsubject: {}\n\n{}",
                    decision.rule,
                    email.subject.unwrap_or_default(),
                    email.text
                )
            );
            insta::assert_snapshot!(
                format!("{name}.{locale}.html"),
                email.html.unwrap_or_default()
            );
            insta::assert_snapshot!(
                format!("{name}.{locale}.sms"),
                format!(
                    "{} segment(s), {}, {} characters\n\n{}",
                    info.segments,
                    info.encoding,
                    sms.text.chars().count(),
                    sms.text
                )
            );
        }
    }
}

#[test]
fn every_variable_in_the_shipped_templates_exists_in_the_data_model() {
    let sources = super::read_sources(&crate::shipped("templates")).unwrap();
    let report = super::check::check(&sources, &settings(), &samples::store(), 3);
    let problems: Vec<String> = report.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(report.variants >= 12, "{}", report.variants);
}

/// The cases of the messages that are no apology: a sample event, an edit to it, and what the
/// customer was told before on the order.
type LaterCase = (
    &'static str,
    &'static str,
    fn(&mut Value),
    fn(chrono::DateTime<chrono::Utc>) -> History,
);

/// A delay told on the order the day before, with the date `eta` gave (`None`: unknown).
fn told_before(now: chrono::DateTime<chrono::Utc>, eta: Option<&str>) -> History {
    let mut history = samples::closed_history(now);
    for prior in &mut history.order_incidents {
        prior.eta = eta.and_then(|e| crate::incident::Eta::parse(e).ok());
        prior.codes.clear();
        prior.given = rust_decimal::Decimal::ZERO;
    }
    history
}

const LATER_CASES: [LaterCase; 4] = [
    // The sample delay (5 days late) after "date unknown": the date, and amends for the wait.
    (
        "update-date-known",
        "order.delayed",
        |_| {},
        |now| told_before(now, None),
    ),
    // Told 25 November, now the 26th.
    (
        "update-moved",
        "order.delayed",
        |e| {
            e["data"]["delay"]["new_eta"] = "2026-11-26".into();
            e["data"]["customer"]["tier"] = Value::Null;
        },
        |now| told_before(now, Some("2026-11-25")),
    ),
    // Delivered after a delay that gave a free-shipping code still valid.
    (
        "followup-delivered",
        "order.delivered",
        |_| {},
        samples::closed_history,
    ),
    // Delivered after a delay that gave nothing, to a customer without a first name.
    (
        "followup-delivered-plain",
        "order.delivered",
        |e| {
            if let Some(customer) = e["data"]["customer"].as_object_mut() {
                customer.remove("first_name");
            }
        },
        |now| told_before(now, Some("2026-11-29")),
    ),
];

#[test]
fn every_update_and_follow_up_in_every_locale() {
    let templates = Templates::load(&crate::shipped("templates"), &settings()).unwrap();
    let policy = Policy::load(&crate::shipped("policy/default.toml")).unwrap();
    let store = samples::store();
    let now = samples::now();
    let feedback = "https://shop.example/feedback?incident=0190b1c2-7d3e-7a4f-8b5c-6d7e8f901234";
    for (name, event_type, edit, history) in LATER_CASES {
        for locale in ["en-GB", "es-ES"] {
            let incident = incident(event_type, locale, edit);
            let history = history(now);
            let decision = policy.decide(&incident, &history, now);
            assert_eq!(decision.ignored, None, "{name}");
            let plan = policy
                .settle_offline(&decision, &history, incident.order.total.currency())
                .plan;
            let mut offers = plan.map(|p| p.offers.clone()).unwrap_or_default();
            for (i, offer) in offers.iter_mut().enumerate() {
                if offer.kind.issues_code() {
                    offer.code = Some(format!("SORRY-GOLDEN{i}"));
                }
            }
            let follow_up = decision.kind == crate::policy::RuleKind::FollowUp;
            let extras = Extras {
                offers: &offers,
                escalated: plan.is_some_and(|p| p.escalation.is_some()),
                sent_at: now,
                earlier: decision.earlier_incidents,
                updates_promised: decision.updates_promised,
                feedback_url: (follow_up && name == "followup-delivered").then_some(feedback),
                previous_eta: decision.previous_eta,
                earlier_codes: &decision.reminders,
            };
            let key = &decision.template;
            let email = templates
                .render(key, Channel::Email, &incident, &store, &extras)
                .unwrap();
            let sms = templates
                .render(key, Channel::Sms, &incident, &store, &extras)
                .unwrap();
            let info = super::sms::analyse(&sms.text);
            insta::assert_snapshot!(
                format!("{name}.{locale}.email"),
                format!(
                    "rule: {} ({})\nsubject: {}\n\n{}",
                    decision.rule,
                    decision.kind.as_str(),
                    email.subject.unwrap_or_default(),
                    email.text
                )
            );
            insta::assert_snapshot!(
                format!("{name}.{locale}.html"),
                email.html.unwrap_or_default()
            );
            insta::assert_snapshot!(
                format!("{name}.{locale}.sms"),
                format!(
                    "{} segment(s), {}, {} characters\n\n{}",
                    info.segments,
                    info.encoding,
                    sms.text.chars().count(),
                    sms.text
                )
            );
        }
    }
}

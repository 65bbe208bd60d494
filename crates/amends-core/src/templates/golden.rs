//! Golden files: every shipped template × locale × channel rendered for the variants the default
//! policy can produce (each offer it gives, escalated or not, a first or a repeated incident,
//! an update promised or not, the cancellation reasons that read differently, items removed,
//! dates that passed before the message went out), so a change to any text shows in review as
//! a diff of `snapshots/` beside it. After an intended change: `cargo insta review` (or run the
//! tests with `INSTA_UPDATE=always` and read the diff before committing).

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::{Extras, Settings, Templates, samples};
use crate::incident::{Incident, IncidentType, Locale};
use crate::policy::{Channel, History, Policy, PriorIncident};

/// The settings of the default configuration: no letter transliterated in any language.
fn settings() -> Settings {
    Settings::new(&Locale::parse("en").unwrap())
}

/// The segment limit of the default configuration (`sms_max_segments`).
const MAX_SEGMENTS: usize = 3;

/// Every shipped language, in the region its snapshots are read in: Portuguese twice, as the
/// European and the Brazilian texts differ.
const LOCALES: [&str; 6] = ["en-GB", "es-ES", "fr-FR", "de-DE", "pt-PT", "pt-BR"];

/// One golden case: a sample event, edited; what the policy side adds to the message; and
/// when it is decided and sent.
struct Case {
    name: &'static str,
    event_type: &'static str,
    edit: fn(&mut Value),
    /// Earlier incidents on this order the customer heard about (also in the history the
    /// policy decides with).
    earlier: u32,
    /// The policy sends an update when the date becomes known or moves.
    updates_promised: bool,
    /// When it is decided and sent, when not the samples' Monday morning.
    sent_at: Option<&'static str>,
    /// Whether the HTML part is kept too (the text part says the same, in the same order).
    html: bool,
}

const BASE: Case = Case {
    name: "",
    event_type: "",
    edit: |_| {},
    earlier: 0,
    updates_promised: false,
    sent_at: None,
    html: false,
};

fn remove(e: &mut Value, object: &str, key: &str) {
    if let Some(o) = e["data"][object].as_object_mut() {
        o.remove(key);
    }
}

const CASES: &[Case] = &[
    // A VIP, five days late with the carrier: 15 % off.
    Case {
        name: "delayed",
        event_type: "order.delayed",
        html: true,
        ..BASE
    },
    // No new date and no update promised: say so, promise nothing.
    Case {
        name: "delayed-no-eta",
        event_type: "order.delayed",
        edit: |e| remove(e, "delay", "new_eta"),
        html: true,
        ..BASE
    },
    // No new date, and the policy will write when it is known.
    Case {
        name: "delayed-no-eta-updates",
        event_type: "order.delayed",
        edit: |e| remove(e, "delay", "new_eta"),
        updates_promised: true,
        ..BASE
    },
    // Late again: a discount, a person calls, and the message knows it is the second time.
    Case {
        name: "delayed-again",
        event_type: "order.delayed",
        earlier: 1,
        updates_promised: true,
        ..BASE
    },
    // Three days for the weather, not a VIP: free shipping.
    Case {
        name: "delayed-medium",
        event_type: "order.delayed",
        edit: |e| {
            e["data"]["delay"]["new_eta"] = "2026-11-27".into();
            e["data"]["delay"]["reason"] = "weather".into();
            e["data"]["customer"]["tier"] = Value::Null;
        },
        ..BASE
    },
    // A day late at our supplier, no tracking: the apology and the date.
    Case {
        name: "delayed-short",
        event_type: "order.delayed",
        edit: |e| {
            e["data"]["delay"]["new_eta"] = "2026-11-25".into();
            e["data"]["delay"]["reason"] = "supplier".into();
            remove(e, "delay", "carrier");
            remove(e, "delay", "tracking_url");
            e["data"]["customer"]["tier"] = Value::Null;
        },
        updates_promised: true,
        ..BASE
    },
    // Sent after the promised day: no "before you had to ask".
    Case {
        name: "delayed-overdue",
        event_type: "order.delayed",
        sent_at: Some("2026-11-26T10:00:00Z"),
        ..BASE
    },
    // The new date the event gives has passed too: no date, as if unknown.
    Case {
        name: "delayed-stale-eta",
        event_type: "order.delayed",
        sent_at: Some("2026-11-30T10:00:00Z"),
        ..BASE
    },
    // A VIP's item on backorder, with substitutes and €10 off.
    Case {
        name: "stockout",
        event_type: "order.stockout",
        html: true,
        ..BASE
    },
    // The item removed: what remains, the new total and the refund.
    Case {
        name: "stockout-cancel-items",
        event_type: "order.stockout",
        edit: |e| {
            e["data"]["stockout"]["action"] = "cancel_items".into();
            e["data"]["customer"]["tier"] = Value::Null;
        },
        html: true,
        ..BASE
    },
    // Two items short, the rest sent now, no restock date, and a problem before.
    Case {
        name: "stockout-partial-again",
        event_type: "order.stockout",
        edit: |e| {
            e["data"]["stockout"]["action"] = "partial_ship".into();
            e["data"]["stockout"]["items"] = serde_json::json!([
                { "sku": "SKU-1", "name": "Trail shoe", "quantity": 1 },
                { "sku": "SKU-4", "name": "Merino hiking socks", "quantity": 2 }
            ]);
            remove(e, "stockout", "backorder_eta");
            e["data"]["customer"]["tier"] = Value::Null;
        },
        earlier: 1,
        ..BASE
    },
    // A VIP's order we cancelled: refund, gift card, and a call today.
    Case {
        name: "cancelled",
        event_type: "order.cancelled",
        html: true,
        ..BASE
    },
    // The customer cancelled: a confirmation, no apology.
    Case {
        name: "cancelled-by-customer",
        event_type: "order.cancelled",
        edit: |e| {
            e["data"]["cancellation"]["reason"] = "customer_request".into();
            e["data"]["cancellation"]["initiated_by"] = "customer".into();
        },
        html: true,
        ..BASE
    },
    // The payment failed and nothing was charged: no reason in the SMS.
    Case {
        name: "cancelled-payment",
        event_type: "order.cancelled",
        edit: |e| {
            e["data"]["cancellation"]["reason"] = "payment".into();
            remove(e, "cancellation", "refund");
            e["data"]["customer"]["tier"] = Value::Null;
        },
        ..BASE
    },
    // A VIP's order failed the security check on a Friday evening: the call is on Monday.
    Case {
        name: "cancelled-fraud-friday",
        event_type: "order.cancelled",
        edit: |e| e["data"]["cancellation"]["reason"] = "fraud_check".into(),
        sent_at: Some("2026-11-27T18:30:00Z"),
        ..BASE
    },
    // Our pricing error, after an earlier problem on the same order.
    Case {
        name: "cancelled-pricing-again",
        event_type: "order.cancelled",
        edit: |e| {
            e["data"]["cancellation"]["reason"] = "pricing_error".into();
            e["data"]["customer"]["tier"] = Value::Null;
        },
        earlier: 1,
        ..BASE
    },
    // Overdue in silence: a VIP's order, two days past the promised date with no word of it.
    // The apology, free shipping, a person checking, and the next update promised.
    Case {
        name: "overdue",
        event_type: "order.overdue",
        sent_at: Some(OVERDUE_SENT_AT),
        html: true,
        ..BASE
    },
    // Shipped with a carrier that went quiet, not a VIP: no offer, their tracking page linked.
    Case {
        name: "overdue-carrier",
        event_type: "order.overdue",
        edit: |e| {
            e["data"]["overdue"]["carrier"] = "DHL".into();
            e["data"]["overdue"]["tracking_url"] = DHL_TRACKING.into();
            e["data"]["customer"]["tier"] = Value::Null;
        },
        sent_at: Some(OVERDUE_SENT_AT),
        html: true,
        ..BASE
    },
    // Late once already, then silence: said so, free shipping, and no date for an update.
    Case {
        name: "overdue-again",
        event_type: "order.overdue",
        edit: |e| {
            remove(e, "overdue", "next_update_by");
            e["data"]["customer"]["tier"] = Value::Null;
        },
        earlier: 1,
        sent_at: Some(OVERDUE_SENT_AT),
        ..BASE
    },
];

/// When the overdue cases are decided and sent: the Sunday after the sample's promised
/// Friday, once its day of grace has passed.
const OVERDUE_SENT_AT: &str = "2026-11-22T09:00:00Z";

/// A carrier's tracking page, as long as real ones are.
const DHL_TRACKING: &str =
    "https://www.dhl.com/es-es/home/tracking.html?tracking-id=JD014600006281230465";

fn incident(event_type: &str, locale: &str, edit: fn(&mut Value)) -> Incident {
    samples::edited(event_type, |e| {
        edit(e);
        e["data"]["customer"]["locale"] = locale.into();
    })
    .unwrap()
}

/// The history a case is decided with: `earlier` incidents on the order, three days apart
/// (outside the frequency window, so nothing is coalesced).
fn history(earlier: u32, now: DateTime<Utc>) -> History {
    History {
        order_incidents: (1..=earlier)
            .map(|n| PriorIncident {
                event_type: IncidentType::Delayed,
                at: now - Duration::days(3 * i64::from(n)),
                messaged: true,
                given: Decimal::ZERO,
                kind: Default::default(),
                eta: None,
                codes: Vec::new(),
                id: None,
                waiting: false,
                occurred_at: None,
            })
            .collect(),
        ..History::default()
    }
}

#[test]
fn every_shipped_template_in_every_locale() {
    let templates = Templates::load(&crate::shipped("templates"), &settings()).unwrap();
    let policy = Policy::load(&crate::shipped("policy/default.toml")).unwrap();
    let store = samples::store();
    for case in CASES {
        let now = case
            .sent_at
            .map(|t| t.parse::<DateTime<Utc>>().unwrap())
            .unwrap_or_else(samples::now);
        let history = history(case.earlier, now);
        for locale in LOCALES {
            let incident = incident(case.event_type, locale, case.edit);
            let decision = policy.decide(&incident, &history, now);
            let plan = policy
                .settle_offline(&decision, &history, incident.order.total.currency())
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
                earlier: case.earlier,
                updates_promised: case.updates_promised,
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
            let name = case.name;
            insta::assert_snapshot!(
                format!("{name}.{locale}.email"),
                format!(
                    "rule: {}\nsubject: {}\n\n{}",
                    decision.rule,
                    email.subject.unwrap_or_default(),
                    email.text
                )
            );
            if case.html {
                insta::assert_snapshot!(
                    format!("{name}.{locale}.html"),
                    email.html.unwrap_or_default()
                );
            }
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
            // Every SMS the default policy sends fits the default limit, in GSM-7.
            assert!(
                info.segments <= MAX_SEGMENTS,
                "{name} {locale}: {} segments\n{}",
                info.segments,
                sms.text
            );
            assert_eq!(
                info.encoding,
                super::sms::SmsEncoding::Gsm7,
                "{name} {locale}: {}",
                sms.text
            );
        }
    }
}

#[test]
fn every_variable_in_the_shipped_templates_exists_in_the_data_model() {
    let sources = super::read_sources(&crate::shipped("templates")).unwrap();
    let report = super::check::check(&sources, &settings(), &samples::store(), MAX_SEGMENTS);
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

/// The sample overdue order as its promised update: promised by Thursday 19 November, the
/// apology sent on the 21st, nothing heard since, and no further update date.
fn overdue_update(e: &mut Value) {
    e["data"]["overdue"]["update"] = true.into();
    e["data"]["overdue"]["deliver_by"] = "2026-11-19".into();
    e["data"]["overdue"]["overdue_since"] = "2026-11-20T23:00:00Z".into();
    remove(e, "overdue", "next_update_by");
}

/// The overdue apology told on the order two days before, with nothing given.
fn overdue_told(now: chrono::DateTime<chrono::Utc>) -> History {
    History {
        order_incidents: vec![PriorIncident {
            event_type: IncidentType::Overdue,
            at: now - Duration::days(2),
            messaged: true,
            given: Decimal::ZERO,
            kind: crate::policy::RuleKind::Apology,
            eta: None,
            codes: Vec::new(),
            id: None,
            waiting: false,
            occurred_at: None,
        }],
        ..History::default()
    }
}

const LATER_CASES: [LaterCase; 6] = [
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
    // The update promised with an overdue apology: still no word of a VIP's order.
    (
        "overdue-update",
        "order.overdue",
        overdue_update,
        overdue_told,
    ),
    // The same, for an order a carrier has and went quiet about, not a VIP's.
    (
        "overdue-update-carrier",
        "order.overdue",
        |e| {
            overdue_update(e);
            e["data"]["overdue"]["carrier"] = "DHL".into();
            e["data"]["overdue"]["tracking_url"] = DHL_TRACKING.into();
            e["data"]["customer"]["tier"] = Value::Null;
        },
        overdue_told,
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
        for locale in LOCALES {
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

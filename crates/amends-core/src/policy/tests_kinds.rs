//! Rule kinds (apology, update, follow-up), `send = "all"`, promotion, and the facts they read:
//! table-style, against the shipped policy and small policies written for each case.

use rust_decimal::Decimal;
use serde_json::Value;

use super::tests::{incident, now, shipped};
use super::*;
use crate::incident::{Eta, Incident, IncidentType};

/// A delay whose new date is `new_eta` (`None`: unknown), original ETA 2026-11-24, no tier.
fn delay(new_eta: Option<&str>) -> Incident {
    incident("order.delayed", |e| {
        e["data"]["delay"]["new_eta"] = new_eta.map_or(Value::Null, Value::from);
        e["data"]["customer"]["tier"] = Value::Null;
    })
}

fn prior(event_type: IncidentType, at: &str) -> PriorIncident {
    PriorIncident {
        event_type,
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

/// A delay told to the customer `at`, with the date `eta` (`None`: unknown).
fn told(at: &str, eta: Option<&str>) -> PriorIncident {
    PriorIncident {
        eta: eta.map(|e| Eta::parse(e).unwrap()),
        ..prior(IncidentType::Delayed, at)
    }
}

fn history(prior: Vec<PriorIncident>) -> History {
    History {
        order_incidents: prior,
        ..History::default()
    }
}

/// A policy of the given rules (TOML text after `[[rule]]` headers).
fn policy(rules: &[&str]) -> Policy {
    let text: String = rules
        .iter()
        .map(|r| format!("[[rule]]\n{r}\ntemplate = \"t\"\nchannels = [\"email\", \"sms\"]\n"))
        .collect();
    Policy::parse(&text).unwrap()
}

/// A situation, the earlier incidents, the new date, and the facts expected: `eta_changed`,
/// `eta_moved_days`, `last_eta`, `last_eta_unknown`.
type TellingCase = (
    &'static str,
    Vec<PriorIncident>,
    Option<&'static str>,
    bool,
    i64,
    &'static str,
    bool,
);

#[test]
fn update_facts_say_what_the_customer_was_last_told() {
    let table: Vec<TellingCase> = vec![
        (
            "nothing told",
            vec![],
            Some("2026-11-29"),
            false,
            0,
            "",
            false,
        ),
        (
            "told unknown, now a date",
            vec![told("2026-11-22T08:00:00Z", None)],
            Some("2026-11-29"),
            true,
            0,
            "",
            true,
        ),
        (
            "told unknown, still unknown",
            vec![told("2026-11-22T08:00:00Z", None)],
            None,
            false,
            0,
            "",
            true,
        ),
        (
            "told a date, now a later one",
            vec![told("2026-11-22T08:00:00Z", Some("2026-11-26"))],
            Some("2026-11-29"),
            true,
            3,
            "2026-11-26",
            false,
        ),
        (
            "told a date, now an earlier one",
            vec![told("2026-11-22T08:00:00Z", Some("2026-11-30"))],
            Some("2026-11-29"),
            true,
            -1,
            "2026-11-30",
            false,
        ),
        (
            "told the same date",
            vec![told("2026-11-22T08:00:00Z", Some("2026-11-29"))],
            Some("2026-11-29"),
            false,
            0,
            "2026-11-29",
            false,
        ),
        (
            "told a date, now unknown: no news to update with",
            vec![told("2026-11-22T08:00:00Z", Some("2026-11-29"))],
            None,
            false,
            0,
            "2026-11-29",
            false,
        ),
        (
            "the last delay told counts, not the last recorded",
            vec![
                told("2026-11-20T08:00:00Z", Some("2026-11-27")),
                PriorIncident {
                    messaged: false,
                    ..told("2026-11-22T08:00:00Z", Some("2026-11-29"))
                },
            ],
            Some("2026-11-29"),
            true,
            2,
            "2026-11-27",
            false,
        ),
        (
            "a stockout tells no date",
            vec![prior(IncidentType::Stockout, "2026-11-22T08:00:00Z")],
            Some("2026-11-29"),
            false,
            0,
            "",
            false,
        ),
    ];
    for (situation, prior, new, changed, moved, last, unknown) in table {
        let facts = Facts::gather(&delay(new), &history(prior), 90);
        assert_eq!(facts.incident.eta_changed, changed, "{situation}");
        assert_eq!(facts.incident.eta_moved_days, moved, "{situation}");
        assert_eq!(facts.history.last_eta, last, "{situation}");
        assert_eq!(facts.history.last_eta_unknown, unknown, "{situation}");
    }
}

#[test]
fn told_incidents_count_apologies_the_customer_heard() {
    let table: Vec<(&str, Vec<PriorIncident>, i64)> = vec![
        ("none", vec![], 0),
        (
            "an apology",
            vec![prior(IncidentType::Delayed, "2026-11-20T08:00:00Z")],
            1,
        ),
        (
            "an apology nobody received",
            vec![PriorIncident {
                messaged: false,
                ..prior(IncidentType::Stockout, "2026-11-20T08:00:00Z")
            }],
            0,
        ),
        (
            "an update and a follow-up are no incidents of their own",
            vec![
                prior(IncidentType::Delayed, "2026-11-20T08:00:00Z"),
                PriorIncident {
                    kind: RuleKind::Update,
                    ..prior(IncidentType::Delayed, "2026-11-21T08:00:00Z")
                },
                PriorIncident {
                    kind: RuleKind::FollowUp,
                    ..prior(IncidentType::Shipped, "2026-11-22T08:00:00Z")
                },
                prior(IncidentType::Stockout, "2026-11-22T09:00:00Z"),
            ],
            2,
        ),
    ];
    for (situation, prior, expected) in table {
        let history = history(prior);
        let facts = Facts::gather(&delay(Some("2026-11-29")), &history, 90);
        assert_eq!(facts.history.order_incidents_told, expected, "{situation}");
        assert_eq!(
            i64::from(history.order_incidents_told()),
            expected,
            "{situation}"
        );
    }
}

#[test]
fn a_date_where_there_was_none_is_an_update_not_a_second_apology_nor_silence() {
    let policy = shipped();
    // Told "unknown" an hour ago: within the frequency window, yet the date is sent.
    let history = history(vec![told("2026-11-23T09:00:00Z", None)]);
    let decision = policy.decide(&delay(Some("2026-11-26")), &history, now());
    assert_eq!(decision.rule, "delay-update");
    assert_eq!(decision.kind, RuleKind::Update);
    assert_eq!(decision.template, "order-update");
    assert_eq!(decision.coalesced, None);
    assert_eq!(decision.previous_eta, None);
    assert!(decision.plans.iter().all(|p| p.offers.is_empty()));
    assert!(
        !decision.updates_promised,
        "an update promises nothing more"
    );
    assert_eq!(decision.explanation.kind, "update");
    assert_eq!(
        decision.explanation.frequency,
        "an update, never coalesced: the customer was last told the date was unknown, now 2026-11-26"
    );
    assert!(
        decision
            .explanation
            .to_text()
            .contains(", update): matched")
    );

    // The same date again within the window: nothing new, coalesced.
    let history = history_with(told("2026-11-23T09:00:00Z", Some("2026-11-26")));
    let decision = policy.decide(&delay(Some("2026-11-26")), &history, now());
    assert!(decision.coalesced.is_some());
    assert_eq!(decision.kind, RuleKind::Apology);

    // A moved date says what was told before.
    let decision = policy.decide(&delay(Some("2026-11-28")), &history, now());
    assert_eq!(decision.rule, "delay-update");
    assert_eq!(decision.previous_eta, "2026-11-26".parse().ok());
}

fn history_with(prior: PriorIncident) -> History {
    history(vec![prior])
}

#[test]
fn a_long_wait_revealed_by_an_update_gets_amends_less_what_was_given() {
    let policy = shipped();
    let mut first = told("2026-11-22T08:00:00Z", None);
    first.given = "10.00".parse().unwrap();
    let decision = policy.decide(&delay(Some("2026-11-30")), &history_with(first), now());
    assert_eq!(decision.rule, "delay-update-long");
    // 10% of 129.90 is 12.99, worth more than the 10.00 already given: kept whole.
    let offer = &decision.plans[0].offers[0];
    assert_eq!(offer.kind, OfferKind::PercentOff);
    assert!(
        decision
            .explanation
            .offers
            .iter()
            .any(|l| l.contains("already given")),
        "{:?}",
        decision.explanation.offers
    );
}

#[test]
fn an_update_rule_needs_a_delay_the_customer_was_told_of() {
    let policy = policy(&[
        "name = \"update\"\nkind = \"update\"\nwhen = 'incident.type == \"order.delayed\"'",
        "name = \"apology\"",
    ]);
    let table: Vec<(&str, Incident, History, &str, &str)> = vec![
        (
            "first delay",
            delay(Some("2026-11-29")),
            History::default(),
            "apology",
            "not tried: an update needs a delay the customer was already told of on this order",
        ),
        (
            "told, but nobody received it",
            delay(Some("2026-11-29")),
            history_with(PriorIncident {
                messaged: false,
                ..told("2026-11-20T08:00:00Z", None)
            }),
            "apology",
            "not tried: an update needs a delay the customer was already told of on this order",
        ),
        (
            "a stockout after a delay",
            incident("order.stockout", |_| {}),
            history_with(told("2026-11-20T08:00:00Z", None)),
            "apology",
            "not tried: an update is about a delay or an overdue order, not order.stockout",
        ),
        (
            "told of a delay",
            delay(Some("2026-11-29")),
            history_with(told("2026-11-20T08:00:00Z", None)),
            "update",
            "matched",
        ),
    ];
    for (situation, incident, history, rule, first) in table {
        let decision = policy.decide(&incident, &history, now());
        assert_eq!(decision.rule, rule, "{situation}");
        assert_eq!(decision.explanation.rules[0].outcome, first, "{situation}");
    }
}

#[test]
fn closing_events_never_cause_an_apology_and_are_ignored_without_an_incident() {
    let policy = shipped();
    let delivered = incident("order.delivered", |_| {});
    let shipped_event = incident("order.shipped", |_| {});
    let told_delay = history_with(told("2026-11-20T08:00:00Z", Some("2026-11-29")));
    let unheard = history_with(PriorIncident {
        messaged: false,
        ..told("2026-11-20T08:00:00Z", Some("2026-11-29"))
    });
    let only_a_follow_up = history_with(prior(IncidentType::Shipped, "2026-11-20T08:00:00Z"));
    let nothing = History::default();
    // (situation, event, history, rule, ignored)
    let table: Vec<(&str, &Incident, &History, &str, Option<&str>)> = vec![
        (
            "delivered, no incident",
            &delivered,
            &nothing,
            Decision::NO_RULE,
            Some("order.delivered on an order with no earlier incident: nothing to follow up"),
        ),
        (
            "delivered after a follow-up only",
            &delivered,
            &only_a_follow_up,
            Decision::NO_RULE,
            Some("order.delivered on an order with no earlier incident: nothing to follow up"),
        ),
        (
            "delivered after a delay the customer heard of",
            &delivered,
            &told_delay,
            "delivered-follow-up",
            None,
        ),
        (
            "delivered after a delay nobody heard of",
            &delivered,
            &unheard,
            Decision::NO_RULE,
            Some("no follow_up rule answers order.delivered on this order"),
        ),
        (
            "shipped: the shipped policy says nothing",
            &shipped_event,
            &told_delay,
            Decision::NO_RULE,
            Some("no follow_up rule answers order.shipped on this order"),
        ),
    ];
    for (situation, event, history, rule, ignored) in table {
        let decision = policy.decide(event, history, now());
        assert_eq!(decision.rule, rule, "{situation}");
        assert_eq!(decision.ignored.as_deref(), ignored, "{situation}");
        if ignored.is_some() {
            assert!(decision.channels.is_empty(), "{situation}");
            assert_eq!(decision.unreachable(), None, "{situation}");
        }
        // No apology rule was tried on a closing event.
        for trace in &decision.explanation.rules {
            assert!(
                trace.kind == "follow_up" || trace.outcome.starts_with("not tried"),
                "{situation}: {trace:?}"
            );
        }
    }
}

#[test]
fn a_follow_up_restates_the_codes_still_valid_and_is_sent_once() {
    let policy = shipped();
    let delivered = incident("order.delivered", |_| {});
    let code = |code: &str, expires: &str| PriorCode {
        code: code.to_owned(),
        kind: OfferKind::AmountOff,
        amount: Some("10.0000".parse().unwrap()),
        percent: None,
        expires_at: Some(expires.parse().unwrap()),
    };
    let mut delay = told("2026-11-20T08:00:00Z", Some("2026-11-29"));
    delay.given = "10.00".parse().unwrap();
    delay.codes = vec![
        code("SORRY-VALID", "2027-02-18T08:00:00Z"),
        code("SORRY-GONE", "2026-11-23T09:59:59Z"),
    ];
    let decision = policy.decide(&delivered, &history_with(delay.clone()), now());
    assert_eq!(decision.kind, RuleKind::FollowUp);
    assert_eq!(decision.template, "order-followup");
    assert_eq!(decision.channels, vec![Channel::Email, Channel::Sms]);
    assert_eq!(decision.reminders.len(), 1);
    let reminder = &decision.reminders[0];
    assert_eq!(reminder.code.as_deref(), Some("SORRY-VALID"));
    assert_eq!(reminder.amount.unwrap().to_string(), "10.00 EUR");
    assert!(reminder.cost.amount().is_zero(), "restating costs nothing");
    // Nothing new is given, nothing counts against a budget.
    assert!(decision.plans.iter().all(|p| p.offers.is_empty()));
    let notes = decision.explanation.offers.join("\n");
    assert!(
        notes.contains("restates SORRY-VALID (amount_off 10.00 EUR)"),
        "{notes}"
    );
    assert!(
        notes.contains("SORRY-GONE not restated: it expired at 2026-11-23T09:59:59Z"),
        "{notes}"
    );
    assert_eq!(decision.earlier_incidents, 1);

    // A second delivery event of the same order: the follow-up was already sent.
    let mut done = prior(IncidentType::Delivered, "2026-11-22T08:00:00Z");
    done.kind = RuleKind::FollowUp;
    let decision = policy.decide(&delivered, &history(vec![delay, done]), now());
    assert!(decision.coalesced.is_some());
    assert!(decision.channels.is_empty());
}

#[test]
fn send_all_reaches_every_listed_channel_once_and_holds_none_in_reserve() {
    let policy = shipped();
    let vip_cancel = |edit: fn(&mut Value)| {
        incident("order.cancelled", |e| {
            e["data"]["cancellation"]["reason"] = "pricing_error".into();
            edit(e);
        })
    };
    // (situation, incident, suppressed, channels)
    let table: Vec<(&str, Incident, Vec<Channel>, Vec<Channel>)> = vec![
        (
            "both consents",
            vip_cancel(|_| {}),
            vec![],
            vec![Channel::Sms, Channel::Email],
        ),
        (
            "no SMS consent",
            vip_cancel(|e| e["data"]["customer"]["consent"]["sms"] = false.into()),
            vec![],
            vec![Channel::Email],
        ),
        (
            "email suppressed",
            vip_cancel(|_| {}),
            vec![Channel::Email],
            vec![Channel::Sms],
        ),
        (
            "no phone",
            vip_cancel(|e| {
                e["data"]["customer"]
                    .as_object_mut()
                    .unwrap()
                    .remove("phone");
            }),
            vec![],
            vec![Channel::Email],
        ),
    ];
    for (situation, incident, suppressed, channels) in table {
        let history = History {
            suppressed,
            ..History::default()
        };
        let decision = policy.decide(&incident, &history, now());
        assert_eq!(decision.rule, "vip-merchant-cancellation", "{situation}");
        assert_eq!(decision.send, SendMode::All, "{situation}");
        assert_eq!(decision.channels, channels, "{situation}");
    }
    let decision = policy.decide(&vip_cancel(|_| {}), &History::default(), now());
    assert!(
        decision
            .explanation
            .channels
            .contains(&"email: used too (send = \"all\")".to_owned()),
        "{:?}",
        decision.explanation.channels
    );
    // The VIP delay of three days or more too; a shorter one keeps the reserve.
    let vip_delay = incident("order.delayed", |_| {});
    let decision = policy.decide(&vip_delay, &History::default(), now());
    assert_eq!(decision.rule, "vip-delay-long");
    assert_eq!(
        (decision.send, decision.channels),
        (SendMode::All, vec![Channel::Sms, Channel::Email])
    );
    let short = delay(Some("2026-11-25"));
    let decision = policy.decide(&short, &History::default(), now());
    assert_eq!(
        (decision.send, decision.channels),
        (SendMode::First, vec![Channel::Email, Channel::Sms])
    );
}

#[test]
fn payment_and_fraud_cancellations_give_no_gift() {
    let policy = shipped();
    for reason in ["payment", "fraud_check"] {
        for tier in [Value::Null, "vip".into()] {
            let event = incident("order.cancelled", |e| {
                e["data"]["cancellation"]["reason"] = reason.into();
                e["data"]["customer"]["tier"] = tier.clone();
            });
            let decision = policy.decide(&event, &History::default(), now());
            assert_eq!(decision.rule, "payment-cancellation", "{reason}");
            for plan in &decision.plans {
                assert!(
                    plan.offers.iter().all(|o| !o.kind.issues_code()),
                    "{reason}: {:?}",
                    plan.offers
                );
                assert_eq!(plan.escalation, None);
            }
            // The refund is still confirmed.
            assert_eq!(
                decision.plans[0].offers[0].kind,
                OfferKind::RefundConfirmation
            );
        }
    }
}

#[test]
fn updates_are_promised_only_when_an_update_rule_would_answer() {
    let unknown = delay(None);
    let dated = delay(Some("2026-11-29"));
    let stockout = incident("order.stockout", |_| {});
    let with_updates = policy(&[
        "name = \"update\"\nkind = \"update\"\nwhen = 'incident.eta_changed'",
        "name = \"apology\"",
    ]);
    let only_known_to_unknown = policy(&[
        "name = \"update\"\nkind = \"update\"\nwhen = 'incident.eta_changed && history.last_eta != \"\"'",
        "name = \"apology\"",
    ]);
    let promotional_update = policy(&[
        "name = \"update\"\nkind = \"update\"\npromotional = true",
        "name = \"apology\"",
    ]);
    let without = policy(&["name = \"apology\""]);
    let table: Vec<(&str, &Policy, &Incident, bool)> = vec![
        (
            "an update rule, unknown date",
            &with_updates,
            &unknown,
            true,
        ),
        ("an update rule, a date", &with_updates, &dated, true),
        ("no update rule", &without, &unknown, false),
        ("a stockout is no delay", &with_updates, &stockout, false),
        (
            "the update rule only answers a moved date",
            &only_known_to_unknown,
            &unknown,
            false,
        ),
        (
            "... which a dated delay can have",
            &only_known_to_unknown,
            &dated,
            true,
        ),
        (
            "a promotional update, no marketing consent",
            &promotional_update,
            &unknown,
            false,
        ),
    ];
    for (situation, policy, incident, promised) in table {
        let decision = policy.decide(incident, &History::default(), now());
        assert_eq!(decision.rule, "apology", "{situation}");
        assert_eq!(decision.updates_promised, promised, "{situation}");
    }
}

#[test]
fn earlier_incidents_the_customer_heard_of_are_counted_for_again() {
    let policy = shipped();
    let stockout = incident("order.stockout", |_| {});
    let history = history(vec![
        told("2026-11-10T08:00:00Z", Some("2026-11-26")),
        PriorIncident {
            kind: RuleKind::Update,
            ..told("2026-11-11T08:00:00Z", Some("2026-11-27"))
        },
    ]);
    let decision = policy.decide(&stockout, &history, now());
    assert_eq!(decision.earlier_incidents, 1);
    assert!(
        decision
            .explanation
            .to_text()
            .contains("note: again: the customer heard of 1 earlier incident(s) on this order")
    );
    let first = policy.decide(&stockout, &History::default(), now());
    assert_eq!(first.earlier_incidents, 0);
}

#[test]
fn promotional_rules_need_marketing_consent_which_conditions_can_see() {
    let policy = policy(&[
        "name = \"come-back\"\npromotional = true\nwhen = 'incident.type == \"order.cancelled\"'\noffers = [{ kind = \"amount_off\", amount = \"5.00\" }]",
        "name = \"marketing-aware\"\nwhen = 'customer.consent.marketing'",
        "name = \"plain\"",
    ]);
    let cancelled = |marketing: bool| {
        incident("order.cancelled", |e| {
            e["data"]["customer"]["consent"]["marketing"] = marketing.into();
        })
    };
    let decision = policy.decide(&cancelled(false), &History::default(), now());
    assert_eq!(decision.rule, "plain");
    assert_eq!(
        decision.explanation.rules[0].outcome,
        "not tried: promotional, and the customer has not agreed to marketing"
    );
    assert_eq!(
        decision.explanation.rules[1].seen["customer.consent.marketing"],
        false
    );
    let decision = policy.decide(&cancelled(true), &History::default(), now());
    assert_eq!(decision.rule, "come-back");
    // The shipped policy has nothing promotional: consent changes nothing it sends.
    let shipped = shipped();
    assert!(shipped.rules().iter().all(|r| !r.promotional));
    let a = shipped.decide(&cancelled(false), &History::default(), now());
    let b = shipped.decide(&cancelled(true), &History::default(), now());
    assert_eq!((a.rule, a.plans), (b.rule, b.plans));
}

#[test]
fn kinds_send_and_promotion_are_checked_with_the_line() {
    let rule = |extra: &str| {
        format!("[[rule]]\nname = \"r\"\ntemplate = \"t\"\nchannels = [\"email\"]\n{extra}")
    };
    let table = [
        (
            "kind = \"sorry\"",
            "line 5: rule \"r\": kind \"sorry\" is not one of \"apology\", \"update\", \"follow_up\"",
        ),
        (
            "send = \"both\"",
            "line 5: rule \"r\": send \"both\" is not \"first\" or \"all\"",
        ),
        (
            "kind = \"follow_up\"\noffers = [{ kind = \"amount_off\", amount = \"5.00\" }]",
            "line 1: rule \"r\": a follow_up rule gives nothing new (it restates the codes still valid): remove offers and fallback",
        ),
        (
            "kind = \"follow_up\"\nfallback = \"escalate\"",
            "line 1: rule \"r\": a follow_up rule gives nothing new (it restates the codes still valid): remove offers and fallback",
        ),
        ("promotional = \"yes\"", "line 5: invalid type"),
        (
            "when = 'history.last_etaa == \"\"'",
            "line 5: rule \"r\": condition: `history` has no field `last_etaa`",
        ),
    ];
    for (extra, error) in table {
        let e = Policy::parse(&rule(extra)).unwrap_err();
        assert!(e.starts_with(error), "{extra}: {e}");
        assert!(!e.contains('\n'), "{e}");
    }
    let ok = Policy::parse(&rule(
        "kind = \"update\"\nsend = \"all\"\npromotional = true\nwhen = 'incident.eta_changed && incident.eta_moved_days >= 1 && history.last_eta_unknown && history.order_incidents_told > 0 && customer.consent.marketing'",
    ))
    .unwrap();
    let rule = &ok.rules()[0];
    assert_eq!(
        (rule.kind, rule.send, rule.promotional),
        (RuleKind::Update, SendMode::All, true)
    );
}

#[test]
fn a_customer_history_file_gives_what_was_told_and_the_codes() {
    let history: History = serde_json::from_str(
        r#"{
            "order_incidents": [
                { "type": "order.delayed", "at": "2026-11-20T09:30:00Z", "eta": "2026-11-29",
                  "given": "10.00",
                  "codes": [ { "code": "SORRY-K7QW3MZP", "kind": "amount_off", "amount": "10.00",
                               "expires_at": "2027-02-18T09:30:00Z" } ] },
                { "type": "order.delayed", "at": "2026-11-21T09:30:00Z", "kind": "update" }
            ]
        }"#,
    )
    .unwrap();
    let first = &history.order_incidents[0];
    assert_eq!(first.kind, RuleKind::Apology);
    assert_eq!(first.eta, Some(Eta::parse("2026-11-29").unwrap()));
    assert_eq!(first.codes[0].amount, Some("10.00".parse().unwrap()));
    assert_eq!(history.order_incidents[1].kind, RuleKind::Update);
    assert_eq!(history.order_incidents_told(), 1);
    for bad in [
        r#"{"order_incidents": [{"type": "order.delayed", "at": "2026-11-20T09:30:00Z", "eta": "soon"}]}"#,
        r#"{"order_incidents": [{"type": "order.delayed", "at": "2026-11-20T09:30:00Z", "kind": "sorry"}]}"#,
        r#"{"order_incidents": [{"type": "order.delayed", "at": "2026-11-20T09:30:00Z", "codes": [{"code": "X"}]}]}"#,
    ] {
        assert!(serde_json::from_str::<History>(bad).is_err(), "{bad}");
    }
}

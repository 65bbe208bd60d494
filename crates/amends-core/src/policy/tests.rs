//! Policy evaluation, table-style: every rule of the shipped policy, the boundaries, the errors.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::*;
use crate::incident::{Currency, Incident, IncidentType, Locale, Money, parse, sample};

/// The shipped sample event of `event_type`, edited, parsed (shared by the policy's test files).
pub(super) fn incident(event_type: &str, edit: impl FnOnce(&mut Value)) -> Incident {
    let mut event: Value = serde_json::from_str(sample(event_type).unwrap()).unwrap();
    edit(&mut event);
    let body = serde_json::to_vec(&event).unwrap();
    parse(&body, None, &Locale::parse("en").unwrap()).unwrap()
}

/// The time the tables are decided at.
pub(super) fn now() -> DateTime<Utc> {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

/// The shipped default policy.
pub(super) fn shipped() -> Policy {
    Policy::load(&crate::shipped("policy/default.toml")).unwrap()
}

fn money(amount: &str) -> Money {
    Money::parse(amount, Currency::parse("EUR").unwrap()).unwrap()
}

/// A delay of `days` (original ETA 2026-11-24) for a customer of `tier`.
fn delay(days: i64, tier: Option<&str>) -> Incident {
    incident("order.delayed", |e| {
        let new =
            chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap() + chrono::Days::new(days as u64);
        e["data"]["delay"]["new_eta"] = new.to_string().into();
        e["data"]["customer"]["tier"] = tier.map_or(Value::Null, Value::from);
    })
}

/// A delay on the order recorded `at`, told to the customer with `eta` (`None`: unknown).
fn told_delay(at: &str, eta: Option<&str>) -> PriorIncident {
    PriorIncident {
        eta: eta.map(|e| crate::incident::Eta::parse(e).unwrap()),
        ..prior(IncidentType::Delayed, at, "0")
    }
}

fn prior(event_type: IncidentType, at: &str, given: &str) -> PriorIncident {
    PriorIncident {
        event_type,
        at: at.parse().unwrap(),
        messaged: true,
        given: given.parse().unwrap(),
        kind: RuleKind::Apology,
        eta: None,
        codes: Vec::new(),
        id: None,
        waiting: false,
        occurred_at: None,
    }
}

/// The rule each situation must reach in the shipped policy: every rule is hit at least once,
/// and every threshold from both sides.
#[test]
fn shipped_policy_rule_table() {
    let policy = shipped();
    let cancelled = |tier: Option<&str>, by: &str| {
        incident("order.cancelled", |e| {
            e["data"]["customer"]["tier"] = tier.map_or(Value::Null, Value::from);
            e["data"]["cancellation"]["initiated_by"] = by.into();
        })
    };
    let stockout = |tier: Option<&str>| {
        incident("order.stockout", |e| {
            e["data"]["customer"]["tier"] = tier.map_or(Value::Null, Value::from);
        })
    };
    let unknown_eta = |tier: Option<&str>| {
        incident("order.delayed", |e| {
            e["data"]["delay"]
                .as_object_mut()
                .unwrap()
                .remove("new_eta");
            e["data"]["customer"]["tier"] = tier.map_or(Value::Null, Value::from);
        })
    };
    let cancelled_for = |reason: &str| {
        incident("order.cancelled", |e| {
            e["data"]["cancellation"]["reason"] = reason.into();
        })
    };
    // A delay told on 2026-11-10 with the date it gave (2026-11-25: one day late).
    let repeated = History {
        order_incidents: vec![told_delay("2026-11-10T10:00:00Z", Some("2026-11-25"))],
        ..History::default()
    };
    let told_unknown = History {
        order_incidents: vec![told_delay("2026-11-22T10:00:00Z", None)],
        ..History::default()
    };
    let after_stockout = History {
        order_incidents: vec![prior(IncidentType::Stockout, "2026-11-10T10:00:00Z", "0")],
        ..History::default()
    };
    let delivered = incident("order.delivered", |_| {});
    let none = History::default();
    let overdue = |tier: Option<&str>, update: bool| {
        incident("order.overdue", |e| {
            e["data"]["customer"]["tier"] = tier.map_or(Value::Null, Value::from);
            e["data"]["overdue"]["update"] = update.into();
        })
    };
    let overdue_told = History {
        order_incidents: vec![PriorIncident {
            event_type: IncidentType::Overdue,
            ..told_delay("2026-11-22T10:00:00Z", None)
        }],
        ..History::default()
    };
    let table: Vec<(&str, Incident, &History, &str)> = vec![
        (
            "delivered after a delay the customer heard of",
            delivered,
            &repeated,
            "delivered-follow-up",
        ),
        (
            "payment failed, even for a VIP",
            cancelled_for("payment"),
            &none,
            "payment-cancellation",
        ),
        (
            "fraud check",
            cancelled_for("fraud_check"),
            &none,
            "payment-cancellation",
        ),
        (
            "VIP, cancelled by us",
            cancelled(Some("vip"), "merchant"),
            &none,
            "vip-merchant-cancellation",
        ),
        (
            "cancelled by us",
            cancelled(None, "merchant"),
            &none,
            "merchant-cancellation",
        ),
        (
            "VIP who cancelled",
            cancelled(Some("vip"), "customer"),
            &none,
            "customer-cancellation",
        ),
        ("VIP stockout", stockout(Some("vip")), &none, "vip-stockout"),
        ("stockout", stockout(None), &none, "stockout"),
        (
            "a date at last, 5 days late",
            delay(5, None),
            &told_unknown,
            "delay-update-long",
        ),
        (
            "a date at last, 4 days late",
            delay(4, None),
            &told_unknown,
            "delay-update",
        ),
        (
            "the date moved again",
            delay(2, None),
            &repeated,
            "delay-update",
        ),
        (
            "no new date, VIP",
            unknown_eta(Some("vip")),
            &none,
            "delay-unknown-eta-vip-or-repeat",
        ),
        (
            "no new date, the order already went wrong",
            unknown_eta(None),
            &after_stockout,
            "delay-unknown-eta-vip-or-repeat",
        ),
        ("no new date", unknown_eta(None), &none, "delay-unknown-eta"),
        (
            "late again, the same date",
            delay(1, None),
            &repeated,
            "delay-repeated",
        ),
        (
            "VIP, 3 days: the VIP threshold",
            delay(3, Some("vip")),
            &none,
            "vip-delay-long",
        ),
        (
            "VIP, 2 days: under it",
            delay(2, Some("vip")),
            &none,
            "delay-medium",
        ),
        (
            "5 days: the long threshold",
            delay(5, None),
            &none,
            "delay-long",
        ),
        ("4 days: under it", delay(4, None), &none, "delay-medium"),
        (
            "2 days: the medium threshold",
            delay(2, None),
            &none,
            "delay-medium",
        ),
        ("1 day", delay(1, None), &none, "delay-short"),
        ("overdue in silence", overdue(None, false), &none, "overdue"),
        (
            "overdue in silence, a VIP",
            overdue(Some("vip"), false),
            &none,
            "overdue-vip-or-repeat",
        ),
        (
            "overdue in silence, late once already",
            overdue(None, false),
            &repeated,
            "overdue-vip-or-repeat",
        ),
        (
            "the update promised with the overdue apology",
            overdue(None, true),
            &overdue_told,
            "overdue-update",
        ),
        (
            "0 days (late, same date)",
            delay(0, None),
            &none,
            "delay-short",
        ),
    ];
    let mut hit = std::collections::BTreeSet::new();
    for (situation, incident, history, rule) in &table {
        let decision = policy.decide(incident, history, now());
        assert_eq!(decision.rule, *rule, "{situation}");
        assert_eq!(
            decision.explanation.rules.last().unwrap().outcome,
            "matched"
        );
        hit.insert(decision.rule);
    }
    for rule in policy.rules() {
        assert!(
            hit.contains(&rule.name),
            "rule {} is never hit by the table",
            rule.name
        );
    }
}

#[test]
fn offers_are_proportional_to_the_harm() {
    let policy = shipped();
    let short = policy.decide(&delay(1, None), &History::default(), now());
    assert!(
        short.plans[0].offers.is_empty(),
        "a one-day delay is an apology"
    );

    let long = policy.decide(&delay(6, None), &History::default(), now());
    let offer = &long.plans[0].offers[0];
    assert_eq!(offer.kind, OfferKind::PercentOff);
    // 10% of 129.90 is 12.99, under the 20.00 cap.
    assert_eq!(offer.cost, money("12.99"));
    assert_eq!(offer.amount, Some(money("20.00")));
    assert_eq!(offer.expires_at, Some(now() + chrono::Duration::days(90)));

    let vip = incident("order.cancelled", |_| {});
    let decision = policy.decide(&vip, &History::default(), now());
    let kinds: Vec<OfferKind> = decision.plans[0].offers.iter().map(|o| o.kind).collect();
    assert_eq!(
        kinds,
        [OfferKind::RefundConfirmation, OfferKind::GiftCertificate]
    );
    assert_eq!(
        decision.plans[0].escalation.as_deref(),
        Some("VIP order cancelled by us: call the customer personally")
    );
    // Over budget, the VIP still gets the refund confirmation and a person follows up.
    let fallback = &decision.plans[1];
    assert_eq!(fallback.label, "fallback");
    assert_eq!(fallback.offers.len(), 1);
    assert!(fallback.escalation.is_some());
}

#[test]
fn an_unknown_date_is_an_apology_and_for_a_vip_also_an_offer_and_a_person() {
    let unknown = |tier: Option<&str>| {
        incident("order.delayed", |e| {
            e["data"]["delay"]
                .as_object_mut()
                .unwrap()
                .remove("new_eta");
            e["data"]["customer"]["tier"] = tier.map_or(Value::Null, Value::from);
        })
    };
    let decision = shipped().decide(&unknown(None), &History::default(), now());
    assert_eq!(decision.rule, "delay-unknown-eta");
    assert!(decision.plans.iter().all(|p| p.offers.is_empty()));
    // The update rules would write again once the date is known: the apology may say so.
    assert!(decision.updates_promised);

    let decision = shipped().decide(&unknown(Some("vip")), &History::default(), now());
    assert_eq!(decision.rule, "delay-unknown-eta-vip-or-repeat");
    assert_eq!(decision.plans[0].offers[0].kind, OfferKind::AmountOff);
    assert_eq!(decision.plans[0].offers[0].cost, money("10.00"));
    assert!(decision.plans.iter().all(|p| p.escalation.is_some()));
}

#[test]
fn a_currency_the_policy_does_not_price_gets_no_costing_offer() {
    let sek = incident("order.delayed", |e| {
        e["data"]["order"]["currency"] = "SEK".into();
        e["data"]["order"]["items"][0]["unit_price"] = "129.90".into();
        e["data"]["delay"]["new_eta"] = "2026-12-05".into();
    });
    let decision = shipped().decide(&sek, &History::default(), now());
    assert!(decision.plans[0].offers.is_empty());
    assert!(
        decision.explanation.offers[0].contains("the policy gives no `max` in SEK"),
        "{:?}",
        decision.explanation.offers
    );
}

#[test]
fn the_budget_boundary_exactly_used_up() {
    let policy = shipped();
    let decision = policy.decide(&delay(6, None), &History::default(), now());
    let eur = Currency::parse("EUR").unwrap();
    // The per-customer cap is 60.00 EUR; the offer costs 12.99.
    let at_cap = History {
        compensation: "47.01".parse().unwrap(),
        ..History::default()
    };
    let settled = policy.settle_offline(&decision, &at_cap, eur);
    let plan = settled.plan;
    assert_eq!(plan.unwrap().label, "rule");
    let over = History {
        compensation: "47.02".parse().unwrap(),
        ..History::default()
    };
    let settled = policy.settle_offline(&decision, &over, eur);
    let (plan, lines) = (settled.plan, settled.lines);
    let plan = plan.unwrap();
    assert_eq!(plan.label, "fallback");
    assert_eq!(plan.offers[0].kind, OfferKind::FreeShipping);
    assert!(
        lines[0].contains("per-customer cap of 60.00 EUR"),
        "{lines:?}"
    );
    // Daily budget: 1500.00 EUR.
    let today_full = History {
        budget_spent_today: "1500.00".parse().unwrap(),
        ..History::default()
    };
    let settled = policy.settle_offline(&decision, &today_full, eur);
    let (plan, lines) = (settled.plan, settled.lines);
    assert_eq!(plan.unwrap().label, "apology only");
    assert_eq!(lines.len(), 2, "{lines:?}");
}

#[test]
fn a_settlement_is_the_same_plan_only_when_the_budgets_chose_the_same_plan() {
    let policy = shipped();
    let decision = policy.decide(&delay(6, None), &History::default(), now());
    let eur = Currency::parse("EUR").unwrap();
    let quiet_day = policy.settle_offline(&decision, &History::default(), eur);
    let spent_some = History {
        budget_spent_today: "100.00".parse().unwrap(),
        ..History::default()
    };
    // Other spending, other lines, the same plan.
    let busier = policy.settle_offline(&decision, &spent_some, eur);
    assert_ne!(quiet_day.lines, busier.lines);
    assert!(quiet_day.same_plan(&busier));
    let full = History {
        budget_spent_today: "1500.00".parse().unwrap(),
        ..History::default()
    };
    let spent_out = policy.settle_offline(&decision, &full, eur);
    assert!(!quiet_day.same_plan(&spent_out));
    assert!(!spent_out.same_plan(&quiet_day));
    assert!(spent_out.same_plan(&policy.settle_offline(&decision, &full, eur)));
    // A plan of another decision, equal as it may be, is not this settlement's.
    let other = policy.decide(&delay(6, None), &History::default(), now());
    assert!(!quiet_day.same_plan(&policy.settle_offline(&other, &History::default(), eur)));
}

#[test]
fn a_reservation_others_took_first_falls_back_and_declines_the_rule_s_offers() {
    let policy = shipped();
    let decision = policy.decide(&delay(6, None), &History::default(), now());
    let eur = Currency::parse("EUR").unwrap();
    let mut settlement = Settlement::new(&policy.settings().budget, &decision, eur, Decimal::ZERO);
    // The rule's 12.99 passes the per-customer cap, but the day filled up meanwhile.
    let Step::Reserve { cost, limit } = settlement.step() else {
        panic!("the rule's offer costs money")
    };
    assert_eq!(cost, money("12.99"));
    settlement.answer(Reservation::Refused { spent: limit });
    // The fallback (free shipping) costs money too, and this time the day has room.
    assert!(matches!(settlement.step(), Step::Reserve { .. }));
    settlement.answer(Reservation::Reserved {
        spent: Decimal::new(100, 0),
    });
    let Step::Done(settled) = settlement.step() else {
        panic!("settled after a reservation held")
    };
    assert_eq!(settled.plan.unwrap().label, "fallback");
    assert_eq!(settled.declined.len(), 1);
    assert!(
        settled.declined[0]
            .reason
            .contains("over the daily budget of 1500.00 EUR")
    );
    let reason = settled.fallback_reason.as_deref().unwrap();
    assert!(
        reason.starts_with("fallback: over the daily budget"),
        "{reason}"
    );
    assert!(
        settled.lines[1].contains("100 EUR spent before"),
        "{:?}",
        settled.lines
    );
    // Every code-issuing offer granted gets its own code.
    let mut rng = rand::rng();
    let granted = settled.grant(&policy.settings().codes, &mut rng);
    assert!(
        granted
            .iter()
            .all(|o| o.code.is_some() == o.kind.issues_code())
    );
}

#[test]
fn a_second_incident_within_the_window_is_coalesced_and_just_after_it_is_not() {
    let policy = shipped();
    // The customer was told the same date (a day late) as the new event brings.
    let within = History {
        order_incidents: vec![told_delay("2026-11-22T10:00:01Z", Some("2026-11-25"))],
        ..History::default()
    };
    let decision = policy.decide(&delay(1, None), &within, now());
    assert!(decision.coalesced.is_some());
    assert!(decision.channels.is_empty());
    assert!(decision.unreachable().is_none());

    let expired = History {
        order_incidents: vec![told_delay("2026-11-22T10:00:00Z", Some("2026-11-25"))],
        ..History::default()
    };
    let decision = policy.decide(&delay(1, None), &expired, now());
    assert!(decision.coalesced.is_none());
    assert_eq!(decision.rule, "delay-repeated");
}

#[test]
fn a_cancellation_after_a_delay_upgrades_and_accounts_for_what_was_given() {
    let policy = shipped();
    let history = History {
        order_incidents: vec![prior(
            IncidentType::Delayed,
            "2026-11-23T08:00:00Z",
            "12.99",
        )],
        ..History::default()
    };
    let cancelled = incident("order.cancelled", |e| {
        e["data"]["customer"]["tier"] = Value::Null;
    });
    let decision = policy.decide(&cancelled, &history, now());
    assert!(decision.coalesced.is_none());
    assert_eq!(decision.rule, "merchant-cancellation");
    assert!(
        decision.explanation.frequency.contains("upgrades"),
        "{}",
        decision.explanation.frequency
    );
    // The 10.00 gift certificate is worth less than the 12.99 already given: dropped; the
    // refund confirmation stays.
    let kinds: Vec<OfferKind> = decision.plans[0].offers.iter().map(|o| o.kind).collect();
    assert_eq!(kinds, [OfferKind::RefundConfirmation]);

    let vip = incident("order.cancelled", |_| {});
    let decision = policy.decide(&vip, &history, now());
    let gift = &decision.plans[0].offers[1];
    assert_eq!(gift.kind, OfferKind::GiftCertificate);
    assert_eq!(
        gift.amount,
        Some(money("12.01")),
        "25.00 minus the 12.99 given"
    );
}

#[test]
fn account_for_given_reduces_amounts_and_drops_what_is_covered() {
    let policy = shipped();
    let long = policy.decide(&delay(6, None), &History::default(), now());
    let percent = long.plans[0].offers[0].clone();
    let (kept, notes) = account_for_given(vec![percent.clone()], Decimal::new(1299, 2)).unwrap();
    assert!(kept.is_empty(), "{notes:?}");
    let (kept, _) = account_for_given(vec![percent], Decimal::new(500, 2)).unwrap();
    assert_eq!(kept.len(), 1);
}

#[test]
fn the_rules_next_usable_channel_is_held_in_reserve() {
    let policy = shipped();
    // The sample VIP delay: the rule lists email, then SMS, and the customer has both.
    let decision = policy.decide(&delay(6, None), &History::default(), now());
    assert_eq!(decision.channels, vec![Channel::Email, Channel::Sms]);
    assert!(
        decision.explanation.channels.contains(
            &"sms: held in reserve, sent only if email fails on every provider".to_owned()
        ),
        "{:?}",
        decision.explanation.channels
    );
    // Without SMS consent there is nothing to hold in reserve.
    let no_sms = incident("order.delayed", |e| {
        e["data"]["customer"]["consent"]["sms"] = false.into();
    });
    let decision = policy.decide(&no_sms, &History::default(), now());
    assert_eq!(decision.channels, vec![Channel::Email]);
}

#[test]
fn suppressed_channels_are_never_used_whatever_the_consent() {
    let policy = shipped();
    let cancelled = incident("order.cancelled", |_| {});
    let stopped = History {
        suppressed: vec![Channel::Sms],
        ..History::default()
    };
    let decision = policy.decide(&cancelled, &stopped, now());
    assert_eq!(decision.channels, vec![Channel::Email]);
    assert_eq!(
        decision.skipped,
        vec![(Channel::Sms, SkipReason::SmsSuppressed)]
    );
    let both = History {
        suppressed: vec![Channel::Email, Channel::Sms],
        ..History::default()
    };
    let decision = policy.decide(&cancelled, &both, now());
    assert!(decision.channels.is_empty());
    assert!(decision.unreachable().is_some());
}

#[test]
fn channels_fall_back_and_say_why() {
    let policy = shipped();
    let no_consent = incident("order.cancelled", |e| {
        e["data"]["customer"]["consent"]["sms"] = false.into();
    });
    let decision = policy.decide(&no_consent, &History::default(), now());
    assert_eq!(decision.rule, "vip-merchant-cancellation");
    assert_eq!(decision.channels, vec![Channel::Email]);
    assert_eq!(
        decision.skipped,
        vec![(Channel::Sms, SkipReason::NoSmsConsent)]
    );
    assert_eq!(
        decision.explanation.channels,
        [
            "sms: skipped, no SMS consent",
            "email: used (next in the rule's order)"
        ]
    );

    // A rule naming only email still reaches a customer who has only a phone.
    let text = "[budget]\n[[rule]]\nname = \"a\"\ntemplate = \"t\"\nchannels = [\"email\"]\n";
    let policy = Policy::parse(text).unwrap();
    let phone_only = incident("order.delayed", |e| {
        e["data"]["customer"]
            .as_object_mut()
            .unwrap()
            .remove("email");
        e["data"]["customer"]["consent"]["sms"] = true.into();
    });
    let decision = policy.decide(&phone_only, &History::default(), now());
    assert_eq!(decision.channels, vec![Channel::Sms]);

    let nobody = incident("order.delayed", |e| {
        let customer = e["data"]["customer"].as_object_mut().unwrap();
        customer.remove("email");
        customer.remove("phone");
    });
    let decision = policy.decide(&nobody, &History::default(), now());
    assert_eq!(
        decision.unreachable().unwrap(),
        "no usable channel: email: no email address; sms: no phone number"
    );

    // Nobody can be told of a code: none is issued, no budget is spent, a person still calls.
    let vip_nobody = incident("order.cancelled", |e| {
        let customer = e["data"]["customer"].as_object_mut().unwrap();
        customer.remove("email");
        customer.remove("phone");
    });
    let decision = shipped().decide(&vip_nobody, &History::default(), now());
    assert_eq!(decision.plans.len(), 1);
    let kinds: Vec<OfferKind> = decision.plans[0].offers.iter().map(|o| o.kind).collect();
    assert_eq!(kinds, [OfferKind::RefundConfirmation]);
    assert!(decision.plans[0].escalation.is_some());
}

#[test]
fn the_explanation_says_why_earlier_rules_did_not_match() {
    let decision = shipped().decide(&delay(1, None), &History::default(), now());
    let rules = &decision.explanation.rules;
    // A rule whose kind does not answer the incident is not even tried, and says why.
    assert_eq!(rules[0].rule, "delivered-follow-up");
    assert_eq!(rules[0].kind, "follow_up");
    assert_eq!(
        rules[0].outcome,
        "not tried: a follow_up rule answers order.shipped and order.delivered, not order.delayed"
    );
    let vip = rules
        .iter()
        .find(|r| r.rule == "vip-merchant-cancellation")
        .unwrap();
    assert_eq!(vip.outcome, "not matched");
    assert_eq!(vip.seen["incident.type"], "order.delayed");
    assert_eq!(vip.seen["customer.tier"], "");
    let text = decision.explanation.to_text();
    assert!(
        text.contains("✘ delivered-follow-up (line ") && text.contains(", follow_up): not tried"),
        "{text}"
    );
    assert!(text.contains("✔ delay-short"), "{text}");
    assert!(text.contains("saw incident.delay_days = 1"), "{text}");
}

#[test]
fn no_matching_rule_is_recorded_not_an_error() {
    let policy = Policy::parse(
        "[[rule]]\nname = \"a\"\nwhen = 'incident.type == \"order.cancelled\"'\ntemplate = \"t\"\nchannels = [\"email\"]\n",
    )
    .unwrap();
    let decision = policy.decide(&delay(1, None), &History::default(), now());
    assert_eq!(decision.rule, Decision::NO_RULE);
    assert_eq!(decision.unreachable().unwrap(), "no policy rule matched");
}

#[test]
fn delay_moves_send_at_and_the_version_is_the_content_hash() {
    let text =
        "[[rule]]\nname = \"a\"\ntemplate = \"t\"\nchannels = [\"email\"]\ndelay = \"10m\"\n";
    let policy = Policy::parse(text).unwrap();
    let decision = policy.decide(&delay(1, None), &History::default(), now());
    assert_eq!(decision.send_at, now() + chrono::Duration::minutes(10));
    assert_eq!(policy.version(), version_of(text));
    assert_eq!(policy.version().len(), 64);
    assert_ne!(
        Policy::parse(&format!("{text}\n")).unwrap().version(),
        policy.version()
    );
}

/// A rule around `when` and `extra` lines, at line 1.
fn rule(when: &str, extra: &str) -> String {
    format!(
        "[[rule]]\nname = \"r\"\nwhen = '{when}'\ntemplate = \"t\"\nchannels = [\"email\"]\n{extra}"
    )
}

#[test]
fn errors_name_the_line_the_rule_and_the_cause() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            rule("incident.type ==", ""),
            "line 3: rule \"r\": condition: ",
            "Syntax error",
        ),
        (
            rule("incident.dely_days > 3", ""),
            "line 3: rule \"r\": condition: ",
            "`incident` has no field `dely_days`",
        ),
        (
            rule("incidnt.type == \"x\"", ""),
            "line 3: ",
            "unknown variable `incidnt`",
        ),
        (
            rule("customer.tier > 3", ""),
            "line 3: ",
            "condition fails on a sample",
        ),
        (
            rule("incident.delay_days + 1", ""),
            "line 3: ",
            "not true or false",
        ),
        (
            rule(
                "true",
                "offers = [{ kind = \"percent_off\", percent = 150 }]\n",
            ),
            "line 6: rule \"r\": offer: ",
            "`percent` must be 1 to 100",
        ),
        (
            rule("true", "offers = [{ kind = \"amount_off\" }]\n"),
            "line 6: ",
            "amount_off needs `amount`",
        ),
        (
            rule(
                "true",
                "offers = [{ kind = \"amount_off\", amount = { EUR = \"1.234\" } }]\n",
            ),
            "line 6: ",
            "more decimal places",
        ),
        (
            rule("true", "offers = [{ kind = \"coupon\" }]\n"),
            "line 6: ",
            "unknown variant `coupon`",
        ),
        (
            rule("true", "fallback = \"sorry\"\n"),
            "line 6: rule \"r\": fallback: ",
            "is not a fallback",
        ),
        (
            rule("true", "escalate = 3\n"),
            "line 1: ",
            "escalate must be true or the reason",
        ),
        (
            "[codes]\nlength = 2\n".to_owned() + &rule("true", ""),
            "[codes]: ",
            "code length must be 6 to 32",
        ),
        (
            "[budget]\ndaily = { EUR = \"ten\" }\n".to_owned() + &rule("true", ""),
            "[budget] daily.EUR: ",
            "not a decimal amount",
        ),
        (
            rule(
                "true",
                "offers = [{ kind = \"gift_certificate\", amount = \"10000000000000.01\" }]\n",
            ),
            "line 6: ",
            "is too large (at most 10000000000000)",
        ),
        (
            "[budget]\nper_customer = { JPY = \"79228162514264337593543950335\" }\n".to_owned()
                + &rule("true", ""),
            "[budget] per_customer.JPY: ",
            "is too large (at most 10000000000000)",
        ),
        (
            "[frequency]\norder_window = \"soon\"\n".to_owned() + &rule("true", ""),
            "[frequency] order_window",
            "not a duration",
        ),
    ];
    for (text, prefix, cause) in cases {
        let err = Policy::parse(&text).unwrap_err();
        assert!(
            err.starts_with(prefix),
            "{err:?} should start with {prefix:?}\n{text}"
        );
        assert!(
            err.contains(cause),
            "{err:?} should contain {cause:?}\n{text}"
        );
    }
    let dup = format!("{}\n{}", rule("true", ""), rule("true", ""));
    assert_eq!(
        Policy::parse(&dup).unwrap_err(),
        "line 7: rule \"r\": duplicate rule name"
    );
}

#[test]
fn conditions_can_use_the_history_and_cel_macros() {
    let text = rule(
        "history.incidents >= 2 && customer.language == \"es\" && [\"ES\", \"MX\"].exists(c, c == customer.country)",
        "",
    );
    let policy = Policy::parse(&text).unwrap();
    let busy = History {
        incidents: 2,
        ..History::default()
    };
    assert_eq!(policy.decide(&delay(1, None), &busy, now()).rule, "r");
    assert_eq!(
        policy
            .decide(&delay(1, None), &History::default(), now())
            .rule,
        Decision::NO_RULE
    );
}

/// `incident` with its order total set to `total` yen, past the parser's bounds: what the
/// arithmetic must survive if a total ever got that far. (Yen have no minor units, so the
/// largest `Decimal` is an amount of them.)
fn with_total(mut incident: Incident, total: Decimal) -> Incident {
    incident.order.total = Money::new(total, Currency::parse("JPY").unwrap()).unwrap();
    incident
}

#[test]
fn a_total_too_large_for_a_percentage_is_an_error_not_a_panic() {
    let policy = shipped();
    // 79228162514264337593543950335, the largest Decimal: 10 % of it cannot be computed
    // exactly (the product overflows).
    let huge = with_total(delay(6, None), Decimal::MAX);
    let error = policy
        .try_decide(&huge, &History::default(), now())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "data.order.total: too large to compute an offer"
    );
    assert_eq!(error.field(), "data.order.total");
    // A preview leaves the offer out and says why, rather than failing.
    let decision = policy.decide(&huge, &History::default(), now());
    assert_eq!(decision.rule, "delay-long");
    assert!(decision.plans.iter().all(|p| p.offers.is_empty()));
    assert!(
        decision
            .explanation
            .offers
            .iter()
            .any(|line| line.contains("too large to compute an offer")),
        "{:?}",
        decision.explanation.offers
    );
    // The same for the VIP rule (15 %), and for the fallback's own offers.
    let vip = with_total(delay(6, Some("vip")), Decimal::MAX);
    assert!(policy.try_decide(&vip, &History::default(), now()).is_err());
}

#[test]
fn what_an_order_already_received_is_added_up_with_checks() {
    let policy = shipped();
    let huge = |given: &str| History {
        order_incidents: vec![
            prior(IncidentType::Delayed, "2026-11-01T10:00:00Z", given),
            prior(IncidentType::Delayed, "2026-11-02T10:00:00Z", given),
        ],
        ..History::default()
    };
    let max = Decimal::MAX.to_string();
    let error = policy
        .try_decide(&delay(6, None), &huge(&max), now())
        .unwrap_err();
    assert_eq!(error.field(), "history.order_incidents.given");
    // Large but addable: everything is covered, the costing offer is dropped, no error.
    let decision = policy
        .try_decide(&delay(6, None), &huge("1000000000.00"), now())
        .unwrap();
    assert!(decision.plans.iter().all(|p| p.offers.is_empty()));
}

#[test]
fn budget_checks_of_huge_histories_say_over_rather_than_panic() {
    let policy = shipped();
    let decision = policy
        .try_decide(&delay(6, None), &History::default(), now())
        .unwrap();
    let eur = Currency::parse("EUR").unwrap();
    let history = History {
        compensation: Decimal::MAX,
        budget_spent_today: Decimal::MAX,
        ..History::default()
    };
    let settled = policy.settle_offline(&decision, &history, eur);
    let (plan, lines) = (settled.plan, settled.lines);
    assert_eq!(plan.unwrap().label, "apology only");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("over the per-customer cap")),
        "{lines:?}"
    );
    let history = History {
        budget_spent_today: Decimal::MAX,
        ..History::default()
    };
    let settled = policy.settle_offline(&decision, &history, eur);
    let lines = settled.lines;
    assert!(lines[0].contains("over the daily budget"), "{lines:?}");
}

#[test]
fn rule_delays_are_at_most_a_year() {
    let rule = |delay: &str| {
        format!(
            "[[rule]]\nname = \"r\"\ntemplate = \"order-delayed\"\nchannels = [\"email\"]\ndelay = \"{delay}\"\n"
        )
    };
    assert!(Policy::parse(&rule("365days")).is_ok());
    let error = Policy::parse(&rule("300000years")).unwrap_err();
    assert!(
        error.ends_with(r#"delay "300000years" is longer than a year"#),
        "{error}"
    );
}

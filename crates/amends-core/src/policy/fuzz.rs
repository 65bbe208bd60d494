//! Property tests of the money arithmetic of offers and budgets: any amounts, percentages and
//! history, from zero to `Decimal::MAX`, give a result within its bounds or an error, never a
//! panic.

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use rust_decimal::{Decimal, RoundingStrategy};

use super::offer::{AmountsFile, OfferSpec};
use super::*;
use crate::incident::{Currency, Incident, Locale, Money, parse, sample};

/// Few cases each: the whole unit suite stays fast, and CI runs it on every change.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 200,
        ..ProptestConfig::default()
    }
}

fn now() -> DateTime<Utc> {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

/// A non-negative decimal anywhere in range: small amounts, amounts near the parser's bound,
/// and raw 96-bit mantissas up to `Decimal::MAX`, at any scale up to `max_scale`.
fn decimal(max_scale: u32) -> impl Strategy<Value = Decimal> + Clone {
    prop_oneof![
        (0i64..100_000_000, 0..=max_scale).prop_map(|(n, scale)| Decimal::new(n, scale)),
        (0i64..=i64::MAX, 0..=max_scale).prop_map(|(n, scale)| Decimal::new(n, scale)),
        (any::<u32>(), any::<u32>(), any::<u32>(), 0..=max_scale)
            .prop_map(|(lo, mid, hi, scale)| Decimal::from_parts(lo, mid, hi, false, scale)),
        Just(Decimal::MAX),
        Just(Decimal::ZERO),
    ]
}

/// Any decimal, negative ones too (percentages and history values are not all checked where
/// they are built).
fn signed_decimal() -> impl Strategy<Value = Decimal> {
    (decimal(28), any::<bool>()).prop_map(|(d, negative)| if negative { -d } else { d })
}

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(vec!["EUR", "JPY", "BHD", "IDR", "CLF"])
        .prop_map(|code| Currency::parse(code).unwrap())
}

/// An amount in `currency`: a decimal rounded to the currency's places.
fn money(currency: Currency) -> impl Strategy<Value = Money> {
    decimal(4).prop_map(move |d| {
        let d = d.round_dp_with_strategy(currency.minor_units(), RoundingStrategy::ToZero);
        Money::new(d, currency).unwrap_or_else(|_| Money::zero(currency))
    })
}

/// The sample incidents, parsed once: parsing is what would cost the time of a case.
static SAMPLES: LazyLock<Vec<Incident>> = LazyLock::new(|| {
    let en = Locale::parse("en").unwrap();
    crate::incident::SUPPORTED_TYPES
        .iter()
        .chain(crate::incident::OWN_TYPES.iter())
        .map(|t| parse(sample(t).unwrap().as_bytes(), None, &en).unwrap())
        .collect()
});

/// The sample of `event_type` with its total replaced.
fn incident(event_type: &str, total: Money) -> Incident {
    let mut incident = SAMPLES
        .iter()
        .find(|i| i.event_type.as_str() == event_type)
        .unwrap()
        .clone();
    incident.order.total = total;
    incident
}

/// Amounts as a policy may write them (one for every currency): what its parser accepts.
fn amounts() -> impl Strategy<Value = Amounts> + Clone {
    decimal(4).prop_filter_map("not a policy amount", |value| {
        Amounts::parse(&AmountsFile::Any(value.to_string())).ok()
    })
}

/// A percentage: as a policy allows (1 to 100), or any decimal at all.
fn percent() -> impl Strategy<Value = Decimal> {
    prop_oneof![(1u32..=100).prop_map(Decimal::from), signed_decimal()]
}

fn spec() -> impl Strategy<Value = OfferSpec> {
    let amount = amounts();
    prop_oneof![
        (percent(), prop::option::of(amount.clone())).prop_map(|(percent, max)| {
            OfferSpec::PercentOff {
                percent,
                max,
                expires_in: None,
            }
        }),
        amount.clone().prop_map(|amount| OfferSpec::AmountOff {
            amount,
            expires_in: Some(Duration::from_secs(u64::MAX)),
        }),
        amount
            .clone()
            .prop_map(|amount| OfferSpec::GiftCertificate {
                amount,
                expires_in: None,
            }),
        prop::option::of(amount).prop_map(|value| OfferSpec::FreeShipping {
            value,
            expires_in: None,
        }),
        (0usize..20).prop_map(|max| OfferSpec::Substitute { max }),
        Just(OfferSpec::RefundConfirmation),
    ]
}

/// An offer of `kind` costing `cost`.
fn offer(kind: OfferKind, cost: Money) -> Offer {
    Offer {
        kind,
        amount: Some(cost),
        percent: None,
        cost,
        expires_at: None,
        substitutes: Vec::new(),
        refund: None,
        code: None,
    }
}

fn offers(currency: Currency) -> impl Strategy<Value = Vec<Offer>> {
    let kind = prop::sample::select(vec![
        OfferKind::PercentOff,
        OfferKind::AmountOff,
        OfferKind::FreeShipping,
        OfferKind::GiftCertificate,
        OfferKind::Substitute,
    ]);
    prop::collection::vec(
        (kind, money(currency)).prop_map(|(kind, cost)| offer(kind, cost)),
        0..6,
    )
}

fn budget(currency: Currency) -> impl Strategy<Value = Budget> {
    (
        prop::option::of(signed_decimal()),
        prop::option::of(signed_decimal()),
    )
        .prop_map(move |(daily, per_customer)| Budget {
            daily: daily.map(|d| (currency, d)).into_iter().collect(),
            per_customer: per_customer.map(|d| (currency, d)).into_iter().collect(),
            ..Budget::default()
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn resolve_gives_an_offer_within_bounds_or_an_error(
        (currency, total) in currency().prop_flat_map(|c| (Just(c), money(c))),
        event_type in prop::sample::select(vec!["order.delayed", "order.stockout", "order.cancelled"]),
        spec in spec(),
    ) {
        let incident = incident(event_type, total);
        let resolved = spec.resolve(&incident, now(), Duration::from_secs(90 * 86_400));
        let offer = match resolved {
            Ok(Ok(offer)) => offer,
            // Does not apply, or cannot be computed: both are answers, not panics.
            Ok(Err(why)) => {
                prop_assert!(!why.is_empty());
                return Ok(());
            }
            Err(e) => {
                prop_assert_eq!(e.field(), "data.order.total");
                return Ok(());
            }
        };
        prop_assert_eq!(offer.kind, spec.kind());
        prop_assert_eq!(offer.cost.currency(), currency);
        prop_assert!(offer.cost.amount() >= Decimal::ZERO);
        match &spec {
            OfferSpec::PercentOff { percent, .. } => {
                if let Some(cap) = offer.amount {
                    prop_assert!(offer.cost.amount() <= cap.amount());
                }
                if (Decimal::ZERO..=Decimal::ONE_HUNDRED).contains(percent) {
                    prop_assert!(offer.cost.amount() <= total.amount());
                }
            }
            OfferSpec::AmountOff { .. } | OfferSpec::GiftCertificate { .. } => {
                prop_assert_eq!(Some(offer.cost), offer.amount);
            }
            OfferSpec::Substitute { .. } | OfferSpec::RefundConfirmation => {
                prop_assert!(offer.cost.amount().is_zero());
            }
            OfferSpec::FreeShipping { .. } => {}
        }
    }

    #[test]
    fn total_cost_is_the_exact_sum_or_an_error(
        (currency, offers) in currency().prop_flat_map(|c| (Just(c), offers(c))),
    ) {
        let exact = offers
            .iter()
            .try_fold(Decimal::ZERO, |sum, o| sum.checked_add(o.cost.amount()));
        match total_cost(&offers, currency) {
            Ok(total) => {
                prop_assert_eq!(Some(total.amount()), exact);
                prop_assert!(total.amount() >= Decimal::ZERO);
            }
            Err(e) => prop_assert_eq!(e.field(), "offers"),
        }
    }

    #[test]
    fn accounting_for_what_was_given_only_shrinks_offers(
        offers in currency().prop_flat_map(offers),
        given in signed_decimal(),
    ) {
        match account_for_given(offers.clone(), given) {
            Ok((kept, _notes)) => {
                prop_assert!(kept.len() <= offers.len());
                if given <= Decimal::ZERO {
                    prop_assert_eq!(&kept, &offers);
                }
                for offer in &kept {
                    prop_assert!(offer.cost.amount() >= Decimal::ZERO);
                    let before = offers
                        .iter()
                        .filter(|o| o.kind == offer.kind)
                        .map(|o| o.cost.amount())
                        .max()
                        .unwrap_or_default();
                    prop_assert!(offer.cost.amount() <= before);
                }
            }
            Err(e) => prop_assert_eq!(e.field(), "history.order_incidents.given"),
        }
    }

    #[test]
    fn budget_checks_allow_only_what_fits(
        (currency, cost) in currency().prop_flat_map(|c| (Just(c), money(c))),
        budget in currency().prop_flat_map(budget),
        given in signed_decimal(),
        spent in signed_decimal(),
    ) {
        let fits = |already: Decimal, limit: Decimal| {
            already
                .checked_add(cost.amount())
                .is_some_and(|total| total <= limit)
        };
        if budget.customer_allows(&cost, given).is_ok() {
            prop_assert!(fits(given, budget.per_customer[&currency]));
        }
        if budget.daily_allows(&cost, spent).is_ok() {
            prop_assert!(fits(spent, budget.daily[&currency]));
        }
        match budget.precheck(&cost, given) {
            Ok(None) => prop_assert!(cost.amount().is_zero()),
            Ok(Some(limit)) => prop_assert_eq!(Some(limit), budget.daily_limit(currency)),
            Err(why) => prop_assert!(!why.is_empty()),
        }
    }
}

/// The whole decision, strict and lenient, and the offline budget step, over any total and
/// history; a plain test so the policy is loaded once.
#[test]
fn decide_and_settle_any_total_and_history() {
    let policy = Policy::load(&crate::shipped("policy/default.toml")).unwrap();
    // Yen hold the largest totals (no minor units); the policy prices no offer in them, but a
    // percentage is computed before its cap is looked up.
    let currencies = vec![
        Currency::parse("EUR").unwrap(),
        Currency::parse("JPY").unwrap(),
    ];
    let strategy = (
        (prop::sample::select(currencies), decimal(2))
            .prop_filter_map("not an amount", |(c, d)| Money::new(d, c).ok()),
        prop::sample::select(vec!["order.delayed", "order.stockout", "order.cancelled"]),
        any::<bool>(),
        prop::collection::vec(signed_decimal(), 0..3),
        signed_decimal(),
        signed_decimal(),
    );
    // Each case evaluates every rule's condition twice: fewer cases, the arithmetic has its own.
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 64,
        ..config()
    });
    runner
        .run(
            &strategy,
            |(total, event_type, vip, given, compensation, spent)| {
                let mut incident = incident(event_type, total);
                incident.customer.tier = vip.then(|| "vip".to_owned());
                let history = History {
                    compensation,
                    budget_spent_today: spent,
                    order_incidents: given
                        .into_iter()
                        .map(|given| PriorIncident {
                            event_type: crate::incident::IncidentType::Delayed,
                            // Outside the order window: decided, not coalesced.
                            at: "2026-10-01T00:00:00Z".parse().unwrap(),
                            messaged: true,
                            given,
                            kind: crate::policy::RuleKind::Apology,
                            eta: None,
                            codes: Vec::new(),
                            id: None,
                            waiting: false,
                            occurred_at: None,
                        })
                        .collect(),
                    ..History::default()
                };
                let lenient = policy.decide(&incident, &history, now());
                match policy.try_decide(&incident, &history, now()) {
                    Ok(decision) => {
                        prop_assert_eq!(&decision, &lenient);
                        let currency = total.currency();
                        let settled = policy.settle_offline(&decision, &history, currency);
                        let plan = settled.plan;
                        if let Some(plan) = plan {
                            prop_assert!(plan.cost(currency).unwrap().amount() >= Decimal::ZERO);
                        }
                    }
                    Err(e) => prop_assert!(
                        [
                            "data.order.total",
                            "history.order_incidents.given",
                            "offers"
                        ]
                        .contains(&e.field()),
                        "{}",
                        e
                    ),
                }
                Ok(())
            },
        )
        .unwrap();
}

//! Property tests of [`parse`]: arbitrary bytes, the samples with bytes flipped, and the samples
//! with arbitrary values in every field. It never panics; every rejection is one line, and
//! every rejection of a well-formed CloudEvent names its field; every acceptance is within the
//! bounds the rest of amends relies on.

use chrono::Datelike;
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::*;

/// Few cases each (a debug build parses a few hundred events a second): the whole unit suite
/// stays fast.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn en() -> Locale {
    Locale::parse("en").unwrap()
}

fn sample_value(event_type: &str) -> Value {
    serde_json::from_str(sample(event_type).unwrap()).unwrap()
}

/// JSON pointers of every value in `value` (objects, arrays and leaves), root excluded.
fn pointers(value: &Value, at: &str, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => return,
    };
    for (key, child) in children {
        let pointer = format!("{at}/{key}");
        out.push(pointer.clone());
        pointers(child, &pointer, out);
    }
}

/// Strings that look like what a field holds, but are wrong in every way a sender gets wrong:
/// amounts, dates, codes, tags, contacts, and text of any kind.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "-?[0-9]{0,40}(\\.[0-9]{0,40})?",
        "[0-9]{1,30}([eE][+-]?[0-9]{1,3})?",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))?",
        "[A-Z]{3}",
        "[a-zA-Z]{1,8}([-_][a-zA-Z0-9]{1,8}){0,6}",
        "\\+[0-9 ().-]{0,40}",
        "[a-z0-9.+-]{0,20}@[a-z0-9.-]{0,20}",
        "https?://[a-z0-9.:@\\[\\]-]{0,30}/[ -~]{0,30}",
        "[A-Za-z]+/[A-Za-z_]+",
        prop::sample::select(vec![
            "79228162514264337593543950335",
            "-0.00",
            "10000000000000.00",
            "10000000000000.01",
            "9999-12-31",
            "0001-01-01",
            "0000-01-01T00:00:00Z",
            "2016-12-31T23:59:60Z",
            "+99999999999999999999",
            "und",
            "x-private",
            "Etc/GMT+14",
            "\u{0}",
            "\u{2028}",
        ])
        .prop_map(str::to_owned),
        (1usize..5000).prop_map(|n| "x".repeat(n)),
    ]
}

/// JSON numbers of every kind, many of them at the bounds.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-10i64..10_000_000_000).prop_map(Value::from),
        prop::sample::select(vec![
            0,
            1,
            data::QUANTITY_MAX,
            data::QUANTITY_MAX + 1,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ])
        .prop_map(Value::from),
        any::<f64>().prop_filter_map("not finite", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        prop::sample::select(vec![0.0, -0.0, 1e30, -1e30, 1.5, 1e308, 5e-324])
            .prop_filter_map("not finite", |f| serde_json::Number::from_f64(f)
                .map(Value::Number)),
    ]
}

/// Any JSON value, a few levels deep, with hostile strings and extreme numbers.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        hostile_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The leaves of the sample of `event_type` (strings, numbers, booleans), with their pointers.
fn leaves(event_type: &str) -> Vec<(String, Value)> {
    let event = sample_value(event_type);
    let mut all = Vec::new();
    pointers(&event, "", &mut all);
    all.into_iter()
        .filter_map(|p| {
            let value = event.pointer(&p)?;
            (!value.is_object() && !value.is_array()).then(|| (p, value.clone()))
        })
        .collect()
}

/// A sample, one of its fields, and a value for it: mostly of the field's own JSON type.
fn field_and_value() -> impl Strategy<Value = (&'static str, String, Value)> {
    prop::sample::select(SUPPORTED_TYPES.to_vec()).prop_flat_map(|event_type| {
        prop::sample::select(leaves(event_type)).prop_flat_map(move |(pointer, original)| {
            let value = match original {
                Value::Number(_) => prop_oneof![3 => number(), 1 => json()].boxed(),
                Value::String(_) => {
                    prop_oneof![3 => hostile_string().prop_map(Value::from), 1 => json()].boxed()
                }
                _ => json().boxed(),
            };
            (Just(event_type), Just(pointer), value)
        })
    })
}

/// A change to an event: a value set at, or removed from, one of its pointers.
#[derive(Debug, Clone)]
enum Mutation {
    Set(prop::sample::Index, Value),
    Remove(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<prop::sample::Index>(), json()).prop_map(|(at, v)| Mutation::Set(at, v)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Remove),
    ]
}

fn apply(event: &mut Value, mutation: &Mutation) {
    let mut all = Vec::new();
    pointers(event, "", &mut all);
    let (index, value) = match mutation {
        Mutation::Set(index, value) => (index, Some(value)),
        Mutation::Remove(index) => (index, None),
    };
    let pointer = index.get(&all);
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        return;
    };
    let Some(parent) = event.pointer_mut(parent) else {
        return;
    };
    match (parent, value) {
        (Value::Object(map), Some(value)) => {
            map.insert(key.to_owned(), value.clone());
        }
        (Value::Object(map), None) => {
            map.remove(key);
        }
        (Value::Array(items), value) => {
            if let Ok(i) = key.parse::<usize>()
                && i < items.len()
            {
                match value {
                    Some(value) => items[i] = value.clone(),
                    None => {
                        items.remove(i);
                    }
                }
            }
        }
        _ => {}
    }
}

/// What every accepted incident must satisfy: the bounds later arithmetic and storage rely on.
fn assert_within_bounds(incident: &Incident) -> Result<(), TestCaseError> {
    let max = Money::max_amount();
    let order = &incident.order;
    prop_assert!(order.total.amount() <= max);
    prop_assert!(order.items.len() <= data::ITEMS_MAX);
    for item in &order.items {
        prop_assert!((1..=data::QUANTITY_MAX).contains(&u64::from(item.quantity)));
        prop_assert!(item.unit_price.is_none_or(|p| p.amount() <= max));
    }
    let years = check::YEARS;
    if let Some(time) = incident.time {
        prop_assert!(years.contains(&time.year()));
    }
    match &incident.details {
        IncidentDetails::Delayed(delay) => {
            for eta in [Some(delay.original_eta), delay.new_eta]
                .into_iter()
                .flatten()
            {
                prop_assert!(years.contains(&eta.date_in(&TimeZone::UTC).year()));
            }
        }
        IncidentDetails::Stockout(stockout) => {
            prop_assert!(!stockout.items.is_empty() && stockout.items.len() <= data::ITEMS_MAX);
            prop_assert!(stockout.substitutes.len() <= data::SUBSTITUTES_MAX);
            for sub in &stockout.substitutes {
                prop_assert!(sub.price.is_none_or(|p| p.amount() <= max));
            }
        }
        IncidentDetails::Cancelled(cancellation) => {
            if let Some(refund) = &cancellation.refund {
                prop_assert!(refund.amount.amount() <= order.total.amount());
            }
        }
        IncidentDetails::Shipped(shipment) | IncidentDetails::Delivered(shipment) => {
            for at in [shipment.shipped_at, shipment.delivered_at]
                .into_iter()
                .flatten()
            {
                prop_assert!(years.contains(&at.year()));
            }
            if let Some(eta) = shipment.eta {
                prop_assert!(years.contains(&eta.date_in(&TimeZone::UTC).year()));
            }
            if let (Some(shipped), Some(delivered)) = (shipment.shipped_at, shipment.delivered_at) {
                prop_assert!(shipped <= delivered);
            }
            prop_assert!(
                shipment.delivered_at.is_none() || incident.event_type == IncidentType::Delivered
            );
        }
        IncidentDetails::Placed(promise) => {
            if let Some(eta) = promise.deliver_by {
                prop_assert!(years.contains(&eta.date_in(&TimeZone::UTC).year()));
            }
        }
        IncidentDetails::Overdue(overdue) => {
            prop_assert!(years.contains(&overdue.deliver_by.date_in(&TimeZone::UTC).year()));
            prop_assert!(years.contains(&overdue.overdue_since.year()));
            prop_assert!(overdue.summary.is_none() || overdue.held.is_some());
        }
    }
    Ok(())
}

/// One line, of a bounded length: it goes into a message header and a log line.
fn assert_one_line(error: &IncidentError) -> Result<(), TestCaseError> {
    let text = error.to_string();
    prop_assert!(
        !text.contains(['\n', '\r', '\u{2028}', '\u{2029}']),
        "{}",
        text
    );
    prop_assert!(text.chars().count() < 600, "{}", text);
    Ok(())
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn arbitrary_bytes_are_rejected_in_one_line(
        body in prop::collection::vec(any::<u8>(), 0..512),
        content_type in prop::option::of(prop::sample::select(vec![
            "application/json", "application/cloudevents+json", "text/plain", "",
        ])),
    ) {
        match parse(&body, content_type, &en()) {
            Ok(incident) => assert_within_bounds(&incident)?,
            Err(e) => assert_one_line(&e)?,
        }
    }

    #[test]
    fn samples_with_bytes_flipped_never_panic(
        event_type in prop::sample::select(SUPPORTED_TYPES.to_vec()),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut body = sample(event_type).unwrap().as_bytes().to_vec();
        for (at, byte) in flips {
            let i = at.index(body.len());
            body[i] = byte;
        }
        match parse(&body, None, &en()) {
            Ok(incident) => assert_within_bounds(&incident)?,
            Err(e) => assert_one_line(&e)?,
        }
    }

}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn any_value_in_any_one_field_is_named_or_accepted_within_bounds(
        (event_type, pointer, value) in field_and_value(),
    ) {
        let mut event = sample_value(event_type);
        if let Some(slot) = event.pointer_mut(&pointer) {
            *slot = value;
        }
        let body = serde_json::to_vec(&event).unwrap();
        match parse(&body, None, &en()) {
            Ok(incident) => assert_within_bounds(&incident)?,
            Err(e) => {
                assert_one_line(&e)?;
                let field = e.field().unwrap_or_default();
                prop_assert!(!field.is_empty(), "{}", e);
                prop_assert!(e.to_string().starts_with(&format!("{field}: ")), "{}", e);
            }
        }
    }

}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn samples_with_any_values_in_any_fields_name_the_field(
        event_type in prop::sample::select(SUPPORTED_TYPES.to_vec()),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut event = sample_value(event_type);
        for mutation in &mutations {
            apply(&mut event, mutation);
        }
        let body = serde_json::to_vec(&event).unwrap();
        match parse(&body, None, &en()) {
            Ok(incident) => assert_within_bounds(&incident)?,
            Err(e) => {
                assert_one_line(&e)?;
                // The body is a JSON object: whatever is wrong is in one of its fields.
                let field = e.field();
                prop_assert!(field.is_some_and(|f| !f.is_empty()), "{}", e);
                prop_assert!(
                    e.to_string().starts_with(&format!("{}: ", field.unwrap_or_default())),
                    "{}",
                    e
                );
            }
        }
    }
}

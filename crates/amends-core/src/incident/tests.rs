//! Tests of [`parse`] against the samples and mutations of them.

use serde_json::{Value, json};

use super::*;

const CE_JSON: Option<&str> = Some("application/cloudevents+json");

fn en() -> Locale {
    Locale::parse("en").unwrap()
}

fn sample_value(event_type: &str) -> Value {
    serde_json::from_str(sample(event_type).unwrap()).unwrap()
}

fn parse_value(event: &Value) -> Result<Incident, IncidentError> {
    parse(&serde_json::to_vec(event).unwrap(), CE_JSON, &en())
}

/// Parent object and last key of a JSON pointer such as `/data/order/id`.
fn parent<'a>(
    event: &'a mut Value,
    pointer: &'a str,
) -> (&'a mut serde_json::Map<String, Value>, &'a str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let object = event.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    (object, key)
}

/// The sample of `event_type` with `pointer` removed.
fn without(event_type: &str, pointer: &str) -> Value {
    let mut event = sample_value(event_type);
    let (object, key) = parent(&mut event, pointer);
    assert!(object.remove(key).is_some(), "{pointer} not in sample");
    event
}

/// The sample of `event_type` with `pointer` set to `value`.
fn with(event_type: &str, pointer: &str, value: Value) -> Value {
    let mut event = sample_value(event_type);
    let (object, key) = parent(&mut event, pointer);
    object.insert(key.to_owned(), value);
    event
}

fn err(event: &Value) -> IncidentError {
    parse_value(event).unwrap_err()
}

/// Asserts the error of `event` is at `field` and renders as exactly `message`.
#[track_caller]
fn assert_err(event: &Value, message: &str) {
    let error = err(event);
    assert_eq!(error.to_string(), message);
    let field = message.split_once(": ").unwrap().0;
    assert_eq!(error.field(), Some(field));
    assert!(!message.contains('\n'));
}

fn delayed() -> Incident {
    parse(sample("order.delayed").unwrap().as_bytes(), CE_JSON, &en()).unwrap()
}

#[test]
fn every_sample_parses() {
    let types: Vec<&str> = SUPPORTED_TYPES
        .iter()
        .chain(OWN_TYPES.iter())
        .copied()
        .collect();
    assert_eq!(types.len(), IncidentType::ALL.len());
    for (name, ty) in types.iter().zip(IncidentType::ALL) {
        assert_eq!(*name, ty.as_str());
        let body = sample(name).unwrap();
        let incident = parse(body.as_bytes(), CE_JSON, &en()).unwrap();
        assert_eq!(incident.event_type, *ty);
        assert_eq!(incident.details.event_type(), *ty);
        let source = if ty.is_own() {
            "urn:amends:watch"
        } else {
            "https://shop.example/orders"
        };
        assert_eq!(incident.key.source(), source);
        assert!(incident.time.is_some() && incident.subject.is_some());
        // The samples show every field: nothing optional is left empty.
        let order = &incident.order;
        assert!(order.number.is_some() && order.placed_at.is_some() && order.url.is_some());
        assert!(order.items.iter().all(|item| item.unit_price.is_some()));
        let c = &incident.customer;
        assert!(c.email.is_some() && c.phone.is_some() && c.tier.is_some());
        assert!(c.first_name.is_some() && c.last_name.is_some());
        assert_eq!(c.locale.as_str(), "es-ES");
        assert_eq!(c.timezone.as_str(), "Europe/Madrid");
        assert!(c.consent.email && c.consent.sms && !c.consent.marketing);
        // Serializable for the store and the admin API.
        let json = serde_json::to_value(&incident).unwrap();
        assert_eq!(json["event_type"], *name);
    }
    assert_eq!(sample("order.exploded"), None);
}

#[test]
fn delayed_sample_fields() {
    let incident = delayed();
    assert_eq!(incident.key.id(), "7f3c2a91-4b6e-4d2f-9a1c-0e5b8d6f2a10");
    assert_eq!(incident.subject.as_deref(), Some("A-10042"));
    assert_eq!(incident.order.id, "A-10042");
    assert_eq!(incident.order.total.to_string(), "129.90 EUR");
    assert_eq!(incident.order.items[0].quantity, 1);
    assert_eq!(incident.customer.last_name.as_deref(), Some("García"));
    let IncidentDetails::Delayed(delay) = &incident.details else {
        panic!("not a delay");
    };
    assert_eq!(delay.original_eta.to_string(), "2026-11-24");
    assert_eq!(
        delay.new_eta.map(|eta| eta.to_string()).as_deref(),
        Some("2026-11-29")
    );
    assert_eq!(delay.reason, DelayReason::Carrier);
    assert_eq!(delay.carrier.as_deref(), Some("DHL"));
    let json = serde_json::to_value(&incident).unwrap();
    assert_eq!(
        json["key"],
        json!({"source": "https://shop.example/orders", "id": incident.key.id()})
    );
    assert_eq!(
        json["order"]["total"],
        json!({"amount": "129.90", "currency": "EUR"})
    );
    assert_eq!(json["customer"]["email"], "ana@example.com");
    assert_eq!(json["details"]["delay"]["reason"], "carrier");
    assert_eq!(json["details"]["delay"]["new_eta"], "2026-11-29");
}

#[test]
fn stockout_and_cancellation_sample_fields() {
    let stockout = parse_value(&sample_value("order.stockout")).unwrap();
    let IncidentDetails::Stockout(s) = &stockout.details else {
        panic!("not a stockout");
    };
    assert_eq!(s.items.len(), 1);
    assert_eq!(s.action, StockoutAction::Backorder);
    assert_eq!(s.backorder_eta, Some(Eta::parse("2026-12-10").unwrap()));
    assert_eq!(s.substitutes.len(), 2);
    assert_eq!(s.substitutes[0].price.unwrap().to_string(), "119.90 EUR");
    assert_eq!(stockout.order.items.len(), 2);

    let cancelled = parse_value(&sample_value("order.cancelled")).unwrap();
    let IncidentDetails::Cancelled(c) = &cancelled.details else {
        panic!("not a cancellation");
    };
    assert_eq!(c.reason, CancellationReason::Stockout);
    assert_eq!(c.initiated_by, Initiator::Merchant);
    let refund = c.refund.as_ref().unwrap();
    assert_eq!(refund.amount.to_string(), "129.90 EUR");
    assert_eq!(refund.method, "original_payment");
}

#[test]
fn missing_required_fields_are_named() {
    let cases = [
        ("order.delayed", "/specversion", "specversion"),
        ("order.delayed", "/id", "id"),
        ("order.delayed", "/source", "source"),
        ("order.delayed", "/type", "type"),
        ("order.delayed", "/data", "data"),
        ("order.delayed", "/data/order", "data.order"),
        ("order.delayed", "/data/order/id", "data.order.id"),
        (
            "order.delayed",
            "/data/order/currency",
            "data.order.currency",
        ),
        ("order.delayed", "/data/order/total", "data.order.total"),
        ("order.delayed", "/data/customer", "data.customer"),
        ("order.delayed", "/data/customer/id", "data.customer.id"),
        ("order.delayed", "/data/delay", "data.delay"),
        (
            "order.delayed",
            "/data/delay/original_eta",
            "data.delay.original_eta",
        ),
        ("order.delayed", "/data/delay/reason", "data.delay.reason"),
        ("order.stockout", "/data/stockout", "data.stockout"),
        (
            "order.stockout",
            "/data/stockout/items",
            "data.stockout.items",
        ),
        (
            "order.stockout",
            "/data/stockout/action",
            "data.stockout.action",
        ),
        (
            "order.stockout",
            "/data/stockout/items/0/sku",
            "data.stockout.items[0].sku",
        ),
        (
            "order.stockout",
            "/data/stockout/items/0/name",
            "data.stockout.items[0].name",
        ),
        (
            "order.stockout",
            "/data/stockout/items/0/quantity",
            "data.stockout.items[0].quantity",
        ),
        (
            "order.stockout",
            "/data/stockout/substitutes/1/sku",
            "data.stockout.substitutes[1].sku",
        ),
        (
            "order.stockout",
            "/data/stockout/substitutes/1/name",
            "data.stockout.substitutes[1].name",
        ),
        (
            "order.stockout",
            "/data/order/items/1/sku",
            "data.order.items[1].sku",
        ),
        (
            "order.stockout",
            "/data/order/items/1/name",
            "data.order.items[1].name",
        ),
        (
            "order.stockout",
            "/data/order/items/1/quantity",
            "data.order.items[1].quantity",
        ),
        ("order.cancelled", "/data/cancellation", "data.cancellation"),
        (
            "order.cancelled",
            "/data/cancellation/reason",
            "data.cancellation.reason",
        ),
        (
            "order.cancelled",
            "/data/cancellation/initiated_by",
            "data.cancellation.initiated_by",
        ),
        (
            "order.cancelled",
            "/data/cancellation/refund/amount",
            "data.cancellation.refund.amount",
        ),
        (
            "order.cancelled",
            "/data/cancellation/refund/method",
            "data.cancellation.refund.method",
        ),
    ];
    for (event_type, pointer, field) in cases {
        let error = err(&without(event_type, pointer));
        assert_eq!(
            error.field(),
            Some(field),
            "{event_type} without {pointer}: {error}"
        );
        assert_eq!(error.to_string(), format!("{field}: missing"));
    }
    // `null` is the same as absent.
    assert_err(
        &with("order.delayed", "/data/order/id", Value::Null),
        "data.order.id: missing",
    );
    // data_base64 instead of data is named.
    let mut event = without("order.delayed", "/data");
    event["data_base64"] = json!("e30=");
    assert!(
        err(&event)
            .to_string()
            .starts_with("data: missing (data_base64")
    );
}

#[test]
fn optional_fields_may_be_absent() {
    let optional = [
        ("order.delayed", "/time"),
        ("order.delayed", "/subject"),
        ("order.delayed", "/datacontenttype"),
        ("order.delayed", "/data/order/number"),
        ("order.delayed", "/data/order/placed_at"),
        ("order.delayed", "/data/order/url"),
        ("order.delayed", "/data/order/items"),
        ("order.delayed", "/data/order/items/0/unit_price"),
        ("order.delayed", "/data/customer/email"),
        ("order.delayed", "/data/customer/phone"),
        ("order.delayed", "/data/customer/first_name"),
        ("order.delayed", "/data/customer/last_name"),
        ("order.delayed", "/data/customer/locale"),
        ("order.delayed", "/data/customer/timezone"),
        ("order.delayed", "/data/customer/tier"),
        ("order.delayed", "/data/customer/consent"),
        ("order.delayed", "/data/delay/new_eta"),
        ("order.delayed", "/data/delay/carrier"),
        ("order.delayed", "/data/delay/tracking_url"),
        ("order.stockout", "/data/stockout/backorder_eta"),
        ("order.stockout", "/data/stockout/substitutes"),
        ("order.stockout", "/data/stockout/substitutes/0/price"),
        ("order.stockout", "/data/stockout/substitutes/0/url"),
        ("order.cancelled", "/data/cancellation/refund"),
        ("order.cancelled", "/data/cancellation/refund/currency"),
    ];
    for (event_type, pointer) in optional {
        let result = parse_value(&without(event_type, pointer));
        assert!(
            result.is_ok(),
            "{event_type} without {pointer}: {}",
            result.unwrap_err()
        );
    }
}

#[test]
fn customer_without_any_contact_is_valid() {
    let mut event = sample_value("order.delayed");
    event["data"]["customer"] = json!({"id": "C-1"});
    let customer = parse_value(&event).unwrap().customer;
    assert!(customer.email.is_none() && customer.phone.is_none());
    assert_eq!(customer.locale, en());
    assert_eq!(customer.timezone, TimeZone::UTC);
    assert_eq!(customer.consent, Consent::default());
}

#[test]
fn consent_flags_default_one_by_one() {
    let consent = |value: Value| {
        parse_value(&with("order.delayed", "/data/customer/consent", value))
            .map(|incident| incident.customer.consent)
    };
    let flags = |c: Consent| (c.email, c.sms, c.marketing);
    assert_eq!(flags(consent(json!({})).unwrap()), (true, false, false));
    assert_eq!(
        flags(consent(json!({"sms": true})).unwrap()),
        (true, true, false)
    );
    assert_eq!(
        flags(consent(json!({"email": false})).unwrap()),
        (false, false, false)
    );
    assert_eq!(
        flags(consent(json!({"marketing": true})).unwrap()),
        (true, false, true)
    );
    assert_eq!(
        consent(json!({"marketing": "no"})).unwrap_err().to_string(),
        "data.customer.consent.marketing: expected a boolean"
    );
    assert_eq!(consent(Value::Null).unwrap(), Consent::default());
    assert_eq!(
        consent(json!({"sms": "yes"})).unwrap_err().to_string(),
        "data.customer.consent.sms: expected a boolean"
    );
    assert_eq!(
        consent(json!(true)).unwrap_err().to_string(),
        "data.customer.consent: expected an object"
    );
}

#[test]
fn locale_defaults_and_normalizes() {
    let default = Locale::parse("es-MX").unwrap();
    let body = serde_json::to_vec(&without("order.delayed", "/data/customer/locale")).unwrap();
    let incident = parse(&body, None, &default).unwrap();
    assert_eq!(incident.customer.locale.as_str(), "es-MX");
    let incident = parse_value(&with(
        "order.delayed",
        "/data/customer/locale",
        json!("pt_br"),
    ))
    .unwrap();
    assert_eq!(incident.customer.locale.as_str(), "pt-BR");
}

#[test]
fn content_types_and_json() {
    let body = sample("order.delayed").unwrap().as_bytes();
    for ok in [
        None,
        Some("application/cloudevents+json"),
        Some("application/cloudevents+json; charset=utf-8"),
        Some("application/json"),
    ] {
        assert!(parse(body, ok, &en()).is_ok(), "{ok:?}");
    }
    let error = parse(body, Some("text/plain"), &en()).unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"content type "text/plain" is not a CloudEvents JSON type"#
    );
    assert_eq!(error.field(), None);

    let error = parse(b"not json", None, &en()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "body is not valid JSON: expected ident at line 1 column 2"
    );
    let error = parse(b"", None, &en()).unwrap_err();
    assert!(error.to_string().starts_with("body is not valid JSON: "));
    let error = parse(b"[1]", None, &en()).unwrap_err();
    assert_eq!(error, IncidentError::NotAnObject);
    let error = parse(b"\xff", None, &en()).unwrap_err();
    assert!(matches!(error, IncidentError::Json(_)));
}

#[test]
fn envelope_attributes() {
    let ev = "order.delayed";
    assert_err(
        &with(ev, "/specversion", json!("0.3")),
        r#"specversion: must be "1.0", got "0.3""#,
    );
    assert_err(
        &with(ev, "/specversion", json!(1.0)),
        "specversion: expected a string",
    );
    assert_err(&with(ev, "/id", json!("")), "id: must not be empty");
    assert_err(&with(ev, "/id", json!(42)), "id: expected a string");
    assert_err(
        &with(ev, "/id", json!("a\r\nb")),
        "id: must not contain control characters (such as CR or LF)",
    );
    assert_err(&with(ev, "/source", json!("")), "source: must not be empty");
    assert_err(
        &with(ev, "/source", json!("not a uri")),
        r#"source: "not a uri" is not a URI reference"#,
    );
    assert!(parse_value(&with(ev, "/source", json!("/orders"))).is_ok());
    assert!(parse_value(&with(ev, "/source", json!("urn:shop:orders"))).is_ok());
    assert_err(
        &with(ev, "/type", json!("order.exploded")),
        r#"type: unsupported event type "order.exploded""#,
    );
    assert!(matches!(
        err(&with(ev, "/type", json!("order.exploded"))),
        IncidentError::UnsupportedType(t) if t == "order.exploded"
    ));
    assert_err(
        &with(ev, "/type", json!(["order.delayed"])),
        "type: expected a string",
    );
    assert_err(
        &with(ev, "/time", json!("yesterday")),
        r#"time: "yesterday" is not an RFC 3339 date-time"#,
    );
    assert_err(
        &with(ev, "/subject", json!("")),
        "subject: must not be empty",
    );
    assert_err(
        &with(ev, "/datacontenttype", json!("text/xml")),
        r#"datacontenttype: "text/xml" is not a JSON media type"#,
    );
    assert!(
        parse_value(&with(
            ev,
            "/datacontenttype",
            json!("application/json; charset=utf-8")
        ))
        .is_ok()
    );
    assert_err(&with(ev, "/data", json!("{}")), "data: expected an object");
    assert_err(
        &with(ev, "/data/order", json!([])),
        "data.order: expected an object",
    );
    // Time zones in `time` are converted to UTC.
    let incident = parse_value(&with(ev, "/time", json!("2026-11-23T09:12:45+01:00"))).unwrap();
    assert_eq!(
        incident.time.unwrap().to_rfc3339(),
        "2026-11-23T08:12:45+00:00"
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let mut event = sample_value("order.stockout");
    event["traceparent"] = json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    event["data"]["order"]["channel"] = json!("web");
    event["data"]["customer"]["loyalty_points"] = json!(1200);
    event["data"]["stockout"]["items"][0]["warehouse"] = json!("MAD-1");
    event["data"]["delay"] = json!("ignored: not this type's object");
    assert!(parse_value(&event).is_ok());
}

#[test]
fn wrong_json_types_name_the_field() {
    let ev = "order.delayed";
    assert_err(
        &with(ev, "/data/order/id", json!(10042)),
        "data.order.id: expected a string",
    );
    assert_err(
        &with(ev, "/data/order/items/0/quantity", json!("1")),
        "data.order.items[0].quantity: expected a positive integer",
    );
    for bad in [json!(0), json!(-1), json!(1.5), json!(1.0), json!(-1e30)] {
        assert_err(
            &with(ev, "/data/order/items/0/quantity", bad),
            "data.order.items[0].quantity: expected a positive integer",
        );
    }
    assert_err(
        &with(ev, "/data/order/items", json!({})),
        "data.order.items: expected an array",
    );
    assert_err(
        &with(ev, "/data/order/items", json!([1])),
        "data.order.items[0]: expected an object",
    );
    assert_err(
        &with(ev, "/data/customer", json!("C-77")),
        "data.customer: expected an object",
    );
    assert_err(
        &with(ev, "/data/customer/email", json!(["ana@example.com"])),
        "data.customer.email: expected a string",
    );
    assert_err(
        &with(ev, "/data/delay/reason", json!("meteor")),
        r#"data.delay.reason: "meteor" is not one of carrier, weather, supplier, warehouse, other"#,
    );
    assert_err(
        &with("order.stockout", "/data/stockout/action", json!("wait")),
        r#"data.stockout.action: "wait" is not one of backorder, partial_ship, cancel_items"#,
    );
    assert_err(
        &with("order.stockout", "/data/stockout/items", json!([])),
        "data.stockout.items: must not be empty",
    );
    assert_err(
        &with(
            "order.cancelled",
            "/data/cancellation/initiated_by",
            json!("Merchant"),
        ),
        r#"data.cancellation.initiated_by: "Merchant" is not one of merchant, customer"#,
    );
    assert_err(
        &with(
            "order.cancelled",
            "/data/cancellation/reason",
            json!("bored"),
        ),
        r#"data.cancellation.reason: "bored" is not one of stockout, payment, fraud_check, customer_request, pricing_error, other"#,
    );
    assert_err(
        &with(ev, "/data/order/url", json!("javascript:alert(1)")),
        r#"data.order.url: "javascript:alert(1)" is not an http(s) URL"#,
    );
    assert_err(
        &with(ev, "/data/delay/tracking_url", json!("dhl.com/track")),
        r#"data.delay.tracking_url: "dhl.com/track" is not an http(s) URL"#,
    );
}

#[test]
fn bad_money() {
    let ev = "order.delayed";
    assert_err(
        &with(ev, "/data/order/total", json!("12,5")),
        r#"data.order.total: "12,5" is not a decimal amount"#,
    );
    assert_err(
        &with(ev, "/data/order/total", json!(129.9)),
        "data.order.total: must be a decimal string, not a number",
    );
    assert_err(
        &with(ev, "/data/order/total", json!(129)),
        "data.order.total: must be a decimal string, not a number",
    );
    assert_err(
        &with(ev, "/data/order/total", json!("-1.00")),
        r#"data.order.total: "-1.00" must not be negative"#,
    );
    assert_err(
        &with(ev, "/data/order/total", json!("129.901")),
        r#"data.order.total: "129.901" has more decimal places than EUR allows (2)"#,
    );
    assert_err(
        &with(ev, "/data/order/currency", json!("EURO")),
        r#"data.order.currency: "EURO" is not an ISO 4217 currency code"#,
    );
    assert_err(
        &with(ev, "/data/order/currency", json!("eur")),
        r#"data.order.currency: "eur" is not an ISO 4217 currency code"#,
    );
    assert_err(
        &with(ev, "/data/order/items/0/unit_price", json!(129.9)),
        "data.order.items[0].unit_price: must be a decimal string, not a number",
    );
    assert_err(
        &with(
            "order.stockout",
            "/data/stockout/substitutes/1/price",
            json!("1.999"),
        ),
        r#"data.stockout.substitutes[1].price: "1.999" has more decimal places than EUR allows (2)"#,
    );
    // Currency drives the decimals: JPY has none.
    let mut event = sample_value(ev);
    event["data"]["order"]["currency"] = json!("JPY");
    event["data"]["order"]["total"] = json!("15000");
    event["data"]["order"]["items"][0]["unit_price"] = json!("15000");
    assert_eq!(
        parse_value(&event).unwrap().order.total.to_string(),
        "15000 JPY"
    );
    event["data"]["order"]["total"] = json!("150.00");
    assert_err(
        &event,
        r#"data.order.total: "150.00" has more decimal places than JPY allows (0)"#,
    );
}

#[test]
fn refunds_follow_the_order() {
    let ev = "order.cancelled";
    assert_err(
        &with(ev, "/data/cancellation/refund/currency", json!("USD")),
        r#"data.cancellation.refund.currency: "USD" differs from the order currency "EUR""#,
    );
    assert_err(
        &with(ev, "/data/cancellation/refund/amount", json!("200.00")),
        "data.cancellation.refund.amount: 200.00 exceeds the order total 129.90",
    );
    assert_err(
        &with(ev, "/data/cancellation/refund/amount", json!(129.9)),
        "data.cancellation.refund.amount: must be a decimal string, not a number",
    );
    let incident = parse_value(&with(ev, "/data/cancellation/refund/amount", json!("20"))).unwrap();
    let IncidentDetails::Cancelled(c) = incident.details else {
        panic!("not a cancellation");
    };
    assert_eq!(c.refund.unwrap().amount.to_string(), "20.00 EUR");
}

#[test]
fn bad_contacts_and_preferences() {
    let ev = "order.delayed";
    assert_err(
        &with(ev, "/data/customer/phone", json!("600111222")),
        r#"data.customer.phone: "6*****222" is not an E.164 number (+ and country code)"#,
    );
    assert_err(
        &with(ev, "/data/customer/phone", json!("+34 12")),
        r#"data.customer.phone: "+** 12" is not a valid phone number"#,
    );
    assert_err(
        &with(ev, "/data/customer/phone", json!(34600111222u64)),
        "data.customer.phone: expected a string",
    );
    assert_err(
        &with(ev, "/data/customer/email", json!("ana@")),
        r#"data.customer.email: "****" is not a valid email address"#,
    );
    assert_err(
        &with(ev, "/data/customer/locale", json!("??")),
        r#"data.customer.locale: "??" is not a BCP 47 language tag"#,
    );
    assert_err(
        &with(ev, "/data/customer/timezone", json!("Europe/Atlantis")),
        r#"data.customer.timezone: "Europe/Atlantis" is not an IANA time zone name"#,
    );
    let phone = parse_value(&with(ev, "/data/customer/phone", json!("+34 600 111 222")))
        .unwrap()
        .customer
        .phone
        .unwrap();
    assert_eq!(phone.as_str(), "+34600111222");
}

#[test]
fn bad_dates() {
    let ev = "order.delayed";
    assert_err(
        &with(ev, "/data/delay/new_eta", json!("2026-13-01")),
        r#"data.delay.new_eta: "2026-13-01" is not an RFC 3339 date or date-time"#,
    );
    assert_err(
        &with(ev, "/data/delay/original_eta", json!("next week")),
        r#"data.delay.original_eta: "next week" is not an RFC 3339 date or date-time"#,
    );
    assert_err(
        &with(ev, "/data/order/placed_at", json!("2026-11-20")),
        r#"data.order.placed_at: "2026-11-20" is not an RFC 3339 date-time"#,
    );
    assert_err(
        &with(
            "order.stockout",
            "/data/stockout/backorder_eta",
            json!("2026-02-30"),
        ),
        r#"data.stockout.backorder_eta: "2026-02-30" is not an RFC 3339 date or date-time"#,
    );
    let incident = parse_value(&with(
        ev,
        "/data/delay/new_eta",
        json!("2026-11-29T18:00:00+01:00"),
    ))
    .unwrap();
    let IncidentDetails::Delayed(delay) = incident.details else {
        panic!("not a delay");
    };
    let new_eta = delay.new_eta.unwrap();
    assert_eq!(new_eta.to_string(), "2026-11-29T17:00:00Z");
    assert_eq!(
        new_eta.date_in(&incident.customer.timezone).to_string(),
        "2026-11-29"
    );
}

#[test]
fn names_are_folded_to_one_line_and_header_safe() {
    let ev = "order.delayed";
    let incident = parse_value(&with(
        ev,
        "/data/customer/first_name",
        json!("Ana\r\nBcc: all@example.com"),
    ))
    .unwrap();
    assert_eq!(
        incident.customer.first_name.as_deref(),
        Some("Ana Bcc: all@example.com")
    );
    let incident = parse_value(&with(ev, "/data/customer/last_name", json!("García\n"))).unwrap();
    assert_eq!(incident.customer.last_name.as_deref(), Some("García"));
    let incident =
        parse_value(&with(ev, "/data/order/items/0/name", json!("Trail\tshoe"))).unwrap();
    assert_eq!(incident.order.items[0].name, "Trail shoe");
    assert_err(
        &with(ev, "/data/customer/first_name", json!("  ")),
        "data.customer.first_name: must not be empty",
    );
    assert_err(
        &with(ev, "/data/customer/first_name", json!("\r\n")),
        "data.customer.first_name: must not be empty",
    );
    assert_err(
        &with(ev, "/data/customer/first_name", json!("x".repeat(201))),
        "data.customer.first_name: must be at most 200 characters",
    );
    // Identifiers are kept verbatim, so they must already be clean.
    assert_err(
        &with(ev, "/data/order/id", json!("A-1\n")),
        "data.order.id: must not contain control characters (such as CR or LF)",
    );
    assert_err(
        &with(ev, "/data/customer/id", json!("x".repeat(201))),
        "data.customer.id: must be at most 200 characters",
    );
    let incident = parse_value(&with(ev, "/data/customer/first_name", json!("  Ana  "))).unwrap();
    assert_eq!(incident.customer.first_name.as_deref(), Some("Ana"));
}

#[test]
fn debug_masks_personal_data() {
    let incident = delayed();
    let debug = format!("{incident:?}");
    for secret in [
        "ana@example.com",
        "600111222",
        "111222",
        "García",
        "\"Ana\"",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    for shown in [
        "a***@example.com",
        "+34******222",
        "A***",
        "G***",
        "A-10042",
        "C-77",
    ] {
        assert!(debug.contains(shown), "{shown} missing: {debug}");
    }
    let customer = format!("{:?}", incident.customer);
    assert!(customer.starts_with("Customer { id: \"C-77\", email: Some(a***@example.com)"));
}

#[test]
fn errors_are_one_line_even_for_hostile_values() {
    let event = with(
        "order.delayed",
        "/data/customer/email",
        json!("a@b.c\r\nX-Evil: 1"),
    );
    let message = err(&event).to_string();
    assert!(
        !message.contains('\n') && !message.contains('\r'),
        "{message}"
    );
    let event = with(
        "order.delayed",
        "/type",
        json!(format!("x\n{}", "y".repeat(500))),
    );
    let message = err(&event).to_string();
    assert!(!message.contains('\n') && message.len() < 120, "{message}");
}

#[test]
fn amounts_quantities_and_lists_have_bounds() {
    let ev = "order.delayed";
    let huge = "79228162514264337593543950335";
    assert_err(
        &with(ev, "/data/order/total", json!(huge)),
        r#"data.order.total: "79228162514264337593543950335" is too large (at most 10000000000000.00)"#,
    );
    assert_err(
        &with(
            ev,
            "/data/order/items/0/unit_price",
            json!("10000000000000.01"),
        ),
        r#"data.order.items[0].unit_price: "10000000000000.01" is too large (at most 10000000000000.00)"#,
    );
    assert_err(
        &with(
            "order.stockout",
            "/data/stockout/substitutes/0/price",
            json!(huge),
        ),
        r#"data.stockout.substitutes[0].price: "79228162514264337593543950335" is too large (at most 10000000000000.00)"#,
    );
    assert_err(
        &with(
            "order.cancelled",
            "/data/cancellation/refund/amount",
            json!(huge),
        ),
        r#"data.cancellation.refund.amount: "79228162514264337593543950335" is too large (at most 10000000000000.00)"#,
    );
    // The bound itself is an amount like any other.
    let mut event = with(ev, "/data/order/total", json!("10000000000000.00"));
    event["data"]["order"]["items"][0]["unit_price"] = json!("10000000000000");
    assert_eq!(
        parse_value(&event).unwrap().order.total.to_string(),
        "10000000000000.00 EUR"
    );
    let quantity = "/data/order/items/0/quantity";
    assert!(parse_value(&with(ev, quantity, json!(1_000_000))).is_ok());
    for (bad, shown) in [
        (json!(1_000_001), "1000001"),
        (json!(5_000_000_000u64), "5000000000"),
        (json!(u64::MAX), "18446744073709551615"),
        (json!(1e30), "1e+30"),
    ] {
        assert_err(
            &with(ev, quantity, bad),
            &format!("data.order.items[0].quantity: {shown} is too large (at most 1000000)"),
        );
    }
    // Past u64, serde_json reads the integer as a float: still too large, not malformed.
    let body = serde_json::to_string(&with(ev, quantity, json!(7)))
        .unwrap()
        .replace(r#""quantity":7"#, r#""quantity":18446744073709551616"#);
    assert_eq!(
        parse(body.as_bytes(), CE_JSON, &en())
            .unwrap_err()
            .to_string(),
        "data.order.items[0].quantity: 1.8446744073709552e+19 is too large (at most 1000000)"
    );
    let line = json!({"sku": "SKU-1", "name": "Trail shoe", "quantity": 1});
    assert!(
        parse_value(&with(
            ev,
            "/data/order/items",
            json!(vec![line.clone(); 1000])
        ))
        .is_ok()
    );
    assert_err(
        &with(ev, "/data/order/items", json!(vec![line.clone(); 1001])),
        "data.order.items: must have at most 1000 entries, not 1001",
    );
    assert_err(
        &with(
            "order.stockout",
            "/data/stockout/items",
            json!(vec![line.clone(); 1001]),
        ),
        "data.stockout.items: must have at most 1000 entries, not 1001",
    );
    let substitute = json!({"sku": "SKU-9", "name": "Trail shoe II"});
    assert_err(
        &with(
            "order.stockout",
            "/data/stockout/substitutes",
            json!(vec![substitute; 101]),
        ),
        "data.stockout.substitutes: must have at most 100 entries, not 101",
    );
    // No items at all is an order the event says nothing more about.
    let incident = parse_value(&with(ev, "/data/order/items", json!([]))).unwrap();
    assert!(incident.order.items.is_empty());
}

#[test]
fn amounts_in_currencies_with_large_nominal_values() {
    for (currency, total) in [
        ("JPY", "2500000"),
        ("KRW", "35000000"),
        ("IDR", "1500000000.00"),
        ("VND", "9000000000"),
        ("IRR", "400000000000.00"),
    ] {
        let mut event = sample_value("order.delayed");
        event["data"]["order"]["currency"] = json!(currency);
        event["data"]["order"]["total"] = json!(total);
        event["data"]["order"]["items"][0]["unit_price"] = json!(total);
        let incident = parse_value(&event).unwrap();
        assert_eq!(
            incident.order.total.to_string(),
            format!("{total} {currency}")
        );
    }
}

#[test]
fn negative_zero_and_a_zero_refund_are_zero() {
    let incident = parse_value(&with(
        "order.cancelled",
        "/data/cancellation/refund/amount",
        json!("-0.00"),
    ))
    .unwrap();
    let IncidentDetails::Cancelled(c) = incident.details else {
        panic!("not a cancellation");
    };
    assert_eq!(c.refund.unwrap().amount.to_string(), "0.00 EUR");
    let incident =
        parse_value(&with("order.delayed", "/data/order/total", json!("-0.00"))).unwrap();
    assert_eq!(incident.order.total.to_string(), "0.00 EUR");
}

#[test]
fn placeholder_dates_are_refused() {
    let ev = "order.delayed";
    for (pointer, value, field) in [
        ("/data/delay/new_eta", "9999-12-31", "data.delay.new_eta"),
        (
            "/data/delay/original_eta",
            "0001-01-01",
            "data.delay.original_eta",
        ),
        ("/time", "0001-01-01T00:00:00Z", "time"),
        (
            "/data/order/placed_at",
            "9999-12-31T23:59:59Z",
            "data.order.placed_at",
        ),
        (
            "/data/order/placed_at",
            "1970-01-01T00:00:00Z",
            "data.order.placed_at",
        ),
    ] {
        assert_err(
            &with(ev, pointer, json!(value)),
            &format!("{field}: \"{value}\" is not in the years 2000 to 2199"),
        );
    }
    assert_err(
        &with(
            "order.stockout",
            "/data/stockout/backorder_eta",
            json!("9999-12-31"),
        ),
        r#"data.stockout.backorder_eta: "9999-12-31" is not in the years 2000 to 2199"#,
    );
    // A leap second is a real instant.
    assert!(parse_value(&with(ev, "/time", json!("2016-12-31T23:59:60Z"))).is_ok());
}

#[test]
fn long_strings_are_refused_by_their_field() {
    let ev = "order.delayed";
    let long = "x".repeat(5_000);
    for (pointer, field) in [
        ("/id", "id"),
        ("/data/order/id", "data.order.id"),
        ("/data/order/number", "data.order.number"),
        ("/data/customer/id", "data.customer.id"),
        ("/data/customer/first_name", "data.customer.first_name"),
        ("/data/order/items/0/name", "data.order.items[0].name"),
        ("/data/delay/carrier", "data.delay.carrier"),
        ("/data/customer/tier", "data.customer.tier"),
    ] {
        assert_err(
            &with(ev, pointer, json!(long)),
            &format!("{field}: must be at most 200 characters"),
        );
    }
    assert_err(
        &with(ev, "/source", json!(format!("urn:{long}"))),
        "source: must be at most 2048 characters",
    );
    assert_err(
        &with(
            ev,
            "/data/order/url",
            json!(format!("https://shop.example/{long}")),
        ),
        "data.order.url: must be at most 2048 characters",
    );
    let error = err(&with(
        ev,
        "/data/customer/locale",
        json!(format!("en-{long}")),
    ));
    assert_eq!(error.field(), Some("data.customer.locale"));
    assert!(
        error
            .to_string()
            .ends_with("is too long for a language tag (at most 100 characters)")
    );
    // Many distinct variants: refused by length before they are compared pairwise.
    let variants: Vec<String> = (0..2_000).map(|i| format!("v{i:07}")).collect();
    let error = err(&with(
        ev,
        "/data/customer/locale",
        json!(format!("en-{}", variants.join("-"))),
    ));
    assert!(error.to_string().contains("too long for a language tag"));
    let error = err(&with(
        ev,
        "/data/customer/phone",
        json!(format!("+34{}", "6".repeat(1000))),
    ));
    assert!(
        error
            .to_string()
            .ends_with("is too long for a phone number (at most 64 characters)")
    );
    let error = err(&with(
        ev,
        "/data/customer/email",
        json!(format!("{long}@example.com")),
    ));
    assert!(
        error.to_string().ends_with("is not a valid email address"),
        "{error}"
    );
    assert!(error.to_string().len() < 200, "{error}");
}

#[test]
fn bad_time_zones_and_locales() {
    let ev = "order.delayed";
    for zone in [
        "",
        "UTC+25",
        "../../etc/passwd",
        "America/New York",
        "Mars/Olympus",
    ] {
        let error = err(&with(ev, "/data/customer/timezone", json!(zone)));
        assert_eq!(error.field(), Some("data.customer.timezone"), "{zone:?}");
    }
    // Surrounding white space is not part of a zone's name.
    let incident = parse_value(&with(
        ev,
        "/data/customer/timezone",
        json!(" Europe/Madrid\n"),
    ))
    .unwrap();
    assert_eq!(incident.customer.timezone.as_str(), "Europe/Madrid");
    for tag in ["", "en--US", "und", "x", "en-US-u", "123", "en_US.UTF-8"] {
        let error = err(&with(ev, "/data/customer/locale", json!(tag)));
        assert_eq!(error.field(), Some("data.customer.locale"), "{tag:?}");
    }
}

#[test]
fn oversized_and_deeply_nested_bodies() {
    let mut event = sample_value("order.delayed");
    event["data"]["padding"] = json!("x".repeat(2 * 1024 * 1024));
    let body = serde_json::to_vec(&event).unwrap();
    let error = parse(&body, CE_JSON, &en()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "body is {} bytes, more than the 1048576 an event may have",
            body.len()
        )
    );
    assert_eq!(error.field(), None);

    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let error = parse(deep.as_bytes(), CE_JSON, &en()).unwrap_err();
    assert!(
        error.to_string().contains("recursion limit exceeded"),
        "{error}"
    );
    let mut event = sample_value("order.delayed");
    let mut nested = json!(1);
    for _ in 0..200 {
        nested = json!({ "a": nested });
    }
    event["data"]["order"]["extra"] = nested;
    // serde_json writes what it cannot read back: the parser refuses it in one line.
    let error = err(&event);
    assert!(
        error
            .to_string()
            .starts_with("body is not valid JSON: recursion limit")
    );
}

#[test]
fn shipped_and_delivered_sample_fields() {
    let shipped = parse_value(&sample_value("order.shipped")).unwrap();
    assert!(shipped.event_type.closes_loop());
    let IncidentDetails::Shipped(s) = &shipped.details else {
        panic!("not a shipment");
    };
    assert_eq!(s.carrier.as_deref(), Some("DHL"));
    assert_eq!(s.eta, Some(Eta::parse("2026-11-29").unwrap()));
    assert_eq!(
        s.shipped_at.unwrap().to_rfc3339(),
        "2026-11-27T09:12:00+00:00"
    );
    assert_eq!(s.delivered_at, None);

    let delivered = parse_value(&sample_value("order.delivered")).unwrap();
    assert_eq!(delivered.event_type, IncidentType::Delivered);
    let shipment = delivered.details.shipment().unwrap();
    assert_eq!(
        shipment.delivered_at.unwrap().to_rfc3339(),
        "2026-11-29T16:40:00+00:00"
    );
    let json = serde_json::to_value(&delivered).unwrap();
    assert_eq!(json["details"]["shipment"]["carrier"], "DHL");
    assert!(!IncidentType::Delayed.closes_loop());
    assert_eq!(delayed().details.shipment(), None);
}

#[test]
fn a_shipment_and_each_of_its_fields_are_optional() {
    for event_type in ["order.shipped", "order.delivered"] {
        let bare = parse_value(&without(event_type, "/data/shipment")).unwrap();
        assert_eq!(bare.details.shipment(), Some(&Shipment::default()));
        let null = parse_value(&with(event_type, "/data/shipment", Value::Null)).unwrap();
        assert_eq!(null.details.shipment(), Some(&Shipment::default()));
        let empty = parse_value(&with(event_type, "/data/shipment", json!({}))).unwrap();
        assert_eq!(empty.details.shipment(), Some(&Shipment::default()));
    }
    for pointer in [
        "/data/shipment/carrier",
        "/data/shipment/tracking_url",
        "/data/shipment/shipped_at",
        "/data/shipment/delivered_at",
    ] {
        let incident = parse_value(&without("order.delivered", pointer)).unwrap();
        assert_eq!(incident.event_type, IncidentType::Delivered, "{pointer}");
    }
}

#[test]
fn bad_shipments_are_named() {
    assert_err(
        &with("order.delivered", "/data/shipment", json!("DHL")),
        "data.shipment: expected an object",
    );
    assert_err(
        &with("order.delivered", "/data/shipment/carrier", json!(7)),
        "data.shipment.carrier: expected a string",
    );
    assert_err(
        &with(
            "order.shipped",
            "/data/shipment/tracking_url",
            json!("ftp://x"),
        ),
        r#"data.shipment.tracking_url: "ftp://x" is not an http(s) URL"#,
    );
    assert_err(
        &with(
            "order.shipped",
            "/data/shipment/shipped_at",
            json!("2026-11-27"),
        ),
        r#"data.shipment.shipped_at: "2026-11-27" is not an RFC 3339 date-time"#,
    );
    assert_err(
        &with("order.shipped", "/data/shipment/eta", json!("soon")),
        r#"data.shipment.eta: "soon" is not an RFC 3339 date or date-time"#,
    );
    assert_err(
        &with(
            "order.delivered",
            "/data/shipment/delivered_at",
            json!("0001-01-01T00:00:00Z"),
        ),
        r#"data.shipment.delivered_at: "0001-01-01T00:00:00Z" is not in the years 2000 to 2199"#,
    );
    assert_err(
        &with(
            "order.shipped",
            "/data/shipment/delivered_at",
            json!("2026-11-29T16:40:00Z"),
        ),
        "data.shipment.delivered_at: order.shipped cannot say when the order was delivered (that is order.delivered)",
    );
    assert_err(
        &with(
            "order.delivered",
            "/data/shipment/delivered_at",
            json!("2026-11-26T16:40:00Z"),
        ),
        "data.shipment.delivered_at: 2026-11-26T16:40:00Z is before shipped_at 2026-11-27T09:12:00Z",
    );
    // The order and customer are checked as for every type.
    assert_err(
        &without("order.delivered", "/data/order/id"),
        "data.order.id: missing",
    );
}

#[test]
fn placed_sample_carries_the_promise_and_it_may_be_absent() {
    let placed = parse_value(&sample_value("order.placed")).unwrap();
    assert_eq!(placed.event_type, IncidentType::Placed);
    assert!(!placed.event_type.closes_loop() && !placed.event_type.is_own());
    let IncidentDetails::Placed(promise) = &placed.details else {
        panic!("not a promise");
    };
    assert_eq!(promise.deliver_by, Some(Eta::parse("2026-11-24").unwrap()));
    let json = serde_json::to_value(&placed).unwrap();
    assert_eq!(json["details"]["promise"]["deliver_by"], "2026-11-24");

    let mut none = sample_value("order.placed");
    none["data"].as_object_mut().unwrap().remove("promise");
    let IncidentDetails::Placed(promise) = parse_value(&none).unwrap().details else {
        panic!("not a promise");
    };
    assert_eq!(promise.deliver_by, None);

    let mut bad = sample_value("order.placed");
    bad["data"]["promise"]["deliver_by"] = "next week".into();
    assert_eq!(
        parse_value(&bad).unwrap_err().to_string(),
        "data.promise.deliver_by: \"next week\" is not an RFC 3339 date or date-time"
    );
}

#[test]
fn overdue_sample_fields_and_what_amends_checks_of_its_own_events() {
    let overdue = parse_value(&sample_value("order.overdue")).unwrap();
    assert!(overdue.event_type.is_own());
    let IncidentDetails::Overdue(o) = &overdue.details else {
        panic!("not overdue");
    };
    assert_eq!(o.deliver_by, Eta::parse("2026-11-20").unwrap());
    assert_eq!(o.overdue_since.to_rfc3339(), "2026-11-21T23:00:00+00:00");
    assert!(!o.update && o.held.is_none() && o.summary.is_none());
    assert!(o.next_update_by.is_some());

    let mut summary_alone = sample_value("order.overdue");
    summary_alone["data"]["overdue"]["summary"] = "many held".into();
    assert_eq!(
        parse_value(&summary_alone).unwrap_err().to_string(),
        "data.overdue.summary: only an order held by the daily cap carries one"
    );
    let mut no_date = sample_value("order.overdue");
    no_date["data"]["overdue"]
        .as_object_mut()
        .unwrap()
        .remove("deliver_by");
    assert!(parse_value(&no_date).is_err());
}

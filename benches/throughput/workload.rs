//! The events the benchmark publishes, built from the shipped sample events.
//!
//! Every event is a new order of a new customer, so no incident is coalesced with another. The
//! customer's address carries the event's sequence number (`c42@bench.example`, `+34600000042`),
//! so a message found in the SMTP sink or the file outbox leads back to the event, and to the
//! instant it was published.

use serde_json::{Value, json};

/// Where the recipients of the benchmark's emails live.
pub const EMAIL_DOMAIN: &str = "bench.example";

/// Which stream of events to publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Delays, stockouts and cancellations; English and Spanish; email and SMS customers; a tenth
    /// VIP; about a third costing money.
    Mix,
    /// Every event a VIP's five-day delay: each issues a 15 % code against the one day's budget
    /// and sends an SMS and an email.
    Worst,
}

/// One event, ready to publish.
pub struct Event {
    /// Its type, which is also the routing key.
    pub event_type: &'static str,
    /// The CloudEvent, serialised.
    pub body: Vec<u8>,
}

/// The email address of customer `seq`.
pub fn email_of(seq: usize) -> String {
    format!("c{seq}@{EMAIL_DOMAIN}")
}

/// The phone number of customer `seq` (a Spanish mobile number).
pub fn phone_of(seq: usize) -> String {
    format!("+346{seq:08}")
}

/// The sequence number behind an email address or phone number of this module, if it is one.
pub fn seq_of(recipient: &str) -> Option<usize> {
    let recipient = recipient.trim();
    if let Some(local) = recipient
        .strip_suffix(EMAIL_DOMAIN)
        .and_then(|r| r.strip_suffix('@'))
    {
        return local.strip_prefix('c')?.parse().ok();
    }
    recipient.strip_prefix("+346")?.parse().ok()
}

/// Whether customer `seq` of the mix is reachable only by SMS (a quarter of them).
pub fn sms_only(kind: Kind, seq: usize) -> bool {
    kind == Kind::Mix && seq % 4 == 1
}

/// Event `seq` of `kind`; `run` makes its id and its order unique to this run.
pub fn event(kind: Kind, run: &str, seq: usize) -> anyhow::Result<Event> {
    let event_type = match kind {
        Kind::Worst => "order.delayed",
        Kind::Mix => ["order.delayed", "order.stockout", "order.cancelled"][seq % 3],
    };
    let sample = amends::incident::sample(event_type)
        .ok_or_else(|| anyhow::anyhow!("no sample event of type {event_type}"))?;
    let mut event: Value = serde_json::from_str(sample)?;
    event["id"] = format!("{run}-{seq}").into();
    event["subject"] = format!("A-{run}-{seq}").into();
    let order = &mut event["data"]["order"];
    order["id"] = format!("A-{run}-{seq}").into();
    order["number"] = format!("#{seq}").into();
    let customer = &mut event["data"]["customer"];
    customer["id"] = format!("C-{run}-{seq}").into();
    customer["email"] = email_of(seq).into();
    customer["phone"] = phone_of(seq).into();
    if kind == Kind::Mix {
        let vip = seq % 10 == 7;
        customer["tier"] = if vip { "vip" } else { "regular" }.into();
        // English and Spanish alternate across the three types.
        if (seq / 3).is_multiple_of(2) {
            customer["locale"] = "en-GB".into();
            customer["timezone"] = "Europe/London".into();
            customer["first_name"] = "Amy".into();
            customer["last_name"] = "Clarke".into();
        }
        // One contact each: an email customer has no phone, an SMS customer no email.
        if sms_only(kind, seq) {
            customer.as_object_mut().map(|c| c.remove("email"));
            customer["consent"] = json!({ "email": true, "sms": true });
        } else {
            customer.as_object_mut().map(|c| c.remove("phone"));
            customer["consent"] = json!({ "email": true, "sms": false });
        }
        match event_type {
            // A VIP's delay keeps the sample's five days (a code); anyone else's is a day late,
            // which costs nothing.
            "order.delayed" if !vip => {
                event["data"]["delay"]["new_eta"] = "2026-11-25".into();
            }
            // Every stockout offers an amount off: these are the third that costs money.
            "order.stockout" => {}
            // The customer cancelled: a refund confirmation, nothing given.
            "order.cancelled" => {
                event["data"]["cancellation"]["reason"] = "customer_request".into();
                event["data"]["cancellation"]["initiated_by"] = "customer".into();
            }
            _ => {}
        }
    }
    Ok(Event {
        event_type,
        body: serde_json::to_vec(&event)?,
    })
}

/// The default policy with a daily budget no run can spend, so the events that cost money keep
/// issuing codes to the end of the run instead of falling back to an apology after the first
/// few hundred (each still takes its share of the one budget row of the day).
pub fn policy(default_policy: &str) -> anyhow::Result<String> {
    let daily = r#"daily = { EUR = "1500.00", USD = "1500.00", GBP = "1300.00" }"#;
    if !default_policy.contains(daily) {
        anyhow::bail!("policy/default.toml no longer has the daily budget line the bench raises");
    }
    Ok(default_policy.replace(
        daily,
        r#"daily = { EUR = "1000000000.00", USD = "1000000000.00", GBP = "1000000000.00" }"#,
    ))
}

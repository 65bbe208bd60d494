//! What the providers send: an [`Outgoing`] message, made from a claimed outbox row or, for a
//! person's test, from a rendered preview. Nothing of the database reaches a provider.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::incident::{EmailAddress, PhoneNumber, TimeZone};
use crate::policy::Channel;
use crate::store::ClaimedMessage;
use crate::templates::Rendered;
use crate::timing::QuietHours;

/// A message on its way to a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Names the message everywhere: its Message-ID, its outbox file, the providers' metadata.
    pub id: Uuid,
    /// Channel it goes out on.
    pub channel: Channel,
    /// Email address or E.164 number.
    pub recipient: String,
    /// Display name for the email `To` header.
    pub recipient_name: Option<String>,
    /// Customer locale.
    pub locale: String,
    /// Email subject.
    pub subject: Option<String>,
    /// Plain text body.
    pub body_text: String,
    /// HTML body.
    pub body_html: Option<String>,
}

/// A claimed outbox row: what the dispatcher keeps track of, and the message it sends.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The outbox row.
    pub outbox_id: Uuid,
    /// The incident it belongs to.
    pub incident_id: Uuid,
    /// This claim's attempt number, starting at 1.
    pub attempt: i32,
    /// The message.
    pub outgoing: Outgoing,
    /// The quiet hours it must not go out in, and the customer's zone they are read in.
    pub quiet: Option<(QuietHours, TimeZone)>,
    /// The W3C traceparent of its incident's trace, if any.
    pub traceparent: Option<String>,
}

impl Claim {
    /// When the message, claimed at `now`, must wait for the end of the customer's quiet
    /// hours: until then, and why. A retry, a message held in reserve that stands in for a failed
    /// one, or a claim taken back can come due at night although the message was scheduled by day.
    pub fn held_until(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, String)> {
        let (quiet, tz) = self.quiet.as_ref()?;
        let until = quiet.next_allowed(now, tz.tz());
        (until > now).then(|| {
            let reason = format!(
                "{} there is in the {} quiet hours {quiet} (checked when sending)",
                now.with_timezone(&tz.tz()).format("%H:%M"),
                self.outgoing.channel
            );
            (until, reason)
        })
    }
}

/// The quiet hours stored with a message, read back; stored by amends, so a value that does not
/// read is a damaged row, logged and sent without them.
fn quiet_of(row: &ClaimedMessage) -> Option<(QuietHours, TimeZone)> {
    let text = row.quiet_hours.as_deref()?;
    let zone = row.timezone.as_deref().unwrap_or("UTC");
    match (QuietHours::parse(text), TimeZone::parse(zone)) {
        (Ok(quiet), Ok(tz)) => Some((quiet, tz)),
        (quiet, tz) => {
            tracing::warn!(
                outbox_id = %row.outbox_id,
                quiet_hours = ?quiet.err().map(|e| e.to_string()),
                timezone = ?tz.err().map(|e| e.to_string()),
                "a message's stored quiet hours do not read; sending without them"
            );
            None
        }
    }
}

impl From<ClaimedMessage> for Claim {
    fn from(row: ClaimedMessage) -> Claim {
        Claim {
            quiet: quiet_of(&row),
            outbox_id: row.outbox_id,
            incident_id: row.incident_id,
            attempt: row.attempt,
            traceparent: row.traceparent,
            outgoing: Outgoing {
                id: row.outbox_id,
                channel: row.channel,
                recipient: row.recipient,
                recipient_name: row.recipient_name,
                locale: row.locale,
                subject: row.subject,
                body_text: row.body_text,
                body_html: row.body_html,
            },
        }
    }
}

/// What marks a test message, so nobody takes it for a real one.
pub const TEST_MARK: &str = "[TEST]";

/// `message` made into a test for `to` (an address for email, a number for SMS): `[TEST]`
/// before its subject and text, and a banner atop its HTML.
pub fn test_message(message: Rendered, channel: Channel, to: &str) -> Result<Outgoing, String> {
    let recipient = match channel {
        Channel::Email => EmailAddress::parse(to)
            .map(|e| e.as_str().to_owned())
            .map_err(|e| e.to_string())?,
        Channel::Sms => PhoneNumber::parse(to)
            .map(|p| p.as_str().to_owned())
            .map_err(|e| e.to_string())?,
    };
    let html = message.html.map(|html| {
        let banner = "<div style=\"padding:12px;background:#fff3cd;color:#5c4400;font:bold 14px sans-serif;text-align:center\">TEST MESSAGE: not sent to any customer</div>";
        match html.find("<body").and_then(|i| html[i..].find('>').map(|j| i + j + 1)) {
            Some(at) => format!("{}{banner}{}", &html[..at], &html[at..]),
            None => format!("{banner}{html}"),
        }
    });
    Ok(Outgoing {
        id: Uuid::now_v7(),
        channel,
        recipient,
        recipient_name: None,
        locale: message.locale,
        subject: message.subject.map(|s| format!("{TEST_MARK} {s}")),
        body_text: format!("{TEST_MARK} {}", message.text),
        body_html: html,
    })
}

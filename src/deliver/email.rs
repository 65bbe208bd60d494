//! Building the RFC 5322 email for an outbox row: multipart/alternative, text then HTML.
//!
//! Header values go through lettre's typed headers, which encode rather than copy them; control
//! characters are also removed here first, so a name or subject can never start a new header.

use lettre::Message;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use super::Outgoing;

/// Why an email could not be built (a problem with the message itself, never transient).
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// The recipient address does not parse.
    #[error("invalid recipient address: {0}")]
    Address(#[from] lettre::address::AddressError),
    /// lettre refused the message.
    #[error("cannot build email: {0}")]
    Build(#[from] lettre::error::Error),
    /// The row has no HTML or subject.
    #[error("outbox row is not an email: {0} missing")]
    Incomplete(&'static str),
}

impl From<EmailError> for super::SendError {
    /// A message that cannot be built will not build on a second try either.
    fn from(e: EmailError) -> Self {
        super::SendError::Permanent {
            message: e.to_string(),
        }
    }
}

/// Who every email is from, and what each email carries besides its content.
#[derive(Debug, Clone)]
pub struct EmailSender {
    /// The From mailbox.
    pub from: Mailbox,
    /// Where customers manage their email preferences, sent as `List-Unsubscribe` when set.
    pub list_unsubscribe: Option<url::Url>,
}

impl EmailSender {
    /// A sender with no preferences link.
    pub fn new(from: Mailbox) -> EmailSender {
        EmailSender {
            from,
            list_unsubscribe: None,
        }
    }
}

/// `X-Amends-Outbox-Id`: our id for the message, so a reply or a provider's report can be
/// matched to it.
#[derive(Debug, Clone)]
struct OutboxId(String);

impl Header for OutboxId {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Amends-Outbox-Id")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(OutboxId(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe: <url>` (RFC 2369), the store's preference centre.
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// Builds the email for `message`, from `sender`.
///
/// The Message-ID is derived from the outbox id so that every copy of one message, including
/// one resent after a crash, carries the same id and mail systems can recognise it.
pub fn build(message: &Outgoing, sender: &EmailSender) -> Result<Message, EmailError> {
    let from = &sender.from;
    let to = Mailbox::new(
        message.recipient_name.as_deref().map(without_controls),
        message.recipient.parse()?,
    );
    let subject = message
        .subject
        .as_deref()
        .ok_or(EmailError::Incomplete("subject"))?;
    let html = message
        .body_html
        .clone()
        .ok_or(EmailError::Incomplete("HTML body"))?;
    let domain = from.email.domain();
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(without_controls(subject))
        .message_id(Some(format!("<{}@{domain}>", message.id)))
        .header(OutboxId(message.id.to_string()))
        .date_now();
    if let Some(url) = &sender.list_unsubscribe {
        builder = builder.header(ListUnsubscribe(url.to_string()));
    }
    Ok(builder.multipart(MultiPart::alternative_plain_html(
        message.body_text.clone(),
        html,
    ))?)
}

/// Replaces every control character (CR, LF, TAB, …) with a space.
fn without_controls(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Channel;
    use uuid::Uuid;

    fn message(name: &str, subject: &str) -> Outgoing {
        Outgoing {
            id: Uuid::nil(),
            channel: Channel::Email,
            recipient: "ana@example.com".into(),
            recipient_name: Some(name.into()),
            locale: "en".into(),
            subject: Some(subject.into()),
            body_text: "Hello".into(),
            body_html: Some("<p>Hello</p>".into()),
        }
    }

    fn from() -> EmailSender {
        EmailSender::new("Shop <shop@example.com>".parse().unwrap())
    }

    #[test]
    fn is_multipart_alternative_with_both_parts() {
        let eml = build(&message("Ana", "Sorry"), &from()).unwrap();
        let eml = String::from_utf8(eml.formatted()).unwrap();
        assert!(eml.contains("multipart/alternative"));
        assert!(eml.contains("text/plain"));
        assert!(eml.contains("text/html"));
        assert!(eml.contains("Message-ID: <00000000-0000-0000-0000-000000000000@example.com>"));
        assert!(eml.contains("X-Amends-Outbox-Id: 00000000-0000-0000-0000-000000000000"));
        assert!(!eml.contains("List-Unsubscribe"));
    }

    #[test]
    fn the_preference_centre_is_the_list_unsubscribe_link() {
        let mut sender = from();
        sender.list_unsubscribe = url::Url::parse("https://shop.example/account/preferences").ok();
        let eml = build(&message("Ana", "Sorry"), &sender).unwrap();
        let eml = String::from_utf8(eml.formatted()).unwrap();
        assert!(
            eml.contains("List-Unsubscribe: <https://shop.example/account/preferences>"),
            "{eml}"
        );
    }

    #[test]
    fn cr_lf_in_name_or_subject_adds_no_header() {
        let eml = build(
            &message(
                "Ana\r\nBcc: evil@attacker.example",
                "Sorry\r\nBcc: evil@attacker.example",
            ),
            &from(),
        )
        .unwrap();
        let text = String::from_utf8(eml.formatted()).unwrap();
        let headers = text.split("\r\n\r\n").next().unwrap();
        for line in headers.lines() {
            assert!(!line.to_ascii_lowercase().starts_with("bcc:"), "{line}");
        }
        let envelope = eml.envelope();
        assert_eq!(envelope.to().len(), 1);
        assert_eq!(envelope.to()[0].to_string(), "ana@example.com");
    }
}

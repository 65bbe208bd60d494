//! Delivery: the providers of each channel (file outbox, SMTP, SendGrid, Postmark, Twilio,
//! Vonage) behind one interface, with a rate limiter and a circuit breaker each, and the
//! [`Dispatcher`] that claims due outbox rows and sends them through them.

mod announce;
mod breaker;
mod dispatcher;
pub mod email;
mod error;
mod http;
mod lease;
mod outbox;
mod outgoing;
mod postmark;
mod probe;
mod record;
pub mod retry;
mod sendgrid;
mod smtp;
mod transport;
mod twilio;
mod vonage;

use std::sync::Arc;

pub use announce::Announcer;
pub use breaker::{Breaker, BreakerSettings};
pub use dispatcher::Dispatcher;
pub use email::EmailSender;
pub use error::SendError;
pub use outbox::FileOutbox;
pub use outgoing::{Claim, Outgoing, TEST_MARK, test_message};
pub use postmark::Postmark;
pub use probe::Probe;
pub use sendgrid::SendGrid;
pub use smtp::{Smtp, SmtpUrlError};
pub use transport::{
    EmailProvider, Senders, SmsProvider, Transport, TransportError, Transports, callback_url,
};
pub use twilio::Twilio;
pub use vonage::Vonage;

/// How the workers wake each other instead of polling: new messages for the dispatcher, new
/// outcome events for the announcer.
#[derive(Debug, Clone, Default)]
pub struct Wakeups {
    /// Notified when messages were queued.
    pub dispatcher: Arc<tokio::sync::Notify>,
    /// Notified when outcome events were recorded.
    pub announcer: Arc<tokio::sync::Notify>,
}

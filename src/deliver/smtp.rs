//! The `smtp` transport: lettre's async SMTP client with a timeout on the whole send.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use super::SendError;
use super::email;
use crate::config::SmtpConfig;
use crate::store::ClaimedMessage;

/// Sends email through one SMTP relay (pooled connections).
#[derive(Clone)]
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    timeout: Duration,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds credentials: never print it.
        f.debug_struct("Smtp")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The SMTP URL could not be used.
#[derive(Debug, thiserror::Error)]
/// The reason, with secrets removed.
#[error("AMENDS_SMTP_URL: {0}")]
pub struct SmtpUrlError(pub String);

impl Smtp {
    /// A transport for the configured relay; `timeout` bounds each send, connection included.
    pub fn new(config: &SmtpConfig, timeout: Duration) -> Result<Smtp, SmtpUrlError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(config.url.expose_secret())
            // lettre's error text may quote the URL; ours names the key only.
            .map_err(|e| SmtpUrlError(without_url(&e.to_string())))?
            .timeout(Some(timeout))
            .build();
        Ok(Smtp { transport, timeout })
    }

    /// Sends one email; returns the server's reply as the provider message id.
    pub async fn send(
        &self,
        message: &ClaimedMessage,
        from: &Mailbox,
    ) -> Result<String, SendError> {
        let email = email::build(message, from).map_err(|e| SendError::Permanent {
            message: e.to_string(),
        })?;
        // lettre's own timeout covers each network step; this one bounds the whole exchange.
        let sent = tokio::time::timeout(self.timeout, self.transport.send(email)).await;
        match sent {
            Err(_) => Err(SendError::Unknown {
                message: format!("no answer from the SMTP server within {:?}", self.timeout),
            }),
            Ok(Ok(response)) => Ok(response.message().collect::<Vec<_>>().join(" ")),
            Ok(Err(e)) => Err(classify(&e)),
        }
    }
}

/// Maps lettre's error onto our classes.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let message = e.to_string();
    if e.is_transient() {
        return SendError::Retryable {
            message,
            retry_after: None,
        };
    }
    if e.is_permanent() {
        // 530/535: authentication. The relay refuses us, not the message.
        let code = e.status().map(|c| c.to_string());
        if matches!(code.as_deref(), Some("530") | Some("535") | Some("534")) {
            return SendError::ProviderRejected { message };
        }
        return SendError::Permanent { message };
    }
    if e.is_timeout() {
        return SendError::Unknown { message };
    }
    // Connection refused, TLS failure, broken pipe before the end of DATA: nothing delivered.
    SendError::Retryable {
        message,
        retry_after: None,
    }
}

fn without_url(s: &str) -> String {
    s.split_whitespace()
        .filter(|w| !w.contains("://"))
        .collect::<Vec<_>>()
        .join(" ")
}

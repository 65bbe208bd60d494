//! Probes: one harmless authenticated request to a provider, for `amends doctor`, made with the
//! same client, base URL and credentials its sends use. Nothing is sent to anyone.

use super::http;

/// What a provider answered to a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// An HTTP provider answered: its status, and its body to read details from (never to
    /// print: some providers' account resources include credentials).
    Answered {
        /// The HTTP status.
        status: u16,
        /// The body as text.
        body: String,
    },
    /// The provider took our session as configured (SMTP: greeting, STARTTLS, AUTH; the
    /// outbox: a file written and removed).
    Accepted {
        /// What was done, in a few words.
        detail: String,
    },
    /// The provider refused our credentials (SMTP 530, 534, 535).
    CredentialsRefused {
        /// What it said.
        detail: String,
    },
    /// The provider refused for another reason (SMTP without the STARTTLS the URL requires, an
    /// outbox directory that cannot be written).
    Refused {
        /// Why.
        detail: String,
    },
    /// No answer: connection refused, no such host, a TLS failure, or a timeout.
    Unreachable {
        /// Why, without the URL (Vonage's holds the API secret).
        detail: String,
    },
}

/// Sends `request` and reads the answer; a failure without an answer is `Unreachable`.
pub(super) async fn send(request: reqwest::RequestBuilder) -> Probe {
    match request.send().await {
        Ok(response) => {
            let (status, _, body) = http::answer(response).await;
            Probe::Answered {
                status: status.as_u16(),
                body,
            }
        }
        Err(e) if e.is_timeout() => Probe::Unreachable {
            detail: "no answer in time".to_owned(),
        },
        Err(e) => Probe::Unreachable { detail: reason(&e) },
    }
}

/// The error and its causes on one line (`cannot connect: tcp connect error: Connection
/// refused`), without the URL: reqwest's own text says little beyond it.
fn reason(e: &reqwest::Error) -> String {
    let url = e.url().map(|u| u.as_str().to_owned()).unwrap_or_default();
    let mut parts = vec![match e.is_connect() {
        true => "cannot connect".to_owned(),
        false => http::without_url(e),
    }];
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        let text = match url.is_empty() {
            true => text,
            false => text.replace(&url, "(url)"),
        };
        if !parts.contains(&text) {
            parts.push(text);
        }
        cause = c.source();
    }
    parts.join(": ")
}

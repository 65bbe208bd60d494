//! What every HTTP provider shares: a client with timeouts, and the classification of transport
//! errors, status codes and `Retry-After`.
//!
//! The rules, once: a connection that was never made delivered nothing (retry); no answer after
//! the request went out may have delivered it (unknown, never resent blindly); 429, 408 and 5xx
//! are worth retrying, honouring `Retry-After`; 401 and 403 mean this provider will not take our
//! messages (fail over); any other 4xx is about the message itself (permanent). Providers refine
//! this with their own error codes.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::SendError;

/// Longest wait for a TCP and TLS connection, within the send timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client with a connect timeout and a timeout over the whole request.
pub fn client(send_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    // reqwest is built without a TLS crypto provider of its own: use ring, as the broker and
    // database clients do. Installing fails only when one is installed already, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(send_timeout))
        .timeout(send_timeout)
        .user_agent(concat!("amends/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A response's status, headers and body (empty when it cannot be read: the status decides).
pub async fn answer(response: reqwest::Response) -> (StatusCode, HeaderMap, String) {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    (status, headers, body)
}

/// Classifies an error that left no HTTP response.
pub fn request_error(provider: &str, e: &reqwest::Error) -> SendError {
    // reqwest's message names the URL, which holds no credential for any provider we use.
    let what = without_url(e);
    if e.is_connect() {
        SendError::Retryable {
            message: format!("{provider}: cannot connect: {what}"),
            retry_after: None,
        }
    } else if e.is_builder() {
        SendError::Permanent {
            message: format!("{provider}: cannot build the request: {what}"),
        }
    } else if e.is_timeout() {
        SendError::Unknown {
            message: format!(
                "{provider}: no answer in time after the request was sent; it may have been accepted"
            ),
        }
    } else {
        SendError::Unknown {
            message: format!(
                "{provider}: the exchange broke off after the request was sent: {what}"
            ),
        }
    }
}

/// The error's text without the URL it names (a URL may hold a credential).
pub fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "");
    }
    text.replace(" for url ()", "").trim().to_owned()
}

/// `Retry-After` in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

/// The default class of a non-success status.
pub fn status_error(
    provider: &str,
    status: StatusCode,
    headers: &HeaderMap,
    detail: &str,
) -> SendError {
    let message = format!("{provider}: HTTP {}: {detail}", status.as_u16());
    match status.as_u16() {
        408 | 429 | 500..=599 => SendError::Retryable {
            message,
            retry_after: retry_after(headers),
        },
        401 | 403 => SendError::ProviderRejected { message },
        _ => SendError::Permanent { message },
    }
}

/// A success status without the provider's id for the message: it may have been accepted, and
/// without the id nothing can be matched to it later, so it is not resent.
pub fn accepted_without_id(provider: &str, status: StatusCode, body: &str) -> SendError {
    SendError::Unknown {
        message: format!(
            "{provider}: HTTP {} without a message id: {}",
            status.as_u16(),
            excerpt(body, 200)
        ),
    }
}

/// A provider's error code and message as one line, `{label} {code}: {message}`, or an excerpt
/// of the body when it did not parse; with the full message for a [`SendError`].
pub fn coded_detail(
    provider: &str,
    status: StatusCode,
    label: &str,
    parsed: Option<(Option<i64>, Option<&str>)>,
    body: &str,
) -> (Option<i64>, String, String) {
    let (code, detail) = match parsed {
        Some((code, message)) => (
            code,
            format!(
                "{label} {}: {}",
                code.unwrap_or_default(),
                message.unwrap_or_default()
            ),
        ),
        None => (None, excerpt(body, 200)),
    };
    let message = format!("{provider}: HTTP {}: {detail}", status.as_u16());
    (code, detail, message)
}

/// At most `max` characters of a provider's answer, on one line, for messages and logs.
pub fn excerpt(body: &str, max: usize) -> String {
    let line: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    line.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(retry: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(retry).unwrap());
        h
    }

    #[test]
    fn statuses_are_classified_once() {
        let none = HeaderMap::new();
        let class = |code: u16| status_error("p", StatusCode::from_u16(code).unwrap(), &none, "x");
        assert!(matches!(class(429), SendError::Retryable { .. }));
        assert!(matches!(class(503), SendError::Retryable { .. }));
        assert!(matches!(class(408), SendError::Retryable { .. }));
        assert!(matches!(class(401), SendError::ProviderRejected { .. }));
        assert!(matches!(class(403), SendError::ProviderRejected { .. }));
        assert!(matches!(class(400), SendError::Permanent { .. }));
        assert!(matches!(class(422), SendError::Permanent { .. }));
        assert_eq!(class(500).to_string(), "transient: p: HTTP 500: x");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after(&headers("7")), Some(Duration::from_secs(7)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        let wait = retry_after(&headers(&later)).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
        match status_error(
            "p",
            StatusCode::TOO_MANY_REQUESTS,
            &headers("3"),
            "slow down",
        ) {
            SendError::Retryable { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(3)))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn excerpts_are_short_single_lines() {
        assert_eq!(excerpt("a\nb\tc", 10), "a b c");
        assert_eq!(excerpt(&"x".repeat(500), 5), "xxxxx");
    }
}

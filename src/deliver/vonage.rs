//! Vonage SMS API: `POST /sms/json`, form-encoded `api_key`, `api_secret`, `from`, `to` (digits,
//! no `+`), `text`, `type=unicode` for UCS-2 text, `client-ref` (our outbox id) and `callback`
//! (our delivery-receipt webhook).
//!
//! Vonage answers 200 with one entry per part, each with its own `status`: "0" is accepted;
//! "1" (throttled) and "5" (internal error) are worth retrying; "4" (bad credentials), "8"
//! (account barred) and "9" (quota exceeded) mean this provider cannot send for us (fail over);
//! the rest ("2", "3", "6", "7", "15", "29", …) are about the message. A part already accepted
//! when a later part failed means the customer received part of it: that is `unknown`, not
//! something to resend. Vonage has no idempotency key either.

use secrecy::ExposeSecret;
use serde::Deserialize;

use super::Outgoing;
use super::Probe;
use super::http;
use super::probe;
use super::{SendError, SmsProvider};
use crate::config::VonageConfig;
use crate::templates::sms::{SmsEncoding, analyse};

/// The Vonage provider.
#[derive(Debug, Clone)]
pub struct Vonage {
    client: reqwest::Client,
    config: VonageConfig,
    callback: url::Url,
}

#[derive(Deserialize)]
struct Answer {
    messages: Vec<Part>,
}

#[derive(Deserialize)]
struct Part {
    status: String,
    #[serde(rename = "message-id")]
    message_id: Option<String>,
    #[serde(rename = "error-text")]
    error_text: Option<String>,
}

impl Vonage {
    /// A provider with its own client; `callback` receives delivery receipts.
    pub fn new(
        config: &VonageConfig,
        send_timeout: std::time::Duration,
        callback: url::Url,
    ) -> Result<Self, reqwest::Error> {
        Ok(Vonage {
            client: http::client(send_timeout)?,
            config: config.clone(),
            callback,
        })
    }

    /// Asks Vonage for the account's balance (`GET /account/get-balance`, on the same host as
    /// the SMS API): authenticated like a send, sending nothing.
    pub async fn probe(&self) -> Probe {
        let mut url = self.config.base_url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/account/get-balance"));
        url.query_pairs_mut()
            .append_pair("api_key", &self.config.api_key)
            .append_pair("api_secret", self.config.api_secret.expose_secret());
        probe::send(self.client.get(url)).await
    }
}

impl SmsProvider for Vonage {
    fn name(&self) -> &'static str {
        "vonage"
    }

    async fn send(&self, message: &Outgoing) -> Result<String, SendError> {
        let url = format!(
            "{}/sms/json",
            self.config.base_url.as_str().trim_end_matches('/')
        );
        let to = message.recipient.trim_start_matches('+');
        let outbox_id = message.id.to_string();
        let mut form = vec![
            ("api_key", self.config.api_key.as_str()),
            ("api_secret", self.config.api_secret.expose_secret()),
            ("from", self.config.from.as_str()),
            ("to", to),
            ("text", message.body_text.as_str()),
            ("client-ref", outbox_id.as_str()),
            ("callback", self.callback.as_str()),
        ];
        if analyse(&message.body_text).encoding == SmsEncoding::Ucs2 {
            form.push(("type", "unicode"));
        }
        let response = self
            .client
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| http::request_error(self.name(), &e))?;
        let (status, headers, text) = http::answer(response).await;
        if !status.is_success() {
            return Err(http::status_error(
                self.name(),
                status,
                &headers,
                &http::excerpt(&text, 200),
            ));
        }
        let answer: Answer = serde_json::from_str(&text).map_err(|_| SendError::Unknown {
            message: format!(
                "vonage: HTTP {} with an answer that is not Vonage's: {}",
                status.as_u16(),
                http::excerpt(&text, 200)
            ),
        })?;
        classify(&answer)
    }
}

/// The outcome of all parts: the first part's id when every part was accepted.
fn classify(answer: &Answer) -> Result<String, SendError> {
    let accepted = answer.messages.iter().filter(|p| p.status == "0").count();
    let Some(failed) = answer.messages.iter().find(|p| p.status != "0") else {
        return answer
            .messages
            .first()
            .and_then(|p| p.message_id.clone())
            .ok_or_else(|| SendError::Unknown {
                message: "vonage: accepted without a message id".to_owned(),
            });
    };
    let message = format!(
        "vonage: status {}: {}",
        failed.status,
        failed.error_text.as_deref().unwrap_or_default()
    );
    if accepted > 0 {
        return Err(SendError::Unknown {
            message: format!(
                "{message} after {accepted} of {} parts were accepted",
                answer.messages.len()
            ),
        });
    }
    Err(match failed.status.as_str() {
        "1" | "5" => SendError::Retryable {
            message,
            retry_after: None,
        },
        "4" | "8" | "9" => SendError::ProviderRejected { message },
        _ => SendError::Permanent { message },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(statuses: &[&str]) -> Answer {
        Answer {
            messages: statuses
                .iter()
                .enumerate()
                .map(|(i, s)| Part {
                    status: (*s).to_owned(),
                    message_id: Some(format!("id-{i}")),
                    error_text: Some("why".to_owned()),
                })
                .collect(),
        }
    }

    #[test]
    fn every_part_decides() {
        assert_eq!(classify(&answer(&["0", "0"])), Ok("id-0".to_owned()));
        assert!(matches!(
            classify(&answer(&["1"])),
            Err(SendError::Retryable { .. })
        ));
        assert!(matches!(
            classify(&answer(&["4"])),
            Err(SendError::ProviderRejected { .. })
        ));
        assert!(matches!(
            classify(&answer(&["3"])),
            Err(SendError::Permanent { .. })
        ));
        // The first part reached the phone: resending would repeat it.
        assert!(matches!(
            classify(&answer(&["0", "1"])),
            Err(SendError::Unknown { .. })
        ));
    }
}

//! Twilio Programmable Messaging: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
//! form-encoded `To`, `From`, `Body`, `StatusCallback`, HTTP Basic auth (SID : auth token).
//!
//! A 201 carries the message `sid`. Errors carry Twilio's `code`: 20003 is an authentication
//! failure (fail over), 20429 and 14107 are rate limits (retry), 21610 a recipient who replied
//! STOP, 21211/21614 an invalid or non-mobile number, 21408 a region not enabled (all permanent
//! for the message). Twilio's Messages API has no idempotency key, so a send whose answer never
//! came is `unknown`: a second POST would be a second SMS.

use secrecy::ExposeSecret;
use serde::Deserialize;

use super::Outgoing;
use super::Probe;
use super::http;
use super::probe;
use super::{SendError, SmsProvider};
use crate::config::TwilioConfig;

/// The Twilio provider.
#[derive(Debug, Clone)]
pub struct Twilio {
    client: reqwest::Client,
    config: TwilioConfig,
    status_callback: url::Url,
}

/// Twilio's answer: a message resource, or an error.
#[derive(Deserialize)]
struct Answer {
    sid: Option<String>,
    code: Option<i64>,
    message: Option<String>,
}

impl Twilio {
    /// A provider with its own client; `status_callback` is where Twilio reports each
    /// message's status (our webhook).
    pub fn new(
        config: &TwilioConfig,
        send_timeout: std::time::Duration,
        status_callback: url::Url,
    ) -> Result<Self, reqwest::Error> {
        Ok(Twilio {
            client: http::client(send_timeout)?,
            config: config.clone(),
            status_callback,
        })
    }

    /// Fetches the account the SID names (`GET /2010-04-01/Accounts/{AccountSid}.json`):
    /// authenticated like a send, sending nothing.
    pub async fn probe(&self) -> Probe {
        let url = format!(
            "{}/2010-04-01/Accounts/{}.json",
            self.config.base_url.as_str().trim_end_matches('/'),
            self.config.account_sid
        );
        probe::send(self.client.get(url).basic_auth(
            &self.config.account_sid,
            Some(self.config.auth_token.expose_secret()),
        ))
        .await
    }
}

impl SmsProvider for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    async fn send(&self, message: &Outgoing) -> Result<String, SendError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.config.base_url.as_str().trim_end_matches('/'),
            self.config.account_sid
        );
        let form = [
            ("To", message.recipient.as_str()),
            ("From", self.config.from.as_str()),
            ("Body", message.body_text.as_str()),
            ("StatusCallback", self.status_callback.as_str()),
        ];
        let response = self
            .client
            .post(url)
            .basic_auth(
                &self.config.account_sid,
                Some(self.config.auth_token.expose_secret()),
            )
            .form(&form)
            .send()
            .await
            .map_err(|e| http::request_error(self.name(), &e))?;
        let (status, headers, text) = http::answer(response).await;
        let answer: Option<Answer> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return answer
                .and_then(|a| a.sid)
                .ok_or_else(|| http::accepted_without_id(self.name(), status, &text));
        }
        let (code, detail, message) = http::coded_detail(
            self.name(),
            status,
            "error",
            answer.as_ref().map(|a| (a.code, a.message.as_deref())),
            &text,
        );
        Err(match code {
            Some(20003 | 20005 | 20008) => SendError::ProviderRejected { message },
            Some(20429 | 14107) => SendError::Retryable {
                message,
                retry_after: http::retry_after(&headers),
            },
            Some(21211 | 21408 | 21610 | 21612 | 21614 | 21617) => SendError::Permanent { message },
            _ => http::status_error(self.name(), status, &headers, &detail),
        })
    }
}

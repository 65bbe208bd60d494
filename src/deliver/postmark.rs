//! Postmark Email API (`POST /email`, `X-Postmark-Server-Token`, JSON).
//!
//! A 200 carries `MessageID`. A 422 carries Postmark's `ErrorCode`: 10 is a bad token (this
//! provider cannot send for us: fail over), 406 an inactive (bounced or complained) recipient and
//! 300 an invalid request (permanent for the message), 405 a suspended account (fail over).
//! Postmark has no idempotency key, so a send whose answer never came is `unknown`.

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::Outgoing;
use super::Probe;
use super::http;
use super::probe;
use super::{EmailProvider, SendError};
use crate::config::PostmarkConfig;

/// The Postmark provider.
#[derive(Debug, Clone)]
pub struct Postmark {
    client: reqwest::Client,
    config: PostmarkConfig,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Header<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct Metadata<'a> {
    amends_outbox_id: &'a str,
}

/// The send request body.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Email<'a> {
    from: String,
    to: String,
    subject: &'a str,
    text_body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    html_body: Option<&'a str>,
    message_stream: &'a str,
    headers: Vec<Header<'a>>,
    metadata: Metadata<'a>,
}

/// Postmark's answer, success or not.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    #[serde(rename = "MessageID")]
    message_id: Option<String>,
    error_code: Option<i64>,
    message: Option<String>,
}

impl Postmark {
    /// A provider with its own client.
    pub fn new(
        config: &PostmarkConfig,
        send_timeout: std::time::Duration,
    ) -> Result<Self, reqwest::Error> {
        Ok(Postmark {
            client: http::client(send_timeout)?,
            config: config.clone(),
        })
    }

    /// Asks Postmark for the server the token belongs to (`GET /server`): authenticated like a
    /// send, sending nothing.
    pub async fn probe(&self) -> Probe {
        let url = format!(
            "{}/server",
            self.config.base_url.as_str().trim_end_matches('/')
        );
        probe::send(
            self.client
                .get(url)
                .header(
                    "X-Postmark-Server-Token",
                    self.config.server_token.expose_secret(),
                )
                .header("Accept", "application/json"),
        )
        .await
    }
}

impl EmailProvider for Postmark {
    fn name(&self) -> &'static str {
        "postmark"
    }

    async fn send(
        &self,
        message: &Outgoing,
        sender: &super::EmailSender,
    ) -> Result<String, SendError> {
        let from = &sender.from;
        let list_unsubscribe = sender.list_unsubscribe.as_ref().map(|u| format!("<{u}>"));
        let outbox_id = message.id.to_string();
        let to = lettre::message::Mailbox::new(
            message.recipient_name.clone(),
            message
                .recipient
                .parse()
                .map_err(|e| SendError::Permanent {
                    message: format!("invalid recipient address: {e}"),
                })?,
        );
        let body = Email {
            from: from.to_string(),
            to: to.to_string(),
            subject: message.subject.as_deref().unwrap_or_default(),
            text_body: &message.body_text,
            html_body: message.body_html.as_deref(),
            // Transactional messages go on Postmark's transactional stream.
            message_stream: "outbound",
            headers: std::iter::once(Header {
                name: "X-Amends-Outbox-Id",
                value: &outbox_id,
            })
            .chain(list_unsubscribe.as_deref().map(|value| Header {
                name: "List-Unsubscribe",
                value,
            }))
            .collect(),
            metadata: Metadata {
                amends_outbox_id: &outbox_id,
            },
        };
        let url = format!(
            "{}/email",
            self.config.base_url.as_str().trim_end_matches('/')
        );
        let response = self
            .client
            .post(url)
            .header(
                "X-Postmark-Server-Token",
                self.config.server_token.expose_secret(),
            )
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| http::request_error(self.name(), &e))?;
        let (status, headers, text) = http::answer(response).await;
        let answer: Option<Answer> = serde_json::from_str(&text).ok();
        if status.is_success() {
            if let Some(Answer {
                message_id: Some(id),
                error_code: None | Some(0),
                ..
            }) = answer
            {
                return Ok(id);
            }
            return Err(http::accepted_without_id(self.name(), status, &text));
        }
        let (code, detail, message) = http::coded_detail(
            self.name(),
            status,
            "ErrorCode",
            answer
                .as_ref()
                .map(|a| (a.error_code, a.message.as_deref())),
            &text,
        );
        Err(match code {
            Some(10 | 405 | 412) => SendError::ProviderRejected { message },
            Some(406 | 300) => SendError::Permanent { message },
            _ => http::status_error(self.name(), status, &headers, &detail),
        })
    }
}

//! SendGrid v3 Mail Send (`POST /v3/mail/send`, bearer API key, JSON).
//!
//! A 202 means accepted; the message id is in `X-Message-Id`. Our outbox id travels as the
//! `custom_args` SendGrid echoes in its Event Webhook, and as an `X-Amends-Outbox-Id` header.
//! SendGrid has no idempotency key, so a send whose answer never came is `unknown`.

use secrecy::ExposeSecret;
use serde::Serialize;

use super::Outgoing;
use super::Probe;
use super::http;
use super::probe;
use super::{EmailProvider, SendError};
use crate::config::SendGridConfig;

/// The SendGrid provider.
#[derive(Debug, Clone)]
pub struct SendGrid {
    client: reqwest::Client,
    config: SendGridConfig,
}

#[derive(Serialize)]
struct Address<'a> {
    email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct Personalization<'a> {
    to: [Address<'a>; 1],
}

#[derive(Serialize)]
struct Content<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct CustomArgs<'a> {
    amends_outbox_id: &'a str,
}

#[derive(Serialize)]
struct Headers<'a> {
    #[serde(rename = "X-Amends-Outbox-Id")]
    outbox_id: &'a str,
    #[serde(rename = "List-Unsubscribe", skip_serializing_if = "Option::is_none")]
    list_unsubscribe: Option<String>,
}

/// The Mail Send request body.
#[derive(Serialize)]
struct MailSend<'a> {
    personalizations: [Personalization<'a>; 1],
    from: Address<'a>,
    subject: &'a str,
    content: Vec<Content<'a>>,
    headers: Headers<'a>,
    custom_args: CustomArgs<'a>,
}

impl SendGrid {
    /// A provider with its own client.
    pub fn new(
        config: &SendGridConfig,
        send_timeout: std::time::Duration,
    ) -> Result<Self, reqwest::Error> {
        Ok(SendGrid {
            client: http::client(send_timeout)?,
            config: config.clone(),
        })
    }

    /// Asks SendGrid for the API key's scopes (`GET /v3/scopes`): authenticated like a send,
    /// sending nothing.
    pub async fn probe(&self) -> Probe {
        let url = format!(
            "{}/v3/scopes",
            self.config.base_url.as_str().trim_end_matches('/')
        );
        probe::send(
            self.client
                .get(url)
                .bearer_auth(self.config.api_key.expose_secret()),
        )
        .await
    }
}

impl EmailProvider for SendGrid {
    fn name(&self) -> &'static str {
        "sendgrid"
    }

    async fn send(
        &self,
        message: &Outgoing,
        sender: &super::EmailSender,
    ) -> Result<String, SendError> {
        let from = &sender.from;
        let outbox_id = message.id.to_string();
        let from_email = from.email.to_string();
        let subject = message.subject.as_deref().unwrap_or_default();
        let mut content = vec![Content {
            kind: "text/plain",
            value: &message.body_text,
        }];
        if let Some(html) = &message.body_html {
            content.push(Content {
                kind: "text/html",
                value: html,
            });
        }
        let body = MailSend {
            personalizations: [Personalization {
                to: [Address {
                    email: &message.recipient,
                    name: message.recipient_name.as_deref(),
                }],
            }],
            from: Address {
                email: &from_email,
                name: from.name.as_deref(),
            },
            subject,
            content,
            headers: Headers {
                outbox_id: &outbox_id,
                list_unsubscribe: sender.list_unsubscribe.as_ref().map(|u| format!("<{u}>")),
            },
            custom_args: CustomArgs {
                amends_outbox_id: &outbox_id,
            },
        };
        let url = format!(
            "{}/v3/mail/send",
            self.config.base_url.as_str().trim_end_matches('/')
        );
        let response = self
            .client
            .post(url)
            .bearer_auth(self.config.api_key.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(|e| http::request_error(self.name(), &e))?;
        let (status, headers, text) = http::answer(response).await;
        if status.is_success() {
            return Ok(headers
                .get("x-message-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .unwrap_or(outbox_id));
        }
        Err(http::status_error(
            self.name(),
            status,
            &headers,
            &errors(&text),
        ))
    }
}

/// SendGrid's `{"errors": [{"message", "field"}]}`, as one line.
fn errors(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Error>,
    }
    #[derive(serde::Deserialize)]
    struct Error {
        message: Option<String>,
        field: Option<String>,
    }
    match serde_json::from_str::<Errors>(body) {
        Ok(parsed) if !parsed.errors.is_empty() => parsed
            .errors
            .iter()
            .map(|e| match (&e.field, &e.message) {
                (Some(f), Some(m)) => format!("{f}: {m}"),
                (None, Some(m)) => m.clone(),
                (Some(f), None) => f.clone(),
                (None, None) => "error".to_owned(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => http::excerpt(body, 200),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_one_line() {
        let body = r#"{"errors":[{"message":"Does not contain a valid address.","field":"personalizations.0.to.0.email","help":null}]}"#;
        assert_eq!(
            errors(body),
            "personalizations.0.to.0.email: Does not contain a valid address."
        );
        assert_eq!(errors("<html>oops</html>"), "<html>oops</html>");
    }
}

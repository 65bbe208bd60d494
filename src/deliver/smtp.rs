//! The `smtp` transport: lettre's SMTP client over connections amends opens and pools itself.
//!
//! Why not lettre's own pooled transport: its connections keep Nagle's algorithm on, and it writes
//! the message and the closing `.` in two writes, so every message waits for the server's delayed
//! ACK (about 40 ms on Linux): a ceiling of ~25 messages a second per connection. Opening the TCP
//! connection here lets us set `TCP_NODELAY` and hand it to lettre, which still speaks the
//! protocol (EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA). Implicit TLS (`smtps://`) is left to lettre's
//! connector, which does not expose its socket.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use secrecy::ExposeSecret;
use tokio::net::TcpStream;
use url::Url;

use super::Outgoing;
use super::Probe;
use super::SendError;
use super::email;
use crate::config::SmtpConfig;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// No TLS (`smtp://host`), for a relay on a trusted network.
    Plain,
    /// STARTTLS (`smtp://host?tls=required` or `?tls=opportunistic`).
    StartTls {
        /// Refuse to send when the server does not offer it.
        required: bool,
    },
    /// TLS from the first byte (`smtps://host`).
    Implicit,
}

/// Where and how to connect.
struct Endpoint {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
}

/// An idle connection and when it was last used.
struct Idle {
    connection: AsyncSmtpConnection,
    since: Instant,
}

/// Sends email through one SMTP relay, reusing connections.
#[derive(Clone)]
pub struct Smtp {
    endpoint: Arc<Endpoint>,
    idle: Arc<Mutex<Vec<Idle>>>,
    timeout: Duration,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The endpoint holds credentials: print only what is harmless.
        f.debug_struct("Smtp")
            .field("host", &self.endpoint.host)
            .field("port", &self.endpoint.port)
            .field("security", &self.endpoint.security)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The SMTP URL could not be used.
#[derive(Debug, thiserror::Error)]
#[error("AMENDS_SMTP_URL: {0}")]
pub struct SmtpUrlError(pub String);

/// Connections idle longer than this are checked with NOOP before reuse: servers close idle
/// sessions, and a send on a dead one would fail for nothing.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(10);
/// Idle connections kept per transport.
const MAX_IDLE: usize = 16;

/// Why a send failed below the SMTP conversation, or within it.
#[derive(Debug)]
enum Failure {
    /// The TCP connection could not be opened.
    Connect(std::io::Error),
    /// lettre reported an error (network, TLS, or an SMTP reply).
    Smtp(lettre::transport::smtp::Error),
    /// STARTTLS was required but not offered.
    NoStartTls,
}

impl Smtp {
    /// A transport for the configured relay; `timeout` bounds each send, connection included.
    pub fn new(config: &SmtpConfig, timeout: Duration) -> Result<Smtp, SmtpUrlError> {
        let endpoint = parse_url(config.url.expose_secret())?;
        Ok(Smtp {
            endpoint: Arc::new(endpoint),
            idle: Arc::new(Mutex::new(Vec::new())),
            timeout,
        })
    }

    /// Sends one email; returns the server's reply as the provider message id.
    pub async fn send(
        &self,
        message: &Outgoing,
        from: &super::EmailSender,
    ) -> Result<String, SendError> {
        let email = email::build(message, from)?;
        let envelope = email.envelope().clone();
        let bytes = email.formatted();
        let attempt = async {
            let mut connection = self.checkout().await?;
            match connection.send(&envelope, &bytes).await {
                Ok(response) => {
                    self.checkin(connection);
                    Ok(response.message().collect::<Vec<_>>().join(" "))
                }
                Err(e) => {
                    connection.abort().await;
                    Err(Failure::Smtp(e))
                }
            }
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Err(_) => Err(SendError::Unknown {
                message: format!("no answer from the SMTP server within {:?}", self.timeout),
            }),
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(failure)) => Err(classify(failure)),
        }
    }

    /// Opens one session as a send does (greeting, EHLO, STARTTLS and AUTH as the URL says)
    /// and ends it with QUIT, sending nothing; within the transport's timeout.
    pub async fn probe(&self) -> Probe {
        let connection = match tokio::time::timeout(self.timeout, self.connect()).await {
            Err(_) => {
                return Probe::Unreachable {
                    detail: format!("no answer within {:?}", self.timeout),
                };
            }
            Ok(Err(failure)) => return probe_failure(failure),
            Ok(Ok(connection)) => connection,
        };
        let mut connection = connection;
        let mut done = vec![format!(
            "{}:{} answered",
            self.endpoint.host, self.endpoint.port
        )];
        done.push(match connection.is_encrypted() {
            true => "over TLS".to_owned(),
            false => "without TLS".to_owned(),
        });
        if self.endpoint.credentials.is_some() {
            done.push("credentials accepted".to_owned());
        }
        let _ = tokio::time::timeout(self.timeout, connection.quit()).await;
        Probe::Accepted {
            detail: done.join(", "),
        }
    }

    /// An idle connection that still answers, or a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, Failure> {
        loop {
            let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            let Some(Idle {
                mut connection,
                since,
            }) = idle
            else {
                return self.connect().await;
            };
            if connection.has_broken() {
                continue;
            }
            if since.elapsed() < CHECK_AFTER_IDLE || connection.test_connected().await {
                return Ok(connection);
            }
            connection.abort().await;
        }
    }

    fn checkin(&self, connection: AsyncSmtpConnection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(Idle {
                connection,
                since: Instant::now(),
            });
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, Failure> {
        let endpoint = &*self.endpoint;
        let tls = || TlsParameters::new(endpoint.host.clone()).map_err(Failure::Smtp);
        let mut connection = if endpoint.security == Security::Implicit {
            AsyncSmtpConnection::connect_tokio1(
                (endpoint.host.as_str(), endpoint.port),
                Some(self.timeout),
                &endpoint.hello,
                Some(tls()?),
                None,
            )
            .await
            .map_err(Failure::Smtp)?
        } else {
            let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
                .await
                .map_err(Failure::Connect)?;
            tcp.set_nodelay(true).map_err(Failure::Connect)?;
            let mut connection =
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &endpoint.hello)
                    .await
                    .map_err(Failure::Smtp)?;
            if let Security::StartTls { required } = endpoint.security {
                if connection.can_starttls() {
                    connection
                        .starttls(tls()?, &endpoint.hello)
                        .await
                        .map_err(Failure::Smtp)?;
                } else if required {
                    connection.abort().await;
                    return Err(Failure::NoStartTls);
                }
            }
            connection
        };
        if let Some(credentials) = &endpoint.credentials {
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(Failure::Smtp)?;
        }
        Ok(connection)
    }
}

/// Reads `smtp://[user:pass@]host[:port][/hello-name][?tls=required|opportunistic]` or
/// `smtps://…`, as lettre's own `from_url` does.
fn parse_url(text: &str) -> Result<Endpoint, SmtpUrlError> {
    let url = Url::parse(text).map_err(|e| SmtpUrlError(format!("not a valid URL: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| SmtpUrlError("has no host".into()))?
        .trim_matches(['[', ']'])
        .to_owned();
    let tls = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let (security, default_port) = match (url.scheme(), tls.as_deref()) {
        ("smtp", None) => (Security::Plain, 25),
        ("smtp", Some("required")) => (Security::StartTls { required: true }, 587),
        ("smtp", Some("opportunistic")) => (Security::StartTls { required: false }, 587),
        ("smtps", None) => (Security::Implicit, 465),
        (scheme, tls) => {
            return Err(SmtpUrlError(format!(
                "unsupported scheme {scheme:?} with tls={tls:?} (smtp://, smtp://…?tls=required, smtps://)"
            )));
        }
    };
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let credentials = url
        .password()
        .map(|password| Credentials::new(decode(url.username()), decode(password)));
    let hello = match url.path().trim_matches('/') {
        "" => ClientId::default(),
        name => ClientId::Domain(name.to_owned()),
    };
    Ok(Endpoint {
        host,
        port: url.port().unwrap_or(default_port),
        security,
        credentials,
        hello,
    })
}

/// What a failed probe found: a refusal of our credentials, another refusal, or no answer.
fn probe_failure(failure: Failure) -> Probe {
    match failure {
        Failure::Connect(e) => Probe::Unreachable {
            detail: format!("cannot connect: {e}"),
        },
        Failure::NoStartTls => Probe::Refused {
            detail: "the server does not offer STARTTLS, which the URL requires".into(),
        },
        Failure::Smtp(e) => {
            let code = e.status().map(|c| c.to_string());
            if matches!(code.as_deref(), Some("530" | "534" | "535")) {
                Probe::CredentialsRefused {
                    detail: e.to_string(),
                }
            } else if e.is_permanent() || e.is_transient() || e.is_client() || e.is_tls() {
                // The server answered, but not as the URL needs: another reply, no mechanism
                // for our credentials, or no TLS where the URL asks for it.
                Probe::Refused {
                    detail: e.to_string(),
                }
            } else {
                // No SMTP reply at all: the network or a timeout.
                Probe::Unreachable {
                    detail: e.to_string(),
                }
            }
        }
    }
}

/// Maps a failure onto our classes.
fn classify(failure: Failure) -> SendError {
    let e = match failure {
        Failure::Connect(e) => {
            return SendError::Retryable {
                message: format!("cannot connect to the SMTP server: {e}"),
                retry_after: None,
            };
        }
        Failure::NoStartTls => {
            return SendError::ProviderRejected {
                message: "the SMTP server does not offer STARTTLS, which the URL requires".into(),
            };
        }
        Failure::Smtp(e) => e,
    };
    let message = e.to_string();
    if e.is_transient() {
        return SendError::Retryable {
            message,
            retry_after: None,
        };
    }
    if e.is_permanent() {
        // 530/534/535: authentication. The relay refuses us, not the message.
        let code = e.status().map(|c| c.to_string());
        if matches!(code.as_deref(), Some("530" | "534" | "535")) {
            return SendError::ProviderRejected { message };
        }
        return SendError::Permanent { message };
    }
    if e.is_timeout() {
        return SendError::Unknown { message };
    }
    // TLS failure, broken pipe, connection reset: nothing was delivered.
    SendError::Retryable {
        message,
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_lettre_conventions() {
        let e = parse_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.security),
            ("127.0.0.1", 2525, Security::Plain)
        );
        assert!(e.credentials.is_none());

        let e = parse_url("smtp://user%40x:p%2Fw@mail.example?tls=required").unwrap();
        assert_eq!(e.port, 587);
        assert_eq!(e.security, Security::StartTls { required: true });
        assert_eq!(
            e.credentials,
            Some(Credentials::new("user@x".into(), "p/w".into()))
        );

        let e = parse_url("smtps://mail.example/shop.example").unwrap();
        assert_eq!((e.port, e.security), (465, Security::Implicit));
        assert_eq!(e.hello, ClientId::Domain("shop.example".into()));

        assert!(parse_url("smtp://mail.example?tls=maybe").is_err());
        assert!(parse_url("http://mail.example").is_err());
    }

    #[test]
    fn connection_failures_are_retryable_and_auth_is_the_providers() {
        let refused = classify(Failure::Connect(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert!(matches!(refused, SendError::Retryable { .. }));
        assert!(matches!(
            classify(Failure::NoStartTls),
            SendError::ProviderRejected { .. }
        ));
    }
}

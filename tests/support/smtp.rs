//! A small SMTP server for integration tests.
//!
//! It speaks enough RFC 5321 for lettre's async SMTP client: greeting, `EHLO`/`HELO`, `MAIL FROM`,
//! `RCPT TO`, `DATA` (with dot-unstuffing), `RSET`, `NOOP`, `VRFY` and `QUIT`. It serves any number
//! of connections at once and several messages per connection, keeps every accepted message in
//! memory, and can be told to fail in the ways a real relay fails (see [`SmtpBehaviour`]).
//!
//! ```ignore
//! let sink = SmtpSink::start(SmtpBehaviour::default()).await;
//! // configure the daemon with AMENDS_SMTP_URL = sink.url()
//! let mails = sink.messages().await;
//! ```
//!
//! Depends only on `tokio` (features `net`, `io-util`, `sync`, `macros`, `rt`, `time`) and std.

// Each integration test binary includes this module and uses only part of it.
#![allow(dead_code)]

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::{JoinHandle, JoinSet};

/// Longest command or data line accepted (RFC 5321 asks for 1000 octets; be generous).
const MAX_LINE: usize = 64 * 1024;
/// Largest message accepted; a bigger one is answered with 552 and discarded.
const MAX_MESSAGE: usize = 32 * 1024 * 1024;
/// A connection silent for this long is closed with 421.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How the sink misbehaves. `SmtpBehaviour::default()` accepts everything.
#[derive(Debug, Clone, Default)]
pub struct SmtpBehaviour {
    /// Answer `451 4.3.0` (a transient failure) to the end of data of the first N messages, across
    /// all connections; those messages are not kept.
    pub fail_first_n: usize,
    /// Reject every `RCPT TO` with this reply code, e.g. `Some(550)` for a permanent failure or
    /// `Some(450)` for a transient one.
    pub reject_rcpt_with: Option<u16>,
    /// Behave as a relay that requires TLS: advertise STARTTLS and answer `530 5.7.0` to a
    /// `MAIL FROM` sent without it (the sink itself cannot do TLS).
    pub require_tls: bool,
}

/// A message the sink accepted (answered 250 to its end of data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The reverse-path without angle brackets (empty for the null sender `<>`).
    pub mail_from: String,
    /// The accepted forward-paths, without angle brackets, in the order given.
    pub rcpt_to: Vec<String>,
    /// The message as transmitted (CRLF line endings, dot-stuffing undone, final CRLF kept).
    pub data: String,
    /// When its end of data arrived: the moment the client handed it over.
    pub received_at: std::time::SystemTime,
}

struct Shared {
    behaviour: SmtpBehaviour,
    /// Ends of data seen so far, accepted or not.
    data_ends: AtomicUsize,
    messages: Mutex<Vec<ReceivedMail>>,
}

/// A running SMTP server on `127.0.0.1`. Dropping it stops it and closes its connections.
pub struct SmtpSink {
    port: u16,
    shared: Arc<Shared>,
    acceptor: JoinHandle<()>,
}

impl SmtpSink {
    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start(behaviour: SmtpBehaviour) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the test SMTP server on 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("local address of the test SMTP server")
            .port();
        let shared = Arc::new(Shared {
            behaviour,
            data_ends: AtomicUsize::new(0),
            messages: Mutex::new(Vec::new()),
        });
        let acceptor = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        SmtpSink {
            port,
            shared,
            acceptor,
        }
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:PORT`, suitable for `AMENDS_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message accepted so far, in the order accepted.
    pub async fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.messages.lock().await.clone()
    }

    /// How many messages reached their end of data, including those failed on purpose.
    pub fn data_attempts(&self) -> usize {
        self.shared.data_ends.load(Ordering::SeqCst)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Aborting the acceptor drops its JoinSet, which aborts every open session.
        self.acceptor.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut sessions = JoinSet::new();
    loop {
        while sessions.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, _peer)) => {
                sessions.spawn(serve(stream, Arc::clone(&shared)));
            }
            // E.g. too many open files: back off briefly instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    // An I/O error means the client went away; there is nobody left to tell.
    let _ = session(stream, &shared).await;
}

/// The sender and recipients of the transaction in progress.
struct Envelope {
    mail_from: String,
    rcpt_to: Vec<String>,
}

enum Line {
    Complete,
    TooLong,
    Eof,
    IdleTimeout,
}

async fn session(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let (read_half, mut writer) = stream.into_split();
    let mut reader = BufReader::new(read_half);
    let mut line = Vec::with_capacity(512);
    let mut envelope: Option<Envelope> = None;

    reply(&mut writer, "220 localhost ESMTP test sink ready").await?;
    loop {
        match read_line(&mut reader, &mut line).await? {
            Line::Complete => {}
            Line::Eof => return Ok(()),
            Line::TooLong => {
                return reply(&mut writer, "500 5.5.2 Line too long, closing connection").await;
            }
            Line::IdleTimeout => {
                return reply(&mut writer, "421 4.4.2 Idle too long, closing connection").await;
            }
        }
        let text = String::from_utf8_lossy(trim_line_end(&line)).into_owned();
        let (verb, argument) = match text.split_once(' ') {
            Some((verb, argument)) => (verb, argument.trim()),
            None => (text.as_str(), ""),
        };

        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                envelope = None;
                if shared.behaviour.require_tls {
                    writer
                        .write_all(
                            b"250-localhost\r\n250-8BITMIME\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n",
                        )
                        .await?;
                } else {
                    writer
                        .write_all(b"250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                        .await?;
                }
            }
            "HELO" => {
                envelope = None;
                reply(&mut writer, "250 localhost").await?;
            }
            "MAIL" if shared.behaviour.require_tls => {
                reply(&mut writer, "530 5.7.0 Must issue a STARTTLS command first").await?;
            }
            "MAIL" => {
                if envelope.is_some() {
                    reply(&mut writer, "503 5.5.1 Nested MAIL command").await?;
                } else if let Some(path) = parse_path(argument, "FROM:") {
                    envelope = Some(Envelope {
                        mail_from: path,
                        rcpt_to: Vec::new(),
                    });
                    reply(&mut writer, "250 2.1.0 Sender OK").await?;
                } else {
                    reply(&mut writer, "501 5.5.4 Syntax: MAIL FROM:<address>").await?;
                }
            }
            "RCPT" => match envelope.as_mut() {
                None => reply(&mut writer, "503 5.5.1 MAIL first").await?,
                Some(envelope) => match parse_path(argument, "TO:") {
                    Some(path) if !path.is_empty() => {
                        if let Some(code) = shared.behaviour.reject_rcpt_with {
                            let class = code / 100;
                            let text = format!("{code} {class}.1.1 Recipient rejected");
                            reply(&mut writer, &text).await?;
                        } else {
                            envelope.rcpt_to.push(path);
                            reply(&mut writer, "250 2.1.5 Recipient OK").await?;
                        }
                    }
                    _ => reply(&mut writer, "501 5.5.4 Syntax: RCPT TO:<address>").await?,
                },
            },
            "DATA" => match envelope.take() {
                None => reply(&mut writer, "503 5.5.1 MAIL first").await?,
                Some(open) if open.rcpt_to.is_empty() => {
                    reply(&mut writer, "554 5.5.1 No valid recipients").await?;
                }
                Some(open) => {
                    reply(&mut writer, "354 End data with <CR><LF>.<CR><LF>").await?;
                    let Some(data) = read_data(&mut reader, &mut line).await? else {
                        return Ok(());
                    };
                    let attempt = shared.data_ends.fetch_add(1, Ordering::SeqCst);
                    match data {
                        Data::TooBig => {
                            reply(&mut writer, "552 5.3.4 Message too big").await?;
                        }
                        Data::Message(_) if attempt < shared.behaviour.fail_first_n => {
                            reply(
                                &mut writer,
                                "451 4.3.0 Temporary failure, please try again later",
                            )
                            .await?;
                        }
                        Data::Message(bytes) => {
                            // Kept before the 250, so a client that saw success finds the message.
                            shared.messages.lock().await.push(ReceivedMail {
                                mail_from: open.mail_from,
                                rcpt_to: open.rcpt_to,
                                data: String::from_utf8_lossy(&bytes).into_owned(),
                                received_at: std::time::SystemTime::now(),
                            });
                            reply(&mut writer, "250 2.0.0 OK: queued").await?;
                        }
                    }
                }
            },
            "RSET" => {
                envelope = None;
                reply(&mut writer, "250 2.0.0 OK").await?;
            }
            "NOOP" => reply(&mut writer, "250 2.0.0 OK").await?,
            "VRFY" => reply(&mut writer, "252 2.1.5 Cannot VRFY user").await?,
            "QUIT" => return reply(&mut writer, "221 2.0.0 Bye").await,
            _ => reply(&mut writer, "502 5.5.2 Command not recognized").await?,
        }
    }
}

enum Data {
    Message(Vec<u8>),
    TooBig,
}

/// Reads a message body up to the terminating `.` line, undoing dot-stuffing.
/// `None` when the connection ended (or went idle) before the end of data.
async fn read_data<R>(reader: &mut R, line: &mut Vec<u8>) -> io::Result<Option<Data>>
where
    R: AsyncBufRead + Unpin,
{
    let mut message = Vec::new();
    let mut too_big = false;
    // False while reading the rest of an overlong line, which is kept as it is.
    let mut line_start = true;
    loop {
        let complete = match read_line(reader, line).await? {
            Line::Complete => true,
            Line::TooLong => false,
            Line::Eof | Line::IdleTimeout => return Ok(None),
        };
        if line_start && complete && trim_line_end(line) == b"." {
            break;
        }
        let content = match line.strip_prefix(b".") {
            Some(unstuffed) if line_start => unstuffed,
            _ => line.as_slice(),
        };
        line_start = complete;
        if message.len() + content.len() > MAX_MESSAGE {
            too_big = true;
        }
        if !too_big {
            message.extend_from_slice(content);
        }
    }
    Ok(Some(if too_big {
        Data::TooBig
    } else {
        Data::Message(message)
    }))
}

/// Reads one line, newline included, of at most [`MAX_LINE`] bytes into `line`.
async fn read_line<R>(reader: &mut R, line: &mut Vec<u8>) -> io::Result<Line>
where
    R: AsyncBufRead + Unpin,
{
    line.clear();
    let mut limited = reader.take(MAX_LINE as u64);
    let read = tokio::time::timeout(IDLE_TIMEOUT, limited.read_until(b'\n', line)).await;
    match read {
        Err(_elapsed) => Ok(Line::IdleTimeout),
        Ok(Err(error)) => Err(error),
        Ok(Ok(0)) => Ok(Line::Eof),
        Ok(Ok(_)) if line.ends_with(b"\n") => Ok(Line::Complete),
        Ok(Ok(n)) if n >= MAX_LINE => Ok(Line::TooLong),
        // Bytes without a newline, then end of stream.
        Ok(Ok(_)) => Ok(Line::Eof),
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses `FROM:<path> [parameters]` / `TO:<path> [parameters]` (keyword case-insensitive),
/// returning the path without angle brackets.
fn parse_path(argument: &str, keyword: &str) -> Option<String> {
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start();
    if let Some(bracketed) = rest.strip_prefix('<') {
        let end = bracketed.find('>')?;
        Some(bracketed[..end].trim().to_owned())
    } else {
        // Lenient: a bare path without brackets, up to the first parameter.
        let path = rest.split_whitespace().next()?;
        Some(path.to_owned())
    }
}

async fn reply<W>(writer: &mut W, line: &str) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let mut bytes = Vec::with_capacity(line.len() + 2);
    bytes.extend_from_slice(line.as_bytes());
    bytes.extend_from_slice(b"\r\n");
    writer.write_all(&bytes).await?;
    writer.flush().await
}

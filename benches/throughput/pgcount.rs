//! A TCP proxy in front of PostgreSQL that counts the client's round trips.
//!
//! PostgreSQL's frontend protocol ends every request the client waits on with one message: `Sync`
//! (`S`) for the extended protocol (parse, bind, execute: what sqlx uses for every query) and
//! `Query` (`Q`) for the simple protocol (`BEGIN`, `COMMIT`, raw SQL). Counting those two
//! messages counts the round trips, including statements pipelined in one write (each still ends
//! in its own `Sync`). The server's own statistics cannot say this: `pg_stat_statements` is not
//! loaded on the machines the bench runs on, and `pg_stat_database` counts transactions only.
//! The connections must not use TLS (`sslmode=disable`), or the stream cannot be read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running counting proxy on `127.0.0.1`. Dropping it stops accepting; open connections end
/// when their client closes them.
pub struct RoundTripCounter {
    port: u16,
    count: Arc<AtomicU64>,
    acceptor: JoinHandle<()>,
}

impl RoundTripCounter {
    /// Listens on `127.0.0.1:0` and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<RoundTripCounter> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let count = Arc::new(AtomicU64::new(0));
        let acceptor = tokio::spawn(accept_loop(listener, upstream, Arc::clone(&count)));
        Ok(RoundTripCounter {
            port,
            count,
            acceptor,
        })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Round trips (Sync and Query messages) seen so far, over every connection.
    pub fn round_trips(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

impl Drop for RoundTripCounter {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, count: Arc<AtomicU64>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let count = Arc::clone(&count);
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let upstream = async {
                let mut parser = Parser::default();
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    let n = client_read.read(&mut buffer).await?;
                    if n == 0 {
                        break;
                    }
                    let trips = parser.feed(&buffer[..n]);
                    count.fetch_add(trips, Ordering::Relaxed);
                    server_write.write_all(&buffer[..n]).await?;
                }
                server_write.shutdown().await
            };
            let downstream = async {
                tokio::io::copy(&mut server_read, &mut client_write).await?;
                client_write.shutdown().await
            };
            let _ = tokio::try_join!(upstream, downstream);
        });
    }
}

/// Splits the client's byte stream into protocol messages.
#[derive(Default)]
struct Parser {
    /// Past the startup message: every message now starts with a type byte.
    typed: bool,
    /// Bytes of an incomplete header (type and length).
    header: Vec<u8>,
    /// Bytes of the current message's body still to skip.
    skip: usize,
}

/// SSLRequest and GSSENCRequest: untyped, and followed by another untyped startup message.
const ENCRYPTION_REQUESTS: [u32; 2] = [80_877_103, 80_877_104];

impl Parser {
    /// Feeds bytes sent by the client; returns how many round trips they end.
    fn feed(&mut self, mut bytes: &[u8]) -> u64 {
        let mut trips = 0;
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            // Untyped: length (4) and code (4). Typed: type (1) and length (4).
            let header_len = if self.typed { 5 } else { 8 };
            let n = (header_len - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() < header_len {
                break;
            }
            if self.typed {
                let length = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]) as usize;
                if matches!(self.header[0], b'S' | b'Q') {
                    trips += 1;
                }
                self.skip = length.saturating_sub(4);
            } else {
                let length = u32::from_be_bytes([
                    self.header[0],
                    self.header[1],
                    self.header[2],
                    self.header[3],
                ]) as usize;
                let code = u32::from_be_bytes([
                    self.header[4],
                    self.header[5],
                    self.header[6],
                    self.header[7],
                ]);
                self.typed = !ENCRYPTION_REQUESTS.contains(&code);
                self.skip = length.saturating_sub(8);
            }
            self.header.clear();
        }
        trips
    }
}

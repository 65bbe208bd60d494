//! A TCP proxy a test controls, standing between the daemon and a shared server (RabbitMQ,
//! PostgreSQL) that the test must not restart: cutting it closes every connection through it and
//! refuses new ones, as a server going down does; restoring it lets connections through again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::{JoinHandle, JoinSet};

struct Shared {
    upstream: SocketAddr,
    cut: AtomicBool,
    connections: Mutex<JoinSet<()>>,
}

/// A running proxy on `127.0.0.1`. Dropping it stops it and closes its connections.
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: JoinHandle<()>,
}

impl Proxy {
    /// Listens on `127.0.0.1:0` and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the test proxy on 127.0.0.1:0");
        let port = listener.local_addr().expect("the proxy's address").port();
        let shared = Arc::new(Shared {
            upstream,
            cut: AtomicBool::new(false),
            connections: Mutex::new(JoinSet::new()),
        });
        let acceptor = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Proxy {
            port,
            shared,
            acceptor,
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Closes every connection through the proxy and refuses new ones until [`Self::restore`].
    pub async fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        let mut connections = self.shared.connections.lock().await;
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if shared.cut.load(Ordering::SeqCst) {
            // Down: the connection is closed at once, as by a server that is not there.
            drop(client);
            continue;
        }
        let upstream = shared.upstream;
        let mut connections = shared.connections.lock().await;
        // Forget the connections that ended on their own.
        while connections.try_join_next().is_some() {}
        connections.spawn(async move {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let mut client = client;
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
    }
}

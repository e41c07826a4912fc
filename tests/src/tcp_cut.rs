//! A TCP relay that can cut one client off its server, as a lost route does to a workstation
//! while the others still reach it: [`TcpCut::cut`] ends every relayed connection and refuses
//! new ones (connections reset, not hanging) until [`TcpCut::restore`]. [`TcpCut::freeze`] is
//! the other failure: a peer frozen (suspended, hung) — every connection stays open and nothing
//! moves either way, no reset, no close, as the server sees a workstation that stopped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct TcpCut {
    pub port: u16,
    cut: Arc<AtomicBool>,
    frozen: watch::Sender<bool>,
    /// Bumped at every cut: the relays of the connections made before it end.
    generation: watch::Sender<u64>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TcpCut {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TcpCut {
    /// Relays `127.0.0.1:<port>` to `127.0.0.1:<upstream>`.
    pub async fn start(upstream: u16) -> TcpCut {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let (frozen, _) = watch::channel(false);
        let (is_cut, gen, freeze) = (cut.clone(), generation.clone(), frozen.clone());
        let server = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if is_cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let ended = gen.subscribe();
                tokio::spawn(relay(
                    client,
                    SocketAddr::from(([127, 0, 0, 1], upstream)),
                    ended,
                    freeze.subscribe(),
                ));
            }
        });
        TcpCut { port, cut, frozen, generation, server }
    }

    /// Ends every connection through the relay and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }

    /// Stops every byte, both ways, on every connection, new ones included, and keeps them
    /// open: a frozen peer.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    mut ended: watch::Receiver<u64>,
    frozen: watch::Receiver<bool>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        _ = pump(client_read, server_write, frozen.clone()) => {}
        _ = pump(server_read, client_write, frozen) => {}
        _ = ended.changed() => {}
    }
}

/// Copies one direction until it closes, or stops still (holding both ends open) once frozen.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut frozen: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buf) => Some(read),
            _ = frozen.wait_for(|f| *f) => None,
        };
        let n = match read {
            Some(Ok(0) | Err(_)) => return,
            Some(Ok(n)) => n,
            None => 0,
        };
        let is_frozen = *frozen.borrow();
        if is_frozen {
            std::future::pending::<()>().await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

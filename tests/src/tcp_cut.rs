//! A TCP relay that can cut one client off its server, as a lost route does to a workstation
//! while the others still reach it: [`TcpCut::cut`] ends every relayed connection and refuses
//! new ones (connections reset, not hanging) until [`TcpCut::restore`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct TcpCut {
    pub port: u16,
    cut: Arc<AtomicBool>,
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
        let (is_cut, gen) = (cut.clone(), generation.clone());
        let server = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if is_cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let ended = gen.subscribe();
                tokio::spawn(relay(client, SocketAddr::from(([127, 0, 0, 1], upstream)), ended));
            }
        });
        TcpCut { port, cut, generation, server }
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
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, mut ended: watch::Receiver<u64>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = ended.changed() => {}
    }
}

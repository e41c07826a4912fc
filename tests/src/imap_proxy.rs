//! A plain-IMAP proxy in front of the test Dovecot that plays the servers Dovecot is not: it
//! answers a `UID FETCH` of chosen UIDs with a response the IMAP library cannot parse (what a
//! buggy server or a mangled mail does to a client), and can refuse `UID STORE` with NO (as
//! Exchange does in a read-only or shared folder, where Dovecot answers OK and ignores it).
//! Everything else passes through unchanged.
//!
//! A command the proxy answers never reaches Dovecot, so the two sides stay in step.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

pub struct ImapProxy {
    pub port: u16,
    poisoned: Arc<Mutex<HashSet<u32>>>,
    /// Whether `UID STORE` is refused with NO (a read-only or shared folder on Exchange & co.).
    refuse_store: Arc<std::sync::atomic::AtomicBool>,
    /// How many commands were answered with garbage.
    poisoned_answers: Arc<Mutex<u32>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ImapProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ImapProxy {
    /// Proxies `127.0.0.1:<upstream>` (Dovecot's plain IMAP port).
    pub async fn start(upstream: u16) -> ImapProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let poisoned = Arc::new(Mutex::new(HashSet::new()));
        let answers = Arc::new(Mutex::new(0));
        let refuse_store = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let rules = Rules {
            poisoned: poisoned.clone(),
            refuse_store: refuse_store.clone(),
            answers: answers.clone(),
        };
        let server = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = SocketAddr::from(([127, 0, 0, 1], upstream));
                tokio::spawn(relay(client, upstream, rules.clone()));
            }
        });
        ImapProxy { port, poisoned, refuse_store, poisoned_answers: answers, server }
    }

    /// From now on, a `UID FETCH` naming `uid` gets an unparsable answer.
    pub fn poison(&self, uid: u32) {
        self.poisoned.lock().unwrap().insert(uid);
    }

    /// From now on, `UID STORE` is answered `NO [NOPERM] Permission denied`.
    pub fn refuse_store(&self) {
        self.refuse_store.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn poisoned_answers(&self) -> u32 {
        *self.poisoned_answers.lock().unwrap()
    }
}

#[derive(Clone)]
struct Rules {
    poisoned: Arc<Mutex<HashSet<u32>>>,
    refuse_store: Arc<std::sync::atomic::AtomicBool>,
    answers: Arc<Mutex<u32>>,
}

impl Rules {
    /// The proxy's own answer to a command line, if it answers instead of Dovecot.
    fn answer(&self, line: &str) -> Option<String> {
        let mut words = line.split_whitespace();
        let (tag, uid, command) = (words.next()?, words.next()?, words.next()?);
        if !uid.eq_ignore_ascii_case("UID") {
            return None;
        }
        if command.eq_ignore_ascii_case("STORE")
            && self.refuse_store.load(std::sync::atomic::Ordering::Relaxed)
        {
            return Some(format!("{tag} NO [NOPERM] Permission denied\r\n"));
        }
        if command.eq_ignore_ascii_case("FETCH")
            && names_any(words.next()?, &self.poisoned.lock().unwrap())
        {
            *self.answers.lock().unwrap() += 1;
            return Some(format!(
                "* 1 FETCH (UID )(RFC822.SIZE ((\r\n{tag} OK Fetch completed.\r\n"
            ));
        }
        None
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, rules: Rules) {
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let (client_read, client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let client_write = Arc::new(tokio::sync::Mutex::new(client_write));
    let to_client = client_write.clone();
    let down = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to_client.lock().await.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    // Client commands are lines (Sentinela sends no literals after LOGIN's quoted strings).
    let mut lines = BufReader::new(client_read);
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if let Some(answer) = rules.answer(&String::from_utf8_lossy(&line)) {
            if client_write.lock().await.write_all(answer.as_bytes()).await.is_err() {
                break;
            }
            continue;
        }
        if server_write.write_all(&line).await.is_err() {
            break;
        }
    }
    down.abort();
}

/// Whether a UID set (`3,5:7`) names any of `uids`.
fn names_any(set: &str, uids: &HashSet<u32>) -> bool {
    set.split(',').any(|part| match part.split_once(':') {
        Some((a, b)) => match (a.parse::<u32>(), b.parse::<u32>()) {
            (Ok(a), Ok(b)) => uids.iter().any(|u| (a.min(b)..=a.max(b)).contains(u)),
            _ => false,
        },
        None => part.parse().is_ok_and(|u: u32| uids.contains(&u)),
    })
}

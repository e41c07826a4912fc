//! The link between the tray process and its window processes.
//!
//! Each window (settings, history) runs in a process of its own, so that closing it gives back
//! everything WebKit took (on Linux WebKitGTK keeps its network process and much of its heap for
//! as long as the process that made a webview lives). The tray process keeps the engine and
//! listens on a local socket — a Unix socket file in the data directory, or in the user's runtime
//! directory when the data directory is too deep for a socket path (mode 0600: only this
//! user may connect), a named pipe on Windows. A window process connects, says which window it
//! is, and then receives the engine's status and events; it tells the tray when it saved the
//! settings or stored a secret, so the engine restarts with them. The window processes do the
//! rest themselves (read and write the settings file, the keyring, the journal).
//!
//! Messages are JSON, one per line. The tray sends nothing to a connection before its `Hello`,
//! which a peer that may only read the pipe cannot send. The tray's side is bounded: a peer that
//! has not said `Hello` within 2 s is dropped, at most 8 peers are served, each window has a
//! queue of its own of bounded length (a slow or stuck window is dropped, never the tray's
//! memory), and a peer running as another user is refused (on Unix SO_PEERCRED / getpeereid,
//! through interprocess's `peer_creds`; on Windows the peer process's token: `windows_user`).
//! On Windows the pipe is also created first-instance-only with a DACL for this user alone, and
//! a window checks who serves the pipe before it says anything (docs/link-windows.md).

use std::hash::{Hash, Hasher};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::{tokio::Stream, ListenerOptions, Name};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, Notify};
use tracing::{debug, warn};

use crate::status::StatusView;
#[cfg(windows)]
mod windows_user;
use crate::windows::WindowKind;

/// A message larger than this is refused (the peer is broken, not chatty): a status line, an
/// engine event (no e-mail bodies travel here) fit in far less.
const MAX_MESSAGE: u64 = 256 * 1024;
/// A peer must say who it is this soon.
const HELLO_WITHIN: Duration = Duration::from_secs(2);
/// Two windows exist; a few more connections are a restart's overlap. More is not a window.
const MAX_PEERS: usize = 8;
/// Messages waiting for one window; a window this far behind is stuck and is dropped.
const QUEUE: usize = 512;

/// From a window process to the tray process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToTray {
    /// First message of every connection.
    Hello { window: WindowKind },
    /// The settings file was written: restart the engine with it and tell the other windows.
    SettingsSaved,
    /// A secret was stored in the keyring: restart the engine with it.
    SecretStored,
}

/// From the tray process to a window process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWindow {
    /// The engine's state in words; sent after `Hello` and whenever it may have changed.
    Status {
        status: StatusView,
    },
    /// An engine event as the windows receive it (`EngineEvent` in `ui/src/bindings.ts`).
    Event {
        event: serde_json::Value,
    },
    SettingsUpdated,
    /// Bring the window to the front (the tray menu or a second launch asked for it).
    Focus,
}

/// Where the tray process listens: derived from the data directory, so a tray and its windows
/// started with the same `--data-dir` find each other, and two installations never do.
fn address(data_dir: &Path) -> io::Result<Name<'static>> {
    #[cfg(unix)]
    {
        use interprocess::local_socket::{GenericFilePath, ToFsName};
        let runtime_dir =
            directories::BaseDirs::new().and_then(|d| d.runtime_dir().map(Path::to_owned));
        let path = socket_path(data_dir, runtime_dir.as_deref());
        if let Some(run) = runtime_dir.filter(|run| path.starts_with(run)) {
            // Another user's or a shared folder could hold a socket that is not ours.
            use std::os::unix::fs::MetadataExt;
            private_to(&run, std::fs::metadata(data_dir)?.uid())?;
        }
        path.to_fs_name::<GenericFilePath>().map(|n| n.into_owned())
    }
    // Windows: a named pipe, in the machine-wide namespace; `listen` makes it this user's only
    // and `connect` checks who serves it (see `windows_user` and docs/link-windows.md).
    #[cfg(not(unix))]
    {
        use interprocess::local_socket::{GenericNamespaced, ToNsName};
        format!("sentinela-{:016x}", hash_of(data_dir))
            .to_ns_name::<GenericNamespaced>()
            .map(|n| n.into_owned())
    }
}

/// The error when the pipe's name was taken before the tray made it.
#[cfg(windows)]
fn squatted(data_dir: &Path, how: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("the windows' link {} exists already, created by another process ({how}): it is not opened, so no window talks to a stranger", describe(data_dir)),
    )
}

/// The link's address in words, for errors.
#[cfg(windows)]
fn describe(data_dir: &Path) -> String {
    match address(data_dir) {
        Ok(name) => format!("{name:?}"),
        Err(_) => format!("of {}", data_dir.display()),
    }
}

/// The folder belongs to `uid` and nobody else may enter it (0700), or it is refused.
#[cfg(unix)]
fn private_to(dir: &Path, uid: u32) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir)?;
    if meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is not private to this user (owner {}, mode {:o}): the windows' link is not opened there", dir.display(), meta.uid(), meta.mode() & 0o777),
        ));
    }
    Ok(())
}

/// A Unix socket's path must fit in 107 bytes. A data directory that deep links through the
/// user's runtime directory instead (private to the user, like the data directory), under a
/// name made from the data directory.
#[cfg(unix)]
fn socket_path(data_dir: &Path, runtime_dir: Option<&Path>) -> std::path::PathBuf {
    const MAX_SOCKET_PATH: usize = 107;
    let beside_the_data = data_dir.join("link.sock");
    match runtime_dir {
        Some(run) if beside_the_data.as_os_str().len() > MAX_SOCKET_PATH => {
            run.join(format!("sentinela-{:016x}.sock", hash_of(data_dir)))
        }
        _ => beside_the_data,
    }
}

/// Named pipes live in one machine-wide namespace: the data directory's hash keeps two users'
/// (or two installations') pipes apart.
fn hash_of(path: &Path) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    h.finish()
}

async fn read_message<T: DeserializeOwned>(
    reader: &mut BufReader<impl AsyncRead + Unpin>,
    line: &mut Vec<u8>,
) -> io::Result<Option<T>> {
    line.clear();
    let n = (&mut *reader).take(MAX_MESSAGE).read_until(b'\n', line).await?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "link message too long or cut short",
        ));
    }
    serde_json::from_slice(line)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Writes every message from `rx` until the channel or the connection closes.
async fn write_messages<T: Serialize>(
    mut writer: impl AsyncWrite + Unpin,
    mut rx: mpsc::Receiver<T>,
) {
    while let Some(message) = rx.recv().await {
        let mut line = serde_json::to_vec(&message).expect("link messages serialise");
        line.push(b'\n');
        if writer.write_all(&line).await.is_err() || writer.flush().await.is_err() {
            return;
        }
    }
}

struct Peer {
    window: WindowKind,
    tx: mpsc::Sender<ToWindow>,
    /// Tells the peer's task to hang up (its queue overflowed).
    hang_up: Arc<Notify>,
}

/// The tray process's end: accepts window processes and sends them the engine's news.
#[derive(Default)]
pub struct LinkServer {
    peers: Mutex<Vec<Peer>>,
    /// Connections being served, said `Hello` or not.
    connections: AtomicUsize,
}

/// Counts a connection while it is served.
struct Served<'a>(&'a AtomicUsize);

impl Drop for Served<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LinkServer {
    /// Listens for window processes. `on_message` handles what they say; its answer to a
    /// `Hello` (the current status) goes back to that window alone. Call it inside the Tokio
    /// runtime that is to serve the link.
    pub fn listen(
        data_dir: &Path,
        on_message: impl Fn(ToTray) -> Option<ToWindow> + Send + Sync + 'static,
    ) -> io::Result<Arc<LinkServer>> {
        sentinela_engine::files::private_dir(data_dir)?;
        let options = ListenerOptions::new().name(address(data_dir)?).try_overwrite(true);
        #[cfg(unix)]
        let options =
            interprocess::os::unix::local_socket::ListenerOptionsExt::mode(options, 0o600);
        // The pipe's first instance (FILE_FLAG_FIRST_PIPE_INSTANCE: a name someone created first
        // is refused, not shared), with a DACL for this user alone.
        #[cfg(windows)]
        let options =
            interprocess::os::windows::local_socket::ListenerOptionsExt::security_descriptor(
                options.try_overwrite(false),
                windows_user::only_this_user()?,
            );
        // A pipe cannot outlive its creator, so a name that answers is someone's now. Windows
        // refuses the first instance anyway; Wine does not, and this check is what it has.
        #[cfg(windows)]
        if <interprocess::local_socket::Stream as interprocess::local_socket::traits::Stream>::connect(address(data_dir)?).is_ok() {
            return Err(squatted(data_dir, "it answers"));
        }
        let listener = options.create_tokio();
        #[cfg(windows)]
        let listener = listener.map_err(|e| match e.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::AddrInUse => {
                squatted(data_dir, &e.to_string())
            }
            _ => e,
        });
        let listener = listener?;
        // The user this process runs as: the owner of the folder it just made private.
        #[cfg(unix)]
        let me = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(data_dir)?);
        let server = Arc::new(LinkServer::default());
        let on_message = Arc::new(on_message);
        let accepting = server.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok(stream) => {
                        if accepting.connections.fetch_add(1, Ordering::SeqCst) >= MAX_PEERS {
                            accepting.connections.fetch_sub(1, Ordering::SeqCst);
                            warn!("a link peer refused: {MAX_PEERS} are connected already");
                            continue;
                        }
                        #[cfg(unix)]
                        match stream.peer_creds().map(|c| c.euid()) {
                            Ok(Some(uid)) if uid == me => {}
                            other => {
                                accepting.connections.fetch_sub(1, Ordering::SeqCst);
                                warn!(
                                    "a link peer refused: it does not run as this user ({other:?})"
                                );
                                continue;
                            }
                        }
                        #[cfg(windows)]
                        match stream.peer_creds().map(|c| c.pid()) {
                            Ok(Some(pid)) if windows_user::is_this_user(pid) => {}
                            other => {
                                accepting.connections.fetch_sub(1, Ordering::SeqCst);
                                warn!("a link peer refused: it does not run as this user (process {other:?})");
                                continue;
                            }
                        }
                        let (server, on_message) = (accepting.clone(), on_message.clone());
                        tokio::spawn(async move {
                            let _served = Served(&server.connections);
                            server.serve(stream, &*on_message).await
                        });
                    }
                    Err(e) => {
                        warn!("the windows' link stopped accepting: {e}");
                        return;
                    }
                }
            }
        });
        Ok(server)
    }

    async fn serve(
        &self,
        stream: Stream,
        on_message: &(dyn Fn(ToTray) -> Option<ToWindow> + Send + Sync),
    ) {
        let (reader, writer) = tokio::io::split(stream);
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        let window = match tokio::time::timeout(
            HELLO_WITHIN,
            read_message::<ToTray>(&mut reader, &mut line),
        )
        .await
        {
            Ok(Ok(Some(ToTray::Hello { window }))) => window,
            other => {
                debug!("a link peer did not say hello in time: {other:?}");
                return;
            }
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        if let Some(first) = on_message(ToTray::Hello { window }) {
            let _ = tx.try_send(first);
        }
        let hang_up = Arc::new(Notify::new());
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).push(Peer {
            window,
            tx: tx.clone(),
            hang_up: hang_up.clone(),
        });
        let writing = tokio::spawn(write_messages(writer, rx));
        loop {
            let message = tokio::select! {
                m = read_message::<ToTray>(&mut reader, &mut line) => m,
                _ = hang_up.notified() => {
                    warn!("dropping the {window:?} window's link: it fell {QUEUE} messages behind");
                    break;
                }
            };
            match message {
                Ok(Some(message)) => {
                    if let Some(answer) = on_message(message) {
                        let _ = tx.try_send(answer);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    warn!("dropping the {window:?} window's link: {e}");
                    break;
                }
            }
        }
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).retain(|p| !p.tx.same_channel(&tx));
        writing.abort();
    }

    /// Sends `message` to every connected window; one whose queue is full is hung up on.
    pub fn broadcast(&self, message: &ToWindow) {
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).retain(|p| {
            match p.tx.try_send(message.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    p.hang_up.notify_one();
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    /// Brings the `window` to the front if a process shows it. False when none does.
    pub fn focus(&self, window: WindowKind) -> bool {
        let peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        peers.iter().filter(|p| p.window == window).any(|p| p.tx.try_send(ToWindow::Focus).is_ok())
    }

    /// Windows connected now (said `Hello`).
    #[cfg(test)]
    pub fn peer_count(&self) -> usize {
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// A window process's end: what the tray sends arrives on the receiver, which closes when the
/// tray process goes away.
pub struct LinkClient {
    tx: mpsc::Sender<ToTray>,
}

impl LinkClient {
    pub async fn connect(
        data_dir: &Path,
        window: WindowKind,
    ) -> io::Result<(LinkClient, mpsc::UnboundedReceiver<ToWindow>)> {
        let stream = Stream::connect(address(data_dir)?).await?;
        // A pipe is found by name alone: say nothing to a server that is not this user's.
        #[cfg(windows)]
        match stream.peer_creds().map(|c| c.pid()) {
            Ok(Some(pid)) if windows_user::is_this_user(pid) => {}
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "the windows' link {} is served by a process of another user ({other:?})",
                        describe(data_dir)
                    ),
                ))
            }
        }
        let (reader, writer) = tokio::io::split(stream);
        let (tx, rx) = mpsc::channel(QUEUE);
        let _ = tx.try_send(ToTray::Hello { window });
        tokio::spawn(write_messages(writer, rx));
        let (inbox_tx, inbox) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(reader);
            let mut line = Vec::new();
            loop {
                match read_message::<ToWindow>(&mut reader, &mut line).await {
                    Ok(Some(message)) => {
                        if inbox_tx.send(message).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        warn!("the link to the tray broke: {e}");
                        return;
                    }
                }
            }
        });
        Ok((LinkClient { tx }, inbox))
    }

    /// False once the link is gone.
    pub fn send(&self, message: ToTray) -> bool {
        self.tx.try_send(message).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(text: &str) -> ToWindow {
        ToWindow::Status {
            status: StatusView { state: crate::status::TrayState::Watching, text: text.into() },
        }
    }

    /// Waits for `ok`, up to 20 s: under Wine on a loaded machine a pipe whose peer went away
    /// is noticed seconds later than on Windows.
    async fn eventually(ok: impl Fn() -> bool) {
        for _ in 0..400 {
            if ok() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("timed out");
    }

    async fn next(rx: &mut mpsc::UnboundedReceiver<ToWindow>) -> ToWindow {
        tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .expect("a message in time")
            .expect("the link is open")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn windows_get_the_status_events_and_focus_and_the_tray_hears_them() {
        let dir = tempfile::tempdir().unwrap();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let log = heard.clone();
        let server = LinkServer::listen(dir.path(), move |m| {
            log.lock().unwrap().push(m.clone());
            matches!(m, ToTray::Hello { .. }).then(|| status("Vigiando"))
        })
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                std::fs::metadata(dir.path().join("link.sock")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "only this user may connect");
        }

        let (history, mut history_rx) =
            LinkClient::connect(dir.path(), WindowKind::History).await.unwrap();
        assert_eq!(next(&mut history_rx).await, status("Vigiando"), "the status comes first");
        let (_settings, mut settings_rx) =
            LinkClient::connect(dir.path(), WindowKind::Settings).await.unwrap();
        assert_eq!(next(&mut settings_rx).await, status("Vigiando"));

        server.broadcast(&ToWindow::Event { event: serde_json::json!({"type": "checked"}) });
        assert!(matches!(next(&mut history_rx).await, ToWindow::Event { .. }));
        assert!(matches!(next(&mut settings_rx).await, ToWindow::Event { .. }));

        assert!(server.focus(WindowKind::Settings));
        assert_eq!(next(&mut settings_rx).await, ToWindow::Focus);
        history.send(ToTray::SettingsSaved);
        eventually(|| heard.lock().unwrap().contains(&ToTray::SettingsSaved)).await;

        // A window that goes away is forgotten: the tray must open a new one next time.
        drop(history);
        drop(history_rx);
        eventually(|| !server.focus(WindowKind::History)).await;
        // The other window only had the focus message; nothing else reached it.
        assert!(settings_rx.try_recv().is_err());
    }

    /// A process that creates the pipe's name before the tray does (another user's, waiting
    /// for our windows to connect) does not get our windows: the tray refuses to share it.
    #[cfg(windows)]
    #[tokio::test]
    async fn a_pipe_name_taken_first_by_someone_else_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _squatter =
            ListenerOptions::new().name(address(dir.path()).unwrap()).create_tokio().unwrap();
        let Err(e) = LinkServer::listen(dir.path(), |_| None) else {
            panic!("the tray shared a pipe someone else created")
        };
        assert!(e.to_string().contains("exists already, created by another process"), "{e}");
    }

    #[tokio::test]
    async fn a_peer_that_does_not_say_hello_gets_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let server = LinkServer::listen(dir.path(), |_| Some(status("x"))).unwrap();
        let stream = Stream::connect(address(dir.path()).unwrap()).await.unwrap();
        let (reader, mut writer) = tokio::io::split(stream);
        writer.write_all(b"{\"type\":\"settings_saved\"}\n").await.unwrap();
        server.broadcast(&status("secret subject"));
        let mut buf = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            BufReader::new(reader).read_to_end(&mut buf),
        )
        .await;
        assert!(matches!(read, Ok(Ok(0))), "the tray hung up without a word: {buf:?}");
    }

    #[tokio::test]
    async fn a_peer_that_stays_silent_is_dropped_after_two_seconds() {
        let dir = tempfile::tempdir().unwrap();
        let _server = LinkServer::listen(dir.path(), |_| Some(status("x"))).unwrap();
        let stream = Stream::connect(address(dir.path()).unwrap()).await.unwrap();
        let (reader, _writer) = tokio::io::split(stream);
        let started = std::time::Instant::now();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(
            Duration::from_secs(5),
            BufReader::new(reader).read_to_end(&mut buf),
        )
        .await;
        assert!(matches!(read, Ok(Ok(0))), "hung up: {read:?}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(1900) && waited < Duration::from_secs(4),
            "{waited:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_eight_peers() {
        let dir = tempfile::tempdir().unwrap();
        let server = LinkServer::listen(dir.path(), |_| Some(status("x"))).unwrap();
        let mut windows = Vec::new();
        for _ in 0..MAX_PEERS {
            let (client, mut rx) =
                LinkClient::connect(dir.path(), WindowKind::History).await.unwrap();
            next(&mut rx).await;
            windows.push((client, rx));
        }
        assert_eq!(server.peer_count(), MAX_PEERS);
        let (_ninth, mut rx) = LinkClient::connect(dir.path(), WindowKind::History).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await;
        assert!(matches!(answer, Ok(None)), "the ninth is hung up on: {answer:?}");
        // One leaves (its process notices at the next message): room for another.
        windows.pop();
        eventually(|| {
            server.broadcast(&status("y"));
            server.peer_count() < MAX_PEERS
        })
        .await;
        let (_tenth, mut rx) = LinkClient::connect(dir.path(), WindowKind::History).await.unwrap();
        assert_eq!(next(&mut rx).await, status("x"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stuck_window_is_dropped_not_buffered() {
        let dir = tempfile::tempdir().unwrap();
        let server = LinkServer::listen(dir.path(), |_| None).unwrap();
        // A peer that says hello and then never reads.
        let stream = Stream::connect(address(dir.path()).unwrap()).await.unwrap();
        let (_reader, mut writer) = tokio::io::split(stream);
        writer.write_all(b"{\"type\":\"hello\",\"window\":\"history\"}\n").await.unwrap();
        eventually(|| server.peer_count() == 1).await;
        let big = ToWindow::Event {
            event: serde_json::json!({"event": "checked", "pad": "x".repeat(60_000)}),
        };
        for _ in 0..(QUEUE * 4) {
            server.broadcast(&big);
            if server.peer_count() == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(server.peer_count(), 0, "the stuck window was dropped");
    }

    #[cfg(unix)]
    #[test]
    fn a_runtime_directory_that_is_not_private_is_refused() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let me = std::fs::metadata(dir.path()).unwrap().uid();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(private_to(dir.path(), me).is_ok());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(private_to(dir.path(), me).is_err(), "a folder others can enter");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(private_to(dir.path(), me + 1).is_err(), "another user's folder");
    }

    #[cfg(unix)]
    #[test]
    fn a_deep_data_directory_links_through_the_runtime_directory() {
        let run = Path::new("/run/user/1000");
        assert_eq!(
            socket_path(Path::new("/home/op/.local/share/sentinela"), Some(run)),
            Path::new("/home/op/.local/share/sentinela/link.sock")
        );
        let deep = std::path::PathBuf::from(format!("/home/op/{}", "pasta/".repeat(20)));
        let linked = socket_path(&deep, Some(run));
        assert!(linked.starts_with(run) && linked.as_os_str().len() < 107, "{linked:?}");
        assert_ne!(
            linked,
            socket_path(&deep.join("outra"), Some(run)),
            "two data directories, two sockets"
        );
    }

    #[tokio::test]
    async fn an_oversized_message_is_refused() {
        let data = vec![b'x'; MAX_MESSAGE as usize + 10];
        let mut reader = BufReader::new(&data[..]);
        let err = read_message::<ToTray>(&mut reader, &mut Vec::new()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}

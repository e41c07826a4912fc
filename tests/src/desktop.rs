//! A private desktop for the real app's end-to-end tests: its own D-Bus session bus, an Xvfb
//! display, gnome-keyring's Secret Service (unlocked), the dunst notification daemon, a tray
//! host (see [`Tray`]), a `dbus-monitor` recording every desktop notification, and
//! `tauri-driver` speaking WebDriver to the app. Everything lives in a temp dir and dies with
//! the [`Desktop`].

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

/// Which kind of system tray the desktop has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tray {
    /// A tiny StatusNotifierWatcher (KDE, GNOME with AppIndicator, most panels today): the tray
    /// item is published on D-Bus and its menu can be driven over D-Bus (com.canonical.dbusmenu).
    StatusNotifier,
    /// `trayer`, an XEmbed system tray (older panels): with no StatusNotifierWatcher the app's
    /// indicator falls back to an X11 icon, drawn on screen, whose menu is a real GTK menu.
    XEmbed,
}

pub struct Desktop {
    pub dir: TempDir,
    pub display: String,
    pub bus: String,
    pub driver_port: u16,
    children: Vec<Child>,
}

/// Where the tests leave their screenshots (`target/screenshots`; the README shows copies in
/// `docs/screenshots`).
pub fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The direct children of `parent`, as (pid, process name), from /proc.
pub fn child_processes(parent: u32) -> Vec<(u32, String)> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // "pid (name) state ppid …": the name may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let ppid = stat[close + 1..].split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            children.push((pid, stat[open + 1..close].to_owned()));
        }
    }
    children
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Desktop {
    pub fn start() -> Desktop {
        Desktop::start_with(Tray::StatusNotifier)
    }

    pub fn start_with(tray: Tray) -> Desktop {
        let dir = tempfile::Builder::new().prefix("sentinela-desktop-").tempdir().unwrap();
        for sub in ["home", "run"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        std::fs::set_permissions(
            dir.path().join("run"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let mut d = Desktop {
            dir,
            display: String::new(),
            bus: String::new(),
            driver_port: free_port(),
            children: Vec::new(),
        };

        let (bus, address) = crate::keyring_session::spawn_session_bus();
        d.bus = address;
        d.children.push(bus);

        // Xvfb picks a free display itself and prints its number once it accepts connections,
        // so two desktops started at once cannot race for the same one.
        let mut xvfb = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("Xvfb (scripts/setup --test installs xvfb)");
        let mut number = String::new();
        BufReader::new(xvfb.stdout.take().unwrap()).read_line(&mut number).unwrap();
        d.display = format!(":{}", number.trim());
        assert!(
            number.trim().parse::<u32>().is_ok(),
            "Xvfb did not report its display: {number:?}"
        );
        d.children.push(xvfb);

        // The "system browser": a script that notes each address it is asked to open, for the
        // test to follow (xdg-open runs $BROWSER on a desktop it does not recognise).
        let browser = d.path("browser");
        std::fs::write(
            &browser,
            format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> {}\n", d.path("opened-urls").display()),
        )
        .unwrap();
        std::fs::set_permissions(&browser, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let _ = d
            .command("dbus-update-activation-environment")
            .args(["DISPLAY", "XDG_RUNTIME_DIR"])
            .status();
        d.start_keyring(&[]);
        let notifications = d.path("notifications.log");
        let log = std::fs::File::create(&notifications).unwrap();
        let monitor = spawn(
            d.command("dbus-monitor")
                .arg("interface='org.freedesktop.Notifications',member='Notify'")
                .stdout(log),
        );
        let dunst = spawn(&mut d.command("dunst"));
        d.children.extend([monitor, dunst]);
        match tray {
            Tray::StatusNotifier => {
                let tray = d.path("tray-items");
                std::fs::write(&tray, "").unwrap();
                let watcher = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e/sni_watcher.py");
                let mut w = d
                    .command("/usr/bin/python3")
                    .arg(watcher)
                    .arg(&tray)
                    .stdout(Stdio::piped())
                    .process_group(0)
                    .spawn()
                    .expect("python3-dbus");
                let mut ready = String::new();
                BufReader::new(w.stdout.take().unwrap()).read_line(&mut ready).unwrap();
                assert_eq!(ready.trim(), "ready", "the StatusNotifierWatcher started");
                d.children.push(w);
            }
            Tray::XEmbed => {
                let trayer = d
                    .command("trayer")
                    .args([
                        "--edge",
                        "top",
                        "--align",
                        "right",
                        "--widthtype",
                        "request",
                        "--height",
                        "32",
                    ])
                    .args(["--transparent", "false", "--tint", "0x303030"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .process_group(0)
                    .spawn()
                    .expect("trayer (scripts/setup --test installs it)");
                d.children.push(trayer);
            }
        }
        // Its own port for WebKitWebDriver too: the default (4445) may be held by another desktop.
        let (port, native_port) = (d.driver_port.to_string(), free_port().to_string());
        let driver =
            spawn(d.command("tauri-driver").args(["--port", &port, "--native-port", &native_port]));
        d.children.push(driver);
        wait_until("tauri-driver", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", d.driver_port)).is_ok()
        });
        d
    }

    /// gnome-keyring's Secret Service on this desktop's bus, unlocked.
    fn start_keyring(&self, extra: &[&str]) {
        crate::keyring_session::start_gnome_keyring(self.command("gnome-keyring-daemon"), extra);
    }

    /// Locks the login keyring, as it is before the user's session unlocks it: a read then waits
    /// for a password prompt.
    pub fn lock_keyring(&self) {
        let locked = self.gdbus(
            "org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            &["['/org/freedesktop/secrets/collection/login']"],
        );
        assert!(locked.contains("collection/login"), "the login keyring locked: {locked}");
    }

    /// Unlocks the login keyring with its password, as a login does: a new daemon takes over
    /// the bus name with the keyring open (the way PAM's gnome-keyring module starts it).
    pub fn unlock_keyring(&self) {
        self.start_keyring(&["--replace", "--daemonize"]);
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A command that runs inside this desktop (its bus, display, HOME and runtime dir).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("DISPLAY", &self.display)
            .env("HOME", self.path("home"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("XDG_CONFIG_HOME", self.path("home/.config"))
            .env("XDG_DATA_HOME", self.path("home/.local/share"))
            .env_remove("SENTINELA_IMAP_PASSWORD")
            .env_remove("SENTINELA_TWILIO_AUTH_TOKEN")
            .env("SENTINELA_LANG", "pt")
            .env("BROWSER", self.path("browser"))
            // A short outage threshold, so the "not watching" alarm is seen within the test.
            .env("SENTINELA_WATCH_ALARM_SECS", "3")
            .stdin(Stdio::null());
        c
    }

    /// The addresses the app asked the system browser to open, in order.
    pub fn opened_urls(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("opened-urls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Every desktop notification sent so far (dbus-monitor's record of `Notify` calls).
    pub fn notifications(&self) -> String {
        std::fs::read_to_string(self.path("notifications.log")).unwrap_or_default()
    }

    /// The first registered tray item: (bus name, object path).
    pub fn tray_item(&self) -> Option<(String, String)> {
        let items = std::fs::read_to_string(self.path("tray-items")).ok()?;
        let line = items.lines().next()?;
        let (name, path) = line.split_once(' ')?;
        Some((name.to_owned(), path.to_owned()))
    }

    /// `gdbus call` inside this desktop; returns its output.
    pub fn gdbus(&self, dest: &str, path: &str, method: &str, args: &[&str]) -> String {
        let out = self
            .command("gdbus")
            .args([
                "call",
                "--session",
                "--dest",
                dest,
                "--object-path",
                path,
                "--method",
                method,
                "--",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "gdbus {method}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Takes a screenshot of the whole display.
    pub fn screenshot(&self, to: &Path) {
        let _ = self.command("import").args(["-window", "root"]).arg(to).status();
    }

    /// Takes a screenshot of a part of the display: `width`×`height` from (`x`, `y`).
    pub fn screenshot_part(&self, to: &Path, (x, y, width, height): (i32, i32, u32, u32)) {
        let status = self
            .command("import")
            .args(["-window", "root", "-crop", &format!("{width}x{height}+{x}+{y}"), "+repage"])
            .arg(to)
            .status()
            .expect("import (ImageMagick)");
        assert!(status.success(), "screenshot {}", to.display());
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        // Each child leads its own process group, which takes its helpers (WebKitWebDriver under
        // tauri-driver, …) down with it instead of leaving them to hold ports for the next run.
        for c in self.children.iter_mut().rev() {
            let pgid = c.id() as libc::pid_t;
            assert!(pgid > 1, "refusing to signal process group {pgid}");
            // SAFETY: killpg has no memory-safety preconditions; the group is the child's own.
            unsafe { libc::killpg(pgid, libc::SIGKILL) };
            let _ = c.wait();
        }
    }
}

fn spawn(c: &mut Command) -> Child {
    c.stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {c:?}: {e}"))
}

pub fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A W3C WebDriver session (JSON over HTTP) with the app, through tauri-driver.
pub struct WebDriver {
    base: String,
    http: reqwest::Client,
}

impl WebDriver {
    /// Starts the app at `application` with `args` and opens a session on it.
    pub async fn launch(port: u16, application: &Path, args: &[String]) -> WebDriver {
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": application, "args": args}}}});
        let r: Value = http
            .post(format!("http://127.0.0.1:{port}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_owned();
        WebDriver { base: format!("http://127.0.0.1:{port}/session/{id}"), http }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        if v["value"].get("error").is_some() {
            panic!("WebDriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    async fn element(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).unwrap().to_owned()
    }

    pub async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{e}/click"), Some(json!({}))).await;
    }

    /// Replaces the value of an input or textarea, firing `input` so validation runs.
    pub async fn fill(&self, css: &str, value: &str) {
        self.execute(
            "const e = document.querySelector(arguments[0]); e.value = arguments[1]; e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true}));",
            json!([css, value]),
        )
        .await;
    }

    pub async fn text(&self, css: &str) -> String {
        let e = self.element(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    pub async fn window_handles(&self) -> Vec<String> {
        let v = self.call(reqwest::Method::GET, "/window/handles", None).await;
        v.as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_owned()).collect()
    }

    pub async fn switch_to(&self, handle: &str) {
        self.call(reqwest::Method::POST, "/window", Some(json!({"handle": handle}))).await;
    }

    /// Polls `script` (which returns a value) until `ok` accepts it.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        script: &str,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.execute(script, json!([])).await;
            if ok(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; last value {v}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn close(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

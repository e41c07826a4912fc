//! The desktop app's benchmark (`scripts/bench` runs it after the engine's): time from launch to
//! "watching", memory of the app with all its processes (WebKit's included) with the windows
//! closed, with the history open on 1,000 alerts and after closing it again, and how long the
//! history window takes to show them. Prints figures; asserts nothing about time. Runs in a private Xvfb desktop.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::Utc;
use sentinela_engine::config::Security;
use sentinela_engine::journal::{AlertJournal, MailboxUid, NewAlert};
use sentinela_engine::mail::parse_alert_mail;
use sentinela_tests::desktop::{child_processes, wait_until, Desktop, WebDriver};
use sentinela_tests::dovecot::{Dovecot, PASSWORD};
use sentinela_tests::workspace_binary;
use sentinela_tests::x11::X11;
use serde_json::json;

const ALERTS: u32 = 1000;

/// The process and all its descendants.
fn tree(root: u32) -> Vec<u32> {
    let mut all = vec![root];
    let mut i = 0;
    while i < all.len() {
        all.extend(child_processes(all[i]).into_iter().map(|(pid, _)| pid));
        i += 1;
    }
    all
}

/// The memory of a process tree, in MiB: RSS and PSS (which shares libraries fairly between
/// processes) in all, and PSS per process.
struct Footprint {
    rss: f64,
    pss: f64,
    processes: Vec<(String, f64)>,
}

impl Footprint {
    fn of(root: u32) -> Footprint {
        let mut f = Footprint { rss: 0.0, pss: 0.0, processes: Vec::new() };
        for pid in tree(root) {
            let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
                continue;
            };
            let mib = |key: &str| {
                let line = s.lines().find(|l| l.starts_with(key)).unwrap_or_default();
                line.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
                    / 1024.0
            };
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .unwrap_or_default()
                .trim()
                .to_owned();
            f.rss += mib("Rss:");
            f.pss += mib("Pss:");
            f.processes.push((name, mib("Pss:")));
        }
        f
    }
}

impl std::fmt::Display for Footprint {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let each: Vec<String> =
            self.processes.iter().map(|(name, pss)| format!("{name} {pss:.1}")).collect();
        write!(
            out,
            "RSS {:.1} MiB, PSS {:.1} MiB = {:.1} MB (PSS by process: {})",
            self.rss,
            self.pss,
            self.pss * 1.048576,
            each.join(", ")
        )
    }
}

async fn fill_journal(data: &std::path::Path) {
    let journal = AlertJournal::open_in_dir(data).unwrap();
    let alerts = (1..=ALERTS)
        .map(|uid| NewAlert {
            origin: MailboxUid { folder: "INBOX".into(), uidvalidity: 1, uid },
            mail: parse_alert_mail(format!("From: sensor@cpd\r\nSubject: ALERTA {uid}: Temperatura alta\r\n\r\nSala {uid}: 31 C\r\n").as_bytes(), false),
            received_at: Utc::now(),
        })
        .collect();
    journal.record(alerts, &sentinela_engine::incident::IncidentRules::default()).await.unwrap();
}

#[tokio::main]
async fn main() {
    let server = Dovecot::start();
    let desktop = Desktop::start();
    let config = desktop.path("sentinela.toml");
    let data = desktop.path("data");
    server.config(Security::Tls).save(&config).unwrap();
    fill_journal(&data).await;
    let app = workspace_binary("sentinela");
    let args = [
        "--config".to_owned(),
        config.display().to_string(),
        "--data-dir".to_owned(),
        data.display().to_string(),
    ];

    // 1. Launch → watching, windows closed.
    let started = Instant::now();
    let mut child = desktop
        .command(&app)
        .args(&args)
        .env("SENTINELA_IMAP_PASSWORD", PASSWORD)
        .env("SENTINELA_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let watching = loop {
        let line = lines.next().expect("the app ended before watching").unwrap();
        if line.contains("mailbox: watching") {
            break started.elapsed();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    std::thread::sleep(Duration::from_secs(5));
    let closed = Footprint::of(child.id());

    // 2. The history open on 1,000 alerts (a second launch asks the running app to show it; the
    //    tray starts the window's process, counted here as its child).
    let x = X11::connect(&desktop.display);
    let asked = Instant::now();
    let status = desktop.command(&app).args(&args).args(["--open", "history"]).status().unwrap();
    assert!(status.success());
    wait_until("the history window on screen", Duration::from_secs(20), || {
        !x.windows_titled("Sentinela — Histórico").is_empty()
    });
    let window_shown = asked.elapsed();
    std::thread::sleep(Duration::from_secs(6));
    let open = Footprint::of(child.id());

    // 3. Closed again (its ×, as a window manager sends it): the window's process ends.
    let window =
        x.windows_titled("Sentinela — Histórico").pop().expect("the history window is on screen");
    x.close(window.window);
    wait_until("the history window to close", Duration::from_secs(20), || {
        x.windows_titled("Sentinela — Histórico").is_empty()
    });
    std::thread::sleep(Duration::from_secs(5));
    let reclosed = Footprint::of(child.id());
    let _ = child.kill();
    let _ = child.wait();

    // 4. How long the history window takes to show the 1,000 alerts (through WebDriver).
    let mut shown = Vec::new();
    for _ in 0..3 {
        // The window's own process, as the tray starts it (WebDriver drives only what it starts).
        let mut window = args.to_vec();
        window.extend(["--window".to_owned(), "history".to_owned()]);
        let wd = WebDriver::launch(desktop.driver_port, &app, &window).await;
        let v = wd
            .wait_for("the history list", Duration::from_secs(30), "return document.body.dataset.rows ? [document.body.dataset.rows, document.body.dataset.reloadMs, document.body.dataset.shownAtMs] : null", |v| !v.is_null())
            .await;
        assert_eq!(v[0], json!(ALERTS.to_string()));
        shown.push((
            v[1].as_str().unwrap().parse::<u64>().unwrap(),
            v[2].as_str().unwrap().parse::<u64>().unwrap(),
        ));
        wd.close().await;
        wait_until("the app to exit", Duration::from_secs(10), || {
            !std::process::Command::new("pgrep")
                .args(["-f", &data.display().to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        });
    }

    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!("\n5. The desktop app ({profile} build; Xvfb, no window manager)");
    println!("   launch → watching the mailbox: {:.0} ms", watching.as_secs_f64() * 1000.0);
    println!("   memory, no window opened yet:    {closed}");
    println!(
        "   second launch --open history → the window (its own process) on screen: {:.0} ms",
        window_shown.as_secs_f64() * 1000.0
    );
    println!("   memory, history open on {ALERTS} alerts: {open}");
    println!("   memory, history closed again:    {reclosed}");
    for (i, (reload, at)) in shown.iter().enumerate() {
        println!("   history run {}: {ALERTS} alerts fetched and rendered in {reload} ms; list shown {at} ms after the window's navigation started", i + 1);
    }
}

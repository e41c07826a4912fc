//! `scripts/package --test`: checks the built packages as an administrator and a user meet them.
//! Not part of `scripts/test` (it needs a release build and installs system-wide); prints what it
//! checked and the figures, and fails loudly on the first broken promise.
//!
//! 1. `apt-get install ./sentinela_….deb` — which proves the declared dependencies resolve.
//! 2. The installed binaries answer `--version`; the menu entry, the icon and the (disabled)
//!    systemd unit are where they belong; `systemd-analyze verify` accepts the unit.
//! 3. The installed `sentinela` starts under the same Xvfb/D-Bus harness as the e2e tests: its
//!    tray item registers and, with no configuration yet, the settings window opens.
//! 4. The installed `sentinela-headless check` logs in to the test Dovecot.
//! 5. `apt-get remove` leaves the user's configuration and journal alone.
//! 6. The .rpm's metadata and file list (`rpm -qip`, `rpm -qlp`).
//!
//! Usage: sentinela-package-check <deb> <rpm>

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sentinela_engine::config::Security;
use sentinela_tests::desktop::{wait_until, Desktop};
use sentinela_tests::dovecot::{Dovecot, PASSWORD};
use sentinela_tests::x11::X11;

// An installed package's first start (WebKit building its caches) takes longer than a test's.
const FIRST_START: Duration = Duration::from_secs(60);

fn run(program: &str, args: &[&str]) -> String {
    let out =
        Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

fn apt(args: &[&str]) -> String {
    let mut all = vec!["-y", "-q", "-o", "DPkg::Lock::Timeout=300"];
    all.extend_from_slice(args);
    let out = Command::new("apt-get")
        .args(&all)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "apt-get {args:?} failed:\n{text}");
    text
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [deb, rpm] = args.as_slice() else { panic!("usage: sentinela-package-check <deb> <rpm>") };
    let version = env!("CARGO_PKG_VERSION");
    let size = |p: &str| std::fs::metadata(p).unwrap().len() as f64 / 1_048_576.0;
    println!("Sentinela package check — {version}");

    // 1. Install.
    let _ = Command::new("apt-get").args(["remove", "-y", "-q", "sentinela"]).output();
    let installing = Instant::now();
    apt(&["install", deb]);
    let installed_in = installing.elapsed();
    let installed_kib = run("dpkg-query", &["-W", "-f=${Installed-Size}", "sentinela"]);
    println!(
        "1. apt-get install: {:.1} s; installed size {:.1} MiB",
        installed_in.as_secs_f64(),
        installed_kib.trim().parse::<f64>().unwrap_or(0.0) / 1024.0
    );

    // 2. What the package put where.
    for bin in ["/usr/bin/sentinela", "/usr/bin/sentinela-headless"] {
        let v = run(bin, &["--version"]);
        assert!(v.contains(version), "{bin} --version: {v}");
    }
    let desktop_file = run("dpkg", &["-L", "sentinela"])
        .lines()
        .find(|l| l.ends_with(".desktop"))
        .expect("a .desktop entry")
        .to_owned();
    let entry = std::fs::read_to_string(&desktop_file).unwrap();
    for want in
        ["Exec=sentinela", "Categories=Office;System;", "Comment[pt_BR]=", "GenericName[pt_BR]="]
    {
        assert!(entry.contains(want), "{desktop_file} lacks {want}:\n{entry}");
    }
    let unit = "/usr/lib/systemd/system/sentinela-headless.service";
    assert!(Path::new(unit).exists(), "the unit is installed");
    assert!(
        !Path::new("/etc/systemd/system/multi-user.target.wants/sentinela-headless.service")
            .exists(),
        "and not enabled"
    );
    run("systemd-analyze", &["verify", unit]);
    let security = run("systemd-analyze", &["security", "--offline=true", unit]);
    let score = security
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    println!("2. --version, the menu entry ({desktop_file}), the unit (disabled; systemd-analyze verify passes; {score})");

    // 3. The installed app on a desktop: first start, no configuration.
    let desktop = Desktop::start();
    let x = X11::connect(&desktop.display);
    let started = Instant::now();
    let mut app =
        desktop.command("/usr/bin/sentinela").stderr(std::process::Stdio::null()).spawn().unwrap();
    wait_until("the tray item", FIRST_START, || desktop.tray_item().is_some());
    let tray_in = started.elapsed();
    wait_until("the settings window (first start)", FIRST_START, || {
        !x.windows_titled("Sentinela — Configurações").is_empty()
    });
    println!(
        "3. installed app: tray icon registered {:.1} s after launch ({:.1} s after apt-get install began); the settings window opened on first start",
        tray_in.as_secs_f64(),
        (installed_in + tray_in).as_secs_f64()
    );
    let _ = app.kill();
    let _ = app.wait();

    // 4. The installed engine against a real mailbox; its configuration is the user's file.
    let server = Dovecot::start();
    let config = desktop.path("home/.config/sentinela/sentinela.toml");
    server.config(Security::Tls).save(&config).unwrap();
    let check = Command::new("/usr/bin/sentinela-headless")
        .args(["check", "--config"])
        .arg(&config)
        .env("SENTINELA_IMAP_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && out.contains("Mailbox: logged in"),
        "{out}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    println!("4. installed sentinela-headless check: logged in to the test Dovecot");

    // 5. Removing the package keeps the user's files.
    let data = desktop.path("home/.local/share/sentinela");
    let journal = sentinela_engine::journal::AlertJournal::open_in_dir(&data).unwrap();
    drop(journal);
    apt(&["remove", "sentinela"]);
    assert!(!Path::new("/usr/bin/sentinela").exists(), "the binary is gone");
    assert!(
        config.exists() && data.join("sentinela.db").exists(),
        "the configuration and the journal stay"
    );
    println!("5. apt-get remove: binaries gone; {} and {} kept", config.display(), data.display());

    // 6. The rpm.
    let info = run("rpm", &["-qip", rpm]);
    assert!(info.contains(version) && info.contains("Sentinela"), "{info}");
    let files = run("rpm", &["-qlp", rpm]);
    for want in ["/usr/bin/sentinela", "/usr/bin/sentinela-headless", unit] {
        assert!(files.lines().any(|l| l == want), "the rpm lacks {want}:\n{files}");
    }
    let requires = run("rpm", &["-qpR", rpm]);
    for want in [
        "libwebkit2gtk-4.1.so.0()(64bit)",
        "libgtk-3.so.0()(64bit)",
        "libssl.so.3()(64bit)",
        "libayatana-appindicator3.so.1()(64bit)",
    ] {
        assert!(
            requires.lines().any(|l| l.trim() == want),
            "the rpm does not require {want}:\n{requires}"
        );
    }
    println!("6. rpm -qip / -qlp / -qpR: metadata, files, and the shared libraries it requires by soname");
    println!("\nPackage sizes: .deb {:.1} MiB, .rpm {:.1} MiB", size(deb), size(rpm));
}

//! The app's command line is read before any window exists, so mistakes are reported without a
//! desktop. (Being an integration test, it also makes `cargo test --workspace` build the
//! `sentinela` binary that the end-to-end tests in `tests/` launch.)

use std::process::Command;

#[test]
fn an_unknown_window_is_refused_with_the_choices() {
    let o = Command::new(env!("CARGO_BIN_EXE_sentinela"))
        .args(["--open", "alertas"])
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("settings") && err.contains("history"), "{err}");
}

#[test]
fn help_lists_the_options_shared_with_sentinela_headless() {
    let o = Command::new(env!("CARGO_BIN_EXE_sentinela"))
        .arg("--help")
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for option in ["--config", "--data-dir", "--open"] {
        assert!(out.contains(option), "{out}");
    }
}

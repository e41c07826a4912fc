//! `sentinela-headless` refuses a bad setup before touching the network, with a message that
//! names the file or field and the fix. (Being an integration test of this package, it also
//! makes `cargo test --workspace` build the binary that the tests in `tests/` drive.)

use std::process::Command;

fn headless() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sentinela-headless"));
    c.env_remove("SENTINELA_IMAP_PASSWORD").env_remove("SENTINELA_TWILIO_AUTH_TOKEN");
    c
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nao-existe.toml");
    let o = headless().arg("run").arg("--config").arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read the configuration file")
            && stderr(&o).contains("nao-existe.toml"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_invalid_field_is_named_with_its_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sentinela.toml");
    std::fs::write(
        &path,
        "[mailbox]\nhost = \"imap.example.com\"\nusername = \"a@b\"\nsecurity = \"plain\"\n[filter]\nfrom = \"s@x\"\nsubject = \"ALERTA\"\n",
    )
    .unwrap();
    let o = headless().arg("check").arg("--config").arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("`mailbox.security`") && e.contains("Fix:") && e.contains("starttls"),
        "{e}"
    );
}

#[test]
fn an_invalid_phone_number_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sentinela.toml");
    std::fs::write(
        &path,
        "[mailbox]\nhost = \"imap.example.com\"\nusername = \"a@b\"\n[filter]\nfrom = \"s@x\"\nsubject = \"ALERTA\"\n\
         [twilio]\naccount_sid = \"AC0123456789abcdef0123456789abcdef\"\n\
         [calls]\nfrom = \"+14155238886\"\nto = [\"(11) 99999-0001\", \"(11) 1234\"]\n",
    )
    .unwrap();
    let o = headless().arg("run").arg("--config").arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("`calls.to`") && e.contains("\"(11) 1234\""), "{e}");
}

#[test]
fn an_unknown_secret_name_is_refused() {
    let o = headless().args(["store-secret", "smtp-password"]).output().unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("imap-password"), "the valid names are listed: {}", stderr(&o));
}

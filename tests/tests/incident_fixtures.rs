//! The incident key against e-mails shaped like what each device family sends
//! (`tests/fixtures/incidents/<family>/`), parsed as the watcher parses them. In each family's
//! folder the numbered files are one problem — the alarm, its repeats, its recovery (the file name
//! says which) — and every `other-*` file is a different problem of the same device.

use std::path::PathBuf;

use sentinela_engine::incident::key::{read, KeyRules, Signal};
use sentinela_engine::mail::parse_alert_mail;
use sentinela_tests::fixtures_dir;

#[test]
fn every_family_groups_its_problem_and_keeps_others_apart() {
    let root = fixtures_dir().join("incidents");
    let mut families: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    families.sort();
    assert!(families.len() >= 10, "a folder per family: {families:?}");
    for family in families {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(&family).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let name = |p: &PathBuf| p.file_stem().unwrap().to_string_lossy().into_owned();
        let reading = |p: &PathBuf| {
            let mail = parse_alert_mail(&std::fs::read(p).unwrap(), false);
            (read(&mail.sender, &mail.subject, &mail.body, &KeyRules::default()), mail.subject)
        };
        let (problem, _) = reading(&files[0]);
        for file in &files {
            let (r, subject) = reading(file);
            let n = name(file);
            let what =
                format!("{}/{n} ({subject:?})", family.file_name().unwrap().to_string_lossy());
            if n.starts_with("other") {
                assert_ne!(r.key, problem.key, "{what} is another problem");
                continue;
            }
            assert_eq!(r.key, problem.key, "{what} joins the family's problem");
            let want = if n.ends_with("recovery") { Signal::Recovery } else { Signal::Alarm };
            assert_eq!(r.signal, want, "{what}");
        }
    }
}

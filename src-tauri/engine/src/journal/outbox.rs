//! The local outbox: where a workstation on a shared journal keeps the alerts it found while the
//! database was out of its reach, until the database takes them.
//!
//! A small SQLite file in the data directory (`outbox.db`, WAL, `synchronous = FULL`), one row
//! per e-mail keyed by its mailbox identity, so holding the same e-mail at every scan keeps one
//! row. The e-mails themselves stay unread in the mailbox meanwhile: a workstation that does
//! reach the database journals them (and its `\Seen` takes them out of everybody's search), and
//! this one's [`crate::outbox_drain::OutboxDrain`] records what it holds as soon as the database answers again. The
//! journal's unique sightings make that catch-up free of duplicates: an e-mail another
//! workstation journaled meanwhile becomes a sighting of the same alert, never a second one.

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{parse_ts, ts, JournalError, MailboxUid, NewAlert};
use crate::mail::AlertMail;

/// Name of the outbox file inside the data directory.
pub const OUTBOX_FILE: &str = "outbox.db";

/// An alert held in the outbox.
#[derive(Debug, Clone)]
pub struct HeldAlert {
    pub alert: NewAlert,
    pub held_at: DateTime<Utc>,
    /// When the memory notifier was handed it (the database stayed out of reach past the grace).
    pub told_at: Option<DateTime<Utc>>,
    /// Who answered the memory notifier's call for it: the incident is theirs at hand-over.
    pub answer: Option<MemoryAnswer>,
}

/// A person who answered a call made from memory (and heard the alert read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryAnswer {
    /// Their name in `[people]`, else the number.
    pub by: String,
    pub number: String,
}

/// Handle to the outbox file; clones share one connection.
#[derive(Clone)]
pub struct LocalOutbox {
    conn: Arc<Mutex<rusqlite::Connection>>,
}

impl std::fmt::Debug for LocalOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalOutbox")
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS held_alerts (
    folder      TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    subject     TEXT NOT NULL,
    sender      TEXT NOT NULL,
    sent_at     TEXT,
    message_id  TEXT,
    body        TEXT NOT NULL,
    truncated   INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    held_at     TEXT NOT NULL,
    told_at     TEXT,
    PRIMARY KEY (folder, uidvalidity, uid)
);";

/// Steps from the first schema, by `PRAGMA user_version`; a new file takes them all.
const MIGRATIONS: &[&str] = &[
    // 1: who answered the call made from memory.
    "ALTER TABLE held_alerts ADD COLUMN answered_by TEXT; ALTER TABLE held_alerts ADD COLUMN answered_number TEXT;",
    // 2: the highest UID the journal is known to hold, per folder and UIDVALIDITY.
    "CREATE TABLE journaled_marks (folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL, highest_uid INTEGER NOT NULL, PRIMARY KEY (folder, uidvalidity));",
];

fn migrate(conn: &mut rusqlite::Connection) -> rusqlite::Result<()> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

impl LocalOutbox {
    /// Opens (creating if needed) `outbox.db` in `data_dir`, readable by this user only.
    pub fn open_in_dir(data_dir: &Path) -> Result<Self, JournalError> {
        let path = super::private_sqlite_file(data_dir, OUTBOX_FILE)?;
        let open_err = |source: rusqlite::Error| JournalError::Open {
            path: path.display().to_string(),
            source: source.into(),
        };
        let mut conn = rusqlite::Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(super::BUSY_TIMEOUT).map_err(open_err)?;
        super::use_wal(&conn).map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        migrate(&mut conn).map_err(open_err)?;
        Ok(LocalOutbox { conn: Arc::new(Mutex::new(conn)) })
    }

    async fn call<R, F>(&self, f: F) -> Result<R, JournalError>
    where
        R: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || f(&mut conn.lock().unwrap_or_else(|p| p.into_inner())))
            .await
            .map_err(|e| JournalError::Task(e.to_string()))?
            .map_err(|e| JournalError::Sql(e.into()))
    }

    /// Keeps `alerts` until the shared journal takes them. An e-mail held already keeps its row
    /// (and the time it was first held).
    pub async fn hold(&self, alerts: Vec<NewAlert>) -> Result<(), JournalError> {
        if alerts.is_empty() {
            return Ok(());
        }
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let now = ts(Utc::now());
            for a in &alerts {
                let (o, m) = (&a.origin, &a.mail);
                tx.execute(
                    "INSERT INTO held_alerts (folder, uidvalidity, uid, subject, sender, sent_at, message_id, body, truncated, received_at, held_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT DO NOTHING",
                    params![o.folder, o.uidvalidity, o.uid, m.subject, m.sender, m.sent_at.map(ts), m.message_id, m.body, m.truncated, ts(a.received_at), now],
                )?;
            }
            tx.commit()
        })
        .await
    }

    /// Notes that the journal holds the e-mail `uid` of this folder (and so, as far as this
    /// workstation needs to know, every older one): kept as the highest such UID.
    pub async fn mark_journaled(
        &self,
        folder: &str,
        uidvalidity: u32,
        uid: u32,
    ) -> Result<(), JournalError> {
        let folder = folder.to_owned();
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO journaled_marks (folder, uidvalidity, highest_uid) VALUES (?1, ?2, ?3)
                 ON CONFLICT (folder, uidvalidity) DO UPDATE SET highest_uid = MAX(highest_uid, excluded.highest_uid)",
                params![folder, uidvalidity, uid],
            )
            .map(drop)
        })
        .await
    }

    /// The highest UID of this folder the journal was known to hold when it was last reached.
    /// While it is out of reach, unread e-mails up to it are old news (left unread by
    /// `mark_seen = false`, or a folder that refuses STORE), not alerts to hold and tell again.
    pub async fn journaled_up_to(
        &self,
        folder: &str,
        uidvalidity: u32,
    ) -> Result<Option<u32>, JournalError> {
        let folder = folder.to_owned();
        self.call(move |conn| {
            conn.query_row(
                "SELECT highest_uid FROM journaled_marks WHERE folder = ?1 AND uidvalidity = ?2",
                params![folder, uidvalidity],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    /// Everything held, oldest first.
    pub async fn held(&self) -> Result<Vec<HeldAlert>, JournalError> {
        self.call(|conn| {
            let mut stmt = conn.prepare(
                "SELECT folder, uidvalidity, uid, subject, sender, sent_at, message_id, body, truncated, received_at, held_at, told_at,
                        answered_by, answered_number
                 FROM held_alerts ORDER BY held_at, uid",
            )?;
            let rows = stmt.query_map([], |r| {
                let origin = MailboxUid { folder: r.get(0)?, uidvalidity: r.get(1)?, uid: r.get(2)? };
                let mail = AlertMail {
                    subject: r.get(3)?,
                    sender: r.get(4)?,
                    sent_at: r.get::<_, Option<String>>(5)?.map(parse_ts),
                    message_id: r.get(6)?,
                    body: r.get(7)?,
                    truncated: r.get(8)?,
                };
                Ok(HeldAlert {
                    alert: NewAlert { origin, mail, received_at: parse_ts(r.get(9)?) },
                    held_at: parse_ts(r.get(10)?),
                    told_at: r.get::<_, Option<String>>(11)?.map(parse_ts),
                    answer: match (r.get::<_, Option<String>>(12)?, r.get::<_, Option<String>>(13)?) {
                        (Some(by), Some(number)) => Some(MemoryAnswer { by, number }),
                        _ => None,
                    },
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Whether this e-mail is held.
    pub async fn holds(&self, origin: &MailboxUid) -> Result<bool, JournalError> {
        let o = origin.clone();
        self.call(move |conn| {
            conn.query_row(
                "SELECT 1 FROM held_alerts WHERE folder = ?1 AND uidvalidity = ?2 AND uid = ?3",
                params![o.folder, o.uidvalidity, o.uid],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
        })
        .await
    }

    /// Notes that these held alerts went to the memory notifier.
    pub async fn mark_told(&self, origins: Vec<MailboxUid>) -> Result<(), JournalError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let now = ts(Utc::now());
            for o in &origins {
                tx.execute("UPDATE held_alerts SET told_at = ?4 WHERE folder = ?1 AND uidvalidity = ?2 AND uid = ?3", params![o.folder, o.uidvalidity, o.uid, now])?;
            }
            tx.commit()
        })
        .await
    }

    /// Notes who answered the memory notifier's call for this alert. False when it is not held
    /// (any more): the journal has it.
    pub async fn mark_answered(
        &self,
        origin: &MailboxUid,
        answer: &MemoryAnswer,
    ) -> Result<bool, JournalError> {
        let (o, a) = (origin.clone(), answer.clone());
        self.call(move |conn| {
            conn.execute(
                "UPDATE held_alerts SET answered_by = ?4, answered_number = ?5 WHERE folder = ?1 AND uidvalidity = ?2 AND uid = ?3",
                params![o.folder, o.uidvalidity, o.uid, a.by, a.number],
            )
            .map(|n| n > 0)
        })
        .await
    }

    /// Forgets these alerts, as they were read: the shared journal has them. One answered since
    /// it was read stays, for the next hand-over to carry the answer.
    pub async fn release(&self, held: Vec<HeldAlert>) -> Result<(), JournalError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            for h in &held {
                let o = &h.alert.origin;
                tx.execute(
                    "DELETE FROM held_alerts WHERE folder = ?1 AND uidvalidity = ?2 AND uid = ?3 AND answered_number IS ?4",
                    params![o.folder, o.uidvalidity, o.uid, h.answer.as_ref().map(|a| a.number.clone())],
                )?;
            }
            tx.commit()
        })
        .await
    }

    pub async fn held_count(&self) -> Result<usize, JournalError> {
        self.call(|conn| {
            conn.query_row("SELECT COUNT(*) FROM held_alerts", [], |r| r.get::<_, i64>(0))
        })
        .await
        .map(|n| n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EngineEvent, EventBus};
    use crate::incident::IncidentRules;
    use crate::incident::{AckVia, EscalationState, IncidentState};
    use crate::journal::ActionOutcome;
    use crate::journal::AlertJournal;
    use crate::notify::planner::{plan, PlanPolicy};
    use crate::outbox_drain::OutboxDrain;

    fn alert(uid: u32, subject: &str) -> NewAlert {
        NewAlert {
            origin: MailboxUid { folder: "INBOX".into(), uidvalidity: 7, uid },
            mail: AlertMail {
                subject: subject.into(),
                sender: "sensor@cpd.example".into(),
                sent_at: Some(Utc::now()),
                message_id: Some(format!("m{uid}@sensor")),
                body: "Temperatura 41 °C — <sala> & \"rack\"".into(),
                truncated: uid.is_multiple_of(2),
            },
            received_at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn an_e_mail_held_at_every_scan_is_one_row_kept_as_given_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = LocalOutbox::open_in_dir(dir.path()).unwrap();
        outbox.hold(vec![alert(1, "ALARME"), alert(2, "ALARME 2")]).await.unwrap();
        let first = outbox.held().await.unwrap();
        outbox.hold(vec![alert(1, "ALARME")]).await.unwrap();
        assert_eq!(outbox.held_count().await.unwrap(), 2);
        let again = outbox.held().await.unwrap();
        assert_eq!(again[0].held_at, first[0].held_at, "held again keeps the first time");
        let a = &again[1].alert;
        assert_eq!(
            (a.origin.uid, a.mail.subject.as_str(), a.mail.body.as_str(), a.mail.truncated),
            (2, "ALARME 2", "Temperatura 41 °C — <sala> & \"rack\"", true)
        );
        assert_eq!(a.mail.message_id.as_deref(), Some("m2@sensor"));
        assert!(outbox.holds(&a.origin).await.unwrap());

        outbox.mark_told(vec![a.origin.clone()]).await.unwrap();
        outbox.release(vec![first[0].clone()]).await.unwrap();
        let left = outbox.held().await.unwrap();
        assert_eq!(left.len(), 1);
        assert!(left[0].told_at.is_some());
        assert!(!outbox.holds(&first[0].alert.origin).await.unwrap());

        // Durable: a new handle on the same file sees the same rows.
        drop(outbox);
        assert_eq!(LocalOutbox::open_in_dir(dir.path()).unwrap().held_count().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn the_drain_journals_what_is_held_once_and_an_e_mail_journaled_meanwhile_is_a_sighting()
    {
        let dir = tempfile::tempdir().unwrap();
        let outbox = LocalOutbox::open_in_dir(dir.path()).unwrap();
        let journal = AlertJournal::open_in_memory().unwrap();
        let rules = IncidentRules::default();
        // Another workstation journaled e-mail 1 while this one could not reach the database.
        let elsewhere = journal.record(vec![alert(1, "ALARME")], &rules).await.unwrap();
        outbox.hold(vec![alert(1, "ALARME"), alert(3, "FUMAÇA")]).await.unwrap();
        outbox.mark_told(vec![alert(3, "").origin]).await.unwrap();
        let events = EventBus::default();
        let mut rx = events.subscribe();
        let drain = OutboxDrain {
            outbox: outbox.clone(),
            journal: journal.clone(),
            rules: rules.clone(),
            events,
        };

        assert_eq!(drain.drain_once().await.unwrap(), 1, "only e-mail 3 is new");
        assert_eq!(outbox.held_count().await.unwrap(), 0);
        assert_eq!(drain.drain_once().await.unwrap(), 0);
        let all = journal.alerts(10).await.unwrap();
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(all.iter().any(|a| a.id == elsewhere[0].alert_id() && a.origin.uid == 1));
        let three = all.iter().find(|a| a.origin.uid == 3).unwrap();
        assert!(journal
            .events_of(three.id)
            .await
            .unwrap()
            .iter()
            .any(|e| e.kind == "told_from_memory"));
        match rx.try_recv() {
            Ok(EngineEvent::AlertRecorded(n)) => assert_eq!((n.id, n.uid), (three.id, 3)),
            other => panic!("expected the new alert announced, got {other:?}"),
        }
    }

    fn ana() -> MemoryAnswer {
        MemoryAnswer { by: "Ana".into(), number: "+5511999990001".into() }
    }

    /// Answered while held: the hand-over opens the incident already taken by who answered, in
    /// the same commit, so nothing is owed for it — no second alarm, no calls.
    #[tokio::test]
    async fn an_alert_answered_from_memory_is_handed_over_taken_by_who_answered() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = LocalOutbox::open_in_dir(dir.path()).unwrap();
        let journal = AlertJournal::open_in_memory().unwrap();
        let rules = IncidentRules::default();
        outbox.hold(vec![alert(3, "FUMAÇA"), alert(5, "ÁGUA")]).await.unwrap();
        outbox.mark_told(vec![alert(3, "").origin]).await.unwrap();
        assert!(outbox.mark_answered(&alert(3, "").origin, &ana()).await.unwrap());
        let drain = OutboxDrain {
            outbox: outbox.clone(),
            journal: journal.clone(),
            rules,
            events: EventBus::default(),
        };
        assert_eq!(drain.drain_once().await.unwrap(), 2);

        let incidents = journal.incidents(10, None, false).await.unwrap();
        let smoke = incidents.iter().find(|i| i.title.contains("FUMAÇA")).unwrap();
        let water = incidents.iter().find(|i| i.title.contains("ÁGUA")).unwrap();
        assert_eq!(
            (smoke.state, smoke.acknowledged_by.as_deref(), smoke.acknowledged_via),
            (IncidentState::Acknowledged, Some("Ana"), Some(AckVia::Call))
        );
        assert_eq!(water.state, IncidentState::Open, "the unanswered one escalates as usual");
        plan(&journal, PlanPolicy::plain(&["+5511999990001"])).await.unwrap();
        let escalation = |id| {
            let j = journal.clone();
            async move { j.incident(id).await.unwrap().unwrap().escalation }
        };
        assert_eq!(
            (escalation(smoke.id).await, escalation(water.id).await),
            (EscalationState::Answered, EscalationState::Owed)
        );
        assert!(
            journal.deliveries_of(smoke.id).await.unwrap().is_empty(),
            "no second alarm for the one taken"
        );
        assert_eq!(journal.deliveries_of(water.id).await.unwrap().len(), 1);
        let three =
            journal.alerts(10).await.unwrap().into_iter().find(|a| a.origin.uid == 3).unwrap();
        let told = journal
            .events_of(three.id)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.kind == "told_from_memory")
            .unwrap();
        assert!(told.detail.contains("Ana (+5511999990001) answered"), "{}", told.detail);
    }

    /// Answered between the drain's read and its release: the row stays with the answer, and
    /// the next hand-over — a sighting now — takes the incident for who answered.
    #[tokio::test]
    async fn an_answer_that_lands_during_a_hand_over_is_carried_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = LocalOutbox::open_in_dir(dir.path()).unwrap();
        let journal = AlertJournal::open_in_memory().unwrap();
        let rules = IncidentRules::default();
        outbox.hold(vec![alert(3, "FUMAÇA")]).await.unwrap();
        let read = outbox.held().await.unwrap();
        journal.record(vec![read[0].alert.clone()], &rules).await.unwrap();
        outbox.mark_answered(&read[0].alert.origin, &ana()).await.unwrap();
        outbox.release(read).await.unwrap();
        assert_eq!(outbox.held_count().await.unwrap(), 1, "the answered row stays");

        let drain = OutboxDrain {
            outbox: outbox.clone(),
            journal: journal.clone(),
            rules,
            events: EventBus::default(),
        };
        assert_eq!(drain.drain_once().await.unwrap(), 0, "a sighting, not a second alert");
        assert_eq!(outbox.held_count().await.unwrap(), 0);
        let incidents = journal.incidents(10, None, false).await.unwrap();
        assert_eq!(incidents.len(), 1);
        assert_eq!(
            (incidents[0].state, incidents[0].acknowledged_by.as_deref()),
            (IncidentState::Acknowledged, Some("Ana"))
        );
    }

    /// Answered after the hand-over: the journal has the e-mail, and the ack goes straight there.
    #[tokio::test]
    async fn an_answer_after_the_hand_over_takes_the_journaled_incident() {
        let journal = AlertJournal::open_in_memory().unwrap();
        let a = alert(3, "FUMAÇA");
        assert_eq!(
            journal.acknowledge_from_memory(a.origin.clone(), ana()).await.unwrap(),
            ActionOutcome::NotFound
        );
        journal.record(vec![a.clone()], &IncidentRules::default()).await.unwrap();
        assert_eq!(
            journal.acknowledge_from_memory(a.origin.clone(), ana()).await.unwrap(),
            ActionOutcome::Done
        );
        assert_eq!(
            journal.acknowledge_from_memory(a.origin, ana()).await.unwrap(),
            ActionOutcome::AlreadyAcknowledged
        );
        let i = &journal.incidents(10, None, false).await.unwrap()[0];
        assert_eq!(
            (i.state, i.acknowledged_by.as_deref(), i.escalation),
            (IncidentState::Acknowledged, Some("Ana"), EscalationState::Answered)
        );
    }

    /// An outbox file from before the answer columns keeps its rows and gains them.
    #[tokio::test]
    async fn an_older_outbox_file_is_migrated_with_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = rusqlite::Connection::open(dir.path().join(OUTBOX_FILE)).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute(
                "INSERT INTO held_alerts (folder, uidvalidity, uid, subject, sender, body, truncated, received_at, held_at) VALUES ('INBOX', 7, 9, 'ALARME', 's@x', 'b', 0, ?1, ?1)",
                params![ts(Utc::now())],
            )
            .unwrap();
        }
        let outbox = LocalOutbox::open_in_dir(dir.path()).unwrap();
        let held = outbox.held().await.unwrap();
        assert_eq!((held.len(), held[0].alert.origin.uid, held[0].answer.clone()), (1, 9, None));
        assert!(outbox.mark_answered(&held[0].alert.origin, &ana()).await.unwrap());
        drop(outbox);
        assert_eq!(
            LocalOutbox::open_in_dir(dir.path()).unwrap().held().await.unwrap()[0].answer,
            Some(ana()),
            "opened again, not migrated twice"
        );
    }
}

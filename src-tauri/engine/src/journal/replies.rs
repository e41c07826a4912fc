//! Replies in the journal, by WhatsApp or SMS: each read once (by its Twilio SID), whatever
//! restarts happen, and turned into an acknowledgement or a note on the incident it is about.

use super::sql::{params, OptionalExtension, Sql, SqlExt, SqlResult};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::incidents::acknowledge_from;
use super::{parse_ts, ts, ActionOutcome, AlertJournal, JournalError};
use crate::incident::reply::{self, ReplyIntent};
use crate::incident::{AckVia, IncidentEventKind, IncidentId, IncidentState};
use crate::model::Channel;

/// A reply as read from Twilio's message list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub sid: String,
    /// E.164, without `whatsapp:`.
    pub from: String,
    pub body: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub channel: Channel,
}

impl Reply {
    /// How an incident this reply takes was taken.
    fn via(&self) -> AckVia {
        match self.channel {
            Channel::Whatsapp => AckVia::Whatsapp,
            Channel::Sms => AckVia::Sms,
        }
    }
}

/// What a reply did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReplyOutcome {
    /// It took this incident.
    Took { incident: IncidentId },
    /// It named an incident already taken or over: kept as a note on it.
    Late { incident: IncidentId },
    /// A note on this incident (or on none, when nothing had reached that person).
    Note { incident: Option<IncidentId> },
    /// From a number that is not among the recipients: takes nothing.
    Stranger,
    /// Already handled (listed again after a restart).
    Seen,
}

impl ReplyOutcome {
    fn action(&self) -> &'static str {
        match self {
            ReplyOutcome::Took { .. } => "took",
            ReplyOutcome::Late { .. } => "late",
            ReplyOutcome::Note { .. } => "note",
            ReplyOutcome::Stranger => "stranger",
            ReplyOutcome::Seen => "seen",
        }
    }

    fn incident(&self) -> Option<IncidentId> {
        match self {
            ReplyOutcome::Took { incident } | ReplyOutcome::Late { incident } => Some(*incident),
            ReplyOutcome::Note { incident } => *incident,
            _ => None,
        }
    }
}

/// Message purposes that bring an incident to a person's phone (a digest counts).
const REACHED: &str = "d.purpose IN ('alarm', 'reminder', 'reopened', 'reescalated', 'legacy')
    AND d.state NOT IN ('pending', 'gathered', 'canceled', 'error', 'failed', 'undelivered')";

/// The newest incident that reached `number` before `written_at` (when Twilio says when the
/// reply was written: a reply handled late, after a restart or an outage, answers what the
/// person had seen, never an incident told after it), among the open ones when `open_only`.
/// The open incidents are few: each is checked for a message to the number. Any incident is
/// read from that number's own messages, newest incident first: a number never reached reads
/// nothing, however long the history.
fn newest_reached(
    tx: &mut dyn Sql,
    number: &str,
    open_only: bool,
    written_at: Option<&str>,
) -> SqlResult<Option<IncidentId>> {
    let reached =
        format!("d.recipient = ?1 AND {REACHED} AND d.created_at <= COALESCE(?2, d.created_at)");
    let sql = if open_only {
        format!(
            "SELECT i.id FROM incidents i WHERE i.state = '{open}'
                 AND EXISTS (SELECT 1 FROM deliveries d WHERE d.incident_id = i.id AND {reached})
             ORDER BY i.id DESC LIMIT 1",
            open = IncidentState::Open.as_str()
        )
    } else {
        format!("SELECT d.incident_id FROM deliveries d WHERE {reached} AND d.incident_id IS NOT NULL ORDER BY d.incident_id DESC LIMIT 1")
    };
    tx.query_row(&sql, params![number, written_at], |r| r.get(0)).optional()
}

fn note(tx: &mut dyn Sql, incident: IncidentId, text: &str, at: &str) -> SqlResult<()> {
    tx.execute(
        "INSERT INTO incident_log (incident_id, at, kind, detail, planned) VALUES (?1, ?2, ?3, ?4, 0)",
        params![incident, at, IncidentEventKind::Note, text],
    )
    .map(drop)
}

impl AlertJournal {
    /// Handles one reply: `recipients` are the numbers alarms go to, `name` what `reply.from` is
    /// called (`[people]`, or the number written the Brazilian way).
    pub async fn handle_reply(
        &self,
        reply: Reply,
        recipients: Vec<String>,
        name: String,
    ) -> Result<ReplyOutcome, JournalError> {
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let seen: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM replies WHERE sid = ?1)", params![&reply.sid], |r| r.get(0))?;
            if seen {
                return Ok(ReplyOutcome::Seen);
            }
            let now = Utc::now();
            let at = ts(now);
            // Twilio's DateSent counts whole seconds: the reply was written before that second
            // ended.
            let written = reply.sent_at.map(|t| ts(t + chrono::Duration::milliseconds(999)));
            let written = written.as_deref();
            let outcome = if !recipients.contains(&reply.from) {
                tx.execute(
                    "INSERT INTO events (alert_id, at, kind, detail) VALUES (NULL, ?1, 'stranger_reply', ?2)",
                    params![at, format!("{}: {}", reply.from, reply.body)],
                )?;
                ReplyOutcome::Stranger
            } else {
                let said = format!("{name}: {}", reply.body.trim());
                match reply::read(&reply.body) {
                    ReplyIntent::Take(code) => {
                        let target = match code {
                            Some(id) => tx.query_row("SELECT id FROM incidents WHERE id = ?1", params![id], |r| r.get(0)).optional()?,
                            None => newest_reached(&mut tx, &reply.from, true, written)?,
                        };
                        match target {
                            Some(id) => match acknowledge_from(&mut tx, id, Some(&name), Some(&reply.from), reply.via(), now)? {
                                ActionOutcome::Done => ReplyOutcome::Took { incident: id },
                                _ => {
                                    note(&mut tx, id, &said, &at)?;
                                    ReplyOutcome::Late { incident: id }
                                }
                            },
                            // Nothing open reached them, or an unknown code: a note on what did.
                            None => {
                                let incident = newest_reached(&mut tx, &reply.from, false, written)?;
                                if let Some(id) = incident {
                                    note(&mut tx, id, &said, &at)?;
                                }
                                ReplyOutcome::Note { incident }
                            }
                        }
                    }
                    ReplyIntent::Note(_) => {
                        let incident = newest_reached(&mut tx, &reply.from, false, written)?;
                        if let Some(id) = incident {
                            note(&mut tx, id, &said, &at)?;
                        }
                        ReplyOutcome::Note { incident }
                    }
                }
            };
            tx.execute(
                "INSERT INTO replies (sid, sender, body, sent_at, handled_at, incident_id, action) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![reply.sid, reply.from, reply.body, reply.sent_at.map(ts), at, outcome.incident(), outcome.action()],
            )?;
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    /// When the newest reply handled was sent: the reply poller starts from there after a restart.
    pub async fn newest_reply(&self) -> Result<Option<DateTime<Utc>>, JournalError> {
        self.call(|conn| {
            conn.query_row("SELECT MAX(sent_at) FROM replies", params![], |r| {
                r.get::<Option<String>>(0)
            })
        })
        .await
        .map(|t| t.map(parse_ts))
    }

    /// Whether any incident is open and untaken (the reply poller then polls fast).
    pub async fn any_untaken(&self) -> Result<bool, JournalError> {
        self.call(|conn| {
            conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM incidents WHERE state = 'open')",
                params![],
                |r| r.get(0),
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::IncidentRules;
    use crate::journal::{DeliveryState, MailboxUid, NewAlert};
    use crate::mail::parse_alert_mail;
    use crate::notify::planner::{plan, PlanPolicy};

    const ANA: &str = "+5511999990001";
    const BRUNO: &str = "+5511999990002";

    async fn open(j: &AlertJournal, uid: u32, subject: &str) -> IncidentId {
        let raw = format!("From: s@x\r\nSubject: {subject}\r\nMessage-ID: <r{uid}@x>\r\n\r\nx\r\n");
        let mail = NewAlert {
            origin: MailboxUid { folder: "INBOX".into(), uidvalidity: 1, uid },
            mail: parse_alert_mail(raw.as_bytes(), false),
            received_at: Utc::now(),
        };
        j.record(vec![mail], &IncidentRules::default()).await.unwrap();
        plan(j, PlanPolicy::plain(&[ANA, BRUNO])).await.unwrap();
        let id = j.incidents(1, None, false).await.unwrap()[0].id;
        for d in j.deliveries_of(id).await.unwrap() {
            j.update_delivery(d.id, DeliveryState::Read, Some(format!("SM{}", d.id)), None)
                .await
                .unwrap();
        }
        id
    }

    fn reply(sid: &str, from: &str, body: &str) -> Reply {
        Reply {
            sid: sid.into(),
            from: from.into(),
            body: body.into(),
            sent_at: Some(Utc::now()),
            channel: Channel::Whatsapp,
        }
    }

    journal_test!(async fn replies_take_by_code_or_the_newest_and_the_rest_are_notes(j) {
        let older = open(&j, 1, "ALERTA Sala 1 quente").await;
        let newer = open(&j, 2, "ALERTA Sala 2 quente").await;
        let to = || vec![ANA.to_owned(), BRUNO.to_owned()];
        assert_eq!(j.handle_reply(reply("SM-a", ANA, "Ok!"), to(), "Ana".into()).await.unwrap(), ReplyOutcome::Took { incident: newer });
        assert_eq!(j.handle_reply(reply("SM-a", ANA, "Ok!"), to(), "Ana".into()).await.unwrap(), ReplyOutcome::Seen, "handled once");
        assert_eq!(j.handle_reply(reply("SM-b", BRUNO, &format!("#{older}")), to(), "Bruno".into()).await.unwrap(), ReplyOutcome::Took { incident: older });
        assert_eq!(j.handle_reply(reply("SM-c", BRUNO, &format!("# {older}")), to(), "Bruno".into()).await.unwrap(), ReplyOutcome::Late { incident: older });
        assert_eq!(j.handle_reply(reply("SM-d", "+5511977770000", "1"), to(), "?".into()).await.unwrap(), ReplyOutcome::Stranger);
        assert_eq!(j.handle_reply(reply("SM-e", ANA, "chego em 10 min"), to(), "Ana".into()).await.unwrap(), ReplyOutcome::Note { incident: Some(newer) });
        let i = j.incident(newer).await.unwrap().unwrap();
        assert_eq!((i.state, i.acknowledged_by.as_deref(), i.acknowledged_via), (IncidentState::Acknowledged, Some("Ana"), Some(AckVia::Whatsapp)));
        let log = j.incident_detail(newer).await.unwrap().unwrap().log;
        assert!(log.iter().any(|l| l.kind == IncidentEventKind::Note && l.detail == "Ana: chego em 10 min"), "{log:?}");
        assert!(j.engine_events(10).await.unwrap().iter().any(|e| e.kind == "stranger_reply" && e.detail.starts_with("+5511977770000")));
    });

    journal_test!(async fn a_late_reply_takes_what_the_person_had_seen_not_what_came_after(j) {
        use chrono::Timelike;
        let seen = open(&j, 1, "ALERTA Sala 1 quente").await;
        // Twilio's DateSent is whole seconds; the incident after it is told in a later second.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let written = Utc::now().with_nanosecond(0).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        // Told after the reply was written (handled late: a restart, an outage), then one whose
        // message failed.
        let after = open(&j, 2, "ALERTA Sala 2 quente").await;
        let to = || vec![ANA.to_owned(), BRUNO.to_owned()];
        let late = Reply { sid: "SM-late".into(), from: ANA.into(), body: "1".into(), sent_at: Some(written), channel: Channel::Whatsapp };
        assert_eq!(j.handle_reply(late, to(), "Ana".into()).await.unwrap(), ReplyOutcome::Took { incident: seen });
        assert_eq!(j.incident(after).await.unwrap().unwrap().state, IncidentState::Open, "the later incident stays untaken");

        let failed = open(&j, 3, "ALERTA Sala 3 quente").await;
        for d in j.deliveries_of(failed).await.unwrap().into_iter().filter(|d| d.recipient == BRUNO) {
            j.update_delivery(d.id, DeliveryState::Failed, d.sid.clone(), None).await.unwrap();
        }
        assert_eq!(j.handle_reply(reply("SM-b", BRUNO, "ok"), to(), "Bruno".into()).await.unwrap(), ReplyOutcome::Took { incident: after }, "not the one whose message failed");
    });
}

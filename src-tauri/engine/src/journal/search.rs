//! Finding incidents in the whole history: by words (the title, every e-mail's sender, subject
//! and body, who took it or resolved it, the notes people replied), by the days an incident was
//! active on, and by state — in the database, a page at a time, however long the history.
//!
//! The words live in a search index kept by triggers, so every write path (the engine, the CLI,
//! another workstation on the shared journal, a migration) indexes what it writes: SQLite's FTS5
//! (`unicode61`, diacritics removed) and, on PostgreSQL, a `tsvector` with a GIN index (the
//! `simple` configuration over text with the accents folded by `translate`: the same words match
//! on both engines, with no extension to install). "agua" finds "Água"; every word typed must
//! appear, as a word or the start of one ("temp" finds "temperatura").
//!
//! Each indexed text has a key that carries its incident: `incident id × 2^24 + slot`. The index
//! then answers "the newest incidents with these words" by walking its own keys downwards and
//! stopping at a page, without a join over a million rows, and a page goes on below an incident
//! id as the unfiltered history does.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::incidents::{summary_row, IncidentSummary, SUMMARY_COLUMNS};
use super::sql::{Dialect, Sql, SqlExt, SqlResult};
use super::{ts, AlertJournal, JournalError};
use crate::incident::{IncidentEventKind, IncidentId, IncidentState};

/// What the history asks for: the newest `limit` incidents matching all of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IncidentQuery {
    /// Words, all of which must appear; `#12` alone is incident 12. Empty: every incident.
    #[serde(default)]
    pub text: String,
    /// Active at or after this instant (its last e-mail is not older).
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// Active before this instant (its first e-mail is older).
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub state: StateFilter,
    /// The page below this incident id (the next older page).
    #[serde(default)]
    pub before: Option<IncidentId>,
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    1000
}

/// Which incidents by where they stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum StateFilter {
    #[default]
    All,
    /// Not resolved: open or acknowledged.
    Unresolved,
    Resolved,
}

/// Bits of an index key below the incident id.
const SLOT_BITS: u32 = 24;
/// Slots of an incident's texts: its title, who acknowledged it, who resolved it; then its notes
/// from `NOTES` and its e-mails from `EMAILS` up, each by its row id modulo the room left. Two
/// e-mails of one incident share a slot only when their ids are 12.5 million apart: the newer
/// text replaces the older one (the same device's words, in practice).
const TITLE: i64 = 0;
const TAKEN_BY: i64 = 1;
const RESOLVED_BY: i64 = 2;
const NOTES: i64 = 8;
const EMAILS: i64 = 1 << 22;
/// Results are gathered from the index this many keys (or incidents) at a time, at first.
const CHUNK: i64 = 4096;

/// Accents folded on PostgreSQL (SQLite's tokenizer removes diacritics itself): Portuguese's and
/// its neighbours', upper and lower case. The query's words are folded the same way.
const FOLD_FROM: &str = "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿ";
const FOLD_TO: &str = "AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyy";

/// The index key of an incident's text, as SQL over `incident` (its id) and `row` (the text's own
/// row id, for notes and e-mails).
fn key(slot: &str, incident: &str, row: &str) -> String {
    let base = format!("{incident} * {}", 1i64 << SLOT_BITS);
    match slot {
        "title" => format!("{base} + {TITLE}"),
        "taken_by" => format!("{base} + {TAKEN_BY}"),
        "resolved_by" => format!("{base} + {RESOLVED_BY}"),
        "note" => format!("{base} + {NOTES} + {row} % {}", EMAILS - NOTES),
        "email" => format!("{base} + {EMAILS} + {row} % {}", (1i64 << SLOT_BITS) - EMAILS),
        _ => unreachable!("no slot {slot}"),
    }
}

/// What is indexed of each table, as SQL over a row named `r`: (slot, table, incident, words,
/// which rows).
fn sources(r: &str) -> [(&'static str, &'static str, String, String, String); 5] {
    let note = IncidentEventKind::Note.as_str();
    [
        ("title", "incidents", format!("{r}.id"), format!("{r}.title"), "TRUE".into()),
        (
            "taken_by",
            "incidents",
            format!("{r}.id"),
            format!("{r}.acknowledged_by"),
            format!("{r}.acknowledged_by IS NOT NULL"),
        ),
        (
            "resolved_by",
            "incidents",
            format!("{r}.id"),
            format!("{r}.resolved_by"),
            format!("{r}.resolved_by IS NOT NULL"),
        ),
        (
            "note",
            "incident_log",
            format!("{r}.incident_id"),
            format!("{r}.detail"),
            format!("{r}.kind = '{note}'"),
        ),
        (
            "email",
            "alerts",
            format!("{r}.incident_id"),
            format!("{r}.sender || ' ' || {r}.subject || ' ' || {r}.body"),
            format!("{r}.incident_id IS NOT NULL"),
        ),
    ]
}

/// SQLite's search index (migration 8): FTS5 without content, so the journal does not hold every
/// body twice, and with deletes, so a text that changes (a body pruned) is indexed again.
fn sqlite_index() -> String {
    let mut sql = String::from(
        "CREATE VIRTUAL TABLE incident_text USING fts5(words, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2');\n",
    );
    let columns = |slot: &str| match slot {
        "title" => "title",
        "taken_by" => "acknowledged_by",
        "resolved_by" => "resolved_by",
        "note" => "detail",
        _ => "incident_id, sender, subject, body",
    };
    for (slot, table, incident, words, which) in sources("NEW") {
        let new_key = key(slot, &incident, "NEW.id");
        let old_incident = incident.replace("NEW", "OLD");
        let old_key = key(slot, &old_incident, "OLD.id");
        // A text that changed is taken out under its old key and put in under its new one (which
        // differs only when an e-mail moved to another incident); an e-mail placed in its first
        // incident has no old text to take out.
        sql.push_str(&format!(
            "CREATE TRIGGER incident_text_{slot}_new AFTER INSERT ON {table} WHEN {which} BEGIN
                 INSERT OR REPLACE INTO incident_text (rowid, words) VALUES ({new_key}, {words});
             END;
             CREATE TRIGGER incident_text_{slot}_changed AFTER UPDATE OF {columns} ON {table} WHEN {old_incident} IS NOT NULL BEGIN
                 DELETE FROM incident_text WHERE rowid = {old_key};
                 INSERT INTO incident_text (rowid, words) SELECT {new_key}, {words} WHERE {which};
             END;\n",
            columns = columns(slot),
        ));
        // An e-mail placed in its incident (it had none).
        if old_incident != "OLD.id" {
            sql.push_str(&format!(
                "CREATE TRIGGER incident_text_{slot}_placed AFTER UPDATE OF {columns} ON {table} WHEN {old_incident} IS NULL AND {which} BEGIN
                     INSERT OR REPLACE INTO incident_text (rowid, words) VALUES ({new_key}, {words});
                 END;\n",
                columns = columns(slot),
            ));
        }
    }
    sql
}

/// PostgreSQL's search index (its migration 4): a `tsvector` per text under the same keys, in a
/// GIN index, kept by the same triggers.
fn postgres_index() -> String {
    let mut sql = format!(
        "CREATE TABLE incident_text (key BIGINT PRIMARY KEY, words tsvector NOT NULL);
         CREATE INDEX incident_text_words ON incident_text USING GIN (words);
         CREATE FUNCTION sentinela_words(body TEXT) RETURNS tsvector LANGUAGE sql IMMUTABLE AS $$
             SELECT to_tsvector('simple', translate(coalesce(body, ''), '{FOLD_FROM}', '{FOLD_TO}'))
         $$;\n"
    );
    for table in ["incidents", "incident_log", "alerts"] {
        let mut body = String::new();
        for (slot, _, incident, words, which) in sources("NEW").into_iter().filter(|s| s.1 == table)
        {
            let old_key = key(slot, &incident.replace("NEW", "OLD"), "OLD.id");
            let new_key = key(slot, &incident, "NEW.id");
            body.push_str(&format!(
                "IF TG_OP = 'UPDATE' THEN DELETE FROM incident_text WHERE key = {old_key}; END IF;
                 IF {which} THEN
                     INSERT INTO incident_text (key, words) VALUES ({new_key}, sentinela_words({words}))
                     ON CONFLICT (key) DO UPDATE SET words = EXCLUDED.words;
                 END IF;\n"
            ));
        }
        let columns = match table {
            "incidents" => "title, acknowledged_by, resolved_by",
            "incident_log" => "detail",
            _ => "incident_id, sender, subject, body",
        };
        sql.push_str(&format!(
            "CREATE FUNCTION sentinela_index_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                 {body}
                 RETURN NULL;
             END $$;
             CREATE TRIGGER incident_text_{table} AFTER INSERT OR UPDATE OF {columns} ON {table}
                 FOR EACH ROW EXECUTE FUNCTION sentinela_index_{table}();\n"
        ));
    }
    sql
}

/// Indexes what the journal already holds (the triggers see only what is written after them),
/// in the same migration, so a year-old journal is searchable once it opens: a minute or so per
/// million e-mails, once.
fn backfill(dialect: Dialect) -> String {
    sources("r")
        .into_iter()
        .map(|(slot, table, incident, words, which)| {
            let key = key(slot, &incident, "r.id");
            match dialect {
                Dialect::Sqlite => format!("INSERT OR REPLACE INTO incident_text (rowid, words) SELECT {key}, {words} FROM {table} r WHERE {which};\n"),
                Dialect::Postgres => format!(
                    "INSERT INTO incident_text (key, words) SELECT {key}, sentinela_words({words}) FROM {table} r WHERE {which}
                     ON CONFLICT (key) DO UPDATE SET words = EXCLUDED.words;\n"
                ),
            }
        })
        .collect()
}

/// The incidents not resolved, newest first (`incidents --open`, the search's "not resolved"):
/// a handful among a year of resolved ones.
fn unresolved_index() -> String {
    format!(
        "CREATE INDEX incidents_unresolved ON incidents(id) WHERE state <> '{}';\n",
        IncidentState::Resolved.as_str()
    )
}

/// SQLite's migration 8.
pub(super) fn migrate_sqlite(tx: &mut dyn Sql) -> SqlResult<()> {
    tx.execute_batch(&unresolved_index())?;
    tx.execute_batch(&sqlite_index())?;
    tx.execute_batch(&backfill(Dialect::Sqlite))
}

/// Pages of the search index merged by one step of its upkeep: a few milliseconds on a year of
/// history.
const MERGE_PAGES: i64 = 64;

/// SQLite's migration 11: FTS5 merges its index segments as it writes, by default — now and then
/// a merge of large segments inside an alert's write (40–55 ms every 32 alerts at a million,
/// measured). The history's upkeep merges them instead, a step at a time between alerts
/// ([`AlertJournal::merge_search_index`]). FTS5's own "crisis" merge still bounds the segments
/// when many alerts come before the next step: at 64 segments (about 30 alerts, each writes two
/// or three) rather than 16, so a burst pays it (≈ 30 ms) once, not every six alerts.
pub(super) fn migrate_sqlite_merging(tx: &mut dyn Sql) -> SqlResult<()> {
    tx.execute_batch(
        "INSERT INTO incident_text (incident_text, rank) VALUES ('automerge', 0);
         INSERT INTO incident_text (incident_text, rank) VALUES ('crisismerge', 64);",
    )
}

impl AlertJournal {
    /// One bounded step of the search index's upkeep: on SQLite, merges up to a few dozen pages
    /// of its segments. PostgreSQL keeps its GIN index itself (autovacuum).
    pub async fn merge_search_index(&self) -> Result<(), JournalError> {
        self.call(|conn| match conn.dialect() {
            Dialect::Sqlite => conn.execute_batch(&format!(
                "INSERT INTO incident_text (incident_text, rank) VALUES ('merge', {MERGE_PAGES});"
            )),
            Dialect::Postgres => Ok(()),
        })
        .await
    }
}

/// PostgreSQL's migration 4.
pub(super) fn postgres_migration() -> String {
    unresolved_index() + &postgres_index() + &backfill(Dialect::Postgres)
}

/// The words typed, as the index holds them: letters and digits, other characters separating.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(fold).collect()
}

fn fold(word: &str) -> String {
    word.chars()
        .map(|c| {
            FOLD_FROM.chars().position(|f| f == c).and_then(|i| FOLD_TO.chars().nth(i)).unwrap_or(c)
        })
        .collect::<String>()
        .to_lowercase()
}

/// `#12`: that incident alone.
fn incident_number(text: &str) -> Option<IncidentId> {
    text.trim().strip_prefix('#')?.parse().ok()
}

impl AlertJournal {
    /// The newest incidents matching `query`, newest first.
    pub async fn find_incidents(
        &self,
        query: IncidentQuery,
    ) -> Result<Vec<IncidentSummary>, JournalError> {
        self.call(move |conn| find(conn, &query)).await
    }
}

/// The date and state conditions, on `incidents i`, with their parameters from `?first` on.
fn conditions(query: &IncidentQuery, first: usize) -> (String, Vec<super::sql::Value>) {
    use super::sql::Value;
    let mut sql = String::new();
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |sql: &mut String, condition: &str, v: Value| {
        sql.push_str(&condition.replace('?', &format!("?{}", first + values.len())));
        values.push(v);
    };
    if let Some(since) = query.since {
        bind(&mut sql, " AND i.last_seen >= ?", Value::Text(ts(since)));
    }
    if let Some(until) = query.until {
        bind(&mut sql, " AND i.first_seen < ?", Value::Text(ts(until)));
    }
    // The state is written into the statement, from the enum, so the planner can use the partial
    // index of the incidents not resolved (a bound value could be anything).
    let resolved = IncidentState::Resolved.as_str();
    match query.state {
        StateFilter::All => {}
        StateFilter::Unresolved => sql.push_str(&format!(" AND i.state <> '{resolved}'")),
        StateFilter::Resolved => sql.push_str(&format!(" AND i.state = '{resolved}'")),
    }
    (sql, values)
}

/// How the search index is asked, on each engine.
struct WordIndex {
    dialect: Dialect,
    /// The words as the engine's query syntax: every word, each as a word's start.
    matches: String,
}

impl WordIndex {
    fn new(dialect: Dialect, words: &[String]) -> WordIndex {
        let matches = match dialect {
            Dialect::Sqlite => {
                words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" ")
            }
            Dialect::Postgres => {
                words.iter().map(|w| format!("{w}:*")).collect::<Vec<_>>().join(" & ")
            }
        };
        WordIndex { dialect, matches }
    }

    /// Every incident with the words among the keys in `[from, below)`, newest first: a range
    /// known to be small. PostgreSQL reads the range's texts and matches each (its GIN index
    /// would first gather every text in the history with the words, to keep the range's).
    fn within(&self, conn: &mut dyn Sql, from: i64, below: i64) -> SqlResult<Vec<IncidentId>> {
        let sql = match self.dialect {
            Dialect::Sqlite => "SELECT rowid >> 24 FROM incident_text WHERE incident_text MATCH ?1 AND rowid >= ?2 AND rowid < ?3 ORDER BY rowid DESC",
            // OFFSET 0 keeps the range a range: the planner does not fold the match into it.
            Dialect::Postgres => {
                "SELECT key >> 24 FROM (SELECT key, words FROM incident_text WHERE key >= ?2 AND key < ?3 ORDER BY key DESC OFFSET 0) t
                 WHERE words @@ to_tsquery('simple', ?1) ORDER BY key DESC"
            }
        };
        Ok(incident_ids(conn, sql, &[&self.matches, &from, &below])?.0)
    }

    /// The incidents of the newest `at_most` keys with the words below `below`, newest first,
    /// and how many keys were read. SQLite's FTS5 walks its keys downwards and stops; a GIN
    /// index gathers every match, so PostgreSQL asks it only for words too rare for a walk.
    fn newest(
        &self,
        conn: &mut dyn Sql,
        below: i64,
        at_most: i64,
    ) -> SqlResult<(Vec<IncidentId>, usize)> {
        let sql = match self.dialect {
            Dialect::Sqlite => "SELECT rowid >> 24 FROM incident_text WHERE incident_text MATCH ?1 AND rowid < ?2 ORDER BY rowid DESC LIMIT ?3",
            Dialect::Postgres => "SELECT key >> 24 FROM incident_text WHERE words @@ to_tsquery('simple', ?1) AND key < ?2 ORDER BY key DESC LIMIT ?3",
        };
        incident_ids(conn, sql, &[&self.matches, &below, &at_most])
    }
}

/// The incidents of the keys a query returns, newest first, each once (an incident's texts are
/// neighbours), and how many keys were read.
fn incident_ids(
    conn: &mut dyn Sql,
    sql: &str,
    params: &[&dyn super::sql::ToValue],
) -> SqlResult<(Vec<IncidentId>, usize)> {
    let mut ids: Vec<IncidentId> =
        conn.rows(sql, params)?.iter().map(|r| r.get(0)).collect::<SqlResult<_>>()?;
    let read = ids.len();
    ids.dedup();
    Ok((ids, read))
}

/// The first index key of an incident's texts (the key just above every text of `id - 1`).
fn key_of(id: IncidentId) -> i64 {
    if id >= i64::MAX >> SLOT_BITS {
        i64::MAX
    } else {
        id.max(0) << SLOT_BITS
    }
}

/// Incidents read by their days or state first, when those are at most this many.
const FEW_CANDIDATES: i64 = 20_000;
/// Incidents two candidates may lie apart and still be checked in one range of the index.
const NEAR: i64 = 64;

/// A page of the search, filled newest first from incidents known to hold the words.
struct Page {
    /// The incidents of an id range that meet the days and state, newest first.
    fetch: String,
    /// The days' parameters of `fetch`, from `?3` on.
    values: Vec<super::sql::Value>,
    limit: usize,
    found: Vec<IncidentSummary>,
}

impl Page {
    fn new(query: &IncidentQuery) -> Page {
        let (filters, values) = conditions(query, 3);
        let fetch = format!("SELECT {SUMMARY_COLUMNS} FROM incidents i WHERE i.id >= ?1 AND i.id <= ?2{filters} ORDER BY i.id DESC");
        Page { fetch, values, limit: query.limit.max(1), found: Vec::new() }
    }

    fn is_full(&self) -> bool {
        self.found.len() >= self.limit
    }

    /// Adds the incidents of `hits` (newest first) that meet the days and state. Read together
    /// when they lie close (a common word), one by one when they are scattered over the history
    /// (a rare one).
    fn take(&mut self, conn: &mut dyn Sql, hits: &[IncidentId]) -> SqlResult<()> {
        use super::sql::ToValue;
        for chunk in hits.chunks(CHUNK as usize) {
            let (Some(&newest), Some(&oldest)) = (chunk.first(), chunk.last()) else { continue };
            let hit: std::collections::HashSet<IncidentId> = chunk.iter().copied().collect();
            let dense = (newest - oldest + 1) <= 4 * chunk.len() as i64;
            let spans: Vec<(IncidentId, IncidentId)> = if dense {
                vec![(oldest, newest)]
            } else {
                chunk.iter().map(|&id| (id, id)).collect()
            };
            for (from, to) in spans {
                let mut all: Vec<&dyn ToValue> = vec![&from, &to];
                all.extend(self.values.iter().map(|v| v as &dyn ToValue));
                for row in conn.rows(&self.fetch, &all)? {
                    let incident = summary_row(&row)?;
                    if hit.contains(&incident.id) {
                        self.found.push(incident);
                        if self.is_full() {
                            return Ok(());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn find(conn: &mut dyn Sql, query: &IncidentQuery) -> SqlResult<Vec<IncidentSummary>> {
    use super::sql::ToValue;
    let before = query.before.unwrap_or(IncidentId::MAX);
    let limit = query.limit.max(1) as i64;
    if let Some(id) = incident_number(&query.text) {
        let (filters, values) = conditions(query, 3);
        let mut all: Vec<&dyn ToValue> = vec![&id, &before];
        all.extend(values.iter().map(|v| v as &dyn ToValue));
        let rows = conn.rows(
            &format!(
                "SELECT {SUMMARY_COLUMNS} FROM incidents i WHERE i.id = ?1 AND i.id < ?2{filters}"
            ),
            &all,
        )?;
        return rows.iter().map(summary_row).collect();
    }
    let words = words(&query.text);
    if words.is_empty() {
        let (filters, values) = conditions(query, 3);
        let mut all: Vec<&dyn ToValue> = vec![&before, &limit];
        all.extend(values.iter().map(|v| v as &dyn ToValue));
        let rows = conn.rows(&format!("SELECT {SUMMARY_COLUMNS} FROM incidents i WHERE i.id < ?1{filters} ORDER BY i.id DESC LIMIT ?2"), &all)?;
        return rows.iter().map(summary_row).collect();
    }
    let index = WordIndex::new(conn.dialect(), &words);
    let mut page = Page::new(query);

    // The incidents not resolved, or active on some days, are usually few however long the
    // history: found through their own index, then checked against the words a range of
    // neighbours at a time.
    if let Some(mut candidates) = few_candidates(conn, query, before)? {
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        for run in near_runs(&candidates) {
            let (newest, oldest) = (run[0], run[run.len() - 1]);
            let hits = index.within(conn, key_of(oldest), key_of(newest + 1))?;
            page.take(conn, &hits)?;
            if page.is_full() {
                break;
            }
        }
        return Ok(page.found);
    }

    // Otherwise from the page's start down. PostgreSQL first walks the newest incidents' texts
    // while the words turn up often enough to fill the page soon (a common word, which its GIN
    // index answers slowest).
    let mut below = key_of(before);
    if index.dialect == Dialect::Postgres {
        let mut window = CHUNK;
        let mut top = before.min(newest_incident(conn)? + 1);
        while top > 0 {
            let hits = index.within(conn, key_of(top - window), key_of(top))?;
            page.take(conn, &hits)?;
            top -= window;
            below = key_of(top);
            if page.is_full() {
                return Ok(page.found);
            }
            // Incidents to walk for the rest of the page at the density seen; too many: the
            // words are rare enough for the GIN index.
            let wanted = (page.limit - page.found.len()) as i64;
            let needed = if hits.is_empty() {
                i64::MAX
            } else {
                wanted.saturating_mul(window) / hits.len() as i64 + 1
            };
            if needed > 8 * CHUNK {
                break;
            }
            window = needed.max(CHUNK);
        }
    }
    // Read from the index downwards in growing chunks (a common word fills a page from the
    // first; a rare one is read whole by the last), each below the oldest incident read.
    let mut at_most = CHUNK;
    while below > 0 {
        let (ids, read) = index.newest(conn, below, at_most)?;
        page.take(conn, &ids)?;
        match ids.last() {
            _ if page.is_full() => break,
            // Below the oldest incident read: its other texts add nothing.
            Some(&oldest) if read as i64 == at_most => below = key_of(oldest),
            _ => break,
        }
        at_most = at_most.saturating_mul(8);
    }
    Ok(page.found)
}

/// The newest incident's id (0 in an empty journal).
fn newest_incident(conn: &mut dyn Sql) -> SqlResult<IncidentId> {
    conn.query_row("SELECT COALESCE(MAX(id), 0) FROM incidents", &[], |r| r.get(0))
}

/// The incidents below `before` that meet the query's state and days, when its state (not
/// resolved) or its first day narrows them to a few: `None` when they are many (a search of
/// the whole last year), or nothing narrows them.
fn few_candidates(
    conn: &mut dyn Sql,
    query: &IncidentQuery,
    before: IncidentId,
) -> SqlResult<Option<Vec<IncidentId>>> {
    use super::sql::ToValue;
    let source = match (query.state, query.since, conn.dialect()) {
        (StateFilter::Unresolved, ..) => "",
        // SQLite, without statistics, would as well read the days from the older end.
        (_, Some(_), Dialect::Sqlite) => " INDEXED BY incidents_last_seen",
        (_, Some(_), Dialect::Postgres) => "",
        (_, None, _) => return Ok(None),
    };
    let (filters, values) = conditions(query, 3);
    let at_most = FEW_CANDIDATES + 1;
    let mut all: Vec<&dyn ToValue> = vec![&before, &at_most];
    all.extend(values.iter().map(|v| v as &dyn ToValue));
    let ids: Vec<IncidentId> = conn
        .rows(
            &format!("SELECT i.id FROM incidents i{source} WHERE i.id < ?1{filters} LIMIT ?2"),
            &all,
        )?
        .iter()
        .map(|r| r.get(0))
        .collect::<SqlResult<_>>()?;
    Ok((ids.len() as i64 <= FEW_CANDIDATES).then_some(ids))
}

/// Incidents (newest first) in runs of neighbours: each run is one range of the index, at most
/// a chunk of incidents wide.
fn near_runs(ids: &[IncidentId]) -> impl Iterator<Item = &[IncidentId]> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= ids.len() {
            return None;
        }
        let mut end = start + 1;
        while end < ids.len() && ids[end - 1] - ids[end] <= NEAR && ids[start] - ids[end] < CHUNK {
            end += 1;
        }
        let run = &ids[start..end];
        start = end;
        Some(run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{AckVia, IncidentRules, IncidentState};
    use crate::journal::{DeliveryState, MailboxUid, NewAlert, Reply};
    use crate::mail::parse_alert_mail;
    use crate::notify::planner::{plan, PlanPolicy};

    #[test]
    fn words_are_folded_as_the_index_folds_them() {
        assert_eq!(words("Água  na SALA-3, ação!"), ["agua", "na", "sala", "3", "acao"]);
        assert_eq!(words("\"*) OR 1=1 --"), ["or", "1", "1"]);
        assert!(words(" -- ").is_empty());
        assert_eq!(incident_number(" #12 "), Some(12));
        assert_eq!(incident_number("12"), None);
    }

    const ANA: &str = "+5511999990001";

    async fn mail(j: &AlertJournal, uid: u32, from: &str, subject: &str, body: &str) -> IncidentId {
        let raw = format!("From: {from}\r\nSubject: {subject}\r\nMessage-ID: <s{uid}@x>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n");
        let alert = NewAlert {
            origin: MailboxUid { folder: "INBOX".into(), uidvalidity: 1, uid },
            mail: parse_alert_mail(raw.as_bytes(), false),
            received_at: Utc::now(),
        };
        j.record(vec![alert], &IncidentRules::default()).await.unwrap();
        plan(j, PlanPolicy::plain(&[ANA])).await.unwrap();
        let id = j.incidents(1, None, false).await.unwrap()[0].id;
        // Read: a reply is then about it.
        for d in j.deliveries_of(id).await.unwrap() {
            j.update_delivery(d.id, DeliveryState::Read, Some(format!("SM{}", d.id)), None)
                .await
                .unwrap();
        }
        id
    }

    async fn found(j: &AlertJournal, text: &str) -> Vec<IncidentId> {
        j.find_incidents(IncidentQuery { text: text.into(), limit: 100, ..Default::default() })
            .await
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect()
    }

    journal_test!(async fn every_text_of_an_incident_is_found_without_its_accents(j) {
        let water = mail(&j, 1, "sensor@cpd.example", "ALERTA Água no piso", "Sensor de vazamento: água detectada sob o rack 12").await;
        let heat = mail(&j, 2, "termo@cpd.example", "ALERTA Temperatura alta", "Sala de servidores a 41 °C (limite 27 °C)").await;
        let power = mail(&j, 3, "ups@cpd.example", "ALERTA Falha de energia", "Nobreak em bateria, autonomia 12 min").await;
        assert_eq!(found(&j, "agua").await, [water], "accents fold both ways");
        assert_eq!(found(&j, "ÁGUA piso").await, [water]);
        assert_eq!(found(&j, "vazamento").await, [water], "the body");
        assert_eq!(found(&j, "termo").await, [heat], "the sender");
        assert_eq!(found(&j, "temp").await, [heat], "a word's start");
        assert_eq!(found(&j, "12").await, [power, water], "newest first");
        assert_eq!(found(&j, "12 bateria").await, [power], "every word must appear");
        assert!(found(&j, "inexistente").await.is_empty());
        assert_eq!(found(&j, "\"agua\" -(*").await, [water], "typed punctuation is no query syntax");
        assert_eq!(found(&j, &format!("#{heat}")).await, [heat], "an incident by its code");

        // Who took it, who resolved it and what people replied are found too.
        j.acknowledge(heat, Some("Bruno Ribeiro".into()), AckVia::Desktop).await.unwrap();
        assert_eq!(found(&j, "ribeiro").await, [heat]);
        j.resolve(power, Some("Célia".into()), crate::incident::ResolveVia::Desktop).await.unwrap();
        assert_eq!(found(&j, "celia").await, [power]);
        let reply = Reply { sid: "SM-n".into(), from: ANA.into(), body: "chego em dez minutos com o extintor".into(), sent_at: Some(Utc::now()), channel: crate::model::Channel::Whatsapp };
        j.handle_reply(reply, vec![ANA.into()], "Ana".into()).await.unwrap();
        assert_eq!(found(&j, "extintor").await.len(), 1, "a note joins the incident it was written to");
    });

    journal_test!(async fn search_combines_with_days_state_and_pages(j) {
        let mut ids = Vec::new();
        for uid in 1..=7 {
            ids.push(mail(&j, uid, "sensor@cpd.example", &format!("ALERTA Umidade rack {uid}"), "umidade acima de 80 %").await);
        }
        ids.reverse();
        let query = |text: &str| IncidentQuery { text: text.into(), limit: 3, ..Default::default() };
        let page = |q: IncidentQuery| {
            let j = j.clone();
            async move { j.find_incidents(q).await.unwrap().iter().map(|i| i.id).collect::<Vec<_>>() }
        };
        assert_eq!(page(query("umidade")).await, ids[..3]);
        assert_eq!(page(IncidentQuery { before: Some(ids[2]), ..query("umidade") }).await, ids[3..6], "the next page");
        assert_eq!(page(IncidentQuery { before: Some(ids[5]), ..query("umidade") }).await, ids[6..]);
        j.resolve(ids[1], None, crate::incident::ResolveVia::Desktop).await.unwrap();
        assert_eq!(page(IncidentQuery { state: StateFilter::Resolved, ..query("umidade") }).await, [ids[1]]);
        assert_eq!(page(IncidentQuery { state: StateFilter::Unresolved, ..query("umidade") }).await, [ids[0], ids[2], ids[3]]);
        let future = Utc::now() + chrono::Duration::days(1);
        assert!(page(IncidentQuery { since: Some(future), ..query("umidade") }).await.is_empty(), "active after tomorrow: none");
        assert!(page(IncidentQuery { until: Some(Utc::now() - chrono::Duration::days(1)), ..query("") }).await.is_empty(), "before yesterday: none");
        assert_eq!(page(IncidentQuery { until: Some(future), ..query("") }).await, ids[..3], "no words: the history by days");
    });

    // Incidents spread over a long range of ids (so the search's windows, runs and chunks are
    // all crossed), some long-lived, in every state: each search finds exactly what reading
    // every incident and filtering it finds, newest first, page by page.
    journal_test!(async fn search_finds_what_reading_every_incident_finds(j) {
        const WORDS: [&str; 5] = ["temperatura", "umidade", "agua", "energia", "fumaca"];
        let base = Utc::now() - chrono::Duration::days(40);
        let hours = |h: i64| base + chrono::Duration::hours(h);
        // (id, title, state, first seen, last seen)
        let mut all = Vec::new();
        let ids = (0..48i64).map(|k| 1 + k * k * 79).chain(190_000..190_030);
        for (k, id) in ids.enumerate() {
            let k = k as i64;
            let title = format!("ALERTA comum {} {}", WORDS[k as usize % 5], if k % 3 == 0 { "rack" } else { "sala" });
            let state = [IncidentState::Resolved, IncidentState::Acknowledged, IncidentState::Open][k as usize % 3];
            // Every seventh began a month before it was last seen.
            let first = if k % 7 == 0 { hours(k - 24 * 30) } else { hours(k) };
            all.push((id, title, state, first, hours(k)));
        }
        let rows = all.clone();
        j.call(move |conn| {
            for (id, title, state, first, last) in &rows {
                conn.execute(
                    "INSERT INTO incidents (id, key, title, state, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    &[id, &format!("k{id}"), title, &state.as_str(), &ts(*first), &ts(*last)],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
        let middle = all[all.len() / 2].0;
        for text in ["comum", "temp", "AGUA rack", "energia sala", "rack", "inexistente"] {
            for state in [StateFilter::All, StateFilter::Unresolved, StateFilter::Resolved] {
                for (since, until) in [(None, None), (Some(hours(-24)), Some(hours(10))), (Some(hours(20)), None), (None, Some(hours(30)))] {
                    for (limit, before) in [(1, None), (5, None), (100, None), (5, Some(middle))] {
                        let query = IncidentQuery { text: text.into(), since, until, state, before, limit };
                        let typed = words(text);
                        let mut expected: Vec<IncidentId> = all
                            .iter()
                            .filter(|(id, title, s, first, last)| {
                                let title_words = words(title);
                                typed.iter().all(|w| title_words.iter().any(|t| t.starts_with(w.as_str())))
                                    && match state {
                                        StateFilter::All => true,
                                        StateFilter::Unresolved => *s != IncidentState::Resolved,
                                        StateFilter::Resolved => *s == IncidentState::Resolved,
                                    }
                                    && since.is_none_or(|t| *last >= t)
                                    && until.is_none_or(|t| *first < t)
                                    && before.is_none_or(|b| *id < b)
                            })
                            .map(|i| i.0)
                            .collect();
                        expected.sort_unstable_by(|a, b| b.cmp(a));
                        expected.truncate(limit);
                        let got: Vec<IncidentId> = j.find_incidents(query.clone()).await.unwrap().iter().map(|i| i.id).collect();
                        assert_eq!(got, expected, "{query:?}");
                    }
                }
            }
        }
    });

    // The index is merged by the upkeep, not by the writes (SQLite: FTS5's automatic merging
    // is off), and merging changes nothing found.
    journal_test!(async fn the_upkeep_merges_the_index_and_every_text_is_still_found(j) {
        let mut ids = Vec::new();
        for uid in 1..=40 {
            ids.push(mail(&j, uid, "sensor@cpd.example", &format!("ALERTA Umidade rack {uid}"), "umidade acima de 80 %").await);
        }
        ids.reverse();
        let automerge = j
            .call(|conn| match conn.dialect() {
                Dialect::Sqlite => conn.query_row("SELECT v FROM incident_text_config WHERE k = 'automerge'", &[], |r| r.get::<i64>(0)).map(Some),
                Dialect::Postgres => Ok(None),
            })
            .await
            .unwrap();
        assert!(matches!(automerge, Some(0) | None), "FTS5 merges as it writes: automerge = {automerge:?}");
        for _ in 0..50 {
            j.merge_search_index().await.unwrap();
        }
        assert_eq!(found(&j, "umidade").await, ids);
        assert_eq!(found(&j, "rack 17").await, [ids[40 - 17]]);
    });

    /// Placing an e-mail in its incident indexes that e-mail alone: the statement does the same
    /// work over an index of 20,000 texts as over an empty one (counted in SQLite's VM steps,
    /// the triggers' included: a trigger that walked a table would show here).
    #[test]
    fn placing_an_email_does_the_same_work_whatever_the_index_holds() {
        let steps = |texts: i64| {
            let mut c = rusqlite::Connection::open_in_memory().unwrap();
            super::super::schema::migrate(&mut c).unwrap();
            let tx = c.transaction().unwrap();
            for n in 0..texts {
                rusqlite::Connection::execute(
                    &tx,
                    "INSERT INTO incident_text (rowid, words) VALUES (?1, 'sala rack temperatura')",
                    [(n + 100) << 24],
                )
                .unwrap();
            }
            rusqlite::Connection::execute_batch(&tx,
                "INSERT INTO incidents (id, key, title, state, first_seen, last_seen) VALUES (1, 'k', 'ALERTA', 'open', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
                 INSERT INTO alerts (id, folder, uidvalidity, uid, sender, subject, body, truncated, received_at, journaled_at, state)
                 VALUES (1, 'INBOX', 1, 1, 's@x', 'ALERTA sala', 'temperatura alta', 0, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'new');",
            )
            .unwrap();
            tx.commit().unwrap();
            let mut stmt = c.prepare("UPDATE alerts SET incident_id = 1 WHERE id = 1").unwrap();
            stmt.execute([]).unwrap();
            stmt.get_status(rusqlite::StatementStatus::VmStep)
        };
        let (empty, full) = (steps(0), steps(20_000));
        assert!(
            full <= empty + 20,
            "{empty} VM steps over an empty index, {full} over 20,000 texts"
        );
    }

    /// A long history: the first chunk of the index holds fewer incidents than a page (each has
    /// many texts), so the search reads on below it.
    #[tokio::test]
    async fn a_page_is_filled_across_chunks_of_the_index() {
        let j = AlertJournal::open_in_memory().unwrap();
        let first = mail(&j, 1, "s@x", "ALERTA rack", "umidade").await;
        // Texts under many keys of one incident, beyond a chunk.
        j.call(move |conn| {
            for n in 0..CHUNK + 10 {
                conn.execute(
                    "INSERT INTO incident_text (rowid, words) VALUES (?1, 'umidade')",
                    &[&((first + 1) * (1 << SLOT_BITS) + EMAILS + n)],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
        let second = mail(&j, 2, "s@x", "ALERTA rack dois", "umidade").await;
        assert_eq!(second, first + 1);
        assert_eq!(found(&j, "umidade").await, [second, first]);
    }
}

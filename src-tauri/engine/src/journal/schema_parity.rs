//! The journal's two schemas — SQLite's as its migrations leave it, PostgreSQL's as its own do —
//! hold the same tables, columns and indexes, so the queries written once run the same on both
//! and a migration appended to one list and forgotten in the other fails here, not at a team's
//! workstation.

use std::collections::{BTreeMap, BTreeSet};

use super::sql::Conn;
use super::AlertJournal;

/// Tables only the shared journal has: its migrations' record (SQLite counts in `user_version`)
/// and the notify side's lease.
const SHARED_ONLY: &[&str] = &["schema_version", "leases"];
/// The search index is each engine's own (FTS5 and its shadow tables; a `tsvector` table and its
/// GIN index): `search.rs` tests that both find the same.
const SEARCH_INDEX: &str = "incident_text";

#[derive(Debug, PartialEq, Eq)]
struct Schema {
    /// Table → its columns.
    tables: BTreeMap<String, BTreeSet<String>>,
    /// Indexes written in a migration (not those a key or UNIQUE makes).
    indexes: BTreeSet<String>,
}

fn sqlite_schema(j: &AlertJournal) -> Schema {
    let conn = j.conn.lock().unwrap();
    let Conn::Sqlite(c) = &*conn else { unreachable!() };
    let names = |sql: &str| -> Vec<String> {
        c.prepare(sql).unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let mut tables = BTreeMap::new();
    for table in
        names("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .into_iter()
            .filter(|t| !t.starts_with(SEARCH_INDEX))
    {
        let columns = names(&format!("SELECT name FROM pragma_table_info('{table}')"));
        tables.insert(table, columns.into_iter().collect());
    }
    // `sql IS NULL`: made by a key or UNIQUE, not by a migration's CREATE INDEX.
    let indexes = names("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        .into_iter()
        .collect();
    Schema { tables, indexes }
}

fn postgres_schema(pg: &super::test_postgres::TestPostgres) -> Schema {
    let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in pg.query("SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = 'public'") {
        let (table, column) = row.split_once('.').unwrap();
        if !SHARED_ONLY.contains(&table) && !table.starts_with(SEARCH_INDEX) {
            tables.entry(table.to_owned()).or_default().insert(column.to_owned());
        }
    }
    let indexes = pg
        .query(
            "SELECT i.indexname FROM pg_indexes i WHERE i.schemaname = 'public'
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        )
        .into_iter()
        .filter(|i| !i.starts_with(SEARCH_INDEX))
        .collect();
    Schema { tables, indexes }
}

#[tokio::test]
async fn sqlite_and_postgresql_hold_the_same_tables_columns_and_indexes() {
    let pg = super::test_postgres::TestPostgres::start();
    pg.journal().await;
    let (sqlite, postgres) =
        (sqlite_schema(&AlertJournal::open_in_memory().unwrap()), postgres_schema(&pg));
    assert!(sqlite.tables.len() >= 10 && sqlite.indexes.len() >= 20, "{sqlite:#?}");
    let tables = |s: &Schema| s.tables.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(tables(&sqlite), tables(&postgres), "the same tables");
    for (table, columns) in &sqlite.tables {
        assert_eq!(Some(columns), postgres.tables.get(table), "the columns of {table}");
    }
    assert_eq!(sqlite.indexes, postgres.indexes, "the same indexes");
}

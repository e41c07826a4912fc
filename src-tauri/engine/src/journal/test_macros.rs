//! `journal_test!`: one journal test, run on each engine the journal can live in — SQLite in
//! memory and a real PostgreSQL started for it ([`super::test_postgres`]) — as two tests named
//! `<test>::sqlite` and `<test>::postgres`, so a failure says which engine it was.

macro_rules! journal_test {
    (async fn $name:ident($j:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let $j = $crate::journal::AlertJournal::open_in_memory().unwrap();
                $body
            }

            #[cfg(unix)]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let server = $crate::journal::test_postgres::TestPostgres::start();
                let $j = server.journal().await;
                $body
            }
        }
    };
}

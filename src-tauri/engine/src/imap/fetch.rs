//! Fetching what the search found, so that no e-mail can block the next alert.
//!
//! A burst goes in batches sized by bytes (the server's `RFC822.SIZE`, each counted up to the
//! fetch cap), and each batch's time limit grows with its bytes: a slow link fetching large mails
//! is given the time it needs instead of failing on every reconnect. An e-mail that still cannot
//! be fetched — a time limit, or an answer the IMAP library cannot read — is isolated: after a
//! failed batch its e-mails are fetched one by one, and one that fails [`GIVE_UP_AFTER`] times in
//! all is escalated as an "e-mail ilegível" alert with what could be read, never skipped.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_imap::types::Fetch;
use futures::TryStreamExt;

use super::connection::{step_within, ImapSession, COMMAND_TIMEOUT};
use super::MailboxError;
use crate::mail::AlertMail;

/// A batch holds at most this many e-mails…
const BATCH_MAILS: usize = 100;
/// …and at most this many bytes (a single larger e-mail is a batch of its own).
const BATCH_BYTES: u64 = 4 * 1024 * 1024;
/// The slowest link a fetch's time limit allows for, on top of [`COMMAND_TIMEOUT`].
const SLOWEST_BYTES_PER_SEC: u64 = 64 * 1024;
/// Failed fetches of one e-mail before it is escalated as unreadable.
pub const GIVE_UP_AFTER: u32 = 3;

/// UIDs to fetch in one command, with the bytes they are expected to bring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub uids: Vec<u32>,
    pub bytes: u64,
}

impl Batch {
    /// The time limit for fetching this batch.
    pub fn time_limit(&self) -> Duration {
        COMMAND_TIMEOUT + Duration::from_secs(self.bytes / SLOWEST_BYTES_PER_SEC)
    }
}

/// Groups `(uid, size)` in order into batches of at most [`BATCH_MAILS`] e-mails and
/// [`BATCH_BYTES`] bytes, each size counted up to `cap` (the most a fetch brings).
pub fn batches(sizes: &[(u32, u64)], cap: u64) -> Vec<Batch> {
    let mut out: Vec<Batch> = Vec::new();
    for &(uid, size) in sizes {
        let size = size.min(cap);
        match out.last_mut() {
            Some(b) if b.uids.len() < BATCH_MAILS && b.bytes + size <= BATCH_BYTES => {
                b.uids.push(uid);
                b.bytes += size;
            }
            _ => out.push(Batch { uids: vec![uid], bytes: size }),
        }
    }
    out
}

/// The e-mails whose fetch failed, by `(uidvalidity, uid)`: how many times, and the last error.
/// Kept by the watcher across reconnections (a failed fetch drops the connection).
#[derive(Debug, Default)]
pub struct FetchFailures(Mutex<HashMap<(u32, u32), (u32, String)>>);

/// What to do with the fresh UIDs of a scan.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FetchPlan {
    /// Never failed: fetched in byte-sized batches.
    pub healthy: Vec<u32>,
    /// Failed before, fewer than [`GIVE_UP_AFTER`] times: fetched one by one.
    pub suspect: Vec<u32>,
    /// Failed [`GIVE_UP_AFTER`] times: escalated as unreadable, with the last error.
    pub unreadable: Vec<(u32, String)>,
}

impl FetchFailures {
    pub fn plan(&self, uidvalidity: u32, fresh: &[u32]) -> FetchPlan {
        let failures = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut plan = FetchPlan::default();
        for &uid in fresh {
            match failures.get(&(uidvalidity, uid)) {
                None => plan.healthy.push(uid),
                Some((tries, _)) if *tries < GIVE_UP_AFTER => plan.suspect.push(uid),
                Some((_, error)) => plan.unreadable.push((uid, error.clone())),
            }
        }
        plan
    }

    /// Counts one failed try for each of `uids`.
    pub fn failed(&self, uidvalidity: u32, uids: &[u32], error: &MailboxError) {
        let mut failures = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for &uid in uids {
            let entry = failures.entry((uidvalidity, uid)).or_insert((0, String::new()));
            entry.0 += 1;
            entry.1 = error.to_string();
        }
    }

    /// Forgets `uids` once they are journaled.
    pub fn done(&self, uidvalidity: u32, uids: &[u32]) {
        let mut failures = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for &uid in uids {
            failures.remove(&(uidvalidity, uid));
        }
    }
}

/// `(uid, RFC822.SIZE)` of `uids`, in the order given.
pub async fn sizes(
    session: &mut ImapSession,
    uids: &[u32],
) -> Result<Vec<(u32, u64)>, MailboxError> {
    let fetched = step_within("FETCH", COMMAND_TIMEOUT, async {
        let stream = session.uid_fetch(uid_set(uids), "(UID RFC822.SIZE)").await?;
        stream.try_collect::<Vec<_>>().await
    })
    .await?;
    let known: HashMap<u32, u64> =
        fetched.iter().filter_map(|f| Some((f.uid?, u64::from(f.size?)))).collect();
    // An e-mail the server did not size (expunged meanwhile) counts as one fetch cap.
    Ok(uids.iter().map(|u| (*u, known.get(u).copied().unwrap_or(u64::MAX))).collect())
}

/// The start (up to `cap` bytes) of each e-mail of `batch`, with its size and arrival date.
pub async fn bodies(
    session: &mut ImapSession,
    batch: &Batch,
    cap: u32,
) -> Result<Vec<Fetch>, MailboxError> {
    let query = format!("(UID RFC822.SIZE INTERNALDATE BODY.PEEK[]<0.{cap}>)");
    step_within("FETCH", batch.time_limit(), async {
        let stream = session.uid_fetch(uid_set(&batch.uids), &query).await?;
        stream.try_collect::<Vec<_>>().await
    })
    .await
}

/// The alert for an e-mail that could not be fetched: it is escalated all the same.
pub fn unreadable_mail(folder: &str, uid: u32, error: &str) -> AlertMail {
    illegible(
        folder,
        uid,
        &format!("não pôde ser lido depois de {GIVE_UP_AFTER} tentativas: {error}"),
    )
}

/// The alert that stands for an e-mail whose reading crashed the parser or the sender check (a
/// bug of ours or of a library): escalated at once, never retried — the same bytes would crash
/// the same way, forever.
pub fn unparseable_mail(folder: &str, uid: u32) -> AlertMail {
    illegible(folder, uid, "foi baixado, mas a leitura dele falhou (um defeito do Sentinela ao ler este e-mail; o registro tem os detalhes)")
}

fn illegible(folder: &str, uid: u32, what_happened: &str) -> AlertMail {
    AlertMail {
        subject: "E-mail ilegível na caixa de alertas".to_owned(),
        sender: String::new(),
        sent_at: None,
        message_id: None,
        body: format!("Um e-mail que casa com o filtro (pasta {folder}, UID {uid}) {what_happened}. Abra a caixa de e-mail e leia-o lá."),
        truncated: false,
    }
}

pub fn uid_set(uids: &[u32]) -> String {
    uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_cut_by_count_and_by_bytes() {
        let small: Vec<(u32, u64)> = (1..=250).map(|u| (u, 2_000)).collect();
        let b = batches(&small, 1 << 20);
        assert_eq!(b.iter().map(|b| b.uids.len()).collect::<Vec<_>>(), [100, 100, 50]);
        // Large mails: capped at the fetch cap, then as many as fit in 4 MiB.
        let large = [(1, 3 << 20), (2, 3 << 20), (3, 50 << 20), (4, 10)];
        let b = batches(&large, 1 << 20);
        assert_eq!(b, [Batch { uids: vec![1, 2, 3, 4], bytes: 3 * (1 << 20) + 10 }]);
        let b = batches(&large, 8 << 20);
        assert_eq!(
            b.iter().map(|b| b.uids.clone()).collect::<Vec<_>>(),
            [vec![1], vec![2], vec![3], vec![4]]
        );
        // The time limit grows with the bytes: 8 MiB at 64 KiB/s is 128 s more.
        assert_eq!(b[2].time_limit(), COMMAND_TIMEOUT + Duration::from_secs(128));
        assert_eq!(b[3].time_limit(), COMMAND_TIMEOUT);
    }

    #[test]
    fn a_failing_email_is_isolated_then_given_up_after_three_tries() {
        let f = FetchFailures::default();
        let err = MailboxError::Protocol { operation: "FETCH", reason: "unexpected token".into() };
        assert_eq!(f.plan(7, &[1, 2, 3]).healthy, [1, 2, 3]);
        f.failed(7, &[1, 2, 3], &err); // the batch failed: all suspect
        assert_eq!(f.plan(7, &[1, 2, 3]).suspect, [1, 2, 3]);
        f.done(7, &[1, 3]); // fetched alone, fine
        f.failed(7, &[2], &err);
        assert_eq!(
            f.plan(7, &[2, 4]),
            FetchPlan { healthy: vec![4], suspect: vec![2], unreadable: vec![] }
        );
        f.failed(7, &[2], &err);
        let plan = f.plan(7, &[2]);
        assert_eq!(plan.unreadable.len(), 1);
        assert!(plan.unreadable[0].1.contains("unexpected token"));
        // Another UIDVALIDITY is another mailbox: nothing carried over.
        assert_eq!(f.plan(8, &[2]).healthy, [2]);
        let mail = unreadable_mail("INBOX", 2, &plan.unreadable[0].1);
        assert!(mail.body.contains("UID 2") && mail.body.contains("3 tentativas"), "{}", mail.body);
    }
}

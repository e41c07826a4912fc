//! How many alarm messages one person may get: a flood of e-mails (a dying sensor, a rule gone
//! wrong) must not turn a phone into a firehose, and must not hide the alarm that matters.
//!
//! At most [`FloodLimit::per_window`] alarm messages per person in any [`FloodLimit::window`];
//! past that, new incidents wait and go out together in one digest at the end of the window, and
//! at most one digest per window.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodLimit {
    pub per_window: usize,
    pub window: Duration,
}

impl Default for FloodLimit {
    fn default() -> Self {
        FloodLimit { per_window: 5, window: Duration::minutes(10) }
    }
}

/// What to do with one more alarm message for one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Send,
    /// Gather it into the digest due at this time.
    Gather {
        digest_due: DateTime<Utc>,
    },
}

impl FloodLimit {
    /// `sent` are the times of this person's alarm messages (any order); `last_digest` when
    /// their last digest was planned.
    pub fn admit(
        &self,
        sent: &[DateTime<Utc>],
        last_digest: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Admission {
        let mut recent: Vec<DateTime<Utc>> =
            sent.iter().copied().filter(|t| now - *t < self.window).collect();
        if recent.len() < self.per_window {
            return Admission::Send;
        }
        recent.sort();
        // The window frees a place when the oldest of the last `per_window` messages leaves it.
        let frees_at = recent[recent.len() - self.per_window] + self.window;
        let digest_due = match last_digest {
            Some(d) => frees_at.max(d + self.window),
            None => frees_at,
        };
        Admission::Gather { digest_due }
    }

    /// A place in the person's next digest: now, unless a digest went out less than a window ago.
    pub fn next_digest(&self, last_digest: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Admission {
        Admission::Gather { digest_due: last_digest.map_or(now, |d| (d + self.window).max(now)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(mins: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::minutes(mins)
    }

    #[test]
    fn five_in_ten_minutes_then_a_digest_at_the_end_of_the_window() {
        let limit = FloodLimit::default();
        let cases: &[(&[i64], Option<i64>, i64, Admission)] = &[
            (&[], None, 0, Admission::Send),
            (&[0, 1, 2, 3], None, 4, Admission::Send),
            (&[0, 1, 2, 3, 4], None, 5, Admission::Gather { digest_due: at(10) }),
            // The oldest left the window: a place is free again.
            (&[0, 1, 2, 3, 4], None, 10, Admission::Send),
            (&[0, 1, 2, 3, 4, 10], None, 10, Admission::Gather { digest_due: at(11) }),
            (&[0, 1, 2, 3, 4, 10], None, 11, Admission::Send),
            // One digest per window at most.
            (&[0, 1, 2, 3, 4], Some(9), 9, Admission::Gather { digest_due: at(19) }),
            (&[5, 1, 3, 2, 4, 0], None, 6, Admission::Gather { digest_due: at(11) }),
        ];
        for (sent, digest, now, want) in cases {
            let sent: Vec<_> = sent.iter().map(|m| at(*m)).collect();
            assert_eq!(
                limit.admit(&sent, digest.map(at), at(*now)),
                *want,
                "sent {sent:?} digest {digest:?} at {now}"
            );
        }
        assert_eq!(limit.next_digest(None, at(3)), Admission::Gather { digest_due: at(3) });
        assert_eq!(limit.next_digest(Some(at(0)), at(3)), Admission::Gather { digest_due: at(10) });
        assert_eq!(
            limit.next_digest(Some(at(0)), at(12)),
            Admission::Gather { digest_due: at(12) }
        );
    }
}

//! Voice: the call queue that phones one number at a time until a person answers.
//!
//! [`next_call`] decides who is called next (or how long to rest) from what the journal holds,
//! with no I/O, so the order is tested as a table; [`CallQueue`] does what it decides — places
//! the call, follows it, and journals what it meant.

mod next_call;
mod queue;

pub use next_call::{next_call, CallList, NextCall, PlannedCall, QueueView, Rest};
pub use queue::{judge, judge_keypress, CallOutcome, CallQueue};

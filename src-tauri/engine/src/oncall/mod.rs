//! Plantão: who is on call at a given moment — rotations of shifts on the workstation's wall
//! clock, and covers that stand in for someone for a while.
//!
//! Pure arithmetic, tested as tables over months: a rotation hands over at the same wall-clock
//! time whatever the time zone's offset does (Brazil kept daylight saving until 2019; the IANA
//! database, through `jiff`, knows when), and a cover wins over the rotation (the newest of
//! overlapping covers). What an escalation does with the person on call is the notify side's.

mod rotation;

pub use rotation::{on_call, Cover, OnCall, Rotation, Shift};

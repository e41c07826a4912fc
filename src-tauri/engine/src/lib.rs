//! Sentinela's engine: turns alert e-mails into durable alerts and escalations, with no GUI.
//!
//! The path of an alert reads in stages, each in its own module:
//! mailbox ([`imap`]) → parsed mail ([`mail`]) → durable record in its [`incident`] ([`journal`])
//! → deliveries and calls ([`notify`]).
//! Everything runs on tokio; [`shutdown`] stops it politely and [`events`] tells the outside
//! world (the headless logger, the desktop shell) what is happening; [`health`] says loudly when
//! it cannot do its job, and [`heartbeat`] tells someone outside that it is alive. On a journal
//! shared by several workstations, [`lease`] lets one of them notify at a time.
//!
//! Underneath, [`model`] is the vocabulary every stage speaks (ids, states, records; no I/O),
//! [`config`] the file each stage is configured by, section by section, and [`timing`] the
//! intervals it runs at.

#[macro_use]
mod text_enum;

pub mod config;
pub mod engine_lock;
pub mod events;
pub mod files;
pub mod health;
pub mod heartbeat;
pub mod history_upkeep;
pub mod imap;
pub mod incident;
// Its test macro (`journal_test!`) serves the notify side's tests too.
#[macro_use]
pub mod journal;
pub mod journal_follower;
pub mod lease;
pub mod logging;
pub mod mail;
pub mod model;
pub mod notify;
pub mod oauth;
pub mod oncall;
pub mod outbox_drain;
pub mod paths;
pub mod phone;
pub mod runner;
pub mod secrets;
pub mod selftest;
pub mod shutdown;
pub mod supervisor;
pub mod timing;
pub mod twilio;

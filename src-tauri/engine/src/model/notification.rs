//! What the notify side sends and places, as records: a message ([`Delivery`]) and a call
//! ([`CallAttempt`]), with the states they go through.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Channel, IncidentId, MessagePurpose};

text_enum! {
    /// Where one message (WhatsApp or SMS) stands: the engine's own words until Twilio has it,
    /// then Twilio's status as last read.
    pub enum DeliveryState {
        /// Owed: planned, not sent yet.
        Pending = "pending",
        /// The request is under way, Twilio's answer not journaled yet (with a SID: Twilio's own
        /// `sending`).
        Sending = "sending",
        /// Held back by the flood limit, waiting for the person's digest.
        Gathered = "gathered",
        /// Sent inside a digest.
        Digested = "digested",
        Queued = "queued",
        Accepted = "accepted",
        Scheduled = "scheduled",
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        Failed = "failed",
        Undelivered = "undelivered",
        PartiallyDelivered = "partially_delivered",
        Receiving = "receiving",
        Received = "received",
        Canceled = "canceled",
        /// Twilio refused it, or it could not be sent.
        Error = "error",
        /// `twilio.dry_run`: journaled, not sent.
        DryRun = "dry_run",
        /// A status this version does not know.
        Unknown = "unknown",
    } else Unknown
}

impl DeliveryState {
    /// After these nothing more is sent or followed.
    pub const FINAL: [DeliveryState; 7] = [
        DeliveryState::Read,
        DeliveryState::Failed,
        DeliveryState::Undelivered,
        DeliveryState::Canceled,
        DeliveryState::Error,
        DeliveryState::DryRun,
        DeliveryState::Digested,
    ];

    pub fn is_final(self) -> bool {
        Self::FINAL.contains(&self)
    }
}

text_enum! {
    /// Where one call stands: `placing` until Twilio has it, then Twilio's status as last read.
    pub enum CallState {
        /// The request is under way, Twilio's answer not journaled yet.
        Placing = "placing",
        Queued = "queued",
        Ringing = "ringing",
        InProgress = "in-progress",
        Completed = "completed",
        Busy = "busy",
        Failed = "failed",
        NoAnswer = "no-answer",
        Canceled = "canceled",
        /// Twilio refused it, or its state could not be had.
        Error = "error",
        /// `twilio.dry_run`: journaled, not called.
        DryRun = "dry_run",
        /// A status this version does not know.
        Unknown = "unknown",
    } else Unknown
}

text_enum! {
    /// How one call attempt ended, for the queue.
    pub enum CallOutcome {
        /// A person answered (or, without `require_human`, anything answered).
        Answered = "answered",
        /// Voicemail, an answering machine or a fax: hung up, the queue goes on.
        Machine = "machine",
        /// Answered, but machine detection could not tell who (`unknown`): not counted, see README.
        Unconfirmed = "unconfirmed",
        /// With `[calls] keypress`: a person heard the alert and did not press 1; the queue goes on.
        Heard = "heard",
        NoAnswer = "no-answer",
        Busy = "busy",
        Failed = "failed",
        Canceled = "canceled",
        /// Twilio refused to place the call (bad number, permissions…), or its state could not be had.
        Error = "error",
        /// `twilio.dry_run`: nothing was called.
        DryRun = "dry_run",
    }
}

/// One message to one recipient, by WhatsApp or SMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Delivery {
    pub id: i64,
    pub channel: Channel,
    /// An SMS sent because this WhatsApp message could not be delivered: its id.
    pub fallback_of: Option<i64>,
    /// None for a digest (it speaks of several incidents).
    pub incident_id: Option<IncidentId>,
    pub purpose: MessagePurpose,
    pub recipient: String,
    /// The first line (or the template's first variable).
    pub headline: String,
    pub detail: String,
    pub state: DeliveryState,
    pub sid: Option<String>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// The incident is the operator's test.
    pub test: bool,
}

/// One phone call of the queue, with the incidents it speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CallAttempt {
    pub id: i64,
    /// How many times the queue had gone through the list for these incidents before.
    pub round: u32,
    pub position: u32,
    pub number: String,
    pub state: CallState,
    pub sid: Option<String>,
    /// With `[calls] keypress`: the Studio execution that places the call.
    pub execution_sid: Option<String>,
    pub answered_by: Option<String>,
    pub duration: Option<u32>,
    /// Set once the attempt is over.
    pub outcome: Option<CallOutcome>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// The incidents this call speaks, newest first.
    pub incidents: Vec<IncidentId>,
}

//! The parts of Twilio's Message, Call and Account resources that Sentinela reads.

use serde::{Deserialize, Serialize};

use crate::journal::{CallState, DeliveryState};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Account {
    pub sid: String,
    #[serde(default)]
    pub friendly_name: String,
    /// `active`, `suspended` or `closed`.
    pub status: String,
    /// `Trial` or `Full`.
    #[serde(rename = "type", default)]
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Message {
    pub sid: String,
    pub status: MessageStatus,
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub error_message: Option<String>,
}

/// A message as Twilio's list gives it: a WhatsApp reply, or one of ours looked up after a
/// create whose answer was lost.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ListedMessage {
    pub sid: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub body: String,
    /// RFC 2822, e.g. `Sat, 28 Nov 2026 06:14:05 +0000`.
    #[serde(default)]
    pub date_sent: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub direction: String,
}

impl ListedMessage {
    pub fn sent_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        rfc2822(self.date_sent.as_deref())
    }

    pub fn created_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        rfc2822(self.date_created.as_deref())
    }
}

/// Twilio's dates: `Sat, 28 Nov 2026 06:14:05 +0000`.
pub(crate) fn rfc2822(t: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc2822(t?).ok().map(|t| t.with_timezone(&chrono::Utc))
}

/// One page of `GET …/Messages.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct MessageList {
    #[serde(default)]
    pub messages: Vec<ListedMessage>,
    #[serde(default)]
    pub next_page_uri: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Queued,
    Sending,
    Sent,
    Failed,
    Delivered,
    Undelivered,
    Receiving,
    Received,
    Accepted,
    Scheduled,
    Read,
    PartiallyDelivered,
    Canceled,
    #[serde(other)]
    Unknown,
}

impl MessageStatus {
    /// No later change is worth waiting for. `delivered` can still become `read`, so it is not.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            MessageStatus::Read
                | MessageStatus::Failed
                | MessageStatus::Undelivered
                | MessageStatus::Canceled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Undelivered => "undelivered",
            MessageStatus::Receiving => "receiving",
            MessageStatus::Received => "received",
            MessageStatus::Accepted => "accepted",
            MessageStatus::Scheduled => "scheduled",
            MessageStatus::Read => "read",
            MessageStatus::PartiallyDelivered => "partially_delivered",
            MessageStatus::Canceled => "canceled",
            MessageStatus::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Call {
    pub sid: String,
    pub status: CallStatus,
    /// With machine detection: `human`, `machine_start`, `machine_end_beep`, …, `fax`, `unknown`.
    #[serde(default)]
    pub answered_by: Option<String>,
    /// Seconds, as a string; empty or null while the call is going on.
    #[serde(default)]
    pub duration: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
}

impl Call {
    pub fn created_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        rfc2822(self.date_created.as_deref())
    }

    pub fn duration_secs(&self) -> Option<u32> {
        self.duration.as_deref().and_then(|d| d.parse().ok())
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    Queued,
    Ringing,
    InProgress,
    Completed,
    Busy,
    Failed,
    NoAnswer,
    Canceled,
    #[serde(other)]
    Unknown,
}

impl CallStatus {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CallStatus::Completed
                | CallStatus::Busy
                | CallStatus::Failed
                | CallStatus::NoAnswer
                | CallStatus::Canceled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::Failed => "failed",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Canceled => "canceled",
            CallStatus::Unknown => "unknown",
        }
    }
}

/// One page of `GET …/Calls.json`.
#[derive(Debug, Deserialize)]
pub(crate) struct CallList {
    #[serde(default)]
    pub calls: Vec<Call>,
}

/// A page of a list resource; Twilio names the array after the resource.
#[derive(Debug, Deserialize)]
pub(crate) struct IncomingNumbers {
    pub incoming_phone_numbers: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OutgoingCallerIds {
    pub outgoing_caller_ids: Vec<serde_json::Value>,
}

// Twilio's statuses as the journal keeps them: the journal knows its own states, not Twilio's.
impl From<MessageStatus> for DeliveryState {
    fn from(status: MessageStatus) -> Self {
        match status {
            MessageStatus::Queued => DeliveryState::Queued,
            MessageStatus::Sending => DeliveryState::Sending,
            MessageStatus::Sent => DeliveryState::Sent,
            MessageStatus::Failed => DeliveryState::Failed,
            MessageStatus::Delivered => DeliveryState::Delivered,
            MessageStatus::Undelivered => DeliveryState::Undelivered,
            MessageStatus::Receiving => DeliveryState::Receiving,
            MessageStatus::Received => DeliveryState::Received,
            MessageStatus::Accepted => DeliveryState::Accepted,
            MessageStatus::Scheduled => DeliveryState::Scheduled,
            MessageStatus::Read => DeliveryState::Read,
            MessageStatus::PartiallyDelivered => DeliveryState::PartiallyDelivered,
            MessageStatus::Canceled => DeliveryState::Canceled,
            MessageStatus::Unknown => DeliveryState::Unknown,
        }
    }
}

impl From<CallStatus> for CallState {
    fn from(status: CallStatus) -> Self {
        match status {
            CallStatus::Queued => CallState::Queued,
            CallStatus::Ringing => CallState::Ringing,
            CallStatus::InProgress => CallState::InProgress,
            CallStatus::Completed => CallState::Completed,
            CallStatus::Busy => CallState::Busy,
            CallStatus::Failed => CallState::Failed,
            CallStatus::NoAnswer => CallState::NoAnswer,
            CallStatus::Canceled => CallState::Canceled,
            CallStatus::Unknown => CallState::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{rfc2822, CallState, CallStatus, DeliveryState, MessageStatus};

    #[test]
    fn twilios_statuses_are_journaled_in_twilios_spelling() {
        // What older versions wrote (Twilio's own words) must read back as the same state.
        use MessageStatus as M;
        for m in [
            M::Queued,
            M::Sending,
            M::Sent,
            M::Failed,
            M::Delivered,
            M::Undelivered,
            M::Receiving,
            M::Received,
            M::Accepted,
            M::Scheduled,
            M::Read,
            M::PartiallyDelivered,
            M::Canceled,
            M::Unknown,
        ] {
            assert_eq!(DeliveryState::from(m).as_str(), m.as_str());
        }
        use CallStatus as C;
        for c in [
            C::Queued,
            C::Ringing,
            C::InProgress,
            C::Completed,
            C::Busy,
            C::Failed,
            C::NoAnswer,
            C::Canceled,
            C::Unknown,
        ] {
            assert_eq!(CallState::from(c).as_str(), c.as_str());
        }
    }

    #[test]
    fn twilio_dates_and_http_dates_are_read() {
        let body = rfc2822(Some("Sat, 28 Nov 2026 06:14:05 +0000")).unwrap();
        // The `Date` header (RFC 9110's IMF-fixdate) measures Twilio's clock.
        let header = rfc2822(Some("Sat, 28 Nov 2026 06:14:05 GMT")).unwrap();
        assert_eq!(body, header);
        assert!(rfc2822(Some("yesterday")).is_none() && rfc2822(None).is_none());
    }
}

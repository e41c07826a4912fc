//! The engine's vocabulary that every part shares and none owns: ids, the states things go
//! through, the records the history shows. No I/O, and nothing of the engine imported, so the
//! journal, the rules, the notify side and the shells can all speak it.

mod incident;
mod notification;

pub use incident::*;
pub use notification::*;

/// A journaled alert e-mail.
pub type AlertId = i64;

text_enum! {
    /// How a message reaches a person's phone.
    pub enum Channel {
        Whatsapp = "whatsapp",
        /// A plain text message (`[sms]`): the fallback when WhatsApp cannot deliver.
        Sms = "sms",
    }
}

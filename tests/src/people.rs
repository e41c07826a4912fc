//! The team every test notifies: the same numbers in every file, named by what they are for, so
//! a failure reads the same wherever it happens.

/// The WhatsApp (and SMS) recipients, in `[whatsapp] to` order.
pub const WA1: &str = "+5511999990001";
pub const WA2: &str = "+5511999990002";

/// The numbers the call queue dials, in `[calls] to` order.
pub const C1: &str = "+5511988880001";
pub const C2: &str = "+5511988880002";
pub const C3: &str = "+5511988880003";

/// The account's WhatsApp sender (Twilio's sandbox number).
pub use crate::scenario::SENDER;

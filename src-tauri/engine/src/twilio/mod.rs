//! Twilio's REST API (2010-04-01, and Studio v2 for calls that ask for a key) over plain
//! reqwest: the few resources Sentinela uses, the errors worth explaining, and the TwiML it speaks.

mod client;
mod error;
mod resources;
pub mod studio;
pub mod twiml;

pub use client::{CreateError, CreateFence, NewCall, NewMessage, RetryPolicy, TwilioClient};
pub use error::{describe_code, describe_code_in_portuguese, TwilioError};
pub use resources::{Account, Call, CallStatus, ListedMessage, Message, MessageStatus};

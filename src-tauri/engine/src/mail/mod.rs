//! From raw e-mail bytes to the text of an alert.
//!
//! `mail-parser` does the MIME work (encoded words, transfer encodings, charsets, HTML to text);
//! this module picks what an operator needs — subject, sender, date, Message-ID and one clean text
//! body — caps its size and normalises whitespace so the same alert always reads the same.

mod lexer;
mod parse;
pub mod sender;
mod text;

pub use parse::{parse_alert_mail, AlertMail, MAX_BODY_CHARS};
pub use sender::{AllowedSender, Rejection, SenderPolicy};
pub use text::normalise_whitespace;

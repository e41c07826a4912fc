//! The engine's vocabulary that every part shares and none owns: kept free of I/O, so the
//! journal, the notify side and the shells can all speak it.

text_enum! {
    /// How a message reaches a person's phone.
    pub enum Channel {
        Whatsapp = "whatsapp",
        /// A plain text message (`[sms]`): the fallback when WhatsApp cannot deliver.
        Sms = "sms",
    }
}

//! `text_enum!`: the one way a state or a problem code is declared when it crosses the journal,
//! the engine and the UI. Each variant is spelled once, and `as_str`, serde, (for the UI) ts-rs
//! and — through [`crate::journal::sql`]'s `stored_as_text!` — the journal all use that spelling,
//! so SQL, Rust and TypeScript cannot drift: a variant added here fails the UI's typecheck (and
//! the shell's `match`es) until it has words.
//!
//! A state that comes from Twilio (a message's or a call's status) ends with `else Variant`:
//! a word the journal holds but this version does not know (written by a newer Sentinela, or a
//! status Twilio added) is read as that variant instead of failing the whole read.
//!
//! The macro makes no storage code: the types it declares live in [`crate::model`], which the
//! journal imports, never the other way round.

macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        text_enum!(@common $(#[$meta])* $name { $($(#[$vmeta])* $variant = $text,)+ });

        impl $name {
            /// The variant `s` spells; None for a word this version does not know.
            pub fn read(s: &str) -> Option<Self> {
                Self::parse(s)
            }
        }
    };
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ } else $fallback:ident) => {
        text_enum!(@common $(#[$meta])* $name { $($(#[$vmeta])* $variant = $text,)+ });

        impl $name {
            /// The variant `s` spells, or the one that stands for words this version does not know.
            pub fn read(s: &str) -> Option<Self> {
                Some(Self::parse(s).unwrap_or($name::$fallback))
            }
        }
    };
    (@common $(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

//! `text_enum!`: the one way a state or a problem code is declared when it crosses the journal,
//! the engine and the UI. Each variant is spelled once, and `as_str`, the journal's `ToValue`/`FromValue`, serde
//! and (for the UI) ts-rs all use that spelling, so SQL, Rust and TypeScript cannot drift: a
//! variant added here fails the UI's typecheck (and the shell's `match`es) until it has words.
//!
//! A state that comes from Twilio (a message's or a call's status) ends with `else Variant`:
//! a word the journal holds but this version does not know (written by a newer Sentinela, or a
//! status Twilio added) is read as that variant instead of failing the whole read.

macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        text_enum!(@common $(#[$meta])* $name { $($(#[$vmeta])* $variant = $text,)+ });

        impl $crate::journal::sql::FromValue for $name {
            fn from_value(v: &$crate::journal::sql::Value) -> Result<Self, String> {
                let s = <String as $crate::journal::sql::FromValue>::from_value(v)?;
                $name::parse(&s).ok_or_else(|| format!("unknown {} {s:?}", stringify!($name)))
            }
        }
    };
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ } else $fallback:ident) => {
        text_enum!(@common $(#[$meta])* $name { $($(#[$vmeta])* $variant = $text,)+ });

        impl $crate::journal::sql::FromValue for $name {
            fn from_value(v: &$crate::journal::sql::Value) -> Result<Self, String> {
                Ok($name::parse(&<String as $crate::journal::sql::FromValue>::from_value(v)?).unwrap_or($name::$fallback))
            }
        }
    };
    (@common $(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+ }

        impl $name {
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

        impl $crate::journal::sql::ToValue for $name {
            fn to_value(&self) -> $crate::journal::sql::Value {
                $crate::journal::sql::Value::Text(self.as_str().to_owned())
            }
        }
    };
}

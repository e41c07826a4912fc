//! `text_enum!`: the one way a state or a problem code is declared when it crosses the journal,
//! the engine and the UI. Each variant is spelled once, and `as_str`, `ToSql`/`FromSql`, serde
//! and (for the UI) ts-rs all use that spelling, so SQL, Rust and TypeScript cannot drift: a
//! variant added here fails the UI's typecheck (and the shell's `match`es) until it has words.
//!
//! A state that comes from Twilio (a message's or a call's status) ends with `else Variant`:
//! a word the journal holds but this version does not know (written by a newer Sentinela, or a
//! status Twilio added) is read as that variant instead of failing the whole read.

macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        text_enum!(@common $(#[$meta])* $name { $($(#[$vmeta])* $variant = $text,)+ });

        impl rusqlite::types::FromSql for $name {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let s = v.as_str()?;
                $name::parse(s).ok_or_else(|| rusqlite::types::FromSqlError::Other(format!("unknown {} {s:?}", stringify!($name)).into()))
            }
        }
    };
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ } else $fallback:ident) => {
        text_enum!(@common $(#[$meta])* $name { $($(#[$vmeta])* $variant = $text,)+ });

        impl rusqlite::types::FromSql for $name {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                Ok($name::parse(v.as_str()?).unwrap_or($name::$fallback))
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

        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }
    };
}

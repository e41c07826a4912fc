//! Phone numbers as operators type them — `(11) 99999-0001`, `11 99999 0001`, `+55 11 ...` —
//! normalised to E.164 by libphonenumber's rules (the `phonenumber` crate), Brazil by default.

use phonenumber::{country, Mode};

/// Numbers without a country code are read as Brazilian.
pub const DEFAULT_REGION: country::Id = country::Id::BR;

/// Why a number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a valid phone number ({reason}); write it with the area code, e.g. (11) 99999-0001, or in international form, e.g. +55 11 99999-0001")]
pub struct PhoneError {
    pub input: String,
    pub reason: String,
}

impl PhoneError {
    /// The same in Portuguese (the reason stays as the numbering library gave it).
    pub fn in_portuguese(&self) -> String {
        format!("{:?} não é um número de telefone válido ({}).", self.input, self.reason)
    }
}

/// Parses and validates `input`, returning it in E.164 (`+5511999990001`).
pub fn normalise(input: &str) -> Result<String, PhoneError> {
    let trimmed = input.trim().trim_start_matches("whatsapp:");
    let err = |reason: &str| PhoneError { input: input.to_owned(), reason: reason.to_owned() };
    if trimmed.is_empty() {
        return Err(err("empty"));
    }
    let number = phonenumber::parse(Some(DEFAULT_REGION), trimmed).map_err(|e| err(&e.to_string()))?;
    if !phonenumber::is_valid(&number) {
        return Err(err("no such number in its country's numbering plan"));
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

/// A number as people read it: `(11) 99999-0001` for a Brazilian number, the international
/// form (`+1 415-523-8886`) for others, the input itself when it is no number.
pub fn display(e164: &str) -> String {
    let Ok(number) = phonenumber::parse(Some(DEFAULT_REGION), e164.trim_start_matches("whatsapp:")) else {
        return e164.to_owned();
    };
    if number.country().id() == Some(DEFAULT_REGION) {
        number.format().mode(Mode::National).to_string()
    } else {
        number.format().mode(Mode::International).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brazilian_ways_of_writing_a_number() {
        for typed in ["(11) 99999-0001", "11 99999 0001", "+55 11 99999-0001", "+5511999990001", "011 99999-0001"] {
            assert_eq!(normalise(typed).as_deref(), Ok("+5511999990001"), "{typed}");
        }
    }

    #[test]
    fn foreign_and_whatsapp_prefixed() {
        assert_eq!(normalise("+1 415 523 8886").as_deref(), Ok("+14155238886"));
        assert_eq!(normalise("whatsapp:+14155238886").as_deref(), Ok("+14155238886"));
    }

    #[test]
    fn numbers_read_the_way_people_write_them() {
        assert_eq!(display("+5511999990001"), "(11) 99999-0001");
        assert_eq!(display("+14155238886"), "+1 415-523-8886");
        assert_eq!(display("not a number"), "not a number");
    }

    #[test]
    fn nonsense_is_refused_and_named() {
        for bad in ["", "abc", "123", "(11) 9999"] {
            let e = normalise(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }
}

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
    let number =
        phonenumber::parse(Some(DEFAULT_REGION), trimmed).map_err(|e| err(&e.to_string()))?;
    if !phonenumber::is_valid(&number) {
        return Err(err("no such number in its country's numbering plan"));
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

/// A number as people read it: `(11) 99999-0001` for a Brazilian number, the international
/// form (`+1 415-523-8886`) for others, the input itself when it is no number.
pub fn display(e164: &str) -> String {
    let Ok(number) = phonenumber::parse(Some(DEFAULT_REGION), e164.trim_start_matches("whatsapp:"))
    else {
        return e164.to_owned();
    };
    if number.country().id() == Some(DEFAULT_REGION) {
        number.format().mode(Mode::National).to_string()
    } else {
        number.format().mode(Mode::International).to_string()
    }
}

/// Which of the configured `recipients` a WhatsApp sender's number is, if any.
///
/// WhatsApp still knows many Brazilian mobiles registered before the ninth digit (2012–2016) by
/// their eight-digit form: the reply to `+55 81 98765-4321` comes from `+558187654321`; and
/// Mexican mobiles by the `+52 1` form Mexico dropped in 2019. Both forms of one line are the
/// same recipient here, so a reply from either takes the incident in the configured number's
/// and person's name. libphonenumber parses each form (country code, national number); the
/// rules between the two forms are the numbering plans' own, below.
pub fn recipient_matching<'a>(from: &str, recipients: &'a [String]) -> Option<&'a str> {
    let parse = |n: &str| {
        phonenumber::parse(Some(DEFAULT_REGION), n.trim().trim_start_matches("whatsapp:")).ok()
    };
    let from = parse(from)?;
    recipients.iter().find(|r| parse(r).is_some_and(|r| same_line(&from, &r))).map(String::as_str)
}

/// Whether two parsed numbers are one line, ninth digit or not.
fn same_line(a: &phonenumber::PhoneNumber, b: &phonenumber::PhoneNumber) -> bool {
    if a.code().value() != b.code().value() {
        return false;
    }
    let (x, y) = (a.national().value(), b.national().value());
    x == y
        || match a.code().value() {
            55 => ninth_digit_added(x, y) || ninth_digit_added(y, x),
            52 => mobile_one_added(x, y) || mobile_one_added(y, x),
            _ => false,
        }
}

/// `long` is the ten-digit Mexican number `short` with the `1` mobiles once carried after +52.
fn mobile_one_added(long: u64, short: u64) -> bool {
    const TEN_DIGITS: u64 = 10_000_000_000;
    (TEN_DIGITS..2 * TEN_DIGITS).contains(&long)
        && (TEN_DIGITS / 10..TEN_DIGITS).contains(&short)
        && long - TEN_DIGITS == short
}

/// `long` (area code, 9, eight digits) is `short` (area code, eight digits) with the ninth digit
/// Anatel added to mobiles: the same area code and last eight digits, and a short form that is a
/// mobile's (its first digit 6 to 9; landlines begin 2 to 5 and never got a ninth digit).
fn ninth_digit_added(long: u64, short: u64) -> bool {
    const EIGHT: u64 = 100_000_000;
    let is_long = (10_000_000_000..100_000_000_000).contains(&long);
    let is_short = (1_000_000_000..10_000_000_000).contains(&short);
    is_long
        && is_short
        && long / (10 * EIGHT) == short / EIGHT
        && (long / EIGHT) % 10 == 9
        && long % EIGHT == short % EIGHT
        && (6..=9).contains(&(short % EIGHT / 10_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_matches_its_recipient_with_or_without_the_ninth_digit() {
        let recipients = vec![
            "+5581987654321".to_owned(),
            "+5511988880002".to_owned(),
            "+5215512345678".to_owned(),
            "+551133334444".to_owned(),
        ];
        let is = |from: &str| recipient_matching(from, &recipients);
        assert_eq!(is("whatsapp:+5581987654321"), Some("+5581987654321"), "as configured");
        assert_eq!(
            is("whatsapp:+558187654321"),
            Some("+5581987654321"),
            "registered before the ninth digit"
        );
        assert_eq!(is("+551188880002"), Some("+5511988880002"));
        // Another area code, or other last digits, is another line.
        assert_eq!(is("+551187654321"), None);
        assert_eq!(is("+558187654322"), None);
        // A landline never had a ninth digit: +55 11 3333-4444 is not +55 11 93333-4444.
        assert_eq!(recipient_matching("+5511933334444", &recipients), None);
        assert_eq!(is("+551133334444"), Some("+551133334444"));
        // Mexico's old mobile form and the new one.
        assert_eq!(is("+525512345678"), Some("+5215512345678"));
        assert_eq!(
            recipient_matching("+5215512345678", &["+525512345678".to_owned()]),
            Some("+525512345678")
        );
        assert_eq!(is("nonsense"), None);
    }

    #[test]
    fn brazilian_ways_of_writing_a_number() {
        for typed in [
            "(11) 99999-0001",
            "11 99999 0001",
            "+55 11 99999-0001",
            "+5511999990001",
            "011 99999-0001",
        ] {
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

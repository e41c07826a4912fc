//! The lexical layer of RFC 5322 header values, for the two headers whose every character
//! decides whether the phones may ring: From and Authentication-Results.
//!
//! mail-parser reads headers generously, as a mail reader should (a phrase with no address is
//! taken for the address). The sender check must read them strictly instead, so both are
//! re-read here as RFC 5322 (§3.2.2–3.2.4) and RFC 8601 (§2.2) write them: comments and folding
//! white space between tokens, quoted strings as one value with their quoted pairs, and
//! everything else as atoms or single special characters. No tolerance: an unclosed comment or
//! quote, a control character, is an error, and the caller rejects the header.

/// One token of a header value. Comments and white space are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A run of characters that are neither white space nor one of the lexer's specials.
    Atom(String),
    /// A quoted string's content, quoted pairs resolved.
    Quoted(String),
    /// One special character.
    Special(char),
}

impl Token {
    pub fn is(&self, c: char) -> bool {
        matches!(self, Token::Special(s) if *s == c)
    }
}

/// The specials of RFC 5322 addresses (§3.2.3), without `.`: a dot-atom (`a.b`) is one atom
/// here, and its dots are checked by the grammar that uses it.
pub const ADDRESS_SPECIALS: &str = "()<>[]:;@\\,\"";
/// RFC 8601's: MIME's tspecials (RFC 2045 §5.1) without `/` and `.`, which appear inside its
/// method versions and property names (`dkim/1`, `header.d`) and are split by its grammar.
pub const RESULTS_SPECIALS: &str = "()<>@,;:\\\"[]?=";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    #[error("an unclosed comment")]
    UnclosedComment,
    #[error("an unclosed quoted string")]
    UnclosedQuote,
    #[error("a control character")]
    Control,
}

/// Splits `value` (folded or not) into tokens, `specials` being the one-character tokens.
pub fn tokens(value: &str, specials: &str) -> Result<Vec<Token>, LexError> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    let mut atom = String::new();
    let flush = |atom: &mut String, out: &mut Vec<Token>| {
        if !atom.is_empty() {
            out.push(Token::Atom(std::mem::take(atom)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => flush(&mut atom, &mut out),
            '(' => {
                flush(&mut atom, &mut out);
                let mut depth = 1u32;
                while depth > 0 {
                    match chars.next().ok_or(LexError::UnclosedComment)? {
                        '\\' => {
                            chars.next().ok_or(LexError::UnclosedComment)?;
                        }
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                }
            }
            '"' => {
                flush(&mut atom, &mut out);
                let mut quoted = String::new();
                loop {
                    match chars.next().ok_or(LexError::UnclosedQuote)? {
                        '"' => break,
                        '\\' => quoted.push(chars.next().ok_or(LexError::UnclosedQuote)?),
                        // Folding inside a quoted string is white space (RFC 5322 §3.2.4).
                        '\r' | '\n' => {}
                        c => quoted.push(c),
                    }
                }
                out.push(Token::Quoted(quoted));
            }
            c if c.is_control() => return Err(LexError::Control),
            c if specials.contains(c) => {
                flush(&mut atom, &mut out);
                out.push(Token::Special(c));
            }
            c => atom.push(c),
        }
    }
    flush(&mut atom, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Token::*;

    fn atom(s: &str) -> Token {
        Atom(s.into())
    }

    #[test]
    fn comments_and_folding_disappear_quoted_strings_stay_whole() {
        // RFC 5322 appendix A.5's address with comments, folded.
        assert_eq!(
            tokens(
                "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
                ADDRESS_SPECIALS
            )
            .unwrap(),
            vec![
                atom("Pete"),
                Special('<'),
                atom("pete"),
                Special('@'),
                atom("silly.test"),
                Special('>')
            ]
        );
        assert_eq!(
            tokens("\"Joe Q. Public\"\r\n <john.q.public@example.com>", ADDRESS_SPECIALS).unwrap(),
            vec![
                Quoted("Joe Q. Public".into()),
                Special('<'),
                atom("john.q.public"),
                Special('@'),
                atom("example.com"),
                Special('>')
            ]
        );
        assert_eq!(
            tokens("\"a\\\"b\" (c (nested) d)", ADDRESS_SPECIALS).unwrap(),
            vec![Quoted("a\"b".into())]
        );
    }

    #[test]
    fn what_is_not_closed_is_an_error() {
        assert_eq!(tokens("a (b", ADDRESS_SPECIALS), Err(LexError::UnclosedComment));
        assert_eq!(tokens("\"a", ADDRESS_SPECIALS), Err(LexError::UnclosedQuote));
        assert_eq!(tokens("a\u{0}b", ADDRESS_SPECIALS), Err(LexError::Control));
    }

    #[test]
    fn results_keep_dots_and_slashes_in_their_atoms() {
        assert_eq!(
            tokens("mx.example; dkim/1=pass header.d=x.example", RESULTS_SPECIALS).unwrap(),
            vec![
                atom("mx.example"),
                Special(';'),
                atom("dkim/1"),
                Special('='),
                atom("pass"),
                atom("header.d"),
                Special('='),
                atom("x.example")
            ]
        );
    }
}

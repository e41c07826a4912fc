//! Whitespace normalisation for alert text.
//!
//! Devices pad their mails with tabs, trailing spaces, CRLF and runs of blank lines; HTML-to-text
//! leaves more of the same. Normalising makes messages short to read aloud and stable to compare.

/// Collapses runs of spaces and tabs to one space, trims every line, turns CRLF into LF, drops
/// invisible characters (NBSP becomes a space, zero-width and control characters go) and keeps at
/// most one blank line between paragraphs.
pub fn normalise_whitespace(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut blank_run = 0usize;
    for raw_line in input.split('\n') {
        let line = collapse_line(raw_line);
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank_run > 0 {
                out.push('\n');
            }
        }
        blank_run = 0;
        out.push_str(&line);
    }
    out
}

fn collapse_line(line: &str) -> String {
    let mut s = String::with_capacity(line.len());
    let mut pending_space = false;
    for c in line.chars() {
        let c = match c {
            '\u{a0}' | '\u{2007}' | '\u{202f}' => ' ',
            '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{feff}' | '\u{ad}' => continue,
            c if c.is_control() && c != '\t' => continue,
            c => c,
        };
        if c.is_whitespace() {
            pending_space = !s.is_empty();
            continue;
        }
        if pending_space {
            s.push(' ');
            pending_space = false;
        }
        s.push(c);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_and_trims() {
        let s = "  Temp:\t\t31,5 °C  \r\n\r\n\r\n\r\nSala  1\u{a0}\u{a0}CPD\u{200b}\r\n  ";
        assert_eq!(normalise_whitespace(s), "Temp: 31,5 °C\n\nSala 1 CPD");
    }

    #[test]
    fn empty_stays_empty() {
        assert_eq!(normalise_whitespace(" \n\t\r\n"), "");
    }
}

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

/// [`normalise_whitespace`] on one line: what a header becomes (subject, sender). A header's
/// value can carry line breaks (an encoded-word with a LF, a damaged fold), and a subject is shown
/// on one line in the tray, a notification and a log.
pub fn one_line(input: &str) -> String {
    normalise_whitespace(input).split('\n').filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Characters that show nothing yet change what is shown: zero-width ones, the soft hyphen, and
/// the bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E/F, U+061C) that can make
/// `gnp.exe` read `exe.png` — text from whoever e-mails the box is shown and spoken without them.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{ad}' | '\u{61c}' | '\u{180e}' | '\u{fff9}'..='\u{fffb}')
}

fn collapse_line(line: &str) -> String {
    let mut s = String::with_capacity(line.len());
    let mut pending_space = false;
    for c in line.chars() {
        let c = match c {
            '\u{a0}' | '\u{2007}' | '\u{202f}' => ' ',
            c if is_invisible(c) => continue,
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
    fn bidirectional_and_invisible_controls_are_removed() {
        let s = "ALERTA \u{202e}gnp.exe\u{202c} sala\u{2066}1\u{2069} \u{200e}x\u{200f}\u{61c}y\u{2060}z\u{feff}";
        assert_eq!(normalise_whitespace(s), "ALERTA gnp.exe sala1 xyz");
    }

    #[test]
    fn collapses_and_trims() {
        let s = "  Temp:\t\t31,5 °C  \r\n\r\n\r\n\r\nSala  1\u{a0}\u{a0}CPD\u{200b}\r\n  ";
        assert_eq!(normalise_whitespace(s), "Temp: 31,5 °C\n\nSala 1 CPD");
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(
            one_line("ALERTA: Umidade alta\no corredor\r\n\r\n frio\u{b}"),
            "ALERTA: Umidade alta o corredor frio"
        );
    }

    #[test]
    fn empty_stays_empty() {
        assert_eq!(normalise_whitespace(" \n\t\r\n"), "");
    }
}

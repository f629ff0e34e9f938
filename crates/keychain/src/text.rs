//! Text that reaches people: which characters may not appear in a value keychain stores or
//! signs (a certificate subject, a backend URI) and must be escaped before a terminal shows
//! them, so no line can be forged or hidden; and bytes written as lower-case hex digits.

/// Whether `c` is a control character or an invisible formatting character: C0 and C1 controls
/// and DEL (ESC sequences, CR, BEL…), and the characters that reorder or hide text
/// (bidirectional overrides and isolates such as U+202E, zero-width characters, the line and
/// paragraph separators, the byte-order mark).
pub fn is_control_or_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// `bytes` as lower-case hex digits, two per byte.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_invisible_formatting_are_caught() {
        for c in [
            '\u{1b}', '\r', '\n', '\u{7f}', '\u{85}', '\u{202e}', '\u{2066}', '\u{200b}',
        ] {
            assert!(is_control_or_invisible(c), "{c:?}");
        }
        for c in ['a', 'é', '中', ' ', '-', '\u{2010}'] {
            assert!(!is_control_or_invisible(c), "{c:?}");
        }
    }
}

//! Text from registries, made safe to show. Names, error messages and warnings come from servers
//! irel does not trust; printed raw, an escape sequence in them could retitle the terminal,
//! clear the screen or hide what follows, and an embedded newline could forge a line of irel's
//! own output. Everything irel shows of such text goes through [`terminal_safe`].

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every character that can drive a terminal or break a line written as a visible
/// escape: C0 and C1 control characters and DEL (`\n`, `\r`, `\t` as such, the rest as
/// `\u001b`), and the Unicode line separators and bidirectional overrides (which reorder what
/// is shown). Other text, including any other non-ASCII, is returned unchanged and unallocated.
/// The escapes are JSON's, so a JSON line passed through stays valid JSON with the same value.
///
/// ```
/// use irel::text::terminal_safe;
/// assert_eq!(terminal_safe("v1.0"), "v1.0");
/// assert_eq!(terminal_safe("x\u{1b}]0;owned\u{7}"), "x\\u001b]0;owned\\u0007");
/// assert_eq!(terminal_safe("a\nirel: forged"), "a\\nirel: forged");
/// assert_eq!(terminal_safe("café"), "café");
/// ```
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` with every double-quoted run longer than `max` characters cut to its start and an
/// ellipsis: parsers quote the input they could not read, and a wrong file (say /etc/passwd
/// given as a configuration) must not be shown whole.
#[cfg(feature = "sync")]
pub(crate) fn cut_long_quotes(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(512));
    let mut parts = text.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        out.push('"');
        // Odd-numbered parts (0, 2, … here) are inside quotes.
        if i % 2 == 0 && part.chars().count() > max {
            out.extend(part.chars().take(max));
            out.push('…');
        } else {
            out.push_str(part);
        }
    }
    out
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_escaped() {
        assert_eq!(terminal_safe("\u{1b}[2J"), "\\u001b[2J");
        assert_eq!(terminal_safe("\u{9b}31m"), "\\u009b31m");
        assert_eq!(terminal_safe("\u{7f}"), "\\u007f");
        assert_eq!(terminal_safe("a\u{202e}b"), "a\\u202eb");
        assert_eq!(terminal_safe("a\r\tb"), "a\\r\\tb");
    }

    #[cfg(feature = "sync")]
    #[test]
    fn long_quoted_input_is_cut() {
        let long = format!("invalid type: string \"{}\", expected a map", "x".repeat(500));
        assert_eq!(
            cut_long_quotes(&long, 5),
            "invalid type: string \"xxxxx…\", expected a map"
        );
        assert_eq!(cut_long_quotes("a \"b\" c", 5), "a \"b\" c");
    }

    #[test]
    fn plain_text_is_not_copied() {
        assert!(matches!(terminal_safe("sha256:abc ünïcode"), Cow::Borrowed(_)));
    }
}

//! dregsy's regular expressions: line anchoring by plain concatenation (`a|b` becomes `^a|b$`),
//! `!` inversion for tag filters, and Go's `$1` / `${name}` replacement expansion.
//!
//! ```
//! use irel::sync::tasks::goregex::{anchored, expand_replace_all, Filter};
//! assert!(anchored("a|b").unwrap().is_match("axx"), "^a|b$ matches what starts with a");
//! assert!(Filter::new(" !.+musl ").unwrap().matches("1.0-glibc"));
//! let re = regex::Regex::new("my(.+)/").unwrap();
//! assert_eq!(expand_replace_all(&re, "/myproject/webui", "from-dh/your$1/"), "/from-dh/yourproject/webui");
//! assert_eq!(expand_replace_all(&re, "/myproject/webui", "$1x"), "/webui", "$1x is the group named 1x");
//! ```

use regex::{Captures, Regex};

/// Compiles `expr` with `^` put in front unless it starts with one, and `$` after unless it
/// ends with one: text concatenation, no grouping, as dregsy's `CompileRegex(expr, true)`.
pub fn anchored(expr: &str) -> Result<Regex, regex::Error> {
    let mut e = String::with_capacity(expr.len() + 2);
    if !expr.starts_with('^') {
        e.push('^');
    }
    e.push_str(expr);
    if !expr.ends_with('$') {
        e.push('$');
    }
    Regex::new(&e)
}

/// A tag filter (`regex:` and `keep:` entries, dregsy's `NewRegex`): trimmed, a leading `!`
/// inverts it, then anchored.
///
/// ```
/// use irel::sync::tasks::goregex::Filter;
/// let not_musl = Filter::new("!.+-musl").unwrap();
/// let tags = ["1.36.1", "1.36.1-musl", "latest"];
/// assert_eq!(tags.into_iter().filter(|t| not_musl.matches(t)).collect::<Vec<_>>(), ["1.36.1", "latest"]);
/// ```
#[derive(Debug, Clone)]
pub struct Filter {
    re: Regex,
    inverted: bool,
}

impl Filter {
    /// Parses one filter expression.
    pub fn new(expr: &str) -> Result<Filter, regex::Error> {
        let expr = expr.trim();
        let (inverted, expr) = match expr.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, expr),
        };
        Ok(Filter {
            re: anchored(expr)?,
            inverted,
        })
    }

    /// Whether `s` passes.
    pub fn matches(&self, s: &str) -> bool {
        self.re.is_match(s) != self.inverted
    }
}

/// Go's `Regexp.ReplaceAllString`: every non-overlapping match replaced, the template expanded
/// as Go's `Expand` does (`$name` takes the longest run of letters, digits and `_`; a name of
/// digits without a leading zero is a group number; `${name}`; `$$`; a malformed `$` stays).
pub fn expand_replace_all(re: &Regex, text: &str, template: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    // Go skips an empty match right after the previous match.
    let mut prev_end: Option<usize> = None;
    for caps in re.captures_iter(text) {
        let m = caps.get(0).expect("group 0");
        if m.is_empty() && prev_end == Some(m.start()) {
            continue;
        }
        out.push_str(&text[last..m.start()]);
        expand(&caps, re, template, &mut out);
        last = m.end();
        prev_end = Some(m.end());
    }
    out.push_str(&text[last..]);
    out
}

fn expand(caps: &Captures<'_>, re: &Regex, template: &str, out: &mut String) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
            continue;
        }
        match extract(&rest[1..]) {
            Some((name, after)) => {
                out.push_str(group(caps, re, name));
                rest = after;
            }
            None => {
                out.push('$');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

/// The name after a `$` and the text after it.
fn extract(s: &str) -> Option<(&str, &str)> {
    let word = |c: char| c == '_' || c.is_alphanumeric();
    if let Some(inner) = s.strip_prefix('{') {
        let end = inner.find('}')?;
        let name = &inner[..end];
        if name.is_empty() || !name.chars().all(word) {
            return None;
        }
        return Some((name, &inner[end + 1..]));
    }
    let end = s.find(|c: char| !word(c)).unwrap_or(s.len());
    (end > 0).then(|| (&s[..end], &s[end..]))
}

fn group<'t>(caps: &Captures<'t>, re: &Regex, name: &str) -> &'t str {
    let number = (name.bytes().all(|b| b.is_ascii_digit()) && !(name.len() > 1 && name.starts_with('0')))
        .then(|| name.parse::<usize>().ok())
        .flatten();
    let m = match number {
        Some(n) => caps.get(n),
        None => re
            .capture_names()
            .position(|n| n == Some(name))
            .and_then(|i| caps.get(i)),
    };
    m.map_or("", |m| m.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(re: &str, text: &str, t: &str) -> String {
        expand_replace_all(&Regex::new(re).unwrap(), text, t)
    }

    #[test]
    fn anchoring_is_concatenation() {
        assert_eq!(anchored("a|b").unwrap().as_str(), "^a|b$");
        assert_eq!(anchored("^x.*$").unwrap().as_str(), "^x.*$");
        assert!(anchored(" foo").unwrap().is_match(" foo") && !anchored(" foo").unwrap().is_match("foo"));
    }

    #[test]
    fn filters_trim_and_invert() {
        let f = Filter::new("regex-body".trim()).unwrap();
        assert!(f.matches("regex-body") && !f.matches("xregex-body"));
        let inv = Filter::new("!.+(glibc|musl)").unwrap();
        assert!(inv.matches("1.26.1-uclibc") && !inv.matches("1.26.1-musl"));
    }

    #[test]
    fn replacement_follows_go() {
        assert_eq!(rep("a", "/a/b", "c"), "/c/b");
        assert_eq!(rep("o", "/foo/bo", "0"), "/f00/b0");
        assert_eq!(rep("my(.+)/", "/myproject/webui", "${1}x/"), "/projectx/webui");
        assert_eq!(rep("(?P<n>b)", "ab", "[$n]"), "a[b]");
        assert_eq!(rep("(b)", "ab", "$$1"), "a$1");
        assert_eq!(rep("(b)", "ab", "$"), "a$");
        assert_eq!(rep("(b)", "ab", "${1"), "a${1");
        assert_eq!(
            rep("(b)", "ab", "$01"),
            "a",
            "a leading zero makes a name, not a number"
        );
        // Go: an empty match right after a match is skipped.
        assert_eq!(rep("a*", "baaac", "-"), "-b-c-");
    }
}

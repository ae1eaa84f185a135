//! Semantic versions and ranges as dregsy reads them (it uses blang/semver v4): tags are parsed
//! tolerantly (`1.31` is 1.31.0, a leading `v` is dropped), range versions strictly; a range is
//! terms separated by spaces (AND) and `||` (OR), each an operator (`<`, `<=`, `>`, `>=`, `=`,
//! `==`, none, `!`, `!=`) and a version or a wildcard (`1.x`, `1.2.x`). Prereleases compare by
//! plain precedence: unlike npm or Cargo, `>=1.31.0 <1.31.9` accepts `1.31.1-musl`.
//!
//! ```
//! use irel::sync::tasks::semver::{Range, Version};
//! let r = Range::parse(" >=1.31.0 <1.31.9").unwrap();
//! assert!(r.matches(&Version::parse_tolerant("1.31").unwrap()));
//! assert!(r.matches(&Version::parse_tolerant("1.31.1-musl").unwrap()));
//! assert!(!r.matches(&Version::parse_tolerant("1.31.0-musl").unwrap()));
//! assert!(Version::parse_tolerant("1.31-musl").is_err());
//! assert!(Range::parse(">=1.31").is_err());
//! ```

use std::cmp::Ordering;

/// Why a version or range did not parse, in blang/semver's words.
///
/// ```
/// use irel::sync::tasks::semver::{Range, Version};
/// assert_eq!(Version::parse("1.31").unwrap_err().to_string(), "No Major.Minor.Patch elements found");
/// assert!(Range::parse(">=1.31").is_err(), "range versions are strict");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SemverError(String);

fn err<T>(msg: impl Into<String>) -> Result<T, SemverError> {
    Err(SemverError(msg.into()))
}

/// One dot-separated prerelease identifier: numeric identifiers sort below alphanumeric ones.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pre {
    Num(u64),
    Alpha(String),
}

impl Pre {
    fn cmp(&self, o: &Pre) -> Ordering {
        match (self, o) {
            (Pre::Num(a), Pre::Num(b)) => a.cmp(b),
            (Pre::Num(_), Pre::Alpha(_)) => Ordering::Less,
            (Pre::Alpha(_), Pre::Num(_)) => Ordering::Greater,
            (Pre::Alpha(a), Pre::Alpha(b)) => a.as_bytes().cmp(b.as_bytes()),
        }
    }
}

/// A semantic version. Build metadata is parsed and ignored in comparisons.
///
/// ```
/// use irel::sync::tasks::semver::Version;
/// let tag = Version::parse_tolerant("v1.31").unwrap();
/// assert_eq!(tag, Version::parse("1.31.0").unwrap());
/// assert!(Version::parse("1.31.1-musl").unwrap() < Version::parse("1.31.1").unwrap());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Vec<Pre>,
}

const ALPHANUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789";

fn only(s: &str, set: &str) -> bool {
    s.chars().all(|c| set.contains(c))
}

fn digits(s: &str) -> bool {
    only(s, "0123456789")
}

fn leading_zero(s: &str) -> bool {
    s.len() > 1 && s.starts_with('0')
}

fn number(s: &str, what: &str) -> Result<u64, SemverError> {
    if !digits(s) {
        return err(format!("Invalid character(s) found in {what} number {s:?}"));
    }
    if leading_zero(s) {
        return err(format!(
            "{} number must not contain leading zeroes {s:?}",
            capital(what)
        ));
    }
    s.parse::<u64>().or_else(|e| err(format!("{what} number {s:?}: {e}")))
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl Version {
    /// `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`, exactly (blang's `Parse`).
    pub fn parse(s: &str) -> Result<Version, SemverError> {
        if s.is_empty() {
            return err("Version string empty");
        }
        let parts: Vec<&str> = s.splitn(3, '.').collect();
        if parts.len() != 3 {
            return err("No Major.Minor.Patch elements found");
        }
        let major = number(parts[0], "major")?;
        let minor = number(parts[1], "minor")?;
        let mut patch = parts[2];
        let mut build = None;
        if let Some((p, b)) = patch.split_once('+') {
            (patch, build) = (p, Some(b));
        }
        let mut pre_text = None;
        if let Some((p, pre)) = patch.split_once('-') {
            (patch, pre_text) = (p, Some(pre));
        }
        let patch = number(patch, "patch")?;
        let mut pre = Vec::new();
        for id in pre_text.map(|p| p.split('.').collect::<Vec<_>>()).unwrap_or_default() {
            if id.is_empty() {
                return err("Prerelease is empty");
            }
            if digits(id) {
                if leading_zero(id) {
                    return err(format!(
                        "Numeric PreRelease version must not contain leading zeroes {id:?}"
                    ));
                }
                pre.push(Pre::Num(
                    id.parse().or_else(|e| err(format!("prerelease {id:?}: {e}")))?,
                ));
            } else if only(id, ALPHANUM) {
                pre.push(Pre::Alpha(id.to_string()));
            } else {
                return err(format!("Invalid character(s) found in prerelease {id:?}"));
            }
        }
        for id in build.map(|b| b.split('.').collect::<Vec<_>>()).unwrap_or_default() {
            if id.is_empty() {
                return err("Build meta data is empty");
            }
            if !only(id, ALPHANUM) {
                return err(format!("Invalid character(s) found in build meta data {id:?}"));
            }
        }
        Ok(Version {
            major,
            minor,
            patch,
            pre,
        })
    }

    /// A tag read as dregsy reads it (blang's `ParseTolerant`): spaces and one leading `v`
    /// dropped, leading zeros of each part dropped, a missing minor or patch taken as 0 (but
    /// then no `-` or `+` is allowed).
    ///
    /// ```
    /// use irel::sync::tasks::semver::Version;
    /// assert_eq!(Version::parse_tolerant("v01.2").unwrap(), Version::parse("1.2.0").unwrap());
    /// assert!(Version::parse_tolerant("1.2.3_x").is_err());
    /// ```
    pub fn parse_tolerant(s: &str) -> Result<Version, SemverError> {
        let s = s.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let mut parts: Vec<String> = s
            .splitn(3, '.')
            .map(|p| {
                if p.len() <= 1 {
                    return p.to_string();
                }
                let t = p.trim_start_matches('0');
                if t.starts_with(|c: char| c.is_ascii_digit()) {
                    t.to_string()
                } else {
                    format!("0{t}")
                }
            })
            .collect();
        if parts.len() < 3 {
            if parts.last().is_some_and(|p| p.contains(['+', '-'])) {
                return err("Short version cannot contain PreRelease/Build meta data");
            }
            parts.resize(3, "0".into());
        }
        Version::parse(&parts.join("."))
    }
}

impl Ord for Version {
    fn cmp(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&o.pre) {
                        match a.cmp(b) {
                            Ordering::Equal => continue,
                            other => return other,
                        }
                    }
                    self.pre.len().cmp(&o.pre.len())
                }
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, o: &Version) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "" | "=" | "==" => Op::Eq,
            "!" | "!=" => Op::Ne,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "<" => Op::Lt,
            "<=" => Op::Le,
            _ => return None,
        })
    }

    fn holds(self, o: Ordering) -> bool {
        match self {
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
        }
    }
}

/// A version range: any of its groups holds, a group holding when all its terms do.
///
/// ```
/// use irel::sync::tasks::semver::{Range, Version};
/// let r = Range::parse(">=1.0.0 <2.0.0 || 3.x").unwrap();
/// let ok = |tag: &str| r.matches(&Version::parse_tolerant(tag).unwrap());
/// assert!(ok("1.4") && ok("3.2.1"));
/// assert!(!ok("2.0") && !ok("4.0.0"));
/// ```
#[derive(Debug, Clone)]
pub struct Range {
    any: Vec<Vec<(Op, Version)>>,
}

impl Range {
    /// Parses a range as blang's `ParseRange` does, its quirks included: a space right after an
    /// operator belongs to the term (`> 1.0.0`), and a one-character term is dropped.
    pub fn parse(s: &str) -> Result<Range, SemverError> {
        let mut any = Vec::new();
        for group in split_or(&split_and_trim(s))? {
            let mut all = Vec::new();
            for term in expand_wildcards(group)? {
                let (op, v) = split_comparator(&term)?;
                let parsed = match Op::parse(&op) {
                    None => err(format!("Could not parse comparator {op:?} in \"{op}{v}\"")),
                    Some(c) => Version::parse(&v)
                        .map(|v| (c, v))
                        .or_else(|e| err(format!("Could not parse version {v:?} in \"{op}{v}\": {e}"))),
                };
                all.push(parsed.map_err(|e| SemverError(format!("Could not parse Range {term:?}: {e}")))?);
            }
            if all.is_empty() {
                return err(format!("empty alternative between '||' in {:?}", s.trim()));
            }
            any.push(all);
        }
        Ok(Range { any })
    }

    /// Whether `v` is in the range.
    pub fn matches(&self, v: &Version) -> bool {
        self.any
            .iter()
            .any(|all| all.iter().all(|(op, bound)| op.holds(v.cmp(bound))))
    }
}

/// Splits at spaces not following an operator character, drops terms of one character, and
/// removes the spaces left inside terms.
fn split_and_trim(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let (mut last, mut last_char) = (0usize, 0u8);
    for (i, &c) in b.iter().enumerate() {
        if c == b' ' && !b"><=".contains(&last_char) {
            if last + 1 < i {
                out.push(&s[last..i]);
            }
            last = i + 1;
        } else if c != b' ' {
            last_char = c;
        }
    }
    if last + 1 < b.len() {
        out.push(&s[last..]);
    }
    out.into_iter().map(|t| t.replace(' ', "")).collect()
}

fn split_or(parts: &[String]) -> Result<Vec<&[String]>, SemverError> {
    let mut out = Vec::new();
    let mut last = 0;
    for (i, p) in parts.iter().enumerate() {
        if p == "||" {
            if i == 0 {
                return err("First element in range is '||'");
            }
            out.push(&parts[last..i]);
            last = i + 1;
        }
    }
    if last == parts.len() {
        return err("Last element in range is '||'");
    }
    out.push(&parts[last..]);
    Ok(out)
}

/// The operator before the first digit, and the rest.
fn split_comparator(s: &str) -> Result<(String, String), SemverError> {
    match s.find(|c: char| c.is_numeric()) {
        Some(i) => Ok((s[..i].trim().to_string(), s[i..].to_string())),
        None => err(format!("Could not get version from string: {s:?}")),
    }
}

/// blang's wildcard expansion, applied to every term holding an `x`: `1.x` is `>=1.0.0
/// <2.0.0`, `1.2.x` is `>=1.2.0 <1.3.0`; with `>`, `<=`, `=` and `!=` as blang defines them.
fn expand_wildcards(terms: &[String]) -> Result<Vec<String>, SemverError> {
    let mut out = Vec::new();
    for term in terms {
        if !term.contains('x') {
            out.push(term.clone());
            continue;
        }
        let (op, v) = split_comparator(term)?;
        let parts: Vec<&str> = v.split('.').collect();
        // blang: the kind of wildcard is the number of parts, when the last one is `x`.
        let kind = if parts.last() == Some(&"x") { parts.len() } else { 0 };
        let flat = {
            let f = v.replacen(".x.x", ".x", 1).replacen(".x", ".0", 1);
            if f.split('.').count() == 2 {
                format!("{f}.0")
            } else {
                f
            }
        };
        let bump = |index: usize| -> String {
            let mut p: Vec<String> = flat.split('.').map(str::to_string).collect();
            match p.get(index).and_then(|n| n.parse::<u64>().ok()) {
                Some(n) => {
                    p[index] = (n + 1).to_string();
                    p.join(".")
                }
                None => String::new(),
            }
        };
        let (result_op, increment) = match op.as_str() {
            ">" => (">=", true),
            ">=" => (">=", false),
            "<" => ("<", false),
            "<=" => ("<", true),
            "" | "=" | "==" => {
                out.push(format!(">={flat}"));
                ("<", true)
            }
            "!=" | "!" => {
                out.push(format!("<{flat}"));
                (">=", true)
            }
            _ => ("", false),
        };
        let version = match (increment, kind) {
            (false, _) => flat.clone(),
            (true, 3) => bump(1),
            (true, 2) => bump(0),
            (true, _) => String::new(),
        };
        out.push(format!("{result_op}{version}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse_tolerant(s).unwrap()
    }

    fn in_range(r: &str, tag: &str) -> bool {
        Range::parse(r).unwrap().matches(&v(tag))
    }

    #[test]
    fn tags_parse_tolerantly_as_the_spec_table_says() {
        for ok in [
            "1.31",
            "1",
            "20240101",
            "v1.2.3",
            "01.02.03",
            "1.31.1-musl",
            "1.36.0-uclibc",
            " 1.2.3 ",
        ] {
            assert!(Version::parse_tolerant(ok).is_ok(), "{ok}");
        }
        for bad in [
            "1.31-musl",
            "1-musl",
            "latest",
            "1.2.3_x",
            "1.2.3.4",
            "1.2.3-01",
            "sha256:abc",
            "1.35.0-uclibc@sha256:ff",
            "",
            "vv1.2.3",
        ] {
            assert!(Version::parse_tolerant(bad).is_err(), "{bad}");
        }
        assert_eq!(v("01.02.03"), Version::parse("1.2.3").unwrap());
        assert_eq!(v("1"), Version::parse("1.0.0").unwrap());
    }

    #[test]
    fn precedence_is_semver_2() {
        let order = ["1.35.0", "1.36.0-glibc", "1.36.0-musl", "1.36.0-uclibc", "1.36.0"];
        for w in order.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("1.36").cmp(&v("1.36.0")), Ordering::Equal);
        assert_eq!(v("1.2.3+b1").cmp(&v("1.2.3+b2")), Ordering::Equal);
        assert!(v("1.0.0-1") < v("1.0.0-a"));
        assert!(v("1.0.0-a") < v("1.0.0-a.1"));
        assert!(v("1.0.0-2") < v("1.0.0-10"));
    }

    #[test]
    fn ranges_and_or_with_prereleases_by_precedence() {
        let r = " >=1.31.0 <1.31.9";
        for yes in ["1.31", "1.31.0", "1.31.1", "1.31.1-musl", "1.31.1-glibc", "v1.31.2"] {
            assert!(in_range(r, yes), "{yes}");
        }
        for no in ["1.30.1", "1.31.0-musl", "1.31.9", "1.32.0"] {
            assert!(!in_range(r, no), "{no}");
        }
        assert!(in_range("<1.0.0 || >=2.0.0", "2.1.0"));
        assert!(!in_range("<1.0.0 || >=2.0.0", "1.5.0"));
        assert!(in_range("> 1.0.0", "1.0.1"), "a space after an operator");
        assert!(in_range("!=1.2.3", "1.2.4") && !in_range("!1.2.3", "1.2.3"));
        assert!(in_range("1.2.3", "1.2.3") && in_range("==1.2.3", "1.2.3"));
        assert!(in_range(">=1.2.3-rc1", "1.2.3-rc2"), "suffixes are allowed in ranges");
    }

    #[test]
    fn wildcards_expand_as_blang_does() {
        assert!(in_range("1.x", "1.9.9") && !in_range("1.x", "2.0.0") && !in_range("1.x", "0.9.0"));
        assert!(in_range("1.2.x", "1.2.7") && !in_range("1.2.x", "1.3.0"));
        assert!(in_range(">1.2.x", "1.3.0") && !in_range(">1.2.x", "1.2.9"));
        assert!(in_range("<=1.2.x", "1.2.9") && !in_range("<=1.2.x", "1.3.0"));
        // blang ANDs the two halves of != on a wildcard (<1.2.0 and >=1.3.0): nothing matches.
        assert!(!in_range("!=1.2.x", "1.3.0") && !in_range("!=1.2.x", "1.1.0"));
        // blang's own reading of 1.x.x: >=1.0.0 <1.1.0.
        assert!(in_range("1.x.x", "1.0.5") && !in_range("1.x.x", "1.1.0"));
    }

    #[test]
    fn range_errors_are_blangs() {
        let e = |r: &str| Range::parse(r).unwrap_err().to_string();
        assert_eq!(
            e(">=1.31"),
            "Could not parse Range \">=1.31\": Could not parse version \"1.31\" in \">=1.31\": No Major.Minor.Patch elements found"
        );
        assert!(e("v1.2.3").contains("Could not parse comparator \"v\""));
        assert_eq!(e(""), "Last element in range is '||'");
        assert_eq!(e("|| 1.2.3"), "First element in range is '||'");
        assert_eq!(e("1.2.3 ||"), "Last element in range is '||'");
        assert!(e(">=x").contains("Could not get version"));
        // One-character terms are dropped by blang's splitter: "1" alone is an empty range.
        assert_eq!(e("1"), "Last element in range is '||'");
    }
}

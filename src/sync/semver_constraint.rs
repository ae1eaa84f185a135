//! skopeo sync's `images-by-semver`: a constraint in the syntax and semantics of the Go library
//! skopeo uses (Masterminds/semver v3), which differ from Rust's `semver` crate and from
//! dregsy's library:
//!
//! - `||` separates alternatives; within one, terms separated by spaces or commas must all hold;
//!   `1.2 - 1.4.5` is `>= 1.2, <= 1.4.5`.
//! - Operators `=` (or none), `!=`, `>`, `<`, `>=`, `=>`, `<=`, `=<`, `~`, `~>`, `^`; versions may
//!   be short (`3.12`) or hold wildcards (`1.x`, `*`).
//! - A bare version means *equal* (not caret, as in Cargo).
//! - Tags are read loosely: `v?MAJOR[.MINOR[.PATCH]][-PRE][+BUILD]`, so `3.12` is 3.12.0.
//! - A tag with a prerelease (`3.12.1-r0`, `1.31-musl`) matches only an alternative that names a
//!   prerelease itself.

use std::cmp::Ordering;

use semver::{BuildMetadata, Prerelease, Version};

/// A parsed `images-by-semver` constraint.
///
/// ```
/// use irel::sync::SemverConstraint;
/// let c = SemverConstraint::parse(">= 3.12.0").unwrap();
/// let tags = ["3.11.9", "3.12", "3.12.0", "3.12.1-r0", "3.13.1", "4.0.0", "latest"];
/// let chosen: Vec<_> = tags.into_iter().filter(|t| c.matches_tag(t)).collect();
/// assert_eq!(chosen, ["3.12", "3.12.0", "3.13.1", "4.0.0"]);
/// assert!(SemverConstraint::parse("1.2.3").unwrap().matches_tag("v1.2.3"));
/// assert!(!SemverConstraint::parse("1.2.3").unwrap().matches_tag("1.2.4"));
/// ```
#[derive(Debug, Clone)]
pub struct SemverConstraint {
    alternatives: Vec<Alternative>,
}

#[derive(Debug, Clone)]
struct Alternative {
    terms: Vec<Term>,
    /// Some term names a prerelease: prerelease tags may then match.
    allows_prerelease: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

#[derive(Debug, Clone)]
struct Term {
    op: Op,
    version: Version,
    /// The minor part was missing or a wildcard (`1`, `1.x`, `*`).
    minor_dirty: bool,
    /// The patch part was missing or a wildcard (`1.2`, `1.2.x`).
    patch_dirty: bool,
}

impl Term {
    fn dirty(&self) -> bool {
        self.minor_dirty || self.patch_dirty
    }
}

/// Why a constraint was refused.
///
/// ```
/// use irel::sync::{ConstraintError, SemverConstraint};
/// let e: ConstraintError = SemverConstraint::parse(">= banana").unwrap_err();
/// assert_eq!(e.to_string(), r#"improper constraint: ">= banana""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("improper constraint: {0:?}")]
pub struct ConstraintError(String);

impl SemverConstraint {
    /// Parses a constraint such as `>= 3.12.0`, `~1.2 || ^2.0`, `1.2 - 1.4.5`.
    pub fn parse(text: &str) -> Result<SemverConstraint, ConstraintError> {
        let mut alternatives = Vec::new();
        for alt in text.split("||") {
            let words = rewrite_hyphen_ranges(&tokens(alt));
            if words.is_empty() {
                return Err(ConstraintError(alt.to_string()));
            }
            let terms = words
                .iter()
                .map(|w| parse_term(w).ok_or_else(|| ConstraintError(alt.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            let allows_prerelease = terms.iter().any(|t| !t.version.pre.is_empty());
            alternatives.push(Alternative {
                terms,
                allows_prerelease,
            });
        }
        Ok(SemverConstraint { alternatives })
    }

    /// Whether the tag reads as a version that the constraint accepts.
    pub fn matches_tag(&self, tag: &str) -> bool {
        let Some(v) = parse_loose(tag) else {
            return false;
        };
        self.alternatives
            .iter()
            .any(|alt| (v.pre.is_empty() || alt.allows_prerelease) && alt.terms.iter().all(|t| check(t, &v)))
    }
}

/// The constraint's words: operators glued to their versions (`>= 1.2` is one word), commas
/// and spaces between terms dropped; `-` between two versions kept as a word.
fn tokens(alt: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut pending_op = String::new();
    for raw in alt.split(|c: char| c.is_whitespace() || c == ',') {
        if raw.is_empty() {
            continue;
        }
        let op_len = raw
            .find(|c: char| !matches!(c, '=' | '!' | '<' | '>' | '~' | '^'))
            .unwrap_or(raw.len());
        if op_len == raw.len() && raw != "-" {
            pending_op.push_str(raw);
            continue;
        }
        words.push(format!("{pending_op}{raw}"));
        pending_op.clear();
    }
    if !pending_op.is_empty() {
        words.push(pending_op);
    }
    words
}

/// `A - B` becomes `>=A` and `<=B`.
fn rewrite_hyphen_ranges(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if i + 2 < words.len()
            && words[i + 1] == "-"
            && starts_with_version(&words[i])
            && starts_with_version(&words[i + 2])
        {
            out.push(format!(">={}", words[i]));
            out.push(format!("<={}", words[i + 2]));
            i += 3;
        } else {
            out.push(words[i].clone());
            i += 1;
        }
    }
    out
}

fn starts_with_version(w: &str) -> bool {
    w.trim_start_matches('v')
        .starts_with(|c: char| c.is_ascii_digit() || matches!(c, 'x' | 'X' | '*'))
}

fn is_wild(part: &str) -> bool {
    matches!(part, "x" | "X" | "*")
}

fn parse_term(word: &str) -> Option<Term> {
    let split = word.find(|c: char| !matches!(c, '=' | '!' | '<' | '>' | '~' | '^'))?;
    let (op, rest) = word.split_at(split);
    let op = match op {
        "" | "=" => Op::TildeOrEqual,
        "!=" => Op::NotEqual,
        ">" => Op::Greater,
        "<" => Op::Less,
        ">=" | "=>" => Op::GreaterEqual,
        "<=" | "=<" => Op::LessEqual,
        "~" | "~>" => Op::Tilde,
        "^" => Op::Caret,
        _ => return None,
    };
    let Pieces { parts, pre, build, .. } = pieces(rest)?;
    if parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let number = |p: &str| -> Option<u64> {
        if is_wild(p) {
            Some(0)
        } else {
            p.parse().ok()
        }
    };
    let major_wild = is_wild(parts[0]);
    let minor_missing = parts.get(1).map_or(true, |p| is_wild(p));
    let patch_missing = parts.get(2).map_or(true, |p| is_wild(p));
    let mut version = Version::new(
        number(parts[0])?,
        parts.get(1).map_or(Some(0), |p| number(p))?,
        parts.get(2).map_or(Some(0), |p| number(p))?,
    );
    if major_wild {
        version = Version::new(0, 0, 0);
    }
    version.pre = Prerelease::new(pre).ok()?;
    if let Some(b) = build {
        BuildMetadata::new(b).ok()?;
    }
    Some(Term {
        op,
        version,
        minor_dirty: major_wild || minor_missing,
        patch_dirty: major_wild || minor_missing || patch_missing,
    })
}

/// A version's text cut up: `v?` dropped, then `A.B.C-PRE+BUILD` into its at most three
/// numbers (unchecked), the prerelease and the build. `None` past three numbers.
struct Pieces<'a> {
    parts: Vec<&'a str>,
    pre: &'a str,
    has_pre: bool,
    build: Option<&'a str>,
}

fn pieces(text: &str) -> Option<Pieces<'_>> {
    let rest = text.strip_prefix('v').unwrap_or(text);
    let (core, build) = match rest.split_once('+') {
        Some((c, b)) => (c, Some(b)),
        None => (rest, None),
    };
    let (numbers, pre, has_pre) = match core.split_once('-') {
        Some((n, p)) => (n, p, true),
        None => (core, "", false),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    (parts.len() <= 3).then_some(Pieces {
        parts,
        pre,
        has_pre,
        build,
    })
}

/// A tag as the Go library reads it: `v?N[.N[.N]][-PRE][+BUILD]`, no leading zeros.
fn parse_loose(tag: &str) -> Option<Version> {
    let Pieces {
        parts,
        pre,
        has_pre,
        build,
    } = pieces(tag)?;
    let mut nums = [0u64; 3];
    for (i, p) in parts.iter().enumerate() {
        let plain = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p.len() == 1 || !p.starts_with('0'));
        if !plain {
            return None;
        }
        nums[i] = p.parse().ok()?;
    }
    let mut v = Version::new(nums[0], nums[1], nums[2]);
    if has_pre {
        v.pre = Prerelease::new(pre).ok().filter(|p| !p.is_empty())?;
    }
    if let Some(b) = build {
        BuildMetadata::new(b).ok().filter(|b| !b.is_empty())?;
    }
    Some(v)
}

/// Precedence: build metadata ignored (`parse_loose` drops it).
fn cmp(a: &Version, b: &Version) -> Ordering {
    a.cmp(b)
}

fn check(t: &Term, v: &Version) -> bool {
    let c = &t.version;
    match t.op {
        Op::TildeOrEqual if t.dirty() => tilde(t, v),
        Op::TildeOrEqual => cmp(v, c) == Ordering::Equal,
        Op::NotEqual => {
            if !t.dirty() {
                return cmp(v, c) != Ordering::Equal;
            }
            if v.major != c.major {
                return true;
            }
            if t.minor_dirty {
                return false;
            }
            if v.minor != c.minor {
                return true;
            }
            // Patch is a wildcard: only a differing prerelease makes it unequal.
            (!v.pre.is_empty() || !c.pre.is_empty()) && v.pre != c.pre
        }
        Op::Greater => {
            if !t.dirty() {
                return cmp(v, c) == Ordering::Greater;
            }
            match v.major.cmp(&c.major) {
                Ordering::Greater => true,
                Ordering::Less => false,
                Ordering::Equal if t.minor_dirty => false,
                Ordering::Equal => v.minor > c.minor,
            }
        }
        Op::Less => cmp(v, c) == Ordering::Less,
        Op::GreaterEqual => cmp(v, c) != Ordering::Less,
        Op::LessEqual => {
            if !t.dirty() {
                return cmp(v, c) != Ordering::Greater;
            }
            !(v.major > c.major || (v.major == c.major && v.minor > c.minor && !t.minor_dirty))
        }
        Op::Tilde => tilde(t, v),
        Op::Caret => {
            if cmp(v, c) == Ordering::Less {
                return false;
            }
            if c.major > 0 || t.minor_dirty {
                return v.major == c.major;
            }
            if v.major > 0 {
                return false;
            }
            if c.minor > 0 || t.patch_dirty {
                return v.minor == c.minor;
            }
            if v.minor > 0 {
                return false;
            }
            v.patch == c.patch
        }
    }
}

fn tilde(t: &Term, v: &Version) -> bool {
    let c = &t.version;
    if cmp(v, c) == Ordering::Less {
        return false;
    }
    // `~0`, `~*`: anything.
    if c.major == 0 && c.minor == 0 && c.patch == 0 && !t.minor_dirty && !t.patch_dirty {
        return true;
    }
    if v.major != c.major {
        return false;
    }
    v.minor == c.minor || t.minor_dirty
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(constraint: &str, tags: &[&str]) -> Vec<String> {
        let c = SemverConstraint::parse(constraint).unwrap();
        tags.iter()
            .filter(|t| c.matches_tag(t))
            .map(|t| t.to_string())
            .collect()
    }

    #[test]
    fn prerelease_tags_match_only_a_constraint_naming_a_prerelease() {
        let tags = ["1.31.0", "1.31.1-musl", "1.31-musl", "1.32.0"];
        assert_eq!(chosen(">= 1.31.0", &tags), ["1.31.0", "1.32.0"]);
        assert_eq!(
            chosen(">= 1.31.0-a", &tags),
            ["1.31.0", "1.31.1-musl", "1.31-musl", "1.32.0"]
        );
    }

    #[test]
    fn and_or_ranges_and_short_versions() {
        let tags = [
            "1.1.0", "1.2.0", "1.3.5", "1.4.5", "1.4.6", "2.0.0", "2.1.0", "v3", "03.0.0",
        ];
        assert_eq!(chosen(">=1.2, <1.4", &tags), ["1.2.0", "1.3.5"]);
        assert_eq!(chosen(">=1.2 <1.4 || 2.0.0", &tags), ["1.2.0", "1.3.5", "2.0.0"]);
        assert_eq!(chosen("1.2 - 1.4.5", &tags), ["1.2.0", "1.3.5", "1.4.5"]);
        assert_eq!(chosen("~1.4", &tags), ["1.4.5", "1.4.6"]);
        assert_eq!(chosen("^1.2", &tags), ["1.2.0", "1.3.5", "1.4.5", "1.4.6"]);
        assert_eq!(chosen("2.x", &tags), ["2.0.0", "2.1.0"]);
        assert_eq!(chosen("> 2", &tags), ["v3"]);
        assert_eq!(chosen("!=1.4.5, >1.4", &tags), ["2.0.0", "2.1.0", "v3"]);
        assert_eq!(chosen("!=1.4.5, >1.4.0", &tags), ["1.4.6", "2.0.0", "2.1.0", "v3"]);
    }

    #[test]
    fn bad_constraints_are_refused() {
        for bad in ["", ">>1", "1.2.3.4", "abc", "1.2 ||"] {
            assert!(SemverConstraint::parse(bad).is_err(), "{bad}");
        }
    }
}

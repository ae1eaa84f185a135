//! A mapping's `tags:` as dregsy's tag sets read them.
//!
//! Each entry, trimmed, is the first of: `semver:RANGE` (see [`super::semver`]); `regex:EXPR`
//! (anchored, `!` inverts); `keep: latest N` (exactly `keep:`, spaces, `latest`, spaces,
//! digits); `keep:EXPR` (a prune filter); otherwise a verbatim tag (`TAG`, `sha256:…` or
//! `TAG@sha256:…`).
//!
//! Expansion: with no semver and no regex entries every listed tag is taken, else the tags any
//! range or regex selects (ORed); every `keep:` filter must then match (ANDed); verbatim entries
//! are added unpruned (and not de-duplicated); `keep: latest N` comes last: the N highest
//! semantic versions stay with every other tag, or, with no semantic versions, the N last in
//! string order. The result is in ascending string order.
//!
//! ```
//! use irel::sync::tasks::tagset::TagSet;
//! let set = TagSet::parse(&["glibc".into(), "semver: >=1.33.0 <=1.36.0".into(), "keep: latest 2".into()]).unwrap();
//! let listed: Vec<String> = ["1.33.0", "1.36.0", "1.35.0", "latest"].map(String::from).to_vec();
//! assert_eq!(set.expand(Some(&listed)), ["1.35.0", "1.36.0", "glibc"]);
//! ```

use std::collections::BTreeSet;

use super::goregex::Filter;
use super::semver::{Range, SemverError, Version};

/// Why a `tags:` entry is not valid.
///
/// ```
/// use irel::sync::tasks::tagset::{TagSet, TagSetError};
/// let e = TagSet::parse(&["regex:(1.0".to_string()]).unwrap_err();
/// assert!(matches!(&e, TagSetError::Regex { entry, .. } if entry == "regex:(1.0"));
/// assert!(matches!(TagSet::parse(&["semver: >=1.0".into()]), Err(TagSetError::Semver(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagSetError {
    /// A `semver:` range that does not parse.
    #[error("{0}")]
    Semver(#[from] SemverError),
    /// A `regex:` or `keep:` expression that does not compile.
    #[error("{entry:?}: {reason}")]
    Regex {
        /// The entry.
        entry: String,
        /// The compiler's words.
        reason: String,
    },
    /// A `keep: latest N` whose N is not a number.
    #[error("invalid keep count in {0:?}")]
    KeepCount(String),
}

/// One verbatim entry: a tag, a digest, or a tag pulled by digest.
///
/// ```
/// use irel::sync::tasks::tagset::Verbatim;
/// let digest = format!("sha256:{}", "a".repeat(64));
/// let pinned = Verbatim::split(&format!("1.36@{digest}"));
/// assert_eq!((pinned.tag.as_deref(), pinned.digest.as_deref()), (Some("1.36"), Some(digest.as_str())));
/// assert_eq!(Verbatim::split("latest"), Verbatim { tag: Some("latest".into()), digest: None });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verbatim {
    /// The tag written at the target (`None`: pushed by digest, untagged).
    pub tag: Option<String>,
    /// The digest pulled from the source (`None`: the tag is pulled).
    pub digest: Option<String>,
}

impl Verbatim {
    /// dregsy's `SplitTag`: a leading `:` is dropped; `NAME@DIGEST`; a lone `sha256:…` is a
    /// digest; anything else a tag.
    pub fn split(entry: &str) -> Verbatim {
        let e = entry.strip_prefix(':').unwrap_or(entry);
        match e.split_once('@') {
            Some((name, digest)) => Verbatim {
                tag: (!name.is_empty()).then(|| name.to_string()),
                digest: Some(digest.to_string()),
            },
            None if e.starts_with("sha256:") => Verbatim {
                tag: None,
                digest: Some(e.to_string()),
            },
            None => Verbatim {
                tag: Some(e.to_string()),
                digest: None,
            },
        }
    }
}

/// A parsed `tags:` list.
///
/// ```
/// use irel::sync::tasks::tagset::TagSet;
/// let set = TagSet::parse(&["regex:1\\..*".into(), "keep: !.*-rc.*".into(), "stable".into()]).unwrap();
/// assert!(set.needs_listing());
/// let listed: Vec<String> = ["1.0", "1.1-rc1", "2.0", "latest"].map(String::from).to_vec();
/// assert_eq!(set.expand(Some(&listed)), ["1.0", "stable"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct TagSet {
    verbatim: Vec<String>,
    semver: Vec<Range>,
    regex: Vec<Filter>,
    keep: Vec<Filter>,
    keep_count: usize,
}

fn is_keep_count(entry: &str) -> bool {
    // `keep:[[:space:]]+latest[[:space:]]+[[:digit:]]+`, anchored.
    let Some(rest) = entry.strip_prefix("keep:") else {
        return false;
    };
    let ws = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c');
    let after = rest.trim_start_matches(ws);
    if after.len() == rest.len() {
        return false;
    }
    let Some(rest) = after.strip_prefix("latest") else {
        return false;
    };
    let n = rest.trim_start_matches(ws);
    n.len() < rest.len() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
}

impl TagSet {
    /// Parses the entries.
    pub fn parse(entries: &[String]) -> Result<TagSet, TagSetError> {
        let mut set = TagSet::default();
        let filter = |entry: &str, body: &str| {
            Filter::new(body).map_err(|e| TagSetError::Regex {
                entry: entry.to_string(),
                reason: e.to_string(),
            })
        };
        for entry in entries {
            let t = entry.trim();
            if let Some(range) = t.strip_prefix("semver:") {
                set.semver.push(Range::parse(range)?);
            } else if let Some(body) = t.strip_prefix("regex:") {
                set.regex.push(filter(t, body)?);
            } else if is_keep_count(t) {
                // dregsy splits on single spaces and reads the last field.
                let last = t.rsplit(' ').next().unwrap_or_default();
                set.keep_count = last.parse().map_err(|_| TagSetError::KeepCount(t.to_string()))?;
            } else if let Some(body) = t.strip_prefix("keep:") {
                set.keep.push(filter(t, body)?);
            } else {
                set.verbatim.push(t.to_string());
            }
        }
        Ok(set)
    }

    /// Whether the source's tags must be listed: no verbatim, semver or regex entries (all
    /// tags), or any semver or regex entry.
    pub fn needs_listing(&self) -> bool {
        (self.verbatim.is_empty() && self.semver.is_empty() && self.regex.is_empty())
            || !self.semver.is_empty()
            || !self.regex.is_empty()
    }

    /// The entries to sync, from the source's tags (`None` when [`needs_listing`] is false),
    /// ascending. Verbatim entries are returned as written; see [`Verbatim::split`].
    ///
    /// [`needs_listing`]: Self::needs_listing
    pub fn expand(&self, listed: Option<&[String]>) -> Vec<String> {
        let mut selected = BTreeSet::new();
        if let Some(tags) = listed.filter(|_| self.needs_listing()) {
            if self.semver.is_empty() && self.regex.is_empty() {
                selected.extend(tags.iter().cloned());
            } else {
                for t in tags {
                    let by_semver = !self.semver.is_empty()
                        && Version::parse_tolerant(t).is_ok_and(|v| self.semver.iter().any(|r| r.matches(&v)));
                    if by_semver || self.regex.iter().any(|r| r.matches(t)) {
                        selected.insert(t.clone());
                    }
                }
            }
        }
        let mut out: Vec<String> = selected
            .into_iter()
            .filter(|t| self.keep.iter().all(|k| k.matches(t)))
            .collect();
        out.extend(self.verbatim.iter().cloned());
        if self.keep_count > 0 {
            reduce(out, self.keep_count)
        } else {
            out.sort();
            out
        }
    }
}

/// `keep: latest n`: with semantic versions among `tags`, the n highest of them and every other
/// tag; without, the n last in string order. Equal versions (`1.36`, `1.36.0`) are ordered by
/// their text, higher text first, where dregsy leaves the order unspecified.
fn reduce(tags: Vec<String>, n: usize) -> Vec<String> {
    let (mut versions, mut out): (Vec<(Version, String)>, Vec<String>) = (Vec::new(), Vec::new());
    for t in tags {
        match Version::parse_tolerant(&t) {
            Ok(v) => versions.push((v, t)),
            Err(_) => out.push(t),
        }
    }
    if versions.is_empty() {
        out.sort();
        let start = out.len().saturating_sub(n);
        return out.split_off(start);
    }
    versions.sort_by(|(a, at), (b, bt)| b.cmp(a).then_with(|| bt.cmp(at)));
    versions.truncate(n);
    out.extend(versions.into_iter().map(|(_, t)| t));
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(list: &[&str]) -> Vec<String> {
        list.iter().map(|x| x.to_string()).collect()
    }

    fn expand(entries: &[&str], listed: &[&str]) -> Vec<String> {
        let set = TagSet::parse(&s(entries)).unwrap();
        let listed = s(listed);
        set.expand(set.needs_listing().then_some(&listed[..]))
    }

    const LISTED: &[&str] = &[
        "latest",
        "1.30.1",
        "1.31",
        "1.31.0",
        "1.31.0-musl",
        "1.31.1",
        "1.31.1-musl",
        "1.31.1-glibc",
        "1.31.1-uclibc",
        "1.31.9",
        "v1.31.2",
        "1.31.2_x",
        "stable",
    ];

    #[test]
    fn spec_16_expansions() {
        assert_eq!(
            expand(&["semver: >=1.31.0 <1.31.9"], LISTED),
            s(&[
                "1.31",
                "1.31.0",
                "1.31.1",
                "1.31.1-glibc",
                "1.31.1-musl",
                "1.31.1-uclibc",
                "v1.31.2"
            ])
        );
        assert_eq!(
            expand(&["keep: latest 2"], LISTED),
            s(&["1.31.2_x", "1.31.9", "latest", "stable", "v1.31.2"])
        );
        assert!(expand(&["regex: a|b"], LISTED).is_empty());
        let mut with_alpha = LISTED.to_vec();
        with_alpha.push("alpha");
        assert_eq!(expand(&["regex: a|b"], &with_alpha), s(&["alpha"]));
        let mut all = s(LISTED);
        all.sort();
        assert_eq!(expand(&[], LISTED), all);
        assert_eq!(
            expand(&["1.31.0", "semver: >=1.31.0 <1.31.1"], LISTED),
            s(&[
                "1.31",
                "1.31.0",
                "1.31.0",
                "1.31.1-glibc",
                "1.31.1-musl",
                "1.31.1-uclibc"
            ]),
            "a verbatim tag a range also selects is there twice"
        );
        assert_eq!(expand(&["a", "b", "c", "d", "keep: latest 2"], &[]), s(&["c", "d"]));
    }

    #[test]
    fn e2e_tag_sets() {
        let range = [
            "latest",
            "1.31",
            "1.31.0",
            "1.31.1-musl",
            "1.31.1",
            "1.31.1-uclibc",
            "1.31.1-glibc",
        ];
        let decoys = ["1.30.1", "1.31.0-musl", "1.31.9", "1.32.0", "1-musl", "musl", "stable"];
        let listed: Vec<&str> = range.iter().chain(&decoys).copied().collect();
        let mut want = s(&range);
        want.sort();
        assert_eq!(
            expand(&["semver: >=1.31.0 <1.31.9", "latest"], &listed),
            want,
            "T-range"
        );
        assert_eq!(
            expand(&["semver: >=1.31.0 <1.31.9", "keep: .+(glibc|musl)"], &listed),
            s(&["1.31.1-glibc", "1.31.1-musl"]),
            "T-prune"
        );
        let regex_listed = [
            "1.26.1-musl",
            "1.26.1-glibc",
            "1.26.1-uclibc",
            "1.26.1",
            "1.26.2-musl",
            "1.26.1-musl-x",
        ];
        assert_eq!(
            expand(&["regex: 1\\.26\\.1-(glibc|uclibc|musl)"], &regex_listed),
            s(&["1.26.1-glibc", "1.26.1-musl", "1.26.1-uclibc"]),
            "T-regex"
        );
        assert_eq!(
            expand(
                &["regex: !.+(glibc|musl)"],
                &["1.26.1-glibc", "1.26.1-musl", "1.26.1-uclibc"]
            ),
            s(&["1.26.1-uclibc"]),
            "T-regexinv"
        );
        let limit_listed = [
            "1.33.0",
            "1.33.1",
            "1.34.0",
            "1.34.1",
            "1.35.0",
            "1.35.0-musl",
            "1.36",
            "1.36.0",
            "1.36.0-glibc",
            "1.36.0-musl",
            "1.36.0-uclibc",
            "1.36.1",
            "1",
            "glibc",
            "musl",
            "latest",
        ];
        assert_eq!(
            expand(&["glibc", "semver: >=1.33.0 <=1.36.0", "keep: latest 5"], &limit_listed),
            s(&[
                "1.36",
                "1.36.0",
                "1.36.0-glibc",
                "1.36.0-musl",
                "1.36.0-uclibc",
                "glibc"
            ]),
            "T-limit"
        );
        let digest = [
            "sha256:1d8a02c7a89283870e8dd6bb93dc66bc258e294491a6bbeb193a044ed88773ea",
            "1.35.0-uclibc@sha256:ff4a7f382ff23a8f716741b6e60ef70a4986af3aff22d26e1f0e0cb4fde29289",
            "keep: all.+",
        ];
        let set = TagSet::parse(&s(&digest)).unwrap();
        assert!(!set.needs_listing(), "T-digest lists nothing");
        assert_eq!(set.expand(None), s(&[digest[1], digest[0]]), "ascending");
    }

    #[test]
    fn classification_quirks() {
        let set = TagSet::parse(&s(&["keep:latest 5"])).unwrap();
        assert_eq!(set.keep_count, 0, "no space after keep: is a prune filter");
        assert_eq!(set.keep.len(), 1);
        assert_eq!(TagSet::parse(&s(&["  keep:  latest   3 "])).unwrap().keep_count, 3);
        assert!(matches!(
            TagSet::parse(&s(&["keep: latest\t5"])),
            Err(TagSetError::KeepCount(_))
        ));
        let set = TagSet::parse(&s(&["keep: latest 0", "a"])).unwrap();
        assert_eq!(set.expand(None), s(&["a"]), "a count of 0 is no limit");
        let set = TagSet::parse(&s(&["keep: latest 1", "keep: latest 2"])).unwrap();
        assert_eq!(set.keep_count, 2, "the last count wins");
        assert!(TagSet::parse(&s(&["semver:"])).is_err());
        assert!(TagSet::parse(&s(&["regex: ("])).is_err());
        assert_eq!(
            Verbatim::split("1.35.0-uclibc@sha256:ff"),
            Verbatim {
                tag: Some("1.35.0-uclibc".into()),
                digest: Some("sha256:ff".into())
            }
        );
        assert_eq!(Verbatim::split(":latest").tag.as_deref(), Some("latest"));
    }

    #[test]
    fn keep_count_ties_are_deterministic() {
        assert_eq!(reduce(s(&["1.36", "1.36.0", "1.35.0"]), 1), s(&["1.36.0"]));
        assert_eq!(reduce(s(&["1.36.0", "1.36"]), 1), s(&["1.36.0"]));
    }
}

//! A mapping's `from` and `to`, as dregsy reads them.
//!
//! Paths carry a leading `/`. A literal `from` names one repository; `regex:EXPR` in `from`
//! selects the listed repositories it matches (anchored by concatenation, not trimmed). `to`:
//! empty keeps the path; a literal replaces it (literal `from`) or goes in front of it (regex
//! `from`); `regex:EXPR,REPL` (split at the first comma) rewrites the path, leading `/`
//! included, every match replaced, unanchored.
//!
//! ```
//! use irel::sync::tasks::mapping::PathMapping;
//! let m = PathMapping::new(Some("regex:myproject/.*"), Some("ecr")).unwrap();
//! assert_eq!(m.target_path("/myproject/webui"), "/ecr/myproject/webui");
//! let m = PathMapping::new(Some("library/busybox"), Some("base/busybox")).unwrap();
//! assert_eq!(m.target_path("/library/busybox"), "/base/busybox");
//! let m = PathMapping::new(Some("x"), Some("regex:my(.+)/,from-dh/your$1/")).unwrap();
//! assert_eq!(m.target_path("/myproject/webui"), "/from-dh/yourproject/webui");
//! ```

use regex::Regex;

use super::goregex::{anchored, expand_replace_all};

/// Why a mapping's `from` or `to` is not valid (dregsy's messages).
///
/// ```
/// use irel::sync::tasks::mapping::{MappingError, PathMapping};
/// assert_eq!(PathMapping::new(None, Some("mirror")).unwrap_err(), MappingError::NoFrom);
/// assert_eq!(PathMapping::new(Some("app"), Some("regex:^/app")).unwrap_err(), MappingError::NoReplacement);
/// assert!(matches!(PathMapping::new(Some("regex:(app"), None), Err(MappingError::FromRegex(..))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// `from` is missing or empty.
    #[error("mapping without 'From' path")]
    NoFrom,
    /// `from: regex:…` does not compile.
    #[error("'from' uses invalid regular expression '{0}': {1}")]
    FromRegex(String, String),
    /// `to: regex:…` has no comma.
    #[error("replacement expression missing in 'to'")]
    NoReplacement,
    /// `to: regex:…,…` does not compile.
    #[error("'to' uses invalid regular expression '{0}': {1}")]
    ToRegex(String, String),
}

#[derive(Debug, Clone)]
enum From {
    Literal(String),
    Regex(Regex),
}

#[derive(Debug, Clone)]
enum To {
    Keep,
    Literal(String),
    Rewrite(Regex, String),
}

/// A compiled `from` / `to` pair.
///
/// ```
/// use irel::sync::tasks::mapping::PathMapping;
/// let m = PathMapping::new(Some("regex:team/.*"), Some("mirror")).unwrap();
/// assert!(m.needs_listing());
/// let listed = ["team/app".to_string(), "other/db".to_string()];
/// assert_eq!(m.source_paths(&listed), ["/team/app"]);
/// assert_eq!(m.target_path("/team/app"), "/mirror/team/app");
/// ```
#[derive(Debug, Clone)]
pub struct PathMapping {
    from: From,
    to: To,
}

fn normalize(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

impl PathMapping {
    /// Compiles a mapping's `from` and `to`.
    pub fn new(from: Option<&str>, to: Option<&str>) -> Result<PathMapping, MappingError> {
        let from = match from.filter(|f| !f.is_empty()) {
            None => return Err(MappingError::NoFrom),
            Some(f) => match f.strip_prefix("regex:") {
                Some(expr) => {
                    From::Regex(anchored(expr).map_err(|e| MappingError::FromRegex(expr.to_string(), e.to_string()))?)
                }
                None => From::Literal(normalize(f)),
            },
        };
        let to = match to.filter(|t| !t.is_empty()) {
            None => To::Keep,
            Some(t) => match t.strip_prefix("regex:") {
                Some(rest) => {
                    let (expr, replacement) = rest.split_once(',').ok_or(MappingError::NoReplacement)?;
                    let re = Regex::new(expr).map_err(|e| MappingError::ToRegex(expr.to_string(), e.to_string()))?;
                    To::Rewrite(re, replacement.to_string())
                }
                None => To::Literal(normalize(t)),
            },
        };
        Ok(PathMapping { from, to })
    }

    /// Whether `from` is a regex, so the source's repositories must be listed.
    pub fn needs_listing(&self) -> bool {
        matches!(self.from, From::Regex(_))
    }

    /// The source paths (`/repo`): the literal one, or the listed repositories (as the lister
    /// returns them, without a leading `/`) the regex matches, in listing order.
    pub fn source_paths(&self, listed: &[String]) -> Vec<String> {
        match &self.from {
            From::Literal(p) => vec![p.clone()],
            From::Regex(re) => listed.iter().filter(|r| re.is_match(r)).map(|r| normalize(r)).collect(),
        }
    }

    /// The target path for source path `p`. A rewrite's result is not normalized again: if it
    /// lacks a leading `/`, the registry and the path are glued together, as dregsy does.
    pub fn target_path(&self, p: &str) -> String {
        match (&self.to, &self.from) {
            (To::Rewrite(re, replacement), _) => expand_replace_all(re, p, replacement),
            (To::Literal(to), From::Regex(_)) => format!("{to}{p}"),
            (To::Literal(to), From::Literal(_)) => to.clone(),
            (To::Keep, _) => p.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(from: &str, to: Option<&str>, p: &str) -> String {
        PathMapping::new(Some(from), to).unwrap().target_path(p)
    }

    #[test]
    fn worked_examples() {
        // M1, M2, M4, M7, M8 (spec §1.4) and the derived edge cases.
        assert_eq!(
            map(
                "library/busybox",
                Some("base-skopeo/library/busybox"),
                "/library/busybox"
            ),
            "/base-skopeo/library/busybox"
        );
        assert_eq!(
            map("test/another-image", None, "/test/another-image"),
            "/test/another-image"
        );
        assert_eq!(
            map(
                "regex:mapping-skopeo/dh/xelalex/dregsy-dummy.*",
                Some("regex:mapping-skopeo/dh/,mapping-skopeo/dh-copy/"),
                "/mapping-skopeo/dh/xelalex/dregsy-dummy-public"
            ),
            "/mapping-skopeo/dh-copy/xelalex/dregsy-dummy-public"
        );
        assert_eq!(
            map("regex:.*", Some("regex:my(.+)/,from-dh/your$1/"), "/myproject/webui"),
            "/from-dh/yourproject/webui"
        );
        assert_eq!(
            map("regex:myproject/.*", Some("ecr"), "/myproject/webui"),
            "/ecr/myproject/webui"
        );
        assert_eq!(map("a/b", Some("regex:a,c"), "/a/b"), "/c/b");
        assert_eq!(map("x", Some("regex:o,0"), "/foo/bo"), "/f00/b0");
        assert_eq!(map("x", Some("regex:^/,x/"), "/a"), "x/a");
        assert_eq!(map("/a", Some("/b"), "/a"), "/b");
    }

    #[test]
    fn from_regex_is_anchored_untrimmed_and_sees_names_without_slash() {
        let listed: Vec<String> = ["x/a", "x/b", "y/x/a"].map(String::from).to_vec();
        let m = PathMapping::new(Some("regex:x/.*"), None).unwrap();
        assert_eq!(m.source_paths(&listed), ["/x/a", "/x/b"]);
        assert!(PathMapping::new(Some("regex:/x/.*"), None)
            .unwrap()
            .source_paths(&listed)
            .is_empty());
        assert!(PathMapping::new(Some("regex: x/a"), None)
            .unwrap()
            .source_paths(&listed)
            .is_empty());
        let m = PathMapping::new(Some("literal"), None).unwrap();
        assert_eq!(m.source_paths(&[]), ["/literal"]);
        assert!(!m.needs_listing());
    }

    #[test]
    fn errors_are_dregsys() {
        let e = |f: Option<&str>, t: Option<&str>| PathMapping::new(f, t).unwrap_err().to_string();
        assert_eq!(e(None, None), "mapping without 'From' path");
        assert_eq!(e(Some(""), None), "mapping without 'From' path");
        assert!(e(Some("regex:("), None).starts_with("'from' uses invalid regular expression '('"));
        assert_eq!(
            e(Some("a"), Some("regex:abc")),
            "replacement expression missing in 'to'"
        );
        assert!(e(Some("a"), Some("regex:(,x")).starts_with("'to' uses invalid regular expression '('"));
    }
}

//! Tag filters for sync tasks: literal tags, `regex:EXPR`, `semver:RANGE` and `keep:latest N`.

use regex::Regex;

use crate::error::Error;
use crate::reference::ParseError;

/// Which tags of a repository to sync.
///
/// Literal tags, regexes (matched against the whole tag) and semver ranges select tags (their
/// union); with none of them every tag is selected. `keep:latest N` then keeps the N highest:
/// semantic versions (a leading `v` allowed) by version, above other tags, which sort by name.
///
/// ```
/// use irel::sync::TagFilter;
/// let f = TagFilter::parse(&["semver:>=1.2".into(), "keep:latest 2".into()]).unwrap();
/// let tags = ["1.1.0", "1.2.0", "v1.10.0", "1.3.0", "latest"].map(String::from);
/// assert_eq!(f.select(&tags), vec!["v1.10.0", "1.3.0"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct TagFilter {
    literal: Vec<String>,
    regex: Vec<Regex>,
    semver: Vec<semver::VersionReq>,
    keep_latest: Option<usize>,
}

fn bad(input: &str, reason: String) -> Error {
    Error::Reference(ParseError {
        input: input.to_string(),
        reason,
    })
}

impl TagFilter {
    /// Parses the filter list of a mapping's `tags:`.
    pub fn parse(specs: &[String]) -> Result<TagFilter, Error> {
        let mut f = TagFilter::default();
        for spec in specs {
            if let Some(expr) = spec.strip_prefix("regex:") {
                let re = Regex::new(&format!("^(?:{expr})$")).map_err(|e| bad(spec, format!("bad regex: {e}")))?;
                f.regex.push(re);
            } else if let Some(range) = spec.strip_prefix("semver:") {
                let req =
                    semver::VersionReq::parse(range.trim()).map_err(|e| bad(spec, format!("bad semver range: {e}")))?;
                f.semver.push(req);
            } else if let Some(rest) = spec.strip_prefix("keep:") {
                let n = rest
                    .trim()
                    .strip_prefix("latest")
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .ok_or_else(|| bad(spec, "write keep:latest N".into()))?;
                f.keep_latest = Some(n);
            } else {
                f.literal.push(spec.clone());
            }
        }
        Ok(f)
    }

    /// Whether only literal tags are named, so no tag listing is needed.
    pub fn literal_only(&self) -> Option<&[String]> {
        (!self.literal.is_empty() && self.regex.is_empty() && self.semver.is_empty() && self.keep_latest.is_none())
            .then_some(&self.literal)
    }

    /// The selected tags among `tags`, in the repository's order (highest first after `keep`).
    pub fn select(&self, tags: &[String]) -> Vec<String> {
        let selects_all = self.literal.is_empty() && self.regex.is_empty() && self.semver.is_empty();
        let mut chosen: Vec<String> = tags
            .iter()
            .filter(|t| {
                selects_all
                    || self.literal.contains(t)
                    || self.regex.iter().any(|r| r.is_match(t))
                    || version(t).is_some_and(|v| self.semver.iter().any(|req| req.matches(&v)))
            })
            .cloned()
            .collect();
        if let Some(n) = self.keep_latest {
            chosen.sort_by(|a, b| match (version(a), version(b)) {
                (Some(x), Some(y)) => y.cmp(&x),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => b.cmp(a),
            });
            chosen.truncate(n);
        }
        chosen
    }
}

fn version(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn empty_filter_selects_everything() {
        let all = tags(&["a", "b"]);
        assert_eq!(TagFilter::parse(&[]).unwrap().select(&all), all);
    }

    #[test]
    fn regex_is_anchored_and_unions_with_literals() {
        let f = TagFilter::parse(&tags(&["regex:1\\.2.*", "edge"])).unwrap();
        assert_eq!(
            f.select(&tags(&["1.2.3", "11.2", "edge", "x1.2"])),
            tags(&["1.2.3", "edge"])
        );
    }

    #[test]
    fn keep_latest_alone_applies_to_all_tags() {
        let f = TagFilter::parse(&tags(&["keep:latest 1"])).unwrap();
        assert_eq!(f.select(&tags(&["1.0.0", "2.0.0", "latest"])), tags(&["2.0.0"]));
    }

    #[test]
    fn bad_specs_are_errors() {
        assert!(TagFilter::parse(&tags(&["regex:("])).is_err());
        assert!(TagFilter::parse(&tags(&["semver:>>1"])).is_err());
        assert!(TagFilter::parse(&tags(&["keep:newest 2"])).is_err());
    }
}

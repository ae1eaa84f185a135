//! Repository-path mapping: where an image goes when it is relocated under a prefix.
//!
//! Byte-identical to Go irel's `pathmapping.FlattenRepoPath` and
//! `FlattenRepoPathPreserveTagDigest`, so relocation mappings made by either tool agree. The
//! relocated path is `PREFIX/` + the original path's components joined by `-` + `-` + the MD5 of
//! the original normalized name (the hash keeps two different sources from colliding once their
//! paths are flattened).

use md5::{Digest as _, Md5};

use crate::reference::{hex, ParseError, Reference};

/// distribution/reference's `NameTotalLengthMax`, which Go irel sizes the mapped name against.
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Maps `original` under `repo_prefix`, dropping its tag and digest.
///
/// ```
/// use irel::{mapping::flatten_repo_path, Reference};
/// let original: Reference = "istio/proxyv2:1.0".parse().unwrap();
/// let relocated = flatten_repo_path("example.com/user", &original).unwrap();
/// assert_eq!(relocated.to_string(), "example.com/user/istio-proxyv2-f93a2cacc6cafa0474a2d6990a4dd1a0");
/// ```
pub fn flatten_repo_path(repo_prefix: &str, original: &Reference) -> Result<Reference, ParseError> {
    let hash = hex(&Md5::digest(original.name().as_bytes()));
    let overhead = mapped_path(repo_prefix, "", &hash).len();
    let available = NAME_TOTAL_LENGTH_MAX.saturating_sub(overhead);
    let components: Vec<&str> = original.repository().split('/').collect();
    let flat = crunch(&components, available).join("-");
    let mapped = if flat.is_empty() {
        format!("{repo_prefix}/{hash}")
    } else {
        mapped_path(repo_prefix, &flat, &hash)
    };
    Reference::parse(&mapped).map_err(|e| ParseError {
        input: repo_prefix.to_string(),
        reason: format!(
            "repository prefix does not make a valid name ({}): {}",
            e.input, e.reason
        ),
    })
}

/// Maps `original` under `repo_prefix` and keeps its tag and digest.
///
/// ```
/// use irel::{mapping::flatten_repo_path_preserve_tag_digest, Reference};
/// let original: Reference = "projectriff/builder:v1".parse().unwrap();
/// let relocated = flatten_repo_path_preserve_tag_digest("example.com/user", &original).unwrap();
/// assert_eq!(
///     relocated.to_string(),
///     "example.com/user/projectriff-builder-a4a25a99d48adad8310050be267a10ce:v1"
/// );
/// ```
pub fn flatten_repo_path_preserve_tag_digest(repo_prefix: &str, original: &Reference) -> Result<Reference, ParseError> {
    let mut mapped = flatten_repo_path(repo_prefix, original)?;
    if let Some(tag) = original.tag() {
        mapped = mapped.with_tag(tag)?;
    }
    if let Some(digest) = original.digest() {
        mapped = mapped.with_digest(digest.clone());
    }
    Ok(mapped)
}

fn mapped_path(prefix: &str, path: &str, hash: &str) -> String {
    format!("{prefix}/{path}-{hash}")
}

/// Keeps as many leading components as fit in `size` once joined with `-`, standing the dropped
/// middle in for a single `-` component before the last one.
fn crunch<'a>(components: &[&'a str], size: usize) -> Vec<&'a str> {
    for n in (1..=components.len()).rev() {
        let kept = reduce(components, n);
        if kept.join("-").len() <= size {
            return kept;
        }
    }
    match components.first() {
        Some(first) if first.len() <= size => vec![first],
        _ => Vec::new(),
    }
}

fn reduce<'a>(components: &[&'a str], n: usize) -> Vec<&'a str> {
    if components.len() < 2 || components.len() <= n {
        return components.to_vec();
    }
    let last = components[components.len() - 1];
    if n < 2 {
        return vec![last];
    }
    let mut kept = components[..n - 1].to_vec();
    kept.extend(["-", last]);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(prefix: &str, original: &str) -> String {
        flatten_repo_path_preserve_tag_digest(prefix, &original.parse().unwrap())
            .unwrap()
            .to_string()
    }

    #[test]
    fn go_irel_examples() {
        assert_eq!(
            map("example.com/user", "docker.io/istio/proxyv2"),
            "example.com/user/istio-proxyv2-f93a2cacc6cafa0474a2d6990a4dd1a0"
        );
        assert_eq!(
            map("example.com/user", "projectriff/builder:v1"),
            "example.com/user/projectriff-builder-a4a25a99d48adad8310050be267a10ce:v1"
        );
        assert_eq!(
            map("test.host/testuser", "some.registry.com/some-user"),
            "test.host/testuser/some-user-9482d6a53a1789fb7304a4fe88362903"
        );
    }

    #[test]
    fn digest_and_tag_are_both_preserved() {
        let d = format!("sha256:{}", "b".repeat(64));
        let out = map("r.example/p", &format!("a/b:t@{d}"));
        assert!(out.ends_with(&format!(":t@{d}")), "{out}");
        let bare = flatten_repo_path("r.example/p", &format!("a/b:t@{d}").parse().unwrap()).unwrap();
        assert_eq!((bare.tag(), bare.digest()), (None, None));
    }

    #[test]
    fn long_paths_drop_middle_components() {
        // prefix(20) + "/" + "-" + hash(32) leaves 201 for the flattened path.
        let prefix = "registry.example/abc";
        let c = "x".repeat(60);
        let original = format!("example.com/{c}/{c}/{c}/{c}/last");
        let out = map(prefix, &original);
        let path = out.strip_prefix("registry.example/abc/").unwrap();
        assert_eq!(path.len() - 33, c.len() * 3 + 2 + 3 + 4);
        assert!(path.starts_with(&format!("{c}-{c}-{c}---last-")), "{out}");
        assert!(out.len() <= 255);
    }

    #[test]
    fn too_long_keeps_last_then_first_then_nothing() {
        let prefix = "registry.example/abc";
        let big = "y".repeat(200);
        let out = map(prefix, &format!("example.com/{big}/last"));
        assert!(out.starts_with("registry.example/abc/last-"), "{out}");
        let huge = "z".repeat(210);
        let out = map(prefix, &format!("example.com/{huge}"));
        let hash = hex(&Md5::digest(format!("example.com/{huge}").as_bytes()));
        assert_eq!(out, format!("registry.example/abc/{hash}"));
    }

    #[test]
    fn invalid_prefix_is_an_error_naming_it() {
        let e = flatten_repo_path("Bad/Prefix", &"a".parse().unwrap()).unwrap_err();
        assert_eq!(e.input, "Bad/Prefix");
    }
}

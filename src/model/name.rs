//! What names content inside a place: a [`Repository`] on a registry, and within a place a
//! [`TagOrDigest`], the name a manifest is asked for by. Distinct types, so that a digest is
//! never mistaken for a tag, nor a repository for an image.

use std::fmt;
use std::str::FromStr;

use super::reference::{Digest, ParseError, Reference};

/// A repository on a registry (`registry.example/team/app`), with neither tag nor digest.
///
/// ```
/// let image: irel::Reference = "ubuntu:24.04".parse().unwrap();
/// let repo = image.to_repository();
/// assert_eq!((repo.registry(), repo.path()), ("docker.io", "library/ubuntu"));
/// assert_eq!(repo.to_string(), "docker.io/library/ubuntu");
/// let tagged = repo.at(&"22.04".parse().unwrap()).unwrap();
/// assert_eq!(tagged.to_string(), "docker.io/library/ubuntu:22.04");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repository {
    image: Reference,
}

impl Repository {
    /// The registry host, with port if any (`docker.io`, `localhost:5000`).
    pub fn registry(&self) -> &str {
        self.image.registry()
    }

    /// The host the registry API is served from (Docker Hub's differs from its name).
    pub fn api_host(&self) -> &str {
        self.image.api_host()
    }

    /// The repository path within the registry (`library/ubuntu`).
    pub fn path(&self) -> &str {
        self.image.repository()
    }

    /// `registry/path`.
    pub fn name(&self) -> String {
        self.image.name()
    }

    /// The image `name` names in this repository; refused when `name` is not a registry tag
    /// (a layout's ref name can hold characters a tag cannot).
    pub fn at(&self, name: &TagOrDigest) -> Result<Reference, ParseError> {
        match name {
            TagOrDigest::Digest(d) => Ok(self.image.with_digest(d.clone())),
            TagOrDigest::Tag(t) => self.image.with_tag(t.as_str()),
        }
    }

    /// This repository as a reference without tag or digest (what `docker pull` would read as
    /// `:latest`).
    pub fn as_reference(&self) -> &Reference {
        &self.image
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.image, f)
    }
}

impl Reference {
    /// The repository this image is in.
    pub fn to_repository(&self) -> Repository {
        Repository {
            image: self.without_tag_or_digest(),
        }
    }

    /// The name a copy writes for this image: its tag when it has one (a digest beside it is
    /// what the source must have), else its digest, else `latest`.
    pub fn name_to_write(&self) -> TagOrDigest {
        match (self.tag(), self.digest()) {
            (Some(t), _) => TagOrDigest::Tag(Tag(t.to_string())),
            (None, Some(d)) => TagOrDigest::Digest(d.clone()),
            (None, None) => TagOrDigest::Tag(Tag("latest".to_string())),
        }
    }

    /// What to ask for this image by: its digest when it has one, else its tag, else `latest`.
    pub fn tag_or_digest(&self) -> TagOrDigest {
        match (self.digest(), self.tag()) {
            (Some(d), _) => TagOrDigest::Digest(d.clone()),
            (None, Some(t)) => TagOrDigest::Tag(Tag(t.to_string())),
            (None, None) => TagOrDigest::Tag(Tag("latest".to_string())),
        }
    }
}

/// A name a place keeps for a manifest: a registry tag (`1.0`), or an OCI image layout's ref
/// name (irel writes full references there, as Go irel does: `docker.io/library/alpine:3`).
/// Never a digest; never empty, blank or holding control characters. A registry checks the
/// tag grammar itself when a tag is used there.
///
/// ```
/// use irel::model::name::Tag;
/// assert_eq!(Tag::new("1.0").unwrap().as_str(), "1.0");
/// assert!(Tag::new("").is_err());
/// assert!(Tag::new("sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// `name` as a tag or ref name.
    pub fn new(name: &str) -> Result<Tag, ParseError> {
        let refuse = |reason: &str| {
            Err(ParseError {
                input: name.to_string(),
                reason: reason.to_string(),
            })
        };
        if name.trim().is_empty() {
            return refuse("a tag cannot be empty");
        }
        if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return refuse("a tag cannot hold spaces or control characters");
        }
        if name.parse::<Digest>().is_ok() {
            return refuse("that is a digest, not a tag");
        }
        Ok(Tag(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Tag {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Tag, ParseError> {
        Tag::new(s)
    }
}

/// What a manifest is asked for by in a place: a [`Tag`] (or layout ref name), or its digest.
///
/// ```
/// use irel::model::name::TagOrDigest;
/// let by_tag: TagOrDigest = "1.0".parse().unwrap();
/// assert!(by_tag.digest().is_none());
/// let by_digest: TagOrDigest =
///     "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".parse().unwrap();
/// assert!(by_digest.digest().is_some());
/// assert_eq!(by_tag.to_string(), "1.0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TagOrDigest {
    /// A tag, or a layout's ref name.
    Tag(Tag),
    /// A content digest.
    Digest(Digest),
}

impl TagOrDigest {
    /// The digest, when this names one.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            TagOrDigest::Digest(d) => Some(d),
            TagOrDigest::Tag(_) => None,
        }
    }

    /// The tag, when this names one.
    pub fn tag(&self) -> Option<&Tag> {
        match self {
            TagOrDigest::Tag(t) => Some(t),
            TagOrDigest::Digest(_) => None,
        }
    }
}

impl fmt::Display for TagOrDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagOrDigest::Tag(t) => f.write_str(t.as_str()),
            TagOrDigest::Digest(d) => f.write_str(d.as_str()),
        }
    }
}

impl FromStr for TagOrDigest {
    type Err = ParseError;
    /// A digest when `s` is one (`sha256:…`), else a tag.
    fn from_str(s: &str) -> Result<TagOrDigest, ParseError> {
        match s.parse::<Digest>() {
            Ok(d) => Ok(TagOrDigest::Digest(d)),
            Err(_) => Tag::new(s).map(TagOrDigest::Tag),
        }
    }
}

impl From<Digest> for TagOrDigest {
    fn from(d: Digest) -> TagOrDigest {
        TagOrDigest::Digest(d)
    }
}

impl From<Tag> for TagOrDigest {
    fn from(t: Tag) -> TagOrDigest {
        TagOrDigest::Tag(t)
    }
}

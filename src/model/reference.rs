//! Image references and content digests: parsing, validation and Docker normalization.
//!
//! The grammar is distribution/reference's (`ParseNormalizedNamed`): `ubuntu` means
//! `docker.io/library/ubuntu`, `index.docker.io` is `docker.io`, and a first path element is a
//! registry host only when it is `localhost`, or contains `.`, `:` or an uppercase letter.
//! The parser is hand-written rather than regex-based so that each rejection can say which part
//! of the input is wrong.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256, Sha512};

/// The registry Docker Hub references normalize to.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's registry API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
const LEGACY_DOCKER_HUB: &str = "index.docker.io";
const OFFICIAL_NAMESPACE: &str = "library";
/// Longest repository path (after the registry) distribution accepts.
pub const MAX_PATH_LEN: usize = 255;
/// Longest tag distribution accepts.
pub const MAX_TAG_LEN: usize = 128;

/// Why a reference or digest string was refused.
///
/// ```
/// let e = "Registry.Example/App".parse::<irel::Reference>().unwrap_err();
/// let irel::reference::ParseError { input, reason } = &e;
/// assert_eq!(input, "Registry.Example/App");
/// assert!(!reason.is_empty() && e.to_string().contains(reason.as_str()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {input:?}: {reason}")]
pub struct ParseError {
    /// The text that was parsed.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

fn fail<T>(input: &str, reason: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        input: input.to_string(),
        reason: reason.into(),
    })
}

/// A content digest such as `sha256:…`, validated for its algorithm.
///
/// ```
/// use irel::Digest;
/// let d: Digest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".parse().unwrap();
/// assert_eq!(d.algorithm(), "sha256");
/// assert_eq!(Digest::sha256_of(b"foo"), d);
/// assert!("sha256:ABC".parse::<Digest>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// The sha256 digest of `data`.
    pub fn sha256_of(data: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex(&Sha256::digest(data))))
    }

    /// Builds a digest from an algorithm name and finished hash bytes.
    pub(crate) fn from_hash(algorithm: DigestAlgorithm, hash: &[u8]) -> Digest {
        Digest(format!("{}:{}", algorithm.name(), hex(hash)))
    }

    /// The algorithm part, e.g. `sha256`.
    pub fn algorithm(&self) -> &str {
        self.0.split_once(':').map(|(a, _)| a).unwrap_or_default()
    }

    /// The hex part after the colon.
    pub fn encoded(&self) -> &str {
        self.0.split_once(':').map(|(_, e)| e).unwrap_or_default()
    }

    /// The algorithm as an enum (always known for a parsed digest).
    pub fn kind(&self) -> DigestAlgorithm {
        if self.algorithm() == "sha512" {
            DigestAlgorithm::Sha512
        } else {
            DigestAlgorithm::Sha256
        }
    }

    /// The whole digest as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `data` hashes to this digest.
    pub fn matches(&self, data: &[u8]) -> bool {
        let mut h = self.kind().hasher();
        h.update(data);
        h.finish() == *self
    }
}

/// The digest algorithms irel can verify.
///
/// ```
/// use irel::reference::DigestAlgorithm;
/// let d: irel::Digest = format!("sha512:{}", "0".repeat(128)).parse().unwrap();
/// assert_eq!(d.kind(), DigestAlgorithm::Sha512);
/// assert_eq!(DigestAlgorithm::Sha256.name(), "sha256");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// SHA-256, the registry default.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    /// The name used in digest strings.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    /// A streaming hasher for this algorithm.
    pub fn hasher(self) -> Hasher {
        match self {
            DigestAlgorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            DigestAlgorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }
}

/// Incremental digest computation, for verifying streamed content.
///
/// ```
/// let expected = irel::Digest::sha256_of(b"foobar");
/// let mut h = expected.kind().hasher();
/// for chunk in [&b"foo"[..], b"bar"] {
///     h.update(chunk);
/// }
/// assert_eq!(h.finish(), expected);
/// ```
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256 state.
    Sha256(Sha256),
    /// SHA-512 state.
    Sha512(Sha512),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hasher::Sha256(_) => "Hasher::Sha256",
            Hasher::Sha512(_) => "Hasher::Sha512",
        })
    }
}

impl Hasher {
    /// Feeds more bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest::from_hash(DigestAlgorithm::Sha256, &h.finalize()),
            Hasher::Sha512(h) => Digest::from_hash(DigestAlgorithm::Sha512, &h.finalize()),
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

impl FromStr for Digest {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let Some((alg, enc)) = s.split_once(':') else {
            return fail(s, "a digest is ALGORITHM:HEX, e.g. sha256:<64 hex digits>");
        };
        if !valid_algorithm(alg) {
            return fail(s, format!("digest algorithm {alg:?} is malformed"));
        }
        let want = match alg {
            "sha256" => 64,
            "sha512" => 128,
            _ => {
                return fail(
                    s,
                    format!("unsupported digest algorithm {alg:?} (sha256 and sha512 are supported)"),
                )
            }
        };
        if enc.len() != want {
            return fail(
                s,
                format!("{alg} digest must have {want} hex digits, found {}", enc.len()),
            );
        }
        if !enc.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return fail(s, "digest must be lowercase hexadecimal");
        }
        Ok(Digest(s.to_string()))
    }
}

impl TryFrom<&str> for Digest {
    type Error = ParseError;
    fn try_from(s: &str) -> Result<Self, ParseError> {
        s.parse()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*`
fn valid_algorithm(alg: &str) -> bool {
    alg.split(['-', '_', '+', '.']).all(|part| {
        let mut b = part.bytes();
        matches!(b.next(), Some(c) if c.is_ascii_alphabetic()) && b.all(|c| c.is_ascii_alphanumeric())
    })
}

/// A normalized image reference: registry, repository path, optional tag and digest.
///
/// ```
/// use irel::Reference;
/// let r: Reference = "ubuntu".parse().unwrap();
/// assert_eq!(r.registry(), "docker.io");
/// assert_eq!(r.repository(), "library/ubuntu");
/// assert_eq!(r.to_string(), "docker.io/library/ubuntu");
/// assert_eq!(r.familiar(), "ubuntu");
///
/// let r: Reference = "localhost:5000/team/app:1.0".parse().unwrap();
/// assert_eq!((r.registry(), r.repository(), r.tag()), ("localhost:5000", "team/app", Some("1.0")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalizes a reference, as `docker pull` would read it.
    pub fn parse(input: &str) -> Result<Reference, ParseError> {
        parse_normalized(input)
    }

    /// The registry host, with port if any (`docker.io`, `localhost:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host the registry API is served from (Docker Hub's differs from its name).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API_HOST
        } else {
            &self.registry
        }
    }

    /// The repository path within the registry (`library/ubuntu`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if one was given.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository with another tag (any digest is kept).
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ParseError> {
        if !valid_tag(tag) {
            return fail(tag, "a tag is up to 128 of [A-Za-z0-9_.-], not starting with . or -");
        }
        Ok(Reference {
            tag: Some(tag.to_string()),
            ..self.clone()
        })
    }

    /// The same repository and tag with a digest.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same repository with neither tag nor digest.
    pub fn without_tag_or_digest(&self) -> Reference {
        Reference {
            tag: None,
            digest: None,
            ..self.clone()
        }
    }

    /// Another repository on the same registry.
    pub fn in_repository(&self, repository: &str) -> Result<Reference, ParseError> {
        validate_path(repository, repository)?;
        Ok(Reference {
            repository: repository.to_string(),
            ..self.clone()
        })
    }

    /// The short form docker prints: `docker.io/` dropped, and `library/` when one element is left.
    pub fn familiar(&self) -> String {
        let mut s = if self.registry == DOCKER_HUB {
            match self.repository.strip_prefix("library/") {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.repository.clone(),
            }
        } else {
            self.name()
        };
        self.push_tag_digest(&mut s);
        s
    }

    fn push_tag_digest(&self, s: &mut String) {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d.as_str());
        }
    }
}

impl FromStr for Reference {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        parse_normalized(s)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_tag_digest(&mut s);
        f.write_str(&s)
    }
}

impl serde::Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn parse_normalized(input: &str) -> Result<Reference, ParseError> {
    if input.is_empty() {
        return fail(input, "it is empty");
    }
    if input.len() == 64 && input.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return fail(
            input,
            "a 64-character hexadecimal string cannot be a repository name (did you mean sha256:…?)",
        );
    }
    let (rest, digest) = match input.split_once('@') {
        Some((name, d)) => (name, Some(parse_reference_digest(input, d)?)),
        None => (input, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        if !valid_tag(tag) {
            return fail(
                input,
                format!("tag {tag:?} is invalid: up to 128 of [A-Za-z0-9_.-], not starting with . or -"),
            );
        }
    }
    if name.is_empty() {
        return fail(input, "the repository name is missing");
    }
    let (registry, path) = split_registry(name);
    validate_registry(input, registry)?;
    let registry = if registry == LEGACY_DOCKER_HUB {
        DOCKER_HUB
    } else {
        registry
    };
    let repository = if registry == DOCKER_HUB && !path.contains('/') {
        format!("{OFFICIAL_NAMESPACE}/{path}")
    } else {
        path.to_string()
    };
    validate_path(input, &repository)?;
    Ok(Reference {
        registry: registry.to_string(),
        repository,
        tag: tag.map(str::to_string),
        digest,
    })
}

/// Splits `name` into registry and path by Docker's rule for the first element.
fn split_registry(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first == "localhost" || first.contains(['.', ':']) || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DOCKER_HUB, name),
    }
}

fn parse_reference_digest(input: &str, d: &str) -> Result<Digest, ParseError> {
    // The reference grammar accepts any case of hex and >= 32 digits; the algorithm then decides.
    let Some((alg, enc)) = d.split_once(':') else {
        return fail(input, format!("digest {d:?} must be ALGORITHM:HEX"));
    };
    if !valid_algorithm(alg) || enc.len() < 32 || !enc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return fail(input, format!("digest {d:?} is malformed"));
    }
    d.parse().map_err(|e: ParseError| ParseError {
        input: input.to_string(),
        reason: e.reason,
    })
}

pub(crate) fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_TAG_LEN
        && word(bytes[0])
        && bytes[1..].iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

/// Validates `host[:port]` where host is a domain name or a bracketed IPv6 address.
fn validate_registry(input: &str, registry: &str) -> Result<(), ParseError> {
    let bad = |why: &str| fail(input, format!("registry {registry:?} is invalid: {why}"));
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return bad("unclosed [ in IPv6 address");
        };
        let (addr, after) = (&rest[..end], &rest[end + 1..]);
        if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return bad("IPv6 addresses are hex digits and colons, without zone");
        }
        match after {
            "" => ("", None),
            _ => match after.strip_prefix(':') {
                Some(p) => ("", Some(p)),
                None => return bad("unexpected text after ]"),
            },
        }
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (registry, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return bad("the port must be digits");
        }
    }
    if !registry.starts_with('[') {
        let component_ok = |c: &str| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
        };
        if !host.split('.').all(component_ok) {
            return bad("host names are dot-separated letters, digits and inner hyphens");
        }
    }
    Ok(())
}

/// Validates a repository path: lowercase components separated by `/`, each
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn validate_path(input: &str, path: &str) -> Result<(), ParseError> {
    if path.len() > MAX_PATH_LEN {
        return fail(
            input,
            format!("the repository path is longer than {MAX_PATH_LEN} characters"),
        );
    }
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return fail(input, "repository names must be lowercase");
    }
    for component in path.split('/') {
        if !valid_path_component(component) {
            return fail(
                input,
                format!(
                    "path component {component:?} is invalid: use lowercase letters and digits, separated by '.', '_', '__' or dashes"
                ),
            );
        }
    }
    Ok(())
}

pub(crate) fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn bad(s: &str) {
        assert!(Reference::parse(s).is_err(), "{s:?} should be rejected");
    }

    #[test]
    fn docker_normalization_table() {
        assert_eq!(ok("ubuntu").to_string(), "docker.io/library/ubuntu");
        assert_eq!(ok("docker.io/ubuntu").to_string(), "docker.io/library/ubuntu");
        assert_eq!(
            ok("index.docker.io/library/debian").to_string(),
            "docker.io/library/debian"
        );
        let r = ok("library/foo/bar");
        assert_eq!(r.to_string(), "docker.io/library/foo/bar");
        assert_eq!(r.familiar(), "library/foo/bar");
        let r = ok("localhost/debian");
        assert_eq!((r.registry(), r.repository()), ("localhost", "debian"));
        assert_eq!(ok("localhost").to_string(), "docker.io/library/localhost");
        let r = ok("test_com/foo");
        assert_eq!((r.registry(), r.repository()), ("docker.io", "test_com/foo"));
        let r = ok("test.com:5000");
        assert_eq!(
            (r.name().as_str(), r.tag()),
            ("docker.io/library/test.com", Some("5000"))
        );
        let r = ok("test:5000/repo");
        assert_eq!((r.registry(), r.repository()), ("test:5000", "repo"));
        ok("[2001:db8::1]:5000/repo");
        ok("[2001:db8::1]/repo");
        bad("[2001:db8::1]:5000");
        bad("[fe80::1%eth0]:5000/repo");
        bad("fc00::1:5000/debian");
    }

    #[test]
    fn uppercase_rules() {
        bad("docker/Docker");
        bad("test:5000/Uppercase/lowercase:tag");
        assert_eq!(ok("lowercase:Uppercase").tag(), Some("Uppercase"));
        assert_eq!(ok("Docker/docker").registry(), "Docker");
        assert_eq!(ok("LOCALDOMAIN/debian").registry(), "LOCALDOMAIN");
    }

    #[test]
    fn digests_in_references() {
        bad(&format!("repo@sha256:{}", "f".repeat(34)));
        bad(&format!("x@sha256:{}", "F".repeat(64)));
        let r = ok(&format!("x:t@sha256:{}", "f".repeat(64)));
        assert_eq!(r.tag(), Some("t"));
        assert_eq!(r.tag_or_digest().to_string(), format!("sha256:{}", "f".repeat(64)));
        ok(&format!("x@sha512:{}", "0".repeat(128)));
        let e = Reference::parse(&format!("x@md5:{}", "0".repeat(32))).unwrap_err();
        assert!(e.reason.contains("unsupported"), "{e}");
    }

    #[test]
    fn path_components() {
        for s in [
            "dock__er/docker",
            "docker---rules/docker",
            "d/docker",
            "docker.io/a.b_c-d/e",
        ] {
            ok(s);
        }
        for s in [
            "dock___er/d",
            "dock..er/d",
            "-docker/d",
            "docker-/d",
            "docker///docker",
            "docker/",
            "____/____",
            "https://github.com/docker/docker",
            ":justtag",
            "",
        ] {
            bad(s);
        }
    }

    #[test]
    fn dots_in_path_after_domain() {
        let r = ok("b.gcr.io/test.example.com/my-app:test.example.com");
        assert_eq!(r.registry(), "b.gcr.io");
        assert_eq!(r.repository(), "test.example.com/my-app");
        assert_eq!(r.tag(), Some("test.example.com"));
    }

    #[test]
    fn tag_length_and_first_character() {
        ok(&format!("a:{}", "t".repeat(128)));
        bad(&format!("a:{}", "t".repeat(129)));
        bad("a:-t");
        ok("a:_t");
        bad("a:.t");
    }

    #[test]
    fn hex_names_and_path_length() {
        bad(&"a".repeat(64));
        ok(&format!("docker.io/{}", "a".repeat(64)));
        ok(&format!("example.com/{}", "a".repeat(255)));
        bad(&format!("example.com/{}", "a".repeat(256)));
    }

    #[test]
    fn default_tag_and_familiar_form() {
        let r = ok("example.com/a/b");
        assert_eq!(r.tag_or_digest().to_string(), "latest");
        assert_eq!(r.familiar(), "example.com/a/b");
        assert_eq!(ok("docker.io/library/busybox:1").familiar(), "busybox:1");
        assert_eq!(ok("ubuntu").api_host(), "registry-1.docker.io");
    }

    #[test]
    fn digest_grammar() {
        let d: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        assert_eq!((d.algorithm(), d.encoded().len()), ("sha256", 64));
        assert!(format!("sha256:{}", "a".repeat(63)).parse::<Digest>().is_err());
        assert!(format!("sha512:{}", "a".repeat(64)).parse::<Digest>().is_err());
        assert!("sha256".parse::<Digest>().is_err());
        assert!(format!("sha256:../../{}", "a".repeat(58)).parse::<Digest>().is_err());
        assert!(Digest::sha256_of(b"hello").matches(b"hello"));
        assert!(!Digest::sha256_of(b"hello").matches(b"hellO"));
    }
}

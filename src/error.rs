//! The library's error type: one variant per layer, each carrying what failed and with which
//! input, and the registry's own error codes when it sent any.

use std::borrow::Cow;

use http::StatusCode;

use crate::reference::{Digest, ParseError};
use crate::remedy::Remedy;
use crate::text::terminal_safe;
use crate::{auth, transport};

/// One entry of a registry's `{"errors":[…]}` body.
///
/// ```
/// use irel::{RegistryErrorCode, RegistryErrorEntry};
/// let body = r#"{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}"#;
/// let entry: RegistryErrorEntry = serde_json::from_str(body).unwrap();
/// assert_eq!(entry.code, RegistryErrorCode::NameUnknown);
/// assert_eq!(entry.message, "repository name not known to registry");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct RegistryErrorEntry {
    /// The code, e.g. [`RegistryErrorCode::ManifestUnknown`].
    pub code: RegistryErrorCode,
    /// The registry's message.
    #[serde(default)]
    pub message: String,
}

/// The code of a registry error: the OCI distribution spec's codes, those of the reference
/// implementation (distribution) that registries also send, and any other code kept as sent.
///
/// It reads from and writes to JSON as the code's text, and shows as that text: exactly what the
/// registry sent, which may hold anything (irel escapes it with
/// [`terminal_safe`](crate::text::terminal_safe) before showing it in an error).
///
/// ```
/// use irel::RegistryErrorCode;
/// let code: RegistryErrorCode = serde_json::from_str(r#""MANIFEST_UNKNOWN""#).unwrap();
/// assert_eq!(code, RegistryErrorCode::ManifestUnknown);
/// assert_eq!(RegistryErrorCode::from("QUOTA_EXCEEDED"), RegistryErrorCode::Other("QUOTA_EXCEEDED".into()));
/// assert_eq!(RegistryErrorCode::BlobUploadUnknown.to_string(), "BLOB_UPLOAD_UNKNOWN");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(from = "String", into = "String")]
#[non_exhaustive]
pub enum RegistryErrorCode {
    /// `BLOB_UNKNOWN`: a blob the registry does not have in this repository.
    BlobUnknown,
    /// `BLOB_UPLOAD_INVALID`: the upload failed and cannot go on.
    BlobUploadInvalid,
    /// `BLOB_UPLOAD_UNKNOWN`: an upload session the registry does not know (cancelled, expired
    /// or never started).
    BlobUploadUnknown,
    /// `DIGEST_INVALID`: content that does not have the digest it was given with.
    DigestInvalid,
    /// `MANIFEST_BLOB_UNKNOWN`: a manifest names a blob the repository does not have.
    ManifestBlobUnknown,
    /// `MANIFEST_INVALID`: a manifest the registry did not accept.
    ManifestInvalid,
    /// `MANIFEST_UNKNOWN`: no manifest by this tag or digest.
    ManifestUnknown,
    /// `NAME_INVALID`: a repository name the registry does not accept.
    NameInvalid,
    /// `NAME_UNKNOWN`: a repository the registry does not know.
    NameUnknown,
    /// `SIZE_INVALID`: content that does not have the length it was given with.
    SizeInvalid,
    /// `UNAUTHORIZED`: authentication is required.
    Unauthorized,
    /// `DENIED`: access to the resource is denied.
    Denied,
    /// `UNSUPPORTED`: the registry does not do this operation.
    Unsupported,
    /// `TOOMANYREQUESTS`: too many requests, for now.
    TooManyRequests,
    /// `MANIFEST_UNVERIFIED` (distribution): a manifest whose signature did not verify.
    ManifestUnverified,
    /// `TAG_INVALID` (distribution): the tag in a manifest does not match the one in the URL.
    TagInvalid,
    /// `RANGE_INVALID` (distribution): an upload chunk out of order.
    RangeInvalid,
    /// `PAGINATION_NUMBER_INVALID` (distribution): a page size (`n`) the registry does not take.
    PaginationNumberInvalid,
    /// `QUERY_PARAMETER_INVALID` (distribution): a query parameter the registry does not take.
    QueryParameterInvalid,
    /// `UNAVAILABLE` (distribution): the service is not available.
    Unavailable,
    /// `UNKNOWN` (distribution): an error the registry did not classify.
    Unknown,
    /// Any other code, as the registry sent it.
    Other(String),
}

impl RegistryErrorCode {
    /// The code's text, as registries send it.
    pub fn as_str(&self) -> &str {
        use RegistryErrorCode::*;
        match self {
            BlobUnknown => "BLOB_UNKNOWN",
            BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            DigestInvalid => "DIGEST_INVALID",
            ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ManifestInvalid => "MANIFEST_INVALID",
            ManifestUnknown => "MANIFEST_UNKNOWN",
            NameInvalid => "NAME_INVALID",
            NameUnknown => "NAME_UNKNOWN",
            SizeInvalid => "SIZE_INVALID",
            Unauthorized => "UNAUTHORIZED",
            Denied => "DENIED",
            Unsupported => "UNSUPPORTED",
            TooManyRequests => "TOOMANYREQUESTS",
            ManifestUnverified => "MANIFEST_UNVERIFIED",
            TagInvalid => "TAG_INVALID",
            RangeInvalid => "RANGE_INVALID",
            PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            QueryParameterInvalid => "QUERY_PARAMETER_INVALID",
            Unavailable => "UNAVAILABLE",
            Unknown => "UNKNOWN",
            Other(code) => code,
        }
    }
}

impl From<&str> for RegistryErrorCode {
    fn from(code: &str) -> Self {
        use RegistryErrorCode::*;
        match code {
            "BLOB_UNKNOWN" => BlobUnknown,
            "BLOB_UPLOAD_INVALID" => BlobUploadInvalid,
            "BLOB_UPLOAD_UNKNOWN" => BlobUploadUnknown,
            "DIGEST_INVALID" => DigestInvalid,
            "MANIFEST_BLOB_UNKNOWN" => ManifestBlobUnknown,
            "MANIFEST_INVALID" => ManifestInvalid,
            "MANIFEST_UNKNOWN" => ManifestUnknown,
            "NAME_INVALID" => NameInvalid,
            "NAME_UNKNOWN" => NameUnknown,
            "SIZE_INVALID" => SizeInvalid,
            "UNAUTHORIZED" => Unauthorized,
            "DENIED" => Denied,
            "UNSUPPORTED" => Unsupported,
            "TOOMANYREQUESTS" => TooManyRequests,
            "MANIFEST_UNVERIFIED" => ManifestUnverified,
            "TAG_INVALID" => TagInvalid,
            "RANGE_INVALID" => RangeInvalid,
            "PAGINATION_NUMBER_INVALID" => PaginationNumberInvalid,
            "QUERY_PARAMETER_INVALID" => QueryParameterInvalid,
            "UNAVAILABLE" => Unavailable,
            "UNKNOWN" => Unknown,
            other => Other(other.to_string()),
        }
    }
}

impl From<String> for RegistryErrorCode {
    fn from(code: String) -> Self {
        match RegistryErrorCode::from(code.as_str()) {
            RegistryErrorCode::Other(_) => RegistryErrorCode::Other(code),
            known => known,
        }
    }
}

impl From<RegistryErrorCode> for String {
    fn from(code: RegistryErrorCode) -> Self {
        match code {
            RegistryErrorCode::Other(code) => code,
            known => known.as_str().to_string(),
        }
    }
}

impl std::fmt::Display for RegistryErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What irel knows of a registry's error answer beyond the answer itself.
///
/// ```
/// let hint = irel::RegistryHint {
///     cause: "registry.example/app:1 does not exist".into(),
///     remedy: Some(irel::Remedy::ListTags { repository: "registry.example/app".into() }),
/// };
/// assert_eq!(
///     hint.to_string(),
///     "registry.example/app:1 does not exist; list the tags of registry.example/app to see which there are"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryHint {
    /// The cause, in words (`registry.example/app:1 does not exist`).
    pub cause: String,
    /// What the user can do about it, when irel knows.
    pub remedy: Option<Remedy>,
}

impl std::fmt::Display for RegistryHint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.cause)?;
        match &self.remedy {
            Some(r) => write!(f, "; {r}"),
            None => Ok(()),
        }
    }
}

impl From<String> for RegistryHint {
    fn from(cause: String) -> Self {
        RegistryHint { cause, remedy: None }
    }
}

/// Everything irel's library can fail with.
///
/// Telling a missing tag from other failures by the registry's code, and asking what the user
/// can do about the rest:
/// ```
/// use irel::{Error, RegistryErrorCode};
/// fn advice(e: &Error) -> String {
///     match e {
///         Error::Registry { errors, .. } if errors.iter().any(|x| x.code == RegistryErrorCode::ManifestUnknown) => {
///             "no such tag or digest".into()
///         }
///         other => other.remedy().map(|r| r.to_string()).unwrap_or_default(),
///     }
/// }
/// let missing = Error::Registry {
///     operation: "GET manifest".into(),
///     url: "https://registry.example/v2/app/manifests/9".into(),
///     status: http::StatusCode::NOT_FOUND,
///     errors: serde_json::from_str(r#"[{"code":"MANIFEST_UNKNOWN"}]"#).unwrap(),
///     hint: None,
///     retry_after: None,
/// };
/// assert_eq!(advice(&missing), "no such tag or digest");
/// let refused = Error::from(irel::transport::Error::PlainHttpRefused { registry: "lab:5000".into() });
/// assert_eq!(advice(&refused), "if you trust the network to it, mark lab:5000 insecure");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An image reference or digest that does not parse.
    #[error(transparent)]
    Reference(#[from] ParseError),
    /// Connections, TLS, scheme policy, redirects.
    #[error(transparent)]
    Transport(#[from] transport::Error),
    /// Challenges, credentials, tokens.
    #[error(transparent)]
    Auth(#[from] auth::Error),
    /// The registry answered with an error status.
    #[error("{operation} {url}: registry answered {status}{}{}", codes_suffix(.errors), hint_suffix(.hint))]
    Registry {
        /// What irel was doing (`GET manifest`, `PUT blob`, …).
        operation: Cow<'static, str>,
        /// The URL it asked.
        url: String,
        /// The HTTP status.
        status: StatusCode,
        /// The registry's error codes and messages.
        errors: Vec<RegistryErrorEntry>,
        /// What irel knows of the cause, and what the user can do about it (boxed: it is
        /// rare, and this variant sets the size of every `Result` of the crate).
        hint: Option<Box<RegistryHint>>,
        /// How long the registry asked to wait (`Retry-After`), when it said.
        retry_after: Option<std::time::Duration>,
    },
    /// A registry answer with a success status that lacks what irel needs of it (an upload
    /// opened without a `Location`).
    #[error("{operation} {url}: registry answered {status} without {missing}")]
    IncompleteAnswer {
        /// What irel was doing (`POST upload`).
        operation: Cow<'static, str>,
        /// The URL it asked.
        url: String,
        /// The status it answered.
        status: StatusCode,
        /// What the answer lacks.
        missing: &'static str,
    },
    /// A manifest irel cannot use.
    #[error("manifest of {reference}: {reason}")]
    Manifest {
        /// The image.
        reference: String,
        /// What is wrong.
        reason: String,
    },
    /// Content whose digest is not the one it was asked by.
    #[error("{what}: expected digest {expected}, got {actual}")]
    DigestMismatch {
        /// What was checked.
        what: String,
        /// The digest asked for.
        expected: Digest,
        /// The digest the bytes have.
        actual: String,
    },
    /// An OCI image layout or bundle archive irel cannot use or write.
    #[error("{path}: {reason}")]
    Layout {
        /// The layout directory or archive.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A name that cannot become a path, or a path irel will not write or read through
    /// (a symbolic link inside a destination or a layout).
    #[error(transparent)]
    Path(#[from] crate::layout::safe_path::PathError),
    /// Something irel does not do for these inputs (the message says what instead).
    #[error("{what}{}", remedy_suffix(.remedy))]
    Unsupported {
        /// What irel does not do, and why.
        what: String,
        /// What the user can do instead, when it is something to choose.
        remedy: Option<Remedy>,
    },
    /// A listing (tags, catalog, referrers) that passed irel's bounds or looped.
    #[error("{operation} on {registry}: {reason}")]
    Listing {
        /// What was listed (`GET tags`, `GET catalog`, …).
        operation: &'static str,
        /// The registry.
        registry: String,
        /// What went wrong.
        reason: String,
    },
    /// The tags of a repository could not be listed, and the work that needed them (a sync of
    /// every tag) did nothing.
    #[error(
        "GET tags on {registry}: cannot list the tags of {repository}, so nothing is synced: {source}; {}",
        unlisted_advice(.remedy)
    )]
    TagsUnlisted {
        /// The registry, as the user named it.
        registry: String,
        /// The repository.
        repository: String,
        /// Why the listing failed.
        #[source]
        source: Box<Error>,
        /// What the user can do, when irel knows.
        remedy: Option<Remedy>,
    },
    /// A layer an embedder added to the session ([`SessionBuilder::layer`](crate::session::SessionBuilder::layer))
    /// failed the request with an error of its own (a timeout, a refused permit).
    #[error("a session layer failed the request: {0}")]
    Layer(#[source] transport::BoxError),
    /// A blob transfer that failed after it started.
    #[error(
        "blob {digest}{}{}: {}",
        side(" from ", .source_repo),
        side(" to ", .destination),
        transport::error_chain(.source.as_ref())
    )]
    BlobTransfer {
        /// The blob.
        digest: Digest,
        /// Where it came from, when the place that failed knows.
        source_repo: Option<String>,
        /// Where it was going, when the place that failed knows.
        destination: Option<String>,
        /// What went wrong: a transport error, a body that broke off, content that is not
        /// what its descriptor says ([`VerifyError`](crate::blob::VerifyError)).
        #[source]
        source: transport::BoxError,
    },
}

impl Error {
    /// The registry error codes carried, if any (e.g. `[RegistryErrorCode::ManifestUnknown]`).
    pub fn registry_codes(&self) -> Vec<RegistryErrorCode> {
        match self {
            Error::Registry { errors, .. } => errors.iter().map(|e| e.code.clone()).collect(),
            _ => Vec::new(),
        }
    }

    /// What the user can do about this error, when irel knows: the first [`Remedy`] of the
    /// error and its causes ([`remedies`](Self::remedies) has them all). The message says it
    /// in words already; a program with its own way of saying it (a command line's flags) can
    /// use this instead.
    ///
    /// ```
    /// let e = irel::Error::from(irel::transport::Error::PlainHttpRefused {
    ///     registry: "lab:5000".into(),
    /// });
    /// assert_eq!(e.remedy(), Some(irel::Remedy::MarkInsecure { registry: "lab:5000".into() }));
    /// assert!(e.to_string().ends_with("if you trust the network to it, mark lab:5000 insecure"));
    /// ```
    pub fn remedy(&self) -> Option<Remedy> {
        self.remedies().into_iter().next()
    }

    /// Every [`Remedy`] of the error and its causes (`#[source]` chain), outermost first,
    /// each once.
    pub fn remedies(&self) -> Vec<Remedy> {
        let mut found: Vec<Remedy> = Vec::new();
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cause {
            // A boxed cause shows as the box, whose `source()` skips what it holds.
            let irel = e
                .downcast_ref::<Error>()
                .or_else(|| e.downcast_ref::<Box<Error>>().map(|b| &**b));
            let own = if let Some(e) = irel {
                e.own_remedy()
            } else if let Some(t) = e.downcast_ref::<transport::Error>() {
                t.remedy()
            } else if let Some(a) = e.downcast_ref::<auth::Error>() {
                a.remedy()
            } else {
                None
            };
            if let Some(r) = own.filter(|r| !found.contains(r)) {
                found.push(r);
            }
            cause = e.source();
        }
        found
    }

    /// The remedy of this error itself, not of its causes (those of the layers it shows
    /// through included: their `source()` skips them).
    fn own_remedy(&self) -> Option<Remedy> {
        match self {
            Error::Transport(t) => t.remedy(),
            Error::Auth(a) => a.remedy(),
            Error::Registry { hint, .. } => hint.as_ref().and_then(|h| h.remedy.clone()),
            Error::Unsupported { remedy, .. } | Error::TagsUnlisted { remedy, .. } => remedy.clone(),
            _ => None,
        }
    }

    /// Whether the registry said "not now" (429 Too Many Requests, 503 Service Unavailable):
    /// nothing was accepted, and the same request may succeed later.
    pub fn is_busy(&self) -> bool {
        matches!(self.status().map(|s| s.as_u16()), Some(429 | 503))
    }

    /// The registry (`host[:port]`, as in a URL) a request error concerns: the host of the URL
    /// that failed, for registry answers and transport failures. Lets a program say which of
    /// several registries (a copy's source or destination) failed.
    ///
    /// ```
    /// let e = irel::Error::Registry {
    ///     operation: "GET manifest".into(),
    ///     url: "https://registry.example:5000/v2/a/manifests/1".into(),
    ///     status: http::StatusCode::NOT_FOUND,
    ///     errors: Vec::new(),
    ///     hint: None,
    ///     retry_after: None,
    /// };
    /// assert_eq!(e.registry_host().as_deref(), Some("registry.example:5000"));
    /// ```
    pub fn registry_host(&self) -> Option<String> {
        let url = match self {
            Error::Registry { url, .. } | Error::IncompleteAnswer { url, .. } => url,
            Error::Transport(t) => match t {
                transport::Error::Request { url, .. }
                | transport::Error::Timeout { url, .. }
                | transport::Error::NotRegistry { url, .. } => url,
                transport::Error::PlainHttpRefused { registry } | transport::Error::Unreachable { registry, .. } => {
                    return Some(registry.clone())
                }
                _ => return None,
            },
            _ => return None,
        };
        // A URL, or (for an upload) `host[:port]/repository (blob …)`.
        match url::Url::parse(url) {
            Ok(u) => Some(u[url::Position::BeforeHost..url::Position::AfterPort].to_string()),
            Err(_) => url.split('/').next().filter(|h| !h.is_empty()).map(str::to_string),
        }
    }

    /// The HTTP status the registry answered, for registry errors.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Registry { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn side(prefix: &str, place: &Option<String>) -> String {
    place.as_ref().map(|p| format!("{prefix}{p}")).unwrap_or_default()
}

fn codes_suffix(errors: &[RegistryErrorEntry]) -> String {
    errors
        .iter()
        .map(|e| {
            // The registry's words: escaped, so that they cannot drive the terminal they reach.
            let code = terminal_safe(e.code.as_str());
            if e.message.is_empty() {
                format!(" {code}")
            } else {
                format!(" {code}: {}", terminal_safe(&e.message))
            }
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn hint_suffix(hint: &Option<Box<RegistryHint>>) -> String {
    hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default()
}

fn remedy_suffix(remedy: &Option<Remedy>) -> String {
    remedy.as_ref().map(|r| format!("; {r}")).unwrap_or_default()
}

fn unlisted_advice(remedy: &Option<Remedy>) -> String {
    match remedy {
        Some(r @ Remedy::GiveSourceCredentials { .. }) => format!("{r}, or name a tag (REPO:TAG)"),
        Some(r) => r.to_string(),
        None => "name a tag (REPO:TAG) to sync one image".into(),
    }
}

/// Reads a registry error body leniently: JSON errors when present, else nothing (a proxy's
/// HTML page says nothing useful).
pub(crate) fn parse_error_body(body: &[u8]) -> Vec<RegistryErrorEntry> {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<RegistryErrorEntry>,
    }
    serde_json::from_slice::<Body>(body)
        .map(|b| b.errors)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_errors_show_codes_and_hint() {
        let errors = parse_error_body(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#,
        );
        let e = Error::Registry {
            operation: "GET manifest".into(),
            url: "http://r/v2/a/manifests/x".into(),
            status: StatusCode::NOT_FOUND,
            errors,
            hint: Some(Box::new(String::from("check the tag").into())),
            retry_after: None,
        };
        assert_eq!(e.registry_codes(), vec![RegistryErrorCode::ManifestUnknown]);
        assert_eq!(
            e.to_string(),
            "GET manifest http://r/v2/a/manifests/x: registry answered 404 Not Found MANIFEST_UNKNOWN: manifest unknown (check the tag)"
        );
    }

    #[test]
    fn registry_messages_cannot_drive_the_terminal() {
        let errors = parse_error_body(
            br#"{"errors":[{"code":"DENIED\u001b[2J","message":"no\nirel: forged line \u001b]0;title\u0007"}]}"#,
        );
        let e = Error::Registry {
            operation: "GET manifest".into(),
            url: "http://r/v2/a/manifests/x".into(),
            status: StatusCode::FORBIDDEN,
            errors,
            hint: None,
            retry_after: None,
        };
        // Kept as sent (the program sees what the registry said), escaped when shown.
        assert_eq!(
            e.registry_codes(),
            vec![RegistryErrorCode::Other("DENIED\u{1b}[2J".into())]
        );
        let shown = e.to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(
            shown.ends_with(r"DENIED\u001b[2J: no\nirel: forged line \u001b]0;title\u0007"),
            "{shown}"
        );
    }

    #[test]
    fn known_codes_round_trip_as_their_text() {
        use RegistryErrorCode::*;
        let known = [
            BlobUnknown,
            BlobUploadInvalid,
            BlobUploadUnknown,
            DigestInvalid,
            ManifestBlobUnknown,
            ManifestInvalid,
            ManifestUnknown,
            NameInvalid,
            NameUnknown,
            SizeInvalid,
            Unauthorized,
            Denied,
            Unsupported,
            TooManyRequests,
            ManifestUnverified,
            TagInvalid,
            RangeInvalid,
            PaginationNumberInvalid,
            QueryParameterInvalid,
            Unavailable,
            Unknown,
        ];
        for code in known {
            let text = code.to_string();
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("{text:?}"));
            assert_eq!(
                serde_json::from_str::<RegistryErrorCode>(&format!("{text:?}")).unwrap(),
                code
            );
            assert_eq!(RegistryErrorCode::from(text.as_str()), code);
            assert!(!matches!(RegistryErrorCode::from(text), Other(_)));
        }
    }

    #[test]
    fn unknown_codes_are_kept_verbatim() {
        let errors =
            parse_error_body(br#"{"errors":[{"code":"QUOTA_EXCEEDED","message":"m"},{"code":"manifest_unknown"}]}"#);
        assert_eq!(errors[0].code, RegistryErrorCode::Other("QUOTA_EXCEEDED".into()));
        // Codes are case-sensitive: a lower-case one is not the spec's.
        assert_eq!(errors[1].code, RegistryErrorCode::Other("manifest_unknown".into()));
        assert_eq!(
            serde_json::to_string(&errors[0]).unwrap(),
            r#"{"code":"QUOTA_EXCEEDED","message":"m"}"#
        );
        assert_eq!(errors[1].code.to_string(), "manifest_unknown");
    }

    #[test]
    fn remedies_are_said_in_words_and_found_among_the_causes() {
        let timeout = Error::from(transport::Error::Timeout {
            method: http::Method::GET,
            url: "http://r/v2/".into(),
            phase: transport::TimeoutPhase::Response,
            after: std::time::Duration::from_secs(1),
        });
        assert_eq!(timeout.remedy(), Some(Remedy::RaiseTimeout));
        assert!(
            timeout
                .to_string()
                .ends_with("(raise the timeout if the registry is slow)"),
            "{timeout}"
        );
        let unlisted = Error::TagsUnlisted {
            registry: "r".into(),
            repository: "r/a".into(),
            source: Box::new(timeout),
            remedy: None,
        };
        assert_eq!(unlisted.remedies(), vec![Remedy::RaiseTimeout]);
        let unauthorized = Error::Registry {
            operation: "GET tags".into(),
            url: "http://r/v2/a/tags/list".into(),
            status: StatusCode::UNAUTHORIZED,
            errors: Vec::new(),
            hint: Some(Box::new(RegistryHint {
                cause: "r requires authentication and irel has no credentials for it".into(),
                remedy: Some(Remedy::GiveCredentials { registry: "r".into() }),
            })),
            retry_after: None,
        };
        let unlisted = Error::TagsUnlisted {
            registry: "r".into(),
            repository: "r/a".into(),
            source: Box::new(unauthorized),
            remedy: Some(Remedy::GiveSourceCredentials { registry: "r".into() }),
        };
        assert_eq!(
            unlisted.remedies(),
            vec![
                Remedy::GiveSourceCredentials { registry: "r".into() },
                Remedy::GiveCredentials { registry: "r".into() }
            ]
        );
        let shown = unlisted.to_string();
        for remedy in unlisted.remedies() {
            assert!(shown.contains(&remedy.to_string()), "{shown}");
        }
        assert!(!shown.contains("--"), "no flag in a library message: {shown}");
    }

    #[test]
    fn html_error_bodies_are_tolerated() {
        assert!(parse_error_body(b"<html>bad gateway</html>").is_empty());
    }
}

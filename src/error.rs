//! The library's error type: one variant per layer, each carrying what failed and with which
//! input, and the registry's own error codes when it sent any.

use http::StatusCode;

use crate::reference::{Digest, ParseError};
use crate::text::terminal_safe;
use crate::{auth, transport};

/// One entry of a registry's `{"errors":[…]}` body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct RegistryErrorEntry {
    /// The code, e.g. `MANIFEST_UNKNOWN`.
    pub code: String,
    /// The registry's message.
    #[serde(default)]
    pub message: String,
}

/// Everything irel's library can fail with.
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
        operation: &'static str,
        /// The URL it asked.
        url: String,
        /// The HTTP status.
        status: StatusCode,
        /// The registry's error codes and messages.
        errors: Vec<RegistryErrorEntry>,
        /// What the user can do about it, when irel knows.
        hint: Option<String>,
        /// How long the registry asked to wait (`Retry-After`), when it said.
        retry_after: Option<std::time::Duration>,
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
    #[error("{0}")]
    Unsupported(String),
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
    /// A layer an embedder added to the session ([`SessionBuilder::layer`](crate::session::SessionBuilder::layer))
    /// failed the request with an error of its own (a timeout, a refused permit).
    #[error("a session layer failed the request: {0}")]
    Layer(#[source] transport::BoxError),
    /// A blob transfer that failed after it started.
    #[error("blob {digest} from {source_repo} to {destination}: {detail}")]
    BlobTransfer {
        /// The blob.
        digest: Digest,
        /// Where it came from.
        source_repo: String,
        /// Where it was going.
        destination: String,
        /// What went wrong (with causes).
        detail: String,
    },
}

impl Error {
    /// The registry error codes carried, if any (e.g. `["MANIFEST_UNKNOWN"]`).
    pub fn registry_codes(&self) -> Vec<&str> {
        match self {
            Error::Registry { errors, .. } => errors.iter().map(|e| e.code.as_str()).collect(),
            _ => Vec::new(),
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
    ///     operation: "GET manifest",
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
            Error::Registry { url, .. } => url,
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

fn codes_suffix(errors: &[RegistryErrorEntry]) -> String {
    errors
        .iter()
        .map(|e| {
            // The registry's words: escaped, so that they cannot drive the terminal they reach.
            let code = terminal_safe(&e.code);
            if e.message.is_empty() {
                format!(" {code}")
            } else {
                format!(" {code}: {}", terminal_safe(&e.message))
            }
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default()
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
            operation: "GET manifest",
            url: "http://r/v2/a/manifests/x".into(),
            status: StatusCode::NOT_FOUND,
            errors,
            hint: Some("check the tag".into()),
            retry_after: None,
        };
        assert_eq!(e.registry_codes(), vec!["MANIFEST_UNKNOWN"]);
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
            operation: "GET manifest",
            url: "http://r/v2/a/manifests/x".into(),
            status: StatusCode::FORBIDDEN,
            errors,
            hint: None,
            retry_after: None,
        };
        let shown = e.to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(
            shown.ends_with(r"DENIED\u001b[2J: no\nirel: forged line \u001b]0;title\u0007"),
            "{shown}"
        );
    }

    #[test]
    fn html_error_bodies_are_tolerated() {
        assert!(parse_error_body(b"<html>bad gateway</html>").is_empty());
    }
}

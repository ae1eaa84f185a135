//! Registry authentication: challenges, credentials, and bearer tokens with a cache.
//!
//! A registry says how it wants to be authenticated in the `WWW-Authenticate` header of its
//! `/v2/` ping. For `Bearer`, irel asks the token realm for a token carrying exactly the scopes a
//! request needs (`repository:team/app:pull`, …), with Basic credentials when it has them, and
//! caches it per (realm, service, scopes) until shortly before it expires. For `Basic`, it sends
//! the credentials to the registry host itself and nowhere else.

mod challenge;
mod credentials;
mod helpers;
mod login;

use http::StatusCode;

pub use challenge::{parse_challenges, Challenge};
pub use credentials::{ContainersAuth, Credential, CredentialChain, CredentialSource, DockerConfig, StaticCredentials};
pub use helpers::CredentialHelper;
pub use login::{docker_config_path, remove_login, store_login, Stored};

use crate::remedy::Remedy;
use crate::transport;

/// What went wrong authenticating.
///
/// ```
/// use irel::{auth, Remedy};
/// let refused = auth::Error::RealmRefused {
///     realm: "http://auth.lab.example/token".into(),
///     registry: "lab.example".into(),
///     reason: "plain http to a host that is not marked insecure".into(),
///     remedy: Some(Remedy::MarkInsecure { registry: "auth.lab.example".into() }),
/// };
/// assert!(matches!(refused.remedy(), Some(Remedy::MarkInsecure { .. })));
/// // The library returns it inside its own error.
/// assert!(matches!(irel::Error::from(refused), irel::Error::Auth(auth::Error::RealmRefused { .. })));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `WWW-Authenticate` header that does not parse.
    #[error("malformed WWW-Authenticate header {header:?}: {reason}")]
    Challenge {
        /// The header (truncated).
        header: String,
        /// Why.
        reason: String,
    },
    /// A credentials file that cannot be used.
    #[error("cannot use credentials file {path}: {reason}")]
    CredentialsFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A docker credential helper failed.
    #[error("credential helper {helper} failed: {reason}")]
    CredentialHelper {
        /// The program.
        helper: String,
        /// Why (never its output, which may hold a secret).
        reason: String,
    },
    /// Credentials that cannot be sent (a registry token with a line break in it).
    #[error("cannot use the credentials for {registry}: {reason}")]
    UnusableCredential {
        /// The name the credentials are filed under.
        registry: String,
        /// Why.
        reason: &'static str,
    },
    /// A token realm irel will not send credentials to.
    #[error("refusing token realm {realm} of registry {registry}: {reason}{}", remedy_suffix(.remedy))]
    RealmRefused {
        /// The realm URL.
        realm: String,
        /// The registry.
        registry: String,
        /// Why.
        reason: String,
        /// What the user can do, when there is something.
        remedy: Option<Remedy>,
    },
    /// The token server refused.
    #[error("token server {realm} answered {status}{hint}")]
    TokenDenied {
        /// The realm URL (without query).
        realm: String,
        /// Its status.
        status: StatusCode,
        /// What to do about it.
        hint: &'static str,
    },
    /// The token server's answer is not a token.
    #[error("token server {realm} sent an unusable answer: {reason}")]
    TokenResponse {
        /// The realm URL.
        realm: String,
        /// Why.
        reason: String,
    },
    /// The request to the token server failed.
    #[error(transparent)]
    Transport(#[from] transport::Error),
}

impl Error {
    /// What the user can do about it, when irel knows (see [`Remedy`]).
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            Error::RealmRefused { remedy, .. } => remedy.clone(),
            Error::Transport(t) => t.remedy(),
            _ => None,
        }
    }
}

fn remedy_suffix(remedy: &Option<Remedy>) -> String {
    remedy.as_ref().map(|r| format!("; {r}")).unwrap_or_default()
}

/// The scopes a request needs, e.g. `repository:team/app:pull`.
///
/// ```
/// use irel::auth::Scope;
/// assert_eq!(Scope::push("team/app").to_string(), "repository:team/app:pull,push");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope(String);

impl Scope {
    /// Pull access to a repository.
    pub fn pull(repository: &str) -> Scope {
        Scope(format!("repository:{repository}:pull"))
    }
    /// Pull and push access to a repository (uploads need both).
    pub fn push(repository: &str) -> Scope {
        Scope(format!("repository:{repository}:pull,push"))
    }
    /// Listing the catalog.
    pub fn catalog() -> Scope {
        Scope("registry:catalog:*".into())
    }
    /// A scope string as a registry sent it.
    pub fn raw(s: &str) -> Scope {
        Scope(s.to_string())
    }

    /// The repository a `repository:NAME:ACTIONS` scope is about.
    pub fn repository(&self) -> Option<&str> {
        let rest = self.0.strip_prefix("repository:")?;
        Some(rest.rsplit_once(':').map_or(rest, |(name, _)| name))
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

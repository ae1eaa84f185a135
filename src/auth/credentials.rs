//! Where registry credentials come from: explicit values, docker's `config.json` (with its
//! credential helpers), and the containers tools' `auth.json`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;

use super::helpers::CredentialHelper;
use super::Error;

/// A secret for one registry. `Debug` never shows the secret.
///
/// ```
/// use irel::auth::{Credential, StaticCredentials};
/// let basic = Credential::Basic { username: "ci".into(), password: "s3cret".into() };
/// assert_eq!(format!("{basic:?}"), "Basic(ci, <redacted>)");
/// let mut creds = StaticCredentials::default();
/// creds.insert("registry.example", basic);
/// creds.insert("ghcr.io", Credential::RegistryToken("a-token".into()));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// Username and password (sent as Basic to the registry or the token realm).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// An identity (refresh) token, exchanged with an OAuth2 POST to the realm.
    IdentityToken(String),
    /// A registry token, sent as `Bearer` as it is.
    RegistryToken(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credential::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
            Credential::RegistryToken(_) => f.write_str("RegistryToken(<redacted>)"),
        }
    }
}

/// A source of credentials, asked with the registry name as references spell it
/// (`docker.io`, `localhost:5000`).
///
/// A CI job's token, for its own registry only:
/// ```
/// use irel::auth::{Credential, CredentialSource};
/// struct CiToken {
///     registry: String,
///     token: String,
/// }
/// impl CredentialSource for CiToken {
///     fn credential(&self, registry: &str) -> Option<Credential> {
///         (registry == self.registry).then(|| Credential::RegistryToken(self.token.clone()))
///     }
/// }
/// let source = CiToken { registry: "registry.example".into(), token: "t0ken".into() };
/// let session = irel::session::Session::builder().credentials(source).build().unwrap();
/// assert!(session.has_credentials("registry.example") && !session.has_credentials("docker.io"));
/// ```
pub trait CredentialSource: Send + Sync {
    /// The credential for `registry`, if this source has one.
    fn credential(&self, registry: &str) -> Option<Credential>;

    /// The credential for `repository` (a path such as `team/app`, when known) on `registry`.
    /// Sources with per-namespace entries or helpers that can fail override this; the default
    /// asks [`credential`](Self::credential).
    fn lookup(&self, registry: &str, repository: Option<&str>) -> Result<Option<Credential>, Error> {
        let _ = repository;
        Ok(self.credential(registry))
    }
}

/// Credentials given explicitly, per registry.
///
/// ```
/// use irel::auth::{Credential, CredentialSource, StaticCredentials};
/// let mut creds = StaticCredentials::default();
/// creds.insert("localhost:5000", Credential::Basic { username: "u".into(), password: "p".into() });
/// assert!(creds.credential("localhost:5000").is_some());
/// assert!(creds.credential("docker.io").is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct StaticCredentials {
    by_registry: HashMap<String, Credential>,
}

impl StaticCredentials {
    /// Sets the credential for `registry`.
    pub fn insert(&mut self, registry: &str, credential: Credential) {
        self.by_registry.insert(normalize_key(registry), credential);
    }

    /// Sets a credential under a config-file key, keeping any namespace path it has
    /// (`registry.example/team`) for sources that match namespaces.
    fn insert_exact(&mut self, key: &str, credential: Credential) {
        let host = normalize_key(key);
        let k = key.trim();
        let k = k
            .strip_prefix("https://")
            .or_else(|| k.strip_prefix("http://"))
            .unwrap_or(k);
        let path = k
            .split_once('/')
            .map(|(_, p)| p.trim_matches('/'))
            .filter(|p| !p.is_empty() && !p.starts_with("v1") && !p.starts_with("v2"));
        let key = match path {
            Some(p) => format!("{host}/{p}"),
            None => host,
        };
        self.by_registry.entry(key).or_insert(credential);
    }
}

impl CredentialSource for StaticCredentials {
    fn credential(&self, registry: &str) -> Option<Credential> {
        self.by_registry.get(&normalize_key(registry)).cloned()
    }
}

/// The `auths` section of docker's `config.json`.
///
/// ```
/// use irel::auth::{CredentialSource, DockerConfig};
/// let cfg = DockerConfig::parse(br#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpwOmM="}}}"#, "inline").unwrap();
/// assert!(cfg.credential("docker.io").is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct DockerConfig {
    auths: StaticCredentials,
    /// `credHelpers`: registry → helper name.
    helpers: HashMap<String, String>,
    /// `credsStore`: the helper for every other registry.
    store: Option<String>,
    running: std::sync::Arc<Mutex<HashMap<String, std::sync::Arc<CredentialHelper>>>>,
    path: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

impl DockerConfig {
    /// Reads `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; a missing file is an
    /// empty configuration.
    pub fn load_default() -> Result<DockerConfig, Error> {
        let dir = match std::env::var_os("DOCKER_CONFIG") {
            Some(d) => PathBuf::from(d),
            None => match std::env::var_os("HOME") {
                Some(h) => PathBuf::from(h).join(".docker"),
                None => return Ok(DockerConfig::default()),
            },
        };
        Self::load(&dir.join("config.json"))
    }

    /// Reads one config file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<DockerConfig, Error> {
        let Some(data) = read_if_present(path)? else {
            return Ok(DockerConfig::default());
        };
        let mut cfg = Self::parse(&data, &path.display().to_string())?;
        cfg.path = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Parses config.json content; `origin` names it in errors.
    pub fn parse(data: &[u8], origin: &str) -> Result<DockerConfig, Error> {
        let bad = |reason: String| Error::CredentialsFile {
            path: origin.to_string(),
            reason,
        };
        let file: ConfigFile = serde_json::from_slice(data).map_err(|e| bad(e.to_string()))?;
        let auths = parse_auths(file.auths, &bad)?;
        Ok(DockerConfig {
            auths,
            helpers: file
                .cred_helpers
                .into_iter()
                .map(|(k, v)| (normalize_key(&k), v))
                .collect(),
            store: file.creds_store.filter(|s| !s.is_empty()),
            running: Default::default(),
            path: None,
        })
    }

    /// The file this came from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The helper that keeps `registry`'s credentials: `credHelpers`, else `credsStore`.
    pub fn helper_for(&self, registry: &str) -> Option<std::sync::Arc<CredentialHelper>> {
        let name = self.helpers.get(&normalize_key(registry)).or(self.store.as_ref())?;
        let mut running = self.running.lock().expect("helper table poisoned");
        Some(
            running
                .entry(name.clone())
                .or_insert_with(|| std::sync::Arc::new(CredentialHelper::new(name)))
                .clone(),
        )
    }
}

/// A credentials file's bytes; `None` when it does not exist (no file, no credentials).
fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(data) => Ok(Some(data)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::CredentialsFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

/// The server name docker hands helpers for a registry (Docker Hub has its historic URL).
pub(crate) fn helper_server(registry: &str) -> String {
    match normalize_key(registry).as_str() {
        "docker.io" => "https://index.docker.io/v1/".to_string(),
        other => other.to_string(),
    }
}

/// `auths` entries, each a credential under its (normalized) key.
fn parse_auths(entries: HashMap<String, AuthEntry>, bad: &dyn Fn(String) -> Error) -> Result<StaticCredentials, Error> {
    {
        let mut auths = StaticCredentials::default();
        for (key, entry) in entries {
            let cred = if let Some(t) = entry.registrytoken.filter(|t| !t.is_empty()) {
                Credential::RegistryToken(t)
            } else if let Some(t) = entry.identitytoken.filter(|t| !t.is_empty()) {
                Credential::IdentityToken(t)
            } else if let Some(a) = entry.auth.filter(|a| !a.is_empty()) {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(a.trim())
                    .map_err(|_| bad(format!("auths.{key}.auth is not base64")))?;
                let text = String::from_utf8(decoded).map_err(|_| bad(format!("auths.{key}.auth is not UTF-8")))?;
                let Some((u, p)) = text.split_once(':') else {
                    return Err(bad(format!("auths.{key}.auth is not base64(user:password)")));
                };
                Credential::Basic {
                    username: u.to_string(),
                    password: p.to_string(),
                }
            } else if let (Some(u), Some(p)) = (entry.username, entry.password) {
                Credential::Basic {
                    username: u,
                    password: p,
                }
            } else {
                continue;
            };
            auths.insert_exact(&key, cred);
        }
        Ok(auths)
    }
}

impl CredentialSource for DockerConfig {
    fn credential(&self, registry: &str) -> Option<Credential> {
        self.lookup(registry, None).ok().flatten()
    }

    fn lookup(&self, registry: &str, _repository: Option<&str>) -> Result<Option<Credential>, Error> {
        if let Some(helper) = self.helper_for(registry) {
            if let Some(c) = helper.get(&helper_server(registry))? {
                return Ok(Some(c));
            }
        }
        Ok(self.auths.credential(registry))
    }
}

/// The containers tools' `auth.json` (podman, skopeo, buildah): docker's `auths` format, with
/// keys that may name a namespace or repository (`registry.example/team`), the most specific
/// matching key winning.
///
/// ```
/// use irel::auth::{ContainersAuth, CredentialSource};
/// let file = br#"{"auths":{"r.example":{"auth":"YTpi"},"r.example/team":{"auth":"Yzpk"}}}"#;
/// let auth = ContainersAuth::parse(file, "auth.json").unwrap();
/// let team = auth.lookup("r.example", Some("team/app")).unwrap().unwrap();
/// let other = auth.lookup("r.example", Some("other/app")).unwrap().unwrap();
/// assert_ne!(team, other);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ContainersAuth {
    auths: StaticCredentials,
    path: Option<PathBuf>,
}

impl ContainersAuth {
    /// `path` if given (`--authfile`), else `$REGISTRY_AUTH_FILE`, else
    /// `$XDG_RUNTIME_DIR/containers/auth.json`, else `~/.config/containers/auth.json`: the first
    /// that exists. None of them existing is an empty configuration.
    pub fn load_default(path: Option<&Path>) -> Result<ContainersAuth, Error> {
        if let Some(p) = path {
            return Self::load(p);
        }
        let candidates = [
            std::env::var_os("REGISTRY_AUTH_FILE").map(PathBuf::from),
            std::env::var_os("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("containers/auth.json")),
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/containers/auth.json")),
        ];
        for p in candidates.into_iter().flatten() {
            if p.exists() {
                return Self::load(&p);
            }
        }
        Ok(ContainersAuth::default())
    }

    /// Reads one file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<ContainersAuth, Error> {
        let Some(data) = read_if_present(path)? else {
            return Ok(ContainersAuth::default());
        };
        let mut a = Self::parse(&data, &path.display().to_string())?;
        a.path = Some(path.to_path_buf());
        Ok(a)
    }

    /// Parses auth.json content; `origin` names it in errors.
    pub fn parse(data: &[u8], origin: &str) -> Result<ContainersAuth, Error> {
        let bad = |reason: String| Error::CredentialsFile {
            path: origin.to_string(),
            reason,
        };
        let file: ConfigFile = serde_json::from_slice(data).map_err(|e| bad(e.to_string()))?;
        Ok(ContainersAuth {
            auths: parse_auths(file.auths, &bad)?,
            path: None,
        })
    }

    /// The file this came from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl CredentialSource for ContainersAuth {
    fn credential(&self, registry: &str) -> Option<Credential> {
        self.auths.credential(registry)
    }

    fn lookup(&self, registry: &str, repository: Option<&str>) -> Result<Option<Credential>, Error> {
        let host = normalize_key(registry);
        if let Some(repo) = repository {
            // registry/a/b/c, then registry/a/b, then registry/a.
            let parts: Vec<&str> = repo.split('/').collect();
            for n in (1..=parts.len()).rev() {
                let key = format!("{host}/{}", parts[..n].join("/"));
                if let Some(c) = self.auths.by_registry.get(&key) {
                    return Ok(Some(c.clone()));
                }
            }
        }
        Ok(self.auths.by_registry.get(&host).cloned())
    }
}

/// Sources asked in order; the first that has a credential wins.
///
/// ```
/// use irel::auth::{Credential, CredentialChain, CredentialSource, DockerConfig, StaticCredentials};
/// let mut flags = StaticCredentials::default();
/// flags.insert("r.example", Credential::RegistryToken("from-the-command-line".into()));
/// let json = br#"{"auths":{"r.example":{"auth":"dTpw"},"q.example":{"auth":"dTpw"}}}"#;
/// let file = DockerConfig::parse(json, "config.json").unwrap();
/// let chain = CredentialChain(vec![Box::new(flags), Box::new(file)]);
/// assert_eq!(chain.credential("r.example"), Some(Credential::RegistryToken("from-the-command-line".into())));
/// assert!(matches!(chain.credential("q.example"), Some(Credential::Basic { .. })));
/// ```
#[derive(Default)]
pub struct CredentialChain(pub Vec<Box<dyn CredentialSource>>);

impl std::fmt::Debug for CredentialChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The sources, never what they hold.
        write!(f, "CredentialChain({} sources)", self.0.len())
    }
}

impl CredentialSource for CredentialChain {
    fn credential(&self, registry: &str) -> Option<Credential> {
        self.0.iter().find_map(|s| s.credential(registry))
    }

    fn lookup(&self, registry: &str, repository: Option<&str>) -> Result<Option<Credential>, Error> {
        for source in &self.0 {
            if let Some(c) = source.lookup(registry, repository)? {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }
}

/// Compares config keys the way docker does: scheme and path stripped, Docker Hub's aliases
/// folded into `docker.io`.
pub(crate) fn normalize_key(key: &str) -> String {
    let k = key.trim();
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    let k = k.split('/').next().unwrap_or_default().to_ascii_lowercase();
    match k.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io".into(),
        _ => k,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_field_splits_at_first_colon() {
        // base64("user:pa:ss")
        let cfg = DockerConfig::parse(br#"{"auths":{"localhost:5000":{"auth":"dXNlcjpwYTpzcw=="}}}"#, "t").unwrap();
        assert_eq!(
            cfg.credential("localhost:5000"),
            Some(Credential::Basic {
                username: "user".into(),
                password: "pa:ss".into()
            })
        );
    }

    #[test]
    fn hub_keys_and_schemes_are_normalized() {
        let cfg = DockerConfig::parse(
            br#"{"auths":{"https://index.docker.io/v1/":{"username":"a","password":"b"},"http://reg.example:5000/v2/":{"identitytoken":"tok"}}}"#,
            "t",
        )
        .unwrap();
        assert!(cfg.credential("docker.io").is_some());
        assert!(cfg.credential("registry-1.docker.io").is_some());
        assert_eq!(
            cfg.credential("reg.example:5000"),
            Some(Credential::IdentityToken("tok".into()))
        );
        assert_eq!(cfg.credential("reg.example"), None);
    }

    #[test]
    fn registry_token_and_empty_entries() {
        let cfg =
            DockerConfig::parse(br#"{"auths":{"r.example":{"registrytoken":"rt"},"e.example":{}}}"#, "t").unwrap();
        assert_eq!(
            cfg.credential("r.example"),
            Some(Credential::RegistryToken("rt".into()))
        );
        assert_eq!(cfg.credential("e.example"), None);
    }

    #[test]
    fn bad_files_name_themselves_and_hide_secrets() {
        let e = DockerConfig::parse(br#"{"auths":{"r":{"auth":"bm9jb2xvbg=="}}}"#, "/x/config.json").unwrap_err();
        assert!(e.to_string().contains("/x/config.json"), "{e}");
        let c = Credential::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}

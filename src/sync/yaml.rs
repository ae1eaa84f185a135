//! skopeo sync's YAML source file: registries, each with images (all tags, a list of tags or
//! digests), images selected by tag regex or semver constraint, credentials, TLS verification
//! and a certificate directory. Unknown keys are refused (skopeo ignores them): a misspelt key
//! must not silently change a mirror.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::auth::{Credential, StaticCredentials};
use crate::client::ClientBuilder;
use crate::error::Error;

/// One registry of a source YAML.
///
/// ```
/// let yaml = irel::sync::SourceYaml::parse(r#"
/// registry.example.com:
///   images-by-semver:
///     alpine: ">= 3.12.0"
///   tls-verify: false
/// "#, "sync.yml").unwrap();
/// let registry = &yaml.registries["registry.example.com"];
/// assert_eq!(registry.images_by_semver["alpine"], ">= 3.12.0");
/// assert_eq!((registry.tls_verify, registry.images.len()), (Some(false), 0));
/// ```
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YamlRegistry {
    /// Repository → tags (empty: every tag).
    #[serde(default)]
    pub images: BTreeMap<String, Vec<String>>,
    /// Repository → regex its tags must match somewhere (unanchored, as Go's `MatchString`).
    #[serde(default, rename = "images-by-tag-regex")]
    pub images_by_tag_regex: BTreeMap<String, String>,
    /// Repository → semver constraint its tags must meet (see [`super::SemverConstraint`]).
    #[serde(default, rename = "images-by-semver")]
    pub images_by_semver: BTreeMap<String, String>,
    /// Credentials for this registry.
    #[serde(default)]
    pub credentials: Option<YamlCredentials>,
    /// `false` allows plain http and unverified TLS for this registry; `true` means https with
    /// verification only, even on a loopback host; missing, the command line's
    /// `--src-tls-verify` applies (skopeo 1.21 and later; 1.9 ignored the flag here).
    #[serde(default, rename = "tls-verify")]
    pub tls_verify: Option<bool>,
    /// A directory of `*.crt` CA certificates for this registry.
    #[serde(default, rename = "cert-dir")]
    pub cert_dir: Option<PathBuf>,
}

/// `credentials:` of a registry. `Debug` hides the secrets.
///
/// ```
/// use irel::auth::Credential;
/// let yaml = irel::sync::SourceYaml::parse(r#"
/// registry.example.com:
///   images: {busybox: []}
///   credentials: {username: ci, password: s3cret}
/// "#, "sync.yml").unwrap();
/// let creds = yaml.registries["registry.example.com"].credentials.as_ref().unwrap();
/// assert_eq!(format!("{creds:?}"), "YamlCredentials(ci, <redacted>)");
/// assert!(matches!(creds.credential(), Some(Credential::Basic { username, .. }) if username == "ci"));
/// ```
#[derive(Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YamlCredentials {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: String,
    /// An identity (refresh) token, used instead of the user name and password.
    #[serde(default)]
    pub identitytoken: String,
}

impl std::fmt::Debug for YamlCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "YamlCredentials({}, <redacted>)", self.username)
    }
}

impl YamlCredentials {
    /// The credential these give, if any (skopeo: empty credentials leave the command line's).
    pub fn credential(&self) -> Option<Credential> {
        if !self.identitytoken.is_empty() {
            Some(Credential::IdentityToken(self.identitytoken.clone()))
        } else if !self.username.is_empty() || !self.password.is_empty() {
            Some(Credential::Basic {
                username: self.username.clone(),
                password: self.password.clone(),
            })
        } else {
            None
        }
    }
}

/// What the command line says about sources, for the registries of a source file that do not
/// say it themselves (`--src-tls-verify`, `--src-creds`).
///
/// ```
/// use irel::sync::{SourceDefaults, SourceYaml};
/// let yaml = SourceYaml::parse("lab-registry:5000:\n  images: {busybox: []}\n", "sync.yml").unwrap();
/// let defaults = SourceDefaults { tls_verify: Some(false), credential: None }; // --src-tls-verify=false
/// let (builder, credentials) = yaml.configure(irel::Client::builder(), &defaults).unwrap();
/// let client = builder.credentials(credentials).build().unwrap();
/// # let _ = client;
/// ```
#[derive(Debug, Clone, Default)]
pub struct SourceDefaults {
    /// `--src-tls-verify`: `Some(false)` insecure, `Some(true)` https only, `None` irel's default.
    pub tls_verify: Option<bool>,
    /// `--src-creds` and the like.
    pub credential: Option<Credential>,
}

/// A skopeo sync source file.
///
/// ```
/// let yaml = irel::sync::SourceYaml::parse(r#"
/// registry.example.com:
///   images:
///     busybox: []
///     redis: ["1.0", "2.0"]
///   images-by-tag-regex:
///     nginx: ^1\.13\.[12]-alpine-perl$
///   tls-verify: false
/// "#, "sync.yml").unwrap();
/// assert_eq!(yaml.registries["registry.example.com"].images.len(), 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct SourceYaml {
    /// Registry host → what to sync from it.
    pub registries: BTreeMap<String, YamlRegistry>,
}

impl SourceYaml {
    /// Reads a source file.
    pub fn load(path: &Path) -> Result<SourceYaml, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Layout {
            path: path.display().to_string(),
            reason: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses source YAML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<SourceYaml, Error> {
        let registries = serde_norway::from_str(text).map_err(|e| Error::Layout {
            path: origin.to_string(),
            // The parser quotes what it could not read: a wrong file is not shown whole.
            reason: format!(
                "not a valid sync source file: {}",
                crate::text::cut_long_quotes(&e.to_string(), 60)
            ),
        })?;
        Ok(SourceYaml { registries })
    }

    /// Applies each registry's TLS settings and certificate directory to `builder`, and
    /// returns its credentials. What a registry leaves out, `defaults` (the command line)
    /// gives, as skopeo does: `tls-verify` and credentials; a certificate directory applies to
    /// its own registry only.
    pub fn configure(
        &self,
        mut builder: ClientBuilder,
        defaults: &SourceDefaults,
    ) -> Result<(ClientBuilder, StaticCredentials), Error> {
        let mut creds = StaticCredentials::default();
        for (registry, entry) in &self.registries {
            match entry.tls_verify.or(defaults.tls_verify) {
                Some(false) => builder = builder.insecure_registry(registry),
                Some(true) => builder = builder.secure_registry(registry),
                None => {}
            }
            if let Some(dir) = &entry.cert_dir {
                builder = builder.cert_dir(registry, dir)?;
            }
            let credential = entry.credentials.as_ref().and_then(YamlCredentials::credential);
            if let Some(c) = credential.or_else(|| defaults.credential.clone()) {
                creds.insert(registry, c);
            }
        }
        Ok((builder, creds))
    }
}

/// Trusts every `*.crt` in `dir` (containers' certificate directory convention).
pub fn add_cert_dir(mut builder: ClientBuilder, dir: &Path) -> Result<ClientBuilder, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::Layout {
        path: dir.display().to_string(),
        reason: format!("cannot read the certificate directory: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "crt"))
        .collect();
    files.sort();
    for f in files {
        builder = builder.ca_certificate_file(f)?;
    }
    Ok(builder)
}

//! skopeo sync's YAML source file: registries, each with images (all tags or a list),
//! images selected by tag regex, credentials, TLS verification and a certificate directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::auth::{Credential, StaticCredentials};
use crate::client::ClientBuilder;
use crate::error::Error;

/// One registry of a source YAML.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YamlRegistry {
    /// Repository → tags (empty: every tag).
    #[serde(default)]
    pub images: BTreeMap<String, Vec<String>>,
    /// Repository → regex its tags must match.
    #[serde(default, rename = "images-by-tag-regex")]
    pub images_by_tag_regex: BTreeMap<String, String>,
    /// Credentials for this registry.
    #[serde(default)]
    pub credentials: Option<YamlCredentials>,
    /// `false` allows plain http and unverified TLS for this registry.
    #[serde(default, rename = "tls-verify")]
    pub tls_verify: Option<bool>,
    /// A directory of `*.crt` CA certificates for this registry.
    #[serde(default, rename = "cert-dir")]
    pub cert_dir: Option<PathBuf>,
}

/// `credentials:` of a registry. `Debug` hides the password.
#[derive(Clone, serde::Deserialize)]
pub struct YamlCredentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for YamlCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "YamlCredentials({}, <redacted>)", self.username)
    }
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
            reason: format!("not a valid sync source file: {e}"),
        })?;
        Ok(SourceYaml { registries })
    }

    /// Applies each registry's TLS settings and certificate directory to `builder`, and
    /// returns its credentials.
    pub fn configure(&self, mut builder: ClientBuilder) -> Result<(ClientBuilder, StaticCredentials), Error> {
        let mut creds = StaticCredentials::default();
        for (registry, entry) in &self.registries {
            if entry.tls_verify == Some(false) {
                builder = builder.insecure_registry(registry);
            }
            if let Some(dir) = &entry.cert_dir {
                builder = add_cert_dir(builder, dir)?;
            }
            if let Some(c) = &entry.credentials {
                creds.insert(
                    registry,
                    Credential::Basic {
                        username: c.username.clone(),
                        password: c.password.clone(),
                    },
                );
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

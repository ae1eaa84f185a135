//! `irel login` / `irel logout`: check credentials against a registry, then keep them where
//! docker keeps them (its `config.json`, or the credential helper it names), readable by the
//! owner only.

use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::credentials::{helper_server, normalize_key};
use super::{DockerConfig, Error};

/// docker's `config.json` path: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => Some(PathBuf::from(d).join("config.json")),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json")),
    }
}

/// The `auths` key docker writes for a registry (Docker Hub keeps its historic URL).
fn auths_key(registry: &str) -> String {
    helper_server(registry)
}

/// Whether an `auths` key is the entry of `registry` itself (`host`, `https://host`,
/// `https://host/v1/`), not of a namespace within it (`host/team`).
fn names_registry(key: &str, registry: &str) -> bool {
    let k = key.trim();
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    let path = k.split_once('/').map_or("", |(_, p)| p.trim_matches('/'));
    normalize_key(key) == normalize_key(registry) && (path.is_empty() || path == "v1" || path == "v2")
}

/// Where a login was kept.
///
/// ```
/// use irel::auth::{store_login, CredentialSource, DockerConfig, Stored};
/// let dir = tempfile::tempdir().unwrap();
/// let config = dir.path().join("config.json");
/// match store_login(&config, "registry.example", "ci", "s3cret").unwrap() {
///     Stored::File(path) => assert_eq!(path, config),
///     Stored::Helper(program) => panic!("kept by {program}, though config.json names no helper"),
/// }
/// assert!(DockerConfig::load(&config).unwrap().credential("registry.example").is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// In this config file.
    File(PathBuf),
    /// By this credential helper program.
    Helper(String),
}

/// Saves `username`/`password` for `registry` as docker does: through the helper
/// `config.json` names for it (`credHelpers`, `credsStore`), else base64 in its `auths`. The
/// file is rewritten atomically with mode 0600; its other settings are kept.
pub fn store_login(config: &Path, registry: &str, username: &str, password: &str) -> Result<Stored, Error> {
    let current = DockerConfig::load(config)?;
    if let Some(helper) = current.helper_for(registry) {
        helper.store(&helper_server(registry), username, password)?;
        return Ok(Stored::Helper(helper.program()));
    }
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    edit_config(config, |root| {
        let auths = root
            .as_object_mut()
            .expect("config root is an object")
            .entry("auths")
            .or_insert_with(|| serde_json::json!({}));
        if !auths.is_object() {
            *auths = serde_json::json!({});
        }
        let auths = auths.as_object_mut().expect("an object");
        // One entry per registry, whatever spelling an older entry used.
        auths.retain(|k, _| !names_registry(k, registry));
        auths.insert(auths_key(registry), serde_json::json!({ "auth": auth }));
        true
    })?;
    Ok(Stored::File(config.to_path_buf()))
}

/// Forgets `registry`: erases it from the helper that keeps it, or from `auths`. Returns
/// whether there was anything to forget.
pub fn remove_login(config: &Path, registry: &str) -> Result<bool, Error> {
    let current = DockerConfig::load(config)?;
    if let Some(helper) = current.helper_for(registry) {
        helper.erase(&helper_server(registry))?;
        return Ok(true);
    }
    let mut removed = false;
    edit_config(config, |root| {
        if let Some(auths) = root.get_mut("auths").and_then(|a| a.as_object_mut()) {
            let before = auths.len();
            auths.retain(|k, _| !names_registry(k, registry));
            removed = auths.len() != before;
        }
        removed
    })?;
    Ok(removed)
}

/// Reads `config` (or starts an empty one), lets `change` edit it, and writes it back
/// atomically with mode 0600 when `change` says it changed something.
fn edit_config(config: &Path, change: impl FnOnce(&mut serde_json::Value) -> bool) -> Result<(), Error> {
    let file_error = |reason: String| Error::CredentialsFile {
        path: config.display().to_string(),
        reason,
    };
    let mut root: serde_json::Value = match std::fs::read(config) {
        Ok(data) => serde_json::from_slice(&data).map_err(|e| file_error(e.to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({}),
        Err(e) => return Err(file_error(e.to_string())),
    };
    if !root.is_object() {
        return Err(file_error("it is not a JSON object".into()));
    }
    if !change(&mut root) {
        return Ok(());
    }
    let dir = config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_private_dir(dir).map_err(|e| file_error(format!("cannot create {}: {e}", dir.display())))?;
    let data = serde_json::to_vec_pretty(&root).expect("JSON serializes");
    write_private(config, &data).map_err(|e| file_error(e.to_string()))
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Writes through a temporary file created 0600 (never briefly readable by others) and a
/// rename.
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut f = options.open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

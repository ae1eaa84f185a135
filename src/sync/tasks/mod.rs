//! dregsy configuration files, run as dregsy runs them.
//!
//! A file names a relay (`skopeo` or `docker`: irel is the relay either way), lister defaults
//! and tasks. Each task copies from a `source` registry to a `target` registry along its
//! `mappings` (see [`mapping`] for `from` / `to`, [`tagset`] for `tags`). Everything is
//! validated before anything is copied, with dregsy's messages; fields irel cannot honour
//! (the Docker Hub and index listers, ECR and GCR credential fetching) and unknown keys are
//! refused, naming the field and the task.
//!
//! ```
//! use irel::sync::tasks::SyncConfig;
//! let cfg = SyncConfig::parse(r#"
//! relay: skopeo
//! tasks:
//! - name: mirror
//!   source: {registry: "src.example:5000"}
//!   target: {registry: "dst.example:5000", skip-tls-verify: true}
//!   mappings:
//!   - from: regex:library/.*
//!     to: mirror
//!     tags: ["semver: >=1.0.0", "keep: latest 3"]
//! "#).unwrap();
//! let tasks = cfg.validate().unwrap();
//! assert_eq!(tasks.tasks[0].name, "mirror");
//! assert!(SyncConfig::parse("tasks:\n- name: x\n  intervall: 60\n").is_err());
//! ```

pub mod goregex;
pub mod mapping;
mod run;
pub mod semver;
pub mod tagset;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;

pub use run::{host_platform, Runner, TaskReport, TaskState};

use crate::auth::{Credential, StaticCredentials};
use crate::client::ClientBuilder;
use crate::manifest::Platform;
use mapping::PathMapping;
use tagset::TagSet;

/// dregsy's minimum task interval, in seconds.
pub const MINIMUM_INTERVAL: i64 = 30;
/// How many repositories a catalog listing reads (in pages of 100) before it stops, unless the
/// file says otherwise.
pub const DEFAULT_MAX_ITEMS: i64 = 100;
/// How long a task reuses its repository listing, unless the file says otherwise.
pub const DEFAULT_CACHE_DURATION: Duration = Duration::from_secs(3600);

/// Why a configuration file cannot be run.
///
/// ```
/// use irel::sync::tasks::{ConfigError, SyncConfig};
/// let e = SyncConfig::parse("tasks:\n- name: x\n  intervall: 60\n").unwrap_err();
/// assert!(matches!(e, ConfigError::Parse { .. }), "a misspelt key: {e}");
/// let e = SyncConfig::parse("relay: podman\n").unwrap().validate().unwrap_err();
/// assert_eq!(e, ConfigError::Invalid("invalid relay type: 'podman', must be either 'docker' or 'skopeo'".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("error loading config file '{path}': {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file is not YAML of this shape (an unknown key, a wrong type).
    #[error("error parsing config file '{path}': {reason}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// dregsy would refuse it too; the message is dregsy's (with the task named).
    #[error("{0}")]
    Invalid(String),
    /// dregsy would run it, irel cannot: the field, the task, and what to do.
    #[error("task '{task}': {field}: {reason}")]
    Refused {
        /// The task.
        task: String,
        /// The field, as written in the file (`source.lister.type`).
        field: String,
        /// Why, and what to do.
        reason: String,
    },
}

/// A dregsy configuration file, as written.
///
/// ```no_run
/// # fn demo() -> Result<(), irel::sync::tasks::ConfigError> {
/// use irel::sync::tasks::SyncConfig;
/// let config = SyncConfig::load("/etc/dregsy/config.yaml".as_ref())?;
/// println!("relay {:?}, {} tasks", config.relay, config.tasks.as_ref().map_or(0, Vec::len));
/// let validated = config.validate()?; // nothing is copied before this passes
/// # let _ = validated;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// `skopeo` or `docker` (the default, as in dregsy).
    #[serde(default)]
    pub relay: Option<String>,
    /// The docker relay's settings (`dockerhost`, `api-version`): accepted, not used.
    #[serde(default)]
    pub docker: Option<DockerSection>,
    /// Deprecated top-level `dockerhost` (implies the docker relay).
    #[serde(default)]
    pub dockerhost: Option<String>,
    /// Deprecated top-level `api-version`.
    #[serde(default, rename = "api-version")]
    pub api_version: Option<serde_norway::Value>,
    /// The skopeo relay's settings.
    #[serde(default)]
    pub skopeo: Option<SkopeoSection>,
    /// Repository listing defaults.
    #[serde(default)]
    pub lister: Option<ListerDefaults>,
    /// Restart on config file changes (not done by irel; see [`Validated::notes`]).
    #[serde(default)]
    pub watch: Option<bool>,
    /// The tasks.
    #[serde(default)]
    pub tasks: Option<Vec<Task>>,
}

/// `docker:`.
///
/// ```
/// use irel::sync::tasks::SyncConfig;
/// let cfg = SyncConfig::parse("relay: docker\ndocker:\n  dockerhost: unix:///var/run/docker.sock\n").unwrap();
/// assert_eq!(cfg.docker.as_ref().unwrap().dockerhost.as_deref(), Some("unix:///var/run/docker.sock"));
/// assert_eq!(cfg.validate().unwrap().notes.len(), 1, "accepted, noted as not used");
/// ```
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerSection {
    /// The docker daemon (unused: irel talks to the registries itself).
    #[serde(default)]
    pub dockerhost: Option<String>,
    /// The docker API version (unused).
    #[serde(default, rename = "api-version")]
    pub api_version: Option<serde_norway::Value>,
}

/// `skopeo:`.
///
/// ```
/// use irel::sync::tasks::SyncConfig;
/// let cfg = SyncConfig::parse("relay: skopeo\nskopeo:\n  certs-dir: /etc/mirror/certs.d\n").unwrap();
/// let certs = cfg.skopeo.as_ref().unwrap().certs_dir.as_deref();
/// assert_eq!(certs, Some(std::path::Path::new("/etc/mirror/certs.d")));
/// ```
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkopeoSection {
    /// The skopeo binary (unused: irel is the relay).
    #[serde(default)]
    pub binary: Option<String>,
    /// Per-registry certificates: `certs-dir/HOST` (the host without its port) holds `*.crt`
    /// CA certificates and `*.cert` / `*.key` client certificates. Default
    /// `/etc/skopeo/certs.d`.
    #[serde(default, rename = "certs-dir")]
    pub certs_dir: Option<PathBuf>,
}

/// Top-level `lister:`.
///
/// ```
/// use irel::sync::tasks::SyncConfig;
/// let cfg = SyncConfig::parse("lister:\n  maxItems: -1\n  cacheDuration: 30m\n").unwrap();
/// let lister = cfg.lister.as_ref().unwrap();
/// assert_eq!(lister.max_items, Some(-1), "below 0: no limit");
/// assert!(cfg.validate().is_ok(), "30m reads as a Go duration");
/// ```
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListerDefaults {
    /// Stop listing once more than this many repositories are read (checked after each page
    /// of 100; the list is never cut). 0: the default (100); below 0: no limit.
    #[serde(default, rename = "maxItems")]
    pub max_items: Option<i64>,
    /// How long a listing is reused: a Go duration (`30m`, `1h`) or nanoseconds; 0: the
    /// default (1h); below 0: not reused.
    #[serde(default, rename = "cacheDuration")]
    pub cache_duration: Option<serde_norway::Value>,
}

/// One task, as written.
///
/// ```
/// use irel::sync::tasks::SyncConfig;
/// let cfg = SyncConfig::parse(r#"
/// tasks:
/// - name: nightly
///   interval: 3600
///   source: {registry: src.example}
///   target: {registry: dst.example}
///   mappings: [{from: library/busybox}]
/// "#).unwrap();
/// let task = &cfg.tasks.as_ref().unwrap()[0];
/// assert_eq!((task.name.as_deref(), task.interval), (Some("nightly"), Some(3600)));
/// ```
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Required.
    #[serde(default)]
    pub name: Option<String>,
    /// Seconds between runs; 0 or absent: run once.
    #[serde(default)]
    pub interval: Option<i64>,
    /// dregsy shows its relay's output at debug level; no effect here.
    #[serde(default)]
    pub verbose: Option<bool>,
    /// Where images come from.
    #[serde(default)]
    pub source: Option<Location>,
    /// Where they go.
    #[serde(default)]
    pub target: Option<Location>,
    /// What to sync.
    #[serde(default)]
    pub mappings: Option<Vec<Mapping>>,
}

/// A task's `source` or `target`.
///
/// ```
/// use irel::sync::tasks::SyncConfig;
/// let cfg = SyncConfig::parse(r#"
/// tasks:
/// - name: t
///   source: {registry: "src.example:5000", skip-tls-verify: true, lister: {type: catalog}}
///   target: {registry: dst.example, auth: eyJ1c2VybmFtZSI6ImNpIiwicGFzc3dvcmQiOiJzM2NyZXQifQ==}
/// "#).unwrap();
/// let tasks = cfg.tasks.unwrap();
/// let (source, target) = (tasks[0].source.as_ref().unwrap(), tasks[0].target.as_ref().unwrap());
/// assert_eq!((source.skip_tls_verify, target.registry.as_deref()), (Some(true), Some("dst.example")));
/// assert!(!format!("{target:?}").contains("eyJ1"), "Debug hides auth");
/// ```
#[derive(Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// `host[:port]`.
    #[serde(default)]
    pub registry: Option<String>,
    /// base64 of `{"username": …, "password": …}`, or `none`.
    #[serde(default)]
    pub auth: Option<String>,
    /// Allow plain http and unverified TLS.
    #[serde(default, rename = "skip-tls-verify")]
    pub skip_tls_verify: Option<bool>,
    /// ECR only: refused elsewhere, as dregsy does.
    #[serde(default, rename = "auth-refresh")]
    pub auth_refresh: Option<serde_norway::Value>,
    /// `{type: catalog}` (`dockerhub` and `index` are refused).
    #[serde(default)]
    pub lister: Option<BTreeMap<String, serde_norway::Value>>,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Location")
            .field("registry", &self.registry)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .field("skip_tls_verify", &self.skip_tls_verify)
            .field("lister", &self.lister)
            .finish()
    }
}

/// One mapping, as written.
///
/// ```
/// use irel::sync::tasks::SyncConfig;
/// let cfg = SyncConfig::parse(r#"
/// tasks:
/// - name: t
///   mappings:
///   - {from: library/busybox, to: base/busybox, tags: ["1.36", latest], platform: linux/arm64}
/// "#).unwrap();
/// let tasks = cfg.tasks.unwrap();
/// let m = &tasks[0].mappings.as_ref().unwrap()[0];
/// assert_eq!((m.to.as_deref(), m.platform.as_deref()), (Some("base/busybox"), Some("linux/arm64")));
/// ```
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// A repository path, or `regex:EXPR` over the listed repositories.
    #[serde(default)]
    pub from: Option<String>,
    /// Empty, a path, or `regex:EXPR,REPLACEMENT`.
    #[serde(default)]
    pub to: Option<String>,
    /// Tag set entries; absent: every tag.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// `os/arch[/variant]`, `all`, or absent (this machine's platform).
    #[serde(default)]
    pub platform: Option<String>,
}

/// Which relay the file names (irel does the work either way).
///
/// ```
/// use irel::sync::tasks::{Relay, SyncConfig};
/// let yaml = r#"
/// tasks:
/// - name: t
///   source: {registry: src.example}
///   target: {registry: dst.example}
///   mappings: [{from: library/busybox}]
/// "#;
/// let validated = SyncConfig::parse(yaml).unwrap().validate().unwrap();
/// assert_eq!(validated.tasks[0].relay, Relay::Docker, "dregsy's default");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relay {
    /// `relay: skopeo`.
    Skopeo,
    /// `relay: docker` or none: digest-only tags are pushed as `dregsy-<hex>`, and
    /// `platform: all` is refused, as dregsy's docker relay does.
    Docker,
}

/// Which images of a multi-platform source a mapping copies.
///
/// ```
/// use irel::sync::tasks::{PlatformChoice, SyncConfig};
/// let yaml = r#"
/// relay: skopeo
/// tasks:
/// - name: t
///   source: {registry: src.example}
///   target: {registry: dst.example}
///   mappings: [{from: app, platform: linux/arm64/v8}, {from: db, platform: all}, {from: cache}]
/// "#;
/// let validated = SyncConfig::parse(yaml).unwrap().validate().unwrap();
/// let choices: Vec<_> = validated.tasks[0].mappings.iter().map(|m| &m.platform).collect();
/// assert!(matches!(choices[0], PlatformChoice::One(p) if p.variant.as_deref() == Some("v8")));
/// assert_eq!((choices[1], choices[2]), (&PlatformChoice::All, &PlatformChoice::Host));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformChoice {
    /// This machine's platform (the default, as dregsy's relays do).
    Host,
    /// `platform: all`: the whole index.
    All,
    /// `platform: os/arch[/variant]`.
    One(Platform),
}

/// A validated mapping.
///
/// ```
/// use irel::sync::tasks::SyncConfig;
/// let yaml = r#"
/// tasks:
/// - name: t
///   source: {registry: src.example}
///   target: {registry: dst.example}
///   mappings: [{from: "regex:team/.*", to: mirror, tags: ["regex:1\\..*"]}]
/// "#;
/// let validated = SyncConfig::parse(yaml).unwrap().validate().unwrap();
/// let m = &validated.tasks[0].mappings[0];
/// assert_eq!(m.paths.target_path("/team/app"), "/mirror/team/app");
/// assert_eq!(m.tags.expand(Some(&["1.2".into(), "2.0".into()])), ["1.2"]);
/// ```
#[derive(Debug, Clone)]
pub struct ValidMapping {
    /// `from` and `to`.
    pub paths: PathMapping,
    /// `tags`.
    pub tags: TagSet,
    /// `platform`.
    pub platform: PlatformChoice,
}

/// A validated location.
///
/// ```
/// use irel::{auth::Credential, sync::tasks::SyncConfig};
/// let yaml = r#"
/// tasks:
/// - name: t
///   source: {registry: "lab:5000", skip-tls-verify: true}
///   target: {registry: dst.example, auth: eyJ1c2VybmFtZSI6ImNpIiwicGFzc3dvcmQiOiJzM2NyZXQifQ==}
///   mappings: [{from: app}]
/// "#;
/// let validated = SyncConfig::parse(yaml).unwrap().validate().unwrap();
/// let (source, target) = (&validated.tasks[0].source, &validated.tasks[0].target);
/// assert!(source.skip_tls_verify && source.credential.is_none());
/// assert!(matches!(&target.credential, Some(Credential::Basic { username, .. }) if username == "ci"));
/// ```
#[derive(Clone)]
pub struct ValidLocation {
    /// `host[:port]`, as written.
    pub registry: String,
    /// Decoded `auth`, if any (not `none`).
    pub credential: Option<Credential>,
    /// `skip-tls-verify`.
    pub skip_tls_verify: bool,
}

impl std::fmt::Debug for ValidLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidLocation")
            .field("registry", &self.registry)
            .field("credential", &self.credential.as_ref().map(|_| "<redacted>"))
            .field("skip_tls_verify", &self.skip_tls_verify)
            .finish()
    }
}

/// A validated task.
///
/// ```
/// use irel::sync::tasks::SyncConfig;
/// let yaml = r#"
/// tasks:
/// - name: mirror
///   interval: 3600
///   source: {registry: "lab:5000", skip-tls-verify: true}
///   target: {registry: dst.example}
///   mappings: [{from: app}]
/// "#;
/// let validated = SyncConfig::parse(yaml).unwrap().validate().unwrap();
/// let task = &validated.tasks[0];
/// let source = task.source_client(irel::Client::builder()).unwrap().build().unwrap();
/// let target = task.target_client(irel::Client::builder()).unwrap().build().unwrap();
/// assert_eq!((task.name.as_str(), task.interval), ("mirror", 3600));
/// # let _ = (source, target);
/// ```
#[derive(Debug, Clone)]
pub struct ValidTask {
    /// `name`.
    pub name: String,
    /// Seconds between runs; 0: once.
    pub interval: u64,
    /// `source`.
    pub source: ValidLocation,
    /// `target`.
    pub target: ValidLocation,
    /// `mappings`, in order.
    pub mappings: Vec<ValidMapping>,
    /// The relay the file names.
    pub relay: Relay,
    /// The skopeo relay's certificate directory (`certs-dir`, default `/etc/skopeo/certs.d`).
    pub certs_dir: Option<PathBuf>,
    /// Stop listing repositories past this many (soft); `None`: no limit.
    pub max_items: Option<usize>,
    /// Reuse a listing this long; `None`: never.
    pub cache_duration: Option<Duration>,
}

/// A configuration that passed validation.
///
/// ```
/// use irel::sync::tasks::SyncConfig;
/// let config = SyncConfig::parse("relay: skopeo\nskopeo: {binary: /usr/bin/skopeo}\n").unwrap();
/// let validated = config.validate().unwrap();
/// assert!(validated.tasks.is_empty());
/// assert_eq!(validated.notes, ["skopeo.binary (/usr/bin/skopeo) is not used: irel is the relay"]);
/// ```
#[derive(Debug, Clone)]
pub struct Validated {
    /// The tasks, in file order.
    pub tasks: Vec<ValidTask>,
    /// Things accepted but not acted on (`skopeo.binary`, `docker:`, `verbose`).
    pub notes: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(msg.into())
}

fn refused(task: &str, field: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Refused {
        task: task.to_string(),
        field: field.to_string(),
        reason: reason.into(),
    }
}

impl SyncConfig {
    /// Reads and parses a configuration file (not yet validated).
    pub fn load(path: &Path) -> Result<SyncConfig, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Self::parse(&text).map_err(|e| match e {
            ConfigError::Parse { reason, .. } => ConfigError::Parse { path: shown, reason },
            other => other,
        })
    }

    /// Parses a configuration. Unknown keys are refused.
    pub fn parse(text: &str) -> Result<SyncConfig, ConfigError> {
        // An empty file is an empty configuration, as in dregsy.
        if text.trim().is_empty() {
            return Ok(SyncConfig::default());
        }
        serde_norway::from_str(text).map_err(|e| ConfigError::Parse {
            path: "<text>".into(),
            // The parser quotes what it could not read: a wrong file is not shown whole.
            reason: crate::text::cut_long_quotes(&e.to_string(), 60),
        })
    }

    /// Validates as dregsy does (its order and messages), then refuses what irel cannot do.
    pub fn validate(&self) -> Result<Validated, ConfigError> {
        let mut notes = Vec::new();
        let relay = match self.relay.as_deref().unwrap_or("") {
            "" | "docker" => Relay::Docker,
            "skopeo" => {
                if self.dockerhost.as_deref().is_some_and(|h| !h.is_empty()) {
                    return Err(invalid(
                        "setting 'dockerhost' implies 'docker' relay, but relay is set to 'skopeo'",
                    ));
                }
                Relay::Skopeo
            }
            other => {
                return Err(invalid(format!(
                    "invalid relay type: '{other}', must be either 'docker' or 'skopeo'"
                )))
            }
        };
        if relay == Relay::Docker && (self.docker.is_some() || self.dockerhost.is_some()) {
            notes.push(
                "docker relay settings (dockerhost, api-version) are not used: irel talks to the registries itself"
                    .into(),
            );
        }
        if let Some(binary) = self.skopeo.as_ref().and_then(|s| s.binary.as_deref()) {
            notes.push(format!("skopeo.binary ({binary}) is not used: irel is the relay"));
        }
        if self.watch == Some(true) {
            // Refused, not ignored: a mirror that seems to follow its file and does not would
            // surprise later.
            return Err(invalid(
                "watch: true: irel does not re-read the configuration file when it changes; drop `watch` and restart irel after a change",
            ));
        }
        let (max_items, cache_duration) = self.lister_defaults()?;
        let certs_dir = (relay == Relay::Skopeo).then(|| {
            self.skopeo
                .as_ref()
                .and_then(|s| s.certs_dir.clone())
                .unwrap_or_else(|| PathBuf::from("/etc/skopeo/certs.d"))
        });
        let mut tasks = Vec::new();
        for task in self.tasks.iter().flatten() {
            let mut valid = task.validate(relay)?;
            valid.certs_dir = certs_dir.clone();
            valid.max_items = max_items;
            valid.cache_duration = cache_duration;
            if task.verbose == Some(true) {
                notes.push(format!(
                    "task '{}': verbose: irel reports every image either way",
                    valid.name
                ));
            }
            tasks.push(valid);
        }
        // dregsy's docker relay refuses this when it is created, still before anything runs.
        if relay == Relay::Docker
            && tasks
                .iter()
                .any(|t| t.mappings.iter().any(|m| m.platform == PlatformChoice::All))
        {
            return Err(invalid("relay 'docker' does not support mappings with 'platform: all'"));
        }
        Ok(Validated { tasks, notes })
    }

    fn lister_defaults(&self) -> Result<(Option<usize>, Option<Duration>), ConfigError> {
        let l = self.lister.clone().unwrap_or_default();
        let max_items = match l.max_items.unwrap_or(0) {
            0 => Some(DEFAULT_MAX_ITEMS as usize),
            n if n < 0 => None,
            n => Some(n as usize),
        };
        let nanos = match &l.cache_duration {
            None => 0,
            Some(v) => go_duration_nanos(v).ok_or_else(|| {
                invalid(format!(
                    "lister.cacheDuration: {} is not a duration such as 30m or 1h",
                    shown_value(v)
                ))
            })?,
        };
        let cache = match nanos {
            0 => Some(DEFAULT_CACHE_DURATION),
            n if n < 0 => None,
            n => Some(Duration::from_nanos(n as u64)),
        };
        Ok((max_items, cache))
    }
}

fn shown_value(v: &serde_norway::Value) -> String {
    serde_norway::to_string(v)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A YAML duration as Go's yaml.v2 reads a `time.Duration`: an integer is nanoseconds, a
/// string is `time.ParseDuration` (`1h30m`, `-1s`, `1.5h`, `300ms`, `0`).
fn go_duration_nanos(v: &serde_norway::Value) -> Option<i128> {
    use serde_norway::Value;
    match v {
        Value::Number(n) => n.as_i64().map(i128::from),
        Value::String(s) => parse_go_duration(s),
        _ => None,
    }
}

fn parse_go_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += value * unit;
        rest = &rest[unit_end..];
    }
    let n = total as i128;
    Some(if neg { -n } else { n })
}

impl Task {
    fn validate(&self, relay: Relay) -> Result<ValidTask, ConfigError> {
        let name = self.name.clone().unwrap_or_default();
        if name.is_empty() {
            return Err(invalid("a task requires a name"));
        }
        let interval = self.interval.unwrap_or(0);
        if 0 < interval && interval < MINIMUM_INTERVAL {
            return Err(invalid(format!(
                "task '{name}': minimum task interval is {MINIMUM_INTERVAL} seconds"
            )));
        }
        if interval < 0 {
            return Err(invalid(format!(
                "task '{name}': task interval needs to be 0 or a positive integer"
            )));
        }
        let source = validate_location(self.source.as_ref())
            .map_err(|e| invalid(format!("source registry in task '{name}' invalid: {e}")))?;
        let target = validate_location(self.target.as_ref())
            .map_err(|e| invalid(format!("target registry in task '{name}' invalid: {e}")))?;
        let mut mappings = Vec::new();
        for (i, m) in self.mappings.iter().flatten().enumerate() {
            let at = |e: String| invalid(format!("task '{name}', mapping {}: {e}", i + 1));
            let paths = PathMapping::new(m.from.as_deref(), m.to.as_deref()).map_err(|e| at(e.to_string()))?;
            let tags = TagSet::parse(m.tags.as_deref().unwrap_or_default())
                .map_err(|e| at(format!("'tags' uses invalid format: {e}")))?;
            let platform = match m.platform.as_deref().unwrap_or("") {
                "" => PlatformChoice::Host,
                "all" => PlatformChoice::All,
                p => PlatformChoice::One(
                    p.parse()
                        .map_err(|e: String| refused(&name, &format!("mappings[{}].platform", i + 1), e))?,
                ),
            };
            mappings.push(ValidMapping { paths, tags, platform });
        }
        let lister = self.source.as_ref().and_then(|s| s.lister.as_ref());
        let lister_type = lister.and_then(|l| l.get("type")).map(shown_value);
        if mappings.iter().any(|m| m.paths.needs_listing()) {
            let server = source.registry.split(':').next().unwrap_or_default();
            let t = lister_type.as_deref().unwrap_or("");
            if server == "registry.hub.docker.com" && t != "dockerhub" && t != "index" {
                return Err(invalid(format!(
                    "cannot create repo list for task '{name}': DockerHub only supports list types 'dockerhub' and 'index'"
                )));
            }
            if t == "index" && lister.and_then(|l| l.get("search")).is_none() {
                return Err(invalid(format!(
                    "cannot create repo list for task '{name}': index lister requires a search expression"
                )));
            }
        }
        if let Some(t @ ("dockerhub" | "index")) = lister_type.as_deref() {
            return Err(refused(
                &name,
                "source.lister.type",
                format!("the '{t}' lister is not supported: irel lists repositories with the registry's catalog only (type: catalog)"),
            ));
        }
        for (side, loc) in [("source", &self.source), ("target", &self.target)] {
            refuse_cloud_specifics(&name, side, loc.as_ref().expect("validated above"))?;
        }
        Ok(ValidTask {
            name,
            interval: interval as u64,
            source,
            target,
            mappings,
            relay,
            certs_dir: None,
            max_items: None,
            cache_duration: None,
        })
    }
}

/// dregsy's location checks, in its order and words.
fn validate_location(loc: Option<&Location>) -> Result<ValidLocation, String> {
    let loc = loc.ok_or("location is nil")?;
    let registry = loc
        .registry
        .clone()
        .filter(|r| !r.is_empty())
        .ok_or("registry not set")?;
    if let Some(l) = &loc.lister {
        match l.get("type").map(shown_value) {
            None => return Err("no lister type set".into()),
            Some(t) if !["catalog", "dockerhub", "index"].contains(&t.as_str()) => {
                return Err(format!("invalid lister type: {t}"))
            }
            Some(_) => {}
        }
        if let Some(key) = l.keys().find(|k| !["type", "search"].contains(&k.as_str())) {
            return Err(format!("unknown lister setting '{key}' (dregsy knows type and search)"));
        }
    }
    let credential = match loc.auth.as_deref() {
        None | Some("") | Some("none") => None,
        Some(a) => Some(decode_auth(a)?),
    };
    if loc.auth_refresh.is_some() && !is_ecr(&registry) {
        return Err(format!(
            "'{registry}' wants authentication refresh, but is not an ECR registry"
        ));
    }
    Ok(ValidLocation {
        registry,
        credential,
        skip_tls_verify: loc.skip_tls_verify.unwrap_or(false),
    })
}

/// ECR and GCR/GAR: dregsy fetches credentials from AWS or Google itself; irel does not.
fn refuse_cloud_specifics(task: &str, side: &str, loc: &Location) -> Result<(), ConfigError> {
    let registry = loc.registry.as_deref().unwrap_or_default();
    let no_auth = matches!(loc.auth.as_deref(), None | Some(""));
    if is_ecr(registry) && !(registry.ends_with("public.ecr.aws") && loc.auth.as_deref() == Some("none")) {
        return Err(refused(
            task,
            &format!("{side}.registry"),
            format!("'{registry}' is an ECR registry: dregsy fetches its credentials from AWS, irel does not; mirror it with a registry token in 'auth' from another tool, or (public ECR) auth: none"),
        ));
    }
    let host = registry.split(':').next().unwrap_or_default();
    let gcp = host == "gcr.io" || host.ends_with(".gcr.io") || host.ends_with("-docker.pkg.dev");
    if gcp && no_auth {
        return Err(refused(
            task,
            &format!("{side}.auth"),
            format!("'{registry}' is GCR/Artifact Registry: without 'auth' dregsy fetches Google credentials itself, irel does not; give 'auth', or auth: none to go anonymously"),
        ));
    }
    Ok(())
}

/// dregsy's ECR detection: `ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn]` or public ECR.
fn is_ecr(registry: &str) -> bool {
    let host = registry.rsplit('@').next().unwrap_or(registry);
    let host = host.split(':').next().unwrap_or_default();
    if host == "public.ecr.aws" {
        return true;
    }
    let parts: Vec<&str> = host.split('.').collect();
    matches!(
        parts.as_slice(),
        [_, "dkr", "ecr", _, "amazonaws", "com"] | [_, "dkr", "ecr", _, "amazonaws", "com", "cn"]
    )
}

/// `auth`: base64 (standard alphabet) of `{"username": …, "password": …}`. dregsy also takes
/// base64 of `user:password` but its relays then copy anonymously; irel refuses it.
fn decode_auth(auth: &str) -> Result<Credential, String> {
    #[derive(serde::Deserialize)]
    struct Auth {
        #[serde(default)]
        username: String,
        #[serde(default)]
        password: String,
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|e| format!("invalid Auth: {e}"))?;
    match serde_json::from_slice::<Auth>(&bytes) {
        Ok(a) => Ok(Credential::Basic {
            username: a.username,
            password: a.password,
        }),
        Err(_) => Err("invalid Auth: not base64 of {\"username\": …, \"password\": …} (dregsy takes base64 of user:password too, but then copies anonymously); encode the JSON form, or write auth: none".into()),
    }
}

impl ValidTask {
    /// Adds what the source side needs to `builder`: plain http / unverified TLS, the skopeo
    /// relay's certificate directory for the host, and its `auth`.
    pub fn source_client(&self, builder: ClientBuilder) -> Result<ClientBuilder, crate::Error> {
        self.side_client(&self.source, builder)
    }

    /// The same for the target side.
    pub fn target_client(&self, builder: ClientBuilder) -> Result<ClientBuilder, crate::Error> {
        self.side_client(&self.target, builder)
    }

    fn side_client(&self, loc: &ValidLocation, mut builder: ClientBuilder) -> Result<ClientBuilder, crate::Error> {
        if loc.skip_tls_verify {
            builder = builder.insecure_registry(&loc.registry);
        }
        if let Some(base) = &self.certs_dir {
            let host = loc.registry.split(':').next().unwrap_or_default();
            let dir = base.join(host);
            if !host.is_empty() && dir.is_dir() {
                builder = builder.cert_dir(&loc.registry, &dir)?;
            }
        }
        if let Some(c) = &loc.credential {
            let mut creds = StaticCredentials::default();
            creds.insert(&loc.registry, c.clone());
            builder = builder.credentials(creds);
        }
        Ok(builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> Result<Validated, ConfigError> {
        SyncConfig::parse(yaml)?.validate()
    }

    /// `internal/pkg/sync/config_test.go` (xelalexv/dregsy@e92e79a) over its fixtures
    /// `test/fixtures/config/*.yaml`, verbatim; the assertion is substring containment.
    #[test]
    fn dregsy_config_fixtures() {
        let valid_skopeo = "relay: skopeo\nlister:\n  maxItems: 50\n  cacheDuration: 30m\ntasks:\n- name: test-skopeo\n  interval: 30\n  verbose: true\n  source:\n    registry: registry.hub.docker.com\n  target:\n    registry: 127.0.0.1:5000\n    auth: eyJ1c2VybmFtZSI6ICJhbm9ueW1vdXMiLCAicGFzc3dvcmQiOiAiYW5vbnltb3VzIn0K\n    skip-tls-verify: true\n  mappings:\n  - from: library/busybox\n    to: skopeo/library/busybox\n    tags: ['1.29.2', '1.29.3', 'latest']\n    platform: linux/arm/v6\n";
        let v = check(valid_skopeo).unwrap();
        assert_eq!(v.tasks[0].relay, Relay::Skopeo);
        assert_eq!(v.tasks[0].max_items, Some(50));
        assert_eq!(v.tasks[0].cache_duration, Some(Duration::from_secs(1800)));
        assert_eq!(v.tasks[0].interval, 30);
        let valid_docker = "relay: docker\ndocker:\n  dockerhost: unix:///var/run/docker.sock\n  api-version: 1.24\nlister:\n  maxItems: 50\n  cacheDuration: 30m\ntasks:\n- name: test-docker\n  interval: 30\n  verbose: true\n  source:\n    registry: registry.hub.docker.com\n  target:\n    registry: 127.0.0.1:5000\n    auth: eyJ1c2VybmFtZSI6ICJhbm9ueW1vdXMiLCAicGFzc3dvcmQiOiAiYW5vbnltb3VzIn0K\n    skip-tls-verify: true\n  mappings:\n  - from: library/busybox\n    to: docker/library/busybox\n    tags: ['1.29.2', '1.29.3', 'latest']\n";
        let v = check(valid_docker).unwrap();
        assert_eq!(v.tasks[0].relay, Relay::Docker);
        assert!(v.notes.iter().any(|n| n.contains("docker relay settings")));
        let cases = [
            ("relay: splunge\n", "invalid relay type"),
            (
                "relay: skopeo\ndockerhost: unix:///var/run/docker.sock\napi-version: 1.24\n",
                "setting 'dockerhost' implies 'docker' relay",
            ),
            ("relay: skopeo\ntasks:\n- interval: 60\n", "a task requires a name"),
            ("relay: skopeo\ntasks:\n- name: test\n  interval: 1\n", "minimum task interval is 30 seconds"),
            (
                "relay: skopeo\ntasks:\n- name: test\n  interval: -10\n",
                "task interval needs to be 0 or a positive integer",
            ),
            (
                "relay: skopeo\ntasks:\n- name: test\n  interval: 60\n  source:\n",
                "source registry in task 'test' invalid: location is nil",
            ),
            (
                "relay: skopeo\ntasks:\n- name: test\n  interval: 60\n  source:\n    registry: registry.hub.docker.com\n",
                "target registry in task 'test' invalid: location is nil",
            ),
            (
                "relay: skopeo\ntasks:\n- name: test\n  interval: 60\n  source:\n    registry:\n",
                "source registry in task 'test' invalid: registry not set",
            ),
            (
                "relay: skopeo\ntasks:\n- name: test\n  interval: 60\n  source:\n    registry: registry.hub.docker.com\n    auth-refresh: 10h\n",
                "is not an ECR registry",
            ),
            (
                "relay: skopeo\ntasks:\n- name: test\n  interval: 60\n  source:\n    registry: registry.hub.docker.com\n  target:\n    registry: localhost:5000\n  mappings:\n  - from:\n",
                "mapping without 'From' path",
            ),
            // sync_test.go: the docker relay refuses platform: all.
            (
                "relay: docker\ndocker:\n  dockerhost: unix:///var/run/docker.sock\ntasks:\n- name: test-platform-all\n  interval: 30\n  verbose: true\n  source:\n    registry: registry.hub.docker.com\n  target:\n    registry: 127.0.0.1:5000\n  mappings:\n  - from: library/busybox\n    to: docker/library/busybox\n    tags: ['latest']\n    platform: all\n",
                "relay 'docker' does not support mappings with 'platform: all'",
            ),
        ];
        for (yaml, want) in cases {
            let e = check(yaml).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    /// The spec's derived validation cases (§7.A.15).
    #[test]
    fn derived_validation_errors() {
        let task = |extra: &str| {
            format!("tasks:\n- name: t\n  source: {{registry: a.example{extra}}}\n  target: {{registry: b.example}}\n  mappings:\n  - from: regex:x/.*\n")
        };
        let e = |yaml: &str| check(yaml).unwrap_err().to_string();
        assert!(e(&task(", lister: {}")).contains("no lister type set"));
        assert!(e(&task(", lister: {type: foo}")).contains("invalid lister type: foo"));
        assert!(e(&task(", lister: {type: index}")).contains("index lister requires a search expression"));
        assert!(e(&task(", lister: {type: index, search: x}")).contains("the 'index' lister is not supported"));
        let hub = "tasks:\n- name: t\n  source: {registry: registry.hub.docker.com}\n  target: {registry: b.example}\n  mappings:\n  - from: regex:x/.*\n";
        assert!(e(hub).contains("DockerHub only supports list types 'dockerhub' and 'index'"));
        let m = |m: &str| {
            format!("tasks:\n- name: t\n  source: {{registry: a.example}}\n  target: {{registry: b.example}}\n  mappings:\n  - {m}\n")
        };
        assert!(e(&m("{from: a, to: 'regex:abc'}")).contains("replacement expression missing in 'to'"));
        assert!(e(&m("{from: 'regex:('}")).contains("'from' uses invalid regular expression"));
        assert!(e(&m("{from: a, platform: linux}")).contains("mappings[1].platform"));
        // An empty file, and tasks without mappings, are fine.
        assert!(check("").unwrap().tasks.is_empty());
        assert!(check("tasks:\n- name: t\n  source: {registry: a}\n  target: {registry: b}\n").is_ok());
        // A float-looking tag is read as written.
        let v = check(&m("{from: a, tags: [1.30]}")).unwrap();
        assert_eq!(v.tasks[0].mappings[0].tags.expand(None), ["1.30"]);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("30m"), Some(1_800_000_000_000));
        assert_eq!(parse_go_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("-1s"), Some(-1_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("5x"), None);
    }

    #[test]
    fn auth_forms() {
        let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert!(matches!(
            decode_auth(&enc(r#"{"username":"u","password":"p"}"#)),
            Ok(Credential::Basic { .. })
        ));
        let e = decode_auth(&enc("user:secret")).unwrap_err();
        assert!(e.contains("auth: none") && !e.contains("secret"), "{e}");
        assert!(decode_auth("!!!").unwrap_err().starts_with("invalid Auth"));
    }

    #[test]
    fn ecr_detection() {
        assert!(is_ecr("123456789012.dkr.ecr.eu-central-1.amazonaws.com"));
        assert!(is_ecr("123.dkr.ecr.cn-north-1.amazonaws.com.cn"));
        assert!(is_ecr("public.ecr.aws") && is_ecr("123:eu@public.ecr.aws"));
        assert!(!is_ecr("registry.hub.docker.com") && !is_ecr("127.0.0.1:5000"));
    }

    #[test]
    fn watch_is_refused_and_a_wrong_file_is_not_quoted_whole() {
        let e = check("watch: true\ntasks: []\n").unwrap_err().to_string();
        assert!(e.contains("watch: true"), "{e}");
        assert!(check("watch: false\ntasks: []\n").is_ok());
        let passwd = "root:x:0:0:root:/root:/bin/bash\n".repeat(30);
        let e = SyncConfig::parse(&passwd).unwrap_err().to_string();
        assert!(e.len() < 300, "{e}");
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused() {
        let e = check("tasks:\n- name: t\n  intervall: 60\n").unwrap_err().to_string();
        assert!(e.contains("intervall"), "{e}");
        let e = check("tasks:\n- name: t\n  interval: abc\n").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        let e = check("tasks:\n- name: t\n  source: {registry: a, lister: {type: catalog, maxItems: 5}}\n  target: {registry: b}\n").unwrap_err().to_string();
        assert!(e.contains("maxItems"), "{e}");
    }
}

//! dregsy-style sync tasks: each task names a source and a target registry, lists the source's
//! repositories (`/v2/_catalog`, paginated), and maps them with `from` (a repository, or
//! `regex:EXPR` over the listed ones), `to` (a prefix, or `regex:EXPR,REPLACEMENT` with `$1`
//! groups) and `tags` filters.

use std::path::Path;

use base64::Engine as _;
use regex::Regex;

use super::{Endpoint, SyncPlan, TagFilter, Target};
use crate::auth::{Credential, StaticCredentials};
use crate::client::{Client, ClientBuilder};
use crate::error::Error;
use crate::reference::{ParseError, Reference};

/// A sync configuration file: `tasks:`.
///
/// ```
/// let cfg = irel::sync::tasks::SyncConfig::parse(r#"
/// tasks:
/// - name: mirror
///   source: {registry: "src.example:5000", skip-tls-verify: true}
///   target: {registry: "dst.example:5000"}
///   mappings:
///   - from: regex:library/.*
///     to: mirror
///     tags: ["semver:>=1.0", "keep:latest 3"]
/// "#, "sync.yaml").unwrap();
/// assert_eq!(cfg.tasks[0].mappings[0].to.as_deref(), Some("mirror"));
/// ```
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SyncConfig {
    /// The tasks, run in order.
    pub tasks: Vec<Task>,
}

/// One task.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Task {
    /// A name for messages.
    #[serde(default)]
    pub name: String,
    /// Where images come from.
    pub source: Location,
    /// Where they go.
    pub target: Location,
    /// How the source's repositories are listed.
    #[serde(default)]
    pub lister: Lister,
    /// What to sync.
    pub mappings: Vec<Mapping>,
}

/// A task's source or target registry.
#[derive(Clone, serde::Deserialize)]
pub struct Location {
    /// `host[:port]`, optionally with a namespace path for targets.
    pub registry: String,
    /// base64 of `{"username": …, "password": …}`.
    #[serde(default)]
    pub auth: Option<String>,
    /// Allow plain http and unverified TLS.
    #[serde(default, rename = "skip-tls-verify")]
    pub skip_tls_verify: bool,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Location")
            .field("registry", &self.registry)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .field("skip_tls_verify", &self.skip_tls_verify)
            .finish()
    }
}

/// How repositories are listed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Lister {
    /// Only `catalog` (the default).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// At most this many repositories.
    #[serde(default, rename = "maxItems")]
    pub max_items: Option<usize>,
}

/// One mapping of a task.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Mapping {
    /// A repository, or `regex:EXPR` matched (whole) against the listed repositories.
    pub from: String,
    /// A prefix for the target path, or `regex:EXPR,REPLACEMENT`; empty keeps the path.
    #[serde(default)]
    pub to: Option<String>,
    /// Tag filters; default every tag.
    #[serde(default)]
    pub tags: Vec<String>,
}

fn bad(input: &str, reason: impl Into<String>) -> Error {
    Error::Reference(ParseError {
        input: input.to_string(),
        reason: reason.into(),
    })
}

impl SyncConfig {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<SyncConfig, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Layout {
            path: path.display().to_string(),
            reason: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses a configuration; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<SyncConfig, Error> {
        let cfg: SyncConfig = serde_norway::from_str(text).map_err(|e| Error::Layout {
            path: origin.to_string(),
            reason: format!("not a valid sync configuration: {e}"),
        })?;
        for task in &cfg.tasks {
            if let Some(kind) = task.lister.kind.as_deref().filter(|k| *k != "catalog") {
                return Err(bad(
                    kind,
                    format!("task {:?}: the only lister type is catalog", task.name),
                ));
            }
        }
        Ok(cfg)
    }

    /// Applies every task's TLS settings to `builder`, and returns their credentials.
    pub fn configure(&self, mut builder: ClientBuilder) -> Result<(ClientBuilder, StaticCredentials), Error> {
        let mut creds = StaticCredentials::default();
        for task in &self.tasks {
            for loc in [&task.source, &task.target] {
                let host = loc.registry.split('/').next().unwrap_or_default();
                if loc.skip_tls_verify {
                    builder = builder.insecure_registry(host);
                }
                if let Some(auth) = &loc.auth {
                    creds.insert(host, decode_auth(auth)?);
                }
            }
        }
        Ok((builder, creds))
    }

    /// Plans every task.
    pub async fn plan(&self, client: &Client) -> Result<SyncPlan, Error> {
        let mut plan = SyncPlan::default();
        for task in &self.tasks {
            let target = Target::new(Endpoint::Registry(task.target.registry.clone()))?;
            let mut listed: Option<Vec<String>> = None;
            for mapping in &task.mappings {
                let filter = TagFilter::parse(&mapping.tags)?;
                let repos = match mapping.from.strip_prefix("regex:") {
                    Some(expr) => {
                        let re = Regex::new(&format!("^(?:{expr})$"))
                            .map_err(|e| bad(&mapping.from, format!("bad regex: {e}")))?;
                        if listed.is_none() {
                            listed = Some(client.catalog(&task.source.registry, task.lister.max_items).await?);
                        }
                        let all = listed.as_deref().unwrap_or_default();
                        all.iter().filter(|r| re.is_match(r)).cloned().collect()
                    }
                    None => vec![mapping.from.clone()],
                };
                let rewrite = Rewrite::parse(mapping.to.as_deref())?;
                for repo in repos {
                    let source: Reference = match format!("{}/{repo}", task.source.registry).parse() {
                        Ok(r) => r,
                        Err(e) => {
                            plan.skip_invalid(format!(
                                "{}: skipping repository {}: {}",
                                task.source.registry,
                                super::shown_name(&repo),
                                e.reason
                            ));
                            continue;
                        }
                    };
                    let target_path = rewrite.apply(&repo);
                    let literal: Vec<String> = filter.literal_only().map(<[String]>::to_vec).unwrap_or_default();
                    plan.add_registry_repo(client, &source, &literal, Some(&filter), &target, &target_path)
                        .await?;
                }
            }
        }
        Ok(plan)
    }
}

/// A mapping's `to`.
enum Rewrite {
    Keep,
    Prefix(String),
    Regex(Regex, String),
}

impl Rewrite {
    fn parse(to: Option<&str>) -> Result<Rewrite, Error> {
        let Some(to) = to.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(Rewrite::Keep);
        };
        match to.strip_prefix("regex:") {
            Some(rest) => {
                let (expr, replacement) = rest
                    .split_once(',')
                    .ok_or_else(|| bad(to, "write regex:EXPR,REPLACEMENT"))?;
                let re = Regex::new(expr).map_err(|e| bad(to, format!("bad regex: {e}")))?;
                Ok(Rewrite::Regex(re, replacement.to_string()))
            }
            None => Ok(Rewrite::Prefix(to.trim_matches('/').to_string())),
        }
    }

    fn apply(&self, repo: &str) -> String {
        match self {
            Rewrite::Keep => repo.to_string(),
            Rewrite::Prefix(p) => format!("{p}/{repo}"),
            Rewrite::Regex(re, replacement) => re.replace_all(repo, replacement.as_str()).into_owned(),
        }
    }
}

/// dregsy's `auth`: base64 of a JSON object with username and password.
fn decode_auth(auth: &str) -> Result<Credential, Error> {
    #[derive(serde::Deserialize)]
    struct Auth {
        username: String,
        password: String,
    }
    let refuse = || bad("auth", "must be base64 of {\"username\": …, \"password\": …}");
    let json = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(auth.trim()))
        .map_err(|_| refuse())?;
    let a: Auth = serde_json::from_slice(&json).map_err(|_| refuse())?;
    Ok(Credential::Basic {
        username: a.username,
        password: a.password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites() {
        assert_eq!(Rewrite::parse(None).unwrap().apply("a/b"), "a/b");
        assert_eq!(Rewrite::parse(Some("mirror/")).unwrap().apply("a/b"), "mirror/a/b");
        let r = Rewrite::parse(Some("regex:^library/(.*)$,hub/$1")).unwrap();
        assert_eq!(r.apply("library/busybox"), "hub/busybox");
        assert!(Rewrite::parse(Some("regex:nocomma")).is_err());
    }

    #[test]
    fn auth_is_base64_json_and_errors_hide_it() {
        let enc = base64::engine::general_purpose::STANDARD.encode(r#"{"username":"u","password":"p"}"#);
        assert!(matches!(decode_auth(&enc), Ok(Credential::Basic { .. })));
        let e = decode_auth("c2VjcmV0").unwrap_err().to_string();
        assert!(!e.contains("c2VjcmV0"), "{e}");
    }

    #[test]
    fn other_listers_are_refused() {
        let e = SyncConfig::parse(
            "tasks:\n- source: {registry: a}\n  target: {registry: b}\n  lister: {type: index}\n  mappings: []\n",
            "t",
        )
        .unwrap_err();
        assert!(e.to_string().contains("catalog"), "{e}");
    }
}

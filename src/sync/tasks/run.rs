//! Running one validated task, as dregsy runs it: mapping after mapping; for each mapping the
//! source repositories (listed, for a regex `from`), for each of those its tag set expanded
//! and copied. A failure (a listing, a tag, an image) is recorded and the rest goes on.

use std::time::Instant;

use super::tagset::Verbatim;
use super::{PlatformChoice, Relay, ValidMapping, ValidTask};
use crate::auth::Scope;
use crate::copy::{CopyOptions, RegistryRepository};
use crate::error::Error;
use crate::manifest::{Contents, Platform};
use crate::places::registry::Registry;
use crate::reference::Reference;
use crate::sync::{shown_name, ItemOutcome, Place, SyncItem, SyncPlan};

/// What a task keeps from one run to the next: its repository listing, reused for
/// `cacheDuration`.
///
/// ```no_run
/// # async fn demo(task: irel::sync::tasks::ValidTask, runner: irel::sync::tasks::Runner<'_>) {
/// use irel::sync::tasks::TaskState;
/// // Kept from run to run: the repository listing is reused for the lister's cacheDuration.
/// let mut state = TaskState::default();
/// loop {
///     let report = task.run(&runner, &mut state).await;
///     eprintln!("{}: {} images, {} errors", task.name, report.items.len(), report.errors.len());
///     tokio::time::sleep(std::time::Duration::from_secs(task.interval)).await;
/// }
/// # }
/// ```
#[derive(Debug, Default)]
pub struct TaskState {
    listed: Option<(Instant, Vec<String>)>,
}

/// What one run of a task did.
///
/// ```no_run
/// # async fn demo(task: irel::sync::tasks::ValidTask, runner: irel::sync::tasks::Runner<'_>) {
/// let report = task.run(&runner, &mut Default::default()).await;
/// for (from, to, outcome) in &report.items {
///     println!("{from} -> {to}: {outcome:?}");
/// }
/// report.warnings.iter().chain(&report.errors).for_each(|line| eprintln!("{line}"));
/// if report.failed() {
///     eprintln!("task {} failed", task.name);
/// }
/// # }
/// ```
#[derive(Debug, Default)]
pub struct TaskReport {
    /// Every image copied, skipped or failed: from, to, outcome.
    pub items: Vec<(String, String, ItemOutcome)>,
    /// In a dry run, what would be copied: from, to.
    pub planned: Vec<(String, String)>,
    /// Failures before any copy: a listing, a tag that is not valid, a platform not there.
    pub errors: Vec<String>,
    /// Names a registry listed that are not valid repository names or tags: skipped, each
    /// with a warning, so the rest of the mirror goes on (as irel's other syncs do).
    pub warnings: Vec<String>,
}

impl TaskReport {
    /// Whether anything failed.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty() || self.items.iter().any(|(_, _, o)| matches!(o, ItemOutcome::Failed(_)))
    }
}

/// The clients a task uses, and how it copies.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use irel::sync::tasks::{Runner, SyncConfig, TaskState};
/// let validated = SyncConfig::load("dregsy.yaml".as_ref())?.validate()?;
/// for task in &validated.tasks {
///     let source = task.source_client(irel::Client::builder())?.build()?;
///     let target = task.target_client(irel::Client::builder())?.build()?;
///     let options = irel::CopyOptions::default();
///     let (source, target) = (source.registry(), target.registry());
///     let runner = Runner { source, target, jobs: 4, options: &options, dry_run: true };
///     let report = task.run(&runner, &mut TaskState::default()).await;
///     println!("{}: would copy {} images", task.name, report.planned.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Runner<'a> {
    /// For the source registry.
    pub source: &'a Registry,
    /// For the target registry.
    pub target: &'a Registry,
    /// Images copied at once.
    pub jobs: usize,
    /// Copy options.
    pub options: &'a CopyOptions,
    /// Plan only.
    pub dry_run: bool,
}

impl ValidTask {
    /// Runs the task once.
    pub async fn run(&self, runner: &Runner<'_>, state: &mut TaskState) -> TaskReport {
        let mut report = TaskReport::default();
        // One ledger of where blobs went for the whole run: a later mapping mounts what an
        // earlier one uploaded.
        let mut options = runner.options.clone();
        options.shared_blobs = Some(Default::default());
        for (i, mapping) in self.mappings.iter().enumerate() {
            let plan = self.plan_mapping(runner, state, mapping, &mut report, i + 1).await;
            if runner.dry_run {
                report
                    .planned
                    .extend(plan.items.iter().map(|it| (it.from.clone(), it.to.clone())));
                continue;
            }
            let done = crate::sync::sync(runner.target, &plan, runner.jobs, &options).await;
            report.items.extend(done.items);
        }
        report
    }

    async fn plan_mapping(
        &self,
        runner: &Runner<'_>,
        state: &mut TaskState,
        mapping: &ValidMapping,
        report: &mut TaskReport,
        number: usize,
    ) -> SyncPlan {
        let (errors, warnings) = (&mut report.errors, &mut report.warnings);
        let mut plan = SyncPlan::default();
        let at = format!("task '{}', mapping {number}", self.name);
        let listed = if mapping.paths.needs_listing() {
            match self.repositories(runner.source, state).await {
                Ok(l) => l,
                Err(e) => {
                    errors.push(format!(
                        "{at}: listing the repositories of {}: {e}",
                        self.source.registry
                    ));
                    return plan;
                }
            }
        } else {
            Vec::new()
        };
        for path in mapping.paths.source_paths(&listed) {
            let src_text = format!("{}{path}", self.source.registry);
            let tgt_text = format!("{}{}", self.target.registry, mapping.paths.target_path(&path));
            let (src, tgt) = match (src_text.parse::<Reference>(), tgt_text.parse::<Reference>()) {
                (Ok(s), Ok(t)) => (s, t),
                // A listed name is not trusted to be a repository name.
                (Err(e), _) | (_, Err(e)) if mapping.paths.needs_listing() => {
                    warnings.push(format!(
                        "{at}: {}: skipping repository {}: {}",
                        self.source.registry,
                        shown_name(path.trim_start_matches('/')),
                        e.reason
                    ));
                    continue;
                }
                (Err(e), _) | (_, Err(e)) => {
                    errors.push(format!("{at}: {src_text} -> {tgt_text}: {e}"));
                    continue;
                }
            };
            let listed_tags = if mapping.tags.needs_listing() {
                match runner.source.tags(&src.to_repository()).await {
                    Ok(t) => Some(t),
                    Err(e) => {
                        errors.push(format!(
                            "{at}: {src}: failed listing tags during tag set expansion: {e}"
                        ));
                        continue;
                    }
                }
            } else {
                None
            };
            for entry in mapping.tags.expand(listed_tags.as_deref()) {
                let listed = listed_tags.as_ref().is_some_and(|l| l.contains(&entry));
                match self.item(runner, mapping, &src, &tgt, &entry).await {
                    Ok(item) => plan.items.push(item),
                    Err(Error::Reference(e)) if listed => warnings.push(format!(
                        "{at}: {src}: skipping tag {}: {}",
                        shown_name(&entry),
                        e.reason
                    )),
                    Err(e) => errors.push(format!("{at}: {src} {entry:?}: {e}")),
                }
            }
        }
        plan
    }

    /// One tag-set entry of `src` as an image to copy to `tgt`.
    async fn item(
        &self,
        runner: &Runner<'_>,
        mapping: &ValidMapping,
        src: &Reference,
        tgt: &Reference,
        entry: &str,
    ) -> Result<SyncItem, Error> {
        let Verbatim { tag, digest } = Verbatim::split(entry);
        // What the source is asked for: the digest when there is one, else the tag.
        let (named, pulled) = match (&digest, &tag) {
            (Some(d), _) => (d.clone(), src.with_digest(d.parse()?)),
            (None, Some(t)) => (t.clone(), src.with_tag(t)?),
            (None, None) => unreachable!("an entry is a tag or a digest"),
        };
        let (source_ref, resolved) = match &mapping.platform {
            PlatformChoice::All => (named, None),
            choice => {
                let d = resolve_platform(runner.source, &pulled, choice).await?;
                (d.clone(), Some(d))
            }
        };
        let destination_ref = match (&tag, digest, self.relay) {
            (Some(t), _, _) => t.clone(),
            // dregsy's docker relay cannot push by digest: it makes a tag of it.
            (None, Some(d), Relay::Docker) => {
                let hex = d.strip_prefix("sha256:").unwrap_or(&d);
                let mut t = format!("dregsy-{hex}");
                t.truncate(128);
                t
            }
            // Pushed by digest, untagged: the digest of what is copied.
            (None, Some(d), Relay::Skopeo) => resolved.unwrap_or(d),
            (None, None, _) => unreachable!("an entry is a tag or a digest"),
        };
        let pushed = match destination_ref.parse() {
            Ok(d) if destination_ref.starts_with("sha256:") => tgt.with_digest(d),
            _ => tgt.with_tag(&destination_ref)?,
        };
        Ok(SyncItem {
            source: Place::Registry(RegistryRepository::new(runner.source.clone(), &src.to_repository())),
            source_ref: source_ref.parse()?,
            destination: Place::Registry(RegistryRepository::new(runner.target.clone(), &tgt.to_repository())),
            destination_ref: destination_ref.parse()?,
            from: format!("docker://{pulled}"),
            to: format!("docker://{pushed}"),
        })
    }

    /// The source's repositories, from the cache while it is fresh.
    async fn repositories(&self, client: &Registry, state: &mut TaskState) -> Result<Vec<String>, Error> {
        if let (Some((at, list)), Some(keep)) = (&state.listed, self.cache_duration) {
            if at.elapsed() < keep {
                return Ok(list.clone());
            }
        }
        let list = catalog_soft(client, &self.source.registry, self.max_items).await?;
        state.listed = self.cache_duration.map(|_| (Instant::now(), list.clone()));
        Ok(list)
    }
}

/// The catalog as dregsy's lister reads it: pages of 100, stopping after a short page or once
/// more than `max_items` are read; never cut.
async fn catalog_soft(client: &Registry, registry: &str, max_items: Option<usize>) -> Result<Vec<String>, Error> {
    #[derive(serde::Deserialize)]
    struct Page {
        #[serde(default)]
        repositories: Option<Vec<String>>,
    }
    const PAGE: usize = 100;
    let anchor: Reference = format!("{registry}/catalog").parse()?;
    let mut out = Vec::new();
    client
        .paginate(
            &anchor.to_repository(),
            &[Scope::catalog()],
            format!("/v2/_catalog?n={PAGE}"),
            "GET catalog",
            |body| {
                let page: Page = serde_json::from_slice(body).map_err(|e| e.to_string())?;
                let repositories = page.repositories.unwrap_or_default();
                let added = repositories.len();
                out.extend(repositories);
                let more = added >= PAGE && max_items.map_or(true, |n| out.len() <= n);
                Ok((added, more))
            },
        )
        .await?;
    Ok(out)
}

/// This machine's platform, as Go names it.
pub fn host_platform() -> Platform {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        "loongarch64" => "loong64",
        other => other,
    };
    Platform {
        os: std::env::consts::OS.to_string(),
        architecture: arch.to_string(),
        variant: None,
    }
}

/// The digest to copy for `choice`: an index's entry for the platform (an error when it has
/// none), or a single image itself, whatever platform it states (as skopeo copies it).
async fn resolve_platform(client: &Registry, r: &Reference, choice: &PlatformChoice) -> Result<String, Error> {
    let manifest = client.get_manifest(r).await?;
    let Contents::Index { manifests } = &manifest.contents else {
        return Ok(manifest.digest.to_string());
    };
    let wanted = match choice {
        PlatformChoice::One(p) => p.clone(),
        _ => host_platform(),
    };
    let fits = |p: &Platform| {
        p.os == wanted.os
            && p.architecture == wanted.architecture
            && match (&wanted.variant, &p.variant) {
                (None, _) => true,
                (Some(w), Some(v)) => w == v,
                // arm64 without a variant is v8.
                (Some(w), None) => wanted.architecture == "arm64" && w == "v8",
            }
    };
    manifests
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(fits))
        .map(|d| d.digest.to_string())
        .ok_or_else(|| Error::Manifest {
            reference: r.to_string(),
            reason: format!(
                "no image for {wanted} in the index (it has {}); set the mapping's platform, or platform: all",
                manifests
                    .iter()
                    .filter_map(|d| d.platform.as_ref().map(Platform::to_string))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

//! Mirroring: keeping registries and directories in step, for mirrors and air-gapped transfers.
//!
//! A sync is planned first (a list of [`SyncItem`]s: this image here goes there, under that
//! name), then run: every item goes through the copy engine (so present images are skipped,
//! blobs mounted when possible, digests checked, tags written last), several at once. Plans come
//! from skopeo-sync style sources ([`Endpoint`]s, a [`SourceYaml`] file) or from dregsy-style
//! [`tasks`] that pick repositories from a registry's catalog by regex.

mod dir;
mod filter;
pub mod tasks;
mod yaml;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use dir::SkopeoDir;
pub use filter::TagFilter;
pub use yaml::{add_cert_dir, SourceYaml, YamlCredentials, YamlRegistry};

use crate::client::Client;
use crate::copy::{copy_content, ContentSource, CopyOptions, CopyReport, RegistryRepository};
use crate::error::Error;
use crate::layout::{safe_path, OciLayout};
use crate::reference::{Digest, Reference};

/// A place content is synced from or to.
#[derive(Clone)]
pub enum Place {
    /// A registry repository.
    Registry(RegistryRepository),
    /// A skopeo `dir:` image directory.
    Dir(SkopeoDir),
    /// An OCI image layout.
    Layout(OciLayout),
}

/// One image to copy: from a place and name there to a place and name there.
#[derive(Clone)]
pub struct SyncItem {
    /// Where it comes from.
    pub source: Place,
    /// Its tag or digest there.
    pub source_ref: String,
    /// Where it goes.
    pub destination: Place,
    /// Its tag there.
    pub destination_ref: String,
    /// `source` as a person reads it (`docker://host/repo:tag`, `dir:/path`).
    pub from: String,
    /// `destination` as a person reads it.
    pub to: String,
}

/// What a sync will do, and what planning had to say.
#[derive(Default, Clone)]
pub struct SyncPlan {
    /// The images, in order.
    pub items: Vec<SyncItem>,
    /// Things that did not stop planning (a repository whose tags could not be listed, a name
    /// that was skipped).
    pub warnings: Vec<String>,
    /// Names a source listed that are not valid tags or repository names (`..`, a tag of 200
    /// characters), skipped so the rest of the mirror goes on; each has a warning.
    pub invalid_names: usize,
}

/// How one item ended.
#[derive(Debug)]
pub enum ItemOutcome {
    /// Copied (something was written).
    Copied(CopyReport),
    /// Already there with the same digest.
    Skipped(CopyReport),
    /// Failed, with why.
    Failed(Error),
}

/// What a sync did.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Every item with its outcome, in plan order.
    pub items: Vec<(String, String, ItemOutcome)>,
}

impl SyncReport {
    /// Images copied.
    pub fn copied(&self) -> usize {
        self.count(|o| matches!(o, ItemOutcome::Copied(_)))
    }
    /// Images already present.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, ItemOutcome::Skipped(_)))
    }
    /// Images that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, ItemOutcome::Failed(_)))
    }
    /// Blob bytes transferred.
    pub fn bytes(&self) -> u64 {
        self.items
            .iter()
            .map(|(_, _, o)| match o {
                ItemOutcome::Copied(r) | ItemOutcome::Skipped(r) => r.bytes_copied,
                ItemOutcome::Failed(_) => 0,
            })
            .sum()
    }
    fn count(&self, f: impl Fn(&ItemOutcome) -> bool) -> usize {
        self.items.iter().filter(|(_, _, o)| f(o)).count()
    }
}

/// A sync source or destination as skopeo writes it: `docker://HOST/REPO[:TAG]`,
/// `docker://HOST[/NAMESPACE]` (destinations), `dir:PATH`, `oci:PATH`.
///
/// ```
/// use irel::sync::Endpoint;
/// assert!(matches!("docker://localhost:5000/lib/x".parse(), Ok(Endpoint::Registry(_))));
/// assert!(matches!("dir:/media/usb".parse(), Ok(Endpoint::Dir(_))));
/// assert!("ftp://x".parse::<Endpoint>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `docker://…`: the text after the scheme.
    Registry(String),
    /// `dir:PATH`: a tree of skopeo image directories.
    Dir(PathBuf),
    /// `oci:PATH`: one OCI image layout.
    Oci(PathBuf),
}

impl std::str::FromStr for Endpoint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        if let Some(rest) = s.strip_prefix("docker://") {
            Ok(Endpoint::Registry(rest.trim_end_matches('/').to_string()))
        } else if let Some(rest) = s.strip_prefix("dir:") {
            Ok(Endpoint::Dir(PathBuf::from(rest)))
        } else if let Some(rest) = s.strip_prefix("oci:") {
            Ok(Endpoint::Oci(PathBuf::from(rest)))
        } else {
            Err(Error::Reference(crate::reference::ParseError {
                input: s.to_string(),
                reason: "a sync location is docker://HOST/REPO[:TAG], dir:PATH or oci:PATH".into(),
            }))
        }
    }
}

/// How source names become destination names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Naming {
    /// Put each registry source under its host (`:` written `-`), as `DST/host-port/repo`;
    /// `false` keeps just the repository path.
    pub scoped: bool,
}

impl Default for Naming {
    fn default() -> Self {
        Naming { scoped: true }
    }
}

impl Naming {
    /// The destination path for `repo` of `registry`.
    pub fn path(&self, registry: &str, repo: &str) -> String {
        if self.scoped {
            format!("{}/{repo}", safe_path::registry_scope(registry))
        } else {
            repo.to_string()
        }
    }
}

/// A destination: where each planned image lands.
#[derive(Clone)]
pub struct Target {
    endpoint: Endpoint,
}

impl Target {
    /// A `docker://HOST[/NS]` or `dir:PATH` destination (`oci:` is a source only).
    pub fn new(endpoint: Endpoint) -> Result<Target, Error> {
        if let Endpoint::Oci(p) = &endpoint {
            return Err(Error::Layout {
                path: p.display().to_string(),
                reason: "oci: is accepted as a sync source only; sync to docker:// or dir:".into(),
            });
        }
        Ok(Target { endpoint })
    }

    fn is_dir(&self) -> bool {
        matches!(self.endpoint, Endpoint::Dir(_))
    }

    /// The place and display name for `path:tag` under this destination. For a `dir:`
    /// destination both are checked by the reference grammar first and the image directory is
    /// confined to the root (see [`safe_path`]).
    fn place(&self, client: &Client, path: &str, tag: &str) -> Result<(Place, String), Error> {
        match &self.endpoint {
            Endpoint::Registry(base) => {
                let r: Reference = format!("{base}/{path}:{tag}").parse()?;
                Ok((
                    Place::Registry(RegistryRepository::new(client.clone(), &r)),
                    format!("docker://{r}"),
                ))
            }
            Endpoint::Dir(root) => {
                let rel = safe_path::image_dir(path, tag)?;
                let shown = format!("dir:{}", root.join(&rel).display());
                Ok((Place::Dir(SkopeoDir::within(root, &rel)), shown))
            }
            Endpoint::Oci(_) => unreachable!("refused in Target::new"),
        }
    }
}

impl SyncPlan {
    /// Drops the registry tags that are referrers fallback indexes (`sha256-<64 hex>`): a sync
    /// that copies referrers rebuilds those at the destination itself, and copying them as
    /// tags too would write the same tag twice by two routes. Returns how many were dropped.
    pub fn skip_referrer_indexes(&mut self) -> usize {
        let before = self.items.len();
        self.items.retain(|item| {
            let fallback = item
                .source_ref
                .strip_prefix("sha256-")
                .is_some_and(|hex| format!("sha256:{hex}").parse::<Digest>().is_ok());
            !(fallback && matches!(item.source, Place::Registry(_)))
        });
        before - self.items.len()
    }

    /// Records a name that was skipped because it is not valid.
    pub(crate) fn skip_invalid(&mut self, warning: String) {
        self.invalid_names += 1;
        self.warnings.push(warning);
    }

    /// Adds `repo`'s tags (`tags`, or every tag when empty) from a registry.
    pub async fn add_registry_repo(
        &mut self,
        client: &Client,
        repo: &Reference,
        tags: &[String],
        filter: Option<&TagFilter>,
        target: &Target,
        target_path: &str,
    ) -> Result<(), Error> {
        let mut tags = tags.to_vec();
        if tags.is_empty() {
            match client.tags(repo).await {
                Ok(all) => tags = all,
                Err(e) if e.status() == Some(http::StatusCode::UNAUTHORIZED) => {
                    self.warnings
                        .push(format!("cannot list the tags of {repo}, skipping it: {e}"));
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
            if let Some(f) = filter {
                tags = f.select(&tags);
            }
        }
        let source = RegistryRepository::new(client.clone(), repo);
        for tag in tags {
            // A registry's listing is not trusted to hold only valid tags; one bad name must
            // not stop the mirror, nor reach a path or a URL.
            let from = match repo.with_tag(&tag) {
                Ok(r) => r,
                Err(e) => {
                    self.skip_invalid(format!("{repo}: skipping tag {}: {}", shown_name(&tag), e.reason));
                    continue;
                }
            };
            let (destination, to) = match target.place(client, target_path, &tag) {
                Ok(place) => place,
                Err(e) => {
                    self.skip_invalid(format!("{from}: skipping it, its destination name is not valid: {e}"));
                    continue;
                }
            };
            self.items.push(SyncItem {
                from: format!("docker://{from}"),
                source: Place::Registry(source.clone()),
                source_ref: tag.clone(),
                destination,
                destination_ref: tag,
                to,
            });
        }
        Ok(())
    }

    /// Plans a skopeo-style sync of `source` into `target`.
    pub async fn from_endpoint(
        client: &Client,
        source: &Endpoint,
        target: &Target,
        naming: Naming,
    ) -> Result<SyncPlan, Error> {
        let mut plan = SyncPlan::default();
        match source {
            Endpoint::Registry(text) => {
                let r: Reference = text.parse()?;
                let tags: Vec<String> = r.tag().map(str::to_string).into_iter().collect();
                let path = naming.path(r.registry(), r.repository());
                plan.add_registry_repo(client, &r.without_tag_or_digest(), &tags, None, target, &path)
                    .await?;
            }
            Endpoint::Dir(root) => {
                if target.is_dir() {
                    return Err(Error::Layout {
                        path: root.display().to_string(),
                        reason: "dir: to dir: is not a sync; copy the directory tree instead (cp -r)".into(),
                    });
                }
                for (image_dir, path, tag) in find_image_dirs(root)? {
                    let checked = safe_path::check_repository_path(&path).and_then(|()| safe_path::check_tag(&tag));
                    if let Err(e) = checked {
                        plan.skip_invalid(format!("dir:{}: skipping {}: {e}", root.display(), image_dir.display()));
                        continue;
                    }
                    let (destination, to) = target.place(client, &path, &tag)?;
                    plan.items.push(SyncItem {
                        from: format!("dir:{}", image_dir.display()),
                        source: Place::Dir(SkopeoDir::new(image_dir)),
                        source_ref: tag.clone(),
                        destination,
                        destination_ref: tag,
                        to,
                    });
                }
            }
            Endpoint::Oci(path) => {
                let layout = OciLayout::open(path)?;
                let fallback = path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_ascii_lowercase())
                    .unwrap_or_else(|| "image".into());
                let fallback = match safe_path::check_repository_path(&fallback) {
                    Ok(()) => fallback,
                    Err(_) => {
                        plan.warnings.push(format!(
                            "oci:{}: the layout's directory name {fallback:?} is not a repository name; entries named by a tag only go to \"image\"",
                            path.display()
                        ));
                        "image".into()
                    }
                };
                for entry in layout.entries()? {
                    let Some(name) = entry.name else { continue };
                    // Untrusted: a name like `x/../../../pwn` must never become a path.
                    let (repo_path, tag) = match safe_path::layout_entry_target(&name, &fallback, naming.scoped) {
                        Ok(target) => target,
                        Err(e) => {
                            plan.skip_invalid(format!("oci:{}: skipping an entry: {e}", path.display()));
                            continue;
                        }
                    };
                    let (destination, to) = target.place(client, &repo_path, &tag)?;
                    plan.items.push(SyncItem {
                        from: format!("oci:{}:{name}", path.display()),
                        source: Place::Layout(layout.clone()),
                        source_ref: entry.descriptor.digest.to_string(),
                        destination,
                        destination_ref: tag,
                        to,
                    });
                }
            }
        }
        Ok(plan)
    }

    /// Plans a sync of every image a skopeo YAML source file names into `target`.
    pub async fn from_yaml(
        client: &Client,
        yaml: &SourceYaml,
        target: &Target,
        naming: Naming,
    ) -> Result<SyncPlan, Error> {
        let mut plan = SyncPlan::default();
        for (registry, entry) in &yaml.registries {
            for (repo, tags) in &entry.images {
                let r: Reference = format!("{registry}/{repo}").parse()?;
                let path = naming.path(r.registry(), r.repository());
                plan.add_registry_repo(client, &r, tags, None, target, &path).await?;
            }
            for (repo, regex) in &entry.images_by_tag_regex {
                let r: Reference = format!("{registry}/{repo}").parse()?;
                let filter = TagFilter::parse(&[format!("regex:{regex}")])?;
                let path = naming.path(r.registry(), r.repository());
                plan.add_registry_repo(client, &r, &[], Some(&filter), target, &path)
                    .await?;
            }
        }
        Ok(plan)
    }
}

/// A name from a source, quoted for a warning: escaped, and cut when very long.
pub(crate) fn shown_name(name: &str) -> String {
    const MAX: usize = 80;
    match name.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}… ({} characters)", &name[..cut], name.chars().count()),
        None => format!("{name:?}"),
    }
}

/// Every image directory under `root`: (directory, repository path, tag). A directory named
/// `name:tag` is tag `tag`; one without `:` is `latest`.
fn find_image_dirs(root: &Path) -> Result<Vec<(PathBuf, String, String)>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if SkopeoDir::is_image(&dir) {
            let rel = dir
                .strip_prefix(root)
                .unwrap_or(&dir)
                .to_string_lossy()
                .replace('\\', "/");
            let (path, tag) = match rel.rsplit_once(':') {
                Some((p, t)) if !t.contains('/') => (p.to_string(), t.to_string()),
                _ => (rel.clone(), "latest".to_string()),
            };
            if !path.is_empty() {
                out.push((dir.clone(), path, tag));
            }
            continue;
        }
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::Layout {
            path: dir.display().to_string(),
            reason: format!("cannot read directory: {e}"),
        })?;
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

impl Client {
    /// Runs a plan: `jobs` images at once, each through the copy engine, sharing what they
    /// transfer (see [`CopyOptions`]). Failures are recorded and the rest continue.
    pub async fn sync(&self, plan: &SyncPlan, jobs: usize, options: &CopyOptions) -> SyncReport {
        let limit = Arc::new(Semaphore::new(jobs.max(1)));
        let mut options = options.clone();
        // A caller running several plans in a row (a task's mappings) may share one ledger.
        options.shared_blobs.get_or_insert_with(Arc::default);
        let present = self.destination_tags(plan).await;
        let mut tasks = JoinSet::new();
        for (i, item) in plan.items.iter().cloned().enumerate() {
            let (limit, mut options) = (limit.clone(), options.clone());
            if let Place::Registry(dst) = &item.destination {
                let repo = dst.registry_repository().map(Reference::name);
                options.name_known_absent = repo
                    .and_then(|r| present.get(&r))
                    .and_then(Option::as_ref)
                    .is_some_and(|tags| !tags.contains(&item.destination_ref));
            }
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await.expect("semaphore open");
                (i, run_item(&item, &options).await)
            });
        }
        let mut outcomes: Vec<Option<ItemOutcome>> = plan.items.iter().map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            let (i, outcome) = match joined {
                Ok(r) => r,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            outcomes[i] = Some(match outcome {
                Ok(r) if r.manifests_pushed == 0 => ItemOutcome::Skipped(r),
                Ok(r) => ItemOutcome::Copied(r),
                Err(e) => ItemOutcome::Failed(e),
            });
        }
        SyncReport {
            items: plan
                .items
                .iter()
                .zip(outcomes)
                .map(|(item, o)| (item.from.clone(), item.to.clone(), o.expect("every task reports")))
                .collect(),
        }
    }
}

impl Client {
    /// The tags each destination repository of `plan` has now, listed once per repository
    /// (several at once), so items whose tag is not there skip asking for it one by one. A
    /// repository that does not exist has none; one that cannot be listed is `None` (its
    /// items ask as usual).
    async fn destination_tags(&self, plan: &SyncPlan) -> HashMap<String, Option<HashSet<String>>> {
        let mut repos: HashMap<String, Reference> = HashMap::new();
        for item in &plan.items {
            if let Place::Registry(dst) = &item.destination {
                if let Some(r) = dst.registry_repository() {
                    repos.entry(r.name()).or_insert_with(|| r.clone());
                }
            }
        }
        let mut lists = JoinSet::new();
        for (name, repo) in repos {
            let client = self.clone();
            lists.spawn(async move {
                let tags = match client.tags(&repo).await {
                    Ok(tags) => Some(tags.into_iter().collect()),
                    Err(e) if e.status() == Some(http::StatusCode::NOT_FOUND) => Some(HashSet::new()),
                    Err(_) => None,
                };
                (name, tags)
            });
        }
        let mut out = HashMap::new();
        while let Some(joined) = lists.join_next().await {
            if let Ok((name, tags)) = joined {
                out.insert(name, tags);
            }
        }
        out
    }
}

async fn run_item(item: &SyncItem, options: &CopyOptions) -> Result<CopyReport, Error> {
    match &item.source {
        Place::Registry(s) => copy_into(s, item, options).await,
        Place::Dir(s) => copy_into(s, item, options).await,
        Place::Layout(s) => copy_into(s, item, options).await,
    }
}

async fn copy_into<S: ContentSource>(src: &S, item: &SyncItem, options: &CopyOptions) -> Result<CopyReport, Error> {
    let (s, d) = (&item.source_ref, &item.destination_ref);
    match &item.destination {
        Place::Registry(dst) => copy_content(src, s, dst, d, None, options).await,
        Place::Dir(dst) => {
            // An image directory this copy creates is removed again if the copy fails: a
            // directory of blobs without its manifest.json is no image.
            let created = !dst.path().exists();
            let result = copy_content(src, s, dst, d, None, options).await;
            if result.is_err() && created {
                dst.remove();
            }
            result
        }
        Place::Layout(dst) => copy_content(src, s, dst, d, None, options).await,
    }
}

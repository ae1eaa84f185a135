//! Mirroring: keeping registries and directories in step, for mirrors and air-gapped transfers.
//!
//! A sync is planned first (a list of [`SyncItem`]s: this image here goes there, under that
//! name), then run: every item goes through the copy engine (so present images are skipped,
//! blobs mounted when possible, digests checked, tags written last), several at once. Plans come
//! from skopeo-sync style sources ([`Endpoint`]s, a [`SourceYaml`] file) or from dregsy-style
//! [`tasks`] that pick repositories from a registry's catalog by regex.

mod semver_constraint;
pub mod tasks;
mod yaml;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use crate::places::dir::SkopeoDir;
pub use semver_constraint::{ConstraintError, SemverConstraint};
pub use yaml::{add_cert_dir, SourceDefaults, SourceYaml, YamlCredentials, YamlRegistry};

use crate::copy::{copy_content, ContentSource, CopyOptions, CopyReport, RegistryRepository};
use crate::error::Error;
use crate::layout::{safe_path, OciLayout};
use crate::model::name::{Repository, TagOrDigest};
use crate::places::registry::Registry;
use crate::reference::{Digest, Reference};
use crate::remedy::Remedy;

/// A place content is synced from or to.
///
/// ```
/// use irel::sync::{Place, SkopeoDir};
/// fn shown(place: &Place) -> String {
///     match place {
///         Place::Registry(r) => format!("docker://{}", r.repository()),
///         Place::Dir(d) => format!("dir:{}", d.path().display()),
///         Place::Layout(l) => format!("oci:{}", l.path().display()),
///     }
/// }
/// assert_eq!(shown(&Place::Dir(SkopeoDir::new("/media/usb/app:1.0"))), "dir:/media/usb/app:1.0");
/// ```
#[derive(Clone, Debug)]
pub enum Place {
    /// A registry repository.
    Registry(RegistryRepository),
    /// A skopeo `dir:` image directory.
    Dir(SkopeoDir),
    /// An OCI image layout.
    Layout(OciLayout),
}

/// One image to copy: from a place and name there to a place and name there.
///
/// ```no_run
/// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
/// use irel::sync::{Naming, SyncPlan, Target};
/// let target = Target::new("dir:/media/usb".parse()?)?;
/// let source = "docker://registry.example/team/app".parse()?;
/// let plan = SyncPlan::from_endpoint(client.registry(), &source, &target, Naming::default()).await?;
/// for item in &plan.items {
///     println!("{} -> {} (written as {})", item.from, item.to, item.destination_ref);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SyncItem {
    /// Where it comes from.
    pub source: Place,
    /// Its tag or digest there.
    pub source_ref: TagOrDigest,
    /// Where it goes.
    pub destination: Place,
    /// Its tag (or digest) there.
    pub destination_ref: TagOrDigest,
    /// `source` as a person reads it (`docker://host/repo:tag`, `dir:/path`).
    pub from: String,
    /// `destination` as a person reads it.
    pub to: String,
}

/// What a sync will do, and what planning had to say.
///
/// ```no_run
/// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
/// use irel::sync::{Naming, SyncPlan, Target};
/// let target = Target::new("docker://mirror.example/mirror".parse()?)?;
/// let source = "docker://registry.example/team/app".parse()?;
/// let mut plan = SyncPlan::from_endpoint(client.registry(), &source, &target, Naming::Base).await?;
/// plan.skip_referrer_indexes();
/// plan.warnings.iter().for_each(|w| eprintln!("warning: {w}"));
/// let report = client.sync(&plan, 4, &irel::CopyOptions::default().referrers(true)).await;
/// # let _ = report; Ok(()) }
/// ```
#[derive(Default, Clone, Debug)]
pub struct SyncPlan {
    /// The images, in order.
    pub items: Vec<SyncItem>,
    /// Things that did not stop planning (a repository whose tags could not be listed, a name
    /// that was skipped).
    pub warnings: Vec<String>,
    /// Names a source listed that are not valid tags or repository names (`..`, a tag of 200
    /// characters), skipped so the rest of the mirror goes on; each has a warning.
    pub invalid_names: usize,
    /// The sources the images come from (repositories, directory trees), as skopeo counts them.
    pub sources: usize,
}

/// How one item ended.
///
/// ```no_run
/// # async fn demo(client: irel::Client, plan: irel::sync::SyncPlan) {
/// use irel::sync::ItemOutcome;
/// let report = client.sync_with(&plan, 4, &irel::CopyOptions::default(), false).await;
/// for (from, to, outcome) in &report.items {
///     match outcome {
///         ItemOutcome::Copied(r) => println!("{from} -> {to}: {} bytes", r.bytes_copied),
///         ItemOutcome::Skipped(_) => println!("{to} is up to date"),
///         ItemOutcome::Failed(e) => eprintln!("{from}: {e}"),
///         ItemOutcome::NotRun => eprintln!("{from}: not tried"),
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub enum ItemOutcome {
    /// Copied (something was written).
    Copied(CopyReport),
    /// Already there with the same digest.
    Skipped(CopyReport),
    /// Failed, with why.
    Failed(Error),
    /// Not tried: an earlier image failed and the sync stops at the first failure.
    NotRun,
}

/// What a sync did.
///
/// ```
/// use irel::sync::{ItemOutcome, SyncReport};
/// let copied = irel::CopyReport { bytes_copied: 10, ..Default::default() };
/// let report = SyncReport {
///     items: vec![
///         ("docker://registry.example/app:1".into(), "dir:/media/usb/app:1".into(), ItemOutcome::Copied(copied)),
///         ("docker://registry.example/app:2".into(), "dir:/media/usb/app:2".into(), ItemOutcome::NotRun),
///     ],
/// };
/// assert_eq!((report.copied(), report.not_run(), report.failed(), report.bytes()), (1, 1, 0, 10));
/// ```
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
                ItemOutcome::Failed(_) | ItemOutcome::NotRun => 0,
            })
            .sum()
    }
    /// Images not tried because the sync stopped at a failure.
    pub fn not_run(&self) -> usize {
        self.count(|o| matches!(o, ItemOutcome::NotRun))
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
///
/// ```
/// use irel::sync::Naming;
/// assert_eq!(Naming::HostScoped.path("127.0.0.1:5000", "lib/app"), "127.0.0.1-5000/lib/app");
/// assert_eq!(Naming::Scoped.path("127.0.0.1:5000", "lib/app"), "127.0.0.1:5000/lib/app");
/// assert_eq!(Naming::Base.path("registry.example", "lib/app"), "app");
/// assert_eq!(Naming::Base.dir_path("team/lib/app"), "app");
/// assert_eq!(Naming::Scoped.dir_path("team/lib/app"), "team/lib/app");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Naming {
    /// irel's default: a registry source goes under its host, `:` written `-`
    /// (`DST/127.0.0.1-5000/lib/app`); a `dir:` source keeps its whole path below the root.
    #[default]
    HostScoped,
    /// skopeo's `--scoped`: a registry source goes under its host as written
    /// (`DST/registry.example.com/lib/app`, `DST/127.0.0.1:5000/app` in a `dir:` tree); a `dir:`
    /// source keeps its whole path. A registry destination cannot hold a `:` in a path: there a
    /// port is written `-` (skopeo refuses such a name).
    Scoped,
    /// skopeo's default (irel's `--no-scope`): the last component of the source's path only
    /// (Go's `path.Base`): `registry.example/lib/app:1.0` → `DST/app:1.0`.
    Base,
}

impl Naming {
    /// The destination path for `repo` of `registry`.
    pub fn path(&self, registry: &str, repo: &str) -> String {
        match self {
            Naming::HostScoped => format!("{}/{repo}", safe_path::registry_scope(registry)),
            Naming::Scoped => format!("{}/{repo}", registry.to_ascii_lowercase()),
            Naming::Base => base_name(repo).to_string(),
        }
    }

    /// The destination path for the image directory at `rel` (its repository path) below a
    /// `dir:` source's root.
    pub fn dir_path(&self, rel: &str) -> String {
        match self {
            Naming::HostScoped | Naming::Scoped => rel.to_string(),
            Naming::Base => base_name(rel).to_string(),
        }
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A destination: where each planned image lands.
///
/// ```
/// use irel::sync::{Endpoint, Target};
/// let usb = Target::new("dir:/media/usb".parse().unwrap()).unwrap().refusing_existing_dirs();
/// let mirror = Target::new("docker://mirror.example/team".parse().unwrap()).unwrap().with_tag_suffix("-mirror");
/// assert!(Target::new(Endpoint::Oci("/srv/layout".into())).is_err(), "oci: is a source only");
/// # let _ = (usb, mirror);
/// ```
#[derive(Clone, Debug)]
pub struct Target {
    endpoint: Endpoint,
    refuse_existing: bool,
    tag_suffix: String,
}

/// Where one image lands: the place, its name for people, and the name written there.
struct Placed {
    place: Place,
    shown: String,
    reference: TagOrDigest,
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
        Ok(Target {
            endpoint,
            refuse_existing: false,
            tag_suffix: String::new(),
        })
    }

    /// Refuses, while planning, an image directory that already exists in a `dir:` destination
    /// (skopeo sync never writes into one): the error names it.
    pub fn refusing_existing_dirs(mut self) -> Target {
        self.refuse_existing = true;
        self
    }

    /// Appends `suffix` to every destination tag (skopeo's `--append-suffix`).
    pub fn with_tag_suffix(mut self, suffix: &str) -> Target {
        self.tag_suffix = suffix.to_string();
        self
    }

    fn is_dir(&self) -> bool {
        matches!(self.endpoint, Endpoint::Dir(_))
    }

    /// With [`refusing_existing_dirs`](Self::refusing_existing_dirs), refuses a planned image
    /// directory that exists.
    fn check_absent(&self, placed: &Placed) -> Result<(), Error> {
        let Place::Dir(dir) = &placed.place else {
            return Ok(());
        };
        if self.refuse_existing && std::fs::symlink_metadata(dir.path()).is_ok() {
            return Err(Error::Layout {
                path: dir.path().display().to_string(),
                reason: "refusing to overwrite destination directory: it exists already (skopeo sync never \
                         writes into one); remove it, or sync into another directory"
                    .into(),
            });
        }
        Ok(())
    }

    /// Where `path:tag` (or `path@digest`) lands under this destination. For a `dir:`
    /// destination both are checked by the reference grammar first and the image directory is
    /// confined to the root (see [`safe_path`]). A registry destination writes a `host:port`
    /// first component (skopeo's scoped names) as `host-port`.
    fn place(&self, client: &Registry, path: &str, reference: &str) -> Result<Placed, Error> {
        let digest = reference.parse::<Digest>().ok();
        if digest.is_some() && !self.tag_suffix.is_empty() {
            return Err(Error::Unsupported {
                what: format!(
                    "{path}@{reference}: an image named by digest has no tag to append {:?} to",
                    self.tag_suffix
                ),
                remedy: Some(Remedy::NoTagSuffix),
            });
        }
        let tag = format!("{reference}{}", self.tag_suffix);
        match &self.endpoint {
            Endpoint::Registry(base) => {
                let path = match path.split_once('/') {
                    Some((first, rest)) if first.contains(':') => {
                        format!("{}/{rest}", safe_path::registry_scope(first))
                    }
                    _ => path.to_string(),
                };
                let r: Reference = match &digest {
                    Some(d) => format!("{base}/{path}@{d}").parse()?,
                    None => format!("{base}/{path}:{tag}").parse()?,
                };
                Ok(Placed {
                    place: Place::Registry(RegistryRepository::new(client.clone(), &r.to_repository())),
                    shown: format!("docker://{r}"),
                    reference: tag.parse()?,
                })
            }
            Endpoint::Dir(root) => {
                let rel = match &digest {
                    Some(d) => safe_path::image_dir_by_digest(path, d)?,
                    None => safe_path::image_dir(path, &tag)?,
                };
                let full = root.join(&rel);
                Ok(Placed {
                    place: Place::Dir(SkopeoDir::within(root, &rel)),
                    shown: format!("dir:{}", full.display()),
                    // The directory's manifest.json, whatever the name: a digest would name an
                    // instance file.
                    reference: if digest.is_some() {
                        "latest".parse()?
                    } else {
                        tag.parse()?
                    },
                })
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
                .tag()
                .and_then(|t| t.as_str().strip_prefix("sha256-"))
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

    /// A tag listing without the digests some registries put in it (zuul-registry lists the
    /// digests manifests were pushed by): the images they name are reached through the tags
    /// (an index's instances) or are untagged. One warning for all of a listing's.
    fn drop_listed_digests(&mut self, repo: &Reference, listed: Vec<String>) -> Vec<String> {
        let (digests, tags): (Vec<String>, Vec<String>) = listed.into_iter().partition(|t| t.parse::<Digest>().is_ok());
        if let Some(first) = digests.first() {
            let (count, more) = match digests.len() {
                1 => ("a digest".to_string(), String::new()),
                n => (format!("{n} digests"), format!(" and {} more", n - 1)),
            };
            self.warnings.push(format!(
                "{repo}: skipping {count} that the registry {} lists among its tags ({first}{more})",
                repo.registry()
            ));
        }
        tags
    }

    /// `repo`'s tags (digests listed among them dropped); a listing the registry refuses (401)
    /// is a warning and `None`.
    async fn list_tags_or_warn(&mut self, client: &Registry, repo: &Reference) -> Result<Option<Vec<String>>, Error> {
        match client.tags(&repo.to_repository()).await {
            Ok(all) => Ok(Some(self.drop_listed_digests(repo, all))),
            Err(e) if e.status() == Some(http::StatusCode::UNAUTHORIZED) => {
                self.warnings
                    .push(format!("cannot list the tags of {repo}, skipping it: {e}"));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Adds `repo`'s images named by `refs` (tags or digests), skipping invalid names.
    fn add_registry_refs(
        &mut self,
        client: &Registry,
        repo: &Reference,
        refs: &[String],
        target: &Target,
        target_path: &str,
    ) -> Result<(), Error> {
        if !refs.is_empty() {
            self.sources += 1;
        }
        let source = RegistryRepository::new(client.clone(), &repo.to_repository());
        for name in refs {
            // A registry's listing is not trusted to hold only valid tags; one bad name must
            // not stop the mirror, nor reach a path or a URL.
            let from = match name.parse::<Digest>() {
                Ok(d) => repo.with_digest(d),
                Err(_) => match repo.with_tag(name) {
                    Ok(r) => r,
                    Err(e) => {
                        self.skip_invalid(format!("{repo}: skipping tag {}: {}", shown_name(name), e.reason));
                        continue;
                    }
                },
            };
            let placed = match target.place(client, target_path, name) {
                Ok(placed) => placed,
                Err(e) => {
                    self.skip_invalid(format!("{from}: skipping it, its destination name is not valid: {e}"));
                    continue;
                }
            };
            target.check_absent(&placed)?;
            self.items.push(SyncItem {
                from: format!("docker://{from}"),
                source: Place::Registry(source.clone()),
                source_ref: name.parse()?,
                destination: placed.place,
                destination_ref: placed.reference,
                to: placed.shown,
            });
        }
        Ok(())
    }

    /// Plans a skopeo-style sync of `source` into `target`, as `skopeo sync` plans it: a tagged
    /// or digested image is that image; an untagged repository is all its tags, and a listing
    /// that fails (a 401 included) or finds none is an error; a `dir:` source is every image
    /// directory under it, or itself when it is one, and finding none is an error.
    pub async fn from_endpoint(
        client: &Registry,
        source: &Endpoint,
        target: &Target,
        naming: Naming,
    ) -> Result<SyncPlan, Error> {
        let mut plan = SyncPlan::default();
        match source {
            Endpoint::Registry(text) => {
                let r: Reference = text.parse()?;
                let repo = r.without_tag_or_digest();
                let refs: Vec<String> = match (r.tag(), r.digest()) {
                    (Some(tag), _) => vec![tag.to_string()],
                    (None, Some(d)) => vec![d.to_string()],
                    (None, None) => {
                        let tags = client.tags(&repo.to_repository()).await.map_err(|e| {
                            // What to do depends on why: a missing repository is a typo, a
                            // refusal wants credentials.
                            let registry = repo.registry().to_string();
                            let remedy = match e.status().map(|s| s.as_u16()) {
                                Some(404) => Some(Remedy::ListRepositories {
                                    registry: registry.clone(),
                                }),
                                Some(401 | 403) => Some(Remedy::GiveSourceCredentials {
                                    registry: registry.clone(),
                                }),
                                _ => None,
                            };
                            Error::TagsUnlisted {
                                registry,
                                repository: repo.to_string(),
                                source: Box::new(e),
                                remedy,
                            }
                        })?;
                        let tags = plan.drop_listed_digests(&repo, tags);
                        if tags.is_empty() {
                            return Err(no_images(text, "the repository has no tags"));
                        }
                        tags
                    }
                };
                let path = naming.path(r.registry(), r.repository());
                plan.add_registry_refs(client, &repo, &refs, target, &path)?;
            }
            Endpoint::Dir(root) => {
                if target.is_dir() {
                    return Err(Error::Layout {
                        path: root.display().to_string(),
                        reason: "dir: to dir: is not a sync; copy the directory tree instead (cp -r)".into(),
                    });
                }
                let found = find_image_dirs(root)?;
                if found.is_empty() {
                    return Err(no_images(
                        &root.display().to_string(),
                        "no directory below it holds a manifest.json",
                    ));
                }
                plan.sources = 1;
                for (image_dir, path, tag) in found {
                    let checked = safe_path::check_repository_path(&path).and_then(|()| match tag.parse::<Digest>() {
                        Ok(_) => Ok(()),
                        Err(_) => safe_path::check_tag(&tag),
                    });
                    if let Err(e) = checked {
                        plan.skip_invalid(format!("dir:{}: skipping {}: {e}", root.display(), image_dir.display()));
                        continue;
                    }
                    let placed = target.place(client, &naming.dir_path(&path), &tag)?;
                    target.check_absent(&placed)?;
                    plan.items.push(SyncItem {
                        from: format!("dir:{}", image_dir.display()),
                        source: Place::Dir(SkopeoDir::new(image_dir)),
                        source_ref: tag.parse()?,
                        destination: placed.place,
                        destination_ref: placed.reference,
                        to: placed.shown,
                    });
                }
            }
            Endpoint::Oci(path) => {
                let layout = OciLayout::open(path)?;
                plan.sources = 1;
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
                    let scoped = naming != Naming::Base;
                    let (repo_path, tag) = match safe_path::layout_entry_target(&name, &fallback, scoped) {
                        Ok(target) => target,
                        Err(e) => {
                            plan.skip_invalid(format!("oci:{}: skipping an entry: {e}", path.display()));
                            continue;
                        }
                    };
                    let placed = target.place(client, &naming.dir_path(&repo_path), &tag)?;
                    target.check_absent(&placed)?;
                    plan.items.push(SyncItem {
                        from: format!("oci:{}:{name}", path.display()),
                        source: Place::Layout(layout.clone()),
                        source_ref: TagOrDigest::Digest(entry.descriptor.digest.clone()),
                        destination: placed.place,
                        destination_ref: placed.reference,
                        to: placed.shown,
                    });
                }
            }
        }
        plan.check_distinct_dirs(target)?;
        Ok(plan)
    }

    /// Plans a sync of every image a skopeo YAML source file names into `target`: `images`
    /// (tags, digests, or every tag), `images-by-tag-regex` (unanchored) and
    /// `images-by-semver`. A repository whose tags cannot be listed for lack of credentials
    /// (401) is a warning, as skopeo logs it and goes on; a regex or constraint that does not
    /// parse is refused before anything is listed.
    pub async fn from_yaml(
        client: &Registry,
        yaml: &SourceYaml,
        target: &Target,
        naming: Naming,
    ) -> Result<SyncPlan, Error> {
        let mut plan = SyncPlan::default();
        let bad = |registry: &str, key: &str, repo: &str, value: &str, why: String| Error::Layout {
            path: format!("{registry}: {key}: {repo}"),
            reason: format!("{value:?} is not valid: {why}"),
        };
        let mut selections: Vec<(&str, &str, Selection)> = Vec::new();
        for (registry, entry) in &yaml.registries {
            if entry.images.is_empty() && entry.images_by_tag_regex.is_empty() && entry.images_by_semver.is_empty() {
                plan.warnings
                    .push(format!("{registry}: no images specified for this registry"));
            }
            for (repo, refs) in &entry.images {
                selections.push((registry, repo, Selection::Refs(refs.clone())));
            }
            for (repo, regex) in &entry.images_by_tag_regex {
                let re = regex::Regex::new(regex)
                    .map_err(|e| bad(registry, "images-by-tag-regex", repo, regex, e.to_string()))?;
                selections.push((registry, repo, Selection::Regex(re)));
            }
            for (repo, constraint) in &entry.images_by_semver {
                let c = SemverConstraint::parse(constraint)
                    .map_err(|e| bad(registry, "images-by-semver", repo, constraint, e.to_string()))?;
                selections.push((registry, repo, Selection::Semver(c)));
            }
        }
        for (registry, repo, selection) in selections {
            let r: Reference = format!("{registry}/{repo}").parse()?;
            let path = naming.path(r.registry(), r.repository());
            let refs = match selection {
                Selection::Refs(refs) if !refs.is_empty() => refs,
                selection => {
                    let Some(tags) = plan.list_tags_or_warn(client, &r).await? else {
                        continue;
                    };
                    let chosen: Vec<String> = tags.into_iter().filter(|t| selection.selects(t)).collect();
                    if chosen.is_empty() {
                        plan.warnings.push(format!("{r}: no tags to sync found"));
                        continue;
                    }
                    chosen
                }
            };
            plan.add_registry_refs(client, &r, &refs, target, &path)?;
        }
        plan.check_distinct_dirs(target)?;
        Ok(plan)
    }

    /// Two images planned into one image directory (unscoped names of two repositories with
    /// the same last component) are refused, as skopeo refuses the second: one directory
    /// holds one image.
    fn check_distinct_dirs(&self, target: &Target) -> Result<(), Error> {
        if !target.is_dir() {
            return Ok(());
        }
        let mut seen = HashSet::new();
        for item in &self.items {
            if !seen.insert(&item.to) {
                return Err(Error::Unsupported {
                    what: format!(
                        "{}: refusing to overwrite destination directory: {} goes there after another image",
                        item.to.trim_start_matches("dir:"),
                        item.from
                    ),
                    remedy: Some(Remedy::ScopeNames),
                });
            }
        }
        Ok(())
    }
}

/// Which tags of one repository a source file selects.
enum Selection {
    /// These tags or digests; none means every tag.
    Refs(Vec<String>),
    /// Tags the regex matches somewhere.
    Regex(regex::Regex),
    /// Tags that read as versions the constraint accepts.
    Semver(SemverConstraint),
}

impl Selection {
    fn selects(&self, tag: &str) -> bool {
        match self {
            Selection::Refs(_) => true,
            Selection::Regex(re) => re.is_match(tag),
            Selection::Semver(c) => c.matches_tag(tag),
        }
    }
}

fn no_images(source: &str, why: &str) -> Error {
    Error::Layout {
        path: source.to_string(),
        reason: format!("no images to sync found: {why}"),
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

/// Every image directory under `root`: (directory, repository path, tag or digest). A
/// directory named `name:tag` is tag `tag`, `name@sha256:…` that digest, one without either
/// `latest`. When `root` itself is an image directory, it is the one image, named by its own
/// last component (as skopeo names it). Directories inside an image directory are not looked
/// into.
fn find_image_dirs(root: &Path) -> Result<Vec<(PathBuf, String, String)>, Error> {
    let mut out = Vec::new();
    std::fs::metadata(root).map_err(|e| Error::Layout {
        path: root.display().to_string(),
        reason: format!("invalid source directory: {e}"),
    })?;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if SkopeoDir::is_image(&dir) {
            let rel = match dir.strip_prefix(root) {
                Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().replace('\\', "/"),
                _ => absolute_name(root),
            };
            let (path, name) = split_image_dir_name(&rel);
            if !path.is_empty() {
                out.push((dir.clone(), path, name));
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

/// The last component of `root` as written, or of its absolute form (`.` → the current
/// directory's name).
fn absolute_name(root: &Path) -> String {
    let named = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    named(root)
        .or_else(|| std::fs::canonicalize(root).ok().as_deref().and_then(named))
        .unwrap_or_default()
}

/// `lib/app:1.0` → (`lib/app`, `1.0`); `lib/app@sha256:…` → (`lib/app`, `sha256:…`);
/// `lib/app` → (`lib/app`, `latest`).
fn split_image_dir_name(rel: &str) -> (String, String) {
    let (parent, last) = match rel.rsplit_once('/') {
        Some((p, l)) => (Some(p), l),
        None => (None, rel),
    };
    let join = |name: &str| match parent {
        Some(p) => format!("{p}/{name}"),
        None => name.to_string(),
    };
    if let Some((name, digest)) = last.split_once('@') {
        return (join(name), digest.to_string());
    }
    match last.rsplit_once(':') {
        Some((name, tag)) => (join(name), tag.to_string()),
        None => (rel.to_string(), "latest".to_string()),
    }
}

/// The work of [`Client::sync`](crate::Client::sync).
pub(crate) async fn sync(registry: &Registry, plan: &SyncPlan, jobs: usize, options: &CopyOptions) -> SyncReport {
    sync_with(registry, plan, jobs, options, true).await
}

/// The work of [`Client::sync_with`](crate::Client::sync_with).
pub(crate) async fn sync_with(
    registry: &Registry,
    plan: &SyncPlan,
    jobs: usize,
    options: &CopyOptions,
    keep_going: bool,
) -> SyncReport {
    sync_observed(registry, plan, jobs, options, keep_going, |_, _| {}).await
}

/// The work of [`Client::sync_observed`](crate::Client::sync_observed).
pub(crate) async fn sync_observed(
    registry: &Registry,
    plan: &SyncPlan,
    jobs: usize,
    options: &CopyOptions,
    keep_going: bool,
    on_item: impl Fn(&SyncItem, &ItemOutcome),
) -> SyncReport {
    let limit = Arc::new(Semaphore::new(jobs.max(1)));
    let stop = Arc::new(AtomicBool::new(false));
    let mut options = options.clone();
    // A caller running several plans in a row (a task's mappings) may share one ledger.
    options.shared_blobs.get_or_insert_with(Arc::default);
    let present = destination_tags(registry, plan).await;
    let mut tasks = JoinSet::new();
    let mut outcomes: Vec<Option<ItemOutcome>> = plan.items.iter().map(|_| None).collect();
    // Each image's outcome, reported as it ends.
    let mut record = |joined: Result<(usize, Option<Result<CopyReport, Error>>), tokio::task::JoinError>| {
        let (i, outcome) = match joined {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        let outcome = match outcome {
            Some(Ok(r)) if r.manifests_pushed == 0 => ItemOutcome::Skipped(r),
            Some(Ok(r)) => ItemOutcome::Copied(r),
            Some(Err(e)) => ItemOutcome::Failed(e),
            None => ItemOutcome::NotRun,
        };
        on_item(&plan.items[i], &outcome);
        outcomes[i] = Some(outcome);
    };
    for (i, item) in plan.items.iter().cloned().enumerate() {
        let (stop, mut options) = (stop.clone(), options.clone());
        if let Place::Registry(dst) = &item.destination {
            options.name_known_absent = present
                .get(&dst.repository().name())
                .and_then(Option::as_ref)
                .is_some_and(|tags| !tags.contains(&item.destination_ref.to_string()));
        }
        // Taken here, not in the task: the images start in the plan's order (spawned tasks
        // may reach the semaphore in any order), so without --keep-going the ones after the
        // first failure are the ones not tried. Images that end meanwhile are reported at
        // once, not after the last one has started.
        let permit = loop {
            tokio::select! {
                biased;
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => record(joined),
                permit = limit.clone().acquire_owned() => break permit.expect("semaphore open"),
            }
        };
        tasks.spawn(async move {
            let _permit = permit;
            if stop.load(Ordering::SeqCst) {
                return (i, None);
            }
            let result = run_item(&item, &options).await;
            if result.is_err() && !keep_going {
                stop.store(true, Ordering::SeqCst);
            }
            (i, Some(result))
        });
    }
    while let Some(joined) = tasks.join_next().await {
        record(joined);
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

/// The tags each destination repository of `plan` has now, listed once per repository
/// (several at once), so items whose tag is not there skip asking for it one by one. A
/// repository that does not exist has none; one that cannot be listed is `None` (its
/// items ask as usual).
async fn destination_tags(registry: &Registry, plan: &SyncPlan) -> HashMap<String, Option<HashSet<String>>> {
    let mut repos: HashMap<String, Repository> = HashMap::new();
    for item in &plan.items {
        if let Place::Registry(dst) = &item.destination {
            let r = dst.repository();
            repos.entry(r.name()).or_insert_with(|| r.clone());
        }
    }
    let mut lists = JoinSet::new();
    for (name, repo) in repos {
        let client = registry.clone();
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
            // An image directory this copy creates is removed again unless the copy succeeds,
            // also when the copy is dropped (Ctrl-C): a directory of blobs without its
            // manifest.json is no image, and a rerun in skopeo's spelling would refuse it.
            struct Undo<'a>(Option<&'a SkopeoDir>);
            impl Drop for Undo<'_> {
                fn drop(&mut self) {
                    if let Some(dir) = self.0 {
                        dir.remove();
                    }
                }
            }
            let mut undo = Undo((!dst.path().exists()).then_some(dst));
            let result = copy_content(src, s, dst, d, None, options).await;
            if result.is_ok() {
                undo.0 = None;
            }
            result
        }
        Place::Layout(dst) => copy_content(src, s, dst, d, None, options).await,
    }
}

//! The copy engine: copies an image or a whole index DAG from one place to another (registry
//! repositories, OCI layouts, archives: see [`ContentSource`] and [`ContentDestination`]), with
//! its digest preserved.
//!
//! Order of work: read the source manifest (and every child of an index, verified by digest);
//! if the destination already has that digest, only the tag is written. Otherwise each distinct
//! blob is skipped (already present), mounted (same registry) or streamed source → destination
//! without touching disk, several at once; then child manifests are pushed by digest, and the
//! root last, under its tag. A failure anywhere stops before the tag is written, so no tag ever
//! points at an incomplete image.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::{Error, RegistryErrorCode};
use crate::manifest::{Contents, Descriptor, Manifest, MAX_INDEX_DEPTH};
use crate::model::name::{Repository, TagOrDigest};
use crate::places::content::{OpenUpload, Uploads};
use crate::places::registry::{MountOutcome, Registry};
use crate::reference::{Digest, Reference};

mod events;

pub use crate::places::cleanup::Cleanups;
pub use crate::places::content::{BlobProbe, ContentDestination, ContentSource};
pub use crate::places::registry::RegistryRepository;
pub use events::{BlobDisposition, CopyEvent, EventListener};

/// How a copy runs.
///
/// ```
/// let options = irel::CopyOptions::default().concurrency(8).referrers(true);
/// assert_eq!((options.concurrency, options.retry_times), (8, irel::session::DEFAULT_RETRIES));
/// # async fn copy(client: irel::Client, options: irel::CopyOptions) -> Result<(), irel::Error> {
/// let (src, dst) = ("registry.example/team/app:1.0".parse()?, "mirror.example/team/app:1.0".parse()?);
/// client.copy(&src, &dst, &options).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct CopyOptions {
    /// How many blobs are transferred at once (default 4).
    pub concurrency: usize,
    /// How many times a failed blob transfer is started again from scratch: a new upload
    /// session, the source read again (default 3).
    pub retry_times: u32,
    /// Blobs already sent (or being sent) to destination registries by other copies of the
    /// same run: those are mounted from there instead of transferred again.
    pub(crate) shared_blobs: Option<Arc<SharedBlobs>>,
    /// Told of every step, when set.
    pub(crate) listener: Option<EventListener>,
    /// The destination is known not to have the name being written (a sync listed its tags),
    /// so the copy need not ask.
    pub(crate) name_known_absent: bool,
    /// Copy the referrers (signatures, SBOMs, attestations) of what is copied, too.
    pub(crate) referrers: bool,
    /// The subjects whose referrers are being copied, outermost first (a referrer copy is a
    /// copy inside a copy).
    pub(crate) referrer_chain: Vec<Digest>,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            concurrency: 4,
            retry_times: crate::session::layers::retry::DEFAULT_RETRIES,
            shared_blobs: None,
            listener: None,
            name_known_absent: false,
            referrers: false,
            referrer_chain: Vec::new(),
        }
    }
}

impl std::fmt::Debug for CopyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOptions")
            .field("concurrency", &self.concurrency)
            .field("retry_times", &self.retry_times)
            .field("listener", &self.listener.is_some())
            .field("referrers", &self.referrers)
            .finish_non_exhaustive()
    }
}

/// Coordination between copies that run side by side (a sync): the first copy that needs a
/// blob in a destination registry transfers it and the others mount it from there; and copies
/// of the same content into the same repository take turns (registries answer concurrent
/// writes of one manifest or blob into one repository with spurious 500s and
/// MANIFEST_BLOB_UNKNOWN), the later ones then finding it present.
#[derive(Default)]
pub(crate) struct SharedBlobs {
    cells: std::sync::Mutex<std::collections::HashMap<(String, Digest), BlobHolder>>,
    turns: std::sync::Mutex<std::collections::HashMap<(String, Digest), Turn>>,
}

/// Held by the copy writing one manifest digest into one repository.
type Turn = Arc<tokio::sync::Mutex<()>>;

/// Set once a blob is in some repository of a registry: that repository.
type BlobHolder = Arc<tokio::sync::OnceCell<Repository>>;

impl std::fmt::Debug for SharedBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedBlobs")
    }
}

impl SharedBlobs {
    fn cell(&self, scope: &str, digest: &Digest) -> BlobHolder {
        let mut cells = self.cells.lock().expect("shared blob ledger poisoned");
        cells.entry((scope.to_string(), digest.clone())).or_default().clone()
    }

    /// Waits for this copy's turn to write `digest` into `repository`.
    async fn turn(&self, repository: &Repository, digest: &Digest) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut turns = self.turns.lock().expect("shared blob ledger poisoned");
            turns
                .entry((repository.to_string(), digest.clone()))
                .or_default()
                .clone()
        };
        lock.lock_owned().await
    }
}

impl CopyOptions {
    /// Sets how many blobs are transferred at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets how many times a failed blob transfer starts over.
    pub fn retry_times(mut self, n: u32) -> Self {
        self.retry_times = n;
        self
    }

    /// Copies the referrers of the image too: the manifests that name it (or, for an index,
    /// one of its manifests) as their `subject`, such as signatures, SBOMs and attestations,
    /// and their referrers in turn. They are found with the referrers API or the fallback tag
    /// (see [`Registry::referrers`](crate::places::registry::Registry::referrers)), pushed by digest before the image's tag (cosign's
    /// tag-based `sha256-<hex>.sig`/`.att`/`.sbom` come too, as tags), and listed in the
    /// destination's fallback index when it has no referrers API (in a layout: entries of its
    /// `index.json` without a name). Between registries and OCI layouts only.
    pub fn referrers(mut self, copy: bool) -> Self {
        self.referrers = copy;
        self
    }

    /// Calls `listener` with every [`CopyEvent`] of the copies run with these options (for a
    /// progress display, say). It runs on the copy's tasks: keep it quick.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use irel::copy::CopyEvent;
    ///
    /// let moved = Arc::new(AtomicU64::new(0));
    /// let seen = moved.clone();
    /// let options = irel::CopyOptions::default().on_event(move |event| {
    ///     if let CopyEvent::BlobDone { size, .. } = event {
    ///         seen.fetch_add(*size, Ordering::Relaxed);
    ///     }
    /// });
    /// # let _ = options;
    /// ```
    pub fn on_event(mut self, listener: impl Fn(&CopyEvent) + Send + Sync + 'static) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    fn emit(&self, event: impl FnOnce() -> CopyEvent) {
        if let Some(listener) = &self.listener {
            listener(&event());
        }
    }
}

/// What a copy did.
///
/// ```no_run
/// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
/// let (src, dst) = ("registry.example/team/app:1.0".parse()?, "mirror.example/team/app:1.0".parse()?);
/// let report = client.copy(&src, &dst, &irel::CopyOptions::default()).await?;
/// let (copied, mounted) = (report.blobs_copied, report.blobs_mounted);
/// println!("{copied} blobs copied, {mounted} mounted, {} already there", report.blobs_skipped);
/// println!("{}", serde_json::to_string(&report).unwrap()); // for scripts
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// The digest of the copied manifest: the source's, and now the destination's.
    pub digest: Option<Digest>,
    /// The manifest's media type.
    pub media_type: String,
    /// Blobs streamed from source to destination.
    pub blobs_copied: usize,
    /// Blobs linked within the registry instead of transferred.
    pub blobs_mounted: usize,
    /// Blobs the destination already had.
    pub blobs_skipped: usize,
    /// Bytes streamed.
    pub bytes_copied: u64,
    /// Manifests pushed (children and root).
    pub manifests_pushed: usize,
    /// Referrers pushed (with [`CopyOptions::referrers`]); their blobs and manifests are
    /// counted above too.
    pub referrers_copied: usize,
}

impl CopyReport {
    fn add(&mut self, other: &CopyReport) {
        self.blobs_copied += other.blobs_copied;
        self.blobs_mounted += other.blobs_mounted;
        self.blobs_skipped += other.blobs_skipped;
        self.bytes_copied += other.bytes_copied;
        self.manifests_pushed += other.manifests_pushed;
        self.referrers_copied += other.referrers_copied;
    }
}

/// How long a chain of referrers of referrers is followed (a signature of an attestation of
/// an image is 2).
const MAX_REFERRER_DEPTH: usize = 4;

/// The most child manifests one copy fetches: indexes list a handful of platforms (and their
/// attestations); thousands mean a hostile or broken server.
const MAX_CHILD_MANIFESTS: usize = 1024;

enum BlobOutcome {
    Copied(u64),
    Mounted,
    Skipped,
}

/// The work of [`Client::copy`](crate::Client::copy).
pub(crate) async fn copy(
    registry: &Registry,
    src: &Reference,
    dst: &Reference,
    options: &CopyOptions,
) -> Result<CopyReport, Error> {
    let from = RegistryRepository::new(registry.clone(), &src.to_repository());
    let to = RegistryRepository::new(registry.clone(), &dst.to_repository());
    copy_content(
        &from,
        &src.tag_or_digest(),
        &to,
        &dst.name_to_write(),
        dst.digest(),
        options,
    )
    .await
}

/// Copies the manifest `src_ref` names in `src` (and everything it refers to) into `dst`,
/// naming it `dst_ref` there (a tag, a layout ref name, or its digest). With `expected`, the
/// source must have that digest.
pub async fn copy_content<S: ContentSource, D: ContentDestination>(
    src: &S,
    src_ref: &TagOrDigest,
    dst: &D,
    dst_ref: &TagOrDigest,
    expected: Option<&Digest>,
    options: &CopyOptions,
) -> Result<CopyReport, Error> {
    if options.referrers && !(src.capabilities().referrers.is_some() && dst.capabilities().referrers.is_some()) {
        return Err(Error::Unsupported {
            what: format!(
                "referrers are copied between registries and OCI layouts only, not from {} to {}",
                src.describe(),
                dst.describe()
            ),
            remedy: None,
        });
    }
    let root = src.manifest(src_ref).await?;
    // Referrer copies run inside their image's turn and take none of their own: tags naming
    // each other (a digest tag is only a name) could otherwise have two images wait on each
    // other's turn, or one on its own.
    let _turn = match (
        &options.shared_blobs,
        dst.capabilities().uploads.map(|u| u.repository()),
    ) {
        (Some(shared), Some(repo)) if options.referrer_chain.is_empty() => Some(shared.turn(repo, &root.digest).await),
        _ => None,
    };
    if let Some(want) = expected {
        if *want != root.digest {
            return Err(Error::DigestMismatch {
                what: format!(
                    "destination {} names a digest that {src_ref} in {} does not have",
                    dst.describe(),
                    src.describe()
                ),
                expected: want.clone(),
                actual: root.digest.to_string(),
            });
        }
    }
    let mut report = CopyReport {
        digest: Some(root.digest.clone()),
        media_type: root.media_type.clone(),
        ..CopyReport::default()
    };

    // Already there under that name: nothing to do (but referrers may have come since).
    if !options.name_known_absent && dst.manifest_digest(dst_ref).await?.as_ref() == Some(&root.digest) {
        // A referrer being copied: there by digest is not yet listed as one.
        if let (false, Some(keeper)) = (options.referrer_chain.is_empty(), dst.capabilities().referrers) {
            if keeper.list_present_referrer(&root).await? {
                report.manifests_pushed += 1;
            }
        }
        if options.referrers {
            copy_referrers(src, src_ref, dst, dst_ref, &root, options, &mut report).await?;
        }
        return Ok(report);
    }
    // The content is there by digest (a manifest is accepted only once what it refers to is
    // present): only the name is missing. Asked for indexes only: for an image the blob checks
    // answer the same question, and asking first costs every fresh copy a request.
    let by_digest = TagOrDigest::Digest(root.digest.clone());
    let present = matches!(root.contents, Contents::Index { .. })
        && dst.manifest_digest(&by_digest).await?.as_ref() == Some(&root.digest);
    if !present {
        let mut children = Vec::new();
        let mut blobs = BTreeMap::new();
        collect(src, &root, 0, &mut children, &mut blobs).await?;
        copy_blobs(src, dst, blobs, options, &mut report).await?;
        for child in &children {
            dst.put_manifest(&TagOrDigest::Digest(child.digest.clone()), child)
                .await?;
            report.manifests_pushed += 1;
            options.emit(|| CopyEvent::ManifestPushed {
                digest: child.digest.clone(),
                reference: child.digest.to_string(),
            });
        }
    }
    // With referrers: the manifest first by digest, so no registry refuses a referrer for a
    // missing subject (a referrer of a referrer included); its tag only once they are all there.
    let pushed_by_digest = if options.referrers {
        let confirmed = dst.put_manifest(&by_digest, &root).await?;
        copy_referrers(src, src_ref, dst, dst_ref, &root, options, &mut report).await?;
        Some(confirmed)
    } else {
        None
    };
    let confirmed = match pushed_by_digest {
        Some(confirmed) if *dst_ref == by_digest => confirmed,
        _ => dst.put_manifest(dst_ref, &root).await?,
    };
    report.manifests_pushed += 1;
    options.emit(|| CopyEvent::ManifestPushed {
        digest: root.digest.clone(),
        reference: dst_ref.to_string(),
    });
    if confirmed {
        return Ok(report);
    }
    let landed = dst.manifest_digest(&by_digest).await?;
    if landed.as_ref() != Some(&root.digest) {
        return Err(Error::DigestMismatch {
            what: format!("copy of {src_ref} from {} to {}", src.describe(), dst.describe()),
            expected: root.digest.clone(),
            actual: landed.map(|d| d.to_string()).unwrap_or_else(|| "nothing".into()),
        });
    }
    Ok(report)
}

/// Copies the referrers of `root` (and of the manifests an index lists) from `src` to `dst`,
/// each through [`copy_content`], which copies their referrers in turn.
async fn copy_referrers<S: ContentSource, D: ContentDestination>(
    src: &S,
    src_ref: &TagOrDigest,
    dst: &D,
    dst_ref: &TagOrDigest,
    root: &Manifest,
    options: &CopyOptions,
    report: &mut CopyReport,
) -> Result<(), Error> {
    let mut subjects = vec![root.digest.clone()];
    if let Contents::Index { manifests } = &root.contents {
        subjects.extend(manifests.iter().map(|d| d.digest.clone()));
    }
    // What to copy: by tag, cosign's signatures, attestations and SBOMs made without OCI 1.1,
    // named after their subject (`sha256-<hex>.sig`, `.att`, `.sbom`) beside the image, where
    // the destination can keep such a tag; by digest, the OCI referrers.
    // (source name, destination name, digest expected)
    let mut wanted: Vec<(TagOrDigest, TagOrDigest, Option<Digest>)> = Vec::new();
    let listed = match src.capabilities().tags_beside {
        Some(lister) => lister.tags_beside(src_ref).await,
        None => Ok(Vec::new()),
    };
    let tags = match listed {
        Ok(tags) => tags,
        // A registry that will not list the tags has no digest tags to give.
        Err(e) if e.status().is_some_and(|s| matches!(s.as_u16(), 401 | 403 | 404)) => Vec::new(),
        Err(e) => return Err(e),
    };
    for subject in &subjects {
        let prefix = format!("{}.", crate::model::referrer::fallback_tag(subject));
        for (name, tag) in tags
            .iter()
            .filter(|(_, t)| t.as_str().len() > prefix.len() && t.as_str().starts_with(&prefix))
        {
            if let Some(to) = dst
                .capabilities()
                .names_beside
                .and_then(|n| n.name_beside(dst_ref, tag))
            {
                wanted.push((name.clone(), to, None));
            }
        }
    }
    let mut seen = HashSet::new();
    let Some(lister) = src.capabilities().referrers else {
        return Err(Error::Unsupported {
            what: format!("{} cannot list referrers", src.describe()),
            remedy: None,
        });
    };
    for subject in &subjects {
        for referrer in lister.referrers(subject).await? {
            // A listing naming the image itself (or one this copy is inside) is no referrer.
            if referrer.digest != root.digest
                && !options.referrer_chain.contains(&referrer.digest)
                && seen.insert(referrer.digest.clone())
            {
                let name = TagOrDigest::Digest(referrer.digest.clone());
                wanted.push((name.clone(), name, Some(referrer.digest)));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    // Tags can name each other in a circle; digests cannot, but a listing can lie.
    if options.referrer_chain.len() >= MAX_REFERRER_DEPTH {
        return Err(Error::Manifest {
            reference: src.describe(),
            reason: format!(
                "referrers of referrers nested more than {MAX_REFERRER_DEPTH} deep; refusing to follow them"
            ),
        });
    }
    let mut nested = options.clone();
    nested.name_known_absent = false;
    nested.referrer_chain.push(root.digest.clone());
    for (from, to, digest) in wanted {
        let copied = Box::pin(copy_content(src, &from, dst, &to, digest.as_ref(), &nested)).await?;
        if copied.manifests_pushed > 0 {
            report.referrers_copied += 1;
        }
        report.add(&copied);
    }
    Ok(())
}

/// Walks `manifest`: child manifests go to `children` (deepest first), blobs to `blobs`.
async fn collect<S: ContentSource>(
    src: &S,
    manifest: &Manifest,
    depth: usize,
    children: &mut Vec<Manifest>,
    blobs: &mut BTreeMap<Digest, Descriptor>,
) -> Result<(), Error> {
    match &manifest.contents {
        Contents::Image { config, layers } => {
            for d in std::iter::once(config).chain(layers).filter(|d| !d.is_foreign()) {
                blobs.entry(d.digest.clone()).or_insert_with(|| d.clone());
            }
        }
        Contents::Index { manifests } => {
            if depth >= MAX_INDEX_DEPTH {
                return Err(Error::Manifest {
                    reference: src.describe(),
                    reason: format!("indexes nested more than {MAX_INDEX_DEPTH} deep (a cycle?)"),
                });
            }
            if manifests.len() + children.len() > MAX_CHILD_MANIFESTS {
                return Err(Error::Manifest {
                    reference: src.describe(),
                    reason: format!(
                        "an index referring to more than {MAX_CHILD_MANIFESTS} manifests; refusing to \
                         fetch them all"
                    ),
                });
            }
            let mut seen = HashSet::new();
            for d in manifests {
                if !seen.insert(d.digest.clone()) {
                    continue;
                }
                let child = Box::pin(src.manifest(&TagOrDigest::Digest(d.digest.clone()))).await?;
                Box::pin(collect(src, &child, depth + 1, children, blobs)).await?;
                if !children.iter().any(|c| c.digest == child.digest) {
                    children.push(child);
                }
            }
        }
    }
    Ok(())
}

async fn copy_blobs<S: ContentSource, D: ContentDestination>(
    src: &S,
    dst: &D,
    blobs: BTreeMap<Digest, Descriptor>,
    options: &CopyOptions,
    report: &mut CopyReport,
) -> Result<(), Error> {
    let limit = Arc::new(Semaphore::new(options.concurrency.max(1)));
    options.emit(|| CopyEvent::Planned {
        blobs: blobs.len(),
        bytes: blobs.values().map(|d| d.size).sum(),
    });
    let mut tasks = JoinSet::new();
    for (_, desc) in blobs {
        let (src, dst, limit, options) = (src.clone(), dst.clone(), limit.clone(), options.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore open");
            let started = std::time::Instant::now();
            options.emit(|| CopyEvent::BlobStarted {
                digest: desc.digest.clone(),
                size: desc.size,
            });
            let outcome = match (&options.shared_blobs, dst.capabilities().uploads) {
                (Some(shared), Some(uploads)) => copy_shared_blob(&src, &dst, &desc, shared, uploads, &options).await,
                _ => copy_blob(&src, &dst, &desc, &options).await,
            };
            if let Ok(outcome) = &outcome {
                options.emit(|| CopyEvent::BlobDone {
                    digest: desc.digest.clone(),
                    size: desc.size,
                    disposition: match outcome {
                        BlobOutcome::Copied(_) => BlobDisposition::Copied,
                        BlobOutcome::Mounted => BlobDisposition::Mounted,
                        BlobOutcome::Skipped => BlobDisposition::Skipped,
                    },
                    elapsed: started.elapsed(),
                });
            }
            outcome
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let outcome = match joined {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        match outcome {
            Ok(BlobOutcome::Copied(n)) => {
                report.blobs_copied += 1;
                report.bytes_copied += n;
            }
            Ok(BlobOutcome::Mounted) => report.blobs_mounted += 1,
            Ok(BlobOutcome::Skipped) => report.blobs_skipped += 1,
            Err(e) => {
                tasks.abort_all();
                return Err(e);
            }
        }
    }
    Ok(())
}

/// [`copy_blob`] for a registry destination shared with other copies of the run: one copy
/// per repository brings the blob in (the others of that repository wait for it), and one copy
/// per registry transfers it (the others mount it from where it landed).
async fn copy_shared_blob<S: ContentSource, D: ContentDestination>(
    src: &S,
    dst: &D,
    desc: &Descriptor,
    shared: &SharedBlobs,
    uploads: &dyn Uploads,
    options: &CopyOptions,
) -> Result<BlobOutcome, Error> {
    let repo = uploads.repository();
    let in_repo = shared.cell(&repo.to_string(), &desc.digest);
    let bring = async {
        let in_registry = shared.cell(repo.api_host(), &desc.digest);
        let (ours, holder) = first_or_wait(&in_registry, repo, copy_blob(src, dst, desc, options)).await?;
        if let Some(outcome) = ours {
            return Ok(outcome);
        }
        match uploads.mount(holder, &desc.digest).await? {
            Some(MountOutcome::Mounted) => Ok(BlobOutcome::Mounted),
            // Refused with an upload session instead (a registry without mounts): give it back,
            // so it does not hold on to it until a purge, and transfer the blob after all.
            Some(MountOutcome::Upload(location)) => {
                uploads.cancel(location).await;
                copy_blob(src, dst, desc, options).await
            }
            None => copy_blob(src, dst, desc, options).await,
        }
    };
    let (ours, _) = first_or_wait(&in_repo, repo, bring).await?;
    Ok(ours.unwrap_or(BlobOutcome::Skipped))
}

/// Runs `work` if this copy is the first to reach `cell` (recording `repo` there once it
/// succeeds), else waits for the one that is. Returns this copy's outcome when it ran `work`,
/// and the repository recorded in the cell.
async fn first_or_wait<'c>(
    cell: &'c tokio::sync::OnceCell<Repository>,
    repo: &Repository,
    work: impl std::future::Future<Output = Result<BlobOutcome, Error>>,
) -> Result<(Option<BlobOutcome>, &'c Repository), Error> {
    let mut ours = None;
    let holder = cell
        .get_or_try_init(|| async {
            ours = Some(work.await?);
            Ok::<_, Error>(repo.clone())
        })
        .await?;
    Ok((ours, holder))
}

async fn copy_blob<S: ContentSource, D: ContentDestination>(
    src: &S,
    dst: &D,
    desc: &Descriptor,
    options: &CopyOptions,
) -> Result<BlobOutcome, Error> {
    let uploads = dst.capabilities().uploads;
    let probe = match uploads {
        Some(uploads) => uploads.probe(&desc.digest, src.capabilities().repository).await?,
        None if dst.has_blob(&desc.digest).await? => BlobProbe::Present,
        None => BlobProbe::Absent(None),
    };
    let mut upload = match (probe, uploads) {
        (BlobProbe::Present, _) => return Ok(BlobOutcome::Skipped),
        (BlobProbe::Mounted, _) => return Ok(BlobOutcome::Mounted),
        // Cancelled if the source fails, or this copy is dropped, before the upload starts.
        (BlobProbe::Absent(Some(location)), Some(uploads)) => Some(OpenUpload::new(uploads, location)),
        (BlobProbe::Absent(_), _) => None,
    };
    let mut budget = crate::session::layers::retry::Budget::new(options.retry_times);
    loop {
        // The source's GET has had its own retries: only what fails after it is restarted.
        let mut body = src.blob(desc, !dst.verifies_digests()).await?;
        if let Some(listener) = &options.listener {
            body = events::reporting_body(body, desc.digest.clone(), listener.clone());
        }
        let put = match (upload.take(), uploads) {
            (Some(open), Some(uploads)) => uploads.put_blob_at(desc, body, open.hand_over()).await,
            _ => dst.put_blob(desc, body).await,
        };
        match put {
            Err(e) if worth_restarting(&e) => {
                // A 429 or 503 accepted nothing: it has its budget (and Retry-After) of its own.
                let wait = match &e {
                    Error::Registry { retry_after, .. } if e.is_busy() => budget.after_busy(*retry_after),
                    _ => budget.after_failure(None),
                };
                match wait {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => return Err(blob_failure(e, src, dst, desc)),
                }
            }
            Err(e) => return Err(blob_failure(e, src, dst, desc)),
            Ok(()) => return Ok(BlobOutcome::Copied(desc.size)),
        }
    }
}

/// A transfer's final error: transport failures name the blob and both places.
fn blob_failure<S: ContentSource, D: ContentDestination>(e: Error, src: &S, dst: &D, desc: &Descriptor) -> Error {
    match e {
        Error::Transport(t) => Error::BlobTransfer {
            digest: desc.digest.clone(),
            source_repo: Some(src.describe()),
            destination: Some(dst.describe()),
            source: Box::new(t),
        },
        e => e,
    }
}

/// Whether a failed transfer may succeed when started over: broken connections and transient
/// registry answers, a session the registry forgot (404 BLOB_UPLOAD_UNKNOWN), an upload style
/// it refused; never content that is not what its descriptor says.
fn worth_restarting(e: &Error) -> bool {
    match e {
        Error::Transport(t) => !crate::blob::is_content_error(t),
        Error::Registry { status, errors, .. } => {
            crate::session::layers::retry::transient(*status)
                || matches!(status.as_u16(), 405 | 413 | 501)
                || (status.as_u16() == 404 && errors.iter().any(|e| e.code == RegistryErrorCode::BlobUploadUnknown))
        }
        _ => false,
    }
}

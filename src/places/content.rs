//! The traits the copy engine works against: two lean ones every place implements, and the
//! optional capabilities some places have, each a small trait of its own.
//!
//! Registries, OCI layouts and layout archives, skopeo `dir:` trees and the benchmark's
//! synthetic source and discarding sink all hold content addressed by digest. A
//! [`ContentSource`] serves manifests and verified blob streams; a [`ContentDestination`]
//! checks for, accepts and names content. Beyond that, a place says what more it can do
//! through [`ContentSource::capabilities`] and [`ContentDestination::capabilities`]: upload
//! sessions and mounts ([`Uploads`]), referrers ([`ListReferrers`], [`KeepReferrers`]), tags
//! beside an image ([`ListTagsBeside`], [`NameBeside`]). The engine asks for a capability where
//! it would use one and takes the plain way when a place has none, so every pair of places
//! (registry → registry, registry → layout, layout → registry, …) goes through the same code,
//! with the same verification and concurrency.

use std::future::Future;
use std::pin::Pin;

use crate::error::Error;
use crate::model::manifest::{Descriptor, Manifest};
use crate::model::name::{Repository, Tag, TagOrDigest};
use crate::model::reference::Digest;
use crate::model::referrer::Referrer;
use crate::places::registry::{MountOutcome, UploadLocation};
use crate::transport::Body;

/// The future a capability's method returns (capabilities are used as trait objects).
///
/// A place with nothing to list still answers through one (what [`ListReferrers`] returns):
/// ```
/// use irel::model::referrer::Referrer;
/// use irel::places::content::BoxFuture;
/// use irel::{places::ListReferrers, Digest, Error};
///
/// struct NoReferrers;
///
/// impl ListReferrers for NoReferrers {
///     fn referrers<'a>(&'a self, _subject: &'a Digest) -> BoxFuture<'a, Result<Vec<Referrer>, Error>> {
///         Box::pin(async { Ok(Vec::new()) })
///     }
/// }
/// ```
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where content is copied from.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), irel::Error> {
/// use irel::places::{ContentSource, SyntheticImage};
/// /// The digest of what `name` names in any place.
/// async fn digest_of(src: &impl ContentSource, name: &str) -> Result<irel::Digest, irel::Error> {
///     Ok(src.manifest(&name.parse()?).await?.digest)
/// }
/// let image = SyntheticImage::generate(1 << 20, 2, 7);
/// assert_eq!(digest_of(&image, "latest").await?, image.manifest().digest);
/// assert!(image.capabilities().referrers.is_none(), "no referrers to copy from here");
/// # Ok(()) }
/// ```
pub trait ContentSource: Clone + Send + Sync + 'static {
    /// A human name for messages (`registry.example/app`, `OCI image layout at /x`).
    fn describe(&self) -> String;

    /// The manifest `name` names here. Fetched by digest, it is verified against that digest.
    fn manifest(&self, name: &TagOrDigest) -> impl Future<Output = Result<Manifest, Error>> + Send;

    /// A stream of the blob `desc` describes, failing if its size does not match it, or its
    /// digest when `hash` (the engine skips hashing for destinations that verify digests).
    fn blob(&self, desc: &Descriptor, hash: bool) -> impl Future<Output = Result<Body, Error>> + Send;

    /// What this source can do beyond serving content; nothing by default.
    fn capabilities(&self) -> SourceCapabilities<'_> {
        SourceCapabilities::default()
    }
}

/// The optional capabilities of a [`ContentSource`].
///
/// ```
/// use irel::places::ContentSource;
/// let dir = tempfile::tempdir().unwrap();
/// let layout = irel::layout::OciLayout::create(dir.path()).unwrap();
/// let caps = ContentSource::capabilities(&layout);
/// assert!(caps.referrers.is_some() && caps.tags_beside.is_some());
/// assert!(caps.repository.is_none(), "not a registry: nothing mounts from it");
/// ```
#[derive(Clone, Copy, Default)]
#[non_exhaustive]
pub struct SourceCapabilities<'a> {
    /// The registry repository this source is: destinations on the same registry mount from it.
    pub repository: Option<&'a Repository>,
    /// Lists the referrers of a manifest (OCI 1.1).
    pub referrers: Option<&'a dyn ListReferrers>,
    /// Lists the tags beside an image (cosign's `sha256-<hex>.sig`).
    pub tags_beside: Option<&'a dyn ListTagsBeside>,
}

impl std::fmt::Debug for SourceCapabilities<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceCapabilities")
            .field("repository", &self.repository)
            .field("referrers", &self.referrers.is_some())
            .field("tags_beside", &self.tags_beside.is_some())
            .finish()
    }
}

/// Where content is copied to.
///
/// A destination that keeps nothing but counts the blobs it is given:
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), irel::Error> {
/// use std::sync::{atomic::{AtomicUsize, Ordering}, Arc};
/// use http_body_util::BodyExt as _;
/// use irel::manifest::{Descriptor, Manifest};
/// use irel::model::name::TagOrDigest;
/// use irel::places::{ContentDestination, SyntheticImage};
/// use irel::{transport::Body, Digest, Error};
///
/// #[derive(Clone, Default)]
/// struct CountBlobs(Arc<AtomicUsize>);
///
/// impl ContentDestination for CountBlobs {
///     fn describe(&self) -> String {
///         "a blob counter".into()
///     }
///     async fn manifest_digest(&self, _: &TagOrDigest) -> Result<Option<Digest>, Error> {
///         Ok(None)
///     }
///     async fn has_blob(&self, _: &Digest) -> Result<bool, Error> {
///         Ok(false)
///     }
///     async fn put_blob(&self, desc: &Descriptor, mut body: Body) -> Result<(), Error> {
///         // Read to the end: the source checks size and digest as the bytes go by.
///         while let Some(frame) = body.frame().await {
///             frame.map_err(|source| Error::BlobTransfer {
///                 digest: desc.digest.clone(),
///                 source_repo: None,
///                 destination: Some(self.describe()),
///                 source,
///             })?;
///         }
///         self.0.fetch_add(1, Ordering::SeqCst);
///         Ok(())
///     }
///     async fn put_manifest(&self, _: &TagOrDigest, _: &Manifest) -> Result<bool, Error> {
///         Ok(true)
///     }
/// }
///
/// let (src, dst) = (SyntheticImage::generate(1 << 20, 3, 7), CountBlobs::default());
/// let latest: TagOrDigest = "latest".parse()?;
/// irel::copy_content(&src, &latest, &dst, &latest, None, &Default::default()).await?;
/// assert_eq!(dst.0.load(Ordering::SeqCst), 4, "three layers and the config");
/// # Ok(()) }
/// ```
pub trait ContentDestination: Clone + Send + Sync + 'static {
    /// A human name for messages.
    fn describe(&self) -> String;

    /// The digest of the manifest `name` names here, if any.
    fn manifest_digest(&self, name: &TagOrDigest) -> impl Future<Output = Result<Option<Digest>, Error>> + Send;

    /// Whether the blob is already here.
    fn has_blob(&self, digest: &Digest) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Stores a blob from a verified stream.
    fn put_blob(&self, desc: &Descriptor, body: Body) -> impl Future<Output = Result<(), Error>> + Send;

    /// Stores a manifest's exact bytes under `name`. Returns whether the destination confirmed
    /// the digest it stored (when not, the engine reads it back).
    fn put_manifest(&self, name: &TagOrDigest, manifest: &Manifest)
        -> impl Future<Output = Result<bool, Error>> + Send;

    /// Whether this destination checks every blob's digest itself (a registry does on upload,
    /// irel's layout and dir: writers do before renaming), so the source need not hash too.
    fn verifies_digests(&self) -> bool {
        false
    }

    /// What this destination can do beyond storing content; nothing by default.
    fn capabilities(&self) -> DestinationCapabilities<'_> {
        DestinationCapabilities::default()
    }
}

/// The optional capabilities of a [`ContentDestination`].
///
/// ```
/// use irel::places::{ContentDestination, Discard};
/// let client = irel::Client::builder().build().unwrap();
/// let image: irel::Reference = "localhost:5000/team/app:1.0".parse().unwrap();
/// let registry = irel::RegistryRepository::new(client.registry().clone(), &image.to_repository());
/// assert!(registry.capabilities().uploads.is_some(), "upload sessions and mounts");
/// assert!(Discard.capabilities().uploads.is_none(), "blobs go through put_blob");
/// ```
#[derive(Clone, Copy, Default)]
#[non_exhaustive]
pub struct DestinationCapabilities<'a> {
    /// Upload sessions and mounts (a registry).
    pub uploads: Option<&'a dyn Uploads>,
    /// Keeps referrers pushed by digest findable (a registry's referrers API or fallback tag,
    /// a layout's `index.json`).
    pub referrers: Option<&'a dyn KeepReferrers>,
    /// Keeps tags beside an image (cosign's `sha256-<hex>.sig`).
    pub names_beside: Option<&'a dyn NameBeside>,
}

impl std::fmt::Debug for DestinationCapabilities<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DestinationCapabilities")
            .field("uploads", &self.uploads.map(|u| u.repository()))
            .field("referrers", &self.referrers.is_some())
            .field("names_beside", &self.names_beside.is_some())
            .finish()
    }
}

/// A source's referrers listing.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), irel::Error> {
/// use irel::places::ContentSource;
/// let dir = tempfile::tempdir().unwrap();
/// let layout = irel::layout::OciLayout::create(dir.path())?;
/// if let Some(listing) = ContentSource::capabilities(&layout).referrers {
///     let subject = irel::Digest::sha256_of(b"an image manifest");
///     assert!(listing.referrers(&subject).await?.is_empty());
/// }
/// # Ok(()) }
/// ```
pub trait ListReferrers: Send + Sync {
    /// The manifests here that name `subject` as theirs.
    fn referrers<'a>(&'a self, subject: &'a Digest) -> BoxFuture<'a, Result<Vec<Referrer>, Error>>;
}

/// A source's tags beside an image.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), irel::Error> {
/// use irel::places::{ContentSource, SyntheticImage};
/// let dir = tempfile::tempdir().unwrap();
/// let layout = irel::layout::OciLayout::create(dir.path())?;
/// let (image, latest) = (SyntheticImage::generate(1024, 1, 1), "latest".parse()?);
/// for name in ["registry.example/app:1.0", "registry.example/app:1.0.sig"] {
///     irel::copy_content(&image, &latest, &layout, &name.parse()?, None, &Default::default()).await?;
/// }
/// let beside = ContentSource::capabilities(&layout).tags_beside.unwrap();
/// let tags = beside.tags_beside(&"registry.example/app:1.0".parse()?).await?;
/// assert_eq!(tags.len(), 2, "{tags:?}");
/// # Ok(()) }
/// ```
pub trait ListTagsBeside: Send + Sync {
    /// The tags beside `name` (the name a copy was asked for), each with the name that fetches
    /// it here.
    fn tags_beside<'a>(&'a self, name: &'a TagOrDigest) -> BoxFuture<'a, Result<Vec<(TagOrDigest, Tag)>, Error>>;
}

/// A destination that keeps referrers findable.
///
/// ```
/// use irel::places::{ContentDestination, Discard};
/// let dir = tempfile::tempdir().unwrap();
/// let layout = irel::layout::OciLayout::create(dir.path()).unwrap();
/// assert!(ContentDestination::capabilities(&layout).referrers.is_some(), "index.json lists them");
/// assert!(Discard.capabilities().referrers.is_none());
/// ```
pub trait KeepReferrers: Send + Sync {
    /// Makes sure `referrer`, already here by digest, is listed among its subject's referrers
    /// here, pushing it again when it is not (a registry whose storage is shared by all its
    /// repositories, zuul-registry's, has it by digest in a repository whose fallback index
    /// never named it). Returns whether it pushed.
    fn list_present_referrer<'a>(&'a self, referrer: &'a Manifest) -> BoxFuture<'a, Result<bool, Error>>;
}

/// A destination that keeps tags beside an image.
///
/// ```
/// use irel::model::name::Tag;
/// use irel::places::ContentDestination;
/// let dir = tempfile::tempdir().unwrap();
/// let layout = irel::layout::OciLayout::create(dir.path()).unwrap();
/// let names = ContentDestination::capabilities(&layout).names_beside.unwrap();
/// let copied_as = "registry.example/app:1.0".parse().unwrap();
/// let sig = names.name_beside(&copied_as, &Tag::new("sha256-ab.sig").unwrap()).unwrap();
/// assert_eq!(sig.to_string(), "registry.example/app:sha256-ab.sig");
/// ```
pub trait NameBeside: Send + Sync {
    /// The name under which tag `tag` of the repository a copy named `name` here is kept.
    fn name_beside(&self, name: &TagOrDigest, tag: &Tag) -> Option<TagOrDigest>;
}

/// A destination's upload sessions and mounts: what a registry offers beyond a plain store.
///
/// ```
/// use irel::places::ContentDestination;
/// let client = irel::Client::builder().build().unwrap();
/// let image: irel::Reference = "localhost:5000/team/app:1.0".parse().unwrap();
/// let dst = irel::RegistryRepository::new(client.registry().clone(), &image.to_repository());
/// let uploads = dst.capabilities().uploads.expect("a registry has upload sessions");
/// assert_eq!(uploads.repository().path(), "team/app");
/// ```
pub trait Uploads: Send + Sync {
    /// The registry repository blobs go to (copies into one registry share blobs through it).
    fn repository(&self) -> &Repository;

    /// Finds out whether a blob needs transferring: present already, mounted from `from` (a
    /// repository the content comes from), or to be sent, with an upload session already open
    /// perhaps.
    fn probe<'a>(&'a self, digest: &'a Digest, from: Option<&'a Repository>)
        -> BoxFuture<'a, Result<BlobProbe, Error>>;

    /// Asks to link `digest` from `from` instead of transferring it. `None` when this
    /// destination cannot mount from there; `Some(Upload(location))` when it refused and opened
    /// an upload the blob should go to.
    fn mount<'a>(
        &'a self,
        from: &'a Repository,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Option<MountOutcome>, Error>>;

    /// Stores a blob through the upload session `upload` (one a probe or a refused mount
    /// opened).
    fn put_blob_at<'a>(
        &'a self,
        desc: &'a Descriptor,
        body: Body,
        upload: UploadLocation,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Abandons an upload session (best effort). The work is counted among the place's
    /// cleanups from this call on, so a program stopping on a signal waits for it.
    fn cancel(&self, upload: UploadLocation) -> BoxFuture<'static, ()>;
}

/// What [`Uploads::probe`] found.
///
/// ```no_run
/// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
/// use irel::places::{BlobProbe, ContentDestination};
/// let (from, to): (irel::Reference, irel::Reference) = ("r.example/a:1".parse()?, "r.example/b:1".parse()?);
/// let dst = irel::RegistryRepository::new(client.registry().clone(), &to.to_repository());
/// let uploads = dst.capabilities().uploads.unwrap();
/// let digest = irel::Digest::sha256_of(b"a layer");
/// match uploads.probe(&digest, Some(&from.to_repository())).await? {
///     BlobProbe::Present | BlobProbe::Mounted => println!("nothing to send"),
///     BlobProbe::Absent(upload) => println!("send it (session open: {})", upload.is_some()),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobProbe {
    /// The destination has the blob.
    Present,
    /// The destination linked it from the source repository.
    Mounted,
    /// It must be sent; to this upload session, if one was opened.
    Absent(Option<UploadLocation>),
}

/// An upload session at a destination that no transfer has finished yet: cancelled if it is
/// dropped before being handed over (a source that failed, a copy aborted by a sibling's
/// failure), so the destination frees it instead of keeping it until it purges old uploads.
pub(crate) struct OpenUpload<'a>(Option<(&'a dyn Uploads, UploadLocation)>);

impl<'a> OpenUpload<'a> {
    pub(crate) fn new(uploads: &'a dyn Uploads, location: UploadLocation) -> Self {
        OpenUpload(Some((uploads, location)))
    }

    /// The location, for the transfer that now answers for the session.
    pub(crate) fn hand_over(mut self) -> UploadLocation {
        self.0.take().expect("an open upload is handed over once").1
    }
}

impl Drop for OpenUpload<'_> {
    fn drop(&mut self) {
        if let (Some((uploads, location)), Ok(runtime)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            // Counted as the future is made, before the task runs: a program stopping on
            // Ctrl-C waits for it.
            runtime.spawn(uploads.cancel(location));
        }
    }
}

//! The two traits the copy engine works against.
//!
//! Registries, OCI layouts and layout archives are all places that hold content addressed by
//! digest. A [`ContentSource`] serves manifests and verified blob streams; a
//! [`ContentDestination`] checks for, accepts and names content. The engine never asks which
//! kind it has, so every pair (registry → registry, registry → layout, layout → registry, …)
//! goes through the same code, with the same verification and concurrency.

use std::future::Future;

use crate::error::Error;
use crate::model::manifest::{Descriptor, Manifest};
use crate::model::referrer::Referrer;
use crate::places::registry::MountOutcome;
use crate::reference::{Digest, Reference};
use crate::transport::Body;

/// Where content is copied from.
pub trait ContentSource: Clone + Send + Sync + 'static {
    /// A human name for messages (`registry.example/app`, `OCI image layout at /x`).
    fn describe(&self) -> String;

    /// The manifest `reference` names: a tag (or layout ref name) or a digest. Fetched by digest,
    /// it is verified against that digest.
    fn manifest(&self, reference: &str) -> impl Future<Output = Result<Manifest, Error>> + Send;

    /// A stream of the blob `desc` describes, failing if its size does not match it, or its
    /// digest when `hash` (the engine skips hashing for destinations that verify digests).
    fn blob(&self, desc: &Descriptor, hash: bool) -> impl Future<Output = Result<Body, Error>> + Send;

    /// The registry repository this source is, when it is one (destinations on the same
    /// registry can mount from it).
    fn registry_repository(&self) -> Option<&Reference> {
        None
    }

    /// The tags beside `reference` (the name a copy was asked for), each with the name that
    /// fetches it here, for the ones that name referrers by their subject's digest (cosign's
    /// `sha256-<hex>.sig`). Places without tags have none.
    fn tags_beside(&self, reference: &str) -> impl Future<Output = Result<Vec<(String, String)>, Error>> + Send {
        let _ = reference;
        async { Ok(Vec::new()) }
    }

    /// Whether [`referrers`](Self::referrers) can answer here.
    fn lists_referrers(&self) -> bool {
        false
    }

    /// The manifests here that name `subject` as theirs (see [`Registry::referrers`](crate::places::registry::Registry::referrers)).
    fn referrers(&self, subject: &Digest) -> impl Future<Output = Result<Vec<Referrer>, Error>> + Send {
        let what = format!("{} cannot list the referrers of {subject}", self.describe());
        async move { Err(Error::Unsupported { what, remedy: None }) }
    }
}

/// Where content is copied to.
pub trait ContentDestination: Clone + Send + Sync + 'static {
    /// A human name for messages.
    fn describe(&self) -> String;

    /// The digest of the manifest `reference` names here, if any.
    fn manifest_digest(&self, reference: &str) -> impl Future<Output = Result<Option<Digest>, Error>> + Send;

    /// Whether the blob is already here.
    fn has_blob(&self, digest: &Digest) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Asks to link `digest` from `from` instead of transferring it. `None` when this
    /// destination cannot mount from there; `Some(Upload(location))` when it refused and opened
    /// an upload the blob should go to.
    fn mount(
        &self,
        _from: &Reference,
        _digest: &Digest,
    ) -> impl Future<Output = Result<Option<MountOutcome>, Error>> + Send {
        async { Ok(None) }
    }

    /// Finds out whether a blob needs transferring: present already, mounted from `from` (a
    /// registry repository the content comes from), or to be sent (with an upload session
    /// already open, perhaps). By default [`has_blob`](Self::has_blob), then
    /// [`mount`](Self::mount).
    fn probe_blob(
        &self,
        digest: &Digest,
        from: Option<&Reference>,
    ) -> impl Future<Output = Result<BlobProbe, Error>> + Send {
        async move {
            if self.has_blob(digest).await? {
                return Ok(BlobProbe::Present);
            }
            let Some(from) = from else {
                return Ok(BlobProbe::Absent(None));
            };
            Ok(match self.mount(from, digest).await? {
                Some(MountOutcome::Mounted) => BlobProbe::Mounted,
                Some(MountOutcome::Upload(location)) => BlobProbe::Absent(Some(location)),
                None => BlobProbe::Absent(None),
            })
        }
    }

    /// Stores a blob from a verified stream (`upload` is a session a refused mount opened).
    fn put_blob(
        &self,
        desc: &Descriptor,
        body: Body,
        upload: Option<String>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Stores a manifest's exact bytes under `reference` (a digest, or a tag / ref name).
    /// Returns whether the destination confirmed the digest it stored (when not, the engine
    /// reads it back).
    fn put_manifest(&self, reference: &str, manifest: &Manifest) -> impl Future<Output = Result<bool, Error>> + Send;

    /// The registry repository this destination is, when it is one (other copies into the same
    /// registry can mount from it).
    fn registry_repository(&self) -> Option<&Reference> {
        None
    }

    /// Whether this destination checks every blob's digest itself (a registry does on upload,
    /// irel's layout and dir: writers do before renaming), so the source need not hash too.
    fn verifies_digests(&self) -> bool {
        false
    }

    /// Abandons an upload session this destination opened (best effort).
    fn cancel_upload(&self, location: &str) -> impl Future<Output = ()> + Send {
        let _ = location;
        async {}
    }

    /// A cleanup counted from now until the guard is dropped, for a place whose cancellations
    /// a program stopping on a signal waits for (a registry's, through its client).
    fn cleanup_guard(&self) -> Option<crate::places::cleanup::CleanupGuard> {
        None
    }

    /// Whether referrers pushed here by digest can be found again (a registry's referrers
    /// API or fallback tag, a layout's `index.json`).
    fn keeps_referrers(&self) -> bool {
        false
    }

    /// Makes sure `referrer`, already here by digest, is listed among its subject's referrers
    /// here, pushing it again when it is not (a registry whose storage is shared by all its
    /// repositories, zuul-registry's, has it by digest in a repository whose fallback index never
    /// named it). Returns whether it pushed. By default nothing to do.
    fn list_present_referrer(&self, referrer: &Manifest) -> impl Future<Output = Result<bool, Error>> + Send {
        let _ = referrer;
        async { Ok(false) }
    }

    /// The name under which tag `tag` of the repository a copy named `reference` here is kept
    /// (for cosign's `sha256-<hex>.sig` beside its image), if this place can keep it.
    fn name_beside(&self, reference: &str, tag: &str) -> Option<String> {
        let _ = (reference, tag);
        None
    }
}

/// What [`ContentDestination::probe_blob`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobProbe {
    /// The destination has the blob.
    Present,
    /// The destination linked it from the source repository.
    Mounted,
    /// It must be sent; to this upload session, if one was opened.
    Absent(Option<String>),
}

/// An upload session at a destination that no transfer has finished yet: cancelled if it is
/// dropped before being handed over (a source that failed, a copy aborted by a sibling's
/// failure), so the destination frees it instead of keeping it until it purges old uploads.
pub(crate) struct OpenUpload<D: ContentDestination>(Option<(D, String)>);

impl<D: ContentDestination> OpenUpload<D> {
    pub(crate) fn new(dst: &D, location: String) -> Self {
        OpenUpload(Some((dst.clone(), location)))
    }

    /// The location, for the transfer that now answers for the session.
    pub(crate) fn hand_over(mut self) -> String {
        self.0.take().expect("an open upload is handed over once").1
    }
}

impl<D: ContentDestination> Drop for OpenUpload<D> {
    fn drop(&mut self) {
        if let (Some((dst, location)), Ok(runtime)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            // Counted now, before the task runs: a program stopping on Ctrl-C waits for it.
            let guard = dst.cleanup_guard();
            runtime.spawn(async move {
                dst.cancel_upload(&location).await;
                drop(guard);
            });
        }
    }
}

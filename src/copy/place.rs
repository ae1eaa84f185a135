//! The two traits the copy engine works against, and their registry implementation.
//!
//! Registries, OCI layouts and layout archives are all places that hold content addressed by
//! digest. A [`ContentSource`] serves manifests and verified blob streams; a
//! [`ContentDestination`] checks for, accepts and names content. The engine never asks which
//! kind it has, so every pair (registry → registry, registry → layout, layout → registry, …)
//! goes through the same code, with the same verification and concurrency.

use std::future::Future;

use crate::blob::MountOutcome;
use crate::client::Client;
use crate::error::Error;
use crate::manifest::{Descriptor, Manifest, Referrer};
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

    /// The manifests here that name `subject` as theirs (see [`Client::referrers`]).
    fn referrers(&self, subject: &Digest) -> impl Future<Output = Result<Vec<Referrer>, Error>> + Send {
        let what = format!("{} cannot list the referrers of {subject}", self.describe());
        async move { Err(Error::Unsupported(what)) }
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
    fn cleanup_guard(&self) -> Option<crate::copy::CleanupGuard> {
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

/// A repository on a registry, as a source or a destination.
#[derive(Clone)]
pub struct RegistryRepository {
    client: Client,
    repository: Reference,
}

impl RegistryRepository {
    /// The repository `reference` is in (its tag and digest are ignored).
    pub fn new(client: Client, reference: &Reference) -> Self {
        RegistryRepository {
            client,
            repository: reference.without_tag_or_digest(),
        }
    }

    /// `reference` (a tag or digest) in this repository.
    pub fn at(&self, reference: &str) -> Result<Reference, Error> {
        Ok(match reference.parse::<Digest>() {
            Ok(d) => self.repository.with_digest(d),
            Err(_) => self.repository.with_tag(reference)?,
        })
    }
}

impl ContentSource for RegistryRepository {
    fn describe(&self) -> String {
        self.repository.to_string()
    }

    async fn manifest(&self, reference: &str) -> Result<Manifest, Error> {
        self.client.get_manifest(&self.at(reference)?).await
    }

    async fn blob(&self, desc: &Descriptor, hash: bool) -> Result<Body, Error> {
        Ok(self
            .client
            .get_blob_checked(&self.repository, &desc.digest, desc.size, hash)
            .await?
            .into_body())
    }

    fn registry_repository(&self) -> Option<&Reference> {
        Some(&self.repository)
    }

    fn lists_referrers(&self) -> bool {
        true
    }

    async fn referrers(&self, subject: &Digest) -> Result<Vec<Referrer>, Error> {
        self.client.referrers(&self.repository, subject, None).await
    }

    async fn tags_beside(&self, _reference: &str) -> Result<Vec<(String, String)>, Error> {
        let tags = self.client.tags(&self.repository).await?;
        Ok(tags.into_iter().map(|t| (t.clone(), t)).collect())
    }
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

impl ContentDestination for RegistryRepository {
    fn describe(&self) -> String {
        self.repository.to_string()
    }

    async fn manifest_digest(&self, reference: &str) -> Result<Option<Digest>, Error> {
        Ok(self.client.head_manifest(&self.at(reference)?).await?.map(|h| h.digest))
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool, Error> {
        Ok(self.client.blob_exists(&self.repository, digest).await?.is_some())
    }

    async fn mount(&self, from: &Reference, digest: &Digest) -> Result<Option<MountOutcome>, Error> {
        if from.api_host() != self.repository.api_host() || from.repository() == self.repository.repository() {
            return Ok(None);
        }
        self.client
            .try_mount_blob(&self.repository, digest, from.repository())
            .await
    }

    /// One request per blob instead of a HEAD and a POST: a mount from the source repository
    /// when it is on this registry, else a mount from this repository itself, which answers
    /// 201 when the blob is here and otherwise opens the upload session the blob then needs
    /// (a registry that cannot mount opens the session too, as the distribution spec asks).
    /// A registry that refuses mount requests altogether gets a HEAD instead, and the blob a
    /// plain upload POST.
    async fn probe_blob(&self, digest: &Digest, from: Option<&Reference>) -> Result<BlobProbe, Error> {
        // `mount` decides whether `from` is another repository of this registry.
        if let Some(from) = from {
            match self.mount(from, digest).await? {
                Some(MountOutcome::Mounted) => return Ok(BlobProbe::Mounted),
                Some(MountOutcome::Upload(location)) => return Ok(BlobProbe::Absent(Some(location))),
                None => {}
            }
        }
        let outcome = self
            .client
            .try_mount_blob(&self.repository, digest, self.repository.repository())
            .await?;
        Ok(match outcome {
            Some(MountOutcome::Mounted) => BlobProbe::Present,
            Some(MountOutcome::Upload(location)) => BlobProbe::Absent(Some(location)),
            None if self.has_blob(digest).await? => BlobProbe::Present,
            None => BlobProbe::Absent(None),
        })
    }

    async fn put_blob(&self, desc: &Descriptor, body: Body, upload: Option<String>) -> Result<(), Error> {
        let location = match upload {
            Some(l) => l,
            None => self.client.start_upload(&self.repository).await?,
        };
        // Cancelled if the transfer is dropped half-way, and when it fails (whether it starts
        // over with a new session or gives up): either way the session holds a partial blob.
        let open = OpenUpload::new(self, location.clone());
        let result = self
            .client
            .finish_upload(&self.repository, &location, &desc.digest, desc.size, body)
            .await;
        let location = open.hand_over();
        if result.is_err() {
            self.cancel_upload(&location).await;
        }
        result
    }

    fn cleanup_guard(&self) -> Option<crate::copy::CleanupGuard> {
        Some(self.client.cleanups.enter())
    }

    fn cancel_upload(&self, location: &str) -> impl Future<Output = ()> + Send {
        // Counted from now (not from the first poll): a program stopping on Ctrl-C waits for it.
        let guard = self.client.cleanups.enter();
        let (client, repository, location) = (self.client.clone(), self.repository.clone(), location.to_string());
        async move {
            client.cancel_upload(&repository, &location).await;
            drop(guard);
        }
    }

    async fn put_manifest(&self, reference: &str, manifest: &Manifest) -> Result<bool, Error> {
        self.client
            .put_manifest_confirmed(&self.repository, reference, manifest)
            .await
    }

    fn registry_repository(&self) -> Option<&Reference> {
        Some(&self.repository)
    }

    fn verifies_digests(&self) -> bool {
        true
    }

    fn keeps_referrers(&self) -> bool {
        true
    }

    fn name_beside(&self, _reference: &str, tag: &str) -> Option<String> {
        Some(tag.to_string())
    }

    async fn list_present_referrer(&self, referrer: &Manifest) -> Result<bool, Error> {
        let Some(subject) = referrer.subject() else {
            return Ok(false);
        };
        let listed = self.client.referrers(&self.repository, &subject, None).await?;
        if listed.iter().any(|r| r.digest == referrer.digest) {
            return Ok(false);
        }
        // Pushed again, the registry indexes it (OCI-Subject) or irel adds it to the fallback
        // index.
        self.client
            .put_manifest_confirmed(&self.repository, referrer.digest.as_str(), referrer)
            .await?;
        Ok(true)
    }
}

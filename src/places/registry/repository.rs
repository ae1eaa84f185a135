//! A registry repository as a content place: the [`ContentSource`] and
//! [`ContentDestination`] the copy engine reaches registries through.

use std::future::Future;

use super::{MountOutcome, Registry};
use crate::error::Error;
use crate::model::manifest::{Descriptor, Manifest};
use crate::model::reference::{Digest, Reference};
use crate::model::referrer::Referrer;
use crate::places::content::{BlobProbe, ContentDestination, ContentSource};
use crate::transport::Body;

/// A repository on a registry, as a source or a destination.
#[derive(Clone, Debug)]
pub struct RegistryRepository {
    registry: Registry,
    repository: Reference,
}

impl RegistryRepository {
    /// The repository `reference` is in (its tag and digest are ignored).
    pub fn new(registry: Registry, reference: &Reference) -> Self {
        RegistryRepository {
            registry,
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
        self.registry.get_manifest(&self.at(reference)?).await
    }

    async fn blob(&self, desc: &Descriptor, hash: bool) -> Result<Body, Error> {
        Ok(self
            .registry
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
        self.registry.referrers(&self.repository, subject, None).await
    }

    async fn tags_beside(&self, _reference: &str) -> Result<Vec<(String, String)>, Error> {
        let tags = self.registry.tags(&self.repository).await?;
        Ok(tags.into_iter().map(|t| (t.clone(), t)).collect())
    }
}

impl ContentDestination for RegistryRepository {
    fn describe(&self) -> String {
        self.repository.to_string()
    }

    async fn manifest_digest(&self, reference: &str) -> Result<Option<Digest>, Error> {
        Ok(self
            .registry
            .head_manifest(&self.at(reference)?)
            .await?
            .map(|h| h.digest))
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool, Error> {
        Ok(self.registry.blob_exists(&self.repository, digest).await?.is_some())
    }

    async fn mount(&self, from: &Reference, digest: &Digest) -> Result<Option<MountOutcome>, Error> {
        if from.api_host() != self.repository.api_host() || from.repository() == self.repository.repository() {
            return Ok(None);
        }
        self.registry
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
            .registry
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
            None => self.registry.start_upload(&self.repository).await?,
        };
        // Cancelled if the transfer is dropped half-way, and when it fails (whether it starts
        // over with a new session or gives up): either way the session holds a partial blob.
        let open = crate::places::content::OpenUpload::new(self, location.clone());
        let result = self
            .registry
            .finish_upload(&self.repository, &location, &desc.digest, desc.size, body)
            .await;
        let location = open.hand_over();
        if result.is_err() {
            self.cancel_upload(&location).await;
        }
        result
    }

    fn cleanup_guard(&self) -> Option<crate::places::cleanup::CleanupGuard> {
        Some(self.registry.cleanups.enter())
    }

    fn cancel_upload(&self, location: &str) -> impl Future<Output = ()> + Send {
        // Counted from now (not from the first poll): a program stopping on Ctrl-C waits for it.
        let guard = self.registry.cleanups.enter();
        let (registry, repository, location) = (self.registry.clone(), self.repository.clone(), location.to_string());
        async move {
            registry.cancel_upload(&repository, &location).await;
            drop(guard);
        }
    }

    async fn put_manifest(&self, reference: &str, manifest: &Manifest) -> Result<bool, Error> {
        self.registry
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
        let listed = self.registry.referrers(&self.repository, &subject, None).await?;
        if listed.iter().any(|r| r.digest == referrer.digest) {
            return Ok(false);
        }
        // Pushed again, the registry indexes it (OCI-Subject) or irel adds it to the fallback
        // index.
        self.registry
            .put_manifest_confirmed(&self.repository, referrer.digest.as_str(), referrer)
            .await?;
        Ok(true)
    }
}

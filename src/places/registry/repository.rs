//! A registry repository as a content place: the [`ContentSource`] and
//! [`ContentDestination`] the copy engine reaches registries through, with every capability
//! a registry has (uploads and mounts, referrers, tags beside an image).

use super::{MountOutcome, Registry, UploadLocation};
use crate::error::Error;
use crate::model::manifest::{Descriptor, Manifest};
use crate::model::name::{Repository, Tag, TagOrDigest};
use crate::model::reference::{Digest, Reference};
use crate::model::referrer::Referrer;
use crate::places::content::{
    BlobProbe, BoxFuture, ContentDestination, ContentSource, DestinationCapabilities, KeepReferrers, ListReferrers,
    ListTagsBeside, NameBeside, OpenUpload, SourceCapabilities, Uploads,
};
use crate::transport::Body;

/// A repository on a registry, as a source or a destination.
///
/// ```
/// let client = irel::Client::builder().build().unwrap();
/// let image: irel::Reference = "localhost:5000/team/app:1.0".parse().unwrap();
/// let place = irel::RegistryRepository::new(client.registry().clone(), &image.to_repository());
/// assert_eq!(place.repository().path(), "team/app");
/// ```
#[derive(Clone, Debug)]
pub struct RegistryRepository {
    registry: Registry,
    repository: Repository,
}

impl RegistryRepository {
    /// `repository` on the registries `registry` reaches.
    pub fn new(registry: Registry, repository: &Repository) -> Self {
        RegistryRepository {
            registry,
            repository: repository.clone(),
        }
    }

    /// The repository.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// The image `name` names in this repository.
    pub fn at(&self, name: &TagOrDigest) -> Result<Reference, Error> {
        Ok(self.repository.at(name)?)
    }
}

impl ContentSource for RegistryRepository {
    fn describe(&self) -> String {
        self.repository.to_string()
    }

    async fn manifest(&self, name: &TagOrDigest) -> Result<Manifest, Error> {
        self.registry.get_manifest(&self.at(name)?).await
    }

    async fn blob(&self, desc: &Descriptor, hash: bool) -> Result<Body, Error> {
        Ok(self
            .registry
            .get_blob_checked(&self.repository, &desc.digest, desc.size, hash)
            .await?
            .into_body())
    }

    fn capabilities(&self) -> SourceCapabilities<'_> {
        SourceCapabilities {
            repository: Some(&self.repository),
            referrers: Some(self),
            tags_beside: Some(self),
        }
    }
}

impl ListReferrers for RegistryRepository {
    fn referrers<'a>(&'a self, subject: &'a Digest) -> BoxFuture<'a, Result<Vec<Referrer>, Error>> {
        Box::pin(self.registry.referrers(&self.repository, subject, None))
    }
}

impl ListTagsBeside for RegistryRepository {
    /// Every tag of the repository: each fetched by itself.
    fn tags_beside<'a>(&'a self, _name: &'a TagOrDigest) -> BoxFuture<'a, Result<Vec<(TagOrDigest, Tag)>, Error>> {
        Box::pin(async move {
            let tags = self.registry.tags(&self.repository).await?;
            Ok(tags
                .into_iter()
                .filter_map(|t| Tag::new(&t).ok())
                .map(|t| (TagOrDigest::Tag(t.clone()), t))
                .collect())
        })
    }
}

impl ContentDestination for RegistryRepository {
    fn describe(&self) -> String {
        self.repository.to_string()
    }

    async fn manifest_digest(&self, name: &TagOrDigest) -> Result<Option<Digest>, Error> {
        Ok(self.registry.head_manifest(&self.at(name)?).await?.map(|h| h.digest))
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool, Error> {
        Ok(self.registry.blob_exists(&self.repository, digest).await?.is_some())
    }

    async fn put_blob(&self, desc: &Descriptor, body: Body) -> Result<(), Error> {
        let location = self.registry.start_upload(&self.repository).await?;
        self.put_blob_at(desc, body, location).await
    }

    async fn put_manifest(&self, name: &TagOrDigest, manifest: &Manifest) -> Result<bool, Error> {
        self.registry
            .put_manifest_confirmed(&self.repository, name, manifest)
            .await
    }

    fn verifies_digests(&self) -> bool {
        true
    }

    fn capabilities(&self) -> DestinationCapabilities<'_> {
        DestinationCapabilities {
            uploads: Some(self),
            referrers: Some(self),
            names_beside: Some(self),
        }
    }
}

impl Uploads for RegistryRepository {
    fn repository(&self) -> &Repository {
        &self.repository
    }

    /// One request per blob instead of a HEAD and a POST: a mount from the source repository
    /// when it is on this registry, else a mount from this repository itself, which answers
    /// 201 when the blob is here and otherwise opens the upload session the blob then needs
    /// (a registry that cannot mount opens the session too, as the distribution spec asks).
    /// A registry that refuses mount requests altogether gets a HEAD instead, and the blob a
    /// plain upload POST.
    fn probe<'a>(
        &'a self,
        digest: &'a Digest,
        from: Option<&'a Repository>,
    ) -> BoxFuture<'a, Result<BlobProbe, Error>> {
        Box::pin(async move {
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
                .try_mount_blob(&self.repository, digest, &self.repository)
                .await?;
            Ok(match outcome {
                Some(MountOutcome::Mounted) => BlobProbe::Present,
                Some(MountOutcome::Upload(location)) => BlobProbe::Absent(Some(location)),
                None if self.has_blob(digest).await? => BlobProbe::Present,
                None => BlobProbe::Absent(None),
            })
        })
    }

    fn mount<'a>(
        &'a self,
        from: &'a Repository,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Option<MountOutcome>, Error>> {
        Box::pin(async move {
            if from.api_host() != self.repository.api_host() || from.path() == self.repository.path() {
                return Ok(None);
            }
            self.registry.try_mount_blob(&self.repository, digest, from).await
        })
    }

    fn put_blob_at<'a>(
        &'a self,
        desc: &'a Descriptor,
        body: Body,
        upload: UploadLocation,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            // Cancelled if the transfer is dropped half-way, and when it fails (whether it
            // starts over with a new session or gives up): either way the session holds a
            // partial blob.
            let open = OpenUpload::new(self, upload.clone());
            let result = self
                .registry
                .finish_upload(&self.repository, &upload, &desc.digest, desc.size, body)
                .await;
            let location = open.hand_over();
            if result.is_err() {
                self.cancel(location).await;
            }
            result
        })
    }

    fn cancel(&self, upload: UploadLocation) -> BoxFuture<'static, ()> {
        // Counted from now (not from the first poll): a program stopping on Ctrl-C waits for it.
        let guard = self.registry.cleanups().enter();
        let (registry, repository) = (self.registry.clone(), self.repository.clone());
        Box::pin(async move {
            registry.cancel_upload(&repository, &upload).await;
            drop(guard);
        })
    }
}

impl KeepReferrers for RegistryRepository {
    fn list_present_referrer<'a>(&'a self, referrer: &'a Manifest) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            let Some(subject) = referrer.subject() else {
                return Ok(false);
            };
            let listed = self.registry.referrers(&self.repository, &subject, None).await?;
            if listed.iter().any(|r| r.digest == referrer.digest) {
                return Ok(false);
            }
            // Pushed again, the registry indexes it (OCI-Subject) or irel adds it to the
            // fallback index.
            self.registry
                .put_manifest_confirmed(
                    &self.repository,
                    &TagOrDigest::Digest(referrer.digest.clone()),
                    referrer,
                )
                .await?;
            Ok(true)
        })
    }
}

impl NameBeside for RegistryRepository {
    /// The same tag, in this repository.
    fn name_beside(&self, _name: &TagOrDigest, tag: &Tag) -> Option<TagOrDigest> {
        Some(TagOrDigest::Tag(tag.clone()))
    }
}

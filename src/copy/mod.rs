//! The copy engine: copies an image or a whole index DAG from one repository to another, with
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

use crate::client::Client;
use crate::error::Error;
use crate::manifest::{Contents, Descriptor, Manifest, MAX_INDEX_DEPTH};
use crate::reference::{Digest, Reference};
use crate::transport::error_chain;
use crate::MountOutcome;

/// How a copy runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CopyOptions {
    /// How many blobs are transferred at once (default 4).
    pub concurrency: usize,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions { concurrency: 4 }
    }
}

impl CopyOptions {
    /// Sets how many blobs are transferred at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
}

/// What a copy did.
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
}

enum BlobOutcome {
    Copied(u64),
    Mounted,
    Skipped,
}

impl Client {
    /// Copies the image or index `src` names to `dst`, preserving its digest.
    ///
    /// `dst` keeps its tag; without tag or digest it is tagged `latest`; with only a digest it
    /// must be the source's digest and nothing is tagged.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), irel::Error> {
    /// let client = irel::Client::builder().build()?;
    /// let src: irel::Reference = "localhost:5000/team/app:1.2".parse()?;
    /// let dst = irel::mapping::flatten_repo_path_preserve_tag_digest("localhost:5001/acme", &src)?;
    /// let report = client.copy(&src, &dst, &irel::CopyOptions::default()).await?;
    /// assert_eq!(report.digest, Some(client.digest(&src).await?));
    /// # Ok(()) }
    /// ```
    pub async fn copy(&self, src: &Reference, dst: &Reference, options: &CopyOptions) -> Result<CopyReport, Error> {
        let root = self.get_manifest(src).await?;
        if let Some(want) = dst.digest() {
            if *want != root.digest {
                return Err(Error::DigestMismatch {
                    what: format!("destination {dst} names a digest the source {src} does not have"),
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
        let dst_repo = dst.without_tag_or_digest();
        let target = match (dst.tag(), dst.digest()) {
            (Some(tag), _) => dst_repo.with_tag(tag)?,
            (None, Some(d)) => dst_repo.with_digest(d.clone()),
            (None, None) => dst_repo.with_tag("latest")?,
        };

        // Already there under that name: nothing to do.
        if self
            .head_manifest(&target)
            .await?
            .is_some_and(|h| h.digest == root.digest)
        {
            return Ok(report);
        }
        // The content is there by digest (registries accept a manifest only once what it refers
        // to is present): only the tag is missing.
        let present = target.tag().is_some()
            && self
                .head_manifest(&dst_repo.with_digest(root.digest.clone()))
                .await?
                .is_some_and(|h| h.digest == root.digest);
        if !present {
            let mut children = Vec::new();
            let mut blobs = BTreeMap::new();
            self.collect(src, &root, 0, &mut children, &mut blobs).await?;
            self.copy_blobs(src, &dst_repo, blobs, options, &mut report).await?;
            for child in &children {
                self.put_manifest(&dst_repo, child.digest.as_str(), child).await?;
                report.manifests_pushed += 1;
            }
        }
        self.put_manifest(&dst_repo, target.manifest_reference(), &root).await?;
        report.manifests_pushed += 1;
        let landed = self.head_manifest(&dst_repo.with_digest(root.digest.clone())).await?;
        if landed.as_ref().map(|h| &h.digest) != Some(&root.digest) {
            return Err(Error::DigestMismatch {
                what: format!("copy of {src} to {dst}"),
                expected: root.digest.clone(),
                actual: landed.map(|h| h.digest.to_string()).unwrap_or_else(|| "nothing".into()),
            });
        }
        Ok(report)
    }

    /// Walks `manifest`: child manifests go to `children` (deepest first), blobs to `blobs`.
    async fn collect(
        &self,
        src: &Reference,
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
                        reference: src.to_string(),
                        reason: format!("indexes nested more than {MAX_INDEX_DEPTH} deep (a cycle?)"),
                    });
                }
                let mut seen = HashSet::new();
                for d in manifests {
                    if !seen.insert(d.digest.clone()) {
                        continue;
                    }
                    let child_ref = src.without_tag_or_digest().with_digest(d.digest.clone());
                    let child = Box::pin(self.get_manifest(&child_ref)).await?;
                    Box::pin(self.collect(src, &child, depth + 1, children, blobs)).await?;
                    if !children.iter().any(|c| c.digest == child.digest) {
                        children.push(child);
                    }
                }
            }
        }
        Ok(())
    }

    async fn copy_blobs(
        &self,
        src: &Reference,
        dst: &Reference,
        blobs: BTreeMap<Digest, Descriptor>,
        options: &CopyOptions,
        report: &mut CopyReport,
    ) -> Result<(), Error> {
        let limit = Arc::new(Semaphore::new(options.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for (_, desc) in blobs {
            let (client, src, dst, limit) = (self.clone(), src.clone(), dst.clone(), limit.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await.expect("semaphore open");
                client.copy_blob(&src, &dst, &desc).await
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

    async fn copy_blob(&self, src: &Reference, dst: &Reference, desc: &Descriptor) -> Result<BlobOutcome, Error> {
        if self.blob_exists(dst, &desc.digest).await?.is_some() {
            return Ok(BlobOutcome::Skipped);
        }
        let same_registry = src.api_host() == dst.api_host();
        let location = if same_registry && src.repository() != dst.repository() {
            match self.mount_blob(dst, &desc.digest, src.repository()).await? {
                MountOutcome::Mounted => return Ok(BlobOutcome::Mounted),
                MountOutcome::Upload(loc) => loc,
            }
        } else {
            self.start_upload(dst).await?
        };
        let stream = self.get_blob(src, &desc.digest, desc.size).await?;
        self.finish_upload(dst, &location, &desc.digest, desc.size, stream.into_body())
            .await
            .map_err(|e| match e {
                Error::Transport(t) => Error::BlobTransfer {
                    digest: desc.digest.clone(),
                    source_repo: src.name(),
                    destination: dst.name(),
                    detail: error_chain(&t),
                },
                other => other,
            })?;
        Ok(BlobOutcome::Copied(desc.size))
    }
}

//! A destination that keeps nothing: what `irel bench pull` copies into, so the download and
//! its verification are all that is measured.

use http_body_util::BodyExt;

use crate::blob::VerifyingBody;
use crate::error::Error;
use crate::model::manifest::{Descriptor, Manifest};
use crate::model::name::TagOrDigest;
use crate::model::reference::Digest;
use crate::places::content::ContentDestination;
use crate::transport::Body;

/// A destination that keeps nothing: blobs are read to the end (the source verifies their
/// size and digest on the way) and dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), irel::Error> {
/// use irel::places::{Discard, SyntheticImage};
/// let (image, latest) = (SyntheticImage::generate(1 << 20, 2, 7), "latest".parse()?);
/// let report = irel::copy_content(&image, &latest, &Discard, &latest, None, &Default::default()).await?;
/// assert_eq!(report.blobs_copied, 3, "two layers and the config, read and dropped");
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Discard;

impl ContentDestination for Discard {
    fn describe(&self) -> String {
        "nowhere (discarded after verification)".to_string()
    }

    async fn manifest_digest(&self, _name: &TagOrDigest) -> Result<Option<Digest>, Error> {
        Ok(None)
    }

    async fn has_blob(&self, _digest: &Digest) -> Result<bool, Error> {
        Ok(false)
    }

    async fn put_blob(&self, desc: &Descriptor, body: Body) -> Result<(), Error> {
        // The source checked the digest (this destination does not claim to); the size is
        // checked again here so a source that skipped it still cannot pass short content.
        let mut body = VerifyingBody::with_hashing(body, desc.digest.clone(), desc.size, false);
        while let Some(frame) = body.frame().await {
            frame.map_err(|e| Error::BlobTransfer {
                digest: desc.digest.clone(),
                source_repo: None,
                destination: Some(self.describe()),
                source: e,
            })?;
        }
        Ok(())
    }

    async fn put_manifest(&self, _name: &TagOrDigest, _manifest: &Manifest) -> Result<bool, Error> {
        Ok(true)
    }
}

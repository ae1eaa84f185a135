//! Blob bodies: downloads that check size and digest as they go (`VerifyingBody`) and resume
//! after a broken connection, and file-backed bodies for uploads from disk. No blob is ever
//! held whole in memory: a download is a body stream, and an upload sends such a stream as its
//! request body.

mod file;
pub(crate) mod resume;
mod verify;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;

use crate::transport::{self, BoxError};

pub(crate) use file::FileBody;
pub use verify::VerifyError;
pub(crate) use verify::VerifyingBody;

/// Whether `e` failed because content was not what its descriptor said (wrong size or
/// digest), as opposed to a connection or a server failing: content errors are final.
pub(crate) fn is_content_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<VerifyError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// A blob being downloaded: a body that yields its bytes and fails if they are not the
/// expected size and digest.
///
/// ```no_run
/// # async fn demo(client: irel::Client) -> Result<(), irel::transport::BoxError> {
/// let image: irel::Reference = "registry.example/team/app:1.0".parse()?;
/// let manifest = client.registry().get_manifest(&image).await?;
/// let irel::manifest::Contents::Image { config, .. } = &manifest.contents else { return Ok(()) };
/// let mut blob = client.registry().get_blob(&image.to_repository(), &config.digest, config.size).await?;
/// let mut read = 0;
/// while let Some(chunk) = blob.chunk().await {
///     read += chunk?.len() as u64; // an error here, not a short read, if the bytes are wrong
/// }
/// assert_eq!(read, blob.size());
/// # Ok(()) }
/// ```
pub struct BlobStream {
    body: VerifyingBody<resume::ResumingBody>,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream")
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

impl BlobStream {
    /// A download checked against `digest` and `size` as it goes (hashed only when `hash`).
    pub(crate) fn new(
        body: resume::ResumingBody,
        digest: crate::model::reference::Digest,
        size: u64,
        hash: bool,
    ) -> Self {
        BlobStream {
            body: VerifyingBody::with_hashing(body, digest, size, hash),
        }
    }

    /// The expected size.
    pub fn size(&self) -> u64 {
        self.body.expected_size()
    }

    /// Reads the next chunk; `None` at the (verified) end.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, BoxError>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => match frame.into_data() {
                    Ok(data) => return Some(Ok(data)),
                    Err(_) => continue,
                },
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The stream as a request body, for uploading it elsewhere.
    pub fn into_body(self) -> transport::Body {
        self.body.boxed()
    }
}

impl HttpBody for BlobStream {
    type Data = Bytes;
    type Error = BoxError;
    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }
    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

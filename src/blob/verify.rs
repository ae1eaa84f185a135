//! A body wrapper that checks size and digest while the bytes stream through, so bad content
//! fails the transfer it is part of (an upload of it is aborted before the registry can
//! commit it).

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::reference::{Digest, Hasher};
use crate::transport::BoxError;

/// Wraps a body of `expected_size` bytes that must hash to `digest`.
pub(crate) struct VerifyingBody<B> {
    inner: B,
    digest: Digest,
    hasher: Option<Hasher>,
    expected: u64,
    seen: u64,
    /// The end has been checked (and reported, if it was bad).
    ended: bool,
}

/// The body did not have the size or digest it should.
///
/// ```no_run
/// # async fn demo(mut blob: irel::blob::BlobStream) {
/// use irel::blob::VerifyError;
/// while let Some(chunk) = blob.chunk().await {
///     if let Err(e) = chunk {
///         // Wrong content is final; a broken connection may be worth another try.
///         let final_ = e.downcast_ref::<VerifyError>().is_some();
///         eprintln!("download failed ({}): {e}", if final_ { "bad content" } else { "transfer" });
///         break;
///     }
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct VerifyError(String);

impl<B> std::fmt::Debug for VerifyingBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingBody")
            .field("digest", &self.digest)
            .field("expected", &self.expected)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl VerifyError {
    /// Content that is not what it should be, and how.
    pub(crate) fn new(what: String) -> VerifyError {
        VerifyError(what)
    }
}

impl<B> VerifyingBody<B> {
    /// Starts verifying size and digest.
    #[cfg(test)]
    pub fn new(inner: B, digest: Digest, expected_size: u64) -> Self {
        Self::with_hashing(inner, digest, expected_size, true)
    }

    /// Verifies the size, and the digest only when `hash` (skip it where the receiver verifies
    /// the digest itself, as a registry does on upload, to save the CPU).
    pub fn with_hashing(inner: B, digest: Digest, expected_size: u64, hash: bool) -> Self {
        let hasher = hash.then(|| digest.kind().hasher());
        VerifyingBody {
            inner,
            digest,
            hasher,
            expected: expected_size,
            seen: 0,
            ended: false,
        }
    }

    /// The size the content must have.
    pub fn expected_size(&self) -> u64 {
        self.expected
    }
}

impl<B> Body for VerifyingBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.expected {
                        return Poll::Ready(Some(Err(Box::new(VerifyError(format!(
                            "{} is longer than its {} bytes",
                            this.digest, this.expected
                        ))))));
                    }
                    if let Some(h) = this.hasher.as_mut() {
                        h.update(data);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e.into()))),
            None => {
                if this.ended {
                    return Poll::Ready(None);
                }
                this.ended = true;
                if this.seen != this.expected {
                    return Poll::Ready(Some(Err(Box::new(VerifyError(format!(
                        "{} ended after {} of its {} bytes",
                        this.digest, this.seen, this.expected
                    ))))));
                }
                let Some(hasher) = this.hasher.take() else {
                    return Poll::Ready(None);
                };
                let actual = hasher.finish();
                if actual != this.digest {
                    return Poll::Ready(Some(Err(Box::new(VerifyError(format!(
                        "content has digest {actual}, not {}",
                        this.digest
                    ))))));
                }
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        // The end is reported only after the digest check has run.
        false
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.expected.saturating_sub(self.seen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    async fn drain(body: VerifyingBody<Full<Bytes>>) -> Result<Vec<u8>, BoxError> {
        Ok(body.collect().await?.to_bytes().to_vec())
    }

    #[tokio::test]
    async fn without_hashing_the_size_is_still_checked() {
        let d = Digest::sha256_of(b"hello");
        let unhashed = VerifyingBody::with_hashing(Full::new(Bytes::from_static(b"hellO")), d.clone(), 5, false);
        assert_eq!(drain(unhashed).await.unwrap(), b"hellO");
        let short = VerifyingBody::with_hashing(Full::new(Bytes::from_static(b"hell")), d, 5, false);
        assert!(drain(short).await.is_err());
    }

    #[tokio::test]
    async fn good_content_passes() {
        let d = Digest::sha256_of(b"hello");
        let body = VerifyingBody::new(Full::new(Bytes::from_static(b"hello")), d, 5);
        assert_eq!(drain(body).await.unwrap(), b"hello");
    }

    #[tokio::test]
    async fn wrong_digest_short_and_long_content_fail() {
        let d = Digest::sha256_of(b"hello");
        let wrong = VerifyingBody::new(Full::new(Bytes::from_static(b"hellO")), d.clone(), 5);
        assert!(drain(wrong).await.unwrap_err().to_string().contains("not sha256:"));
        let short = VerifyingBody::new(Full::new(Bytes::from_static(b"hell")), d.clone(), 5);
        assert!(drain(short).await.unwrap_err().to_string().contains("ended after 4"));
        let long = VerifyingBody::new(Full::new(Bytes::from_static(b"hello!")), d, 5);
        assert!(drain(long).await.unwrap_err().to_string().contains("longer"));
    }
}

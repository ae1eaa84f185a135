//! What a running copy reports as it goes: for progress bars, logs and measurements
//! (`irel bench` takes its per-blob latencies from here).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::reference::Digest;
use crate::transport::{Body, BoxError};

/// One step of a copy. Events of different blobs interleave; each blob reports
/// `BlobStarted`, then any `BlobProgress`, then `BlobDone`.
///
/// ```
/// use irel::copy::{BlobDisposition, CopyEvent};
/// fn log(event: &CopyEvent) {
///     match event {
///         CopyEvent::Planned { blobs, bytes } => eprintln!("{blobs} blobs, {bytes} bytes"),
///         CopyEvent::BlobDone { digest, disposition: BlobDisposition::Copied, elapsed, .. } => {
///             eprintln!("{digest} copied in {elapsed:?}")
///         }
///         _ => {}
///     }
/// }
/// let options = irel::CopyOptions::default().on_event(log);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CopyEvent {
    /// The blobs the copy will bring to the destination (skipped ones included).
    Planned {
        /// Distinct blobs.
        blobs: usize,
        /// Their total size.
        bytes: u64,
    },
    /// A blob is being checked for at the destination, then mounted or transferred.
    BlobStarted {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// Bytes of a blob went through (a running total for that blob).
    BlobProgress {
        /// The blob.
        digest: Digest,
        /// Bytes transferred so far.
        transferred: u64,
    },
    /// A blob is at the destination.
    BlobDone {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
        /// How it got there.
        disposition: BlobDisposition,
        /// From `BlobStarted` to now.
        elapsed: Duration,
    },
    /// A manifest was stored (children by digest, the root under its name, last).
    ManifestPushed {
        /// The manifest's digest.
        digest: Digest,
        /// The tag, ref name or digest it was stored under.
        reference: String,
    },
}

/// How a blob reached the destination.
///
/// ```
/// use irel::copy::{BlobDisposition, CopyEvent};
/// let done = CopyEvent::BlobDone {
///     digest: irel::Digest::sha256_of(b"layer"),
///     size: 5,
///     disposition: BlobDisposition::Mounted,
///     elapsed: std::time::Duration::from_millis(40),
/// };
/// assert!(matches!(done, CopyEvent::BlobDone { disposition: BlobDisposition::Mounted, .. }));
/// assert_eq!(serde_json::to_string(&BlobDisposition::Mounted).unwrap(), r#""mounted""#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobDisposition {
    /// Its bytes were transferred.
    Copied,
    /// The registry linked it from another repository.
    Mounted,
    /// The destination had it already.
    Skipped,
}

/// A listener for [`CopyEvent`]s. It runs on the copy's tasks, so it should return quickly.
///
/// ```
/// use irel::copy::{CopyEvent, EventListener};
/// let listener: EventListener = std::sync::Arc::new(|event: &CopyEvent| eprintln!("{event:?}"));
/// listener(&CopyEvent::Planned { blobs: 3, bytes: 1024 });
/// // One listener shared by the options of several copies.
/// let shared = listener.clone();
/// let options = irel::CopyOptions::default().on_event(move |event| shared(event));
/// # let _ = options;
/// ```
pub type EventListener = Arc<dyn Fn(&CopyEvent) + Send + Sync>;

/// A body that reports its running byte count to a listener as frames go through.
pub(crate) fn reporting_body(body: Body, digest: Digest, listener: EventListener) -> Body {
    use http_body_util::BodyExt;
    ReportingBody {
        inner: body,
        digest,
        listener,
        transferred: 0,
    }
    .boxed()
}

struct ReportingBody {
    inner: Body,
    digest: Digest,
    listener: EventListener,
    transferred: u64,
}

impl HttpBody for ReportingBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(data) = frame.as_ref().and_then(|f| f.as_ref().ok()).and_then(Frame::data_ref) {
            this.transferred += data.len() as u64;
            (this.listener)(&CopyEvent::BlobProgress {
                digest: this.digest.clone(),
                transferred: this.transferred,
            });
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

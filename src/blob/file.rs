//! A request body that streams a byte range of a file, for blobs stored in OCI layouts and in
//! uncompressed archives.

use std::io::SeekFrom;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncSeekExt, ReadBuf};

use crate::transport::BoxError;

const CHUNK: usize = 256 * 1024;

/// `len` bytes of a file from `offset`, read in 256 KiB chunks.
#[derive(Debug)]
pub(crate) struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buf: BytesMut,
}

impl FileBody {
    /// Streams `len` bytes of an already opened `file` from `offset` (for files opened with
    /// checks, as [`crate::layout::safe_path::open_regular`] does).
    pub async fn from_file(mut file: tokio::fs::File, offset: u64, len: u64) -> std::io::Result<FileBody> {
        if offset > 0 {
            file.seek(SeekFrom::Start(offset)).await?;
        }
        Ok(FileBody {
            file,
            remaining: len,
            buf: BytesMut::new(),
        })
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = CHUNK.min(this.remaining as usize);
        if this.buf.capacity() < want {
            this.buf.reserve(want);
        }
        // Zero-fill once per chunk so ReadBuf can hand out initialized memory safely.
        this.buf.resize(want, 0);
        let mut read_buf = ReadBuf::new(&mut this.buf[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut read_buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(Ok(())) => {
                let n = read_buf.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err("file ended before the blob did".into())));
                }
                this.remaining -= n as u64;
                let chunk = this.buf.split_to(n).freeze();
                this.buf.clear();
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

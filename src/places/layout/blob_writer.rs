//! Writing one verified blob to a file: the network side stays on the async runtime, hashing
//! and writing run on one blocking thread per blob, fed through a bounded channel.
//!
//! Why not tokio's file API: it copies every buffer and hops to a blocking thread per write,
//! and hashing on the runtime thread serializes it with reading the socket. Here the socket
//! reader, the hasher and the kernel's page-cache copy overlap, and each frame goes to the file
//! as it came off the wire.

use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use http_body_util::BodyExt;

use crate::blob::{VerifyError, VerifyingBody};
use crate::error::Error;
use crate::manifest::Descriptor;
use crate::reference::Digest;
use crate::transport::{Body, BoxError};

/// Frames go to the writer in batches of about this many bytes: one thread wake-up per batch
/// instead of one per frame (frames are often 16 KiB; a wake-up per frame cost more than the
/// copy of the bytes).
const BATCH_BYTES: usize = 512 * 1024;
/// Batches in flight between the reader and the writer: with [`BATCH_BYTES`], bounds the
/// memory a blob write holds (about 2 MiB, plus the frames' own buffers).
const BATCHES_IN_FLIGHT: usize = 4;

/// Why [`write_verified`] failed: the file system, or the content.
pub(crate) enum WriteError {
    Io(std::io::Error),
    Content(Error),
}

/// Streams `body` into a new temporary file in `dir` (a random name created with `O_EXCL`, so
/// never a planted file or link), verifying size and digest, then renames it to `dest`; on
/// any failure the temporary file is removed and nothing appears at `dest`.
pub(crate) async fn write_verified(
    desc: &Descriptor,
    body: Body,
    dir: &Path,
    dest: &Path,
    destination: &str,
) -> Result<(), WriteError> {
    let content_error = |source: BoxError| {
        WriteError::Content(Error::BlobTransfer {
            digest: desc.digest.clone(),
            source_repo: None,
            destination: Some(destination.to_string()),
            source,
        })
    };
    // The TempPath removes the file however this ends: an error, or the copy dropping this
    // future half-way (another blob of the image failed and the engine aborted the rest).
    let (file, temporary) = crate::layout::safe_path::temp_file_in(dir)
        .map_err(WriteError::Io)?
        .into_parts();
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<Bytes>>(BATCHES_IN_FLIGHT);
    let writer = tokio::task::spawn_blocking({
        let hasher = desc.digest.kind().hasher();
        move || write_frames(file, hasher, rx)
    });
    // The size is checked here, so a body that runs long stops at once; the digest on the
    // writer's side.
    let mut body = VerifyingBody::with_hashing(body, desc.digest.clone(), desc.size, false);
    let mut read_result = Ok(());
    let (mut batch, mut batched) = (Vec::new(), 0);
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    batched += data.len();
                    batch.push(data);
                    if batched >= BATCH_BYTES {
                        batched = 0;
                        if tx.send(std::mem::take(&mut batch)).await.is_err() {
                            break; // The writer failed; its error is reported below.
                        }
                    }
                }
            }
            Err(e) => {
                read_result = Err(content_error(e));
                break;
            }
        }
    }
    if read_result.is_ok() && !batch.is_empty() {
        let _ = tx.send(batch).await;
    }
    drop(tx);
    let written = writer
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(format!("blob writer stopped: {e}"))));
    let result = read_result.and_then(|()| match written {
        Err(e) => Err(WriteError::Io(e)),
        Ok(actual) if actual != desc.digest => Err(content_error(Box::new(VerifyError::new(format!(
            "content has digest {actual}, not {}",
            desc.digest
        ))))),
        // No fsync per blob (as ggcr and containers/image): a blob torn by a power loss fails
        // its digest check when read, it is never used.
        // The rename replaces a link at `dest` rather than writing through it.
        Ok(_) => temporary.persist(dest).map_err(|e| WriteError::Io(e.error)),
    });
    result
}

/// The blocking half: hashes and writes every frame, returns the content's digest.
fn write_frames(
    file: std::fs::File,
    mut hasher: crate::reference::Hasher,
    mut batches: tokio::sync::mpsc::Receiver<Vec<Bytes>>,
) -> std::io::Result<Digest> {
    // Gathering frames saves a system call per frame; big ones go straight through.
    let mut out = std::io::BufWriter::with_capacity(256 << 10, file);
    while let Some(batch) = batches.blocking_recv() {
        for data in batch {
            hasher.update(&data);
            out.write_all(&data)?;
        }
    }
    out.flush()?;
    Ok(hasher.finish())
}

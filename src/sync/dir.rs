//! skopeo's `dir:` format: one directory per image, holding `manifest.json` (the image or the
//! list), `<hex>.manifest.json` for each instance of a list, every blob under its hex digest, and
//! a `version` file. irel reads trees `skopeo sync` wrote and writes trees skopeo reads.
//!
//! Writes are safe to interrupt: blobs go to temporary files and are renamed once verified, and
//! `manifest.json`, which makes the directory an image, is written last.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::BodyExt;

use crate::blob::{FileBody, VerifyingBody};
use crate::copy::{ContentDestination, ContentSource};
use crate::error::Error;
use crate::layout::{write_atomically, write_verified, WriteError};
use crate::manifest::{Descriptor, Manifest, MAX_MANIFEST_SIZE};
use crate::reference::Digest;
use crate::transport::Body;

const MANIFEST: &str = "manifest.json";
const VERSION: &str = "version";
const VERSION_TEXT: &[u8] = b"Directory Transport Version: 1.1\n";

/// One image directory in skopeo's `dir:` format.
#[derive(Debug, Clone)]
pub struct SkopeoDir {
    path: PathBuf,
}

fn dir_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Layout {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

impl SkopeoDir {
    /// The image directory at `path` (created when written to).
    pub fn new(path: impl Into<PathBuf>) -> SkopeoDir {
        SkopeoDir { path: path.into() }
    }

    /// Whether `path` holds an image (a `manifest.json`).
    pub fn is_image(path: &Path) -> bool {
        path.join(MANIFEST).is_file()
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        // A parsed Digest is lowercase hex only: safe as a file name.
        if digest.algorithm() == "sha256" {
            self.path.join(digest.encoded())
        } else {
            self.path.join(format!("{}-{}", digest.algorithm(), digest.encoded()))
        }
    }

    fn instance_path(&self, digest: &Digest) -> PathBuf {
        self.path.join(format!("{}.manifest.json", digest.encoded()))
    }

    fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>, Error> {
        match std::fs::metadata(path) {
            Err(_) => Ok(None),
            Ok(m) if m.len() > MAX_MANIFEST_SIZE as u64 => Err(dir_error(path, "manifest larger than 4 MiB")),
            Ok(_) => std::fs::read(path)
                .map(Some)
                .map_err(|e| dir_error(path, e.to_string())),
        }
    }

    /// The manifest `reference` names: a digest (the top manifest or an instance), or any name
    /// for the top manifest.
    fn read_manifest(&self, reference: &str) -> Result<Option<Manifest>, Error> {
        let top = self.read_file(&self.path.join(MANIFEST))?;
        let (bytes, digest) = match reference.parse::<Digest>() {
            Err(_) => match top {
                Some(b) => {
                    let d = Digest::sha256_of(&b);
                    (b, d)
                }
                None => return Ok(None),
            },
            Ok(d) => match top.filter(|b| d.matches(b)) {
                Some(b) => (b, d),
                None => match self.read_file(&self.instance_path(&d))? {
                    Some(b) if d.matches(&b) => (b, d),
                    Some(_) => {
                        return Err(Error::DigestMismatch {
                            what: format!("instance manifest in {}", self.path.display()),
                            expected: d.clone(),
                            actual: "other content".into(),
                        })
                    }
                    None => return Ok(None),
                },
            },
        };
        let mut m = Manifest::parse(Bytes::from(bytes), None, &self.path.display().to_string())?;
        m.digest = digest;
        Ok(Some(m))
    }

    async fn write_stream(&self, desc: &Descriptor, body: Body) -> Result<(), Error> {
        let io = |e: std::io::Error| dir_error(&self.path, format!("writing blob {}: {e}", desc.digest));
        self.ensure_dir().map_err(io)?;
        let final_path = self.blob_path(&desc.digest);
        let tmp = self.path.join(format!(".{}.partial", desc.digest.encoded()));
        write_verified(desc, body, &tmp, &final_path, &self.path.display().to_string())
            .await
            .map_err(|e| match e {
                WriteError::Io(e) => io(e),
                WriteError::Content(e) => e,
            })
    }

    fn ensure_dir(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.path)?;
        if !self.path.join(VERSION).exists() {
            write_atomically(&self.path, VERSION, VERSION_TEXT)?;
        }
        Ok(())
    }
}

impl ContentSource for SkopeoDir {
    fn describe(&self) -> String {
        format!("dir:{}", self.path.display())
    }

    async fn manifest(&self, reference: &str) -> Result<Manifest, Error> {
        self.read_manifest(reference)?
            .ok_or_else(|| dir_error(&self.path, format!("no manifest {reference} in this image directory")))
    }

    async fn blob(&self, desc: &Descriptor, hash: bool) -> Result<Body, Error> {
        let path = self.blob_path(&desc.digest);
        let len = tokio::fs::metadata(&path)
            .await
            .map_err(|_| dir_error(&self.path, format!("blob {} is missing", desc.digest)))?
            .len();
        if len != desc.size {
            return Err(dir_error(
                &self.path,
                format!(
                    "blob {} has {len} bytes where its descriptor says {}",
                    desc.digest, desc.size
                ),
            ));
        }
        let file = FileBody::open(&path, 0, len)
            .await
            .map_err(|e| dir_error(&self.path, e.to_string()))?;
        Ok(VerifyingBody::with_hashing(file, desc.digest.clone(), desc.size, hash).boxed())
    }
}

impl ContentDestination for SkopeoDir {
    fn describe(&self) -> String {
        ContentSource::describe(self)
    }

    async fn manifest_digest(&self, reference: &str) -> Result<Option<Digest>, Error> {
        Ok(self.read_manifest(reference)?.map(|m| m.digest))
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool, Error> {
        Ok(self.blob_path(digest).is_file())
    }

    /// Blob writes here verify size and digest before the rename, so sources need not hash.
    fn verifies_digests(&self) -> bool {
        true
    }

    async fn put_blob(&self, desc: &Descriptor, body: Body, _upload: Option<String>) -> Result<(), Error> {
        self.write_stream(desc, body).await
    }

    async fn put_manifest(&self, reference: &str, manifest: &Manifest) -> Result<bool, Error> {
        let io = |e: std::io::Error| dir_error(&self.path, format!("writing manifest: {e}"));
        self.ensure_dir().map_err(io)?;
        let name = if reference.parse::<Digest>().is_ok() {
            format!("{}.manifest.json", manifest.digest.encoded())
        } else {
            MANIFEST.to_string()
        };
        write_atomically(&self.path, &name, &manifest.bytes).map_err(io)?;
        // Not confirmed: the engine reads it back, a cheap local check.
        Ok(false)
    }
}

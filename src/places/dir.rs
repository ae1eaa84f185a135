//! skopeo's `dir:` format: one directory per image, holding `manifest.json` (the image or the
//! list), `<hex>.manifest.json` for each instance of a list, every blob under its hex digest, and
//! a `version` file. irel reads trees `skopeo sync` wrote and writes trees skopeo reads.
//!
//! Writes are safe to interrupt: blobs go to temporary files and are renamed once verified, and
//! `manifest.json`, which makes the directory an image, is written last. Temporary files get
//! random names (created with `O_EXCL`); an image directory planned under a destination root
//! is created without following a link below that root, and files are read without following
//! links (see [`crate::layout::safe_path`]).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::BodyExt;

use crate::blob::{FileBody, VerifyingBody};
use crate::error::Error;
use crate::layout::safe_path::{self, PathError};
use crate::layout::{write_atomically, write_verified, WriteError};
use crate::manifest::{Descriptor, Manifest, MAX_MANIFEST_SIZE};
use crate::model::name::TagOrDigest;
use crate::places::content::{ContentDestination, ContentSource};
use crate::reference::Digest;
use crate::transport::Body;

const MANIFEST: &str = "manifest.json";
const VERSION: &str = "version";
const VERSION_TEXT: &[u8] = b"Directory Transport Version: 1.1\n";

/// One image directory in skopeo's `dir:` format.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), irel::Error> {
/// use irel::{layout::safe_path::image_dir, places::{SkopeoDir, SyntheticImage}};
/// let root = tempfile::tempdir().unwrap();
/// let dst = SkopeoDir::within(root.path(), &image_dir("team/app", "1.0")?);
/// let (image, latest) = (SyntheticImage::generate(4096, 1, 1), "latest".parse()?);
/// irel::copy_content(&image, &latest, &dst, &latest, None, &Default::default()).await?;
/// assert!(SkopeoDir::is_image(&root.path().join("team/app:1.0")));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SkopeoDir {
    path: PathBuf,
    /// The destination root and the path below it, when this directory was planned inside one:
    /// every component below the root is created or checked without following links.
    confined: Option<(PathBuf, PathBuf)>,
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
        SkopeoDir {
            path: path.into(),
            confined: None,
        }
    }

    /// The image directory `rel` under the destination root `root`. `rel` comes from
    /// [`safe_path::image_dir`] (normal components only); no link below `root` is followed
    /// when it is created.
    pub fn within(root: &Path, rel: &Path) -> SkopeoDir {
        SkopeoDir {
            path: root.join(rel),
            confined: Some((root.to_path_buf(), rel.to_path_buf())),
        }
    }

    /// Removes the image directory and what it holds (an image whose copy failed). A link in
    /// its place is removed, not followed.
    #[cfg_attr(not(feature = "sync"), allow(dead_code))]
    pub(crate) fn remove(&self) {
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir_all(&self.path);
            }
            Ok(_) => {
                let _ = std::fs::remove_file(&self.path);
            }
            Err(_) => {}
        }
    }

    /// Whether `path` holds an image (a `manifest.json`; a link there counts, so that reading
    /// it refuses it by name instead of skipping the directory silently).
    pub fn is_image(path: &Path) -> bool {
        std::fs::symlink_metadata(path.join(MANIFEST)).is_ok_and(|m| !m.is_dir())
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn blob_name(digest: &Digest) -> String {
        // A parsed Digest is lowercase hex only: safe as a file name.
        if digest.algorithm() == "sha256" {
            digest.encoded().to_string()
        } else {
            format!("{}-{}", digest.algorithm(), digest.encoded())
        }
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.path.join(Self::blob_name(digest))
    }

    fn instance_name(digest: &Digest) -> String {
        format!("{}.manifest.json", digest.encoded())
    }

    /// Reads a small file of the image directory, never through a link.
    fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        use std::io::Read;
        let path = self.path.join(name);
        let (file, len) = match safe_path::open_regular(&self.path, name) {
            Ok(opened) => opened,
            Err(PathError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if len > MAX_MANIFEST_SIZE as u64 {
            return Err(dir_error(&path, "manifest larger than 4 MiB"));
        }
        let mut out = Vec::with_capacity(len as usize);
        file.take(MAX_MANIFEST_SIZE as u64)
            .read_to_end(&mut out)
            .map_err(|e| dir_error(&path, e.to_string()))?;
        Ok(Some(out))
    }

    /// The manifest `name` names: a digest (the top manifest or an instance), or any name for
    /// the top manifest.
    fn read_manifest(&self, name: &TagOrDigest) -> Result<Option<Manifest>, Error> {
        let top = self.read_file(MANIFEST)?;
        let (bytes, digest) = match name.digest().cloned() {
            None => match top {
                Some(b) => {
                    let d = Digest::sha256_of(&b);
                    (b, d)
                }
                None => return Ok(None),
            },
            Some(d) => match top.filter(|b| d.matches(b)) {
                Some(b) => (b, d),
                None => match self.read_file(&Self::instance_name(&d))? {
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
        self.ensure_dir()?;
        let final_path = self.blob_path(&desc.digest);
        write_verified(desc, body, &self.path, &final_path, &self.path.display().to_string())
            .await
            .map_err(|e| match e {
                WriteError::Io(e) => io(e),
                WriteError::Content(e) => e,
            })
    }

    fn ensure_dir(&self) -> Result<(), Error> {
        match &self.confined {
            Some((root, rel)) => safe_path::create_dirs(root, rel)?,
            None => safe_path::create_dirs(&self.path, Path::new(""))?,
        };
        // A link named `version` is replaced (the rename does not follow it), never written through.
        if !safe_path::is_regular_file(&self.path.join(VERSION)) {
            write_atomically(&self.path, VERSION, VERSION_TEXT)
                .map_err(|e| dir_error(&self.path, format!("writing {VERSION}: {e}")))?;
        }
        Ok(())
    }
}

impl ContentSource for SkopeoDir {
    fn describe(&self) -> String {
        format!("dir:{}", self.path.display())
    }

    async fn manifest(&self, name: &TagOrDigest) -> Result<Manifest, Error> {
        self.read_manifest(name)?
            .ok_or_else(|| dir_error(&self.path, format!("no manifest {name} in this image directory")))
    }

    async fn blob(&self, desc: &Descriptor, hash: bool) -> Result<Body, Error> {
        let (dir, name) = (self.path.clone(), Self::blob_name(&desc.digest));
        // Never through a link: a hostile tree could otherwise send any local file as a blob.
        let (file, len) = tokio::task::spawn_blocking(move || safe_path::open_regular(&dir, &name))
            .await
            .expect("opening a blob does not panic")
            .map_err(|e| match e {
                PathError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                    dir_error(&self.path, format!("blob {} is missing", desc.digest))
                }
                e => dir_error(
                    &self.path,
                    format!(
                        "blob {} cannot be read: {e}; irel reads only regular files in an image directory",
                        desc.digest
                    ),
                ),
            })?;
        if len != desc.size {
            return Err(dir_error(
                &self.path,
                format!(
                    "blob {} has {len} bytes where its descriptor says {}",
                    desc.digest, desc.size
                ),
            ));
        }
        let file = FileBody::from_file(tokio::fs::File::from_std(file), 0, len)
            .await
            .map_err(|e| dir_error(&self.path, e.to_string()))?;
        Ok(VerifyingBody::with_hashing(file, desc.digest.clone(), desc.size, hash).boxed())
    }
}

impl ContentDestination for SkopeoDir {
    fn describe(&self) -> String {
        ContentSource::describe(self)
    }

    async fn manifest_digest(&self, name: &TagOrDigest) -> Result<Option<Digest>, Error> {
        Ok(self.read_manifest(name)?.map(|m| m.digest))
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool, Error> {
        // A link is not a blob here: counted absent, and the write replaces it.
        Ok(safe_path::is_regular_file(&self.blob_path(digest)))
    }

    /// Blob writes here verify size and digest before the rename, so sources need not hash.
    fn verifies_digests(&self) -> bool {
        true
    }

    async fn put_blob(&self, desc: &Descriptor, body: Body) -> Result<(), Error> {
        self.write_stream(desc, body).await
    }

    async fn put_manifest(&self, name: &TagOrDigest, manifest: &Manifest) -> Result<bool, Error> {
        let io = |e: std::io::Error| dir_error(&self.path, format!("writing manifest: {e}"));
        self.ensure_dir()?;
        let name = if name.digest().is_some() {
            format!("{}.manifest.json", manifest.digest.encoded())
        } else {
            MANIFEST.to_string()
        };
        write_atomically(&self.path, &name, &manifest.bytes).map_err(io)?;
        // Not confirmed: the engine reads it back, a cheap local check.
        Ok(false)
    }
}

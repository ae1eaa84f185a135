//! Thick bundles: an OCI image layout in a `.tar` or `.tar.gz` archive.
//!
//! An uncompressed `.tar` is read in place: irel records where each file's bytes are and streams
//! blobs straight from there. gzip cannot be read at random, so a `.tar.gz` is decompressed once
//! into a private temporary directory that is removed afterwards; the archive itself is never
//! modified. Either way every entry is checked first: absolute paths, `..`, links, devices and
//! duplicate names make the whole archive refused, and only `oci-layout`, `index.json` and
//! `blobs/<alg>/<hex>` with a valid digest are read (other files are ignored, as the layout
//! spec says).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use super::{layout_error, output_parts, unique_suffix, OciLayout, INDEX_FILE, LAYOUT_FILE};
use crate::error::Error;
use crate::reference::Digest;

/// An opened bundle archive. Keep it alive while its layout is in use.
pub struct Archive {
    layout: OciLayout,
    _extracted: Option<TempDir>,
}

impl Archive {
    /// The layout inside the archive.
    pub fn layout(&self) -> &OciLayout {
        &self.layout
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Opens a `.tar` or `.tar.gz` bundle (detected by content, not by name).
///
/// ```no_run
/// # fn demo() -> Result<(), irel::Error> {
/// let archive = irel::layout::archive::open("bundle.tgz".as_ref())?;
/// for entry in archive.layout().entries()? {
///     println!("{:?}", entry.name);
/// }
/// # Ok(()) }
/// ```
pub fn open(path: &Path) -> Result<Archive, Error> {
    let io = |e: std::io::Error| layout_error(path, format!("cannot read archive: {e}"));
    let mut magic = [0u8; 2];
    let mut f = File::open(path).map_err(io)?;
    let gzip = f.read(&mut magic).map_err(io)? == 2 && magic == [0x1f, 0x8b];
    drop(f);
    if !gzip {
        let files = scan(path, File::open(path).map_err(io)?, |_, _, _| Ok(()))?;
        let layout = OciLayout::in_tar(path.to_path_buf(), files)?;
        return Ok(Archive {
            layout,
            _extracted: None,
        });
    }
    let dir = TempDir(std::env::temp_dir().join(format!("irel-bundle-{}", unique_suffix())));
    std::fs::create_dir_all(&dir.0).map_err(io)?;
    let reader = flate2::read::GzDecoder::new(BufReader::new(File::open(path).map_err(io)?));
    let root = dir.0.clone();
    scan(path, reader, |name, entry, _| {
        let target = root.join(name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = File::create(target)?;
        std::io::copy(entry, &mut out)?;
        Ok(())
    })?;
    let layout = OciLayout::open(&dir.0).map_err(|e| match e {
        Error::Layout { reason, .. } => layout_error(path, reason),
        other => other,
    })?;
    Ok(Archive {
        layout,
        _extracted: Some(dir),
    })
}

/// Reads every entry of a tar stream, refusing unsafe ones; for each layout file calls
/// `keep(name, entry, size)` and records its data offset and size.
fn scan<R: Read>(
    archive: &Path,
    reader: R,
    mut keep: impl FnMut(&str, &mut dyn Read, u64) -> std::io::Result<()>,
) -> Result<HashMap<String, (u64, u64)>, Error> {
    let bad = |reason: String| layout_error(archive, reason);
    let mut tar = tar::Archive::new(reader);
    let mut files = HashMap::new();
    let entries = tar.entries().map_err(|e| bad(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("corrupt tar archive: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| bad(format!("entry with an unreadable name: {e}")))?
            .into_owned();
        let kind = entry.header().entry_type();
        let shown = path.display().to_string();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Directory | tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {
                checked_name(archive, &path)?;
                continue;
            }
            other => {
                return Err(bad(format!(
                    "entry {shown:?} is a {other:?}, not a regular file; irel refuses archives with links or devices"
                )))
            }
        }
        let name = checked_name(archive, &path)?;
        if !is_layout_file(&name) {
            continue;
        }
        let size = entry
            .header()
            .size()
            .map_err(|e| bad(format!("entry {shown:?}: {e}")))?;
        let offset = entry.raw_file_position();
        if files.insert(name.clone(), (offset, size)).is_some() {
            return Err(bad(format!("entry {name:?} appears twice")));
        }
        keep(&name, &mut entry, size).map_err(|e| bad(format!("extracting {name:?}: {e}")))?;
    }
    for required in [LAYOUT_FILE, INDEX_FILE] {
        if !files.contains_key(required) {
            return Err(bad(format!("not an OCI image layout archive: no {required}")));
        }
    }
    Ok(files)
}

/// The entry's path as `a/b/c`, refusing absolute paths and `..`.
fn checked_name(archive: &Path, path: &Path) -> Result<String, Error> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(
                p.to_str()
                    .ok_or_else(|| layout_error(archive, format!("entry {path:?} is not UTF-8")))?,
            ),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(layout_error(
                    archive,
                    format!(
                        "entry {:?} escapes the archive (absolute or ..); refusing it",
                        path.display()
                    ),
                ))
            }
        }
    }
    Ok(parts.join("/"))
}

fn is_layout_file(name: &str) -> bool {
    if name == LAYOUT_FILE || name == INDEX_FILE {
        return true;
    }
    let mut parts = name.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("blobs"), Some(alg), Some(enc), None) => format!("{alg}:{enc}").parse::<Digest>().is_ok(),
        _ => false,
    }
}

/// Writes the layout directory `layout` as a gzip-compressed tar at `out`, through a temporary
/// file and a rename (no half-written archive is ever left under that name).
pub fn write(layout: &Path, out: &Path) -> Result<(), Error> {
    let (dir, name) = output_parts(out)?;
    let tmp = dir.join(format!(".{name}.{}.partial", unique_suffix()));
    let io = |e: std::io::Error| layout_error(out, format!("writing archive: {e}"));
    let result = (|| {
        let file = File::create(&tmp)?;
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let mut names = vec![LAYOUT_FILE.to_string(), INDEX_FILE.to_string()];
        let blobs = layout.join("blobs");
        let mut blob_names = Vec::new();
        for alg in std::fs::read_dir(&blobs)? {
            let alg = alg?;
            for blob in std::fs::read_dir(alg.path())? {
                let blob = blob?;
                let n = format!(
                    "blobs/{}/{}",
                    alg.file_name().to_string_lossy(),
                    blob.file_name().to_string_lossy()
                );
                if is_layout_file(&n) {
                    blob_names.push(n);
                }
            }
        }
        blob_names.sort();
        names.extend(blob_names);
        for n in names {
            let mut f = File::open(layout.join(&n))?;
            let mut header = tar::Header::new_gnu();
            header.set_size(f.metadata()?.len());
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, &n, &mut f)?;
        }
        let gz = tar.into_inner()?;
        let file = gz.finish()?;
        file.sync_all()?;
        std::fs::rename(&tmp, out)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_escape_are_refused() {
        let a = Path::new("a.tar");
        assert!(checked_name(a, Path::new("../x")).is_err());
        assert!(checked_name(a, Path::new("/etc/passwd")).is_err());
        assert!(checked_name(a, Path::new("blobs/../../x")).is_err());
        assert_eq!(
            checked_name(a, Path::new("./blobs/sha256/ab")).unwrap(),
            "blobs/sha256/ab"
        );
    }

    #[test]
    fn only_layout_files_with_valid_digests_are_read() {
        assert!(is_layout_file("index.json"));
        assert!(is_layout_file(&format!("blobs/sha256/{}", "a".repeat(64))));
        assert!(!is_layout_file("blobs/sha256/short"));
        assert!(!is_layout_file(&format!("blobs/sha256/{}/x", "a".repeat(64))));
        assert!(!is_layout_file("README"));
    }
}

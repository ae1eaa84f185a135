//! Thick bundles: an OCI image layout in a `.tar` or `.tar.gz` archive.
//!
//! An uncompressed `.tar` is read in place: irel records where each file's bytes are and streams
//! blobs straight from there. gzip cannot be read at random, so a `.tar.gz` is decompressed once
//! into a private temporary directory that is removed afterwards; the archive itself is never
//! modified. Either way every entry is checked first: absolute paths, `..`, links, devices and
//! duplicate names make the whole archive refused, and only `oci-layout`, `index.json` and
//! `blobs/<alg>/<hex>` with a valid digest are read (other files are ignored, as the layout
//! spec says). The temporary directory has a random name and mode 0700 (from `tempfile`).
//!
//! A `.tar.gz` may expand to much more than its size (a gzip bomb: 52 MB holding 50 GiB).
//! Extraction is bounded by [`ExtractLimits`]: each entry's declared size and the bytes actually
//! written so far are checked against the bound before anything more is written, a blob must
//! have the size `index.json` or an already extracted manifest declares for it, and at the first
//! excess extraction stops and everything written is removed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path};

use super::locked_dir::LockedDir;
use super::{layout_error, output_parts, safe_path, OciLayout, INDEX_FILE, LAYOUT_FILE};
use crate::error::Error;
use crate::manifest::{Contents, Manifest, MAX_MANIFEST_SIZE, OCI_INDEX, OCI_MANIFEST};
use crate::reference::Digest;

/// An opened bundle archive. Keep it alive while its layout is in use.
///
/// ```
/// use irel::layout::{archive, OciLayout};
/// let dir = tempfile::tempdir().unwrap();
/// let (layout_dir, bundle) = (dir.path().join("layout"), dir.path().join("bundle.tar.gz"));
/// OciLayout::create(&layout_dir).unwrap();
/// archive::write(&layout_dir, &bundle).unwrap();
/// let opened = archive::open(&bundle).unwrap(); // extracted into a private temporary directory
/// assert!(opened.layout().entries().unwrap().is_empty());
/// drop(opened); // and that directory is removed
/// ```
#[derive(Debug)]
pub struct Archive {
    layout: OciLayout,
    _extracted: Option<LockedDir>,
}

/// How much a compressed bundle may expand to when it is extracted.
///
/// ```no_run
/// # fn demo() -> Result<(), irel::Error> {
/// use irel::layout::archive::{open_with, ExtractLimits};
/// // Stricter for bundles from elsewhere: 20 times the archive's size at most, 1 GiB kept free.
/// let limits = ExtractLimits { max_expansion: 20, keep_free: 1 << 30 };
/// let bundle = open_with("incoming/bundle.tgz".as_ref(), limits)?;
/// println!("{} images", bundle.layout().entries()?.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// The extracted files may add up to at most this many times the archive's size. Image
    /// layers are mostly compressed already, so a real bundle expands little; gzip itself
    /// cannot exceed about 1032 times.
    pub max_expansion: u64,
    /// Bytes to leave free on the file system of the temporary directory.
    pub keep_free: u64,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        ExtractLimits {
            max_expansion: 100,
            keep_free: 64 << 20,
        }
    }
}

/// The bytes an extraction may still write, counted as they are written.
///
/// ```
/// use irel::layout::archive::{ExtractBudget, ExtractLimits};
/// let mut budget = ExtractBudget::new(1000, None, ExtractLimits::default());
/// assert_eq!(budget.limit(), 100_000, "100 times the archive's size");
/// assert!(budget.admit("blobs/sha256/ab", 200_000).is_err(), "refused before a byte is written");
/// budget.spend("index.json", 500).unwrap();
/// assert_eq!(budget.written(), 500);
/// ```
#[derive(Debug, Clone)]
pub struct ExtractBudget {
    limit: u64,
    why: String,
    written: u64,
}

impl ExtractBudget {
    /// The budget for an archive of `archive_len` bytes extracted where `free` bytes are
    /// available (unknown: `None`).
    pub fn new(archive_len: u64, free: Option<u64>, limits: ExtractLimits) -> ExtractBudget {
        let by_ratio = archive_len.saturating_mul(limits.max_expansion);
        let by_space = free.map(|f| f.saturating_sub(limits.keep_free));
        match by_space {
            Some(space) if space < by_ratio => ExtractBudget {
                limit: space,
                why: format!(
                    "the free space of the temporary directory less {} MiB; set TMPDIR to a larger file system",
                    limits.keep_free >> 20
                ),
                written: 0,
            },
            _ => ExtractBudget {
                limit: by_ratio,
                why: format!("{} times the archive's size", limits.max_expansion),
                written: 0,
            },
        }
    }

    /// The most bytes the extraction may write.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Checks an entry whose header declares `size` bytes, before any of it is written.
    pub fn admit(&self, name: &str, size: u64) -> Result<(), String> {
        if size > self.limit.saturating_sub(self.written) {
            return Err(self.exceeded(&format!("entry {name:?} declares {size} bytes")));
        }
        Ok(())
    }

    /// Counts `n` bytes written; an error once the total passes the limit (whatever headers said).
    pub fn spend(&mut self, name: &str, n: u64) -> Result<(), String> {
        self.written = self.written.saturating_add(n);
        if self.written > self.limit {
            return Err(self.exceeded(&format!("entry {name:?} ran past its header")));
        }
        Ok(())
    }

    fn exceeded(&self, what: &str) -> String {
        format!(
            "extracting it would write more than {} bytes ({}): {what} after {} bytes written; irel stopped and removed what it had extracted (an uncompressed .tar is read in place, without this limit)",
            self.limit, self.why, self.written
        )
    }
}

/// Free bytes for an unprivileged writer on the file system holding `dir`.
fn free_space(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain old data; all zeroes is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a statvfs the call fills in.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

impl Archive {
    /// The layout inside the archive.
    pub fn layout(&self) -> &OciLayout {
        &self.layout
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
    open_with(path, ExtractLimits::default())
}

/// [`open`] with the bounds a `.tar.gz` may expand to.
pub fn open_with(path: &Path, limits: ExtractLimits) -> Result<Archive, Error> {
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
    // Private: a random name, mode 0700, created (never reused) by tempfile; removed on drop,
    // also when extraction fails half-way.
    // Locked while in use, so that one a killed run left is removed by the next extraction.
    let dir = LockedDir::new_in(&std::env::temp_dir(), "irel-bundle-")
        .map_err(|e| layout_error(path, format!("cannot create a temporary directory: {e}")))?;
    let file = File::open(path).map_err(io)?;
    let archive_len = file.metadata().map_err(io)?.len();
    let budget = ExtractBudget::new(archive_len, free_space(dir.path()), limits);
    let reader = flate2::read::GzDecoder::new(BufReader::new(file));
    extract(path, reader, dir.path(), budget)?;
    let layout = OciLayout::open(dir.path())
        .map_err(|e| match e {
            Error::Layout { reason, .. } => layout_error(path, reason),
            other => other,
        })?
        .shown_as(path);
    Ok(Archive {
        layout,
        _extracted: Some(dir),
    })
}

/// Extracts the layout files of a tar stream under `root` (a fresh private directory) within
/// `budget`. Blob sizes are checked against what `index.json` and the manifests extracted
/// before them declare; what comes later is verified when the blob is read.
fn extract<R: Read>(archive: &Path, reader: R, root: &Path, mut budget: ExtractBudget) -> Result<(), Error> {
    let mut declared = Declared::default();
    scan(archive, reader, |name, entry, size| {
        let invalid = |reason: String| std::io::Error::new(std::io::ErrorKind::InvalidData, reason);
        budget.admit(name, size).map_err(invalid)?;
        declared.check(name, size).map_err(invalid)?;
        if let Some((parent, _)) = name.rsplit_once('/') {
            safe_path::create_dirs_in_existing(root, Path::new(parent)).map_err(std::io::Error::other)?;
        }
        let target = root.join(name);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&target)?;
        // Counted as written, not as the header said.
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = entry.read(&mut buf)?;
            if n == 0 {
                break;
            }
            budget.spend(name, n as u64).map_err(invalid)?;
            out.write_all(&buf[..n])?;
        }
        if declared.wants(name) {
            // Read back: the entry's reader is spent, and this file is small (checked above).
            drop(out);
            declared.learn(name, &std::fs::read(&target)?);
        }
        Ok(())
    })?;
    Ok(())
}

/// Sizes that `index.json` and extracted manifests declare for blobs, by layout path.
#[derive(Default)]
struct Declared {
    /// path → (size, whether it is a manifest or index to read for more).
    sizes: HashMap<String, (u64, bool)>,
}

impl Declared {
    fn check(&self, name: &str, size: u64) -> Result<(), String> {
        let small = |limit: u64| {
            (size > limit)
                .then(|| format!("entry {name:?} declares {size} bytes; irel reads at most {limit} bytes of it"))
        };
        let problem = match name {
            LAYOUT_FILE => small(4096),
            INDEX_FILE => small(MAX_MANIFEST_SIZE as u64),
            _ => match self.sizes.get(name) {
                Some(&(want, _)) if want != size => Some(format!(
                    "entry {name:?} declares {size} bytes where the layout's descriptors say {want}"
                )),
                _ => None,
            },
        };
        problem.map_or(Ok(()), Err)
    }

    /// Whether `name` is a file whose descriptors [`learn`](Self::learn) reads.
    fn wants(&self, name: &str) -> bool {
        name == INDEX_FILE
            || self
                .sizes
                .get(name)
                .is_some_and(|&(size, manifest)| manifest && size <= MAX_MANIFEST_SIZE as u64)
    }

    /// Reads the descriptors in `index.json` or a manifest (when valid; else the blob's own
    /// check refuses it later).
    fn learn(&mut self, name: &str, raw: &[u8]) {
        if raw.len() > MAX_MANIFEST_SIZE {
            return;
        }
        if name == INDEX_FILE {
            if let Ok(entries) = OciLayout::parse_index(raw) {
                for e in entries {
                    let manifest = matches!(e.descriptor.media_type.as_str(), OCI_MANIFEST | OCI_INDEX)
                        || e.descriptor.media_type.contains("manifest");
                    self.add(&e.descriptor, manifest);
                }
            }
            return;
        }
        let Ok(m) = Manifest::parse(bytes::Bytes::copy_from_slice(raw), None, name) else {
            return;
        };
        match m.contents {
            Contents::Image { config, layers } => {
                self.add(&config, false);
                layers.iter().for_each(|l| self.add(l, false));
            }
            Contents::Index { manifests } => manifests.iter().for_each(|d| self.add(d, true)),
        }
    }

    fn add(&mut self, d: &crate::manifest::Descriptor, manifest: bool) {
        let path = OciLayout::blob_name(&d.digest);
        self.sizes.entry(path).or_insert((d.size, manifest));
    }
}

/// Checks a tar stream as extraction would, writing nothing: the layout files it holds and
/// their sizes, or why it is refused. `archive_len` is the size of the archive it came from
/// (for the expansion bound). For fuzzing and tests of the entry checks.
pub fn check_entries<R: Read>(reader: R, archive_len: u64, limits: ExtractLimits) -> Result<Vec<(String, u64)>, Error> {
    let archive = Path::new("archive");
    let mut budget = ExtractBudget::new(archive_len, None, limits);
    let mut declared = Declared::default();
    let mut out = Vec::new();
    scan(archive, reader, |name, entry, size| {
        let invalid = |reason: String| std::io::Error::new(std::io::ErrorKind::InvalidData, reason);
        budget.admit(name, size).map_err(invalid)?;
        declared.check(name, size).map_err(invalid)?;
        let (mut buf, mut kept) = ([0u8; 8192], Vec::new());
        let wanted = declared.wants(name);
        loop {
            let n = entry.read(&mut buf)?;
            if n == 0 {
                break;
            }
            budget.spend(name, n as u64).map_err(invalid)?;
            if wanted {
                kept.extend_from_slice(&buf[..n]);
            }
        }
        if wanted {
            declared.learn(name, &kept);
        }
        out.push((name.to_string(), size));
        Ok(())
    })?;
    Ok(out)
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
    // The tar crate's messages quote the bytes it could not read: never show a file's
    // contents (the user may have named the wrong file, /etc/shadow say).
    let not_tar =
        || bad("not a tar or tar.gz archive; a bundle is an OCI image layout in a tar (irel save writes one)".into());
    let entries = tar.entries().map_err(|_| not_tar())?;
    for (n, entry) in entries.enumerate() {
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(_) if n == 0 => return Err(not_tar()),
            Err(e) => return Err(bad(format!("corrupt tar archive after {n} entries ({})", e.kind()))),
        };
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
    let (dir, _) = output_parts(out)?;
    write_via(layout, out, dir)
}

/// [`write`], with the archive written under a temporary name in `temp_dir` (on `out`'s file
/// system) before it is renamed to `out`. An output named `*.tar` is an uncompressed tar (read
/// in place later, with no decompression); any other name gets gzip.
pub(crate) fn write_via(layout: &Path, out: &Path, temp_dir: &Path) -> Result<(), Error> {
    let io = |e: std::io::Error| layout_error(out, format!("writing archive: {e}"));
    let plain = out
        .file_name()
        .is_some_and(|n| n.to_string_lossy().to_ascii_lowercase().ends_with(".tar"));
    (|| {
        // A random name created with O_EXCL, removed unless renamed over `out`.
        let tmp = safe_path::temp_file_in(temp_dir)?;
        let tmp = if plain {
            append_layout(layout, tar::Builder::new(tmp))?
        } else {
            let gz = flate2::write::GzEncoder::new(tmp, flate2::Compression::fast());
            append_layout(layout, tar::Builder::new(gz))?.finish()?
        };
        tmp.as_file().sync_all()?;
        tmp.persist(out).map_err(|e| e.error)?;
        Ok(())
    })()
    .map_err(io)
}

/// Writes the layout's files into `tar` (`oci-layout`, `index.json`, then the blobs in name
/// order, with fixed modes and times: the same layout gives the same archive); returns what
/// the tar was written to.
fn append_layout<W: Write>(layout: &Path, mut tar: tar::Builder<W>) -> std::io::Result<W> {
    let mut names = vec![LAYOUT_FILE.to_string(), INDEX_FILE.to_string()];
    let mut blob_names = Vec::new();
    for alg in std::fs::read_dir(layout.join("blobs"))? {
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
        let (mut f, _) = safe_path::open_regular(layout, &n).map_err(std::io::Error::other)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(f.metadata()?.len());
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, &n, &mut f)?;
    }
    tar.into_inner()
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

    fn tar_of(entries: &[(&str, &[u8], u64)]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (name, data, declared) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(*declared);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_path(name).unwrap();
            h.set_cksum();
            tar.append(&h, *data).unwrap();
        }
        tar.into_inner().unwrap()
    }

    #[test]
    fn blobs_must_have_the_size_the_index_declares_and_the_total_stays_bounded() {
        let blob = b"0123456789";
        let digest = Digest::sha256_of(blob);
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":4}}]}}"#
        );
        let marker = br#"{"imageLayoutVersion":"1.0.0"}"#;
        let name = format!("blobs/sha256/{}", digest.encoded());
        let data = tar_of(&[
            ("oci-layout", marker, marker.len() as u64),
            ("index.json", index.as_bytes(), index.len() as u64),
            (&name, blob, blob.len() as u64),
        ]);
        let limits = ExtractLimits {
            max_expansion: 10,
            keep_free: 0,
        };
        let err = check_entries(&data[..], 1 << 20, limits).unwrap_err().to_string();
        assert!(
            err.contains("declares 10 bytes where the layout's descriptors say 4"),
            "{err}"
        );
        // Under a bound of 50 bytes the index alone is too much.
        let err = check_entries(&data[..], 5, limits).unwrap_err().to_string();
        assert!(err.contains("more than 50 bytes"), "{err}");
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

//! Names from untrusted places (layout `ref.name` annotations, catalogs, tag lists, `dir:`
//! trees, mapping rules) become paths here, and only here; and every file irel writes or reads
//! inside a destination or a layout goes through these helpers.
//!
//! A name becomes a path only when it follows the image reference grammar: repository path
//! components of lowercase letters and digits with `.`, `_`, `__` or dashes between them, and a
//! tag of `[A-Za-z0-9_.-]` not starting with `.` or `-`. That grammar has no `/` in a tag, no
//! empty, `.` or `..` component and no absolute path, so the result stays under its root.
//!
//! A valid name is not enough: a directory that already exists under the root may be a
//! symbolic link to anywhere (`OUT/a -> /etc`). Every existing component below the root is
//! checked with `symlink_metadata` before it is used, files are opened with `O_NOFOLLOW`, and
//! temporary files get random names created with `O_EXCL` (never a path that already exists).
//! The root itself is the user's choice and may be a link.
//!
//! Limit: the checks are made before each write, not with directory handles, so a directory
//! that another user can write to while irel runs is not a safe destination.

use std::fs::File;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::reference::{valid_path_component, valid_tag};

/// Why a name cannot become a path, or a path cannot be used.
///
/// ```
/// use irel::layout::safe_path::{image_dir, PathError};
/// match image_dir("team/../../etc", "1.0") {
///     Err(PathError::InvalidName { what, name, .. }) => {
///         assert_eq!((what, name.as_str()), ("repository path", "team/../../etc"))
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// A name that does not follow the image reference grammar.
    #[error(
        "{what} {name:?} cannot name a directory: {reason} (names must follow the image reference grammar: lowercase path components separated by '/', tags of up to 128 [A-Za-z0-9_.-])"
    )]
    InvalidName {
        /// What the name is (`repository path`, `tag`).
        what: &'static str,
        /// The name as given.
        name: String,
        /// Which part is wrong.
        reason: String,
    },
    /// An existing path component below the root that is a symbolic link.
    #[error("{path} is a symbolic link; irel does not follow links inside {root} (remove the link or choose another directory)")]
    Symlink {
        /// The directory the path must stay in.
        root: String,
        /// The link.
        path: String,
    },
    /// An existing path component that is not what irel needs there.
    #[error("{path} exists and is not a {wanted}; irel does not use it (remove it or choose another directory)")]
    WrongType {
        /// The path.
        path: String,
        /// `directory` or `regular file`.
        wanted: &'static str,
    },
    /// The file system refused.
    #[error("{path}: cannot {action}: {source}")]
    Io {
        /// The path.
        path: String,
        /// What irel was doing.
        action: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl PathError {
    fn io(path: &Path, action: &'static str, source: io::Error) -> PathError {
        PathError::Io {
            path: path.display().to_string(),
            action,
            source,
        }
    }
}

/// Checks a repository path as it becomes directories: `/`-separated components of the
/// reference grammar. The first component may also be a registry scope as
/// `sync::Naming` writes it (`host-port`, `[v6]-port`), which the grammar of
/// hosts keeps free of `/` and `..`.
pub fn check_repository_path(path: &str) -> Result<(), PathError> {
    let bad = |reason: String| PathError::InvalidName {
        what: "repository path",
        name: path.to_string(),
        reason,
    };
    if path.is_empty() {
        return Err(bad("it is empty".into()));
    }
    if path.len() > 4096 {
        return Err(bad("it is longer than 4096 bytes".into()));
    }
    for (i, component) in path.split('/').enumerate() {
        let ok = valid_path_component(component) || (i == 0 && is_registry_scope(component));
        if !ok {
            return Err(bad(format!(
                "component {component:?} is not lowercase letters and digits separated by '.', '_', '__' or dashes"
            )));
        }
    }
    Ok(())
}

/// A registry host as a directory name: `host[:port]` lowercased with `:` written `-`, or a
/// bracketed IPv6 address so written; or, as skopeo's scoped names write it, `host:port`.
fn is_registry_scope(c: &str) -> bool {
    match c.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => is_scope_host(host),
        _ => is_scope_host(c),
    }
}

fn is_scope_host(c: &str) -> bool {
    let b = c.as_bytes();
    let inner_ok = |x: &u8| x.is_ascii_lowercase() || x.is_ascii_digit() || matches!(x, b'.' | b'-' | b'[' | b']');
    !b.is_empty() && (b[0].is_ascii_alphanumeric() || b[0] == b'[') && b.iter().all(inner_ok) && !c.contains("..")
}

/// A registry host as the first directory of a scoped name: lowercase, `:` written `-`
/// (`127.0.0.1:5000` → `127.0.0.1-5000`).
pub fn registry_scope(registry: &str) -> String {
    registry.to_ascii_lowercase().replace(':', "-")
}

/// The repository path and tag that a layout entry named `name` (its
/// `org.opencontainers.image.ref.name`) is synced to: a full reference gives its own
/// repository (under its registry's scope when `scoped`) and tag (`latest` without one); a
/// bare tag, as skopeo names entries, goes to `fallback`. Anything else, and anything that
/// would not be a safe directory, is refused.
///
/// ```
/// use irel::layout::safe_path::layout_entry_target;
/// let t = layout_entry_target("registry.example:5000/lib/app:1.0", "image", true).unwrap();
/// assert_eq!(t, ("registry.example-5000/lib/app".to_string(), "1.0".to_string()));
/// assert_eq!(layout_entry_target("v1", "bundle", true).unwrap().0, "bundle");
/// assert!(layout_entry_target("x/../../../pwn", "image", true).is_err());
/// ```
pub fn layout_entry_target(name: &str, fallback: &str, scoped: bool) -> Result<(String, String), PathError> {
    let (repository, tag) = match name.parse::<crate::Reference>() {
        Ok(r) if name.contains('/') => {
            let repository = if scoped {
                format!("{}/{}", registry_scope(r.registry()), r.repository())
            } else {
                r.repository().to_string()
            };
            (repository, r.tag().unwrap_or("latest").to_string())
        }
        Err(e) if name.contains('/') => {
            return Err(PathError::InvalidName {
                what: "layout entry name",
                name: name.to_string(),
                reason: format!("it is neither an image reference nor a tag ({})", e.reason),
            })
        }
        _ => (fallback.to_string(), name.to_string()),
    };
    check_repository_path(&repository)?;
    check_tag(&tag)?;
    Ok((repository, tag))
}

/// Checks a tag as it becomes part of a directory name.
pub fn check_tag(tag: &str) -> Result<(), PathError> {
    if valid_tag(tag) {
        return Ok(());
    }
    Err(PathError::InvalidName {
        what: "tag",
        name: tag.to_string(),
        reason: "a tag is 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'".into(),
    })
}

/// The directory, relative to a destination root, of image `repository:tag` in a skopeo
/// `dir:` tree (`repo/path:tag`), once both are checked. The result has only normal
/// components: joined to a root it stays inside it.
///
/// ```
/// use irel::layout::safe_path::image_dir;
/// assert_eq!(image_dir("lib/app", "1.0").unwrap(), std::path::Path::new("lib/app:1.0"));
/// assert!(image_dir("x/../../../pwn", "latest").is_err());
/// assert!(image_dir("app", "../../etc").is_err());
/// ```
pub fn image_dir(repository: &str, tag: &str) -> Result<PathBuf, PathError> {
    check_repository_path(repository)?;
    check_tag(tag)?;
    let dir = PathBuf::from(format!("{repository}:{tag}"));
    debug_assert!(dir.components().all(|c| matches!(c, Component::Normal(_))));
    Ok(dir)
}

/// The directory, relative to a destination root, of image `repository@digest` in a skopeo
/// `dir:` tree (an image skopeo sync names by digest), once the repository is checked.
///
/// ```
/// use irel::layout::safe_path::image_dir_by_digest;
/// let d = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
/// assert_eq!(image_dir_by_digest("pause", &d).unwrap(), std::path::Path::new(&format!("pause@sha256:{}", "a".repeat(64))));
/// assert!(image_dir_by_digest("../x", &d).is_err());
/// ```
pub fn image_dir_by_digest(repository: &str, digest: &crate::reference::Digest) -> Result<PathBuf, PathError> {
    check_repository_path(repository)?;
    // A parsed digest is `algorithm:hex`: no `/`, no `..`.
    let dir = PathBuf::from(format!("{repository}@{digest}"));
    debug_assert!(dir.components().all(|c| matches!(c, Component::Normal(_))));
    Ok(dir)
}

/// Creates `root/rel` (and `root` itself when missing), refusing any existing component
/// below `root` that is a symbolic link or not a directory. `rel` must hold only normal
/// components. Returns the full path.
pub fn create_dirs(root: &Path, rel: &Path) -> Result<PathBuf, PathError> {
    std::fs::create_dir_all(root).map_err(|e| PathError::io(root, "create the directory", e))?;
    create_dirs_below(root, rel)
}

/// [`create_dirs`] for a `root` that must exist already (a private temporary directory, a
/// layout): one removed meanwhile (an interrupted run's cleanup) is not made again, with
/// ordinary permissions and no lock, by a writer that has not stopped yet.
pub fn create_dirs_in_existing(root: &Path, rel: &Path) -> Result<PathBuf, PathError> {
    match std::fs::symlink_metadata(root) {
        Ok(m) if m.is_dir() => create_dirs_below(root, rel),
        Ok(_) => Err(PathError::io(root, "use", io::Error::other("not a directory"))),
        Err(e) => Err(PathError::io(root, "use", e)),
    }
}

fn create_dirs_below(root: &Path, rel: &Path) -> Result<PathBuf, PathError> {
    let mut path = root.to_path_buf();
    for component in rel.components() {
        let Component::Normal(part) = component else {
            return Err(PathError::InvalidName {
                what: "path",
                name: rel.display().to_string(),
                reason: "it is absolute or has '.' or '..' components".into(),
            });
        };
        path.push(part);
        match std::fs::create_dir(&path) {
            Ok(()) => continue,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => check_dir(root, &path)?,
            Err(e) => return Err(PathError::io(&path, "create the directory", e)),
        }
    }
    Ok(path)
}

/// Checks that every component of `rel` below `root` exists as a real directory (not a link).
fn check_dir(root: &Path, path: &Path) -> Result<(), PathError> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| PathError::io(path, "inspect", e))?;
    if meta.file_type().is_symlink() {
        return Err(PathError::Symlink {
            root: root.display().to_string(),
            path: path.display().to_string(),
        });
    }
    if !meta.is_dir() {
        return Err(PathError::WrongType {
            path: path.display().to_string(),
            wanted: "directory",
        });
    }
    Ok(())
}

/// Opens the regular file `root/rel` for reading without following a link anywhere below
/// `root`: each directory on the way is checked, the file is opened with `O_NOFOLLOW`, and
/// anything but a regular file (a FIFO, a device) is refused. Returns the file and its length.
pub fn open_regular(root: &Path, rel: &str) -> Result<(File, u64), PathError> {
    let mut path = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() || *part == "." || *part == ".." {
            return Err(PathError::InvalidName {
                what: "path",
                name: rel.to_string(),
                reason: "it has an empty, '.' or '..' component".into(),
            });
        }
        path.push(part);
        if i + 1 < parts.len() {
            check_dir(root, &path)?;
        }
    }
    // Checked before opening too: opening a FIFO would wait for a writer.
    let meta = std::fs::symlink_metadata(&path).map_err(|e| PathError::io(&path, "read", e))?;
    if meta.file_type().is_symlink() {
        return Err(PathError::Symlink {
            root: root.display().to_string(),
            path: path.display().to_string(),
        });
    }
    if !meta.is_file() {
        return Err(PathError::WrongType {
            path: path.display().to_string(),
            wanted: "regular file",
        });
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => PathError::Symlink {
                root: root.display().to_string(),
                path: path.display().to_string(),
            },
            _ => PathError::io(&path, "read", e),
        })?;
    let meta = file.metadata().map_err(|e| PathError::io(&path, "read", e))?;
    if !meta.is_file() {
        return Err(PathError::WrongType {
            path: path.display().to_string(),
            wanted: "regular file",
        });
    }
    Ok((file, meta.len()))
}

/// Whether `path` is a regular file itself (a link to one does not count).
#[cfg_attr(not(feature = "sync"), allow(dead_code))] // used by the sync feature's dir: writer
pub(crate) fn is_regular_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

/// A new temporary file in `dir` with a random name, created with `O_EXCL` (so never an
/// existing file or link), readable as the umask allows (`0644` before it), to be renamed
/// over its final name once complete. Removed when dropped unless persisted.
pub(crate) fn temp_file_in(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".irel-")
        .suffix(".partial")
        .permissions(std::fs::Permissions::from_mode(0o644))
        .tempfile_in(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_leave_the_root_are_refused() {
        for (repo, tag) in [
            ("x/../../../pwn", "latest"),
            ("a/b/../../../../tmp/x", "latest"),
            ("/etc", "x"),
            ("a//b", "x"),
            ("a/./b", "x"),
            ("..", "x"),
            ("a", "x/../../y"),
            ("a", ".."),
            ("a", ""),
            ("", "x"),
            ("Upper", "x"),
        ] {
            assert!(image_dir(repo, tag).is_err(), "{repo}:{tag}");
        }
        assert_eq!(
            image_dir("127.0.0.1-5000/lib/app", "v1.2_3-rc").unwrap(),
            Path::new("127.0.0.1-5000/lib/app:v1.2_3-rc")
        );
        assert!(image_dir("[--1]-5000/app", "t").is_ok());
        assert!(image_dir("app/[--1]-5000", "t").is_err());
    }

    #[test]
    fn an_existing_link_below_the_root_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("a")).unwrap();
        let err = create_dirs(&root, Path::new("a/b")).unwrap_err();
        assert!(matches!(err, PathError::Symlink { .. }), "{err}");
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        assert_eq!(create_dirs(&root, Path::new("c/d")).unwrap(), root.join("c/d"));
    }

    #[test]
    fn reads_refuse_links_at_any_level() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
        std::fs::write(root.join("secret"), b"key").unwrap();
        std::fs::write(root.join("blobs/sha256/ok"), b"data").unwrap();
        std::os::unix::fs::symlink(root.join("secret"), root.join("blobs/sha256/link")).unwrap();
        std::os::unix::fs::symlink(root.join("blobs"), root.join("other")).unwrap();
        assert_eq!(open_regular(root, "blobs/sha256/ok").unwrap().1, 4);
        assert!(matches!(
            open_regular(root, "blobs/sha256/link"),
            Err(PathError::Symlink { .. })
        ));
        assert!(matches!(
            open_regular(root, "other/sha256/ok"),
            Err(PathError::Symlink { .. })
        ));
        assert!(open_regular(root, "blobs/../secret").is_err());
    }
}

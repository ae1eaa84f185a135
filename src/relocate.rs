//! Bundles and relocation: saving images into a thick bundle, moving images between layouts and
//! registries, and relocation: many images moved under one repository prefix, each to the name
//! [`flatten_repo_path_preserve_tag_digest`] gives it, with a record of where each went.
//!
//! Thin relocation copies from the images' own registries; thick relocation copies from an OCI
//! layout (or a bundle archive's layout) that holds them, without touching the original
//! registries. Each image is copied and verified on its own: one failure is reported and the
//! others still go. The relocation mapping lists only the images that landed with their digest.

use std::collections::BTreeMap;
use std::path::Path;

use crate::copy::{copy_content, CopyOptions, RegistryRepository};
use crate::error::Error;
use crate::layout::locked_dir::LockedDir;
use crate::layout::OciLayout;
use crate::mapping::flatten_repo_path_preserve_tag_digest;
use crate::model::name::{Tag, TagOrDigest};
use crate::places::registry::Registry;
use crate::reference::{Digest, Reference};

/// One image that was relocated.
///
/// ```no_run
/// # async fn demo(client: irel::Client) {
/// use irel::relocate::RelocationSource;
/// let images = vec!["docker.io/istio/proxyv2:1.2".to_string()];
/// let (prefix, options) = ("registry.internal/acme", irel::CopyOptions::default());
/// let report = client.relocate(prefix, &images, RelocationSource::Registries, &options).await;
/// for r in &report.relocated {
///     println!("{} -> {} ({})", r.original, r.relocated, r.digest);
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Relocated {
    /// The reference as given (the mapping's key).
    pub original: String,
    /// Where it went.
    pub relocated: Reference,
    /// Its digest, the same in both places.
    pub digest: Digest,
}

/// What a relocation did.
///
/// ```no_run
/// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
/// use irel::relocate::RelocationSource;
/// let images = vec!["docker.io/istio/proxyv2:1.2".to_string(), "quay.io/team/app:2".to_string()];
/// let (prefix, options) = ("registry.internal/acme", irel::CopyOptions::default());
/// let report = client.relocate(prefix, &images, RelocationSource::Registries, &options).await;
/// for (image, error) in &report.failed {
///     eprintln!("{image}: {error}");
/// }
/// report.write_mapping("relocation-mapping.json".as_ref())?; // the images that landed
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct RelocationReport {
    /// The images relocated and verified, in the order given.
    pub relocated: Vec<Relocated>,
    /// The images that were not, with the reason.
    pub failed: Vec<(String, Error)>,
}

impl RelocationReport {
    /// The relocation mapping: each original reference, as given, to its relocated reference
    /// (CNAB `relocation-mapping.json` shape).
    pub fn mapping(&self) -> BTreeMap<String, String> {
        self.relocated
            .iter()
            .map(|r| (r.original.clone(), r.relocated.to_string()))
            .collect()
    }

    /// Writes the mapping as JSON to `path`, atomically.
    pub fn write_mapping(&self, path: &Path) -> Result<(), Error> {
        let mut json = serde_json::to_vec_pretty(&self.mapping()).expect("a string map serializes");
        json.push(b'\n');
        let (dir, name) = crate::layout::output_parts(path)?;
        crate::layout::write_atomically(dir, &name, &json).map_err(|e| Error::Layout {
            path: path.display().to_string(),
            reason: format!("cannot write the relocation mapping: {e}"),
        })
    }
}

/// Where relocated images come from.
///
/// A thick relocation, from a bundle instead of the images' own registries:
/// ```no_run
/// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
/// use irel::relocate::RelocationSource;
/// let bundle = irel::layout::archive::open("bundle.tgz".as_ref())?;
/// let images = vec!["docker.io/istio/proxyv2:1.2".to_string()];
/// let source = RelocationSource::Layout(bundle.layout());
/// let report = client.relocate("registry.internal/acme", &images, source, &Default::default()).await;
/// # let _ = report;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug)]
pub enum RelocationSource<'a> {
    /// Each image's own registry (thin bundle).
    Registries,
    /// An OCI layout holding the images under their full references (thick bundle).
    Layout(&'a OciLayout),
}

/// The work of [`Client::pull_to_layout`](crate::Client::pull_to_layout).
pub(crate) async fn pull_to_layout(
    registry: &Registry,
    src: &Reference,
    layout: &OciLayout,
    options: &CopyOptions,
) -> Result<Digest, Error> {
    let from = RegistryRepository::new(registry.clone(), &src.to_repository());
    let report = copy_content(
        &from,
        &src.tag_or_digest(),
        layout,
        &TagOrDigest::Tag(Tag::new(&src.to_string())?),
        src.digest(),
        options,
    )
    .await?;
    Ok(report.digest.expect("a finished copy has a digest"))
}

/// The work of [`Client::push_from_layout`](crate::Client::push_from_layout).
pub(crate) async fn push_from_layout(
    registry: &Registry,
    layout: &OciLayout,
    digest: &Digest,
    dst: &Reference,
    options: &CopyOptions,
) -> Result<(), Error> {
    let to = RegistryRepository::new(registry.clone(), &dst.to_repository());
    copy_content(
        layout,
        &TagOrDigest::Digest(digest.clone()),
        &to,
        &dst.name_to_write(),
        Some(digest),
        options,
    )
    .await?;
    Ok(())
}

/// The work of [`Client::save`](crate::Client::save).
pub(crate) async fn save(
    registry: &Registry,
    images: &[Reference],
    out: &Path,
    options: &CopyOptions,
) -> Result<Vec<Digest>, Error> {
    let (dir, name) = crate::layout::output_parts(out)?;
    if !dir.is_dir() {
        // A typo in the path must not become a tree of new directories.
        return Err(Error::Layout {
            path: out.display().to_string(),
            reason: format!("the directory {} does not exist; create it first", dir.display()),
        });
    }
    // Beside the output (same file system, no copy across), but private: a random name
    // and mode 0700, never a directory that already exists. Removed on drop; one a killed
    // save left is removed by the next save to the same output.
    let staging = LockedDir::new_in(dir, &format!(".{name}.layout.")).map_err(|e| Error::Layout {
        path: out.display().to_string(),
        reason: format!("cannot create a staging directory beside it: {e}"),
    })?;
    let result = async {
        let layout_dir = staging.path().join("layout");
        let layout = OciLayout::create(&layout_dir)?;
        let mut digests = Vec::new();
        for image in images {
            digests.push(pull_to_layout(registry, image, &layout, options).await?);
        }
        let (staging, out) = (staging.path().to_path_buf(), out.to_path_buf());
        // The archive is written in the staging directory too, so that what removes one
        // (a drop, an interrupted run's cleanup, the next save) removes both.
        tokio::task::spawn_blocking(move || crate::layout::archive::write_via(&staging.join("layout"), &out, &staging))
            .await
            .expect("archive writing does not panic")?;
        Ok(digests)
    }
    .await;
    drop(staging);
    result
}

/// The work of [`Client::relocate`](crate::Client::relocate).
pub(crate) async fn relocate(
    registry: &Registry,
    prefix: &str,
    images: &[String],
    source: RelocationSource<'_>,
    options: &CopyOptions,
) -> RelocationReport {
    relocate_observed(registry, prefix, images, source, options, |_| {}).await
}

/// The work of [`Client::relocate_observed`](crate::Client::relocate_observed).
pub(crate) async fn relocate_observed(
    registry: &Registry,
    prefix: &str,
    images: &[String],
    source: RelocationSource<'_>,
    options: &CopyOptions,
    on_each: impl Fn(&RelocationReport),
) -> RelocationReport {
    let mut report = RelocationReport::default();
    for original in images {
        match relocate_one(registry, prefix, original, source, options).await {
            Ok(r) => report.relocated.push(r),
            Err(e) => report.failed.push((original.clone(), e)),
        }
        on_each(&report);
    }
    report
}

async fn relocate_one(
    registry: &Registry,
    prefix: &str,
    original: &str,
    source: RelocationSource<'_>,
    options: &CopyOptions,
) -> Result<Relocated, Error> {
    let parsed: Reference = original.parse()?;
    let relocated = flatten_repo_path_preserve_tag_digest(prefix, &parsed)?;
    let report = match source {
        RelocationSource::Registries => crate::copy::copy(registry, &parsed, &relocated, options).await?,
        RelocationSource::Layout(layout) => {
            let entry = layout.find(original)?.ok_or_else(|| Error::Layout {
                path: layout.shown_path().display().to_string(),
                reason: format!("holds no image named {original}"),
            })?;
            let to = RegistryRepository::new(registry.clone(), &relocated.to_repository());
            let target = relocated.name_to_write();
            copy_content(
                layout,
                &TagOrDigest::Digest(entry.descriptor.digest.clone()),
                &to,
                &target,
                relocated.digest(),
                options,
            )
            .await?
        }
    };
    Ok(Relocated {
        original: original.to_string(),
        relocated,
        digest: report.digest.expect("a finished copy has a digest"),
    })
}

/// Reads an image list: one reference per line; blank lines and `#` comments are ignored.
/// A line that is not an image reference is an error naming the file and the line.
pub fn read_image_list(path: &Path) -> Result<Vec<String>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Layout {
        path: path.display().to_string(),
        reason: format!("cannot read the image list: {e}"),
    })?;
    let list = parse_image_list(&text);
    for (line, entry) in &list {
        if let Err(e) = entry.parse::<Reference>() {
            return Err(Error::Layout {
                path: format!("{}:{line}", path.display()),
                reason: e.to_string(),
            });
        }
    }
    Ok(list.into_iter().map(|(_, entry)| entry).collect())
}

/// The entries of an image list, with their line numbers (from 1).
fn parse_image_list(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.split('#').next().unwrap_or_default().trim()))
        .filter(|(_, l)| !l.is_empty())
        .map(|(n, l)| (n, l.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_line_is_named_by_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images.txt");
        std::fs::write(&path, "busybox:1.36\n\nBAD REF\n").unwrap();
        let e = read_image_list(&path).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}:3: ", path.display())) && e.contains("BAD REF"),
            "{e}"
        );
    }

    #[test]
    fn image_lists_skip_comments_and_blank_lines() {
        let list = "# images\n\nbusybox:1.36  # the shell\n  quay.io/a/b@sha256:00\n";
        assert_eq!(
            parse_image_list(list),
            vec![
                (3, "busybox:1.36".to_string()),
                (4, "quay.io/a/b@sha256:00".to_string())
            ]
        );
    }
}

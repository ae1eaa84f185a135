#![allow(dead_code)] // each fuzz binary uses one of these
//! The properties each fuzz target checks, shared by the cargo fuzz binaries (nightly) and the
//! seed-and-mutation test that runs on stable (tests/integration/fuzz_seeds.rs).

use irel::{Digest, Reference};

/// References and digests: parsing never panics, and a parsed reference's text form parses
/// back to the same reference (so names irel prints can be fed back to it), and maps under a
/// prefix without panicking.
pub fn reference(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = s.parse::<Digest>();
    if let Ok(r) = s.parse::<Reference>() {
        let again: Reference = r.to_string().parse().expect("a reference's text form parses");
        assert_eq!(again, r, "round trip of {s:?}");
        let _ = irel::mapping::flatten_repo_path_preserve_tag_digest("registry.example/prefix", &r);
    }
}

/// WWW-Authenticate headers: parsing never panics, whatever the header.
pub fn www_authenticate(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = irel::auth::parse_challenges(s);
    }
}

/// Manifests: parsing never panics, with or without a Content-Type, and what parses keeps
/// its exact bytes (the digest is of what was given); reading it as a referrer (its subject,
/// artifact type and annotations) never panics and describes those same bytes.
pub fn manifest(data: &[u8]) {
    let bytes = bytes::Bytes::copy_from_slice(data);
    for content_type in [None, Some("application/vnd.oci.image.index.v1+json")] {
        if let Ok(m) = irel::manifest::Manifest::parse(bytes.clone(), content_type, "fuzz") {
            assert_eq!(m.bytes, bytes);
            assert_eq!(m.digest, Digest::sha256_of(data));
            let _ = m.subject();
            let r = m.as_referrer();
            assert_eq!((r.digest, r.size), (m.digest.clone(), data.len() as u64));
        }
    }
}

/// OCI layout `index.json`: reading it never panics.
pub fn layout_index(data: &[u8]) {
    let _ = irel::layout::OciLayout::parse_index(data);
}

/// Layout entry names (`org.opencontainers.image.ref.name`) and tags as they become `dir:`
/// destination paths: never a panic, and whatever is accepted is a relative path of normal
/// components only, so joined to a root it stays inside it. Input: `NAME` or `NAME\nFALLBACK`.
pub fn layout_path(data: &[u8]) {
    use irel::layout::safe_path::{image_dir, layout_entry_target};
    use std::path::{Component, Path};
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (name, fallback) = s.split_once('\n').unwrap_or((s, "image"));
    for scoped in [true, false] {
        let Ok((repository, tag)) = layout_entry_target(name, fallback, scoped) else {
            continue;
        };
        let dir = image_dir(&repository, &tag).expect("an accepted entry is a valid image directory");
        assert!(
            dir.components()
                .all(|c| matches!(c, Component::Normal(p) if p != ".." && p != ".")),
            "{name:?} -> {dir:?}"
        );
        assert!(Path::new("/root").join(&dir).starts_with("/root"));
        assert!(!dir.as_os_str().as_encoded_bytes().contains(&0));
    }
    if let Some((repository, tag)) = s.rsplit_once(':') {
        if let Ok(dir) = image_dir(repository, tag) {
            assert!(dir.components().all(|c| matches!(c, Component::Normal(_))), "{s:?}");
        }
    }
}

/// Tar streams as a bundle's entries are checked before extraction: never a panic, and an
/// accepted stream holds only layout files (`oci-layout`, `index.json`, `blobs/ALG/HEX`) with
/// relative names, adding up to no more than the bound (here 4 times the input's size).
pub fn archive_entries(data: &[u8]) {
    let limits = irel::layout::archive::ExtractLimits {
        max_expansion: 4,
        keep_free: 0,
    };
    let Ok(files) = irel::layout::archive::check_entries(data, data.len() as u64, limits) else {
        return;
    };
    let total: u64 = files.iter().map(|(_, size)| size).sum();
    assert!(total <= 4 * data.len() as u64, "{total} bytes from {}", data.len());
    for (name, _) in files {
        let parts: Vec<&str> = name.split('/').collect();
        let layout_file = matches!(parts.as_slice(), ["oci-layout"] | ["index.json"] | ["blobs", _, _]);
        assert!(layout_file, "{name:?}");
        assert!(
            parts.iter().all(|p| !p.is_empty() && *p != "." && *p != ".."),
            "{name:?}"
        );
    }
}

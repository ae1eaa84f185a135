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

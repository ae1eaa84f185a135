//! Hostile input on the file-system side (issue #12): layout names that climb out of a `dir:`
//! destination, links planted inside a destination or at the temporary paths irel used to
//! predict, gzip bombs, and layout blobs that are links to files elsewhere. Each attack must
//! leave everything outside the destination untouched.

use std::io::{Read as _, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::support::{irel, irel_env, make_layout, skopeo_push, Registry};

const VICTIM: &[u8] = b"precious: must never change\n";

/// Every file under `dir` (links listed, not followed), relative paths.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A layout at `dir` whose index names one image `good`, then `names` (the same image).
fn layout_with_names(dir: &Path, names: &[&str]) -> irel::Digest {
    let fx = make_layout(dir, "good", &[3000], &["amd64"], 71);
    let index_path = dir.join("index.json");
    let mut index: serde_json::Value = serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let first = index["manifests"][0].clone();
    for name in names {
        let mut e = first.clone();
        e["annotations"]["org.opencontainers.image.ref.name"] = (*name).into();
        index["manifests"].as_array_mut().unwrap().push(e);
    }
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    fx.digest.parse().unwrap()
}

#[test]
fn layout_names_that_climb_out_are_skipped_and_nothing_lands_outside_dir_destination() {
    let scratch = tempfile::tempdir().unwrap();
    let base = scratch.path();
    let layout = base.join("evil");
    layout_with_names(&layout, &["x/../../../pwn", "a/b/../../../../tmp/x"]);
    let out_dir = base.join("w1/w2/OUT");
    std::fs::create_dir_all(&out_dir).unwrap();
    // Files the old path join would have replaced (OUT/evil:x/../../../pwn is base/w1/pwn).
    for victim in ["w1/pwn/manifest.json", "w1/pwn/version", "w1/tmp/x/manifest.json"] {
        let p = base.join(victim);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, VICTIM).unwrap();
    }
    let before_outside: Vec<_> = tree(base).into_iter().filter(|p| !p.starts_with("w1/w2/OUT")).collect();

    let out = irel(&[
        "sync",
        &format!("oci:{}", layout.display()),
        &format!("dir:{}", out_dir.display()),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "the valid entry still syncs: {stderr}");
    for name in ["x/../../../pwn", "a/b/../../../../tmp/x"] {
        assert!(
            stderr.contains("warning") && stderr.contains(&format!("{name:?}")),
            "a warning names {name}: {stderr}"
        );
    }
    let after_outside: Vec<_> = tree(base).into_iter().filter(|p| !p.starts_with("w1/w2/OUT")).collect();
    assert_eq!(before_outside, after_outside, "nothing new outside OUT");
    for victim in ["w1/pwn/manifest.json", "w1/pwn/version", "w1/tmp/x/manifest.json"] {
        assert_eq!(std::fs::read(base.join(victim)).unwrap(), VICTIM, "{victim}");
    }
    assert_eq!(
        tree(&out_dir)
            .iter()
            .filter(|p| p.components().count() == 1)
            .collect::<Vec<_>>(),
        vec![Path::new("evil:good")],
        "only the valid entry lands, inside OUT"
    );
    assert!(out_dir.join("evil:good/manifest.json").is_file());
}

#[test]
fn a_link_planted_inside_a_dir_destination_is_not_followed() {
    let scratch = tempfile::tempdir().unwrap();
    let layout = scratch.path().join("layout");
    layout_with_names(&layout, &["registry.example:5000/team/app:1.0"]);
    let out_dir = scratch.path().join("OUT");
    let elsewhere = scratch.path().join("etc");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    // OUT/registry.example-5000 -> etc: the image would land in etc/team/app:1.0.
    symlink(&elsewhere, out_dir.join("registry.example-5000")).unwrap();

    let out = irel(&[
        "sync",
        &format!("oci:{}", layout.display()),
        &format!("dir:{}", out_dir.display()),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert!(tree(&elsewhere).is_empty(), "nothing written through the link");
    assert!(
        out_dir.join("layout:good/manifest.json").is_file(),
        "the other image synced"
    );
}

#[test]
fn planted_partial_blob_links_in_a_dir_destination_are_not_written_through() {
    let scratch = tempfile::tempdir().unwrap();
    let layout = scratch.path().join("img");
    let fx = make_layout(&layout, "v1", &[5000, 700], &["amd64"], 72);
    let victim = scratch.path().join("victim");
    std::fs::write(&victim, VICTIM).unwrap();
    let image_dir = scratch.path().join("OUT/img:v1");
    std::fs::create_dir_all(&image_dir).unwrap();
    let blobs: Vec<String> = std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|hex| !fx.digest.ends_with(hex.as_str())) // the manifest is manifest.json there
        .collect();
    for hex in &blobs {
        // The name irel used to write each blob through before renaming it.
        symlink(&victim, image_dir.join(format!(".{hex}.partial"))).unwrap();
    }

    let out = irel(&[
        "sync",
        &format!("oci:{}", layout.display()),
        &format!("dir:{}", scratch.path().join("OUT").display()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&victim).unwrap(), VICTIM, "the victim is untouched");
    for hex in &blobs {
        let blob = image_dir.join(hex);
        let meta = std::fs::symlink_metadata(&blob).unwrap();
        assert!(meta.file_type().is_file(), "{hex} is a real file");
        assert_eq!(
            std::fs::read(&blob).unwrap(),
            std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
        );
    }
}

#[test]
fn a_planted_bundle_extraction_directory_is_never_used() {
    let scratch = tempfile::tempdir().unwrap();
    let layout = scratch.path().join("layout");
    make_layout(&layout, "registry.example/app:1", &[2000], &["amd64"], 73);
    let bundle = scratch.path().join("bundle.tgz");
    irel::layout::archive::write(&layout, &bundle).unwrap();
    let victim = scratch.path().join("victim");
    std::fs::write(&victim, VICTIM).unwrap();
    // The old names: $TMPDIR/irel-bundle-<pid>-<n>, accepted when they already existed.
    let pid = std::process::id();
    let planted: Vec<PathBuf> = (0..64)
        .map(|n| std::env::temp_dir().join(format!("irel-bundle-{pid}-{n}")))
        .collect();
    for dir in &planted {
        std::fs::create_dir_all(dir).unwrap();
        let _ = symlink(&victim, dir.join("index.json"));
        let _ = symlink(&victim, dir.join("oci-layout"));
    }
    let opened = irel::layout::archive::open(&bundle);
    for dir in &planted {
        let _ = std::fs::remove_dir_all(dir);
    }
    let archive = opened.unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), VICTIM, "the victim is untouched");
    let extracted = archive.layout().path().to_path_buf();
    assert!(!planted.contains(&extracted));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&extracted).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "private to its owner");
    assert_eq!(archive.layout().entries().unwrap().len(), 1);
    drop(archive);
    assert!(!extracted.exists(), "removed when dropped");
}

#[test]
fn save_never_writes_through_a_planted_staging_directory_or_partial_archive() {
    let src = Registry::start();
    let layout = src.scratch().join("layout");
    make_layout(&layout, "t", &[2500], &["amd64"], 74);
    let image = format!("{}/h/app:t", src.addr);
    skopeo_push(&layout, "t", &image, &[]);

    let scratch = tempfile::tempdir().unwrap();
    let victim_dir = scratch.path().join("victim-dir");
    std::fs::create_dir(&victim_dir).unwrap();
    let victim = scratch.path().join("victim");
    std::fs::write(&victim, VICTIM).unwrap();
    let out_dir = scratch.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let pid = std::process::id();
    // The old staging directory, and the old temporary archive names.
    symlink(&victim_dir, out_dir.join(format!(".b.tgz.layout.{pid}"))).unwrap();
    for n in 0..64 {
        symlink(&victim, out_dir.join(format!(".b.tgz.{pid}-{n}.partial"))).unwrap();
    }

    let client = irel::Client::builder().insecure_registry(&src.addr).build().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let out = out_dir.join("b.tgz");
    let digests = rt
        .block_on(client.save(&[image.parse().unwrap()], &out, &Default::default()))
        .unwrap();
    assert_eq!(digests.len(), 1);
    assert!(tree(&victim_dir).is_empty(), "nothing staged through the link");
    assert_eq!(std::fs::read(&victim).unwrap(), VICTIM, "the victim is untouched");
    let meta = std::fs::symlink_metadata(&out).unwrap();
    assert!(meta.file_type().is_file());
    let archive = irel::layout::archive::open(&out).unwrap();
    assert_eq!(archive.layout().entries().unwrap().len(), 1);
    let leftovers: Vec<_> = tree(&out_dir)
        .into_iter()
        .filter(|p| {
            let n = p.to_string_lossy();
            !n.starts_with(".b.tgz.layout.") && !n.ends_with(".partial") && n != "b.tgz"
        })
        .collect();
    assert!(leftovers.is_empty(), "no staging left: {leftovers:?}");
}

/// A `.tar.gz` whose entries hold `sizes` bytes of zeros each (with a valid marker and index).
fn bomb(path: &Path, sizes: &[usize]) {
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    let mut add = |name: &str, data: &mut dyn std::io::Read, len: usize| {
        let mut h = tar::Header::new_gnu();
        h.set_size(len as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, name, data).unwrap();
    };
    let marker = br#"{"imageLayoutVersion":"1.0.0"}"#;
    add("oci-layout", &mut &marker[..], marker.len());
    let index = br#"{"schemaVersion":2,"manifests":[]}"#;
    add("index.json", &mut &index[..], index.len());
    for (i, &size) in sizes.iter().enumerate() {
        let name = format!("blobs/sha256/{:064x}", i + 1);
        add(&name, &mut std::io::repeat(0).take(size as u64), size);
    }
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

#[test]
fn a_gzip_bomb_is_refused_at_the_bound_and_leaves_no_temporary_directory() {
    let scratch = tempfile::tempdir().unwrap();
    let tmpdir = scratch.path().join("tmp");
    std::fs::create_dir(&tmpdir).unwrap();
    // One entry far above 100 times the archive; many entries that only add up above it.
    let one = scratch.path().join("one.tgz");
    bomb(&one, &[24 << 20]);
    let many = scratch.path().join("many.tgz");
    bomb(&many, &[256 << 10; 48]);
    for (archive, says) in [(&one, "declares 25165824 bytes"), (&many, "after")] {
        let len = std::fs::metadata(archive).unwrap().len();
        assert!(len < 200_000, "a tiny archive: {len}");
        let out = irel_env(
            &[
                "relocate",
                "-r",
                "127.0.0.1:9/acme",
                "--archive",
                archive.to_str().unwrap(),
            ],
            &[("TMPDIR", tmpdir.to_str().unwrap())],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains(archive.to_str().unwrap()),
            "names the archive: {stderr}"
        );
        assert!(
            stderr.contains(&format!("more than {} bytes", len * 100)) && stderr.contains("100 times"),
            "states the bound: {stderr}"
        );
        assert!(stderr.contains(says), "{stderr}");
        assert!(tree(&tmpdir).is_empty(), "nothing left in TMPDIR: {:?}", tree(&tmpdir));
    }
    // The library's bound is configurable: with room for it, the same archive opens.
    let limits = irel::layout::archive::ExtractLimits {
        max_expansion: 100_000,
        keep_free: 0,
    };
    assert!(irel::layout::archive::open_with(&many, limits).is_ok());
}

#[test]
fn a_layout_blob_that_links_to_a_local_file_is_refused_and_never_uploaded() {
    let target = Registry::start();
    let scratch = tempfile::tempdir().unwrap();
    let layout = scratch.path().join("layout");
    let image = "registry.example/team/app:1";
    let fx = make_layout(&layout, image, &[4096], &["amd64"], 75);
    let layer = fx.layers[0].strip_prefix("sha256:").unwrap().to_string();
    // The "secret" holds exactly the bytes the layer's digest names, so nothing but the link
    // check stops it from going out.
    let blob = layout.join("blobs/sha256").join(&layer);
    let secret = scratch.path().join("id_secret");
    std::fs::rename(&blob, &secret).unwrap();
    symlink(&secret, &blob).unwrap();

    let out = irel(&[
        "relocate",
        "-r",
        &format!("{}/x", target.addr),
        "--layout",
        layout.to_str().unwrap(),
        image,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&fx.layers[0]) && stderr.contains("symbolic link"),
        "names the blob: {stderr}"
    );
    let log = target.log_text();
    assert!(
        !log.lines().any(|l| l.contains("PUT /v2/") && l.contains(&layer)),
        "the linked content was never uploaded:\n{log}"
    );
    assert!(!log.contains("PATCH /v2/"), "no upload data sent:\n{log}");

    // The same through a skopeo dir: source.
    let tree_dir = scratch.path().join("tree");
    std::fs::rename(&secret, &blob).unwrap();
    let synced = irel(&[
        "sync",
        &format!("oci:{}", layout.display()),
        &format!("dir:{}", tree_dir.display()),
    ]);
    assert_eq!(
        synced.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );
    let image_dir = tree_dir.join("registry.example/team/app:1");
    let dir_blob = image_dir.join(&layer);
    std::fs::rename(&dir_blob, &secret).unwrap();
    symlink(&secret, &dir_blob).unwrap();
    let out = irel(&[
        "sync",
        &format!("dir:{}", tree_dir.display()),
        &format!("docker://{}/d", target.addr),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&fx.layers[0]) && stderr.contains("symbolic link"),
        "{stderr}"
    );
    let log = target.log_text();
    assert!(
        !log.lines().any(|l| l.contains("PUT /v2/d/") && l.contains(&layer)),
        "{log}"
    );

    // Linked metadata files are refused too.
    let linked_index = scratch.path().join("linked-index");
    make_layout(&linked_index, "t", &[100], &["amd64"], 76);
    let real = scratch.path().join("index-elsewhere.json");
    std::fs::rename(linked_index.join("index.json"), &real).unwrap();
    symlink(&real, linked_index.join("index.json")).unwrap();
    let err = irel::layout::OciLayout::open(&linked_index).unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");
}

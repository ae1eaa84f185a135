//! Thin and thick bundle relocation (Go irel's Acme and GWB scenarios), OCI layouts, and
//! archives, against real registries; hostile layouts and archives refused.

use std::path::Path;

use crate::support::{irel, make_layout, ok_stdout, skopeo, skopeo_digest, skopeo_pull_all, skopeo_push, Registry};

const KIB: usize = 1024;

fn push_fixture(reg: &Registry, repo_tag: &str, arches: &[&str], seed: u64) -> String {
    let layout = reg.scratch().join(format!("fixture-{seed}"));
    let fx = make_layout(&layout, "t", &[20 * KIB, 3 * KIB], arches, seed);
    skopeo_push(&layout, "t", &format!("{}/{repo_tag}", reg.addr), &[]);
    fx.digest
}

fn sha256_file(p: &Path) -> String {
    irel::Digest::sha256_of(&std::fs::read(p).unwrap()).to_string()
}

#[test]
fn acme_thin_relocation_writes_the_mapping_of_what_landed() {
    let (one, two, target) = (Registry::start(), Registry::start(), Registry::start());
    let d1 = push_fixture(&one, "istio/proxyv2:1.2", &["amd64"], 41);
    let d2 = push_fixture(&two, "riff/builder:v1", &["amd64", "arm64"], 42);
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("images.txt");
    let i1 = format!("{}/istio/proxyv2:1.2", one.addr);
    let i2 = format!("{}/riff/builder:v1", two.addr);
    std::fs::write(&list, format!("# Acme's images\n{i1}\n\n{i2}  # multi-arch\n")).unwrap();
    let mapping = dir.path().join("relocation-mapping.json");
    let prefix = format!("{}/smith", target.addr);

    let out = ok_stdout(&irel(&[
        "relocate",
        "-r",
        &prefix,
        "--images",
        list.to_str().unwrap(),
        "--mapping-output",
        mapping.to_str().unwrap(),
    ]));
    assert_eq!(out.lines().count(), 2, "{out}");
    let map: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(&mapping).unwrap()).unwrap();
    for (original, digest) in [(&i1, &d1), (&i2, &d2)] {
        let expected = ok_stdout(&irel(&["map", "-r", &prefix, original]));
        assert_eq!(map.get(original.as_str()), Some(&expected));
        assert!(
            out.contains(&format!(
                "relocated {original} to {expected} with content digest {digest}"
            )),
            "{out}"
        );
        assert_eq!(&skopeo_digest(&expected, &[]), digest);
        skopeo_pull_all(&expected, &[]);
    }
}

#[test]
fn thin_relocation_reports_failures_and_maps_only_what_landed() {
    let (one, target) = (Registry::start(), Registry::start());
    push_fixture(&one, "good/app:1", &["amd64"], 43);
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("m.json");
    let good = format!("{}/good/app:1", one.addr);
    let missing = format!("{}/missing/app:1", one.addr);
    let out = irel(&[
        "relocate",
        "-r",
        &format!("{}/p", target.addr),
        &good,
        &missing,
        "--mapping-output",
        mapping.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("failed to relocate {missing}")), "{err}");
    let map: serde_json::Value = serde_json::from_slice(&std::fs::read(&mapping).unwrap()).unwrap();
    assert_eq!(map.as_object().unwrap().keys().collect::<Vec<_>>(), vec![&good]);
}

#[test]
fn gwb_thick_relocation_from_an_archive_needs_no_source_registry() {
    let target = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("gwb-bundle.tgz");
    let (i1, i2, d1, d2);
    {
        let source = Registry::start();
        d1 = push_fixture(&source, "gwb/api:2.0", &["amd64", "arm64"], 44);
        d2 = push_fixture(&source, "gwb/db:11", &["amd64"], 45);
        i1 = format!("{}/gwb/api:2.0", source.addr);
        i2 = format!("{}/gwb/db:11", source.addr);
        let out = ok_stdout(&irel(&["save", "-o", bundle.to_str().unwrap(), &i1, &i2]));
        assert_eq!(out.lines().count(), 2, "{out}");
        // The source registry stops here: the archive is all there is.
    }
    let before = sha256_file(&bundle);
    let mapping = dir.path().join("mapping.json");
    let prefix = format!("{}/gwb-mirror", target.addr);
    let out = ok_stdout(&irel(&[
        "relocate",
        "-r",
        &prefix,
        "--archive",
        bundle.to_str().unwrap(),
        "--mapping-output",
        mapping.to_str().unwrap(),
    ]));
    assert_eq!(out.lines().count(), 2, "{out}");
    let map: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(&mapping).unwrap()).unwrap();
    for (original, digest) in [(&i1, &d1), (&i2, &d2)] {
        let relocated = &map[original.as_str()];
        assert_eq!(relocated, &ok_stdout(&irel(&["map", "-r", &prefix, original])));
        assert_eq!(&skopeo_digest(relocated, &[]), digest);
        skopeo_pull_all(relocated, &[]);
    }
    assert_eq!(sha256_file(&bundle), before, "the archive must stay untouched");

    // The same bundle uncompressed is read in place; one image named.
    let tar = dir.path().join("gwb-bundle.tar");
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(&bundle).unwrap());
    std::io::copy(&mut gz, &mut std::fs::File::create(&tar).unwrap()).unwrap();
    let prefix2 = format!("{}/from-tar", target.addr);
    let out = ok_stdout(&irel(&[
        "relocate",
        "-r",
        &prefix2,
        "--archive",
        tar.to_str().unwrap(),
        &i2,
    ]));
    let relocated = ok_stdout(&irel(&["map", "-r", &prefix2, &i2]));
    assert!(out.contains(&relocated));
    assert_eq!(skopeo_digest(&relocated, &[]), d2);
}

#[test]
fn layout_add_find_push_round_trip_and_skopeo_reads_it() {
    let (a, b) = (Registry::start(), Registry::start());
    let digest = push_fixture(&a, "team/app:1", &["amd64", "arm64"], 46);
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let l = layout.to_str().unwrap();
    let image = format!("{}/team/app:1", a.addr);

    let out = ok_stdout(&irel(&["layout", "add", l, &image]));
    assert_eq!(
        out,
        format!("added {image} with digest {digest} to OCI image layout at {l}")
    );
    ok_stdout(&irel(&["layout", "add", l, &image]));
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"].as_array().unwrap().len(),
        1,
        "adding twice is idempotent"
    );
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        image.as_str()
    );

    let out = ok_stdout(&irel(&["layout", "find", l, &image]));
    assert_eq!(
        out,
        format!("found {image} with digest {digest} in OCI image layout at {l}")
    );
    let dst = format!("{}/pushed/app:1", b.addr);
    let out = ok_stdout(&irel(&["layout", "push", l, &digest, &dst]));
    assert_eq!(
        out,
        format!("wrote image with digest {digest} from OCI image layout at {l} to {dst}")
    );
    assert_eq!(skopeo_digest(&dst, &[]), digest);

    // skopeo reads irel's layout (its only image) with every platform.
    let via_skopeo = format!("{}/via-skopeo/app:1", b.addr);
    let out = skopeo(&[
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        &format!("oci:{l}"),
        &format!("docker://{via_skopeo}"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(skopeo_digest(&via_skopeo, &[]), digest);
}

#[test]
fn layouts_written_by_skopeo_are_pushed_and_relocated() {
    let (a, b) = (Registry::start(), Registry::start());
    let digest = push_fixture(&a, "team/app:2", &["amd64", "arm64"], 47);
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("skopeo-layout");
    let l = layout.to_str().unwrap();
    let out = skopeo(&[
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        &format!("docker://{}/team/app:2", a.addr),
        &format!("oci:{l}:v2"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    assert!(ok_stdout(&irel(&["layout", "find", l, "v2"])).contains(&digest));
    let dst = format!("{}/from-skopeo/app:2", b.addr);
    ok_stdout(&irel(&["layout", "push", l, &digest, &dst]));
    assert_eq!(skopeo_digest(&dst, &[]), digest);
    skopeo_pull_all(&dst, &[]);
}

/// A tar with one raw entry whose name and type we choose, then a valid layout after it.
fn hostile_tar(path: &Path, name: &[u8], kind: tar::EntryType, link: Option<&str>) {
    let mut builder = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(kind);
    header.set_size(if kind == tar::EntryType::Regular { 4 } else { 0 });
    if let Some(l) = link {
        header.set_link_name(l).unwrap();
    }
    header.set_mode(0o644);
    header.set_cksum();
    let data: &[u8] = if kind == tar::EntryType::Regular { b"evil" } else { b"" };
    builder.append(&header, data).unwrap();
    for (n, d) in [
        ("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
        ("index.json", &br#"{"schemaVersion":2,"manifests":[]}"#[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append_data(&mut h, n, d).unwrap();
    }
    builder.finish().unwrap();
}

#[test]
fn hostile_archives_are_refused_and_nothing_is_written() {
    let target = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    // (file, entry name, entry type, link target, what the error must say)
    type Case<'a> = (&'a str, &'a [u8], tar::EntryType, Option<&'a str>, &'a str);
    let cases: [Case; 4] = [
        ("traversal.tar", b"../evil", tar::EntryType::Regular, None, "escapes"),
        ("absolute.tar", b"/tmp/evil", tar::EntryType::Regular, None, "escapes"),
        (
            "symlink.tar",
            b"blobs/link",
            tar::EntryType::Symlink,
            Some("/etc/passwd"),
            "links",
        ),
        ("device.tar", b"dev", tar::EntryType::Char, None, "devices"),
    ];
    for (file, name, kind, link, says) in cases {
        let path = dir.path().join(file);
        hostile_tar(&path, name, kind, link);
        let out = irel(&[
            "relocate",
            "-r",
            &format!("{}/x", target.addr),
            "--archive",
            path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says) && err.contains(file), "{file}: {err}");
    }
    assert!(!std::path::Path::new("/tmp/evil").exists());
    assert!(!target.log_text().contains("PUT /v2/"), "nothing may reach the target");
}

#[test]
fn corrupt_layouts_are_refused_and_no_tag_is_pushed() {
    let (a, target) = (Registry::start(), Registry::start());
    let digest = push_fixture(&a, "team/app:1", &["amd64"], 48);
    let image = format!("{}/team/app:1", a.addr);
    let dir = tempfile::tempdir().unwrap();
    let pristine = dir.path().join("pristine");
    ok_stdout(&irel(&["layout", "add", pristine.to_str().unwrap(), &image]));
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(pristine.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();

    let copy_of = |name: &str| {
        let d = dir.path().join(name);
        let out = std::process::Command::new("cp")
            .args(["-r", pristine.to_str().unwrap(), d.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success());
        d
    };
    let truncated = copy_of("truncated");
    let blob = truncated.join("blobs/sha256").join(&layer);
    let data = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, &data[..data.len() / 2]).unwrap();
    let corrupted = copy_of("corrupted");
    let blob = corrupted.join("blobs/sha256").join(&layer);
    let mut data = std::fs::read(&blob).unwrap();
    data[0] ^= 0xff;
    std::fs::write(&blob, &data).unwrap();
    let traversal = copy_of("traversal");
    std::fs::write(
        traversal.join("index.json"),
        format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../{}","size":10}}]}}"#, "0".repeat(58)),
    )
    .unwrap();

    for (layout, says) in [
        (&truncated, "bytes where its descriptor says"),
        (&corrupted, "digest"),
        (&traversal, "invalid descriptor"),
    ] {
        let out = irel(&[
            "relocate",
            "-r",
            &format!("{}/x", target.addr),
            "--layout",
            layout.to_str().unwrap(),
            &image,
        ]);
        assert_eq!(out.status.code(), Some(1), "{layout:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{layout:?}: {err}");
    }
    let log = target.log_text();
    let manifest_puts = log
        .lines()
        .filter(|l| l.contains("\"PUT /v2/x/") && l.contains("/manifests/"))
        .count();
    assert_eq!(
        manifest_puts, 0,
        "no manifest may be pushed for an incomplete image:\n{log}"
    );
}

//! Copies between real registries: digests preserved, every child of an index copied, mounts
//! within one registry, nothing transferred twice.

use irel::{Client, CopyOptions, Reference, RegistryErrorCode};

use crate::support::{irel, make_layout, ok_stdout, skopeo_digest, skopeo_pull_all, skopeo_push, Registry};

const KIB: usize = 1024;

fn reference(s: &str) -> Reference {
    s.parse().unwrap()
}

#[test]
fn copy_single_image_between_registries_preserves_digest() {
    let (a, b) = (Registry::start(), Registry::start());
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "1.0", &[300 * KIB, 5 * KIB, 1], &["amd64"], 1);
    skopeo_push(&layout, "1.0", &format!("{}/team/app:1.0", a.addr), &[]);

    let src = format!("{}/team/app:1.0", a.addr);
    let dst = format!("{}/mirror/app:1.0", b.addr);
    let out = ok_stdout(&irel(&["copy", &src, &dst]));
    assert_eq!(out, format!("copied {src} to {dst} with content digest {}", fx.digest));
    assert_eq!(skopeo_digest(&dst, &[]), fx.digest);
    skopeo_pull_all(&dst, &[]);
}

#[test]
fn copy_multi_arch_index_copies_every_child() {
    let (a, b) = (Registry::start(), Registry::start());
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "multi", &[64 * KIB, 8 * KIB], &["amd64", "arm64", "s390x"], 2);
    skopeo_push(&layout, "multi", &format!("{}/lib/multi:v1", a.addr), &[]);

    let src = format!("{}/lib/multi:v1", a.addr);
    let dst = format!("{}/lib/multi:v1", b.addr);
    ok_stdout(&irel(&["cp", &src, &dst]));
    assert_eq!(skopeo_digest(&dst, &[]), fx.digest);
    // Every instance, with every blob, is pullable from the destination.
    skopeo_pull_all(&dst, &[]);
}

#[tokio::test]
async fn copy_by_digest_and_destination_tag_is_kept() {
    let (a, b) = (Registry::start(), Registry::start());
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "x", &[10 * KIB], &["amd64"], 3);
    skopeo_push(&layout, "x", &format!("{}/src/img:x", a.addr), &[]);
    let client = Client::builder().build().unwrap();

    let src = reference(&format!("{}/src/img@{}", a.addr, fx.digest));
    let dst = reference(&format!("{}/dst/img:kept@{}", b.addr, fx.digest));
    let report = client.copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.digest.unwrap().to_string(), fx.digest);
    assert_eq!(skopeo_digest(&format!("{}/dst/img:kept", b.addr), &[]), fx.digest);

    // By digest only: nothing tagged, but the content is there by digest.
    let dst = reference(&format!("{}/bydigest/img@{}", b.addr, fx.digest));
    client.copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(
        skopeo_digest(&format!("{}/bydigest/img@{}", b.addr, fx.digest), &[]),
        fx.digest
    );

    // A destination digest that is not the source's is refused before anything is written.
    let wrong = format!("sha256:{}", "0".repeat(64));
    let dst = reference(&format!("{}/wrong/img:t@{wrong}", b.addr));
    let err = client.copy(&src, &dst, &CopyOptions::default()).await.unwrap_err();
    assert!(matches!(err, irel::Error::DigestMismatch { .. }), "{err}");
}

#[tokio::test]
async fn copy_within_one_registry_mounts_every_blob() {
    let a = Registry::start();
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[200 * KIB, 100 * KIB], &["amd64", "arm64"], 4);
    skopeo_push(&layout, "t", &format!("{}/origin/app:t", a.addr), &[]);
    let client = Client::builder().build().unwrap();

    let src = reference(&format!("{}/origin/app:t", a.addr));
    let dst = reference(&format!("{}/elsewhere/app:t", a.addr));
    let report = client.copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    // 2 images × (config + 2 layers), all mounted, none streamed.
    assert_eq!(
        (report.blobs_mounted, report.blobs_copied, report.bytes_copied),
        (6, 0, 0)
    );
    assert_eq!(report.manifests_pushed, 3);
    let log = a.log_text();
    let mounts = log
        .lines()
        .filter(|l| {
            l.contains("POST /v2/elsewhere/app/blobs/uploads/?mount=")
                && l.contains("from=origin%2Fapp")
                && l.contains(" 201 ")
        })
        .count();
    assert_eq!(mounts, 6, "registry log should show 6 mounts:\n{log}");
    assert_eq!(skopeo_digest(&format!("{}/elsewhere/app:t", a.addr), &[]), fx.digest);
    skopeo_pull_all(&format!("{}/elsewhere/app:t", a.addr), &[]);
}

#[tokio::test]
async fn repeated_copy_transfers_nothing() {
    let (a, b) = (Registry::start(), Registry::start());
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[50 * KIB, 50 * KIB], &["amd64"], 5);
    skopeo_push(&layout, "t", &format!("{}/r/app:t", a.addr), &[]);
    let client = Client::builder().build().unwrap();
    let src = reference(&format!("{}/r/app:t", a.addr));
    let dst = reference(&format!("{}/r/app:t", b.addr));

    let first = client.copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(
        (first.blobs_copied, first.bytes_copied),
        (3, 100 * KIB as u64 + fx_config_size(&b, &fx))
    );
    let puts_before = b.log_text().matches("\"PUT /v2/r/app/blobs/").count();

    let again = client.copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(
        (again.blobs_copied, again.blobs_mounted, again.manifests_pushed),
        (0, 0, 0)
    );

    // Another tag of the same content: the blobs are found present, only the tag is written.
    let other = reference(&format!("{}/r/app:also", b.addr));
    let tagged = client.copy(&src, &other, &CopyOptions::default()).await.unwrap();
    assert_eq!(
        (tagged.blobs_copied, tagged.blobs_skipped, tagged.manifests_pushed),
        (0, 3, 1)
    );
    assert_eq!(b.log_text().matches("\"PUT /v2/r/app/blobs/").count(), puts_before);
    assert_eq!(skopeo_digest(&format!("{}/r/app:also", b.addr), &[]), fx.digest);
}

/// The config blob's size, read back from the destination (it is JSON of variable length).
fn fx_config_size(b: &Registry, fx: &crate::support::Fixture) -> u64 {
    let out = crate::support::skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/r/app@{}", b.addr, fx.digest),
    ]);
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    m["config"]["size"].as_u64().unwrap()
}

#[tokio::test]
async fn missing_source_fails_with_the_registry_code_and_writes_nothing() {
    let (a, b) = (Registry::start(), Registry::start());
    let client = Client::builder().build().unwrap();
    let src = reference(&format!("{}/nope/app:missing", a.addr));
    let dst = reference(&format!("{}/nope/app:missing", b.addr));
    let err = client.copy(&src, &dst, &CopyOptions::default()).await.unwrap_err();
    assert!(
        err.registry_codes().contains(&RegistryErrorCode::NameUnknown)
            || err.registry_codes().contains(&RegistryErrorCode::ManifestUnknown),
        "{err}"
    );
    assert!(!b.log_text().contains("PUT /v2/"));
}

/// Requests irel sends, read from the registries' access logs after `since`.
fn requests_since(reg: &Registry, since: usize) -> Vec<String> {
    reg.log_text()[since..]
        .lines()
        .filter_map(|l| {
            let start = l
                .find("\"GET ")
                .or_else(|| l.find("\"HEAD "))
                .or_else(|| l.find("\"PUT "))
                .or_else(|| l.find("\"POST "))?;
            Some(l[start + 1..].split(" HTTP/").next()?.to_string())
        })
        .collect()
}

#[tokio::test]
async fn a_copy_makes_a_bounded_documented_number_of_requests() {
    let (a, b) = (Registry::start(), Registry::start());
    let layout = a.scratch().join("layout");
    make_layout(&layout, "t", &[4 * KIB, 4 * KIB, 4 * KIB], &["amd64"], 8);
    skopeo_push(&layout, "t", &format!("{}/n/app:t", a.addr), &[]);
    let (src_mark, dst_mark) = (a.log_text().len(), b.log_text().len());
    let client = Client::builder().build().unwrap();
    let src = reference(&format!("{}/n/app:t", a.addr));
    let dst = reference(&format!("{}/n/app:t", b.addr));
    client.copy(&src, &dst, &CopyOptions::default()).await.unwrap();

    // B = 4 blobs (config + 3 layers). Source: ping, manifest, one GET per blob.
    let at_src = requests_since(&a, src_mark);
    assert_eq!(at_src.len(), 2 + 4, "{at_src:#?}");
    // Destination: ping, HEAD tag, per blob a POST (a mount from the repository itself: 201
    // if the blob is there, else the upload session) and a PUT, then PUT manifest.
    let at_dst = requests_since(&b, dst_mark);
    assert_eq!(at_dst.len(), 3 + 2 * 4, "{at_dst:#?}");

    // A repeated copy: ping-free (pooled, cached) HEAD of the tag at the destination, GET of
    // the source manifest, nothing else.
    let (src_mark, dst_mark) = (a.log_text().len(), b.log_text().len());
    client.copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(requests_since(&a, src_mark).len(), 1);
    assert_eq!(requests_since(&b, dst_mark).len(), 1);
}

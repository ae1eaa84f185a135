//! Referrers (signatures, SBOMs, attestations) on distribution 2.8, which has no referrers
//! API: irel keeps the fallback tag's index when it pushes one, lists them from it, and copies
//! them with the image when asked.

use bytes::Bytes;
use irel::manifest::{Manifest, OCI_MANIFEST};
use irel::model::referrer::fallback_tag;
use irel::{Client, CopyOptions, Digest, Reference};

use crate::support::{irel, make_layout, ok_stdout, skopeo, skopeo_digest, skopeo_push, Registry};

const SBOM: &str = "application/vnd.example.sbom.v1+json";
const SIGNATURE: &str = "application/vnd.example.signature.v1+json";

fn reference(s: &str) -> Reference {
    s.parse().unwrap()
}

/// Pushes an artifact of `artifact_type` whose subject is `subject` into `repo`'s repository,
/// as a signing or SBOM tool would: the empty config, one layer, the manifest by digest.
async fn push_artifact(
    client: &Client,
    repo: &Reference,
    subject: &Manifest,
    artifact_type: &str,
    payload: &str,
) -> Digest {
    let empty = client
        .registry()
        .push_blob_bytes(&repo.to_repository(), Bytes::from_static(b"{}"))
        .await
        .unwrap();
    let layer = client
        .registry()
        .push_blob_bytes(&repo.to_repository(), Bytes::from(payload.to_string()))
        .await
        .unwrap();
    let json = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": layer.to_string(), "size": payload.len()}],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest.to_string(), "size": subject.bytes.len()},
        "annotations": {"org.example.note": payload},
    });
    let manifest = Manifest::parse(
        Bytes::from(serde_json::to_vec(&json).unwrap()),
        Some(OCI_MANIFEST),
        "artifact",
    )
    .unwrap();
    client
        .registry()
        .put_manifest(&repo.to_repository(), &manifest.digest.clone().into(), &manifest)
        .await
        .unwrap();
    manifest.digest
}

/// Pushes a signature the way cosign does without OCI 1.1: a manifest with no `subject`,
/// tagged `sha256-<hex>.sig` after the image it signs.
async fn push_cosign_signature(client: &Client, repo: &Reference, subject: &Digest) -> (String, Digest) {
    let empty = client
        .registry()
        .push_blob_bytes(&repo.to_repository(), Bytes::from_static(b"{}"))
        .await
        .unwrap();
    let payload = "cosign simple signing payload";
    let layer = client
        .registry()
        .push_blob_bytes(&repo.to_repository(), Bytes::from(payload))
        .await
        .unwrap();
    let json = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": layer.to_string(), "size": payload.len()}],
    });
    let manifest = Manifest::parse(
        Bytes::from(serde_json::to_vec(&json).unwrap()),
        Some(OCI_MANIFEST),
        "sig",
    )
    .unwrap();
    let tag = format!("{}.sig", fallback_tag(subject));
    client
        .registry()
        .put_manifest(&repo.to_repository(), &tag.parse().unwrap(), &manifest)
        .await
        .unwrap();
    (tag, manifest.digest)
}

/// The digests the fallback index of `subject` lists at `repo`, read by skopeo.
fn fallback_listing(repo: &str, subject: &str) -> Vec<String> {
    let tag = fallback_tag(&subject.parse().unwrap());
    let out = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{repo}:{tag}"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let index: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut digests: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect();
    digests.sort();
    digests
}

#[tokio::test]
async fn pushing_referrers_keeps_the_fallback_index_and_lists_them() {
    let a = Registry::start();
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "1", &[4096], &["amd64"], 70);
    let image = format!("{}/team/app:1", a.addr);
    skopeo_push(&layout, "1", &image, &[]);
    let client = Client::builder().build().unwrap();
    let repo = reference(&image);
    let subject = client.registry().get_manifest(&repo).await.unwrap();

    // Pushed at once: the index must end with both (one client serializes its updates).
    let (sbom, sig) = tokio::join!(
        push_artifact(&client, &repo, &subject, SBOM, "sbom"),
        push_artifact(&client, &repo, &subject, SIGNATURE, "sig"),
    );
    let mut expected = vec![sbom.to_string(), sig.to_string()];
    expected.sort();
    assert_eq!(fallback_listing(&format!("{}/team/app", a.addr), &fx.digest), expected);

    // Pushing one again changes nothing.
    push_artifact(&client, &repo, &subject, SBOM, "sbom").await;
    assert_eq!(fallback_listing(&format!("{}/team/app", a.addr), &fx.digest), expected);

    let all = client
        .registry()
        .referrers(&repo.to_repository(), &subject.digest, None)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let sboms = client
        .registry()
        .referrers(&repo.to_repository(), &subject.digest, Some(SBOM))
        .await
        .unwrap();
    assert_eq!(sboms.len(), 1);
    assert_eq!(sboms[0].digest, sbom);
    assert_eq!(sboms[0].annotations["org.example.note"], "sbom");

    // The CLI: by tag (resolved to the digest) and filtered.
    let out = ok_stdout(&irel(&["referrers", &image]));
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains(&format!("{sig} {SIGNATURE}")), "{out}");
    let out = ok_stdout(&irel(&["referrers", "--artifact-type", SIGNATURE, "--json", &image]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["referrers"].as_array().unwrap().len(), 1);
    assert_eq!(v["referrers"][0]["digest"], sig.to_string());

    // inspect lists them with the rest.
    let out = ok_stdout(&irel(&["inspect", &image]));
    assert!(out.contains(&format!("Referrer:   {sbom} {SBOM}")), "{out}");
    let v: serde_json::Value = serde_json::from_str(&ok_stdout(&irel(&["--json", "inspect", &image]))).unwrap();
    assert_eq!(v["referrers"].as_array().unwrap().len(), 2, "{v}");

    // An image nobody refers to has none (no fallback tag: not an error).
    let other = make_layout(&a.scratch().join("other"), "2", &[100], &["amd64"], 71);
    skopeo_push(
        &a.scratch().join("other"),
        "2",
        &format!("{}/team/other:2", a.addr),
        &[],
    );
    let none = client
        .registry()
        .referrers(
            &(reference(&format!("{}/team/other", a.addr))).to_repository(),
            &other.digest.parse().unwrap(),
            None,
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    // irel asked the referrers API first and fell back on the registry's 404.
    assert!(a.log_text().contains("/referrers/"), "the referrers API was not tried");
}

/// A two-platform index at `REG/lib/app:v1` with a signature of the index, an SBOM of its
/// first platform's image and a signature of that SBOM.
struct Signed {
    image: String,
    digest: String,
    index: Manifest,
    child: Manifest,
    sig: Digest,
    sbom: Digest,
    sbom_sig: Digest,
    /// cosign's tag-based signature of the index: its tag and digest.
    cosign: (String, Digest),
}

async fn signed_index(a: &Registry, seed: u64) -> Signed {
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "multi", &[2048], &["amd64", "arm64"], seed);
    let image = format!("{}/lib/app:v1", a.addr);
    skopeo_push(&layout, "multi", &image, &[]);
    let client = Client::builder().build().unwrap();
    let repo = reference(&image);
    let index = client.registry().get_manifest(&repo).await.unwrap();
    let sig = push_artifact(&client, &repo, &index, SIGNATURE, "index signature").await;
    let child = match &index.contents {
        irel::manifest::Contents::Index { manifests } => manifests[0].digest.clone(),
        _ => unreachable!(),
    };
    let child = client.registry().get_manifest(&repo.with_digest(child)).await.unwrap();
    let sbom = push_artifact(&client, &repo, &child, SBOM, "amd64 sbom").await;
    let sbom_manifest = client
        .registry()
        .get_manifest(&repo.with_digest(sbom.clone()))
        .await
        .unwrap();
    let sbom_sig = push_artifact(&client, &repo, &sbom_manifest, SIGNATURE, "sbom signature").await;
    let cosign = push_cosign_signature(&client, &repo, &index.digest).await;
    Signed {
        image,
        digest: fx.digest,
        index,
        child,
        sig,
        sbom,
        sbom_sig,
        cosign,
    }
}

/// Checks `repo` (`HOST/PATH`) holds `s`'s referrers, byte for byte, each listed in the
/// fallback index of its subject.
fn assert_referrers_at(repo: &str, s: &Signed) {
    for (subject, referrer) in [
        (&s.index.digest, &s.sig),
        (&s.child.digest, &s.sbom),
        (&s.sbom, &s.sbom_sig),
    ] {
        assert_eq!(skopeo_digest(&format!("{repo}@{referrer}"), &[]), referrer.to_string());
        assert_eq!(fallback_listing(repo, subject.as_str()), vec![referrer.to_string()]);
    }
}

#[tokio::test]
async fn copy_with_referrers_brings_signatures_and_their_signatures() {
    let (a, b) = (Registry::start(), Registry::start());
    let signed = signed_index(&a, 72).await;
    let Signed {
        image,
        digest,
        index,
        child: _,
        sig,
        sbom,
        sbom_sig,
        cosign,
    } = &signed;
    let client = Client::builder().build().unwrap();
    let repo = reference(image);

    // Without --referrers nothing but the image.
    let plain = format!("{}/plain/app:v1", b.addr);
    ok_stdout(&irel(&["copy", image, &plain]));
    let missing = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/plain/app:{}", b.addr, fallback_tag(&index.digest)),
    ]);
    assert!(!missing.status.success(), "referrers came without --referrers");

    let dst = format!("{}/mirror/app:v1", b.addr);
    let out = ok_stdout(&irel(&["copy", "--referrers", image, &dst]));
    assert!(out.ends_with("referrers copied: 4"), "{out}");
    assert_eq!(&skopeo_digest(&dst, &[]), digest);
    let mirror = format!("{}/mirror/app", b.addr);
    assert_referrers_at(&mirror, &signed);
    // cosign's tag-based signature came as the tag it is.
    assert_eq!(
        skopeo_digest(&format!("{mirror}:{}", cosign.0), &[]),
        cosign.1.to_string()
    );
    // Each subject before its referrers, the tag last.
    let log = b.log_text();
    let put = |name: &str| {
        log.find(&format!("\"PUT /v2/mirror/app/manifests/{name} "))
            .unwrap_or_else(|| panic!("no PUT of {name}"))
    };
    assert!(put(index.digest.as_str()) < put(sig.as_str()));
    assert!(put(sbom.as_str()) < put(sbom_sig.as_str()));
    assert!(put(sbom_sig.as_str()) < put("v1"));

    // A signature added later arrives with a repeated copy, the image untouched.
    let late = push_artifact(&client, &repo, index, SIGNATURE, "a later signature").await;
    let report = client
        .copy(&repo, &reference(&dst), &CopyOptions::default().referrers(true))
        .await
        .unwrap();
    assert_eq!(report.referrers_copied, 1, "{report:?}");
    assert_eq!(report.manifests_pushed, 1, "{report:?}");
    let mut expected = vec![sig.to_string(), late.to_string()];
    expected.sort();
    assert_eq!(fallback_listing(&mirror, index.digest.as_str()), expected);

    // sync --referrers does the same for every image it mirrors.
    ok_stdout(&irel(&[
        "sync",
        "--no-scope",
        "--referrers",
        &format!("docker://{image}"),
        &format!("docker://{}/synced", b.addr),
    ]));
    // --no-scope: skopeo's unscoped naming, the last path component only.
    let synced = format!("{}/synced/app", b.addr);
    assert_eq!(&skopeo_digest(&format!("{synced}:v1"), &[]), digest);
    assert_eq!(fallback_listing(&synced, index.digest.as_str()), expected);
    assert_eq!(fallback_listing(&synced, sbom.as_str()), vec![sbom_sig.to_string()]);
    assert_eq!(
        skopeo_digest(&format!("{synced}:{}", cosign.0), &[]),
        cosign.1.to_string()
    );

    // Syncing every tag: the source's fallback tags are tags like any other, unless the
    // referrers are being copied, which rebuilds them.
    let whole = format!("docker://{}", image.rsplit_once(':').unwrap().0);
    let all = ok_stdout(&irel(&[
        "sync",
        "--dry-run",
        &whole,
        &format!("docker://{}/all", b.addr),
    ]));
    assert!(all.contains(&fallback_tag(&index.digest)), "{all}");
    let out = ok_stdout(&irel(&[
        "sync",
        "--dry-run",
        "--referrers",
        &whole,
        &format!("docker://{}/all", b.addr),
    ]));
    let fallback = fallback_tag(&index.digest);
    assert!(!out.lines().any(|l| l.ends_with(&fallback)), "{out}");
    assert!(
        out.ends_with("sync (dry run): 2 images"),
        "v1 and cosign's .sig tag: {out}"
    );

    // So does relocate --referrers, under the mapped name.
    let prefix = format!("{}/relocated", b.addr);
    ok_stdout(&irel(&["relocate", "--referrers", "-r", &prefix, image]));
    let mapped = ok_stdout(&irel(&["map", "-r", &prefix, image]));
    let mapped_repo = mapped.rsplit_once(':').unwrap().0;
    assert_eq!(fallback_listing(mapped_repo, index.digest.as_str()), expected);
    assert_eq!(
        skopeo_digest(&format!("{mapped_repo}:{}", cosign.0), &[]),
        cosign.1.to_string()
    );
}

#[tokio::test]
async fn thick_bundles_carry_referrers_to_the_air_gapped_registry() {
    let (a, b) = (Registry::start(), Registry::start());
    let signed = signed_index(&a, 74).await;
    let dir = tempfile::tempdir().unwrap();

    // save --referrers, then relocate --referrers from the archive alone.
    let bundle = dir.path().join("bundle.tgz");
    ok_stdout(&irel(&[
        "save",
        "--referrers",
        "-o",
        bundle.to_str().unwrap(),
        &signed.image,
    ]));
    drop(a);
    let prefix = format!("{}/gap", b.addr);
    let out = ok_stdout(&irel(&[
        "relocate",
        "--referrers",
        "-r",
        &prefix,
        "--archive",
        bundle.to_str().unwrap(),
    ]));
    // The image and cosign's tag beside it are named entries; the OCI referrers are not.
    assert_eq!(out.lines().count(), 2, "{out}");
    let mapped = ok_stdout(&irel(&["map", "-r", &prefix, &signed.image]));
    assert_eq!(skopeo_digest(&mapped, &[]), signed.digest);
    let mapped_repo = mapped.rsplit_once(':').unwrap().0;
    assert_referrers_at(mapped_repo, &signed);
    // cosign's signature is beside the relocated image, under its tag, where cosign looks.
    let (tag, digest) = &signed.cosign;
    assert_eq!(skopeo_digest(&format!("{mapped_repo}:{tag}"), &[]), digest.to_string());
}

#[tokio::test]
async fn layout_add_and_push_carry_referrers() {
    let (a, b) = (Registry::start(), Registry::start());
    let signed = signed_index(&a, 75).await;
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let layout_s = layout.to_str().unwrap();

    ok_stdout(&irel(&["layout", "add", "--referrers", layout_s, &signed.image]));
    // The referrers are listed in index.json without a name, their manifests among the blobs.
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 5, "{index}");
    // cosign's tag-based signature is named beside the image.
    let (tag, digest) = &signed.cosign;
    let beside = format!("{}:{tag}", signed.image.rsplit_once(':').unwrap().0);
    assert!(
        entries.iter().any(
            |e| e["annotations"]["org.opencontainers.image.ref.name"] == beside.as_str()
                && e["digest"] == digest.to_string().as_str()
        ),
        "{index}"
    );
    let unnamed: Vec<_> = entries
        .iter()
        .filter(|e| e["annotations"]["org.opencontainers.image.ref.name"].is_null())
        .map(|e| e["digest"].as_str().unwrap().to_string())
        .collect();
    let mut expected = vec![
        signed.sig.to_string(),
        signed.sbom.to_string(),
        signed.sbom_sig.to_string(),
    ];
    expected.sort();
    let mut unnamed_sorted = unnamed.clone();
    unnamed_sorted.sort();
    assert_eq!(unnamed_sorted, expected);
    for d in &expected {
        let blob = layout.join("blobs/sha256").join(d.trim_start_matches("sha256:"));
        assert_eq!(&Digest::sha256_of(&std::fs::read(blob).unwrap()).to_string(), d);
    }

    let dst = format!("{}/pushed/app:v1", b.addr);
    ok_stdout(&irel(&[
        "layout",
        "push",
        "--referrers",
        layout_s,
        &signed.digest,
        &dst,
    ]));
    assert_eq!(skopeo_digest(&dst, &[]), signed.digest);
    assert_referrers_at(&format!("{}/pushed/app", b.addr), &signed);
    assert_eq!(
        skopeo_digest(&format!("{}/pushed/app:{tag}", b.addr), &[]),
        digest.to_string()
    );

    // Without the flag a layout gets the image alone.
    let plain = dir.path().join("plain");
    ok_stdout(&irel(&["layout", "add", plain.to_str().unwrap(), &signed.image]));
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(plain.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1, "{index}");
}

#[tokio::test]
async fn referrers_into_a_dir_tree_are_refused_before_anything_is_written() {
    let a = Registry::start();
    let signed = signed_index(&a, 76).await;
    let usb = a.scratch().join("usb");
    let out = irel(&[
        "sync",
        "--referrers",
        &format!("docker://{}", signed.image),
        &format!("dir:{}", usb.display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("dir: tree holds no referrers") && err.contains("drop --referrers"),
        "{err}"
    );
    assert!(
        !usb.exists() || std::fs::read_dir(&usb).unwrap().next().is_none(),
        "something was written"
    );
}

#[tokio::test]
async fn digest_tags_naming_each_other_in_a_circle_end_in_an_error_not_a_hang() {
    let (a, b) = (Registry::start(), Registry::start());
    let layout = a.scratch().join("layout");
    make_layout(&layout, "1", &[512], &["amd64"], 77);
    let image = format!("{}/lib/loop:v1", a.addr);
    skopeo_push(&layout, "1", &image, &[]);
    let client = Client::builder().build().unwrap();
    let repo = reference(&image);
    let x = client.registry().get_manifest(&repo).await.unwrap();
    // X's ".sig" tag is Y, and Y's ".sig" tag is X again.
    let (_, y) = push_cosign_signature(&client, &repo, &x.digest).await;
    client
        .registry()
        .put_manifest(
            &repo.to_repository(),
            &format!("{}.sig", fallback_tag(&y)).parse().unwrap(),
            &x,
        )
        .await
        .unwrap();

    let started = std::time::Instant::now();
    let out = std::process::Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_irel"))
        .args([
            "sync",
            "--referrers",
            &format!("docker://{}/lib/loop", a.addr),
            &format!("docker://{}/m", b.addr),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("nested more than 4 deep"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

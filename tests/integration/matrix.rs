//! The registry matrix (#15): each scenario runs against every registry implementation that
//! installs here (`tests/support/matrix.rs`): distribution 2.8, ferro-oci-server and
//! zuul-registry. A kind that is not installed reports its scenarios "skipped: not installed".
//! Where an implementation lacks a feature, the scenario asserts the documented difference.

use std::process::Output;

use bytes::Bytes;
use irel::manifest::{Manifest, OCI_MANIFEST};
use irel::model::referrer::fallback_tag;
use irel::{Digest, Reference};

use crate::support::matrix::{Kind, Server};
use crate::support::{
    make_layout, ok_stdout, skopeo_digest, skopeo_pull_all, skopeo_push, Action, Behaviour, Fault, Fixture, Proxy,
    Registry,
};

/// A plain distribution registry (no auth) holding `m/single:1` (one image, two layers) and
/// `m/multi:1` (an index of two images), and the fixtures.
struct Source {
    reg: Registry,
    single: Fixture,
    multi: Fixture,
}

fn source() -> Source {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let single = make_layout(&dir.path().join("single"), "1", &[300_000, 40_000], &["amd64"], 1);
    let multi = make_layout(&dir.path().join("multi"), "1", &[200_000], &["amd64", "arm64"], 2);
    skopeo_push(
        &dir.path().join("single"),
        "1",
        &format!("{}/m/single:1", reg.addr),
        &[],
    );
    skopeo_push(&dir.path().join("multi"), "1", &format!("{}/m/multi:1", reg.addr), &[]);
    Source { reg, single, multi }
}

/// Runs irel with `args`, then the server's flags.
fn run(srv: &Server, args: &[&str]) -> Output {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(srv.irel_flags());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    crate::support::irel(&refs)
}

/// `irel copy --json FROM TO` with the server's flags; its report.
fn copy(srv: &Server, from: &str, to: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["copy", "--json", from, to];
    args.extend_from_slice(extra);
    let out = ok_stdout(&run(srv, &args));
    serde_json::from_str(out.lines().last().unwrap()).unwrap()
}

/// The digest skopeo reads for `reference` on `srv`.
fn digest_at(srv: &Server, reference: &str) -> String {
    skopeo_digest(
        reference,
        &srv.skopeo_flags("").iter().map(String::as_str).collect::<Vec<_>>(),
    )
}

/// The JSON lines of an `irel sync --json`: each item's `to` and outcome, and stderr.
fn sync(srv: &Server, from: &str, to: &str) -> (Vec<(String, String)>, String) {
    let out = run(srv, &["sync", "--json", from, to]);
    let stdout = ok_stdout(&out);
    let items = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("to").is_some())
        .map(|v| {
            (
                v["to"].as_str().unwrap().to_string(),
                v["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (items, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// Single image and index, copied into the kind from another registry (each blob's presence
/// check, then uploads) and out of it again; skopeo reads and pulls every instance.
fn copy_image_and_index(kind: Kind) {
    let Some(srv) = Server::start(kind, "copy_image_and_index") else {
        return;
    };
    let src = source();
    let out = Registry::start();
    for (name, fixture) in [("single", &src.single), ("multi", &src.multi)] {
        let into = format!("{}/m/{name}:1", srv.addr);
        let report = copy(&srv, &format!("{}/m/{name}:1", src.reg.addr), &into, &[]);
        assert_eq!(report["digest"], fixture.digest.as_str());
        assert_eq!(digest_at(&srv, &into), fixture.digest);
        let pull: Vec<String> = srv.skopeo_flags("src-");
        skopeo_pull_all(&into, &pull.iter().map(String::as_str).collect::<Vec<_>>());
        let back = format!("{}/out/{name}:1", out.addr);
        copy(&srv, &into, &back, &[]);
        assert_eq!(skopeo_digest(&back, &[]), fixture.digest);
    }
}

/// An index copied by digest, within the kind and to an untagged destination.
fn copy_by_digest(kind: Kind) {
    let Some(srv) = Server::start(kind, "copy_by_digest") else {
        return;
    };
    let src = source();
    let d = &src.multi.digest;
    let pinned = format!("{}/m/pinned@{d}", srv.addr);
    copy(&srv, &format!("{}/m/multi@{d}", src.reg.addr), &pinned, &[]);
    assert_eq!(digest_at(&srv, &pinned), *d);
    let tagged = format!("{}/m/tagged:p", srv.addr);
    copy(&srv, &pinned, &tagged, &[]);
    assert_eq!(digest_at(&srv, &tagged), *d);
}

/// A second copy of the same image finds everything there and sends nothing.
fn recopy_sends_nothing(kind: Kind) {
    let Some(srv) = Server::start(kind, "recopy_sends_nothing") else {
        return;
    };
    let src = source();
    let from = format!("{}/m/multi:1", src.reg.addr);
    let into = format!("{}/m/a:1", srv.addr);
    let first = copy(&srv, &from, &into, &[]);
    assert_eq!(first["blobs_copied"], 4, "{first}");
    let again = copy(&srv, &from, &into, &[]);
    for field in ["blobs_copied", "blobs_mounted", "bytes_copied", "manifests_pushed"] {
        assert_eq!(again[field], 0, "{field}: {again}");
    }
}

/// A copy between two repositories of the kind: mounted where the registry mounts; where it
/// cannot, the fallback (the upload session it opens, or a HEAD and a plain upload when it
/// refuses the mount request) and the digest is the same.
fn mount_or_fallback(kind: Kind) {
    let Some(srv) = Server::start(kind, "mount_or_fallback") else {
        return;
    };
    let src = source();
    let a = format!("{}/m/a:1", srv.addr);
    copy(&srv, &format!("{}/m/single:1", src.reg.addr), &a, &[]);
    let b = format!("{}/m/b:1", srv.addr);
    let report = copy(&srv, &a, &b, &[]);
    let (mounted, copied) = (
        report["blobs_mounted"].as_u64().unwrap(),
        report["blobs_copied"].as_u64().unwrap(),
    );
    match kind {
        // Two layers and a config.
        Kind::Distribution => assert_eq!((mounted, copied), (3, 0), "{report}"),
        // No cross-repository mounts: 202 with an upload session, the blobs go there.
        Kind::Ferro => assert_eq!((mounted, copied), (0, 3), "{report}"),
        // The mount request is answered 404: a HEAD finds every blob (its storage is shared by
        // all repositories), so nothing is sent.
        Kind::Zuul => assert_eq!((mounted, copied), (0, 0), "{report}"),
    }
    assert_eq!(digest_at(&srv, &b), src.single.digest);
}

/// An artifact naming the image as its subject is listed and copied with it: through the
/// referrers API where the kind serves it, else through the fallback tag.
fn referrers(kind: Kind) {
    let Some(srv) = Server::start(kind, "referrers") else {
        return;
    };
    let src = source();
    let a = format!("{}/m/a:1", srv.addr);
    copy(&srv, &format!("{}/m/single:1", src.reg.addr), &a, &[]);
    let subject: Digest = src.single.digest.parse().unwrap();
    let artifact = rt().block_on(push_artifact(&srv, &format!("{}/m/a", srv.addr), &subject));
    let listed = ok_stdout(&run(&srv, &["referrers", &format!("{}/m/a@{subject}", srv.addr)]));
    assert!(listed.contains(artifact.as_str()), "{listed}");

    let c = format!("{}/m/c:1", srv.addr);
    let report = copy(&srv, &a, &c, &["--referrers"]);
    assert_eq!(report["referrers_copied"], 1, "{report}");
    let listed = ok_stdout(&run(&srv, &["referrers", &format!("{}/m/c@{subject}", srv.addr)]));
    assert!(listed.contains(artifact.as_str()), "{listed}");
    let tags = ok_stdout(&run(&srv, &["tags", &format!("{}/m/c", srv.addr)]));
    let fallback = tags.lines().any(|t| t == fallback_tag(&subject));
    match kind {
        // The OCI 1.1 referrers API: no fallback tag.
        Kind::Ferro => assert!(!fallback, "{tags}"),
        // No referrers API: the fallback tag's index.
        Kind::Distribution | Kind::Zuul => assert!(fallback, "{tags}"),
    }
}

/// Pushes an artifact whose subject is `subject` into `repo`, as a signing tool would.
async fn push_artifact(srv: &Server, repo: &str, subject: &Digest) -> Digest {
    let client = srv.client();
    let repo: Reference = repo.parse().unwrap();
    let subject_manifest = client
        .registry()
        .get_manifest(&repo.with_digest(subject.clone()))
        .await
        .unwrap();
    let empty = client
        .registry()
        .push_blob_bytes(&repo.to_repository(), Bytes::from_static(b"{}"))
        .await
        .unwrap();
    let payload = format!("signature on {}", srv.kind.name());
    let layer = client
        .registry()
        .push_blob_bytes(&repo.to_repository(), Bytes::from(payload.clone()))
        .await
        .unwrap();
    let json = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": layer.to_string(), "size": payload.len()}],
        "subject": {"mediaType": subject_manifest.media_type, "digest": subject.to_string(), "size": subject_manifest.bytes.len()},
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

/// `irel sync` of every tag: kind → dir → kind, kind → distribution, distribution → kind.
fn sync_registry_and_dir(kind: Kind) {
    let Some(srv) = Server::start(kind, "sync_registry_and_dir") else {
        return;
    };
    let src = source();
    copy(
        &srv,
        &format!("{}/m/multi:1", src.reg.addr),
        &format!("{}/m/a:1", srv.addr),
        &[],
    );
    copy(
        &srv,
        &format!("{}/m/single:1", src.reg.addr),
        &format!("{}/m/a:2", srv.addr),
        &[],
    );
    let expected = |to: &str| {
        if to.ends_with(":1") {
            src.multi.digest.clone()
        } else {
            assert!(to.ends_with(":2"), "{to}");
            src.single.digest.clone()
        }
    };

    let tree = tempfile::tempdir().unwrap();
    let (items, stderr) = sync(
        &srv,
        &format!("docker://{}/m/a", srv.addr),
        &format!("dir:{}", tree.path().display()),
    );
    assert_eq!(items.len(), 2, "the two tags, no digest: {items:?}\n{stderr}");
    assert!(items.iter().all(|(_, o)| o == "copied"), "{items:?}");
    let digest_warnings = stderr.matches("lists among its tags").count();
    match kind {
        // Its tag list holds the digests the index's images were pushed by: one warning for
        // them all, naming the registry.
        Kind::Zuul => {
            assert_eq!(digest_warnings, 1, "{stderr}");
            assert!(stderr.contains(&format!("the registry {}", srv.addr)), "{stderr}");
        }
        Kind::Distribution | Kind::Ferro => assert_eq!(digest_warnings, 0, "{stderr}"),
    }

    let (items, _) = sync(
        &srv,
        &format!("dir:{}", tree.path().display()),
        &format!("docker://{}/back", srv.addr),
    );
    assert_eq!(items.len(), 2, "{items:?}");
    for (to, _) in &items {
        let to = to.trim_start_matches("docker://");
        assert_eq!(digest_at(&srv, to), expected(to), "{to}");
    }

    let mirror = Registry::start();
    let (items, _) = sync(
        &srv,
        &format!("docker://{}/m/a", srv.addr),
        &format!("docker://{}/mirror", mirror.addr),
    );
    assert_eq!(items.len(), 2, "{items:?}");
    for (to, _) in &items {
        let to = to.trim_start_matches("docker://");
        assert_eq!(skopeo_digest(to, &[]), expected(to), "{to}");
    }

    let (items, _) = sync(
        &srv,
        &format!("docker://{}/m/single", src.reg.addr),
        &format!("docker://{}/in", srv.addr),
    );
    assert_eq!(items.len(), 1, "{items:?}");
    let to = items[0].0.trim_start_matches("docker://");
    assert_eq!(digest_at(&srv, to), src.single.digest);
}

/// A thick bundle saved from the kind and relocated into it; a relocation from it to another
/// registry.
fn save_and_relocate(kind: Kind) {
    let Some(srv) = Server::start(kind, "save_and_relocate") else {
        return;
    };
    let src = source();
    let a = format!("{}/m/a:1", srv.addr);
    copy(&srv, &format!("{}/m/multi:1", src.reg.addr), &a, &[]);
    let work = tempfile::tempdir().unwrap();
    let bundle = work.path().join("b.tgz");
    ok_stdout(&run(&srv, &["save", "-o", bundle.to_str().unwrap(), &a]));
    let mapping = work.path().join("mapping.json");
    let prefix = format!("{}/reloc", srv.addr);
    ok_stdout(&run(
        &srv,
        &[
            "relocate",
            "--archive",
            bundle.to_str().unwrap(),
            "-r",
            &prefix,
            "--mapping-output",
            mapping.to_str().unwrap(),
        ],
    ));
    let relocated = relocated_names(&mapping);
    assert_eq!(relocated.len(), 1, "{relocated:?}");
    assert!(relocated[0].starts_with(&prefix), "{relocated:?}");
    assert_eq!(digest_at(&srv, &relocated[0]), src.multi.digest);

    let other = Registry::start();
    let prefix = format!("{}/reloc", other.addr);
    ok_stdout(&run(
        &srv,
        &[
            "relocate",
            &a,
            "-r",
            &prefix,
            "--mapping-output",
            mapping.to_str().unwrap(),
        ],
    ));
    let relocated = relocated_names(&mapping);
    assert_eq!(skopeo_digest(&relocated[0], &[]), src.multi.digest);
}

/// The relocated names a mapping file gives (its string values that are not its keys).
fn relocated_names(mapping: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(mapping).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    collect_relocated(&v, &mut out);
    assert!(!out.is_empty(), "{text}");
    out
}

fn collect_relocated(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) if k != "original" && k != "source" => out.push(s.clone()),
                    other => collect_relocated(other, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_relocated(i, out)),
        _ => {}
    }
}

/// Pushing needs the credentials where the kind has authentication (Basic on distribution,
/// its own token service on zuul-registry); reading anonymously is what each allows.
fn auth(kind: Kind) {
    let Some(srv) = Server::start(kind, "auth") else {
        return;
    };
    let src = source();
    let from = format!("{}/m/single:1", src.reg.addr);
    let into = format!("{}/m/a:1", srv.addr);
    let mut anonymous = vec!["copy", &from, &into];
    let ca = srv.ca.as_ref().map(|c| c.display().to_string());
    if let Some(ca) = &ca {
        anonymous.extend_from_slice(&["--ca-cert-path", ca]);
    }
    let out = crate::support::irel(&anonymous);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if kind.has_auth() {
        assert!(!out.status.success(), "an anonymous push is refused");
        assert!(stderr.contains("401"), "{stderr}");
    } else {
        // ferro-oci-server has no authentication.
        assert!(out.status.success(), "{stderr}");
    }
    copy(&srv, &from, &into, &[]);
    // Reading without credentials: refused by distribution (htpasswd covers everything), an
    // anonymous token from zuul-registry, no auth at all on ferro-oci-server.
    let mut read = vec!["digest", into.as_str()];
    if let Some(ca) = &ca {
        read.extend_from_slice(&["--ca-cert-path", ca]);
    }
    let out = crate::support::irel(&read);
    match kind {
        Kind::Distribution => assert!(!out.status.success()),
        Kind::Ferro | Kind::Zuul => assert_eq!(ok_stdout(&out), src.single.digest),
    }
}

/// A download cut half-way resumes: with `Range` where the kind honours it, else by asking
/// again and skipping what arrived (ferro-oci-server and zuul-registry ignore `Range`).
fn resume_after_cut(kind: Kind) {
    // Plain http, so that the proxy can stand in front of it.
    let Some(srv) = Server::start_plain(kind, "resume_after_cut") else {
        return;
    };
    let src_reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let fixture = make_layout(dir.path(), "1", &[3_000_000], &["amd64"], 7);
    skopeo_push(dir.path(), "1", &format!("{}/m/big:1", src_reg.addr), &[]);
    copy(
        &srv,
        &format!("{}/m/big:1", src_reg.addr),
        &format!("{}/m/big:1", srv.addr),
        &[],
    );
    // The config blob is too short to cut; the layer is cut once, after 1 MB.
    let proxy = Proxy::start(
        &srv.addr,
        Behaviour {
            faults: vec![Fault::new(
                "GET /v2/m/big/blobs/",
                2,
                Action::CutResponseAfter(1_000_000),
            )],
            ..Default::default()
        },
    );
    let out = Registry::start();
    let to = format!("{}/out/big:1", out.addr);
    let report = copy(&srv, &format!("{}/m/big:1", proxy.addr), &to, &[]);
    assert_eq!(report["blobs_copied"], 2, "{report}");
    assert_eq!(skopeo_digest(&to, &[]), fixture.digest);
    let gets = proxy.seen_matching("GET /v2/m/big/blobs/");
    let ranged = gets.iter().filter(|(_, h)| h.contains_key("range")).count();
    assert_eq!(gets.len(), 3, "the config, the cut layer, its resumption: {gets:?}");
    assert_eq!(ranged, 1, "the resumption asks for the rest: {gets:?}");
}

/// A registry's whole catalog (what `irel sync` of a registry lists).
fn catalog(kind: Kind) {
    let Some(srv) = Server::start(kind, "catalog") else {
        return;
    };
    let src = source();
    copy(
        &srv,
        &format!("{}/m/single:1", src.reg.addr),
        &format!("{}/m/a:1", srv.addr),
        &[],
    );
    let out = run(&srv, &["catalog", &srv.addr]);
    match kind {
        Kind::Distribution | Kind::Ferro => assert_eq!(ok_stdout(&out), "m/a"),
        // zuul-registry has no catalog endpoint: a 404, said plainly.
        Kind::Zuul => {
            assert!(!out.status.success());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("_catalog") && stderr.contains("404"), "{stderr}");
        }
    }
}

macro_rules! matrix {
    ($($scenario:ident),* $(,)?) => {
        mod distribution {
            $(#[test] fn $scenario() { super::$scenario(super::Kind::Distribution) })*
        }
        mod ferro {
            $(#[test] fn $scenario() { super::$scenario(super::Kind::Ferro) })*
        }
        mod zuul {
            $(#[test] fn $scenario() { super::$scenario(super::Kind::Zuul) })*
        }
    };
}

matrix!(
    copy_image_and_index,
    copy_by_digest,
    recopy_sends_nothing,
    mount_or_fallback,
    referrers,
    sync_registry_and_dir,
    save_and_relocate,
    auth,
    resume_after_cut,
    catalog,
);

/// A registry that refuses the mount request itself (here a proxy answering 404 to it, as
/// zuul-registry does) gets a HEAD and a plain upload POST instead; the refusal is remembered for
/// the registry, so the client's next copy asks no mount at all.
#[test]
fn a_refused_mount_request_falls_back_to_a_plain_upload_and_is_remembered() {
    let src = source();
    let dst = Registry::start();
    let proxy = Proxy::start(
        &dst.addr,
        Behaviour {
            faults: vec![Fault::new("mount=", usize::MAX, Action::Status(404, None, None))],
            ..Default::default()
        },
    );
    let client = irel::Client::builder().build().unwrap();
    let copy = |from: String, to: String| {
        let client = client.clone();
        async move {
            let (from, to): (Reference, Reference) = (from.parse().unwrap(), to.parse().unwrap());
            client.copy(&from, &to, &irel::CopyOptions::default()).await.unwrap()
        }
    };
    let rt = rt();
    let to = format!("{}/m/single:1", proxy.addr);
    let report = rt.block_on(copy(format!("{}/m/single:1", src.reg.addr), to.clone()));
    assert_eq!(report.blobs_copied, 3);
    assert_eq!(skopeo_digest(&to, &[]), src.single.digest);
    let asked = proxy.seen_matching("mount=").len();
    assert!(
        (1..=3).contains(&asked),
        "at most one per blob before the refusal is known: {asked}"
    );

    let to = format!("{}/m/multi:1", proxy.addr);
    let report = rt.block_on(copy(format!("{}/m/multi:1", src.reg.addr), to.clone()));
    assert_eq!(report.blobs_copied, 4);
    assert_eq!(skopeo_digest(&to, &[]), src.multi.digest);
    assert_eq!(proxy.seen_matching("mount=").len(), asked, "not asked again");
    // Each blob was looked for with a HEAD instead.
    assert!(proxy.seen_matching("HEAD /v2/m/multi/blobs/").len() >= 4);
}

/// A tag list holding digests (zuul-registry's does; here a proxy adds them to distribution's):
/// a sync of every tag skips them with one warning naming the registry, and copies the tags.
#[test]
fn digests_in_a_tag_list_are_skipped_with_one_warning() {
    let src = source();
    let listing = serde_json::json!({"name": "m/multi", "tags": ["1", src.multi.digest, src.single.digest]});
    let proxy = Proxy::start(
        &src.reg.addr,
        Behaviour {
            faults: vec![Fault::new(
                "GET /v2/m/multi/tags/list",
                usize::MAX,
                Action::Replace("application/json", Bytes::from(listing.to_string())),
            )],
            ..Default::default()
        },
    );
    let tree = tempfile::tempdir().unwrap();
    let out = crate::support::irel(&[
        "sync",
        "--json",
        &format!("docker://{}/m/multi", proxy.addr),
        &format!("dir:{}", tree.path().display()),
    ]);
    let stdout = ok_stdout(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let copied: Vec<&str> = stdout.lines().filter(|l| l.contains("\"to\"")).collect();
    assert_eq!(copied.len(), 1, "only the tag: {stdout}");
    assert!(copied[0].contains("multi:1"), "{stdout}");
    assert_eq!(stderr.matches("warning").count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "skipping 2 digests that the registry {} lists among its tags",
            proxy.addr
        )),
        "{stderr}"
    );
}

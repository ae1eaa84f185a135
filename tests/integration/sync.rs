//! Mirroring against real registries: all-tags sync with scoped names, YAML sources with
//! per-registry TLS and credentials, registry → dir → registry with skopeo interop both ways,
//! and regex tasks over a catalog.

use std::collections::BTreeSet;

use irel::{Client, CopyOptions, Reference};

use crate::support::{
    irel, make_layout, ok_stdout, skopeo, skopeo_digest, skopeo_pull_all, skopeo_push, Pki, Registry, RegistryConfig,
};

const KIB: usize = 1024;

/// Pushes one image under several tags of `repo` (and a second, different image as `other`).
fn seed_tags(reg: &Registry, repo: &str, tags: &[&str], seed: u64) -> (String, String) {
    let a = reg.scratch().join(format!("a-{seed}"));
    let fa = make_layout(&a, "t", &[9 * KIB, 2 * KIB], &["amd64", "arm64"], seed);
    for t in tags {
        skopeo_push(&a, "t", &format!("{}/{repo}:{t}", reg.addr), &[]);
    }
    let b = reg.scratch().join(format!("b-{seed}"));
    let fb = make_layout(&b, "t", &[7 * KIB], &["amd64"], seed + 1000);
    skopeo_push(&b, "t", &format!("{}/{repo}:other", reg.addr), &[]);
    (fa.digest, fb.digest)
}

#[test]
fn all_tags_sync_scopes_names_and_a_rerun_copies_nothing() {
    let (src, dst) = (Registry::start(), Registry::start());
    let (da, db) = seed_tags(&src, "lib/app", &["1.0", "1.1"], 51);
    let scope = format!("127.0.0.1-{}", src.port);

    let out = ok_stdout(&irel(&[
        "sync",
        &format!("docker://{}/lib/app", src.addr),
        &format!("docker://{}/mirror", dst.addr),
    ]));
    assert!(
        out.ends_with("sync: 3 copied, 0 skipped, 0 failed") || out.contains("sync: 3 copied, 0 skipped, 0 failed"),
        "{out}"
    );
    for (tag, digest) in [("1.0", &da), ("1.1", &da), ("other", &db)] {
        let r = format!("{}/mirror/{scope}/lib/app:{tag}", dst.addr);
        assert_eq!(&skopeo_digest(&r, &[]), digest, "{r}");
    }
    skopeo_pull_all(&format!("{}/mirror/{scope}/lib/app:1.0", dst.addr), &[]);
    // 1.0 and 1.1 are one image synced side by side: each distinct blob is uploaded once
    // (2 platforms × (config + 2 layers) + (config + 1 layer) of the other image).
    let uploads = dst
        .log_text()
        .lines()
        .filter(|l| l.contains("\"PUT /v2/mirror/") && l.contains("/blobs/uploads/"))
        .count();
    assert_eq!(uploads, 8, "shared blobs must be transferred once");

    let blob_puts = || dst.log_text().matches("\"PUT /v2/mirror/").count();
    let before = blob_puts();
    let again = ok_stdout(&irel(&[
        "sync",
        &format!("docker://{}/lib/app", src.addr),
        &format!("docker://{}/mirror", dst.addr),
    ]));
    assert!(
        again.contains("sync: 0 copied, 3 skipped, 0 failed, 0 bytes"),
        "{again}"
    );
    assert_eq!(blob_puts(), before, "a repeated sync writes nothing");

    // --no-scope is skopeo's unscoped naming: the last path component only; a tag names one
    // image.
    ok_stdout(&irel(&[
        "sync",
        "--no-scope",
        &format!("docker://{}/lib/app:1.1", src.addr),
        &format!("docker://{}/flat", dst.addr),
    ]));
    assert_eq!(skopeo_digest(&format!("{}/flat/app:1.1", dst.addr), &[]), da);
}

#[test]
fn yaml_sources_with_per_registry_credentials_and_tls() {
    let pki = Pki::generate();
    let dir = tempfile::tempdir().unwrap();
    let private = Registry::with_basic_auth("dave", "pw-dave");
    let tls = Registry::start_with(RegistryConfig {
        tls: Some(pki.server()),
        ..Default::default()
    });
    let dst = Registry::start();

    let l1 = dir.path().join("l1");
    let f1 = make_layout(&l1, "t", &[3 * KIB], &["amd64"], 52);
    skopeo_push(
        &l1,
        "t",
        &format!("{}/team/app:1.0", private.addr),
        &["--dest-creds", "dave:pw-dave"],
    );
    skopeo_push(
        &l1,
        "t",
        &format!("{}/team/app:2.0", private.addr),
        &["--dest-creds", "dave:pw-dave"],
    );
    let l2 = dir.path().join("l2");
    let f2 = make_layout(&l2, "t", &[4 * KIB], &["amd64"], 53);
    for t in ["v1.1", "v1.2", "v2.0"] {
        skopeo_push(&l2, "t", &format!("{}/web:{t}", tls.addr), &[]);
    }
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    std::fs::copy(pki.ca(), certs.join("ca.crt")).unwrap();
    let yaml = dir.path().join("sync.yml");
    std::fs::write(
        &yaml,
        format!(
            "{p}:\n  images:\n    team/app: [\"2.0\"]\n  credentials:\n    username: dave\n    password: pw-dave\n{t}:\n  images-by-tag-regex:\n    web: ^v1\\..*$\n  tls-verify: true\n  cert-dir: {c}\n",
            p = private.addr,
            t = tls.addr,
            c = certs.display()
        ),
    )
    .unwrap();

    let out = ok_stdout(&irel(&[
        "sync",
        "--source-yaml",
        yaml.to_str().unwrap(),
        &format!("docker://{}/m", dst.addr),
    ]));
    assert!(out.contains("sync: 3 copied, 0 skipped, 0 failed"), "{out}");
    assert!(!out.contains("pw-dave"));
    let p = format!("127.0.0.1-{}", private.port);
    let t = format!("127.0.0.1-{}", tls.port);
    assert_eq!(
        skopeo_digest(&format!("{}/m/{p}/team/app:2.0", dst.addr), &[]),
        f1.digest
    );
    for tag in ["v1.1", "v1.2"] {
        assert_eq!(skopeo_digest(&format!("{}/m/{t}/web:{tag}", dst.addr), &[]), f2.digest);
    }
    let tags = crate::support::skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}/m/{t}/web", dst.addr),
    ]);
    assert!(!String::from_utf8_lossy(&tags.stdout).contains("v2.0"));
}

#[test]
fn registry_to_dir_to_registry_round_trip_and_skopeo_interop() {
    let (src, dst) = (Registry::start(), Registry::start());
    let (da, db) = seed_tags(&src, "app", &["1.0"], 54);
    let dir = tempfile::tempdir().unwrap();
    let usb = dir.path().join("usb");
    let scope = format!("127.0.0.1-{}", src.port);

    ok_stdout(&irel(&[
        "sync",
        &format!("docker://{}/app", src.addr),
        &format!("dir:{}", usb.display()),
    ]));
    let image_dir = usb.join(&scope).join("app:1.0");
    assert!(image_dir.join("manifest.json").is_file() && image_dir.join("version").is_file());

    // skopeo reads irel's dir: with every instance.
    let check = format!("{}/skopeo-read/app:1.0", dst.addr);
    let out = skopeo(&[
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        &format!("dir:{}", image_dir.display()),
        &format!("docker://{check}"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(skopeo_digest(&check, &[]), da);

    // Air-gapped side: dir → registry keeps the path structure.
    let out = ok_stdout(&irel(&[
        "sync",
        &format!("dir:{}", usb.display()),
        &format!("docker://{}/restored", dst.addr),
    ]));
    assert!(out.contains("sync: 2 copied"), "{out}");
    assert_eq!(
        skopeo_digest(&format!("{}/restored/{scope}/app:1.0", dst.addr), &[]),
        da
    );
    assert_eq!(
        skopeo_digest(&format!("{}/restored/{scope}/app:other", dst.addr), &[]),
        db
    );
    skopeo_pull_all(&format!("{}/restored/{scope}/app:1.0", dst.addr), &[]);

    // A tree skopeo sync wrote is pushed by irel.
    let from_skopeo = dir.path().join("skopeo-tree");
    let out = skopeo(&[
        "sync",
        "--all",
        "--preserve-digests",
        "--src",
        "docker",
        "--dest",
        "dir",
        "--src-tls-verify=false",
        &format!("{}/app", src.addr),
        from_skopeo.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    ok_stdout(&irel(&[
        "sync",
        &format!("dir:{}", from_skopeo.display()),
        &format!("docker://{}/via-skopeo", dst.addr),
    ]));
    let pushed = ok_stdout(&irel(&[
        "sync",
        "--dry-run",
        &format!("dir:{}", from_skopeo.display()),
        &format!("docker://{}/via-skopeo", dst.addr),
    ]));
    let first = pushed
        .lines()
        .next()
        .unwrap()
        .split(" -> docker://")
        .nth(1)
        .unwrap()
        .to_string();
    assert!(first.ends_with("app:1.0"), "{pushed}");
    assert_eq!(skopeo_digest(&first, &[]), da);

    // dir → dir is refused with a hint.
    let out = irel(&[
        "sync",
        &format!("dir:{}", usb.display()),
        &format!("dir:{}", dir.path().join("x").display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cp -r"));
}

#[tokio::test]
async fn regex_tasks_over_a_paginated_catalog() {
    let (src, dst) = (Registry::start(), Registry::start());
    let layout = src.scratch().join("l");
    let fx = make_layout(&layout, "t", &[2 * KIB], &["amd64"], 55);
    skopeo_push(&layout, "t", &format!("{}/seed/img:0.9.0", src.addr), &[]);
    let client = Client::builder().build().unwrap();
    let seed: Reference = format!("{}/seed/img:0.9.0", src.addr).parse().unwrap();
    let mut repos = Vec::new();
    for i in 0..12 {
        repos.push(format!("library/app{i}"));
    }
    for i in 0..10 {
        repos.push(format!("team/svc{i}"));
    }
    for i in 0..7 {
        repos.push(format!("other/x{i}"));
    }
    for repo in &repos {
        for tag in ["0.9.0", "1.0.0", "1.1.0", "edge"] {
            let dst: Reference = format!("{}/{repo}:{tag}", src.addr).parse().unwrap();
            client.copy(&seed, &dst, &CopyOptions::default()).await.unwrap();
        }
    }
    // 30 repositories with the seed; 7 per page means 5 pages.
    let listed = client.registry().catalog_paged(&src.addr, None, 7).await.unwrap();
    assert_eq!(listed.len(), 30);
    assert!(
        src.log_text().contains("GET /v2/_catalog?last="),
        "pagination followed the Link header"
    );

    let cfg = src.scratch().join("tasks.yaml");
    std::fs::write(
        &cfg,
        format!(
            // dregsy's semantics: `to: regex:` rewrites the path with its leading `/`; a literal
            // `to` after a regex `from` is a prefix; `keep: latest N` needs its space.
            "lister: {{maxItems: 100}}\ntasks:\n- name: hub\n  source: {{registry: \"{s}\", lister: {{type: catalog}}}}\n  target: {{registry: \"{d}\"}}\n  mappings:\n  - from: regex:library/app1[0-9]?\n    to: regex:^/library/(.*)$,/hub/$1\n    tags: [\"semver:>=1.0.0\", \"keep: latest 1\"]\n  - from: regex:team/svc[0-2]\n    to: teams\n    tags: [\"edge\"]\n  - from: other/x3\n",
            s = src.addr,
            d = dst.addr
        ),
    )
    .unwrap();
    let mut expected: BTreeSet<String> = ["app1", "app10", "app11"]
        .iter()
        .map(|a| format!("hub/{a}:1.1.0"))
        .collect();
    expected.extend((0..3).map(|i| format!("teams/team/svc{i}:edge")));
    expected.extend(
        ["0.9.0", "1.0.0", "1.1.0", "edge"]
            .iter()
            .map(|t| format!("other/x3:{t}")),
    );

    let plan = ok_stdout(&irel(&["sync", "--config", cfg.to_str().unwrap(), "--dry-run"]));
    let planned: BTreeSet<String> = plan
        .lines()
        .filter_map(|l| l.split(" -> docker://").nth(1))
        .map(|t| t.trim_start_matches(&format!("{}/", dst.addr)).to_string())
        .collect();
    assert_eq!(planned, expected, "{plan}");
    assert!(!dst.log_text().contains("PUT /v2/"), "a dry run copies nothing");

    let out = ok_stdout(&irel(&["sync", "--config", cfg.to_str().unwrap(), "--jobs", "6"]));
    assert!(
        out.contains(&format!(
            "sync task 'hub': {} copied, 0 skipped, 0 failed",
            expected.len()
        )),
        "{out}"
    );
    let target_repos: BTreeSet<String> = client
        .registry()
        .catalog(&dst.addr, None)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let expected_repos: BTreeSet<String> = expected
        .iter()
        .map(|e| e.split(':').next().unwrap().to_string())
        .collect();
    assert_eq!(target_repos, expected_repos);
    for e in &expected {
        assert_eq!(skopeo_digest(&format!("{}/{e}", dst.addr), &[]), fx.digest);
    }
    // Ten repositories of one image: its two blobs are uploaded once and mounted elsewhere.
    let log = dst.log_text();
    let uploads = log
        .lines()
        .filter(|l| l.contains("\"PUT /v2/") && l.contains("/blobs/uploads/"))
        .count();
    assert_eq!(uploads, 2, "shared blobs must be transferred once across repositories");
    let again = ok_stdout(&irel(&["sync", "--config", cfg.to_str().unwrap()]));
    assert!(
        again.contains(&format!("sync task 'hub': 0 copied, {} skipped", expected.len())),
        "{again}"
    );
}

#[test]
fn an_untagged_source_whose_tags_cannot_be_listed_fails_but_a_source_file_goes_on() {
    // As skopeo sync (1.11 and later): a docker source whose tag listing is refused is an
    // error; a source file's repository is logged and skipped.
    let private = Registry::with_basic_auth("erin", "pw-erin");
    let dst = Registry::start();
    let out = irel(&[
        "sync",
        &format!("docker://{}/secret/app", private.addr),
        &format!("docker://{}/m", dst.addr),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot list the tags of") && err.contains("secret/app"),
        "{err}"
    );
    assert!(!dst.log_text().contains("PUT /v2/"));

    let yaml = dst.scratch().join("sync.yml");
    std::fs::write(&yaml, format!("{}:\n  images:\n    secret/app: []\n", private.addr)).unwrap();
    let out = irel(&[
        "sync",
        "--source-yaml",
        yaml.to_str().unwrap(),
        &format!("docker://{}/m", dst.addr),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning: cannot list the tags"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("sync: 0 copied, 0 skipped, 0 failed"));
}

#[test]
fn an_interrupted_sync_leaves_no_partial_tag_and_a_rerun_completes() {
    let (src, dst) = (Registry::start(), Registry::start());
    let layout = src.scratch().join("big");
    let fx = make_layout(&layout, "t", &[24 * 1024 * KIB, 24 * 1024 * KIB], &["amd64"], 56);
    for t in ["a", "b", "c"] {
        skopeo_push(&layout, "t", &format!("{}/big/app:{t}", src.addr), &[]);
    }
    let source = format!("docker://{}/big/app", src.addr);
    let target = format!("docker://{}/m", dst.addr);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_irel"))
        .args(["sync", "--jobs", "1", &source, &target])
        .env("DOCKER_CONFIG", "/nonexistent")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Stop it as soon as the first blob upload has begun.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !dst.log_text().contains("POST /v2/m/") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    child.wait().unwrap();

    // Whatever tags exist are complete images.
    let repo = format!("{}/m/127.0.0.1-{}/big/app", dst.addr, src.port);
    let listed = skopeo(&["list-tags", "--tls-verify=false", &format!("docker://{repo}")]);
    if listed.status.success() {
        let tags: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
        for t in tags["Tags"].as_array().cloned().unwrap_or_default() {
            skopeo_pull_all(&format!("{repo}:{}", t.as_str().unwrap()), &[]);
        }
    }
    let out = ok_stdout(&irel(&["sync", &source, &target]));
    assert!(out.contains("0 failed"), "{out}");
    for t in ["a", "b", "c"] {
        assert_eq!(skopeo_digest(&format!("{repo}:{t}"), &[]), fx.digest);
    }
}

#[test]
fn sync_flags_for_credentials_certificates_and_oci_sources() {
    let pki = Pki::generate();
    let dir = tempfile::tempdir().unwrap();
    let private = Registry::with_basic_auth("fay", "pw-fay");
    let tls = Registry::start_with(RegistryConfig {
        tls: Some(pki.server()),
        ..Default::default()
    });
    let layout = dir.path().join("l");
    let fx = make_layout(&layout, "t", &[5 * KIB], &["amd64"], 57);
    skopeo_push(
        &layout,
        "t",
        &format!("{}/p/app:1", private.addr),
        &["--dest-creds", "fay:pw-fay"],
    );
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    std::fs::copy(pki.ca(), certs.join("ca.crt")).unwrap();

    // Without the source credentials the tag listing is refused (an error), so name the tag.
    let src = format!("docker://{}/p/app:1", private.addr);
    let dst = format!("docker://{}/m", tls.addr);
    let out = irel(&["sync", &src, &dst]);
    assert_eq!(out.status.code(), Some(1), "no credentials, no CA");
    let out = ok_stdout(&irel(&[
        "sync",
        "--src-creds",
        "fay:pw-fay",
        "--dest-cert-dir",
        certs.to_str().unwrap(),
        &src,
        &dst,
    ]));
    assert!(out.contains("sync: 1 copied, 0 skipped, 0 failed"), "{out}");
    let landed = format!("{}/m/127.0.0.1-{}/p/app:1", tls.addr, private.port);
    assert_eq!(skopeo_digest(&landed, &[]), fx.digest);

    // An OCI layout is a source too: entries named with full references keep their scoped path.
    let oci = dir.path().join("oci");
    ok_stdout(&crate::support::irel_env(
        &[
            "layout",
            "add",
            oci.to_str().unwrap(),
            &format!("{}/p/app:1", private.addr),
        ],
        &[(
            "DOCKER_CONFIG",
            write_docker_config(dir.path(), &private.addr, "fay", "pw-fay").as_str(),
        )],
    ));
    let plain = Registry::start();
    let out = ok_stdout(&irel(&[
        "sync",
        &format!("oci:{}", oci.display()),
        &format!("docker://{}/o", plain.addr),
    ]));
    assert!(out.contains("sync: 1 copied"), "{out}");
    assert_eq!(
        skopeo_digest(&format!("{}/o/127.0.0.1-{}/p/app:1", plain.addr, private.port), &[]),
        fx.digest
    );

    // A missing tag fails that image, the summary says so, and the exit code is 1.
    let out = irel(&[
        "sync",
        "--src-creds",
        "fay:pw-fay",
        &format!("docker://{}/p/app:nope", private.addr),
        &format!("docker://{}/o", plain.addr),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("sync: 0 copied, 0 skipped, 1 failed"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed to sync"));
}

fn write_docker_config(dir: &std::path::Path, registry: &str, user: &str, password: &str) -> String {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let cfg = serde_json::json!({"auths": {registry: {"auth": auth}}});
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    dir.to_str().unwrap().to_string()
}

//! dregsy's own cases, run through `irel sync --config` against local registries.
//!
//! Ported from xelalexv/dregsy@e92e79a (expectations taken from there, never from our wording):
//! - `cmd/dregsy/main_test.go` (the e2e expectations) with the fixtures
//!   `test/fixtures/e2e/base/{skopeo,oneoff,skopeo-platform,skopeo-platform-all}.yaml`,
//!   `test/fixtures/e2e/tagsets/skopeo-{range,prune,regex,limit,digest}.yaml` and
//!   `test/fixtures/e2e/mapping/skopeo-{dockerhub,local,dh-search,ecr}.yaml`;
//! - `doc/design-image-matching.md` (the mapping examples);
//! - `internal/pkg/sync/config_test.go` with `test/fixtures/config/*.yaml` (unit tests in
//!   `src/sync/tasks/mod.rs`; here, that a refused file copies nothing).
//!
//! Docker Hub, ECR and GCR sources become a local registry seeded with small synthetic images
//! under the same repository names and tags (plus decoys that must not be copied); the
//! `dockerhub` and `index` listers become `catalog`; `auth-refresh` (ECR only) is dropped.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use irel::layout::OciLayout;
use irel::{Client, CopyOptions, Reference};

use crate::support::{irel, make_layout, Pki, Registry, RegistryConfig};

/// Pushes one small image to `reg` as `repo:tag` for every tag (the same image for all).
async fn seed(client: &Client, reg: &Registry, repo: &str, tags: &[&str], seed: u64) -> String {
    let layout = reg.scratch().join(format!("seed-{seed}"));
    let fx = make_layout(&layout, "t", &[512], &["amd64"], seed);
    let open = OciLayout::open(&layout).unwrap();
    for tag in tags {
        let r: Reference = format!("{}/{repo}:{tag}", reg.addr).parse().unwrap();
        client
            .push_from_layout(&open, &fx.digest.parse().unwrap(), &r, &CopyOptions::default())
            .await
            .unwrap();
    }
    fx.digest
}

async fn tags(client: &Client, reg: &Registry, repo: &str) -> BTreeSet<String> {
    let r: Reference = format!("{}/{repo}", reg.addr).parse().unwrap();
    client
        .registry()
        .tags(&r.to_repository())
        .await
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn write_config(reg: &Registry, name: &str, text: &str) -> String {
    let path = reg.scratch().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = irel(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn client() -> Client {
    Client::builder().build().unwrap()
}

const BUSYBOX_RANGE: &[&str] = &[
    "latest",
    "1.31",
    "1.31.0",
    "1.31.1-musl",
    "1.31.1",
    "1.31.1-uclibc",
    "1.31.1-glibc",
];
const BUSYBOX_RANGE_DECOYS: &[&str] = &["1.30.1", "1.31.0-musl", "1.31.9", "1.32.0", "1-musl", "musl", "stable"];

/// T-range and T-prune (`main_test.go:351-371`, `tagsets/skopeo-{range,prune}.yaml`).
#[tokio::test]
async fn tagsets_range_and_prune() {
    let (src, dst) = (Registry::start(), Registry::start());
    let c = client();
    let all: Vec<&str> = BUSYBOX_RANGE.iter().chain(BUSYBOX_RANGE_DECOYS).copied().collect();
    seed(&c, &src, "library/busybox", &all, 1).await;
    let cfg = write_config(
        &src,
        "range.yaml",
        &format!(
            r#"relay: skopeo
tasks:
- name: test-skopeo-range
  verbose: true
  source: {{registry: "{s}"}}
  target: {{registry: "{d}", skip-tls-verify: true}}
  mappings:
  - from: library/busybox
    to: tagsets-skopeo/range/busybox
    tags:
    - 'semver: >=1.31.0 <1.31.9'
    - 'latest'
- name: test-skopeo-prune
  verbose: true
  source: {{registry: "{s}"}}
  target: {{registry: "{d}", skip-tls-verify: true}}
  mappings:
  - from: library/busybox
    to: tagsets-skopeo/prune/busybox
    tags:
    - 'semver: >=1.31.0 <1.31.9'
    - 'keep: .+(glibc|musl)'
"#,
            s = src.addr,
            d = dst.addr
        ),
    );
    let (code, out, err) = run(&["sync", "--config", &cfg]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(tags(&c, &dst, "tagsets-skopeo/range/busybox").await, set(BUSYBOX_RANGE));
    assert_eq!(
        tags(&c, &dst, "tagsets-skopeo/prune/busybox").await,
        set(&["1.31.1-musl", "1.31.1-glibc"])
    );
}

/// T-regex, then T-regexinv reading what the first task wrote: tasks run in file order
/// (`main_test.go:374-383`, `tagsets/skopeo-regex.yaml`).
#[tokio::test]
async fn tagsets_regex_then_inverted_regex_over_the_first_tasks_result() {
    let (src, dst) = (Registry::start(), Registry::start());
    let c = client();
    let seeded = [
        "1.26.1-musl",
        "1.26.1-glibc",
        "1.26.1-uclibc",
        "1.26.1",
        "1.26.2-musl",
        "1.26.1-musl-x",
    ];
    seed(&c, &src, "library/busybox", &seeded, 2).await;
    let cfg = write_config(
        &src,
        "regex.yaml",
        &format!(
            r#"relay: skopeo
tasks:
- name: test-skopeo-regex
  source: {{registry: "{s}"}}
  target: {{registry: "{d}", skip-tls-verify: true}}
  mappings:
  - from: library/busybox
    to: tagsets-skopeo/regex/busybox
    tags:
    - 'regex: 1\.26\.1-(glibc|uclibc|musl)'
- name: test-skopeo-regex-inverted # depends on results of the task above
  source: {{registry: "{d}", skip-tls-verify: true}}
  target: {{registry: "{d}", skip-tls-verify: true}}
  mappings:
  - from: tagsets-skopeo/regex/busybox
    to: tagsets-skopeo/regexinv/busybox
    tags:
    - 'regex: !.+(glibc|musl)'
"#,
            s = src.addr,
            d = dst.addr
        ),
    );
    let (code, out, err) = run(&["sync", "--config", &cfg]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        tags(&c, &dst, "tagsets-skopeo/regex/busybox").await,
        set(&["1.26.1-musl", "1.26.1-glibc", "1.26.1-uclibc"])
    );
    assert_eq!(
        tags(&c, &dst, "tagsets-skopeo/regexinv/busybox").await,
        set(&["1.26.1-uclibc"])
    );
}

/// T-limit (`main_test.go:386-395`, `tagsets/skopeo-limit.yaml`): `keep: latest 5` keeps the
/// five highest versions in range and every non-semver tag (`glibc`, verbatim).
#[tokio::test]
async fn tagsets_limit() {
    let (src, dst) = (Registry::start(), Registry::start());
    let c = client();
    let seeded = [
        "1.33.0",
        "1.33.1",
        "1.34.0",
        "1.34.1",
        "1.35.0",
        "1.35.0-musl",
        "1.36",
        "1.36.0",
        "1.36.0-glibc",
        "1.36.0-musl",
        "1.36.0-uclibc",
        "1.36.1",
        "1",
        "glibc",
        "musl",
        "latest",
    ];
    seed(&c, &src, "library/busybox", &seeded, 3).await;
    let cfg = write_config(
        &src,
        "limit.yaml",
        &format!(
            r#"relay: skopeo
tasks:
- name: test-skopeo-limit
  source: {{registry: "{s}"}}
  target: {{registry: "{d}", skip-tls-verify: true}}
  mappings:
  - from: library/busybox
    to: tagsets-skopeo/limit/busybox
    tags:
    - 'glibc'
    - 'semver: >=1.33.0 <=1.36.0'
    - 'keep: latest 5'
"#,
            s = src.addr,
            d = dst.addr
        ),
    );
    let (code, out, err) = run(&["sync", "--config", &cfg]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        tags(&c, &dst, "tagsets-skopeo/limit/busybox").await,
        set(&[
            "1.36",
            "1.36.0",
            "1.36.0-glibc",
            "1.36.0-musl",
            "1.36.0-uclibc",
            "glibc"
        ])
    );
}

/// T-digest (`main_test.go:398-415` and, for the docker relay, `:211-232`;
/// `tagsets/{skopeo,docker}-digest.yaml`): a lone digest is pushed by digest (skopeo relay) or
/// as `dregsy-<hex>` (docker relay); `TAG@digest` is pulled by digest and tagged; `keep:`
/// never prunes verbatim entries; nothing is listed.
#[tokio::test]
async fn tagsets_digest() {
    let (src, dst) = (Registry::start(), Registry::start());
    let c = client();
    let musl = seed(&c, &src, "library/busybox", &["1.36.0-musl"], 4).await;
    let uclibc = seed(&c, &src, "library/busybox", &["1.35.0-uclibc"], 5).await;
    for (relay, repo) in [
        ("skopeo", "tagsets-skopeo/digest/busybox"),
        ("docker", "tagsets-docker/digest/busybox"),
    ] {
        let cfg = write_config(
            &src,
            &format!("digest-{relay}.yaml"),
            &format!(
                r#"relay: {relay}
tasks:
- name: test-{relay}-digest
  source: {{registry: "{s}"}}
  target: {{registry: "{d}", skip-tls-verify: true}}
  mappings:
  - from: library/busybox
    to: {repo}
    tags:
    - '{musl}' # 1.36.0-musl
    - '1.35.0-uclibc@{uclibc}'
    - 'keep: all.+' # make sure digests do not get removed by tag pruning
"#,
                s = src.addr,
                d = dst.addr
            ),
        );
        let (code, out, err) = run(&["sync", "--config", &cfg]);
        assert_eq!(code, 0, "{relay}: {out}{err}");
        let want = match relay {
            "skopeo" => set(&["1.35.0-uclibc"]),
            _ => set(&[
                "1.35.0-uclibc",
                &format!("dregsy-{}", musl.trim_start_matches("sha256:")),
            ]),
        };
        assert_eq!(tags(&c, &dst, repo).await, want, "{relay}");
        for d in [&musl, &uclibc] {
            let r: Reference = format!("{}/{repo}@{d}", dst.addr).parse().unwrap();
            assert_eq!(c.digest(&r).await.unwrap().to_string(), *d, "{relay}");
        }
    }
    assert!(
        !src.log_text().contains("/tags/list"),
        "a tag set of verbatim entries lists nothing"
    );
}

/// TestE2ESkopeo (`main_test.go:235-238`, `base/skopeo.yaml`): a literal `from` with a literal
/// `to` lands at exactly `to` (M1); `interval: 30` runs at once, then waits until SIGTERM,
/// which ends it with status 0. TestE2EOneoff (`base/oneoff.yaml`) and a mapping without `to`
/// (M2, README) run once and exit by themselves.
#[tokio::test]
async fn base_periodic_task_until_sigterm_and_one_offs() {
    let (src, dst) = (Registry::start(), Registry::start());
    let c = client();
    seed(
        &c,
        &src,
        "library/busybox",
        &["1.29.1", "1.29.2", "1.29.3", "latest", "musl"],
        6,
    )
    .await;
    seed(&c, &src, "test/another-image", &["0.1"], 7).await;
    let cfg = write_config(
        &src,
        "base.yaml",
        &format!(
            r#"relay: skopeo
tasks:
- name: test-skopeo
  interval: 30
  verbose: true
  source: {{registry: "{s}"}}
  target: {{registry: "{d}", skip-tls-verify: true}}
  mappings:
  - from: library/busybox
    to: base-skopeo/library/busybox
    tags: ['1.29.2', '1.29.3', 'latest']
"#,
            s = src.addr,
            d = dst.addr
        ),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_irel"))
        .args(["sync", "--config", &cfg])
        .env("DOCKER_CONFIG", "/nonexistent-irel-test-docker-config")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while tags(&c, &dst, "base-skopeo/library/busybox").await.len() < 3 {
        assert!(Instant::now() < deadline, "the first run did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The run writes its tags last; give it a moment to report and go idle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "a periodic task keeps irel running"
    );
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        tags(&c, &dst, "base-skopeo/library/busybox").await,
        set(&["1.29.2", "1.29.3", "latest"])
    );

    let cfg = write_config(
        &src,
        "oneoff.yaml",
        &format!(
            r#"relay: skopeo
tasks:
- name: test-oneoff
  interval: 30
  source: {{registry: "{s}"}}
  target: {{registry: "{d}"}}
  mappings:
  - from: library/busybox
    to: base-docker/oneoff/busybox
    tags: ['latest']
  - from: test/another-image
"#,
            s = src.addr,
            d = dst.addr
        ),
    );
    let (code, out, err) = run(&["sync", "--config", &cfg, "--once"]);
    assert_eq!(code, 0, "--once ends after the first round: {out}{err}");
    assert_eq!(tags(&c, &dst, "base-docker/oneoff/busybox").await, set(&["latest"]));
    assert_eq!(
        tags(&c, &dst, "test/another-image").await,
        set(&["0.1"]),
        "no `to` keeps the path"
    );
}

/// The mapping cases (`main_test.go:311-348`, `mapping/skopeo-{dockerhub,local,dh-search,ecr}.yaml`;
/// `doc/design-image-matching.md`): regex `from` over the catalog (decoys not matched), a
/// literal `to` in front of the matched path, `regex:EXPR,REPL` rewriting it (with `$1`), no
/// `tags` meaning all tags, and a second task reading the first one's result.
#[tokio::test]
async fn mappings_over_the_catalog() {
    let (src, dst) = (Registry::start(), Registry::start());
    let c = client();
    for repo in [
        "xelalex/dregsy-dummy-public",
        "xelalex/dregsy-dummy-private",
        "xelalex/other",
    ] {
        seed(&c, &src, repo, &["latest"], 8).await;
    }
    for repo in ["jenkins/jnlp-slave", "jenkins/jnlp-agent", "jenkins/jenkins"] {
        seed(&c, &src, repo, &["latest"], 9).await;
    }
    for repo in ["kubika/brucket", "kubika/brucket-shell", "kubika/other"] {
        seed(&c, &src, repo, &["v0.0.1"], 10).await;
    }
    seed(&c, &src, "myproject/webui", &["1.0"], 11).await;
    let cfg = write_config(
        &src,
        "mapping.yaml",
        &format!(
            r#"relay: skopeo
lister:
  maxItems: -1
  cacheDuration: -1
tasks:
- name: test-dockerhub
  source: {{registry: "{s}", lister: {{type: catalog}}}}
  target: {{registry: "{d}", skip-tls-verify: true}}
  mappings:
  - from: regex:xelalex/dregsy-dummy-.*
    to: mapping-skopeo/dh
    tags: ["latest"]
- name: test-local # depends on results of the task above
  source: {{registry: "{d}", skip-tls-verify: true}}
  target: {{registry: "{d}", skip-tls-verify: true}}
  mappings:
  - from: regex:mapping-skopeo/dh/xelalex/dregsy-dummy.*
    to: regex:mapping-skopeo/dh/,mapping-skopeo/dh-copy/
- name: test-dh-search
  source: {{registry: "{s}"}}
  target: {{registry: "{d}"}}
  mappings:
  - from: regex:jenkins/jnlp-s.*
    to: regex:jenkins/,mapping-skopeo/dh/other-jenkins/
- name: test-ecr
  source: {{registry: "{s}"}}
  target: {{registry: "{d}"}}
  mappings:
  - from: regex:kubika/brucket.*
    to: mapping-skopeo/ecr
- name: design-doc
  source: {{registry: "{s}"}}
  target: {{registry: "{d}"}}
  mappings:
  - from: regex:myproject/.*
    to: ecr
  - from: myproject/webui
    to: regex:my(.+)/,from-dh/your$1/
"#,
            s = src.addr,
            d = dst.addr
        ),
    );
    let (code, out, err) = run(&["sync", "--config", &cfg]);
    assert_eq!(code, 0, "{out}{err}");
    let expected: &[(&str, &[&str])] = &[
        ("mapping-skopeo/dh/xelalex/dregsy-dummy-public", &["latest"]),
        ("mapping-skopeo/dh/xelalex/dregsy-dummy-private", &["latest"]),
        ("mapping-skopeo/dh-copy/xelalex/dregsy-dummy-public", &["latest"]),
        ("mapping-skopeo/dh-copy/xelalex/dregsy-dummy-private", &["latest"]),
        ("mapping-skopeo/dh/other-jenkins/jnlp-slave", &["latest"]),
        ("mapping-skopeo/ecr/kubika/brucket", &["v0.0.1"]),
        ("mapping-skopeo/ecr/kubika/brucket-shell", &["v0.0.1"]),
        ("ecr/myproject/webui", &["1.0"]),
        ("from-dh/yourproject/webui", &["1.0"]),
    ];
    for (repo, want) in expected {
        assert_eq!(tags(&c, &dst, repo).await, set(want), "{repo}");
    }
    let all: BTreeSet<String> = c
        .registry()
        .catalog(&dst.addr, None)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let want: BTreeSet<String> = expected.iter().map(|(r, _)| r.to_string()).collect();
    assert_eq!(all, want, "decoys are not copied");
}

/// dregsy's catalog lister reads pages of 100 and stops once it has more than `maxItems`
/// (`registry/catalog.go`): a soft limit, never a cut; 100 read of "at most 100" goes on.
#[tokio::test]
async fn max_items_is_a_soft_limit_in_pages_of_100() {
    let src = Registry::start();
    let c = client();
    let layout = src.scratch().join("l");
    let fx = make_layout(&layout, "t", &[256], &["amd64"], 12);
    let open = OciLayout::open(&layout).unwrap();
    for i in 0..105 {
        let r: Reference = format!("{}/app/r{i:03}:1", src.addr).parse().unwrap();
        c.push_from_layout(&open, &fx.digest.parse().unwrap(), &r, &CopyOptions::default())
            .await
            .unwrap();
    }
    for (max_items, planned) in [("5", 100), ("99", 100), ("100", 105), ("-1", 105)] {
        let cfg = write_config(
            &src,
            &format!("max-{max_items}.yaml"),
            &format!(
                "relay: skopeo\nlister: {{maxItems: {max_items}}}\ntasks:\n- name: all\n  source: {{registry: \"{s}\"}}\n  target: {{registry: \"127.0.0.1:9\"}}\n  mappings:\n  - from: regex:app/.*\n",
                s = src.addr
            ),
        );
        let (code, out, err) = run(&["sync", "--config", &cfg, "--dry-run"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains(&format!("sync (dry run): task 'all': {planned} images")),
            "maxItems {max_items}: {out}"
        );
    }
}

/// Multi-platform sources (`main_test.go:241-250`, `base/skopeo-platform{,-all}.yaml`; the default
/// from the README and the skopeo relay): `os/arch[/variant]` copies that platform's image as
/// a single manifest, `all` the whole index, none this machine's platform.
#[tokio::test]
async fn platforms() {
    let (src, dst) = (Registry::start(), Registry::start());
    let c = client();
    let platforms = [
        ("amd64", None),
        ("386", None),
        ("mips64le", None),
        ("ppc64le", None),
        ("arm", Some("v5")),
        ("arm", Some("v6")),
        ("arm", Some("v7")),
        ("arm64", Some("v8")),
    ];
    let (index, children) = multi_platform_layout(&src.scratch().join("multi"), &platforms);
    let open = OciLayout::open(src.scratch().join("multi")).unwrap();
    let latest: Reference = format!("{}/library/busybox:latest", src.addr).parse().unwrap();
    c.push_from_layout(&open, &index.parse().unwrap(), &latest, &CopyOptions::default())
        .await
        .unwrap();
    let cfg = write_config(
        &src,
        "platform.yaml",
        &format!(
            r#"relay: skopeo
tasks:
- name: test-platform
  source: {{registry: "{s}"}}
  target: {{registry: "{d}"}}
  mappings:
  - from: library/busybox
    to: base-skopeo/library/busybox-arm64
    tags: ['latest']
    platform: linux/arm64/v8
  - from: library/busybox
    to: base-skopeo/library/busybox-amd64
    tags: ['latest']
    platform: linux/amd64
  - from: library/busybox
    to: base-skopeo/library/busybox-all
    tags: ['latest']
    platform: all
  - from: library/busybox
    to: base-skopeo/library/busybox-host
    tags: ['latest']
"#,
            s = src.addr,
            d = dst.addr
        ),
    );
    let (code, out, err) = run(&["sync", "--config", &cfg]);
    assert_eq!(code, 0, "{out}{err}");
    let digest_of = |repo: &str| {
        let r: Reference = format!("{}/base-skopeo/library/{repo}:latest", dst.addr)
            .parse()
            .unwrap();
        let c = c.clone();
        async move { c.digest(&r).await.unwrap().to_string() }
    };
    let child = |arch: &str| children.iter().find(|(a, _)| a == arch).unwrap().1.clone();
    assert_eq!(digest_of("busybox-arm64").await, child("arm64/v8"));
    assert_eq!(digest_of("busybox-amd64").await, child("amd64"));
    assert_eq!(digest_of("busybox-all").await, index, "the whole index");
    let host = irel::sync::tasks::host_platform().architecture;
    let host_child = children
        .iter()
        .find(|(a, _)| a.split('/').next() == Some(host.as_str()));
    if let Some((_, d)) = host_child {
        assert_eq!(digest_of("busybox-host").await, *d, "no platform: this machine's image");
    }
    // `platform: all` with dregsy's docker relay is refused, before anything is copied.
    let cfg = write_config(
        &src,
        "docker-all.yaml",
        &format!(
            "relay: docker\ntasks:\n- name: t\n  source: {{registry: \"{s}\"}}\n  target: {{registry: \"{d}\"}}\n  mappings:\n  - from: library/busybox\n    to: docker/all\n    platform: all\n",
            s = src.addr,
            d = dst.addr
        ),
    );
    let (code, _, err) = run(&["sync", "--config", &cfg]);
    assert_eq!(code, 1);
    assert!(
        err.contains("relay 'docker' does not support mappings with 'platform: all'"),
        "{err}"
    );
}

/// An OCI layout holding an index over `platforms` (linux), tiny images. Returns the index
/// digest and each child's `arch[/variant]` and digest.
fn multi_platform_layout(dir: &Path, platforms: &[(&str, Option<&str>)]) -> (String, Vec<(String, String)>) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let put = |data: &[u8]| {
        let d = irel::Digest::sha256_of(data);
        std::fs::write(dir.join("blobs/sha256").join(d.encoded()), data).unwrap();
        (d.to_string(), data.len())
    };
    let mut descs = Vec::new();
    let mut children = Vec::new();
    for (arch, variant) in platforms {
        let layer = format!("layer for {arch} {variant:?}").into_bytes();
        let (ld, ls) = put(&layer);
        let mut platform = serde_json::json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            platform["variant"] = serde_json::json!(v);
        }
        let mut config = platform.clone();
        config["rootfs"] = serde_json::json!({"type": "layers", "diff_ids": [ld]});
        let (cd, cs) = put(&serde_json::to_vec(&config).unwrap());
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}]
        }))
        .unwrap();
        let (md, ms) = put(&manifest);
        descs.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms, "platform": platform
        }));
        let name = match variant {
            Some(v) => format!("{arch}/{v}"),
            None => arch.to_string(),
        };
        children.push((name, md));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descs
    }))
    .unwrap();
    let (id, is) = put(&index);
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": id, "size": is,
            "annotations": {"org.opencontainers.image.ref.name": "latest"}
        }]}))
        .unwrap(),
    )
    .unwrap();
    (id, children)
}

/// One failing task does not stop the next; the exit status says a task failed and the
/// message names it (`sync.go:211-221`); `--run` selects tasks as dregsy's `-run` does.
#[tokio::test]
async fn a_failing_task_does_not_stop_the_others() {
    let (src, dst) = (Registry::start(), Registry::start());
    let c = client();
    seed(&c, &src, "library/busybox", &["latest"], 13).await;
    let cfg = write_config(
        &src,
        "fail.yaml",
        &format!(
            "relay: skopeo\ntasks:\n- name: broken\n  source: {{registry: \"{s}\"}}\n  target: {{registry: \"{d}\"}}\n  mappings:\n  - from: library/nothing-here\n- name: fine\n  source: {{registry: \"{s}\"}}\n  target: {{registry: \"{d}\"}}\n  mappings:\n  - from: library/busybox\n",
            s = src.addr,
            d = dst.addr
        ),
    );
    let (code, out, err) = run(&["sync", "--config", &cfg]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("task 'broken'") && err.contains("1 of 2 tasks had errors: broken"),
        "{err}"
    );
    assert_eq!(tags(&c, &dst, "library/busybox").await, set(&["latest"]));
    // dregsy's -run: only the tasks whose name matches run (anchored; ! inverts).
    for filter in ["fine", "!bro.*"] {
        let (code, out, err) = run(&["sync", "--config", &cfg, "--run", filter]);
        assert_eq!(code, 0, "{filter}: {out}{err}");
        assert!(
            out.contains("sync task 'fine'") && !err.contains("broken"),
            "{filter}: {out}{err}"
        );
    }
}

/// `auth` as dregsy documents it (base64 JSON), `auth: none`, and per-side credentials on one
/// registry (the e2e `base/skopeo-*-noauth.yaml` anonymous sources, adapted).
#[tokio::test]
async fn auth_json_none_and_the_user_password_form() {
    let private = Registry::with_basic_auth("alex", "s3cret");
    let open = Registry::start();
    let c = client();
    seed(&c, &open, "pause", &["3.2"], 14).await;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let auth = b64(r#"{"username": "alex", "password": "s3cret"}"#);
    let cfg = write_config(
        &open,
        "auth.yaml",
        &format!(
            "relay: skopeo\ntasks:\n- name: noauth\n  source: {{registry: \"{o}\", auth: none}}\n  target: {{registry: \"{p}\", auth: {auth}}}\n  mappings:\n  - from: pause\n    to: base-skopeo/gcr-noauth/pause\n    tags: ['3.2']\n- name: back\n  source: {{registry: \"{p}\", auth: {auth}}}\n  target: {{registry: \"{o}\", auth: none}}\n  mappings:\n  - from: base-skopeo/gcr-noauth/pause\n    to: copied/pause\n",
            o = open.addr,
            p = private.addr
        ),
    );
    let (code, out, err) = run(&["sync", "--config", &cfg]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(tags(&c, &open, "copied/pause").await, set(&["3.2"]));

    // dregsy accepts base64 of user:password, then copies anonymously: refused here.
    let plain = b64("alex:s3cret");
    let cfg = write_config(
        &open,
        "auth-plain.yaml",
        &format!(
            "tasks:\n- name: plain\n  source: {{registry: \"{o}\"}}\n  target: {{registry: \"{p}\", auth: {plain}}}\n  mappings:\n  - from: pause\n",
            o = open.addr,
            p = private.addr
        ),
    );
    let (code, _, err) = run(&["sync", "--config", &cfg]);
    assert_eq!(code, 1);
    assert!(
        err.contains("target registry in task 'plain' invalid: invalid Auth"),
        "{err}"
    );
    assert!(!err.contains("s3cret") && !err.contains(&plain), "{err}");
}

/// The skopeo relay's `certs-dir`: `DIR/HOST` (no port) holds the registry's CA certificate.
#[tokio::test]
async fn skopeo_certs_dir_per_registry() {
    let pki = Pki::generate();
    let tls = Registry::start_with(RegistryConfig {
        tls: Some(pki.server()),
        ..Default::default()
    });
    let src = Registry::start();
    let c = client();
    seed(&c, &src, "app", &["1"], 15).await;
    let certs = src.scratch().join("certs");
    std::fs::create_dir_all(certs.join("127.0.0.1")).unwrap();
    std::fs::copy(pki.ca(), certs.join("127.0.0.1/ca.crt")).unwrap();
    let config = |dir: &str| {
        format!(
            "relay: skopeo\nskopeo: {{binary: /usr/bin/skopeo, certs-dir: {dir}}}\ntasks:\n- name: tls\n  source: {{registry: \"{s}\"}}\n  target: {{registry: \"{t}\"}}\n  mappings:\n  - from: app\n",
            s = src.addr,
            t = tls.addr
        )
    };
    let cfg = write_config(&src, "nocerts.yaml", &config("/nonexistent"));
    let (code, _, err) = run(&["sync", "--config", &cfg]);
    assert_eq!(code, 1, "without the CA the registry is not trusted: {err}");
    let cfg = write_config(&src, "certs.yaml", &config(certs.to_str().unwrap()));
    let (code, out, err) = run(&["sync", "--config", &cfg]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("note: skopeo.binary"),
        "binary is ignored with a note: {err}"
    );
    let r: Reference = format!("{}/app:1", tls.addr).parse().unwrap();
    let trusting = Client::builder()
        .ca_certificate_file(pki.ca())
        .unwrap()
        .build()
        .unwrap();
    assert!(trusting.digest(&r).await.is_ok());
}

/// dregsy's `config_test.go` cases, and irel's refusals, stop the run before anything is
/// copied, naming the field and the task; an unknown key (a typo) is refused.
#[tokio::test]
async fn refused_configs_copy_nothing() {
    let (src, dst) = (Registry::start(), Registry::start());
    let c = client();
    seed(&c, &src, "app", &["1"], 16).await;
    let good = format!(
        "- name: good\n  source: {{registry: \"{s}\"}}\n  target: {{registry: \"{d}\"}}\n  mappings:\n  - from: app\n",
        s = src.addr,
        d = dst.addr
    );
    let cases: Vec<(String, &str)> = vec![
        (format!("relay: splunge\ntasks:\n{good}"), "invalid relay type"),
        (
            format!("relay: skopeo\ndockerhost: unix:///var/run/docker.sock\napi-version: 1.24\ntasks:\n{good}"),
            "setting 'dockerhost' implies 'docker' relay",
        ),
        (format!("tasks:\n{good}- interval: 60\n"), "a task requires a name"),
        (format!("tasks:\n{good}- name: test\n  interval: 1\n"), "minimum task interval is 30 seconds"),
        (
            format!("tasks:\n{good}- name: test\n  interval: -10\n"),
            "task interval needs to be 0 or a positive integer",
        ),
        (
            format!("tasks:\n{good}- name: test\n  interval: 60\n  source:\n"),
            "source registry in task 'test' invalid: location is nil",
        ),
        (
            format!("tasks:\n{good}- name: test\n  source: {{registry: a.example}}\n"),
            "target registry in task 'test' invalid: location is nil",
        ),
        (
            format!("tasks:\n{good}- name: test\n  source:\n    registry:\n"),
            "source registry in task 'test' invalid: registry not set",
        ),
        (
            format!("tasks:\n{good}- name: test\n  source: {{registry: registry.hub.docker.com, auth-refresh: 10h}}\n"),
            "is not an ECR registry",
        ),
        (
            format!("tasks:\n{good}- name: test\n  source: {{registry: a.example}}\n  target: {{registry: b.example}}\n  mappings:\n  - from:\n"),
            "mapping without 'From' path",
        ),
        (
            format!("tasks:\n{good}- name: typo\n  intervall: 60\n"),
            "unknown field `intervall`",
        ),
        (
            format!("tasks:\n{good}- name: hub\n  source: {{registry: a.example, lister: {{type: dockerhub}}}}\n  target: {{registry: b.example}}\n"),
            "task 'hub': source.lister.type: the 'dockerhub' lister is not supported",
        ),
        (
            format!("tasks:\n{good}- name: ecr\n  source: {{registry: 123456789012.dkr.ecr.eu-west-1.amazonaws.com}}\n  target: {{registry: b.example}}\n"),
            "task 'ecr': source.registry:",
        ),
        (
            format!("tasks:\n{good}- name: gcr\n  source: {{registry: gcr.io}}\n  target: {{registry: b.example}}\n"),
            "task 'gcr': source.auth:",
        ),
        (
            format!("tasks:\n{good}- name: sv\n  source: {{registry: a.example}}\n  target: {{registry: b.example}}\n  mappings:\n  - from: x\n    tags: ['semver: >=1.31']\n"),
            "'tags' uses invalid format: Could not parse Range \">=1.31\"",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let cfg = write_config(&src, &format!("bad-{i}.yaml"), text);
        let (code, out, err) = run(&["sync", "--config", &cfg]);
        assert_eq!(code, 1, "{want}: {out}{err}");
        assert!(err.contains(want), "{want}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    assert!(
        !dst.log_text().contains("PUT /v2/"),
        "nothing is copied when the file is refused"
    );
}

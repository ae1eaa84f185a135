//! skopeo sync's own cases, run with `irel` in place of `skopeo`.
//!
//! Ported from containers/skopeo@b71619af4512a2c77dd160576492d4ebbc0b63ea:
//! `integration/sync_test.go` (test names kept in each test's comment) and the examples of
//! `docs/skopeo-sync.1.md`, plus `systemtest/080-sync.bats` (dry run). The peer's tests pull
//! from registry.k8s.io and quay.io; here a local "upstream" registry is seeded with synthetic
//! images under the same names and tags (`coredns/coredns`, `pause`, `k8s-dns-kube-dns`,
//! `quay/busybox`), and `localhost:5555` is a second local registry. Expected results are the
//! peer's; where the installed skopeo (1.9.3) can run the same line, its destination tree is
//! compared file by file with irel's.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use crate::support::{irel, make_layout, ok_stdout, skopeo, skopeo_digest, skopeo_push, Registry};

const KIB: usize = 1024;

/// Pushes a distinct synthetic image for each `repo:tag` (`arches` > 1: an index); returns
/// the digests by `repo:tag`.
fn seed(reg: &Registry, images: &[(&str, &[&str], &[&str])], seed: u64) -> BTreeMap<String, String> {
    let mut digests = BTreeMap::new();
    let mut n = seed;
    for (repo, tags, arches) in images {
        for tag in *tags {
            n += 1;
            let layout = reg.scratch().join(format!("seed-{n}"));
            let f = make_layout(&layout, "t", &[KIB + n as usize], arches, n);
            skopeo_push(&layout, "t", &format!("{}/{repo}:{tag}", reg.addr), &[]);
            digests.insert(format!("{repo}:{tag}"), f.digest);
        }
    }
    digests
}

/// The upstream of the peer's tests: coredns (v1.8.0 a manifest list), pause, kube-dns.
fn upstream() -> (Registry, BTreeMap<String, String>) {
    let reg = Registry::start();
    let d = seed(
        &reg,
        &[
            ("coredns/coredns", &["v1.6.6", "v1.7.1"], &["amd64"]),
            ("coredns/coredns", &["v1.8.0"], &["amd64", "arm64"]),
            ("pause", &["1.0", "2.0", "3.1", "latest"], &["amd64"]),
            ("k8s-dns-kube-dns", &["1.14.12", "1.14.13", "1.14.14"], &["amd64"]),
        ],
        100,
    );
    (reg, d)
}

/// Every file under `root`: relative path → sha256 of its content.
fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, irel::Digest::sha256_of(&std::fs::read(&p).unwrap()).to_string());
            }
        }
    }
    out
}

/// The image directories (those with a manifest.json) under `root`, relative.
fn image_dirs(root: &Path) -> Vec<String> {
    tree(root)
        .keys()
        .filter_map(|k| k.strip_suffix("/manifest.json").map(str::to_string))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_lowercase()
}

fn run(tool: fn(&[&str]) -> Output, args: &[&str]) -> Output {
    let mut all = vec!["sync"];
    all.extend_from_slice(args);
    tool(&all)
}

/// Runs the same sync line with irel and skopeo into two fresh directories (`DEST` in `args`
/// is replaced); both must succeed, and their trees must be equal. Returns irel's directory.
fn same_tree_as_skopeo(args: &[&str]) -> tempfile::TempDir {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let with = |dir: &Path| -> Vec<String> {
        args.iter()
            .map(|x| {
                if *x == "DEST" {
                    dir.to_str().unwrap().to_string()
                } else {
                    x.to_string()
                }
            })
            .collect()
    };
    let irel_args = with(a.path());
    let skopeo_args = with(b.path());
    ok_stdout(&run(irel, &irel_args.iter().map(String::as_str).collect::<Vec<_>>()));
    let out = run(skopeo, &skopeo_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "skopeo: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        tree(a.path()),
        tree(b.path()),
        "irel's tree differs from skopeo's for {args:?}"
    );
    a
}

#[test]
fn docker_to_dir_tagged_scoped_and_unscoped_as_skopeo() {
    // TestDocker2DirTagged, TestScoped, TestDocker2DirTaggedAll.
    let (up, d) = upstream();
    let img = format!("{}/coredns/coredns:v1.6.6", up.addr);
    let scoped = same_tree_as_skopeo(&[
        "--scoped",
        "--src",
        "docker",
        "--dest",
        "dir",
        "--src-tls-verify=false",
        &img,
        "DEST",
    ]);
    let want = format!("{}/coredns/coredns:v1.6.6", up.addr);
    assert_eq!(image_dirs(scoped.path()), std::slice::from_ref(&want));
    // The same bytes as skopeo copy writes.
    let copied = tempfile::tempdir().unwrap();
    let out = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{img}"),
        &format!("dir:{}", copied.path().display()),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(tree(&scoped.path().join(&want)), tree(copied.path()));

    let unscoped = same_tree_as_skopeo(&[
        "--src",
        "docker",
        "--dest",
        "dir",
        "--src-tls-verify=false",
        &img,
        "DEST",
    ]);
    assert_eq!(image_dirs(unscoped.path()), ["coredns:v1.6.6"]);

    // --all on the manifest list: every instance, as skopeo copy --all.
    let list = format!("{}/coredns/coredns:v1.8.0", up.addr);
    let all = same_tree_as_skopeo(&[
        "--all",
        "--scoped",
        "--src",
        "docker",
        "--dest",
        "dir",
        "--src-tls-verify=false",
        &list,
        "DEST",
    ]);
    let dir = all.path().join(format!("{}/coredns/coredns:v1.8.0", up.addr));
    let manifest = std::fs::read(dir.join("manifest.json")).unwrap();
    assert_eq!(
        irel::Digest::sha256_of(&manifest).to_string(),
        d["coredns/coredns:v1.8.0"]
    );
    let instances = tree(&dir).keys().filter(|k| k.ends_with(".manifest.json")).count();
    assert_eq!(instances, 2);
}

#[test]
fn docker_to_dir_untagged_syncs_every_tag() {
    // TestDocker2DirUntagged: as many manifests as the repository has tags.
    let (up, _) = upstream();
    let repo = format!("{}/coredns/coredns", up.addr);
    let dir = same_tree_as_skopeo(&[
        "--all",
        "--scoped",
        "--src",
        "docker",
        "--dest",
        "dir",
        "--src-tls-verify=false",
        &repo,
        "DEST",
    ]);
    let mut dirs = image_dirs(dir.path());
    dirs.sort();
    let want: Vec<String> = ["v1.6.6", "v1.7.1", "v1.8.0"]
        .iter()
        .map(|t| format!("{}/coredns/coredns:{t}", up.addr))
        .collect();
    assert_eq!(dirs, want);
}

#[test]
fn an_image_directory_is_never_overwritten() {
    // TestDirIsNotOverwritten.
    let (up, _) = upstream();
    let local = Registry::start();
    let out = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{}/pause:latest", up.addr),
        &format!("docker://{}/pause:latest", local.addr),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for tool in [irel as fn(&[&str]) -> Output, skopeo] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let up_pause = format!("{}/pause", up.addr);
        let local_pause = format!("{}/pause", local.addr);
        let flags = ["--src", "docker", "--dest", "dir", "--src-tls-verify=false"];
        let first = run(tool, &[&flags[..], &[&up_pause, d]].concat());
        assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
        let again = run(tool, &[&flags[..], &[&local_pause, d]].concat());
        assert!(
            !again.status.success(),
            "{:?}: {}",
            std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect::<Vec<_>>(),
            String::from_utf8_lossy(&again.stdout)
        );
        assert!(
            stderr(&again).contains("refusing to overwrite destination directory"),
            "{}",
            stderr(&again)
        );
        assert!(stderr(&again).contains("pause:latest"), "the error names the directory");
        let scoped = run(tool, &[&flags[..], &["--scoped", &local_pause, d]].concat());
        assert!(scoped.status.success(), "{}", String::from_utf8_lossy(&scoped.stderr));
        assert!(dir
            .path()
            .join(format!("{}/pause:latest/manifest.json", local.addr))
            .is_file());
    }
}

#[test]
fn yaml_untagged_into_a_registry_then_into_a_directory() {
    // TestYamlUntagged. The peer's upstream has no port; ours has, and a scoped name with a
    // port is no valid reference at a registry destination: skopeo refuses it, irel writes
    // the port with '-'.
    let (up, _) = upstream();
    let local = Registry::start();
    let yaml = local.scratch().join("one.yml");
    std::fs::write(
        &yaml,
        format!(
            "{}:\n  tls-verify: false\n  images:\n    coredns/coredns: []\n",
            up.addr
        ),
    )
    .unwrap();
    let y = yaml.to_str().unwrap();
    ok_stdout(&irel(&[
        "sync",
        "--scoped",
        "--src",
        "yaml",
        "--dest",
        "docker",
        "--dest-tls-verify=false",
        y,
        &local.addr,
    ]));
    let scope = format!("127.0.0.1-{}", up.port);
    let tags = ok_stdout(&irel(&["tags", &format!("{}/{scope}/coredns/coredns", local.addr)]));
    assert_eq!(tags.lines().count(), 3, "{tags}");
    let out = skopeo(&[
        "sync",
        "--scoped",
        "--src",
        "yaml",
        "--dest",
        "docker",
        "--dest-tls-verify=false",
        y,
        &local.addr,
    ]);
    assert!(
        !out.status.success(),
        "skopeo refuses a port in a scoped destination name"
    );

    let yaml2 = local.scratch().join("two.yml");
    std::fs::write(
        &yaml2,
        format!(
            "{}:\n  tls-verify: false\n  images:\n    {scope}/coredns/coredns: []\n",
            local.addr
        ),
    )
    .unwrap();
    let dir = same_tree_as_skopeo(&[
        "--all",
        "--scoped",
        "--src",
        "yaml",
        "--dest",
        "dir",
        yaml2.to_str().unwrap(),
        "DEST",
    ]);
    assert_eq!(image_dirs(dir.path()).len(), 3);
}

#[test]
fn yaml_tag_regex_is_unanchored_and_digests_name_images() {
    // TestYamlRegex2Dir, TestYamlDigest2Dir.
    let (up, d) = upstream();
    let yaml = up.scratch().join("regex.yml");
    std::fs::write(
        &yaml,
        format!(
            "{}:\n  tls-verify: false\n  images-by-tag-regex:\n    pause: ^[12]\\.0$\n",
            up.addr
        ),
    )
    .unwrap();
    let dir = same_tree_as_skopeo(&["--src", "yaml", "--dest", "dir", yaml.to_str().unwrap(), "DEST"]);
    assert_eq!(image_dirs(dir.path()), ["pause:1.0", "pause:2.0"]);

    // Go's MatchString: a match anywhere in the tag.
    std::fs::write(
        &yaml,
        format!(
            "{}:\n  tls-verify: false\n  images-by-tag-regex:\n    pause: \"1\"\n",
            up.addr
        ),
    )
    .unwrap();
    let dir = same_tree_as_skopeo(&["--src", "yaml", "--dest", "dir", yaml.to_str().unwrap(), "DEST"]);
    assert_eq!(image_dirs(dir.path()), ["pause:1.0", "pause:3.1"]);

    let digest = &d["pause:2.0"];
    let yaml = up.scratch().join("digest.yml");
    std::fs::write(
        &yaml,
        format!(
            "{}:\n  tls-verify: false\n  images:\n    pause:\n      - \"{digest}\"\n",
            up.addr
        ),
    )
    .unwrap();
    let dir = same_tree_as_skopeo(&["--src", "yaml", "--dest", "dir", yaml.to_str().unwrap(), "DEST"]);
    assert_eq!(image_dirs(dir.path()), [format!("pause@{digest}")]);

    // By digest into a registry: pushed untagged, by its digest.
    let local = Registry::start();
    ok_stdout(&irel(&[
        "sync",
        "--src",
        "yaml",
        "--dest",
        "docker",
        yaml.to_str().unwrap(),
        &local.addr,
    ]));
    assert_eq!(&skopeo_digest(&format!("{}/pause@{digest}", local.addr), &[]), digest);
}

#[test]
fn yaml_with_two_registries_to_dir() {
    // TestYaml2Dir: 6 images from two registries.
    let (up, _) = upstream();
    let quay = Registry::start();
    seed(&quay, &[("quay/busybox", &["latest", "musl"], &["amd64"])], 300);
    let yaml = up.scratch().join("two.yml");
    std::fs::write(
        &yaml,
        format!(
            "{u}:\n  tls-verify: false\n  images:\n    coredns/coredns: [v1.8.0, v1.7.1]\n    k8s-dns-kube-dns: [1.14.12, 1.14.13]\n    pause: [latest]\n{q}:\n  tls-verify: false\n  images:\n    quay/busybox: [latest]\n",
            u = up.addr,
            q = quay.addr
        ),
    )
    .unwrap();
    let dir = same_tree_as_skopeo(&[
        "--all",
        "--src",
        "yaml",
        "--dest",
        "dir",
        yaml.to_str().unwrap(),
        "DEST",
    ]);
    assert_eq!(image_dirs(dir.path()).len(), 6);
}

#[test]
fn yaml_tls_verify_per_registry() {
    // TestYamlTLSVerify against a plain-http registry, without TLS flags on the command line.
    let (up, _) = upstream();
    let write = |tls: &str| {
        let yaml = up.scratch().join(format!("tls-{}.yml", tls.len()));
        std::fs::write(&yaml, format!("{}:\n{tls}  images:\n    pause: [latest]\n", up.addr)).unwrap();
        yaml
    };
    let dest = |tool: fn(&[&str]) -> Output, yaml: &Path| {
        let dir = tempfile::tempdir().unwrap();
        let out = run(
            tool,
            &[
                "--src",
                "yaml",
                "--dest",
                "dir",
                yaml.to_str().unwrap(),
                dir.path().to_str().unwrap(),
            ],
        );
        (out, dir)
    };
    for tool in [irel as fn(&[&str]) -> Output, skopeo] {
        let (out, _d) = dest(tool, &write("  tls-verify: false\n"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (out, _d) = dest(tool, &write("  tls-verify: true\n"));
        assert!(!out.status.success());
        // skopeo logs the failed repository and goes on to "no images"; both name the cause.
        let text = stderr(&out) + &String::from_utf8_lossy(&out.stdout).to_lowercase();
        assert!(text.contains("server gave http response to https client"), "{text}");
    }
    // Absent: skopeo verifies TLS and fails; irel keeps its default for a loopback host
    // (https first, then plain http), a documented difference.
    let (out, _d) = dest(skopeo, &write(""));
    assert!(!out.status.success());
    let (out, _d) = dest(irel, &write(""));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Absent, the command line applies (skopeo 1.21 and later): --src-tls-verify=true is
    // https only.
    let dir = tempfile::tempdir().unwrap();
    let out = irel(&[
        "sync",
        "--src-tls-verify=true",
        "--src",
        "yaml",
        "--dest",
        "dir",
        write("").to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("server gave http response to https client"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn images_by_semver_skip_prereleases_as_skopeo_does() {
    // Newer skopeo's images-by-semver (Masterminds/semver): docs example `>= 3.12.0`.
    let up = Registry::start();
    let tags: &[&str] = &["3.11.9", "3.12", "3.12.0", "3.12.1-r0", "3.13.1", "4.0.0", "latest"];
    seed(&up, &[("alpine", tags, &["amd64"])], 400);
    let yaml = up.scratch().join("semver.yml");
    std::fs::write(
        &yaml,
        format!(
            "{}:\n  tls-verify: false\n  images-by-semver:\n    alpine: \">= 3.12.0\"\n",
            up.addr
        ),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    ok_stdout(&irel(&[
        "sync",
        "--src",
        "yaml",
        "--dest",
        "dir",
        yaml.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]));
    let mut got = image_dirs(dir.path());
    got.sort();
    assert_eq!(got, ["alpine:3.12", "alpine:3.12.0", "alpine:3.13.1", "alpine:4.0.0"]);
    // A constraint that does not parse is refused before anything is copied.
    std::fs::write(
        &yaml,
        format!("{}:\n  images-by-semver:\n    alpine: \">>3\"\n", up.addr),
    )
    .unwrap();
    let out = irel(&[
        "sync",
        "--src",
        "yaml",
        "--dest",
        "dir",
        yaml.to_str().unwrap(),
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("images-by-semver") && stderr(&out).contains("alpine"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn docker_to_docker_and_dir_to_docker() {
    // TestDocker2DockerTagged, TestDir2DockerTagged.
    let (up, d) = upstream();
    let local = Registry::start();
    let img = format!("{}/coredns/coredns:v1.6.6", up.addr);
    ok_stdout(&irel(&[
        "sync",
        "--scoped",
        "--src",
        "docker",
        "--dest",
        "docker",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &img,
        &local.addr,
    ]));
    let landed = format!("{}/127.0.0.1-{}/coredns/coredns:v1.6.6", local.addr, up.port);
    assert_eq!(skopeo_digest(&landed, &[]), d["coredns/coredns:v1.6.6"]);
    // skopeo cannot name that destination (a port inside a path): the deliberate difference.
    let out = skopeo(&[
        "sync",
        "--scoped",
        "--src",
        "docker",
        "--dest",
        "docker",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &img,
        &local.addr,
    ]);
    assert!(!out.status.success());

    // A dir tree named without a tag is `latest`; scoped keeps its whole path.
    let tree_root = tempfile::tempdir().unwrap();
    let image = tree_root.path().join("registry.k8s.io/pause");
    std::fs::create_dir_all(&image).unwrap();
    let out = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}/pause:latest", up.addr),
        &format!("dir:{}", image.display()),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let root = tree_root.path().to_str().unwrap();
    for (tool, ns) in [(irel as fn(&[&str]) -> Output, "by-irel"), (skopeo, "by-skopeo")] {
        let dest = format!("{}/{ns}", local.addr);
        // skopeo 1.9 rewrites the manifest on this push unless told to keep digests.
        let out = run(
            tool,
            &[
                "--preserve-digests",
                "--scoped",
                "--src",
                "dir",
                "--dest",
                "docker",
                "--dest-tls-verify=false",
                root,
                &dest,
            ],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            skopeo_digest(&format!("{dest}/registry.k8s.io/pause:latest"), &[]),
            d["pause:latest"],
            "{ns}"
        );
    }
}

#[test]
fn the_docs_examples_name_images_as_skopeo_does() {
    // docs/skopeo-sync.1.md, EXAMPLES: docker→dir unscoped and scoped, dir→docker from one
    // image directory, docker→docker dropping the source's path, --append-suffix.
    let up = Registry::start();
    let d = seed(
        &up,
        &[
            ("busybox", &["1-glibc", "1-musl", "latest"], &["amd64"]),
            ("repo/busybox", &["1", "latest"], &["amd64"]),
        ],
        500,
    );
    let usb = same_tree_as_skopeo(&[
        "--src",
        "docker",
        "--dest",
        "dir",
        "--src-tls-verify=false",
        &format!("{}/busybox", up.addr),
        "DEST",
    ]);
    let mut got = image_dirs(usb.path());
    got.sort();
    assert_eq!(got, ["busybox:1-glibc", "busybox:1-musl", "busybox:latest"]);

    let local = Registry::start();
    for (tool, ns) in [(irel as fn(&[&str]) -> Output, "test"), (skopeo, "test-skopeo")] {
        let src = usb.path().join("busybox:1-glibc");
        let dest = format!("{}/{ns}/", local.addr);
        let out = run(
            tool,
            &[
                "--preserve-digests",
                "--src",
                "dir",
                "--dest",
                "docker",
                "--dest-tls-verify=false",
                src.to_str().unwrap(),
                &dest,
            ],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            skopeo_digest(&format!("{}/{ns}/busybox:1-glibc", local.addr), &[]),
            d["busybox:1-glibc"],
            "{ns}"
        );

        let dest = format!("{}/{ns}-repo", local.addr);
        let src = format!("{}/repo/busybox", up.addr);
        let out = run(
            tool,
            &[
                "--preserve-digests",
                "--src",
                "docker",
                "--dest",
                "docker",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                &src,
                &dest,
            ],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for t in ["1", "latest"] {
            assert_eq!(
                skopeo_digest(&format!("{dest}/busybox:{t}"), &[]),
                d[&format!("repo/busybox:{t}")]
            );
        }
    }

    // --append-suffix (skopeo 1.11+; not in the installed skopeo).
    ok_stdout(&irel(&[
        "sync",
        "--append-suffix",
        "-mirror",
        "--src",
        "docker",
        "--dest",
        "docker",
        &format!("{}/busybox", up.addr),
        &format!("{}/suffixed", local.addr),
    ]));
    let tags = ok_stdout(&irel(&["tags", &format!("{}/suffixed/busybox", local.addr)]));
    let mut tags: Vec<&str> = tags.lines().collect();
    tags.sort();
    assert_eq!(tags, ["1-glibc-mirror", "1-musl-mirror", "latest-mirror"]);
}

#[test]
fn dry_run_plans_and_copies_nothing() {
    // systemtest/080-sync.bats "sync: --dry-run".
    let up = Registry::start();
    seed(&up, &[("libpod/busybox", &["latest"], &["amd64"])], 600);
    let dir = tempfile::tempdir().unwrap();
    let img = format!("{}/libpod/busybox:latest", up.addr);
    let out = ok_stdout(&irel(&[
        "sync",
        "--dry-run",
        "--src",
        "docker",
        "--dest",
        "dir",
        "--scoped",
        &img,
        dir.path().to_str().unwrap(),
    ]));
    assert!(
        out.contains(&format!("docker://{img} -> dir:{}/{img}", dir.path().display())),
        "{out}"
    );
    assert!(out.contains("Would have synced 1 images from 1 sources"), "{out}");
    // skopeo creates the image directory even in a dry run; irel writes nothing.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn failures_as_skopeo_reports_them() {
    // TestSync (argument count), TestFailsWithDir2Dir, TestFailsNoSourceImages,
    // TestFailsWithDockerSourceNoRegistry, TestFailsWithDockerSourceUnauthorized,
    // TestFailsWithDockerSourceNotExisting, TestFailsWithDirSourceNotExisting,
    // TestSyncManifestOutput (--format is refused: irel never converts).
    let local = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let fails = |args: &[&str], code: i32, text: &str| {
        let out = run(irel, args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(text), "{args:?}: {}", stderr(&out));
    };
    let docker_dir = ["--src", "docker", "--dest", "dir"];
    fails(&docker_dir, 2, "exactly two arguments expected");
    fails(&[&docker_dir[..], &["a"]].concat(), 2, "exactly two arguments expected");
    fails(
        &[&docker_dir[..], &["a", "b", "c"]].concat(),
        2,
        "exactly two arguments expected",
    );
    fails(&["--src", "dir", "--dest", "dir", d, d], 2, "sync from 'dir' to 'dir'");
    fails(&["--src", "docker", d, d], 2, "--dest");
    fails(&["--src", "docker", "--dest", "oci", "x", d], 2, "oci");
    fails(
        &["--format", "oci", "--src", "docker", "--dest", "dir", "x", d],
        2,
        "--format",
    );

    let empty = tempfile::tempdir().unwrap();
    fails(
        &[
            "--src",
            "dir",
            "--dest",
            "docker",
            empty.path().to_str().unwrap(),
            &local.addr,
        ],
        1,
        "no images to sync found",
    );
    fails(
        &["--src", "dir", "--dest", "docker", "/nonexistent/irel-dir", &local.addr],
        1,
        "no such file or directory",
    );

    // A server that answers 404 to everything: no registry there (skopeo: "StatusCode: 404";
    // irel names the host it found no registry at).
    let addr = crate::support::serve(|_req| async {
        hyper::Response::builder()
            .status(404)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap()
    });
    for src in [
        format!("127.0.0.1:{}/namespace/imagename", addr.port()),
        format!("127.0.0.1:{}/namespace/imagename:thetag", addr.port()),
    ] {
        fails(
            &[&docker_dir[..], &["--src-tls-verify=false", &src, d]].concat(),
            1,
            &format!("127.0.0.1:{}", addr.port()),
        );
    }

    let private = Registry::with_basic_auth("u", "p");
    for src in [
        format!("{}/private", private.addr),
        format!("{}/private:thetag", private.addr),
    ] {
        fails(&[&docker_dir[..], &[&src, d]].concat(), 1, "401");
    }

    fails(
        &[&docker_dir[..], &[&format!("{}/imagedoesnotexist", local.addr), d]].concat(),
        1,
        "cannot list the tags",
    );
    fails(
        &[
            &docker_dir[..],
            &[&format!("{}/imagedoesnotexist:thetag", local.addr), d],
        ]
        .concat(),
        1,
        "manifest",
    );
}

#[test]
fn keep_going_goes_past_a_broken_image() {
    // skopeo sync --keep-going: without it, the first failure stops the sync.
    let up = Registry::start();
    seed(&up, &[("app", &["a", "b"], &["amd64"])], 700);
    let tree_root = tempfile::tempdir().unwrap();
    let root = tree_root.path().to_str().unwrap();
    ok_stdout(&irel(&[
        "sync",
        "--src",
        "docker",
        "--dest",
        "dir",
        &format!("{}/app", up.addr),
        root,
    ]));
    // Break image a: remove one of its layers.
    let a = tree_root.path().join("app:a");
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(a.join("manifest.json")).unwrap()).unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    std::fs::remove_file(a.join(layer)).unwrap();

    let local = Registry::start();
    let out = irel(&[
        "sync",
        "--jobs",
        "1",
        "--src",
        "dir",
        "--dest",
        "docker",
        root,
        &format!("{}/stop", local.addr),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("stopped at the first failure"),
        "{}",
        stderr(&out)
    );
    assert!(!skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{}/stop/app:b", local.addr)
    ])
    .status
    .success());

    let out = irel(&[
        "sync",
        "--keep-going",
        "--jobs",
        "1",
        "--src",
        "dir",
        "--dest",
        "docker",
        root,
        &format!("{}/go", local.addr),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 copied, 0 skipped, 1 failed"));
    skopeo_digest(&format!("{}/go/app:b", local.addr), &[]);

    // irel's own spelling always goes on.
    let out = irel(&[
        "sync",
        "--jobs",
        "1",
        &format!("dir:{root}"),
        &format!("docker://{}/own", local.addr),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 copied, 0 skipped, 1 failed"));
}

#[test]
fn skopeo_flags_are_honoured_or_refused_by_name() {
    let up = Registry::with_basic_auth("sam", "pw-sam");
    let layout = up.scratch().join("l");
    let f = make_layout(&layout, "t", &[2 * KIB], &["amd64"], 800);
    skopeo_push(
        &layout,
        "t",
        &format!("{}/team/app:1", up.addr),
        &["--dest-creds", "sam:pw-sam"],
    );
    let dir = tempfile::tempdir().unwrap();
    let digests = dir.path().join("digests.txt");
    // skopeo's global flag before the command, --src-username/--src-password, --preserve-digests,
    // --all, --digestfile.
    let out = ok_stdout(&irel(&[
        "--insecure-policy",
        "sync",
        "--all",
        "--preserve-digests",
        "--src-username",
        "sam",
        "--src-password",
        "pw-sam",
        "--digestfile",
        digests.to_str().unwrap(),
        "--src",
        "docker",
        "--dest",
        "dir",
        &format!("{}/team/app", up.addr),
        dir.path().join("t").to_str().unwrap(),
    ]));
    assert!(out.contains("1 copied"), "{out}");
    let line = std::fs::read_to_string(&digests).unwrap();
    assert_eq!(
        line,
        format!("{} dir:{}\n", f.digest, dir.path().join("t/app:1").display())
    );
    for (flag, value) in [
        ("--sign-by", "x"),
        ("--retry-delay", "1s"),
        ("--dest-compress-format", "zstd"),
    ] {
        let out = irel(&["sync", flag, value, "--src", "docker", "--dest", "dir", "a/b", "/tmp/x"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(flag),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = irel(&[
        "--override-arch",
        "arm64",
        "sync",
        "--src",
        "docker",
        "--dest",
        "dir",
        "a/b",
        "/tmp/x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--override-arch"));
    let out = irel(&[
        "sync",
        "--src-username",
        "sam",
        "--src",
        "docker",
        "--dest",
        "dir",
        "a/b",
        "/tmp/x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--src-password"));
}

//! Fitting in with docker, podman and skopeo: credential helpers, containers auth.json,
//! login/logout, and the read-only commands (tags, catalog, manifest, inspect, --platform).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64::Engine as _;

use crate::support::{irel, irel_env, make_layout, ok_stdout, skopeo_digest, skopeo_push, Registry};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A registry with Basic auth for dora, holding `team/app:t` and `other/app:t`.
fn guarded() -> (Registry, String) {
    let reg = Registry::with_basic_auth("dora", "pw-dora-7");
    let layout = reg.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1500], &["amd64"], 51);
    for repo in ["team/app", "other/app"] {
        skopeo_push(
            &layout,
            "t",
            &format!("{}/{repo}:t", reg.addr),
            &["--dest-creds", "dora:pw-dora-7"],
        );
    }
    (reg, fx.digest)
}

/// Installs `docker-credential-irel-test` in `dir`: it knows dora's password for `registry`,
/// and logs what it is asked in `dir/helper.log`.
fn install_helper(dir: &Path, registry: &str) {
    let script = format!(
        r#"#!/bin/sh
read -r server
echo "$1 $server" >> {log}
case "$1" in
  get)
    if [ "$server" = "{registry}" ]; then
      printf '{{"ServerURL":"%s","Username":"dora","Secret":"pw-dora-7"}}' "$server"
    else
      echo "credentials not found in native keychain"; exit 1
    fi;;
  store|erase) exit 0;;
esac
"#,
        log = dir.join("helper.log").display()
    );
    let path = dir.join("docker-credential-irel-test");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn path_with(dir: &Path) -> String {
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

#[test]
fn credential_helpers_from_cred_helpers_and_creds_store() {
    let (reg, digest) = guarded();
    let dir = tempfile::tempdir().unwrap();
    install_helper(dir.path(), &reg.addr);
    let image = format!("{}/team/app:t", reg.addr);
    for config in [
        format!(r#"{{"credHelpers":{{"{}":"irel-test"}}}}"#, reg.addr),
        r#"{"credsStore":"irel-test"}"#.to_string(),
    ] {
        std::fs::write(dir.path().join("config.json"), &config).unwrap();
        let env = [
            ("DOCKER_CONFIG", dir.path().to_str().unwrap()),
            ("PATH", &path_with(dir.path())),
        ];
        let out = irel_env(&["digest", &image], &env);
        assert_eq!(ok_stdout(&out), digest, "{config}");
    }
    let log = std::fs::read_to_string(dir.path().join("helper.log")).unwrap();
    assert!(log.contains(&format!("get {}", reg.addr)), "{log}");

    // A helper that is not installed is named in the error.
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"credsStore":"nowhere-to-be-found"}"#,
    )
    .unwrap();
    let out = irel_env(&["digest", &image], &[("DOCKER_CONFIG", dir.path().to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("docker-credential-nowhere-to-be-found"));
}

#[test]
fn containers_auth_json_with_namespace_keys() {
    let (reg, digest) = guarded();
    let dir = tempfile::tempdir().unwrap();
    let auth = dir.path().join("auth.json");
    // The namespace key has the right password, the registry-wide key a wrong one.
    std::fs::write(
        &auth,
        format!(
            r#"{{"auths":{{"{r}/team":{{"auth":"{good}"}},"{r}":{{"auth":"{bad}"}}}}}}"#,
            r = reg.addr,
            good = b64("dora:pw-dora-7"),
            bad = b64("dora:wrong")
        ),
    )
    .unwrap();
    let empty = tempfile::tempdir().unwrap();
    let auth_s = auth.to_str().unwrap();
    let docker = ("DOCKER_CONFIG", empty.path().to_str().unwrap());
    let team = format!("{}/team/app:t", reg.addr);
    let other = format!("{}/other/app:t", reg.addr);
    assert_eq!(
        ok_stdout(&irel_env(&["--authfile", auth_s, "digest", &team], &[docker])),
        digest
    );
    assert_eq!(
        ok_stdout(&irel_env(&["digest", &team], &[docker, ("REGISTRY_AUTH_FILE", auth_s)])),
        digest
    );
    let out = irel_env(&["--authfile", auth_s, "digest", &other], &[docker]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the registry-wide key's wrong password is used"
    );
    // XDG_RUNTIME_DIR/containers/auth.json.
    let xdg = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(xdg.path().join("containers")).unwrap();
    std::fs::copy(&auth, xdg.path().join("containers/auth.json")).unwrap();
    let out = irel_env(
        &["digest", &team],
        &[docker, ("XDG_RUNTIME_DIR", xdg.path().to_str().unwrap())],
    );
    assert_eq!(ok_stdout(&out), digest);
}

#[test]
fn creds_flags_go_to_the_registries_named() {
    let (reg, digest) = guarded();
    let plain = Registry::start();
    let empty = tempfile::tempdir().unwrap();
    let docker = ("DOCKER_CONFIG", empty.path().to_str().unwrap());
    let team = format!("{}/team/app:t", reg.addr);
    assert_eq!(
        ok_stdout(&irel_env(&["--creds", "dora:pw-dora-7", "digest", &team], &[docker])),
        digest
    );
    let dst = format!("{}/copied/app:t", plain.addr);
    let out = irel_env(&["copy", "--src-creds", "dora:pw-dora-7", &team, &dst], &[docker]);
    ok_stdout(&out);
    assert_eq!(skopeo_digest(&dst, &[]), digest);
    // Into the guarded registry with --dest-creds.
    let back = format!("{}/back/app:t", reg.addr);
    let out = irel_env(&["copy", "--dest-creds", "dora:pw-dora-7", &dst, &back], &[docker]);
    ok_stdout(&out);
    assert_eq!(skopeo_digest(&back, &["--creds", "dora:pw-dora-7"]), digest);
}

#[test]
fn login_checks_then_stores_privately_and_logout_forgets() {
    let (reg, digest) = guarded();
    let dir = tempfile::tempdir().unwrap();
    let cfg_dir = dir.path().join("docker");
    let docker = ("DOCKER_CONFIG", cfg_dir.to_str().unwrap());
    let config = cfg_dir.join("config.json");

    let out = irel_env(&["login", &reg.addr, "-u", "dora", "-p", "not-the-password"], &[docker]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!config.exists(), "a rejected login stores nothing");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not-the-password"));

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_irel"))
        .args(["login", &reg.addr, "-u", "dora", "--password-stdin"])
        .env("DOCKER_CONFIG", &cfg_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"pw-dora-7\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(ok_stdout(&out).contains("Login Succeeded"));
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "config.json holds a secret");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(&b64("dora:pw-dora-7")), "{text}");

    // docker's own client reads it: skopeo, through the same config.
    let image = format!("{}/team/app:t", reg.addr);
    assert_eq!(ok_stdout(&irel_env(&["digest", &image], &[docker])), digest);
    let authfile = config.to_str().unwrap();
    assert_eq!(skopeo_digest(&image, &["--authfile", authfile]), digest);

    assert!(ok_stdout(&irel_env(&["logout", &reg.addr], &[docker])).contains("Removed"));
    assert_eq!(irel_env(&["digest", &image], &[docker]).status.code(), Some(1));
    assert_eq!(irel_env(&["logout", &reg.addr], &[docker]).status.code(), Some(1));
}

#[test]
fn tags_catalog_manifest_inspect_and_platform() {
    let reg = Registry::start();
    let layout = reg.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1024, 2048], &["amd64", "arm64"], 52);
    for tag in ["t", "u", "v"] {
        skopeo_push(&layout, "t", &format!("{}/multi/app:{tag}", reg.addr), &[]);
    }
    let image = format!("{}/multi/app:t", reg.addr);
    let tags = ok_stdout(&irel(&["tags", &format!("{}/multi/app", reg.addr)]));
    let mut tags: Vec<&str> = tags.lines().collect();
    tags.sort();
    assert_eq!(tags, ["t", "u", "v"]);
    assert_eq!(ok_stdout(&irel(&["catalog", &reg.addr])), "multi/app");

    let inspect: serde_json::Value = serde_json::from_str(&ok_stdout(&irel(&["--json", "inspect", &image]))).unwrap();
    assert_eq!(inspect["digest"], fx.digest);
    let instances = inspect["instances"].as_array().unwrap();
    let arm = instances
        .iter()
        .find(|i| i["platform"] == "linux/arm64")
        .expect("an arm64 instance");
    let arm_digest = arm["digest"].as_str().unwrap();
    let text = ok_stdout(&irel(&["inspect", &image]));
    assert!(text.contains("linux/amd64") && text.contains("linux/arm64") && text.contains(&fx.digest));

    let out = irel(&["manifest", "--platform", "linux/arm64", &image]);
    assert!(out.status.success());
    assert_eq!(
        irel::Digest::sha256_of(&out.stdout).to_string(),
        arm_digest,
        "exact bytes"
    );
    let index = irel(&["manifest", &image]);
    assert_eq!(irel::Digest::sha256_of(&index.stdout).to_string(), fx.digest);

    let dst = Registry::start();
    let target = format!("{}/arm/app:t", dst.addr);
    let out = irel(&["--json", "copy", "--platform", "linux/arm64", &image, &target]);
    let report: serde_json::Value = serde_json::from_str(&ok_stdout(&out)).unwrap();
    assert_eq!(report["digest"], arm_digest);
    assert_eq!(skopeo_digest(&target, &[]), arm_digest);

    let out = irel(&["copy", "--platform", "linux/s390x", &image, &target]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("linux/amd64, linux/arm64"));
    let out = irel(&["copy", "--platform", "s390x", &image, &target]);
    assert_eq!(out.status.code(), Some(2), "a malformed platform is a usage error");

    let digest: serde_json::Value = serde_json::from_str(&ok_stdout(&irel(&["--json", "digest", &image]))).unwrap();
    assert_eq!(digest["digest"], fx.digest);
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let text = ok_stdout(&irel(&["completions", shell]));
        assert!(text.contains("irel") && text.contains("copy"), "{shell}");
    }
}

#[test]
fn progress_is_drawn_on_a_terminal_only() {
    let src = Registry::start();
    let layout = src.scratch().join("layout");
    make_layout(&layout, "t", &[300_000, 300_000], &["amd64"], 53);
    skopeo_push(&layout, "t", &format!("{}/p/app:t", src.addr), &[]);
    let image = format!("{}/p/app:t", src.addr);
    let irel_bin = env!("CARGO_BIN_EXE_irel");
    // `script` runs the command on a pseudo-terminal (util-linux, on every Debian).
    let on_tty = |extra: &str, dst: &str| {
        let out = std::process::Command::new("script")
            .args(["-qec", &format!("{irel_bin} {extra} copy {image} {dst}"), "/dev/null"])
            .output()
            .expect("script (util-linux)");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let dst = Registry::start();
    let drawn = on_tty("", &format!("{}/p/app:t", dst.addr));
    // The overall bar (its blob counts and rate) is drawn as soon as the copy knows its blobs.
    assert!(drawn.contains("blobs ") && drawn.contains("B/s"), "{drawn}");
    let quiet = on_tty("--quiet", &format!("{}/p/quiet:t", dst.addr));
    assert!(!quiet.contains("blobs"), "{quiet}");
    // Not a terminal: nothing but the result.
    let out = irel(&["copy", &image, &format!("{}/p/pipe:t", dst.addr)]);
    assert!(out.status.success() && out.stderr.is_empty());
}

#[test]
fn certs_d_gives_per_registry_roots_and_client_certificates() {
    let pki = crate::support::Pki::generate();
    let reg = Registry::start_with(crate::support::RegistryConfig {
        tls: Some(pki.server()),
        client_ca: Some(pki.ca()),
        ..Default::default()
    });
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".config/containers/certs.d").join(&reg.addr);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(pki.ca(), dir.join("ca.crt")).unwrap();
    let home_env = ("HOME", home.path().to_str().unwrap());
    let image = format!("{}/m/app:t", reg.addr);

    // The CA alone: the server is trusted, but it wants a client certificate.
    // (Under TLS 1.3 the server refuses after the handshake: the client sees it hang up.)
    let out = irel_env(&["digest", &image], &[home_env]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("client certificate") && err.contains("certs.d"), "{err}");

    // With client.cert / client.key next to it: mutual TLS works, and an image pushed over
    // it is there byte for byte.
    std::fs::copy(pki.path("client.pem"), dir.join("client.cert")).unwrap();
    std::fs::copy(pki.path("client.key"), dir.join("client.key")).unwrap();
    let src = Registry::start();
    let layout = src.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1000], &["amd64"], 54);
    skopeo_push(&layout, "t", &format!("{}/m/app:t", src.addr), &[]);
    ok_stdout(&irel_env(
        &["copy", &format!("{}/m/app:t", src.addr), &image],
        &[home_env],
    ));
    assert_eq!(ok_stdout(&irel_env(&["digest", &image], &[home_env])), fx.digest);

    // A cert without its key is named.
    std::fs::remove_file(dir.join("client.key")).unwrap();
    let out = irel_env(&["digest", &image], &[home_env]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("client.key"));
}

#[test]
fn json_output_for_sync_and_relocate() {
    let src = Registry::start();
    let layout = src.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1000], &["amd64"], 55);
    skopeo_push(&layout, "t", &format!("{}/j/app:t", src.addr), &[]);
    let dst = Registry::start();
    let out = ok_stdout(&irel(&[
        "--json",
        "sync",
        &format!("docker://{}/j/app:t", src.addr),
        &format!("docker://{}/m", dst.addr),
    ]));
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["outcome"], "copied");
    assert_eq!(lines[0]["report"]["digest"], fx.digest);
    assert_eq!(lines[1]["summary"]["copied"], 1);

    let out = ok_stdout(&irel(&[
        "--json",
        "relocate",
        "-r",
        &format!("{}/acme", dst.addr),
        &format!("{}/j/app:t", src.addr),
    ]));
    let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(line["digest"], fx.digest);
    assert!(line["relocated"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/acme/", dst.addr)));
}

//! `examples/embed_session.rs` against a token-auth registry: the example, built by cargo from
//! this test, reads bob's credentials from a docker `config.json` (`DOCKER_CONFIG`), lists the
//! tags and fetches the manifest by raw session requests through its own layers, and prints a
//! digest that skopeo agrees with and a request count of its own layer above zero. Without
//! credentials it fails with one line on stderr and a non-zero exit.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;

use crate::support::{make_layout, skopeo_digest, skopeo_push, Pki, Registry, TokenServer};

/// Builds the example (examples get no `CARGO_BIN_EXE_*`) and returns where cargo put it, so
/// that the test works from a clean checkout, with any target directory.
fn build_example() -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    // What cargo set for this test binary (`CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`, …) must not
    // reach the inner cargo: build scripts that watch those variables (ring's) would be rerun,
    // here and again in the next ordinary build.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_for_tests = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_",
        ]
        .iter()
        .any(|p| name.starts_with(p));
        if set_for_tests || name == "OUT_DIR" {
            cargo.env_remove(&*name);
        }
    }
    let out = cargo
        .args(["build", "--example", "embed_session", "--message-format=json"])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo");
    assert!(out.status.success(), "cargo build --example embed_session failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "embed_session")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo named no embed_session executable")
}

fn run_example(exe: &PathBuf, image: &str, docker_config: &std::path::Path) -> Output {
    Command::new(exe)
        .arg(image)
        .env("DOCKER_CONFIG", docker_config)
        .stdin(Stdio::null())
        .output()
        .expect("run embed_session")
}

/// The value of the `name: value` line the example printed.
fn field<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no {name:?} line in:\n{stdout}"))
}

#[test]
fn embed_session_example_lists_tags_and_fetches_a_manifest_with_docker_credentials() {
    let exe = build_example();
    let pki = Pki::generate();
    let tokens = TokenServer::start(&pki, "bob", "t0ken-pw");
    let a = Registry::start_with(tokens.registry_config());
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1024, 2048], &["amd64", "arm64"], 31);
    let creds = ["--dest-creds", "bob:t0ken-pw"];
    for tag in ["1.0", "1.1"] {
        skopeo_push(&layout, "t", &format!("{}/team/app:{tag}", a.addr), &creds);
    }
    let image = format!("{}/team/app:1.0", a.addr);

    let with_creds = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("bob:t0ken-pw");
    let cfg = serde_json::json!({"auths": {a.addr.as_str(): {"auth": auth}}});
    std::fs::write(with_creds.path().join("config.json"), cfg.to_string()).unwrap();
    let out = run_example(&exe, &image, with_creds.path());
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "embed_session failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let tags: Vec<&str> = field(&stdout, "tags").split(' ').collect();
    assert!(tags.contains(&"1.0") && tags.contains(&"1.1"), "{stdout}");
    assert_eq!(
        field(&stdout, "media type"),
        "application/vnd.oci.image.index.v1+json",
        "{stdout}"
    );
    let digest = field(&stdout, "digest");
    assert_eq!(digest, fx.digest, "{stdout}");
    assert_eq!(digest, skopeo_digest(&image, &["--creds", "bob:t0ken-pw"]), "{stdout}");
    let ours: u64 = field(&stdout, "requests through our layer").parse().unwrap();
    let wire: u64 = field(&stdout, "requests on the wire").parse().unwrap();
    // One tag page and one manifest; the wire also carried the ping and the token request.
    assert!(ours >= 2, "{stdout}");
    assert!(wire > ours, "{stdout}");
    assert!(!tokens.requests.lock().unwrap().is_empty(), "no token was asked for");

    let without_creds = tempfile::tempdir().unwrap();
    let out = run_example(&exe, &image, without_creds.path());
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line expected:\n{stderr}");
    assert!(stderr.starts_with("embed_session: "), "{stderr}");
    assert!(stderr.contains("needs credentials"), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
}

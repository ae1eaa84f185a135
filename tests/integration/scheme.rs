//! The scheme policy: https by default, plain http for loopback and for hosts the user marked
//! insecure (Go irel's open bug: a non-loopback name must work when marked insecure), TLS with
//! extra CAs.

use crate::support::{irel, make_layout, ok_stdout, skopeo_digest, skopeo_push, Pki, Registry, RegistryConfig};

#[test]
fn plain_http_through_a_non_loopback_name_needs_the_insecure_flag() {
    let (a, b) = (Registry::start(), Registry::start());
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[4096], &["amd64"], 11);
    skopeo_push(&layout, "t", &format!("{}/app:t", a.addr), &[]);
    let name = format!("bundleregistry:{}", a.port);
    let image = format!("{name}/app:t");
    let resolve = ["--resolve", "bundleregistry:127.0.0.1"];

    let refused = irel(&[&resolve[..], &["digest", &image]].concat());
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("plain HTTP") && err.contains(&format!("--insecure-registry {name}")),
        "{err}"
    );

    let insecure = irel(&[&resolve[..], &["--insecure-registry", &name, "digest", &image]].concat());
    assert_eq!(ok_stdout(&insecure), fx.digest);
    let skip = irel(&[&resolve[..], &["--skip-tls-verify", "digest", &image]].concat());
    assert_eq!(ok_stdout(&skip), fx.digest);

    // And a whole copy out of it, as in Go irel's bug report.
    let dst = format!("{}/copied/app:t", b.addr);
    ok_stdout(&irel(
        &[&resolve[..], &["--skip-tls-verify", "copy", &image, &dst]].concat(),
    ));
    assert_eq!(skopeo_digest(&dst, &[]), fx.digest);
}

#[test]
fn tls_registry_is_verified_against_ca_cert_path() {
    let pki = Pki::generate();
    let tls = Registry::start_with(RegistryConfig {
        tls: Some(pki.server()),
        ..Default::default()
    });
    let plain = Registry::start();
    let layout = tls.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[8192, 100], &["amd64"], 12);
    skopeo_push(&layout, "t", &format!("{}/secure/app:t", tls.addr), &[]);
    let image = format!("{}/secure/app:t", tls.addr);
    let ca = pki.ca();
    let ca = ca.to_str().unwrap();

    // Unknown CA: refused, and the error is about the certificate, not a fallback to http.
    let out = irel(&["digest", &image]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    assert_eq!(ok_stdout(&irel(&["--ca-cert-path", ca, "digest", &image])), fx.digest);
    let dst = format!("{}/from-tls/app:t", plain.addr);
    ok_stdout(&irel(&["--ca-cert-path", ca, "copy", &image, &dst]));
    assert_eq!(skopeo_digest(&dst, &[]), fx.digest);

    // The certificate also names bundleregistry: verified https under a non-loopback name.
    let named = format!("bundleregistry:{}/secure/app:t", tls.port);
    let out = irel(&[
        "--resolve",
        "bundleregistry:127.0.0.1",
        "--ca-cert-path",
        ca,
        "digest",
        &named,
    ]);
    assert_eq!(ok_stdout(&out), fx.digest);
    // --skip-tls-verify accepts the unknown CA.
    assert_eq!(ok_stdout(&irel(&["--skip-tls-verify", "digest", &image])), fx.digest);
}

#[test]
fn a_bad_ca_file_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("not-a-cert.pem");
    std::fs::write(&bad, "hello").unwrap();
    let out = irel(&["--ca-cert-path", bad.to_str().unwrap(), "digest", "127.0.0.1:1/x:y"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-a-cert.pem"));
}

#[test]
fn registries_conf_insecure_entries_count_as_insecure_registry_flags() {
    let a = Registry::start();
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[4096], &["amd64"], 13);
    skopeo_push(&layout, "t", &format!("{}/app:t", a.addr), &[]);
    let name = format!("bundleregistry:{}", a.port);
    let image = format!("{name}/app:t");
    let home = tempfile::tempdir().unwrap();
    let conf_dir = home.path().join(".config/containers");
    std::fs::create_dir_all(&conf_dir).unwrap();
    let args = ["--resolve", "bundleregistry:127.0.0.1", "digest", &image];
    let home_env = ("HOME", home.path().to_str().unwrap());
    assert_eq!(crate::support::irel_env(&args, &[home_env]).status.code(), Some(1));
    std::fs::write(
        conf_dir.join("registries.conf"),
        format!("[[registry]]\nlocation = \"{name}\"\ninsecure = true\n"),
    )
    .unwrap();
    assert_eq!(ok_stdout(&crate::support::irel_env(&args, &[home_env])), fx.digest);
}

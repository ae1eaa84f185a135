//! Hostile servers and bad input: a proxy in front of a real registry serves broken, huge,
//! endless or lying manifests, redirect loops and odd challenges. Each must end in a clear
//! error, exit 1, nothing written at the destination, and bounded time and memory.

use base64::Engine as _;

use crate::support::{
    irel, make_layout, skopeo_push, Action, Behaviour, Fault, Pki, Proxy, Registry, RegistryConfig, TokenServer,
};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A registry holding `h/app:t`, its digest, and a fresh destination.
fn setup() -> (Registry, String, Registry) {
    let src = Registry::start();
    let layout = src.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[2048], &["amd64"], 41);
    skopeo_push(&layout, "t", &format!("{}/h/app:t", src.addr), &[]);
    (src, fx.digest, Registry::start())
}

fn proxy_with(src: &Registry, matching: &str, action: Action) -> Proxy {
    Proxy::start(
        &src.addr,
        Behaviour {
            faults: vec![Fault::new(matching, usize::MAX, action)],
            ..Default::default()
        },
    )
}

/// Runs `irel copy FROM DST/h/app:t` and checks it failed cleanly; returns stderr.
fn copy_fails(from: &str, dst: &Registry) -> String {
    let started = std::time::Instant::now();
    let out = irel(&["copy", from, &format!("{}/h/app:t", dst.addr)]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("irel: ") && stderr.lines().count() == 1,
        "one line: {stderr}"
    );
    assert!(
        !dst.log_text().contains("PUT /v2/"),
        "nothing written at the destination"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "bounded time");
    stderr
}

fn json(v: serde_json::Value) -> bytes::Bytes {
    serde_json::to_vec(&v).unwrap().into()
}

#[test]
fn hostile_manifests_are_refused() {
    let (src, _, dst) = setup();
    let fan_out: Vec<_> = (0..5000u32)
        .map(|i| {
            serde_json::json!({"mediaType": OCI_MANIFEST, "size": 100,
                "digest": irel::Digest::sha256_of(&i.to_be_bytes()).to_string()})
        })
        .collect();
    let cases: Vec<(&str, Action, &str)> = vec![
        (
            "invalid JSON",
            Action::Replace(OCI_MANIFEST, "{not json".into()),
            "not valid manifest JSON",
        ),
        (
            "unknown media type",
            Action::Replace(
                "application/vnd.example.thing+json",
                json(serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.example.thing+json"})),
            ),
            "unsupported media type",
        ),
        (
            "Content-Type / mediaType mismatch",
            Action::Replace(
                OCI_INDEX,
                json(serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST})),
            ),
            "served as",
        ),
        (
            "larger than 4 MiB",
            Action::Replace(OCI_MANIFEST, vec![b' '; 5 << 20].into()),
            "larger than",
        ),
        ("endless", Action::Endless(OCI_MANIFEST), "larger than"),
        (
            "absurd fan-out",
            Action::Replace(
                OCI_INDEX,
                json(serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": fan_out})),
            ),
            "more than",
        ),
    ];
    for (what, action, needle) in cases {
        let proxy = proxy_with(&src, "GET /v2/h/app/manifests/t", action);
        let err = copy_fails(&format!("{}/h/app:t", proxy.addr), &dst);
        assert!(err.contains(needle), "{what}: {err}");
    }
}

#[test]
fn a_manifest_that_does_not_match_its_digest_is_refused() {
    let (src, digest, dst) = setup();
    let other = json(serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                   "digest": irel::Digest::sha256_of(b"{}").to_string()},
        "layers": []}));
    let proxy = proxy_with(
        &src,
        "GET /v2/h/app/manifests/sha256:",
        Action::Replace(OCI_MANIFEST, other),
    );
    let err = copy_fails(&format!("{}/h/app@{digest}", proxy.addr), &dst);
    assert!(err.contains(&digest), "{err}");
}

#[test]
fn redirect_loops_and_file_urls_are_refused() {
    let (src, _, dst) = setup();
    // A blob GET that redirects to itself, forever.
    let looping_self = proxy_with(
        &src,
        "GET /v2/h/app/blobs/",
        Action::Redirect("/v2/h/app/blobs/sha256:again".into()),
    );
    let err = copy_fails(&format!("{}/h/app:t", looping_self.addr), &dst);
    assert!(err.contains("more than 10 redirects"), "{err}");

    let to_file = proxy_with(
        &src,
        "GET /v2/h/app/blobs/",
        Action::Redirect("file:///etc/passwd".into()),
    );
    let err = copy_fails(&format!("{}/h/app:t", to_file.addr), &dst);
    assert!(err.contains("only http(s) locations"), "{err}");
}

#[test]
fn malformed_and_enormous_challenges_are_errors() {
    let (src, _, dst) = setup();
    let cases = [
        ("Bearer realm=\"unterminated".to_string(), "WWW-Authenticate"),
        ("Bearer service=\"no-realm\"".to_string(), "realm"),
        (
            format!("Bearer realm=\"http://127.0.0.1:1/t\",{}", "x=\"y\",".repeat(20_000)),
            "WWW-Authenticate",
        ),
    ];
    for (challenge, needle) in cases {
        let proxy = proxy_with(&src, "GET /v2/", Action::Challenge(challenge.clone()));
        let err = copy_fails(&format!("{}/h/app:t", proxy.addr), &dst);
        assert!(err.contains(needle), "{}: {err}", &challenge[..40.min(challenge.len())]);
        assert!(err.len() < 2000, "the error stays readable: {} bytes", err.len());
    }
}

#[test]
fn an_http_token_realm_for_an_https_registry_is_refused() {
    let pki = Pki::generate();
    let tokens = TokenServer::start(&pki, "bob", "pw-bob-realm");
    let reg = Registry::start_with(RegistryConfig {
        tls: Some(pki.server()),
        ..tokens.registry_config()
    });
    let dir = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("bob:pw-bob-realm");
    std::fs::write(
        dir.path().join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.addr),
    )
    .unwrap();
    let ca = pki.ca();
    let out = crate::support::irel_env(
        &[
            "--ca-cert-path",
            ca.to_str().unwrap(),
            "digest",
            &format!("{}/h/app:t", reg.addr),
        ],
        &[("DOCKER_CONFIG", dir.path().to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&tokens.realm) && err.contains("http"), "{err}");
    assert!(
        tokens.requests.lock().unwrap().is_empty(),
        "the credentials never went to the realm"
    );
    assert!(!err.contains("pw-bob-realm") && !err.contains(&auth));
}

#[test]
fn credentials_never_appear_in_output_even_with_debug() {
    let (src, _, _) = setup();
    let guarded = Registry::with_basic_auth("dora", "SeCrEt-dora-42");
    let encoded = base64::engine::general_purpose::STANDARD.encode("dora:SeCrEt-dora-42");
    let wrong = base64::engine::general_purpose::STANDARD.encode("dora:WrOnG-pass-99");
    let runs = [
        vec![
            "copy".to_string(),
            format!("{}/h/app:t", src.addr),
            format!("{}/h/app:t", guarded.addr),
        ],
        vec![
            "sync".into(),
            "--dest-creds".into(),
            "dora:WrOnG-pass-99".into(),
            format!("docker://{}/h/app:t", src.addr),
            format!("docker://{}/m", guarded.addr),
        ],
        vec![
            "sync".into(),
            "--src-creds".into(),
            "dora:SeCrEt-dora-42".into(),
            format!("docker://{}/nothing/here:t", guarded.addr),
            format!("docker://{}/m", src.addr),
        ],
    ];
    for args in runs {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.insert(0, "--debug");
        let out = irel(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("GET http://") && stderr.contains(" ms"),
            "--debug logs requests:\n{stderr}"
        );
        assert!(!out.status.success(), "{args:?}");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in ["SeCrEt-dora-42", "WrOnG-pass-99", encoded.as_str(), wrong.as_str()] {
            assert!(!text.contains(secret), "{args:?} printed a secret:\n{text}");
        }
    }
}

#[test]
fn a_blob_with_the_wrong_bytes_never_lands_in_a_layout() {
    let (src, _, _) = setup();
    // Same length, other bytes: only the digest check can tell.
    let proxy = proxy_with(
        &src,
        "GET /v2/h/app/blobs/",
        Action::Replace("application/octet-stream", vec![b'x'; 2048].into()),
    );
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let out = irel(&[
        "layout",
        "add",
        layout.to_str().unwrap(),
        &format!("{}/h/app:t", proxy.addr),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sha256:"), "the error names the blob: {err}");
    let blobs: Vec<_> = std::fs::read_dir(layout.join("blobs/sha256"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(blobs.is_empty(), "nothing written: {blobs:?}");
    let index = std::fs::read_to_string(layout.join("index.json")).unwrap_or_default();
    assert!(!index.contains("sha256:"), "no entry: {index}");
}

#[test]
fn registry_warnings_are_shown_once_each() {
    let (src, digest, dst) = setup();
    let proxy = Proxy::start(
        &src.addr,
        Behaviour {
            warnings: vec![
                r#"299 - "this repository is deprecated; use h/app2""#.into(),
                r#"299 - "a \"quoted\" word""#.into(),
                r#"199 - "not for users""#.into(),
            ],
            ..Default::default()
        },
    );
    let out = irel(&[
        "copy",
        &format!("{}/h/app:t", proxy.addr),
        &format!("{}/h/app:t", dst.addr),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&digest), "{stdout}");
    // Every response from the proxy carried them; each is shown once, with its registry.
    assert_eq!(
        stderr
            .matches(&format!(
                "irel: warning: registry {}: this repository is deprecated; use h/app2",
                proxy.addr
            ))
            .count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"registry {}: a "quoted" word"#.replace("{}", &proxy.addr).as_str()),
        "{stderr}"
    );
    assert!(!stderr.contains("not for users"), "{stderr}");
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
}

//! Hostile registries that aim at what irel prints and plans (issue #12, items 9–11): names and
//! messages carrying terminal escapes or forged lines, a registry that lies about a digest in
//! its headers, and listings holding names that are not valid tags or repositories.

use crate::support::{irel, make_layout, ok_stdout, skopeo_push, Action, Behaviour, Fault, Proxy, Registry};

/// A registry holding `h/app:t`; its digest.
fn seeded(reg: &Registry) -> String {
    let layout = reg.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[2048], &["amd64"], 77);
    skopeo_push(&layout, "t", &format!("{}/h/app:t", reg.addr), &[]);
    fx.digest
}

fn replacing(reg: &Registry, matching: &str, content_type: &'static str, body: &str) -> Proxy {
    Proxy::start(
        &reg.addr,
        Behaviour {
            faults: vec![Fault::new(
                matching,
                usize::MAX,
                Action::Replace(content_type, body.to_string().into()),
            )],
            ..Default::default()
        },
    )
}

/// Whether `text` holds anything but printable characters and line ends.
fn has_controls(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

#[test]
fn names_from_a_registry_cannot_drive_the_terminal_or_forge_lines() {
    let reg = Registry::start();
    seeded(&reg);
    let tags = r#"{"name":"h/app","tags":["t","\u001b]0;owned\u0007","x\nirel: forged","\u001b[2J\u202eevil"]}"#;
    let proxy = replacing(&reg, "GET /v2/h/app/tags/list", "application/json", tags);
    let out = ok_stdout(&irel(&["tags", &format!("{}/h/app", proxy.addr)]));
    assert!(!has_controls(&out), "{out:?}");
    assert_eq!(out.lines().count(), 4, "one line per tag: {out:?}");
    assert!(!out.lines().any(|l| l.starts_with("irel:")), "{out:?}");
    assert!(
        out.contains(r"\u001b]0;owned\u0007") && out.contains(r"x\nirel: forged"),
        "{out}"
    );
    assert!(
        out.contains(r"\u202eevil"),
        "bidi overrides are shown, not obeyed: {out}"
    );

    // --json escapes as JSON does, and keeps the names exact.
    let json = ok_stdout(&irel(&["tags", "--json", &format!("{}/h/app", proxy.addr)]));
    assert!(!has_controls(&json), "{json:?}");
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["tags"][2], "x\nirel: forged");
    assert_eq!(v["tags"][3], "\u{1b}[2J\u{202e}evil");

    let catalog = r#"{"repositories":["h/app","\u001b[31mred\nirel: copied x"]}"#;
    let proxy = replacing(&reg, "GET /v2/_catalog", "application/json", catalog);
    let out = ok_stdout(&irel(&["catalog", &proxy.addr]));
    assert!(!has_controls(&out), "{out:?}");
    assert_eq!(out.lines().count(), 2, "{out:?}");
}

#[test]
fn registry_error_messages_are_one_escaped_line() {
    let reg = Registry::start();
    seeded(&reg);
    let code: &'static str = Box::leak(
        r"DENIED\u001b]0;pwned\u0007\nirel: copied h/app:t to evil with content digest sha256:0"
            .to_string()
            .into_boxed_str(),
    );
    let proxy = Proxy::start(
        &reg.addr,
        Behaviour {
            faults: vec![Fault::new(
                "/manifests/t",
                usize::MAX,
                Action::Status(403, None, Some(code)),
            )],
            ..Default::default()
        },
    );
    let out = irel(&["digest", &format!("{}/h/app:t", proxy.addr)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!has_controls(&stderr), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(stderr.contains(r"DENIED\u001b]0;pwned\u0007\nirel: copied"), "{stderr}");
}

/// A registry on loopback that answers every manifest HEAD and GET with `manifest` and the
/// `Docker-Content-Digest` header `announced`. Returns its `127.0.0.1:PORT`.
fn lying_registry(manifest: &'static str, announced: String) -> String {
    crate::support::serve(move |req: hyper::Request<hyper::body::Incoming>| {
        let announced = announced.clone();
        async move {
            let resp = hyper::Response::builder();
            if !req.uri().path().contains("/manifests/") {
                return resp
                    .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
                    .unwrap();
            }
            // hyper sends the length and no body for a HEAD.
            resp.header("content-type", "application/vnd.oci.image.manifest.v1+json")
                .header("docker-content-digest", announced)
                .body(http_body_util::Full::new(bytes::Bytes::from_static(
                    manifest.as_bytes(),
                )))
                .unwrap()
        }
    })
    .to_string()
}

#[test]
fn digest_prints_only_a_digest_it_verified() {
    const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
    let real = irel::Digest::sha256_of(MANIFEST.as_bytes()).to_string();
    let lie = format!("sha256:{}", "ab".repeat(32));
    let addr = lying_registry(MANIFEST, lie.clone());
    let image = format!("{addr}/team/app:1.0");

    // The registry's word for a HEAD is not printed as if it were the content's digest.
    let out = irel(&["digest", &image]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a lying registry is refused: {stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    assert!(
        stderr.contains(&lie) && stderr.contains(&real) && stderr.contains("expected digest"),
        "{stderr}"
    );

    // Asked for explicitly, the unverified digest is the registry's word, and says so in JSON.
    let out = ok_stdout(&irel(&["digest", "--unverified", &image]));
    assert_eq!(out.trim(), lie);
    let json = ok_stdout(&irel(&["digest", "--unverified", "--json", &image]));
    assert!(json.contains(r#""verified":false"#), "{json}");

    // An honest registry: the digest is the content's, and JSON says it was verified.
    let honest = lying_registry(MANIFEST, real.clone());
    let json = ok_stdout(&irel(&["digest", "--json", &format!("{honest}/team/app:1.0")]));
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(
        (v["digest"].as_str(), v["verified"].as_bool()),
        (Some(real.as_str()), Some(true))
    );
}

#[test]
fn invalid_names_in_listings_are_skipped_and_the_mirror_goes_on() {
    let (src, dst) = (Registry::start(), Registry::start());
    let digest = seeded(&src);
    let long = "a".repeat(200);
    let tags = format!(r#"{{"name":"h/app","tags":["t","..","{long}","\u001b[2Jx"]}}"#);
    let proxy = replacing(&src, "GET /v2/h/app/tags/list", "application/json", &tags);

    let out = irel(&[
        "sync",
        "--no-scope", // skopeo's unscoped naming: the last path component
        &format!("docker://{}/h/app", proxy.addr),
        &format!("docker://{}/mirror", dst.addr),
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("sync: 1 copied, 0 skipped, 0 failed"), "{stdout}");
    assert!(
        stdout.contains("3 invalid names skipped"),
        "the summary counts them: {stdout}"
    );
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("irel: warning:")).collect();
    assert_eq!(warnings.len(), 3, "one warning each: {stderr}");
    assert!(stderr.contains(r#"tag "..""#), "{stderr}");
    assert!(stderr.contains("(200 characters)"), "a long name is cut: {stderr}");
    assert!(!has_controls(&stderr), "{stderr:?}");
    let copied = ok_stdout(&irel(&["digest", &format!("{}/mirror/app:t", dst.addr)]));
    assert_eq!(copied.trim(), digest);

    // A catalog name that is no repository is skipped the same way in a task's plan.
    let catalog = r#"{"repositories":["h/app","h/../../etc","H/UPPER"]}"#;
    let proxy = replacing(&src, "GET /v2/_catalog", "application/json", catalog);
    let cfg = src.scratch().join("tasks.yaml");
    std::fs::write(
        &cfg,
        format!(
            "tasks:\n- name: all\n  source: {{registry: \"{s}\"}}\n  target: {{registry: \"{d}\"}}\n  mappings:\n  - from: regex:.*\n    to: cat\n    tags: [t]\n",
            s = proxy.addr,
            d = dst.addr
        ),
    )
    .unwrap();
    let out = irel(&["sync", "--config", cfg.to_str().unwrap(), "--dry-run"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("sync (dry run): task 'all': 1 images, 2 invalid names skipped"),
        "{stdout}"
    );
    assert!(stderr.contains(r#"repository "h/../../etc""#), "{stderr}");
}

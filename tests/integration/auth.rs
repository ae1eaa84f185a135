//! Authentication against real registries: htpasswd (Basic) and token auth with a token server
//! that signs real JWTs; credentials from docker's config.json.

use base64::Engine as _;
use irel::auth::{Credential, StaticCredentials};
use irel::{Client, CopyOptions, Reference};

use crate::support::{irel_env, make_layout, ok_stdout, skopeo_digest, skopeo_push, Pki, Registry, TokenServer};

fn docker_config(dir: &std::path::Path, registry: &str, user: &str, password: &str) -> String {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let cfg = serde_json::json!({"auths": {registry: {"auth": auth}}});
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    dir.to_str().unwrap().to_string()
}

/// A docker config directory holding the test token server's identity token for `registry`.
fn identity_token_config(dir: &std::path::Path, registry: &str) -> String {
    let cfg = serde_json::json!({"auths": {registry: {"identitytoken": crate::support::token::IDENTITY_TOKEN}}});
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    dir.to_str().unwrap().to_string()
}

#[test]
fn htpasswd_registry_with_docker_config_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let a = Registry::with_basic_auth("alice", "s3cret-pw");
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[2048], &["amd64"], 21);
    let creds = ["--dest-creds", "alice:s3cret-pw"];
    skopeo_push(&layout, "t", &format!("{}/private/app:t", a.addr), &creds);
    let src = format!("{}/private/app:t", a.addr);
    let dst = format!("{}/private/copy:t", a.addr);

    let anonymous = irel_env(&["copy", &src, &dst], &[]);
    assert_eq!(anonymous.status.code(), Some(1));
    let err = String::from_utf8_lossy(&anonymous.stderr);
    assert!(err.contains("requires authentication"), "{err}");

    let wrong = irel_env(
        &["digest", &src],
        &[("DOCKER_CONFIG", &docker_config(dir.path(), &a.addr, "alice", "nope"))],
    );
    assert_eq!(wrong.status.code(), Some(1));

    let config = docker_config(dir.path(), &a.addr, "alice", "s3cret-pw");
    let out = irel_env(&["copy", &src, &dst], &[("DOCKER_CONFIG", &config)]);
    ok_stdout(&out);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret"));
    assert_eq!(skopeo_digest(&dst, &["--creds", "alice:s3cret-pw"]), fx.digest);
}

/// A client with bob's password for each of `registries` (as the CLI has one client for all).
fn bob(registries: &[&str]) -> Client {
    let mut creds = StaticCredentials::default();
    for registry in registries {
        creds.insert(
            registry,
            Credential::Basic {
                username: "bob".into(),
                password: "t0ken-pw".into(),
            },
        );
    }
    Client::builder().credentials(creds).build().unwrap()
}

#[tokio::test]
async fn token_auth_mount_asks_one_token_for_both_repositories() {
    let pki = Pki::generate();
    let tokens = TokenServer::start(&pki, "bob", "t0ken-pw");
    let a = Registry::start_with(tokens.registry_config());
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[4096, 4096], &["amd64"], 22);
    skopeo_push(
        &layout,
        "t",
        &format!("{}/team/app:t", a.addr),
        &["--dest-creds", "bob:t0ken-pw"],
    );

    let client = bob(&[&a.addr]);
    let src: Reference = format!("{}/team/app:t", a.addr).parse().unwrap();
    let dst: Reference = format!("{}/mirror/app:t", a.addr).parse().unwrap();
    let before = tokens.requests.lock().unwrap().len();
    let report = client.copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.blobs_mounted, 3, "{report:?}");
    let requests = tokens.requests.lock().unwrap()[before..].to_vec();
    assert_eq!(skopeo_digest(&dst.to_string(), &["--creds", "bob:t0ken-pw"]), fx.digest);

    let both = requests.iter().any(|scopes| {
        scopes.contains(&"repository:mirror/app:pull,push".to_string())
            && scopes.contains(&"repository:team/app:pull".to_string())
    });
    assert!(
        both,
        "a mount token must carry push on the target and pull on the source: {requests:?}"
    );
    // Tokens are cached: one per distinct scope set (source pull, target pull, mount, target
    // push), not one per request.
    assert_eq!(requests.len(), 4, "{requests:?}");
}

#[tokio::test]
async fn a_relative_token_realm_is_resolved_against_the_registry() {
    let pki = Pki::generate();
    let tokens = TokenServer::start(&pki, "bob", "t0ken-pw");
    // The registry names its realm by path only; the token service answers under the
    // registry's own origin (a proxy in front routes /token to it).
    let token_origin = tokens
        .realm
        .trim_start_matches("http://")
        .trim_end_matches("/token")
        .to_string();
    let mut cfg = tokens.registry_config();
    if let Some(t) = cfg.token.as_mut() {
        t.0 = "/token".into();
    }
    let a = Registry::start_with(cfg);
    let front = crate::support::Proxy::start(
        &a.addr,
        crate::support::Behaviour {
            routes: vec![("/token".into(), token_origin)],
            ..Default::default()
        },
    );
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1024], &["amd64"], 26);
    let client = bob(&[&front.addr]);
    let image: Reference = format!("{}/team/app:t", front.addr).parse().unwrap();
    // Pushed through irel (layout → registry) and read back, all with tokens from "/token".
    client
        .push_from_layout(
            &irel::layout::OciLayout::open(&layout).unwrap(),
            &fx.digest.parse().unwrap(),
            &image,
            &CopyOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(client.digest(&image).await.unwrap().to_string(), fx.digest);
    assert!(
        !front.seen_matching("GET /token").is_empty(),
        "the relative realm was not used"
    );
}

#[test]
fn token_auth_errors_say_what_is_wrong() {
    let pki = Pki::generate();
    let tokens = TokenServer::start(&pki, "bob", "t0ken-pw");
    let a = Registry::start_with(tokens.registry_config());
    let image = format!("{}/team/app:t", a.addr);

    let out = irel_env(&["digest", &image], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs credentials"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let config = docker_config(dir.path(), &a.addr, "bob", "wrong-password-xyz");
    let out = irel_env(&["digest", &image], &[("DOCKER_CONFIG", &config)]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("credentials were rejected"), "{err}");
    assert!(!err.contains("wrong-password-xyz"));
}

#[test]
fn identity_token_from_docker_config_uses_oauth2() {
    let pki = Pki::generate();
    let tokens = TokenServer::start(&pki, "bob", "t0ken-pw");
    let a = Registry::start_with(tokens.registry_config());
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1024], &["amd64"], 23);
    skopeo_push(
        &layout,
        "t",
        &format!("{}/team/app:t", a.addr),
        &["--dest-creds", "bob:t0ken-pw"],
    );
    let dir = tempfile::tempdir().unwrap();
    let config = identity_token_config(dir.path(), &a.addr);
    let out = irel_env(
        &[
            "copy",
            &format!("{}/team/app:t", a.addr),
            &format!("{}/team/copy:t", a.addr),
        ],
        &[("DOCKER_CONFIG", &config)],
    );
    ok_stdout(&out);
    assert_eq!(
        skopeo_digest(&format!("{}/team/copy:t", a.addr), &["--creds", "bob:t0ken-pw"]),
        fx.digest
    );
}

#[test]
fn a_token_server_without_oauth2_falls_back_to_the_get_flow() {
    let pki = Pki::generate();
    let tokens = TokenServer::start_with(&pki, "bob", "t0ken-pw", true);
    tokens.faults.no_oauth2.store(true, std::sync::atomic::Ordering::SeqCst);
    let a = Registry::start_with(tokens.registry_config());
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1024], &["amd64"], 27);
    skopeo_push(
        &layout,
        "t",
        &format!("{}/public/app:t", a.addr),
        &["--dest-creds", "bob:t0ken-pw"],
    );
    let dir = tempfile::tempdir().unwrap();
    let config = identity_token_config(dir.path(), &a.addr);
    // The POST is refused with 404; the GET flow (anonymous: an identity token is no password)
    // still gets a pull token.
    let out = irel_env(
        &["digest", &format!("{}/public/app:t", a.addr)],
        &[("DOCKER_CONFIG", &config)],
    );
    assert_eq!(ok_stdout(&out), fx.digest);
}

#[test]
fn anonymous_tokens_pull_public_images_and_pushing_needs_credentials() {
    let pki = Pki::generate();
    let tokens = TokenServer::start_with(&pki, "bob", "t0ken-pw", true);
    let a = Registry::start_with(tokens.registry_config());
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1024], &["amd64"], 24);
    skopeo_push(
        &layout,
        "t",
        &format!("{}/public/app:t", a.addr),
        &["--dest-creds", "bob:t0ken-pw"],
    );
    let plain = Registry::start();

    let image = format!("{}/public/app:t", a.addr);
    assert_eq!(ok_stdout(&irel_env(&["digest", &image], &[])), fx.digest);
    let dst = format!("{}/public/app:t", plain.addr);
    ok_stdout(&irel_env(&["copy", &image, &dst], &[]));
    assert_eq!(skopeo_digest(&dst, &[]), fx.digest);

    // Pushing into the token registry anonymously is refused with a clear reason.
    let out = irel_env(&["copy", &dst, &format!("{}/public/other:t", a.addr)], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs credentials") || err.contains("requires authentication"),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_that_expires_during_a_copy_is_renewed() {
    use std::sync::atomic::Ordering;
    let pki = Pki::generate();
    let tokens = TokenServer::start(&pki, "bob", "t0ken-pw");
    let (a, b) = (
        Registry::start_with(tokens.registry_config()),
        Registry::start_with(tokens.registry_config()),
    );
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[4096, 4096], &["amd64"], 23);
    skopeo_push(
        &layout,
        "t",
        &format!("{}/team/app:t", a.addr),
        &["--dest-creds", "bob:t0ken-pw"],
    );
    // The first token the copy is handed is already expired at the registry (as a token
    // cached at the start of a long copy is by its end), though it claims to last: the 401 it
    // earns makes irel drop it and ask again, once.
    tokens.faults.expired.store(1, Ordering::SeqCst);
    let client = bob(&[&a.addr, &b.addr]);
    let src: Reference = format!("{}/team/app:t", a.addr).parse().unwrap();
    let dst: Reference = format!("{}/team/app:t", b.addr).parse().unwrap();
    let report = client.copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.blobs_copied, 3);
    assert_eq!(
        tokens.faults.expired.load(Ordering::SeqCst),
        0,
        "the expired token was used"
    );
    assert_eq!(skopeo_digest(&dst.to_string(), &["--creds", "bob:t0ken-pw"]), fx.digest);
}

#[tokio::test]
async fn insufficient_scope_is_answered_by_asking_again_with_the_scopes_named() {
    use std::sync::atomic::Ordering;
    let pki = Pki::generate();
    let tokens = TokenServer::start(&pki, "bob", "t0ken-pw");
    let a = Registry::start_with(tokens.registry_config());
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[4096], &["amd64"], 24);
    skopeo_push(
        &layout,
        "t",
        &format!("{}/team/app:t", a.addr),
        &["--dest-creds", "bob:t0ken-pw"],
    );
    // The mount token comes back without pull on the source: the registry answers
    // insufficient_scope, naming the scopes it needs.
    tokens.faults.stingy_once.store(true, Ordering::SeqCst);
    let client = bob(&[&a.addr]);
    let src: Reference = format!("{}/team/app:t", a.addr).parse().unwrap();
    let dst: Reference = format!("{}/mirror/app:t", a.addr).parse().unwrap();
    let report = client.copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.blobs_mounted + report.blobs_copied, 2, "{report:?}");
    assert!(
        !tokens.faults.stingy_once.load(Ordering::SeqCst),
        "the stingy token was handed out"
    );
    assert_eq!(skopeo_digest(&dst.to_string(), &["--creds", "bob:t0ken-pw"]), fx.digest);
}

/// A source that counts how often it is asked, and whose password can be changed.
#[derive(Clone, Default)]
struct Counting {
    asked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    password: std::sync::Arc<std::sync::Mutex<String>>,
}

impl irel::auth::CredentialSource for Counting {
    fn credential(&self, _registry: &str) -> Option<Credential> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Some(Credential::Basic {
            username: "carol".into(),
            password: self.password.lock().unwrap().clone(),
        })
    }
}

#[tokio::test]
async fn credentials_are_looked_up_once_and_again_after_a_refusal() {
    let a = Registry::with_basic_auth("carol", "first-pw");
    let layout = a.scratch().join("layout");
    make_layout(&layout, "t", &[2048, 1024], &["amd64", "arm64"], 25);
    skopeo_push(
        &layout,
        "t",
        &format!("{}/team/app:t", a.addr),
        &["--dest-creds", "carol:first-pw"],
    );
    let source = Counting::default();
    *source.password.lock().unwrap() = "first-pw".into();
    let client = Client::builder().credentials(source.clone()).build().unwrap();

    // A copy of an index makes dozens of requests to this Basic registry; a credential helper
    // behind the source would run once per repository, not once per request.
    let src: Reference = format!("{}/team/app:t", a.addr).parse().unwrap();
    let dst: Reference = format!("{}/team/copy:t", a.addr).parse().unwrap();
    client.copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    let asked = source.asked.load(std::sync::atomic::Ordering::SeqCst);
    assert!(asked <= 2, "asked {asked} times for two repositories");

    // A refusal asks again, so a password that changed is picked up without a new client.
    let rotating = Counting::default();
    *rotating.password.lock().unwrap() = "wrong".into();
    let client = Client::builder().credentials(rotating.clone()).build().unwrap();
    client.digest(&src).await.unwrap_err();
    *rotating.password.lock().unwrap() = "first-pw".into();
    client.digest(&src).await.unwrap();
}

//! A token server for the registry's `auth: token` mode: checks Basic credentials and issues
//! RS256 JWTs (signed with the openssl command) granting the scopes asked for, as Docker Hub's
//! auth service does. Records every request's scopes so tests can check what irel asked for.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};

const SERVICE: &str = "irel-test-registry";
const ISSUER: &str = "irel-test-issuer";
/// The identity (refresh) token the server accepts in OAuth2 requests.
pub const IDENTITY_TOKEN: &str = "identity-token-for-bob";

/// A running token server (serves until the test process ends).
pub struct TokenServer {
    /// `http://127.0.0.1:PORT/token`.
    pub realm: String,
    /// Scopes of every token request, in order.
    pub requests: Arc<Mutex<Vec<Vec<String>>>>,
    /// Misbehaviour on demand.
    pub faults: Arc<TokenFaults>,
    bundle: PathBuf,
}

struct State {
    user: String,
    password: String,
    key: PathBuf,
    cert_der: Vec<u8>,
    identity_token: String,
    anonymous_pull: bool,
    lifetime: u64,
    requests: Arc<Mutex<Vec<Vec<String>>>>,
    faults: Arc<TokenFaults>,
}

/// Ways the token server can misbehave, set while it runs.
#[derive(Default)]
pub struct TokenFaults {
    /// This many of the next tokens are already expired (beyond the registry's 60 s leeway)
    /// although the response says they last: as a token that expires during a long copy.
    pub expired: std::sync::atomic::AtomicUsize,
    /// The next token asked for several scopes grants only the first.
    pub stingy_once: std::sync::atomic::AtomicBool,
    /// OAuth2 POSTs are answered 404, as by token servers without OAuth2 support.
    pub no_oauth2: std::sync::atomic::AtomicBool,
}

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

impl State {
    fn sign(&self, scopes: &[String]) -> String {
        use std::sync::atomic::Ordering;
        let mut now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let take = |n: usize| n.checked_sub(1);
        if self
            .faults
            .expired
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, take)
            .is_ok()
        {
            now -= 3600;
        }
        let stingy = scopes.len() > 1 && self.faults.stingy_once.swap(false, Ordering::SeqCst);
        let scopes = if stingy { &scopes[..1] } else { scopes };
        let access: Vec<serde_json::Value> = scopes
            .iter()
            .filter_map(|s| {
                let mut parts = s.rsplitn(2, ':');
                let actions = parts.next()?;
                let (typ, name) = parts.next()?.split_once(':')?;
                Some(serde_json::json!({"type": typ, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
            })
            .collect();
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256",
            "x5c": [base64::engine::general_purpose::STANDARD.encode(&self.cert_der)]});
        let claims = serde_json::json!({"iss": ISSUER, "sub": self.user, "aud": SERVICE,
            "exp": now + self.lifetime, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", scopes.len()),
            "access": access});
        let input = format!(
            "{}.{}",
            b64url(&serde_json::to_vec(&header).unwrap()),
            b64url(&serde_json::to_vec(&claims).unwrap())
        );
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&self.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("openssl");
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        format!("{input}.{}", b64url(&out.stdout))
    }

    /// OAuth2 (`POST`, form-encoded, an identity token as refresh token) as docker's
    /// identity tokens use it.
    async fn handle_oauth2(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        use http_body_util::BodyExt;
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
        let scopes: Vec<String> = form
            .get("scope")
            .map(|s| s.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        self.requests.lock().unwrap().push(scopes.clone());
        let valid = form.get("grant_type").map(String::as_str) == Some("refresh_token")
            && form.get("refresh_token") == Some(&self.identity_token)
            && form.get("client_id").is_some_and(|c| !c.is_empty());
        if !valid {
            return Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .body(Full::new(Bytes::from_static(br#"{"error":"invalid_grant"}"#)))
                .unwrap();
        }
        let body = serde_json::json!({"access_token": self.sign(&scopes), "expires_in": self.lifetime});
        Response::new(Full::new(Bytes::from(serde_json::to_vec(&body).unwrap())))
    }

    async fn handle(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        if req.method() == hyper::Method::POST {
            if self.faults.no_oauth2.load(std::sync::atomic::Ordering::SeqCst) {
                return Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(Full::new(Bytes::new()))
                    .unwrap();
            }
            return self.handle_oauth2(req).await;
        }
        let query = req.uri().query().unwrap_or_default();
        let scopes: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned())
            .collect();
        self.requests.lock().unwrap().push(scopes.clone());
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.user, self.password))
        );
        let credentials = req.headers().get("authorization");
        let authorized = credentials.is_some_and(|v| v.as_bytes() == expected.as_bytes());
        // Like a public repository on Docker Hub: anyone gets a pull-only token.
        let anonymous_pull =
            self.anonymous_pull && credentials.is_none() && scopes.iter().all(|s| s.ends_with(":pull"));
        if !authorized && !anonymous_pull {
            return Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .body(Full::new(Bytes::from_static(
                    br#"{"details":"incorrect username or password"}"#,
                )))
                .unwrap();
        }
        let token = self.sign(&scopes);
        let body = serde_json::json!({"token": token, "expires_in": self.lifetime,
            "issued_at": "2026-01-01T00:00:00Z"});
        Response::new(Full::new(Bytes::from(serde_json::to_vec(&body).unwrap())))
    }
}

impl TokenServer {
    /// Starts a token server accepting `user`/`password`, signing with the PKI's token key.
    pub fn start(pki: &super::Pki, user: &str, password: &str) -> TokenServer {
        Self::start_with(pki, user, password, false)
    }

    /// Like `start`; with `anonymous_pull`, requests without credentials get pull-only tokens.
    pub fn start_with(pki: &super::Pki, user: &str, password: &str, anonymous_pull: bool) -> TokenServer {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let faults = Arc::new(TokenFaults::default());
        let state = Arc::new(State {
            faults: faults.clone(),
            user: user.into(),
            password: password.into(),
            key: pki.path("token.key"),
            cert_der: std::fs::read(pki.path("token.der")).unwrap(),
            identity_token: IDENTITY_TOKEN.into(),
            anonymous_pull,
            lifetime: 300,
            requests: requests.clone(),
        });
        let addr = super::serve(move |req| {
            let state = state.clone();
            async move { state.handle(req).await }
        });
        TokenServer {
            realm: format!("http://{addr}/token"),
            requests,
            faults,
            bundle: pki.path("token.pem"),
        }
    }

    /// The registry configuration that trusts this server's tokens.
    pub fn registry_config(&self) -> super::RegistryConfig {
        super::RegistryConfig {
            token: Some((self.realm.clone(), SERVICE.into(), ISSUER.into(), self.bundle.clone())),
            ..Default::default()
        }
    }
}

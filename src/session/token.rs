//! Turning challenges and credentials into `Authorization` headers: bearer tokens fetched from
//! the realm (GET, or OAuth2 POST with an identity token) and cached until shortly before they
//! expire; Basic for registries that ask for it.
//!
//! A cached token is reused only for the registry and the credential it was obtained with, not
//! merely for the same (realm, service, scopes): one auth service often serves several
//! registries, and a token minted for registry A's credentials must never reach registry B.
//! Plain-http realms get credentials only on hosts the user marked insecure (or loopback).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Request, StatusCode};

use tower::ServiceExt as _;

use super::request::RequestBody;
use super::scheme::Schemes;
use super::PlainService;
use crate::auth::{parse_challenges, Credential, CredentialSource, Error, Scope};
use crate::remedy::Remedy;
use crate::transport::{self, read_body_limited, RegistryPolicy, Scheme, Transport};

/// Token responses larger than this are refused.
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;
/// Tokens are renewed this long before they expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// The lifetime the token spec says to assume when none (or less) is given.
const MIN_TOKEN_LIFETIME: u64 = 60;

#[derive(Clone)]
struct CachedToken {
    header: HeaderValue,
    renew_at: Instant,
}

/// (registry, credential fingerprint, realm, service, scopes).
type TokenKey = (String, [u8; 32], String, Option<String>, BTreeSet<Scope>);
type TokenSlot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;
/// (registry, repository) as credential sources are asked.
type CredentialKey = (String, Option<String>);

/// Turns challenges and credentials into `Authorization` headers. Shared by all requests of a
/// client; cheap to clone.
#[derive(Clone)]
pub(crate) struct Authenticator {
    /// For the scheme policy of realm hosts.
    transport: Transport,
    /// Token requests go through the plain stack: counted, with the user agent, redirects
    /// followed; never authorized by the registry's own token.
    plain: PlainService,
    schemes: Schemes,
    credentials: Arc<dyn CredentialSource>,
    tokens: Arc<Mutex<HashMap<TokenKey, TokenSlot>>>,
    /// What `credentials` answered, per (registry, repository): a source may run a credential
    /// helper (a subprocess), which is asked once, off the async threads.
    looked_up: Arc<Mutex<HashMap<CredentialKey, Option<Credential>>>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials or tokens themselves.
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Authenticator {
    pub(crate) fn new(
        transport: Transport,
        plain: PlainService,
        schemes: Schemes,
        credentials: Arc<dyn CredentialSource>,
    ) -> Self {
        Authenticator {
            transport,
            plain,
            schemes,
            credentials,
            tokens: Arc::default(),
            looked_up: Arc::default(),
        }
    }

    /// The credential for `repository` on `registry`: asked of the sources once (on a blocking
    /// thread, as a helper may take a while), then remembered. `fresh` (after a 401) asks
    /// again, so credentials that changed meanwhile are picked up.
    async fn credential(
        &self,
        registry: &str,
        repository: Option<&str>,
        fresh: bool,
    ) -> Result<Option<Credential>, Error> {
        let key = (registry.to_string(), repository.map(str::to_string));
        if !fresh {
            if let Some(known) = self.looked_up.lock().expect("credential cache poisoned").get(&key) {
                return Ok(known.clone());
            }
        }
        let (credentials, (r, repo)) = (self.credentials.clone(), key.clone());
        let found = tokio::task::spawn_blocking(move || credentials.lookup(&r, repo.as_deref()))
            .await
            .expect("credential lookups do not panic")?;
        self.looked_up
            .lock()
            .expect("credential cache poisoned")
            .insert(key, found.clone());
        Ok(found)
    }

    /// Whether credentials are configured for `registry` (for error messages).
    pub(crate) fn has_credentials(&self, registry: &str) -> bool {
        self.credentials.credential(registry).is_some()
    }

    /// The `Authorization` header for a request to `api_host` (whose credentials are filed
    /// under `cred_key`) that needs `scopes`, answering `challenges`. `fresh` skips the cache,
    /// for the one retry after a 401.
    pub(crate) async fn authorize(
        &self,
        api_host: &str,
        cred_key: &str,
        challenges: &[String],
        scopes: &[Scope],
        fresh: bool,
    ) -> Result<Option<HeaderValue>, Error> {
        let mut parsed = Vec::new();
        for header in challenges {
            parsed.extend(parse_challenges(header)?);
        }
        let repository = scopes.iter().find_map(|s| s.repository());
        let credential = self.credential(cred_key, repository, fresh).await?;
        if let Some(bearer) = parsed.iter().find(|c| c.scheme == "bearer") {
            if let Some(Credential::RegistryToken(t)) = &credential {
                let header = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| Error::UnusableCredential {
                    registry: cred_key.to_string(),
                    reason: "the registry token has characters a header cannot carry",
                })?;
                return Ok(Some(sensitive(header)));
            }
            let Some(realm) = bearer.param("realm") else {
                return Err(Error::Challenge {
                    header: challenges.join(", "),
                    reason: "Bearer challenge without realm".into(),
                });
            };
            // A challenge may name no service (an empty one names none either).
            let service = bearer.param("service").filter(|s| !s.is_empty());
            let mut all: BTreeSet<Scope> = scopes.iter().cloned().collect();
            // A scope the registry itself asks for (insufficient_scope) is added to ours.
            if let Some(extra) = bearer.param("scope") {
                all.extend(extra.split(' ').filter(|s| !s.is_empty()).map(Scope::raw));
            }
            let realm = self.check_realm(api_host, realm).await?;
            let token = self
                .bearer_token(api_host, &realm, service, all, credential.as_ref(), fresh)
                .await?;
            return Ok(Some(token));
        }
        if parsed.iter().any(|c| c.scheme == "basic") {
            if let Some(Credential::Basic { username, password }) = &credential {
                return Ok(Some(basic_header(username, password)));
            }
        }
        Ok(None)
    }

    /// Resolves a (possibly relative) realm and refuses ones that would leak credentials.
    async fn check_realm(&self, api_host: &str, realm: &str) -> Result<url::Url, Error> {
        let base = transport::parse_url(&self.schemes.base_url(api_host).await?)?;
        let url = base.join(realm).map_err(|e| transport::Error::InvalidUrl {
            url: realm.to_string(),
            reason: e.to_string(),
        })?;
        let refuse = |reason: String, remedy: Option<Remedy>| Error::RealmRefused {
            realm: realm.to_string(),
            registry: api_host.to_string(),
            reason,
            remedy,
        };
        match url.scheme() {
            "https" => Ok(url),
            "http" => {
                let ping = self.schemes.ping(api_host).await?;
                let policy = self.transport.policy(api_host);
                if !(policy == RegistryPolicy::Insecure || (policy.allows_http() && ping.scheme == Scheme::Http)) {
                    return Err(refuse(
                        "it is plain http for a registry reached over https".into(),
                        Some(Remedy::MarkInsecure {
                            registry: api_host.to_string(),
                        }),
                    ));
                }
                // Credentials go in cleartext only where the user accepted cleartext: the
                // registry's own host, or a host marked insecure (or loopback) itself.
                let realm_host = &url[url::Position::BeforeHost..url::Position::AfterPort];
                let (registry_host, _) = transport::split_host_port(api_host);
                let same_host = url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(registry_host));
                if same_host || self.transport.policy(realm_host) != RegistryPolicy::Secure {
                    Ok(url)
                } else {
                    Err(refuse(
                        format!(
                            "it is plain http to {realm_host}, another host that is not marked insecure, and \
                             credentials would cross the network in cleartext"
                        ),
                        Some(Remedy::MarkInsecure {
                            registry: realm_host.to_string(),
                        }),
                    ))
                }
            }
            _ => Err(refuse("only http(s) realms are supported".into(), None)),
        }
    }

    async fn bearer_token(
        &self,
        api_host: &str,
        realm: &url::Url,
        service: Option<&str>,
        scopes: BTreeSet<Scope>,
        credential: Option<&Credential>,
        fresh: bool,
    ) -> Result<HeaderValue, Error> {
        let key = (
            api_host.to_ascii_lowercase(),
            fingerprint(credential),
            realm.to_string(),
            service.map(str::to_string),
            scopes,
        );
        let slot = {
            let mut tokens = self.tokens.lock().expect("token cache poisoned");
            tokens.entry(key.clone()).or_default().clone()
        };
        // One fetch per key at a time: concurrent blob copies wait for the same token.
        let mut cached = slot.lock().await;
        if let Some(t) = cached.as_ref() {
            if !fresh && Instant::now() < t.renew_at {
                return Ok(t.header.clone());
            }
        }
        let scopes: Vec<String> = key.4.iter().map(|s| s.to_string()).collect();
        let fetched = match credential {
            Some(Credential::IdentityToken(refresh)) => self.oauth2_token(realm, service, &scopes, refresh).await?,
            other => self.get_token(realm, service, &scopes, other).await?,
        };
        *cached = Some(fetched.clone());
        Ok(fetched.header)
    }

    async fn get_token(
        &self,
        realm: &url::Url,
        service: Option<&str>,
        scopes: &[String],
        credential: Option<&Credential>,
    ) -> Result<CachedToken, Error> {
        let mut url = realm.clone();
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = service {
                q.append_pair("service", service);
            }
            for s in scopes {
                q.append_pair("scope", s);
            }
        }
        let mut headers = HeaderMap::new();
        if let Some(Credential::Basic { username, password }) = credential {
            headers.insert(AUTHORIZATION, basic_header(username, password));
        }
        let mut req = Request::get(transport::to_uri(&url)?)
            .body(RequestBody::Empty)
            .expect("request parts are valid");
        *req.headers_mut() = headers;
        let resp = self.plain.clone().oneshot(req).await?;
        self.token_from_response(realm, resp, credential.is_some()).await
    }

    async fn oauth2_token(
        &self,
        realm: &url::Url,
        service: Option<&str>,
        scopes: &[String],
        refresh_token: &str,
    ) -> Result<CachedToken, Error> {
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "refresh_token")
                .append_pair("refresh_token", refresh_token);
            if let Some(service) = service {
                form.append_pair("service", service);
            }
            form.append_pair("client_id", "irel")
                .append_pair("scope", &scopes.join(" "))
                .finish()
        };
        let req = Request::post(transport::to_uri(realm)?)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(RequestBody::Bytes(form.into()))
            .expect("request parts are valid");
        let resp = self.plain.clone().oneshot(req).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            // Registries without OAuth2 support: the plain GET flow, anonymously.
            return self.get_token(realm, service, scopes, None).await;
        }
        self.token_from_response(realm, resp, true).await
    }

    async fn token_from_response(
        &self,
        realm: &url::Url,
        resp: http::Response<transport::ResponseBody>,
        had_credentials: bool,
    ) -> Result<CachedToken, Error> {
        let realm_str = realm.as_str().to_string();
        let status = resp.status();
        let received = Instant::now();
        let body = read_body_limited(resp.into_body(), MAX_TOKEN_RESPONSE, &realm_str).await?;
        if !status.is_success() {
            let hint = match (status.as_u16(), had_credentials) {
                (401 | 403, true) => ": the credentials were rejected; check the user name and password",
                (401 | 403, false) => ": this registry needs credentials; log in or pass them",
                _ => "",
            };
            return Err(Error::TokenDenied {
                realm: realm_str,
                status,
                hint,
            });
        }
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| Error::TokenResponse {
            realm: realm_str.clone(),
            reason: e.to_string(),
        })?;
        let token = parsed
            .token
            .filter(|t| !t.is_empty())
            .or(parsed.access_token.filter(|t| !t.is_empty()))
            .ok_or_else(|| Error::TokenResponse {
                realm: realm_str.clone(),
                reason: "neither token nor access_token is set".into(),
            })?;
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(MIN_TOKEN_LIFETIME).max(MIN_TOKEN_LIFETIME));
        let header = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| Error::TokenResponse {
            realm: realm_str,
            reason: "the token has characters a header cannot carry".into(),
        })?;
        Ok(CachedToken {
            header: sensitive(header),
            renew_at: received + lifetime.saturating_sub(EXPIRY_MARGIN),
        })
    }
}

/// A digest identifying a credential in the token cache, so the cache holds no secret of its
/// own and tokens obtained with one credential are never handed out for another.
fn fingerprint(credential: Option<&Credential>) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    match credential {
        None => h.update(b"anonymous"),
        Some(Credential::Basic { username, password }) => {
            h.update(b"basic\0");
            h.update(username.as_bytes());
            h.update(b"\0");
            h.update(password.as_bytes());
        }
        Some(Credential::IdentityToken(t)) => {
            h.update(b"identity\0");
            h.update(t.as_bytes());
        }
        Some(Credential::RegistryToken(t)) => {
            h.update(b"registry-token\0");
            h.update(t.as_bytes());
        }
    }
    h.finalize().into()
}

fn sensitive(mut v: HeaderValue) -> HeaderValue {
    v.set_sensitive(true);
    v
}

fn basic_header(username: &str, password: &str) -> HeaderValue {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    // Base64's alphabet is all characters a header value may carry.
    sensitive(HeaderValue::from_str(&format!("Basic {encoded}")).expect("base64 is a valid header value"))
}

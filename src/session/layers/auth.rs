//! Authorization: requests that carry a [`RegistryContext`] get the `Authorization` their
//! registry's challenge calls for (a bearer token for their scopes, from the cache or the token
//! server; or Basic), and only on the registry's own origin. A 401 is answered once, with a
//! fresh token carrying any scope the registry's new challenge adds (`insufficient_scope`), when
//! the body can be sent again.

use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::StatusCode;
use tower::ServiceExt as _;

use super::{rebuild, BoxFuture, HttpRequest, HttpResponse};
use crate::error::{Error, RegistryHint};
use crate::remedy::Remedy;
use crate::session::request::RegistryContext;
use crate::session::scheme::Schemes;
use crate::session::token::Authenticator;
use crate::transport::{self, read_body_limited};

/// Registry error bodies are read up to this size.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Authorizes registry requests (see the module documentation).
///
/// Only the session makes one: [`SessionBuilder::build`](crate::session::SessionBuilder::build)
/// puts it in every session's stack with the session's credentials, so each request sent with
/// [`Session::send`](crate::session::Session::send) is authorized by it.
/// ```no_run
/// # async fn demo() -> Result<(), irel::Error> {
/// use irel::auth::{Credential, StaticCredentials};
/// use irel::session::{RegistryRequest, Session};
/// let mut credentials = StaticCredentials::default();
/// credentials.insert("registry.example", Credential::Basic { username: "ci".into(), password: "s3cret".into() });
/// let session = Session::builder().credentials(credentials).build()?;
/// let repo = "registry.example/team/app".parse::<irel::Reference>()?.to_repository();
/// // Sent with a bearer token for `repository:team/app:pull`, asked for with the Basic credentials.
/// let tags = session.send(RegistryRequest::get(&repo, "/v2/team/app/tags/list")).await?;
/// # let _ = tags; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AuthLayer {
    auth: Authenticator,
    schemes: Schemes,
}

impl AuthLayer {
    pub(crate) fn new(auth: Authenticator, schemes: Schemes) -> Self {
        AuthLayer { auth, schemes }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Auth<S>;
    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            auth: self.auth.clone(),
            schemes: self.schemes.clone(),
        }
    }
}

/// The service [`AuthLayer`] makes.
///
/// Not built by embedders either: it is the outermost of irel's layers in the stack that
/// [`SessionBuilder::layer`](crate::session::SessionBuilder::layer) wraps. A request it cannot get
/// authorized fails with a 401 [`Error::Registry`] whose hint says why:
/// ```no_run
/// # async fn demo(session: irel::session::Session) -> Result<(), irel::Error> {
/// use irel::session::RegistryRequest;
/// let repo = "registry.example/private/app".parse::<irel::Reference>()?.to_repository();
/// match session.send(RegistryRequest::get(&repo, "/v2/private/app/tags/list")).await {
///     Ok(resp) => println!("{}", resp.status()),
///     Err(e) if e.status() == Some(http::StatusCode::UNAUTHORIZED) => eprintln!("{e} ({:?})", e.remedy()),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Auth<S> {
    inner: S,
    auth: Authenticator,
    schemes: Schemes,
}

impl<S> tower::Service<HttpRequest> for Auth<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = transport::Error> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = HttpResponse;
    type Error = Error;
    type Future = BoxFuture<Result<HttpResponse, Error>>;

    /// Always ready: the service below is readied only when the request goes to it, after the
    /// ping and the token. Readied here, it would hold what it reserves (a permit of a
    /// concurrency limit put next to the wire) while the ping and the token request wait for
    /// the same capacity.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let inner = self.inner.clone();
        let Some(context) = req.extensions().get::<RegistryContext>().cloned() else {
            // Not a registry request: nothing to authorize.
            return Box::pin(async move { Ok(inner.oneshot(req).await?) });
        };
        let (auth, schemes) = (self.auth.clone(), self.schemes.clone());
        Box::pin(async move {
            let host = &context.api_host;
            let ping = schemes.ping(host).await?;
            let base = transport::parse_url(&format!("{}://{host}/", ping.scheme.as_str()))?;
            let url = req.uri().to_string();
            let same_origin = transport::parse_url(&url)?.origin() == base.origin();
            let mut authorization = None;
            if ping.status == StatusCode::UNAUTHORIZED && same_origin {
                authorization = auth
                    .authorize(host, &context.registry, &ping.challenges, &context.scopes, false)
                    .await?;
            }
            let (parts, body) = req.into_parts();
            let again = body.try_clone();
            let mut first = rebuild(&parts, body);
            if let Some(a) = authorization {
                first.headers_mut().insert(AUTHORIZATION, a);
            }
            let resp = inner.clone().oneshot(first).await?;
            if resp.status() != StatusCode::UNAUTHORIZED || !same_origin {
                return Ok(resp);
            }
            let unauthorized = || unauthorized(&auth, &context, &parts.method, &url);
            let Some(again) = again else {
                return Err(unauthorized());
            };
            let challenges: Vec<String> = resp
                .headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect();
            let _ = read_body_limited(resp.into_body(), MAX_ERROR_BODY, &url).await;
            let Some(fresh) = auth
                .authorize(host, &context.registry, &challenges, &context.scopes, true)
                .await?
            else {
                return Err(unauthorized());
            };
            let mut retry = rebuild(&parts, again);
            retry.headers_mut().insert(AUTHORIZATION, fresh);
            let resp = inner.oneshot(retry).await?;
            if resp.status() == StatusCode::UNAUTHORIZED {
                return Err(unauthorized());
            }
            Ok(resp)
        })
    }
}

/// The error for a request the registry would not authorize.
fn unauthorized(auth: &Authenticator, context: &RegistryContext, method: &http::Method, url: &str) -> Error {
    let registry = &context.registry;
    let hint = if auth.has_credentials(registry) {
        RegistryHint {
            cause: format!("the credentials for {registry} were not accepted for this operation"),
            remedy: None,
        }
    } else {
        RegistryHint {
            cause: format!("{registry} requires authentication and irel has no credentials for it"),
            remedy: Some(Remedy::GiveCredentials {
                registry: registry.clone(),
            }),
        }
    };
    Error::Registry {
        operation: crate::session::request::method_name(method),
        url: url.to_string(),
        status: StatusCode::UNAUTHORIZED,
        errors: Vec::new(),
        hint: Some(Box::new(hint)),
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http::{Method, Request};
    use tower::util::BoxCloneSyncService;
    use tower::Layer as _;

    use super::super::testing::{answer, stand_in, Seen};
    use super::*;
    use crate::auth::{Credential, Scope, StaticCredentials};
    use crate::session::request::RequestBody;
    use crate::session::PlainService;
    use crate::transport::{Transport, TransportConfig};

    const CHALLENGE: &str = r#"Bearer realm="https://auth.test/token",service="reg""#;

    /// An auth layer over `wire`, with Basic credentials for r.test when `with_credentials`.
    fn auth_over(
        wire: impl tower::Service<HttpRequest, Response = HttpResponse, Error = transport::Error, Future = impl Send + 'static>
            + Clone
            + Send
            + Sync
            + 'static,
        with_credentials: bool,
    ) -> Auth<PlainService> {
        let credential = with_credentials.then(|| Credential::Basic {
            username: "u".into(),
            password: "p".into(),
        });
        auth_with(wire, credential)
    }

    /// An auth layer over `wire`, with `credential` for r.test.
    fn auth_with(
        wire: impl tower::Service<HttpRequest, Response = HttpResponse, Error = transport::Error, Future = impl Send + 'static>
            + Clone
            + Send
            + Sync
            + 'static,
        credential: Option<Credential>,
    ) -> Auth<PlainService> {
        let transport = Transport::new(&TransportConfig::default()).unwrap();
        let plain: PlainService = BoxCloneSyncService::new(wire);
        let schemes = Schemes::new(transport.clone(), plain.clone());
        let mut credentials = StaticCredentials::default();
        if let Some(credential) = credential {
            credentials.insert("r.test", credential);
        }
        let auth = Authenticator::new(transport, plain.clone(), schemes.clone(), Arc::new(credentials));
        AuthLayer::new(auth, schemes).layer(plain)
    }

    fn registry_request(method: Method, url: &str, body: RequestBody, scope: Scope) -> HttpRequest {
        let mut req = Request::builder().method(method).uri(url).body(body).unwrap();
        req.extensions_mut().insert(RegistryContext {
            registry: "r.test".into(),
            api_host: "r.test".into(),
            scopes: vec![scope],
            operation: "GET tags".into(),
        });
        req
    }

    fn authorization(seen: &Seen) -> Option<String> {
        seen.headers.get(AUTHORIZATION).map(|v| v.to_str().unwrap().to_string())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_401_gets_one_fresh_token_with_the_scope_the_registry_adds() {
        let (wire, seen) = stand_in(|n, req| {
            let uri = req.uri().to_string();
            Ok(match (n, uri.as_str()) {
                (_, "https://r.test/v2/") => answer(401, &[("www-authenticate", CHALLENGE)], ""),
                (_, u) if u.starts_with("https://auth.test/token") && u.contains("extra") => {
                    answer(200, &[], r#"{"token":"t2"}"#)
                }
                (_, u) if u.starts_with("https://auth.test/token") => answer(200, &[], r#"{"token":"t1"}"#),
                _ if req.headers()[AUTHORIZATION] == "Bearer t2" => answer(200, &[], "{}"),
                _ => answer(
                    401,
                    &[(
                        "www-authenticate",
                        r#"Bearer realm="https://auth.test/token",service="reg",scope="repository:extra:pull",error="insufficient_scope""#,
                    )],
                    "",
                ),
            })
        });
        let req = registry_request(
            Method::GET,
            "https://r.test/v2/a/tags/list",
            RequestBody::Empty,
            Scope::pull("a"),
        );
        let resp = auth_over(wire, true).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let seen = seen.lock().unwrap();
        let asked: Vec<String> = seen.iter().map(|s| s.uri.to_string()).collect();
        assert_eq!(asked.len(), 5, "{asked:#?}");
        assert!(asked[1].contains("scope=repository%3Aa%3Apull"), "{}", asked[1]);
        assert_eq!(
            authorization(&seen[1]).as_deref(),
            Some("Basic dTpw"),
            "credentials go to the realm"
        );
        assert_eq!(authorization(&seen[2]).as_deref(), Some("Bearer t1"));
        assert!(asked[3].contains("repository%3Aextra%3Apull") && asked[3].contains("repository%3Aa%3Apull"));
        assert_eq!(authorization(&seen[4]).as_deref(), Some("Bearer t2"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_stream_is_never_sent_twice_and_the_401_names_the_registry() {
        let (wire, seen) = stand_in(|_, req| {
            Ok(match req.uri().path() {
                "/v2/" => answer(401, &[("www-authenticate", r#"Basic realm="reg""#)], ""),
                _ => answer(401, &[("www-authenticate", r#"Basic realm="reg""#)], ""),
            })
        });
        let req = registry_request(
            Method::PUT,
            "https://r.test/v2/a/blobs/uploads/1?digest=sha256:0",
            RequestBody::Stream(transport::empty_body(), 0),
            Scope::push("a"),
        );
        let err = auth_over(wire, false).oneshot(req).await.unwrap_err();
        assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
        assert!(err.to_string().contains("r.test requires authentication"), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 2, "the ping and one PUT");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_token_that_cannot_be_a_header_is_an_error_not_an_empty_header() {
        let (wire, seen) = stand_in(|_, _| Ok(answer(401, &[("www-authenticate", CHALLENGE)], "")));
        let req = registry_request(
            Method::GET,
            "https://r.test/v2/a/tags/list",
            RequestBody::Empty,
            Scope::pull("a"),
        );
        let token = Credential::RegistryToken("t0k\nen".into());
        let err = auth_with(wire, Some(token)).oneshot(req).await.unwrap_err();
        assert!(
            matches!(&err, Error::Auth(crate::auth::Error::UnusableCredential { registry, .. }) if registry == "r.test"),
            "{err}"
        );
        let seen = seen.lock().unwrap();
        assert!(
            seen.iter().all(|s| authorization(s).is_none()),
            "no request went out with it"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn another_origin_gets_no_credentials() {
        let (wire, seen) = stand_in(|_, req| {
            Ok(match req.uri().host() {
                Some("r.test") => answer(401, &[("www-authenticate", r#"Basic realm="reg""#)], ""),
                _ => answer(200, &[], ""),
            })
        });
        let req = registry_request(
            Method::GET,
            "https://storage.test/upload/1",
            RequestBody::Empty,
            Scope::pull("a"),
        );
        auth_over(wire, true).oneshot(req).await.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(authorization(&seen[1]), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn requests_without_a_registry_context_pass_as_they_are() {
        let (wire, seen) = stand_in(|_, _| Ok(answer(204, &[], "")));
        let req = Request::get("https://elsewhere.test/x")
            .body(RequestBody::Empty)
            .unwrap();
        let resp = auth_over(wire, true).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 204);
        assert_eq!(seen.lock().unwrap().len(), 1, "no ping either");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_concurrency_limit_next_to_the_wire_leaves_room_for_the_ping_and_the_token() {
        let (wire, seen) = stand_in(|_, req| {
            Ok(match req.uri().to_string().as_str() {
                "https://r.test/v2/" => answer(401, &[("www-authenticate", CHALLENGE)], ""),
                u if u.starts_with("https://auth.test/token") => answer(200, &[], r#"{"token":"t1"}"#),
                _ => answer(200, &[], "{}"),
            })
        });
        // One request on the wire at a time: the ping and the token request go through the
        // same limit as the request they authorize.
        let limited = tower::limit::ConcurrencyLimit::new(wire, 1);
        let req = registry_request(
            Method::GET,
            "https://r.test/v2/a/tags/list",
            RequestBody::Empty,
            Scope::pull("a"),
        );
        let resp = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            auth_over(limited, false).oneshot(req),
        )
        .await
        .expect("no request waits for capacity another one holds")
        .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(seen.lock().unwrap().len(), 3, "ping, token, request");
    }
}

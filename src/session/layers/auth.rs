//! Authorization: requests that carry a [`RegistryContext`] get the `Authorization` their
//! registry's challenge calls for (a bearer token for their scopes, from the cache or the token
//! server; or Basic), and only on the registry's own origin. A 401 is answered once, with a
//! fresh token carrying any scope the registry's new challenge adds (`insufficient_scope`), when
//! the body can be sent again.

use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::StatusCode;
use tower::ServiceExt as _;

use super::{rebuild, take_ready, BoxFuture, HttpRequest, HttpResponse};
use crate::error::Error;
use crate::session::request::RegistryContext;
use crate::session::scheme::Schemes;
use crate::session::token::Authenticator;
use crate::transport::{self, read_body_limited};

/// Registry error bodies are read up to this size.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Authorizes registry requests (see the module documentation).
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

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::from)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let mut inner = take_ready(&mut self.inner);
        let Some(context) = req.extensions().get::<RegistryContext>().cloned() else {
            // Not a registry request: nothing to authorize.
            return Box::pin(async move { Ok(inner.call(req).await?) });
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
            let resp = inner.call(first).await?;
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
        format!("the credentials for {registry} were not accepted for this operation")
    } else {
        format!(
            "{registry} requires authentication and irel has no credentials for it; `irel login {registry}`, \
             or pass --creds (--src-creds/--dest-creds for a copy)"
        )
    };
    Error::Registry {
        operation: crate::session::request::method_name(method),
        url: url.to_string(),
        status: StatusCode::UNAUTHORIZED,
        errors: Vec::new(),
        hint: Some(hint),
        retry_after: None,
    }
}

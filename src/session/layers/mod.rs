//! The session's layers, each a [`tower::Layer`] with one job, composed in one place
//! ([`Session`](super::Session)'s builder). From the outside in:
//!
//! | layer | job |
//! |---|---|
//! | *(the embedder's own)* | whatever was added with [`SessionBuilder::layer`](super::SessionBuilder::layer) |
//! | [`AuthLayer`] | `Authorization` from the ping's challenge and the token cache; one fresh token after a 401 |
//! | [`RetryLayer`] | sends retry-safe requests again after failures and 408/429/5xx, honouring `Retry-After` |
//! | [`RedirectLayer`] | follows GET/HEAD redirects by hand: no https → http, no credentials to another origin |
//! | [`WarningsLayer`] | passes on registries' `Warning: 299` texts, once each |
//! | [`UserAgentLayer`] | sets `User-Agent` |
//! | [`CountLayer`] | counts what goes on the wire (for `irel bench`) |
//! | [`Wire`] | the [`Transport`](crate::transport::Transport): pooled connections, TLS, timeouts |
//!
//! Pings and token requests go through the plain part of the stack (below [`RetryLayer`]).

mod auth;
mod count;
mod redirect;
pub(crate) mod retry;
mod user_agent;
pub(crate) mod warnings;
mod wire;

pub use auth::{Auth, AuthLayer};
pub use count::{Count, CountLayer, RequestCounter};
pub(crate) use redirect::{check_followed, resolve_followed};
pub use redirect::{Redirect, RedirectLayer};
pub use retry::{Retry, RetryLayer};
pub use user_agent::{UserAgent, UserAgentLayer};
pub use warnings::{WarningListener, Warnings, WarningsLayer, WarningsService};
pub use wire::Wire;

use std::future::Future;
use std::pin::Pin;

use super::request::RequestBody;
use crate::transport::ResponseBody;

/// A request as it travels through the layers.
///
/// ```
/// use irel::session::{layers::HttpRequest, RequestBody};
/// let req: HttpRequest = http::Request::get("https://registry.example/v2/").body(RequestBody::Empty).unwrap();
/// assert!(req.body().is_empty());
/// ```
pub type HttpRequest = http::Request<RequestBody>;
/// A response as it travels back.
///
/// ```
/// use irel::session::layers::HttpResponse;
/// use irel::transport::{full_body, ResponseBody};
/// let resp = HttpResponse::new(ResponseBody::from_body(full_body(r#"{"tags":[]}"#)));
/// assert_eq!(resp.status(), http::StatusCode::OK);
/// ```
pub type HttpResponse = http::Response<ResponseBody>;
/// The future the layers' services return.
///
/// A stand-in for the wire, answering every request with an empty 200:
/// ```
/// use irel::session::layers::{BoxFuture, HttpRequest, HttpResponse};
/// use irel::transport::{empty_body, Error, ResponseBody};
/// fn answer(_req: HttpRequest) -> BoxFuture<Result<HttpResponse, Error>> {
///     Box::pin(async { Ok(HttpResponse::new(ResponseBody::from_body(empty_body()))) })
/// }
/// let wire = tower::service_fn(answer);
/// # let _ = wire;
/// ```
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A request like `parts` describes, with `body`: what a layer sends again.
pub(crate) fn rebuild(parts: &http::request::Parts, body: RequestBody) -> HttpRequest {
    let mut req = http::Request::new(body);
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = parts.uri.clone();
    *req.version_mut() = parts.version;
    *req.headers_mut() = parts.headers.clone();
    *req.extensions_mut() = parts.extensions.clone();
    req
}

/// Takes the service that `poll_ready` readied, leaving a clone in its place (tower's
/// guidance for services whose futures outlive `&mut self`).
pub(crate) fn take_ready<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}

#[cfg(test)]
pub(crate) mod testing {
    //! An in-process service standing in for the wire, answering from a closure, and
    //! recording what reached it.
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http::{HeaderMap, StatusCode, Uri};

    use super::{HttpRequest, HttpResponse};
    use crate::transport::{self, ResponseBody};

    /// What one request looked like when it reached the stand-in.
    #[derive(Debug, Clone)]
    pub(crate) struct Seen {
        pub uri: Uri,
        pub headers: HeaderMap,
    }

    /// A response with `status`, `headers` and `body`.
    pub(crate) fn answer(status: u16, headers: &[(&str, &str)], body: &'static str) -> HttpResponse {
        let mut resp = http::Response::builder().status(StatusCode::from_u16(status).unwrap());
        for (k, v) in headers {
            resp = resp.header(*k, *v);
        }
        resp.body(ResponseBody::from_body(transport::full_body(Bytes::from_static(
            body.as_bytes(),
        ))))
        .unwrap()
    }

    /// A service answering each request with `respond(n, &request)` (n counts from 0), and the
    /// log of requests it saw.
    #[allow(clippy::type_complexity)]
    pub(crate) fn stand_in(
        respond: impl Fn(usize, &HttpRequest) -> Result<HttpResponse, transport::Error> + Send + Sync + 'static,
    ) -> (
        impl tower::Service<HttpRequest, Response = HttpResponse, Error = transport::Error, Future = impl Send + 'static>
            + Clone
            + Send
            + Sync
            + 'static,
        Arc<Mutex<Vec<Seen>>>,
    ) {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let respond = Arc::new(respond);
        let service = tower::service_fn(move |req: HttpRequest| {
            let n = {
                let mut log = log.lock().unwrap();
                log.push(Seen {
                    uri: req.uri().clone(),
                    headers: req.headers().clone(),
                });
                log.len() - 1
            };
            let result = respond(n, &req);
            async move { result }
        });
        (service, seen)
    }

    /// A GET of `url` with no body.
    pub(crate) fn get(url: &str) -> HttpRequest {
        http::Request::get(url).body(super::RequestBody::Empty).unwrap()
    }
}

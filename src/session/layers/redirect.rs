//! Redirects, followed by hand: relative `Location`s resolved against the request URL, at most
//! ten hops, `Authorization` dropped when the origin changes (registries redirect blob
//! downloads to object storage, which must never see registry credentials), and https → http
//! downgrades refused.

use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, LOCATION};
use http::{Method, StatusCode};
use tower::ServiceExt as _;

use super::{take_ready, BoxFuture, HttpRequest, HttpResponse};
use crate::session::request::RequestBody;
use crate::transport::{self, parse_url, to_uri, Error};

/// Why following `to` from `from` is refused, if it is: only http(s), and never https → http.
fn refusal(from: &url::Url, to: &url::Url) -> Option<&'static str> {
    match to.scheme() {
        "https" => None,
        "http" if from.scheme() == "http" => None,
        "http" => Some("it downgrades https to http"),
        _ => Some("only http(s) locations are followed"),
    }
}

/// Checks a URL a registry handed over (`what`: an upload `Location`, a pagination `Link`)
/// as redirects are checked: no downgrade from https to plain http, no other schemes.
pub(crate) fn check_followed(from: &url::Url, to: &url::Url, what: &'static str) -> Result<(), Error> {
    match refusal(from, to) {
        None => Ok(()),
        Some(reason) => Err(Error::FollowRefused {
            what,
            from: transport::redact_url(from.as_str()),
            to: transport::redact_url(to.as_str()),
            reason,
        }),
    }
}

/// `to`, a URL a registry handed over in its answer to `from` (often relative), resolved
/// against `from` and checked by [`check_followed`].
pub(crate) fn resolve_followed(from: &str, to: &str, what: &'static str) -> Result<url::Url, Error> {
    let base = parse_url(from)?;
    let url = base.join(to).map_err(|e| Error::InvalidUrl {
        url: to.to_string(),
        reason: e.to_string(),
    })?;
    check_followed(&base, &url, what)?;
    Ok(url)
}

const MAX_REDIRECTS: usize = 10;

/// Follows the redirects of GET and HEAD requests.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use irel::session::{layers::{HttpRequest, RedirectLayer}, RequestBody};
/// use irel::transport::{empty_body, ResponseBody};
/// use tower::{ServiceBuilder, ServiceExt as _};
/// let wire = tower::service_fn(|req: HttpRequest| async move {
///     let (status, location) = if req.uri().path() == "/v2/old" { (307, "/v2/new") } else { (200, "") };
///     let resp = http::Response::builder().status(status).header("location", location);
///     Ok::<_, irel::transport::Error>(resp.body(ResponseBody::from_body(empty_body())).unwrap())
/// });
/// let svc = ServiceBuilder::new().layer(RedirectLayer).service(wire);
/// let req = http::Request::get("https://registry.example/v2/old").body(RequestBody::Empty).unwrap();
/// assert_eq!(svc.oneshot(req).await.unwrap().status(), 200);
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct RedirectLayer;

impl<S> tower::Layer<S> for RedirectLayer {
    type Service = Redirect<S>;
    fn layer(&self, inner: S) -> Redirect<S> {
        Redirect { inner }
    }
}

/// The service [`RedirectLayer`] makes.
///
/// ```
/// use irel::session::layers::{Redirect, RedirectLayer, Wire};
/// use irel::transport::{Transport, TransportConfig};
/// use tower::Layer as _;
/// let wire = Wire(Transport::new(&TransportConfig::default()).unwrap());
/// let following: Redirect<Wire> = RedirectLayer.layer(wire);
/// # let _ = following;
/// ```
#[derive(Clone, Debug)]
pub struct Redirect<S> {
    inner: S,
}

impl<S> tower::Service<HttpRequest> for Redirect<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = Error> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = HttpResponse;
    type Error = Error;
    type Future = BoxFuture<Result<HttpResponse, Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let mut inner = take_ready(&mut self.inner);
        if !(req.body().is_empty() && (req.method() == Method::GET || req.method() == Method::HEAD)) {
            return Box::pin(inner.call(req));
        }
        Box::pin(async move {
            let (mut parts, _) = req.into_parts();
            let mut url = parse_url(&parts.uri.to_string())?;
            let mut first = true;
            for _ in 0..=MAX_REDIRECTS {
                let hop = super::rebuild(&parts, RequestBody::Empty);
                let resp = if first {
                    first = false;
                    inner.call(hop).await?
                } else {
                    inner.clone().oneshot(hop).await?
                };
                if !resp.status().is_redirection() || resp.status() == StatusCode::NOT_MODIFIED {
                    return Ok(resp);
                }
                let Some(location) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) else {
                    return Ok(resp);
                };
                let next = url.join(location).map_err(|e| Error::InvalidUrl {
                    url: location.to_string(),
                    reason: e.to_string(),
                })?;
                let refuse = |reason| Error::RedirectRefused {
                    from: transport::redact_url(url.as_str()),
                    to: transport::redact_url(next.as_str()),
                    reason,
                };
                if let Some(reason) = refusal(&url, &next) {
                    return Err(refuse(reason));
                }
                if next.origin() != url.origin() {
                    // Credentials for the registry must never reach storage backends or other hosts.
                    parts.headers.remove(AUTHORIZATION);
                }
                parts.uri = to_uri(&next)?;
                url = next;
            }
            Err(Error::RedirectRefused {
                from: transport::redact_url(url.as_str()),
                to: String::new(),
                reason: "more than 10 redirects",
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use tower::{Layer as _, ServiceExt as _};

    use super::super::testing::{answer, get, stand_in};
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn credentials_stay_on_their_origin() {
        let (wire, seen) = stand_in(|n, _| {
            Ok(match n {
                0 => answer(307, &[("location", "/v2/moved")], ""),
                1 => answer(307, &[("location", "https://storage.test/blob?sig=x")], ""),
                _ => answer(200, &[], "bytes"),
            })
        });
        let mut req = get("https://r.test/v2/a/blobs/sha256:1");
        req.headers_mut()
            .insert(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        let resp = RedirectLayer.layer(wire).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let seen = seen.lock().unwrap();
        assert_eq!(seen[1].uri, "https://r.test/v2/moved");
        assert!(seen[1].headers.contains_key(AUTHORIZATION), "same origin keeps it");
        assert_eq!(seen[2].uri.host(), Some("storage.test"));
        assert!(
            !seen[2].headers.contains_key(AUTHORIZATION),
            "another origin never sees it"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_downgrade_to_http_is_refused() {
        let (wire, seen) = stand_in(|_, _| Ok(answer(302, &[("location", "http://r.test/v2/")], "")));
        let err = RedirectLayer
            .layer(wire)
            .oneshot(get("https://r.test/v2/"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::RedirectRefused { .. }), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn requests_with_bodies_are_not_followed() {
        let (wire, seen) = stand_in(|_, _| Ok(answer(307, &[("location", "/elsewhere")], "")));
        let req = http::Request::put("https://r.test/v2/a/manifests/1")
            .body(RequestBody::Bytes("{}".into()))
            .unwrap();
        let resp = RedirectLayer.layer(wire).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 307);
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_loop_ends_after_ten_hops() {
        let (wire, seen) = stand_in(|_, _| Ok(answer(302, &[("location", "/v2/again")], "")));
        let err = RedirectLayer
            .layer(wire)
            .oneshot(get("https://r.test/v2/"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("more than 10 redirects"), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 11);
    }
}

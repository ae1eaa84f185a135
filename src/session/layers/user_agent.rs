//! Sets `User-Agent` on every request that has none.

use std::task::{Context, Poll};

use http::header::USER_AGENT;
use http::HeaderValue;

use super::HttpRequest;

/// Adds the configured `User-Agent`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use http::HeaderValue;
/// use irel::session::{layers::{HttpRequest, HttpResponse, UserAgentLayer}, RequestBody};
/// use irel::transport::{empty_body, ResponseBody};
/// use tower::{ServiceBuilder, ServiceExt as _};
/// let wire = tower::service_fn(|req: HttpRequest| async move {
///     assert_eq!(req.headers()["user-agent"], "my-mirror/1.0");
///     Ok::<_, irel::transport::Error>(HttpResponse::new(ResponseBody::from_body(empty_body())))
/// });
/// let svc = ServiceBuilder::new().layer(UserAgentLayer::new(HeaderValue::from_static("my-mirror/1.0"))).service(wire);
/// svc.oneshot(http::Request::get("https://registry.example/v2/").body(RequestBody::Empty).unwrap()).await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct UserAgentLayer {
    value: HeaderValue,
}

impl UserAgentLayer {
    /// A layer setting `value`.
    pub fn new(value: HeaderValue) -> Self {
        UserAgentLayer { value }
    }
}

impl<S> tower::Layer<S> for UserAgentLayer {
    type Service = UserAgent<S>;
    fn layer(&self, inner: S) -> UserAgent<S> {
        UserAgent {
            inner,
            value: self.value.clone(),
        }
    }
}

/// The service [`UserAgentLayer`] makes.
///
/// ```
/// use irel::session::layers::{UserAgent, UserAgentLayer, Wire};
/// use irel::transport::{Transport, TransportConfig};
/// use tower::Layer as _;
/// let transport = Transport::new(&TransportConfig::default()).unwrap();
/// let layer = UserAgentLayer::new(transport.user_agent().clone());
/// let named: UserAgent<Wire> = layer.layer(Wire(transport));
/// # let _ = named;
/// ```
#[derive(Clone, Debug)]
pub struct UserAgent<S> {
    inner: S,
    value: HeaderValue,
}

impl<S: tower::Service<HttpRequest>> tower::Service<HttpRequest> for UserAgent<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: HttpRequest) -> S::Future {
        req.headers_mut()
            .entry(USER_AGENT)
            .or_insert_with(|| self.value.clone());
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use tower::{Layer as _, ServiceExt as _};

    use super::super::testing::{answer, get, stand_in};
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn sets_the_agent_unless_the_request_has_one() {
        let (wire, seen) = stand_in(|_, _| Ok(answer(200, &[], "")));
        let svc = UserAgentLayer::new(HeaderValue::from_static("irel/test")).layer(wire);
        svc.clone().oneshot(get("http://r.test/v2/")).await.unwrap();
        let mut own = get("http://r.test/v2/");
        own.headers_mut().insert(USER_AGENT, HeaderValue::from_static("mine/1"));
        svc.oneshot(own).await.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].headers[USER_AGENT], "irel/test");
        assert_eq!(seen[1].headers[USER_AGENT], "mine/1");
    }
}

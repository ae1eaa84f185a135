//! Counts the requests that reach the wire: registry calls, pings, token requests, each
//! redirect hop and each retry. `irel bench` reports it; the request-count tests pin it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use super::HttpRequest;

/// A shared request count. Cheap to clone; clones share the count.
///
/// ```
/// let counter = irel::session::layers::RequestCounter::default();
/// assert_eq!(counter.get(), 0);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RequestCounter(Arc<AtomicU64>);

impl RequestCounter {
    /// How many requests were counted so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counts each request into a [`RequestCounter`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use irel::session::{layers::{CountLayer, HttpRequest, HttpResponse, RequestCounter}, RequestBody};
/// use irel::transport::{empty_body, ResponseBody};
/// use tower::{ServiceBuilder, ServiceExt as _};
/// let wire = tower::service_fn(|_: HttpRequest| async {
///     Ok::<_, irel::transport::Error>(HttpResponse::new(ResponseBody::from_body(empty_body())))
/// });
/// let counter = RequestCounter::default();
/// let svc = ServiceBuilder::new().layer(CountLayer::new(counter.clone())).service(wire);
/// let ping = http::Request::get("https://registry.example/v2/").body(RequestBody::Empty).unwrap();
/// svc.oneshot(ping).await.unwrap();
/// assert_eq!(counter.get(), 1);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct CountLayer {
    counter: RequestCounter,
}

impl CountLayer {
    /// A layer counting into `counter`.
    pub fn new(counter: RequestCounter) -> Self {
        CountLayer { counter }
    }
}

impl<S> tower::Layer<S> for CountLayer {
    type Service = Count<S>;
    fn layer(&self, inner: S) -> Count<S> {
        Count {
            inner,
            counter: self.counter.clone(),
        }
    }
}

/// The service [`CountLayer`] makes.
///
/// ```
/// use irel::session::layers::{Count, CountLayer, RequestCounter, Wire};
/// use irel::transport::{Transport, TransportConfig};
/// use tower::Layer as _;
/// let wire = Wire(Transport::new(&TransportConfig::default()).unwrap());
/// let counted: Count<Wire> = CountLayer::new(RequestCounter::default()).layer(wire);
/// # let _ = counted;
/// ```
#[derive(Clone, Debug)]
pub struct Count<S> {
    inner: S,
    counter: RequestCounter,
}

impl<S: tower::Service<HttpRequest>> tower::Service<HttpRequest> for Count<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> S::Future {
        self.counter.0.fetch_add(1, Ordering::Relaxed);
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use tower::{Layer as _, ServiceExt as _};

    use super::super::testing::{answer, get, stand_in};
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn counts_each_request_failed_or_not() {
        let (wire, _) = stand_in(|n, _| Ok(answer(if n == 0 { 500 } else { 200 }, &[], "")));
        let counter = RequestCounter::default();
        let svc = CountLayer::new(counter.clone()).layer(wire);
        for _ in 0..3 {
            svc.clone().oneshot(get("http://r.test/v2/")).await.unwrap();
        }
        assert_eq!(counter.get(), 3);
    }
}

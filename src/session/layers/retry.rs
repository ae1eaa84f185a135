//! When a request is worth sending again: idempotent requests (GET, HEAD, and the POSTs that
//! open upload sessions) that met a
//! connection failure or a transient status (408, 429, 500, 502, 503, 504), a bounded number of
//! times, after a capped exponential backoff with jitter or what `Retry-After` asks (seconds or
//! an HTTP-date, capped). Requests with bodies are not retried here: the copy engine restarts a
//! failed blob transfer whole (a new upload session, the source read again).

use std::time::Duration;

use std::task::{Context, Poll};

use http::{HeaderMap, Method, StatusCode};

use super::{rebuild, take_ready, BoxFuture, HttpRequest, HttpResponse};
use crate::session::request::RequestBody;
use crate::transport::{self, read_body_limited, Error};

/// Retries after the first attempt, unless configured otherwise.
pub const DEFAULT_RETRIES: u32 = 3;
/// The longest irel waits between attempts, whatever `Retry-After` says.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// Whether `method` may be sent again without side effects.
pub(crate) fn idempotent(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// Whether a bodiless request may be sent again: idempotent ones, and the POSTs that open a
/// blob upload session or ask for a mount (a session left unused is purged by the registry).
pub(crate) fn retry_safe(method: &Method, target: &str) -> bool {
    idempotent(method) || (method == Method::POST && target.contains("/blobs/uploads/"))
}

/// Whether `status` is worth another attempt.
pub(crate) fn transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// How long to wait before attempt `attempt` (1 is the first retry).
pub(crate) fn backoff(attempt: u32, headers: Option<&HeaderMap>) -> Duration {
    let asked = headers.and_then(retry_after_header);
    // 100 ms, 400 ms, … with up to 50% jitter so parallel copies do not retry in step.
    // Capped before it could overflow: from the 6th attempt on, the wait is MAX_WAIT anyway.
    let base = Duration::from_millis(100 * 4u64.pow(attempt.saturating_sub(1).min(8)));
    let jitter = Duration::from_millis(random() % (base.as_millis() as u64 / 2 + 1));
    asked.unwrap_or(base + jitter).min(MAX_WAIT)
}

/// How many "not now" answers (429, 503) one request or blob transfer may meet, on top of
/// `--retry-times`: they cost nothing to repeat (nothing was accepted), and a registry that
/// rate-limits answers them in bursts.
pub(crate) const BUSY_RETRIES: u32 = 10;
/// The longest one request or blob transfer waits in all on "not now" answers.
pub(crate) const BUSY_WAIT_TOTAL: Duration = Duration::from_secs(60);

/// The retries one request or blob transfer has left: `--retry-times` for failures (broken
/// connections, timeouts, 5xx, cut transfers), and a budget of its own, bounded in number and in
/// total time, for "not now" answers (429, 503) that accepted nothing.
///
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    failures: u32,
    max_failures: u32,
    busy: u32,
    busy_waited: Duration,
}

impl Budget {
    /// A fresh budget allowing `retry_times` retries after failures.
    pub(crate) fn new(retry_times: u32) -> Budget {
        Budget {
            failures: 0,
            max_failures: retry_times,
            busy: 0,
            busy_waited: Duration::ZERO,
        }
    }

    /// After a failure: how long to wait before trying again, or `None` when the budget is
    /// spent. `headers` may carry a `Retry-After`.
    pub(crate) fn after_failure(&mut self, headers: Option<&HeaderMap>) -> Option<Duration> {
        if self.failures >= self.max_failures {
            return None;
        }
        self.failures += 1;
        Some(backoff(self.failures, headers))
    }

    /// After a 429 or 503: how long to wait (what the registry asked, else a growing backoff),
    /// or `None` when this budget of its own is spent.
    pub(crate) fn after_busy(&mut self, asked: Option<Duration>) -> Option<Duration> {
        if self.busy >= BUSY_RETRIES {
            return None;
        }
        self.busy += 1;
        let wait = asked.map_or_else(|| backoff(self.busy, None), |a| a.min(MAX_WAIT));
        if self.busy_waited + wait > BUSY_WAIT_TOTAL {
            return None;
        }
        self.busy_waited += wait;
        Some(wait)
    }

    /// How many attempts failed or were turned away so far.
    pub(crate) fn spent(&self) -> u32 {
        self.failures + self.busy
    }
}

/// Whether `status` says "not now" (429 Too Many Requests, 503 Service Unavailable).
pub(crate) fn busy(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 503)
}

/// The `Retry-After` of a response, as a duration.
pub(crate) fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after)
}

/// A random number, different on every call (std's hasher keys are random per instance).
fn random() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::time::Instant::now())
}

/// `Retry-After` as delay-seconds or as an HTTP-date (a date in the past means now).
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(std::time::SystemTime::now()).unwrap_or_default())
}

/// Sends retry-safe requests again: bodiless GET and HEAD, the POSTs that open upload
/// sessions, and PUTs of bytes in memory (manifests), after connection failures, timeouts and
/// transient statuses, within a budget of `retry_times` failures plus its own budget for
/// 429 and 503. Other requests go once: the copy engine restarts a failed blob transfer whole.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
/// use irel::session::{layers::{HttpRequest, RetryLayer}, RequestBody};
/// use irel::transport::{empty_body, ResponseBody};
/// use tower::{ServiceBuilder, ServiceExt as _};
/// static CALLS: AtomicU32 = AtomicU32::new(0);
/// let wire = tower::service_fn(|_: HttpRequest| async {
///     let status = if CALLS.fetch_add(1, SeqCst) == 0 { 503 } else { 200 };
///     let resp = http::Response::builder().status(status).header("retry-after", "0");
///     Ok::<_, irel::transport::Error>(resp.body(ResponseBody::from_body(empty_body())).unwrap())
/// });
/// let svc = ServiceBuilder::new().layer(RetryLayer::new(3)).service(wire);
/// let req = http::Request::get("https://registry.example/v2/").body(RequestBody::Empty).unwrap();
/// assert_eq!(svc.oneshot(req).await.unwrap().status(), 200);
/// assert_eq!(CALLS.load(SeqCst), 2, "the 503 was sent again");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RetryLayer {
    retry_times: u32,
}

impl RetryLayer {
    /// A layer allowing `retry_times` retries after failures.
    pub fn new(retry_times: u32) -> Self {
        RetryLayer { retry_times }
    }
}

impl<S> tower::Layer<S> for RetryLayer {
    type Service = Retry<S>;
    fn layer(&self, inner: S) -> Retry<S> {
        Retry {
            inner,
            retry_times: self.retry_times,
        }
    }
}

/// The service [`RetryLayer`] makes.
///
/// ```
/// use irel::session::layers::{Retry, RetryLayer, Wire};
/// use irel::transport::{Transport, TransportConfig};
/// use tower::Layer as _;
/// let wire = Wire(Transport::new(&TransportConfig::default()).unwrap());
/// let retrying: Retry<Wire> = RetryLayer::new(irel::session::DEFAULT_RETRIES).layer(wire);
/// # let _ = retrying;
/// ```
#[derive(Clone, Debug)]
pub struct Retry<S> {
    inner: S,
    retry_times: u32,
}

/// Whether a request may be sent again as it is.
fn replayable(req: &HttpRequest) -> bool {
    match req.body() {
        RequestBody::Empty => retry_safe(req.method(), req.uri().path()),
        // PUT is idempotent: a manifest (bytes in memory) can go again as it is.
        RequestBody::Bytes(_) => req.method() == Method::PUT,
        RequestBody::Stream(..) => false,
    }
}

impl<S> tower::Service<HttpRequest> for Retry<S>
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
        if !replayable(&req) {
            return Box::pin(inner.call(req));
        }
        let mut budget = Budget::new(self.retry_times);
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let url = parts.uri.to_string();
            let mut next = Some(inner.call(rebuild(&parts, body.try_clone().expect("replayable"))));
            loop {
                let result = match next.take() {
                    Some(first) => first.await,
                    None => {
                        use tower::ServiceExt as _;
                        let again = rebuild(&parts, body.try_clone().expect("replayable"));
                        inner.clone().oneshot(again).await
                    }
                };
                let wait = match &result {
                    // "Not now": nothing was done, so it does not spend the failure budget.
                    Ok(resp) if busy(resp.status()) => budget.after_busy(retry_after_header(resp.headers())),
                    Ok(resp) if transient(resp.status()) => budget.after_failure(Some(resp.headers())),
                    Err(Error::Request { .. } | Error::Unreachable { .. } | Error::Timeout { .. }) => {
                        budget.after_failure(None)
                    }
                    _ => None,
                };
                let Some(wait) = wait else {
                    return result;
                };
                tracing::info!(
                    "{} {}: attempt {} failed ({}), again in {} ms",
                    parts.method,
                    transport::redact_url(&url),
                    budget.spent(),
                    match &result {
                        Ok(resp) => resp.status().to_string(),
                        Err(e) => e.to_string(),
                    },
                    wait.as_millis()
                );
                if let Ok(resp) = result {
                    // Drained, so the connection goes back to the pool.
                    let _ = read_body_limited(resp.into_body(), 64 * 1024, &url).await;
                }
                tokio::time::sleep(wait).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_idempotent_requests_and_transient_statuses() {
        assert!(idempotent(&Method::GET) && idempotent(&Method::HEAD) && !idempotent(&Method::PUT));
        assert!(retry_safe(&Method::POST, "/v2/a/blobs/uploads/?mount=sha256:x&from=b"));
        assert!(!retry_safe(&Method::POST, "/v2/a/manifests/t") && !retry_safe(&Method::PUT, "/v2/a/blobs/uploads/x"));
        assert!(transient(StatusCode::SERVICE_UNAVAILABLE) && transient(StatusCode::TOO_MANY_REQUESTS));
        assert!(!transient(StatusCode::NOT_FOUND) && !transient(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn backoff_never_overflows() {
        assert_eq!(backoff(1000, None), MAX_WAIT);
        assert_eq!(backoff(u32::MAX, None), MAX_WAIT);
    }

    #[test]
    fn retry_after_is_honoured_up_to_a_cap() {
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(backoff(1, Some(&h)), Duration::from_secs(2));
        h.insert(http::header::RETRY_AFTER, "3600".parse().unwrap());
        assert_eq!(backoff(1, Some(&h)), MAX_WAIT);
        assert!(backoff(1, None) >= Duration::from_millis(100) && backoff(2, None) >= Duration::from_millis(400));
    }

    #[test]
    fn busy_answers_have_a_budget_of_their_own_bounded_in_time() {
        let mut b = Budget::new(0);
        assert_eq!(b.after_failure(None), None);
        let asked = Some(Duration::from_secs(1));
        for _ in 0..BUSY_RETRIES {
            assert_eq!(b.after_busy(asked), Some(Duration::from_secs(1)));
        }
        assert_eq!(b.after_busy(asked), None, "at most BUSY_RETRIES");
        let mut b = Budget::new(3);
        let long = Some(Duration::from_secs(3600));
        let waited: Duration = std::iter::from_fn(|| b.after_busy(long)).sum();
        assert!(waited <= BUSY_WAIT_TOTAL, "{waited:?}");
        assert!(b.after_failure(None).is_some(), "failures keep their own budget");
    }

    #[test]
    fn retry_after_may_be_an_http_date() {
        let in_3s = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3));
        let wait = retry_after(&in_3s).unwrap();
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(3),
            "{wait:?}"
        );
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn busy_answers_have_a_budget_of_their_own() {
        let mut budget = Budget::new(1);
        assert!(budget.after_busy(None).is_some(), "429/503 do not use --retry-times");
        assert!(budget.after_failure(None).is_some());
        assert!(budget.after_failure(None).is_none(), "one retry for failures");
    }

    mod layer {
        use std::time::{Duration, Instant};

        use tower::{Layer as _, ServiceExt as _};

        use super::super::super::testing::{answer, get, stand_in};
        use super::super::*;

        #[tokio::test(flavor = "current_thread")]
        async fn transient_statuses_are_retried_within_the_budget() {
            let (wire, seen) = stand_in(|n, _| Ok(answer(if n < 2 { 502 } else { 200 }, &[], "")));
            let resp = RetryLayer::new(3)
                .layer(wire)
                .oneshot(get("http://r.test/v2/a/tags/list"))
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(seen.lock().unwrap().len(), 3);

            let (wire, seen) = stand_in(|_, _| Ok(answer(500, &[], "")));
            let resp = RetryLayer::new(1)
                .layer(wire)
                .oneshot(get("http://r.test/v2/"))
                .await
                .unwrap();
            assert_eq!(resp.status(), 500, "the last answer, once the budget is spent");
            assert_eq!(seen.lock().unwrap().len(), 2);
        }

        #[tokio::test(flavor = "current_thread")]
        async fn retry_after_is_honoured_and_busy_answers_spend_no_failures() {
            let (wire, seen) = stand_in(|n, _| {
                Ok(match n {
                    0..=2 => answer(429, &[("retry-after", "0")], ""),
                    _ => answer(200, &[], ""),
                })
            });
            let started = Instant::now();
            let resp = RetryLayer::new(0)
                .layer(wire)
                .oneshot(get("http://r.test/v2/"))
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "429s do not spend --retry-times 0");
            assert_eq!(seen.lock().unwrap().len(), 4);
            assert!(started.elapsed() < Duration::from_secs(1), "Retry-After: 0 means now");
        }

        #[tokio::test(flavor = "current_thread")]
        async fn streams_and_other_posts_go_once() {
            let (wire, seen) = stand_in(|_, _| Ok(answer(503, &[], "")));
            let svc = RetryLayer::new(3).layer(wire);
            let stream = http::Request::put("http://r.test/v2/a/blobs/uploads/x")
                .body(RequestBody::Stream(transport::empty_body(), 0))
                .unwrap();
            assert_eq!(svc.clone().oneshot(stream).await.unwrap().status(), 503);
            let post = http::Request::post("http://r.test/v2/a/manifests/x")
                .body(RequestBody::Empty)
                .unwrap();
            assert_eq!(svc.oneshot(post).await.unwrap().status(), 503);
            assert_eq!(seen.lock().unwrap().len(), 2);
        }

        #[tokio::test(flavor = "current_thread")]
        async fn connection_failures_are_retried_other_errors_are_not() {
            let refused = || Error::InvalidUrl {
                url: "x".into(),
                reason: "not a connection failure".into(),
            };
            let (wire, seen) = stand_in(move |_, _| Err(refused()));
            let err = RetryLayer::new(3)
                .layer(wire)
                .oneshot(get("http://r.test/v2/"))
                .await
                .unwrap_err();
            assert!(matches!(err, Error::InvalidUrl { .. }));
            assert_eq!(seen.lock().unwrap().len(), 1);

            let (wire, seen) = stand_in(|n, _| {
                if n == 0 {
                    Err(Error::Timeout {
                        method: Method::GET,
                        url: "http://r.test/v2/".into(),
                        phase: transport::TimeoutPhase::Response,
                        after: Duration::from_secs(1),
                    })
                } else {
                    Ok(answer(200, &[], ""))
                }
            });
            let resp = RetryLayer::new(1)
                .layer(wire)
                .oneshot(get("http://r.test/v2/"))
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(seen.lock().unwrap().len(), 2);
        }
    }
}

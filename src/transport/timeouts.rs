//! Timeouts for every request: connecting, waiting for the response head, and waiting for more
//! of a response body. Without them a registry that accepts a connection and never answers, or
//! a download that stalls half-way, holds irel forever.
//!
//! The waits are measured from the last sign of progress, never over a whole transfer: a
//! multi-gigabyte blob may take hours, and is fine as long as bytes keep coming.
//! - The response head is waited for from when the last request bytes were taken by the
//!   connection (an upload's body counts as progress while it streams).
//! - A body times out only while irel is waiting for it: time spent by the reader elsewhere
//!   (writing to disk, an upload that is slower than the download) does not count.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::{Body, BoxError, Error};

/// How long irel waits for a TCP connection, unless configured otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long irel waits for a response head after sending a request, unless configured
/// otherwise. Generous: a registry finishing a large upload may verify or move the blob first.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a response body may send nothing, unless configured otherwise.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The three waits irel bounds.
///
/// ```
/// use std::time::Duration;
/// use irel::transport::Timeouts;
/// // A registry that takes long to verify large uploads: wait longer for its answers only.
/// let patient = Timeouts { response: Duration::from_secs(600), ..Timeouts::default() };
/// assert_eq!(Timeouts::all(Duration::from_secs(5)).idle, Duration::from_secs(5));
/// let client = irel::Client::builder().timeouts(patient).build().unwrap();
/// # let _ = client;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP connection.
    pub connect: Duration,
    /// From the last request bytes sent to the response head (TLS handshake included).
    pub response: Duration,
    /// Between two pieces of a response body.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: DEFAULT_CONNECT_TIMEOUT,
            response: DEFAULT_RESPONSE_TIMEOUT,
            idle: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

impl Timeouts {
    /// The same limit for all three waits (what `--timeout` sets).
    pub fn all(limit: Duration) -> Timeouts {
        Timeouts {
            connect: limit,
            response: limit,
            idle: limit,
        }
    }
}

/// Which wait ran out.
///
/// ```
/// use std::time::Duration;
/// use irel::transport::{Error, TimeoutPhase};
/// let e = Error::Timeout {
///     method: http::Method::GET,
///     url: "https://registry.example/v2/".into(),
///     phase: TimeoutPhase::Connect,
///     after: Duration::from_secs(30),
/// };
/// assert!(matches!(e, Error::Timeout { phase: TimeoutPhase::Connect, .. }));
/// assert!(e.to_string().starts_with("GET https://registry.example/v2/: no connection within 30 s"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// No TCP connection.
    Connect,
    /// No response head.
    Response,
    /// A body that stopped sending.
    Idle,
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "no connection within",
            TimeoutPhase::Response => "no response within",
            TimeoutPhase::Idle => "no data received for",
        })
    }
}

/// `2 s`, `1.5 s`: a duration as people read it in an error message.
pub(crate) fn seconds(d: &Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Parses a `--timeout` value: seconds (`30`, `1.5`) or with a unit (`500ms`, `30s`, `2m`, `1h`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: expected seconds, or a number with ms, s, m or h"))?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("{text:?}: unknown unit {other:?} (use ms, s, m or h)")),
    };
    let secs = value * scale;
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 * 7.0 {
        return Err(format!("{text:?}: a timeout must be above 0 and at most a week"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// When a request last made progress, shared by its body and the wait for its answer.
pub(crate) struct Activity {
    start: Instant,
    /// Milliseconds after `start`.
    last: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            last: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last.fetch_max(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }
}

/// Waits for `fut` until `limit` has passed without progress on `activity`; `None` then.
pub(crate) async fn within<F: Future>(fut: F, activity: &Activity, limit: Duration) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    loop {
        match tokio::time::timeout_at(activity.last() + limit, fut.as_mut()).await {
            Ok(out) => return Some(out),
            // The request body moved meanwhile: wait on from its last progress.
            Err(_) if Instant::now() < activity.last() + limit => continue,
            Err(_) => return None,
        }
    }
}

/// `body`, noting on `activity` each piece the connection takes.
pub(crate) fn tracking(body: Body, activity: Arc<Activity>) -> Body {
    struct Tracking {
        inner: Body,
        activity: Arc<Activity>,
    }
    impl HttpBody for Tracking {
        type Data = Bytes;
        type Error = BoxError;
        fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            let polled = Pin::new(&mut self.inner).poll_frame(cx);
            if polled.is_ready() {
                self.activity.touch();
            }
            polled
        }
        fn is_end_stream(&self) -> bool {
            self.inner.is_end_stream()
        }
        fn size_hint(&self) -> SizeHint {
            self.inner.size_hint()
        }
    }
    Tracking { inner: body, activity }.boxed()
}

/// A response body that fails with [`Error::Timeout`] when the server sends nothing for the
/// idle timeout while irel waits for it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use http_body_util::BodyExt as _;
/// use irel::transport::{full_body, ResponseBody};
/// let body = ResponseBody::from_body(full_body(r#"{"tags":["1.0"]}"#));
/// let bytes = body.collect().await.unwrap().to_bytes();
/// assert_eq!(&bytes[..], br#"{"tags":["1.0"]}"#);
/// # }
/// ```
pub struct ResponseBody {
    inner: Source,
    idle: Duration,
    /// Armed when a wait starts (the first `Pending` after a frame).
    timer: Option<Pin<Box<Sleep>>>,
    waiting: bool,
    timed_out: bool,
    method: Method,
    url: String,
}

/// Where a response body's bytes come from.
enum Source {
    /// The network, through hyper.
    Incoming(Incoming),
    /// Anything else: a layer answering by itself, a test.
    Boxed(super::Body),
}

impl Source {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self {
            Source::Incoming(b) => Pin::new(b).poll_frame(cx).map(|f| f.map(|f| f.map_err(BoxError::from))),
            Source::Boxed(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Source::Incoming(b) => b.is_end_stream(),
            Source::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Source::Incoming(b) => b.size_hint(),
            Source::Boxed(b) => b.size_hint(),
        }
    }
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("method", &self.method)
            .field("url", &super::redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl ResponseBody {
    /// A response body made of `body`, for a layer that answers by itself (a cache, a test).
    /// It has no idle timeout of its own.
    ///
    /// ```
    /// let body = irel::transport::ResponseBody::from_body(irel::transport::full_body("{}"));
    /// # let _ = body;
    /// ```
    pub fn from_body(body: super::Body) -> ResponseBody {
        ResponseBody {
            inner: Source::Boxed(body),
            // No wait ever reaches this: a year stands for "never".
            idle: Duration::from_secs(365 * 24 * 3600),
            timer: None,
            waiting: false,
            timed_out: false,
            method: Method::GET,
            url: String::new(),
        }
    }

    pub(crate) fn new(inner: Incoming, idle: Duration, method: Method, url: String) -> ResponseBody {
        ResponseBody {
            inner: Source::Incoming(inner),
            idle,
            timer: None,
            waiting: false,
            timed_out: false,
            method,
            url,
        }
    }
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.timed_out {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            this.waiting = false;
            return Poll::Ready(frame);
        }
        if !this.waiting {
            this.waiting = true;
            let deadline = Instant::now() + this.idle;
            match &mut this.timer {
                Some(t) => t.as_mut().reset(deadline),
                None => this.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        let timer = this.timer.as_mut().expect("armed above");
        if timer.as_mut().poll(cx).is_ready() {
            this.timed_out = true;
            return Poll::Ready(Some(Err(Box::new(Error::Timeout {
                method: this.method.clone(),
                url: super::redact_url(&this.url),
                phase: TimeoutPhase::Idle,
                after: this.idle,
            }))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.timed_out || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_and_without_units() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "0", "-1", "soon", "3d", "1e9"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(seconds(&Duration::from_secs(2)), "2 s");
        assert_eq!(seconds(&Duration::from_millis(1500)), "1.5 s");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn progress_moves_the_deadline() {
        let activity = Activity::new();
        let a = activity.clone();
        let slow = async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(60)).await;
                a.touch();
            }
        };
        // 300 ms in all, but never 200 ms without progress.
        assert!(within(slow, &activity, Duration::from_millis(200)).await.is_some());
        let stuck = std::future::pending::<()>();
        assert!(within(stuck, &activity, Duration::from_millis(200)).await.is_none());
    }
}

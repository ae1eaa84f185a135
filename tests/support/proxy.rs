//! A forwarding proxy in front of a real registry, which can bend one thing at a time:
//! redirect blob downloads to another origin (as registries backed by object storage do), refuse
//! cross-repository mounts (by dropping the mount parameters, so the registry opens a plain
//! upload as it does when it cannot mount), or add credentials of its own. It injects faults:
//! error statuses, connections cut in the middle of a download or an upload, replaced bodies,
//! redirects, rewritten upload locations, ignored ranges, and random failures at given rates.
//! It records the headers of every request it receives.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{combinators::BoxBody, BodyExt};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

/// What the proxy changes.
#[derive(Clone, Default)]
pub struct Behaviour {
    /// Answer blob GETs with a 307 to this origin (`http://127.0.0.1:PORT`), same path.
    pub redirect_blob_gets_to: Option<String>,
    /// Strip `mount` and `from` from upload POSTs.
    pub refuse_mounts: bool,
    /// Send this `Authorization` upstream instead of the client's.
    pub upstream_authorization: Option<String>,
    /// Faults for requests matching a pattern, each for its first `times` matches.
    pub faults: Vec<Fault>,
    /// Random faults over every request.
    pub random: Option<RandomFaults>,
    /// Faults at fixed intervals over every request.
    pub periodic: Option<PeriodicFaults>,
    /// Drop `Range` headers, as servers without range support behave.
    pub strip_range: bool,
    /// Make upload `Location`s absolute URLs on this origin (`http://localhost:PORT`).
    pub absolute_upload_origin: Option<String>,
    /// Add these `Warning` header values to every response forwarded.
    pub warnings: Vec<String>,
    /// Requests whose path starts with the first of a pair go to the second
    /// (`127.0.0.1:PORT`) instead of the upstream: another service under the same origin.
    pub routes: Vec<(String, String)>,
}

/// A fault for the requests whose `METHOD path` contains `matching`.
#[derive(Clone)]
pub struct Fault {
    /// Substring of `METHOD path`.
    pub matching: String,
    /// How many matching requests get it (the later ones are forwarded untouched).
    pub times: usize,
    /// What happens to them.
    pub action: Action,
    /// Only requests that carry a body (a `Content-Length` above 0).
    pub with_body: bool,
}

impl Fault {
    /// `action` for the first `times` requests matching `matching`.
    pub fn new(matching: &str, times: usize, action: Action) -> Fault {
        Fault {
            matching: matching.to_string(),
            times,
            action,
            with_body: false,
        }
    }

    /// Only for requests that carry a body.
    pub fn with_body(mut self) -> Fault {
        self.with_body = true;
        self
    }
}

/// What a fault does.
#[derive(Clone)]
pub enum Action {
    /// Answer with this status, a `Retry-After` if given, and a registry error body with
    /// this code (or none).
    Status(u16, Option<String>, Option<&'static str>),
    /// Forward, but cut the connection after this many bytes of the response body.
    CutResponseAfter(usize),
    /// Forward, but after this many bytes of the response body send nothing more, keeping the
    /// connection open: a download that stalls.
    StallResponseAfter(usize),
    /// Read this many bytes of the request body, then read nothing more and never answer,
    /// keeping the connection open: an upload that stalls.
    StallRequestAfter(usize),
    /// Read this many bytes of the request body, then cut the connection without answering.
    CutRequestAfter(usize),
    /// Answer 200 with this content type and body.
    Replace(&'static str, Bytes),
    /// Answer 200 with this content type and a body that never ends.
    Endless(&'static str),
    /// Answer 307 to this location.
    Redirect(String),
    /// Answer 401 with this `WWW-Authenticate`.
    Challenge(String),
    /// Forward after this long.
    Delay(std::time::Duration),
}

/// Random failures: `fail_percent` of requests get a transient status, `cut_percent` get their
/// download or upload cut half-way.
#[derive(Clone, Copy)]
pub struct RandomFaults {
    /// Percentage answered 500, 502, 503, 504, 408 or 429.
    pub fail_percent: u64,
    /// Percentage cut mid-body.
    pub cut_percent: u64,
    /// Seed of the dice.
    pub seed: u64,
}

/// Faults at fixed intervals, as a rate-limiting, flaky front behaves: a 503 to every
/// `status_503`th request, a 429 with `Retry-After: 1` to every `status_429`th, every
/// `cut_download`th blob download cut after 100 kB, every `cut_upload`th upload cut half-way.
#[derive(Clone, Copy)]
pub struct PeriodicFaults {
    /// Every how many requests a 503.
    pub status_503: usize,
    /// Every how many requests a 429.
    pub status_429: usize,
    /// Every how many blob downloads a cut.
    pub cut_download: usize,
    /// Every how many uploads (PUT or PATCH with a body) a cut.
    pub cut_upload: usize,
}

/// A running proxy (serves until the test process ends).
pub struct Proxy {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// `METHOD path` and headers of every request received.
    pub seen: Arc<Mutex<Vec<(String, HeaderMap)>>>,
}

type Body = BoxBody<Bytes, BoxError>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct State {
    upstream: String,
    behaviour: Behaviour,
    client: Client<HttpConnector, Body>,
    seen: Arc<Mutex<Vec<(String, HeaderMap)>>>,
    /// Matches so far, per fault.
    hits: Mutex<Vec<usize>>,
    dice: Mutex<u64>,
    /// Requests, blob downloads and uploads so far, for the periodic faults.
    counts: Mutex<(usize, usize, usize)>,
}

/// Ends the connection task at once, without a response: the client sees its connection
/// closed (`resume_unwind` skips the panic hook, so nothing is printed).
fn cut_connection() -> ! {
    std::panic::resume_unwind(Box::new("connection cut by the fault proxy"))
}

fn body_of(b: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(b.into()).map_err(|n| match n {}).boxed()
}

/// What a [`limited`] body does once its bytes are sent.
#[derive(Clone, Copy, PartialEq)]
enum Then {
    /// Fails, which makes hyper abort the connection.
    Cut,
    /// Sends nothing more, without ending.
    Stall,
}

/// A body that sends `limit` bytes of `inner`, then does `then`.
fn limited<B>(inner: B, limit: usize, then: Then) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + Sync + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    struct Limited<B> {
        inner: B,
        left: usize,
        then: Then,
    }
    impl<B> Limited<B> {
        fn done(&self) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
            match self.then {
                Then::Cut => std::task::Poll::Ready(Some(Err("cut by the fault proxy".into()))),
                Then::Stall => std::task::Poll::Pending,
            }
        }
    }
    impl<B> http_body::Body for Limited<B>
    where
        B: http_body::Body<Data = Bytes> + Unpin,
        B::Error: Into<BoxError>,
    {
        type Data = Bytes;
        type Error = BoxError;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
            if self.left == 0 {
                return self.done();
            }
            let frame = match std::task::ready!(std::pin::Pin::new(&mut self.inner).poll_frame(cx)) {
                None => return std::task::Poll::Ready(None),
                Some(Err(e)) => return std::task::Poll::Ready(Some(Err(e.into()))),
                Some(Ok(f)) => f,
            };
            let Ok(mut data) = frame.into_data() else {
                return self.done();
            };
            if data.len() > self.left {
                data.truncate(self.left);
            }
            self.left -= data.len();
            std::task::Poll::Ready(Some(Ok(http_body::Frame::data(data))))
        }
    }
    Limited {
        inner,
        left: limit,
        then,
    }
    .boxed()
}

/// A body that never ends.
fn endless() -> Body {
    struct Endless;
    impl http_body::Body for Endless {
        type Data = Bytes;
        type Error = BoxError;
        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
            std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(&[b' '; 65536])))))
        }
    }
    Endless.boxed()
}

impl State {
    async fn handle(&self, req: Request<hyper::body::Incoming>) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        self.seen
            .lock()
            .unwrap()
            .push((format!("{} {path}", parts.method), parts.headers.clone()));
        let line = format!("{} {path}", parts.method);
        let action = self.fault_for(&line, &parts);
        if self.behaviour.strip_range {
            parts.headers.remove("range");
        }
        let mut cut_response = None;
        let mut stall_response = None;
        match action {
            None => {}
            Some(Action::Status(code, retry_after, error)) => {
                // Read the request first, as a registry refusing it would.
                let _ = body.collect().await;
                let mut b = Response::builder().status(code);
                if let Some(r) = retry_after {
                    b = b.header("retry-after", r);
                }
                let body = error
                    .map(|c| format!(r#"{{"errors":[{{"code":"{c}","message":"injected"}}]}}"#))
                    .unwrap_or_default();
                return b
                    .header("content-type", "application/json")
                    .body(body_of(body))
                    .unwrap();
            }
            Some(Action::Replace(content_type, bytes)) => {
                return Response::builder()
                    .header("content-type", content_type)
                    .body(body_of(bytes))
                    .unwrap();
            }
            Some(Action::Endless(content_type)) => {
                return Response::builder()
                    .header("content-type", content_type)
                    .body(endless())
                    .unwrap();
            }
            Some(Action::Redirect(location)) => {
                return Response::builder()
                    .status(StatusCode::TEMPORARY_REDIRECT)
                    .header("location", location)
                    .body(body_of(Bytes::new()))
                    .unwrap();
            }
            Some(Action::CutRequestAfter(n)) => {
                let mut body = body;
                let mut read = 0;
                while read < n {
                    match body.frame().await {
                        Some(Ok(f)) => read += f.data_ref().map_or(0, |d| d.len()),
                        _ => break,
                    }
                }
                cut_connection();
            }
            Some(Action::StallRequestAfter(n)) => {
                let mut body = body;
                let mut read = 0;
                while read < n {
                    match body.frame().await {
                        Some(Ok(f)) => read += f.data_ref().map_or(0, |d| d.len()),
                        _ => break,
                    }
                }
                // `body` stays alive (and unread) while this never returns.
                return std::future::pending().await;
            }
            Some(Action::Challenge(challenge)) => {
                return Response::builder()
                    .status(StatusCode::UNAUTHORIZED)
                    .header("www-authenticate", challenge)
                    .body(body_of(Bytes::new()))
                    .unwrap();
            }
            Some(Action::Delay(d)) => tokio::time::sleep(d).await,
            Some(Action::CutResponseAfter(n)) => cut_response = Some(n),
            Some(Action::StallResponseAfter(n)) => stall_response = Some(n),
        }
        if let Some(origin) = &self.behaviour.redirect_blob_gets_to {
            if parts.method == http::Method::GET && path.contains("/blobs/sha256:") {
                return Response::builder()
                    .status(StatusCode::TEMPORARY_REDIRECT)
                    .header("location", format!("{origin}{path}"))
                    .body(body_of(Bytes::new()))
                    .unwrap();
            }
        }
        let mut path = path;
        if self.behaviour.refuse_mounts && parts.method == http::Method::POST && path.contains("mount=") {
            path = path.split('?').next().unwrap().to_string();
        }
        if let Some(a) = &self.behaviour.upstream_authorization {
            parts.headers.insert("authorization", HeaderValue::from_str(a).unwrap());
        }
        let upstream = self
            .behaviour
            .routes
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .map_or(self.upstream.as_str(), |(_, to)| to.as_str());
        parts.uri = format!("http://{upstream}{path}").parse::<Uri>().unwrap();
        let upstream = Request::from_parts(parts, body.map_err(BoxError::from).boxed());
        match self.client.request(upstream).await {
            Ok(resp) => {
                let (mut parts, body) = resp.into_parts();
                if let Some(origin) = &self.behaviour.absolute_upload_origin {
                    if let Some(loc) = parts.headers.get("location").and_then(|v| v.to_str().ok()) {
                        if let Some(at) = loc.find("/v2/").filter(|_| loc.contains("/blobs/uploads/")) {
                            let abs = HeaderValue::from_str(&format!("{origin}{}", &loc[at..])).unwrap();
                            parts.headers.insert("location", abs);
                        }
                    }
                }
                for w in &self.behaviour.warnings {
                    parts.headers.append("warning", HeaderValue::from_str(w).unwrap());
                }
                let body = match (cut_response, stall_response) {
                    (Some(n), _) => limited(body, n, Then::Cut),
                    (None, Some(n)) => limited(body, n, Then::Stall),
                    (None, None) => body.map_err(BoxError::from).boxed(),
                };
                Response::from_parts(parts, body)
            }
            Err(e) => Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(body_of(e.to_string()))
                .unwrap(),
        }
    }

    /// The fault this request gets, if any.
    fn fault_for(&self, line: &str, parts: &http::request::Parts) -> Option<Action> {
        let mut hits = self.hits.lock().unwrap();
        let has_body = parts
            .headers
            .get("content-length")
            .is_some_and(|v| v.to_str().unwrap_or("0") != "0");
        for (i, fault) in self.behaviour.faults.iter().enumerate() {
            if line.contains(&fault.matching) && hits[i] < fault.times && (has_body || !fault.with_body) {
                hits[i] += 1;
                return Some(fault.action.clone());
            }
        }
        if let Some(p) = self.behaviour.periodic {
            let mut counts = self.counts.lock().unwrap();
            counts.0 += 1;
            if counts.0 % p.status_503 == 0 {
                return Some(Action::Status(503, None, Some("UNAVAILABLE")));
            }
            if counts.0 % p.status_429 == 0 {
                return Some(Action::Status(429, Some("1".into()), Some("TOOMANYREQUESTS")));
            }
            let length = parts
                .headers
                .get("content-length")
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
            let uploads = parts.method == http::Method::PUT || parts.method == http::Method::PATCH;
            if parts.method == http::Method::GET && line.contains("/blobs/sha256:") {
                counts.1 += 1;
                if counts.1 % p.cut_download == 0 {
                    return Some(Action::CutResponseAfter(100_000));
                }
            } else if let (true, Some(n)) = (uploads && line.contains("/blobs/"), length.filter(|n| *n > 1024)) {
                counts.2 += 1;
                if counts.2 % p.cut_upload == 0 {
                    return Some(Action::CutRequestAfter(n / 2));
                }
            }
        }
        let random = self.behaviour.random?;
        let roll = |dice: &mut u64| {
            *dice = dice.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *dice;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut dice = self.dice.lock().unwrap();
        let r = roll(&mut dice) % 100;
        if r < random.fail_percent {
            let statuses = [500, 502, 503, 504, 408, 429];
            let status = statuses[(roll(&mut dice) % statuses.len() as u64) as usize];
            return Some(Action::Status(status, None, None));
        }
        if r < random.fail_percent + random.cut_percent {
            let length = |h: &HeaderMap| h.get("content-length")?.to_str().ok()?.parse::<usize>().ok();
            let uploads = parts.method == http::Method::PUT || parts.method == http::Method::PATCH;
            return match length(&parts.headers) {
                Some(n) if uploads && n > 1024 => Some(Action::CutRequestAfter(n / 2)),
                // Downloads: cut blob bodies part-way (at a point the size does not give away).
                _ if parts.method == http::Method::GET && line.contains("/blobs/sha256:") => {
                    Some(Action::CutResponseAfter(1 + (roll(&mut dice) % (8 << 20)) as usize))
                }
                _ => None,
            };
        }
        None
    }
}

impl Proxy {
    /// Starts a proxy forwarding to `upstream` (`127.0.0.1:PORT`, plain http).
    pub fn start(upstream: &str, behaviour: Behaviour) -> Proxy {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(State {
            upstream: upstream.to_string(),
            hits: Mutex::new(vec![0; behaviour.faults.len()]),
            dice: Mutex::new(behaviour.random.map_or(0, |r| r.seed)),
            counts: Mutex::new((0, 0, 0)),
            behaviour,
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
            seen: seen.clone(),
        });
        let addr = super::serve(move |req| {
            let state = state.clone();
            async move { state.handle(req).await }
        })
        .to_string();
        Proxy { addr, seen }
    }

    /// The requests seen whose `METHOD path` contains `needle`.
    pub fn seen_matching(&self, needle: &str) -> Vec<(String, HeaderMap)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(line, _)| line.contains(needle))
            .cloned()
            .collect()
    }
}

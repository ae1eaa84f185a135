//! A forwarding proxy in front of a real registry, which can bend one thing at a time:
//! redirect blob downloads to another origin (as registries backed by object storage do), refuse
//! cross-repository mounts (by dropping the mount parameters, so the registry opens a plain
//! upload as it does when it cannot mount), or add credentials of its own. It records the
//! headers of every request it receives.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{combinators::BoxBody, BodyExt, Empty};
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
}

/// A running proxy (serves until the test process ends).
pub struct Proxy {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// `METHOD path` and headers of every request received.
    pub seen: Arc<Mutex<Vec<(String, HeaderMap)>>>,
}

type Body = BoxBody<Bytes, hyper::Error>;

struct State {
    upstream: String,
    behaviour: Behaviour,
    client: Client<HttpConnector, Body>,
    seen: Arc<Mutex<Vec<(String, HeaderMap)>>>,
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
        if let Some(origin) = &self.behaviour.redirect_blob_gets_to {
            if parts.method == http::Method::GET && path.contains("/blobs/sha256:") {
                return Response::builder()
                    .status(StatusCode::TEMPORARY_REDIRECT)
                    .header("location", format!("{origin}{path}"))
                    .body(Empty::new().map_err(|n| match n {}).boxed())
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
        parts.uri = format!("http://{}{path}", self.upstream).parse::<Uri>().unwrap();
        let upstream = Request::from_parts(parts, body.boxed());
        match self.client.request(upstream).await {
            Ok(resp) => resp.map(|b| b.boxed()),
            Err(e) => Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(
                    http_body_util::Full::new(Bytes::from(e.to_string()))
                        .map_err(|n| match n {})
                        .boxed(),
                )
                .unwrap(),
        }
    }
}

impl Proxy {
    /// Starts a proxy forwarding to `upstream` (`127.0.0.1:PORT`, plain http).
    pub fn start(upstream: &str, behaviour: Behaviour) -> Proxy {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(State {
            upstream: upstream.to_string(),
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

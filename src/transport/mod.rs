//! The HTTP layer: one pooled hyper client for every registry host, TLS, the scheme policy,
//! and timeouts. Redirects, retries and auth are layers of the [`session`](crate::session)
//! above it.
//!
//! How a request to a registry goes:
//! 1. The registry's `host[:port]` gets a [`RegistryPolicy`] from the names the user marked
//!    insecure and from whether it is loopback.
//! 2. The session pings each registry once to find its scheme (`session/scheme.rs`): https
//!    first, plain http only where the policy allows it. A secure host whose https port answers
//!    in plain http gets [`Error::PlainHttpRefused`].
//! 3. Requests go out through the verifying client, or the non-verifying one for insecure hosts;
//!    both pool connections per host.
//! 4. Every request is bounded in time (see [`Timeouts`]): connecting, waiting for the
//!    response head, and each wait for more of a response body.

mod policy;
mod registries_conf;
mod resolve;
mod timeouts;

pub use registries_conf::insecure_registries;
pub use timeouts::{
    parse_duration, ResponseBody, TimeoutPhase, Timeouts, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_RESPONSE_TIMEOUT,
};
mod tls;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;

use crate::remedy::Remedy;

pub(crate) use policy::split_host_port;
pub use policy::{is_loopback, RegistryPolicy, SchemePolicy};
use resolve::OverrideResolver;
pub(crate) use tls::is_plain_http_answer;

/// A boxed error, as request and response bodies carry them.
///
/// ```
/// use irel::transport::BoxError;
/// let cause: BoxError = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset").into();
/// let e = irel::Error::BlobTransfer {
///     digest: irel::Digest::sha256_of(b"layer"),
///     source_repo: Some("registry.example/team/app".into()),
///     destination: None,
///     source: cause,
/// };
/// assert!(e.to_string().ends_with("from registry.example/team/app: connection reset"), "{e}");
/// ```
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The request body type: anything that streams `Bytes`.
///
/// ```
/// use http_body::Body as _;
/// use irel::transport::{empty_body, full_body, Body};
/// let manifest: Body = full_body(r#"{"schemaVersion":2}"#);
/// assert_eq!(manifest.size_hint().exact(), Some(19));
/// assert!(empty_body().is_end_stream());
/// let request = http::Request::put("https://registry.example/v2/app/manifests/1").body(manifest).unwrap();
/// # let _ = request;
/// ```
pub type Body = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// An empty request body.
pub fn empty_body() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A request body from bytes in memory.
pub fn full_body(data: impl Into<Bytes>) -> Body {
    Full::new(data.into()).map_err(|never| match never {}).boxed()
}

/// What went wrong below the registry protocol: configuration, connections, TLS, redirects.
///
/// ```
/// use irel::transport::{Error, TransportConfig};
/// let e = TransportConfig::default().ca_certificate_file("/nonexistent/ca.pem").unwrap_err();
/// assert!(matches!(&e, Error::CaCertificate { path, .. } if path.ends_with("ca.pem")));
/// assert_eq!(e.remedy(), None);
/// // The library returns it inside its own error.
/// assert!(matches!(irel::Error::from(e), irel::Error::Transport(Error::CaCertificate { .. })));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `--ca-cert-path` file could not be used.
    #[error("cannot use CA certificate file {path}: {reason}")]
    CaCertificate {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    TlsConfig(String),
    /// A host that must use https answered in plain http.
    #[error(
        "registry {registry} answered in plain HTTP (server gave HTTP response to HTTPS client), and irel \
         uses only https for hosts that are not loopback or that are set to verify TLS (tls-verify: true); {}",
        mark_insecure(.registry)
    )]
    PlainHttpRefused {
        /// The registry host.
        registry: String,
    },
    /// The request could not be sent or its answer not read.
    #[error("{method} {url}: {detail}")]
    Request {
        /// The method.
        method: Method,
        /// The URL.
        url: String,
        /// The error and its causes, as one line.
        detail: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// Neither https nor plain http reached the registry (a first contact).
    #[error("GET {}: {detail}", .tried.join(" and "))]
    Unreachable {
        /// The registry (`host[:port]`).
        registry: String,
        /// The URLs tried, https first.
        tried: Vec<String>,
        /// Both causes, as one line.
        detail: String,
        /// The https attempt's error.
        #[source]
        source: BoxError,
    },
    /// `GET /v2/` answered something no registry answers.
    #[error("{url} is not a registry API endpoint: GET /v2/ answered {status}")]
    NotRegistry {
        /// The ping URL.
        url: String,
        /// The status it answered.
        status: StatusCode,
    },
    /// A redirect that irel will not follow.
    #[error("refused redirect from {from} to {to}: {reason}")]
    RedirectRefused {
        /// The URL that redirected.
        from: String,
        /// Where it pointed.
        to: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A URL a registry handed over (an upload `Location`, a pagination `Link`) that irel
    /// will not follow.
    #[error("refused the {what} {to} given by {from}: {reason}")]
    FollowRefused {
        /// What the URL was.
        what: &'static str,
        /// The URL that gave it.
        from: String,
        /// The URL refused.
        to: String,
        /// Why.
        reason: &'static str,
    },
    /// A URL that is not one.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The text.
        url: String,
        /// Why.
        reason: String,
    },
    /// A wait that ran out: no connection, no response, or a body that stopped sending. Worth
    /// retrying, as connection failures are.
    #[error("{method} {url}: {phase} {} ({})", timeouts::seconds(.after), Remedy::RaiseTimeout)]
    Timeout {
        /// The method.
        method: Method,
        /// The URL (redacted as in logs).
        url: String,
        /// Which wait ran out.
        phase: TimeoutPhase,
        /// The limit that ran out.
        after: Duration,
    },
    /// A response body larger than irel accepts for its kind.
    #[error("{url}: response body larger than {limit} bytes")]
    BodyTooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// A layer an embedder put next to the wire ([`SessionBuilder::wire_layer`](crate::session::SessionBuilder::wire_layer))
    /// failed the request with an error of its own.
    #[error("a wire layer failed the request: {0}")]
    Layer(#[source] BoxError),
}

impl Error {
    /// What the user can do about it, when irel knows (see [`Remedy`]).
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            Error::PlainHttpRefused { registry } => Some(mark_insecure(registry)),
            Error::Timeout { .. } => Some(Remedy::RaiseTimeout),
            _ => None,
        }
    }
}

fn mark_insecure(registry: &str) -> Remedy {
    Remedy::MarkInsecure {
        registry: registry.to_string(),
    }
}

/// One line with an error and all its causes, without repeating identical messages.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(err);
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// The scheme a registry host is reached with.
///
/// ```
/// use irel::transport::Scheme;
/// let base = format!("{}://{}/v2/", Scheme::Http.as_str(), "localhost:5000");
/// assert_eq!(base, "http://localhost:5000/v2/");
/// # async fn ping(session: irel::session::Session) -> Result<(), irel::Error> {
/// // The scheme a registry's ping found:
/// let repo = "localhost:5000/team/app".parse::<irel::Reference>()?.to_repository();
/// if session.ping(&repo).await?.scheme == Scheme::Http {
///     eprintln!("localhost:5000 speaks plain http");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// TLS.
    Https,
    /// Plain http (loopback or insecure hosts only).
    Http,
}

impl Scheme {
    /// `https` or `http`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }
}

/// What `GET /v2/` told us about a registry.
///
/// ```no_run
/// # async fn demo(session: irel::session::Session) -> Result<(), irel::Error> {
/// let repo = "registry.example/team/app".parse::<irel::Reference>()?.to_repository();
/// let ping = session.ping(&repo).await?;
/// if ping.status == http::StatusCode::UNAUTHORIZED {
///     println!("{} wants {:?}", ping.scheme.as_str(), ping.challenges);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Ping {
    /// The scheme that answered.
    pub scheme: Scheme,
    /// 200 (no auth) or 401 (auth required).
    pub status: StatusCode,
    /// The `WWW-Authenticate` header values of a 401.
    pub challenges: Vec<String>,
}

/// Settings for a [`Transport`].
///
/// ```
/// use irel::transport::{Transport, TransportConfig};
/// let config = TransportConfig::default().user_agent("mirror-bot/1.0").retries(5);
/// assert_eq!(Transport::new(&config).unwrap().user_agent(), "mirror-bot/1.0");
/// let client = irel::Client::builder().transport_config(config).build().unwrap();
/// # let _ = client;
/// ```
#[derive(Debug, Clone)]
pub struct TransportConfig {
    policy: SchemePolicy,
    extra_roots: Vec<CertificateDer<'static>>,
    resolve: HashMap<String, IpAddr>,
    user_agent: String,
    timeouts: Timeouts,
    /// Per registry (`host[:port]`): certs.d roots and client certificate.
    host_tls: HashMap<String, tls::HostTls>,
    /// How many times a first contact that could not connect is tried again.
    retries: u32,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            policy: SchemePolicy::default(),
            host_tls: HashMap::new(),
            extra_roots: Vec::new(),
            resolve: HashMap::new(),
            user_agent: concat!("irel/", env!("CARGO_PKG_VERSION")).to_string(),
            timeouts: Timeouts::default(),
            retries: 3,
        }
    }
}

/// Builder-style: each setting takes the configuration and gives it back.
///
/// ```
/// use std::time::Duration;
/// let config = irel::transport::TransportConfig::default()
///     .insecure_registry("lab-registry:5000")
///     .connect_timeout(Duration::from_secs(5));
/// assert!(config.policy().for_registry("lab-registry:5000").allows_http());
/// ```
impl TransportConfig {
    /// How many times the first contact with a registry (`GET /v2/`) is tried again after a
    /// connection failure or a transient answer (default 3), as every later request is.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// Allows plain http and unverified TLS for `host[:port]` (every port when none is given).
    pub fn insecure_registry(mut self, host: &str) -> Self {
        self.policy.add_insecure(host);
        self
    }

    /// Requires https with verification for `host[:port]`, even on loopback (see
    /// [`SchemePolicy::add_secure`]).
    pub fn secure_registry(mut self, host: &str) -> Self {
        self.policy.add_secure(host);
        self
    }

    /// Treats every registry as insecure (Go irel's `--skip-tls-verify`).
    pub fn skip_tls_verify(mut self, skip: bool) -> Self {
        self.policy.set_all_insecure(skip);
        self
    }

    /// Trusts the PEM certificates in `path` as extra roots.
    pub fn ca_certificate_file(mut self, path: impl AsRef<Path>) -> Result<Self, Error> {
        self.extra_roots.extend(tls::read_ca_file(path.as_ref())?);
        Ok(self)
    }

    /// Uses a docker-style certificate directory for the registry `host[:port]`: its `*.crt`
    /// files are extra roots for that registry only, and a `NAME.cert` / `NAME.key` pair is the
    /// client certificate irel presents to it (mutual TLS).
    pub fn cert_dir(mut self, host: &str, dir: &Path) -> Result<Self, Error> {
        let found = tls::HostTls::read(dir)?;
        let entry = self.host_tls.entry(host.to_ascii_lowercase()).or_default();
        entry.roots.extend(found.roots);
        if entry.client.is_none() {
            entry.client = found.client;
        }
        Ok(self)
    }

    /// Reads a `certs.d` directory: each subdirectory named `host[:port]` is a
    /// [`cert_dir`](Self::cert_dir) for that registry. A missing directory is fine.
    pub fn certs_d(mut self, base: &Path) -> Result<Self, Error> {
        let Ok(entries) = std::fs::read_dir(base) else {
            return Ok(self);
        };
        let mut dirs: Vec<_> = entries.flatten().filter(|e| e.path().is_dir()).collect();
        dirs.sort_by_key(|e| e.file_name());
        for e in dirs {
            let host = e.file_name().to_string_lossy().into_owned();
            self = self.cert_dir(&host, &e.path())?;
        }
        Ok(self)
    }

    /// Marks insecure the registries the containers `registries.conf` files mark insecure
    /// (`$CONTAINERS_REGISTRIES_CONF`, else `~/.config/containers/registries.conf` and
    /// `/etc/containers/registries.conf`). Missing files are fine.
    pub fn containers_registries_conf(mut self) -> Self {
        for f in registries_conf::default_files() {
            if let Ok(text) = std::fs::read_to_string(&f) {
                for host in insecure_registries(&text) {
                    self.policy.add_insecure(&host);
                }
            }
        }
        self
    }

    /// Reads the certs.d directories docker and podman read: `/etc/docker/certs.d`,
    /// `/etc/containers/certs.d` and `~/.config/containers/certs.d`.
    pub fn system_certs_d(mut self) -> Result<Self, Error> {
        let mut bases = vec![
            PathBuf::from("/etc/docker/certs.d"),
            PathBuf::from("/etc/containers/certs.d"),
        ];
        if let Some(home) = std::env::var_os("HOME") {
            bases.push(PathBuf::from(home).join(".config/containers/certs.d"));
        }
        for b in bases {
            self = self.certs_d(&b)?;
        }
        Ok(self)
    }

    /// Connects to `host` at `addr` instead of resolving it (TLS and policy still use `host`).
    pub fn resolve(mut self, host: &str, addr: IpAddr) -> Self {
        self.resolve.insert(host.to_ascii_lowercase(), addr);
        self
    }

    /// The `User-Agent` header value.
    pub fn user_agent(mut self, ua: &str) -> Self {
        self.user_agent = ua.to_string();
        self
    }

    /// How long to wait for a TCP connection (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout;
        self
    }

    /// How long to wait for a response head after the last request bytes went out (default
    /// [`DEFAULT_RESPONSE_TIMEOUT`]).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.response = timeout;
        self
    }

    /// How long a response body may send nothing while irel waits for it (default
    /// [`DEFAULT_IDLE_TIMEOUT`]).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.idle = timeout;
        self
    }

    /// All three timeouts at once.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The scheme policy in force.
    pub fn policy(&self) -> &SchemePolicy {
        &self.policy
    }
}

type Pool = HyperClient<HttpsConnector<HttpConnector<OverrideResolver>>, Body>;

/// The pooled HTTP client for all registry hosts: the bottom of a [`Session`](crate::session::Session)'s
/// stack. Cheap to clone; clones share pools. It sends each request as it is (no redirects, no
/// auth, no retries: the session's layers add those).
///
/// ```no_run
/// # async fn demo() -> Result<(), irel::transport::Error> {
/// use irel::transport::{full_body, Transport, TransportConfig};
/// let config = TransportConfig::default().insecure_registry("lab-registry:5000");
/// let transport = Transport::new(&config)?;
/// let request = http::Request::get("http://lab-registry:5000/v2/").body(full_body("")).unwrap();
/// let response = transport.send(request).await?;
/// println!("{}", response.status());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    verifying: Pool,
    insecure: Pool,
    /// Registries with certs.d settings of their own.
    per_host: HashMap<String, Pool>,
    /// Those of them that have a client certificate.
    with_client_cert: std::collections::HashSet<String>,
    policy: SchemePolicy,
    user_agent: HeaderValue,
    timeouts: Timeouts,
    retries: u32,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("policy", &self.inner.policy)
            .field("timeouts", &self.inner.timeouts)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Builds the connection pools.
    pub fn new(config: &TransportConfig) -> Result<Transport, Error> {
        let resolver = OverrideResolver::new(config.resolve.clone());
        let pool = |tls: rustls::ClientConfig| -> Pool {
            let mut http = HttpConnector::new_with_resolver(resolver.clone());
            http.enforce_http(false);
            http.set_nodelay(true);
            http.set_connect_timeout(Some(config.timeouts.connect));
            let https = HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .enable_http1()
                .enable_http2()
                .wrap_connector(http);
            HyperClient::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .build(https)
        };
        let user_agent = HeaderValue::from_str(&config.user_agent).map_err(|e| Error::InvalidUrl {
            url: config.user_agent.clone(),
            reason: format!("not a valid User-Agent: {e}"),
        })?;
        Ok(Transport {
            inner: Arc::new(Inner {
                verifying: pool(tls::verifying_config(&config.extra_roots)?),
                insecure: pool(tls::no_verify_config()?),
                per_host: config
                    .host_tls
                    .iter()
                    .map(|(host, t)| Ok((host.clone(), pool(tls::host_config(&config.extra_roots, t)?))))
                    .collect::<Result<_, Error>>()?,
                with_client_cert: config
                    .host_tls
                    .iter()
                    .filter(|(_, t)| t.client.is_some())
                    .map(|(h, _)| h.clone())
                    .collect(),
                policy: config.policy.clone(),
                user_agent,
                timeouts: config.timeouts,
                retries: config.retries,
            }),
        })
    }

    /// The `User-Agent` configured for requests (set by the session's user-agent layer).
    pub fn user_agent(&self) -> &HeaderValue {
        &self.inner.user_agent
    }

    /// How many times a first contact that could not connect is tried again.
    pub(crate) fn retries(&self) -> u32 {
        self.inner.retries
    }

    /// Whether `registry` has a client certificate configured (certs.d).
    pub(crate) fn has_client_cert(&self, registry: &str) -> bool {
        self.inner.with_client_cert.contains(&registry.to_ascii_lowercase())
    }

    /// The policy for a registry host.
    pub fn policy(&self, registry: &str) -> RegistryPolicy {
        self.inner.policy.for_registry(registry)
    }

    /// Sends one request as it is (no redirects followed), through the pool its host's policy
    /// selects. The URI must be absolute. Fails with [`Error::Timeout`] when the connection or
    /// the response head does not come in time; the body returned times out on its own.
    pub async fn send(&self, req: Request<Body>) -> Result<Response<ResponseBody>, Error> {
        let Some(authority) = req.uri().authority().map(|a| a.as_str().to_string()) else {
            return Err(Error::InvalidUrl {
                url: req.uri().to_string(),
                reason: "a request needs an absolute URL (with a host)".into(),
            });
        };
        let pool = if self.policy(&authority).verifies_tls() {
            self.inner
                .per_host
                .get(&authority.to_ascii_lowercase())
                .unwrap_or(&self.inner.verifying)
        } else {
            &self.inner.insecure
        };
        let (method, url) = (req.method().clone(), req.uri().to_string());
        let started = std::time::Instant::now();
        let timeouts = self.inner.timeouts;
        let activity = timeouts::Activity::new();
        let req = req.map(|body| timeouts::tracking(body, activity.clone()));
        let Some(result) = timeouts::within(pool.request(req), &activity, timeouts.response).await else {
            tracing::debug!(
                "{method} {} -> no response after {} ms",
                redact_url(&url),
                started.elapsed().as_millis()
            );
            return Err(Error::Timeout {
                method,
                url: redact_url(&url),
                phase: TimeoutPhase::Response,
                after: timeouts.response,
            });
        };
        // Headers are never logged (they carry credentials), and URLs only redacted.
        match &result {
            Ok(resp) => tracing::debug!(
                "{method} {} -> {} in {} ms",
                redact_url(&url),
                resp.status().as_u16(),
                started.elapsed().as_millis()
            ),
            Err(e) => tracing::debug!(
                "{method} {} -> failed after {} ms: {}",
                redact_url(&url),
                started.elapsed().as_millis(),
                error_chain(e)
            ),
        }
        match result {
            Ok(resp) => Ok(resp.map(|body| ResponseBody::new(body, timeouts.idle, method, url))),
            Err(e) if e.is_connect() && timed_out(&e) => Err(Error::Timeout {
                method,
                url: redact_url(&url),
                phase: TimeoutPhase::Connect,
                after: timeouts.connect,
            }),
            // Redacted as in logs: a pre-signed storage URL's signature must not reach output.
            Err(e) => Err(Error::Request {
                method,
                url: redact_url(&url),
                detail: error_chain(&e),
                source: Box::new(e),
            }),
        }
    }
}

/// Whether `e` says the registry could not be reached at all (refused, reset, timed out while
/// connecting): worth another try. A name that does not resolve is not: a typo stays a typo.
pub(crate) fn cannot_connect(e: &Error) -> bool {
    match e {
        Error::Timeout {
            phase: TimeoutPhase::Connect,
            ..
        } => true,
        Error::Request { source, .. } | Error::Unreachable { source, .. } => {
            io_kinds(source.as_ref()).next().is_some_and(|kind| {
                use std::io::ErrorKind::*;
                matches!(kind, ConnectionRefused | ConnectionReset | ConnectionAborted | TimedOut)
            })
        }
        _ => false,
    }
}

/// Whether an I/O timeout is among the causes of `e` (how the connector reports its own).
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    io_kinds(e).any(|kind| kind == std::io::ErrorKind::TimedOut)
}

/// The kinds of the I/O errors among `e` and its causes, outermost first.
fn io_kinds<'a>(e: &'a (dyn std::error::Error + 'static)) -> impl Iterator<Item = std::io::ErrorKind> + 'a {
    std::iter::successors(Some(e), |c| c.source())
        .filter_map(|c| c.downcast_ref::<std::io::Error>().map(|io| io.kind()))
}

/// `url` fit for a log: any user info dropped, and the values of query parameters that may be
/// secrets (signatures, credentials, tokens, upload state) replaced.
pub fn redact_url(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return "<unparsable URL>".to_string();
    };
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if u.query().is_some() {
        let secret = |k: &str| {
            let k = k.to_ascii_lowercase();
            [
                "signature",
                "credential",
                "token",
                "secret",
                "password",
                "key",
                "state",
                "sig",
            ]
            .iter()
            .any(|s| k.contains(s))
        };
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) {
                    "<redacted>".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

pub(crate) fn parse_url(url: &str) -> Result<url::Url, Error> {
    url::Url::parse(url).map_err(|e| Error::InvalidUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

pub(crate) fn to_uri(url: &url::Url) -> Result<Uri, Error> {
    url.as_str()
        .parse()
        .map_err(|e: http::uri::InvalidUri| Error::InvalidUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })
}

/// Reads a whole response body, refusing more than `limit` bytes.
pub(crate) async fn read_body_limited(mut body: ResponseBody, limit: usize, url: &str) -> Result<Bytes, Error> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| match e.downcast::<Error>() {
            Ok(timeout) => *timeout,
            Err(e) => Error::Request {
                method: Method::GET,
                url: url.to_string(),
                detail: error_chain(e.as_ref()),
                source: e,
            },
        })?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(Error::BodyTooLarge {
                    url: url.to_string(),
                    limit,
                });
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod timeout_tests {
    #[derive(Debug, thiserror::Error)]
    #[error("tcp connect error")]
    struct Connect(#[source] std::io::Error);

    #[test]
    fn a_connector_timeout_is_found_among_the_causes() {
        let timed_out = Connect(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timeout"));
        assert!(super::timed_out(&timed_out));
        let refused = Connect(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(!super::timed_out(&refused));
    }
}

#[cfg(test)]
mod redact_tests {
    #[test]
    fn urls_are_redacted_for_logs() {
        let u = super::redact_url("https://u:p@s3.example/b?X-Amz-Signature=abc&X-Amz-Credential=k&part=1&_state=s");
        assert!(
            !u.contains("abc") && !u.contains("u:p") && !u.contains("=k") && !u.contains("=s"),
            "{u}"
        );
        assert!(u.contains("part=1"), "{u}");
    }
}

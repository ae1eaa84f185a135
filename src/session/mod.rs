//! The registry session: every request irel sends goes through one `tower` stack, composed in
//! [`SessionBuilder::build`] and nowhere else. An embedder builds a [`Session`], sends
//! authenticated requests for operations irel has no method for ([`RegistryRequest`]), and adds
//! its own layers ([`SessionBuilder::layer`]: tower's `limit` and `timeout`, metrics, tracing).
//!
//! ```no_run
//! # async fn demo() -> Result<(), irel::Error> {
//! use irel::session::{RegistryRequest, Session};
//! let session = Session::builder()
//!     .credentials(irel::auth::DockerConfig::load_default()?)
//!     .layer(tower::limit::ConcurrencyLimitLayer::new(8))
//!     .build()?;
//! let image: irel::Reference = "registry.example/team/app:1.0".parse()?;
//! let tags = session
//!     .send(RegistryRequest::get(&image.to_repository(), "/v2/team/app/tags/list").expect([http::StatusCode::OK]))
//!     .await?;
//! println!("{}", tags.status());
//! # Ok(()) }
//! ```
//!
//! The stack, from the outside in, is described in [`layers`]. Which scheme each registry
//! speaks is found once per registry by a ping (see `scheme.rs`) before its first request.

pub mod layers;
pub(crate) mod paging;
mod request;
mod scheme;
mod token;

pub use layers::retry::DEFAULT_RETRIES;
pub use paging::Fetched;
pub use request::{RegistryContext, RegistryRequest, RequestBody, Target};

use std::sync::Arc;

use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt as _};

use crate::auth::{CredentialChain, CredentialSource};
use crate::error::{parse_error_body, Error};
use crate::model::name::Repository;
use crate::transport::{self, read_body_limited, BoxError, Ping, Transport, TransportConfig};
use layers::{
    AuthLayer, CountLayer, HttpRequest, HttpResponse, RedirectLayer, RequestCounter, RetryLayer, UserAgentLayer,
    WarningListener, Warnings, WarningsLayer, Wire,
};
pub(crate) use scheme::Schemes;
pub(crate) use token::Authenticator;

/// Registry error bodies are read up to this size.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The stack below authorization and retries (what pings and token requests go through), and
/// what [`SessionBuilder::wire_layer`] wraps: every exchange on the network.
///
/// A wire layer that logs every exchange on the network, pings and token requests included:
/// ```
/// use irel::session::{layers::HttpRequest, Session, WireService};
/// use tower::ServiceExt as _;
/// let session = Session::builder()
///     .wire_layer(tower::layer::layer_fn(|wire: WireService| {
///         wire.map_request(|req: HttpRequest| {
///             eprintln!("{} {}", req.method(), req.uri());
///             req
///         })
///     }))
///     .build()
///     .unwrap();
/// # let _ = session;
/// ```
pub type WireService = BoxCloneSyncService<HttpRequest, HttpResponse, transport::Error>;
pub(crate) type PlainService = WireService;
/// The whole stack, as [`SessionBuilder::layer`] wraps it.
///
/// A layer of one's own around the whole stack, tagging each registry request:
/// ```
/// use http::HeaderValue;
/// use irel::session::{layers::HttpRequest, Session, SessionService};
/// use tower::ServiceExt as _;
/// let session = Session::builder()
///     .layer(tower::layer::layer_fn(|stack: SessionService| {
///         stack.map_request(|mut req: HttpRequest| {
///             req.headers_mut().insert("x-mirror-job", HeaderValue::from_static("nightly"));
///             req
///         })
///     }))
///     .build()
///     .unwrap();
/// # let _ = session;
/// ```
pub type SessionService = BoxCloneSyncService<HttpRequest, HttpResponse, Error>;

type AddLayer = Box<dyn FnOnce(SessionService) -> SessionService + Send>;
type AddWireLayer = Box<dyn FnOnce(WireService) -> WireService + Send>;

/// The URL a response answers, in its extensions (after a redirect, the first one asked).
///
/// ```no_run
/// # async fn demo(session: irel::session::Session) -> Result<(), irel::Error> {
/// use irel::session::{RegistryRequest, RequestUrl};
/// let image: irel::Reference = "registry.example/team/app:1.0".parse()?;
/// let resp = session.send(RegistryRequest::head(&image.to_repository(), "/v2/team/app/manifests/1.0")).await?;
/// if let Some(RequestUrl(url)) = resp.extensions().get::<RequestUrl>() {
///     println!("{url}: {}", resp.status());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RequestUrl(pub String);

/// Builds a [`Session`].
///
/// ```
/// let session = irel::session::Session::builder()
///     .insecure_registry("lab-registry:5000")
///     .retry_times(5)
///     .build()
///     .unwrap();
/// # let _ = session;
/// ```
pub struct SessionBuilder {
    transport: TransportConfig,
    credentials: CredentialChain,
    retry_times: u32,
    on_warning: Option<WarningListener>,
    layers: Vec<AddLayer>,
    wire_layers: Vec<AddWireLayer>,
}

impl std::fmt::Debug for SessionBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionBuilder")
            .field("transport", &self.transport)
            .field("retry_times", &self.retry_times)
            .field("layers", &self.layers.len())
            .field("wire_layers", &self.wire_layers.len())
            .finish_non_exhaustive()
    }
}

impl Default for SessionBuilder {
    fn default() -> Self {
        SessionBuilder {
            transport: TransportConfig::default(),
            credentials: CredentialChain::default(),
            retry_times: layers::retry::DEFAULT_RETRIES,
            on_warning: None,
            layers: Vec::new(),
            wire_layers: Vec::new(),
        }
    }
}

impl SessionBuilder {
    /// Replaces the transport settings wholesale (the retry count stays this builder's).
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        self.transport = config.retries(self.retry_times);
        self
    }

    /// Allows plain http and unverified TLS for `host[:port]`.
    pub fn insecure_registry(mut self, host: &str) -> Self {
        self.transport = self.transport.insecure_registry(host);
        self
    }

    /// https with verification only for `host[:port]`, even on a loopback host (a skopeo sync
    /// file's explicit `tls-verify: true`).
    pub fn secure_registry(mut self, host: &str) -> Self {
        self.transport = self.transport.secure_registry(host);
        self
    }

    /// Every registry insecure: TLS unverified and plain http allowed (Go irel's
    /// `--skip-tls-verify`).
    pub fn skip_tls_verify(mut self, skip: bool) -> Self {
        self.transport = self.transport.skip_tls_verify(skip);
        self
    }

    /// Trusts the PEM certificates in `path` as extra roots.
    pub fn ca_certificate_file(mut self, path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        self.transport = self.transport.ca_certificate_file(path)?;
        Ok(self)
    }

    /// Reads the certs.d directories docker and podman read (per-registry roots and client
    /// certificates); see [`TransportConfig::system_certs_d`].
    pub fn system_certs_d(mut self) -> Result<Self, Error> {
        self.transport = self.transport.system_certs_d()?;
        Ok(self)
    }

    /// Marks insecure what the containers `registries.conf` marks insecure; see
    /// [`TransportConfig::containers_registries_conf`].
    pub fn containers_registries_conf(mut self) -> Self {
        self.transport = self.transport.containers_registries_conf();
        self
    }

    /// A docker-style certificate directory for one registry; see [`TransportConfig::cert_dir`].
    pub fn cert_dir(mut self, host: &str, dir: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        self.transport = self.transport.cert_dir(host, dir.as_ref())?;
        Ok(self)
    }

    /// Connects to `host` at `addr` instead of resolving it.
    pub fn resolve(mut self, host: &str, addr: std::net::IpAddr) -> Self {
        self.transport = self.transport.resolve(host, addr);
        self
    }

    /// Bounds every wait on a registry by `limit`: connecting, the response head, and each
    /// pause of a response body (see [`Timeouts`](transport::Timeouts) for the defaults). A
    /// timeout is retried like a broken connection.
    pub fn timeout(self, limit: std::time::Duration) -> Self {
        self.timeouts(transport::Timeouts::all(limit))
    }

    /// Sets the three timeouts separately.
    pub fn timeouts(mut self, timeouts: transport::Timeouts) -> Self {
        self.transport = self.transport.timeouts(timeouts);
        self
    }

    /// Adds a credential source; sources are asked in the order added.
    pub fn credentials(mut self, source: impl CredentialSource + 'static) -> Self {
        self.credentials.0.push(Box::new(source));
        self
    }

    /// How many times a failed request is sent again (the first contact with a registry, GET
    /// and HEAD after connection failures and 408, 429 and 5xx answers) and a broken download
    /// resumed (default 3).
    pub fn retry_times(mut self, n: u32) -> Self {
        self.retry_times = n;
        self.transport = self.transport.retries(n);
        self
    }

    /// Calls `listener` with the registry host and text of each warning registries send
    /// (`Warning: 299 - "…"` headers: deprecations, quotas), once per distinct text, cleaned of
    /// control characters. Without a listener they are logged with `tracing` at warn level.
    pub fn on_warning(mut self, listener: impl Fn(&str, &str) + Send + Sync + 'static) -> Self {
        self.on_warning = Some(Arc::new(listener));
        self
    }

    /// Wraps the stack in `layer`, outside irel's own layers: it sees each registry request
    /// once, as [`Session::send`] hands it over (a concurrency limit bounds requests in flight;
    /// a timeout bounds one request with its retries). Layers added later wrap earlier ones.
    /// A limit here holds its permit until the response head arrives: for an upload, until
    /// its whole body is sent. A download that breaks off and resumes sends a request of its
    /// own meanwhile, so keep such a limit above the number of blobs copied at once
    /// (`CopyOptions::concurrency`).
    /// An error of the layer's own becomes [`Error::Layer`].
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<SessionService> + Send + 'static,
        L::Service: tower::Service<HttpRequest, Response = HttpResponse> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<HttpRequest>>::Error: Into<BoxError>,
        <L::Service as tower::Service<HttpRequest>>::Future: Send + 'static,
    {
        self.layers.push(Box::new(move |inner| {
            BoxCloneSyncService::new(layer.layer(inner).map_err(
                |e: <L::Service as tower::Service<HttpRequest>>::Error| {
                    let e: BoxError = e.into();
                    match e.downcast::<Error>() {
                        Ok(ours) => *ours,
                        Err(theirs) => Error::Layer(theirs),
                    }
                },
            ))
        }));
        self
    }

    /// Wraps the transport in `layer`, below irel's own layers: it sees every exchange on the
    /// network one by one (pings, token requests, each redirect hop and each retry), for
    /// tracing or metrics per HTTP request. Layers added later wrap earlier ones. An error of
    /// the layer's own becomes [`transport::Error::Layer`].
    pub fn wire_layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<WireService> + Send + 'static,
        L::Service: tower::Service<HttpRequest, Response = HttpResponse> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<HttpRequest>>::Error: Into<BoxError>,
        <L::Service as tower::Service<HttpRequest>>::Future: Send + 'static,
    {
        self.wire_layers.push(Box::new(move |inner| {
            BoxCloneSyncService::new(layer.layer(inner).map_err(
                |e: <L::Service as tower::Service<HttpRequest>>::Error| {
                    let e: BoxError = e.into();
                    match e.downcast::<transport::Error>() {
                        Ok(ours) => *ours,
                        Err(theirs) => transport::Error::Layer(theirs),
                    }
                },
            ))
        }));
        self
    }

    /// Builds the session (connection pools, TLS configurations) and composes its stack.
    pub fn build(self) -> Result<Session, Error> {
        let transport = Transport::new(&self.transport)?;
        let counter = RequestCounter::default();
        let mut wire: WireService = BoxCloneSyncService::new(Wire(transport.clone()));
        for add in self.wire_layers {
            wire = add(wire);
        }
        let plain: PlainService = BoxCloneSyncService::new(
            ServiceBuilder::new()
                .layer(RedirectLayer)
                .layer(WarningsLayer::new(Warnings::new(self.on_warning)))
                .layer(UserAgentLayer::new(transport.user_agent().clone()))
                .layer(CountLayer::new(counter.clone()))
                .service(wire),
        );
        let schemes = Schemes::new(transport.clone(), plain.clone());
        let auth = Authenticator::new(
            transport.clone(),
            plain.clone(),
            schemes.clone(),
            Arc::new(self.credentials),
        );
        let mut service: SessionService = BoxCloneSyncService::new(
            ServiceBuilder::new()
                .layer(AuthLayer::new(auth.clone(), schemes.clone()))
                .layer(RetryLayer::new(self.retry_times))
                .service(plain),
        );
        for add in self.layers {
            service = add(service);
        }
        Ok(Session(Arc::new(Parts {
            service,
            schemes,
            auth,
            transport,
            counter,
            retry_times: self.retry_times,
        })))
    }
}

/// A registry session: connections, pings, tokens and the request stack, shared by its clones.
///
/// ```
/// use irel::session::Session;
/// let session = Session::builder().retry_times(5).build().unwrap();
/// assert_eq!((session.requests_sent(), session.retry_times()), (0, 5));
/// // A client over it shares its connections, pings and tokens.
/// let client = irel::Client::with_session(session.clone(), irel::ListingLimits::default());
/// assert_eq!(client.session().retry_times(), 5);
/// ```
#[derive(Clone)]
pub struct Session(Arc<Parts>);

struct Parts {
    service: SessionService,
    schemes: Schemes,
    auth: Authenticator,
    transport: Transport,
    counter: RequestCounter,
    retry_times: u32,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("requests_sent", &self.requests_sent())
            .field("retry_times", &self.0.retry_times)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Starts configuring a session.
    pub fn builder() -> SessionBuilder {
        SessionBuilder::default()
    }

    /// Sends `request` through the stack: its registry pinged first if it was not yet (for the
    /// scheme and the challenge), authorized, retried when that is safe. A status outside the
    /// request's [`expect`](RegistryRequest::expect) list becomes [`Error::Registry`], with the
    /// registry's error codes. The response's extensions hold the [`RequestUrl`] asked.
    pub async fn send(&self, request: RegistryRequest) -> Result<HttpResponse, Error> {
        let (mut resp, url) = self.send_at(request).await?;
        resp.extensions_mut().insert(RequestUrl(url));
        Ok(resp)
    }

    /// [`send`](Self::send), then the body read whole, refusing more than `limit` bytes: for
    /// JSON answers (tag lists, manifests, referrers). [`Fetched::next_page`] follows a
    /// paginated listing.
    pub async fn fetch(&self, request: RegistryRequest, limit: usize) -> Result<Fetched, Error> {
        let (resp, url) = self.send_at(request).await?;
        let (parts, body) = resp.into_parts();
        let body = read_body_limited(body, limit, &url).await?;
        Ok(Fetched {
            status: parts.status,
            headers: parts.headers,
            url,
            body,
        })
    }

    /// [`send`](Self::send), returning the URL asked beside the response.
    pub(crate) async fn send_at(&self, request: RegistryRequest) -> Result<(HttpResponse, String), Error> {
        let RegistryRequest {
            method,
            context,
            target,
            headers,
            body,
            expect,
        } = request;
        let base = self.0.schemes.base_url(&context.api_host).await?;
        let url = match target {
            request::Target::Path(path) => {
                if !path.starts_with('/') {
                    return Err(transport::Error::InvalidUrl {
                        url: path,
                        reason: "a request path on a registry starts with / (/v2/…); an absolute URL needs its scheme"
                            .into(),
                    }
                    .into());
                }
                transport::parse_url(&format!("{base}{path}"))?
            }
            // A URL a registry handed over (a Location, a Link) or an embedder built: never a
            // step down from the scheme the registry speaks.
            request::Target::Url(url) => {
                layers::check_followed(&transport::parse_url(&base)?, &url, "request URL")?;
                url
            }
        };
        let operation = context.operation.clone();
        let mut req = http::Request::new(body);
        *req.method_mut() = method;
        *req.uri_mut() = transport::to_uri(&url)?;
        *req.headers_mut() = headers;
        req.extensions_mut().insert(context);
        let url = url.to_string();
        let resp = self.0.service.clone().oneshot(req).await?;
        if expect.is_empty() || expect.contains(&resp.status()) {
            return Ok((resp, url));
        }
        let status = resp.status();
        let retry_after = layers::retry::retry_after_header(resp.headers());
        // The status is the answer; an error body that cannot be read only has no codes to add.
        let errors = match read_body_limited(resp.into_body(), MAX_ERROR_BODY, &url).await {
            Ok(body) => parse_error_body(&body),
            Err(e) => {
                tracing::debug!("{operation} {url}: the {status} answer's body could not be read: {e}");
                Vec::new()
            }
        };
        Err(Error::Registry {
            operation,
            url,
            status,
            errors,
            hint: None,
            retry_after,
        })
    }

    /// What the registry serving `r` answered to its ping (sent now if it was not yet).
    pub async fn ping(&self, r: &Repository) -> Result<Ping, Error> {
        Ok(self.0.schemes.ping(r.api_host()).await?)
    }

    /// `scheme://host[:port]` of the registry serving `r`.
    pub async fn base_url(&self, r: &Repository) -> Result<String, Error> {
        Ok(self.0.schemes.base_url(r.api_host()).await?)
    }

    /// How many requests went on the wire so far: registry calls, pings, token requests,
    /// redirect hops and retries.
    pub fn requests_sent(&self) -> u64 {
        self.0.counter.get()
    }

    /// The transport (connection pools, TLS, scheme policy, timeouts).
    pub fn transport(&self) -> &Transport {
        &self.0.transport
    }

    /// How many times a failed request is sent again.
    pub fn retry_times(&self) -> u32 {
        self.0.retry_times
    }

    /// Whether credentials are configured for `registry` (`docker.io`, `host:port`).
    pub fn has_credentials(&self, registry: &str) -> bool {
        self.0.auth.has_credentials(registry)
    }
}

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
//!     .send(RegistryRequest::get(&image, "/v2/team/app/tags/list").expect([http::StatusCode::OK]))
//!     .await?;
//! println!("{}", tags.status());
//! # Ok(()) }
//! ```
//!
//! The stack, from the outside in, is described in [`layers`]. Which scheme each registry
//! speaks is found once per registry by a ping (see `scheme.rs`) before its first request.

pub mod layers;
mod request;
mod scheme;
mod token;

pub use layers::retry::DEFAULT_RETRIES;
pub use request::{RegistryContext, RegistryRequest, RequestBody, Target};

use std::sync::Arc;

use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt as _};

use crate::auth::{CredentialChain, CredentialSource};
use crate::error::{parse_error_body, Error};
use crate::reference::Reference;
use crate::transport::{self, read_body_limited, BoxError, Ping, Transport, TransportConfig};
use layers::{
    AuthLayer, CountLayer, HttpRequest, HttpResponse, RedirectLayer, RequestCounter, RetryLayer, UserAgentLayer,
    WarningListener, Warnings, WarningsLayer, Wire,
};
pub(crate) use scheme::Schemes;
pub(crate) use token::Authenticator;

/// Registry error bodies are read up to this size.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The stack below authorization and retries: what pings and token requests go through.
pub(crate) type PlainService = BoxCloneSyncService<HttpRequest, HttpResponse, transport::Error>;
/// The whole stack, as [`SessionBuilder::layer`] wraps it.
pub type SessionService = BoxCloneSyncService<HttpRequest, HttpResponse, Error>;

type AddLayer = Box<dyn FnOnce(SessionService) -> SessionService + Send>;

/// The URL a response answers, in its extensions (after a redirect, the first one asked).
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
}

impl std::fmt::Debug for SessionBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionBuilder")
            .field("transport", &self.transport)
            .field("retry_times", &self.retry_times)
            .field("layers", &self.layers.len())
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
        }
    }
}

impl SessionBuilder {
    /// The transport settings (TLS, scheme policy, timeouts, name overrides), to change in place.
    pub fn transport_mut(&mut self) -> &mut TransportConfig {
        &mut self.transport
    }

    /// Replaces the transport settings wholesale.
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        self.transport = config;
        self.transport.retries(self.retry_times);
        self
    }

    /// Allows plain http and unverified TLS for `host[:port]`.
    pub fn insecure_registry(mut self, host: &str) -> Self {
        self.transport.insecure_registry(host);
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
        self.transport.retries(n);
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

    /// Builds the session (connection pools, TLS configurations) and composes its stack.
    pub fn build(self) -> Result<Session, Error> {
        let transport = Transport::new(&self.transport)?;
        let counter = RequestCounter::default();
        let plain: PlainService = BoxCloneSyncService::new(
            ServiceBuilder::new()
                .layer(RedirectLayer)
                .layer(WarningsLayer::new(Warnings::new(self.on_warning)))
                .layer(UserAgentLayer::new(transport.user_agent().clone()))
                .layer(CountLayer::new(counter.clone()))
                .service(Wire(transport.clone())),
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
        let url = match target {
            request::Target::Path(path) => {
                let base = self.0.schemes.base_url(&context.api_host).await?;
                transport::parse_url(&format!("{base}{path}"))?
            }
            request::Target::Url(url) => url,
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
    pub async fn ping(&self, r: &Reference) -> Result<Ping, Error> {
        Ok(self.0.schemes.ping(r.api_host()).await?)
    }

    /// `scheme://host[:port]` of the registry serving `r`.
    pub async fn base_url(&self, r: &Reference) -> Result<String, Error> {
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

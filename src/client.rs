//! [`Client`]: the registry client, built once and shared. It holds the [`Session`] every
//! request goes through; the manifest, blob and copy modules add operations to it.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use http::Response;

use crate::auth::CredentialSource;
use crate::error::Error;
use crate::reference::Reference;
use crate::session::{RegistryRequest, Session, SessionBuilder};
use crate::transport::{self, ResponseBody, TransportConfig};

/// Builds a [`Client`].
///
/// ```
/// # fn demo() -> Result<(), irel::Error> {
/// let client = irel::Client::builder()
///     .insecure_registry("lab-registry:5000")
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct ClientBuilder {
    session: SessionBuilder,
    listing_limits: crate::catalog::ListingLimits,
}

impl ClientBuilder {
    /// Allows plain http and unverified TLS for `host[:port]`.
    pub fn insecure_registry(mut self, host: &str) -> Self {
        self.session.transport_mut().insecure_registry(host);
        self
    }

    /// https with verification only for `host[:port]`, even on a loopback host (a skopeo sync
    /// file's explicit `tls-verify: true`).
    pub fn secure_registry(mut self, host: &str) -> Self {
        self.session.transport_mut().secure_registry(host);
        self
    }

    /// Every registry insecure: TLS unverified and plain http allowed (Go irel's `--skip-tls-verify`).
    pub fn skip_tls_verify(mut self, skip: bool) -> Self {
        self.session.transport_mut().skip_tls_verify(skip);
        self
    }

    /// Trusts the PEM certificates in `path` as extra roots.
    pub fn ca_certificate_file(mut self, path: impl AsRef<Path>) -> Result<Self, Error> {
        self.session.transport_mut().ca_certificate_file(path)?;
        Ok(self)
    }

    /// Reads the certs.d directories docker and podman read (per-registry roots and client
    /// certificates); see [`TransportConfig::system_certs_d`].
    pub fn system_certs_d(mut self) -> Result<Self, Error> {
        self.session.transport_mut().system_certs_d()?;
        Ok(self)
    }

    /// Marks insecure what the containers `registries.conf` marks insecure; see
    /// [`TransportConfig::containers_registries_conf`].
    pub fn containers_registries_conf(mut self) -> Self {
        self.session.transport_mut().containers_registries_conf();
        self
    }

    /// A docker-style certificate directory for one registry; see [`TransportConfig::cert_dir`].
    pub fn cert_dir(mut self, host: &str, dir: impl AsRef<Path>) -> Result<Self, Error> {
        self.session.transport_mut().cert_dir(host, dir.as_ref())?;
        Ok(self)
    }

    /// Connects to `host` at `addr` instead of resolving it.
    pub fn resolve(mut self, host: &str, addr: IpAddr) -> Self {
        self.session.transport_mut().resolve(host, addr);
        self
    }

    /// Bounds every wait on a registry by `limit`: connecting, the response head, and each
    /// pause of a response body (see [`Timeouts`](transport::Timeouts) for the defaults). A
    /// timeout is retried like a broken connection.
    pub fn timeout(mut self, limit: std::time::Duration) -> Self {
        self.session.transport_mut().timeouts(transport::Timeouts::all(limit));
        self
    }

    /// Sets the three timeouts separately.
    pub fn timeouts(mut self, timeouts: transport::Timeouts) -> Self {
        self.session.transport_mut().timeouts(timeouts);
        self
    }

    /// Adds a credential source; sources are asked in the order added.
    pub fn credentials(mut self, source: impl CredentialSource + 'static) -> Self {
        self.session = self.session.credentials(source);
        self
    }

    /// How many times a failed request is sent again (the first contact with a registry, GET
    /// and HEAD after connection failures and 408, 429 and 5xx answers) and a broken download
    /// resumed (default 3).
    pub fn retry_times(mut self, n: u32) -> Self {
        self.session = self.session.retry_times(n);
        self
    }

    /// Bounds each listing (tags, catalog, referrers) over all its pages; see
    /// [`ListingLimits`](crate::ListingLimits) for the defaults.
    pub fn listing_limits(mut self, limits: crate::catalog::ListingLimits) -> Self {
        self.listing_limits = limits;
        self
    }

    /// Calls `listener` with the registry host and text of each warning registries send
    /// (`Warning: 299 - "…"` headers: deprecations, quotas), once per distinct text, cleaned of
    /// control characters. Without a listener they are logged with `tracing` at warn level.
    ///
    /// ```
    /// let client = irel::Client::builder()
    ///     .on_warning(|host, text| eprintln!("warning from {host}: {text}"))
    ///     .build()
    ///     .unwrap();
    /// # let _ = client;
    /// ```
    pub fn on_warning(mut self, listener: impl Fn(&str, &str) + Send + Sync + 'static) -> Self {
        self.session = self.session.on_warning(listener);
        self
    }

    /// Replaces the transport settings wholesale.
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        self.session = self.session.transport_config(config);
        self
    }

    /// Wraps the session's stack in `layer`; see [`SessionBuilder::layer`].
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<crate::session::SessionService> + Send + 'static,
        L::Service: tower::Service<crate::session::layers::HttpRequest, Response = crate::session::layers::HttpResponse>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<crate::session::layers::HttpRequest>>::Error: Into<transport::BoxError>,
        <L::Service as tower::Service<crate::session::layers::HttpRequest>>::Future: Send + 'static,
    {
        self.session = self.session.layer(layer);
        self
    }

    /// Builds the client (connection pools, TLS configurations, the session's stack).
    pub fn build(self) -> Result<Client, Error> {
        Ok(Client::with_session(self.session.build()?, self.listing_limits))
    }
}

/// A registry client. Cheap to clone; clones share connections and tokens.
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) session: Session,
    pub(crate) listing_limits: crate::catalog::ListingLimits,
    /// Registries that refused single-PUT uploads: they get PATCH + PUT.
    pub(crate) chunked_uploads: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// Registries that refused a mount POST (`?mount=…&from=…`): they get a HEAD and a plain
    /// upload POST instead.
    pub(crate) mounts_refused: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// Serializes this client's updates of each referrers fallback index.
    pub(crate) fallback_locks: crate::manifest::FallbackLocks,
    /// Upload sessions being cancelled after their copy was dropped.
    pub(crate) cleanups: crate::copy::Cleanups,
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client over a session built elsewhere (with layers of the embedder's own).
    pub fn with_session(session: Session, listing_limits: crate::catalog::ListingLimits) -> Client {
        Client {
            session,
            listing_limits,
            chunked_uploads: Arc::default(),
            mounts_refused: Arc::default(),
            fallback_locks: Arc::default(),
            cleanups: Default::default(),
        }
    }

    /// The cleanups this client has in flight (upload sessions being cancelled after a copy was
    /// dropped): a program that stops on a signal awaits [`Cleanups::settled`](crate::copy::Cleanups::settled)
    /// before it exits.
    pub fn cleanups(&self) -> crate::copy::Cleanups {
        self.cleanups.clone()
    }

    /// The session every request of this client goes through.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// `scheme://host` of the registry serving `r`.
    pub(crate) async fn base_url(&self, r: &Reference) -> Result<String, Error> {
        self.session.base_url(r).await
    }

    /// Sends `request` through the session; see [`Session::send`].
    pub(crate) async fn send(&self, request: RegistryRequest) -> Result<(Response<ResponseBody>, String), Error> {
        self.session.send_at(request).await
    }
}

//! [`Client`]: the registry client, built once and shared. It joins the transport and the
//! authenticator; the manifest, blob and copy modules add operations to it.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, WWW_AUTHENTICATE};
use http::{HeaderMap, Method, Request, Response, StatusCode};

use crate::auth::{Authenticator, CredentialChain, CredentialSource, Scope};
use crate::error::{parse_error_body, Error};
use crate::reference::Reference;
use crate::transport::{self, full_body, read_body_limited, retry, Body, ResponseBody, Transport, TransportConfig};

/// Registry error bodies are read up to this size.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A request body, and whether it can be sent again after a 401.
pub(crate) enum RequestBody {
    Empty,
    Bytes(Bytes),
    /// A stream: sent once. The caller must hold a valid token first (an earlier request in the
    /// same scope got it), because a 401 cannot be retried.
    Stream(Body, u64),
}

/// Builds a [`Client`].
///
/// ```
/// # fn demo() -> Result<(), irel::Error> {
/// let client = irel::Client::builder()
///     .insecure_registry("lab-registry:5000")
///     .build()?;
/// # Ok(()) }
/// ```
pub struct ClientBuilder {
    transport: TransportConfig,
    credentials: CredentialChain,
    retry_times: u32,
    listing_limits: crate::catalog::ListingLimits,
    on_warning: Option<crate::warnings::WarningListener>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            transport: TransportConfig::default(),
            credentials: CredentialChain::default(),
            retry_times: retry::DEFAULT_RETRIES,
            listing_limits: Default::default(),
            on_warning: None,
        }
    }
}

impl ClientBuilder {
    /// Allows plain http and unverified TLS for `host[:port]`.
    pub fn insecure_registry(mut self, host: &str) -> Self {
        self.transport.insecure_registry(host);
        self
    }

    /// https with verification only for `host[:port]`, even on a loopback host (a skopeo sync
    /// file's explicit `tls-verify: true`).
    pub fn secure_registry(mut self, host: &str) -> Self {
        self.transport.secure_registry(host);
        self
    }

    /// Every registry insecure: TLS unverified and plain http allowed (Go irel's `--skip-tls-verify`).
    pub fn skip_tls_verify(mut self, skip: bool) -> Self {
        self.transport.skip_tls_verify(skip);
        self
    }

    /// Trusts the PEM certificates in `path` as extra roots.
    pub fn ca_certificate_file(mut self, path: impl AsRef<Path>) -> Result<Self, Error> {
        self.transport.ca_certificate_file(path)?;
        Ok(self)
    }

    /// Reads the certs.d directories docker and podman read (per-registry roots and client
    /// certificates); see [`TransportConfig::system_certs_d`].
    pub fn system_certs_d(mut self) -> Result<Self, Error> {
        self.transport.system_certs_d()?;
        Ok(self)
    }

    /// Marks insecure what the containers `registries.conf` marks insecure; see
    /// [`TransportConfig::containers_registries_conf`].
    pub fn containers_registries_conf(mut self) -> Self {
        self.transport.containers_registries_conf();
        self
    }

    /// A docker-style certificate directory for one registry; see [`TransportConfig::cert_dir`].
    pub fn cert_dir(mut self, host: &str, dir: impl AsRef<Path>) -> Result<Self, Error> {
        self.transport.cert_dir(host, dir.as_ref())?;
        Ok(self)
    }

    /// Connects to `host` at `addr` instead of resolving it.
    pub fn resolve(mut self, host: &str, addr: IpAddr) -> Self {
        self.transport.resolve(host, addr);
        self
    }

    /// Bounds every wait on a registry by `limit`: connecting, the response head, and each
    /// pause of a response body (see [`Timeouts`](transport::Timeouts) for the defaults). A
    /// timeout is retried like a broken connection.
    pub fn timeout(mut self, limit: std::time::Duration) -> Self {
        self.transport.timeouts(transport::Timeouts::all(limit));
        self
    }

    /// Sets the three timeouts separately.
    pub fn timeouts(mut self, timeouts: transport::Timeouts) -> Self {
        self.transport.timeouts(timeouts);
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
        self.on_warning = Some(Arc::new(listener));
        self
    }

    /// Replaces the transport settings wholesale.
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        self.transport = config;
        self
    }

    /// Builds the client (connection pools, TLS configurations).
    pub fn build(self) -> Result<Client, Error> {
        let transport = Transport::new(&self.transport)?;
        let auth = Authenticator::new(transport.clone(), Arc::new(self.credentials));
        Ok(Client {
            transport,
            auth,
            retry_times: self.retry_times,
            listing_limits: self.listing_limits,
            chunked_uploads: Arc::default(),
            mounts_refused: Arc::default(),
            fallback_locks: Arc::default(),
            warnings: crate::warnings::Warnings::new(self.on_warning),
            cleanups: Default::default(),
        })
    }
}

/// A registry client. Cheap to clone; clones share connections and tokens.
#[derive(Clone)]
pub struct Client {
    pub(crate) transport: Transport,
    pub(crate) auth: Authenticator,
    pub(crate) retry_times: u32,
    pub(crate) listing_limits: crate::catalog::ListingLimits,
    /// Registries that refused single-PUT uploads: they get PATCH + PUT.
    pub(crate) chunked_uploads: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// Registries that refused a mount POST (`?mount=…&from=…`): they get a HEAD and a plain
    /// upload POST instead.
    pub(crate) mounts_refused: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// Serializes this client's updates of each referrers fallback index.
    pub(crate) fallback_locks: crate::manifest::FallbackLocks,
    /// Registry warnings passed on so far.
    warnings: crate::warnings::Warnings,
    /// Upload sessions being cancelled after their copy was dropped.
    pub(crate) cleanups: crate::copy::Cleanups,
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The cleanups this client has in flight (upload sessions being cancelled after a copy was
    /// dropped): a program that stops on a signal awaits [`Cleanups::settled`](crate::copy::Cleanups::settled)
    /// before it exits.
    pub fn cleanups(&self) -> crate::copy::Cleanups {
        self.cleanups.clone()
    }

    /// The transport, for sending requests irel has no operation for.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// `scheme://host` of the registry serving `r`.
    pub(crate) async fn base_url(&self, r: &Reference) -> Result<String, Error> {
        Ok(self.transport.base_url(r.api_host()).await?)
    }

    /// Sends an authenticated request for repository `r`. `target` is a path (`/v2/…`) on the
    /// registry or an absolute URL (an upload `Location`). Authorization only ever goes to the
    /// registry's own origin.
    pub(crate) async fn call(
        &self,
        r: &Reference,
        scopes: &[Scope],
        method: Method,
        target: &str,
        headers: HeaderMap,
        body: RequestBody,
    ) -> Result<(Response<ResponseBody>, String), Error> {
        let host = r.api_host();
        let ping = self.transport.ping(host).await?;
        let base = format!("{}://{}", ping.scheme.as_str(), host);
        let url = if target.starts_with('/') {
            format!("{base}{target}")
        } else {
            target.to_string()
        };
        let same_origin = transport::parse_url(&url)?.origin() == transport::parse_url(&base)?.origin();
        let authorization = if ping.status == StatusCode::UNAUTHORIZED && same_origin {
            self.auth
                .authorize(host, r.registry(), &ping.challenges, scopes, false)
                .await?
        } else {
            None
        };
        let (first, retry) = match body {
            RequestBody::Empty => (RequestBody::Empty, Some(RequestBody::Empty)),
            RequestBody::Bytes(b) => (RequestBody::Bytes(b.clone()), Some(RequestBody::Bytes(b))),
            RequestBody::Stream(s, len) => (RequestBody::Stream(s, len), None),
        };
        let resp = match first {
            RequestBody::Empty if retry::retry_safe(&method, target) => {
                self.send_retrying(&method, &url, &headers, authorization, None).await?
            }
            // PUT is idempotent: a manifest (bytes in memory) can go again as it is.
            RequestBody::Bytes(b) if method == Method::PUT => {
                self.send_retrying(&method, &url, &headers, authorization, Some(b))
                    .await?
            }
            first => self.send_with(&method, &url, &headers, authorization, first).await?,
        };
        if resp.status() != StatusCode::UNAUTHORIZED || !same_origin {
            return Ok((resp, url));
        }
        let Some(retry) = retry else {
            return Err(self.unauthorized(r, method.as_str(), &url));
        };
        // One retry with a fresh token, carrying any scope the registry's challenge asks for.
        let challenges: Vec<String> = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        let _ = read_body_limited(resp.into_body(), MAX_ERROR_BODY, &url).await;
        let fresh = self
            .auth
            .authorize(host, r.registry(), &challenges, scopes, true)
            .await?;
        if fresh.is_none() {
            return Err(self.unauthorized(r, method.as_str(), &url));
        }
        let resp = self.send_with(&method, &url, &headers, fresh, retry).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(self.unauthorized(r, method.as_str(), &url));
        }
        Ok((resp, url))
    }

    /// [`call`](Self::call), then a status outside `ok` becomes [`Error::Registry`] for
    /// `operation`. Returns the response and the URL asked.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn request(
        &self,
        r: &Reference,
        scopes: &[Scope],
        method: Method,
        target: &str,
        headers: HeaderMap,
        body: RequestBody,
        ok: &[StatusCode],
        operation: &'static str,
    ) -> Result<(Response<ResponseBody>, String), Error> {
        let (resp, url) = self.call(r, scopes, method, target, headers, body).await?;
        let resp = self.expect_status(resp, ok, operation, &url).await?;
        Ok((resp, url))
    }

    /// Sends a retry-safe request (bodiless, or a PUT of bytes in memory), again after
    /// connection failures and transient statuses (see [`retry`]).
    async fn send_retrying(
        &self,
        method: &Method,
        url: &str,
        headers: &HeaderMap,
        authorization: Option<http::HeaderValue>,
        body: Option<Bytes>,
    ) -> Result<Response<ResponseBody>, Error> {
        let mut budget = retry::Budget::new(self.retry_times);
        loop {
            let body = body.clone().map_or(RequestBody::Empty, RequestBody::Bytes);
            let result = self.send_with(method, url, headers, authorization.clone(), body).await;
            let wait = match &result {
                // "Not now": nothing was done, so it does not spend --retry-times.
                Ok(resp) if retry::busy(resp.status()) => budget.after_busy(retry::retry_after_header(resp.headers())),
                Ok(resp) if retry::transient(resp.status()) => budget.after_failure(Some(resp.headers())),
                Err(Error::Transport(
                    transport::Error::Request { .. }
                    | transport::Error::Unreachable { .. }
                    | transport::Error::Timeout { .. },
                )) => budget.after_failure(None),
                _ => None,
            };
            let attempt = budget.spent();
            match wait {
                Some(wait) => {
                    tracing::info!(
                        "{method} {}: attempt {attempt} failed ({}), again in {} ms",
                        transport::redact_url(url),
                        match &result {
                            Ok(resp) => resp.status().to_string(),
                            Err(e) => e.to_string(),
                        },
                        wait.as_millis()
                    );
                    if let Ok(resp) = result {
                        let _ = read_body_limited(resp.into_body(), MAX_ERROR_BODY, url).await;
                    }
                    tokio::time::sleep(wait).await;
                }
                None => return result,
            }
        }
    }

    fn note_warnings<B>(&self, url: &str, resp: &Response<B>) {
        if resp.headers().contains_key(http::header::WARNING) {
            let host = transport::parse_url(url)
                .map(|u| u[url::Position::BeforeHost..url::Position::AfterPort].to_string())
                .unwrap_or_default();
            self.warnings.note(&host, resp.headers());
        }
    }

    async fn send_with(
        &self,
        method: &Method,
        url: &str,
        headers: &HeaderMap,
        authorization: Option<http::HeaderValue>,
        body: RequestBody,
    ) -> Result<Response<ResponseBody>, Error> {
        let mut headers = headers.clone();
        if let Some(a) = authorization {
            headers.insert(AUTHORIZATION, a);
        }
        let (body, len) = match body {
            RequestBody::Empty if method == Method::GET || method == Method::HEAD => {
                let resp = self.transport.send_bodyless(method.clone(), url, &headers).await?;
                self.note_warnings(url, &resp);
                return Ok(resp);
            }
            RequestBody::Empty => (transport::empty_body(), 0),
            RequestBody::Bytes(b) => {
                let len = b.len() as u64;
                (full_body(b), len)
            }
            RequestBody::Stream(s, len) => (s, len),
        };
        headers.insert(CONTENT_LENGTH, len.into());
        let mut req = Request::builder()
            .method(method.clone())
            .uri(transport::to_uri(&transport::parse_url(url)?)?)
            .body(body)
            .expect("request parts are valid");
        *req.headers_mut() = headers;
        let resp = self.transport.send(req).await?;
        self.note_warnings(url, &resp);
        Ok(resp)
    }

    fn unauthorized(&self, r: &Reference, method: &str, url: &str) -> Error {
        let hint = if self.auth.has_credentials(r.registry()) {
            format!(
                "the credentials for {} were not accepted for this operation",
                r.registry()
            )
        } else {
            format!(
                "{0} requires authentication and irel has no credentials for it; `irel login {0}`, \
                 or pass --creds (--src-creds/--dest-creds for a copy)",
                r.registry()
            )
        };
        Error::Registry {
            operation: static_method(method),
            url: url.to_string(),
            status: StatusCode::UNAUTHORIZED,
            errors: Vec::new(),
            hint: Some(hint),
            retry_after: None,
        }
    }

    /// Turns a response whose status is not in `ok` into [`Error::Registry`].
    async fn expect_status(
        &self,
        resp: Response<ResponseBody>,
        ok: &[StatusCode],
        operation: &'static str,
        url: &str,
    ) -> Result<Response<ResponseBody>, Error> {
        if ok.contains(&resp.status()) {
            return Ok(resp);
        }
        let status = resp.status();
        let retry_after = retry::retry_after_header(resp.headers());
        let body = read_body_limited(resp.into_body(), MAX_ERROR_BODY, url)
            .await
            .unwrap_or_default();
        Err(Error::Registry {
            operation,
            url: url.to_string(),
            status,
            errors: parse_error_body(&body),
            hint: None,
            retry_after,
        })
    }
}

fn static_method(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "POST" => "POST",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        _ => "request",
    }
}

//! [`Client`]: the facade. It is built once and shared, and gives the operations irel is for
//! (copy, relocate, sync, save, inspect, bench), each a few lines handing over to the module
//! that does the work, and access to what lies below: the [`Registry`] place and its verbs, and
//! the [`Session`] every request goes through. This is the only `impl Client` in the crate.

use std::net::IpAddr;
use std::path::Path;

use crate::auth::CredentialSource;
use crate::bench::{BenchOptions, BenchReport};
use crate::copy::{CopyOptions, CopyReport};
use crate::error::Error;
use crate::inspect::ImageSummary;
use crate::model::manifest::Platform;
use crate::model::reference::Digest;
use crate::places::layout::OciLayout;
use crate::places::registry::{ListingLimits, Registry};
use crate::reference::Reference;
use crate::relocate::{RelocationReport, RelocationSource};
use crate::session::{Session, SessionBuilder};
#[cfg(feature = "sync")]
use crate::sync::{ItemOutcome, SyncItem, SyncPlan, SyncReport};
use crate::transport::{self, TransportConfig};

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
    listing_limits: ListingLimits,
}

impl ClientBuilder {
    /// Allows plain http and unverified TLS for `host[:port]`.
    pub fn insecure_registry(mut self, host: &str) -> Self {
        self.session = self.session.insecure_registry(host);
        self
    }

    /// https with verification only for `host[:port]`, even on a loopback host; see
    /// [`SessionBuilder::secure_registry`].
    pub fn secure_registry(mut self, host: &str) -> Self {
        self.session = self.session.secure_registry(host);
        self
    }

    /// Every registry insecure (Go irel's `--skip-tls-verify`).
    pub fn skip_tls_verify(mut self, skip: bool) -> Self {
        self.session = self.session.skip_tls_verify(skip);
        self
    }

    /// Trusts the PEM certificates in `path` as extra roots.
    pub fn ca_certificate_file(mut self, path: impl AsRef<Path>) -> Result<Self, Error> {
        self.session = self.session.ca_certificate_file(path)?;
        Ok(self)
    }

    /// Reads the certs.d directories docker and podman read; see
    /// [`TransportConfig::system_certs_d`].
    pub fn system_certs_d(mut self) -> Result<Self, Error> {
        self.session = self.session.system_certs_d()?;
        Ok(self)
    }

    /// Marks insecure what the containers `registries.conf` marks insecure; see
    /// [`TransportConfig::containers_registries_conf`].
    pub fn containers_registries_conf(mut self) -> Self {
        self.session = self.session.containers_registries_conf();
        self
    }

    /// A docker-style certificate directory for one registry; see [`TransportConfig::cert_dir`].
    pub fn cert_dir(mut self, host: &str, dir: impl AsRef<Path>) -> Result<Self, Error> {
        self.session = self.session.cert_dir(host, dir)?;
        Ok(self)
    }

    /// Connects to `host` at `addr` instead of resolving it.
    pub fn resolve(mut self, host: &str, addr: IpAddr) -> Self {
        self.session = self.session.resolve(host, addr);
        self
    }

    /// Bounds every wait on a registry by `limit`; see [`SessionBuilder::timeout`].
    pub fn timeout(mut self, limit: std::time::Duration) -> Self {
        self.session = self.session.timeout(limit);
        self
    }

    /// Sets the three timeouts separately.
    pub fn timeouts(mut self, timeouts: transport::Timeouts) -> Self {
        self.session = self.session.timeouts(timeouts);
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
    pub fn listing_limits(mut self, limits: ListingLimits) -> Self {
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

/// A registry client. Cheap to clone; clones share connections, tokens and what registries
/// were found to refuse.
///
/// ```
/// let client = irel::Client::builder()
///     .insecure_registry("lab-registry:5000")
///     .retry_times(5)
///     .build()
///     .unwrap();
/// let worker = client.clone(); // shares connections and tokens
/// assert_eq!(worker.session().retry_times(), 5);
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    registry: Registry,
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client over a session built elsewhere (with layers of the embedder's own).
    pub fn with_session(session: Session, listing_limits: ListingLimits) -> Client {
        Client {
            registry: Registry::new(session, listing_limits),
        }
    }

    /// The session every request of this client goes through.
    pub fn session(&self) -> &Session {
        self.registry.session()
    }

    /// The registries as a place: the API verbs (manifests, blobs, uploads, tags, catalog,
    /// referrers) for operations the facade has no method for.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The cleanups this client has in flight (upload sessions being cancelled after a copy was
    /// dropped): a program that stops on a signal awaits [`Cleanups::settled`](crate::copy::Cleanups::settled)
    /// before it exits.
    pub fn cleanups(&self) -> crate::copy::Cleanups {
        self.registry.cleanups().clone()
    }

    /// The digest of the manifest `r` names, checked by hashing what the registry serves; see
    /// [`Registry::digest`].
    pub async fn digest(&self, r: &Reference) -> Result<Digest, Error> {
        self.registry.digest(r).await
    }

    /// Copies the image or index `src` names to `dst`, preserving its digest.
    ///
    /// `dst` keeps its tag; without tag or digest it is tagged `latest`; with only a digest it
    /// must be the source's digest and nothing is tagged.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), irel::Error> {
    /// let client = irel::Client::builder().build()?;
    /// let src: irel::Reference = "localhost:5000/team/app:1.2".parse()?;
    /// let dst = irel::mapping::flatten_repo_path_preserve_tag_digest("localhost:5001/acme", &src)?;
    /// let report = client.copy(&src, &dst, &irel::CopyOptions::default()).await?;
    /// assert_eq!(report.digest, Some(client.digest(&src).await?));
    /// # Ok(()) }
    /// ```
    pub async fn copy(&self, src: &Reference, dst: &Reference, options: &CopyOptions) -> Result<CopyReport, Error> {
        crate::copy::copy(&self.registry, src, dst, options).await
    }

    /// The image `r` names for `platform`: `r` itself (by digest) when it is a single image of
    /// that platform or of none stated, else the matching entry of its index. A single image
    /// whose config states another platform is refused.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), irel::Error> {
    /// let client = irel::Client::builder().build()?;
    /// let index: irel::Reference = "docker.io/library/busybox:1.36".parse()?;
    /// let arm = client.resolve_platform(&index, &"linux/arm64/v8".parse().unwrap()).await?;
    /// assert!(arm.digest().is_some());
    /// # Ok(()) }
    /// ```
    pub async fn resolve_platform(&self, r: &Reference, platform: &Platform) -> Result<Reference, Error> {
        crate::inspect::resolve_platform(&self.registry, r, platform).await
    }

    /// Digest, media type, platforms and sizes of what `r` names, and its referrers.
    pub async fn inspect(&self, r: &Reference) -> Result<ImageSummary, Error> {
        crate::inspect::inspect(&self.registry, r).await
    }

    /// Copies the image `src` names (all of an index) into `layout`, named by its full
    /// reference, and returns its digest (`irel layout add`).
    pub async fn pull_to_layout(
        &self,
        src: &Reference,
        layout: &OciLayout,
        options: &CopyOptions,
    ) -> Result<Digest, Error> {
        crate::relocate::pull_to_layout(&self.registry, src, layout, options).await
    }

    /// Pushes the image with `digest` in `layout` to `dst` (`irel layout push`).
    pub async fn push_from_layout(
        &self,
        layout: &OciLayout,
        digest: &Digest,
        dst: &Reference,
        options: &CopyOptions,
    ) -> Result<(), Error> {
        crate::relocate::push_from_layout(&self.registry, layout, digest, dst, options).await
    }

    /// Writes a thick bundle: every image (all platforms) in an OCI layout inside a `.tar.gz`
    /// at `out`. Nothing is written at `out` unless every image made it in.
    pub async fn save(&self, images: &[Reference], out: &Path, options: &CopyOptions) -> Result<Vec<Digest>, Error> {
        crate::relocate::save(&self.registry, images, out, options).await
    }

    /// Relocates `images` under `prefix`, one by one, continuing past failures.
    ///
    /// ```no_run
    /// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
    /// use irel::relocate::RelocationSource;
    /// let images = vec!["docker.io/istio/proxyv2:1.2".to_string()];
    /// let report = client
    ///     .relocate("registry.internal/acme", &images, RelocationSource::Registries, &Default::default())
    ///     .await;
    /// report.write_mapping("relocation-mapping.json".as_ref())?;
    /// # Ok(()) }
    /// ```
    pub async fn relocate(
        &self,
        prefix: &str,
        images: &[String],
        source: RelocationSource<'_>,
        options: &CopyOptions,
    ) -> RelocationReport {
        crate::relocate::relocate(&self.registry, prefix, images, source, options).await
    }

    /// [`relocate`](Self::relocate), calling `on_each` with the report so far after each image
    /// (relocated or failed), so that a long relocation reports as it goes and keeps its
    /// mapping current.
    ///
    /// ```no_run
    /// # async fn demo(client: irel::Client) {
    /// use irel::relocate::RelocationSource;
    /// let images = vec!["docker.io/istio/proxyv2:1.2".to_string()];
    /// client
    ///     .relocate_observed("registry.internal/acme", &images, RelocationSource::Registries, &Default::default(), |so_far| {
    ///         let _ = so_far.write_mapping("relocation-mapping.json".as_ref());
    ///     })
    ///     .await;
    /// # }
    /// ```
    pub async fn relocate_observed(
        &self,
        prefix: &str,
        images: &[String],
        source: RelocationSource<'_>,
        options: &CopyOptions,
        on_each: impl Fn(&RelocationReport),
    ) -> RelocationReport {
        crate::relocate::relocate_observed(&self.registry, prefix, images, source, options, on_each).await
    }

    #[cfg(feature = "sync")]
    /// Runs a plan: `jobs` images at once, each through the copy engine, sharing what they
    /// transfer (see [`CopyOptions`]). Failures are recorded and the rest continue.
    pub async fn sync(&self, plan: &SyncPlan, jobs: usize, options: &CopyOptions) -> SyncReport {
        crate::sync::sync(&self.registry, plan, jobs, options).await
    }

    #[cfg(feature = "sync")]
    /// [`sync`](Self::sync), and with `keep_going` false, as `skopeo sync` without
    /// `--keep-going`: after the first failure no further image is started (those already
    /// running finish), and the rest are [`ItemOutcome::NotRun`].
    pub async fn sync_with(&self, plan: &SyncPlan, jobs: usize, options: &CopyOptions, keep_going: bool) -> SyncReport {
        crate::sync::sync_with(&self.registry, plan, jobs, options, keep_going).await
    }

    #[cfg(feature = "sync")]
    /// [`sync_with`](Self::sync_with), calling `on_item` as each image ends (in the order they
    /// end), so that a long mirror reports as it goes and an interrupted one has said what
    /// it finished.
    ///
    /// ```no_run
    /// # async fn demo(client: irel::Client, plan: irel::sync::SyncPlan) {
    /// let report = client
    ///     .sync_observed(&plan, 8, &Default::default(), true, |item, outcome| {
    ///         eprintln!("{} -> {}: {outcome:?}", item.from, item.to);
    ///     })
    ///     .await;
    /// # }
    /// ```
    pub async fn sync_observed(
        &self,
        plan: &SyncPlan,
        jobs: usize,
        options: &CopyOptions,
        keep_going: bool,
        on_item: impl Fn(&SyncItem, &ItemOutcome),
    ) -> SyncReport {
        crate::sync::sync_observed(&self.registry, plan, jobs, options, keep_going, on_item).await
    }

    /// Generates an image of random layers (see [`SyntheticImage`](crate::places::SyntheticImage)) and pushes it to `dst`,
    /// measuring the push. Generating the digests costs one hashing pass before the clock starts.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), irel::Error> {
    /// let client = irel::Client::builder().insecure_registry("localhost:5000").build()?;
    /// let dst: irel::Reference = "localhost:5000/bench/img:1".parse()?;
    /// let options = irel::bench::BenchOptions::default().image(64 << 20, 2);
    /// let report = client.bench_push(&dst, &options).await?;
    /// println!("{:.0} MB/s", report.megabytes_per_second);
    /// # Ok(()) }
    /// ```
    pub async fn bench_push(&self, dst: &Reference, options: &BenchOptions) -> Result<BenchReport, Error> {
        crate::bench::bench_push(&self.registry, dst, options).await
    }

    /// Pulls the image `src` names (every platform of an index), verifying each blob's size and
    /// digest and discarding it, and measures the pull.
    pub async fn bench_pull(&self, src: &Reference, options: &BenchOptions) -> Result<BenchReport, Error> {
        crate::bench::bench_pull(&self.registry, src, options).await
    }

    /// Copies `src` to `dst` as [`Client::copy`] does, and measures the copy.
    pub async fn bench_copy(
        &self,
        src: &Reference,
        dst: &Reference,
        options: &BenchOptions,
    ) -> Result<BenchReport, Error> {
        crate::bench::bench_copy(&self.registry, src, dst, options).await
    }
}

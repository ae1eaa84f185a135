//! Embedding irel's registry session, for registry calls irel has no method for, without giving
//! up what makes a registry request work (ping, token auth with docker's credentials, retries,
//! safe redirects). What an embedder learns from it:
//! - a [`Session`] takes credentials from docker's `config.json` (`$DOCKER_CONFIG`, else `~/.docker`);
//! - layers of one's own wrap irel's stack: a request counter written here as a plain tower
//!   `Layer` + `Service`, and tower's `ConcurrencyLimitLayer`;
//! - raw [`RegistryRequest`]s sent with [`Session::fetch`] (the body read whole, within a bound):
//!   the tag list (following `Link` pages with `Fetched::next_page`) and a manifest, whose
//!   digest is computed from the bytes served.
//!
//! usage: cargo run --example embed_session -- [--insecure] REGISTRY/REPO[:TAG|@DIGEST]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::StatusCode;
use irel::auth::DockerConfig;
use irel::session::{RegistryRequest, Session, Target};
use irel::{Digest, Reference};

type Failure = Box<dyn std::error::Error>;

/// Counts the requests handed to it. Written against tower's traits only: the session accepts
/// any layer whose service takes its `HttpRequest` and is `Clone + Send + Sync`.
#[derive(Clone)]
struct TallyLayer(Arc<AtomicUsize>);

#[derive(Clone)]
struct Tally<S> {
    inner: S,
    count: Arc<AtomicUsize>,
}

impl<S> tower::Layer<S> for TallyLayer {
    type Service = Tally<S>;
    fn layer(&self, inner: S) -> Tally<S> {
        let count = self.0.clone();
        Tally { inner, count }
    }
}

impl<S: tower::Service<R>, R> tower::Service<R> for Tally<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }
    fn call(&mut self, request: R) -> S::Future {
        // Counted on the way in: a request that fails still cost the registry a call.
        self.count.fetch_add(1, Ordering::Relaxed);
        self.inner.call(request)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let (insecure, image): (Vec<String>, Vec<String>) = std::env::args().skip(1).partition(|a| a == "--insecure");
    let [image] = image.as_slice() else {
        eprintln!("usage: embed_session [--insecure] REGISTRY/REPO[:TAG|@DIGEST]");
        return std::process::ExitCode::from(2);
    };
    match run(image, !insecure.is_empty()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line: irel's messages name the registry, the URL and what to do; a cause is
            // added only when the message does not already say it.
            let (mut line, mut cause) = (e.to_string(), e.source());
            while let Some(c) = cause {
                if !line.contains(&c.to_string()) {
                    line = format!("{line}: {c}");
                }
                cause = c.source();
            }
            eprintln!("embed_session: {}", line.replace('\n', " "));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(image: &str, insecure: bool) -> Result<(), Failure> {
    let image: Reference = image.parse()?;
    let requests = Arc::new(AtomicUsize::new(0));
    let mut builder = Session::builder()
        .credentials(DockerConfig::load_default()?)
        // Layers added later wrap earlier ones: the tally is outermost, so it counts each
        // request as `send` hands it over, including those waiting for a slot under the limit.
        .layer(tower::limit::ConcurrencyLimitLayer::new(2))
        .layer(TallyLayer(requests.clone()));
    if insecure {
        builder = builder.insecure_registry(image.registry());
    }
    let session = builder.build()?;

    // Both run at once on clones of one session: they share its connections, ping and token
    // cache, and the limit bounds what is in flight across every clone.
    let (tags, manifest) = tokio::try_join!(list_tags(&session, &image), fetch_manifest(&session, &image))?;
    println!("tags: {}", tags.join(" "));
    let (media_type, bytes) = manifest;
    let digest = Digest::sha256_of(&bytes);
    // Asked by digest, the bytes must hash to it: a raw request gets no check irel would make.
    if image.digest().is_some_and(|asked| *asked != digest) {
        return Err(format!("{image}: the registry served a manifest whose digest is {digest}").into());
    }
    println!("media type: {media_type}\nsize: {}\ndigest: {digest}", bytes.len());
    println!("requests through our layer: {}", requests.load(Ordering::Relaxed));
    // The wire count is larger: the ping, token requests, redirect hops and retries happen
    // inside irel's stack, below our layer.
    println!("requests on the wire: {}", session.requests_sent());
    Ok(())
}

/// Registries may page the tag list; a `Link` header names the next page. Bounded, so that a
/// registry linking in a circle cannot keep us here.
async fn list_tags(session: &Session, image: &Reference) -> Result<Vec<String>, Failure> {
    #[derive(serde::Deserialize)]
    struct Page {
        tags: Option<Vec<String>>,
    }
    let repository = image.to_repository();
    let mut tags = Vec::new();
    let mut target = Target::Path(format!("/v2/{}/tags/list", repository.path()));
    for _ in 0..100 {
        let request = RegistryRequest::get(&repository, target)
            .expect([StatusCode::OK])
            .operation("GET tags");
        // Bounded: a raw request has no listing limits of irel's.
        let page = session.fetch(request, 4 << 20).await?;
        let body: Page = serde_json::from_slice(&page.body).map_err(|e| format!("tag list of {repository}: {e}"))?;
        tags.extend(body.tags.unwrap_or_default());
        // The next page's URL, resolved against this one and never a step down to plain http;
        // the session sends credentials with it only on the registry's own origin.
        match page.next_page()? {
            Some(next) => target = next,
            None => return Ok(tags),
        }
    }
    Err(format!("the tag list of {} has more than 100 pages", image.name()).into())
}

/// The manifest's media type and bytes, as served: the digest is of these exact bytes.
async fn fetch_manifest(session: &Session, image: &Reference) -> Result<(String, Bytes), Failure> {
    let repository = image.to_repository();
    let path = format!("/v2/{}/manifests/{}", repository.path(), image.tag_or_digest());
    // Without the index types in Accept, registries down-convert multi-arch images or answer 404.
    let request = RegistryRequest::get(&repository, path)
        .header(ACCEPT, irel::manifest::ACCEPT_ALL)
        .expect([StatusCode::OK])
        .operation("GET manifest");
    let manifest = session.fetch(request, irel::manifest::MAX_MANIFEST_SIZE).await?;
    let media_type = manifest.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    Ok((media_type.unwrap_or("unknown").to_string(), manifest.body))
}

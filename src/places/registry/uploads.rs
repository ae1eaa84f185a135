//! Uploads on a registry: mounts from another repository, upload sessions (one streaming PUT,
//! or PATCH and PUT for registries that refuse that), and their cancellation. What a registry
//! refused once is remembered for the life of the [`Registry`].

use http::header::{CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::Registry;
use crate::auth::Scope;
use crate::error::{Error, RegistryErrorCode};
use crate::model::name::Repository;
use crate::model::reference::Digest;
use crate::session::RequestBody;
use crate::transport::{self, read_body_limited};

/// What a mount request achieved.
///
/// ```no_run
/// # async fn demo(client: irel::Client, digest: irel::Digest) -> Result<(), irel::Error> {
/// use irel::MountOutcome;
/// let base = "registry.example/team/base".parse::<irel::Reference>()?.to_repository();
/// let app = "registry.example/team/app".parse::<irel::Reference>()?.to_repository();
/// match client.registry().mount_blob(&app, &digest, &base).await? {
///     MountOutcome::Mounted => println!("{digest} linked from {base}: nothing to send"),
///     MountOutcome::Upload(location) => client.registry().cancel_upload(&app, &location).await,
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountOutcome {
    /// The registry linked the blob into the repository.
    Mounted,
    /// The registry refused and opened an upload session at this location instead.
    Upload(UploadLocation),
}

/// Where an upload session takes its blob: the `Location` a registry answered, resolved to an
/// absolute URL against the request it answered, and checked (never from https to plain http).
/// Shown redacted: its query often carries an opaque `_state` or a signature.
///
/// ```no_run
/// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
/// let repo = "registry.example/team/app".parse::<irel::Reference>()?.to_repository();
/// let blob: &'static [u8] = b"hello";
/// let location = client.registry().start_upload(&repo).await?;
/// println!("uploading to {location}"); // its `_state` shown redacted
/// let (digest, body) = (irel::Digest::sha256_of(blob), irel::transport::full_body(blob));
/// client.registry().finish_upload(&repo, &location, &digest, blob.len() as u64, body).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct UploadLocation(url::Url);

impl UploadLocation {
    /// The `Location` value `location` of an answer to `request_url`, resolved and checked: a
    /// location that leads from https to plain http is refused, as the blob (and, on the same
    /// origin, credentials) would cross the network in cleartext.
    pub(crate) fn resolve(location: &str, request_url: &str) -> Result<UploadLocation, Error> {
        let url = crate::session::layers::resolve_followed(request_url, location, "upload Location")?;
        Ok(UploadLocation(url))
    }

    /// The absolute URL.
    pub fn as_url(&self) -> &url::Url {
        &self.0
    }

    /// The URL with `digest=` added, keeping any query the registry put there: what closes the
    /// session.
    fn with_digest(&self, digest: &Digest) -> url::Url {
        let mut url = self.0.clone();
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        url
    }
}

impl std::fmt::Debug for UploadLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UploadLocation({})", transport::redact_url(self.0.as_str()))
    }
}

impl std::fmt::Display for UploadLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&transport::redact_url(self.0.as_str()))
    }
}

/// The `Location` of the upload a POST (`operation`) answered with `status` opened.
fn location(
    operation: &'static str,
    status: StatusCode,
    headers: &HeaderMap,
    url: &str,
) -> Result<UploadLocation, Error> {
    let location = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::IncompleteAnswer {
            operation: operation.into(),
            url: url.to_string(),
            status,
            missing: "the Location of the upload it opened",
        })?;
    UploadLocation::resolve(location, url)
}

impl Registry {
    /// Asks `dst`'s registry to link `digest` from repository `from` (same registry) into
    /// `dst`'s repository. The token asked for carries push on `dst` and pull on `from`.
    pub async fn mount_blob(
        &self,
        dst: &Repository,
        digest: &Digest,
        from: &Repository,
    ) -> Result<MountOutcome, Error> {
        let path = format!(
            "/v2/{}/blobs/uploads/?mount={}&from={}",
            dst.path(),
            digest,
            url::form_urlencoded::byte_serialize(from.path().as_bytes()).collect::<String>()
        );
        // Mounting from the repository itself asks "is it here already?" and needs no scope
        // beyond push there (one token, shared with the upload).
        let scopes = [Scope::push(dst.path()), Scope::pull(from.path())];
        let scopes = if from.path() == dst.path() {
            &scopes[..1]
        } else {
            &scopes[..]
        };
        let (resp, url) = self
            .send(
                crate::session::RegistryRequest::new(Method::POST, dst, path)
                    .with_scopes(scopes.iter().cloned())
                    .headers(HeaderMap::new())
                    .body(RequestBody::Empty)
                    .expect([StatusCode::CREATED, StatusCode::ACCEPTED])
                    .operation("POST mount"),
            )
            .await?;
        let outcome = if resp.status() == StatusCode::CREATED {
            MountOutcome::Mounted
        } else {
            MountOutcome::Upload(location("POST mount", resp.status(), resp.headers(), &url)?)
        };
        let _ = read_body_limited(resp.into_body(), 64 * 1024, &url).await;
        Ok(outcome)
    }

    /// [`mount_blob`](Self::mount_blob), or `None` when the registry does not take mount
    /// requests: it answered one with 400, 404, 405 or 501 (zuul-registry's upload endpoint
    /// answers 404 to `?mount=…&from=…`), now or earlier in this client's life. The plain
    /// protocol (a HEAD, an upload POST) then applies, as with skopeo.
    pub async fn try_mount_blob(
        &self,
        dst: &Repository,
        digest: &Digest,
        from: &Repository,
    ) -> Result<Option<MountOutcome>, Error> {
        if self.refuses_mounts(dst.api_host()) {
            return Ok(None);
        }
        match self.mount_blob(dst, digest, from).await {
            Err(e) if refuses_mount(&e) => {
                tracing::debug!("{} refuses mount requests, using plain uploads: {e}", dst.registry());
                self.mounts_refused
                    .lock()
                    .expect("mount modes poisoned")
                    .insert(dst.api_host().to_string());
                Ok(None)
            }
            other => other.map(Some),
        }
    }

    /// Whether `host` refused a mount request earlier in this client's life.
    pub(crate) fn refuses_mounts(&self, host: &str) -> bool {
        self.mounts_refused.lock().expect("mount modes poisoned").contains(host)
    }

    /// Opens an upload session in `dst`'s repository and returns its location.
    pub async fn start_upload(&self, dst: &Repository) -> Result<UploadLocation, Error> {
        let path = format!("/v2/{}/blobs/uploads/", dst.path());
        let (resp, url) = self
            .send(
                crate::session::RegistryRequest::new(Method::POST, dst, path)
                    .with_scopes([Scope::push(dst.path())])
                    .headers(HeaderMap::new())
                    .body(RequestBody::Empty)
                    .expect([StatusCode::ACCEPTED])
                    .operation("POST upload"),
            )
            .await?;
        let loc = location("POST upload", resp.status(), resp.headers(), &url)?;
        let _ = read_body_limited(resp.into_body(), 64 * 1024, &url).await;
        Ok(loc)
    }

    /// Finishes an upload session with the whole blob: one streaming PUT, or, for a registry
    /// that refused that earlier in this client's life, a streaming PATCH and a closing PUT.
    ///
    /// A refusal of the single PUT (405, 413 or 501) is remembered for the registry and
    /// returned as an error; the blob must then be sent again (the copy engine does so).
    pub async fn finish_upload(
        &self,
        dst: &Repository,
        location: &UploadLocation,
        digest: &Digest,
        size: u64,
        body: transport::Body,
    ) -> Result<(), Error> {
        self.finish_upload_at(dst, location, digest, size, body)
            .await
            .map_err(|e| upload_error(e, dst, digest))
    }

    async fn finish_upload_at(
        &self,
        dst: &Repository,
        location: &UploadLocation,
        digest: &Digest,
        size: u64,
        body: transport::Body,
    ) -> Result<(), Error> {
        if self.uses_chunked_uploads(dst.api_host()) {
            return self.finish_upload_chunked(dst, location, digest, size, body).await;
        }
        let url = location.with_digest(digest);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        let result = self
            .send(
                crate::session::RegistryRequest::new(Method::PUT, dst, url.clone())
                    .with_scopes([Scope::push(dst.path())])
                    .headers(headers)
                    .body(RequestBody::Stream(body, size))
                    .expect([StatusCode::CREATED, StatusCode::NO_CONTENT])
                    .operation("PUT blob"),
            )
            .await;
        if let Err(Error::Registry { status, .. }) = &result {
            if matches!(status.as_u16(), 405 | 413 | 501) {
                self.chunked_uploads
                    .lock()
                    .expect("upload modes poisoned")
                    .insert(dst.api_host().to_string());
            }
        }
        let (resp, url) = result?;
        let _ = read_body_limited(resp.into_body(), 64 * 1024, &url).await;
        Ok(())
    }

    /// Abandons an upload session (`DELETE` its location), so the registry frees what it
    /// received. Best effort: a session the registry already dropped, or an answer that is not
    /// a success, changes nothing for the caller.
    pub async fn cancel_upload(&self, dst: &Repository, location: &UploadLocation) {
        let cancelled = self
            .send(
                crate::session::RegistryRequest::new(Method::DELETE, dst, location.as_url().clone())
                    .with_scopes([Scope::push(dst.path())])
                    .headers(HeaderMap::new())
                    .body(RequestBody::Empty)
                    .expect([
                        StatusCode::NO_CONTENT,
                        StatusCode::ACCEPTED,
                        StatusCode::OK,
                        StatusCode::NOT_FOUND,
                    ])
                    .operation("DELETE upload"),
            )
            .await;
        match cancelled {
            Ok((resp, url)) => {
                let _ = read_body_limited(resp.into_body(), 64 * 1024, &url).await;
            }
            Err(e) => tracing::debug!("cancelling the upload session failed: {e}"),
        }
    }

    fn uses_chunked_uploads(&self, host: &str) -> bool {
        self.chunked_uploads
            .lock()
            .expect("upload modes poisoned")
            .contains(host)
    }

    /// The blob in one streaming PATCH, then an empty PUT with the digest.
    async fn finish_upload_chunked(
        &self,
        dst: &Repository,
        location: &UploadLocation,
        digest: &Digest,
        size: u64,
        body: transport::Body,
    ) -> Result<(), Error> {
        let patch_url = location.as_url().clone();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        if size > 0 {
            let range = HeaderValue::from_str(&format!("0-{}", size - 1)).expect("a valid range");
            headers.insert("content-range", range);
        }
        let scopes = [Scope::push(dst.path())];
        let (resp, url) = self
            .send(
                crate::session::RegistryRequest::new(Method::PATCH, dst, patch_url)
                    .with_scopes(scopes.to_vec())
                    .headers(headers)
                    .body(RequestBody::Stream(body, size))
                    .expect([StatusCode::ACCEPTED, StatusCode::NO_CONTENT])
                    .operation("PATCH blob"),
            )
            .await?;
        // The session may move on with the PATCH: its answer's Location is where it continues.
        let next = match resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) {
            Some(moved) => UploadLocation::resolve(moved, &url)?,
            None => location.clone(),
        };
        let _ = read_body_limited(resp.into_body(), 64 * 1024, &url).await;
        let (resp, url) = self
            .send(
                crate::session::RegistryRequest::new(Method::PUT, dst, next.with_digest(digest))
                    .with_scopes(scopes.to_vec())
                    .headers(HeaderMap::new())
                    .body(RequestBody::Empty)
                    .expect([StatusCode::CREATED, StatusCode::NO_CONTENT])
                    .operation("PUT blob"),
            )
            .await?;
        let _ = read_body_limited(resp.into_body(), 64 * 1024, &url).await;
        Ok(())
    }
}
/// Whether a mount POST's error says the registry does not take mount requests (rather than
/// refusing the upload itself, or failing): a bad request, no such endpoint or method.
///
/// A 404 that names what is missing (`NAME_UNKNOWN`: the repository, as ECR answers for one
/// not created yet; `BLOB_UNKNOWN`) is about this request, not the registry: counting it would
/// turn mounts off for every other repository of the run.
fn refuses_mount(e: &Error) -> bool {
    let names_missing = e.registry_codes().iter().any(|c| {
        matches!(
            c,
            RegistryErrorCode::NameUnknown | RegistryErrorCode::BlobUnknown | RegistryErrorCode::BlobUploadUnknown
        )
    });
    match e.status().map(|s| s.as_u16()) {
        Some(404) => !names_missing,
        Some(400 | 405 | 501) => true,
        _ => false,
    }
}

/// An upload's error, naming the blob and the repository instead of the session's URL (an
/// opaque `_state` of hundreds of characters says nothing to a person; `--debug` logs it,
/// redacted).
fn upload_error(e: Error, dst: &Repository, digest: &Digest) -> Error {
    let shown = format!("{}/{} (blob {digest})", dst.registry(), dst.path());
    match e {
        Error::Registry {
            operation,
            status,
            errors,
            hint,
            retry_after,
            ..
        } => Error::Registry {
            operation,
            url: shown,
            status,
            errors,
            hint,
            retry_after,
        },
        Error::Transport(transport::Error::Request {
            method, detail, source, ..
        }) => Error::Transport(transport::Error::Request {
            method,
            url: shown,
            detail,
            source,
        }),
        Error::Transport(transport::Error::Timeout {
            method, phase, after, ..
        }) => Error::Transport(transport::Error::Timeout {
            method,
            url: shown,
            phase,
            after,
        }),
        other => other,
    }
}

//! Manifests on a registry: GET (exact bytes, checked against the digest asked), HEAD, the
//! digest by either, and PUT (confirmed by the digest the registry answers).

use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::Registry;
use crate::auth::Scope;
use crate::error::{Error, RegistryHint};
use crate::model::manifest::{Manifest, ManifestHead, ACCEPT_ALL, MAX_MANIFEST_SIZE};
use crate::model::name::{Repository, TagOrDigest};
use crate::model::reference::{Digest, Reference};
use crate::remedy::Remedy;
use crate::session::RequestBody;
use crate::transport::read_body_limited;

impl Registry {
    /// Fetches the manifest `r` names (its digest if it has one, else its tag, else `latest`),
    /// verifying the bytes against the digest asked for or announced.
    pub async fn get_manifest(&self, r: &Reference) -> Result<Manifest, Error> {
        let path = manifest_path(&r.to_repository(), &r.tag_or_digest());
        let (resp, url) = self
            .send(
                crate::session::RegistryRequest::new(Method::GET, &r.to_repository(), path)
                    .with_scopes([Scope::pull(r.repository())])
                    .headers(accept_headers())
                    .body(RequestBody::Empty)
                    .expect([StatusCode::OK])
                    .operation("GET manifest"),
            )
            .await
            .map_err(|e| not_found_hint(e, r))?;
        let content_type = header_str(resp.headers(), "content-type").map(str::to_string);
        let announced = header_str(resp.headers(), "docker-content-digest").map(str::to_string);
        if let Some(len) = header_str(resp.headers(), "content-length").and_then(|l| l.parse::<usize>().ok()) {
            if len > MAX_MANIFEST_SIZE {
                return Err(too_large(r));
            }
        }
        let bytes = read_body_limited(resp.into_body(), MAX_MANIFEST_SIZE, &url)
            .await
            .map_err(|e| match e {
                crate::transport::Error::BodyTooLarge { .. } => too_large(r),
                other => other.into(),
            })?;
        let mut manifest = Manifest::parse(bytes, content_type.as_deref(), &r.to_string())?;
        let expected = match (r.digest(), announced.as_deref().map(str::parse::<Digest>)) {
            (Some(d), _) => Some(d.clone()),
            (None, Some(Ok(d))) => Some(d),
            (None, Some(Err(_))) | (None, None) => None,
        };
        if let Some(expected) = expected {
            if !expected.matches(&manifest.bytes) {
                return Err(Error::DigestMismatch {
                    what: format!("manifest of {r}"),
                    expected,
                    actual: manifest.digest.to_string(),
                });
            }
            manifest.digest = expected;
        }
        Ok(manifest)
    }

    /// HEADs the manifest `r` names: `None` when the registry does not have it.
    pub async fn head_manifest(&self, r: &Reference) -> Result<Option<ManifestHead>, Error> {
        let path = manifest_path(&r.to_repository(), &r.tag_or_digest());
        let (resp, _) = self
            .send(
                crate::session::RegistryRequest::new(Method::HEAD, &r.to_repository(), path)
                    .with_scopes([Scope::pull(r.repository())])
                    .headers(accept_headers())
                    .body(RequestBody::Empty)
                    .expect([StatusCode::OK, StatusCode::NOT_FOUND])
                    .operation("HEAD manifest"),
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let digest = header_str(resp.headers(), "docker-content-digest").and_then(|d| d.parse().ok());
        let media_type = header_str(resp.headers(), "content-type")
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        match digest {
            Some(digest) => Ok(Some(ManifestHead { digest, media_type })),
            // An old registry without Docker-Content-Digest: ask for the bytes instead.
            None => {
                let m = self.get_manifest(r).await?;
                Ok(Some(ManifestHead {
                    digest: m.digest,
                    media_type: Some(m.media_type),
                }))
            }
        }
    }

    /// The digest of the manifest `r` names (`irel digest`), verified: the manifest is fetched
    /// and hashed, so a registry that announces another digest than its content has is refused
    /// (a digest pinned in deploy files must be the content's, not the registry's word).
    ///
    /// ```no_run
    /// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
    /// let digest = client.digest(&"localhost:5000/app:1.0".parse()?).await?;
    /// println!("{digest}");
    /// # Ok(()) }
    /// ```
    pub async fn digest(&self, r: &Reference) -> Result<Digest, Error> {
        Ok(self.get_manifest(r).await?.digest)
    }

    /// The digest the registry announces for `r` in answer to a HEAD (`Docker-Content-Digest`),
    /// **not verified**: nothing is hashed, so it is only the registry's word. For registries
    /// that count manifest GETs against a rate limit but not HEADs (`irel digest --unverified`);
    /// use [`digest`](Self::digest) where the digest will be trusted.
    ///
    /// ```no_run
    /// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
    /// let announced = client.registry().registry_digest(&"docker.io/library/busybox:1.36".parse()?).await?;
    /// # Ok(()) }
    /// ```
    pub async fn registry_digest(&self, r: &Reference) -> Result<Digest, Error> {
        match self.head_manifest(r).await? {
            Some(h) => Ok(h.digest),
            None => Err(not_found_hint(
                Error::Registry {
                    operation: "HEAD manifest".into(),
                    url: format!(
                        "{}{}",
                        self.base_url(&r.to_repository()).await?,
                        manifest_path(&r.to_repository(), &r.tag_or_digest())
                    ),
                    status: StatusCode::NOT_FOUND,
                    errors: Vec::new(),
                    hint: None,
                    retry_after: None,
                },
                r,
            )),
        }
    }

    /// Pushes `manifest`'s exact bytes as `name` (a tag or its digest) in `repo`, and checks
    /// the digest the registry computed.
    pub async fn put_manifest(&self, repo: &Repository, name: &TagOrDigest, manifest: &Manifest) -> Result<(), Error> {
        self.put_manifest_confirmed(repo, name, manifest).await.map(|_| ())
    }

    /// [`put_manifest`](Self::put_manifest), saying whether the registry confirmed the digest
    /// (an old registry may not send `Docker-Content-Digest`).
    pub(crate) async fn put_manifest_confirmed(
        &self,
        repo: &Repository,
        name: &TagOrDigest,
        manifest: &Manifest,
    ) -> Result<bool, Error> {
        // A layout's ref name can hold what a registry tag cannot: refused here, by name.
        repo.at(name)?;
        let path = manifest_path(repo, name);
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(&manifest.media_type).map_err(|_| Error::Manifest {
                reference: repo.to_string(),
                reason: format!("media type {:?} is not a valid header", manifest.media_type),
            })?,
        );
        let (resp, url) = self
            .send(
                crate::session::RegistryRequest::new(Method::PUT, repo, path)
                    .with_scopes([Scope::push(repo.path())])
                    .headers(headers)
                    .body(RequestBody::Bytes(manifest.bytes.clone()))
                    .expect([StatusCode::CREATED, StatusCode::OK])
                    .operation("PUT manifest"),
            )
            .await?;
        let confirmed = match header_str(resp.headers(), "docker-content-digest") {
            Some(got) if got == manifest.digest.as_str() => true,
            Some(got) if manifest.digest.algorithm() == "sha256" => {
                return Err(Error::DigestMismatch {
                    what: format!("manifest pushed to {url}"),
                    expected: manifest.digest.clone(),
                    actual: got.to_string(),
                })
            }
            _ => false,
        };
        // A registry that indexes referrers itself says so with OCI-Subject; for the others
        // the pusher keeps the fallback tag's index.
        if resp.headers().get("oci-subject").is_none() {
            if let Some((subject, referrer)) = manifest.subject_and_referrer() {
                self.add_to_fallback_index(repo, &subject, &referrer).await?;
            }
        }
        Ok(confirmed)
    }
}

fn manifest_path(r: &Repository, name: &TagOrDigest) -> String {
    format!("/v2/{}/manifests/{}", r.path(), name)
}

fn accept_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ACCEPT, HeaderValue::from_static(ACCEPT_ALL));
    h
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// A 404 for a manifest says which image is missing, and that the repository's tags show
/// what is there.
fn not_found_hint(e: Error, r: &Reference) -> Error {
    match e {
        Error::Registry {
            operation,
            url,
            status: StatusCode::NOT_FOUND,
            errors,
            hint: None,
            retry_after,
        } => Error::Registry {
            operation,
            url,
            status: StatusCode::NOT_FOUND,
            errors,
            hint: Some(Box::new(RegistryHint {
                cause: match (r.tag(), r.digest()) {
                    (None, None) => format!("{r}:latest does not exist (no tag was given, so latest was asked for)"),
                    _ => format!("{r} does not exist"),
                },
                remedy: Some(Remedy::ListTags {
                    repository: r.without_tag_or_digest().to_string(),
                }),
            })),
            retry_after,
        },
        other => other,
    }
}

fn too_large(r: &Reference) -> Error {
    Error::Manifest {
        reference: r.to_string(),
        reason: format!("larger than {MAX_MANIFEST_SIZE} bytes, the limit registries enforce"),
    }
}

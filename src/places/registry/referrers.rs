//! Referrers (OCI distribution 1.1): the manifests that name another manifest as their
//! `subject`, such as signatures, SBOMs and attestations.
//!
//! A registry with the referrers API lists them at `/v2/<name>/referrers/<digest>`. One without
//! it (distribution 2.8 answers 404) relies on the fallback tag `<alg>-<hex>`: an index that
//! whoever pushes a referrer keeps up to date. irel reads either, and keeps the fallback index
//! itself whenever it pushes a manifest with a `subject` to a registry that does not answer
//! `OCI-Subject`.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{ACCEPT, LINK};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::Registry;
use crate::auth::Scope;
use crate::error::Error;
use crate::model::manifest::{Manifest, MAX_MANIFEST_SIZE, OCI_INDEX};
use crate::model::name::{Repository, Tag, TagOrDigest};
use crate::model::reference::Digest;
use crate::model::referrer::{fallback_tag, Listing, Referrer};
use crate::session::RequestBody;
use crate::transport::read_body_limited;

/// A referrers listing is refused past this size (it is an index: the manifest limit).
const MAX_LISTING: usize = MAX_MANIFEST_SIZE;

/// One lock per (repository, subject), so the referrers one client pushes at once do not
/// overwrite each other's fallback index.
pub(crate) type FallbackLocks = Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>;

impl Registry {
    /// The referrers of `subject` in `repo`'s repository, optionally only those of
    /// `artifact_type`: from the referrers API, or where the registry has none, from the
    /// fallback tag. No referrers is an empty list.
    ///
    /// ```no_run
    /// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
    /// let image: irel::Reference = "localhost:5000/team/app:1.2".parse()?;
    /// let digest = client.digest(&image).await?;
    /// for r in client.registry().referrers(&image.to_repository(), &digest, None).await? {
    ///     println!("{} {}", r.digest, r.artifact_type.unwrap_or_default());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn referrers(
        &self,
        repo: &Repository,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, Error> {
        let mut path = format!("/v2/{}/referrers/{subject}", repo.path());
        if let Some(t) = artifact_type {
            path.push_str("?artifactType=");
            path.extend(url::form_urlencoded::byte_serialize(t.as_bytes()));
        }
        let scopes = [Scope::pull(repo.path())];
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(OCI_INDEX));
        // 404: no referrers API (the spec forbids 404 from one that has it); 400 and 406 are
        // what some registries without it answer.
        let (resp, url) = self
            .send(
                crate::session::RegistryRequest::new(
                    Method::GET,
                    repo,
                    crate::session::Target::Path(path.clone().to_string()),
                )
                .with_scopes(scopes.to_vec())
                .headers(headers)
                .body(RequestBody::Empty)
                .expect([
                    StatusCode::OK,
                    StatusCode::NOT_FOUND,
                    StatusCode::BAD_REQUEST,
                    StatusCode::NOT_ACCEPTABLE,
                ])
                .operation("GET referrers"),
            )
            .await?;
        let mut found = Vec::new();
        let filtered = if resp.status() == StatusCode::OK {
            let filtered = resp
                .headers()
                .get("oci-filters-applied")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|f| f.trim() == "artifactType"));
            let next = resp
                .headers()
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(super::catalog::next_link);
            let body = read_body_limited(resp.into_body(), MAX_LISTING, &url).await?;
            found.extend(parse_listing(&body, &url)?);
            if let Some(next) = next {
                let next = super::catalog::resolve_link(&url, &next)?;
                self.paginate(repo, &scopes, next, "GET referrers", |body| {
                    let listing: Listing = serde_json::from_slice(body).map_err(|e| e.to_string())?;
                    let added = listing.manifests.len();
                    found.extend(listing.manifests);
                    Ok((added, true))
                })
                .await?;
            }
            filtered
        } else {
            let _ = read_body_limited(resp.into_body(), MAX_LISTING, &url).await;
            found.extend(self.fallback_referrers(repo, subject).await?.0);
            false
        };
        if let (Some(t), false) = (artifact_type, filtered) {
            found.retain(|r| r.artifact_type.as_deref() == Some(t));
        }
        Ok(found)
    }

    /// The referrers the fallback tag of `subject` lists, and the index's bytes (`None` when
    /// the tag does not exist).
    async fn fallback_referrers(
        &self,
        repo: &Repository,
        subject: &Digest,
    ) -> Result<(Vec<Referrer>, Option<Bytes>), Error> {
        let tag = repo.as_reference().with_tag(&fallback_tag(subject))?;
        let index = match self.get_manifest(&tag).await {
            Ok(m) => m,
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok((Vec::new(), None)),
            Err(e) => return Err(e),
        };
        if !index.is_index() {
            return Err(Error::Manifest {
                reference: tag.to_string(),
                reason: "the referrers fallback tag names an image, not an index; it was not written \
                         by a client following the distribution spec: delete or rename that tag"
                    .into(),
            });
        }
        let listing = parse_listing(&index.bytes, &tag.to_string())?;
        Ok((listing, Some(index.bytes)))
    }

    /// Adds `referrer` to the fallback index of `subject` in `repo`'s repository, after a push
    /// the registry did not answer with `OCI-Subject`.
    pub(crate) async fn add_to_fallback_index(
        &self,
        repo: &Repository,
        subject: &Digest,
        referrer: &Referrer,
    ) -> Result<(), Error> {
        let lock = {
            let key = format!("{}@{subject}", repo.name());
            let mut locks = self.fallback_locks.lock().expect("fallback locks poisoned");
            locks.entry(key).or_default().clone()
        };
        let _turn = lock.lock().await;
        let (listed, bytes) = self.fallback_referrers(repo, subject).await?;
        if listed.iter().any(|r| r.digest == referrer.digest) {
            return Ok(());
        }
        // Entries irel does not model (fields it does not know) are kept as they are.
        let mut index: serde_json::Value = match bytes {
            Some(b) => serde_json::from_slice(&b).map_err(|e| Error::Manifest {
                reference: fallback_tag(subject),
                reason: format!("unreadable referrers index: {e}"),
            })?,
            None => serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
        };
        let entry = serde_json::to_value(referrer).expect("a referrer serializes");
        match index.get_mut("manifests").and_then(|m| m.as_array_mut()) {
            Some(manifests) => manifests.push(entry),
            None => index["manifests"] = serde_json::Value::Array(vec![entry]),
        }
        let bytes = Bytes::from(serde_json::to_vec(&index).expect("JSON serializes"));
        let tag = fallback_tag(subject);
        let manifest = Manifest::parse(bytes, Some(OCI_INDEX), &tag)?;
        // Boxed: a push of a referrer comes here, and this pushes (an index, not a referrer).
        Box::pin(self.put_manifest_confirmed(repo, &TagOrDigest::Tag(Tag::new(&tag)?), &manifest))
            .await
            .map(|_| ())
    }
}

fn parse_listing(body: &[u8], what: &str) -> Result<Vec<Referrer>, Error> {
    let listing: Listing = serde_json::from_slice(body).map_err(|e| Error::Manifest {
        reference: what.to_string(),
        reason: format!("unreadable referrers listing: {e}"),
    })?;
    Ok(listing.manifests)
}

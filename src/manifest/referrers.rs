//! Referrers (OCI distribution 1.1): the manifests that name another manifest as their
//! `subject`, such as signatures, SBOMs and attestations.
//!
//! A registry with the referrers API lists them at `/v2/<name>/referrers/<digest>`. One without
//! it (distribution 2.8 answers 404) relies on the fallback tag `<alg>-<hex>`: an index that
//! whoever pushes a referrer keeps up to date. irel reads either, and keeps the fallback index
//! itself whenever it pushes a manifest with a `subject` to a registry that does not answer
//! `OCI-Subject`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{ACCEPT, LINK};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::{Manifest, OCI_INDEX};
use crate::auth::Scope;
use crate::client::Client;
use crate::error::Error;
use crate::reference::{Digest, Reference};
use crate::session::RequestBody;
use crate::transport::read_body_limited;

/// A referrers listing is refused past this size (it is an index: the manifest limit).
const MAX_LISTING: usize = super::MAX_MANIFEST_SIZE;

/// One manifest that refers to another: a descriptor with the fields the referrers index keeps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Referrer {
    /// The referrer's media type (an image manifest or an index).
    #[serde(default)]
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// What kind of artifact it is (e.g. `application/vnd.dev.cosign.artifact.sig.v1+json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Its annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(serde::Deserialize)]
struct Listing {
    #[serde(default)]
    manifests: Vec<Referrer>,
}

/// The parts of a manifest that make it a referrer.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReferrerFields {
    #[serde(default)]
    subject: Option<SubjectField>,
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    config: Option<ConfigField>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(serde::Deserialize)]
struct SubjectField {
    digest: Digest,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigField {
    #[serde(default)]
    media_type: String,
}

/// The fallback tag that lists the referrers of `subject` where the registry has no referrers
/// API: `<alg>-<hex>` (each part truncated and cleaned as the distribution spec says).
///
/// ```
/// let d: irel::reference::Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
/// assert_eq!(irel::manifest::fallback_tag(&d), format!("sha256-{}", "ab".repeat(32)));
/// ```
pub fn fallback_tag(subject: &Digest) -> String {
    let clean = |s: &str, n: usize| -> String {
        s.chars()
            .take(n)
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!("{}-{}", clean(subject.algorithm(), 32), clean(subject.encoded(), 64))
}

impl Manifest {
    /// The digest this manifest names as its `subject`, if it is a referrer.
    pub fn subject(&self) -> Option<Digest> {
        referrer_fields(&self.bytes).and_then(|f| f.subject.map(|s| s.digest))
    }

    /// This manifest as an entry of a referrers index: its `artifactType`, else (for an image
    /// manifest) its config's media type, and its annotations.
    pub fn as_referrer(&self) -> Referrer {
        self.referrer_from(referrer_fields(&self.bytes))
    }

    /// Its subject and its entry in that subject's referrers index, from one read of the
    /// JSON; `None` when it has no subject.
    pub(crate) fn subject_and_referrer(&self) -> Option<(Digest, Referrer)> {
        let mut fields = referrer_fields(&self.bytes)?;
        let subject = fields.subject.take()?.digest;
        Some((subject, self.referrer_from(Some(fields))))
    }

    fn referrer_from(&self, fields: Option<ReferrerFields>) -> Referrer {
        let (artifact_type, annotations) = match fields {
            Some(f) => (
                f.artifact_type
                    .or_else(|| f.config.map(|c| c.media_type).filter(|t| !t.is_empty())),
                f.annotations,
            ),
            None => (None, BTreeMap::new()),
        };
        Referrer {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
            artifact_type,
            annotations,
        }
    }
}

fn referrer_fields(bytes: &[u8]) -> Option<ReferrerFields> {
    // Most manifests are not referrers; the word is cheaper to look for than the JSON to parse.
    if !bytes.windows(9).any(|w| w == b"\"subject\"") {
        return None;
    }
    serde_json::from_slice(bytes).ok()
}

/// One lock per (repository, subject), so the referrers one client pushes at once do not
/// overwrite each other's fallback index.
pub(crate) type FallbackLocks = Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>;

impl Client {
    /// The referrers of `subject` in `repo`'s repository, optionally only those of
    /// `artifact_type`: from the referrers API, or where the registry has none, from the
    /// fallback tag. No referrers is an empty list.
    ///
    /// ```no_run
    /// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
    /// let image: irel::Reference = "localhost:5000/team/app:1.2".parse()?;
    /// let digest = client.digest(&image).await?;
    /// for r in client.referrers(&image, &digest, None).await? {
    ///     println!("{} {}", r.digest, r.artifact_type.unwrap_or_default());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn referrers(
        &self,
        repo: &Reference,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, Error> {
        let mut path = format!("/v2/{}/referrers/{subject}", repo.repository());
        if let Some(t) = artifact_type {
            path.push_str("?artifactType=");
            path.extend(url::form_urlencoded::byte_serialize(t.as_bytes()));
        }
        let scopes = [Scope::pull(repo.repository())];
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
                .and_then(crate::catalog::next_link);
            let body = read_body_limited(resp.into_body(), MAX_LISTING, &url).await?;
            found.extend(parse_listing(&body, &url)?);
            if let Some(next) = next {
                let next = crate::catalog::resolve_link(&url, &next)?;
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
        repo: &Reference,
        subject: &Digest,
    ) -> Result<(Vec<Referrer>, Option<Bytes>), Error> {
        let tag = repo.without_tag_or_digest().with_tag(&fallback_tag(subject))?;
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
        repo: &Reference,
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
        Box::pin(self.put_manifest_confirmed(repo, &tag, &manifest))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(json: &str) -> Manifest {
        Manifest::parse(Bytes::from(json.to_string()), None, "t").unwrap()
    }

    #[test]
    fn fallback_tag_is_alg_dash_hex() {
        let d = Digest::sha256_of(b"x");
        assert_eq!(fallback_tag(&d), format!("sha256-{}", d.encoded()));
    }

    #[test]
    fn a_referrer_carries_its_subject_type_and_annotations() {
        let subject = Digest::sha256_of(b"image");
        let m = manifest(&format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{{"mediaType":"application/vnd.example.sbom","digest":"{e}","size":2}},
            "layers":[],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "digest":"{subject}","size":7}},"annotations":{{"a":"b"}}}}"#,
            e = Digest::sha256_of(b"{}"),
        ));
        assert_eq!(m.subject(), Some(subject));
        let r = m.as_referrer();
        assert_eq!(r.artifact_type.as_deref(), Some("application/vnd.example.sbom"));
        assert_eq!(r.annotations.get("a").map(String::as_str), Some("b"));
        assert_eq!(r.size, m.bytes.len() as u64);
    }

    #[test]
    fn artifact_type_wins_over_config_media_type() {
        let m = manifest(&format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "artifactType":"application/vnd.example.sig",
            "config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{e}","size":2}},
            "layers":[],"subject":{{"mediaType":"x","digest":"{e}","size":2}}}}"#,
            e = Digest::sha256_of(b"{}"),
        ));
        assert_eq!(
            m.as_referrer().artifact_type.as_deref(),
            Some("application/vnd.example.sig")
        );
    }

    #[test]
    fn a_plain_image_has_no_subject() {
        let m = manifest(&format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{e}","size":2}},"layers":[]}}"#,
            e = Digest::sha256_of(b"{}"),
        ));
        assert_eq!(m.subject(), None);
    }
}

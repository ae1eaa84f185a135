//! Referrers (OCI distribution 1.1): the manifests that name another manifest as their
//! `subject`, such as signatures, SBOMs and attestations, and the fallback tag `<alg>-<hex>`
//! under which registries without the referrers API keep their index.

use std::collections::BTreeMap;

use super::manifest::Manifest;
use super::reference::Digest;

/// One manifest that refers to another: a descriptor with the fields the referrers index keeps.
///
/// ```
/// use irel::manifest::Manifest;
/// let subject = irel::Digest::sha256_of(b"the image manifest");
/// let sig = serde_json::json!({"schemaVersion": 2, "mediaType": irel::manifest::OCI_MANIFEST,
///     "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json", "layers": [],
///     "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
///                "digest": irel::Digest::sha256_of(b"{}")},
///     "subject": {"mediaType": irel::manifest::OCI_MANIFEST, "digest": subject, "size": 18}});
/// let m = Manifest::parse(sig.to_string().into(), None, "signature").unwrap();
/// let r = m.as_referrer();
/// assert_eq!((m.subject(), r.digest), (Some(subject), m.digest.clone()));
/// assert_eq!(r.artifact_type.as_deref(), Some("application/vnd.dev.cosign.artifact.sig.v1+json"));
/// ```
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
pub(crate) struct Listing {
    #[serde(default)]
    pub(crate) manifests: Vec<Referrer>,
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
/// assert_eq!(irel::model::referrer::fallback_tag(&d), format!("sha256-{}", "ab".repeat(32)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

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

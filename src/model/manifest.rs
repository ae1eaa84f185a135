//! Manifests and indexes: media types, and the models read from them.
//!
//! A manifest is kept as the exact bytes the registry served; its digest is the hash of those
//! bytes, and the bytes are what irel pushes. Nothing is ever re-serialized, so a copy has the
//! digest of its source by construction (and irel checks that the destination agrees).

use bytes::Bytes;

use super::reference::Digest;
use crate::error::Error;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest v2 schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Every manifest type irel reads; the index types must be listed or registries down-convert
/// lists or answer 404.
pub const ACCEPT_ALL: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Distribution's manifest size limit; larger bodies are refused rather than read.
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

/// How deep indexes may nest (an index of indexes of images is 2).
pub(crate) const MAX_INDEX_DEPTH: usize = 4;

/// A content descriptor: what a manifest says about a blob or a child manifest.
///
/// ```
/// use irel::manifest::Descriptor;
/// let layer: Descriptor = serde_json::from_str(r#"{
///     "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 3,
///     "digest": "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}"#).unwrap();
/// assert_eq!((layer.size, layer.digest.algorithm()), (3, "sha256"));
/// assert!(!layer.is_foreign(), "no URLs: a plain layer, pushed like any other");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(default)]
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Where non-distributable content may be fetched from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// The platform of an index entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    /// Foreign or non-distributable layers with URLs are not pushed to registries (registries
    /// do not require them, and their licences may forbid it).
    pub fn is_foreign(&self) -> bool {
        !self.urls.is_empty() && (self.media_type.contains("foreign") || self.media_type.contains("nondistributable"))
    }
}

/// An index entry's platform.
///
/// ```
/// use irel::manifest::Platform;
/// let p: Platform = serde_json::from_str(r#"{"architecture":"arm64","os":"linux","variant":"v8"}"#).unwrap();
/// assert_eq!((p.os.as_str(), p.architecture.as_str(), p.variant.as_deref()), ("linux", "arm64", Some("v8")));
/// let host = Platform { os: "linux".into(), architecture: "amd64".into(), variant: None };
/// assert_ne!(p, host);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Platform {
    /// e.g. `amd64`.
    pub architecture: String,
    /// e.g. `linux`.
    pub os: String,
    /// e.g. `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// What a manifest refers to.
///
/// ```
/// use irel::manifest::{Contents, Manifest, OCI_MANIFEST};
/// let config = irel::Digest::sha256_of(b"{}");
/// let body = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [],
///     "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2}});
/// let m = Manifest::parse(body.to_string().into(), Some(OCI_MANIFEST), "example").unwrap();
/// match &m.contents {
///     Contents::Image { config, layers } => assert_eq!((config.size, layers.len()), (2, 0)),
///     Contents::Index { manifests } => panic!("an index of {} manifests", manifests.len()),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contents {
    /// An image: a config blob and layer blobs.
    Image {
        /// The config blob.
        config: Descriptor,
        /// The layers, in order.
        layers: Vec<Descriptor>,
    },
    /// An index (or manifest list): child manifests.
    Index {
        /// The children.
        manifests: Vec<Descriptor>,
    },
}

/// A manifest as served: exact bytes, media type, digest, and what it refers to.
///
/// ```
/// use irel::manifest::{Manifest, OCI_INDEX};
/// let served = bytes::Bytes::from_static(br#"{"schemaVersion":2,"manifests":[]}"#);
/// let m = Manifest::parse(served.clone(), Some(OCI_INDEX), "registry.example/app:1").unwrap();
/// assert_eq!(m.digest, irel::Digest::sha256_of(&served), "the digest of the bytes as served");
/// assert_eq!(m.bytes, served);
/// assert!(m.is_index() && m.media_type == OCI_INDEX);
/// ```
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The bytes as served; the digest is theirs.
    pub bytes: Bytes,
    /// The media type.
    pub media_type: String,
    /// sha256 of `bytes` (or the algorithm it was asked by).
    pub digest: Digest,
    /// The parsed references.
    pub contents: Contents,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

impl Manifest {
    /// Parses `bytes` served with `content_type`; `reference` names it in errors.
    ///
    /// ```
    /// use irel::manifest::{Contents, Manifest};
    /// let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    /// let m = Manifest::parse(body.to_vec().into(), None, "example").unwrap();
    /// assert!(matches!(m.contents, Contents::Index { .. }));
    /// ```
    pub fn parse(bytes: Bytes, content_type: Option<&str>, reference: &str) -> Result<Manifest, Error> {
        let bad = |reason: String| Error::Manifest {
            reference: reference.to_string(),
            reason,
        };
        let content_type = content_type
            .map(|c| c.split(';').next().unwrap_or_default().trim().to_string())
            .filter(|c| !c.is_empty() && c != "application/json" && c != "application/octet-stream");
        if matches!(content_type.as_deref(), Some(DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED)) {
            return Err(bad(schema1_message()));
        }
        let raw: RawManifest =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("not valid manifest JSON: {e}")))?;
        if raw.schema_version == Some(1) {
            return Err(bad(schema1_message()));
        }
        if let (Some(ct), Some(mt)) = (&content_type, &raw.media_type) {
            if ct != mt {
                return Err(bad(format!("served as {ct} but its mediaType says {mt}")));
            }
        }
        let media_type = content_type.or(raw.media_type).unwrap_or_else(|| {
            if raw.manifests.is_some() {
                OCI_INDEX
            } else {
                OCI_MANIFEST
            }
            .to_string()
        });
        let contents = match media_type.as_str() {
            OCI_INDEX | DOCKER_MANIFEST_LIST => Contents::Index {
                manifests: raw
                    .manifests
                    .ok_or_else(|| bad("an index without \"manifests\"".into()))?,
            },
            OCI_MANIFEST | DOCKER_MANIFEST => Contents::Image {
                config: raw
                    .config
                    .ok_or_else(|| bad("an image manifest without \"config\"".into()))?,
                layers: raw.layers.unwrap_or_default(),
            },
            other => {
                return Err(bad(format!(
                    "unsupported media type {other}; irel copies OCI and Docker v2 images and indexes"
                )))
            }
        };
        let digest = Digest::sha256_of(&bytes);
        Ok(Manifest {
            bytes,
            media_type,
            digest,
            contents,
        })
    }

    /// Whether this is an index or manifest list.
    pub fn is_index(&self) -> bool {
        matches!(self.contents, Contents::Index { .. })
    }
}

fn schema1_message() -> String {
    "it is a Docker schema 1 manifest, which is deprecated and cannot be copied with its digest \
     preserved; convert the image to schema 2 or OCI first"
        .into()
}

/// What a HEAD on a manifest says.
///
/// ```no_run
/// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
/// let image: irel::Reference = "registry.example/team/app:1.0".parse()?;
/// if let Some(head) = client.registry().head_manifest(&image).await? {
///     println!("{image} is {} ({})", head.digest, head.media_type.as_deref().unwrap_or("no type given"));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    /// `Docker-Content-Digest`.
    pub digest: Digest,
    /// `Content-Type` without parameters, when the registry sent one.
    pub media_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#;

    #[test]
    fn docker_image_manifest_keeps_exact_bytes() {
        let m = Manifest::parse(
            Bytes::from(IMAGE),
            Some("application/vnd.docker.distribution.manifest.v2+json"),
            "t",
        )
        .unwrap();
        assert_eq!(m.digest, Digest::sha256_of(IMAGE.as_bytes()));
        assert_eq!(&m.bytes[..], IMAGE.as_bytes());
        assert!(!m.is_index());
    }

    #[test]
    fn schema1_is_refused_with_advice() {
        let e = Manifest::parse(Bytes::from_static(br#"{"schemaVersion":1,"name":"x"}"#), None, "t").unwrap_err();
        assert!(e.to_string().contains("schema 1"), "{e}");
        let e = Manifest::parse(Bytes::from_static(b"{}"), Some(DOCKER_SCHEMA1_SIGNED), "t").unwrap_err();
        assert!(e.to_string().contains("schema 1"), "{e}");
    }

    #[test]
    fn content_type_and_media_type_must_agree() {
        let e = Manifest::parse(Bytes::from(IMAGE), Some(OCI_MANIFEST), "t").unwrap_err();
        assert!(e.to_string().contains("mediaType"), "{e}");
    }

    #[test]
    fn unknown_media_types_and_bad_json_are_errors() {
        assert!(Manifest::parse(Bytes::from_static(b"{"), None, "t").is_err());
        let body = br#"{"schemaVersion":2,"mediaType":"application/x-foo","config":{}}"#;
        assert!(Manifest::parse(Bytes::from_static(body), None, "t").is_err());
    }

    #[test]
    fn oci_manifest_without_media_type_is_inferred() {
        let body = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#;
        let m = Manifest::parse(
            Bytes::from_static(body),
            Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
            "t",
        )
        .unwrap();
        assert_eq!(m.media_type, OCI_MANIFEST);
    }
}

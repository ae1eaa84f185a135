//! What an image is, without copying it: its digest, media type, platforms and sizes
//! (`irel inspect`), and picking one platform's image out of an index (`--platform`).

use crate::error::Error;
use crate::manifest::{Contents, Descriptor, Manifest, Platform, MAX_MANIFEST_SIZE};
use crate::places::registry::Registry;
use crate::reference::{Digest, Reference};
use crate::remedy::Remedy;

impl std::str::FromStr for Platform {
    type Err = String;

    /// `os/arch[/variant]`, as docker and skopeo spell it: `linux/arm64/v8`.
    fn from_str(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: parts.get(2).filter(|v| !v.is_empty()).map(|v| v.to_string()),
            }),
            _ => Err(format!(
                "platform {s:?} is not os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8"
            )),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl Platform {
    /// Whether an index entry for `other` serves this platform: os and architecture equal,
    /// and the variant too when this one names it.
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }
}

/// One image of an index, as `inspect` reports it.
///
/// ```
/// use irel::manifest::{Manifest, OCI_INDEX, OCI_MANIFEST};
/// let image = irel::Digest::sha256_of(b"an image manifest");
/// let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"mediaType": OCI_MANIFEST,
///     "digest": image, "size": 17, "platform": {"os": "linux", "architecture": "arm64"}}]});
/// let index = Manifest::parse(index.to_string().into(), Some(OCI_INDEX), "example").unwrap();
/// let instance = &irel::ImageSummary::of(&index).instances[0];
/// assert_eq!((&instance.digest, instance.platform.as_deref(), instance.size), (&image, Some("linux/arm64"), 17));
/// ```
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceSummary {
    /// Its manifest digest.
    pub digest: Digest,
    /// Its platform, when the index gives one.
    pub platform: Option<String>,
    /// Its manifest's size.
    pub size: u64,
}

/// What `inspect` reports about an image or index.
///
/// ```
/// use irel::manifest::{Manifest, OCI_MANIFEST};
/// let (config, layer) = (irel::Digest::sha256_of(b"{}"), irel::Digest::sha256_of(b"layer"));
/// let body = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
///     "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
///     "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": 5}]});
/// let image = Manifest::parse(body.to_string().into(), Some(OCI_MANIFEST), "example").unwrap();
/// let summary = irel::ImageSummary::of(&image);
/// assert_eq!((summary.layer_sizes, summary.total_size), (vec![5], Some(7)));
/// # async fn inspect(client: irel::Client) -> Result<(), irel::Error> {
/// // From a registry, with what refers to the image:
/// let summary = client.inspect(&"registry.example/team/app:1.0".parse()?).await?;
/// println!("{} {} referrers", summary.digest, summary.referrers.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageSummary {
    /// The manifest digest.
    pub digest: Digest,
    /// The manifest media type.
    pub media_type: String,
    /// The manifest's size in bytes.
    pub manifest_size: u64,
    /// For an index: its images.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<InstanceSummary>,
    /// For an image: the config blob's size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_size: Option<u64>,
    /// For an image: each layer's size.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layer_sizes: Vec<u64>,
    /// For an image: config and layers together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_size: Option<u64>,
    /// What refers to it (signatures, SBOMs, attestations): filled by [`Client::inspect`](crate::Client::inspect).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub referrers: Vec<crate::model::referrer::Referrer>,
}

impl ImageSummary {
    /// Summarizes a fetched manifest.
    pub fn of(manifest: &Manifest) -> ImageSummary {
        let mut s = ImageSummary {
            digest: manifest.digest.clone(),
            media_type: manifest.media_type.clone(),
            manifest_size: manifest.bytes.len() as u64,
            instances: Vec::new(),
            config_size: None,
            layer_sizes: Vec::new(),
            total_size: None,
            referrers: Vec::new(),
        };
        match &manifest.contents {
            Contents::Index { manifests } => {
                s.instances = manifests
                    .iter()
                    .map(|d| InstanceSummary {
                        digest: d.digest.clone(),
                        platform: d.platform.as_ref().map(Platform::to_string),
                        size: d.size,
                    })
                    .collect();
            }
            Contents::Image { config, layers } => {
                s.config_size = Some(config.size);
                s.layer_sizes = layers.iter().map(|l| l.size).collect();
                s.total_size = Some(config.size + layers.iter().map(|l| l.size).sum::<u64>());
            }
        }
        s
    }
}

/// The work of [`Client::resolve_platform`](crate::Client::resolve_platform).
pub(crate) async fn resolve_platform(
    registry: &Registry,
    r: &Reference,
    platform: &Platform,
) -> Result<Reference, Error> {
    let manifest = registry.get_manifest(r).await?;
    let manifests = match &manifest.contents {
        Contents::Index { manifests } => manifests,
        Contents::Image { config, .. } => {
            // A single image serves only the platform its config states.
            if let Some(own) = config_platform(registry, r, config).await? {
                if !platform.matches(&own) {
                    return Err(Error::Unsupported {
                        what: format!("manifest of {r}: it is a single-platform image for {own}, not {platform}"),
                        remedy: Some(Remedy::ChooseNoPlatform),
                    });
                }
            }
            return Ok(r.with_digest(manifest.digest));
        }
    };
    let found = manifests
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)));
    match found {
        Some(d) => Ok(r.with_digest(d.digest.clone())),
        None => {
            let offered: Vec<String> = manifests
                .iter()
                .filter_map(|d| d.platform.as_ref().map(Platform::to_string))
                .collect();
            Err(Error::Manifest {
                reference: r.to_string(),
                reason: format!(
                    "the index has no image for {platform}; it has {}",
                    if offered.is_empty() {
                        "no platforms stated".to_string()
                    } else {
                        offered.join(", ")
                    }
                ),
            })
        }
    }
}

/// The platform an image's config states (`os`, `architecture`, `variant`), if it states
/// one. A config too large to be one is not read.
async fn config_platform(registry: &Registry, r: &Reference, config: &Descriptor) -> Result<Option<Platform>, Error> {
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(default)]
        os: String,
        #[serde(default)]
        architecture: String,
        #[serde(default)]
        variant: Option<String>,
    }
    if config.size > MAX_MANIFEST_SIZE as u64 {
        return Ok(None);
    }
    let mut stream = registry
        .get_blob(&r.to_repository(), &config.digest, config.size)
        .await?;
    let mut bytes = Vec::with_capacity(config.size as usize);
    while let Some(chunk) = stream.chunk().await {
        bytes.extend_from_slice(&chunk.map_err(|e| Error::BlobTransfer {
            digest: config.digest.clone(),
            source_repo: Some(r.name()),
            destination: None,
            source: e,
        })?);
    }
    Ok(serde_json::from_slice::<Config>(&bytes)
        .ok()
        .filter(|c| !c.os.is_empty() && !c.architecture.is_empty())
        .map(|c| Platform {
            os: c.os,
            architecture: c.architecture,
            variant: c.variant.filter(|v| !v.is_empty()),
        }))
}

/// The work of [`Client::inspect`](crate::Client::inspect).
pub(crate) async fn inspect(registry: &Registry, r: &Reference) -> Result<ImageSummary, Error> {
    let mut summary = ImageSummary::of(&registry.get_manifest(r).await?);
    summary.referrers = registry.referrers(&r.to_repository(), &summary.digest, None).await?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_print_and_match() {
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        let any_arm: Platform = "linux/arm64".parse().unwrap();
        assert!(any_arm.matches(&p) && !p.matches(&"linux/arm64".parse().unwrap()));
        assert!("linux".parse::<Platform>().is_err() && "/amd64".parse::<Platform>().is_err());
    }
}

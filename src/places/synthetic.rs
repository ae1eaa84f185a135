//! A source that stores nothing: an OCI image of random layers made from a seed, each layer's
//! bytes generated again whenever it is read. `irel bench push` copies it, so what is measured
//! is the registry and the copy engine, not a disk.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde_json::json;

use crate::error::Error;
use crate::model::manifest::{Descriptor, Manifest, OCI_MANIFEST};
use crate::model::name::TagOrDigest;
use crate::model::reference::Digest;
use crate::places::content::ContentSource;
use crate::transport::{full_body, Body, BoxError};

const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// Generated data comes in chunks of this size.
const CHUNK: usize = 256 * 1024;

/// An OCI image of random layers made on the fly from a seed: nothing is stored, the bytes
/// of each layer are generated again whenever it is read.
///
/// ```
/// use irel::{manifest::Contents, places::SyntheticImage};
/// let image = SyntheticImage::generate(1 << 20, 4, 42);
/// let Contents::Image { layers, .. } = &image.manifest().contents else { unreachable!() };
/// assert_eq!(layers.iter().map(|l| l.size).sum::<u64>(), 1 << 20);
/// let again = SyntheticImage::generate(1 << 20, 4, 42);
/// assert_eq!(image.manifest().digest, again.manifest().digest, "same seed, same image");
/// ```
#[derive(Clone, Debug)]
pub struct SyntheticImage {
    manifest: Manifest,
    config: (Descriptor, Bytes),
    layers: Arc<Vec<(Descriptor, u64)>>,
}

impl SyntheticImage {
    /// An image of `layers` layers (at least 1) totalling `size` bytes, from `seed`. This
    /// generates and hashes every layer once, to know the digests.
    pub fn generate(size: u64, layers: usize, seed: u64) -> SyntheticImage {
        let layers = layers.max(1) as u64;
        let descs: Vec<(Descriptor, u64)> = (0..layers)
            .map(|i| {
                let len = size / layers + u64::from(i < size % layers);
                let layer_seed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(i);
                let mut hasher = crate::reference::DigestAlgorithm::Sha256.hasher();
                let mut gen = RandomBytes::new(layer_seed, len);
                while let Some(chunk) = gen.next_chunk() {
                    hasher.update(&chunk);
                }
                (descriptor(LAYER_MEDIA_TYPE, hasher.finish(), len), layer_seed)
            })
            .collect();
        let config = json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": descs.iter().map(|(d, _)| d.digest.to_string()).collect::<Vec<_>>()},
        });
        let config = Bytes::from(serde_json::to_vec(&config).expect("config serializes"));
        let config_desc = descriptor(CONFIG_MEDIA_TYPE, Digest::sha256_of(&config), config.len() as u64);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_desc,
            "layers": descs.iter().map(|(d, _)| d).collect::<Vec<_>>(),
            "annotations": {"org.opencontainers.image.description": format!("irel bench, seed {seed}")},
        });
        let bytes = Bytes::from(serde_json::to_vec(&manifest).expect("manifest serializes"));
        let manifest =
            Manifest::parse(bytes, Some(OCI_MANIFEST), "synthetic image").expect("a valid generated manifest");
        SyntheticImage {
            manifest,
            config: (config_desc, config),
            layers: Arc::new(descs),
        }
    }

    /// The image's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
}

fn descriptor(media_type: &str, digest: Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest,
        size,
        urls: Vec::new(),
        platform: None,
    }
}

impl ContentSource for SyntheticImage {
    fn describe(&self) -> String {
        "a synthetic image".to_string()
    }

    async fn manifest(&self, _name: &TagOrDigest) -> Result<Manifest, Error> {
        Ok(self.manifest.clone())
    }

    async fn blob(&self, desc: &Descriptor, _hash: bool) -> Result<Body, Error> {
        if desc.digest == self.config.0.digest {
            return Ok(full_body(self.config.1.clone()));
        }
        let (layer, seed) = self
            .layers
            .iter()
            .find(|(d, _)| d.digest == desc.digest)
            .ok_or_else(|| Error::Manifest {
                reference: self.describe(),
                reason: format!("it has no blob {}", desc.digest),
            })?;
        Ok(RandomBytes::new(*seed, layer.size).boxed())
    }
}

impl http_body::Body for RandomBytes {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        // The generator never waits.
        std::task::Poll::Ready(self.next_chunk().map(|c| Ok(http_body::Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

/// splitmix64: fast, seedable, and random enough that nothing compresses or deduplicates it.
struct RandomBytes {
    state: u64,
    remaining: u64,
}

impl RandomBytes {
    fn new(seed: u64, len: u64) -> Self {
        RandomBytes {
            state: seed,
            remaining: len,
        }
    }

    fn next_chunk(&mut self) -> Option<Bytes> {
        if self.remaining == 0 {
            return None;
        }
        let n = CHUNK.min(self.remaining as usize);
        let mut buf = BytesMut::with_capacity(n + 8);
        while buf.len() < n {
            self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            buf.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        buf.truncate(n);
        self.remaining -= n as u64;
        Some(buf.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::VerifyingBody;

    #[test]
    fn synthetic_images_are_deterministic_and_sized() {
        let a = SyntheticImage::generate(1_000_003, 3, 7);
        let b = SyntheticImage::generate(1_000_003, 3, 7);
        let c = SyntheticImage::generate(1_000_003, 3, 8);
        assert_eq!(a.manifest().digest, b.manifest().digest);
        assert_ne!(a.manifest().digest, c.manifest().digest);
        let sizes: Vec<u64> = a.layers.iter().map(|(d, _)| d.size).collect();
        assert_eq!(sizes, [333_335, 333_334, 333_334]);
    }

    #[tokio::test]
    async fn generated_layers_match_their_digests() {
        let image = SyntheticImage::generate(600_000, 2, 1);
        for (desc, _) in image.layers.iter() {
            let body = image.blob(desc, true).await.unwrap();
            let checked = VerifyingBody::new(body, desc.digest.clone(), desc.size);
            assert_eq!(checked.collect().await.unwrap().to_bytes().len() as u64, desc.size);
        }
    }
}

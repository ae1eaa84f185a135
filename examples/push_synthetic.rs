//! Pushes a synthetic multi-arch image (random layers) with the irel library: an example of
//! embedding irel.
//!
//! usage: cargo run --example push_synthetic -- REGISTRY/REPO:TAG [LAYER_KIB]

use bytes::Bytes;
use irel::manifest::{Manifest, OCI_INDEX, OCI_MANIFEST};
use irel::{Client, Reference};

fn random_bytes(len: usize, seed: &mut u64) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for chunk in out.chunks_mut(8) {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        chunk.copy_from_slice(&seed.to_le_bytes()[..chunk.len()]);
    }
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let target: Reference = args
        .next()
        .ok_or("usage: push_synthetic REGISTRY/REPO:TAG [LAYER_KIB]")?
        .parse()?;
    let layer_kib: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(256);
    let client = Client::builder().build()?;
    let repo = target.without_tag_or_digest();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as u64
        | 1;

    let mut entries = Vec::new();
    for arch in ["amd64", "arm64"] {
        let mut layers = Vec::new();
        for _ in 0..2 {
            let data = Bytes::from(random_bytes(layer_kib * 1024, &mut seed));
            let size = data.len();
            let digest = client.registry().push_blob_bytes(&repo.to_repository(), data).await?;
            layers.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size}));
        }
        let diff_ids: Vec<_> = layers.iter().map(|l| l["digest"].clone()).collect();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}, "config": {}
        }))?;
        let config_size = config.len();
        let config_digest = client
            .registry()
            .push_blob_bytes(&repo.to_repository(), config.into())
            .await?;
        let body = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
            "layers": layers
        }))?;
        let manifest = Manifest::parse(body.into(), Some(OCI_MANIFEST), &target.to_string())?;
        client
            .registry()
            .put_manifest(&repo.to_repository(), &manifest.digest.clone().into(), &manifest)
            .await?;
        entries.push(
            serde_json::json!({"mediaType": OCI_MANIFEST, "digest": manifest.digest, "size": manifest.bytes.len(),
            "platform": {"architecture": arch, "os": "linux"}}),
        );
    }
    let index =
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}))?;
    let index = Manifest::parse(index.into(), Some(OCI_INDEX), &target.to_string())?;
    client
        .registry()
        .put_manifest(&repo.to_repository(), &target.tag_or_digest(), &index)
        .await?;
    println!("{}", index.digest);
    Ok(())
}

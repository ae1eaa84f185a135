//! Synthetic OCI image layouts: random-content layers (registries do not inspect them), a
//! config with matching diff_ids, and optionally a multi-arch index.

use std::path::Path;

use irel::Digest;

/// What `make_layout` wrote.
pub struct Fixture {
    /// Digest of the top-level manifest or index.
    pub digest: String,
    /// Digests of every layer blob written.
    pub layers: Vec<String>,
}

struct Rng(u64);

impl Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            // xorshift64*: fast, and a seed gives the same bytes every run.
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let v = self.0.wrapping_mul(0x2545F4914F6CDD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

fn put_blob(root: &Path, data: &[u8]) -> (String, usize) {
    let d = Digest::sha256_of(data);
    let path = root.join("blobs/sha256").join(d.encoded());
    std::fs::write(path, data).unwrap();
    (d.to_string(), data.len())
}

fn image(
    root: &Path,
    layer_sizes: &[usize],
    arch: &str,
    rng: &mut Rng,
    layers_out: &mut Vec<String>,
) -> serde_json::Value {
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for &size in layer_sizes {
        let mut data = vec![0u8; size];
        rng.fill(&mut data);
        let (d, s) = put_blob(root, &data);
        layers.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s}));
        diff_ids.push(d.clone());
        layers_out.push(d);
    }
    let cfg = serde_json::to_vec(&serde_json::json!({
        "architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids}, "config": {}
    }))
    .unwrap();
    let (cd, cs) = put_blob(root, &cfg);
    let man = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": layers
    }))
    .unwrap();
    let (md, ms) = put_blob(root, &man);
    serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
        "platform": {"architecture": arch, "os": "linux"}
    })
}

/// Writes an OCI layout at `dir` tagged `tag`: one image per arch (an index when several).
pub fn make_layout(dir: &Path, tag: &str, layer_sizes: &[usize], arches: &[&str], seed: u64) -> Fixture {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut rng = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1);
    let mut layers = Vec::new();
    let mut top = if arches.len() > 1 {
        let descs: Vec<_> = arches
            .iter()
            .map(|a| image(dir, layer_sizes, a, &mut rng, &mut layers))
            .collect();
        let idx = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descs
        }))
        .unwrap();
        let (d, s) = put_blob(dir, &idx);
        serde_json::json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": s})
    } else {
        let mut m = image(
            dir,
            layer_sizes,
            arches.first().copied().unwrap_or("amd64"),
            &mut rng,
            &mut layers,
        );
        m.as_object_mut().unwrap().remove("platform");
        m
    };
    let digest = top["digest"].as_str().unwrap().to_string();
    top["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": tag});
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [top]})).unwrap(),
    )
    .unwrap();
    Fixture { digest, layers }
}

//! Micro-benchmarks of the hot pure functions: digest hashing (compare with
//! `openssl dgst -sha256` on the same machine, see benches/README.md), reference parsing,
//! WWW-Authenticate parsing and the Go-irel mapping.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use irel::reference::DigestAlgorithm;
use irel::Reference;

fn hashing(c: &mut Criterion) {
    let data = vec![0x5au8; 64 * 1024 * 1024];
    let mut g = c.benchmark_group("digest");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("sha256 64 MiB in 256 KiB chunks", |b| {
        b.iter(|| {
            let mut h = DigestAlgorithm::Sha256.hasher();
            for chunk in data.chunks(256 * 1024) {
                h.update(chunk);
            }
            h.finish()
        })
    });
    g.finish();
}

fn parsing(c: &mut Criterion) {
    let refs = [
        "ubuntu",
        "registry.example.com:5000/team/sub/app:1.2.3",
        "quay.io/org/app@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
        "[2001:db8::1]:5000/repo:tag",
    ];
    c.bench_function("reference parse (4 forms)", |b| {
        b.iter(|| refs.iter().map(|r| r.parse::<Reference>().unwrap()).collect::<Vec<_>>())
    });
    let header = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull,push", Basic realm="x""#;
    c.bench_function("WWW-Authenticate parse", |b| {
        b.iter(|| irel::auth::parse_challenges(header).unwrap())
    });
    let original: Reference = "docker.io/istio/proxyv2:1.2".parse().unwrap();
    c.bench_function("flatten_repo_path_preserve_tag_digest", |b| {
        b.iter_batched(
            || original.clone(),
            |o| irel::mapping::flatten_repo_path_preserve_tag_digest("registry.internal/acme", &o).unwrap(),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, hashing, parsing);
criterion_main!(benches);

//! Embedding irel: a copy with a transport configured in code (an insecure lab registry, a
//! private CA, a connect timeout, a user agent of the embedding tool's own) and progress read
//! from the copy's events, printed by the embedder (the library never prints).
//!
//! usage: cargo run --example copy_with_progress -- SRC DST [CA.pem]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use irel::copy::{BlobDisposition, CopyEvent};
use irel::transport::TransportConfig;
use irel::{Client, CopyOptions, Reference};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: copy_with_progress SRC DST [CA.pem]";
    let src: Reference = args.next().ok_or(usage)?.parse()?;
    let dst: Reference = args.next().ok_or(usage)?.parse()?;

    let mut transport = TransportConfig::default()
        .insecure_registry(dst.registry())
        .connect_timeout(Duration::from_secs(5))
        .user_agent("my-installer/2.1 (irel)");
    if let Some(ca) = args.next() {
        transport = transport.ca_certificate_file(ca)?;
    }
    let client = Client::builder()
        .transport_config(transport)
        .credentials(irel::auth::DockerConfig::load_default()?)
        .retry_times(5)
        .build()?;

    let total = Arc::new(AtomicU64::new(0));
    let moved = Arc::new(AtomicU64::new(0));
    let (t, m) = (total.clone(), moved.clone());
    let options = CopyOptions::default()
        .concurrency(8)
        .on_event(move |event| match event {
            CopyEvent::Planned { blobs, bytes } => {
                t.fetch_add(*bytes, Ordering::Relaxed);
                eprintln!("{blobs} blobs, {bytes} bytes to bring");
            }
            CopyEvent::BlobDone {
                digest,
                size,
                disposition,
                elapsed,
            } => {
                let done = m.fetch_add(*size, Ordering::Relaxed) + size;
                let how = match disposition {
                    BlobDisposition::Copied => "copied",
                    BlobDisposition::Mounted => "mounted",
                    BlobDisposition::Skipped => "already there",
                };
                let of = t.load(Ordering::Relaxed).max(1);
                eprintln!("{digest} {how} in {elapsed:?} ({}%)", done * 100 / of);
            }
            CopyEvent::ManifestPushed { reference, .. } => eprintln!("manifest stored as {reference}"),
            _ => {}
        });
    let report = client.copy(&src, &dst, &options).await?;
    println!(
        "{src} -> {dst}: {} ({} copied, {} mounted, {} present, {} bytes)",
        report.digest.map(|d| d.to_string()).unwrap_or_default(),
        report.blobs_copied,
        report.blobs_mounted,
        report.blobs_skipped,
        moved.load(Ordering::Relaxed)
    );
    Ok(())
}

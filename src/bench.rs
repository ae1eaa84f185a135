//! Registry benchmarks (`irel bench`): push a synthetic image generated on the fly, pull an
//! image verifying and discarding every byte, or copy between registries, and measure it.
//!
//! All three go through the copy engine, so what is measured is what `irel copy` does: a
//! [`SyntheticImage`] is a source that makes its layers from a
//! seeded generator (no disk), and [`Discard`] a destination that checks
//! and drops what it gets.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::copy::RegistryRepository;
use crate::copy::{copy_content, BlobDisposition, CopyEvent, CopyOptions};
use crate::error::Error;
use crate::model::name::{Tag, TagOrDigest};
use crate::places::registry::Registry;
use crate::places::{Discard, SyntheticImage};
use crate::reference::{Digest, Reference};

/// What to generate and how hard to push.
///
/// ```no_run
/// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
/// use irel::bench::BenchOptions;
/// let options = BenchOptions::default().image(256 << 20, 8).concurrency(8).seed(42);
/// let report = client.bench_push(&"localhost:5000/bench:latest".parse()?, &options).await?;
/// println!("{:.1} MB/s", report.megabytes_per_second);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BenchOptions {
    /// Total layer bytes (split evenly over the layers).
    pub size: u64,
    /// Number of layers (at least 1).
    pub layers: usize,
    /// Blobs in flight at once.
    pub concurrency: usize,
    /// Seed of the generated data: the same seed gives the same image, digest included.
    pub seed: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            size: 1 << 30,
            layers: 4,
            concurrency: 4,
            seed: 1,
        }
    }
}

impl BenchOptions {
    /// Sets the total size and the number of layers.
    pub fn image(mut self, size: u64, layers: usize) -> Self {
        self.size = size;
        self.layers = layers.max(1);
        self
    }

    /// Sets how many blobs are in flight at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets the seed of the generated data.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// What a benchmark measured.
///
/// ```no_run
/// # async fn demo(client: irel::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let image = "localhost:5000/bench:latest".parse()?;
/// let report = client.bench_pull(&image, &irel::bench::BenchOptions::default()).await?;
/// println!("{} bytes in {:.2} s, {} requests", report.bytes, report.seconds, report.requests);
/// println!("p95 per blob: {:.0} ms", report.blob_latency_ms.p95);
/// println!("{}", serde_json::to_string(&report)?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct BenchReport {
    /// `push`, `pull` or `copy`.
    pub operation: &'static str,
    /// The image's manifest digest.
    pub digest: Digest,
    /// Blobs of the image (config included).
    pub blobs: usize,
    /// Blobs whose bytes were transferred (the others were mounted or already there).
    pub blobs_transferred: usize,
    /// Bytes transferred.
    pub bytes: u64,
    /// Wall time of the whole operation, manifests included.
    pub seconds: f64,
    /// `bytes` / `seconds`, in MB (10^6 bytes) per second.
    pub megabytes_per_second: f64,
    /// Per-blob time from the presence check to the blob being in place, over the blobs
    /// copied or mounted: median, 95th percentile and maximum, in milliseconds.
    pub blob_latency_ms: Latency,
    /// HTTP requests sent (pings, token requests, retries and failed attempts included).
    pub requests: u64,
    /// CPU time (user + system) this process used during the run, in seconds (Linux only).
    pub cpu_seconds: Option<f64>,
    /// This process's peak resident memory so far, in bytes (Linux only).
    pub peak_rss_bytes: Option<u64>,
}

/// Latency percentiles in milliseconds.
///
/// ```
/// use std::time::Duration;
/// use irel::bench::Latency;
/// let samples: Vec<Duration> = [30, 10, 20, 40].map(Duration::from_millis).to_vec();
/// let l = Latency::of(&samples);
/// assert_eq!((l.p50, l.p95, l.max), (20.0, 40.0, 40.0));
/// ```
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Slowest.
    pub max: f64,
}

impl Latency {
    /// Nearest-rank percentiles of `samples`.
    pub fn of(samples: &[Duration]) -> Latency {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| -> f64 {
            if ms.is_empty() {
                return 0.0;
            }
            let i = ((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
            ms[i]
        };
        Latency {
            p50: rank(0.50),
            p95: rank(0.95),
            max: rank(1.0),
        }
    }
}

/// The work of [`Client::bench_push`](crate::Client::bench_push).
pub(crate) async fn bench_push(
    registry: &Registry,
    dst: &Reference,
    options: &BenchOptions,
) -> Result<BenchReport, Error> {
    let opts = options.clone();
    let image = tokio::task::spawn_blocking(move || SyntheticImage::generate(opts.size, opts.layers, opts.seed))
        .await
        .expect("image generation does not panic");
    let to = RegistryRepository::new(registry.clone(), &dst.to_repository());
    measure(registry, "push", options, |o| async move {
        copy_content(&image, &latest(), &to, &dst.name_to_write(), None, &o).await
    })
    .await
}

/// The name a synthetic image is read by (it has one image, whatever the name).
fn latest() -> TagOrDigest {
    TagOrDigest::Tag(Tag::new("latest").expect("a tag"))
}

/// The work of [`Client::bench_pull`](crate::Client::bench_pull).
pub(crate) async fn bench_pull(
    registry: &Registry,
    src: &Reference,
    options: &BenchOptions,
) -> Result<BenchReport, Error> {
    let from = RegistryRepository::new(registry.clone(), &src.to_repository());
    measure(registry, "pull", options, |o| async move {
        let pulled = TagOrDigest::Tag(Tag::new("pulled").expect("a tag"));
        copy_content(&from, &src.tag_or_digest(), &Discard, &pulled, src.digest(), &o).await
    })
    .await
}

/// The work of [`Client::bench_copy`](crate::Client::bench_copy).
pub(crate) async fn bench_copy(
    registry: &Registry,
    src: &Reference,
    dst: &Reference,
    options: &BenchOptions,
) -> Result<BenchReport, Error> {
    measure(registry, "copy", options, |o| async move {
        crate::copy::copy(registry, src, dst, &o).await
    })
    .await
}

async fn measure<F, Fut>(
    registry: &Registry,
    operation: &'static str,
    options: &BenchOptions,
    run: F,
) -> Result<BenchReport, Error>
where
    F: FnOnce(CopyOptions) -> Fut,
    Fut: std::future::Future<Output = Result<crate::CopyReport, Error>>,
{
    let samples = Arc::new(Mutex::new(Vec::new()));
    let (blobs, seen) = (Arc::new(Mutex::new(0usize)), samples.clone());
    let planned = blobs.clone();
    let copy_options = CopyOptions::default()
        .concurrency(options.concurrency)
        .on_event(move |event| match event {
            CopyEvent::Planned { blobs, .. } => *planned.lock().expect("bench counters") += blobs,
            CopyEvent::BlobDone {
                disposition: BlobDisposition::Copied | BlobDisposition::Mounted,
                elapsed,
                ..
            } => seen.lock().expect("bench samples").push(*elapsed),
            _ => {}
        });
    let (requests_before, cpu_before) = (registry.session().requests_sent(), ProcessUsage::now());
    let started = Instant::now();
    let report = run(copy_options).await?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_after = ProcessUsage::now();
    let samples = samples.lock().expect("bench samples").clone();
    let blobs = *blobs.lock().expect("bench counters");
    Ok(BenchReport {
        operation,
        digest: report.digest.expect("a copy reports its digest"),
        blobs,
        blobs_transferred: report.blobs_copied,
        bytes: report.bytes_copied,
        seconds,
        megabytes_per_second: report.bytes_copied as f64 / 1e6 / seconds.max(1e-9),
        blob_latency_ms: Latency::of(&samples),
        requests: registry.session().requests_sent() - requests_before,
        cpu_seconds: match (cpu_before, &cpu_after) {
            (Some(a), Some(b)) => Some(b.cpu_seconds - a.cpu_seconds),
            _ => None,
        },
        peak_rss_bytes: cpu_after.map(|u| u.peak_rss_bytes),
    })
}

/// CPU time and peak memory of this process, from `/proc/self` (Linux).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProcessUsage {
    /// User + system CPU time so far, in seconds.
    pub cpu_seconds: f64,
    /// Peak resident set size so far (`VmHWM`), in bytes.
    pub peak_rss_bytes: u64,
}

impl ProcessUsage {
    /// Reads the current figures; `None` where `/proc` is not there.
    pub(crate) fn now() -> Option<ProcessUsage> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line, in USER_HZ ticks, which
        // Linux fixes at 100 per second for user space.
        let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let hwm_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(ProcessUsage {
            cpu_seconds: ticks as f64 / 100.0,
            peak_rss_bytes: hwm_kib * 1024,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=20).map(Duration::from_millis).collect();
        let l = Latency::of(&samples);
        assert_eq!((l.p50, l.p95, l.max), (10.0, 19.0, 20.0));
        assert_eq!(Latency::of(&[]).p95, 0.0);
    }

    #[test]
    fn process_usage_reads_proc() {
        if let Some(u) = ProcessUsage::now() {
            assert!(u.peak_rss_bytes > 0);
        }
    }
}

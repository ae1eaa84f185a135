//! `irel bench`: argument parsing and printing around [`irel::bench`].

use clap::{Args, Subcommand};
use irel::bench::{BenchOptions, BenchReport};

use super::flags::{Groups, Json, Remote};
use super::{client_for, parse_ref, runtime, Cli, Failure};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  irel bench push --size 1GiB --layers 4 localhost:5000/bench/img:1\n  irel bench pull localhost:5000/bench/img:1\n  irel bench copy --json localhost:5000/bench/img:1 localhost:5001/bench/img:1\n\nPush generates random layers on the fly (nothing on disk; the same --seed gives the same\ndigest); pull verifies every blob and discards it; copy is irel copy. Latencies are per blob,\nfrom the presence check to the blob being in place. CPU and peak memory are this process's."
)]
pub(super) struct BenchArgs {
    #[command(subcommand)]
    what: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Generate an image of random layers and push it.
    #[command(after_help = "Example:\n  irel bench push --size 1GiB --layers 4 localhost:5000/bench/img:1")]
    Push {
        /// Where to push it.
        destination: String,
        #[command(flatten)]
        shape: Shape,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Pull an image (every platform), verify every blob and discard it.
    #[command(after_help = "Example:\n  irel bench pull --json localhost:5000/bench/img:1")]
    Pull {
        /// The image.
        source: String,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Copy an image between registries.
    #[command(after_help = "Example:\n  irel bench copy localhost:5000/bench/img:1 localhost:5001/bench/img:1")]
    Copy {
        /// The image to copy.
        source: String,
        /// Where to copy it.
        destination: String,
        #[command(flatten)]
        run: RunFlags,
    },
}

#[derive(Args)]
struct Shape {
    /// Total layer size: bytes, or with a unit (KiB, MiB, GiB, KB, MB, GB; K, M, G are binary).
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    size: u64,
    /// Number of layers the size is split into (1 or more).
    #[arg(long, default_value_t = 4, value_parser = super::args::at_least_one)]
    layers: usize,
    /// Seed of the random data (same seed, same image).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Args)]
struct RunFlags {
    /// Blobs in flight at once.
    #[arg(long, default_value_t = 4, value_parser = super::args::at_least_one)]
    concurrency: usize,
    #[command(flatten)]
    remote: Remote,
    #[command(flatten)]
    json: Json,
}

impl BenchArgs {
    /// The flag groups the bench command offers, as given.
    pub(super) fn groups(&self) -> Groups<'_> {
        let run = match &self.what {
            BenchCommand::Push { run, .. } | BenchCommand::Pull { run, .. } | BenchCommand::Copy { run, .. } => run,
        };
        Groups::remote(&run.remote).json(&run.json)
    }
}

pub(super) fn run(cli: &Cli, args: &BenchArgs) -> Result<(), Failure> {
    let rt = runtime()?;
    let (report, target) = match &args.what {
        BenchCommand::Push {
            destination,
            shape,
            run,
        } => {
            let dst = parse_ref("destination image", destination)?;
            let client = client_for(cli, &[(&dst, None, "--creds")])?;
            let options = BenchOptions::default()
                .image(shape.size, shape.layers)
                .seed(shape.seed)
                .concurrency(run.concurrency);
            (rt.block_on(client.bench_push(&dst, &options))?, dst.to_string())
        }
        BenchCommand::Pull { source, run } => {
            let src = parse_ref("image", source)?;
            let client = client_for(cli, &[(&src, None, "--creds")])?;
            let options = BenchOptions::default().concurrency(run.concurrency);
            (rt.block_on(client.bench_pull(&src, &options))?, src.to_string())
        }
        BenchCommand::Copy {
            source,
            destination,
            run,
        } => {
            let src = parse_ref("source image", source)?;
            let dst = parse_ref("destination image", destination)?;
            let client = client_for(cli, &[(&src, None, "--creds"), (&dst, None, "--creds")])?;
            let options = BenchOptions::default().concurrency(run.concurrency);
            let report = rt.block_on(client.bench_copy(&src, &dst, &options))?;
            (report, format!("{src} -> {dst}"))
        }
    };
    if cli.flags.json {
        let mut value = serde_json::to_value(&report)?;
        value["image"] = serde_json::Value::String(target);
        outln!("{value}");
    } else {
        for line in human(&report, &target).lines() {
            outln!("{line}");
        }
    }
    Ok(())
}

fn human(r: &BenchReport, target: &str) -> String {
    let mut out = format!(
        "{} {target}: {}\n  {:.1} MB in {} of {} blobs, {:.2} s, {:.1} MB/s\n",
        r.operation,
        r.digest,
        r.bytes as f64 / 1e6,
        r.blobs_transferred,
        r.blobs,
        r.seconds,
        r.megabytes_per_second
    );
    let l = r.blob_latency_ms;
    out += &format!(
        "  per-blob latency: p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms\n",
        l.p50, l.p95, l.max
    );
    out += &format!("  requests: {}\n", r.requests);
    if let (Some(cpu), Some(rss)) = (r.cpu_seconds, r.peak_rss_bytes) {
        out += &format!(
            "  cpu: {cpu:.2} s, peak memory: {:.1} MiB\n",
            rss as f64 / (1 << 20) as f64
        );
    }
    out
}

/// `1GiB`, `512MiB`, `64MB`, `100M`, `4096`.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size; write e.g. 1GiB, 512MiB or 64MB"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {s:?}; use KiB, MiB, GiB, KB, MB or GB"
            ))
        }
    };
    Ok((number * factor as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("64MB"), Ok(64_000_000));
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("0.5GiB"), Ok(1 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("1TB").is_err());
    }
}

//! `irel bench push|pull|copy`: runs [`irel::bench`] against a registry and prints throughput,
//! per-blob latency, requests, CPU and memory.

use irel::bench::{BenchOptions, BenchReport};

use crate::cli::args::{BenchArgs, BenchCommand};
use crate::cli::client::client_for;
use crate::cli::interrupt::block_on;
use crate::cli::operands::parse_ref;
use crate::cli::{Cli, Failure};

pub(crate) fn run(cli: &Cli, args: &BenchArgs) -> Result<(), Failure> {
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
            (block_on(client.bench_push(&dst, &options))??, dst.to_string())
        }
        BenchCommand::Pull { source, run } => {
            let src = parse_ref("image", source)?;
            let client = client_for(cli, &[(&src, None, "--creds")])?;
            let options = BenchOptions::default().concurrency(run.concurrency);
            (block_on(client.bench_pull(&src, &options))??, src.to_string())
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
            let report = block_on(client.bench_copy(&src, &dst, &options))??;
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

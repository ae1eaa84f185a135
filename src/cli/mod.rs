//! Command-line parsing and output. Every command is one library call; this module only turns
//! arguments into configuration and results into lines.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use irel::{Client, CopyOptions, Reference};

#[derive(Parser)]
#[command(
    name = "irel",
    version,
    about = "Relocate container images between registries, keeping their digests",
    after_help = "Examples:\n  irel copy registry.example.com/app:1.0 localhost:5000/app:1.0\n  irel digest localhost:5000/app:1.0\n  irel map -r registry.internal/acme docker.io/istio/proxyv2:1.2\n\nExit codes: 0 success, 1 failure, 2 usage error."
)]
struct Cli {
    /// Trust the PEM CA certificates in this file (repeatable).
    #[arg(long = "ca-cert-path", global = true, value_name = "PATH")]
    ca_cert_path: Vec<PathBuf>,
    /// Skip TLS verification and allow plain http for every registry (Go irel's flag).
    #[arg(long, global = true)]
    skip_tls_verify: bool,
    /// Skip TLS verification and allow plain http for this registry (repeatable).
    #[arg(long = "insecure-registry", global = true, value_name = "HOST[:PORT]")]
    insecure_registry: Vec<String>,
    /// Connect to HOST at ADDR instead of resolving it, like curl --resolve (repeatable).
    #[arg(long, global = true, value_name = "HOST:ADDR")]
    resolve: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Copy an image or multi-arch index to another repository, preserving its digest.
    #[command(visible_alias = "cp")]
    Copy {
        /// The image to copy.
        source: String,
        /// Where to copy it (its tag is kept; default tag latest).
        destination: String,
        /// Blobs transferred at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Print the digest of an image's manifest.
    #[command(visible_alias = "dig")]
    Digest {
        /// The image.
        reference: String,
    },
    /// Print where an image goes when relocated under a repository prefix.
    Map {
        /// The repository prefix, e.g. registry.internal/acme.
        #[arg(short = 'r', long = "repository-prefix", value_name = "PREFIX")]
        repository_prefix: String,
        /// The image.
        reference: String,
    },
}

/// A failure worth one line on stderr.
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            eprintln!("irel: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn parse_ref(what: &str, s: &str) -> Result<Reference, Failure> {
    s.parse::<Reference>().map_err(|e| Failure(format!("{what}: {e}")))
}

fn client(cli: &Cli) -> Result<Client, Failure> {
    let mut b = Client::builder().skip_tls_verify(cli.skip_tls_verify);
    for host in &cli.insecure_registry {
        b = b.insecure_registry(host);
    }
    for path in &cli.ca_cert_path {
        b = b.ca_certificate_file(path)?;
    }
    for r in &cli.resolve {
        let (host, addr) = r
            .rsplit_once(':')
            .and_then(|(h, a)| Some((h, a.trim_matches(['[', ']']).parse::<IpAddr>().ok()?)))
            .ok_or_else(|| {
                Failure(format!(
                    "--resolve {r:?}: expected HOST:ADDR, e.g. registry.lab:127.0.0.1"
                ))
            })?;
        b = b.resolve(host, addr);
    }
    let creds = irel::auth::DockerConfig::load_default()?;
    Ok(b.credentials(creds).build()?)
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Map {
            repository_prefix,
            reference,
        } => {
            let original = parse_ref("image", reference)?;
            let mapped = irel::mapping::flatten_repo_path_preserve_tag_digest(repository_prefix, &original)?;
            println!("{mapped}");
        }
        Command::Digest { reference } => {
            let r = parse_ref("image", reference)?;
            let client = client(&cli)?;
            let digest = runtime()?.block_on(client.digest(&r))?;
            println!("{digest}");
        }
        Command::Copy {
            source,
            destination,
            concurrency,
        } => {
            let src = parse_ref("source image", source)?;
            let dst = parse_ref("destination image", destination)?;
            let client = client(&cli)?;
            let options = CopyOptions::default().concurrency(*concurrency);
            let report = runtime()?.block_on(client.copy(&src, &dst, &options))?;
            let digest = report.digest.map(|d| d.to_string()).unwrap_or_default();
            println!("copied {src} to {dst} with content digest {digest}");
        }
    }
    Ok(())
}

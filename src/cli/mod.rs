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
    /// Work with OCI image layouts (Go irel's layout commands).
    #[command(subcommand)]
    Layout(LayoutCommand),
    /// Write a thick bundle: images (every platform) in an OCI layout inside a .tar.gz.
    Save {
        /// The archive to write.
        #[arg(short, long, value_name = "BUNDLE.tgz")]
        output: PathBuf,
        /// Images to save.
        images: Vec<String>,
        /// A file with one image per line (# comments allowed).
        #[arg(long = "images", value_name = "FILE")]
        images_file: Option<PathBuf>,
    },
    /// Relocate images under a repository prefix, from their registries or from a bundle.
    Relocate {
        /// The repository prefix, e.g. registry.internal/acme.
        #[arg(short = 'r', long = "repository-prefix", value_name = "PREFIX")]
        repository_prefix: String,
        /// Images to relocate (from a bundle: default every image in it).
        images: Vec<String>,
        /// A file with one image per line (# comments allowed).
        #[arg(long = "images", value_name = "FILE")]
        images_file: Option<PathBuf>,
        /// Relocate from this bundle archive (.tar.gz or .tar) instead of the registries.
        #[arg(long, value_name = "BUNDLE", conflicts_with = "layout")]
        archive: Option<PathBuf>,
        /// Relocate from this OCI image layout instead of the registries.
        #[arg(long, value_name = "DIR")]
        layout: Option<PathBuf>,
        /// Write the relocation mapping (original → relocated, JSON) here.
        #[arg(long, value_name = "FILE")]
        mapping_output: Option<PathBuf>,
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

#[derive(Subcommand)]
enum LayoutCommand {
    /// Add an image (all platforms) from its registry to a layout, creating the layout if needed.
    Add {
        /// The layout directory.
        layout: PathBuf,
        /// The image.
        reference: String,
    },
    /// Find an image in a layout and print its digest.
    Find {
        /// The layout directory.
        layout: PathBuf,
        /// The image, as it was added.
        reference: String,
    },
    /// Push an image from a layout, by digest, to a registry.
    Push {
        /// The layout directory.
        layout: PathBuf,
        /// The digest of the image in the layout.
        digest: String,
        /// Where to push it.
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
        Command::Layout(cmd) => return run_layout(&cli, cmd),
        Command::Save {
            output,
            images,
            images_file,
        } => {
            let list = image_list(images, images_file.as_deref())?;
            if list.is_empty() {
                return Err(Failure("save: name at least one image, or --images FILE".into()));
            }
            let refs = list
                .iter()
                .map(|i| parse_ref("image", i))
                .collect::<Result<Vec<_>, _>>()?;
            let client = client(&cli)?;
            let digests = runtime()?.block_on(client.save(&refs, output, &CopyOptions::default()))?;
            for (r, d) in refs.iter().zip(digests) {
                println!("saved {r} with digest {d} to {}", output.display());
            }
        }
        Command::Relocate {
            repository_prefix,
            images,
            images_file,
            archive,
            layout,
            mapping_output,
        } => {
            return run_relocate(
                &cli,
                repository_prefix,
                images,
                images_file,
                archive,
                layout,
                mapping_output,
            )
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

fn image_list(images: &[String], file: Option<&std::path::Path>) -> Result<Vec<String>, Failure> {
    let mut list = images.to_vec();
    if let Some(f) = file {
        list.extend(irel::relocate::read_image_list(f)?);
    }
    Ok(list)
}

fn run_layout(cli: &Cli, cmd: &LayoutCommand) -> Result<(), Failure> {
    match cmd {
        LayoutCommand::Add { layout, reference } => {
            let r = parse_ref("image", reference)?;
            let client = client(cli)?;
            let layout_dir = irel::layout::OciLayout::create(layout)?;
            let digest = runtime()?.block_on(client.pull_to_layout(&r, &layout_dir, &CopyOptions::default()))?;
            println!(
                "added {r} with digest {digest} to OCI image layout at {}",
                layout.display()
            );
        }
        LayoutCommand::Find { layout, reference } => {
            let layout_dir = irel::layout::OciLayout::open(layout)?;
            let entry = layout_dir.find(reference)?.ok_or_else(|| {
                Failure(format!(
                    "{reference} is not in the OCI image layout at {}",
                    layout.display()
                ))
            })?;
            println!(
                "found {reference} with digest {} in OCI image layout at {}",
                entry.descriptor.digest,
                layout.display()
            );
        }
        LayoutCommand::Push {
            layout,
            digest,
            reference,
        } => {
            let d: irel::Digest = digest.parse().map_err(|e| Failure(format!("digest: {e}")))?;
            let r = parse_ref("destination image", reference)?;
            let layout_dir = irel::layout::OciLayout::open(layout)?;
            let client = client(cli)?;
            runtime()?.block_on(client.push_from_layout(&layout_dir, &d, &r, &CopyOptions::default()))?;
            println!(
                "wrote image with digest {d} from OCI image layout at {} to {r}",
                layout.display()
            );
        }
    }
    Ok(())
}

fn run_relocate(
    cli: &Cli,
    prefix: &str,
    images: &[String],
    images_file: &Option<PathBuf>,
    archive: &Option<PathBuf>,
    layout: &Option<PathBuf>,
    mapping_output: &Option<PathBuf>,
) -> Result<(), Failure> {
    use irel::relocate::RelocationSource;
    let mut list = image_list(images, images_file.as_deref())?;
    let opened_archive = archive.as_deref().map(irel::layout::archive::open).transpose()?;
    let opened_layout = layout.as_deref().map(irel::layout::OciLayout::open).transpose()?;
    let bundle = opened_archive.as_ref().map(|a| a.layout()).or(opened_layout.as_ref());
    if list.is_empty() {
        match bundle {
            Some(b) => list = b.entries()?.into_iter().filter_map(|e| e.name).collect(),
            None => {
                return Err(Failure(
                    "relocate: name images, or --images FILE, or --archive/--layout".into(),
                ))
            }
        }
    }
    // Refuse a bad prefix before anything is copied.
    if let Some(first) = list.first() {
        irel::mapping::flatten_repo_path(prefix, &parse_ref("image", first)?)?;
    }
    let source = match bundle {
        Some(b) => RelocationSource::Layout(b),
        None => RelocationSource::Registries,
    };
    let client = client(cli)?;
    let report = runtime()?.block_on(client.relocate(prefix, &list, source, &CopyOptions::default()));
    for r in &report.relocated {
        println!(
            "relocated {} to {} with content digest {}",
            r.original, r.relocated, r.digest
        );
    }
    for (original, e) in &report.failed {
        eprintln!("irel: failed to relocate {original}: {e}");
    }
    if let Some(path) = mapping_output {
        report.write_mapping(path)?;
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure(format!(
            "{} of {} images were not relocated",
            report.failed.len(),
            list.len()
        )))
    }
}

//! Command-line parsing and output. Every command is one library call; this module only turns
//! arguments into configuration and results into lines.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use irel::auth::CredentialSource as _;
use irel::{Client, CopyOptions, Reference};

use flags::{Chosen, Connection, Groups, Json, Quiet, Remote};

#[macro_use]
mod output;
mod bench;
mod dregsy;
mod flags;
mod interrupt;
mod login;
mod progress;
mod query;
mod skopeo;

#[derive(Parser)]
#[command(
    name = "irel",
    version,
    about = "Relocate container images between registries, keeping their digests",
    after_help = "Flags such as --insecure-registry, --creds, --json or --timeout belong to the commands that\nuse them (`irel COMMAND --help` lists them); given before the command they work the same.\n\nExamples:\n  irel copy registry.example.com/app:1.0 localhost:5000/app:1.0\n  irel digest localhost:5000/app:1.0\n  irel map -r registry.internal/acme docker.io/istio/proxyv2:1.2\n  irel copy --platform linux/arm64 quay.io/team/app:1 localhost:5000/app:1-arm64\n  irel sync docker://registry.example.com/team/app docker://mirror.internal/team\n  irel inspect --json registry.example.com/team/app:1\n\nCredentials: --creds/--src-creds/--dest-creds, --authfile, docker's config.json (credHelpers,\ncredsStore, auths), containers auth.json. Certificates: --ca-cert-path, certs.d directories.\n\nExit codes: 0 success, 1 failure (one line on stderr), 2 usage error, 130 interrupted."
)]
struct Args {
    // Flags given before the command (`irel --insecure-registry lab:5000 copy …`, as with Go
    // irel): taken as if given after it, when the command offers them (hidden here: each
    // command's help lists its own).
    #[command(flatten)]
    remote: Remote,
    #[command(flatten)]
    json: Json,
    #[command(flatten)]
    quiet: Quiet,
    // skopeo's global flags, so that `skopeo --insecure-policy sync …` runs as `irel …`.
    #[command(flatten)]
    skopeo: skopeo::SkopeoGlobals,
    #[command(subcommand)]
    command: Command,
}

/// The command, and the flags it was given (defaults for the rest).
struct Cli {
    flags: Chosen,
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Copy an image or multi-arch index to another repository, preserving its digest.
    #[command(
        visible_alias = "cp",
        after_help = "Examples:\n  irel copy registry.example.com/team/app:1.2 lab:5000/team/app:1.2 --insecure-registry lab:5000\n  irel copy --src-creds robot:$TOKEN private.example/app@sha256:… localhost:5000/app:pinned\n  irel copy --platform linux/arm64/v8 docker.io/library/busybox:1.36 localhost:5000/busybox:arm64\n  irel copy --json SRC DST    # the copy report as JSON"
    )]
    Copy {
        /// The image to copy.
        source: String,
        /// Where to copy it (its tag is kept; default tag latest).
        destination: String,
        /// Blobs transferred at once.
        #[arg(long, default_value_t = 4, value_parser = at_least_one)]
        concurrency: usize,
        /// Credentials for the source registry.
        #[arg(long, value_name = "USER:PASSWORD")]
        src_creds: Option<String>,
        /// Credentials for the destination registry.
        #[arg(long, value_name = "USER:PASSWORD")]
        dest_creds: Option<String>,
        /// Copy only this platform's image of an index (os/arch[/variant]).
        #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
        platform: Option<irel::manifest::Platform>,
        /// Copy the image's referrers too (signatures, SBOMs, attestations), before its tag.
        #[arg(long)]
        referrers: bool,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        json: Json,
        #[command(flatten)]
        quiet: Quiet,
    },
    /// Print the digest of an image's manifest (fetched and hashed: the content's digest).
    #[command(
        visible_alias = "dig",
        after_help = "Examples:\n  irel digest registry.example.com/team/app:1.2\n  irel digest --unverified docker.io/library/busybox:1.36   # a HEAD only: the registry's word"
    )]
    Digest {
        /// The image.
        reference: String,
        /// Print the digest the registry announces for a HEAD, without fetching and hashing the
        /// manifest: the registry's word, unverified (Docker Hub counts GETs, not HEADs, against
        /// its pull limit).
        #[arg(long)]
        unverified: bool,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        json: Json,
    },
    /// Work with OCI image layouts (Go irel's layout commands).
    #[command(subcommand)]
    Layout(LayoutCommand),
    /// Write a thick bundle: images (every platform) in an OCI layout inside a .tar.gz.
    #[command(after_help = "Example:\n  irel save -o bundle.tgz --images images.txt")]
    Save {
        /// The archive to write.
        #[arg(short, long, value_name = "BUNDLE.tgz")]
        output: PathBuf,
        /// Images to save.
        images: Vec<String>,
        /// A file with one image per line (# comments allowed).
        #[arg(long = "images", value_name = "FILE")]
        images_file: Option<PathBuf>,
        /// Save the images' referrers too (signatures, SBOMs, attestations).
        #[arg(long)]
        referrers: bool,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        json: Json,
        #[command(flatten)]
        quiet: Quiet,
    },
    /// Relocate images under a repository prefix, from their registries or from a bundle.
    #[command(
        after_help = "Examples:\n  irel relocate -r registry.internal/acme --images images.txt --mapping-output mapping.json\n  irel relocate -r registry.internal/acme --archive bundle.tgz"
    )]
    Relocate(RelocateArgs),
    /// Mirror images: registry → registry, registry → dir:, dir: → registry, or sync tasks.
    #[command(
        after_help = "Examples:\n  irel sync docker://src.example/library/busybox docker://mirror.example/hub\n  irel sync docker://src.example/app:1.0 dir:/media/usb\n  irel sync dir:/media/usb docker://registry.internal\n  irel sync --source-yaml sync.yml docker://registry.internal/mirror\n  irel sync --config tasks.yaml --dry-run\n\nskopeo sync lines run unchanged (skopeo's naming: DST/<last path component>, or --scoped):\n  irel sync --src docker --dest dir registry.example.com/busybox /media/usb\n  irel sync --src yaml --dest docker sync.yml my-registry.local.lan/repo\n\nNames: with docker:// and dir: locations a registry source goes under its host\n(DST/registry.example.com/lib/app, a port written -), --no-scope keeps the last path\ncomponent only (DST/app), as skopeo does; with --src/--dest the default is skopeo's (DST/app),\n--scoped is skopeo's scoped name (DST/registry.example.com/lib/app)."
    )]
    Sync(SyncArgs),
    /// Measure a registry: push a generated image, pull one, or copy one; print throughput,
    /// per-blob latency, requests, CPU and memory.
    Bench(bench::BenchArgs),
    /// List a repository's tags (every page).
    #[command(
        after_help = "Examples:\n  irel tags registry.example.com/team/app\n  irel tags --json localhost:5000/team/app"
    )]
    Tags {
        /// The repository, e.g. registry.example.com/team/app.
        repository: String,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        json: Json,
    },
    /// List a registry's repositories (every page of /v2/_catalog).
    #[command(after_help = "Examples:\n  irel catalog localhost:5000\n  irel catalog --json registry.example.com")]
    Catalog {
        /// The registry, e.g. registry.example.com or localhost:5000.
        registry: String,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        json: Json,
    },
    /// Print an image's manifest, byte for byte.
    #[command(
        after_help = "Examples:\n  irel manifest registry.example.com/team/app:1.2 | jq .\n  irel manifest --platform linux/arm64 docker.io/library/busybox:1.36"
    )]
    Manifest {
        /// The image.
        reference: String,
        /// For an index: the manifest of this platform's image (os/arch[/variant]).
        #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
        platform: Option<irel::manifest::Platform>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List an image's referrers: the signatures, SBOMs and attestations that name it.
    #[command(
        after_help = "Examples:\n  irel referrers registry.example.com/team/app:1.2\n  irel referrers --artifact-type application/spdx+json registry.example.com/team/app@sha256:…"
    )]
    Referrers {
        /// The image.
        reference: String,
        /// Only referrers of this artifact type.
        #[arg(long, value_name = "MEDIA_TYPE")]
        artifact_type: Option<String>,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        json: Json,
    },
    /// Show an image's digest, media type, platforms and sizes.
    #[command(
        after_help = "Examples:\n  irel inspect registry.example.com/team/app:1.2\n  irel inspect --json localhost:5000/team/app@sha256:…"
    )]
    Inspect {
        /// The image.
        reference: String,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        json: Json,
    },
    /// Check credentials against a registry and save them in docker's config.json (0600).
    #[command(after_help = "Example:\n  echo \"$TOKEN\" | irel login registry.example.com -u robot --password-stdin")]
    Login {
        /// The registry.
        registry: String,
        /// The user name.
        #[arg(short, long)]
        username: String,
        /// The password (prefer --password-stdin: arguments are visible to other users).
        #[arg(short, long, conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        connection: Connection,
    },
    /// Remove a registry's saved credentials.
    #[command(after_help = "Example:\n  irel logout registry.example.com")]
    Logout {
        /// The registry.
        registry: String,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  irel completions bash > ~/.local/share/bash-completion/completions/irel\n  irel completions zsh > \"${fpath[1]}/_irel\""
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print where an image goes when relocated under a repository prefix.
    #[command(
        after_help = "Examples:\n  irel map -r registry.internal/acme docker.io/istio/proxyv2:1.2\n  irel map --json -r registry.internal/acme busybox"
    )]
    Map {
        /// The repository prefix, e.g. registry.internal/acme.
        #[arg(short = 'r', long = "repository-prefix", value_name = "PREFIX")]
        repository_prefix: String,
        /// The image.
        reference: String,
        #[command(flatten)]
        json: Json,
    },
}

#[derive(clap::Args)]
struct SyncArgs {
    /// SRC DST (docker://HOST/REPO[:TAG], dir:PATH, oci:PATH → docker://HOST[/NS], dir:PATH); with
    /// --source-yaml only DST; with --config none; with --src/--dest bare locations, as skopeo.
    locations: Vec<String>,
    /// skopeo's YAML list of registries and images to sync.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    source_yaml: Option<PathBuf>,
    /// Sync tasks (dregsy style: catalog lister, regex mappings, tag filters).
    #[arg(long, value_name = "FILE.yaml")]
    config: Option<PathBuf>,
    /// With --config: run each task once, even those with an interval.
    #[arg(long, requires = "config")]
    once: bool,
    /// With --config: run only the tasks whose name matches (dregsy's -run: anchored, !
    /// inverts); all are validated.
    #[arg(long = "run", value_name = "TASK-REGEX", requires = "config")]
    run_tasks: Option<String>,
    /// skopeo's unscoped names: keep only the last component of the source's path (DST/app).
    #[arg(long)]
    no_scope: bool,
    /// Credentials for the source registry (for each registry of a source file without its own).
    #[arg(long, value_name = "USER:PASSWORD", alias = "screds")]
    src_creds: Option<String>,
    /// Credentials for the destination registry.
    #[arg(long, value_name = "USER:PASSWORD", alias = "dcreds")]
    dest_creds: Option<String>,
    /// false: allow plain http and unverified TLS for the source registry (and a source file's
    /// registries without tls-verify); true: https only, even on loopback.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    src_tls_verify: Option<bool>,
    /// false: allow plain http and unverified TLS for the destination registry; true: https
    /// only, even on loopback.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    dest_tls_verify: Option<bool>,
    /// Trust the *.crt CA certificates in this directory for the source.
    #[arg(long, value_name = "DIR")]
    src_cert_dir: Option<PathBuf>,
    /// Trust the *.crt CA certificates in this directory for the destination.
    #[arg(long, value_name = "DIR")]
    dest_cert_dir: Option<PathBuf>,
    /// Print what would be copied, and copy nothing.
    #[arg(long)]
    dry_run: bool,
    /// Images copied at once.
    #[arg(long, default_value_t = 8, value_parser = at_least_one)]
    jobs: usize,
    /// Copy each image's referrers too (signatures, SBOMs, attestations); registry to registry.
    #[arg(long)]
    referrers: bool,
    #[command(flatten)]
    skopeo: Box<skopeo::SkopeoSync>,
    #[command(flatten)]
    remote: Remote,
    #[command(flatten)]
    json: Json,
    #[command(flatten)]
    quiet: Quiet,
}

#[derive(clap::Args)]
struct RelocateArgs {
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
    /// Copy each image's referrers too (signatures, SBOMs, attestations; from a bundle, those
    /// it holds).
    #[arg(long)]
    referrers: bool,
    #[command(flatten)]
    remote: Remote,
    #[command(flatten)]
    json: Json,
    #[command(flatten)]
    quiet: Quiet,
}

#[derive(Subcommand)]
enum LayoutCommand {
    /// Add an image (all platforms) from its registry to a layout, creating the layout if needed.
    #[command(after_help = "Example:\n  irel layout add ./bundle registry.example.com/team/app:1.2")]
    Add {
        /// The layout directory.
        layout: PathBuf,
        /// The image.
        reference: String,
        /// Add the image's referrers too (signatures, SBOMs, attestations), unnamed.
        #[arg(long)]
        referrers: bool,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        json: Json,
        #[command(flatten)]
        quiet: Quiet,
    },
    /// Find an image in a layout and print its digest.
    #[command(after_help = "Example:\n  irel layout find ./bundle registry.example.com/team/app:1.2")]
    Find {
        /// The layout directory.
        layout: PathBuf,
        /// The image, as it was added.
        reference: String,
        #[command(flatten)]
        json: Json,
    },
    /// Push an image from a layout, by digest, to a registry.
    #[command(after_help = "Example:\n  irel layout push ./bundle sha256:… registry.internal/team/app:1.2")]
    Push {
        /// The layout directory.
        layout: PathBuf,
        /// The digest of the image in the layout.
        digest: String,
        /// Where to push it.
        reference: String,
        /// Push the referrers the layout holds for it too.
        #[arg(long)]
        referrers: bool,
        #[command(flatten)]
        remote: Remote,
        #[command(flatten)]
        json: Json,
        #[command(flatten)]
        quiet: Quiet,
    },
}

impl Command {
    /// The flag groups this command offers, as given.
    fn groups(&self) -> Groups<'_> {
        match self {
            Command::Copy {
                remote, json, quiet, ..
            }
            | Command::Save {
                remote, json, quiet, ..
            }
            | Command::Layout(LayoutCommand::Add {
                remote, json, quiet, ..
            })
            | Command::Layout(LayoutCommand::Push {
                remote, json, quiet, ..
            })
            | Command::Relocate(RelocateArgs {
                remote, json, quiet, ..
            })
            | Command::Sync(SyncArgs {
                remote, json, quiet, ..
            }) => Groups::remote(remote).json(json).quiet(quiet),
            Command::Digest { remote, json, .. }
            | Command::Tags { remote, json, .. }
            | Command::Catalog { remote, json, .. }
            | Command::Referrers { remote, json, .. }
            | Command::Inspect { remote, json, .. } => Groups::remote(remote).json(json),
            Command::Bench(args) => args.groups(),
            Command::Manifest { remote, .. } => Groups::remote(remote),
            Command::Login { connection, .. } => Groups {
                connection: Some(connection),
                ..Default::default()
            },
            Command::Map { json, .. } | Command::Layout(LayoutCommand::Find { json, .. }) => {
                Groups::default().json(json)
            }
            Command::Logout { .. } | Command::Completions { .. } => Groups::default(),
        }
    }
}

/// `--resolve HOST:ADDR`, or curl's `HOST:PORT:ADDR` (the port is not needed: the address
/// serves every port of the host).
fn parse_resolve(value: &str) -> Option<(&str, IpAddr)> {
    let (host, addr) = value.rsplit_once(':').filter(|(_, a)| !a.ends_with(']')).map_or_else(
        // A bracketed IPv6 address holds colons of its own.
        || value.rsplit_once(":[").map(|(h, a)| (h, a.trim_end_matches(']'))),
        |(h, a)| Some((h, a)),
    )?;
    let addr = addr.trim_matches(['[', ']']).parse::<IpAddr>().ok()?;
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.parse::<u16>().is_ok() => h,
        _ => host,
    };
    (!host.is_empty()).then_some((host, addr))
}

/// Refuses, before any work, an output path the result could not be written to: a directory,
/// or a file in a directory that does not exist.
fn writable_output(flag: &str, path: &std::path::Path) -> Result<(), Failure> {
    if path.is_dir() {
        return Err(Failure::usage(format!(
            "{flag} {}: is a directory; name a file",
            path.display()
        )));
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !parent.is_dir() {
        return Err(Failure::usage(format!(
            "{flag} {}: the directory {} does not exist; create it first",
            path.display(),
            parent.display()
        )));
    }
    Ok(())
}

/// A count that must be 1 or more (`--concurrency 0` would copy nothing, forever).
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a count (1 or more)")),
    }
}

/// A failure worth one line on stderr, and the exit code it ends with.
struct Failure {
    message: String,
    exit: u8,
}

/// Exit code of a command that failed.
const FAILED: u8 = 1;
/// Exit code of a command line that is wrong (as clap's own errors).
const USAGE: u8 = 2;

impl Failure {
    /// The command failed (exit 1).
    fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            exit: FAILED,
        }
    }

    /// The command line is wrong: a bad reference, digest or flag value (exit 2).
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            exit: USAGE,
        }
    }
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::new(e.to_string())
    }
}

pub fn main() -> ExitCode {
    use clap::{CommandFactory as _, FromArgMatches as _};
    let matches = Args::command().mut_args(|a| a.hide(true)).get_matches();
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let flags = match flags::merge_leading(&matches, &args.remote, &args.json, &args.quiet, args.command.groups()) {
        Ok(flags) => flags,
        Err(message) => {
            errln!("irel: {message}");
            return ExitCode::from(USAGE);
        }
    };
    if let Some((flag, why)) = args.skopeo.first_refused() {
        errln!("irel: {flag}: irel does not take this skopeo flag: {why}");
        return ExitCode::from(USAGE);
    }
    let cli = Cli {
        flags,
        command: args.command,
    };
    if cli.flags.debug || cli.flags.verbose {
        let level = if cli.flags.debug {
            tracing::Level::DEBUG
        } else {
            tracing::Level::INFO
        };
        // Colour only for a person at a terminal, and never against NO_COLOR (no-color.org).
        let colour = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_target(false)
            .with_ansi(colour)
            .with_writer(std::io::stderr)
            .init();
    }
    if let Err(failure) = interrupt::install() {
        errln!("irel: {}", failure.message);
        return ExitCode::FAILURE;
    }
    let result = run(cli);
    interrupt::finish();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            errln!("irel: {}", failure.message);
            ExitCode::from(failure.exit)
        }
    }
}

/// A failure of a command that works on several images, naming the side whose registry
/// failed, as the user wrote it and (when Docker's rules changed it) as irel read it:
/// `destination image 127.0.0.1:15100 (docker.io/library/127.0.0.1:15100): …`.
fn naming_side(e: irel::Error, sides: &[(&str, &str, &Reference)]) -> Failure {
    let host = e.registry_host().map(|h| h.to_ascii_lowercase());
    let matching: Vec<_> = sides
        .iter()
        .filter(|(_, _, r)| host.as_deref() == Some(&r.api_host().to_ascii_lowercase()))
        .collect();
    match matching.as_slice() {
        [(what, typed, r)] => {
            let typed = typed.strip_prefix("docker://").unwrap_or(typed);
            let read = r.to_string();
            let shown = if read == typed {
                typed.to_string()
            } else {
                format!("{typed} ({read})")
            };
            Failure::new(format!("{what} {shown}: {e}"))
        }
        _ => Failure::new(e.to_string()),
    }
}

/// Parses a reference the user wrote; `what` names it in errors ("source image").
fn parse_ref(what: &str, s: &str) -> Result<Reference, Failure> {
    let r = parse_ref_as_docker(what, s)?;
    match bare_registry_advice(s, &r) {
        Some(advice) => Err(Failure::usage(format!("{what} {s}: {advice}"))),
        None => Ok(r),
    }
}

/// `HOST:PORT` with no repository: Docker's rules read it as an image on Docker Hub
/// (`docker.io/library/HOST:PORT`), which is never what was meant.
fn bare_registry_advice(typed: &str, r: &Reference) -> Option<String> {
    let typed = typed.strip_prefix("docker://").unwrap_or(typed);
    let (host, port) = typed.split_once(':')?;
    let registry_like = host == "localhost" || host.contains('.') || host.parse::<IpAddr>().is_ok();
    let is_port = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    (!typed.contains('/') && registry_like && is_port).then(|| {
        format!(
            "this is a registry address without a repository (by Docker's rules it names {r}); name the repository: {typed}/REPOSITORY[:TAG]"
        )
    })
}

/// Parses a reference by Docker's rules alone (as Go irel does), without the bare-registry check.
fn parse_ref_as_docker(what: &str, s: &str) -> Result<Reference, Failure> {
    // skopeo users write the transport; for a registry it says nothing irel needs.
    let s = s.strip_prefix("docker://").unwrap_or(s);
    s.parse::<Reference>().map_err(|e| {
        let advice = match s.split_once(':').map(|(t, _)| t) {
            Some("dir" | "oci" | "oci-archive" | "docker-archive") => {
                "; this command takes registry images: `irel sync` copies to and from dir: and oci: \
                 paths, `irel layout add|push` and `irel save` work with OCI layouts"
            }
            _ => "",
        };
        Failure::usage(format!("{what}: {e}{advice}"))
    })
}

/// A client whose `--creds` go to the registries of `named` (and nowhere else), with the
/// per-side credentials given.
fn client_for(cli: &Cli, named: &[(&Reference, Option<&String>, &str)]) -> Result<Client, Failure> {
    let mut creds = irel::auth::StaticCredentials::default();
    for (r, side, flag) in named {
        if let Some(c) = side {
            creds.insert(r.registry(), credential(flag, c)?);
        }
    }
    if let Some(c) = &cli.flags.creds {
        for (r, _, _) in named {
            if creds.credential(r.registry()).is_none() {
                creds.insert(r.registry(), credential("--creds", c)?);
            }
        }
    }
    finish_client(cli, base_builder(cli)?.credentials(creds))
}

/// The builder the global flags describe, without credentials.
fn base_builder(cli: &Cli) -> Result<irel::ClientBuilder, Failure> {
    let mut b = Client::builder()
        .skip_tls_verify(cli.flags.skip_tls_verify)
        .retry_times(cli.flags.retry_times)
        .system_certs_d()?
        .containers_registries_conf()
        .on_warning(|host, text| errln!("irel: warning: registry {host}: {text}"));
    if let Some(limit) = cli.flags.timeout {
        b = b.timeout(limit);
    }
    for host in &cli.flags.insecure_registry {
        b = b.insecure_registry(host);
    }
    for path in &cli.flags.ca_cert_path {
        b = b.ca_certificate_file(path)?;
    }
    for r in &cli.flags.resolve {
        let (host, addr) = parse_resolve(r).ok_or_else(|| {
            Failure::usage(format!(
                "--resolve {r:?}: expected HOST:ADDR or curl's HOST:PORT:ADDR, e.g. registry.lab:127.0.0.1"
            ))
        })?;
        b = b.resolve(host, addr);
    }
    Ok(b)
}

/// Adds the credential files (after any explicit credentials) and builds: `--authfile`,
/// docker's config.json (helpers, then `auths`), then the containers auth.json of the
/// environment.
fn finish_client(cli: &Cli, mut b: irel::ClientBuilder) -> Result<Client, Failure> {
    use irel::auth::{ContainersAuth, DockerConfig};
    if let Some(path) = &cli.flags.authfile {
        if !path.exists() {
            return Err(Failure::new(format!("--authfile {}: no such file", path.display())));
        }
        b = b.credentials(ContainersAuth::load(path)?);
    }
    b = b.credentials(DockerConfig::load_default()?);
    if cli.flags.authfile.is_none() {
        b = b.credentials(ContainersAuth::load_default(None)?);
    }
    let client = b.build()?;
    interrupt::track(client.cleanups());
    Ok(client)
}

/// Copy options from the global flags.
fn copy_options(cli: &Cli) -> CopyOptions {
    progress::attach(
        CopyOptions::default().retry_times(cli.flags.retry_times),
        cli.flags.quiet || cli.flags.json,
    )
}

fn runtime() -> Result<Runtime, Failure> {
    Ok(Runtime)
}

/// Runs the command's async work (see [`interrupt::block_on`]: Ctrl-C and SIGTERM stop it).
struct Runtime;

impl Runtime {
    fn block_on<F: std::future::Future>(&self, work: F) -> F::Output {
        interrupt::block_on(work)
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Map {
            repository_prefix,
            reference,
            ..
        } => {
            // Go irel's output, byte for byte, whatever the input; a likely mistake gets a warning.
            let original = parse_ref_as_docker("image", reference)?;
            if let Some(advice) = bare_registry_advice(reference, &original) {
                errln!("irel: warning: image {reference}: {advice}");
            }
            let mapped = irel::mapping::flatten_repo_path_preserve_tag_digest(repository_prefix, &original)
                .map_err(|e| Failure::usage(e.to_string()))?;
            match cli.flags.json {
                true => outln!(
                    "{}",
                    serde_json::json!({"original": reference, "relocated": mapped.to_string()})
                ),
                false => outln!("{mapped}"),
            }
        }
        Command::Digest {
            reference, unverified, ..
        } => {
            let r = parse_ref("image", reference)?;
            let client = client_for(&cli, &[(&r, None, "--creds")])?;
            let sides = [("image", reference.as_str(), &r)];
            let digest = match unverified {
                true => runtime()?.block_on(client.registry_digest(&r)),
                false => runtime()?.block_on(client.digest(&r)),
            }
            .map_err(|e| naming_side(e, &sides))?;
            if cli.flags.json {
                outln!(
                    "{}",
                    serde_json::json!({"image": r.to_string(), "digest": digest.to_string(), "verified": !unverified})
                );
            } else {
                outln!("{digest}");
            }
        }
        Command::Layout(cmd) => return run_layout(&cli, cmd),
        Command::Sync(args) => return run_sync(&cli, args),
        Command::Bench(args) => return bench::run(&cli, args),
        Command::Tags { repository, .. } => return query::tags(&cli, repository),
        Command::Catalog { registry, .. } if registry.contains("://") => {
            return Err(Failure::usage(format!(
                "catalog {registry}: give the registry as HOST[:PORT], without a scheme (irel finds it)"
            )))
        }
        Command::Catalog { registry, .. } => return query::catalog(&cli, registry),
        Command::Manifest {
            reference, platform, ..
        } => return query::manifest(&cli, reference, platform.as_ref()),
        Command::Inspect { reference, .. } => return query::inspect(&cli, reference),
        Command::Referrers {
            reference,
            artifact_type,
            ..
        } => return query::referrers(&cli, reference, artifact_type.as_deref()),
        Command::Login {
            registry,
            username,
            password,
            password_stdin,
            ..
        } => return login::login(&cli, registry, username, password.as_deref(), *password_stdin),
        Command::Logout { registry } => return login::logout(registry),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            // Into memory first: a reader that goes away (`| head`) is not an error of irel's.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Args::command(), "irel", &mut script);
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), &script);
        }
        Command::Save {
            output,
            images,
            images_file,
            referrers,
            ..
        } => {
            let list = image_list(images, images_file.as_deref())?;
            if list.is_empty() {
                return Err(Failure::usage("save: name at least one image, or --images FILE"));
            }
            writable_output("-o", output)?;
            let refs = list
                .iter()
                .map(|i| parse_ref("image", i))
                .collect::<Result<Vec<_>, _>>()?;
            let named: Vec<_> = refs.iter().map(|r| (r, None, "--creds")).collect();
            let client = client_for(&cli, &named)?;
            let options = copy_options(&cli).referrers(*referrers);
            let digests = runtime()?.block_on(client.save(&refs, output, &options))?;
            for (r, d) in refs.iter().zip(digests) {
                match cli.flags.json {
                    true => outln!(
                        "{}",
                        serde_json::json!({"image": r.to_string(), "digest": d.to_string(), "bundle": output})
                    ),
                    false => outln!("saved {r} with digest {d} to {}", output.display()),
                }
            }
        }
        Command::Relocate(args) => return run_relocate(&cli, args),
        Command::Copy {
            source,
            destination,
            concurrency,
            src_creds,
            dest_creds,
            platform,
            referrers,
            ..
        } => {
            let src = parse_ref("source image", source)?;
            let dst = parse_ref("destination image", destination)?;
            let named = [
                (&src, src_creds.as_ref(), "--src-creds"),
                (&dst, dest_creds.as_ref(), "--dest-creds"),
            ];
            let client = client_for(&cli, &named)?;
            let options = copy_options(&cli).concurrency(*concurrency).referrers(*referrers);
            let rt = runtime()?;
            let sides = [
                ("source image", source.as_str(), &src),
                ("destination image", destination.as_str(), &dst),
            ];
            let src_resolved = match platform {
                Some(p) => rt
                    .block_on(client.resolve_platform(&src, p))
                    .map_err(|e| naming_side(e, &sides))?,
                None => src.clone(),
            };
            let report = rt
                .block_on(client.copy(&src_resolved, &dst, &options))
                .map_err(|e| naming_side(e, &sides))?;
            let src = src_resolved;
            if cli.flags.json {
                let mut v = serde_json::to_value(&report)?;
                v["source"] = src.to_string().into();
                v["destination"] = dst.to_string().into();
                outln!("{v}");
            } else {
                let digest = report.digest.map(|d| d.to_string()).unwrap_or_default();
                outln!("copied {src} to {dst} with content digest {digest}");
                if *referrers {
                    outln!("referrers copied: {}", report.referrers_copied);
                }
            }
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
        LayoutCommand::Add {
            layout,
            reference,
            referrers,
            ..
        } => {
            let r = parse_ref("image", reference)?;
            let client = client_for(cli, &[(&r, None, "--creds")])?;
            // A layout this add creates is removed again if the add fails.
            let (layout_dir, creation) = irel::layout::OciLayout::create_undoable(layout)?;
            let options = copy_options(cli).referrers(*referrers);
            let digest = runtime()?.block_on(client.pull_to_layout(&r, &layout_dir, &options))?;
            creation.keep();
            match cli.flags.json {
                true => outln!(
                    "{}",
                    serde_json::json!({"image": r.to_string(), "digest": digest.to_string(), "layout": layout})
                ),
                false => outln!(
                    "added {r} with digest {digest} to OCI image layout at {}",
                    layout.display()
                ),
            }
        }
        LayoutCommand::Find { layout, reference, .. } => {
            let layout_dir = irel::layout::OciLayout::open(layout)?;
            let entry = layout_dir.find(reference)?.ok_or_else(|| {
                Failure::new(format!(
                    "{reference} is not in the OCI image layout at {}",
                    layout.display()
                ))
            })?;
            match cli.flags.json {
                true => outln!(
                    "{}",
                    serde_json::json!({"image": reference, "digest": entry.descriptor.digest.to_string(), "layout": layout})
                ),
                false => outln!(
                    "found {reference} with digest {} in OCI image layout at {}",
                    entry.descriptor.digest,
                    layout.display()
                ),
            }
        }
        LayoutCommand::Push {
            layout,
            digest,
            reference,
            referrers,
            ..
        } => {
            let d: irel::Digest = digest.parse().map_err(|e| {
                Failure::usage(format!(
                    "{e}; layout push takes the digest of an image in the layout (`irel layout find {} IMAGE` prints it)",
                    layout.display()
                ))
            })?;
            let r = parse_ref("destination image", reference)?;
            let layout_dir = irel::layout::OciLayout::open(layout)?;
            let client = client_for(cli, &[(&r, None, "--creds")])?;
            let options = copy_options(cli).referrers(*referrers);
            runtime()?.block_on(client.push_from_layout(&layout_dir, &d, &r, &options))?;
            match cli.flags.json {
                true => outln!(
                    "{}",
                    serde_json::json!({"image": r.to_string(), "digest": d.to_string(), "layout": layout})
                ),
                false => outln!(
                    "wrote image with digest {d} from OCI image layout at {} to {r}",
                    layout.display()
                ),
            }
        }
    }
    Ok(())
}

fn run_relocate(cli: &Cli, args: &RelocateArgs) -> Result<(), Failure> {
    use irel::relocate::RelocationSource;
    let RelocateArgs {
        repository_prefix: prefix,
        images,
        images_file,
        archive,
        layout,
        mapping_output,
        referrers,
        ..
    } = args;
    let mut list = image_list(images, images_file.as_deref())?;
    // What the command line got wrong is refused before any work (a bundle can take minutes
    // to decompress): the prefix, and where the mapping goes.
    let placeholder: Reference = "docker.io/library/busybox:1".parse().expect("a valid reference");
    irel::mapping::flatten_repo_path(prefix, &placeholder).map_err(|e| Failure::usage(e.to_string()))?;
    if let Some(path) = mapping_output {
        writable_output("--mapping-output", path)?;
    }
    let opened_archive = archive.as_deref().map(irel::layout::archive::open).transpose()?;
    let opened_layout = layout.as_deref().map(irel::layout::OciLayout::open).transpose()?;
    let bundle = opened_archive.as_ref().map(|a| a.layout()).or(opened_layout.as_ref());
    if list.is_empty() {
        match bundle {
            Some(b) => list = b.entries()?.into_iter().filter_map(|e| e.name).collect(),
            None => {
                return Err(Failure::usage(
                    "relocate: name images, or --images FILE, or --archive/--layout",
                ))
            }
        }
    }
    // Refuse a bad prefix before anything is copied.
    if let Some(first) = list.first() {
        irel::mapping::flatten_repo_path(prefix, &parse_ref("image", first)?)
            .map_err(|e| Failure::usage(e.to_string()))?;
    }
    let source = match bundle {
        Some(b) => RelocationSource::Layout(b),
        None => RelocationSource::Registries,
    };
    // --creds goes to the prefix's registry and, from registries, to each source's.
    // A prefix may be a registry's root (`lab:5000`): Docker's rules alone, no bare-registry check.
    let mut named_refs = vec![parse_ref_as_docker("repository prefix", prefix)?];
    if bundle.is_none() {
        for image in &list {
            named_refs.push(parse_ref("image", image)?);
        }
    }
    let named: Vec<_> = named_refs.iter().map(|r| (r, None, "--creds")).collect();
    let client = client_for(cli, &named)?;
    let options = copy_options(cli).referrers(*referrers);
    // Each image is reported as it ends, and the mapping kept current, so an interrupted
    // relocation has said (and written down) what landed.
    let seen = std::cell::Cell::new((0usize, 0usize));
    let mapping_error = std::cell::RefCell::new(None);
    let report = runtime()?.block_on(client.relocate_observed(prefix, &list, source, &options, |so_far| {
        let (relocated, failed) = seen.get();
        for r in &so_far.relocated[relocated..] {
            if cli.flags.json {
                outln!(
                    "{}",
                    serde_json::json!({"original": r.original, "relocated": r.relocated.to_string(), "digest": r.digest.to_string()})
                );
            } else {
                outln!("relocated {} to {} with content digest {}", r.original, r.relocated, r.digest);
            }
        }
        for (original, e) in &so_far.failed[failed..] {
            if cli.flags.json {
                outln!("{}", serde_json::json!({"original": original, "error": e.to_string()}));
            }
            errln!("irel: failed to relocate {original}: {e}");
        }
        if let (Some(path), true) = (mapping_output, so_far.relocated.len() > relocated) {
            if let Err(e) = so_far.write_mapping(path) {
                mapping_error.replace(Some(e));
            }
        }
        seen.set((so_far.relocated.len(), so_far.failed.len()));
    }));
    if let Some(e) = mapping_error.into_inner() {
        return Err(e.into());
    }
    if let Some(path) = mapping_output {
        report.write_mapping(path)?;
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "{} of {} images were not relocated",
            report.failed.len(),
            list.len()
        )))
    }
}

fn credential(flag: &str, value: &str) -> Result<irel::auth::Credential, Failure> {
    let (username, password) = value
        .split_once(':')
        .ok_or_else(|| Failure::usage(format!("{flag}: expected USER:PASSWORD")))?;
    Ok(irel::auth::Credential::Basic {
        username: username.into(),
        password: password.into(),
    })
}

fn registry_host(endpoint: &irel::sync::Endpoint) -> Option<String> {
    let irel::sync::Endpoint::Registry(text) = endpoint else {
        return None;
    };
    let first = text.split('/').next().unwrap_or_default();
    let is_host = first.contains(['.', ':']) || first == "localhost";
    // As references read it: `busybox` and `library/busybox` are Docker Hub's.
    Some(match text.parse::<Reference>() {
        Ok(r) if !is_host || text.contains('/') => r.registry().to_string(),
        _ => first.to_string(),
    })
}

/// What `irel sync` was asked: the source (a location, a source file or tasks), the
/// destination, and how names and failures go.
struct SyncRequest {
    endpoints: Vec<irel::sync::Endpoint>,
    yaml: Option<PathBuf>,
    /// skopeo's spelling (`--src`/`--dest`): skopeo's naming default, no image directory
    /// overwritten, stop at the first failure unless --keep-going.
    skopeo: bool,
}

/// Reads the locations as irel's spelling (`docker://…`, `dir:…`) or skopeo's (`--src T --dest T`
/// with bare locations).
fn sync_request(args: &SyncArgs) -> Result<SyncRequest, Failure> {
    use irel::sync::Endpoint;
    let sk = &args.skopeo;
    if let Some((flag, why)) = sk.refused.first() {
        return Err(Failure::usage(format!(
            "sync {flag}: irel does not take this skopeo flag: {why}"
        )));
    }
    match (sk.src, sk.dest) {
        (None, None) => {}
        (Some(_), None) => {
            return Err(Failure::usage(
                "sync --src: give --dest docker|dir too (skopeo's spelling names both transports)",
            ))
        }
        (None, Some(_)) => {
            return Err(Failure::usage(
                "sync --dest: give --src docker|dir|yaml too (skopeo's spelling names both transports)",
            ))
        }
        (Some(src), Some(dest)) => {
            if args.config.is_some() || args.source_yaml.is_some() {
                return Err(Failure::usage(
                    "sync --src/--dest: --config and --source-yaml are irel's spelling; with skopeo's, write --src yaml FILE DST",
                ));
            }
            if args.locations.len() != 2 {
                return Err(Failure::usage(format!(
                    "sync --src/--dest: exactly two arguments expected (SRC DST), got {}",
                    args.locations.len()
                )));
            }
            let destination = skopeo::destination_endpoint(dest, &args.locations[1]).ok_or_else(|| {
                Failure::usage("sync --dest oci: irel reads OCI layouts as a sync source only; sync to docker or dir")
            })?;
            if src == skopeo::SrcTransport::Dir && dest == skopeo::DestTransport::Dir {
                return Err(Failure::usage(
                    "sync from 'dir' to 'dir' is not a sync: copy the directory tree instead (cp -r, rsync)",
                ));
            }
            let (endpoints, yaml) = match skopeo::source_endpoint(src, &args.locations[0]) {
                Some(source) => (vec![source, destination], None),
                None => (vec![destination], Some(PathBuf::from(&args.locations[0]))),
            };
            return Ok(SyncRequest {
                endpoints,
                yaml,
                skopeo: true,
            });
        }
    }
    let wanted = match (&args.config, &args.source_yaml) {
        (Some(_), _) => 0,
        (None, Some(_)) => 1,
        (None, None) => 2,
    };
    if args.locations.len() != wanted {
        return Err(Failure::usage(format!(
            "sync: expected {}, got {} location(s)",
            ["no SRC/DST with --config", "only DST with --source-yaml", "SRC and DST"][wanted],
            args.locations.len()
        )));
    }
    let endpoints = args
        .locations
        .iter()
        .map(|l| l.parse::<Endpoint>().map_err(|e| Failure::usage(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SyncRequest {
        endpoints,
        yaml: args.source_yaml.clone(),
        skopeo: false,
    })
}

/// What a sync's locations get wrong, refused before any request: a whole registry as the
/// source (Docker's rules would read `HOST:PORT` as an image on Docker Hub), and a tag on the
/// destination (images keep their own tags there).
fn check_sync_locations(request: &SyncRequest) -> Result<(), Failure> {
    use irel::sync::Endpoint;
    let n = request.endpoints.len();
    for (i, endpoint) in request.endpoints.iter().enumerate() {
        let Endpoint::Registry(text) = endpoint else { continue };
        let is_destination = i + 1 == n && (n == 2 || request.yaml.is_some());
        if is_destination {
            let path = text.split_once('/').map(|(_, p)| p).unwrap_or_default();
            if path
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':') || last.contains('@'))
            {
                return Err(Failure::usage(format!(
                    "sync destination docker://{text}: a destination is a registry and a namespace \
                     (docker://HOST[/NAMESPACE]); the images keep their own tags there, so drop the tag"
                )));
            }
        } else if text
            .parse::<Reference>()
            .is_ok_and(|r| bare_registry_advice(text, &r).is_some())
        {
            return Err(Failure::usage(format!(
                "sync source docker://{text}: a whole registry is not a sync source; name a repository \
                 (docker://{text}/REPOSITORY[:TAG]), or pick repositories from its catalog with --config"
            )));
        }
    }
    Ok(())
}

fn run_sync(cli: &Cli, args: &SyncArgs) -> Result<(), Failure> {
    use irel::sync::{Naming, SourceDefaults, SourceYaml, SyncPlan, Target};
    let request = sync_request(args)?;
    if let Some(path) = &args.config {
        return dregsy::run_config(cli, args, path);
    }
    check_sync_locations(&request)?;
    let endpoints = &request.endpoints;
    let sk = &args.skopeo;
    let mut builder = base_builder(cli)?;
    let mut creds = irel::auth::StaticCredentials::default();
    let (src_host, dst_host) = match (endpoints.len(), &request.yaml) {
        (2, _) => (registry_host(&endpoints[0]), registry_host(&endpoints[1])),
        (1, Some(_)) => (None, registry_host(&endpoints[0])),
        _ => (None, None),
    };
    let src_credential = skopeo::side_credential(
        "src",
        args.src_creds.as_deref(),
        sk.src_username.as_deref(),
        sk.src_password.as_deref(),
        sk.src_registry_token.as_deref(),
    )
    .map_err(Failure::usage)?;
    let dest_credential = skopeo::side_credential(
        "dest",
        args.dest_creds.as_deref(),
        sk.dest_username.as_deref(),
        sk.dest_password.as_deref(),
        sk.dest_registry_token.as_deref(),
    )
    .map_err(Failure::usage)?;
    let src_verify = args.src_tls_verify.or(sk.tls_verify);
    let dest_verify = args.dest_tls_verify.or(sk.tls_verify);
    let sides = [
        (
            &src_host,
            &src_credential,
            src_verify,
            &args.src_cert_dir,
            "--src-cert-dir",
        ),
        (
            &dst_host,
            &dest_credential,
            dest_verify,
            &args.dest_cert_dir,
            "--dest-cert-dir",
        ),
    ];
    for (host, credential, verify, cert_dir, cert_flag) in sides {
        let Some(host) = host else {
            if cert_dir.is_some() && request.yaml.is_some() && cert_flag == "--src-cert-dir" {
                errln!("irel: warning: {cert_flag} does not apply to a source file's registries (as in skopeo); give each registry its cert-dir");
            }
            continue;
        };
        if let Some(dir) = cert_dir {
            builder = builder.cert_dir(host, dir)?;
        }
        match verify {
            Some(false) => builder = builder.insecure_registry(host),
            Some(true) => builder = builder.secure_registry(host),
            None => {}
        }
        if let Some(c) = credential {
            creds.insert(host, c.clone());
        }
    }
    for path in [&sk.src_authfile, &sk.dest_authfile].into_iter().flatten() {
        builder = builder.credentials(irel::auth::ContainersAuth::load(path)?);
    }
    let yaml = request.yaml.as_deref().map(SourceYaml::load).transpose()?;
    if let Some(y) = &yaml {
        let defaults = SourceDefaults {
            tls_verify: src_verify,
            credential: src_credential.clone(),
        };
        let (b, yaml_creds) = y.configure(builder, &defaults)?;
        builder = b.credentials(yaml_creds);
    }
    // --creds: for the registries the command names (both sides), where no side's flag gave one.
    if let Some(c) = &cli.flags.creds {
        for (host, side) in [(&src_host, &src_credential), (&dst_host, &dest_credential)] {
            if let (Some(host), None) = (host, side) {
                if creds.credential(host).is_none() {
                    creds.insert(host, credential("--creds", c)?);
                }
            }
        }
    }
    let client = finish_client(cli, builder.credentials(creds))?;
    let naming = match (sk.scoped, args.no_scope, request.skopeo) {
        (true, _, _) => Naming::Scoped,
        (_, true, _) | (_, _, true) => Naming::Base,
        _ => Naming::HostScoped,
    };
    let destination = endpoints.last().cloned();
    let target = || -> Result<Target, irel::Error> {
        let endpoint = destination.clone().expect("a destination unless --config");
        let mut t = Target::new(endpoint)?;
        if request.skopeo {
            t = t.refusing_existing_dirs();
        }
        if let Some(suffix) = &sk.append_suffix {
            t = t.with_tag_suffix(suffix);
        }
        Ok(t)
    };
    let rt = runtime()?;
    let plan = rt.block_on(async {
        match &yaml {
            Some(y) => SyncPlan::from_yaml(&client, y, &target()?, naming).await,
            None => SyncPlan::from_endpoint(&client, &endpoints[0], &target()?, naming).await,
        }
    })?;
    for w in &plan.warnings {
        errln!("irel: warning: {w}");
    }
    let mut plan = plan;
    if args.referrers {
        plan.skip_referrer_indexes();
    }
    let dir = |p: &irel::sync::Place| matches!(p, irel::sync::Place::Dir(_));
    if let Some(item) = plan
        .items
        .iter()
        .find(|i| args.referrers && (dir(&i.source) || dir(&i.destination)))
    {
        return Err(Failure::new(format!(
            "sync --referrers: a dir: tree holds no referrers ({} -> {}); drop --referrers, or use oci: layouts",
            item.from, item.to
        )));
    }
    if args.dry_run && cli.flags.json {
        for item in &plan.items {
            outln!(
                "{}",
                serde_json::json!({"from": item.from, "to": item.to, "outcome": "planned"})
            );
        }
        outln!(
            "{}",
            serde_json::json!({"summary": {"planned": plan.items.len(), "invalid_names": plan.invalid_names, "dry_run": true}})
        );
        return Ok(());
    }
    if args.dry_run {
        for item in &plan.items {
            outln!("{} -> {}", item.from, item.to);
        }
        match plan.invalid_names {
            0 => outln!("sync (dry run): {} images", plan.items.len()),
            n => outln!("sync (dry run): {} images, {n} invalid names skipped", plan.items.len()),
        }
        if request.skopeo {
            // skopeo's own summary, for scripts that read it.
            outln!(
                "Would have synced {} images from {} sources",
                plan.items.len(),
                plan.sources
            );
        }
        return Ok(());
    }
    let keep_going = !request.skopeo || sk.keep_going;
    let options = copy_options(cli).referrers(args.referrers);
    let report = rt.block_on(
        client.sync_observed(&plan, args.jobs, &options, keep_going, |item, outcome| {
            report_sync_item(cli, &item.from, &item.to, outcome)
        }),
    );
    report_sync(cli, &plan, &report);
    if let Some(path) = &sk.digestfile {
        write_digestfile(path, &report)?;
    }
    if report.failed() > 0 {
        let stopped = match report.not_run() {
            0 => String::new(),
            n => format!("; stopped at the first failure, {n} not tried (--keep-going goes on past failures)"),
        };
        return Err(Failure::new(format!(
            "{} of {} images failed to sync{stopped}",
            report.failed(),
            report.items.len()
        )));
    }
    Ok(())
}

/// One image's line, printed as it ends.
fn report_sync_item(cli: &Cli, from: &str, to: &str, outcome: &irel::sync::ItemOutcome) {
    use irel::sync::ItemOutcome;
    if cli.flags.json {
        let line = match outcome {
            ItemOutcome::Copied(r) => serde_json::json!({"from": from, "to": to, "outcome": "copied", "report": r}),
            ItemOutcome::Skipped(r) => serde_json::json!({"from": from, "to": to, "outcome": "skipped", "report": r}),
            ItemOutcome::Failed(e) => {
                serde_json::json!({"from": from, "to": to, "outcome": "failed", "error": e.to_string()})
            }
            ItemOutcome::NotRun => serde_json::json!({"from": from, "to": to, "outcome": "not-run"}),
        };
        outln!("{line}");
        return;
    }
    match outcome {
        ItemOutcome::Copied(r) => outln!(
            "copied {from} to {to} with content digest {}",
            r.digest.as_ref().map(|d| d.to_string()).unwrap_or_default()
        ),
        ItemOutcome::Skipped(_) => outln!("skipped {from}: {to} is up to date"),
        ItemOutcome::Failed(e) => errln!("irel: failed to sync {from} to {to}: {e}"),
        ItemOutcome::NotRun => {}
    }
}

/// The summary line after every image has reported.
fn report_sync(cli: &Cli, plan: &irel::sync::SyncPlan, report: &irel::sync::SyncReport) {
    let not_run = match report.not_run() {
        0 => String::new(),
        n => format!(", {n} not tried"),
    };
    if cli.flags.json {
        outln!(
            "{}",
            serde_json::json!({"summary": {"copied": report.copied(), "skipped": report.skipped(),
                "failed": report.failed(), "not_run": report.not_run(), "bytes": report.bytes(),
                "invalid_names": plan.invalid_names}})
        );
    } else {
        let invalid = match plan.invalid_names {
            0 => String::new(),
            n => format!(", {n} invalid names skipped"),
        };
        outln!(
            "sync: {} copied, {} skipped, {} failed, {} transferred{invalid}{not_run}",
            report.copied(),
            report.skipped(),
            report.failed(),
            output::shown_bytes(report.bytes())
        );
    }
}

/// skopeo's `--digestfile`: `DIGEST TRANSPORT:DESTINATION` for each image copied or already
/// there, the file written anew.
fn write_digestfile(path: &std::path::Path, report: &irel::sync::SyncReport) -> Result<(), Failure> {
    use irel::sync::ItemOutcome;
    let mut text = String::new();
    for (_, to, outcome) in &report.items {
        if let ItemOutcome::Copied(r) | ItemOutcome::Skipped(r) = outcome {
            if let Some(d) = &r.digest {
                text += &format!("{d} {to}\n");
            }
        }
    }
    std::fs::write(path, text).map_err(|e| Failure::new(format!("--digestfile {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_takes_host_addr_and_curls_host_port_addr() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(parse_resolve("registry.lab:127.0.0.1"), Some(("registry.lab", v4)));
        assert_eq!(parse_resolve("registry.lab:5000:127.0.0.1"), Some(("registry.lab", v4)));
        assert_eq!(parse_resolve("registry.lab:[::1]"), Some(("registry.lab", v6)));
        assert_eq!(parse_resolve("registry.lab:443:[::1]"), Some(("registry.lab", v6)));
        assert_eq!(parse_resolve("registry.lab"), None);
        assert_eq!(parse_resolve(":127.0.0.1"), None);
        assert_eq!(parse_resolve("registry.lab:5000:not-an-ip"), None);
    }

    #[test]
    fn counts_of_zero_are_refused() {
        assert_eq!(at_least_one("3"), Ok(3));
        assert!(at_least_one("0").is_err() && at_least_one("x").is_err());
    }
}

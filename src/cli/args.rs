//! The command line's grammar: every command, its operands and the flags it offers, as clap
//! reads them. Flags shared by several commands come in groups ([`super::flags`]); skopeo's sync
//! flags sit with the sync command, which honours or refuses each of them. Nothing here runs.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::commands::sync::skopeo;
use super::flags::{Chosen, Connection, Groups, Json, Quiet, Remote};

#[derive(Parser)]
#[command(
    name = "irel",
    version,
    about = "Relocate container images between registries, keeping their digests",
    after_help = "Flags such as --insecure-registry, --creds, --json or --timeout belong to the commands that\nuse them (`irel COMMAND --help` lists them); given before the command they work the same.\n\nExamples:\n  irel copy registry.example.com/app:1.0 localhost:5000/app:1.0\n  irel digest localhost:5000/app:1.0\n  irel map -r registry.internal/acme docker.io/istio/proxyv2:1.2\n  irel copy --platform linux/arm64 quay.io/team/app:1 localhost:5000/app:1-arm64\n  irel sync docker://registry.example.com/team/app docker://mirror.internal/team\n  irel inspect --json registry.example.com/team/app:1\n\nCredentials: --creds/--src-creds/--dest-creds, --authfile, docker's config.json (credHelpers,\ncredsStore, auths), containers auth.json. Certificates: --ca-cert-path, certs.d directories.\n\nExit codes: 0 success, 1 failure (one line on stderr), 2 usage error, 130 interrupted."
)]
pub(super) struct Args {
    // Flags given before the command (`irel --insecure-registry lab:5000 copy …`, as with Go
    // irel): taken as if given after it, when the command offers them (hidden here: each
    // command's help lists its own).
    #[command(flatten)]
    pub(super) remote: Remote,
    #[command(flatten)]
    pub(super) json: Json,
    #[command(flatten)]
    pub(super) quiet: Quiet,
    // skopeo's global flags, so that `skopeo --insecure-policy sync …` runs as `irel …`.
    #[command(flatten)]
    pub(super) skopeo: skopeo::SkopeoGlobals,
    #[command(subcommand)]
    pub(super) command: Command,
}

/// The command, and the flags it was given (defaults for the rest).
pub(super) struct Cli {
    pub(super) flags: Chosen,
    pub(super) command: Command,
}

#[derive(Subcommand)]
pub(super) enum Command {
    /// Copy an image or multi-arch index to another repository, preserving its digest.
    #[command(
        visible_alias = "cp",
        after_help = "Examples:\n  irel copy registry.example.com/team/app:1.2 lab:5000/team/app:1.2 --insecure-registry lab:5000\n  irel copy --src-creds robot:$TOKEN private.example/app@sha256:… localhost:5000/app:pinned\n  irel copy --platform linux/arm64/v8 docker.io/library/busybox:1.36 localhost:5000/busybox:arm64\n  irel copy --json SRC DST    # the copy report as JSON"
    )]
    Copy(CopyArgs),
    /// Print the digest of an image's manifest (fetched and hashed: the content's digest).
    #[command(
        visible_alias = "dig",
        after_help = "Examples:\n  irel digest registry.example.com/team/app:1.2\n  irel digest --unverified docker.io/library/busybox:1.36   # a HEAD only: the registry's word"
    )]
    Digest(DigestArgs),
    /// Work with OCI image layouts (Go irel's layout commands).
    #[command(subcommand)]
    Layout(LayoutCommand),
    /// Write a thick bundle: images (every platform) in an OCI layout inside a .tar.gz.
    #[command(after_help = "Example:\n  irel save -o bundle.tgz --images images.txt")]
    Save(SaveArgs),
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
    Bench(BenchArgs),
    /// List a repository's tags (every page).
    #[command(
        after_help = "Examples:\n  irel tags registry.example.com/team/app\n  irel tags --json localhost:5000/team/app"
    )]
    Tags(TagsArgs),
    /// List a registry's repositories (every page of /v2/_catalog).
    #[command(after_help = "Examples:\n  irel catalog localhost:5000\n  irel catalog --json registry.example.com")]
    Catalog(CatalogArgs),
    /// Print an image's manifest, byte for byte.
    #[command(
        after_help = "Examples:\n  irel manifest registry.example.com/team/app:1.2 | jq .\n  irel manifest --platform linux/arm64 docker.io/library/busybox:1.36"
    )]
    Manifest(ManifestArgs),
    /// List an image's referrers: the signatures, SBOMs and attestations that name it.
    #[command(
        after_help = "Examples:\n  irel referrers registry.example.com/team/app:1.2\n  irel referrers --artifact-type application/spdx+json registry.example.com/team/app@sha256:…"
    )]
    Referrers(ReferrersArgs),
    /// Show an image's digest, media type, platforms and sizes.
    #[command(
        after_help = "Examples:\n  irel inspect registry.example.com/team/app:1.2\n  irel inspect --json localhost:5000/team/app@sha256:…"
    )]
    Inspect(InspectArgs),
    /// Check credentials against a registry and save them in docker's config.json (0600).
    #[command(after_help = "Example:\n  echo \"$TOKEN\" | irel login registry.example.com -u robot --password-stdin")]
    Login(LoginArgs),
    /// Remove a registry's saved credentials.
    #[command(after_help = "Example:\n  irel logout registry.example.com")]
    Logout(LogoutArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  irel completions bash > ~/.local/share/bash-completion/completions/irel\n  irel completions zsh > \"${fpath[1]}/_irel\""
    )]
    Completions(CompletionsArgs),
    /// Print where an image goes when relocated under a repository prefix.
    #[command(
        after_help = "Examples:\n  irel map -r registry.internal/acme docker.io/istio/proxyv2:1.2\n  irel map --json -r registry.internal/acme busybox"
    )]
    Map(MapArgs),
}

impl Command {
    /// The flag groups this command offers, as given.
    pub(super) fn groups(&self) -> Groups<'_> {
        match self {
            Command::Copy(CopyArgs {
                remote, json, quiet, ..
            })
            | Command::Save(SaveArgs {
                remote, json, quiet, ..
            })
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
            Command::Digest(DigestArgs { remote, json, .. })
            | Command::Tags(TagsArgs { remote, json, .. })
            | Command::Catalog(CatalogArgs { remote, json, .. })
            | Command::Referrers(ReferrersArgs { remote, json, .. })
            | Command::Inspect(InspectArgs { remote, json, .. }) => Groups::remote(remote).json(json),
            Command::Bench(args) => args.groups(),
            Command::Manifest(ManifestArgs { remote, .. }) => Groups::remote(remote),
            Command::Login(LoginArgs { connection, .. }) => Groups {
                connection: Some(connection),
                ..Default::default()
            },
            Command::Map(MapArgs { json, .. }) | Command::Layout(LayoutCommand::Find { json, .. }) => {
                Groups::default().json(json)
            }
            Command::Logout(_) | Command::Completions(_) => Groups::default(),
        }
    }
}

#[derive(clap::Args)]
pub(super) struct CopyArgs {
    /// The image to copy.
    pub(super) source: String,
    /// Where to copy it (its tag is kept; default tag latest).
    pub(super) destination: String,
    /// Blobs transferred at once.
    #[arg(long, default_value_t = 4, value_parser = at_least_one)]
    pub(super) concurrency: usize,
    /// Credentials for the source registry.
    #[arg(long, value_name = "USER:PASSWORD")]
    pub(super) src_creds: Option<String>,
    /// Credentials for the destination registry.
    #[arg(long, value_name = "USER:PASSWORD")]
    pub(super) dest_creds: Option<String>,
    /// Copy only this platform's image of an index (os/arch[/variant]).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub(super) platform: Option<irel::manifest::Platform>,
    /// Copy the image's referrers too (signatures, SBOMs, attestations), before its tag.
    #[arg(long)]
    pub(super) referrers: bool,
    #[command(flatten)]
    pub(super) remote: Remote,
    #[command(flatten)]
    pub(super) json: Json,
    #[command(flatten)]
    pub(super) quiet: Quiet,
}

#[derive(clap::Args)]
pub(super) struct DigestArgs {
    /// The image.
    pub(super) reference: String,
    /// Print the digest the registry announces for a HEAD, without fetching and hashing the
    /// manifest: the registry's word, unverified (Docker Hub counts GETs, not HEADs, against
    /// its pull limit).
    #[arg(long)]
    pub(super) unverified: bool,
    #[command(flatten)]
    pub(super) remote: Remote,
    #[command(flatten)]
    pub(super) json: Json,
}

#[derive(Subcommand)]
pub(super) enum LayoutCommand {
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

#[derive(clap::Args)]
pub(super) struct SaveArgs {
    /// The archive to write.
    #[arg(short, long, value_name = "BUNDLE.tgz")]
    pub(super) output: PathBuf,
    /// Images to save.
    pub(super) images: Vec<String>,
    /// A file with one image per line (# comments allowed).
    #[arg(long = "images", value_name = "FILE")]
    pub(super) images_file: Option<PathBuf>,
    /// Save the images' referrers too (signatures, SBOMs, attestations).
    #[arg(long)]
    pub(super) referrers: bool,
    #[command(flatten)]
    pub(super) remote: Remote,
    #[command(flatten)]
    pub(super) json: Json,
    #[command(flatten)]
    pub(super) quiet: Quiet,
}

#[derive(clap::Args)]
pub(super) struct RelocateArgs {
    /// The repository prefix, e.g. registry.internal/acme.
    #[arg(short = 'r', long = "repository-prefix", value_name = "PREFIX")]
    pub(super) repository_prefix: String,
    /// Images to relocate (from a bundle: default every image in it).
    pub(super) images: Vec<String>,
    /// A file with one image per line (# comments allowed).
    #[arg(long = "images", value_name = "FILE")]
    pub(super) images_file: Option<PathBuf>,
    /// Relocate from this bundle archive (.tar.gz or .tar) instead of the registries.
    #[arg(long, value_name = "BUNDLE", conflicts_with = "layout")]
    pub(super) archive: Option<PathBuf>,
    /// Relocate from this OCI image layout instead of the registries.
    #[arg(long, value_name = "DIR")]
    pub(super) layout: Option<PathBuf>,
    /// Write the relocation mapping (original → relocated, JSON) here.
    #[arg(long, value_name = "FILE")]
    pub(super) mapping_output: Option<PathBuf>,
    /// Copy each image's referrers too (signatures, SBOMs, attestations; from a bundle, those
    /// it holds).
    #[arg(long)]
    pub(super) referrers: bool,
    #[command(flatten)]
    pub(super) remote: Remote,
    #[command(flatten)]
    pub(super) json: Json,
    #[command(flatten)]
    pub(super) quiet: Quiet,
}

#[derive(clap::Args)]
pub(super) struct SyncArgs {
    /// SRC DST (docker://HOST/REPO[:TAG], dir:PATH, oci:PATH → docker://HOST[/NS], dir:PATH); with
    /// --source-yaml only DST; with --config none; with --src/--dest bare locations, as skopeo.
    pub(super) locations: Vec<String>,
    /// skopeo's YAML list of registries and images to sync.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    pub(super) source_yaml: Option<PathBuf>,
    /// Sync tasks (dregsy style: catalog lister, regex mappings, tag filters).
    #[arg(long, value_name = "FILE.yaml")]
    pub(super) config: Option<PathBuf>,
    /// With --config: run each task once, even those with an interval.
    #[arg(long, requires = "config")]
    pub(super) once: bool,
    /// With --config: run only the tasks whose name matches (dregsy's -run: anchored, !
    /// inverts); all are validated.
    #[arg(long = "run", value_name = "TASK-REGEX", requires = "config")]
    pub(super) run_tasks: Option<String>,
    /// skopeo's unscoped names: keep only the last component of the source's path (DST/app).
    #[arg(long)]
    pub(super) no_scope: bool,
    /// Credentials for the source registry (for each registry of a source file without its own).
    #[arg(long, value_name = "USER:PASSWORD", alias = "screds")]
    pub(super) src_creds: Option<String>,
    /// Credentials for the destination registry.
    #[arg(long, value_name = "USER:PASSWORD", alias = "dcreds")]
    pub(super) dest_creds: Option<String>,
    /// false: allow plain http and unverified TLS for the source registry (and a source file's
    /// registries without tls-verify); true: https only, even on loopback.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub(super) src_tls_verify: Option<bool>,
    /// false: allow plain http and unverified TLS for the destination registry; true: https
    /// only, even on loopback.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub(super) dest_tls_verify: Option<bool>,
    /// Trust the *.crt CA certificates in this directory for the source.
    #[arg(long, value_name = "DIR")]
    pub(super) src_cert_dir: Option<PathBuf>,
    /// Trust the *.crt CA certificates in this directory for the destination.
    #[arg(long, value_name = "DIR")]
    pub(super) dest_cert_dir: Option<PathBuf>,
    /// Print what would be copied, and copy nothing.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// Images copied at once.
    #[arg(long, default_value_t = 8, value_parser = at_least_one)]
    pub(super) jobs: usize,
    /// Copy each image's referrers too (signatures, SBOMs, attestations); registry to registry.
    #[arg(long)]
    pub(super) referrers: bool,
    #[command(flatten)]
    pub(super) skopeo: Box<skopeo::SkopeoSync>,
    #[command(flatten)]
    pub(super) remote: Remote,
    #[command(flatten)]
    pub(super) json: Json,
    #[command(flatten)]
    pub(super) quiet: Quiet,
}

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  irel bench push --size 1GiB --layers 4 localhost:5000/bench/img:1\n  irel bench pull localhost:5000/bench/img:1\n  irel bench copy --json localhost:5000/bench/img:1 localhost:5001/bench/img:1\n\nPush generates random layers on the fly (nothing on disk; the same --seed gives the same\ndigest); pull verifies every blob and discards it; copy is irel copy. Latencies are per blob,\nfrom the presence check to the blob being in place. CPU and peak memory are this process's."
)]
pub(super) struct BenchArgs {
    #[command(subcommand)]
    pub(super) what: BenchCommand,
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

#[derive(Subcommand)]
pub(super) enum BenchCommand {
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

#[derive(clap::Args)]
pub(super) struct Shape {
    /// Total layer size: bytes, or with a unit (KiB, MiB, GiB, KB, MB, GB; K, M, G are binary).
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    pub(super) size: u64,
    /// Number of layers the size is split into (1 or more).
    #[arg(long, default_value_t = 4, value_parser = at_least_one)]
    pub(super) layers: usize,
    /// Seed of the random data (same seed, same image).
    #[arg(long, default_value_t = 1)]
    pub(super) seed: u64,
}

#[derive(clap::Args)]
pub(super) struct RunFlags {
    /// Blobs in flight at once.
    #[arg(long, default_value_t = 4, value_parser = at_least_one)]
    pub(super) concurrency: usize,
    #[command(flatten)]
    pub(super) remote: Remote,
    #[command(flatten)]
    pub(super) json: Json,
}

#[derive(clap::Args)]
pub(super) struct TagsArgs {
    /// The repository, e.g. registry.example.com/team/app.
    pub(super) repository: String,
    #[command(flatten)]
    pub(super) remote: Remote,
    #[command(flatten)]
    pub(super) json: Json,
}

#[derive(clap::Args)]
pub(super) struct CatalogArgs {
    /// The registry, e.g. registry.example.com or localhost:5000.
    pub(super) registry: String,
    #[command(flatten)]
    pub(super) remote: Remote,
    #[command(flatten)]
    pub(super) json: Json,
}

#[derive(clap::Args)]
pub(super) struct ManifestArgs {
    /// The image.
    pub(super) reference: String,
    /// For an index: the manifest of this platform's image (os/arch[/variant]).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub(super) platform: Option<irel::manifest::Platform>,
    #[command(flatten)]
    pub(super) remote: Remote,
}

#[derive(clap::Args)]
pub(super) struct ReferrersArgs {
    /// The image.
    pub(super) reference: String,
    /// Only referrers of this artifact type.
    #[arg(long, value_name = "MEDIA_TYPE")]
    pub(super) artifact_type: Option<String>,
    #[command(flatten)]
    pub(super) remote: Remote,
    #[command(flatten)]
    pub(super) json: Json,
}

#[derive(clap::Args)]
pub(super) struct InspectArgs {
    /// The image.
    pub(super) reference: String,
    #[command(flatten)]
    pub(super) remote: Remote,
    #[command(flatten)]
    pub(super) json: Json,
}

#[derive(clap::Args)]
pub(super) struct LoginArgs {
    /// The registry.
    pub(super) registry: String,
    /// The user name.
    #[arg(short, long)]
    pub(super) username: String,
    /// The password (prefer --password-stdin: arguments are visible to other users).
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub(super) password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    pub(super) password_stdin: bool,
    #[command(flatten)]
    pub(super) connection: Connection,
}

#[derive(clap::Args)]
pub(super) struct LogoutArgs {
    /// The registry.
    pub(super) registry: String,
}

#[derive(clap::Args)]
pub(super) struct CompletionsArgs {
    /// The shell.
    pub(super) shell: clap_complete::Shell,
}

#[derive(clap::Args)]
pub(super) struct MapArgs {
    /// The repository prefix, e.g. registry.internal/acme.
    #[arg(short = 'r', long = "repository-prefix", value_name = "PREFIX")]
    pub(super) repository_prefix: String,
    /// The image.
    pub(super) reference: String,
    #[command(flatten)]
    pub(super) json: Json,
}

/// A count that must be 1 or more (`--concurrency 0` would copy nothing, forever).
pub(super) fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a count (1 or more)")),
    }
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
    use super::*;

    #[test]
    fn counts_of_zero_are_refused() {
        assert_eq!(at_least_one("3"), Ok(3));
        assert!(at_least_one("0").is_err() && at_least_one("x").is_err());
    }

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

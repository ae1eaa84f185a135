//! `skopeo sync` command lines on `irel sync`: skopeo's transports (`--src docker|dir|yaml|oci`,
//! `--dest docker|dir`) with bare locations, and its other flags, each honoured or refused by
//! name. A skopeo line with `irel` in place of `skopeo` gives skopeo's mirror.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use irel::auth::Credential;
use irel::sync::Endpoint;

/// A skopeo sync source transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SrcTransport {
    /// A registry repository or image.
    Docker,
    /// A tree of skopeo image directories (or one).
    Dir,
    /// A skopeo YAML source file.
    Yaml,
    /// An OCI image layout.
    Oci,
}

/// A skopeo sync destination transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum DestTransport {
    /// A registry (and namespace).
    Docker,
    /// A directory of skopeo image directories.
    Dir,
    /// An OCI image layout (skopeo 1.21+): refused, irel reads OCI layouts only as a source.
    Oci,
}

/// skopeo sync's own flags, as `irel sync` takes them.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct SkopeoSync {
    /// skopeo's spelling: the source transport; SRC is then bare (a repository, a path, a file).
    #[arg(short = 's', long = "src", value_name = "TRANSPORT", value_enum)]
    pub src: Option<SrcTransport>,
    /// skopeo's spelling: the destination transport; DST is then bare.
    #[arg(short = 'd', long = "dest", value_name = "TRANSPORT", value_enum)]
    pub dest: Option<DestTransport>,
    /// skopeo's scoped names: the source's host and whole path under DST
    /// (DST/registry.example.com/lib/app:1.0).
    #[arg(long, conflicts_with = "no_scope")]
    pub scoped: bool,
    /// Copy every platform of an index (irel always does: digests are kept).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// With skopeo's spelling, go on after an image fails, and fail at the end (irel's own
    /// spelling always goes on).
    #[arg(long)]
    pub keep_going: bool,
    /// Keep digests (irel always does).
    #[arg(long)]
    pub preserve_digests: bool,
    /// Append this to every destination tag (skopeo's --append-suffix).
    #[arg(long, value_name = "SUFFIX", allow_hyphen_values = true)]
    pub append_suffix: Option<String>,
    /// Write `DIGEST DESTINATION` for each image copied to this file (skopeo's --digestfile).
    #[arg(long, value_name = "PATH")]
    pub digestfile: Option<PathBuf>,
    /// Copy no signatures (irel copies none of containers' signatures anyway).
    #[arg(long)]
    pub remove_signatures: bool,
    /// Source user name (with --src-password).
    #[arg(long, value_name = "USER")]
    pub src_username: Option<String>,
    /// Source password (with --src-username).
    #[arg(long, value_name = "PASSWORD")]
    pub src_password: Option<String>,
    /// Destination user name (with --dest-password).
    #[arg(long, value_name = "USER")]
    pub dest_username: Option<String>,
    /// Destination password (with --dest-username).
    #[arg(long, value_name = "PASSWORD")]
    pub dest_password: Option<String>,
    /// A bearer token for the source registry.
    #[arg(long, value_name = "TOKEN")]
    pub src_registry_token: Option<String>,
    /// A bearer token for the destination registry.
    #[arg(long, value_name = "TOKEN")]
    pub dest_registry_token: Option<String>,
    /// A containers auth.json for the source's credentials.
    #[arg(long, value_name = "PATH")]
    pub src_authfile: Option<PathBuf>,
    /// A containers auth.json for the destination's credentials.
    #[arg(long, value_name = "PATH")]
    pub dest_authfile: Option<PathBuf>,
    /// Deprecated in skopeo: both --src-tls-verify and --dest-tls-verify.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", hide = true)]
    pub tls_verify: Option<bool>,
    #[command(flatten)]
    pub refused: Refused,
}

/// skopeo sync flags irel cannot honour: given, they are refused by name.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct Refused {
    #[arg(short = 'f', long, hide = true)]
    format: Option<String>,
    #[arg(long, hide = true)]
    sign_by: Option<String>,
    #[arg(long, hide = true)]
    sign_by_sigstore: Option<String>,
    #[arg(long, hide = true)]
    sign_by_sigstore_private_key: Option<String>,
    #[arg(long, hide = true)]
    sign_by_sq_fingerprint: Option<String>,
    #[arg(long, hide = true)]
    sign_passphrase_file: Option<String>,
    #[arg(long, hide = true)]
    sign_identity: Option<String>,
    #[arg(long, hide = true)]
    retry_delay: Option<String>,
    #[arg(long, hide = true)]
    src_no_creds: bool,
    #[arg(long, hide = true)]
    dest_no_creds: bool,
    #[arg(long, hide = true)]
    dest_compress: bool,
    #[arg(long, hide = true)]
    dest_compress_format: Option<String>,
    #[arg(long, hide = true)]
    dest_compress_level: Option<String>,
    #[arg(long, hide = true)]
    dest_decompress: bool,
    #[arg(long, hide = true)]
    dest_precompute_digests: bool,
    #[arg(long, hide = true)]
    src_shared_blob_dir: Option<String>,
    #[arg(long, hide = true)]
    dest_shared_blob_dir: Option<String>,
}

impl Refused {
    /// The first flag given that irel cannot honour, with why.
    pub fn first(&self) -> Option<(&'static str, &'static str)> {
        let keeps = "irel copies manifests byte for byte, so digests never change";
        let signs = "irel does not sign images; sign them at the destination (cosign, skopeo)";
        let creds = "irel always uses the credentials it finds; give others with --src-creds/--dest-creds";
        [
            (self.format.is_some(), "--format", keeps),
            (self.sign_by.is_some(), "--sign-by", signs),
            (self.sign_by_sigstore.is_some(), "--sign-by-sigstore", signs),
            (
                self.sign_by_sigstore_private_key.is_some(),
                "--sign-by-sigstore-private-key",
                signs,
            ),
            (self.sign_by_sq_fingerprint.is_some(), "--sign-by-sq-fingerprint", signs),
            (self.sign_passphrase_file.is_some(), "--sign-passphrase-file", signs),
            (self.sign_identity.is_some(), "--sign-identity", signs),
            (
                self.retry_delay.is_some(),
                "--retry-delay",
                "irel waits between retries with its own backoff (and a registry's Retry-After); use --retry-times",
            ),
            (self.src_no_creds, "--src-no-creds", creds),
            (self.dest_no_creds, "--dest-no-creds", creds),
            (self.dest_compress, "--dest-compress", keeps),
            (self.dest_compress_format.is_some(), "--dest-compress-format", keeps),
            (self.dest_compress_level.is_some(), "--dest-compress-level", keeps),
            (self.dest_decompress, "--dest-decompress", keeps),
            (
                self.dest_precompute_digests,
                "--dest-precompute-digests",
                "irel checks blobs at the destination before it sends them anyway",
            ),
            (
                self.src_shared_blob_dir.is_some(),
                "--src-shared-blob-dir",
                "irel has no shared blob directory",
            ),
            (
                self.dest_shared_blob_dir.is_some(),
                "--dest-shared-blob-dir",
                "irel has no shared blob directory",
            ),
        ]
        .into_iter()
        .find(|(given, _, _)| *given)
        .map(|(_, flag, why)| (flag, why))
    }
}

/// skopeo's global flags, given before `sync` in a skopeo line (`skopeo --insecure-policy
/// sync …`): `--insecure-policy` is accepted (irel has no signature policy to relax); the others
/// are refused by name.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct SkopeoGlobals {
    #[arg(long, hide = true)]
    pub insecure_policy: bool,
    #[arg(long, hide = true)]
    policy: Option<String>,
    #[arg(long, hide = true)]
    override_os: Option<String>,
    #[arg(long, hide = true)]
    override_arch: Option<String>,
    #[arg(long, hide = true)]
    override_variant: Option<String>,
    #[arg(long = "registries.d", hide = true)]
    registries_d: Option<String>,
    #[arg(long, hide = true)]
    command_timeout: Option<String>,
    #[arg(long, hide = true)]
    tmpdir: Option<String>,
}

impl SkopeoGlobals {
    /// The first global flag given that irel cannot honour, with why.
    pub fn first_refused(&self) -> Option<(&'static str, &'static str)> {
        let platform = "irel copies every platform of an index, keeping its digest";
        [
            (
                self.policy.is_some(),
                "--policy",
                "irel has no signature policy; it verifies digests only",
            ),
            (self.override_os.is_some(), "--override-os", platform),
            (self.override_arch.is_some(), "--override-arch", platform),
            (self.override_variant.is_some(), "--override-variant", platform),
            (
                self.registries_d.is_some(),
                "--registries.d",
                "irel reads no lookaside signature configuration",
            ),
            (
                self.command_timeout.is_some(),
                "--command-timeout",
                "use --timeout, which bounds each stalled request",
            ),
            (
                self.tmpdir.is_some(),
                "--tmpdir",
                "irel streams blobs between registries and keeps no copies of them; set TMPDIR for where it extracts bundles",
            ),
        ]
        .into_iter()
        .find(|(given, _, _)| *given)
        .map(|(_, flag, why)| (flag, why))
    }
}

/// A bare skopeo location as an endpoint of this transport (a `docker://`/`dir:`/`oci:`
/// prefix of the same transport is tolerated).
pub(crate) fn source_endpoint(transport: SrcTransport, location: &str) -> Option<Endpoint> {
    Some(match transport {
        SrcTransport::Docker => Endpoint::Registry(bare(location, "docker://").trim_end_matches('/').to_string()),
        SrcTransport::Dir => Endpoint::Dir(bare(location, "dir:").into()),
        SrcTransport::Oci => Endpoint::Oci(bare(location, "oci:").into()),
        SrcTransport::Yaml => return None,
    })
}

/// A bare skopeo destination as an endpoint (`None` for `oci`, which irel does not write).
pub(crate) fn destination_endpoint(transport: DestTransport, location: &str) -> Option<Endpoint> {
    Some(match transport {
        DestTransport::Docker => Endpoint::Registry(bare(location, "docker://").trim_end_matches('/').to_string()),
        DestTransport::Dir => Endpoint::Dir(bare(location, "dir:").into()),
        DestTransport::Oci => return None,
    })
}

fn bare<'a>(location: &'a str, prefix: &str) -> &'a str {
    location.strip_prefix(prefix).unwrap_or(location)
}

/// One side's credential from skopeo's flags: `--X-creds USER:PASSWORD`, `--X-username` with
/// `--X-password`, or `--X-registry-token`; more than one, or half a pair, is refused as skopeo
/// refuses it.
pub(crate) fn side_credential(
    side: &str,
    creds: Option<&str>,
    username: Option<&str>,
    password: Option<&str>,
    token: Option<&str>,
) -> Result<Option<Credential>, String> {
    let flag = |name: &str| format!("--{side}-{name}");
    match (creds, username, password) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(format!(
                "{} and {}/{}: give one of them",
                flag("creds"),
                flag("username"),
                flag("password")
            ))
        }
        (None, Some(_), None) => return Err(format!("{}: give {} too", flag("username"), flag("password"))),
        (None, None, Some(_)) => return Err(format!("{}: give {} too", flag("password"), flag("username"))),
        _ => {}
    }
    let basic = match (creds, username, password) {
        (Some(c), _, _) => {
            let (u, p) = c
                .split_once(':')
                .ok_or_else(|| format!("{}: expected USER:PASSWORD", flag("creds")))?;
            Some((u.to_string(), p.to_string()))
        }
        (None, Some(u), Some(p)) => Some((u.to_string(), p.to_string())),
        _ => None,
    };
    match (basic, token) {
        (Some(_), Some(_)) => Err(format!(
            "{} and {}: give one of them",
            flag("registry-token"),
            flag("creds")
        )),
        (Some((username, password)), None) => Ok(Some(Credential::Basic { username, password })),
        (None, Some(t)) => Ok(Some(Credential::RegistryToken(t.to_string()))),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_credentials_as_skopeo_checks_them() {
        assert!(matches!(
            side_credential("src", Some("u:p"), None, None, None),
            Ok(Some(Credential::Basic { .. }))
        ));
        assert!(matches!(
            side_credential("src", None, Some("u"), Some("p"), None),
            Ok(Some(Credential::Basic { .. }))
        ));
        assert!(matches!(
            side_credential("dest", None, None, None, Some("t")),
            Ok(Some(Credential::RegistryToken(_)))
        ));
        assert!(side_credential("src", Some("u:p"), Some("u"), None, None).is_err());
        assert!(side_credential("src", None, Some("u"), None, None).is_err());
        assert!(side_credential("src", Some("u:p"), None, None, Some("t")).is_err());
        assert!(side_credential("src", Some("nopassword"), None, None, None).is_err());
    }

    #[test]
    fn bare_locations_become_endpoints() {
        assert_eq!(
            source_endpoint(SrcTransport::Docker, "registry.example/busybox"),
            Some(Endpoint::Registry("registry.example/busybox".into()))
        );
        assert_eq!(
            destination_endpoint(DestTransport::Docker, "my-registry.local.lan/test/"),
            Some(Endpoint::Registry("my-registry.local.lan/test".into()))
        );
        assert_eq!(
            destination_endpoint(DestTransport::Dir, "/media/usb"),
            Some(Endpoint::Dir("/media/usb".into()))
        );
        assert_eq!(destination_endpoint(DestTransport::Oci, "/x"), None);
    }
}

//! The [`irel::Client`] a command works with, assembled from its flags and the system's
//! configuration: certificates (`certs.d`, `--ca-cert-path`), `registries.conf`, `--resolve`,
//! timeouts and retries, and credentials from the command line first, then `--authfile`,
//! docker's config.json and the containers auth.json. Every client built here is tracked, so an
//! interrupt can wait for its upload cancellations.

use std::net::IpAddr;

use irel::auth::CredentialSource as _;
use irel::{Client, CopyOptions, Reference};

use super::{interrupt, progress, Cli, Failure};

/// A client whose `--creds` go to the registries of `named` (and nowhere else), with the
/// per-side credentials given.
pub(super) fn client_for(cli: &Cli, named: &[(&Reference, Option<&String>, &str)]) -> Result<Client, Failure> {
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
pub(super) fn base_builder(cli: &Cli) -> Result<irel::ClientBuilder, Failure> {
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
pub(super) fn finish_client(cli: &Cli, mut b: irel::ClientBuilder) -> Result<Client, Failure> {
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
pub(super) fn copy_options(cli: &Cli) -> CopyOptions {
    progress::attach(
        CopyOptions::default().retry_times(cli.flags.retry_times),
        cli.flags.quiet || cli.flags.json,
    )
}

pub(super) fn credential(flag: &str, value: &str) -> Result<irel::auth::Credential, Failure> {
    let (username, password) = value
        .split_once(':')
        .ok_or_else(|| Failure::usage(format!("{flag}: expected USER:PASSWORD")))?;
    Ok(irel::auth::Credential::Basic {
        username: username.into(),
        password: password.into(),
    })
}

/// `--resolve HOST:ADDR`, or curl's `HOST:PORT:ADDR` (the port is not needed: the address
/// serves every port of the host).
pub(super) fn parse_resolve(value: &str) -> Option<(&str, IpAddr)> {
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
}

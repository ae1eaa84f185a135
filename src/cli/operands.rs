//! What a command line names, read and checked before any work: image references (with
//! Docker's rules, and advice where those rules read something else than was meant), image
//! lists, and the paths results are written to.

use std::net::IpAddr;

use irel::Reference;

use super::Failure;

/// Parses a reference the user wrote; `what` names it in errors ("source image").
pub(super) fn parse_ref(what: &str, s: &str) -> Result<Reference, Failure> {
    let r = parse_ref_as_docker(what, s)?;
    match bare_registry_advice(s, &r) {
        Some(advice) => Err(Failure::usage(format!("{what} {s}: {advice}"))),
        None => Ok(r),
    }
}

/// `HOST:PORT` with no repository: Docker's rules read it as an image on Docker Hub
/// (`docker.io/library/HOST:PORT`), which is never what was meant.
pub(super) fn bare_registry_advice(typed: &str, r: &Reference) -> Option<String> {
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
pub(super) fn parse_ref_as_docker(what: &str, s: &str) -> Result<Reference, Failure> {
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

pub(super) fn image_list(images: &[String], file: Option<&std::path::Path>) -> Result<Vec<String>, Failure> {
    let mut list = images.to_vec();
    if let Some(f) = file {
        list.extend(irel::relocate::read_image_list(f)?);
    }
    Ok(list)
}

/// Refuses, before any work, an output path the result could not be written to: a directory,
/// or a file in a directory that does not exist.
pub(super) fn writable_output(flag: &str, path: &std::path::Path) -> Result<(), Failure> {
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

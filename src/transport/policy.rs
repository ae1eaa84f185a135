//! Which schemes and TLS checks a registry host gets.
//!
//! Plain http is never chosen silently for a host that is not loopback: the user has to name the
//! host as insecure (or pass `--skip-tls-verify`, Go irel's flag, which means both "skip TLS
//! verification" and "allow plain http"). The policy is decided from the host *name* as the user
//! wrote it, never from what it resolves to, so `bundleregistry:5001` aliased to 127.0.0.1 is not
//! loopback.

use std::net::IpAddr;

/// How irel may talk to one registry host.
///
/// ```
/// use irel::transport::{RegistryPolicy, SchemePolicy};
/// let policy = SchemePolicy::default();
/// assert_eq!(policy.for_registry("localhost:5000"), RegistryPolicy::Loopback);
/// let remote = policy.for_registry("registry.example");
/// assert_eq!(remote, RegistryPolicy::Secure);
/// assert!(!remote.allows_http() && remote.verifies_tls());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryPolicy {
    /// https with certificate verification only.
    Secure,
    /// A loopback host: https with verification first, plain http if the server speaks it.
    Loopback,
    /// A host the user marked insecure: https without verification first, then plain http.
    Insecure,
}

impl RegistryPolicy {
    /// Whether plain http may be used for this host.
    pub fn allows_http(self) -> bool {
        !matches!(self, RegistryPolicy::Secure)
    }

    /// Whether TLS certificates are verified for this host.
    pub fn verifies_tls(self) -> bool {
        !matches!(self, RegistryPolicy::Insecure)
    }
}

/// The set of hosts marked insecure, and whether every host is.
///
/// ```
/// use irel::transport::{RegistryPolicy, SchemePolicy};
/// let mut policy = SchemePolicy::default();
/// policy.add_insecure("lab.example"); // every port
/// policy.add_secure("localhost:5443"); // https with verification, loopback or not
/// assert_eq!(policy.for_registry("lab.example:5000"), RegistryPolicy::Insecure);
/// assert_eq!(policy.for_registry("localhost:5443"), RegistryPolicy::Secure);
/// ```
#[derive(Debug, Clone, Default)]
pub struct SchemePolicy {
    insecure_hosts: Vec<String>,
    secure_hosts: Vec<String>,
    all_insecure: bool,
}

impl SchemePolicy {
    /// Marks `host[:port]` insecure; without a port, every port of that host is.
    pub fn add_insecure(&mut self, host: &str) {
        self.insecure_hosts.push(host.trim().to_ascii_lowercase());
    }

    /// Marks `host[:port]` secure: https with verification only, even on a loopback host and
    /// even when every host is insecure (an explicit `tls-verify: true` in a skopeo sync file).
    /// Without a port, every port of that host is.
    pub fn add_secure(&mut self, host: &str) {
        self.secure_hosts.push(host.trim().to_ascii_lowercase());
    }

    /// Marks every host insecure (`--skip-tls-verify`).
    pub fn set_all_insecure(&mut self, all: bool) {
        self.all_insecure = all;
    }

    /// The policy for a registry given as `host[:port]`.
    pub fn for_registry(&self, registry: &str) -> RegistryPolicy {
        let registry = registry.to_ascii_lowercase();
        let (host, _) = split_host_port(&registry);
        let listed = |hosts: &[String]| hosts.iter().any(|h| *h == registry || (!has_port(h) && h == host));
        if listed(&self.secure_hosts) {
            RegistryPolicy::Secure
        } else if self.all_insecure || listed(&self.insecure_hosts) {
            RegistryPolicy::Insecure
        } else if is_loopback(host) {
            RegistryPolicy::Loopback
        } else {
            RegistryPolicy::Secure
        }
    }
}

fn has_port(h: &str) -> bool {
    split_host_port(h).1.is_some()
}

/// Splits `host[:port]`, keeping IPv6 brackets on the host.
pub(crate) fn split_host_port(registry: &str) -> (&str, Option<&str>) {
    if registry.starts_with('[') {
        match registry.find("]:") {
            Some(i) => (&registry[..=i], Some(&registry[i + 2..])),
            None => (registry, None),
        }
    } else {
        match registry.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (registry, None),
        }
    }
}

/// localhost, 127.0.0.0/8 and ::1, as Docker Engine treats them.
pub fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_may_use_http() {
        let p = SchemePolicy::default();
        for h in [
            "localhost:5000",
            "127.0.0.1:1234",
            "127.8.9.1",
            "[::1]:5000",
            "LOCALHOST",
        ] {
            assert_eq!(p.for_registry(h), RegistryPolicy::Loopback, "{h}");
        }
        for h in [
            "registry.example.com",
            "10.0.0.1:5000",
            "bundleregistry:5001",
            "localhost.example",
        ] {
            assert_eq!(p.for_registry(h), RegistryPolicy::Secure, "{h}");
        }
    }

    #[test]
    fn insecure_hosts_match_with_and_without_port() {
        let mut p = SchemePolicy::default();
        p.add_insecure("bundleregistry:5001");
        p.add_insecure("lab.example");
        assert_eq!(p.for_registry("bundleregistry:5001"), RegistryPolicy::Insecure);
        assert_eq!(p.for_registry("bundleregistry:5002"), RegistryPolicy::Secure);
        assert_eq!(p.for_registry("lab.example:443"), RegistryPolicy::Insecure);
        assert_eq!(p.for_registry("LAB.example"), RegistryPolicy::Insecure);
        assert!(RegistryPolicy::Insecure.allows_http() && !RegistryPolicy::Insecure.verifies_tls());
    }

    #[test]
    fn hosts_named_secure_get_https_only_even_on_loopback() {
        let mut p = SchemePolicy::default();
        p.add_secure("127.0.0.1:5000");
        p.set_all_insecure(true);
        assert_eq!(p.for_registry("127.0.0.1:5000"), RegistryPolicy::Secure);
        assert_eq!(p.for_registry("127.0.0.1:5001"), RegistryPolicy::Insecure);
    }

    #[test]
    fn skip_tls_verify_marks_every_host() {
        let mut p = SchemePolicy::default();
        p.set_all_insecure(true);
        assert_eq!(p.for_registry("bundleregistry:5001"), RegistryPolicy::Insecure);
        assert_eq!(p.for_registry("127.0.0.1:5000"), RegistryPolicy::Insecure);
    }
}

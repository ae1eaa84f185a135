//! rustls client configurations: the verifying one (system roots plus extra CA files) and the
//! one for hosts the user marked insecure, which accepts any certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::Error;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every PEM certificate in `path`.
pub(crate) fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bad = |reason: String| Error::CaCertificate {
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate found in it".into()));
    }
    Ok(certs)
}

/// A registry's own TLS settings, from its certs.d directory.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostTls {
    /// `*.crt`: extra roots for this registry.
    pub(crate) roots: Vec<CertificateDer<'static>>,
    /// `NAME.cert` and `NAME.key`: the client certificate and its key.
    pub(crate) client: Option<(PathBuf, PathBuf)>,
}

impl HostTls {
    /// Reads a certs.d host directory (docker's layout: `ca.crt`, `client.cert`, `client.key`).
    pub(crate) fn read(dir: &Path) -> Result<HostTls, Error> {
        let bad = |reason: String| Error::CaCertificate {
            path: dir.to_path_buf(),
            reason,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| bad(e.to_string()))?
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        let mut out = HostTls::default();
        for f in &files {
            match f.extension().and_then(|e| e.to_str()) {
                Some("crt") => out.roots.extend(read_ca_file(f)?),
                Some("cert") if out.client.is_none() => {
                    let key = f.with_extension("key");
                    if !key.exists() {
                        return Err(bad(format!("{} has no matching {}", f.display(), key.display())));
                    }
                    out.client = Some((f.clone(), key));
                }
                Some("key") if !f.with_extension("cert").exists() => {
                    return Err(bad(format!(
                        "{} has no matching {} (a client key needs its certificate)",
                        f.display(),
                        f.with_extension("cert").display()
                    )));
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// The configuration for a registry with certs.d settings: the verifying roots plus its own,
/// and its client certificate when it has one.
pub(crate) fn host_config(extra_roots: &[CertificateDer<'static>], host: &HostTls) -> Result<ClientConfig, Error> {
    let mut roots: Vec<CertificateDer<'static>> = extra_roots.to_vec();
    roots.extend(host.roots.iter().cloned());
    let Some((cert, key)) = &host.client else {
        return verifying_config(&roots);
    };
    let bad = |path: &Path, reason: String| Error::CaCertificate {
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(cert, e.to_string()))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, format!("not a PEM private key: {e}")))?;
    let store = root_store(&roots)?;
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::TlsConfig(e.to_string()))?
        .with_root_certificates(store)
        .with_client_auth_cert(chain, key_der)
        .map_err(|e| bad(cert, format!("unusable client certificate: {e}")))
}

fn root_store(extra_roots: &[CertificateDer<'static>]) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    for cert in extra_roots {
        roots.add(cert.clone()).map_err(|e| Error::CaCertificate {
            path: "<extra CA>".into(),
            reason: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// The verifying configuration: the platform's roots and `extra_roots`.
pub(crate) fn verifying_config(extra_roots: &[CertificateDer<'static>]) -> Result<ClientConfig, Error> {
    // A broken system certificate in the store should not stop clients that bring their own CA.
    let roots = root_store(extra_roots)?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::TlsConfig(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The configuration for insecure hosts: certificates are not verified, signatures still are
/// (so the handshake is a real TLS handshake, just not an authenticated one).
pub(crate) fn no_verify_config() -> Result<ClientConfig, Error> {
    let provider = provider();
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::TlsConfig(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        .with_no_client_auth();
    Ok(config)
}

#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Whether `err` (anywhere in its source chain) is rustls seeing a plain-HTTP answer to its
/// ClientHello: the server speaks http on a port we addressed as https.
pub(crate) fn is_plain_http_answer(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) =
            e.downcast_ref::<rustls::Error>()
        {
            return true;
        }
        // io::Error::source() skips the wrapped error itself, so look inside explicitly.
        if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            if is_plain_http_answer(inner) {
                return true;
            }
        }
        cur = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_certificate_or_key_alone_is_an_error_naming_the_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("client.cert"), b"x").unwrap();
        let e = HostTls::read(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("client.cert has no matching") && e.contains("client.key"),
            "{e}"
        );

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("client.key"), b"x").unwrap();
        let e = HostTls::read(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("client.key has no matching") && e.contains("client.cert"),
            "{e}"
        );

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("client.cert"), b"x").unwrap();
        std::fs::write(dir.path().join("client.key"), b"x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
        let host = HostTls::read(dir.path()).unwrap();
        assert!(host.client.is_some() && host.roots.is_empty());
    }
}

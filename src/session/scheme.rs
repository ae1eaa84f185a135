//! Which scheme each registry speaks, found once by pinging `GET /v2/` (the scheme policy of
//! [`transport`](crate::transport) decides what may be tried): https first, then plain http
//! where the policy allows it. The answer (scheme, status, challenges) is cached per registry
//! and shared by every clone of the session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::header::WWW_AUTHENTICATE;
use http::{Request, StatusCode};
use tokio::sync::OnceCell;
use tower::ServiceExt as _;

use super::layers::retry;
use super::request::RequestBody;
use super::PlainService;
use crate::transport::{
    self, cannot_connect, read_body_limited, Error, Ping, ResponseBody, Scheme, TimeoutPhase, Transport,
};

/// The scheme of each registry, pinged once through the session's plain stack (user agent,
/// counting, redirects, warnings; no auth, no retry).
#[derive(Clone)]
pub(crate) struct Schemes {
    transport: Transport,
    plain: PlainService,
    pings: Arc<Mutex<HashMap<String, Arc<OnceCell<Ping>>>>>,
}

impl std::fmt::Debug for Schemes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schemes").finish_non_exhaustive()
    }
}

impl Schemes {
    pub(crate) fn new(transport: Transport, plain: PlainService) -> Self {
        Schemes {
            transport,
            plain,
            pings: Arc::default(),
        }
    }

    async fn get(&self, url: &str) -> Result<http::Response<ResponseBody>, Error> {
        let req = Request::get(transport::to_uri(&transport::parse_url(url)?)?)
            .body(RequestBody::Empty)
            .expect("request parts are valid");
        self.plain.clone().oneshot(req).await
    }

    /// Pings `registry` once (later calls reuse the answer) and returns what it said.
    pub(crate) async fn ping(&self, registry: &str) -> Result<Ping, Error> {
        let cell = {
            let mut pings = self.pings.lock().expect("ping cache poisoned");
            pings.entry(registry.to_ascii_lowercase()).or_default().clone()
        };
        cell.get_or_try_init(|| self.ping_uncached(registry)).await.cloned()
    }

    /// `scheme://host[:port]` for a registry.
    pub(crate) async fn base_url(&self, registry: &str) -> Result<String, Error> {
        let ping = self.ping(registry).await?;
        Ok(format!("{}://{}", ping.scheme.as_str(), registry))
    }

    /// Finds the scheme, trying the first contact again (with backoff) while the registry
    /// cannot be reached at all: one restarting, or a port not yet listening.
    async fn ping_uncached(&self, registry: &str) -> Result<Ping, Error> {
        let mut attempt = 1;
        loop {
            match self.ping_schemes(registry).await {
                Err(e) if attempt <= self.transport.retries() && cannot_connect(&e) => {
                    let wait = retry::backoff(attempt, None);
                    tracing::info!(
                        "{registry}: first contact failed ({e}), again in {} ms",
                        wait.as_millis()
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn ping_schemes(&self, registry: &str) -> Result<Ping, Error> {
        let policy = self.transport.policy(registry);
        let mut https_err = match self.ping_with(Scheme::Https, registry).await {
            Ok(p) => return Ok(p),
            Err(e) => e,
        };
        // A registry that requires a client certificate and gets none hangs up after the
        // handshake (TLS 1.3): say where the certificate goes.
        if let Error::Request { detail, .. } = &mut https_err {
            // The connection was made (the failure is in sending the request: TLS 1.3 lets the
            // client finish its handshake before the server checks it), or the server sent a
            // certificate alert (TLS 1.2); how the hang-up reads varies with timing.
            let hung_up = [
                "(SendRequest)",
                "(Canceled)",
                "connection closed",
                "CertificateRequired",
                "BadCertificate",
            ]
            .iter()
            .any(|s| detail.contains(s));
            if hung_up && policy.verifies_tls() && !self.transport.has_client_cert(registry) {
                detail.push_str(&format!(
                    " (if {registry} requires a client certificate, put NAME.cert and NAME.key in \
                     its certs.d directory, e.g. ~/.config/containers/certs.d/{registry}/)"
                ));
            }
        }
        // A server that took the connection and then said nothing for the whole response
        // timeout would say nothing over plain http either; and a port that could not be
        // reached in time over https is the same port over http: one wait, not two.
        let same_port = registry.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok());
        match &https_err {
            Error::Timeout {
                phase: TimeoutPhase::Response,
                ..
            } => return Err(https_err),
            Error::Timeout {
                phase: TimeoutPhase::Connect,
                ..
            } if same_port => return Err(https_err),
            _ => {}
        }
        if !policy.allows_http() {
            if let Error::Request { source, .. } = &https_err {
                if transport::is_plain_http_answer(source.as_ref()) {
                    return Err(Error::PlainHttpRefused {
                        registry: registry.to_string(),
                    });
                }
            }
            return Err(https_err);
        }
        match self.ping_with(Scheme::Http, registry).await {
            Ok(p) => Ok(p),
            // A server that speaks only plain http, and not as a registry: that is the news
            // (the https failure only says it does not speak TLS).
            Err(e @ Error::NotRegistry { .. }) if matches!(&https_err, Error::Request { source, .. } if transport::is_plain_http_answer(source.as_ref())) => {
                Err(e)
            }
            // Neither scheme answered: say so, with both causes when they differ.
            Err(Error::Request {
                url: http_url,
                detail: http_detail,
                ..
            }) => match https_err {
                Error::Request {
                    url, detail, source, ..
                } => Err(Error::Unreachable {
                    registry: registry.to_string(),
                    tried: vec![url, http_url],
                    detail: if detail == http_detail {
                        detail
                    } else {
                        format!("{detail}; over http: {http_detail}")
                    },
                    source,
                }),
                other => Err(other),
            },
            // Otherwise the https failure is the more telling one (a bad certificate, say).
            Err(_) => Err(https_err),
        }
    }

    async fn ping_with(&self, scheme: Scheme, registry: &str) -> Result<Ping, Error> {
        let url = format!("{}://{}/v2/", scheme.as_str(), registry);
        let mut attempt = 1;
        let resp = loop {
            let resp = self.get(&url).await?;
            // A busy registry's 503 is not a verdict on the scheme: ask again.
            if !retry::transient(resp.status()) || attempt > self.transport.retries() {
                break resp;
            }
            let wait = retry::backoff(attempt, Some(resp.headers()));
            let _ = read_body_limited(resp.into_body(), 64 * 1024, &url).await;
            tokio::time::sleep(wait).await;
            attempt += 1;
        };
        let status = resp.status();
        let challenges = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        // Drain so the connection goes back to the pool.
        let _ = read_body_limited(resp.into_body(), 64 * 1024, &url).await;
        if status == StatusCode::OK || status == StatusCode::UNAUTHORIZED {
            Ok(Ping {
                scheme,
                status,
                challenges,
            })
        } else {
            Err(Error::NotRegistry { url, status })
        }
    }
}

#[cfg(test)]
mod tests {
    use tower::util::BoxCloneSyncService;

    use super::super::layers::testing::{answer, stand_in};
    use super::*;
    use crate::transport::TransportConfig;

    fn refused(url: &str) -> Error {
        Error::Request {
            method: http::Method::GET,
            url: url.to_string(),
            detail: "connection refused".into(),
            source: Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        }
    }

    fn schemes_over(
        wire: impl tower::Service<
                http::Request<RequestBody>,
                Response = http::Response<ResponseBody>,
                Error = Error,
                Future = impl Send + 'static,
            > + Clone
            + Send
            + Sync
            + 'static,
        config: TransportConfig,
    ) -> Schemes {
        Schemes::new(Transport::new(&config).unwrap(), BoxCloneSyncService::new(wire))
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_loopback_registry_without_tls_is_pinged_over_http_once() {
        let (wire, seen) = stand_in(|_, req| match req.uri().scheme_str() {
            Some("https") => Err(refused(&req.uri().to_string())),
            _ => Ok(answer(200, &[], "{}")),
        });
        let schemes = schemes_over(wire, TransportConfig::default());
        assert_eq!(
            schemes.base_url("127.0.0.1:5000").await.unwrap(),
            "http://127.0.0.1:5000"
        );
        assert_eq!(
            schemes.base_url("127.0.0.1:5000").await.unwrap(),
            "http://127.0.0.1:5000"
        );
        let seen = seen.lock().unwrap();
        let asked: Vec<String> = seen.iter().map(|s| s.uri.to_string()).collect();
        assert_eq!(
            asked,
            ["https://127.0.0.1:5000/v2/", "http://127.0.0.1:5000/v2/"],
            "cached"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_remote_registry_gets_no_plain_http_unless_marked_insecure() {
        let (wire, seen) = stand_in(|_, req| match req.uri().scheme_str() {
            Some("https") => Err(refused(&req.uri().to_string())),
            _ => Ok(answer(401, &[("www-authenticate", r#"Basic realm="r""#)], "")),
        });
        let config = TransportConfig::default().retries(0);
        let err = schemes_over(wire.clone(), config.clone())
            .ping("r.test:5000")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Request { .. }), "{err}");
        assert!(seen.lock().unwrap().iter().all(|s| s.uri.scheme_str() == Some("https")));

        let config = config.insecure_registry("r.test:5000");
        let ping = schemes_over(wire, config).ping("r.test:5000").await.unwrap();
        assert_eq!((ping.scheme, ping.status), (Scheme::Http, StatusCode::UNAUTHORIZED));
        assert_eq!(ping.challenges, [r#"Basic realm="r""#]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_busy_answer_is_not_a_verdict_on_the_scheme() {
        let (wire, seen) = stand_in(|n, _| Ok(answer(if n == 0 { 503 } else { 200 }, &[("retry-after", "0")], "")));
        let ping = schemes_over(wire, TransportConfig::default())
            .ping("r.test")
            .await
            .unwrap();
        assert_eq!((ping.scheme, ping.status), (Scheme::Https, StatusCode::OK));
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn something_that_is_not_a_registry_is_named() {
        let (wire, _) = stand_in(|_, _| Ok(answer(404, &[], "<html>")));
        let err = schemes_over(wire, TransportConfig::default())
            .ping("r.test")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotRegistry { .. }), "{err}");
    }
}

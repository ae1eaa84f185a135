//! Redirects, followed by hand: relative `Location`s resolved against the request URL, at most
//! ten hops, `Authorization` dropped when the origin changes (registries redirect blob
//! downloads to object storage, which must never see registry credentials), and https → http
//! downgrades refused.

use super::ResponseBody;
use http::header::{AUTHORIZATION, LOCATION};
use http::{HeaderMap, Method, Request, Response, StatusCode};

use super::{empty_body, parse_url, to_uri, Error, Transport};

/// Why following `to` from `from` is refused, if it is: only http(s), and never https → http.
fn refusal(from: &url::Url, to: &url::Url) -> Option<&'static str> {
    match to.scheme() {
        "https" => None,
        "http" if from.scheme() == "http" => None,
        "http" => Some("it downgrades https to http"),
        _ => Some("only http(s) locations are followed"),
    }
}

/// Checks a URL a registry handed over (`what`: an upload `Location`, a pagination `Link`)
/// as redirects are checked: no downgrade from https to plain http, no other schemes.
pub(crate) fn check_followed(from: &url::Url, to: &url::Url, what: &'static str) -> Result<(), Error> {
    match refusal(from, to) {
        None => Ok(()),
        Some(reason) => Err(Error::FollowRefused {
            what,
            from: super::redact_url(from.as_str()),
            to: super::redact_url(to.as_str()),
            reason,
        }),
    }
}

const MAX_REDIRECTS: usize = 10;

impl Transport {
    /// Sends a GET or HEAD (or any request without a body), following redirects by hand.
    pub async fn send_bodyless(
        &self,
        method: Method,
        url: &str,
        headers: &HeaderMap,
    ) -> Result<Response<ResponseBody>, Error> {
        let mut url = parse_url(url)?;
        let mut headers = headers.clone();
        for _ in 0..=MAX_REDIRECTS {
            let mut req = Request::builder()
                .method(method.clone())
                .uri(to_uri(&url)?)
                .body(empty_body())
                .expect("request parts are valid");
            *req.headers_mut() = headers.clone();
            let resp = self.send(req).await?;
            if !resp.status().is_redirection() || resp.status() == StatusCode::NOT_MODIFIED {
                return Ok(resp);
            }
            let Some(location) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) else {
                return Ok(resp);
            };
            let next = url.join(location).map_err(|e| Error::InvalidUrl {
                url: location.to_string(),
                reason: e.to_string(),
            })?;
            let refuse = |reason| Error::RedirectRefused {
                from: super::redact_url(url.as_str()),
                to: super::redact_url(next.as_str()),
                reason,
            };
            if let Some(reason) = refusal(&url, &next) {
                return Err(refuse(reason));
            }
            if next.origin() != url.origin() {
                // Credentials for the registry must never reach storage backends or other hosts.
                headers.remove(AUTHORIZATION);
            }
            url = next;
        }
        Err(Error::RedirectRefused {
            from: super::redact_url(url.as_str()),
            to: String::new(),
            reason: "more than 10 redirects",
        })
    }
}

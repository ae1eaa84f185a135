//! Paginated listings (tags, catalog, referrers): the next page a `Link: <…>; rel="next"`
//! header names, resolved against the page that gave it and checked like a redirect (never
//! from https to plain http).

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use super::layers::resolve_followed;
use super::request::Target;
use crate::error::Error;

/// A response read whole, within a bound, by [`Session::fetch`](super::Session::fetch).
///
/// ```no_run
/// # async fn demo(session: irel::session::Session) -> Result<(), Box<dyn std::error::Error>> {
/// use irel::session::RegistryRequest;
/// let repo = "registry.example/team/app".parse::<irel::Reference>()?.to_repository();
/// let request = RegistryRequest::get(&repo, "/v2/team/app/tags/list").expect([http::StatusCode::OK]);
/// let page = session.fetch(request, 4 << 20).await?;
/// let tags: serde_json::Value = serde_json::from_slice(&page.body)?;
/// println!("{} from {}; more: {}", tags["tags"], page.url, page.next_page()?.is_some());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The status (one the request expected).
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The URL asked (the first one, when redirects were followed).
    pub url: String,
    /// The body.
    pub body: Bytes,
}

impl Fetched {
    /// The next page of a paginated listing, when the response's `Link` header names one.
    ///
    /// ```
    /// let page = irel::session::Fetched {
    ///     status: http::StatusCode::OK,
    ///     headers: [(http::header::LINK, "</v2/a/tags/list?n=2&last=b>; rel=\"next\"".parse().unwrap())]
    ///         .into_iter()
    ///         .collect(),
    ///     url: "https://r.example/v2/a/tags/list?n=2".into(),
    ///     body: bytes::Bytes::new(),
    /// };
    /// let next = page.next_page().unwrap().unwrap();
    /// assert_eq!(next, irel::session::Target::Url("https://r.example/v2/a/tags/list?n=2&last=b".parse().unwrap()));
    /// ```
    pub fn next_page(&self) -> Result<Option<Target>, Error> {
        let Some(link) = self
            .headers
            .get(http::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_link)
        else {
            return Ok(None);
        };
        Ok(Some(Target::Url(resolve_followed(
            &self.url,
            &link,
            "pagination Link",
        )?)))
    }
}

/// `link` (perhaps relative) resolved against the URL of the page that gave it; a link from
/// https to plain http is refused.
pub(crate) fn resolve_link(page_url: &str, link: &str) -> Result<String, Error> {
    Ok(resolve_followed(page_url, link, "pagination Link")?.to_string())
}

/// The target of `<…>; rel="next"` in a `Link` header.
pub(crate) fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "").eq_ignore_ascii_case("rel=\"next\"") || p.trim() == "rel=next");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_string())
    })
}

//! Listing what a registry holds: the tags of a repository and the repositories of a registry
//! (`/v2/_catalog`), following `Link: <…>; rel="next"` pagination.
//!
//! A registry decides how many pages there are, so a listing is bounded as a whole (entries
//! and bytes, see [`ListingLimits`]), not only per page, and a `Link` back to a page already
//! read is an error rather than a loop. A `Link` may not lead from https to plain http.

use http::header::LINK;
use http::{HeaderMap, Method, StatusCode};

use super::Registry;
use crate::auth::Scope;
use crate::error::Error;
use crate::model::name::Repository;
use crate::model::reference::Reference;
use crate::session::RequestBody;
use crate::transport::read_body_limited;

/// One page of a listing is refused past this size.
const MAX_PAGE: usize = 8 * 1024 * 1024;
/// A listing fails after this many pages (a server that paginates forever is broken).
const MAX_PAGES: usize = 10_000;
/// Default bound on the entries of one listing.
const DEFAULT_MAX_ENTRIES: usize = 1_000_000;
/// Default bound on the bytes of all pages of one listing.
const DEFAULT_MAX_BYTES: usize = 128 * 1024 * 1024;

/// Bounds on one listing (tags, catalog, referrers), over all its pages: what irel holds in
/// memory for it. Past either, the listing fails with [`Error::Listing`]. The defaults are
/// 1,000,000 entries and 128 MiB of pages.
///
/// ```
/// use irel::ListingLimits;
/// assert_eq!(ListingLimits::default(), ListingLimits { entries: 1_000_000, bytes: 128 << 20 });
/// let client = irel::Client::builder()
///     .listing_limits(ListingLimits { entries: 50_000, ..ListingLimits::default() })
///     .build()
///     .unwrap();
/// # let _ = client;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingLimits {
    /// Entries (tags, repositories, referrers) in all.
    pub entries: usize,
    /// Bytes of page bodies in all.
    pub bytes: usize,
}

impl Default for ListingLimits {
    fn default() -> Self {
        ListingLimits {
            entries: DEFAULT_MAX_ENTRIES,
            bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl Registry {
    /// Repositories of `registry` (`host[:port]`), at most `max_items` (all when `None`),
    /// asked 100 at a time.
    pub async fn catalog(&self, registry: &str, max_items: Option<usize>) -> Result<Vec<String>, Error> {
        self.catalog_paged(registry, max_items, 100).await
    }

    /// [`catalog`](Self::catalog) asking `page_size` repositories per request.
    pub async fn catalog_paged(
        &self,
        registry: &str,
        max_items: Option<usize>,
        page_size: usize,
    ) -> Result<Vec<String>, Error> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            repositories: Option<Vec<String>>,
        }
        // Any repository name serves to address the registry.
        let anchor: Reference = format!("{registry}/catalog").parse()?;
        let page_size = max_items.unwrap_or(usize::MAX).min(page_size).max(1);
        let first = format!("/v2/_catalog?n={page_size}");
        let mut out = Vec::new();
        self.paginate(
            &anchor.to_repository(),
            &[Scope::catalog()],
            first,
            "GET catalog",
            |body| {
                let page: Page = serde_json::from_slice(body).map_err(|e| e.to_string())?;
                let repositories = page.repositories.unwrap_or_default();
                let added = repositories.len();
                out.extend(repositories);
                Ok((added, max_items.map_or(true, |n| out.len() < n)))
            },
        )
        .await?;
        if let Some(n) = max_items {
            out.truncate(n);
        }
        Ok(out)
    }

    /// Reads the pages of a listing from `first` on, within the client's [`ListingLimits`].
    /// `page` takes one page's body and says how many entries it added and whether more pages
    /// are wanted.
    pub(crate) async fn paginate(
        &self,
        r: &Repository,
        scopes: &[Scope],
        first: String,
        operation: &'static str,
        mut page: impl FnMut(&[u8]) -> Result<(usize, bool), String>,
    ) -> Result<(), Error> {
        let limits = self.listing_limits;
        let fail = |reason: String| Error::Listing {
            operation,
            registry: r.registry().to_string(),
            reason,
        };
        let mut next = Some(first);
        let mut visited = std::collections::HashSet::new();
        let (mut pages, mut entries, mut bytes) = (0, 0usize, 0usize);
        while let Some(target) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(fail(format!(
                    "more than {MAX_PAGES} pages; a registry that paginates forever is broken"
                )));
            }
            let (resp, url) = self
                .send(
                    crate::session::RegistryRequest::new(Method::GET, r, crate::session::Target::parse(&target)?)
                        .with_scopes(scopes.iter().cloned())
                        .headers(HeaderMap::new())
                        .body(RequestBody::Empty)
                        .expect([StatusCode::OK])
                        .operation(operation),
                )
                .await?;
            // Compared as parsed URLs: the first page's URL is put together by hand.
            visited.insert(crate::transport::parse_url(&url).map_or_else(|_| url.clone(), |u| u.to_string()));
            next = resp
                .headers()
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link)
                .map(|link| resolve_link(&url, &link))
                .transpose()?;
            // What is left of the listing's budget, or the page bound if that comes first.
            let budget = limits.bytes - bytes;
            let body = read_body_limited(resp.into_body(), MAX_PAGE.min(budget), &url)
                .await
                .map_err(|e| match e {
                    crate::transport::Error::BodyTooLarge { .. } if budget <= MAX_PAGE => {
                        fail(too_many_bytes(limits.bytes))
                    }
                    e => e.into(),
                })?;
            bytes += body.len();
            let (added, more) = page(&body).map_err(|reason| Error::Manifest {
                reference: url.clone(),
                reason: format!("unreadable listing: {reason}"),
            })?;
            entries += added;
            if entries > limits.entries {
                return Err(fail(format!(
                    "more than {} entries, irel's bound for one listing; a registry that \
                     paginates forever is broken (an embedder can raise the bound with \
                     ClientBuilder::listing_limits)",
                    limits.entries
                )));
            }
            if !more {
                break;
            }
            if let Some(n) = next.as_deref().filter(|n| visited.contains(*n)) {
                return Err(fail(format!(
                    "the next-page Link of {url} leads back to {n}, a page already read: the \
                     pagination loops"
                )));
            }
        }
        Ok(())
    }
}

fn too_many_bytes(limit: usize) -> String {
    format!(
        "pages of more than {} MiB in all, irel's bound for one listing; a registry that \
         paginates forever is broken (an embedder can raise the bound with \
         ClientBuilder::listing_limits)",
        limit / (1024 * 1024)
    )
}

pub(crate) use crate::session::paging::{next_link, resolve_link};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://x/a>; rel="prev", <https://x/b>; rel="next""#).as_deref(),
            Some("https://x/b")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
    }
}

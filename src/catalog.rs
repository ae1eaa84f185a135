//! Listing what a registry holds: the tags of a repository and the repositories of a registry
//! (`/v2/_catalog`), following `Link: <…>; rel="next"` pagination.

use http::header::LINK;
use http::{HeaderMap, Method, StatusCode};

use crate::auth::Scope;
use crate::client::{Client, RequestBody};
use crate::error::Error;
use crate::reference::Reference;
use crate::transport::read_body_limited;

/// One page of a listing is refused past this size.
const MAX_PAGE: usize = 8 * 1024 * 1024;
/// A listing stops after this many pages (a server that paginates forever is broken).
const MAX_PAGES: usize = 10_000;

impl Client {
    /// Every tag of `repo`'s repository, in the registry's order.
    ///
    /// ```no_run
    /// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
    /// for tag in client.tags(&"localhost:5000/team/app".parse()?).await? {
    ///     println!("{tag}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn tags(&self, repo: &Reference) -> Result<Vec<String>, Error> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let first = format!("/v2/{}/tags/list", repo.repository());
        let scopes = [Scope::pull(repo.repository())];
        let mut out = Vec::new();
        self.paginate(repo, &scopes, first, "GET tags", |body| {
            let page: Page = serde_json::from_slice(body).map_err(|e| e.to_string())?;
            out.extend(page.tags.unwrap_or_default());
            Ok(true)
        })
        .await?;
        Ok(out)
    }

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
        self.paginate(&anchor, &[Scope::catalog()], first, "GET catalog", |body| {
            let page: Page = serde_json::from_slice(body).map_err(|e| e.to_string())?;
            out.extend(page.repositories.unwrap_or_default());
            Ok(max_items.map_or(true, |n| out.len() < n))
        })
        .await?;
        if let Some(n) = max_items {
            out.truncate(n);
        }
        Ok(out)
    }

    pub(crate) async fn paginate(
        &self,
        r: &Reference,
        scopes: &[Scope],
        first: String,
        operation: &'static str,
        // Takes one page's body; says whether more pages are wanted.
        mut page: impl FnMut(&[u8]) -> Result<bool, String>,
    ) -> Result<(), Error> {
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(target) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                break;
            }
            let (resp, url) = self
                .request(
                    r,
                    scopes,
                    Method::GET,
                    &target,
                    HeaderMap::new(),
                    RequestBody::Empty,
                    &[StatusCode::OK],
                    operation,
                )
                .await?;
            next = resp
                .headers()
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link)
                .map(|link| resolve_link(&url, link));
            let body = read_body_limited(resp.into_body(), MAX_PAGE, &url).await?;
            let more = page(&body).map_err(|reason| Error::Manifest {
                reference: url.clone(),
                reason: format!("unreadable listing: {reason}"),
            })?;
            if !more {
                break;
            }
        }
        Ok(())
    }
}

/// `link` (perhaps relative) resolved against the URL of the page that gave it.
pub(crate) fn resolve_link(page_url: &str, link: String) -> String {
    crate::transport::parse_url(page_url)
        .ok()
        .and_then(|base| base.join(&link).ok())
        .map(|u| u.to_string())
        .unwrap_or(link)
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

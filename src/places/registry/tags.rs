//! Tag listings: every page of `/v2/<name>/tags/list`, within the listing limits.

use super::Registry;
use crate::auth::Scope;
use crate::error::Error;
use crate::model::name::Repository;

impl Registry {
    /// Every tag of `repo`'s repository, in the registry's order.
    ///
    /// ```no_run
    /// # async fn demo(client: irel::Client) -> Result<(), irel::Error> {
    /// let image: irel::Reference = "localhost:5000/team/app".parse()?;
    /// for tag in client.registry().tags(&image.to_repository()).await? {
    ///     println!("{tag}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn tags(&self, repo: &Repository) -> Result<Vec<String>, Error> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let first = format!("/v2/{}/tags/list", repo.path());
        let scopes = [Scope::pull(repo.path())];
        let mut out = Vec::new();
        self.paginate(repo, &scopes, first, "GET tags", |body| {
            let page: Page = serde_json::from_slice(body).map_err(|e| e.to_string())?;
            let tags = page.tags.unwrap_or_default();
            let added = tags.len();
            out.extend(tags);
            Ok((added, true))
        })
        .await?;
        Ok(out)
    }
}

//! The login check: whether a registry accepts the credentials it will be sent.

use http::{Method, StatusCode};

use super::Registry;
use crate::transport::read_body_limited;

impl Registry {
    /// Checks that this client's credentials for `registry` are accepted: for a token
    /// registry, the token server grants a token; for Basic, the registry answers `/v2/`.
    pub async fn check_login(&self, registry: &str) -> Result<(), crate::Error> {
        let r: crate::Reference = format!("{registry}/irel-login-check")
            .parse()
            .map_err(crate::Error::Reference)?;
        let (resp, url) = self
            .send(crate::session::RegistryRequest::registry_wide(
                Method::GET,
                &r.to_repository(),
                "/v2/",
            ))
            .await?;
        let status = resp.status();
        let _ = read_body_limited(resp.into_body(), 64 * 1024, &url).await;
        if status == StatusCode::OK {
            return Ok(());
        }
        Err(crate::Error::Registry {
            operation: "GET".into(),
            url,
            status,
            errors: Vec::new(),
            hint: Some(Box::new(format!("{registry} did not accept the credentials").into())),
            retry_after: None,
        })
    }
}

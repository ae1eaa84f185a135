//! Blobs on a registry: existence (HEAD), verified streaming downloads that resume where a
//! broken connection left them (GET with `Range`), and small blobs pushed from memory.

use bytes::Bytes;
use http::header::RANGE;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

use super::Registry;
use crate::auth::Scope;
use crate::blob::{resume, BlobStream, VerifyError};
use crate::error::Error;
use crate::model::name::Repository;
use crate::model::reference::Digest;
use crate::session::RequestBody;
use crate::transport::{self, ResponseBody};

fn blob_path(r: &Repository, digest: &Digest) -> String {
    format!("/v2/{}/blobs/{}", r.path(), digest)
}

impl Registry {
    /// The size of `digest` in `r`'s repository, or `None` if it is not there.
    pub async fn blob_exists(&self, r: &Repository, digest: &Digest) -> Result<Option<u64>, Error> {
        let path = blob_path(r, digest);
        let (resp, _) = self
            .send(
                crate::session::RegistryRequest::new(
                    Method::HEAD,
                    r,
                    crate::session::Target::Path(path.clone().to_string()),
                )
                .with_scopes([Scope::pull(r.path())])
                .headers(HeaderMap::new())
                .body(RequestBody::Empty)
                .expect([StatusCode::OK, StatusCode::NOT_FOUND])
                .operation("HEAD blob"),
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(
            resp.headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ))
    }

    /// Starts downloading `digest` (of `size` bytes) from `r`'s repository; redirects to
    /// storage are followed without credentials. The stream checks size and digest.
    pub async fn get_blob(&self, r: &Repository, digest: &Digest, size: u64) -> Result<BlobStream, Error> {
        self.get_blob_checked(r, digest, size, true).await
    }

    /// [`get_blob`](Self::get_blob), hashing only when `hash` (the size is always checked).
    pub(crate) async fn get_blob_checked(
        &self,
        r: &Repository,
        digest: &Digest,
        size: u64,
        hash: bool,
    ) -> Result<BlobStream, Error> {
        let resp = self.get_blob_from(r, digest, 0).await?;
        if let Some(len) = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            if len != size {
                return Err(Error::BlobTransfer {
                    digest: digest.clone(),
                    source_repo: Some(r.name()),
                    destination: None,
                    source: Box::new(VerifyError::new(format!(
                        "the registry serves {len} bytes where the manifest says {size}"
                    ))),
                });
            }
        }
        let reopen: resume::Reopen = {
            let (client, r, digest) = (self.clone(), r.clone(), digest.clone());
            Box::new(move |offset| {
                let (client, r, digest) = (client.clone(), r.clone(), digest.clone());
                Box::pin(async move { client.get_blob_from(&r, &digest, offset).await })
            })
        };
        let body = resume::ResumingBody::new(resp.into_body(), size, self.retry_times(), reopen);
        Ok(BlobStream::new(body, digest.clone(), size, hash))
    }

    /// GET of a blob, from byte `offset` on (a `Range` request) when it is not 0.
    async fn get_blob_from(
        &self,
        r: &Repository,
        digest: &Digest,
        offset: u64,
    ) -> Result<Response<ResponseBody>, Error> {
        let mut headers = HeaderMap::new();
        if offset > 0 {
            headers.insert(
                RANGE,
                HeaderValue::from_str(&format!("bytes={offset}-")).expect("a valid range"),
            );
        }
        let (resp, _) = self
            .send(
                crate::session::RegistryRequest::new(
                    Method::GET,
                    r,
                    crate::session::Target::parse(&blob_path(r, digest))?,
                )
                .with_scopes([Scope::pull(r.path())])
                .headers(headers)
                .body(RequestBody::Empty)
                .expect([StatusCode::OK, StatusCode::PARTIAL_CONTENT])
                .operation("GET blob"),
            )
            .await?;
        Ok(resp)
    }

    /// Uploads a blob held in memory (configs, small test content).
    pub async fn push_blob_bytes(&self, dst: &Repository, data: Bytes) -> Result<Digest, Error> {
        let digest = Digest::sha256_of(&data);
        if self.blob_exists(dst, &digest).await?.is_some() {
            return Ok(digest);
        }
        let loc = self.start_upload(dst).await?;
        let size = data.len() as u64;
        self.finish_upload(dst, &loc, &digest, size, transport::full_body(data))
            .await?;
        Ok(digest)
    }
}

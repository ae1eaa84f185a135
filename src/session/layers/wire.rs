//! The innermost service: the [`Transport`] as a `tower::Service`, sending each request as it
//! is, with its body framed (`Content-Length`) the way registries expect.

use std::task::{Context, Poll};

use http::header::CONTENT_LENGTH;
use http::Method;

use super::{BoxFuture, HttpRequest, HttpResponse};
use crate::session::request::RequestBody;
use crate::transport::{self, Error, Transport};

/// The [`Transport`] as the bottom of the session's stack.
///
/// ```no_run
/// # async fn demo() -> Result<(), irel::transport::Error> {
/// use irel::session::{layers::{RedirectLayer, Wire}, RequestBody};
/// use irel::transport::{Transport, TransportConfig};
/// use tower::{ServiceBuilder, ServiceExt as _};
/// let wire = Wire(Transport::new(&TransportConfig::default())?);
/// let svc = ServiceBuilder::new().layer(RedirectLayer).service(wire);
/// let ping = http::Request::get("https://registry.example/v2/").body(RequestBody::Empty).unwrap();
/// println!("{}", svc.oneshot(ping).await?.status());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Wire(pub Transport);

impl tower::Service<HttpRequest> for Wire {
    type Response = HttpResponse;
    type Error = Error;
    type Future = BoxFuture<Result<HttpResponse, Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let transport = self.0.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let bodyless = parts.method == Method::GET || parts.method == Method::HEAD;
            let (body, len) = match body {
                // A GET or HEAD carries no framing at all.
                RequestBody::Empty if bodyless => (transport::empty_body(), None),
                RequestBody::Empty => (transport::empty_body(), Some(0)),
                RequestBody::Bytes(b) => {
                    let len = b.len() as u64;
                    (transport::full_body(b), Some(len))
                }
                RequestBody::Stream(s, len) => (s, Some(len)),
            };
            if let Some(len) = len {
                parts.headers.insert(CONTENT_LENGTH, len.into());
            }
            transport.send(http::Request::from_parts(parts, body)).await
        })
    }
}

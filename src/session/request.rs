//! One registry request, described by a struct rather than positional arguments: what to ask
//! (method, path or URL), of which registry and repository, with which scopes, and which
//! statuses count as an answer.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use crate::auth::Scope;
use crate::model::name::Repository;
use crate::transport::Body;

/// A request body, and whether it can be sent again (after a 401 or a transient failure).
///
/// ```
/// use irel::session::{RegistryRequest, RequestBody};
/// let manifest = bytes::Bytes::from_static(br#"{"schemaVersion":2,"manifests":[]}"#);
/// let body = RequestBody::Bytes(manifest);
/// assert!(body.try_clone().is_some(), "bytes in memory may be sent again");
/// let repo = "registry.example/team/app".parse::<irel::Reference>().unwrap().to_repository();
/// let put = RegistryRequest::put(&repo, "/v2/team/app/manifests/1.0").body(body);
/// # let _ = put;
/// ```
pub enum RequestBody {
    /// No body.
    Empty,
    /// Bytes in memory: may be sent again.
    Bytes(Bytes),
    /// A stream of the given length: sent once. Send a request in the same scopes first (a
    /// HEAD, say) so that the token is at hand, because a 401 cannot be answered by sending the
    /// stream again.
    Stream(Body, u64),
}

impl RequestBody {
    /// A copy to send again, when the body can be sent again.
    pub fn try_clone(&self) -> Option<RequestBody> {
        match self {
            RequestBody::Empty => Some(RequestBody::Empty),
            RequestBody::Bytes(b) => Some(RequestBody::Bytes(b.clone())),
            RequestBody::Stream(..) => None,
        }
    }

    /// Whether there is no body at all.
    pub fn is_empty(&self) -> bool {
        matches!(self, RequestBody::Empty)
    }
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestBody::Empty => f.write_str("Empty"),
            RequestBody::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            RequestBody::Stream(_, len) => write!(f, "Stream({len} bytes)"),
        }
    }
}

/// Where a request goes on its registry: a path (`/v2/…`), or an absolute URL the registry
/// handed over (an upload `Location`, a pagination `Link`).
///
/// ```
/// use irel::session::Target;
/// assert_eq!(Target::parse("/v2/").unwrap(), Target::Path("/v2/".into()));
/// let upload = Target::parse("https://storage.example/upload?id=1").unwrap();
/// assert!(matches!(upload, Target::Url(u) if u.host_str() == Some("storage.example")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A path on the registry, resolved against the scheme its ping found.
    Path(String),
    /// An absolute URL. Credentials go with it only when it is on the registry's own origin.
    Url(url::Url),
}

/// The registry a request is for, and what the auth layer needs to authorize it: carried by
/// each `http::Request` through the session's layers as an extension.
///
/// A layer of one's own reads it from each request's extensions:
/// ```
/// use irel::session::{layers::HttpRequest, RegistryContext, Session, SessionService};
/// use tower::ServiceExt as _;
/// let session = Session::builder()
///     .layer(tower::layer::layer_fn(|stack: SessionService| {
///         stack.map_request(|req: HttpRequest| {
///             if let Some(cx) = req.extensions().get::<RegistryContext>() {
///                 eprintln!("{} on {} ({} scopes)", cx.operation, cx.registry, cx.scopes.len());
///             }
///             req
///         })
///     }))
///     .build()
///     .unwrap();
/// # let _ = session;
/// ```
#[derive(Debug, Clone)]
pub struct RegistryContext {
    /// The name credentials are filed under (`docker.io`).
    pub registry: String,
    /// The host the API is served from (`registry-1.docker.io`).
    pub api_host: String,
    /// The token scopes the request needs.
    pub scopes: Vec<Scope>,
    /// What irel was doing, for error messages (`GET manifest`; the method when nothing
    /// more was said).
    pub operation: Cow<'static, str>,
}

/// One request to a registry: built with [`get`](Self::get), [`head`](Self::head) and
/// friends, then sent with [`Session::send`](super::Session::send), which authenticates it,
/// retries it when that is safe, and turns a status outside [`expect`](Self::expect) into
/// [`Error::Registry`](crate::Error::Registry).
///
/// ```
/// use irel::session::RegistryRequest;
/// let image: irel::Reference = "registry.example/team/app:1.0".parse().unwrap();
/// let request = RegistryRequest::get(&image.to_repository(), "/v2/team/app/tags/list")
///     .header(http::header::ACCEPT, "application/json")
///     .expect([http::StatusCode::OK]);
/// assert_eq!(request.scopes()[0].to_string(), "repository:team/app:pull");
/// ```
#[derive(Debug)]
pub struct RegistryRequest {
    pub(crate) method: Method,
    pub(crate) context: RegistryContext,
    pub(crate) target: Target,
    pub(crate) headers: HeaderMap,
    pub(crate) body: RequestBody,
    pub(crate) expect: Vec<StatusCode>,
}

impl RegistryRequest {
    /// A request in `repository`. The scope is pull for GET and HEAD, pull and push otherwise;
    /// [`with_scopes`](Self::with_scopes) changes it.
    pub fn new(method: Method, repository: &Repository, target: impl Into<Target>) -> RegistryRequest {
        let scope = if method == Method::GET || method == Method::HEAD {
            Scope::pull(repository.path())
        } else {
            Scope::push(repository.path())
        };
        operation_from(method, repository, target, vec![scope])
    }

    /// A request about the registry of `registry_of` as a whole (`/v2/`, `/v2/_catalog`), with
    /// no scopes.
    pub fn registry_wide(method: Method, registry_of: &Repository, target: impl Into<Target>) -> RegistryRequest {
        operation_from(method, registry_of, target, Vec::new())
    }

    /// A GET in `repository`.
    pub fn get(repository: &Repository, target: impl Into<Target>) -> RegistryRequest {
        RegistryRequest::new(Method::GET, repository, target)
    }

    /// A HEAD in `repository`.
    pub fn head(repository: &Repository, target: impl Into<Target>) -> RegistryRequest {
        RegistryRequest::new(Method::HEAD, repository, target)
    }

    /// A PUT in `repository`.
    pub fn put(repository: &Repository, target: impl Into<Target>) -> RegistryRequest {
        RegistryRequest::new(Method::PUT, repository, target)
    }

    /// A POST in `repository`.
    pub fn post(repository: &Repository, target: impl Into<Target>) -> RegistryRequest {
        RegistryRequest::new(Method::POST, repository, target)
    }

    /// Replaces the token scopes.
    pub fn with_scopes(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.context.scopes = scopes.into_iter().collect();
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: impl TryInto<HeaderValue>) -> Self {
        if let Ok(value) = value.try_into() {
            self.headers.append(name, value);
        }
        self
    }

    /// Replaces the headers.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: RequestBody) -> Self {
        self.body = body;
        self
    }

    /// The statuses that count as an answer; any other becomes
    /// [`Error::Registry`](crate::Error::Registry). Without this, any status is returned.
    pub fn expect(mut self, statuses: impl IntoIterator<Item = StatusCode>) -> Self {
        self.expect = statuses.into_iter().collect();
        self
    }

    /// Names what the request does in error messages (`GET manifest`); the method otherwise.
    pub fn operation(mut self, operation: &'static str) -> Self {
        self.context.operation = Cow::Borrowed(operation);
        self
    }

    /// The token scopes the request asks for.
    pub fn scopes(&self) -> &[Scope] {
        &self.context.scopes
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }
}

fn operation_from(method: Method, r: &Repository, target: impl Into<Target>, scopes: Vec<Scope>) -> RegistryRequest {
    RegistryRequest {
        context: RegistryContext {
            registry: r.registry().to_string(),
            api_host: r.api_host().to_string(),
            scopes,
            operation: method_name(&method),
        },
        method,
        target: target.into(),
        headers: HeaderMap::new(),
        body: RequestBody::Empty,
        expect: Vec::new(),
    }
}

/// The method's name, for error messages: static for the standard methods, copied for an
/// extension method.
pub(crate) fn method_name(m: &Method) -> Cow<'static, str> {
    Cow::Borrowed(match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => return Cow::Owned(m.as_str().to_string()),
    })
}

/// A path when `s` starts with `/`, an absolute URL when it is one; anything else stays a
/// path, which [`Session::send`](super::Session::send) refuses by name.
impl From<&str> for Target {
    fn from(s: &str) -> Target {
        match url::Url::parse(s) {
            Ok(url) if !s.starts_with('/') => Target::Url(url),
            _ => Target::Path(s.to_string()),
        }
    }
}

impl From<String> for Target {
    fn from(s: String) -> Target {
        if s.starts_with('/') {
            Target::Path(s)
        } else {
            Target::from(s.as_str())
        }
    }
}

impl From<url::Url> for Target {
    fn from(u: url::Url) -> Target {
        Target::Url(u)
    }
}

impl Target {
    /// A path when `s` starts with `/`, else an absolute URL.
    pub fn parse(s: &str) -> Result<Target, crate::transport::Error> {
        if s.starts_with('/') {
            Ok(Target::Path(s.to_string()))
        } else {
            Ok(Target::Url(crate::transport::parse_url(s)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn targets_are_paths_or_absolute_urls() {
        assert_eq!(Target::from("/v2/a/tags/list"), Target::Path("/v2/a/tags/list".into()));
        assert!(matches!(
            Target::from("https://r.example/v2/a/blobs/uploads/1?_state=x"),
            Target::Url(_)
        ));
        assert!(matches!(
            Target::from(String::from("http://127.0.0.1:5000/v2/")),
            Target::Url(_)
        ));
        // Neither: kept as given, for the session to refuse by name rather than glue it onto
        // the registry's host.
        assert_eq!(Target::from("v2/a/tags/list"), Target::Path("v2/a/tags/list".into()));
    }
}

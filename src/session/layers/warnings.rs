//! Registry warnings: `Warning: 299 - "text"` response headers (distribution spec), which
//! registries use for deprecations and quota notices. Each distinct text is passed on once per
//! client, cleaned of control characters (a registry's words must not drive the terminal).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use std::task::{Context, Poll};

use http::HeaderMap;

use super::{HttpRequest, HttpResponse};

/// Texts longer than this are cut.
const MAX_TEXT: usize = 1024;
/// After this many distinct warnings a client passes on no more (a registry that varies its
/// text on every response would otherwise flood the output).
const MAX_DISTINCT: usize = 64;

/// Called with the registry host and the warning's text.
///
/// ```
/// use std::sync::Arc;
/// use irel::session::layers::{WarningListener, Warnings};
/// let listener: WarningListener = Arc::new(|host: &str, text: &str| eprintln!("warning from {host}: {text}"));
/// let warnings = Warnings::new(Some(listener));
/// # let _ = warnings;
/// ```
pub type WarningListener = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// The warnings one session has passed on, and where they go.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use irel::session::layers::Warnings;
/// let said = Arc::new(Mutex::new(Vec::new()));
/// let sink = said.clone();
/// let listener = move |host: &str, text: &str| sink.lock().unwrap().push(format!("{host}: {text}"));
/// let warnings = Warnings::new(Some(Arc::new(listener)));
/// let headers = http::HeaderMap::from_iter([(http::header::WARNING, r#"299 - "v1 is deprecated""#.parse().unwrap())]);
/// warnings.note("registry.example", &headers);
/// warnings.note("registry.example", &headers);
/// assert_eq!(*said.lock().unwrap(), ["registry.example: v1 is deprecated"], "once per text");
/// ```
#[derive(Clone, Default)]
pub struct Warnings {
    seen: Arc<Mutex<HashSet<(String, String)>>>,
    listener: Option<WarningListener>,
}

impl std::fmt::Debug for Warnings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warnings")
            .field("listener", &self.listener.is_some())
            .finish_non_exhaustive()
    }
}

impl Warnings {
    /// Warnings passed to `listener`, or logged with `tracing` at warn level without one.
    pub fn new(listener: Option<WarningListener>) -> Self {
        Warnings {
            seen: Arc::default(),
            listener,
        }
    }

    /// Passes on the 299 warnings of a response from `host` not passed on before.
    pub fn note(&self, host: &str, headers: &HeaderMap) {
        for value in headers.get_all(http::header::WARNING) {
            let Some(text) = value.to_str().ok().and_then(parse_299) else {
                continue;
            };
            {
                let mut seen = self.seen.lock().expect("warnings poisoned");
                if seen.len() >= MAX_DISTINCT || !seen.insert((host.to_string(), text.clone())) {
                    continue;
                }
            }
            match &self.listener {
                Some(listener) => listener(host, &text),
                None => tracing::warn!("registry {host}: {text}"),
            }
        }
    }
}

/// The text of a `299 <agent> "<text>" [date]` warning value; other codes are not for users.
pub(crate) fn parse_299(value: &str) -> Option<String> {
    let rest = value.trim().strip_prefix("299")?;
    let rest = rest.strip_prefix(' ')?.trim_start();
    let (_agent, rest) = rest.split_once(' ')?;
    let quoted = rest.trim_start().strip_prefix('"')?;
    let mut text = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => text.extend(chars.next()),
            c => text.push(c),
        }
    }
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_TEXT)
        .collect();
    let clean = clean.trim().to_string();
    (!clean.is_empty()).then_some(clean)
}

/// Passes on the warnings of every response to a [`Warnings`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::{Arc, Mutex};
/// use irel::session::{layers::{HttpRequest, Warnings, WarningsLayer}, RequestBody};
/// use irel::transport::{empty_body, ResponseBody};
/// use tower::{ServiceBuilder, ServiceExt as _};
/// let wire = tower::service_fn(|_: HttpRequest| async {
///     let resp = http::Response::builder().header("warning", r#"299 - "quota at 90%""#);
///     Ok::<_, irel::transport::Error>(resp.body(ResponseBody::from_body(empty_body())).unwrap())
/// });
/// let said = Arc::new(Mutex::new(Vec::new()));
/// let sink = said.clone();
/// let listener = move |_: &str, text: &str| sink.lock().unwrap().push(text.to_string());
/// let warnings = Warnings::new(Some(Arc::new(listener)));
/// let svc = ServiceBuilder::new().layer(WarningsLayer::new(warnings)).service(wire);
/// svc.oneshot(http::Request::get("https://registry.example/v2/").body(RequestBody::Empty).unwrap()).await.unwrap();
/// assert_eq!(*said.lock().unwrap(), ["quota at 90%"]);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct WarningsLayer {
    warnings: Warnings,
}

impl WarningsLayer {
    /// A layer noting into `warnings`.
    pub fn new(warnings: Warnings) -> Self {
        WarningsLayer { warnings }
    }
}

impl<S> tower::Layer<S> for WarningsLayer {
    type Service = WarningsService<S>;
    fn layer(&self, inner: S) -> WarningsService<S> {
        WarningsService {
            inner,
            warnings: self.warnings.clone(),
        }
    }
}

/// The service [`WarningsLayer`] makes.
///
/// ```
/// use irel::session::layers::{Warnings, WarningsLayer, WarningsService, Wire};
/// use irel::transport::{Transport, TransportConfig};
/// use tower::Layer as _;
/// let wire = Wire(Transport::new(&TransportConfig::default()).unwrap());
/// let noted: WarningsService<Wire> = WarningsLayer::new(Warnings::new(None)).layer(wire);
/// # let _ = noted;
/// ```
#[derive(Clone, Debug)]
pub struct WarningsService<S> {
    inner: S,
    warnings: Warnings,
}

impl<S> tower::Service<HttpRequest> for WarningsService<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = super::BoxFuture<Result<HttpResponse, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        // A request without a host reached no registry whose warning could be named.
        let host = req.uri().authority().map(|a| a.as_str().to_string());
        let (warnings, answer) = (self.warnings.clone(), self.inner.call(req));
        Box::pin(async move {
            let resp = answer.await?;
            if let Some(host) = host.filter(|_| resp.headers().contains_key(http::header::WARNING)) {
                warnings.note(&host, resp.headers());
            }
            Ok(resp)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_text_of_299_only() {
        assert_eq!(
            parse_299(r#"299 - "this image is deprecated""#).as_deref(),
            Some("this image is deprecated")
        );
        assert_eq!(
            parse_299(r#"299 registry.example "say \"hi\"" "Wed, 21 Oct 2015 07:28:00 GMT""#).as_deref(),
            Some(r#"say "hi""#)
        );
        assert_eq!(parse_299(r#"199 - "miscellaneous""#), None);
        assert_eq!(parse_299(r#"2990 - "x""#), None);
        assert_eq!(parse_299("299 - unquoted"), None);
        assert_eq!(parse_299(r#"299 - """#), None);
    }

    #[test]
    fn control_characters_are_blanked_and_long_texts_cut() {
        assert_eq!(
            parse_299("299 - \"red \u{1b}[31malert\u{7}\"").as_deref(),
            Some("red  [31malert")
        );
        let long = format!("299 - \"{}\"", "a".repeat(5000));
        assert_eq!(parse_299(&long).unwrap().len(), MAX_TEXT);
    }

    #[test]
    fn each_warning_is_passed_on_once_per_host() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        let w = Warnings::new(Some(Arc::new(move |h: &str, t: &str| {
            sink.lock().unwrap().push(format!("{h}: {t}"))
        })));
        let mut headers = HeaderMap::new();
        headers.append(http::header::WARNING, r#"299 - "one""#.parse().unwrap());
        headers.append(http::header::WARNING, r#"299 - "two""#.parse().unwrap());
        w.note("a", &headers);
        w.note("a", &headers);
        w.note("b", &headers);
        assert_eq!(*got.lock().unwrap(), ["a: one", "a: two", "b: one", "b: two"]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn each_text_is_passed_on_once_per_host() {
        use tower::{Layer as _, ServiceExt as _};

        use super::super::testing::{answer, get, stand_in};
        let (wire, _) = stand_in(|_, _| Ok(answer(200, &[("warning", "299 - \"going away\"")], "")));
        let heard: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = heard.clone();
        let warnings = Warnings::new(Some(Arc::new(move |host: &str, text: &str| {
            log.lock().unwrap().push(format!("{host}: {text}"))
        })));
        let svc = WarningsLayer::new(warnings).layer(wire);
        for url in ["http://a.test/v2/", "http://a.test/v2/x", "http://b.test:5000/v2/"] {
            svc.clone().oneshot(get(url)).await.unwrap();
        }
        assert_eq!(
            *heard.lock().unwrap(),
            ["a.test: going away", "b.test:5000: going away"]
        );
    }
}

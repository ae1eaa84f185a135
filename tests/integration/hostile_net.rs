//! Hostile networks and registries: servers that never answer or stall half-way, listings that
//! paginate forever, token realms and locations that would leak credentials or downgrade to
//! plain http. Each ends in a clear one-line error, in bounded time and memory.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use irel::auth::{Credential, StaticCredentials};

use crate::support::{make_layout, skopeo_push, Action, Behaviour, Fault, Pki, Proxy, Registry, TokenServer};

/// Runs irel, killed after `limit`: a hang fails the test instead of holding the run forever.
fn irel_within(args: &[&str], limit: Duration) -> (Output, Duration) {
    irel_env_within(args, &[], limit)
}

fn irel_env_within(args: &[&str], env: &[(&str, &str)], limit: Duration) -> (Output, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_irel"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .env("DOCKER_CONFIG", "/nonexistent-irel-test-docker-config");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().expect("run irel");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "irel {args:?} still running after {limit:?}; stderr so far:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    (output, started.elapsed())
}

/// stderr of a run that failed with exit 1 and one line.
fn one_line_failure(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("irel: ") && stderr.trim_end().lines().count() == 1,
        "one line: {stderr}"
    );
    stderr
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                todo.push(e.path());
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

/// A TCP server on loopback that accepts connections and never sends a byte.
fn silent_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    addr
}

#[test]
fn a_registry_that_accepts_and_never_answers_times_out() {
    let addr = silent_server();
    let (out, took) = irel_within(
        &[
            "--timeout",
            "1s",
            "--retry-times",
            "1",
            "digest",
            &format!("{addr}/h/app:t"),
        ],
        Duration::from_secs(60),
    );
    let err = one_line_failure(&out);
    assert!(
        err.contains(&addr) && err.contains("no response within 1 s") && err.contains("raise --timeout"),
        "{err}"
    );
    // One wait: a server silent over https is not asked again over plain http.
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn timeout_values_take_units_and_bad_ones_are_usage_errors() {
    let addr = silent_server();
    let (out, took) = irel_within(
        &["--timeout", "1500ms", "digest", &format!("{addr}/h/app:t")],
        Duration::from_secs(60),
    );
    let err = one_line_failure(&out);
    assert!(err.contains("no response within 1.5 s"), "{err}");
    assert!(took < Duration::from_secs(40), "took {took:?}");
    let (out, _) = irel_within(&["--timeout", "soon", "digest", "x/y:z"], Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a duration"));
}

/// A registry holding `h/app:t` with a 3 MiB layer, behind a proxy whose blob downloads send
/// 1 MiB, then nothing, with the connection open (the config blob is smaller and comes whole).
/// Returns the registry, the proxy and the layer's hex digest.
fn stalling_source(seed: u64) -> (Registry, Proxy, String) {
    let src = Registry::start();
    let layout = src.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[3 << 20], &["amd64"], seed);
    skopeo_push(&layout, "t", &format!("{}/h/app:t", src.addr), &[]);
    let proxy = Proxy::start(
        &src.addr,
        Behaviour {
            faults: vec![Fault::new(
                "GET /v2/h/app/blobs/sha256:",
                usize::MAX,
                Action::StallResponseAfter(1 << 20),
            )],
            ..Default::default()
        },
    );
    let layer = fx.layers[0].trim_start_matches("sha256:").to_string();
    (src, proxy, layer)
}

#[test]
fn a_blob_download_that_stalls_ends_with_an_error_and_leaves_no_partial() {
    let (_src, proxy, layer) = stalling_source(61);
    let dest = tempfile::tempdir().unwrap();
    let (out, took) = irel_within(
        &[
            "--timeout",
            "2",
            "--retry-times",
            "1",
            "--quiet",
            "sync",
            &format!("docker://{}/h/app", proxy.addr),
            &format!("dir:{}", dest.path().display()),
        ],
        Duration::from_secs(90),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&layer) && stderr.contains("no data received for 2 s") && stderr.contains("raise --timeout"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let left: Vec<_> = files_under(dest.path())
        .into_iter()
        .filter(|f| f.ends_with(".partial") || f.contains(&layer))
        .collect();
    assert!(left.is_empty(), "nothing of the stalled blob is left: {left:?}");
}

#[test]
fn a_stalled_download_into_a_bundle_leaves_no_partial_and_no_bundle() {
    let (_src, proxy, layer) = stalling_source(64);
    let dest = tempfile::tempdir().unwrap();
    let bundle = dest.path().join("bundle.tgz");
    let (out, took) = irel_within(
        &[
            "--timeout",
            "2",
            "--retry-times",
            "1",
            "--quiet",
            "save",
            "-o",
            bundle.to_str().unwrap(),
            &format!("{}/h/app:t", proxy.addr),
        ],
        Duration::from_secs(90),
    );
    let err = one_line_failure(&out);
    assert!(
        err.contains(&layer) && err.contains("no data received for 2 s"),
        "{err}"
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let left = files_under(dest.path());
    assert!(left.is_empty(), "nothing is left beside the bundle's name: {left:?}");
}

#[test]
fn an_upload_the_registry_stops_reading_times_out() {
    let src = Registry::start();
    let layout = src.scratch().join("layout");
    make_layout(&layout, "t", &[3 << 20], &["amd64"], 65);
    skopeo_push(&layout, "t", &format!("{}/h/app:t", src.addr), &[]);
    // The destination takes up to 256 KiB of each blob upload, then neither reads nor answers.
    let dst = Registry::start();
    let front = Proxy::start(
        &dst.addr,
        Behaviour {
            faults: vec![Fault::new(
                "PUT /v2/h/app/blobs/uploads/",
                usize::MAX,
                Action::StallRequestAfter(256 << 10),
            )
            .with_body()],
            ..Default::default()
        },
    );
    let (out, took) = irel_within(
        &[
            "--timeout",
            "2",
            "--retry-times",
            "1",
            "--quiet",
            "copy",
            &format!("{}/h/app:t", src.addr),
            &format!("{}/h/app:t", front.addr),
        ],
        Duration::from_secs(90),
    );
    let err = one_line_failure(&out);
    // Whichever blob's upload fails first (the config stalls too) is named.
    assert!(
        err.contains("blob sha256:")
            && err.contains(&format!("PUT {}/h/app (blob sha256:", front.addr))
            && !err.contains("_state")
            && err.contains("no response within 2 s")
            && err.contains("raise --timeout"),
        "{err}"
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[test]
fn a_request_that_times_out_is_retried() {
    let src = Registry::start();
    let layout = src.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1024], &["amd64"], 66);
    skopeo_push(&layout, "t", &format!("{}/h/app:t", src.addr), &[]);
    // The first manifest request is answered after 6 s, the next at once.
    let proxy = Proxy::start(
        &src.addr,
        Behaviour {
            faults: vec![Fault::new(
                "/v2/h/app/manifests/t",
                1,
                Action::Delay(Duration::from_secs(6)),
            )],
            ..Default::default()
        },
    );
    let (out, _) = irel_within(
        &["--timeout", "2", "digest", &format!("{}/h/app:t", proxy.addr)],
        Duration::from_secs(60),
    );
    assert_eq!(crate::support::ok_stdout(&out), fx.digest);
    assert_eq!(proxy.seen_matching("/v2/h/app/manifests/t").len(), 2);
}

/// A registry whose `tags/list` answers page `n` (from `?last=n`, 0 without) with `page(n)`:
/// a body and the next page's number, if any, for its `Link`.
fn listing_server(page: impl Fn(u64) -> (bytes::Bytes, Option<u64>) + Send + Sync + 'static) -> String {
    let page = std::sync::Arc::new(page);
    crate::support::serve(move |req: hyper::Request<hyper::body::Incoming>| {
        let page = page.clone();
        async move {
            let path = req.uri().path().to_string();
            let mut resp = hyper::Response::builder().header("content-type", "application/json");
            if path == "/v2/" {
                return resp
                    .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
                    .unwrap();
            }
            let n = req
                .uri()
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("last=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let (body, next) = page(n);
            if let Some(next) = next {
                resp = resp.header("link", format!("</v2/h/app/tags/list?last={next}&n=100>; rel=\"next\""));
            }
            resp.body(http_body_util::Full::new(body)).unwrap()
        }
    })
    .to_string()
}

fn tags_page(tags: impl Iterator<Item = String>) -> bytes::Bytes {
    serde_json::to_vec(&serde_json::json!({"name": "h/app", "tags": tags.collect::<Vec<_>>()}))
        .unwrap()
        .into()
}

#[test]
fn a_listing_that_paginates_forever_stops_at_the_entry_bound() {
    // 50,000 tags a page, always another page.
    let addr = listing_server(|n| (tags_page((0..50_000).map(|i| format!("{n}-{i}"))), Some(n + 1)));
    let (out, took) = irel_within(&["tags", &format!("{addr}/h/app")], Duration::from_secs(120));
    let err = one_line_failure(&out);
    assert!(
        err.contains(&addr) && err.contains("more than 1000000 entries"),
        "{err}"
    );
    assert!(took < Duration::from_secs(90), "took {took:?}");
}

#[test]
fn a_listing_of_huge_pages_stops_at_the_byte_bound() {
    // Pages of almost 8 MiB (one tag padded with whitespace), always another page.
    let mut body = br#"{"name":"h/app","tags":["a"]"#.to_vec();
    body.resize(8 * 1024 * 1024 - 1024, b' ');
    body.push(b'}');
    let body = bytes::Bytes::from(body);
    let addr = listing_server(move |n| (body.clone(), Some(n + 1)));
    let (out, took) = irel_within(&["tags", &format!("{addr}/h/app")], Duration::from_secs(120));
    let err = one_line_failure(&out);
    assert!(err.contains(&addr) && err.contains("more than 128 MiB in all"), "{err}");
    assert!(took < Duration::from_secs(90), "took {took:?}");
}

#[test]
fn a_next_link_back_to_a_page_already_read_is_an_error() {
    // Page 0 → 1 → 2 → 1 → …
    let addr = listing_server(|n| {
        (
            tags_page(std::iter::once(format!("t{n}"))),
            Some(if n == 2 { 1 } else { n + 1 }),
        )
    });
    let (out, _) = irel_within(&["tags", &format!("{addr}/h/app")], Duration::from_secs(60));
    let err = one_line_failure(&out);
    assert!(
        err.contains(&addr) && err.contains("already read") && err.contains("last=1"),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_obtained_for_one_registry_is_never_sent_to_another() {
    // One auth service for two registries (same realm and service), bob's account on it.
    let pki = Pki::generate();
    let tokens = TokenServer::start(&pki, "bob", "pw-bob-shared");
    let (a, b) = (
        Registry::start_with(tokens.registry_config()),
        Registry::start_with(tokens.registry_config()),
    );
    let layout = a.scratch().join("layout");
    make_layout(&layout, "t", &[1024], &["amd64"], 62);
    for r in [&a, &b] {
        skopeo_push(
            &layout,
            "t",
            &format!("{}/h/app:t", r.addr),
            &["--dest-creds", "bob:pw-bob-shared"],
        );
    }
    // irel has bob's password for A, and another (wrong) credential for B.
    let mut creds = StaticCredentials::default();
    creds.insert(
        &a.addr,
        Credential::Basic {
            username: "bob".into(),
            password: "pw-bob-shared".into(),
        },
    );
    creds.insert(
        &b.addr,
        Credential::Basic {
            username: "mallory".into(),
            password: "not-bobs".into(),
        },
    );
    let client = irel::Client::builder().credentials(creds).build().unwrap();
    let on = |r: &Registry| format!("{}/h/app:t", r.addr).parse::<irel::Reference>().unwrap();
    client.digest(&on(&a)).await.expect("bob's token for A");
    let asked = tokens.requests.lock().unwrap().len();
    // The same scopes, realm and service on B: B's own credential is asked for a token (and
    // refused), bob's token from A is not sent to B.
    let err = client
        .digest(&on(&b))
        .await
        .expect_err("B must not be served with a token minted for A's credentials");
    assert!(err.to_string().contains("credentials were rejected"), "{err}");
    assert!(tokens.requests.lock().unwrap().len() > asked, "B's token was asked for");
    assert!(
        !b.log_text().contains("\"bob\""),
        "B never saw a request authorized as bob"
    );
}

#[test]
fn credentials_never_go_over_plain_http_to_a_realm_host_not_marked_insecure() {
    // An https registry the user marked insecure, whose token realm is plain http on another
    // host (both names resolve to loopback here).
    let pki = Pki::generate();
    let tokens = TokenServer::start(&pki, "bob", "pw-bob-cleartext");
    let token_port = tokens
        .realm
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/token")
        .to_string();
    let realm = format!("http://auth.test:{token_port}/token");
    let mut cfg = tokens.registry_config();
    cfg.token.as_mut().unwrap().0 = realm.clone();
    cfg.tls = Some(pki.server());
    let reg = Registry::start_with(cfg);
    let registry = format!("reg.test:{}", reg.port);
    let image = format!("{registry}/h/app:t");
    let mut args = vec![
        "--resolve",
        "reg.test:127.0.0.1",
        "--resolve",
        "auth.test:127.0.0.1",
        "--insecure-registry",
        &registry,
        "--creds",
        "bob:pw-bob-cleartext",
    ];
    let base = args.len();
    args.extend(["digest", &image]);
    let (out, _) = irel_within(&args, Duration::from_secs(60));
    let err = one_line_failure(&out);
    let realm_host = format!("auth.test:{token_port}");
    assert!(
        err.contains(&realm) && err.contains(&format!("--insecure-registry {realm_host}")),
        "{err}"
    );
    assert!(!err.contains("pw-bob-cleartext"));
    assert!(
        tokens.requests.lock().unwrap().is_empty(),
        "the credentials never went to the realm"
    );
    // Marking the realm's host insecure too is the user's consent: the token is asked for.
    args.truncate(base);
    args.extend(["--insecure-registry", &realm_host, "digest", &image]);
    let _ = irel_within(&args, Duration::from_secs(60));
    assert!(!tokens.requests.lock().unwrap().is_empty(), "the realm was asked");
}

/// An https server on loopback (the test PKI's certificate) answering `METHOD path` with
/// `answer`: status, headers, body. HTTP/1.1, one thread per connection.
fn https_server(
    pki: &Pki,
    answer: impl Fn(&str, &str) -> (u16, Vec<(&'static str, String)>, Vec<u8>) + Send + Sync + 'static,
) -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (cert, key) = pki.server();
    let certs = CertificateDer::pem_file_iter(&cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&key).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, answer) = (config.clone(), answer.clone());
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut buf = Vec::new();
                loop {
                    // One request head (bodies are drained by Content-Length).
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match tls.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        let mut chunk = [0u8; 4096];
                        match tls.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + length);
                    let mut words = head.split_whitespace();
                    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                    let (status, headers, body) = answer(method, path);
                    let mut out = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
                    for (k, v) in headers {
                        out += &format!("{k}: {v}\r\n");
                    }
                    out += "\r\n";
                    let mut bytes = out.into_bytes();
                    if method != "HEAD" {
                        bytes.extend_from_slice(&body);
                    }
                    if tls.write_all(&bytes).and_then(|_| tls.flush()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A plain-http server that records the requests it gets (and answers 404).
fn recording_http_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let addr = crate::support::serve(move |req: hyper::Request<hyper::body::Incoming>| {
        log.lock().unwrap().push(format!("{} {}", req.method(), req.uri()));
        async move {
            hyper::Response::builder()
                .status(404)
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap()
        }
    });
    (addr.to_string(), seen)
}

#[test]
fn a_pagination_link_from_https_to_plain_http_is_refused() {
    let pki = Pki::generate();
    let (plain, seen) = recording_http_server();
    let next = format!("http://{plain}/v2/h/app/tags/list?last=a&n=1");
    let front = https_server(&pki, move |_, path| match path {
        "/v2/" => (200, vec![], b"{}".to_vec()),
        _ => (
            200,
            vec![
                ("content-type", "application/json".into()),
                ("link", format!("<{next}>; rel=\"next\"")),
            ],
            br#"{"name":"h/app","tags":["a"]}"#.to_vec(),
        ),
    });
    let ca = pki.ca();
    let (out, _) = irel_within(
        &[
            "--ca-cert-path",
            ca.to_str().unwrap(),
            "tags",
            &format!("{front}/h/app"),
        ],
        Duration::from_secs(60),
    );
    let err = one_line_failure(&out);
    assert!(
        err.contains("refused the pagination Link")
            && err.contains(&format!("http://{plain}/"))
            && err.contains("downgrades https to http"),
        "{err}"
    );
    assert!(seen.lock().unwrap().is_empty(), "nothing went to the http origin");
}

#[test]
fn an_upload_location_from_https_to_plain_http_is_refused() {
    let src = Registry::start();
    let layout = src.scratch().join("layout");
    make_layout(&layout, "t", &[1024], &["amd64"], 63);
    skopeo_push(&layout, "t", &format!("{}/h/app:t", src.addr), &[]);
    let pki = Pki::generate();
    let (plain, seen) = recording_http_server();
    let location = format!("http://{plain}/v2/h/app/blobs/uploads/session-1");
    let front = https_server(&pki, move |method, path| match (method, path) {
        (_, "/v2/") => (200, vec![], b"{}".to_vec()),
        ("POST", p) if p.starts_with("/v2/h/app/blobs/uploads/") => {
            (202, vec![("location", location.clone())], Vec::new())
        }
        _ => (
            404,
            vec![("content-type", "application/json".into())],
            br#"{"errors":[{"code":"NOT_FOUND","message":"no"}]}"#.to_vec(),
        ),
    });
    let ca = pki.ca();
    let (out, _) = irel_within(
        &[
            "--ca-cert-path",
            ca.to_str().unwrap(),
            "--quiet",
            "copy",
            &format!("{}/h/app:t", src.addr),
            &format!("{front}/h/app:t"),
        ],
        Duration::from_secs(60),
    );
    let err = one_line_failure(&out);
    assert!(
        err.contains("refused the upload Location")
            && err.contains(&format!("http://{plain}/"))
            && err.contains("downgrades https to http"),
        "{err}"
    );
    assert!(seen.lock().unwrap().is_empty(), "no blob went to the http origin");
}

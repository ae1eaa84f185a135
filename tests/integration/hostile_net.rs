//! Hostile networks and registries: servers that never answer or stall half-way, listings that
//! paginate forever, token realms and locations that would leak credentials or downgrade to
//! plain http. Each ends in a clear one-line error, in bounded time and memory.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{make_layout, skopeo_push, Action, Behaviour, Fault, Proxy, Registry};

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
    assert!(took < Duration::from_secs(30), "took {took:?}");
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

#[test]
fn a_blob_download_that_stalls_ends_with_an_error_and_leaves_no_partial() {
    let src = Registry::start();
    let layout = src.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[3 << 20], &["amd64"], 61);
    skopeo_push(&layout, "t", &format!("{}/h/app:t", src.addr), &[]);
    // Blob downloads send 1 MiB, then nothing, with the connection open (the config blob is
    // smaller and comes whole).
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
    let dest = tempfile::tempdir().unwrap();
    let (out, took) = irel_within(
        &[
            "--timeout",
            "1",
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
    let layer = fx.layers[0].trim_start_matches("sha256:");
    assert!(
        stderr.contains(layer) && stderr.contains("no data received for 1 s") && stderr.contains("raise --timeout"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let left: Vec<_> = files_under(dest.path())
        .into_iter()
        .filter(|f| f.ends_with(".partial") || f.contains(layer))
        .collect();
    assert!(left.is_empty(), "nothing of the stalled blob is left: {left:?}");
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

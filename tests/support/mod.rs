//! Test harness: real `docker-registry` servers on 127.0.0.1 ephemeral ports (plain http, TLS,
//! htpasswd, token auth), a token server signing real JWTs, OCI fixtures, and skopeo as an
//! independent peer. Nothing here imitates a registry.
#![allow(dead_code)]

pub mod fixtures;
pub mod matrix;
pub mod pki;
pub mod proxy;
pub mod token;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use fixtures::{make_layout, Fixture};
pub use pki::Pki;
pub use proxy::{Action, Behaviour, Fault, PeriodicFaults, Proxy, RandomFaults};
pub use token::TokenServer;

/// How a test registry is configured.
#[derive(Default, Clone)]
pub struct RegistryConfig {
    /// Serve TLS with this certificate and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Basic auth (htpasswd, bcrypt) for this user and password.
    pub basic_auth: Option<(String, String)>,
    /// Token auth: (realm, service, issuer, root certificate bundle).
    pub token: Option<(String, String, String, PathBuf)>,
    /// With `tls`: require client certificates signed by this CA (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// A running distribution registry; killed on drop.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The port.
    pub port: u16,
    /// The file the registry logs to (access log included).
    pub log: PathBuf,
    dir: tempfile::TempDir,
}

impl Registry {
    /// A plain-http registry with Basic auth for `user`.
    pub fn with_basic_auth(user: &str, password: &str) -> Registry {
        Self::start_with(RegistryConfig {
            basic_auth: Some((user.into(), password.into())),
            ..Default::default()
        })
    }

    /// A plain-http registry with no auth.
    pub fn start() -> Registry {
        Self::start_with(RegistryConfig::default())
    }

    /// A registry configured as `cfg` says.
    pub fn start_with(cfg: RegistryConfig) -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = dir.path().join("storage");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n  secret: irel-test-secret\n",
            storage.display()
        );
        if let Some((cert, key)) = &cfg.tls {
            yaml += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            );
            if let Some(ca) = &cfg.client_ca {
                yaml += &format!("    clientcas:\n      - {}\n", ca.display());
            }
        }
        if let Some((user, password)) = &cfg.basic_auth {
            let h = dir.path().join("htpasswd");
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd (apt-get install apache2-utils)");
            std::fs::write(&h, out.stdout).expect("write htpasswd");
            yaml += &format!("auth:\n  htpasswd:\n    realm: irel-test\n    path: {}\n", h.display());
        }
        if let Some((realm, service, issuer, bundle)) = &cfg.token {
            yaml += &format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                bundle.display()
            );
        }
        let config = dir.path().join("config.yml");
        std::fs::write(&config, yaml).expect("write config");
        let log = dir.path().join("registry.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(log_file.try_clone().expect("dup log"))
            .stderr(log_file)
            .spawn()
            .expect("start docker-registry (apt-get install docker-registry)");
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(p) = text.lines().find_map(|l| {
                let rest = &l[l.find("listening on 127.0.0.1:")? + "listening on 127.0.0.1:".len()..];
                rest.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u16>().ok()
            }) {
                break p;
            }
            assert!(Instant::now() < deadline, "registry did not start:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        };
        Registry {
            child,
            addr: format!("127.0.0.1:{port}"),
            port,
            log,
            dir,
        }
    }

    /// The registry's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A scratch directory that lives as long as the registry.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the irel binary.
pub fn irel(args: &[&str]) -> Output {
    irel_env(args, &[])
}

/// Runs the irel binary with extra environment (HOME is isolated unless given).
pub fn irel_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_irel"));
    cmd.args(args).stdin(Stdio::null());
    cmd.env("DOCKER_CONFIG", "/nonexistent-irel-test-docker-config");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run irel")
}

/// stdout of a successful command, trimmed; panics with stderr otherwise.
pub fn ok_stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs skopeo (policy checks off, TLS checks off: it is only the independent peer).
pub fn skopeo(args: &[&str]) -> Output {
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run skopeo (apt-get install skopeo)");
    out
}

/// Pushes an OCI layout's image into a registry with skopeo, all instances and digests kept.
pub fn skopeo_push(layout: &Path, tag: &str, dest: &str, extra: &[&str]) {
    let src = format!("oci:{}:{tag}", layout.display());
    let dst = format!("docker://{dest}");
    let mut args = vec!["copy", "--all", "--preserve-digests", "--dest-tls-verify=false"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[&src, &dst]);
    let out = skopeo(&args);
    assert!(
        out.status.success(),
        "skopeo push failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The digest of the raw manifest skopeo reads for `reference` (docker://…).
pub fn skopeo_digest(reference: &str, extra: &[&str]) -> String {
    let mut args = vec!["inspect", "--raw", "--tls-verify=false"];
    args.extend_from_slice(extra);
    let r = format!("docker://{reference}");
    args.push(&r);
    let out = skopeo(&args);
    assert!(
        out.status.success(),
        "skopeo inspect {reference} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    irel::Digest::sha256_of(&out.stdout).to_string()
}

/// Pulls every instance of `reference` into a fresh OCI layout with skopeo: proves the copy is
/// complete and pullable, not just that its manifest exists.
pub fn skopeo_pull_all(reference: &str, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["copy", "--all", "--preserve-digests", "--src-tls-verify=false"];
    args.extend_from_slice(extra);
    let src = format!("docker://{reference}");
    let dst = format!("oci:{}:pulled", dir.path().display());
    args.extend_from_slice(&[&src, &dst]);
    let out = skopeo(&args);
    assert!(
        out.status.success(),
        "skopeo pull {reference} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Serves HTTP/1 on `listener` with `handler`, from a thread of its own, until the test process
/// ends. Returns the listener's address.
pub fn serve<F, Fut, B>(handler: F) -> std::net::SocketAddr
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = hyper::Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = std::sync::Arc::new(handler);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let handler = handler.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let response = handler(req);
                        async move { Ok::<_, std::convert::Infallible>(response.await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
    });
    addr
}

/// A line-oriented reader over a child's output, for servers that announce their port.
pub fn first_line(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read line");
    line
}

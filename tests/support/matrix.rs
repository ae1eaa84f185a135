//! The registry matrix: one scenario, run against each registry implementation that installs
//! here. Each kind is started on 127.0.0.1 with an ephemeral port and storage of its own, with
//! the authentication it has:
//! - `Distribution`: Debian's docker-registry (distribution 2.8), htpasswd Basic auth.
//! - `Ferro`: ferro-oci-server (crates.io), no auth.
//! - `Zuul`: zuul-registry (PyPI), TLS and its own token service.
//!
//! `scripts/registries.sh` installs the last two into `$IREL_REGISTRY_CACHE` (default
//! `~/.cache/irel-registries`); a kind that is not installed makes its scenarios print
//! "skipped: not installed" (outside the test harness's capture) and count themselves in
//! `target/tmp/matrix-skipped`, which `scripts/test.sh` reports.

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Pki, Registry};

/// The user and password of every kind that has authentication.
pub const CREDS: &str = "pusher:pw";

/// A registry implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// distribution 2.8 (`docker-registry`).
    Distribution,
    /// ferro-oci-server.
    Ferro,
    /// zuul-registry.
    Zuul,
}

impl Kind {
    /// The implementation's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Distribution => "distribution",
            Kind::Ferro => "ferro-oci-server",
            Kind::Zuul => "zuul-registry",
        }
    }

    /// Whether pushing needs credentials.
    pub fn has_auth(self) -> bool {
        self != Kind::Ferro
    }

    /// The program, when it is installed (in the cache, else on PATH).
    pub fn program(self) -> Option<PathBuf> {
        let (cached, name) = match self {
            Kind::Distribution => (None, "docker-registry"),
            Kind::Ferro => (Some("ferro/bin/ferro-oci-server"), "ferro-oci-server"),
            Kind::Zuul => (Some("zuul/bin/zuul-registry"), "zuul-registry"),
        };
        if let Some(rel) = cached {
            let p = cache_dir().join(rel);
            if p.is_file() {
                return Some(p);
            }
        }
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    }
}

/// Where `scripts/registries.sh` installs.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("IREL_REGISTRY_CACHE") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/irel-registries"),
    }
}

/// Says, past the test harness's capture, that `scenario` did not run on `kind`, and counts it.
fn report_skipped(kind: Kind, scenario: &str) {
    let line = format!("matrix: {} {scenario}: skipped: not installed", kind.name());
    let _ = writeln!(std::io::stderr(), "{line}");
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("matrix-skipped");
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(file) {
        let _ = writeln!(f, "{line}");
    }
}

/// A running registry of some kind; stopped on drop.
pub struct Server {
    /// Its implementation.
    pub kind: Kind,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The CA its TLS certificate is signed by, when it serves TLS.
    pub ca: Option<PathBuf>,
    child: Option<Child>,
    _registry: Option<Registry>,
    _pki: Option<Pki>,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `kind` as the matrix runs it (zuul with TLS), or reports `scenario` skipped.
    pub fn start(kind: Kind, scenario: &str) -> Option<Server> {
        Self::start_with(kind, scenario, true)
    }

    /// Starts `kind` on plain http (for a proxy in front of it), or reports `scenario` skipped.
    pub fn start_plain(kind: Kind, scenario: &str) -> Option<Server> {
        Self::start_with(kind, scenario, false)
    }

    fn start_with(kind: Kind, scenario: &str, tls: bool) -> Option<Server> {
        let Some(program) = kind.program() else {
            report_skipped(kind, scenario);
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        Some(match kind {
            Kind::Distribution => {
                let registry = Registry::with_basic_auth("pusher", "pw");
                Server {
                    kind,
                    addr: registry.addr.clone(),
                    ca: None,
                    child: None,
                    _registry: Some(registry),
                    _pki: None,
                    dir,
                }
            }
            Kind::Ferro => {
                let port = free_port();
                let mut cmd = Command::new(program);
                cmd.env("FERRO_OCI_LISTEN", format!("127.0.0.1:{port}"))
                    .env("FERRO_OCI_STORAGE_DIR", dir.path().join("storage"));
                Self::spawn(kind, cmd, port, None, None, dir)
            }
            Kind::Zuul => {
                let port = free_port();
                let pki = tls.then(Pki::generate);
                let scheme = if tls { "https" } else { "http" };
                let mut yaml = format!(
                    "registry:\n  address: 127.0.0.1\n  port: {port}\n  public-url: {scheme}://127.0.0.1:{port}\n  secret: irel-test-secret\n  users:\n    - name: pusher\n      pass: pw\n      access: write\n  storage:\n    driver: filesystem\n    root: {}\n",
                    dir.path().join("storage").display()
                );
                if let Some(pki) = &pki {
                    let (cert, key) = pki.server();
                    yaml += &format!("  tls-cert: {}\n  tls-key: {}\n", cert.display(), key.display());
                }
                let config = dir.path().join("registry.yaml");
                std::fs::write(&config, yaml).unwrap();
                let mut cmd = Command::new(program);
                cmd.arg("-c").arg(&config).arg("serve");
                let ca = pki.as_ref().map(Pki::ca);
                Self::spawn(kind, cmd, port, ca, pki, dir)
            }
        })
    }

    fn spawn(
        kind: Kind,
        mut cmd: Command,
        port: u16,
        ca: Option<PathBuf>,
        pki: Option<Pki>,
        dir: tempfile::TempDir,
    ) -> Server {
        let log = dir.path().join("server.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", kind.name()));
        let server = Server {
            kind,
            addr: format!("127.0.0.1:{port}"),
            ca,
            child: Some(child),
            _registry: None,
            _pki: pki,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&server.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} did not start:\n{}",
                kind.name(),
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        match &self._registry {
            Some(r) => r.log_text(),
            None => std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default(),
        }
    }

    /// A scratch directory that lives as long as the server.
    pub fn scratch(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// `--creds` and `--ca-cert-path` as irel's commands take them (credentials are only sent
    /// to a registry that asks).
    pub fn irel_flags(&self) -> Vec<String> {
        let mut flags = vec!["--creds".to_string(), CREDS.to_string()];
        if let Some(ca) = &self.ca {
            flags.push("--ca-cert-path".into());
            flags.push(ca.display().to_string());
        }
        flags
    }

    /// skopeo's credentials for this server (its TLS checks are off in the helpers).
    pub fn skopeo_flags(&self, direction: &str) -> Vec<String> {
        if self.kind.has_auth() {
            vec![format!("--{direction}creds={CREDS}")]
        } else {
            Vec::new()
        }
    }

    /// A library client with this server's credentials and CA.
    pub fn client(&self) -> irel::Client {
        let mut creds = irel::auth::StaticCredentials::default();
        creds.insert(
            &self.addr,
            irel::auth::Credential::Basic {
                username: "pusher".into(),
                password: "pw".into(),
            },
        );
        let mut builder = irel::Client::builder().credentials(creds);
        if let Some(ca) = &self.ca {
            builder = builder.ca_certificate_file(ca).unwrap();
        }
        builder.build().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port nothing listens on now (the kinds that cannot announce an ephemeral port get it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

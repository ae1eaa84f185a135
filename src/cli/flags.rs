//! The flags that configure a command rather than name what it works on, in groups, each
//! offered only by the commands it does something for: `map` has no `--creds`, `logout` no
//! `--timeout`, `login` no `--retry-times`. [`Chosen`] gathers what the command line set, with
//! the defaults for the rest.

use std::path::PathBuf;

use clap::Args;

/// How to reach registries.
#[derive(Args, Clone, Debug)]
pub(super) struct Connection {
    /// Trust the PEM CA certificates in this file (repeatable).
    #[arg(long = "ca-cert-path", value_name = "PATH")]
    pub ca_cert_path: Vec<PathBuf>,
    /// Skip TLS verification and allow plain http for every registry (Go irel's flag).
    #[arg(long)]
    pub skip_tls_verify: bool,
    /// Skip TLS verification and allow plain http for this registry (repeatable).
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,
    /// Connect to HOST at ADDR instead of resolving it, like curl --resolve (repeatable;
    /// curl's HOST:PORT:ADDR is accepted too, for every port).
    #[arg(long, value_name = "HOST:ADDR")]
    pub resolve: Vec<String>,
    /// Give up on a registry that sends nothing for this long: no connection, no response, or
    /// a download that stalls (seconds, or 500ms, 30s, 2m; default: connect 30s, response
    /// 120s, stalled body 60s). Timeouts are retried like broken connections.
    #[arg(long, value_name = "DURATION", value_parser = irel::transport::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    #[command(flatten)]
    pub logs: Logs,
}

/// How often to try again.
#[derive(Args, Clone, Debug)]
pub(super) struct Retries {
    /// Send a failed request again, resume a broken download and restart a failed blob
    /// transfer up to N times each (429 and 503 answers have a budget of their own).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retry_times: u32,
}

/// Where credentials come from, beyond docker's and podman's files.
#[derive(Args, Clone, Debug)]
pub(super) struct Credentials {
    /// Credentials for the registries this command names (USER:PASSWORD).
    #[arg(long, value_name = "USER:PASSWORD")]
    pub creds: Option<String>,
    /// A containers auth.json to read credentials from (before docker's config.json).
    #[arg(long, value_name = "PATH")]
    pub authfile: Option<PathBuf>,
}

/// Everything a command that talks to registries takes.
#[derive(Args, Clone, Debug)]
pub(super) struct Remote {
    #[command(flatten)]
    pub connection: Connection,
    #[command(flatten)]
    pub retries: Retries,
    #[command(flatten)]
    pub credentials: Credentials,
}

/// Logs on stderr.
#[derive(Args, Clone, Debug)]
pub(super) struct Logs {
    /// Log retries and resumptions to stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Log every HTTP request (method, URL, status, time) to stderr; secrets are redacted.
    #[arg(long)]
    pub debug: bool,
}

/// Results as JSON.
#[derive(Args, Clone, Debug)]
pub(super) struct Json {
    /// Print results as JSON (one object per line).
    #[arg(long)]
    pub json: bool,
}

/// Progress bars.
#[derive(Args, Clone, Debug)]
pub(super) struct Quiet {
    /// Draw no progress bars (results and errors are still printed).
    #[arg(short, long)]
    pub quiet: bool,
}

/// The groups one command offers.
#[derive(Default)]
pub(super) struct Groups<'a> {
    pub connection: Option<&'a Connection>,
    pub retries: Option<&'a Retries>,
    pub credentials: Option<&'a Credentials>,
    pub json: Option<&'a Json>,
    pub quiet: Option<&'a Quiet>,
}

impl<'a> Groups<'a> {
    pub fn remote(remote: &'a Remote) -> Self {
        Groups {
            connection: Some(&remote.connection),
            retries: Some(&remote.retries),
            credentials: Some(&remote.credentials),
            ..Default::default()
        }
    }

    pub fn json(mut self, json: &'a Json) -> Self {
        self.json = Some(json);
        self
    }

    pub fn quiet(mut self, quiet: &'a Quiet) -> Self {
        self.quiet = Some(quiet);
        self
    }
}

/// What the command line set, defaults for the rest.
pub(super) struct Chosen {
    pub ca_cert_path: Vec<PathBuf>,
    pub skip_tls_verify: bool,
    pub insecure_registry: Vec<String>,
    pub resolve: Vec<String>,
    pub timeout: Option<std::time::Duration>,
    pub verbose: bool,
    pub debug: bool,
    pub retry_times: u32,
    pub creds: Option<String>,
    pub authfile: Option<PathBuf>,
    pub json: bool,
    pub quiet: bool,
}

impl From<Groups<'_>> for Chosen {
    fn from(g: Groups<'_>) -> Chosen {
        let c = g.connection;
        Chosen {
            ca_cert_path: c.map(|c| c.ca_cert_path.clone()).unwrap_or_default(),
            skip_tls_verify: c.is_some_and(|c| c.skip_tls_verify),
            insecure_registry: c.map(|c| c.insecure_registry.clone()).unwrap_or_default(),
            resolve: c.map(|c| c.resolve.clone()).unwrap_or_default(),
            timeout: c.and_then(|c| c.timeout),
            verbose: c.is_some_and(|c| c.logs.verbose),
            debug: c.is_some_and(|c| c.logs.debug),
            retry_times: g.retries.map_or(irel::session::DEFAULT_RETRIES, |r| r.retry_times),
            creds: g.credentials.and_then(|c| c.creds.clone()),
            authfile: g.credentials.and_then(|c| c.authfile.clone()),
            json: g.json.is_some_and(|j| j.json),
            quiet: g.quiet.is_some_and(|q| q.quiet),
        }
    }
}

/// The flags the command line set, those given before the command merged with those after it.
/// A flag before the command that the command does not offer is refused, naming both.
pub(super) fn merge_leading(
    matches: &clap::ArgMatches,
    remote: &Remote,
    json: &Json,
    quiet: &Quiet,
    offered: Groups<'_>,
) -> Result<Chosen, String> {
    // The command as typed, nested ones included (`layout add`).
    let mut names = Vec::new();
    let mut level = matches;
    while let Some((name, sub)) = level.subcommand() {
        names.push(name);
        level = sub;
    }
    let command = if names.is_empty() {
        "this command".to_string()
    } else {
        names.join(" ")
    };
    let given = |id: &str| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
    let refuse = |flag: &str| {
        Err(format!(
            "{flag}: `irel {command}` does not take it (`irel {command} --help` lists the flags it takes)"
        ))
    };
    let mut chosen = Chosen::from(Groups {
        connection: offered.connection,
        retries: offered.retries,
        credentials: offered.credentials,
        json: offered.json,
        quiet: offered.quiet,
    });
    let connection_ids = [
        ("ca_cert_path", "--ca-cert-path"),
        ("skip_tls_verify", "--skip-tls-verify"),
        ("insecure_registry", "--insecure-registry"),
        ("resolve", "--resolve"),
        ("timeout", "--timeout"),
        ("verbose", "--verbose"),
        ("debug", "--debug"),
    ];
    if let Some((_, flag)) = connection_ids.iter().find(|(id, _)| given(id)) {
        if offered.connection.is_none() {
            return refuse(flag);
        }
        let c = &remote.connection;
        chosen.ca_cert_path.extend(c.ca_cert_path.iter().cloned());
        chosen.skip_tls_verify |= c.skip_tls_verify;
        chosen.insecure_registry.extend(c.insecure_registry.iter().cloned());
        chosen.resolve.extend(c.resolve.iter().cloned());
        chosen.timeout = chosen.timeout.or(c.timeout);
        chosen.verbose |= c.logs.verbose;
        chosen.debug |= c.logs.debug;
    }
    if given("retry_times") {
        if offered.retries.is_none() {
            return refuse("--retry-times");
        }
        // The value after the command wins when both are given.
        let mut leaf = matches;
        while let Some((_, sub)) = leaf.subcommand() {
            leaf = sub;
        }
        let after_too = leaf.value_source("retry_times") == Some(clap::parser::ValueSource::CommandLine);
        if !after_too {
            chosen.retry_times = remote.retries.retry_times;
        }
    }
    for (id, flag) in [("creds", "--creds"), ("authfile", "--authfile")] {
        if given(id) && offered.credentials.is_none() {
            return refuse(flag);
        }
    }
    chosen.creds = chosen.creds.or_else(|| remote.credentials.creds.clone());
    chosen.authfile = chosen.authfile.or_else(|| remote.credentials.authfile.clone());
    if given("json") {
        if offered.json.is_none() {
            return refuse("--json");
        }
        chosen.json |= json.json;
    }
    if given("quiet") {
        if offered.quiet.is_none() {
            return refuse("--quiet");
        }
        chosen.quiet |= quiet.quiet;
    }
    Ok(chosen)
}

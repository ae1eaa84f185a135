//! docker's credential helper protocol: `docker-credential-<name> get|store|erase`, the server
//! on stdin, JSON on stdout. Helpers keep secrets in the OS keychain or a cloud's token service
//! (`osxkeychain`, `secretservice`, `pass`, `ecr-login`, `gcloud`…).

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use super::{Credential, Error};

/// A credential helper program, `docker-credential-<name>` on `PATH`.
///
/// ```no_run
/// # fn demo() -> Result<(), irel::auth::Error> {
/// use irel::auth::CredentialHelper;
/// let helper = CredentialHelper::new("pass");
/// assert_eq!(helper.program(), "docker-credential-pass");
/// match helper.get("registry.example")? {
///     Some(credential) => println!("{credential:?}"), // the secret is never shown
///     None => println!("{} has nothing for registry.example", helper.program()),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct CredentialHelper {
    name: String,
    /// Answers already given, so a run spawns each helper once per registry.
    cache: Mutex<HashMap<String, Option<Credential>>>,
}

#[derive(serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct HelperCredential {
    #[serde(rename = "ServerURL", default)]
    server_url: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    secret: String,
}

/// The user name helpers give for an identity token instead of a password.
const TOKEN_USER: &str = "<token>";

impl CredentialHelper {
    /// The helper `docker-credential-<name>`.
    pub fn new(name: &str) -> CredentialHelper {
        CredentialHelper {
            name: name.to_string(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The program's name.
    pub fn program(&self) -> String {
        format!("docker-credential-{}", self.name)
    }

    /// What the helper has for `server`; `Ok(None)` when it has nothing.
    pub fn get(&self, server: &str) -> Result<Option<Credential>, Error> {
        if let Some(known) = self.cache.lock().expect("helper cache poisoned").get(server) {
            return Ok(known.clone());
        }
        let out = self.run("get", server.as_bytes())?;
        let found = if out.status.success() {
            let c: HelperCredential = serde_json::from_slice(&out.stdout)
                .map_err(|e| self.failed(format!("its answer is not the helper protocol's JSON: {e}")))?;
            match (c.username.as_str(), c.secret.is_empty()) {
                (_, true) => None,
                (TOKEN_USER, false) => Some(Credential::IdentityToken(c.secret)),
                (user, false) => Some(Credential::Basic {
                    username: user.to_string(),
                    password: c.secret,
                }),
            }
        } else {
            let said = String::from_utf8_lossy(&out.stdout).to_lowercase()
                + &String::from_utf8_lossy(&out.stderr).to_lowercase();
            if !said.contains("not found") {
                return Err(self.failed(format!("it exited with {}", out.status)));
            }
            None
        };
        self.cache
            .lock()
            .expect("helper cache poisoned")
            .insert(server.to_string(), found.clone());
        Ok(found)
    }

    /// Stores a user name and secret for `server`.
    pub fn store(&self, server: &str, username: &str, secret: &str) -> Result<(), Error> {
        let input = serde_json::to_vec(&HelperCredential {
            server_url: server.to_string(),
            username: username.to_string(),
            secret: secret.to_string(),
        })
        .expect("serializable");
        let out = self.run("store", &input)?;
        if !out.status.success() {
            return Err(self.failed(format!("store exited with {}", out.status)));
        }
        Ok(())
    }

    /// Forgets `server`.
    pub fn erase(&self, server: &str) -> Result<(), Error> {
        let out = self.run("erase", server.as_bytes())?;
        if !out.status.success() {
            return Err(self.failed(format!("erase exited with {}", out.status)));
        }
        Ok(())
    }

    fn run(&self, action: &str, input: &[u8]) -> Result<std::process::Output, Error> {
        let mut child = Command::new(self.program())
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.failed(format!("cannot run it ({e}); is it installed and on PATH?")))?;
        // A helper that exits without reading its input closes the pipe: its exit status says
        // what happened.
        let _ = child.stdin.take().expect("piped stdin").write_all(input);
        child
            .wait_with_output()
            .map_err(|e| self.failed(format!("waiting for it: {e}")))
    }

    fn failed(&self, reason: String) -> Error {
        // Never the helper's output: it may hold the secret.
        Error::CredentialHelper {
            helper: self.program(),
            reason,
        }
    }
}

//! How a command fails: one line on stderr and an exit code (1 failure, 2 usage, 130
//! interrupted), and how a library error becomes that line, naming the image it is about when
//! a command works on several.

use irel::Reference;

use super::hints;
use super::interrupt::Interrupted;

/// A failure worth one line on stderr, and the exit code it ends with.
pub(super) struct Failure {
    pub(super) message: String,
    pub(super) exit: u8,
}

/// Exit code of a command that failed.
pub(super) const FAILED: u8 = 1;
/// Exit code of a command line that is wrong (as clap's own errors).
pub(super) const USAGE: u8 = 2;
/// Exit code after Ctrl-C or SIGTERM (128 + SIGINT), as shells report it.
pub(super) const INTERRUPTED: u8 = 130;

impl Failure {
    /// The command failed (exit 1).
    pub(super) fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            exit: FAILED,
        }
    }

    /// The command line is wrong: a bad reference, digest or flag value (exit 2).
    pub(super) fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            exit: USAGE,
        }
    }
}

// `main` prints nothing for it: the signal watcher has said so already.
impl From<Interrupted> for Failure {
    fn from(_: Interrupted) -> Self {
        Failure {
            message: "interrupted".into(),
            exit: INTERRUPTED,
        }
    }
}

// A library error is shown with the command's flags for what the user can do.
impl From<irel::Error> for Failure {
    fn from(e: irel::Error) -> Self {
        Failure::new(hints::explain(&e))
    }
}

impl From<irel::auth::Error> for Failure {
    fn from(e: irel::auth::Error) -> Self {
        irel::Error::from(e).into()
    }
}

// Files the command reads or writes, and JSON it prints: their errors say all there is.
impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::new(e.to_string())
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        Failure::new(e.to_string())
    }
}

/// A failure of a command that works on several images, naming the side whose registry
/// failed, as the user wrote it and (when Docker's rules changed it) as irel read it:
/// `destination image 127.0.0.1:15100 (docker.io/library/127.0.0.1:15100): …`.
pub(super) fn naming_side(e: irel::Error, sides: &[(&str, &str, &Reference)]) -> Failure {
    let host = e.registry_host().map(|h| h.to_ascii_lowercase());
    let matching: Vec<_> = sides
        .iter()
        .filter(|(_, _, r)| host.as_deref() == Some(&r.api_host().to_ascii_lowercase()))
        .collect();
    match matching.as_slice() {
        [(what, typed, r)] => {
            let typed = typed.strip_prefix("docker://").unwrap_or(typed);
            let read = r.to_string();
            let shown = if read == typed {
                typed.to_string()
            } else {
                format!("{typed} ({read})")
            };
            Failure::new(format!("{what} {shown}: {}", hints::explain(&e)))
        }
        _ => Failure::from(e),
    }
}

//! What the user can do about an error, as a value: the library's messages say it in words
//! (the [`Remedy`]'s `Display`), and a program that has its own way to say it (a command
//! line's flags, a form's fields) finds it with [`Error::remedy`](crate::Error::remedy).
//!
//! This module imports nothing from the crate, so every layer's error type can carry one.

/// Something the user can do about an error, when irel knows.
///
/// An error that has one says it in its message as this `Display`, word for word, so a program
/// can find those words there and say the same in its own terms (the `irel` command names its
/// flags instead).
///
/// ```
/// use irel::Remedy;
/// let r = Remedy::MarkInsecure { registry: "127.0.0.1:5000".into() };
/// assert_eq!(r.to_string(), "if you trust the network to it, mark 127.0.0.1:5000 insecure");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Remedy {
    /// Mark the registry (or token server) insecure: plain http and TLS without verification
    /// are then allowed to it.
    MarkInsecure {
        /// `host[:port]`.
        registry: String,
    },
    /// Log in to the registry, or give credentials for it.
    GiveCredentials {
        /// `host[:port]`.
        registry: String,
    },
    /// Give credentials for the registry a sync reads from.
    GiveSourceCredentials {
        /// `host[:port]`.
        registry: String,
    },
    /// Allow more time for each wait (connecting, the response, each part of a body).
    RaiseTimeout,
    /// List the repository's tags, to see which exist.
    ListTags {
        /// The repository, as `registry/path`.
        repository: String,
    },
    /// Check the repository's name against the registry's catalog (where the registry
    /// allows listing it).
    ListRepositories {
        /// `host[:port]` as the user named it.
        registry: String,
    },
    /// Choose no platform: copy the image as it is.
    ChooseNoPlatform,
    /// Append no suffix to the tags a sync writes.
    NoTagSuffix,
    /// Name each synced image after its whole source path, so that images of the same last
    /// name do not land in one place.
    ScopeNames,
}

impl std::fmt::Display for Remedy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Remedy::MarkInsecure { registry } => {
                write!(f, "if you trust the network to it, mark {registry} insecure")
            }
            Remedy::GiveCredentials { registry } => write!(f, "log in to {registry}, or give credentials for it"),
            Remedy::GiveSourceCredentials { registry } => {
                write!(f, "give credentials for {registry}, the source")
            }
            Remedy::RaiseTimeout => f.write_str("raise the timeout if the registry is slow"),
            Remedy::ListTags { repository } => write!(f, "list the tags of {repository} to see which there are"),
            Remedy::ListRepositories { registry } => write!(
                f,
                "check the repository's name (the catalog of {registry} lists them where the registry allows)"
            ),
            Remedy::ChooseNoPlatform => f.write_str("choose no platform to copy it as it is"),
            Remedy::NoTagSuffix => f.write_str("sync it without a tag suffix"),
            Remedy::ScopeNames => f.write_str("name the images after their whole source path to keep them apart"),
        }
    }
}

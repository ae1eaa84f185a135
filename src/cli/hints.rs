//! What the user can do about a library error, said with the command's flags: the library
//! says it in words ([`irel::Remedy`]), and every line that shows a library error goes through
//! [`explain`], which puts the flags in the words' place.

use irel::Remedy;

/// Where the command takes what a remedy needs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Terms {
    /// The command line's flags.
    Flags,
    /// A sync task file (`sync --config`), which gives each task's credentials itself and
    /// refuses the credential flags.
    TaskFile,
}

/// The remedy in the command's terms, where it has terms of its own for it.
fn hint(remedy: &Remedy, terms: Terms) -> Option<String> {
    Some(match remedy {
        Remedy::GiveCredentials { registry } if terms == Terms::TaskFile => {
            format!("`irel login {registry}`, or give the task an auth for {registry} in the task file")
        }
        Remedy::MarkInsecure { registry } => {
            format!("if you trust the network to it, pass --insecure-registry {registry} (or --skip-tls-verify)")
        }
        Remedy::GiveCredentials { registry } => {
            format!("`irel login {registry}`, or pass --creds (--src-creds/--dest-creds for a copy)")
        }
        Remedy::GiveSourceCredentials { registry } => format!("give credentials for {registry} (--src-creds)"),
        Remedy::RaiseTimeout => "raise --timeout if the registry is slow".into(),
        Remedy::ListTags { repository } => format!("`irel tags {repository}` lists the tags there are"),
        Remedy::ListRepositories { registry } => {
            format!("check the repository's name (`irel catalog {registry}` lists them where the registry allows)")
        }
        Remedy::ChooseNoPlatform => "drop --platform to copy it as it is".into(),
        Remedy::NoTagSuffix => "drop --append-suffix".into(),
        Remedy::ScopeNames => "use --scoped to keep the names apart".into(),
        _ => return None,
    })
}

/// The error's message with each remedy it says in words said with the command's flags
/// instead (in the same place, as the library promises the words are there; at the end if
/// they are not).
pub(super) fn explain(e: &irel::Error) -> String {
    explain_in(e, Terms::Flags)
}

/// [`explain`] in the given terms.
pub(super) fn explain_in(e: &irel::Error, terms: Terms) -> String {
    let mut shown = e.to_string();
    for remedy in e.remedies() {
        let Some(hint) = hint(&remedy, terms) else { continue };
        let words = remedy.to_string();
        if shown.contains(&words) {
            shown = shown.replace(&words, &hint);
        } else {
            shown = format!("{shown}; {hint}");
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_take_the_place_of_the_words() {
        let e = irel::Error::from(irel::transport::Error::PlainHttpRefused {
            registry: "lab:5000".into(),
        });
        let shown = explain(&e);
        assert!(
            shown.ends_with(
                "; if you trust the network to it, pass --insecure-registry lab:5000 (or --skip-tls-verify)"
            ),
            "{shown}"
        );
        assert!(!shown.contains("mark lab:5000 insecure"), "{shown}");
    }

    #[test]
    fn a_task_file_gives_credentials_itself() {
        let e = irel::Error::Registry {
            operation: "GET manifest".into(),
            url: "https://r.example/v2/a/manifests/1".into(),
            status: http::StatusCode::UNAUTHORIZED,
            errors: Vec::new(),
            hint: Some(Box::new(irel::RegistryHint {
                cause: "r.example requires authentication".into(),
                remedy: Some(Remedy::GiveCredentials {
                    registry: "r.example".into(),
                }),
            })),
            retry_after: None,
        };
        assert!(
            explain(&e).ends_with("; `irel login r.example`, or pass --creds (--src-creds/--dest-creds for a copy))")
        );
        let shown = explain_in(&e, Terms::TaskFile);
        assert!(
            shown.ends_with("; `irel login r.example`, or give the task an auth for r.example in the task file)"),
            "{shown}"
        );
    }

    #[test]
    fn a_remedy_of_a_cause_is_said_too() {
        let unauthorized = irel::Error::Registry {
            operation: "GET tags".into(),
            url: "https://r.example/v2/a/tags/list".into(),
            status: http::StatusCode::UNAUTHORIZED,
            errors: Vec::new(),
            hint: Some(Box::new(irel::RegistryHint {
                cause: "r.example requires authentication and irel has no credentials for it".into(),
                remedy: Some(Remedy::GiveCredentials {
                    registry: "r.example".into(),
                }),
            })),
            retry_after: None,
        };
        let e = irel::Error::TagsUnlisted {
            registry: "r.example".into(),
            repository: "r.example/a".into(),
            source: Box::new(unauthorized),
            remedy: Some(Remedy::GiveSourceCredentials {
                registry: "r.example".into(),
            }),
        };
        let shown = explain(&e);
        assert!(shown.contains("(r.example requires authentication and irel has no credentials for it; `irel login r.example`, or pass --creds (--src-creds/--dest-creds for a copy))"), "{shown}");
        assert!(
            shown.ends_with("; give credentials for r.example (--src-creds), or name a tag (REPO:TAG)"),
            "{shown}"
        );
    }
}

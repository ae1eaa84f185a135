//! `irel login REGISTRY`: checks the credentials against the registry, then stores them where
//! docker reads them (config.json, 0600, or its credential helper).

use std::io::Read;

use irel::auth::{Credential, StaticCredentials, Stored};

use crate::cli::args::LoginArgs;
use crate::cli::client::base_builder;
use crate::cli::interrupt::{block_on, block_on_blocking};
use crate::cli::{Cli, Failure};

pub(crate) fn run(cli: &Cli, args: &LoginArgs) -> Result<(), Failure> {
    let LoginArgs {
        registry,
        username,
        password,
        password_stdin,
        ..
    } = args;
    let password = match (password.as_deref(), *password_stdin) {
        (Some(p), false) => p.to_string(),
        (None, true) => {
            // On a thread of its own, so that Ctrl-C at a terminal waiting for input ends irel.
            let p = block_on_blocking(|| {
                let mut p = String::new();
                std::io::stdin().read_to_string(&mut p).map(|_| p)
            })??;
            p.trim_end_matches(['\n', '\r']).to_string()
        }
        _ => return Err(Failure::usage("login: give the password with --password-stdin (or -p)")),
    };
    if password.is_empty() {
        return Err(Failure::new("login: the password is empty"));
    }
    let mut creds = StaticCredentials::default();
    creds.insert(
        registry,
        Credential::Basic {
            username: username.into(),
            password: password.clone(),
        },
    );
    // Only the credentials being saved: a stored login must not vouch for them.
    let client = base_builder(cli)?.credentials(creds).build()?;
    block_on(client.registry().check_login(registry))??;
    let config =
        irel::auth::docker_config_path().ok_or_else(|| Failure::new("login: neither DOCKER_CONFIG nor HOME is set"))?;
    match irel::auth::store_login(&config, registry, username, &password)? {
        Stored::File(path) => outln!("Login Succeeded (credentials stored in {})", path.display()),
        Stored::Helper(program) => outln!("Login Succeeded (credentials stored by {program})"),
    }
    Ok(())
}

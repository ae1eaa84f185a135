//! `irel login` and `irel logout`, writing where docker reads.

use std::io::Read;

use irel::auth::{Credential, StaticCredentials, Stored};

use super::{base_builder, Cli, Failure};

pub(super) fn login(
    cli: &Cli,
    registry: &str,
    username: &str,
    password: Option<&str>,
    password_stdin: bool,
) -> Result<(), Failure> {
    let password = match (password, password_stdin) {
        (Some(p), false) => p.to_string(),
        (None, true) => {
            let mut p = String::new();
            std::io::stdin().read_to_string(&mut p)?;
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
    super::runtime()?.block_on(client.check_login(registry))?;
    let config =
        irel::auth::docker_config_path().ok_or_else(|| Failure::new("login: neither DOCKER_CONFIG nor HOME is set"))?;
    match irel::auth::store_login(&config, registry, username, &password)? {
        Stored::File(path) => outln!("Login Succeeded (credentials stored in {})", path.display()),
        Stored::Helper(program) => outln!("Login Succeeded (credentials stored by {program})"),
    }
    Ok(())
}

pub(super) fn logout(registry: &str) -> Result<(), Failure> {
    let config = irel::auth::docker_config_path()
        .ok_or_else(|| Failure::new("logout: neither DOCKER_CONFIG nor HOME is set"))?;
    if irel::auth::remove_login(&config, registry)? {
        outln!("Removed login credentials for {registry}");
        Ok(())
    } else {
        Err(Failure::new(format!("not logged in to {registry}")))
    }
}

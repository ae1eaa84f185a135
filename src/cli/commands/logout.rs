//! `irel logout REGISTRY`: removes the credentials `irel login` (or docker) stored for it.

use crate::cli::args::LogoutArgs;
use crate::cli::Failure;

pub(crate) fn run(args: &LogoutArgs) -> Result<(), Failure> {
    let registry = &args.registry;
    let config = irel::auth::docker_config_path()
        .ok_or_else(|| Failure::new("logout: neither DOCKER_CONFIG nor HOME is set"))?;
    if irel::auth::remove_login(&config, registry)? {
        outln!("Removed login credentials for {registry}");
        Ok(())
    } else {
        Err(Failure::new(format!("not logged in to {registry}")))
    }
}

//! `irel catalog REGISTRY`: every repository of a registry, one per line (all pages of
//! `/v2/_catalog`).

use crate::cli::args::CatalogArgs;
use crate::cli::client::client_for;
use crate::cli::interrupt::block_on;
use crate::cli::operands::parse_ref;
use crate::cli::output::print_lines;
use crate::cli::{Cli, Failure};

pub(crate) fn run(cli: &Cli, args: &CatalogArgs) -> Result<(), Failure> {
    let registry = &args.registry;
    if registry.contains("://") {
        return Err(Failure::usage(format!(
            "catalog {registry}: give the registry as HOST[:PORT], without a scheme (irel finds it)"
        )));
    }
    // Any repository of the registry names it for credentials.
    let r = parse_ref("registry", &format!("{registry}/catalog"))?;
    let client = client_for(cli, &[(&r, None, "--creds")])?;
    let repositories = block_on(client.registry().catalog(r.registry(), None))??;
    if cli.flags.json {
        outln!(
            "{}",
            serde_json::json!({"registry": registry, "repositories": repositories})
        );
    } else {
        print_lines(&repositories);
    }
    Ok(())
}

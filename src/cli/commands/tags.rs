//! `irel tags REPO`: every tag of a repository, one per line (all pages).

use crate::cli::args::TagsArgs;
use crate::cli::client::client_for;
use crate::cli::interrupt::block_on;
use crate::cli::operands::parse_ref;
use crate::cli::output::print_lines;
use crate::cli::{Cli, Failure};

pub(crate) fn run(cli: &Cli, args: &TagsArgs) -> Result<(), Failure> {
    let r = parse_ref("repository", &args.repository)?;
    let client = client_for(cli, &[(&r, None, "--creds")])?;
    let tags = block_on(client.registry().tags(&r.to_repository()))??;
    if cli.flags.json {
        outln!("{}", serde_json::json!({"repository": r.name(), "tags": tags}));
    } else {
        print_lines(&tags);
    }
    Ok(())
}

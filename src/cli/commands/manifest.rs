//! `irel manifest REF [--platform P]`: an image's manifest, its exact bytes on stdout.

use std::io::Write;

use crate::cli::args::ManifestArgs;
use crate::cli::client::client_for;
use crate::cli::interrupt::block_on;
use crate::cli::operands::parse_ref;
use crate::cli::{Cli, Failure};

pub(crate) fn run(cli: &Cli, args: &ManifestArgs) -> Result<(), Failure> {
    let r = parse_ref("image", &args.reference)?;
    let client = client_for(cli, &[(&r, None, "--creds")])?;
    let r = match &args.platform {
        Some(p) => block_on(client.resolve_platform(&r, p))??,
        None => r,
    };
    let m = block_on(client.registry().get_manifest(&r))??;
    std::io::stdout().write_all(&m.bytes)?;
    Ok(())
}

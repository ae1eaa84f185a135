//! `irel digest REF`: the digest of an image's manifest, hashed from its bytes, or with
//! `--unverified` the one a HEAD announces.

use crate::cli::args::DigestArgs;
use crate::cli::client::client_for;
use crate::cli::failure::naming_side;
use crate::cli::interrupt::block_on;
use crate::cli::operands::parse_ref;
use crate::cli::{Cli, Failure};

pub(crate) fn run(cli: &Cli, args: &DigestArgs) -> Result<(), Failure> {
    let DigestArgs {
        reference, unverified, ..
    } = args;
    let r = parse_ref("image", reference)?;
    let client = client_for(cli, &[(&r, None, "--creds")])?;
    let sides = [("image", reference.as_str(), &r)];
    let digest = match unverified {
        true => block_on(client.registry().registry_digest(&r))?,
        false => block_on(client.digest(&r))?,
    }
    .map_err(|e| naming_side(e, &sides))?;
    if cli.flags.json {
        outln!(
            "{}",
            serde_json::json!({"image": r.to_string(), "digest": digest.to_string(), "verified": !unverified})
        );
    } else {
        outln!("{digest}");
    }
    Ok(())
}

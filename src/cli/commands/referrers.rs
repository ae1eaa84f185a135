//! `irel referrers REF [--artifact-type T]`: the signatures, SBOMs and attestations that name
//! an image, `DIGEST ARTIFACT_TYPE` per line.

use crate::cli::args::ReferrersArgs;
use crate::cli::client::client_for;
use crate::cli::interrupt::block_on;
use crate::cli::operands::parse_ref;
use crate::cli::output::print_lines;
use crate::cli::{Cli, Failure};

pub(crate) fn run(cli: &Cli, args: &ReferrersArgs) -> Result<(), Failure> {
    let r = parse_ref("image", &args.reference)?;
    let client = client_for(cli, &[(&r, None, "--creds")])?;
    let subject = match r.digest() {
        Some(d) => d.clone(),
        None => block_on(client.digest(&r))??,
    };
    let found = block_on(
        client
            .registry()
            .referrers(&r.to_repository(), &subject, args.artifact_type.as_deref()),
    )??;
    if cli.flags.json {
        outln!(
            "{}",
            serde_json::json!({"subject": r.with_digest(subject).to_string(), "referrers": found})
        );
    } else {
        let lines: Vec<String> = found
            .iter()
            .map(|f| format!("{} {}", f.digest, f.artifact_type.as_deref().unwrap_or("-")))
            .collect();
        print_lines(&lines);
    }
    Ok(())
}

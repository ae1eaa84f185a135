//! `irel map -r PREFIX REF`: where an image goes when relocated under a prefix, as Go irel
//! prints it. No registry is asked.

use crate::cli::args::MapArgs;
use crate::cli::operands::{bare_registry_advice, parse_ref_as_docker};
use crate::cli::{Cli, Failure};

pub(crate) fn run(cli: &Cli, args: &MapArgs) -> Result<(), Failure> {
    let MapArgs {
        repository_prefix,
        reference,
        ..
    } = args;
    // Go irel's output, byte for byte, whatever the input; a likely mistake gets a warning.
    let original = parse_ref_as_docker("image", reference)?;
    if let Some(advice) = bare_registry_advice(reference, &original) {
        errln!("irel: warning: image {reference}: {advice}");
    }
    let mapped = irel::mapping::flatten_repo_path_preserve_tag_digest(repository_prefix, &original)
        .map_err(|e| Failure::usage(e.to_string()))?;
    match cli.flags.json {
        true => outln!(
            "{}",
            serde_json::json!({"original": reference, "relocated": mapped.to_string()})
        ),
        false => outln!("{mapped}"),
    }
    Ok(())
}

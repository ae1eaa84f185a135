//! `irel completions SHELL`: a completion script, generated from the grammar in
//! [`crate::cli::args`].

use crate::cli::args::{Args, CompletionsArgs};
use crate::cli::Failure;

pub(crate) fn run(args: &CompletionsArgs) -> Result<(), Failure> {
    use clap::CommandFactory;
    // Into memory first: a reader that goes away (`| head`) is not an error of irel's.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Args::command(), "irel", &mut script);
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), &script);
    Ok(())
}

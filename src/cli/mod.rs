//! The `irel` command: parses the command line ([`args`], [`flags`]), runs the command
//! ([`commands`]), and ends with one line on stderr and an exit code for a failure
//! ([`failure`]) or an interrupt ([`interrupt`]). Every command is library calls; the CLI
//! only turns arguments into configuration ([`client`], [`operands`]) and results into lines
//! ([`output`], [`progress`]).

use std::process::ExitCode;

use args::{Args, Cli, Command};
use failure::{Failure, INTERRUPTED, USAGE};

#[macro_use]
mod output;
mod args;
mod client;
mod commands;
mod failure;
mod flags;
mod hints;
mod interrupt;
mod operands;
mod progress;

pub fn main() -> ExitCode {
    use clap::{CommandFactory as _, FromArgMatches as _};
    let matches = Args::command().mut_args(|a| a.hide(true)).get_matches();
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let flags = match flags::merge_leading(&matches, &args.remote, &args.json, &args.quiet, args.command.groups()) {
        Ok(flags) => flags,
        Err(message) => {
            errln!("irel: {message}");
            return ExitCode::from(USAGE);
        }
    };
    if let Some((flag, why)) = args.skopeo.first_refused() {
        errln!("irel: {flag}: irel does not take this skopeo flag: {why}");
        return ExitCode::from(USAGE);
    }
    let cli = Cli {
        flags,
        command: args.command,
    };
    if cli.flags.debug || cli.flags.verbose {
        let level = if cli.flags.debug {
            tracing::Level::DEBUG
        } else {
            tracing::Level::INFO
        };
        // Colour only for a person at a terminal, and never against NO_COLOR (no-color.org).
        let colour = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_target(false)
            .with_ansi(colour)
            .with_writer(std::io::stderr)
            .init();
    }
    if let Err(failure) = interrupt::install() {
        errln!("irel: {}", failure.message);
        return ExitCode::FAILURE;
    }
    let result = run(cli);
    let exit = if interrupt::stopped() {
        // Whatever the command returned, the watcher has said why it ended.
        interrupt::settle();
        ExitCode::from(INTERRUPTED)
    } else {
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => {
                errln!("irel: {}", failure.message);
                ExitCode::from(failure.exit)
            }
        }
    };
    interrupt::finish();
    exit
}

fn run(cli: Cli) -> Result<(), Failure> {
    use commands::*;
    match &cli.command {
        Command::Copy(args) => copy::run(&cli, args),
        Command::Digest(args) => digest::run(&cli, args),
        Command::Map(args) => map::run(&cli, args),
        Command::Layout(cmd) => layout::run(&cli, cmd),
        Command::Save(args) => save::run(&cli, args),
        Command::Relocate(args) => relocate::run(&cli, args),
        Command::Sync(args) => sync::run(&cli, args),
        Command::Bench(args) => bench::run(&cli, args),
        Command::Tags(args) => tags::run(&cli, args),
        Command::Catalog(args) => catalog::run(&cli, args),
        Command::Manifest(args) => manifest::run(&cli, args),
        Command::Referrers(args) => referrers::run(&cli, args),
        Command::Inspect(args) => inspect::run(&cli, args),
        Command::Login(args) => login::run(&cli, args),
        Command::Logout(args) => logout::run(args),
        Command::Completions(args) => completions::run(args),
    }
}

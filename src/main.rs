//! The `irel` command: parses arguments, calls the library, prints results, and maps errors to
//! exit codes (0 ok, 1 failure, 2 usage).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}

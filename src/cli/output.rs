//! Every line the CLI prints goes through here, escaped with [`irel::text::terminal_safe`]:
//! tags, repository names, artifact types and error messages come from registries, bundles and
//! layouts irel does not trust, and must not drive the terminal or forge `irel:` lines.

use std::io::Write;

/// Prints a line on stdout, control characters escaped (as `println!` otherwise).
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::output::stdout_line(&format!($($arg)*)) };
}

/// Prints a line on stderr, control characters escaped (as `eprintln!` otherwise).
macro_rules! errln {
    ($($arg:tt)*) => { $crate::cli::output::stderr_line(&format!($($arg)*)) };
}

pub(crate) fn stdout_line(line: &str) {
    // A reader that went away (`irel tags | head`) is not an error of irel's.
    let _ = writeln!(std::io::stdout().lock(), "{}", irel::text::terminal_safe(line));
}

pub(crate) fn stderr_line(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", irel::text::terminal_safe(line));
}

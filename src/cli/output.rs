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
    super::progress::suspended(|| {
        let _ = writeln!(std::io::stdout().lock(), "{}", irel::text::terminal_safe(line));
    });
}

pub(crate) fn stderr_line(line: &str) {
    super::progress::suspended(|| {
        let _ = writeln!(std::io::stderr().lock(), "{}", irel::text::terminal_safe(line));
    });
}

/// Prints each line as it is (tags, repositories: one per line).
pub(crate) fn print_lines(lines: &[String]) {
    for l in lines {
        outln!("{l}");
    }
}

/// A byte count for a person: `2.3 GiB`, `512 B`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Bytes as the sync summary shows them: in human units at a terminal, exact when the output
/// is read by a program.
pub(crate) fn shown_bytes(n: u64) -> String {
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        human_bytes(n)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn byte_counts_read_as_people_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(2_447_584_678), "2.3 GiB");
    }
}

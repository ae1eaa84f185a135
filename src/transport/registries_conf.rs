//! Insecure registries from the containers tools' `registries.conf` (TOML), the part irel
//! needs: `[[registry]]` tables with `location` and `insecure = true` (version 2), and
//! `[registries.insecure] registries = [...]` (version 1). Other settings are left to podman.

use std::path::PathBuf;

/// The `host[:port]`s a registries.conf marks insecure.
///
/// ```
/// let conf = "[[registry]]\nlocation = \"lab:5000\"\ninsecure = true\n\n[[registry]]\nlocation = \"quay.io\"\n";
/// assert_eq!(irel::transport::insecure_registries(conf), ["lab:5000"]);
/// ```
pub fn insecure_registries(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut table = String::new();
    let (mut location, mut insecure) = (None::<String>, false);
    let finish = |table: &str, location: &mut Option<String>, insecure: &mut bool, out: &mut Vec<String>| {
        if table == "[[registry]]" && *insecure {
            if let Some(l) = location.take() {
                out.push(l);
            }
        }
        *location = None;
        *insecure = false;
    };
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.starts_with('[') {
            finish(&table, &mut location, &mut insecure, &mut out);
            table = line.replace(' ', "");
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match (table.as_str(), key) {
            ("[[registry]]", "location") => location = unquote(value).map(str::to_string),
            ("[[registry]]", "insecure") => insecure = value == "true",
            ("[registries.insecure]", "registries") => {
                out.extend(
                    value
                        .trim_matches(['[', ']'])
                        .split(',')
                        .filter_map(|v| unquote(v.trim()))
                        .map(str::to_string),
                );
            }
            _ => {}
        }
    }
    finish(&table, &mut location, &mut insecure, &mut out);
    out.retain(|l| !l.is_empty());
    out
}

fn unquote(v: &str) -> Option<&str> {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
}

/// The registries.conf files the containers tools read: `$CONTAINERS_REGISTRIES_CONF` if set,
/// else `~/.config/containers/registries.conf` and `/etc/containers/registries.conf`.
pub(crate) fn default_files() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("CONTAINERS_REGISTRIES_CONF") {
        return vec![PathBuf::from(p)];
    }
    let mut files = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        files.push(PathBuf::from(home).join(".config/containers/registries.conf"));
    }
    files.push(PathBuf::from("/etc/containers/registries.conf"));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_versions_and_comments() {
        let v2 = r#"
unqualified-search-registries = ["docker.io"]
[[registry]]
location = "lab.example:5000" # the lab
insecure = true
[[registry.mirror]]
location = "mirror.example"
[[registry]]
location = 'secure.example'
insecure = false
"#;
        assert_eq!(insecure_registries(v2), ["lab.example:5000"]);
        let v1 = "[registries.insecure]\nregistries = ['a.example', \"b.example:5000\"]\n";
        assert_eq!(insecure_registries(v1), ["a.example", "b.example:5000"]);
    }
}

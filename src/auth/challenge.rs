//! `WWW-Authenticate` parsing (RFC 7235): several challenges per header, case-insensitive scheme
//! and parameter names, quoted strings with `\` escapes and commas inside quotes.

use super::Error;

/// One authentication challenge, e.g. `Bearer realm="…",service="…"`.
///
/// ```
/// use irel::auth::parse_challenges;
/// let c = parse_challenges(r#"Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push""#).unwrap();
/// assert_eq!(c[0].scheme, "bearer");
/// assert_eq!(c[0].param("scope"), Some("repository:a/b:pull,push"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lowercased (`bearer`, `basic`).
    pub scheme: String,
    /// Parameters in order, names lowercased.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Upper bound on one header value; anything longer is hostile or broken.
const MAX_HEADER_LEN: usize = 16 * 1024;

/// Parses every challenge in one `WWW-Authenticate` value.
pub fn parse_challenges(header: &str) -> Result<Vec<Challenge>, Error> {
    if header.len() > MAX_HEADER_LEN {
        return Err(Error::Challenge {
            header: header[..64].to_string() + "…",
            reason: format!("longer than {MAX_HEADER_LEN} bytes"),
        });
    }
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        p.skip(|b| b == b' ' || b == b'\t' || b == b',');
        if p.done() {
            break;
        }
        let scheme = p.token();
        if scheme.is_empty() {
            return Err(p.error(header, "expected an authentication scheme"));
        }
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: Vec::new(),
        };
        loop {
            p.skip(|b| b == b' ' || b == b'\t' || b == b',');
            let save = p.i;
            let name = p.token();
            p.skip(|b| b == b' ' || b == b'\t');
            if name.is_empty() || !p.eat(b'=') {
                // Not `name=`: the start of the next challenge.
                p.i = save;
                break;
            }
            p.skip(|b| b == b' ' || b == b'\t');
            let value = if p.eat(b'"') {
                p.quoted().ok_or_else(|| p.error(header, "unclosed quoted string"))?
            } else {
                p.token().to_string()
            };
            challenge.params.push((name.to_ascii_lowercase(), value));
        }
        out.push(challenge);
    }
    Ok(out)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }

    fn skip(&mut self, f: impl Fn(u8) -> bool) {
        while self.i < self.s.len() && f(self.s[self.i]) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// An RFC 7230 token.
    fn token(&mut self) -> &'a str {
        let start = self.i;
        self.skip(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/:".contains(&b));
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default()
    }

    fn quoted(&mut self) -> Option<String> {
        let mut out = Vec::new();
        while self.i < self.s.len() {
            let b = self.s[self.i];
            self.i += 1;
            match b {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' if self.i < self.s.len() => {
                    out.push(self.s[self.i]);
                    self.i += 1;
                }
                _ => out.push(b),
            }
        }
        None
    }

    fn error(&self, header: &str, reason: &str) -> Error {
        Error::Challenge {
            header: header.chars().take(200).collect(),
            reason: format!("{reason} at byte {}", self.i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_challenges_on_one_line() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token", service="registry.docker.io", scope="repository:docker/docker:pull", Basic realm="GitHub Package Registry""#,
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(c[0].param("scope"), Some("repository:docker/docker:pull"));
        assert_eq!(c[1].scheme, "basic");
        assert_eq!(c[1].param("realm"), Some("GitHub Package Registry"));
    }

    #[test]
    fn case_insensitive_names_and_unquoted_values() {
        let c = parse_challenges(r#"BaSiC ReAlM="x""#).unwrap();
        assert_eq!((c[0].scheme.as_str(), c[0].param("realm")), ("basic", Some("x")));
        let c = parse_challenges("Basic realm=unquoted").unwrap();
        assert_eq!(c[0].param("realm"), Some("unquoted"));
    }

    #[test]
    fn commas_in_quotes_and_escapes() {
        let c = parse_challenges(r#"Bearer scope="repository:a/b:pull,push",slashed="he\"\l\lo""#).unwrap();
        assert_eq!(c[0].param("scope"), Some("repository:a/b:pull,push"));
        assert_eq!(c[0].param("slashed"), Some("he\"llo"));
    }

    #[test]
    fn unclosed_quote_is_an_error() {
        assert!(parse_challenges(r#"Bearer realm="x"#).is_err());
    }

    #[test]
    fn enormous_header_is_refused() {
        let h = format!("Bearer realm=\"{}\"", "a".repeat(20_000));
        assert!(parse_challenges(&h).is_err());
    }

    #[test]
    fn bare_scheme_and_insufficient_scope_error() {
        let c = parse_challenges("Negotiate, Bearer realm=\"r\",error=\"insufficient_scope\"").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "negotiate");
        assert_eq!(c[1].param("error"), Some("insufficient_scope"));
    }
}

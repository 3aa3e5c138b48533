//! `WWW-Authenticate` challenges (RFC 7235): `Bearer realm="…",service="…"`, `Basic realm="…"`.

use std::collections::HashMap;

/// One authentication challenge: its scheme (lowercased) and parameters (names lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `bearer`, `basic`, …
    pub scheme: String,
    /// `realm`, `service`, `scope`, … with their unquoted values.
    pub params: HashMap<String, String>,
}

/// Parse every challenge in one header value. Malformed trailing parts are ignored, as
/// Go's parser does, because a registry's odd header must not make it unusable.
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut parser = Parser {
        bytes: header.as_bytes(),
        pos: 0,
    };
    let mut challenges = Vec::new();
    loop {
        parser.skip(|b| b == b' ' || b == b'\t' || b == b',');
        let scheme = parser.token();
        if scheme.is_empty() {
            break;
        }
        let mut params = HashMap::new();
        loop {
            parser.skip(|b| b == b' ' || b == b'\t' || b == b',');
            let checkpoint = parser.pos;
            let name = parser.token();
            parser.skip(|b| b == b' ' || b == b'\t');
            if name.is_empty() || !parser.eat(b'=') {
                // Not `name=`: the start of the next challenge (or the end).
                parser.pos = checkpoint;
                break;
            }
            parser.skip(|b| b == b' ' || b == b'\t');
            let value = if parser.eat(b'"') {
                parser.quoted()
            } else {
                parser.token()
            };
            params.insert(name.to_ascii_lowercase(), value);
        }
        challenges.push(Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params,
        });
    }
    challenges
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip(&mut self, skipped: impl Fn(u8) -> bool) {
        while self.pos < self.bytes.len() && skipped(self.bytes[self.pos]) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, wanted: u8) -> bool {
        if self.bytes.get(self.pos) == Some(&wanted) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// An RFC 7230 token (also accepts `/` and `:` so unquoted URLs and scopes survive).
    fn token(&mut self) -> String {
        let start = self.pos;
        self.skip(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/:".contains(&b));
        String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned()
    }

    /// The rest of a quoted string whose opening quote was consumed; `\x` escapes `x`.
    fn quoted(&mut self) -> String {
        let mut value = Vec::new();
        while let Some(&b) = self.bytes.get(self.pos) {
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(&escaped) = self.bytes.get(self.pos) {
                        value.push(escaped);
                        self.pos += 1;
                    }
                }
                _ => value.push(b),
            }
        }
        String::from_utf8_lossy(&value).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_with_quoted_params() {
        let parsed = parse(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push",error="insufficient_scope""#,
        );
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].scheme, "bearer");
        assert_eq!(parsed[0].params["realm"], "https://auth.example.com/token");
        assert_eq!(parsed[0].params["service"], "registry.example.com");
        assert_eq!(parsed[0].params["scope"], "repository:a/b:pull,push");
        assert_eq!(parsed[0].params["error"], "insufficient_scope");
    }

    #[test]
    fn parses_several_challenges_and_unquoted_values() {
        let parsed =
            parse(r#"Basic realm="a \"quoted\" realm", Bearer Realm=https://x/t , service=svc"#);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].scheme, "basic");
        assert_eq!(parsed[0].params["realm"], r#"a "quoted" realm"#);
        assert_eq!(parsed[1].scheme, "bearer");
        assert_eq!(parsed[1].params["realm"], "https://x/t");
        assert_eq!(parsed[1].params["service"], "svc");
    }

    #[test]
    fn empty_and_bare_schemes() {
        assert!(parse("").is_empty());
        let parsed = parse("Negotiate");
        assert_eq!(parsed.len(), 1);
        assert!(parsed[0].params.is_empty());
    }
}

//! The hand-written reference matchers against the regexes they replaced (the patterns of
//! distribution/reference's regexp.go, go-digest and containers/image `oci/internal`,
//! written for the `regex` crate with Go's ASCII-only classes). Every generated string
//! must get the same verdict and the same captured parts from both, and
//! `parse_reference` the same value or error message.

use regex::Regex;

use super::docker::{
    is_docker_domain, is_full_image_id, is_tag, match_reference, parse_reference,
    split_docker_name, ReferenceParts,
};
use super::go_digest::{is_any_digest, parse_go_digest};
use super::is_oci_image_name;
use crate::Result;

const NAME_COMPONENT: &str = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*";
const DOMAIN_COMPONENT: &str = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const TAG: &str = r"[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";
const DIGEST: &str = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}";

/// A parsed reference's domain, path, tag and digest.
type ParsedReference = (String, String, Option<String>, Option<String>);

/// The regexes the matchers replaced, compiled once per test.
struct OldGrammar {
    reference: Regex,
    anchored_name: Regex,
    anchored_domain: Regex,
    anchored_tag: Regex,
    image_id: Regex,
    any_digest: Regex,
    oci_image_name: Regex,
}

impl OldGrammar {
    fn new() -> OldGrammar {
        let domain = format!(r"{DOMAIN_COMPONENT}(?:\.{DOMAIN_COMPONENT})*(?::[0-9]+)?");
        let name = format!(r"(?:{domain}/)?{NAME_COMPONENT}(?:/{NAME_COMPONENT})*");
        let oci_component = r"[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*";
        let compile = |pattern: &str| Regex::new(pattern).unwrap();
        OldGrammar {
            reference: compile(&format!(r"^({name})(?::({TAG}))?(?:@({DIGEST}))?$")),
            anchored_name: compile(&format!(
                r"^(?:({domain})/)?({NAME_COMPONENT}(?:/{NAME_COMPONENT})*)$"
            )),
            anchored_domain: compile(&format!("^{domain}$")),
            anchored_tag: compile(&format!("^{TAG}$")),
            image_id: compile(r"^[a-f0-9]{64}$"),
            any_digest: compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"),
            oci_image_name: compile(&format!("^{oci_component}(?:/{oci_component})*$")),
        }
    }

    fn reference<'a>(&self, s: &'a str) -> Option<ReferenceParts<'a>> {
        let captures = self.reference.captures(s)?;
        Some(ReferenceParts {
            name: captures.get(1).map_or("", |m| m.as_str()),
            tag: captures.get(2).map(|m| m.as_str()),
            digest: captures.get(3).map(|m| m.as_str()),
        })
    }

    fn split_name<'a>(&self, s: &'a str) -> Option<(&'a str, &'a str)> {
        let captures = self.anchored_name.captures(s)?;
        Some((
            captures.get(1).map_or("", |m| m.as_str()),
            captures.get(2).map_or("", |m| m.as_str()),
        ))
    }

    /// `parse_reference` as it was written on top of the regexes, as (domain, path, tag,
    /// digest).
    fn parse_reference(&self, s: &str) -> Result<ParsedReference> {
        let Some(parts) = self.reference(s) else {
            if self.reference.is_match(&s.to_lowercase()) {
                anyhow::bail!("repository name must be lowercase");
            }
            anyhow::bail!("invalid reference format");
        };
        if parts.name.len() > super::NAME_TOTAL_LENGTH_MAX {
            anyhow::bail!("repository name must not be more than 255 characters");
        }
        let (domain, path) = self.split_name(parts.name).unwrap_or(("", parts.name));
        let digest = match parts.digest {
            Some(digest) => Some(parse_go_digest(digest)?.to_string()),
            None => None,
        };
        Ok((
            domain.to_string(),
            path.to_string(),
            parts.tag.map(str::to_string),
            digest,
        ))
    }
}

/// A fixed-seed SplitMix64: the same strings on every run, without a dependency.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// One of `valid`, or one of `invalid` one time in eight.
    fn mostly<'a>(&mut self, valid: &[&'a str], invalid: &[&'a str]) -> &'a str {
        if self.below(8) == 0 {
            self.pick(invalid)
        } else {
            self.pick(valid)
        }
    }

    /// A run of `len` characters drawn from `alphabet`.
    fn run(&mut self, alphabet: &str, len: usize) -> String {
        let chars: Vec<char> = alphabet.chars().collect();
        (0..len).map(|_| chars[self.below(chars.len())]).collect()
    }

    /// Something close to the reference grammar: an optional domain, path components
    /// with every kind of separator (a few invalid), an optional tag and an optional
    /// digest, each part valid more often than not.
    fn near_reference(&mut self) -> String {
        let mut out = String::new();
        if self.below(2) == 0 {
            let host_parts = 1 + self.below(3);
            let hosts: Vec<&str> = (0..host_parts)
                .map(|_| self.mostly(&["a", "Z9", "a-b", "a--0", "localhost"], &["-a", "a-", ""]))
                .collect();
            out.push_str(&hosts.join("."));
            out.push_str(self.mostly(&["", ":5000", ":0"], &[":", ":5x", "::1"]));
            out.push('/');
        }
        let components = 1 + self.below(3);
        for i in 0..components {
            if i > 0 {
                out.push('/');
            }
            for j in 0..1 + self.below(3) {
                if j > 0 {
                    out.push_str(self.mostly(
                        &[".", "_", "__", "-", "--", "---", ""],
                        &["___", ".-", "-.", "..", "_-"],
                    ));
                }
                let len = 1 + self.below(3);
                let alphabet = self.mostly(&["ab09"], &["ab09A"]);
                out.push_str(&self.run(alphabet, len));
            }
        }
        if self.below(2) == 0 {
            out.push(':');
            out.push_str(self.mostly(&["a", "Z", "_", "9"], &["", ".", "-"]));
            let len = self.pick(&[0, 1, 3, 126, 127, 127, 128]);
            out.push_str(&self.run("aZ_9.-", len));
        }
        if self.below(2) == 0 {
            out.push('@');
            out.push_str(self.mostly(
                &["sha256", "sha512", "sha384", "a.b+c", "A1-b_C"],
                &["1a", "a..b", ""],
            ));
            out.push(':');
            let len = self.pick(&[31, 32, 64, 65, 96, 128]);
            out.push_str(&self.run("0af9AF0af9", len));
        }
        out
    }

    /// A few characters changed, inserted or removed, to land on both sides of each rule.
    fn mutate(&mut self, s: &str) -> String {
        let mut chars: Vec<char> = s.chars().collect();
        for _ in 0..self.below(3) {
            let replacement = self.pick(&[
                'a', 'Z', '0', '.', '-', '_', '/', ':', '@', '+', '=', '[', 'é', '\u{212A}',
            ]);
            let at = self.below(chars.len() + 1);
            match self.below(3) {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 if at < chars.len() => chars[at] = replacement,
                _ => chars.insert(at, replacement),
            }
        }
        chars.into_iter().collect()
    }

    /// Fragments that matter to some rule, glued together at random.
    fn tokens(&mut self) -> String {
        const TOKENS: &[&str] = &[
            "a",
            "z",
            "0",
            "9",
            "A",
            "Z",
            "f",
            ".",
            "_",
            "__",
            "-",
            "--",
            "/",
            ":",
            "@",
            "+",
            "=",
            "localhost",
            "5000",
            "sha256",
            "sha512",
            "[",
            "]",
            "::1",
            "é",
            "\u{212A}",
            " ",
            "\n",
            "0123456789abcdef0123456789abcdef",
            "0123456789ABCDEF0123456789abcdef",
        ];
        let count = self.below(9);
        (0..count).map(|_| self.pick(TOKENS)).collect()
    }
}

/// Hand-picked edge cases, then many generated strings from a fixed seed.
fn cases() -> Vec<String> {
    let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let mut cases: Vec<String> = [
        "",
        "a",
        "A",
        "localhost:5000/a",
        "localhost:5000/a:tag",
        "[::1]:5000/a",
        "[::1]/a",
        "a__b",
        "a___b",
        "a--b",
        "a---b",
        "a.-b",
        "a-.b",
        "a._b",
        "a..b",
        "a.",
        "a_",
        "a-",
        "a/",
        "/a",
        "a//b",
        "-a",
        "a:",
        "a@",
        "a:b@",
        "a:5000",
        "a:5000/",
        "a:5000/b:c",
        "a:b:c",
        "a:/b",
        "a.com:/b",
        "a-.com/b",
        "a.com-/b",
        "A.COM/b",
        "A.COM/B",
        "a_b.com/c",
        "a_b:5000/c",
        "ünï",
        "\u{212A}",
        "a:\u{212A}",
        "a\n",
        " a",
        "a b",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for len in [236, 237, 238, 254, 255, 256] {
        cases.push("a".repeat(len));
        cases.push(format!("docker.io/library/{}", "a".repeat(len)));
        cases.push(format!("{}.com/a", "a".repeat(len)));
    }
    for len in [0, 1, 127, 128, 129] {
        let tag = "t".repeat(len);
        cases.push(format!("a:{tag}"));
        cases.push(tag.clone());
        cases.push(format!("_{tag}"));
        cases.push(format!(".{tag}"));
    }
    for algorithm in [
        "sha256", "sha384", "sha512", "SHA256", "a", "a1", "1a", "a.b+c", "a-b_c", "a--b", "a.",
        ".a", "", "a:b",
    ] {
        for encoded in [
            &hex[..31],
            &hex[..32],
            hex,
            &format!("{hex}0"),
            &hex.to_uppercase(),
            &format!("{hex}{hex}"),
            "",
            "a=b_c-d",
            "a:b",
        ] {
            cases.push(format!("{algorithm}:{encoded}"));
            cases.push(format!("a@{algorithm}:{encoded}"));
            cases.push(format!("a.com/b:t@{algorithm}:{encoded}"));
        }
    }
    cases.push(hex.to_string());
    cases.push(hex.to_uppercase());
    cases.push(format!("{hex}0"));
    cases.push(hex[1..].to_string());

    let mut generator = Generator(0x5eed_0f5c_0905);
    for _ in 0..4_000 {
        let near = generator.near_reference();
        let mutated = generator.mutate(&near);
        cases.push(near);
        cases.push(mutated);
        cases.push(generator.tokens());
        let len = generator.below(12);
        cases.push(generator.run("aA0-._/:@+=", len));
    }
    cases
}

#[test]
fn hand_matchers_agree_with_the_regexes_they_replaced() {
    let old = OldGrammar::new();
    let cases = cases();
    // How many strings each rule accepted: the generator must reach both sides of every
    // rule, or the comparison says little.
    let mut accepted = [0usize; 8];
    for s in &cases {
        let s = s.as_str();
        let reference = match_reference(s);
        assert_eq!(reference, old.reference(s), "reference {s:?}");
        let name = split_docker_name(s);
        assert_eq!(name, old.split_name(s), "name {s:?}");
        let domain = is_docker_domain(s);
        assert_eq!(domain, old.anchored_domain.is_match(s), "domain {s:?}");
        let tag = is_tag(s);
        assert_eq!(tag, old.anchored_tag.is_match(s), "tag {s:?}");
        let id = is_full_image_id(s);
        assert_eq!(id, old.image_id.is_match(s), "ID {s:?}");
        let digest = is_any_digest(s);
        assert_eq!(digest, old.any_digest.is_match(s), "digest {s:?}");
        let oci_name = is_oci_image_name(s);
        assert_eq!(oci_name, old.oci_image_name.is_match(s), "OCI name {s:?}");
        let parsed = parse_reference(s)
            .map(|r| {
                (
                    r.domain().to_string(),
                    r.path().to_string(),
                    r.tag().map(str::to_string),
                    r.digest().map(|d| d.to_string()),
                )
            })
            .map_err(|e| e.to_string());
        let old_parsed = old.parse_reference(s).map_err(|e| e.to_string());
        assert_eq!(parsed, old_parsed, "parse {s:?}");
        let verdicts = [
            reference.is_some(),
            name.is_some(),
            domain,
            tag,
            id,
            digest,
            oci_name,
            parsed.is_ok(),
        ];
        for (count, verdict) in accepted.iter_mut().zip(verdicts) {
            *count += usize::from(verdict);
        }
    }
    for (rule, count) in accepted.iter().enumerate() {
        assert!(
            *count > 0 && *count < cases.len(),
            "rule {rule} accepted {count} of {} strings",
            cases.len()
        );
    }
}

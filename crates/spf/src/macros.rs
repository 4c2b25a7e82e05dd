//! SPF macro strings (RFC 7208 section 7): parsing and expansion.

use std::fmt;
use std::net::IpAddr;

/// Where a macro string appears; decides which macro letters are legal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MacroContext {
    /// A `domain-spec` of a mechanism or of `redirect=` / `exp=`:
    /// letters `s l o d i p h v`, no spaces.
    Domain,
    /// The value of an unknown modifier: any macro letter, no spaces.
    Modifier,
    /// The explanation text fetched for `exp=`: all letters including
    /// `c r t`, and spaces.
    Explanation,
}

/// Why a macro string is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MacroSyntax {
    /// A character outside the allowed set (visible ASCII, plus space in
    /// explanations).
    Char,
    /// A `%` not followed by `{`, `%`, `_` or `-`, or a malformed `%{...}`.
    Macro,
    /// A macro letter not allowed in this context (e.g. `c` in a domain).
    Letter,
}

/// One piece of a macro string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacroToken {
    /// Literal text, copied as is.
    Literal(String),
    /// `%{...}`: a macro letter with its transformers.
    Macro {
        /// The macro letter, lowercased (`s l o d i p h v c r t`).
        letter: char,
        /// True when the letter was uppercase: the value is URL-escaped.
        url_escape: bool,
        /// Keep only this many right-hand parts (never 0).
        keep: Option<u32>,
        /// Reverse the parts (`r` transformer).
        reverse: bool,
        /// Delimiters to split on (empty means `.`).
        delimiters: String,
    },
    /// `%%`: a literal percent sign.
    Percent,
    /// `%_`: a space.
    Space,
    /// `%-`: a URL-encoded space (`%20`).
    UrlSpace,
}

/// A parsed macro string (RFC 7208 section 7.1), e.g. a `domain-spec`.
///
/// Keeps its source text for display and evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroString {
    text: String,
    tokens: Vec<MacroToken>,
}

impl MacroString {
    /// The text as written in the record.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed pieces.
    pub fn tokens(&self) -> &[MacroToken] {
        &self.tokens
    }

    /// True when the string contains no macro at all.
    pub fn is_literal(&self) -> bool {
        self.tokens
            .iter()
            .all(|t| matches!(t, MacroToken::Literal(_)))
    }

    /// True when expansion needs the `p` macro (a PTR lookup).
    pub(crate) fn uses_p(&self) -> bool {
        self.tokens
            .iter()
            .any(|t| matches!(t, MacroToken::Macro { letter: 'p', .. }))
    }

    /// Parses `text` as a macro string in the given context.
    pub(crate) fn parse(text: &str, ctx: MacroContext) -> Result<Self, MacroSyntax> {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '%' {
                let token = match chars.next() {
                    Some('%') => MacroToken::Percent,
                    Some('_') => MacroToken::Space,
                    Some('-') => MacroToken::UrlSpace,
                    Some('{') => parse_expand(&mut chars, ctx)?,
                    _ => return Err(MacroSyntax::Macro),
                };
                if !literal.is_empty() {
                    tokens.push(MacroToken::Literal(std::mem::take(&mut literal)));
                }
                tokens.push(token);
            } else if c.is_ascii_graphic() || (c == ' ' && ctx == MacroContext::Explanation) {
                literal.push(c);
            } else {
                return Err(MacroSyntax::Char);
            }
        }
        if !literal.is_empty() {
            tokens.push(MacroToken::Literal(literal));
        }
        Ok(MacroString {
            text: text.to_string(),
            tokens,
        })
    }

    /// Expands the macro string with the values in `env`.
    pub(crate) fn expand(&self, env: &MacroEnv<'_>) -> String {
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                MacroToken::Literal(s) => out.push_str(s),
                MacroToken::Percent => out.push('%'),
                MacroToken::Space => out.push(' '),
                MacroToken::UrlSpace => out.push_str("%20"),
                MacroToken::Macro {
                    letter,
                    url_escape,
                    keep,
                    reverse,
                    delimiters,
                } => {
                    let value = env.value(*letter);
                    let value = if keep.is_some() || *reverse || !delimiters.is_empty() {
                        transform(&value, *keep, *reverse, delimiters)
                    } else {
                        value
                    };
                    if *url_escape {
                        url_escape_into(&value, &mut out);
                    } else {
                        out.push_str(&value);
                    }
                }
            }
        }
        out
    }
}

impl fmt::Display for MacroString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parses the inside of `%{...}` (after the brace).
fn parse_expand(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    ctx: MacroContext,
) -> Result<MacroToken, MacroSyntax> {
    let raw = chars.next().ok_or(MacroSyntax::Macro)?;
    let letter = raw.to_ascii_lowercase();
    let allowed = match ctx {
        MacroContext::Domain => "slodiphv",
        MacroContext::Modifier | MacroContext::Explanation => "slodiphvcrt",
    };
    if !raw.is_ascii_alphabetic() {
        return Err(MacroSyntax::Macro);
    }
    if !allowed.contains(letter) {
        return Err(if "slodiphvcrt".contains(letter) {
            MacroSyntax::Letter
        } else {
            MacroSyntax::Macro
        });
    }
    let mut digits = String::new();
    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
        digits.push(d);
        chars.next();
    }
    let keep = if digits.is_empty() {
        None
    } else {
        // Saturate absurdly long digit strings; any value above the number
        // of parts keeps all of them.
        let n = digits.parse::<u32>().unwrap_or(u32::MAX);
        if n == 0 {
            return Err(MacroSyntax::Macro);
        }
        Some(n)
    };
    let mut reverse = false;
    if matches!(chars.peek(), Some('r') | Some('R')) {
        reverse = true;
        chars.next();
    }
    let mut delimiters = String::new();
    loop {
        match chars.next() {
            Some('}') => break,
            Some(d) if ".-+,/_=".contains(d) => delimiters.push(d),
            _ => return Err(MacroSyntax::Macro),
        }
    }
    Ok(MacroToken::Macro {
        letter,
        url_escape: raw.is_ascii_uppercase(),
        keep,
        reverse,
        delimiters,
    })
}

/// Splits on the delimiters, optionally reverses, keeps the right-hand
/// parts and joins with dots (RFC 7208 section 7.3).
fn transform(value: &str, keep: Option<u32>, reverse: bool, delimiters: &str) -> String {
    let delims = if delimiters.is_empty() {
        "."
    } else {
        delimiters
    };
    let mut parts: Vec<&str> = value.split(|c| delims.contains(c)).collect();
    if reverse {
        parts.reverse();
    }
    if let Some(n) = keep {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n < parts.len() {
            parts.drain(..parts.len() - n);
        }
    }
    parts.join(".")
}

/// URL-escapes everything outside the unreserved set of RFC 3986.
fn url_escape_into(value: &str, out: &mut String) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// The values macro letters expand to.
pub(crate) struct MacroEnv<'a> {
    pub sender: &'a str,
    pub local: &'a str,
    pub sender_domain: &'a str,
    pub domain: &'a str,
    pub ip: IpAddr,
    pub helo: &'a str,
    /// The validated PTR name (`p`), computed only when needed.
    pub validated: Option<&'a str>,
}

impl MacroEnv<'_> {
    fn value(&self, letter: char) -> String {
        match letter {
            's' => self.sender.to_string(),
            'l' => self.local.to_string(),
            'o' => self.sender_domain.to_string(),
            'd' => self.domain.to_string(),
            'i' => dotted_ip(self.ip),
            'p' => self.validated.unwrap_or("unknown").to_string(),
            'v' => match self.ip {
                IpAddr::V4(_) => "in-addr".to_string(),
                IpAddr::V6(_) => "ip6".to_string(),
            },
            'h' => self.helo.to_string(),
            'c' => self.ip.to_string(),
            // The receiving host is not known to a measurement tool.
            'r' => "unknown".to_string(),
            't' => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
                .to_string(),
            _ => String::new(),
        }
    }
}

/// The `i` macro: dotted quad for IPv4, 32 dot-separated nibbles for IPv6.
///
/// Nibbles are uppercase, as in the openspf test suite (pyspf); DNS is
/// case-insensitive, so queries are unaffected.
pub(crate) fn dotted_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let hex = format!("{:032X}", u128::from(v6));
            let nibbles: Vec<String> = hex.chars().map(String::from).collect();
            nibbles.join(".")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn env<'a>(local: &'a str, sender: &'a str) -> MacroEnv<'a> {
        MacroEnv {
            sender,
            local,
            sender_domain: "email.example.com",
            domain: "email.example.com",
            ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3)),
            helo: "mx.example.org",
            validated: None,
        }
    }

    fn exp(s: &str) -> String {
        let e = env("strong-bad", "strong-bad@email.example.com");
        MacroString::parse(s, MacroContext::Explanation)
            .unwrap()
            .expand(&e)
    }

    #[test]
    fn rfc7208_examples() {
        assert_eq!(exp("%{s}"), "strong-bad@email.example.com");
        assert_eq!(exp("%{o}"), "email.example.com");
        assert_eq!(exp("%{d}"), "email.example.com");
        assert_eq!(exp("%{d4}"), "email.example.com");
        assert_eq!(exp("%{d3}"), "email.example.com");
        assert_eq!(exp("%{d2}"), "example.com");
        assert_eq!(exp("%{d1}"), "com");
        assert_eq!(exp("%{dr}"), "com.example.email");
        assert_eq!(exp("%{d2r}"), "example.email");
        assert_eq!(exp("%{l}"), "strong-bad");
        assert_eq!(exp("%{l-}"), "strong.bad");
        assert_eq!(exp("%{lr}"), "strong-bad");
        assert_eq!(exp("%{lr-}"), "bad.strong");
        assert_eq!(exp("%{l1r-}"), "strong");
        assert_eq!(
            exp("%{ir}.%{v}._spf.%{d2}"),
            "3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(
            exp("%{lr-}.lp._spf.%{d2}"),
            "bad.strong.lp._spf.example.com"
        );
        assert_eq!(exp("%%%_%-"), "% %20");
    }

    #[test]
    fn url_escape_upper() {
        let e = env("~jack&jill=up-a_b3.c", "x");
        let m = MacroString::parse("%{L}", MacroContext::Domain).unwrap();
        assert_eq!(m.expand(&e), "~jack%26jill%3Dup-a_b3.c");
    }

    #[test]
    fn bad_macros() {
        for bad in [
            "%", "%x", "%{", "%{s", "%{a}", "%{d0}", "%{s!}", "a b", "%{sr1}",
        ] {
            assert!(
                MacroString::parse(bad, MacroContext::Domain).is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            MacroString::parse("%{c}", MacroContext::Domain),
            Err(MacroSyntax::Letter)
        );
        assert!(MacroString::parse("%{c} %{r} %{t}", MacroContext::Explanation).is_ok());
        assert!(MacroString::parse("%{d99999999999999999}", MacroContext::Domain).is_ok());
    }

    #[test]
    fn ip6_nibbles() {
        let ip: IpAddr = "2001:db8::cb01".parse().unwrap();
        assert_eq!(
            dotted_ip(ip),
            "2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1"
        );
    }
}

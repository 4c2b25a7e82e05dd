//! The SPF record grammar (RFC 7208 sections 4.5, 4.6, 5, 6, 12).
//!
//! [`parse_record`] checks the whole record before anything is evaluated,
//! as RFC 7208 section 4.6 requires: a syntax error anywhere is a
//! `permerror`, even after a matching mechanism.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::macros::{MacroContext, MacroString, MacroSyntax, MacroToken};

/// A mechanism qualifier (RFC 7208 section 4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qualifier {
    /// `+` (also the default when no qualifier is written).
    Pass,
    /// `-`.
    Fail,
    /// `~`.
    SoftFail,
    /// `?`.
    Neutral,
}

impl Qualifier {
    /// The qualifier character.
    pub fn as_char(self) -> char {
        match self {
            Qualifier::Pass => '+',
            Qualifier::Fail => '-',
            Qualifier::SoftFail => '~',
            Qualifier::Neutral => '?',
        }
    }

    /// The SPF result a matching mechanism with this qualifier produces.
    pub fn result(self) -> crate::SpfResult {
        match self {
            Qualifier::Pass => crate::SpfResult::Pass,
            Qualifier::Fail => crate::SpfResult::Fail,
            Qualifier::SoftFail => crate::SpfResult::Softfail,
            Qualifier::Neutral => crate::SpfResult::Neutral,
        }
    }
}

/// A mechanism (RFC 7208 section 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// `all`.
    All,
    /// `include:<domain-spec>`.
    Include(MacroString),
    /// `a[:<domain-spec>][/<cidr4>][//<cidr6>]`.
    A {
        /// The target; the current domain when absent.
        domain: Option<MacroString>,
        /// IPv4 prefix length (32 when absent).
        cidr4: Option<u8>,
        /// IPv6 prefix length (128 when absent).
        cidr6: Option<u8>,
    },
    /// `mx[:<domain-spec>][/<cidr4>][//<cidr6>]`.
    Mx {
        /// The target; the current domain when absent.
        domain: Option<MacroString>,
        /// IPv4 prefix length (32 when absent).
        cidr4: Option<u8>,
        /// IPv6 prefix length (128 when absent).
        cidr6: Option<u8>,
    },
    /// `ptr[:<domain-spec>]`.
    Ptr(Option<MacroString>),
    /// `ip4:<network>[/<cidr>]`.
    Ip4 {
        /// The network address as written.
        network: Ipv4Addr,
        /// Prefix length (32 when absent).
        cidr: Option<u8>,
    },
    /// `ip6:<network>[/<cidr>]`.
    Ip6 {
        /// The network address as written.
        network: Ipv6Addr,
        /// Prefix length (128 when absent).
        cidr: Option<u8>,
    },
    /// `exists:<domain-spec>`.
    Exists(MacroString),
}

impl Mechanism {
    /// The mechanism name (`all`, `include`, `a`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::All => "all",
            Mechanism::Include(_) => "include",
            Mechanism::A { .. } => "a",
            Mechanism::Mx { .. } => "mx",
            Mechanism::Ptr(_) => "ptr",
            Mechanism::Ip4 { .. } => "ip4",
            Mechanism::Ip6 { .. } => "ip6",
            Mechanism::Exists(_) => "exists",
        }
    }

    /// True for the mechanisms that count against the limit of 10 DNS
    /// lookups (`include`, `a`, `mx`, `ptr`, `exists`).
    pub fn does_dns_lookup(&self) -> bool {
        matches!(
            self,
            Mechanism::Include(_)
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr(_)
                | Mechanism::Exists(_)
        )
    }
}

fn write_dual_cidr(f: &mut fmt::Formatter<'_>, c4: Option<u8>, c6: Option<u8>) -> fmt::Result {
    if let Some(c) = c4 {
        write!(f, "/{c}")?;
    }
    if let Some(c) = c6 {
        write!(f, "//{c}")?;
    }
    Ok(())
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            Mechanism::All => Ok(()),
            Mechanism::Include(d) | Mechanism::Exists(d) => write!(f, ":{d}"),
            Mechanism::A {
                domain,
                cidr4,
                cidr6,
            }
            | Mechanism::Mx {
                domain,
                cidr4,
                cidr6,
            } => {
                if let Some(d) = domain {
                    write!(f, ":{d}")?;
                }
                write_dual_cidr(f, *cidr4, *cidr6)
            }
            Mechanism::Ptr(d) => match d {
                Some(d) => write!(f, ":{d}"),
                None => Ok(()),
            },
            Mechanism::Ip4 { network, cidr } => {
                write!(f, ":{network}")?;
                write_dual_cidr(f, *cidr, None)
            }
            Mechanism::Ip6 { network, cidr } => {
                write!(f, ":{network}")?;
                write_dual_cidr(f, *cidr, None)
            }
        }
    }
}

/// A qualified mechanism, e.g. `-all` or `include:_spf.example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The qualifier (`+` when none was written).
    pub qualifier: Qualifier,
    /// The mechanism.
    pub mechanism: Mechanism,
}

impl fmt::Display for Directive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.qualifier != Qualifier::Pass {
            write!(f, "{}", self.qualifier.as_char())?;
        }
        write!(f, "{}", self.mechanism)
    }
}

/// A modifier (RFC 7208 section 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    /// `redirect=<domain-spec>`.
    Redirect(MacroString),
    /// `exp=<domain-spec>`.
    Exp(MacroString),
    /// Any other `name=value`; ignored by evaluation.
    Unknown {
        /// The modifier name as written.
        name: String,
        /// The value (a valid macro string).
        value: MacroString,
    },
}

impl fmt::Display for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Modifier::Redirect(d) => write!(f, "redirect={d}"),
            Modifier::Exp(d) => write!(f, "exp={d}"),
            Modifier::Unknown { name, value } => write!(f, "{name}={value}"),
        }
    }
}

/// A term of an SPF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// A (qualified) mechanism.
    Directive(Directive),
    /// A modifier.
    Modifier(Modifier),
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Directive(d) => d.fmt(f),
            Term::Modifier(m) => m.fmt(f),
        }
    }
}

/// A parsed, syntactically valid `v=spf1` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The terms in record order.
    pub terms: Vec<Term>,
}

impl Record {
    /// The mechanisms, in evaluation order.
    pub fn directives(&self) -> impl Iterator<Item = &Directive> {
        self.terms.iter().filter_map(|t| match t {
            Term::Directive(d) => Some(d),
            Term::Modifier(_) => None,
        })
    }

    /// The `redirect=` target, if any.
    pub fn redirect(&self) -> Option<&MacroString> {
        self.terms.iter().find_map(|t| match t {
            Term::Modifier(Modifier::Redirect(d)) => Some(d),
            _ => None,
        })
    }

    /// The `exp=` target, if any.
    pub fn exp(&self) -> Option<&MacroString> {
        self.terms.iter().find_map(|t| match t {
            Term::Modifier(Modifier::Exp(d)) => Some(d),
            _ => None,
        })
    }

    /// True when the record has an `all` mechanism (which makes any
    /// `redirect=` unreachable).
    pub fn has_all(&self) -> bool {
        self.directives()
            .any(|d| matches!(d.mechanism, Mechanism::All))
    }

    /// Number of terms in this record alone that cause DNS lookups
    /// (mechanisms plus a `redirect=` that can be reached).
    pub fn dns_term_count(&self) -> usize {
        let mechs = self
            .directives()
            .filter(|d| d.mechanism.does_dns_lookup())
            .count();
        let redirect = usize::from(self.redirect().is_some() && !self.has_all());
        mechs + redirect
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("v=spf1")?;
        for t in &self.terms {
            write!(f, " {t}")?;
        }
        Ok(())
    }
}

/// What is wrong with a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxKind {
    /// A character that is not visible ASCII (control, non-ASCII, NUL).
    #[error("invalid character")]
    InvalidCharacter,
    /// Not one of the eight mechanisms.
    #[error("unknown mechanism")]
    UnknownMechanism,
    /// A modifier name not matching `ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )`.
    #[error("invalid modifier name")]
    InvalidModifierName,
    /// Text after a mechanism that takes none (e.g. `all:x`, `ptr/0`).
    #[error("unexpected argument")]
    UnexpectedArgument,
    /// A required domain-spec is missing or empty.
    #[error("missing domain")]
    MissingDomain,
    /// A domain-spec not ending in a macro or a valid top label.
    #[error("invalid domain-spec")]
    InvalidDomainSpec,
    /// A malformed macro (`%` not followed by `{`, `%`, `_`, `-`, ...).
    #[error("invalid macro")]
    InvalidMacro,
    /// A macro letter not allowed here (`c`, `r`, `t` outside explanations).
    #[error("macro letter not allowed here")]
    MacroLetterNotAllowed,
    /// A bad prefix length (too large, leading zero, not a number).
    #[error("invalid CIDR length")]
    InvalidCidr,
    /// A malformed `ip4:` network.
    #[error("invalid IPv4 network")]
    InvalidIp4,
    /// A malformed `ip6:` network.
    #[error("invalid IPv6 network")]
    InvalidIp6,
}

/// Why a record could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text does not start with `v=spf1` followed by a space or the end.
    #[error("not an SPF record (no v=spf1 version)")]
    NotSpf,
    /// A term is malformed.
    #[error("syntax error at '{term}': {kind}")]
    Syntax {
        /// The offending term, escaped and shortened for display.
        term: String,
        /// What is wrong with it.
        kind: SyntaxKind,
    },
    /// `redirect=` or `exp=` appears more than once.
    #[error("modifier '{0}' appears more than once")]
    DuplicateModifier(&'static str),
}

/// True when a TXT record is an SPF version 1 record: it starts with
/// `v=spf1` (case-insensitively) followed by a space or the end.
pub fn is_spf_record(txt: &str) -> bool {
    let b = txt.as_bytes();
    b.len() >= 6 && b[..6].eq_ignore_ascii_case(b"v=spf1") && matches!(b.get(6), None | Some(b' '))
}

/// Parses an SPF record, checking the syntax of every term.
pub fn parse_record(text: &str) -> Result<Record, ParseError> {
    if !is_spf_record(text) {
        return Err(ParseError::NotSpf);
    }
    // The first six bytes are ASCII, so this is a char boundary.
    let rest = text.get(6..).unwrap_or("");
    let mut terms = Vec::new();
    let (mut redirects, mut exps) = (0, 0);
    for raw in rest.split(' ').filter(|t| !t.is_empty()) {
        let term = parse_term(raw).map_err(|kind| ParseError::Syntax {
            term: display_term(raw),
            kind,
        })?;
        match &term {
            Term::Modifier(Modifier::Redirect(_)) => redirects += 1,
            Term::Modifier(Modifier::Exp(_)) => exps += 1,
            _ => {}
        }
        terms.push(term);
    }
    if redirects > 1 {
        return Err(ParseError::DuplicateModifier("redirect"));
    }
    if exps > 1 {
        return Err(ParseError::DuplicateModifier("exp"));
    }
    Ok(Record { terms })
}

/// Escapes control and non-ASCII characters and shortens long terms.
fn display_term(raw: &str) -> String {
    const MAX: usize = 80;
    let escaped: String = raw.chars().flat_map(char::escape_default).collect();
    if escaped.chars().count() > MAX {
        let short: String = escaped.chars().take(MAX).collect();
        format!("{short}...")
    } else {
        escaped
    }
}

fn parse_term(raw: &str) -> Result<Term, SyntaxKind> {
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SyntaxKind::InvalidCharacter);
    }
    // All ASCII from here on: byte indices are char boundaries.
    if let Some(i) = raw.find(['=', ':', '/']) {
        if raw.as_bytes()[i] == b'=' {
            return parse_modifier(&raw[..i], &raw[i + 1..]).map(Term::Modifier);
        }
    }
    let (qualifier, body) = match raw.as_bytes()[0] {
        b'+' => (Qualifier::Pass, &raw[1..]),
        b'-' => (Qualifier::Fail, &raw[1..]),
        b'~' => (Qualifier::SoftFail, &raw[1..]),
        b'?' => (Qualifier::Neutral, &raw[1..]),
        _ => (Qualifier::Pass, raw),
    };
    let name_end = body.find([':', '/']).unwrap_or(body.len());
    let (name, arg) = body.split_at(name_end);
    let mechanism = match name.to_ascii_lowercase().as_str() {
        "all" => {
            if !arg.is_empty() {
                return Err(SyntaxKind::UnexpectedArgument);
            }
            Mechanism::All
        }
        "include" => Mechanism::Include(required_domain(arg)?),
        "exists" => Mechanism::Exists(required_domain(arg)?),
        "a" | "mx" => {
            let (domain, cidr4, cidr6) = if let Some(spec) = arg.strip_prefix(':') {
                let (spec, c4, c6) = split_dual_cidr(spec)?;
                (Some(domain_spec(spec)?), c4, c6)
            } else {
                let (rest, c4, c6) = split_dual_cidr(arg)?;
                if !rest.is_empty() {
                    return Err(SyntaxKind::InvalidCidr);
                }
                (None, c4, c6)
            };
            if name.eq_ignore_ascii_case("a") {
                Mechanism::A {
                    domain,
                    cidr4,
                    cidr6,
                }
            } else {
                Mechanism::Mx {
                    domain,
                    cidr4,
                    cidr6,
                }
            }
        }
        "ptr" => {
            if arg.is_empty() {
                Mechanism::Ptr(None)
            } else {
                Mechanism::Ptr(Some(required_domain(arg)?))
            }
        }
        "ip4" => {
            let spec = arg.strip_prefix(':').ok_or(SyntaxKind::InvalidIp4)?;
            let (net, cidr) = match spec.split_once('/') {
                Some((net, c)) => (net, Some(parse_cidr(c, 32)?)),
                None => (spec, None),
            };
            Mechanism::Ip4 {
                network: parse_ip4(net).ok_or(SyntaxKind::InvalidIp4)?,
                cidr,
            }
        }
        "ip6" => {
            let spec = arg.strip_prefix(':').ok_or(SyntaxKind::InvalidIp6)?;
            let (net, cidr) = match spec.split_once('/') {
                Some((net, c)) => (net, Some(parse_cidr(c, 128)?)),
                None => (spec, None),
            };
            Mechanism::Ip6 {
                network: net.parse().map_err(|_| SyntaxKind::InvalidIp6)?,
                cidr,
            }
        }
        _ => return Err(SyntaxKind::UnknownMechanism),
    };
    Ok(Term::Directive(Directive {
        qualifier,
        mechanism,
    }))
}

fn parse_modifier(name: &str, value: &str) -> Result<Modifier, SyntaxKind> {
    let valid_name = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid_name {
        return Err(SyntaxKind::InvalidModifierName);
    }
    // Known modifier names are not "greedy" unknown modifiers: a bad value
    // for redirect/exp is a syntax error (see the suite's comments).
    if name.eq_ignore_ascii_case("redirect") {
        Ok(Modifier::Redirect(domain_spec(value)?))
    } else if name.eq_ignore_ascii_case("exp") {
        Ok(Modifier::Exp(domain_spec(value)?))
    } else {
        let value = MacroString::parse(value, MacroContext::Modifier).map_err(macro_kind)?;
        Ok(Modifier::Unknown {
            name: name.to_string(),
            value,
        })
    }
}

fn macro_kind(e: MacroSyntax) -> SyntaxKind {
    match e {
        MacroSyntax::Char => SyntaxKind::InvalidCharacter,
        MacroSyntax::Macro => SyntaxKind::InvalidMacro,
        MacroSyntax::Letter => SyntaxKind::MacroLetterNotAllowed,
    }
}

/// `":" domain-spec`, required.
fn required_domain(arg: &str) -> Result<MacroString, SyntaxKind> {
    match arg.strip_prefix(':') {
        Some(spec) => domain_spec(spec),
        None if arg.is_empty() => Err(SyntaxKind::MissingDomain),
        None => Err(SyntaxKind::UnexpectedArgument),
    }
}

/// `domain-spec = macro-string domain-end`,
/// `domain-end = ( "." toplabel [ "." ] ) / macro-expand`.
pub(crate) fn domain_spec(spec: &str) -> Result<MacroString, SyntaxKind> {
    if spec.is_empty() {
        return Err(SyntaxKind::MissingDomain);
    }
    let ms = MacroString::parse(spec, MacroContext::Domain).map_err(macro_kind)?;
    match ms.tokens().last() {
        Some(MacroToken::Literal(lit)) => {
            let lit = lit.strip_suffix('.').unwrap_or(lit);
            match lit.rsplit_once('.') {
                Some((_, top)) if is_toplabel(top) => Ok(ms),
                _ => Err(SyntaxKind::InvalidDomainSpec),
            }
        }
        Some(_) => Ok(ms),
        None => Err(SyntaxKind::MissingDomain),
    }
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) /
///             ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`
fn is_toplabel(label: &str) -> bool {
    let b = label.as_bytes();
    let (Some(first), Some(last)) = (b.first(), b.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b.iter().any(|c| c.is_ascii_alphabetic() || *c == b'-')
}

/// Splits a trailing `[/cidr4][//cidr6]` off a mechanism argument.
fn split_dual_cidr(s: &str) -> Result<(&str, Option<u8>, Option<u8>), SyntaxKind> {
    let mut rest = s;
    let mut cidr6 = None;
    let mut cidr4 = None;
    if let Some((head, digits)) = trailing_number(rest) {
        if let Some(head6) = head.strip_suffix('/') {
            cidr6 = Some(parse_cidr(digits, 128)?);
            rest = head6;
            if let Some((head4, digits4)) = trailing_number(rest) {
                cidr4 = Some(parse_cidr(digits4, 32)?);
                rest = head4;
            }
        } else {
            cidr4 = Some(parse_cidr(digits, 32)?);
            rest = head;
        }
    }
    Ok((rest, cidr4, cidr6))
}

/// If `s` ends in `/` followed by digits, returns the text before that `/`
/// and the digits.
fn trailing_number(s: &str) -> Option<(&str, &str)> {
    let (head, tail) = s.rsplit_once('/')?;
    (!tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit())).then_some((head, tail))
}

/// `1*DIGIT` without leading zeros, at most `max`.
fn parse_cidr(digits: &str, max: u8) -> Result<u8, SyntaxKind> {
    if digits.is_empty()
        || digits.len() > 3
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return Err(SyntaxKind::InvalidCidr);
    }
    match digits.parse::<u8>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(SyntaxKind::InvalidCidr),
    }
}

/// A strict dotted quad: four decimal octets, no leading zeros.
fn parse_ip4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty()
            || p.len() > 3
            || !p.bytes().all(|b| b.is_ascii_digit())
            || (p.len() > 1 && p.starts_with('0'))
        {
            return None;
        }
        *o = p.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> SyntaxKind {
        match parse_record(text) {
            Err(ParseError::Syntax { kind, .. }) => kind,
            other => panic!("{text}: expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn version_selection() {
        assert!(is_spf_record("v=spf1"));
        assert!(is_spf_record("V=SpF1 -all"));
        assert!(!is_spf_record("v=spf10"));
        assert!(!is_spf_record("v=spf1mx"));
        assert!(!is_spf_record("v=spf"));
        assert!(!is_spf_record(""));
        assert!(!is_spf_record("\u{96}v=spf1"));
        assert_eq!(parse_record("spf2.0/pra"), Err(ParseError::NotSpf));
    }

    #[test]
    fn full_record_round_trips() {
        let text = "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:%{d}/24//64 \
                    ?ptr:example.com ~include:_spf.example.com exists:%{ir}.x.example.com \
                    -all exp=explain.example.com moo.cow=%{l}";
        let r = parse_record(text).unwrap();
        assert_eq!(r.terms.len(), 10);
        assert_eq!(
            r.to_string(),
            "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:%{d}/24//64 ?ptr:example.com \
             ~include:_spf.example.com exists:%{ir}.x.example.com -all \
             exp=explain.example.com moo.cow=%{l}"
        );
        assert_eq!(r.dns_term_count(), 5);
        assert!(r.has_all());
        assert_eq!(
            r.exp().map(MacroString::as_str),
            Some("explain.example.com")
        );
        let d: Vec<_> = r.directives().collect();
        assert_eq!(d[5].qualifier, Qualifier::SoftFail);
        assert_eq!(
            d[3].mechanism,
            Mechanism::Mx {
                domain: Some(domain_spec("%{d}").unwrap()),
                cidr4: Some(24),
                cidr6: Some(64)
            }
        );
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(err("v=spf1 -all."), SyntaxKind::UnknownMechanism);
        assert_eq!(err("v=spf1 -all:x"), SyntaxKind::UnexpectedArgument);
        assert_eq!(err("v=spf1 ptr/0"), SyntaxKind::UnexpectedArgument);
        assert_eq!(err("v=spf1 a/33"), SyntaxKind::InvalidCidr);
        assert_eq!(err("v=spf1 a/24/64"), SyntaxKind::InvalidCidr);
        assert_eq!(err("v=spf1 a//129"), SyntaxKind::InvalidCidr);
        assert_eq!(err("v=spf1 ip4:1.2.3.4/032"), SyntaxKind::InvalidCidr);
        assert_eq!(err("v=spf1 ip4:1.2.3"), SyntaxKind::InvalidIp4);
        assert_eq!(err("v=spf1 ip4:300.1.2.3"), SyntaxKind::InvalidIp4);
        assert_eq!(err("v=spf1 ip4:01.2.3.4"), SyntaxKind::InvalidIp4);
        assert_eq!(err("v=spf1 ip6::CAFE::BABE"), SyntaxKind::InvalidIp6);
        assert_eq!(err("v=spf1 a:museum"), SyntaxKind::InvalidDomainSpec);
        assert_eq!(err("v=spf1 a:abc.123"), SyntaxKind::InvalidDomainSpec);
        assert_eq!(err("v=spf1 a:example.-com"), SyntaxKind::InvalidDomainSpec);
        assert_eq!(err("v=spf1 include:"), SyntaxKind::MissingDomain);
        assert_eq!(err("v=spf1 exists"), SyntaxKind::MissingDomain);
        assert_eq!(err("v=spf1 1up=foo"), SyntaxKind::InvalidModifierName);
        assert_eq!(err("v=spf1 =all"), SyntaxKind::InvalidModifierName);
        assert_eq!(err("v=spf1 redirect=-all"), SyntaxKind::InvalidDomainSpec);
        assert_eq!(err("v=spf1 foo=%abc"), SyntaxKind::InvalidMacro);
        assert_eq!(
            err("v=spf1 a:%{c}.example.com"),
            SyntaxKind::MacroLetterNotAllowed
        );
        assert_eq!(
            err("v=spf1 a:foo.example.com\0"),
            SyntaxKind::InvalidCharacter
        );
        assert_eq!(err("v=spf1 ip4:192.0.2.5\n"), SyntaxKind::InvalidCharacter);
        assert_eq!(
            parse_record("v=spf1 exp=a.example.com exp=b.example.com"),
            Err(ParseError::DuplicateModifier("exp"))
        );
        let e = parse_record("v=spf1 ip4:300.1.2.3").unwrap_err();
        assert_eq!(
            e.to_string(),
            "syntax error at 'ip4:300.1.2.3': invalid IPv4 network"
        );
    }

    #[test]
    fn accepted_oddities() {
        assert!(parse_record("v=spf1 a:foo:bar/baz.example.com").is_ok());
        assert!(parse_record("v=spf1 a:foo.example.xn--zckzah -all").is_ok());
        assert!(parse_record("v=spf1 moo.cow-far_out=man:dog/cat -all").is_ok());
        assert!(parse_record("v=spf1 a  -all ").is_ok());
        assert!(parse_record("v=spf1").unwrap().terms.is_empty());
        assert!(parse_record("v=spf1 default=+").is_ok());
        assert!(parse_record("v=spf1 a:%{H}.bar -all").is_ok());
        assert!(parse_record("v=spf1 ip6:::FFFF:1.2.3.4 a//0 mx/0").is_ok());
    }

    #[test]
    fn hostile_input_does_not_panic() {
        // 10,000 characters of terms.
        let long = format!("v=spf1 {}", "ip4:192.0.2.1 ".repeat(700));
        assert!(long.len() > 9_000);
        assert_eq!(parse_record(&long).unwrap().terms.len(), 700);
        let one_term = format!("v=spf1 a:{}.com", "x".repeat(10_000));
        assert!(parse_record(&one_term).is_ok());
        let bad_term = format!("v=spf1 {}", "\u{96}".repeat(10_000));
        match parse_record(&bad_term) {
            Err(ParseError::Syntax { term, .. }) => assert!(term.len() < 100),
            other => panic!("{other:?}"),
        }
        // Empty and near-empty input.
        for s in [
            "", " ", "v", "v=spf1 ", "v=spf1 +", "v=spf1 -", "v=spf1 /", "v=spf1 :", "v=spf1 %",
        ] {
            let _ = parse_record(s);
        }
        // Garbage bytes, made into text the way a DNS adapter would.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..400 {
            let mut bytes = b"v=spf1 ".to_vec();
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push((seed >> 24) as u8);
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_record(&text);
            let ascii: String = bytes.iter().map(|b| char::from(b % 96 + 32)).collect();
            let _ = parse_record(&ascii);
        }
        for s in [
            "%{",
            "%{d",
            "%{d1",
            "%{d1r",
            "%{d1r.",
            "a:%",
            "a:/",
            "a://",
            "mx:a.com//",
            "ip6:",
            "ip4:/",
            "ip6:/1",
        ] {
            let _ = parse_record(&format!("v=spf1 {s}"));
        }
    }
}

//! The `check_host()` algorithm (RFC 7208 sections 4 to 6).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;

use crate::macros::{MacroContext, MacroEnv, MacroString};
use crate::record::{is_spf_record, parse_record, Mechanism, Record};
use crate::{DnsFailure, SpfDns, SpfOutcome, SpfQuery, SpfResult};

/// Terms that query DNS, per evaluation (RFC 7208 section 4.6.4).
const MAX_DNS_LOOKUPS: u32 = 10;
/// Lookups returning no answer, per evaluation (section 4.6.4).
const MAX_VOID_LOOKUPS: u32 = 2;
/// MX names per `mx` mechanism; more is a permerror (section 4.6.4).
const MAX_MX_NAMES: usize = 10;
/// PTR names looked at per `ptr` mechanism or `%{p}`; the rest are ignored.
const MAX_PTR_NAMES: usize = 10;
/// Longest domain name in text form (section 7.3).
const MAX_NAME_LEN: usize = 253;

/// Why evaluation stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Abort {
    /// Ends in `permerror`.
    #[error("{0}")]
    Perm(String),
    /// Ends in `temperror`.
    #[error("{0}")]
    Temp(String),
}

/// A completed evaluation of one domain: a non-error result.
struct Eval {
    result: SpfResult,
    explanation: Option<String>,
}

impl Eval {
    fn plain(result: SpfResult) -> Self {
        Eval {
            result,
            explanation: None,
        }
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// State shared by the whole evaluation, across include and redirect.
struct Ctx<'d, D> {
    dns: &'d D,
    ip: IpAddr,
    sender: String,
    local: String,
    sender_domain: String,
    helo: String,
    lookups: u32,
    voids: u32,
    top_record: Option<String>,
}

/// Evaluates the SPF policy of `query.domain` for `query.ip`
/// (RFC 7208 `check_host()`).
///
/// Never panics and never fails: DNS problems become `temperror`, broken
/// records and exceeded limits `permerror`, with the cause in
/// [`SpfOutcome::reason`].
pub async fn check_host<D: SpfDns>(dns: &D, query: &SpfQuery<'_>) -> SpfOutcome {
    let ip = match query.ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let domain = query.domain.trim_end_matches('.').to_string();
    let (local, sender_domain) = match query.sender.rsplit_once('@') {
        Some((l, d)) => (l, d),
        None => ("", query.sender),
    };
    let sender_domain = if sender_domain.is_empty() {
        domain.as_str()
    } else {
        sender_domain
    };
    let local = if local.is_empty() {
        "postmaster"
    } else {
        local
    };
    let mut ctx = Ctx {
        dns,
        ip,
        sender: format!("{local}@{sender_domain}"),
        local: local.to_string(),
        sender_domain: sender_domain.to_string(),
        helo: query.helo.to_string(),
        lookups: 0,
        voids: 0,
        top_record: None,
    };
    let evaluated = check_domain(&mut ctx, domain, true, 0).await;
    let (result, explanation, reason) = match evaluated {
        Ok(e) => (e.result, e.explanation, None),
        Err(Abort::Perm(r)) => (SpfResult::PermError, None, Some(r)),
        Err(Abort::Temp(r)) => (SpfResult::TempError, None, Some(r)),
    };
    SpfOutcome {
        result,
        record: ctx.top_record,
        dns_lookups: ctx.lookups,
        void_lookups: ctx.voids,
        explanation,
        reason,
    }
}

/// `check_host()` for one domain: fetch, parse and evaluate its record.
/// Boxed because include and redirect recurse.
fn check_domain<'a, 'd: 'a, D: SpfDns>(
    ctx: &'a mut Ctx<'d, D>,
    domain: String,
    want_exp: bool,
    depth: u32,
) -> BoxFuture<'a, Result<Eval, Abort>> {
    Box::pin(async move {
        // Section 4.3: a malformed or single-label domain gives "none".
        if !valid_check_domain(&domain) {
            return Ok(Eval::plain(SpfResult::None));
        }
        let txts = match ctx.dns.txt(&domain).await {
            Ok(t) => t,
            Err(DnsFailure::NxDomain) => return Ok(Eval::plain(SpfResult::None)),
            Err(DnsFailure::Temporary(e)) => {
                return Err(Abort::Temp(format!("TXT lookup for {domain}: {e}")))
            }
        };
        let mut spf = txts.into_iter().filter(|t| is_spf_record(t));
        let text = match (spf.next(), spf.next()) {
            (None, _) => return Ok(Eval::plain(SpfResult::None)),
            (Some(t), None) => t,
            (Some(_), Some(_)) => {
                let n = 2 + spf.count();
                return Err(Abort::Perm(format!("{n} SPF records at {domain}")));
            }
        };
        if depth == 0 {
            ctx.top_record = Some(text.clone());
        }
        let record = parse_record(&text).map_err(|e| Abort::Perm(format!("{domain}: {e}")))?;
        evaluate(ctx, &record, domain, want_exp, depth).await
    })
}

async fn evaluate<D: SpfDns>(
    ctx: &mut Ctx<'_, D>,
    record: &Record,
    domain: String,
    want_exp: bool,
    depth: u32,
) -> Result<Eval, Abort> {
    for directive in record.directives() {
        if matches(ctx, &directive.mechanism, &domain, depth).await? {
            let result = directive.qualifier.result();
            let explanation = if result == SpfResult::Fail && want_exp {
                match record.exp() {
                    Some(exp) => explain(ctx, exp, &domain).await,
                    None => None,
                }
            } else {
                None
            };
            return Ok(Eval {
                result,
                explanation,
            });
        }
    }
    // Section 6.1: redirect applies only when no mechanism matched (an
    // `all` always matches, so it makes redirect unreachable).
    if let Some(target) = record.redirect() {
        count_lookup(ctx)?;
        let target = expand_domain(ctx, target, &domain).await;
        let eval = check_domain(ctx, target.clone(), want_exp, depth + 1).await?;
        if eval.result == SpfResult::None {
            return Err(Abort::Perm(format!(
                "redirect target {target} has no SPF record"
            )));
        }
        return Ok(eval);
    }
    Ok(Eval::plain(SpfResult::Neutral))
}

async fn matches<D: SpfDns>(
    ctx: &mut Ctx<'_, D>,
    mechanism: &Mechanism,
    domain: &str,
    depth: u32,
) -> Result<bool, Abort> {
    match mechanism {
        Mechanism::All => Ok(true),
        Mechanism::Ip4 { network, cidr } => Ok(match ctx.ip {
            IpAddr::V4(ip) => in_net4(ip, *network, cidr.unwrap_or(32)),
            IpAddr::V6(_) => false,
        }),
        Mechanism::Ip6 { network, cidr } => Ok(match ctx.ip {
            IpAddr::V6(ip) => in_net6(ip, *network, cidr.unwrap_or(128)),
            IpAddr::V4(_) => false,
        }),
        Mechanism::Include(spec) => {
            count_lookup(ctx)?;
            let target = expand_domain(ctx, spec, domain).await;
            let eval = check_domain(ctx, target.clone(), false, depth + 1).await?;
            match eval.result {
                SpfResult::Pass => Ok(true),
                SpfResult::None => Err(Abort::Perm(format!(
                    "include target {target} has no SPF record"
                ))),
                _ => Ok(false),
            }
        }
        Mechanism::A {
            domain: spec,
            cidr4,
            cidr6,
        } => {
            count_lookup(ctx)?;
            let target = target_name(ctx, spec.as_ref(), domain).await;
            if !valid_query_name(&target) {
                return Ok(false);
            }
            let ip = ctx.ip;
            let found = addresses_match(ctx, &target, ip, *cidr4, *cidr6, true).await?;
            Ok(found)
        }
        Mechanism::Mx {
            domain: spec,
            cidr4,
            cidr6,
        } => {
            count_lookup(ctx)?;
            let target = target_name(ctx, spec.as_ref(), domain).await;
            if !valid_query_name(&target) {
                return Ok(false);
            }
            let mxs = match ctx.dns.mx(&target).await {
                Ok(m) => m,
                Err(DnsFailure::NxDomain) => Vec::new(),
                Err(DnsFailure::Temporary(e)) => {
                    return Err(Abort::Temp(format!("MX lookup for {target}: {e}")))
                }
            };
            if mxs.is_empty() {
                count_void(ctx)?;
                return Ok(false);
            }
            if mxs.len() > MAX_MX_NAMES {
                return Err(Abort::Perm(format!(
                    "more than {MAX_MX_NAMES} MX records at {target}"
                )));
            }
            let ip = ctx.ip;
            for (_, exchange) in &mxs {
                let exchange = exchange.trim_end_matches('.');
                if !valid_query_name(exchange) {
                    continue; // null MX or garbage
                }
                if addresses_match(ctx, exchange, ip, *cidr4, *cidr6, false).await? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Mechanism::Ptr(spec) => {
            count_lookup(ctx)?;
            let target = target_name(ctx, spec.as_ref(), domain).await;
            let names = match ctx.dns.ptr(ctx.ip).await {
                Ok(n) => n,
                Err(DnsFailure::NxDomain) => Vec::new(),
                // Section 5.5: a DNS error on the PTR lookup is a no-match.
                Err(DnsFailure::Temporary(_)) => return Ok(false),
            };
            if names.is_empty() {
                count_void(ctx)?;
                return Ok(false);
            }
            let target = target.to_ascii_lowercase();
            for name in names.iter().take(MAX_PTR_NAMES) {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                let candidate = name == target
                    || (name.len() > target.len()
                        && name.ends_with(&target)
                        && name.as_bytes()[name.len() - target.len() - 1] == b'.');
                if candidate && validates(ctx, &name).await {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Mechanism::Exists(spec) => {
            count_lookup(ctx)?;
            let target = expand_domain(ctx, spec, domain).await;
            if !valid_query_name(&target) {
                return Ok(false);
            }
            // Always an A query, whatever the client's address family.
            match ctx.dns.a(&target).await {
                Ok(a) if !a.is_empty() => Ok(true),
                Ok(_) | Err(DnsFailure::NxDomain) => {
                    count_void(ctx)?;
                    Ok(false)
                }
                Err(DnsFailure::Temporary(e)) => {
                    Err(Abort::Temp(format!("A lookup for {target}: {e}")))
                }
            }
        }
    }
}

/// Looks up the addresses of `name` in the client's family and checks
/// whether the client is in one of the networks.
async fn addresses_match<D: SpfDns>(
    ctx: &mut Ctx<'_, D>,
    name: &str,
    ip: IpAddr,
    cidr4: Option<u8>,
    cidr6: Option<u8>,
    count_voids: bool,
) -> Result<bool, Abort> {
    let looked_up = match ip {
        IpAddr::V4(ip) => ctx.dns.a(name).await.map(|addrs| {
            let n = addrs.len();
            (
                n,
                addrs
                    .into_iter()
                    .any(|a| in_net4(ip, a, cidr4.unwrap_or(32))),
            )
        }),
        IpAddr::V6(ip) => ctx.dns.aaaa(name).await.map(|addrs| {
            let n = addrs.len();
            (
                n,
                addrs
                    .into_iter()
                    .any(|a| in_net6(ip, a, cidr6.unwrap_or(128))),
            )
        }),
    };
    match looked_up {
        Ok((n, found)) => {
            if n == 0 && count_voids {
                count_void(ctx)?;
            }
            Ok(found)
        }
        Err(DnsFailure::NxDomain) => {
            if count_voids {
                count_void(ctx)?;
            }
            Ok(false)
        }
        Err(DnsFailure::Temporary(e)) => {
            Err(Abort::Temp(format!("address lookup for {name}: {e}")))
        }
    }
}

/// True when `name` has an address equal to the client's (forward
/// confirmation of a PTR name). DNS errors mean "not validated".
async fn validates<D: SpfDns>(ctx: &Ctx<'_, D>, name: &str) -> bool {
    if !valid_query_name(name) {
        return false;
    }
    match ctx.ip {
        IpAddr::V4(ip) => ctx.dns.a(name).await.is_ok_and(|addrs| addrs.contains(&ip)),
        IpAddr::V6(ip) => ctx
            .dns
            .aaaa(name)
            .await
            .is_ok_and(|addrs| addrs.contains(&ip)),
    }
}

/// The `p` macro: a validated PTR name of the client, preferring the
/// current domain itself, then a subdomain of it, then any.
async fn validated_name<D: SpfDns>(ctx: &Ctx<'_, D>, domain: &str) -> String {
    let Ok(names) = ctx.dns.ptr(ctx.ip).await else {
        return "unknown".to_string();
    };
    let domain = domain.to_ascii_lowercase();
    let suffix = format!(".{domain}");
    let mut best: Option<(u8, String)> = None;
    for name in names.iter().take(MAX_PTR_NAMES) {
        let name = name.trim_end_matches('.');
        let lower = name.to_ascii_lowercase();
        let rank = if lower == domain {
            0
        } else if lower.ends_with(&suffix) {
            1
        } else {
            2
        };
        if best.as_ref().is_some_and(|(r, _)| *r <= rank) {
            continue;
        }
        if validates(ctx, name).await {
            best = Some((rank, name.to_string()));
        }
    }
    best.map_or_else(|| "unknown".to_string(), |(_, n)| n)
}

/// Retrieves and expands the `exp=` explanation (section 6.2). Any problem
/// means "no explanation".
async fn explain<D: SpfDns>(
    ctx: &mut Ctx<'_, D>,
    exp: &MacroString,
    domain: &str,
) -> Option<String> {
    let target = expand_domain(ctx, exp, domain).await;
    if !valid_query_name(&target) {
        return None;
    }
    let txts = ctx.dns.txt(&target).await.ok()?;
    let [text] = txts.as_slice() else {
        return None;
    };
    if !text.is_ascii() {
        return None;
    }
    let ms = MacroString::parse(text, MacroContext::Explanation).ok()?;
    Some(expand(ctx, &ms, domain).await)
}

/// The target of a mechanism: its expanded domain-spec, or the current
/// domain.
async fn target_name<D: SpfDns>(
    ctx: &Ctx<'_, D>,
    spec: Option<&MacroString>,
    domain: &str,
) -> String {
    match spec {
        Some(spec) => expand_domain(ctx, spec, domain).await,
        None => domain.to_string(),
    }
}

/// Expands a macro string.
async fn expand<D: SpfDns>(ctx: &Ctx<'_, D>, ms: &MacroString, domain: &str) -> String {
    let validated = if ms.uses_p() {
        Some(validated_name(ctx, domain).await)
    } else {
        None
    };
    let env = MacroEnv {
        sender: &ctx.sender,
        local: &ctx.local,
        sender_domain: &ctx.sender_domain,
        domain,
        ip: ctx.ip,
        helo: &ctx.helo,
        validated: validated.as_deref(),
    };
    ms.expand(&env)
}

/// Expands a domain-spec for use as a DNS name: drops a trailing dot and
/// removes labels from the left until it fits in 253 characters
/// (section 7.3).
async fn expand_domain<D: SpfDns>(ctx: &Ctx<'_, D>, ms: &MacroString, domain: &str) -> String {
    let expanded = expand(ctx, ms, domain).await;
    let mut name = expanded.strip_suffix('.').unwrap_or(&expanded);
    while name.len() > MAX_NAME_LEN {
        match name.split_once('.') {
            Some((_, rest)) => name = rest,
            None => break,
        }
    }
    name.to_string()
}

fn count_lookup<D>(ctx: &mut Ctx<'_, D>) -> Result<(), Abort> {
    ctx.lookups += 1;
    if ctx.lookups > MAX_DNS_LOOKUPS {
        return Err(Abort::Perm(format!(
            "more than {MAX_DNS_LOOKUPS} DNS lookups"
        )));
    }
    Ok(())
}

fn count_void<D>(ctx: &mut Ctx<'_, D>) -> Result<(), Abort> {
    ctx.voids += 1;
    if ctx.voids > MAX_VOID_LOOKUPS {
        return Err(Abort::Perm(format!(
            "more than {MAX_VOID_LOOKUPS} void lookups"
        )));
    }
    Ok(())
}

/// A name that can be sent as a DNS query: non-empty labels of at most 63
/// octets, at most 253 octets in all.
fn valid_query_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

/// The `<domain>` of check_host() (section 4.3): a valid, multi-label name
/// that is not an address literal.
fn valid_check_domain(name: &str) -> bool {
    valid_query_name(name)
        && name.contains('.')
        && !name.starts_with('[')
        && name.bytes().all(|b| b.is_ascii_graphic())
}

fn in_net4(ip: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_net6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u8) -> bool {
    let mask = u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let ip = Ipv4Addr::new(192, 0, 2, 3);
        assert!(in_net4(ip, Ipv4Addr::new(192, 0, 2, 0), 24));
        assert!(!in_net4(ip, Ipv4Addr::new(192, 0, 3, 0), 24));
        assert!(in_net4(ip, Ipv4Addr::new(1, 1, 1, 1), 0));
        assert!(in_net4(ip, ip, 32));
        let ip6: Ipv6Addr = "cafe:babe:8000::".parse().unwrap();
        assert!(in_net6(ip6, "cafe:babe:8000::".parse().unwrap(), 33));
        assert!(in_net6(ip6, "::1".parse().unwrap(), 0));
        assert!(!in_net6(ip6, "cafe:babe::".parse().unwrap(), 33));
    }

    #[test]
    fn domains() {
        assert!(valid_check_domain("example.com"));
        assert!(!valid_check_domain("example"));
        assert!(!valid_check_domain("a..example.com"));
        assert!(!valid_check_domain("[192.0.2.1]"));
        assert!(!valid_check_domain(&format!("{}.com", "a".repeat(64))));
        assert!(valid_check_domain(&format!("{}.com", "a".repeat(63))));
    }
}

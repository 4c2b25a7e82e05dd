//! The scan's view of the DNS: typed lookups over the measurement client, counted per
//! domain, with the CD bit set for a domain whose DNSSEC is bogus (so what it publishes is
//! still measured) and the shared-answer cache used for names outside the domain.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;
use uptake_checks::Lookup;
use uptake_dns::{Client, Name, Query, RData, Record, RecordType, Response, ResponseCode};

/// Answers about name-server reachability over IPv6, shared by every domain of a scan.
#[derive(Default)]
pub struct ReachabilityCache {
    cells: Mutex<HashMap<IpAddr, Arc<OnceCell<bool>>>>,
}

/// Lookups for one domain.
pub struct DomainDns<'a> {
    client: &'a Client,
    reach: &'a ReachabilityCache,
    guard: &'a uptake_policy::AddressGuard,
    deadline: Option<(Instant, Duration)>,
    retries: AtomicI64,
    /// Set the CD bit (the domain's zone is bogus).
    pub checking_disabled: bool,
    /// The domain: names at or below it are not cached across domains.
    pub domain: String,
    /// The domain's zone, once the first answer has shown it: every later negative answer
    /// from it is read for the zone's denial of existence.
    pub zone: Option<String>,
    /// The zone's denial of existence, from the first negative answer that showed it.
    denial: OnceLock<Denial>,
    queries: AtomicI64,
}

/// How a signed zone proves that a name or type does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// NSEC records (RFC 4034).
    Nsec,
    /// NSEC3 records (RFC 5155), with the chain's extra hash iterations (`None`: a record too
    /// short to read them from).
    Nsec3 {
        /// Extra SHA-1 iterations (RFC 9276 asks for 0).
        iterations: Option<u16>,
    },
}

/// The iterations field of NSEC3 or NSEC3PARAM RDATA (both start with hash algorithm, flags,
/// iterations).
pub fn nsec3_iterations(rdata: &[u8]) -> Option<u16> {
    (rdata.len() >= 4).then(|| u16::from_be_bytes([rdata[2], rdata[3]]))
}

/// The denial of existence that `zone` uses, as shown by a negative answer from it: with the
/// DO bit set, the resolver puts the zone's NSEC or NSEC3 records (an NSEC3 record carries the
/// chain's iterations, as NSEC3PARAM does) beside the zone's SOA in the authority section.
/// `None` when the response is no negative answer from `zone` (no SOA of it: a referral, or
/// another zone at the end of a CNAME) or shows neither kind of record (an unsigned zone) or
/// both.
pub fn denial_shown(r: &Response, zone: &str) -> Option<Denial> {
    if r.rcode != ResponseCode::NoError && r.rcode != ResponseCode::NXDomain {
        return None;
    }
    let below = format!(".{zone}");
    let in_zone = |rec: &&Record| {
        let name = name_text(&rec.name);
        name == zone || name.ends_with(&below)
    };
    let from_zone = r
        .authorities
        .iter()
        .any(|rec| matches!(rec.data, RData::SOA(_)) && name_text(&rec.name) == zone);
    if !from_zone {
        return None;
    }
    let has_nsec = r.authorities.iter().filter(in_zone).any(|rec| {
        matches!(
            rec.data,
            RData::Unknown {
                code: RecordType::NSEC,
                ..
            }
        )
    });
    let nsec3 = r
        .authorities
        .iter()
        .filter(in_zone)
        .find_map(|rec| opaque(&rec.data, RecordType::NSEC3));
    match (has_nsec, nsec3) {
        (true, None) => Some(Denial::Nsec),
        (false, Some(rdata)) => Some(Denial::Nsec3 {
            iterations: nsec3_iterations(&rdata),
        }),
        _ => None,
    }
}

/// Presentation form of a name without the trailing dot, lower case.
pub fn name_text(name: &Name) -> String {
    let s = name.to_ascii().to_ascii_lowercase();
    s.strip_suffix('.').map(str::to_string).unwrap_or(s)
}

fn rcode_reason(r: &Response) -> String {
    let mut s = format!("{}", r.rcode);
    if !r.ede.is_empty() {
        let codes: Vec<String> = r
            .ede
            .iter()
            .map(|e| match &e.text {
                Some(t) if !t.is_empty() => format!("EDE {} {t}", e.code),
                _ => format!("EDE {}", e.code),
            })
            .collect();
        s.push_str(&format!(" ({})", codes.join(", ")));
    }
    s
}

impl<'a> DomainDns<'a> {
    /// Lookups for `domain`. Addresses contacted directly (name servers) must pass `guard`;
    /// with a `budget`, every lookup still unanswered when it runs out fails with a reason
    /// saying so.
    pub fn new(
        client: &'a Client,
        reach: &'a ReachabilityCache,
        guard: &'a uptake_policy::AddressGuard,
        budget: Option<Duration>,
        domain: &str,
    ) -> Self {
        DomainDns {
            client,
            reach,
            guard,
            deadline: budget.map(|b| (Instant::now() + b, b)),
            retries: AtomicI64::new(0),
            checking_disabled: false,
            domain: domain.to_string(),
            zone: None,
            denial: OnceLock::new(),
            queries: AtomicI64::new(0),
        }
    }

    /// Queries sent so far for this domain.
    pub fn queries(&self) -> i64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Resends so far of this domain's queries (after timeouts).
    pub fn retries(&self) -> i64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// The zone's denial of existence, if a negative answer from it has shown it so far.
    pub fn denial_seen(&self) -> Option<Denial> {
        self.denial.get().copied()
    }

    fn budget_exceeded(budget: Duration) -> String {
        format!(
            "domain time budget of {}s exceeded (--domain-timeout)",
            budget.as_secs_f64()
        )
    }

    /// Runs `fut` within the domain's budget.
    async fn within<T>(&self, fut: impl std::future::Future<Output = T>) -> Result<T, String> {
        match self.deadline {
            None => Ok(fut.await),
            Some((at, budget)) => tokio::time::timeout_at(at.into(), fut)
                .await
                .map_err(|_| Self::budget_exceeded(budget)),
        }
    }

    fn count(&self, r: &Result<Arc<Response>, uptake_dns::DnsError>) {
        let attempts = match r {
            Ok(r) => r.attempts,
            Err(uptake_dns::DnsError::Timeout { attempts, .. }) => *attempts,
            Err(_) => 1,
        };
        self.retries
            .fetch_add(i64::from(attempts.saturating_sub(1)), Ordering::Relaxed);
    }

    fn is_own(&self, name: &str) -> bool {
        name == self.domain || name.ends_with(&format!(".{}", self.domain))
    }

    /// Sends one query; names outside the domain go through the shared cache.
    pub async fn raw(
        &self,
        name: &str,
        rtype: RecordType,
        cd: bool,
    ) -> Result<Arc<Response>, String> {
        let qname = Name::from_str(&format!("{}.", name.trim_end_matches('.')))
            .map_err(|e| format!("bad name {name}: {e}"))?;
        let q = Query {
            name: qname,
            rtype,
            checking_disabled: cd,
        };
        let r = if self.is_own(name) {
            self.queries.fetch_add(1, Ordering::Relaxed);
            let r = self.within(self.client.query(&q)).await?;
            self.count(&r);
            r
        } else {
            self.within(self.client.query_shared(&q)).await?
        };
        // Every negative answer of a zone shows the same kind: once one has, the rest are
        // not read.
        if let (Ok(response), Some(zone), None) = (&r, &self.zone, self.denial.get()) {
            if let Some(denial) = denial_shown(response, zone) {
                let _ = self.denial.set(denial);
            }
        }
        r.map_err(|e| e.to_string())
    }

    /// A typed lookup: `extract` picks the wanted records from the answer section.
    pub async fn lookup<T>(
        &self,
        name: &str,
        rtype: RecordType,
        extract: impl Fn(&RData) -> Option<T>,
    ) -> Lookup<T> {
        match self.raw(name, rtype, self.checking_disabled).await {
            Err(e) => Lookup::Failed(e),
            Ok(r) => classify(&r, extract),
        }
    }

    /// TXT records, each one's character-strings concatenated.
    pub async fn txt(&self, name: &str) -> Lookup<String> {
        self.lookup(name, RecordType::TXT, |d| match d {
            RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s))
                    .collect::<String>(),
            ),
            _ => None,
        })
        .await
    }

    /// A records.
    pub async fn a(&self, name: &str) -> Lookup<Ipv4Addr> {
        self.lookup(name, RecordType::A, |d| match d {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    /// AAAA records.
    pub async fn aaaa(&self, name: &str) -> Lookup<Ipv6Addr> {
        self.lookup(name, RecordType::AAAA, |d| match d {
            RData::AAAA(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    /// MX records as (preference, exchange).
    pub async fn mx(&self, name: &str) -> Lookup<(u16, String)> {
        self.lookup(name, RecordType::MX, |d| match d {
            RData::MX(mx) => Some((mx.preference, name_text(&mx.exchange))),
            _ => None,
        })
        .await
    }

    /// Whether a name server answers a query for `zone` at `address` (port 53), cached per
    /// address for the scan. No answer (timeout, refused) is `false`; an address the guard
    /// refuses (special-purpose, opted out) or a spent time budget is an error: not measured.
    pub async fn answers_at(&self, address: IpAddr, zone: &str) -> Result<bool, String> {
        self.guard.check(address).map_err(|r| r.to_string())?;
        let cell = {
            let mut cells = self.reach.cells.lock().unwrap_or_else(|e| e.into_inner());
            cells.entry(address).or_default().clone()
        };
        let answered = cell.get_or_init(|| async {
            let Ok(name) = Name::from_str(&format!("{}.", zone.trim_end_matches('.'))) else {
                return false;
            };
            let q = Query {
                name,
                rtype: RecordType::SOA,
                checking_disabled: true,
            };
            self.queries.fetch_add(1, Ordering::Relaxed);
            let r = self
                .client
                .query_server(SocketAddr::new(address, 53), &q)
                .await;
            self.count(&r);
            r.is_ok()
        });
        self.within(answered).await.copied()
    }
}

/// Turns a response into a [`Lookup`].
pub fn classify<T>(r: &Response, extract: impl Fn(&RData) -> Option<T>) -> Lookup<T> {
    if r.rcode == ResponseCode::NXDomain {
        return Lookup::NxDomain;
    }
    if r.rcode != ResponseCode::NoError {
        return Lookup::Failed(rcode_reason(r));
    }
    // In canonical order, so that two scans of the same data write the same evidence.
    let data: Vec<T> = uptake_dns::canonical_order(&r.answers)
        .into_iter()
        .filter_map(|rec| extract(&rec.data))
        .collect();
    if data.is_empty() {
        Lookup::NoData
    } else {
        Lookup::Data(data)
    }
}

/// Raw RDATA of a record type hickory keeps opaque (DNSKEY, DS, NSEC3PARAM without its
/// DNSSEC feature).
pub fn opaque(d: &RData, code: RecordType) -> Option<Vec<u8>> {
    match d {
        RData::Unknown { code: c, rdata } if *c == code => Some(rdata.anything.clone()),
        _ => None,
    }
}

/// The SPF evaluator's view of the DNS.
pub struct SpfDns<'d, 'a>(pub &'d DomainDns<'a>);

fn spf_result<T>(l: Lookup<T>) -> Result<Vec<T>, uptake_spf::DnsFailure> {
    match l {
        Lookup::Data(v) => Ok(v),
        Lookup::NoData => Ok(vec![]),
        Lookup::NxDomain => Err(uptake_spf::DnsFailure::NxDomain),
        Lookup::Failed(r) => Err(uptake_spf::DnsFailure::Temporary(r)),
    }
}

impl uptake_spf::SpfDns for SpfDns<'_, '_> {
    async fn txt(&self, name: &str) -> Result<Vec<String>, uptake_spf::DnsFailure> {
        spf_result(self.0.txt(name).await)
    }
    async fn a(&self, name: &str) -> Result<Vec<Ipv4Addr>, uptake_spf::DnsFailure> {
        spf_result(self.0.a(name).await)
    }
    async fn aaaa(&self, name: &str) -> Result<Vec<Ipv6Addr>, uptake_spf::DnsFailure> {
        spf_result(self.0.aaaa(name).await)
    }
    async fn mx(&self, name: &str) -> Result<Vec<(u16, String)>, uptake_spf::DnsFailure> {
        spf_result(self.0.mx(name).await)
    }
    async fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, uptake_spf::DnsFailure> {
        let name = match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
            }
            IpAddr::V6(v6) => {
                let hex: String = v6.octets().iter().map(|b| format!("{b:02x}")).collect();
                let nibbles: Vec<String> = hex.chars().rev().map(|c| c.to_string()).collect();
                format!("{}.ip6.arpa", nibbles.join("."))
            }
        };
        spf_result(
            self.0
                .lookup(&name, RecordType::PTR, |d| match d {
                    RData::PTR(p) => Some(name_text(&p.0)),
                    _ => None,
                })
                .await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{NULL, SOA};

    fn name(n: &str) -> Name {
        Name::from_ascii(n).unwrap()
    }

    fn soa(owner: &str) -> Record {
        let soa = SOA::new(name("ns1.example."), name("host.example."), 1, 2, 3, 4, 5);
        Record::from_rdata(name(owner), 300, RData::SOA(soa))
    }

    fn opaque_record(owner: &str, code: RecordType, rdata: &[u8]) -> Record {
        let data = RData::Unknown {
            code,
            rdata: NULL::with(rdata.to_vec()),
        };
        Record::from_rdata(name(owner), 300, data)
    }

    fn response(rcode: ResponseCode, authorities: Vec<Record>) -> Response {
        Response {
            rcode,
            authentic_data: true,
            authoritative: false,
            answers: vec![],
            authorities,
            additionals: vec![],
            ede: vec![],
            server: "192.0.2.53:53".parse().unwrap(),
            attempts: 1,
            via_tcp: false,
        }
    }

    /// NSEC3 RDATA: SHA-1, opt-out flag, `iterations`, no salt, a 1-byte hash, no types.
    fn nsec3(iterations: u16) -> Vec<u8> {
        let [hi, lo] = iterations.to_be_bytes();
        vec![1, 1, hi, lo, 0, 1, 0xab]
    }

    #[test]
    fn denial_from_negative_answers() {
        let nxdomain = response(
            ResponseCode::NXDomain,
            vec![
                soa("example.nl."),
                opaque_record("example.nl.", RecordType::NSEC, &[0]),
                opaque_record("_dmarc.example.nl.", RecordType::NSEC, &[0]),
            ],
        );
        assert_eq!(denial_shown(&nxdomain, "example.nl"), Some(Denial::Nsec));
        let nodata = response(
            ResponseCode::NoError,
            vec![
                soa("example.nl."),
                opaque_record("abc.example.nl.", RecordType::NSEC3, &nsec3(10)),
            ],
        );
        assert_eq!(
            denial_shown(&nodata, "example.nl"),
            Some(Denial::Nsec3 {
                iterations: Some(10)
            })
        );
        let short = response(
            ResponseCode::NoError,
            vec![
                soa("example.nl."),
                opaque_record("abc.example.nl.", RecordType::NSEC3, &[1, 0]),
            ],
        );
        assert_eq!(
            denial_shown(&short, "example.nl"),
            Some(Denial::Nsec3 { iterations: None })
        );
    }

    #[test]
    fn no_denial_from_other_answers() {
        // Unsigned: the SOA alone.
        let unsigned = response(ResponseCode::NXDomain, vec![soa("example.nl.")]);
        assert_eq!(denial_shown(&unsigned, "example.nl"), None);
        // Another zone's negative answer (at the end of a CNAME): its records say nothing
        // about this zone.
        let other = response(
            ResponseCode::NoError,
            vec![
                soa("provider.net."),
                opaque_record("abc.provider.net.", RecordType::NSEC3, &nsec3(0)),
            ],
        );
        assert_eq!(denial_shown(&other, "example.nl"), None);
        // Records of another zone beside this zone's SOA are not read.
        let stray = response(
            ResponseCode::NoError,
            vec![
                soa("example.nl."),
                opaque_record("abc.provider.net.", RecordType::NSEC3, &nsec3(0)),
            ],
        );
        assert_eq!(denial_shown(&stray, "example.nl"), None);
        // Both kinds at once: ambiguous, so NSEC3PARAM decides.
        let both = response(
            ResponseCode::NXDomain,
            vec![
                soa("example.nl."),
                opaque_record("example.nl.", RecordType::NSEC, &[0]),
                opaque_record("abc.example.nl.", RecordType::NSEC3, &nsec3(0)),
            ],
        );
        assert_eq!(denial_shown(&both, "example.nl"), None);
        // A failure is no answer.
        let servfail = response(
            ResponseCode::ServFail,
            vec![
                soa("example.nl."),
                opaque_record("example.nl.", RecordType::NSEC, &[0]),
            ],
        );
        assert_eq!(denial_shown(&servfail, "example.nl"), None);
    }
}

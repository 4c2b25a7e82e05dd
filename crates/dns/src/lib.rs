//! DNS stub client for measurement: many queries in flight over few UDP sockets.
//!
//! The scan engine asks this crate every DNS question it has. In production the questions go to
//! one or more validating recursive resolvers (Unbound is the reference), whose AD bit and
//! Extended DNS Errors are the DNSSEC evidence; [`Client::query_server`] also talks directly to
//! authoritative servers (RD=0), e.g. to test whether a domain's name servers answer over IPv6.
//!
//! The wire format comes from `hickory-proto`; transport is our own, because
//! `hickory-resolver` opens a socket per query and does not pass the AD bit through. Per resolver
//! the client keeps a few UDP sockets bound to the unspecified address (all other servers share
//! one such pool per address family), and one receiver task per socket that hands each response
//! to the query waiting for it, matched on message id, question (name case-insensitively, type,
//! class) and source address. Anything else is dropped
//! and counted. Truncated answers are retried over TCP, lost ones are retried with a doubling
//! timeout (rotating over the resolvers), and a semaphore caps the queries in flight per server.
//! [`Client::query_shared`] adds a cache and single-flight for names that many domains share
//! (SPF includes, MX hosts, NS hosts).
//!
//! Responses are parsed leniently: a record whose RDATA hickory-proto cannot read is kept as
//! `RData::Unknown { code: <its type>, .. }` with the raw bytes instead of failing the whole
//! message; only broken framing (header, question, record lengths) gives
//! [`DnsError::Malformed`]. Without hickory-proto's DNSSEC features, DNSSEC record types (DS,
//! DNSKEY, RRSIG, NSEC, NSEC3, ...) also arrive as `RData::Unknown`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), uptake_dns::DnsError> {
//! use uptake_dns::{Client, ClientConfig, Name, Query, RecordType};
//! let client = Client::new(ClientConfig {
//!     resolvers: vec!["127.0.0.1:53".parse().unwrap()],
//!     ..ClientConfig::default()
//! })?;
//! let q = Query::new(Name::from_ascii("example.org.").unwrap(), RecordType::MX);
//! let resp = client.query(&q).await?;
//! println!("{:?} AD={} answers={}", resp.rcode, resp.authentic_data, resp.answers.len());
//! # Ok(()) }
//! ```

mod cache;
mod transport;
mod wire;

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::DNSClass;

pub use hickory_proto::op::ResponseCode;
pub use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::transport::{Exchange, ServerState, SocketPool};
use crate::wire::parse_message;

/// `records` in the canonical order of their RDATA (RFC 4034 §6.3: as unsigned octet
/// strings), whatever order the resolver sent them in. An RRset has no order and resolvers
/// rotate it (Unbound's `rrset-roundrobin`); evidence written in this order is the same in
/// two scans of the same data.
pub fn canonical_order(records: &[Record]) -> Vec<&Record> {
    use hickory_proto::serialize::binary::BinEncodable;
    if records.len() < 2 {
        // Most answers hold one record: nothing to encode or sort.
        return records.iter().collect();
    }
    let mut keyed: Vec<(Vec<u8>, &Record)> = records
        .iter()
        .map(|r| (BinEncodable::to_bytes(&r.data).unwrap_or_default(), r))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, r)| r).collect()
}

/// EDNS option code of Extended DNS Errors (RFC 8914).
const EDE_OPTION_CODE: u16 = 15;
/// EDNS UDP payload size we advertise (DNS flag day 2020).
const EDNS_PAYLOAD: u16 = 1232;

/// Settings of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Recursive resolvers used by [`Client::query`] and [`Client::query_shared`].
    pub resolvers: Vec<SocketAddr>,
    /// Timeout of the first attempt; each retry doubles it. Default 2 s.
    pub timeout: Duration,
    /// Total tries per query (first send included). Default 3.
    pub attempts: u32,
    /// Queries in flight at once per server address. Default 500.
    pub max_in_flight_per_server: usize,
    /// UDP sockets per configured resolver. Servers reached with [`Client::query_server`] that
    /// are not resolvers share one pool of this many sockets per address family. Default 4.
    pub sockets_per_server: usize,
    /// Entries in the cache of [`Client::query_shared`]. Default 200,000.
    pub cache_capacity: usize,
    /// Global cap on messages sent per second, over all servers, retries included (None: no
    /// cap). The burst allowance is a fiftieth of a second's worth, so over any window of a
    /// few seconds the servers see at most the cap plus 2 %.
    pub max_queries_per_second: Option<u32>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            resolvers: Vec::new(),
            timeout: Duration::from_secs(2),
            attempts: 3,
            max_in_flight_per_server: 500,
            sockets_per_server: 4,
            cache_capacity: 200_000,
            max_queries_per_second: None,
        }
    }
}

/// One DNS question (class IN).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    /// The name asked about; sent as a fully qualified name either way.
    pub name: Name,
    /// The record type asked for.
    pub rtype: RecordType,
    /// Sets the CD bit: ask the resolver not to validate (used to tell `bogus` from a failure).
    pub checking_disabled: bool,
}

impl Query {
    /// A question with CD=0.
    pub fn new(name: Name, rtype: RecordType) -> Self {
        Query {
            name,
            rtype,
            checking_disabled: false,
        }
    }

    /// The same question with CD set as given.
    pub fn with_checking_disabled(mut self, cd: bool) -> Self {
        self.checking_disabled = cd;
        self
    }
}

/// An Extended DNS Error (RFC 8914) carried in the response's OPT record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ede {
    /// INFO-CODE, e.g. 6 = DNSSEC Bogus, 9 = DNSKEY Missing.
    pub code: u16,
    /// EXTRA-TEXT, if the server sent any.
    pub text: Option<String>,
}

/// A response as the scan needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Response code, including the EDNS extended bits.
    pub rcode: ResponseCode,
    /// AD bit: the resolver validated the answer.
    pub authentic_data: bool,
    /// AA bit: the answer comes from an authoritative server.
    pub authoritative: bool,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section.
    pub authorities: Vec<Record>,
    /// Additional section, without the OPT pseudo-record.
    pub additionals: Vec<Record>,
    /// Extended DNS Errors (EDNS option 15), in the order received.
    pub ede: Vec<Ede>,
    /// The server that gave this response.
    pub server: SocketAddr,
    /// How many sends it took (1 = first try).
    pub attempts: u32,
    /// The response came over TCP (after a truncated UDP response).
    pub via_tcp: bool,
}

/// Why a query got no response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DnsError {
    /// No response within the timeouts of all attempts. `server` is the last one tried.
    #[error("timeout after {attempts} attempts to {server}")]
    Timeout {
        /// The last server tried.
        server: SocketAddr,
        /// How many sends were made.
        attempts: u32,
    },
    /// A socket operation failed (e.g. network unreachable, connection refused over TCP).
    #[error("I/O error with {server}: {source}")]
    Io {
        /// The server concerned.
        server: SocketAddr,
        /// The underlying error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The server sent something that is not a valid DNS response to our question.
    #[error("malformed response from {server}: {reason}")]
    Malformed {
        /// The server concerned.
        server: SocketAddr,
        /// What was wrong.
        reason: String,
    },
    /// [`Client::query`] or [`Client::query_shared`] was called with no resolver configured.
    #[error("no resolvers configured")]
    NoResolvers,
    /// The query could not be encoded.
    #[error("cannot encode query: {reason}")]
    InvalidQuery {
        /// What was wrong.
        reason: String,
    },
    /// The [`ClientConfig`] is unusable.
    #[error("invalid client configuration: {reason}")]
    InvalidConfig {
        /// What was wrong.
        reason: String,
    },
}

impl DnsError {
    fn io(server: SocketAddr, e: std::io::Error) -> Self {
        DnsError::Io {
            server,
            source: Arc::new(e),
        }
    }
}

/// Counters since the client was made (all clones share them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Calls to `query`, `query_shared` and `query_server` (cache hits included).
    pub queries: u64,
    /// Messages sent, UDP and TCP.
    pub sent: u64,
    /// Responses accepted (matched to a waiting query), UDP and TCP.
    pub responses: u64,
    /// Attempts that ran out of time (one query may count several).
    pub timeouts: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// Truncated UDP responses retried over TCP.
    pub tcp_fallbacks: u64,
    /// `query_shared` calls answered from the cache or by joining an identical query in flight.
    pub cache_hits: u64,
    /// UDP datagrams dropped because id, question or source matched no pending query.
    pub dropped_mismatched: u64,
}

impl Stats {
    /// The share of messages sent that got no answer in time (0 when none were sent). Above a
    /// percent or so the resolver is overloaded or dropping queries: a scan's data then holds
    /// `error` statuses it need not have.
    pub fn timeout_share(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            self.timeouts as f64 / self.sent as f64
        }
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    queries: AtomicU64,
    sent: AtomicU64,
    responses: AtomicU64,
    timeouts: AtomicU64,
    retries: AtomicU64,
    tcp_fallbacks: AtomicU64,
    cache_hits: AtomicU64,
    dropped_mismatched: AtomicU64,
}

impl Counters {
    fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// The DNS client. Cheap to clone; clones share sockets, cache and counters.
///
/// Must be used inside a tokio runtime (sockets and their receiver tasks are made on first use of
/// each server address). Dropping the last clone stops the receiver tasks.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    servers: Mutex<Servers>,
    /// One socket pool per configured resolver.
    resolver_pools: HashMap<SocketAddr, Arc<SocketPool>>,
    /// Shared pools for every other server, by family.
    shared_v4: Arc<SocketPool>,
    shared_v6: Arc<SocketPool>,
    counters: Arc<Counters>,
    cache: cache::SharedCache,
    rate: Option<governor::DefaultDirectRateLimiter>,
}

/// Per-server state; entries of idle non-resolver servers are pruned as the map grows.
struct Servers {
    map: HashMap<SocketAddr, Arc<ServerState>>,
    prune_at: usize,
}

/// The map is pruned of idle servers when it grows past this many entries (then twice the
/// size left after pruning).
const SERVERS_PRUNE_MIN: usize = 4096;

impl Drop for Inner {
    fn drop(&mut self) {
        for p in self.resolver_pools.values() {
            p.shutdown();
        }
        self.shared_v4.shutdown();
        self.shared_v6.shutdown();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("resolvers", &self.inner.config.resolvers)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Makes a client. Fails only on an unusable configuration; sockets are opened on first use.
    /// An empty `resolvers` list is allowed for a client that only uses [`Client::query_server`].
    pub fn new(config: ClientConfig) -> Result<Client, DnsError> {
        let bad = |reason: &str| {
            Err(DnsError::InvalidConfig {
                reason: reason.to_string(),
            })
        };
        if config.timeout.is_zero() {
            return bad("timeout must be positive");
        }
        if config.attempts == 0 {
            return bad("attempts must be at least 1");
        }
        if config.max_in_flight_per_server == 0 || config.max_in_flight_per_server > 32_768 {
            // The upper bound keeps each socket's 16-bit id space at most half used.
            return bad("max_in_flight_per_server must be between 1 and 32768");
        }
        if config.sockets_per_server == 0 {
            return bad("sockets_per_server must be at least 1");
        }
        if config.max_queries_per_second == Some(0) {
            return bad("max_queries_per_second must be at least 1");
        }
        let rate = config
            .max_queries_per_second
            .and_then(std::num::NonZeroU32::new)
            .map(|q| {
                let burst =
                    std::num::NonZeroU32::new(q.get() / 50).unwrap_or(std::num::NonZeroU32::MIN);
                governor::RateLimiter::direct(governor::Quota::per_second(q).allow_burst(burst))
            });
        let cache = cache::SharedCache::new(config.cache_capacity);
        let counters = Arc::new(Counters::default());
        let pool = |ipv6: bool| {
            Arc::new(SocketPool::new(
                ipv6,
                config.sockets_per_server,
                counters.clone(),
            ))
        };
        let resolver_pools = config
            .resolvers
            .iter()
            .map(|r| (*r, pool(r.is_ipv6())))
            .collect();
        let (shared_v4, shared_v6) = (pool(false), pool(true));
        Ok(Client {
            inner: Arc::new(Inner {
                servers: Mutex::new(Servers {
                    map: HashMap::new(),
                    prune_at: SERVERS_PRUNE_MIN,
                }),
                resolver_pools,
                shared_v4,
                shared_v6,
                counters,
                cache,
                rate,
                config,
            }),
        })
    }

    /// Asks the resolvers (RD=1), without the cache.
    pub async fn query(&self, q: &Query) -> Result<Arc<Response>, DnsError> {
        Counters::inc(&self.inner.counters.queries);
        self.resolve(q).await.map(Arc::new)
    }

    /// Like [`Client::query`], but cached for the client's lifetime and single-flight:
    /// concurrent identical queries share one exchange. NOERROR and NXDOMAIN responses are
    /// cached; other response codes and errors are handed to the callers waiting at that moment
    /// and not kept.
    pub async fn query_shared(&self, q: &Query) -> Result<Arc<Response>, DnsError> {
        Counters::inc(&self.inner.counters.queries);
        let key = normalize(q);
        self.inner
            .cache
            .get_or_run(key, &self.inner.counters.cache_hits, || async {
                self.resolve(q).await.map(Arc::new)
            })
            .await
    }

    /// Asks one server directly (RD=0), e.g. an authoritative name server, with the same
    /// timeout, retry and TCP-fallback rules. Not cached.
    pub async fn query_server(
        &self,
        server: SocketAddr,
        q: &Query,
    ) -> Result<Arc<Response>, DnsError> {
        Counters::inc(&self.inner.counters.queries);
        self.run(&[server], 0, q, false).await.map(Arc::new)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            queries: g(&c.queries),
            sent: g(&c.sent),
            responses: g(&c.responses),
            timeouts: g(&c.timeouts),
            retries: g(&c.retries),
            tcp_fallbacks: g(&c.tcp_fallbacks),
            cache_hits: g(&c.cache_hits),
            dropped_mismatched: g(&c.dropped_mismatched),
        }
    }

    async fn resolve(&self, q: &Query) -> Result<Response, DnsError> {
        let resolvers = &self.inner.config.resolvers;
        if resolvers.is_empty() {
            return Err(DnsError::NoResolvers);
        }
        // Spread names over the resolvers; the same name always starts at the same resolver,
        // which keeps the resolvers' caches useful.
        let start = if resolvers.len() == 1 {
            0
        } else {
            let mut h = DefaultHasher::new();
            q.name.hash(&mut h); // case-insensitive
            (h.finish() % resolvers.len() as u64) as usize
        };
        self.run(resolvers, start, q, true).await
    }

    fn server(&self, addr: SocketAddr) -> Arc<ServerState> {
        let inner = &*self.inner;
        let mut servers = inner.servers.lock().unwrap();
        if let Some(s) = servers.map.get(&addr) {
            return s.clone();
        }
        if servers.map.len() >= servers.prune_at {
            servers.map.retain(|a, s| {
                inner.resolver_pools.contains_key(a) || Arc::strong_count(s) > 1 || !s.is_idle()
            });
            servers.prune_at = (servers.map.len() * 2).max(SERVERS_PRUNE_MIN);
        }
        let pool = match inner.resolver_pools.get(&addr) {
            Some(p) => p.clone(),
            None if addr.is_ipv6() => inner.shared_v6.clone(),
            None => inner.shared_v4.clone(),
        };
        let s = Arc::new(ServerState::new(
            addr,
            inner.config.max_in_flight_per_server,
            pool,
        ));
        servers.map.insert(addr, s.clone());
        s
    }

    /// The retry loop: attempt `i` (0-based) goes to `servers[(start + i) % len]` with timeout
    /// `timeout * 2^i`.
    async fn run(
        &self,
        servers: &[SocketAddr],
        start: usize,
        q: &Query,
        rd: bool,
    ) -> Result<Response, DnsError> {
        let q = normalize(q);
        let wire = encode_query(&q, rd)?;
        let counters = &self.inner.counters;
        let attempts = self.inner.config.attempts;
        let mut timeout = self.inner.config.timeout;
        let mut last_err = None;
        for i in 0..attempts {
            let addr = servers[(start + i as usize) % servers.len()];
            if i > 0 {
                Counters::inc(&counters.retries);
            }
            if let Some(rate) = &self.inner.rate {
                rate.until_ready().await;
            }
            let server = self.server(addr);
            let result = server.exchange(&q, &wire, timeout).await;
            match result {
                Exchange::Answer { bytes, via_tcp } => {
                    let msg = parse_message(addr, &bytes)?;
                    if via_tcp {
                        check_matches(addr, &q, &msg)?;
                    }
                    return Ok(to_response(msg, addr, i + 1, via_tcp));
                }
                Exchange::Timeout => {
                    Counters::inc(&counters.timeouts);
                    last_err = Some(DnsError::Timeout {
                        server: addr,
                        attempts: i + 1,
                    });
                }
                Exchange::Failed(e) => {
                    if matches!(e, DnsError::Malformed { .. }) {
                        return Err(e);
                    }
                    last_err = Some(e);
                }
            }
            timeout = timeout.checked_mul(2).unwrap_or(timeout);
        }
        // A Timeout reports the total number of sends.
        Err(match last_err {
            Some(DnsError::Timeout { server, .. }) => DnsError::Timeout { server, attempts },
            Some(e) => e,
            None => DnsError::NoResolvers,
        })
    }
}

/// The question as sent and matched: name fully qualified.
fn normalize(q: &Query) -> Query {
    let mut q = q.clone();
    if !q.name.is_fqdn() {
        q.name.set_fqdn(true);
    }
    q
}

/// Encodes the query with id 0; the transport patches a fresh id into the first two bytes.
fn encode_query(q: &Query, rd: bool) -> Result<Vec<u8>, DnsError> {
    let mut m = Message::new(0, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = rd;
    m.metadata.authentic_data = true;
    m.metadata.checking_disabled = q.checking_disabled;
    m.add_query(hickory_proto::op::Query::query(q.name.clone(), q.rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    edns.set_dnssec_ok(true);
    m.set_edns(edns);
    m.to_vec().map_err(|e| DnsError::InvalidQuery {
        reason: e.to_string(),
    })
}

/// Checks a (TCP) response against the query: QR=1, and the question unless it is an error
/// response without one.
fn check_matches(server: SocketAddr, q: &Query, m: &Message) -> Result<(), DnsError> {
    let ok = m.metadata.message_type == MessageType::Response
        && match m.queries.as_slice() {
            [] => m.metadata.response_code != ResponseCode::NoError,
            [wq] => wq.name == q.name && wq.query_type == q.rtype && wq.query_class == DNSClass::IN,
            _ => false,
        };
    if ok {
        Ok(())
    } else {
        Err(DnsError::Malformed {
            server,
            reason: "response does not match the question".to_string(),
        })
    }
}

fn to_response(m: Message, server: SocketAddr, attempts: u32, via_tcp: bool) -> Response {
    let ede = m
        .edns
        .as_ref()
        .map(|e| {
            e.options()
                .as_ref()
                .iter()
                .filter_map(|(_, opt)| match opt {
                    EdnsOption::Unknown(EDE_OPTION_CODE, data) => parse_ede(data),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Response {
        rcode: m.metadata.response_code,
        authentic_data: m.metadata.authentic_data,
        authoritative: m.metadata.authoritative,
        answers: m.answers,
        authorities: m.authorities,
        additionals: m.additionals,
        ede,
        server,
        attempts,
        via_tcp,
    }
}

/// EDE option data: 2-byte INFO-CODE, then UTF-8 EXTRA-TEXT (possibly empty).
fn parse_ede(data: &[u8]) -> Option<Ede> {
    if data.len() < 2 {
        return None;
    }
    let code = u16::from_be_bytes([data[0], data[1]]);
    let text = String::from_utf8_lossy(&data[2..]);
    let text = text.trim_end_matches('\0');
    Some(Ede {
        code,
        text: (!text.is_empty()).then(|| text.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_order_does_not_depend_on_the_order_received() {
        use hickory_proto::rr::rdata::TXT;
        let name = Name::from_ascii("example.test.").unwrap();
        let txt =
            |s: &str| Record::from_rdata(name.clone(), 300, RData::TXT(TXT::new(vec![s.into()])));
        let rotated = [txt("v=spf1 -all"), txt("b"), txt("a"), txt("abc")];
        let mut reversed = rotated.clone();
        reversed.reverse();
        let texts =
            |rs: Vec<&Record>| -> Vec<String> { rs.iter().map(|r| r.data.to_string()).collect() };
        let once = texts(canonical_order(&rotated));
        assert_eq!(once, texts(canonical_order(&reversed)));
        // Octet-string order of the RDATA: the length byte first, so "a" < "b" < "abc".
        assert_eq!(once[..3], ["a", "b", "abc"]);
    }

    #[test]
    fn ede_parsing() {
        assert_eq!(parse_ede(&[]), None);
        assert_eq!(parse_ede(&[0]), None);
        assert_eq!(
            parse_ede(&[0, 9]),
            Some(Ede {
                code: 9,
                text: None
            })
        );
        assert_eq!(
            parse_ede(b"\x00\x06bad sig\0"),
            Some(Ede {
                code: 6,
                text: Some("bad sig".into())
            })
        );
        assert_eq!(parse_ede(b"\x01\x00\xff").unwrap().code, 256);
    }

    #[test]
    fn query_encoding_has_flags_and_edns() {
        let q = Query::new(Name::from_ascii("Example.COM").unwrap(), RecordType::TXT)
            .with_checking_disabled(true);
        let wire = encode_query(&normalize(&q), true).unwrap();
        let m = Message::from_vec(&wire).unwrap();
        assert!(m.metadata.recursion_desired);
        assert!(m.metadata.authentic_data);
        assert!(m.metadata.checking_disabled);
        let e = m.edns.as_ref().unwrap();
        assert!(e.flags().dnssec_ok);
        assert_eq!(e.max_payload(), 1232);
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.queries[0].query_type, RecordType::TXT);
        assert_eq!(m.queries[0].name, Name::from_ascii("example.com.").unwrap());

        let wire = encode_query(&normalize(&q), false).unwrap();
        let m = Message::from_vec(&wire).unwrap();
        assert!(!m.metadata.recursion_desired);
    }

    #[test]
    fn garbage_is_malformed_not_panic() {
        let server: SocketAddr = "127.0.0.1:53".parse().unwrap();
        for len in 0..64 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = parse_message(server, &bytes);
        }
        assert!(matches!(
            parse_message(server, &[1, 2, 3]),
            Err(DnsError::Malformed { .. })
        ));
    }

    #[test]
    fn error_display() {
        let e = DnsError::Timeout {
            server: "192.0.2.53:53".parse().unwrap(),
            attempts: 3,
        };
        assert_eq!(e.to_string(), "timeout after 3 attempts to 192.0.2.53:53");
    }

    #[test]
    fn config_validation() {
        assert!(Client::new(ClientConfig::default()).is_ok());
        assert!(matches!(
            Client::new(ClientConfig {
                attempts: 0,
                ..ClientConfig::default()
            }),
            Err(DnsError::InvalidConfig { .. })
        ));
    }

    #[test]
    fn client_is_send_sync() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Client>();
        check::<DnsError>();
    }

    #[allow(dead_code)]
    fn futures_are_send(c: &Client, q: &Query) {
        fn check<T: Send>(_: T) {}
        check(c.query(q));
        check(c.query_shared(q));
        check(c.query_server("127.0.0.1:53".parse().unwrap(), q));
    }
}

//! Per-server transport: a few shared UDP sockets with one receiver task each, TCP fallback.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hickory_proto::op::{Header, OpCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{oneshot, Semaphore};
use tokio::task::AbortHandle;

use crate::{Counters, DnsError, Query};

/// Largest UDP datagram we read.
const RECV_BUF: usize = 65_535;
/// Receive buffer requested per UDP socket (SO_RCVBUF).
const RECV_SOCKET_BUFFER: usize = 4 << 20;
/// Queries in flight per socket at most (half the 16-bit id space).
const MAX_PENDING_PER_SOCKET: usize = 32_768;
/// DNS header length.
const HEADER_LEN: usize = 12;

/// Outcome of one attempt.
pub(crate) enum Exchange {
    /// A response that matched the query (UDP: id, question, source; TCP: id only, the caller
    /// checks the question after the full parse).
    Answer { bytes: Vec<u8>, via_tcp: bool },
    /// No response within the attempt's timeout.
    Timeout,
    /// The attempt failed at once.
    Failed(DnsError),
}

/// One server address: its in-flight cap and the socket pool its queries use.
pub(crate) struct ServerState {
    addr: SocketAddr,
    max_in_flight: usize,
    in_flight: Semaphore,
    pool: Arc<SocketPool>,
}

/// A few UDP sockets of one address family, each with a receiver task. A configured resolver
/// gets a pool of its own; all other servers (`query_server` targets) of a family share one, so
/// asking many authoritative servers does not open sockets per server.
pub(crate) struct SocketPool {
    ipv6: bool,
    n_sockets: usize,
    /// Caps the queries in flight over the whole pool, keeping each socket's id space at most
    /// half used.
    ids: Semaphore,
    sockets: OnceLock<Vec<Arc<Sock>>>,
    init: Mutex<()>,
    next: AtomicUsize,
    counters: Arc<Counters>,
    tasks: Mutex<Vec<AbortHandle>>,
}

/// One UDP socket and the queries waiting for a response on it.
struct Sock {
    socket: UdpSocket,
    pending: Mutex<HashMap<u16, Pending>>,
    seq: AtomicU64,
}

struct Pending {
    /// Tells this registration from a later one that reuses the id.
    seq: u64,
    server: SocketAddr,
    name: Name,
    rtype: RecordType,
    tx: oneshot::Sender<Vec<u8>>,
}

/// Removes the pending entry when the attempt ends without a response (timeout, send error,
/// cancellation).
struct PendingGuard<'a> {
    sock: &'a Sock,
    id: u16,
    seq: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut p) = self.sock.pending.lock() {
            if p.get(&self.id).is_some_and(|e| e.seq == self.seq) {
                p.remove(&self.id);
            }
        }
    }
}

impl ServerState {
    pub(crate) fn new(addr: SocketAddr, max_in_flight: usize, pool: Arc<SocketPool>) -> Self {
        let max_in_flight = max_in_flight.min(Semaphore::MAX_PERMITS);
        ServerState {
            addr,
            max_in_flight,
            in_flight: Semaphore::new(max_in_flight),
            pool,
        }
    }

    /// No query holds or waits for a permit.
    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.available_permits() == self.max_in_flight
    }

    /// One attempt: UDP, then TCP if the UDP response is truncated. Holds an in-flight permit
    /// for its duration (waiting for the permit does not count against the timeout).
    pub(crate) async fn exchange(&self, q: &Query, wire: &[u8], timeout: Duration) -> Exchange {
        let closed =
            || Exchange::Failed(DnsError::io(self.addr, io::Error::other("client closed")));
        let Ok(_permit) = self.in_flight.acquire().await else {
            return closed();
        };
        let pool = &self.pool;
        let Ok(_id_permit) = pool.ids.acquire().await else {
            return closed();
        };
        let socks = match pool.sockets() {
            Ok(s) => s,
            Err(e) => return Exchange::Failed(DnsError::io(self.addr, e)),
        };
        let sock = &socks[pool.next.fetch_add(1, Ordering::Relaxed) % socks.len()];

        let (tx, rx) = oneshot::channel();
        let (id, seq) = sock.register(self.addr, q, tx);
        let _guard = PendingGuard { sock, id, seq };
        let mut msg = wire.to_vec();
        msg[0..2].copy_from_slice(&id.to_be_bytes());

        Counters::inc(&self.pool.counters.sent);
        if let Err(e) = sock.socket.send_to(&msg, self.addr).await {
            return Exchange::Failed(DnsError::io(self.addr, e));
        }
        let bytes = match tokio::time::timeout(timeout, rx).await {
            Err(_) => return Exchange::Timeout,
            Ok(Err(_)) => {
                return Exchange::Failed(DnsError::io(
                    self.addr,
                    io::Error::other("receiver task stopped"),
                ))
            }
            Ok(Ok(bytes)) => bytes,
        };
        // TC bit: the receiver only delivers messages of at least a header.
        if bytes[2] & 0x02 != 0 {
            Counters::inc(&self.pool.counters.tcp_fallbacks);
            return self.tcp_exchange(&msg, timeout).await;
        }
        Exchange::Answer {
            bytes,
            via_tcp: false,
        }
    }

    async fn tcp_exchange(&self, msg: &[u8], timeout: Duration) -> Exchange {
        let addr = self.addr;
        let len = match u16::try_from(msg.len()) {
            Ok(l) => l,
            Err(_) => {
                return Exchange::Failed(DnsError::InvalidQuery {
                    reason: "query longer than 65535 bytes".into(),
                })
            }
        };
        Counters::inc(&self.pool.counters.sent);
        let fut = async {
            let mut s = TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            let mut out = Vec::with_capacity(msg.len() + 2);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(msg);
            s.write_all(&out).await?;
            let mut lb = [0u8; 2];
            s.read_exact(&mut lb).await?;
            let mut buf = vec![0u8; usize::from(u16::from_be_bytes(lb))];
            s.read_exact(&mut buf).await?;
            Ok::<_, io::Error>(buf)
        };
        match tokio::time::timeout(timeout, fut).await {
            Err(_) => Exchange::Timeout,
            Ok(Err(e)) => Exchange::Failed(DnsError::io(addr, e)),
            Ok(Ok(buf)) => {
                if buf.len() < HEADER_LEN || buf[0..2] != msg[0..2] {
                    return Exchange::Failed(DnsError::Malformed {
                        server: addr,
                        reason: "TCP response too short or with the wrong id".into(),
                    });
                }
                Counters::inc(&self.pool.counters.responses);
                Exchange::Answer {
                    bytes: buf,
                    via_tcp: true,
                }
            }
        }
    }
}

impl SocketPool {
    pub(crate) fn new(ipv6: bool, n_sockets: usize, counters: Arc<Counters>) -> Self {
        SocketPool {
            ipv6,
            n_sockets,
            ids: Semaphore::new(n_sockets.saturating_mul(MAX_PENDING_PER_SOCKET)),
            sockets: OnceLock::new(),
            init: Mutex::new(()),
            next: AtomicUsize::new(0),
            counters,
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// Stops the receiver tasks (the client is gone).
    pub(crate) fn shutdown(&self) {
        if let Ok(tasks) = self.tasks.lock() {
            for t in tasks.iter() {
                t.abort();
            }
        }
    }

    /// The sockets, bound and with their receiver tasks running on first call.
    fn sockets(&self) -> io::Result<&[Arc<Sock>]> {
        if let Some(s) = self.sockets.get() {
            return Ok(s);
        }
        let _init = self.init.lock().unwrap();
        if let Some(s) = self.sockets.get() {
            return Ok(s);
        }
        let local: SocketAddr = if self.ipv6 {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let mut socks = Vec::with_capacity(self.n_sockets);
        for _ in 0..self.n_sockets {
            let std_sock = bind_udp(local)?;
            socks.push(Arc::new(Sock {
                socket: UdpSocket::from_std(std_sock)?,
                pending: Mutex::new(HashMap::new()),
                seq: AtomicU64::new(0),
            }));
        }
        let mut tasks = self.tasks.lock().unwrap();
        for s in &socks {
            let handle = tokio::spawn(receive_loop(s.clone(), self.counters.clone()));
            tasks.push(handle.abort_handle());
        }
        drop(tasks);
        Ok(self.sockets.get_or_init(|| socks))
    }
}

impl Sock {
    /// Registers a waiting query under a random id not in use on this socket.
    fn register(&self, server: SocketAddr, q: &Query, tx: oneshot::Sender<Vec<u8>>) -> (u16, u64) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut p = self.pending.lock().unwrap();
        // The pool's id semaphore keeps the map at most half full (on average far less), so
        // random probing ends quickly.
        let id = loop {
            let id: u16 = rand::random();
            if !p.contains_key(&id) {
                break id;
            }
        };
        p.insert(
            id,
            Pending {
                seq,
                server,
                name: q.name.clone(),
                rtype: q.rtype,
                tx,
            },
        );
        (id, seq)
    }
}

/// What the receiver could read of a datagram's question section.
enum Question {
    One(Name, RecordType, DNSClass),
    /// QDCOUNT = 0, acceptable only in an error response.
    None {
        rcode_nonzero: bool,
    },
    /// Several questions: never ours.
    Many,
    /// The question section could not be parsed; the full parse will report it as malformed.
    Unparseable,
}

fn read_question(data: &[u8]) -> Question {
    let parsed = std::panic::catch_unwind(|| {
        let mut d = BinDecoder::new(data);
        let header = match Header::read(&mut d) {
            Ok(h) => h,
            Err(_) => return Question::Unparseable,
        };
        match header.counts.queries {
            0 => Question::None {
                rcode_nonzero: data[3] & 0x0f != 0,
            },
            1 => match hickory_proto::op::Query::read(&mut d) {
                Ok(q) => Question::One(q.name, q.query_type, q.query_class),
                Err(_) => Question::Unparseable,
            },
            _ => Question::Many,
        }
    });
    parsed.unwrap_or(Question::Unparseable)
}

/// A non-blocking UDP socket on `local` with a large receive buffer, so that a burst of
/// responses to the queries in flight is not dropped by the kernel (the kernel caps the size at
/// `net.core.rmem_max`).
fn bind_udp(local: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(local),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    if local.is_ipv6() {
        s.set_only_v6(true)?;
    }
    // Best effort: a smaller buffer still works.
    let _ = s.set_recv_buffer_size(RECV_SOCKET_BUFFER);
    s.set_nonblocking(true)?;
    s.bind(&local.into())?;
    Ok(s.into())
}

/// Reads responses from one socket and hands each to the query waiting for it.
async fn receive_loop(sock: Arc<Sock>, counters: Arc<Counters>) {
    let mut buf = vec![0u8; RECV_BUF];
    loop {
        let (n, src) = match sock.socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(_) => {
                // Unconnected UDP sockets rarely report errors; do not spin if one repeats.
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        let data = &buf[..n];
        if !is_response(data) {
            Counters::inc(&counters.dropped_mismatched);
            continue;
        }
        let id = u16::from_be_bytes([data[0], data[1]]);
        let question = read_question(data);
        let mut pending = sock.pending.lock().unwrap();
        let matched = match (pending.get(&id), &question) {
            (None, _) => false,
            (Some(p), _) if p.server != src => false,
            (Some(p), Question::One(name, rtype, class)) => {
                *name == p.name && *rtype == p.rtype && *class == DNSClass::IN
            }
            (Some(_), Question::None { rcode_nonzero }) => *rcode_nonzero,
            (Some(_), Question::Many) => false,
            (Some(_), Question::Unparseable) => true,
        };
        let entry = if matched { pending.remove(&id) } else { None };
        drop(pending);
        match entry {
            Some(p) => {
                Counters::inc(&counters.responses);
                let _ = p.tx.send(data.to_vec());
            }
            None => Counters::inc(&counters.dropped_mismatched),
        }
    }
}

/// Length, QR=1 and opcode QUERY.
fn is_response(data: &[u8]) -> bool {
    if data.len() < HEADER_LEN {
        return false;
    }
    let qr = data[2] & 0x80 != 0;
    let opcode = OpCode::from_u8((data[2] >> 3) & 0x0f);
    qr && opcode == OpCode::Query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_response_checks_header() {
        let mut h = [0u8; 12];
        h[2] = 0x80;
        assert!(is_response(&h));
        assert!(!is_response(&h[..11]));
        h[2] = 0x00; // a query, not a response
        assert!(!is_response(&h));
        h[2] = 0x80 | (5 << 3); // UPDATE
        assert!(!is_response(&h));
    }

    #[test]
    fn read_question_handles_garbage() {
        assert!(matches!(read_question(&[0u8; 12]), Question::None { .. }));
        let mut h = vec![0u8; 12];
        h[5] = 1; // QDCOUNT=1, no question bytes
        assert!(matches!(read_question(&h), Question::Unparseable));
        h[5] = 2;
        assert!(matches!(read_question(&h), Question::Many));
    }
}

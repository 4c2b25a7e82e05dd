//! Integration tests against tiny in-process fake DNS servers on 127.0.0.1 (loopback only).

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, OpCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::rdata::A;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use uptake_dns::{
    Client, ClientConfig, DnsError, Ede, Name, Query, RData, Record, RecordType, ResponseCode,
};

/// What a fake UDP server does with one query: the datagrams to send back (none = silent).
/// Each datagram may come from the server's socket or from a second "spoofing" socket.
enum Out {
    Reply(Vec<u8>),
    FromOtherSocket(Vec<u8>),
    Sleep(Duration),
    Run(Box<dyn FnOnce() + Send>),
}

type Behavior = Arc<dyn Fn(&Message) -> Vec<Out> + Send + Sync>;
/// What a fake TCP server answers.
type TcpBehavior = Box<dyn Fn(&Message) -> Message + Send + Sync>;

struct Fake {
    addr: SocketAddr,
    /// Queries received over UDP.
    queries: Arc<AtomicUsize>,
    /// Distinct client source addresses seen.
    sources: Arc<Mutex<HashSet<SocketAddr>>>,
    /// Every query received (UDP), parsed.
    log: Arc<Mutex<Vec<Message>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Fake {
    /// A UDP server; with `tcp`, also a TCP server on the same port answering with `tcp`.
    async fn start(
        udp: impl Fn(&Message) -> Vec<Out> + Send + Sync + 'static,
        tcp: Option<TcpBehavior>,
    ) -> Fake {
        // Find a port free for both UDP and TCP.
        let (sock, listener) = loop {
            let sock = big_udp_socket();
            if tcp.is_none() {
                break (sock, None);
            }
            let port = sock.local_addr().unwrap().port();
            if let Ok(l) = TcpListener::bind(("127.0.0.1", port)).await {
                break (sock, Some(l));
            }
        };
        let addr = sock.local_addr().unwrap();
        let other = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let sock = Arc::new(sock);
        let queries = Arc::new(AtomicUsize::new(0));
        let sources = Arc::new(Mutex::new(HashSet::new()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let behavior: Behavior = Arc::new(udp);
        let mut tasks = Vec::new();
        {
            let (queries, sources, log) = (queries.clone(), sources.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 65535];
                loop {
                    let Ok((n, src)) = sock.recv_from(&mut buf).await else {
                        continue;
                    };
                    let Ok(q) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    queries.fetch_add(1, Ordering::SeqCst);
                    sources.lock().unwrap().insert(src);
                    log.lock().unwrap().push(q.clone());
                    let outs = behavior(&q);
                    let (sock, other) = (sock.clone(), other.clone());
                    // Answer from a task so a sleeping behaviour does not block others.
                    tokio::spawn(async move {
                        for o in outs {
                            match o {
                                Out::Reply(b) => {
                                    let _ = sock.send_to(&b, src).await;
                                }
                                Out::FromOtherSocket(b) => {
                                    let _ = other.send_to(&b, src).await;
                                }
                                Out::Sleep(d) => tokio::time::sleep(d).await,
                                Out::Run(f) => f(),
                            }
                        }
                    });
                }
            }));
        }
        if let (Some(listener), Some(tcp)) = (listener, tcp) {
            let tcp: Arc<dyn Fn(&Message) -> Message + Send + Sync> = Arc::from(tcp);
            tasks.push(tokio::spawn(async move {
                loop {
                    let Ok((mut s, _)) = listener.accept().await else {
                        continue;
                    };
                    let tcp = tcp.clone();
                    tokio::spawn(async move {
                        let mut lb = [0u8; 2];
                        if s.read_exact(&mut lb).await.is_err() {
                            return;
                        }
                        let mut b = vec![0u8; u16::from_be_bytes(lb) as usize];
                        if s.read_exact(&mut b).await.is_err() {
                            return;
                        }
                        let Ok(q) = Message::from_vec(&b) else { return };
                        let r = tcp(&q).to_vec().unwrap();
                        let mut out = (r.len() as u16).to_be_bytes().to_vec();
                        out.extend_from_slice(&r);
                        let _ = s.write_all(&out).await;
                    });
                }
            }));
        }
        Fake {
            addr,
            queries,
            sources,
            log,
            tasks,
        }
    }

    fn seen(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

/// A UDP socket on 127.0.0.1 with a large receive buffer: the client's bursts of hundreds of
/// queries would overflow the default one and show up as timeouts.
fn big_udp_socket() -> UdpSocket {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    let _ = s.set_recv_buffer_size(4 << 20);
    s.set_nonblocking(true).unwrap();
    s.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .unwrap();
    UdpSocket::from_std(s.into()).unwrap()
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// A NOERROR response to `q` with the question copied and EDNS.
fn reply(q: &Message) -> Message {
    let mut r = Message::response(q.metadata.id, OpCode::Query);
    r.metadata.recursion_desired = q.metadata.recursion_desired;
    r.metadata.recursion_available = true;
    r.add_queries(q.queries.clone());
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.set_dnssec_ok(true);
    r.set_edns(e);
    r
}

fn a_record(n: &Name, ip: Ipv4Addr) -> Record {
    Record::from_rdata(n.clone(), 300, RData::A(A(ip)))
}

/// Answers every A query with the address encoded in its first label ("q<i>" -> i).
fn echo_index(q: &Message) -> Message {
    let mut r = reply(q);
    let qn = q.queries[0].name.clone();
    let first = String::from_utf8_lossy(qn.iter().next().unwrap()).to_string();
    let i: u32 = first.trim_start_matches('q').parse().unwrap_or(0);
    r.add_answer(a_record(&qn, Ipv4Addr::from(i)));
    r
}

fn config(resolvers: Vec<SocketAddr>) -> ClientConfig {
    ClientConfig {
        resolvers,
        timeout: Duration::from_millis(100),
        attempts: 3,
        ..ClientConfig::default()
    }
}

fn first_a(resp: &uptake_dns::Response) -> Ipv4Addr {
    match &resp.answers[0].data {
        RData::A(a) => a.0,
        other => panic!("not an A record: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_answer_with_ad_and_ede() {
    let fake = Fake::start(
        |q| {
            let mut r = reply(q);
            r.metadata.authentic_data = true;
            r.add_answer(a_record(&q.queries[0].name, Ipv4Addr::new(192, 0, 2, 7)));
            let e = r.edns.as_mut().unwrap();
            let mut ede = 18u16.to_be_bytes().to_vec();
            ede.extend_from_slice(b"prohibited");
            e.options_mut().insert(EdnsOption::Unknown(15, ede));
            e.options_mut()
                .insert(EdnsOption::Unknown(15, 9u16.to_be_bytes().to_vec()));
            vec![Out::Reply(r.to_vec().unwrap())]
        },
        None,
    )
    .await;
    let client = Client::new(config(vec![fake.addr])).unwrap();
    // Mixed case and not fully qualified: still matched and answered.
    let q = Query::new(name("WwW.Example.ORG"), RecordType::A).with_checking_disabled(true);
    let r = client.query(&q).await.unwrap();
    assert_eq!(r.rcode, ResponseCode::NoError);
    assert!(r.authentic_data);
    assert!(!r.authoritative);
    assert!(!r.via_tcp);
    assert_eq!(r.attempts, 1);
    assert_eq!(r.server, fake.addr);
    assert_eq!(first_a(&r), Ipv4Addr::new(192, 0, 2, 7));
    assert_eq!(
        r.ede,
        vec![
            Ede {
                code: 18,
                text: Some("prohibited".into())
            },
            Ede {
                code: 9,
                text: None
            }
        ]
    );
    // The query as the server saw it.
    let sent = fake.log.lock().unwrap()[0].clone();
    assert!(sent.metadata.recursion_desired);
    assert!(sent.metadata.authentic_data);
    assert!(sent.metadata.checking_disabled);
    let edns = sent.edns.as_ref().expect("EDNS0");
    assert!(edns.flags().dnssec_ok);
    assert_eq!(edns.max_payload(), 1232);
    assert_eq!(sent.queries[0].name, name("www.example.org."));

    let s = client.stats();
    assert_eq!((s.queries, s.sent, s.responses), (1, 1, 1));
    assert_eq!((s.timeouts, s.retries, s.dropped_mismatched), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_server_clears_rd_and_reports_aa() {
    let fake = Fake::start(
        |q| {
            let mut r = reply(q);
            r.metadata.authoritative = true;
            r.metadata.response_code = ResponseCode::NXDomain;
            vec![Out::Reply(r.to_vec().unwrap())]
        },
        None,
    )
    .await;
    let client = Client::new(config(vec![])).unwrap();
    let q = Query::new(name("nope.example."), RecordType::AAAA);
    let r = client.query_server(fake.addr, &q).await.unwrap();
    assert_eq!(r.rcode, ResponseCode::NXDomain);
    assert!(r.authoritative);
    assert!(!fake.log.lock().unwrap()[0].metadata.recursion_desired);
    // No resolvers: query() refuses.
    assert!(matches!(client.query(&q).await, Err(DnsError::NoResolvers)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncation_falls_back_to_tcp() {
    let fake = Fake::start(
        |q| {
            let mut r = reply(q);
            r.metadata.truncation = true;
            vec![Out::Reply(r.to_vec().unwrap())]
        },
        Some(Box::new(|q| {
            let mut r = reply(q);
            for i in 0..100 {
                r.add_answer(a_record(&q.queries[0].name, Ipv4Addr::new(10, 0, 0, i)));
            }
            r
        })),
    )
    .await;
    let client = Client::new(config(vec![fake.addr])).unwrap();
    let r = client
        .query(&Query::new(name("big.example."), RecordType::A))
        .await
        .unwrap();
    assert!(r.via_tcp);
    assert_eq!(r.answers.len(), 100);
    assert_eq!(r.attempts, 1);
    let s = client.stats();
    assert_eq!(s.tcp_fallbacks, 1);
    assert_eq!(s.sent, 2);
    assert_eq!(s.responses, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_server_times_out_with_backoff() {
    let fake = Fake::start(|_| vec![], None).await;
    let client = Client::new(ClientConfig {
        timeout: Duration::from_millis(50),
        ..config(vec![fake.addr])
    })
    .unwrap();
    let t0 = Instant::now();
    let err = client
        .query(&Query::new(name("slow.example."), RecordType::A))
        .await
        .unwrap_err();
    let took = t0.elapsed();
    match &err {
        DnsError::Timeout { server, attempts } => {
            assert_eq!(*server, fake.addr);
            assert_eq!(*attempts, 3);
        }
        other => panic!("expected timeout, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!("timeout after 3 attempts to {}", fake.addr)
    );
    // 50 + 100 + 200 ms.
    assert!(took >= Duration::from_millis(340), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(fake.seen(), 3);
    let s = client.stats();
    assert_eq!((s.sent, s.timeouts, s.retries, s.responses), (3, 3, 2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatched_responses_are_dropped() {
    let fake = Fake::start(
        |q| {
            let good = reply(q);
            let mut wrong_id = good.clone();
            wrong_id.metadata.id = q.metadata.id.wrapping_add(1);
            let mut wrong_name = good.clone();
            wrong_name.queries[0].name = name("other.example.");
            let mut wrong_type = good.clone();
            wrong_type.queries[0].query_type = RecordType::MX;
            let mut ok = good.clone();
            ok.add_answer(a_record(&q.queries[0].name, Ipv4Addr::new(192, 0, 2, 1)));
            let mut spoof = good.clone();
            spoof.add_answer(a_record(&q.queries[0].name, Ipv4Addr::new(6, 6, 6, 6)));
            vec![
                Out::Reply(wrong_id.to_vec().unwrap()),
                Out::Reply(wrong_name.to_vec().unwrap()),
                Out::Reply(wrong_type.to_vec().unwrap()),
                Out::FromOtherSocket(spoof.to_vec().unwrap()),
                Out::Reply(vec![1, 2, 3]),
                Out::Sleep(Duration::from_millis(20)),
                Out::Reply(ok.to_vec().unwrap()),
            ]
        },
        None,
    )
    .await;
    let client = Client::new(ClientConfig {
        timeout: Duration::from_secs(2),
        ..config(vec![fake.addr])
    })
    .unwrap();
    let r = client
        .query(&Query::new(name("Mixed.Example."), RecordType::A))
        .await
        .unwrap();
    assert_eq!(first_a(&r), Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(r.attempts, 1);
    let s = client.stats();
    assert_eq!(s.dropped_mismatched, 5);
    assert_eq!(s.responses, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_queries_over_four_sockets() {
    let fake = Fake::start(|q| vec![Out::Reply(echo_index(q).to_vec().unwrap())], None).await;
    let client = Client::new(ClientConfig {
        timeout: Duration::from_secs(2),
        sockets_per_server: 4,
        ..config(vec![fake.addr])
    })
    .unwrap();
    let n = 10_000u32;
    let futs = (0..n).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            let q = Query::new(name(&format!("q{i}.bulk.example.")), RecordType::A);
            let r = client.query(&q).await.unwrap();
            assert_eq!(first_a(&r), Ipv4Addr::from(i), "answer for q{i}");
        })
    });
    for r in futures::future::join_all(futs).await {
        r.unwrap();
    }
    let s = client.stats();
    assert_eq!(s.queries, u64::from(n));
    assert_eq!(s.responses, s.sent, "{s:?}");
    assert_eq!(s.dropped_mismatched, 0);
    assert_eq!(
        fake.sources.lock().unwrap().len(),
        4,
        "one socket per query?"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_cap_is_respected() {
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (now2, peak2) = (now.clone(), peak.clone());
    // In flight at the server: from receipt to reply, which lies inside the client's window.
    let fake = Fake::start(
        move |q| {
            let v = now2.fetch_add(1, Ordering::SeqCst) + 1;
            peak2.fetch_max(v, Ordering::SeqCst);
            let now3 = now2.clone();
            vec![
                Out::Sleep(Duration::from_millis(5)),
                Out::Run(Box::new(move || {
                    now3.fetch_sub(1, Ordering::SeqCst);
                })),
                Out::Reply(echo_index(q).to_vec().unwrap()),
            ]
        },
        None,
    )
    .await;
    let client = Client::new(ClientConfig {
        timeout: Duration::from_secs(2),
        max_in_flight_per_server: 10,
        ..config(vec![fake.addr])
    })
    .unwrap();
    let futs = (0..200u32).map(|i| {
        let client = client.clone();
        async move {
            let q = Query::new(name(&format!("q{i}.cap.example.")), RecordType::A);
            let r = client.query(&q).await.unwrap();
            assert_eq!(first_a(&r), Ipv4Addr::from(i));
        }
    });
    futures::future::join_all(futs).await;
    let peak = peak.load(Ordering::SeqCst);
    assert!((2..=10).contains(&peak), "peak {peak}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_shared_is_single_flight_and_cached() {
    let fake = Fake::start(
        |q| {
            let mut r = reply(q);
            let n = &q.queries[0].name;
            if n.to_ascii().starts_with("fail") {
                r.metadata.response_code = ResponseCode::ServFail;
            } else {
                r.add_answer(a_record(n, Ipv4Addr::new(192, 0, 2, 99)));
            }
            vec![
                Out::Sleep(Duration::from_millis(100)),
                Out::Reply(r.to_vec().unwrap()),
            ]
        },
        None,
    )
    .await;
    let client = Client::new(ClientConfig {
        timeout: Duration::from_secs(2),
        ..config(vec![fake.addr])
    })
    .unwrap();
    let q = Query::new(name("_spf.shared.example."), RecordType::A);
    let futs = (0..100).map(|_| {
        let (client, q) = (client.clone(), q.clone());
        tokio::spawn(async move { client.query_shared(&q).await.unwrap() })
    });
    let results: Vec<_> = futures::future::join_all(futs)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(fake.seen(), 1);
    assert!(results.iter().all(|r| Arc::ptr_eq(r, &results[0])));
    // Later (and differently cased): from the cache.
    let again = client
        .query_shared(&Query::new(name("_SPF.Shared.Example"), RecordType::A))
        .await
        .unwrap();
    assert!(Arc::ptr_eq(&again, &results[0]));
    assert_eq!(fake.seen(), 1);
    assert_eq!(client.stats().cache_hits, 100);
    // Different type or CD bit: a different entry.
    client
        .query_shared(&q.clone().with_checking_disabled(true))
        .await
        .unwrap();
    assert_eq!(fake.seen(), 2);
    // SERVFAIL is shared among concurrent callers but not cached.
    let f = Query::new(name("fail.example."), RecordType::A);
    let (a, b) = tokio::join!(client.query_shared(&f), client.query_shared(&f));
    assert_eq!(a.unwrap().rcode, ResponseCode::ServFail);
    assert_eq!(b.unwrap().rcode, ResponseCode::ServFail);
    assert_eq!(fake.seen(), 3);
    client.query_shared(&f).await.unwrap();
    assert_eq!(fake.seen(), 4);
    // query() never uses the cache.
    client.query(&q).await.unwrap();
    assert_eq!(fake.seen(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_to_second_resolver() {
    let silent = Fake::start(|_| vec![], None).await;
    let good = Fake::start(|q| vec![Out::Reply(echo_index(q).to_vec().unwrap())], None).await;
    let client = Client::new(ClientConfig {
        timeout: Duration::from_millis(50),
        ..config(vec![silent.addr, good.addr])
    })
    .unwrap();
    let mut via_failover = 0;
    for i in 0..20u32 {
        let q = Query::new(name(&format!("q{i}.failover.example.")), RecordType::A);
        let r = client.query(&q).await.unwrap();
        assert_eq!(r.server, good.addr);
        assert_eq!(first_a(&r), Ipv4Addr::from(i));
        if r.attempts == 2 {
            via_failover += 1;
        } else {
            assert_eq!(r.attempts, 1);
        }
    }
    // Names are spread over both resolvers, so some started at the silent one.
    assert!(via_failover > 0);
    assert!(via_failover < 20);
    assert_eq!(silent.seen(), via_failover);
    let s = client.stats();
    assert_eq!(s.timeouts, via_failover as u64);
    assert_eq!(s.retries, via_failover as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_response_is_an_error_not_a_panic() {
    let fake = Fake::start(
        |q| {
            // Right id and question, then a header that promises an answer that is not there.
            let mut b = reply(q).to_vec().unwrap();
            b[7] = 1; // ANCOUNT = 1
            b[11] = 0; // ARCOUNT = 0: the OPT record's bytes now parse as a broken answer
            b.truncate(b.len() - 3);
            vec![Out::Reply(b)]
        },
        None,
    )
    .await;
    let client = Client::new(config(vec![fake.addr])).unwrap();
    let err = client
        .query(&Query::new(name("broken.example."), RecordType::A))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DnsError::Malformed { server, .. } if server == fake.addr),
        "{err:?}"
    );
    assert_eq!(fake.seen(), 1);
    // The client still works afterwards.
    let ok = Fake::start(|q| vec![Out::Reply(echo_index(q).to_vec().unwrap())], None).await;
    let r = client
        .query_server(
            ok.addr,
            &Query::new(name("q5.after.example."), RecordType::A),
        )
        .await
        .unwrap();
    assert_eq!(first_a(&r), Ipv4Addr::new(0, 0, 0, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_error_is_io_and_quick() {
    // Port 0 is rejected by the kernel at send time (EINVAL); no packet leaves the host.
    let client = Client::new(config(vec![])).unwrap();
    let t0 = Instant::now();
    for server in ["127.0.0.1:0", "[::1]:0"] {
        let server: SocketAddr = server.parse().unwrap();
        let err = client
            .query_server(server, &Query::new(name("x.example."), RecordType::A))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DnsError::Io { server: s, .. } if s == server),
            "{err:?}"
        );
    }
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_queries_leave_nothing_behind() {
    let fake = Fake::start(
        |q| {
            vec![
                Out::Sleep(Duration::from_millis(200)),
                Out::Reply(echo_index(q).to_vec().unwrap()),
            ]
        },
        None,
    )
    .await;
    let client = Client::new(ClientConfig {
        timeout: Duration::from_secs(2),
        max_in_flight_per_server: 5,
        ..config(vec![fake.addr])
    })
    .unwrap();
    for i in 0..20u32 {
        let q = Query::new(name(&format!("q{i}.cancel.example.")), RecordType::A);
        let _ = tokio::time::timeout(Duration::from_millis(5), client.query(&q)).await;
    }
    // Permits were returned: a query still gets through. Late replies count as mismatched.
    let r = client
        .query(&Query::new(name("q77.cancel.example."), RecordType::A))
        .await
        .unwrap();
    assert_eq!(first_a(&r), Ipv4Addr::new(0, 0, 0, 77));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(client.stats().dropped_mismatched >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_server_shares_sockets_across_servers() {
    let mut fakes = Vec::new();
    for _ in 0..20 {
        fakes.push(Fake::start(|q| vec![Out::Reply(echo_index(q).to_vec().unwrap())], None).await);
    }
    let client = Client::new(config(vec![])).unwrap();
    let futs = fakes.iter().enumerate().flat_map(|(s, f)| {
        let client = client.clone();
        (0..10u32).map(move |i| {
            let client = client.clone();
            let addr = f.addr;
            let n = s as u32 * 100 + i;
            async move {
                let q = Query::new(name(&format!("q{n}.auth.example.")), RecordType::A);
                let r = client.query_server(addr, &q).await.unwrap();
                assert_eq!(r.server, addr);
                assert_eq!(first_a(&r), Ipv4Addr::from(n));
            }
        })
    });
    futures::future::join_all(futs).await;
    let mut sources = HashSet::new();
    for f in &fakes {
        sources.extend(f.sources.lock().unwrap().iter().copied());
    }
    assert!(sources.len() <= 4, "{} client sockets", sources.len());
}

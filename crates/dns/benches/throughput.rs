//! Micro benchmark: queries/s through `Client::query` against an in-process fake DNS server on
//! 127.0.0.1 that answers every query at once with one A record. Prints numbers; no pass/fail.
//!
//! `cargo bench -p uptake-dns --bench throughput [-- TOTAL [CONCURRENCY]]`

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use uptake_dns::{Client, ClientConfig, Name, Query, RecordType};

/// A fake server on its own OS thread with a plain blocking socket and a large receive buffer.
/// It builds each answer by hand from the query bytes (header, question, one A record), so it
/// costs far less than the client and the number measures the client.
fn fake_server() -> SocketAddr {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    let _ = s.set_recv_buffer_size(4 << 20);
    s.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .unwrap();
    let sock: std::net::UdpSocket = s.into();
    let addr = sock.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut out = Vec::with_capacity(512);
        loop {
            let Ok((n, src)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let q = &buf[..n];
            if n < 12 {
                continue;
            }
            // End of QNAME (uncompressed in a query), then QTYPE and QCLASS.
            let mut i = 12;
            while i < n && q[i] != 0 {
                i += 1 + usize::from(q[i]);
            }
            let qend = i + 5;
            if qend > n {
                continue;
            }
            out.clear();
            out.extend_from_slice(&q[0..2]); // id
            out.extend_from_slice(&[0x81 | (q[2] & 0x01), 0xa0]); // QR, RD copied, RA, AD
            out.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]); // QD=1 AN=1 NS=0 AR=0
            out.extend_from_slice(&q[12..qend]);
            out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 192, 0, 2, 1]);
            let _ = sock.send_to(&out, src);
        }
    });
    addr
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let total: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let concurrency: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(500);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let server = fake_server();
        let client = Client::new(ClientConfig {
            resolvers: vec![server],
            timeout: Duration::from_secs(2),
            max_in_flight_per_server: concurrency.clamp(1, 32_768),
            ..ClientConfig::default()
        })
        .unwrap();
        let names: Arc<Vec<Name>> = Arc::new(
            (0..total)
                .map(|i| Name::from_ascii(format!("host{i}.bench.example.")).unwrap())
                .collect(),
        );
        // Warm-up (opens the sockets).
        client
            .query(&Query::new(names[0].clone(), RecordType::A))
            .await
            .unwrap();
        let t0 = Instant::now();
        let workers = (0..concurrency).map(|w| {
            let (client, names) = (client.clone(), names.clone());
            tokio::spawn(async move {
                let mut errors = 0usize;
                let mut i = w;
                while i < names.len() {
                    let q = Query::new(names[i].clone(), RecordType::A);
                    if client.query(&q).await.is_err() {
                        errors += 1;
                    }
                    i += concurrency;
                }
                errors
            })
        });
        let mut errors = 0;
        for w in futures::future::join_all(workers).await {
            errors += w.unwrap();
        }
        let took = t0.elapsed();
        let s = client.stats();
        println!(
            "uptake-dns throughput: {total} queries, {concurrency} in flight, {:.3} s, {:.0} queries/s, {errors} errors",
            took.as_secs_f64(),
            total as f64 / took.as_secs_f64()
        );
        println!("stats: {s:?}");
    });
}

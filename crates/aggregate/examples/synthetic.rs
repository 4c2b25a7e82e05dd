//! Writes a synthetic dataset with the real schema for the aggregation benchmark
//! (benches/aggregate.sh): `cargo run --release -p uptake-aggregate --example synthetic --
//! DATASET ROWS [SCAN_ID] [K/N]`; with `K/N` it writes the K-th of N equal slices of the rows
//! as shard `KofN`, so N processes can write one dataset in parallel.
//!
//! Rows are drawn from a fixed-seed generator over every country of the testbed and a few
//! more, every sector label the aggregator maps plus unmapped ones, and every status of every
//! check (with a few percent `error` and some checks not run), so every metric has work to do.

use std::path::PathBuf;
use std::time::Instant;

use uptake_model::row::ScanRow;
use uptake_model::{Check, Finding};
use uptake_store::{DatasetWriter, WriterOptions};

/// SplitMix64: small, fast and deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const COUNTRIES: &[Option<&str>] = &[
    Some("NL"),
    Some("SE"),
    Some("DE"),
    Some("BR"),
    Some("GB"),
    Some("US"),
    Some("FR"),
    Some("nl"),
    None,
];
const TLDS: &[&str] = &["nl", "se", "de", "com", "org", "co.uk", "fr", "br", "eu"];
const SECTORS: &[Option<&str>] = &[
    Some("public administration"),
    Some("finance"),
    Some("health"),
    Some("education"),
    Some("telecom"),
    Some("other"),
    Some("Government"),
    Some("Banking"),
    Some("University"),
    Some("Space tourism"),
    None,
];
const TLS: &[&str] = &["TLSv1.2", "TLSv1.3", "TLSv1.0", ""];
const KEYS: &[&str] = &["RSA 2048", "RSA 1024", "RSA 4096", "EC P-256", "Ed25519"];

fn row(i: u64, scan: &str, rng: &mut Rng) -> ScanRow {
    let tld = rng.pick(TLDS);
    let domain = format!("d{i}.{tld}");
    let mut r = ScanRow::failed(
        domain.clone(),
        domain,
        scan.to_string(),
        1_790_000_000_000_000 + i as i64,
        "timeout",
    );
    r.public_suffix = Some(tld.to_string());
    r.country = rng.pick(COUNTRIES).map(str::to_string);
    r.sector = rng.pick(SECTORS).map(str::to_string);
    r.organisation = Some(format!("Org {}", i % 5000));
    for check in Check::ALL {
        let roll = rng.below(100);
        if check.needs_connections() && roll < 5 {
            continue; // not run: stays null
        }
        let finding = if roll < 7 {
            Finding::error("synthetic")
        } else {
            Finding::of(*rng.pick(check.statuses()))
        };
        r.set_finding(check, finding);
    }
    if r.connected.starttls.is_none() {
        r.connected = Default::default();
    }
    r.dnssec_evidence.nsec3_iterations = Some(rng.below(3) as i64);
    r.dnssec_evidence.denial = Some(["nsec", "nsec3"][rng.below(2)].into());
    r.caa_issuers = (0..rng.below(3))
        .map(|_| "ca.example".to_string())
        .collect();
    r.spf_record = Some(["v=spf1 -all", "v=spf1 mx ~all"][rng.below(2)].into());
    r.dmarc_pct = Some([100, 50][rng.below(2)]);
    let mx = rng.below(3);
    r.mail.mx_tls_versions = (0..mx).map(|_| rng.pick(TLS).to_string()).collect();
    r.mail.dane_mx_secure = Some(rng.below(2) == 0);
    r.web.certificate_key = Some(rng.pick(KEYS).to_string());
    r.web.hsts_max_age = Some([0, 300, 31_536_000, 63_072_000][rng.below(4)]);
    r.web.hsts_include_subdomains = Some(rng.below(2) == 0);
    r.web.hsts_preload = Some(rng.below(2) == 0);
    r
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dataset), Some(rows)) = (args.next(), args.next()) else {
        eprintln!("usage: synthetic DATASET ROWS [SCAN_ID] [K/N]");
        std::process::exit(2);
    };
    let dataset = PathBuf::from(dataset);
    let rows: u64 = rows.parse().expect("ROWS is a number");
    let scan = args.next().unwrap_or_else(|| "bench".into());
    let (k, n) = match args.next() {
        Some(s) => {
            let (k, n) = s.split_once('/').expect("K/N");
            (k.parse::<u64>().expect("K"), n.parse::<u64>().expect("N"))
        }
        None => (0, 1),
    };
    let start = Instant::now();
    let shard = format!("{k}of{n}");
    let mut w = DatasetWriter::create(&dataset, &scan, &shard, vec![], WriterOptions::default())
        .expect("create writer");
    let mut rng = Rng(42 + k);
    for i in rows * k / n..rows * (k + 1) / n {
        w.write(&row(i, &scan, &mut rng)).expect("write row");
    }
    let summary = w.finish().expect("finish");
    eprintln!(
        "wrote {} rows in {} parts in {:.1}s",
        summary.rows,
        summary.parts.len(),
        start.elapsed().as_secs_f64()
    );
}

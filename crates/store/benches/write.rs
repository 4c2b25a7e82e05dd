//! Write throughput of the dataset writer: `cargo bench -p uptake-store --bench write`.
//!
//! Writes synthetic rows (default 200,000; first non-flag argument overrides) with default
//! options and prints rows/s and bytes/row of the committed parts.

use std::time::Instant;

use uptake_model::row::ScanRow;
use uptake_model::{Finding, Status};
use uptake_store::{DatasetWriter, WriterOptions};

fn row(i: usize) -> ScanRow {
    let mut r = ScanRow::failed(
        format!("www{i}.example{}.nl", i % 9973),
        format!("WWW{i}.Example{}.nl", i % 9973),
        "bench".into(),
        1_750_000_000_000_000 + i as i64 * 1000,
        "timeout",
    );
    r.extra = vec![Some(format!("{i}")), Some("tranco".into())];
    if !i.is_multiple_of(10) {
        let statuses = [Status::Present, Status::Absent, Status::Invalid];
        let f = |k: usize| Finding::of(statuses[(i + k) % 3]);
        r.registrable_domain = Some(format!("example{}.nl", i % 9973));
        r.public_suffix = Some("nl".into());
        r.country = Some("NL".into());
        r.sector = Some(["finance", "health", "education"][i % 3].into());
        r.dns_rcode = Some("NOERROR".into());
        r.zone = Some(format!("example{}.nl", i % 9973));
        r.dns_queries = 20 + (i % 7) as i64;
        r.dnssec = Finding::of(if i.is_multiple_of(2) {
            Status::Secure
        } else {
            Status::Insecure
        });
        r.dnssec_evidence.algorithms = vec![13];
        r.dnssec_algorithm = Finding::of(Status::Modern);
        r.ns_ipv6 = Finding::of(Status::Reachable);
        r.ns_hosts = vec![
            format!("ns1.host{}.net", i % 101),
            format!("ns2.host{}.net", i % 101),
        ];
        r.ns_ipv6_addresses = vec![
            format!("2001:db8::{:x}", i % 101),
            format!("2001:db8:1::{:x}", i % 101),
        ];
        r.ns_ipv6_answering = Some(2);
        r.caa = f(0);
        r.mx = Finding::of(Status::Mx);
        r.mx_hosts = vec![format!("mx.host{}.net", i % 211)];
        r.mx_hosts_with_aaaa = Some((i % 2) as i64);
        r.spf = Finding::of(Status::Fail);
        r.spf_record = Some(format!("v=spf1 include:spf.host{}.net -all", i % 211));
        r.spf_dns_lookups = Some(3);
        r.spf_void_lookups = Some(0);
        r.dmarc = Finding::of(Status::Reject);
        r.dmarc_record = Some(format!(
            "v=DMARC1; p=reject; rua=mailto:d@example{}.nl",
            i % 9973
        ));
        r.dmarc_source = Some("own".into());
        r.dmarc_pct = Some(100);
        r.dmarc_rua = vec![format!("mailto:d@example{}.nl", i % 9973)];
        r.dkim = f(1);
        r.tls_rpt = f(2);
        r.mta_sts_record = Finding::of(Status::Absent);
        r.web_apex_aaaa = Some(i.is_multiple_of(3));
        r.web_www_exists = Some(true);
        r.web_www_aaaa = Some(i.is_multiple_of(4));
    }
    r
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let rows: Vec<ScanRow> = (0..n).map(row).collect();
    let dir = tempfile::tempdir()?;
    let extra = vec!["rank".to_string(), "list".to_string()];
    let start = Instant::now();
    let mut w =
        DatasetWriter::create(dir.path(), "bench", "0of1", extra, WriterOptions::default())?;
    for r in &rows {
        w.write(r)?;
    }
    let summary = w.finish()?;
    let secs = start.elapsed().as_secs_f64();
    let bytes: u64 = summary
        .parts
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()))
        .sum::<Result<_, _>>()?;
    println!(
        "write: {} rows in {:.3} s = {:.0} rows/s; {} bytes in {} part(s) = {:.1} bytes/row",
        summary.rows,
        secs,
        summary.rows as f64 / secs,
        bytes,
        summary.parts.len(),
        bytes as f64 / summary.rows as f64
    );
    Ok(())
}

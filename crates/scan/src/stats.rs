//! What a scan counts while it runs ([`LiveStats`], read by the progress display) and the
//! summary it returns ([`ScanSummary`], printed by the CLI and written by `--stats` as JSON).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use uptake_model::row::ScanRow;
use uptake_model::{Check, Status};

use crate::Shard;

/// Upper bounds (ms) of the duration histogram's buckets; the last bucket is open.
const BUCKETS_MS: [i64; 12] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
];

/// Counters updated for every row written.
#[derive(Debug, Clone, Default)]
pub struct LiveStats {
    /// Rows written.
    pub domains: u64,
    /// Rows with at least one `error` status.
    pub with_errors: u64,
    /// Per check: status counts.
    pub statuses: BTreeMap<&'static str, BTreeMap<Status, u64>>,
    /// Rows per error kind (a row with errors of two kinds counts in both).
    pub error_kinds: BTreeMap<&'static str, u64>,
    /// Sum of the rows' `dns_retries`.
    pub dns_retries: u64,
    /// Rows per duration bucket (see [`BUCKETS_MS`]).
    durations: [u64; BUCKETS_MS.len() + 1],
    /// Longest domain duration.
    pub max_duration_ms: i64,
    /// Sum of durations.
    pub total_duration_ms: u64,
}

/// The kind of an error reason, for the progress line and the stats.
pub fn error_kind(reason: &str) -> &'static str {
    let r = reason.to_ascii_lowercase();
    if r.contains("budget") {
        "budget"
    } else if r.contains("special-purpose") {
        "address_refused"
    } else if r.contains("opted out") {
        "opted_out"
    } else if r.contains("timeout") || r.contains("timed out") {
        "timeout"
    } else if r.contains("servfail") || r.contains("server failure") {
        "servfail"
    } else if r.contains("nxdomain") {
        "nxdomain"
    } else if r.contains("refused") {
        "refused"
    } else if r.contains("bogus") {
        "bogus"
    } else {
        "other"
    }
}

impl LiveStats {
    /// Counts one row.
    pub fn record(&mut self, row: &ScanRow) {
        self.domains += 1;
        let mut kinds: Vec<&'static str> = vec![];
        for check in Check::ALL {
            let Some(f) = row.finding(check) else {
                continue;
            };
            if f.status == Status::Error {
                let kind = error_kind(f.reason.as_deref().unwrap_or_default());
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            *self
                .statuses
                .entry(check.id())
                .or_default()
                .entry(f.status)
                .or_default() += 1;
        }
        self.with_errors += u64::from(!kinds.is_empty());
        for k in kinds {
            *self.error_kinds.entry(k).or_default() += 1;
        }
        self.dns_retries += row.dns_retries.max(0) as u64;
        let d = row.duration_ms.max(0);
        let bucket = BUCKETS_MS
            .iter()
            .position(|b| d <= *b)
            .unwrap_or(BUCKETS_MS.len());
        self.durations[bucket] += 1;
        self.max_duration_ms = self.max_duration_ms.max(d);
        self.total_duration_ms += d as u64;
    }

    /// `timeout 3, servfail 1` or `none`.
    pub fn error_kinds_text(&self) -> String {
        if self.error_kinds.is_empty() {
            return "none".into();
        }
        self.error_kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The duration below which a fraction `q` of the domains finished (bucket upper bound,
    /// ms; the maximum for the open bucket).
    pub fn duration_quantile_ms(&self, q: f64) -> i64 {
        let want = (self.domains as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.durations.iter().enumerate() {
            seen += n;
            if seen >= want.max(1) {
                return BUCKETS_MS
                    .get(i)
                    .copied()
                    .unwrap_or(self.max_duration_ms)
                    .min(self.max_duration_ms);
            }
        }
        self.max_duration_ms
    }
}

/// CPU time by stage.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuByStage {
    /// The whole process (all threads), user + system.
    pub total: Duration,
    /// Reading and normalising the target list (its thread).
    pub targets: Duration,
    /// Encoding and writing Parquet (the writer thread).
    pub parquet: Duration,
    /// The pure evaluators (timed around each call).
    pub evaluators: Duration,
    /// The TLS client work of the web and mail probes: handshakes (rustls, OpenSSL), the TLS
    /// records of the requests over them, raw ClientHellos, certificate evaluation (the
    /// thread's CPU clock around each poll and call, `uptake_probes::cpu`).
    pub tls: Duration,
}

impl CpuByStage {
    /// The rest: the DNS client, the probe plan and the runtime (tokio worker threads), the
    /// probes' work outside TLS (TCP connects, HTTP, SMTP), plus the counting pass of the
    /// progress bar.
    pub fn dns_and_engine(&self) -> Duration {
        self.total
            .saturating_sub(self.targets)
            .saturating_sub(self.parquet)
            .saturating_sub(self.evaluators)
            .saturating_sub(self.tls)
    }
}

/// What a scan did.
#[derive(Debug, Clone, Default)]
pub struct ScanSummary {
    /// The shard scanned.
    pub shard: Shard,
    /// Rows written by this run.
    pub domains: u64,
    /// Rows with at least one `error` status.
    pub with_errors: u64,
    /// Targets skipped because an earlier run committed them (`--resume`).
    pub resumed: u64,
    /// Input records rejected.
    pub rejects: u64,
    /// Duplicates skipped.
    pub duplicates: u64,
    /// Targets of other shards.
    pub other_shard: u64,
    /// Targets on the opt-out list (written to the opted-out file, not scanned).
    pub opted_out: u64,
    /// The scan was stopped before the list was done.
    pub interrupted: bool,
    /// Wall time.
    pub elapsed: Duration,
    /// DNS messages sent.
    pub dns_queries: u64,
    /// The DNS client's counters (timeouts, retries, TCP fallbacks, cache hits).
    pub dns_stats: uptake_dns::Stats,
    /// The probes' counters (TLS handshakes, raw hellos, HTTP requests, SMTP sessions), when
    /// the connection stage ran.
    pub probe_stats: Option<uptake_probes::StatsSnapshot>,
    /// Per check: status counts.
    pub statuses: BTreeMap<&'static str, BTreeMap<Status, u64>>,
    /// Rows per error kind.
    pub error_kinds: BTreeMap<&'static str, u64>,
    /// The row counters (durations, retries).
    pub live: LiveStats,
    /// CPU time by stage.
    pub cpu: CpuByStage,
    /// Part files written by this run.
    pub parts: Vec<PathBuf>,
    /// The rejects file, when there were rejects.
    pub rejects_file: Option<PathBuf>,
    /// The opted-out file, when targets were opted out.
    pub opted_out_file: Option<PathBuf>,
}

impl ScanSummary {
    /// A summary from the row counters.
    pub fn from_live(live: LiveStats) -> Self {
        ScanSummary {
            domains: live.domains,
            with_errors: live.with_errors,
            statuses: live.statuses.clone(),
            error_kinds: live.error_kinds.clone(),
            live,
            ..Default::default()
        }
    }

    /// The `--stats` JSON document.
    pub fn to_json(&self, scan_id: &str) -> serde_json::Value {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let st = &self.dns_stats;
        let ms = |d: Duration| d.as_millis() as u64;
        let per_domain_us = |d: Duration| {
            if self.domains == 0 {
                0.0
            } else {
                d.as_secs_f64() * 1e6 / self.domains as f64
            }
        };
        let statuses: serde_json::Map<String, serde_json::Value> = self
            .statuses
            .iter()
            .map(|(check, counts)| {
                let c: serde_json::Map<String, serde_json::Value> = counts
                    .iter()
                    .map(|(s, n)| (s.as_str().to_string(), (*n).into()))
                    .collect();
                (check.to_string(), c.into())
            })
            .collect();
        let kinds: serde_json::Map<String, serde_json::Value> = self
            .error_kinds
            .iter()
            .map(|(k, n)| (k.to_string(), (*n).into()))
            .collect();
        let cpu = &self.cpu;
        serde_json::json!({
            "scan_id": scan_id,
            "shard": self.shard.to_string(),
            "interrupted": self.interrupted,
            "elapsed_s": secs,
            "domains": self.domains,
            "domains_per_s": self.domains as f64 / secs,
            "with_errors": self.with_errors,
            "resumed_skipped": self.resumed,
            "rejects": self.rejects,
            "duplicates": self.duplicates,
            "other_shards": self.other_shard,
            "opted_out": self.opted_out,
            "statuses": statuses,
            "error_kinds": kinds,
            "dns": {
                "sent": st.sent,
                "per_s": st.sent as f64 / secs,
                "responses": st.responses,
                "timeouts": st.timeouts,
                "retries": st.retries,
                "tcp_fallbacks": st.tcp_fallbacks,
                "cache_hits": st.cache_hits,
                "dropped_mismatched": st.dropped_mismatched,
                "domain_retries": self.live.dns_retries,
            },
            // The web and mail probes' counters; null when the scan ran no connected checks.
            "probes": self.probe_stats.map(|p| serde_json::json!({
                "connects": p.connects,
                "tls_handshakes": p.tls_handshakes,
                "tls_handshakes_per_s": p.tls_handshakes as f64 / secs,
                "raw_hellos": p.raw_hellos,
                "http_requests": p.http_requests,
                "smtp_sessions": p.smtp_sessions,
                "shared_hits": p.shared_hits,
                "reused_connections": p.reused_connections,
                "retries": p.retries,
            })),
            "duration_ms": {
                "mean": self.live.total_duration_ms.checked_div(self.domains).unwrap_or(0),
                "p50_at_most": self.live.duration_quantile_ms(0.5),
                "p90_at_most": self.live.duration_quantile_ms(0.9),
                "p99_at_most": self.live.duration_quantile_ms(0.99),
                "max": self.live.max_duration_ms,
            },
            "cpu_ms": {
                "total": ms(cpu.total),
                "targets": ms(cpu.targets),
                "parquet": ms(cpu.parquet),
                "evaluators": ms(cpu.evaluators),
                "tls": ms(cpu.tls),
                "dns_and_engine": ms(cpu.dns_and_engine()),
            },
            "cpu_us_per_domain": {
                "total": per_domain_us(cpu.total),
                "targets": per_domain_us(cpu.targets),
                "parquet": per_domain_us(cpu.parquet),
                "evaluators": per_domain_us(cpu.evaluators),
                "tls": per_domain_us(cpu.tls),
                "dns_and_engine": per_domain_us(cpu.dns_and_engine()),
            },
            "parts": self.parts.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "rejects_file": self.rejects_file.as_ref().map(|p| p.display().to_string()),
            "opted_out_file": self.opted_out_file.as_ref().map(|p| p.display().to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_and_quantiles() {
        assert_eq!(
            error_kind("timeout after 3 attempts to 1.2.3.4:53"),
            "timeout"
        );
        assert_eq!(error_kind("SERVFAIL from the resolver"), "servfail");
        assert_eq!(
            error_kind("domain time budget of 5s exceeded (--domain-timeout)"),
            "budget"
        );
        assert_eq!(
            error_kind("name server a: 127.0.0.1 is a special-purpose address"),
            "address_refused"
        );
        let mut l = LiveStats::default();
        for ms in [5, 5, 5, 5, 5, 5, 5, 5, 400, 70_000] {
            let mut row = ScanRow::failed(
                "a.nl".into(),
                "a.nl".into(),
                "s".into(),
                0,
                "timeout after 3 attempts",
            );
            row.duration_ms = ms;
            row.dns_retries = 2;
            l.record(&row);
        }
        assert_eq!(l.domains, 10);
        assert_eq!(l.with_errors, 10);
        assert_eq!(l.error_kinds.get("timeout"), Some(&10));
        assert_eq!(l.dns_retries, 20);
        assert_eq!(l.duration_quantile_ms(0.5), 10);
        assert_eq!(l.duration_quantile_ms(0.9), 500);
        assert_eq!(l.duration_quantile_ms(1.0), 70_000);
    }

    #[test]
    fn stats_json_breaks_cpu_down_by_stage_with_tls_apart() {
        let ms = Duration::from_millis;
        let mut summary = ScanSummary {
            domains: 10,
            ..Default::default()
        };
        summary.cpu = CpuByStage {
            total: ms(100),
            targets: ms(5),
            parquet: ms(10),
            evaluators: ms(15),
            tls: ms(30),
        };
        let json = summary.to_json("s");
        let per_domain = &json["cpu_us_per_domain"];
        assert_eq!(per_domain["tls"], 3000.0);
        assert_eq!(per_domain["dns_and_engine"], 4000.0, "{per_domain}");
        assert_eq!(json["cpu_ms"]["tls"], 30);
        // The stages add up to the total.
        let sum: f64 = ["targets", "parquet", "evaluators", "tls", "dns_and_engine"]
            .iter()
            .map(|k| per_domain[*k].as_f64().unwrap())
            .sum();
        assert_eq!(sum, per_domain["total"].as_f64().unwrap());
    }
}

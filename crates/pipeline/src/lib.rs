//! Pipeline files: a scheduled measurement defined once, checked before anything runs.
//!
//! Where it sits: `uptake validate PIPELINE` and `uptake run PIPELINE` load a TOML file from
//! `pipelines/` with [`Pipeline::load`], which parses it (unknown keys are errors that name the
//! line), resolves its paths relative to the file, and checks what can be checked without
//! scanning: the lists exist, the checks are known, the output location is usable, the date is
//! a date. `uptake run` then hands the parts to the scan, aggregate and report stages.
//!
//! A pipeline's run for a date is identified by its scan id, `<name>-<YYYY-MM-DD>`, so a rerun
//! for the same date resumes that scan (or finds it complete) instead of scanning twice.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use uptake_model::Check;

/// Why a pipeline cannot run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The pipeline file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// TOML syntax or an unknown / mistyped key; the message names line and column.
    #[error("{path}: {message}")]
    Syntax {
        /// The pipeline file.
        path: PathBuf,
        /// The parser's message, with the line and a caret under the offending key.
        message: String,
    },
    /// The file parses but a value is unusable.
    #[error("{path}: {key}: {message}")]
    Invalid {
        /// The pipeline file.
        path: PathBuf,
        /// The key at fault, e.g. `lists[1].path`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The run date is not `YYYY-MM-DD`.
    #[error("date '{0}' is not a calendar date in the form YYYY-MM-DD")]
    Date(String),
}

/// One input list of a pipeline.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct List {
    /// The list file (CSV, JSON array of objects, Parquet or plain text; `.gz` allowed),
    /// relative to the pipeline file.
    pub path: PathBuf,
    /// Where the list comes from and when it was taken (shown in the report's provenance).
    #[serde(default)]
    pub source: Option<String>,
    /// Column (or JSON field) holding the domain. Default `domain`.
    #[serde(default)]
    pub domain_column: Option<String>,
    /// Column holding an ISO 3166 alpha-2 country.
    #[serde(default)]
    pub country_column: Option<String>,
    /// Column holding the sector label.
    #[serde(default)]
    pub sector_column: Option<String>,
    /// Column holding the organisation.
    #[serde(default)]
    pub organisation_column: Option<String>,
    /// Country for rows that give none.
    #[serde(default)]
    pub default_country: Option<String>,
    /// Sector for rows that give none.
    #[serde(default)]
    pub default_sector: Option<String>,
}

/// Scan options of a pipeline; unset values take `uptake scan`'s defaults.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScanSection {
    /// Checks to run: check ids (`dnssec`, `starttls`, ...) or the groups `dns`, `web`,
    /// `mail`, `routing`, `all`. Default `all`.
    #[serde(default)]
    pub checks: Vec<String>,
    /// Validating resolvers (`ip`, `ip:port`). Default: `$UPTAKE_RESOLVER`, else the system's.
    #[serde(default)]
    pub resolvers: Vec<String>,
    /// Domains measured at once.
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Global cap on DNS queries per second.
    #[serde(default)]
    pub dns_rate: Option<u32>,
    /// Opt-out list (domains and CIDR prefixes), relative to the pipeline file.
    #[serde(default)]
    pub opt_out: Option<PathBuf>,
    /// Address ranges that may be contacted although special-purpose (RFC 6890).
    #[serde(default)]
    pub allow_addresses: Vec<String>,
    /// HTTP User-Agent, with a contact URL.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// SMTP EHLO name.
    #[serde(default)]
    pub ehlo_name: Option<String>,
    /// Trust store for certificate checks (PEM); default the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// New web/mail connections per second to one address (default: the scan's, 5).
    #[serde(default)]
    pub connection_rate: Option<f64>,
    /// Web/mail connections open at once to one address (default: the scan's, 4).
    #[serde(default)]
    pub connections_per_address: Option<usize>,
    /// Web/mail connections open at once in the whole scan (default: the scan's, 256).
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// VRPs (rpki-client / Routinator CSV or JSON), relative to the pipeline file. With
    /// `prefix_origins` and `ip_asn` (all three or none) the scan measures `rpki` and the
    /// hosting columns; without them those columns stay null.
    #[serde(default)]
    pub vrps: Option<PathBuf>,
    /// Prefix-to-origin table (CAIDA prefix2as).
    #[serde(default)]
    pub prefix_origins: Option<PathBuf>,
    /// IP-to-ASN/country table (iptoasn.com TSV, or a MaxMind ASN `.mmdb`).
    #[serde(default)]
    pub ip_asn: Option<PathBuf>,
}

/// Where the dataset goes.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// A local directory (relative to the pipeline file) or an object store URL
    /// (`s3://bucket/prefix`, `file:///path`).
    pub dataset: String,
    /// Where aggregates and the report go (local directory). Default `<dataset>/../reports`.
    #[serde(default)]
    pub reports: Option<PathBuf>,
}

/// Aggregation options.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AggregateSection {
    /// Groupings, e.g. `["country", "sector", "country,sector"]`.
    #[serde(default)]
    pub by: Vec<String>,
}

/// Report options.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportSection {
    /// Groups with fewer applicable domains are drawn grey with n instead of a rate
    /// (default: `uptake report`'s, 30).
    #[serde(default)]
    pub min_n: Option<u64>,
    /// Groups where more than this percentage of the domains could not be measured are drawn
    /// grey with the rate marked `*` (default: `uptake report`'s, 10).
    #[serde(default)]
    pub max_error_percent: Option<u64>,
}

/// A pipeline file as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct PipelineFile {
    name: String,
    #[serde(default)]
    description: Option<String>,
    lists: Vec<List>,
    #[serde(default)]
    scan: ScanSection,
    output: OutputSection,
    #[serde(default)]
    aggregate: AggregateSection,
    #[serde(default)]
    report: ReportSection,
}

/// The dimensions `uptake aggregate --by` understands; a grouping is one of them or a
/// comma-separated combination without repeats (`country,sector`).
pub const DIMENSIONS: &[&str] = &[
    "country",
    "sector",
    "organisation",
    "hosting_country",
    "hosting_asn",
];

/// Whether `by` is a grouping `uptake aggregate` understands.
fn is_grouping(by: &str) -> bool {
    let dims: Vec<&str> = by.split(',').map(str::trim).collect();
    dims.iter()
        .enumerate()
        .all(|(i, d)| (DIMENSIONS.contains(d) || *d == "organization") && !dims[..i].contains(d))
}

/// Where a dataset lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasetLocation {
    /// A local directory.
    Local(PathBuf),
    /// An object store URL; the scan stages parts locally in `staging` and uploads them.
    ObjectStore {
        /// The URL as written (`s3://bucket/prefix`).
        url: String,
        /// Local staging directory for the parts before upload.
        staging: PathBuf,
    },
}

impl DatasetLocation {
    /// The local directory the scan writes into (the dataset itself, or the staging area).
    pub fn local_dir(&self) -> &Path {
        match self {
            DatasetLocation::Local(p) => p,
            DatasetLocation::ObjectStore { staging, .. } => staging,
        }
    }
}

/// A loaded, checked pipeline with paths resolved against its file's directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The file it came from.
    pub file: PathBuf,
    /// Name (lower-case letters, digits, `-`, `_`); the prefix of its scan ids.
    pub name: String,
    /// What it measures and why.
    pub description: Option<String>,
    /// Input lists (paths resolved).
    pub lists: Vec<List>,
    /// Scan options (paths resolved).
    pub scan: ScanSection,
    /// The checks to run (groups expanded), in output order.
    pub checks: Vec<Check>,
    /// The dataset.
    pub dataset: DatasetLocation,
    /// Where aggregates and the report of each date go: `<reports>/<date>/`.
    pub reports: PathBuf,
    /// Aggregation groupings.
    pub aggregate: AggregateSection,
    /// Report options.
    pub report: ReportSection,
}

impl Pipeline {
    /// Reads and checks a pipeline file: syntax, unknown keys, names, checks, groupings, that
    /// every list exists, and that a local output location can be created and written.
    pub fn load(path: &Path) -> Result<Pipeline, PipelineError> {
        let text = fs::read_to_string(path).map_err(|source| PipelineError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Pipeline::parse(path, &text)
    }

    /// [`Pipeline::load`] on text already read (`path` locates relative paths and messages).
    pub fn parse(path: &Path, text: &str) -> Result<Pipeline, PipelineError> {
        let file: PipelineFile = toml::from_str(text).map_err(|e| PipelineError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let invalid = |key: &str, message: String| PipelineError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };

        if file.name.is_empty()
            || !file
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(invalid(
                "name",
                format!(
                    "'{}' must be lower-case letters, digits, '-' or '_' (it names the scans)",
                    file.name
                ),
            ));
        }
        if file.lists.is_empty() {
            return Err(invalid(
                "lists",
                "at least one [[lists]] entry is needed".into(),
            ));
        }
        let mut lists = file.lists;
        for (i, list) in lists.iter_mut().enumerate() {
            list.path = base.join(&list.path);
            if !list.path.is_file() {
                return Err(invalid(
                    &format!("lists[{i}].path"),
                    format!("{} does not exist or is not a file", list.path.display()),
                ));
            }
            if let Some(c) = &list.default_country {
                if c.len() != 2 || !c.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Err(invalid(
                        &format!("lists[{i}].default_country"),
                        format!("'{c}' is not an ISO 3166 alpha-2 code"),
                    ));
                }
            }
        }
        let checks =
            Check::expand(&file.scan.checks).map_err(|e| invalid("scan.checks", e.to_string()))?;
        let mut scan = file.scan;
        if let Some(p) = &scan.opt_out {
            let p = base.join(p);
            if !p.is_file() {
                return Err(invalid(
                    "scan.opt_out",
                    format!("{} does not exist", p.display()),
                ));
            }
            scan.opt_out = Some(p);
        }
        for (key, file) in [
            ("scan.ca_file", &mut scan.ca_file),
            ("scan.vrps", &mut scan.vrps),
            ("scan.prefix_origins", &mut scan.prefix_origins),
            ("scan.ip_asn", &mut scan.ip_asn),
        ] {
            if let Some(p) = file.as_ref() {
                let p = base.join(p);
                if !p.is_file() {
                    return Err(invalid(key, format!("{} does not exist", p.display())));
                }
                *file = Some(p);
            }
        }
        let tables = [&scan.vrps, &scan.prefix_origins, &scan.ip_asn];
        if tables.iter().any(|t| t.is_some()) && !tables.iter().all(|t| t.is_some()) {
            return Err(invalid(
                "scan.vrps",
                "vrps, prefix_origins and ip_asn go together: give all three or none".into(),
            ));
        }
        if let Some(rate) = scan.connection_rate {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(invalid(
                    "scan.connection_rate",
                    format!("{rate} is not a positive number of connections per second"),
                ));
            }
        }
        if scan.connections_per_address == Some(0) {
            return Err(invalid(
                "scan.connections_per_address",
                "must be at least 1".to_string(),
            ));
        }
        if scan.max_connections == Some(0) {
            return Err(invalid(
                "scan.max_connections",
                "must be at least 1".to_string(),
            ));
        }
        for (i, by) in file.aggregate.by.iter().enumerate() {
            if !is_grouping(by) {
                return Err(invalid(
                    &format!("aggregate.by[{i}]"),
                    format!(
                        "'{by}' is not a grouping; use one of {} or a comma-separated \
                         combination (country,sector)",
                        DIMENSIONS.join(", ")
                    ),
                ));
            }
        }
        let dataset = dataset_location(&base, &file.name, &file.output.dataset)
            .map_err(|m| invalid("output.dataset", m))?;
        let reports = match &file.output.reports {
            Some(r) => base.join(r),
            None => match &dataset {
                DatasetLocation::Local(d) => d.with_file_name("reports"),
                DatasetLocation::ObjectStore { staging, .. } => staging.with_file_name("reports"),
            },
        };
        if let DatasetLocation::Local(dir) = &dataset {
            writable(dir).map_err(|m| invalid("output.dataset", m))?;
        }
        writable(&reports).map_err(|m| invalid("output.reports", m))?;
        Ok(Pipeline {
            file: path.to_path_buf(),
            name: file.name,
            description: file.description,
            lists,
            scan,
            checks,
            dataset,
            reports,
            aggregate: file.aggregate,
            report: file.report,
        })
    }

    /// The scan id of this pipeline's run on `date` (`YYYY-MM-DD`).
    pub fn scan_id(&self, date: &str) -> Result<String, PipelineError> {
        check_date(date)?;
        Ok(format!("{}-{date}", self.name))
    }
}

/// Checks a run date: `YYYY-MM-DD`, a real calendar day.
pub fn check_date(date: &str) -> Result<(), PipelineError> {
    let bad = || PipelineError::Date(date.to_string());
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let num = |s: &str| s.parse::<u32>().map_err(|_| bad());
    let (y, m, d) = (num(&date[..4])?, num(&date[5..7])?, num(&date[8..])?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if d == 0 || d > days {
        return Err(bad());
    }
    Ok(())
}

fn dataset_location(base: &Path, name: &str, written: &str) -> Result<DatasetLocation, String> {
    if let Some((scheme, rest)) = written.split_once("://") {
        match scheme {
            "file" => Ok(DatasetLocation::Local(PathBuf::from(rest))),
            "s3" | "gs" | "az" => {
                let bucket = rest.split('/').next().unwrap_or("");
                if bucket.is_empty() {
                    return Err(format!("'{written}' names no bucket"));
                }
                Ok(DatasetLocation::ObjectStore {
                    url: written.to_string(),
                    staging: base.join(".uptake-staging").join(name).join("dataset"),
                })
            }
            other => Err(format!(
                "'{other}://' is not supported; use a directory, file://, s3://, gs:// or az://"
            )),
        }
    } else {
        Ok(DatasetLocation::Local(base.join(written)))
    }
}

/// Creates `dir` if needed and proves it writable with a probe file.
fn writable(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let probe = dir.join(".uptake-write-probe");
    fs::write(&probe, b"").map_err(|e| format!("{} is not writable: {e}", dir.display()))?;
    fs::remove_file(&probe).map_err(|e| format!("{}: {e}", probe.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("list.csv"), "domain\nexample.nl\n").unwrap();
        let file = dir.path().join("p.toml");
        (dir, file)
    }

    const GOOD: &str = r#"
name = "gov"
[[lists]]
path = "list.csv"
domain_column = "Domain name"
default_country = "US"
[scan]
checks = ["dns", "starttls"]
[output]
dataset = "data"
[aggregate]
by = ["country", "country,sector"]
"#;

    #[test]
    fn loads_and_resolves_paths() {
        let (dir, file) = setup();
        let p = Pipeline::parse(&file, GOOD).unwrap();
        assert_eq!(p.lists[0].path, dir.path().join("list.csv"));
        assert_eq!(p.dataset, DatasetLocation::Local(dir.path().join("data")));
        assert_eq!(p.reports, dir.path().join("reports"));
        assert_eq!(p.checks.len(), Check::DNS.len() + 1);
        assert!(p.checks.contains(&Check::Starttls));
        assert_eq!(p.scan_id("2026-11-28").unwrap(), "gov-2026-11-28");
    }

    #[test]
    fn groupings_combine_dimensions() {
        let (_dir, file) = setup();
        let text = GOOD.replace(
            "\"country,sector\"]",
            "\"country,sector\", \"hosting_country\", \"sector, hosting_asn\", \"organization\"]",
        );
        let p = Pipeline::parse(&file, &text).unwrap();
        assert_eq!(p.aggregate.by.len(), 5);
    }

    #[test]
    fn unknown_key_names_its_line() {
        let (_dir, file) = setup();
        let text = GOOD.replace("[scan]\n", "[scan]\nconcurency = 5\n");
        let err = Pipeline::parse(&file, &text).unwrap_err().to_string();
        assert!(err.contains("line 8"), "{err}");
        assert!(err.contains("concurency"), "{err}");
    }

    #[test]
    fn missing_list_is_an_error_before_scanning() {
        let (_dir, file) = setup();
        let text = GOOD.replace("list.csv", "nope.csv");
        let err = Pipeline::parse(&file, &text).unwrap_err().to_string();
        assert!(
            err.contains("lists[0].path") && err.contains("nope.csv"),
            "{err}"
        );
    }

    #[test]
    fn unusable_values_are_named() {
        let (dir, file) = setup();
        for (from, to, key) in [
            ("\"dns\", \"starttls\"", "\"dnsec\"", "scan.checks"),
            ("\"country,sector\"", "\"continent\"", "aggregate.by[1]"),
            ("\"country,sector\"", "\"sector,sector\"", "aggregate.by[1]"),
            ("name = \"gov\"", "name = \"US gov\"", "name"),
            ("\"US\"", "\"USA\"", "lists[0].default_country"),
            (
                "dataset = \"data\"",
                "dataset = \"ftp://x/y\"",
                "output.dataset",
            ),
        ] {
            let text = GOOD.replace(from, to);
            assert_ne!(text, GOOD, "{from}");
            let err = Pipeline::parse(&file, &text).unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
        // An output location that cannot be created.
        fs::write(dir.path().join("blocker"), "").unwrap();
        let text = GOOD.replace("dataset = \"data\"", "dataset = \"blocker/data\"");
        let err = Pipeline::parse(&file, &text).unwrap_err().to_string();
        assert!(
            err.contains("output.dataset") && err.contains("cannot create"),
            "{err}"
        );
    }

    #[test]
    fn object_store_urls_stage_locally() {
        let (dir, file) = setup();
        let text = GOOD.replace("dataset = \"data\"", "dataset = \"s3://bucket/uptake\"");
        let p = Pipeline::parse(&file, &text).unwrap();
        match &p.dataset {
            DatasetLocation::ObjectStore { url, staging } => {
                assert_eq!(url, "s3://bucket/uptake");
                assert!(staging.starts_with(dir.path()));
            }
            other => panic!("{other:?}"),
        }
        let text = GOOD.replace("dataset = \"data\"", "dataset = \"s3://\"");
        assert!(Pipeline::parse(&file, &text).is_err());
    }

    #[test]
    fn dates() {
        for ok in ["2026-11-28", "2024-02-29", "2000-02-29"] {
            check_date(ok).unwrap();
        }
        for bad in [
            "2026-2-28",
            "2026-13-01",
            "2023-02-29",
            "1900-02-29",
            "28-11-2026",
            "x",
        ] {
            assert!(check_date(bad).is_err(), "{bad}");
        }
    }
}

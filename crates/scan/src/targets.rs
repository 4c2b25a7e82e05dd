//! Reading target lists: CSV with a header (a `domain` column; `country`, `sector`,
//! `organisation` and any other columns carried along) or a plain list of names, one per line.
//! Names are normalised; a name that is not a valid domain becomes a reject with the reason,
//! never an error that stops the scan; duplicates are kept once.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

/// A target ready to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Normalised name.
    pub domain: String,
    /// As written in the list.
    pub input: String,
    /// Country column, if any.
    pub country: Option<String>,
    /// Sector column, if any.
    pub sector: Option<String>,
    /// Organisation column, if any.
    pub organisation: Option<String>,
    /// Values of the extra columns, in [`TargetList::extra_columns`] order.
    pub extra: Vec<Option<String>>,
}

/// An input line that was not scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Line number in the input (1-based, header included).
    pub line: u64,
    /// The name as written (truncated to 300 characters).
    pub input: String,
    /// Why.
    pub reason: String,
}

/// A parsed target list.
#[derive(Debug, Clone, Default)]
pub struct TargetList {
    /// Targets, first occurrence of each name, in input order.
    pub targets: Vec<Target>,
    /// Names of the carried-along input columns.
    pub extra_columns: Vec<String>,
    /// Lines that were not scanned.
    pub rejects: Vec<Reject>,
    /// Duplicate names skipped.
    pub duplicates: u64,
}

/// Errors that make a whole list unreadable (individual bad names are rejects instead).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// I/O.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{0} is empty: expected a CSV with a 'domain' column or one domain per line")]
    Empty(String),
    /// Binary content.
    #[error("{0} is not a text file (it contains NUL bytes or is not UTF-8)")]
    Binary(String),
    /// CSV header without the domain column.
    #[error("{path}: the CSV header has no '{column}' column (columns: {found})")]
    NoDomainColumn {
        /// The file.
        path: String,
        /// The column looked for.
        column: String,
        /// The header's columns.
        found: String,
    },
    /// CSV syntax.
    #[error("{path}: {reason}")]
    Csv {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Column names that are context columns, not extra ones.
const KNOWN: [&str; 4] = ["domain", "country", "sector", "organisation"];

/// Normalises a name: trims, lower-cases, removes one trailing dot, converts IDNs to A-labels
/// and checks the result is a host name of at least two labels.
pub fn normalise(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.len() > 1024 {
        return Err(format!("name of {} characters", name.len()));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace or control characters".into());
    }
    let name = name
        .strip_prefix("http://")
        .or_else(|| name.strip_prefix("https://"))
        .map_or(name, |n| n);
    if name.contains('/') || name.contains(':') || name.contains('@') {
        return Err("not a domain name (looks like a URL or address)".into());
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.split('.').any(str::is_empty) {
        return Err("empty label (e.g. '..' or a leading dot)".into());
    }
    let ascii = idna::domain_to_ascii_strict(name)
        .or_else(|_| idna::domain_to_ascii(name))
        .map_err(|_| "not a valid IDN".to_string())?;
    if ascii.len() > 253 {
        return Err(format!("name of {} octets exceeds 253", ascii.len()));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err("single label, not a domain under a public suffix".into());
    }
    for label in &labels {
        if label.is_empty() {
            return Err("empty label".into());
        }
        if label.len() > 63 {
            return Err(format!("label of {} octets exceeds 63", label.len()));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "label '{label}' has characters outside letters, digits, '-' and '_'"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label '{label}' starts or ends with '-'"));
        }
    }
    Ok(ascii)
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 300 {
        s.chars().take(300).collect::<String>() + "…"
    } else {
        s.to_string()
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Reads a target list from `path`.
pub fn read(path: &Path) -> Result<TargetList, TargetError> {
    let name = path.display().to_string();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| TargetError::Io {
            path: name.clone(),
            source,
        })?;
    parse(&name, &bytes)
}

/// Parses a target list held in memory (`name` is used in messages).
pub fn parse(name: &str, bytes: &[u8]) -> Result<TargetList, TargetError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(TargetError::Empty(name.to_string()));
    }
    if bytes.contains(&0) {
        return Err(TargetError::Binary(name.to_string()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| TargetError::Binary(name.to_string()))?;
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let is_csv = first.contains(',')
        || first
            .split(',')
            .any(|c| c.trim().trim_matches('"').eq_ignore_ascii_case("domain"));
    let mut list = TargetList::default();
    let mut seen = HashSet::new();
    let mut accept = |list: &mut TargetList, line: u64, raw: &str, t: Target| match normalise(raw) {
        Ok(domain) => {
            if seen.insert(domain.clone()) {
                list.targets.push(Target { domain, ..t });
            } else {
                list.duplicates += 1;
            }
        }
        Err(reason) => list.rejects.push(Reject {
            line,
            input: truncate(raw),
            reason,
        }),
    };
    if !is_csv {
        for (i, line) in text.lines().enumerate() {
            let raw = line.trim();
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let t = Target {
                domain: String::new(),
                input: raw.to_string(),
                country: None,
                sector: None,
                organisation: None,
                extra: vec![],
            };
            accept(&mut list, i as u64 + 1, raw, t);
        }
        return Ok(list);
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| TargetError::Csv {
            path: name.to_string(),
            reason: e.to_string(),
        })?
        .clone();
    let norm: Vec<String> = headers
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |n: &str| norm.iter().position(|h| h == n);
    let domain_col = col("domain").ok_or_else(|| TargetError::NoDomainColumn {
        path: name.to_string(),
        column: "domain".into(),
        found: headers.iter().collect::<Vec<_>>().join(", "),
    })?;
    let extra_idx: Vec<usize> = (0..norm.len())
        .filter(|i| !KNOWN.contains(&norm[*i].as_str()))
        .collect();
    list.extra_columns = extra_idx
        .iter()
        .map(|i| extra_name(&norm[*i], *i))
        .collect();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                list.rejects.push(Reject {
                    line,
                    input: String::new(),
                    reason: format!("CSV: {e}"),
                });
                continue;
            }
        };
        let raw = record.get(domain_col).unwrap_or_default();
        if raw.trim().is_empty() && record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let t = Target {
            domain: String::new(),
            input: raw.trim().to_string(),
            country: non_empty(col("country").and_then(|c| record.get(c))),
            sector: non_empty(col("sector").and_then(|c| record.get(c))),
            organisation: non_empty(col("organisation").and_then(|c| record.get(c))),
            extra: extra_idx
                .iter()
                .map(|c| non_empty(record.get(*c)))
                .collect(),
        };
        accept(&mut list, line, raw, t);
    }
    Ok(list)
}

/// A safe column name for an extra input column (never one of the output's own names).
fn extra_name(header: &str, index: usize) -> String {
    let mut s: String = header
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        s = format!("column_{index}");
    }
    if uptake_model::row::COLUMNS.iter().any(|c| c.name == s) {
        s = format!("input_{s}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_names() {
        assert_eq!(normalise(" Example.NL. ").unwrap(), "example.nl");
        assert_eq!(normalise("bücher.de").unwrap(), "xn--bcher-kva.de");
        assert!(normalise("a..nl").is_err());
        assert!(normalise("has space.nl").is_err());
        assert!(normalise(&format!("{}.nl", "a".repeat(64))).is_err());
        assert!(normalise("nl").is_err());
        assert!(normalise(&"a.".repeat(5000)).is_err());
        assert!(normalise("-bad.nl").is_err());
        assert!(normalise("").is_err());
    }

    #[test]
    fn csv_with_extra_columns_and_duplicates() {
        let text = "Domain,Country,City,sector\nexample.nl,NL,Delft,finance\nEXAMPLE.nl,NL,x,y\nbad..nl,NL,,\n\n";
        let list = parse("t", text.as_bytes()).unwrap();
        assert_eq!(list.targets.len(), 1);
        assert_eq!(list.targets[0].country.as_deref(), Some("NL"));
        assert_eq!(list.extra_columns, vec!["city"]);
        assert_eq!(list.targets[0].extra, vec![Some("Delft".to_string())]);
        assert_eq!(list.duplicates, 1);
        assert_eq!(list.rejects.len(), 1);
        assert_eq!(list.rejects[0].line, 4);
    }

    #[test]
    fn plain_lists_and_bad_files() {
        let list = parse("t", b"# comment\na.nl\nb.se\n\n").unwrap();
        assert_eq!(list.targets.len(), 2);
        assert!(matches!(parse("t", b""), Err(TargetError::Empty(_))));
        assert!(matches!(
            parse("t", b"\x00\x01\x02"),
            Err(TargetError::Binary(_))
        ));
        assert!(matches!(
            parse("t", b"name,country\na.nl,NL\n"),
            Err(TargetError::NoDomainColumn { .. })
        ));
        let long = format!("{}\nok.nl\n", "x".repeat(10_000));
        let list = parse("t", long.as_bytes()).unwrap();
        assert_eq!(list.targets.len(), 1);
        assert_eq!(list.rejects.len(), 1);
    }
}

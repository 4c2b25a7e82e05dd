//! Reading target lists as a stream: one record at a time, so memory does not grow with the
//! list (only the set of names already seen does, at 8 bytes per name).
//!
//! Formats, recognised by content (gzip by its magic bytes, then inside it): a JSON array of
//! objects (first byte `[`), Parquet (`PAR1`, not inside gzip), CSV with a header (a `.csv`
//! name, or a first line with a comma or a `domain` column), else a plain list of names, one
//! per line (`#` comments). Columns are found by name (case-insensitive) or given with
//! [`Columns`]: the domain column defaults to the first of `domain`, `domains`, `domain name`,
//! `domain_name`; country to `country_code`, `alpha_two_code`, `country`; sector to `sector`;
//! organisation to `organisation`, `organization`, `organisation name`, `organization name`,
//! `name`. A JSON value that is a list of names (the world-universities list's `domains`)
//! gives one target per name. Every other column is carried into the output as an extra
//! column (for JSON, the keys of the first object).
//!
//! Names are normalised; a name that is not a valid domain becomes a [`Reject`] with the
//! reason, never an error that stops the scan; duplicates are kept once.

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::hash::Hasher;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::Path;

use arrow_array::{Array, ArrayRef, RecordBatch};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

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
    /// Values of the extra columns, in [`TargetStream::extra_columns`] order.
    pub extra: Vec<Option<String>>,
}

impl Target {
    /// A target with no context columns.
    pub fn bare(domain: String, input: String) -> Target {
        Target {
            domain,
            input,
            country: None,
            sector: None,
            organisation: None,
            extra: vec![],
        }
    }
}

/// An input record that was not scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Where in the input: the line (1-based, header included) for CSV and text, the element
    /// (1-based) for JSON, the row (1-based) for Parquet.
    pub line: u64,
    /// The name as written (truncated to 300 characters).
    pub input: String,
    /// Why.
    pub reason: String,
}

/// One item of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A new target.
    Target(Target),
    /// A record that is not a valid domain.
    Reject(Reject),
    /// A name seen before.
    Duplicate,
}

/// A parsed target list (the whole list in memory; for tests and small lists).
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
    #[error("{0} is empty: expected a CSV with a 'domain' column, a JSON array of objects, Parquet, or one domain per line")]
    Empty(String),
    /// Binary content.
    #[error("{0} is not a text file (it contains NUL bytes or is not UTF-8), nor gzip or Parquet")]
    Binary(String),
    /// No domain column.
    #[error("{path}: no '{column}' column (columns: {found}); name it with --domain-column")]
    NoDomainColumn {
        /// The file.
        path: String,
        /// The column looked for.
        column: String,
        /// The columns found.
        found: String,
    },
    /// A column given with an option is not in the list.
    #[error("{path}: no column '{column}' for --{option} (columns: {found})")]
    NoSuchColumn {
        /// The file.
        path: String,
        /// The option.
        option: &'static str,
        /// The column asked for.
        column: String,
        /// The columns found.
        found: String,
    },
    /// CSV, JSON or Parquet syntax that makes the rest unreadable.
    #[error("{path}: {reason}")]
    Csv {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Which input columns hold the domain and the context (None: found by name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    /// Domain column.
    pub domain: Option<String>,
    /// Country column.
    pub country: Option<String>,
    /// Sector column.
    pub sector: Option<String>,
    /// Organisation column.
    pub organisation: Option<String>,
    /// Country of targets whose list gives none (e.g. `US` for the .gov registry).
    pub default_country: Option<String>,
    /// Sector of targets whose list gives none (e.g. `O`, public administration).
    pub default_sector: Option<String>,
}

const DOMAIN_NAMES: &[&str] = &["domain", "domains", "domain name", "domain_name"];
const COUNTRY_NAMES: &[&str] = &["country_code", "alpha_two_code", "country"];
const SECTOR_NAMES: &[&str] = &["sector"];
const ORGANISATION_NAMES: &[&str] = &[
    "organisation",
    "organization",
    "organisation name",
    "organization name",
    "name",
];

/// The input format, as recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header.
    Csv,
    /// A JSON array of objects.
    Json,
    /// Parquet.
    Parquet,
    /// One name per line.
    Text,
}

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
    let ascii = if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii_strict(name)
            .or_else(|_| idna::domain_to_ascii(name))
            .map_err(|_| "not a valid IDN".to_string())?
    };
    let ascii = if ascii.contains("xn--") {
        // A-labels as written are checked by the IDNA rules too.
        idna::domain_to_ascii(&ascii).map_err(|_| "not a valid IDN".to_string())?
    } else {
        ascii
    };
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
        .filter(|s| !s.is_empty() && *s != "(blank)")
        .map(str::to_string)
}

/// A 64-bit hash of a name, stable across runs and builds (FNV-1a): the key of the
/// duplicate set and of `--resume`'s committed set.
pub fn name_hash(name: &str) -> u64 {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.write(name.as_bytes());
    h.finish()
}

struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// One input record before normalisation: its domain values (a JSON list gives several) and
/// context.
struct Record {
    at: u64,
    domains: Vec<String>,
    country: Option<String>,
    sector: Option<String>,
    organisation: Option<String>,
    extra: Vec<Option<String>>,
}

type Records = Box<dyn Iterator<Item = Result<Record, Reject>> + Send>;

/// A target list read as a stream of [`Item`]s.
pub struct TargetStream {
    name: String,
    /// The recognised format.
    pub format: Format,
    /// Names of the carried-along input columns.
    pub extra_columns: Vec<String>,
    records: Records,
    pending: VecDeque<Item>,
    seen: HashSet<u64>,
    failed: bool,
    default_country: Option<String>,
    default_sector: Option<String>,
}

impl std::fmt::Debug for TargetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetStream")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("extra_columns", &self.extra_columns)
            .finish_non_exhaustive()
    }
}

/// How many leading bytes are looked at to recognise the format.
const SNIFF: usize = 64 * 1024;

fn read_head(r: &mut dyn Read, name: &str) -> Result<Vec<u8>, TargetError> {
    let mut head = Vec::with_capacity(SNIFF);
    r.take(SNIFF as u64)
        .read_to_end(&mut head)
        .map_err(|source| TargetError::Io {
            path: name.to_string(),
            source,
        })?;
    Ok(head)
}

impl TargetStream {
    /// Opens a target list file.
    pub fn open(path: &Path, columns: &Columns) -> Result<TargetStream, TargetError> {
        let name = path.display().to_string();
        let io = |source| TargetError::Io {
            path: name.clone(),
            source,
        };
        let mut file = Unchanging::open(path).map_err(io)?;
        let mut magic = [0u8; 4];
        let n = read_full(&mut file, &mut magic).map_err(io)?;
        if magic[..n] == *b"PAR1" {
            return Self::parquet(name, path, columns);
        }
        let file = Cursor::new(magic[..n].to_vec()).chain(file);
        let reader: Box<dyn Read + Send> = if magic[..n.min(2)] == [0x1f, 0x8b] {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let ext = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.trim_end_matches(".gz").to_ascii_lowercase())
            .unwrap_or_default();
        Self::from_reader(name, reader, ext.ends_with(".csv"), columns)
    }

    /// A stream over bytes already in memory (`name` is used in messages).
    pub fn from_bytes(
        name: &str,
        bytes: Vec<u8>,
        columns: &Columns,
    ) -> Result<TargetStream, TargetError> {
        Self::from_reader(
            name.to_string(),
            Box::new(Cursor::new(bytes)),
            false,
            columns,
        )
    }

    fn from_reader(
        name: String,
        mut reader: Box<dyn Read + Send>,
        csv_by_name: bool,
        columns: &Columns,
    ) -> Result<TargetStream, TargetError> {
        let head = read_head(&mut reader, &name)?;
        let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
        if body.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(TargetError::Empty(name));
        }
        let utf8_ok = match std::str::from_utf8(body) {
            Ok(_) => true,
            // Cut in the middle of a character at the end of the sniffed bytes.
            Err(e) => e.error_len().is_none() && body.len() >= SNIFF - 4,
        };
        if body.contains(&0) || !utf8_ok {
            return Err(TargetError::Binary(name));
        }
        let first_byte = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
        let text_head = String::from_utf8_lossy(body);
        let first_line = text_head
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .to_string();
        let skip = head.len() - body.len();
        let reader: Box<dyn Read + Send> = Box::new(Cursor::new(head).chain(reader));
        let mut reader = BufReader::with_capacity(64 * 1024, reader);
        if skip > 0 {
            reader.consume(skip);
        }
        let (format, extra_columns, records) = if first_byte == Some(b'[') {
            let (extra, records) = json_records(&name, reader, columns)?;
            (Format::Json, extra, records)
        } else if csv_by_name
            || first_line.contains(',')
            || first_line.split(',').any(|c| {
                DOMAIN_NAMES.contains(&c.trim().trim_matches('"').to_ascii_lowercase().as_str())
            })
            || columns.domain.is_some()
        {
            let (extra, records) = csv_records(&name, reader, columns)?;
            (Format::Csv, extra, records)
        } else {
            (Format::Text, vec![], text_records(reader))
        };
        Ok(TargetStream {
            name,
            format,
            extra_columns,
            records,
            pending: VecDeque::new(),
            seen: HashSet::new(),
            failed: false,
            default_country: columns.default_country.clone(),
            default_sector: columns.default_sector.clone(),
        })
    }

    fn parquet(name: String, path: &Path, columns: &Columns) -> Result<TargetStream, TargetError> {
        let fail = |reason: String| TargetError::Csv {
            path: name.clone(),
            reason,
        };
        let file = File::open(path).map_err(|source| TargetError::Io {
            path: name.clone(),
            source,
        })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| fail(format!("not a readable Parquet file: {e}")))?;
        let headers: Vec<String> = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let map = ColumnMap::new(&name, &headers, columns)?;
        let reader = builder
            .with_batch_size(4096)
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let extra_columns = map.extra_names(&headers);
        Ok(TargetStream {
            format: Format::Parquet,
            extra_columns,
            records: Box::new(ParquetRecords {
                reader,
                map,
                batch: None,
                row: 0,
                at: 0,
                name: name.clone(),
            }),
            name,
            pending: VecDeque::new(),
            seen: HashSet::new(),
            failed: false,
            default_country: columns.default_country.clone(),
            default_sector: columns.default_sector.clone(),
        })
    }

    /// The file name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A target list file that must not change while it is streamed: at its end (a read of 0
/// bytes) a regular file's length and modification time are compared with those seen when it
/// was opened, and a difference is a read error instead of the end. A list truncated or
/// rewritten mid-scan (a download or `>` redirect over it, a full disk where it is made) would
/// otherwise end the scan early and cleanly, silently missing the rest of the list. (A file
/// deleted or renamed away stays readable through the open descriptor and is read to its end
/// unchanged.)
struct Unchanging {
    file: File,
    /// Length and modification time when opened; `None` for pipes and devices.
    seen: Option<(u64, Option<std::time::SystemTime>)>,
    read: u64,
}

impl Unchanging {
    fn open(path: &Path) -> std::io::Result<Unchanging> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let seen = meta.is_file().then(|| (meta.len(), meta.modified().ok()));
        Ok(Unchanging {
            file,
            seen,
            read: 0,
        })
    }

    fn check_unchanged(&self) -> std::io::Result<()> {
        let Some((len, modified)) = self.seen else {
            return Ok(());
        };
        let meta = self.file.metadata()?;
        if meta.len() == len && meta.modified().ok() == modified && self.read == len {
            return Ok(());
        }
        Err(std::io::Error::other(format!(
            "the file changed while it was being read ({len} bytes when opened, {} now, {} read): \
             it was truncated or rewritten during the scan; restore the list and run the same \
             command with --resume",
            meta.len(),
            self.read
        )))
    }
}

impl Read for Unchanging {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.read += n as u64;
        if n == 0 && !buf.is_empty() {
            self.check_unchanged()?;
        }
        Ok(n)
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Iterator for TargetStream {
    type Item = Result<Item, TargetError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(Ok(item));
            }
            if self.failed {
                return None;
            }
            let record = match self.records.next()? {
                Ok(r) => r,
                Err(reject) if reject.line == u64::MAX => {
                    // A reader error: the rest of the input cannot be read.
                    self.failed = true;
                    return Some(Err(TargetError::Csv {
                        path: self.name.clone(),
                        reason: reject.reason,
                    }));
                }
                Err(reject) => return Some(Ok(Item::Reject(reject))),
            };
            for raw in &record.domains {
                let item = match normalise(raw) {
                    Ok(domain) => {
                        if self.seen.insert(name_hash(&domain)) {
                            Item::Target(Target {
                                domain,
                                input: raw.trim().to_string(),
                                country: record
                                    .country
                                    .clone()
                                    .or_else(|| self.default_country.clone()),
                                sector: record
                                    .sector
                                    .clone()
                                    .or_else(|| self.default_sector.clone()),
                                organisation: record.organisation.clone(),
                                extra: record.extra.clone(),
                            })
                        } else {
                            Item::Duplicate
                        }
                    }
                    Err(reason) => Item::Reject(Reject {
                        line: record.at,
                        input: truncate(raw),
                        reason,
                    }),
                };
                self.pending.push_back(item);
            }
        }
    }
}

/// A reader failure, carried through the record iterator as a reject with line `u64::MAX`.
fn fatal(reason: String) -> Reject {
    Reject {
        line: u64::MAX,
        input: String::new(),
        reason,
    }
}

/// Positions of the domain and context columns among a header's names.
struct ColumnMap {
    domain: usize,
    country: Option<usize>,
    sector: Option<usize>,
    organisation: Option<usize>,
    extra: Vec<usize>,
}

impl ColumnMap {
    fn new(name: &str, headers: &[String], columns: &Columns) -> Result<ColumnMap, TargetError> {
        let norm: Vec<String> = headers
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let found = || headers.join(", ");
        let pick = |given: &Option<String>,
                    option: &'static str,
                    auto: &[&str]|
         -> Result<Option<usize>, TargetError> {
            match given {
                Some(g) => norm
                    .iter()
                    .position(|h| *h == g.trim().to_ascii_lowercase())
                    .map(Some)
                    .ok_or_else(|| TargetError::NoSuchColumn {
                        path: name.to_string(),
                        option,
                        column: g.clone(),
                        found: found(),
                    }),
                None => Ok(auto.iter().find_map(|a| norm.iter().position(|h| h == a))),
            }
        };
        let domain = pick(&columns.domain, "domain-column", DOMAIN_NAMES)?.ok_or_else(|| {
            TargetError::NoDomainColumn {
                path: name.to_string(),
                column: "domain".into(),
                found: found(),
            }
        })?;
        let country = pick(&columns.country, "country-column", COUNTRY_NAMES)?;
        let sector = pick(&columns.sector, "sector-column", SECTOR_NAMES)?;
        let organisation = pick(
            &columns.organisation,
            "organisation-column",
            ORGANISATION_NAMES,
        )?;
        let used = [Some(domain), country, sector, organisation];
        let extra = (0..headers.len())
            .filter(|i| !used.contains(&Some(*i)))
            .collect();
        Ok(ColumnMap {
            domain,
            country,
            sector,
            organisation,
            extra,
        })
    }

    fn extra_names(&self, headers: &[String]) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for &i in &self.extra {
            let mut n = extra_name(&headers[i].trim().to_ascii_lowercase(), i);
            while names.contains(&n) {
                n = format!("{n}_{i}");
            }
            names.push(n);
        }
        names
    }

    fn record(&self, at: u64, get: impl Fn(usize) -> Option<Field>) -> Record {
        let text = |i: Option<usize>| i.and_then(&get).and_then(Field::text);
        let domains = match get(self.domain) {
            Some(Field::List(v)) => v,
            Some(Field::Text(s)) => vec![s],
            None => vec![],
        };
        Record {
            at,
            domains,
            country: non_empty(text(self.country).as_deref()),
            sector: non_empty(text(self.sector).as_deref()),
            organisation: non_empty(text(self.organisation).as_deref()),
            extra: self
                .extra
                .iter()
                .map(|i| non_empty(text(Some(*i)).as_deref()))
                .collect(),
        }
    }
}

/// A cell: text, or a list of texts (JSON arrays).
enum Field {
    Text(String),
    List(Vec<String>),
}

impl Field {
    fn text(self) -> Option<String> {
        match self {
            Field::Text(s) => Some(s),
            Field::List(v) if v.is_empty() => None,
            Field::List(v) => Some(v.join(" ")),
        }
    }
}

fn text_records(mut reader: impl BufRead + Send + 'static) -> Records {
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    Box::new(std::iter::from_fn(move || loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => return Some(Err(fatal(format!("read error after line {line_no}: {e}")))),
        }
        line_no += 1;
        let Ok(line) = std::str::from_utf8(&buf) else {
            return Some(Err(Reject {
                line: line_no,
                input: truncate(&String::from_utf8_lossy(&buf)),
                reason: "not UTF-8".into(),
            }));
        };
        let raw = line.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        return Some(Ok(Record {
            at: line_no,
            domains: vec![raw.to_string()],
            country: None,
            sector: None,
            organisation: None,
            extra: vec![],
        }));
    }))
}

fn csv_records(
    name: &str,
    reader: impl Read + Send + 'static,
    columns: &Columns,
) -> Result<(Vec<String>, Records), TargetError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| TargetError::Csv {
            path: name.to_string(),
            reason: e.to_string(),
        })?
        .iter()
        .map(str::to_string)
        .collect();
    let map = ColumnMap::new(name, &headers, columns)?;
    let extra = map.extra_names(&headers);
    let mut records = reader.into_records();
    let mut last_line = 1u64;
    let iter = std::iter::from_fn(move || loop {
        let record = match records.next()? {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(last_line + 1, |p| p.line());
                last_line = line;
                if let csv::ErrorKind::Io(io) = e.kind() {
                    return Some(Err(fatal(format!("read error after line {line}: {io}"))));
                }
                return Some(Err(Reject {
                    line,
                    input: String::new(),
                    reason: format!("CSV: {e}"),
                }));
            }
        };
        let line = record.position().map_or(last_line + 1, |p| p.line());
        last_line = line;
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        return Some(Ok(map.record(line, |i| {
            record.get(i).map(|s| Field::Text(s.to_string()))
        })));
    });
    Ok((extra, Box::new(iter)))
}

fn json_field(v: &serde_json::Value) -> Option<Field> {
    use serde_json::Value;
    match v {
        Value::Null => None,
        Value::String(s) => Some(Field::Text(s.clone())),
        Value::Array(items) => Some(Field::List(
            items
                .iter()
                .filter_map(|i| match i {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                })
                .collect(),
        )),
        other => Some(Field::Text(other.to_string())),
    }
}

/// A JSON array of objects, parsed one element at a time.
struct JsonElements<R> {
    reader: R,
    index: u64,
    done: bool,
}

impl<R: BufRead> JsonElements<R> {
    fn peek(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            let buf = self.reader.fill_buf()?;
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    let b = buf[i];
                    self.reader.consume(i);
                    return Ok(Some(b));
                }
                None if buf.is_empty() => return Ok(None),
                None => {
                    let n = buf.len();
                    self.reader.consume(n);
                }
            }
        }
    }

    /// The next element, or None at the closing bracket.
    fn next_value(&mut self) -> Result<Option<serde_json::Value>, String> {
        if self.done {
            return Ok(None);
        }
        let index = self.index;
        let err = move |e: std::io::Error| format!("read error after element {index}: {e}");
        let mut b = self.peek().map_err(err)?;
        if self.index == 0 {
            if b != Some(b'[') {
                return Err("expected a JSON array".into());
            }
            self.reader.consume(1);
            b = self.peek().map_err(err)?;
            if b == Some(b']') {
                self.done = true;
                return Ok(None);
            }
        } else {
            match b {
                Some(b']') => {
                    self.done = true;
                    return Ok(None);
                }
                Some(b',') => self.reader.consume(1),
                Some(c) => {
                    return Err(format!(
                        "after element {}: expected ',' or ']', found '{}'",
                        self.index, c as char
                    ))
                }
                None => {
                    return Err(format!(
                        "the array ends after element {} without ']'",
                        self.index
                    ))
                }
            }
        }
        self.index += 1;
        let mut de = serde_json::Deserializer::from_reader(&mut self.reader);
        serde::Deserialize::deserialize(&mut de)
            .map(Some)
            .map_err(|e| format!("element {}: {e}", self.index))
    }
}

fn json_records(
    name: &str,
    reader: impl BufRead + Send + 'static,
    columns: &Columns,
) -> Result<(Vec<String>, Records), TargetError> {
    let mut elements = JsonElements {
        reader,
        index: 0,
        done: false,
    };
    let fail = |reason: String| TargetError::Csv {
        path: name.to_string(),
        reason,
    };
    let first = elements.next_value().map_err(fail)?;
    let Some(first) = first else {
        return Err(TargetError::Empty(name.to_string()));
    };
    let Some(obj) = first.as_object() else {
        return Err(fail("expected an array of objects".into()));
    };
    let headers: Vec<String> = obj.keys().cloned().collect();
    let map = ColumnMap::new(name, &headers, columns)?;
    let extra = map.extra_names(&headers);
    let record = move |at: u64, v: serde_json::Value| -> Result<Record, Reject> {
        let Some(obj) = v.as_object() else {
            return Err(Reject {
                line: at,
                input: truncate(&v.to_string()),
                reason: "not a JSON object".into(),
            });
        };
        Ok(map.record(at, |i| obj.get(&headers[i]).and_then(json_field)))
    };
    let mut first = Some(record(1, first));
    let iter = std::iter::from_fn(move || {
        if let Some(f) = first.take() {
            return Some(f);
        }
        match elements.next_value() {
            Ok(None) => None,
            Ok(Some(v)) => Some(record(elements.index, v)),
            Err(reason) => Some(Err(fatal(reason))),
        }
    });
    Ok((extra, Box::new(iter)))
}

struct ParquetRecords {
    reader: ParquetRecordBatchReader,
    map: ColumnMap,
    batch: Option<RecordBatch>,
    row: usize,
    at: u64,
    name: String,
}

fn parquet_field(col: &ArrayRef, row: usize) -> Result<Option<Field>, String> {
    use arrow_array::cast::AsArray;
    use arrow_schema::DataType;
    if col.is_null(row) {
        return Ok(None);
    }
    Ok(Some(match col.data_type() {
        DataType::Utf8 => Field::Text(col.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Field::Text(col.as_string::<i64>().value(row).to_string()),
        DataType::Utf8View => Field::Text(col.as_string_view().value(row).to_string()),
        DataType::Dictionary(_, v) if **v == DataType::Utf8 => {
            let d = col.as_any_dictionary();
            let key = d.normalized_keys()[row];
            return parquet_field(d.values(), key);
        }
        DataType::List(_) => {
            let list = col.as_list::<i32>().value(row);
            let mut items = vec![];
            for i in 0..list.len() {
                if let Some(f) = parquet_field(&list, i)?.and_then(Field::text) {
                    items.push(f);
                }
            }
            Field::List(items)
        }
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Boolean
        | DataType::Float32
        | DataType::Float64 => Field::Text(
            arrow::util::display::array_value_to_string(col, row).map_err(|e| e.to_string())?,
        ),
        other => return Err(format!("column of type {other} is not text")),
    }))
}

impl Iterator for ParquetRecords {
    type Item = Result<Record, Reject>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(batch) = &self.batch {
                if self.row < batch.num_rows() {
                    let row = self.row;
                    self.row += 1;
                    self.at += 1;
                    let bad = std::cell::RefCell::new(None);
                    let record =
                        self.map
                            .record(self.at, |i| match parquet_field(batch.column(i), row) {
                                Ok(f) => f,
                                Err(e) => {
                                    bad.borrow_mut().get_or_insert(e);
                                    None
                                }
                            });
                    if let Some(reason) = bad.into_inner() {
                        return Some(Err(fatal(format!("{}: {reason}", self.name))));
                    }
                    return Some(Ok(record));
                }
            }
            match self.reader.next()? {
                Ok(b) => {
                    self.batch = Some(b);
                    self.row = 0;
                }
                Err(e) => return Some(Err(fatal(format!("after row {}: {e}", self.at)))),
            }
        }
    }
}

/// Reads a whole target list into memory.
pub fn read(path: &Path) -> Result<TargetList, TargetError> {
    collect(TargetStream::open(path, &Columns::default())?)
}

/// Parses a target list held in memory (`name` is used in messages).
pub fn parse(name: &str, bytes: &[u8]) -> Result<TargetList, TargetError> {
    collect(TargetStream::from_bytes(
        name,
        bytes.to_vec(),
        &Columns::default(),
    )?)
}

fn collect(stream: TargetStream) -> Result<TargetList, TargetError> {
    let mut list = TargetList {
        extra_columns: stream.extra_columns.clone(),
        ..Default::default()
    };
    for item in stream {
        match item? {
            Item::Target(t) => list.targets.push(t),
            Item::Reject(r) => list.rejects.push(r),
            Item::Duplicate => list.duplicates += 1,
        }
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
    use std::io::Write;

    #[test]
    fn normalises_names() {
        assert_eq!(normalise(" Example.NL. ").unwrap(), "example.nl");
        assert_eq!(normalise("bücher.de").unwrap(), "xn--bcher-kva.de");
        assert_eq!(normalise("XN--BCHER-KVA.de").unwrap(), "xn--bcher-kva.de");
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

    #[test]
    fn column_options_and_the_gov_header() {
        let text = "Domain name,Domain type,Organization name,City\nA.gov,Federal,Agency A,X\nb.gov,City,(blank),Y\n";
        let list = parse("t", text.as_bytes()).unwrap();
        assert_eq!(list.targets.len(), 2);
        assert_eq!(list.targets[0].domain, "a.gov");
        assert_eq!(list.targets[0].organisation.as_deref(), Some("Agency A"));
        assert_eq!(list.targets[1].organisation, None);
        assert_eq!(list.extra_columns, vec!["domain_type", "city"]);
        let cols = Columns {
            sector: Some("domain TYPE".into()),
            ..Default::default()
        };
        let s = TargetStream::from_bytes("t", text.as_bytes().to_vec(), &cols).unwrap();
        let list = collect(s).unwrap();
        assert_eq!(list.targets[0].sector.as_deref(), Some("Federal"));
        assert_eq!(list.extra_columns, vec!["city"]);
        let cols = Columns {
            country: Some("land".into()),
            ..Default::default()
        };
        let err = TargetStream::from_bytes("t", text.as_bytes().to_vec(), &cols).unwrap_err();
        assert!(err.to_string().contains("--country-column"), "{err}");
    }

    #[test]
    fn defaults_fill_only_what_the_list_leaves_empty() {
        let text = "domain,country,sector
a.example,NL,
b.example,,health
";
        let cols = Columns {
            default_country: Some("US".into()),
            default_sector: Some("O".into()),
            ..Default::default()
        };
        let s = TargetStream::from_bytes("t", text.as_bytes().to_vec(), &cols).unwrap();
        let list = collect(s).unwrap();
        let got: Vec<(Option<&str>, Option<&str>)> = list
            .targets
            .iter()
            .map(|t| (t.country.as_deref(), t.sector.as_deref()))
            .collect();
        assert_eq!(got, [(Some("NL"), Some("O")), (Some("US"), Some("health"))]);
    }

    #[test]
    fn json_arrays_of_objects_with_domain_lists() {
        let text = r#" [ {"name": "Uni A", "domains": ["a.edu.br", "A.edu.br", "b.edu.br"],
            "alpha_two_code": "BR", "country": "Brazil", "web_pages": ["https://a.edu.br/"]},
          {"name": "Uni C", "domains": ["bad..edu"], "alpha_two_code": "GR", "country": "Greece"},
          "not an object",
          {"name": null, "domains": ["c.edu.gr"], "alpha_two_code": "GR"} ] "#;
        let s =
            TargetStream::from_bytes("t", text.as_bytes().to_vec(), &Columns::default()).unwrap();
        assert_eq!(s.format, Format::Json);
        let list = collect(s).unwrap();
        let names: Vec<&str> = list.targets.iter().map(|t| t.domain.as_str()).collect();
        assert_eq!(names, ["a.edu.br", "b.edu.br", "c.edu.gr"]);
        assert_eq!(list.duplicates, 1);
        assert_eq!(list.rejects.len(), 2);
        assert_eq!(list.rejects[0].line, 2);
        assert_eq!(list.targets[0].country.as_deref(), Some("BR"));
        assert_eq!(list.targets[0].organisation.as_deref(), Some("Uni A"));
        assert_eq!(list.extra_columns, vec!["input_country", "web_pages"]);
        assert_eq!(list.targets[0].extra[0].as_deref(), Some("Brazil"));
        // A broken array after good elements is an error, after the good ones were yielded.
        let s = TargetStream::from_bytes(
            "t",
            br#"[{"domain": "a.nl"} {"#.to_vec(),
            &Columns::default(),
        )
        .unwrap();
        let items: Vec<_> = s.collect();
        assert!(matches!(items[0], Ok(Item::Target(_))));
        assert!(items[1].is_err());
    }

    #[test]
    fn gzip_is_read_through() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt.gz");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::default(),
        );
        for i in 0..50_000 {
            writeln!(gz, "d{i}.example.nl").unwrap();
        }
        gz.finish().unwrap();
        let list = read(&path).unwrap();
        assert_eq!(list.targets.len(), 50_000);
        assert_eq!(list.targets[49_999].domain, "d49999.example.nl");
    }

    #[test]
    fn a_list_truncated_while_streamed_is_an_error_not_an_early_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        let mut text = String::new();
        for i in 0..50_000 {
            text.push_str(&format!("d{i}.example.nl\n"));
        }
        std::fs::write(&path, &text).unwrap();
        let mut stream = TargetStream::open(&path, &Columns::default()).unwrap();
        for _ in 0..10 {
            assert!(matches!(stream.next(), Some(Ok(Item::Target(_)))));
        }
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        let rest: Vec<_> = stream.collect();
        let targets = rest
            .iter()
            .filter(|i| matches!(i, Ok(Item::Target(_))))
            .count();
        assert!(targets < 50_000 - 10, "the whole list was read: {targets}");
        let err = rest.last().unwrap().as_ref().unwrap_err().to_string();
        assert!(
            err.contains("changed while it was being read") && err.contains("--resume"),
            "{err}"
        );
        // Unchanged, the same file reads to its end.
        std::fs::write(&path, &text).unwrap();
        let stream = TargetStream::open(&path, &Columns::default()).unwrap();
        assert_eq!(
            stream.filter(|i| matches!(i, Ok(Item::Target(_)))).count(),
            50_000
        );
    }

    #[test]
    fn name_hash_is_stable() {
        // FNV-1a 64 over the bytes: fixed forever (shards and resume depend on it).
        assert_eq!(name_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(name_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}

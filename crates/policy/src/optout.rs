//! The opt-out list: domains (with their subdomains) and address prefixes whose owners asked
//! not to be scanned.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use crate::guard::parse_prefix;

/// An opt-out file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OptOutError {
    /// The file cannot be read.
    #[error("cannot read the opt-out list {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line is neither a domain nor a prefix.
    #[error("{path}:{line}: '{text}' is neither a domain nor an address prefix: {reason}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
        /// Why.
        reason: String,
    },
}

/// Domains and prefixes not to scan.
///
/// File format: one entry per line, `#` starts a comment. An entry with a `/` or that parses
/// as an IP address is a prefix (`192.0.2.0/24`, `2001:db8::/32`, `203.0.113.7`); anything
/// else is a domain, which also covers every name below it (`example.nl` opts out
/// `www.example.nl` too; a leading `*.` is accepted and means the same).
#[derive(Debug, Clone, Default)]
pub struct OptOut {
    domains: HashSet<String>,
    prefixes: Vec<IpNet>,
}

impl OptOut {
    /// Reads an opt-out file; `normalise` turns a domain as written into the scanner's form
    /// (lower case, A-labels, no trailing dot).
    pub fn load(
        path: &Path,
        normalise: impl Fn(&str) -> Result<String, String>,
    ) -> Result<OptOut, OptOutError> {
        let text = std::fs::read_to_string(path).map_err(|source| OptOutError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, normalise).map_err(|(line, text, reason)| OptOutError::Line {
            path: path.to_path_buf(),
            line,
            text,
            reason,
        })
    }

    /// Parses opt-out text; an error is (line, text, reason).
    pub fn parse(
        text: &str,
        normalise: impl Fn(&str) -> Result<String, String>,
    ) -> Result<OptOut, (usize, String, String)> {
        let mut out = OptOut::default();
        for (i, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or_default().trim();
            if entry.is_empty() {
                continue;
            }
            let fail = |reason: String| (i + 1, entry.to_string(), reason);
            if entry.contains('/') || entry.parse::<std::net::IpAddr>().is_ok() {
                out.prefixes.push(parse_prefix(entry).map_err(fail)?);
            } else {
                let name = entry.strip_prefix("*.").unwrap_or(entry);
                out.domains.insert(normalise(name).map_err(fail)?);
            }
        }
        Ok(out)
    }

    /// The opt-out entry that covers `domain` (normalised): the domain itself or a parent.
    pub fn domain_rule(&self, domain: &str) -> Option<&str> {
        if self.domains.is_empty() {
            return None;
        }
        let mut name = domain;
        loop {
            if let Some(rule) = self.domains.get(name) {
                return Some(rule);
            }
            name = name.split_once('.')?.1;
        }
    }

    /// The opted-out prefixes.
    pub fn prefixes(&self) -> &[IpNet] {
        &self.prefixes
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.domains.len() + self.prefixes.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lower(s: &str) -> Result<String, String> {
        if s.contains(' ') {
            Err("space".into())
        } else {
            Ok(s.trim_end_matches('.').to_ascii_lowercase())
        }
    }

    #[test]
    fn domains_cover_their_subdomains_only() {
        let o = OptOut::parse(
            "# owners who asked\nExample.NL.\n*.shop.se  # wildcard form\n192.0.2.0/24\n2001:db8::5\n",
            lower,
        )
        .unwrap();
        assert_eq!(o.domain_rule("example.nl"), Some("example.nl"));
        assert_eq!(o.domain_rule("www.mail.example.nl"), Some("example.nl"));
        assert_eq!(o.domain_rule("notexample.nl"), None);
        assert_eq!(o.domain_rule("nl"), None);
        assert_eq!(o.domain_rule("a.shop.se"), Some("shop.se"));
        assert_eq!(o.prefixes().len(), 2);
        assert_eq!(o.len(), 4);
    }

    #[test]
    fn bad_lines_are_named() {
        let err = OptOut::parse("ok.nl\nbad name\n", lower).unwrap_err();
        assert_eq!(err.0, 2);
        assert!(OptOut::parse("10.0.0.0/99\n", lower).is_err());
    }
}

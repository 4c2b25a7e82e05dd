//! Grouping keys: country (from the list, else the ccTLD) and sector (ISIC Rev.4 sections).
//!
//! The rules are written once here and mirrored in SQL by [`crate::sql`]; both read the
//! same tables ([`CCTLD_COUNTRIES`], [`SECTOR_LABELS`]).
//!
//! - country: the list's value with spaces trimmed; two characters are upper-cased (ISO 3166
//!   alpha-2), anything longer is kept verbatim as its own group (never guessed); an empty or
//!   missing value falls back to the country of the public suffix's top-level label when that
//!   is a ccTLD (`datasets/cctld-countries.csv`: `gov.uk` -> GB); otherwise `unknown` (generic
//!   TLDs, no public suffix).
//! - sector: the list's label, trimmed and lower-cased, looked up in [`SECTOR_LABELS`] (a
//!   single letter A-U is taken as the section itself); a label not in the table is kept as
//!   `unmapped: <label>`; empty or missing is `unknown`.
//! - organisation: the list's value verbatim, empty or missing is `unknown`.
//! - hosting_country: the scan's `hosting_country` column (the country of the domain's first
//!   web address, else its first mail address, from the IP-to-ASN/country table), trimmed and
//!   upper-cased; empty or null (no routing tables, an address the table does not know, or a
//!   file older than the column) is `unknown`.
//! - hosting_asn: the scan's `hosting_asn` column (the AS of that same address) as `AS<n>`;
//!   null is `unknown`.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The ccTLD table: `tld,country,name` (see datasets/README.md for its provenance).
pub const CCTLD_COUNTRIES: &str = include_str!("../../../datasets/cctld-countries.csv");

/// Group value for a missing country, sector or organisation.
pub const UNKNOWN: &str = "unknown";
/// Prefix of a sector label that has no ISIC section in the table.
pub const UNMAPPED: &str = "unmapped: ";

/// ISIC Rev.4 sections and their titles.
pub const ISIC_SECTIONS: [(&str, &str); 21] = [
    ("A", "Agriculture, forestry and fishing"),
    ("B", "Mining and quarrying"),
    ("C", "Manufacturing"),
    ("D", "Electricity, gas, steam and air conditioning supply"),
    (
        "E",
        "Water supply; sewerage, waste management and remediation activities",
    ),
    ("F", "Construction"),
    (
        "G",
        "Wholesale and retail trade; repair of motor vehicles and motorcycles",
    ),
    ("H", "Transportation and storage"),
    ("I", "Accommodation and food service activities"),
    ("J", "Information and communication"),
    ("K", "Financial and insurance activities"),
    ("L", "Real estate activities"),
    ("M", "Professional, scientific and technical activities"),
    ("N", "Administrative and support service activities"),
    (
        "O",
        "Public administration and defence; compulsory social security",
    ),
    ("P", "Education"),
    ("Q", "Human health and social work activities"),
    ("R", "Arts, entertainment and recreation"),
    ("S", "Other service activities"),
    ("T", "Activities of households as employers"),
    (
        "U",
        "Activities of extraterritorial organizations and bodies",
    ),
];

/// Sector labels (lower case) and their ISIC Rev.4 section: the testbed's labels
/// (`uptake_model::SECTORS`) and common English variants. Labels that are ambiguous between
/// sections (e.g. "utilities", "research institute") are deliberately absent.
pub const SECTOR_LABELS: &[(&str, &str)] = &[
    ("public administration", "O"),
    ("government", "O"),
    ("public sector", "O"),
    ("central government", "O"),
    ("local government", "O"),
    ("municipality", "O"),
    ("municipalities", "O"),
    ("ministry", "O"),
    ("defence", "O"),
    ("defense", "O"),
    ("education", "P"),
    ("higher education", "P"),
    ("university", "P"),
    ("universities", "P"),
    ("school", "P"),
    ("schools", "P"),
    ("health", "Q"),
    ("healthcare", "Q"),
    ("health care", "Q"),
    ("hospital", "Q"),
    ("hospitals", "Q"),
    ("social work", "Q"),
    ("finance", "K"),
    ("financial", "K"),
    ("financial services", "K"),
    ("banking", "K"),
    ("bank", "K"),
    ("banks", "K"),
    ("insurance", "K"),
    ("telecom", "J"),
    ("telecoms", "J"),
    ("telecommunications", "J"),
    ("ict", "J"),
    ("information and communication", "J"),
    ("media", "J"),
    ("energy", "D"),
    ("electricity", "D"),
    ("water", "E"),
    ("transport", "H"),
    ("transportation", "H"),
    ("logistics", "H"),
    ("retail", "G"),
    ("wholesale", "G"),
    ("manufacturing", "C"),
    ("agriculture", "A"),
    ("mining", "B"),
    ("construction", "F"),
    ("hospitality", "I"),
    ("real estate", "L"),
    ("other", "S"),
];

/// The ccTLD table as a map from the lower-case label (`uk`) to the alpha-2 code (`GB`).
pub fn cctld_map() -> &'static HashMap<String, String> {
    static MAP: OnceLock<HashMap<String, String>> = OnceLock::new();
    MAP.get_or_init(|| {
        cctld_rows()
            .map(|(tld, cc, _)| (tld.to_string(), cc.to_string()))
            .collect()
    })
}

/// Rows of the ccTLD table: (tld, alpha-2, name).
pub fn cctld_rows() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    CCTLD_COUNTRIES.lines().skip(1).filter_map(|line| {
        let mut f = line.splitn(3, ',');
        Some((f.next()?, f.next()?, f.next()?))
    })
}

/// The country group of a row (see the module docs) from the list's value and the public
/// suffix.
pub fn country(listed: Option<&str>, public_suffix: Option<&str>) -> String {
    let c = listed.map(|c| c.trim_matches(' ')).unwrap_or("");
    if c.is_empty() {
        let tld = public_suffix
            .and_then(|s| s.rsplit('.').next())
            .unwrap_or("")
            .to_lowercase();
        return cctld_map()
            .get(&tld)
            .cloned()
            .unwrap_or_else(|| UNKNOWN.to_string());
    }
    if c.chars().count() == 2 {
        c.to_uppercase()
    } else {
        c.to_string()
    }
}

/// The ISIC section of a sector label, if the table knows it.
pub fn isic_section(label: &str) -> Option<&'static str> {
    let key = label.trim_matches(' ').to_lowercase();
    if let Some((s, _)) = ISIC_SECTIONS
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(&key))
    {
        return Some(s);
    }
    SECTOR_LABELS
        .iter()
        .find(|(l, _)| *l == key)
        .map(|(_, s)| *s)
}

/// The sector group of a row (see the module docs).
pub fn sector(listed: Option<&str>) -> String {
    let label = listed.map(|s| s.trim_matches(' ')).unwrap_or("");
    if label.is_empty() {
        return UNKNOWN.to_string();
    }
    match isic_section(label) {
        Some(s) => s.to_string(),
        None => format!("{UNMAPPED}{label}"),
    }
}

/// The organisation group of a row.
pub fn organisation(listed: Option<&str>) -> String {
    match listed {
        Some(o) if !o.is_empty() => o.to_string(),
        _ => UNKNOWN.to_string(),
    }
}

/// The hosting country group of a row (see the module docs).
pub fn hosting_country(value: Option<&str>) -> String {
    match value.map(|v| v.trim_matches(' ')) {
        Some(v) if !v.is_empty() => v.to_uppercase(),
        _ => UNKNOWN.to_string(),
    }
}

/// The hosting network group of a row (see the module docs).
pub fn hosting_asn(value: Option<i64>) -> String {
    value.map_or_else(|| UNKNOWN.to_string(), |n| format!("AS{n}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries() {
        assert_eq!(country(Some("nl"), Some("com")), "NL");
        assert_eq!(country(Some(" GB "), Some("de")), "GB");
        assert_eq!(country(None, Some("gov.uk")), "GB");
        assert_eq!(country(Some(""), Some("DE")), "DE");
        assert_eq!(country(Some("  "), Some("se")), "SE");
        assert_eq!(country(None, Some("com")), UNKNOWN);
        assert_eq!(country(None, Some("eu")), UNKNOWN);
        assert_eq!(country(Some("Netherlands"), Some("nl")), "Netherlands");
        assert_eq!(country(None, None), UNKNOWN);
    }

    #[test]
    fn cctld_table_is_whole() {
        let rows: Vec<_> = cctld_rows().collect();
        assert_eq!(rows.len(), CCTLD_COUNTRIES.lines().count() - 1);
        assert!(rows.len() > 240);
        for (tld, cc, name) in &rows {
            assert!(
                tld.chars().all(|c| c.is_ascii_lowercase()) && cc.len() == 2 && !name.is_empty(),
                "{tld},{cc},{name}"
            );
        }
        let map = cctld_map();
        assert_eq!(map.len(), rows.len(), "duplicate tld");
        assert_eq!(map["uk"], "GB");
        assert_eq!(map["nl"], "NL");
        assert_eq!(map["gp"], "GP");
    }

    #[test]
    fn sectors() {
        for (label, section) in uptake_model::SECTORS {
            assert_eq!(sector(Some(label)), section, "{label}");
        }
        assert_eq!(sector(Some(" Banking ")), "K");
        assert_eq!(sector(Some("University")), "P");
        assert_eq!(sector(Some("Government")), "O");
        assert_eq!(sector(Some("q")), "Q");
        assert_eq!(
            sector(Some("Space Mining Guild")),
            "unmapped: Space Mining Guild"
        );
        assert_eq!(sector(Some("")), UNKNOWN);
        assert_eq!(sector(None), UNKNOWN);
        for (label, section) in SECTOR_LABELS {
            assert_eq!(label.to_lowercase(), *label);
            assert!(ISIC_SECTIONS.iter().any(|(s, _)| s == section), "{label}");
        }
        assert_eq!(organisation(Some("")), UNKNOWN);
        assert_eq!(organisation(Some("Acme")), "Acme");
    }

    #[test]
    fn hosting() {
        assert_eq!(hosting_country(Some(" nl ")), "NL");
        assert_eq!(hosting_country(Some("US")), "US");
        assert_eq!(hosting_country(Some("")), UNKNOWN);
        assert_eq!(hosting_country(None), UNKNOWN);
        assert_eq!(hosting_asn(Some(64500)), "AS64500");
        assert_eq!(hosting_asn(None), UNKNOWN);
    }
}

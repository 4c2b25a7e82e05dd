//! What is drawn: the aggregate rows arranged per metric into charts (bars by country, by
//! sector and, when aggregated so, by hosting country; the country x sector heat map, the
//! trend over scans). The drawing ([`crate::draw`])
//! and the tables ([`crate::page`]) are both made from these values, so a chart and its table
//! show the same rows in the same order.

use std::collections::{BTreeSet, HashMap};

use crate::input::{AdoptionRow, Aggregates, MetricDef, ScanDef};

/// At most this many country lines in a trend chart besides the overall line (one colour
/// each from the colour-blind-safe palette); the rest are in adoption.csv.
pub const TREND_COUNTRIES: usize = 6;

/// ISIC Rev.4 sections (the sector groups of `uptake aggregate`) and their titles.
const ISIC_SECTIONS: [(&str, &str); 21] = [
    ("A", "Agriculture, forestry and fishing"),
    ("B", "Mining and quarrying"),
    ("C", "Manufacturing"),
    ("D", "Electricity, gas, steam and air conditioning supply"),
    ("E", "Water supply; sewerage, waste management"),
    ("F", "Construction"),
    ("G", "Wholesale and retail trade"),
    ("H", "Transportation and storage"),
    ("I", "Accommodation and food service activities"),
    ("J", "Information and communication"),
    ("K", "Financial and insurance activities"),
    ("L", "Real estate activities"),
    ("M", "Professional, scientific and technical activities"),
    ("N", "Administrative and support service activities"),
    ("O", "Public administration and defence"),
    ("P", "Education"),
    ("Q", "Human health and social work activities"),
    ("R", "Arts, entertainment and recreation"),
    ("S", "Other service activities"),
    ("T", "Activities of households as employers"),
    ("U", "Extraterritorial organizations and bodies"),
];

/// A sector group with the title of its ISIC section (`O` -> `O Public administration and
/// defence`); other values as they are.
pub fn sector_name(group: &str) -> String {
    match ISIC_SECTIONS.iter().find(|(code, _)| *code == group) {
        Some((code, title)) => format!("{code} {title}"),
        None => group.to_string(),
    }
}

/// The denominator in words, for chart titles.
pub fn denominator(metric: &MetricDef) -> String {
    if metric.applies_to == "every domain" {
        "% of all domains".to_string()
    } else {
        format!("% of domains where {}", metric.applies_to)
    }
}

/// One row of a chart: a group and its aggregate row.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    /// The group as written in the aggregates.
    pub group: String,
    /// The group as labelled in the chart.
    pub label: String,
    /// The numbers.
    pub row: &'a AdoptionRow,
}

/// Horizontal bars: one group per bar, with the interval and n.
#[derive(Debug, Clone)]
pub struct Bars<'a> {
    /// `country`, `sector` or `hosting_country`.
    pub dimension: &'static str,
    /// Bars, highest rate first; groups without a rate last.
    pub items: Vec<Item<'a>>,
}

/// The country x sector heat map.
#[derive(Debug, Clone)]
pub struct Heat<'a> {
    /// Row labels (countries).
    pub countries: Vec<String>,
    /// Column labels (sectors).
    pub sectors: Vec<String>,
    /// Cells that exist, by (country index, sector index), in table order.
    pub cells: Vec<(usize, usize, &'a AdoptionRow)>,
}

/// One line of a trend chart: a group's row in each scan (None where the scan lacks it).
#[derive(Debug, Clone)]
pub struct Series<'a> {
    /// `all` or the country.
    pub name: String,
    /// Per scan, oldest first.
    pub points: Vec<Option<&'a AdoptionRow>>,
}

/// Rates over the scans.
#[derive(Debug, Clone)]
pub struct Trend<'a> {
    /// The scans, oldest first.
    pub scans: Vec<&'a ScanDef>,
    /// The overall line first, then up to [`TREND_COUNTRIES`] countries (largest first).
    pub series: Vec<Series<'a>>,
}

/// What a chart shows.
#[derive(Debug, Clone)]
pub enum Body<'a> {
    /// Rates by one dimension.
    Bars(Bars<'a>),
    /// Rates by country and sector.
    Heat(Heat<'a>),
    /// Rates over time.
    Trend(Trend<'a>),
}

/// One chart of a metric.
#[derive(Debug, Clone)]
pub struct Chart<'a> {
    /// File stem of its SVG and PNG (`dmarc-country`).
    pub file: String,
    /// Title lines (the metric, what the chart shows, the scan).
    pub title: String,
    /// The denominator line.
    pub subtitle: String,
    /// What is drawn.
    pub body: Body<'a>,
}

/// A metric's section of the report.
#[derive(Debug, Clone)]
pub struct MetricView<'a> {
    /// The definition.
    pub def: &'a MetricDef,
    /// The latest scan (the bars and the heat map show it).
    pub scan: &'a ScanDef,
    /// The overall row of the latest scan.
    pub overall: Option<&'a AdoptionRow>,
    /// Its charts.
    pub charts: Vec<Chart<'a>>,
}

/// A file-name-safe form of a metric id.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The dimensions of a grouping name, sorted (`sector,country` -> [country, sector]).
fn dims(grouping: &str) -> Vec<&str> {
    let mut d: Vec<&str> = grouping.split(',').map(str::trim).collect();
    d.sort_unstable();
    d
}

/// Orders by rate, highest first; rows without a rate (nothing applicable, not measured)
/// last, by name.
fn by_rate(a: &Item<'_>, b: &Item<'_>) -> std::cmp::Ordering {
    match (a.row.rate, b.row.rate) {
        (Some(x), Some(y)) => y.total_cmp(&x).then_with(|| a.group.cmp(&b.group)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.group.cmp(&b.group),
    }
}

/// Arranges the aggregates into one [`MetricView`] per metric that has rows, in the order
/// adoption.json declares the metrics.
pub fn metric_views(agg: &Aggregates) -> Vec<MetricView<'_>> {
    let scan_index: HashMap<&str, usize> = agg
        .meta
        .scans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut per_metric: HashMap<&str, Vec<&AdoptionRow>> = HashMap::new();
    for row in &agg.rows {
        per_metric.entry(&row.metric).or_default().push(row);
    }
    let mut views = vec![];
    for def in &agg.meta.metrics {
        let Some(rows) = per_metric.get(def.id.as_str()) else {
            continue;
        };
        // The latest scan that measured this metric (else the latest with rows of it).
        let latest_of = |measured: bool| {
            rows.iter()
                .filter(|r| r.available || !measured)
                .map(|r| scan_index[r.scan.as_str()])
                .max()
        };
        let Some(latest) = latest_of(true).or_else(|| latest_of(false)) else {
            continue;
        };
        let scan = &agg.meta.scans[latest];
        let in_scan = |grouping: &[&str]| -> Vec<&AdoptionRow> {
            rows.iter()
                .copied()
                .filter(|r| r.scan == scan.id && dims(&r.grouping) == grouping)
                .collect()
        };
        let overall = in_scan(&["all"]).into_iter().next();
        let scan_note = format!("scan {} ({})", scan.id, scan.date);
        let subtitle = denominator(def);
        let mut charts = vec![];
        for (dimension, label) in [
            ("country", "by country"),
            ("sector", "by sector"),
            ("hosting_country", "by hosting country"),
        ] {
            let mut items: Vec<Item> = in_scan(&[dimension])
                .into_iter()
                .map(|row| Item {
                    group: row.group.clone(),
                    label: if dimension == "sector" {
                        sector_name(&row.group)
                    } else {
                        row.group.clone()
                    },
                    row,
                })
                .collect();
            if items.is_empty() {
                continue;
            }
            items.sort_by(by_rate);
            charts.push(Chart {
                file: format!("{}-{dimension}", slug(&def.id)),
                title: format!("{}, {label}, {scan_note}", def.title),
                subtitle: subtitle.clone(),
                body: Body::Bars(Bars { dimension, items }),
            });
        }
        if let Some(heat) = heat(rows, &scan.id) {
            charts.push(Chart {
                file: format!("{}-country-sector", slug(&def.id)),
                title: format!("{}, country x sector, {scan_note}", def.title),
                subtitle: subtitle.clone(),
                body: Body::Heat(heat),
            });
        }
        if let Some(trend) = trend(agg, rows, &scan_index) {
            charts.push(Chart {
                file: format!("{}-trend", slug(&def.id)),
                title: format!("{}, over {} scans", def.title, trend.scans.len()),
                subtitle,
                body: Body::Trend(trend),
            });
        }
        views.push(MetricView {
            def,
            scan,
            overall,
            charts,
        });
    }
    views
}

fn heat<'a>(rows: &[&'a AdoptionRow], scan: &str) -> Option<Heat<'a>> {
    let mut countries = BTreeSet::new();
    let mut sectors = BTreeSet::new();
    let mut pairs = vec![];
    for row in rows.iter().copied() {
        if row.scan != scan {
            continue;
        }
        let names: Vec<&str> = row.grouping.split(',').map(str::trim).collect();
        if dims(&row.grouping) != ["country", "sector"] {
            continue;
        }
        let values: Vec<&str> = row.group.split('|').collect();
        if values.len() != 2 {
            continue;
        }
        let ci = usize::from(names[0] != "country");
        let (country, sector) = (values[ci], values[1 - ci]);
        countries.insert(country.to_string());
        sectors.insert(sector.to_string());
        pairs.push((country, sector, row));
    }
    if pairs.is_empty() {
        return None;
    }
    let countries: Vec<String> = countries.into_iter().collect();
    let sectors: Vec<String> = sectors.into_iter().collect();
    let mut cells: Vec<(usize, usize, &AdoptionRow)> = pairs
        .into_iter()
        .map(|(c, s, row)| {
            (
                countries
                    .binary_search_by(|x| x.as_str().cmp(c))
                    .unwrap_or(0),
                sectors.binary_search_by(|x| x.as_str().cmp(s)).unwrap_or(0),
                row,
            )
        })
        .collect();
    cells.sort_by_key(|&(c, s, _)| (c, s));
    Some(Heat {
        countries,
        sectors,
        cells,
    })
}

fn trend<'a>(
    agg: &'a Aggregates,
    rows: &[&'a AdoptionRow],
    scan_index: &HashMap<&str, usize>,
) -> Option<Trend<'a>> {
    let present: BTreeSet<usize> = rows.iter().map(|r| scan_index[r.scan.as_str()]).collect();
    if present.len() < 2 {
        return None;
    }
    let scans: Vec<&ScanDef> = present.iter().map(|&i| &agg.meta.scans[i]).collect();
    let position: HashMap<&str, usize> = scans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let series_of = |grouping: &str, group: &str| -> Series<'a> {
        let mut points = vec![None; scans.len()];
        for row in rows.iter().copied() {
            if row.group == group && dims(&row.grouping) == [grouping] {
                points[position[row.scan.as_str()]] = Some(row);
            }
        }
        Series {
            name: group.to_string(),
            points,
        }
    };
    let mut series = vec![series_of("all", "all")];
    // The countries with the most applicable domains in the latest scan they appear in.
    let mut countries: HashMap<&str, (usize, u64)> = HashMap::new();
    for row in rows.iter().copied() {
        if dims(&row.grouping) == ["country"] {
            let at = position[row.scan.as_str()];
            let entry = countries.entry(&row.group).or_insert((at, 0));
            if at >= entry.0 {
                *entry = (at, row.applicable.unwrap_or(0));
            }
        }
    }
    let mut countries: Vec<(&str, (usize, u64))> = countries.into_iter().collect();
    countries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    for (country, _) in countries.into_iter().take(TREND_COUNTRIES) {
        series.push(series_of("country", country));
    }
    Some(Trend { scans, series })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Meta;

    fn row(scan: &str, grouping: &str, group: &str, available: bool) -> AdoptionRow {
        AdoptionRow {
            scan: scan.into(),
            grouping: grouping.into(),
            group: group.into(),
            metric: "dane".into(),
            available,
            applicable: available.then_some(40),
            adopted: available.then_some(10),
            rate: available.then_some(0.25),
            ci_low: available.then_some(0.14),
            ci_high: available.then_some(0.4),
            errors: available.then_some(0),
            error_rate: available.then_some(0.0),
        }
    }

    #[test]
    fn bars_show_the_latest_scan_that_measured_the_metric() {
        let json = r#"{"metrics": [{"id": "dane", "title": "DANE", "applies_to": "every domain",
            "adopted_when": "x"}], "scans": [{"id": "s1", "date": "2026-01-01", "rows": 40},
            {"id": "s2", "date": "2026-02-01", "rows": 40}]}"#;
        let meta: Meta = serde_json::from_str(json).unwrap();
        let agg = Aggregates {
            table_path: "adoption.csv".into(),
            rows: vec![
                row("s1", "all", "all", true),
                row("s1", "country", "NL", true),
                row("s2", "all", "all", false),
                row("s2", "country", "NL", false),
            ],
            meta,
        };
        let views = metric_views(&agg);
        assert_eq!(views[0].scan.id, "s1");
        assert_eq!(views[0].overall, Some(&agg.rows[0]));
        let files: Vec<&str> = views[0].charts.iter().map(|c| c.file.as_str()).collect();
        assert_eq!(files, ["dane-country", "dane-trend"]);
        let Body::Trend(trend) = &views[0].charts[1].body else {
            panic!("trend");
        };
        assert_eq!(
            trend.series[0].points,
            [Some(&agg.rows[0]), Some(&agg.rows[2])]
        );
    }
}

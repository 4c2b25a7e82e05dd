//! index.html: one self-contained page (inline CSS and SVG, no script, a Content Security
//! Policy that forbids loading anything), readable from a 375 px phone to a laptop: charts
//! scale and scroll sideways, tables scroll sideways.
//!
//! Every table row carries the key of its aggregate row (`data-scan`, `data-grouping`,
//! `data-group`, `data-metric`) and every number cell its column (`data-col`), so the page
//! can be checked against adoption.csv mechanically.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::input::{AdoptionRow, Aggregates, MetricDef};
use crate::numbers::{count_or_none, pct_or_none, NONE};
use crate::view::{sector_name, Body, Chart, MetricView};
use crate::Options;

/// Tables with more rows than this start folded (the chart stays visible).
const OPEN_ROWS: usize = 15;

const CSS: &str = "\
*{box-sizing:border-box}\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;\
color:#222;background:#fff;line-height:1.45;margin:0 auto;max-width:1000px;padding:0 14px 40px}\
h1{font-size:1.6em;margin:.8em 0 .3em}h2{font-size:1.3em;margin:1.6em 0 .4em;\
border-top:2px solid #0072b2;padding-top:.5em}h3{font-size:1.05em;margin:1.2em 0 .3em}\
a{color:#0060a0}p,dl,li{max-width:70ch}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.5em 0}\
dt{font-weight:600}dd{margin:0}\
.chart{overflow-x:auto;margin:.6em 0}.chart svg{display:block;width:100%;height:auto;\
min-width:540px}\
figure{margin:1em 0}figcaption{font-size:.9em;color:#555}\
.wrap{overflow-x:auto;max-width:100%}\
table{border-collapse:collapse;font-size:.88em;margin:.4em 0 1em}\
th,td{padding:.25em .55em;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap;\
font-variant-numeric:tabular-nums}\
th{background:#f3f3f3;white-space:normal;vertical-align:bottom;min-width:4.5em}.l{text-align:left}\
details>summary{cursor:pointer;color:#0060a0;margin:.3em 0}\
nav ul{columns:16em;padding-left:1.2em}\
.note{color:#555;font-size:.92em}\
@media (max-width:600px){body{padding:0 8px 30px}h1{font-size:1.3em}table{font-size:.8em}dl{grid-template-columns:1fr}dd{margin-bottom:.4em}}";

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A chart's SVG for inline use: labelled as an image for screen readers.
pub fn inline_svg(svg: &str, label: &str) -> String {
    svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{}\" ", esc(label)),
        1,
    )
}

/// The numeric columns of every table, after the group columns: (data-col, header).
const NUMBER_COLUMNS: [(&str, &str); 7] = [
    ("rate", "Adoption %"),
    ("ci_low", "95 % CI low %"),
    ("ci_high", "95 % CI high %"),
    ("adopted", "Adopted"),
    ("applicable", "Applicable (n)"),
    ("errors", "Errors"),
    ("error_rate", "Error rate %"),
];

/// A table row: the key attributes, the group cells, the numbers.
fn row_html(out: &mut String, row: &AdoptionRow, groups: &[String]) {
    let _ = write!(
        out,
        "<tr data-scan=\"{}\" data-grouping=\"{}\" data-group=\"{}\" data-metric=\"{}\">",
        esc(&row.scan),
        esc(&row.grouping),
        esc(&row.group),
        esc(&row.metric)
    );
    for g in groups {
        let _ = write!(out, "<td class=\"l\">{}</td>", esc(g));
    }
    let cells: [String; 7] = if row.available {
        [
            pct_or_none(row.rate),
            pct_or_none(row.ci_low),
            pct_or_none(row.ci_high),
            count_or_none(row.adopted),
            count_or_none(row.applicable),
            count_or_none(row.errors),
            pct_or_none(row.error_rate),
        ]
    } else {
        [
            "not measured".to_string(),
            NONE.to_string(),
            NONE.to_string(),
            NONE.to_string(),
            NONE.to_string(),
            NONE.to_string(),
            NONE.to_string(),
        ]
    };
    for ((col, _), value) in NUMBER_COLUMNS.iter().zip(cells) {
        let _ = write!(out, "<td data-col=\"{col}\">{}</td>", esc(&value));
    }
    out.push_str("</tr>\n");
}

/// A table of aggregate rows: `heads` name the group columns, each row gives its group cells.
/// Long tables start folded unless `always_open`.
fn table(
    out: &mut String,
    id: &str,
    caption: &str,
    heads: &[&str],
    rows: &[(Vec<String>, &AdoptionRow)],
    always_open: bool,
) {
    let open = if always_open || rows.len() <= OPEN_ROWS {
        " open"
    } else {
        ""
    };
    let _ = write!(
        out,
        "<details{open}><summary>{} ({} row{})</summary><div class=\"wrap\"><table data-table=\"{}\">\
         <thead><tr>",
        esc(caption),
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        esc(id)
    );
    for h in heads {
        let _ = write!(out, "<th class=\"l\" scope=\"col\">{}</th>", esc(h));
    }
    for (_, h) in NUMBER_COLUMNS {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for (groups, row) in rows {
        row_html(out, row, groups);
    }
    out.push_str("</tbody></table></div></details>\n");
}

/// The rows a chart draws, with their group cells, in the chart's order.
fn chart_rows<'a>(chart: &Chart<'a>) -> (Vec<&'static str>, Vec<(Vec<String>, &'a AdoptionRow)>) {
    match &chart.body {
        Body::Bars(bars) => (
            vec![match bars.dimension {
                "country" => "Country",
                "hosting_country" => "Hosting country",
                _ => "Sector",
            }],
            bars.items
                .iter()
                .map(|it| (vec![it.label.clone()], it.row))
                .collect(),
        ),
        Body::Heat(heat) => (
            vec!["Country", "Sector"],
            heat.cells
                .iter()
                .map(|&(i, j, row)| {
                    (
                        vec![heat.countries[i].clone(), sector_name(&heat.sectors[j])],
                        row,
                    )
                })
                .collect(),
        ),
        Body::Trend(trend) => (
            vec!["Group", "Scan", "Date"],
            trend
                .series
                .iter()
                .flat_map(|s| {
                    s.points
                        .iter()
                        .zip(&trend.scans)
                        .filter_map(move |(p, scan)| {
                            p.map(|row| {
                                (
                                    vec![s.name.clone(), scan.id.clone(), scan.date.clone()],
                                    row,
                                )
                            })
                        })
                })
                .collect(),
        ),
    }
}

fn definition(out: &mut String, def: &MetricDef) {
    out.push_str("<dl>");
    let mut item = |term: &str, value: &str| {
        if !value.is_empty() {
            let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(term), esc(value));
        }
    };
    item("Metric id", &def.id);
    item("Standard", &def.standard);
    item("Specification", &def.spec);
    item("Kind", &def.kind);
    item("Denominator (applies to)", &def.applies_to);
    item("Numerator (adopted when)", &def.adopted_when);
    item("Note", &def.note);
    out.push_str("</dl>\n");
}

/// The page. `svgs[m][c]` is the inline SVG of chart `c` of metric `m`.
pub fn index_html(
    agg: &Aggregates,
    views: &[MetricView<'_>],
    svgs: &[Vec<String>],
    options: &Options,
) -> String {
    let mut out = String::with_capacity(1 << 20);
    let meta = &agg.meta;
    let latest = meta.scans.last();
    let title = "Adoption of Internet security standards";
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">\
         <title>{title}</title><style>{CSS}</style></head><body>\n<header><h1>{title}</h1>"
    );
    if let Some(scan) = latest {
        let _ = write!(
            out,
            "<p>Latest scan <strong>{}</strong> of {}: {} domains. {} scan{} in this report. \
             Rates are shares of the applicable domains; domains that could not be measured \
             are left out of the denominators and reported as errors beside each rate. \
             Intervals are Wilson 95 %.</p>",
            esc(&scan.id),
            esc(&scan.date),
            scan.rows,
            meta.scans.len(),
            if meta.scans.len() == 1 { "" } else { "s" }
        );
    }
    out.push_str("</header>\n<nav><h2>Contents</h2><ul>");
    for v in views {
        let _ = write!(
            out,
            "<li><a href=\"#m-{}\">{}</a></li>",
            esc(&v.def.id),
            esc(&v.def.title)
        );
    }
    out.push_str("<li><a href=\"#provenance\">Provenance</a></li></ul></nav>\n");

    // Summary: the overall rate of every metric in its latest scan.
    out.push_str("<section id=\"summary\"><h2>Summary</h2>");
    let summary: Vec<(Vec<String>, &AdoptionRow)> = views
        .iter()
        .filter_map(|v| {
            v.overall
                .map(|row| (vec![v.def.title.clone(), v.scan.id.clone()], row))
        })
        .collect();
    table(
        &mut out,
        "summary",
        "All domains, latest scan of each metric",
        &["Metric", "Scan"],
        &summary,
        true,
    );
    out.push_str("</section>\n");

    for (v, charts) in views.iter().zip(svgs) {
        let _ = write!(
            out,
            "<section id=\"m-{}\"><h2>{}</h2>",
            esc(&v.def.id),
            esc(&v.def.title)
        );
        definition(&mut out, v.def);
        if let Some(row) = v.overall {
            out.push_str("<h3>All domains</h3>");
            table(
                &mut out,
                &format!("{}-all", v.def.id),
                &format!("All domains, scan {}", v.scan.id),
                &["Scan"],
                &[(vec![v.scan.id.clone()], row)],
                true,
            );
        }
        for (chart, svg) in v.charts.iter().zip(charts) {
            let _ = writeln!(
                out,
                "<figure id=\"{0}\"><div class=\"chart\">{1}</div><figcaption>{2}. {3}. \
                 Files: <a href=\"charts/{0}.svg\">SVG</a>, <a href=\"charts/{0}.png\">PNG</a>.\
                 </figcaption></figure>",
                esc(&chart.file),
                svg,
                esc(&chart.title),
                esc(&chart.subtitle)
            );
            let (heads, rows) = chart_rows(chart);
            table(
                &mut out,
                &chart.file,
                "Table: the numbers of this chart",
                &heads,
                &rows,
                false,
            );
        }
        out.push_str("</section>\n");
    }
    provenance(&mut out, agg, options);
    out.push_str("</body></html>\n");
    out
}

fn provenance(out: &mut String, agg: &Aggregates, options: &Options) {
    let (min_n, max_err) = (options.min_n, options.max_error_percent);
    let meta = &agg.meta;
    let file = agg
        .table_path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let _ = write!(
        out,
        "<section id=\"provenance\"><h2>Provenance</h2><p>Numbers from <code>{}</code>, \
         written by {}; definitions from <code>adoption.json</code>. Report drawn by uptake {}. \
         Cells and bars over fewer than {min_n} applicable domains are grey and show n instead \
         of a coloured rate; those where more than {max_err} % of the domains could not be \
         measured (errors, which are left out of the rate) are grey and marked *.</p>",
        esc(&file),
        esc(if meta.generated_by.is_empty() {
            "(not recorded)"
        } else {
            &meta.generated_by
        }),
        env!("CARGO_PKG_VERSION"),
    );
    if options.lists.is_empty() {
        out.push_str(
            "<p class=\"note\">Target lists: not stated (the aggregates do not record them; \
             <code>uptake report --list</code> states them here).</p>",
        );
    } else {
        out.push_str("<h3>Target lists</h3><ul data-list=\"lists\">");
        for list in &options.lists {
            let _ = write!(out, "<li>{}</li>", esc(list));
        }
        out.push_str("</ul>");
    }
    out.push_str(
        "<h3>Scans</h3><div class=\"wrap\"><table data-table=\"scans\"><thead><tr>\
         <th class=\"l\">Scan</th><th class=\"l\">Date</th><th>Domains</th><th>Part files</th>\
         <th>Schema version</th><th class=\"l\">Metrics not measured</th></tr></thead><tbody>\n",
    );
    for s in &meta.scans {
        let unavailable: Vec<String> = s
            .unavailable
            .iter()
            .map(|(m, col)| format!("{m} (no {col})"))
            .collect();
        let _ = writeln!(
            out,
            "<tr data-scan=\"{0}\"><td class=\"l\">{0}</td><td class=\"l\">{1}</td>\
             <td data-col=\"rows\">{2}</td><td>{3}</td><td>{4}</td><td class=\"l\">{5}</td></tr>",
            esc(&s.id),
            esc(&s.date),
            s.rows,
            count_or_none(s.files),
            count_or_none(s.schema_version.map(u64::from)),
            esc(&if unavailable.is_empty() {
                NONE.to_string()
            } else {
                unavailable.join(", ")
            })
        );
    }
    out.push_str("</tbody></table></div>");

    // Error rates of every metric in every scan (all domains).
    let overall: Vec<(Vec<String>, &AdoptionRow)> = agg
        .meta
        .metrics
        .iter()
        .flat_map(|m| {
            meta.scans.iter().filter_map(move |s| {
                agg.rows
                    .iter()
                    .find(|r| r.metric == m.id && r.scan == s.id && r.grouping == "all")
                    .map(|r| (vec![m.title.clone(), s.id.clone()], r))
            })
        })
        .collect();
    out.push_str("<h3>Error rates</h3>");
    table(
        out,
        "errors",
        "All domains, every metric and scan",
        &["Metric", "Scan"],
        &overall,
        false,
    );

    // Groupings in the aggregates that have no chart.
    let mut other: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &agg.rows {
        let mut dims: Vec<&str> = r.grouping.split(',').map(str::trim).collect();
        dims.sort_unstable();
        if !matches!(
            dims.as_slice(),
            ["all"] | ["country"] | ["sector"] | ["country", "sector"] | ["hosting_country"]
        ) {
            *other.entry(&r.grouping).or_default() += 1;
        }
    }
    if !other.is_empty() {
        let list: Vec<String> = other
            .iter()
            .map(|(g, n)| format!("{} ({n} rows)", esc(g)))
            .collect();
        let _ = write!(
            out,
            "<p class=\"note\">Not drawn here, in <code>{}</code>: {}.</p>",
            esc(&file),
            list.join(", ")
        );
    }
    if !meta.sector_labels.is_empty() {
        out.push_str(
            "<h3>Sector labels</h3><p class=\"note\">How the lists' sector labels were \
             counted (ISIC Rev.4 sections).</p><div class=\"wrap\"><table data-table=\"sectors\">\
             <thead><tr><th class=\"l\">Label in the list</th><th class=\"l\">Sector</th></tr>\
             </thead><tbody>\n",
        );
        for (label, group) in &meta.sector_labels {
            let _ = writeln!(
                out,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                esc(label),
                esc(&sector_name(group))
            );
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("</section>\n");
}

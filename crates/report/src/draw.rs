//! Drawing the charts: each [`Chart`] is laid out once as a list of shapes in logical pixels,
//! then painted with plotters on the SVG backend (inline in index.html and as a file) and on
//! the bitmap backend (PNG, at twice the size, for slides). Text is measured and rasterised
//! with the bundled DejaVu Sans through ab_glyph, so no system fonts are needed.
//!
//! Colours are colour-blind safe: bars in Okabe-Ito blue, trend lines in the Okabe-Ito
//! palette, the heat map in viridis; rates over fewer than `min_n` applicable domains are drawn
//! in grey and labelled with n, never in a confident colour. Every rate axis runs from 0 to
//! 100 %, and every number written in a chart comes from [`crate::numbers`], as in the tables.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::input::AdoptionRow;
use crate::numbers::{pct, pct_or_none};
use crate::view::{Bars, Body, Chart, Heat, Trend};
use crate::ReportError;

const FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";
/// Scale of the PNG relative to the SVG.
const PNG_SCALE: f64 = 2.0;
/// Width of the bar and trend charts.
const WIDTH: f64 = 720.0;
const MARGIN: f64 = 12.0;

const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x55, 0x55, 0x55);
const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
/// Okabe-Ito blue.
const BAR: RGBColor = RGBColor(0x00, 0x72, 0xb2);
/// Bars and cells over too few domains.
const FEW: RGBColor = RGBColor(0xbb, 0xbb, 0xbb);
const FEW_CELL: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
/// Overall line, then the Okabe-Ito colours (yellow left out: too light on white).
const SERIES: [RGBColor; 7] = [
    RGBColor(0x00, 0x00, 0x00),
    RGBColor(0xe6, 0x9f, 0x00),
    RGBColor(0x56, 0xb4, 0xe9),
    RGBColor(0x00, 0x9e, 0x73),
    RGBColor(0x00, 0x72, 0xb2),
    RGBColor(0xd5, 0x5e, 0x00),
    RGBColor(0xcc, 0x79, 0xa7),
];

/// Registers the bundled font with plotters (once per process).
fn font() -> Result<(), ReportError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ReportError::Chart {
            file: "DejaVuSans.ttf".to_string(),
            reason: "the bundled font cannot be read".to_string(),
        })
    }
}

/// Width of `text` at `size` in logical pixels.
fn text_width(text: &str, size: f64) -> f64 {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal)
        .box_size(text)
        .map(|(w, _)| f64::from(w))
        .unwrap_or(text.chars().count() as f64 * size * 0.6)
}

/// `text` cut with an ellipsis to fit `width`.
fn fit(text: &str, size: f64, width: f64) -> String {
    if text_width(text, size) <= width {
        return text.to_string();
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let candidate: String = chars.iter().collect::<String>() + "…";
        if text_width(&candidate, size) <= width {
            return candidate;
        }
    }
    String::new()
}

/// `text` broken into lines that fit `width`.
fn wrap(text: &str, size: f64, width: f64) -> Vec<String> {
    let mut lines = vec![];
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if !line.is_empty() && text_width(&candidate, size) > width {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    lines.push(line);
    lines
}

/// One shape in logical pixels.
#[derive(Clone)]
pub enum Shape {
    /// A filled rectangle.
    Rect {
        /// Corners.
        x0: f64,
        /// Corners.
        y0: f64,
        /// Corners.
        x1: f64,
        /// Corners.
        y1: f64,
        /// Fill.
        fill: RGBColor,
        /// Opacity.
        alpha: f64,
    },
    /// A polyline.
    Line {
        /// Points.
        points: Vec<(f64, f64)>,
        /// Stroke.
        color: RGBColor,
        /// Stroke width.
        width: f64,
    },
    /// A filled polygon.
    Poly {
        /// Points.
        points: Vec<(f64, f64)>,
        /// Fill.
        fill: RGBColor,
        /// Opacity.
        alpha: f64,
    },
    /// A filled circle.
    Dot {
        /// Centre.
        x: f64,
        /// Centre.
        y: f64,
        /// Radius.
        r: f64,
        /// Fill.
        fill: RGBColor,
    },
    /// Text.
    Text {
        /// What is written.
        text: String,
        /// Anchor point.
        x: f64,
        /// Anchor point.
        y: f64,
        /// Font size.
        size: f64,
        /// Colour.
        color: RGBColor,
        /// Which point of the text is at (x, y).
        anchor: Pos,
    },
}

/// A laid-out chart.
#[derive(Clone)]
pub struct Drawing {
    /// Logical size.
    pub width: f64,
    /// Logical size.
    pub height: f64,
    /// Shapes, painted in order.
    pub shapes: Vec<Shape>,
}

impl Drawing {
    fn new(width: f64) -> Drawing {
        Drawing {
            width,
            height: 0.0,
            shapes: vec![],
        }
    }

    fn rect(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), fill: RGBColor) {
        self.shapes.push(Shape::Rect {
            x0,
            y0,
            x1,
            y1,
            fill,
            alpha: 1.0,
        });
    }

    fn line(&mut self, points: Vec<(f64, f64)>, color: RGBColor, width: f64) {
        self.shapes.push(Shape::Line {
            points,
            color,
            width,
        });
    }

    fn text(&mut self, text: impl Into<String>, (x, y): (f64, f64), size: f64, color: RGBColor) {
        self.text_at(
            text,
            (x, y),
            size,
            color,
            Pos::new(HPos::Left, VPos::Center),
        );
    }

    fn text_at(
        &mut self,
        text: impl Into<String>,
        (x, y): (f64, f64),
        size: f64,
        color: RGBColor,
        anchor: Pos,
    ) {
        self.shapes.push(Shape::Text {
            text: text.into(),
            x,
            y,
            size,
            color,
            anchor,
        });
    }

    /// Title and subtitle, wrapped; returns the y below them.
    fn heading(&mut self, chart: &Chart<'_>) -> f64 {
        let mut y = MARGIN + 8.0;
        let width = self.width - 2.0 * MARGIN;
        for line in wrap(&chart.title, 15.0, width) {
            self.text(line, (MARGIN, y), 15.0, INK);
            y += 20.0;
        }
        for line in wrap(&chart.subtitle, 12.0, width) {
            self.text(line, (MARGIN, y), 12.0, MUTED);
            y += 16.0;
        }
        y + 6.0
    }

    /// Writes the drawing as an SVG document.
    pub fn svg(&self) -> Result<String, String> {
        let mut out = String::new();
        {
            let size = (self.width.ceil() as u32, self.height.ceil() as u32);
            let area = SVGBackend::with_string(&mut out, size).into_drawing_area();
            paint(&area, &self.shapes, 1.0)?;
            area.present().map_err(|e| e.to_string())?;
        }
        Ok(out)
    }

    /// Writes the drawing as a PNG file at [`PNG_SCALE`].
    pub fn png(&self, path: &Path) -> Result<(), String> {
        let size = (
            (self.width * PNG_SCALE).ceil() as u32,
            (self.height * PNG_SCALE).ceil() as u32,
        );
        let area = BitMapBackend::new(path, size).into_drawing_area();
        paint(&area, &self.shapes, PNG_SCALE)?;
        area.present().map_err(|e| e.to_string())
    }
}

fn paint<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    shapes: &[Shape],
    k: f64,
) -> Result<(), String> {
    let p = |(x, y): (f64, f64)| ((x * k).round() as i32, (y * k).round() as i32);
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    area.fill(&WHITE).map_err(err)?;
    for shape in shapes {
        match shape {
            Shape::Rect {
                x0,
                y0,
                x1,
                y1,
                fill,
                alpha,
            } => area.draw(&Rectangle::new(
                [p((*x0, *y0)), p((*x1, *y1))],
                fill.mix(*alpha).filled(),
            )),
            Shape::Line {
                points,
                color,
                width,
            } => area.draw(&PathElement::new(
                points.iter().map(|&q| p(q)).collect::<Vec<_>>(),
                color.stroke_width((width * k).round().max(1.0) as u32),
            )),
            Shape::Poly {
                points,
                fill,
                alpha,
            } => area.draw(&Polygon::new(
                points.iter().map(|&q| p(q)).collect::<Vec<_>>(),
                fill.mix(*alpha).filled(),
            )),
            Shape::Dot { x, y, r, fill } => area.draw(&Circle::new(
                p((*x, *y)),
                (r * k).round() as i32,
                fill.filled(),
            )),
            Shape::Text {
                text,
                x,
                y,
                size,
                color,
                anchor,
            } => {
                let style = FontDesc::new(FontFamily::Name(FAMILY), size * k, FontStyle::Normal)
                    .color(color)
                    .pos(*anchor);
                area.draw_text(text, &style, p((*x, *y)))
            }
        }
        .map_err(err)?;
    }
    Ok(())
}

/// The label beside a bar, a heat-map cell's text and a trend point's label all come from the
/// row through these, so they match the tables.
fn rate_label(row: &AdoptionRow) -> String {
    if !row.available {
        return "not measured in this scan".to_string();
    }
    let n = row.applicable.unwrap_or(0);
    let mut label = match row.rate {
        Some(rate) => format!("{} % (n={n})", pct(rate)),
        None => format!("no applicable domains (n={n})"),
    };
    if let Some(e) = row.error_rate.filter(|e| *e > 0.0) {
        label.push_str(&format!(", errors {} %", pct(e)));
    }
    label
}

/// When a rate is drawn grey instead of in colour: too few applicable domains, or too many
/// domains that could not be measured (errors are left out of the rate, and they are rarely
/// random: a rate over many errors may be far from the truth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caution {
    /// Fewer applicable domains than this: grey, and n instead of a rate in heat maps.
    pub min_n: u64,
    /// More errors than this percentage of applicable + errors: grey, rate marked with `*`.
    pub max_error_percent: u64,
}

impl Caution {
    fn too_few(&self, row: &AdoptionRow) -> bool {
        row.applicable.unwrap_or(0) < self.min_n
    }

    fn too_many_errors(&self, row: &AdoptionRow) -> bool {
        let errors = row.errors.unwrap_or(0);
        let measured_or_not = row.applicable.unwrap_or(0) + errors;
        errors * 100 > self.max_error_percent * measured_or_not
    }

    /// Whether the row's rate is drawn grey.
    fn grey(&self, row: &AdoptionRow) -> bool {
        self.too_few(row) || self.too_many_errors(row)
    }

    /// The legend's sentence on grey.
    fn legend(&self, what: &str) -> String {
        format!(
            "Grey {what}: fewer than {} applicable domains, or more than {} % of the domains could not be measured (errors; marked *): read with care.",
            self.min_n, self.max_error_percent
        )
    }
}

/// Lays out a chart.
pub fn layout(chart: &Chart<'_>, caution: Caution) -> Result<Drawing, ReportError> {
    font()?;
    Ok(match &chart.body {
        Body::Bars(bars) => bar_chart(chart, bars, caution),
        Body::Heat(heat) => heat_map(chart, heat, caution),
        Body::Trend(trend) => trend_chart(chart, trend),
    })
}

/// Vertical grid lines and percentage labels at 0, 20, ..., 100 % under [y0, y1].
fn rate_axis(d: &mut Drawing, x: impl Fn(f64) -> f64, y0: f64, y1: f64) {
    for i in 0..=5 {
        let v = f64::from(i) / 5.0;
        d.line(vec![(x(v), y0), (x(v), y1)], GRID, 1.0);
        d.text_at(
            format!("{} %", i * 20),
            (x(v), y1 + 4.0),
            11.0,
            MUTED,
            Pos::new(HPos::Center, VPos::Top),
        );
    }
}

fn bar_chart(chart: &Chart<'_>, bars: &Bars<'_>, caution: Caution) -> Drawing {
    const PITCH: f64 = 22.0;
    const SIZE: f64 = 12.0;
    let mut d = Drawing::new(WIDTH);
    let top = d.heading(chart);
    let label_w = bars
        .items
        .iter()
        .map(|it| text_width(&it.label, SIZE))
        .fold(40.0, f64::max)
        .min(220.0)
        + 8.0;
    let values: Vec<String> = bars
        .items
        .iter()
        .map(|it| {
            let mark = if caution.too_many_errors(it.row) {
                " *"
            } else {
                ""
            };
            rate_label(it.row) + mark
        })
        .collect();
    let value_w = values
        .iter()
        .map(|v| text_width(v, SIZE))
        .fold(60.0, f64::max)
        .min(260.0)
        + 10.0;
    let x0 = MARGIN + label_w;
    let x1 = WIDTH - MARGIN - value_w;
    let x = |v: f64| x0 + v.clamp(0.0, 1.0) * (x1 - x0);
    let bottom = top + PITCH * bars.items.len() as f64;
    rate_axis(&mut d, x, top, bottom);
    for (i, (item, value)) in bars.items.iter().zip(values).enumerate() {
        let cy = top + PITCH * (i as f64 + 0.5);
        d.text_at(
            fit(&item.label, SIZE, label_w - 8.0),
            (x0 - 6.0, cy),
            SIZE,
            INK,
            Pos::new(HPos::Right, VPos::Center),
        );
        let row = item.row;
        if let Some(rate) = row.rate.filter(|_| row.available) {
            let fill = if caution.grey(row) { FEW } else { BAR };
            d.rect((x(0.0), cy - 7.0), (x(rate), cy + 7.0), fill);
            if let (Some(lo), Some(hi)) = (row.ci_low, row.ci_high) {
                d.line(vec![(x(lo), cy), (x(hi), cy)], INK, 1.5);
                for v in [lo, hi] {
                    d.line(vec![(x(v), cy - 5.0), (x(v), cy + 5.0)], INK, 1.5);
                }
            }
        }
        d.text(value, (x1 + 8.0, cy), SIZE, INK);
    }
    let mut y = bottom + 30.0;
    for line in wrap(
        &format!(
            "Bar: adoption rate. Whisker: 95 % Wilson interval. n: applicable domains (errors \
             left out). {}",
            caution.legend("bar")
        ),
        11.0,
        WIDTH - 2.0 * MARGIN,
    ) {
        d.text(line, (MARGIN, y), 11.0, MUTED);
        y += 15.0;
    }
    d.height = y + MARGIN;
    d
}

/// Viridis colour of a rate.
fn heat_colour(rate: f64) -> RGBColor {
    ViridisRGB.get_color(rate.clamp(0.0, 1.0) as f32)
}

/// Dark text on the light end of viridis, white on the dark end.
fn heat_text(rate: f64) -> RGBColor {
    if rate > 0.55 {
        RGBColor(0, 0, 0)
    } else {
        RGBColor(0xff, 0xff, 0xff)
    }
}

/// A heat-map cell's text: the rate (marked * over too many errors), or n when there are too
/// few domains for a rate.
fn cell_label(row: &AdoptionRow, caution: Caution) -> String {
    match row.rate {
        _ if !row.available => "n/a".to_string(),
        Some(rate) if !caution.too_few(row) => {
            let mark = if caution.too_many_errors(row) {
                "*"
            } else {
                ""
            };
            format!("{}{mark}", pct(rate))
        }
        _ => format!("n={}", row.applicable.unwrap_or(0)),
    }
}

fn heat_map(chart: &Chart<'_>, heat: &Heat<'_>, caution: Caution) -> Drawing {
    const CW: f64 = 54.0;
    const CH: f64 = 26.0;
    const SIZE: f64 = 11.0;
    let label_w = heat
        .countries
        .iter()
        .map(|c| text_width(c, 12.0))
        .fold(30.0, f64::max)
        .min(160.0)
        + 10.0;
    let width = (2.0 * MARGIN + label_w + CW * heat.sectors.len() as f64).max(WIDTH);
    let mut d = Drawing::new(width);
    let top = d.heading(chart);
    let x0 = MARGIN + label_w;
    for (j, sector) in heat.sectors.iter().enumerate() {
        d.text_at(
            fit(sector, SIZE, CW - 4.0),
            (x0 + CW * (j as f64 + 0.5), top + 8.0),
            SIZE,
            INK,
            Pos::new(HPos::Center, VPos::Center),
        );
    }
    let y0 = top + 20.0;
    for (i, country) in heat.countries.iter().enumerate() {
        d.text_at(
            fit(country, 12.0, label_w - 10.0),
            (x0 - 6.0, y0 + CH * (i as f64 + 0.5)),
            12.0,
            INK,
            Pos::new(HPos::Right, VPos::Center),
        );
    }
    // Empty cells (no domain in that country and sector) stay white with a light outline.
    let grid_bottom = y0 + CH * heat.countries.len() as f64;
    for j in 0..=heat.sectors.len() {
        let x = x0 + CW * j as f64;
        d.line(vec![(x, y0), (x, grid_bottom)], GRID, 1.0);
    }
    for i in 0..=heat.countries.len() {
        let y = y0 + CH * i as f64;
        d.line(
            vec![(x0, y), (x0 + CW * heat.sectors.len() as f64, y)],
            GRID,
            1.0,
        );
    }
    for &(i, j, row) in &heat.cells {
        let (cx, cy) = (x0 + CW * j as f64, y0 + CH * i as f64);
        let (fill, ink) = match row.rate {
            Some(rate) if row.available && !caution.grey(row) => {
                (heat_colour(rate), heat_text(rate))
            }
            _ => (FEW_CELL, MUTED),
        };
        d.rect((cx + 1.0, cy + 1.0), (cx + CW - 1.0, cy + CH - 1.0), fill);
        d.text_at(
            cell_label(row, caution),
            (cx + CW / 2.0, cy + CH / 2.0),
            SIZE,
            ink,
            Pos::new(HPos::Center, VPos::Center),
        );
    }
    // Legend: the colour scale and the grey of too few domains.
    let ly = grid_bottom + 18.0;
    let (lx0, lx1) = (MARGIN, MARGIN + 200.0);
    for k in 0..50 {
        let (a, b) = (f64::from(k) / 50.0, f64::from(k + 1) / 50.0);
        d.rect(
            (lx0 + a * (lx1 - lx0), ly),
            (lx0 + b * (lx1 - lx0) + 0.5, ly + 12.0),
            heat_colour((a + b) / 2.0),
        );
    }
    for (v, label) in [(0.0, "0 %"), (0.5, "50 %"), (1.0, "100 %")] {
        d.text_at(
            label,
            (lx0 + v * (lx1 - lx0), ly + 16.0),
            SIZE,
            MUTED,
            Pos::new(HPos::Center, VPos::Top),
        );
    }
    d.rect((lx1 + 24.0, ly), (lx1 + 44.0, ly + 12.0), FEW_CELL);
    let mut y = ly + 6.0;
    for line in wrap(
        &format!(
            "Cells: adoption rate in %. {} A cell with too few domains shows n and no rate. \
             Blank: no domains.",
            caution.legend("cells")
        ),
        SIZE,
        width - (lx1 + 50.0) - MARGIN,
    ) {
        d.text(line, (lx1 + 50.0, y), SIZE, MUTED);
        y += 15.0;
    }
    d.height = y.max(ly + 30.0) + MARGIN;
    d
}

/// A trend line's label at its last point: the name (cut to fit) and the rate.
fn trend_label(name: &str, row: &AdoptionRow) -> String {
    format!("{} {} %", fit(name, 11.0, 56.0), pct_or_none(row.rate))
}

fn trend_chart(chart: &Chart<'_>, trend: &Trend<'_>) -> Drawing {
    const PLOT_H: f64 = 260.0;
    const SIZE: f64 = 11.0;
    let mut d = Drawing::new(WIDTH);
    let mut top = d.heading(chart);
    // Legend.
    let mut lx = MARGIN;
    for (s, series) in trend.series.iter().enumerate() {
        let name = if s == 0 { "all domains" } else { &series.name };
        let w = text_width(name, SIZE) + 34.0;
        if lx + w > WIDTH - MARGIN {
            lx = MARGIN;
            top += 18.0;
        }
        d.line(vec![(lx, top), (lx + 18.0, top)], SERIES[s], 3.0);
        d.text(name, (lx + 22.0, top), SIZE, INK);
        lx += w;
    }
    let y_top = top + 18.0;
    let y_bottom = y_top + PLOT_H;
    let (x0, x1) = (MARGIN + 44.0, WIDTH - MARGIN - 120.0);
    let k = trend.scans.len();
    let x = |i: usize| x0 + (x1 - x0) * i as f64 / (k - 1).max(1) as f64;
    let y = |v: f64| y_bottom - v.clamp(0.0, 1.0) * PLOT_H;
    for i in 0..=5 {
        let v = f64::from(i) / 5.0;
        d.line(vec![(x0, y(v)), (x1, y(v))], GRID, 1.0);
        d.text_at(
            format!("{} %", i * 20),
            (x0 - 6.0, y(v)),
            SIZE,
            MUTED,
            Pos::new(HPos::Right, VPos::Center),
        );
    }
    // Scan labels, thinned so they do not overlap.
    let step = ((k as f64 * 90.0) / (x1 - x0)).ceil().max(1.0) as usize;
    for (i, scan) in trend.scans.iter().enumerate() {
        if i % step != 0 && i != k - 1 {
            continue;
        }
        let anchor = Pos::new(HPos::Center, VPos::Top);
        d.text_at(
            fit(&scan.id, SIZE, 88.0),
            (x(i), y_bottom + 4.0),
            SIZE,
            INK,
            anchor,
        );
        d.text_at(
            scan.date.clone(),
            (x(i), y_bottom + 18.0),
            SIZE,
            MUTED,
            anchor,
        );
    }
    for (s, series) in trend.series.iter().enumerate() {
        let colour = SERIES[s];
        // Bands and lines over runs of consecutive scans that have a rate.
        let mut runs: Vec<Vec<(usize, &AdoptionRow)>> = vec![vec![]];
        for (i, point) in series.points.iter().enumerate() {
            match point.filter(|r| r.available && r.rate.is_some()) {
                Some(row) => runs.last_mut().expect("one run").push((i, row)),
                None => runs.push(vec![]),
            }
        }
        for run in runs.iter().filter(|r| !r.is_empty()) {
            let band: Vec<(f64, f64)> = run
                .iter()
                .filter_map(|(i, r)| Some((x(*i), y(r.ci_high?))))
                .chain(
                    run.iter()
                        .rev()
                        .filter_map(|(i, r)| Some((x(*i), y(r.ci_low?)))),
                )
                .collect();
            if run.len() > 1 {
                d.shapes.push(Shape::Poly {
                    points: band,
                    fill: colour,
                    alpha: 0.15,
                });
            } else if let Some((i, r)) = run.first() {
                if let (Some(lo), Some(hi)) = (r.ci_low, r.ci_high) {
                    d.line(vec![(x(*i), y(lo)), (x(*i), y(hi))], colour, 1.5);
                }
            }
            let line: Vec<(f64, f64)> = run
                .iter()
                .filter_map(|(i, r)| Some((x(*i), y(r.rate?))))
                .collect();
            d.line(line, colour, if s == 0 { 2.5 } else { 1.5 });
        }
        for (i, row) in runs.iter().flatten() {
            if let Some(rate) = row.rate {
                d.shapes.push(Shape::Dot {
                    x: x(*i),
                    y: y(rate),
                    r: 3.0,
                    fill: colour,
                });
            }
        }
        if let Some(Some(last)) = series.points.last() {
            if last.available && last.rate.is_some() {
                let name = if s == 0 { "all" } else { &series.name };
                d.text(
                    trend_label(name, last),
                    (x1 + 8.0, y(last.rate.unwrap_or(0.0))),
                    SIZE,
                    colour,
                );
            }
        }
    }
    let mut yl = y_bottom + 54.0;
    for line in wrap(
        "Line: adoption rate per scan. Band: 95 % Wilson interval. Errors are left out of the \
         denominators.",
        SIZE,
        WIDTH - 2.0 * MARGIN,
    ) {
        d.text(line, (MARGIN, yl), SIZE, MUTED);
        yl += 15.0;
    }
    d.height = yl + MARGIN;
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(applicable: u64, errors: u64) -> AdoptionRow {
        AdoptionRow {
            scan: "s".into(),
            grouping: "all".into(),
            group: String::new(),
            metric: "dane".into(),
            available: true,
            applicable: Some(applicable),
            adopted: Some(applicable / 2),
            rate: Some(0.5),
            ci_low: Some(0.4),
            ci_high: Some(0.6),
            errors: Some(errors),
            error_rate: Some(errors as f64 / (applicable + errors) as f64),
        }
    }

    #[test]
    fn rates_over_few_domains_or_many_errors_are_grey_and_marked() {
        let caution = Caution {
            min_n: 30,
            max_error_percent: 10,
        };
        // 10 % errors exactly is still coloured; one more error is not.
        assert!(!caution.grey(&row(90, 10)));
        assert!(caution.grey(&row(89, 11)));
        assert_eq!(cell_label(&row(89, 11), caution), "50.0*");
        assert_eq!(cell_label(&row(90, 10), caution), "50.0");
        // Too few domains: n instead of a rate, whatever the errors.
        assert!(caution.grey(&row(29, 0)));
        assert_eq!(cell_label(&row(29, 0), caution), "n=29");
        // No domain at all is not an error rate of 0/0.
        assert!(!caution.too_many_errors(&row(0, 0)));
    }
}

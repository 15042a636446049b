//! Rendering [`Panels`] and [`Bars`] with plotters, to PNG or SVG.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use plotters::coord::types::RangedCoordf64;

use super::legend::{self, Side};
use super::{Axis, Bars, Canvas, ImageFormat, Panels, PlotError, Series};
use crate::output;

/// DejaVu Sans, compiled in (licence: `assets/fonts/DejaVuSans.LICENSE`).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Okabe-Ito, a palette that colour-blind readers can tell apart; yellow
/// last, as it is faint on white.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
    RGBColor(0xF0, 0xE4, 0x42),
];

/// The colour of palette index `i`. Past the palette, the same hues in
/// other shades: darker for the second round, lighter for the third, and
/// so on, so that index `i + 8` is told apart from `i`.
pub(super) fn color(i: usize) -> RGBColor {
    let RGBColor(r, g, b) = PALETTE[i % PALETTE.len()];
    let shade = |c: u8| -> u8 {
        let c = f64::from(c);
        let v = match (i / PALETTE.len()) % 4 {
            0 => c,
            1 => c * 0.55,
            2 => c + (255.0 - c) * 0.5,
            _ => c * 0.3,
        };
        v.round() as u8
    };
    RGBColor(shade(r), shade(g), shade(b))
}

/// Most points drawn per series; longer series are reduced to the first,
/// lowest, highest and last point of each of `MAX_POINTS / 4` buckets of x,
/// so peaks survive.
const MAX_POINTS: usize = 4000;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The font is compiled in and known to parse (tested).
            let _ = plotters::style::register_font(FAMILY, style, FONT);
        }
    });
}

/// Render into memory, then write the file atomically.
fn render(
    canvas: &Canvas,
    path: &Path,
    title: &str,
    draw: impl Fn(DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>,
    draw_svg: impl Fn(DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<(), PlotError> {
    register_font();
    let size = (canvas.width.max(200), canvas.height.max(150));
    let fail = |message: String| PlotError::Draw {
        title: title.to_owned(),
        message,
    };
    let bytes = match canvas.format {
        ImageFormat::Png => {
            let mut rgb = vec![255u8; size.0 as usize * size.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
                draw(root).map_err(fail)?;
            }
            let mut png_bytes = Vec::new();
            let encode = |e: png::EncodingError| PlotError::Encode {
                path: path.display().to_string(),
                message: e.to_string(),
            };
            let mut encoder = png::Encoder::new(&mut png_bytes, size.0, size.1);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().map_err(encode)?;
            writer.write_image_data(&rgb).map_err(encode)?;
            writer.finish().map_err(encode)?;
            png_bytes
        }
        ImageFormat::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                draw_svg(root).map_err(fail)?;
            }
            svg.into_bytes()
        }
    };
    output::write_atomic(path, &bytes)?;
    Ok(())
}

/// Renders a [`Panels`] chart to `path`.
pub fn render_panels(chart: &Panels, canvas: &Canvas, path: &Path) -> Result<(), PlotError> {
    render(
        canvas,
        path,
        &chart.title,
        |root| draw_panels(root, chart),
        |root| draw_panels(root, chart),
    )
}

/// Renders a [`Bars`] chart to `path`.
pub fn render_bars(chart: &Bars, canvas: &Canvas, path: &Path) -> Result<(), PlotError> {
    render(
        canvas,
        path,
        &chart.title,
        |root| draw_bars(root, chart),
        |root| draw_bars(root, chart),
    )
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The title and subtitle; returns the area below them.
fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(err)?;
    let (w, _) = root.dim_in_pixel();
    let title_style = TextStyle::from((FAMILY, 30).into_font()).color(&BLACK);
    root.draw(&Text::new(title.to_owned(), (20, 14), title_style))
        .map_err(err)?;
    let mut top = 54;
    if !subtitle.is_empty() {
        let style = TextStyle::from((FAMILY, 17).into_font()).color(&RGBColor(80, 80, 80));
        root.draw(&Text::new(subtitle.to_owned(), (20, 52), style))
            .map_err(err)?;
        top = 80;
    }
    let _ = w;
    Ok(root.split_vertically(top).1)
}

fn transform(axis: &Axis, v: f64) -> Option<f64> {
    if !v.is_finite() {
        return None;
    }
    if axis.log {
        (v > 0.0).then(|| v.log10())
    } else {
        Some(v)
    }
}

/// The drawn range of transformed values `lo..hi`.
fn range(axis: &Axis, values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if axis.log {
        return (
            lo.floor().min(hi - 1.0).max(lo - 1.0),
            hi.ceil().max(lo + 1.0),
        );
    }
    if lo >= 0.0 && lo <= 0.3 * hi {
        lo = 0.0;
    }
    if hi - lo < 1e-12 * hi.abs().max(1.0) {
        let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.05 };
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.06;
    (if lo == 0.0 { 0.0 } else { lo - pad }, hi + pad)
}

/// `points` (in drawing coordinates, in order of x) reduced to about
/// [`MAX_POINTS`]: the first, lowest, highest and last point of each of
/// `MAX_POINTS / 4` equal slices of the x range, so peaks survive. Slices
/// of x, not runs of as many points: a step series whose first event comes
/// late (requests in flight under `semaphore_in_task` with CPU costs, the
/// first start at 1.5 s) was drawn as a ramp from 0, its corner thinned
/// away with the other points of the same run; a slice is too narrow to
/// show such a slope.
fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let buckets = MAX_POINTS / 4;
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.0), hi.max(p.0))
        });
    let width = (hi - lo) / buckets as f64;
    let slice = |x: f64| {
        if width > 0.0 {
            (((x - lo) / width) as usize).min(buckets - 1)
        } else {
            0
        }
    };
    let mut out = Vec::with_capacity(MAX_POINTS);
    let mut rest = points;
    while let Some(&first) = rest.first() {
        let k = slice(first.0);
        let len = rest
            .iter()
            .position(|p| slice(p.0) != k)
            .unwrap_or(rest.len());
        let (chunk, tail) = rest.split_at(len);
        rest = tail;
        let last = chunk[chunk.len() - 1];
        let min = chunk
            .iter()
            .copied()
            .fold(first, |a, p| if p.1 < a.1 { p } else { a });
        let max = chunk
            .iter()
            .copied()
            .fold(first, |a, p| if p.1 > a.1 { p } else { a });
        let mut four = [first, min, max, last];
        four.sort_by(|a, b| a.0.total_cmp(&b.0));
        for p in four {
            if out.last() != Some(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// The label of the first series before `series[j]` drawn on exactly the
/// same points, which `series[j]` hides: the legend says so (in a sweep
/// chart, `gated_spawn` was invisible under `sliding_window` while the
/// legend listed both; found by a review).
fn same_as(series: &[Prepared], j: usize) -> Option<&str> {
    let s = &series[j];
    if s.points.is_empty() {
        return None;
    }
    series[..j]
        .iter()
        .find(|earlier| earlier.points == s.points)
        .map(|earlier| earlier.label.as_str())
}

fn ticks(axis: &Axis, (lo, hi): (f64, f64)) -> usize {
    if axis.log {
        ((hi - lo).round() as usize + 1).clamp(2, 12)
    } else {
        8
    }
}

fn label(axis: &Axis, v: f64) -> String {
    if axis.log {
        axis.unit.tick(10f64.powf(v))
    } else {
        axis.unit.tick(v)
    }
}

/// Transformed copy of a series: its points and band polygon.
struct Prepared {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
    band: Vec<(f64, f64)>,
    markers: bool,
}

fn prepare(x: &Axis, y: &Axis, s: &Series) -> Prepared {
    let t = |(a, b): (f64, f64)| Some((transform(x, a)?, transform(y, b)?));
    let points: Vec<(f64, f64)> = s.points.iter().filter_map(|&p| t(p)).collect();
    let mut band = Vec::new();
    if let Some(b) = &s.band {
        let upper: Vec<(f64, f64)> = b.iter().filter_map(|&(a, _, h)| t((a, h))).collect();
        let lower: Vec<(f64, f64)> = b.iter().filter_map(|&(a, l, _)| t((a, l))).collect();
        if upper.len() == b.len() && lower.len() == b.len() {
            band = upper;
            band.extend(lower.into_iter().rev());
        }
    }
    Prepared {
        label: s.label.clone(),
        color: color(s.color),
        points: thin(&points),
        band,
        markers: s.markers,
    }
}

/// Sizes of a legend box, in pixels.
const LEGEND: legend::Metrics = legend::Metrics {
    font: 16,
    margin: 12,
    sample: 30,
    gap: 10,
};

/// Space above a panel's plot, in pixels.
const PANEL_TOP: u32 = 12;

/// The size of `text` in pixels, in the chart font at `size` pixels.
fn text_size(text: &str, size: u32) -> (u32, u32) {
    (FAMILY, size)
        .into_font()
        .box_size(text)
        // Not reached: the font is compiled in (tested). An estimate.
        .unwrap_or((text.chars().count() as u32 * size * 3 / 5, size))
}

/// A legend entry: a line's label and colour.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    label: String,
    color: RGBColor,
}

/// The legend entries of a panel's lines, in drawing order.
fn entries(series: &[Prepared]) -> Vec<Entry> {
    (0..series.len())
        .map(|j| Entry {
            label: match same_as(series, j) {
                Some(first) => format!("{} (= {first})", series[j].label),
                None => series[j].label.clone(),
            },
            color: series[j].color,
        })
        .collect()
}

fn labels(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.label.clone()).collect()
}

/// The chart of one panel on `area`, nothing drawn yet.
fn panel_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: (f64, f64),
    y: (f64, f64),
    last: bool,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>, String> {
    ChartBuilder::on(area)
        .margin_left(15)
        .margin_right(30)
        .margin_top(PANEL_TOP)
        .margin_bottom(if last { 8 } else { 4 })
        .x_label_area_size(if last { 55 } else { 28 })
        .y_label_area_size(95)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)
        .map_err(err)
}

/// What the panels of a chart share: the chart, its x range, and per
/// panel the prepared lines, y range, legend entries and whether it has a
/// legend.
struct Layout<'c> {
    chart: &'c Panels,
    x_range: (f64, f64),
    series: Vec<Vec<Prepared>>,
    y_ranges: Vec<(f64, f64)>,
    entries: Vec<Vec<Entry>>,
    legends: Vec<bool>,
}

impl Layout<'_> {
    /// Where each panel's legend goes inside its plot on `areas` (`None`
    /// for a panel without one), or `None` if some legend has no position
    /// free of data.
    fn inside<DB: DrawingBackend>(
        &self,
        areas: &[DrawingArea<DB, Shift>],
    ) -> Result<Option<Vec<Option<SeriesLabelPosition>>>, String> {
        let measure = |t: &str| text_size(t, LEGEND.font);
        let mut positions = Vec::with_capacity(areas.len());
        for (i, area) in areas.iter().enumerate().take(self.series.len()) {
            if !self.legends[i] {
                positions.push(None);
                continue;
            }
            let last = i + 1 == areas.len();
            let c = panel_chart(area, self.x_range, self.y_ranges[i], last)?;
            let size = legend::inside_size(&labels(&self.entries[i]), &LEGEND, &measure);
            let series = &self.series[i];
            let lines: Vec<&[(f64, f64)]> = series.iter().map(|s| s.points.as_slice()).collect();
            let bands: Vec<&[(f64, f64)]> = series.iter().map(|s| s.band.as_slice()).collect();
            let plot = c.plotting_area().dim_in_pixel();
            match legend::legend_corner(&lines, &bands, self.x_range, self.y_ranges[i], plot, size)
            {
                Some(p) => positions.push(Some(p)),
                None => return Ok(None),
            }
        }
        Ok(Some(positions))
    }

    /// One panel on `area`: its grid, bands, lines and markers, and its
    /// legend inside the plot at `legend`, if given.
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        i: usize,
        last: bool,
        legend: Option<SeriesLabelPosition>,
    ) -> Result<(), String> {
        let (chart, x_range, y_range) = (self.chart, self.x_range, self.y_ranges[i]);
        let (panel, series) = (&chart.panels[i], &self.series[i]);
        let n = chart.panels.len();
        let mut c = panel_chart(area, x_range, y_range, last)?;
        let x_fmt = |v: &f64| label(&chart.x, *v);
        let y_fmt = |v: &f64| label(&panel.y, *v);
        let mut mesh = c.configure_mesh();
        mesh.x_labels(ticks(&chart.x, x_range))
            .y_labels(ticks(&panel.y, y_range).min(if n > 2 { 5 } else { 8 }))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .y_desc(panel.y.label.as_str())
            .axis_desc_style((FAMILY, 18).into_font())
            .label_style((FAMILY, 15).into_font())
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215));
        if last {
            mesh.x_desc(chart.x.label.as_str());
        }
        mesh.draw().map_err(err)?;
        for s in series {
            if s.band.len() > 2 {
                c.draw_series(std::iter::once(Polygon::new(
                    s.band.clone(),
                    s.color.mix(0.18).filled(),
                )))
                .map_err(err)?;
            }
        }
        for (s, entry) in series.iter().zip(&self.entries[i]) {
            let color = s.color;
            // Wide strokes draw long miter spikes where a dense line turns
            // back on itself: dense series get a hairline.
            let width = if s.points.len() > 1000 { 1 } else { 2 };
            c.draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(width),
            ))
            .map_err(err)?
            .label(entry.label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
            if s.markers {
                c.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(err)?;
            }
        }
        if let Some(position) = legend {
            c.configure_series_labels()
                .position(position)
                .background_style(WHITE.mix(0.9))
                .border_style(RGBColor(180, 180, 180))
                .label_font((FAMILY, LEGEND.font).into_font())
                .legend_area_size(LEGEND.sample)
                .margin(LEGEND.margin)
                .draw()
                .map_err(err)?;
        }
        Ok(())
    }

    /// The panels on `body` with their legends in a strip right of them or
    /// below them, for when some legend has no free position inside its
    /// plot. A legend is drawn for the first panel with one, and for each
    /// later panel whose entries differ from the last legend's; on the
    /// right, each next to its panel.
    fn outside<DB: DrawingBackend>(&self, body: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let n = self.chart.panels.len().max(1);
        let (w, h) = body.dim_in_pixel();
        let mut shown: Vec<usize> = Vec::new();
        for i in 0..self.series.len() {
            if self.legends[i]
                && shown
                    .last()
                    .is_none_or(|&k| self.entries[k] != self.entries[i])
            {
                shown.push(i);
            }
        }
        // The top of each panel in the body (the strip takes no height
        // from the panels on the right).
        let top = |i: usize| (i as u64 * u64::from(h) / n as u64) as u32 + PANEL_TOP;
        let texts: Vec<Vec<String>> = shown.iter().map(|&i| labels(&self.entries[i])).collect();
        let legends: Vec<(&[String], u32)> = shown
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let end = shown.get(k + 1).map_or(h, |&next| top(next) - PANEL_TOP);
                (texts[k].as_slice(), end.saturating_sub(top(i) + LEGEND.gap))
            })
            .collect();
        let measure = |t: &str| text_size(t, LEGEND.font);
        let strip = legend::strip((w, h), &legends, &LEGEND, &measure);
        let (plots, room) = match strip.side {
            Side::Right => body.split_horizontally(w.saturating_sub(strip.thickness)),
            Side::Below => body.split_vertically(h.saturating_sub(strip.thickness)),
        };
        let areas = plots.split_evenly((n, 1));
        for (i, area) in areas.iter().enumerate().take(self.series.len()) {
            self.panel(area, i, i + 1 == n, None)?;
        }
        let mut below = LEGEND.gap as i32;
        for (block, &i) in strip.blocks.iter().zip(&shown) {
            let at = match strip.side {
                Side::Right => (0, top(i) as i32),
                Side::Below => {
                    let x = (room.dim_in_pixel().0.saturating_sub(block.size.0) / 2) as i32;
                    let at = (x, below);
                    below += (block.size.1 + LEGEND.gap) as i32;
                    at
                }
            };
            legend_box(&room, at, block, &self.entries[i])?;
        }
        Ok(())
    }
}

/// A legend laid out outside the plots (see [`legend::strip`]), its top
/// left corner at `at` in `area`; it looks like the legends plotters draws
/// inside them.
fn legend_box<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    block: &legend::Block,
    entries: &[Entry],
) -> Result<(), String> {
    let m = LEGEND;
    let corner = (at.0 + block.size.0 as i32, at.1 + block.size.1 as i32);
    area.draw(&Rectangle::new([at, corner], WHITE.filled()))
        .map_err(err)?;
    area.draw(&Rectangle::new([at, corner], RGBColor(180, 180, 180)))
        .map_err(err)?;
    let style = TextStyle::from((FAMILY, m.font).into_font()).color(&BLACK);
    let step = (m.sample + block.column_width + m.gap) as i32;
    for (k, (lines, entry)) in block.lines.iter().zip(entries).enumerate() {
        let (row, column) = (k / block.columns, k % block.columns);
        let x = at.0 + m.margin as i32 + column as i32 * step;
        let y = at.1 + block.row_tops[row] as i32;
        // As plotters does: the sample across the middle of the first
        // line's text.
        let first = lines.first().map_or("", String::as_str);
        let middle = y + text_size(first, m.font).1 as i32 / 2;
        area.draw(&PathElement::new(
            vec![(x, middle), (x + 24, middle)],
            entry.color.stroke_width(3),
        ))
        .map_err(err)?;
        for (j, line) in lines.iter().enumerate() {
            let y = y + j as i32 * m.line() as i32;
            area.draw(&Text::new(
                line.clone(),
                (x + m.sample as i32, y),
                style.clone(),
            ))
            .map_err(err)?;
        }
    }
    Ok(())
}

impl<'c> Layout<'c> {
    /// The layout of `chart`; `None` if it has no point to draw.
    fn of(chart: &'c Panels) -> Option<Layout<'c>> {
        let series: Vec<Vec<Prepared>> = chart
            .panels
            .iter()
            .map(|p| {
                p.series
                    .iter()
                    .map(|s| prepare(&chart.x, &p.y, s))
                    .collect()
            })
            .collect();
        if series.iter().flatten().all(|s| s.points.is_empty()) {
            return None;
        }
        let x_range = range(
            &chart.x,
            series
                .iter()
                .flatten()
                .flat_map(|s| s.points.iter().map(|p| p.0)),
        );
        Some(Layout {
            chart,
            x_range,
            y_ranges: chart
                .panels
                .iter()
                .zip(&series)
                .map(|(panel, series)| {
                    range(
                        &panel.y,
                        series
                            .iter()
                            .flat_map(|s| s.points.iter().chain(&s.band).map(|p| p.1)),
                    )
                })
                .collect(),
            entries: series.iter().map(|s| entries(s)).collect(),
            legends: series
                .iter()
                .enumerate()
                .map(|(i, s)| s.iter().any(|s| !s.label.is_empty()) && (i == 0 || s.len() > 1))
                .collect(),
            series,
        })
    }

    /// The panels, stacked on `body`, with their legends inside the plots
    /// if every legend has a position there free of data, else outside.
    fn draw<DB: DrawingBackend>(&self, body: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let n = self.chart.panels.len();
        let areas = body.split_evenly((n, 1));
        match self.inside(&areas)? {
            Some(positions) => {
                for (i, position) in positions.into_iter().enumerate() {
                    self.panel(&areas[i], i, i + 1 == n, position)?;
                }
                Ok(())
            }
            None => self.outside(body),
        }
    }
}

fn draw_panels<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    chart: &Panels,
) -> Result<(), String> {
    let body = header(&root, &chart.title, &chart.subtitle)?;
    match Layout::of(chart) {
        Some(layout) => layout.draw(&body)?,
        None => {
            let style = TextStyle::from((FAMILY, 24).into_font()).color(&RGBColor(120, 120, 120));
            body.draw(&Text::new("no data to plot", (40, 40), style))
                .map_err(err)?;
            return Ok(());
        }
    }
    root.present().map_err(err)
}

fn draw_bars<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, chart: &Bars) -> Result<(), String> {
    let body = header(&root, &chart.title, &chart.subtitle)?;
    let values: Vec<f64> = chart
        .bars
        .iter()
        .filter_map(|b| transform(&chart.y, b.2))
        .collect();
    if values.is_empty() {
        let style = TextStyle::from((FAMILY, 24).into_font()).color(&RGBColor(120, 120, 120));
        body.draw(&Text::new("no data to plot", (40, 40), style))
            .map_err(err)?;
        return Ok(());
    }
    let (lo, hi) = range(&chart.y, values.iter().copied());
    let top = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let hi = if chart.y.log { top + 0.25 } else { hi * 1.08 };
    let n = chart.bars.len() as u32;
    let mut c = ChartBuilder::on(&body)
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(100)
        .build_cartesian_2d((0..n.saturating_sub(1)).into_segmented(), lo..hi)
        .map_err(err)?;
    let names: Vec<String> = chart.bars.iter().map(|b| b.0.clone()).collect();
    let x_fmt = |v: &SegmentValue<u32>| match v {
        SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let y_fmt = |v: &f64| label(&chart.y, *v);
    c.configure_mesh()
        .disable_x_mesh()
        .x_labels(n as usize)
        .x_label_formatter(&x_fmt)
        .y_labels(ticks(&chart.y, (lo, hi)))
        .y_label_formatter(&y_fmt)
        .y_desc(chart.y.label.as_str())
        .axis_desc_style((FAMILY, 18).into_font())
        .label_style((FAMILY, 16).into_font())
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(err)?;
    for (i, (_, color_index, value)) in chart.bars.iter().enumerate() {
        let Some(v) = transform(&chart.y, *value) else {
            continue;
        };
        let i = i as u32;
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i), lo),
                (SegmentValue::Exact(i + 1), v),
            ],
            color(*color_index).filled(),
        );
        bar.set_margin(0, 0, 40, 40);
        c.draw_series(std::iter::once(bar)).map_err(err)?;
        let text = chart.y.unit.tick(*value);
        let style = TextStyle::from((FAMILY, 17).into_font()).color(&BLACK).pos(
            plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Bottom,
            ),
        );
        c.draw_series(std::iter::once(Text::new(
            text,
            (SegmentValue::CenterOf(i), v + (hi - lo) * 0.01),
            style,
        )))
        .map_err(err)?;
    }
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::StrategyKind;

    #[test]
    fn thinning_keeps_peaks_and_order() {
        let mut pts: Vec<(f64, f64)> = (0..100_000).map(|i| (i as f64, 1.0)).collect();
        pts[54_321].1 = 99.0;
        let t = thin(&pts);
        assert!(t.len() <= MAX_POINTS);
        assert!(t.iter().any(|p| p.1 == 99.0));
        assert!(t.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(t.first(), pts.first());
        assert_eq!(t.last(), pts.last());
    }

    #[test]
    fn a_line_drawn_over_an_identical_one_names_it() {
        let prepared = |label: &str, points: Vec<(f64, f64)>| Prepared {
            label: label.to_owned(),
            color: RGBColor(0, 0, 0),
            points,
            band: Vec::new(),
            markers: false,
        };
        let a = vec![(1.0, 2.0), (2.0, 3.0)];
        let series = [
            prepared("gated_spawn", a.clone()),
            prepared("worker_pool", vec![(1.0, 2.0), (2.0, 4.0)]),
            prepared("sliding_window", a),
            prepared("none", Vec::new()),
            prepared("empty", Vec::new()),
        ];
        assert_eq!(same_as(&series, 0), None);
        assert_eq!(same_as(&series, 1), None);
        assert_eq!(same_as(&series, 2), Some("gated_spawn"));
        assert_eq!(same_as(&series, 4), None, "nothing drawn, nothing hidden");
    }

    #[test]
    fn thinning_keeps_a_late_step_square() {
        // Nothing in flight until x = 1.5, then 10,000 events within 0.01.
        let mut pts = vec![(0.0, 0.0)];
        for i in 0..10_000 {
            let x = 1.5 + i as f64 * 1e-6;
            pts.push((x, i as f64));
            pts.push((x, i as f64 + 1.0));
        }
        pts.push((10.0, 0.0));
        let t = thin(&pts);
        assert!(t.len() <= MAX_POINTS, "{}", t.len());
        // The corner survives: nothing above 0 before 1.5.
        let corner = t.iter().position(|p| p.1 > 0.0).unwrap();
        assert!(
            t[corner - 1].0 >= 1.5 && t[corner - 1].1 == 0.0,
            "{:?}",
            &t[..3]
        );
        assert_eq!(t.iter().map(|p| p.1).fold(0.0, f64::max), 10_000.0);
    }

    /// A one-panel chart of `lines`, one series each, on a 0-100 range.
    fn chart_of(lines: Vec<Vec<(f64, f64)>>) -> Panels {
        let names = StrategyKind::ALL.iter().map(|k| k.name());
        Panels {
            title: "legend".to_owned(),
            subtitle: String::new(),
            x: Axis::linear("x", super::super::Unit::Plain),
            panels: vec![super::super::Panel {
                y: Axis::linear("y", super::super::Unit::Plain),
                series: lines
                    .into_iter()
                    .zip(names)
                    .enumerate()
                    .map(|(color, (points, name))| Series {
                        label: name.to_owned(),
                        color,
                        points,
                        band: None,
                        markers: false,
                    })
                    .collect(),
            }],
        }
    }

    /// Where `chart`'s legends go inside its plots on a 1200x800 canvas,
    /// `None` for outside them.
    fn inside_on_1200x800(chart: &Panels) -> Option<Vec<Option<SeriesLabelPosition>>> {
        register_font();
        let layout = Layout::of(chart).unwrap();
        let mut rgb = vec![255u8; 1200 * 800 * 3];
        let root = BitMapBackend::with_buffer(&mut rgb, (1200, 800)).into_drawing_area();
        let body = header(&root, &chart.title, &chart.subtitle).unwrap();
        let areas = body.split_evenly((chart.panels.len(), 1));
        layout.inside(&areas).unwrap()
    }

    #[test]
    fn eight_lines_zigzagging_over_the_whole_plot_push_the_legend_outside() {
        // Each line from the left edge to the right one, between the bottom
        // and the top 20 times, each a little right of the last: no box of
        // the legend's size is free of data.
        let zigzag = |k: usize| -> Vec<(f64, f64)> {
            (0..=40)
                .map(|i| {
                    let x = (i as f64 * 2.5 + k as f64 * 0.3).min(100.0);
                    (
                        x,
                        if (i + k).is_multiple_of(2) {
                            0.0
                        } else {
                            100.0
                        },
                    )
                })
                .collect()
        };
        let chart = chart_of((0..8).map(zigzag).collect());
        assert_eq!(inside_on_1200x800(&chart), None);
    }

    #[test]
    fn a_chart_with_a_free_corner_keeps_its_legend_inside() {
        // Eight lines in the lower half: the upper corners are free.
        let flat = |k: usize| -> Vec<(f64, f64)> {
            (0..=10)
                .map(|i| (f64::from(i) * 10.0, k as f64 * 5.0 + f64::from(i % 2)))
                .collect()
        };
        let mut lines: Vec<Vec<(f64, f64)>> = (0..8).map(flat).collect();
        // The top of the range, at the far right.
        lines[0].push((100.0, 100.0));
        assert_eq!(
            inside_on_1200x800(&chart_of(lines)),
            Some(vec![Some(SeriesLabelPosition::UpperLeft)])
        );
    }

    #[test]
    fn log_ranges_cover_whole_decades() {
        let a = Axis::log("x", super::super::Unit::Bytes);
        let (lo, hi) = range(&a, [5.9, 8.2].into_iter());
        assert_eq!((lo, hi), (5.0, 9.0));
    }
}

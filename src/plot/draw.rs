//! Rendering [`Panels`] and [`Bars`] with plotters, to PNG or SVG.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

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

/// The legend position whose box (about 30% of the width, 32% of the
/// height) covers the fewest points; ties go to the upper corners.
fn legend_corner(points: &[(f64, f64)], x: (f64, f64), y: (f64, f64)) -> SeriesLabelPosition {
    let nx = |v: f64| (v - x.0) / (x.1 - x.0).max(1e-300);
    let ny = |v: f64| (v - y.0) / (y.1 - y.0).max(1e-300);
    let inside = |(x0, x1): (f64, f64), (y0, y1): (f64, f64)| {
        points
            .iter()
            .filter(|p| {
                let (a, b) = (nx(p.0), ny(p.1));
                a >= x0 && a <= x1 && b >= y0 && b <= y1
            })
            .count()
    };
    let (left, right) = ((0.0, 0.32), (0.68, 1.0));
    let (upper, middle, lower) = ((0.66, 1.0), (0.33, 0.67), (0.0, 0.34));
    let candidates = [
        (inside(right, upper), SeriesLabelPosition::UpperRight),
        (inside(left, upper), SeriesLabelPosition::UpperLeft),
        (inside(right, lower), SeriesLabelPosition::LowerRight),
        (inside(left, lower), SeriesLabelPosition::LowerLeft),
        (inside(right, middle), SeriesLabelPosition::MiddleRight),
        (inside(left, middle), SeriesLabelPosition::MiddleLeft),
    ];
    candidates
        .into_iter()
        .min_by_key(|(n, _)| *n)
        .map(|(_, p)| p)
        .unwrap_or(SeriesLabelPosition::UpperLeft)
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

fn draw_panels<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    chart: &Panels,
) -> Result<(), String> {
    let body = header(&root, &chart.title, &chart.subtitle)?;
    let prepared: Vec<Vec<Prepared>> = chart
        .panels
        .iter()
        .map(|p| {
            p.series
                .iter()
                .map(|s| prepare(&chart.x, &p.y, s))
                .collect()
        })
        .collect();
    let x_range = range(
        &chart.x,
        prepared
            .iter()
            .flatten()
            .flat_map(|s| s.points.iter().map(|p| p.0)),
    );
    let n = chart.panels.len().max(1);
    let areas = body.split_evenly((n, 1));
    let axis_font = (FAMILY, 18).into_font();
    let tick_font = (FAMILY, 15).into_font();
    if prepared
        .iter()
        .all(|p| p.iter().all(|s| s.points.is_empty()))
    {
        let style = TextStyle::from((FAMILY, 24).into_font()).color(&RGBColor(120, 120, 120));
        body.draw(&Text::new("no data to plot", (40, 40), style))
            .map_err(err)?;
        return Ok(());
    }
    for (i, (panel, series)) in chart.panels.iter().zip(&prepared).enumerate() {
        let area = &areas[i];
        let last = i + 1 == n;
        let y_range = range(
            &panel.y,
            series
                .iter()
                .flat_map(|s| s.points.iter().chain(&s.band).map(|p| p.1)),
        );
        let mut c = ChartBuilder::on(area)
            .margin_left(15)
            .margin_right(30)
            .margin_top(12)
            .margin_bottom(if last { 8 } else { 4 })
            .x_label_area_size(if last { 55 } else { 28 })
            .y_label_area_size(95)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(err)?;
        let x_fmt = |v: &f64| label(&chart.x, *v);
        let y_fmt = |v: &f64| label(&panel.y, *v);
        let mut mesh = c.configure_mesh();
        mesh.x_labels(ticks(&chart.x, x_range))
            .y_labels(ticks(&panel.y, y_range).min(if n > 2 { 5 } else { 8 }))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .y_desc(panel.y.label.as_str())
            .axis_desc_style(axis_font.clone())
            .label_style(tick_font.clone())
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
        for (j, s) in series.iter().enumerate() {
            let color = s.color;
            // Wide strokes draw long miter spikes where a dense line turns
            // back on itself: dense series get a hairline.
            let width = if s.points.len() > 1000 { 1 } else { 2 };
            let label = match same_as(series, j) {
                Some(first) => format!("{} (= {first})", s.label),
                None => s.label.clone(),
            };
            c.draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(width),
            ))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
            if s.markers {
                c.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(err)?;
            }
        }
        if series.iter().any(|s| !s.label.is_empty()) && (i == 0 || series.len() > 1) {
            // Lines cross corners between their points: sample each segment.
            let all: Vec<(f64, f64)> = series
                .iter()
                .flat_map(|s| {
                    s.points.windows(2).flat_map(|w| {
                        (0..16).map(move |k| {
                            let t = f64::from(k) / 16.0;
                            (
                                w[0].0 + (w[1].0 - w[0].0) * t,
                                w[0].1 + (w[1].1 - w[0].1) * t,
                            )
                        })
                    })
                })
                .chain(series.iter().flat_map(|s| s.points.last().copied()))
                .collect();
            c.configure_series_labels()
                .position(legend_corner(&all, x_range, y_range))
                .background_style(WHITE.mix(0.9))
                .border_style(RGBColor(180, 180, 180))
                .label_font((FAMILY, 16).into_font())
                .margin(12)
                .draw()
                .map_err(err)?;
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

    #[test]
    fn log_ranges_cover_whole_decades() {
        let a = Axis::log("x", super::super::Unit::Bytes);
        let (lo, hi) = range(&a, [5.9, 8.2].into_iter());
        assert_eq!((lo, hi), (5.0, 9.0));
    }
}

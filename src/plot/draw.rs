//! Rendering [`Panels`] and [`Bars`] with plotters, to PNG or SVG: the
//! entry points, which draw into memory and write the file atomically, and
//! what line and bar charts share: the compiled-in font, the palette, the
//! title and subtitle above the plots, and values transformed onto an axis
//! and the range drawn for them.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::bars::draw_bars;
use super::legend;
use super::look::{Look, text_size};
use super::panels::draw_panels;
use super::{Axis, Bars, Canvas, ImageFormat, Panels, PlotError};
use crate::output;

/// DejaVu Sans, compiled in (licence: `assets/fonts/DejaVuSans.LICENSE`).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub(super) const FAMILY: &str = "sans-serif";

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

pub(super) fn register_font() {
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
    let size = (
        canvas.width.max(super::SMALLEST.0),
        canvas.height.max(super::SMALLEST.1),
    );
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

pub(super) fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// `lines` of text in `style` drawn from `(x, y)` down, each `step` pixels
/// below the last; returns the y a step below the last.
fn lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    lines: &[String],
    (x, y): (i32, i32),
    style: &TextStyle,
    step: i32,
) -> Result<i32, String> {
    for (k, line) in lines.iter().enumerate() {
        root.draw(&Text::new(
            line.clone(),
            (x, y + k as i32 * step),
            style.clone(),
        ))
        .map_err(err)?;
    }
    Ok(y + lines.len() as i32 * step)
}

/// The title and subtitle, each wrapped to the canvas's width; returns
/// the area below them.
pub(super) fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    look: Look,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(err)?;
    let (w, _) = root.dim_in_pixel();
    let left = look.px(20).max(4);
    let width = w.saturating_sub(2 * left);
    let size = look.title();
    let measure = |t: &str| text_size(t, size);
    let title_lines = legend::wrap(title, width, &measure);
    let style = TextStyle::from((FAMILY, size).into_font()).color(&BLACK);
    // At 1200x800: the title at 14, the subtitle at 52, the plots at 80
    // (54 without a subtitle).
    let step = (f64::from(size) * 1.15).round() as i32;
    let x = left as i32;
    let bottom = lines(root, &title_lines, (x, look.px(14) as i32), &style, step)?;
    let bottom = bottom - step + size as i32;
    let mut top = bottom + look.px(10) as i32;
    if !subtitle.is_empty() {
        let size = look.text(17);
        let measure = |t: &str| text_size(t, size);
        let style = TextStyle::from((FAMILY, size).into_font()).color(&RGBColor(80, 80, 80));
        let step = (f64::from(size) * 1.2).round() as i32;
        let sub_lines = legend::wrap(subtitle, width, &measure);
        let y = bottom + look.px(8) as i32;
        let end = lines(root, &sub_lines, (x, y), &style, step)?;
        top = end - step + size as i32 + look.px(11) as i32;
    }
    Ok(root.split_vertically(top).1)
}

pub(super) fn transform(axis: &Axis, v: f64) -> Option<f64> {
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
pub(super) fn range(axis: &Axis, values: impl Iterator<Item = f64>) -> (f64, f64) {
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

/// "no data to plot" on `body`.
pub(super) fn no_data<DB: DrawingBackend>(
    body: &DrawingArea<DB, Shift>,
    look: Look,
) -> Result<(), String> {
    let style =
        TextStyle::from((FAMILY, look.text(24)).into_font()).color(&RGBColor(120, 120, 120));
    let at = look.px(40) as i32;
    body.draw(&Text::new("no data to plot", (at, at), style))
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ranges_cover_whole_decades() {
        let a = Axis::log("x", super::super::Unit::Bytes);
        let (lo, hi) = range(&a, [5.9, 8.2].into_iter());
        assert_eq!((lo, hi), (5.0, 9.0));
    }
}

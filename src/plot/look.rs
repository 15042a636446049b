//! How a chart looks on its canvas: the design's sizes of text, margins
//! and label areas scaled to the canvas, text measured in the chart font,
//! and axes given as many ticks as their labels have room for.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::Axis;
use super::draw::FAMILY;
use super::legend;

/// The smallest text drawn, in pixels: smaller is hard to read.
const LEAST_TEXT: u32 = 10;

/// Sizes of text, margins and label areas on one canvas: the sizes of the
/// design for 1200x800, scaled down with a smaller canvas (never up, so
/// that larger charts keep them), but no text smaller than [`LEAST_TEXT`]
/// pixels; the label areas grow to what their text needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Look {
    scale: f64,
}

impl Look {
    /// The look of a canvas of `size` pixels.
    pub(super) fn of((w, h): (u32, u32)) -> Look {
        Look {
            scale: (f64::from(w) / 1200.0).min(f64::from(h) / 800.0).min(1.0),
        }
    }

    /// A length of `design` pixels at 1200x800.
    pub(super) fn px(self, design: u32) -> u32 {
        (f64::from(design) * self.scale).round() as u32
    }

    /// A text size of `design` pixels at 1200x800.
    pub(super) fn text(self, design: u32) -> u32 {
        self.px(design).max(LEAST_TEXT)
    }

    /// The title's size: a little larger than any other text.
    pub(super) fn title(self) -> u32 {
        self.px(30).max(LEAST_TEXT + 4)
    }

    /// Axis descriptions.
    pub(super) fn axis(self) -> u32 {
        self.text(18)
    }

    /// Tick labels.
    pub(super) fn tick(self) -> u32 {
        self.text(15)
    }

    /// Legend boxes.
    pub(super) fn legend(self) -> legend::Metrics {
        legend::Metrics {
            font: self.text(16),
            margin: self.px(12).max(3),
            sample: self.px(30).max(18),
            gap: self.px(10).max(3),
        }
    }

    /// The length of a legend's line sample.
    pub(super) fn sample_line(self) -> i32 {
        self.px(24).max(14) as i32
    }
}

/// The size of `text` in pixels, in the chart font at `size` pixels.
pub(super) fn text_size(text: &str, size: u32) -> (u32, u32) {
    (FAMILY, size)
        .into_font()
        .box_size(text)
        // Not reached: the font is compiled in (tested). An estimate.
        .unwrap_or((text.chars().count() as u32 * size * 3 / 5, size))
}

pub(super) fn ticks(axis: &Axis, (lo, hi): (f64, f64)) -> usize {
    if axis.log {
        ((hi - lo).round() as usize + 1).clamp(2, 12)
    } else {
        8
    }
}

pub(super) fn label(axis: &Axis, v: f64) -> String {
    if axis.log {
        axis.unit.tick(10f64.powf(v))
    } else {
        axis.unit.tick(v)
    }
}

/// The values plotters puts ticks at on `range` when asked for at most
/// `n` of them.
fn key_points(range: (f64, f64), n: usize) -> Vec<f64> {
    RangedCoordf64::from(range.0..range.1).key_points(n)
}

/// The most ticks, at most `design`, whose labels on an axis of `length`
/// pixels keep at least `gap` pixels between them: `horizontal` labels are
/// as wide as their text, vertical ones as high.
pub(super) fn fitting_ticks(
    axis: &Axis,
    range: (f64, f64),
    design: usize,
    length: u32,
    (size, gap): (u32, u32),
    horizontal: bool,
) -> usize {
    let extent = |v: f64| {
        let (w, h) = text_size(&label(axis, v), size);
        f64::from(if horizontal { w } else { h })
    };
    let scale = f64::from(length) / (range.1 - range.0).max(1e-300);
    (2..=design.max(2))
        .rev()
        .find(|&n| {
            key_points(range, n).windows(2).all(|p| {
                (p[1] - p[0]).abs() * scale >= (extent(p[0]) + extent(p[1])) / 2.0 + f64::from(gap)
            })
        })
        .unwrap_or(2)
}

/// The widest tick label of `axis` at the ticks plotters draws on `range`
/// for `n`, in pixels.
pub(super) fn widest_tick(axis: &Axis, range: (f64, f64), n: usize, size: u32) -> u32 {
    key_points(range, n)
        .into_iter()
        .map(|v| text_size(&label(axis, v), size).0)
        .max()
        .unwrap_or(0)
}

/// `desc` without its parenthesised unit if the whole is longer than
/// `room` pixels at `size` (the tick labels carry the unit): on a small
/// canvas, the y axes of stacked panels would write over each other.
pub(super) fn fitted_desc(desc: &str, size: u32, room: u32) -> String {
    match desc.rfind(" (") {
        Some(k) if desc.ends_with(')') && text_size(desc, size).0 > room => desc[..k].to_owned(),
        _ => desc.to_owned(),
    }
}

/// plotters draws tick labels twice a tick's length (5 pixels) from the
/// axis.
pub(super) const LABEL_DISTANCE: u32 = 10;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::draw::register_font;

    #[test]
    fn sizes_are_the_design_at_1200x800_and_scale_down_not_up() {
        let design = Look::of((1200, 800));
        assert_eq!((design.title(), design.axis(), design.tick()), (30, 18, 15));
        assert_eq!(design.px(95), 95);
        assert_eq!(Look::of((2400, 1600)), design);
        // Half the height: half the sizes, but no text under LEAST_TEXT.
        let small = Look::of((1200, 400));
        assert_eq!(small.px(30), 15);
        assert_eq!(small.tick(), LEAST_TEXT);
        assert_eq!(Look::of((400, 300)).title(), LEAST_TEXT + 4);
    }

    #[test]
    fn ticks_thin_out_until_their_labels_fit() {
        register_font();
        let axis = Axis::linear("t", super::super::Unit::Seconds);
        let range = (0.0, 40.0);
        assert_eq!(fitting_ticks(&axis, range, 8, 1000, (15, 15), true), 8);
        let few = fitting_ticks(&axis, range, 8, 100, (10, 10), true);
        assert!(few < 8, "{few}");
        // Each pair of neighbouring labels has room, at the count chosen.
        let points = key_points(range, few);
        assert!(points.len() >= 2, "{points:?}");
        let scale = 100.0 / 40.0;
        for p in points.windows(2) {
            let widths: u32 = p.iter().map(|&v| text_size(&label(&axis, v), 10).0).sum();
            assert!(
                (p[1] - p[0]) * scale >= f64::from(widths) / 2.0 + 10.0,
                "{p:?}"
            );
        }
    }

    #[test]
    fn a_y_description_too_long_for_its_panel_loses_its_unit() {
        register_font();
        let long = "simulated memory (bytes)";
        assert_eq!(fitted_desc(long, 18, 500), long);
        assert_eq!(fitted_desc(long, 18, 100), "simulated memory");
        assert_eq!(
            fitted_desc("requests in flight", 18, 10),
            "requests in flight"
        );
    }
}

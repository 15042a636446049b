//! Where a line chart's legend goes: inside the plot, at a position where
//! its box covers no data, or, when every such position would cover some,
//! in a strip to the right of the plots or below them, which then get
//! narrower or shorter.
//!
//! The decisions are pure functions of pixel sizes (text is measured by a
//! function the caller passes), so that tests can check them directly.

use plotters::prelude::SeriesLabelPosition;

/// Sizes of a legend box, in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Metrics {
    /// The label font's size.
    pub font: u32,
    /// Between the box's border and its entries.
    pub margin: u32,
    /// Left of each label, for the line sample (plotters'
    /// `legend_area_size`).
    pub sample: u32,
    /// Between the box and the canvas's edge, and between columns.
    pub gap: u32,
}

impl Metrics {
    /// From one line of a label to the next, as plotters spaces them.
    pub(super) fn line(&self) -> u32 {
        (f64::from(self.font) * 1.25).round() as u32
    }
}

/// The size in pixels of a text in the legend's font.
pub(super) type Measure<'a> = &'a dyn Fn(&str) -> (u32, u32);

/// The size of the box plotters draws inside a plot for `labels` (see
/// plotters' `SeriesLabelStyle::draw`): one label a line, 1.25 font sizes
/// apart, right of the line samples, within the margin.
pub(super) fn inside_size(labels: &[String], m: &Metrics, measure: Measure) -> (u32, u32) {
    let (mut w, mut h) = (0, 0);
    for (i, label) in labels.iter().enumerate() {
        let (dw, dh) = measure(label);
        w = w.max(dw);
        h = h.max((i as f64 * f64::from(m.font) * 1.25).round() as u32 + dh);
    }
    (w + m.sample + 2 * m.margin, h + 2 * m.margin)
}

/// The positions tried inside a plot, best first: the corners, upper
/// before lower, then the middles of the sides. Earlier versions tried the
/// first six only; the order is theirs, so a chart with a free corner keeps
/// its legend where it was.
const POSITIONS: [SeriesLabelPosition; 8] = [
    SeriesLabelPosition::UpperRight,
    SeriesLabelPosition::UpperLeft,
    SeriesLabelPosition::LowerRight,
    SeriesLabelPosition::LowerLeft,
    SeriesLabelPosition::MiddleRight,
    SeriesLabelPosition::MiddleLeft,
    SeriesLabelPosition::UpperMiddle,
    SeriesLabelPosition::LowerMiddle,
];

/// How far from a line, in pixels, a legend box must stay: half a line's
/// width plus a marker's radius, rounded up.
const CLEARANCE: f64 = 4.0;

/// A rectangle in pixels, y down.
#[derive(Clone, Copy, Debug)]
struct Rect {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

impl Rect {
    fn contains(&self, (x, y): (f64, f64)) -> bool {
        x >= self.left && x <= self.right && y >= self.top && y <= self.bottom
    }

    /// Whether any part of the segment `a`-`b` lies in the rectangle
    /// (Liang-Barsky clipping).
    fn meets(&self, a: (f64, f64), b: (f64, f64)) -> bool {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (p, q) in [
            (-dx, a.0 - self.left),
            (dx, self.right - a.0),
            (-dy, a.1 - self.top),
            (dy, self.bottom - a.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    return false;
                }
            } else if p < 0.0 {
                t0 = t0.max(q / p);
            } else {
                t1 = t1.min(q / p);
            }
            if t0 > t1 {
                return false;
            }
        }
        true
    }
}

/// Whether `p` is inside the polygon `poly` (even-odd rule).
fn in_polygon(p: (f64, f64), poly: &[(f64, f64)]) -> bool {
    let mut inside = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[j]);
        if (a.1 > p.1) != (b.1 > p.1) && p.0 < (b.0 - a.0) * (p.1 - a.1) / (b.1 - a.1) + a.0 {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Whether the rectangle touches any of `lines` (polylines; a single point
/// is a marker) or `bands` (filled polygons), all in pixels.
fn covers(r: &Rect, lines: &[Vec<(f64, f64)>], bands: &[Vec<(f64, f64)>]) -> bool {
    let line = |l: &Vec<(f64, f64)>| match l.as_slice() {
        [p] => r.contains(*p),
        l => l.windows(2).any(|w| r.meets(w[0], w[1])),
    };
    let band = |b: &Vec<(f64, f64)>| {
        b.len() > 2
            && (b
                .iter()
                .zip(b.iter().cycle().skip(1))
                .any(|(&p, &q)| r.meets(p, q))
                || in_polygon(((r.left + r.right) / 2.0, (r.top + r.bottom) / 2.0), b))
    };
    lines.iter().any(line) || bands.iter().any(band)
}

/// The box of a legend of `size` at `position` in a plot of `plot` pixels,
/// as plotters lays it out (5 pixels from the edges).
fn place(position: &SeriesLabelPosition, plot: (u32, u32), size: (u32, u32)) -> Rect {
    let (pw, ph) = (i64::from(plot.0), i64::from(plot.1));
    let (w, h) = (i64::from(size.0), i64::from(size.1));
    use SeriesLabelPosition::*;
    let x = match position {
        UpperLeft | MiddleLeft | LowerLeft => 5,
        UpperMiddle | MiddleMiddle | LowerMiddle => (pw - w) / 2,
        _ => pw - w - 5,
    };
    let y = match position {
        UpperLeft | UpperMiddle | UpperRight => 5,
        MiddleLeft | MiddleMiddle | MiddleRight => (ph - h) / 2,
        _ => ph - h - 5,
    };
    Rect {
        left: x as f64,
        top: y as f64,
        right: (x + w) as f64,
        bottom: (y + h) as f64,
    }
}

/// Where to draw a legend box of `size` pixels inside a plot of `plot`
/// pixels that shows the data ranges `x` and `y`: the first of
/// [`POSITIONS`] where the box, [`CLEARANCE`] pixels around, touches none
/// of `lines` (in data coordinates, in drawing order; a single point is a
/// marker) and none of `bands` (filled polygons). `None` if there is no
/// such position, or the box does not fit in the plot: the legend then
/// goes outside it (see [`strip`]).
pub(super) fn legend_corner(
    lines: &[&[(f64, f64)]],
    bands: &[&[(f64, f64)]],
    x: (f64, f64),
    y: (f64, f64),
    plot: (u32, u32),
    size: (u32, u32),
) -> Option<SeriesLabelPosition> {
    if size.0 + 10 > plot.0 || size.1 + 10 > plot.1 {
        return None;
    }
    let (pw, ph) = (f64::from(plot.0), f64::from(plot.1));
    let to_px = |&(a, b): &(f64, f64)| {
        (
            (a - x.0) / (x.1 - x.0).max(1e-300) * pw,
            (1.0 - (b - y.0) / (y.1 - y.0).max(1e-300)) * ph,
        )
    };
    let lines: Vec<Vec<(f64, f64)>> = lines
        .iter()
        .map(|l| l.iter().map(to_px).collect())
        .collect();
    let bands: Vec<Vec<(f64, f64)>> = bands
        .iter()
        .map(|b| b.iter().map(to_px).collect())
        .collect();
    POSITIONS.into_iter().find(|p| {
        let r = place(p, plot, size);
        let padded = Rect {
            left: r.left - CLEARANCE,
            top: r.top - CLEARANCE,
            right: r.right + CLEARANCE,
            bottom: r.bottom + CLEARANCE,
        };
        !covers(&padded, &lines, &bands)
    })
}

/// `text` broken at spaces into lines at most `width` pixels wide; a word
/// wider than that gets a line of its own.
pub(super) fn wrap(text: &str, width: u32, measure: Measure) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if measure(&format!("{line} {word}")).0 <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines
}

/// A legend laid out outside the plots: its entries' labels, wrapped, in
/// rows of `columns` entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Block {
    /// Entries a row.
    pub columns: usize,
    /// Each entry's label, one string a line.
    pub lines: Vec<Vec<String>>,
    /// Width of a column's labels, in pixels.
    pub column_width: u32,
    /// Top of each row, from the box's top, in pixels.
    pub row_tops: Vec<u32>,
    /// The box's width and height, in pixels.
    pub size: (u32, u32),
}

/// `labels` wrapped to `width` pixels, in rows of `columns`.
fn block(labels: &[String], columns: usize, width: u32, m: &Metrics, measure: Measure) -> Block {
    let columns = columns.clamp(1, labels.len().max(1));
    let lines: Vec<Vec<String>> = labels.iter().map(|l| wrap(l, width, measure)).collect();
    let column_width = lines
        .iter()
        .flatten()
        .map(|l| measure(l).0)
        .max()
        .unwrap_or(0);
    // Wrapped entries get a little space between them, so that each reads
    // as one.
    let wrapped = lines.iter().any(|l| l.len() > 1);
    let spacing = if wrapped { m.line() / 3 } else { 0 };
    let mut row_tops = Vec::new();
    let mut top = m.margin;
    for row in lines.chunks(columns) {
        row_tops.push(top);
        let most = row.iter().map(Vec::len).max().unwrap_or(1) as u32;
        top += most * m.line() + spacing;
    }
    let n = columns as u32;
    Block {
        columns,
        size: (
            2 * m.margin + n * (m.sample + column_width) + (n - 1) * m.gap,
            top - spacing + m.margin,
        ),
        lines,
        column_width,
        row_tops,
    }
}

/// Which side of the plots a legend outside them goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    /// In a strip right of the plots.
    Right,
    /// In a strip below the plots (and their x axis).
    Below,
}

/// Legends outside the plots: the side, the strip's thickness (its width,
/// right of the plots; its height, below them) and each legend's layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Strip {
    /// Where the strip is.
    pub side: Side,
    /// Pixels taken from the plots.
    pub thickness: u32,
    /// One per legend, in the order given.
    pub blocks: Vec<Block>,
}

/// The most of the plots' width a strip on the right may take, in
/// percent, before the legend goes below.
const RIGHT_MOST: u32 = 30;
/// The most of the plots' height a strip below may take, in percent.
const BELOW_MOST: u32 = 35;

/// Where the legends of a chart go when they do not fit inside its plots,
/// in a body (the canvas below the title) of `body` pixels. `legends` are
/// each legend's labels and the height it may take right of the plots (from
/// the top of its panel to the top of the next legend's panel).
///
/// Right of the plots, in one column, when that takes at most
/// [`RIGHT_MOST`]% of the width, labels wrapped to fit; else below them,
/// in as many columns as the width holds, if that takes at most
/// [`BELOW_MOST`]% of the height (a narrow canvas); else right again, in
/// as many columns as the legends need to fit their heights, up to half
/// the width. Only in that last case, on a canvas too small for its
/// legend, can a legend be cut off.
pub(super) fn strip(
    body: (u32, u32),
    legends: &[(&[String], u32)],
    m: &Metrics,
    measure: Measure,
) -> Strip {
    let most = legends.iter().map(|l| l.0.len()).max().unwrap_or(1).max(1);
    let right = |columns: usize, wrap_at: u32| {
        let blocks: Vec<Block> = legends
            .iter()
            .map(|(labels, _)| block(labels, columns, wrap_at, m, measure))
            .collect();
        let thickness = blocks.iter().map(|b| b.size.0).max().unwrap_or(0) + m.gap;
        let fits = blocks.iter().zip(legends).all(|(b, l)| b.size.1 <= l.1);
        (
            Strip {
                side: Side::Right,
                thickness,
                blocks,
            },
            fits,
        )
    };
    let room = body.0 * RIGHT_MOST / 100;
    let (one, fits) = right(1, room.saturating_sub(m.sample + 2 * m.margin + m.gap));
    if fits && one.thickness <= room {
        return one;
    }
    if let Some(below) = below(body, legends, m, measure) {
        return below;
    }
    let mut best = one;
    for columns in 2..=most {
        let text = (body.0 / 2 / columns as u32)
            .saturating_sub(m.sample + m.gap + 2 * m.margin / columns as u32);
        let (s, fits) = right(columns, text);
        if s.thickness > body.0 / 2 {
            break;
        }
        best = s;
        if fits {
            break;
        }
    }
    best
}

/// The legends below the plots, in as many columns as the width holds, if
/// that leaves the plots at least `100 - BELOW_MOST` percent of the height.
fn below(
    body: (u32, u32),
    legends: &[(&[String], u32)],
    m: &Metrics,
    measure: Measure,
) -> Option<Strip> {
    let width = body.0.saturating_sub(2 * m.gap);
    let text = width.saturating_sub(m.sample + 2 * m.margin);
    let blocks: Vec<Block> = legends
        .iter()
        .map(|(labels, _)| {
            (1..=labels.len().max(1))
                .rev()
                .map(|columns| block(labels, columns, text, m, measure))
                .find(|b| b.size.0 <= width || b.columns == 1)
                .unwrap_or_else(|| block(labels, 1, text, m, measure))
        })
        .collect();
    let thickness = blocks.iter().map(|b| b.size.1 + m.gap).sum::<u32>() + m.gap;
    (thickness <= body.1 * BELOW_MOST / 100).then_some(Strip {
        side: Side::Below,
        thickness,
        blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text 8 pixels a character and 16 high, like a 16-pixel font.
    fn measure(text: &str) -> (u32, u32) {
        (8 * text.chars().count() as u32, 16)
    }

    const M: Metrics = Metrics {
        font: 16,
        margin: 12,
        sample: 30,
        gap: 10,
    };

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Eight lines zig-zagging over the whole height, each from the left
    /// edge to the right edge: every part of the plot holds data.
    fn zigzags() -> Vec<Vec<(f64, f64)>> {
        (0..8u32)
            .map(|k| {
                (0..=40)
                    .map(|i| {
                        let x = f64::from(i) * 2.5 + f64::from(k) * 0.3;
                        let y = if (i + k).is_multiple_of(2) {
                            0.0
                        } else {
                            100.0
                        };
                        (x.min(100.0), y)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_legend_over_data_everywhere_goes_outside() {
        let lines = zigzags();
        let refs: Vec<&[(f64, f64)]> = lines.iter().map(Vec::as_slice).collect();
        let names = labels(&[
            "batching",
            "semaphore_in_task",
            "gated_spawn_callback",
            "gated_spawn",
            "worker_pool",
            "sliding_window",
            "rate_limited",
            "adaptive_limit",
        ]);
        let size = inside_size(&names, &M, &measure);
        assert_eq!(size, (30 + 20 * 8 + 24, 7 * 20 + 16 + 24));
        let corner = legend_corner(&refs, &[], (0.0, 100.0), (0.0, 100.0), (1000, 600), size);
        assert_eq!(corner, None);
    }

    #[test]
    fn a_legend_with_a_free_corner_stays_inside() {
        // Lines rising from the lower left to near the top right, as the
        // duration of batching against latency spread: the upper left is
        // free, and the upper right is not.
        let lines: Vec<Vec<(f64, f64)>> = (0..4)
            .map(|k| {
                (0..=10)
                    .map(|i| (f64::from(i) * 10.0, f64::from(i * (9 - k))))
                    .collect()
            })
            .collect();
        let refs: Vec<&[(f64, f64)]> = lines.iter().map(Vec::as_slice).collect();
        let names = labels(&[
            "batching",
            "semaphore_in_task",
            "gated_spawn_callback",
            "gated_spawn",
        ]);
        let size = inside_size(&names, &M, &measure);
        let corner = legend_corner(&refs, &[], (0.0, 100.0), (0.0, 100.0), (1000, 600), size);
        assert_eq!(corner, Some(SeriesLabelPosition::UpperLeft));
        // With nothing drawn, the first choice.
        let corner = legend_corner(&[], &[], (0.0, 100.0), (0.0, 100.0), (1000, 600), size);
        assert_eq!(corner, Some(SeriesLabelPosition::UpperRight));
    }

    #[test]
    fn a_line_through_a_box_between_its_points_counts() {
        // From the middle of the left edge to the middle of the top: both
        // points are outside every box, the segment crosses the upper left
        // one.
        let across = [(0.0, 50.0), (50.0, 100.0)];
        // A vertical line near the right edge: it crosses the right boxes.
        let steep = [(99.0, 0.0), (99.0, 100.0)];
        let size = (300, 200);
        let corner = |lines: &[&[(f64, f64)]]| {
            legend_corner(lines, &[], (0.0, 100.0), (0.0, 100.0), (1000, 600), size)
        };
        assert_eq!(corner(&[&across]), Some(SeriesLabelPosition::UpperRight));
        assert_eq!(corner(&[&steep]), Some(SeriesLabelPosition::UpperLeft));
        assert_eq!(
            corner(&[&across, &steep]),
            Some(SeriesLabelPosition::LowerLeft)
        );
    }

    #[test]
    fn a_band_under_the_box_counts() {
        // A band over the whole plot, its edges outside every box.
        let band = [(0.0, -10.0), (100.0, -10.0), (100.0, 110.0), (0.0, 110.0)];
        let corner = legend_corner(
            &[],
            &[&band],
            (0.0, 100.0),
            (0.0, 100.0),
            (1000, 600),
            (200, 100),
        );
        assert_eq!(corner, None);
    }

    #[test]
    fn a_legend_larger_than_the_plot_goes_outside() {
        let corner = legend_corner(&[], &[], (0.0, 1.0), (0.0, 1.0), (200, 100), (195, 50));
        assert_eq!(corner, None);
    }

    #[test]
    fn outside_the_legend_goes_right_of_a_wide_canvas_and_below_a_narrow_one() {
        let names = labels(&["batching", "semaphore_in_task", "gated_spawn"]);
        let s = strip((1200, 700), &[(&names, 600)], &M, &measure);
        assert_eq!(s.side, Side::Right);
        // The longest label, its sample, two margins and the gap.
        assert_eq!(s.thickness, 17 * 8 + 30 + 24 + 10);
        assert_eq!(s.blocks[0].size.1, 3 * 20 + 24);
        let s = strip((400, 700), &[(&names, 600)], &M, &measure);
        assert_eq!(s.side, Side::Below);
        assert!(s.blocks[0].size.0 <= 400 - 20, "{s:?}");
        assert!(s.thickness < 700 * BELOW_MOST / 100, "{s:?}");
    }

    #[test]
    fn long_labels_are_wrapped_not_cut() {
        let names = labels(&[
            "gated_spawn_callback, concurrency = 200",
            "batching, concurrency = 200",
        ]);
        let s = strip((1000, 700), &[(&names, 600)], &M, &measure);
        assert_eq!(s.side, Side::Right);
        let b = &s.blocks[0];
        assert_eq!(b.lines[0], ["gated_spawn_callback,", "concurrency = 200"]);
        // The shorter one fits on a line.
        assert_eq!(b.lines[1], ["batching, concurrency = 200"]);
        assert!(s.thickness <= 1000 * RIGHT_MOST / 100);
        assert_eq!(b.column_width, 27 * 8);
    }

    #[test]
    fn a_legend_taller_than_its_room_takes_more_columns() {
        // Too many to fit below the plots, too many for one column.
        let names: Vec<String> = (0..16).map(|i| format!("strategy_{i:06}")).collect();
        let s = strip((1200, 200), &[(&names, 200)], &M, &measure);
        assert_eq!(s.side, Side::Right);
        assert!(s.blocks[0].columns > 1, "{s:?}");
        assert!(s.blocks[0].size.1 <= 200, "{s:?}");
    }

    #[test]
    fn wrapping_breaks_at_spaces_only() {
        assert_eq!(wrap("a bb ccc", 32, &measure), ["a bb", "ccc"]);
        assert_eq!(
            wrap("averylongword x", 16, &measure),
            ["averylongword", "x"]
        );
        assert_eq!(wrap("", 16, &measure), [""]);
    }
}

//! Line charts: panels stacked on a shared x axis, each a plot of lines
//! (thinned to a drawable number of points, with bands and markers),
//! framed so that their labels fit the canvas, with each panel's legend
//! inside its plot where a corner is free of data, else all of them in a
//! strip right of or below the plots (see [`legend`]).

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::draw::{FAMILY, color, err, header, no_data, range, transform};
use super::legend::{self, Side};
use super::look::{
    LABEL_DISTANCE, Look, fitted_desc, fitting_ticks, label, text_size, ticks, widest_tick,
};
use super::{Axis, Panels, Series};

/// Most points drawn per series; longer series are reduced to the first,
/// lowest, highest and last point of each of `MAX_POINTS / 4` buckets of x,
/// so peaks survive.
const MAX_POINTS: usize = 4000;

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
                // A no-break space: a wrapped label breaks before the
                // parenthesis, not inside it.
                Some(first) => format!("{} (=\u{a0}{first})", series[j].label),
                None => series[j].label.clone(),
            },
            color: series[j].color,
        })
        .collect()
}

fn labels(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.label.clone()).collect()
}

/// How a panel is framed on its area, in pixels: its margins, label areas,
/// ticks on each axis and y axis description.
#[derive(Clone, Debug, PartialEq)]
struct Frame {
    top: u32,
    bottom: u32,
    left: u32,
    right: u32,
    x_area: u32,
    y_area: u32,
    x_ticks: usize,
    y_ticks: usize,
    /// Whether the x axis has tick labels (always, on the last panel).
    x_labels: bool,
    y_desc: String,
    /// Whether `y_desc` is drawn above the plot, not along its axis.
    caption: bool,
}

/// What the panels of a stack share, in pixels: the height of an even
/// split, the height of each plot, whether y axis descriptions are
/// captions above the plots, and the room for a description along its
/// axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shared {
    even: u32,
    plot: u32,
    caption: bool,
    room: u32,
}

/// A panel's place in a stack: its area, frame, and the area's top in the
/// stack.
struct Slot<DB: DrawingBackend> {
    area: DrawingArea<DB, Shift>,
    frame: Frame,
    offset: u32,
}

/// The chart of one panel on `area`, framed by `frame`, nothing drawn yet.
fn panel_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: (f64, f64),
    y: (f64, f64),
    frame: &Frame,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>, String> {
    ChartBuilder::on(area)
        .margin_left(frame.left)
        .margin_right(frame.right)
        .margin_top(frame.top)
        .margin_bottom(frame.bottom)
        .x_label_area_size(frame.x_area)
        .y_label_area_size(frame.y_area)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)
        .map_err(err)
}

/// What the panels of a chart share: the chart, its x range, and per
/// panel the prepared lines, y range, legend entries and whether it has a
/// legend.
struct Layout<'c> {
    chart: &'c Panels,
    look: Look,
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
        stack: &[Slot<DB>],
    ) -> Result<Option<Vec<Option<SeriesLabelPosition>>>, String> {
        let metrics = self.look.legend();
        let measure = |t: &str| text_size(t, metrics.font);
        let mut positions = Vec::with_capacity(stack.len());
        for (i, slot) in stack.iter().enumerate() {
            if !self.legends[i] {
                positions.push(None);
                continue;
            }
            let c = panel_chart(&slot.area, self.x_range, self.y_ranges[i], &slot.frame)?;
            let size = legend::inside_size(&labels(&self.entries[i]), &metrics, &measure);
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
        slot: &Slot<DB>,
        i: usize,
        legend: Option<SeriesLabelPosition>,
    ) -> Result<(), String> {
        let (chart, x_range, y_range) = (self.chart, self.x_range, self.y_ranges[i]);
        let (look, series) = (self.look, &self.series[i]);
        let (area, frame) = (&slot.area, &slot.frame);
        let last = i + 1 == chart.panels.len();
        let mut c = panel_chart(area, x_range, y_range, frame)?;
        let x_fmt = |v: &f64| {
            if frame.x_labels {
                label(&chart.x, *v)
            } else {
                String::new()
            }
        };
        let y_fmt = |v: &f64| label(&chart.panels[i].y, *v);
        let mut mesh = c.configure_mesh();
        mesh.x_labels(frame.x_ticks)
            .y_labels(frame.y_ticks)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .axis_desc_style((FAMILY, look.axis()).into_font())
            .label_style((FAMILY, look.tick()).into_font())
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215));
        if last {
            mesh.x_desc(chart.x.label.as_str());
        }
        if !frame.caption {
            mesh.y_desc(frame.y_desc.as_str());
        }
        mesh.draw().map_err(err)?;
        if frame.caption {
            let style = TextStyle::from((FAMILY, look.axis()).into_font()).color(&BLACK);
            let at = (
                (frame.left + frame.y_area) as i32,
                frame.top.saturating_sub(look.axis() + 2) as i32,
            );
            area.draw(&Text::new(frame.y_desc.clone(), at, style))
                .map_err(err)?;
        }
        for s in series {
            if s.band.len() > 2 {
                c.draw_series(std::iter::once(Polygon::new(
                    s.band.clone(),
                    s.color.mix(0.18).filled(),
                )))
                .map_err(err)?;
            }
        }
        let sample = look.sample_line();
        let radius = look.px(3).max(2);
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
                PathElement::new(vec![(x, y), (x + sample, y)], color.stroke_width(3))
            });
            if s.markers {
                c.draw_series(
                    s.points
                        .iter()
                        .map(|&p| Circle::new(p, radius, color.filled())),
                )
                .map_err(err)?;
            }
        }
        if let Some(position) = legend {
            let metrics = look.legend();
            c.configure_series_labels()
                .position(position)
                .background_style(WHITE.mix(0.9))
                .border_style(RGBColor(180, 180, 180))
                .label_font((FAMILY, metrics.font).into_font())
                .legend_area_size(metrics.sample)
                .margin(metrics.margin)
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
        // The top of each panel's plot in the body (the strip takes no
        // height from the panels on the right).
        let slots = self.stack(body);
        let tops: Vec<u32> = slots.iter().map(|s| s.offset + s.frame.top).collect();
        let metrics = self.look.legend();
        let texts: Vec<Vec<String>> = shown.iter().map(|&i| labels(&self.entries[i])).collect();
        let legends: Vec<(&[String], u32)> = shown
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                // Down to the next legend's panel.
                let end = shown.get(k + 1).map_or(h, |&next| slots[next].offset);
                (
                    texts[k].as_slice(),
                    end.saturating_sub(tops[i] + metrics.gap),
                )
            })
            .collect();
        let measure = |t: &str| text_size(t, metrics.font);
        let strip = legend::strip((w, h), &legends, &metrics, &measure);
        let (plots, room) = match strip.side {
            Side::Right => body.split_horizontally(w.saturating_sub(strip.thickness)),
            Side::Below => body.split_vertically(h.saturating_sub(strip.thickness)),
        };
        for (i, slot) in self.stack(&plots).iter().enumerate() {
            self.panel(slot, i, None)?;
        }
        let mut below = metrics.gap as i32;
        for (block, &i) in strip.blocks.iter().zip(&shown) {
            let at = match strip.side {
                Side::Right => (0, tops[i] as i32),
                Side::Below => {
                    let x = (room.dim_in_pixel().0.saturating_sub(block.size.0) / 2) as i32;
                    let at = (x, below);
                    below += (block.size.1 + metrics.gap) as i32;
                    at
                }
            };
            legend_box(&room, at, block, &self.entries[i], self.look)?;
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
    look: Look,
) -> Result<(), String> {
    let m = look.legend();
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
            vec![(x, middle), (x + look.sample_line(), middle)],
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
    /// The layout of `chart` with `look`; `None` if it has no point to
    /// draw.
    fn of(chart: &'c Panels, look: Look) -> Option<Layout<'c>> {
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
            look,
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

    /// How panel `i` is framed, on an area `w` pixels wide in a stack that
    /// `shared` describes (`last`: the bottom panel, which has the x axis's
    /// description). At 1200x800, as designed: margins of 12 above, 4
    /// below (8 for the last), 15 left and 30 right, label areas of 28
    /// below (55) and 95 left, 8 ticks on x and 8 on y (5 with more than
    /// two panels). On smaller canvases the margins shrink, the label areas
    /// keep room for their text and the axes get fewer ticks, so that tick
    /// labels do not run into each other.
    fn frame(&self, i: usize, w: u32, last: bool, shared: &Shared) -> Frame {
        let look = self.look;
        let (tick, axis) = (look.tick(), look.axis());
        let (x_range, y_range) = (self.x_range, self.y_ranges[i]);
        let (x, y) = (&self.chart.x, &self.chart.panels[i].y);
        let caption = shared.caption;
        let (top, bottom, x_area, x_labels) = self.around(shared.even, last, caption);
        let stacked = if self.chart.panels.len() > 2 { 5 } else { 8 };
        let y_ticks = fitting_ticks(
            y,
            y_range,
            ticks(y, y_range).min(stacked),
            shared.plot,
            (tick, tick / 2),
            false,
        );
        let desc_width = if caption { 0 } else { axis + look.px(6).max(4) };
        let y_area = look
            .px(95)
            .max(desc_width + widest_tick(y, y_range, y_ticks, tick) + LABEL_DISTANCE + 2);
        // The last x tick label may stand out right of the plot by half
        // its width.
        let x_design = ticks(x, x_range);
        let right = look
            .px(30)
            .max(widest_tick(x, x_range, x_design, tick) / 2 + 2);
        let left = look.px(15);
        let plot_w = w.saturating_sub(left + right + y_area);
        let x_ticks = fitting_ticks(x, x_range, x_design, plot_w, (tick, tick), true);
        let room = if caption { plot_w } else { shared.room };
        Frame {
            top,
            bottom,
            left,
            right,
            x_area,
            y_area,
            x_ticks,
            y_ticks,
            x_labels,
            y_desc: fitted_desc(&y.label, axis, room),
            caption,
        }
    }

    /// What a panel has above and below its plot, in a stack of panels
    /// `even` pixels high on average, with its y axis's description a
    /// `caption` above the plot or not: the top and bottom margins, the x
    /// label area and whether it has x tick labels.
    fn around(&self, even: u32, last: bool, caption: bool) -> (u32, u32, u32, bool) {
        let look = self.look;
        let (tick, axis) = (look.tick(), look.axis());
        let top = if caption {
            look.px(12).max(axis + 4)
        } else {
            look.px(12)
        };
        let bottom = look.px(if last { 8 } else { 4 });
        // The x axis is shared: on short panels, only the bottom one's has
        // tick labels.
        let x_labels = last || even >= 8 * (tick * 5 / 4);
        let x_area = if last {
            look.px(55).max(LABEL_DISTANCE + tick + 4 + axis + 2)
        } else if x_labels {
            look.px(28).max(LABEL_DISTANCE + tick + 3)
        } else {
            6
        };
        (top, bottom, x_area, x_labels)
    }

    /// What the panels stacked on an area `h` pixels high share: plots of
    /// equal height (the last panel, which has the x axis's description,
    /// is the highest), and y axis descriptions drawn along the axes,
    /// centred on the plots, unless one of them, even without its unit,
    /// is longer than the plots' middles are apart: then all of them are
    /// captions above the plots, so that none runs into its neighbour's.
    fn shared(&self, h: u32) -> Shared {
        let n = self.chart.panels.len().max(1);
        let even = h / n as u32;
        let plot = |caption: bool| {
            let around: Vec<u32> = (0..n)
                .map(|i| {
                    let (top, bottom, x_area, _) = self.around(even, i + 1 == n, caption);
                    top + bottom + x_area
                })
                .collect();
            let plot = h.saturating_sub(around.iter().sum()) / n as u32;
            // From one plot's middle to the next's; a single plot has the
            // whole height.
            let apart = plot + around[..n - 1].iter().copied().min().unwrap_or(around[0]);
            (plot, apart.saturating_sub(self.look.px(6)))
        };
        let (along, room) = plot(false);
        let axis = self.look.axis();
        let caption = self
            .chart
            .panels
            .iter()
            .any(|p| text_size(&fitted_desc(&p.y.label, axis, room), axis).0 > room);
        Shared {
            even,
            plot: if caption { plot(true).0 } else { along },
            caption,
            room,
        }
    }

    /// The panels, stacked on `body`, with their legends inside the plots
    /// if every legend has a position there free of data, else outside.
    fn draw<DB: DrawingBackend>(&self, body: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let stack = self.stack(body);
        match self.inside(&stack)? {
            Some(positions) => {
                for (i, position) in positions.into_iter().enumerate() {
                    self.panel(&stack[i], i, position)?;
                }
                Ok(())
            }
            None => self.outside(body),
        }
    }

    /// The panels stacked on `area`, each framed, their plots equally high
    /// (the last panel, which has the x axis's description, is the
    /// highest). Frames are sized for the height of an even split.
    fn stack<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Vec<Slot<DB>> {
        let n = self.chart.panels.len();
        let (w, h) = area.dim_in_pixel();
        let shared = self.shared(h);
        let frames: Vec<Frame> = (0..n)
            .map(|i| self.frame(i, w, i + 1 == n, &shared))
            .collect();
        let around: Vec<u32> = frames.iter().map(|f| f.top + f.bottom + f.x_area).collect();
        let plot = shared.plot;
        let mut offsets = Vec::with_capacity(n);
        let mut offset = 0;
        for a in &around {
            offsets.push(offset);
            offset += plot + a;
        }
        let breaks: Vec<i32> = offsets.iter().skip(1).map(|&o| o as i32).collect();
        let areas = area.split_by_breakpoints::<i32, i32, _, _>([], breaks);
        areas
            .into_iter()
            .zip(frames)
            .zip(offsets)
            .map(|((area, frame), offset)| Slot {
                area,
                frame,
                offset,
            })
            .collect()
    }
}

pub(super) fn draw_panels<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    chart: &Panels,
) -> Result<(), String> {
    let look = Look::of(root.dim_in_pixel());
    let body = header(&root, &chart.title, &chart.subtitle, look)?;
    match Layout::of(chart, look) {
        Some(layout) => layout.draw(&body)?,
        None => return no_data(&body, look),
    }
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::draw::register_font;
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
        let layout = Layout::of(chart, Look::of((1200, 800))).unwrap();
        let mut rgb = vec![255u8; 1200 * 800 * 3];
        let root = BitMapBackend::with_buffer(&mut rgb, (1200, 800)).into_drawing_area();
        let body = header(&root, &chart.title, &chart.subtitle, Look::of((1200, 800))).unwrap();
        layout.inside(&layout.stack(&body)).unwrap()
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

    /// Three panels of four lines (the blog's timeline) on `size`: the
    /// layout and the frames of its stack.
    fn timeline_frames(size: (u32, u32)) -> Vec<(Frame, u32)> {
        register_font();
        let line = |k: usize| Series {
            label: format!("s{k}"),
            color: k,
            points: (0..50)
                .map(|i| (f64::from(i), f64::from(i * (k as i32 + 1))))
                .collect(),
            band: None,
            markers: false,
        };
        let panel = |name: &str| super::super::Panel {
            y: Axis::linear(name, super::super::Unit::Count),
            series: (0..4).map(line).collect(),
        };
        let chart = Panels {
            title: "Timeline of one run".to_owned(),
            subtitle: "blog: 100,000 requests, limit 500, latency uniform(0.1, 0.2), seed 1, \
                       CPython 3.12, cpu cpython-3.12"
                .to_owned(),
            x: Axis::linear("virtual time (s)", super::super::Unit::Seconds),
            panels: vec![
                panel("live tasks"),
                panel("requests in flight"),
                panel("simulated memory (bytes)"),
            ],
        };
        let look = Look::of(size);
        let layout = Layout::of(&chart, look).unwrap();
        let mut rgb = vec![255u8; size.0 as usize * size.1 as usize * 3];
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        let body = header(&root, &chart.title, &chart.subtitle, look).unwrap();
        layout
            .stack(&body)
            .into_iter()
            .map(|slot| (slot.frame, slot.area.dim_in_pixel().1))
            .collect()
    }

    #[test]
    fn at_1200x800_panels_are_framed_as_designed_and_their_plots_equally_high() {
        let frames = timeline_frames((1200, 800));
        for (i, (f, _)) in frames.iter().enumerate() {
            let last = i == 2;
            assert_eq!((f.top, f.left, f.right), (12, 15, 30));
            assert_eq!(f.bottom, if last { 8 } else { 4 });
            assert_eq!(f.x_area, if last { 55 } else { 28 });
            assert_eq!((f.y_area, f.x_ticks, f.y_ticks), (95, 8, 5));
            assert!(f.x_labels && !f.caption);
        }
        assert_eq!(frames[2].0.y_desc, "simulated memory (bytes)");
        let plot = |(f, h): &(Frame, u32)| h - f.top - f.bottom - f.x_area;
        assert_eq!(plot(&frames[0]), plot(&frames[1]));
        // The last takes what the even split leaves over.
        assert!(
            plot(&frames[2]).abs_diff(plot(&frames[0])) < 3,
            "{frames:?}"
        );
    }

    #[test]
    fn on_a_small_canvas_panels_share_the_x_labels_and_caption_their_y_axes() {
        let frames = timeline_frames((400, 300));
        let (first, last) = (&frames[0].0, &frames[2].0);
        assert!(!first.x_labels && last.x_labels);
        assert!(last.x_ticks >= 2 && last.y_ticks >= 2);
        // "requests in flight" is longer than the plots' middles are apart.
        assert!(frames.iter().all(|(f, _)| f.caption), "{frames:?}");
        // Room for the caption above the plot.
        assert!(first.top >= Look::of((400, 300)).axis());
        // Wide and short: the width does not give the plots height (the
        // y axis descriptions ran into each other there).
        let frames = timeline_frames((2000, 300));
        assert!(frames.iter().all(|(f, _)| f.caption), "{frames:?}");
    }
}

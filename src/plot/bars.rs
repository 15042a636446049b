//! Bar charts: one bar per name, standing on the x axis and named below
//! it, or, when the names do not fit under their bars, lying along it,
//! first at the top, named left of it; each bar's value written at its end.

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Bars;
use super::draw::{FAMILY, color, err, header, no_data, range, transform};
use super::look::{LABEL_DISTANCE, Look, fitting_ticks, label, text_size, ticks, widest_tick};

/// A text style at `size` pixels anchored at `h` and `v`.
fn anchored(size: u32, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font())
        .color(&BLACK)
        .pos(Pos::new(h, v))
}

/// The top of a value axis from `lo` that shows `top` with `room` pixels
/// to spare of `length`, and at least `hi`.
fn headroom(lo: f64, hi: f64, top: f64, room: u32, length: u32) -> f64 {
    let spare = (f64::from(room) / f64::from(length.max(1))).min(0.5);
    hi.max(lo + (top - lo) / (1.0 - spare))
}

/// What a bar chart's drawing needs: the chart, its look, its bars'
/// transformed values and value range, and the bars' names, value labels
/// and their sizes.
struct BarLayout<'c> {
    chart: &'c Bars,
    look: Look,
    lo: f64,
    hi: f64,
    top: f64,
    names: Vec<String>,
    /// Widest name, at the tick size.
    name_width: u32,
    /// Each bar's value label (empty for a bar not drawn), its text size,
    /// and the widest.
    values: Vec<String>,
    value_size: u32,
    value_width: u32,
}

impl BarLayout<'_> {
    /// Bars standing on the x axis, named below it: the design, drawn if
    /// each name and value fits the width of its bar's slot; returns
    /// whether it was drawn.
    fn upright<DB: DrawingBackend>(&self, body: &DrawingArea<DB, Shift>) -> Result<bool, String> {
        let (chart, look, lo) = (self.chart, self.look, self.lo);
        let (tick, axis) = (look.text(16), look.axis());
        let (_, h) = body.dim_in_pixel();
        let margin = look.px(20);
        let x_area = look.px(50).max(LABEL_DISTANCE + tick + 4);
        let plot_h = h.saturating_sub(2 * margin + x_area);
        // Room above the highest bar for its value.
        let room = self.value_size + look.px(4);
        let hi = headroom(lo, self.hi, self.top, room, plot_h);
        let y_ticks = fitting_ticks(
            &chart.y,
            (lo, hi),
            ticks(&chart.y, (lo, hi)),
            plot_h,
            (tick, tick / 2),
            false,
        );
        let y_area = look.px(100).max(
            axis + look.px(6).max(4)
                + widest_tick(&chart.y, (lo, hi), y_ticks, tick)
                + LABEL_DISTANCE
                + 2,
        );
        let n = chart.bars.len() as u32;
        let mut c = ChartBuilder::on(body)
            .margin(margin)
            .x_label_area_size(x_area)
            .y_label_area_size(y_area)
            .build_cartesian_2d((0..n.saturating_sub(1)).into_segmented(), lo..hi)
            .map_err(err)?;
        let slot = c.plotting_area().dim_in_pixel().0 / n.max(1);
        if self.name_width.max(self.value_width) + look.px(10).max(4) > slot {
            return Ok(false);
        }
        let x_fmt = |v: &SegmentValue<u32>| match v {
            SegmentValue::CenterOf(i) => self.names.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        let y_fmt = |v: &f64| label(&chart.y, *v);
        c.configure_mesh()
            .disable_x_mesh()
            .x_labels(n as usize)
            .x_label_formatter(&x_fmt)
            .y_labels(y_ticks)
            .y_label_formatter(&y_fmt)
            .y_desc(chart.y.label.as_str())
            .axis_desc_style((FAMILY, axis).into_font())
            .label_style((FAMILY, tick).into_font())
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(err)?;
        let side = look.px(40).min(slot / 4);
        let style = anchored(self.value_size, HPos::Center, VPos::Bottom);
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
            bar.set_margin(0, 0, side, side);
            c.draw_series(std::iter::once(bar)).map_err(err)?;
            c.draw_series(std::iter::once(Text::new(
                self.values[i as usize].clone(),
                (SegmentValue::CenterOf(i), v + (hi - lo) * 0.01),
                style.clone(),
            )))
            .map_err(err)?;
        }
        Ok(true)
    }

    /// Bars lying along the x axis, first at the top, named left of it:
    /// for names too long to fit under upright bars (eight strategies, or
    /// a small canvas).
    fn across<DB: DrawingBackend>(&self, body: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (chart, look, lo) = (self.chart, self.look, self.lo);
        let (tick, axis) = (look.text(16), look.axis());
        let (w, _) = body.dim_in_pixel();
        let margin = look.px(20);
        let x_area = look.px(55).max(LABEL_DISTANCE + tick + 4 + axis + 2);
        let y_area = self.name_width + LABEL_DISTANCE + look.px(6).max(4);
        // Room right of the longest bar for its value.
        let plot_w = w.saturating_sub(2 * margin + y_area);
        let room = self.value_width + look.px(12).max(6);
        let hi = headroom(lo, self.hi, self.top, room, plot_w);
        let x_ticks = fitting_ticks(
            &chart.y,
            (lo, hi),
            ticks(&chart.y, (lo, hi)),
            plot_w,
            (tick, look.px(12).max(6)),
            true,
        );
        let n = chart.bars.len() as u32;
        let mut c = ChartBuilder::on(body)
            .margin(margin)
            .x_label_area_size(x_area)
            .y_label_area_size(y_area)
            .build_cartesian_2d(lo..hi, (0..n.saturating_sub(1)).into_segmented())
            .map_err(err)?;
        let slot = c.plotting_area().dim_in_pixel().1 / n.max(1);
        // The first bar at the top.
        let row = |i: usize| n - 1 - i as u32;
        let y_fmt = |v: &SegmentValue<u32>| match v {
            SegmentValue::CenterOf(j) if *j < n => self.names[(n - 1 - j) as usize].clone(),
            _ => String::new(),
        };
        let x_fmt = |v: &f64| label(&chart.y, *v);
        c.configure_mesh()
            .disable_y_mesh()
            .y_labels(n as usize)
            .y_label_formatter(&y_fmt)
            .x_labels(x_ticks)
            .x_label_formatter(&x_fmt)
            .x_desc(chart.y.label.as_str())
            .axis_desc_style((FAMILY, axis).into_font())
            .label_style((FAMILY, tick).into_font())
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(err)?;
        let side = look.px(40).min(slot / 4);
        let style = anchored(self.value_size, HPos::Left, VPos::Center);
        let offset = look.px(6).max(3) as i32;
        for (i, (_, color_index, value)) in chart.bars.iter().enumerate() {
            let Some(v) = transform(&chart.y, *value) else {
                continue;
            };
            let j = row(i);
            let mut bar = Rectangle::new(
                [
                    (lo, SegmentValue::Exact(j)),
                    (v, SegmentValue::Exact(j + 1)),
                ],
                color(*color_index).filled(),
            );
            bar.set_margin(side, side, 0, 0);
            c.draw_series(std::iter::once(bar)).map_err(err)?;
            let text = EmptyElement::at((v, SegmentValue::CenterOf(j)))
                + Text::new(self.values[i].clone(), (offset, 0), style.clone());
            c.draw_series(std::iter::once(text)).map_err(err)?;
        }
        Ok(())
    }
}

/// The layout of `chart` with `look`; `None` if no bar can be drawn.
fn bar_layout(chart: &Bars, look: Look) -> Option<BarLayout<'_>> {
    let drawn: Vec<f64> = chart
        .bars
        .iter()
        .filter_map(|b| transform(&chart.y, b.2))
        .collect();
    if drawn.is_empty() {
        return None;
    }
    let (lo, hi) = range(&chart.y, drawn.iter().copied());
    let tick = look.text(16);
    let value_size = look.text(17);
    let values: Vec<String> = chart.bars.iter().map(|b| chart.y.unit.tick(b.2)).collect();
    let names: Vec<String> = chart.bars.iter().map(|b| b.0.clone()).collect();
    let widest = |texts: &[String], size: u32| {
        texts
            .iter()
            .map(|t| text_size(t, size).0)
            .max()
            .unwrap_or(0)
    };
    Some(BarLayout {
        chart,
        look,
        lo,
        // The design's headroom for the values above the bars.
        hi: if chart.y.log {
            drawn.iter().copied().fold(f64::NEG_INFINITY, f64::max) + 0.25
        } else {
            hi * 1.08
        },
        top: drawn.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        name_width: widest(&names, tick),
        value_width: widest(&values, value_size),
        names,
        values,
        value_size,
    })
}

pub(super) fn draw_bars<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    chart: &Bars,
) -> Result<(), String> {
    let look = Look::of(root.dim_in_pixel());
    let body = header(&root, &chart.title, &chart.subtitle, look)?;
    let Some(layout) = bar_layout(chart, look) else {
        return no_data(&body, look);
    };
    if !layout.upright(&body)? {
        layout.across(&body)?;
    }
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::Axis;
    use crate::plot::draw::register_font;
    use crate::strategy::StrategyKind;

    /// Whether `names`' bars stand upright on a canvas of `size`.
    fn upright(names: &[&str], size: (u32, u32)) -> bool {
        register_font();
        let chart = Bars {
            title: "Peak memory per strategy".to_owned(),
            subtitle: String::new(),
            y: Axis::log("peak memory (bytes)", super::super::Unit::Bytes),
            bars: names
                .iter()
                .enumerate()
                .map(|(i, n)| ((*n).to_owned(), i, 1e6 * (i + 1) as f64))
                .collect(),
        };
        let mut rgb = vec![255u8; size.0 as usize * size.1 as usize * 3];
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        let look = Look::of(size);
        let body = header(&root, &chart.title, &chart.subtitle, look).unwrap();
        bar_layout(&chart, look).unwrap().upright(&body).unwrap()
    }

    #[test]
    fn bars_lie_down_when_their_names_do_not_fit_under_them() {
        let four = [
            "batching",
            "semaphore_in_task",
            "gated_spawn_callback",
            "gated_spawn",
        ];
        assert!(upright(&four, (1200, 800)));
        assert!(!upright(&four, (400, 300)));
        let eight: Vec<&str> = StrategyKind::ALL.iter().map(|k| k.name()).collect();
        assert!(!upright(&eight, (1200, 800)));
    }
}

//! Charts: line charts (with confidence bands), stacked panels sharing an x
//! axis, and bar charts, rendered with `plotters` to PNG or SVG.
//!
//! The font (DejaVu Sans, `assets/fonts/`) is compiled into the binary and
//! rasterised by `ab_glyph`, so charts render the same on a machine with no
//! fonts installed. Rendering is deterministic (no timestamps in either
//! format) and every file is written atomically. Log axes are drawn on the
//! logarithm of the data, with ticks labelled in the data's own units.
//!
//! [`charts`] builds the charts users ask for from run and sweep results.

mod bars;
pub mod charts;
mod draw;
mod format;
mod legend;
mod look;
mod panels;

use std::path::Path;

pub use draw::{render_bars, render_panels};
pub use format::Unit;

/// Why a chart could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// The plotting backend failed.
    #[error("cannot draw the chart {title:?}: {message}")]
    Draw {
        /// The chart.
        title: String,
        /// The backend's message.
        message: String,
    },
    /// Encoding the PNG failed.
    #[error("cannot encode {path} as PNG: {message}")]
    Encode {
        /// The file.
        path: String,
        /// The encoder's message.
        message: String,
    },
    /// Writing the file failed.
    #[error(transparent)]
    Write(#[from] crate::output::WriteError),
}

/// An image format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ImageFormat {
    /// Portable Network Graphics (the default).
    #[default]
    Png,
    /// Scalable Vector Graphics.
    Svg,
}

impl ImageFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Svg => "svg",
        }
    }
}

/// The smallest chart, in pixels (width, height). Text is never drawn
/// smaller than 10 pixels, so a chart has to be this large for a title, a
/// legend of four strategies and three stacked panels with their tick
/// labels to fit without running into each other; at 320x240 the legends
/// of `server_capacity`'s sweep chart are cut off.
pub const SMALLEST: (u32, u32) = (400, 300);

/// The largest chart, in pixels, either way.
pub const LARGEST: u32 = 10_000;

/// Size and format of a chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Canvas {
    /// Width in pixels; a chart is drawn at least [`SMALLEST`] wide.
    pub width: u32,
    /// Height in pixels; a chart is drawn at least [`SMALLEST`] high.
    pub height: u32,
    /// PNG or SVG.
    pub format: ImageFormat,
}

impl Default for Canvas {
    fn default() -> Canvas {
        Canvas {
            width: 1200,
            height: 800,
            format: ImageFormat::Png,
        }
    }
}

/// An axis: its label (with the unit) and scale.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// E.g. `duration (s)`.
    pub label: String,
    /// How tick values are written.
    pub unit: Unit,
    /// Logarithmic scale (values must be positive; others are dropped).
    pub log: bool,
}

impl Axis {
    /// A linear axis.
    pub fn linear(label: impl Into<String>, unit: Unit) -> Axis {
        Axis {
            label: label.into(),
            unit,
            log: false,
        }
    }

    /// A logarithmic axis.
    pub fn log(label: impl Into<String>, unit: Unit) -> Axis {
        Axis {
            label: label.into(),
            unit,
            log: true,
        }
    }
}

/// One line.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend entry.
    pub label: String,
    /// Index into the palette: the same index gives the same colour in every
    /// chart (indices past its eight colours give other shades of them).
    pub color: usize,
    /// `(x, y)` points, drawn in order.
    pub points: Vec<(f64, f64)>,
    /// `(x, low, high)`: a translucent band around the line (e.g. a 95%
    /// confidence interval).
    pub band: Option<Vec<(f64, f64, f64)>>,
    /// Mark each point with a dot.
    pub markers: bool,
}

/// One panel of a [`Panels`] chart: a y axis and its lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// The y axis.
    pub y: Axis,
    /// The lines.
    pub series: Vec<Series>,
}

/// One or more panels stacked vertically, sharing one x axis (a line chart
/// is a single panel).
#[derive(Clone, Debug, PartialEq)]
pub struct Panels {
    /// The chart's title.
    pub title: String,
    /// A smaller line under the title (the scenario, say).
    pub subtitle: String,
    /// The shared x axis.
    pub x: Axis,
    /// Top to bottom.
    pub panels: Vec<Panel>,
}

/// A bar chart: one bar per category.
#[derive(Clone, Debug, PartialEq)]
pub struct Bars {
    /// The chart's title.
    pub title: String,
    /// A smaller line under the title.
    pub subtitle: String,
    /// The value axis.
    pub y: Axis,
    /// `(category, palette index, value)`, left to right.
    pub bars: Vec<(String, usize, f64)>,
}

/// The path `dir/name.<ext>` for `canvas`'s format.
pub fn file_name(dir: &Path, name: &str, canvas: &Canvas) -> std::path::PathBuf {
    dir.join(format!("{name}.{}", canvas.format.extension()))
}

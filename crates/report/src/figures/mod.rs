//! The paper's figures as SVG, drawn with `plotters`. Text is laid out with DejaVu Sans (embedded, so
//! no system font is needed) and named `sans-serif` in the SVG, so any viewer can draw it.

pub mod analyses;
mod curves;
mod distributions;
pub mod factors;
pub mod layer_reset;
pub mod surface;

pub use curves::{bias_correction, grad_norm_figures, training_curves};
pub use distributions::{box_plots, early_stopping_figure, evp_curves, metric_vs_loss};
pub use factors::ablation_boxes;

use crate::error::{ReportError, Result};
use plotters::chart::{ChartContext, SeriesLabelPosition};
use plotters::coord::CoordTranslate;
use plotters::prelude::{Color, DrawingBackend, BLACK, WHITE};
use plotters::style::{FontStyle, RGBColor};
use serde::Serialize;
use std::sync::Once;

/// A figure: a self-contained `<svg>` and the words that go with it.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// A file name without extension (`fig1-box-sst-2`).
    pub id: String,
    pub title: String,
    /// What the figure shows, how it was computed and how many runs it has.
    pub caption: String,
    #[serde(skip)]
    pub svg: String,
}

pub(crate) const FONT: &str = "sans-serif";
pub(crate) const WIDTH: u32 = 900;
pub(crate) const HEIGHT: u32 = 460;

/// Blue for runs that succeeded, red for failed ones (as the paper's figures).
pub(crate) const SUCCESS: RGBColor = RGBColor(31, 119, 180);
pub(crate) const FAILURE: RGBColor = RGBColor(214, 39, 40);
pub(crate) const GREY: RGBColor = RGBColor(110, 110, 110);

/// Tableau's ten colours, one per configuration.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

pub(crate) fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// From dark purple (first layer) to yellow (last), a viridis-like ramp for layers by depth.
pub(crate) fn depth_colour(i: usize, n: usize) -> RGBColor {
    let stops = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if n <= 1 { 0.0 } else { i as f64 / (n - 1) as f64 } * (stops.len() - 1) as f64;
    let k = (t.floor() as usize).min(stops.len() - 2);
    let f = t - k as f64;
    let mix = |a: f64, b: f64| (a + (b - a) * f).round() as u8;
    let (a, b) = (stops[k], stops[k + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // DejaVu Sans is a valid TrueType font; failure here would be a broken dependency.
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans font does not load"));
        plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans Bold font does not load"));
    });
}

/// plotters' errors carry the backend's error; the figure's name says where it happened.
pub(crate) fn fig_err<E: std::fmt::Debug>(figure: &str) -> impl Fn(E) -> ReportError + '_ {
    move |e| ReportError::Figure { figure: figure.to_string(), message: format!("{e:?}") }
}

/// A range around `values` with 5% of room on each side (a flat range gets room of its own).
pub(crate) fn padded_range(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let room = if hi > lo { (hi - lo) * 0.05 } else { lo.abs().max(1e-3) * 0.05 };
    (lo - room, hi + room)
}

/// Tick labels that show as many decimals as the axis needs.
pub(crate) fn tick(x: f64, span: f64) -> String {
    let decimals = if span >= 100.0 {
        0
    } else if span >= 5.0 {
        1
    } else if span >= 0.5 {
        2
    } else if span >= 0.05 {
        3
    } else {
        4
    };
    format!("{x:.decimals$}")
}

/// The legend of a chart, in the figures' one style.
pub(crate) fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    font_size: u32,
    figure: &str,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, font_size))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(fig_err(figure))
}

//! The report's plots, drawn by `plotters` into SVG strings that the page inlines. Each
//! function takes plain series, so it knows nothing of runs or files.

use crate::error::{Error, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

const SIZE: (u32, u32) = (560, 340);
/// Tableau's ten colours: distinct, and still told apart by most colour-blind readers.
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

pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A named line of (x, y) points.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    /// Index into the palette: a run keeps its colour across plots.
    pub colour: usize,
    pub points: Vec<(f64, f64)>,
}

/// How an axis maps values: log scales take log₁₀ of the values (non-positive ones are
/// dropped) and label ticks with the powers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    Linear,
    Log,
}

impl Scale {
    fn map(self, v: f64) -> Option<f64> {
        match self {
            Scale::Linear => v.is_finite().then_some(v),
            Scale::Log => (v.is_finite() && v > 0.0).then(|| v.log10()),
        }
    }

    /// The tick label of `v` (in mapped units) on an axis `span` mapped units long: as many
    /// decimals as tell ticks a tenth of the axis apart (one more on log axes, whose ticks
    /// are not round numbers), scientific for the very small and the large.
    fn label(self, v: f64, span: f64) -> String {
        let (x, step) = match self {
            Scale::Linear => (v, span / 10.0),
            Scale::Log => {
                let x = 10f64.powf(v);
                (x, x * (10f64.powf(span / 10.0) - 1.0) / 10.0)
            }
        };
        let a = x.abs();
        if a != 0.0 && !(1e-2..1e4).contains(&a) {
            return format!("{x:.0e}");
        }
        let decimals = (-step.abs().max(1e-12).log10()).ceil().clamp(0.0, 4.0) as usize;
        format!("{x:.decimals$}")
    }
}

fn plot_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> Error {
    Error::data("report", format!("drawing a plot: {e}"))
}

/// The axes of a plot of `series` under the scales: None when no point survives them.
fn extent(series: &[Series], sx: Scale, sy: Scale) -> Option<((f64, f64), (f64, f64))> {
    let pts = series.iter().flat_map(|s| &s.points);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts {
        if let (Some(x), Some(y)) = (sx.map(*x), sy.map(*y)) {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
    }
    if x0 > x1 {
        return None;
    }
    let pad = |a: f64, b: f64| {
        let d = if b > a {
            (b - a) * 0.05
        } else {
            a.abs().max(1.0) * 0.05
        };
        (a - d, b + d)
    };
    Some((pad(x0, x1), pad(y0, y1)))
}

fn svg_of(draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    Ok(out)
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The legend of the labelled series, in a light box.
fn legend<'a>(chart: &mut Chart<'a, 'a>, at: SeriesLabelPosition) -> Result<()> {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(plot_err)
}

/// Axis titles and scales of a plot.
pub struct Axes<'a> {
    pub title: &'a str,
    pub x: &'a str,
    pub y: &'a str,
    pub x_scale: Scale,
    pub y_scale: Scale,
}

/// One line per series (or dots, with `dots`, and for a series of one point), a legend when there are several, and an
/// optional horizontal or vertical marker line (`hline`, `vline`, in data units) with its
/// label. None when no series has a point to draw.
pub fn lines(
    axes: &Axes,
    series: &[Series],
    dots: bool,
    hline: Option<(f64, &str)>,
    vline: Option<(f64, &str)>,
) -> Result<Option<String>> {
    let (sx, sy) = (axes.x_scale, axes.y_scale);
    let mut all: Vec<Series> = series.to_vec();
    // The markers widen the axes so they stay in view.
    if let (Some((v, _)), Some(first)) = (hline, series.first()) {
        if let Some(p) = first.points.first() {
            all.push(Series {
                name: String::new(),
                colour: 0,
                points: vec![(p.0, v)],
            });
        }
    }
    if let (Some((v, _)), Some(first)) = (vline, series.first()) {
        if let Some(p) = first.points.first() {
            all.push(Series {
                name: String::new(),
                colour: 0,
                points: vec![(v, p.1)],
            });
        }
    }
    let Some(((x0, x1), (y0, y1))) = extent(&all, sx, sy) else {
        return Ok(None);
    };
    svg_of(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(axes.title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(38)
            .y_label_area_size(62)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(axes.x)
            .y_desc(axes.y)
            .x_label_formatter(&|v| sx.label(*v, x1 - x0))
            .y_label_formatter(&|v| sy.label(*v, y1 - y0))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(plot_err)?;
        for s in series {
            let c = colour(s.colour);
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter_map(|(x, y)| Some((sx.map(*x)?, sy.map(*y)?)))
                .collect();
            // A line through one point draws nothing: a series of one logged row is a dot.
            let drawn = if dots || pts.len() == 1 {
                chart
                    .draw_series(pts.iter().map(|p| Circle::new(*p, 2, c.filled())))
                    .map_err(plot_err)?
            } else {
                chart
                    .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                    .map_err(plot_err)?
            };
            drawn.label(s.name.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3))
            });
        }
        let marker = RGBColor(90, 90, 90);
        if let Some((v, label)) = hline.and_then(|(v, l)| Some((sy.map(v)?, l))) {
            chart
                .draw_series(DashedLineSeries::new(
                    [(x0, v), (x1, v)],
                    6,
                    4,
                    marker.stroke_width(1),
                ))
                .map_err(plot_err)?
                .label(label.to_string())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], marker));
        }
        if let Some((v, label)) = vline.and_then(|(v, l)| Some((sx.map(v)?, l))) {
            chart
                .draw_series(DashedLineSeries::new(
                    [(v, y0), (v, y1)],
                    6,
                    4,
                    marker.stroke_width(1),
                ))
                .map_err(plot_err)?
                .label(label.to_string())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], marker));
        }
        if series.len() > 1 || hline.is_some() || vline.is_some() {
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    })
    .map(Some)
}

/// Bars of `values` (one per index) on a log scale, coloured by which side of `threshold`
/// they fall, with the threshold drawn across: the encoder variances of Dai & Wipf's
/// Figure 2, active dimensions (mean σ_z² near 0) in colour, superfluous ones (near 1) grey.
pub fn variance_bars(title: &str, values: &[f64], threshold: f64) -> Result<Option<String>> {
    let logs: Vec<f64> = values.iter().map(|v| v.max(1e-6).log10()).collect();
    if logs.is_empty() {
        return Ok(None);
    }
    let lo = logs
        .iter()
        .cloned()
        .fold(0.0f64, f64::min)
        .floor()
        .min(-1.0);
    let n = values.len();
    svg_of(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(38)
            .y_label_area_size(62)
            .build_cartesian_2d(0.0..n as f64, lo..0.3)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("latent dimension (sorted by mean σ_z²)")
            .y_desc("mean σ_z²")
            .y_label_formatter(&|v| Scale::Log.label(*v, 0.3 - lo))
            // Bars sit at whole indices: no label between them.
            .x_label_formatter(&|v| {
                if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            })
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(plot_err)?;
        let mut sorted: Vec<f64> = logs.clone();
        sorted.sort_by(f64::total_cmp);
        let t = threshold.log10();
        chart
            .draw_series(sorted.iter().enumerate().map(|(i, v)| {
                let c = if *v < t {
                    colour(0)
                } else {
                    RGBColor(170, 170, 170)
                };
                Rectangle::new([(i as f64 + 0.1, lo), (i as f64 + 0.9, *v)], c.filled())
            }))
            .map_err(plot_err)?;
        let marker = colour(3);
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, t), (n as f64, t)],
                6,
                4,
                marker.stroke_width(2),
            ))
            .map_err(plot_err)?
            .label(format!(
                "threshold {threshold}: active below, superfluous above"
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], marker));
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    })
    .map(Some)
}

/// A 2-d scatter with one colour per label (the thesis chapter's Figure 5.3: the encoded
/// test set coloured by class); points without labels share the first colour.
pub fn scatter(title: &str, points: &[[f64; 2]], labels: Option<&[u8]>) -> Result<Option<String>> {
    let mut groups: Vec<Series> = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let l = labels.and_then(|l| l.get(i)).copied().unwrap_or(0) as usize;
        while groups.len() <= l {
            groups.push(Series {
                name: if labels.is_some() {
                    format!("label {}", groups.len())
                } else {
                    "test images".into()
                },
                colour: groups.len(),
                points: Vec::new(),
            });
        }
        groups[l].points.push((p[0], p[1]));
    }
    lines(
        &Axes {
            title,
            x: "μ_z₁",
            y: "μ_z₂",
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
        },
        &groups,
        true,
        None,
        None,
    )
}

/// A cells × cells map of `values` (row-major, rows down the first axis, as the decoded
/// lattice's grid), shaded from white (0) to dark blue (the largest value), each cell titled
/// with its value, and a caption of the range: Zhao et al.'s Figure 2, beside the lattice.
pub fn heatmap(title: &str, values: &[f64], cells: usize) -> Result<Option<String>> {
    if cells == 0 || values.len() != cells * cells {
        return Ok(None);
    }
    let top = values.iter().copied().fold(0.0f64, f64::max);
    if !(top.is_finite() && top > 0.0) {
        return Ok(None);
    }
    svg_of(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(38)
            .y_label_area_size(62)
            .build_cartesian_2d(0f64..cells as f64, cells as f64..0f64)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("z₂ cell (left to right)")
            .y_desc("z₁ cell (top to bottom)")
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(values.iter().enumerate().map(|(i, v)| {
                let (r, c) = ((i / cells) as f64, (i % cells) as f64);
                let t = v / top;
                let shade = |full: f64| (255.0 - t * (255.0 - full)) as u8;
                let colour = RGBColor(shade(20.0), shade(60.0), shade(140.0));
                Rectangle::new([(c, r), (c + 1.0, r + 1.0)], colour.filled())
            }))
            .map_err(plot_err)?
            .label(format!("0 (white) to {} (dark)", crate::text::number(top)))
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 5), (x + 12, y + 5)],
                    RGBColor(20, 60, 140).filled(),
                )
            });
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    })
    .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_scale_drops_non_positive_values_and_labels_powers() {
        assert_eq!(Scale::Log.map(-1.0), None);
        assert_eq!(Scale::Log.map(0.0), None);
        assert_eq!(Scale::Log.map(100.0), Some(2.0));
        assert_eq!(Scale::Log.label(-3.0, 4.0), "1e-3");
        assert_eq!(Scale::Linear.label(0.25, 0.5), "0.25");
        assert_eq!(Scale::Linear.label(1500.0, 1000.0), "1500");
        assert_eq!(Scale::Linear.label(300.0, 20.0), "300");
        // Three decades: ticks 1.6, 2.5, 4.0, 6.3, 10, ... 40.
        assert_eq!(Scale::Log.label(0.2, 3.0), "1.6");
        assert_eq!(Scale::Log.label(1.6, 3.0), "40");
        // A narrow log axis (0.95 to 1.01) keeps its ticks apart.
        let span = (1.01f64 / 0.95).log10();
        assert_eq!(Scale::Log.label(0.96f64.log10(), span), "0.9600");
        assert_eq!(Scale::Log.label(0.97f64.log10(), span), "0.9700");
    }

    #[test]
    fn a_plot_has_its_title_one_path_per_series_and_none_without_points() {
        let s = |name: &str, k: f64| Series {
            name: name.into(),
            colour: k as usize,
            points: (1..20).map(|i| (i as f64, k * i as f64)).collect(),
        };
        let axes = Axes {
            title: "loss against step",
            x: "step",
            y: "loss",
            x_scale: Scale::Linear,
            y_scale: Scale::Log,
        };
        let svg = lines(&axes, &[s("a", 1.0), s("b", 2.0)], false, None, None)
            .unwrap()
            .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.contains("loss against step"));
        // Two series in the legend.
        assert!(svg.contains(">\na\n</text>") && svg.contains(">\nb\n</text>"));
        // Each series in its own colour, once as its line and once as its legend swatch.
        for c in [colour(1), colour(2)] {
            let stroke = format!("stroke=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
            assert_eq!(svg.matches(&stroke).count(), 2, "{stroke}");
        }
        let empty = Series {
            name: "e".into(),
            colour: 0,
            points: vec![(1.0, -1.0)],
        };
        assert!(lines(&axes, &[empty], false, None, None).unwrap().is_none());
        // A stage that logged one row is drawn as a dot, not an empty frame.
        let one = Series {
            name: "one".into(),
            colour: 3,
            points: vec![(5.0, 2.0)],
        };
        let svg = lines(&axes, &[one], false, None, None).unwrap().unwrap();
        assert_eq!(svg.matches("<circle").count(), 1, "{svg}");
    }

    #[test]
    fn a_heatmap_has_a_cell_per_value_darkest_at_the_largest() {
        let svg = heatmap("variance", &[0.0, 1.0, 2.0, 4.0], 2)
            .unwrap()
            .unwrap();
        // Four cells, one legend swatch, and the background.
        assert!(svg.matches("<rect").count() >= 5, "{svg}");
        assert!(
            svg.contains("fill=\"#143C8C\""),
            "the largest is the darkest: {svg}"
        );
        assert!(svg.contains("fill=\"#FFFFFF\""), "zero is white");
        assert!(heatmap("bad", &[1.0; 3], 2).unwrap().is_none());
    }

    #[test]
    fn variance_bars_colour_the_active_dimensions() {
        let v = [0.01, 0.02, 0.9, 0.95, 0.99];
        let svg = variance_bars("σ", &v, 0.5).unwrap().unwrap();
        let active = format!("fill=\"#{:02X}{:02X}{:02X}\"", 31, 119, 180);
        assert_eq!(svg.matches(&active).count(), 2, "two bars below 0.5");
        assert_eq!(svg.matches("fill=\"#AAAAAA\"").count(), 3);
    }
}

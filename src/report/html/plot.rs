//! The report page's charts, drawn with plotters' SVG backend into strings.
//!
//! Each run has one look: a colour from the Okabe-Ito palette (safe for colour-blind readers)
//! in an order where neighbours differ in lightness, and a marker shape, so runs stay apart in
//! a grey-scale print. A run's line is one `<polyline>` in its colour; legend samples are
//! rectangles and markers, never lines, so the lines in an SVG are exactly the data series.

use std::ops::Range;

use hdrhistogram::Histogram;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 440;
/// The percentile axis ends at p99.999: 1 / (1 - 0.99999).
pub const PERCENTILE_X_MAX: f64 = 100_000.0;

/// Okabe-Ito: black (a near-black, so that a run's line is never mistaken for an axis),
/// orange, blue, bluish green, vermillion, sky blue, reddish purple, yellow.
const PALETTE: [RGBColor; 8] = [
    RGBColor(26, 26, 26),
    RGBColor(230, 159, 0),
    RGBColor(0, 114, 178),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
    RGBColor(86, 180, 233),
    RGBColor(204, 121, 167),
    RGBColor(240, 228, 66),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Triangle,
    Cross,
    Ring,
}

/// How run `i` is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    pub colour: RGBColor,
    pub marker: Marker,
}

pub fn look(i: usize) -> Look {
    const MARKERS: [Marker; 4] = [Marker::Circle, Marker::Triangle, Marker::Cross, Marker::Ring];
    Look { colour: PALETTE[i % PALETTE.len()], marker: MARKERS[i % MARKERS.len()] }
}

/// The SVG colour attribute of a look, as plotters writes it (for tests that find a run's line).
pub fn svg_colour(colour: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", colour.0, colour.1, colour.2)
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub look: Look,
    pub points: Vec<(f64, f64)>,
    /// A secondary line (p50 beside p99, uncorrected beside corrected): thin, no markers.
    pub thin: bool,
}

/// A latency unit chosen so that the axis reads in small numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unit {
    pub name: &'static str,
    pub per_us: f64,
}

impl Unit {
    pub fn for_max_us(max_us: f64) -> Unit {
        if max_us < 2_000.0 {
            Unit { name: "µs", per_us: 1.0 }
        } else if max_us < 2_000_000.0 {
            Unit { name: "ms", per_us: 1e-3 }
        } else {
            Unit { name: "s", per_us: 1e-6 }
        }
    }
}

/// The percentile curve of a histogram, as HdrHistogram's plotter draws it: x is 1 / (1 - q)
/// (so p90 is 10, p99 100, ... p99.999 100,000) and y the latency in microseconds at q. The
/// last point is the histogram's maximum at p99.999 (where the axis ends). Empty for an
/// empty histogram.
pub fn percentile_curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = Vec::new();
    if h.is_empty() {
        return points;
    }
    points.push((1.0, h.min() as f64));
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        if q >= 1.0 {
            break;
        }
        let x = 1.0 / (1.0 - q);
        if x >= PERCENTILE_X_MAX {
            break;
        }
        if x > points.last().map_or(0.0, |p| p.0) {
            points.push((x, h.highest_equivalent(v.value_iterated_to()) as f64));
        }
    }
    points.push((PERCENTILE_X_MAX, h.max() as f64));
    points
}

fn percentile_label(x: f64) -> String {
    let decade = x.log10();
    if (decade - decade.round()).abs() > 1e-6 {
        return String::new();
    }
    match decade.round() as i32 {
        0 => "p0".to_string(),
        1 => "p90".to_string(),
        2 => "p99".to_string(),
        d => format!("p99.{}", "9".repeat((d - 2) as usize)),
    }
}

/// 1234567.0 -> "1,234,567"; small values keep up to 2 decimals.
pub fn number(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        crate::units::rounded(v)
    } else {
        format!("{v:.2}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// plotters failed to draw a chart (into a string, so in practice never): its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotError(pub String);

impl std::fmt::Display for PlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "drawing a chart failed: {}", self.0)
    }
}

impl std::error::Error for PlotError {}

fn plot_error(e: impl std::fmt::Display) -> PlotError {
    PlotError(e.to_string())
}

/// What a chart's axes say.
struct Axes<'f> {
    x_desc: &'f str,
    x_format: &'f dyn Fn(&f64) -> String,
    y_desc: &'f str,
}

/// A white chart with its title, room for the legend's rows (`labels`), and its axes and grid
/// drawn: what every chart starts from.
fn frame<'a, 'b, X>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    title: &str,
    labels: &[&str],
    x_spec: X,
    y_range: Range<f64>,
    axes: &Axes<'_>,
) -> Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<X::CoordDescType, RangedCoordf64>>, PlotError>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    root.fill(&WHITE).map_err(plot_error)?;
    draw_title(root, title)?;
    let mut chart = ChartBuilder::on(root)
        .margin(16)
        .margin_right(48)
        .margin_top(TITLE_HEIGHT + legend_height(labels))
        .x_label_area_size(48)
        .y_label_area_size(86)
        .build_cartesian_2d(x_spec, y_range)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .x_label_formatter(axes.x_format)
        .y_label_formatter(&|v| number(*v))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(plot_error)?;
    Ok(chart)
}

/// Draws `series` on a chart with the given axes. `x_spec` is a linear or log range.
#[allow(clippy::too_many_arguments)]
fn line_chart<X>(
    title: &str,
    x_spec: X,
    x_desc: &str,
    x_format: &dyn Fn(&f64) -> String,
    y_range: Range<f64>,
    y_desc: &str,
    series: &[Series],
    note: Option<&str>,
) -> Result<String, PlotError>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let labels: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
        let axes = Axes { x_desc, x_format, y_desc };
        let mut chart = frame(&root, title, &labels, x_spec, y_range, &axes)?;
        for s in series {
            draw_series(&mut chart, s)?;
        }
        let entries: Vec<Entry> = series
            .iter()
            .map(|s| Entry {
                label: s.label.clone(),
                colour: s.look.colour,
                marker: (!s.thin).then_some(s.look.marker),
                thick: !s.thin,
            })
            .collect();
        draw_legend(&root, &entries)?;
        if let Some(note) = note {
            root.draw(&Text::new(note.to_string(), (WIDTH as i32 / 2 - 120, HEIGHT as i32 / 2), ("sans-serif", 20)))
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn draw_series<X, Y>(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, Y>>,
    s: &Series,
) -> Result<(), PlotError>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let colour = s.look.colour;
    let style = ShapeStyle { color: colour.to_rgba(), filled: false, stroke_width: if s.thin { 1 } else { 3 } };
    let marker = (!s.thin).then_some(s.look.marker);
    chart.draw_series(LineSeries::new(s.points.iter().copied(), style)).map_err(plot_error)?;
    if let Some(m) = marker {
        // At most ~24 markers a line, so long lines stay readable.
        let step = s.points.len().div_ceil(24).max(1);
        let marks: Vec<(f64, f64)> = s.points.iter().copied().step_by(step).collect();
        match m {
            Marker::Circle => chart.draw_series(marks.into_iter().map(|p| Circle::new(p, 4, colour.filled()))),
            Marker::Triangle => {
                chart.draw_series(marks.into_iter().map(|p| TriangleMarker::new(p, 5, colour.filled())))
            }
            Marker::Cross => chart.draw_series(marks.into_iter().map(|p| Cross::new(p, 4, colour.stroke_width(2)))),
            Marker::Ring => chart.draw_series(marks.into_iter().map(|p| Circle::new(p, 4, colour.stroke_width(2)))),
        }
        .map_err(plot_error)?;
    }
    Ok(())
}

/// One legend entry: a bar in the series' colour (thick or thin), its marker, its label.
struct Entry {
    label: String,
    colour: RGBColor,
    marker: Option<Marker>,
    thick: bool,
}

const LEGEND_ROW: i32 = 24;
/// The title's band at the top; the legend's rows follow it, then the chart.
const TITLE_HEIGHT: u32 = 44;
const LEGEND_TOP: i32 = TITLE_HEIGHT as i32 + 4;

fn draw_title(root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, title: &str) -> Result<(), PlotError> {
    let style = TextStyle::from(("sans-serif", 22).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
    root.draw(&Text::new(title.to_string(), (WIDTH as i32 / 2, TITLE_HEIGHT as i32 / 2 + 2), style)).map_err(plot_error)
}

/// Pixels an entry takes across: the sample, a gap, and the label (sans-serif 15 px averages
/// under 8.5 px a character; wider is only wasted space, never an overlap).
fn entry_width(label: &str) -> i32 {
    40 + (label.chars().count() as f64 * 8.5) as i32 + 24
}

/// The legend's rows, laid out left to right under the title, wrapping at the chart's width.
fn legend_rows(labels: &[&str]) -> Vec<Vec<usize>> {
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut x = 0;
    for (i, label) in labels.iter().enumerate() {
        let w = entry_width(label);
        if rows.is_empty() || x + w > WIDTH as i32 - 120 {
            rows.push(Vec::new());
            x = 0;
        }
        rows.last_mut().expect("a row was pushed").push(i);
        x += w;
    }
    rows
}

fn legend_height(labels: &[&str]) -> u32 {
    (legend_rows(labels).len() as i32 * LEGEND_ROW + 4) as u32
}

fn draw_legend(root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, entries: &[Entry]) -> Result<(), PlotError> {
    let labels: Vec<&str> = entries.iter().map(|e| e.label.as_str()).collect();
    for (r, row) in legend_rows(&labels).iter().enumerate() {
        let y = LEGEND_TOP + r as i32 * LEGEND_ROW;
        let mut x = 110;
        for &i in row {
            let e = &entries[i];
            let half = if e.thick { 2 } else { 0 };
            root.draw(&Rectangle::new([(x, y - half), (x + 30, y + half + 1)], e.colour.filled()))
                .map_err(plot_error)?;
            let at = (x + 15, y);
            match e.marker {
                Some(Marker::Circle) => root.draw(&Circle::new(at, 4, e.colour.filled())),
                Some(Marker::Triangle) => root.draw(&TriangleMarker::new(at, 5, e.colour.filled())),
                Some(Marker::Cross) => root.draw(&Cross::new(at, 4, e.colour.stroke_width(2))),
                Some(Marker::Ring) => root.draw(&Circle::new(at, 4, e.colour.stroke_width(2))),
                None => Ok(()),
            }
            .map_err(plot_error)?;
            let style = TextStyle::from(("sans-serif", 15).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(e.label.clone(), (x + 40, y), style)).map_err(plot_error)?;
            x += entry_width(&e.label);
        }
    }
    Ok(())
}

/// The highest y of the series (at least `floor`), with 8% headroom.
fn y_top(series: &[Series], floor: f64) -> f64 {
    let max = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(floor, f64::max);
    max * 1.08
}

/// Chart 1: latency by percentile, log "1/(1-q)" axis from p0 to p99.999.
pub fn percentiles(series: &[Series], unit: Unit) -> Result<String, PlotError> {
    let scaled: Vec<Series> = series
        .iter()
        .map(|s| Series { points: s.points.iter().map(|&(x, y)| (x, y * unit.per_us)).collect(), ..s.clone() })
        .collect();
    let note = series.iter().all(|s| s.points.is_empty()).then_some("no responses: nothing to plot");
    line_chart(
        "Latency by percentile",
        (1.0..PERCENTILE_X_MAX).log_scale(),
        "percentile (log scale of 1/(1-q))",
        &|x| percentile_label(*x),
        0.0..y_top(&scaled, unit.per_us),
        &format!("latency ({})", unit.name),
        &scaled,
        note,
    )
}

/// Chart 2: requests per second over the run.
pub fn throughput(series: &[Series], seconds: f64) -> Result<String, PlotError> {
    let note = series.iter().all(|s| s.points.is_empty()).then_some("no measured second: nothing to plot");
    line_chart(
        "Throughput",
        0.0..seconds.max(1.0),
        "time since the start (s)",
        &|x| number(*x),
        0.0..y_top(series, 1.0),
        "responses per second",
        series,
        note,
    )
}

/// Chart 3: p50 and p99 latency per second (points already in `unit`).
pub fn latency_over_time(series: &[Series], seconds: f64, unit: Unit) -> Result<String, PlotError> {
    let note = series.iter().all(|s| s.points.is_empty()).then_some("no responses: nothing to plot");
    line_chart(
        "Latency over time: p99 (thick) and p50 (thin), per second",
        0.0..seconds.max(1.0),
        "time since the start (s)",
        &|x| number(*x),
        0.0..y_top(series, unit.per_us),
        &format!("latency ({})", unit.name),
        series,
        note,
    )
}

/// Chart 4: errors per second of one run, a bar per timeline entry (`bar_s` seconds) stacked
/// by kind (`layers`: kind name and its errors per second, at x = the middle of the entry).
pub fn errors(
    title: &str,
    layers: &[(String, Vec<(f64, f64)>)],
    bar_s: f64,
    seconds: f64,
) -> Result<String, PlotError> {
    // Greys and colours of distinct lightness, darkest at the bottom of the stack.
    const FILLS: [RGBColor; 6] = [
        RGBColor(40, 40, 40),
        RGBColor(213, 94, 0),
        RGBColor(120, 120, 120),
        RGBColor(86, 180, 233),
        RGBColor(190, 190, 190),
        RGBColor(240, 228, 66),
    ];
    // Cumulative tops, bottom layer first.
    let mut tops: Vec<Vec<(f64, f64)>> = Vec::with_capacity(layers.len());
    for (i, (_, points)) in layers.iter().enumerate() {
        let top: Vec<(f64, f64)> =
            points.iter().enumerate().map(|(j, &(x, y))| (x, y + if i > 0 { tops[i - 1][j].1 } else { 0.0 })).collect();
        tops.push(top);
    }
    let y_max = tops.last().map_or(1.0, |t| t.iter().map(|p| p.1).fold(1.0, f64::max)) * 1.08;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let labels: Vec<&str> = layers.iter().map(|l| l.0.as_str()).collect();
        let axes = Axes { x_desc: "time since the start (s)", x_format: &|x| number(*x), y_desc: "errors per second" };
        let mut chart = frame(&root, title, &labels, 0.0..seconds.max(1.0), 0.0..y_max, &axes)?;
        // A bar per entry, its kinds stacked from the bottom in layer order.
        for (i, (_, points)) in layers.iter().enumerate() {
            let fill = FILLS[i % FILLS.len()];
            let bars = points.iter().enumerate().filter(|(_, p)| p.1 > 0.0).map(|(j, &(x, y))| {
                let base = if i > 0 { tops[i - 1][j].1 } else { 0.0 };
                Rectangle::new([(x - 0.4 * bar_s, base), (x + 0.4 * bar_s, base + y)], fill.filled())
            });
            chart.draw_series(bars).map_err(plot_error)?;
        }
        let entries: Vec<Entry> = layers
            .iter()
            .enumerate()
            .map(|(i, (name, _))| Entry {
                label: name.clone(),
                colour: FILLS[i % FILLS.len()],
                marker: None,
                thick: true,
            })
            .collect();
        draw_legend(&root, &entries)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// A horizontal line across a chart: an objective's bound.
#[derive(Debug, Clone)]
pub struct Threshold {
    pub y: f64,
    pub label: String,
}

/// A point marked on a chart with a ring and a label: a sweep's knee.
#[derive(Debug, Clone)]
pub struct Mark {
    pub look: Look,
    pub at: (f64, f64),
    pub label: String,
}

/// The grey of objectives' lines.
pub const THRESHOLD_GREY: RGBColor = RGBColor(110, 110, 110);

/// A sweep's chart: latency (points already in `unit`, log scale) against achieved
/// throughput, the objectives' bounds as grey horizontal lines, each knee ringed and labelled.
pub fn latency_throughput(
    series: &[Series],
    thresholds: &[Threshold],
    marks: &[Mark],
    unit: Unit,
) -> Result<String, PlotError> {
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).chain(thresholds.iter().map(|t| t.y));
    let (y_min, y_max) = ys.filter(|y| *y > 0.0).fold((f64::INFINITY, 0.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let (y_lo, y_hi) = if y_max > 0.0 { (y_min / 1.6, y_max * 1.6) } else { (unit.per_us, 1000.0 * unit.per_us) };
    let x_hi = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).fold(1.0, f64::max) * 1.08;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT + 80)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        draw_title(&root, "Latency against throughput: p99 (thick) and p50 (thin), corrected")?;
        let labels: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
        let mut chart = ChartBuilder::on(&root)
            .margin(16)
            .margin_right(48)
            .margin_top(TITLE_HEIGHT + legend_height(&labels))
            .x_label_area_size(48)
            .y_label_area_size(86)
            .build_cartesian_2d(0.0..x_hi, (y_lo..y_hi).log_scale())
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("achieved throughput (responses per second)")
            .y_desc(format!("latency ({}), log scale", unit.name))
            .x_label_formatter(&|x| number(*x))
            .y_label_formatter(&|v| number(*v))
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(plot_error)?;
        for t in thresholds {
            let style = ShapeStyle { color: THRESHOLD_GREY.to_rgba(), filled: false, stroke_width: 2 };
            chart.draw_series(LineSeries::new([(0.0, t.y), (x_hi, t.y)], style)).map_err(plot_error)?;
            let font = TextStyle::from(("sans-serif", 15).into_font()).pos(Pos::new(HPos::Right, VPos::Bottom));
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x_hi, t.y)) + Text::new(t.label.clone(), (-6, -4), font),
                ))
                .map_err(plot_error)?;
        }
        for s in series {
            draw_series(&mut chart, s)?;
        }
        for m in marks {
            let font = TextStyle::from(("sans-serif", 16).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom));
            let ring = Circle::new((0, 0), 11, m.look.colour.stroke_width(3));
            let text = Text::new(m.label.clone(), (10, -12), font);
            chart.draw_series(std::iter::once(EmptyElement::at(m.at) + ring + text)).map_err(plot_error)?;
        }
        let entries: Vec<Entry> = series
            .iter()
            .map(|s| Entry {
                label: s.label.clone(),
                colour: s.look.colour,
                marker: (!s.thin).then_some(s.look.marker),
                thick: !s.thin,
            })
            .collect();
        draw_legend(&root, &entries)?;
        if series.iter().all(|s| s.points.is_empty()) {
            root.draw(&Text::new(
                "no responses: nothing to plot".to_string(),
                (WIDTH as i32 / 2 - 120, HEIGHT as i32 / 2),
                ("sans-serif", 20),
            ))
            .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_curve_ends_at_the_max_at_p99999() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for v in 1..=10_000u64 {
            h.record(v * 10).unwrap();
        }
        h.record(5_000_000).unwrap();
        let curve = percentile_curve(&h);
        assert_eq!(curve.first().unwrap(), &(1.0, h.min() as f64));
        assert_eq!(curve.last().unwrap(), &(PERCENTILE_X_MAX, h.max() as f64));
        assert!(curve.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "x rises and y never falls");
        assert!(curve.len() > 20, "enough points for a curve: {}", curve.len());
        assert!(percentile_curve(&Histogram::<u64>::new(3).unwrap()).is_empty());
    }

    #[test]
    fn axis_labels_and_units() {
        assert_eq!(percentile_label(1.0), "p0");
        assert_eq!(percentile_label(100.0), "p99");
        assert_eq!(percentile_label(100_000.0), "p99.999");
        assert_eq!(percentile_label(50.0), "");
        assert_eq!(Unit::for_max_us(900.0).name, "µs");
        assert_eq!(Unit::for_max_us(25_000.0).name, "ms");
        assert_eq!(Unit::for_max_us(3e6).name, "s");
        assert_eq!(number(1_234_567.4), "1,234,567");
        assert_eq!(number(0.25), "0.25");
    }
}

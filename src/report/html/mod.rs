//! `clobber report` and `--html`: one self-contained HTML page (inline CSS and SVG; no script,
//! no font, nothing fetched) from one or more runs' reports, overlaid on the same charts.
//!
//! Everything comes from the JSON report: the percentile curve from the lossless histogram
//! (not from the rounded summary), the time charts from the timeline: a point (or a bar) per
//! entry at its time, an entry being a second or, in runs longer than the timeline's cap,
//! `span_s` seconds; rates are per second (an entry's count over its length).

pub mod plot;
pub mod sweep;

use std::fmt::{self, Write as _};
use std::path::Path;

use hdrhistogram::Histogram;

use crate::error::ErrorKind;
use crate::report::{
    bottleneck_sentence, decode_histogram, handshakes_sentence, load_sentence, reply_counts, status_codes,
    target_sentence, tls_sentence, HistogramError, Latency, Report, Second,
};
use crate::units::{group, micros, per_s, rate, rounded, seconds, utc};
use plot::{look, PlotError, Series, Unit};

/// A line's points: (x, y) in the chart's units.
pub type Points = Vec<(f64, f64)>;

/// One run on the page.
#[derive(Debug, Clone)]
pub struct PageRun {
    pub label: String,
    pub report: Report,
}

/// Labels for runs read from `files`: `given` in order (`--label`), then the file names
/// without `.json`; repeated names get a number.
pub fn labels(files: &[&Path], given: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        let base = given.get(i).cloned().unwrap_or_else(|| {
            let name =
                file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
            name.strip_suffix(".json").map_or(name.clone(), str::to_string)
        });
        let mut label = base.clone();
        let mut n = 2;
        while out.contains(&label) {
            label = format!("{base} ({n})");
            n += 1;
        }
        out.push(label);
    }
    out
}

/// Points of the throughput chart: one per timeline entry (a second, or `span_s` seconds) at
/// its middle, responses divided by the entry's length. The last entry is usually cut short
/// by the end of the run; it is scaled to its length, or left out when shorter than a quarter
/// second (a rate over a sliver of time says nothing).
pub fn throughput_points(report: &Report) -> Vec<(f64, f64)> {
    plotted_entries(report).map(|(i, t, len)| (t + len / 2.0, per_s(report.timeline[i].requests as f64, len))).collect()
}

/// Points of the p50 and p99 chart (in `unit`): the entries that completed responses (the
/// last one, as for throughput, unless it is a sliver).
pub fn latency_points(report: &Report, unit: Unit) -> (Points, Points) {
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    for (i, t, len) in plotted_entries(report) {
        let s = &report.timeline[i];
        if s.requests > 0 {
            let x = t + len / 2.0;
            p50.push((x, s.p50_us as f64 * unit.per_us));
            p99.push((x, s.p99_us as f64 * unit.per_us));
        }
    }
    (p50, p99)
}

/// The timeline entries the rate and latency charts show: (index, start, length), in seconds.
/// An entry lasts its `span_s`, except the last, which is cut short by the end of the run and
/// left out when shorter than a quarter second (a rate or a p99 over a sliver of time says
/// nothing). A report whose duration is 0 (nothing measured) still shows its entries.
fn plotted_entries(report: &Report) -> impl Iterator<Item = (usize, f64, f64)> + '_ {
    let n = report.timeline.len();
    report
        .timeline
        .iter()
        .enumerate()
        .map(move |(i, s)| {
            let (t, span) = (s.t_s as f64, s.span_s as f64);
            let len = if i + 1 == n { (report.duration_s - t).clamp(0.0, span) } else { span };
            (i, t, if report.duration_s == 0.0 { span } else { len })
        })
        .filter(|&(_, _, len)| len >= 0.25)
}

/// The error layers of one run: each kind that occurred, with its errors per second in each
/// timeline entry (at the entry's middle).
fn error_layers(report: &Report) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut kinds: Vec<ErrorKind> = report.timeline.iter().flat_map(|s| s.errors_by_kind.keys().copied()).collect();
    kinds.sort();
    kinds.dedup();
    let at = |s: &Second| s.t_s as f64 + s.span_s as f64 / 2.0;
    let per_s_of = |s: &Second, n: u64| per_s(n as f64, s.span_s as f64);
    if kinds.is_empty() {
        // A report from before errors were split by kind per second: one layer.
        return vec![("errors".to_string(), report.timeline.iter().map(|s| (at(s), per_s_of(s, s.errors))).collect())];
    }
    kinds
        .into_iter()
        .map(|k| {
            let points = report
                .timeline
                .iter()
                .map(|s| (at(s), per_s_of(s, s.errors_by_kind.get(&k).copied().unwrap_or(0))))
                .collect();
            (k.name().to_string(), points)
        })
        .collect()
}

/// Seconds each timeline entry of `report` spans (1 for an empty timeline).
fn span_s(report: &Report) -> f64 {
    report.timeline.first().map_or(1.0, |s| s.span_s as f64)
}

/// The page's charts, each an SVG string, in page order, with their captions.
pub struct Charts {
    pub percentiles: String,
    pub throughput: String,
    pub latency: String,
    /// One per run that had errors: (label, SVG).
    pub errors: Vec<(String, String)>,
}

/// How many seconds the time charts span: the longest run's whole seconds.
fn time_span_s(runs: &[PageRun]) -> f64 {
    // A run of -d 4s lasts 4.000x s: its sliver of a fifth second is not plotted (see
    // `throughput_points`), so the axis ends at 4.
    // Errors are counts, not rates: a sliver's errors are drawn, so the axis takes it in.
    runs.iter()
        .map(|r| {
            let whole = (r.report.duration_s - 0.25).ceil();
            let errors_end = r
                .report
                .timeline
                .iter()
                .filter(|s| s.errors > 0)
                .map(|s| (s.t_s + s.span_s) as f64)
                .fold(0.0, f64::max);
            whole.max(errors_end)
        })
        .fold(1.0, f64::max)
}

/// Why a page could not be made.
#[derive(Debug)]
pub enum PageError {
    /// A run's histogram (`which`: "latency" or "uncorrected") could not be read.
    Histogram {
        label: String,
        which: &'static str,
        why: HistogramError,
    },
    Plot(PlotError),
    /// A run's folded stacks could not be drawn.
    Profile(String),
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::Histogram { label, which, why } => write!(f, "{label}: the {which} histogram is corrupt: {why}"),
            PageError::Plot(e) => e.fmt(f),
            PageError::Profile(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for PageError {}

impl From<PlotError> for PageError {
    fn from(e: PlotError) -> PageError {
        PageError::Plot(e)
    }
}

pub fn charts(runs: &[PageRun]) -> Result<Charts, PageError> {
    let mut curves: Vec<Series> = Vec::new();
    let mut max_us: f64 = 1.0;
    for (i, run) in runs.iter().enumerate() {
        let corrupt = |which| move |why| PageError::Histogram { label: run.label.clone(), which, why };
        let h: Histogram<u64> = decode_histogram(&run.report.histogram).map_err(corrupt("latency"))?;
        let uncorrected: Option<Histogram<u64>> = match &run.report.histogram_uncorrected {
            Some(text) => Some(decode_histogram(text).map_err(corrupt("uncorrected"))?),
            None => None,
        };
        max_us = max_us.max(h.max() as f64);
        let label = if uncorrected.is_some() { format!("{} (corrected)", run.label) } else { run.label.clone() };
        curves.push(Series { label, look: look(i), points: plot::percentile_curve(&h), thin: false });
        if let Some(u) = uncorrected {
            max_us = max_us.max(u.max() as f64);
            curves.push(Series {
                label: format!("{} (uncorrected)", run.label),
                look: look(i),
                points: plot::percentile_curve(&u),
                thin: true,
            });
        }
    }
    let unit = Unit::for_max_us(max_us);
    let chart_s = time_span_s(runs);
    let throughput: Vec<Series> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| Series {
            label: r.label.clone(),
            look: look(i),
            points: throughput_points(&r.report),
            thin: false,
        })
        .collect();
    let p99_us_max = runs.iter().flat_map(|r| r.report.timeline.iter().map(|s| s.p99_us)).max().unwrap_or(1) as f64;
    let time_unit = Unit::for_max_us(p99_us_max);
    let mut latency: Vec<Series> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let (p50, p99) = latency_points(&r.report, time_unit);
        latency.push(Series { label: format!("{} p99", r.label), look: look(i), points: p99, thin: false });
        latency.push(Series { label: format!("{} p50", r.label), look: look(i), points: p50, thin: true });
    }
    let mut errors = Vec::new();
    for r in runs.iter().filter(|r| r.report.errors > 0) {
        let title = format!("Errors per second by kind: {}", r.label);
        errors.push((r.label.clone(), plot::errors(&title, &error_layers(&r.report), span_s(&r.report), chart_s)?));
    }
    Ok(Charts {
        percentiles: plot::percentiles(&curves, unit)?,
        throughput: plot::throughput(&throughput, chart_s)?,
        latency: plot::latency_over_time(&latency, chart_s, time_unit)?,
        errors,
    })
}

/// The whole page.
pub fn render(runs: &[PageRun]) -> Result<String, PageError> {
    assert!(!runs.is_empty(), "a page shows at least one run");
    let charts = charts(runs)?;
    let title = if runs.len() == 1 {
        format!("clobber: {}", runs[0].report.run.target)
    } else {
        format!("clobber: {}", runs.iter().map(|r| r.label.as_str()).collect::<Vec<_>>().join(" vs "))
    };
    let mut page = String::with_capacity(256 * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    page.push_str("<h2>Runs</h2>\n");
    table(&mut page, runs, &run_rows());
    page.push_str("<h2>Results</h2>\n");
    table(&mut page, runs, &result_rows());
    for run in runs {
        targets_table(&mut page, run);
    }
    page.push_str("<h2>Latency</h2>\n");
    figure(
        &mut page,
        &charts.percentiles,
        "Latency at each percentile, from the whole run's histogram: the x axis stretches the tail \
         (p99, p99.9, ...) as HdrHistogram's plotter does. Under --rate the thick line counts from \
         when each request was due (corrected), the thin one from when it was written.",
    );
    page.push_str("<h2>Over time</h2>\n");
    figure(
        &mut page,
        &charts.throughput,
        "Responses completed in each second of the run. A dip is a stall; a ramp at the start is a \
         warm-up the run measured.",
    );
    figure(
        &mut page,
        &charts.latency,
        "The median (thin) and p99 (thick) latency of the responses that completed in each second.",
    );
    if charts.errors.is_empty() {
        page.push_str("<p>No errors.</p>\n");
    } else {
        page.push_str("<h2>Errors</h2>\n");
        for (_, svg) in &charts.errors {
            figure(&mut page, svg, "Errors in each second, stacked by kind.");
        }
    }
    for run in runs {
        let Some(profile) = &run.report.profile else { continue };
        // A live run (--html) has its SVG; a JSON report has the folded stacks to draw it from.
        let svg = match (&profile.svg, &profile.folded) {
            (Some(svg), _) => Some(svg.clone()),
            (None, Some(folded)) => {
                flamegraph(folded, &format!("clobber --perf: {}", run.label)).map_err(PageError::Profile)?
            }
            (None, None) => None,
        };
        if let Some(svg) = svg {
            let _ = writeln!(page, "<h2>Profile: {}</h2>", escape(&run.label));
            let _ = writeln!(page, "<div class=\"flamegraph\">{}</div>", inline_flamegraph(&svg));
            page.push_str(
                "<p>perf's cpu-clock samples over the measured window (--perf), as a flamegraph: \
                 each box a function, its width its share of the samples, its callers below it. \
                 Hover a box for its name and count; --perf-out keeps the interactive SVG.</p>\n",
            );
        }
    }
    let profiled: Vec<(&str, &str)> = runs
        .iter()
        .filter_map(|run| {
            let folded = run.report.profile.as_ref()?.folded.as_deref()?;
            (!folded.trim().is_empty()).then_some((run.label.as_str(), folded))
        })
        .collect();
    if let Some(((a_label, a), others)) = profiled.split_first() {
        for (b_label, b) in others {
            let title = format!("A: {a_label}, B: {b_label}");
            let Some(svg) = differential(a, b, &title).map_err(PageError::Profile)? else { continue };
            let _ = writeln!(page, "<h2>Profile difference: {} against {}</h2>", escape(b_label), escape(a_label));
            let _ = writeln!(page, "<div class=\"flamegraph differential\">{}</div>", inline_flamegraph(&svg));
            let _ = writeln!(
                page,
                "<p class=\"caption\">A is {}, B is {}. A differential flamegraph: B's stacks, each box \
                 coloured by how its share of the samples changed from A to B: red grew, blue shrank, \
                 white about the same (A is scaled to B's sample count first).</p>",
                escape(a_label),
                escape(b_label)
            );
        }
    }
    let _ = write!(
        page,
        "<footer>Made by clobber {} with <code>clobber report</code>. Self-contained: no script, font or image is fetched.</footer>\n</body>\n</html>\n",
        escape(crate::VERSION)
    );
    Ok(page)
}

const STYLE: &str = "\
body{font-family:sans-serif;max-width:1240px;margin:0 auto;padding:16px 20px;color:#111;background:#fff}\
h1{font-size:24px;margin:8px 0 12px;overflow-wrap:anywhere}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:14px;margin:4px 0;width:100%;table-layout:auto}\
th,td{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}\
th{background:#eee;font-weight:600;white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums}\
code{font-family:monospace;font-size:13px}\
figure{margin:12px 0 20px}figure svg{display:block;width:100%;height:auto;max-width:1200px}\
figcaption{font-size:13px;color:#333;margin-top:4px}.flamegraph svg{display:block;width:100%;height:auto;max-width:1200px}footer{font-size:12px;color:#555;margin-top:28px}\
@media print{h2{break-after:avoid}figure{break-inside:avoid}}";

type Row = (&'static str, fn(&Report) -> Cell);

/// A table cell: text, or a number (right-aligned).
enum Cell {
    Text(String),
    Code(String),
    Num(String),
}

fn run_rows() -> Vec<Row> {
    vec![
        ("Command", |r| {
            Cell::Code(if r.run.command.is_empty() { "(not recorded)".into() } else { r.run.command.clone() })
        }),
        ("Target", |r| Cell::Text(target_sentence(&r.run))),
        ("Started", |r| Cell::Text(utc(r.run.start_unix_s))),
        ("Load", |r| Cell::Text(load_sentence(&r.run, r.connections_opened))),
        ("Rate asked", |r| {
            Cell::Text(r.run.rate_asked_per_s.map_or("closed loop (no -R)".into(), |x| format!("{} req/s", rate(x))))
        }),
        ("TLS", |r| Cell::Text(r.tls.as_ref().map_or("no".into(), tls_sentence))),
        ("Machine", |r| {
            Cell::Text(match &r.run.machine {
                Some(m) => format!("{}, {} cores, Linux {}", m.cpu_model, m.cores, m.kernel),
                None => "(not recorded, or several)".into(),
            })
        }),
        ("clobber", |r| Cell::Text(r.clobber_version.clone())),
    ]
}

fn result_rows() -> Vec<Row> {
    vec![
        ("Requests", |r| Cell::Num(group(r.requests))),
        ("Duration", |r| Cell::Num(seconds(r.duration_s))),
        ("Requests/s", |r| Cell::Num(rounded(r.requests_per_s))),
        ("Latency p50", |r| latency_cell(r, |l| l.p50)),
        ("Latency p90", |r| latency_cell(r, |l| l.p90)),
        ("Latency p99", |r| latency_cell(r, |l| l.p99)),
        ("Latency p99.9", |r| latency_cell(r, |l| l.p999)),
        ("Latency max", |r| latency_cell(r, |l| l.max)),
        ("Time to first byte p50 / p99", |r| {
            Cell::Num(
                r.ttfb_us
                    .as_ref()
                    .map_or("-".into(), |t| format!("{} / {}", micros(t.p50 as f64), micros(t.p99 as f64))),
            )
        }),
        ("Errors", |r| {
            if r.errors == 0 {
                return Cell::Num("0".into());
            }
            let kinds: Vec<String> = r
                .errors_by_kind
                .iter()
                .filter(|(_, &n)| n > 0)
                .map(|(k, n)| format!("{} {}", k.name(), group(*n)))
                .collect();
            Cell::Text(format!("{} ({})", group(r.errors), kinds.join(", ")))
        }),
        ("First errors", |r| {
            if r.error_messages.is_empty() {
                return Cell::Text("-".into());
            }
            Cell::Text(
                r.error_messages.iter().map(|(k, m)| format!("{}: {m}", k.name())).collect::<Vec<_>>().join("; "),
            )
        }),
        ("Statuses", |r| {
            Cell::Text(match &r.status {
                None => "(raw TCP)".into(),
                Some(s) if s.is_empty() => "none".into(),
                Some(s) => status_codes(s),
            })
        }),
        ("Replies", |r| {
            Cell::Text(match &r.replies {
                None => "-".into(),
                Some(replies) => reply_counts(replies),
            })
        }),
        ("Connections opened", |r| Cell::Num(group(r.connections_opened))),
        ("TLS handshakes", |r| Cell::Num(r.tls.as_ref().map_or("-".into(), handshakes_sentence))),
        ("Client CPU per request", |r| {
            Cell::Num(r.client_cpu.us_per_request.map_or("-".into(), |us| format!("{us:.2} us")))
        }),
        ("Server CPU per request", |r| {
            let us = r.server.as_ref().and_then(|s| s.cpu_us_per_request);
            Cell::Num(us.map_or("-".into(), |us| format!("{us:.2} us")))
        }),
        ("Bottleneck", |r| Cell::Text(bottleneck_sentence(r).unwrap_or_else(|| "-".into()))),
    ]
}

/// A latency figure of the run, or "-" for a run without responses.
fn latency_cell(r: &Report, figure: fn(&Latency) -> u64) -> Cell {
    Cell::Num(r.latency_us.map_or("-".into(), |l| micros(figure(&l.summary) as f64)))
}

fn table(page: &mut String, runs: &[PageRun], rows: &[Row]) {
    page.push_str("<table>\n<tr><th></th>");
    for run in runs {
        let _ = write!(page, "<th>{}</th>", escape(&run.label));
    }
    page.push_str("</tr>\n");
    for (name, cell) in rows {
        let _ = write!(page, "<tr><th>{}</th>", escape(name));
        for run in runs {
            match cell(&run.report) {
                Cell::Text(t) => {
                    let _ = write!(page, "<td>{}</td>", escape(&t));
                }
                Cell::Code(t) => {
                    let _ = write!(page, "<td><code>{}</code></td>", escape(&t));
                }
                Cell::Num(t) => {
                    let _ = write!(page, "<td class=\"num\">{}</td>", escape(&t));
                }
            }
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n");
}

/// A run's request list (`--targets`, `--data-file`) of at most `TARGET_ROWS_MAX` entries: a
/// row per entry (responses, p50, p99, statuses).
fn targets_table(page: &mut String, run: &PageRun) {
    let Some(targets) = run.report.targets.as_ref().filter(|t| t.len() <= crate::config::TARGET_ROWS_MAX) else {
        return;
    };
    let _ = writeln!(page, "<h2>Targets: {}</h2>", escape(&run.label));
    page.push_str("<table>\n<tr><th>request</th><th>responses</th><th>p50</th><th>p99</th><th>status</th></tr>\n");
    for t in targets {
        let (p50, p99) = match &t.latency_us {
            Some(l) => (micros(l.p50 as f64), micros(l.p99 as f64)),
            None => ("-".to_string(), "-".to_string()),
        };
        let status = if t.status.is_empty() { "-".to_string() } else { crate::report::target_statuses(&t.status) };
        let _ = writeln!(
            page,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&t.request),
            escape(&group(t.requests)),
            escape(&p50),
            escape(&p99),
            escape(&status)
        );
    }
    page.push_str("</table>\n");
}

fn figure(page: &mut String, svg: &str, caption: &str) {
    // plotters writes an XML declaration-free <svg> element: inline as it is.
    let _ = write!(page, "<figure>\n{}\n<figcaption>{}</figcaption>\n</figure>\n", svg.trim(), escape(caption));
}

/// Text for HTML: `& < > "` escaped.
/// The flamegraph of folded stacks as SVG, titled `title`; None when there is no stack.
pub fn flamegraph(folded: &str, title: &str) -> Result<Option<String>, String> {
    if folded.trim().is_empty() {
        return Ok(None);
    }
    let mut svg = Vec::new();
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_string();
    inferno::flamegraph::from_lines(&mut options, folded.lines(), &mut svg)
        .map_err(|e| format!("cannot draw the flamegraph: {e}"))?;
    Ok(Some(String::from_utf8_lossy(&svg).into_owned()))
}

/// The differential flamegraph of B against A (Brendan Gregg's, by inferno): the boxes are
/// B's stacks, red where a function's share of the samples grew from A to B, blue where it
/// shrank, the deeper the colour the larger the change. A is scaled to B's sample total first
/// (inferno's `normalize`), so runs of different lengths compare by share. None when either
/// has no stack.
pub fn differential(a: &str, b: &str, title: &str) -> Result<Option<String>, String> {
    if a.trim().is_empty() || b.trim().is_empty() {
        return Ok(None);
    }
    let mut both = Vec::new();
    let options = inferno::differential::Options { normalize: true, ..Default::default() };
    inferno::differential::from_readers(options, a.as_bytes(), b.as_bytes(), &mut both)
        .map_err(|e| format!("cannot compare the folded stacks: {e}"))?;
    let both = String::from_utf8_lossy(&both).into_owned();
    flamegraph(&both, title)
}

/// inferno's flamegraph as markup for the page: from `<svg` on (no XML prolog or doctype),
/// without its script (which zooms and searches) or the `onload` that calls it, so that the
/// page keeps its promise of no script; the boxes, names and `<title>` tooltips remain.
pub fn inline_flamegraph(svg: &str) -> String {
    let mut out = svg[svg.find("<svg").unwrap_or(0)..].to_string();
    while let Some(start) = out.find("<script") {
        let Some(end) = out[start..].find("</script>") else { break };
        out.replace_range(start..start + end + "</script>".len(), "");
    }
    out.replace(" onload=\"init(evt)\"", "")
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn inline_flamegraph_drops_prolog_script_and_onload() {
        let svg = "<?xml version=\"1.0\"?><!DOCTYPE svg><svg onload=\"init(evt)\" width=\"1200\"><script type=\"text/ecmascript\"><![CDATA[var a = 1;]]></script><rect/><text>f</text></svg>";
        assert_eq!(super::inline_flamegraph(svg), "<svg width=\"1200\"><rect/><text>f</text></svg>");
    }

    use std::time::{Duration, Instant};

    use super::*;
    use crate::report::RunInfo;
    use crate::stats::WorkerStats;

    fn info(rate: Option<f64>) -> RunInfo {
        RunInfo {
            connections: 2,
            rate_asked_per_s: rate,
            command: "clobber http://127.0.0.1:1/ -d 3s".into(),
            ..RunInfo::example(1_800_000_000.0)
        }
    }

    /// A run of `seconds` whole seconds with `per_second` responses each (latency rising with
    /// the second), and `errors` resets and timeouts in the second second.
    fn run(label: &str, seconds: u64, per_second: u64, errors: u64, rate: Option<f64>) -> PageRun {
        let t0 = Instant::now();
        let mut stats = WorkerStats::new(t0);
        for s in 0..seconds {
            for i in 0..per_second {
                let at = t0 + Duration::from_millis(s * 1000 + i * 1000 / per_second);
                let latency = Duration::from_micros(100 + s * 50 + i % 37);
                stats.record_response(at, latency, rate.map(|_| latency / 2));
                stats.status[200] += 1;
            }
            if s == 1 {
                for e in 0..errors {
                    stats.record_error(if e % 2 == 0 { ErrorKind::Reset } else { ErrorKind::Timeout }, || "x".into());
                }
            }
        }
        stats.elapsed = Duration::from_secs(seconds);
        PageRun { label: label.into(), report: Report::new(&info(rate), &stats) }
    }

    /// The `points` attribute of each data line of `colour` in `svg`.
    fn lines_of(svg: &str, colour: RGBColorText) -> Vec<Vec<(f64, f64)>> {
        svg.split("<polyline")
            .skip(1)
            .filter(|el| el.split('>').next().unwrap().contains(&format!("stroke=\"{}\"", colour.0)))
            .map(|el| {
                let points = el.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
                points
                    .split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    struct RGBColorText(String);

    fn colour(i: usize) -> RGBColorText {
        RGBColorText(plot::svg_colour(look(i).colour))
    }

    #[test]
    fn each_chart_has_one_line_per_run_with_a_point_per_second() {
        let runs = [run("a", 3, 200, 0, None), run("b", 3, 100, 0, None)];
        let charts = charts(&runs).unwrap();
        for (i, r) in runs.iter().enumerate() {
            assert_eq!(r.report.timeline.len(), 3);
            let lines = lines_of(&charts.throughput, colour(i));
            assert_eq!(lines.len(), 1, "one throughput line for run {i}");
            assert_eq!(lines[0].len(), r.report.timeline.len(), "a point per second");
            let lines = lines_of(&charts.latency, colour(i));
            assert_eq!(lines.len(), 2, "p99 and p50 for run {i}");
            assert!(lines.iter().all(|l| l.len() == 3));
            let h: Histogram<u64> = decode_histogram(&r.report.histogram).unwrap();
            let curve = plot::percentile_curve(&h);
            let lines = lines_of(&charts.percentiles, colour(i));
            assert_eq!(lines.len(), 1, "one percentile curve for run {i}");
            // plotters drops points that land on the same pixel as the previous one.
            assert!(lines[0].len() <= curve.len() && lines[0].len() > curve.len() / 2);
            assert_eq!(curve.last().unwrap().1, h.max() as f64, "the curve ends at the histogram's max");
            // ...which is the line's highest point (smallest pixel y), at its right end.
            let last = *lines[0].last().unwrap();
            assert!(lines[0].iter().all(|p| p.1 >= last.1 && p.0 <= last.0));
        }
        // Run a's throughput line sits above run b's (smaller y is higher).
        let (a, b) = (lines_of(&charts.throughput, colour(0)), lines_of(&charts.throughput, colour(1)));
        assert!(a[0].iter().zip(&b[0]).all(|(pa, pb)| pa.1 < pb.1));
        assert!(charts.errors.is_empty());
    }

    #[test]
    fn an_http2_run_shows_its_time_to_first_byte_and_others_a_dash() {
        let h1 = run("h1", 1, 10, 0, None);
        let mut h2 = run("h2", 1, 10, 0, None);
        let mut stats = WorkerStats::new(Instant::now());
        stats.ttfb_us.record(1_500).unwrap();
        stats.ttfb_us.record(40_000).unwrap();
        h2.report.ttfb_us = Report::new(&info(None), &stats).ttfb_us;
        assert!(h2.report.ttfb_us.is_some());
        let page = render(&[h1, h2]).unwrap();
        let row = page.split("<th>Time to first byte p50 / p99</th>").nth(1).unwrap().split("</tr>").next().unwrap();
        let cells: Vec<&str> =
            row.split("<td").skip(1).map(|c| c.split('>').nth(1).unwrap().split('<').next().unwrap()).collect();
        // hdrhistogram keeps 3 significant digits: 40,000 us reads back as 40.03ms.
        assert_eq!(cells.len(), 2, "{row}");
        assert_eq!(cells[0], "-", "an HTTP/1.1 run has no time to first byte");
        assert!(cells[1].starts_with("1.50ms / 40.0"), "{row}");
    }

    #[test]
    fn paced_runs_draw_corrected_and_uncorrected_curves() {
        let charts = charts(&[run("paced", 2, 50, 0, Some(50.0))]).unwrap();
        assert_eq!(lines_of(&charts.percentiles, colour(0)).len(), 2);
        assert!(charts.percentiles.contains("paced (uncorrected)"));
    }

    #[test]
    fn errors_are_stacked_by_kind_for_the_runs_that_had_them() {
        let runs = [run("clean", 3, 10, 0, None), run("faulty", 3, 10, 6, None)];
        let charts = charts(&runs).unwrap();
        assert_eq!(charts.errors.len(), 1);
        let (label, svg) = &charts.errors[0];
        assert_eq!(label, "faulty");
        assert!(svg.contains("\nreset\n</text>") && svg.contains("\ntimeout\n</text>"), "a legend entry per kind");
        // The errors came in one second: one bar, two kinds stacked, plus two legend swatches.
        let first_fill = svg.matches("fill=\"#282828\"").count();
        let second_fill = svg.matches("fill=\"#D55E00\"").count();
        assert_eq!((first_fill, second_fill), (2, 2), "{svg}");
        let page = render(&runs).unwrap();
        assert!(page.contains("reset 3, timeout 3"));
    }

    #[test]
    fn the_time_axis_ends_at_whole_seconds_unless_a_sliver_had_errors() {
        let t0 = Instant::now();
        let mut stats = WorkerStats::new(t0);
        stats.record_response(t0, Duration::from_micros(100), None);
        stats.roll(t0 + Duration::from_millis(2050));
        stats.elapsed = Duration::from_millis(2100);
        let clean = PageRun { label: "clean".into(), report: Report::new(&info(None), &stats) };
        assert_eq!(clean.report.timeline.len(), 3);
        assert_eq!(time_span_s(std::slice::from_ref(&clean)), 2.0, "a 0.1 s sliver is not plotted");
        stats.record_error(ErrorKind::Reset, || "x".into());
        let faulty = PageRun { label: "faulty".into(), report: Report::new(&info(None), &stats) };
        assert_eq!(time_span_s(&[clean, faulty]), 3.0, "the sliver's errors are on the chart");
    }

    #[test]
    fn long_runs_plot_a_point_per_entry_at_its_middle_and_per_second_rate() {
        let t0 = Instant::now();
        let mut stats = WorkerStats::new(t0);
        for s in 0..2100 {
            for i in 0..10 {
                let at = t0 + Duration::from_millis(s * 1000 + i * 100);
                stats.record_response(at, Duration::from_micros(100 + s), None);
            }
            if s == 5 {
                stats.record_error(ErrorKind::Reset, || "x".into());
            }
        }
        stats.elapsed = Duration::from_secs(2100);
        let report = Report::new(&info(None), &stats);
        // 2,100 s outgrew 1,024 entries twice: entries of 4 s, the last one [2096, 2100).
        assert_eq!(report.timeline.len(), 525);
        assert!(report.timeline.iter().enumerate().all(|(i, s)| s.span_s == 4 && s.t_s == 4 * i as u64));
        let points = throughput_points(&report);
        assert_eq!(points.len(), 525);
        assert!(points.iter().enumerate().all(|(i, &p)| p == (4.0 * i as f64 + 2.0, 10.0)), "{:?}", &points[..3]);
        let (p50, p99) = latency_points(&report, Unit::for_max_us(3000.0));
        assert_eq!((p50.len(), p99[1].0), (525, 6.0));
        let layers = error_layers(&report);
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0].1[1], (6.0, 0.25), "one error in the entry [4, 8): 0.25 a second");
        let page = PageRun { label: "long".into(), report };
        assert_eq!(time_span_s(std::slice::from_ref(&page)), 2100.0);
        assert!(render(&[page]).is_ok());
    }

    #[test]
    fn zero_requests_and_one_second_runs_render() {
        let t0 = Instant::now();
        let mut stats = WorkerStats::new(t0);
        stats.record_error(ErrorKind::ConnectRefused, || "refused".into());
        stats.elapsed = Duration::from_millis(1000);
        let empty = PageRun { label: "empty".into(), report: Report::new(&info(None), &stats) };
        let page = render(&[empty]).unwrap();
        assert!(page.contains("no responses: nothing to plot"));
        assert!(page.contains("connect_refused: refused"));
        let page = render(&[run("short", 1, 10, 0, None)]).unwrap();
        assert!(page.contains("<svg") && page.ends_with("</html>\n"));
    }

    #[test]
    fn the_page_is_self_contained_and_escaped() {
        let mut r = run("<b>&\"x\"", 2, 10, 0, None);
        r.report.run.command = "clobber 'http://x/?a=1&b=<2>'".into();
        let page = render(&[r]).unwrap();
        for needle in ["<script", "<link", "<img", "@import", "url(", "src=", "href="] {
            assert!(!page.contains(needle), "the page must not contain {needle}");
        }
        assert!(page.contains("&lt;b&gt;&amp;&quot;x&quot;") && !page.contains("<b>&"));
        assert!(page.contains("a=1&amp;b=&lt;2&gt;"));
    }

    #[test]
    fn a_request_list_gets_a_table_of_its_entries() {
        let mut r = run("list", 1, 10, 0, None);
        assert!(!render(std::slice::from_ref(&r)).unwrap().contains("<h2>Targets"));
        let status = [("200".to_string(), 7)].into_iter().collect();
        let mut h = Histogram::<u64>::new(2).unwrap();
        h.record(120).unwrap();
        let latency = crate::report::Latency::of(&h);
        r.report.targets = Some(vec![crate::report::TargetReport {
            request: "GET /a?<x>".into(),
            requests: 7,
            status,
            latency_us: Some(latency),
        }]);
        let page = render(&[r]).unwrap();
        assert!(page.contains("<h2>Targets: list</h2>"), "a table");
        assert!(page.contains("<code>GET /a?&lt;x&gt;</code></td><td class=\"num\">7</td>"));
        assert!(page.contains("200: 7"));
        // A --frame run's entries: their replies by name, as the Replies line says them.
        let t0 = Instant::now();
        let mut stats = WorkerStats::new(t0);
        stats.track_targets(2, true);
        for _ in 0..10 {
            stats.record_response(t0, Duration::from_micros(100), None);
            stats.status[usize::from(crate::protocol::reply::RESP_BULK)] += 1;
            stats.record_target(0, crate::protocol::reply::RESP_BULK, Duration::from_micros(100));
        }
        stats.elapsed = Duration::from_secs(1);
        let labels = vec!["GET k".to_string(), "GET j".to_string()];
        let framed = RunInfo { http: false, target_labels: labels, ..info(None) };
        let page = render(&[PageRun { label: "kv".into(), report: Report::new(&framed, &stats) }]).unwrap();
        assert!(page.contains("<td>resp_bulk: 10</td>") && !page.contains("<td>4: 10</td>"), "reply names");
    }

    #[test]
    fn labels_dates_and_escapes() {
        let files = [Path::new("runs/before.json"), Path::new("after.json"), Path::new("x/after.json")];
        assert_eq!(labels(&files, &["old".into()]), ["old", "after", "after (2)"]);
        assert_eq!(utc(1_800_000_000.0), "2027-01-15 08:00:00 UTC");
        assert_eq!(utc(0.0), "(unknown)");
        assert_eq!(escape("a<b>&\"c\""), "a&lt;b&gt;&amp;&quot;c&quot;");
    }

    #[test]
    fn a_corrupt_histogram_is_a_page_error_naming_the_run() {
        let mut r = run("before", 1, 10, 0, Some(10.0));
        r.report.histogram_uncorrected = Some("not base64!".into());
        let err = render(&[r]).unwrap_err();
        assert!(
            matches!(&err, PageError::Histogram { label, which: "uncorrected", why: HistogramError::NotBase64(_) } if label == "before")
        );
        assert!(err.to_string().starts_with("before: the uncorrected histogram is corrupt: not base64: "), "{err}");
    }
}

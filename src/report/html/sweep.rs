//! The page of one or more sweeps (`clobber report a.json b.json` on `clobber sweep --json`
//! files, or `clobber sweep --html`): a table of knees, latency against achieved throughput
//! (p50 and p99, log scale) with one line per sweep, the latency objectives as horizontal
//! lines and each knee ringed, then each sweep's steps. Self-contained, as the run page.

use std::fmt::Write as _;

use crate::config::SloMetric;
use crate::report::sweep::{error_percent, knee, measure, value_text, Sweep};
use crate::units::{micros, rate};

use super::plot::{self, look, Mark, Series, Threshold, Unit};
use super::{escape, figure, PageError, STYLE};

/// One sweep on the page.
#[derive(Debug, Clone)]
pub struct PageSweep {
    pub label: String,
    pub sweep: Sweep,
}

/// The chart: p99 (thick) and p50 (thin) per sweep, by achieved throughput, in the order of
/// the rates asked.
pub fn chart(sweeps: &[PageSweep]) -> Result<String, PageError> {
    let max_us = sweeps
        .iter()
        .flat_map(|s| s.sweep.steps.iter().filter_map(|st| measure(&st.report, SloMetric::P99)))
        .chain(sweeps.iter().flat_map(|s| s.sweep.slo.iter().filter(|o| o.metric.is_latency()).map(|o| o.limit)))
        .fold(1.0, f64::max);
    let unit = Unit::for_max_us(max_us);
    let mut series = Vec::new();
    let mut marks = Vec::new();
    for (i, s) in sweeps.iter().enumerate() {
        let mut steps: Vec<_> = s.sweep.steps.iter().filter(|st| st.report.requests > 0).collect();
        steps.sort_by(|a, b| a.rate_asked.total_cmp(&b.rate_asked));
        let points = |metric| -> Vec<(f64, f64)> {
            steps
                .iter()
                .filter_map(|st| Some((st.report.requests_per_s, measure(&st.report, metric)? * unit.per_us)))
                .collect()
        };
        series.push(Series {
            label: format!("{} p99", s.label),
            look: look(i),
            points: points(SloMetric::P99),
            thin: false,
        });
        series.push(Series {
            label: format!("{} p50", s.label),
            look: look(i),
            points: points(SloMetric::P50),
            thin: true,
        });
        if let Some(k) = knee(&s.sweep.steps) {
            let step = &s.sweep.steps[k];
            if let Some(p99) = measure(&step.report, SloMetric::P99) {
                marks.push(Mark {
                    look: look(i),
                    at: (step.report.requests_per_s, p99 * unit.per_us),
                    label: format!("knee: {} req/s", rate(step.rate_asked)),
                });
            }
        }
    }
    let mut thresholds: Vec<Threshold> = Vec::new();
    for slo in sweeps.iter().flat_map(|s| s.sweep.slo.iter()).filter(|o| o.metric.is_latency()) {
        let label = slo.to_string();
        if !thresholds.iter().any(|t| t.label == label) {
            thresholds.push(Threshold { y: slo.limit * unit.per_us, label });
        }
    }
    Ok(plot::latency_throughput(&series, &thresholds, &marks, unit)?)
}

/// The whole page.
pub fn render(sweeps: &[PageSweep]) -> Result<String, PageError> {
    assert!(!sweeps.is_empty(), "a page shows at least one sweep");
    let svg = chart(sweeps)?;
    let title = format!("clobber sweep: {}", sweeps.iter().map(|s| s.label.as_str()).collect::<Vec<_>>().join(" vs "));
    let mut page = String::with_capacity(128 * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    page.push_str("<h2>Knees</h2>\n<table>\n<tr><th>sweep</th><th>target and load</th><th>objectives</th><th>sustainable</th><th>at the knee</th><th>verdict</th></tr>\n");
    for s in sweeps {
        let first = s.sweep.steps.first();
        let load = first.map_or(String::new(), |st| {
            format!(
                "{}; {}",
                crate::report::target_sentence(&st.report.run),
                crate::report::load_sentence(&st.report.run, st.report.connections_opened)
            )
        });
        let objectives: Vec<String> = s.sweep.slo.iter().map(|o| o.to_string()).collect();
        let at_knee = knee(&s.sweep.steps).map_or("-".to_string(), |k| {
            let step = &s.sweep.steps[k];
            let p = |m| value_text(m, measure(&step.report, m));
            format!(
                "{} req/s achieved; p50 {}, p99 {}, errors {}",
                rate(step.report.requests_per_s),
                p(SloMetric::P50),
                p(SloMetric::P99),
                p(SloMetric::Errors)
            )
        });
        let _ = writeln!(
            page,
            "<tr><th>{}</th><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.label),
            escape(&load),
            escape(&objectives.join(", ")),
            escape(&s.sweep.sustainable_rps.map_or("none".to_string(), |r| format!("{} req/s", rate(r)))),
            escape(&at_knee),
            escape(&s.sweep.verdict)
        );
    }
    page.push_str("</table>\n<h2>Latency against throughput</h2>\n");
    figure(
        &mut page,
        &svg,
        "Each point is a step: its achieved throughput and its corrected latency (from each request's \
         due time), p99 thick and p50 thin, on a log scale. Grey lines are the latency objectives; a \
         ring marks each sweep's knee, the highest rate that met every objective.",
    );
    for s in sweeps {
        let _ = writeln!(page, "<h2>Steps: {}</h2>", escape(&s.label));
        page.push_str("<table>\n<tr><th>asked</th><th>achieved</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>errors</th><th>verdict</th></tr>\n");
        for st in &s.sweep.steps {
            let l = |m| measure(&st.report, m).map_or("-".to_string(), micros);
            let _ = writeln!(
                page,
                "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2}%</td><td>{}{}</td></tr>",
                rate(st.rate_asked),
                rate(st.report.requests_per_s),
                l(SloMetric::P50),
                l(SloMetric::P90),
                l(SloMetric::P99),
                l(SloMetric::P999),
                error_percent(&st.report),
                escape(&st.verdict()),
                if st.search { " (search)" } else { "" }
            );
        }
        page.push_str("</table>\n");
    }
    let _ = write!(
        page,
        "<footer>Made by clobber {} with <code>clobber report</code>. Self-contained: no script, font or image is fetched.</footer>\n</body>\n</html>\n",
        escape(crate::VERSION)
    );
    Ok(page)
}

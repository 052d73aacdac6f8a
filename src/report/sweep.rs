//! A sweep's results (`clobber sweep`): each step's report judged against the objectives
//! (`judge`), the knee (the highest passing rate below the lowest failing one), the verdict
//! sentence, the step table, and the JSON `{"sweep": {...}}` that `clobber report` reads back.
//!
//! Judging is pure: a step's `Report` and the `Slo`s in, what broke out. Latency objectives
//! read the step's corrected latency (from each request's due time); `errors` is the share of
//! requests that failed (an error of any kind, a status outside `--expect-status` included);
//! `achieved` is responses per second over the rate asked. A step also fails when clobber
//! sent less than the rate asked while it had no slack (its cores saturated, or its loops
//! never waiting); and a step that failed while clobber had no slack is the client's failure,
//! since the corrected latency then includes clobber's own lateness: the client, not the
//! server, is the limit, and the verdict says so instead of blaming the server.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::config::{Slo, SloMetric};
use crate::error::ErrorKind;
use crate::report::merge::{MergeError, Why};
use crate::report::{Bottleneck, Report, SATURATED};
use crate::units::{micros, rate};

/// A step that sent less than this share of the rate asked while clobber's cores were
/// saturated could not be sent by clobber.
pub const SENT_SHARE_MIN: f64 = 0.97;

/// The JSON file of a sweep: `{"sweep": {...}}`, apart from a run's report by its one key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepFile {
    pub sweep: Sweep,
}

/// A whole sweep: the objectives, the steps in the order they ran, and what they support.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sweep {
    /// The knee: the highest rate asked that passed, below the lowest that failed; `null`
    /// when no step passed.
    pub sustainable_rps: Option<f64>,
    pub slo: Vec<Slo>,
    pub steps: Vec<Step>,
    /// Stopped by Ctrl-C: the steps so far (the interrupted one left out).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The sentence the text report ends with.
    #[serde(default)]
    pub verdict: String,
}

/// One step: the rate asked, the verdict, and its full report (histogram included).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub rate_asked: f64,
    pub pass: bool,
    /// The objectives this step broke, with what was measured.
    pub broke: Vec<Broken>,
    /// clobber's cores were saturated and it sent less than the rate asked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_limited: bool,
    /// A probe of `--search`'s bisection, not one of the planned steps.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub search: bool,
    pub report: Report,
}

/// An objective a step broke: `value` in the objective's unit (microseconds, or percent);
/// `null` for a latency when no response completed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Broken {
    pub slo: Slo,
    pub value: Option<f64>,
}

/// What one objective measured in a step: microseconds or percent; `None` for a latency
/// when no response completed.
pub fn measure(report: &Report, metric: SloMetric) -> Option<f64> {
    let latency = report.latency_us.as_ref().map(|l| l.corrected.unwrap_or(l.summary));
    let us = |pick: fn(&crate::report::Latency) -> u64| latency.map(|l| pick(&l) as f64);
    match metric {
        SloMetric::P50 => us(|l| l.p50),
        SloMetric::P90 => us(|l| l.p90),
        SloMetric::P99 => us(|l| l.p99),
        SloMetric::P999 => us(|l| l.p999),
        SloMetric::P9999 => us(|l| l.p9999),
        SloMetric::Max => us(|l| l.max),
        SloMetric::Errors => Some(error_percent(report)),
        SloMetric::Achieved => {
            let asked = report.run.rate_asked_per_s.unwrap_or(0.0);
            Some(if asked > 0.0 { 100.0 * report.requests_per_s / asked } else { 0.0 })
        }
    }
}

/// Failed requests, in percent of the requests that completed or failed (a response with a
/// status outside `--expect-status` is both); 100% when nothing completed or failed.
pub fn error_percent(report: &Report) -> f64 {
    let status = report.errors_by_kind.get(&ErrorKind::Status).copied().unwrap_or(0);
    let attempts = report.requests + report.errors - status.min(report.errors);
    if attempts == 0 {
        return 100.0;
    }
    100.0 * report.errors as f64 / attempts as f64
}

/// Whether a measured value meets an objective.
fn meets(slo: &Slo, value: Option<f64>) -> bool {
    match (slo.metric, value) {
        (_, None) => false,
        (SloMetric::Achieved, Some(v)) => v >= slo.limit,
        (_, Some(v)) => v <= slo.limit,
    }
}

/// Judges one step's report against the objectives: what broke, and whether clobber itself
/// was the limit: it had no slack (`no_slack`) and sent less than `SENT_SHARE_MIN` of the
/// rate, or broke an objective (its own lateness is in the corrected latency).
pub fn judge(report: &Report, slos: &[Slo]) -> (Vec<Broken>, bool) {
    let broke: Vec<Broken> = slos
        .iter()
        .filter_map(|slo| {
            let value = measure(report, slo.metric);
            (!meets(slo, value)).then_some(Broken { slo: *slo, value })
        })
        .collect();
    let client_limited = no_slack(report) && (sent_short(report) || !broke.is_empty());
    (broke, client_limited)
}

/// clobber had no slack: its cores were saturated (the report's verdict), or its loops hardly
/// ever waited in `poll` (at least `SATURATED` of the time busy: on a shared machine the
/// kernel may give it less CPU time than it could use, which limits the client all the same).
/// A server too slow for the rate leaves clobber waiting for responses, so its loops idle.
pub fn no_slack(report: &Report) -> bool {
    report.bottleneck == Some(Bottleneck::Client)
        || report.client.and_then(|c| c.loop_busy).is_some_and(|busy| busy >= SATURATED)
}

/// clobber sent less than `SENT_SHARE_MIN` of the rate asked.
pub fn sent_short(report: &Report) -> bool {
    let asked = report.run.rate_asked_per_s.unwrap_or(0.0);
    let sent_per_s = if report.duration_s > 0.0 { report.sent.unwrap_or(0) as f64 / report.duration_s } else { 0.0 };
    sent_per_s < SENT_SHARE_MIN * asked
}

impl Step {
    /// A step judged: it passes when it broke nothing and clobber could send its rate.
    pub fn judged(rate_asked: f64, search: bool, report: Report, slos: &[Slo]) -> Step {
        let (broke, client_limited) = judge(&report, slos);
        Step { rate_asked, pass: broke.is_empty() && !client_limited, broke, client_limited, search, report }
    }

    /// What the verdict column says: `pass`, what broke, or that clobber was the limit.
    pub fn verdict(&self) -> String {
        if self.pass {
            return "pass".to_string();
        }
        let mut parts: Vec<String> =
            self.broke.iter().map(|b| format!("broke {}: {}", b.slo, value_text(b.slo.metric, b.value))).collect();
        if self.client_limited {
            parts.insert(0, format!("client limit ({})", self.client_busy()));
        }
        parts.join("; ")
    }

    /// How busy clobber was: "1 core 99% busy", and with the loops' figure, "1 core 65% busy,
    /// its loop busy 99% of the step (not waiting for events)".
    pub fn client_busy(&self) -> String {
        let busy = self.report.client.map_or(0.0, |c| c.busy_cores);
        let cores = self.report.run.threads.max(1);
        let share = 100.0 * busy / cores as f64;
        let text = format!("{cores} {} {share:.0}% busy", if cores == 1 { "core" } else { "cores" });
        match self.report.client.and_then(|c| c.loop_busy) {
            Some(loop_busy) => format!(
                "{text}, {} busy {:.0}% of the step (not waiting for events)",
                if cores == 1 { "its loop" } else { "its loops" },
                100.0 * loop_busy
            ),
            None => text,
        }
    }
}

/// A measured value as the objective's unit reads: `8.70ms`, `0.12%`, `96.3%`.
pub fn value_text(metric: SloMetric, value: Option<f64>) -> String {
    match (metric, value) {
        (_, None) => "no responses".to_string(),
        (SloMetric::Errors, Some(v)) => format!("{v:.2}%"),
        (SloMetric::Achieved, Some(v)) => format!("{v:.1}%"),
        (_, Some(v)) => micros(v),
    }
}

/// The knee: the index of the highest passing rate below the lowest failing one (a pass
/// above a fail, from noise, does not count), or `None` when nothing passed below it.
pub fn knee(steps: &[Step]) -> Option<usize> {
    let lowest_fail = steps.iter().filter(|s| !s.pass).map(|s| s.rate_asked).fold(f64::INFINITY, f64::min);
    steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.pass && s.rate_asked < lowest_fail)
        .max_by(|a, b| a.1.rate_asked.total_cmp(&b.1.rate_asked))
        .map(|(i, _)| i)
}

/// The lowest failing step above `rate`.
fn next_fail(steps: &[Step], rate: f64) -> Option<&Step> {
    steps.iter().filter(|s| !s.pass && s.rate_asked > rate).min_by(|a, b| a.rate_asked.total_cmp(&b.rate_asked))
}

impl Sweep {
    /// The sweep the steps make: the knee and the verdict.
    pub fn new(slo: Vec<Slo>, steps: Vec<Step>, interrupted: bool) -> Sweep {
        let sustainable_rps = knee(&steps).map(|i| steps[i].rate_asked);
        let mut sweep = Sweep { sustainable_rps, slo, steps, interrupted, verdict: String::new() };
        sweep.verdict = sweep.sentence();
        sweep
    }

    /// 0 when a rate passed, 1 when none did.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.sustainable_rps.is_none())
    }

    /// The objectives' values at a step: "p99 8.70ms, errors 0.00%".
    fn figures(&self, step: &Step) -> String {
        self.slo
            .iter()
            .map(|s| format!("{} {}", s.metric.name(), value_text(s.metric, measure(&step.report, s.metric))))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// "sustainable: 41,200 req/s with p99 8.70ms, errors 0.00% (next step 51,500 req/s broke
    /// p99<=10ms: 31.40ms)", or what else the steps support.
    fn sentence(&self) -> String {
        let prefix = if self.interrupted {
            format!("interrupted after {}: ", crate::units::plural(self.steps.len() as u64, "step"))
        } else {
            String::new()
        };
        let Some(k) = knee(&self.steps) else {
            return match self.steps.iter().min_by(|a, b| a.rate_asked.total_cmp(&b.rate_asked)) {
                None => format!("{prefix}no step completed: nothing to judge"),
                Some(first) if first.client_limited => format!(
                    "{prefix}no rate passed: at the first, {} req/s, clobber could not keep up with the rate \
                     asked ({}): the client, not the server, is the limit",
                    rate(first.rate_asked),
                    first.client_busy()
                ),
                Some(first) => {
                    format!("{prefix}no rate passed: the first, {} req/s, {}", rate(first.rate_asked), first.verdict())
                }
            };
        };
        let knee = &self.steps[k];
        let at = format!("{prefix}sustainable: {} req/s with {}", rate(knee.rate_asked), self.figures(knee));
        match next_fail(&self.steps, knee.rate_asked) {
            None if self.interrupted => format!("{at} (at least: the sweep was stopped before a step failed)"),
            None => format!("{at} (every step passed: raise --rates to find the knee)"),
            Some(next) if next.client_limited => format!(
                "{at} (at {} req/s clobber could not keep up with the rate asked, {}: the client, not the \
                 server, is the limit; the server may sustain more)",
                rate(next.rate_asked),
                next.client_busy()
            ),
            Some(next) => format!("{at} (next step {} req/s {})", rate(next.rate_asked), next.verdict()),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&SweepFile { sweep: self.clone() }).expect("a sweep always serializes")
    }

    /// The table of steps, in the order they ran, then the verdict.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let target = self.steps.first().map_or(String::new(), |s| crate::report::target_sentence(&s.report.run));
        let _ = writeln!(out, "clobber {} sweep: {target}", crate::VERSION);
        if let Some(first) = self.steps.first() {
            let _ =
                writeln!(out, "  {}", crate::report::load_sentence(&first.report.run, first.report.connections_opened));
        }
        let slos: Vec<String> = self.slo.iter().map(|s| s.to_string()).collect();
        let _ = writeln!(out, "  objectives: {}; latency corrected (from each request's due time)", slos.join(", "));
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {:>12} {:>12} {:>9} {:>9} {:>9} {:>9} {:>7}  verdict",
            "asked", "achieved", "p50", "p90", "p99", "p99.9", "errors"
        );
        for step in &self.steps {
            let latency = |pick: SloMetric| measure(&step.report, pick).map_or("-".to_string(), micros);
            let _ = writeln!(
                out,
                "  {:>12} {:>12} {:>9} {:>9} {:>9} {:>9} {:>6.2}%  {}{}",
                rate(step.rate_asked),
                rate(step.report.requests_per_s),
                latency(SloMetric::P50),
                latency(SloMetric::P90),
                latency(SloMetric::P99),
                latency(SloMetric::P999),
                error_percent(&step.report),
                step.verdict(),
                if step.search { " (search)" } else { "" }
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "  {}", self.verdict);
        out
    }
}

/// Reads `file` as a sweep (`clobber sweep --json`); `None` when it is a JSON object
/// without a `sweep` key (a run's report, for `merge::read_report`).
pub fn read_sweep(file: &std::path::Path) -> Result<Option<Sweep>, MergeError> {
    let bad = |why| MergeError { file: file.to_path_buf(), why };
    let text = std::fs::read_to_string(file).map_err(|e| bad(Why::Unreadable(e)))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(Why::NotAReport(e)))?;
    if value.get("sweep").is_none() {
        return Ok(None);
    }
    let parsed: SweepFile = serde_json::from_value(value).map_err(|e| bad(Why::NotAReport(e)))?;
    Ok(Some(parsed.sweep))
}

/// The line printed as each step ends: "step 3: 1,563 req/s asked, 1,561 achieved, p99
/// 2.41ms: pass".
pub fn step_line(n: usize, step: &Step) -> String {
    let p99 = measure(&step.report, SloMetric::P99).map_or("-".to_string(), micros);
    format!(
        "{} {n}: {} req/s asked, {} achieved, p99 {p99}: {}",
        if step.search { "search" } else { "step" },
        rate(step.rate_asked),
        rate(step.report.requests_per_s),
        step.verdict()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ClientBusy, RunInfo};
    use crate::stats::WorkerStats;
    use std::time::{Duration, Instant};

    /// A step's report: `requests` responses at `latency_us` each over 1 s at `asked` req/s,
    /// `errors` timeouts, clobber's one core `busy_cores` busy.
    fn report(asked: f64, requests: u64, latency_us: u64, errors: u64, busy_cores: f64) -> Report {
        let mut stats = WorkerStats::new(Instant::now());
        for _ in 0..requests {
            stats.latency_us.record(latency_us).unwrap();
            stats.service_us.record(latency_us).unwrap();
        }
        stats.requests = requests;
        stats.sent = requests + errors;
        stats.errors[ErrorKind::Timeout as usize] = errors;
        stats.elapsed = Duration::from_secs(1);
        stats.cpu.user = Duration::from_secs_f64(busy_cores);
        let mut info = RunInfo::example(0.0);
        info.rate_asked_per_s = Some(asked);
        let mut r = Report::new(&info, &stats);
        r.client = Some(ClientBusy { cpu_us_per_request: None, busy_cores, loop_busy: None });
        r.with_server(None)
    }

    fn slos(texts: &[&str]) -> Vec<Slo> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    fn step(asked: f64, p99_us: u64) -> Step {
        Step::judged(asked, false, report(asked, asked as u64, p99_us, 0, 0.3), &slos(&["p99<=10ms"]))
    }

    #[test]
    fn a_step_within_every_objective_passes() {
        let s = Step::judged(1000.0, false, report(1000.0, 1000, 5_000, 0, 0.2), &slos(&["p99<=10ms", "errors<=0.1%"]));
        assert!(s.pass && s.broke.is_empty() && !s.client_limited, "{s:?}");
        assert_eq!(s.verdict(), "pass");
    }

    #[test]
    fn each_objective_breaks_on_its_own_figure() {
        let r = report(1000.0, 900, 20_000, 100, 0.2);
        let (broke, client) = judge(&r, &slos(&["p99<=10ms", "p50<=30ms", "errors<=1%", "achieved>=95%"]));
        let names: Vec<String> = broke.iter().map(|b| b.slo.to_string()).collect();
        assert_eq!(names, ["p99<=10ms", "errors<=1%", "achieved>=95%"]);
        assert!(!client, "clobber's core was not saturated");
        assert!((broke[1].value.unwrap() - 10.0).abs() < 1e-9, "100 failed of 1,000: {broke:?}");
        assert!((broke[2].value.unwrap() - 90.0).abs() < 1e-9, "900 of 1,000 asked");
        assert!(broke[0].value.unwrap() >= 19_990.0);
    }

    #[test]
    fn no_response_breaks_latency_and_errors() {
        let r = report(1000.0, 0, 0, 5, 0.1);
        let (broke, _) = judge(&r, &slos(&["max<=1s", "errors<=50%"]));
        assert_eq!(broke.len(), 2);
        assert_eq!(broke[0].value, None);
        assert_eq!(value_text(SloMetric::Max, None), "no responses");
        assert_eq!(broke[1].value, Some(100.0));
    }

    #[test]
    fn a_saturated_client_that_fell_short_is_the_limit() {
        let s = Step::judged(100_000.0, false, report(100_000.0, 60_000, 50_000, 0, 0.99), &slos(&["p99<=10ms"]));
        assert!(!s.pass && s.client_limited);
        assert!(s.verdict().starts_with("client limit (1 core 99% busy)"), "{}", s.verdict());
        // Saturated, but it sent the rate and met the objectives: a pass.
        let s = Step::judged(1000.0, false, report(1000.0, 1000, 1_000, 0, 0.99), &slos(&["p99<=10ms"]));
        assert!(s.pass && !s.client_limited);
        // Saturated, the rate sent, an objective broken: its own lateness is in the latency.
        let s = Step::judged(1000.0, false, report(1000.0, 1000, 20_000, 0, 0.99), &slos(&["p99<=10ms"]));
        assert!(!s.pass && s.client_limited && s.broke.len() == 1);
        // A core the kernel gave only 60% of its time to, but a loop that never waited: the
        // client all the same.
        let mut r = report(100_000.0, 60_000, 50_000, 0, 0.6);
        r.client = Some(ClientBusy { cpu_us_per_request: None, busy_cores: 0.6, loop_busy: Some(0.995) });
        let s = Step::judged(100_000.0, false, r, &slos(&["p99<=10ms"]));
        assert!(s.client_limited, "{s:?}");
        assert!(
            s.client_busy().ends_with("1 core 60% busy, its loop busy 100% of the step (not waiting for events)"),
            "{}",
            s.client_busy()
        );
        // Short of the rate without a busy core: the server's doing, judged by the objectives.
        let s = Step::judged(1000.0, false, report(1000.0, 500, 1_000, 0, 0.2), &slos(&["p99<=10ms"]));
        assert!(s.pass && !s.client_limited);
    }

    #[test]
    fn the_knee_is_the_highest_pass_below_the_lowest_fail() {
        let steps = vec![step(1000.0, 1_000), step(1250.0, 2_000), step(1562.5, 30_000), step(1400.0, 5_000)];
        assert_eq!(knee(&steps), Some(3));
        // A pass above a failure (noise) is not the knee.
        let steps = vec![step(1000.0, 1_000), step(1250.0, 30_000), step(1562.5, 2_000)];
        assert_eq!(knee(&steps), Some(0));
        assert_eq!(knee(&[step(1000.0, 30_000)]), None);
        assert_eq!(knee(&[]), None);
    }

    #[test]
    fn verdicts_say_what_the_steps_support() {
        let slo = slos(&["p99<=10ms"]);
        let sweep = Sweep::new(slo.clone(), vec![step(1000.0, 1_000), step(1250.0, 30_000)], false);
        assert_eq!(sweep.sustainable_rps, Some(1000.0));
        assert_eq!(sweep.exit_code(), 0);
        assert_eq!(
            sweep.verdict,
            "sustainable: 1,000 req/s with p99 1.00ms (next step 1,250 req/s broke p99<=10ms: 30.02ms)"
        );
        let sweep = Sweep::new(slo.clone(), vec![step(1000.0, 30_000)], false);
        assert_eq!((sweep.sustainable_rps, sweep.exit_code()), (None, 1));
        assert!(
            sweep.verdict.starts_with("no rate passed: the first, 1,000 req/s, broke p99<=10ms"),
            "{}",
            sweep.verdict
        );
        let sweep = Sweep::new(slo.clone(), vec![step(1000.0, 1_000)], false);
        assert!(sweep.verdict.ends_with("(every step passed: raise --rates to find the knee)"));
        let sweep = Sweep::new(slo.clone(), vec![step(1000.0, 1_000)], true);
        assert!(sweep.verdict.starts_with("interrupted after 1 step: sustainable: 1,000 req/s"), "{}", sweep.verdict);
        let limited = Step::judged(2000.0, false, report(2000.0, 1000, 50_000, 0, 0.98), &slo);
        let sweep = Sweep::new(slo, vec![step(1000.0, 1_000), limited], false);
        assert!(
            sweep.verdict.contains("clobber could not keep up with the rate asked, 1 core 98% busy: the client"),
            "{}",
            sweep.verdict
        );
    }

    #[test]
    fn the_json_reads_back_and_the_table_has_a_row_per_step() {
        let sweep =
            Sweep::new(slos(&["p99<=10ms", "errors<=0.1%"]), vec![step(1000.0, 1_000), step(1250.0, 30_000)], false);
        let json = sweep.to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["sweep"]["sustainable_rps"], 1000.0);
        assert_eq!(value["sweep"]["slo"][0], "p99<=10ms");
        assert_eq!(value["sweep"]["steps"][1]["pass"], false);
        assert_eq!(value["sweep"]["steps"][1]["broke"][0]["slo"], "p99<=10ms");
        assert_eq!(value["sweep"]["steps"][0]["rate_asked"], 1000.0);
        assert!(value["sweep"]["steps"][0]["report"]["histogram"].is_string(), "each step's full report");
        let back: SweepFile = serde_json::from_str(&json).unwrap();
        assert_eq!(back.sweep.steps.len(), 2);
        assert_eq!(back.sweep.verdict, sweep.verdict);
        let text = sweep.to_text();
        assert!(text.contains("objectives: p99<=10ms, errors<=0.1%"), "{text}");
        let rows: Vec<&str> = text.lines().filter(|l| l.ends_with("pass") || l.contains("  broke ")).collect();
        assert_eq!(rows.len(), 2, "a row per step: {text}");
        assert!(rows[0].trim_start().starts_with("1,000 ") && rows[1].contains("broke p99<=10ms: 30.02ms"), "{text}");
        assert!(text.trim_end().ends_with(&sweep.verdict), "{text}");
        assert!(step_line(1, &sweep.steps[0]).starts_with("step 1: 1,000 req/s asked"));
    }
}

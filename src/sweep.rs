//! `clobber sweep`: runs open-loop steps at rising rates on one set of connections, judges
//! each as it ends, stops at the first that fails, and with `--search` bisects between the last
//! pass and the first fail. The engine runs the steps (`engine::Sweeper`: the workers keep
//! their connections from one step to the next, and hand back each step's statistics); the
//! judging and the verdict are `report::sweep`'s; this module only decides which rate comes
//! next, so the decisions are pure functions (`step_rates`, `Bisection`) with their own tests.
//!
//! Between two steps the main thread judges the step that ended (microseconds of work), while
//! the workers wait for their next order; the next step's warm-up absorbs what the pause left
//! in flight. Nothing here prints: each judged step goes to a callback.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{Search, StepPlan, SweepConfig, SEARCH_PRECISION};
use crate::engine::Sweeper;
use crate::report::sweep::{Step, Sweep};
use crate::report::{Report, RunInfo};

/// The planned rates from `from` to `to`, geometric: by `Factor(f)` each the last times f, and
/// `to` itself last (unless the last product is within 0.1% of it); by `Count(n)` n rates
/// with `from` and `to` the ends.
pub fn step_rates(from: f64, to: f64, plan: StepPlan) -> Vec<f64> {
    assert!(from > 0.0 && from <= to, "cli checks --rates: {from}..{to}");
    match plan {
        StepPlan::Count(n) if n <= 1 || from == to => vec![from],
        StepPlan::Count(n) => {
            let ratio = to / from;
            (0..n).map(|i| if i + 1 == n { to } else { from * ratio.powf(i as f64 / (n - 1) as f64) }).collect()
        }
        StepPlan::Factor(f) => {
            assert!(f > 1.0, "cli checks --step-factor: {f}");
            let mut rates = vec![from];
            loop {
                let next = rates.last().expect("starts with one") * f;
                if next >= to * 0.999 {
                    break;
                }
                rates.push(next);
            }
            if *rates.last().expect("starts with one") < to * 0.999 {
                rates.push(to);
            }
            rates
        }
    }
}

/// `--search`: halving the interval between the highest passing and the lowest failing rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Bisection {
    pub pass: f64,
    pub fail: f64,
    probes: usize,
    max_probes: Option<usize>,
}

impl Bisection {
    pub fn new(pass: f64, fail: f64, search: Search) -> Bisection {
        assert!(pass < fail, "a bisection starts below its failing rate: {pass} .. {fail}");
        Bisection { pass, fail, probes: 0, max_probes: search.max_probes }
    }

    /// The next rate to try, or `None` when done: the fail is within `SEARCH_PRECISION` of the
    /// pass, or `--search-steps` probes were made.
    pub fn next(&self) -> Option<f64> {
        if self.max_probes.is_some_and(|n| self.probes >= n) {
            return None;
        }
        if self.max_probes.is_none() && self.fail <= self.pass * (1.0 + SEARCH_PRECISION) {
            return None;
        }
        Some((self.pass + self.fail) / 2.0)
    }

    /// What the probe at `rate` found.
    pub fn record(&mut self, rate: f64, passed: bool) {
        self.probes += 1;
        if passed {
            self.pass = self.pass.max(rate);
        } else {
            self.fail = self.fail.min(rate);
        }
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Runs the sweep `config` describes; `on_step` sees each step as it is judged. A Ctrl-C
/// (`stop`) ends it after the step under way, which is left out (the sweep says it was
/// interrupted). An `Err` is a worker's failure (its poll failed), not a server's.
pub fn run(config: &SweepConfig, stop: &Arc<AtomicBool>, mut on_step: impl FnMut(&Step)) -> io::Result<Sweep> {
    let mut sweeper = Sweeper::start(&config.load, Arc::clone(stop))?;
    let mut steps: Vec<Step> = Vec::new();
    let mut step = |rate: f64, search: bool, sweeper: &mut Sweeper| -> io::Result<Option<Step>> {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let start_unix_s = unix_now() + config.step_warmup.as_secs_f64();
        let stats = sweeper.step(rate, config.step_warmup, config.step_duration)?;
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let mut info = RunInfo::of(&config.load, start_unix_s);
        info.rate_asked_per_s = Some(rate);
        info.warmup_s = Some(config.step_warmup.as_secs_f64());
        let judged = Step::judged(rate, search, Report::new(&info, &stats), &config.slos);
        on_step(&judged);
        Ok(Some(judged))
    };
    let mut interrupted = false;
    for rate in step_rates(config.rate_from_per_s, config.rate_to_per_s, config.steps) {
        match step(rate, false, &mut sweeper)? {
            Some(s) => {
                let passed = s.pass;
                steps.push(s);
                if !passed {
                    break;
                }
            }
            None => {
                interrupted = true;
                break;
            }
        }
    }
    let bounds = match (steps.iter().rev().find(|s| s.pass), steps.last()) {
        (Some(pass), Some(fail)) if !fail.pass => Some((pass.rate_asked, fail.rate_asked)),
        _ => None,
    };
    if let (Some(search), Some((pass, fail)), false) = (config.search, bounds, interrupted) {
        let mut bisection = Bisection::new(pass, fail, search);
        while let Some(rate) = bisection.next() {
            match step(rate, true, &mut sweeper)? {
                Some(s) => {
                    bisection.record(rate, s.pass);
                    steps.push(s);
                }
                None => {
                    interrupted = true;
                    break;
                }
            }
        }
    }
    sweeper.finish()?;
    Ok(Sweep::new(config.slos.clone(), steps, interrupted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6 * y.max(1.0))
    }

    #[test]
    fn factor_steps_are_geometric_and_end_at_the_last_rate() {
        let rates = step_rates(1000.0, 2000.0, StepPlan::Factor(1.25));
        assert!(close(&rates, &[1000.0, 1250.0, 1562.5, 1953.125, 2000.0]), "{rates:?}");
        // The last product lands on the end: no extra step.
        let rates = step_rates(1000.0, 1562.5, StepPlan::Factor(1.25));
        assert!(close(&rates, &[1000.0, 1250.0, 1562.5]), "{rates:?}");
        // Within 0.1% of the end: the end replaces it.
        let rates = step_rates(1000.0, 1563.0, StepPlan::Factor(1.25));
        assert!(close(&rates, &[1000.0, 1250.0, 1563.0]), "{rates:?}");
        assert_eq!(step_rates(500.0, 500.0, StepPlan::Factor(2.0)), vec![500.0]);
        let rates = step_rates(1.0, 1e6, StepPlan::Factor(10.0));
        assert!(close(&rates, &[1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]), "{rates:?}");
    }

    #[test]
    fn counted_steps_include_both_ends() {
        let rates = step_rates(1000.0, 16000.0, StepPlan::Count(5));
        assert!(close(&rates, &[1000.0, 2000.0, 4000.0, 8000.0, 16000.0]), "{rates:?}");
        assert_eq!(step_rates(1000.0, 3000.0, StepPlan::Count(2)), vec![1000.0, 3000.0]);
        assert_eq!(step_rates(7.0, 7.0, StepPlan::Count(3)), vec![7.0]);
        let rates = step_rates(3.0, 7.0, StepPlan::Count(13));
        assert_eq!(rates.len(), 13);
        assert!(rates.windows(2).all(|w| w[0] < w[1]) && rates[12] == 7.0);
    }

    /// Bisects against a server whose knee is at `knee` req/s; returns the probes and the end.
    fn bisect(pass: f64, fail: f64, knee: f64, search: Search) -> (Vec<f64>, Bisection) {
        let mut b = Bisection::new(pass, fail, search);
        let mut probes = Vec::new();
        while let Some(rate) = b.next() {
            probes.push(rate);
            b.record(rate, rate <= knee);
            assert!(probes.len() < 100, "a bisection ends");
        }
        (probes, b)
    }

    #[test]
    fn search_narrows_to_two_percent() {
        let (probes, b) = bisect(8000.0, 10000.0, 9123.0, Search { max_probes: None });
        assert!(b.fail <= b.pass * 1.02, "{b:?}");
        assert!(b.pass <= 9123.0 && b.fail > 9123.0, "the knee stays inside: {b:?}");
        assert_eq!(probes[0], 9000.0, "the midpoint first");
        assert_eq!(probes.len(), 4, "2,000 -> 1,000 -> 500 -> 250 -> 125 (< 2% of 9,000): {probes:?}");
        // Already within 2%: nothing to probe.
        assert_eq!(bisect(1000.0, 1015.0, 1010.0, Search { max_probes: None }).0, Vec::<f64>::new());
    }

    #[test]
    fn search_steps_caps_the_probes() {
        let (probes, b) = bisect(1000.0, 2000.0, 1234.0, Search { max_probes: Some(2) });
        assert_eq!(probes, vec![1500.0, 1250.0]);
        assert_eq!((b.pass, b.fail), (1000.0, 1250.0));
        // A cap goes on even past 2%, as asked.
        let (probes, _) = bisect(1000.0, 1010.0, 1004.0, Search { max_probes: Some(3) });
        assert_eq!(probes.len(), 3);
    }
}

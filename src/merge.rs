//! `clobber merge`: one report from the JSON reports of several runs (typically one per
//! machine, started together with `--start-at`). The same run given twice is refused (its
//! counts would double); runs that never overlapped in time merge with a warning, since their
//! sum is not one load.
//!
//! Each file's histograms are decoded and added, so the merged percentiles are those of every
//! request, never averages of percentiles. Counts, statuses and errors add up; timelines are
//! joined by wall-clock time: a file's entry t covers the `span_s` seconds that began at
//! `start_unix_s + t`, and goes to the merged second that holds its start, counted in whole
//! seconds from the earliest run's start (the merged `start_unix_s`, so that the merged
//! `duration_s` covers every entry). The merged timeline's entries span as long as the
//! coarsest file's, or longer when the runs together cover more than `TIMELINE_ENTRIES_MAX` of
//! them; an entry goes whole into the merged entry that holds its first second. The merged
//! report is built by `Report::new` like any other.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::report::{decode_histogram, Report, RunInfo};
use crate::stats::{CpuTime, ErrorKind, Slot, WorkerStats, STATUS_CODES};

/// Why a file could not be merged; its message names the file.
#[derive(Debug)]
pub struct MergeError {
    pub file: PathBuf,
    pub why: String,
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.why)
    }
}

fn bad(file: &Path, why: impl Into<String>) -> MergeError {
    MergeError { file: file.to_path_buf(), why: why.into() }
}

/// Reads one JSON report (`clobber ... --json`); its timeline entries must span 1, 2, 4... s.
pub fn read_report(file: &Path) -> Result<Report, MergeError> {
    let text = std::fs::read_to_string(file).map_err(|e| bad(file, format!("cannot read it: {e}")))?;
    let report: Report = serde_json::from_str(&text)
        .map_err(|e| bad(file, format!("not a clobber JSON report (from clobber ... --json): {e}")))?;
    if let Some(entry) = report.timeline.iter().find(|e| !e.span_s.is_power_of_two()) {
        return Err(bad(file, format!("second {}: a span of {} s (not 1, 2, 4...)", entry.t, entry.span_s)));
    }
    Ok(report)
}

/// A merged report, and what its reader must know about the runs that made it.
#[derive(Debug, Clone)]
pub struct Merged {
    pub report: Report,
    /// One line each, for stderr and under the text report: e.g. runs that never overlapped.
    pub warnings: Vec<String>,
}

/// Reads and merges `files` into one report. The same run given twice (the same
/// `start_unix_s` and `command`: the start is read from the clock to the microsecond, so two
/// runs never share it) is an error, since its counts would be doubled.
pub fn merge(files: &[PathBuf]) -> Result<Merged, MergeError> {
    assert!(!files.is_empty(), "the command line asks for at least one file");
    let mut runs: Vec<(&Path, Report)> = Vec::with_capacity(files.len());
    for file in files {
        let run = read_report(file)?;
        if let Some((first, _)) =
            runs.iter().find(|(_, r)| r.start_unix_s == run.start_unix_s && r.command == run.command)
        {
            return Err(bad(
                file,
                format!(
                    "the same run as {} (same start_unix_s {} and command): give each run once",
                    first.display(),
                    run.start_unix_s
                ),
            ));
        }
        runs.push((file.as_path(), run));
    }
    let warnings = not_overlapping(&runs).into_iter().collect();
    let start = runs.iter().map(|(_, r)| r.start_unix_s).fold(f64::INFINITY, f64::min);
    let end = runs.iter().map(|(_, r)| r.start_unix_s + r.duration_s).fold(f64::NEG_INFINITY, f64::max);
    let anchor = Instant::now();
    let mut total = WorkerStats::new(anchor);
    for (file, run) in &runs {
        total += &stats_of(file, run, start, anchor)?;
    }
    total.elapsed = Duration::from_secs_f64((end - start).max(0.0));
    let info = RunInfo {
        target: joined(runs.iter().map(|(_, r)| r.target.as_str())),
        address: joined(runs.iter().map(|(_, r)| r.address.as_str())),
        threads: runs.iter().map(|(_, r)| r.threads).sum(),
        connections: runs.iter().map(|(_, r)| r.connections).sum(),
        pipeline: runs.iter().map(|(_, r)| r.pipeline).max().unwrap_or(1),
        reconnect: runs.iter().any(|(_, r)| r.reconnect),
        framing: joined(runs.iter().map(|(_, r)| r.framing.as_str())),
        http: runs.iter().any(|(_, r)| r.status.is_some()),
        rate_asked: runs.iter().map(|(_, r)| r.rate_asked).sum(),
        warmup_s: None,
        start_unix_s: start,
        tls: runs.iter().find_map(|(_, r)| r.tls.as_ref().map(|t| t.setup.clone())),
        command: crate::report::command_line(),
        // One machine only when all the runs ran on the same kind.
        machine: match runs.first().and_then(|(_, r)| r.machine.clone()) {
            Some(m) if runs.iter().all(|(_, r)| r.machine.as_ref() == Some(&m)) => Some(m),
            _ => None,
        },
    };
    Ok(Merged { report: Report::new(&info, &total), warnings })
}

/// A warning when some of `runs` never ran at the same time: the run that began last began
/// after (or as) the one that ended first ended. (Intervals on a line that all overlap in
/// pairs share a common time, so checking that one pair is enough.)
fn not_overlapping(runs: &[(&Path, Report)]) -> Option<String> {
    if runs.len() < 2 {
        return None;
    }
    let end = |r: &Report| r.start_unix_s + r.duration_s;
    let (last_file, last) = runs.iter().max_by(|a, b| a.1.start_unix_s.total_cmp(&b.1.start_unix_s))?;
    let (first_file, first) = runs.iter().min_by(|a, b| end(&a.1).total_cmp(&end(&b.1)))?;
    (last.start_unix_s >= end(first)).then(|| {
        format!(
            "runs did not overlap in time ({} began {:.1} s after {} ended): the counts add up separate runs \
             and the rate is over the whole span from the first start to the last end, not a combined rate",
            last_file.display(),
            last.start_unix_s - end(first),
            first_file.display()
        )
    })
}

/// The distinct values, in order, joined with ", ".
fn joined<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen.join(", ")
}

/// One file's report as `WorkerStats`, its timeline placed by whole seconds since `start`.
fn stats_of(file: &Path, run: &Report, start: f64, anchor: Instant) -> Result<WorkerStats, MergeError> {
    let mut s = WorkerStats::new(anchor);
    s.requests = run.requests;
    for (name, &n) in &run.errors_by_kind {
        let kind = ErrorKind::ALL
            .iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| bad(file, format!("unknown error kind '{name}' (from a newer clobber?)")))?;
        s.errors[*kind as usize] = n;
        if let Some(message) = run.error_messages.get(name) {
            s.first_error[*kind as usize] = Some(message.clone());
        }
    }
    s.connections_opened = run.connections_opened;
    if let Some(tls) = &run.tls {
        (s.tls_handshakes, s.tls_resumed) = (tls.handshakes, tls.resumed);
    }
    s.bytes_sent = run.bytes_sent;
    s.bytes_received = run.bytes_received;
    s.in_flight_at_end = run.in_flight_at_end;
    s.sent = run.sent.unwrap_or(0);
    s.missed = run.missed.unwrap_or(0);
    for (code, &n) in run.status.iter().flatten() {
        let index = code.parse::<usize>().ok().filter(|&c| c < STATUS_CODES);
        let index = index.ok_or_else(|| bad(file, format!("'{code}' is not an HTTP status")))?;
        s.status[index] = n;
    }
    s.latency_us = decode_histogram(&run.histogram).map_err(|e| bad(file, format!("its histogram is corrupt: {e}")))?;
    if s.latency_us.len() != run.requests {
        return Err(bad(
            file,
            format!("its histogram holds {} values for {} requests", s.latency_us.len(), run.requests),
        ));
    }
    if let Some(h) = &run.histogram_uncorrected {
        s.service_us =
            decode_histogram(h).map_err(|e| bad(file, format!("its uncorrected histogram is corrupt: {e}")))?;
    }
    let offset_s = (run.start_unix_s - start).max(0.0).floor() as u64;
    let mut slot = Slot::new();
    for entry in &run.timeline {
        slot.reset();
        slot.requests = entry.requests;
        slot.errors = entry.errors;
        for (name, &n) in &entry.errors_by_kind {
            let kind = ErrorKind::ALL
                .iter()
                .find(|k| k.name() == name)
                .ok_or_else(|| bad(file, format!("second {}: unknown error kind '{name}'", entry.t)))?;
            slot.errors_by_kind[*kind as usize] += n;
        }
        let h = decode_histogram::<u32>(&entry.histogram)
            .map_err(|e| bad(file, format!("the histogram of second {} is corrupt: {e}", entry.t)))?;
        slot.latency_us.add(&h).map_err(|e| bad(file, format!("second {}: {e:?}", entry.t)))?;
        s.add_entry(offset_s + entry.t, entry.span_s, &slot);
    }
    s.cpu = CpuTime {
        user: Duration::from_secs_f64(run.client_cpu.user_s.max(0.0)),
        sys: Duration::from_secs_f64(run.client_cpu.sys_s.max(0.0)),
    };
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::TIMELINE_ENTRIES_MAX;

    /// A report of `seconds` seconds with 3 responses a second, begun at `start_unix_s`.
    fn report(seconds: u64, start_unix_s: f64) -> Report {
        let t0 = Instant::now();
        let mut stats = WorkerStats::new(t0);
        for s in 0..seconds {
            for _ in 0..3 {
                stats.record_response(t0 + Duration::from_secs(s), Duration::from_micros(100), None);
            }
        }
        stats.elapsed = Duration::from_secs(seconds);
        let info = RunInfo {
            target: "http://127.0.0.1:1/".into(),
            address: "127.0.0.1:1".into(),
            threads: 1,
            connections: 1,
            pipeline: 1,
            reconnect: false,
            framing: "HTTP/1.1".into(),
            http: true,
            rate_asked: None,
            warmup_s: None,
            start_unix_s,
            tls: None,
            command: format!("clobber http://127.0.0.1:1/ -d {seconds}s"),
            machine: None,
        };
        Report::new(&info, &stats)
    }

    fn write(dir: &Path, name: &str, report: &Report) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, report.to_json()).unwrap();
        path
    }

    #[test]
    fn timelines_of_different_spans_merge_by_wall_clock() {
        let dir = std::env::temp_dir().join(format!("clobber-merge-spans-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // 1,100 s: entries of 2 s. The short run began 10 s later, for 20 s.
        let long = report(TIMELINE_ENTRIES_MAX as u64 + 76, 1_800_000_000.0);
        let short = report(20, 1_800_000_010.0);
        assert_eq!((long.timeline[0].span_s, short.timeline[0].span_s), (2, 1));
        let files = [write(&dir, "long.json", &long), write(&dir, "short.json", &short)];
        let merged = merge(&files).unwrap().report;
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(merged.requests, 3 * 1120);
        assert_eq!(merged.timeline.len(), 550);
        assert!(merged.timeline.iter().enumerate().all(|(i, s)| s.span_s == 2 && s.t == 2 * i as u64));
        assert_eq!(merged.timeline.iter().map(|s| s.requests).sum::<u64>(), merged.requests);
        assert_eq!(merged.timeline[4].requests, 6, "[8, 10): the long run alone");
        assert_eq!(merged.timeline[5].requests, 12, "[10, 12): both runs");
        assert_eq!(merged.timeline[15].requests, 6, "[30, 32): the short run is over");
    }

    #[test]
    fn runs_that_straddle_a_second_keep_every_entry() {
        let dir = std::env::temp_dir().join(format!("clobber-merge-straddle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // 0.1 s up to a whole second, then 0.5 s from 0.05 s past it: 0.65 s in all.
        let mut a = report(1, 1_800_000_000.9);
        let mut b = report(1, 1_800_000_001.05);
        (a.duration_s, b.duration_s) = (0.1, 0.5);
        let files = [write(&dir, "a.json", &a), write(&dir, "b.json", &b)];
        let merged = merge(&files).unwrap().report;
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(merged.requests, 6);
        assert_eq!(merged.timeline.iter().map(|s| s.requests).sum::<u64>(), 6, "{:?}", merged.timeline);
    }
}

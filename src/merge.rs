//! `clobber merge`: one report from the JSON reports of several runs (typically one per
//! machine, started together with `--start-at`).
//!
//! Each file's histograms are decoded and added, so the merged percentiles are those of every
//! request, never averages of percentiles. Counts, statuses and errors add up; timelines are
//! joined by wall-clock second (a file's entry t covers the second that began at
//! `start_unix_s + t`). The merged report is built by `Report::new` like any other.

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

/// Reads one JSON report (`clobber ... --json`).
pub fn read_report(file: &Path) -> Result<Report, MergeError> {
    let text = std::fs::read_to_string(file).map_err(|e| bad(file, format!("cannot read it: {e}")))?;
    serde_json::from_str(&text)
        .map_err(|e| bad(file, format!("not a clobber JSON report (from clobber ... --json): {e}")))
}

/// Reads and merges `files` into one report.
pub fn merge(files: &[PathBuf]) -> Result<Report, MergeError> {
    assert!(!files.is_empty(), "the command line asks for at least one file");
    let mut runs = Vec::with_capacity(files.len());
    for file in files {
        runs.push((file.as_path(), read_report(file)?));
    }
    let start = runs.iter().map(|(_, r)| r.start_unix_s).fold(f64::INFINITY, f64::min);
    let end = runs.iter().map(|(_, r)| r.start_unix_s + r.duration_s).fold(f64::NEG_INFINITY, f64::max);
    let anchor = Instant::now();
    let mut total = WorkerStats::new(anchor);
    for (file, run) in &runs {
        total += &stats_of(file, run, start.floor(), anchor)?;
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
    Ok(Report::new(&info, &total))
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

/// One file's report as `WorkerStats`, its timeline placed by wall-clock second from `start`.
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
    s.connections_answered = run.connections_answered.unwrap_or(run.connections_opened);
    if let Some(ages) = run.in_flight_age_us {
        // The JSON keeps min, p50 and max: the merged min and max are exact, its p50 close.
        s.in_flight_age_us = match run.in_flight_at_end {
            0 | 1 => vec![ages.max],
            n => std::iter::once(ages.min)
                .chain(std::iter::repeat(ages.p50).take(n as usize - 2))
                .chain([ages.max])
                .collect(),
        };
    }
    s.gave_up_after = run.gave_up_after_s.map(std::time::Duration::from_secs_f64);
    s.stopped_during_warmup = run.stopped_during_warmup;
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
    let offset = (run.start_unix_s.floor() - start).max(0.0) as usize;
    s.timeline = Vec::new();
    for second in &run.timeline {
        let index = offset + second.t as usize;
        if s.timeline.len() <= index {
            s.timeline.resize_with(index + 1, Slot::new);
        }
        let slot = &mut s.timeline[index];
        slot.requests += second.requests;
        slot.errors += second.errors;
        for (name, &n) in &second.errors_by_kind {
            let kind = ErrorKind::ALL
                .iter()
                .find(|k| k.name() == name)
                .ok_or_else(|| bad(file, format!("second {}: unknown error kind '{name}'", second.t)))?;
            slot.errors_by_kind[*kind as usize] += n;
        }
        let h = decode_histogram::<u32>(&second.histogram)
            .map_err(|e| bad(file, format!("the histogram of second {} is corrupt: {e}", second.t)))?;
        slot.latency_us.add(&h).map_err(|e| bad(file, format!("second {}: {e:?}", second.t)))?;
    }
    if s.timeline.is_empty() {
        s.timeline.push(Slot::new());
    }
    s.cpu = CpuTime {
        user: Duration::from_secs_f64(run.client_cpu.user_s.max(0.0)),
        sys: Duration::from_secs_f64(run.client_cpu.sys_s.max(0.0)),
    };
    Ok(s)
}

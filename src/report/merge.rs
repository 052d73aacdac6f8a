//! `clobber merge`: one report from the JSON reports of several runs (typically one per
//! machine, started together with `--start-at`). The same run given twice is refused (its
//! counts would double); runs that never overlapped in time merge with a warning, since their
//! sum is not one load.
//!
//! Each file's histograms are decoded and added, so the merged percentiles are those of every
//! request, never averages of percentiles. Counts, statuses and errors add up; timelines are
//! joined by wall-clock second (a file's entry t covers the `span_s` seconds that began at
//! `start_unix_s + t`). The merged timeline's entries span as long as the coarsest file's, or
//! longer when the runs together cover more than `TIMELINE_ENTRIES_MAX` of them; an entry
//! goes whole into the merged entry that holds its first second. The merged report is built
//! by `Report::new` like any other.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::report::{decode_histogram, ClientCpu, HistogramError, Report, RunInfo, Second, TlsReport};
use crate::stats::{CpuTime, Slot, TlsNegotiated, WorkerStats, STATUS_CODES};

/// Why a file could not be merged; its message names the file.
#[derive(Debug)]
pub struct MergeError {
    pub file: PathBuf,
    pub why: Why,
}

/// What was wrong with a file given to `clobber merge` or `clobber report`.
#[derive(Debug)]
pub enum Why {
    Unreadable(std::io::Error),
    NotAReport(serde_json::Error),
    /// The same run as `first` (equal `start_unix_s` and `command`).
    SameRun {
        first: PathBuf,
        start_unix_s: f64,
    },
    NotAStatus(u16),
    /// A `replies` key that names no reply kind.
    NotAReply(String),
    /// A key of a `targets` entry's `status` that is neither an HTTP status nor a reply kind.
    NotATargetStatus {
        request: String,
        status: String,
    },
    /// The run's histogram (`which`: "" or "uncorrected ") could not be read.
    Histogram {
        which: &'static str,
        why: HistogramError,
    },
    CountsDisagree {
        values: u64,
        requests: u64,
    },
    /// The timeline entry at `t_s` spans a number of seconds that is not a power of two.
    Span {
        t_s: u64,
        span_s: u64,
    },
    EntryHistogram {
        t_s: u64,
        why: HistogramError,
    },
    EntryBounds {
        t_s: u64,
        why: hdrhistogram::AdditionError,
    },
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.why)
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Unreadable(e) => write!(f, "cannot read it: {e}"),
            Why::NotAReport(e) => write!(f, "not a clobber JSON report (from clobber ... --json): {e}"),
            Why::SameRun { first, start_unix_s } => write!(
                f,
                "the same run as {} (same start_unix_s {start_unix_s} and command): give each run once",
                first.display()
            ),
            Why::NotAStatus(code) => write!(f, "'{code}' is not an HTTP status"),
            Why::NotAReply(name) => write!(f, "'{name}' is not a reply kind (resp_..., mc_...)"),
            Why::NotATargetStatus { request, status } => {
                write!(f, "target '{request}': status '{status}' is neither an HTTP status nor a reply kind")
            }
            Why::Histogram { which, why } => write!(f, "its {which}histogram is corrupt: {why}"),
            Why::CountsDisagree { values, requests } => {
                write!(f, "its histogram holds {values} values for {requests} requests")
            }
            Why::Span { t_s, span_s } => write!(f, "second {t_s}: a span of {span_s} s (not 1, 2, 4...)"),
            Why::EntryHistogram { t_s, why } => write!(f, "the histogram of second {t_s} is corrupt: {why}"),
            Why::EntryBounds { t_s, why } => write!(f, "second {t_s}: {why:?}"),
        }
    }
}

impl std::error::Error for MergeError {}

fn bad(file: &Path, why: Why) -> MergeError {
    MergeError { file: file.to_path_buf(), why }
}

/// Reads one JSON report (`clobber ... --json`); its timeline entries must span 1, 2, 4... s
/// (for `clobber report` too, whose charts divide by the span).
pub fn read_report(file: &Path) -> Result<Report, MergeError> {
    let text = std::fs::read_to_string(file).map_err(|e| bad(file, Why::Unreadable(e)))?;
    let report: Report = serde_json::from_str(&text).map_err(|e| bad(file, Why::NotAReport(e)))?;
    if let Some(entry) = report.timeline.iter().find(|e| !e.span_s.is_power_of_two()) {
        return Err(bad(file, Why::Span { t_s: entry.t_s, span_s: entry.span_s }));
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
            runs.iter().find(|(_, r)| r.run.start_unix_s == run.run.start_unix_s && r.run.command == run.run.command)
        {
            return Err(bad(file, Why::SameRun { first: first.to_path_buf(), start_unix_s: run.run.start_unix_s }));
        }
        runs.push((file.as_path(), run));
    }
    let warnings = not_overlapping(&runs).into_iter().collect();
    let start = runs.iter().map(|(_, r)| r.run.start_unix_s).fold(f64::INFINITY, f64::min);
    let end = runs.iter().map(|(_, r)| r.run.start_unix_s + r.duration_s).fold(f64::NEG_INFINITY, f64::max);
    let anchor = Instant::now();
    let mut total = WorkerStats::new(anchor);
    for (file, run) in &runs {
        total += &stats_of(file, run, start, anchor)?;
    }
    total.elapsed = Duration::from_secs_f64((end - start).max(0.0));
    let info = merged_info(runs.iter().map(|(_, r)| &r.run), start);
    Ok(Merged { report: Report::new(&info, &total), warnings })
}

/// A warning when some of `runs` never ran at the same time: the run that began last began
/// after (or as) the one that ended first ended. (Intervals on a line that all overlap in
/// pairs share a common time, so checking that one pair is enough.)
fn not_overlapping(runs: &[(&Path, Report)]) -> Option<String> {
    if runs.len() < 2 {
        return None;
    }
    let end = |r: &Report| r.run.start_unix_s + r.duration_s;
    let (last_file, last) = runs.iter().max_by(|a, b| a.1.run.start_unix_s.total_cmp(&b.1.run.start_unix_s))?;
    let (first_file, first) = runs.iter().min_by(|a, b| end(&a.1).total_cmp(&end(&b.1)))?;
    (last.run.start_unix_s >= end(first)).then(|| {
        format!(
            "runs did not overlap in time ({} began {:.1} s after {} ended): the counts add up separate runs \
             and the rate is over the whole span from the first start to the last end, not a combined rate",
            last_file.display(),
            last.run.start_unix_s - end(first),
            first_file.display()
        )
    })
}

/// The description of the merged run: the runs' together.
fn merged_info<'a>(runs: impl Iterator<Item = &'a RunInfo> + Clone, start_unix_s: f64) -> RunInfo {
    let first_machine = runs.clone().next().and_then(|r| r.machine.clone());
    RunInfo {
        command: crate::report::command_line(),
        // One machine only when all the runs ran on the same kind.
        machine: first_machine.filter(|m| runs.clone().all(|r| r.machine.as_ref() == Some(m))),
        target: joined(runs.clone().map(|r| r.target.as_str())),
        address: joined(runs.clone().map(|r| r.address.as_str())),
        threads: runs.clone().map(|r| r.threads).sum(),
        connections: runs.clone().map(|r| r.connections).sum(),
        pipeline: runs.clone().map(|r| r.pipeline).max().unwrap_or(1),
        reconnect: runs.clone().any(|r| r.reconnect),
        framing: joined(runs.clone().map(|r| r.framing.as_str())),
        protocol: runs.clone().find_map(|r| r.protocol.clone()),
        streams: runs.clone().filter_map(|r| r.streams).max(),
        http: runs.clone().any(|r| r.http),
        rate_asked_per_s: runs.clone().map(|r| r.rate_asked_per_s).sum(),
        warmup_s: None,
        start_unix_s,
        tls: runs.clone().find_map(|r| r.tls.clone()),
        // Per-entry rows only when every run sent the same list.
        target_labels: {
            let first = runs.clone().next().map(|r| r.target_labels.clone()).unwrap_or_default();
            if runs.clone().all(|r| r.target_labels == first) {
                first
            } else {
                Vec::new()
            }
        },
    }
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

/// One file's report as `WorkerStats`, its timeline placed by wall-clock second from `start`:
/// the inverse of `Report::new`. Every field of `Report` is named below, so a field added to
/// the report does not compile until this says how it goes back (or why it does not).
fn stats_of(file: &Path, report: &Report, start: f64, anchor: Instant) -> Result<WorkerStats, MergeError> {
    let Report {
        clobber_version: _,
        // The description: `merged_info` joins the runs'.
        run,
        requests,
        // The sum of `errors_by_kind`.
        errors: _,
        errors_by_kind,
        error_messages,
        connections_opened,
        connections_answered,
        in_flight_at_end,
        in_flight_age_us,
        gave_up_after_s,
        stopped_during_warmup,
        // The merged run lasts from the first start to the last end.
        duration_s: _,
        requests_per_s: _,
        bytes_sent,
        bytes_received,
        // Summaries of the histograms, which are merged instead.
        latency_us: _,
        // A summary only (the JSON has no connect histogram): not merged.
        connect_us: _,
        tls,
        // A summary only (the JSON has no TTFB histogram): not merged.
        ttfb_us: _,
        h2,
        client_cpu,
        // Figures of the run's own window and machines: recomputed from client_cpu (`client`),
        // or not merged (the servers' CPU time, and so the verdict).
        client: _,
        server: _,
        bottleneck: _,
        // A profile belongs to one run's processes: not merged.
        profile: _,
        status,
        replies,
        sent,
        missed,
        timeline,
        histogram,
        histogram_uncorrected,
        // Counts and statuses add up; the per-entry latency is a summary only: not merged.
        targets,
    } = report;
    let mut s = WorkerStats::new(anchor);
    s.requests = *requests;
    for (&kind, &n) in errors_by_kind {
        s.errors[kind as usize] = n;
    }
    for (&kind, message) in error_messages {
        s.first_error[kind as usize] = Some(message.clone());
    }
    s.connections_opened = *connections_opened;
    // `handshake_us` is a summary only (the JSON has no handshake histogram): not merged.
    if let Some(TlsReport {
        setup: _,
        handshakes,
        resumed,
        handshakes_per_s: _,
        version,
        cipher_suite,
        group,
        handshake_us: _,
    }) = tls
    {
        (s.tls_handshakes, s.tls_resumed) = (*handshakes, *resumed);
        if version.is_some() || cipher_suite.is_some() || group.is_some() {
            let name = |n: &Option<String>| n.clone().unwrap_or_default();
            s.tls_negotiated =
                Some(TlsNegotiated { version: name(version), cipher_suite: name(cipher_suite), group: name(group) });
        }
    }
    if let Some(h2) = h2 {
        (s.h2_resets, s.h2_goaways, s.h2_server_max_streams) = (h2.resets, h2.goaways, h2.server_max_streams);
    }
    s.bytes_sent = *bytes_sent;
    s.bytes_received = *bytes_received;
    s.in_flight_at_end = *in_flight_at_end;
    s.connections_answered = connections_answered.unwrap_or(*connections_opened);
    if let Some(ages) = in_flight_age_us {
        // The JSON keeps min, p50 and max: the merged min and max are exact, its p50 close.
        s.in_flight_age_us = match *in_flight_at_end {
            0 | 1 => vec![ages.max],
            n => std::iter::once(ages.min)
                .chain(std::iter::repeat(ages.p50).take(n as usize - 2))
                .chain([ages.max])
                .collect(),
        };
    }
    s.gave_up_after = gave_up_after_s.map(Duration::from_secs_f64);
    s.stopped_during_warmup = *stopped_during_warmup;
    s.sent = sent.unwrap_or(0);
    s.missed = missed.unwrap_or(0);
    s.targets = Vec::with_capacity(targets.as_ref().map_or(0, Vec::len));
    for t in targets.iter().flatten() {
        // A code ("200"), or under --frame a reply's name ("resp_bulk"): see `target_status`.
        let code = |key: &String| {
            let http = key.parse::<u16>().ok().filter(|&c| c > 0 && usize::from(c) < STATUS_CODES);
            http.or_else(|| crate::protocol::reply::class(key))
                .ok_or_else(|| bad(file, Why::NotATargetStatus { request: t.request.clone(), status: key.clone() }))
        };
        let status = t.status.iter().map(|(key, &n)| Ok((code(key)?, n))).collect::<Result<_, MergeError>>()?;
        s.targets.push(crate::stats::TargetStats { requests: t.requests, status, latency_us: None });
    }
    for (&code, &n) in status.iter().flatten() {
        let index = Some(usize::from(code)).filter(|&c| c < STATUS_CODES);
        let index = index.ok_or_else(|| bad(file, Why::NotAStatus(code)))?;
        s.status[index] = n;
    }
    for (name, &n) in replies.iter().flatten() {
        let class = crate::protocol::reply::class(name).ok_or_else(|| bad(file, Why::NotAReply(name.clone())))?;
        s.status[usize::from(class)] = n;
    }
    let corrupt = |which| move |why| bad(file, Why::Histogram { which, why });
    s.latency_us = decode_histogram(histogram).map_err(corrupt(""))?;
    if s.latency_us.len() != *requests {
        return Err(bad(file, Why::CountsDisagree { values: s.latency_us.len(), requests: *requests }));
    }
    if let Some(h) = histogram_uncorrected {
        s.service_us = decode_histogram(h).map_err(corrupt("uncorrected "))?;
    }
    // Whole seconds since the earliest start (the merged `start_unix_s`), so that the merged
    // `duration_s` covers every entry: counted from the floor of the earliest start, runs that
    // straddled a second lost their last entries.
    let offset_s = (run.start_unix_s - start).max(0.0).floor() as u64;
    let mut slot = Slot::new();
    for entry in timeline {
        let Second { t_s, span_s, requests, errors, errors_by_kind, p50_us: _, p99_us: _, histogram } = entry;
        if !span_s.is_power_of_two() {
            return Err(bad(file, Why::Span { t_s: *t_s, span_s: *span_s }));
        }
        slot.reset();
        slot.requests = *requests;
        slot.errors = *errors;
        for (&kind, &n) in errors_by_kind {
            slot.errors_by_kind[kind as usize] += n;
        }
        let h = decode_histogram::<u32>(histogram).map_err(|why| bad(file, Why::EntryHistogram { t_s: *t_s, why }))?;
        slot.latency_us.add(&h).map_err(|why| bad(file, Why::EntryBounds { t_s: *t_s, why }))?;
        s.add_entry(offset_s + t_s, *span_s, &slot);
    }
    let ClientCpu { user_s, sys_s, us_per_request: _ } = client_cpu;
    s.cpu = CpuTime { user: Duration::from_secs_f64(user_s.max(0.0)), sys: Duration::from_secs_f64(sys_s.max(0.0)) };
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
        let info =
            RunInfo { command: format!("clobber http://127.0.0.1:1/ -d {seconds}s"), ..RunInfo::example(start_unix_s) };
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
        assert!(merged.timeline.iter().enumerate().all(|(i, s)| s.span_s == 2 && s.t_s == 2 * i as u64));
        assert_eq!(merged.timeline.iter().map(|s| s.requests).sum::<u64>(), merged.requests);
        assert_eq!(merged.timeline[4].requests, 6, "[8, 10): the long run alone");
        assert_eq!(merged.timeline[5].requests, 12, "[10, 12): both runs");
        assert_eq!(merged.timeline[15].requests, 6, "[30, 32): the short run is over");
    }

    #[test]
    fn an_older_report_merges() {
        let dir = std::env::temp_dir().join(format!("clobber-merge-old-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&report(3, 1_800_000_000.0).to_json()).unwrap();
        let top = json.as_object_mut().unwrap();
        for newer in ["command", "connections_answered", "in_flight_age_us", "connect_us", "status"] {
            top.remove(newer);
        }
        for entry in top["timeline"].as_array_mut().unwrap() {
            entry.as_object_mut().unwrap().remove("span_s");
        }
        let old = dir.join("old.json");
        std::fs::write(&old, json.to_string()).unwrap();
        let new = write(&dir, "new.json", &report(3, 1_800_000_001.0));
        let merged = merge(&[old, new]).unwrap().report;
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(merged.requests, 18);
        assert_eq!(merged.timeline.iter().map(|s| s.requests).collect::<Vec<_>>(), [3, 6, 6, 3]);
        assert_eq!(merged.run.command, crate::report::command_line());
    }

    #[test]
    fn the_first_run_with_a_negotiated_tls_keeps_it() {
        let dir = std::env::temp_dir().join(format!("clobber-merge-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let setup = crate::report::TlsSetup { verified: true, server_name: "h".into(), resumption: true };
        let tls = |version: Option<&str>, start_unix_s| {
            let mut r = report(2, start_unix_s);
            r.run.tls = Some(setup.clone());
            r.tls = Some(TlsReport {
                setup: setup.clone(),
                handshakes: 1,
                resumed: 0,
                handshakes_per_s: None,
                version: version.map(String::from),
                cipher_suite: version.map(|_| "TLS13_AES_128_GCM_SHA256".to_string()),
                group: version.map(|_| "X25519".to_string()),
                handshake_us: None,
            });
            r
        };
        let files = [
            write(&dir, "none.json", &tls(None, 1.8e9)),
            write(&dir, "tls13.json", &tls(Some("TLSv1.3"), 1.8e9 + 1.0)),
        ];
        let merged = merge(&files).unwrap().report;
        std::fs::remove_dir_all(&dir).unwrap();
        let t = merged.tls.unwrap();
        assert_eq!(
            (t.version.as_deref(), t.cipher_suite.as_deref()),
            (Some("TLSv1.3"), Some("TLS13_AES_128_GCM_SHA256"))
        );
        assert_eq!((t.group.as_deref(), t.handshakes), (Some("X25519"), 2));
    }

    #[test]
    fn what_cannot_be_merged_is_named() {
        let anchor = Instant::now();
        let file = Path::new("r.json");
        let mut r = report(2, 1_800_000_000.0);
        r.timeline[1].span_s = 3;
        let err = stats_of(file, &r, 1_800_000_000.0, anchor).unwrap_err();
        assert!(matches!(err.why, Why::Span { t_s: 1, span_s: 3 }), "{err}");
        assert_eq!(err.to_string(), "r.json: second 1: a span of 3 s (not 1, 2, 4...)");
        let mut r = report(2, 1_800_000_000.0);
        r.status = Some([(1000, 1)].into());
        let err = stats_of(file, &r, 1_800_000_000.0, anchor).unwrap_err();
        assert!(matches!(err.why, Why::NotAStatus(1000)), "{err}");
        assert_eq!(err.to_string(), "r.json: '1000' is not an HTTP status");
        let mut r = report(2, 1_800_000_000.0);
        r.requests += 1;
        let err = stats_of(file, &r, 1_800_000_000.0, anchor).unwrap_err();
        assert_eq!(err.to_string(), "r.json: its histogram holds 6 values for 7 requests");
        r.histogram = "aGVsbG8=".into();
        let err = stats_of(file, &r, 1_800_000_000.0, anchor).unwrap_err();
        assert!(matches!(err.why, Why::Histogram { which: "", why: HistogramError::NotHdrHistogram(_) }), "{err}");
        assert!(err.to_string().starts_with("r.json: its histogram is corrupt: not an HdrHistogram"), "{err}");
    }

    #[test]
    fn reply_kinds_come_back_and_add_up() {
        let anchor = Instant::now();
        let file = Path::new("r.json");
        let mut r = report(2, 1_800_000_000.0);
        r.replies = Some([("resp_bulk".to_string(), 4), ("resp_error".to_string(), 2)].into());
        let s = stats_of(file, &r, 1_800_000_000.0, anchor).unwrap();
        use crate::protocol::reply;
        assert_eq!((s.status[usize::from(reply::RESP_BULK)], s.status[usize::from(reply::RESP_ERROR)]), (4, 2));
        let back = Report::new(&r.run, &s);
        assert_eq!(back.replies, r.replies);
        r.replies = Some([("resp_bogus".to_string(), 1)].into());
        let err = stats_of(file, &r, 1_800_000_000.0, anchor).unwrap_err();
        assert_eq!(err.to_string(), "r.json: 'resp_bogus' is not a reply kind (resp_..., mc_...)");
    }

    #[test]
    fn target_statuses_come_back_by_code_or_reply_name() {
        use crate::report::TargetReport;
        let anchor = Instant::now();
        let file = Path::new("r.json");
        let entry = |request: &str, status: &[(&str, u64)]| TargetReport {
            request: request.into(),
            requests: status.iter().map(|(_, n)| n).sum(),
            status: status.iter().map(|&(k, n)| (k.to_string(), n)).collect(),
            latency_us: None,
        };
        let mut r = report(2, 1_800_000_000.0);
        (r.run.http, r.status) = (false, None);
        r.run.target_labels = vec!["GET a".into(), "SET b".into()];
        r.targets =
            Some(vec![entry("GET a", &[("resp_bulk", 3), ("resp_null", 1)]), entry("SET b", &[("resp_simple", 2)])]);
        let s = stats_of(file, &r, 1_800_000_000.0, anchor).unwrap();
        use crate::protocol::reply;
        assert_eq!(
            s.targets[0].status.iter().copied().collect::<Vec<_>>(),
            [(reply::RESP_BULK, 3), (reply::RESP_NULL, 1)]
        );
        assert_eq!(Report::new(&r.run, &s).targets, r.targets, "the names come back");
        // HTTP: the codes.
        let mut r = report(2, 1_800_000_000.0);
        r.run.target_labels = vec!["GET /a".into()];
        r.targets = Some(vec![entry("GET /a", &[("200", 5), ("404", 1)])]);
        let s = stats_of(file, &r, 1_800_000_000.0, anchor).unwrap();
        assert_eq!(s.targets[0].status.iter().copied().collect::<Vec<_>>(), [(200, 5), (404, 1)]);
        assert_eq!(Report::new(&r.run, &s).targets, r.targets);
        r.targets = Some(vec![entry("GET /a", &[("ok", 5)])]);
        let err = stats_of(file, &r, 1_800_000_000.0, anchor).unwrap_err();
        assert_eq!(err.to_string(), "r.json: target 'GET /a': status 'ok' is neither an HTTP status nor a reply kind");
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

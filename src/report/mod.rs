//! The only module that formats a report: text for people, one JSON object for programs. Both
//! come from the same `Report` value, so they cannot disagree. A report is built from a run's
//! description (`RunInfo`, which the report holds once, flattened into the JSON's top level)
//! and its merged `WorkerStats`; `clobber merge` rebuilds both from JSON reports, so a merged
//! report is formatted by the same code.
//!
//! The text report is a table of rows (`TEXT_ROWS`), as the page's tables are; the sentences
//! both write (the load, TLS, handshakes, status codes) are one function each here, and
//! numbers are spelled by `units`. Maps are keyed by `ErrorKind` and by status code, never by
//! strings; the JSON's keys stay the snake_case names and "200".
//!
//! The JSON carries the latency histogram losslessly (HdrHistogram V2 with deflate, base64),
//! and one per timeline entry (a second, or `span_s` seconds in runs longer than
//! `TIMELINE_ENTRIES_MAX` seconds), so that reports from several machines can be merged
//! exactly. Older reports, without the optional fields added since, still load.

pub mod html;
pub mod merge;
pub mod sweep;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::{Counter, Histogram};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::protocol::reply;
use crate::stats::{CpuTime, ErrorKind, Machine, ServerCpuTime, TlsNegotiated, WorkerStats};
use crate::units::{bytes, group, micros, per_s, plural, rate, rounded, seconds};

/// What was run, as the report's header describes it: held once, by `Report::run`, whose JSON
/// has these fields at its top level (flattened), under the names they always had.
///
/// `http` and `tls` are not fields of their own in the JSON: an HTTP run's report has `status`,
/// and the TLS setup is written inside the report's `tls`, beside the handshakes. Reading a
/// report restores them from there (see `Report`'s `Deserialize`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The command line that made the run, as typed (quoted where needed); empty in reports
    /// from before it was recorded.
    #[serde(default)]
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<Machine>,
    pub target: String,
    pub address: String,
    pub threads: usize,
    pub connections: usize,
    pub pipeline: usize,
    pub reconnect: bool,
    pub framing: String,
    /// `h2` for an HTTP/2 run (`--http2`); absent for HTTP/1.1 and raw TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// HTTP/2: the concurrent streams per connection asked for (`--streams`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<usize>,
    #[serde(skip)]
    pub http: bool,
    /// Under `--rate`: the rate asked for, in requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "rate_asked")]
    pub rate_asked_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_s: Option<f64>,
    /// Wall-clock time (Unix seconds) when measuring began.
    pub start_unix_s: f64,
    /// TLS settings; `None` for plain TCP.
    #[serde(skip)]
    pub tls: Option<TlsSetup>,
    /// How the report names each entry of a request list (`--targets`, `--data-file`); empty
    /// for one request. Kept in the JSON's `targets`.
    #[serde(skip)]
    pub target_labels: Vec<String>,
}

/// How a run used TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsSetup {
    /// The server's certificate was checked (false under `-k/--insecure`).
    pub verified: bool,
    /// The name sent as SNI and verified.
    pub server_name: String,
    /// Sessions resumed on new connections (false under `--no-resume`).
    pub resumption: bool,
}

/// TLS in the JSON report: the setup and what the handshakes did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsReport {
    #[serde(flatten)]
    pub setup: TlsSetup,
    /// Handshakes completed while measuring, and how many of them resumed a session.
    pub handshakes: u64,
    pub resumed: u64,
    /// Under `--reconnect` only: with keep-alive the handshakes happen at the start, and
    /// their count over the run's length is not a rate of anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshakes_per_s: Option<f64>,
    /// What the first handshake negotiated, in rustls' names (`TLSv1.3`,
    /// `TLS13_AES_128_GCM_SHA256`, `X25519`); absent when no handshake completed, and from
    /// older reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Handshake times, in microseconds: from the TCP connect's completion to the handshake's
    /// (absent when none completed, and from reports of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake_us: Option<Latency>,
}

impl RunInfo {
    pub fn of(config: &Config, start_unix_s: f64) -> RunInfo {
        RunInfo {
            target: config.target.label.clone(),
            address: match &config.target.unix {
                Some(path) => format!("unix:{}", path.display()),
                None => config.target.addr.to_string(),
            },
            threads: config.threads,
            connections: config.connections,
            pipeline: config.pipeline,
            reconnect: config.reconnect,
            framing: config.framing_label(),
            protocol: config.http2.map(|_| "h2".to_string()),
            streams: config.http2.map(|h2| h2.streams),
            http: config.is_http(),
            rate_asked_per_s: config.rate_per_s,
            warmup_s: config.warmup.map(|d| d.as_secs_f64()),
            start_unix_s,
            tls: config.tls.as_ref().map(|tls| TlsSetup {
                verified: !tls.insecure,
                server_name: tls.server_name.clone(),
                resumption: tls.resume,
            }),
            command: command_line(),
            machine: Some(Machine::this()),
            target_labels: config
                .varying
                .as_ref()
                .filter(|v| v.per_target())
                .map(|v| v.labels.clone())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
impl RunInfo {
    /// What unit tests start from: one thread and one connection, closed loop, HTTP to
    /// 127.0.0.1:1, begun at `start_unix_s`.
    pub(crate) fn example(start_unix_s: f64) -> RunInfo {
        RunInfo {
            command: "clobber http://127.0.0.1:1/".into(),
            machine: None,
            target: "http://127.0.0.1:1/".into(),
            address: "127.0.0.1:1".into(),
            threads: 1,
            connections: 1,
            pipeline: 1,
            reconnect: false,
            framing: "HTTP/1.1".into(),
            protocol: None,
            streams: None,
            http: true,
            rate_asked_per_s: None,
            warmup_s: None,
            start_unix_s,
            tls: None,
            target_labels: Vec::new(),
        }
    }
}

/// This process's command line, quoted for a POSIX shell where a word needs it.
pub fn command_line() -> String {
    let quote = |w: String| {
        if !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b)) {
            w
        } else {
            format!("'{}'", w.replace('\'', "'\\''"))
        }
    };
    let mut words = std::env::args();
    let program = words
        .next()
        .map(|p| std::path::Path::new(&p).file_name().map_or(p.clone(), |n| n.to_string_lossy().into_owned()));
    program.into_iter().chain(words.map(quote)).collect::<Vec<_>>().join(" ")
}

/// A finished run, in the units and names of the JSON schema (README documents it).
///
/// `remote = "Self"` makes serde's derive write `Report::serialize` and `Report::deserialize`
/// as inherent functions; the trait impls below call them, and `deserialize` then restores
/// `run.http` and `run.tls`, which the JSON keeps elsewhere (see `RunInfo`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Report {
    pub clobber_version: String,
    /// What was run: `command`, `machine`, `target`... at the JSON's top level.
    #[serde(flatten)]
    pub run: RunInfo,
    pub requests: u64,
    pub errors: u64,
    /// Every kind, 0 for those that did not occur.
    pub errors_by_kind: BTreeMap<ErrorKind, u64>,
    /// The first message seen for each error kind that occurred.
    pub error_messages: BTreeMap<ErrorKind, String>,
    pub connections_opened: u64,
    /// Connections that got at least one response (absent from reports of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections_answered: Option<u64>,
    pub in_flight_at_end: u64,
    /// How long the requests in flight at the end had waited, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight_age_us: Option<Ages>,
    /// The run gave up (`--give-up`) after this long without a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gave_up_after_s: Option<f64>,
    /// Stopped before the warm-up ended: nothing was measured.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped_during_warmup: bool,
    pub duration_s: f64,
    #[serde(rename = "rps")]
    pub requests_per_s: f64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// `null` when no response completed.
    pub latency_us: Option<LatencyReport>,
    /// Connect times, in microseconds (from starting a connect to its completion; with TLS,
    /// to the end of the handshake).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_us: Option<Latency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsReport>,
    /// HTTP/2: time to the first byte of each response (its HEADERS), in microseconds from
    /// the stream's HEADERS going out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb_us: Option<Latency>,
    /// HTTP/2: streams, resets and GOAWAYs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h2: Option<H2Report>,
    pub client_cpu: ClientCpu,
    /// How busy clobber's workers were over the measured window (absent from older reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientBusy>,
    /// Under `--server-pid`: the server's CPU time over the measured window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerCpu>,
    /// Which side saturated its cores; `null` when it cannot be told (no `--server-pid` and
    /// clobber not saturated).
    #[serde(default)]
    pub bottleneck: Option<Bottleneck>,
    /// Under `--perf`: where the profiled processes spent their time while measuring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// HTTP only: responses by status code (the JSON's keys are the codes as strings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<BTreeMap<u16, u64>>,
    /// `--frame resp` and `--frame memcache`: replies by kind (`resp_bulk`, `resp_error`,
    /// `mc_end`...); absent when no reply of a kind was counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<BTreeMap<String, u64>>,
    /// Under `--rate`: requests sent, and requests due but never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<u64>,
    /// The measured run in entries of `span_s` seconds each (1 s unless the run outgrew
    /// `TIMELINE_ENTRIES_MAX` seconds).
    pub timeline: Vec<Second>,
    /// The latency histogram (corrected under `--rate`), HdrHistogram V2 + deflate, base64.
    pub histogram: String,
    /// Under `--rate`: the uncorrected service-time histogram, same encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram_uncorrected: Option<String>,
    /// Per entry of a request list (`--targets`, `--data-file`), in the list's order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<TargetReport>>,
}

/// One entry of a request list: its completed responses, their statuses and latency (`null`
/// for a list of more than `config::TARGET_ROWS_MAX` entries, and after a merge).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    /// The entry as the report names it: `GET /a`, or a raw payload, escaped.
    pub request: String,
    pub requests: u64,
    /// Responses by status: the HTTP code (`"200"`), or under `--frame` the reply's kind as the
    /// report's `replies` names it (`"resp_bulk"`); see `target_status`.
    #[serde(default)]
    pub status: BTreeMap<String, u64>,
    #[serde(default)]
    pub latency_us: Option<Latency>,
}

impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Report::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for Report {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Report, D::Error> {
        let mut report = Report::deserialize(deserializer)?;
        report.run.http = report.status.is_some();
        report.run.tls = report.tls.as_ref().map(|t| t.setup.clone());
        report.run.target_labels = report.targets.iter().flatten().map(|t| t.request.clone()).collect();
        Ok(report)
    }
}

/// One of the names the first TLS handshake negotiated, if it said.
fn negotiated(stats: &WorkerStats, name: fn(&TlsNegotiated) -> &String) -> Option<String> {
    stats.tls_negotiated.as_ref().map(name).filter(|n| !n.is_empty()).cloned()
}

/// Latency in microseconds: the summary (corrected under `--rate`) and, under `--rate`, both
/// views side by side.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct LatencyReport {
    #[serde(flatten)]
    pub summary: Latency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected: Option<Latency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncorrected: Option<Latency>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

impl Latency {
    pub fn of<T: Counter>(h: &Histogram<T>) -> Latency {
        if h.is_empty() {
            return Latency { min: 0, mean: 0.0, p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0, max: 0 };
        }
        Latency {
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
        }
    }
}

/// HTTP/2's figures in the JSON report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct H2Report {
    /// Concurrent streams per connection: `--streams`, clamped by the server's
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub streams_per_connection: u64,
    /// The lowest SETTINGS_MAX_CONCURRENT_STREAMS a server sent (absent: it set no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_max_streams: Option<u32>,
    /// Streams the server reset (RST_STREAM), and GOAWAYs received.
    pub resets: u64,
    pub goaways: u64,
}

/// CPU time of the worker threads, read from the kernel.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct ClientCpu {
    pub user_s: f64,
    pub sys_s: f64,
    /// (user + sys) / requests; `null` when no request completed.
    pub us_per_request: Option<f64>,
}

/// A side counts as saturated when busy this share of the cores it used.
pub const SATURATED: f64 = 0.9;

/// clobber's own CPU cost and how busy its workers were.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct ClientBusy {
    pub cpu_us_per_request: Option<f64>,
    /// CPU seconds of the workers / measured seconds: 1.0 is one core's worth.
    pub busy_cores: f64,
    /// Under `--rate`: the share of the measured time the workers' loops did not wait in
    /// `poll` (1.0: never idle); absent from older reports, closed-loop runs and merges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_busy: Option<f64>,
}

/// `--perf`'s profile: `perf record -e cpu-clock` samples over the measured window, folded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    pub samples: u64,
    pub frequency_hz: u32,
    /// The functions with the most samples at the top of the stack (self time), most first.
    pub top: Vec<ProfileFunction>,
    /// Under `--perf-out`: where the folded stacks and the flamegraph were written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folded_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub svg_file: Option<String>,
    /// The folded stacks themselves (`frame;frame;leaf count` per line), so that
    /// `clobber report` can draw each run's flamegraph, and differential ones between runs,
    /// from JSON files alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folded: Option<String>,
    /// The flamegraph, for `--html` (not in the JSON: `--perf-out` writes it to a file).
    #[serde(skip)]
    pub svg: Option<String>,
}

/// One function of the profile and its share of all samples (0 to 1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProfileFunction {
    pub function: String,
    pub share: f64,
}

/// The text report's Profile section: the sample count, then one line per top function.
fn profile_text(profile: &Profile) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  Profile      {} samples at {} Hz (perf, cpu-clock); top functions by self time:",
        crate::units::group(profile.samples),
        profile.frequency_hz
    );
    for f in &profile.top {
        let _ = writeln!(out, "    {:>5.1}%  {}", f.share * 100.0, f.function);
    }
    for file in [&profile.folded_file, &profile.svg_file].into_iter().flatten() {
        let _ = writeln!(out, "    written: {file}");
    }
    out
}

/// The server's CPU time over the measured window (`--server-pid`), from `/proc/PID/stat`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServerCpu {
    pub pids: Vec<u32>,
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// (user + sys) / requests; `null` when no request completed.
    pub cpu_us_per_request: Option<f64>,
    /// CPU seconds / measured seconds.
    pub busy_cores: f64,
    /// The server's threads (over all its processes) that were busy at least 10% of the
    /// window, at least 1: the cores it could saturate, what `busy_cores` is judged against.
    pub threads_busy: usize,
    /// Processes that exited during the run (their last reading counts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vanished: Vec<Vanished>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Vanished {
    pub pid: u32,
    /// Roughly when, in seconds into the measured window (found missing at this reading).
    pub at_s: f64,
}

/// The side whose cores were saturated.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Bottleneck {
    Server,
    Client,
    Neither,
}

impl ServerCpu {
    /// What `ServerWatch` read, over `requests` and `duration_s`.
    pub fn of(times: &[ServerCpuTime], requests: u64, duration_s: f64) -> ServerCpu {
        let mut cpu = CpuTime::default();
        for t in times {
            cpu += t.cpu;
        }
        let cpu_s = cpu.total().as_secs_f64();
        ServerCpu {
            pids: times.iter().map(|t| t.pid).collect(),
            cpu_user_s: cpu.user.as_secs_f64(),
            cpu_sys_s: cpu.sys.as_secs_f64(),
            cpu_us_per_request: (requests > 0).then(|| cpu_s * 1e6 / requests as f64),
            busy_cores: if duration_s > 0.0 { cpu_s / duration_s } else { 0.0 },
            threads_busy: times.iter().map(|t| t.threads_busy).sum::<usize>().max(1),
            vanished: times.iter().filter_map(|t| t.vanished_at_s.map(|at_s| Vanished { pid: t.pid, at_s })).collect(),
        }
    }

    /// Busy as a share of the cores it used.
    fn busy_share(&self) -> f64 {
        self.busy_cores / self.threads_busy as f64
    }
}

/// "98% of one core", "75% of 2 cores".
fn busy_of_cores(share: f64, cores: usize) -> String {
    let cores = if cores == 1 { "one core".to_string() } else { format!("{cores} cores") };
    format!("{:.0}% of {cores}", share * 100.0)
}

/// The ages of the requests in flight at the end, in microseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Ages {
    pub min: u64,
    pub p50: u64,
    pub max: u64,
}

impl Ages {
    /// `None` for no ages.
    pub fn of(ages_us: &[u64]) -> Option<Ages> {
        let mut sorted = ages_us.to_vec();
        sorted.sort_unstable();
        Some(Ages { min: *sorted.first()?, p50: sorted[(sorted.len() - 1) / 2], max: *sorted.last()? })
    }
}

/// One entry of the timeline: a second, or `span_s` seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Second {
    /// Seconds since measuring began: this entry covers [t_s, t_s + span_s), the last one cut
    /// short by the end of the run (`duration_s`).
    #[serde(rename = "t")]
    pub t_s: u64,
    /// 1, 2, 4...: the same for every entry of a report. Reports from before entries were
    /// merged have no `span_s`: their entries are seconds.
    #[serde(default = "one_second")]
    pub span_s: u64,
    pub requests: u64,
    pub errors: u64,
    /// `errors` by kind, the kinds that occurred in this entry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors_by_kind: BTreeMap<ErrorKind, u64>,
    pub p50_us: u64,
    pub p99_us: u64,
    /// This entry's latency histogram, same encoding as the report's.
    pub histogram: String,
}

fn one_second() -> u64 {
    1
}

/// Serializes a histogram as HdrHistogram V2 with deflate, in base64.
pub fn encode_histogram<T: Counter>(h: &Histogram<T>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new().serialize(h, &mut bytes).expect("a histogram serializes into memory");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Why a report's histogram could not be read.
#[derive(Debug)]
pub enum HistogramError {
    NotBase64(base64::DecodeError),
    NotHdrHistogram(hdrhistogram::serialization::DeserializeError),
}

impl std::fmt::Display for HistogramError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HistogramError::NotBase64(e) => write!(f, "not base64: {e}"),
            HistogramError::NotHdrHistogram(e) => write!(f, "not an HdrHistogram: {e:?}"),
        }
    }
}

impl std::error::Error for HistogramError {}

/// The inverse of `encode_histogram`.
pub fn decode_histogram<T: Counter>(text: &str) -> Result<Histogram<T>, HistogramError> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).map_err(HistogramError::NotBase64)?;
    Deserializer::new().deserialize(&mut &bytes[..]).map_err(HistogramError::NotHdrHistogram)
}

impl Report {
    pub fn new(info: &RunInfo, stats: &WorkerStats) -> Report {
        let duration_s = stats.elapsed.as_secs_f64();
        let cpu_s = stats.cpu.total().as_secs_f64();
        let latency = Latency::of(&stats.latency_us);
        let paced = info.rate_asked_per_s.is_some();
        let per_s = |n: u64| per_s(n as f64, duration_s);
        let report = Report {
            clobber_version: crate::VERSION.to_string(),
            run: info.clone(),
            requests: stats.requests,
            errors: stats.errors_total(),
            errors_by_kind: ErrorKind::ALL.iter().map(|&k| (k, stats.error_count(k))).collect(),
            error_messages: ErrorKind::ALL
                .iter()
                .filter_map(|&k| stats.first_error[k as usize].clone().map(|m| (k, m)))
                .collect(),
            connections_opened: stats.connections_opened,
            connections_answered: Some(stats.connections_answered),
            in_flight_at_end: stats.in_flight_at_end,
            in_flight_age_us: Ages::of(&stats.in_flight_age_us),
            gave_up_after_s: stats.gave_up_after.map(|d| d.as_secs_f64()),
            stopped_during_warmup: stats.stopped_during_warmup,
            duration_s,
            requests_per_s: per_s(stats.requests),
            bytes_sent: stats.bytes_sent,
            bytes_received: stats.bytes_received,
            latency_us: (stats.requests > 0).then(|| LatencyReport {
                summary: latency,
                corrected: paced.then_some(latency),
                uncorrected: paced.then(|| Latency::of(&stats.service_us)),
            }),
            connect_us: (!stats.connect_us.is_empty()).then(|| Latency::of(&stats.connect_us)),
            tls: info.tls.clone().map(|setup| TlsReport {
                setup,
                handshakes: stats.tls_handshakes,
                resumed: stats.tls_resumed,
                handshakes_per_s: info.reconnect.then(|| per_s(stats.tls_handshakes)),
                version: negotiated(stats, |n| &n.version),
                cipher_suite: negotiated(stats, |n| &n.cipher_suite),
                group: negotiated(stats, |n| &n.group),
                handshake_us: (!stats.tls_handshake_us.is_empty()).then(|| Latency::of(&stats.tls_handshake_us)),
            }),
            ttfb_us: (!stats.ttfb_us.is_empty()).then(|| Latency::of(&stats.ttfb_us)),
            h2: info.streams.map(|asked| H2Report {
                streams_per_connection: stats
                    .h2_server_max_streams
                    .map_or(asked as u64, |max| (asked as u64).min(u64::from(max))),
                server_max_streams: stats.h2_server_max_streams,
                resets: stats.h2_resets,
                goaways: stats.h2_goaways,
            }),
            client_cpu: ClientCpu {
                user_s: stats.cpu.user.as_secs_f64(),
                sys_s: stats.cpu.sys.as_secs_f64(),
                us_per_request: (stats.requests > 0).then(|| cpu_s * 1e6 / stats.requests as f64),
            },
            client: Some(ClientBusy {
                cpu_us_per_request: (stats.requests > 0).then(|| cpu_s * 1e6 / stats.requests as f64),
                busy_cores: if duration_s > 0.0 { cpu_s / duration_s } else { 0.0 },
                loop_busy: (paced && !stats.poll_wait.is_zero() && duration_s > 0.0).then(|| {
                    let waited_s = stats.poll_wait.as_secs_f64() / info.threads.max(1) as f64;
                    (1.0 - waited_s / duration_s).clamp(0.0, 1.0)
                }),
            }),
            server: None,
            bottleneck: None,
            profile: None,
            status: info.http.then(|| {
                stats.status.iter().enumerate().filter(|(_, &n)| n > 0).map(|(code, &n)| (code as u16, n)).collect()
            }),
            replies: replies(stats),
            sent: paced.then_some(stats.sent),
            missed: paced.then_some(stats.missed),
            timeline: timeline(stats),
            histogram: encode_histogram(&stats.latency_us),
            histogram_uncorrected: paced.then(|| encode_histogram(&stats.service_us)),
            targets: (!info.target_labels.is_empty() && info.target_labels.len() == stats.targets.len()).then(|| {
                info.target_labels
                    .iter()
                    .zip(&stats.targets)
                    .map(|(label, t)| TargetReport {
                        request: label.clone(),
                        requests: t.requests,
                        status: t.status.iter().map(|&(code, n)| (target_status(code, info.http), n)).collect(),
                        latency_us: t.latency_us.as_deref().filter(|h| !h.is_empty()).map(Latency::of),
                    })
                    .collect()
            }),
        };
        report.with_server(None)
    }

    /// The report with the server's CPU time (`--server-pid`), and the verdict.
    pub fn with_profile(mut self, profile: Option<Profile>) -> Report {
        self.profile = profile;
        self
    }

    pub fn with_server(mut self, server: Option<ServerCpu>) -> Report {
        self.server = server;
        self.bottleneck = self.judge();
        self
    }

    /// The cores clobber's workers could use: one per thread, at most the machine's.
    fn client_cores(&self) -> usize {
        let machine = self.run.machine.as_ref().map_or(usize::MAX, |m| m.cores.max(1));
        self.run.threads.clamp(1, machine)
    }

    /// clobber's busy share of its cores.
    fn client_share(&self) -> Option<f64> {
        Some(self.client?.busy_cores / self.client_cores() as f64)
    }

    /// A side is saturated when busy `SATURATED` of its cores (the server's: its threads that
    /// worked); the server first when both are, since it then sets the pace either way.
    fn judge(&self) -> Option<Bottleneck> {
        if self.stopped_during_warmup || self.requests == 0 {
            return None;
        }
        let client_saturated = self.client_share()? >= SATURATED;
        match &self.server {
            Some(server) if server.busy_share() >= SATURATED => Some(Bottleneck::Server),
            Some(_) if client_saturated => Some(Bottleneck::Client),
            Some(_) => Some(Bottleneck::Neither),
            None => client_saturated.then_some(Bottleneck::Client),
        }
    }

    fn server_cpu(&self) -> Option<String> {
        let s = self.server.as_ref()?;
        let per_request = match s.cpu_us_per_request {
            Some(us) => format!("{us:.2} us per request"),
            None => "no responses".to_string(),
        };
        Some(format!(
            "{} user + {} sys = {per_request}; busy {}",
            seconds(s.cpu_user_s),
            seconds(s.cpu_sys_s),
            busy_of_cores(s.busy_share(), s.threads_busy)
        ))
    }

    fn server_vanished(&self) -> Option<String> {
        let s = self.server.as_ref().filter(|s| !s.vanished.is_empty())?;
        let gone: Vec<String> = s.vanished.iter().map(|v| format!("PID {} about {:.1} s in", v.pid, v.at_s)).collect();
        Some(format!("exited during the run: {}; the last reading counts", gone.join(", ")))
    }

    fn bottleneck_sentence(&self) -> Option<String> {
        let verdict = bottleneck_sentence(self)?;
        match self.pacing() {
            Some((asked, _, _, sent_per_s)) if sent_per_s >= 0.97 * asked => {
                Some(format!("{verdict}; the rate asked was reached"))
            }
            Some((asked, _, _, sent_per_s)) => Some(format!(
                "{verdict}; the rate asked was not reached ({} of {} req/s)",
                rate(sent_per_s),
                rate(asked)
            )),
            None => Some(verdict),
        }
    }

    fn error_count(&self, kind: ErrorKind) -> u64 {
        self.errors_by_kind.get(&kind).copied().unwrap_or(0)
    }

    /// Completed responses that were not errors (a status outside `--expect-status` is one).
    pub fn successes(&self) -> u64 {
        self.requests - self.error_count(ErrorKind::Status)
    }

    /// 0 when any request completed successfully; 1 when none did, when the run gave up, or
    /// when it was stopped during its warm-up.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.successes() == 0 || self.gave_up_after_s.is_some() || self.stopped_during_warmup)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    /// The text report: a header, then `TEXT_ROWS` (or, when the run stopped during its
    /// warm-up, what it can say).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "clobber {}: {}", self.clobber_version, target_sentence(&self.run));
        let _ = writeln!(out, "  {}", load_sentence(&self.run, self.connections_opened));
        if let Some(tls) = &self.tls {
            let _ = writeln!(out, "  TLS: {}", tls_sentence(tls));
        }
        if let Some(w) = self.run.warmup_s {
            let _ = writeln!(out, "  after a warm-up of {w:.1} s (not counted)");
        }
        let _ = writeln!(out);
        let rows = if self.stopped_during_warmup {
            let _ = writeln!(out, "  stopped during warm-up: nothing measured");
            STOPPED_DURING_WARMUP_ROWS
        } else {
            TEXT_ROWS
        };
        for row in rows {
            row.write(self, &mut out);
        }
        if let Some(profile) = &self.profile {
            out.push_str(&profile_text(profile));
        }
        out
    }

    fn in_flight(&self) -> Option<String> {
        if self.in_flight_at_end == 0 {
            return None;
        }
        let mut line = format!("{} in flight at the end, not counted", group(self.in_flight_at_end));
        if let Some(a) = &self.in_flight_age_us {
            let (min, max, p50) = (micros(a.min as f64), micros(a.max as f64), micros(a.p50 as f64));
            let _ = write!(line, "; waiting {min} to {max} (p50 {p50})");
        }
        Some(line)
    }

    fn gave_up(&self) -> Option<String> {
        self.gave_up_after_s.map(|after| {
            format!(
                "no response for {after:.1} s while requests kept failing (--give-up); the run ended before -n \
                 was reached"
            )
        })
    }

    /// Under `--rate`: (asked, sent, missed, the rate sent).
    fn pacing(&self) -> Option<(f64, u64, u64, f64)> {
        let (Some(asked), Some(sent), Some(missed)) = (self.run.rate_asked_per_s, self.sent, self.missed) else {
            return None;
        };
        Some((asked, sent, missed, per_s(sent as f64, self.duration_s)))
    }

    fn rate(&self) -> Option<String> {
        let (asked, _, missed, sent_per_s) = self.pacing()?;
        Some(format!(
            "asked {} req/s, sent {} req/s; {} due but never sent",
            rate(asked),
            rate(sent_per_s),
            group(missed)
        ))
    }

    /// The request due at the very end is missed by every run; more than that, or a rate
    /// short of the one asked, means the connections were all busy.
    fn rate_shortfall(&self) -> Option<String> {
        let (asked, sent, missed, sent_per_s) = self.pacing()?;
        (missed > 1 + sent / 1000 || sent_per_s < 0.97 * asked).then(|| {
            "clobber could not keep up: every connection was busy when requests were due; raise -c or lower -R"
                .to_string()
        })
    }

    /// Responses by status class: "2xx 534,649   3xx 0   4xx 0   5xx 0  " (1xx only when
    /// some came).
    fn status_classes(&self) -> Option<String> {
        let status = self.status.as_ref()?;
        let mut classes = [0u64; 6];
        for (&code, &n) in status {
            classes[usize::from(code / 100).min(5)] += n;
        }
        let shown = classes.iter().enumerate().skip(1).filter(|&(class, &n)| class != 1 || n > 0);
        Some(shown.map(|(class, &n)| format!("{class}xx {}  ", group(n))).collect::<Vec<_>>().join(" "))
    }

    /// Error replies (`resp_error`, `mc_error`, `mc_client_error`, `mc_server_error`): they are
    /// responses, as a 500 is, and said here so they are not missed.
    fn error_replies(&self) -> Option<String> {
        let replies = self.replies.as_ref()?;
        let errors: Vec<String> = reply::ERRORS
            .iter()
            .filter_map(|&class| reply::name(class))
            .filter_map(|name| replies.get(name).map(|&n| format!("{name} {}", group(n))))
            .collect();
        (!errors.is_empty()).then(|| format!("error replies: {} (counted as responses, not errors)", errors.join(", ")))
    }

    fn status_unexpected(&self) -> Option<String> {
        let status = self.status.as_ref()?;
        let unexpected = self.error_count(ErrorKind::Status);
        let non_2xx: u64 = status.iter().filter(|(&code, _)| code / 100 != 2).map(|(_, &n)| n).sum();
        if unexpected > 0 {
            Some(format!("{} responses outside --expect-status, counted as errors", group(unexpected)))
        } else if non_2xx > 0 {
            Some(format!(
                "{} responses were not 2xx (counted above; --expect-status makes them errors)",
                group(non_2xx)
            ))
        } else {
            None
        }
    }

    fn write_latency(&self, out: &mut String) {
        match self.latency_us.map(|l| (l.corrected, l.uncorrected, l.summary)) {
            None => {
                let _ = writeln!(out, "  Latency      no responses");
            }
            Some((Some(corrected), Some(uncorrected), _)) => {
                write_latency(out, "Latency      (corrected: from when each request was due)", &corrected);
                write_latency(out, "Service time (uncorrected: from when it was written)", &uncorrected);
            }
            Some((_, _, summary)) => write_latency(out, "Latency", &summary),
        }
    }

    /// A row per entry of a request list of at most `TARGET_ROWS_MAX` entries (above that the
    /// JSON alone has them): responses, p50 and p99, statuses, and the request.
    fn write_targets(&self, out: &mut String) {
        let Some(targets) = self.targets.as_ref().filter(|t| t.len() <= crate::config::TARGET_ROWS_MAX) else {
            return;
        };
        let _ =
            writeln!(out, "  Targets      {:>10} {:>8} {:>8}  {:<20}  request", "responses", "p50", "p99", "status");
        for t in targets {
            let (p50, p99) = match &t.latency_us {
                Some(l) => (micros(l.p50 as f64), micros(l.p99 as f64)),
                None => ("-".to_string(), "-".to_string()),
            };
            let status = if t.status.is_empty() { "-".to_string() } else { target_statuses(&t.status) };
            let _ = writeln!(
                out,
                "               {:>10} {p50:>8} {p99:>8}  {status:<20}  {}",
                group(t.requests),
                t.request
            );
        }
    }

    fn write_bars(&self, out: &mut String) {
        if let Ok(h) = decode_histogram::<u64>(&self.histogram) {
            write_bars(out, &h);
        }
    }

    /// Requests that never got an answer: what the report's percentiles cannot show, because
    /// they count only answered requests.
    fn unanswered(&self) -> Option<String> {
        // Twice as old as the slowest answered request and a millisecond older, not merely
        // older than the p99: a request written just before the end of a healthy run can be
        // older than its peers' p99, or even their max when the loop woke late for the end.
        let a = self.in_flight_age_us.as_ref()?;
        let slowest_us = self.latency_us.map(|l| l.summary.max);
        slowest_us.map_or(true, |max| a.max > 2 * max && a.max > max + 1000).then(|| {
            format!(
                "{} requests got no answer, the oldest waited {}; the percentiles above count only answered \
                 requests",
                group(self.in_flight_at_end),
                micros(a.max as f64)
            )
        })
    }

    /// Little's law. Closed loop with keep-alive: every connection always has `pipeline`
    /// requests outstanding, so the mean latency is (connections × pipeline) / throughput. A
    /// mean far below it means some connections were not being served. The millisecond keeps
    /// the client's own time between a response and the next write (not in the latency, and
    /// long on a busy machine) from raising it.
    fn littles_law(&self) -> Option<String> {
        let mean_us = self.latency_us.map(|l| l.summary.mean);
        let (Some(mean_us), None, false) = (mean_us, self.run.rate_asked_per_s, self.run.reconnect) else {
            return None;
        };
        if self.requests < 100 || self.requests_per_s <= 0.0 {
            return None;
        }
        let connections = (self.run.connections as u64).min(self.connections_opened);
        // HTTP/2 keeps as many streams outstanding as the server allows.
        let depth = self.h2.map_or(self.run.pipeline as u64, |h2| h2.streams_per_connection);
        let implied_us = (connections * depth) as f64 / self.requests_per_s * 1e6;
        (mean_us < 0.8 * implied_us && implied_us - mean_us > 1000.0).then(|| {
            format!(
                "{} at {} req/s imply a mean of {} (Little's law); answered requests averaged {}: some \
                 connections were not being served",
                plural(connections, "connection"),
                rounded(self.requests_per_s),
                micros(implied_us),
                micros(mean_us)
            )
        })
    }

    fn transfer(&self) -> Option<String> {
        let (sent, received) = (self.bytes_sent as f64, self.bytes_received as f64);
        Some(format!(
            "sent {} ({}/s), received {} ({}/s)",
            bytes(sent),
            bytes(per_s(sent, self.duration_s)),
            bytes(received),
            bytes(per_s(received, self.duration_s))
        ))
    }

    fn connections(&self) -> Option<String> {
        let mut line = format!("{} opened", group(self.connections_opened));
        if let Some(c) = &self.connect_us {
            let (p50, p99, max) = (micros(c.p50 as f64), micros(c.p99 as f64), micros(c.max as f64));
            let _ = write!(line, "; connect time p50 {p50}, p99 {p99}, max {max}");
        }
        Some(line)
    }

    /// Under --rate a connection waits for the pacer and may never be needed; in a closed
    /// loop every connection has a request out from the start.
    fn never_answered(&self) -> Option<String> {
        let closed_loop = self.run.rate_asked_per_s.is_none();
        let answered = self.connections_answered.filter(|&a| closed_loop && a < self.connections_opened)?;
        Some(format!(
            "{} of {} connections never got a response",
            group(self.connections_opened - answered),
            group(self.connections_opened)
        ))
    }

    /// HTTP/2: "100 streams per connection; 0 RST_STREAM, 2 GOAWAY".
    fn h2_streams(&self) -> Option<String> {
        let h2 = self.h2.as_ref()?;
        Some(format!(
            "{} per connection; {} RST_STREAM, {} GOAWAY",
            plural(h2.streams_per_connection, "stream"),
            group(h2.resets),
            group(h2.goaways)
        ))
    }

    /// HTTP/2: said once when the server's limit clamped `--streams`.
    fn h2_clamped(&self) -> Option<String> {
        let (h2, asked) = (self.h2.as_ref()?, self.run.streams? as u64);
        (h2.streams_per_connection < asked).then(|| {
            format!(
                "--streams {asked} clamped to {} by the server's SETTINGS_MAX_CONCURRENT_STREAMS",
                h2.streams_per_connection
            )
        })
    }

    fn ttfb(&self) -> Option<String> {
        let t = self.ttfb_us.as_ref()?;
        Some(format!(
            "time to first byte p50 {}, p90 {}, p99 {}, max {}",
            micros(t.p50 as f64),
            micros(t.p90 as f64),
            micros(t.p99 as f64),
            micros(t.max as f64)
        ))
    }

    fn errors(&self) -> Option<String> {
        Some(if self.errors == 0 { "none".to_string() } else { group(self.errors) })
    }

    fn write_error_kinds(&self, out: &mut String) {
        for kind in ErrorKind::ALL {
            let n = self.error_count(kind);
            if n == 0 {
                continue;
            }
            let _ = write!(out, "    {:>10}  {}", group(n), kind.describe());
            if let Some(m) = self.error_messages.get(&kind) {
                let _ = write!(out, "; first: {m}");
            }
            let _ = writeln!(out);
        }
    }

    fn client_cpu(&self) -> Option<String> {
        let c = &self.client_cpu;
        Some(match c.us_per_request {
            Some(us) => format!("{} user + {} sys = {us:.2} us per request", seconds(c.user_s), seconds(c.sys_s)),
            None => format!("{} user + {} sys (no responses)", seconds(c.user_s), seconds(c.sys_s)),
        })
    }
}

/// A row of the text report, as html's tables have rows: a line with its label in the left
/// column (an empty label continues the row above), left out when its function says `None`;
/// or a block that lays out lines of its own (the latency table, the bars, the error kinds).
enum TextRow {
    Line(&'static str, fn(&Report) -> Option<String>),
    Block(fn(&Report, &mut String)),
}

impl TextRow {
    fn write(&self, report: &Report, out: &mut String) {
        match self {
            TextRow::Line(label, line) => {
                if let Some(line) = line(report) {
                    let _ = writeln!(out, "  {label:<13}{line}");
                }
            }
            TextRow::Block(write) => write(report, out),
        }
    }
}

/// The text report's rows, in order (README's "Reading the report" shows them).
const TEXT_ROWS: &[TextRow] = &[
    TextRow::Line("Requests", |r| {
        Some(format!("{} in {} = {} req/s", group(r.requests), seconds(r.duration_s), rounded(r.requests_per_s)))
    }),
    TextRow::Line("", Report::in_flight),
    TextRow::Line("Gave up", Report::gave_up),
    TextRow::Line("Rate", Report::rate),
    TextRow::Line("", Report::rate_shortfall),
    TextRow::Line("Status", Report::status_classes),
    TextRow::Line("", |r| r.status.as_ref().filter(|s| !s.is_empty()).map(status_codes)),
    TextRow::Line("", Report::status_unexpected),
    TextRow::Line("Replies", |r| r.replies.as_ref().map(reply_counts)),
    TextRow::Line("", Report::error_replies),
    TextRow::Block(Report::write_latency),
    TextRow::Block(Report::write_bars),
    TextRow::Line("TTFB", Report::ttfb),
    TextRow::Block(Report::write_targets),
    TextRow::Line("Warning", Report::unanswered),
    TextRow::Line("Warning", Report::littles_law),
    TextRow::Line("Transfer", Report::transfer),
    TextRow::Line("Connections", Report::connections),
    TextRow::Line("", Report::never_answered),
    TextRow::Line("HTTP/2", Report::h2_streams),
    TextRow::Line("", Report::h2_clamped),
    TextRow::Line("TLS", |r| r.tls.as_ref().map(handshakes_sentence)),
    TextRow::Line("Errors", Report::errors),
    TextRow::Block(Report::write_error_kinds),
    TextRow::Line("Client CPU", Report::client_cpu),
    TextRow::Line("Server CPU", Report::server_cpu),
    TextRow::Line("", Report::server_vanished),
    TextRow::Line("Bottleneck", Report::bottleneck_sentence),
];

/// What a run stopped during its warm-up can say.
const STOPPED_DURING_WARMUP_ROWS: &[TextRow] = &[
    TextRow::Line("Gave up", Report::gave_up),
    TextRow::Line("Errors", Report::errors),
    TextRow::Block(Report::write_error_kinds),
];

// Sentences that the text report and the page both write: one spelling each.

/// Which side saturated its cores: "the server (its core 98% busy, clobber's 41%)"; `None`
/// when the report cannot tell (no `--server-pid`, clobber not saturated).
pub fn bottleneck_sentence(report: &Report) -> Option<String> {
    let client = report.client_share()?;
    let pct = |share: f64| format!("{:.0}%", share * 100.0);
    let cores = |n: usize| if n == 1 { "core".to_string() } else { format!("{n} cores") };
    Some(match (report.bottleneck?, &report.server) {
        (Bottleneck::Server, Some(s)) => {
            format!("the server (its {} {} busy, clobber's {})", cores(s.threads_busy), pct(s.busy_share()), pct(client))
        }
        (Bottleneck::Client, Some(s)) => format!(
            "clobber (its {} {} busy, the server's {}): these figures measure clobber, not the server: add threads or machines",
            cores(report.client_cores()),
            pct(client),
            pct(s.busy_share())
        ),
        (Bottleneck::Client, None) => {
            format!("clobber's {} {} busy: the figures may measure clobber", cores(report.client_cores()), pct(client))
        }
        (Bottleneck::Neither, Some(s)) => format!(
            "neither saturated (server {}, clobber {}): latency or the network bound it",
            pct(s.busy_share()),
            pct(client)
        ),
        (Bottleneck::Server | Bottleneck::Neither, None) => return None,
    })
}

/// What was loaded: "http://127.0.0.1:8080/ (127.0.0.1:8080)".
pub fn target_sentence(run: &RunInfo) -> String {
    format!("{} ({})", run.target, run.address)
}

/// What load was run: "2 threads, 50 connections, keep-alive, pipeline 1, framing: HTTP/1.1".
/// With fewer connections opened than asked (a `-n` that needed fewer, a target that
/// refused), "50 connections asked, 1 opened".
pub fn load_sentence(run: &RunInfo, connections_opened: u64) -> String {
    let asked = run.connections as u64;
    let connections = if connections_opened < asked {
        format!("{} connections asked, {} opened", group(asked), group(connections_opened))
    } else {
        plural(asked, "connection")
    };
    let mode = if run.reconnect { "a new connection per request" } else { "keep-alive" };
    let depth = match run.streams {
        Some(streams) => format!("streams {streams}"),
        None => format!("pipeline {}", run.pipeline),
    };
    format!("{}, {connections}, {mode}, {depth}, framing: {}", plural(run.threads as u64, "thread"), run.framing)
}

/// How TLS was set up: "certificate verified for example.com; session resumption on;
/// TLSv1.3, TLS13_AES_128_GCM_SHA256, X25519" (what the first handshake negotiated). It says
/// "verified" only when a handshake completed.
pub fn tls_sentence(tls: &TlsReport) -> String {
    let TlsSetup { verified, server_name, resumption } = &tls.setup;
    // An IP address is verified against the certificate's IP addresses, and rustls sends no
    // SNI for it.
    let ip = server_name.parse::<std::net::IpAddr>().is_ok();
    let done = if tls.handshakes > 0 { "verified" } else { "to be verified (no handshake completed)" };
    let check = match (verified, ip) {
        (true, false) => format!("certificate {done} for {server_name}"),
        (true, true) => format!("certificate {done} for {server_name} (an IP address: no SNI)"),
        (false, false) => format!("certificate NOT verified (--insecure), SNI {server_name}"),
        (false, true) => "certificate NOT verified (--insecure), no SNI (an IP address)".to_string(),
    };
    let resume = if *resumption { "session resumption on" } else { "no resumption (--no-resume)" };
    let negotiated: Vec<&str> =
        [&tls.version, &tls.cipher_suite, &tls.group].into_iter().flatten().map(String::as_str).collect();
    if negotiated.is_empty() {
        return format!("{check}; {resume}");
    }
    format!("{check}; {resume}; {}", negotiated.join(", "))
}

/// "4 handshakes, 3 resumed"; under `--reconnect`, "4 handshakes (2.00/s), 3 resumed"; then
/// the handshake time, when some completed: "; handshake time p50 1.20ms, p99 2.10ms, max 3ms".
pub fn handshakes_sentence(tls: &TlsReport) -> String {
    let per_s = tls.handshakes_per_s.map(|r| format!(" ({}/s)", rate(r))).unwrap_or_default();
    let mut line = format!("{} handshakes{per_s}, {} resumed", group(tls.handshakes), group(tls.resumed));
    if let Some(h) = &tls.handshake_us {
        let (p50, p99, max) = (micros(h.p50 as f64), micros(h.p99 as f64), micros(h.max as f64));
        let _ = write!(line, "; handshake time p50 {p50}, p99 {p99}, max {max}");
    }
    line
}

/// Replies by kind, most first: "resp_bulk 1,000, resp_null 1,000".
pub fn reply_counts(replies: &BTreeMap<String, u64>) -> String {
    let mut kinds: Vec<(&String, &u64)> = replies.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    kinds.iter().map(|(name, &n)| format!("{name} {}", group(n))).collect::<Vec<_>>().join(", ")
}

/// The reply classes a run counted (`Done::status` below 100), by name.
fn replies(stats: &WorkerStats) -> Option<BTreeMap<String, u64>> {
    let counted: BTreeMap<String, u64> = stats.status[..100]
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .filter_map(|(class, &n)| reply::name(class as u16).map(|name| (name.to_string(), n)))
        .collect();
    (!counted.is_empty()).then_some(counted)
}

/// How a request list's entry names a status: an HTTP code as its number; in a run that is not
/// HTTP (`--frame resp|memcache`), a reply class by the name the Replies line gives it.
pub fn target_status(code: u16, http: bool) -> String {
    match reply::name(code).filter(|_| !http) {
        Some(name) => name.to_string(),
        None => code.to_string(),
    }
}

/// An entry's statuses: "200: 1,000, 404: 3", or "resp_bulk: 500, resp_null: 2".
pub fn target_statuses(status: &BTreeMap<String, u64>) -> String {
    status.iter().map(|(name, &n)| format!("{name}: {}", group(n))).collect::<Vec<_>>().join(", ")
}

/// Responses by status code: "200: 534,649, 404: 3".
pub fn status_codes(status: &BTreeMap<u16, u64>) -> String {
    status.iter().map(|(code, &n)| format!("{code}: {}", group(n))).collect::<Vec<_>>().join(", ")
}

fn write_latency(out: &mut String, title: &str, l: &Latency) {
    let _ = writeln!(out, "  {title}");
    let _ = writeln!(
        out,
        "               {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "min", "mean", "p50", "p90", "p99", "p99.9", "p99.99", "max"
    );
    let _ = writeln!(
        out,
        "               {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        micros(l.min as f64),
        micros(l.mean),
        micros(l.p50 as f64),
        micros(l.p90 as f64),
        micros(l.p99 as f64),
        micros(l.p999 as f64),
        micros(l.p9999 as f64),
        micros(l.max as f64)
    );
}

/// The latency distribution in `n` buckets spaced evenly on a log scale from the fastest
/// response to the slowest (linear buckets, as hey draws them, leave a long tail in one bar):
/// (from, to, responses), in microseconds. Empty for an empty histogram.
pub fn latency_buckets(h: &Histogram<u64>, n: usize) -> Vec<(u64, u64, u64)> {
    if h.is_empty() || n == 0 {
        return Vec::new();
    }
    let (min, max) = (h.min().max(1), h.max().max(1));
    if min >= max {
        return vec![(min, max, h.len())];
    }
    let ratio = (max as f64 / min as f64).ln();
    let edge = |i: usize| (min as f64 * (ratio * i as f64 / n as f64).exp()).round() as u64;
    let mut buckets: Vec<(u64, u64, u64)> = (0..n).map(|i| (edge(i), edge(i + 1), 0)).collect();
    for v in h.iter_recorded() {
        let value = h.highest_equivalent(v.value_iterated_to()).clamp(min, max);
        let at = ((value as f64 / min as f64).ln() / ratio * n as f64) as usize;
        buckets[at.min(n - 1)].2 += v.count_at_value();
    }
    buckets
}

/// The text report's small histogram: one bar per bucket, the fullest 40 characters wide.
fn write_bars(out: &mut String, h: &Histogram<u64>) {
    let buckets = latency_buckets(h, 10);
    let Some(top) = buckets.iter().map(|b| b.2).max().filter(|&t| t > 0) else { return };
    let _ = writeln!(out, "  Histogram    (latency in log-spaced buckets: from - to, responses)");
    for (from, to, n) in buckets {
        let width = if n == 0 { 0 } else { ((n as f64 / top as f64) * 40.0).round().max(1.0) as usize };
        let _ = writeln!(
            out,
            "    {:>9} - {:<9} {:>12}  {}",
            micros(from as f64),
            micros(to as f64),
            group(n),
            "■".repeat(width)
        );
    }
}

fn timeline(stats: &WorkerStats) -> Vec<Second> {
    // The last entry is only partly filled; keep it when the run ended inside it.
    let span_s = stats.span_s();
    let entries = (stats.elapsed.as_secs_f64() / span_s as f64).ceil() as usize;
    stats
        .timeline()
        .iter()
        .take(entries.max(1))
        .enumerate()
        .map(|(i, slot)| Second {
            t_s: i as u64 * span_s,
            span_s,
            requests: slot.requests,
            errors: slot.errors,
            errors_by_kind: ErrorKind::ALL
                .iter()
                .filter(|&&k| slot.errors_by_kind[k as usize] > 0)
                .map(|&k| (k, slot.errors_by_kind[k as usize]))
                .collect(),
            p50_us: if slot.latency_us.is_empty() { 0 } else { slot.latency_us.value_at_quantile(0.5) },
            p99_us: if slot.latency_us.is_empty() { 0 } else { slot.latency_us.value_at_quantile(0.99) },
            histogram: encode_histogram(&slot.latency_us),
        })
        .collect()
}

/// The live progress line: one a second on stderr.
pub fn progress_line(s: &crate::stats::Snapshot) -> String {
    if s.warming_up {
        return format!(
            "  warming up: {:>10} req/s  {} requests, {} errors so far (not counted)",
            group(s.last_second_requests),
            group(s.requests),
            group(s.errors)
        );
    }
    format!(
        "  {:>4}s  {:>10} req/s  p99 {:>8}  {} requests, {} errors",
        s.seconds,
        group(s.last_second_requests),
        micros(s.last_second_p99_us as f64),
        group(s.requests),
        group(s.errors)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn profile_text_lists_the_top_functions_and_files() {
        let f = |function: &str, share| ProfileFunction { function: function.into(), share };
        let profile = Profile {
            samples: 2011,
            frequency_hz: 999,
            top: vec![f("tcp_sendmsg_locked", 0.25), f("ngx_http_process_request", 0.031)],
            folded_file: Some("out/perf.folded".into()),
            svg_file: None,
            folded: None,
            svg: None,
        };
        assert_eq!(
            profile_text(&profile),
            "  Profile      2,011 samples at 999 Hz (perf, cpu-clock); top functions by self time:\n\
             \x20    25.0%  tcp_sendmsg_locked\n\
             \x20     3.1%  ngx_http_process_request\n\
             \x20   written: out/perf.folded\n"
        );
    }

    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn latency_buckets_hold_every_response_once() {
        let mut h = Histogram::<u64>::new_with_bounds(1, crate::stats::LATENCY_US_MAX, 3).unwrap();
        for v in [100u64, 100, 150, 400, 1_000, 9_000, 10_000] {
            h.record(v).unwrap();
        }
        let b = latency_buckets(&h, 10);
        assert_eq!(b.len(), 10);
        assert_eq!(b.iter().map(|x| x.2).sum::<u64>(), 7);
        assert_eq!((b[0].0, b[9].1), (100, h.max()));
        assert_eq!(b[0].2, 3, "100, 100 and 150 µs are in the first bucket (100-158)");
        assert!(b.windows(2).all(|w| w[0].1 == w[1].0), "buckets are contiguous");
        let mut one = Histogram::<u64>::new(3).unwrap();
        one.record(42).unwrap();
        assert_eq!(latency_buckets(&one, 10), vec![(42, 42, 1)]);
        assert!(latency_buckets(&Histogram::<u64>::new(3).unwrap(), 10).is_empty());
    }

    #[test]
    fn histograms_survive_the_json_round_trip() {
        let t0 = Instant::now();
        let mut stats = WorkerStats::new(t0);
        for us in [1u64, 50, 50, 700, 12_000, 3_000_000] {
            stats.record_response(t0 + Duration::from_micros(us), Duration::from_micros(us), None);
        }
        stats.elapsed = Duration::from_millis(3500);
        let info = RunInfo { http: false, ..RunInfo::example(1_800_000_000.0) };
        let report = Report::new(&info, &stats);
        let back: Report = serde_json::from_str(&report.to_json()).unwrap();
        let h: Histogram<u64> = decode_histogram(&back.histogram).unwrap();
        assert_eq!(h, stats.latency_us);
        assert_eq!(back.timeline.len(), 4, "3.5 s is four seconds of timeline");
        assert_eq!(back.timeline[0].requests, 5);
        assert_eq!(back.timeline[3].requests, 1);
        assert!(back.timeline.iter().all(|s| s.span_s == 1));
        assert!(back.latency_us.unwrap().corrected.is_none());
        assert!(matches!(decode_histogram::<u64>("not base64!"), Err(HistogramError::NotBase64(_))));
        let old = r#"{"t": 7, "requests": 3, "errors": 0, "p50_us": 1, "p99_us": 2, "histogram": ""}"#;
        let old: Second = serde_json::from_str(old).unwrap();
        assert_eq!((old.t_s, old.span_s), (7, 1), "entries of reports from before span_s are seconds");
        let hello = decode_histogram::<u64>("aGVsbG8=").unwrap_err();
        assert!(matches!(hello, HistogramError::NotHdrHistogram(_)));
        assert!(hello.to_string().starts_with("not an HdrHistogram: "), "{hello}");
    }

    /// A paced HTTPS run of 2 s with a 200, a 503 and a reset.
    /// `full_report` not paced, with clobber's one thread `client` busy and the server (if
    /// any) `(busy_cores, threads_busy)`.
    fn judged(client: f64, server: Option<(f64, usize)>) -> Report {
        let mut r = full_report();
        (r.run.rate_asked_per_s, r.sent, r.missed) = (None, None, None);
        r.client.as_mut().unwrap().busy_cores = client;
        let server = server.map(|(busy_cores, threads_busy)| ServerCpu {
            pids: vec![7],
            cpu_user_s: busy_cores,
            cpu_sys_s: busy_cores,
            cpu_us_per_request: Some(9.8),
            busy_cores,
            threads_busy,
            vanished: vec![Vanished { pid: 7, at_s: 1.04 }],
        });
        r.with_server(server)
    }

    fn text_line<'a>(text: &'a str, label: &str) -> Option<&'a str> {
        text.lines().find_map(|l| l.trim_start().strip_prefix(label)).map(str::trim)
    }

    #[test]
    fn targets_get_a_row_each_and_json_keeps_them() {
        let t0 = Instant::now();
        let mut stats = WorkerStats::new(t0);
        stats.track_targets(2, true);
        for i in 0..10u64 {
            stats.record_response(t0, Duration::from_micros(100 + i), None);
            stats.record_target((i % 2) as usize, if i == 9 { 404 } else { 200 }, Duration::from_micros(100 + i));
        }
        stats.elapsed = Duration::from_secs(1);
        let info = RunInfo { target_labels: vec!["GET /a".into(), "GET /b".into()], ..RunInfo::example(1.0) };
        let r = Report::new(&info, &stats);
        let text = r.to_text();
        assert!(text.contains("  Targets      "), "{text}");
        let row_b = text.lines().find(|l| l.ends_with("GET /b")).expect("a row for /b");
        assert!(row_b.contains("200: 4, 404: 1") && row_b.trim_start().starts_with("5 "), "{row_b}");
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        let targets = json["targets"].as_array().unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0]["request"], "GET /a");
        assert_eq!(targets[0]["requests"], 5);
        assert_eq!(targets[0]["status"]["200"], 5);
        assert!(targets[0]["latency_us"]["p99"].as_u64().unwrap() >= 100);
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back.run.target_labels, ["GET /a", "GET /b"]);
        let counts =
            |r: &Report| r.targets.iter().flatten().map(|t| (t.requests, t.status.clone())).collect::<Vec<_>>();
        assert_eq!(counts(&back), counts(&r));
        // Above TARGET_ROWS_MAX entries: counts in the JSON, no rows in the text.
        let n = crate::config::TARGET_ROWS_MAX + 1;
        let mut stats = WorkerStats::new(t0);
        stats.track_targets(n, false);
        stats.record_target(3, 200, Duration::from_micros(5));
        let info = RunInfo { target_labels: (0..n).map(|i| format!("GET /{i}")).collect(), ..RunInfo::example(1.0) };
        let r = Report::new(&info, &stats);
        assert!(!r.to_text().contains("Targets"));
        let t = &r.targets.as_ref().unwrap()[3];
        assert_eq!((t.requests, t.latency_us), (1, None));
        // One request: no targets at all.
        assert!(Report::new(&RunInfo::example(1.0), &WorkerStats::new(t0)).targets.is_none());
    }

    #[test]
    fn targets_of_a_framed_run_name_their_replies_as_the_replies_line_does() {
        use crate::protocol::reply;
        let t0 = Instant::now();
        let mut stats = WorkerStats::new(t0);
        stats.track_targets(2, true);
        for (entry, class, n) in [(0, reply::RESP_BULK, 3), (0, reply::RESP_NULL, 1), (1, reply::RESP_SIMPLE, 4)] {
            for _ in 0..n {
                stats.record_response(t0, Duration::from_micros(100), None);
                stats.status[usize::from(class)] += 1;
                stats.record_target(entry, class, Duration::from_micros(100));
            }
        }
        stats.elapsed = Duration::from_secs(1);
        let labels = vec!["GET k\\r\\n".to_string(), "SET k v\\r\\n".to_string()];
        let info = RunInfo { http: false, target_labels: labels.clone(), ..RunInfo::example(1.0) };
        let r = Report::new(&info, &stats);
        let text = r.to_text();
        assert!(text.contains("  Replies      resp_simple 4, resp_bulk 3, resp_null 1\n"), "{text}");
        let row = text.lines().find(|l| l.ends_with("GET k\\r\\n")).expect("a row for GET");
        assert!(row.contains("resp_bulk: 3, resp_null: 1") && !row.contains("4: 3"), "{row}");
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["targets"][0]["status"], serde_json::json!({"resp_bulk": 3, "resp_null": 1}));
        assert_eq!(json["targets"][1]["status"], serde_json::json!({"resp_simple": 4}));
        // HTTP keeps its codes, even those below 100 that name reply kinds elsewhere.
        let mut stats = WorkerStats::new(t0);
        stats.track_targets(2, false);
        stats.record_target(0, 4, Duration::from_micros(100));
        stats.record_target(1, 200, Duration::from_micros(100));
        let r = Report::new(&RunInfo { target_labels: labels, ..RunInfo::example(1.0) }, &stats);
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["targets"][0]["status"], serde_json::json!({"4": 1}));
        assert_eq!(json["targets"][1]["status"], serde_json::json!({"200": 1}));
    }

    #[test]
    fn bottleneck_is_the_side_busy_90_percent_of_its_cores() {
        // clobber's busy share, the server's (busy_cores, threads_busy), the verdict, its line.
        type Case = (f64, Option<(f64, usize)>, Option<Bottleneck>, Option<&'static str>);
        let cases: &[Case] = &[
            (0.41, Some((0.98, 1)), Some(Bottleneck::Server), Some("the server (its core 98% busy, clobber's 41%)")),
            (
                0.99,
                Some((0.60, 1)),
                Some(Bottleneck::Client),
                Some("clobber (its core 99% busy, the server's 60%): these figures measure clobber, not the server: add threads or machines"),
            ),
            (
                0.35,
                Some((0.80, 2)),
                Some(Bottleneck::Neither),
                Some("neither saturated (server 40%, clobber 35%): latency or the network bound it"),
            ),
            // Both saturated: the server sets the pace.
            (0.95, Some((1.9, 2)), Some(Bottleneck::Server), Some("the server (its 2 cores 95% busy, clobber's 95%)")),
            (0.99, None, Some(Bottleneck::Client), Some("clobber's core 99% busy: the figures may measure clobber")),
            (0.50, None, None, None),
        ];
        for &(client, server, verdict, line) in cases {
            let r = judged(client, server);
            assert_eq!(r.bottleneck, verdict, "{client} {server:?}");
            assert_eq!(text_line(&r.to_text(), "Bottleneck"), line, "{client} {server:?}");
            let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
            assert_eq!(json["bottleneck"], serde_json::to_value(verdict).unwrap());
        }
    }

    #[test]
    fn server_cpu_line_and_a_vanished_pid() {
        let text = judged(0.41, Some((0.98, 1))).to_text();
        assert_eq!(
            text_line(&text, "Server CPU"),
            Some("0.98 s user + 0.98 s sys = 9.80 us per request; busy 98% of one core")
        );
        assert!(text.contains("exited during the run: PID 7 about 1.0 s in; the last reading counts"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&judged(0.41, Some((0.98, 1))).to_json()).unwrap();
        assert_eq!(json["server"]["vanished"][0]["pid"], 7);
        assert_eq!(json["server"]["cpu_us_per_request"], 9.8);
        // Read back, the report keeps its server and verdict.
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!((back.server.map(|s| s.pids), back.bottleneck), (Some(vec![7]), Some(Bottleneck::Server)));
    }

    #[test]
    fn under_a_rate_the_verdict_says_whether_it_was_reached() {
        let mut r = full_report();
        r.client.as_mut().unwrap().busy_cores = 0.3;
        let server = ServerCpu {
            pids: vec![7],
            cpu_user_s: 0.1,
            cpu_sys_s: 0.1,
            cpu_us_per_request: Some(1.0),
            busy_cores: 0.1,
            threads_busy: 1,
            vanished: Vec::new(),
        };
        let text = r.with_server(Some(server)).to_text();
        let line = text_line(&text, "Bottleneck").unwrap();
        assert!(line.starts_with("neither saturated") && line.contains("; the rate asked was"), "{line}");
    }

    fn full_report() -> Report {
        let t0 = Instant::now();
        let mut stats = WorkerStats::new(t0);
        for ms in [10u64, 1200] {
            stats.record_response(
                t0 + Duration::from_millis(ms),
                Duration::from_micros(300),
                Some(Duration::from_micros(200)),
            );
        }
        stats.status[200] += 1;
        stats.status[503] += 1;
        stats.record_error(ErrorKind::Reset, || "reset by peer".into());
        (stats.tls_handshakes, stats.tls_resumed) = (3, 2);
        stats.tls_negotiated = Some(TlsNegotiated {
            version: "TLSv1.2".into(),
            cipher_suite: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into(),
            group: "X25519".into(),
        });
        for us in [800, 1200, 2100] {
            stats.record_tls_handshake(Duration::from_micros(us));
        }
        stats.elapsed = Duration::from_secs(2);
        let info = RunInfo {
            command: "clobber https://h/ -R 1".into(),
            machine: Some(Machine { cpu_model: "cpu".into(), cores: 2, kernel: "6".into() }),
            target: "https://h/".into(),
            address: "127.0.0.1:443".into(),
            threads: 1,
            connections: 2,
            pipeline: 1,
            reconnect: true,
            framing: "HTTP/1.1".into(),
            protocol: None,
            streams: None,
            http: true,
            rate_asked_per_s: Some(1.0),
            warmup_s: Some(1.0),
            start_unix_s: 1_800_000_000.5,
            tls: Some(TlsSetup { verified: true, server_name: "h".into(), resumption: true }),
            target_labels: Vec::new(),
        };
        Report::new(&info, &stats)
    }

    #[test]
    fn replies_are_counted_by_kind_and_error_replies_said() {
        use crate::protocol::reply;
        let mut stats = WorkerStats::new(Instant::now());
        stats.status[usize::from(reply::RESP_NULL)] = 3;
        stats.status[usize::from(reply::RESP_BULK)] = 1_500;
        stats.status[usize::from(reply::RESP_ERROR)] = 2;
        let report = Report::new(&RunInfo { http: false, ..RunInfo::example(1_800_000_000.0) }, &stats);
        assert_eq!(report.status, None);
        let text = report.to_text();
        assert!(text.contains("  Replies      resp_bulk 1,500, resp_null 3, resp_error 2\n"), "{text}");
        assert!(text.contains("error replies: resp_error 2 (counted as responses, not errors)"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["replies"]["resp_null"], 3);
        let plain = Report::new(
            &RunInfo { http: false, ..RunInfo::example(1_800_000_000.0) },
            &WorkerStats::new(Instant::now()),
        );
        assert!(plain.replies.is_none() && !plain.to_text().contains("Replies"));
    }

    #[test]
    fn the_json_keeps_its_names_and_reading_it_restores_the_run() {
        let report = full_report();
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = vec![
            "clobber_version",
            "command",
            "machine",
            "target",
            "address",
            "threads",
            "connections",
            "pipeline",
            "reconnect",
            "framing",
            "rate_asked",
            "warmup_s",
            "start_unix_s",
            "requests",
            "errors",
            "errors_by_kind",
            "error_messages",
            "connections_opened",
            "connections_answered",
            "in_flight_at_end",
            "duration_s",
            "rps",
            "bytes_sent",
            "bytes_received",
            "latency_us",
            "tls",
            "client_cpu",
            "client",
            "bottleneck",
            "status",
            "sent",
            "missed",
            "timeline",
            "histogram",
            "histogram_uncorrected",
        ];
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        expected.sort_unstable();
        assert_eq!(sorted, expected);
        assert_eq!(json["rps"], 1.0);
        assert_eq!(json["status"]["503"], 1);
        assert_eq!(json["errors_by_kind"]["reset"], 1);
        assert_eq!(json["errors_by_kind"]["connect_refused"], 0);
        assert_eq!(json["error_messages"]["reset"], "reset by peer");
        assert_eq!(json["tls"]["server_name"], "h");
        assert_eq!(json["tls"]["handshakes"], 3);
        assert_eq!(json["tls"]["version"], "TLSv1.2");
        assert_eq!(json["tls"]["cipher_suite"], "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(json["tls"]["group"], "X25519");
        assert!(
            report
                .to_text()
                .contains("session resumption on; TLSv1.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, X25519\n"),
            "{}",
            report.to_text()
        );
        let handshake_us = json["tls"]["handshake_us"].as_object().unwrap();
        let fields: Vec<&str> = handshake_us.keys().map(String::as_str).collect();
        assert_eq!(fields, ["max", "mean", "min", "p50", "p90", "p99", "p999", "p9999"]);
        assert_eq!(
            (json["tls"]["handshake_us"]["min"].as_u64(), json["tls"]["handshake_us"]["max"].as_u64()),
            (Some(800), Some(2101))
        );
        assert!(
            report.to_text().contains("3 handshakes (1.50/s), 2 resumed; handshake time p50 1.20ms"),
            "{}",
            report.to_text()
        );
        assert_eq!(json["timeline"][1]["t"], 1);
        assert_eq!(json["timeline"][1]["errors_by_kind"]["reset"], 1);
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back.run, report.run, "http and tls come back from status and tls");
        assert_eq!(back.to_text(), report.to_text());
        assert_eq!(back.to_json(), report.to_json());
    }

    #[test]
    fn an_older_report_without_the_newer_fields_still_loads() {
        let mut json: serde_json::Value = serde_json::from_str(&full_report().to_json()).unwrap();
        let top = json.as_object_mut().unwrap();
        for newer in ["command", "machine", "connections_answered", "in_flight_age_us", "connect_us", "warmup_s"] {
            top.remove(newer);
        }
        top.remove("tls");
        top.remove("status");
        for entry in top["timeline"].as_array_mut().unwrap() {
            let entry = entry.as_object_mut().unwrap();
            entry.remove("span_s");
            entry.remove("errors_by_kind");
        }
        let old: Report = serde_json::from_value(json).unwrap();
        assert_eq!((old.run.command.as_str(), old.run.http, old.run.tls.is_none()), ("", false, true));
        assert_eq!((old.connections_answered, old.timeline[1].span_s), (None, 1));
        assert_eq!(old.error_count(ErrorKind::Reset), 1);
        assert!(old.to_text().contains("Requests     2 in 2.00 s"), "{}", old.to_text());
    }
}

//! The validated settings of a run and of the built-in server: plain data. Built by `setup`
//! (from `cli`'s checked options), read by `engine`, `server` and `report`; nothing here does
//! I/O.
//!
//! Invariants (checked by `cli` and `setup`, asserted where they are used): `connections >=
//! threads >= 1`; `pipeline >= 1`; `pipeline > 1` only with a framing that can split
//! responses; the payload is not empty.

use std::net::SocketAddr;
use std::time::Duration;

use crate::protocol::raw::{Delimiter, RawFraming};
use crate::protocol::template::Template;

/// Where the load goes, as the user wrote it and as it was resolved (once, at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The target as given on the command line, for the report.
    pub label: String,
    /// The host as written (a name or an address, without IPv6 brackets): TLS's default SNI.
    pub host: String,
    /// Where connections go, unless `unix` is set (then it is `0.0.0.0` and the URL's port,
    /// and not used).
    pub addr: SocketAddr,
    /// Connect to this Unix socket instead (`unix:PATH`, `--unix-socket`); checked by `setup`
    /// to be a socket.
    pub unix: Option<std::path::PathBuf>,
}

/// A load run.
#[derive(Debug, Clone)]
pub struct Config {
    pub target: Target,
    pub connections: usize,
    pub threads: usize,
    /// Cores to pin workers to, in order; `None` means all cores. Ignored when `pin` is false.
    pub cpus: Option<Vec<usize>>,
    pub pin: bool,
    /// Stop after this long. `None` only when `requests` is set.
    pub duration: Option<Duration>,
    /// Stop after exactly this many completed responses.
    pub requests: Option<u64>,
    /// The bytes of one request (with `varying`: the first entry's, its holes zero-filled).
    pub payload: Vec<u8>,
    /// Requests that vary (`--targets`, `--data-file`, placeholders); `None`: `payload`, always.
    pub varying: Option<Varying>,
    pub framing: Framing,
    /// HTTP: the statuses that count as success (`--expect-status`); others are errors of kind
    /// `status`. `None`: every status is a success, and the report still tallies them.
    pub expect_status: Option<StatusSet>,
    /// Requests written back to back before their responses are read.
    pub pipeline: usize,
    /// A new connection for every request (or pipeline batch).
    pub reconnect: bool,
    /// HTTP/2 (`--http2`): the request in `payload` goes out as HTTP/2 headers, on up to
    /// `--streams` streams per connection.
    pub http2: Option<Http2Config>,
    pub json: bool,
    /// Requests per second in total (`-R`): open-loop load on a schedule.
    pub rate_per_s: Option<f64>,
    /// Load that runs before measuring starts (`--warmup`).
    pub warmup: Option<Duration>,
    /// Print a progress line every second on stderr.
    pub progress: bool,
    /// Wait until this Unix time (seconds) before starting (`--start-at`).
    pub start_at_unix_s: Option<f64>,
    /// A connect that takes longer fails with kind `connect_timeout` (`--connect-timeout`).
    pub connect_timeout: Duration,
    /// A response that takes longer fails with kind `timeout` (`--timeout`).
    pub timeout: Duration,
    /// Give up when no response has completed for this long and requests failed meanwhile
    /// (`--give-up`; on by default with `-n` and no `-d`, so that such a run always ends).
    pub give_up: Option<Duration>,
    /// Source addresses, used in turn by the connections (`--bind`, or spread over
    /// 127.0.0.x automatically when a loopback target needs more than one address's ports).
    pub bind: Vec<std::net::IpAddr>,
    /// Close with FIN instead of RST under `--reconnect` (`--graceful-close`).
    pub graceful_close: bool,
    /// TLS (`https://`, or `--tls` with a raw target); `None` for plain TCP.
    pub tls: Option<ClientTlsConfig>,
    /// Also write the report as an HTML page here (`--html`).
    pub html: Option<std::path::PathBuf>,
    /// Exit 1 if any request failed, not only if none completed (`--fail-on-error`).
    pub fail_on_error: bool,
    /// The server's processes, whose CPU time the report gives (`--server-pid`); empty: none.
    pub server_pids: Vec<u32>,
    /// `--perf`: the processes to profile (the server's, or clobber's own), and `--perf-out`.
    pub perf: Option<PerfConfig>,
    /// Said on stderr before the run starts: `{{...}}` that look like placeholders and are not.
    pub warnings: Vec<String>,
}

/// Requests that vary from one to the next: several entries (`--targets`, `--data-file`), or
/// placeholders (`{{seq}}`...), each entry compiled once (`protocol::template`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Varying {
    pub entries: Vec<Template>,
    /// How the report names each entry: `GET /a`, or a raw payload, escaped.
    pub labels: Vec<String>,
    pub order: Order,
    /// Seeds each worker's generator (`--seed`; `{{rand}}` and `--order random`).
    pub seed: u64,
}

impl Varying {
    /// Whether the report has a row per entry: a list of entries, not one with placeholders.
    pub fn per_target(&self) -> bool {
        self.entries.len() > 1
    }
}

/// The order entries are sent in (`--order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Each worker in turn from its own starting entry.
    #[default]
    RoundRobin,
    /// Uniformly at random, from the worker's seeded generator.
    Random,
}

/// Most entries the text and HTML reports give a row each (with latency); above it the JSON
/// keeps per-entry counts only.
pub const TARGET_ROWS_MAX: usize = 50;

/// HTTP/2's settings of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http2Config {
    /// Concurrent streams per connection asked for (`--streams`); the server's
    /// SETTINGS_MAX_CONCURRENT_STREAMS may clamp it.
    pub streams: usize,
}

/// What `--perf` profiles, and where its files are kept (`--perf-out`, a directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfConfig {
    pub pids: Vec<u32>,
    pub out_dir: Option<std::path::PathBuf>,
}

impl Config {
    /// Connections of worker `worker` when `connections` are spread evenly over `threads`.
    pub fn connections_of(&self, worker: usize) -> usize {
        share(self.connections as u64, self.threads, worker) as usize
    }

    /// The part of the request budget that worker `worker` owns (split up front, so no worker
    /// ever writes to a shared counter per request).
    pub fn requests_of(&self, worker: usize) -> Option<u64> {
        self.requests.map(|n| share(n, self.threads, worker))
    }

    /// How the report names the framing.
    pub fn framing_label(&self) -> String {
        if self.http2.is_some() {
            return "HTTP/2".to_string();
        }
        match &self.framing {
            Framing::Raw(RawFraming::OneRead) => "one read per response".to_string(),
            Framing::Raw(RawFraming::Until(d)) => format!("until \"{}\"", crate::units::escape(d.pattern())),
            Framing::Raw(RawFraming::Exact(n)) => format!("exactly {n} bytes"),
            Framing::Raw(RawFraming::UntilClose) => "until the server closes".to_string(),
            Framing::Http { head: false } => "HTTP/1.1".to_string(),
            Framing::Http { head: true } => "HTTP/1.1 HEAD".to_string(),
            Framing::Resp => "RESP (Redis replies)".to_string(),
            Framing::Memcache => "memcache (text protocol replies)".to_string(),
        }
    }

    pub fn is_http(&self) -> bool {
        matches!(self.framing, Framing::Http { .. })
    }
}

/// How responses are framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    Raw(RawFraming),
    /// HTTP/1.1 responses; `head`: the requests are HEAD, so responses have no body.
    Http {
        head: bool,
    },
    /// Redis replies, RESP2 and RESP3 (`--frame resp`), tallied by kind.
    Resp,
    /// memcached text-protocol replies (`--frame memcache`), tallied by kind.
    Memcache,
}

/// A set of HTTP status codes (100-999), e.g. from `--expect-status 200 --expect-status 3xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusSet {
    bits: [u64; 16],
}

impl StatusSet {
    pub fn insert_range(&mut self, low: u16, high: u16) {
        assert!(low <= high && high < 1000, "status range {low}-{high}");
        for code in low..=high {
            self.bits[usize::from(code / 64)] |= 1 << (code % 64);
        }
    }

    #[inline]
    pub fn contains(&self, code: u16) -> bool {
        code < 1000 && self.bits[usize::from(code / 64)] & (1 << (code % 64)) != 0
    }
}

/// `total` split over `parts`, the remainder going to the first ones.
pub fn share(total: u64, parts: usize, index: usize) -> u64 {
    assert!(index < parts, "index {index} out of {parts} parts");
    let parts = parts as u64;
    total / parts + u64::from((index as u64) < total % parts)
}

/// `clobber sweep`: a series of open-loop steps on the same connections, each judged by the
/// objectives, to find the highest rate the target sustains.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// The load of every step; its `rate_per_s` is the first step's rate, `duration`,
    /// `warmup` and `requests` are unused (each step has its own).
    pub load: Config,
    /// `--rates A..B`: the first and the last step's rate, requests per second.
    pub rate_from_per_s: f64,
    pub rate_to_per_s: f64,
    pub steps: StepPlan,
    /// Each step's measured length (`--step-duration`) and its warm-up before it, not
    /// recorded (`--step-warmup`).
    pub step_duration: Duration,
    pub step_warmup: Duration,
    /// `--slo`, in the order given; never empty.
    pub slos: Vec<Slo>,
    /// `--search`: bisect between the last passing and the first failing rate.
    pub search: Option<Search>,
}

/// How the rates between `--rates A..B` are spaced: geometrically either way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepPlan {
    /// `--step-factor F`: A, A×F, A×F²... up to B (and B itself last).
    Factor(f64),
    /// `--steps N`: N rates from A to B, both included.
    Count(usize),
}

/// `--search` and `--search-steps N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Search {
    /// At most this many probes (`--search-steps`); `None`: until the pass and the fail are
    /// within `SEARCH_PRECISION` of each other.
    pub max_probes: Option<usize>,
}

/// `--search` ends when the failing rate is within this share above the passing one.
pub const SEARCH_PRECISION: f64 = 0.02;

/// One objective a sweep's step must meet (`--slo`). Latency is the step's corrected latency
/// (from each request's due time).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slo {
    pub metric: SloMetric,
    /// Latency: microseconds, at most; `errors`: percent of requests, at most; `achieved`:
    /// percent of the rate asked, at least.
    pub limit: f64,
}

/// What an objective is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SloMetric {
    P50,
    P90,
    P99,
    P999,
    P9999,
    Max,
    Errors,
    Achieved,
}

impl SloMetric {
    /// The name `--slo` takes and the report writes.
    pub fn name(self) -> &'static str {
        match self {
            SloMetric::P50 => "p50",
            SloMetric::P90 => "p90",
            SloMetric::P99 => "p99",
            SloMetric::P999 => "p99.9",
            SloMetric::P9999 => "p99.99",
            SloMetric::Max => "max",
            SloMetric::Errors => "errors",
            SloMetric::Achieved => "achieved",
        }
    }

    pub const ALL: [SloMetric; 8] = [
        SloMetric::P50,
        SloMetric::P90,
        SloMetric::P99,
        SloMetric::P999,
        SloMetric::P9999,
        SloMetric::Max,
        SloMetric::Errors,
        SloMetric::Achieved,
    ];

    pub fn is_latency(self) -> bool {
        !matches!(self, SloMetric::Errors | SloMetric::Achieved)
    }
}

impl std::str::FromStr for Slo {
    type Err = String;

    /// `p99<=10ms` (p50, p90, p99, p99.9, p99.99, max: at most a duration in us, ms or s),
    /// `errors<=0.1%`, `achieved>=95%`. `<` is taken as `<=` and `>` as `>=`: an objective is
    /// a bound. Spaces and the name's case do not matter.
    fn from_str(text: &str) -> Result<Slo, String> {
        const EXPECTED: &str =
            "expected p50, p90, p99, p99.9, p99.99 or max <= a duration (p99<=10ms), errors<=X% or achieved>=X%";
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let at = compact.find(['<', '>']).ok_or(EXPECTED)?;
        let (name, rest) = compact.split_at(at);
        let (at_most, value) = match rest.as_bytes() {
            [b'<', b'=', ..] => (true, &rest[2..]),
            [b'>', b'=', ..] => (false, &rest[2..]),
            [b'<', ..] => (true, &rest[1..]),
            _ => (false, &rest[1..]),
        };
        let name = name.to_ascii_lowercase();
        let metric = SloMetric::ALL.into_iter().find(|m| m.name() == name).ok_or(EXPECTED)?;
        let percent = |v: &str| {
            v.strip_suffix('%')
                .and_then(|n| n.parse::<f64>().ok())
                .filter(|p| (0.0..=100.0).contains(p))
                .ok_or_else(|| format!("'{v}' is not a percentage such as 0.1%"))
        };
        let limit = match metric {
            SloMetric::Errors if at_most => percent(value)?,
            SloMetric::Achieved if !at_most => percent(value)?,
            SloMetric::Errors => return Err("errors is bounded from above: errors<=X%".to_string()),
            SloMetric::Achieved => return Err("achieved is bounded from below: achieved>=X%".to_string()),
            _ if !at_most => return Err(format!("{name} is bounded from above: {name}<=DURATION")),
            _ => {
                let split = value.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(value.len());
                let (number, unit) = value.split_at(split);
                let scale_us = match unit {
                    "us" => 1.0,
                    "ms" => 1e3,
                    "s" => 1e6,
                    _ => return Err(format!("'{value}' is not a duration such as 10ms, 500us or 1s")),
                };
                match number.parse::<f64>() {
                    Ok(n) if n > 0.0 && n.is_finite() => n * scale_us,
                    _ => return Err(format!("'{value}' is not a duration of more than zero, such as 10ms")),
                }
            }
        };
        Ok(Slo { metric, limit })
    }
}

impl TryFrom<String> for Slo {
    type Error = String;

    fn try_from(text: String) -> Result<Slo, String> {
        text.parse()
    }
}

impl From<Slo> for String {
    fn from(slo: Slo) -> String {
        slo.to_string()
    }
}

impl std::fmt::Display for Slo {
    /// As `--slo` takes it: `p99<=10ms`, `errors<=0.1%`, `achieved>=95%`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.metric.name();
        let number = |v: f64| {
            let text = format!("{v:.3}");
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        };
        match self.metric {
            SloMetric::Errors => write!(f, "{name}<={}%", number(self.limit)),
            SloMetric::Achieved => write!(f, "{name}>={}%", number(self.limit)),
            _ if self.limit >= 1e6 && self.limit % 1e6 == 0.0 => write!(f, "{name}<={}s", number(self.limit / 1e6)),
            _ if self.limit >= 1e3 => write!(f, "{name}<={}ms", number(self.limit / 1e3)),
            _ => write!(f, "{name}<={}us", number(self.limit)),
        }
    }
}

/// What the built-in server does with the bytes it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeMode {
    /// Sends back every byte (or `--respond` per delimited request).
    Echo,
    /// Answers every complete HTTP/1.1 request with a fixed response.
    Http,
    /// Answers every HTTP/2 stream with a fixed 200 (h2c with prior knowledge, or TLS with
    /// ALPN `h2`).
    H2,
}

impl ServeMode {
    /// The ALPN protocols a TLS server in this mode offers (none for echo).
    pub fn alpn(self) -> &'static [&'static [u8]] {
        match self {
            ServeMode::Echo => &[],
            ServeMode::Http => &[b"http/1.1"],
            ServeMode::H2 => &[b"h2"],
        }
    }
}

/// The built-in server (`clobber serve`).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where to listen, unless `unix` is set (then it is not used).
    pub listen: SocketAddr,
    /// Listen on a Unix socket created at this path (`--listen unix:PATH`), removed at exit.
    pub unix: Option<std::path::PathBuf>,
    pub mode: ServeMode,
    /// Echo mode: what ends a request, for counting (and for `respond`).
    pub until: Delimiter,
    /// The bytes sent for each request instead of the default.
    pub respond: Option<Vec<u8>>,
    pub threads: usize,
    pub cpus: Option<Vec<usize>>,
    /// Hold every response this long (`--delay`), without blocking other connections.
    pub delay: Option<Duration>,
    /// Freeze the whole server thread for the duration after every N requests
    /// (`--stall-every N --stall DUR`).
    pub stall: Option<(u64, Duration)>,
    /// Serve TLS with this certificate and key (`--tls-cert`/`--tls-key`, or `--tls`'s
    /// self-signed one).
    pub tls: Option<ServerIdentity>,
}

impl ServeConfig {
    /// The response the server sends for each HTTP request.
    pub fn http_response(&self) -> Vec<u8> {
        self.respond.clone().unwrap_or_else(|| {
            b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Type: text/plain\r\n\r\nhello\n".to_vec()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{share, Slo, SloMetric, StatusSet};

    #[test]
    fn slos_parse_and_print_back() {
        let cases = [
            ("p99<=10ms", SloMetric::P99, 10_000.0, "p99<=10ms"),
            ("P99 < 10ms", SloMetric::P99, 10_000.0, "p99<=10ms"),
            ("p50<=250us", SloMetric::P50, 250.0, "p50<=250us"),
            ("p99.9<=1.5ms", SloMetric::P999, 1_500.0, "p99.9<=1.5ms"),
            ("p99.99<=2s", SloMetric::P9999, 2_000_000.0, "p99.99<=2s"),
            ("max<=100ms", SloMetric::Max, 100_000.0, "max<=100ms"),
            ("p90<=0.5ms", SloMetric::P90, 500.0, "p90<=500us"),
            ("errors<=0.1%", SloMetric::Errors, 0.1, "errors<=0.1%"),
            ("errors<=0%", SloMetric::Errors, 0.0, "errors<=0%"),
            ("achieved>=95%", SloMetric::Achieved, 95.0, "achieved>=95%"),
        ];
        for (text, metric, limit, printed) in cases {
            let slo: Slo = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((slo.metric, slo.limit), (metric, limit), "{text}");
            assert_eq!(slo.to_string(), printed, "{text}");
            assert_eq!(printed.parse::<Slo>(), Ok(slo), "{printed} reads back");
        }
        for bad in [
            "",
            "p99",
            "p99<=",
            "p99<=10",
            "p99<=0ms",
            "p99<=-1ms",
            "p99>=10ms",
            "p95<=10ms",
            "errors>=1%",
            "errors<=1",
            "errors<=101%",
            "achieved<=90%",
            "achieved>=x%",
            "latency<=10ms",
            "p99<=10 parsecs",
        ] {
            assert!(bad.parse::<Slo>().is_err(), "{bad:?} should be refused");
        }
        let json = serde_json::to_string(&"p99<=10ms".parse::<Slo>().unwrap()).unwrap();
        assert_eq!(json, "\"p99<=10ms\"");
        assert_eq!(serde_json::from_str::<Slo>(&json).unwrap().metric, SloMetric::P99);
    }

    #[test]
    fn status_sets() {
        let mut set = StatusSet::default();
        set.insert_range(200, 299);
        set.insert_range(404, 404);
        assert!(set.contains(200) && set.contains(299) && set.contains(404));
        assert!(!set.contains(199) && !set.contains(300) && !set.contains(405) && !set.contains(1000));
    }

    #[test]
    fn share_splits_exactly() {
        for total in [0u64, 1, 7, 10, 10_000, 10_001] {
            for parts in 1..6 {
                let sum: u64 = (0..parts).map(|i| share(total, parts, i)).sum();
                assert_eq!(sum, total, "{total} over {parts}");
                let max = (0..parts).map(|i| share(total, parts, i)).max().unwrap();
                let min = (0..parts).map(|i| share(total, parts, i)).min().unwrap();
                assert!(max - min <= 1);
            }
        }
    }
}

/// TLS for a load run, as data: what to trust and what to ask for; `net::tls` builds the
/// rustls objects from it in each worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTlsConfig {
    /// Trusted roots, DER: the system's store plus `--cacert` (empty under `-k`).
    pub roots_der: Vec<Vec<u8>>,
    /// How many of `roots_der` come from the system's store; the rest (`--cacert`'s) are also
    /// trusted as the server's own certificate.
    pub system_roots: usize,
    /// `-k/--insecure`: no certificate check at all.
    pub insecure: bool,
    /// The name sent as SNI and checked against the certificate (`--sni`, or the URL's host;
    /// an IP address is checked against the certificate's addresses, and sends no SNI).
    pub server_name: String,
    /// Offer ALPN `http/1.1` (HTTP targets).
    pub alpn_http: bool,
    /// Offer ALPN `h2` instead (`--http2`).
    pub alpn_h2: bool,
    /// Resume sessions on new connections (`--no-resume` turns it off).
    pub resume: bool,
    /// The client certificate chain and key to present when the server asks (`--cert`,
    /// `--key`: mutual TLS).
    pub client_cert: Option<ServerIdentity>,
    /// `--tls-version`: this version only; `None`: TLS 1.2 and 1.3.
    pub version: Option<TlsVersion>,
    /// `--tls-ciphers`: the cipher suites to offer, in order, by names from
    /// `TLS_CIPHER_SUITES`; empty: rustls' defaults.
    pub cipher_suites: Vec<String>,
    /// `--tls-groups`: the key exchange groups to offer, in order, by names from `TLS_GROUPS`;
    /// empty: rustls' defaults.
    pub groups: Vec<String>,
}

/// A TLS version (`--tls-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// The cipher suites `--tls-ciphers` takes: rustls' names for those of its aws-lc-rs provider
/// (TLS 1.3 suites start with `TLS13_`). `net::tls` finds each in the provider; a test there
/// checks that all of them are.
pub const TLS_CIPHER_SUITES: &[&str] = &[
    "TLS13_AES_128_GCM_SHA256",
    "TLS13_AES_256_GCM_SHA384",
    "TLS13_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// The key exchange groups `--tls-groups` takes, in rustls' names (the ML-KEM ones are TLS 1.3
/// only).
pub const TLS_GROUPS: &[&str] =
    &["X25519", "secp256r1", "secp384r1", "X25519MLKEM768", "secp256r1MLKEM768", "MLKEM768", "MLKEM1024"];

/// A certificate chain and its key, in PEM: `clobber serve`'s, or a client's (`--cert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerIdentity {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

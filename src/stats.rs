//! Per-worker counters and latency histogram. A worker owns its `WorkerStats` outright and hands
//! it back when it ends; the main thread merges them with `+=`. Nothing here is shared while a
//! run goes, so recording a response is a few adds and one histogram increment.

use std::ops::AddAssign;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Highest latency the histogram tracks (one hour); larger values are clamped to it.
pub const LATENCY_US_MAX: u64 = 3_600_000_000;

/// Status codes are three digits: 0-999 covers them all.
pub const STATUS_CODES: usize = 1000;

/// Why a connection failed. Each kind has its own counter; the report lists the non-zero ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Nothing listened at the target (ECONNREFUSED while connecting).
    ConnectRefused,
    /// The connect did not complete in time.
    ConnectTimeout,
    /// No local address/port was free (EADDRNOTAVAIL): ephemeral ports ran out.
    AddrNotAvailable,
    /// Any other failure while connecting.
    Connect,
    /// The server reset the connection (ECONNRESET, EPIPE).
    Reset,
    /// The server closed the connection with a request outstanding and no byte of its response.
    Eof,
    /// A response was malformed, cut short, or arrived unasked.
    Protocol,
    /// A response did not arrive in time.
    Timeout,
    /// Any other I/O error on an open connection.
    Io,
    /// An HTTP status outside `--expect-status`.
    Status,
    /// The TLS handshake failed (other than on the certificate or an alert), or the socket
    /// failed or closed during it.
    TlsHandshake,
    /// The server's certificate did not verify (unknown issuer, wrong name, expired).
    TlsCert,
    /// The server sent a TLS alert.
    TlsAlert,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::ConnectRefused,
        ErrorKind::ConnectTimeout,
        ErrorKind::AddrNotAvailable,
        ErrorKind::Connect,
        ErrorKind::Reset,
        ErrorKind::Eof,
        ErrorKind::Protocol,
        ErrorKind::Timeout,
        ErrorKind::Io,
        ErrorKind::Status,
        ErrorKind::TlsHandshake,
        ErrorKind::TlsCert,
        ErrorKind::TlsAlert,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// The key in JSON's `errors_by_kind`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::AddrNotAvailable => "addr_not_available",
            ErrorKind::Connect => "connect",
            ErrorKind::Reset => "reset",
            ErrorKind::Eof => "eof",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Io => "io",
            ErrorKind::Status => "status",
            ErrorKind::TlsHandshake => "tls_handshake",
            ErrorKind::TlsCert => "tls_cert",
            ErrorKind::TlsAlert => "tls_alert",
        }
    }

    /// What the text report says about this kind.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect refused (is anything listening there?)",
            ErrorKind::ConnectTimeout => "connect timed out",
            ErrorKind::AddrNotAvailable => {
                "no local port free (EADDRNOTAVAIL): the source address ran out of ephemeral ports; \
                 spread connections over more source addresses with --bind, and keep the default \
                 RST close (no --graceful-close)"
            }
            ErrorKind::Connect => "connect failed",
            ErrorKind::Reset => "reset by the server",
            ErrorKind::Eof => "closed by the server before answering",
            ErrorKind::Protocol => "malformed, cut short or unasked response",
            ErrorKind::Timeout => "response timed out",
            ErrorKind::Io => "other I/O error",
            ErrorKind::Status => "HTTP status not in --expect-status",
            ErrorKind::TlsHandshake => "TLS handshake failed",
            ErrorKind::TlsCert => "server certificate rejected",
            ErrorKind::TlsAlert => "TLS alert from the server",
        }
    }

    /// Classifies an I/O error; `connecting` says whether the connection was established.
    pub fn of_io(err: &std::io::Error, connecting: bool) -> ErrorKind {
        use std::io::ErrorKind as K;
        if let Some(tls) = crate::tls::TlsError::of_io(err) {
            return tls.kind(connecting);
        }
        match err.kind() {
            K::ConnectionRefused => ErrorKind::ConnectRefused,
            K::AddrNotAvailable => ErrorKind::AddrNotAvailable,
            K::TimedOut if connecting => ErrorKind::ConnectTimeout,
            K::TimedOut => ErrorKind::Timeout,
            _ if connecting => ErrorKind::Connect,
            K::ConnectionReset | K::BrokenPipe | K::ConnectionAborted => ErrorKind::Reset,
            K::UnexpectedEof => ErrorKind::Eof,
            _ => ErrorKind::Io,
        }
    }
}

/// The machine a run ran on, for the report's header.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub kernel: String,
}

impl Machine {
    /// This machine, from `/proc` (fields are empty where it cannot be read).
    pub fn this() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(String::new, |(_, v)| v.trim().to_string());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
        Machine { cpu_model, cores: std::thread::available_parallelism().map_or(1, |n| n.get()), kernel }
    }
}

/// CPU time of a thread or process, from the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTime {
    pub user: Duration,
    pub sys: Duration,
}

impl CpuTime {
    /// The calling thread's CPU time from `/proc/thread-self/stat` (fields 14 and 15, in clock
    /// ticks of 1/100 s: USER_HZ is 100 on Linux). Zero where that file does not exist.
    pub fn of_this_thread() -> CpuTime {
        let Ok(stat) = std::fs::read_to_string("/proc/thread-self/stat") else {
            return CpuTime::default();
        };
        // The command name (field 2) may hold spaces; the fields after its ')' do not.
        let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            return CpuTime::default();
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        // `after` starts at field 3, so fields 14 and 15 are at indices 11 and 12.
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        CpuTime { user: Duration::from_millis(ticks(11) * 10), sys: Duration::from_millis(ticks(12) * 10) }
    }

    pub fn since(self, start: CpuTime) -> CpuTime {
        CpuTime { user: self.user.saturating_sub(start.user), sys: self.sys.saturating_sub(start.sys) }
    }

    pub fn total(self) -> Duration {
        self.user + self.sys
    }
}

impl AddAssign for CpuTime {
    fn add_assign(&mut self, other: CpuTime) {
        self.user += other.user;
        self.sys += other.sys;
    }
}

/// Per-second latency histograms track up to a minute (larger values are clamped) with two
/// significant digits: about 10 KiB a second, for the timeline and the live progress line.
pub const SLOT_LATENCY_US_MAX: u64 = 60_000_000;

/// One second of a run.
#[derive(Debug, Clone)]
pub struct Slot {
    pub requests: u64,
    pub errors: u64,
    /// `errors` by kind.
    pub errors_by_kind: [u64; ErrorKind::COUNT],
    pub latency_us: Histogram<u32>,
}

impl Slot {
    pub fn new() -> Slot {
        Slot {
            requests: 0,
            errors: 0,
            errors_by_kind: [0; ErrorKind::COUNT],
            latency_us: Histogram::new_with_bounds(1, SLOT_LATENCY_US_MAX, 2).expect("valid histogram bounds"),
        }
    }

    pub fn add(&mut self, other: &Slot) {
        self.requests += other.requests;
        self.errors += other.errors;
        for (a, b) in self.errors_by_kind.iter_mut().zip(other.errors_by_kind.iter()) {
            *a += b;
        }
        self.latency_us.add(&other.latency_us).expect("slot histograms of equal bounds merge");
    }
}

impl Default for Slot {
    fn default() -> Slot {
        Slot::new()
    }
}

/// What one worker measured. Merging workers is `+=`.
#[derive(Debug, Clone)]
pub struct WorkerStats {
    /// Completed responses.
    pub requests: u64,
    pub errors: [u64; ErrorKind::COUNT],
    /// Connections that completed their connect (and TLS handshake).
    pub connections_opened: u64,
    /// Connections that received at least one response. Fewer than `connections_opened`
    /// means the server left some unserved (an accept queue it never drained).
    pub connections_answered: u64,
    /// TLS handshakes completed, and how many of them resumed a session.
    pub tls_handshakes: u64,
    pub tls_resumed: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Requests written whose responses had not completed when the run ended.
    pub in_flight_at_end: u64,
    /// How long each of those had waited at the end, in microseconds (from its due time under
    /// `--rate`, else from its write): at most `connections × pipeline` entries.
    pub in_flight_age_us: Vec<u64>,
    /// The run gave up (`--give-up`): no response had completed for this long while requests
    /// kept failing.
    pub gave_up_after: Option<Duration>,
    /// The run was stopped before its warm-up ended: nothing was measured.
    pub stopped_during_warmup: bool,
    /// Under `--rate`: requests that were due by the end but never sent.
    pub missed: u64,
    /// Under `--rate`: requests sent (whether or not they completed).
    pub sent: u64,
    /// HTTP responses by status code (index = code, 0-999); empty for raw runs.
    pub status: Box<[u64; STATUS_CODES]>,
    /// Latency of each completed response in microseconds: from its intended send time under
    /// `--rate` (corrected for coordinated omission), else from its write.
    pub latency_us: Histogram<u64>,
    /// Under `--rate` only: from the actual write (the uncorrected service time).
    pub service_us: Histogram<u64>,
    /// Time from starting a connect to its completion, in microseconds.
    pub connect_us: Histogram<u64>,
    /// One slot per second since `start`; the last is the current one.
    pub timeline: Vec<Slot>,
    /// When the measured part of the run began.
    pub start: Instant,
    slot_end: Instant,
    /// From `start` to the worker's end.
    pub elapsed: Duration,
    /// CPU time the worker threads used.
    pub cpu: CpuTime,
    /// The first error's message of each kind, for the report (set once, then never again).
    pub first_error: [Option<String>; ErrorKind::COUNT],
}

impl WorkerStats {
    pub fn new(start: Instant) -> WorkerStats {
        let histogram = || Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid histogram bounds");
        WorkerStats {
            requests: 0,
            errors: [0; ErrorKind::COUNT],
            connections_opened: 0,
            connections_answered: 0,
            tls_handshakes: 0,
            tls_resumed: 0,
            bytes_sent: 0,
            bytes_received: 0,
            in_flight_at_end: 0,
            in_flight_age_us: Vec::new(),
            gave_up_after: None,
            stopped_during_warmup: false,
            missed: 0,
            sent: 0,
            status: Box::new([0; STATUS_CODES]),
            latency_us: histogram(),
            service_us: histogram(),
            connect_us: histogram(),
            timeline: vec![Slot::new()],
            start,
            slot_end: start + Duration::from_secs(1),
            elapsed: Duration::ZERO,
            cpu: CpuTime::default(),
            first_error: Default::default(),
        }
    }

    /// Forgets everything measured (the warm-up is over) and starts the timeline at `start`.
    /// The connections stay open, so their count is kept.
    /// (TLS handshakes are not kept: the report gives those made while measuring, per second.)
    pub fn restart(&mut self, start: Instant) {
        let (connections_opened, connections_answered) = (self.connections_opened, self.connections_answered);
        let connect_us = std::mem::replace(&mut self.connect_us, Histogram::new(1).expect("a histogram"));
        *self = WorkerStats::new(start);
        self.connections_opened = connections_opened;
        self.connections_answered = connections_answered;
        self.connect_us = connect_us;
    }

    /// Moves the timeline on to the slot that holds `now`.
    #[inline]
    pub fn roll(&mut self, now: Instant) {
        while now >= self.slot_end {
            self.timeline.push(Slot::new());
            self.slot_end += Duration::from_secs(1);
        }
    }

    /// A completed response at `now`: its latency, and under `--rate` its service time too.
    #[inline]
    pub fn record_response(&mut self, now: Instant, latency: Duration, service: Option<Duration>) {
        self.roll(now);
        self.requests += 1;
        let us = (latency.as_micros() as u64).min(LATENCY_US_MAX);
        self.latency_us.saturating_record(us);
        if let Some(service) = service {
            self.service_us.saturating_record((service.as_micros() as u64).min(LATENCY_US_MAX));
        }
        let slot = self.timeline.last_mut().expect("the timeline always has a current slot");
        slot.requests += 1;
        slot.latency_us.saturating_record(us.min(SLOT_LATENCY_US_MAX));
    }

    pub fn record_connect(&mut self, took: Duration) {
        self.connect_us.saturating_record((took.as_micros() as u64).min(LATENCY_US_MAX));
    }

    pub fn record_error(&mut self, kind: ErrorKind, detail: impl FnOnce() -> String) {
        self.errors[kind as usize] += 1;
        let slot = self.timeline.last_mut().expect("the timeline always has a current slot");
        slot.errors += 1;
        slot.errors_by_kind[kind as usize] += 1;
        let slot = &mut self.first_error[kind as usize];
        if slot.is_none() {
            *slot = Some(detail());
        }
    }

    pub fn errors_total(&self) -> u64 {
        self.errors.iter().sum()
    }

    pub fn error_count(&self, kind: ErrorKind) -> u64 {
        self.errors[kind as usize]
    }

    /// Completed responses that were not errors (an unexpected HTTP status is one).
    pub fn successes(&self) -> u64 {
        self.requests - self.error_count(ErrorKind::Status)
    }
}

impl AddAssign<&WorkerStats> for WorkerStats {
    /// Adds another worker's figures. Timelines are joined slot by slot: workers share the
    /// run's start, so slot i is the same second in each.
    fn add_assign(&mut self, other: &WorkerStats) {
        self.requests += other.requests;
        for (a, b) in self.errors.iter_mut().zip(other.errors.iter()) {
            *a += b;
        }
        self.connections_opened += other.connections_opened;
        self.connections_answered += other.connections_answered;
        self.tls_handshakes += other.tls_handshakes;
        self.tls_resumed += other.tls_resumed;
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.in_flight_at_end += other.in_flight_at_end;
        self.in_flight_age_us.extend_from_slice(&other.in_flight_age_us);
        self.gave_up_after = self.gave_up_after.max(other.gave_up_after);
        self.stopped_during_warmup |= other.stopped_during_warmup;
        self.missed += other.missed;
        self.sent += other.sent;
        for (a, b) in self.status.iter_mut().zip(other.status.iter()) {
            *a += b;
        }
        self.latency_us.add(&other.latency_us).expect("histograms of equal bounds merge");
        self.service_us.add(&other.service_us).expect("histograms of equal bounds merge");
        self.connect_us.add(&other.connect_us).expect("histograms of equal bounds merge");
        if self.timeline.len() < other.timeline.len() {
            self.timeline.resize_with(other.timeline.len(), Slot::new);
        }
        for (a, b) in self.timeline.iter_mut().zip(other.timeline.iter()) {
            a.add(b);
        }
        self.elapsed = self.elapsed.max(other.elapsed);
        self.cpu += other.cpu;
        for (a, b) in self.first_error.iter_mut().zip(other.first_error.iter()) {
            if a.is_none() {
                a.clone_from(b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_histograms() {
        let t0 = Instant::now();
        let mut a = WorkerStats::new(t0);
        let mut b = WorkerStats::new(t0);
        a.record_response(t0, Duration::from_micros(100), None);
        b.record_response(t0, Duration::from_micros(300), None);
        b.record_response(t0 + Duration::from_millis(2500), Duration::from_micros(500), None);
        a.record_error(ErrorKind::Reset, || "first".into());
        b.record_error(ErrorKind::Reset, || "second".into());
        b.record_error(ErrorKind::Eof, || "eof".into());
        b.elapsed = Duration::from_secs(2);
        a += &b;
        assert_eq!(a.requests, 3);
        assert_eq!(a.latency_us.len(), 3);
        assert_eq!(a.latency_us.max(), 500);
        assert_eq!(a.error_count(ErrorKind::Reset), 2);
        assert_eq!(a.errors_total(), 3);
        assert_eq!(a.first_error[ErrorKind::Reset as usize].as_deref(), Some("first"));
        assert_eq!(a.first_error[ErrorKind::Eof as usize].as_deref(), Some("eof"));
        assert_eq!(a.elapsed, Duration::from_secs(2));
        assert_eq!(a.timeline.len(), 3);
        assert_eq!((a.timeline[0].requests, a.timeline[1].requests, a.timeline[2].requests), (2, 0, 1));
        // Errors land in the worker's current second: b had moved on to its third.
        assert_eq!((a.timeline[0].errors, a.timeline[2].errors), (1, 2));
        assert!(a.timeline[2].latency_us.equivalent(a.timeline[2].latency_us.max(), 500));
    }

    #[test]
    fn huge_latency_is_clamped_not_lost() {
        let mut s = WorkerStats::new(Instant::now());
        s.record_response(Instant::now(), Duration::from_secs(100_000), None);
        assert_eq!(s.latency_us.len(), 1);
        assert!(s.latency_us.max() >= LATENCY_US_MAX - LATENCY_US_MAX / 1000);
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::COUNT);
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
    }

    #[test]
    fn this_thread_cpu_time_moves() {
        // Spin until the kernel has charged this thread a tick; bounded so it cannot hang.
        let start = CpuTime::of_this_thread();
        let give_up = std::time::Instant::now() + Duration::from_secs(20);
        while CpuTime::of_this_thread().since(start).total().is_zero() {
            assert!(std::time::Instant::now() < give_up, "no CPU time was charged in 20 s of spinning");
        }
    }
}

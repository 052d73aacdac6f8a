//! Per-worker counters and latency histogram. A worker owns its `WorkerStats` outright and hands
//! it back when it ends; the main thread merges them with `+=`. Nothing here is shared while a
//! run goes, so recording a response is a few adds and one histogram increment per histogram
//! (the run's and the current timeline entry's).
//!
//! Memory is bounded whatever the run's length: the timeline holds at most
//! `TIMELINE_ENTRIES_MAX` entries of `SLOT_BYTES_MAX` bytes. It starts with one entry per
//! second; when a second would need one more entry than that, adjacent entries are merged
//! pairwise and every entry then spans twice as long (2, 4, 8... seconds), so entry i always
//! covers seconds [i × span_s, (i + 1) × span_s) since `start`. Merging happens in `roll`,
//! after 1,024 s, 2,048 s, 4,096 s... (each time the timeline fills), never in
//! `record_response`; the live progress line keeps its one-second figures in `last_second`,
//! computed once a second in `roll` (a few passes over 10 KiB).

use std::ops::AddAssign;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

pub use crate::error::ErrorKind;

/// Highest latency the histogram tracks (one hour); larger values are clamped to it.
pub const LATENCY_US_MAX: u64 = 3_600_000_000;

/// Status codes are three digits: 0-999 covers them all.
pub const STATUS_CODES: usize = 1000;

/// The live figures of a run, summed over its workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Seconds every worker has completed.
    pub seconds: u64,
    pub requests: u64,
    pub errors: u64,
    pub last_second_requests: u64,
    /// The highest of the workers' p99 for the last second (exact with one worker).
    pub last_second_p99_us: u64,
    pub warming_up: bool,
}

/// What the first TLS handshake negotiated, in rustls' names (`TLSv1.3`,
/// `TLS13_AES_128_GCM_SHA256`, `X25519`; empty when unknown). Set once per worker, from its
/// first handshake; merging keeps the first worker's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsNegotiated {
    pub version: String,
    pub cipher_suite: String,
    pub group: String,
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
        CpuTime::of_stat_file("/proc/thread-self/stat").unwrap_or_default()
    }

    /// Process `pid`'s CPU time, all its threads (`/proc/PID/stat`, fields 14 and 15); `None`
    /// once the process is gone (or, a zombie, has no CPU time left to read).
    pub fn of_process(pid: u32) -> Option<CpuTime> {
        CpuTime::of_stat_file(&format!("/proc/{pid}/stat"))
    }

    fn of_stat_file(path: &str) -> Option<CpuTime> {
        let stat = std::fs::read_to_string(path).ok()?;
        // The command name (field 2) may hold spaces; the fields after its ')' do not.
        let after = stat.rsplit_once(')').map(|(_, rest)| rest)?;
        let fields: Vec<&str> = after.split_whitespace().collect();
        // A zombie's times were moved to its parent: it no longer counts as running.
        if fields.first() == Some(&"Z") {
            return None;
        }
        // `after` starts at field 3, so fields 14 and 15 are at indices 11 and 12.
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        Some(CpuTime { user: Duration::from_millis(ticks(11) * 10), sys: Duration::from_millis(ticks(12) * 10) })
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

/// The CPU time of the server's processes over the measured window (`--server-pid`): read
/// at the start, then now and then (so that a process that exits keeps its last reading), and
/// at the end. Each reading is one small file per process; `sample` runs on the main thread,
/// a few times a second, never in a worker.
#[derive(Debug, Clone)]
pub struct ServerWatch {
    start: Instant,
    pids: Vec<WatchedPid>,
}

#[derive(Debug, Clone)]
struct WatchedPid {
    pid: u32,
    /// `/proc/PID/stat`, or for a thread of this process `/proc/self/task/TID/stat`.
    stat: String,
    /// A process: its threads are counted (`/proc/PID/task`); a thread is one thread.
    is_process: bool,
    first: Option<CpuTime>,
    last: Option<CpuTime>,
    /// Seconds into the window when a reading first failed.
    vanished_at_s: Option<f64>,
    /// Its threads' CPU times at the start, to count at the end the threads that worked.
    threads_first: Vec<(u32, CpuTime)>,
    /// Threads whose CPU time over the window was at least `THREAD_BUSY_SHARE` of it.
    threads_busy: usize,
}

/// A server thread counts as one that ran (one core the server could saturate) when it was
/// busy at least this share of the window: nginx's master, idle, does not count.
pub const THREAD_BUSY_SHARE: f64 = 0.1;

/// What `ServerWatch` saw, per process: its CPU time over the window, when it vanished, and
/// how many of its threads worked.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerCpuTime {
    pub pid: u32,
    pub cpu: CpuTime,
    pub vanished_at_s: Option<f64>,
    pub threads_busy: usize,
}

/// The CPU times of process `pid`'s threads, by thread id (`/proc/PID/task/TID/stat`).
fn thread_times(pid: u32) -> Vec<(u32, CpuTime)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| t.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|tid| Some((tid, CpuTime::of_stat_file(&format!("/proc/{pid}/task/{tid}/stat"))?)))
        .collect()
}

impl WatchedPid {
    /// Takes the first reading of `stat`; a process also has its threads' times noted.
    fn start(pid: u32, stat: String, is_process: bool) -> WatchedPid {
        let first = CpuTime::of_stat_file(&stat);
        WatchedPid {
            pid,
            stat,
            is_process,
            first,
            last: first,
            vanished_at_s: first.is_none().then_some(0.0),
            threads_first: if is_process { thread_times(pid) } else { Vec::new() },
            threads_busy: 0,
        }
    }
}

impl ServerWatch {
    /// Takes the first readings: call when measuring begins.
    pub fn start(pids: &[u32], now: Instant) -> ServerWatch {
        let pids = pids.iter().map(|&pid| WatchedPid::start(pid, format!("/proc/{pid}/stat"), true)).collect();
        ServerWatch { start: now, pids }
    }

    /// The same for threads of this process (the demo's built-in server), by thread id.
    pub fn start_threads(tids: &[u32], now: Instant) -> ServerWatch {
        let pids =
            tids.iter().map(|&tid| WatchedPid::start(tid, format!("/proc/self/task/{tid}/stat"), false)).collect();
        ServerWatch { start: now, pids }
    }

    pub fn sample(&mut self, now: Instant) {
        let at_s = now.saturating_duration_since(self.start).as_secs_f64();
        for p in self.pids.iter_mut().filter(|p| p.vanished_at_s.is_none()) {
            match CpuTime::of_stat_file(&p.stat) {
                Some(cpu) => p.last = Some(cpu),
                None => p.vanished_at_s = Some(at_s),
            }
        }
    }

    /// The last readings minus the first, per process.
    pub fn finish(mut self, now: Instant) -> Vec<ServerCpuTime> {
        self.sample(now);
        let window = now.saturating_duration_since(self.start).as_secs_f64();
        for p in self.pids.iter_mut().filter(|p| p.vanished_at_s.is_none()) {
            if !p.is_process {
                let used = p.last.unwrap_or_default().since(p.first.unwrap_or_default()).total().as_secs_f64();
                p.threads_busy = usize::from(used > 0.0 && used >= THREAD_BUSY_SHARE * window);
                continue;
            }
            let first = |tid: u32| p.threads_first.iter().find(|(t, _)| *t == tid).map(|&(_, c)| c);
            p.threads_busy = thread_times(p.pid)
                .into_iter()
                .filter(|&(tid, cpu)| {
                    let used = cpu.since(first(tid).unwrap_or_default()).total().as_secs_f64();
                    used > 0.0 && used >= THREAD_BUSY_SHARE * window
                })
                .count();
        }
        self.pids
            .iter()
            .map(|p| ServerCpuTime {
                pid: p.pid,
                cpu: match (p.first, p.last) {
                    (Some(first), Some(last)) => last.since(first),
                    _ => CpuTime::default(),
                },
                vanished_at_s: p.vanished_at_s,
                threads_busy: p.threads_busy,
            })
            .collect()
    }
}

/// Timeline histograms track up to a minute (larger values are clamped) with two significant
/// digits: 2,560 `u32` counters, 10 KiB, per entry.
pub const SLOT_LATENCY_US_MAX: u64 = 60_000_000;

/// Most entries a timeline holds (even, so that merging pairs of a full timeline leaves whole
/// entries). 1,024 keeps one entry per second for runs up to 17 minutes.
pub const TIMELINE_ENTRIES_MAX: usize = 1024;

/// Upper bound of one `Slot`'s memory, its histogram's counters included (a test checks it).
/// A worker's timeline costs at most `TIMELINE_ENTRIES_MAX + 2` of them (the two extra are
/// `last_second` and `entry_at_second_start`): 10.9 MB, whatever the run's length.
pub const SLOT_BYTES_MAX: usize = 10_600;

/// One entry of the timeline: a second, or after merging 2, 4, 8... seconds. Its histogram's
/// `u32` counters saturate (they never wrap) past 4.29e9 responses in one latency bucket.
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

    /// Empties the slot, keeping its histogram's memory.
    pub fn reset(&mut self) {
        self.requests = 0;
        self.errors = 0;
        self.errors_by_kind = [0; ErrorKind::COUNT];
        self.latency_us.reset();
    }

    /// Makes this slot `total` minus `part`, where `part` is an earlier state of `total`.
    fn set_difference(&mut self, total: &Slot, part: &Slot) {
        self.reset();
        self.add(total);
        self.requests -= part.requests;
        self.errors -= part.errors;
        for (a, b) in self.errors_by_kind.iter_mut().zip(part.errors_by_kind.iter()) {
            *a -= b;
        }
        self.latency_us.subtract(&part.latency_us).expect("an earlier state of a histogram is part of it");
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
    /// What the first handshake negotiated (kept through the warm-up's end, whose handshakes
    /// are the only ones of a keep-alive run).
    pub tls_negotiated: Option<TlsNegotiated>,
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
    /// Time from starting a connect to its completion, in microseconds (over TLS, to the end
    /// of the handshake).
    pub connect_us: Histogram<u64>,
    /// TLS handshakes, in microseconds: from the TCP connect's completion to the handshake's.
    /// One entry per handshake counted in `tls_handshakes`.
    pub tls_handshake_us: Histogram<u64>,
    /// HTTP/2: time to the first byte of each completed response (its HEADERS), in
    /// microseconds from the stream's HEADERS going out. Empty for HTTP/1.1.
    pub ttfb_us: Histogram<u64>,
    /// HTTP/2: streams the server reset (RST_STREAM), GOAWAYs received (with or without an
    /// error code), and the lowest SETTINGS_MAX_CONCURRENT_STREAMS a server sent.
    pub h2_resets: u64,
    pub h2_goaways: u64,
    pub h2_server_max_streams: Option<u32>,
    /// Entry i covers seconds [i × span_s, (i + 1) × span_s) since `start`; while a worker
    /// runs, the last entry holds the current second. Never more than `TIMELINE_ENTRIES_MAX`.
    timeline: Vec<Slot>,
    /// Seconds each timeline entry spans: 1, doubled each time the timeline is coarsened.
    span_s: u64,
    /// Whole seconds since `start` that `roll` has ended.
    seconds: u64,
    /// The last whole second that ended, for the live progress line.
    last_second: Slot,
    /// The current entry as it stood when the current second began (empty when the second
    /// began the entry): `last_second` is the entry's growth over a second.
    entry_at_second_start: Slot,
    /// When the measured part of the run began.
    pub start: Instant,
    /// When the current second ends.
    second_end: Instant,
    /// From `start` to the worker's end.
    pub elapsed: Duration,
    /// CPU time the worker threads used.
    pub cpu: CpuTime,
    /// Under `--rate`: how long the workers' loops waited in `poll` while measuring, their
    /// slack. A loop that hardly waited could not have sent faster, however little CPU time
    /// the kernel gave it.
    pub poll_wait: Duration,
    /// The first error's message of each kind, for the report (set once, then never again).
    pub first_error: [Option<String>; ErrorKind::COUNT],
    /// Per entry of a request list (`--targets`, `--data-file`), in the list's order; empty
    /// when every request is the same entry.
    pub targets: Vec<TargetStats>,
}

/// One entry's figures: its completed responses, their statuses and (for a list of at most
/// `config::TARGET_ROWS_MAX` entries) their latency. Small (56 bytes): a response of a
/// 1,000-entry list touches its entry's struct and nothing else (no histogram, no second
/// allocation) when its status is the entry's first.
#[derive(Debug, Clone)]
pub struct TargetStats {
    pub requests: u64,
    pub status: StatusCounts,
    /// Two significant digits (within 1%): a p50 and a p99 per row need no more, and 50 of them
    /// cost 50 × 27 KiB per worker instead of 50 × 200 KiB. Boxed, to keep the struct small.
    pub latency_us: Option<Box<Histogram<u64>>>,
}

/// `(status, responses)`, in the order first seen: an entry gets few distinct statuses, so a
/// scan beats a 1,000-slot table per entry. The first status is kept inline (code 0: none yet),
/// the others in a list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCounts {
    first: (u16, u64),
    rest: Vec<(u16, u64)>,
}

impl StatusCounts {
    /// Adds `n` responses of status `code` (not 0).
    #[inline]
    pub fn add(&mut self, code: u16, n: u64) {
        debug_assert_ne!(code, 0, "status 0 stands for none");
        if self.first.0 == code {
            self.first.1 += n;
        } else if self.first.0 == 0 {
            self.first = (code, n);
        } else {
            match self.rest.iter_mut().find(|(c, _)| *c == code) {
                Some((_, m)) => *m += n,
                None => self.rest.push((code, n)),
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &(u16, u64)> {
        std::iter::once(&self.first).filter(|(code, _)| *code != 0).chain(&self.rest)
    }

    pub fn is_empty(&self) -> bool {
        self.first.0 == 0
    }
}

impl FromIterator<(u16, u64)> for StatusCounts {
    fn from_iter<I: IntoIterator<Item = (u16, u64)>>(iter: I) -> StatusCounts {
        let mut counts = StatusCounts::default();
        for (code, n) in iter.into_iter().filter(|&(code, _)| code != 0) {
            counts.add(code, n);
        }
        counts
    }
}

impl TargetStats {
    pub fn new(latency: bool) -> TargetStats {
        let histogram = || Box::new(Histogram::new_with_bounds(1, LATENCY_US_MAX, 2).expect("valid histogram bounds"));
        TargetStats { requests: 0, status: StatusCounts::default(), latency_us: latency.then(histogram) }
    }

    #[inline]
    fn record(&mut self, status: u16, latency: Duration) {
        self.requests += 1;
        if status != 0 {
            self.status.add(status, 1);
        }
        if let Some(h) = &mut self.latency_us {
            h.saturating_record((latency.as_micros() as u64).min(LATENCY_US_MAX));
        }
    }

    fn add(&mut self, other: &TargetStats) {
        self.requests += other.requests;
        for &(code, n) in other.status.iter() {
            self.status.add(code, n);
        }
        if let (Some(a), Some(b)) = (&mut self.latency_us, &other.latency_us) {
            a.add(&**b).expect("histograms of equal bounds merge");
        }
    }
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
            tls_negotiated: None,
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
            tls_handshake_us: histogram(),
            ttfb_us: histogram(),
            h2_resets: 0,
            h2_goaways: 0,
            h2_server_max_streams: None,
            timeline: vec![Slot::new()],
            span_s: 1,
            seconds: 0,
            last_second: Slot::new(),
            entry_at_second_start: Slot::new(),
            start,
            second_end: start + Duration::from_secs(1),
            elapsed: Duration::ZERO,
            cpu: CpuTime::default(),
            poll_wait: Duration::ZERO,
            first_error: Default::default(),
            targets: Vec::new(),
        }
    }

    /// Keeps figures per entry for a list of `n` entries (latency too with `latency`).
    pub fn track_targets(&mut self, n: usize, latency: bool) {
        self.targets = (0..n).map(|_| TargetStats::new(latency)).collect();
    }

    /// A completed response of entry `entry`: its status (0 for raw) and latency.
    #[inline]
    pub fn record_target(&mut self, entry: usize, status: u16, latency: Duration) {
        if let Some(target) = self.targets.get_mut(entry) {
            target.record(status, latency);
        }
    }

    /// Forgets everything measured (the warm-up is over) and starts the timeline at `start`.
    /// The connections stay open, so their count is kept.
    /// (TLS handshakes are not kept: the report gives those made while measuring, per second.)
    pub fn restart(&mut self, start: Instant) {
        let (connections_opened, connections_answered) = (self.connections_opened, self.connections_answered);
        let connect_us = std::mem::replace(&mut self.connect_us, Histogram::new(1).expect("a histogram"));
        let tls_negotiated = self.tls_negotiated.take();
        let targets = (self.targets.len(), self.targets.first().is_some_and(|t| t.latency_us.is_some()));
        let h2_server_max_streams = self.h2_server_max_streams;
        *self = WorkerStats::new(start);
        if targets.0 > 0 {
            self.track_targets(targets.0, targets.1);
        }
        self.tls_negotiated = tls_negotiated;
        self.h2_server_max_streams = h2_server_max_streams;
        self.connections_opened = connections_opened;
        self.connections_answered = connections_answered;
        self.connect_us = connect_us;
    }

    /// Moves the timeline on to the second that holds `now`.
    #[inline]
    pub fn roll(&mut self, now: Instant) {
        while now >= self.second_end {
            self.end_second();
            self.second_end += Duration::from_secs(1);
        }
    }

    /// The current second is over: keeps its figures for the progress line, and starts a new
    /// entry when the current one is complete (coarsening the timeline first when it is full).
    fn end_second(&mut self) {
        let entry = self.timeline.last().expect("the timeline always has a current entry");
        self.last_second.set_difference(entry, &self.entry_at_second_start);
        self.seconds += 1;
        if self.seconds % self.span_s == 0 {
            // Coarsening only happens here, when seconds = TIMELINE_ENTRIES_MAX × span_s, so
            // the new second still begins an entry of the doubled span.
            self.entry_mut(self.seconds);
            self.entry_at_second_start.reset();
        } else {
            self.entry_at_second_start.reset();
            self.entry_at_second_start.add(entry);
        }
        debug_assert!(self.timeline.len() <= TIMELINE_ENTRIES_MAX);
    }

    /// The entry that holds second `at_s` since `start`, added (with empty ones before it) if
    /// the timeline ends before it; coarsens the timeline as often as it takes to fit.
    fn entry_mut(&mut self, at_s: u64) -> &mut Slot {
        while at_s / self.span_s >= TIMELINE_ENTRIES_MAX as u64 {
            self.coarsen();
        }
        let index = (at_s / self.span_s) as usize;
        if self.timeline.len() <= index {
            self.timeline.resize_with(index + 1, Slot::new);
        }
        &mut self.timeline[index]
    }

    /// Merges adjacent entries pairwise (0 and 1, 2 and 3, ...): each entry then spans twice
    /// as long, and the timeline is half as long (rounded up). No histogram is allocated.
    fn coarsen(&mut self) {
        let n = self.timeline.len();
        for i in 0..n.div_ceil(2) {
            // Entries before i are merged ones; entries from 2i on are still untouched.
            self.timeline.swap(i, 2 * i);
            if 2 * i + 1 < n {
                let (merged, rest) = self.timeline.split_at_mut(2 * i + 1);
                merged[i].add(&rest[0]);
            }
        }
        self.timeline.truncate(n.div_ceil(2));
        self.span_s *= 2;
    }

    /// Adds `slot`, an entry of `span_s` seconds that began `at_s` seconds after `start`, to
    /// the entry that holds second `at_s`, first coarsening this timeline until its entries
    /// span at least `span_s`. For finished runs: `+=` and `clobber merge`.
    pub fn add_entry(&mut self, at_s: u64, span_s: u64, slot: &Slot) {
        assert!(span_s.is_power_of_two(), "entries span 1, 2, 4... seconds, not {span_s}");
        while self.span_s < span_s {
            self.coarsen();
        }
        self.entry_mut(at_s).add(slot);
    }

    /// The timeline: entry i covers seconds [i × span_s(), (i + 1) × span_s()) since `start`.
    pub fn timeline(&self) -> &[Slot] {
        &self.timeline
    }

    /// Seconds each timeline entry spans: 1, 2, 4...
    pub fn span_s(&self) -> u64 {
        self.span_s
    }

    /// Whole seconds since `start` that have ended (by `roll`).
    pub fn seconds(&self) -> u64 {
        self.seconds
    }

    /// The last whole second that ended: what the live progress line shows.
    pub fn last_second(&self) -> &Slot {
        &self.last_second
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

    #[inline]
    pub fn record_ttfb(&mut self, took: Duration) {
        self.ttfb_us.saturating_record((took.as_micros() as u64).min(LATENCY_US_MAX));
    }

    pub fn record_tls_handshake(&mut self, took: Duration) {
        self.tls_handshake_us.saturating_record((took.as_micros() as u64).min(LATENCY_US_MAX));
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
    /// Adds another finished worker's figures. Workers share the run's start, so timelines are
    /// joined entry by entry, after the finer one is coarsened to the other's span (one worker
    /// may have ended just past the second that coarsened the other). The sum's live-progress
    /// state is not a sum: it starts empty (the progress line sums workers' `Progress` instead).
    fn add_assign(&mut self, other: &WorkerStats) {
        self.requests += other.requests;
        for (a, b) in self.errors.iter_mut().zip(other.errors.iter()) {
            *a += b;
        }
        self.connections_opened += other.connections_opened;
        self.connections_answered += other.connections_answered;
        self.tls_handshakes += other.tls_handshakes;
        self.tls_resumed += other.tls_resumed;
        if self.tls_negotiated.is_none() {
            self.tls_negotiated.clone_from(&other.tls_negotiated);
        }
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
        self.tls_handshake_us.add(&other.tls_handshake_us).expect("histograms of equal bounds merge");
        self.ttfb_us.add(&other.ttfb_us).expect("histograms of equal bounds merge");
        self.h2_resets += other.h2_resets;
        self.h2_goaways += other.h2_goaways;
        self.h2_server_max_streams = match (self.h2_server_max_streams, other.h2_server_max_streams) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (i, slot) in other.timeline.iter().enumerate() {
            self.add_entry(i as u64 * other.span_s, other.span_s, slot);
        }
        self.seconds = self.seconds.max(other.seconds);
        self.last_second.reset();
        self.entry_at_second_start.reset();
        self.elapsed = self.elapsed.max(other.elapsed);
        self.cpu += other.cpu;
        self.poll_wait += other.poll_wait;
        for (a, b) in self.first_error.iter_mut().zip(other.first_error.iter()) {
            if a.is_none() {
                a.clone_from(b);
            }
        }
        if self.targets.len() < other.targets.len() {
            let latency = other.targets.first().is_some_and(|t| t.latency_us.is_some());
            self.targets.resize_with(other.targets.len(), || TargetStats::new(latency));
        }
        for (a, b) in self.targets.iter_mut().zip(other.targets.iter()) {
            a.add(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_counts_keep_the_order_first_seen() {
        let mut a = StatusCounts::default();
        assert!(a.is_empty() && a.iter().next().is_none());
        for code in [200, 200, 404, 200, 503, 404] {
            a.add(code, 1);
        }
        assert_eq!(a.iter().copied().collect::<Vec<_>>(), [(200, 3), (404, 2), (503, 1)]);
        let b: StatusCounts = [(404, 5), (0, 9), (301, 1)].into_iter().collect();
        assert_eq!(b.iter().copied().collect::<Vec<_>>(), [(404, 5), (301, 1)], "code 0 is no status");
        let mut t = TargetStats::new(false);
        t.status = a;
        t.add(&TargetStats { requests: 6, status: b, latency_us: None });
        assert_eq!(t.status.iter().copied().collect::<Vec<_>>(), [(200, 3), (404, 7), (503, 1), (301, 1)]);
        assert_eq!(t.requests, 6);
    }

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
        a.record_tls_handshake(Duration::from_micros(700));
        b.record_tls_handshake(Duration::from_micros(900));
        b.elapsed = Duration::from_secs(2);
        a += &b;
        assert_eq!(a.requests, 3);
        assert_eq!((a.tls_handshake_us.len(), a.tls_handshake_us.min(), a.tls_handshake_us.max()), (2, 700, 900));
        assert!(a.connect_us.is_empty(), "a handshake's time is its own, not a connect's");
        assert_eq!(a.latency_us.len(), 3);
        assert_eq!(a.latency_us.max(), 500);
        assert_eq!(a.error_count(ErrorKind::Reset), 2);
        assert_eq!(a.errors_total(), 3);
        assert_eq!(a.first_error[ErrorKind::Reset as usize].as_deref(), Some("first"));
        assert_eq!(a.first_error[ErrorKind::Eof as usize].as_deref(), Some("eof"));
        assert_eq!(a.elapsed, Duration::from_secs(2));
        let t = a.timeline();
        assert_eq!(t.len(), 3);
        assert_eq!((t[0].requests, t[1].requests, t[2].requests), (2, 0, 1));
        // Errors land in the worker's current second: b had moved on to its third.
        assert_eq!((t[0].errors, t[2].errors), (1, 2));
        assert!(t[2].latency_us.equivalent(t[2].latency_us.max(), 500));
    }

    /// Second s of a simulated run completes `s % 7 + 1` responses of `s % 1000 + 1` µs each.
    fn responses_in(s: u64) -> u64 {
        s % 7 + 1
    }

    /// A worker that ran `seconds` whole seconds (and is `extra` into the next one).
    fn simulated(t0: Instant, seconds: u64, extra: Duration) -> WorkerStats {
        let mut stats = WorkerStats::new(t0);
        for s in 0..seconds {
            let now = t0 + Duration::from_secs(s) + Duration::from_millis(500);
            for _ in 0..responses_in(s) {
                stats.record_response(now, Duration::from_micros(s % 1000 + 1), None);
            }
            stats.roll(t0 + Duration::from_secs(s + 1));
            assert!(stats.timeline().len() <= TIMELINE_ENTRIES_MAX, "at second {s}");
        }
        stats.roll(t0 + Duration::from_secs(seconds) + extra);
        stats
    }

    /// Checks every entry against the responses of the seconds it covers.
    fn check_entries(stats: &WorkerStats, seconds: u64) {
        let span_s = stats.span_s();
        assert!(span_s.is_power_of_two());
        assert!(stats.timeline().len() <= TIMELINE_ENTRIES_MAX);
        for (i, entry) in stats.timeline().iter().enumerate() {
            let covered = (i as u64 * span_s)..((i as u64 + 1) * span_s).min(seconds);
            let expected: u64 = covered.map(responses_in).sum();
            assert_eq!(entry.requests, expected, "entry {i} of {span_s} s");
            assert_eq!(entry.latency_us.len(), expected, "entry {i} of {span_s} s");
        }
        let total: u64 = (0..seconds).map(responses_in).sum();
        assert_eq!(stats.requests, total);
        assert_eq!(stats.timeline().iter().map(|e| e.requests).sum::<u64>(), total);
    }

    #[test]
    fn timeline_stays_bounded_and_keeps_every_request() {
        let t0 = Instant::now();
        let seconds = 100_000;
        let stats = simulated(t0, seconds, Duration::ZERO);
        // 100,000 s fit in 1,024 entries of 128 s (entries of 64 s would need 1,563).
        assert_eq!(stats.span_s(), 128);
        assert_eq!(stats.timeline().len(), (seconds / 128 + 1) as usize);
        assert_eq!(stats.seconds(), seconds);
        check_entries(&stats, seconds);
    }

    #[test]
    fn last_second_is_the_second_that_ended_even_in_a_long_entry() {
        let t0 = Instant::now();
        for seconds in [1, 5, 1023, 1024, 1025, 3000, 3001] {
            let stats = simulated(t0, seconds, Duration::from_millis(10));
            let last = stats.last_second();
            let s = seconds - 1;
            assert_eq!(last.requests, responses_in(s), "after {seconds} s");
            assert_eq!(last.latency_us.len(), responses_in(s), "after {seconds} s");
            assert!(last.latency_us.equivalent(last.latency_us.value_at_quantile(0.99), s % 1000 + 1));
        }
    }

    #[test]
    fn merging_workers_coarsened_a_different_number_of_times() {
        let t0 = Instant::now();
        // `a` ended just past second 1,024 and coarsened to 2 s entries; `b` ended just before.
        let a = simulated(t0, 1024, Duration::from_millis(1));
        let b = simulated(t0, 1023, Duration::from_millis(999));
        assert_eq!((a.span_s(), b.span_s()), (2, 1));
        for (mut sum, other) in [(a.clone(), &b), (b.clone(), &a)] {
            sum += other;
            assert_eq!(sum.span_s(), 2);
            assert_eq!(sum.timeline().len(), 513);
            let entry = |i: usize| sum.timeline()[i].requests;
            assert_eq!(entry(0), 2 * (responses_in(0) + responses_in(1)));
            assert_eq!(entry(511), 2 * responses_in(1022) + responses_in(1023));
            assert_eq!(entry(512), 0, "the second `a` was in when it ended");
            assert_eq!(sum.requests, a.requests + b.requests);
            assert_eq!(sum.timeline().iter().map(|e| e.requests).sum::<u64>(), sum.requests);
        }
        // Into an empty sum, as the engine joins its workers.
        let mut total = WorkerStats::new(t0);
        total += &b;
        total += &a;
        assert_eq!((total.span_s(), total.timeline().len()), (2, 513));
    }

    #[test]
    fn an_entry_placed_past_the_cap_coarsens_the_timeline() {
        let t0 = Instant::now();
        let mut stats = WorkerStats::new(t0);
        let mut slot = Slot::new();
        slot.requests = 3;
        stats.add_entry(0, 1, &slot);
        stats.add_entry(86_400, 4, &slot);
        assert_eq!(stats.span_s(), 128, "a day in at most 1,024 entries");
        assert_eq!(stats.timeline().len(), 86_400 / 128 + 1);
        assert_eq!((stats.timeline()[0].requests, stats.timeline()[675].requests), (3, 3));
    }

    #[test]
    fn a_slot_fits_its_byte_bound() {
        let slot = Slot::new();
        let bytes = std::mem::size_of::<Slot>() + slot.latency_us.distinct_values() * std::mem::size_of::<u32>();
        assert!(bytes <= SLOT_BYTES_MAX, "{bytes} bytes");
        assert!(bytes > SLOT_BYTES_MAX - 500, "{bytes} bytes: SLOT_BYTES_MAX is stale");
        assert_eq!(TIMELINE_ENTRIES_MAX % 2, 0);
    }

    #[test]
    fn huge_latency_is_clamped_not_lost() {
        let mut s = WorkerStats::new(Instant::now());
        s.record_response(Instant::now(), Duration::from_secs(100_000), None);
        assert_eq!(s.latency_us.len(), 1);
        assert!(s.latency_us.max() >= LATENCY_US_MAX - LATENCY_US_MAX / 1000);
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

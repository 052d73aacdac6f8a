//! One worker: a thread pinned to a core that owns a `mio::Poll`, a slab of connections, its
//! request budget, its pacer (under `--rate`) and its statistics, and runs until the deadline,
//! the budget or Ctrl-C.
//!
//! The loop: open the slots waiting for a socket; start measuring once the warm-up is over;
//! hand due requests to waiting connections (`--rate`); poll; for each event, read the clock
//! and hand the event to its connection; after the batch, write the deferred batches and
//! reopen the connections that closed (a slot is never reused within the batch that closed
//! it). Every call into a connection returns an `Outcome`, and `settle` alone turns it into
//! the worker's bookkeeping (connects under way, the waiting, deferred and closed lists, the
//! retry queue) and arms the connection's deadline. The poll timeout is the earliest
//! of the next connection deadline, the next connect retry, the run's deadline and
//! `STOP_CHECK`; under `--rate` the next due request sets the worker's `TimerFd` instead,
//! because `epoll_wait` counts in whole milliseconds and a request sent up to 1 ms late would
//! charge clobber's lateness to the server. A slow rate sleeps in the kernel either way. The
//! stop flag is read (relaxed) once per loop turn; the only shared writes are the
//! once-a-second progress figures, each a relaxed store to this worker's own `Progress`.
//!
//! A run with `-n` must end even when its target never answers: with `--give-up` (on by
//! default for `-n` without `-d`), a worker whose last response is older than the give-up
//! time ends at the first error after that (a refused connect, a timeout): a slow server that
//! still answers within `--timeout` is waited for, a dead or silent one is not.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::os::fd::AsRawFd;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use super::conn::{Budget, Conn, Connection, Ctx, H2Plan, Outcome, RequestPlan};
use super::h2conn::H2Conn;
use super::pacer::Pacer;
use super::source::RequestSource;
use crate::config::Config;
use crate::net::socket::{self, SocketOptions};
use crate::net::stream::Stream;
use crate::net::sys::TimerFd;
use crate::net::{Ready, Transport, STOP_CHECK};
use crate::protocol::Framer;
use crate::stats::{CpuTime, ErrorKind, WorkerStats};

/// Pause before retrying a connection whose connect failed, so a closed port is not hammered
/// in a busy loop (the errors are still counted, one per attempt).
const CONNECT_RETRY: Duration = Duration::from_millis(10);
const EVENTS_CAPACITY: usize = 1024;
/// The timer heap may hold this many entries per connection (live and stale) before it is
/// rebuilt from the live ones.
const TIMERS_PER_CONNECTION: usize = 4;
/// The worker's read buffer: large, so a big response or a deep pipeline's responses arrive in
/// one read; shared, so it costs nothing per connection.
const SCRATCH_BYTES: usize = 64 * 1024;
/// Most connects a worker has under way at once: thousands of connections open in waves, so
/// the server's accept backlog does not overflow into mass connect timeouts.
const CONNECTS_IN_FLIGHT: usize = 256;
/// The token of the worker's pacing `TimerFd`; connection tokens are slab keys, far below it.
const PACE_TIMER: Token = Token(usize::MAX);
/// The longest nap before a poll that would wait, and the shortest worth taking (see `Nap`).
const NAP_MAX: Duration = Duration::from_micros(400);
const NAP_MIN: Duration = Duration::from_micros(100);
/// A nap is at most this fraction of the time the server needs for what is in flight.
const NAP_HEADROOM: u32 = 16;
/// How often `Nap` measures the throughput it estimates the server's backlog from.
const NAP_WINDOW: Duration = Duration::from_millis(20);

/// Wake-up coalescing for closed-loop HTTP/2 runs. A client faster than its server sleeps in
/// `epoll_wait` between the server's writes, and each write must then wake it: the wake-up (a
/// cross-CPU interrupt; on a VM, an exit to the hypervisor) is paid by the server, inside its
/// write. Measured on h2o at 100 streams (`perf record -g` on h2o, 2 vCPU VM): 7.4% of h2o's
/// CPU in that wake-up (`sock_def_readable`) under clobber, 1.3% under h2load, which is busy
/// often enough that h2o's writes seldom find it asleep. So when nothing is ready and the
/// requests in flight keep the server busy for `NAP_HEADROOM` naps (Little's law: in flight
/// divided by throughput), the worker first sleeps on its own timer, then polls: what arrived
/// meanwhile is read at once, and none of the server's writes had to wake anyone (0.6% of
/// h2o's CPU). The server never runs dry (a nap is at most 1/16 of its backlog); a response
/// waits at most `NAP_MAX` plus the timer's slack (50 µs) longer to be read, which its latency
/// includes (at 100 streams and 50 connections, about 2% of a 10 ms latency on average).
struct Nap {
    window_from: Instant,
    requests_at: u64,
    /// The time the server needs to answer what is in flight, as of the last window.
    backlog: Duration,
}

impl Nap {
    fn new(now: Instant) -> Nap {
        Nap { window_from: now, requests_at: 0, backlog: Duration::ZERO }
    }

    /// How long to nap before a poll that would wait `timeout`, if at all, given the responses
    /// so far (`requests`) and the requests in flight. The backlog estimate is refreshed once
    /// per `NAP_WINDOW`.
    fn length(&mut self, now: Instant, requests: u64, in_flight: u64, timeout: Duration) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.window_from);
        if elapsed >= NAP_WINDOW {
            let done = requests.saturating_sub(self.requests_at);
            self.backlog = match done {
                0 => Duration::ZERO,
                _ => elapsed.mul_f64(in_flight as f64 / done as f64),
            };
            self.window_from = now;
            self.requests_at = requests;
        }
        let nap = (self.backlog / NAP_HEADROOM).min(NAP_MAX);
        (nap >= NAP_MIN && timeout > nap).then_some(nap)
    }
}

/// What the engine gives one worker.
pub struct WorkerPlan {
    pub id: usize,
    pub n_connections: usize,
    /// This worker's share of `-n`.
    pub n_requests: Option<u64>,
    pub core: Option<core_affinity::CoreId>,
    /// When the worker starts (connects, warms up).
    pub start: Instant,
    /// When measuring starts: `start` plus the warm-up.
    pub measure_from: Instant,
    /// When the run ends (`-d`).
    pub run_deadline: Option<Instant>,
    /// This worker's share of `--rate`, in requests per second, and when its first is due.
    pub rate: Option<(f64, Instant)>,
    /// A sweep (`clobber sweep`): the worker runs the steps it is sent, one after the other,
    /// on the same connections, and hands back each step's statistics.
    pub steps: Option<StepLink>,
}

/// A sweep's link between the main thread and one worker, used once per step, never per
/// request: the worker waits for a `StepOrder`, runs the step, sends what it measured, and
/// waits for the next order; a closed order channel ends it.
pub struct StepLink {
    pub orders: std::sync::mpsc::Receiver<StepOrder>,
    pub results: std::sync::mpsc::Sender<WorkerStats>,
}

/// One step of a sweep, for one worker: its share of the rate from `first_due`, measured from
/// `measure_from` (the warm-up before it is not recorded) to `deadline`.
#[derive(Debug, Clone, Copy)]
pub struct StepOrder {
    pub rate_per_s: f64,
    pub first_due: Instant,
    pub measure_from: Instant,
    pub deadline: Instant,
}

/// The figures a worker publishes once a second for the live progress line. One writer (the
/// worker), relaxed stores; the reader may see one second's figures a little torn, which a
/// progress line can bear.
#[derive(Debug, Default)]
pub struct Progress {
    /// Seconds completed since measuring began.
    pub seconds: AtomicU64,
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    pub last_second_requests: AtomicU64,
    pub last_second_p99_us: AtomicU64,
    /// Warm-up still running.
    pub warming_up: AtomicBool,
}

/// How a worker turns a socket (TCP or Unix) whose connect is under way into the transport its
/// connections use: the socket itself, or a TLS session on it.
pub trait Connector {
    type Stream: Transport;
    fn wrap(&self, socket: Stream) -> io::Result<Self::Stream>;
}

/// Plain TCP, or a plain Unix socket.
pub struct Plain;

impl Connector for Plain {
    type Stream = Stream;

    fn wrap(&self, socket: Stream) -> io::Result<Stream> {
        Ok(socket)
    }
}

/// TLS, with this worker's own client configuration (and so its own session cache).
pub struct Tls {
    tls: crate::net::tls::ClientTls,
    config: std::sync::Arc<rustls::ClientConfig>,
}

impl Connector for Tls {
    type Stream = crate::net::tls::TlsStream<rustls::ClientConnection>;

    fn wrap(&self, socket: Stream) -> io::Result<Self::Stream> {
        self.tls.connect(&self.config, socket)
    }
}

/// Runs one worker to its end and returns what it measured.
pub fn run<F: Framer>(
    config: &Config,
    plan: WorkerPlan,
    make_framer: impl Fn() -> F,
    stop: &AtomicBool,
    progress: &Progress,
) -> io::Result<WorkerStats> {
    // One monomorphized event loop per transport, as per framing and per protocol.
    let tls = match &config.tls {
        None => None,
        Some(tls) => {
            let tls = crate::net::tls::ClientTls::new(tls)?;
            Some(Tls { config: tls.config(plan.n_connections)?, tls })
        }
    };
    let h2 = match config.http2 {
        None => None,
        Some(h2) => Some(h2_plan(config, h2.streams)?),
    };
    let depth = config.pipeline as u32;
    match (tls, h2) {
        (None, None) => {
            run_with(config, plan, Plain, |id| Conn::new(make_framer(), depth).numbered(id), None, stop, progress)
        }
        (Some(tls), None) => {
            run_with(config, plan, tls, |id| Conn::new(make_framer(), depth).numbered(id), None, stop, progress)
        }
        (None, Some(h2)) => {
            let streams = h2.streams;
            run_with(config, plan, Plain, |_| H2Conn::new(streams), Some(h2), stop, progress)
        }
        (Some(tls), Some(h2)) => {
            let streams = h2.streams;
            run_with(config, plan, tls, |_| H2Conn::new(streams), Some(h2), stop, progress)
        }
    }
}

/// The HTTP/2 form of the run's request, HPACK-encoded once for all this worker's streams.
fn h2_plan(config: &Config, streams: usize) -> io::Result<H2Plan> {
    use crate::protocol::h2::{client, hpack};
    let (fields, body) = client::request_fields(&config.payload, config.tls.is_some()).map_err(io::Error::other)?;
    let refs: Vec<(&[u8], &[u8])> = fields.iter().map(|(n, v)| (n.as_slice(), v.as_slice())).collect();
    let mut block = Vec::new();
    hpack::encode(&refs, &mut block);
    Ok(H2Plan { block, indexed: client::indexed_blocks(&refs), body, streams: streams as u32 })
}

fn run_with<C: Connector, K: Connection<Io = C::Stream>>(
    config: &Config,
    plan: WorkerPlan,
    connector: C,
    make_conn: impl Fn(u64) -> K,
    h2: Option<H2Plan>,
    stop: &AtomicBool,
    progress: &Progress,
) -> io::Result<WorkerStats> {
    let mut worker = Worker::new(config, &plan, connector, make_conn, h2)?;
    if let Some(link) = &plan.steps {
        // A sweep: the connections stay open from one step to the next; in the pause between
        // two (the main thread judging the step) nothing is polled, and responses wait in the
        // sockets for the next step's warm-up.
        while let Ok(order) = link.orders.recv() {
            worker.begin_step(&order);
            worker.run(stop, progress)?;
            if link.results.send(worker.end_step(Instant::now())).is_err() {
                break;
            }
        }
        return Ok(worker.finish(Instant::now()));
    }
    worker.run(stop, progress)?;
    let now = Instant::now();
    let cpu = CpuTime::of_this_thread().since(worker.cpu_from);
    let mut stats = worker.finish(now);
    stats.elapsed = now.saturating_duration_since(plan.measure_from);
    stats.cpu = cpu;
    Ok(stats)
}

/// Puts connection `key` on the deadline heap for `deadline`, unless its live entry comes at or
/// before it (a later deadline is found when that entry comes due, and re-armed then). A
/// deadline that moved earlier (a connect's 5 s, then a response's 100 ms) gets a new entry
/// at once; the old one becomes stale and is skipped when it comes due.
fn arm(
    deadlines: &mut BinaryHeap<Reverse<(Instant, usize)>>,
    armed_at: &mut [Option<Instant>],
    key: usize,
    deadline: Option<Instant>,
) {
    if let Some(at) = deadline {
        if armed_at[key].map_or(true, |entry| at < entry) {
            armed_at[key] = Some(at);
            deadlines.push(Reverse((at, key)));
        }
    }
}

/// What the worker owns and lends to one connection for one call (see `Ctx`), kept apart from
/// the slab so that a connection and its `Ctx` can be borrowed together. Per worker, like
/// everything else here: nothing in it is shared between threads.
struct Own {
    /// The one read buffer of all this worker's connections (see `Ctx::scratch`).
    scratch: Box<[u8]>,
    stats: WorkerStats,
    budget: Budget,
    plan: RequestPlan,
    /// Requests that vary (`None`: the plan's fixed batch).
    source: Option<RequestSource>,
}

impl Own {
    fn ctx(&mut self, now: Instant) -> Ctx<'_> {
        Ctx {
            now,
            scratch: &mut self.scratch,
            stats: &mut self.stats,
            budget: &mut self.budget,
            plan: &self.plan,
            source: self.source.as_mut(),
        }
    }
}

struct Worker<C: Connector, K> {
    poll: Poll,
    conns: Slab<K>,
    connector: C,
    own: Own,
    /// This worker's share of `-n`, for the reset when the warm-up ends.
    n_requests: Option<u64>,
    pacer: Option<Pacer>,
    addr: std::net::SocketAddr,
    /// Connect to this Unix socket instead of `addr`.
    unix: Option<std::path::PathBuf>,
    options: SocketOptions,
    measure_from: Instant,
    measuring: bool,
    /// This thread's CPU time when measuring began (at its start, or when the warm-up ended):
    /// the report's client CPU is the measured window's.
    cpu_from: CpuTime,
    run_deadline: Option<Instant>,
    /// Slots to open at the start of the next loop turn.
    to_open: Vec<usize>,
    /// Slots whose connect failed, with when to try again (in order of time: each is pushed
    /// with the clock read last, which only moves forward).
    to_retry: std::collections::VecDeque<(Instant, usize)>,
    /// Slots closed during the current event batch.
    closed: Vec<usize>,
    /// Connections waiting for the pacer (`--rate`), most recently freed last.
    waiting: Vec<usize>,
    /// Connection deadlines, earliest first. A connection has one live entry, its time in
    /// `armed_at`; when it comes due and the connection's deadline has moved later, it goes
    /// back in with the new one, so arming a request costs a store into the connection, not a
    /// heap push. Entries left stale by a deadline that moved earlier are skipped, and the heap
    /// is rebuilt from `armed_at` when they would make it larger than `TIMERS_PER_CONNECTION`
    /// times the connections.
    deadlines: BinaryHeap<Reverse<(Instant, usize)>>,
    armed_at: Vec<Option<Instant>>,
    /// Under `--rate`: wakes the worker when the next request is due, to the microsecond.
    pace_timer: Option<TimerFd>,
    /// The due time `pace_timer` is set for.
    pace_timer_set_for: Option<Instant>,
    /// `--give-up`, and what it watches: the requests and errors at the last response.
    give_up: Option<Duration>,
    last_response_at: Instant,
    n_requests_seen: u64,
    n_errors_at_last_response: u64,
    /// During the warm-up: when the next progress figures are due, and the requests then.
    warmup_tick: Instant,
    n_warmup_requests_published: u64,
    connect_timeout: Duration,
    /// Source addresses, used in turn by slot number.
    sources: Vec<std::net::IpAddr>,
    /// Connects under way (at most `CONNECTS_IN_FLIGHT`): counted in `settle` only, from
    /// `Outcome::Connecting`, `Connected` and `ConnectFailed`.
    n_connecting: usize,
    /// Connections whose next request waits for the end of the event batch.
    deferred: Vec<usize>,
    /// Closed-loop HTTP/2 runs: the nap before a poll that would wait.
    nap: Option<Nap>,
}

impl<C: Connector, K: Connection<Io = C::Stream>> Worker<C, K> {
    fn new(
        config: &Config,
        plan: &WorkerPlan,
        connector: C,
        // Takes the connection's number in the run (`{{conn}}`).
        make_conn: impl Fn(u64) -> K,
        h2: Option<H2Plan>,
    ) -> io::Result<Worker<C, K>> {
        let now = Instant::now();
        let mut conns = Slab::with_capacity(plan.n_connections);
        // Connections are numbered across the run (`{{conn}}`): this worker's come after
        // those of the workers before it.
        let first_conn: usize = (0..plan.id).map(|w| config.connections_of(w)).sum();
        for i in 0..plan.n_connections {
            conns.insert(make_conn((first_conn + i) as u64));
        }
        let source = config.varying.as_ref().map(|v| RequestSource::new(v, plan.id, config.threads, config.pipeline));
        let mut stats = WorkerStats::new(plan.measure_from);
        if let Some(v) = config.varying.as_ref().filter(|v| v.per_target()) {
            stats.track_targets(v.entries.len(), v.entries.len() <= crate::config::TARGET_ROWS_MAX);
        }
        let measuring = plan.measure_from <= plan.start;
        let poll = Poll::new()?;
        let pace_timer = match plan.rate {
            Some(_) => {
                let timer = TimerFd::new()?;
                poll.registry().register(&mut SourceFd(&timer.as_raw_fd()), PACE_TIMER, Interest::READABLE)?;
                Some(timer)
            }
            None => None,
        };
        Ok(Worker {
            poll,
            to_open: (0..plan.n_connections).collect(),
            to_retry: std::collections::VecDeque::with_capacity(plan.n_connections),
            closed: Vec::with_capacity(plan.n_connections),
            waiting: Vec::with_capacity(plan.n_connections),
            deadlines: BinaryHeap::with_capacity(plan.n_connections * TIMERS_PER_CONNECTION),
            armed_at: vec![None; plan.n_connections],
            pace_timer,
            pace_timer_set_for: None,
            give_up: config.give_up,
            last_response_at: now,
            n_requests_seen: 0,
            n_errors_at_last_response: 0,
            warmup_tick: now + Duration::from_secs(1),
            n_warmup_requests_published: 0,
            connect_timeout: config.connect_timeout,
            sources: config.bind.clone(),
            n_connecting: 0,
            deferred: Vec::with_capacity(plan.n_connections),
            nap: (h2.is_some() && plan.rate.is_none()).then(|| Nap::new(now)),
            conns,
            connector,
            own: Own {
                scratch: vec![0u8; SCRATCH_BYTES].into_boxed_slice(),
                stats,
                // During a warm-up nothing counts, so nothing limits it; see `start_measuring`.
                budget: Budget::new(if measuring { plan.n_requests } else { None }),
                plan: RequestPlan {
                    expect_status: config.expect_status,
                    paced: plan.rate.is_some(),
                    timeout: config.timeout,
                    defer_next: true,
                    h2,
                    ..RequestPlan::new(&config.payload, config.pipeline, config.reconnect)
                },
                source,
            },
            n_requests: plan.n_requests,
            pacer: plan.rate.map(|(rate, first)| Pacer::new(first, rate)),
            addr: config.target.addr,
            unix: config.target.unix.clone(),
            options: SocketOptions { linger_zero: config.reconnect && !config.graceful_close },
            measure_from: plan.measure_from,
            measuring,
            cpu_from: CpuTime::of_this_thread(),
            run_deadline: plan.run_deadline,
        })
    }

    fn run(&mut self, stop: &AtomicBool, progress: &Progress) -> io::Result<()> {
        // A local, not a field, so that handling an event can borrow the whole worker.
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        progress.warming_up.store(!self.measuring, Ordering::Relaxed);
        let mut published = 0;
        loop {
            let now = Instant::now();
            while let Some(&(at, key)) = self.to_retry.front() {
                if at > now {
                    break;
                }
                self.to_retry.pop_front();
                self.to_open.push(key);
            }
            // Open what waits, a wave at a time (see CONNECTS_IN_FLIGHT); the rest next turn.
            let room = CONNECTS_IN_FLIGHT.saturating_sub(self.n_connecting).min(self.to_open.len());
            for i in 0..room {
                let key = self.to_open[i];
                self.open(key, now);
            }
            self.to_open.drain(..room);
            self.expire(now);
            if !self.measuring && now >= self.measure_from {
                self.start_measuring();
                progress.warming_up.store(false, Ordering::Relaxed);
            }
            self.own.stats.roll(now);
            if self.measuring && self.own.stats.seconds() > published {
                published = self.own.stats.seconds();
                self.publish(progress, published);
            } else if !self.measuring && now >= self.warmup_tick {
                self.publish_warmup(progress);
            }
            if stop.load(Ordering::Relaxed)
                || self.own.budget.is_spent()
                || self.run_deadline.is_some_and(|d| now >= d)
                || self.certificate_rejected()
                || self.gives_up(now)
            {
                return Ok(());
            }
            self.dispatch_due(now);
            let timeout = self.poll_timeout(now);
            // Under --rate, the time spent waiting in poll is the client's slack: a loop that
            // never waits cannot keep up with its schedule (`WorkerStats::poll_wait`). Two clock
            // reads per loop turn, paced runs only.
            let poll_from = self.pacer.is_some().then(Instant::now);
            match self.poll_events(&mut events, now, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if let (Some(from), true) = (poll_from, self.measuring) {
                self.own.stats.poll_wait += from.elapsed();
            }
            for event in events.iter() {
                if event.token() == PACE_TIMER {
                    // Not read: setting the timer again resets its expiration count, and each
                    // expiry raises a new edge, so a read would be a syscall per paced request
                    // for nothing.
                    self.pace_timer_set_for = None;
                    continue;
                }
                let key = event.token().0;
                let Some(conn) = self.conns.get_mut(key) else { continue };
                // The clock is read per event, not per batch: a batch of many events takes long
                // enough that a batch-wide `now` would add its length to the latencies.
                let now = Instant::now();
                let outcome = conn.on_event(Ready::of(event), &mut self.own.ctx(now));
                self.settle(key, now, outcome);
            }
            self.write_deferred();
            self.reopen_closed();
        }
    }

    /// Polls, after a nap if the worker should take one (`Nap`).
    fn poll_events(&mut self, events: &mut Events, now: Instant, timeout: Duration) -> io::Result<()> {
        let (requests, in_flight) = (self.own.stats.requests, self.own.budget.in_flight);
        let nap = match (&mut self.nap, &self.pacer) {
            (Some(nap), None) => nap.length(now, requests, in_flight, timeout),
            _ => None,
        };
        let Some(nap) = nap else {
            return self.poll.poll(events, Some(timeout));
        };
        self.poll.poll(events, Some(Duration::ZERO))?;
        if !events.is_empty() {
            return Ok(());
        }
        std::thread::sleep(nap);
        self.poll.poll(events, Some(timeout - nap))
    }

    /// The worker's side of every call into a connection: its bookkeeping follows from the
    /// outcome alone, then the connection's deadline is armed (a no-op unless it moved earlier
    /// than its live entry, see `arm`).
    fn settle(&mut self, key: usize, now: Instant, outcome: Outcome) {
        match outcome {
            Outcome::Pending => {}
            Outcome::Connecting => self.n_connecting += 1,
            Outcome::Connected => {
                // The connection enters its first phase and tries its I/O at once; what that
                // returns is never `Connecting` or `Connected`, so this recurses once at most.
                self.n_connecting -= 1;
                let outcome = self.conns[key].on_connected(&mut self.own.ctx(now));
                return self.settle(key, now, outcome);
            }
            Outcome::Waiting => self.waiting.push(key),
            Outcome::Deferred => self.deferred.push(key),
            // Reopened after the event batch (`reopen_closed`), never within it.
            Outcome::Closed(_) => self.closed.push(key),
            Outcome::ConnectFailed(_) => {
                self.n_connecting -= 1;
                self.to_retry.push_back((now + CONNECT_RETRY, key));
            }
        }
        arm(&mut self.deadlines, &mut self.armed_at, key, self.conns[key].deadline());
    }

    /// The server's certificate was rejected and no connection has ever got through: every
    /// retry would be rejected the same way, so the worker ends its run (with `-n` and no
    /// `-d` it would otherwise retry until Ctrl-C). The report says why.
    fn certificate_rejected(&self) -> bool {
        let stats = &self.own.stats;
        stats.connections_opened == 0
            && (stats.error_count(ErrorKind::TlsCert) > 0 || stats.error_count(ErrorKind::H2Alpn) > 0)
    }

    /// `--give-up`: no response for the give-up time, and a request failed since the last one.
    /// Requests are compared once per loop turn, so a response costs nothing here.
    fn gives_up(&mut self, now: Instant) -> bool {
        let Some(limit) = self.give_up else { return false };
        let stats = &mut self.own.stats;
        if stats.requests != self.n_requests_seen {
            self.n_requests_seen = stats.requests;
            self.last_response_at = now;
            self.n_errors_at_last_response = stats.errors_total();
            return false;
        }
        let silent = now.saturating_duration_since(self.last_response_at);
        if silent < limit || stats.errors_total() == self.n_errors_at_last_response {
            return false;
        }
        stats.gave_up_after = Some(silent);
        true
    }

    /// During the warm-up, once a second: its requests so far and in the last second.
    fn publish_warmup(&mut self, progress: &Progress) {
        let requests = self.own.stats.requests;
        progress.requests.store(requests, Ordering::Relaxed);
        progress.errors.store(self.own.stats.errors_total(), Ordering::Relaxed);
        progress.last_second_requests.store(requests - self.n_warmup_requests_published, Ordering::Relaxed);
        self.n_warmup_requests_published = requests;
        self.warmup_tick += Duration::from_secs(1);
    }

    /// The warm-up is over: forget what it measured and give the budget its full share. The
    /// requests still in flight will complete as measured ones, so they come off the share.
    fn start_measuring(&mut self) {
        self.measuring = true;
        self.cpu_from = CpuTime::of_this_thread();
        self.own.stats.restart(self.measure_from);
        if let Some(share) = self.n_requests {
            self.own.budget.left = share.saturating_sub(self.own.budget.in_flight);
        }
    }

    fn publish(&self, progress: &Progress, seconds: u64) {
        let last = self.own.stats.last_second();
        progress.requests.store(self.own.stats.requests, Ordering::Relaxed);
        progress.errors.store(self.own.stats.errors_total(), Ordering::Relaxed);
        progress.last_second_requests.store(last.requests, Ordering::Relaxed);
        progress.last_second_p99_us.store(last.latency_us.value_at_quantile(0.99), Ordering::Relaxed);
        progress.seconds.store(seconds, Ordering::Release);
    }

    /// Under `--rate`: hands each request that is due to a waiting connection, in order.
    fn dispatch_due(&mut self, now: Instant) {
        while let Some(pacer) = self.pacer.as_mut() {
            if pacer.backlog(now) == 0 || self.own.budget.left == 0 {
                break;
            }
            let Some(key) = self.waiting.pop() else { break };
            if !self.conns[key].is_waiting() {
                // Closed while it waited (a TLS send failed): a stale entry.
                continue;
            }
            let intended_at = pacer.take();
            let dispatched_at = Instant::now();
            let outcome = self.conns[key].dispatch(intended_at, &mut self.own.ctx(dispatched_at));
            self.settle(key, dispatched_at, outcome);
        }
        self.reopen_closed();
    }

    /// Writes the batches that connections left for after the event batch. One written at once
    /// may defer another (its response already there): it is written in the same pass, since
    /// the list is read by index until its end.
    fn write_deferred(&mut self) {
        if self.deferred.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut i = 0;
        while i < self.deferred.len() {
            let key = self.deferred[i];
            let outcome = self.conns[key].write_deferred(&mut self.own.ctx(now));
            self.settle(key, now, outcome);
            i += 1;
        }
        self.deferred.clear();
    }

    /// Hands their timer to the connections whose heap entry came due: each closes if its
    /// deadline passed, and is armed again if its deadline moved later.
    fn expire(&mut self, now: Instant) {
        while let Some(&Reverse((at, key))) = self.deadlines.peek() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            if self.armed_at[key] != Some(at) {
                continue;
            }
            self.armed_at[key] = None;
            let outcome = self.conns[key].on_timeout(&mut self.own.ctx(now));
            self.settle(key, now, outcome);
        }
        if self.deadlines.len() > TIMERS_PER_CONNECTION * self.armed_at.len() {
            self.deadlines =
                self.armed_at.iter().enumerate().filter_map(|(key, at)| at.map(|at| Reverse((at, key)))).collect();
        }
        self.reopen_closed();
    }

    fn poll_timeout(&mut self, now: Instant) -> Duration {
        let mut timeout = STOP_CHECK;
        if !self.to_open.is_empty() && self.n_connecting < CONNECTS_IN_FLIGHT {
            return Duration::ZERO;
        }
        if let Some(&Reverse((at, _))) = self.deadlines.peek() {
            timeout = timeout.min(at.saturating_duration_since(now));
        }
        if let Some(d) = self.run_deadline {
            timeout = timeout.min(d.saturating_duration_since(now));
        }
        if !self.measuring {
            timeout = timeout.min(self.measure_from.saturating_duration_since(now));
        }
        if let Some(&(at, _)) = self.to_retry.front() {
            timeout = timeout.min(at.saturating_duration_since(now));
        }
        if let Some(pacer) = &self.pacer {
            // Wake for the next due request only if a connection can take it; otherwise the
            // next response (an event) frees one. The timerfd wakes to the microsecond; the
            // poll timeout (to the millisecond) only if it could not be set.
            let due = pacer.next_due();
            if !self.waiting.is_empty() && self.own.budget.left > 0 {
                let precise = match &self.pace_timer {
                    Some(_) if self.pace_timer_set_for == Some(due) => true,
                    Some(timer) => timer.set_after(due.saturating_duration_since(Instant::now())).is_ok(),
                    None => false,
                };
                if precise {
                    self.pace_timer_set_for = Some(due);
                } else {
                    timeout = timeout.min(due.saturating_duration_since(now));
                }
            }
        }
        timeout
    }

    /// Connections that closed (having connected) in the last batch: reopened while there is
    /// budget. (A failed connect is retried after a pause: see `settle`.)
    fn reopen_closed(&mut self) {
        if self.own.budget.left > 0 {
            self.to_open.extend_from_slice(&self.closed);
        }
        self.closed.clear();
    }

    /// Opens a new socket in slot `key`. Without `--rate` its first batch is reserved first,
    /// so no connection is opened that would have nothing to send (and `-n` with
    /// `--reconnect` opens exactly one connection per batch).
    fn open(&mut self, key: usize, now: Instant) {
        let reserved = if !self.own.plan.paced {
            match self.own.budget.take(u64::from(self.own.plan.pipeline)) {
                0 => return,
                n => n as u32,
            }
        } else {
            0
        };
        let source = (!self.sources.is_empty()).then(|| self.sources[key % self.sources.len()]);
        let socket = match &self.unix {
            None => socket::connect(self.addr, source, self.options).map(Stream::Tcp),
            Some(path) => Stream::connect_unix(path),
        };
        let result = socket.and_then(|mut stream| {
            self.poll.registry().register(&mut stream, Token(key), Interest::READABLE | Interest::WRITABLE)?;
            self.connector.wrap(stream)
        });
        match result {
            Ok(stream) => {
                let outcome = self.conns[key].open(stream, reserved, now, self.connect_timeout);
                self.settle(key, now, outcome);
            }
            Err(e) => {
                self.own.budget.give_back(u64::from(reserved));
                self.own.stats.record_error(ErrorKind::of_io(&e, true), || e.to_string());
                self.to_retry.push_back((now + CONNECT_RETRY, key));
            }
        }
    }

    /// A sweep's next step: a new schedule at the step's rate, a warm-up (whose responses
    /// include those of the last step still in flight, not recorded) and a deadline. The
    /// connections, their phases and the waiting list are kept.
    fn begin_step(&mut self, order: &StepOrder) {
        self.pacer = Some(Pacer::new(order.first_due, order.rate_per_s));
        self.pace_timer_set_for = None;
        self.measure_from = order.measure_from;
        self.measuring = false;
        self.run_deadline = Some(order.deadline);
        self.warmup_tick = Instant::now() + Duration::from_secs(1);
    }

    /// The step is over: what it measured, with the requests still in flight counted as at the
    /// end of a run (they stay in flight, into the next step's warm-up).
    fn end_step(&mut self, now: Instant) -> WorkerStats {
        let mut stats = self.measured(now);
        stats.elapsed = now.saturating_duration_since(self.measure_from);
        stats.cpu = CpuTime::of_this_thread().since(self.cpu_from);
        self.own.stats.restart(self.measure_from);
        stats
    }

    /// What the worker measured so far, with the requests in flight at `now` and, under
    /// `--rate`, those due but never sent. A worker stopped during its warm-up measured
    /// nothing: its statistics say so, with why it gave up if it did.
    fn measured(&mut self, now: Instant) -> WorkerStats {
        if !self.measuring {
            // Stopped during the warm-up: nothing was measured. What made it give up, if it
            // did, is kept: the errors say why.
            let warm = std::mem::replace(&mut self.own.stats, WorkerStats::new(self.measure_from));
            let stats = &mut self.own.stats;
            stats.stopped_during_warmup = true;
            if warm.gave_up_after.is_some() {
                stats.gave_up_after = warm.gave_up_after;
                stats.errors = warm.errors;
                stats.first_error = warm.first_error;
            }
            return self.own.stats.clone();
        }
        let mut stats = self.own.stats.clone();
        for (_, conn) in self.conns.iter() {
            conn.in_flight(&mut |since| {
                stats.in_flight_at_end += 1;
                stats.in_flight_age_us.push(now.saturating_duration_since(since).as_micros() as u64);
            });
        }
        if let Some(pacer) = &self.pacer {
            if self.own.budget.left > 0 {
                stats.missed = pacer.backlog(now).min(self.own.budget.left);
            }
        }
        stats
    }

    fn finish(mut self, now: Instant) -> WorkerStats {
        let stats = self.measured(now);
        for (_, conn) in self.conns.iter_mut() {
            conn.abandon();
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nap_only_when_the_backlog_is_16_naps_long() {
        let t0 = Instant::now();
        let mut nap = Nap::new(t0);
        let second = Duration::from_secs(1);
        // No estimate before the first window.
        assert_eq!(nap.length(t0, 0, 5000, second), None);
        // 5,000 in flight at 500,000 per second: a 10 ms backlog, so the longest nap.
        let t1 = t0 + NAP_WINDOW;
        assert_eq!(nap.length(t1, 10_000, 5000, second), Some(NAP_MAX));
        // Not when the poll would wait less than the nap.
        assert_eq!(nap.length(t1, 10_000, 5000, NAP_MAX), None);
        // 50 in flight at 100,000 per second (one stream per connection): a 0.5 ms backlog,
        // whose 1/16 is below NAP_MIN.
        let t2 = t1 + NAP_WINDOW;
        assert_eq!(nap.length(t2, 12_000, 50, second), None);
        // 1,000 in flight at 400,000 per second: 2.5 ms, a nap of 156 µs.
        let t3 = t2 + NAP_WINDOW;
        let nap_length = nap.length(t3, 20_000, 1000, second).expect("a nap");
        assert_eq!(nap_length.as_micros(), 156);
        // No response in a window: no estimate, no nap.
        let t4 = t3 + NAP_WINDOW;
        assert_eq!(nap.length(t4, 20_000, 1000, second), None);
    }
}

//! One worker: a thread pinned to a core that owns a `mio::Poll`, a slab of connections, its
//! request budget and its statistics, and runs until the deadline, the budget or Ctrl-C.
//!
//! The loop: poll; for each event, read the clock and hand the event to its connection; after
//! the batch, reopen the connections that closed (a slot is never reused within the batch that
//! closed it). The stop flag is read (relaxed) once per loop turn, and the poll timeout is
//! capped at `STOP_CHECK` so Ctrl-C is seen promptly; nothing is written to shared memory while
//! the run goes.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use super::conn::{Budget, Conn, Ctx, Ready, RequestPlan};
use super::socket::{self, SocketOptions};
use crate::config::Config;
use crate::protocol::Framer;
use crate::stats::{CpuTime, ErrorKind, WorkerStats};

/// Longest a worker sleeps in `poll` before it looks at the stop flag again.
const STOP_CHECK: Duration = Duration::from_millis(50);
/// Pause before retrying a connection whose connect failed, so a closed port is not hammered
/// in a busy loop (the errors are still counted, one per attempt).
const CONNECT_RETRY: Duration = Duration::from_millis(10);
const EVENTS_CAPACITY: usize = 1024;
/// The worker's read buffer: large, so a big response or a deep pipeline's responses arrive in
/// one read; shared, so it costs nothing per connection.
const SCRATCH_BYTES: usize = 64 * 1024;

/// What the engine gives one worker.
pub struct WorkerPlan {
    pub id: usize,
    pub connections: usize,
    pub requests: Option<u64>,
    pub core: Option<core_affinity::CoreId>,
    pub start: Instant,
    pub deadline: Option<Instant>,
}

/// Runs one worker to its end and returns what it measured.
pub fn run<F: Framer>(
    config: &Config,
    plan: WorkerPlan,
    make_framer: impl Fn() -> F,
    stop: &AtomicBool,
) -> io::Result<WorkerStats> {
    if let Some(core) = plan.core {
        core_affinity::set_for_current(core);
    }
    let cpu_start = CpuTime::of_this_thread();
    let mut worker = Worker::new(config, &plan, make_framer)?;
    worker.run(stop, plan.deadline)?;
    let mut stats = worker.finish();
    stats.elapsed = Instant::now().saturating_duration_since(plan.start);
    stats.cpu = CpuTime::of_this_thread().since(cpu_start);
    Ok(stats)
}

struct Worker<F> {
    poll: Poll,
    events: Events,
    conns: Slab<Conn<mio::net::TcpStream, F>>,
    stats: WorkerStats,
    budget: Budget,
    plan: RequestPlan,
    addr: std::net::SocketAddr,
    options: SocketOptions,
    /// Slots to open at the start of the next loop turn.
    to_open: Vec<usize>,
    /// Slots whose connect failed, with when to try again (in order of time).
    to_retry: std::collections::VecDeque<(Instant, usize)>,
    /// Slots closed during the current event batch.
    closed: Vec<usize>,
    /// The one read buffer of all this worker's connections (see `Ctx::scratch`).
    scratch: Box<[u8]>,
}

impl<F: Framer> Worker<F> {
    fn new(config: &Config, plan: &WorkerPlan, make_framer: impl Fn() -> F) -> io::Result<Worker<F>> {
        let now = Instant::now();
        let mut conns = Slab::with_capacity(plan.connections);
        for _ in 0..plan.connections {
            conns.insert(Conn::new(make_framer(), now));
        }
        Ok(Worker {
            poll: Poll::new()?,
            events: Events::with_capacity(EVENTS_CAPACITY),
            to_open: (0..plan.connections).collect(),
            to_retry: std::collections::VecDeque::with_capacity(plan.connections),
            closed: Vec::with_capacity(plan.connections),
            scratch: vec![0u8; SCRATCH_BYTES].into_boxed_slice(),
            conns,
            stats: WorkerStats::new(),
            budget: Budget::new(plan.requests),
            plan: RequestPlan {
                expect_status: config.expect_status,
                ..RequestPlan::new(&config.payload, config.pipeline, config.reconnect)
            },
            addr: config.target.addr,
            options: SocketOptions { linger_zero: config.reconnect },
        })
    }

    fn run(&mut self, stop: &AtomicBool, deadline: Option<Instant>) -> io::Result<()> {
        loop {
            let now = Instant::now();
            while let Some(&(at, key)) = self.to_retry.front() {
                if at > now {
                    break;
                }
                self.to_retry.pop_front();
                self.to_open.push(key);
            }
            for i in 0..self.to_open.len() {
                let key = self.to_open[i];
                self.open(key, now);
            }
            self.to_open.clear();
            if stop.load(Ordering::Relaxed) || self.budget.is_spent() || deadline.is_some_and(|d| now >= d) {
                return Ok(());
            }
            let mut timeout = STOP_CHECK;
            if let Some(d) = deadline {
                timeout = timeout.min(d - now);
            }
            if let Some(&(at, _)) = self.to_retry.front() {
                timeout = timeout.min(at.saturating_duration_since(now));
            }
            match self.poll.poll(&mut self.events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in self.events.iter() {
                let key = event.token().0;
                let Some(conn) = self.conns.get_mut(key) else {
                    continue;
                };
                // The clock is read per event, not per batch: a batch of many events takes long
                // enough that a batch-wide `now` would add its length to the latencies.
                let mut ctx = Ctx {
                    now: Instant::now(),
                    scratch: &mut self.scratch,
                    stats: &mut self.stats,
                    budget: &mut self.budget,
                    plan: &self.plan,
                };
                if conn.on_event(Ready::of(event), &mut ctx) {
                    self.closed.push(key);
                }
            }
            let now = Instant::now();
            for i in 0..self.closed.len() {
                let key = self.closed[i];
                if !self.conns[key].was_connected() {
                    self.to_retry.push_back((now + CONNECT_RETRY, key));
                } else if self.budget.left > 0 {
                    self.to_open.push(key);
                }
            }
            self.closed.clear();
        }
    }

    /// Opens a new socket in slot `key`. With `--reconnect` the batch is reserved first, so no
    /// connection is opened that would have nothing to send.
    fn open(&mut self, key: usize, now: Instant) {
        let reserved = if self.plan.reconnect {
            match self.budget.take(u64::from(self.plan.pipeline)) {
                0 => return,
                n => n as u32,
            }
        } else {
            0
        };
        let result = socket::connect(self.addr, self.options).and_then(|mut stream| {
            self.poll.registry().register(&mut stream, Token(key), Interest::READABLE | Interest::WRITABLE)?;
            Ok(stream)
        });
        match result {
            Ok(stream) => self.conns[key].open(stream, reserved),
            Err(e) => {
                self.budget.give_back(u64::from(reserved));
                self.stats.record_error(ErrorKind::of_io(&e, true), || e.to_string());
                self.to_retry.push_back((now + CONNECT_RETRY, key));
            }
        }
    }

    fn finish(mut self) -> WorkerStats {
        for (_, conn) in self.conns.iter_mut() {
            self.stats.in_flight_at_end += conn.requests_in_flight();
            conn.abandon();
        }
        self.stats
    }
}

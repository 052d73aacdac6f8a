//! The engine: spawns one pinned worker thread per `-t`, gives each its connections and its
//! share of the request budget, joins them and merges what they measured.
//!
//! The stop condition costs no shared write per request: a `-n` budget is split between the
//! workers before they start (each stops at its own share, so the total is exact and never
//! overshoots), the deadline is an `Instant` every worker compares with its own clock, and
//! Ctrl-C is one `AtomicBool` that workers read (relaxed) once per loop turn. Under `--rate`
//! each worker paces its share with its own `Pacer`. Live progress comes from each worker's
//! own `Progress`, written once a second. The engine never prints.
//!
//! A sweep (`Sweeper`) starts the same workers once and sends each step to them as a
//! `StepOrder` on a channel; each worker answers with the step's statistics on another. Two
//! messages per worker per step, none per request: the hot path is the same as under `--rate`.

pub mod conn;
pub mod h2conn;
pub mod pacer;
pub mod source;
pub mod worker;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::config::{Config, Framing};
use crate::protocol::http::HttpFramer;
use crate::protocol::memcache::MemcacheFramer;
use crate::protocol::raw::RawFramer;
use crate::protocol::resp::RespFramer;
pub use crate::stats::Snapshot;
use crate::stats::WorkerStats;
use worker::{Progress, StepLink, StepOrder, WorkerPlan};

/// Runs the load `config` describes until its deadline, its request budget, or `stop`.
/// Returns the merged statistics of all workers.
pub fn run(config: &Config, stop: Arc<AtomicBool>) -> io::Result<WorkerStats> {
    start(config, stop)?.join()
}

/// A run under way: its workers, and what they publish once a second.
pub struct Running {
    handles: Vec<std::thread::JoinHandle<io::Result<WorkerStats>>>,
    progress: Vec<Arc<Progress>>,
    /// When measuring begins (after the warm-up).
    pub measure_from: Instant,
}

/// Starts the workers and returns at once.
pub fn start(config: &Config, stop: Arc<AtomicBool>) -> io::Result<Running> {
    spawn(config, stop, Vec::new())
}

/// Starts the workers; with `links` (one per worker), a sweep's, whose steps come as orders.
fn spawn(config: &Config, stop: Arc<AtomicBool>, mut links: Vec<StepLink>) -> io::Result<Running> {
    assert!(links.is_empty() || links.len() == config.threads, "one step link per worker");
    links.reverse();
    assert!(config.threads >= 1 && config.connections >= config.threads, "cli checks the thread count");
    check_open_files(config.connections)?;
    let cores = core_ids(config);
    let config = Arc::new(config.clone());
    let start = Instant::now();
    let measure_from = start + config.warmup.unwrap_or_default();
    let run_deadline = config.duration.map(|d| measure_from + d);
    let mut handles = Vec::with_capacity(config.threads);
    let mut progress = Vec::with_capacity(config.threads);
    for id in 0..config.threads {
        let connections = config.connections_of(id);
        let plan = WorkerPlan {
            id,
            n_connections: connections,
            n_requests: config.requests_of(id),
            core: (!cores.is_empty()).then(|| cores[id % cores.len()]),
            start,
            measure_from,
            run_deadline,
            // Each worker paces its share of the rate, by its share of the connections; the
            // workers' schedules are offset so that their requests interleave.
            rate: config.rate_per_s.map(|total| {
                let share = total * connections as f64 / config.connections as f64;
                (share, start + Duration::from_secs_f64(id as f64 / total))
            }),
            steps: links.pop(),
        };
        let config = Arc::clone(&config);
        let stop = Arc::clone(&stop);
        let published = Arc::new(Progress::default());
        progress.push(Arc::clone(&published));
        let core = plan.core;
        let handle = crate::net::spawn_pinned(format!("clobber-w{id}"), core, move || {
            spawn_worker(&config, plan, &stop, &published)
        })?;
        handles.push(handle);
    }
    Ok(Running { handles, progress, measure_from })
}

impl Running {
    pub fn is_finished(&self) -> bool {
        self.handles.iter().all(|h| h.is_finished())
    }

    /// What the workers have published so far.
    pub fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot { seconds: u64::MAX, ..Snapshot::default() };
        for p in &self.progress {
            s.seconds = s.seconds.min(p.seconds.load(Ordering::Acquire));
            s.requests += p.requests.load(Ordering::Relaxed);
            s.errors += p.errors.load(Ordering::Relaxed);
            s.last_second_requests += p.last_second_requests.load(Ordering::Relaxed);
            s.last_second_p99_us = s.last_second_p99_us.max(p.last_second_p99_us.load(Ordering::Relaxed));
            s.warming_up |= p.warming_up.load(Ordering::Relaxed);
        }
        if self.progress.is_empty() {
            s.seconds = 0;
        }
        s
    }

    /// Waits for every worker and merges what they measured.
    pub fn join(self) -> io::Result<WorkerStats> {
        let mut total = WorkerStats::new(self.measure_from);
        let mut first_error = None;
        for handle in self.handles {
            match handle.join() {
                Ok(Ok(stats)) => total += &stats,
                Ok(Err(e)) => first_error = first_error.or(Some(e)),
                Err(_) => first_error = first_error.or(Some(io::Error::other("a worker thread panicked"))),
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(total),
        }
    }
}

/// A sweep under way: the workers, connected once, run one step per `step` call.
pub struct Sweeper {
    running: Running,
    orders: Vec<mpsc::Sender<StepOrder>>,
    results: mpsc::Receiver<WorkerStats>,
    /// Each worker's share of the connections, and so of each step's rate.
    shares: Vec<f64>,
}

impl Sweeper {
    /// Starts the workers of `config` (whose `rate_per_s` must be set); they connect during the
    /// first step's warm-up.
    pub fn start(config: &Config, stop: Arc<AtomicBool>) -> io::Result<Sweeper> {
        assert!(config.rate_per_s.is_some(), "a sweep's workers are paced");
        let (results_tx, results) = mpsc::channel();
        let mut orders = Vec::with_capacity(config.threads);
        let mut links = Vec::with_capacity(config.threads);
        for _ in 0..config.threads {
            let (tx, rx) = mpsc::channel();
            orders.push(tx);
            links.push(StepLink { orders: rx, results: results_tx.clone() });
        }
        let shares =
            (0..config.threads).map(|id| config.connections_of(id) as f64 / config.connections as f64).collect();
        let running = spawn(config, stop, links)?;
        Ok(Sweeper { running, orders, results, shares })
    }

    /// Runs one step: `warmup` at `rate_per_s` (not recorded), then `duration` measured, on
    /// the connections the last step left open. Returns the workers' statistics merged, or
    /// the first worker's error. A Ctrl-C ends the step early (its statistics say how long it
    /// measured, or that it was stopped during the warm-up).
    pub fn step(&mut self, rate_per_s: f64, warmup: Duration, duration: Duration) -> io::Result<WorkerStats> {
        let start = Instant::now();
        let measure_from = start + warmup;
        let deadline = measure_from + duration;
        for (id, orders) in self.orders.iter().enumerate() {
            let order = StepOrder {
                rate_per_s: rate_per_s * self.shares[id],
                // Offset, as in a run, so that the workers' requests interleave.
                first_due: start + Duration::from_secs_f64(id as f64 / rate_per_s),
                measure_from,
                deadline,
            };
            if orders.send(order).is_err() {
                return Err(self.failure());
            }
        }
        let mut total = WorkerStats::new(measure_from);
        let mut answered = 0;
        while answered < self.orders.len() {
            match self.results.recv_timeout(Duration::from_millis(50)) {
                Ok(stats) => {
                    total += &stats;
                    answered += 1;
                }
                Err(mpsc::RecvTimeoutError::Timeout) if !self.running.handles.iter().any(|h| h.is_finished()) => {}
                // A worker ended in the middle of a step: it failed.
                Err(_) => return Err(self.failure()),
            }
        }
        Ok(total)
    }

    /// The error of the worker that ended before its time.
    fn failure(&mut self) -> io::Error {
        match self.end() {
            Err(e) => e,
            Ok(()) => io::Error::other("a worker ended in the middle of a sweep step"),
        }
    }

    /// Ends the sweep: the workers close their connections and end.
    pub fn finish(mut self) -> io::Result<()> {
        self.end()
    }

    /// Closes the order channels, which ends every worker, and joins them.
    fn end(&mut self) -> io::Result<()> {
        self.orders.clear();
        let handles = std::mem::take(&mut self.running.handles);
        let running = Running { handles, progress: Vec::new(), measure_from: self.running.measure_from };
        running.join().map(|_| ())
    }
}

fn spawn_worker(config: &Config, plan: WorkerPlan, stop: &AtomicBool, progress: &Progress) -> io::Result<WorkerStats> {
    // One monomorphized event loop per framing: no dynamic dispatch per response.
    match &config.framing {
        Framing::Raw(framing) => worker::run(config, plan, || RawFramer::new(framing.clone()), stop, progress),
        Framing::Http { head } => worker::run(config, plan, || HttpFramer::new(*head), stop, progress),
        Framing::Resp => worker::run(config, plan, RespFramer::new, stop, progress),
        Framing::Memcache => worker::run(config, plan, MemcacheFramer::new, stop, progress),
    }
}

/// Raises the open-file limit to its hard maximum and checks that `connections` fit, before
/// anything is opened: better a clear message now than a failure at the 1,025th socket.
pub fn check_open_files(connections: usize) -> io::Result<()> {
    // Sockets, plus the poll and pipe descriptors of each worker, stdio and a margin.
    let need = connections as u64 + 64;
    let allowed = crate::net::sys::raise_open_file_limit()?;
    if allowed < need {
        return Err(io::Error::other(format!(
            "-c {connections} needs about {need} open files, but this process may open at most {allowed} \
             (the hard limit, `ulimit -Hn`); raise it (limits.conf, systemd's LimitNOFILE, or `ulimit -n` \
             as root) or lower -c"
        )));
    }
    Ok(())
}

/// The cores to pin to, in worker order; empty when pinning is off or unavailable.
fn core_ids(config: &Config) -> Vec<core_affinity::CoreId> {
    if !config.pin {
        return Vec::new();
    }
    let all = core_affinity::get_core_ids().unwrap_or_default();
    match &config.cpus {
        Some(list) => all.into_iter().filter(|c| list.contains(&c.id)).collect(),
        None => all,
    }
}

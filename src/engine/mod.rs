//! The engine: spawns one pinned worker thread per `-t`, gives each its connections and its
//! share of the request budget, joins them and merges what they measured.
//!
//! The stop condition costs no shared write per request: a `-n` budget is split between the
//! workers before they start (each stops at its own share, so the total is exact and never
//! overshoots), the deadline is an `Instant` every worker compares with its own clock, and
//! Ctrl-C is one `AtomicBool` that workers read (relaxed) once per loop turn. Under `--rate`
//! each worker paces its share with its own `Pacer`. Live progress comes from each worker's
//! own `Progress`, written once a second. The engine never prints.

pub mod conn;
pub mod h2conn;
pub mod pacer;
pub mod worker;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, Framing};
use crate::protocol::http::HttpFramer;
use crate::protocol::memcache::MemcacheFramer;
use crate::protocol::raw::RawFramer;
use crate::protocol::resp::RespFramer;
pub use crate::stats::Snapshot;
use crate::stats::WorkerStats;
use worker::{Progress, WorkerPlan};

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

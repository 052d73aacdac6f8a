//! The engine: spawns one pinned worker thread per `-t`, gives each its connections and its
//! share of the request budget, joins them and merges what they measured.
//!
//! The stop condition costs no shared write per request: a `-n` budget is split between the
//! workers before they start (each stops at its own share, so the total is exact and never
//! overshoots), the deadline is an `Instant` every worker compares with its own clock, and
//! Ctrl-C is one `AtomicBool` that workers read (relaxed) once per loop turn. The engine never
//! prints.

pub mod conn;
pub mod socket;
pub mod worker;

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use crate::config::{Config, Framing};
use crate::protocol::http::HttpFramer;
use crate::protocol::raw::RawFramer;
use crate::stats::WorkerStats;
use worker::WorkerPlan;

/// Runs the load `config` describes until its deadline, its request budget, or `stop`.
/// Returns the merged statistics of all workers.
pub fn run(config: &Config, stop: Arc<AtomicBool>) -> io::Result<WorkerStats> {
    assert!(config.threads >= 1 && config.connections >= config.threads, "cli checks the thread count");
    let cores = core_ids(config);
    let config = Arc::new(config.clone());
    let start = Instant::now();
    let deadline = config.duration.map(|d| start + d);
    let mut handles = Vec::with_capacity(config.threads);
    for id in 0..config.threads {
        let plan = WorkerPlan {
            id,
            connections: config.connections_of(id),
            requests: config.requests_of(id),
            core: (!cores.is_empty()).then(|| cores[id % cores.len()]),
            start,
            deadline,
        };
        let config = Arc::clone(&config);
        let stop = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name(format!("clobber-w{id}"))
            .spawn(move || spawn_worker(&config, plan, &stop))?;
        handles.push(handle);
    }
    let mut total = WorkerStats::new();
    let mut first_error = None;
    for handle in handles {
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

fn spawn_worker(config: &Config, plan: WorkerPlan, stop: &AtomicBool) -> io::Result<WorkerStats> {
    // One monomorphized event loop per framing: no dynamic dispatch per response.
    match &config.framing {
        Framing::Raw(framing) => worker::run(config, plan, || RawFramer::new(framing.clone()), stop),
        Framing::Http { head } => worker::run(config, plan, || HttpFramer::new(*head), stop),
    }
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

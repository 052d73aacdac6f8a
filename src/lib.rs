//! clobber: a TCP load generator built on a hand-rolled mio event loop, one pinned worker per
//! core, with as few client CPU cycles per request as the kernel allows.
//!
//! Crate map (dependencies point one way: `cli -> config <- engine -> protocol`,
//! `engine -> stats <- report`):
//! - [`cli`]: the command line, parsed with lexopt into a validated [`config::Config`].
//! - [`config`]: what a run or the built-in server is asked to do.
//! - [`engine`]: worker threads, their event loops and the connection state machine.
//! - [`protocol`]: sans-IO response framing.
//! - [`stats`]: per-worker counters and latency histograms, merged with `+=`.
//! - [`report`]: the text and JSON reports, and the live progress line.
//! - [`merge`]: one report from several runs' JSON reports.
//! - [`server`]: the built-in target server (`clobber serve`).
#![deny(unsafe_code)]

pub mod cli;
pub mod config;
pub mod engine;
pub mod html;
pub mod merge;
pub mod protocol;
pub mod report;
pub mod server;
pub mod stats;
pub mod tls;

//! clobber: a TCP and HTTP load generator built on a hand-rolled mio event loop, one pinned
//! worker per core, with as few client CPU cycles per request as the kernel allows.
//!
//! Layers, bottom up; each module imports only from the layers below it (ARCHITECTURE.md
//! lists the allowed edges, and `tests/it/tidy.rs` fails on any other):
//! - leaves: [`protocol`] (sans-IO framing), [`error`] (what can go wrong), [`units`] (numbers
//!   for people), and [`VERSION`];
//! - data: [`config`] (what to run, plain data) and [`stats`] (what a worker measured);
//! - [`net`]: the `Transport` trait, TCP and TLS, socket set-up, the few libc calls;
//! - [`engine`] (the client) and [`server`] (`clobber serve`), both on `net` and `protocol`;
//! - [`report`]: text, JSON, merge and HTML, from `Report` values;
//! - [`sweep`]: `clobber sweep`'s steps on the engine, judged by `report::sweep`;
//! - [`cli`]: the command line to `Options`, pure; [`setup`]: `Options` to a `Config` or a
//!   `ServeConfig`, the one place that looks things up (names, files, roots, cores).
#![deny(unsafe_code)]

/// clobber's version, as Cargo.toml gives it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod net;
pub mod profile;
pub mod protocol;
pub mod report;
pub mod server;
pub mod setup;
pub mod stats;
pub mod sweep;
pub mod units;

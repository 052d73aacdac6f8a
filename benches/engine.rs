//! The engine's per-request work without a socket: recording a latency in the histogram, and
//! one full keep-alive step of the connection state machine (response read and framed, latency
//! recorded, next request written) over an in-memory transport.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use clobber::engine::conn::{Budget, Conn, Ctx, Outcome, RequestPlan};
use clobber::net::{Ready, Transport};
use clobber::protocol::http::HttpFramer;
use clobber::stats::WorkerStats;

/// A socket that always has `response` to read (once per readable event) and takes any write.
struct Canned {
    response: &'static [u8],
    pending: bool,
}

impl Read for Canned {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.pending {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.pending = false;
        buf[..self.response.len()].copy_from_slice(self.response);
        Ok(self.response.len())
    }
}

impl Write for Canned {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending = true;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Canned {
    fn connect_result(&mut self) -> io::Result<bool> {
        Ok(true)
    }
}

fn histogram(c: &mut Criterion) {
    let mut group = c.benchmark_group("stats");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("record/1000-latencies", |b| {
        let now = Instant::now();
        let mut stats = WorkerStats::new(now);
        b.iter(|| {
            for us in 0..1000u64 {
                stats.record_response(now, Duration::from_micros(black_box(us * 37 % 5000)), None);
            }
        })
    });
    group.finish();
}

fn state_machine(c: &mut Criterion) {
    let response: &'static [u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Type: text/plain\r\n\r\nhello\n";
    let plan = RequestPlan::new(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n", 1, false);
    let mut stats = WorkerStats::new(Instant::now());
    let mut budget = Budget::new(None);
    let mut scratch = vec![0u8; 64 * 1024];
    let mut conn: Conn<Canned, HttpFramer> = Conn::new(HttpFramer::new(false), 1);
    let now = Instant::now();
    let opened = conn.open(Canned { response, pending: false }, 0, now, Duration::from_secs(5));
    assert_eq!(opened, Outcome::Connecting);
    let mut ctx = Ctx { now, scratch: &mut scratch, stats: &mut stats, budget: &mut budget, plan: &plan, source: None };
    let connected = conn.on_event(Ready { readable: false, writable: true, read_closed: false }, &mut ctx);
    assert_eq!(connected, Outcome::Connected);
    assert_eq!(conn.on_connected(&mut ctx), Outcome::Pending, "the first request is written");
    let mut group = c.benchmark_group("conn");
    group.throughput(Throughput::Elements(1));
    group.bench_function("keep-alive-step/http", |b| {
        b.iter(|| {
            let mut ctx =
                Ctx { now, scratch: &mut scratch, stats: &mut stats, budget: &mut budget, plan: &plan, source: None };
            conn.on_event(Ready { readable: true, writable: false, read_closed: false }, &mut ctx)
        })
    });
    group.finish();
    assert!(stats.requests > 0 && stats.errors_total() == 0, "the bench loop completed responses");
}

criterion_group!(benches, histogram, state_machine);
criterion_main!(benches);

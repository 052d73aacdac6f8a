//! Response framing throughput per raw mode, on named inputs: a regression shows up as fewer
//! bytes per second. End-to-end speed is `scripts/bench-self.sh`, not a criterion bench.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use clobber::protocol::raw::{Delimiter, RawFramer, RawFraming};
use clobber::protocol::{Feed, Framer};

/// Frames `input` completely, returning the number of responses.
fn frame_all(framer: &mut RawFramer, input: &[u8]) -> usize {
    let mut n = 0;
    let mut rest = input;
    while !rest.is_empty() {
        let (used, feed) = framer.feed(rest);
        rest = &rest[used..];
        if let Feed::Complete(_) = feed {
            n += 1;
        }
    }
    n
}

fn raw_framing(c: &mut Criterion) {
    let pong16 = b"pong\n".repeat(16);
    let lines_16k = {
        let mut v = vec![b'x'; 16 * 1024 - 2];
        v.extend_from_slice(b"\r\n");
        v
    };
    let cases: Vec<(&str, RawFraming, &[u8])> = vec![
        ("until-newline/16x5B", RawFraming::Until(Delimiter::new(b"\n")), &pong16),
        ("until-crlf/16KiB", RawFraming::Until(Delimiter::new(b"\r\n")), &lines_16k),
        ("exact-5/16x5B", RawFraming::Exact(5), &pong16),
        ("exact-16KiB/16KiB", RawFraming::Exact(16 * 1024), &lines_16k),
    ];
    let mut group = c.benchmark_group("raw-framing");
    for (name, framing, input) in cases {
        group.throughput(Throughput::Bytes(input.len() as u64));
        let mut framer = RawFramer::new(framing);
        group.bench_with_input(BenchmarkId::from_parameter(name), input, |b, input| {
            b.iter(|| frame_all(&mut framer, black_box(input)))
        });
    }
    group.finish();
}

criterion_group!(benches, raw_framing);
criterion_main!(benches);

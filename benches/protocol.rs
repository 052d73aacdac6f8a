//! Sans-IO protocol code on named inputs, with throughput, so a regression shows up as fewer
//! bytes or items per second: raw framing per mode, HTTP head parsing (a fresh head and a
//! repeated one, which the framer's memo answers), chunked decoding, request framing (what
//! `clobber serve` does per request), request building, HTTP/2 (HPACK decoding of typical
//! response header blocks and splitting a read's worth of frames), and reply framing (`--frame
//! resp` and `--frame memcache`) on the replies of the commands the tests and compare.sh send.
//! End-to-end speed is `scripts/compare.sh`, not a criterion bench.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use clobber::protocol::h2::frame::{self, DEFAULT_MAX_FRAME_SIZE, HEADER_LEN};
use clobber::protocol::h2::hpack::{self, Decoder};
use clobber::protocol::http::{build_request, parse_url, HttpFramer, RequestFramer, RequestSpec};
use clobber::protocol::memcache::MemcacheFramer;
use clobber::protocol::raw::{Delimiter, RawFramer, RawFraming};
use clobber::protocol::resp::RespFramer;
use clobber::protocol::template::{put_digits, Rng, Template, TemplateSet, Vars, Widths};
use clobber::protocol::{Feed, Framer};

/// Frames `input` completely, returning the number of responses.
fn frame_all<F: Framer>(framer: &mut F, input: &[u8]) -> usize {
    let mut n = 0;
    let mut rest = input;
    while !rest.is_empty() {
        let (used, feed) = framer.feed(rest);
        rest = &rest[used..];
        match feed {
            Feed::Complete(_) => n += 1,
            Feed::NeedMore if used == 0 => break,
            Feed::NeedMore => {}
            Feed::Error(e) => panic!("bench input rejected: {e:?}"),
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

const NGINX_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Fri, 27 Nov 2026 18:00:00 GMT\r\n\
Content-Type: application/octet-stream\r\nContent-Length: 6\r\nConnection: keep-alive\r\n\r\nhello\n";

fn http_framing(c: &mut Criterion) {
    let mut group = c.benchmark_group("http-framing");
    // The same head 16 times: the memo answers all but the first.
    let repeated = NGINX_HEAD.repeat(16);
    group.throughput(Throughput::Elements(16));
    group.bench_function("nginx-head/repeated-x16", |b| {
        let mut framer = HttpFramer::new(false);
        b.iter(|| frame_all(&mut framer, black_box(&repeated)))
    });
    // Heads that differ (the Date changes): every one is parsed by httparse.
    let mut varied = Vec::new();
    for i in 0..16 {
        varied.extend_from_slice(&NGINX_HEAD[..70]);
        varied.extend_from_slice(format!("{:02}", i).as_bytes());
        varied.extend_from_slice(&NGINX_HEAD[72..]);
    }
    group.bench_function("nginx-head/parsed-x16", |b| {
        b.iter(|| {
            let mut framer = HttpFramer::new(false);
            frame_all(&mut framer, black_box(&varied))
        })
    });
    let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..64 {
        chunked.extend_from_slice(b"100;ext=1\r\n");
        chunked.extend_from_slice(&[b'c'; 256]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\nTrailer: x\r\n\r\n");
    group.throughput(Throughput::Bytes(chunked.len() as u64));
    group.bench_function("chunked/64x256B", |b| {
        let mut framer = HttpFramer::new(false);
        b.iter(|| frame_all(&mut framer, black_box(&chunked)))
    });
    group.finish();
}

/// A request as curl sends it: the head `clobber serve` sees from most clients.
const CURL_GET: &[u8] =
    b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";

fn request_framing(c: &mut Criterion) {
    let mut group = c.benchmark_group("request-framing");
    group.throughput(Throughput::Elements(16));
    // The same head 16 times, as a load generator sends it: the memo answers all but the first.
    let repeated = CURL_GET.repeat(16);
    group.bench_function("curl-get/repeated-x16", |b| {
        let mut framer = RequestFramer::new();
        b.iter(|| frame_all(&mut framer, black_box(&repeated)))
    });
    // Heads that differ in the path only, as `--targets` sends them: the memo answers for a
    // head with another target of the same length (`other-target`); `parsed` has every one
    // parsed by httparse (a framer without the memo).
    let mut varied = Vec::new();
    for i in 0..16 {
        varied.extend_from_slice(&CURL_GET[..11]);
        varied.extend_from_slice(format!("{:02}", i).as_bytes());
        varied.extend_from_slice(&CURL_GET[13..]);
    }
    group.bench_function("curl-get/other-target-x16", |b| {
        let mut framer = RequestFramer::new();
        b.iter(|| frame_all(&mut framer, black_box(&varied)))
    });
    group.bench_function("curl-get/parsed-x16", |b| {
        let mut framer = RequestFramer::parsing_every_head();
        b.iter(|| frame_all(&mut framer, black_box(&varied)))
    });
    let post = b"POST /api HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
        .repeat(16);
    group.bench_function("post-json/repeated-x16", |b| {
        let mut framer = RequestFramer::new();
        b.iter(|| frame_all(&mut framer, black_box(&post)))
    });
    let mut chunked = b"POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..64 {
        chunked.extend_from_slice(b"100\r\n");
        chunked.extend_from_slice(&[b'c'; 256]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    group.throughput(Throughput::Bytes(chunked.len() as u64));
    group.bench_function("chunked-post/64x256B", |b| {
        let mut framer = RequestFramer::new();
        b.iter(|| frame_all(&mut framer, black_box(&chunked)))
    });
    group.finish();
}

/// Requests that vary, as a worker makes them: a batch of 16 from a 1,000-entry list with a
/// `{{rand}}` in each path (bench-targets.sh's list), filled where the list keeps them
/// (`fill-run`, round robin) or copied and filled (`write-run`, a batch that wraps, and what
/// round robin did before), and one `{{seq}}` request's 12 digits.
fn templates(c: &mut Criterion) {
    let widths = Widths::of_run(1, 50);
    let entries: Vec<Template> = (1..=1000)
        .map(|k| {
            let text = format!("GET /?k={k:04}&r={{{{rand:1-1000000}}}} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
            Template::compile(text.as_bytes(), widths).unwrap()
        })
        .collect();
    let mut set = TemplateSet::new(&entries);
    let vars = Vars { seq: 0, worker: 0, conn: 7 };
    let mut group = c.benchmark_group("templates");
    group.throughput(Throughput::Elements(16));
    let (mut rng, mut first) = (Rng::new(1), 0);
    group.bench_function("fill-run/1000-entries-x16", |b| {
        b.iter(|| {
            first = if first + 32 > set.len() { 0 } else { first + 16 };
            set.fill_run(black_box(first), 16, vars, 1, &mut rng).map(|range| set.bytes(range)[0])
        })
    });
    let mut out = Vec::with_capacity(16 * set.len_max());
    group.bench_function("write-run/1000-entries-x16", |b| {
        b.iter(|| {
            first = if first + 32 > set.len() { 0 } else { first + 16 };
            out.clear();
            set.write_run_into(black_box(first), 16, &mut out, vars, 1, &mut rng);
            out[0]
        })
    });
    group.throughput(Throughput::Elements(1));
    let mut slot = [0u8; 12];
    let mut n = 0u64;
    group.bench_function("put-digits/12", |b| {
        b.iter(|| {
            n = n.wrapping_add(0x9E37_79B9);
            put_digits(black_box(&mut slot), n);
            slot[0]
        })
    });
    group.finish();
}

fn request_building(c: &mut Criterion) {
    let spec = RequestSpec {
        method: "POST".to_string(),
        url: parse_url("http://127.0.0.1:8080/api/v1/items?limit=10").unwrap(),
        headers: vec![("Content-Type".into(), "application/json".into()), ("X-Trace".into(), "abc".into())],
        body: br#"{"a":1}"#.to_vec(),
        close: false,
    };
    let mut group = c.benchmark_group("request");
    group.throughput(Throughput::Elements(1));
    group.bench_function("build/post-json", |b| b.iter(|| build_request(black_box(&spec))));
    group.finish();
}

fn reply_framing(c: &mut Criterion) {
    let lrange: Vec<u8> = {
        let mut v = b"*100\r\n".to_vec();
        for i in 1..=100 {
            v.extend_from_slice(format!("${}\r\n{i}\r\n", i.to_string().len()).as_bytes());
        }
        v
    };
    let resp_cases: Vec<(&str, Vec<u8>)> = vec![
        ("get-hit/16x", b"$5\r\nhello\r\n".repeat(16)),
        ("get-miss/16x", b"$-1\r\n".repeat(16)),
        ("lrange-100/1x", lrange),
        ("get-4KiB/1x", [b"$4096\r\n".as_slice(), &[b'x'; 4096], b"\r\n"].concat()),
    ];
    let mut group = c.benchmark_group("resp-framing");
    for (name, input) in &resp_cases {
        group.throughput(Throughput::Bytes(input.len() as u64));
        let mut framer = RespFramer::new();
        group.bench_with_input(BenchmarkId::from_parameter(name), input, |b, input| {
            b.iter(|| frame_all(&mut framer, black_box(input)))
        });
    }
    group.finish();
    let memcache_cases: Vec<(&str, Vec<u8>)> = vec![
        ("get-hit/16x", b"VALUE key:000001 0 5\r\nhello\r\nEND\r\n".repeat(16)),
        ("get-miss/16x", b"END\r\n".repeat(16)),
        ("set/16x", b"STORED\r\n".repeat(16)),
    ];
    let mut group = c.benchmark_group("memcache-framing");
    for (name, input) in &memcache_cases {
        group.throughput(Throughput::Bytes(input.len() as u64));
        let mut framer = MemcacheFramer::new();
        group.bench_with_input(BenchmarkId::from_parameter(name), input, |b, input| {
            b.iter(|| frame_all(&mut framer, black_box(input)))
        });
    }
    group.finish();
}

/// nginx-like response header blocks from an HPACK encoder that Huffman-codes and indexes
/// everything (Python's `hpack`): the first response of a connection (every field a Huffman
/// literal added to the table), a later one where only the date changed (a new literal, the
/// rest indexed), and a repeat of that (all indexed: what most responses cost).
const NGINX_FIRST: &str = "887689aa6355e580ae212e1f6196dc34fd282794d27eea0802714102e001700053168dff5f901d75d0620d263d\
4c1c892a56426c28e95c81736c96c361be9413aa693f75040138a05eb8005c0014c5a37f628afe5c6dc6a310c0b39fcf52848fd24a8f";
const NGINX_NEW_DATE: &str = "88c46196dc34fd282794d27eea0802714102e001700153168dffc3c2c1c0bf";
const NGINX_INDEXED: &str = "88c5bec3c2c1c0bf";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn decode_all(d: &mut Decoder, block: &[u8]) -> usize {
    let mut n = 0;
    d.decode(block, &mut |name, value| n += name.len() + value.len()).expect("bench block decodes");
    n
}

fn h2(c: &mut Criterion) {
    let (first, new_date, indexed) = (unhex(NGINX_FIRST), unhex(NGINX_NEW_DATE), unhex(NGINX_INDEXED));
    let mut group = c.benchmark_group("hpack-decode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("nginx-response/first-huffman", |b| {
        b.iter(|| decode_all(&mut Decoder::new(4096), black_box(&first)))
    });
    let primed = || {
        let mut d = Decoder::new(4096);
        decode_all(&mut d, &first);
        d
    };
    group.bench_function("nginx-response/new-date", |b| {
        let mut d = primed();
        b.iter(|| decode_all(&mut d, black_box(&new_date)))
    });
    group.bench_function("nginx-response/all-indexed", |b| {
        let mut d = primed();
        decode_all(&mut d, &new_date);
        b.iter(|| decode_all(&mut d, black_box(&indexed)))
    });
    // What `clobber serve --mode h2` decodes per request from clobber: static indices and plain
    // literals.
    let mut request = Vec::new();
    let fields: [(&[u8], &[u8]); 5] = [
        (b":method", b"GET"),
        (b":scheme", b"http"),
        (b":path", b"/"),
        (b":authority", b"127.0.0.1:8080"),
        (b"user-agent", b"clobber/0.1.0"),
    ];
    hpack::encode(&fields, &mut request);
    group.bench_function("clobber-request/static-literals", |b| {
        let mut d = Decoder::new(4096);
        b.iter(|| decode_all(&mut d, black_box(&request)))
    });
    group.finish();

    // A read's worth of frames: 16 responses of HEADERS + 6-byte DATA.
    let mut frames = Vec::new();
    for i in 0..16 {
        frame::write_headers(&mut frames, 2 * i + 1, false, &indexed, DEFAULT_MAX_FRAME_SIZE);
        frame::write_data(&mut frames, 2 * i + 1, b"hello\n", true, DEFAULT_MAX_FRAME_SIZE);
    }
    let mut group = c.benchmark_group("h2-frames");
    group.throughput(Throughput::Elements(32));
    group.bench_function("split-content/16x(headers+data)", |b| {
        b.iter(|| {
            let mut rest = black_box(&frames[..]);
            let mut n = 0;
            while let Ok(Some((h, payload))) = frame::split(rest, DEFAULT_MAX_FRAME_SIZE) {
                n += frame::content(&h, payload).map_or(0, |c| c.len());
                rest = &rest[HEADER_LEN + payload.len()..];
            }
            n
        })
    });
    group.finish();
}

criterion_group!(benches, raw_framing, http_framing, request_framing, templates, request_building, h2, reply_framing);
criterion_main!(benches);

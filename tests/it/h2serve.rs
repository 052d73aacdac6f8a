//! `clobber serve --mode h2` against h2load (Debian's nghttp2-client), h2c and TLS: h2load's
//! succeeded count must equal both the requests asked for and the server's count, and its
//! connections the server's. h2load encodes its requests with HPACK's dynamic table and
//! Huffman, so these runs also check the server's decoder against another implementation.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clobber::config::ServeMode;
use clobber::net::tls::self_signed;
use clobber::protocol::h2::frame::{self, code, kind, PREFACE};

use crate::support::serve_with;

fn h2load_binary() -> &'static str {
    for path in ["/usr/bin/h2load", "/usr/local/bin/h2load"] {
        if std::path::Path::new(path).exists() {
            return path;
        }
    }
    panic!("h2load is not installed: these tests need it (apt-get install nghttp2-client, or run scripts/test.sh)");
}

/// What h2load reported.
#[derive(Debug, PartialEq, Eq)]
struct H2load {
    succeeded: u64,
    failed: u64,
    errored: u64,
    status_2xx: u64,
    protocol: Option<String>,
}

/// Runs h2load with `args` against `url`, killed if it takes more than 60 s.
fn h2load(url: &str, args: &[&str]) -> H2load {
    let mut child = Command::new(h2load_binary())
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("h2load starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("h2load {args:?} {url} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    // "requests: 100 total, 100 started, 100 done, 100 succeeded, 0 failed, 0 errored, 0 timeout"
    let field = |line: &str, name: &str| -> u64 {
        let line = out.lines().find(|l| l.starts_with(line)).unwrap_or_else(|| panic!("no '{line}' in {out}"));
        let words: Vec<&str> = line.split([',', ':']).map(str::trim).collect();
        let w = words.iter().find(|w| w.ends_with(name)).unwrap_or_else(|| panic!("no {name} in {line}"));
        w.split_whitespace().next().unwrap().parse().unwrap()
    };
    H2load {
        succeeded: field("requests:", "succeeded"),
        failed: field("requests:", "failed"),
        errored: field("requests:", "errored"),
        status_2xx: field("status codes:", "2xx"),
        protocol: out.lines().find_map(|l| l.strip_prefix("Application protocol: ")).map(str::to_string),
    }
}

fn check(tls: bool, threads: usize, n: u64, clients: u64, args: &[&str]) {
    let identity = tls.then(self_signed);
    let server = serve_with(ServeMode::H2, |c| {
        c.tls = identity;
        c.threads = threads;
    });
    let scheme = if tls { "https" } else { "http" };
    let url = format!("{scheme}://127.0.0.1:{}/", server.local_addr().port());
    let (n_text, c_text) = (n.to_string(), clients.to_string());
    let mut words = vec!["-n", &n_text, "-c", &c_text];
    words.extend_from_slice(args);
    let report = h2load(&url, &words);
    let counts = server.stop().unwrap();
    assert_eq!(
        (report.succeeded, report.status_2xx, report.failed, report.errored),
        (n, n, 0, 0),
        "{url} {words:?}: {report:?}"
    );
    assert_eq!((counts.requests, counts.connections), (n, clients), "{url} {words:?}");
    if tls {
        assert_eq!(report.protocol.as_deref(), Some("h2"), "ALPN");
    }
}

#[test]
fn h2load_h2c_counts_match() {
    check(false, 1, 20_000, 10, &["-m", "10"]);
    check(false, 2, 3_000, 4, &["-m", "1"]);
    check(false, 1, 5_000, 2, &["-m", "100"]);
}

#[test]
fn h2load_tls_counts_match() {
    check(true, 1, 10_000, 4, &["-m", "16"]);
    check(true, 2, 2_000, 3, &["-m", "1"]);
}

#[test]
fn h2load_request_bodies_keep_flowing() {
    // 300 KiB per request: past the default 64 KiB windows, so the server's WINDOW_UPDATEs
    // (and its 2^31-1 initial window) are what keeps the uploads going.
    let path = std::env::temp_dir().join(format!("clobber-h2-body-{}", std::process::id()));
    std::fs::write(&path, vec![b'b'; 300 * 1024]).unwrap();
    let body = path.display().to_string();
    check(false, 1, 400, 2, &["-m", "8", "-d", &body]);
    check(true, 1, 100, 2, &["-m", "4", "-d", &body, "-w", "16", "-W", "16"]);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn h2_mode_refuses_http1_with_goaway_and_counts_nothing() {
    let server = serve_with(ServeMode::H2, |_| {});
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    let (h, payload) = frame::split(&got, frame::DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
    assert_eq!((h.kind, frame::parse_goaway(payload)), (kind::GOAWAY, Ok((0, code::PROTOCOL_ERROR))));
    let counts = server.stop().unwrap();
    assert_eq!((counts.requests, counts.connections), (0, 1));
}

#[test]
fn h2_mode_answers_a_hand_written_client() {
    let server = serve_with(ServeMode::H2, |_| {});
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = PREFACE.to_vec();
    frame::write_settings(&mut out, &[]);
    let mut block = Vec::new();
    clobber::protocol::h2::hpack::encode(
        &[(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"x")],
        &mut block,
    );
    frame::write_headers(&mut out, 1, true, &block, 16_384);
    frame::write_ping(&mut out, false, *b"roundtrp");
    frame::write_goaway(&mut out, 0, code::NO_ERROR);
    stream.write_all(&out).unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    let mut seen = Vec::new();
    let mut rest = &got[..];
    while let Some((h, payload)) = frame::split(rest, frame::DEFAULT_MAX_FRAME_SIZE).unwrap() {
        seen.push((h.kind, h.stream_id, payload.to_vec()));
        rest = &rest[frame::HEADER_LEN + payload.len()..];
    }
    let kinds: Vec<(u8, u32)> = seen.iter().map(|(k, id, _)| (*k, *id)).collect();
    assert_eq!(
        kinds,
        [
            (kind::SETTINGS, 0),
            (kind::WINDOW_UPDATE, 0),
            (kind::SETTINGS, 0),
            (kind::HEADERS, 1),
            (kind::DATA, 1),
            (kind::PING, 0)
        ]
    );
    assert_eq!((&seen[4].2[..], &seen[5].2[..]), (&b"hello\n"[..], &b"roundtrp"[..]));
    let counts = server.stop().unwrap();
    assert_eq!((counts.requests, counts.connections), (1, 1));
}

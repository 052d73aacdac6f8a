//! Misbehaving servers: every run ends on time, counts the right kind of error, does not panic,
//! and still counts the correct responses that other connections get.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clobber::stats::{ErrorKind, WorkerStats};

use crate::support::run;

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n";

/// What a faulty connection does (every other connection behaves).
#[derive(Clone, Copy, Debug)]
enum Fault {
    NeverRead,
    ReadNeverAnswer,
    OneBytePer100ms,
    CloseHalfway,
    ResetMidResponse,
    Garbage,
    HugeHead,
    EndlessChunked,
    CloseAtOnce,
    /// Answers every request with a 500 (well-formed: an error only under --expect-status).
    Answers500,
}

struct FaultServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl FaultServer {
    fn start(fault: Fault) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let s = stop.clone();
        thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let n = accepted.fetch_add(1, Ordering::Relaxed);
                        let s = s.clone();
                        thread::spawn(move || {
                            let _ = if n % 2 == 0 { good(stream, &s) } else { bad(stream, fault, &s) };
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        FaultServer { addr, stop }
    }
}

/// Reads one request head; false at EOF or when stopped.
fn read_request(stream: &mut TcpStream, stop: &AtomicBool) -> std::io::Result<bool> {
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        match stream.read(&mut buf) {
            Ok(0) => return Ok(false),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn good(mut stream: TcpStream, stop: &AtomicBool) -> std::io::Result<()> {
    while read_request(&mut stream, stop)? {
        stream.write_all(OK)?;
    }
    Ok(())
}

fn hold(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        thread::sleep(Duration::from_millis(20));
    }
}

fn bad(mut stream: TcpStream, fault: Fault, stop: &AtomicBool) -> std::io::Result<()> {
    match fault {
        Fault::NeverRead => hold(stop),
        Fault::ReadNeverAnswer => {
            read_request(&mut stream, stop)?;
            hold(stop);
        }
        Fault::OneBytePer100ms => {
            while read_request(&mut stream, stop)? {
                for b in OK {
                    stream.write_all(&[*b])?;
                    thread::sleep(Duration::from_millis(100));
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                }
            }
        }
        Fault::CloseHalfway => {
            read_request(&mut stream, stop)?;
            stream.write_all(&OK[..OK.len() / 2])?;
        }
        Fault::ResetMidResponse => {
            read_request(&mut stream, stop)?;
            stream.write_all(&OK[..OK.len() / 2])?;
            thread::sleep(Duration::from_millis(5));
            socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
        }
        Fault::Garbage => {
            read_request(&mut stream, stop)?;
            stream.write_all(b"garbage, not HTTP at all\r\n\r\n")?;
            hold(stop);
        }
        Fault::HugeHead => {
            read_request(&mut stream, stop)?;
            stream.write_all(b"HTTP/1.1 200 OK\r\nX-Huge: ")?;
            let chunk = vec![b'a'; 64 * 1024];
            for _ in 0..16 {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
            hold(stop);
        }
        Fault::EndlessChunked => {
            read_request(&mut stream, stop)?;
            stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")?;
            while !stop.load(Ordering::Relaxed) {
                stream.write_all(b"1\r\nx\r\n")?;
                thread::sleep(Duration::from_millis(10));
            }
        }
        Fault::CloseAtOnce => {}
        Fault::Answers500 => {
            while read_request(&mut stream, stop)? {
                stream.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")?;
            }
        }
    }
    Ok(())
}

/// A 2-second run with 1-second timeouts against a server with `fault`.
fn against(fault: Fault) -> WorkerStats {
    let server = FaultServer::start(fault);
    let words = [
        format!("http://{}/", server.addr),
        "--no-pin".into(),
        "-d".into(),
        "2s".into(),
        "-c".into(),
        "4".into(),
        "-t".into(),
        "1".into(),
        "--timeout".into(),
        "1s".into(),
        "--connect-timeout".into(),
        "1s".into(),
    ];
    let config = match clobber::setup::parse_and_set_up(words) {
        Ok(clobber::setup::Command::Run(c)) => c,
        other => panic!("{other:?}"),
    };
    let started = Instant::now();
    let stats = run(&config);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(3000), "{fault:?}: the run took {took:?}");
    assert!(stats.requests > 0, "{fault:?}: the behaving connections' responses were not counted");
    assert_eq!(stats.status[200], stats.requests, "{fault:?}");
    stats
}

fn assert_kind(fault: Fault, kinds: &[ErrorKind]) {
    let stats = against(fault);
    let counted: u64 = kinds.iter().map(|&k| stats.error_count(k)).sum();
    assert!(counted > 0, "{fault:?}: no error of kind {kinds:?}: {:?}", stats.errors);
    assert_eq!(counted, stats.errors_total(), "{fault:?}: other kinds too: {:?} {:?}", stats.errors, stats.first_error);
}

#[test]
fn accepts_and_never_reads() {
    assert_kind(Fault::NeverRead, &[ErrorKind::Timeout]);
}

#[test]
fn reads_and_never_answers() {
    assert_kind(Fault::ReadNeverAnswer, &[ErrorKind::Timeout]);
}

#[test]
fn answers_one_byte_per_100ms() {
    assert_kind(Fault::OneBytePer100ms, &[ErrorKind::Timeout]);
}

#[test]
fn closes_halfway_through_a_response() {
    assert_kind(Fault::CloseHalfway, &[ErrorKind::Protocol]);
}

#[test]
fn resets_mid_response() {
    assert_kind(Fault::ResetMidResponse, &[ErrorKind::Reset]);
}

#[test]
fn sends_garbage() {
    assert_kind(Fault::Garbage, &[ErrorKind::Protocol]);
}

#[test]
fn sends_a_head_of_a_mebibyte() {
    let stats = against(Fault::HugeHead);
    assert!(stats.error_count(ErrorKind::Protocol) > 0, "{:?}", stats.errors);
    assert_eq!(
        stats.first_error[ErrorKind::Protocol as usize].as_deref(),
        Some(clobber::protocol::ProtocolError::HeadTooLarge.describe())
    );
}

#[test]
fn sends_a_chunked_body_that_never_ends() {
    assert_kind(Fault::EndlessChunked, &[ErrorKind::Timeout]);
}

#[test]
fn accepts_then_closes_at_once() {
    assert_kind(Fault::CloseAtOnce, &[ErrorKind::Eof, ErrorKind::Reset]);
}

#[test]
fn server_killed_in_the_middle_of_the_run() {
    let bin = env!("CARGO_BIN_EXE_clobber");
    let mut server = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--mode", "http"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().unwrap()), &mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on ").unwrap().to_string();
    let client = Command::new(bin)
        .args([&format!("http://{addr}/"), "--no-pin", "-d", "2s", "-c", "4", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(700));
    server.kill().unwrap();
    server.wait().unwrap();
    let started = Instant::now();
    let out = client.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(out.status.code(), Some(0), "requests completed before the kill");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["requests"].as_u64().unwrap() > 0);
    let by_kind = &report["errors_by_kind"];
    assert!(by_kind["connect_refused"].as_u64().unwrap() > 0, "{by_kind}");
}

#[test]
fn fail_on_error_makes_any_error_exit_1() {
    let server = FaultServer::start(Fault::ResetMidResponse);
    let url = format!("http://{}/", server.addr);
    let args = [url.as_str(), "--no-pin", "-d", "1s", "-c", "4", "-t", "1", "--json"];
    let guard = Duration::from_secs(20);
    let out = crate::binary::clobber_within(&args, guard);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["requests"].as_u64().unwrap() > 0 && report["errors"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(out.status.code(), Some(0), "without the flag, a run with successes exits 0");
    let out = crate::binary::clobber_within(&[&args[..], &["--fail-on-error"]].concat(), guard);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["requests"].as_u64().unwrap() > 0 && report["errors_by_kind"]["reset"].as_u64().unwrap() > 0);
}

#[test]
fn fail_on_error_counts_statuses_outside_expect_status() {
    let server = FaultServer::start(Fault::Answers500);
    let url = format!("http://{}/", server.addr);
    let args = [url.as_str(), "--no-pin", "-d", "500ms", "-c", "4", "-t", "1", "--expect-status", "2xx", "--json"];
    let guard = Duration::from_secs(20);
    let out = crate::binary::clobber_within(&args, guard);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_status = &report["status"];
    assert!(by_status["200"].as_u64().unwrap() > 0 && by_status["500"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["errors"], report["errors_by_kind"]["status"], "{report}");
    assert_eq!(out.status.code(), Some(0), "some responses had an expected status");
    let out = crate::binary::clobber_within(&[&args[..], &["--fail-on-error"]].concat(), guard);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn fail_on_error_exits_0_when_nothing_failed() {
    let server = crate::support::serve(clobber::config::ServeMode::Http, None);
    let url = format!("http://{}/", server.local_addr());
    let args =
        [url.as_str(), "--no-pin", "-n", "500", "-c", "2", "--fail-on-error", "--expect-status", "200", "--json"];
    let out = crate::binary::clobber_within(&args, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["requests"].as_u64(), report["errors"].as_u64()), (Some(500), Some(0)));
    assert_eq!(server.stop().unwrap().requests, 500);
}

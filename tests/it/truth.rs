//! Every run ends, and every number is true: timeouts that fire, runs that give up by
//! themselves, connections and requests that never got an answer shown, warm-ups interrupted,
//! runs without a response, and report headers that state facts. Each run here is bounded by
//! `-d` or by a guard that kills the binary, so a regression fails instead of hanging.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clobber::config::ServeMode;
use clobber::report::{Report, RunInfo};
use clobber::stats::ErrorKind;

use crate::binary::{clobber, signal, wait_for, ServeProcess, BIN};
use crate::support::{dead_addr, run, serve_with};

fn http(addr: SocketAddr, args: &[&str]) -> clobber::config::Config {
    let mut words = vec![format!("http://{addr}/"), "--no-pin".to_string()];
    words.extend(args.iter().map(|s| s.to_string()));
    match clobber::setup::parse_and_set_up(words) {
        Ok(clobber::setup::Command::Run(c)) => c,
        other => panic!("expected a run, got {other:?}"),
    }
}

fn text_of(config: &clobber::config::Config, stats: &clobber::stats::WorkerStats) -> String {
    Report::new(&RunInfo::of(config, 0.0), stats).to_text()
}

/// Only the error kinds in `kinds` occurred.
fn only_kinds(stats: &clobber::stats::WorkerStats, kinds: &[ErrorKind]) {
    for kind in ErrorKind::ALL {
        if !kinds.contains(&kind) {
            assert_eq!(stats.error_count(kind), 0, "unexpected {kind:?}: {:?}", stats.first_error[kind as usize]);
        }
    }
}

/// A response every 500 ms against a 100 ms timeout: every request times out, its connection
/// is replaced, and no latency above the timeout is recorded.
#[test]
fn timeout_fires_before_a_slower_response() {
    let server = serve_with(ServeMode::Http, |c| c.delay = Some(Duration::from_millis(500)));
    let stats = run(&http(server.local_addr(), &["--timeout", "100ms", "-c", "10", "-t", "1", "-d", "2s"]));
    let seen = server.stop().unwrap();
    only_kinds(&stats, &[ErrorKind::Timeout]);
    // 10 connections, one timeout each per 100 ms (plus a reconnect) for 2 s.
    let timeouts = stats.error_count(ErrorKind::Timeout);
    assert!(timeouts >= 100, "{timeouts} timeouts in 2 s of 10 connections at --timeout 100ms");
    assert_eq!(stats.requests, 0, "a response took 500 ms; none may count under --timeout 100ms");
    assert!(stats.latency_us.is_empty());
    // Each timeout replaced its connection; the server saw every one of them.
    assert!(stats.connections_opened >= timeouts, "{} opened, {timeouts} timeouts", stats.connections_opened);
    assert!(
        seen.connections >= stats.connections_opened,
        "server {} < client {}",
        seen.connections,
        stats.connections_opened
    );
}

#[test]
fn timeout_fires_under_rate_and_with_a_stalling_server() {
    let server = serve_with(ServeMode::Http, |c| c.stall = Some((200, Duration::from_millis(400))));
    let stats =
        run(&http(server.local_addr(), &["-R", "1000", "--timeout", "100ms", "-c", "20", "-t", "1", "-d", "3s"]));
    let seen = server.stop().unwrap();
    only_kinds(&stats, &[ErrorKind::Timeout]);
    assert!(stats.error_count(ErrorKind::Timeout) >= 5, "{} timeouts", stats.error_count(ErrorKind::Timeout));
    // Most requests are answered between the stalls (a loaded test machine answers fewer).
    assert!(stats.requests > 300, "{} requests", stats.requests);
    // The timeout bounds the service time (from the write); 5 ms of slack for the loop turn.
    let max = stats.service_us.max();
    assert!(max <= 105_000, "a response of {max} us was recorded under --timeout 100ms");
    assert!(seen.requests >= stats.requests, "server {} < client {}", seen.requests, stats.requests);
}

/// A server that accepts and never answers.
struct Silent {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
}

impl Silent {
    /// Accepts `accept` connections (the rest wait in the backlog), reads what they send, and
    /// answers each request on the first `answer_first` connections with a small HTTP
    /// response; the others get nothing.
    fn start(accept: u64, answer_first: u64) -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let (s, a) = (stop.clone(), accepted.clone());
        thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::Relaxed) {
                if a.load(Ordering::Relaxed) < accept {
                    if let Ok((stream, _)) = listener.accept() {
                        let n = a.fetch_add(1, Ordering::Relaxed);
                        if n < answer_first {
                            let s = s.clone();
                            thread::spawn(move || answer(stream, &s));
                        } else {
                            held.push(stream);
                        }
                        continue;
                    }
                }
                thread::sleep(Duration::from_millis(5));
            }
        });
        Silent { addr, stop, accepted }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Answers each request head with a small response until EOF or stop.
fn answer(mut stream: TcpStream, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 4096];
    let mut pending = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(_) => continue,
        }
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            pending.drain(..end + 4);
            if stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n").is_err() {
                return;
            }
        }
    }
}

#[test]
fn n_alone_against_nothing_listening_gives_up_and_exits_1() {
    let addr = dead_addr();
    let child = Command::new(BIN)
        .args([&format!("http://{addr}/"), "--no-pin", "-n", "5", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let out = wait_for(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(15), "gave up after {:?}", started.elapsed());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["requests"], 0);
    assert!(report["errors_by_kind"]["connect_refused"].as_u64().unwrap() > 0);
    assert!(report["gave_up_after_s"].as_f64().is_some(), "{report}");
}

#[test]
fn n_alone_against_a_silent_server_gives_up_after_the_timeouts() {
    let silent = Silent::start(u64::MAX, 0);
    let child = Command::new(BIN)
        .args([
            &format!("http://{}/", silent.addr),
            "--no-pin",
            "-n",
            "5",
            "-c",
            "2",
            "--timeout",
            "1s",
            "--give-up",
            "2s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let out = wait_for(child, Duration::from_secs(20));
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(8), "gave up after {took:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("response timed out"), "{text}");
    assert!(text.contains("Gave up"), "{text}");
    // Every connection the client counted reached the server.
    let opened: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Connections"))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|n| n.replace(',', "").parse().unwrap())
        .unwrap();
    assert!(opened >= 2 && silent.accepted.load(Ordering::Relaxed) >= opened, "{text}");
}

/// 50 connections, of which the server accepts and answers one: the other 49 wait in its
/// backlog for the whole run. The report must say so.
#[test]
fn connections_that_never_got_an_answer_are_reported() {
    let silent = Silent::start(1, 1);
    let config = http(silent.addr, &["-c", "50", "-t", "1", "-d", "2s"]);
    let stats = run(&config);
    assert_eq!(stats.connections_opened, 50, "the kernel completes the handshakes of the backlog");
    assert_eq!(stats.connections_answered, 1);
    assert_eq!(silent.accepted.load(Ordering::Relaxed), 1);
    assert!(stats.requests > 100, "{} requests on the one served connection", stats.requests);
    assert_eq!(stats.in_flight_age_us.len(), 49 + 1, "49 starved requests, and the served one's last");
    let oldest = stats.in_flight_age_us.iter().max().copied().unwrap();
    assert!(oldest >= 1_900_000, "the oldest unanswered request waited {oldest} us of a 2 s run");
    let text = text_of(&config, &stats);
    assert!(text.contains("49 of 50 connections never got a response"), "{text}");
    assert!(text.contains("got no answer, the oldest waited"), "{text}");
    assert!(text.contains("imply a mean of"), "Little's law line missing:\n{text}");
    let report = Report::new(&RunInfo::of(&config, 0.0), &stats);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["connections_answered"], 1);
    assert!(json["in_flight_age_us"]["max"].as_u64().unwrap() >= 1_900_000, "{}", json["in_flight_age_us"]);
}

#[test]
fn a_healthy_run_has_no_warnings() {
    // Closed loop, and open loop where most connections wait for the pacer and are never
    // needed: neither is a connection the server left unserved.
    for (args, answered) in [(&["-c", "10"][..], Some(10)), (&["-c", "20", "-R", "300"][..], None)] {
        let server = serve_with(ServeMode::Http, |_| {});
        let config = http(server.local_addr(), &[args, &["-t", "1", "-d", "1s"]].concat());
        let stats = run(&config);
        let seen = server.stop().unwrap();
        if let Some(n) = answered {
            assert_eq!(stats.connections_answered, n);
        }
        assert_eq!(seen.connections, stats.connections_opened);
        let text = text_of(&config, &stats);
        for warning in ["never got a response", "got no answer", "imply a mean of"] {
            assert!(!text.contains(warning), "{warning:?} in a healthy run ({args:?}):\n{text}");
        }
    }
}

/// Ctrl-C 600 ms into a 30 s warm-up; the output, and what the server served.
fn interrupted_warm_up(extra: &[&str]) -> (std::process::Output, u64) {
    let server = ServeProcess::start(&[]);
    let args =
        [&server.addr, "--no-pin", "--warmup", "30s", "-d", "5s", "-c", "4", "--data", r"ping\n", "--until", r"\n"];
    let child = Command::new(BIN).args(args).args(extra).stdout(Stdio::piped()).spawn().unwrap();
    thread::sleep(Duration::from_millis(600));
    signal(&child, "-INT");
    let out = wait_for(child, Duration::from_secs(5));
    let (served, _) = server.stop();
    (out, served)
}

#[test]
fn ctrl_c_during_warm_up_measured_nothing() {
    let (out, served) = interrupted_warm_up(&["--json"]);
    assert!(served > 0, "the warm-up ran");
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["requests"], 0, "{report}");
    assert_eq!(report["stopped_during_warmup"], true, "{report}");
    let (out, _) = interrupted_warm_up(&[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("stopped during warm-up: nothing measured"), "{text}");
    assert!(!text.contains("req/s"), "{text}");
}

#[test]
fn progress_during_warm_up_shows_its_rate() {
    let server = ServeProcess::start(&[]);
    let out = Command::new(BIN)
        .args([
            &server.addr,
            "--no-pin",
            "--warmup",
            "2500ms",
            "-d",
            "500ms",
            "-c",
            "4",
            "--data",
            r"ping\n",
            "--until",
            r"\n",
        ])
        .args(["--progress"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    server.stop();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.contains("warming up")).unwrap_or_else(|| panic!("{stderr}"));
    let rate: u64 = line
        .split_whitespace()
        .zip(line.split_whitespace().skip(1))
        .find(|(_, unit)| *unit == "req/s")
        .map(|(n, _)| n.replace(',', "").parse().unwrap())
        .unwrap_or_else(|| panic!("no rate in {line:?}"));
    assert!(rate > 100, "{line}");
}

#[test]
fn a_run_without_responses_says_so() {
    let addr = dead_addr().to_string();
    let out = clobber(&[&addr, "--no-pin", "-d", "300ms", "-c", "1", "--data", "x", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["latency_us"].is_null(), "{}", report["latency_us"]);
    assert!(report["client_cpu"]["us_per_request"].is_null(), "{}", report["client_cpu"]);
    let text = clobber(&[&addr, "--no-pin", "-d", "300ms", "-c", "1", "--data", "x"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Latency      no responses"), "{text}");
    assert!(!text.contains("0us") && !text.contains("per request"), "{text}");
}

#[test]
fn header_counts_the_connections_that_opened() {
    let server = serve_with(ServeMode::Http, |_| {});
    let config = http(server.local_addr(), &["-n", "1", "-c", "50", "-t", "1"]);
    let stats = run(&config);
    let seen = server.stop().unwrap();
    assert_eq!((stats.requests, stats.connections_opened), (1, 1));
    assert_eq!(seen.connections, 1);
    let text = text_of(&config, &stats);
    assert!(text.contains("50 connections asked, 1 opened"), "{text}");
}

#[test]
fn tls_header_and_handshake_rate_state_facts() {
    let server = serve_with(ServeMode::Http, |c| c.tls = Some(clobber::net::tls::self_signed()));
    let addr = server.local_addr();
    let config = match clobber::setup::parse_and_set_up([
        format!("https://{addr}/"),
        "--no-pin".into(),
        "-k".into(),
        "-d".into(),
        "500ms".into(),
        "-c".into(),
        "2".into(),
    ]) {
        Ok(clobber::setup::Command::Run(c)) => c,
        other => panic!("expected a run, got {other:?}"),
    };
    let stats = run(&config);
    server.stop().unwrap();
    assert!(stats.requests > 0);
    let text = text_of(&config, &stats);
    assert!(!text.contains("SNI 127.0.0.1"), "an IP target sends no SNI:\n{text}");
    assert!(text.contains("no SNI"), "{text}");
    let tls_line = text.lines().find(|l| l.trim_start().starts_with("TLS ")).unwrap_or_else(|| panic!("{text}"));
    assert!(!tls_line.contains("/s"), "keep-alive handshakes have no useful rate: {tls_line}");
}

/// Under `-R`, requests go out when due, to well under a millisecond: on an idle server the
/// corrected p50 (from the due time) is the uncorrected one (from the write) plus clobber's
/// lateness. With a poll timeout in whole milliseconds the lateness was spread over 0-1 ms
/// (p50 about 500 µs); the bound leaves room for a busy test machine.
#[test]
fn paced_requests_go_out_on_time() {
    let server = serve_with(ServeMode::Http, |_| {});
    let stats = run(&http(server.local_addr(), &["-R", "500", "-c", "10", "-t", "1", "-d", "2s"]));
    let seen = server.stop().unwrap();
    assert!(stats.requests >= 950, "{} requests", stats.requests);
    assert!(seen.requests >= stats.requests);
    let corrected = stats.latency_us.value_at_quantile(0.5);
    let uncorrected = stats.service_us.value_at_quantile(0.5);
    assert!(corrected < uncorrected + 300, "corrected p50 {corrected} us, uncorrected {uncorrected} us: sent late");
}

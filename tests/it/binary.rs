//! The real binary: exit codes, messages, JSON output, `clobber serve`'s counts, and Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::dead_addr;

pub const BIN: &str = env!("CARGO_BIN_EXE_clobber");

/// Runs the binary to its end, at most 90 s (see `clobber_within`).
pub fn clobber(args: &[&str]) -> std::process::Output {
    clobber_within(args, Duration::from_secs(90))
}

/// Runs the binary and collects its output; kills it (by its PID) and fails if it runs longer
/// than `limit`, so a regression that hangs fails the test instead of hanging it. The output
/// is read while the process runs, so a long report cannot fill a pipe and stall it.
pub fn clobber_within(args: &[&str], limit: Duration) -> std::process::Output {
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let pid = child.id().to_string();
    let (done, ended) = std::sync::mpsc::channel::<()>();
    let guard = std::thread::spawn(move || {
        let late = ended.recv_timeout(limit).is_err();
        if late {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
        late
    });
    let out = child.wait_with_output().expect("the binary's output");
    let _ = done.send(());
    assert!(!guard.join().unwrap(), "clobber {args:?} did not end within {limit:?}");
    out
}

/// Asserts a usage error: exit 2, nothing on stdout, one line on stderr saying each of `words`.
#[track_caller]
fn assert_usage_error(out: &std::process::Output, words: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("clobber: ") && stderr.lines().count() == 1, "{stderr}");
    for w in words {
        assert!(stderr.contains(w), "'{stderr}' does not say '{w}'");
    }
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
}

pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args([name, &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
}

/// Waits for `child` at most `limit`; kills it and fails if it takes longer.
pub fn wait_for(mut child: Child, limit: Duration) -> std::process::Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("the process did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A `clobber serve` child process and the address from its first line.
pub struct ServeProcess {
    child: Child,
    pub addr: String,
    stdout: BufReader<std::process::ChildStdout>,
}

impl ServeProcess {
    pub fn start(args: &[&str]) -> ServeProcess {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {line:?}")).to_string();
        ServeProcess { child, addr, stdout }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then the (requests, connections) from its last line.
    pub fn stop(mut self) -> (u64, u64) {
        signal(&self.child, "-TERM");
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let status = wait_for(self.child, Duration::from_secs(5)).status;
        assert!(status.success(), "serve exited with {status}");
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((words[0], words[2], words[3], words[5]), ("served", "requests", "on", "connections"), "{line:?}");
        (words[1].parse().unwrap(), words[4].parse().unwrap())
    }
}

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn json_report_matches_what_the_server_counted() {
    let server = ServeProcess::start(&[]);
    let out = clobber(&[
        &server.addr,
        "--no-pin",
        "-n",
        "3000",
        "-c",
        "10",
        "-d",
        "60s",
        "--data",
        r"ping\n",
        "--until",
        r"\n",
        "--json",
    ]);
    let (requests, connections) = server.stop();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json(&out);
    assert_eq!(report["requests"], 3000);
    assert_eq!(report["connections_opened"], 10);
    assert_eq!((requests, connections), (3000, 10));
    assert_eq!(report["errors"], 0);
    assert_eq!(report["bytes_sent"], 15_000);
    assert_eq!(report["bytes_received"], 15_000);
    assert_eq!(report["errors_by_kind"]["connect_refused"], 0);
    assert!(report["duration_s"].as_f64().unwrap() > 0.0);
    assert!(report["rps"].as_f64().unwrap() > 0.0);
    let latency = &report["latency_us"];
    for key in ["min", "mean", "p50", "p90", "p99", "p999", "p9999", "max"] {
        assert!(latency[key].is_number(), "latency_us.{key} missing");
    }
    assert!(latency["min"].as_f64() <= latency["p50"].as_f64() && latency["p50"].as_f64() <= latency["max"].as_f64());
}

#[test]
fn nothing_listening_exits_1_with_the_errors_reported() {
    let addr = dead_addr().to_string();
    let started = Instant::now();
    let out = clobber(&[&addr, "--no-pin", "-d", "1s", "-c", "2", "--data", "x", "--json"]);
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["requests"], 0);
    assert!(report["errors_by_kind"]["connect_refused"].as_u64().unwrap() > 0);
    let text = clobber(&[&addr, "--no-pin", "-d", "300ms", "-c", "1", "--data", "x"]);
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stdout).contains("connect refused"));
}

#[test]
fn bad_usage_exits_2_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["127.0.0.1:9", "--data", "x", "-c", "0"], "--connections"),
        (&["127.0.0.1:9", "--data", "x", "-d", "10x"], "--duration"),
        (&["127.0.0.1:9", "--data", "x", "--pipeline", "4"], "--pipeline"),
        (&["127.0.0.1:9", "--file", "/nonexistent/request"], "--file"),
        (&["127.0.0.1:70000", "--data", "x"], "TARGET"),
        (&["127.0.0.1:9", "--data", "x", "--frobnicate"], "--frobnicate"),
        (&["serve", "--mode", "gopher"], "--mode"),
    ];
    for (args, flag) in cases {
        let out = clobber(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr.starts_with("clobber: ") && stderr.contains(flag), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn help_and_version() {
    let help = clobber(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--connections",
        "--until",
        "--expect-bytes",
        "--until-close",
        "--pipeline",
        "--reconnect",
        "--json",
        "whatever one read returns",
        "--fail-on-error",
        "EXIT CODES",
    ] {
        assert!(text.contains(flag), "help lacks {flag}");
    }
    let version = clobber(&["-V"]);
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("clobber {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn file_from_stdin_is_the_request() {
    let server = ServeProcess::start(&[]);
    let mut child = Command::new(BIN)
        .args([
            &server.addr,
            "--no-pin",
            "-n",
            "100",
            "-c",
            "2",
            "-d",
            "30s",
            "--file",
            "-",
            "--until",
            r"\n",
            "--json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"hello from stdin\n").unwrap();
    let out = wait_for(child, Duration::from_secs(30));
    let (requests, _) = server.stop();
    let report = json(&out);
    assert_eq!(report["requests"], 100);
    assert_eq!(report["bytes_sent"], 1700);
    assert_eq!(requests, 100);
}

#[test]
fn ctrl_c_prints_the_report_of_what_ran() {
    let server = ServeProcess::start(&[]);
    let child = Command::new(BIN)
        .args([&server.addr, "--no-pin", "-d", "60s", "-c", "4", "--data", r"ping\n", "--until", r"\n"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    signal(&child, "-INT");
    let out = wait_for(child, Duration::from_secs(5));
    let (served, _) = server.stop();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Requests") && text.contains("Latency"), "{text}");
    let requests: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests"))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|n| n.replace(',', "").parse().unwrap())
        .unwrap();
    assert!(requests > 0 && requests <= served, "client {requests}, server {served}");
}

#[test]
fn demo_runs_and_reports_both_sides() {
    let out = clobber(&["demo", "-d", "500ms", "-c", "4", "--no-pin"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Requests") && text.contains("Server       served"), "{text}");
    // The built-in server's threads, measured apart from the load's.
    assert!(text.contains("  Server CPU   ") && text.contains(" per request; busy "), "{text}");
    let out = clobber(&["demo", "-d", "300ms", "-c", "4", "--no-pin", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!report["server"]["pids"].as_array().unwrap().is_empty(), "{report}");
    assert!(["server", "client", "neither"].contains(&report["bottleneck"].as_str().unwrap()), "{report}");
}

#[test]
fn http_status_tallies_and_expect_status_exit_code() {
    let server =
        ServeProcess::start(&["--mode", "http", "--respond", r"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"]);
    let url = format!("http://{}/", server.addr);
    let out = clobber(&[&url, "--no-pin", "-n", "200", "-c", "4", "-d", "30s", "--json"]);
    assert_eq!(out.status.code(), Some(0), "a 404 is a completed request unless --expect-status says otherwise");
    let report = json(&out);
    assert_eq!(report["status"]["404"], 200);
    assert_eq!(report["errors"], 0);
    let out = clobber(&[&url, "--no-pin", "-n", "200", "-c", "4", "-d", "30s", "--expect-status", "2xx"]);
    assert_eq!(out.status.code(), Some(1), "no response had an expected status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("4xx 200") && text.contains("404: 200") && text.contains("outside --expect-status"),
        "{text}"
    );
    let (requests, _) = server.stop();
    assert_eq!(requests, 400);
}

#[test]
fn demo_tls_verifies_its_own_certificate_and_counts_handshakes() {
    let out = clobber(&["demo", "--tls", "-d", "500ms", "-c", "4", "--no-pin", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json(&out);
    assert_eq!(report["tls"]["verified"], true);
    assert_eq!(report["tls"]["handshakes"], report["connections_opened"]);
    assert!(report["requests"].as_u64().unwrap() > 0);
}

#[test]
fn tls_certificate_errors_exit_1_and_insecure_is_in_the_header() {
    let server = ServeProcess::start(&["--mode", "http", "--tls"]);
    let url = format!("https://{}/", server.addr);
    let out = clobber(&[&url, "-d", "500ms", "-c", "2", "--no-pin", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert!(report["errors_by_kind"]["tls_cert"].as_u64().unwrap() > 0, "{report}");
    assert!(report["error_messages"]["tls_cert"].as_str().unwrap().contains("not trusted"), "{report}");
    let out = clobber(&[&url, "-n", "200", "-c", "2", "--no-pin", "-k"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("certificate NOT verified (--insecure)"), "{text}");
    let (requests, connections) = server.stop();
    assert_eq!(requests, 200);
    assert!(connections >= 2);
}

#[test]
fn http_file_with_two_requests_or_a_wrong_length_exits_2() {
    let dir = std::env::temp_dir();
    let two = dir.join(format!("clobber-two-requests-{}.http", std::process::id()));
    std::fs::write(&two, b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let short = dir.join(format!("clobber-short-body-{}.http", std::process::id()));
    std::fs::write(&short, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nabc").unwrap();
    let url = format!("http://{}/", dead_addr());
    for (file, what) in [(&two, "2 requests"), (&short, "Content-Length is 9 but the body has 3 bytes")] {
        let path = file.to_str().unwrap();
        let out =
            clobber_within(&[&url, "--no-pin", "-d", "300ms", "-c", "1", "--http-file", path], Duration::from_secs(10));
        assert_usage_error(&out, &["--http-file", path, what]);
        std::fs::remove_file(file).unwrap();
    }
}

#[test]
fn bind_to_an_address_of_another_machine_exits_2() {
    // TEST-NET-1 (RFC 5737): not this machine's. The check binds a socket and sends nothing.
    let url = format!("http://{}/", dead_addr());
    let out =
        clobber_within(&[&url, "--no-pin", "-d", "1s", "-c", "2", "--bind", "192.0.2.1"], Duration::from_secs(10));
    assert_usage_error(&out, &["--bind", "192.0.2.1", "not an address of this machine"]);
}

#[test]
fn https_to_a_plain_http_port_says_it_is_not_tls() {
    let server = ServeProcess::start(&["--mode", "http"]);
    let url = format!("https://{}/", server.addr);
    let out = clobber_within(&[&url, "--no-pin", "-d", "1s", "-c", "2", "--json"], Duration::from_secs(20));
    server.stop();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json(&out);
    assert!(report["errors_by_kind"]["tls_handshake"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["errors"], report["errors_by_kind"]["tls_handshake"], "{report}");
    assert_eq!(
        report["error_messages"]["tls_handshake"], "the server answered in plain text: is this a TLS port?",
        "{report}"
    );
}

#[test]
fn usage_errors_of_the_command_line_exit_2() {
    let url = format!("http://{}/", dead_addr());
    let guard = Duration::from_secs(10);
    let out = clobber_within(&[&url, "--no-pin", "-d", "300ms", "--frobnicate"], guard);
    assert_usage_error(&out, &["--frobnicate"]);
    assert!(String::from_utf8_lossy(&out.stderr).trim_end().ends_with("see clobber --help"));
    let cases: &[(&[&str], &[&str])] = &[
        (&[&url, "--no-pin", "-d", "300ms", "--graceful-close"], &["--graceful-close", "--reconnect"]),
        (&[&url, "--no-pin", "-d", "300ms", "--expect-status", "999"], &["--expect-status", "999", "100-599"]),
        (&["127.0.0.1:8080/ok", "-d", "300ms"], &["TARGET", "did you mean http://127.0.0.1:8080/ok?"]),
        (&["127.0.0.1:0", "--data", "x", "-d", "300ms"], &["TARGET", "1-65535"]),
    ];
    for (args, words) in cases {
        assert_usage_error(&clobber_within(args, guard), words);
    }
}

#[test]
fn compound_durations_and_upper_case_schemes_run() {
    let server = ServeProcess::start(&["--mode", "http"]);
    let url = format!("HTTP://{}/", server.addr);
    let out =
        clobber_within(&[&url, "--no-pin", "-n", "50", "-c", "2", "-d", "1m30s", "--json"], Duration::from_secs(20));
    let (requests, _) = server.stop();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((json(&out)["requests"].as_u64(), requests), (Some(50), 50));
}

#[test]
fn demo_help_prints_the_demos_options() {
    let out = clobber_within(&["demo", "--help"], Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("clobber demo"), "{text}");
    for flag in ["-d, --duration", "[default: 5s]", "--tls", "-c, --connections", "--json"] {
        assert!(text.contains(flag), "demo --help lacks {flag}: {text}");
    }
}

#[test]
fn ctrl_c_while_waiting_for_start_at_exits_1() {
    let at = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 60).to_string();
    let url = format!("http://{}/", dead_addr());
    let mut child = Command::new(BIN)
        .args([&url, "--no-pin", "-d", "300ms", "-c", "1", "--start-at", &at])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The waiting line comes after the signal handlers are installed.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("waiting"), "{line}");
    signal(&child, "-INT");
    let out = wait_for(child, Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(1), "an interrupted wait is not a usage error");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(rest.contains("interrupted"), "{rest}");
    assert!(out.stdout.is_empty());
}

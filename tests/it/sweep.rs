//! `clobber sweep` end to end, against `clobber serve --mode http --delay 2ms -t 1`: with 20
//! connections each request holds one for 2 ms (the server releases held responses on a
//! timerfd, to the microsecond), so the server sustains at most about 9,000-10,000 req/s, and beyond that the queue, and the corrected p99, grows without
//! bound. The server's counts are compared with the sweep's, and its connection count shows
//! that the steps ran on the same connections.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::binary::{clobber_within, signal, wait_for, ServeProcess, BIN};
use crate::page::{count_near, screenshot};

fn workdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("sweep-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The server the issue names, on a free port: HTTP, every response held 2 ms, one thread.
fn delay_server() -> ServeProcess {
    ServeProcess::start(&["--mode", "http", "--delay", "2ms", "-t", "1"])
}

fn sweep(server: &ServeProcess, args: &[&str]) -> std::process::Output {
    let url = format!("http://{}/", server.addr);
    let mut all = vec!["sweep", url.as_str(), "-t", "1", "--no-pin"];
    all.extend_from_slice(args);
    clobber_within(&all, Duration::from_secs(120))
}

fn json(out: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text}\n{}", String::from_utf8_lossy(&out.stderr)))
}

/// The responses every step measured (warm-ups not included).
fn measured(sweep: &serde_json::Value) -> u64 {
    sweep["steps"].as_array().unwrap().iter().map(|s| s["report"]["requests"].as_u64().unwrap()).sum()
}

/// One sweep of the 2 ms server: its output and the server's (requests, connections).
fn knee_sweep() -> (std::process::Output, (u64, u64)) {
    let server = delay_server();
    let out = sweep(
        &server,
        &[
            "-c",
            "20",
            "--rates",
            "3000..12000",
            "--step-factor",
            "1.3",
            "--step-duration",
            "2s",
            "--step-warmup",
            "300ms",
            "--slo",
            "p99<=10ms",
            "--search",
            "--json",
        ],
    );
    (out, server.stop())
}

#[test]
fn knee_of_a_2ms_server_with_20_connections_and_search_to_two_percent() {
    // This VM's scheduler now and then stalls a thread for 10-20 ms; a p99 of a 2 s step
    // survives one such stall but not a run of them. A sweep whose knee falls outside the range
    // is run once more (both sweeps' verdicts are in the message if the second fails too).
    let (mut out, mut counts) = knee_sweep();
    let in_range = |out: &std::process::Output| {
        out.status.code() == Some(0)
            && serde_json::from_slice::<serde_json::Value>(&out.stdout)
                .ok()
                .and_then(|v| v["sweep"]["sustainable_rps"].as_f64())
                .is_some_and(|k| (5000.0..=11000.0).contains(&k))
    };
    let mut first = String::new();
    if !in_range(&out) {
        first = String::from_utf8_lossy(&out.stdout).chars().take(300).collect();
        (out, counts) = knee_sweep();
    }
    let (served, connections) = counts;
    assert_eq!(out.status.code(), Some(0), "{}\nfirst sweep: {first}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    let sweep = &v["sweep"];
    let knee = sweep["sustainable_rps"].as_f64().expect("a rate passed");
    assert!((5000.0..=11000.0).contains(&knee), "knee at {knee} req/s: {}\nfirst sweep: {first}", sweep["verdict"]);
    assert_eq!(sweep["slo"][0], "p99<=10ms");
    let steps = sweep["steps"].as_array().unwrap();
    // The planned steps end at the first failure; the probes follow it.
    let planned: Vec<&serde_json::Value> = steps.iter().filter(|s| s["search"] != true).collect();
    assert_eq!(planned.iter().filter(|s| s["pass"] == false).count(), 1, "{}", sweep["verdict"]);
    assert_eq!(planned.last().unwrap()["pass"], false);
    assert!(steps.len() > planned.len(), "--search probed");
    let lowest_fail = steps
        .iter()
        .filter(|s| s["pass"] == false)
        .map(|s| s["rate_asked"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert!(lowest_fail > knee && lowest_fail <= knee * 1.02, "narrowed to 2%: {knee} .. {lowest_fail}");
    for step in steps {
        let broke = step["broke"].as_array().unwrap();
        assert_eq!(step["pass"] == true, broke.is_empty() && step["client_limited"].is_null(), "{step:.200}");
        let report = &step["report"];
        assert_eq!(report["rate_asked"], step["rate_asked"]);
        assert!(report["histogram"].is_string(), "each step has its full report");
    }
    // Both sides: the server answered every measured response (and the warm-ups'), all on
    // the 20 connections the first step opened.
    assert!(served >= measured(sweep), "served {served}, measured {}", measured(sweep));
    assert_eq!(connections, 20, "the steps kept the same connections");
    assert!(sweep["verdict"].as_str().unwrap().starts_with("sustainable: "), "{}", sweep["verdict"]);
}

#[test]
fn a_first_step_that_breaks_exits_1_and_the_text_says_why() {
    let server = delay_server();
    let dir = workdir("first");
    let page = dir.join("sweep.html");
    // Every response takes at least 2 ms: p99<=1ms breaks at any rate.
    let out = sweep(
        &server,
        &[
            "-c",
            "4",
            "--rates",
            "500..2000",
            "--step-duration",
            "500ms",
            "--step-warmup",
            "200ms",
            "--slo",
            "p99<=1ms",
            "--html",
            page.to_str().unwrap(),
        ],
    );
    let (served, connections) = server.stop();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("no rate passed: the first, 500 req/s, broke p99<=1ms: "), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.contains("broke p99<=1ms")).count(),
        2,
        "one step row and the verdict: {stdout}"
    );
    assert!(stdout.contains("asked") && stdout.contains("achieved") && stdout.contains("p99.9"), "{stdout}");
    assert!(served >= 200 && connections == 4, "served {served} on {connections}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<h2>Knees</h2>") && html.contains("<td class=\"num\">none</td>"), "--html wrote the page");
    assert!(html.contains("no rate passed"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rates_beyond_one_client_thread_make_the_client_the_limit() {
    // A fast server with two threads, free to use both cores, and one client thread pinned to
    // one, asked for far more than it can send: the server keeps up (it has more CPU than the
    // client, even while other tests run), the client's core saturates (or, when the kernel
    // shares it, its loop never waits), it sends short, and the sweep blames the client.
    // When other tests crowd both cores the server can starve too: the client's loop then waits
    // on it (busy under 90%), nothing is to blame, and the run says nothing about the verdict.
    // It runs again then, three times in all; the loop's busy shares are in the message.
    let mut busy = Vec::new();
    let (out, (served, connections)) = loop {
        let server = ServeProcess::start(&["--mode", "http", "-t", "2"]);
        let url = format!("http://{}/", server.addr);
        let out = clobber_within(
            &[
                "sweep",
                &url,
                "-t",
                "1",
                "--cpus",
                "0",
                "-c",
                "200",
                "--rates",
                "2000000..4000000",
                "--step-duration",
                "1s",
                "--step-warmup",
                "300ms",
                "--slo",
                "p99<=1s",
                "--json",
            ],
            Duration::from_secs(60),
        );
        let counts = server.stop();
        let report = &json(&out)["sweep"]["steps"][0]["report"];
        let loop_busy = report["client"]["loop_busy"].as_f64().unwrap_or(0.0);
        busy.push(loop_busy);
        if loop_busy >= 0.9 || report["bottleneck"] == "client" || busy.len() == 3 {
            break (out, counts);
        }
    };
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    let sweep = &v["sweep"];
    let step = &sweep["steps"][0];
    assert_eq!(step["client_limited"], true, "client loop busy {busy:?}; {:.300}", step);
    assert_eq!(step["pass"], false);
    let verdict = sweep["verdict"].as_str().unwrap();
    assert!(verdict.contains("the client, not the server, is the limit") && verdict.contains("% busy"), "{verdict}");
    let rps = step["report"]["rps"].as_f64().unwrap();
    assert!(rps < 0.97 * 2_000_000.0, "achieved {rps}");
    assert!(served >= measured(sweep) && connections == 200, "served {served} on {connections}");
}

#[test]
fn ctrl_c_prints_the_steps_so_far_and_their_verdict() {
    let server = delay_server();
    let url = format!("http://{}/", server.addr);
    let child = Command::new(BIN)
        .args(["sweep", &url, "-t", "1", "--no-pin", "-c", "10", "--rates", "200..100000", "--step-factor", "1.1"])
        .args(["--step-duration", "400ms", "--step-warmup", "100ms", "--slo", "p99<=1s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1800));
    signal(&child, "-INT");
    let out = wait_for(child, Duration::from_secs(10));
    server.stop();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "a rate passed before the interrupt: {stdout}");
    assert!(stdout.contains("interrupted after "), "{stdout}");
    assert!(stdout.contains("sustainable: ") && stdout.contains("(at least: the sweep was stopped"), "{stdout}");
    let rows = stdout.lines().filter(|l| l.trim_end().ends_with("pass")).count();
    assert!((2..=4).contains(&rows), "about 3 steps of 0.5 s ran in 1.8 s: {stdout}");
}

#[test]
fn two_sweeps_overlay_in_chromium_with_each_knee_marked() {
    let dir = workdir("page");
    let mut files = Vec::new();
    // 20 connections sustain far more than 4 (each request holds one for 2 ms).
    for (name, connections) in [("c20", "20"), ("c4", "4")] {
        let server = delay_server();
        let out = sweep(
            &server,
            &[
                "-c",
                connections,
                "--rates",
                "400..3200",
                "--step-factor",
                "2",
                "--step-duration",
                "600ms",
                "--step-warmup",
                "200ms",
                "--slo",
                "p99<=10ms",
                "--json",
            ],
        );
        server.stop();
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, &out.stdout).unwrap();
        files.push(path);
    }
    let page = dir.join("knees.html");
    let out = crate::binary::clobber(&[
        "report",
        files[0].to_str().unwrap(),
        files[1].to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    for needle in ["<script", "<link", "<img", "url(", "src=", "href="] {
        assert!(!html.contains(needle), "the page references something outside itself: {needle}");
    }
    assert_eq!(html.matches("<svg").count(), 1, "one chart: latency against throughput");
    assert!(html.contains("<h2>Knees</h2>") && html.contains("<th>c20</th>") && html.contains("<th>c4</th>"));
    assert_eq!(html.matches("knee: ").count(), 2, "each sweep's knee is marked");
    assert!(html.contains("p99&lt;=10ms"), "the objective's line is labelled");
    // One thick line (p99) and one thin (p50) per sweep, in its colour; and the objective's.
    for colour in ["#1A1A1A", "#E69F00"] {
        let lines = html.matches(&format!("<polyline fill=\"none\" opacity=\"1\" stroke=\"{colour}\"")).count();
        assert_eq!(lines, 2, "{colour}: p99 and p50");
    }
    let png = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sweep-screenshot.png");
    let _ = std::fs::remove_file(&png);
    let (rgb, width, height) = screenshot(&page, &png);
    eprintln!("screenshot kept at {}", png.display());
    assert_eq!(width, 1280);
    let pixels = (width * height) as usize;
    assert!(count_near(&rgb, (255, 255, 255), 8) < pixels * 97 / 100, "the page is blank");
    let first = count_near(&rgb, (26, 26, 26), 12);
    let second = count_near(&rgb, (230, 159, 0), 24);
    assert!(first > 300 && second > 300, "both sweeps on screen: {first} and {second} pixels");

    // A sweep mixed with a single run's report is refused, naming both kinds.
    let run = dir.join("run.json");
    let server = delay_server();
    let one =
        crate::binary::clobber(&[&format!("http://{}/", server.addr), "-n", "20", "-c", "2", "--no-pin", "--json"]);
    server.stop();
    std::fs::write(&run, &one.stdout).unwrap();
    let out = crate::binary::clobber(&["report", files[0].to_str().unwrap(), run.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mix sweeps"), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sweep_flags_are_checked() {
    let cases: [(&[&str], &str); 8] = [
        (&["sweep", "http://127.0.0.1:9/", "--slo", "p99<=10ms"], "--rates"),
        (&["sweep", "http://127.0.0.1:9/", "--rates", "100..10"], "--rates"),
        (&["sweep", "http://127.0.0.1:9/", "--rates", "100..1000"], "--slo"),
        (&["sweep", "http://127.0.0.1:9/", "--rates", "1..9", "--slo", "p95<=1ms"], "--slo"),
        (&["sweep", "http://127.0.0.1:9/", "--rates", "1..9", "--slo", "p99<=1ms", "-R", "5"], "-R/--rate"),
        (
            &[
                "sweep",
                "http://127.0.0.1:9/",
                "--rates",
                "1..9",
                "--slo",
                "p99<=1ms",
                "--steps",
                "3",
                "--step-factor",
                "2",
            ],
            "--step-factor",
        ),
        (
            &["sweep", "http://127.0.0.1:9/", "--rates", "1..9", "--slo", "p99<=1ms", "--step-factor", "1"],
            "--step-factor",
        ),
        (&["http://127.0.0.1:9/", "--slo", "p99<=1ms"], "clobber sweep"),
    ];
    for (args, word) in cases {
        let out = clobber_within(args, Duration::from_secs(10));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("clobber: ") && stderr.lines().count() == 1 && stderr.contains(word),
            "{args:?}: {stderr}"
        );
    }
}

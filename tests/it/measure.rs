//! Honest numbers: open-loop rate, coordinated-omission correction, warm-up, the JSON
//! histogram and timeline, and merging runs.

use std::process::Command;
use std::time::Duration;

use clobber::config::ServeMode;
use clobber::report::{decode_histogram, Report};
use hdrhistogram::Histogram;

use crate::support::{config, run, serve_with};

const BIN: &str = env!("CARGO_BIN_EXE_clobber");

fn http(addr: std::net::SocketAddr, args: &[&str]) -> clobber::config::Config {
    let mut words = vec![format!("http://{addr}/"), "--no-pin".to_string()];
    words.extend(args.iter().map(|s| s.to_string()));
    match clobber::setup::parse_and_set_up(words) {
        Ok(clobber::setup::Command::Run(c)) => c,
        other => panic!("expected a run, got {other:?}"),
    }
}

#[test]
fn rate_2000_for_3s_completes_6000_and_the_server_agrees() {
    let server = serve_with(ServeMode::Http, |_| {});
    let stats = run(&http(server.local_addr(), &["-R", "2000", "-d", "3s", "-c", "20", "-t", "2"]));
    let seen = server.stop().unwrap();
    let n = stats.requests as f64;
    assert!((5940.0..=6060.0).contains(&n), "{n} requests, expected 6000 within 1%");
    assert!(seen.requests >= stats.requests && seen.requests <= stats.requests + stats.in_flight_at_end + 1);
    assert_eq!(stats.errors_total(), 0);
    assert!(stats.missed <= 60, "missed {} of 6000 (more than 1%)", stats.missed);
}

#[test]
fn low_fractional_rate_is_on_schedule_and_does_not_spin() {
    let server = serve_with(ServeMode::Echo, |_| {});
    let c = config(
        server.local_addr(),
        &["-R", "3", "-d", "2s", "-c", "2", "-t", "1", "--data", r"ping\n", "--until", r"\n"],
    );
    let stats = run(&c);
    server.stop().unwrap();
    // Due at 0, 1/3, 2/3, 1, 4/3, 5/3 s: six in two seconds.
    assert!((5..=7).contains(&stats.requests), "{} requests", stats.requests);
    // A busy-spinning loop would burn the whole two seconds; the poll timeout sleeps instead.
    assert!(stats.cpu.total() < Duration::from_millis(200), "an idle paced client used {:?} of CPU", stats.cpu.total());
}

#[test]
fn delayed_responses_have_a_p50_just_over_the_delay() {
    let server = serve_with(ServeMode::Http, |c| c.delay = Some(Duration::from_millis(20)));
    let stats = run(&http(server.local_addr(), &["-R", "200", "-d", "2s", "-c", "10", "-t", "1"]));
    server.stop().unwrap();
    let p50 = stats.latency_us.value_at_quantile(0.5);
    assert!(stats.requests >= 350, "{} requests", stats.requests);
    assert!((20_000..=25_000).contains(&p50), "p50 {p50} us");
}

#[test]
fn a_stalling_server_shows_in_corrected_latency_only() {
    let server = serve_with(ServeMode::Http, |c| c.stall = Some((1000, Duration::from_millis(500))));
    let stats = run(&http(server.local_addr(), &["-R", "1000", "-c", "10", "-d", "5s", "-t", "1"]));
    server.stop().unwrap();
    let corrected = stats.latency_us.value_at_quantile(0.9);
    let uncorrected = stats.service_us.value_at_quantile(0.9);
    assert!(corrected >= 300_000, "corrected p90 {corrected} us");
    assert!(uncorrected < 50_000, "uncorrected p90 {uncorrected} us");
    assert_eq!(stats.service_us.len(), stats.requests);
}

#[test]
fn warmup_is_not_recorded() {
    let server = serve_with(ServeMode::Http, |_| {});
    let stats = run(&http(server.local_addr(), &["--warmup", "1s", "-d", "2s", "-c", "4", "-t", "1"]));
    let seen = server.stop().unwrap();
    let secs = stats.elapsed.as_secs_f64();
    assert!((2.0..2.5).contains(&secs), "measured {secs} s");
    assert!(stats.timeline().len() <= 3, "{} timeline slots", stats.timeline().len());
    // The server also answered the warm-up's requests, which the client did not count.
    assert!(
        seen.requests > stats.requests + stats.in_flight_at_end,
        "server {} client {}",
        seen.requests,
        stats.requests
    );
    let per_second = stats.requests as f64 / secs;
    let warmup_share = (seen.requests - stats.requests) as f64 / per_second;
    assert!(warmup_share > 0.5, "about a second of warm-up went unrecorded, not {warmup_share:.2} s");
}

#[test]
fn progress_gives_the_last_whole_second() {
    let server = serve_with(ServeMode::Http, |_| {});
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let running =
        clobber::engine::start(&http(server.local_addr(), &["-R", "500", "-d", "3s", "-c", "4", "-t", "2"]), stop)
            .unwrap();
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    let mut seen = running.snapshot();
    while seen.seconds < 2 && std::time::Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(50));
        seen = running.snapshot();
    }
    let stats = running.join().unwrap();
    server.stop().unwrap();
    assert!(seen.seconds >= 2, "{seen:?}");
    // 500 requests a second: the second that ended, not the run so far nor the current one.
    assert!((450..=550).contains(&seen.last_second_requests), "{seen:?}");
    assert!(seen.last_second_p99_us > 0 && seen.requests >= 2 * 450, "{seen:?}");
    assert!(stats.requests >= 1400, "{} requests", stats.requests);
}

fn json_run(addr: std::net::SocketAddr, n: &str, path: &std::path::Path) -> Report {
    let out = Command::new(BIN)
        .args([&format!("http://{addr}/"), "--no-pin", "-n", n, "-c", "4", "-d", "30s", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    std::fs::write(path, &out.stdout).unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn merge_adds_runs_and_takes_percentiles_from_the_merged_histogram() {
    let dir = std::env::temp_dir().join(format!("clobber-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fast = serve_with(ServeMode::Http, |_| {});
    let slow = serve_with(ServeMode::Http, |c| c.delay = Some(Duration::from_millis(5)));
    let (a_path, b_path) = (dir.join("a.json"), dir.join("b.json"));
    let a = json_run(fast.local_addr(), "3000", &a_path);
    let b = json_run(slow.local_addr(), "400", &b_path);
    fast.stop().unwrap();
    slow.stop().unwrap();
    let out = Command::new(BIN).arg("merge").args([&a_path, &b_path]).arg("--json").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let merged: Report = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(merged.requests, 3400);
    assert_eq!(merged.errors, a.errors + b.errors);
    assert_eq!(merged.status.as_ref().unwrap()[&200], 3400);
    let mut both: Histogram<u64> = decode_histogram(&a.histogram).unwrap();
    both.add(decode_histogram::<u64>(&b.histogram).unwrap()).unwrap();
    assert_eq!(merged.latency_us.unwrap().summary.p99, both.value_at_quantile(0.99));
    assert_eq!(merged.latency_us.unwrap().summary.max, both.max());
    // 400 of 3,400 requests waited 5 ms: the merged p99 is a slow one, which no average of
    // the two runs' p99s would give.
    assert!(merged.latency_us.unwrap().summary.p99 >= 5000, "p99 {}", merged.latency_us.unwrap().summary.p99);
    let timeline_requests: u64 = merged.timeline.iter().map(|s| s.requests).sum();
    assert_eq!(timeline_requests, 3400);
    let text = Command::new(BIN).arg("merge").args([&a_path, &b_path]).output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("3,400 in"));

    let foreign = dir.join("foreign.json");
    std::fs::write(&foreign, br#"{"requests": 5, "tool": "wrk"}"#).unwrap();
    let corrupt = dir.join("corrupt.json");
    let mut broken: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&a_path).unwrap()).unwrap();
    broken["histogram"] = serde_json::Value::String("SGVsbG8sIHdvcmxk".into());
    std::fs::write(&corrupt, broken.to_string()).unwrap();
    let no_span = dir.join("no-span.json");
    let mut broken: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&a_path).unwrap()).unwrap();
    broken["timeline"][0]["span_s"] = 0.into();
    std::fs::write(&no_span, broken.to_string()).unwrap();
    for bad in [&foreign, &corrupt, &no_span, &dir.join("missing.json")] {
        let out = Command::new(BIN).arg("merge").arg(&a_path).arg(bad).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}", bad.display());
        assert!(stderr.contains(&*bad.to_string_lossy()) && stderr.lines().count() == 1, "{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A 2 s run's JSON report (10 responses) begun at `start_unix_s`, written to `dir/name`.
fn report_file(dir: &std::path::Path, name: &str, start_unix_s: f64, command: &str) -> std::path::PathBuf {
    let t0 = std::time::Instant::now();
    let mut stats = clobber::stats::WorkerStats::new(t0);
    for i in 0..10 {
        stats.record_response(t0 + Duration::from_millis(200 * i), Duration::from_micros(100), None);
    }
    stats.elapsed = Duration::from_secs(2);
    let info = clobber::report::RunInfo {
        target: "http://127.0.0.1:1/".into(),
        address: "127.0.0.1:1".into(),
        threads: 1,
        connections: 1,
        pipeline: 1,
        reconnect: false,
        framing: "HTTP/1.1".into(),
        protocol: None,
        streams: None,
        http: true,
        rate_asked_per_s: None,
        warmup_s: None,
        start_unix_s,
        tls: None,
        command: command.into(),
        machine: None,
    };
    let path = dir.join(name);
    std::fs::write(&path, Report::new(&info, &stats).to_json()).unwrap();
    path
}

fn merge_files(files: &[&std::path::Path], json: bool) -> (Option<i32>, String, String) {
    let mut command = Command::new(BIN);
    command.arg("merge").args(files);
    if json {
        command.arg("--json");
    }
    let out = command.output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn merge_refuses_the_same_run_given_twice() {
    let dir = std::env::temp_dir().join(format!("clobber-merge-twice-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let start = 1_800_000_000.123_456;
    let a = report_file(&dir, "a.json", start, "clobber http://127.0.0.1:1/ -d 2s");
    let copy = dir.join("copy.json");
    std::fs::copy(&a, &copy).unwrap();
    for (first, second) in [(&a, &a), (&a, &copy)] {
        let (code, stdout, stderr) = merge_files(&[first, second], false);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("same run"), "{stderr}");
        assert!(stderr.contains(&*first.to_string_lossy()) && stderr.contains(&*second.to_string_lossy()), "{stderr}");
    }
    // Another machine's run of the same command began a moment later: merged, no warning.
    let b = report_file(&dir, "b.json", start + 0.000_8, "clobber http://127.0.0.1:1/ -d 2s");
    let (code, stdout, stderr) = merge_files(&[&a, &b], false);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("20 in") && stderr.is_empty(), "{stdout}{stderr}");
}

#[test]
fn merge_warns_when_the_runs_did_not_overlap_in_time() {
    let dir = std::env::temp_dir().join(format!("clobber-merge-apart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let start = 1_800_000_000.5;
    let a = report_file(&dir, "a.json", start, "clobber http://127.0.0.1:1/ -d 2s");
    let later = report_file(&dir, "later.json", start + 60.0, "clobber http://127.0.0.1:1/ -d 2s");
    let during = report_file(&dir, "during.json", start + 1.0, "clobber http://127.0.0.1:2/ -d 2s");
    let (code, text, stderr) = merge_files(&[&a, &during, &later], false);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("clobber: warning: runs did not overlap in time"), "{stderr}");
    let (a_name, later_name) = (a.to_string_lossy(), later.to_string_lossy());
    assert!(stderr.contains(&format!("({later_name} began 58.0 s after {a_name} ended)")), "{stderr}");
    assert!(text.contains("30 in") && text.contains("runs did not overlap in time"), "{text}");
    let (code, json, stderr) = merge_files(&[&later, &a], true);
    assert_eq!(code, Some(0), "{stderr}");
    let merged: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(merged.requests, 20);
    assert!(stderr.contains("runs did not overlap in time"), "{stderr}");
    // Runs that overlapped, even by a second only, merge without a word.
    let (code, text, stderr) = merge_files(&[&a, &during], false);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.is_empty() && !text.contains("overlap"), "{stderr}{text}");
}

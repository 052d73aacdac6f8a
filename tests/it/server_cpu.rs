//! `--server-pid` and the Bottleneck verdict, on the real binary: the server's CPU time that
//! clobber reports against what the test reads from `/proc` itself, a PID that does not exist,
//! a verdict consistent with the busy figures it reports, and a process that exits mid-run.

use std::process::{Command, Stdio};

use crate::binary::{clobber, ServeProcess};
use crate::nginx::Nginx;

fn json(output: &std::process::Output) -> serde_json::Value {
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

/// User + system CPU seconds of process `pid`, from `/proc/PID/stat` (fields 14 and 15, in
/// ticks of 1/100 s).
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    (fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()) as f64 / 100.0
}

/// The verdict the report's busy figures call for (README's Bottleneck rule).
fn expected_verdict(report: &serde_json::Value) -> &'static str {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let client_cores = report["threads"].as_u64().unwrap().clamp(1, cores as u64) as f64;
    let client = report["client"]["busy_cores"].as_f64().unwrap() / client_cores;
    let server = &report["server"];
    let server = server["busy_cores"].as_f64().unwrap() / server["threads_busy"].as_f64().unwrap();
    if server >= 0.9 {
        "server"
    } else if client >= 0.9 {
        "client"
    } else {
        "neither"
    }
}

#[test]
fn nginx_worker_cpu_per_request_agrees_with_proc() {
    let nginx = Nginx::start();
    let worker = nginx.worker_pid();
    let before = cpu_s(worker);
    let out =
        clobber(&[&nginx.url("/"), "-d", "2s", "-c", "20", "-t", "1", "--server-pid", &worker.to_string(), "--json"]);
    let after = cpu_s(worker);
    let report = json(&out);
    let requests = report["requests"].as_f64().unwrap();
    assert!(requests > 1000.0, "{report}");
    let server = &report["server"];
    assert_eq!(server["pids"], serde_json::json!([worker]));
    let reported_s = server["cpu_user_s"].as_f64().unwrap() + server["cpu_sys_s"].as_f64().unwrap();
    let measured_s = after - before;
    // Ticks are 10 ms: allow two of them besides the 10%.
    assert!(
        (reported_s - measured_s).abs() <= 0.1 * measured_s + 0.02,
        "reported {reported_s} s, /proc {measured_s} s"
    );
    let us_per_request = server["cpu_us_per_request"].as_f64().unwrap();
    let measured_us = measured_s * 1e6 / requests;
    assert!(
        (us_per_request - measured_us).abs() <= 0.1 * measured_us + 0.02e6 / requests,
        "{us_per_request} vs {measured_us}"
    );
    let busy = server["busy_cores"].as_f64().unwrap();
    let measured_busy = measured_s / report["duration_s"].as_f64().unwrap();
    assert!((busy - measured_busy).abs() <= 0.1 * measured_busy + 0.02, "busy {busy} vs {measured_busy}");
    assert_eq!(server["threads_busy"], 1, "{server}");
    assert_eq!(report["bottleneck"], expected_verdict(&report), "{report}");
    // The master is found by name along with the worker.
    let by_name =
        json(&clobber(&[&nginx.url("/"), "-d", "200ms", "-c", "2", "-t", "1", "--server-pid", "nginx", "--json"]));
    let pids: Vec<u64> = by_name["server"]["pids"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap()).collect();
    assert!(pids.contains(&u64::from(worker)) && pids.len() >= 2, "{pids:?}");
}

#[test]
fn server_pid_that_does_not_exist_exits_2() {
    // Above the largest pid_max Linux allows (2^22).
    for value in ["99999999", "no-such-server"] {
        let out = clobber(&["http://127.0.0.1:9/", "-d", "1s", "--server-pid", value]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--server-pid") && stderr.contains(value), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn one_client_thread_many_connections_verdict_matches_the_busy_figures() {
    let server = ServeProcess::start(&["--mode", "http"]);
    let pid = server.pid().to_string();
    let url = format!("http://{}/", server.addr);
    let out = clobber(&[&url, "-d", "1s", "-c", "200", "-t", "1", "--server-pid", &pid, "--json"]);
    let report = json(&out);
    assert_eq!(report["bottleneck"], expected_verdict(&report), "{report}");
    let text = clobber(&[&url, "-d", "500ms", "-c", "200", "-t", "1", "--server-pid", &pid]);
    let text = String::from_utf8_lossy(&text.stdout);
    let verdict = text.lines().find(|l| l.trim_start().starts_with("Bottleneck")).unwrap_or_else(|| panic!("{text}"));
    assert!(["the server (", "clobber (", "neither saturated ("].iter().any(|v| verdict.contains(v)), "{verdict}");
    server.stop();
}

#[test]
fn a_server_pid_that_exits_mid_run_is_reported() {
    let server = ServeProcess::start(&["--mode", "http"]);
    let url = format!("http://{}/", server.addr);
    let mut sleeper = Command::new("sleep").arg("1").stdout(Stdio::null()).spawn().expect("sleep runs");
    let pid = sleeper.id();
    let out = clobber(&[&url, "-d", "2s", "-c", "4", "-t", "1", "--server-pid", &pid.to_string(), "--json"]);
    let _ = sleeper.wait();
    let report = json(&out);
    let vanished = &report["server"]["vanished"];
    assert_eq!(vanished[0]["pid"], pid, "{report}");
    let at_s = vanished[0]["at_s"].as_f64().unwrap();
    assert!((0.5..1.9).contains(&at_s), "vanished at {at_s} s");
    server.stop();
}

//! Requests that vary, counted on both sides: nginx logs each request's URI (and a POST's body
//! and Content-Length), redis counts its commands and keys; clobber's per-entry counts must
//! match them exactly.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::binary::{clobber, BIN};
use crate::nginx::Nginx;
use crate::support::{http_config, redis_keyspace_run, run};

/// nginx with a server that logs `$request_uri`, the Content-Length header, and the body (read
/// because `/post` is proxied to a second server, which logs nothing) to `uris.log`, and each
/// request's URI and `Authorization` header to `auth.log`.
fn nginx_logging_uris() -> Nginx {
    Nginx::start_with(|dir, free_port| {
        let (port, upstream, d) = (free_port(), free_port(), dir.display());
        let servers = format!(
            "log_format uris escape=none '$request_uri $http_content_length [$request_body]';
             log_format auth escape=none '$request_uri [$http_authorization]';
             server {{
               listen 127.0.0.1:{port} backlog=4096;
               access_log {d}/uris.log uris;
               access_log {d}/auth.log auth;
               location / {{ return 200 \"hello\\n\"; }}
               location /post {{ proxy_pass http://127.0.0.1:{upstream}/ok; }}
             }}
             server {{
               listen 127.0.0.1:{upstream};
               access_log off;
               location / {{ return 200 \"ok\\n\"; }}
             }}"
        );
        (servers, vec![port, upstream])
    })
}

/// A fresh directory for a test's files.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clobber-targets-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The logged URIs, counted.
fn uri_counts(lines: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in lines {
        *counts.entry(line.split(' ').next().unwrap_or("").to_string()).or_insert(0) += 1;
    }
    counts
}

/// nginx writes its log line after the response: wait until `n` lines are there.
fn logged(nginx: &Nginx, n: usize) -> Vec<String> {
    crate::support::wait_for(|| nginx.log_lines("uris.log").len() >= n);
    nginx.log_lines("uris.log")
}

#[test]
fn round_robin_sends_each_entry_in_turn() {
    let nginx = nginx_logging_uris();
    let port = nginx.extra_ports[0];
    let dir = temp_dir("rr");
    let file = write(
        &dir,
        "targets.txt",
        &format!("# three paths\nGET http://127.0.0.1:{port}/a\n\nhttp://127.0.0.1:{port}/b\nX-A: 1\n\nGET http://127.0.0.1:{port}/c\n"),
    );
    let stats = run(&http_config(&["--targets", &file, "-n", "3000", "-c", "6", "-t", "2"]));
    assert_eq!(stats.requests, 3000);
    assert_eq!(stats.errors_total(), 0);
    let client: Vec<u64> = stats.targets.iter().map(|t| t.requests).collect();
    assert_eq!(client, [1000, 1000, 1000], "clobber's per-entry counts");
    let counts = uri_counts(&logged(&nginx, 3000));
    let expected: BTreeMap<String, usize> = ["/a", "/b", "/c"].iter().map(|p| (p.to_string(), 1000)).collect();
    assert_eq!(counts, expected, "nginx's log");
}

#[test]
fn a_sweep_over_targets_sends_every_entry_as_nginx_logs_it() {
    let nginx = nginx_logging_uris();
    let port = nginx.extra_ports[0];
    let dir = temp_dir("sweep");
    let text = format!("GET http://127.0.0.1:{port}/a\n\nGET http://127.0.0.1:{port}/b?r={{{{rand:1-99}}}}\n");
    let file = write(&dir, "targets.txt", &text);
    let args = ["sweep", "--targets", &file, "--rates", "200..400", "--steps", "2", "--step-duration", "500ms"];
    let out = crate::binary::clobber_within(
        &[&args[..], &["--step-warmup", "100ms", "--slo", "p99<=1s", "-c", "4", "-t", "1", "--json"]].concat(),
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = v["sweep"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    // Each step's report has a row per entry; the measured responses, per entry.
    let mut measured = [0u64; 2];
    for step in steps {
        let rows = step["report"]["targets"].as_array().unwrap();
        assert_eq!(rows.len(), 2, "{:.300}", step["report"]);
        for (i, row) in rows.iter().enumerate() {
            measured[i] += row["requests"].as_u64().unwrap();
        }
    }
    let total: u64 = measured.iter().sum();
    assert!(total >= 250, "{measured:?}");
    // nginx logs the warm-ups too (0.1 s at each rate): at most 60 more, and some in flight.
    crate::support::wait_for(|| nginx.log_lines("uris.log").len() as u64 >= total);
    let lines = nginx.log_lines("uris.log");
    let paths: Vec<String> = lines.iter().map(|l| l.split(['?', ' ']).next().unwrap().to_string()).collect();
    let counts = uri_counts(&paths);
    let (a, b) = (counts["/a"] as u64, counts["/b"] as u64);
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(a >= measured[0] && b >= measured[1] && a + b <= total + 80, "nginx {a} {b}, clobber {measured:?}");
    assert!(a.abs_diff(b) <= 4, "round robin: {a} and {b}");
}

#[test]
fn a_misspelt_placeholder_is_sent_as_written_with_a_warning() {
    let server = crate::binary::ServeProcess::start(&["--mode", "http"]);
    let url = format!("http://{}/k/{{{{Seq}}}}?r={{{{rand:1-9}}}}", server.addr);
    let out = clobber(&[&url, "-H", "X-C: {{ conn }}", "-n", "50", "-c", "2", "-t", "1", "-d", "10s", "--json"]);
    let (served, _) = server.stop();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("clobber: warning: ")).collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(warnings[0].contains("{{ conn }} is not a placeholder") && warnings[1].contains("{{Seq}}"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["requests"].as_u64(), served), (Some(50), 50), "the run goes on");
}

#[test]
fn random_order_with_a_seed_repeats_itself() {
    let nginx = nginx_logging_uris();
    let port = nginx.extra_ports[0];
    let dir = temp_dir("random");
    let text: String =
        (0..20).map(|i| format!("GET http://127.0.0.1:{port}/p{i}?r={{{{rand:1-1000000}}}}\n\n")).collect();
    let file = write(&dir, "targets.txt", &text);
    let args = ["--targets", &file, "--order", "random", "--seed", "7", "-n", "2000", "-c", "4", "-t", "2"];
    let sorted = |lines: &[String]| {
        let mut lines = lines.to_vec();
        lines.sort();
        lines
    };
    let first = run(&http_config(&args));
    let log1 = logged(&nginx, 2000);
    assert_eq!((first.requests, log1.len()), (2000, 2000));
    let second = run(&http_config(&args));
    let log2 = logged(&nginx, 4000);
    assert_eq!((second.requests, log2.len()), (2000, 4000));
    assert_eq!(sorted(&log1), sorted(&log2[2000..]), "the same seed, the same requests");
    // Random, not round robin: the entries' counts are uneven.
    let counts = uri_counts(&log1.iter().map(|l| l.split('?').next().unwrap().to_string()).collect::<Vec<_>>());
    assert_eq!(counts.len(), 20, "every entry drawn");
    assert!(counts.values().any(|&n| n != 100), "{counts:?}");
    let client: Vec<u64> = first.targets.iter().map(|t| t.requests).collect();
    let server: Vec<u64> = (0..20).map(|i| counts[&format!("/p{i}")] as u64).collect();
    assert_eq!(client, server);
    // Another seed, other requests.
    let other = ["--targets", &file, "--order", "random", "--seed", "8", "-n", "2000", "-c", "4", "-t", "2"];
    run(&http_config(&other));
    let log3 = logged(&nginx, 6000);
    assert_ne!(sorted(&log1), sorted(&log3[4000..]));
}

#[test]
fn seq_is_unique_across_workers() {
    let nginx = nginx_logging_uris();
    let url = format!("http://127.0.0.1:{}/s/{{{{seq}}}}", nginx.extra_ports[0]);
    let stats = run(&http_config(&[&url, "-n", "5000", "-t", "2", "-c", "8"]));
    assert_eq!(stats.requests, 5000);
    let lines = logged(&nginx, 5000);
    assert_eq!(lines.len(), 5000);
    let counts = uri_counts(&lines);
    assert_eq!(counts.len(), 5000, "5,000 distinct paths");
    assert!(counts.keys().all(|p| p.len() == "/s/".len() + 12 && p[3..].bytes().all(|b| b.is_ascii_digit())));
}

#[test]
fn post_bodies_arrive_whole_with_their_content_length() {
    let nginx = nginx_logging_uris();
    let port = nginx.extra_ports[0];
    let dir = temp_dir("post");
    // Placeholders in JSON strings: the values are zero-padded, and JSON numbers may not be.
    let body = write(&dir, "body.json", "{\"id\": \"{{seq}}\", \"w\": \"{{worker}}\", \"k\": \"{{rand:1-99}}\"}");
    let fixed = write(&dir, "fixed.json", "{\"a\": [1, 2, 3]}");
    let file = write(
        &dir,
        "targets.txt",
        &format!(
            "POST http://127.0.0.1:{port}/post/1\nContent-Type: application/json\n@{body}\n\n\
             PUT http://127.0.0.1:{port}/post/2\n@{fixed}\n\nGET http://127.0.0.1:{port}/get\n"
        ),
    );
    let stats = run(&http_config(&["--targets", &file, "-n", "300", "-c", "3", "-t", "1"]));
    assert_eq!((stats.requests, stats.errors_total()), (300, 0));
    let lines = logged(&nginx, 300);
    assert_eq!(lines.len(), 300);
    let mut ids = std::collections::BTreeSet::new();
    for line in &lines {
        let (uri, rest) = line.split_once(' ').unwrap();
        let (length, body) = rest.split_once(' ').unwrap();
        let body = body.strip_prefix('[').and_then(|b| b.strip_suffix(']')).unwrap();
        match uri {
            "/post/1" => {
                // 12 digits of seq, 1 of worker, 2 of rand.
                assert_eq!(body.len(), "{\"id\": \"\", \"w\": \"\", \"k\": \"\"}".len() + 12 + 1 + 2, "{line}");
                assert_eq!(length, body.len().to_string(), "{line}");
                let json: serde_json::Value =
                    serde_json::from_str(body).unwrap_or_else(|e| panic!("the body is not JSON ({e}): {line}"));
                let (id, w, k) = (json["id"].as_str().unwrap(), &json["w"], json["k"].as_str().unwrap());
                assert!(id.len() == 12 && id.starts_with("0000000") && w == "0" && k.len() == 2, "{line}");
                ids.insert(id.to_string());
            }
            "/post/2" => assert_eq!((length, body), ("16", "{\"a\": [1, 2, 3]}"), "{line}"),
            // escape=none logs an absent value as nothing, not as "-".
            "/get" => assert_eq!((length, body), ("", ""), "{line}"),
            _ => panic!("unexpected {line}"),
        }
    }
    assert_eq!(ids.len(), 100, "each POST its own {{{{seq}}}}");
}

#[test]
fn targets_from_stdin_count_as_nginx_logs_them() {
    let nginx = nginx_logging_uris();
    let port = nginx.extra_ports[0];
    let text = format!(
        "# from a pipe\nGET http://127.0.0.1:{port}/in/a\n\nhttp://127.0.0.1:{port}/in/b\nX-A: 1\n\nGET http://127.0.0.1:{port}/in/c\n"
    );
    let mut child = Command::new(BIN)
        .args(["--targets", "-", "--no-pin", "-n", "300", "-c", "3", "-t", "1", "-d", "60s", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = crate::binary::wait_for(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let client: BTreeMap<String, usize> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["request"].as_str().unwrap().trim_start_matches("GET ").to_string(),
                t["requests"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    let expected: BTreeMap<String, usize> = ["/in/a", "/in/b", "/in/c"].iter().map(|p| (p.to_string(), 100)).collect();
    assert_eq!(client, expected, "clobber's per-entry counts");
    assert_eq!(uri_counts(&logged(&nginx, 300)), client, "nginx's log");
}

#[test]
fn credentials_in_the_url_reach_nginx_as_basic_authorization() {
    let nginx = nginx_logging_uris();
    let port = nginx.extra_ports[0];
    // (URL credentials, what `Authorization` must say: base64 of the percent-decoded user:pass)
    for (userinfo, expected, n) in
        [("user:pass", "Basic dXNlcjpwYXNz", 200), ("u%40x:p%3Ass", "Basic dUB4OnA6c3M=", 100)]
    {
        let before = nginx.log_lines("auth.log").len();
        let url = format!("http://{userinfo}@127.0.0.1:{port}/auth");
        let stats = run(&http_config(&[&url, "-n", &n.to_string(), "-c", "2", "-t", "1", "-d", "60s"]));
        assert_eq!((stats.requests, stats.status[200], stats.errors_total()), (n, n, 0), "{url}");
        crate::support::wait_for(|| nginx.log_lines("auth.log").len() >= before + n as usize);
        let log = nginx.log_lines("auth.log");
        assert_eq!(log.len() - before, n as usize, "nginx logged each request once: {url}");
        let line = format!("/auth [{expected}]");
        assert!(log[before..].iter().all(|l| *l == line), "{url}: {:?}, expected {line}", log.last());
    }
}

#[test]
fn bad_targets_files_exit_2_naming_the_line() {
    let dir = temp_dir("bad");
    let cases = [
        ("syntax.txt", "GET http://127.0.0.1:9/\nthis is not a header\n".to_string(), "line 2"),
        ("mixed.txt", "GET http://127.0.0.1:9/a\n\nGET http://127.0.0.1:10/b\n".to_string(), "line 3"),
        ("nobody.txt", format!("POST http://127.0.0.1:9/\n@{}/missing.json\n", dir.display()), "line 2"),
    ];
    for (name, text, line) in cases {
        let file = write(&dir, name, &text);
        let out = clobber(&["--targets", &file, "-n", "1"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains("--targets") && stderr.contains(line), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
}

/// A redis-server of the test's own, on a free port, no persistence; stopped by PID.
struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    fn start() -> Redis {
        let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("redis-server is not installed: apt-get install redis-server, or run scripts/test.sh");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args([
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--dir",
                &std::env::temp_dir().display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { port, child }
    }

    /// One inline command and its whole reply (a simple line, or a bulk string).
    fn command(&self, command: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream.write_all(format!("{command}\r\n").as_bytes()).unwrap();
        let mut reply = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = stream.read(&mut buf).unwrap();
            reply.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&reply);
            let Some((first, rest)) = text.split_once("\r\n") else { continue };
            match first.strip_prefix('$') {
                Some(len) if rest.len() < len.parse::<usize>().unwrap() + 2 => continue,
                Some(_) => return rest.trim_end().to_string(),
                None => return first.to_string(),
            }
        }
    }

    fn commands_processed(&self) -> u64 {
        let info = self.command("INFO stats");
        let line = info.lines().find_map(|l| l.strip_prefix("total_commands_processed:")).unwrap();
        line.trim().parse().unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn redis_keyspace_from_rand() {
    let redis = Redis::start();
    let before = redis.commands_processed();
    let target = format!("tcp://127.0.0.1:{}", redis.port);
    let stats = redis_keyspace_run(&target);
    let after = redis.commands_processed();
    assert_eq!((stats.requests, stats.errors_total()), (20000, 0));
    // INFO's reply counts the commands before it: the first INFO itself is in the difference.
    assert_eq!(after - before - 1, 20000, "redis counted every SET");
    let keys: u64 = redis.command("DBSIZE").trim_start_matches(':').parse().unwrap();
    assert!((900..=1000).contains(&keys), "{keys} keys");
    assert_eq!(redis.command("GET key:0001").len(), 1, "keys are zero-padded to HI's width");
}

#[test]
fn redis_data_file_counts_per_payload() {
    let redis = Redis::start();
    let dir = temp_dir("redis-list");
    let file = write(&dir, "payloads.txt", "# a mix\nSET a:{{conn}} 1\\r\\n\nINCR counter\\r\\n\n\nPING\\r\\n\n");
    let target = format!("tcp://127.0.0.1:{}", redis.port);
    let before = redis.commands_processed();
    let stats =
        run(&http_config(&[&target, "--data-file", &file, "--until", "\\r\\n", "-n", "3000", "-c", "3", "-t", "1"]));
    let after = redis.commands_processed();
    assert_eq!((stats.requests, stats.errors_total()), (3000, 0));
    assert_eq!(after - before - 1, 3000);
    let client: Vec<u64> = stats.targets.iter().map(|t| t.requests).collect();
    assert_eq!(client, [1000, 1000, 1000]);
    assert_eq!(redis.command("GET counter"), "1000", "INCR ran exactly its count");
    assert_eq!(redis.command("DBSIZE"), ":4", "a:0, a:1, a:2 and counter");
}

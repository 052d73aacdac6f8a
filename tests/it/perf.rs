//! `--perf`, on the real binary against the nginx fixture: the folded stacks are well formed,
//! the top functions are nginx's or the kernel's TCP code, the page embeds the flamegraph; and
//! without perf on PATH the run is refused before any load.

use crate::binary::clobber;
use crate::nginx::Nginx;

/// The tests need perf itself: say how to get it rather than fail obscurely.
fn require_perf() {
    let found =
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("perf").is_file()));
    assert!(found, "perf is not installed: apt-get install linux-perf (scripts/test.sh does it)");
}

#[test]
fn perf_on_nginx_folds_stacks_names_tcp_or_ngx_and_draws_a_flamegraph() {
    require_perf();
    let nginx = Nginx::start();
    let worker = nginx.worker_pid().to_string();
    let dir = std::env::temp_dir().join(format!("clobber-perf-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("page.html");
    let out = clobber(&[
        &nginx.url("/"),
        "-d",
        "2s",
        "-c",
        "8",
        "-t",
        "1",
        "--server-pid",
        &worker,
        "--perf",
        "--perf-out",
        dir.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let profile = &report["profile"];
    assert!(profile["samples"].as_u64().unwrap() > 100, "{profile} {stderr}");
    assert_eq!(profile["frequency_hz"], 999);
    let folded = std::fs::read_to_string(dir.join("perf.folded")).unwrap();
    assert!(!folded.trim().is_empty());
    for line in folded.lines() {
        let (frames, count) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not 'frames count': {line}"));
        assert!(!frames.is_empty() && count.parse::<u64>().is_ok_and(|c| c > 0), "not 'frames count': {line}");
    }
    assert_eq!(profile["folded_file"], dir.join("perf.folded").to_str().unwrap());
    assert_eq!(profile["folded"].as_str(), Some(folded.as_str()), "the JSON carries the folded stacks");
    assert!(dir.join("perf.data").is_file() && dir.join("flamegraph.svg").is_file());
    let top: Vec<&str> = profile["top"].as_array().unwrap().iter().map(|f| f["function"].as_str().unwrap()).collect();
    assert!(!top.is_empty() && top.len() <= 10, "{top:?}");
    let expected = ["tcp_", "ngx_", "__tcp", "ip_", "__sys_", "sock_", "skb_", "__libc_", "epoll"];
    assert!(top.iter().any(|f| expected.iter().any(|p| f.starts_with(p))), "no TCP or nginx frame among {top:?}");
    let html = std::fs::read_to_string(&page).unwrap();
    let at = html.find("<h2>Profile").expect("the page has a Profile section");
    assert!(html[at..].contains("<svg"), "no flamegraph after the Profile heading");
    assert!(!html.contains("<script"), "the page has a script");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn perf_missing_from_path_exits_2_with_the_install_hint_before_any_load() {
    // A target nothing listens on: had a load started, it would have counted connect errors.
    let out = std::process::Command::new(crate::binary::BIN)
        .args(["http://127.0.0.1:9/", "-d", "1s", "--perf", "self"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("perf is not installed: apt-get install linux-perf"), "{stderr}");
    assert!(out.stdout.is_empty(), "a report was printed: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn perf_without_server_pid_exits_2() {
    let out = clobber(&["http://127.0.0.1:9/", "-d", "1s", "--perf"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--server-pid") && stderr.contains("--perf self"), "{stderr}");
}

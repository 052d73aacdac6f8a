//! Unix domain sockets: HTTP to nginx listening on one (`--unix-socket`, keep-alive, pipelined,
//! `--reconnect`, TLS), raw bytes to `clobber serve --listen unix:PATH`, counts on both sides;
//! and the messages and exit codes for a path that is not a socket or where nothing listens.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clobber::config::{ServeConfig, ServeMode};
use clobber::protocol::raw::Delimiter;
use clobber::server::Server;
use clobber::stats::ErrorKind;

use crate::binary::{clobber, ServeProcess};
use crate::nginx::Nginx;
use crate::support::{http_config, run, wait_for};

/// nginx with two more servers on Unix sockets in its directory: plain HTTP logging to
/// `unix.log`, and TLS logging to `unix-tls.log`.
fn nginx_on_unix_sockets() -> (Nginx, String, String) {
    let mut paths = (String::new(), String::new());
    let nginx = Nginx::start_with(|dir, _| {
        let d = dir.display();
        paths = (format!("{d}/http.sock"), format!("{d}/https.sock"));
        let blocks = format!(
            "server {{\n\
               listen unix:{d}/http.sock backlog=4096;\n\
               access_log {d}/unix.log;\n\
               location / {{ return 200 \"hello\\n\"; }}\n\
             }}\n\
             server {{\n\
               listen unix:{d}/https.sock ssl backlog=4096;\n\
               ssl_certificate {d}/cert.pem;\n\
               ssl_certificate_key {d}/key.pem;\n\
               access_log {d}/unix-tls.log;\n\
               location / {{ return 200 \"hello\\n\"; }}\n\
             }}\n"
        );
        (blocks, Vec::new())
    });
    (nginx, paths.0, paths.1)
}

#[test]
fn nginx_on_a_unix_socket_counts_match_keep_alive_pipelined_reconnect_and_tls() {
    let (nginx, http_sock, https_sock) = nginx_on_unix_sockets();
    let ca = nginx.cert_path();
    let mut expected = 0;
    let runs: [&[&str]; 3] = [
        &["-n", "3000", "-c", "10", "-t", "2"],
        &["-n", "2000", "-c", "5", "--pipeline", "8"],
        &["-n", "500", "-c", "4", "--reconnect"],
    ];
    for args in runs {
        let mut words = vec!["http://localhost/x", "--unix-socket", &http_sock, "-d", "60s"];
        words.extend_from_slice(args);
        let stats = run(&http_config(&words));
        let n: u64 = args[1].parse().unwrap();
        expected += n as usize;
        assert_eq!((stats.requests, stats.status[200]), (n, n), "{args:?}");
        assert_eq!(stats.errors_total(), 0, "{args:?}: {:?}", stats.first_error);
        if args.contains(&"--reconnect") {
            assert_eq!(stats.connections_opened, n);
        }
        wait_for(|| nginx.log_lines("unix.log").len() == expected);
        let log = nginx.log_lines("unix.log");
        assert_eq!(log.len(), expected, "{args:?}");
        // Host and path come from the URL, as with curl's --unix-socket.
        assert!(log.iter().all(|l| l.contains("\"GET /x HTTP/1.1\" 200")), "{:?}", log.first());
    }
    assert_eq!(nginx.logged(), 0, "nothing went to the TCP server");
    for args in [&["-n", "1000", "-c", "4"][..], &["-n", "200", "-c", "2", "--reconnect"]] {
        let before = nginx.log_lines("unix-tls.log").len();
        let mut words = vec!["https://localhost/", "--unix-socket", &https_sock, "--cacert", &ca, "-d", "60s"];
        words.extend_from_slice(args);
        let stats = run(&http_config(&words));
        let n: u64 = args[1].parse().unwrap();
        assert_eq!((stats.requests, stats.status[200]), (n, n), "TLS {args:?}: {:?}", stats.first_error);
        assert_eq!(stats.tls_handshakes, stats.connections_opened);
        wait_for(|| nginx.log_lines("unix-tls.log").len() == before + n as usize);
        assert_eq!(nginx.log_lines("unix-tls.log").len(), before + n as usize, "TLS {args:?}");
    }
}

#[test]
fn targets_over_a_unix_socket_count_as_nginx_logs_them() {
    let (nginx, http_sock, _) = nginx_on_unix_sockets();
    let dir = tempdir("targets");
    let file = dir.join("targets.txt");
    // The URLs give Host and the path; the connections go to the socket.
    std::fs::write(&file, "GET http://localhost/t/a\n\nhttp://localhost/t/b\nX-A: 1\n\nGET http://localhost/t/c?x=1\n")
        .unwrap();
    let file = file.display().to_string();
    let stats = run(&http_config(&[
        "--targets",
        &file,
        "--unix-socket",
        &http_sock,
        "-n",
        "3000",
        "-c",
        "6",
        "-t",
        "2",
        "-d",
        "60s",
    ]));
    assert_eq!((stats.requests, stats.status[200]), (3000, 3000));
    assert_eq!(stats.errors_total(), 0, "{:?}", stats.first_error);
    let client: Vec<u64> = stats.targets.iter().map(|t| t.requests).collect();
    assert_eq!(client, [1000, 1000, 1000], "clobber's per-entry counts");
    wait_for(|| nginx.log_lines("unix.log").len() >= 3000);
    let log = nginx.log_lines("unix.log");
    let server: Vec<u64> = ["\"GET /t/a HTTP/1.1\" 200", "\"GET /t/b HTTP/1.1\" 200", "\"GET /t/c?x=1 HTTP/1.1\" 200"]
        .iter()
        .map(|request| log.iter().filter(|l| l.contains(request)).count() as u64)
        .collect();
    assert_eq!((server, log.len()), (client, 3000), "nginx's log");
    assert_eq!(nginx.logged(), 0, "nothing went to the TCP server");
    let _ = std::fs::remove_dir_all(dir);
}

fn serve_unix(path: &std::path::Path, mode: ServeMode) -> Server {
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        unix: Some(path.to_path_buf()),
        mode,
        until: Delimiter::new(b"\n"),
        respond: None,
        threads: 2,
        cpus: None,
        delay: None,
        stall: None,
        tls: None,
    };
    Server::start(&config, Arc::new(AtomicBool::new(false))).expect("server starts")
}

#[test]
fn serve_on_a_unix_socket_counts_equal_the_clients() {
    let dir = tempdir("serve");
    let path = dir.join("echo.sock");
    let server = serve_unix(&path, ServeMode::Echo);
    assert_eq!(server.listening_on(), format!("unix:{}", path.display()));
    let target = format!("unix:{}", path.display());
    let mut total = 0;
    for args in [&["-n", "20000", "-c", "8", "--pipeline", "16"][..], &["-n", "2000", "-c", "4", "--reconnect"]] {
        let mut words = vec![target.as_str(), "--data", "ping\\n", "--until", "\\n", "-d", "60s", "-t", "2"];
        words.extend_from_slice(args);
        let stats = run(&http_config(&words));
        let n: u64 = args[1].parse().unwrap();
        total += n;
        assert_eq!(stats.requests, n, "{args:?}");
        assert_eq!(stats.errors_total(), 0, "{args:?}: {:?}", stats.first_error);
        assert_eq!(stats.bytes_received, 5 * n);
    }
    let counts = server.stop().unwrap();
    assert_eq!(counts.requests, total, "the server counted what the client did");
    assert!(!path.exists(), "the socket file is removed when the server stops");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serve_binary_listens_on_a_unix_socket_and_http_runs_over_it() {
    let dir = tempdir("serve-bin");
    let path = dir.join("http.sock").display().to_string();
    let listen = format!("unix:{path}");
    let server = ServeProcess::start(&["--listen", &listen, "--mode", "http"]);
    assert_eq!(server.addr, listen);
    let out =
        clobber(&["http://localhost/", "--unix-socket", &path, "-n", "3000", "-c", "6", "--pipeline", "4", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["requests"], 3000);
    assert_eq!(json["status"]["200"], 3000);
    assert_eq!(json["address"], listen.as_str());
    let (requests, _) = server.stop();
    assert_eq!(requests, 3000);
    assert!(!std::path::Path::new(&path).exists(), "serve removes its socket at exit");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_path_that_is_not_a_socket_exits_2_and_one_nobody_listens_on_exits_1() {
    let dir = tempdir("bad");
    let file = dir.join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let file = file.display().to_string();
    let missing = dir.join("missing.sock").display().to_string();
    for (words, flag, path, why) in [
        (vec![format!("unix:{file}"), "--data".into(), "x".into()], "TARGET", &file, "not a socket"),
        (vec![format!("unix:{missing}"), "--data".into(), "x".into()], "TARGET", &missing, "no such file"),
        (
            vec!["http://localhost/".into(), "--unix-socket".into(), missing.clone()],
            "--unix-socket",
            &missing,
            "no such file",
        ),
    ] {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let out = clobber(&words);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{words:?}: {stderr}");
        assert!(stderr.contains(flag) && stderr.contains(path.as_str()) && stderr.contains(why), "{stderr}");
    }
    // A socket file nobody listens on: every connect is refused, by kind, and the run ends.
    let dead = dir.join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    let dead_target = format!("unix:{}", dead.display());
    let stats = run(&http_config(&[&dead_target, "--data", "x", "-n", "10", "--give-up", "300ms"]));
    assert_eq!(stats.requests, 0);
    assert!(stats.error_count(ErrorKind::ConnectRefused) > 0, "{:?}", stats.first_error);
    assert_eq!(stats.errors_total(), stats.error_count(ErrorKind::ConnectRefused));
    let out = clobber(&[&dead_target, "--data", "x", "-n", "10", "--give-up", "300ms"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("connect refused"));
    // serve refuses a path that is not a socket, and one a live server listens on.
    let out = clobber(&["serve", "--listen", &format!("unix:{file}")]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let live = dir.join("live.sock");
    let server = serve_unix(&live, ServeMode::Echo);
    let out = clobber(&["serve", "--listen", &format!("unix:{}", live.display())]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listens on this socket already"));
    assert!(live.exists(), "the live server's socket was left alone");
    server.stop().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("clobber-unix-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

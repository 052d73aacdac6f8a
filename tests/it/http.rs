//! HTTP load against nginx (its access log is the server-side count), against `clobber serve
//! --mode http`, and against scripted servers that split, close, lie and fail.

use std::time::Duration;

use clobber::config::ServeMode;
use clobber::stats::{ErrorKind, WorkerStats};

use crate::nginx::Nginx;
use crate::support::{http_config, run, serve, wait_for, Dribble, Script};

fn status(stats: &WorkerStats, code: usize) -> u64 {
    stats.status[code]
}

#[test]
fn nginx_counts_match_keep_alive_reconnect_and_pipelined() {
    let nginx = Nginx::start();
    let url = nginx.url("/");
    let mut expected = 0;
    let runs: [&[&str]; 3] = [
        &["-n", "5000", "-c", "20", "-t", "2"],
        &["-n", "1000", "-c", "10", "--reconnect"],
        &["-n", "4000", "-c", "10", "--pipeline", "8"],
    ];
    for args in runs {
        let mut words = vec![url.as_str(), "-d", "60s"];
        words.extend_from_slice(args);
        let stats = run(&http_config(&words));
        let n: u64 = args[1].parse().unwrap();
        expected += n as usize;
        assert_eq!(stats.requests, n, "{args:?}");
        assert_eq!(status(&stats, 200), n, "{args:?}");
        assert_eq!(stats.errors_total(), 0, "{args:?}: {:?}", stats.first_error);
        if args.contains(&"--reconnect") {
            assert_eq!(stats.connections_opened, n);
        }
        // The access log is written as each response goes out; allow nginx a moment.
        wait_for(|| nginx.logged() == expected);
        assert_eq!(nginx.logged(), expected, "{args:?}");
    }
}

#[test]
fn nginx_keepalive_limit_closes_are_not_errors() {
    let nginx = Nginx::start();
    for pipeline in ["1", "8"] {
        let before = nginx.logged();
        let stats =
            run(&http_config(&[&nginx.limited_url(), "-n", "2000", "-c", "10", "-d", "60s", "--pipeline", pipeline]));
        assert_eq!(stats.requests, 2000);
        assert_eq!(stats.errors_total(), 0, "pipeline {pipeline}: {:?}", stats.first_error);
        assert!(stats.connections_opened >= 200, "nginx closes every 10 requests: {}", stats.connections_opened);
        wait_for(|| nginx.logged() - before == 2000);
        assert_eq!(nginx.logged() - before, 2000);
    }
}

#[test]
fn nginx_404_is_counted_and_expect_status_makes_it_an_error() {
    let nginx = Nginx::start();
    let stats = run(&http_config(&[&nginx.url("/missing"), "-n", "300", "-c", "3", "-d", "60s"]));
    assert_eq!((stats.requests, status(&stats, 404), status(&stats, 200)), (300, 300, 0));
    assert_eq!(stats.errors_total(), 0);
    let stats =
        run(&http_config(&[&nginx.url("/missing"), "-n", "300", "-c", "3", "-d", "60s", "--expect-status", "2xx"]));
    assert_eq!(stats.error_count(ErrorKind::Status), 300);
    assert_eq!(stats.successes(), 0);
    wait_for(|| nginx.logged_with_status(404) == 600);
    assert_eq!(nginx.logged_with_status(404), 600);
}

#[test]
fn clobber_serve_http_counts_match() {
    let runs: [&[&str]; 3] = [
        &["-n", "5000", "-c", "20", "-t", "2"],
        &["-n", "1000", "-c", "10", "--reconnect"],
        &["-n", "4000", "-c", "10", "--pipeline", "8"],
    ];
    for args in runs {
        let server = serve(ServeMode::Http, None);
        let url = format!("http://{}/", server.local_addr());
        let mut words = vec![url.as_str(), "-d", "60s"];
        words.extend_from_slice(args);
        let stats = run(&http_config(&words));
        let seen = server.stop().unwrap();
        let n: u64 = args[1].parse().unwrap();
        assert_eq!((stats.requests, seen.requests), (n, n), "{args:?}");
        assert_eq!(stats.errors_total(), 0, "{args:?}");
        assert_eq!(stats.connections_opened, seen.connections, "{args:?}");
    }
}

/// What `clobber serve --mode http` answers to `request`, sent on one connection, read until
/// it closes (or 5 s pass).
fn serve_answer(request: &[u8]) -> (String, clobber::server::ServeCounts) {
    use std::io::{Read, Write};
    let server = serve(ServeMode::Http, None);
    let mut tcp = std::net::TcpStream::connect(server.local_addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    (String::from_utf8_lossy(&answer).into_owned(), server.stop().unwrap())
}

#[test]
fn clobber_serve_frames_requests_as_the_client_frames_responses() {
    let ok = "HTTP/1.1 200 OK\r\n";
    // `close` among other Connection tokens closes after the response.
    let (answer, seen) = serve_answer(b"GET / HTTP/1.1\r\nConnection: Upgrade, close\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    assert_eq!((answer.matches(ok).count(), seen.requests), (1, 1), "{answer}");
    // A chunked body is skipped, not read as the next request.
    let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nGET\r\n0\r\n\r\n";
    let (answer, seen) = serve_answer(&[&chunked[..], b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"].concat());
    assert_eq!((answer.matches(ok).count(), seen.requests), (2, 2), "{answer}");
    // A bad Content-Length is a 400 and a close, not a body of 0 bytes.
    let (answer, seen) = serve_answer(b"POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{answer}");
    assert_eq!((answer.matches(ok).count(), seen.requests), (0, 0), "{answer}");
}

fn dribble_http(script: Script, args: &[&str]) -> (WorkerStats, Dribble) {
    let server = Dribble::start(script);
    let url = format!("http://{}/", server.addr);
    let mut words = vec![url.as_str(), "-d", "20s"];
    words.extend_from_slice(args);
    let stats = run(&http_config(&words));
    (stats, server)
}

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
    5;ext=1\r\nhello\r\n10 ; a=\"b\"\r\n0123456789abcdef\r\n0\r\nX-Trailer: yes\r\nExpires: 0\r\n\r\n";

#[test]
fn chunked_with_extensions_and_trailers_split_at_every_byte() {
    let (stats, server) =
        dribble_http(Script::http(CHUNKED).chunked(1, Duration::from_micros(50)), &["-n", "20", "-c", "2"]);
    assert_eq!((stats.requests, server.requests()), (20, 20));
    assert_eq!(stats.errors_total(), 0, "{:?}", stats.first_error);
    assert_eq!(stats.bytes_received, 20 * CHUNKED.len() as u64);
}

#[test]
fn many_chunked_responses_in_one_read() {
    let (stats, server) = dribble_http(Script::http(CHUNKED), &["-n", "800", "-c", "4", "--pipeline", "16"]);
    assert_eq!((stats.requests, server.requests()), (800, 800));
    assert_eq!(stats.errors_total(), 0);
}

#[test]
fn ten_mib_body_streams_through() {
    let mut response = b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n".to_vec();
    response.resize(response.len() + 10 * 1024 * 1024, b'b');
    let (stats, server) =
        dribble_http(Script::http(&response).chunked(64 * 1024, Duration::ZERO), &["-n", "6", "-c", "2"]);
    assert_eq!((stats.requests, server.requests()), (6, 6));
    assert_eq!(stats.bytes_received, 6 * response.len() as u64);
    assert_eq!(stats.errors_total(), 0);
}

#[test]
fn head_204_and_304_have_no_body() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    let (stats, _server) = dribble_http(Script::http(head), &["-n", "50", "-c", "2", "-m", "HEAD"]);
    assert_eq!((stats.requests, stats.errors_total()), (50, 0));
    for response in
        [&b"HTTP/1.1 204 No Content\r\n\r\n"[..], b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"]
    {
        let (stats, server) = dribble_http(Script::http(response), &["-n", "50", "-c", "2", "--pipeline", "4"]);
        assert_eq!((stats.requests, server.requests(), stats.errors_total()), (50, 50, 0));
    }
}

#[test]
fn server_closing_every_n_responses_is_not_an_error() {
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    for pipeline in ["1", "4"] {
        let (stats, server) =
            dribble_http(Script::http(ok).close_after(7), &["-n", "700", "-c", "4", "--pipeline", pipeline]);
        assert_eq!((stats.requests, server.requests()), (700, 700), "pipeline {pipeline}");
        assert_eq!(stats.errors_total(), 0, "pipeline {pipeline}: {:?}", stats.first_error);
        // The scripted server accepts on a 2 ms poll: let it catch up with the last connect.
        wait_for(|| server.connections() == stats.connections_opened);
        assert_eq!(stats.connections_opened, server.connections());
        assert!(stats.connections_opened >= 100);
    }
}

#[test]
fn response_without_length_ends_at_close() {
    let response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nthe body runs to the close";
    let (stats, server) = dribble_http(
        Script::http(response).chunked(7, Duration::from_micros(100)).close_after(1),
        &["-n", "40", "-c", "2"],
    );
    assert_eq!((stats.requests, server.requests()), (40, 40));
    assert_eq!(stats.errors_total(), 0);
    assert_eq!(stats.connections_opened, 40);
}

#[test]
fn malformed_status_line_and_bad_chunk_size_are_protocol_errors() {
    let bad_status = b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n";
    let bad_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
    for response in [&bad_status[..], &bad_chunk[..]] {
        let (stats, server) = dribble_http(Script::http(response), &["-d", "500ms", "-c", "2"]);
        assert_eq!(stats.requests, 0);
        let errors = stats.error_count(ErrorKind::Protocol);
        assert!(errors >= 2, "protocol errors: {errors}");
        assert_eq!(errors, stats.errors_total());
        // Each protocol error closed its connection; the run replaced it and went on.
        assert!(server.connections() >= errors);
    }
}

#[test]
fn a_404_is_counted_as_such() {
    let response = b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n";
    let (stats, server) = dribble_http(Script::http(response), &["-n", "30", "-c", "2"]);
    assert_eq!((stats.requests, server.requests(), status(&stats, 404)), (30, 30, 30));
    assert_eq!(stats.errors_total(), 0);
    let (stats, _) = dribble_http(Script::http(response), &["-n", "30", "-c", "2", "--expect-status", "200"]);
    assert_eq!((stats.requests, stats.error_count(ErrorKind::Status), stats.successes()), (30, 30, 0));
}

//! Raw TCP load against real servers, with the counts of both sides compared.

use std::time::{Duration, Instant};

use clobber::config::ServeMode;
use clobber::stats::ErrorKind;

use crate::support::{config, dead_addr, run, serve, Dribble, Script};

#[test]
fn keep_alive_completes_exactly_n_and_the_server_agrees() {
    let server = serve(ServeMode::Echo, None);
    let c = config(
        server.local_addr(),
        &["-n", "10000", "-c", "50", "-t", "2", "-d", "60s", "--data", r"ping\n", "--until", r"\n"],
    );
    let stats = run(&c);
    let seen = server.stop().unwrap();
    assert_eq!(stats.requests, 10_000);
    assert_eq!(seen.requests, 10_000);
    assert_eq!(stats.connections_opened, 50);
    assert_eq!(seen.connections, 50);
    assert_eq!(stats.errors_total(), 0);
    assert_eq!(stats.in_flight_at_end, 0);
    assert_eq!(stats.bytes_sent, 50_000);
    assert_eq!(stats.bytes_received, 50_000);
    assert_eq!(stats.latency_us.len(), 10_000);
}

#[test]
fn pipelined_16_completes_exactly_n_and_the_server_agrees() {
    let server = serve(ServeMode::Echo, None);
    // 10,007 is not a multiple of 16 or of the 2 workers' shares: the last batches are short.
    let c = config(
        server.local_addr(),
        &["-n", "10007", "-c", "10", "-t", "2", "-d", "60s", "--data", r"ping\n", "--until", r"\n", "--pipeline", "16"],
    );
    let stats = run(&c);
    let seen = server.stop().unwrap();
    assert_eq!(stats.requests, 10_007);
    assert_eq!(seen.requests, 10_007);
    assert_eq!(stats.errors_total(), 0);
}

#[test]
fn reconnect_opens_one_connection_per_request() {
    let server = serve(ServeMode::Echo, None);
    let c = config(
        server.local_addr(),
        &["-n", "2000", "-c", "20", "-d", "60s", "--data", r"ping\n", "--until", r"\n", "--reconnect"],
    );
    let stats = run(&c);
    let seen = server.stop().unwrap();
    assert_eq!(stats.requests, 2000);
    assert_eq!(stats.connections_opened, 2000);
    assert_eq!(seen.requests, 2000);
    assert_eq!(seen.connections, 2000);
    assert_eq!(stats.errors_total(), 0);
}

#[test]
fn expect_bytes_frames_fixed_replies_pipelined() {
    let reply = [b'r'; 100];
    let server = serve(ServeMode::Echo, Some(&reply));
    let c = config(
        server.local_addr(),
        &["-n", "5000", "-c", "8", "-d", "60s", "--data", r"q\n", "--expect-bytes", "100", "--pipeline", "8"],
    );
    let stats = run(&c);
    let seen = server.stop().unwrap();
    assert_eq!((stats.requests, seen.requests), (5000, 5000));
    assert_eq!(stats.bytes_received, 500_000);
    assert_eq!(stats.errors_total(), 0);
}

#[test]
fn http_mode_server_answers_raw_http_requests() {
    let server = serve(ServeMode::Http, None);
    let response_len = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Type: text/plain\r\n\r\nhello\n".len();
    let c = config(
        server.local_addr(),
        &[
            "-n",
            "3000",
            "-c",
            "4",
            "-d",
            "60s",
            "--data",
            r"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            "--expect-bytes",
            &response_len.to_string(),
            "--pipeline",
            "4",
        ],
    );
    let stats = run(&c);
    let seen = server.stop().unwrap();
    assert_eq!((stats.requests, seen.requests), (3000, 3000));
    assert_eq!(stats.errors_total(), 0);
}

fn dribbled(script: Script, args: &[&str]) -> (clobber::stats::WorkerStats, Dribble) {
    let server = Dribble::start(script);
    let c = config(server.addr, args);
    let stats = run(&c);
    (stats, server)
}

#[test]
fn until_frames_responses_split_across_many_reads() {
    let script = Script::raw(b"pong-pong-pong\r\n").chunked(1, Duration::from_micros(300));
    let (stats, server) =
        dribbled(script, &["-n", "40", "-c", "4", "-d", "30s", "--data", r"ping\n", "--until", r"\r\n"]);
    assert_eq!((stats.requests, server.requests()), (40, 40));
    assert_eq!(stats.errors_total(), 0);
    assert_eq!(stats.bytes_received, 40 * 16);
}

#[test]
fn until_frames_several_responses_in_one_read() {
    let script = Script::raw(b"pong\r\n");
    let (stats, server) = dribbled(
        script,
        &["-n", "800", "-c", "4", "-d", "30s", "--data", r"ping\n", "--until", r"\r\n", "--pipeline", "8"],
    );
    assert_eq!((stats.requests, server.requests()), (800, 800));
    assert_eq!(stats.errors_total(), 0);
}

#[test]
fn expect_bytes_frames_responses_split_across_many_reads() {
    let script = Script::raw(&[b'x'; 23]).chunked(3, Duration::from_micros(300));
    let (stats, server) =
        dribbled(script, &["-n", "40", "-c", "4", "-d", "30s", "--data", r"ping\n", "--expect-bytes", "23"]);
    assert_eq!((stats.requests, server.requests()), (40, 40));
    assert_eq!(stats.errors_total(), 0);
}

#[test]
fn expect_bytes_frames_several_responses_in_one_read() {
    let script = Script::raw(&[b'x'; 23]);
    let (stats, server) = dribbled(
        script,
        &["-n", "800", "-c", "4", "-d", "30s", "--data", r"ping\n", "--expect-bytes", "23", "--pipeline", "8"],
    );
    assert_eq!((stats.requests, server.requests()), (800, 800));
    assert_eq!(stats.errors_total(), 0);
}

#[test]
fn until_close_frames_a_response_ended_by_the_server() {
    let script = Script::raw(b"whole reply, in pieces").chunked(5, Duration::from_micros(300)).close_after(1);
    let (stats, server) = dribbled(script, &["-n", "60", "-c", "3", "-d", "30s", "--data", r"ping\n", "--until-close"]);
    assert_eq!((stats.requests, server.requests()), (60, 60));
    assert_eq!(stats.connections_opened, 60);
    assert_eq!(server.connections(), 60);
    assert_eq!(stats.errors_total(), 0);
    assert_eq!(stats.bytes_received, 60 * 22);
}

#[test]
fn server_closing_mid_response_is_a_protocol_error_and_the_run_goes_on() {
    // The server sends 5 of the 10 bytes expected, then closes: every request fails, none hangs.
    let script = Script::raw(b"12345").close_after(1);
    let (stats, server) = dribbled(script, &["-d", "1s", "-c", "2", "--data", r"ping\n", "--expect-bytes", "10"]);
    assert_eq!(stats.requests, 0);
    assert!(stats.error_count(ErrorKind::Protocol) > 10, "protocol errors: {}", stats.error_count(ErrorKind::Protocol));
    // Requests the server answered just as the run ended may not have been read by the client.
    let errors = stats.error_count(ErrorKind::Protocol);
    assert!(
        errors <= server.requests() && server.requests() - errors <= 2,
        "{errors} errors, {} served",
        server.requests()
    );
}

#[test]
fn nothing_listening_ends_on_time_with_connect_errors() {
    let c = config(dead_addr(), &["-d", "1s", "-c", "4", "--data", "x"]);
    let started = Instant::now();
    let stats = run(&c);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(stats.requests, 0);
    assert!(stats.error_count(ErrorKind::ConnectRefused) > 0);
    assert_eq!(stats.errors_total(), stats.error_count(ErrorKind::ConnectRefused));
}

#[test]
fn duration_bounds_an_unbounded_run() {
    let server = serve(ServeMode::Echo, None);
    let c = config(server.local_addr(), &["-d", "500ms", "-c", "4", "--data", r"ping\n", "--until", r"\n"]);
    let stats = run(&c);
    let seen = server.stop().unwrap();
    assert!(stats.requests > 0);
    assert!(
        stats.elapsed >= Duration::from_millis(500) && stats.elapsed < Duration::from_secs(2),
        "{:?}",
        stats.elapsed
    );
    // Every request the client completed reached the server; the ones in flight may have too.
    assert!(seen.requests >= stats.requests && seen.requests <= stats.requests + stats.in_flight_at_end);
}

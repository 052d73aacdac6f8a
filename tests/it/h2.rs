//! HTTP/2 (`--http2`) against real servers, counted on both sides: nginx (h2c and TLS, its
//! access log's `$server_protocol` is `HTTP/2.0`), h2o (h2c and TLS), and servers written here
//! that misbehave in one way each, every run ending on time with the right error kind.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clobber::protocol::h2::frame::{self, code, flag, kind, setting, FrameHeader, HEADER_LEN, PREFACE};
use clobber::protocol::h2::hpack;
use clobber::stats::{ErrorKind, WorkerStats};

use crate::nginx::Nginx;
use crate::support::{http_config, run, wait_for};

/// nginx with three HTTP/2 servers: h2c, h2c closing each connection after 1,000 requests (a
/// GOAWAY), and TLS; each logs `status protocol` per request.
fn nginx_h2() -> Nginx {
    Nginx::start_with(|dir, free_port| {
        let (plain, limited, tls) = (free_port(), free_port(), free_port());
        let d = dir.display();
        let blocks = format!(
            "log_format h2 '$status $server_protocol';\n\
             server {{ listen 127.0.0.1:{plain} http2 backlog=4096; access_log {d}/h2.log h2;\n\
               location / {{ return 200 \"hello\\n\"; }} }}\n\
             server {{ listen 127.0.0.1:{limited} http2 backlog=4096; access_log {d}/h2-limited.log h2;\n\
               keepalive_requests 1000; location / {{ return 200 \"hello\\n\"; }} }}\n\
             server {{ listen 127.0.0.1:{tls} ssl http2 backlog=4096; access_log {d}/h2-tls.log h2;\n\
               ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;\n\
               location / {{ return 200 \"hello\\n\"; }} }}\n"
        );
        (blocks, vec![plain, limited, tls])
    })
}

/// The requests nginx logged in `log`, all of which must be HTTP/2 200s.
fn logged_h2(nginx: &Nginx, log: &str) -> usize {
    let lines = nginx.log_lines(log);
    assert!(lines.iter().all(|l| l == "200 HTTP/2.0"), "not all HTTP/2 200s: {:?}", &lines[..lines.len().min(5)]);
    lines.len()
}

fn h2_run(url: &str, args: &[&str]) -> WorkerStats {
    let mut words = vec![url, "--http2"];
    words.extend_from_slice(args);
    run(&http_config(&words))
}

/// Asserts that the run had errors, all of the given kinds.
fn assert_only(stats: &WorkerStats, kinds: &[ErrorKind]) {
    let counted: u64 = kinds.iter().map(|&k| stats.error_count(k)).sum();
    assert!(counted > 0, "no error of kind {kinds:?}: {:?} {:?}", stats.errors, stats.first_error);
    assert_eq!(counted, stats.errors_total(), "other kinds too: {:?} {:?}", stats.errors, stats.first_error);
}

#[test]
fn nginx_h2c_counts_agree_at_1_and_100_streams() {
    let nginx = nginx_h2();
    let url = format!("http://127.0.0.1:{}/", nginx.extra_ports[0]);
    let stats = h2_run(&url, &["-n", "2000", "-c", "4", "-t", "1"]);
    assert_eq!((stats.requests, stats.status[200]), (2000, 2000), "{:?}", stats.first_error);
    assert_eq!(stats.errors_total(), 0, "{:?}", stats.first_error);
    assert_eq!(stats.ttfb_us.len(), 2000, "a time to first byte per response");
    wait_for(|| nginx.log_lines("h2.log").len() == 2000);
    assert_eq!(logged_h2(&nginx, "h2.log"), 2000);
    let stats = h2_run(&url, &["-n", "20000", "-c", "4", "-t", "2", "--streams", "100"]);
    assert_eq!((stats.requests, stats.status[200]), (20000, 20000), "{:?}", stats.first_error);
    assert_eq!(stats.errors_total(), 0, "{:?}", stats.first_error);
    assert_eq!(stats.connections_opened, 4);
    assert_eq!(stats.h2_server_max_streams, Some(128), "nginx's default http2_max_concurrent_streams");
    wait_for(|| nginx.log_lines("h2.log").len() == 22000);
    assert_eq!(logged_h2(&nginx, "h2.log"), 22000);
}

#[test]
fn nginx_h2c_reconnect_is_one_stream_per_connection() {
    let nginx = nginx_h2();
    let url = format!("http://127.0.0.1:{}/", nginx.extra_ports[0]);
    let stats = h2_run(&url, &["-n", "300", "-c", "3", "-t", "1", "--reconnect", "--streams", "10"]);
    assert_eq!((stats.requests, stats.connections_opened), (300, 300), "{:?}", stats.first_error);
    assert_eq!(stats.errors_total(), 0, "{:?}", stats.first_error);
    wait_for(|| nginx.log_lines("h2.log").len() == 300);
    assert_eq!(logged_h2(&nginx, "h2.log"), 300);
}

#[test]
fn nginx_goaways_lose_and_double_nothing() {
    // keepalive_requests 1000: nginx sends GOAWAY after 1,000 streams on a connection.
    let nginx = nginx_h2();
    let url = format!("http://127.0.0.1:{}/", nginx.extra_ports[1]);
    let stats = h2_run(&url, &["-n", "20000", "-c", "4", "-t", "1", "--streams", "50"]);
    assert_eq!((stats.requests, stats.status[200]), (20000, 20000), "{:?}", stats.first_error);
    assert_eq!(stats.errors_total(), 0, "{:?}", stats.first_error);
    assert!(stats.h2_goaways >= 16, "a GOAWAY per 1,000 streams: {}", stats.h2_goaways);
    assert!(stats.connections_opened >= 20, "{} connections", stats.connections_opened);
    wait_for(|| nginx.log_lines("h2-limited.log").len() == 20000);
    assert_eq!(logged_h2(&nginx, "h2-limited.log"), 20000);
}

#[test]
fn nginx_h2_over_tls_by_alpn() {
    let nginx = nginx_h2();
    let url = format!("https://127.0.0.1:{}/", nginx.extra_ports[2]);
    let ca = nginx.cert_path();
    let stats = h2_run(&url, &["-n", "3000", "-c", "3", "-t", "1", "--streams", "20", "--cacert", &ca]);
    assert_eq!((stats.requests, stats.status[200]), (3000, 3000), "{:?}", stats.first_error);
    assert_eq!(stats.errors_total(), 0, "{:?}", stats.first_error);
    assert_eq!(stats.tls_handshakes, 3);
    wait_for(|| nginx.log_lines("h2-tls.log").len() == 3000);
    assert_eq!(logged_h2(&nginx, "h2-tls.log"), 3000);
    // A TLS server without http2 selects no protocol: h2_alpn, saying so, and the run ends.
    let started = Instant::now();
    let stats = h2_run(&nginx.tls_url(), &["-n", "10", "-c", "1", "--cacert", &ca]);
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(stats.requests, 0);
    assert_only(&stats, &[ErrorKind::H2Alpn]);
    let message = stats.first_error[ErrorKind::H2Alpn as usize].clone().unwrap();
    assert!(message.contains("did not select h2"), "{message}");
    assert_eq!(nginx.tls_logged().0, 0);
}

#[test]
fn a_tls_server_refusing_h2_by_alert_is_h2_alpn() {
    use clobber::config::ServeMode;
    // `serve --mode http --tls` offers ALPN http/1.1 only; rustls, offered h2 alone, ends the
    // handshake with the no_application_protocol alert (as nginx without http2 does).
    let server = crate::support::serve_with(ServeMode::Http, |c| c.tls = Some(clobber::net::tls::self_signed()));
    let url = format!("https://127.0.0.1:{}/", server.local_addr().port());
    let started = Instant::now();
    let stats = h2_run(&url, &["-n", "10", "-c", "1", "-k"]);
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(stats.requests, 0);
    assert_only(&stats, &[ErrorKind::H2Alpn]);
    let message = stats.first_error[ErrorKind::H2Alpn as usize].clone().unwrap();
    assert!(message.contains("refused the handshake"), "{message}");
    assert_eq!(server.stop().unwrap().requests, 0);
}

/// h2o, one thread, on a free port, h2c and TLS, its access log `status protocol`.
struct H2o {
    port: u16,
    port_tls: u16,
    dir: PathBuf,
    child: Child,
}

impl H2o {
    fn start() -> H2o {
        let free = || TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (port, port_tls) = (free(), free());
        let dir = std::env::temp_dir().join(format!("clobber-h2o-{}-{port}", std::process::id()));
        std::fs::create_dir_all(dir.join("www")).unwrap();
        std::fs::write(dir.join("www/index.html"), "hello\n").unwrap();
        let identity = clobber::net::tls::self_signed();
        std::fs::write(dir.join("cert.pem"), &identity.cert_pem).unwrap();
        std::fs::write(dir.join("key.pem"), &identity.key_pem).unwrap();
        // h2o as root drops privileges: what it serves must be readable by anyone.
        let _ = Command::new("chmod").args(["-R", "a+rX"]).arg(&dir).status();
        let d = dir.display();
        let conf = format!(
            "num-threads: 1\n\
             listen:\n  host: 127.0.0.1\n  port: {port}\n\
             listen:\n  host: 127.0.0.1\n  port: {port_tls}\n  ssl:\n    certificate-file: {d}/cert.pem\n    key-file: {d}/key.pem\n\
             hosts:\n  default:\n    paths:\n      /:\n        file.dir: {d}/www\n\
             access-log:\n  path: {d}/access.log\n  format: \"%s %H\"\n\
             error-log: {d}/error.log\n"
        );
        std::fs::write(dir.join("h2o.conf"), conf).unwrap();
        let child = Command::new("h2o")
            .arg("-c")
            .arg(dir.join("h2o.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("h2o is installed (apt-get install h2o, or run scripts/test.sh)");
        let h2o = H2o { port, port_tls, dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() || TcpStream::connect(("127.0.0.1", port_tls)).is_err() {
            assert!(Instant::now() < deadline, "h2o did not listen");
            thread::sleep(Duration::from_millis(20));
        }
        h2o
    }

    fn logged(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
        log.lines().map(String::from).collect()
    }
}

impl Drop for H2o {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn h2o_h2c_and_tls_counts_and_statuses() {
    let h2o = H2o::start();
    let url = format!("http://127.0.0.1:{}/index.html", h2o.port);
    let stats = h2_run(&url, &["-n", "5000", "-c", "5", "-t", "1", "--streams", "100"]);
    assert_eq!((stats.requests, stats.status[200]), (5000, 5000), "{:?}", stats.first_error);
    assert_eq!(stats.errors_total(), 0, "{:?}", stats.first_error);
    let missing = format!("http://127.0.0.1:{}/missing", h2o.port);
    let stats = h2_run(&missing, &["-n", "100", "-c", "1", "-t", "1"]);
    assert_eq!((stats.requests, stats.status[404]), (100, 100), "{:?}", stats.first_error);
    let tls = format!("https://127.0.0.1:{}/index.html", h2o.port_tls);
    let stats = h2_run(&tls, &["-n", "2000", "-c", "2", "-t", "1", "--streams", "10", "-k"]);
    assert_eq!((stats.requests, stats.status[200]), (2000, 2000), "{:?}", stats.first_error);
    assert_eq!(stats.errors_total(), 0, "{:?}", stats.first_error);
    wait_for(|| h2o.logged().len() == 7100);
    let logged = h2o.logged();
    assert_eq!(logged.iter().filter(|l| *l == "200 HTTP/2").count(), 7000, "{:?}", &logged[..5.min(logged.len())]);
    assert_eq!(logged.iter().filter(|l| *l == "404 HTTP/2").count(), 100);
}

/// A server that reads the client's frames and answers each with what `behave` returns;
/// `greeting` goes out first. Counts connections and HEADERS frames (requests) it saw.
struct Misbehaving {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

type Behave = fn(FrameHeader, &[u8]) -> Vec<u8>;

impl Misbehaving {
    fn start(greeting: Vec<u8>, behave: Behave) -> Misbehaving {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (requests.clone(), stop.clone());
        thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (greeting, r, s) = (greeting.clone(), r.clone(), s.clone());
                        thread::spawn(move || serve_frames(stream, &greeting, behave, &r, &s));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Misbehaving { addr, requests, stop }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for Misbehaving {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_frames(mut stream: TcpStream, greeting: &[u8], behave: Behave, requests: &AtomicU64, stop: &AtomicBool) {
    stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    if stream.write_all(greeting).is_err() {
        return;
    }
    let mut input = Vec::new();
    let mut buf = [0u8; 16384];
    let mut preface_read = false;
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => input.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(_) => return,
        }
        if !preface_read {
            if input.len() < PREFACE.len() {
                continue;
            }
            assert_eq!(&input[..PREFACE.len()], PREFACE, "the client's preface");
            input.drain(..PREFACE.len());
            preface_read = true;
        }
        let mut used = 0;
        let mut out = Vec::new();
        while let Ok(Some((h, payload))) = frame::split(&input[used..], 1 << 20) {
            used += HEADER_LEN + payload.len();
            if h.kind == kind::HEADERS {
                requests.fetch_add(1, Ordering::Relaxed);
            }
            out.extend(behave(h, payload));
        }
        input.drain(..used);
        if !out.is_empty() && stream.write_all(&out).is_err() {
            return;
        }
    }
}

fn settings(values: &[(u16, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::write_settings(&mut out, values);
    out
}

/// A `:status 200` response with a 6-byte body on stream `id`.
fn response(id: u32) -> Vec<u8> {
    let mut block = Vec::new();
    hpack::encode(&[(b":status", b"200")], &mut block);
    let mut out = Vec::new();
    frame::write_headers(&mut out, id, false, &block, 16384);
    frame::write_data(&mut out, id, b"hello\n", true, 16384);
    out
}

/// Runs one second against `server`, 2 connections, a 300 ms timeout: it must end on time.
fn misbehaved(server: &Misbehaving, extra: &[&str]) -> WorkerStats {
    let url = server.url();
    let mut args = vec!["-d", "1s", "-c", "2", "-t", "1", "--timeout", "300ms"];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let stats = h2_run(&url, &args);
    assert!(started.elapsed() < Duration::from_secs(3), "the run took {:?}", started.elapsed());
    stats
}

#[test]
fn a_server_that_never_sends_settings_is_a_protocol_error() {
    let server = Misbehaving::start(Vec::new(), |_, _| Vec::new());
    let stats = misbehaved(&server, &[]);
    assert_eq!(stats.requests, 0);
    assert_only(&stats, &[ErrorKind::H2Protocol]);
    let message = stats.first_error[ErrorKind::H2Protocol as usize].clone().unwrap();
    assert!(message.contains("no SETTINGS"), "{message}");
}

#[test]
fn a_server_that_sends_a_bad_frame_is_a_protocol_error() {
    // A PING of 3 bytes: FRAME_SIZE_ERROR.
    let server = Misbehaving::start(settings(&[]), |h, _| {
        let mut out = Vec::new();
        if h.kind == kind::HEADERS {
            FrameHeader { len: 3, kind: kind::PING, flags: 0, stream_id: 0 }.write(&mut out);
            out.extend_from_slice(b"abc");
        }
        out
    });
    let stats = misbehaved(&server, &[]);
    assert_eq!(stats.requests, 0);
    assert_only(&stats, &[ErrorKind::H2Protocol]);
    assert!(server.requests.load(Ordering::Relaxed) > 0);
}

#[test]
fn a_server_that_resets_every_stream_is_h2_reset_with_its_code() {
    let server = Misbehaving::start(settings(&[(setting::MAX_CONCURRENT_STREAMS, 10)]), |h, _| {
        let mut out = Vec::new();
        if h.kind == kind::HEADERS {
            frame::write_rst(&mut out, h.stream_id, code::INTERNAL_ERROR);
        }
        out
    });
    let stats = misbehaved(&server, &["--streams", "10"]);
    assert_eq!(stats.requests, 0);
    assert_only(&stats, &[ErrorKind::H2Reset]);
    assert_eq!(stats.error_count(ErrorKind::H2Reset), stats.h2_resets);
    let asked = server.requests.load(Ordering::Relaxed);
    assert!(asked >= 10 && stats.h2_resets + 20 >= asked, "{asked} streams, {} resets", stats.h2_resets);
    let message = stats.first_error[ErrorKind::H2Reset as usize].clone().unwrap();
    assert!(message.contains("INTERNAL_ERROR"), "{message}");
}

#[test]
fn a_megabyte_header_block_in_continuations_is_a_protocol_error() {
    let server = Misbehaving::start(settings(&[]), |h, _| {
        let mut out = Vec::new();
        if h.kind == kind::HEADERS {
            FrameHeader { len: 16384, kind: kind::HEADERS, flags: 0, stream_id: h.stream_id }.write(&mut out);
            out.resize(out.len() + 16384, b'a');
            for i in 0..63 {
                let flags = if i == 62 { flag::END_HEADERS } else { 0 };
                FrameHeader { len: 16384, kind: kind::CONTINUATION, flags, stream_id: h.stream_id }.write(&mut out);
                out.resize(out.len() + 16384, b'a');
            }
        }
        out
    });
    let stats = misbehaved(&server, &[]);
    assert_eq!(stats.requests, 0);
    assert_only(&stats, &[ErrorKind::H2Protocol]);
    let message = stats.first_error[ErrorKind::H2Protocol as usize].clone().unwrap();
    assert!(message.contains("header block longer than"), "{message}");
}

#[test]
fn a_server_that_never_opens_the_window_times_out() {
    // Initial window 0 and no WINDOW_UPDATE: a request body can never go out.
    let server = Misbehaving::start(settings(&[(setting::INITIAL_WINDOW_SIZE, 0)]), |h, _| {
        if matches!(h.kind, kind::DATA | kind::HEADERS) && h.flags & flag::END_STREAM != 0 {
            return response(h.stream_id);
        }
        Vec::new()
    });
    // The first stream may send 65,535 bytes before the server's SETTINGS arrive (the
    // connection's window); the rest of its body, and every other body, waits for ever.
    let body = "x".repeat(100_000);
    let stats = misbehaved(&server, &["-m", "POST", "--body", &body]);
    assert_eq!(stats.requests, 0);
    assert_only(&stats, &[ErrorKind::Timeout]);
    // The same server answers a body-less request: the window only holds back DATA.
    let stats = misbehaved(&server, &[]);
    assert!(stats.requests > 0);
}

#[test]
fn a_goaway_with_an_error_code_is_one_h2_goaway_error() {
    let server = Misbehaving::start(settings(&[]), |h, _| {
        let mut out = Vec::new();
        if h.kind == kind::HEADERS {
            out.extend(response(h.stream_id));
            frame::write_goaway(&mut out, h.stream_id, code::ENHANCE_YOUR_CALM);
        }
        out
    });
    let stats = h2_run(&server.url(), &["-n", "50", "-c", "1", "-t", "1"]);
    assert_eq!(stats.requests, 50, "{:?}", stats.first_error);
    assert_eq!(stats.error_count(ErrorKind::H2Goaway), 50, "one per GOAWAY: {:?}", stats.first_error);
    assert_eq!(stats.errors_total(), 50);
    let message = stats.first_error[ErrorKind::H2Goaway as usize].clone().unwrap();
    assert!(message.contains("ENHANCE_YOUR_CALM"), "{message}");
}

#[test]
fn clobber_serve_mode_h2_counts_agree() {
    use clobber::config::ServeMode;
    for (streams, reconnect) in [("1", false), ("64", false), ("1", true)] {
        let server = crate::support::serve_with(ServeMode::H2, |_| {});
        let url = format!("http://{}/", server.local_addr());
        let mut args = vec!["-n", "5000", "-c", "4", "-t", "2", "--streams", streams];
        if reconnect {
            args.extend_from_slice(&["-n", "500"]);
            args.push("--reconnect");
        }
        let stats = h2_run(&url, &args);
        let n = if reconnect { 500 } else { 5000 };
        assert_eq!((stats.requests, stats.status[200]), (n, n), "{streams} {reconnect}: {:?}", stats.first_error);
        assert_eq!(stats.errors_total(), 0, "{:?}", stats.first_error);
        let counts = server.stop().unwrap();
        assert_eq!(counts.requests, n, "streams {streams}, reconnect {reconnect}");
        assert_eq!(counts.connections, stats.connections_opened);
    }
}

#[test]
fn rate_warmup_and_timeout_work_over_streams() {
    use clobber::config::ServeMode;
    let server = crate::support::serve_with(ServeMode::H2, |_| {});
    let url = format!("http://{}/", server.local_addr());
    // -R: requests go to connections with a free stream, on schedule.
    let stats = h2_run(&url, &["-R", "2000", "-d", "1s", "-c", "4", "-t", "1", "--streams", "10", "--warmup", "300ms"]);
    assert_eq!(stats.errors_total(), 0, "{:?}", stats.first_error);
    assert!((1800..=2200).contains(&stats.requests), "{} requests at 2,000/s for 1 s", stats.requests);
    // `sent` counts what was sent after the warm-up; streams in flight when it ended (at most
    // 4 connections x 10 streams) are answered as measured requests without being in `sent`.
    let answered_or_open = stats.requests + stats.in_flight_at_end;
    assert!(
        stats.sent <= answered_or_open && answered_or_open - stats.sent <= 40,
        "sent {}, answered {}, in flight at the end {}",
        stats.sent,
        stats.requests,
        stats.in_flight_at_end
    );
    assert!(stats.missed <= 20, "{} missed", stats.missed);
    let counts = server.stop().unwrap();
    assert!(counts.requests >= stats.requests, "the warm-up's requests count on the server only");
    // --timeout per stream against a server that never answers: kind timeout.
    let silent = Misbehaving::start(settings(&[]), |_, _| Vec::new());
    let started = Instant::now();
    let stats = h2_run(&silent.url(), &["-d", "1s", "-c", "1", "--streams", "5", "--timeout", "200ms"]);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_only(&stats, &[ErrorKind::Timeout]);
    assert!((3..=6).contains(&stats.error_count(ErrorKind::Timeout)), "{:?}", stats.errors);
}

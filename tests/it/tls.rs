//! TLS against nginx (its log says which requests came on resumed sessions) and against
//! `clobber serve --tls`: counts on both sides, verification failures by kind, resumption.

use clobber::config::{ServeMode, ServerIdentity};
use clobber::net::tls::self_signed;
use clobber::stats::{ErrorKind, WorkerStats};

use crate::nginx::Nginx;
use crate::support::{http_config, run, serve_with, wait_for};

fn tls_run(url: &str, args: &[&str]) -> WorkerStats {
    let mut words = vec![url, "-d", "60s"];
    words.extend_from_slice(args);
    run(&http_config(&words))
}

#[test]
fn nginx_tls_counts_match_keep_alive_pipelined_and_reconnect() {
    let nginx = Nginx::start();
    let (url, ca) = (nginx.tls_url(), nginx.cert_path());
    let mut expected = 0;
    let runs: [&[&str]; 3] = [
        &["-n", "3000", "-c", "10", "-t", "2"],
        &["-n", "2000", "-c", "5", "--pipeline", "8"],
        &["-n", "400", "-c", "4", "--reconnect"],
    ];
    for args in runs {
        let mut words = args.to_vec();
        words.extend_from_slice(&["--cacert", &ca]);
        let (_, reused_before) = nginx.tls_logged();
        let stats = tls_run(&url, &words);
        let n: u64 = args[1].parse().unwrap();
        expected += n as usize;
        assert_eq!((stats.requests, stats.status[200]), (n, n), "{args:?}");
        assert_eq!(stats.errors_total(), 0, "{args:?}: {:?}", stats.first_error);
        assert_eq!(stats.tls_handshakes, stats.connections_opened, "{args:?}: a handshake per connection");
        wait_for(|| nginx.tls_logged().0 == expected);
        let (logged, reused) = nginx.tls_logged();
        assert_eq!(logged, expected, "{args:?}");
        if args.contains(&"--reconnect") {
            assert_eq!(stats.connections_opened, n);
            // Both sides agree on which handshakes resumed, and most did (a connection that
            // starts before any ticket has arrived does a full one).
            assert_eq!(stats.tls_resumed, (reused - reused_before) as u64, "client and nginx disagree on resumption");
            assert!(stats.tls_resumed >= n / 2, "only {} of {n} handshakes resumed", stats.tls_resumed);
        }
    }
}

#[test]
fn nginx_tls_no_resume_does_full_handshakes() {
    let nginx = Nginx::start();
    let stats = tls_run(
        &nginx.tls_url(),
        &["-n", "200", "-c", "2", "--reconnect", "--no-resume", "--cacert", &nginx.cert_path()],
    );
    assert_eq!((stats.requests, stats.tls_handshakes, stats.tls_resumed), (200, 200, 0));
    wait_for(|| nginx.tls_logged().0 == 200);
    assert_eq!(nginx.tls_logged(), (200, 0), "nginx saw no resumed session");
}

#[test]
fn wrong_sni_fails_verification_and_insecure_then_succeeds() {
    let nginx = Nginx::start();
    let ca = nginx.cert_path();
    let stats = tls_run(&nginx.tls_url(), &["-d", "1s", "-c", "2", "--cacert", &ca, "--sni", "wrong.example"]);
    assert_eq!(stats.requests, 0);
    assert!(stats.error_count(ErrorKind::TlsCert) > 0, "{:?}", stats.errors);
    assert_eq!(stats.errors_total(), stats.error_count(ErrorKind::TlsCert), "{:?}", stats.first_error);
    let message = stats.first_error[ErrorKind::TlsCert as usize].clone().unwrap();
    assert!(message.contains("not valid for wrong.example") && message.contains("127.0.0.1"), "{message}");
    // No --cacert: the self-signed certificate is not in the system store.
    let stats = tls_run(&nginx.tls_url(), &["-d", "1s", "-c", "1"]);
    assert!(stats.first_error[ErrorKind::TlsCert as usize]
        .as_deref()
        .unwrap_or("")
        .contains("issuer that is not trusted"));
    let stats = tls_run(&nginx.tls_url(), &["-n", "100", "-c", "2", "--sni", "wrong.example", "--insecure"]);
    assert_eq!((stats.requests, stats.errors_total()), (100, 0), "{:?}", stats.first_error);
}

#[test]
fn a_rejected_certificate_ends_a_run_without_a_deadline() {
    // -n and no -d: without a success, retrying an untrusted certificate would go on forever.
    // The binary runs it, so that a regression fails after 20 s instead of hanging the suite.
    let (server, _ca) = serve_tls(ServeMode::Http);
    let url = format!("https://127.0.0.1:{}/", server.local_addr().port());
    let child = std::process::Command::new(crate::binary::BIN)
        .args([url.as_str(), "-n", "100", "-c", "4", "--no-pin", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = crate::binary::wait_for(child, std::time::Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["requests"], 0);
    assert!(report["errors_by_kind"]["tls_cert"].as_u64().unwrap() > 0, "{report}");
    server.stop().unwrap();
}

#[test]
fn warm_up_handshakes_are_not_counted() {
    let (server, ca) = serve_tls(ServeMode::Http);
    let url = format!("https://localhost:{}/", server.local_addr().port());
    let stats = tls_run(&url, &["-d", "1s", "--warmup", "1s", "-c", "2", "--reconnect", "--cacert", &ca.0]);
    let counts = server.stop().unwrap();
    assert!(stats.requests > 0);
    // Each measured request had its own handshake; the warm-up's second of them is not here.
    assert!(
        stats.tls_handshakes <= stats.requests + 2,
        "{} handshakes for {} requests",
        stats.tls_handshakes,
        stats.requests
    );
    assert!(counts.connections > stats.tls_handshakes + stats.tls_handshakes / 2, "the server saw the warm-up's too");
}

/// What users make: `openssl req -x509` with OpenSSL's defaults (a CA certificate, CA:TRUE),
/// for localhost and 127.0.0.1, and `extra` arguments; written into `dir`, read back.
fn openssl_self_signed(dir: &std::path::Path, name: &str, extra: &[&str]) -> ServerIdentity {
    let (cert, key) = (dir.join(format!("{name}-cert.pem")), dir.join(format!("{name}-key.pem")));
    let status = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(extra)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed: these tests need it");
    assert!(status.success(), "openssl req failed");
    ServerIdentity { cert_pem: std::fs::read(&cert).unwrap(), key_pem: std::fs::read(&key).unwrap() }
}

/// A directory for a test's files, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("clobber-test-{what}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn nginx_with_the_usual_openssl_self_signed_certificate_and_cacert() {
    // webpki refuses a CA certificate as a server's (CaUsedAsEndEntity); curl --cacert takes
    // it, and so does clobber when it is the very certificate given.
    let dir = TempDir::new("openssl-ca");
    let identity = openssl_self_signed(&dir.0, "server", &[]);
    let nginx = Nginx::start_with_identity(&identity);
    let ca = dir.file("server-cert.pem");
    let stats = tls_run(&nginx.tls_url(), &["-n", "300", "-c", "3", "--cacert", &ca]);
    assert_eq!((stats.requests, stats.status[200]), (300, 300), "{:?}", stats.first_error);
    assert_eq!(stats.errors_total(), 0, "{:?}", stats.first_error);
    wait_for(|| nginx.tls_logged().0 == 300);
    assert_eq!(nginx.tls_logged().0, 300);
    assert!(nginx.tls_protocols().iter().all(|p| p.starts_with("TLSv1.")), "{:?}", nginx.tls_protocols());
    // The pin is that certificate, for its names only.
    let stats = tls_run(&nginx.tls_url(), &["-d", "1s", "-c", "1", "--cacert", &ca, "--sni", "example.com"]);
    assert_eq!(stats.requests, 0);
    assert_eq!(stats.errors_total(), stats.error_count(ErrorKind::TlsCert), "{:?}", stats.first_error);
    let message = stats.first_error[ErrorKind::TlsCert as usize].clone().unwrap();
    assert!(message.contains("not valid for example.com"), "{message}");
    // Not given: untrusted, in words.
    let stats = tls_run(&nginx.tls_url(), &["-d", "1s", "-c", "1"]);
    let message = stats.first_error[ErrorKind::TlsCert as usize].clone().unwrap();
    assert!(message.contains("issuer that is not trusted"), "{message}");
    assert_eq!(nginx.tls_logged().0, 300, "no request went through an untrusted handshake");
}

#[test]
fn a_trusted_certificate_of_the_same_name_is_not_the_issuer() {
    // Debian's snakeoil certificate in the system store is CN=localhost: webpki tried it as
    // the issuer of any CN=localhost server and said BadSignature. Here --cacert plays it.
    let dir = TempDir::new("same-name");
    let server = openssl_self_signed(&dir.0, "server", &["-addext", "basicConstraints=critical,CA:FALSE"]);
    openssl_self_signed(&dir.0, "other", &[]);
    let nginx = Nginx::start_with_identity(&server);
    let stats = tls_run(&nginx.tls_url(), &["-d", "1s", "-c", "1", "--cacert", &dir.file("other-cert.pem")]);
    assert_eq!(stats.requests, 0);
    assert_eq!(stats.errors_total(), stats.error_count(ErrorKind::TlsCert), "{:?}", stats.first_error);
    let message = stats.first_error[ErrorKind::TlsCert as usize].clone().unwrap();
    assert!(message.contains("issuer that is not trusted") && message.contains("--cacert"), "{message}");
    assert!(!message.contains("Signature"), "{message}");
}

#[test]
fn openssl_s_server_www_response_ended_by_close_notify() {
    // `openssl s_server -www` answers with an HTTP/1.0 response ended by close_notify, sent
    // with the last bytes: the framer must see it as the EOF that ends the response.
    let dir = TempDir::new("s-server");
    openssl_self_signed(&dir.0, "server", &["-addext", "basicConstraints=critical,CA:FALSE"]);
    let addr = crate::support::dead_addr();
    let mut child = std::process::Command::new("openssl")
        .args(["s_server", "-www", "-quiet", "-accept", &addr.to_string()])
        .args(["-cert", &dir.file("server-cert.pem"), "-key", &dir.file("server-key.pem")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl is installed: this test needs it");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let url = format!("https://{addr}/");
    let stats = tls_run(&url, &["-n", "40", "-c", "2", "-d", "20s", "--cacert", &dir.file("server-cert.pem")]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!((stats.requests, stats.status[200]), (40, 40), "{:?}", stats.first_error);
    assert_eq!((stats.errors_total(), stats.in_flight_at_end), (0, 0), "{:?}", stats.first_error);
    assert_eq!(stats.connections_opened, 40, "s_server closes after each response");
}

#[test]
fn nginx_handshake_times_are_their_own_figure() {
    let nginx = Nginx::start();
    let ca = nginx.cert_path();
    let stats = tls_run(&nginx.tls_url(), &["-n", "300", "-c", "3", "--reconnect", "--cacert", &ca]);
    assert_eq!((stats.requests, stats.errors_total()), (300, 0), "{:?}", stats.first_error);
    wait_for(|| nginx.tls_logged().0 == 300);
    assert_eq!(nginx.tls_logged().0, 300);
    // One time per handshake, none of them empty.
    assert_eq!(stats.tls_handshake_us.len(), stats.tls_handshakes);
    assert_eq!(stats.tls_handshakes, 300);
    assert!(stats.tls_handshake_us.min() > 0);
    // The JSON and the text, from the binary.
    let url = nginx.tls_url();
    let out =
        crate::binary::clobber(&[&url, "-n", "100", "-c", "2", "--reconnect", "--cacert", &ca, "--no-pin", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let h = &report["tls"]["handshake_us"];
    for field in ["min", "mean", "p50", "p90", "p99", "p999", "p9999", "max"] {
        assert!(h[field].as_f64().is_some_and(|v| v > 0.0), "{field}: {report}");
    }
    wait_for(|| nginx.tls_logged().0 == 400);
    assert_eq!(nginx.tls_logged().0, 400);
    let out = crate::binary::clobber(&[&url, "-n", "10", "-c", "1", "--cacert", &ca, "--no-pin"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 handshakes, 0 resumed; handshake time p50 "), "{text}");
}

/// `clobber serve --tls` with its certificate trusted through --cacert.
fn serve_tls(mode: ServeMode) -> (clobber::server::Server, tempfile_path::Cert) {
    let identity = self_signed();
    let cert = tempfile_path::Cert::write(&identity.cert_pem);
    let server = serve_with(mode, |c| c.tls = Some(identity));
    (server, cert)
}

mod tempfile_path {
    /// A PEM file that is removed when dropped.
    pub struct Cert(pub String);

    impl Cert {
        pub fn write(pem: &[u8]) -> Cert {
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("clobber-test-ca-{}-{n}.pem", std::process::id()));
            std::fs::write(&path, pem).unwrap();
            Cert(path.display().to_string())
        }
    }

    impl Drop for Cert {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[test]
fn clobber_serve_tls_counts_match() {
    let runs: [&[&str]; 3] = [
        &["-n", "5000", "-c", "10", "-t", "2"],
        &["-n", "4000", "-c", "5", "--pipeline", "16"],
        &["-n", "300", "-c", "3", "--reconnect"],
    ];
    for args in runs {
        let (server, ca) = serve_tls(ServeMode::Http);
        let url = format!("https://localhost:{}/", server.local_addr().port());
        let mut words = args.to_vec();
        words.extend_from_slice(&["--cacert", &ca.0]);
        let stats = tls_run(&url, &words);
        let counts = server.stop().unwrap();
        let n: u64 = args[1].parse().unwrap();
        assert_eq!((stats.requests, counts.requests), (n, n), "{args:?}: {:?}", stats.first_error);
        assert_eq!(stats.connections_opened, counts.connections, "{args:?}");
        assert_eq!(stats.tls_handshakes, counts.connections, "{args:?}");
        if args.contains(&"--reconnect") {
            assert!(stats.tls_resumed >= n / 2, "{args:?}: {} resumed", stats.tls_resumed);
        }
    }
}

#[test]
fn reconnect_with_many_connections_still_resumes() {
    // rustls' default cache keeps 8 tickets per server: 40 connections opening together
    // would mostly find none. The worker's pool keeps enough.
    let (server, ca) = serve_tls(ServeMode::Http);
    let url = format!("https://localhost:{}/", server.local_addr().port());
    let stats = tls_run(&url, &["-n", "3000", "-c", "40", "--reconnect", "--cacert", &ca.0]);
    let counts = server.stop().unwrap();
    assert_eq!((stats.requests, counts.requests, stats.tls_handshakes), (3000, 3000, 3000));
    assert!(stats.tls_resumed >= 2700, "only {} of 3000 resumed", stats.tls_resumed);
}

#[test]
fn tls_batches_and_responses_larger_than_the_socket_buffers() {
    // 32 pipelined 16 KB POSTs make a 512 KB write: rustls' record queue fills, the socket
    // says WouldBlock, and the rest goes out on writable events. 1 MiB responses do the same
    // on the server's side and make the client read many records per response.
    let identity = self_signed();
    let ca = tempfile_path::Cert::write(&identity.cert_pem);
    let body = "a".repeat(16_000);
    let mut big = b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n".to_vec();
    big.resize(big.len() + 1_048_576, b'z');
    for (respond, args) in [
        (None, vec!["-m", "POST", "--body", body.as_str(), "--pipeline", "32", "-n", "4000", "-c", "4"]),
        (Some(big), vec!["-n", "200", "-c", "4"]),
    ] {
        let identity = identity.clone();
        let server = serve_with(ServeMode::Http, |c| {
            c.tls = Some(identity);
            c.respond = respond.clone();
        });
        let url = format!("https://localhost:{}/", server.local_addr().port());
        let mut words = args.clone();
        words.extend_from_slice(&["--cacert", &ca.0]);
        let stats = tls_run(&url, &words);
        let counts = server.stop().unwrap();
        let n: u64 = args[args.iter().position(|a| *a == "-n").unwrap() + 1].parse().unwrap();
        assert_eq!((stats.requests, counts.requests), (n, n), "{:?}", stats.first_error);
        assert_eq!(stats.errors_total(), 0);
        if respond.is_some() {
            assert!(stats.bytes_received >= n * 1_048_576);
        } else {
            assert!(stats.bytes_sent >= n * 16_000);
        }
    }
}

#[test]
fn raw_tcp_over_tls_echo_counts_match() {
    let (server, ca) = serve_tls(ServeMode::Echo);
    let target = format!("tcp://127.0.0.1:{}", server.local_addr().port());
    let stats = tls_run(
        &target,
        &[
            "--tls",
            "--cacert",
            &ca.0,
            "--data",
            "ping\\n",
            "--until",
            "\\n",
            "-n",
            "3000",
            "-c",
            "4",
            "--pipeline",
            "4",
        ],
    );
    let counts = server.stop().unwrap();
    assert_eq!((stats.requests, counts.requests), (3000, 3000), "{:?}", stats.first_error);
    assert_eq!(stats.bytes_received, 3000 * 5);
}

#[test]
fn tls_to_a_plain_server_is_a_handshake_error_not_a_hang() {
    let server = serve_with(ServeMode::Http, |_| {});
    let url = format!("https://127.0.0.1:{}/", server.local_addr().port());
    let started = std::time::Instant::now();
    let stats = tls_run(&url, &["-d", "1s", "-c", "2", "-k", "--connect-timeout", "500ms"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(stats.requests, 0);
    assert!(stats.error_count(ErrorKind::TlsHandshake) > 0, "{:?} {:?}", stats.errors, stats.first_error);
    server.stop().unwrap();
}

/// README's mTLS recipe, run in `dir`: a CA (`ca.pem`, `ca.key`) and a client certificate it
/// signs (`client.pem`, `client.key`).
fn make_client_ca(dir: &std::path::Path) {
    let script = "set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj '/CN=clobber test CA' -keyout ca.key -out ca.pem
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj '/CN=clobber client' -keyout client.key -out client.csr
printf 'extendedKeyUsage=clientAuth\\n' > client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
  -extfile client.ext -out client.pem";
    let out = std::process::Command::new("sh").arg("-c").arg(script).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
}

/// nginx with a server that requires a client certificate signed by the test CA, logging
/// `$status $ssl_client_verify` per request to `mtls.log`.
fn nginx_mtls() -> Nginx {
    Nginx::start_with(|dir, free_port| {
        make_client_ca(dir);
        let (port, d) = (free_port(), dir.display());
        let server = format!(
            "log_format mtls '$status $ssl_client_verify';
             server {{
               listen 127.0.0.1:{port} ssl backlog=4096;
               ssl_certificate {d}/cert.pem;
               ssl_certificate_key {d}/key.pem;
               ssl_verify_client on;
               ssl_client_certificate {d}/ca.pem;
               access_log {d}/mtls.log mtls;
               location / {{ return 200 \"hello\\n\"; }}
             }}"
        );
        (server, vec![port])
    })
}

#[test]
fn nginx_mtls_client_certificate_verified_for_every_request() {
    let nginx = nginx_mtls();
    let url = format!("https://127.0.0.1:{}/", nginx.extra_ports[0]);
    let dir = std::path::Path::new(&nginx.cert_path()).parent().unwrap().to_path_buf();
    let (cert, key) = (dir.join("client.pem").display().to_string(), dir.join("client.key").display().to_string());
    let ca = nginx.cert_path();
    let mut expected = 0;
    for args in [["-n", "1000", "-c", "4"], ["-n", "200", "-c", "2"]] {
        let mut words = args.to_vec();
        words.extend_from_slice(&["--cacert", &ca, "--cert", &cert, "--key", &key]);
        if expected > 0 {
            words.push("--reconnect");
        }
        let stats = tls_run(&url, &words);
        let n: u64 = args[1].parse().unwrap();
        expected += n as usize;
        assert_eq!((stats.requests, stats.status[200]), (n, n), "{words:?}: {:?}", stats.first_error);
        assert_eq!(stats.errors_total(), 0, "{words:?}");
        wait_for(|| nginx.log_lines("mtls.log").len() == expected);
        let lines = nginx.log_lines("mtls.log");
        assert_eq!(lines.len(), expected);
        assert!(lines.iter().all(|l| l == "200 SUCCESS"), "{:?}", lines.iter().find(|l| *l != "200 SUCCESS"));
    }
}

/// `openssl s_server` requiring a client certificate (`-Verify`): unlike nginx, which answers
/// a request without one with a 400, it ends the handshake with an alert. Killed by PID when
/// dropped.
struct SServer(std::process::Child, u16);

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_server_that_demands_a_client_certificate_fails_the_run_saying_so() {
    let nginx = nginx_mtls();
    let dir = std::path::Path::new(&nginx.cert_path()).parent().unwrap().to_path_buf();
    // TLS 1.3 servers send `certificate_required`, TLS 1.2 ones `handshake_failure`.
    for version in ["-tls1_3", "-tls1_2"] {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new("openssl")
            .args(["s_server", "-quiet", "-www", version, "-Verify", "1", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-cert", "cert.pem", "-key", "key.pem", "-CAfile", "ca.pem"])
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server starts");
        let server = SServer(child, port);
        wait_for(|| std::net::TcpStream::connect(("127.0.0.1", server.1)).is_ok());
        let url = format!("https://127.0.0.1:{}/", server.1);
        let ca = nginx.cert_path();
        let stats = run(&http_config(&[&url, "-n", "10", "-c", "1", "--cacert", &ca, "--give-up", "1s"]));
        assert_eq!(stats.requests, 0);
        assert!(stats.gave_up_after.is_some(), "a run that only fails gives up");
        assert!(stats.error_count(ErrorKind::TlsAlert) > 0, "{:?} {:?}", stats.errors, stats.first_error);
        assert_eq!(stats.errors_total(), stats.error_count(ErrorKind::TlsAlert), "{:?}", stats.first_error);
        let message = stats.first_error[ErrorKind::TlsAlert as usize].clone().unwrap();
        assert_eq!(message, "the server asked for a client certificate: give --cert and --key", "{version}");
    }
}

/// nginx with three more TLS servers, each logging `$ssl_session_reused $ssl_protocol
/// $ssl_cipher $ssl_curve` per request: TLS 1.2 only resuming by session id (`ids.log`), TLS
/// 1.2 only resuming by ticket (`tickets.log`), and TLS 1.2 and 1.3 (`any.log`).
fn nginx_versions() -> Nginx {
    Nginx::start_with(|dir, free_port| {
        let d = dir.display();
        let ports = vec![free_port(), free_port(), free_port()];
        let server = |port: u16, log: &str, settings: &str| {
            format!(
                "server {{
                   listen 127.0.0.1:{port} ssl backlog=4096;
                   ssl_certificate {d}/cert.pem;
                   ssl_certificate_key {d}/key.pem;
                   {settings}
                   access_log {d}/{log} negotiated;
                   location / {{ return 200 \"hello\\n\"; }}
                 }}\n"
            )
        };
        let mut conf =
            "log_format negotiated '$ssl_session_reused $ssl_protocol $ssl_cipher $ssl_curve';\n".to_string();
        conf += &server(
            ports[0],
            "ids.log",
            "ssl_protocols TLSv1.2; ssl_session_cache shared:IDS:1m; ssl_session_tickets off;",
        );
        conf += &server(ports[1], "tickets.log", "ssl_protocols TLSv1.2; ssl_session_tickets on;");
        conf += &server(ports[2], "any.log", "ssl_protocols TLSv1.2 TLSv1.3;");
        (conf, ports)
    })
}

#[test]
fn nginx_tls12_resumption_by_session_id_and_by_ticket_is_counted() {
    let nginx = nginx_versions();
    let ca = nginx.cert_path();
    for (port, log) in [(nginx.extra_ports[0], "ids.log"), (nginx.extra_ports[1], "tickets.log")] {
        let url = format!("https://127.0.0.1:{port}/");
        let stats = tls_run(&url, &["-n", "300", "-c", "2", "--reconnect", "--tls-version", "1.2", "--cacert", &ca]);
        assert_eq!((stats.requests, stats.errors_total()), (300, 0), "{log}: {:?}", stats.first_error);
        assert_eq!(stats.tls_handshakes, 300, "{log}");
        wait_for(|| nginx.log_lines(log).len() == 300);
        let lines = nginx.log_lines(log);
        assert!(lines.iter().all(|l| l.split(' ').nth(1) == Some("TLSv1.2")), "{log}: {lines:?}");
        let reused = lines.iter().filter(|l| l.starts_with("r ")).count() as u64;
        assert_eq!(stats.tls_resumed, reused, "{log}: client and nginx disagree on resumption");
        assert!(stats.tls_resumed >= 150, "{log}: only {} of 300 resumed", stats.tls_resumed);
        assert_eq!(stats.tls_negotiated.as_ref().unwrap().version, "TLSv1.2");
    }
}

#[test]
fn chosen_version_suite_and_group_are_negotiated_and_reported() {
    let nginx = nginx_versions();
    let ca = nginx.cert_path();
    let url = format!("https://127.0.0.1:{}/", nginx.extra_ports[2]);
    // (flags, what clobber's report says, what nginx logs: OpenSSL's names). In TLS 1.2 the
    // groups offered must include the curve of nginx's ECDSA certificate (P-256).
    let cases: [(&[&str], [&str; 3], &str); 3] = [
        (
            &[
                "--tls-version",
                "1.2",
                "--tls-ciphers",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                "--tls-groups",
                "secp256r1",
            ],
            ["TLSv1.2", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "secp256r1"],
            "TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305 prime256v1",
        ),
        (
            &["--tls-version", "1.3", "--tls-ciphers", "TLS13_CHACHA20_POLY1305_SHA256", "--tls-groups", "X25519"],
            ["TLSv1.3", "TLS13_CHACHA20_POLY1305_SHA256", "X25519"],
            "TLSv1.3 TLS_CHACHA20_POLY1305_SHA256 X25519",
        ),
        (
            &["--tls-ciphers", "TLS13_AES_128_GCM_SHA256", "--tls-groups", "secp384r1"],
            ["TLSv1.3", "TLS13_AES_128_GCM_SHA256", "secp384r1"],
            "TLSv1.3 TLS_AES_128_GCM_SHA256 secp384r1",
        ),
    ];
    let mut expected = 0;
    for (flags, names, logged) in cases {
        let mut words = vec![url.as_str(), "-n", "100", "-c", "2", "--cacert", &ca];
        words.extend_from_slice(flags);
        let config = http_config(&words);
        let stats = run(&config);
        assert_eq!((stats.requests, stats.errors_total()), (100, 0), "{flags:?}: {:?}", stats.first_error);
        let report = clobber::report::Report::new(&clobber::report::RunInfo::of(&config, 0.0), &stats);
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!([&json["tls"]["version"], &json["tls"]["cipher_suite"], &json["tls"]["group"]], names, "{flags:?}");
        assert!(report.to_text().contains(&names.join(", ")), "{flags:?}: {}", report.to_text());
        expected += 100;
        wait_for(|| nginx.log_lines("any.log").len() == expected);
        let lines = nginx.log_lines("any.log");
        assert!(
            lines[expected - 100..].iter().all(|l| l.ends_with(logged)),
            "{flags:?}: {:?}",
            &lines[expected - 100..]
        );
    }
}

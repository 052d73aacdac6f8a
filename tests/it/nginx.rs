//! A real nginx for the count comparisons: its own config in a temp dir, one worker, listening
//! on a free loopback port, access log to a file. Stopped by PID when dropped.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nginx {
    pub port: u16,
    /// A second server whose connections close after 10 requests (`keepalive_requests 10`).
    pub port_limited: u16,
    /// A TLS server (certificate for localhost and 127.0.0.1, made at start unless given) whose
    /// log (`tls.log`) has a line per request: status, `r` if the session was resumed, the
    /// protocol.
    pub port_tls: u16,
    /// The ports of the servers `start_with` added, in the order it returned them.
    pub extra_ports: Vec<u16>,
    dir: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn nginx_binary() -> &'static str {
    for path in ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"] {
        if std::path::Path::new(path).exists() {
            return path;
        }
    }
    panic!("nginx is not installed: these tests need it (apt-get install nginx, or run scripts/test.sh)");
}

impl Nginx {
    pub fn start() -> Nginx {
        Nginx::start_full(&clobber::net::tls::self_signed(), |_, _| (String::new(), Vec::new()))
    }

    /// Starts nginx with more `server` blocks: `extra` gets the directory (for certificates
    /// and logs) and a free-port picker, and returns the blocks and the ports they listen on.
    pub fn start_with(extra: impl FnOnce(&std::path::Path, &dyn Fn() -> u16) -> (String, Vec<u16>)) -> Nginx {
        Nginx::start_full(&clobber::net::tls::self_signed(), extra)
    }

    /// The same servers, the TLS one presenting `identity`.
    pub fn start_with_identity(identity: &clobber::config::ServerIdentity) -> Nginx {
        Nginx::start_full(identity, |_, _| (String::new(), Vec::new()))
    }

    fn start_full(
        identity: &clobber::config::ServerIdentity,
        extra: impl FnOnce(&std::path::Path, &dyn Fn() -> u16) -> (String, Vec<u16>),
    ) -> Nginx {
        let dir = std::env::temp_dir().join(format!("clobber-nginx-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let (port, port_limited, port_tls) = (free_port(), free_port(), free_port());
        std::fs::write(dir.join("cert.pem"), &identity.cert_pem).unwrap();
        std::fs::write(dir.join("key.pem"), &identity.key_pem).unwrap();
        let (extra, extra_ports) = extra(&dir, &free_port);
        let d = dir.display();
        let conf = format!(
            "worker_processes 1;\n\
             daemon off;\n\
             master_process on;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n\
               access_log {d}/access.log;\n\
               client_body_temp_path {d}/body;\n\
               proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n\
               keepalive_requests 1000000;\n\
               server {{\n\
                 listen 127.0.0.1:{port} backlog=4096;\n\
                 location / {{ return 200 \"hello\\n\"; }}\n\
                 location /missing {{ return 404 \"no\\n\"; }}\n\
               }}\n\
               server {{\n\
                 listen 127.0.0.1:{port_limited} backlog=4096;\n\
                 keepalive_requests 10;\n\
                 location / {{ return 200 \"hello\\n\"; }}\n\
               }}\n\
               log_format tls '$status $ssl_session_reused $ssl_protocol';\n\
               server {{\n\
                 listen 127.0.0.1:{port_tls} ssl backlog=4096;\n\
                 ssl_certificate {d}/cert.pem;\n\
                 ssl_certificate_key {d}/key.pem;\n\
                 access_log {d}/tls.log tls;\n\
                 location / {{ return 200 \"hello\\n\"; }}\n\
               }}\n\
               {extra}\n\
             }}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let nginx = Nginx { port, port_limited, port_tls, extra_ports, dir, child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err()
            || TcpStream::connect(("127.0.0.1", port_limited)).is_err()
            || TcpStream::connect(("127.0.0.1", port_tls)).is_err()
            || nginx.extra_ports.iter().any(|&p| TcpStream::connect(("127.0.0.1", p)).is_err())
        {
            assert!(Instant::now() < deadline, "nginx did not listen: {}", nginx.error_log());
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn limited_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port_limited)
    }

    pub fn tls_url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port_tls)
    }

    /// The certificate the TLS server presents (self-signed: also its CA).
    pub fn cert_path(&self) -> String {
        self.dir.join("cert.pem").display().to_string()
    }

    /// Requests the TLS server answered, and how many came on resumed sessions.
    pub fn tls_logged(&self) -> (usize, usize) {
        let log = std::fs::read_to_string(self.dir.join("tls.log")).unwrap_or_default();
        (log.lines().count(), log.lines().filter(|l| l.split(' ').nth(1) == Some("r")).count())
    }

    /// The lines of a log file in nginx's directory.
    pub fn log_lines(&self, name: &str) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        log.lines().map(String::from).collect()
    }

    /// The protocols of the TLS server's logged requests (`TLSv1.3`...), one per request.
    pub fn tls_protocols(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.join("tls.log")).unwrap_or_default();
        log.lines().map(|l| l.split(' ').nth(2).unwrap_or("").to_string()).collect()
    }

    /// Lines in the access log: one per request nginx answered.
    pub fn logged(&self) -> usize {
        std::fs::read_to_string(self.dir.join("access.log")).map(|s| s.lines().count()).unwrap_or(0)
    }

    /// Logged requests whose status was `status`.
    pub fn logged_with_status(&self, status: u16) -> usize {
        let needle = format!("\" {status} ");
        std::fs::read_to_string(self.dir.join("access.log"))
            .map(|s| s.lines().filter(|l| l.contains(&needle)).count())
            .unwrap_or(0)
    }

    /// The worker's PID: the master's one child (`worker_processes 1`), from `/proc`.
    pub fn worker_pid(&self) -> u32 {
        let master = self.child.as_ref().unwrap().id();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let children = std::fs::read_dir("/proc")
                .unwrap()
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| {
                    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                    // Field 4, the parent's PID, is the second after the command name.
                    stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1))
                        == Some(&master.to_string())
                })
                .collect::<Vec<u32>>();
            if let [worker] = children[..] {
                return worker;
            }
            assert!(Instant::now() < deadline, "nginx's master {master} has children {children:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGQUIT: graceful stop; nginx writes nothing more after it.
            let _ = Command::new("kill").args(["-QUIT", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

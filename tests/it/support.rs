//! Test fixtures: the built-in server in-process, a scripted blocking server that dribbles its
//! responses, and helpers to build configs and run the engine.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use clobber::config::{Config, ServeConfig, ServeMode};
use clobber::protocol::raw::Delimiter;
use clobber::server::Server;
use clobber::setup::{self, Command};
use clobber::stats::WorkerStats;

/// Starts `clobber serve` in-process on a free loopback port, with `change` applied to its
/// configuration.
pub fn serve_with(mode: ServeMode, change: impl FnOnce(&mut ServeConfig)) -> Server {
    let mut config = ServeConfig {
        unix: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        mode,
        until: Delimiter::new(b"\n"),
        respond: None,
        threads: 1,
        cpus: None,
        delay: None,
        stall: None,
        tls: None,
    };
    change(&mut config);
    Server::start(&config, Arc::new(AtomicBool::new(false))).expect("server starts")
}

/// Starts `clobber serve` in-process on a free loopback port.
pub fn serve(mode: ServeMode, respond: Option<&[u8]>) -> Server {
    let config = ServeConfig {
        unix: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        mode,
        until: Delimiter::new(b"\n"),
        respond: respond.map(|r| r.to_vec()),
        threads: 1,
        cpus: None,
        delay: None,
        stall: None,
        tls: None,
    };
    Server::start(&config, Arc::new(AtomicBool::new(false))).expect("server starts")
}

/// A config from command-line words, as a user would type them (plus `--no-pin`: tests share
/// the machine).
pub fn config(addr: SocketAddr, args: &[&str]) -> Config {
    let mut words = vec![addr.to_string(), "--no-pin".to_string()];
    words.extend(args.iter().map(|s| s.to_string()));
    match setup::parse_and_set_up(words) {
        Ok(Command::Run(c)) => c,
        other => panic!("expected a run config, got {other:?}"),
    }
}

pub fn run(config: &Config) -> WorkerStats {
    clobber::engine::run(config, Arc::new(AtomicBool::new(false))).expect("the run starts")
}

/// An address where nothing listens: bound once to find a free port, then released.
pub fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// How a `Dribble` server answers.
#[derive(Clone)]
pub struct Script {
    /// Sent for every `\n`-terminated request.
    pub response: Vec<u8>,
    /// Bytes per write; responses of requests that arrived together are written together.
    pub chunk: usize,
    /// Pause between writes of one chunk and the next.
    pub pause: Duration,
    /// Close the connection after this many responses (without announcing it).
    pub close_after: Option<u64>,
    /// What ends a request: `\n` for raw tests, `\r\n\r\n` for HTTP.
    pub request_end: &'static [u8],
}

impl Script {
    /// Answers each `\n`-terminated request with `response`, in one write, on a kept connection.
    pub fn raw(response: &[u8]) -> Script {
        Script {
            response: response.to_vec(),
            chunk: usize::MAX,
            pause: Duration::ZERO,
            close_after: None,
            request_end: b"\n",
        }
    }

    /// Answers each HTTP request (head without body) with `response`.
    pub fn http(response: &[u8]) -> Script {
        Script { request_end: b"\r\n\r\n", ..Script::raw(response) }
    }

    pub fn chunked(self, chunk: usize, pause: Duration) -> Script {
        Script { chunk, pause, ..self }
    }

    pub fn close_after(self, responses: u64) -> Script {
        Script { close_after: Some(responses), ..self }
    }
}

/// A blocking, thread-per-connection server that writes its responses in chunks, so that the
/// client sees them split across reads, or several in one read. Counts what it really saw.
pub struct Dribble {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicU64>,
    pub connections: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Dribble {
    pub fn start(script: Script) -> Dribble {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, c, s) = (requests.clone(), connections.clone(), stop.clone());
        thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        c.fetch_add(1, Ordering::Relaxed);
                        let (script, r, s) = (script.clone(), r.clone(), s.clone());
                        thread::spawn(move || dribble_conn(stream, &script, &r, &s));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Dribble { addr, requests, connections, stop }
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Dribble {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn dribble_conn(mut stream: TcpStream, script: &Script, requests: &AtomicU64, stop: &AtomicBool) {
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let end = Delimiter::new(script.request_end);
    let mut matched = 0;
    let mut answered = 0u64;
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let n = match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(_) => return,
        };
        let mut asked = 0;
        let mut rest = &buf[..n];
        while let Some(i) = end.find_end(&mut matched, rest) {
            asked += 1;
            rest = &rest[i..];
        }
        if asked == 0 {
            continue;
        }
        // Answer at most up to the close, and count only what is answered.
        let asked = script.close_after.map_or(asked, |limit| asked.min(limit - answered));
        requests.fetch_add(asked, Ordering::Relaxed);
        answered += asked;
        let out = script.response.repeat(asked as usize);
        for piece in out.chunks(script.chunk) {
            if stream.write_all(piece).is_err() {
                return;
            }
            if !script.pause.is_zero() {
                thread::sleep(script.pause);
            }
        }
        if script.close_after.is_some_and(|limit| answered >= limit) {
            return;
        }
    }
}

/// A config from command-line words (the target first), as typed.
pub fn http_config(words: &[&str]) -> clobber::config::Config {
    let mut all = vec!["--no-pin".to_string()];
    all.extend(words.iter().map(|s| s.to_string()));
    match clobber::setup::parse_and_set_up(all) {
        Ok(clobber::setup::Command::Run(c)) => c,
        other => panic!("expected a run config, got {other:?}"),
    }
}

/// Waits up to two seconds for `ready`, for counts another process writes.
pub fn wait_for(ready: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !ready() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The redis keyspace run (redis-benchmark's `-r`): 20,000 `SET key:{{rand:1-1000}} v` to
/// `target` (`tcp://...` or `unix:...`), 8 connections on 2 threads, 4 deep, within 60 s.
pub fn redis_keyspace_run(target: &str) -> WorkerStats {
    run(&http_config(&[
        target,
        "--data",
        "SET key:{{rand:1-1000}} v\\r\\n",
        "--until",
        "\\r\\n",
        "-n",
        "20000",
        "-c",
        "8",
        "-t",
        "2",
        "--pipeline",
        "4",
        "-d",
        "60s",
    ]))
}

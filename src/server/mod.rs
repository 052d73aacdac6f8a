//! The built-in target (`clobber serve`): the same design as the client (one `mio::Poll` and one
//! slab of connections per thread, no locks, the same `net::Transport`), so that it is fast
//! enough that a benchmark measures the client.
//!
//! Echo mode sends back every byte and counts a request per `--until` delimiter (or, with
//! `--respond`, sends that reply per delimiter instead). HTTP mode frames requests with
//! `protocol::http::RequestFramer` (the client's header rules and head memo: a repeated head
//! costs a compare, not a parse), skips their bodies (Content-Length or chunked), and appends
//! the fixed response, in order, so pipelined requests get one write of all their responses;
//! `Connection: close` (or HTTP/1.0 without keep-alive) closes after the response, and a
//! request the framer refuses (a malformed head, a bad Content-Length) gets a 400 and a close.
//! HTTP/2 mode hands the input to a per-connection `h2::Session` (sans-IO: whole frames in,
//! frames out), which answers every stream with a fixed 200 and counts a request per stream;
//! over TLS the server offers ALPN `h2`, in plain TCP it speaks h2c with prior knowledge.
//!
//! Each thread runs one loop monomorphized for its transport (`Plain` TCP or `Tls`), as the
//! client does, so TLS costs no branch on the plain path. Threads share one listening socket
//! (each registers its own clone); counts are per thread and summed when the server stops. A
//! connection whose client does not read has its reads paused once `OUT_LIMIT_BYTES` wait to
//! be written, so memory stays bounded: per connection, `INBUF_BYTES` of input, the pending
//! output, and (TLS) rustls' record queue of at most 64 KiB.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::os::fd::AsRawFd;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use socket2::{Domain, Protocol, Socket, Type};

use crate::config::{ServeConfig, ServeMode};
use crate::net::stream::{Listener, Stream, UnixSocketFile};
use crate::net::sys::TimerFd;
use crate::net::tls::TlsStream;
use crate::net::{Ready, Transport, STOP_CHECK};
use crate::protocol::http::RequestFramer;
use crate::protocol::raw::Delimiter;
use crate::protocol::{Feed, Framer};

mod h2;

const LISTENER: Token = Token(usize::MAX);
/// `--delay`'s release timer: a timerfd, so held responses go out on time to the microsecond
/// (a poll timeout is in whole milliseconds, rounded up: a 2 ms delay would hold 2-3 ms).
const RELEASE_TIMER: Token = Token(usize::MAX - 1);
/// Connections the listening socket queues before accept (`listen(2)`'s backlog).
const LISTEN_BACKLOG: i32 = 4096;
const EVENTS_CAPACITY: usize = 1024;
/// Slab slots allocated at start; the slab grows past them only with more connections.
const CONNECTIONS_INITIAL: usize = 1024;
/// A connection's input buffer: the longest request head the server accepts (a longer one
/// gets a 431).
const INBUF_BYTES: usize = 16 * 1024;
/// HTTP/2 mode's input buffer: room for a few frames of the largest size we accept.
const H2_INBUF_BYTES: usize = 4 * h2::FRAME_BYTES_MAX;
/// Pending output above which a connection stops reading until its client catches up.
const OUT_LIMIT_BYTES: usize = 256 * 1024;

const BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const HEAD_TOO_LARGE: &[u8] =
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// What the server saw, summed over its threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServeCounts {
    pub requests: u64,
    pub connections: u64,
}

/// A running server. Dropping it without `stop` leaves the threads running.
pub struct Server {
    addr: SocketAddr,
    /// `--listen unix:PATH`: the socket's file, removed when the server is dropped.
    unix: Option<UnixSocketFile>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<io::Result<ServeCounts>>>,
}

impl Server {
    /// Binds and starts the server threads; they run until `stop` is set.
    pub fn start(config: &ServeConfig, stop: Arc<AtomicBool>) -> io::Result<Server> {
        // As many connections as the hard limit allows; a failed raise only lowers the ceiling.
        let _ = crate::net::sys::raise_open_file_limit();
        let (listener, addr, unix) = match &config.unix {
            None => {
                let listener = listen_tcp(config.listen)?;
                let addr = listener.local_addr()?;
                (Ok(listener), addr, None)
            }
            Some(path) => {
                let listener = crate::net::stream::listen_unix(path, LISTEN_BACKLOG)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
                (Err(listener), config.listen, Some(UnixSocketFile(path.clone())))
            }
        };
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let mut threads = Vec::with_capacity(config.threads);
        for id in 0..config.threads {
            let listener = match &listener {
                Ok(tcp) => Listener::Tcp(mio::net::TcpListener::from_std(tcp.try_clone()?)),
                Err(unix) => Listener::Unix(mio::net::UnixListener::from_std(unix.try_clone()?)),
            };
            let config = config.clone();
            let stop = Arc::clone(&stop);
            // Pinned only when `--cpus` says where.
            let core = config.cpus.as_ref().and_then(|list| {
                let want = list[id % list.len()];
                cores.iter().copied().find(|c| c.id == want)
            });
            threads.push(crate::net::spawn_pinned(format!("clobber-s{id}"), core, move || {
                serve_thread(&config, listener, &stop)
            })?);
        }
        Ok(Server { addr, unix, stop, threads })
    }

    /// The TCP address listened on (with `--listen unix:PATH`, the unused `listen`).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where clients connect, for people: `127.0.0.1:8000` or `unix:/run/x.sock`.
    pub fn listening_on(&self) -> String {
        match &self.unix {
            Some(file) => format!("unix:{}", file.0.display()),
            None => self.addr.to_string(),
        }
    }

    /// Waits for the threads to end (after `stop` is set) and sums their counts.
    pub fn join(self) -> io::Result<ServeCounts> {
        let mut total = ServeCounts::default();
        for handle in self.threads {
            let counts = handle.join().map_err(|_| io::Error::other("a server thread panicked"))??;
            total.requests += counts.requests;
            total.connections += counts.connections;
        }
        Ok(total)
    }

    /// Stops the threads and sums their counts.
    pub fn stop(self) -> io::Result<ServeCounts> {
        self.stop.store(true, Ordering::Relaxed);
        self.join()
    }
}

/// A non-blocking TCP listener on `addr`, with SO_REUSEADDR.
fn listen_tcp(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// How a server thread turns an accepted socket into the transport its connections use.
trait Accept {
    type Stream: Transport;
    fn wrap(&self, socket: Stream) -> io::Result<Self::Stream>;
}

/// Plain TCP (or a Unix socket): the socket itself.
struct Plain;

impl Accept for Plain {
    type Stream = Stream;

    fn wrap(&self, socket: Stream) -> io::Result<Stream> {
        Ok(socket)
    }
}

/// TLS: a rustls server session on the socket; its handshake runs inside the first reads.
struct Tls(Arc<rustls::ServerConfig>);

impl Accept for Tls {
    type Stream = TlsStream<rustls::ServerConnection>;

    fn wrap(&self, socket: Stream) -> io::Result<Self::Stream> {
        crate::net::tls::accept(&self.0, socket)
    }
}

fn serve_thread(config: &ServeConfig, listener: Listener, stop: &AtomicBool) -> io::Result<ServeCounts> {
    // One monomorphized loop per transport.
    match &config.tls {
        None => serve_loop(config, listener, stop, Plain),
        Some(identity) => {
            let tls = crate::net::tls::server_config(identity, config.mode.alpn()).map_err(io::Error::other)?;
            serve_loop(config, listener, stop, Tls(tls))
        }
    }
}

fn serve_loop<A: Accept>(
    config: &ServeConfig,
    mut listener: Listener,
    stop: &AtomicBool,
    acceptor: A,
) -> io::Result<ServeCounts> {
    let mut poll = Poll::new()?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(EVENTS_CAPACITY);
    let mut conns: Slab<ServerConn<A::Stream>> = Slab::with_capacity(CONNECTIONS_INITIAL);
    let mut closed = Vec::new();
    let mut counts = ServeCounts::default();
    let responder = Responder::new(config);
    // --stall-every: the request count at which the thread next freezes.
    let mut next_stall_n_requests = config.stall.map_or(u64::MAX, |(every, _)| every);
    let mut next_release: Option<Instant> = None;
    let release_timer = match responder.delay {
        Some(_) => {
            let timer = TimerFd::new()?;
            poll.registry().register(&mut SourceFd(&timer.as_raw_fd()), RELEASE_TIMER, Interest::READABLE)?;
            Some(timer)
        }
        None => None,
    };
    let mut release_timer_set_for: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let mut timeout = STOP_CHECK;
        if let Some(at) = next_release {
            let precise = match &release_timer {
                Some(_) if release_timer_set_for == Some(at) => true,
                Some(timer) => timer.set_after(at.saturating_duration_since(Instant::now())).is_ok(),
                None => false,
            };
            if precise {
                release_timer_set_for = Some(at);
            } else {
                timeout = timeout.min(at.saturating_duration_since(Instant::now()));
            }
        }
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            if event.token() == RELEASE_TIMER {
                // Its time came: the release scan below runs after every poll.
                continue;
            }
            if event.token() == LISTENER {
                accept_all(&mut listener, &mut poll, &acceptor, &mut conns, &mut counts, config.mode);
                continue;
            }
            let key = event.token().0;
            let Some(conn) = conns.get_mut(key) else {
                continue;
            };
            if conn.closed {
                continue;
            }
            conn.on_event(Ready::of(event), &responder, &mut counts);
            if conn.closed {
                closed.push(key);
            }
            if counts.requests >= next_stall_n_requests {
                // --stall-every: the whole thread freezes, as a stop-the-world pause would.
                let (every, pause) = config.stall.expect("a stall threshold comes with a stall");
                std::thread::sleep(pause);
                next_stall_n_requests = (counts.requests / every + 1) * every;
            }
        }
        if responder.delay.is_some() {
            // --delay: release the responses whose time has come. A scan of the connections
            // per loop turn: this is a test server mode, not the fast path.
            let now = Instant::now();
            next_release = None;
            for (key, conn) in conns.iter_mut() {
                if conn.closed || conn.held.is_empty() {
                    continue;
                }
                conn.release(now);
                conn.drive(&responder, &mut counts);
                if conn.closed {
                    closed.push(key);
                } else if let Some(&(due, _)) = conn.held.front() {
                    next_release = Some(next_release.map_or(due, |n: Instant| n.min(due)));
                }
            }
        }
        for key in closed.drain(..) {
            if conns.contains(key) {
                conns.remove(key);
            }
        }
    }
    Ok(counts)
}

fn accept_all<A: Accept>(
    listener: &mut Listener,
    poll: &mut Poll,
    acceptor: &A,
    conns: &mut Slab<ServerConn<A::Stream>>,
    counts: &mut ServeCounts,
    mode: ServeMode,
) {
    loop {
        match listener.accept() {
            Ok(mut tcp) => {
                let entry = conns.vacant_entry();
                let token = Token(entry.key());
                // Registered once, for both directions, as the client's sockets are.
                if poll.registry().register(&mut tcp, token, Interest::READABLE | Interest::WRITABLE).is_err() {
                    continue;
                }
                let Ok(stream) = acceptor.wrap(tcp) else { continue };
                entry.insert(ServerConn::new(stream, mode));
                counts.connections += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            // Out of descriptors, or a connection reset before it was accepted: try later.
            Err(_) => return,
        }
    }
}

/// What the server sends, built once per thread.
struct Responder {
    mode: ServeMode,
    delay: Option<Duration>,
    until: Delimiter,
    respond: Option<Vec<u8>>,
    http_response: Vec<u8>,
}

impl Responder {
    fn new(config: &ServeConfig) -> Responder {
        Responder {
            mode: config.mode,
            delay: config.delay,
            until: config.until.clone(),
            respond: config.respond.clone(),
            http_response: config.http_response(),
        }
    }
}

struct ServerConn<T> {
    stream: T,
    /// Readiness seen and not yet used up (cleared by `WouldBlock` or a short read).
    readable: bool,
    writable: bool,
    /// The client closed its side: keep reading past a short read to see the EOF.
    read_closed: bool,
    closed: bool,
    /// Close once the pending output is written (the client asked for it).
    close_after_flush: bool,
    inbuf: Box<[u8]>,
    in_bytes: usize,
    out: Vec<u8>,
    out_pos: usize,
    /// Echo mode: delimiter bytes matched so far.
    matched: usize,
    /// HTTP mode: where the current request stands.
    framer: RequestFramer,
    /// HTTP/2 mode: the connection's session.
    h2: Option<Box<h2::Session>>,
    /// `--delay`: responses produced but not yet due, oldest first.
    held: std::collections::VecDeque<(Instant, Vec<u8>)>,
}

impl<T: Transport> ServerConn<T> {
    fn new(stream: T, mode: ServeMode) -> ServerConn<T> {
        let (inbuf_bytes, h2) = match mode {
            ServeMode::H2 => (H2_INBUF_BYTES, Some(Box::new(h2::Session::new()))),
            ServeMode::Echo | ServeMode::Http => (INBUF_BYTES, None),
        };
        ServerConn {
            stream,
            readable: false,
            writable: true,
            read_closed: false,
            closed: false,
            close_after_flush: false,
            inbuf: vec![0u8; inbuf_bytes].into_boxed_slice(),
            in_bytes: 0,
            out: Vec::new(),
            out_pos: 0,
            matched: 0,
            framer: RequestFramer::new(),
            h2,
            held: std::collections::VecDeque::new(),
        }
    }

    fn pending(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Caches what a readiness event said, then does all the I/O it allows.
    fn on_event(&mut self, ready: Ready, responder: &Responder, counts: &mut ServeCounts) {
        self.readable |= ready.readable;
        self.writable |= ready.writable;
        self.read_closed |= ready.read_closed;
        self.drive(responder, counts);
    }

    /// Reads, answers and writes until the socket would block either way.
    fn drive(&mut self, responder: &Responder, counts: &mut ServeCounts) {
        loop {
            if self.pending() > 0 && self.writable && !self.flush() {
                return;
            }
            if T::QUEUES_WRITES && self.writable {
                match self.stream.send_held() {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                    Err(_) => {
                        self.closed = true;
                        return;
                    }
                }
            }
            if self.pending() == 0 && self.held.is_empty() && self.close_after_flush {
                // Records the transport holds go out first. Not writable here means the send
                // above was refused (a refused write leaves output pending): the writable event
                // that comes when the socket drains brings the connection back here.
                if !T::QUEUES_WRITES || self.writable {
                    self.closed = true;
                }
                return;
            }
            if !(self.readable || self.read_closed) || self.pending() >= OUT_LIMIT_BYTES {
                return;
            }
            let space = self.inbuf.len() - self.in_bytes;
            match self.stream.read(&mut self.inbuf[self.in_bytes..]) {
                Ok(0) => {
                    self.closed = true;
                    return;
                }
                Ok(n) => {
                    if self.stream.emptied_by(n, space) {
                        self.readable = false;
                    }
                    let fresh = self.in_bytes..self.in_bytes + n;
                    self.in_bytes += n;
                    let out_before = self.out.len();
                    match responder.mode {
                        ServeMode::Echo => self.echo(fresh, responder, counts),
                        ServeMode::Http => self.http(responder, counts),
                        ServeMode::H2 => self.h2(counts),
                    }
                    if let Some(delay) = responder.delay {
                        if self.out.len() > out_before {
                            let fresh_out = self.out.split_off(out_before);
                            self.held.push_back((Instant::now() + delay, fresh_out));
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.closed = true;
                    return;
                }
            }
        }
    }

    /// Moves the held responses that are due by `now` to the output.
    fn release(&mut self, now: Instant) {
        while self.held.front().is_some_and(|(due, _)| *due <= now) {
            let (_, bytes) = self.held.pop_front().expect("checked above");
            self.out.extend_from_slice(&bytes);
        }
    }

    /// Writes pending output; false if the connection closed.
    fn flush(&mut self) -> bool {
        while self.pending() > 0 {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.writable = false;
                    return true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.closed = true;
                    return false;
                }
            }
        }
        self.out.clear();
        self.out_pos = 0;
        true
    }

    fn echo(&mut self, fresh: std::ops::Range<usize>, responder: &Responder, counts: &mut ServeCounts) {
        let mut start = fresh.start;
        while let Some(end) = responder.until.find_end(&mut self.matched, &self.inbuf[start..fresh.end]) {
            counts.requests += 1;
            if let Some(reply) = &responder.respond {
                self.out.extend_from_slice(reply);
            }
            start += end;
        }
        if responder.respond.is_none() {
            self.out.extend_from_slice(&self.inbuf[fresh]);
        }
        self.in_bytes = 0;
    }

    /// Frames the requests in the input buffer and appends a response per complete one. An
    /// unfinished head stays at the start of the buffer for the next read; body bytes are
    /// consumed as they come.
    fn http(&mut self, responder: &Responder, counts: &mut ServeCounts) {
        let mut start = 0;
        while start < self.in_bytes && !self.close_after_flush {
            let (used, feed) = self.framer.feed(&self.inbuf[start..self.in_bytes]);
            start += used;
            match feed {
                Feed::Complete(done) => {
                    counts.requests += 1;
                    self.out.extend_from_slice(&responder.http_response);
                    self.close_after_flush = done.close;
                }
                // Either every byte went into a body, or a head is not whole yet.
                Feed::NeedMore => break,
                Feed::Error(_) => {
                    self.out.extend_from_slice(BAD_REQUEST);
                    self.close_after_flush = true;
                    start = self.in_bytes;
                }
            }
        }
        self.inbuf.copy_within(start..self.in_bytes, 0);
        self.in_bytes -= start;
        if self.in_bytes == self.inbuf.len() {
            // A request head larger than the buffer: refuse it.
            self.out.extend_from_slice(HEAD_TOO_LARGE);
            self.close_after_flush = true;
            self.in_bytes = 0;
        }
    }
}

impl<T> ServerConn<T> {
    /// Hands the input to the HTTP/2 session; a partial frame stays at the start of the buffer
    /// (the buffer holds several frames of the largest size, so there is always room to read).
    fn h2(&mut self, counts: &mut ServeCounts) {
        let session = self.h2.as_mut().expect("HTTP/2 mode makes a session per connection");
        let used = session.feed(&self.inbuf[..self.in_bytes], &mut self.out, &mut counts.requests);
        self.inbuf.copy_within(used..self.in_bytes, 0);
        self.in_bytes -= used;
        if session.done() {
            self.close_after_flush = true;
            self.in_bytes = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A transport that hands out scripted reads and collects writes. `held` records stay
    /// queued (as TLS records in a full socket would) until `send_held` has been refused
    /// `held_refusals` times.
    #[derive(Default)]
    struct Scripted {
        reads: std::collections::VecDeque<Vec<u8>>,
        written: Vec<u8>,
        held_refusals: usize,
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some(mut next) = self.reads.pop_front() else {
                return Err(io::ErrorKind::WouldBlock.into());
            };
            let n = next.len().min(buf.len());
            buf[..n].copy_from_slice(&next[..n]);
            if n < next.len() {
                self.reads.push_front(next.split_off(n));
            }
            Ok(n)
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Transport for Scripted {
        const QUEUES_WRITES: bool = true;

        fn connect_result(&mut self) -> io::Result<bool> {
            Ok(true)
        }

        fn send_held(&mut self) -> io::Result<()> {
            if self.held_refusals > 0 {
                self.held_refusals -= 1;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(())
        }
    }

    fn http_conn(reads: &[&[u8]]) -> ServerConn<Scripted> {
        let stream = Scripted { reads: reads.iter().map(|r| r.to_vec()).collect(), ..Scripted::default() };
        ServerConn::new(stream, ServeMode::Http)
    }

    fn responder() -> Responder {
        let config = ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            unix: None,
            mode: ServeMode::Http,
            until: Delimiter::new(b"\n"),
            respond: Some(b"OK\n".to_vec()),
            threads: 1,
            cpus: None,
            delay: None,
            stall: None,
            tls: None,
        };
        Responder::new(&config)
    }

    const READABLE: Ready = Ready { readable: true, writable: true, read_closed: false };

    #[test]
    fn http_pipelined_requests_split_across_reads_get_a_response_each() {
        let mut conn = http_conn(&[b"GET / HTTP/1.1\r\n\r\nGET / HT", b"TP/1.1\r\nContent-Length: 2\r\n\r\nab"]);
        let mut counts = ServeCounts::default();
        conn.on_event(READABLE, &responder(), &mut counts);
        // The first read was short, so the queue was empty: the rest comes with a new edge.
        assert_eq!((counts.requests, &conn.stream.written[..], conn.readable), (1, &b"OK\n"[..], false));
        conn.on_event(READABLE, &responder(), &mut counts);
        assert_eq!((counts.requests, &conn.stream.written[..], conn.closed), (2, &b"OK\nOK\n"[..], false));
    }

    #[test]
    fn http_close_waits_for_the_records_the_transport_holds() {
        let mut conn = http_conn(&[b"GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n"]);
        conn.stream.held_refusals = 2;
        let mut counts = ServeCounts::default();
        conn.on_event(READABLE, &responder(), &mut counts);
        assert_eq!((counts.requests, conn.closed, conn.writable), (1, false, false));
        assert_eq!(conn.stream.held_refusals, 1, "one send per turn, none after a refusal");
        // The next writable event: still held. The one after: sent, so the connection closes.
        conn.on_event(Ready { writable: true, ..Ready::default() }, &responder(), &mut counts);
        assert!(!conn.closed);
        conn.on_event(Ready { writable: true, ..Ready::default() }, &responder(), &mut counts);
        assert!(conn.closed);
        assert_eq!(conn.stream.written, b"OK\n");
    }

    #[test]
    fn http_bad_content_length_gets_400_and_a_close() {
        let mut conn = http_conn(&[b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\nGET / HTTP/1.1\r\n\r\n"]);
        let mut counts = ServeCounts::default();
        conn.on_event(READABLE, &responder(), &mut counts);
        assert_eq!((counts.requests, &conn.stream.written[..], conn.closed), (0, BAD_REQUEST, true));
    }

    #[test]
    fn http_head_larger_than_the_buffer_gets_431_and_a_close() {
        let long = [&b"GET / HTTP/1.1\r\nX-Pad: "[..], &vec![b'p'; INBUF_BYTES]].concat();
        let mut conn = http_conn(&[&long]);
        let mut counts = ServeCounts::default();
        conn.on_event(READABLE, &responder(), &mut counts);
        assert_eq!((counts.requests, &conn.stream.written[..], conn.closed), (0, HEAD_TOO_LARGE, true));
    }
}

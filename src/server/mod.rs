//! The built-in target (`clobber serve`): the same design as the client (one `mio::Poll` and one
//! slab of connections per thread, no locks), so that it is fast enough that a benchmark
//! measures the client.
//!
//! Echo mode sends back every byte and counts a request per `--until` delimiter (or, with
//! `--respond`, sends that reply per delimiter instead). HTTP mode parses each request head with
//! httparse, skips a Content-Length body, and appends the fixed response, in order, so pipelined
//! requests get one write of all their responses; `Connection: close` (or HTTP/1.0 without
//! keep-alive) closes after the response.
//!
//! Threads share one listening socket (each registers its own clone); counts are per thread and
//! summed when the server stops. A connection whose client does not read has its reads paused
//! once `OUT_LIMIT` bytes wait to be written, so memory stays bounded.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use socket2::{Domain, Protocol, Socket, Type};

use crate::config::{ServeConfig, ServeMode};
use crate::net::tls::TlsStream;
use crate::protocol::raw::Delimiter;

const LISTENER: Token = Token(usize::MAX);
const STOP_CHECK: Duration = Duration::from_millis(50);
const INBUF_BYTES: usize = 16 * 1024;
/// Pending output above which a connection stops reading until its client catches up.
const OUT_LIMIT: usize = 256 * 1024;
const MAX_HEADERS: usize = 64;

/// What the server saw, summed over its threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServeCounts {
    pub requests: u64,
    pub connections: u64,
}

/// A running server. Dropping it without `stop` leaves the threads running.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<io::Result<ServeCounts>>>,
}

impl Server {
    /// Binds and starts the server threads; they run until `stop` is set.
    pub fn start(config: &ServeConfig, stop: Arc<AtomicBool>) -> io::Result<Server> {
        // As many connections as the hard limit allows; a failed raise only lowers the ceiling.
        let _ = crate::net::sys::raise_open_file_limit();
        let socket = Socket::new(Domain::for_address(config.listen), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.bind(&config.listen.into())?;
        socket.listen(4096)?;
        socket.set_nonblocking(true)?;
        let listener: std::net::TcpListener = socket.into();
        let addr = listener.local_addr()?;
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let mut threads = Vec::with_capacity(config.threads);
        for id in 0..config.threads {
            let listener = TcpListener::from_std(listener.try_clone()?);
            let config = config.clone();
            let stop = Arc::clone(&stop);
            let core = config.cpus.as_ref().and_then(|list| {
                let want = list[id % list.len()];
                cores.iter().copied().find(|c| c.id == want)
            });
            threads.push(std::thread::Builder::new().name(format!("clobber-s{id}")).spawn(move || {
                if let Some(core) = core {
                    core_affinity::set_for_current(core);
                }
                serve_thread(&config, listener, &stop)
            })?);
        }
        Ok(Server { addr, stop, threads })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
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

fn serve_thread(config: &ServeConfig, mut listener: TcpListener, stop: &AtomicBool) -> io::Result<ServeCounts> {
    let tls = match &config.tls {
        Some(identity) => {
            Some(crate::net::tls::server_config(identity, config.mode == ServeMode::Http).map_err(io::Error::other)?)
        }
        None => None,
    };
    let mut poll = Poll::new()?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    let mut conns: Slab<ServerConn> = Slab::with_capacity(1024);
    let mut closed = Vec::new();
    let mut counts = ServeCounts::default();
    let responder = Responder::new(config);
    let mut next_stall = config.stall.map_or(u64::MAX, |(every, _)| every);
    let mut next_release: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let timeout =
            next_release.map_or(STOP_CHECK, |at| at.saturating_duration_since(Instant::now()).min(STOP_CHECK));
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                accept_all(&mut listener, &mut poll, tls.as_ref(), &mut conns, &mut counts);
                continue;
            }
            let key = event.token().0;
            let Some(conn) = conns.get_mut(key) else {
                continue;
            };
            if conn.closed {
                continue;
            }
            conn.readable |= event.is_readable() || event.is_read_closed() || event.is_error();
            conn.read_closed |= event.is_read_closed() || event.is_error();
            conn.writable |= event.is_writable() || event.is_write_closed() || event.is_error();
            conn.drive(&responder, &mut counts);
            if conn.closed {
                closed.push(key);
            }
            if counts.requests >= next_stall {
                // --stall-every: the whole thread freezes, as a stop-the-world pause would.
                let (every, pause) = config.stall.expect("a stall threshold comes with a stall");
                std::thread::sleep(pause);
                next_stall = (counts.requests / every + 1) * every;
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

fn accept_all(
    listener: &mut TcpListener,
    poll: &mut Poll,
    tls: Option<&Arc<rustls::ServerConfig>>,
    conns: &mut Slab<ServerConn>,
    counts: &mut ServeCounts,
) {
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nodelay(true);
                let entry = conns.vacant_entry();
                let token = Token(entry.key());
                if poll.registry().register(&mut stream, token, Interest::READABLE | Interest::WRITABLE).is_err() {
                    continue;
                }
                let stream = match tls {
                    None => ServerStream::Plain(stream),
                    Some(config) => match crate::net::tls::accept(config, stream) {
                        Ok(session) => ServerStream::Tls(Box::new(session)),
                        Err(_) => continue,
                    },
                };
                entry.insert(ServerConn::new(stream));
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

/// An accepted socket, with a TLS session on it or not.
enum ServerStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<rustls::ServerConnection>>),
}

impl ServerStream {
    /// Whether a read of `n` bytes into `len` left nothing to read (see `Transport::emptied_by`).
    fn emptied_by(&self, n: usize, len: usize) -> bool {
        match self {
            ServerStream::Plain(_) => n < len,
            ServerStream::Tls(tls) => tls.emptied_by(n, len),
        }
    }

    /// Whether TLS records wait for the socket.
    fn has_held(&self) -> bool {
        match self {
            ServerStream::Plain(_) => false,
            ServerStream::Tls(tls) => tls.has_held(),
        }
    }

    /// Sends TLS records the socket did not take yet; `WouldBlock` while it is full.
    fn send_held(&mut self) -> io::Result<()> {
        match self {
            ServerStream::Plain(_) => Ok(()),
            ServerStream::Tls(tls) => tls.send_records(),
        }
    }
}

impl Read for ServerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ServerStream::Plain(tcp) => tcp.read(buf),
            ServerStream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for ServerStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ServerStream::Plain(tcp) => tcp.write(buf),
            ServerStream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            ServerStream::Plain(_) => Ok(()),
            ServerStream::Tls(tls) => tls.send_records(),
        }
    }
}

struct ServerConn {
    stream: ServerStream,
    readable: bool,
    writable: bool,
    /// The client closed its side: keep reading past a short read to see the EOF.
    read_closed: bool,
    closed: bool,
    /// Close once the pending output is written (the client asked for it).
    close_after_flush: bool,
    inbuf: Box<[u8]>,
    in_len: usize,
    out: Vec<u8>,
    out_pos: usize,
    /// Echo mode: delimiter bytes matched so far.
    matched: usize,
    /// HTTP mode: body bytes of the current request still to skip.
    body_left: u64,
    /// HTTP mode: the last request head and its meaning.
    memo: HeadMemo,
    /// `--delay`: responses produced but not yet due, oldest first.
    held: std::collections::VecDeque<(Instant, Vec<u8>)>,
}

impl ServerConn {
    fn new(stream: ServerStream) -> ServerConn {
        ServerConn {
            stream,
            readable: false,
            writable: true,
            read_closed: false,
            closed: false,
            close_after_flush: false,
            inbuf: vec![0u8; INBUF_BYTES].into_boxed_slice(),
            in_len: 0,
            out: Vec::new(),
            out_pos: 0,
            matched: 0,
            body_left: 0,
            memo: HeadMemo::default(),
            held: std::collections::VecDeque::new(),
        }
    }

    fn pending(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Reads, answers and writes until the socket would block either way.
    fn drive(&mut self, responder: &Responder, counts: &mut ServeCounts) {
        loop {
            if self.pending() > 0 && self.writable && !self.flush() {
                return;
            }
            if self.writable && self.stream.has_held() {
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
                // TLS records still queued go out first (a full socket raises a writable event).
                if self.stream.has_held() {
                    return;
                }
                self.closed = true;
                return;
            }
            if !(self.readable || self.read_closed) || self.pending() >= OUT_LIMIT {
                return;
            }
            let space = self.inbuf.len() - self.in_len;
            match self.stream.read(&mut self.inbuf[self.in_len..]) {
                Ok(0) => {
                    self.closed = true;
                    return;
                }
                Ok(n) => {
                    if self.stream.emptied_by(n, space) {
                        self.readable = false;
                    }
                    let fresh = self.in_len..self.in_len + n;
                    self.in_len += n;
                    let out_before = self.out.len();
                    match responder.mode {
                        ServeMode::Echo => self.echo(fresh, responder, counts),
                        ServeMode::Http => self.http(responder, counts),
                    }
                    if let Some(delay) = responder.delay {
                        if self.out.len() > out_before {
                            let fresh_out = self.out.split_off(out_before);
                            self.held.push_back((Instant::now() + delay, fresh_out));
                        }
                    }
                    if self.closed {
                        return;
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
        self.in_len = 0;
    }

    fn http(&mut self, responder: &Responder, counts: &mut ServeCounts) {
        let mut start = 0;
        while start < self.in_len && !self.close_after_flush {
            if self.body_left > 0 {
                let skip = self.body_left.min((self.in_len - start) as u64);
                self.body_left -= skip;
                start += skip as usize;
                continue;
            }
            match self.memo.parse(&self.inbuf[start..self.in_len]) {
                Ok(httparse::Status::Complete((head_len, length, close))) => {
                    counts.requests += 1;
                    self.out.extend_from_slice(&responder.http_response);
                    self.body_left = length;
                    self.close_after_flush = close;
                    start += head_len;
                }
                Ok(httparse::Status::Partial) => break,
                Err(_) => {
                    self.out.extend_from_slice(
                        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    self.close_after_flush = true;
                    start = self.in_len;
                }
            }
        }
        self.inbuf.copy_within(start..self.in_len, 0);
        self.in_len -= start;
        if self.in_len == self.inbuf.len() {
            // A request head larger than the buffer: refuse it.
            self.out.extend_from_slice(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            self.close_after_flush = true;
            self.in_len = 0;
        }
    }
}

/// The last request head a connection parsed, byte for byte, with its meaning. Load sends the
/// same head again and again: when the input starts with exactly these bytes (which end with
/// the head's empty line), the parse would be the same, so a compare replaces it.
#[derive(Default)]
struct HeadMemo {
    head: Vec<u8>,
    length: u64,
    close: bool,
}

impl HeadMemo {
    /// `Complete((head length, body length, close))`, `Partial`, or an error for a malformed head.
    fn parse(&mut self, input: &[u8]) -> Result<httparse::Status<(usize, u64, bool)>, httparse::Error> {
        let len = self.head.len();
        if len > 0 && input.len() >= len && input[..len] == self.head[..] {
            return Ok(httparse::Status::Complete((len, self.length, self.close)));
        }
        let mut headers = [const { std::mem::MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut []);
        match httparse::ParserConfig::default().parse_request_with_uninit_headers(&mut request, input, &mut headers)? {
            httparse::Status::Complete(head_len) => {
                let (length, close) = request_framing(&request);
                self.head.clear();
                if head_len <= 1024 {
                    self.head.extend_from_slice(&input[..head_len]);
                    (self.length, self.close) = (length, close);
                }
                Ok(httparse::Status::Complete((head_len, length, close)))
            }
            httparse::Status::Partial => Ok(httparse::Status::Partial),
        }
    }
}

/// The body length of a request and whether the client wants the connection closed after it.
fn request_framing(request: &httparse::Request) -> (u64, bool) {
    let mut length = 0;
    let mut close = request.version == Some(0);
    for h in request.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        } else if h.name.eq_ignore_ascii_case("connection") {
            let v = h.value;
            if v.eq_ignore_ascii_case(b"close") {
                close = true;
            } else if v.eq_ignore_ascii_case(b"keep-alive") {
                close = false;
            }
        }
    }
    (length, close)
}

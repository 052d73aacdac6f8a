//! One HTTP/2 client connection: a socket driving a sans-IO `protocol::h2::client::Session`.
//!
//! ```text
//! phase       input                                  next
//! ----------  -------------------------------------  -----------------------------------------------
//! Closed      open: a new socket, connect under way  Connecting (sets the connect deadline)
//! Closed      a stale event (the old socket's)       Closed
//! Connecting  not connected yet                      Connecting
//! Connecting  connected, ALPN did not select h2      Closed(Failed(h2_alpn))
//! Connecting  connected                              Open (preface, SETTINGS, first streams)
//! Connecting  connect error or deadline              Closed(Failed(connect kind))
//! Open        bytes read: frames fed to the session  Open (streams complete, new ones open)
//! Open        --reconnect, its stream answered       Closed(Done)
//! Open        GOAWAY, its last stream answered       Closed(ServerClosed)
//! Open        EOF, earlier streams answered          Closed(ServerClosed)
//! Open        EOF with nothing answered              Closed(Failed(Eof))
//! Open        a protocol violation by the server     Closed(Failed(h2_protocol))
//! Open        a stream's deadline, or no SETTINGS    Closed(Failed(timeout or h2_protocol))
//! Open        read or write error                    Closed(Failed(kind))
//! ```
//!
//! HTTP/2 reads and writes interleave, so unlike HTTP/1.1's `Conn` there is no Writing or
//! Reading phase: in `Open`, each event reads until the socket is drained, feeds the frames to
//! the session (which completes streams and queues what must go out: SETTINGS and PING ACKs,
//! WINDOW_UPDATEs), opens new streams as far as `--streams`, the server's limit and the
//! budget allow, and writes everything queued in one write. Under `--rate` the connection
//! offers itself to the pacer (`Outcome::Waiting`) whenever it has a free stream.
//!
//! Deadlines: each stream's is its send time plus `--timeout`; the connection's `deadline()` is
//! a lower bound of the earliest, kept without a scan per stream. When it comes due, the exact
//! earliest is computed: past, the connection closes with kind `timeout` (its other streams go
//! back to the budget, as HTTP/1.1's do); not yet, the deadline moves later and the worker
//! re-arms it. Until the server's SETTINGS arrive, the connection also waits at most
//! `--timeout` for them (kind `h2_protocol`).

use std::io;
use std::time::{Duration, Instant};

use super::conn::{
    count_connected, feed_read, record_response, CloseReason, Connection, Ctx, Outcome, RequestPlan, Tag,
};
use crate::net::{Ready, Transport};
use crate::protocol::h2::client::{Event, Request, Session};
use crate::protocol::h2::frame::code;
use crate::protocol::session::Session as _;
use crate::stats::ErrorKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Connecting { since: Instant, deadline: Instant },
    Open,
    Closed(CloseReason),
}

pub struct H2Conn<T> {
    io: Option<T>,
    phase: Phase,
    session: Session<Tag>,
    capacity: u32,
    readable: bool,
    writable: bool,
    read_closed: bool,
    /// Bytes read that do not yet make a whole frame; at most one frame's worth plus a read.
    carry: Vec<u8>,
    /// Requests taken from the budget before the connect, not yet sent as streams.
    reserved: u32,
    /// Streams opened and answered on the current socket.
    n_opened: u64,
    n_responses: u64,
    /// A lower bound of the earliest stream deadline (see the file's comment); `None` when
    /// nothing is awaited.
    deadline: Option<Instant>,
    /// Until the server's first SETTINGS: when it is too late.
    settings_deadline: Option<Instant>,
    /// Under `--rate`: the worker's waiting list holds this connection.
    listed: bool,
    /// The streams opened during this event wait for the end of the event batch to be written
    /// (`Outcome::Deferred`, `RequestPlan::defer_next`).
    deferred: bool,
}

impl<T: Transport> H2Conn<T> {
    /// A connection slot with no socket yet; at most `streams` streams at once.
    pub fn new(streams: u32) -> H2Conn<T> {
        H2Conn {
            io: None,
            phase: Phase::Closed(CloseReason::Done),
            session: Session::new(streams),
            capacity: streams,
            readable: false,
            writable: false,
            read_closed: false,
            carry: Vec::new(),
            reserved: 0,
            n_opened: 0,
            n_responses: 0,
            deadline: None,
            settings_deadline: None,
            listed: false,
            deferred: false,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    fn enter(&mut self, next: Phase) {
        debug_assert!(
            matches!(
                (self.phase, next),
                (Phase::Closed(_), Phase::Connecting { .. })
                    | (Phase::Connecting { .. }, Phase::Open | Phase::Closed(_))
                    | (Phase::Open, Phase::Closed(_))
            ),
            "no transition {:?} -> {:?}",
            self.phase,
            next
        );
        self.phase = next;
    }

    fn request<'a>(ctx: &Ctx<'a>) -> Request<'a> {
        let plan: &'a RequestPlan = ctx.plan;
        let h2 = plan.h2.as_ref().expect("an HTTP/2 connection has an HTTP/2 plan");
        Request {
            block: &h2.block,
            body: &h2.body,
            indexed: h2.indexed.as_ref().map(|(first, repeat, bytes)| (first.as_slice(), repeat.as_slice(), *bytes)),
        }
    }

    fn on_connecting(&mut self, ctx: &mut Ctx) -> Outcome {
        let io = self.io.as_mut().expect("a connecting connection has a socket");
        match io.connect_result() {
            Ok(true) => {
                self.writable = true;
                if io.resumed().is_some() && io.alpn_protocol() != Some(b"h2") {
                    let offered = match io.alpn_protocol() {
                        Some(p) => format!("it selected '{}'", String::from_utf8_lossy(p)),
                        None => "it selected no protocol (it speaks HTTP/1.1 only over TLS)".to_string(),
                    };
                    return self.close(CloseReason::Failed(ErrorKind::H2Alpn), ctx, || {
                        format!("the server did not select h2 by ALPN: {offered}")
                    });
                }
                Outcome::Connected
            }
            Ok(false) => Outcome::Pending,
            // A server that speaks no protocol we offered may end the handshake with the
            // no_application_protocol alert (nginx without http2 does) instead of selecting
            // none: the same answer, in another form.
            Err(e) if io.alpn_refused() => self.close(CloseReason::Failed(ErrorKind::H2Alpn), ctx, || {
                format!("the server did not select h2 by ALPN: it refused the handshake ({e})")
            }),
            Err(e) => self.close_io_error(e, ctx),
        }
    }

    /// Reads, feeds, opens streams and writes until the socket would block, then says what
    /// the worker must do. In a closed loop the new streams are written after the event batch
    /// (`Outcome::Deferred`), as HTTP/1.1's next requests are: the server then reads many
    /// requests per wake-up. Measured against h2o at 100 streams, writing them at once cost
    /// the server about 20% more CPU per request.
    fn drive(&mut self, ctx: &mut Ctx) -> Outcome {
        loop {
            if let Some(outcome) = self.fill(ctx) {
                return outcome;
            }
            if !self.deferred {
                if let Some(outcome) = self.flush(ctx) {
                    return outcome;
                }
            }
            if !(self.readable || self.read_closed) {
                break;
            }
            let io = self.io.as_mut().expect("an open connection has a socket");
            match io.read(ctx.scratch) {
                Ok(0) => return self.on_eof(ctx),
                Ok(n) => {
                    ctx.stats.bytes_received += n as u64;
                    if io.emptied_by(n, ctx.scratch.len()) {
                        self.readable = false;
                    }
                    if let Some(outcome) = self.consume(n, ctx) {
                        return outcome;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    self.read_closed = false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.close_io_error(e, ctx),
            }
        }
        if ctx.plan.paced && self.session.can_start() > 0 && !self.listed && ctx.budget.left > 0 {
            self.listed = true;
            return Outcome::Waiting;
        }
        Outcome::Pending
    }

    /// `drive` for an event: the same, but what it queues waits for the end of the event
    /// batch when the plan says so.
    fn drive_deferring(&mut self, ctx: &mut Ctx) -> Outcome {
        let defer = ctx.plan.defer_next && !ctx.plan.paced && !self.deferred;
        self.deferred = defer;
        let outcome = self.drive(ctx);
        if !defer {
            return outcome;
        }
        if outcome != Outcome::Pending || self.session.pending_out().is_empty() {
            // Closed, or nothing to write after all.
            self.deferred = false;
            return outcome;
        }
        Outcome::Deferred
    }

    /// Opens streams while the session and the budget allow (not under `--rate`: the pacer
    /// dispatches), and closes a connection that has nothing left to do.
    fn fill(&mut self, ctx: &mut Ctx) -> Option<Outcome> {
        let reconnect = ctx.plan.reconnect;
        if !ctx.plan.paced {
            let request = Self::request(ctx);
            while self.session.can_start() > 0 && !(reconnect && self.n_opened > 0) {
                if self.reserved > 0 {
                    self.reserved -= 1;
                } else if ctx.budget.take(1) == 0 {
                    break;
                }
                self.open_stream(request, ctx.now, ctx.now, ctx);
            }
        }
        if self.session.n_open() == 0 {
            if reconnect && self.n_responses > 0 {
                return Some(self.close(CloseReason::Done, ctx, String::new));
            }
            if self.session.is_closing() {
                return Some(self.close(CloseReason::ServerClosed, ctx, String::new));
            }
        }
        None
    }

    fn open_stream(&mut self, request: Request, intended_at: Instant, now: Instant, ctx: &mut Ctx) {
        self.session.start(request, Tag { sent_at: now, intended_at });
        self.n_opened += 1;
        ctx.stats.sent += 1;
        if self.deadline.is_none() {
            self.deadline = Some(now + ctx.plan.timeout);
        }
    }

    /// Writes what the session queued, as far as the socket takes it.
    fn flush(&mut self, ctx: &mut Ctx) -> Option<Outcome> {
        while self.writable && !self.session.pending_out().is_empty() {
            let io = self.io.as_mut().expect("an open connection has a socket");
            match io.write(self.session.pending_out()) {
                Ok(0) => {
                    return Some(self.close(CloseReason::Failed(ErrorKind::Io), ctx, || "write returned 0".into()))
                }
                Ok(n) => {
                    ctx.stats.bytes_sent += n as u64;
                    self.session.sent(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Some(self.close_io_error(e, ctx)),
            }
        }
        None
    }

    /// Feeds the `n` bytes just read (after any carried ones) to the session.
    fn consume(&mut self, n: usize, ctx: &mut Ctx) -> Option<Outcome> {
        let scratch = std::mem::take(&mut ctx.scratch);
        let request = Self::request(ctx);
        let now = ctx.now;
        let n_responses = &mut self.n_responses;
        let result = feed_read(&mut self.session, &mut self.carry, &scratch[..n], request, now, &mut |event| {
            on_event(event, n_responses, ctx)
        });
        ctx.scratch = scratch;
        match result {
            Err(e) => {
                // The GOAWAY that names the error goes out if the socket takes it now.
                let _ = self.flush(ctx);
                Some(self.close(CloseReason::Failed(ErrorKind::H2Protocol), ctx, || e.to_string()))
            }
            Ok(_) => None,
        }
    }

    fn on_eof(&mut self, ctx: &mut Ctx) -> Outcome {
        if self.session.n_open() > 0 && self.n_responses == 0 {
            return self.close(CloseReason::Failed(ErrorKind::Eof), ctx, || {
                "the server closed the connection without answering".into()
            });
        }
        self.close(CloseReason::ServerClosed, ctx, String::new)
    }

    fn close(&mut self, reason: CloseReason, ctx: &mut Ctx, detail: impl FnOnce() -> String) -> Outcome {
        let mut n_back = u64::from(self.reserved);
        self.session.drain(|_| n_back += 1);
        self.reserved = 0;
        if n_back > 0 {
            ctx.budget.give_back(n_back);
        }
        if let CloseReason::Failed(kind) = reason {
            ctx.stats.record_error(kind, detail);
        }
        self.io = None;
        self.deadline = None;
        self.settings_deadline = None;
        self.listed = false;
        self.deferred = false;
        let connecting = matches!(self.phase, Phase::Connecting { .. });
        self.enter(Phase::Closed(reason));
        match reason {
            CloseReason::Failed(kind) if connecting => Outcome::ConnectFailed(kind),
            _ => Outcome::Closed(reason),
        }
    }

    fn close_io_error(&mut self, err: io::Error, ctx: &mut Ctx) -> Outcome {
        let connecting = matches!(self.phase, Phase::Connecting { .. });
        let kind = ErrorKind::of_io(&err, connecting);
        if kind == ErrorKind::Reset && self.n_responses > 0 && self.carry.is_empty() && self.session.is_closing() {
            // A reset after a GOAWAY whose streams were answered: the server closed.
            return self.close(CloseReason::ServerClosed, ctx, String::new);
        }
        self.close(CloseReason::Failed(kind), ctx, || err.to_string())
    }

    /// The exact earliest deadline: the oldest stream's, or the wait for SETTINGS.
    fn earliest(&self, timeout: Duration) -> Option<Instant> {
        let mut earliest = if self.session.settings_seen() { None } else { self.settings_deadline };
        self.session.for_each_open(|tag| {
            let at = tag.sent_at + timeout;
            earliest = Some(earliest.map_or(at, |e: Instant| e.min(at)));
        });
        earliest
    }
}

/// One event of the session: the statistics and the budget it changes.
fn on_event(event: Event<Tag>, n_responses: &mut u64, ctx: &mut Ctx) {
    match event {
        Event::Response { tag, status, first_byte_at } => {
            ctx.stats.record_ttfb(first_byte_at.saturating_duration_since(tag.sent_at));
            record_response(ctx, tag, status, None, n_responses);
        }
        Event::Reset { code: rst, .. } => {
            ctx.stats.h2_resets += 1;
            ctx.budget.give_back(1);
            ctx.stats.record_error(ErrorKind::H2Reset, || format!("RST_STREAM {}", code::name(rst)));
        }
        Event::Refused { .. } => ctx.budget.give_back(1),
        Event::GoAway { last_stream_id, code: goaway, debug } => {
            ctx.stats.h2_goaways += 1;
            if goaway != code::NO_ERROR {
                ctx.stats.record_error(ErrorKind::H2Goaway, || {
                    format!(
                        "GOAWAY {} (last stream {last_stream_id}){}",
                        code::name(goaway),
                        if debug.is_empty() { String::new() } else { format!(": {}", String::from_utf8_lossy(debug)) }
                    )
                });
            }
        }
        Event::Settings { max_concurrent_streams } => {
            if let Some(max) = max_concurrent_streams {
                let seen = ctx.stats.h2_server_max_streams.get_or_insert(max);
                *seen = (*seen).min(max);
            }
        }
    }
}

impl<T: Transport> Connection for H2Conn<T> {
    type Io = T;

    fn open(&mut self, io: T, reserved: u32, now: Instant, connect_timeout: Duration) -> Outcome {
        assert!(matches!(self.phase, Phase::Closed(_)) && self.io.is_none(), "open on a connection that is not closed");
        self.io = Some(io);
        self.session = Session::new(self.capacity);
        self.readable = false;
        self.writable = false;
        self.read_closed = false;
        self.carry.clear();
        self.reserved = reserved;
        self.n_opened = 0;
        self.n_responses = 0;
        self.deadline = None;
        self.settings_deadline = None;
        self.listed = false;
        self.deferred = false;
        self.enter(Phase::Connecting { since: now, deadline: now + connect_timeout });
        Outcome::Connecting
    }

    fn on_event(&mut self, ready: Ready, ctx: &mut Ctx) -> Outcome {
        if matches!(self.phase, Phase::Closed(_)) {
            return Outcome::Pending;
        }
        if self.deadline().is_some_and(|deadline| ctx.now >= deadline) {
            let outcome = self.on_timeout(ctx);
            if outcome != Outcome::Pending {
                return outcome;
            }
        }
        self.readable |= ready.readable || ready.read_closed;
        self.writable |= ready.writable;
        self.read_closed |= ready.read_closed;
        match self.phase {
            Phase::Connecting { .. } => self.on_connecting(ctx),
            Phase::Open => {
                if T::QUEUES_WRITES && ready.writable {
                    let io = self.io.as_mut().expect("an open connection has a socket");
                    match io.send_held() {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                        Err(e) => return self.close_io_error(e, ctx),
                    }
                }
                self.drive_deferring(ctx)
            }
            Phase::Closed(_) => Outcome::Pending,
        }
    }

    fn on_connected(&mut self, ctx: &mut Ctx) -> Outcome {
        let Phase::Connecting { since, .. } = self.phase else {
            panic!("on_connected in {:?}", self.phase);
        };
        count_connected(self.io.as_ref().expect("a connected connection has a socket"), since, ctx);
        self.enter(Phase::Open);
        self.settings_deadline = Some(ctx.now + ctx.plan.timeout);
        self.deadline = self.settings_deadline;
        self.drive(ctx)
    }

    fn dispatch(&mut self, intended_at: Instant, ctx: &mut Ctx) -> Outcome {
        self.listed = false;
        if self.session.can_start() == 0 || ctx.budget.take(1) == 0 {
            return self.drive(ctx);
        }
        self.open_stream(Self::request(ctx), intended_at, ctx.now, ctx);
        self.drive(ctx)
    }

    fn write_deferred(&mut self, ctx: &mut Ctx) -> Outcome {
        if !self.deferred || self.phase != Phase::Open {
            return Outcome::Pending;
        }
        self.deferred = false;
        self.drive(ctx)
    }

    fn on_timeout(&mut self, ctx: &mut Ctx) -> Outcome {
        match self.phase {
            Phase::Connecting { since, deadline } if deadline <= ctx.now => {
                let waited = ctx.now.saturating_duration_since(since);
                self.close(CloseReason::Failed(ErrorKind::ConnectTimeout), ctx, || format!("nothing for {waited:.1?}"))
            }
            Phase::Open => {
                self.deadline = self.earliest(ctx.plan.timeout);
                if self.deadline.is_some_and(|d| d <= ctx.now) {
                    if !self.session.settings_seen() {
                        let timeout = ctx.plan.timeout;
                        return self.close(CloseReason::Failed(ErrorKind::H2Protocol), ctx, || {
                            format!("the server sent no SETTINGS in {timeout:.1?}")
                        });
                    }
                    let timeout = ctx.plan.timeout;
                    return self.close(CloseReason::Failed(ErrorKind::Timeout), ctx, || {
                        format!("a stream got no response in {timeout:.1?}")
                    });
                }
                Outcome::Pending
            }
            _ => Outcome::Pending,
        }
    }

    #[inline]
    fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Connecting { deadline, .. } => Some(deadline),
            Phase::Open => self.deadline,
            Phase::Closed(_) => None,
        }
    }

    fn is_waiting(&self) -> bool {
        self.listed && self.phase == Phase::Open
    }

    fn in_flight(&self, each: &mut dyn FnMut(Instant)) {
        if self.phase == Phase::Open {
            self.session.for_each_open(|tag| each(tag.intended_at));
        }
    }

    fn abandon(&mut self) {
        self.io = None;
    }
}

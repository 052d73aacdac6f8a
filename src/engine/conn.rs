//! One client connection as an explicit state machine.
//!
//! ```text
//! phase       input                                  next
//! ----------  -------------------------------------  -----------------------------------------------
//! Closed      open: a new socket, connect under way  Connecting (sets the connect deadline)
//! Closed      a stale event (the old socket's)       Closed
//! Connecting  not connected yet                      Connecting
//! Connecting  connected, a batch reserved or taken   Writing (sets the response deadline)
//! Connecting  connected, under --rate                Waiting
//! Connecting  connected, budget spent                Idle
//! Connecting  connect error or deadline              Closed(Failed(connect kind))
//! Writing     part written, WouldBlock               Writing (until a writable event)
//! Writing     batch fully written                    Reading (keeps the deadline)
//! Writing     write error or deadline                Closed(Failed(kind))
//! Reading     response complete, more expected       Reading (moves the deadline)
//! Reading     last response, keep-alive              Writing (next batch, sets the deadline)
//! Reading     last response, keep-alive, deferred    Deferred (the worker writes it after the batch)
//! Reading     last response, under --rate            Waiting
//! Reading     last response, budget spent            Idle
//! Reading     last response, --reconnect             Closed(Done)
//! Reading     the server said it closes              Closed(ServerClosed)
//! Reading     EOF ending an until-close response     Closed(ServerClosed)
//! Reading     EOF, earlier requests answered         Closed(ServerClosed)
//! Reading     EOF with nothing of the response       Closed(Failed(Eof))
//! Reading     EOF inside a response                  Closed(Failed(Protocol))
//! Reading     malformed or unasked bytes             Closed(Failed(Protocol))
//! Reading     read error or deadline                 Closed(Failed(kind))
//! Deferred    any event                              Deferred (readiness cached)
//! Deferred    the worker writes the batch            Writing (sets the response deadline)
//! Deferred    held TLS records fail to send          Closed(Failed(kind))
//! Waiting     any event                              Waiting (readiness cached)
//! Waiting     the pacer dispatches a request         Writing (sets the response deadline)
//! Waiting     dispatched, budget spent               Idle
//! Waiting     held TLS records fail to send          Closed(Failed(kind))
//! Idle        any event                              Idle (waits for the worker to end)
//! Idle        held TLS records fail to send          Closed(Failed(kind))
//! ```
//!
//! Every transition goes through `enter`, which asserts this table (`may_enter`; a test reads
//! the table above and checks every row against it, and every allowed pair against the table).
//! A row whose next phase is its own is no transition: the phase's data may change (bytes
//! written, a deadline moved), and `enter` is not called.
//!
//! Each phase carries its own data, its deadline included: entering Connecting sets the connect
//! deadline, starting a batch (entering Writing) sets the response deadline, Reading keeps it
//! and each completed pipelined response moves it, and the phases that await nothing have
//! none. So no stale deadline outlives the wait it was for, and an event or timer handled
//! after the deadline is a timeout: no latency above `--timeout` is recorded.
//!
//! Each entry point (`open`, `on_event`, `on_connected`, `dispatch`, `write_deferred`,
//! `on_timeout`) returns an `Outcome`, which names the transition the worker must act on; the
//! worker never compares phases before and after a call.
//!
//! Readiness is cached in `readable`/`writable`: an event sets a flag, and only a `WouldBlock`
//! (or a short read, which on Linux means the socket's queue is empty) clears it. A handler runs
//! while its flag is set, so no edge is ever waited for that already came (mio is
//! edge-triggered). After a batch is written the connection does not try a read at once: the
//! response cannot have come yet unless an event already said so.
//!
//! Closing drops the socket; the worker reopens the slot after the event batch, so a stale event
//! in the same batch only ever reaches a `Closed` connection.
//!
//! The protocol is the connection's `session`, a `protocol::session::Pipeline`: `send_batch`
//! starts the batch's requests in it (one `Tag` for the batch), `on_writable` writes its
//! `pending_out` (the plan's bytes, or a varying batch where the list filled it: not copied,
//! unless the socket does not take it at once), and `consume` feeds it what was read; the
//! responses it reports go through `record_response`, as HTTP/2's do (`h2conn`).

use std::io;
use std::ops::Range;
use std::time::{Duration, Instant};

use super::source::{Filled, RequestSource};
use crate::config::StatusSet;
use crate::net::{Ready, Transport};
use crate::protocol::session::{Event, Pipeline, Requests, Session};
use crate::protocol::{Framer, ProtocolError};
use crate::stats::{ErrorKind, TlsNegotiated, WorkerStats};

/// The worker's request budget: split from the run's `-n` up front, so it is never shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests not yet taken by any connection.
    pub left: u64,
    /// Requests taken (reserved, written or awaiting their response) and not yet completed.
    pub in_flight: u64,
}

impl Budget {
    pub fn new(limit: Option<u64>) -> Budget {
        Budget { left: limit.unwrap_or(u64::MAX), in_flight: 0 }
    }

    /// Takes up to `n` requests; returns how many it got.
    pub fn take(&mut self, n: u64) -> u64 {
        let k = n.min(self.left);
        self.left -= k;
        self.in_flight += k;
        k
    }

    pub fn complete(&mut self) {
        debug_assert!(self.in_flight > 0, "a response completed that nobody took");
        self.in_flight -= 1;
    }

    /// Requests whose connection failed go back, to be sent again on another connection.
    pub fn give_back(&mut self, n: u64) {
        debug_assert!(self.in_flight >= n, "gave back more than was taken");
        self.in_flight -= n;
        self.left += n;
    }

    pub fn is_spent(&self) -> bool {
        self.left == 0 && self.in_flight == 0
    }
}

/// What every connection of a worker sends, built once at start.
#[derive(Debug, Clone)]
pub struct RequestPlan {
    /// One request repeated `pipeline` times: any prefix of whole requests is a valid batch.
    pub batch: Vec<u8>,
    pub request_bytes: usize,
    pub pipeline: u32,
    pub reconnect: bool,
    /// HTTP statuses that count as success; others are errors of kind `status`.
    pub expect_status: Option<StatusSet>,
    /// Requests go out when the worker's pacer says (`--rate`), not as soon as a
    /// connection is free.
    pub paced: bool,
    /// How long a response may take (`--timeout`).
    pub timeout: Duration,
    /// Keep-alive: leave the next request to the worker, which writes all such requests after
    /// the event batch. The server then gets requests in bursts and wakes once for many, as
    /// it does under wrk (which sends from a later writable event); measured against nginx, the
    /// server spent about 15% more CPU per request when each request went out the moment its
    /// predecessor's response was read.
    pub defer_next: bool,
    /// `--http2`: the request as HTTP/2 sends it.
    pub h2: Option<H2Plan>,
}

impl RequestPlan {
    pub fn new(request: &[u8], pipeline: usize, reconnect: bool) -> RequestPlan {
        assert!(!request.is_empty() && pipeline >= 1, "a plan needs a request and a depth");
        RequestPlan {
            batch: request.repeat(pipeline),
            request_bytes: request.len(),
            pipeline: pipeline as u32,
            reconnect,
            expect_status: None,
            paced: false,
            timeout: Duration::from_secs(30),
            defer_next: false,
            h2: None,
        }
    }
}

/// What the worker drives: one client connection slot, HTTP/1.1 or raw (`Conn`) or HTTP/2
/// (`h2conn::H2Conn`). The worker's loop, its timers, budget and pacer are the same for both;
/// each implementation keeps its own state machine. Static dispatch: the worker is
/// monomorphized per implementation, so HTTP/1.1's hot path pays nothing for HTTP/2.
pub trait Connection {
    type Io: Transport;
    /// Takes a new socket whose connect is under way; `reserved` requests were already taken
    /// from the budget for it.
    fn open(&mut self, io: Self::Io, reserved: u32, now: Instant, connect_timeout: Duration) -> Outcome;
    /// Handles one readiness event.
    fn on_event(&mut self, ready: Ready, ctx: &mut Ctx) -> Outcome;
    /// After `Outcome::Connected`: counts the connection and starts sending.
    fn on_connected(&mut self, ctx: &mut Ctx) -> Outcome;
    /// Under `--rate`: sends one request that was due at `intended_at`.
    fn dispatch(&mut self, intended_at: Instant, ctx: &mut Ctx) -> Outcome;
    /// Writes what was deferred to the end of the event batch (`Outcome::Deferred`).
    fn write_deferred(&mut self, ctx: &mut Ctx) -> Outcome;
    /// The timer of `deadline()` fired (or an event came after it).
    fn on_timeout(&mut self, ctx: &mut Ctx) -> Outcome;
    /// When the connection times out, if it awaits something; the worker arms its timer.
    fn deadline(&self) -> Option<Instant>;
    /// Whether the connection waits for the pacer (`Outcome::Waiting` and still free).
    fn is_waiting(&self) -> bool;
    /// Calls `each` with the due (or send) time of every request written and unanswered.
    fn in_flight(&self, each: &mut dyn FnMut(Instant));
    /// Ends the connection from outside (the run is over); nothing is counted.
    fn abandon(&mut self);
}

impl<T: Transport, F: Framer> Connection for Conn<T, F> {
    type Io = T;

    #[inline]
    fn open(&mut self, io: T, reserved: u32, now: Instant, connect_timeout: Duration) -> Outcome {
        Conn::open(self, io, reserved, now, connect_timeout)
    }
    #[inline]
    fn on_event(&mut self, ready: Ready, ctx: &mut Ctx) -> Outcome {
        Conn::on_event(self, ready, ctx)
    }
    #[inline]
    fn on_connected(&mut self, ctx: &mut Ctx) -> Outcome {
        Conn::on_connected(self, ctx)
    }
    #[inline]
    fn dispatch(&mut self, intended_at: Instant, ctx: &mut Ctx) -> Outcome {
        Conn::dispatch(self, intended_at, ctx)
    }
    #[inline]
    fn write_deferred(&mut self, ctx: &mut Ctx) -> Outcome {
        Conn::write_deferred(self, ctx)
    }
    #[inline]
    fn on_timeout(&mut self, ctx: &mut Ctx) -> Outcome {
        Conn::on_timeout(self, ctx)
    }
    #[inline]
    fn deadline(&self) -> Option<Instant> {
        Conn::deadline(self)
    }
    #[inline]
    fn is_waiting(&self) -> bool {
        Conn::is_waiting(self)
    }
    fn in_flight(&self, each: &mut dyn FnMut(Instant)) {
        if let Some((n, since)) = Conn::in_flight(self) {
            (0..n).for_each(|_| each(since));
        }
    }
    fn abandon(&mut self) {
        Conn::abandon(self)
    }
}

/// HTTP/2's request, built once per worker: the header block HPACK-encoded once (the same
/// bytes for every stream), its indexed forms (`protocol::h2::client::indexed_blocks`), the
/// body, and the streams per connection asked for.
#[derive(Debug, Clone)]
pub struct H2Plan {
    pub block: Vec<u8>,
    pub indexed: Option<(Vec<u8>, Vec<u8>, usize)>,
    pub body: Vec<u8>,
    pub streams: u32,
}

pub use crate::protocol::session::CARRY_BYTES_MAX;

/// What a connection's handlers need from its worker for one event.
pub struct Ctx<'a> {
    pub now: Instant,
    /// The worker's read buffer, shared by its connections (one reads at a time): reads go
    /// here, responses are framed from here, and only an unfinished head is copied out.
    pub scratch: &'a mut [u8],
    pub stats: &'a mut WorkerStats,
    pub budget: &'a mut Budget,
    pub plan: &'a RequestPlan,
    /// Requests that vary: each batch is filled here, in the list or into the connection's
    /// own buffer (`None`: every batch is a prefix of `plan.batch`).
    pub source: Option<&'a mut RequestSource>,
}

/// A connection just connected (for TLS: its handshake done): counts it, its connect time and
/// its handshake (resumed or full, and the first one's negotiated parameters). HTTP/1.1 and
/// HTTP/2 connections alike.
pub fn count_connected<T: Transport>(io: &T, since: Instant, ctx: &mut Ctx) {
    ctx.stats.connections_opened += 1;
    if let Some(resumed) = io.resumed() {
        ctx.stats.tls_handshakes += 1;
        ctx.stats.tls_resumed += u64::from(resumed);
        if ctx.stats.tls_negotiated.is_none() {
            ctx.stats.tls_negotiated = io.negotiated().map(|n| TlsNegotiated {
                version: n.version.to_string(),
                cipher_suite: n.cipher_suite.to_string(),
                group: n.group.to_string(),
            });
        }
    }
    ctx.stats.record_connect(ctx.now.saturating_duration_since(since));
    if let Some(took) = io.handshake_time() {
        ctx.stats.record_tls_handshake(took);
    }
}

/// What a connection keeps per request (HTTP/1.1: per batch) and its session hands back with
/// the response: when it was written, and when it was due (under `--rate`; the write time
/// otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    pub sent_at: Instant,
    pub intended_at: Instant,
}

/// One response, HTTP/1.1 and HTTP/2 alike: its latency (from `intended_at` under `--rate`,
/// with the service time from `sent_at`; from `sent_at` otherwise), its status (0: none to
/// tally, raw framing), a per-target row (`entry`), the budget, and the connection's first
/// answer.
#[inline(always)]
pub fn record_response(ctx: &mut Ctx, tag: Tag, status: u16, entry: Option<u32>, n_responses: &mut u64) {
    let now = ctx.now;
    let service = now.saturating_duration_since(tag.sent_at);
    let latency = if ctx.plan.paced {
        let latency = now.saturating_duration_since(tag.intended_at);
        ctx.stats.record_response(now, latency, Some(service));
        latency
    } else {
        ctx.stats.record_response(now, service, None);
        service
    };
    if let Some(entry) = entry {
        ctx.stats.record_target(entry as usize, status, latency);
    }
    if status != 0 {
        if let Some(slot) = ctx.stats.status.get_mut(usize::from(status)) {
            *slot += 1;
        }
        if ctx.plan.expect_status.is_some_and(|set| !set.contains(status)) {
            ctx.stats.record_error(ErrorKind::Status, || format!("status {status}"));
        }
    }
    ctx.budget.complete();
    if *n_responses == 0 {
        ctx.stats.connections_answered += 1;
    }
    *n_responses += 1;
}

/// Feeds the bytes of one read (`read`, in the worker's scratch buffer) to `session`, after
/// the bytes `carry` kept from earlier reads, and keeps in `carry` what the session left (a
/// partial head or frame; on an error nothing matters, the connection closes). Without carried
/// bytes the session reads straight from the scratch buffer and nothing is copied; `carry`
/// keeps its capacity, so nothing is allocated per read. Both connections read this way.
#[inline(always)]
pub fn feed_read<S: Session>(
    session: &mut S,
    carry: &mut Vec<u8>,
    read: &[u8],
    request: S::Request<'_>,
    now: Instant,
    on: &mut impl FnMut(Event<S::Tag>),
) -> Result<usize, S::Error> {
    if carry.is_empty() {
        let result = session.feed(read, request, now, on);
        if let Ok(used) = result {
            carry.extend_from_slice(&read[used..]);
        }
        return result;
    }
    carry.extend_from_slice(read);
    let result = session.feed(carry, request, now, on);
    if let Ok(used) = result {
        carry.drain(..used);
    }
    result
}

/// Why a connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed after its last response (`--reconnect`).
    Done,
    /// The server closed between responses, or said it would: not an error.
    ServerClosed,
    /// An error, counted in the statistics.
    Failed(ErrorKind),
}

/// Where a connection's current batch of requests lies.
#[derive(Debug, Clone, PartialEq, Eq)]
enum BatchBytes {
    /// A prefix of `RequestPlan::batch`: the request is fixed.
    Plan,
    /// In the list of requests that vary, where `RequestSource::next_batch` filled it. Good
    /// only until the list comes round to the same entries: a batch not written at once is
    /// copied out (`Conn::keep_batch`) before the connection yields.
    InList(Range<usize>),
    /// In the connection's own buffer, `Conn::out`.
    Out,
}

/// The batch of requests under way (Writing, then Reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// When the batch's first write was attempted.
    pub sent_at: Instant,
    /// When the pacer meant the batch to go out (`--rate`); `sent_at` otherwise. Latency counts
    /// from here, and so does the age of requests left unanswered at the end of the run.
    pub intended_at: Instant,
    /// When the next response times out: set as the batch starts, moved by each response.
    pub deadline: Instant,
}

/// A connection's phase and the data only that phase has. The phases that await something
/// hold its deadline; the others have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The connect (for TLS: and the handshake) began at `since`.
    Connecting {
        since: Instant,
        deadline: Instant,
    },
    /// Some of the batch's bytes are still to go out (the session's `pending_out`).
    Writing {
        batch: Batch,
    },
    /// The batch is written; its responses are awaited.
    Reading {
        batch: Batch,
    },
    /// The next batch is taken from the budget and waits for the worker to write it after the
    /// event batch (`RequestPlan::defer_next`).
    Deferred,
    /// Connected under `--rate`, waiting for the worker's pacer to dispatch the next request.
    Waiting,
    /// Connected, but the budget is spent: nothing more to send.
    Idle,
    Closed(CloseReason),
}

/// What a call into a connection asks of its worker. Each variant but `Pending` reports what
/// happened during the call (a transition; for `Connected`, the connect's completion), so it is
/// returned once per happening, and the worker's bookkeeping (its count of connects under way, its waiting, deferred and closed lists, its
/// retry queue) follows from the outcome alone, in one `match`. After every outcome the worker
/// arms its timer with `deadline()`. Returned by value: no allocation, no dispatch.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing for the worker: the connection awaits an event, its deadline, or the run's end.
    Pending,
    /// Entered Connecting (`open`): one more connect under way.
    Connecting,
    /// The connect completed; the phase is still Connecting. The worker calls `on_connected`
    /// at once, which counts the connection and enters its first phase.
    Connected,
    /// Entered Waiting: the worker's pacer dispatches its next request (`dispatch`).
    Waiting,
    /// Entered Deferred: the worker writes its next batch after the event batch
    /// (`write_deferred`).
    Deferred,
    /// Entered Closed, having connected: the worker reopens the slot after the event batch.
    Closed(CloseReason),
    /// Entered Closed before connecting (refused, timed out, TLS handshake failed): one connect
    /// fewer under way, and the slot is tried again after a pause.
    ConnectFailed(ErrorKind),
}

/// Whether a handler made progress worth another turn, or stops with an outcome for the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Continue,
    Yield(Outcome),
}

pub struct Conn<T, F> {
    io: Option<T>,
    phase: Phase,
    /// The protocol: requests started and written, responses framed (`protocol::session`).
    session: Pipeline<F, Tag>,
    readable: bool,
    writable: bool,
    /// An event said the peer closed its side (EPOLLRDHUP): unlike `readable`, a short read
    /// does not clear it, so the EOF that arrived with the last data is still read.
    read_closed: bool,
    /// Bytes read but not yet framed: a partial HTTP head waiting for the rest. Empty almost
    /// always; it grows only as far as a head does (up to `CARRY_BYTES_MAX`) and keeps its
    /// capacity, so it allocates at most a few times per connection, never per request.
    carry: Vec<u8>,
    /// Requests taken from the budget whose responses have not completed: the current batch's,
    /// or the batch reserved before the connect (`open`). Shared by Connecting, Writing,
    /// Reading and Deferred, and given back to the budget on a close.
    outstanding: u32,
    /// Responses completed on the current socket. A server may close a connection it has
    /// answered on (an idle keep-alive timeout, a request limit) without notice; that is not
    /// an error, and the unanswered requests are sent again on a new connection.
    n_responses: u64,
    /// The connection's number in the run (`{{conn}}`).
    id: u64,
    /// Where the current batch's bytes are.
    bytes: BatchBytes,
    /// Requests that vary: the current batch's bytes when they are not in the list (capacity
    /// kept): a random batch, one that wraps past the list's last entry, or one that could not
    /// be written at once (`keep_batch`).
    out: Vec<u8>,
    /// Per-target figures: the entry of each request of the current batch, in order.
    entries: Vec<u32>,
}

impl<T: Transport, F: Framer> Conn<T, F> {
    /// A connection slot with no socket yet, in `Closed(Done)`; batches of at most `pipeline`
    /// requests.
    pub fn new(framer: F, pipeline: u32) -> Conn<T, F> {
        Conn {
            io: None,
            phase: Phase::Closed(CloseReason::Done),
            session: Pipeline::new(framer, pipeline),
            readable: false,
            writable: false,
            read_closed: false,
            carry: Vec::new(),
            outstanding: 0,
            n_responses: 0,
            id: 0,
            bytes: BatchBytes::Plan,
            out: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// The connection's number within the run, for `{{conn}}`.
    pub fn numbered(mut self, id: u64) -> Conn<T, F> {
        self.id = id;
        self
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the connection waits for the pacer: the worker's waiting list may hold a slot
    /// that has left Waiting since (it closed), and skips it.
    pub fn is_waiting(&self) -> bool {
        matches!(self.phase, Phase::Waiting)
    }

    /// When the connection times out, if it awaits something.
    #[inline]
    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Connecting { deadline, .. } => Some(deadline),
            Phase::Writing { batch, .. } | Phase::Reading { batch } => Some(batch.deadline),
            Phase::Deferred | Phase::Waiting | Phase::Idle | Phase::Closed(_) => None,
        }
    }

    /// The requests written whose responses have not completed, and when they were due (under
    /// `--rate`) or written: their age at the end of a run is how long they went unanswered.
    pub fn in_flight(&self) -> Option<(u64, Instant)> {
        let (n_requests, batch) = match self.phase {
            Phase::Reading { batch } => (u64::from(self.outstanding), batch),
            // Only the requests of the batch that were written in whole.
            Phase::Writing { batch } => {
                let (written_bytes, to_write_bytes) = self.session.progress();
                ((written_bytes * self.outstanding as usize / to_write_bytes) as u64, batch)
            }
            _ => return None,
        };
        (n_requests > 0).then_some((n_requests, batch.intended_at))
    }

    /// Takes a new socket whose connect is under way. `reserved` requests were already taken
    /// from the budget for it (`--reconnect` reserves before connecting, so it never opens a
    /// connection it has nothing to send on).
    pub fn open(&mut self, io: T, reserved: u32, now: Instant, connect_timeout: Duration) -> Outcome {
        assert!(matches!(self.phase, Phase::Closed(_)) && self.io.is_none(), "open on a connection that is not closed");
        self.io = Some(io);
        self.session.reset();
        self.readable = false;
        self.writable = false;
        self.read_closed = false;
        self.carry.clear();
        self.outstanding = reserved;
        self.n_responses = 0;
        self.enter(Phase::Connecting { since: now, deadline: now + connect_timeout });
        Outcome::Connecting
    }

    /// Handles one readiness event.
    pub fn on_event(&mut self, ready: Ready, ctx: &mut Ctx) -> Outcome {
        if matches!(self.phase, Phase::Closed(_)) {
            return Outcome::Pending;
        }
        if self.deadline().is_some_and(|deadline| ctx.now >= deadline) {
            // The timer has not fired yet, but the deadline has passed: whatever this event
            // brings came too late, so no latency above the timeout is ever recorded.
            return self.on_timeout(ctx);
        }
        self.readable |= ready.readable || ready.read_closed;
        self.writable |= ready.writable;
        self.read_closed |= ready.read_closed;
        if T::QUEUES_WRITES && ready.writable && !matches!(self.phase, Phase::Connecting { .. } | Phase::Writing { .. })
        {
            // Records left queued when the batch's write filled the socket; a write sends them
            // itself, and the handshake does its own.
            let io = self.io.as_mut().expect("an open connection has a socket");
            match io.send_held() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) => return self.close_io_error(e, ctx),
            }
        }
        self.advance(ctx)
    }

    /// Runs the phase's handler on the cached readiness until one has to wait.
    fn advance(&mut self, ctx: &mut Ctx) -> Outcome {
        loop {
            let step = match self.phase {
                Phase::Connecting { .. } => self.on_connecting(ctx),
                Phase::Writing { batch } => self.on_writable(batch, ctx),
                Phase::Reading { .. } => self.on_readable(ctx),
                Phase::Deferred | Phase::Waiting | Phase::Idle | Phase::Closed(_) => Step::Yield(Outcome::Pending),
            };
            if let Step::Yield(outcome) = step {
                debug_assert!(
                    !matches!((&self.phase, &self.bytes), (Phase::Writing { .. }, BatchBytes::InList(_))),
                    "a batch left unwritten in the list"
                );
                return outcome;
            }
        }
    }

    /// After `Outcome::Connected`: counts the connection, then sends the reserved batch (or
    /// takes one), or under `--rate` waits for the pacer, or idles when the budget is spent.
    /// Not deferred: a first batch has no burst to join.
    pub fn on_connected(&mut self, ctx: &mut Ctx) -> Outcome {
        let Phase::Connecting { since, .. } = self.phase else {
            panic!("on_connected in {:?}", self.phase);
        };
        count_connected(self.io.as_ref().expect("a connected connection has a socket"), since, ctx);
        let step = if self.outstanding > 0 || !ctx.plan.paced {
            self.start_batch(ctx.now, ctx)
        } else {
            self.enter(Phase::Waiting);
            Step::Yield(Outcome::Waiting)
        };
        if T::QUEUES_WRITES && !matches!(self.phase, Phase::Writing { .. }) {
            // No request follows at once (--rate, or the budget is spent): the end of the
            // handshake goes out alone. A failure shows on the next operation.
            let io = self.io.as_mut().expect("a connected connection has a socket");
            let _ = io.send_held();
        }
        match step {
            Step::Continue => self.advance(ctx),
            Step::Yield(outcome) => outcome,
        }
    }

    /// Under `--rate`: sends the next request, whose intended send time was `intended_at`
    /// (latency is measured from it).
    pub fn dispatch(&mut self, intended_at: Instant, ctx: &mut Ctx) -> Outcome {
        assert_eq!(self.phase, Phase::Waiting, "only a waiting connection is dispatched");
        match self.start_batch(intended_at, ctx) {
            Step::Continue => self.advance(ctx),
            Step::Yield(outcome) => outcome,
        }
    }

    /// Writes the batch that `next_batch` deferred; its latency and its deadline count from
    /// now. A connection that closed since (a stale entry) has nothing to write.
    pub fn write_deferred(&mut self, ctx: &mut Ctx) -> Outcome {
        if !matches!(self.phase, Phase::Deferred) {
            return Outcome::Pending;
        }
        self.send_batch(ctx.now, ctx);
        self.advance(ctx)
    }

    /// The timer fired: if the deadline has passed, a connect or a response took too long and
    /// the connection closes. Otherwise (it moved later, or the phase awaits nothing) it stays.
    pub fn on_timeout(&mut self, ctx: &mut Ctx) -> Outcome {
        let (kind, since) = match self.phase {
            Phase::Connecting { since, deadline } if deadline <= ctx.now => (ErrorKind::ConnectTimeout, since),
            Phase::Writing { batch, .. } | Phase::Reading { batch } if batch.deadline <= ctx.now => {
                (ErrorKind::Timeout, batch.sent_at)
            }
            _ => return Outcome::Pending,
        };
        let waited = ctx.now.saturating_duration_since(since);
        self.close(CloseReason::Failed(kind), ctx, || format!("nothing for {waited:.1?}"))
    }

    /// Ends the connection from outside (the run is over); nothing is counted.
    pub fn abandon(&mut self) {
        self.io = None;
    }

    /// Every transition, checked against the table at the top of this file.
    fn enter(&mut self, next: Phase) {
        debug_assert!(may_enter(&self.phase, &next), "no transition {:?} -> {:?}", self.phase, next);
        self.phase = next;
    }

    fn close(&mut self, reason: CloseReason, ctx: &mut Ctx, detail: impl FnOnce() -> String) -> Outcome {
        if self.outstanding > 0 {
            ctx.budget.give_back(u64::from(self.outstanding));
            self.outstanding = 0;
        }
        // Counted above: the requests the session still held were among `outstanding`.
        self.session.drain(|_| ());
        if let CloseReason::Failed(kind) = reason {
            ctx.stats.record_error(kind, detail);
        }
        self.io = None;
        let connecting = matches!(self.phase, Phase::Connecting { .. });
        self.enter(Phase::Closed(reason));
        match reason {
            CloseReason::Failed(kind) if connecting => Outcome::ConnectFailed(kind),
            _ => Outcome::Closed(reason),
        }
    }

    fn close_io_error(&mut self, err: io::Error, ctx: &mut Ctx) -> Outcome {
        let kind = ErrorKind::of_io(&err, matches!(self.phase, Phase::Connecting { .. }));
        if kind == ErrorKind::Reset && self.n_responses > 0 && !self.mid_response() {
            // A reset where a close would be: the server closed a connection it had answered
            // on, and we had already written the next request to it.
            return self.close(CloseReason::ServerClosed, ctx, String::new);
        }
        self.close(CloseReason::Failed(kind), ctx, || err.to_string())
    }

    /// Whether some byte of a response has arrived that has not completed it.
    fn mid_response(&self) -> bool {
        self.session.in_response() || !self.carry.is_empty()
    }

    fn close_protocol(&mut self, err: ProtocolError, ctx: &mut Ctx) -> Outcome {
        self.close(CloseReason::Failed(ErrorKind::Protocol), ctx, || err.describe().to_string())
    }

    /// Takes the next batch from the budget unless one is taken (reserved before the connect,
    /// or deferred): as many requests as the session can start (a whole `--pipeline` batch,
    /// since the last one is answered); false if the budget is spent.
    fn take_batch(&mut self, ctx: &mut Ctx) -> bool {
        if self.outstanding == 0 {
            let n = self.session.can_start();
            debug_assert_eq!(n, ctx.plan.pipeline, "a batch is taken only when the last one is answered");
            self.outstanding = ctx.budget.take(u64::from(n)) as u32;
        }
        self.outstanding > 0
    }

    /// Starts writing the taken batch: the one place a response deadline starts. Its requests
    /// are started in the session, from the plan's batch (no copy) or, when requests vary,
    /// filled into the connection's own buffer.
    fn send_batch(&mut self, intended_at: Instant, ctx: &mut Ctx) {
        ctx.stats.sent += u64::from(self.outstanding);
        let batch = Batch { sent_at: ctx.now, intended_at, deadline: ctx.now + ctx.plan.timeout };
        let tag = Tag { sent_at: ctx.now, intended_at };
        match ctx.source.as_deref_mut() {
            None => {
                let requests = Requests { bytes: &ctx.plan.batch, next: ctx.plan.request_bytes };
                for _ in 0..self.outstanding {
                    self.session.start(requests, tag);
                }
            }
            Some(source) => {
                // One call fills the whole batch (`next_batch`), in the list itself when it
                // can; `Pipeline` only sums the requests' lengths, so the first request brings
                // the batch's bytes.
                let bytes = match source.next_batch(self.outstanding, &mut self.out, &mut self.entries, self.id) {
                    Filled::InList(range) => {
                        self.bytes = BatchBytes::InList(range.clone());
                        source.bytes(range)
                    }
                    Filled::Out => {
                        self.bytes = BatchBytes::Out;
                        &self.out
                    }
                };
                let mut next = bytes.len();
                for _ in 0..self.outstanding {
                    self.session.start(Requests { bytes, next }, tag);
                    next = 0;
                }
            }
        }
        self.enter(Phase::Writing { batch });
    }

    /// The batch could not be written at once: what of it lies in the list (`BatchBytes::InList`)
    /// is copied into the connection's own buffer, since another connection's batch may fill
    /// the same entries before the socket takes the rest.
    fn keep_batch(&mut self, ctx: &Ctx) {
        if let BatchBytes::InList(range) = &self.bytes {
            let source = ctx.source.as_deref().expect("a batch in the list has a list");
            self.out.clear();
            self.out.extend_from_slice(source.bytes(range.clone()));
            self.bytes = BatchBytes::Out;
        }
    }

    /// Takes a batch and starts writing it, or idles when the budget is spent.
    fn start_batch(&mut self, intended_at: Instant, ctx: &mut Ctx) -> Step {
        if !self.take_batch(ctx) {
            self.enter(Phase::Idle);
            return Step::Yield(Outcome::Pending);
        }
        self.send_batch(intended_at, ctx);
        Step::Continue
    }

    /// Keep-alive's next step: the next batch at once (or after the event batch, see
    /// `RequestPlan::defer_next`), or, under `--rate`, wait for the pacer.
    fn next_batch(&mut self, ctx: &mut Ctx) -> Step {
        if ctx.plan.paced {
            self.enter(Phase::Waiting);
            return Step::Yield(Outcome::Waiting);
        }
        if !ctx.plan.defer_next {
            return self.start_batch(ctx.now, ctx);
        }
        if !self.take_batch(ctx) {
            self.enter(Phase::Idle);
            return Step::Yield(Outcome::Pending);
        }
        self.enter(Phase::Deferred);
        Step::Yield(Outcome::Deferred)
    }

    fn on_connecting(&mut self, ctx: &mut Ctx) -> Step {
        let io = self.io.as_mut().expect("a connecting connection has a socket");
        match io.connect_result() {
            Ok(true) => {
                self.writable = true;
                Step::Yield(Outcome::Connected)
            }
            Ok(false) => Step::Yield(Outcome::Pending),
            Err(e) => Step::Yield(self.close_io_error(e, ctx)),
        }
    }

    fn on_writable(&mut self, batch: Batch, ctx: &mut Ctx) -> Step {
        if !self.writable {
            self.keep_batch(ctx);
            return Step::Yield(Outcome::Pending);
        }
        let io = self.io.as_mut().expect("a writing connection has a socket");
        let bytes: &[u8] = match &self.bytes {
            BatchBytes::Plan => &ctx.plan.batch,
            BatchBytes::Out => &self.out,
            BatchBytes::InList(range) => {
                ctx.source.as_deref().expect("a batch in the list has a list").bytes(range.clone())
            }
        };
        let pending = self.session.pending_out(Requests { bytes, next: 0 });
        let pending_bytes = pending.len();
        match io.write(pending) {
            Ok(0) => Step::Yield(self.close(CloseReason::Failed(ErrorKind::Io), ctx, || "write returned 0".into())),
            Ok(n) => {
                ctx.stats.bytes_sent += n as u64;
                self.session.sent(n);
                if n == pending_bytes {
                    self.enter(Phase::Reading { batch });
                }
                // Otherwise progress within the phase (the session's), not a transition.
                Step::Continue
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.writable = false;
                self.keep_batch(ctx);
                Step::Yield(Outcome::Pending)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Step::Continue,
            Err(e) => Step::Yield(self.close_io_error(e, ctx)),
        }
    }

    fn on_readable(&mut self, ctx: &mut Ctx) -> Step {
        if !self.readable && !self.read_closed {
            return Step::Yield(Outcome::Pending);
        }
        let io = self.io.as_mut().expect("a reading connection has a socket");
        match io.read(ctx.scratch) {
            Ok(0) => self.on_eof(ctx),
            Ok(n) => {
                ctx.stats.bytes_received += n as u64;
                if io.emptied_by(n, ctx.scratch.len()) {
                    // The read emptied the socket's queue: skip the read that would only say
                    // WouldBlock; the next arrival raises a new edge.
                    self.readable = false;
                }
                self.consume(n, ctx)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readable = false;
                Step::Yield(Outcome::Pending)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Step::Continue,
            Err(e) => Step::Yield(self.close_io_error(e, ctx)),
        }
    }
    /// Feeds the `n` bytes just read into the worker's scratch buffer (after any carried
    /// bytes) to the session, keeps an unfinished head, and decides what comes next.
    fn consume(&mut self, n: usize, ctx: &mut Ctx) -> Step {
        let Phase::Reading { batch } = self.phase else {
            panic!("bytes framed in {:?}", self.phase);
        };
        let now = ctx.now;
        // The scratch buffer is taken out of `ctx` so the closure can have the rest of it.
        let scratch = std::mem::take(&mut ctx.scratch);
        let mut answers = Answers::new(&self.entries, &mut self.outstanding, &mut self.n_responses);
        let result = feed_read(&mut self.session, &mut self.carry, &scratch[..n], Requests::NONE, now, &mut |event| {
            answers.on(event, ctx)
        });
        let answered = answers.count > 0;
        ctx.scratch = scratch;
        if answered {
            // The timeout is per response: the next one of a pipelined batch gets its own
            // (moved within the phase, not a transition).
            self.phase = Phase::Reading { batch: Batch { deadline: now + ctx.plan.timeout, ..batch } };
        }
        match result {
            Err(err) => Step::Yield(self.close_protocol(err, ctx)),
            Ok(_) if self.outstanding == 0 => self.after_batch(self.session.is_closing(), ctx),
            // The server announced its close with requests of the batch still unanswered:
            // they go back to the budget and are sent again.
            Ok(_) if self.session.is_closing() => Step::Yield(self.close(CloseReason::ServerClosed, ctx, String::new)),
            Ok(_) => Step::Continue,
        }
    }

    /// The last response of a batch completed: next batch, close, or idle.
    fn after_batch(&mut self, server_closes: bool, ctx: &mut Ctx) -> Step {
        match next_after_batch(server_closes, ctx.plan.reconnect) {
            AfterBatch::Close(reason) => Step::Yield(self.close(reason, ctx, String::new)),
            AfterBatch::NextBatch => self.next_batch(ctx),
        }
    }

    fn on_eof(&mut self, ctx: &mut Ctx) -> Step {
        // A response that ends at EOF (read-to-close) completes; one cut short is an error.
        let now = ctx.now;
        let mut answers = Answers::new(&self.entries, &mut self.outstanding, &mut self.n_responses);
        let result = self.session.on_eof(&self.carry, now, &mut |event| answers.on(event, ctx));
        if let Err(err) = result {
            return Step::Yield(self.close_protocol(err, ctx));
        }
        self.on_server_close(ctx)
    }

    /// The server closed with no response under way. Unanswered requests on a connection that
    /// never got a response are an error; on a connection that did, the server merely closed
    /// it (keep-alive timeout, request limit) and the requests are sent again elsewhere.
    fn on_server_close(&mut self, ctx: &mut Ctx) -> Step {
        let outcome = if self.outstanding > 0 && self.n_responses == 0 {
            self.close(CloseReason::Failed(ErrorKind::Eof), ctx, || {
                "the server closed the connection without answering".into()
            })
        } else {
            self.close(CloseReason::ServerClosed, ctx, String::new)
        };
        Step::Yield(outcome)
    }
}

/// What the responses of one read do to a connection's counts, as its session reports them:
/// each is recorded (`record_response`, with its per-target row when requests vary: responses
/// come in order, so the k-th of this read is entry `entries.len() - outstanding + k`), and
/// comes off `outstanding`.
struct Answers<'a> {
    entries: &'a [u32],
    first_entry: usize,
    count: usize,
    outstanding: &'a mut u32,
    n_responses: &'a mut u64,
}

impl<'a> Answers<'a> {
    #[inline]
    fn new(entries: &'a [u32], outstanding: &'a mut u32, n_responses: &'a mut u64) -> Answers<'a> {
        let first_entry = entries.len().saturating_sub(*outstanding as usize);
        Answers { entries, first_entry, count: 0, outstanding, n_responses }
    }

    #[inline(always)]
    fn on(&mut self, event: Event<Tag>, ctx: &mut Ctx) {
        // HTTP/1.1's session reports responses only.
        if let Event::Response { tag, status, .. } = event {
            let entry = self.entries.get(self.first_entry + self.count).copied();
            record_response(ctx, tag, status, entry, self.n_responses);
            self.count += 1;
            *self.outstanding -= 1;
        }
    }
}

/// The transition table at the top of this file, as a predicate: `enter` asserts it, and a test
/// checks it against the table, row by row and pair by pair.
fn may_enter(from: &Phase, to: &Phase) -> bool {
    use Phase::*;
    matches!(
        (from, to),
        (Closed(_), Connecting { .. })
            | (Connecting { .. }, Writing { .. } | Waiting | Idle | Closed(_))
            | (Writing { .. }, Reading { .. } | Closed(_))
            | (Reading { .. }, Writing { .. } | Deferred | Waiting | Idle | Closed(_))
            | (Deferred, Writing { .. } | Closed(_))
            | (Waiting, Writing { .. } | Idle | Closed(_))
            | (Idle, Closed(_))
    )
}

/// What follows the last response of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterBatch {
    NextBatch,
    Close(CloseReason),
}

/// The decision after a batch, apart from the I/O: the server's announced close wins, then
/// `--reconnect`, else the connection is reused.
pub fn next_after_batch(server_closes: bool, reconnect: bool) -> AfterBatch {
    match (server_closes, reconnect) {
        (true, _) => AfterBatch::Close(CloseReason::ServerClosed),
        (false, true) => AfterBatch::Close(CloseReason::Done),
        (false, false) => AfterBatch::NextBatch,
    }
}

#[cfg(test)]
// Tests step a connection through events whose outcomes other tests check; each test asserts
// the outcomes it is about.
#[allow(unused_must_use)]
mod tests {
    use super::*;
    use crate::config::{Order, Varying};
    use crate::protocol::http::HttpFramer;
    use crate::protocol::raw::{Delimiter, RawFramer, RawFraming};
    use crate::protocol::template::{Template, Widths};
    use std::collections::VecDeque;
    use std::io::{Read, Write};
    use std::time::Duration;

    /// A scripted socket: each read or write pops the next result; an empty script blocks.
    #[derive(Default)]
    struct Script {
        connect: VecDeque<io::Result<bool>>,
        reads: VecDeque<io::Result<Vec<u8>>>,
        writes: VecDeque<io::Result<usize>>,
        written: Vec<u8>,
    }

    fn would_block<T>() -> io::Result<T> {
        Err(io::ErrorKind::WouldBlock.into())
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.reads.pop_front() {
                Some(Ok(bytes)) => {
                    assert!(bytes.len() <= buf.len(), "script read larger than the buffer");
                    buf[..bytes.len()].copy_from_slice(&bytes);
                    Ok(bytes.len())
                }
                Some(Err(e)) => Err(e),
                None => would_block(),
            }
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            match self.writes.pop_front() {
                Some(Ok(n)) => {
                    let n = n.min(buf.len());
                    self.written.extend_from_slice(&buf[..n]);
                    Ok(n)
                }
                Some(Err(e)) => Err(e),
                None => {
                    self.written.extend_from_slice(buf);
                    Ok(buf.len())
                }
            }
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Transport for Script {
        fn connect_result(&mut self) -> io::Result<bool> {
            self.connect.pop_front().unwrap_or(Ok(true))
        }
    }

    struct Fixture<F = RawFramer> {
        conn: Conn<Script, F>,
        stats: WorkerStats,
        budget: Budget,
        plan: RequestPlan,
        now: Instant,
        scratch: Vec<u8>,
        source: Option<RequestSource>,
    }

    impl Fixture<RawFramer> {
        fn new(framing: RawFraming, pipeline: usize, reconnect: bool, budget: Option<u64>) -> Fixture {
            Fixture::with(RawFramer::new(framing), pipeline, reconnect, budget)
        }

        fn lines() -> Fixture {
            Fixture::new(RawFraming::Until(Delimiter::new(b"\n")), 1, false, None)
        }

        /// Connected and with the first request written: the Reading fixture.
        fn reading() -> Fixture {
            let mut f = Fixture::lines();
            f.open(Script::default());
            f.event(false, true);
            assert_eq!(f.phase(), "Reading");
            f
        }
    }

    impl<F: Framer> Fixture<F> {
        fn with(framer: F, pipeline: usize, reconnect: bool, budget: Option<u64>) -> Fixture<F> {
            let now = Instant::now();
            Fixture {
                conn: Conn::new(framer, pipeline as u32),
                scratch: vec![0u8; 64],
                stats: WorkerStats::new(now),
                budget: Budget::new(budget),
                plan: RequestPlan::new(b"ping\n", pipeline, reconnect),
                now,
                source: None,
            }
        }

        fn open(&mut self, script: Script) {
            assert_eq!(self.conn.open(script, 0, self.now, Duration::from_secs(5)), Outcome::Connecting);
        }

        fn event(&mut self, readable: bool, writable: bool) -> Outcome {
            self.ready(Ready { readable, writable, read_closed: false })
        }

        /// One event 100 µs after the last, handled as the worker does: a completed connect
        /// goes on at once in `on_connected`.
        fn ready(&mut self, ready: Ready) -> Outcome {
            self.now += Duration::from_micros(100);
            match self.at(self.now, |conn, ctx| conn.on_event(ready, ctx)) {
                Outcome::Connected => self.at(self.now, |conn, ctx| conn.on_connected(ctx)),
                outcome => outcome,
            }
        }

        /// Calls into the connection with a `Ctx` at `now`, as the worker does.
        fn at(&mut self, now: Instant, call: impl FnOnce(&mut Conn<Script, F>, &mut Ctx) -> Outcome) -> Outcome {
            let mut ctx = Ctx {
                now,
                scratch: &mut self.scratch,
                stats: &mut self.stats,
                budget: &mut self.budget,
                plan: &self.plan,
                source: self.source.as_mut(),
            };
            call(&mut self.conn, &mut ctx)
        }

        fn phase(&self) -> &'static str {
            name_of(self.conn.phase())
        }

        fn script(&mut self) -> &mut Script {
            self.conn.io.as_mut().expect("socket open")
        }
    }

    #[test]
    fn connecting_connected_writes_at_once() {
        let mut f = Fixture::lines();
        f.open(Script::default());
        assert_eq!(f.phase(), "Connecting");
        assert_eq!(f.conn.deadline(), Some(f.now + Duration::from_secs(5)), "the connect deadline");
        let now = f.now + Duration::from_micros(100);
        let writable = Ready { readable: false, writable: true, read_closed: false };
        assert_eq!(f.at(now, |conn, ctx| conn.on_event(writable, ctx)), Outcome::Connected);
        assert_eq!(f.phase(), "Connecting", "the first phase is on_connected's");
        assert_eq!(f.stats.connections_opened, 0);
        assert_eq!(f.at(now, |conn, ctx| conn.on_connected(ctx)), Outcome::Pending);
        assert_eq!(f.phase(), "Reading");
        assert_eq!(f.conn.deadline(), Some(now + Duration::from_secs(30)), "the response deadline");
        assert_eq!(f.script().written, b"ping\n");
        assert_eq!(f.stats.connections_opened, 1);
        assert_eq!(f.budget.in_flight, 1);
    }

    #[test]
    fn connecting_not_yet_waits() {
        let mut f = Fixture::lines();
        let mut s = Script::default();
        s.connect.push_back(Ok(false));
        f.open(s);
        assert_eq!(f.event(false, true), Outcome::Pending);
        assert_eq!(f.phase(), "Connecting");
        assert_eq!(f.stats.connections_opened, 0);
    }

    #[test]
    fn connecting_refused_closes_with_kind() {
        let mut f = Fixture::lines();
        let mut s = Script::default();
        s.connect.push_back(Err(io::ErrorKind::ConnectionRefused.into()));
        f.open(s);
        assert_eq!(f.event(true, true), Outcome::ConnectFailed(ErrorKind::ConnectRefused));
        assert_eq!(f.conn.phase(), Phase::Closed(CloseReason::Failed(ErrorKind::ConnectRefused)));
        assert_eq!(f.conn.deadline(), None);
        assert_eq!(f.stats.error_count(ErrorKind::ConnectRefused), 1);
        assert_eq!(f.budget, Budget::new(None));
    }

    #[test]
    fn connecting_with_reserved_batch_uses_it() {
        let mut f = Fixture::new(RawFraming::Until(Delimiter::new(b"\n")), 1, true, Some(1));
        let reserved = f.budget.take(1) as u32;
        assert_eq!(f.conn.open(Script::default(), reserved, f.now, Duration::from_secs(5)), Outcome::Connecting);
        f.event(false, true);
        assert_eq!(f.phase(), "Reading");
        assert_eq!(f.budget, Budget { left: 0, in_flight: 1 });
    }

    #[test]
    fn connecting_with_spent_budget_idles() {
        let mut f = Fixture::new(RawFraming::OneRead, 1, false, Some(0));
        f.open(Script::default());
        f.event(false, true);
        assert_eq!(f.phase(), "Idle");
        assert!(f.script().written.is_empty());
    }

    #[test]
    fn writing_wouldblock_waits_then_resumes() {
        let mut f = Fixture::lines();
        let mut s = Script::default();
        s.writes.push_back(Ok(2));
        s.writes.push_back(would_block());
        f.open(s);
        f.event(false, true);
        assert_eq!(f.phase(), "Writing");
        assert_eq!(f.script().written, b"pi");
        // A readable-only event must not resume the write.
        f.event(true, false);
        assert_eq!(f.phase(), "Writing");
        f.event(false, true);
        assert_eq!(f.phase(), "Reading");
        assert_eq!(f.script().written, b"ping\n");
        assert_eq!(f.stats.bytes_sent, 5);
    }

    #[test]
    fn a_batch_filled_in_the_list_is_kept_when_its_write_waits() {
        // Two entries and batches of two: every batch fills the same bytes of the list.
        let widths = Widths::of_run(1, 10);
        let texts = ["a{{conn}}\n", "b{{conn}}\n"];
        let varying = Varying {
            entries: texts.iter().map(|t| Template::compile(t.as_bytes(), widths).unwrap()).collect(),
            labels: texts.iter().map(|t| t.to_string()).collect(),
            order: Order::RoundRobin,
            seed: 1,
        };
        let lines = || RawFramer::new(RawFraming::Until(Delimiter::new(b"\n")));
        let mut f = Fixture::with(lines(), 2, false, None);
        f.source = Some(RequestSource::new(&varying, 0, 1, 2));
        f.conn = Conn::new(lines(), 2).numbered(1);
        let mut s = Script::default();
        s.writes.push_back(Ok(3));
        s.writes.push_back(would_block());
        f.open(s);
        f.event(false, true);
        assert_eq!((f.phase(), &f.script().written[..]), ("Writing", &b"a1\n"[..]));
        // Another connection's batch fills the same entries, for its own number.
        let mut first = std::mem::replace(&mut f.conn, Conn::new(lines(), 2).numbered(2));
        f.open(Script::default());
        f.event(false, true);
        assert_eq!((f.phase(), &f.script().written[..]), ("Reading", &b"a2\nb2\n"[..]));
        // The first connection's batch is still its own.
        std::mem::swap(&mut f.conn, &mut first);
        f.event(false, true);
        assert_eq!((f.phase(), &f.script().written[..]), ("Reading", &b"a1\nb1\n"[..]));
        assert_eq!(f.stats.bytes_sent, 12);
    }

    #[test]
    fn writing_reset_closes_and_returns_budget() {
        let mut f = Fixture::new(RawFraming::OneRead, 1, false, Some(3));
        let mut s = Script::default();
        s.writes.push_back(Err(io::ErrorKind::ConnectionReset.into()));
        f.open(s);
        assert_eq!(f.event(false, true), Outcome::Closed(CloseReason::Failed(ErrorKind::Reset)));
        assert_eq!(f.budget, Budget { left: 3, in_flight: 0 });
    }

    #[test]
    fn reading_response_sends_next_request() {
        let mut f = Fixture::reading();
        f.script().reads.push_back(Ok(b"pong\n".to_vec()));
        f.event(true, false);
        assert_eq!(f.stats.requests, 1);
        assert_eq!(f.stats.latency_us.max(), 100);
        assert_eq!(f.stats.service_us.len(), 0, "no service time outside --rate");
        assert_eq!(f.phase(), "Reading");
        assert_eq!(f.script().written, b"ping\nping\n");
    }

    #[test]
    fn reading_split_response_waits_for_the_rest() {
        let mut f = Fixture::reading();
        f.script().reads.push_back(Ok(b"po".to_vec()));
        f.event(true, false);
        assert_eq!((f.stats.requests, f.phase()), (0, "Reading"));
        f.script().reads.push_back(Ok(b"ng\n".to_vec()));
        f.event(true, false);
        assert_eq!(f.stats.requests, 1);
        assert_eq!(f.stats.bytes_received, 5);
    }

    #[test]
    fn reading_short_read_skips_the_wouldblock_read() {
        let mut f = Fixture::reading();
        f.script().reads.push_back(Ok(b"po".to_vec()));
        f.script().reads.push_back(Ok(b"ng\n".to_vec()));
        f.event(true, false);
        // The short read cleared `readable`, so the second scripted read is still queued.
        assert_eq!(f.script().reads.len(), 1);
        assert_eq!(f.stats.requests, 0);
    }

    #[test]
    fn reading_short_read_then_eof_in_the_same_event_is_seen() {
        // Data and FIN arrive together: one edge. The short read must not hide the EOF.
        let mut f = Fixture::new(RawFraming::Exact(10), 1, false, None);
        f.open(Script::default());
        f.event(false, true);
        f.script().reads.push_back(Ok(b"12345".to_vec()));
        f.script().reads.push_back(Ok(Vec::new()));
        assert_eq!(
            f.ready(Ready { readable: true, writable: false, read_closed: true }),
            Outcome::Closed(CloseReason::Failed(ErrorKind::Protocol))
        );
    }

    #[test]
    fn reading_pipelined_responses_in_one_read() {
        let mut f = Fixture::new(RawFraming::Until(Delimiter::new(b"\n")), 4, false, Some(4));
        f.open(Script::default());
        f.event(false, true);
        assert_eq!(f.script().written, b"ping\n".repeat(4));
        f.script().reads.push_back(Ok(b"a\nb\nc\nd\n".to_vec()));
        f.event(true, false);
        assert_eq!(f.stats.requests, 4);
        assert_eq!(f.phase(), "Idle");
        assert!(f.budget.is_spent());
    }

    #[test]
    fn reading_unsolicited_bytes_are_a_protocol_error() {
        let mut f = Fixture::new(RawFraming::Exact(5), 1, false, Some(1));
        f.open(Script::default());
        f.event(false, true);
        f.script().reads.push_back(Ok(b"pong\nextra".to_vec()));
        assert_eq!(f.event(true, false), Outcome::Closed(CloseReason::Failed(ErrorKind::Protocol)));
        assert_eq!(f.stats.requests, 1);
    }

    #[test]
    fn reading_last_response_with_reconnect_closes_done() {
        let mut f = Fixture::new(RawFraming::Until(Delimiter::new(b"\n")), 1, true, None);
        f.open(Script::default());
        f.event(false, true);
        f.script().reads.push_back(Ok(b"pong\n".to_vec()));
        assert_eq!(f.event(true, false), Outcome::Closed(CloseReason::Done));
        assert_eq!(f.stats.requests, 1);
        assert_eq!(f.stats.errors_total(), 0);
    }

    #[test]
    fn reading_eof_without_response_is_eof_error() {
        let mut f = Fixture::reading();
        f.script().reads.push_back(Ok(Vec::new()));
        assert_eq!(f.event(true, false), Outcome::Closed(CloseReason::Failed(ErrorKind::Eof)));
        assert_eq!(f.budget.in_flight, 0);
    }

    #[test]
    fn reading_eof_after_an_answered_request_is_a_server_close() {
        let mut f = Fixture::reading();
        f.script().reads.push_back(Ok(b"pong\n".to_vec()));
        f.event(true, false);
        assert_eq!(f.budget.in_flight, 1, "the second request is out");
        f.script().reads.push_back(Ok(Vec::new()));
        assert_eq!(f.event(true, false), Outcome::Closed(CloseReason::ServerClosed));
        assert_eq!(f.stats.errors_total(), 0);
        assert_eq!(f.budget, Budget { left: u64::MAX - 1, in_flight: 0 }, "the request goes back");
    }

    #[test]
    fn reading_reset_after_an_answered_request_is_a_server_close() {
        let mut f = Fixture::reading();
        f.script().reads.push_back(Ok(b"pong\n".to_vec()));
        f.event(true, false);
        f.script().reads.push_back(Err(io::ErrorKind::ConnectionReset.into()));
        assert_eq!(f.event(true, false), Outcome::Closed(CloseReason::ServerClosed));
        assert_eq!(f.stats.errors_total(), 0);
    }

    #[test]
    fn reading_eof_mid_response_is_protocol_error() {
        let mut f = Fixture::reading();
        f.script().reads.push_back(Ok(b"po".to_vec()));
        f.script().reads.push_back(Ok(Vec::new()));
        f.event(true, false);
        assert_eq!(f.event(true, false), Outcome::Closed(CloseReason::Failed(ErrorKind::Protocol)));
    }

    #[test]
    fn reading_eof_ends_until_close_response() {
        let mut f = Fixture::new(RawFraming::UntilClose, 1, false, None);
        f.open(Script::default());
        f.event(false, true);
        f.script().reads.push_back(Ok(b"whole reply".to_vec()));
        f.script().reads.push_back(Ok(Vec::new()));
        f.event(true, false);
        assert_eq!(f.event(true, false), Outcome::Closed(CloseReason::ServerClosed));
        assert_eq!(f.stats.requests, 1);
        assert_eq!(f.stats.errors_total(), 0);
    }

    #[test]
    fn reading_reset_is_reset_error() {
        let mut f = Fixture::reading();
        f.script().reads.push_back(Err(io::ErrorKind::ConnectionReset.into()));
        assert_eq!(f.event(true, false), Outcome::Closed(CloseReason::Failed(ErrorKind::Reset)));
        assert_eq!(f.stats.error_count(ErrorKind::Reset), 1);
    }

    #[test]
    fn reading_long_raw_response_streams_through_a_small_buffer() {
        // The raw framers consume every byte, so a response longer than the 64-byte buffer
        // never fills it.
        let mut f = Fixture::reading();
        f.script().reads.push_back(Ok(vec![b'x'; 64]));
        f.script().reads.push_back(Ok(vec![b'y'; 10]));
        f.event(true, false);
        assert_eq!(f.phase(), "Reading");
        assert_eq!(f.stats.bytes_received, 74);
    }

    #[test]
    fn reading_http_head_split_over_reads_is_carried() {
        let mut f = Fixture::with(HttpFramer::new(false), 1, false, Some(1));
        f.open(Script::default());
        f.event(false, true);
        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\nhello";
        for piece in response.chunks(7) {
            f.script().reads.push_back(Ok(piece.to_vec()));
            f.event(true, false);
        }
        assert_eq!(f.stats.requests, 1);
        assert_eq!(f.stats.status[200], 1);
        assert!(f.conn.carry.is_empty());
        assert_eq!(f.phase(), "Idle");
    }

    #[test]
    fn reading_endless_head_is_head_too_large() {
        let mut f = Fixture::with(HttpFramer::new(false), 1, false, None);
        f.open(Script::default());
        f.event(false, true);
        // Full 64-byte reads, so one event reads on until the carry overflows.
        let mut stream = b"HTTP/1.1 200 OK\r\nX-Endless: ".to_vec();
        stream.resize(CARRY_BYTES_MAX + 256, b'a');
        for piece in stream.chunks_exact(64) {
            f.script().reads.push_back(Ok(piece.to_vec()));
        }
        assert_eq!(f.event(true, false), Outcome::Closed(CloseReason::Failed(ErrorKind::Protocol)));
        assert_eq!(
            f.stats.first_error[ErrorKind::Protocol as usize].as_deref(),
            Some(ProtocolError::HeadTooLarge.describe())
        );
    }

    #[test]
    fn waiting_dispatch_measures_from_the_intended_time() {
        let mut f = Fixture::lines();
        f.plan.paced = true;
        f.open(Script::default());
        assert_eq!(f.event(false, true), Outcome::Waiting);
        assert!(f.script().written.is_empty(), "nothing goes out before the pacer says");
        assert_eq!(f.conn.deadline(), None, "nothing awaited");
        // Dispatched 5 ms late: the corrected latency counts the wait, the service time not.
        let intended = f.now - Duration::from_millis(5);
        let now = f.now;
        assert_eq!(f.at(now, |conn, ctx| conn.dispatch(intended, ctx)), Outcome::Pending);
        assert_eq!(f.phase(), "Reading");
        assert_eq!(f.conn.deadline(), Some(now + Duration::from_secs(30)), "counted from the write");
        assert_eq!(f.script().written, b"ping\n");
        f.script().reads.push_back(Ok(b"pong\n".to_vec()));
        assert_eq!(f.event(true, false), Outcome::Waiting, "back to the pacer, not straight to the next request");
        assert_eq!(f.stats.requests, 1);
        // Three significant digits: 5,100 µs is recorded as its bucket (5,100..5,103).
        assert!((5100..=5103).contains(&f.stats.latency_us.max()), "{}", f.stats.latency_us.max());
        assert_eq!(f.stats.service_us.max(), 100);
    }

    #[test]
    fn reading_timeout_closes_with_kind_timeout() {
        let mut f = Fixture::reading();
        let deadline = f.conn.deadline().expect("a response is awaited");
        assert_eq!(deadline, f.now + Duration::from_secs(30));
        let early = deadline - Duration::from_micros(1);
        assert_eq!(f.at(early, |conn, ctx| conn.on_timeout(ctx)), Outcome::Pending, "not yet");
        assert_eq!(
            f.at(deadline, |conn, ctx| conn.on_timeout(ctx)),
            Outcome::Closed(CloseReason::Failed(ErrorKind::Timeout))
        );
        assert_eq!(f.budget.in_flight, 0, "the request goes back");
        assert_eq!(f.conn.deadline(), None);
    }

    #[test]
    fn connecting_timeout_is_a_connect_timeout() {
        let mut f = Fixture::lines();
        let mut s = Script::default();
        s.connect.push_back(Ok(false));
        f.open(s);
        f.event(false, true);
        let opened = f.now - Duration::from_micros(100);
        assert_eq!(
            f.at(opened + Duration::from_secs(5), |conn, ctx| conn.on_timeout(ctx)),
            Outcome::ConnectFailed(ErrorKind::ConnectTimeout)
        );
        assert_eq!(f.stats.error_count(ErrorKind::ConnectTimeout), 1);
    }

    #[test]
    fn reading_last_response_defers_the_next_write_when_asked() {
        let mut f = Fixture::reading();
        f.plan.defer_next = true;
        f.script().reads.push_back(Ok(b"pong\n".to_vec()));
        assert_eq!(f.event(true, false), Outcome::Deferred);
        assert_eq!(f.conn.phase(), Phase::Deferred);
        assert_eq!(f.script().written, b"ping\n", "the next request waits for the worker");
        assert_eq!(f.conn.deadline(), None, "the wait starts with the write");
        assert_eq!(f.event(false, true), Outcome::Pending, "an event leaves the write to the worker");
        assert_eq!(f.script().written, b"ping\n");
        f.now += Duration::from_micros(40);
        let now = f.now;
        assert_eq!(f.at(now, |conn, ctx| conn.write_deferred(ctx)), Outcome::Pending);
        assert_eq!(f.phase(), "Reading");
        assert_eq!(f.conn.deadline(), Some(now + Duration::from_secs(30)));
        assert_eq!(f.at(now, |conn, ctx| conn.write_deferred(ctx)), Outcome::Pending, "written once");
        assert_eq!(f.script().written, b"ping\nping\n");
        f.script().reads.push_back(Ok(b"pong\n".to_vec()));
        f.event(true, false);
        assert_eq!(f.stats.latency_us.max(), 100, "latency counts from the actual write");
    }

    #[test]
    fn idle_ignores_events() {
        let mut f = Fixture::new(RawFraming::OneRead, 1, false, Some(0));
        f.open(Script::default());
        f.event(false, true);
        assert_eq!(f.event(true, true), Outcome::Pending);
        assert_eq!(f.phase(), "Idle");
    }

    #[test]
    fn closed_ignores_stale_events() {
        let mut f = Fixture::reading();
        f.script().reads.push_back(Err(io::ErrorKind::ConnectionReset.into()));
        assert_eq!(f.event(true, false), Outcome::Closed(CloseReason::Failed(ErrorKind::Reset)));
        assert_eq!(f.event(true, true), Outcome::Pending, "a stale event must not report a second close");
        assert_eq!(f.stats.errors_total(), 1);
    }

    #[test]
    fn after_batch_decisions() {
        assert_eq!(next_after_batch(false, false), AfterBatch::NextBatch);
        assert_eq!(next_after_batch(false, true), AfterBatch::Close(CloseReason::Done));
        assert_eq!(next_after_batch(true, false), AfterBatch::Close(CloseReason::ServerClosed));
        assert_eq!(next_after_batch(true, true), AfterBatch::Close(CloseReason::ServerClosed));
    }

    #[test]
    fn budget_take_complete_give_back() {
        let mut b = Budget::new(Some(5));
        assert_eq!(b.take(4), 4);
        assert_eq!(b.take(4), 1);
        assert_eq!(b.take(4), 0);
        b.complete();
        b.give_back(3);
        assert_eq!(b, Budget { left: 3, in_flight: 1 });
        b.complete();
        assert!(!b.is_spent());
        assert_eq!(b.take(9), 3);
        (0..3).for_each(|_| b.complete());
        assert!(b.is_spent());
    }

    #[test]
    fn reading_pipelined_response_moves_the_deadline() {
        let mut f = Fixture::new(RawFraming::Until(Delimiter::new(b"\n")), 2, false, None);
        f.open(Script::default());
        f.event(false, true);
        let first = f.conn.deadline().expect("a response is awaited");
        f.script().reads.push_back(Ok(b"a\n".to_vec()));
        assert_eq!(f.event(true, false), Outcome::Pending);
        assert_eq!(f.phase(), "Reading");
        assert_eq!(f.conn.deadline(), Some(f.now + Duration::from_secs(30)), "the second response's own");
        assert!(f.conn.deadline() > Some(first));
    }

    #[test]
    fn reading_event_after_the_deadline_is_a_timeout() {
        let mut f = Fixture::reading();
        // The next batch gets a 50 µs timeout; its response comes 100 µs later.
        f.plan.timeout = Duration::from_micros(50);
        f.script().reads.push_back(Ok(b"pong\n".to_vec()));
        f.event(true, false);
        assert_eq!(f.stats.requests, 1);
        f.script().reads.push_back(Ok(b"pong\n".to_vec()));
        assert_eq!(f.event(true, false), Outcome::Closed(CloseReason::Failed(ErrorKind::Timeout)));
        assert_eq!(f.stats.requests, 1, "a response after its deadline is not recorded");
        assert_eq!(f.stats.latency_us.max(), 100);
    }

    /// The phase names of the table at the top of the file, one per variant of `Phase`.
    const PHASES: [&str; 7] = ["Closed", "Connecting", "Writing", "Reading", "Deferred", "Waiting", "Idle"];

    /// A phase's name in the table. Exhaustive, so a new phase does not compile until it is
    /// named here (and added to `PHASES`).
    fn name_of(phase: Phase) -> &'static str {
        match phase {
            Phase::Connecting { .. } => "Connecting",
            Phase::Writing { .. } => "Writing",
            Phase::Reading { .. } => "Reading",
            Phase::Deferred => "Deferred",
            Phase::Waiting => "Waiting",
            Phase::Idle => "Idle",
            Phase::Closed(_) => "Closed",
        }
    }

    /// A phase of the given name, its data arbitrary: `may_enter` looks at phases only.
    fn sample(name: &str) -> Phase {
        let now = Instant::now();
        let batch = Batch { sent_at: now, intended_at: now, deadline: now };
        let phase = match name {
            "Connecting" => Phase::Connecting { since: now, deadline: now },
            "Writing" => Phase::Writing { batch },
            "Reading" => Phase::Reading { batch },
            "Deferred" => Phase::Deferred,
            "Waiting" => Phase::Waiting,
            "Idle" => Phase::Idle,
            "Closed" => Phase::Closed(CloseReason::Done),
            _ => panic!("the transition table names no phase {name:?}"),
        };
        assert_eq!(name_of(phase), name);
        phase
    }

    /// The rows of the table at the top of this file, as (phase, next phase) names. The next
    /// column is read from where its header starts; a row with an empty phase column continues
    /// the one above; parenthesized notes are dropped, and what is left must be one phase name.
    fn transition_table() -> Vec<(String, String)> {
        let doc: Vec<&str> = include_str!("conn.rs").lines().map_while(|line| line.strip_prefix("//!")).collect();
        let start = doc.iter().position(|line| line.trim() == "```text").expect("the table's opening fence") + 1;
        let end = start + doc[start..].iter().position(|line| line.trim() == "```").expect("the closing fence");
        let header = doc[start];
        let input_at = header.find("input").expect("an input column");
        let next_at = header.find("next").expect("a next column");
        assert!(doc[start + 1].trim_start().starts_with("---"), "a rule under the header");
        let mut rows: Vec<(String, String)> = Vec::new();
        for line in &doc[start + 2..end] {
            assert!(line.is_ascii(), "the table is ASCII, so columns are byte offsets: {line:?}");
            let from = line.get(..input_at).unwrap_or(line).trim();
            let next = line.get(next_at..).unwrap_or("");
            if from.is_empty() {
                rows.last_mut().expect("a continuation follows a row").1.push_str(next);
            } else {
                rows.push((from.to_string(), next.to_string()));
            }
        }
        rows.into_iter()
            .map(|(from, next)| {
                let mut depth = 0;
                let bare: String = next
                    .chars()
                    .filter(|&c| {
                        depth += i32::from(c == '(');
                        let keep = depth == 0;
                        depth -= i32::from(c == ')');
                        keep
                    })
                    .collect();
                let to = bare.trim().to_string();
                assert!(PHASES.contains(&to.as_str()), "row {from:?}: next {next:?} is not one phase");
                (from, to)
            })
            .collect()
    }

    #[test]
    fn transition_table_matches_enter() {
        let rows = transition_table();
        for name in PHASES {
            assert!(rows.iter().any(|(from, _)| from == name), "the table has no row for {name}");
        }
        for (from, to) in &rows {
            let allowed = may_enter(&sample(from), &sample(to));
            if from == to {
                assert!(!allowed, "{from} stays {from} without a transition, but enter would allow one");
            } else {
                assert!(allowed, "the table's row {from} -> {to} is not a transition enter allows");
            }
        }
        for from in PHASES {
            for to in PHASES {
                if may_enter(&sample(from), &sample(to)) {
                    assert!(
                        rows.iter().any(|row| row.0 == from && row.1 == to),
                        "enter allows {from} -> {to}, which the table lacks"
                    );
                }
            }
        }
    }
}

//! The client side of one HTTP/2 connection, sans-IO: bytes in, events out (a stream answered,
//! reset or refused; GOAWAY; the server's settings), and the bytes to send out accumulate in
//! one buffer that the caller writes to its socket. No clock is read here: the caller passes
//! `now`, and each stream carries the caller's tag (its send times) back in its event.
//!
//! Invariants:
//! - At most `capacity` streams are open (`--streams`), and never more than the server's
//!   SETTINGS_MAX_CONCURRENT_STREAMS; before the server's first SETTINGS, one.
//! - Streams live in a table of `2 × capacity` slots rounded up to a power of two, indexed by
//!   `(id >> 1) & mask`. A new stream takes the next odd id whose slot is free, skipping ids
//!   whose slot is still held by an old stream (ids must only increase; a skipped id is
//!   simply never used), so a lookup is one index and one compare, and nothing allocates per
//!   stream.
//! - A header block (HEADERS and its CONTINUATIONs) is gathered in `block`, at most
//!   `HEADER_BLOCK_MAX` bytes: a longer one is a protocol error, not memory growth.
//! - Flow control: our receive windows are 2^30-1 (h2load's default), announced in SETTINGS
//!   and, for the connection, by a WINDOW_UPDATE right after the preface. Bytes received are
//!   given back in one WINDOW_UPDATE once half a window has been consumed (batched, never per
//!   frame). A server that sends past a window is a FLOW_CONTROL_ERROR. Request bodies go out
//!   as far as the server's windows allow; the rest waits for its WINDOW_UPDATEs.
//!
//! Performance: the request's header blocks are HPACK-encoded once by the caller: the first
//! stream's puts the fields the static table lacks into the server's dynamic table, later
//! streams' name them by index (5 bytes for a plain GET), so opening a stream is a 9-byte
//! frame header and a copy of a block into the output buffer. Literals without indexing on
//! every stream would cost the server more: h2o copies each literal into a fresh allocation
//! (README, "HPACK: indexed after the first stream").

use std::time::Instant;

use super::frame::{self, code, flag, kind, setting, FrameHeader, H2Error, HEADER_LEN, PREFACE};
use super::hpack::{encode_integer as integer, Decoder};

/// The largest value a flow-control window may reach (RFC 9113 6.9.1).
pub const WINDOW_MAX: i64 = (1 << 31) - 1;
/// Our SETTINGS_INITIAL_WINDOW_SIZE, and the connection window we open at start.
pub const RECV_WINDOW: u32 = (1 << 30) - 1;
/// Received bytes are handed back by WINDOW_UPDATE once this many are consumed.
pub const WINDOW_UPDATE_AT: u32 = RECV_WINDOW / 2;
/// The largest header block (HEADERS plus CONTINUATIONs) accepted, like HTTP/1.1's head limit.
pub const HEADER_BLOCK_MAX: usize = 64 * 1024;
/// The frame size we accept: the default, which we never raise.
pub const MAX_FRAME_SIZE: u32 = frame::DEFAULT_MAX_FRAME_SIZE;
/// Our HPACK decoder's table size (SETTINGS_HEADER_TABLE_SIZE's default).
pub const HEADER_TABLE_SIZE: usize = 4096;
/// The largest stream id a client may use.
const STREAM_ID_MAX: u32 = (1 << 31) - 1;

/// The request every stream sends: its header block, HPACK-encoded once, and its body.
/// `indexed`, when the fields fit a 4,096-byte dynamic table: the connection's first block
/// (the fields not in the static table as literals with incremental indexing), every later
/// block (those fields as indices into the dynamic table), and the table bytes they take.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub block: &'a [u8],
    pub body: &'a [u8],
    pub indexed: Option<(&'a [u8], &'a [u8], usize)>,
}

/// How a connection encodes its requests' headers (see `Request::indexed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hpack {
    /// No stream yet: the next block inserts the fields into the server's dynamic table.
    Fresh,
    /// The fields are in the server's table: blocks are indices.
    Indexed,
    /// The plain block (static indices and literals without indexing), for good.
    Plain,
}

/// The default SETTINGS_HEADER_TABLE_SIZE, which our blocks assume until the server says.
const TABLE_BYTES_DEFAULT: usize = 4096;

/// The indexed forms of a request's fields (`Request::indexed`): the first block, the later
/// blocks, and the dynamic-table bytes; `None` when they would not fit the default table.
/// `fields` must be lowercase (as `request_fields` makes them). Static-table matches stay
/// static indices (from `hpack::encode`).
pub fn indexed_blocks(fields: &[(&[u8], &[u8])]) -> Option<(Vec<u8>, Vec<u8>, usize)> {
    let mut first = Vec::new();
    let mut inserted = Vec::new();
    let mut table_bytes = 0;
    let mut one = Vec::new();
    for (i, &(name, value)) in fields.iter().enumerate() {
        one.clear();
        super::hpack::encode(&[(name, value)], &mut one);
        if one.len() == 1 && one[0] & 0x80 != 0 {
            first.extend_from_slice(&one);
            continue;
        }
        // Literal with incremental indexing, new name (RFC 7541 6.2.1).
        first.push(0x40);
        integer(&mut first, 0x00, 7, name.len());
        first.extend_from_slice(name);
        integer(&mut first, 0x00, 7, value.len());
        first.extend_from_slice(value);
        inserted.push(i);
        table_bytes += name.len() + value.len() + 32;
    }
    if inserted.is_empty() || table_bytes > TABLE_BYTES_DEFAULT {
        return None;
    }
    let mut repeat = Vec::new();
    for (i, &(name, value)) in fields.iter().enumerate() {
        match inserted.iter().position(|&j| j == i) {
            // The newest entry is 62; the first inserted is the oldest.
            Some(k) => integer(&mut repeat, 0x80, 7, 62 + inserted.len() - 1 - k),
            None => super::hpack::encode(&[(name, value)], &mut repeat),
        }
    }
    Some((first, repeat, table_bytes))
}

/// What the server did, reported by `feed` as it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a, T> {
    /// A stream ended with a response: its status, and when its first frame (HEADERS) came.
    Response { tag: T, status: u16, first_byte_at: Instant },
    /// The server reset the stream (RST_STREAM) with this error code.
    Reset { tag: T, code: u32 },
    /// The stream was above a GOAWAY's last stream id: the server never processed it, and it
    /// may be sent again on another connection.
    Refused { tag: T },
    /// The server is closing the connection: no new stream may be opened. Streams up to
    /// `last_stream_id` still complete.
    GoAway { last_stream_id: u32, code: u32, debug: &'a [u8] },
    /// The server's SETTINGS: the streams it allows at once (`None`: no limit given).
    Settings { max_concurrent_streams: Option<u32> },
}

/// A connection error: the session cannot go on, and the caller closes the connection after
/// sending what `pending_out` holds (a GOAWAY naming it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionError {
    pub code: u32,
    pub what: String,
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", code::name(self.code), self.what)
    }
}

impl From<H2Error> for SessionError {
    fn from(e: H2Error) -> SessionError {
        SessionError { code: e.code, what: e.what.to_string() }
    }
}

fn error(code: u32, what: impl Into<String>) -> SessionError {
    SessionError { code, what: what.into() }
}

#[derive(Debug, Clone, Copy)]
struct Stream<T> {
    /// 0: the slot is free.
    id: u32,
    tag: T,
    /// The final response's status, once its HEADERS came (0 before).
    status: u16,
    first_byte_at: Option<Instant>,
    /// What the server lets us send on this stream.
    send_window: i64,
    /// What the server may still send on this stream, and what it sent that we have not yet
    /// handed back.
    recv_window: i64,
    recv_unacked: u32,
    /// Bytes of the request body sent; less than the body's length while blocked by a window.
    body_sent: usize,
    /// Some of the body waits for window.
    blocked: bool,
}

/// The client's state of one HTTP/2 connection. `T`: what the caller keeps per stream.
pub struct Session<T> {
    capacity: u32,
    slots: Vec<Option<Stream<T>>>,
    mask: usize,
    n_open: u32,
    next_id: u32,
    /// The highest id opened so far: frames for higher (idle) ids are protocol errors.
    last_opened: u32,
    /// Streams whose body waits for window.
    n_blocked: u32,
    settings_seen: bool,
    peer_max_concurrent: Option<u32>,
    peer_initial_window: i64,
    peer_max_frame_size: u32,
    send_window: i64,
    recv_window: i64,
    recv_unacked: u32,
    /// A GOAWAY's last stream id: no new streams.
    going_away: Option<u32>,
    /// The header block being gathered: its stream, whether it ends the stream, its bytes.
    continuing: Option<(u32, bool)>,
    block: Vec<u8>,
    decoder: Decoder,
    hpack: Hpack,
    /// The server's HPACK table size (SETTINGS_HEADER_TABLE_SIZE, at most the default), and a
    /// lowered size our next block must announce (RFC 7541 4.2).
    table_bytes: usize,
    size_update: Option<usize>,
    out: Vec<u8>,
    out_sent: usize,
}

impl<T: Copy> Session<T> {
    /// A session for a new connection, at most `capacity` streams at once, with the preface,
    /// our SETTINGS and the connection's WINDOW_UPDATE already in `pending_out`.
    pub fn new(capacity: u32) -> Session<T> {
        assert!(capacity >= 1, "a session needs at least one stream");
        let n_slots = (2 * capacity as usize).next_power_of_two();
        let mut s = Session {
            capacity,
            slots: vec![None; n_slots],
            mask: n_slots - 1,
            n_open: 0,
            next_id: 1,
            last_opened: 0,
            n_blocked: 0,
            settings_seen: false,
            peer_max_concurrent: None,
            peer_initial_window: 65_535,
            peer_max_frame_size: frame::DEFAULT_MAX_FRAME_SIZE,
            send_window: 65_535,
            recv_window: 65_535,
            recv_unacked: 0,
            going_away: None,
            continuing: None,
            block: Vec::new(),
            decoder: Decoder::new(HEADER_TABLE_SIZE),
            hpack: Hpack::Fresh,
            table_bytes: TABLE_BYTES_DEFAULT,
            size_update: None,
            out: Vec::with_capacity(4096),
            out_sent: 0,
        };
        s.out.extend_from_slice(PREFACE);
        frame::write_settings(
            &mut s.out,
            &[
                (setting::ENABLE_PUSH, 0),
                (setting::INITIAL_WINDOW_SIZE, RECV_WINDOW),
                (setting::MAX_FRAME_SIZE, MAX_FRAME_SIZE),
            ],
        );
        frame::write_window_update(&mut s.out, 0, RECV_WINDOW - 65_535);
        s.recv_window = i64::from(RECV_WINDOW);
        s
    }

    /// The bytes waiting to be written to the socket.
    #[inline]
    pub fn pending_out(&self) -> &[u8] {
        &self.out[self.out_sent..]
    }

    /// `n` bytes of `pending_out` were written.
    #[inline]
    pub fn sent(&mut self, n: usize) {
        self.out_sent += n;
        debug_assert!(self.out_sent <= self.out.len());
        if self.out_sent == self.out.len() {
            self.out.clear();
            self.out_sent = 0;
        }
    }

    /// Whether the server's first SETTINGS has come.
    pub fn settings_seen(&self) -> bool {
        self.settings_seen
    }

    /// Streams open now.
    #[inline]
    pub fn n_open(&self) -> u32 {
        self.n_open
    }

    /// How many streams may be open at once now: `capacity`, clamped by the server's limit,
    /// and one until its SETTINGS say.
    pub fn limit(&self) -> u32 {
        if !self.settings_seen {
            return 1;
        }
        self.capacity.min(self.peer_max_concurrent.unwrap_or(u32::MAX))
    }

    /// Whether no new stream will ever open on this connection: a GOAWAY came, or the stream
    /// ids ran out.
    pub fn is_closing(&self) -> bool {
        self.going_away.is_some() || self.next_id > STREAM_ID_MAX - 2 * self.slots.len() as u32
    }

    /// Whether a stream may be opened now.
    #[inline]
    pub fn can_open(&self) -> bool {
        self.n_open < self.limit() && !self.is_closing()
    }

    /// Opens a stream that sends `request`, and returns its id.
    pub fn open(&mut self, request: Request, tag: T) -> u32 {
        assert!(self.can_open(), "open without a free stream");
        let mut id = self.next_id;
        while self.slots[self.slot(id)].is_some() {
            id += 2;
        }
        self.next_id = id + 2;
        self.last_opened = id;
        let end_stream = request.body.is_empty();
        let block = match (self.hpack, request.indexed) {
            (Hpack::Fresh, Some((first, _, bytes))) if bytes <= self.table_bytes => {
                self.hpack = Hpack::Indexed;
                first
            }
            (Hpack::Indexed, Some((_, repeat, bytes))) if bytes <= self.table_bytes => repeat,
            _ => {
                self.hpack = Hpack::Plain;
                request.block
            }
        };
        match self.size_update.take() {
            None => frame::write_headers(&mut self.out, id, end_stream, block, self.peer_max_frame_size),
            Some(size) => {
                // Rare (a server that shrinks its table): the update goes first in the block.
                let mut with_update = Vec::with_capacity(block.len() + 4);
                integer(&mut with_update, 0x20, 5, size);
                with_update.extend_from_slice(block);
                frame::write_headers(&mut self.out, id, end_stream, &with_update, self.peer_max_frame_size);
            }
        }
        let slot = self.slot(id);
        self.slots[slot] = Some(Stream {
            id,
            tag,
            status: 0,
            first_byte_at: None,
            send_window: self.peer_initial_window,
            recv_window: i64::from(RECV_WINDOW),
            recv_unacked: 0,
            body_sent: 0,
            blocked: !end_stream,
        });
        self.n_open += 1;
        if !end_stream {
            self.n_blocked += 1;
            self.send_body(slot, request.body);
        }
        id
    }

    /// The tags of the open streams, in slot order.
    pub fn for_each_open(&self, mut f: impl FnMut(&T)) {
        for s in self.slots.iter().flatten() {
            f(&s.tag);
        }
    }

    /// Forgets every open stream (the connection is closing) and hands back their tags.
    pub fn drain(&mut self, mut f: impl FnMut(T)) {
        for slot in self.slots.iter_mut() {
            if let Some(s) = slot.take() {
                f(s.tag);
            }
        }
        self.n_open = 0;
        self.n_blocked = 0;
    }

    /// Consumes the whole frames at the front of `input` and returns how many bytes they
    /// took; a partial frame is left for the next call, with more bytes after it.
    pub fn feed(
        &mut self,
        input: &[u8],
        request: Request,
        now: Instant,
        on: &mut impl FnMut(Event<T>),
    ) -> Result<usize, SessionError> {
        let mut pos = 0;
        while let Some((h, payload)) = frame::split(&input[pos..], MAX_FRAME_SIZE).map_err(|e| self.fail(e.into()))? {
            pos += HEADER_LEN + payload.len();
            self.on_frame(h, payload, request, now, on).map_err(|e| self.fail(e))?;
        }
        Ok(pos)
    }

    /// A connection error: GOAWAY with its code goes out, then the caller closes.
    fn fail(&mut self, e: SessionError) -> SessionError {
        frame::write_goaway(&mut self.out, self.last_opened, e.code);
        e
    }

    #[inline]
    fn slot(&self, id: u32) -> usize {
        (id >> 1) as usize & self.mask
    }

    /// The slot of open stream `id`, if it is open.
    #[inline]
    fn find(&self, id: u32) -> Option<usize> {
        let slot = self.slot(id);
        self.slots[slot].as_ref().is_some_and(|s| s.id == id).then_some(slot)
    }

    /// A frame for a stream that is not open: an id we never opened (or an even one) is a
    /// protocol error; one we opened and closed is ignored.
    fn check_closed(&self, id: u32, what: &'static str) -> Result<(), SessionError> {
        if id % 2 == 0 || id > self.last_opened {
            return Err(error(code::PROTOCOL_ERROR, format!("{what} on stream {id}, which the client never opened")));
        }
        Ok(())
    }

    fn close_stream(&mut self, slot: usize) -> Stream<T> {
        let s = self.slots[slot].take().expect("closing an open stream");
        self.n_open -= 1;
        if s.blocked {
            self.n_blocked -= 1;
        }
        s
    }

    fn on_frame(
        &mut self,
        h: FrameHeader,
        payload: &[u8],
        request: Request,
        now: Instant,
        on: &mut impl FnMut(Event<T>),
    ) -> Result<(), SessionError> {
        if let Some((id, _)) = self.continuing {
            if h.kind != kind::CONTINUATION || h.stream_id != id {
                return Err(error(code::PROTOCOL_ERROR, "a header block was interrupted by another frame"));
            }
        }
        if !self.settings_seen && (h.kind != kind::SETTINGS || h.flags & flag::ACK != 0) {
            return Err(error(code::PROTOCOL_ERROR, "the server's first frame was not SETTINGS"));
        }
        let on_stream = h.stream_id != 0;
        match h.kind {
            kind::DATA if on_stream => self.on_data(h, payload, now, on),
            kind::HEADERS if on_stream => {
                let block = frame::content(&h, payload)?;
                let end_stream = h.flags & flag::END_STREAM != 0;
                if h.flags & flag::END_HEADERS != 0 {
                    self.on_header_block(h.stream_id, end_stream, block, now, on)
                } else {
                    self.gather(block)?;
                    self.continuing = Some((h.stream_id, end_stream));
                    Ok(())
                }
            }
            kind::CONTINUATION if on_stream => {
                let Some((id, end_stream)) = self.continuing else {
                    return Err(error(code::PROTOCOL_ERROR, "CONTINUATION without HEADERS"));
                };
                self.gather(payload)?;
                if h.flags & flag::END_HEADERS != 0 {
                    self.continuing = None;
                    let block = std::mem::take(&mut self.block);
                    let result = self.on_header_block(id, end_stream, &block, now, on);
                    self.block = block;
                    self.block.clear();
                    result
                } else {
                    Ok(())
                }
            }
            kind::PRIORITY => Ok(()),
            kind::RST_STREAM if on_stream => {
                let rst_code = frame::parse_rst(payload)?;
                match self.find(h.stream_id) {
                    Some(slot) => {
                        let s = self.close_stream(slot);
                        on(Event::Reset { tag: s.tag, code: rst_code });
                        Ok(())
                    }
                    None => self.check_closed(h.stream_id, "RST_STREAM"),
                }
            }
            kind::SETTINGS if !on_stream => self.on_settings(h, payload, request, on),
            kind::PUSH_PROMISE => Err(error(code::PROTOCOL_ERROR, "PUSH_PROMISE, though push is disabled")),
            kind::PING if !on_stream => {
                let data: [u8; 8] = payload
                    .try_into()
                    .map_err(|_| error(code::FRAME_SIZE_ERROR, format!("PING of {} bytes, not 8", payload.len())))?;
                if h.flags & flag::ACK == 0 {
                    frame::write_ping(&mut self.out, true, data);
                }
                Ok(())
            }
            kind::GOAWAY if !on_stream => {
                let (last_stream_id, goaway_code) = frame::parse_goaway(payload)?;
                self.going_away = Some(last_stream_id.min(self.going_away.unwrap_or(u32::MAX)));
                for slot in 0..self.slots.len() {
                    if self.slots[slot].is_some_and(|s| s.id > last_stream_id) {
                        let s = self.close_stream(slot);
                        on(Event::Refused { tag: s.tag });
                    }
                }
                on(Event::GoAway { last_stream_id, code: goaway_code, debug: payload.get(8..).unwrap_or_default() });
                Ok(())
            }
            kind::WINDOW_UPDATE => {
                let increment = i64::from(frame::parse_window_update(payload)?);
                if on_stream {
                    match self.find(h.stream_id) {
                        Some(slot) => {
                            let s = self.slots[slot].as_mut().expect("found");
                            s.send_window += increment;
                            if s.send_window > WINDOW_MAX {
                                return Err(error(code::FLOW_CONTROL_ERROR, "a stream's window grew past 2^31-1"));
                            }
                        }
                        None => return self.check_closed(h.stream_id, "WINDOW_UPDATE"),
                    }
                } else {
                    self.send_window += increment;
                    if self.send_window > WINDOW_MAX {
                        return Err(error(code::FLOW_CONTROL_ERROR, "the connection's window grew past 2^31-1"));
                    }
                }
                self.pump(request);
                Ok(())
            }
            kind::DATA | kind::HEADERS | kind::CONTINUATION | kind::RST_STREAM => {
                Err(error(code::PROTOCOL_ERROR, format!("frame type {} on stream 0", h.kind)))
            }
            kind::SETTINGS | kind::PING | kind::GOAWAY => {
                Err(error(code::PROTOCOL_ERROR, format!("frame type {} on stream {}, not 0", h.kind, h.stream_id)))
            }
            // Unknown frame types are ignored (RFC 9113 4.1).
            _ => Ok(()),
        }
    }

    /// Adds a piece of a header block, within `HEADER_BLOCK_MAX`.
    fn gather(&mut self, piece: &[u8]) -> Result<(), SessionError> {
        if self.block.len() + piece.len() > HEADER_BLOCK_MAX {
            return Err(error(
                code::PROTOCOL_ERROR,
                format!("a header block longer than {} KiB", HEADER_BLOCK_MAX / 1024),
            ));
        }
        self.block.extend_from_slice(piece);
        Ok(())
    }

    fn on_settings(
        &mut self,
        h: FrameHeader,
        payload: &[u8],
        request: Request,
        on: &mut impl FnMut(Event<T>),
    ) -> Result<(), SessionError> {
        if h.flags & flag::ACK != 0 {
            if !payload.is_empty() {
                return Err(error(code::FRAME_SIZE_ERROR, "a SETTINGS ACK with a payload"));
            }
            return Ok(());
        }
        let mut initial_window = None;
        let mut max_frame = None;
        let mut max_concurrent = self.peer_max_concurrent;
        let mut table_bytes = None;
        frame::parse_settings(payload, |id, value| match id {
            setting::INITIAL_WINDOW_SIZE => initial_window = Some(i64::from(value)),
            setting::MAX_FRAME_SIZE => max_frame = Some(value),
            setting::MAX_CONCURRENT_STREAMS => max_concurrent = Some(value),
            setting::HEADER_TABLE_SIZE => table_bytes = Some(value as usize),
            _ => {}
        })?;
        if let Some(bytes) = table_bytes.filter(|&b| b < self.table_bytes) {
            // A smaller table evicts what does not fit; `open` goes plain if ours does not.
            self.table_bytes = bytes;
            self.size_update = Some(bytes);
        }
        if let Some(window) = initial_window {
            if window > WINDOW_MAX {
                return Err(error(code::FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1"));
            }
            let delta = window - self.peer_initial_window;
            self.peer_initial_window = window;
            for s in self.slots.iter_mut().flatten() {
                s.send_window += delta;
                if s.send_window > WINDOW_MAX {
                    return Err(error(code::FLOW_CONTROL_ERROR, "a stream's window grew past 2^31-1"));
                }
            }
        }
        if let Some(size) = max_frame {
            self.peer_max_frame_size = size;
        }
        self.peer_max_concurrent = max_concurrent;
        self.settings_seen = true;
        frame::write_settings_ack(&mut self.out);
        on(Event::Settings { max_concurrent_streams: max_concurrent });
        self.pump(request);
        Ok(())
    }

    fn on_data(
        &mut self,
        h: FrameHeader,
        payload: &[u8],
        now: Instant,
        on: &mut impl FnMut(Event<T>),
    ) -> Result<(), SessionError> {
        let len = payload.len() as u32;
        // The whole payload counts against the windows, padding included.
        self.recv_window -= i64::from(len);
        if self.recv_window < 0 {
            return Err(error(code::FLOW_CONTROL_ERROR, "DATA beyond the connection's window"));
        }
        self.recv_unacked += len;
        if self.recv_unacked >= WINDOW_UPDATE_AT {
            frame::write_window_update(&mut self.out, 0, self.recv_unacked);
            self.recv_window += i64::from(self.recv_unacked);
            self.recv_unacked = 0;
        }
        frame::content(&h, payload)?;
        let Some(slot) = self.find(h.stream_id) else {
            return self.check_closed(h.stream_id, "DATA");
        };
        let end_stream = h.flags & flag::END_STREAM != 0;
        let s = self.slots[slot].as_mut().expect("found");
        if s.status == 0 {
            return Err(error(code::PROTOCOL_ERROR, format!("DATA before HEADERS on stream {}", h.stream_id)));
        }
        s.recv_window -= i64::from(len);
        if s.recv_window < 0 {
            return Err(error(code::FLOW_CONTROL_ERROR, format!("DATA beyond stream {}'s window", h.stream_id)));
        }
        s.recv_unacked += len;
        if !end_stream && s.recv_unacked >= WINDOW_UPDATE_AT {
            frame::write_window_update(&mut self.out, s.id, s.recv_unacked);
            s.recv_window += i64::from(s.recv_unacked);
            s.recv_unacked = 0;
        }
        if end_stream {
            self.finish(slot, now, on);
        }
        Ok(())
    }

    /// A whole header block for stream `id`: decoded (always, to keep the HPACK table in step),
    /// then a response's head, an informational one, or trailers.
    fn on_header_block(
        &mut self,
        id: u32,
        end_stream: bool,
        block: &[u8],
        now: Instant,
        on: &mut impl FnMut(Event<T>),
    ) -> Result<(), SessionError> {
        let mut status = None;
        let mut bad_status = false;
        self.decoder
            .decode(block, &mut |name: &[u8], value: &[u8]| {
                if name == b":status" {
                    match std::str::from_utf8(value).ok().and_then(|v| v.parse::<u16>().ok()) {
                        Some(code @ 100..=999) if value.len() == 3 => status = Some(code),
                        _ => bad_status = true,
                    }
                }
            })
            .map_err(|e| error(code::COMPRESSION_ERROR, format!("HPACK: {e}")))?;
        let Some(slot) = self.find(id) else {
            return self.check_closed(id, "HEADERS");
        };
        if bad_status {
            return Err(error(code::PROTOCOL_ERROR, format!("a malformed :status on stream {id}")));
        }
        let s = self.slots[slot].as_mut().expect("found");
        s.first_byte_at.get_or_insert(now);
        if s.status == 0 {
            match status {
                None => return Err(error(code::PROTOCOL_ERROR, format!("a response without :status on stream {id}"))),
                // Informational (100 Continue, 103 Early Hints): the final head follows.
                Some(100..=199) if !end_stream => return Ok(()),
                Some(code) => s.status = code,
            }
        } else if !end_stream {
            return Err(error(code::PROTOCOL_ERROR, format!("trailers without END_STREAM on stream {id}")));
        }
        if end_stream {
            self.finish(slot, now, on);
        }
        Ok(())
    }

    /// The stream ended with its response.
    fn finish(&mut self, slot: usize, now: Instant, on: &mut impl FnMut(Event<T>)) {
        let s = self.close_stream(slot);
        on(Event::Response { tag: s.tag, status: s.status, first_byte_at: s.first_byte_at.unwrap_or(now) });
    }

    /// Sends as much of stream `slot`'s body as the windows allow.
    fn send_body(&mut self, slot: usize, body: &[u8]) {
        let s = self.slots[slot].as_mut().expect("an open stream");
        let left = body.len() - s.body_sent;
        let n = (left as i64).min(self.send_window).min(s.send_window).max(0) as usize;
        if n == 0 {
            return;
        }
        let end = s.body_sent + n == body.len();
        frame::write_data(&mut self.out, s.id, &body[s.body_sent..s.body_sent + n], end, self.peer_max_frame_size);
        s.body_sent += n;
        s.send_window -= n as i64;
        self.send_window -= n as i64;
        if end {
            s.blocked = false;
            self.n_blocked -= 1;
        }
    }

    /// After a window grew: the bodies that wait go on, oldest slot first.
    fn pump(&mut self, request: Request) {
        if self.n_blocked == 0 {
            return;
        }
        for slot in 0..self.slots.len() {
            if self.send_window <= 0 || self.n_blocked == 0 {
                break;
            }
            if self.slots[slot].is_some_and(|s| s.blocked) {
                self.send_body(slot, request.body);
            }
        }
    }
}

/// The request as HTTP/2 header fields and body, from the HTTP/1.1 request clobber builds (or
/// `--http-file`): `:method`, `:scheme`, `:path` and `:authority` (from `Host`) first, then
/// the other fields in lower case, without the connection-specific ones HTTP/2 forbids
/// (RFC 9113 8.2.2). A chunked body is refused: HTTP/2 has no chunked coding.
#[allow(clippy::type_complexity)]
pub fn request_fields(http1: &[u8], tls: bool) -> Result<(Vec<(Vec<u8>, Vec<u8>)>, Vec<u8>), String> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(http1) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("the request's head is incomplete".into()),
        Err(e) => return Err(format!("the request is malformed: {e}")),
    };
    let method = req.method.unwrap_or("GET").as_bytes().to_vec();
    let path = req.path.unwrap_or("/").as_bytes().to_vec();
    let mut authority = None;
    let mut rest = Vec::new();
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        match name.as_str() {
            "host" => authority = Some(h.value.to_vec()),
            "connection" | "keep-alive" | "proxy-connection" | "upgrade" => {}
            "transfer-encoding" => {
                return Err("a chunked (Transfer-Encoding) body has no HTTP/2 form: give it with Content-Length".into())
            }
            "te" if !h.value.eq_ignore_ascii_case(b"trailers") => {}
            _ => rest.push((name.into_bytes(), h.value.to_vec())),
        }
    }
    let scheme: &[u8] = if tls { b"https" } else { b"http" };
    let mut fields =
        vec![(b":method".to_vec(), method), (b":scheme".to_vec(), scheme.to_vec()), (b":path".to_vec(), path)];
    if let Some(authority) = authority {
        fields.push((b":authority".to_vec(), authority));
    }
    fields.extend(rest);
    Ok((fields, http1[head_len..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::h2::hpack;

    const BLOCK_REQUEST: Request = Request { block: b"\x82\x86\x84", body: b"", indexed: None };

    /// What `feed` reported, owned.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Got {
        Response(u32, u16),
        Reset(u32, u32),
        Refused(u32),
        GoAway(u32, u32),
        Settings(Option<u32>),
    }

    /// Feeds whole frames; returns what was reported and the bytes consumed.
    fn feed_once(
        s: &mut Session<u32>,
        bytes: &[u8],
        request: Request,
        got: &mut Vec<Got>,
    ) -> Result<usize, SessionError> {
        s.feed(bytes, request, Instant::now(), &mut |e| {
            got.push(match e {
                Event::Response { tag, status, .. } => Got::Response(tag, status),
                Event::Reset { tag, code } => Got::Reset(tag, code),
                Event::Refused { tag } => Got::Refused(tag),
                Event::GoAway { last_stream_id, code, .. } => Got::GoAway(last_stream_id, code),
                Event::Settings { max_concurrent_streams } => Got::Settings(max_concurrent_streams),
            })
        })
    }

    /// Feeds `bytes` in pieces of `piece` bytes, carrying partial frames as the engine does.
    fn feed_in(s: &mut Session<u32>, bytes: &[u8], request: Request, piece: usize) -> Result<Vec<Got>, SessionError> {
        let mut got = Vec::new();
        let mut carry = Vec::new();
        for chunk in bytes.chunks(piece) {
            carry.extend_from_slice(chunk);
            let used = feed_once(s, &carry, request, &mut got)?;
            carry.drain(..used);
        }
        assert!(carry.is_empty(), "a partial frame left over");
        Ok(got)
    }

    fn feed(s: &mut Session<u32>, bytes: &[u8]) -> Result<Vec<Got>, SessionError> {
        let mut got = Vec::new();
        let used = feed_once(s, bytes, BLOCK_REQUEST, &mut got)?;
        assert_eq!(used, bytes.len(), "whole frames");
        Ok(got)
    }

    /// The frames the client wrote since the last call (the preface skipped).
    fn written(s: &mut Session<u32>) -> Vec<(FrameHeader, Vec<u8>)> {
        let mut out = s.pending_out().to_vec();
        s.sent(out.len());
        if out.starts_with(PREFACE) {
            out.drain(..PREFACE.len());
        }
        let mut frames = Vec::new();
        let mut pos = 0;
        while let Some((h, payload)) = frame::split(&out[pos..], 1 << 24).unwrap() {
            pos += HEADER_LEN + payload.len();
            frames.push((h, payload.to_vec()));
        }
        assert_eq!(pos, out.len(), "whole frames only");
        frames
    }

    fn settings(values: &[(u16, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        frame::write_settings(&mut out, values);
        out
    }

    fn head(id: u32, status: &[u8], end_stream: bool) -> Vec<u8> {
        let mut block = Vec::new();
        hpack::encode(&[(b":status", status)], &mut block);
        let mut out = Vec::new();
        frame::write_headers(&mut out, id, end_stream, &block, 16384);
        out
    }

    /// A session past the server's SETTINGS (no limit), its output read.
    fn ready(capacity: u32) -> Session<u32> {
        let mut s = Session::new(capacity);
        assert_eq!(feed(&mut s, &settings(&[])).unwrap(), vec![Got::Settings(None)]);
        written(&mut s);
        s
    }

    #[test]
    fn start_sends_preface_settings_and_a_connection_window_update() {
        let mut s: Session<u32> = Session::new(4);
        assert!(s.pending_out().starts_with(PREFACE));
        let frames = written(&mut s);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].0.kind, kind::SETTINGS);
        let mut values = Vec::new();
        frame::parse_settings(&frames[0].1, |id, v| values.push((id, v))).unwrap();
        assert!(values.contains(&(setting::INITIAL_WINDOW_SIZE, RECV_WINDOW)));
        assert!(values.contains(&(setting::ENABLE_PUSH, 0)));
        assert_eq!(frames[1].0.kind, kind::WINDOW_UPDATE);
        assert_eq!(frame::parse_window_update(&frames[1].1).unwrap(), RECV_WINDOW - 65_535);
        assert!(s.pending_out().is_empty());
    }

    #[test]
    fn before_settings_one_stream_then_the_servers_limit() {
        let mut s: Session<u32> = Session::new(100);
        assert_eq!(s.limit(), 1);
        s.open(BLOCK_REQUEST, 0);
        assert!(!s.can_open());
        let got = feed(&mut s, &settings(&[(setting::MAX_CONCURRENT_STREAMS, 10)])).unwrap();
        assert_eq!(got, vec![Got::Settings(Some(10))]);
        assert_eq!(s.limit(), 10);
        let mut n = 1;
        while s.can_open() {
            s.open(BLOCK_REQUEST, n);
            n += 1;
        }
        assert_eq!(s.n_open(), 10);
        let frames = written(&mut s);
        assert_eq!(frames.iter().filter(|f| f.0.kind == kind::SETTINGS && f.0.flags == flag::ACK).count(), 1);
        let ids: Vec<u32> = frames.iter().filter(|f| f.0.kind == kind::HEADERS).map(|f| f.0.stream_id).collect();
        assert_eq!(ids, (0..10).map(|i| 2 * i + 1).collect::<Vec<_>>());
        assert!(frames.iter().all(|f| f.0.kind != kind::HEADERS || f.1 == b"\x82\x86\x84"), "the block as given");
    }

    #[test]
    fn open_the_first_frame_must_be_settings() {
        let mut s: Session<u32> = Session::new(1);
        let mut ping = Vec::new();
        frame::write_ping(&mut ping, false, [0; 8]);
        assert_eq!(feed(&mut s, &ping).unwrap_err().code, code::PROTOCOL_ERROR);
    }

    #[test]
    fn open_ping_is_answered_with_its_data() {
        let mut s = ready(1);
        let mut ping = Vec::new();
        frame::write_ping(&mut ping, false, *b"12345678");
        feed(&mut s, &ping).unwrap();
        let frames = written(&mut s);
        assert_eq!(frames.len(), 1);
        assert_eq!(
            (frames[0].0.kind, frames[0].0.flags, frames[0].1.as_slice()),
            (kind::PING, flag::ACK, &b"12345678"[..])
        );
    }

    #[test]
    fn open_response_in_padded_headers_continuation_and_data_in_any_pieces() {
        let mut block = Vec::new();
        hpack::encode(&[(b":status", b"404"), (b"server", b"x")], &mut block);
        let mut bytes = Vec::new();
        // HEADERS, padded, without END_HEADERS; then CONTINUATION; then padded DATA ending it.
        let (first, rest) = block.split_at(2);
        FrameHeader { len: 1 + first.len() as u32 + 3, kind: kind::HEADERS, flags: flag::PADDED, stream_id: 1 }
            .write(&mut bytes);
        bytes.push(3);
        bytes.extend_from_slice(first);
        bytes.extend_from_slice(&[0; 3]);
        FrameHeader { len: rest.len() as u32, kind: kind::CONTINUATION, flags: flag::END_HEADERS, stream_id: 1 }
            .write(&mut bytes);
        bytes.extend_from_slice(rest);
        FrameHeader { len: 1 + 5 + 2, kind: kind::DATA, flags: flag::PADDED | flag::END_STREAM, stream_id: 1 }
            .write(&mut bytes);
        bytes.extend_from_slice(b"\x02hello\0\0");
        for piece in [1, 2, 7, bytes.len()] {
            let mut s = ready(1);
            s.open(BLOCK_REQUEST, 42);
            assert_eq!(feed_in(&mut s, &bytes, BLOCK_REQUEST, piece).unwrap(), vec![Got::Response(42, 404)], "{piece}");
            assert_eq!(s.n_open(), 0);
        }
    }

    #[test]
    fn open_informational_heads_and_trailers() {
        let mut s = ready(1);
        s.open(BLOCK_REQUEST, 1);
        let mut bytes = head(1, b"103", false);
        bytes.extend(head(1, b"200", false));
        frame::write_data(&mut bytes, 1, b"body", false, 16384);
        bytes.extend(head(1, b"200", true));
        assert_eq!(feed(&mut s, &bytes).unwrap(), vec![Got::Response(1, 200)]);
    }

    #[test]
    fn open_rst_stream_and_goaway() {
        let mut s = ready(4);
        for tag in 0..4 {
            s.open(BLOCK_REQUEST, tag);
        }
        let mut bytes = Vec::new();
        frame::write_rst(&mut bytes, 1, code::REFUSED_STREAM);
        frame::write_goaway(&mut bytes, 3, code::NO_ERROR);
        bytes.extend(head(3, b"200", true));
        let got = feed(&mut s, &bytes).unwrap();
        assert_eq!(
            got,
            vec![
                Got::Reset(0, code::REFUSED_STREAM),
                Got::Refused(2),
                Got::Refused(3),
                Got::GoAway(3, code::NO_ERROR),
                Got::Response(1, 200)
            ]
        );
        assert!(s.is_closing() && !s.can_open() && s.n_open() == 0);
    }

    #[test]
    fn open_violations_are_connection_errors_with_a_goaway() {
        let cases: Vec<(&str, Vec<u8>, u32)> = vec![
            (
                "a frame above our maximum size",
                {
                    let mut b = Vec::new();
                    FrameHeader { len: MAX_FRAME_SIZE + 1, kind: kind::DATA, flags: 0, stream_id: 1 }.write(&mut b);
                    b
                },
                code::FRAME_SIZE_ERROR,
            ),
            ("HEADERS on a stream never opened", head(5, b"200", true), code::PROTOCOL_ERROR),
            (
                "DATA on stream 0",
                {
                    let mut b = Vec::new();
                    frame::write_data(&mut b, 0, b"x", false, 16384);
                    b
                },
                code::PROTOCOL_ERROR,
            ),
            (
                "CONTINUATION without HEADERS",
                {
                    let mut b = Vec::new();
                    FrameHeader { len: 0, kind: kind::CONTINUATION, flags: flag::END_HEADERS, stream_id: 1 }
                        .write(&mut b);
                    b
                },
                code::PROTOCOL_ERROR,
            ),
            (
                "PUSH_PROMISE",
                {
                    let mut b = Vec::new();
                    FrameHeader { len: 4, kind: kind::PUSH_PROMISE, flags: flag::END_HEADERS, stream_id: 1 }
                        .write(&mut b);
                    b.extend_from_slice(&[0, 0, 0, 2]);
                    b
                },
                code::PROTOCOL_ERROR,
            ),
            (
                "a window past 2^31-1",
                {
                    let mut b = Vec::new();
                    frame::write_window_update(&mut b, 0, (1 << 31) - 1);
                    b
                },
                code::FLOW_CONTROL_ERROR,
            ),
            (
                "a response without :status",
                {
                    let mut block = Vec::new();
                    hpack::encode(&[(b"server", b"x")], &mut block);
                    let mut b = Vec::new();
                    frame::write_headers(&mut b, 1, true, &block, 16384);
                    b
                },
                code::PROTOCOL_ERROR,
            ),
        ];
        for (what, bytes, expected) in cases {
            let mut s = ready(1);
            s.open(BLOCK_REQUEST, 0);
            written(&mut s);
            let e = feed(&mut s, &bytes).expect_err(what);
            assert_eq!(e.code, expected, "{what}: {e}");
            let frames = written(&mut s);
            assert_eq!(frames.last().map(|f| f.0.kind), Some(kind::GOAWAY), "{what}");
        }
    }

    #[test]
    fn open_a_header_block_past_the_cap_is_an_error_not_growth() {
        let mut s = ready(1);
        s.open(BLOCK_REQUEST, 0);
        let mut bytes = Vec::new();
        FrameHeader { len: 16384, kind: kind::HEADERS, flags: 0, stream_id: 1 }.write(&mut bytes);
        bytes.resize(bytes.len() + 16384, 0);
        for _ in 0..63 {
            FrameHeader { len: 16384, kind: kind::CONTINUATION, flags: 0, stream_id: 1 }.write(&mut bytes);
            bytes.resize(bytes.len() + 16384, 0);
        }
        let e = feed(&mut s, &bytes).unwrap_err();
        assert!(e.what.contains("header block longer"), "{e}");
        assert!(s.block.capacity() <= HEADER_BLOCK_MAX, "{}", s.block.capacity());
    }

    #[test]
    fn open_a_body_waits_for_window_and_goes_on_after_window_update() {
        let body = vec![b'b'; 100_000];
        let request = Request { block: b"\x83\x86\x84", body: &body, indexed: None };
        let mut s: Session<u32> = Session::new(1);
        feed_in(&mut s, &settings(&[(setting::INITIAL_WINDOW_SIZE, 1000)]), request, usize::MAX).unwrap();
        written(&mut s);
        s.open(request, 0);
        let data_bytes = |frames: &[(FrameHeader, Vec<u8>)]| {
            frames.iter().filter(|f| f.0.kind == kind::DATA).map(|f| f.1.len()).sum::<usize>()
        };
        let frames = written(&mut s);
        assert_eq!(data_bytes(&frames), 1000, "the stream's window");
        let mut update = Vec::new();
        frame::write_window_update(&mut update, 1, 200_000);
        feed_in(&mut s, &update, request, usize::MAX).unwrap();
        assert_eq!(data_bytes(&written(&mut s)), 64_535, "now the connection's window (65,535) is the limit");
        let mut update = Vec::new();
        frame::write_window_update(&mut update, 0, 100_000);
        feed_in(&mut s, &update, request, usize::MAX).unwrap();
        let frames = written(&mut s);
        assert_eq!(data_bytes(&frames), 100_000 - 65_535);
        assert_eq!(frames.last().unwrap().0.flags & flag::END_STREAM, flag::END_STREAM);
    }

    #[test]
    fn flow_control_100_streams_of_100_mb_never_stall() {
        // The server sends as much as the client's windows allow, as a server must; the
        // client's WINDOW_UPDATEs must reopen them before they close, or the server stalls.
        const BODY: u64 = 100_000_000;
        let mut s: Session<u32> = Session::new(100);
        let mut got = feed(&mut s, &settings(&[(setting::MAX_CONCURRENT_STREAMS, 100)])).unwrap();
        for tag in 0..100 {
            s.open(BLOCK_REQUEST, tag);
        }
        let mut conn_window: i64 = 65_535;
        let mut stream_window = vec![65_535i64; 100];
        let mut left = vec![BODY; 100];
        let apply = |s: &mut Session<u32>, conn_window: &mut i64, stream_window: &mut [i64]| {
            for (h, payload) in written(s) {
                match h.kind {
                    kind::WINDOW_UPDATE if h.stream_id == 0 => {
                        *conn_window += i64::from(frame::parse_window_update(&payload).unwrap())
                    }
                    kind::WINDOW_UPDATE => {
                        stream_window[(h.stream_id / 2) as usize] +=
                            i64::from(frame::parse_window_update(&payload).unwrap())
                    }
                    kind::SETTINGS if h.flags == 0 => {
                        frame::parse_settings(&payload, |id, v| {
                            if id == setting::INITIAL_WINDOW_SIZE {
                                stream_window.iter_mut().for_each(|w| *w += i64::from(v) - 65_535);
                            }
                        })
                        .unwrap();
                    }
                    _ => {}
                }
            }
        };
        apply(&mut s, &mut conn_window, &mut stream_window);
        let mut heads = Vec::new();
        for i in 0..100 {
            heads.extend(head(2 * i + 1, b"200", false));
        }
        got.extend(feed(&mut s, &heads).unwrap());
        let mut frame_bytes = vec![0u8; HEADER_LEN + 16384];
        let mut header = Vec::with_capacity(HEADER_LEN);
        let mut sent: u64 = 0;
        // Round-robin 16 KiB frames over the streams, as servers interleave them.
        while left.iter().any(|&l| l > 0) {
            for i in 0..100 {
                if left[i] == 0 {
                    continue;
                }
                let n = left[i].min(16384);
                assert!(
                    conn_window >= n as i64 && stream_window[i] >= n as i64,
                    "stalled after {sent} bytes: connection window {conn_window}, stream {i}'s {}",
                    stream_window[i]
                );
                left[i] -= n;
                let end = if left[i] == 0 { flag::END_STREAM } else { 0 };
                header.clear();
                FrameHeader { len: n as u32, kind: kind::DATA, flags: end, stream_id: 2 * i as u32 + 1 }
                    .write(&mut header);
                frame_bytes[..HEADER_LEN].copy_from_slice(&header);
                got.extend(feed(&mut s, &frame_bytes[..HEADER_LEN + n as usize]).unwrap());
                conn_window -= n as i64;
                stream_window[i] -= n as i64;
                sent += n;
                apply(&mut s, &mut conn_window, &mut stream_window);
            }
        }
        assert_eq!(sent, 100 * BODY);
        assert_eq!(got.iter().filter(|g| matches!(g, Got::Response(_, 200))).count(), 100);
        assert_eq!(s.n_open(), 0);
    }

    #[test]
    fn stream_ids_skip_slots_still_held() {
        let mut s = ready(2);
        // Slots: 4 (2 × 2). Stream 1 stays open while others come and go.
        assert_eq!(s.open(BLOCK_REQUEST, 0), 1);
        let mut ids = Vec::new();
        for tag in 1..6 {
            let id = s.open(BLOCK_REQUEST, tag);
            ids.push(id);
            assert_eq!(feed(&mut s, &head(id, b"200", true)).unwrap(), vec![Got::Response(tag, 200)]);
        }
        // Ids 9 and 17 map to stream 1's slot, and are skipped.
        assert_eq!(ids, vec![3, 5, 7, 11, 13]);
        assert_eq!(feed(&mut s, &head(1, b"200", true)).unwrap(), vec![Got::Response(0, 200)]);
    }

    #[test]
    fn request_fields_from_http1() {
        let (fields, body) = request_fields(
            b"POST /a?b HTTP/1.1\r\nHost: example.com:8080\r\nConnection: close\r\nX-Custom: 1\r\nContent-Length: 2\r\n\r\nhi",
            true,
        )
        .unwrap();
        let names: Vec<(&str, &str)> =
            fields.iter().map(|(n, v)| (std::str::from_utf8(n).unwrap(), std::str::from_utf8(v).unwrap())).collect();
        assert_eq!(
            names,
            vec![
                (":method", "POST"),
                (":scheme", "https"),
                (":path", "/a?b"),
                (":authority", "example.com:8080"),
                ("x-custom", "1"),
                ("content-length", "2")
            ]
        );
        assert_eq!(body, b"hi");
        let chunked =
            request_fields(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false);
        assert!(chunked.unwrap_err().contains("Content-Length"));
    }

    /// A small deterministic generator (xorshift64*), so a failure replays exactly.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1) as u64) as usize
        }
    }

    /// What a session makes of `bytes` fed in `pieces`: its events, its error, its output.
    fn outcome(bytes: &[u8], piece: usize) -> (Vec<Got>, Option<SessionError>, Vec<u8>) {
        let mut s: Session<u32> = Session::new(4);
        s.open(BLOCK_REQUEST, 0);
        let mut got = Vec::new();
        let mut carry = Vec::new();
        let mut error = None;
        for chunk in bytes.chunks(piece) {
            carry.extend_from_slice(chunk);
            match feed_once(&mut s, &carry, BLOCK_REQUEST, &mut got) {
                Ok(used) => {
                    carry.drain(..used);
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        (got, error, s.pending_out().to_vec())
    }

    #[test]
    fn mutated_server_streams_never_panic_and_splits_agree() {
        // A plausible server stream (SETTINGS, responses, PING, WINDOW_UPDATE, GOAWAY), then
        // random mutations of it: whatever the bytes, no panic, and feeding them in pieces
        // gives what feeding them whole gives.
        let mut base = settings(&[(setting::MAX_CONCURRENT_STREAMS, 4), (setting::INITIAL_WINDOW_SIZE, 100)]);
        frame::write_ping(&mut base, false, [1; 8]);
        base.extend(head(1, b"200", false));
        frame::write_data(&mut base, 1, b"hello", true, 16384);
        base.extend(head(3, b"404", true));
        frame::write_window_update(&mut base, 0, 1000);
        frame::write_rst(&mut base, 5, code::CANCEL);
        frame::write_goaway(&mut base, 7, code::NO_ERROR);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..3000 {
            let mut bytes = base.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                match rng.below(3) {
                    0 => bytes[at] = rng.below(256) as u8,
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, rng.below(256) as u8),
                }
            }
            let whole = outcome(&bytes, usize::MAX);
            let piece = 1 + rng.below(40);
            assert_eq!(outcome(&bytes, piece), whole, "round {round}, pieces of {piece}");
        }
    }

    #[test]
    fn open_first_and_second_streams_send_these_exact_blocks() {
        // The bytes h2o receives, pinned: what the server's HPACK decoder works on per request
        // (README, "HPACK: why indexed").
        let (fields, _) = request_fields(
            b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: clobber/0.1.0\r\n\r\n",
            false,
        )
        .unwrap();
        let refs: Vec<(&[u8], &[u8])> = fields.iter().map(|(n, v)| (n.as_slice(), v.as_slice())).collect();
        let mut plain = Vec::new();
        hpack::encode(&refs, &mut plain);
        let (first, repeat, bytes) = indexed_blocks(&refs).unwrap();
        let request = Request { block: &plain, body: b"", indexed: Some((&first, &repeat, bytes)) };
        let mut s: Session<u32> = Session::new(2);
        s.open(request, 0);
        feed(&mut s, &settings(&[])).unwrap();
        s.open(request, 1);
        let heads: Vec<(u32, u8, Vec<u8>)> = written(&mut s)
            .into_iter()
            .filter(|f| f.0.kind == kind::HEADERS)
            .map(|f| (f.0.stream_id, f.0.flags, f.1))
            .collect();
        // Stream 1: :method GET, :scheme http, :path /index.html (static 2, 6, 5), then
        // :authority and user-agent as literals with incremental indexing (new names).
        let mut stream1 = vec![0x82, 0x86, 0x85, 0x40, 10];
        stream1.extend_from_slice(b":authority");
        stream1.push(14);
        stream1.extend_from_slice(b"127.0.0.1:8080");
        stream1.extend_from_slice(&[0x40, 10]);
        stream1.extend_from_slice(b"user-agent");
        stream1.push(13);
        stream1.extend_from_slice(b"clobber/0.1.0");
        // Stream 3 and every later one: the same three static indices, then the dynamic
        // table's entries 63 (:authority, inserted first) and 62 (user-agent).
        let stream3 = vec![0x82, 0x86, 0x85, 0xbf, 0xbe];
        let end = flag::END_STREAM | flag::END_HEADERS;
        assert_eq!(heads, vec![(1, end, stream1), (3, end, stream3)]);
        // The first form (static indices, literals without indexing, indexed names),
        // which `Hpack::Plain` sends when the server's table is too small.
        let mut literal = vec![0x82, 0x86, 0x85, 0x01, 14];
        literal.extend_from_slice(b"127.0.0.1:8080");
        literal.extend_from_slice(&[0x0f, 0x2b, 13]);
        literal.extend_from_slice(b"clobber/0.1.0");
        assert_eq!(plain, literal);
    }

    #[test]
    fn indexed_blocks_decode_to_the_same_fields_and_shrink_after_the_first() {
        let (fields, _) = request_fields(
            b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: clobber/0.1.0\r\n\r\n",
            false,
        )
        .unwrap();
        let refs: Vec<(&[u8], &[u8])> = fields.iter().map(|(n, v)| (n.as_slice(), v.as_slice())).collect();
        let mut plain = Vec::new();
        hpack::encode(&refs, &mut plain);
        let (first, repeat, bytes) = indexed_blocks(&refs).expect("small fields fit the table");
        assert!(repeat.len() <= 6, "{} bytes", repeat.len());
        // A server's decoder sees the first block, then later ones, as one connection.
        let mut decoder = Decoder::new(4096);
        for block in [&first, &repeat, &repeat] {
            let mut got = Vec::new();
            decoder.decode(block, &mut |n, v| got.push((n.to_vec(), v.to_vec()))).unwrap();
            assert_eq!(got, fields);
        }
        assert_eq!(bytes, decoder.table_size());
        // A session sends the first block on its first stream, then the short one.
        let request = Request { block: &plain, body: b"", indexed: Some((&first, &repeat, bytes)) };
        let mut s: Session<u32> = Session::new(4);
        s.open(request, 0);
        feed(&mut s, &settings(&[])).unwrap();
        s.open(request, 1);
        let blocks: Vec<Vec<u8>> =
            written(&mut s).into_iter().filter(|f| f.0.kind == kind::HEADERS).map(|f| f.1).collect();
        assert_eq!(blocks, vec![first.clone(), repeat.clone()]);
        // A server that shrinks its table below ours: a size update, then plain blocks.
        feed(&mut s, &settings(&[(setting::HEADER_TABLE_SIZE, 64)])).unwrap();
        s.open(request, 2);
        s.open(request, 3);
        let blocks: Vec<Vec<u8>> =
            written(&mut s).into_iter().filter(|f| f.0.kind == kind::HEADERS).map(|f| f.1).collect();
        let mut updated = vec![0x3f, 0x21];
        updated.extend_from_slice(&plain);
        assert_eq!(blocks, vec![updated, plain.clone()]);
        let mut decoder = Decoder::new(4096);
        decoder.decode(&first, &mut |_, _| {}).unwrap();
        for block in &blocks {
            let mut got = Vec::new();
            decoder.decode(block, &mut |n, v| got.push((n.to_vec(), v.to_vec()))).unwrap();
            assert_eq!(got, fields);
        }
    }
}

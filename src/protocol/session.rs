//! The client's protocol session, sans-IO: what a connection drives once its socket is open.
//! Bytes read go in (`feed`), completions come out (`Event`s, reported as they happen), and the
//! bytes to write wait in `pending_out` until the connection says how many it wrote (`sent`).
//! How many requests may start now is `can_start`; `start` queues one. The connection keeps
//! the socket, the clock, the budget, the statistics and the timeouts: each request carries the
//! connection's `Tag` (its send and due times), handed back in its event, and `for_each_open`
//! shows the tags of the requests still unanswered, so the connection can find the oldest.
//!
//! Two implementations: `Pipeline` (this file), HTTP/1.1 and the raw, RESP and memcache
//! framings, requests in batches of `--pipeline` and responses in order through a `Framer`;
//! and `h2::client::Session`, HTTP/2 streams. Static dispatch only: a connection is generic
//! over its session, so each protocol gets its own monomorphized loop.
//!
//! Invariants, both sessions:
//! - `feed` consumes a prefix of its input; the rest (a partial head or frame) is the caller's
//!   to keep and give again, followed by more bytes. An `Err` ends the session: the
//!   connection closes (after writing what `pending_out` holds, for HTTP/2 a GOAWAY).
//! - Every request started ends exactly once: in an `Event` (`Response`, `Reset`, `Refused`),
//!   or in `drain` when the connection closes.
//! - Nothing here reads a clock or allocates per request.

use std::time::Instant;

use super::{Done, Feed, Framer, ProtocolError};

/// What the server did, reported by `feed` as it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a, T> {
    /// A request ended with a response: its status (`Done::status` for HTTP/1.1 and the
    /// framings), and when its first byte came (HTTP/2: its HEADERS; HTTP/1.1: `now`).
    Response { tag: T, status: u16, first_byte_at: Instant },
    /// HTTP/2: the server reset the stream (RST_STREAM) with this error code.
    Reset { tag: T, code: u32 },
    /// HTTP/2: the stream was above a GOAWAY's last stream id: the server never processed it,
    /// and it may be sent again on another connection.
    Refused { tag: T },
    /// HTTP/2: the server is closing the connection: no new stream may be opened. Streams up
    /// to `last_stream_id` still complete.
    GoAway { last_stream_id: u32, code: u32, debug: &'a [u8] },
    /// HTTP/2: the server's SETTINGS: the streams it allows at once (`None`: no limit given).
    Settings { max_concurrent_streams: Option<u32> },
}

/// A client protocol session (see the file's comment).
pub trait Session {
    /// What the connection keeps per request and gets back in its event.
    type Tag: Copy;
    /// What every request sends, built once per worker and lent for each call that may write.
    type Request<'a>: Copy;
    /// A violation by the server: the session cannot go on.
    type Error: std::fmt::Display;

    /// How many requests may be started now.
    fn can_start(&self) -> u32;
    /// Starts one request, tagged `tag`; its bytes join `pending_out`.
    fn start(&mut self, request: Self::Request<'_>, tag: Self::Tag);
    /// The bytes waiting to be written to the socket (`request`: the same as `start` had).
    fn pending_out<'a>(&'a self, request: Self::Request<'a>) -> &'a [u8];
    /// `n` bytes of `pending_out` were written.
    fn sent(&mut self, n: usize);
    /// Consumes a prefix of `input` (see the file's comment) and returns its length.
    fn feed(
        &mut self,
        input: &[u8],
        request: Self::Request<'_>,
        now: Instant,
        on: &mut impl FnMut(Event<Self::Tag>),
    ) -> Result<usize, Self::Error>;
    /// The server closed its side; `carried` are the bytes `feed` left. A response that ends
    /// at EOF completes here; a response cut short is an error.
    fn on_eof(
        &mut self,
        carried: &[u8],
        now: Instant,
        on: &mut impl FnMut(Event<Self::Tag>),
    ) -> Result<(), Self::Error>;
    /// Requests started and not yet ended.
    fn n_open(&self) -> u32;
    /// Whether the server said it will take no more requests on this connection (HTTP/1.1
    /// `Connection: close`; HTTP/2 GOAWAY): once the open ones are answered, it closes.
    fn is_closing(&self) -> bool;
    /// The tags of the requests started and not yet ended.
    fn for_each_open(&self, f: impl FnMut(&Self::Tag));
    /// Forgets every open request (the connection is closing) and hands back their tags.
    fn drain(&mut self, f: impl FnMut(Self::Tag));
}

/// The bytes HTTP/1.1 (or a `--frame`) sends, as `Pipeline` sees them: `bytes` holds the
/// requests of the current batch back to back from its start (the plan's request repeated,
/// or the connection's own buffer when requests vary), and `next` is the length of the
/// request `start` adds.
#[derive(Debug, Clone, Copy)]
pub struct Requests<'a> {
    pub bytes: &'a [u8],
    pub next: usize,
}

impl Requests<'_> {
    /// For the calls that write nothing (`feed`, `on_eof`).
    pub const NONE: Requests<'static> = Requests { bytes: &[], next: 0 };
}

/// The most bytes `Pipeline` lets the caller carry while a response head is incomplete; a
/// longer head is `HeadTooLarge`, so a server sending an endless head cannot grow memory.
pub const CARRY_BYTES_MAX: usize = 64 * 1024;

/// HTTP/1.1 pipelining (and the raw, RESP and memcache framings) as a `Session`: requests go
/// out in batches (a new batch starts only when the last one is answered, up to `depth`
/// requests), written from the caller's buffer with no copy; responses come back in order,
/// each framed by `F`. One tag per batch: its requests went out together.
pub struct Pipeline<F, T> {
    framer: F,
    depth: u32,
    n_open: u32,
    /// The current batch's bytes: `written..to_write` are still to go out.
    written: usize,
    to_write: usize,
    tag: Option<T>,
    /// A response said the server closes after it.
    closing: bool,
}

impl<F: Framer, T: Copy> Pipeline<F, T> {
    /// A session for a new connection, at most `depth` requests in flight (`--pipeline`).
    pub fn new(framer: F, depth: u32) -> Pipeline<F, T> {
        assert!(depth >= 1, "a pipeline needs a depth");
        Pipeline { framer, depth, n_open: 0, written: 0, to_write: 0, tag: None, closing: false }
    }

    /// Ready for a new connection: nothing open, no partial response.
    pub fn reset(&mut self) {
        self.framer.reset();
        self.n_open = 0;
        self.written = 0;
        self.to_write = 0;
        self.tag = None;
        self.closing = false;
    }

    /// Whether some byte of a response has been consumed that did not complete it.
    pub fn in_response(&self) -> bool {
        self.framer.in_response()
    }

    /// The current batch's bytes written so far, and its length.
    pub fn progress(&self) -> (usize, usize) {
        (self.written, self.to_write)
    }
}

impl<F: Framer, T: Copy> Session for Pipeline<F, T> {
    type Tag = T;
    type Request<'a> = Requests<'a>;
    type Error = ProtocolError;

    /// A whole batch when the last one is answered; more of the current batch only while none
    /// of it is written (the connection starts a batch's requests one after the other, then
    /// writes them); none once the server said it closes.
    #[inline(always)]
    fn can_start(&self) -> u32 {
        match (self.closing, self.n_open, self.written) {
            (true, _, _) => 0,
            (false, 0, _) => self.depth,
            (false, n, 0) => self.depth - n,
            (false, _, _) => 0,
        }
    }

    #[inline(always)]
    fn start(&mut self, request: Requests, tag: T) {
        debug_assert!(self.n_open < self.depth, "start past the pipeline's depth");
        if self.n_open == 0 {
            self.written = 0;
            self.to_write = 0;
        }
        self.to_write += request.next;
        debug_assert!(self.to_write <= request.bytes.len(), "the batch buffer lacks the request");
        self.n_open += 1;
        self.tag = Some(tag);
    }

    #[inline(always)]
    fn pending_out<'a>(&'a self, request: Requests<'a>) -> &'a [u8] {
        &request.bytes[self.written..self.to_write]
    }

    #[inline(always)]
    fn sent(&mut self, n: usize) {
        self.written += n;
        debug_assert!(self.written <= self.to_write);
    }

    #[inline(always)]
    fn feed(
        &mut self,
        input: &[u8],
        _request: Requests,
        now: Instant,
        on: &mut impl FnMut(Event<T>),
    ) -> Result<usize, ProtocolError> {
        if self.closing && self.n_open > 0 {
            // After a response that announced the close, nothing more is read.
            return Ok(input.len());
        }
        let mut pos = 0;
        while self.n_open > 0 && pos < input.len() {
            let (used, feed) = self.framer.feed(&input[pos..]);
            pos += used;
            match feed {
                Feed::NeedMore => break,
                Feed::Complete(done) => {
                    self.complete(done, now, on);
                    if done.close && self.n_open > 0 {
                        // The server announced its close with requests of the batch still
                        // unanswered: they are never answered here (`drain` hands them back),
                        // and what follows is not read.
                        return Ok(input.len());
                    }
                }
                Feed::Error(err) => return Err(err),
            }
        }
        let leftover = input.len() - pos;
        if leftover > 0 {
            if self.n_open == 0 {
                return Err(ProtocolError::Unsolicited);
            }
            if leftover > CARRY_BYTES_MAX {
                return Err(ProtocolError::HeadTooLarge);
            }
        }
        Ok(pos)
    }

    fn on_eof(&mut self, carried: &[u8], now: Instant, on: &mut impl FnMut(Event<T>)) -> Result<(), ProtocolError> {
        if self.n_open == 0 || (!self.framer.in_response() && carried.is_empty()) {
            return Ok(());
        }
        match self.framer.on_eof() {
            Feed::Complete(done) => {
                self.complete(done, now, on);
                Ok(())
            }
            Feed::Error(err) => Err(err),
            Feed::NeedMore => Err(ProtocolError::Truncated),
        }
    }

    #[inline]
    fn n_open(&self) -> u32 {
        self.n_open
    }

    #[inline]
    fn is_closing(&self) -> bool {
        self.closing
    }

    fn for_each_open(&self, mut f: impl FnMut(&T)) {
        if let Some(tag) = &self.tag {
            (0..self.n_open).for_each(|_| f(tag));
        }
    }

    fn drain(&mut self, mut f: impl FnMut(T)) {
        if let Some(tag) = self.tag {
            (0..self.n_open).for_each(|_| f(tag));
        }
        self.n_open = 0;
    }
}

impl<F: Framer, T: Copy> Pipeline<F, T> {
    #[inline(always)]
    fn complete(&mut self, done: Done, now: Instant, on: &mut impl FnMut(Event<T>)) {
        self.n_open -= 1;
        self.closing |= done.close;
        let tag = self.tag.expect("a batch under way has its tag");
        on(Event::Response { tag, status: done.status, first_byte_at: now });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::http::HttpFramer;
    use crate::protocol::raw::{Delimiter, RawFramer, RawFraming};

    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\n\r\n";
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    const CLOSING: &[u8] = b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

    fn http(depth: u32) -> Pipeline<HttpFramer, u32> {
        Pipeline::new(HttpFramer::new(false), depth)
    }

    /// Starts `n` requests tagged 7 from a batch of `depth` copies of `REQUEST`.
    fn start<F: Framer>(p: &mut Pipeline<F, u32>, batch: &[u8], n: u32) {
        for _ in 0..n {
            p.start(Requests { bytes: batch, next: REQUEST.len() }, 7);
        }
    }

    /// Feeds `pieces` as a connection does (unconsumed bytes carried to the next piece), and
    /// says what came out: statuses, then the error or the bytes still carried.
    fn feed<F: Framer>(p: &mut Pipeline<F, u32>, pieces: &[&[u8]]) -> (Vec<u16>, Result<usize, ProtocolError>) {
        let now = Instant::now();
        let mut carry = Vec::new();
        let mut statuses = Vec::new();
        for piece in pieces {
            carry.extend_from_slice(piece);
            let on = &mut |e: Event<u32>| match e {
                Event::Response { tag: 7, status, .. } => statuses.push(status),
                other => panic!("{other:?}"),
            };
            match p.feed(&carry, Requests::NONE, now, on) {
                Ok(used) => drop(carry.drain(..used)),
                Err(e) => return (statuses, Err(e)),
            }
        }
        (statuses, Ok(carry.len()))
    }

    /// `input` whole, byte by byte and split at every position: all must agree.
    fn check(depth: u32, input: &[u8], expected: (Vec<u16>, Result<usize, ProtocolError>)) {
        let batch = REQUEST.repeat(depth as usize);
        let run = |pieces: &[&[u8]]| {
            let mut p = http(depth);
            start(&mut p, &batch, depth);
            feed(&mut p, pieces)
        };
        assert_eq!(run(&[input]), expected, "whole");
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&bytes), expected, "byte by byte");
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(run(&[a, b]), expected, "split at {cut}");
        }
    }

    #[test]
    fn pipelined_responses_in_any_pieces() {
        check(3, &OK.repeat(3), (vec![200, 200, 200], Ok(0)));
        check(3, &OK.repeat(2), (vec![200, 200], Ok(0)));
        check(2, &[OK, &OK[..20]].concat(), (vec![200], Ok(20)));
    }

    #[test]
    fn bytes_past_the_last_response_are_unsolicited() {
        check(1, &[OK, b"x"].concat(), (vec![200], Err(ProtocolError::Unsolicited)));
    }

    #[test]
    fn a_close_announced_early_ends_the_batch_there() {
        // The second request is never answered; what follows the close is not read.
        check(2, &[CLOSING, OK].concat(), (vec![503], Ok(0)));
        let mut p = http(2);
        start(&mut p, &REQUEST.repeat(2), 2);
        assert_eq!(feed(&mut p, &[CLOSING]), (vec![503], Ok(0)));
        assert!(p.is_closing());
        assert_eq!((p.n_open(), p.can_start()), (1, 0));
        let mut drained = 0;
        p.drain(|tag| drained += tag);
        assert_eq!((drained, p.n_open()), (7, 0));
    }

    #[test]
    fn an_endless_head_is_head_too_large() {
        let mut p = http(1);
        start(&mut p, REQUEST, 1);
        let head = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; CARRY_BYTES_MAX]].concat();
        assert_eq!(feed(&mut p, &[&head]), (vec![], Err(ProtocolError::HeadTooLarge)));
    }

    #[test]
    fn eof_ends_a_read_to_close_response_and_cuts_others() {
        let now = Instant::now();
        let mut statuses = Vec::new();
        let mut p = http(1);
        start(&mut p, REQUEST, 1);
        let head = b"HTTP/1.1 200 OK\r\n\r\nbody";
        let mut on = |e: Event<u32>| {
            if let Event::Response { status, .. } = e {
                statuses.push(status)
            }
        };
        assert_eq!(p.feed(head, Requests::NONE, now, &mut on), Ok(head.len()));
        assert_eq!(p.on_eof(&[], now, &mut on), Ok(()));
        assert_eq!((statuses.as_slice(), p.n_open()), (&[200][..], 0));
        let mut ignore = |_: Event<u32>| panic!("no response");
        let mut p = http(1);
        start(&mut p, REQUEST, 1);
        assert_eq!(p.on_eof(b"HTTP/1.1 2", now, &mut ignore), Err(ProtocolError::Truncated), "a carried partial head");
        let mut p: Pipeline<RawFramer, u32> =
            Pipeline::new(RawFramer::new(RawFraming::Until(Delimiter::new(b"\n"))), 1);
        start(&mut p, REQUEST, 1);
        assert_eq!(p.on_eof(&[], now, &mut ignore), Ok(()), "nothing of a response: the connection decides");
        assert_eq!(p.n_open(), 1);
    }

    #[test]
    fn requests_go_out_in_batches_from_the_callers_bytes() {
        let batch = REQUEST.repeat(3);
        let mut p = http(3);
        assert_eq!(p.can_start(), 3);
        start(&mut p, &batch, 2);
        assert_eq!(p.can_start(), 1, "the batch is not written yet: it may grow");
        let requests = Requests { bytes: &batch, next: 0 };
        assert_eq!(p.pending_out(requests), &batch[..2 * REQUEST.len()]);
        p.sent(5);
        assert_eq!(p.pending_out(requests), &batch[5..2 * REQUEST.len()]);
        assert_eq!(p.can_start(), 0, "written: the batch is sealed");
        p.sent(2 * REQUEST.len() - 5);
        assert!(p.pending_out(requests).is_empty());
        let mut tags = 0;
        p.for_each_open(|tag| tags += tag);
        assert_eq!(tags, 14, "one tag per open request");
        assert_eq!(feed(&mut p, &[&OK.repeat(2)]), (vec![200, 200], Ok(0)));
        assert_eq!(p.can_start(), 3, "answered: a new batch");
        start(&mut p, &batch, 3);
        assert_eq!(p.progress(), (0, 3 * REQUEST.len()));
    }
}

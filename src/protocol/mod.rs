//! Sans-IO framing of responses (the client's) and of requests (`clobber serve`'s): bytes in,
//! "need more / one message complete / error" out.
//!
//! A framer never does I/O and never allocates per call. The connection hands it the unconsumed
//! bytes of its input buffer; the framer consumes a prefix and says where it stands. A framer that
//! needs contiguous bytes (an HTTP head) consumes nothing until it has them, and the connection
//! keeps them for the next read. After `Complete` the framer is ready for the next response.

pub mod h2;
pub mod http;
pub mod memcache;
pub mod raw;
pub mod resp;
pub mod session;
pub mod targets;
pub mod template;

/// What one call to [`Framer::feed`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// The consumed bytes belong to a response that has not ended yet.
    NeedMore,
    /// A response ended at the end of the consumed bytes.
    Complete(Done),
    /// The bytes cannot be a valid response; the connection must be closed.
    Error(ProtocolError),
}

/// A finished response (or request). `status` is the HTTP status (100-999), the reply class
/// of a RESP or memcache reply (1-99, see [`reply`]), or 0 (raw framing, requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    pub status: u16,
    /// The server announced that it closes the connection after this response (for a
    /// request: the client asked for the close after the response).
    pub close: bool,
}

impl Done {
    pub const RAW: Done = Done { status: 0, close: false };
}

/// Why bytes were rejected. Small and `Copy`, so it travels as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// The connection closed in the middle of a response.
    Truncated,
    /// The server sent bytes when no request was outstanding.
    Unsolicited,
    /// A response head grew past the most a connection keeps (64 KiB).
    HeadTooLarge,
    /// The start line or a header was malformed, or (requests) the transfer coding unknown.
    BadHead,
    /// A chunk-size line was malformed.
    BadChunk,
    /// A Content-Length header was malformed or contradictory.
    BadLength,
    /// A RESP or memcache reply was malformed (an unknown type or word, a bad length, a line
    /// or a data block without its CR LF).
    BadReply,
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

impl ProtocolError {
    pub fn describe(self) -> &'static str {
        match self {
            ProtocolError::Truncated => "connection closed in the middle of a response",
            ProtocolError::Unsolicited => "bytes arrived when no request was outstanding",
            ProtocolError::HeadTooLarge => "response head longer than 64 KiB",
            ProtocolError::BadHead => "malformed response head",
            ProtocolError::BadChunk => "malformed chunk size",
            ProtocolError::BadLength => "malformed Content-Length",
            ProtocolError::BadReply => "malformed reply",
        }
    }
}

/// The kinds of reply the RESP and memcache framers tell apart, carried in `Done::status`
/// (below HTTP's 100) and tallied like statuses: an error reply is a response, counted by kind.
pub mod reply {
    pub const RESP_SIMPLE: u16 = 1;
    pub const RESP_ERROR: u16 = 2;
    pub const RESP_INTEGER: u16 = 3;
    pub const RESP_BULK: u16 = 4;
    pub const RESP_NULL: u16 = 5;
    pub const RESP_ARRAY: u16 = 6;
    pub const RESP_MAP: u16 = 7;
    pub const RESP_SET: u16 = 8;
    pub const RESP_DOUBLE: u16 = 9;
    pub const RESP_BOOLEAN: u16 = 10;
    pub const RESP_BIG_NUMBER: u16 = 11;
    pub const RESP_VERBATIM: u16 = 12;
    pub const RESP_PUSH: u16 = 13;
    /// A `get` hit: `VALUE` blocks up to `END` (or a meta get's `VA`).
    pub const MC_VALUE: u16 = 20;
    /// `END` alone: a `get` miss.
    pub const MC_END: u16 = 21;
    pub const MC_STORED: u16 = 22;
    pub const MC_NOT_STORED: u16 = 23;
    pub const MC_EXISTS: u16 = 24;
    pub const MC_NOT_FOUND: u16 = 25;
    pub const MC_DELETED: u16 = 26;
    pub const MC_TOUCHED: u16 = 27;
    /// The value an `incr` or `decr` left.
    pub const MC_NUMBER: u16 = 28;
    pub const MC_ERROR: u16 = 29;
    pub const MC_CLIENT_ERROR: u16 = 30;
    pub const MC_SERVER_ERROR: u16 = 31;
    pub const MC_OK: u16 = 32;
    pub const MC_STATS: u16 = 33;
    pub const MC_VERSION: u16 = 34;
    /// A meta command's one-line reply: `HD`, `NF`, `NS`, `EX`, `EN`, `MN`.
    pub const MC_META: u16 = 35;

    /// Every reply class with its name in the report (and the JSON's `replies` keys).
    pub const NAMES: &[(u16, &str)] = &[
        (RESP_SIMPLE, "resp_simple"),
        (RESP_ERROR, "resp_error"),
        (RESP_INTEGER, "resp_integer"),
        (RESP_BULK, "resp_bulk"),
        (RESP_NULL, "resp_null"),
        (RESP_ARRAY, "resp_array"),
        (RESP_MAP, "resp_map"),
        (RESP_SET, "resp_set"),
        (RESP_DOUBLE, "resp_double"),
        (RESP_BOOLEAN, "resp_boolean"),
        (RESP_BIG_NUMBER, "resp_big_number"),
        (RESP_VERBATIM, "resp_verbatim"),
        (RESP_PUSH, "resp_push"),
        (MC_VALUE, "mc_value"),
        (MC_END, "mc_end"),
        (MC_STORED, "mc_stored"),
        (MC_NOT_STORED, "mc_not_stored"),
        (MC_EXISTS, "mc_exists"),
        (MC_NOT_FOUND, "mc_not_found"),
        (MC_DELETED, "mc_deleted"),
        (MC_TOUCHED, "mc_touched"),
        (MC_NUMBER, "mc_number"),
        (MC_ERROR, "mc_error"),
        (MC_CLIENT_ERROR, "mc_client_error"),
        (MC_SERVER_ERROR, "mc_server_error"),
        (MC_OK, "mc_ok"),
        (MC_STATS, "mc_stats"),
        (MC_VERSION, "mc_version"),
        (MC_META, "mc_meta"),
    ];

    /// Classes that are error replies (the report says how many there were).
    pub const ERRORS: &[u16] = &[RESP_ERROR, MC_ERROR, MC_CLIENT_ERROR, MC_SERVER_ERROR];

    pub fn name(class: u16) -> Option<&'static str> {
        NAMES.iter().find(|(c, _)| *c == class).map(|(_, n)| *n)
    }

    pub fn class(name: &str) -> Option<u16> {
        NAMES.iter().find(|(_, n)| *n == name).map(|(c, _)| *c)
    }
}

/// Splits a byte stream into responses (or, `http::RequestFramer`, requests).
pub trait Framer {
    /// Consumes a prefix of `input` (possibly empty) and reports where the current response
    /// stands. When it returns `NeedMore` having consumed less than all of `input`, it needs more
    /// contiguous bytes before it can go on.
    fn feed(&mut self, input: &[u8]) -> (usize, Feed);

    /// The peer closed the connection: does that end the current response?
    /// Returns `Complete` or `Error(Truncated)`.
    fn on_eof(&mut self) -> Feed;

    /// Whether some byte of the current response has been consumed.
    fn in_response(&self) -> bool;

    /// Forgets any partial response (the connection was replaced).
    fn reset(&mut self);
}

/// Feeds `input` to `framer` until it is used up, collecting the outcomes; bytes the framer
/// leaves unconsumed are kept and fed again with the next piece. Test and fuzz helper: the
/// engine runs the same loop against its own buffer.
pub fn feed_all<F: Framer>(framer: &mut F, pending: &mut Vec<u8>, input: &[u8]) -> Vec<Feed> {
    pending.extend_from_slice(input);
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let (used, feed) = framer.feed(&pending[start..]);
        start += used;
        match feed {
            Feed::NeedMore => break,
            other => out.push(other),
        }
        if matches!(feed, Feed::Error(_)) || start == pending.len() {
            break;
        }
    }
    pending.drain(..start);
    out
}

/// Feeds `input` to a fresh framer whole, byte by byte, and split at every position; each must
/// give `expected` and leave a response under way or not, as `partial` says. The check every
/// framer's unit tests share.
#[cfg(test)]
pub fn check_splits<F: Framer>(new: fn() -> F, input: &[u8], expected: &[Feed], partial: bool) {
    let run = |pieces: &[&[u8]]| {
        let mut framer = new();
        let out = feed_pieces(&mut framer, pieces);
        (out, framer.in_response())
    };
    let want = (expected.to_vec(), partial);
    assert_eq!(run(&[input]), want, "whole input");
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(&bytes), want, "byte by byte");
    for cut in 0..=input.len() {
        let (a, b) = input.split_at(cut);
        assert_eq!(run(&[a, b]), want, "split at {cut}");
    }
}

/// Feeds the pieces in order, as a connection's reads would bring them; stops at the first
/// error.
#[cfg(test)]
pub fn feed_pieces<F: Framer>(framer: &mut F, pieces: &[&[u8]]) -> Vec<Feed> {
    let mut pending = Vec::new();
    let mut out = Vec::new();
    for piece in pieces {
        out.extend(feed_all(framer, &mut pending, piece));
        if matches!(out.last(), Some(Feed::Error(_))) {
            break;
        }
    }
    out
}

//! Sans-IO framing of responses (the client's) and of requests (`clobber serve`'s): bytes in,
//! "need more / one message complete / error" out.
//!
//! A framer never does I/O and never allocates per call. The connection hands it the unconsumed
//! bytes of its input buffer; the framer consumes a prefix and says where it stands. A framer that
//! needs contiguous bytes (an HTTP head) consumes nothing until it has them, and the connection
//! keeps them for the next read. After `Complete` the framer is ready for the next response.

pub mod h2;
pub mod http;
pub mod raw;

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

/// A finished response (or request). `status` is 0 for raw framing and for requests.
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
        }
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

//! HTTP/2's sans-IO pieces: frames (`frame`) and header compression (`hpack`, with the RFC 7541
//! Huffman code in `huffman`). Bytes in, values out: no I/O, no clock, no allocation per frame.
//! The client's session (`client::Session`, which is a `protocol::session::Session`: the
//! engine's connection drives it) and `clobber serve --mode h2` (server) use them.

pub mod client;
pub mod frame;
pub mod hpack;
mod huffman;

pub use frame::H2Error;
pub use hpack::{Decoder, HpackError};

use frame::{FrameHeader, HEADER_LEN};

/// HTTP/2 streams as the client's `protocol::session::Session`: a request is a stream.
impl<T: Copy> crate::protocol::session::Session for client::Session<T> {
    type Tag = T;
    type Request<'a> = client::Request<'a>;
    type Error = client::SessionError;

    #[inline]
    fn can_start(&self) -> u32 {
        if self.can_open() {
            self.limit() - self.n_open()
        } else {
            0
        }
    }

    #[inline]
    fn start(&mut self, request: client::Request, tag: T) {
        self.open(request, tag);
    }

    #[inline]
    fn pending_out<'a>(&'a self, _request: client::Request<'a>) -> &'a [u8] {
        client::Session::pending_out(self)
    }

    #[inline]
    fn sent(&mut self, n: usize) {
        client::Session::sent(self, n)
    }

    #[inline]
    fn feed(
        &mut self,
        input: &[u8],
        request: client::Request,
        now: std::time::Instant,
        on: &mut impl FnMut(client::Event<T>),
    ) -> Result<usize, client::SessionError> {
        client::Session::feed(self, input, request, now, on)
    }

    /// A partial frame cut by EOF is no response of any stream: the connection decides.
    fn on_eof(
        &mut self,
        _carried: &[u8],
        _now: std::time::Instant,
        _on: &mut impl FnMut(client::Event<T>),
    ) -> Result<(), client::SessionError> {
        Ok(())
    }

    #[inline]
    fn n_open(&self) -> u32 {
        client::Session::n_open(self)
    }

    #[inline]
    fn is_closing(&self) -> bool {
        client::Session::is_closing(self)
    }

    fn for_each_open(&self, f: impl FnMut(&T)) {
        client::Session::for_each_open(self, f)
    }

    fn drain(&mut self, f: impl FnMut(T)) {
        client::Session::drain(self, f)
    }
}

/// Reads a byte stream of frames arriving in `pieces`, as a connection does (whole frames split
/// off a pending buffer), and describes each: its header, its content or the error its payload
/// parser finds, and for each complete header block (HEADERS and CONTINUATIONs) the fields
/// one `Decoder` finds. Stops at the first error of `split`. Test and fuzz helper: the split
/// stream must read exactly as the whole one does, and nothing may panic.
pub fn replay(pieces: &[&[u8]], max_frame_size: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = Vec::new();
    let mut decoder = Decoder::new(4096);
    let mut block = Vec::new();
    for piece in pieces {
        pending.extend_from_slice(piece);
        loop {
            let (header, payload) = match frame::split(&pending, max_frame_size) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    out.push(format!("split: {e}"));
                    return out;
                }
            };
            out.push(describe(&header, payload, &mut decoder, &mut block));
            pending.drain(..HEADER_LEN + header.len as usize);
        }
    }
    out.push(format!("{} bytes left", pending.len()));
    out
}

fn describe(h: &FrameHeader, payload: &[u8], decoder: &mut Decoder, block: &mut Vec<u8>) -> String {
    use frame::{flag, kind};
    let what = match h.kind {
        kind::DATA => format!("{:?}", frame::content(h, payload).map(|c| c.len())),
        kind::HEADERS | kind::CONTINUATION => {
            let content = match frame::content(h, payload) {
                Ok(c) => c,
                Err(e) => return format!("{h:?} {e}"),
            };
            if h.kind == kind::HEADERS {
                block.clear();
            }
            block.extend_from_slice(content);
            if !h.has(flag::END_HEADERS) {
                return format!("{h:?} {} bytes of a block", content.len());
            }
            let mut fields = Vec::new();
            let r = decoder.decode(block, &mut |n, v| fields.push((n.to_vec(), v.to_vec())));
            format!("{r:?} {fields:?}")
        }
        kind::SETTINGS => {
            let mut settings = Vec::new();
            format!("{:?} {settings:?}", frame::parse_settings(payload, |id, v| settings.push((id, v))))
        }
        kind::PING => format!("{:?}", frame::parse_ping(payload)),
        kind::GOAWAY => format!("{:?}", frame::parse_goaway(payload)),
        kind::RST_STREAM => format!("{:?}", frame::parse_rst(payload)),
        kind::WINDOW_UPDATE => format!("{:?}", frame::parse_window_update(payload)),
        _ => format!("{} bytes", payload.len()),
    };
    format!("{h:?} {what}")
}

/// Drives a client `Session` with arbitrary server bytes, as a connection would, and checks
/// what must hold whatever the server sends: nothing panics; every failure is a
/// `SessionError` (after which the session has queued the GOAWAY that names it, and is not
/// fed again); no more than `capacity` streams are ever open; every stream opened ends exactly
/// once (answered, reset, refused by a GOAWAY, or still open at the end and drained).
///
/// `data`: the streams wanted (`data[0] % 8 + 1`), the request body's length (`data[1]`,
/// 0: none), two cut points, then the server's bytes (after the client's preface: its SETTINGS
/// first), fed in the three pieces the cuts make. Between pieces the caller's part is played:
/// what the session queued is "written", and new streams open while it allows. Returns a line
/// per event, error and piece. Test and fuzz helper (`fuzz/fuzz_targets/h2_session.rs`,
/// `tests/it/fuzz_corpus.rs`).
pub fn client_replay(data: &[u8]) -> Vec<String> {
    use client::{Event, Request, Session};
    let get = |i: usize| data.get(i).copied().unwrap_or(0);
    let capacity = u32::from(get(0) % 8) + 1;
    let body = vec![b'x'; usize::from(get(1))];
    let input = data.get(4..).unwrap_or_default();
    let mut cuts = [usize::from(get(2)) * input.len() / 255, usize::from(get(3)) * input.len() / 255];
    cuts.sort_unstable();
    let pieces = [&input[..cuts[0]], &input[cuts[0]..cuts[1]], &input[cuts[1]..]];
    let fields: [(&[u8], &[u8]); 4] =
        [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"localhost")];
    let mut block = Vec::new();
    hpack::encode(&fields, &mut block);
    let indexed = client::indexed_blocks(&fields);
    let request = Request {
        block: &block,
        body: &body,
        indexed: indexed.as_ref().map(|(first, repeat, bytes)| (first.as_slice(), repeat.as_slice(), *bytes)),
    };
    let now = std::time::Instant::now();
    let mut session: Session<u32> = Session::new(capacity);
    // Tags are the order of opening; `ended[tag]` counts how each ended.
    let mut ended: Vec<u32> = Vec::new();
    let mut out = Vec::new();
    let mut pending = Vec::new();
    let open = |session: &mut Session<u32>, ended: &mut Vec<u32>| {
        while session.can_open() {
            session.open(request, ended.len() as u32);
            ended.push(0);
            assert!(session.n_open() <= capacity, "{} streams open, at most {capacity}", session.n_open());
        }
    };
    for piece in pieces {
        open(&mut session, &mut ended);
        let written = session.pending_out().len();
        session.sent(written);
        pending.extend_from_slice(piece);
        let mut end = |tag: u32, what: String, out: &mut Vec<String>| {
            ended[tag as usize] += 1;
            out.push(what);
        };
        let result = session.feed(&pending, request, now, &mut |event| match event {
            Event::Response { tag, status, .. } => end(tag, format!("response {tag} {status}"), &mut out),
            Event::Reset { tag, code } => end(tag, format!("reset {tag} {code}"), &mut out),
            Event::Refused { tag } => end(tag, format!("refused {tag}"), &mut out),
            Event::GoAway { last_stream_id, code, .. } => out.push(format!("goaway {last_stream_id} {code}")),
            Event::Settings { max_concurrent_streams } => out.push(format!("settings {max_concurrent_streams:?}")),
        });
        match result {
            Ok(used) => {
                assert!(used <= pending.len(), "consumed {used} of {} bytes", pending.len());
                pending.drain(..used);
                out.push(format!("{used} bytes, {} left", pending.len()));
            }
            Err(e) => {
                assert!(!session.pending_out().is_empty(), "{e}: no GOAWAY queued");
                out.push(format!("error {e}"));
                break;
            }
        }
    }
    session.drain(|tag| ended[tag as usize] += 1);
    assert_eq!(session.n_open(), 0, "open streams after drain");
    if let Some(tag) = ended.iter().position(|&n| n != 1) {
        panic!("stream {tag} ended {} times: {out:?}", ended[tag]);
    }
    out
}

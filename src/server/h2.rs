//! `clobber serve --mode h2`: the server side of one HTTP/2 connection, sans-IO. The connection
//! hands it the bytes it has read; it consumes whole frames and appends the frames to send.
//!
//! Every stream gets the same response: HEADERS (`:status 200`, `content-length`,
//! `content-type`) and one DATA frame with END_STREAM, built once per connection with the
//! stream id patched in, so answering a request costs a copy of ~50 bytes. A request is
//! answered when it ends (END_STREAM on its HEADERS, its last DATA or its trailers), and
//! counted when its response's END_STREAM is written. Every header block is decoded, request
//! or trailers, so the HPACK dynamic table stays in step with the client's encoder.
//!
//! Invariants and limits: request bodies are read and dropped; the receive windows are opened
//! as far as HTTP/2 allows at the start (2^31 - 1) and topped up with a WINDOW_UPDATE once
//! half of one is used, so a client never waits on flow control. The response's DATA respects
//! the client's windows: a stream that cannot send yet waits in `blocked` for a WINDOW_UPDATE
//! or a SETTINGS change. At most `STREAMS_MAX` streams are open (waiting for their request's
//! end or for window); more are refused with RST_STREAM(REFUSED_STREAM) and not counted. A
//! header block is at most `HEADER_BLOCK_MAX` bytes. Any connection error writes GOAWAY with
//! its code, after which the session reads nothing more and the connection closes once its
//! output is written.

use std::collections::VecDeque;

use crate::protocol::h2::frame::{
    self, code, flag, kind, setting, FrameHeader, H2Error, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, HEADER_LEN,
    MAX_WINDOW, PREFACE,
};
use crate::protocol::h2::hpack::{self, Decoder};

/// SETTINGS_MAX_CONCURRENT_STREAMS we announce, and the most streams kept open.
pub(super) const STREAMS_MAX: usize = 1024;
/// The longest header block (HEADERS and its CONTINUATIONs) accepted.
const HEADER_BLOCK_MAX: usize = 64 * 1024;
/// Our SETTINGS_HEADER_TABLE_SIZE: the HPACK default.
const HEADER_TABLE_SIZE: usize = 4096;
/// Received bytes after which a window is topped up: half of it.
const WINDOW_REFILL: u32 = MAX_WINDOW / 2;
/// The most input a session may need at once: one whole frame of our maximum size.
pub(super) const FRAME_BYTES_MAX: usize = HEADER_LEN + DEFAULT_MAX_FRAME_SIZE as usize;

const BODY: &[u8] = b"hello\n";

/// A stream whose request has not ended: its body bytes since the last stream WINDOW_UPDATE.
#[derive(Debug, Clone, Copy)]
struct Open {
    id: u32,
    unacked: u32,
}

/// A stream whose response HEADERS went out but whose DATA waits for the client's window.
#[derive(Debug, Clone, Copy)]
struct Blocked {
    id: u32,
    window: i64,
}

#[derive(Debug)]
pub(super) struct Session {
    /// Bytes of the client preface still expected.
    preface_left: usize,
    decoder: Decoder,
    /// The header block being gathered: its stream, its HEADERS' END_STREAM, its bytes.
    continuation: Option<(u32, bool)>,
    block: Vec<u8>,
    /// The highest stream id the client opened.
    last_stream_id: u32,
    open: Vec<Open>,
    blocked: VecDeque<Blocked>,
    /// The client's windows for what we send: the connection's, and a new stream's.
    send_window: i64,
    stream_window: i64,
    /// Body bytes received since the last connection WINDOW_UPDATE.
    unacked: u32,
    /// HEADERS + DATA(END_STREAM) with stream id 0, and where to patch the id in.
    response: Vec<u8>,
    data_at: usize,
    /// GOAWAY sent or received: read nothing more, close once the output is written.
    done: bool,
}

impl Session {
    pub(super) fn new() -> Session {
        let mut block = Vec::new();
        let length = BODY.len().to_string();
        hpack::encode(
            &[(b":status", b"200"), (b"content-length", length.as_bytes()), (b"content-type", b"text/plain")],
            &mut block,
        );
        let mut response = Vec::new();
        frame::write_headers(&mut response, 0, false, &block, DEFAULT_MAX_FRAME_SIZE);
        let data_at = response.len();
        frame::write_data(&mut response, 0, BODY, true, DEFAULT_MAX_FRAME_SIZE);
        Session {
            preface_left: PREFACE.len(),
            decoder: Decoder::new(HEADER_TABLE_SIZE),
            continuation: None,
            block: Vec::new(),
            last_stream_id: 0,
            open: Vec::new(),
            blocked: VecDeque::new(),
            send_window: i64::from(DEFAULT_WINDOW),
            stream_window: i64::from(DEFAULT_WINDOW),
            unacked: 0,
            response,
            data_at,
            done: false,
        }
    }

    /// GOAWAY was sent or received: close once the output is written.
    pub(super) fn done(&self) -> bool {
        self.done
    }

    /// Consumes the client preface and whole frames at the front of `input`, appending what
    /// they call for to `out` and counting answered requests in `n_requests`. Returns the bytes
    /// consumed; a partial frame is left for the next call (it fits in `FRAME_BYTES_MAX`).
    pub(super) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>, n_requests: &mut u64) -> usize {
        if self.done {
            return input.len();
        }
        let mut used = 0;
        if self.preface_left > 0 {
            let expected = &PREFACE[PREFACE.len() - self.preface_left..];
            let n = expected.len().min(input.len());
            if input[..n] != expected[..n] {
                self.fail(out, H2Error::protocol("not the HTTP/2 client preface"));
                return input.len();
            }
            self.preface_left -= n;
            used = n;
            if self.preface_left > 0 {
                return used;
            }
            // The server preface: our SETTINGS, and the connection window opened all the way.
            frame::write_settings(
                out,
                &[(setting::MAX_CONCURRENT_STREAMS, STREAMS_MAX as u32), (setting::INITIAL_WINDOW_SIZE, MAX_WINDOW)],
            );
            frame::write_window_update(out, 0, MAX_WINDOW - DEFAULT_WINDOW);
        }
        loop {
            let (header, payload) = match frame::split(&input[used..], DEFAULT_MAX_FRAME_SIZE) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    self.fail(out, e);
                    return input.len();
                }
            };
            used += HEADER_LEN + payload.len();
            if let Err(e) = self.on_frame(&header, payload, out, n_requests) {
                self.fail(out, e);
                return input.len();
            }
            if self.done {
                return input.len();
            }
        }
        if self.unacked >= WINDOW_REFILL {
            frame::write_window_update(out, 0, self.unacked);
            self.unacked = 0;
        }
        used
    }

    fn fail(&mut self, out: &mut Vec<u8>, e: H2Error) {
        frame::write_goaway(out, self.last_stream_id, e.code);
        self.done = true;
    }

    /// One frame, in the order RFC 9113 §6 lists them.
    fn on_frame(
        &mut self,
        h: &FrameHeader,
        payload: &[u8],
        out: &mut Vec<u8>,
        n_requests: &mut u64,
    ) -> Result<(), H2Error> {
        if let Some((id, _)) = self.continuation {
            if h.kind != kind::CONTINUATION || h.stream_id != id {
                return Err(H2Error::protocol("a header block interrupted before END_HEADERS"));
            }
        }
        match h.kind {
            kind::DATA => self.on_data(h, payload, out, n_requests),
            kind::HEADERS => {
                if h.stream_id == 0 || h.stream_id % 2 == 0 {
                    return Err(H2Error::protocol("HEADERS on stream 0 or an even stream"));
                }
                let content = frame::content(h, payload)?;
                self.block.clear();
                self.gather(content)?;
                self.continuation = Some((h.stream_id, h.has(flag::END_STREAM)));
                if h.has(flag::END_HEADERS) {
                    self.end_block(out, n_requests)?;
                }
                Ok(())
            }
            kind::CONTINUATION => {
                if self.continuation.is_none() {
                    return Err(H2Error::protocol("CONTINUATION without HEADERS"));
                }
                self.gather(payload)?;
                if h.has(flag::END_HEADERS) {
                    self.end_block(out, n_requests)?;
                }
                Ok(())
            }
            kind::SETTINGS => {
                if h.stream_id != 0 {
                    return Err(H2Error::protocol("SETTINGS on a stream"));
                }
                if h.has(flag::ACK) {
                    return if payload.is_empty() {
                        Ok(())
                    } else {
                        Err(H2Error::frame_size("SETTINGS ACK with a payload"))
                    };
                }
                let mut window = None;
                frame::parse_settings(payload, |id, value| {
                    if id == setting::INITIAL_WINDOW_SIZE {
                        window = Some(i64::from(value));
                    }
                })?;
                if let Some(window) = window {
                    // RFC 9113 §6.9.2: the change applies to every stream's window.
                    let delta = window - self.stream_window;
                    self.stream_window = window;
                    self.blocked.iter_mut().for_each(|b| b.window += delta);
                }
                frame::write_settings_ack(out);
                self.unblock(out, n_requests);
                Ok(())
            }
            kind::PING => {
                if h.stream_id != 0 {
                    return Err(H2Error::protocol("PING on a stream"));
                }
                let data = frame::parse_ping(payload)?;
                if !h.has(flag::ACK) {
                    frame::write_ping(out, true, data);
                }
                Ok(())
            }
            kind::WINDOW_UPDATE => self.on_window_update(h, payload, out, n_requests),
            kind::RST_STREAM => {
                if h.stream_id == 0 {
                    return Err(H2Error::protocol("RST_STREAM on stream 0"));
                }
                frame::parse_rst(payload)?;
                self.forget(h.stream_id);
                Ok(())
            }
            kind::GOAWAY => {
                frame::parse_goaway(payload)?;
                // The client leaves: answer nothing more; what is written goes out first.
                self.done = true;
                Ok(())
            }
            kind::PUSH_PROMISE => Err(H2Error::protocol("PUSH_PROMISE from a client")),
            // PRIORITY and unknown types are ignored (RFC 9113 §5.3.2, §5.5).
            _ => Ok(()),
        }
    }

    fn gather(&mut self, content: &[u8]) -> Result<(), H2Error> {
        if self.block.len() + content.len() > HEADER_BLOCK_MAX {
            return Err(H2Error { code: code::ENHANCE_YOUR_CALM, what: "header block over 64 KiB" });
        }
        self.block.extend_from_slice(content);
        Ok(())
    }

    /// A whole header block: decode it (the table must follow the client's), then open,
    /// answer or refuse its stream.
    fn end_block(&mut self, out: &mut Vec<u8>, n_requests: &mut u64) -> Result<(), H2Error> {
        let (id, end_stream) = self.continuation.take().expect("a block has a stream");
        self.decoder.decode(&self.block, &mut |_, _| {})?;
        if id > self.last_stream_id {
            self.last_stream_id = id;
            if self.open.len() + self.blocked.len() >= STREAMS_MAX {
                frame::write_rst(out, id, code::REFUSED_STREAM);
            } else if end_stream {
                self.respond(id, out, n_requests);
            } else {
                self.open.push(Open { id, unacked: 0 });
            }
        } else if let Some(i) = self.open.iter().position(|o| o.id == id) {
            // Trailers: they must end the request.
            self.open.swap_remove(i);
            if end_stream {
                self.respond(id, out, n_requests);
            } else {
                frame::write_rst(out, id, code::PROTOCOL_ERROR);
            }
        } else {
            frame::write_rst(out, id, code::STREAM_CLOSED);
        }
        Ok(())
    }

    fn on_data(
        &mut self,
        h: &FrameHeader,
        payload: &[u8],
        out: &mut Vec<u8>,
        n_requests: &mut u64,
    ) -> Result<(), H2Error> {
        if h.stream_id == 0 {
            return Err(H2Error::protocol("DATA on stream 0"));
        }
        if h.stream_id > self.last_stream_id {
            return Err(H2Error::protocol("DATA on an idle stream"));
        }
        frame::content(h, payload)?;
        // Flow control counts the whole payload, padding included (RFC 9113 §6.1).
        self.unacked = self.unacked.saturating_add(h.len);
        let Some(i) = self.open.iter().position(|o| o.id == h.stream_id) else {
            // A stream we answered or reset: its bytes still count for the connection.
            return Ok(());
        };
        if h.has(flag::END_STREAM) {
            self.open.swap_remove(i);
            self.respond(h.stream_id, out, n_requests);
            return Ok(());
        }
        let open = &mut self.open[i];
        open.unacked = open.unacked.saturating_add(h.len);
        if open.unacked >= WINDOW_REFILL {
            frame::write_window_update(out, open.id, open.unacked);
            open.unacked = 0;
        }
        Ok(())
    }

    fn on_window_update(
        &mut self,
        h: &FrameHeader,
        payload: &[u8],
        out: &mut Vec<u8>,
        n_requests: &mut u64,
    ) -> Result<(), H2Error> {
        let increment = match frame::parse_window_update(payload) {
            Ok(n) => i64::from(n),
            Err(e) if h.stream_id == 0 || e.code != code::PROTOCOL_ERROR => return Err(e),
            // A zero increment on a stream is an error of that stream only (RFC 9113 §6.9).
            Err(_) => {
                self.forget(h.stream_id);
                frame::write_rst(out, h.stream_id, code::PROTOCOL_ERROR);
                return Ok(());
            }
        };
        if h.stream_id == 0 {
            self.send_window += increment;
            if self.send_window > i64::from(MAX_WINDOW) {
                return Err(H2Error { code: code::FLOW_CONTROL_ERROR, what: "connection window over 2^31-1" });
            }
        } else if let Some(b) = self.blocked.iter_mut().find(|b| b.id == h.stream_id) {
            b.window += increment;
        }
        self.unblock(out, n_requests);
        Ok(())
    }

    /// Drops a stream the client reset.
    fn forget(&mut self, id: u32) {
        self.open.retain(|o| o.id != id);
        self.blocked.retain(|b| b.id != id);
    }

    /// Answers stream `id`: HEADERS and DATA at once when the windows allow (always, with
    /// clients that keep the default windows or larger), else HEADERS now and DATA later.
    fn respond(&mut self, id: u32, out: &mut Vec<u8>, n_requests: &mut u64) {
        let body = BODY.len() as i64;
        let start = out.len();
        if self.blocked.is_empty() && self.send_window >= body && self.stream_window >= body {
            out.extend_from_slice(&self.response);
            patch_stream_id(&mut out[start..], id);
            patch_stream_id(&mut out[start + self.data_at..], id);
            self.send_window -= body;
            *n_requests += 1;
        } else {
            out.extend_from_slice(&self.response[..self.data_at]);
            patch_stream_id(&mut out[start..], id);
            self.blocked.push_back(Blocked { id, window: self.stream_window });
        }
    }

    /// Sends the DATA of blocked streams, oldest first, while the windows allow.
    fn unblock(&mut self, out: &mut Vec<u8>, n_requests: &mut u64) {
        let body = BODY.len() as i64;
        while let Some(b) = self.blocked.front() {
            if self.send_window < body || b.window < body {
                return;
            }
            let start = out.len();
            out.extend_from_slice(&self.response[self.data_at..]);
            patch_stream_id(&mut out[start..], b.id);
            self.send_window -= body;
            self.blocked.pop_front();
            *n_requests += 1;
        }
    }
}

/// Writes `id` into the frame header at the start of `frame`.
fn patch_stream_id(frame: &mut [u8], id: u32) {
    frame[5..HEADER_LEN].copy_from_slice(&id.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frames of `out`, as (kind, flags, stream id, payload).
    fn frames(mut out: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
        let mut v = Vec::new();
        while let Some((h, p)) = frame::split(out, frame::MAX_MAX_FRAME_SIZE).unwrap() {
            v.push((h.kind, h.flags, h.stream_id, p.to_vec()));
            out = &out[HEADER_LEN + p.len()..];
        }
        assert!(out.is_empty());
        v
    }

    fn kinds(out: &[u8]) -> Vec<(u8, u32)> {
        frames(out).into_iter().map(|(k, _, id, _)| (k, id)).collect()
    }

    /// A session past the preface and the client's SETTINGS, its output so far dropped.
    fn ready() -> Session {
        let mut s = Session::new();
        let mut input = PREFACE.to_vec();
        frame::write_settings(&mut input, &[]);
        let mut out = Vec::new();
        assert_eq!(s.feed(&input, &mut out, &mut 0), input.len());
        s
    }

    fn get(id: u32, end_stream: bool) -> Vec<u8> {
        let mut block = Vec::new();
        hpack::encode(
            &[(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"h")],
            &mut block,
        );
        let mut out = Vec::new();
        frame::write_headers(&mut out, id, end_stream, &block, DEFAULT_MAX_FRAME_SIZE);
        out
    }

    fn feed(s: &mut Session, input: &[u8]) -> (Vec<(u8, u32)>, u64) {
        let mut out = Vec::new();
        let mut n = 0;
        assert_eq!(s.feed(input, &mut out, &mut n), input.len());
        (kinds(&out), n)
    }

    #[test]
    fn preface_split_anywhere_then_settings_are_answered() {
        let mut input = PREFACE.to_vec();
        frame::write_settings(&mut input, &[(setting::INITIAL_WINDOW_SIZE, 1 << 20)]);
        for cut in 0..input.len() {
            let mut s = Session::new();
            let mut out = Vec::new();
            let used = s.feed(&input[..cut], &mut out, &mut 0);
            let rest = [&input[used..cut], &input[cut..]].concat();
            assert_eq!(used + s.feed(&rest, &mut out, &mut 0), input.len(), "cut {cut}");
            assert_eq!(
                kinds(&out),
                [(kind::SETTINGS, 0), (kind::WINDOW_UPDATE, 0), (kind::SETTINGS, 0)],
                "our SETTINGS, the window, the ACK"
            );
            assert_eq!(frames(&out)[2].1, flag::ACK);
        }
    }

    #[test]
    fn preface_wrong_gets_goaway() {
        let mut s = Session::new();
        let mut out = Vec::new();
        s.feed(b"GET / HTTP/1.1\r\n\r\n", &mut out, &mut 0);
        assert!(s.done());
        let f = frames(&out);
        assert_eq!((f[0].0, frame::parse_goaway(&f[0].3)), (kind::GOAWAY, Ok((0, code::PROTOCOL_ERROR))));
    }

    #[test]
    fn ready_headers_with_end_stream_are_answered_at_once() {
        let mut s = ready();
        let input = [get(1, true), get(3, true), get(5, true)].concat();
        let (out, n) = feed(&mut s, &input);
        assert_eq!(n, 3);
        assert_eq!(
            out,
            [
                (kind::HEADERS, 1),
                (kind::DATA, 1),
                (kind::HEADERS, 3),
                (kind::DATA, 3),
                (kind::HEADERS, 5),
                (kind::DATA, 5)
            ]
        );
        let mut out = Vec::new();
        s.feed(&get(7, true), &mut out, &mut 0);
        let f = frames(&out);
        let mut fields = Vec::new();
        Decoder::new(4096).decode(&f[0].3, &mut |n, v| fields.push((n.to_vec(), v.to_vec()))).unwrap();
        assert_eq!(fields[0], (b":status".to_vec(), b"200".to_vec()));
        assert_eq!((f[1].1, &f[1].3[..]), (flag::END_STREAM, BODY));
    }

    #[test]
    fn ready_partial_frame_is_left_for_the_next_read() {
        let mut s = ready();
        let input = get(1, true);
        let mut out = Vec::new();
        let mut n = 0;
        assert_eq!(s.feed(&input[..input.len() - 1], &mut out, &mut n), 0);
        assert_eq!((out.len(), n), (0, 0));
        assert_eq!(s.feed(&input, &mut out, &mut n), input.len());
        assert_eq!(n, 1);
    }

    #[test]
    fn ready_request_with_a_body_is_answered_at_its_end_and_the_body_counted_for_the_window() {
        let mut s = ready();
        let mut input = get(1, false);
        frame::write_data(&mut input, 1, &[0; 1000], false, DEFAULT_MAX_FRAME_SIZE);
        assert_eq!(feed(&mut s, &input), (vec![], 0));
        let mut input = Vec::new();
        frame::write_data(&mut input, 1, b"end", true, DEFAULT_MAX_FRAME_SIZE);
        assert_eq!(feed(&mut s, &input), (vec![(kind::HEADERS, 1), (kind::DATA, 1)], 1));
        assert_eq!(s.unacked, 1003);
        // DATA after the answer (a client still sending) only counts for the window.
        assert_eq!(feed(&mut s, &input), (vec![], 0));
    }

    #[test]
    fn ready_large_bodies_get_window_updates() {
        let mut s = ready();
        s.unacked = WINDOW_REFILL - 10;
        let mut input = get(1, false);
        frame::write_data(&mut input, 1, &[0; 100], false, DEFAULT_MAX_FRAME_SIZE);
        let (out, _) = feed(&mut s, &input);
        assert_eq!(out, [(kind::WINDOW_UPDATE, 0)]);
        s.open[0].unacked = WINDOW_REFILL - 1;
        let mut input = Vec::new();
        frame::write_data(&mut input, 1, &[0; 1], false, DEFAULT_MAX_FRAME_SIZE);
        assert_eq!(feed(&mut s, &input).0, [(kind::WINDOW_UPDATE, 1)]);
    }

    #[test]
    fn ready_headers_in_continuations_are_joined() {
        let mut s = ready();
        let mut block = Vec::new();
        let long = vec![b'v'; 40_000];
        hpack::encode(&[(b":method", b"GET"), (b":path", b"/"), (b"x-long", &long)], &mut block);
        let mut input = Vec::new();
        frame::write_headers(&mut input, 1, true, &block, DEFAULT_MAX_FRAME_SIZE);
        assert_eq!(feed(&mut s, &input), (vec![(kind::HEADERS, 1), (kind::DATA, 1)], 1));
    }

    #[test]
    fn ready_header_block_over_the_limit_gets_goaway() {
        let mut s = ready();
        let mut input = Vec::new();
        frame::write_headers(&mut input, 1, true, &vec![0x82; HEADER_BLOCK_MAX + 1], DEFAULT_MAX_FRAME_SIZE);
        assert_eq!(feed(&mut s, &input).0, [(kind::GOAWAY, 0)]);
        assert!(s.done());
    }

    #[test]
    fn ready_interrupted_header_block_is_a_protocol_error() {
        let mut s = ready();
        let mut input = Vec::new();
        frame::write_headers(&mut input, 1, true, &vec![0x82; 20_000], DEFAULT_MAX_FRAME_SIZE);
        let first_frame = HEADER_LEN + DEFAULT_MAX_FRAME_SIZE as usize;
        let mut bad = input[..first_frame].to_vec();
        frame::write_ping(&mut bad, false, [0; 8]);
        let mut out = Vec::new();
        s.feed(&bad, &mut out, &mut 0);
        let f = frames(&out);
        assert_eq!(frame::parse_goaway(&f[0].3), Ok((0, code::PROTOCOL_ERROR)), "stream 1 was never processed");
    }

    #[test]
    fn ready_bad_hpack_is_a_compression_error() {
        let mut s = ready();
        let mut input = Vec::new();
        frame::write_headers(&mut input, 1, true, &[0x80], DEFAULT_MAX_FRAME_SIZE);
        let mut out = Vec::new();
        s.feed(&input, &mut out, &mut 0);
        assert_eq!(frame::parse_goaway(&frames(&out)[0].3), Ok((0, code::COMPRESSION_ERROR)));
    }

    #[test]
    fn ready_ping_is_acked_with_its_data() {
        let mut s = ready();
        let mut input = Vec::new();
        frame::write_ping(&mut input, false, *b"12345678");
        frame::write_ping(&mut input, true, *b"ignored!");
        let mut out = Vec::new();
        s.feed(&input, &mut out, &mut 0);
        assert_eq!(frames(&out), [(kind::PING, flag::ACK, 0, b"12345678".to_vec())]);
    }

    #[test]
    fn ready_zero_stream_window_holds_data_until_window_update() {
        let mut s = ready();
        let mut input = Vec::new();
        frame::write_settings(&mut input, &[(setting::INITIAL_WINDOW_SIZE, 0)]);
        input.extend_from_slice(&get(1, true));
        input.extend_from_slice(&get(3, true));
        assert_eq!(feed(&mut s, &input), (vec![(kind::SETTINGS, 0), (kind::HEADERS, 1), (kind::HEADERS, 3)], 0));
        let mut input = Vec::new();
        frame::write_window_update(&mut input, 3, 100);
        // Stream 1 is first in line: stream 3 waits behind it.
        assert_eq!(feed(&mut s, &input), (vec![], 0));
        let mut input = Vec::new();
        frame::write_window_update(&mut input, 1, 6);
        assert_eq!(feed(&mut s, &input), (vec![(kind::DATA, 1), (kind::DATA, 3)], 2));
    }

    #[test]
    fn ready_settings_raising_the_window_releases_blocked_streams() {
        let mut s = ready();
        let mut input = Vec::new();
        frame::write_settings(&mut input, &[(setting::INITIAL_WINDOW_SIZE, 0)]);
        input.extend_from_slice(&get(1, true));
        feed(&mut s, &input);
        let mut input = Vec::new();
        frame::write_settings(&mut input, &[(setting::INITIAL_WINDOW_SIZE, 65_535)]);
        assert_eq!(feed(&mut s, &input), (vec![(kind::SETTINGS, 0), (kind::DATA, 1)], 1));
    }

    #[test]
    fn ready_connection_window_exhausted_holds_data() {
        let mut s = ready();
        s.send_window = 5;
        assert_eq!(feed(&mut s, &get(1, true)), (vec![(kind::HEADERS, 1)], 0));
        let mut input = Vec::new();
        frame::write_window_update(&mut input, 0, 1);
        assert_eq!(feed(&mut s, &input), (vec![(kind::DATA, 1)], 1));
        let mut input = Vec::new();
        frame::write_window_update(&mut input, 0, MAX_WINDOW - 1);
        assert_eq!(feed(&mut s, &input), (vec![], 0), "2^31-2: still a window");
        let mut input = Vec::new();
        frame::write_window_update(&mut input, 0, 2);
        let mut out = Vec::new();
        s.feed(&input, &mut out, &mut 0);
        assert_eq!(frame::parse_goaway(&frames(&out)[0].3), Ok((1, code::FLOW_CONTROL_ERROR)));
    }

    #[test]
    fn ready_reset_stream_is_forgotten() {
        let mut s = ready();
        feed(&mut s, &get(1, false));
        assert_eq!(s.open.len(), 1);
        let mut input = Vec::new();
        frame::write_rst(&mut input, 1, code::CANCEL);
        frame::write_data(&mut input, 1, b"late", true, DEFAULT_MAX_FRAME_SIZE);
        assert_eq!(feed(&mut s, &input), (vec![], 0));
        assert!(s.open.is_empty());
    }

    #[test]
    fn ready_too_many_open_streams_are_refused() {
        let mut s = ready();
        let input: Vec<u8> = (0..STREAMS_MAX as u32 + 1).flat_map(|i| get(2 * i + 1, false)).collect();
        let (out, n) = feed(&mut s, &input);
        assert_eq!((out, n), (vec![(kind::RST_STREAM, 2 * STREAMS_MAX as u32 + 1)], 0));
    }

    #[test]
    fn ready_bad_frames_get_goaway() {
        let cases: Vec<(Vec<u8>, u32)> = vec![
            (get(2, true), code::PROTOCOL_ERROR),
            (
                {
                    let mut v = Vec::new();
                    frame::write_data(&mut v, 9, b"x", true, 16_384);
                    v
                },
                code::PROTOCOL_ERROR,
            ),
            (
                {
                    let mut v = Vec::new();
                    frame::write_window_update(&mut v, 0, 1);
                    v[12] = 0;
                    v
                },
                code::PROTOCOL_ERROR,
            ),
            (vec![0, 0, 5, kind::SETTINGS, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], code::FRAME_SIZE_ERROR),
            (vec![0, 0x40, 1, kind::DATA, 0, 0, 0, 0, 1], code::FRAME_SIZE_ERROR),
            (vec![0, 0, 0, kind::CONTINUATION, 4, 0, 0, 0, 1], code::PROTOCOL_ERROR),
            (vec![0, 0, 4, kind::PUSH_PROMISE, 4, 0, 0, 0, 1, 0, 0, 0, 2], code::PROTOCOL_ERROR),
        ];
        for (input, want) in cases {
            let mut s = ready();
            let mut out = Vec::new();
            s.feed(&input, &mut out, &mut 0);
            let f = frames(&out);
            assert_eq!((f.len(), f[0].0), (1, kind::GOAWAY), "{input:02x?}");
            assert_eq!(frame::parse_goaway(&f[0].3).unwrap().1, want, "{input:02x?}");
            assert!(s.done());
            // After GOAWAY nothing more is read or answered.
            let mut more = Vec::new();
            assert_eq!(s.feed(&get(11, true), &mut more, &mut 0), get(11, true).len());
            assert!(more.is_empty());
        }
    }

    /// The `h2_frames` fuzz corpus and mutations of it, after the preface, in random pieces:
    /// the session never panics, never leaves a whole frame unread, writes only well-formed
    /// frames, and counts exactly the responses whose END_STREAM it wrote.
    #[test]
    fn any_input_never_panics_and_writes_whole_frames() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/h2_frames");
        let mut corpus: Vec<Vec<u8>> =
            std::fs::read_dir(&dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
        corpus.sort();
        let mut rng = 0x5eed_5e55_1011_u64;
        let mut next = move |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n.max(1) as u64) as usize
        };
        for round in 0..3000 {
            let base = &corpus[round % corpus.len()];
            let base = base.get(2..).unwrap_or_default();
            let mut input = base.strip_prefix(PREFACE).unwrap_or(base).to_vec();
            for _ in 0..next(4) {
                match next(3) {
                    0 if !input.is_empty() => {
                        let i = next(input.len());
                        input[i] = next(256) as u8;
                    }
                    1 if !input.is_empty() => {
                        input.remove(next(input.len()));
                    }
                    _ => input.insert(next(input.len() + 1), next(256) as u8),
                }
            }
            let input = [PREFACE, &input].concat();
            let mut s = Session::new();
            let (mut out, mut n, mut used) = (Vec::new(), 0, 0);
            let mut pending = Vec::new();
            let mut rest = &input[..];
            while !rest.is_empty() {
                let take = (1 + next(rest.len())).min(rest.len());
                pending.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                let consumed = s.feed(&pending, &mut out, &mut n);
                assert!(consumed <= pending.len());
                pending.drain(..consumed);
                used += consumed;
                assert!(pending.len() < FRAME_BYTES_MAX, "a whole frame was left unread");
            }
            assert!(used <= input.len());
            let written = frames(&out);
            assert_eq!(
                n as usize,
                written.iter().filter(|f| f.0 == kind::DATA && f.1 & flag::END_STREAM != 0).count(),
                "a request is counted when its response ends"
            );
        }
    }

    #[test]
    fn ready_client_goaway_ends_the_session_after_what_came_before() {
        let mut s = ready();
        let mut input = get(1, true);
        frame::write_goaway(&mut input, 0, code::NO_ERROR);
        input.extend_from_slice(&get(3, true));
        assert_eq!(feed(&mut s, &input), (vec![(kind::HEADERS, 1), (kind::DATA, 1)], 1));
        assert!(s.done());
    }
}

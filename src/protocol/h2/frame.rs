//! HTTP/2 frames (RFC 9113 §4 and §6): the 9-byte header, splitting a byte stream into whole
//! frames, the payloads of the control frames, and writers that append frames to a buffer.
//!
//! Nothing here does I/O or allocates, except the writers appending to the caller's `Vec`.
//! `split` hands back a borrowed payload, so a connection parses frames in place in its input
//! buffer. Every length is checked before it is used: a payload shorter than its fields, padding
//! longer than its frame, or a setting out of its range is an `H2Error` naming the RFC's error
//! code, never a panic or an out-of-bounds read.

use std::fmt;

/// The client connection preface (RFC 9113 §3.4), sent before the client's first SETTINGS.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Every frame starts with a header of this many bytes.
pub const HEADER_LEN: usize = 9;
/// SETTINGS_MAX_FRAME_SIZE until the peer's SETTINGS say otherwise.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// The largest SETTINGS_MAX_FRAME_SIZE a peer may announce: 2^24 - 1.
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// SETTINGS_INITIAL_WINDOW_SIZE until the peer's SETTINGS say otherwise; also the connection's
/// initial window.
pub const DEFAULT_WINDOW: u32 = 65_535;
/// The largest flow-control window: 2^31 - 1.
pub const MAX_WINDOW: u32 = (1 << 31) - 1;

/// Frame types (RFC 9113 §6).
pub mod kind {
    pub const DATA: u8 = 0;
    pub const HEADERS: u8 = 1;
    pub const PRIORITY: u8 = 2;
    pub const RST_STREAM: u8 = 3;
    pub const SETTINGS: u8 = 4;
    pub const PUSH_PROMISE: u8 = 5;
    pub const PING: u8 = 6;
    pub const GOAWAY: u8 = 7;
    pub const WINDOW_UPDATE: u8 = 8;
    pub const CONTINUATION: u8 = 9;
}

/// Frame flags; their meaning depends on the frame type.
pub mod flag {
    /// DATA, HEADERS: the last frame the sender sends on the stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: an acknowledgement.
    pub const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the header block ends with this frame.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: a pad length byte leads, padding trails.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: 5 bytes of priority fields follow the pad length.
    pub const PRIORITY: u8 = 0x20;
}

/// SETTINGS parameters (RFC 9113 §6.5.2).
pub mod setting {
    pub const HEADER_TABLE_SIZE: u16 = 1;
    pub const ENABLE_PUSH: u16 = 2;
    pub const MAX_CONCURRENT_STREAMS: u16 = 3;
    pub const INITIAL_WINDOW_SIZE: u16 = 4;
    pub const MAX_FRAME_SIZE: u16 = 5;
    pub const MAX_HEADER_LIST_SIZE: u16 = 6;
}

/// Error codes (RFC 9113 §7), carried by RST_STREAM and GOAWAY.
pub mod code {
    pub const NO_ERROR: u32 = 0x0;
    pub const PROTOCOL_ERROR: u32 = 0x1;
    pub const INTERNAL_ERROR: u32 = 0x2;
    pub const FLOW_CONTROL_ERROR: u32 = 0x3;
    pub const SETTINGS_TIMEOUT: u32 = 0x4;
    pub const STREAM_CLOSED: u32 = 0x5;
    pub const FRAME_SIZE_ERROR: u32 = 0x6;
    pub const REFUSED_STREAM: u32 = 0x7;
    pub const CANCEL: u32 = 0x8;
    pub const COMPRESSION_ERROR: u32 = 0x9;
    pub const CONNECT_ERROR: u32 = 0xa;
    pub const ENHANCE_YOUR_CALM: u32 = 0xb;
    pub const INADEQUATE_SECURITY: u32 = 0xc;
    pub const HTTP_1_1_REQUIRED: u32 = 0xd;

    /// The RFC's name of an error code, or "unknown" (a peer may send any 32-bit value).
    pub fn name(code: u32) -> &'static str {
        match code {
            NO_ERROR => "NO_ERROR",
            PROTOCOL_ERROR => "PROTOCOL_ERROR",
            INTERNAL_ERROR => "INTERNAL_ERROR",
            FLOW_CONTROL_ERROR => "FLOW_CONTROL_ERROR",
            SETTINGS_TIMEOUT => "SETTINGS_TIMEOUT",
            STREAM_CLOSED => "STREAM_CLOSED",
            FRAME_SIZE_ERROR => "FRAME_SIZE_ERROR",
            REFUSED_STREAM => "REFUSED_STREAM",
            CANCEL => "CANCEL",
            COMPRESSION_ERROR => "COMPRESSION_ERROR",
            CONNECT_ERROR => "CONNECT_ERROR",
            ENHANCE_YOUR_CALM => "ENHANCE_YOUR_CALM",
            INADEQUATE_SECURITY => "INADEQUATE_SECURITY",
            HTTP_1_1_REQUIRED => "HTTP_1_1_REQUIRED",
            _ => "unknown",
        }
    }
}

/// A connection error: the code to put in GOAWAY and what was wrong. Small and `Copy`, so it
/// travels as data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct H2Error {
    pub code: u32,
    pub what: &'static str,
}

impl H2Error {
    pub const fn protocol(what: &'static str) -> H2Error {
        H2Error { code: code::PROTOCOL_ERROR, what }
    }

    pub const fn frame_size(what: &'static str) -> H2Error {
        H2Error { code: code::FRAME_SIZE_ERROR, what }
    }
}

impl fmt::Display for H2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", code::name(self.code), self.what)
    }
}

impl std::error::Error for H2Error {}

/// The 9-byte frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub len: u32,
    pub kind: u8,
    pub flags: u8,
    /// 31 bits: the reserved bit is masked off on parse and written as 0.
    pub stream_id: u32,
}

impl FrameHeader {
    #[inline]
    pub fn parse(b: &[u8; HEADER_LEN]) -> FrameHeader {
        FrameHeader {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream_id: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & MAX_WINDOW,
        }
    }

    /// Appends the 9 bytes. `len` must fit in 24 bits.
    #[inline]
    pub fn write(&self, out: &mut Vec<u8>) {
        debug_assert!(self.len <= MAX_MAX_FRAME_SIZE, "frame length {} over 24 bits", self.len);
        let len = self.len.to_be_bytes();
        let id = (self.stream_id & MAX_WINDOW).to_be_bytes();
        out.extend_from_slice(&[len[1], len[2], len[3], self.kind, self.flags, id[0], id[1], id[2], id[3]]);
    }

    #[inline]
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// One whole frame at the front of `buf`, or `None` when more bytes are needed. The frame takes
/// `HEADER_LEN + header.len` bytes of `buf`.
/// Err when the announced length exceeds `max_frame_size` (FRAME_SIZE_ERROR): the caller need
/// not buffer more than `HEADER_LEN + max_frame_size` bytes.
#[inline]
pub fn split(buf: &[u8], max_frame_size: u32) -> Result<Option<(FrameHeader, &[u8])>, H2Error> {
    let Some(head) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let header = FrameHeader::parse(head);
    if header.len > max_frame_size {
        return Err(H2Error::frame_size("frame longer than SETTINGS_MAX_FRAME_SIZE"));
    }
    let end = HEADER_LEN + header.len as usize;
    Ok(buf.get(HEADER_LEN..end).map(|payload| (header, payload)))
}

/// The content of a DATA or HEADERS payload: without the pad length byte and the padding (flag
/// PADDED), and for HEADERS without the priority fields (flag PRIORITY). Other frame types'
/// payloads come back unchanged. Padding as long as the payload or longer is a PROTOCOL_ERROR
/// (RFC 9113 §6.1).
#[inline]
pub fn content<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<&'a [u8], H2Error> {
    if h.kind != kind::DATA && h.kind != kind::HEADERS {
        return Ok(payload);
    }
    let mut start = 0;
    let mut pad = 0;
    if h.has(flag::PADDED) {
        let Some(&n) = payload.first() else {
            return Err(H2Error::frame_size("PADDED frame without a pad length"));
        };
        start = 1;
        pad = n as usize;
    }
    if h.kind == kind::HEADERS && h.has(flag::PRIORITY) {
        start += 5;
    }
    if start > payload.len() {
        return Err(H2Error::frame_size("HEADERS shorter than its priority fields"));
    }
    if start + pad > payload.len() {
        return Err(H2Error::protocol("padding longer than the frame"));
    }
    Ok(&payload[start..payload.len() - pad])
}

/// Calls `f(id, value)` for each setting of a SETTINGS payload, in order, after checking the
/// whole payload: its length is a multiple of 6 (FRAME_SIZE_ERROR), ENABLE_PUSH is 0 or 1,
/// MAX_FRAME_SIZE within 2^14..2^24-1 (PROTOCOL_ERROR), INITIAL_WINDOW_SIZE at most 2^31-1
/// (FLOW_CONTROL_ERROR). Unknown settings are passed on (the caller ignores them).
pub fn parse_settings(payload: &[u8], mut f: impl FnMut(u16, u32)) -> Result<(), H2Error> {
    if payload.len() % 6 != 0 {
        return Err(H2Error::frame_size("SETTINGS length not a multiple of 6"));
    }
    let settings = || {
        payload
            .chunks_exact(6)
            .map(|s| (u16::from_be_bytes([s[0], s[1]]), u32::from_be_bytes([s[2], s[3], s[4], s[5]])))
    };
    for (id, value) in settings() {
        match id {
            setting::ENABLE_PUSH if value > 1 => return Err(H2Error::protocol("SETTINGS_ENABLE_PUSH not 0 or 1")),
            setting::INITIAL_WINDOW_SIZE if value > MAX_WINDOW => {
                return Err(H2Error {
                    code: code::FLOW_CONTROL_ERROR,
                    what: "SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1",
                })
            }
            setting::MAX_FRAME_SIZE if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) => {
                return Err(H2Error::protocol("SETTINGS_MAX_FRAME_SIZE outside 2^14..2^24-1"))
            }
            _ => {}
        }
    }
    settings().for_each(|(id, value)| f(id, value));
    Ok(())
}

/// A GOAWAY payload: (last stream id, error code). Debug data after them is ignored.
pub fn parse_goaway(payload: &[u8]) -> Result<(u32, u32), H2Error> {
    match payload.first_chunk::<8>() {
        Some(p) => Ok((
            u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & MAX_WINDOW,
            u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        )),
        None => Err(H2Error::frame_size("GOAWAY shorter than 8 bytes")),
    }
}

/// A RST_STREAM payload: its error code.
pub fn parse_rst(payload: &[u8]) -> Result<u32, H2Error> {
    match <[u8; 4]>::try_from(payload) {
        Ok(p) => Ok(u32::from_be_bytes(p)),
        Err(_) => Err(H2Error::frame_size("RST_STREAM length not 4")),
    }
}

/// A WINDOW_UPDATE payload: its increment, 1..=2^31-1. A zero increment is a PROTOCOL_ERROR
/// (RFC 9113 §6.9; on a stream it is a stream error, the caller may treat it as such).
pub fn parse_window_update(payload: &[u8]) -> Result<u32, H2Error> {
    match <[u8; 4]>::try_from(payload) {
        Ok(p) => match u32::from_be_bytes(p) & MAX_WINDOW {
            0 => Err(H2Error::protocol("WINDOW_UPDATE with a zero increment")),
            n => Ok(n),
        },
        Err(_) => Err(H2Error::frame_size("WINDOW_UPDATE length not 4")),
    }
}

/// A PING payload: its 8 opaque bytes.
pub fn parse_ping(payload: &[u8]) -> Result<[u8; 8], H2Error> {
    <[u8; 8]>::try_from(payload).map_err(|_| H2Error::frame_size("PING length not 8"))
}

#[inline]
fn header(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream_id: u32) {
    FrameHeader { len: len as u32, kind, flags, stream_id }.write(out);
}

pub fn write_settings(out: &mut Vec<u8>, settings: &[(u16, u32)]) {
    header(out, settings.len() * 6, kind::SETTINGS, 0, 0);
    for &(id, value) in settings {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

pub fn write_settings_ack(out: &mut Vec<u8>) {
    header(out, 0, kind::SETTINGS, flag::ACK, 0);
}

/// `increment` must be 1..=2^31-1.
pub fn write_window_update(out: &mut Vec<u8>, stream_id: u32, increment: u32) {
    debug_assert!((1..=MAX_WINDOW).contains(&increment), "WINDOW_UPDATE increment {increment}");
    header(out, 4, kind::WINDOW_UPDATE, 0, stream_id);
    out.extend_from_slice(&(increment & MAX_WINDOW).to_be_bytes());
}

pub fn write_ping(out: &mut Vec<u8>, ack: bool, data: [u8; 8]) {
    header(out, 8, kind::PING, if ack { flag::ACK } else { 0 }, 0);
    out.extend_from_slice(&data);
}

pub fn write_rst(out: &mut Vec<u8>, stream_id: u32, code: u32) {
    header(out, 4, kind::RST_STREAM, 0, stream_id);
    out.extend_from_slice(&code.to_be_bytes());
}

pub fn write_goaway(out: &mut Vec<u8>, last_stream_id: u32, code: u32) {
    header(out, 8, kind::GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream_id & MAX_WINDOW).to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
}

/// HEADERS, then CONTINUATION frames when `block` exceeds `max_frame_size`; END_HEADERS on the
/// last of them, END_STREAM (when asked) on the HEADERS frame, as RFC 9113 §6.2 puts it.
pub fn write_headers(out: &mut Vec<u8>, stream_id: u32, end_stream: bool, block: &[u8], max_frame_size: u32) {
    let max = max_frame_size.clamp(1, MAX_MAX_FRAME_SIZE) as usize;
    let end_stream = if end_stream { flag::END_STREAM } else { 0 };
    let mut chunks = block.chunks(max);
    let first = chunks.next().unwrap_or(&[]);
    let mut rest = chunks.peekable();
    let end_headers = if rest.peek().is_none() { flag::END_HEADERS } else { 0 };
    header(out, first.len(), kind::HEADERS, end_stream | end_headers, stream_id);
    out.extend_from_slice(first);
    while let Some(chunk) = rest.next() {
        let end_headers = if rest.peek().is_none() { flag::END_HEADERS } else { 0 };
        header(out, chunk.len(), kind::CONTINUATION, end_headers, stream_id);
        out.extend_from_slice(chunk);
    }
}

/// DATA frames of at most `max_frame_size` bytes each; END_STREAM on the last when
/// `end_stream`. Empty `data` writes one empty frame if `end_stream`, else nothing.
pub fn write_data(out: &mut Vec<u8>, stream_id: u32, data: &[u8], end_stream: bool, max_frame_size: u32) {
    let max = max_frame_size.clamp(1, MAX_MAX_FRAME_SIZE) as usize;
    if data.is_empty() {
        if end_stream {
            header(out, 0, kind::DATA, flag::END_STREAM, stream_id);
        }
        return;
    }
    let mut chunks = data.chunks(max).peekable();
    while let Some(chunk) = chunks.next() {
        let flags = if end_stream && chunks.peek().is_none() { flag::END_STREAM } else { 0 };
        header(out, chunk.len(), kind::DATA, flags, stream_id);
        out.extend_from_slice(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All frames of `buf`, split one at a time as a connection would.
    fn frames(mut buf: &[u8], max: u32) -> Vec<(FrameHeader, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some((h, payload)) = split(buf, max).unwrap() {
            out.push((h, payload.to_vec()));
            buf = &buf[HEADER_LEN + h.len as usize..];
        }
        assert!(buf.is_empty(), "{} bytes left over", buf.len());
        out
    }

    #[test]
    fn header_round_trips_and_masks_the_reserved_bit() {
        let h = FrameHeader { len: 0x01_02_03, kind: kind::HEADERS, flags: 0x25, stream_id: 0x7fff_fffe };
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out, [1, 2, 3, 1, 0x25, 0x7f, 0xff, 0xff, 0xfe]);
        assert_eq!(FrameHeader::parse(out[..].try_into().unwrap()), h);
        out[5] |= 0x80;
        assert_eq!(FrameHeader::parse(out[..].try_into().unwrap()).stream_id, 0x7fff_fffe);
    }

    #[test]
    fn split_needs_the_whole_frame() {
        let mut buf = Vec::new();
        write_ping(&mut buf, false, *b"12345678");
        for end in 0..buf.len() {
            assert_eq!(split(&buf[..end], DEFAULT_MAX_FRAME_SIZE), Ok(None), "{end} bytes");
        }
        buf.extend_from_slice(b"next");
        let (h, payload) = split(&buf, DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
        assert_eq!((h.kind, h.len, payload), (kind::PING, 8, &b"12345678"[..]));
    }

    #[test]
    fn split_refuses_a_frame_over_the_limit_from_its_header_alone() {
        let h = FrameHeader { len: 16_385, kind: kind::DATA, flags: 0, stream_id: 1 };
        let mut buf = Vec::new();
        h.write(&mut buf);
        assert_eq!(split(&buf, DEFAULT_MAX_FRAME_SIZE).unwrap_err().code, code::FRAME_SIZE_ERROR);
        assert_eq!(split(&buf, 16_385), Ok(None));
    }

    #[test]
    fn content_strips_padding_and_priority() {
        let payload = [3, 0, 0, 0, 1, 9, b'a', b'b', 0, 0, 0];
        let h = FrameHeader { len: 11, kind: kind::HEADERS, flags: flag::PADDED | flag::PRIORITY, stream_id: 1 };
        assert_eq!(content(&h, &payload), Ok(&b"ab"[..]));
        let h = FrameHeader { len: 5, kind: kind::DATA, flags: flag::PADDED, stream_id: 1 };
        assert_eq!(content(&h, &[2, b'x', b'y', 0, 0]), Ok(&b"xy"[..]));
        assert_eq!(content(&h, &[4, b'x', b'y', 0, 0]), Ok(&b""[..]));
        let h = FrameHeader { len: 2, kind: kind::DATA, flags: 0, stream_id: 1 };
        assert_eq!(content(&h, b"xy"), Ok(&b"xy"[..]));
        let h = FrameHeader { len: 2, kind: kind::CONTINUATION, flags: flag::PADDED, stream_id: 1 };
        assert_eq!(content(&h, b"xy"), Ok(&b"xy"[..]));
    }

    #[test]
    fn content_rejects_padding_past_the_end() {
        let data = FrameHeader { len: 0, kind: kind::DATA, flags: flag::PADDED, stream_id: 1 };
        assert_eq!(content(&data, &[]).unwrap_err().code, code::FRAME_SIZE_ERROR);
        assert_eq!(content(&data, &[5, 0, 0, 0, 0]).unwrap_err().code, code::PROTOCOL_ERROR);
        assert_eq!(content(&data, &[255]).unwrap_err().code, code::PROTOCOL_ERROR);
        let headers = FrameHeader { len: 0, kind: kind::HEADERS, flags: flag::PRIORITY | flag::PADDED, stream_id: 1 };
        assert_eq!(content(&headers, &[0, 1, 2]).unwrap_err().code, code::FRAME_SIZE_ERROR);
        assert_eq!(content(&headers, &[1, 1, 2, 3, 4, 5]).unwrap_err().code, code::PROTOCOL_ERROR);
        assert_eq!(content(&headers, &[1, 1, 2, 3, 4, 5, 0]), Ok(&b""[..]));
    }

    #[test]
    fn settings_round_trip() {
        let mut out = Vec::new();
        let sent = [(setting::MAX_CONCURRENT_STREAMS, 100), (setting::INITIAL_WINDOW_SIZE, MAX_WINDOW), (0x99, 7)];
        write_settings(&mut out, &sent);
        let f = frames(&out, DEFAULT_MAX_FRAME_SIZE);
        assert_eq!((f[0].0.kind, f[0].0.flags, f[0].0.stream_id), (kind::SETTINGS, 0, 0));
        let mut got = Vec::new();
        parse_settings(&f[0].1, |id, v| got.push((id, v))).unwrap();
        assert_eq!(got, sent);
        let mut ack = Vec::new();
        write_settings_ack(&mut ack);
        assert_eq!(ack, [0, 0, 0, 4, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn settings_out_of_range_are_refused_before_any_is_applied() {
        let check = |id: u16, value: u32| {
            let mut p = vec![0, 3, 0, 0, 0, 1];
            p.extend_from_slice(&id.to_be_bytes());
            p.extend_from_slice(&value.to_be_bytes());
            let mut seen = 0;
            let r = parse_settings(&p, |_, _| seen += 1).map_err(|e| e.code);
            (r, seen)
        };
        assert_eq!(check(setting::ENABLE_PUSH, 2), (Err(code::PROTOCOL_ERROR), 0));
        assert_eq!(check(setting::ENABLE_PUSH, 1), (Ok(()), 2));
        assert_eq!(check(setting::INITIAL_WINDOW_SIZE, MAX_WINDOW + 1), (Err(code::FLOW_CONTROL_ERROR), 0));
        assert_eq!(check(setting::MAX_FRAME_SIZE, 16_383), (Err(code::PROTOCOL_ERROR), 0));
        assert_eq!(check(setting::MAX_FRAME_SIZE, 16_384), (Ok(()), 2));
        assert_eq!(check(setting::MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE), (Ok(()), 2));
        assert_eq!(check(setting::MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE + 1), (Err(code::PROTOCOL_ERROR), 0));
        assert_eq!(parse_settings(&[0; 7], |_, _| {}).unwrap_err().code, code::FRAME_SIZE_ERROR);
        assert_eq!(parse_settings(&[], |_, _| panic!("no settings")), Ok(()));
    }

    #[test]
    fn control_frames_round_trip() {
        let mut out = Vec::new();
        write_window_update(&mut out, 3, MAX_WINDOW);
        write_ping(&mut out, true, *b"pingpong");
        write_rst(&mut out, 5, code::CANCEL);
        write_goaway(&mut out, 7, code::ENHANCE_YOUR_CALM);
        let f = frames(&out, DEFAULT_MAX_FRAME_SIZE);
        assert_eq!((f[0].0.kind, f[0].0.stream_id), (kind::WINDOW_UPDATE, 3));
        assert_eq!(parse_window_update(&f[0].1), Ok(MAX_WINDOW));
        assert_eq!((f[1].0.kind, f[1].0.flags), (kind::PING, flag::ACK));
        assert_eq!(parse_ping(&f[1].1), Ok(*b"pingpong"));
        assert_eq!((f[2].0.kind, f[2].0.stream_id), (kind::RST_STREAM, 5));
        assert_eq!(parse_rst(&f[2].1), Ok(code::CANCEL));
        assert_eq!((f[3].0.kind, f[3].0.stream_id), (kind::GOAWAY, 0));
        assert_eq!(parse_goaway(&f[3].1), Ok((7, code::ENHANCE_YOUR_CALM)));
    }

    #[test]
    fn control_frames_of_the_wrong_length_are_frame_size_errors() {
        for len in [0, 3, 5] {
            let p = vec![0; len];
            assert_eq!(parse_rst(&p).unwrap_err().code, code::FRAME_SIZE_ERROR);
            assert_eq!(parse_window_update(&p).unwrap_err().code, code::FRAME_SIZE_ERROR);
            assert_eq!(parse_ping(&p).unwrap_err().code, code::FRAME_SIZE_ERROR);
        }
        assert_eq!(parse_goaway(&[0; 7]).unwrap_err().code, code::FRAME_SIZE_ERROR);
        assert_eq!(parse_goaway(&[0x80, 0, 0, 1, 0, 0, 0, 2, b'd', b'b', b'g']), Ok((1, 2)));
        assert_eq!(parse_window_update(&[0x80, 0, 0, 0]).unwrap_err().code, code::PROTOCOL_ERROR);
        assert_eq!(parse_window_update(&[0x80, 0, 0, 1]), Ok(1));
    }

    #[test]
    fn headers_split_into_continuations() {
        let block: Vec<u8> = (0..=255).cycle().take(40_000).collect();
        let mut out = Vec::new();
        write_headers(&mut out, 9, true, &block, DEFAULT_MAX_FRAME_SIZE);
        let f = frames(&out, DEFAULT_MAX_FRAME_SIZE);
        let kinds: Vec<(u8, u8, u32)> = f.iter().map(|(h, _)| (h.kind, h.flags, h.len)).collect();
        assert_eq!(
            kinds,
            [
                (kind::HEADERS, flag::END_STREAM, 16_384),
                (kind::CONTINUATION, 0, 16_384),
                (kind::CONTINUATION, flag::END_HEADERS, 40_000 - 2 * 16_384)
            ]
        );
        assert!(f.iter().all(|(h, _)| h.stream_id == 9));
        assert_eq!(f.iter().flat_map(|(_, p)| p.clone()).collect::<Vec<u8>>(), block);
    }

    #[test]
    fn headers_that_fit_are_one_frame_and_exact_multiples_make_no_empty_continuation() {
        let mut out = Vec::new();
        write_headers(&mut out, 1, false, b"\x82\x86", DEFAULT_MAX_FRAME_SIZE);
        assert_eq!(out, [0, 0, 2, kind::HEADERS, flag::END_HEADERS, 0, 0, 0, 1, 0x82, 0x86]);
        out.clear();
        write_headers(&mut out, 1, false, &[0; 32_768], DEFAULT_MAX_FRAME_SIZE);
        let f = frames(&out, DEFAULT_MAX_FRAME_SIZE);
        assert_eq!(f.len(), 2);
        assert_eq!((f[1].0.kind, f[1].0.flags, f[1].0.len), (kind::CONTINUATION, flag::END_HEADERS, 16_384));
        out.clear();
        write_headers(&mut out, 1, true, &[], DEFAULT_MAX_FRAME_SIZE);
        assert_eq!(out, [0, 0, 0, kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, 0, 0, 0, 1]);
    }

    #[test]
    fn data_splits_at_the_frame_size_with_end_stream_on_the_last() {
        let data = vec![7u8; 20_000];
        let mut out = Vec::new();
        write_data(&mut out, 3, &data, true, DEFAULT_MAX_FRAME_SIZE);
        let f = frames(&out, DEFAULT_MAX_FRAME_SIZE);
        let kinds: Vec<(u8, u8, u32)> = f.iter().map(|(h, _)| (h.kind, h.flags, h.len)).collect();
        assert_eq!(kinds, [(kind::DATA, 0, 16_384), (kind::DATA, flag::END_STREAM, 20_000 - 16_384)]);
        out.clear();
        write_data(&mut out, 3, &[], true, DEFAULT_MAX_FRAME_SIZE);
        assert_eq!(out, [0, 0, 0, kind::DATA, flag::END_STREAM, 0, 0, 0, 3]);
        out.clear();
        write_data(&mut out, 3, &[], false, DEFAULT_MAX_FRAME_SIZE);
        assert!(out.is_empty());
        write_data(&mut out, 3, b"abc", false, DEFAULT_MAX_FRAME_SIZE);
        assert_eq!(out, [0, 0, 3, kind::DATA, 0, 0, 0, 0, 3, b'a', b'b', b'c']);
    }

    #[test]
    fn error_display_names_the_code() {
        assert_eq!(H2Error::protocol("bad").to_string(), "PROTOCOL_ERROR: bad");
        assert_eq!(code::name(0xd), "HTTP_1_1_REQUIRED");
        assert_eq!(code::name(0xff), "unknown");
    }
}

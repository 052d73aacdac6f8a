//! HTTP/1.1: the request a run sends (built once, from a URL and flags), the framing of the
//! responses that come back (`HttpFramer`, the client's) and of the requests that arrive
//! (`RequestFramer`, `clobber serve`'s). Sans-IO: bytes in, `Feed` out.
//!
//! Both framers read headers by the same rules (`MessageHeaders::of`): `Connection` is a
//! comma-separated list of tokens, `close` wins over `keep-alive`, HTTP/1.0 closes unless it
//! says `keep-alive`; a malformed or contradictory `Content-Length` is an error, never 0; the
//! final `Transfer-Encoding` coding decides whether a body is chunked. Both remember the last
//! head they parsed in a `HeadMemo` (at most `MEMO_BYTES`) and walk bodies with the same
//! `step_body`.
//!
//! Response framing follows RFC 9112 section 6.3: no body after a HEAD request or for 1xx, 204
//! and 304; otherwise `Transfer-Encoding: chunked` (extensions and trailers skipped), else
//! `Content-Length`, else the body runs to the close. Interim 1xx responses are skipped.
//! Request framing follows the same section for requests: chunked, else `Content-Length`,
//! else no body; a request with a coding other than chunked, or with both chunked and a
//! length, is refused (a server that guessed would read the next request out of step).
//!
//! A head is parsed with httparse once it is whole (the connection keeps a partial head for
//! the next read); bodies are counted and discarded as they stream, never buffered.

use std::mem::MaybeUninit;

use super::{Done, Feed, Framer, ProtocolError};

/// Most headers a head may carry; more is a protocol error.
pub const MAX_HEADERS: usize = 100;

/// Where a message's body stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Waiting for (the rest of) a head.
    Head,
    /// This many body bytes still to come.
    Length(u64),
    Chunked(Chunk),
    /// The body ends when the peer closes (responses only).
    UntilClose,
}

/// The chunked-body decoder's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// In the hex size; `digits` seen so far.
    Size { size: u64, digits: u8 },
    /// After the size, in a `;extension` (or whitespace) up to the line end.
    Extension { size: u64 },
    /// Saw CR after the size line; expects LF.
    SizeLf { size: u64 },
    /// This many data bytes of the chunk still to come.
    Data(u64),
    /// After the data: expects CR (or a bare LF).
    DataCr,
    /// Expects the LF that ends the data.
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer field line.
    TrailerLine,
    /// Saw CR at the start of a line after the last chunk: expects the final LF.
    FinalLf,
}

const CHUNKED_START: Body = Body::Chunked(Chunk::Size { size: 0, digits: 0 });

/// Longest head a framer remembers (longer heads are parsed every time).
pub const MEMO_BYTES: usize = 512;

/// The last head a framer parsed, byte for byte, and what it meant. A peer under load sends
/// the same head again and again; when the input starts with exactly these bytes (which end
/// with the head's empty line), the parse is the same, and a compare of ~100 bytes replaces
/// the header parse. Holds at most `MEMO_BYTES`, allocated once (the capacity is kept).
#[derive(Debug, Clone)]
struct HeadMemo<M> {
    head: Vec<u8>,
    meaning: M,
    /// The longest head remembered: `MEMO_BYTES`, or 0 for a framer that parses every head.
    max: usize,
}

impl<M: Copy> HeadMemo<M> {
    fn new(meaning: M) -> HeadMemo<M> {
        HeadMemo { head: Vec::new(), meaning, max: MEMO_BYTES }
    }

    /// The remembered head's length and meaning, if `input` starts with it.
    #[inline]
    fn recall(&self, input: &[u8]) -> Option<(usize, M)> {
        let len = self.head.len();
        (len > 0 && input.len() >= len && input[..len] == self.head[..]).then_some((len, self.meaning))
    }

    /// Remembers `head` (a whole head, empty line included) and its meaning; a head longer
    /// than `max` empties the memo instead.
    fn remember(&mut self, head: &[u8], meaning: M) {
        self.head.clear();
        if head.len() <= self.max {
            self.head.extend_from_slice(head);
            self.meaning = meaning;
        }
    }
}

/// A message's final transfer coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    /// No `Transfer-Encoding`.
    Identity,
    Chunked,
    /// A coding list that does not end with chunked: for a response, the body runs to the
    /// close; a request cannot be framed.
    Other,
}

/// What a head's headers say about the connection and the body: the one set of header rules
/// for requests and responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MessageHeaders {
    /// The peer closes (or wants closed) the connection after this message.
    close: bool,
    length: Option<u64>,
    coding: Coding,
}

impl MessageHeaders {
    /// Reads `headers` of a message whose version is HTTP/1.`minor`. A malformed
    /// `Content-Length`, or two that disagree, is `BadLength`.
    fn of(minor: Option<u8>, headers: &[httparse::Header]) -> Result<MessageHeaders, ProtocolError> {
        let mut length: Option<u64> = None;
        let mut coding = Coding::Identity;
        let (mut close_token, mut keep_alive_token) = (false, false);
        for h in headers {
            if h.name.eq_ignore_ascii_case("content-length") {
                let v = parse_length(h.value).ok_or(ProtocolError::BadLength)?;
                if length.is_some_and(|l| l != v) {
                    return Err(ProtocolError::BadLength);
                }
                length = Some(v);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                // Chunked counts only as the last coding (RFC 9112 6.3); header lines add up
                // to one list, so the last line's last token is the final coding.
                coding =
                    if last_token(h.value).eq_ignore_ascii_case(b"chunked") { Coding::Chunked } else { Coding::Other };
            } else if h.name.eq_ignore_ascii_case("connection") {
                for token in h.value.split(|&b| b == b',').map(trim) {
                    close_token |= token.eq_ignore_ascii_case(b"close");
                    keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
        }
        let close = close_token || (minor == Some(0) && !keep_alive_token);
        Ok(MessageHeaders { close, length, coding })
    }
}

/// Walks `input` through a body that stands at `body` (not `Head`). Returns the bytes used
/// and the body's next position, `None` when it ended exactly there.
#[inline]
fn step_body(body: Body, input: &[u8]) -> (usize, Result<Option<Body>, ProtocolError>) {
    match body {
        Body::Head => unreachable!("step_body is called past a head"),
        Body::Length(left) => {
            let take = left.min(input.len() as u64);
            let next = if take == left { None } else { Some(Body::Length(left - take)) };
            (take as usize, Ok(next))
        }
        Body::Chunked(state) => {
            let (used, next) = decode_chunked(state, input);
            (used, next.map(|state| state.map(Body::Chunked)))
        }
        Body::UntilClose => (input.len(), Ok(Some(Body::UntilClose))),
    }
}

/// The per-connection state of HTTP response framing.
#[derive(Debug, Clone)]
pub struct HttpFramer {
    /// The requests are HEAD: responses carry no body whatever their headers say.
    head_request: bool,
    body: Body,
    status: u16,
    close: bool,
    memo: HeadMemo<(u16, bool, Body)>,
}

impl HttpFramer {
    pub fn new(head_request: bool) -> HttpFramer {
        HttpFramer {
            head_request,
            body: Body::Head,
            status: 0,
            close: false,
            memo: HeadMemo::new((0, false, Body::Head)),
        }
    }

    /// Like `parse_head`, but answers from the memo when the input starts with the last head.
    #[inline]
    fn head(&mut self, input: &[u8]) -> Result<Option<usize>, ProtocolError> {
        if let Some((len, meaning)) = self.memo.recall(input) {
            (self.status, self.close, self.body) = meaning;
            return Ok(Some(len));
        }
        let parsed = self.parse_head(input)?;
        if let Some(len) = parsed {
            self.memo.remember(&input[..len], (self.status, self.close, self.body));
        }
        Ok(parsed)
    }

    fn complete(&mut self) -> Feed {
        self.body = Body::Head;
        Feed::Complete(Done { status: self.status, close: self.close })
    }

    /// Parses one head at the start of `input`: `Ok(None)` if it is not whole yet, else its
    /// length. Sets status, close and the body framing.
    fn parse_head(&mut self, input: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let mut headers = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            input,
            &mut headers,
        ) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(ProtocolError::BadHead),
        };
        let status = response.code.ok_or(ProtocolError::BadHead)?;
        let meta = MessageHeaders::of(response.version, response.headers)?;
        self.status = status;
        self.close = meta.close;
        self.body = if (100..200).contains(&status) || status == 204 || status == 304 || self.head_request {
            Body::Length(0)
        } else {
            match (meta.coding, meta.length) {
                (Coding::Chunked, _) => CHUNKED_START,
                (Coding::Identity, Some(n)) => Body::Length(n),
                (Coding::Identity, None) | (Coding::Other, _) => {
                    self.close = true;
                    Body::UntilClose
                }
            }
        };
        Ok(Some(len))
    }
}

impl Framer for HttpFramer {
    fn feed(&mut self, input: &[u8]) -> (usize, Feed) {
        let mut pos = 0;
        loop {
            if self.body == Body::Head {
                match self.head(&input[pos..]) {
                    Ok(None) => return (pos, Feed::NeedMore),
                    Err(e) => return (pos, Feed::Error(e)),
                    Ok(Some(len)) => {
                        pos += len;
                        if (100..200).contains(&self.status) {
                            if self.status == 101 {
                                // Switching protocols: what follows is not HTTP/1.1.
                                return (pos, Feed::Error(ProtocolError::BadHead));
                            }
                            // An interim response: the final one follows.
                            self.body = Body::Head;
                            continue;
                        }
                    }
                }
            }
            let (used, next) = step_body(self.body, &input[pos..]);
            pos += used;
            return match next {
                Ok(Some(body)) => {
                    self.body = body;
                    (pos, Feed::NeedMore)
                }
                Ok(None) => (pos, self.complete()),
                Err(e) => (pos, Feed::Error(e)),
            };
        }
    }

    fn on_eof(&mut self) -> Feed {
        match self.body {
            Body::UntilClose => self.complete(),
            _ => Feed::Error(ProtocolError::Truncated),
        }
    }

    fn in_response(&self) -> bool {
        self.body != Body::Head
    }

    fn reset(&mut self) {
        self.body = Body::Head;
        self.status = 0;
        self.close = false;
    }
}

/// The per-connection state of HTTP request framing (`clobber serve`): one `Complete` per
/// request, when its body has ended, with `close` set when the client asked to close after
/// the response (`Done::status` is 0). Allocates nothing per request: the memo's buffer is
/// allocated with the first head and keeps its capacity.
#[derive(Debug, Clone)]
pub struct RequestFramer {
    body: Body,
    close: bool,
    memo: HeadMemo<(bool, Body)>,
    /// Where the memo's request target lies in its head (`start..end`, between the two spaces
    /// of the request line).
    memo_target: Option<(usize, usize)>,
}

impl Default for RequestFramer {
    fn default() -> RequestFramer {
        RequestFramer::new()
    }
}

impl RequestFramer {
    pub fn new() -> RequestFramer {
        RequestFramer { body: Body::Head, close: false, memo: HeadMemo::new((false, Body::Head)), memo_target: None }
    }

    /// A framer that remembers no head and parses every one: what the memo must agree with,
    /// for the fuzz target and its replay.
    pub fn parsing_every_head() -> RequestFramer {
        let mut framer = RequestFramer::new();
        framer.memo.max = 0;
        framer
    }

    /// The length of the head at the start of `input` (`None` if it is not whole yet); sets
    /// `close` and the body framing. Answers from the memo when it can, also for a head that
    /// differs from the memo's only in its request target.
    #[inline]
    fn head(&mut self, input: &[u8]) -> Result<Option<usize>, ProtocolError> {
        if let Some((len, meaning)) = self.recall(input) {
            (self.close, self.body) = meaning;
            return Ok(Some(len));
        }
        let mut headers = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut []);
        let len = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
            &mut request,
            input,
            &mut headers,
        ) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(ProtocolError::BadHead),
        };
        let meta = MessageHeaders::of(request.version, request.headers)?;
        self.close = meta.close;
        self.body = match (meta.coding, meta.length) {
            (Coding::Chunked, None) => CHUNKED_START,
            (Coding::Identity, length) => Body::Length(length.unwrap_or(0)),
            // RFC 9112 6.3: both framings at once is how requests are smuggled past a proxy.
            (Coding::Chunked, Some(_)) => return Err(ProtocolError::BadLength),
            (Coding::Other, _) => return Err(ProtocolError::BadHead),
        };
        self.memo.remember(&input[..len], (self.close, self.body));
        // Where httparse found the target (it skips empty lines before the request line, so
        // the method's length alone does not say).
        self.memo_target = request.path.map(|path| {
            let start = path.as_ptr() as usize - input.as_ptr() as usize;
            (start, start + path.len())
        });
        debug_assert!(
            self.memo.head.is_empty() || self.memo_target.is_some_and(|(_, end)| self.memo.head[end] == b' ')
        );
        Ok(Some(len))
    }

    /// The memo's meaning for a head that is the memo's head with another request target: the
    /// same method and space, a target of printable ASCII, then the same bytes from the space
    /// after the target to the end of the head. Such a head parses as the memo's did (httparse
    /// takes any non-empty run of `!`..=`~` as a target, and the meaning comes from the version
    /// and headers alone), so clients that vary only the path or query (`--targets`, a
    /// `{{rand}}` in the URL) cost a scan of the target and a compare, not a parse. `None`
    /// sends the head to the parser: another method, a target with other bytes, another tail,
    /// or a head not whole yet.
    ///
    /// A target as long as the memo's (the usual case: the same head again, or a placeholder
    /// filled at its fixed width) is checked without the scan: the same bytes around it, and
    /// every byte of it visible, tested all at once. This is also how the memo's own head is
    /// recalled: the same work for a repeated head and a varying one, so a list of requests
    /// costs the server what one request does.
    #[inline]
    fn recall(&self, input: &[u8]) -> Option<(usize, (bool, Body))> {
        let head = &self.memo.head;
        let (start, end) = self.memo_target?;
        if head.is_empty() || input.len() <= start {
            return None;
        }
        if input.len() >= head.len() && input[end..head.len()] == head[end..] && input[..start] == head[..start] {
            let visible = input[start..end].iter().fold(true, |all, &b| all & (b.wrapping_sub(b'!') <= b'~' - b'!'));
            if visible && start < end {
                return Some((head.len(), self.memo.meaning));
            }
        }
        self.recall_other_target(input)
    }

    /// `recall` for a target of another length: scanned for its end.
    fn recall_other_target(&self, input: &[u8]) -> Option<(usize, (bool, Body))> {
        let head = &self.memo.head;
        let (start, end) = self.memo_target?;
        if input[..start] != head[..start] {
            return None;
        }
        let target_bytes = input[start..].iter().position(|&b| !(b'!'..=b'~').contains(&b))?;
        let tail = &head[end..];
        let tail_start = start + target_bytes;
        let matches =
            target_bytes > 0 && input.len() >= tail_start + tail.len() && input[tail_start..][..tail.len()] == *tail;
        matches.then_some((tail_start + tail.len(), self.memo.meaning))
    }

    fn complete(&mut self) -> Feed {
        self.body = Body::Head;
        Feed::Complete(Done { status: 0, close: self.close })
    }
}

impl Framer for RequestFramer {
    fn feed(&mut self, input: &[u8]) -> (usize, Feed) {
        let mut pos = 0;
        if self.body == Body::Head {
            match self.head(input) {
                Ok(None) => return (0, Feed::NeedMore),
                Err(e) => return (0, Feed::Error(e)),
                Ok(Some(len)) => pos = len,
            }
        }
        let (used, next) = step_body(self.body, &input[pos..]);
        pos += used;
        match next {
            Ok(Some(body)) => {
                self.body = body;
                (pos, Feed::NeedMore)
            }
            Ok(None) => (pos, self.complete()),
            Err(e) => (pos, Feed::Error(e)),
        }
    }

    /// A request has no body that runs to the close: EOF inside one truncates it.
    fn on_eof(&mut self) -> Feed {
        Feed::Error(ProtocolError::Truncated)
    }

    fn in_response(&self) -> bool {
        self.body != Body::Head
    }

    fn reset(&mut self) {
        self.body = Body::Head;
        self.close = false;
    }
}

/// Runs the chunked decoder over `input`. Returns the bytes used and the next state, `None`
/// when the body (with its trailers) ended exactly at `used`.
fn decode_chunked(mut state: Chunk, input: &[u8]) -> (usize, Result<Option<Chunk>, ProtocolError>) {
    let mut i = 0;
    while i < input.len() {
        if let Chunk::Data(left) = state {
            let take = left.min((input.len() - i) as u64);
            i += take as usize;
            state = if take == left { Chunk::DataCr } else { Chunk::Data(left - take) };
            continue;
        }
        let b = input[i];
        i += 1;
        state = match state {
            Chunk::Size { size, digits } => match hex_value(b) {
                Some(v) => {
                    if digits >= 15 {
                        return (i, Err(ProtocolError::BadChunk));
                    }
                    Chunk::Size { size: size * 16 + u64::from(v), digits: digits + 1 }
                }
                None if digits == 0 => return (i, Err(ProtocolError::BadChunk)),
                None => match b {
                    b';' | b' ' | b'\t' => Chunk::Extension { size },
                    b'\r' => Chunk::SizeLf { size },
                    b'\n' => after_size_line(size),
                    _ => return (i, Err(ProtocolError::BadChunk)),
                },
            },
            Chunk::Extension { size } => match b {
                b'\r' => Chunk::SizeLf { size },
                b'\n' => after_size_line(size),
                _ => Chunk::Extension { size },
            },
            Chunk::SizeLf { size } => match b {
                b'\n' => after_size_line(size),
                _ => return (i, Err(ProtocolError::BadChunk)),
            },
            Chunk::Data(_) => unreachable!("data is skipped in bulk above"),
            Chunk::DataCr => match b {
                b'\r' => Chunk::DataLf,
                b'\n' => Chunk::Size { size: 0, digits: 0 },
                _ => return (i, Err(ProtocolError::BadChunk)),
            },
            Chunk::DataLf => match b {
                b'\n' => Chunk::Size { size: 0, digits: 0 },
                _ => return (i, Err(ProtocolError::BadChunk)),
            },
            Chunk::TrailerStart => match b {
                b'\r' => Chunk::FinalLf,
                b'\n' => return (i, Ok(None)),
                _ => Chunk::TrailerLine,
            },
            Chunk::TrailerLine => match b {
                b'\n' => Chunk::TrailerStart,
                _ => Chunk::TrailerLine,
            },
            Chunk::FinalLf => match b {
                b'\n' => return (i, Ok(None)),
                _ => return (i, Err(ProtocolError::BadChunk)),
            },
        };
    }
    (i, Ok(Some(state)))
}

fn after_size_line(size: u64) -> Chunk {
    if size == 0 {
        Chunk::TrailerStart
    } else {
        Chunk::Data(size)
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn parse_length(value: &[u8]) -> Option<u64> {
    let v = trim(value);
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &v[start..end]
}

fn last_token(v: &[u8]) -> &[u8] {
    trim(v.rsplit(|&b| b == b',').next().unwrap_or(v))
}

/// An `http://` URL, split into what the request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// The host as written (without brackets for IPv6).
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
    /// The `Host` header's value: the host, and the port unless it is the scheme's default.
    pub authority: String,
    /// `https://`.
    pub tls: bool,
    /// `user:password` from the URL's user information, percent-decoded: sent as
    /// `Authorization: Basic` (as curl does).
    pub credentials: Option<Vec<u8>>,
}

/// Parses `http[s]://HOST[:PORT][/PATH][?QUERY]`. The fragment is dropped.
pub fn parse_url(text: &str) -> Result<Url, String> {
    let (rest, tls) = match (text.strip_prefix("http://"), text.strip_prefix("https://")) {
        (Some(rest), _) => (rest, false),
        (_, Some(rest)) => (rest, true),
        _ => return Err("expected http:// or https://".to_string()),
    };
    let default_port = if tls { 443 } else { 80 };
    let rest = rest.split('#').next().unwrap_or("");
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = match path {
        "" => "/".to_string(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_string(),
    };
    let (credentials, authority) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (Some(percent_decode(userinfo)?), host),
        None => (None, authority),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("an IPv6 host needs a closing ]")?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':').ok_or("expected :PORT after the IPv6 host")?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing".to_string());
    }
    let port = match port {
        None => default_port,
        Some(p) => p.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| format!("'{p}' is not a port (1-65535)"))?,
    };
    if path.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        return Err("the path must not contain spaces or control characters".to_string());
    }
    let bracketed = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    let authority = if port == default_port { bracketed } else { format!("{bracketed}:{port}") };
    Ok(Url { host: host.to_string(), port, path, authority, tls, credentials })
}

/// `%XX` escapes decoded (user information in a URL, RFC 3986 3.2.1).
fn percent_decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: Option<&u8>| b.and_then(|&b| hex_value(b));
            match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Err(format!("'{text}': a % in the user information must start an escape such as %40")),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Standard base64 with padding (RFC 4648 4), for `Authorization: Basic`.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What goes into the request a run sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    pub method: String,
    pub url: Url,
    /// User headers, in order; each replaces a default header of the same name.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Ask the server to close after the response (`--reconnect`).
    pub close: bool,
}

/// The bytes of one request, built once at start.
pub fn build_request(spec: &RequestSpec) -> Vec<u8> {
    let user_has = |name: &str| spec.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut out = Vec::with_capacity(128 + spec.body.len());
    out.extend_from_slice(format!("{} {} HTTP/1.1\r\n", spec.method, spec.url.path).as_bytes());
    let mut defaults: Vec<(&str, String)> =
        vec![("Host", spec.url.authority.clone()), ("User-Agent", format!("clobber/{}", env!("CARGO_PKG_VERSION")))];
    if !spec.body.is_empty() || matches!(spec.method.as_str(), "POST" | "PUT" | "PATCH") {
        defaults.push(("Content-Length", spec.body.len().to_string()));
    }
    if spec.close {
        defaults.push(("Connection", "close".to_string()));
    }
    if let Some(credentials) = &spec.url.credentials {
        defaults.push(("Authorization", format!("Basic {}", base64(credentials))));
    }
    for (name, value) in defaults {
        if !user_has(name) {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
    }
    for (name, value) in &spec.headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&spec.body);
    out
}

/// Checks that `bytes` hold exactly one complete HTTP/1.x request (a `--http-file`): the head,
/// then a body that ends where the file ends, by its `Content-Length` or its chunked encoding
/// (no framing header means no body). A file of several requests, or a body longer or shorter
/// than its header says, would leave requests and responses out of step, so it is refused.
/// Returns whether the method is HEAD.
pub fn check_request(bytes: &[u8]) -> Result<bool, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return Err("the request head is incomplete (it must end with an empty line, \\r\\n\\r\\n)".to_string())
        }
        Err(e) => return Err(format!("not an HTTP request: {e}")),
    };
    // The server's rules (`MessageHeaders`), so that a file accepted here is framed as one
    // request by `RequestFramer`; the loops below only find the words for a refusal.
    let header = |name: &'static str| request.headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name));
    let meta = MessageHeaders::of(request.version, request.headers).map_err(|_| {
        match header("content-length").find(|h| parse_length(h.value).is_none()) {
            Some(h) => {
                format!("its Content-Length '{}' is not a number of bytes", String::from_utf8_lossy(h.value))
            }
            None => "it has two Content-Length headers that disagree".to_string(),
        }
    })?;
    if meta.coding == Coding::Other {
        let value = header("transfer-encoding").next_back().map_or(&b""[..], |h| h.value);
        return Err(format!(
            "its Transfer-Encoding '{}' is not supported (only chunked)",
            String::from_utf8_lossy(value)
        ));
    }
    let (chunked, length) = (meta.coding == Coding::Chunked, meta.length);
    let body = &bytes[head_len..];
    let body_len = match (chunked, length) {
        (true, Some(_)) => return Err("it has both Transfer-Encoding: chunked and Content-Length".to_string()),
        (true, None) => match decode_chunked(Chunk::Size { size: 0, digits: 0 }, body) {
            (used, Ok(None)) => used,
            (_, Ok(Some(_))) => {
                return Err("its chunked body does not end (it needs a last chunk 0\\r\\n\\r\\n)".into())
            }
            (used, Err(_)) => return Err(format!("malformed chunk size at byte {}", head_len + used)),
        },
        (false, Some(n)) if n != body.len() as u64 => {
            let rest = &body[n.min(body.len() as u64) as usize..];
            if n < body.len() as u64 && starts_a_request(rest) {
                return Err(too_many(bytes));
            }
            return Err(format!("its Content-Length is {n} but the body has {} bytes", body.len()));
        }
        (false, Some(n)) => n as usize,
        (false, None) => 0,
    };
    let rest = &body[body_len..];
    if rest.is_empty() {
        Ok(request.method == Some("HEAD"))
    } else if starts_a_request(rest) {
        Err(too_many(bytes))
    } else if body_len == 0 && !chunked {
        Err(format!(
            "{} after the request's empty line, with no Content-Length (a body needs one; a final newline \
             does not belong)",
            plural(rest.len(), "byte")
        ))
    } else {
        Err(format!("{} after the request's body", plural(rest.len(), "byte")))
    }
}

/// Whether `bytes` start like a request line (`GET / HTTP/1.1`...).
fn starts_a_request(bytes: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    request.parse(bytes).is_ok() && request.method.is_some() && request.path.is_some()
}

/// The message for a file of several requests, counting them by their request lines.
fn too_many(bytes: &[u8]) -> String {
    let lines = bytes.split(|&b| b == b'\n').filter(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0")
    });
    format!("it holds {} requests, not one (clobber sends the file as one request per response)", lines.count())
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` whole, byte by byte, and split at every position to the response framer;
    /// all must give `expected`.
    fn check(head: bool, input: &[u8], expected: &[Feed]) {
        check_with(|| HttpFramer::new(head), input, expected);
    }

    /// The same for any framer.
    fn check_with<F: Framer>(make: impl Fn() -> F, input: &[u8], expected: &[Feed]) {
        assert_eq!(frame(make(), &[input]), expected, "whole input");
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(frame(make(), &bytes), expected, "byte by byte");
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(frame(make(), &[a, b]), expected, "split at {cut}");
        }
    }

    fn run(head: bool, pieces: &[&[u8]]) -> Vec<Feed> {
        frame(HttpFramer::new(head), pieces)
    }

    fn frame<F: Framer>(mut framer: F, pieces: &[&[u8]]) -> Vec<Feed> {
        crate::protocol::feed_pieces(&mut framer, pieces)
    }

    fn ok(status: u16) -> Feed {
        Feed::Complete(Done { status, close: false })
    }

    fn closing(status: u16) -> Feed {
        Feed::Complete(Done { status, close: true })
    }

    #[test]
    fn credentials_send_basic_authorization() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        let url = parse_url("http://user:p%40ss@127.0.0.1:8080/x").unwrap();
        assert_eq!(url.credentials.as_deref(), Some(&b"user:p@ss"[..]));
        assert_eq!((url.host.as_str(), url.port, url.authority.as_str()), ("127.0.0.1", 8080, "127.0.0.1:8080"));
        let spec = RequestSpec { method: "GET".into(), url, headers: Vec::new(), body: Vec::new(), close: false };
        let request = String::from_utf8(build_request(&spec)).unwrap();
        assert!(request.contains("Authorization: Basic dXNlcjpwQHNz\r\n"), "{request}");
        let mine = vec![("authorization".to_string(), "Bearer t".to_string())];
        let request = String::from_utf8(build_request(&RequestSpec { headers: mine, ..spec })).unwrap();
        assert!(!request.contains("Basic"), "a user's Authorization wins: {request}");
        assert!(parse_url("http://a%4@h/").unwrap_err().contains("escape"));
    }

    #[test]
    fn content_length_bodies() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        check(false, r, &[ok(200), ok(404)]);
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                  5;name=value\r\nhello\r\n\
                  1A ; another=\"x\"\r\nabcdefghijklmnopqrstuvwxyz\r\n\
                  0\r\nExpires: never\r\nX-Trailer: 1\r\n\r\n\
                  HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n";
        check(false, r, &[ok(200), ok(201)]);
    }

    #[test]
    fn no_body_for_head_1xx_204_304() {
        let r = b"HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n\
                  HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n\
                  HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        check(false, r, &[ok(204), ok(304), ok(200)]);
        let head =
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        check(true, head, &[ok(200), ok(200)]);
    }

    #[test]
    fn no_length_reads_to_close() {
        let mut framer = HttpFramer::new(false);
        let r = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome body";
        assert_eq!(framer.feed(r), (r.len(), Feed::NeedMore));
        assert!(framer.in_response());
        assert_eq!(framer.on_eof(), closing(200));
    }

    #[test]
    fn connection_close_and_http10() {
        check(false, b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", &[closing(200)]);
        check(false, b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", &[closing(200)]);
        check(false, b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", &[ok(200)]);
    }

    #[test]
    fn a_repeated_head_is_framed_like_the_first() {
        // Same head bytes, then a head that differs only after the memo's length would match.
        let a = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let b = b"HTTP/1.1 200 OK\r\nContent-Length: 22\r\n\r\n0123456789012345678901";
        let c = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: y\r\n\r\nok";
        let all = [&a[..], a, b, a, c, a].concat();
        check(false, &all, &[ok(200); 6]);
        let chunked =
            [CHUNKED_RESPONSE, CHUNKED_RESPONSE, b"HTTP/1.1 204 No Content\r\n\r\n", CHUNKED_RESPONSE].concat();
        check(false, &chunked, &[ok(200), ok(200), ok(204), ok(200)]);
    }

    const CHUNKED_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";

    #[test]
    fn malformed_heads_are_errors() {
        check(false, b"HTTP/1.1 abc OK\r\n\r\n", &[Feed::Error(ProtocolError::BadHead)]);
        check(false, b"garbage garbage\r\n\r\n", &[Feed::Error(ProtocolError::BadHead)]);
        check(false, b"HTTP/1.1 200 OK\r\nContent-Length: x1\r\n\r\n", &[Feed::Error(ProtocolError::BadLength)]);
        check(
            false,
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            &[Feed::Error(ProtocolError::BadLength)],
        );
        check(false, b"HTTP/1.1 101 Switching Protocols\r\n\r\n", &[Feed::Error(ProtocolError::BadHead)]);
    }

    #[test]
    fn bad_chunk_sizes_are_errors() {
        let bad =
            |size: &str| format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nxx\r\n0\r\n\r\n");
        for size in ["zz", "", "-1", "1 2", "fffffffffffffffff"] {
            let r = bad(size);
            assert_eq!(
                run(false, &[r.as_bytes()]).last(),
                Some(&Feed::Error(ProtocolError::BadChunk)),
                "size {size:?}"
            );
        }
        let missing_crlf = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxxyy";
        check(false, missing_crlf, &[Feed::Error(ProtocolError::BadChunk)]);
    }

    #[test]
    fn truncated_body_is_an_error_at_eof() {
        let mut framer = HttpFramer::new(false);
        assert_eq!(framer.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").1, Feed::NeedMore);
        assert_eq!(framer.on_eof(), Feed::Error(ProtocolError::Truncated));
    }

    #[test]
    fn partial_head_consumes_nothing() {
        let mut framer = HttpFramer::new(false);
        assert_eq!(framer.feed(b"HTTP/1.1 200 OK\r\nContent-Le"), (0, Feed::NeedMore));
        assert!(!framer.in_response());
    }

    #[test]
    fn large_body_streams_without_buffering() {
        let mut framer = HttpFramer::new(false);
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n";
        assert_eq!(framer.feed(head), (head.len(), Feed::NeedMore));
        let chunk = vec![0u8; 65536];
        for _ in 0..1599 {
            assert_eq!(framer.feed(&chunk), (65536, Feed::NeedMore));
        }
        assert_eq!(framer.feed(&chunk), (65536, ok(200)));
    }

    /// A request framer's `Complete`.
    fn request(close: bool) -> Feed {
        Feed::Complete(Done { status: 0, close })
    }

    fn check_requests(input: &[u8], expected: &[Feed]) {
        check_with(RequestFramer::new, input, expected);
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: clobber/0.1.0\r\n\r\n";

    #[test]
    fn requests_without_body_pipelined() {
        check_requests(&GET.repeat(3), &[request(false); 3]);
        check_requests(b"GET / HTTP/1.1\r\n\r\n", &[request(false)]);
    }

    #[test]
    fn request_bodies_by_content_length_and_chunked() {
        let post = b"POST /api HTTP/1.1\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
        check_requests(&[&post[..], GET, post].concat(), &[request(false); 3]);
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                        5;name=value\r\nhello\r\n3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n";
        check_requests(&[&chunked[..], GET, chunked].concat(), &[request(false); 3]);
        let gzip_chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n";
        check_requests(gzip_chunked, &[request(false)]);
        // A body that looks like a request is still a body.
        let inner =
            [&b"POST / HTTP/1.1\r\nContent-Length: "[..], GET.len().to_string().as_bytes(), b"\r\n\r\n", GET].concat();
        check_requests(&inner, &[request(false)]);
    }

    #[test]
    fn request_connection_tokens_and_versions() {
        check_requests(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &[request(true)]);
        // A list of tokens: `close` anywhere in it closes, whatever else it says.
        check_requests(b"GET / HTTP/1.1\r\nConnection: Upgrade, Close\r\n\r\n", &[request(true)]);
        check_requests(b"GET / HTTP/1.1\r\nConnection: keep-alive,close\r\n\r\n", &[request(true)]);
        check_requests(b"GET / HTTP/1.1\r\nConnection: close-ish\r\n\r\n", &[request(false)]);
        check_requests(b"GET / HTTP/1.0\r\n\r\n", &[request(true)]);
        check_requests(b"GET / HTTP/1.0\r\nConnection: TE, Keep-Alive\r\n\r\n", &[request(false)]);
    }

    #[test]
    fn both_framers_read_connection_the_same_way() {
        for (value, close) in [("close", true), ("Upgrade, close", true), ("keep-alive", false), ("a, b", false)] {
            let req = format!("GET / HTTP/1.1\r\nConnection: {value}\r\n\r\n");
            let resp = format!("HTTP/1.1 200 OK\r\nConnection: {value}\r\nContent-Length: 0\r\n\r\n");
            check_requests(req.as_bytes(), &[request(close)]);
            check(false, resp.as_bytes(), &[Feed::Complete(Done { status: 200, close })]);
        }
    }

    #[test]
    fn bad_request_framing_is_an_error() {
        let bad_length = Feed::Error(ProtocolError::BadLength);
        for value in ["x1", "-1", "", "1 2", "99999999999999999999", "+5"] {
            let req = format!("POST / HTTP/1.1\r\nContent-Length: {value}\r\n\r\n");
            check_requests(req.as_bytes(), &[bad_length]);
        }
        check_requests(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", &[bad_length]);
        check_requests(b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", &[request(false)]);
        check_requests(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
            &[bad_length],
        );
        let bad_head = Feed::Error(ProtocolError::BadHead);
        check_requests(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", &[bad_head]);
        check_requests(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", &[bad_head]);
        check_requests(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", &[bad_head]);
        check_requests(&[GET, b"GET / HTTP/1.1\r\nContent-Length: zz\r\n\r\n"].concat(), &[request(false), bad_length]);
        let bad_chunk = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        check_requests(bad_chunk, &[Feed::Error(ProtocolError::BadChunk)]);
    }

    #[test]
    fn a_repeated_request_head_is_framed_like_the_first() {
        // The memo must not answer for a head that only starts like the remembered one.
        let a = b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nok";
        let b = b"POST / HTTP/1.1\r\nContent-Length: 22\r\n\r\n0123456789012345678901";
        let c = b"POST / HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        let all = [&a[..], a, b, a, c].concat();
        check_requests(&all, &[request(false), request(false), request(false), request(false), request(true)]);
        // Heads past the memo's size are parsed every time, and framed the same.
        let long = format!("GET / HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "p".repeat(MEMO_BYTES));
        check_requests(long.repeat(3).as_bytes(), &[request(false); 3]);
    }

    #[test]
    fn a_request_head_with_another_target_is_framed_like_the_first() {
        let post = |target: &str, rest: &str| format!("POST {target} HTTP/1.1\r\nContent-Length: 2\r\n{rest}\r\nok");
        let all = [
            post("/", ""),
            post("/k/0001?r=12345", ""),
            post("/", "Connection: close\r\n"),
            post("*", "Connection: close\r\n"),
            post("/x", ""),
            "GET /x HTTP/1.1\r\n\r\n".into(),
        ]
        .concat();
        check_requests(
            all.as_bytes(),
            &[request(false), request(false), request(true), request(true), request(false), request(false)],
        );
        // What the parser refuses, the memo must not answer for: an empty target, two spaces,
        // a control byte in the target, another version.
        for bad in ["POST  HTTP/1.1\r\n", "POST /a  HTTP/1.1\r\n", "POST /\x01 HTTP/1.1\r\n", "POST /a HTTP/9.9\r\n"] {
            let input = [post("/", "").as_bytes(), bad.as_bytes(), b"Content-Length: 2\r\n\r\nok"].concat();
            check_requests(&input, &[request(false), Feed::Error(ProtocolError::BadHead)]);
        }
        // The same, with targets as long as the memo's (the path without the scan): a control
        // byte, a space, DEL, a byte above ASCII.
        for bad in ["POST /\x01b HTTP/1.1\r\n", "POST / b HTTP/1.1\r\n", "POST /a\x7f HTTP/1.1\r\n"] {
            let input = [post("/ab", "").as_bytes(), bad.as_bytes(), b"Content-Length: 2\r\n\r\nok"].concat();
            check_requests(&input, &[request(false), Feed::Error(ProtocolError::BadHead)]);
        }
        let mut framer = RequestFramer::new();
        let first = post("/ab", "");
        assert_eq!(framer.feed(first.as_bytes()), (first.len(), request(false)));
        for (other, recalled) in [("/xy", true), ("/~!", true), ("/x\u{e9}", false), ("/xyz", true), ("/x", true)] {
            let head = post(other, "");
            let expected = recalled.then_some((head.len() - 2, (false, Body::Length(2))));
            assert_eq!(framer.recall(head.as_bytes()), expected, "{other:?}");
        }
        // A target of other bytes (above ASCII) goes to the parser, which decides.
        let mut framer = RequestFramer::new();
        let (first, other) = (post("/a", ""), post("/\u{e9}", ""));
        assert_eq!(framer.feed(first.as_bytes()), (first.len(), request(false)));
        let third = post("/k/{{rand}}?q=1", "");
        assert_eq!(framer.recall(third.as_bytes()), Some((third.len() - 2, (false, Body::Length(2)))));
        assert_eq!(framer.recall(other.as_bytes()), None);
        assert_eq!(framer.feed(other.as_bytes()), (other.len(), request(false)));
        // Empty lines before the request line (httparse skips them): the target is found where
        // the parser found it (a fuzz input).
        let lead = |target: &str| format!("\r\n\r\nGET {target} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        check_requests([lead("/"), lead("/abc"), lead("/"), post("/q", "")].concat().as_bytes(), &[request(false); 4]);
        // A head not whole yet, with another target: nothing is consumed.
        let partial = post("/abc", "");
        assert_eq!(framer.feed(&partial.as_bytes()[..partial.len() - 6]), (0, Feed::NeedMore));
    }

    #[test]
    fn a_partial_request_head_consumes_nothing() {
        let mut framer = RequestFramer::new();
        assert_eq!(framer.feed(&GET[..GET.len() - 1]), (0, Feed::NeedMore));
        assert!(!framer.in_response());
        let started = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
        assert_eq!(framer.feed(started), (started.len(), Feed::NeedMore));
        assert!(framer.in_response());
        assert_eq!(framer.on_eof(), Feed::Error(ProtocolError::Truncated));
        framer.reset();
        assert_eq!(framer.feed(GET), (GET.len(), request(false)));
    }

    #[test]
    fn urls() {
        let u = parse_url("http://127.0.0.1:8080/index.html?a=1#frag").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str(), u.authority.as_str()),
            ("127.0.0.1", 8080, "/index.html?a=1", "127.0.0.1:8080")
        );
        let u = parse_url("http://localhost").unwrap();
        assert_eq!((u.port, u.path.as_str(), u.authority.as_str()), (80, "/", "localhost"));
        let u = parse_url("http://[::1]:81?q").unwrap();
        assert_eq!((u.host.as_str(), u.path.as_str(), u.authority.as_str()), ("::1", "/?q", "[::1]:81"));
        for bad in
            ["http://", "http://:80/", "http://h:70000/", "http://h:0/", "http://u@/", "http://h/a b", "ftp://h/"]
        {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requests() {
        let spec = RequestSpec {
            method: "POST".into(),
            url: parse_url("http://127.0.0.1:8080/api").unwrap(),
            headers: vec![("content-type".into(), "application/json".into()), ("user-agent".into(), "me".into())],
            body: b"{\"a\":1}".to_vec(),
            close: true,
        };
        let r = String::from_utf8(build_request(&spec)).unwrap();
        assert_eq!(
            r,
            "POST /api HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 7\r\nConnection: close\r\n\
             content-type: application/json\r\nuser-agent: me\r\n\r\n{\"a\":1}"
        );
        let get = RequestSpec {
            method: "GET".into(),
            url: parse_url("http://h/").unwrap(),
            headers: vec![],
            body: vec![],
            close: false,
        };
        let r = String::from_utf8(build_request(&get)).unwrap();
        assert_eq!(
            r,
            format!("GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: clobber/{}\r\n\r\n", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(check_request(r.as_bytes()), Ok(false));
        assert_eq!(check_request(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"), Ok(true));
        assert!(check_request(b"GET / HTTP/1.1\r\nHost: h\r\n").is_err());
    }

    /// `check_request` must accept exactly one request: the error names what is wrong.
    fn refused(input: &[u8], words: &str) {
        match check_request(input) {
            Err(e) => assert!(e.contains(words), "{:?}: '{e}' does not say '{words}'", String::from_utf8_lossy(input)),
            Ok(_) => panic!("{:?} was accepted", String::from_utf8_lossy(input)),
        }
    }

    #[test]
    fn a_request_file_holds_exactly_one_request() {
        let get = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        refused(&get.repeat(2), "2 requests");
        refused(&get.repeat(3), "3 requests");
        refused(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n", "2 requests");
        refused(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n\n", "1 byte after the request");
        refused(b"POST / HTTP/1.1\r\nHost: h\r\n\r\nabc", "no Content-Length");
    }

    #[test]
    fn a_request_body_matches_its_content_length() {
        assert_eq!(check_request(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"), Ok(false));
        refused(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc", "Content-Length is 5 but the body has 3 bytes");
        refused(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nabc", "Content-Length is 2 but the body has 3 bytes");
        refused(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", "Content-Length");
        refused(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\na", "Content-Length");
        refused(b"HEAD / HTTP/1.1\r\nContent-Length: 3\r\n\r\n", "Content-Length is 3 but the body has 0 bytes");
    }

    #[test]
    fn a_request_file_that_check_request_accepts_frames_as_one_request() {
        let files: [&[u8]; 5] = [
            b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"HEAD / HTTP/1.0\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        ];
        for file in files {
            assert!(check_request(file).is_ok(), "{:?}", String::from_utf8_lossy(file));
            let (used, feed) = RequestFramer::new().feed(file);
            assert!(matches!(feed, Feed::Complete(_)) && used == file.len(), "{:?}", String::from_utf8_lossy(file));
        }
    }

    #[test]
    fn a_chunked_request_body_ends_exactly() {
        let ok = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n";
        assert_eq!(check_request(ok), Ok(false));
        assert_eq!(check_request(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), Ok(false));
        refused(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", "chunked body does not end");
        refused(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk");
        refused(&[&ok[..], b"GET / HTTP/1.1\r\n\r\n"].concat(), "2 requests");
        refused(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "Transfer-Encoding");
        let both = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n";
        refused(both, "both");
    }
}

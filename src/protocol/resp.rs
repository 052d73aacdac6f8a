//! RESP reply framing (`--frame resp`): Redis' serialization protocol, RESP2 and RESP3, as a
//! streaming state machine that consumes every byte it is given and keeps no buffer.
//!
//! A reply is one element; an aggregate (array `*`, map `%`, set `~`, push `>`, attribute `|`)
//! announces how many elements follow. Since elements end in order, one counter of the elements
//! still owed (`owed`) says when the reply ends, whatever the nesting: an aggregate header of n
//! elements adds n (2n for a map or an attribute) and ends itself; every other element ends
//! when its line (or, for blob types `$ ! =`, its line and its bytes and CRLF) is consumed. So
//! memory is a few words whatever the depth or size, and a 512 MB bulk string streams through.
//! An attribute (`|`) is metadata in front of an element and owes no element itself.
//!
//! Each reply is tallied by its top-level type (`Done::status` carries a `reply` class):
//! an error reply (`-ERR ...`, RESP3's `!` blob error) is a response like any other, counted as
//! `resp_error`; RESP2's null bulk string and null array (`$-1`, `*-1`) and RESP3's `_` are
//! `resp_null`. Malformed bytes (an unknown type byte, a bad length, a missing CRLF) are a
//! `ProtocolError::BadReply`: the stream cannot be re-synchronized.

use super::{reply, Done, Feed, Framer, ProtocolError};

/// Longest length or count line accepted: 19 digits and a sign fit every `i64`.
const NUMBER_DIGITS_MAX: u8 = 19;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for an element's type byte.
    Type,
    /// In the line of a type whose line is all there is (`+ - : , # ( _`), up to its CR.
    Line,
    /// In the number line of a blob (`$ ! =`) or of an aggregate (`* % ~ > |`): `ty` the
    /// type byte, `value` the digits so far.
    Number { ty: u8, negative: bool, digits: u8, value: u64 },
    /// Saw the CR of a line: the LF must follow. `then` is what the line started.
    Lf { then: AfterLine },
    /// Inside a blob's bytes: `left` of them, then CR LF.
    Blob { left: u64 },
    /// After a blob's bytes: `seen` bytes of its closing CR LF.
    BlobEnd { seen: u8 },
}

/// What a line, once its LF arrives, has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterLine {
    /// The element is complete.
    Element,
    /// A blob's bytes follow.
    Blob(u64),
    /// An aggregate of this many elements (already doubled for maps and attributes), or an
    /// attribute of this many (which owes no element of its own).
    Aggregate { elements: u64, attribute: bool },
}

/// The per-connection state of RESP framing.
#[derive(Debug, Clone)]
pub struct RespFramer {
    state: State,
    /// Elements still owed before the current reply ends (1 at the start of a reply).
    owed: u64,
    /// The current reply's class (`reply::RESP_*`), 0 until its top-level element's type byte.
    class: u16,
    /// Whether the element being read is the top-level one (so a null length re-classes it).
    at_top: bool,
    /// Some byte of the current reply has been consumed.
    started: bool,
}

impl Default for RespFramer {
    fn default() -> Self {
        RespFramer::new()
    }
}

impl RespFramer {
    pub fn new() -> RespFramer {
        RespFramer { state: State::Type, owed: 1, class: 0, at_top: false, started: false }
    }

    /// One element ended. `Some` when that ended the reply.
    fn element_done(&mut self) -> Option<Feed> {
        self.owed -= 1;
        self.state = State::Type;
        self.at_top = false;
        if self.owed == 0 {
            let class = self.class;
            self.reset();
            return Some(Feed::Complete(Done { status: class, close: false }));
        }
        None
    }

    /// A type byte: what the element is, and what it reads next.
    fn on_type(&mut self, ty: u8) -> Result<(), ProtocolError> {
        let class = match ty {
            b'+' => reply::RESP_SIMPLE,
            b'-' | b'!' => reply::RESP_ERROR,
            b':' => reply::RESP_INTEGER,
            b'$' => reply::RESP_BULK,
            b'_' => reply::RESP_NULL,
            b'*' => reply::RESP_ARRAY,
            b'%' => reply::RESP_MAP,
            b'~' => reply::RESP_SET,
            b',' => reply::RESP_DOUBLE,
            b'#' => reply::RESP_BOOLEAN,
            b'(' => reply::RESP_BIG_NUMBER,
            b'=' => reply::RESP_VERBATIM,
            b'>' => reply::RESP_PUSH,
            b'|' => 0,
            _ => return Err(ProtocolError::BadReply),
        };
        // With one element owed and no class yet, this is the reply's top-level element, or
        // an attribute in front of it (whose pairs all end before `owed` is 1 again).
        if self.class == 0 && self.owed == 1 && ty != b'|' {
            self.class = class;
            self.at_top = true;
        }
        self.state = match ty {
            b'$' | b'!' | b'=' | b'*' | b'%' | b'~' | b'>' | b'|' => {
                State::Number { ty, negative: false, digits: 0, value: 0 }
            }
            _ => State::Line,
        };
        Ok(())
    }

    /// The CR of a number line: what the number starts.
    fn on_number(&mut self, ty: u8, negative: bool, digits: u8, value: u64) -> Result<AfterLine, ProtocolError> {
        if digits == 0 {
            return Err(ProtocolError::BadReply);
        }
        if negative {
            // Only RESP2's nulls are negative: `$-1` and `*-1`.
            if value != 1 || !matches!(ty, b'$' | b'*') {
                return Err(ProtocolError::BadReply);
            }
            if self.at_top {
                self.class = reply::RESP_NULL;
            }
            return Ok(AfterLine::Element);
        }
        Ok(match ty {
            b'$' | b'!' | b'=' => AfterLine::Blob(value),
            b'*' | b'~' | b'>' => AfterLine::Aggregate { elements: value, attribute: false },
            b'%' => AfterLine::Aggregate {
                elements: value.checked_mul(2).ok_or(ProtocolError::BadReply)?,
                attribute: false,
            },
            _ => {
                AfterLine::Aggregate { elements: value.checked_mul(2).ok_or(ProtocolError::BadReply)?, attribute: true }
            }
        })
    }

    /// The LF of a line: the element ends, or its bytes or elements follow.
    fn after_line(&mut self, then: AfterLine) -> Result<Option<Feed>, ProtocolError> {
        match then {
            AfterLine::Element => Ok(self.element_done()),
            AfterLine::Blob(len) => {
                self.state = if len == 0 { State::BlobEnd { seen: 0 } } else { State::Blob { left: len } };
                Ok(None)
            }
            AfterLine::Aggregate { elements, attribute } => {
                self.owed = self.owed.checked_add(elements).ok_or(ProtocolError::BadReply)?;
                self.state = State::Type;
                self.at_top = false;
                if attribute {
                    // Metadata: it owes its pairs, and is no element of its own.
                    return Ok(None);
                }
                Ok(self.element_done())
            }
        }
    }

    fn step(&mut self, input: &[u8]) -> Result<(usize, Option<Feed>), ProtocolError> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Type => {
                    self.started = true;
                    self.on_type(input[i])?;
                    i += 1;
                }
                State::Line => match input[i..].iter().position(|&b| b == b'\r' || b == b'\n') {
                    Some(off) if input[i + off] == b'\r' => {
                        i += off + 1;
                        self.state = State::Lf { then: AfterLine::Element };
                    }
                    Some(_) => return Err(ProtocolError::BadReply),
                    None => i = input.len(),
                },
                State::Number { ty, negative, digits, value } => {
                    let b = input[i];
                    i += 1;
                    match b {
                        b'-' if digits == 0 && !negative => {
                            self.state = State::Number { ty, negative: true, digits, value };
                        }
                        b'0'..=b'9' if digits < NUMBER_DIGITS_MAX => {
                            let value = value * 10 + u64::from(b - b'0');
                            self.state = State::Number { ty, negative, digits: digits + 1, value };
                        }
                        b'\r' => {
                            let then = self.on_number(ty, negative, digits, value)?;
                            self.state = State::Lf { then };
                        }
                        _ => return Err(ProtocolError::BadReply),
                    }
                }
                State::Lf { then } => {
                    if input[i] != b'\n' {
                        return Err(ProtocolError::BadReply);
                    }
                    i += 1;
                    if let Some(feed) = self.after_line(then)? {
                        return Ok((i, Some(feed)));
                    }
                }
                State::Blob { left } => {
                    let take = left.min((input.len() - i) as u64);
                    i += take as usize;
                    self.state =
                        if take == left { State::BlobEnd { seen: 0 } } else { State::Blob { left: left - take } };
                }
                State::BlobEnd { seen } => {
                    if input[i] != b"\r\n"[usize::from(seen)] {
                        return Err(ProtocolError::BadReply);
                    }
                    i += 1;
                    if seen == 0 {
                        self.state = State::BlobEnd { seen: 1 };
                    } else if let Some(feed) = self.element_done() {
                        return Ok((i, Some(feed)));
                    }
                }
            }
        }
        Ok((i, None))
    }
}

impl Framer for RespFramer {
    fn feed(&mut self, input: &[u8]) -> (usize, Feed) {
        match self.step(input) {
            Ok((used, Some(feed))) => (used, feed),
            Ok((used, None)) => (used, Feed::NeedMore),
            Err(e) => (0, Feed::Error(e)),
        }
    }

    fn on_eof(&mut self) -> Feed {
        Feed::Error(ProtocolError::Truncated)
    }

    fn in_response(&self) -> bool {
        self.started
    }

    fn reset(&mut self) {
        *self = RespFramer::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::check_splits;

    fn ok(class: u16) -> Feed {
        Feed::Complete(Done { status: class, close: false })
    }

    fn check(input: &[u8], expected: &[Feed], partial: bool) {
        check_splits(RespFramer::new, input, expected, partial);
    }

    #[test]
    fn simple_types_end_at_their_line() {
        check(b"+OK\r\n", &[ok(reply::RESP_SIMPLE)], false);
        check(b":1000\r\n:-3\r\n", &[ok(reply::RESP_INTEGER), ok(reply::RESP_INTEGER)], false);
        check(
            b",3.14\r\n#t\r\n(3492890328409238509324850943850943825024385\r\n_\r\n",
            &[ok(reply::RESP_DOUBLE), ok(reply::RESP_BOOLEAN), ok(reply::RESP_BIG_NUMBER), ok(reply::RESP_NULL)],
            false,
        );
    }

    #[test]
    fn error_reply_is_a_response_tallied_as_resp_error() {
        check(b"-ERR unknown command 'FOO'\r\n+PONG\r\n", &[ok(reply::RESP_ERROR), ok(reply::RESP_SIMPLE)], false);
        check(b"!21\r\nSYNTAX invalid syntax\r\n", &[ok(reply::RESP_ERROR)], false);
    }

    #[test]
    fn bulk_strings_skip_their_bytes_whatever_they_hold() {
        // A GET reply holds CR LF inside: `--until '\r\n'` would count it twice.
        check(b"$8\r\nfoo\r\nbar\r\n$0\r\n\r\n", &[ok(reply::RESP_BULK), ok(reply::RESP_BULK)], false);
        check(b"=15\r\ntxt:Some string\r\n", &[ok(reply::RESP_VERBATIM)], false);
    }

    #[test]
    fn nulls_of_resp2_and_resp3() {
        check(b"$-1\r\n*-1\r\n_\r\n", &[ok(reply::RESP_NULL), ok(reply::RESP_NULL), ok(reply::RESP_NULL)], false);
        // A null inside an array leaves the array an array.
        check(b"*2\r\n$-1\r\n$1\r\na\r\n", &[ok(reply::RESP_ARRAY)], false);
    }

    #[test]
    fn nested_aggregates_end_with_their_last_element() {
        check(b"*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Foo\r\n-Bar\r\n", &[ok(reply::RESP_ARRAY)], false);
        check(b"*0\r\n%0\r\n", &[ok(reply::RESP_ARRAY), ok(reply::RESP_MAP)], false);
        check(b"%2\r\n+first\r\n:1\r\n+second\r\n*1\r\n$1\r\nx\r\n", &[ok(reply::RESP_MAP)], false);
        check(b"~2\r\n+a\r\n+b\r\n>2\r\n+message\r\n+hi\r\n", &[ok(reply::RESP_SET), ok(reply::RESP_PUSH)], false);
    }

    #[test]
    fn attributes_precede_the_reply_and_do_not_class_it() {
        check(b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:2\r\n", &[ok(reply::RESP_ARRAY)], false);
    }

    #[test]
    fn partial_reply_is_under_way() {
        check(b"*2\r\n:1\r\n", &[], true);
        check(b"$5\r\nab", &[], true);
    }

    #[test]
    fn malformed_replies_are_errors() {
        let bad = Feed::Error(ProtocolError::BadReply);
        check(b"?\r\n", &[bad], true);
        check(b"$x\r\n", &[bad], true);
        check(b"$-2\r\n", &[bad], true);
        check(b"$\r\n", &[bad], true);
        check(b":1\rx", &[bad], true);
        check(b"+OK\n", &[bad], true);
        check(b"$3\r\nabcd\r\n", &[bad], true);
        check(b"*99999999999999999999\r\n", &[bad], true);
        check(b"%9999999999999999999\r\n", &[bad], true);
    }

    #[test]
    fn huge_counts_owe_elements_without_memory() {
        let mut framer = RespFramer::new();
        assert_eq!(framer.feed(b"*1000000000\r\n:1\r\n"), (17, Feed::NeedMore));
        assert!(framer.in_response());
        assert_eq!(framer.on_eof(), Feed::Error(ProtocolError::Truncated));
    }
}

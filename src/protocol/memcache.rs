//! memcached text-protocol reply framing (`--frame memcache`), as a streaming state machine
//! that consumes every byte it is given and keeps no buffer beyond a line's first word.
//!
//! A reply is one line (`STORED`, `NOT_STORED`, `EXISTS`, `NOT_FOUND`, `DELETED`, `TOUCHED`,
//! `OK`, `ERROR`, `CLIENT_ERROR ...`, `SERVER_ERROR ...`, `VERSION ...`, a number from
//! `incr`/`decr`, a meta command's `HD`/`NF`/`NS`/`EX`/`EN`/`MN`), or a block: `VALUE <key>
//! <flags> <bytes> [<cas>]` lines, each followed by its `<bytes>` of data and CR LF, then `END`
//! (a `get` hit; `END` alone is a miss), `STAT` lines up to `END`, or a meta get's `VA <bytes>`
//! line and its data. The data is skipped by count, never searched, so data holding `END\r\n`
//! cannot end a reply early (what `--until 'END\r\n'` would get wrong).
//!
//! Only the first word of a line is kept (at most `WORD_BYTES_MAX` bytes: a longer one is no
//! reply word), and the one number that sizes the data is parsed as it streams by. Each reply
//! is tallied by its kind (`Done::status` carries a `reply` class). Lines end with CR LF; a
//! bare LF, an unknown word, or a data block without its CR LF is a `ProtocolError::BadReply`.

use super::{reply, Done, Feed, Framer, ProtocolError};

/// The longest first word kept: `CLIENT_ERROR`, `SERVER_ERROR`, and 20 digits of an `incr`.
const WORD_BYTES_MAX: usize = 20;
/// The most digits a data size may have (every `u64` below 10^19).
const SIZE_DIGITS_MAX: u8 = 19;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In a line: its first word so far in `word`, the index of the token being read
    /// (0: the word), whether the last byte was a space, and the data size if this line's
    /// word carries one (`size_token`, its index; 0: none).
    Line { token: u8, in_gap: bool, size_token: u8, size_digits: u8, size: u64, cr: bool },
    /// In a data block: `left` bytes, then CR LF.
    Data { left: u64 },
    /// After a data block: `seen` bytes of its CR LF.
    DataEnd { seen: u8 },
}

/// The multi-line reply under way, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    None,
    /// `VALUE` lines up to `END`.
    Values,
    /// `STAT` (or `ITEM`) lines up to `END`.
    Stats,
    /// A meta get's `VA`: its data ends the reply.
    MetaValue,
}

const LINE_START: State = State::Line { token: 0, in_gap: false, size_token: 0, size_digits: 0, size: 0, cr: false };

/// The per-connection state of memcache framing.
#[derive(Debug, Clone)]
pub struct MemcacheFramer {
    state: State,
    block: Block,
    word: [u8; WORD_BYTES_MAX],
    /// Bytes of `word` used; `WORD_BYTES_MAX + 1` once the word grew too long to be one.
    word_len: usize,
    /// Some byte of the current reply has been consumed.
    started: bool,
}

impl Default for MemcacheFramer {
    fn default() -> Self {
        MemcacheFramer::new()
    }
}

impl MemcacheFramer {
    pub fn new() -> MemcacheFramer {
        MemcacheFramer { state: LINE_START, block: Block::None, word: [0; WORD_BYTES_MAX], word_len: 0, started: false }
    }

    fn word(&self) -> &[u8] {
        &self.word[..self.word_len.min(WORD_BYTES_MAX)]
    }

    fn complete(&mut self, class: u16) -> Feed {
        self.reset();
        Feed::Complete(Done { status: class, close: false })
    }

    fn next_line(&mut self) {
        self.state = LINE_START;
        self.word_len = 0;
    }

    /// Which token of a line starting with this word gives its data's size (0: none).
    fn size_token(word: &[u8]) -> u8 {
        match word {
            b"VALUE" => 3,
            b"VA" => 1,
            _ => 0,
        }
    }

    /// A line ended (its LF consumed): the reply ends, goes on with data or lines, or is bad.
    fn end_of_line(&mut self, size_token: u8, size_digits: u8, size: u64) -> Result<Option<Feed>, ProtocolError> {
        let has_size = size_token > 0 && size_digits > 0;
        let block = self.block;
        let word = self.word();
        let class = match (block, word) {
            (Block::None | Block::Values, b"VALUE") if has_size => {
                self.block = Block::Values;
                self.state = if size == 0 { State::DataEnd { seen: 0 } } else { State::Data { left: size } };
                return Ok(None);
            }
            (Block::None, b"VA") if has_size => {
                self.block = Block::MetaValue;
                self.state = if size == 0 { State::DataEnd { seen: 0 } } else { State::Data { left: size } };
                return Ok(None);
            }
            (Block::None | Block::Stats, b"STAT" | b"ITEM") => {
                self.block = Block::Stats;
                self.next_line();
                return Ok(None);
            }
            (Block::Values, b"END") => reply::MC_VALUE,
            (Block::Stats, b"END") => reply::MC_STATS,
            (Block::None, b"END") => reply::MC_END,
            (Block::None, b"STORED") => reply::MC_STORED,
            (Block::None, b"NOT_STORED") => reply::MC_NOT_STORED,
            (Block::None, b"EXISTS") => reply::MC_EXISTS,
            (Block::None, b"NOT_FOUND") => reply::MC_NOT_FOUND,
            (Block::None, b"DELETED") => reply::MC_DELETED,
            (Block::None, b"TOUCHED") => reply::MC_TOUCHED,
            (Block::None, b"OK" | b"RESET") => reply::MC_OK,
            (Block::None, b"ERROR") => reply::MC_ERROR,
            (Block::None, b"CLIENT_ERROR") => reply::MC_CLIENT_ERROR,
            (Block::None, b"SERVER_ERROR") => reply::MC_SERVER_ERROR,
            (Block::None, b"VERSION") => reply::MC_VERSION,
            (Block::None, b"HD" | b"NF" | b"NS" | b"EX" | b"EN" | b"MN") => reply::MC_META,
            (Block::None, w)
                if !w.is_empty() && self.word_len <= WORD_BYTES_MAX && w.iter().all(u8::is_ascii_digit) =>
            {
                reply::MC_NUMBER
            }
            _ => return Err(ProtocolError::BadReply),
        };
        Ok(Some(self.complete(class)))
    }

    fn step(&mut self, input: &[u8]) -> Result<(usize, Option<Feed>), ProtocolError> {
        let mut i = 0;
        while i < input.len() {
            self.started = true;
            match self.state {
                State::Line { token, in_gap, size_token, size_digits, size, cr } => {
                    let b = input[i];
                    i += 1;
                    match b {
                        b'\n' if cr => {
                            if let Some(feed) = self.end_of_line(size_token, size_digits, size)? {
                                return Ok((i, Some(feed)));
                            }
                        }
                        _ if cr => return Err(ProtocolError::BadReply),
                        b'\n' => return Err(ProtocolError::BadReply),
                        b'\r' => self.state = State::Line { token, in_gap, size_token, size_digits, size, cr: true },
                        b' ' => {
                            let size_token =
                                if token == 0 && !in_gap { Self::size_token(self.word()) } else { size_token };
                            let token = if in_gap { token } else { token + 1 };
                            self.state = State::Line { token, in_gap: true, size_token, size_digits, size, cr };
                        }
                        _ if token == 0 => {
                            if self.word_len < WORD_BYTES_MAX {
                                self.word[self.word_len] = b;
                            }
                            self.word_len = (self.word_len + 1).min(WORD_BYTES_MAX + 1);
                        }
                        _ if token == size_token => {
                            if !b.is_ascii_digit() || size_digits == SIZE_DIGITS_MAX {
                                return Err(ProtocolError::BadReply);
                            }
                            let size = size * 10 + u64::from(b - b'0');
                            self.state = State::Line {
                                token,
                                in_gap: false,
                                size_token,
                                size_digits: size_digits + 1,
                                size,
                                cr,
                            };
                        }
                        _ => {
                            if in_gap {
                                self.state = State::Line { token, in_gap: false, size_token, size_digits, size, cr };
                            }
                            // Any other token: skip to the next space or the line's end.
                            let rest = &input[i..];
                            i += rest.iter().position(|&b| matches!(b, b' ' | b'\r' | b'\n')).unwrap_or(rest.len());
                        }
                    }
                }
                State::Data { left } => {
                    let take = left.min((input.len() - i) as u64);
                    i += take as usize;
                    self.state =
                        if take == left { State::DataEnd { seen: 0 } } else { State::Data { left: left - take } };
                }
                State::DataEnd { seen } => {
                    if input[i] != b"\r\n"[usize::from(seen)] {
                        return Err(ProtocolError::BadReply);
                    }
                    i += 1;
                    if seen == 0 {
                        self.state = State::DataEnd { seen: 1 };
                    } else if self.block == Block::MetaValue {
                        return Ok((i, Some(self.complete(reply::MC_VALUE))));
                    } else {
                        self.next_line();
                    }
                }
            }
        }
        Ok((i, None))
    }
}

impl Framer for MemcacheFramer {
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
        *self = MemcacheFramer::new();
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
        check_splits(MemcacheFramer::new, input, expected, partial);
    }

    #[test]
    fn get_hit_is_one_reply_whatever_its_data_holds() {
        check(b"VALUE k 0 5\r\nEND\r\n\r\nEND\r\n", &[ok(reply::MC_VALUE)], false);
        check(b"VALUE a 0 1 77\r\nx\r\nVALUE b 3 0\r\n\r\nEND\r\n", &[ok(reply::MC_VALUE)], false);
    }

    #[test]
    fn get_miss_is_end_alone() {
        check(b"END\r\nEND\r\n", &[ok(reply::MC_END), ok(reply::MC_END)], false);
    }

    #[test]
    fn one_line_replies() {
        check(
            b"STORED\r\nNOT_STORED\r\nEXISTS\r\nNOT_FOUND\r\nDELETED\r\nTOUCHED\r\nOK\r\n",
            &[
                ok(reply::MC_STORED),
                ok(reply::MC_NOT_STORED),
                ok(reply::MC_EXISTS),
                ok(reply::MC_NOT_FOUND),
                ok(reply::MC_DELETED),
                ok(reply::MC_TOUCHED),
                ok(reply::MC_OK),
            ],
            false,
        );
        check(
            b"42\r\n18446744073709551615\r\nVERSION 1.6.18\r\n",
            &[ok(reply::MC_NUMBER), ok(reply::MC_NUMBER), ok(reply::MC_VERSION)],
            false,
        );
    }

    #[test]
    fn error_replies_are_responses() {
        check(
            b"ERROR\r\nCLIENT_ERROR bad data chunk\r\nSERVER_ERROR out of memory\r\n",
            &[ok(reply::MC_ERROR), ok(reply::MC_CLIENT_ERROR), ok(reply::MC_SERVER_ERROR)],
            false,
        );
    }

    #[test]
    fn stats_block_ends_at_end() {
        check(b"STAT pid 1\r\nSTAT uptime 5\r\nEND\r\n", &[ok(reply::MC_STATS)], false);
    }

    #[test]
    fn meta_replies() {
        check(b"VA 2 f1\r\nhi\r\nHD\r\nEN\r\n", &[ok(reply::MC_VALUE), ok(reply::MC_META), ok(reply::MC_META)], false);
    }

    #[test]
    fn partial_reply_is_under_way() {
        check(b"VALUE k 0 5\r\nab", &[], true);
        check(b"VALUE k 0 1\r\nx\r\n", &[], true);
        check(b"STOR", &[], true);
    }

    #[test]
    fn malformed_replies_are_errors() {
        let bad = Feed::Error(ProtocolError::BadReply);
        check(b"WHAT\r\n", &[bad], true);
        check(b"STORED\n", &[bad], true);
        check(b"STORED\rx", &[bad], true);
        check(b"VALUE k 0\r\n", &[bad], true);
        check(b"VALUE k 0 x\r\n", &[bad], true);
        check(b"VALUE k 0 2\r\nabc\r\n", &[bad], true);
        check(b"VALUE k 0 1\r\nx\r\nSTORED\r\n", &[bad], true);
        check(b"123456789012345678901\r\n", &[bad], true);
        check(b"VALUE k 0 99999999999999999999\r\n", &[bad], true);
        check(b"\r\n", &[bad], true);
    }
}

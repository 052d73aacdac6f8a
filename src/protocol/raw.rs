//! Raw TCP response framing: a delimiter, an exact byte count, the server's close, or "whatever
//! one read returns" (the original clobber's behaviour, kept as the default for raw targets).
//!
//! None of these framers buffers: the delimiter search carries its partial-match length across
//! calls (Knuth-Morris-Pratt), so a delimiter split over any number of reads is still found, and
//! every byte is consumed as soon as it is seen.

use super::{Done, Feed, Framer, ProtocolError};

/// A delimiter with its KMP failure table, built once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delimiter {
    pattern: Box<[u8]>,
    /// `fail[i]`: length of the longest proper prefix of `pattern[..=i]` that is also its suffix.
    fail: Box<[usize]>,
}

impl Delimiter {
    /// # Panics
    /// If `pattern` is empty: the command line rejects an empty `--until` before this.
    pub fn new(pattern: &[u8]) -> Delimiter {
        assert!(!pattern.is_empty(), "a delimiter must not be empty");
        let mut fail = vec![0usize; pattern.len()];
        let mut k = 0;
        for i in 1..pattern.len() {
            while k > 0 && pattern[i] != pattern[k] {
                k = fail[k - 1];
            }
            if pattern[i] == pattern[k] {
                k += 1;
            }
            fail[i] = k;
        }
        Delimiter { pattern: pattern.into(), fail: fail.into() }
    }

    pub fn pattern(&self) -> &[u8] {
        &self.pattern
    }

    /// Scans `input` with `matched` bytes of the pattern already seen. Returns the index just past
    /// the first complete delimiter (and resets `matched` to 0), or `None` with `matched` updated.
    #[inline]
    pub fn find_end(&self, matched: &mut usize, input: &[u8]) -> Option<usize> {
        let pat = &self.pattern;
        let mut k = *matched;
        let mut i = 0;
        while i < input.len() {
            if k == 0 {
                // Skip quickly to the next candidate first byte.
                match input[i..].iter().position(|&b| b == pat[0]) {
                    Some(off) => i += off,
                    None => break,
                }
            }
            let b = input[i];
            while k > 0 && b != pat[k] {
                k = self.fail[k - 1];
            }
            if b == pat[k] {
                k += 1;
            }
            i += 1;
            if k == pat.len() {
                *matched = 0;
                return Some(i);
            }
        }
        *matched = k;
        None
    }
}

/// How raw responses end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawFraming {
    /// Each read that returns bytes is one response (no framing option given).
    OneRead,
    /// A response ends with this delimiter (`--until`).
    Until(Delimiter),
    /// A response is exactly this many bytes (`--expect-bytes`).
    Exact(u64),
    /// A response ends when the server closes the connection (`--until-close`).
    UntilClose,
}

/// The per-connection framing state for raw responses.
#[derive(Debug, Clone)]
pub struct RawFramer {
    framing: RawFraming,
    /// Delimiter bytes matched so far (`Until`).
    matched: usize,
    /// Bytes of the current response consumed so far.
    got: u64,
}

impl RawFramer {
    pub fn new(framing: RawFraming) -> RawFramer {
        if let RawFraming::Exact(n) = framing {
            assert!(n > 0, "--expect-bytes must be at least 1");
        }
        RawFramer { framing, matched: 0, got: 0 }
    }

    fn complete(&mut self) -> Feed {
        self.got = 0;
        self.matched = 0;
        Feed::Complete(Done::RAW)
    }
}

impl Framer for RawFramer {
    #[inline]
    fn feed(&mut self, input: &[u8]) -> (usize, Feed) {
        match &self.framing {
            RawFraming::OneRead => {
                if input.is_empty() {
                    return (0, Feed::NeedMore);
                }
                (input.len(), self.complete())
            }
            RawFraming::Until(delim) => match delim.find_end(&mut self.matched, input) {
                Some(end) => (end, self.complete()),
                None => {
                    self.got += input.len() as u64;
                    (input.len(), Feed::NeedMore)
                }
            },
            RawFraming::Exact(n) => {
                let want = n - self.got;
                if (input.len() as u64) < want {
                    self.got += input.len() as u64;
                    (input.len(), Feed::NeedMore)
                } else {
                    (want as usize, self.complete())
                }
            }
            RawFraming::UntilClose => {
                self.got += input.len() as u64;
                (input.len(), Feed::NeedMore)
            }
        }
    }

    fn on_eof(&mut self) -> Feed {
        match self.framing {
            RawFraming::UntilClose => self.complete(),
            _ => Feed::Error(ProtocolError::Truncated),
        }
    }

    fn in_response(&self) -> bool {
        self.got > 0 || self.matched > 0
    }

    fn reset(&mut self) {
        self.got = 0;
        self.matched = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::feed_all;

    const OK: Feed = Feed::Complete(Done::RAW);

    /// Feeds `input` whole, byte by byte, and split at every position; all must give `expected`.
    fn check(framing: RawFraming, input: &[u8], expected: usize) {
        let whole = run(&framing, &[input]);
        assert_eq!(whole, expected, "whole input");
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&framing, &bytes), expected, "byte by byte");
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(run(&framing, &[a, b]), expected, "split at {cut}");
        }
    }

    fn run(framing: &RawFraming, pieces: &[&[u8]]) -> usize {
        let mut framer = RawFramer::new(framing.clone());
        let mut pending = Vec::new();
        let mut n = 0;
        for piece in pieces {
            for feed in feed_all(&mut framer, &mut pending, piece) {
                assert_eq!(feed, OK);
                n += 1;
            }
        }
        n
    }

    #[test]
    fn until_counts_each_delimiter() {
        check(RawFraming::Until(Delimiter::new(b"\r\n")), b"a\r\nbb\r\n\r\nccc\r\n", 4);
    }

    #[test]
    fn until_handles_self_overlapping_delimiter() {
        // "aab" inside "aaab": a naive matcher that restarts at 0 after a mismatch misses it.
        check(RawFraming::Until(Delimiter::new(b"aab")), b"aaabxaabaaab", 3);
        check(RawFraming::Until(Delimiter::new(b"abab")), b"abababab", 2);
    }

    #[test]
    fn until_leaves_partial_response_pending() {
        check(RawFraming::Until(Delimiter::new(b"END")), b"xxENDyyEN", 1);
    }

    #[test]
    fn exact_splits_a_stream_into_fixed_sizes() {
        check(RawFraming::Exact(3), b"abcdefgh", 2);
        check(RawFraming::Exact(1), b"abcdefgh", 8);
    }

    #[test]
    fn until_close_completes_only_at_eof() {
        let mut framer = RawFramer::new(RawFraming::UntilClose);
        assert_eq!(framer.feed(b"hello"), (5, Feed::NeedMore));
        assert!(framer.in_response());
        assert_eq!(framer.on_eof(), OK);
        assert!(!framer.in_response());
    }

    #[test]
    fn eof_mid_response_is_truncated() {
        let mut framer = RawFramer::new(RawFraming::Exact(10));
        assert_eq!(framer.feed(b"abc"), (3, Feed::NeedMore));
        assert_eq!(framer.on_eof(), Feed::Error(ProtocolError::Truncated));
    }

    #[test]
    fn one_read_is_one_response() {
        let mut framer = RawFramer::new(RawFraming::OneRead);
        assert_eq!(framer.feed(b"two\nlines\n"), (10, OK));
        assert_eq!(framer.feed(b""), (0, Feed::NeedMore));
    }

    #[test]
    fn find_end_carries_partial_match() {
        let d = Delimiter::new(b"\r\n\r\n");
        let mut m = 0;
        assert_eq!(d.find_end(&mut m, b"head\r\n\r"), None);
        assert_eq!(m, 3);
        assert_eq!(d.find_end(&mut m, b"\nbody"), Some(1));
        assert_eq!(m, 0);
    }
}

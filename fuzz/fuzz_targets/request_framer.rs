//! Arbitrary bytes, split at points taken from the input, through the HTTP request framer
//! (`clobber serve`'s): it must never panic, the split feed must agree with the one-shot
//! feed, and a framer that parses every head must agree with one that recalls its memo.
#![no_main]

use clobber::protocol::http::RequestFramer;
use clobber::protocol::{feed_all, Feed, Framer};
use libfuzzer_sys::fuzz_target;

fn frame(mut framer: RequestFramer, pieces: &[&[u8]]) -> (Vec<Feed>, bool) {
    let mut pending = Vec::new();
    let mut out = Vec::new();
    for piece in pieces {
        out.extend(feed_all(&mut framer, &mut pending, piece));
        if matches!(out.last(), Some(Feed::Error(_))) {
            return (out, false);
        }
    }
    (out, framer.in_response() || !pending.is_empty())
}

fuzz_target!(|data: &[u8]| {
    let (cuts, input) = data.split_at(data.len().min(2));
    let mut pieces = Vec::new();
    let mut last = 0;
    for &c in cuts {
        let cut = (c as usize * input.len() / 255).max(last);
        pieces.push(&input[last..cut]);
        last = cut;
    }
    pieces.push(&input[last..]);
    let whole = frame(RequestFramer::new(), &[input]);
    assert_eq!(frame(RequestFramer::new(), &pieces), whole);
    assert_eq!(frame(RequestFramer::parsing_every_head(), &[input]), whole);
});

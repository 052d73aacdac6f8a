//! Arbitrary bytes, split at points taken from the input, through the resp reply framer
//! (`--frame resp`): it must never panic, every byte fed must be consumed (it keeps no
//! buffer), and the split feed must agree with the one-shot feed.
#![no_main]

use clobber::protocol::resp::RespFramer;
use clobber::protocol::{feed_all, Feed, Framer};
use libfuzzer_sys::fuzz_target;

fn frame(pieces: &[&[u8]]) -> (Vec<Feed>, bool) {
    let mut framer = RespFramer::new();
    let mut pending = Vec::new();
    let mut out = Vec::new();
    for piece in pieces {
        out.extend(feed_all(&mut framer, &mut pending, piece));
        if matches!(out.last(), Some(Feed::Error(_))) {
            return (out, false);
        }
        assert!(pending.is_empty(), "the framer left bytes unconsumed");
    }
    (out, framer.in_response())
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
    assert_eq!(frame(&pieces), frame(&[input]));
});

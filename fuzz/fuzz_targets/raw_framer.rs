//! Arbitrary bytes, split at a point taken from the input, through the raw framers: they must
//! never panic, and the split feed must agree with the one-shot feed.
#![no_main]

use clobber::protocol::raw::{Delimiter, RawFramer, RawFraming};
use clobber::protocol::{feed_all, Feed};
use libfuzzer_sys::fuzz_target;

fn frame(framing: &RawFraming, pieces: &[&[u8]]) -> Vec<Feed> {
    let mut framer = RawFramer::new(framing.clone());
    let mut pending = Vec::new();
    pieces.iter().flat_map(|p| feed_all(&mut framer, &mut pending, p)).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else { return };
    let cut = cut as usize * input.len() / 255;
    let (a, b) = input.split_at(cut);
    for framing in [
        RawFraming::Until(Delimiter::new(b"\r\n")),
        RawFraming::Until(Delimiter::new(b"abab")),
        RawFraming::Exact(3),
        RawFraming::UntilClose,
        RawFraming::OneRead,
    ] {
        if framing == RawFraming::OneRead {
            // One read is one response by definition: splitting changes the count.
            let _ = frame(&framing, &[a, b]);
            continue;
        }
        assert_eq!(frame(&framing, &[a, b]), frame(&framing, &[input]));
    }
});

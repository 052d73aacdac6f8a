//! Arbitrary bytes as an HTTP/2 frame stream (after an optional client preface), split at points
//! taken from the input: splitting frames off a pending buffer, their payload parsers, and HPACK
//! on the header blocks must never panic, and the split stream must read as the whole one does.
#![no_main]

use clobber::protocol::h2::frame::{DEFAULT_MAX_FRAME_SIZE, PREFACE};
use clobber::protocol::h2::replay;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cuts, input) = data.split_at(data.len().min(2));
    let input = input.strip_prefix(PREFACE).unwrap_or(input);
    let mut pieces = Vec::new();
    let mut last = 0;
    for &c in cuts {
        let cut = (c as usize * input.len() / 255).max(last);
        pieces.push(&input[last..cut]);
        last = cut;
    }
    pieces.push(&input[last..]);
    assert_eq!(replay(&pieces, DEFAULT_MAX_FRAME_SIZE), replay(&[input], DEFAULT_MAX_FRAME_SIZE));
});

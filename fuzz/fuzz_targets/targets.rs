//! Arbitrary bytes as a `--targets` file and as a request with placeholders: the parser and the
//! template compiler must never panic, a compiled request keeps its length whatever its holes
//! are filled with, and holes lie inside the bytes without overlapping.
#![no_main]

use clobber::protocol::targets;
use clobber::protocol::template::{Rng, Template, Vars, Widths};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(entries) = targets::parse(text) {
            assert!(!entries.is_empty());
            assert!(entries.iter().all(|e| e.line >= 1 && !e.url.is_empty()));
        }
    }
    let widths = Widths::of_run(3, 120);
    if let Ok(t) = Template::compile(data, widths) {
        let mut end = 0;
        for hole in t.holes() {
            assert!(hole.at >= end && hole.at + usize::from(hole.width) <= t.len());
            end = hole.at + usize::from(hole.width);
        }
        let mut rng = Rng::new(data.len() as u64);
        for vars in [Vars { seq: 0, worker: 0, conn: 0 }, Vars { seq: u64::MAX, worker: 2, conn: 119 }] {
            let mut out = b"prefix".to_vec();
            t.write_into(&mut out, vars, &mut rng);
            assert_eq!(out.len(), 6 + t.len());
        }
    }
});

//! The fuzz targets' property, run as a normal test (the nightly toolchain that `cargo fuzz`
//! needs is not available everywhere): arbitrary bytes, split at arbitrary points, never panic
//! a framer, and a split feed always agrees with the one-shot feed. The inputs are the
//! regression corpora in `fuzz/corpus/` (`http_framer` for the response framers,
//! `request_framer` for `clobber serve`'s, `hpack_decoder`, `h2_frames` and `h2_session` for
//! HTTP/2 (the last: server bytes into the client's session),
//! `resp_framer` and `memcache_framer` for `--frame`, `targets` for the `--targets` parser and
//! the template compiler) plus deterministic pseudo-random mutations of them.

use clobber::protocol::h2::frame::{DEFAULT_MAX_FRAME_SIZE, PREFACE};
use clobber::protocol::h2::hpack::{encode, Decoder};
use clobber::protocol::h2::{client_replay, replay};
use clobber::protocol::http::{HttpFramer, RequestFramer};
use clobber::protocol::memcache::MemcacheFramer;
use clobber::protocol::raw::{Delimiter, RawFramer, RawFraming};
use clobber::protocol::resp::RespFramer;
use clobber::protocol::{feed_all, Feed, Framer};

/// A small deterministic generator (xorshift64*), so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Feeds `input` in the given pieces; stops at the first error. The results, and whether the
/// stream ended in the middle of a response.
fn frame<F: Framer>(mut framer: F, pieces: &[&[u8]]) -> (Vec<Feed>, bool) {
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

fn check<F: Framer>(make: impl Fn() -> F, input: &[u8], rng: &mut Rng) {
    let whole = frame(make(), &[input]);
    for _ in 0..8 {
        let mut cuts: Vec<usize> = (0..rng.below(6)).map(|_| rng.below(input.len() + 1)).collect();
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut last = 0;
        for cut in cuts {
            pieces.push(&input[last..cut]);
            last = cut;
        }
        pieces.push(&input[last..]);
        assert_eq!(
            frame(make(), &pieces),
            whole,
            "split {:?} of {:?}",
            pieces.iter().map(|p| p.len()).collect::<Vec<_>>(),
            String::from_utf8_lossy(input)
        );
    }
}

/// The files of `fuzz/corpus/<target>`, sorted.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 8, "the corpus is in {}", dir.display());
    inputs
}

fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(4) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            1 => {
                let i = rng.below(out.len() + 1);
                out.insert(i, b"\r\n0123456789abcdefxz;: "[rng.below(23)]);
            }
            2 if !out.is_empty() => {
                let i = rng.below(out.len());
                out.remove(i);
            }
            _ => {
                let i = rng.below(out.len() + 1);
                let j = rng.below(out.len() + 1);
                let (a, b) = (i.min(j), i.max(j));
                let copy = out[a..b].to_vec();
                out.extend_from_slice(&copy);
            }
        }
    }
    out
}

#[test]
fn framers_never_panic_and_splits_agree_with_one_shot() {
    let mut rng = Rng(0x5eed_c10b_b3e5);
    let corpus = corpus("http_framer");
    for round in 0..400 {
        let base = &corpus[round % corpus.len()];
        let input = if round < corpus.len() { base.clone() } else { mutate(base, &mut rng) };
        check(|| HttpFramer::new(false), &input, &mut rng);
        check(|| HttpFramer::new(true), &input, &mut rng);
        check(|| RawFramer::new(RawFraming::Until(Delimiter::new(b"\r\n\r\n"))), &input, &mut rng);
        check(|| RawFramer::new(RawFraming::Until(Delimiter::new(b"aab"))), &input, &mut rng);
        check(|| RawFramer::new(RawFraming::Exact(7)), &input, &mut rng);
        check(|| RawFramer::new(RawFraming::UntilClose), &input, &mut rng);
    }
}

#[test]
fn request_framer_never_panics_splits_agree_with_one_shot_and_memo_with_parser() {
    let mut rng = Rng(0x5eed_5e7e_c0de);
    let corpus = corpus("request_framer");
    for round in 0..600 {
        let base = &corpus[round % corpus.len()];
        let input = if round < corpus.len() { base.clone() } else { mutate(base, &mut rng) };
        check(RequestFramer::new, &input, &mut rng);
        // The fuzz target reads its first two bytes as cut points: frame the rest alone too.
        let rest = &input[input.len().min(2)..];
        check(RequestFramer::new, rest, &mut rng);
        // The head memo answers only as the parser would.
        for bytes in [&input[..], rest] {
            let parsed = frame(RequestFramer::parsing_every_head(), &[bytes]);
            assert_eq!(frame(RequestFramer::new(), &[bytes]), parsed, "{:?}", String::from_utf8_lossy(bytes));
        }
    }
}

#[test]
fn targets_and_templates_never_panic_and_keep_their_length() {
    use clobber::protocol::targets;
    use clobber::protocol::template::{Rng as Generator, Template, Vars, Widths};
    let mut rng = Rng(0x5eed_7a46_e7e5);
    let corpus = corpus("targets");
    for round in 0..2000 {
        let base = &corpus[round % corpus.len()];
        let input = if round < corpus.len() { base.clone() } else { mutate(base, &mut rng) };
        if let Ok(text) = std::str::from_utf8(&input) {
            if let Ok(entries) = targets::parse(text) {
                assert!(entries.iter().all(|e| e.line >= 1 && !e.url.is_empty()), "{text:?}");
            }
        }
        if let Ok(t) = Template::compile(&input, Widths::of_run(3, 120)) {
            let mut end = 0;
            for hole in t.holes() {
                assert!(hole.at >= end && hole.at + usize::from(hole.width) <= t.len());
                end = hole.at + usize::from(hole.width);
            }
            let mut out = Vec::new();
            t.write_into(&mut out, Vars { seq: u64::MAX, worker: 2, conn: 119 }, &mut Generator::new(round as u64));
            assert_eq!(out.len(), t.len(), "{:?}", String::from_utf8_lossy(&input));
        }
    }
}

#[test]
fn reply_framers_never_panic_and_splits_agree_with_one_shot() {
    let mut rng = Rng(0x5eed_4e5b_3c4c);
    for target in ["resp_framer", "memcache_framer"] {
        let corpus = corpus(target);
        for round in 0..600 {
            let base = &corpus[round % corpus.len()];
            let input = if round < corpus.len() { base.clone() } else { mutate(base, &mut rng) };
            // Each framer gets the other's inputs too: bytes of the wrong protocol must not
            // panic it either.
            check(RespFramer::new, &input, &mut rng);
            check(MemcacheFramer::new, &input, &mut rng);
        }
    }
}

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn hpack_decode(d: &mut Decoder, block: &[u8]) -> Option<Fields> {
    let mut fields = Vec::new();
    d.decode(block, &mut |n, v| fields.push((n.to_vec(), v.to_vec()))).ok().map(|()| fields)
}

/// The `hpack_decoder` target's property: the first byte sets the table size limit (× 32), then
/// each block is a length byte and its bytes. The table never outgrows the limit, and the fields
/// of a block that decodes, re-encoded by the client's encoder, decode back the same. Returns
/// how many blocks decoded.
fn check_hpack(data: &[u8]) -> usize {
    let Some((&size, mut rest)) = data.split_first() else { return 0 };
    let limit = size as usize * 32;
    let mut d = Decoder::new(limit);
    let mut decoded = 0;
    while let Some((&len, after)) = rest.split_first() {
        let (block, next) = after.split_at((len as usize).min(after.len()));
        rest = next;
        let fields = hpack_decode(&mut d, block);
        assert!(d.table_size() <= limit, "table {} over {limit}", d.table_size());
        let Some(fields) = fields else { break };
        decoded += 1;
        let refs: Vec<(&[u8], &[u8])> = fields.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        let mut encoded = Vec::new();
        encode(&refs, &mut encoded);
        let lower: Fields = fields.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect();
        assert_eq!(hpack_decode(&mut Decoder::new(0), &encoded), Some(lower), "re-encoded {block:02x?}");
    }
    decoded
}

#[test]
fn hpack_decoder_never_panics_and_round_trips_through_the_encoder() {
    let mut rng = Rng(0x5eed_49ac_4a11);
    let corpus = corpus("hpack_decoder");
    // The valid files (RFC 7541 Appendix C, h2load's, nginx's and h2o's blocks) decode whole.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/hpack_decoder");
    for name in ["c2", "c3", "c4", "c5", "c6", "h2load_requests", "h2o_responses", "nginx_responses", "nginx_like"] {
        let input = std::fs::read(dir.join(name)).unwrap();
        let mut blocks = 0;
        let mut rest = &input[1..];
        while let Some((&len, after)) = rest.split_first() {
            rest = &after[len as usize..];
            blocks += 1;
        }
        assert_eq!(check_hpack(&input), blocks, "{name}");
    }
    for input in &corpus {
        check_hpack(input);
    }
    for round in 0..3000 {
        let input = mutate(&corpus[round % corpus.len()], &mut rng);
        check_hpack(&input);
    }
}

/// The `h2_frames` target's property: two cut bytes, then a frame stream (after an optional
/// preface); the split stream reads as the whole one does.
fn check_frames(data: &[u8], rng: &mut Rng) -> Vec<String> {
    let input = data.get(2..).unwrap_or_default();
    let input = input.strip_prefix(PREFACE).unwrap_or(input);
    let whole = replay(&[input], DEFAULT_MAX_FRAME_SIZE);
    for _ in 0..4 {
        let mut cuts: Vec<usize> = (0..rng.below(6)).map(|_| rng.below(input.len() + 1)).collect();
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut last = 0;
        for cut in cuts {
            pieces.push(&input[last..cut]);
            last = cut;
        }
        pieces.push(&input[last..]);
        assert_eq!(
            replay(&pieces, DEFAULT_MAX_FRAME_SIZE),
            whole,
            "split {:?}",
            pieces.iter().map(|p| p.len()).collect::<Vec<_>>()
        );
    }
    whole
}

#[test]
fn h2_frames_never_panic_and_splits_agree_with_one_shot() {
    let mut rng = Rng(0x5eed_f4a3_e5e5);
    let corpus = corpus("h2_frames");
    let mut errors = 0;
    for input in &corpus {
        let seen = check_frames(input, &mut rng);
        errors += seen.iter().filter(|s| s.contains("Err") || s.starts_with("split")).count();
    }
    // The corpus holds both well-formed streams and bad frames: the property must see both.
    assert!(errors > 0, "no corpus frame was rejected");
    for round in 0..2000 {
        let input = mutate(&corpus[round % corpus.len()], &mut rng);
        check_frames(&input, &mut rng);
    }
}

/// The `h2_session` target's property (`client_replay` asserts it): server bytes fed to the
/// client's session never panic it, every failure is an error, and every stream ends once.
#[test]
fn h2_session_never_panics_and_every_stream_ends_once() {
    let mut rng = Rng(0x5eed_5e55_1011);
    let corpus = corpus("h2_session");
    let (mut responses, mut errors) = (0, 0);
    for input in &corpus {
        let seen = client_replay(input);
        responses += seen.iter().filter(|s| s.starts_with("response")).count();
        errors += seen.iter().filter(|s| s.starts_with("error")).count();
    }
    // The corpus holds both answered streams and violations: the property must see both.
    assert!(responses > 0 && errors > 0, "{responses} responses, {errors} errors");
    for round in 0..3000 {
        let mut input = mutate(&corpus[round % corpus.len()], &mut rng);
        if round % 3 == 0 {
            // Other streams, body lengths and cut points for the same server bytes.
            for b in input.iter_mut().take(4) {
                *b = rng.next() as u8;
            }
        }
        client_replay(&input);
    }
}

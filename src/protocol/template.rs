//! Requests with per-request values: a request compiled once into bytes with holes at known
//! offsets, and filled per request by writing digits into the holes.
//!
//! Placeholders: `{{seq}}` (a number unique within the run), `{{rand:LO-HI}}` (a uniform integer
//! in LO..=HI from the worker's seeded generator), `{{worker}}` (the worker's number) and
//! `{{conn}}` (the connection's number within the run). Any other `{{` is literal text, so a
//! body that happens to hold `{{` is sent as written; a `{{rand:` whose range does not parse is
//! an error (it was meant as a placeholder), and a `{{...}}` that looks like a misspelt name
//! (`{{Seq}}`) is kept in `Template::unknown`, which setup turns into a warning.
//!
//! Invariant: a hole has a fixed width, chosen when compiling (for `rand`, the digits of HI;
//! for the others, from `Widths`), and every value is written zero-padded to that width. So a
//! compiled request has one length for every request it makes: a `Content-Length` computed at
//! compile time is right for all of them, and filling never moves a byte. Filling costs a copy
//! of the bytes and a few digit stores per hole: no allocation, no formatting machinery.

use std::fmt;
use std::ops::Range;

/// The digits of `{{seq}}`: values wrap at 10^12 (at two million requests a second, after
/// almost six days). Twelve digits, as redis-benchmark's `__rand_int__`.
pub const SEQ_DIGITS: u8 = 12;

/// Most digits a hole holds: `u64::MAX` has 20.
const DIGITS_MAX: u8 = 20;

/// What a hole is filled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Seq,
    /// Uniform in `lo..=hi`.
    Rand {
        lo: u64,
        hi: u64,
    },
    Worker,
    Conn,
}

/// A hole: `width` digits at byte `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hole {
    pub at: usize,
    pub width: u8,
    pub value: Value,
}

/// The widths of the holes whose range the run decides: `{{seq}}`, `{{worker}}` (enough for the
/// last worker's number) and `{{conn}}` (the last connection's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Widths {
    pub seq: u8,
    pub worker: u8,
    pub conn: u8,
}

impl Widths {
    /// The widths for a run of `threads` workers and `connections` connections.
    pub fn of_run(threads: usize, connections: usize) -> Widths {
        Widths {
            seq: SEQ_DIGITS,
            worker: digits(threads.saturating_sub(1) as u64),
            conn: digits(connections.saturating_sub(1) as u64),
        }
    }
}

/// A placeholder that cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// Byte offset of the placeholder in the text.
    pub at: usize,
    pub placeholder: String,
    pub reason: &'static str,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "placeholder '{}': {}", self.placeholder, self.reason)
    }
}

/// A request's bytes with its holes (zeros in the bytes until filled).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    bytes: Vec<u8>,
    holes: Vec<Hole>,
    /// What looked like a placeholder and is not one (`{{Seq}}`, `{{ seq }}`, `{{rnd:1-9}}`):
    /// sent as written, and worth a warning.
    unknown: Vec<String>,
}

/// The per-request values a fill needs besides the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vars {
    pub seq: u64,
    pub worker: u64,
    pub conn: u64,
}

impl Template {
    /// Bytes without placeholders, sent as they are.
    pub fn literal(bytes: &[u8]) -> Template {
        Template { bytes: bytes.to_vec(), holes: Vec::new(), unknown: Vec::new() }
    }

    /// Finds the placeholders in `text` and leaves a zero-filled hole for each.
    pub fn compile(text: &[u8], widths: Widths) -> Result<Template, TemplateError> {
        let mut bytes = Vec::with_capacity(text.len());
        let mut holes = Vec::new();
        let mut unknown = Vec::new();
        let mut i = 0;
        while i < text.len() {
            if !text[i..].starts_with(b"{{") {
                bytes.push(text[i]);
                i += 1;
                continue;
            }
            let Some(close) = text[i + 2..].windows(2).position(|w| w == b"}}") else {
                bytes.push(text[i]);
                i += 1;
                continue;
            };
            let inner = &text[i + 2..i + 2 + close];
            let end = i + 2 + close + 2;
            let placeholder = || String::from_utf8_lossy(&text[i..end]).into_owned();
            let fail = |reason| TemplateError { at: i, placeholder: placeholder(), reason };
            let (value, width) = match inner {
                b"seq" => (Value::Seq, widths.seq),
                b"worker" => (Value::Worker, widths.worker),
                b"conn" => (Value::Conn, widths.conn),
                _ => match inner.strip_prefix(b"rand:") {
                    Some(range) => {
                        let (lo, hi) =
                            parse_range(range).ok_or_else(|| fail("expected {{rand:LO-HI}}, e.g. {{rand:1-1000}}"))?;
                        if lo > hi {
                            return Err(fail("LO is above HI"));
                        }
                        (Value::Rand { lo, hi }, digits(hi))
                    }
                    // Not a placeholder: literal text (noted if it looks like a misspelt one).
                    None => {
                        if looks_like_a_name(inner) {
                            unknown.push(placeholder());
                        }
                        bytes.push(text[i]);
                        i += 1;
                        continue;
                    }
                },
            };
            assert!((1..=DIGITS_MAX).contains(&width), "a hole is 1 to 20 digits wide");
            holes.push(Hole { at: bytes.len(), width, value });
            bytes.resize(bytes.len() + usize::from(width), b'0');
            i = end;
        }
        Ok(Template { bytes, holes, unknown })
    }

    /// The bytes, with every hole zero-filled.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn holes(&self) -> &[Hole] {
        &self.holes
    }

    /// Appends another template after this one (its holes move with its bytes).
    pub fn append(&mut self, tail: &Template) {
        let base = self.bytes.len();
        self.bytes.extend_from_slice(&tail.bytes);
        self.holes.extend(tail.holes.iter().map(|h| Hole { at: h.at + base, ..*h }));
        self.unknown.extend_from_slice(&tail.unknown);
    }

    /// The `{{...}}` in the text that look like placeholders but are not, in order (sent as
    /// written).
    pub fn unknown(&self) -> &[String] {
        &self.unknown
    }

    /// Appends one request to `out`: the bytes, then the holes filled. `out` keeps its
    /// capacity between requests, so this allocates only while it first grows.
    #[inline]
    pub fn write_into(&self, out: &mut Vec<u8>, vars: Vars, rng: &mut Rng) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        self.fill(&mut out[start..], vars, rng);
    }

    /// Fills the holes of `request`, a copy of this template's bytes.
    #[inline]
    pub fn fill(&self, request: &mut [u8], vars: Vars, rng: &mut Rng) {
        debug_assert_eq!(request.len(), self.bytes.len(), "a fill needs the template's own bytes");
        fill_holes(request, &self.holes, vars, rng);
    }
}

/// Writes each hole's value into `request` at the hole's offset.
#[inline]
fn fill_holes(request: &mut [u8], holes: &[Hole], vars: Vars, rng: &mut Rng) {
    for hole in holes {
        let n = match hole.value {
            Value::Seq => vars.seq,
            Value::Worker => vars.worker,
            Value::Conn => vars.conn,
            // The span wraps to 0 only for 0..=u64::MAX, which `below(0)` covers whole.
            Value::Rand { lo, hi } => lo.wrapping_add(rng.below((hi - lo).wrapping_add(1))),
        };
        put_digits(&mut request[hole.at..hole.at + usize::from(hole.width)], n);
    }
}

/// A list of templates laid out for the hot path: every entry's bytes back to back in one
/// buffer, every hole in one array, and a small span per entry saying where its bytes and
/// holes are. As separate `Template`s, a request of a 1,000-entry list reads its entry, then
/// its bytes and its holes from two more allocations; here it reads one span and two places of
/// two arrays that a round-robin walk reads in order. A hole's random span (`HI - LO + 1`) is
/// computed here once, not per request.
///
/// After the entries may come a tail (`with_tail`): the first entries again, so that a run of
/// consecutive entries that wraps past the last one still lies back to back and `fill_run` can
/// fill it in place. With one entry and batches of 16 (a single URL with a `{{rand}}`,
/// pipelined), every batch would wrap without it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplateSet {
    bytes: Vec<u8>,
    holes: Vec<FlatHole>,
    /// The entries', then the tail's.
    spans: Vec<Span>,
    /// How many entries (the spans after them are the tail).
    entries: usize,
}

/// The most bytes a `TemplateSet`'s tail takes: a list of large requests gets a shorter tail
/// (its runs that wrap are copied, as they were without one).
pub const TAIL_BYTES_MAX: usize = 256 * 1024;

/// One entry of a `TemplateSet`: its bytes are `bytes[start..end]`, its holes
/// `holes[holes_start..holes_end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    holes_start: usize,
    holes_end: usize,
}

/// A `Hole` as a `TemplateSet` keeps it: `at` counts from the start of its own entry; a random
/// value is `lo + below(span)`, the others are `lo` 0 and `span` 0 with their `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FlatHole {
    at: usize,
    width: usize,
    kind: Kind,
    lo: u64,
    span: u64,
}

/// `Value` without its range (a `FlatHole` keeps it as `lo` and `span`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rand = 0,
    /// The others are 1 + their index in `[seq, worker, conn]`.
    Seq = 1,
    Worker = 2,
    Conn = 3,
}

impl TemplateSet {
    pub fn new(templates: &[Template]) -> TemplateSet {
        TemplateSet::with_tail(templates, 0)
    }

    /// The set, then a tail of up to `run - 1` entries (from the first on, round and round,
    /// and at most `TAIL_BYTES_MAX` bytes), so that `fill_run` fills any run of up to `run`
    /// entries in place.
    pub fn with_tail(templates: &[Template], run: usize) -> TemplateSet {
        let mut tail = Vec::new();
        let mut tail_bytes = 0;
        for t in templates.iter().cycle().take(if templates.is_empty() { 0 } else { run.saturating_sub(1) }) {
            tail_bytes += t.len();
            if tail_bytes > TAIL_BYTES_MAX {
                break;
            }
            tail.push(t);
        }
        let all = || templates.iter().chain(tail.iter().copied());
        let mut set = TemplateSet {
            bytes: Vec::with_capacity(all().map(Template::len).sum()),
            holes: Vec::with_capacity(all().map(|t| t.holes.len()).sum()),
            spans: Vec::with_capacity(templates.len() + tail.len()),
            entries: templates.len(),
        };
        for t in all() {
            let span = Span {
                start: set.bytes.len(),
                end: set.bytes.len() + t.len(),
                holes_start: set.holes.len(),
                holes_end: set.holes.len() + t.holes.len(),
            };
            set.bytes.extend_from_slice(&t.bytes);
            set.holes.extend(t.holes.iter().map(|h| {
                // The span wraps to 0 only for 0..=u64::MAX, which `below(0)` covers whole.
                let (kind, lo, span) = match h.value {
                    Value::Rand { lo, hi } => (Kind::Rand, lo, (hi - lo).wrapping_add(1)),
                    Value::Seq => (Kind::Seq, 0, 0),
                    Value::Worker => (Kind::Worker, 0, 0),
                    Value::Conn => (Kind::Conn, 0, 0),
                };
                FlatHole { at: h.at, width: usize::from(h.width), kind, lo, span }
            }));
            set.spans.push(span);
        }
        set
    }

    /// How many entries the set holds.
    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The longest entry, in bytes.
    pub fn len_max(&self) -> usize {
        self.spans.iter().map(|s| s.end - s.start).max().unwrap_or(0)
    }

    /// Appends entry `i`'s request to `out`, its holes filled: what `Template::write_into`
    /// does for that entry.
    #[inline(always)]
    pub fn write_into(&self, i: usize, out: &mut Vec<u8>, vars: Vars, rng: &mut Rng) {
        let span = self.spans[i];
        let start = out.len();
        out.extend_from_slice(&self.bytes[span.start..span.end]);
        self.fill(span, &mut out[start..], vars, rng);
    }

    /// Appends the requests of the `n` entries from `first` on, in the list's order (wrapping
    /// to entry 0 after the last), the k-th with `{{seq}}` `vars.seq + k × seq_step`: what `n`
    /// calls of `write_into` would append. Consecutive entries lie back to back in `bytes`, so
    /// a run of them is one copy (two where the list wraps), not one per request.
    pub fn write_run_into(
        &self,
        first: usize,
        n: usize,
        out: &mut Vec<u8>,
        mut vars: Vars,
        seq_step: u64,
        rng: &mut Rng,
    ) {
        let (mut i, mut left) = (first, n);
        while left > 0 {
            let run = &self.spans[i..self.entries.min(i + left)];
            let (run_start, run_end) = (run[0].start, run[run.len() - 1].end);
            let base = out.len();
            out.extend_from_slice(&self.bytes[run_start..run_end]);
            let requests = &mut out[base..];
            for span in run {
                self.fill(*span, &mut requests[span.start - run_start..span.end - run_start], vars, rng);
                vars.seq = vars.seq.wrapping_add(seq_step);
            }
            left -= run.len();
            i = 0;
        }
    }

    /// Fills, where they lie in the set's own bytes, the holes of the `n` entries from `first`
    /// on, as `write_run_into` fills its copy, and returns where their requests now are (for
    /// `bytes`). `None`, with nothing filled, when the run wraps past the last entry (its
    /// requests do not lie back to back, even in the tail).
    ///
    /// Nothing is copied: the caller writes the requests straight from the set, as a fixed
    /// request is written straight from its batch. A hole is always filled in whole (every
    /// digit of its slot), so what an earlier fill left is overwritten. The bytes are good
    /// until the next fill of the same entries: a caller that cannot write them at once
    /// copies them.
    pub fn fill_run(
        &mut self,
        first: usize,
        n: usize,
        mut vars: Vars,
        seq_step: u64,
        rng: &mut Rng,
    ) -> Option<Range<usize>> {
        let run = self.spans.get(first..first + n)?;
        let Some((head, tail)) = run.first().zip(run.last()) else {
            return Some(0..0);
        };
        let (start, end) = (head.start, tail.end);
        for span in run {
            fill_flat(&self.holes[span.holes_start..span.holes_end], &mut self.bytes[span.start..span.end], vars, rng);
            vars.seq = vars.seq.wrapping_add(seq_step);
        }
        Some(start..end)
    }

    /// The set's bytes at `range` (a range `fill_run` returned).
    #[inline(always)]
    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.bytes[range]
    }

    /// Fills the holes of `request`, a copy of the entry's bytes at `span`.
    #[inline(always)]
    fn fill(&self, span: Span, request: &mut [u8], vars: Vars, rng: &mut Rng) {
        fill_flat(&self.holes[span.holes_start..span.holes_end], request, vars, rng);
    }
}

/// Writes each of an entry's `holes` into `request`, the entry's bytes (or a copy of them).
#[inline(always)]
fn fill_flat(holes: &[FlatHole], request: &mut [u8], vars: Vars, rng: &mut Rng) {
    for hole in holes {
        // A test and an index instead of a four-way match: the compiler made the match a jump
        // table, which cost a tenth of the fill.
        let n = if hole.kind == Kind::Rand {
            hole.lo.wrapping_add(rng.below(hole.span))
        } else {
            [vars.seq, vars.worker, vars.conn][hole.kind as usize - 1]
        };
        put_digits(&mut request[hole.at..hole.at + hole.width], n);
    }
}

/// "00" to "99": digits are written two at a time.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `n` into `slot` in decimal, zero-padded; a value too wide keeps its low digits (so
/// `{{seq}}` wraps at 10^12).
///
/// The digits come in groups of four, each group split into two pairs that are independent of
/// each other: a profile of pipelined `{{rand}}` requests spent most of the fill waiting on a
/// chain of one division per digit, which this shortens to one per four digits.
#[inline]
pub fn put_digits(slot: &mut [u8], mut n: u64) {
    let mut end = slot.len();
    while end >= 4 {
        let group = (n % 10_000) as usize;
        n /= 10_000;
        let (hi, lo) = (group / 100 * 2, group % 100 * 2);
        slot[end - 4..end - 2].copy_from_slice(&DIGIT_PAIRS[hi..hi + 2]);
        slot[end - 2..end].copy_from_slice(&DIGIT_PAIRS[lo..lo + 2]);
        end -= 4;
    }
    if end >= 2 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        slot[end - 2..end].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        end -= 2;
    }
    if end == 1 {
        slot[0] = b'0' + (n % 10) as u8;
    }
}

/// How many decimal digits `n` has (0 has one).
pub fn digits(mut n: u64) -> u8 {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Whether the text between `{{` and `}}` looks like a placeholder's name: a short run of
/// letters, digits, spaces and `_:-.` with a letter in it (`{{ seq }}`, `{{rnd:1-9}}`), not
/// JSON or code that happens to hold braces.
fn looks_like_a_name(inner: &[u8]) -> bool {
    (1..=32).contains(&inner.len())
        && inner.iter().any(u8::is_ascii_alphabetic)
        && inner.iter().all(|&b| b.is_ascii_alphanumeric() || b" _:-.".contains(&b))
}

/// `LO-HI`, both decimal.
fn parse_range(range: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(range).ok()?;
    let (lo, hi) = text.split_once('-')?;
    let number = |s: &str| s.bytes().all(|b| b.is_ascii_digit()).then(|| s.parse::<u64>().ok()).flatten();
    Some((number(lo)?, number(hi)?))
}

/// A small, fast, seeded generator (SplitMix64): one per worker, so a seed gives the same
/// sequence run after run. Not for cryptography.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` 0 stands for 2^64), by a multiply and a shift (Lemire's method
    /// without its rejection step: the bias is below n / 2^64, nothing a load test can see).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return self.next_u64();
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Widths = Widths { seq: 12, worker: 1, conn: 3 };

    fn fill_one(t: &Template, vars: Vars, seed: u64) -> String {
        let mut out = Vec::new();
        t.write_into(&mut out, vars, &mut Rng::new(seed));
        String::from_utf8(out).unwrap()
    }

    const VARS: Vars = Vars { seq: 42, worker: 1, conn: 7 };

    #[test]
    fn text_without_placeholders_is_literal() {
        for text in [&b"GET / HTTP/1.1\r\n\r\n"[..], b"{{", b"a {{ b }}", b"{{nope}}", b"}}{{", b"{{seq", b""] {
            let t = Template::compile(text, W).unwrap();
            assert_eq!(t.bytes(), text);
            assert!(t.holes().is_empty());
        }
    }

    #[test]
    fn holes_are_fixed_width() {
        let t = Template::compile(b"/k/{{seq}}/{{worker}}/{{conn}}/{{rand:5-250}}", W).unwrap();
        assert_eq!(t.bytes(), b"/k/000000000000/0/000/000");
        assert_eq!(t.holes().len(), 4);
        let s = fill_one(&t, VARS, 1);
        assert_eq!(s.len(), t.len());
        assert!(s.starts_with("/k/000000000042/1/007/"), "{s}");
        let r: u64 = s[s.len() - 3..].parse().unwrap();
        assert!((5..=250).contains(&r));
    }

    #[test]
    fn rand_stays_in_range_and_covers_it() {
        let t = Template::compile(b"{{rand:1-10}}", W).unwrap();
        assert_eq!(t.len(), 2);
        let mut rng = Rng::new(7);
        let mut seen = [0u32; 11];
        for _ in 0..10_000 {
            let mut out = Vec::new();
            t.write_into(&mut out, VARS, &mut rng);
            let v: usize = std::str::from_utf8(&out).unwrap().parse().unwrap();
            seen[v] += 1;
        }
        assert_eq!(seen[0], 0);
        assert!(seen[1..].iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
    }

    #[test]
    fn same_seed_same_values() {
        let t = Template::compile(b"{{rand:0-1000000}}", W).unwrap();
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..100)
                .map(|_| {
                    let mut out = Vec::new();
                    t.write_into(&mut out, VARS, &mut rng);
                    out
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn full_u64_range_and_single_value() {
        let t = Template::compile(b"{{rand:0-18446744073709551615}}", W).unwrap();
        assert_eq!(t.len(), 20);
        assert_eq!(fill_one(&t, VARS, 1).len(), 20, "the whole range fills without overflow");
        let t = Template::compile(b"{{rand:3-3}}", W).unwrap();
        assert_eq!(fill_one(&t, VARS, 0), "3");
    }

    #[test]
    fn bad_ranges_are_errors() {
        for (text, reason) in [
            (&b"x{{rand:}}"[..], "expected"),
            (b"x{{rand:1}}", "expected"),
            (b"x{{rand:a-b}}", "expected"),
            (b"x{{rand:-1-5}}", "expected"),
            (b"x{{rand:1-99999999999999999999999}}", "expected"),
            (b"x{{rand:9-1}}", "LO is above HI"),
        ] {
            let e = Template::compile(text, W).unwrap_err();
            assert_eq!(e.at, 1, "{e}");
            assert!(e.reason.contains(reason), "{e}");
        }
    }

    #[test]
    fn seq_wraps_at_its_width() {
        let t = Template::compile(b"{{seq}}", Widths { seq: 3, ..W }).unwrap();
        assert_eq!(fill_one(&t, Vars { seq: 12_345, ..VARS }, 0), "345");
    }

    #[test]
    fn append_moves_holes() {
        let mut head = Template::compile(b"A{{worker}}", W).unwrap();
        head.append(&Template::compile(b"B{{conn}}", W).unwrap());
        assert_eq!(head.holes()[1].at, 3);
        assert_eq!(fill_one(&head, VARS, 0), "A1B007");
    }

    #[test]
    fn a_set_writes_what_its_templates_write() {
        let texts: [&[u8]; 4] = [b"/a/{{seq}}", b"", b"/c/{{rand:1-999}}/{{conn}}/{{rand:5-5}}", b"/d"];
        let templates: Vec<Template> = texts.iter().map(|t| Template::compile(t, W).unwrap()).collect();
        let set = TemplateSet::new(&templates);
        assert_eq!(set.len(), 4);
        let (mut a, mut b) = (Rng::new(9), Rng::new(9));
        let mut from_set = b"prefix".to_vec();
        let mut from_templates = b"prefix".to_vec();
        for i in [2, 0, 3, 1, 2, 2, 0] {
            set.write_into(i, &mut from_set, VARS, &mut a);
            templates[i].write_into(&mut from_templates, VARS, &mut b);
        }
        assert_eq!(String::from_utf8(from_set).unwrap(), String::from_utf8(from_templates).unwrap());
        // Runs, wrapping and not, write what one request at a time writes.
        for (first, n) in [(0, 4), (1, 2), (2, 7), (3, 1), (0, 0)] {
            let (mut a, mut b) = (Rng::new(first as u64), Rng::new(first as u64));
            let mut run = b"prefix".to_vec();
            set.write_run_into(first, n, &mut run, VARS, 3, &mut a);
            let mut one_by_one = b"prefix".to_vec();
            for k in 0..n {
                let vars = Vars { seq: VARS.seq + 3 * k as u64, ..VARS };
                set.write_into((first + k) % set.len(), &mut one_by_one, vars, &mut b);
            }
            assert_eq!(String::from_utf8(run).unwrap(), String::from_utf8(one_by_one).unwrap(), "{first} {n}");
        }
    }

    #[test]
    fn a_run_filled_in_place_is_what_a_run_copied_is() {
        let texts: [&[u8]; 4] = [b"/a/{{seq}}", b"", b"/c/{{rand:1-999}}/{{conn}}/{{rand:5-5}}", b"/d{{rand:0-9}}"];
        let templates: Vec<Template> = texts.iter().map(|t| Template::compile(t, W).unwrap()).collect();
        let mut set = TemplateSet::new(&templates);
        // Runs that do not wrap, several times over the same entries: every hole is refilled.
        for (round, (first, n)) in [(0, 4), (1, 2), (2, 2), (3, 1), (0, 3), (4, 0), (2, 2)].into_iter().enumerate() {
            let (mut a, mut b) = (Rng::new(round as u64), Rng::new(round as u64));
            let vars = Vars { seq: round as u64 * 1000, ..VARS };
            let range = set.fill_run(first, n, vars, 3, &mut a).expect("the run does not wrap");
            let mut copied = Vec::new();
            set.write_run_into(first, n, &mut copied, vars, 3, &mut b);
            assert_eq!(String::from_utf8_lossy(set.bytes(range)), String::from_utf8_lossy(&copied), "{first} {n}");
            assert_eq!(a, b, "as many draws");
        }
        // A run that wraps fills nothing.
        let before = set.clone();
        assert_eq!(set.fill_run(3, 2, VARS, 1, &mut Rng::new(1)), None);
        assert_eq!(set.fill_run(1, 4, VARS, 1, &mut Rng::new(1)), None);
        assert_eq!(set, before);
        // With a tail for runs of up to 6, runs that wrap (even twice) are filled in place too.
        let mut tailed = TemplateSet::with_tail(&templates, 6);
        assert_eq!(tailed.len(), 4);
        for (first, n) in [(3, 2), (1, 4), (2, 6), (3, 6), (0, 6)] {
            let (mut a, mut b) = (Rng::new(5), Rng::new(5));
            let range = tailed.fill_run(first, n, VARS, 2, &mut a).expect("the tail holds the run");
            let mut copied = Vec::new();
            tailed.write_run_into(first, n, &mut copied, VARS, 2, &mut b);
            assert_eq!(String::from_utf8_lossy(tailed.bytes(range)), String::from_utf8_lossy(&copied), "{first} {n}");
        }
        assert_eq!(tailed.fill_run(3, 7, VARS, 2, &mut Rng::new(5)), None, "longer than the tail");
        // A tail stops at TAIL_BYTES_MAX.
        let big = Template::literal(&vec![b'x'; TAIL_BYTES_MAX / 3]);
        let capped = TemplateSet::with_tail(&[big.clone(), big], 16);
        assert_eq!(capped.bytes.len(), TAIL_BYTES_MAX / 3 * 5);
    }

    #[test]
    fn what_looks_like_a_misspelt_placeholder_is_noted() {
        let t = Template::compile(b"/{{Seq}}/{{ seq }}/{{rnd:1-9}}/{{seq}}/{{}}/{{\"a\": 1}}/{{42}}", W).unwrap();
        assert_eq!(t.unknown(), ["{{Seq}}", "{{ seq }}", "{{rnd:1-9}}"]);
        assert_eq!(t.holes().len(), 1, "{{{{seq}}}} alone is a hole");
        let mut head = Template::compile(b"GET /{{x}} ", W).unwrap();
        head.append(&Template::compile(b"{{y}}", W).unwrap());
        assert_eq!(head.unknown(), ["{{x}}", "{{y}}"]);
        assert!(Template::compile(b"{{seq}}{{rand:1-2}}", W).unwrap().unknown().is_empty());
    }

    #[test]
    fn digits_are_zero_padded_to_the_slot() {
        for (width, n, text) in [
            (1, 7, "7"),
            (2, 7, "07"),
            (3, 42, "042"),
            (5, 12_345, "12345"),
            (6, 4_321, "004321"),
            (7, 1_000_000, "1000000"),
            (4, 123_456, "3456"),
            (12, 98_765_432_109, "098765432109"),
        ] {
            let mut slot = vec![b'x'; width];
            put_digits(&mut slot, n);
            assert_eq!(slot, text.as_bytes(), "{n} in {width}");
        }
        let mut slot = [0u8; 20];
        put_digits(&mut slot, u64::MAX);
        assert_eq!(&slot, b"18446744073709551615");
    }

    #[test]
    fn digit_counts() {
        assert_eq!([0, 9, 10, 99, 100, u64::MAX].map(digits), [1, 1, 2, 2, 3, 20]);
        assert_eq!(Widths::of_run(1, 1), Widths { seq: 12, worker: 1, conn: 1 });
        assert_eq!(Widths::of_run(11, 1000), Widths { seq: 12, worker: 2, conn: 3 });
    }
}

//! A worker's source of requests that vary (`config::Varying`): which entry goes next (round
//! robin from the worker's own starting entry, or seeded random) and the values its holes get.
//!
//! One per worker, owned outright: its counters and generator are touched by this thread
//! only. A request costs a few digit stores into its entry's bytes, where the list keeps them
//! (round robin: `TemplateSet::fill_run`, the entries laid out flat), or a copy of the entry
//! into the connection's buffer and the same stores (random order, and a batch that wraps
//! past the last entry): no allocation once the buffer has grown, no formatting. `{{seq}}` is `k × threads + worker` for the
//! worker's k-th request, so it is unique within the run without any shared counter.

use crate::config::{Order, Varying};
use std::ops::Range;

use crate::protocol::template::{Rng, TemplateSet, Vars};

/// Where `RequestSource::next_batch` put a batch's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filled {
    /// In the list's own bytes, at this range (`RequestSource::bytes`).
    InList(Range<usize>),
    /// In the buffer the caller gave.
    Out,
}

pub struct RequestSource {
    entries: TemplateSet,
    order: Order,
    /// The next entry, round robin.
    next: usize,
    rng: Rng,
    seq: u64,
    seq_step: u64,
    worker: u64,
    /// Keep per-entry figures (`Varying::per_target`).
    pub per_target: bool,
    /// The longest entry's bytes.
    len_max: usize,
}

impl RequestSource {
    /// The source of worker `worker` of `threads`, whose batches hold at most `pipeline`
    /// requests (its list gets a tail for them, `TemplateSet::with_tail`).
    pub fn new(varying: &Varying, worker: usize, threads: usize, pipeline: usize) -> RequestSource {
        assert!(!varying.entries.is_empty(), "a request list has entries");
        // Each worker its own stream; SplitMix64 decorrelates neighbouring seeds.
        let mut seeder = Rng::new(varying.seed ^ (worker as u64).wrapping_mul(0xA076_1D64_78BD_642F));
        let entries = TemplateSet::with_tail(&varying.entries, pipeline);
        RequestSource {
            len_max: entries.len_max(),
            entries,
            order: varying.order,
            next: worker % varying.entries.len(),
            rng: Rng::new(seeder.next_u64()),
            seq: worker as u64,
            seq_step: threads as u64,
            worker: worker as u64,
            per_target: varying.per_target(),
        }
    }

    /// Fills the next `n` requests, with `conn` for `{{conn}}`, and replaces `entries` with
    /// their entries' indices when the run keeps per-entry figures (else empties it). Says
    /// where the requests are: in the list itself (`Filled::InList`, read with `bytes`), or in
    /// `out`, which it replaced. One call per batch: the loop keeps the generator and the
    /// counters in registers, and `out` is grown once for the batch, not checked per request.
    ///
    /// Round robin, a batch is a run of consecutive entries: their holes are filled where the
    /// list keeps them (`TemplateSet::fill_run`; a run that wraps past the last entry goes on
    /// in the list's tail) and nothing is copied, as nothing is for a fixed request. A random
    /// batch, and a run longer than the tail, are written into `out`. The requests in the list are good until the list comes round to the same
    /// entries again, so the caller writes them at once or copies them (`Conn` does).
    pub fn next_batch(&mut self, n: u32, out: &mut Vec<u8>, entries: &mut Vec<u32>, conn: u64) -> Filled {
        entries.clear();
        match self.order {
            Order::RoundRobin => {
                let (first, len) = (self.next, self.entries.len());
                let vars = Vars { seq: self.seq, worker: self.worker, conn };
                let filled = match self.entries.fill_run(first, n as usize, vars, self.seq_step, &mut self.rng) {
                    Some(range) => Filled::InList(range),
                    None => {
                        out.clear();
                        out.reserve(n as usize * self.len_max);
                        self.entries.write_run_into(first, n as usize, out, vars, self.seq_step, &mut self.rng);
                        Filled::Out
                    }
                };
                self.seq = self.seq.wrapping_add(u64::from(n) * self.seq_step);
                // Stepped, not `% len`: a division per request cost more than the fill.
                let mut i = first;
                for _ in 0..n {
                    if self.per_target {
                        entries.push(i as u32);
                    }
                    i = if i + 1 == len { 0 } else { i + 1 };
                }
                self.next = i;
                filled
            }
            Order::Random => {
                out.clear();
                out.reserve(n as usize * self.len_max);
                for _ in 0..n {
                    let entry = self.next_into(out, conn);
                    if self.per_target {
                        entries.push(entry);
                    }
                }
                Filled::Out
            }
        }
    }

    /// The bytes of a batch `next_batch` filled in the list.
    #[inline(always)]
    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        self.entries.bytes(range)
    }

    /// Appends the next request to `out`, with `conn` for `{{conn}}`; returns its entry's index.
    #[inline(always)]
    pub fn next_into(&mut self, out: &mut Vec<u8>, conn: u64) -> u32 {
        let i = match self.order {
            Order::RoundRobin => {
                let i = self.next;
                self.next = if i + 1 == self.entries.len() { 0 } else { i + 1 };
                i
            }
            Order::Random => self.rng.below(self.entries.len() as u64) as usize,
        };
        let vars = Vars { seq: self.seq, worker: self.worker, conn };
        self.seq += self.seq_step;
        self.entries.write_into(i, out, vars, &mut self.rng);
        i as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::template::{Template, Widths};

    fn varying(texts: &[&str], order: Order) -> Varying {
        let w = Widths::of_run(2, 10);
        Varying {
            entries: texts.iter().map(|t| Template::compile(t.as_bytes(), w).unwrap()).collect(),
            labels: texts.iter().map(|t| t.to_string()).collect(),
            order,
            seed: 7,
        }
    }

    /// The next batch's bytes, wherever `next_batch` put them.
    fn batch(source: &mut RequestSource, n: u32, out: &mut Vec<u8>, entries: &mut Vec<u32>, conn: u64) -> Vec<u8> {
        match source.next_batch(n, out, entries, conn) {
            Filled::InList(range) => source.bytes(range).to_vec(),
            Filled::Out => out.clone(),
        }
    }

    fn take(source: &mut RequestSource, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                let mut out = Vec::new();
                source.next_into(&mut out, 3);
                String::from_utf8(out).unwrap()
            })
            .collect()
    }

    #[test]
    fn round_robin_starts_at_the_workers_entry() {
        let v = varying(&["a", "b", "c"], Order::RoundRobin);
        assert_eq!(take(&mut RequestSource::new(&v, 0, 2, 1), 4), ["a", "b", "c", "a"]);
        assert_eq!(take(&mut RequestSource::new(&v, 1, 2, 1), 4), ["b", "c", "a", "b"]);
    }

    #[test]
    fn seq_is_unique_across_workers() {
        let v = varying(&["{{seq}}"], Order::RoundRobin);
        let mut all: Vec<String> = (0..3).flat_map(|w| take(&mut RequestSource::new(&v, w, 3, 1), 100)).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 300);
        assert_eq!(take(&mut RequestSource::new(&v, 1, 3, 1), 2), ["000000000001", "000000000004"]);
    }

    #[test]
    fn random_order_repeats_with_its_seed() {
        let v = varying(&["a", "b", "c", "d"], Order::Random);
        let first = take(&mut RequestSource::new(&v, 0, 1, 1), 200);
        assert_eq!(first, take(&mut RequestSource::new(&v, 0, 1, 1), 200));
        assert_ne!(first, take(&mut RequestSource::new(&v, 1, 2, 1), 200), "each worker its own stream");
        for entry in ["a", "b", "c", "d"] {
            assert!(first.iter().filter(|e| *e == entry).count() > 20, "{entry} is drawn");
        }
    }

    #[test]
    fn a_batch_is_the_next_requests_in_turn() {
        let v = varying(&["a{{conn}}", "b", "c"], Order::RoundRobin);
        let mut source = RequestSource::new(&v, 0, 1, 1);
        let (mut out, mut entries) = (b"old".to_vec(), vec![9]);
        // Wrapping past the last entry: written into `out`.
        assert_eq!(source.next_batch(4, &mut out, &mut entries, 5), Filled::Out);
        assert_eq!((&out[..], &entries[..]), (&b"a5bca5"[..], &[0, 1, 2, 0][..]));
        // Not wrapping: filled in the list, `out` untouched.
        assert_eq!(source.next_batch(2, &mut out, &mut entries, 5), Filled::InList(2..4));
        assert_eq!((source.bytes(2..4), &entries[..]), (&b"bc"[..], &[1, 2][..]));
        assert_eq!(batch(&mut source, 1, &mut out, &mut entries, 7), b"a7");
        assert_eq!(out, b"a5bca5");
        // One entry with placeholders: no per-entry figures, so no indices.
        let mut one = RequestSource::new(&varying(&["x{{conn}}"], Order::RoundRobin), 0, 1, 1);
        assert_eq!((batch(&mut one, 3, &mut out, &mut entries, 1), entries.len()), (b"x1x1x1".to_vec(), 0));
    }

    #[test]
    fn a_batch_writes_what_the_requests_one_by_one_write() {
        for order in [Order::RoundRobin, Order::Random] {
            let v = varying(&["a{{seq}}{{rand:1-99}}", "b{{conn}}", "c{{rand:5-500}}{{worker}}"], order);
            // Batches of up to 7 from a list with a tail for them, against one request at a time.
            let (mut batched, mut single) = (RequestSource::new(&v, 1, 2, 7), RequestSource::new(&v, 1, 2, 1));
            let (mut out, mut entries) = (Vec::new(), Vec::new());
            for n in [1, 4, 2, 7, 3, 1, 1, 2] {
                let got = batch(&mut batched, n, &mut out, &mut entries, 4);
                let mut expected = Vec::new();
                let expected_entries: Vec<u32> = (0..n).map(|_| single.next_into(&mut expected, 4)).collect();
                assert_eq!(
                    (String::from_utf8(got).unwrap(), &entries),
                    (String::from_utf8(expected).unwrap(), &expected_entries),
                    "{order:?} {n}"
                );
            }
        }
    }

    #[test]
    fn with_a_tail_a_batch_that_wraps_is_filled_in_the_list() {
        let v = varying(&["a{{conn}}", "b", "c"], Order::RoundRobin);
        let mut source = RequestSource::new(&v, 0, 1, 4);
        let (mut out, mut entries) = (Vec::new(), Vec::new());
        // The list's bytes: `a_bc`, then the tail `a_bc`.
        assert_eq!(source.next_batch(4, &mut out, &mut entries, 5), Filled::InList(0..6));
        assert_eq!((source.bytes(0..6), &entries[..]), (&b"a5bca5"[..], &[0, 1, 2, 0][..]));
        assert_eq!(source.next_batch(4, &mut out, &mut entries, 6), Filled::InList(2..7));
        assert_eq!((source.bytes(2..7), &entries[..]), (&b"bca6b"[..], &[1, 2, 0, 1][..]));
        assert!(out.is_empty(), "nothing copied");
        // One entry, batches of 16: the redis keyspace case.
        let mut one = RequestSource::new(&varying(&["k{{rand:1-9}}"], Order::RoundRobin), 0, 1, 16);
        let Filled::InList(range) = one.next_batch(16, &mut out, &mut entries, 0) else { panic!("copied") };
        assert_eq!(range.len(), 32);
    }

    #[test]
    fn worker_and_conn_fill_their_holes() {
        let v = varying(&["w{{worker}}c{{conn}}"], Order::RoundRobin);
        assert_eq!(take(&mut RequestSource::new(&v, 1, 2, 1), 1), ["w1c3"]);
    }
}

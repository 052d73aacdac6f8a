//! The rate schedule of one worker under `--rate`: request k is due at `start + k / rate`.
//!
//! Each due time is computed from k, never by adding periods, so there is no drift however long
//! the run and however odd the rate (`-R 3`, `-R 0.5`). Workers get offset starts, so with
//! several workers the requests interleave instead of firing together. Requests are handed to
//! connections in order; one that is due while no connection is free waits, and its latency
//! still counts from its due time (wrk2's correction for coordinated omission).

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    period_ns: f64,
    /// Requests handed out so far.
    sent: u64,
}

impl Pacer {
    /// `rate` requests per second, the first due at `start`.
    pub fn new(start: Instant, rate: f64) -> Pacer {
        assert!(rate > 0.0 && rate.is_finite(), "a pacer needs a positive rate, not {rate}");
        Pacer { start, period_ns: 1e9 / rate, sent: 0 }
    }

    /// When request `k` is due.
    pub fn due_at(&self, k: u64) -> Instant {
        self.start + Duration::from_nanos((k as f64 * self.period_ns) as u64)
    }

    /// Requests due by `now` that have not been handed out.
    pub fn backlog(&self, now: Instant) -> u64 {
        if now < self.start {
            return 0;
        }
        let elapsed_ns = now.duration_since(self.start).as_nanos() as f64;
        let due = (elapsed_ns / self.period_ns).floor() as u64 + 1;
        due.saturating_sub(self.sent)
    }

    /// When the next request is due.
    pub fn next_due(&self) -> Instant {
        self.due_at(self.sent)
    }

    /// Hands out the next request; returns its due time.
    pub fn take(&mut self) -> Instant {
        let at = self.due_at(self.sent);
        self.sent += 1;
        at
    }

    pub fn sent(&self) -> u64 {
        self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_do_not_drift() {
        let t0 = Instant::now();
        let p = Pacer::new(t0, 3.0);
        // 1/3 s is not a whole number of nanoseconds; the millionth request is still on time.
        let late = p.due_at(3_000_000).duration_since(t0);
        assert!(late.abs_diff(Duration::from_secs(1_000_000)) < Duration::from_micros(1), "{late:?}");
    }

    #[test]
    fn backlog_counts_what_is_due() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 1000.0);
        assert_eq!(p.backlog(t0), 1, "the first request is due at the start");
        assert_eq!(p.backlog(t0 + Duration::from_micros(999)), 1);
        assert_eq!(p.backlog(t0 + Duration::from_millis(10)), 11);
        assert_eq!(p.take(), t0);
        assert_eq!(p.take(), t0 + Duration::from_millis(1));
        assert_eq!(p.backlog(t0 + Duration::from_millis(10)), 9);
        assert_eq!(p.next_due(), t0 + Duration::from_millis(2));
    }

    #[test]
    fn fractional_rates() {
        let t0 = Instant::now();
        let p = Pacer::new(t0, 0.5);
        assert_eq!(p.due_at(1), t0 + Duration::from_secs(2));
        assert_eq!(p.backlog(t0 + Duration::from_millis(3999)), 2);
        assert_eq!(p.backlog(t0 + Duration::from_secs(4)), 3);
    }
}

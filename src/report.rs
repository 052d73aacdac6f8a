//! The only module that formats a report: text for people, one JSON object for programs. Both
//! come from the same `Report` value, so they cannot disagree.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::config::Config;
use crate::stats::{ErrorKind, WorkerStats};

/// A finished run, in the units and names of the JSON schema (README documents it).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub clobber_version: &'static str,
    pub target: String,
    pub address: String,
    pub threads: usize,
    pub connections: usize,
    pub pipeline: usize,
    pub reconnect: bool,
    pub framing: String,
    pub requests: u64,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<&'static str, u64>,
    /// The first message seen for each error kind that occurred.
    pub error_messages: BTreeMap<&'static str, String>,
    pub connections_opened: u64,
    pub in_flight_at_end: u64,
    pub duration_s: f64,
    pub rps: f64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub latency_us: Latency,
    pub client_cpu: ClientCpu,
    /// HTTP only: responses by status code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<BTreeMap<String, u64>>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Latency {
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

/// CPU time of the worker threads, read from the kernel.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct ClientCpu {
    pub user_s: f64,
    pub sys_s: f64,
    /// (user + sys) / requests; 0 when no request completed.
    pub us_per_request: f64,
}

impl Report {
    pub fn new(config: &Config, stats: &WorkerStats) -> Report {
        let h = &stats.latency_us;
        let latency = if h.is_empty() {
            Latency { min: 0, mean: 0.0, p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0, max: 0 }
        } else {
            Latency {
                min: h.min(),
                mean: h.mean(),
                p50: h.value_at_quantile(0.50),
                p90: h.value_at_quantile(0.90),
                p99: h.value_at_quantile(0.99),
                p999: h.value_at_quantile(0.999),
                p9999: h.value_at_quantile(0.9999),
                max: h.max(),
            }
        };
        let duration_s = stats.elapsed.as_secs_f64();
        let cpu_s = stats.cpu.total().as_secs_f64();
        Report {
            clobber_version: crate::cli::VERSION,
            target: config.target.label.clone(),
            address: config.target.addr.to_string(),
            threads: config.threads,
            connections: config.connections,
            pipeline: config.pipeline,
            reconnect: config.reconnect,
            framing: config.framing_label(),
            requests: stats.requests,
            errors: stats.errors_total(),
            errors_by_kind: ErrorKind::ALL.iter().map(|&k| (k.name(), stats.error_count(k))).collect(),
            error_messages: ErrorKind::ALL
                .iter()
                .filter_map(|&k| stats.first_error[k as usize].clone().map(|m| (k.name(), m)))
                .collect(),
            connections_opened: stats.connections_opened,
            in_flight_at_end: stats.in_flight_at_end,
            duration_s,
            rps: if duration_s > 0.0 { stats.requests as f64 / duration_s } else { 0.0 },
            bytes_sent: stats.bytes_sent,
            bytes_received: stats.bytes_received,
            latency_us: latency,
            client_cpu: ClientCpu {
                user_s: stats.cpu.user.as_secs_f64(),
                sys_s: stats.cpu.sys.as_secs_f64(),
                us_per_request: if stats.requests > 0 { cpu_s * 1e6 / stats.requests as f64 } else { 0.0 },
            },
            status: config.is_http().then(|| {
                stats
                    .status
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(|(code, &n)| (code.to_string(), n))
                    .collect()
            }),
        }
    }

    /// Completed responses that were not errors (a status outside `--expect-status` is one).
    pub fn successes(&self) -> u64 {
        self.requests - self.errors_by_kind[ErrorKind::Status.name()]
    }

    /// 0 when any request completed successfully, 1 when none did.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.successes() == 0)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mode = if self.reconnect { "a new connection per request" } else { "keep-alive" };
        let _ = writeln!(out, "clobber {}: {} ({})", self.clobber_version, self.target, self.address);
        let _ = writeln!(
            out,
            "  {} thread{}, {} connections, {}, pipeline {}, framing: {}",
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            self.connections,
            mode,
            self.pipeline,
            self.framing
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  Requests     {} in {:.2} s = {} req/s",
            group(self.requests),
            self.duration_s,
            group(self.rps.round() as u64)
        );
        if self.in_flight_at_end > 0 {
            let _ = writeln!(out, "               {} in flight at the end, not counted", group(self.in_flight_at_end));
        }
        if let Some(status) = &self.status {
            self.write_status(&mut out, status);
        }
        let l = &self.latency_us;
        let _ = writeln!(
            out,
            "  Latency      {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "min", "mean", "p50", "p90", "p99", "p99.9", "p99.99", "max"
        );
        let _ = writeln!(
            out,
            "               {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            micros(l.min as f64),
            micros(l.mean),
            micros(l.p50 as f64),
            micros(l.p90 as f64),
            micros(l.p99 as f64),
            micros(l.p999 as f64),
            micros(l.p9999 as f64),
            micros(l.max as f64)
        );
        let per_s = |bytes: u64| {
            if self.duration_s > 0.0 {
                bytes as f64 / self.duration_s
            } else {
                0.0
            }
        };
        let _ = writeln!(
            out,
            "  Transfer     sent {} ({}/s), received {} ({}/s)",
            bytes(self.bytes_sent as f64),
            bytes(per_s(self.bytes_sent)),
            bytes(self.bytes_received as f64),
            bytes(per_s(self.bytes_received))
        );
        let _ = writeln!(out, "  Connections  {} opened", group(self.connections_opened));
        if self.errors == 0 {
            let _ = writeln!(out, "  Errors       none");
        } else {
            let _ = writeln!(out, "  Errors       {}", group(self.errors));
            for kind in ErrorKind::ALL {
                let n = self.errors_by_kind[kind.name()];
                if n == 0 {
                    continue;
                }
                let _ = write!(out, "    {:>10}  {}", group(n), kind.describe());
                if let Some(m) = self.error_messages.get(kind.name()) {
                    let _ = write!(out, "; first: {m}");
                }
                let _ = writeln!(out);
            }
        }
        let c = &self.client_cpu;
        let _ = writeln!(
            out,
            "  Client CPU   {:.2} s user + {:.2} s sys = {:.2} us per request",
            c.user_s, c.sys_s, c.us_per_request
        );
        out
    }
}

impl Report {
    fn write_status(&self, out: &mut String, status: &BTreeMap<String, u64>) {
        let mut classes = [0u64; 6];
        let mut non_2xx = 0;
        for (code, &n) in status {
            let class = code.parse::<usize>().map_or(0, |c| (c / 100).min(5));
            classes[class] += n;
            if class != 2 {
                non_2xx += n;
            }
        }
        let _ = write!(out, "  Status      ");
        for class in 1..=5 {
            if class == 1 && classes[1] == 0 {
                continue;
            }
            let _ = write!(out, " {class}xx {}  ", group(classes[class]));
        }
        let _ = writeln!(out);
        let codes: Vec<String> = status.iter().map(|(code, n)| format!("{code}: {}", group(*n))).collect();
        if !codes.is_empty() {
            let _ = writeln!(out, "               {}", codes.join(", "));
        }
        let unexpected = self.errors_by_kind[ErrorKind::Status.name()];
        if unexpected > 0 {
            let _ = writeln!(
                out,
                "               {} responses outside --expect-status, counted as errors",
                group(unexpected)
            );
        } else if non_2xx > 0 {
            let _ = writeln!(
                out,
                "               {} responses were not 2xx (counted above; --expect-status makes them errors)",
                group(non_2xx)
            );
        }
    }
}

/// 1234567 -> "1,234,567".
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A latency in microseconds, in the unit that reads best: 87us, 1.25ms, 2.50s.
pub fn micros(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0}us")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{:.2}s", us / 1e6)
    }
}

/// Bytes in decimal units: 999 B, 1.23 MB, 4.56 GB.
pub fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[0])
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
    }

    #[test]
    fn units() {
        assert_eq!(micros(87.0), "87us");
        assert_eq!(micros(1250.0), "1.25ms");
        assert_eq!(micros(2_500_000.0), "2.50s");
        assert_eq!(bytes(999.0), "999 B");
        assert_eq!(bytes(1_234_567.0), "1.23 MB");
    }
}

//! Numbers and bytes for people: counts grouped by thousands, rates, latencies in the unit that
//! reads best, byte sizes, wall-clock times, per-second rates over a run, and bytes written back
//! with escapes. One spelling for the text report, the HTML page and every message. A leaf: it
//! depends on nothing in the crate.

/// "1 thread", "2 threads".
pub fn plural(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", group(n), if n == 1 { "" } else { "s" })
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

/// A figure rounded to a whole number and grouped: 106926.4 -> "106,926" (negatives: "0").
pub fn rounded(x: f64) -> String {
    group(x.round().max(0.0) as u64)
}

/// A rate: whole numbers grouped, small ones with decimals.
pub fn rate(r: f64) -> String {
    if r >= 100.0 {
        rounded(r)
    } else {
        format!("{r:.2}")
    }
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

/// Seconds with two decimals: "5.00 s" (a run's duration, CPU time).
pub fn seconds(s: f64) -> String {
    format!("{s:.2} s")
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

/// `n` over `duration_s` seconds; 0 for a run of no length.
pub fn per_s(n: f64, duration_s: f64) -> f64 {
    if duration_s > 0.0 {
        n / duration_s
    } else {
        0.0
    }
}

/// Unix seconds as `2026-11-27 21:23:05 UTC`.
pub fn utc(unix_s: f64) -> String {
    if !unix_s.is_finite() || unix_s <= 0.0 {
        return "(unknown)".to_string();
    }
    let secs = unix_s as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The inverse of `parse_escapes`, for showing bytes in a report.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
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
        assert_eq!((rounded(106_926.5), rounded(-3.0)), ("106,927".to_string(), "0".to_string()));
    }

    #[test]
    fn units() {
        assert_eq!(micros(87.0), "87us");
        assert_eq!(micros(1250.0), "1.25ms");
        assert_eq!(micros(2_500_000.0), "2.50s");
        assert_eq!(seconds(5.0), "5.00 s");
        assert_eq!(bytes(999.0), "999 B");
        assert_eq!(bytes(1_234_567.0), "1.23 MB");
    }
}

//! Measurements of one bench run: a latency histogram (microseconds), the count of successful
//! operations and the errors by ZooKeeper code, plus the [`Summary`] printed at the end as a
//! table or JSON.
//!
//! Invariant: only operations *sent* inside the measured window are recorded, so warmup and the
//! drain after the deadline never count.

use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;
use zk_codec::ErrorCode;

/// The slowest latency the histogram tracks exactly (longer values are clamped to it).
const MAX_US: u64 = 60_000_000;

/// Per-session (later merged) counts and latencies.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Latencies of successful operations, in microseconds.
    pub hist: Histogram<u64>,
    /// Successful operations.
    pub ops: u64,
    /// Failed operations by error code.
    pub errors: BTreeMap<i32, u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            // Invariant: 1..60 s with 3 significant figures is a valid histogram configuration.
            hist: Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds"),
            ops: 0,
            errors: BTreeMap::new(),
        }
    }
}

impl Stats {
    /// Records one reply: `err` is the reply header's error code.
    pub fn record(&mut self, err: i32, latency: Duration) {
        if err == 0 {
            self.ops += 1;
            let us = (latency.as_micros() as u64).clamp(1, MAX_US);
            self.hist.saturating_record(us);
        } else {
            *self.errors.entry(err).or_default() += 1;
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Stats) {
        self.ops += other.ops;
        // Both histograms share the same bounds, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
        for (code, n) in &other.errors {
            *self.errors.entry(*code).or_default() += n;
        }
    }

    /// The summary over `measured` seconds.
    pub fn summary(&self, label: &str, measured: Duration) -> Summary {
        let secs = measured.as_secs_f64().max(1e-9);
        let h = &self.hist;
        let q = |p: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(p)
            }
        };
        Summary {
            workload: label.to_string(),
            seconds: measured.as_secs_f64(),
            ops: self.ops,
            ops_per_sec: self.ops as f64 / secs,
            p50_us: q(0.50),
            p90_us: q(0.90),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: if h.is_empty() { 0 } else { h.max() },
            errors: self
                .errors
                .iter()
                .map(|(code, n)| (error_name(*code), *n))
                .collect(),
        }
    }
}

/// ZooKeeper's name for an error code (`NoNode`), or the number if unknown.
pub fn error_name(code: i32) -> String {
    match ErrorCode::try_from(code) {
        Ok(e) => e.to_string(),
        Err(_) => code.to_string(),
    }
}

/// The result of one run, as printed.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The workload and its shape, e.g. `get (4 sessions x 100 outstanding, 100 B values)`.
    pub workload: String,
    /// The measured time.
    pub seconds: f64,
    /// Successful operations.
    pub ops: u64,
    /// `ops / seconds`.
    pub ops_per_sec: f64,
    /// Latency percentiles and maximum, in microseconds.
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    /// Error replies by ZooKeeper's name for the code.
    pub errors: BTreeMap<String, u64>,
}

impl Summary {
    /// The JSON object printed by `--json` (one line).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "workload": self.workload,
            "seconds": round2(self.seconds),
            "ops": self.ops,
            "ops_per_sec": round2(self.ops_per_sec),
            "latency_us": {
                "p50": self.p50_us,
                "p90": self.p90_us,
                "p99": self.p99_us,
                "p99.9": self.p999_us,
                "max": self.max_us,
            },
            "errors": self.errors,
        })
    }

    /// The human-readable table.
    pub fn to_table(&self) -> String {
        let errors = if self.errors.is_empty() {
            "none".to_string()
        } else {
            self.errors
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        format!(
            "workload    {}\nmeasured    {:.1} s\nops         {}\nthroughput  {} ops/s\n\
             latency     p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\nerrors      {}\n",
            self.workload,
            self.seconds,
            self.ops,
            format_rate(self.ops_per_sec),
            format_us(self.p50_us),
            format_us(self.p90_us),
            format_us(self.p99_us),
            format_us(self.p999_us),
            format_us(self.max_us),
            errors
        )
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A latency for humans: `850 µs`, `1.25 ms`, `2.50 s`.
pub fn format_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.2} ms", us as f64 / 1e3)
    } else {
        format!("{:.2} s", us as f64 / 1e6)
    }
}

/// A rate for humans, whole numbers with thousands separators: `123,456`.
pub fn format_rate(r: f64) -> String {
    let n = r.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_follow_recorded_latencies() {
        let mut s = Stats::default();
        for us in 1..=1000u64 {
            s.record(0, Duration::from_micros(us));
        }
        s.record(-101, Duration::from_micros(5));
        let sum = s.summary("get", Duration::from_secs(2));
        assert_eq!(sum.ops, 1000);
        assert_eq!(sum.ops_per_sec, 500.0);
        assert_eq!(sum.p50_us, 500);
        assert_eq!(sum.p99_us, 990);
        assert_eq!(sum.max_us, 1000);
        assert_eq!(sum.errors.get("NoNode"), Some(&1));
    }

    #[test]
    fn merge_adds_counts_and_errors() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        a.record(0, Duration::from_micros(10));
        b.record(0, Duration::from_micros(20));
        b.record(-110, Duration::ZERO);
        a.merge(&b);
        assert_eq!(a.ops, 2);
        assert_eq!(a.hist.len(), 2);
        assert_eq!(a.errors[&-110], 1);
    }

    #[test]
    fn empty_stats_summarise_to_zeros() {
        let sum = Stats::default().summary("x", Duration::from_secs(1));
        assert_eq!((sum.p50_us, sum.max_us, sum.ops), (0, 0, 0));
    }

    #[test]
    fn formats_latencies_and_rates_for_humans() {
        assert_eq!(format_us(850), "850 µs");
        assert_eq!(format_us(1250), "1.25 ms");
        assert_eq!(format_us(2_500_000), "2.50 s");
        assert_eq!(format_rate(1234567.4), "1,234,567");
        assert_eq!(format_rate(999.0), "999");
        assert_eq!(error_name(-101), "NoNode");
        assert_eq!(error_name(-9999), "-9999");
    }

    #[test]
    fn json_has_the_documented_keys() {
        let mut s = Stats::default();
        s.record(0, Duration::from_micros(100));
        let j = s.summary("set", Duration::from_secs(1)).to_json();
        assert_eq!(j["workload"], "set");
        assert_eq!(j["ops"], 1);
        assert_eq!(j["latency_us"]["p99.9"], 100);
        assert!(j["errors"].as_object().unwrap().is_empty());
    }
}

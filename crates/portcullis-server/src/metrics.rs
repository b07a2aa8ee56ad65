//! `/metrics`: Prometheus text (format 0.0.4) of the decisions by reason and a latency
//! histogram. Counting is a few relaxed atomic adds; nothing here allocates per request
//! once a reason has been seen.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The histogram's upper bounds, in seconds (a decision from the cache takes microseconds;
/// a miss read from PostgreSQL, milliseconds).
pub const BUCKETS: [f64; 12] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1, 1.0,
];

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    decisions: papaya::HashMap<(&'static str, &'static str, u16), AtomicU64>,
    latency: Histogram,
    connections: AtomicU64,
}

#[derive(Debug, Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    over: AtomicU64,
    sum_ns: AtomicU64,
}

impl Metrics {
    /// Counts one decision: `endpoint` (`auth`, `grpc`, `token`, …), its reason's code
    /// and its status, and how long it took.
    pub fn decision(
        &self,
        endpoint: &'static str,
        reason: &'static str,
        status: u16,
        took: Duration,
    ) {
        let map = self.decisions.pin();
        match map.get(&(endpoint, reason, status)) {
            Some(counter) => {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                map.get_or_insert_with((endpoint, reason, status), || AtomicU64::new(0))
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency.observe(took);
    }

    /// Counts an accepted connection.
    pub fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        out.push_str(
            "# HELP portcullis_decisions_total Decisions by endpoint, reason and status.\n",
        );
        out.push_str("# TYPE portcullis_decisions_total counter\n");
        let map = self.decisions.pin();
        let mut rows: Vec<_> = map
            .iter()
            .map(|(k, v)| (*k, v.load(Ordering::Relaxed)))
            .collect();
        rows.sort_unstable();
        for ((endpoint, reason, status), n) in rows {
            let _ = writeln!(
                out,
                "portcullis_decisions_total{{endpoint=\"{endpoint}\",reason=\"{reason}\",status=\"{status}\"}} {n}"
            );
        }
        self.latency.render(&mut out);
        out.push_str("# HELP portcullis_connections_total Connections accepted.\n");
        out.push_str("# TYPE portcullis_connections_total counter\n");
        let _ = writeln!(
            out,
            "portcullis_connections_total {}",
            self.connections.load(Ordering::Relaxed)
        );
        out
    }
}

impl Histogram {
    fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        match BUCKETS.iter().position(|&b| secs <= b) {
            Some(i) => self.counts[i].fetch_add(1, Ordering::Relaxed),
            None => self.over.fetch_add(1, Ordering::Relaxed),
        };
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String) {
        out.push_str("# HELP portcullis_decision_seconds Time to decide, from the request's arrival to its answer.\n");
        out.push_str("# TYPE portcullis_decision_seconds histogram\n");
        let mut total = 0;
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            total += count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "portcullis_decision_seconds_bucket{{le=\"{bound}\"}} {total}"
            );
        }
        total += self.over.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "portcullis_decision_seconds_bucket{{le=\"+Inf\"}} {total}"
        );
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "portcullis_decision_seconds_sum {sum}");
        let _ = writeln!(out, "portcullis_decision_seconds_count {total}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.decision("auth", "allowed", 200, Duration::from_micros(20));
        m.decision("auth", "allowed", 200, Duration::from_millis(3));
        m.decision("auth", "wrong_secret", 401, Duration::from_secs(2));
        let text = m.render();
        assert!(text.contains(
            "portcullis_decisions_total{endpoint=\"auth\",reason=\"allowed\",status=\"200\"} 2\n"
        ));
        assert!(text.contains("reason=\"wrong_secret\",status=\"401\"} 1\n"));
        assert!(text.contains("portcullis_decision_seconds_bucket{le=\"0.000025\"} 1\n"));
        assert!(text.contains("portcullis_decision_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(text.contains("portcullis_decision_seconds_bucket{le=\"1\"} 2\n"));
        assert!(text.contains("portcullis_decision_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("portcullis_decision_seconds_count 3\n"));
    }
}

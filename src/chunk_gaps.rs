//! The intervals between a streamed response's chunks, kept on its span in fixed memory for
//! the time-per-output-chunk histogram.
//!
//! A stream may send thousands of chunks, so the intervals are not kept one by one: each is
//! folded into the bucket of the histogram it will be recorded into ([`BOUNDS`], the same
//! boundaries as the other GenAI duration histograms), which keeps the count and the sum of its
//! values. At recording time each bucket gives its count of values, each at the bucket's mean.
//! The histogram's count, bucket counts and sum come out as if every interval had been
//! recorded; only its min and max are the means of the lowest and highest buckets. The
//! summary is 15 counts and sums, whatever the length of the stream, and a span gets one only
//! at its second chunk: a span that is not streamed allocates nothing.

use std::time::Instant;

/// The bucket boundaries of the GenAI duration histograms, in seconds
/// (`crate::metrics::DURATION_BUCKETS` is this list).
pub(crate) const BOUNDS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// How many values a folded summary has: one per bucket, the last unbounded.
pub(crate) const BUCKETS: usize = BOUNDS.len() + 1;

/// Chunk intervals folded by bucket: counts and sums.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GapSummary {
    counts: [u32; BUCKETS],
    sums: [f64; BUCKETS],
}

impl GapSummary {
    /// Adds one interval, in seconds (a negative or non-finite one counts as 0).
    pub(crate) fn add(&mut self, seconds: f64) {
        let seconds = if seconds.is_finite() && seconds > 0.0 {
            seconds
        } else {
            0.0
        };
        // Explicit buckets hold values up to and including their upper bound.
        let i = BOUNDS.partition_point(|&b| b < seconds);
        if let Some(n) = self.counts[i].checked_add(1) {
            self.counts[i] = n;
            self.sums[i] += seconds;
        }
    }

    /// Adds every interval of `other`.
    pub(crate) fn merge(&mut self, other: &GapSummary) {
        for i in 0..BUCKETS {
            let n = self.counts[i].saturating_add(other.counts[i]);
            if n > self.counts[i] {
                self.sums[i] +=
                    other.sums[i] * f64::from(n - self.counts[i]) / f64::from(other.counts[i]);
                self.counts[i] = n;
            }
        }
    }

    /// How many intervals were added.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.counts.iter().map(|&n| u64::from(n)).sum()
    }

    /// Calls `record` once per interval added, with the mean of its bucket.
    pub(crate) fn for_each(&self, mut record: impl FnMut(f64)) {
        for (i, (&n, &sum)) in self.counts.iter().zip(&self.sums).enumerate() {
            if n == 0 {
                continue;
            }
            let mut mean = sum / f64::from(n);
            // Rounding never moves the mean past its bucket's upper bound.
            if let Some(&upper) = BOUNDS.get(i) {
                mean = mean.min(upper);
            }
            for _ in 0..n {
                record(mean);
            }
        }
    }
}

/// A span's chunk times: the previous chunk's arrival and the intervals so far.
#[derive(Debug, Clone)]
pub(crate) struct ChunkGaps {
    /// When the previous chunk arrived.
    pub(crate) last: Instant,
    /// The intervals between consecutive chunks.
    pub(crate) gaps: GapSummary,
}

/// Notes a chunk that arrived at `now`: the first sets `first`, each later one adds its
/// interval from the previous chunk to `gaps` (allocated at the second chunk).
pub(crate) fn note_chunk(
    first: &mut Option<Instant>,
    gaps: &mut Option<Box<ChunkGaps>>,
    now: Instant,
) {
    let Some(first) = *first else {
        *first = Some(now);
        return;
    };
    match gaps {
        Some(g) => {
            g.gaps
                .add(now.saturating_duration_since(g.last).as_secs_f64());
            g.last = now;
        }
        None => {
            let mut summary = GapSummary::default();
            summary.add(now.saturating_duration_since(first).as_secs_f64());
            *gaps = Some(Box::new(ChunkGaps {
                last: now,
                gaps: summary,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn count_and_sum_are_kept_exactly_and_values_stay_in_their_buckets() {
        let mut s = GapSummary::default();
        let values = [0.005, 0.01, 0.015, 0.03, 0.03, 2.0, 100.0, -1.0, f64::NAN];
        for v in values {
            s.add(v);
        }
        assert_eq!(s.count(), values.len() as u64);
        let mut out = Vec::new();
        s.for_each(|v| out.push(v));
        assert_eq!(out.len(), values.len());
        let sum: f64 = out.iter().sum();
        assert!((sum - 102.09).abs() < 1e-9, "{sum}");
        let bucket = |v: f64| BOUNDS.partition_point(|&b| b < v);
        let mut given: Vec<usize> = [0.005, 0.01, 0.015, 0.03, 0.03, 2.0, 100.0, 0.0, 0.0]
            .iter()
            .map(|&v| bucket(v))
            .collect();
        let mut got: Vec<usize> = out.iter().map(|&v| bucket(v)).collect();
        given.sort_unstable();
        got.sort_unstable();
        assert_eq!(given, got);
    }

    #[test]
    fn the_second_chunk_allocates_and_intervals_follow_the_previous_chunk() {
        let (mut first, mut gaps) = (None, None);
        let t0 = Instant::now();
        note_chunk(&mut first, &mut gaps, t0);
        assert_eq!(first, Some(t0));
        assert!(gaps.is_none());
        note_chunk(&mut first, &mut gaps, t0 + Duration::from_millis(30));
        note_chunk(&mut first, &mut gaps, t0 + Duration::from_millis(100));
        let g = gaps.expect("intervals after the second chunk");
        assert_eq!(g.gaps.count(), 2);
        let mut out = Vec::new();
        g.gaps.for_each(|v| out.push(v));
        assert!((out.iter().sum::<f64>() - 0.1).abs() < 1e-9);
    }

    #[test]
    fn merged_summaries_add_up() {
        let (mut a, mut b) = (GapSummary::default(), GapSummary::default());
        a.add(0.05);
        b.add(0.05);
        b.add(3.0);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        let mut sum = 0.0;
        a.for_each(|v| sum += v);
        assert!((sum - 3.1).abs() < 1e-9);
    }
}

//! Metric points read back from the SDK's in-memory metric exporter.

use opentelemetry_sdk::metrics::data::{AggregatedMetrics as A, MetricData as D, ResourceMetrics};
use std::collections::BTreeMap;

/// `(metric, sorted attributes)` → (count or counter value, sum), from the last collection
/// (the values are cumulative). Durations (unit `s`) keep their count only: their sums depend
/// on timing.
pub type Points = BTreeMap<(String, String), (u64, f64)>;

/// Attributes as sorted `key=value` strings.
fn attrs<'a>(attributes: impl Iterator<Item = &'a opentelemetry::KeyValue>) -> Vec<String> {
    let mut v: Vec<String> = attributes
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    v.sort();
    v
}

/// Every data point of the last collection as [`Points`].
pub fn points(metrics: &[ResourceMetrics]) -> Points {
    let mut out = BTreeMap::new();
    let Some(rm) = metrics.last() else {
        return out;
    };
    for sm in rm.scope_metrics() {
        for m in sm.metrics() {
            let name = m.name().to_string();
            let key = |a: Vec<String>| (name.clone(), a.join(","));
            let timed = m.unit() == "s";
            match m.data() {
                A::F64(D::Histogram(h)) => {
                    for p in h.data_points() {
                        let sum = if timed { 0.0 } else { p.sum() };
                        out.insert(key(attrs(p.attributes())), (p.count(), sum));
                    }
                }
                A::U64(D::Histogram(h)) => {
                    for p in h.data_points() {
                        out.insert(key(attrs(p.attributes())), (p.count(), p.sum() as f64));
                    }
                }
                A::U64(D::Sum(s)) => {
                    for p in s.data_points() {
                        out.insert(key(attrs(p.attributes())), (p.value(), 0.0));
                    }
                }
                A::F64(D::Sum(s)) => {
                    for p in s.data_points() {
                        out.insert(key(attrs(p.attributes())), (0, p.value()));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// One histogram data point.
#[derive(Debug)]
pub struct HistogramPoint {
    /// The histogram's name.
    pub name: String,
    /// Its unit.
    pub unit: String,
    /// Whether it records integers (`u64`) rather than `f64`.
    pub integers: bool,
    /// The point's attributes as sorted `key=value` strings.
    pub attrs: Vec<String>,
    pub count: u64,
    pub sum: f64,
    /// Bucket boundaries.
    pub bounds: Vec<f64>,
    /// Count per bucket.
    pub buckets: Vec<u64>,
}

/// The points of every histogram in every collection of `metrics`.
pub fn histograms(metrics: &[ResourceMetrics]) -> Vec<HistogramPoint> {
    let mut out = Vec::new();
    for rm in metrics {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                let point = |integers, attrs, count, sum, bounds, buckets| HistogramPoint {
                    name: m.name().to_string(),
                    unit: m.unit().to_string(),
                    integers,
                    attrs,
                    count,
                    sum,
                    bounds,
                    buckets,
                };
                match m.data() {
                    A::F64(D::Histogram(h)) => out.extend(h.data_points().map(|p| {
                        let (bounds, buckets) = (p.bounds().collect(), p.bucket_counts().collect());
                        point(
                            false,
                            attrs(p.attributes()),
                            p.count(),
                            p.sum(),
                            bounds,
                            buckets,
                        )
                    })),
                    A::U64(D::Histogram(h)) => out.extend(h.data_points().map(|p| {
                        let (bounds, buckets) = (p.bounds().collect(), p.bucket_counts().collect());
                        point(
                            true,
                            attrs(p.attributes()),
                            p.count(),
                            p.sum() as f64,
                            bounds,
                            buckets,
                        )
                    })),
                    _ => {}
                }
            }
        }
    }
    out
}

/// The points of histogram `name` in every collection of `metrics`.
pub fn histogram(metrics: &[ResourceMetrics], name: &str) -> Vec<HistogramPoint> {
    histograms(metrics)
        .into_iter()
        .filter(|p| p.name == name)
        .collect()
}

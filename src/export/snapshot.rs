//! Reading the metric pipeline on demand: one [`MetricsTap`] (a shared `ManualReader`) feeds
//! both the Prometheus endpoint and the console summary with the same owned [`Family`] data.

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{
    AggregatedMetrics, HistogramDataPoint, MetricData, ResourceMetrics,
};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// What kind of series a metric is, in Prometheus terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FamilyKind {
    /// A monotonic sum.
    Counter,
    /// A gauge or a non-monotonic sum.
    Gauge,
    /// An explicit-bucket histogram.
    Histogram,
}

/// One point's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PointValue {
    /// A counter or gauge value.
    Number(f64),
    /// An explicit-bucket histogram (per-bucket counts, not cumulative; one more count than
    /// bounds, the last one for `+Inf`).
    Histogram {
        /// Upper bounds of the buckets.
        bounds: Vec<f64>,
        /// Count in each bucket.
        counts: Vec<u64>,
        /// Sum of the recorded values.
        sum: f64,
        /// Number of recorded values.
        count: u64,
        /// Smallest recorded value, when known.
        min: Option<f64>,
        /// Largest recorded value, when known.
        max: Option<f64>,
    },
}

/// One series: attributes and value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    /// The attributes, in recording order, values as strings.
    pub(crate) attributes: Vec<(String, String)>,
    /// The value.
    pub(crate) value: PointValue,
}

impl Point {
    /// The value of attribute `key`, if present.
    pub(crate) fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One instrument's data, owned and detached from the SDK types.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Family {
    /// The OpenTelemetry name (`gen_ai.client.operation.duration`).
    pub(crate) name: String,
    /// The description.
    pub(crate) description: String,
    /// The unit (`s`, `{token}`, `USD`).
    pub(crate) unit: String,
    /// The instrumentation scope's name.
    pub(crate) scope_name: String,
    /// The instrumentation scope's version, if any.
    pub(crate) scope_version: Option<String>,
    /// The kind of series.
    pub(crate) kind: FamilyKind,
    /// The series.
    pub(crate) points: Vec<Point>,
}

/// One read of the whole pipeline.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Snapshot {
    /// Resource attributes (`service.name`, ...).
    pub(crate) resource: Vec<(String, String)>,
    /// Every instrument with data.
    pub(crate) families: Vec<Family>,
}

impl Snapshot {
    /// The families named `name` (one per scope that has it).
    pub(crate) fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Family> + 'a {
        self.families.iter().filter(move |f| f.name == name)
    }
}

/// A handle on a cumulative `ManualReader` registered with the meter provider; cloned
/// freely, read from any thread.
#[derive(Clone, Debug)]
pub(crate) struct MetricsTap {
    reader: Arc<ManualReader>,
}

/// The [`MetricReader`] half of a [`MetricsTap`], given to the meter provider.
#[derive(Debug)]
pub(crate) struct TapReader {
    reader: Arc<ManualReader>,
}

impl MetricsTap {
    /// A new tap and the reader to register with the meter provider.
    pub(crate) fn new() -> (MetricsTap, TapReader) {
        let reader = Arc::new(
            ManualReader::builder()
                .with_temporality(Temporality::Cumulative)
                .build(),
        );
        (
            MetricsTap {
                reader: Arc::clone(&reader),
            },
            TapReader { reader },
        )
    }

    /// Reads every instrument now. Fails after the meter provider was shut down.
    pub(crate) fn snapshot(&self) -> Result<Snapshot, String> {
        let mut rm = ResourceMetrics::default();
        self.reader.collect(&mut rm).map_err(|e| e.to_string())?;
        Ok(convert(&rm))
    }
}

impl MetricReader for TapReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.reader.register_pipeline(pipeline);
    }

    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.reader.collect(rm)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.reader.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.reader.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.reader.temporality(kind)
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.as_str().to_owned(),
        other => other.to_string(),
    }
}

fn attributes<'a>(kvs: impl Iterator<Item = &'a KeyValue>) -> Vec<(String, String)> {
    kvs.map(|kv| (kv.key.as_str().to_owned(), value_text(&kv.value)))
        .collect()
}

/// Something that converts losslessly enough to `f64` for exposition.
trait AsF64: Copy {
    fn as_f64(self) -> f64;
}
impl AsF64 for f64 {
    fn as_f64(self) -> f64 {
        self
    }
}
impl AsF64 for u64 {
    fn as_f64(self) -> f64 {
        self as f64
    }
}
impl AsF64 for i64 {
    fn as_f64(self) -> f64 {
        self as f64
    }
}

fn histogram_point<T: AsF64>(p: &HistogramDataPoint<T>) -> Point {
    Point {
        attributes: attributes(p.attributes()),
        value: PointValue::Histogram {
            bounds: p.bounds().collect(),
            counts: p.bucket_counts().collect(),
            sum: p.sum().as_f64(),
            count: p.count(),
            min: p.min().map(AsF64::as_f64),
            max: p.max().map(AsF64::as_f64),
        },
    }
}

fn family_data<T: AsF64>(data: &MetricData<T>) -> Option<(FamilyKind, Vec<Point>)> {
    let number = |attrs: Vec<(String, String)>, v: T| Point {
        attributes: attrs,
        value: PointValue::Number(v.as_f64()),
    };
    match data {
        MetricData::Gauge(g) => Some((
            FamilyKind::Gauge,
            g.data_points()
                .map(|p| number(attributes(p.attributes()), p.value()))
                .collect(),
        )),
        MetricData::Sum(s) => Some((
            if s.is_monotonic() {
                FamilyKind::Counter
            } else {
                FamilyKind::Gauge
            },
            s.data_points()
                .map(|p| number(attributes(p.attributes()), p.value()))
                .collect(),
        )),
        MetricData::Histogram(h) => Some((
            FamilyKind::Histogram,
            h.data_points().map(histogram_point).collect(),
        )),
        // The layer configures no exponential histogram; nothing to expose for one.
        MetricData::ExponentialHistogram(_) => None,
    }
}

fn convert(rm: &ResourceMetrics) -> Snapshot {
    let resource = rm
        .resource()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), value_text(v)))
        .collect();
    let mut families = Vec::new();
    for sm in rm.scope_metrics() {
        for m in sm.metrics() {
            let converted = match m.data() {
                AggregatedMetrics::F64(d) => family_data(d),
                AggregatedMetrics::U64(d) => family_data(d),
                AggregatedMetrics::I64(d) => family_data(d),
            };
            if let Some((kind, points)) = converted {
                families.push(Family {
                    name: m.name().to_owned(),
                    description: m.description().to_owned(),
                    unit: m.unit().to_owned(),
                    scope_name: sm.scope().name().to_owned(),
                    scope_version: sm.scope().version().map(str::to_owned),
                    kind,
                    points,
                });
            }
        }
    }
    Snapshot { resource, families }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::SdkMeterProvider;

    #[test]
    fn tap_reads_counters_gauges_and_histograms_repeatedly() {
        let (tap, reader) = MetricsTap::new();
        let provider = SdkMeterProvider::builder().with_reader(reader).build();
        let meter = provider.meter("t");
        let c = meter.u64_counter("c").build();
        let h = meter
            .f64_histogram("h")
            .with_unit("s")
            .with_boundaries(vec![1.0, 2.0])
            .build();
        let g = meter.i64_up_down_counter("g").build();
        c.add(2, &[KeyValue::new("k", "v")]);
        h.record(1.5, &[]);
        h.record(3.0, &[]);
        g.add(-4, &[]);
        for _ in 0..2 {
            let snap = tap.snapshot().unwrap();
            let c = snap.named("c").next().unwrap();
            assert_eq!(c.kind, FamilyKind::Counter);
            assert_eq!(c.points[0].attribute("k"), Some("v"));
            assert_eq!(c.points[0].value, PointValue::Number(2.0));
            let g = snap.named("g").next().unwrap();
            assert_eq!(g.kind, FamilyKind::Gauge);
            assert_eq!(g.points[0].value, PointValue::Number(-4.0));
            let h = snap.named("h").next().unwrap();
            assert_eq!(h.unit, "s");
            assert_eq!(
                h.points[0].value,
                PointValue::Histogram {
                    bounds: vec![1.0, 2.0],
                    counts: vec![0, 1, 1],
                    sum: 4.5,
                    count: 2,
                    min: Some(1.5),
                    max: Some(3.0),
                }
            );
        }
        provider.shutdown().unwrap();
        assert!(tap.snapshot().is_err());
    }
}

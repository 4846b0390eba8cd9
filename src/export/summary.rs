//! The metrics summary printed under the console trace output at shutdown: per model, calls,
//! errors, p50/p95 latency (estimated from the duration histogram's buckets), input and
//! output tokens, and cost.

use super::snapshot::{PointValue, Snapshot};
use std::collections::BTreeMap;

/// What the table shows for one model.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ModelRow {
    /// Calls (`openinference.llm.calls`).
    pub(crate) calls: u64,
    /// Calls with `error.type`.
    pub(crate) errors: u64,
    /// Merged duration histogram: bounds, per-bucket counts, min, max.
    latency: Option<Latency>,
    /// Input tokens.
    pub(crate) input_tokens: u64,
    /// Output tokens.
    pub(crate) output_tokens: u64,
    /// Cost in USD.
    pub(crate) cost: f64,
}

#[derive(Debug, Clone, PartialEq)]
struct Latency {
    bounds: Vec<f64>,
    counts: Vec<u64>,
    min: Option<f64>,
    max: Option<f64>,
}

impl Latency {
    fn merge(&mut self, counts: &[u64], min: Option<f64>, max: Option<f64>) {
        for (a, b) in self.counts.iter_mut().zip(counts) {
            *a += b;
        }
        self.min = match (self.min, min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// The `q` quantile, interpolated linearly inside the bucket that holds it (as
    /// Prometheus's `histogram_quantile` does), then clamped to the observed min and max.
    fn quantile(&self, q: f64) -> Option<f64> {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let mut below = 0u64;
        let mut estimate = None;
        for (i, &n) in self.counts.iter().enumerate() {
            if n > 0 && (below + n) as f64 >= rank {
                let lower = if i == 0 { 0.0 } else { self.bounds[i - 1] };
                estimate = Some(match self.bounds.get(i) {
                    Some(&upper) => lower + (upper - lower) * ((rank - below as f64) / n as f64),
                    // The +Inf bucket: the largest value seen, else its lower bound.
                    None => self.max.unwrap_or(lower),
                });
                break;
            }
            below += n;
        }
        let mut v = estimate?;
        if let Some(min) = self.min {
            v = v.max(min);
        }
        if let Some(max) = self.max {
            v = v.min(max);
        }
        Some(v)
    }
}

/// Rows by model name (`(none)` when the span named no model), from one snapshot.
pub(crate) fn rows(snapshot: &Snapshot) -> BTreeMap<String, ModelRow> {
    let mut rows: BTreeMap<String, ModelRow> = BTreeMap::new();
    let model = |p: &super::snapshot::Point| {
        p.attribute("gen_ai.request.model")
            .unwrap_or("(none)")
            .to_owned()
    };
    for f in snapshot.named("openinference.llm.calls") {
        for p in &f.points {
            if let PointValue::Number(n) = p.value {
                let row = rows.entry(model(p)).or_default();
                row.calls += n as u64;
                if p.attribute("error.type").is_some() {
                    row.errors += n as u64;
                }
            }
        }
    }
    let inference = snapshot.named("gen_ai.client.inference.duration");
    for f in snapshot
        .named("gen_ai.client.operation.duration")
        .chain(inference)
    {
        for p in &f.points {
            if let PointValue::Histogram {
                bounds,
                counts,
                min,
                max,
                ..
            } = &p.value
            {
                let row = rows.entry(model(p)).or_default();
                match &mut row.latency {
                    Some(l) if l.bounds == *bounds => l.merge(counts, *min, *max),
                    Some(_) => {}
                    None => {
                        row.latency = Some(Latency {
                            bounds: bounds.clone(),
                            counts: counts.clone(),
                            min: *min,
                            max: *max,
                        })
                    }
                }
            }
        }
    }
    for f in snapshot.named("openinference.llm.tokens") {
        for p in &f.points {
            if let PointValue::Number(n) = p.value {
                let row = rows.entry(model(p)).or_default();
                match p.attribute("gen_ai.token.type") {
                    Some("input") => row.input_tokens += n as u64,
                    Some("output") => row.output_tokens += n as u64,
                    _ => {}
                }
            }
        }
    }
    for f in snapshot.named("openinference.llm.cost") {
        for p in &f.points {
            if let PointValue::Number(n) = p.value {
                rows.entry(model(p)).or_default().cost += n;
            }
        }
    }
    rows
}

fn seconds(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(s) if s < 0.001 => format!("{:.0}µs", s * 1e6),
        Some(s) if s < 1.0 => format!("{:.0}ms", s * 1000.0),
        Some(s) => format!("{s:.2}s"),
    }
}

fn usd(v: f64) -> String {
    if v == 0.0 {
        "-".into()
    } else if v < 0.01 {
        format!("${v:.6}")
    } else {
        format!("${v:.4}")
    }
}

/// The table, or `None` when no LLM call was recorded.
pub(crate) fn render(snapshot: &Snapshot) -> Option<String> {
    let rows = rows(snapshot);
    if rows.is_empty() {
        return None;
    }
    let header = [
        "model", "calls", "errors", "p50", "p95", "input", "output", "cost",
    ];
    let mut lines: Vec<[String; 8]> = vec![header.map(String::from)];
    let mut total = ModelRow::default();
    for (model, r) in &rows {
        let q = |q| r.latency.as_ref().and_then(|l| l.quantile(q));
        lines.push([
            model.clone(),
            r.calls.to_string(),
            r.errors.to_string(),
            seconds(q(0.5)),
            seconds(q(0.95)),
            r.input_tokens.to_string(),
            r.output_tokens.to_string(),
            usd(r.cost),
        ]);
        total.calls += r.calls;
        total.errors += r.errors;
        total.input_tokens += r.input_tokens;
        total.output_tokens += r.output_tokens;
        total.cost += r.cost;
    }
    if rows.len() > 1 {
        lines.push([
            "total".into(),
            total.calls.to_string(),
            total.errors.to_string(),
            String::new(),
            String::new(),
            total.input_tokens.to_string(),
            total.output_tokens.to_string(),
            usd(total.cost),
        ]);
    }
    let mut widths = [0usize; 8];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::from("LLM metrics\n");
    for line in &lines {
        let mut text = String::new();
        for (i, (cell, w)) in line.iter().zip(widths).enumerate() {
            let pad = w - cell.chars().count();
            if i == 0 {
                text.push_str(cell);
                text.push_str(&" ".repeat(pad));
            } else {
                text.push_str("  ");
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::snapshot::{Family, FamilyKind, Point};
    use crate::metrics::DURATION_BUCKETS;

    fn point(attrs: &[(&str, &str)], value: PointValue) -> Point {
        Point {
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        }
    }

    fn family(name: &str, kind: FamilyKind, points: Vec<Point>) -> Family {
        Family {
            name: name.into(),
            description: String::new(),
            unit: String::new(),
            scope_name: "tracing-openinference".into(),
            scope_version: None,
            kind,
            points,
        }
    }

    fn durations(counts_at: &[(usize, u64)], min: f64, max: f64) -> PointValue {
        let mut counts = vec![0; DURATION_BUCKETS.len() + 1];
        for &(i, n) in counts_at {
            counts[i] = n;
        }
        PointValue::Histogram {
            bounds: DURATION_BUCKETS.to_vec(),
            count: counts.iter().sum(),
            counts,
            sum: 0.0,
            min: Some(min),
            max: Some(max),
        }
    }

    fn known() -> Snapshot {
        let a = [("gen_ai.request.model", "gpt-4o")];
        let a_err = [("gen_ai.request.model", "gpt-4o"), ("error.type", "429")];
        let b = [("gen_ai.request.model", "claude-sonnet-4")];
        let n = PointValue::Number;
        Snapshot {
            resource: vec![],
            families: vec![
                family(
                    "openinference.llm.calls",
                    FamilyKind::Counter,
                    vec![point(&a, n(9.0)), point(&a_err, n(1.0)), point(&b, n(2.0))],
                ),
                family(
                    "gen_ai.client.operation.duration",
                    FamilyKind::Histogram,
                    vec![
                        // 9 calls in (0.16, 0.32], the error one in (1.28, 2.56].
                        point(&a, durations(&[(5, 9)], 0.2, 0.3)),
                        point(&a_err, durations(&[(8, 1)], 2.0, 2.0)),
                        // 2 calls in (0.04, 0.08].
                        point(&b, durations(&[(3, 2)], 0.05, 0.07)),
                    ],
                ),
                family(
                    "openinference.llm.tokens",
                    FamilyKind::Counter,
                    vec![
                        point(&[a[0], ("gen_ai.token.type", "input")], n(1000.0)),
                        point(&[a[0], ("gen_ai.token.type", "output")], n(200.0)),
                        point(&[a[0], ("gen_ai.token.type", "cache_read")], n(500.0)),
                        point(&[b[0], ("gen_ai.token.type", "input")], n(30.0)),
                        point(&[b[0], ("gen_ai.token.type", "output")], n(4.0)),
                    ],
                ),
                family(
                    "openinference.llm.cost",
                    FamilyKind::Counter,
                    vec![point(&a, n(0.0125)), point(&b, n(0.0002))],
                ),
            ],
        }
    }

    #[test]
    fn quantiles_interpolate_inside_the_bucket_and_clamp_to_min_max() {
        let r = &rows(&known())["gpt-4o"];
        let l = r.latency.as_ref().unwrap();
        // rank 5 of 10: 5/9 of the way through (0.16, 0.32].
        let p50 = l.quantile(0.5).unwrap();
        assert!((p50 - (0.16 + 0.16 * 5.0 / 9.0)).abs() < 1e-12, "{p50}");
        // rank 9.5 of 10: half way through the error bucket (1.28, 2.56].
        assert!((l.quantile(0.95).unwrap() - 1.92).abs() < 1e-12);
        // rank 9.9: 2.432 by interpolation, clamped to the largest value seen (2.0).
        assert_eq!(l.quantile(0.99), Some(2.0));
        // A single bucket below min: clamped up to the observed min.
        let b = &rows(&known())["claude-sonnet-4"];
        assert_eq!(b.latency.as_ref().unwrap().quantile(0.01), Some(0.05));
    }

    #[test]
    fn table_from_known_data() {
        let table = render(&known()).unwrap();
        let expected = "\
LLM metrics
model            calls  errors    p50    p95  input  output       cost
claude-sonnet-4      2       0   60ms   70ms     30       4  $0.000200
gpt-4o              10       1  249ms  1.92s   1000     200    $0.0125
total               12       1                 1030     204    $0.0127
";
        assert_eq!(table, expected, "\n{table}");
    }

    #[test]
    fn nothing_recorded_means_no_table() {
        assert_eq!(render(&Snapshot::default()), None);
        let l = Latency {
            bounds: vec![1.0],
            counts: vec![0, 0],
            min: None,
            max: None,
        };
        assert_eq!(l.quantile(0.5), None);
    }

    fn under_layer(builder: crate::LlmLayerBuilder) -> crate::LlmHandle {
        use tracing_subscriber::prelude::*;
        let layer: crate::LlmLayer<tracing_subscriber::Registry> = builder
            .with_price_table(
                crate::pricing::PriceTable::empty()
                    .with_price("gpt-4o", crate::pricing::ModelPrice::new(2.0, 8.0)),
            )
            .build();
        let handle = layer.handle();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            for _ in 0..2 {
                tracing::info_span!(
                    "chat",
                    llm.model_name = "gpt-4o",
                    llm.provider = "openai",
                    llm.token_count.prompt = 1000,
                    llm.token_count.completion = 100,
                )
                .in_scope(|| {});
            }
            tracing::info_span!("chat", llm.model_name = "gpt-4o", llm.provider = "openai")
                .in_scope(|| tracing::error!(error.type = "Timeout", "timed out"));
        });
        handle
    }

    #[test]
    fn console_layer_summarizes_its_calls_at_shutdown() {
        let handle = under_layer(
            crate::LlmLayerBuilder::from_env_with(|_| None).with_console_exporter(true),
        );
        let table = handle.summary_text().expect("a summary with console on");
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "LLM metrics");
        let cells: Vec<&str> = lines[2].split_whitespace().collect();
        // model, calls, errors, p50, p95, input, output, cost (2 x $0.0028).
        assert_eq!(cells[..3], ["gpt-4o", "3", "1"], "{table}");
        assert_eq!(cells[5..], ["2000", "200", "$0.005600"], "{table}");
        // Spans this short read in µs, not as a zero.
        assert!(
            cells[3].ends_with('s') && !cells[3].starts_with('0'),
            "{table}"
        );
        assert!(
            cells[4].ends_with('s') && !cells[4].starts_with('0'),
            "{table}"
        );
        assert_eq!(lines.len(), 3, "one model, no total row: {table}");
        handle.shutdown(std::time::Duration::from_secs(5)).unwrap();
        // Read before the meter provider closed; afterwards there is nothing to read.
        assert_eq!(handle.summary_text(), None);
    }

    #[test]
    fn no_summary_without_the_console_or_with_another_destination() {
        let quiet = under_layer(
            crate::LlmLayerBuilder::from_env_with(|_| None).with_console_exporter(false),
        );
        assert_eq!(quiet.summary_text(), None);
        let elsewhere = under_layer(
            crate::LlmLayerBuilder::from_env_with(|_| None)
                .with_span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default()),
        );
        assert_eq!(elsewhere.summary_text(), None);
    }
}

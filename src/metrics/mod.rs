//! GenAI metrics, taken by the layer at span close from every recognized span, whatever
//! the sampling decision. LLM-span values are gathered per thread and recorded into the SDK
//! instruments in batches, on the export thread when there is one; every collection records
//! everything gathered first. A collection made while a batch is being recorded may see it in
//! one instrument before another (the SDK reads its instruments one by one); no instrument
//! ever goes back, and they all agree once the spans have ended.
//!
//! | instrument | kind | unit | attributes |
//! |---|---|---|---|
//! | `gen_ai.client.operation.duration` | histogram | s | operation, provider, model, `error.type` |
//! | `gen_ai.client.token.usage` | histogram | {token} | + `gen_ai.token.type` = input / output |
//! | `gen_ai.client.operation.time_to_first_chunk` | histogram | s | operation, provider, model |
//! | `gen_ai.client.operation.time_per_output_chunk` | histogram | s | operation, provider, model, `error.type` |
//! | `openinference.llm.tokens` | counter | {token} | provider, model, `gen_ai.token.type` = input / output / cache_read / cache_write / reasoning |
//! | `openinference.llm.cost` | counter | USD | provider, model |
//! | `openinference.llm.calls` | counter | {call} | operation, provider, model, `error.type` |
//! | `openinference.llm.tokens.invalid` | counter | {count} | `reason` = too_large / negative / not_a_number |
//! | `openinference.tool.duration` | histogram | s | `gen_ai.tool.name`, `error.type` |
//! | `openinference.retrieval.duration` | histogram | s | `error.type` |
//! | `openinference.retrieval.documents` | histogram | {document} | — |
//! | `openinference.spans.exported` | counter | {span} | — |
//! | `openinference.spans.dropped` | counter | {span} | `reason` = queue_full / buffer_full / export_failed / sampled_out / shutdown |
//! | `openinference.traces.kept` | counter | {trace} | `reason` = ratio / parent / error / slow |
//! | `openinference.traces.dropped` | counter | {trace} | `reason` = sampled_out / buffer_full |
//! | `openinference.buffer.bytes` | gauge | By | `buffer` = queue / sampling |
//! | `openinference.annotations.delivered` | counter | {annotation} | — |
//! | `openinference.annotations.dropped` | counter | {annotation} | `reason` = queue_full / export_failed / shutdown / retry_full |
//!
//! With `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`, the `gen_ai.*` instruments take
//! their latest names instead (`gen_ai.client.inference.*`, `gen_ai.execute_tool.duration`): see
//! [`crate::LlmLayerBuilder::with_gen_ai_latest_conventions`].
//!
//! The `openinference.spans.*`, `openinference.traces.*` and `openinference.buffer.bytes`
//! instruments observe the export pipeline (see [`crate::PipelineSnapshot`]); they are read at
//! collection time and cost nothing per span.
//!
//! Model, provider, tool and error-type names are folded into `_OTHER` past
//! [`MAX_LABEL_VALUES`] distinct values each; attribute sets are built once per combination and
//! cached; no id or content ever becomes an attribute.

mod batch;
mod latest;
mod pipeline;

pub(crate) use batch::record_handed;

use crate::kind::SpanKind;
use crate::layer::state::SpanState;
use crate::pipeline::stats::PipelineStats;
use crate::pricing::{ModelPrice, PriceCache};
use opentelemetry::metrics::{BoundCounter, BoundHistogram, Counter, Histogram, Meter};
use opentelemetry::{KeyValue, StringValue};
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// How many distinct values of one label (model, provider, tool) are kept before the rest
/// fold into `_OTHER`.
pub const MAX_LABEL_VALUES: usize = 64;

/// The bucket boundaries of `gen_ai.client.operation.duration` and the other GenAI time
/// histograms, in seconds: 0.01 doubling up to 81.92.
pub const DURATION_BUCKETS: [f64; 14] = crate::chunk_gaps::BOUNDS;

/// The bucket boundaries of `gen_ai.client.token.usage`.
pub const TOKEN_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

/// The prefix of the crate's own metrics.
pub const PREFIX: &str = "openinference";

/// A bounded set of label values: past the limit, new values become `_OTHER`.
#[derive(Debug, Default)]
struct LabelFold {
    seen: Mutex<HashSet<Arc<str>>>,
}

impl LabelFold {
    fn fold(&self, value: &Arc<str>) -> Arc<str> {
        let mut seen = self.seen.lock();
        if seen.contains(value) {
            return Arc::clone(value);
        }
        if seen.len() < MAX_LABEL_VALUES {
            seen.insert(Arc::clone(value));
            return Arc::clone(value);
        }
        Arc::from(OTHER)
    }
}

#[derive(Debug)]
struct Instruments {
    duration: Histogram<f64>,
    token_usage: Histogram<u64>,
    ttfc: Histogram<f64>,
    /// Time per output chunk after the first (see [`crate::chunk_gaps`]).
    tpoc: Histogram<f64>,
    tokens: Counter<u64>,
    cost: Counter<f64>,
    calls: Counter<u64>,
    /// Token counts not used (over 10⁹ per call, negative, not a number), by reason.
    invalid_tokens: Counter<u64>,
    tool_duration: Histogram<f64>,
    retrieval_duration: Histogram<f64>,
    /// `retrieval_duration` without attributes (no error), bound once.
    retrieval_ok: BoundHistogram<f64>,
    /// `openinference.retrieval.documents`, bound once (it has no attributes).
    documents_bound: BoundHistogram<u64>,
    /// The instruments of the latest GenAI names, when the layer opts in to them.
    latest: Option<latest::LatestInstruments>,
    /// The export pipeline's self-observation, when the metrics belong to one.
    _pipeline: Option<pipeline::PipelineInstruments>,
}

/// The instruments of one (operation, provider, model), bound to its attributes once, so a
/// span records without hashing attributes.
#[derive(Debug)]
struct LlmSeries {
    /// Operation, provider, model (for the rare failed call, which adds `error.type`).
    base: Vec<KeyValue>,
    duration: BoundHistogram<f64>,
    /// The duration instrument unbound, for a failed call.
    failed_duration: Histogram<f64>,
    calls: BoundCounter<u64>,
    /// Time to first chunk (unbound; none for embeddings under the latest GenAI names).
    ttfc: Option<Histogram<f64>>,
    /// `ttfc` bound to `base` at the series' first streamed call, so that a series never
    /// streamed exports no empty point.
    ttfc_bound: std::sync::OnceLock<BoundHistogram<f64>>,
    /// Time per output chunk (unbound, for a failed call); none where `ttfc` is.
    tpoc: Option<Histogram<f64>>,
    /// `tpoc` bound to `base` at the series' first streamed call, so that a series never
    /// streamed exports no empty point.
    tpoc_bound: std::sync::OnceLock<BoundHistogram<f64>>,
    cost: BoundCounter<f64>,
    /// The model's price, if the table has one.
    price: Option<ModelPrice>,
    /// Input and output token usage (none for embeddings under the latest GenAI names).
    usage: Vec<BoundHistogram<u64>>,
    /// Tokens by type, in [`TOKEN_TYPES`] order.
    tokens: [BoundCounter<u64>; 5],
    /// The `gen_ai.client.inference.usage.*` counters in [`TOKEN_TYPES`] order (latest GenAI
    /// names only).
    usage_counters: Vec<BoundCounter<u64>>,
}

impl LlmSeries {
    /// Time to first chunk bound to the series' attributes, bound at its first use.
    fn first_chunk_times(&self) -> Option<&BoundHistogram<f64>> {
        let ttfc = self.ttfc.as_ref()?;
        Some(self.ttfc_bound.get_or_init(|| ttfc.bind(&self.base)))
    }

    /// Time per output chunk bound to the series' attributes, bound at its first use.
    fn chunk_times(&self) -> Option<&BoundHistogram<f64>> {
        let tpoc = self.tpoc.as_ref()?;
        Some(self.tpoc_bound.get_or_init(|| tpoc.bind(&self.base)))
    }
}

/// The attributes and bound duration of one tool.
#[derive(Debug)]
struct ToolSeries {
    attrs: Vec<KeyValue>,
    duration: BoundHistogram<f64>,
    /// `gen_ai.execute_tool.duration` (latest GenAI names only).
    latest: Option<BoundHistogram<f64>>,
}

/// The `gen_ai.token.type` values, in the order [`Metrics::record_span`] reads them.
const TOKEN_TYPES: [&str; 5] = ["input", "output", "cache_read", "cache_write", "reasoning"];

/// The value labels fold into past [`MAX_LABEL_VALUES`].
const OTHER: &str = "_OTHER";

/// Most cached attribute sets (the label folds bound them well below this).
const MAX_SERIES: usize = 16_384;

/// Cached attribute sets of LLM spans, by (operation, raw provider, raw model).
type SeriesKey = (&'static str, Option<Arc<str>>, Option<Arc<str>>);
type SeriesMap = RwLock<HashMap<SeriesKey, Arc<LlmSeries>, crate::fnv::FnvBuild>>;

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    instruments: Option<Instruments>,
    /// This instance, among those whose values a thread gathers (see [`batch`]).
    owner: u64,
    models: LabelFold,
    providers: LabelFold,
    tools: LabelFold,
    errors: LabelFold,
    series: SeriesMap,
    tool_attrs: RwLock<HashMap<Option<Arc<str>>, Arc<ToolSeries>, crate::fnv::FnvBuild>>,
    /// The layer's prices: `openinference.llm.cost` prices the tokens of each model.
    prices: Option<Arc<PriceCache>>,
    /// Wakes the export thread that records full batches (see [`batch`]); without one, a
    /// thread records its own.
    wake: Option<batch::Wake>,
    /// Each span's values are recorded when it ends, not gathered per thread.
    at_once: bool,
}

impl Metrics {
    /// No metrics.
    pub(crate) fn disabled() -> Metrics {
        Metrics::default()
    }

    /// Instruments created once from `meter`; the pipeline's are read from `stats`; costs
    /// come from `prices`; `latest` selects the latest GenAI names (see [`crate::semconv`]).
    pub(crate) fn new(
        meter: &Meter,
        stats: Arc<PipelineStats>,
        prices: Arc<PriceCache>,
        latest: bool,
    ) -> Metrics {
        Metrics::with_instruments(meter, Some(stats), prices, latest)
    }

    /// Instruments created once from `meter`, for spans that no pipeline of this crate
    /// exports ([`crate::compose::LlmSemantics`]): no self-observation, and each span's values
    /// recorded when it ends (nothing gathered per thread waits for a collection).
    pub(crate) fn unbatched(meter: &Meter, prices: Arc<PriceCache>) -> Metrics {
        Metrics {
            at_once: true,
            ..Metrics::with_instruments(meter, None, prices, false)
        }
    }

    fn with_instruments(
        meter: &Meter,
        stats: Option<Arc<PipelineStats>>,
        prices: Arc<PriceCache>,
        latest: bool,
    ) -> Metrics {
        let p = PREFIX;
        let retrieval_duration = meter
            .f64_histogram(format!("{p}.retrieval.duration"))
            .with_unit("s")
            .with_description("Retrieval duration, with error.type on failures")
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build();
        let documents = meter
            .u64_histogram(format!("{p}.retrieval.documents"))
            .with_unit("{document}")
            .with_description("Documents returned per retrieval")
            .with_boundaries(vec![0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0])
            .build();
        let instruments = Instruments {
            duration: meter
                .f64_histogram("gen_ai.client.operation.duration")
                .with_unit("s")
                .with_description("GenAI operation duration")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            token_usage: meter
                .u64_histogram("gen_ai.client.token.usage")
                .with_unit("{token}")
                .with_description("Number of input and output tokens used")
                .with_boundaries(TOKEN_BUCKETS.to_vec())
                .build(),
            ttfc: meter
                .f64_histogram("gen_ai.client.operation.time_to_first_chunk")
                .with_unit("s")
                .with_description("Time to receive the first chunk of a streamed response")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            tpoc: meter
                .f64_histogram("gen_ai.client.operation.time_per_output_chunk")
                .with_unit("s")
                .with_description(
                    "Time per output chunk after the first one, from the end of the previous chunk",
                )
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            tokens: meter
                .u64_counter(format!("{p}.llm.tokens"))
                .with_unit("{token}")
                .with_description(
                    "Tokens by type: input, output, cache_read, cache_write, reasoning",
                )
                .build(),
            cost: meter
                .f64_counter(format!("{p}.llm.cost"))
                .with_unit("USD")
                .with_description("Cost of LLM calls in US dollars, from the price table")
                .build(),
            calls: meter
                .u64_counter(format!("{p}.llm.calls"))
                .with_unit("{call}")
                .with_description("GenAI operations, with error.type on failures")
                .build(),
            invalid_tokens: meter
                .u64_counter(format!("{p}.llm.tokens.invalid"))
                .with_unit("{count}")
                .with_description(
                    "Token counts recorded on spans but neither priced nor counted: over 10^9 \
                     per call, negative, or not a number",
                )
                .build(),
            tool_duration: meter
                .f64_histogram(format!("{p}.tool.duration"))
                .with_unit("s")
                .with_description("Tool call duration, with error.type on failures")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            retrieval_ok: retrieval_duration.bind(&[]),
            documents_bound: documents.bind(&[]),
            retrieval_duration,
            latest: latest.then(|| latest::LatestInstruments::new(meter)),
            _pipeline: stats.map(|stats| pipeline::PipelineInstruments::new(meter, stats)),
        };
        Metrics {
            instruments: Some(instruments),
            owner: batch::next_owner(),
            prices: Some(prices),
            ..Metrics::default()
        }
    }

    /// Full batches of LLM-span values go to the export thread that `wake` wakes, which
    /// records them with [`record_handed`].
    pub(crate) fn with_export_thread(mut self, wake: Box<dyn Fn() + Send + Sync>) -> Metrics {
        self.wake = Some(batch::Wake(wake));
        self
    }

    /// The cached attribute sets of one (operation, provider, model); built once.
    fn llm_series(
        &self,
        m: &Instruments,
        op: &'static str,
        provider: Option<&Arc<str>>,
        model: Option<&Arc<str>>,
    ) -> Arc<LlmSeries> {
        let key = (op, provider.cloned(), model.cloned());
        if let Some(series) = self.series.read().get(&key) {
            return Arc::clone(series);
        }
        let price = model
            .zip(self.prices.as_ref())
            .and_then(|(m, p)| p.price(m));
        let provider = provider
            .map(|p| {
                self.providers
                    .fold(&crate::mapping::genai::provider_name_arc(p))
            })
            .unwrap_or_else(|| Arc::from(OTHER));
        let model = model.map(|m| self.models.fold(m));
        let folded = &*provider == OTHER || model.as_deref() == Some(OTHER);
        let mut base = vec![
            KeyValue::new("gen_ai.operation.name", op),
            KeyValue::new("gen_ai.provider.name", StringValue::from(provider)),
        ];
        if let Some(model) = model {
            base.push(KeyValue::new(
                "gen_ai.request.model",
                StringValue::from(model),
            ));
        }
        let typed = |ty: &'static str| {
            let mut v = base.clone();
            v.push(KeyValue::new("gen_ai.token.type", ty));
            v
        };
        let by_type = TOKEN_TYPES.map(typed);
        let bound = latest::bind(m, op, &base, &by_type[0], &by_type[1]);
        let series = Arc::new(LlmSeries {
            duration: bound.duration,
            failed_duration: bound.failed_duration,
            calls: m.calls.bind(&base),
            ttfc: bound.ttfc,
            ttfc_bound: std::sync::OnceLock::new(),
            tpoc: bound.tpoc,
            tpoc_bound: std::sync::OnceLock::new(),
            cost: m.cost.bind(&base),
            price,
            usage: bound.usage,
            tokens: std::array::from_fn(|i| m.tokens.bind(&by_type[i])),
            usage_counters: bound.usage_counters,
            base,
        });
        // Folded values are not cached under their raw key, so the map stays bounded.
        if !folded {
            let mut map = self.series.write();
            if map.len() < MAX_SERIES {
                map.insert(key, Arc::clone(&series));
            }
        }
        series
    }

    /// The cached attributes and bound duration of one tool.
    fn tool_series(&self, m: &Instruments, tool: Option<&Arc<str>>) -> Arc<ToolSeries> {
        let key = tool.cloned();
        if let Some(series) = self.tool_attrs.read().get(&key) {
            return Arc::clone(series);
        }
        let folded = match &key {
            Some(name) => self.tools.fold(name),
            None => Arc::from(OTHER),
        };
        let attrs = vec![KeyValue::new(
            "gen_ai.tool.name",
            StringValue::from(Arc::clone(&folded)),
        )];
        let series = Arc::new(ToolSeries {
            duration: m.tool_duration.bind(&attrs),
            latest: m.latest.as_ref().map(|l| l.tool_duration.bind(&attrs)),
            attrs,
        });
        if &*folded != OTHER || key.is_none() {
            let mut map = self.tool_attrs.write();
            if map.len() < MAX_SERIES {
                map.insert(key, Arc::clone(&series));
            }
        }
        series
    }

    /// Records one finished span, which ended at `ended`; `priced` is the usage its cost is
    /// priced from ([`SpanState::priced_usage`]).
    pub(crate) fn record_span(
        &self,
        state: &SpanState,
        kind: SpanKind,
        ended: std::time::Instant,
        priced: Option<crate::pricing::TokenUsage>,
    ) {
        let Some(m) = &self.instruments else { return };
        if state.tokens.invalid.any() {
            count_invalid(m, &state.tokens.invalid);
        }
        let seconds = ended.saturating_duration_since(state.start).as_secs_f64();
        let error = state.error.as_ref().map(|e| {
            let ty = state.error_type.as_deref().unwrap_or(&e.kind);
            KeyValue::new(
                "error.type",
                StringValue::from(self.errors.fold(&Arc::from(ty))),
            )
        });
        let with_error = |attrs: &[KeyValue]| -> Option<Vec<KeyValue>> {
            error.clone().map(|e| {
                let mut v = attrs.to_vec();
                v.push(e);
                v
            })
        };
        match kind {
            SpanKind::Llm | SpanKind::Embedding => {
                let op = kind.gen_ai_operation().unwrap_or("chat");
                let (provider, model) = (state.provider.as_ref(), state.model.as_ref());
                let first_chunk = state
                    .first_chunk
                    .map(|first| first.saturating_duration_since(state.start).as_secs_f64());
                if error.is_none() && !self.at_once {
                    // Gathered per thread and priced per batch, from the summed usage (see
                    // `batch`).
                    let values = batch::LlmValues {
                        seconds,
                        first_chunk,
                        chunk_gaps: state.chunk_gaps.as_deref().map(|c| &c.gaps),
                        tokens: &state.tokens,
                        priced: priced.as_ref(),
                    };
                    let series = || self.llm_series(m, op, provider, model);
                    let wake = self.wake.as_ref();
                    batch::add(self.owner, op, provider, model, values, series, wake);
                    return;
                }
                let t = state.tokens;
                let tokens = [
                    t.prompt,
                    t.completion,
                    t.cache_read,
                    t.cache_write,
                    t.reasoning,
                ];
                let priced = priced.map(|u| u.clamped());
                // A failed call (or any, unbatched) is recorded at once, a failed one under
                // its `error.type`.
                let series = self.llm_series(m, op, provider, model);
                let gaps = state.chunk_gaps.as_deref();
                match with_error(&series.base) {
                    Some(failed) => {
                        series.failed_duration.record(seconds, &failed);
                        m.calls.add(1, &failed);
                        if let Some((tpoc, c)) = series.tpoc.as_ref().zip(gaps) {
                            c.gaps.for_each(|t| tpoc.record(t, &failed));
                        }
                    }
                    None => {
                        series.duration.record(seconds);
                        series.calls.add(1);
                        if let Some((c, tpoc)) = gaps.and_then(|c| Some((c, series.chunk_times()?)))
                        {
                            c.gaps.for_each(|t| tpoc.record(t));
                        }
                    }
                }
                if let Some(t) = first_chunk {
                    if let Some(ttfc) = series.first_chunk_times() {
                        ttfc.record(t);
                    }
                }
                for (i, n) in tokens.into_iter().enumerate() {
                    let Some(n) = n else { continue };
                    if let Some(usage) = series.usage.get(i) {
                        usage.record(n);
                    }
                    series.tokens[i].add(n);
                    if let Some(counter) = series.usage_counters.get(i) {
                        counter.add(n);
                    }
                }
                if let Some(cost) = priced.zip(series.price).map(|(u, p)| p.cost(&u).total) {
                    series.cost.add(cost);
                }
            }
            SpanKind::Tool => {
                let series = self.tool_series(m, state.tool_name.as_ref());
                match with_error(&series.attrs) {
                    Some(failed) => {
                        m.tool_duration.record(seconds, &failed);
                        if let Some(l) = &m.latest {
                            l.tool_duration.record(seconds, &failed);
                        }
                    }
                    None => {
                        series.duration.record(seconds);
                        if let Some(latest) = &series.latest {
                            latest.record(seconds);
                        }
                    }
                }
            }
            SpanKind::Retriever => {
                match with_error(&[]) {
                    Some(failed) => m.retrieval_duration.record(seconds, &failed),
                    None => m.retrieval_ok.record(seconds),
                }
                if let Some(n) = state.documents {
                    m.documents_bound.record(n);
                }
            }
            _ => {}
        }
    }
}

/// Counts a span's invalid token counts by reason (rare: off the common path).
#[cold]
fn count_invalid(m: &Instruments, invalid: &crate::layer::token_check::InvalidTokens) {
    use crate::layer::token_check::InvalidReason;
    for (reason, n) in InvalidReason::ALL.iter().zip(invalid.0) {
        if n > 0 {
            m.invalid_tokens
                .add(u64::from(n), &[KeyValue::new("reason", reason.as_str())]);
        }
    }
}

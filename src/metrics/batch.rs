//! LLM-span metric values gathered per thread and recorded into the SDK instruments in
//! batches.
//!
//! Recording one LLM span takes seven SDK measurements (duration, calls, two token-usage
//! histograms, two token counters, cost): each a lock or atomic update of state a few pointer
//! hops away, which a span's own work (its fields, its 2 KB of messages) pushes out of the
//! CPU cache between spans. Instead, a span's values go into a small buffer of the thread
//! that ended it: token counts summed in place, histogram values kept in a list, and the
//! usage to price summed per model, so that the cost counter gets the batch's cost once:
//! costs are linear in (clamped) token counts, so the cost of the summed usage is the sum of
//! the calls' costs, rounded once instead of once per call.
//! The thread records its buffer every [`BATCH_SPANS`] spans, so the SDK's state is fetched
//! once for many spans and the counters are updated once. Before every metric collection a
//! callback records everything gathered so far (see [`flush_all`]), and a thread's buffer is
//! recorded when the thread exits, so a reader never sees a value late.
//!
//! (Handing full buffers to the export thread instead was measured slower on 2 cores: the
//! hand-over, its wake-ups and the buffers' cross-thread frees cost more than the recording.)

use super::LlmSeries;
use crate::pricing::TokenUsage;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// Spans a thread gathers before recording them.
pub(crate) const BATCH_SPANS: usize = 32;

/// Distinct series a thread's buffer holds before it is recorded early.
const MAX_SLOTS: usize = 16;

/// The values of one successful LLM span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LlmValues {
    /// Duration in seconds.
    pub(crate) seconds: f64,
    /// Time to the first chunk, in seconds, for streamed responses.
    pub(crate) first_chunk: Option<f64>,
    /// Tokens by type, in `TOKEN_TYPES` order.
    pub(crate) tokens: [Option<u64>; 5],
    /// The usage to price, clamped (see [`TokenUsage::clamped`]), unless the caller gave the
    /// cost or no model is known.
    pub(crate) priced: Option<TokenUsage>,
}

/// Which series a slot gathers for: the metrics instance and the raw attributes.
#[derive(Debug, Clone, PartialEq)]
struct SeriesKey {
    /// The [`super::Metrics`] instance (several layers may share a thread).
    owner: u64,
    op: &'static str,
    provider: Option<Arc<str>>,
    model: Option<Arc<str>>,
}

impl SeriesKey {
    fn matches(
        &self,
        owner: u64,
        op: &str,
        provider: Option<&Arc<str>>,
        model: Option<&Arc<str>>,
    ) -> bool {
        self.owner == owner
            && self.op == op
            && same_text(self.provider.as_ref(), provider)
            && same_text(self.model.as_ref(), model)
    }
}

/// Equal texts; the same allocation (the layer shares repeated texts) is found without
/// comparing bytes.
fn same_text(a: Option<&Arc<str>>, b: Option<&Arc<str>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || **a == **b,
        (None, None) => true,
        _ => false,
    }
}

/// What one thread gathered for one series since its last recording.
#[derive(Debug)]
struct Slot {
    key: SeriesKey,
    series: Arc<LlmSeries>,
    calls: u64,
    tokens: [Option<u64>; 5],
    /// The summed usage of the spans to price, priced once per recording.
    priced: Option<TokenUsage>,
    durations: Vec<f64>,
    first_chunks: Vec<f64>,
    /// Input and output token usage values.
    usage: [Vec<u64>; 2],
}

impl Slot {
    fn record(&mut self) {
        let s = &self.series;
        for &d in &self.durations {
            s.duration.record(d);
        }
        if self.calls > 0 {
            s.calls.add(self.calls);
        }
        for &t in &self.first_chunks {
            s.ttfc.record(t);
        }
        for (histogram, values) in s.usage.iter().zip(&self.usage) {
            for &n in values {
                histogram.record(n);
            }
        }
        for (counter, sum) in s.tokens.iter().zip(&self.tokens) {
            if let Some(n) = sum {
                counter.add(*n);
            }
        }
        if let Some(usage) = self.priced.take() {
            if let Some(price) = s.price {
                s.cost.add(price.cost(&usage).total);
            }
        }
        self.calls = 0;
        self.tokens = [None; 5];
        self.durations.clear();
        self.first_chunks.clear();
        self.usage.iter_mut().for_each(Vec::clear);
    }
}

/// One thread's gathered values.
#[derive(Debug, Default)]
struct Batch {
    slots: Vec<Slot>,
    spans: usize,
}

impl Batch {
    /// Adds one span's values; `series` is asked for only when this thread has no slot for
    /// the key yet.
    fn add(
        &mut self,
        owner: u64,
        op: &'static str,
        provider: Option<&Arc<str>>,
        model: Option<&Arc<str>>,
        values: LlmValues,
        series: &dyn Fn() -> Arc<LlmSeries>,
    ) {
        let i = match self
            .slots
            .iter()
            .position(|s| s.key.matches(owner, op, provider, model))
        {
            Some(i) => i,
            None => {
                if self.slots.len() >= MAX_SLOTS {
                    self.record();
                    self.slots.clear();
                }
                self.slots.push(Slot {
                    key: SeriesKey {
                        owner,
                        op,
                        provider: provider.cloned(),
                        model: model.cloned(),
                    },
                    series: series(),
                    calls: 0,
                    tokens: [None; 5],
                    priced: None,
                    durations: Vec::with_capacity(BATCH_SPANS),
                    first_chunks: Vec::new(),
                    usage: [
                        Vec::with_capacity(BATCH_SPANS),
                        Vec::with_capacity(BATCH_SPANS),
                    ],
                });
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[i];
        slot.calls += 1;
        slot.durations.push(values.seconds);
        if let Some(t) = values.first_chunk {
            slot.first_chunks.push(t);
        }
        for (i, n) in values.tokens.into_iter().enumerate() {
            let Some(n) = n else { continue };
            if let Some(usage) = slot.usage.get_mut(i) {
                usage.push(n);
            }
            let sum = slot.tokens[i].get_or_insert(0);
            *sum = sum.saturating_add(n);
        }
        if let Some(usage) = &values.priced {
            slot.priced
                .get_or_insert_with(TokenUsage::default)
                .add(usage);
        }
        self.spans += 1;
    }

    /// Records everything gathered into the SDK instruments.
    fn record(&mut self) {
        if self.spans == 0 {
            return;
        }
        // A slot unused since the last recording is let go: its series may belong to a
        // layer since dropped.
        self.slots.retain_mut(|slot| {
            let used = slot.calls > 0;
            slot.record();
            used
        });
        self.spans = 0;
    }
}

/// Every thread's batch, for [`flush_all`]; entries of exited threads are pruned.
static BATCHES: Mutex<Vec<Weak<Mutex<Batch>>>> = Mutex::new(Vec::new());

/// A thread's batch, recorded when the thread exits.
struct Local(Arc<Mutex<Batch>>);

impl Local {
    fn register() -> Local {
        let batch = Arc::new(Mutex::new(Batch::default()));
        let mut all = BATCHES.lock();
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&batch));
        Local(batch)
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.0.lock().record();
    }
}

thread_local! {
    static LOCAL: Local = Local::register();
}

/// A process-unique id for a [`super::Metrics`] instance.
pub(crate) fn next_owner() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Adds one successful LLM span's values to this thread's batch, recording the batch when
/// it is full. On a thread being torn down (no thread-local left) they are recorded at once.
pub(crate) fn add(
    owner: u64,
    op: &'static str,
    provider: Option<&Arc<str>>,
    model: Option<&Arc<str>>,
    values: LlmValues,
    series: impl Fn() -> Arc<LlmSeries>,
) {
    let queued = LOCAL.try_with(|local| {
        let mut batch = local.0.lock();
        batch.add(owner, op, provider, model, values, &series);
        if batch.spans >= BATCH_SPANS {
            batch.record();
        }
    });
    if queued.is_err() {
        let mut batch = Batch::default();
        batch.add(owner, op, provider, model, values, &series);
        batch.record();
    }
}

/// Records every thread's batch into the SDK instruments; runs before each collection.
pub(crate) fn flush_all() {
    let batches: Vec<Arc<Mutex<Batch>>> = {
        let mut all = BATCHES.lock();
        all.retain(|w| w.strong_count() > 0);
        all.iter().filter_map(Weak::upgrade).collect()
    };
    for batch in batches {
        batch.lock().record();
    }
}

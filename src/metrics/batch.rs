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
//!
//! Every [`BATCH_SPANS`] spans the thread's buffer is full. With an export thread to hand it
//! to, the thread swaps it for an emptied one and leaves it for the export thread, which
//! records it into the SDK (the histograms take their values one at a time, ≈ 400
//! instructions per span, which the calling thread then does not pay). The export thread is
//! woken only once [`WAKE_AT`] buffers wait, and otherwise records them whenever it wakes; past
//! [`MAX_HANDED`] waiting buffers (an export thread stuck in a slow export) a thread records its
//! own, so memory stays bounded and nothing is dropped. Without an export thread, a thread
//! records its buffer itself.
//!
//! Before every metric collection a callback records everything gathered so far (see
//! [`flush_all`]), and a thread's buffer is recorded when the thread exits, so a reader never
//! sees a value late.

use super::LlmSeries;
use crate::chunk_gaps::GapSummary;
use crate::layer::state::Tokens;
use crate::pricing::TokenUsage;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// Spans a thread gathers before its buffer is recorded or handed over.
pub(crate) const BATCH_SPANS: usize = 32;

/// Handed-over buffers that wake the export thread (2,048 spans). A wake-up is a system call
/// and, on a virtual machine, an interrupt to the other CPU: waking it every 8 buffers cost
/// an LLM span's metrics about 100 ns more on the calling thread.
const WAKE_AT: usize = 64;

/// Most handed-over buffers waiting (and most emptied ones kept for reuse); past it a thread
/// records its own. A buffer holds 32 spans' values: about 1 KB for one model's spans.
const MAX_HANDED: usize = 256;

/// Distinct series a thread's buffer holds before it is recorded early.
const MAX_SLOTS: usize = 16;

/// The values of one successful LLM span, borrowed from its state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LlmValues<'a> {
    /// Duration in seconds.
    pub(crate) seconds: f64,
    /// Time to the first chunk, in seconds, for streamed responses.
    pub(crate) first_chunk: Option<f64>,
    /// The intervals between later chunks, for streamed responses of two chunks or more.
    pub(crate) chunk_gaps: Option<&'a GapSummary>,
    /// The span's token counts.
    pub(crate) tokens: &'a Tokens,
    /// The usage to price (clamped here, see [`TokenUsage::clamped`]), unless the caller gave
    /// the cost or no model is known.
    pub(crate) priced: Option<&'a TokenUsage>,
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
            // The operation names are the crate's constants: the same address, most often.
            && (std::ptr::eq(self.op, op) || self.op == op)
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
    /// Token sums by type, in `TOKEN_TYPES` order.
    tokens: [u64; 5],
    /// Bit `i` set: some span gave tokens of type `i`.
    seen: u8,
    /// The summed usage of the spans to price, priced once per recording.
    priced: Option<TokenUsage>,
    durations: Vec<f64>,
    first_chunks: Vec<f64>,
    /// The chunk intervals of the slot's streamed spans, merged (fixed size).
    chunk_gaps: Option<Box<GapSummary>>,
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
        // Bound only once a streamed call comes: a bound instrument exports a point.
        if let Some(ttfc) = (!self.first_chunks.is_empty())
            .then(|| s.first_chunk_times())
            .flatten()
        {
            for &t in &self.first_chunks {
                ttfc.record(t);
            }
        }
        if let Some(gaps) = self.chunk_gaps.as_deref_mut() {
            if let Some(tpoc) = s.chunk_times() {
                gaps.for_each(|t| tpoc.record(t));
            }
            *gaps = GapSummary::default();
        }
        for (histogram, values) in s.usage.iter().zip(&self.usage) {
            for &n in values {
                histogram.record(n);
            }
        }
        for (i, (counter, sum)) in s.tokens.iter().zip(self.tokens).enumerate() {
            if self.seen & (1 << i) != 0 {
                counter.add(sum);
            }
        }
        for (i, (counter, sum)) in s.usage_counters.iter().zip(self.tokens).enumerate() {
            if self.seen & (1 << i) != 0 {
                counter.add(sum);
            }
        }
        if let Some(usage) = self.priced.take() {
            if let Some(price) = s.price {
                s.cost.add(price.cost(&usage).total);
            }
        }
        self.calls = 0;
        self.tokens = [0; 5];
        self.seen = 0;
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
        values: LlmValues<'_>,
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
                    tokens: [0; 5],
                    seen: 0,
                    priced: None,
                    durations: Vec::with_capacity(BATCH_SPANS),
                    first_chunks: Vec::new(),
                    chunk_gaps: None,
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
        if let Some(gaps) = values.chunk_gaps {
            slot.chunk_gaps.get_or_insert_with(Box::default).merge(gaps);
        }
        let t = values.tokens;
        if let Some(n) = t.prompt {
            slot.usage[0].push(n);
        }
        if let Some(n) = t.completion {
            slot.usage[1].push(n);
        }
        let by_type = [
            t.prompt,
            t.completion,
            t.cache_read,
            t.cache_write,
            t.reasoning,
        ];
        for (i, n) in by_type.into_iter().enumerate() {
            if let Some(n) = n {
                slot.tokens[i] = slot.tokens[i].saturating_add(n);
                slot.seen |= 1 << i;
            }
        }
        if let Some(usage) = values.priced {
            slot.priced
                .get_or_insert_with(TokenUsage::default)
                .add(&usage.clamped());
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

/// Adds one successful LLM span's values to this thread's batch. A full batch is handed to
/// the export thread `wake` wakes, or recorded here without one. On a thread being torn down
/// (no thread-local left) the values are recorded at once.
pub(crate) fn add(
    owner: u64,
    op: &'static str,
    provider: Option<&Arc<str>>,
    model: Option<&Arc<str>>,
    values: LlmValues<'_>,
    series: impl Fn() -> Arc<LlmSeries>,
    wake: Option<&Wake>,
) {
    let queued = LOCAL.try_with(|local| {
        let mut batch = local.0.lock();
        batch.add(owner, op, provider, model, values, &series);
        if batch.spans >= BATCH_SPANS && !wake.is_some_and(|wake| hand_over(&mut batch, wake)) {
            batch.record();
        }
    });
    if queued.is_err() {
        let mut batch = Batch::default();
        batch.add(owner, op, provider, model, values, &series);
        batch.record();
    }
}

/// Wakes the export thread that records handed-over batches.
pub(crate) struct Wake(pub(crate) Box<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for Wake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wake")
    }
}

/// Full batches handed to an export thread, and recorded ones to reuse.
#[derive(Debug)]
struct Handover {
    full: Vec<Batch>,
    spare: Vec<Batch>,
    /// Whether the export thread was woken and has not taken the batches since.
    woken: bool,
}

impl Handover {
    const fn new() -> Handover {
        Handover {
            full: Vec::new(),
            spare: Vec::new(),
            woken: false,
        }
    }

    /// Takes `batch`, leaving an emptied one (a recorded one if any) in its place, and says
    /// whether to wake the export thread now; `None`, with `batch` untouched, if
    /// [`MAX_HANDED`] already wait.
    fn take(&mut self, batch: &mut Batch) -> Option<bool> {
        if self.full.len() >= MAX_HANDED {
            return None;
        }
        let spare = self.spare.pop().unwrap_or_default();
        self.full.push(std::mem::replace(batch, spare));
        let wake = self.full.len() >= WAKE_AT && !self.woken;
        self.woken |= wake;
        Some(wake)
    }

    /// The waiting batches, to record.
    fn take_full(&mut self) -> Vec<Batch> {
        self.woken = false;
        if self.full.is_empty() {
            return Vec::new();
        }
        std::mem::take(&mut self.full)
    }

    /// Keeps recorded batches for reuse (at most [`MAX_HANDED`]).
    fn give_back(&mut self, mut recorded: Vec<Batch>) {
        let room = MAX_HANDED.saturating_sub(self.spare.len());
        self.spare.extend(recorded.drain(..).take(room));
        if self.full.is_empty() {
            // Its allocation serves the next hand-overs.
            self.full = recorded;
        }
    }
}

static HANDOVER: Mutex<Handover> = Mutex::new(Handover::new());

/// Held while handed-over batches are recorded, so a collection waits for a recording in
/// progress (see [`flush_all`]).
static RECORDING: Mutex<()> = Mutex::new(());

/// Leaves `batch` for the export thread, swapped for an emptied one, and wakes it once
/// [`WAKE_AT`] wait; false, and `batch` untouched, if [`MAX_HANDED`] already wait.
fn hand_over(batch: &mut Batch, wake: &Wake) -> bool {
    let taken = HANDOVER.lock().take(batch);
    if taken == Some(true) {
        (wake.0)();
    }
    taken.is_some()
}

/// Records the batches handed over so far into the SDK instruments; the export thread calls
/// it whenever it wakes.
pub(crate) fn record_handed() {
    let _recording = RECORDING.lock();
    let mut full = HANDOVER.lock().take_full();
    if full.is_empty() {
        return;
    }
    for batch in &mut full {
        batch.record();
    }
    HANDOVER.lock().give_back(full);
}

/// Records every thread's batch and every handed-over one into the SDK instruments; runs
/// before each collection. Threads first: a batch a thread hands over meanwhile is then among
/// the handed-over ones, recorded last (and a recording the export thread has started is
/// waited for).
pub(crate) fn flush_all() {
    let batches: Vec<Arc<Mutex<Batch>>> = {
        let mut all = BATCHES.lock();
        all.retain(|w| w.strong_count() > 0);
        all.iter().filter_map(Weak::upgrade).collect()
    };
    for batch in batches {
        batch.lock().record();
    }
    record_handed();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_of(spans: usize) -> Batch {
        Batch {
            spans,
            ..Batch::default()
        }
    }

    /// The export thread is woken once per [`WAKE_AT`] waiting batches, no more than
    /// [`MAX_HANDED`] wait, and recorded batches come back emptied for the next hand-overs.
    #[test]
    fn the_handover_wakes_once_is_bounded_and_reuses_batches() {
        let mut handover = Handover::new();
        for i in 1..=MAX_HANDED {
            let mut batch = batch_of(BATCH_SPANS);
            assert_eq!(handover.take(&mut batch), Some(i == WAKE_AT), "batch {i}");
            assert_eq!(batch.spans, 0, "an emptied batch takes its place");
        }
        let mut batch = batch_of(BATCH_SPANS);
        assert_eq!(handover.take(&mut batch), None);
        assert_eq!(
            batch.spans, BATCH_SPANS,
            "a batch not taken is left as it was"
        );

        let mut full = handover.take_full();
        assert_eq!(full.len(), MAX_HANDED);
        assert!(full.iter().all(|b| b.spans == BATCH_SPANS));
        full.iter_mut().for_each(Batch::record);
        handover.give_back(full);
        assert_eq!(handover.spare.len(), MAX_HANDED);
        assert!(
            handover.full.capacity() >= MAX_HANDED,
            "the list is kept too"
        );

        // Taken by the export thread: the next WAKE_AT batches wake it again.
        for i in 1..=WAKE_AT {
            let mut batch = batch_of(BATCH_SPANS);
            assert_eq!(handover.take(&mut batch), Some(i == WAKE_AT), "batch {i}");
        }
        assert_eq!(handover.spare.len(), MAX_HANDED - WAKE_AT);
        assert!(handover.take_full().len() == WAKE_AT && handover.take_full().is_empty());
    }
}

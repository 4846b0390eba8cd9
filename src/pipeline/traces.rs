//! [`TraceBuffer`]: holds the spans of sampled-out traces until their local root ends, then
//! keeps the whole trace (an error in it, or a slow root) or drops it.
//!
//! The layer holds it, on the threads that end spans: a sampled-out trace that ends clean
//! is dropped where it was recorded, and only kept traces reach the export thread. What it
//! holds is anything [`Held`]: the layer's captured spans, or SDK spans in tests.
//!
//! - A span of a sampled-out trace waits here. An error in any span decides the trace at
//!   once ("keep"): what waited is released, and later spans of the trace pass straight on.
//! - When the local root ends (no parent, or a remote parent), an undecided trace is kept if
//!   the root was slower than the threshold, else dropped.
//! - Spans that end after their local root follow the root's decision, remembered in a
//!   fixed table of recent decisions ([`Decided`]).
//! - Memory is bounded in bytes and spans: past either bound, the oldest undecided traces
//!   are dropped whole (and counted) until the new span fits.

use super::stats::{DropReason, KeepReason, PipelineStats};
use crate::fnv::WordsBuild;
use crate::keep::{SharedRule, TraceSummary};
use crate::kind::SpanKind;
use crate::pricing::PriceCache;
use opentelemetry::trace::{SpanId, Status, TraceId};
use opentelemetry_sdk::trace::SpanData;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

/// Sets of [`Decided`]: 256 × 12 = 3,072 decisions remembered, in 16 KiB.
const DECIDED_SETS: usize = 256;

/// Decisions one set of [`Decided`] keeps.
const WAYS: usize = 12;

/// The buffer's bounds and what rescues a trace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BufferLimits {
    /// Most bytes (estimated) held.
    pub(crate) max_bytes: usize,
    /// Most spans held.
    pub(crate) max_spans: usize,
    /// Keep a sampled-out trace when a span in it fails.
    pub(crate) keep_errors: bool,
    /// Keep a sampled-out trace whose local root lasts longer than this.
    pub(crate) slow: Option<Duration>,
}

/// A finished span of a sampled-out trace, as the buffer sees it.
pub(crate) trait Held {
    /// Its trace.
    fn trace_id(&self) -> TraceId;
    /// Whether it is the root of its trace in this process (no parent, or a remote one).
    fn is_local_root(&self) -> bool;
    /// Whether it failed.
    fn failed(&self) -> bool;
    /// How long it lasted.
    fn lasted(&self) -> Duration;
    /// Its name.
    fn name(&self) -> &str;
    /// Says, on a kept trace's local root, why the trace was kept.
    fn mark_root(&mut self, reason: KeepReason);
    /// Adds what a keep-rule reads of it to `summary` (cost priced by `prices`).
    fn summarize(&self, summary: &mut TraceSummary, prices: &PriceCache);
}

impl Held for SpanData {
    fn trace_id(&self) -> TraceId {
        self.span_context.trace_id()
    }

    fn is_local_root(&self) -> bool {
        is_local_root(self)
    }

    fn failed(&self) -> bool {
        matches!(self.status, Status::Error { .. })
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn lasted(&self) -> Duration {
        self.end_time
            .duration_since(self.start_time)
            .unwrap_or_default()
    }

    fn mark_root(&mut self, reason: KeepReason) {
        mark_root(self, reason);
    }

    fn summarize(&self, summary: &mut TraceSummary, _prices: &PriceCache) {
        summarize_attributes(&self.attributes, self.failed(), summary);
    }
}

/// Adds a span's facts to `summary` from its attributes (kind, total tokens, cost, tool,
/// model, tags).
pub(crate) fn summarize_attributes(
    attributes: &[opentelemetry::KeyValue],
    failed: bool,
    summary: &mut TraceSummary,
) {
    let get = |key: &str| attributes.iter().find(|kv| kv.key.as_str() == key);
    let text = |key: &str| get(key).map(|kv| kv.value.as_str());
    let kind = text("openinference.span.kind")
        .and_then(|k| SpanKind::parse(&k))
        .unwrap_or(SpanKind::Chain);
    summary.add_span(kind, failed);
    // An agent's usage is its model calls', counted on their spans.
    let tokens = match get("llm.token_count.total").map(|kv| &kv.value) {
        Some(opentelemetry::Value::I64(n)) if kind != SpanKind::Agent => {
            u64::try_from(*n).unwrap_or(0)
        }
        _ => 0,
    };
    let cost = match get("llm.cost.total").map(|kv| &kv.value) {
        Some(opentelemetry::Value::F64(c)) => Some(*c),
        _ => None,
    };
    summary.add_usage(tokens, cost);
    summary.add_names(
        text("tool.name").as_deref(),
        text("llm.model_name").as_deref(),
        text("tag.tags").as_deref(),
    );
}

/// What became of the span handed to [`TraceBuffer::on_end`].
#[derive(Debug)]
pub(crate) enum Verdict<T> {
    /// Export these spans (the new one and whatever of its trace waited).
    Keep(Vec<T>),
    /// The new span and these of its trace are dropped (counted already): the caller frees
    /// them. (The new one apart: a trace of one span, the most common, needs no list.)
    Drop(T, Vec<T>),
    /// Nothing to export now.
    Held,
}

#[derive(Debug)]
struct Pending<T> {
    spans: Vec<(T, usize)>,
    bytes: usize,
    /// Insertion sequence, to find the oldest trace.
    seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Keep,
    Drop(DropReason),
}

impl Decision {
    /// As one byte of a [`Set`]; 0 is an empty way.
    fn encode(self) -> u8 {
        match self {
            Decision::Keep => 1,
            Decision::Drop(reason) => 2 + reason as u8,
        }
    }

    fn decode(byte: u8) -> Option<Decision> {
        match byte {
            0 => None,
            1 => Some(Decision::Keep),
            n => DropReason::ALL
                .get(usize::from(n - 2))
                .map(|r| Decision::Drop(*r)),
        }
    }
}

/// The decisions of recent traces, for their spans that end after the local root. A fixed
/// table of sets, each one cache line holding [`WAYS`] decisions whose trace id hashes to it
/// (by a 32-bit tag): a lookup touches one line of memory, where a map of this size would
/// miss the cache three or four times per decided trace.
///
/// It is small because every sampled-out trace writes it when its root ends: at 128 KiB (the
/// size before) that write missed the CPU cache on most traces, ≈ 5% of the time of a
/// sampled-out LLM span; at 16 KiB it mostly stays cached.
///
/// A set replaces a "drop" decision before a "keep" one (the oldest, from where it last
/// replaced): late spans of a kept trace are exported, those of a dropped trace only wait in
/// the buffer and are dropped anyway, so keeps are what must last. A drop decision is
/// forgotten when [`WAYS`] newer ones land in its set: 500 decisions later about one in a
/// million is; 1,000 later, one in 1,400; 2,000 later, one in 10. A keep is replaced only
/// when its set holds nothing but keeps. Two traces share a set and a tag (and so a decision)
/// about once in 350 million lookups.
struct Decided {
    sets: Box<[Set]>,
    /// Seeded: a remote parent chooses its trace id.
    hasher: WordsBuild,
}

/// One cache line of [`Decided`]: tags of hashed trace ids (never 0) and their encoded
/// decisions; drops are replaced before keeps.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Set {
    tags: [u32; WAYS],
    decisions: [u8; WAYS],
    next: u8,
}

impl std::fmt::Debug for Decided {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decided")
            .field("sets", &self.sets.len())
            .finish()
    }
}

impl Decided {
    fn new() -> Self {
        Decided {
            sets: vec![Set::default(); DECIDED_SETS].into_boxed_slice(),
            hasher: WordsBuild::default(),
        }
    }

    /// The set of `trace_id` and its tag there.
    fn slot(&self, trace_id: TraceId) -> (usize, u32) {
        let hash = self.hasher.hash_one(trace_id);
        ((hash >> 40) as usize % DECIDED_SETS, (hash as u32).max(1))
    }

    fn get(&self, trace_id: TraceId) -> Option<Decision> {
        let (set, tag) = self.slot(trace_id);
        let set = &self.sets[set];
        let way = set.tags.iter().position(|t| *t == tag)?;
        Decision::decode(set.decisions[way])
    }

    fn insert(&mut self, trace_id: TraceId, decision: Decision) {
        let (set, tag) = self.slot(trace_id);
        let set = &mut self.sets[set];
        let way = match set.tags.iter().position(|t| *t == tag) {
            Some(way) => way,
            None => {
                let next = usize::from(set.next) % WAYS;
                let keep = Decision::Keep.encode();
                let way = (0..WAYS)
                    .map(|i| (next + i) % WAYS)
                    .find(|&w| set.decisions[w] != keep)
                    .unwrap_or(next);
                set.next = ((way + 1) % WAYS) as u8;
                set.tags[way] = tag;
                way
            }
        };
        set.decisions[way] = decision.encode();
    }
}

/// Sampled-out traces waiting for a decision.
#[derive(Debug)]
pub(crate) struct TraceBuffer<T> {
    limits: BufferLimits,
    pending: HashMap<TraceId, Pending<T>, WordsBuild>,
    /// Traces in insertion order (with their sequence, to skip stale entries).
    order: VecDeque<(TraceId, u64)>,
    decided: Decided,
    bytes: usize,
    spans: usize,
    next_seq: u64,
    /// The application's keep-rule, and the prices its summaries' costs come from.
    rule: Option<(SharedRule, Arc<PriceCache>)>,
}

/// Whether `span` is the root of its trace in this process.
pub(crate) fn is_local_root(span: &SpanData) -> bool {
    span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote
}

impl<T: Held> TraceBuffer<T> {
    /// An empty buffer.
    pub(crate) fn new(limits: BufferLimits) -> Self {
        TraceBuffer {
            limits,
            pending: HashMap::default(),
            order: VecDeque::new(),
            decided: Decided::new(),
            bytes: 0,
            spans: 0,
            next_seq: 0,
            rule: None,
        }
    }

    /// Also keeps a trace whose summary `rule` accepts, when its local root ends.
    pub(crate) fn with_rule(mut self, rule: SharedRule, prices: Arc<PriceCache>) -> Self {
        self.rule = Some((rule, prices));
        self
    }

    /// Its bounds and what rescues a trace.
    pub(crate) fn limits(&self) -> BufferLimits {
        self.limits
    }

    /// Bytes held now.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Takes a sampled-out span of `size` estimated bytes.
    pub(crate) fn on_end(&mut self, span: T, size: usize, stats: &PipelineStats) -> Verdict<T> {
        let trace_id = span.trace_id();
        let root = span.is_local_root();
        match self.decided.get(trace_id) {
            Some(Decision::Keep) => {
                let mut span = span;
                if root {
                    span.mark_root(KeepReason::Error);
                }
                return Verdict::Keep(vec![span]);
            }
            Some(Decision::Drop(reason)) => {
                stats.spans_dropped(reason, 1);
                return Verdict::Drop(span, Vec::new());
            }
            None => {}
        }
        if span.failed() && self.limits.keep_errors {
            stats.trace_kept(KeepReason::Error);
            self.decide(trace_id, Decision::Keep);
            let mut spans = self.take(trace_id);
            let mut span = span;
            if root {
                span.mark_root(KeepReason::Error);
            }
            spans.push(span);
            return Verdict::Keep(spans);
        }
        if root {
            if self.limits.slow.is_some_and(|t| span.lasted() > t) {
                stats.trace_kept(KeepReason::Slow);
                self.decide(trace_id, Decision::Keep);
                let mut spans = self.take(trace_id);
                let mut span = span;
                span.mark_root(KeepReason::Slow);
                spans.push(span);
                return Verdict::Keep(spans);
            }
            if self.rule_keeps(trace_id, &span) {
                stats.trace_kept(KeepReason::Rule);
                self.decide(trace_id, Decision::Keep);
                let mut spans = self.take(trace_id);
                let mut span = span;
                span.mark_root(KeepReason::Rule);
                spans.push(span);
                return Verdict::Keep(spans);
            }
            let held = self.take(trace_id);
            stats.spans_dropped(DropReason::SampledOut, held.len() as u64 + 1);
            stats.trace_dropped(DropReason::SampledOut);
            self.decide(trace_id, Decision::Drop(DropReason::SampledOut));
            return Verdict::Drop(span, held);
        }
        self.hold(trace_id, span, size, stats);
        Verdict::Held
    }

    /// Whether the keep-rule, if any, keeps the trace whose local root `root` just ended.
    fn rule_keeps(&self, trace_id: TraceId, root: &T) -> bool {
        let Some((rule, prices)) = &self.rule else {
            return false;
        };
        let mut summary = TraceSummary::default();
        if let Some(pending) = self.pending.get(&trace_id) {
            for (span, _) in &pending.spans {
                span.summarize(&mut summary, prices);
            }
        }
        root.summarize(&mut summary, prices);
        summary.duration = root.lasted();
        summary.root_name = root.name().to_owned();
        rule.keep(&summary)
    }

    /// Releases every undecided trace that holds an error (at shutdown): they would be kept
    /// when their roots ended.
    pub(crate) fn drain_failed(&mut self) -> Vec<T> {
        let failed: Vec<TraceId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.spans.iter().any(|(s, _)| s.failed()))
            .map(|(id, _)| *id)
            .collect();
        failed.into_iter().flat_map(|id| self.take(id)).collect()
    }

    /// Spans still undecided.
    pub(crate) fn held_spans(&self) -> usize {
        self.spans
    }

    fn hold(&mut self, trace_id: TraceId, span: T, size: usize, stats: &PipelineStats) {
        let size = size.max(1);
        if size > self.limits.max_bytes || self.limits.max_spans == 0 {
            // Can never fit: the trace cannot be decided whole.
            let dropped = self.take(trace_id).len() as u64 + 1;
            stats.spans_dropped(DropReason::BufferFull, dropped);
            stats.trace_dropped(DropReason::BufferFull);
            self.decide(trace_id, Decision::Drop(DropReason::BufferFull));
            return;
        }
        while self.bytes + size > self.limits.max_bytes || self.spans + 1 > self.limits.max_spans {
            let Some((oldest, seq)) = self.order.pop_front() else {
                break;
            };
            if self.pending.get(&oldest).map(|p| p.seq) != Some(seq) {
                continue; // already taken
            }
            let dropped = self.take(oldest).len() as u64;
            stats.spans_dropped(DropReason::BufferFull, dropped);
            stats.trace_dropped(DropReason::BufferFull);
            self.decide(oldest, Decision::Drop(DropReason::BufferFull));
            if oldest == trace_id {
                stats.spans_dropped(DropReason::BufferFull, 1);
                return;
            }
        }
        let seq = self.next_seq;
        let entry = self.pending.entry(trace_id).or_insert_with(|| {
            self.next_seq += 1;
            self.order.push_back((trace_id, seq));
            Pending {
                spans: Vec::new(),
                bytes: 0,
                seq,
            }
        });
        entry.spans.push((span, size));
        entry.bytes += size;
        self.bytes += size;
        self.spans += 1;
    }

    fn take(&mut self, trace_id: TraceId) -> Vec<T> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        let Some(p) = self.pending.remove(&trace_id) else {
            return Vec::new();
        };
        self.bytes -= p.bytes;
        self.spans -= p.spans.len();
        if self.pending.is_empty() {
            self.order.clear();
        } else if self.order.len() > 2 * self.pending.len() + 64 {
            // Forget the entries of traces already taken, so the order stays bounded.
            let pending = &self.pending;
            self.order
                .retain(|(id, seq)| pending.get(id).is_some_and(|p| p.seq == *seq));
        }
        p.spans.into_iter().map(|(s, _)| s).collect()
    }

    fn decide(&mut self, trace_id: TraceId, decision: Decision) {
        self.decided.insert(trace_id, decision);
    }
}

/// The attribute on a kept trace's local root that says why it was kept.
pub(crate) const REASON_KEY: &str = "openinference.sampling.reason";

/// Says on a kept trace's local root why it was kept.
pub(crate) fn mark_root(span: &mut SpanData, reason: KeepReason) {
    span.attributes.push(root_marker(reason));
}

/// The attribute that says on a kept trace's local root why it was kept.
pub(crate) fn root_marker(reason: KeepReason) -> opentelemetry::KeyValue {
    opentelemetry::KeyValue::new(REASON_KEY, reason.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_remembered_exactly_and_the_oldest_of_a_set_goes_first() {
        let mut decided = Decided::new();
        let all = [Decision::Keep]
            .into_iter()
            .chain(DropReason::ALL.map(Decision::Drop));
        for (i, decision) in all.clone().enumerate() {
            decided.insert(TraceId::from(i as u128 + 1), decision);
        }
        for (i, decision) in all.enumerate() {
            assert_eq!(decided.get(TraceId::from(i as u128 + 1)), Some(decision));
        }
        assert_eq!(decided.get(TraceId::from(999u128)), None);
        // A decision changes in place.
        decided.insert(TraceId::from(1u128), Decision::Drop(DropReason::SampledOut));
        assert_eq!(
            decided.get(TraceId::from(1u128)),
            Some(Decision::Drop(DropReason::SampledOut))
        );

        // Thirteen traces of one set: the first is forgotten, the twelve after it are not.
        let set = decided.slot(TraceId::from(1u128)).0;
        let same: Vec<TraceId> = (2..1_000_000u128)
            .map(TraceId::from)
            .filter(|id| decided.slot(*id).0 == set)
            .take(WAYS)
            .collect();
        assert_eq!(same.len(), WAYS);
        for id in &same {
            decided.insert(*id, Decision::Keep);
        }
        assert_eq!(decided.get(TraceId::from(1u128)), None);
        assert!(same
            .iter()
            .all(|id| decided.get(*id) == Some(Decision::Keep)));
    }

    #[test]
    fn a_keep_outlasts_the_drops_of_its_set() {
        let mut decided = Decided::new();
        let set = decided.slot(TraceId::from(1u128)).0;
        let same: Vec<TraceId> = (2..10_000_000u128)
            .map(TraceId::from)
            .filter(|id| decided.slot(*id).0 == set)
            .take(4 * WAYS)
            .collect();
        let (dropped, keeps) = same.split_at(3 * WAYS);
        let kept = TraceId::from(1u128);
        decided.insert(kept, Decision::Keep);
        assert_eq!(dropped.len(), 3 * WAYS);
        for id in dropped {
            decided.insert(*id, Decision::Drop(DropReason::SampledOut));
        }
        assert_eq!(decided.get(kept), Some(Decision::Keep));
        // The drops left are the newest (all but the keep's way).
        let remembered: Vec<bool> = dropped
            .iter()
            .map(|id| decided.get(*id).is_some())
            .collect();
        let newest = 3 * WAYS - (WAYS - 1);
        assert!(remembered[..newest].iter().all(|r| !r), "{remembered:?}");
        assert!(remembered[newest..].iter().all(|r| *r), "{remembered:?}");
        // Keeps take the places of the drops; only a set full of keeps replaces a keep.
        assert_eq!(keeps.len(), WAYS);
        let (fill, last) = keeps.split_at(WAYS - 1);
        for id in fill {
            decided.insert(*id, Decision::Keep);
        }
        let keeps_remembered = |decided: &Decided| {
            std::iter::once(&kept)
                .chain(keeps)
                .filter(|id| decided.get(**id) == Some(Decision::Keep))
                .count()
        };
        assert_eq!(keeps_remembered(&decided), WAYS);
        assert!(dropped.iter().all(|id| decided.get(*id).is_none()));
        decided.insert(last[0], Decision::Keep);
        assert_eq!(decided.get(last[0]), Some(Decision::Keep));
        assert_eq!(keeps_remembered(&decided), WAYS);
    }

    #[test]
    fn the_last_300_decisions_are_all_remembered() {
        // Each of them has fewer than twelve newer ones in its set, but for about one chance
        // in a million.
        let mut decided = Decided::new();
        for i in 1..=20_000u128 {
            decided.insert(TraceId::from(i * 0x9e37_79b9_7f4a_7c15), Decision::Keep);
        }
        for i in 19_701..=20_000u128 {
            assert_eq!(
                decided.get(TraceId::from(i * 0x9e37_79b9_7f4a_7c15)),
                Some(Decision::Keep)
            );
        }
    }
    use opentelemetry::trace::{SpanContext, SpanKind, TraceFlags, TraceState};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::SystemTime;

    fn span(trace: u128, id: u64, parent: u64, error: bool, lasted_ms: u64) -> SpanData {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(trace),
                SpanId::from(id),
                TraceFlags::default(),
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: format!("s{id}").into(),
            start_time: start,
            end_time: start + Duration::from_millis(lasted_ms),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: if error {
                Status::error("boom")
            } else {
                Status::Unset
            },
            instrumentation_scope: InstrumentationScope::builder("t").build(),
        }
    }

    fn limits() -> BufferLimits {
        BufferLimits {
            max_bytes: 1_000,
            max_spans: 100,
            keep_errors: true,
            slow: Some(Duration::from_millis(500)),
        }
    }

    fn kept(v: Verdict<SpanData>) -> Vec<String> {
        match v {
            Verdict::Keep(spans) => spans.into_iter().map(|s| s.name.into_owned()).collect(),
            Verdict::Drop(..) | Verdict::Held => Vec::new(),
        }
    }

    #[test]
    fn an_error_releases_what_waited_and_later_spans_follow() {
        let stats = PipelineStats::default();
        let mut b = TraceBuffer::new(limits());
        assert!(kept(b.on_end(span(1, 3, 2, false, 1), 10, &stats)).is_empty());
        assert_eq!(
            kept(b.on_end(span(1, 4, 2, true, 1), 10, &stats)),
            ["s3", "s4"]
        );
        assert_eq!(kept(b.on_end(span(1, 2, 1, false, 1), 10, &stats)), ["s2"]);
        assert_eq!(kept(b.on_end(span(1, 1, 0, false, 1), 10, &stats)), ["s1"]);
        assert_eq!(b.bytes(), 0);
        assert_eq!(stats.kept(KeepReason::Error), 1);
    }

    #[test]
    fn a_clean_fast_trace_is_dropped_and_late_spans_follow() {
        let stats = PipelineStats::default();
        let mut b = TraceBuffer::new(limits());
        b.on_end(span(1, 2, 1, false, 1), 10, &stats);
        assert!(kept(b.on_end(span(1, 1, 0, false, 1), 10, &stats)).is_empty());
        assert!(kept(b.on_end(span(1, 3, 1, true, 1), 10, &stats)).is_empty());
        assert_eq!(stats.dropped(DropReason::SampledOut), 3);
        assert_eq!(b.bytes(), 0);
    }

    #[test]
    fn a_slow_root_keeps_its_trace() {
        let stats = PipelineStats::default();
        let mut b = TraceBuffer::new(limits());
        b.on_end(span(1, 2, 1, false, 1), 10, &stats);
        let out = kept(b.on_end(span(1, 1, 0, false, 900), 10, &stats));
        assert_eq!(out, ["s2", "s1"]);
        assert_eq!(stats.kept(KeepReason::Slow), 1);
    }

    #[test]
    fn past_the_bound_the_oldest_traces_go() {
        let stats = PipelineStats::default();
        let mut b = TraceBuffer::new(limits());
        for t in 0..20u128 {
            b.on_end(span(t + 1, 2, 1, false, 1), 100, &stats);
            assert!(b.bytes() <= 1_000);
        }
        assert_eq!(stats.traces_dropped(DropReason::BufferFull), 10);
        // The newest traces are still there and can still be rescued.
        assert_eq!(kept(b.on_end(span(20, 3, 1, true, 1), 10, &stats)).len(), 2);
    }
}

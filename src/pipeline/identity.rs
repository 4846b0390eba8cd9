//! Which OpenTelemetry span a `tracing` span became, and whether it was sampled.
//!
//! A sampled-out span is a non-recording span in the bridge: nothing in it says what its
//! parent was. To rescue its trace later the layer needs that, so the tracer provider's id
//! generator and sampler note each decision to sample out, on the thread that makes it, in a small
//! per-thread ring ([`remember`]); the layer looks its span id up there ([`recall`]) once
//! it learns which span it got. The ring holds the last few decisions: a span is looked up
//! on the thread that started it, right after.

use opentelemetry::trace::{SpanContext, SpanId, TraceId};
use opentelemetry_sdk::trace::IdGenerator;
use std::cell::{Cell, RefCell};

/// How many recent decisions each thread remembers.
const RECENT: usize = 8;

/// A span's place in its trace, and whether it was sampled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Identity {
    /// The span's context: trace, span, flags (sampled or not), trace state.
    pub(crate) context: SpanContext,
    /// Its parent ([`SpanId::INVALID`] for a root).
    pub(crate) parent: SpanId,
    /// Whether the parent is in another process.
    pub(crate) parent_remote: bool,
}

impl Identity {
    /// The identity of a started span, with its parent as the sampler saw it, or else
    /// `fallback` (the parent `tracing` span's).
    pub(crate) fn of(
        sc: &SpanContext,
        fallback: impl FnOnce() -> Option<SpanId>,
    ) -> Option<Identity> {
        if !sc.is_valid() {
            return None;
        }
        let (parent, parent_remote) =
            recall(sc.span_id()).unwrap_or_else(|| (fallback().unwrap_or(SpanId::INVALID), false));
        Some(Identity {
            context: sc.clone(),
            parent,
            parent_remote,
        })
    }

    /// Whether the span was sampled.
    pub(crate) fn sampled(&self) -> bool {
        self.context.is_sampled()
    }
}

thread_local! {
    /// The span id generated last on this thread: the span the sampler is about to decide.
    static NEXT_SPAN_ID: Cell<SpanId> = const { Cell::new(SpanId::INVALID) };
    /// Recent decisions: (span, parent, parent is remote), newest at `RING_AT - 1`.
    static RING: RefCell<[(SpanId, SpanId, bool); RECENT]> =
        const { RefCell::new([(SpanId::INVALID, SpanId::INVALID, false); RECENT]) };
    static RING_AT: Cell<usize> = const { Cell::new(0) };
}

/// Notes, from the sampler, the parent of the span sampled out now on this thread.
pub(crate) fn remember(parent: SpanId, parent_remote: bool) {
    let span = NEXT_SPAN_ID.with(Cell::get);
    if span == SpanId::INVALID {
        return;
    }
    let at = RING_AT.with(|at| {
        let i = at.get();
        at.set((i + 1) % RECENT);
        i
    });
    RING.with(|ring| {
        if let Ok(mut ring) = ring.try_borrow_mut() {
            ring[at] = (span, parent, parent_remote);
        }
    });
}

/// The parent noted for `span` on this thread, if it was decided recently.
pub(crate) fn recall(span: SpanId) -> Option<(SpanId, bool)> {
    RING.with(|ring| {
        let ring = ring.try_borrow().ok()?;
        ring.iter()
            .find(|(s, ..)| *s == span)
            .map(|(_, parent, remote)| (*parent, *remote))
    })
}

/// The provider's id generator, noting each new span id for the sampler.
#[derive(Debug)]
pub(crate) struct NotingIds(pub(crate) Box<dyn IdGenerator>);

impl IdGenerator for NotingIds {
    fn new_trace_id(&self) -> TraceId {
        self.0.new_trace_id()
    }

    fn new_span_id(&self) -> SpanId {
        let id = self.0.new_span_id();
        NEXT_SPAN_ID.with(|next| next.set(id));
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{TraceFlags, TraceState};
    use opentelemetry_sdk::trace::RandomIdGenerator;

    #[test]
    fn a_decision_is_found_by_its_span_id_until_pushed_out() {
        let ids = NotingIds(Box::new(RandomIdGenerator::default()));
        let first = ids.new_span_id();
        remember(SpanId::from(7u64), true);
        assert_eq!(recall(first), Some((SpanId::from(7u64), true)));
        for _ in 0..RECENT {
            ids.new_span_id();
            remember(SpanId::INVALID, false);
        }
        assert_eq!(recall(first), None);
    }

    #[test]
    fn identity_falls_back_to_the_local_parent() {
        let sc = SpanContext::new(
            TraceId::from(1u128),
            SpanId::from(0xabcu64),
            TraceFlags::default(),
            false,
            TraceState::default(),
        );
        let id = Identity::of(&sc, || Some(SpanId::from(5u64))).expect("valid");
        assert_eq!(id.parent, SpanId::from(5u64));
        assert!(!id.sampled() && !id.parent_remote);
        assert_eq!(Identity::of(&SpanContext::empty_context(), || None), None);
    }
}

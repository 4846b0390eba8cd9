//! [`HeldSpan`]: a finished span of a sampled-out trace, waiting in the sampling buffer
//! ([`crate::pipeline::traces`]) for its trace's decision.

use super::capture::Capture;
use super::state::SpanState;
use crate::pipeline::identity::Identity;
use crate::pipeline::stats::KeepReason;
use crate::pipeline::traces::{root_marker, Held};
use crate::pricing::PriceCache;
use opentelemetry::trace::Status;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::SpanData;
use std::time::SystemTime;

/// A finished span of a sampled-out trace, held by the layer until its trace is decided. It
/// becomes an SDK span only if the trace is kept.
#[derive(Debug)]
pub(crate) struct HeldSpan {
    capture: Box<Capture>,
    identity: Identity,
    name: &'static str,
    end: SystemTime,
    /// The state its derived values (the cost among them) come from, when they are derived
    /// only if the trace is kept (a span that did not fail: nothing derived can change the
    /// decision).
    deferred: Option<Box<SpanState>>,
}

/// What a deferred state adds to a held span's size estimate (its derived values).
const DEFERRED_BYTES: usize = 640;

impl HeldSpan {
    /// The span `identity` named `name` (unless `otel.name` renamed it), ending `lasted` after
    /// it started.
    pub(crate) fn new(
        capture: Box<Capture>,
        identity: Identity,
        name: &'static str,
        lasted: std::time::Duration,
    ) -> Self {
        HeldSpan {
            // Its start plus how long it lasted on the monotonic clock: no second read of the
            // wall clock.
            end: capture.start + lasted,
            capture,
            identity,
            name,
            deferred: None,
        }
    }

    /// [`HeldSpan::new`] for a span whose derived values are made from `state` only if its
    /// trace is kept.
    pub(crate) fn deferred(
        capture: Box<Capture>,
        identity: Identity,
        name: &'static str,
        state: Box<SpanState>,
        lasted: std::time::Duration,
    ) -> Self {
        HeldSpan {
            deferred: Some(state),
            ..HeldSpan::new(capture, identity, name, lasted)
        }
    }

    /// Its estimated size in bytes, for the buffer's bound.
    pub(crate) fn size(&self) -> usize {
        let deferred = if self.deferred.is_some() {
            DEFERRED_BYTES
        } else {
            0
        };
        self.capture.bytes
            + 64 * (self.capture.attributes.len() + self.capture.events.len())
            + 256
            + deferred
    }

    /// The SDK span to export: its trace was kept, so it is exported as sampled. A deferred
    /// span's cost is priced by `prices` now.
    pub(crate) fn into_span_data(
        mut self,
        scope: &InstrumentationScope,
        prices: &PriceCache,
    ) -> SpanData {
        if let Some(mut state) = self.deferred.take() {
            let cost = super::price(prices, &state, state.priced_usage().as_ref());
            for (field, value) in super::derived_values(&mut state, cost) {
                self.capture.record_owned(&field, value);
            }
        }
        let sc = &self.identity.context;
        let identity = Identity {
            context: opentelemetry::trace::SpanContext::new(
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().with_sampled(true),
                sc.is_remote(),
                sc.trace_state().clone(),
            ),
            ..self.identity
        };
        self.capture
            .into_span_data(&identity, self.name, self.end, scope)
    }
}

impl Held for HeldSpan {
    fn trace_id(&self) -> opentelemetry::trace::TraceId {
        self.identity.context.trace_id()
    }

    fn is_local_root(&self) -> bool {
        self.identity.parent == opentelemetry::trace::SpanId::INVALID || self.identity.parent_remote
    }

    fn failed(&self) -> bool {
        matches!(self.capture.status, Status::Error { .. })
    }

    fn lasted(&self) -> std::time::Duration {
        self.end
            .duration_since(self.capture.start)
            .unwrap_or_default()
    }

    fn mark_root(&mut self, reason: KeepReason) {
        self.capture.attributes.push(root_marker(reason));
    }

    fn name(&self) -> &str {
        self.name
    }

    fn summarize(
        &self,
        summary: &mut crate::keep::TraceSummary,
        prices: &crate::pricing::PriceCache,
    ) {
        let Some(state) = &self.deferred else {
            // Its derived values (cost among them) are among its attributes already.
            crate::pipeline::traces::summarize_attributes(
                &self.capture.attributes,
                self.failed(),
                summary,
            );
            return;
        };
        summary.add_span(state.kind(), self.failed());
        // An agent's usage is its model calls', counted on their spans.
        let tokens = match state.kind() {
            crate::SpanKind::Agent => 0,
            _ => state.tokens.total_or_sum().unwrap_or(0),
        };
        let priced = state.priced_usage();
        let cost = super::price(prices, state, priced.as_ref()).map(|c| c.total);
        summary.add_usage(tokens, cost);
        let tags = state.own.0[3]
            .as_deref()
            .or(state.inherited.0[3].as_deref());
        summary.add_names(state.tool_name.as_deref(), state.model.as_deref(), tags);
    }
}

//! Which OpenTelemetry span a `tracing` span became, and whether it was sampled.
//!
//! A sampled-out span is a non-recording span in the bridge: nothing in it says what its
//! parent was. To rescue its trace later the layer needs that. A local parent is the parent
//! `tracing` span, whose identity the layer learned first. A remote parent (an incoming
//! request's, set with `OpenTelemetrySpanExt::set_parent`) is seen only by the sampler, which
//! hands it on in the one value a dropped span keeps, its span context: as a `tracestate`
//! entry ([`PARENT_KEY`], see [`note_remote_parent`]). Children of the span do not inherit the
//! entry, and spans leave with it removed.

use opentelemetry::trace::{SpanContext, SpanId, TraceId, TraceState};

/// The `tracestate` key under which the sampler notes a sampled-out span's remote parent.
pub(crate) const PARENT_KEY: &str = "openinference";

/// A span's place in its trace, and whether it was sampled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Identity {
    /// The span's context: trace, span, flags (sampled or not), trace state (without the
    /// [`PARENT_KEY`] entry).
    pub(crate) context: SpanContext,
    /// Its parent ([`SpanId::INVALID`] for a root).
    pub(crate) parent: SpanId,
    /// Whether the parent is in another process.
    pub(crate) parent_remote: bool,
}

impl Identity {
    /// The identity of a started span: its parent is `local` (the parent `tracing` span's
    /// context) when that is in the same trace, else the remote parent the sampler noted,
    /// else none (a root).
    pub(crate) fn of(
        sc: &SpanContext,
        local: impl FnOnce() -> Option<(TraceId, SpanId)>,
    ) -> Option<Identity> {
        if !sc.is_valid() {
            return None;
        }
        let (parent, parent_remote) = match local() {
            Some((trace, span)) if trace == sc.trace_id() => (span, false),
            _ => match noted_parent(sc.trace_state()) {
                Some(remote) => (remote, true),
                None => (SpanId::INVALID, false),
            },
        };
        let context = if sc.trace_state().get(PARENT_KEY).is_some() {
            SpanContext::new(
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags(),
                sc.is_remote(),
                without_note(sc.trace_state()),
            )
        } else {
            sc.clone()
        };
        Some(Identity {
            context,
            parent,
            parent_remote,
        })
    }

    /// Whether the span was sampled.
    pub(crate) fn sampled(&self) -> bool {
        self.context.is_sampled()
    }
}

/// `state` with an entry noting `parent` as the remote parent of the span it is given to.
pub(crate) fn note_remote_parent(state: &TraceState, parent: SpanId) -> TraceState {
    state
        .insert(PARENT_KEY, parent.to_string())
        .unwrap_or_else(|_| without_note(state))
}

/// `state` without a noted parent: what a span's children and the spans it sends inherit.
/// Allocates nothing unless `state` holds other entries besides the note.
pub(crate) fn without_note(state: &TraceState) -> TraceState {
    if state.get(PARENT_KEY).is_none() {
        return state.clone();
    }
    if state.into_iter().all(|(key, _)| key == PARENT_KEY) {
        return TraceState::NONE;
    }
    state.delete(PARENT_KEY).unwrap_or(TraceState::NONE)
}

/// The remote parent noted in `state`, if any.
fn noted_parent(state: &TraceState) -> Option<SpanId> {
    let hex = state.get(PARENT_KEY)?;
    let id = SpanId::from_hex(hex).ok()?;
    (id != SpanId::INVALID).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceFlags;

    fn context(state: TraceState) -> SpanContext {
        SpanContext::new(
            TraceId::from(1u128),
            SpanId::from(0xabcu64),
            TraceFlags::default(),
            false,
            state,
        )
    }

    #[test]
    fn a_noted_remote_parent_is_found_and_removed_from_the_span_s_state() {
        let upstream = TraceState::from_key_value([("vendor", "x")]).unwrap();
        let noted = note_remote_parent(&upstream, SpanId::from(7u64));
        let id = Identity::of(&context(noted.clone()), || None).expect("valid");
        assert_eq!((id.parent, id.parent_remote), (SpanId::from(7u64), true));
        assert_eq!(id.context.trace_state().header(), "vendor=x");
        assert_eq!(without_note(&noted).header(), "vendor=x");
        let alone = note_remote_parent(&TraceState::NONE, SpanId::from(7u64));
        assert_eq!(without_note(&alone), TraceState::NONE);
    }

    #[test]
    fn a_local_parent_in_the_same_trace_wins_and_else_the_span_is_a_root() {
        let noted = note_remote_parent(&TraceState::NONE, SpanId::from(7u64));
        let local = || Some((TraceId::from(1u128), SpanId::from(5u64)));
        let id = Identity::of(&context(noted), local).expect("valid");
        assert_eq!((id.parent, id.parent_remote), (SpanId::from(5u64), false));
        let elsewhere = || Some((TraceId::from(2u128), SpanId::from(5u64)));
        let id = Identity::of(&context(TraceState::NONE), elsewhere).expect("valid");
        assert_eq!((id.parent, id.parent_remote), (SpanId::INVALID, false));
        assert!(!id.sampled());
        assert_eq!(Identity::of(&SpanContext::empty_context(), || None), None);
    }
}

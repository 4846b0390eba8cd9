//! The layer's state of a span, reached from a `tracing::Span` handle (for
//! [`crate::LlmSpanExt`] and the propagation of context values).

use crate::layer::plain;
use crate::layer::state::{state_or_upgrade, SpanState, Started};
use crate::layer::Installed;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Registry;

/// Runs `f` on the layer's state of `span`, if an [`crate::LlmLayer`] records it (`None`
/// if none does).
pub(crate) fn on_state<R>(span: &tracing::Span, f: impl FnOnce(&mut SpanState) -> R) -> Option<R> {
    let mut f = Some(f);
    let mut out = None;
    span.with_subscriber(|(id, dispatch)| {
        let Some(registry) = dispatch.downcast_ref::<Registry>() else {
            return;
        };
        let Some(data) = registry.span(id) else {
            return;
        };
        // A plain span keeps nothing in the registry (see `layer::plain`): whether an
        // `LlmLayer` records it is asked of this thread's note of it, or of the layer's bridge
        // (which has the span only if the layer's filter let it through).
        let noted = {
            let ext = data.extensions();
            ext.get::<Box<SpanState>>().is_some() || ext.get::<Started>().is_some()
        };
        let recorded = noted
            || plain::is_plain(id)
            || (dispatch.downcast_ref::<Installed>().is_some()
                && tracing_opentelemetry::get_otel_context(id, dispatch).is_some());
        if !recorded {
            return;
        }
        let mut ext = data.extensions_mut();
        // A span the layer kept no state for (a plain one) gets one now.
        let info = || crate::layer::fields::classification(data.metadata());
        let start = || plain::start_of(id);
        if let (Some(state), Some(f)) = (state_or_upgrade(&mut ext, info, start), f.take()) {
            out = Some(f(state));
        }
    });
    out
}

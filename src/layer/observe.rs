//! Hands a finished LLM or embedding call to the application's usage observer and totals
//! ([`crate::usage`]), at close, on the calling thread.

use super::state::SpanState;
use super::Core;
use crate::kind::SpanKind;
use crate::pipeline::identity::Identity;
use crate::usage::LlmCall;
use opentelemetry::trace::TraceContextExt as _;
use std::time::Instant;
use tracing_core::span::Id;

impl Core {
    /// Whether a span of `kind` is observed (something is registered and it is a model call).
    #[inline]
    pub(crate) fn observes(&self, kind: SpanKind) -> bool {
        !self.observation.is_empty() && matches!(kind, SpanKind::Llm | SpanKind::Embedding)
    }

    /// Builds the span's [`LlmCall`] and hands it on. `identity` is the span's if the layer
    /// knows it; otherwise the bridge is asked (no lock is held here).
    #[cold]
    #[inline(never)]
    pub(crate) fn observe(
        &self,
        id: &Id,
        state: &SpanState,
        name: &str,
        ended: Instant,
        identity: Option<&Identity>,
    ) {
        let context = match identity {
            Some(identity) => Some(identity.context.clone()),
            None => tracing::dispatcher::get_default(|d| {
                tracing_opentelemetry::get_otel_context(id, d)
                    .map(|cx| cx.span().span_context().clone())
            }),
        }
        .filter(|sc| sc.is_valid());
        let t = state.tokens;
        let usage = t.usage();
        let priced = state.priced_usage();
        let slot = |i: usize| {
            state.own.0[i]
                .as_deref()
                .or(state.inherited.0[i].as_deref())
        };
        let call = LlmCall {
            kind: state.kind(),
            name,
            model: state.model.as_deref(),
            provider: state.provider.as_deref(),
            usage,
            total_tokens: t.total_or_sum().unwrap_or(0),
            cost: super::price(&self.prices, state, priced.as_ref()),
            duration: ended.saturating_duration_since(state.start),
            error: state
                .error
                .as_ref()
                .map(|e| state.error_type.as_deref().unwrap_or(e.kind.as_str())),
            session_id: slot(0),
            user_id: slot(1),
            tags: slot(3),
            trace_id: context.as_ref().map(|sc| sc.trace_id()),
            span_id: context.as_ref().map(|sc| sc.span_id()),
        };
        self.observation.observe(&call);
    }
}

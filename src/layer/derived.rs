//! The values a span records at close, derived from its state: kind, inherited context,
//! output, totals, cost, errors, streaming and the helpers' pending values.

use super::fields::ContextSlot;
use super::state::{ErrorInfo, SpanState};
use super::synthetic::{field_at, key_index, OwnedValue};
use super::Core;
use crate::pricing::PriceCache;

/// What the layer derived for a span at close.
#[derive(Debug)]
pub(crate) struct Finished {
    /// The values to record on the bridge's span.
    pub(crate) values: Vec<(tracing_core::field::Field, OwnedValue)>,
    /// The span's kind.
    pub(crate) kind: crate::SpanKind,
    /// The usage its cost was priced from (see [`SpanState::priced_usage`]), for the metrics.
    pub(crate) priced: Option<crate::pricing::TokenUsage>,
}

/// Pushes `value` under the key at `index` of [`synthetic::KEYS`] (see [`key_index!`]).
fn push(
    values: &mut Vec<(tracing_core::field::Field, OwnedValue)>,
    index: usize,
    value: OwnedValue,
) {
    values.push((field_at(index), value));
}

impl Core {
    /// Derives the values recorded at close: kind, inherited context, output, totals, cost,
    /// errors and the helpers' pending values.
    pub(crate) fn finish(&self, state: &mut SpanState) -> Finished {
        let priced = state.priced_usage();
        let cost = price(&self.prices, state, priced.as_ref());
        Finished {
            values: derived_values(state, cost),
            kind: state.kind(),
            priced,
        }
    }
}

/// The cost of a span's priced usage (see [`SpanState::priced_usage`]) by `prices`.
pub(crate) fn price(
    prices: &PriceCache,
    state: &SpanState,
    priced: Option<&crate::pricing::TokenUsage>,
) -> Option<crate::pricing::Cost> {
    prices.cost(state.model.as_ref()?, priced?)
}

/// The values a span records at close, from its state and cost: kind, inherited context,
/// output, totals, cost, errors, streaming and the helpers' pending values.
pub(crate) fn derived_values(
    state: &mut SpanState,
    cost: Option<crate::pricing::Cost>,
) -> Vec<(tracing_core::field::Field, OwnedValue)> {
    {
        let kind = state.kind();
        let mut values = Vec::new();
        // CHAIN is what the mapper assumes when no kind was recorded: a plain span costs no
        // extra record.
        if kind != crate::SpanKind::Chain {
            values.reserve(8 + state.pending.len());
            push(
                &mut values,
                key_index!("openinference.span.kind"),
                OwnedValue::Static(kind.as_str()),
            );
        }

        push_inherited(state, kind, &mut values);

        // Reply messages, or a retriever's documents, are the output the mapping derives,
        // not the `ret` value.
        let derived_output = state.output_messages
            || (state.documents.is_some()
                && matches!(kind, crate::SpanKind::Retriever | crate::SpanKind::Reranker));
        if !state.output_given && !derived_output {
            if let Some(returned) = state.returned.take() {
                push(
                    &mut values,
                    key_index!("output.value"),
                    OwnedValue::Str(returned),
                );
            }
        }

        let t = state.tokens;
        let total = t.total_or_sum();
        if t.total.is_none() && !t.invalid.any() {
            if let Some(total) = total {
                push(
                    &mut values,
                    key_index!("llm.token_count.total"),
                    OwnedValue::I64(clamp_i64(total)),
                );
            }
        }

        if let Some(c) = cost {
            // The details only when they say more than the totals: input and output differ
            // from prompt and completion only with cached or reasoning tokens.
            let cached = c.cache_read > 0.0 || c.cache_write > 0.0;
            let reasoned = c.reasoning > 0.0;
            for (key, v) in [
                (key_index!("llm.cost.prompt"), c.prompt),
                (key_index!("llm.cost.completion"), c.completion),
                (key_index!("llm.cost.total"), c.total),
                (
                    key_index!("llm.cost.prompt_details.input"),
                    if cached { c.input } else { 0.0 },
                ),
                (
                    key_index!("llm.cost.prompt_details.cache_read"),
                    c.cache_read,
                ),
                (
                    key_index!("llm.cost.prompt_details.cache_write"),
                    c.cache_write,
                ),
                (
                    key_index!("llm.cost.completion_details.output"),
                    if reasoned { c.output } else { 0.0 },
                ),
                (
                    key_index!("llm.cost.completion_details.reasoning"),
                    c.reasoning,
                ),
            ] {
                if v > 0.0 || key == key_index!("llm.cost.total") {
                    push(&mut values, key, OwnedValue::F64(v));
                }
            }
        }

        if state.error.is_none() && state.panicked {
            state.error = Some(ErrorInfo {
                kind: "panic".to_owned(),
                message: "a panic unwound through this span".to_owned(),
            });
        }
        if let Some(error) = &state.error {
            let error_type = state
                .error_type
                .clone()
                .unwrap_or_else(|| error.kind.clone());
            push(
                &mut values,
                key_index!("error.type"),
                OwnedValue::Str(error_type),
            );
            push(
                &mut values,
                key_index!("exception.type"),
                OwnedValue::Str(error.kind.clone()),
            );
            push(
                &mut values,
                key_index!("exception.message"),
                OwnedValue::Str(error.message.clone()),
            );
            push(
                &mut values,
                key_index!("otel.status_code"),
                OwnedValue::Static("ERROR"),
            );
            push(
                &mut values,
                key_index!("otel.status_description"),
                OwnedValue::Str(error.message.clone()),
            );
        }

        if let Some(first) = state.first_chunk {
            let ttfc = first.saturating_duration_since(state.start).as_secs_f64();
            push(
                &mut values,
                key_index!("gen_ai.response.time_to_first_chunk"),
                OwnedValue::F64(ttfc),
            );
            push(
                &mut values,
                key_index!("gen_ai.request.stream"),
                OwnedValue::Bool(true),
            );
        }
        if state.stream_incomplete {
            push(
                &mut values,
                key_index!("openinference.stream.incomplete"),
                OwnedValue::Bool(true),
            );
        }

        values.append(&mut state.pending);
        values
    }
}

/// Pushes the context values `state` inherited and does not set itself: `session.id`,
/// `user.id`, `metadata` and `tag.tags` on every span, the prompt identity on LLM spans only.
pub(crate) fn push_inherited(
    state: &SpanState,
    kind: crate::SpanKind,
    values: &mut Vec<(tracing_core::field::Field, OwnedValue)>,
) {
    let is_llm = kind == crate::SpanKind::Llm;
    for (slot, (own, inherited)) in ContextSlot::ALL
        .iter()
        .zip(state.own.0.iter().zip(state.inherited.0.iter()))
    {
        if own.is_none() && (is_llm || !slot.llm_only()) {
            if let Some(value) = inherited {
                push(values, slot.index(), OwnedValue::Str(value.to_string()));
            }
        }
    }
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

//! What a span exported by a service's own `tracing-opentelemetry` layer is, read from its
//! attributes alone: its kind, its usage, its model, and what the layer would have derived.
//!
//! [`LlmLayer`](crate::LlmLayer) decides these per callsite and per field as values arrive; a
//! span from another bridge has only its attributes, so the same field contract is applied to
//! them here, on the exporter's thread.

use crate::kind::SpanKind;
use crate::layer::fields::{role_of, Role, TokenSlot};
use crate::pricing::{PriceTable, TokenUsage};
use opentelemetry::{KeyValue, Value};

/// What was recognized on one span.
#[derive(Debug, Default)]
pub(crate) struct Recognized {
    /// The span's kind; `None` for a plain span (no field of the contract).
    pub(crate) kind: Option<SpanKind>,
    /// Whether `openinference.span.kind` was recorded (then it is already an attribute).
    explicit_kind: bool,
    /// Token counts as recorded, by slot.
    tokens: [Option<u64>; 6],
    /// The model name, if one was recorded.
    model: Option<String>,
    /// Whether a cost was recorded (then none is computed).
    cost_given: bool,
}

/// Index of a token slot in [`Recognized::tokens`].
fn slot_index(slot: TokenSlot) -> usize {
    match slot {
        TokenSlot::Prompt => 0,
        TokenSlot::Completion => 1,
        TokenSlot::Total => 2,
        TokenSlot::CacheRead => 3,
        TokenSlot::CacheWrite => 4,
        TokenSlot::Reasoning => 5,
    }
}

/// Reads the span's attributes in place: token counts that the bridge turned into text (it
/// writes unsigned integers with `Debug`) become integers again.
pub(crate) fn recognize(attributes: &mut [KeyValue]) -> Recognized {
    let mut found = Recognized::default();
    let mut by_operation = None;
    let mut by_namespace: Option<(SpanKind, u8)> = None;
    for kv in attributes.iter_mut() {
        let key = kv.key.as_str();
        match role_of(key) {
            Role::Kind => {
                if let Value::String(s) = &kv.value {
                    if let Some(kind) = SpanKind::parse(s.as_str()) {
                        found.kind = Some(kind);
                        found.explicit_kind = true;
                    }
                }
            }
            Role::Operation => {
                if let Value::String(s) = &kv.value {
                    by_operation = SpanKind::from_gen_ai_operation(s.as_str());
                }
            }
            Role::Model if found.model.is_none() || key == "llm.model_name" => {
                if let Value::String(s) = &kv.value {
                    found.model = Some(s.as_str().to_owned());
                }
            }
            Role::Tokens(slot) => {
                let count = match &kv.value {
                    Value::I64(n) => u64::try_from(*n).ok(),
                    Value::String(s) => s.as_str().trim().parse::<u64>().ok(),
                    _ => None,
                };
                if let Some(count) = count {
                    kv.value = Value::I64(i64::try_from(count).unwrap_or(i64::MAX));
                    found.tokens[slot_index(slot)] = Some(count);
                }
            }
            Role::CostGiven => found.cost_given = true,
            _ => {}
        }
        if let Some((kind, rank)) = SpanKind::from_field_name(key) {
            if by_namespace.is_none_or(|(_, best)| rank < best) {
                by_namespace = Some((kind, rank));
            }
        }
    }
    if found.kind.is_none() {
        found.kind = by_operation.or(by_namespace.map(|(kind, _)| kind));
    }
    found
}

impl Recognized {
    /// What [`LlmLayer`](crate::LlmLayer) derives for such a span, as attributes: the kind
    /// (unless recorded), the total token count (unless recorded) and the cost from `prices`
    /// (unless recorded, or the model is unknown).
    pub(crate) fn derived(&self, prices: &PriceTable) -> Vec<KeyValue> {
        let mut out = Vec::new();
        let Some(kind) = self.kind else {
            return out;
        };
        if !self.explicit_kind {
            out.push(KeyValue::new("openinference.span.kind", kind.as_str()));
        }
        let [prompt, completion, total, cache_read, cache_write, reasoning] = self.tokens;
        if total.is_none() && (prompt.is_some() || completion.is_some()) {
            let sum = prompt.unwrap_or(0).saturating_add(completion.unwrap_or(0));
            out.push(KeyValue::new(
                "llm.token_count.total",
                i64::try_from(sum).unwrap_or(i64::MAX),
            ));
        }
        // An agent's usage is its model calls', priced on their spans.
        let any_tokens = kind != SpanKind::Agent && self.tokens.iter().any(Option::is_some);
        if let (false, true, Some(model)) = (self.cost_given, any_tokens, &self.model) {
            let usage = TokenUsage {
                prompt: prompt.unwrap_or(0),
                completion: completion.unwrap_or(0),
                cache_read: cache_read.unwrap_or(0),
                cache_write: cache_write.unwrap_or(0),
                reasoning: reasoning.unwrap_or(0),
            };
            if let Some(cost) = prices.cost(model, &usage) {
                out.push(KeyValue::new("llm.cost.prompt", cost.prompt));
                out.push(KeyValue::new("llm.cost.completion", cost.completion));
                out.push(KeyValue::new("llm.cost.total", cost.total));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_counts_written_as_text_become_integers_and_the_namespace_names_the_kind() {
        let mut attrs = vec![
            KeyValue::new("llm.model_name", "gpt-4o-mini"),
            KeyValue::new("llm.token_count.prompt", "12"),
            KeyValue::new("llm.token_count.completion", "4"),
            KeyValue::new("agent.name", "planner"),
        ];
        let found = recognize(&mut attrs);
        assert_eq!(found.kind, Some(SpanKind::Agent));
        assert_eq!(attrs[1].value, Value::I64(12));
        let derived = found.derived(&PriceTable::builtin());
        let get = |k: &str| derived.iter().find(|kv| kv.key.as_str() == k);
        assert_eq!(
            get("openinference.span.kind").unwrap().value,
            "AGENT".into()
        );
        assert_eq!(get("llm.token_count.total").unwrap().value, Value::I64(16));
        // An agent's usage is its model calls': not priced again.
        assert!(get("llm.cost.total").is_none());
        attrs.pop();
        let llm = recognize(&mut attrs).derived(&PriceTable::builtin());
        let cost = llm.iter().find(|kv| kv.key.as_str() == "llm.cost.total");
        assert!(matches!(cost.unwrap().value, Value::F64(c) if c > 0.0));
    }

    #[test]
    fn a_span_without_contract_fields_is_plain() {
        let mut attrs = vec![KeyValue::new("http.route", "/chat")];
        let found = recognize(&mut attrs);
        assert_eq!(found.kind, None);
        assert!(found.derived(&PriceTable::builtin()).is_empty());
    }

    #[test]
    fn an_operation_name_beats_the_namespaces_and_a_recorded_kind_beats_both() {
        let mut attrs = vec![
            KeyValue::new("gen_ai.operation.name", "execute_tool"),
            KeyValue::new("llm.model_name", "m"),
        ];
        assert_eq!(recognize(&mut attrs).kind, Some(SpanKind::Tool));
        attrs.push(KeyValue::new("openinference.span.kind", "guardrail"));
        let found = recognize(&mut attrs);
        assert_eq!(found.kind, Some(SpanKind::Guardrail));
        assert!(found
            .derived(&PriceTable::empty())
            .iter()
            .all(|kv| kv.key.as_str() != "openinference.span.kind"));
    }
}

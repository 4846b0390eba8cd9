//! The GenAI span attributes that changed after semantic-conventions v1.41.0 (see
//! `crate::semconv`): a span may record either name; it leaves under the v1.41.0 name by
//! default and under the latest one when the layer opts in. With the opt-in, also:
//! `gen_ai.request.top_k` is an integer, and an in-process agent span (`invoke_agent`) carries
//! no `gen_ai.provider.name` and no cache token counts.

use crate::kind::SpanKind;
use opentelemetry::{Key, KeyValue, Value};

/// The renamed attributes, as (v1.41.0 name, latest name).
const RENAMED: [(&str, &str); 1] = [(
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
)];

/// Gives each renamed attribute its v1.41.0 name, which the rest of the mapping reads (an
/// attribute already present under that name wins and the other is dropped).
pub(super) fn to_v1_41(attrs: &mut Vec<KeyValue>) {
    for (old, new) in RENAMED {
        rename(attrs, new, old);
    }
}

/// Attributes the latest conventions removed from in-process agent spans.
const NOT_ON_AGENTS: [&str; 3] = [
    "gen_ai.provider.name",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
];

/// Gives each renamed attribute its latest name and type, and leaves out what the latest
/// conventions removed from a span of `kind`.
pub(super) fn to_latest(attrs: &mut Vec<KeyValue>, kind: SpanKind) {
    for (old, new) in RENAMED {
        rename(attrs, old, new);
    }
    for kv in attrs.iter_mut() {
        if kv.key.as_str() == "gen_ai.request.top_k" {
            if let Value::F64(f) = kv.value {
                if f.fract() == 0.0 && f.abs() < 1e15 {
                    kv.value = Value::I64(f as i64);
                }
            }
        }
    }
    if kind == SpanKind::Agent {
        attrs.retain(|kv| !NOT_ON_AGENTS.contains(&kv.key.as_str()));
    }
}

/// Renames `from` to `to`, unless `to` is present: then `from` is dropped.
fn rename(attrs: &mut Vec<KeyValue>, from: &'static str, to: &'static str) {
    let Some(i) = attrs.iter().position(|kv| kv.key.as_str() == from) else {
        return;
    };
    if attrs.iter().any(|kv| kv.key.as_str() == to) {
        attrs.remove(i);
    } else {
        attrs[i].key = Key::from_static_str(to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(attrs: &[KeyValue]) -> Vec<&str> {
        attrs.iter().map(|kv| kv.key.as_str()).collect()
    }

    #[test]
    fn either_name_leaves_under_the_chosen_one_once() {
        let mut a = vec![KeyValue::new(
            "gen_ai.usage.cache_write.input_tokens",
            7_i64,
        )];
        to_v1_41(&mut a);
        assert_eq!(keys(&a), ["gen_ai.usage.cache_creation.input_tokens"]);
        to_latest(&mut a, SpanKind::Llm);
        assert_eq!(keys(&a), ["gen_ai.usage.cache_write.input_tokens"]);
        assert_eq!(a[0].value, opentelemetry::Value::I64(7));

        let mut both = vec![
            KeyValue::new("gen_ai.usage.cache_creation.input_tokens", 1_i64),
            KeyValue::new("gen_ai.usage.cache_write.input_tokens", 1_i64),
        ];
        to_latest(&mut both, SpanKind::Llm);
        assert_eq!(keys(&both), ["gen_ai.usage.cache_write.input_tokens"]);
    }

    #[test]
    fn top_k_is_an_integer_and_agents_lose_provider_and_cache_counts() {
        let mut llm = vec![
            KeyValue::new("gen_ai.request.top_k", 40.0),
            KeyValue::new("gen_ai.provider.name", "openai"),
        ];
        to_latest(&mut llm, SpanKind::Llm);
        assert_eq!(llm[0].value, Value::I64(40));
        assert_eq!(keys(&llm).len(), 2);
        let mut agent = vec![
            KeyValue::new("gen_ai.agent.name", "planner"),
            KeyValue::new("gen_ai.provider.name", "openai"),
            KeyValue::new("gen_ai.usage.cache_read.input_tokens", 3_i64),
        ];
        to_latest(&mut agent, SpanKind::Agent);
        assert_eq!(keys(&agent), ["gen_ai.agent.name"]);
    }
}

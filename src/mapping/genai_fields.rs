//! GenAI fields in the shapes other crates record them (`rig`, `genai`), brought to the shapes
//! the rest of the mapping reads, before it runs.
//!
//! - Usage aliases: `gen_ai.usage.reasoning_tokens` (rig), `gen_ai.usage.prompt_tokens` /
//!   `completion_tokens` (GenAI before 1.27) and `gen_ai.usage.total_tokens` become the
//!   convention's keys, so they are mirrored to `llm.token_count.*` like the others.
//! - Lists recorded as JSON text (`gen_ai.response.finish_reasons`,
//!   `gen_ai.request.stop_sequences`, `gen_ai.request.encoding_formats`: genai) become string
//!   lists, their convention type; the first finish reason is also `llm.finish_reason`.
//! - `gen_ai.system_instructions` on a model call becomes the first input message (role
//!   `system`), as Phoenix and Langfuse show the instructions of an instrumented Python call
//!   (unless the messages start with a `system` message already).
//! - A value that is a span's input or output in another name becomes `input.value` /
//!   `output.value` unless one (or messages to build one from) is given: `gen_ai.prompt` /
//!   `gen_ai.completion` (rig's agent span), `gen_ai.tool.call.arguments` / `.result` (tool
//!   spans), and an evaluation result's name, score, label and explanation (genai's
//!   `gen_ai.evaluation.*` span) as JSON.
//! - An AGENT span's usage and cost are the sum of its model calls': Phoenix and Langfuse sum
//!   token counts and cost over a trace's spans, so they would count them twice. As the
//!   OpenInference instrumentations keep token counts on model spans only, an agent's counts
//!   leave as `agent.usage.*` (`agent.usage.input_tokens`, ...) and its cost as `agent.cost.*`:
//!   still on the span, summed by nothing.

use crate::kind::SpanKind;
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use serde_json::Value as Json;

/// Usage keys recorded under another name, and the key they are exported as.
const USAGE_ALIASES: &[(&str, &str)] = &[
    (
        "gen_ai.usage.reasoning_tokens",
        "gen_ai.usage.reasoning.output_tokens",
    ),
    ("gen_ai.usage.prompt_tokens", "gen_ai.usage.input_tokens"),
    (
        "gen_ai.usage.completion_tokens",
        "gen_ai.usage.output_tokens",
    ),
    ("gen_ai.usage.total_tokens", "llm.token_count.total"),
];

/// GenAI keys whose convention type is a list of strings.
const STRING_LISTS: &[&str] = &[
    "gen_ai.response.finish_reasons",
    "gen_ai.request.stop_sequences",
    "gen_ai.request.encoding_formats",
];

/// Keys holding a span's input or output under another name: (key, `input.value` or
/// `output.value`).
const IO_ALIASES: &[(&str, &str)] = &[
    ("gen_ai.prompt", "input.value"),
    ("gen_ai.completion", "output.value"),
    ("gen_ai.tool.call.arguments", "input.value"),
    ("gen_ai.tool.call.result", "output.value"),
];

/// An OpenInference token count on an AGENT span, as the `agent.usage.*` key it leaves as.
const AGENT_TOKEN_KEYS: &[(&str, &str)] = &[
    ("llm.token_count.prompt", "agent.usage.input_tokens"),
    ("llm.token_count.completion", "agent.usage.output_tokens"),
    ("llm.token_count.total", "agent.usage.total_tokens"),
    (
        "llm.token_count.prompt_details.cache_read",
        "agent.usage.cache_read.input_tokens",
    ),
    (
        "llm.token_count.prompt_details.cache_write",
        "agent.usage.cache_creation.input_tokens",
    ),
    (
        "llm.token_count.completion_details.reasoning",
        "agent.usage.reasoning.output_tokens",
    ),
];

/// Brings the GenAI fields of one span's raw attributes to the shapes the mapping reads (see
/// the module documentation). Most spans have no `gen_ai.*` key and are not an agent: one pass
/// over the keys finds that, and nothing else is done.
pub(crate) fn normalize(raw: &mut Vec<KeyValue>) {
    let mut kind = None;
    let mut gen_ai = false;
    for kv in raw.iter() {
        let key = kv.key.as_str();
        if key == "openinference.span.kind" {
            kind = match &kv.value {
                Value::String(s) => SpanKind::parse(s.as_str()),
                _ => None,
            };
        } else if key.starts_with("gen_ai.") {
            gen_ai = true;
        }
    }
    let agent = kind == Some(SpanKind::Agent);
    if !gen_ai && !agent {
        return;
    }
    if gen_ai {
        for &(alias, key) in USAGE_ALIASES {
            rename(raw, alias, key);
        }
        string_lists(raw);
        if matches!(kind, Some(SpanKind::Llm) | None) {
            system_instructions(raw);
        }
        for &(alias, key) in IO_ALIASES {
            // Beside messages, the chat JSON built from them is the input or output.
            let messages = match key {
                "input.value" => ["gen_ai.input.messages", "llm.input_messages"],
                _ => ["gen_ai.output.messages", "llm.output_messages"],
            };
            if matches!(find(raw, alias), Some(Value::String(_)))
                && messages.iter().all(|m| find(raw, m).is_none())
            {
                rename(raw, alias, key);
            }
        }
        evaluation_output(raw);
    }
    if agent {
        agent_usage(raw);
    }
}

/// The value of `key`, if present.
fn find<'a>(raw: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    raw.iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// Renames `from` to `to` unless `to` is present; then `from` is dropped (one value, one key).
fn rename(raw: &mut Vec<KeyValue>, from: &str, to: &'static str) {
    let Some(i) = raw.iter().position(|kv| kv.key.as_str() == from) else {
        return;
    };
    if find(raw, to).is_some() {
        raw.remove(i);
    } else {
        raw[i].key = Key::from_static_str(to);
    }
}

/// JSON text holding a list of strings as that list; `None` for anything else.
fn json_string_list(text: &str) -> Option<Vec<StringValue>> {
    if !text.trim_start().starts_with('[') {
        return None;
    }
    let items: Vec<String> = serde_json::from_str(text).ok()?;
    Some(items.into_iter().map(StringValue::from).collect())
}

/// The [`STRING_LISTS`] keys recorded as JSON text become lists; the first finish reason is
/// also `llm.finish_reason` when none is given.
fn string_lists(raw: &mut Vec<KeyValue>) {
    let mut first_reason = None;
    for kv in raw.iter_mut() {
        if !STRING_LISTS.contains(&kv.key.as_str()) {
            continue;
        }
        let Value::String(text) = &kv.value else {
            continue;
        };
        if let Some(list) = json_string_list(text.as_str()) {
            if kv.key.as_str() == "gen_ai.response.finish_reasons" {
                first_reason = list.first().cloned();
            }
            kv.value = Value::Array(Array::String(list));
        }
    }
    if let Some(reason) = first_reason {
        if find(raw, "llm.finish_reason").is_none() {
            raw.push(KeyValue::new("llm.finish_reason", reason));
        }
    }
}

/// `gen_ai.system_instructions` (a list of GenAI parts, or plain text) becomes the first of
/// `gen_ai.input.messages`, as a `system` message. Left as it is beside OpenInference input
/// messages, or when either value is not the shape expected.
fn system_instructions(raw: &mut Vec<KeyValue>) {
    let Some(at) = raw
        .iter()
        .position(|kv| kv.key.as_str() == "gen_ai.system_instructions")
    else {
        return;
    };
    if find(raw, "llm.input_messages").is_some() {
        return;
    }
    let Value::String(text) = &raw[at].value else {
        return;
    };
    let parts = match serde_json::from_str::<Json>(text.as_str()) {
        Ok(Json::Array(parts)) => parts,
        Ok(Json::Object(part)) => vec![Json::Object(part)],
        Ok(_) | Err(_) => vec![serde_json::json!({"type": "text", "content": text.as_str()})],
    };
    let system = serde_json::json!({"role": "system", "parts": parts});
    let messages_at = raw
        .iter()
        .position(|kv| kv.key.as_str() == "gen_ai.input.messages");
    let messages = match messages_at.map(|i| &raw[i].value) {
        None => vec![system],
        Some(Value::String(s)) => match serde_json::from_str::<Json>(s.as_str()) {
            // Messages that start with the instructions already (rig includes them) are
            // left as they are.
            Ok(Json::Array(messages))
                if messages.first().and_then(|m| m.get("role")) == Some(&Json::from("system")) =>
            {
                drop(messages);
                raw.retain(|kv| kv.key.as_str() != "gen_ai.system_instructions");
                return;
            }
            Ok(Json::Array(mut messages)) => {
                messages.insert(0, system);
                messages
            }
            _ => return,
        },
        Some(_) => return,
    };
    let Ok(joined) = serde_json::to_string(&Json::Array(messages)) else {
        return;
    };
    match messages_at {
        Some(i) => raw[i].value = Value::from(joined),
        None => raw.push(KeyValue::new("gen_ai.input.messages", joined)),
    }
    raw.retain(|kv| kv.key.as_str() != "gen_ai.system_instructions");
}

/// An evaluation result's name, score, label and explanation as the span's `output.value`
/// (JSON), unless one is given.
fn evaluation_output(raw: &mut Vec<KeyValue>) {
    if find(raw, "gen_ai.evaluation.name").is_none() || find(raw, "output.value").is_some() {
        return;
    }
    let mut result = serde_json::Map::new();
    for (key, name) in [
        ("gen_ai.evaluation.name", "name"),
        ("gen_ai.evaluation.score.value", "score"),
        ("gen_ai.evaluation.score.label", "label"),
        ("gen_ai.evaluation.explanation", "explanation"),
    ] {
        let value = match find(raw, key) {
            Some(Value::F64(f)) => serde_json::Number::from_f64(*f).map(Json::Number),
            Some(Value::I64(i)) => Some(Json::from(*i)),
            Some(Value::String(s)) => Some(Json::from(s.as_str())),
            _ => None,
        };
        if let Some(value) = value {
            result.insert(name.to_owned(), value);
        }
    }
    if let Ok(json) = serde_json::to_string(&result) {
        raw.push(KeyValue::new("output.value", json));
    }
}

/// An AGENT span's token counts and cost, under the keys nothing sums (see the module
/// documentation). A count recorded in both conventions leaves once.
fn agent_usage(raw: &mut Vec<KeyValue>) {
    let mut i = 0;
    while i < raw.len() {
        let key = raw[i].key.as_str();
        let renamed: Option<String> = if let Some(rest) = key.strip_prefix("gen_ai.usage.") {
            Some(format!("agent.usage.{rest}"))
        } else if let Some(&(_, to)) = AGENT_TOKEN_KEYS.iter().find(|(from, _)| *from == key) {
            Some(to.to_owned())
        } else if let Some(rest) = key.strip_prefix("llm.token_count.") {
            Some(format!("agent.usage.token_count.{rest}"))
        } else {
            key.strip_prefix("llm.cost.")
                .map(|rest| format!("agent.cost.{rest}"))
        };
        match renamed {
            Some(new) if find(raw, &new).is_some() => {
                raw.remove(i);
            }
            Some(new) => {
                raw[i].key = Key::from(new);
                i += 1;
            }
            None => i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
        find(attrs, key)
    }

    #[test]
    fn a_span_without_gen_ai_keys_is_left_alone() {
        let plain = vec![
            KeyValue::new("openinference.span.kind", "LLM"),
            KeyValue::new("llm.token_count.prompt", 3i64),
        ];
        let mut attrs = plain.clone();
        normalize(&mut attrs);
        assert_eq!(attrs, plain);
    }

    #[test]
    fn an_agent_keeps_its_usage_under_keys_nothing_sums() {
        let mut attrs = vec![
            KeyValue::new("openinference.span.kind", "AGENT"),
            KeyValue::new("gen_ai.usage.input_tokens", 30i64),
            KeyValue::new("llm.token_count.prompt", 30i64),
            KeyValue::new("gen_ai.usage.reasoning_tokens", 4i64),
            KeyValue::new("llm.token_count.total", 42i64),
            KeyValue::new("llm.cost.total", 0.5),
            KeyValue::new("gen_ai.agent.name", "planner"),
        ];
        normalize(&mut attrs);
        let keys: Vec<&str> = attrs.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "openinference.span.kind",
                "agent.usage.input_tokens",
                "agent.usage.reasoning.output_tokens",
                "agent.usage.total_tokens",
                "agent.cost.total",
                "gen_ai.agent.name",
            ]
        );
        assert_eq!(
            get(&attrs, "agent.usage.input_tokens"),
            Some(&Value::I64(30))
        );
    }

    #[test]
    fn system_instructions_lead_the_input_messages() {
        let mut attrs = vec![
            KeyValue::new("openinference.span.kind", "LLM"),
            KeyValue::new(
                "gen_ai.system_instructions",
                r#"[{"type":"text","content":"be brief"}]"#,
            ),
            KeyValue::new(
                "gen_ai.input.messages",
                r#"[{"role":"user","parts":[{"type":"text","content":"hi"}]}]"#,
            ),
        ];
        normalize(&mut attrs);
        assert!(get(&attrs, "gen_ai.system_instructions").is_none());
        let messages: Json =
            serde_json::from_str(&get(&attrs, "gen_ai.input.messages").unwrap().as_str()).unwrap();
        assert_eq!(messages[0]["role"], "system");
        assert_eq!(messages[0]["parts"][0]["content"], "be brief");
        assert_eq!(messages[1]["role"], "user");
    }

    #[test]
    fn a_prompt_beside_messages_leaves_the_input_to_them() {
        let mut attrs = vec![
            KeyValue::new("gen_ai.prompt", "hi"),
            KeyValue::new("gen_ai.completion", "hello"),
            KeyValue::new("llm.input_messages", r#"[{"role":"user","content":"hi"}]"#),
        ];
        normalize(&mut attrs);
        assert_eq!(get(&attrs, "gen_ai.prompt"), Some(&Value::from("hi")));
        assert!(get(&attrs, "input.value").is_none());
        assert_eq!(get(&attrs, "output.value"), Some(&Value::from("hello")));
    }

    #[test]
    fn malformed_values_stay_as_they_were() {
        let original = vec![
            KeyValue::new("gen_ai.response.finish_reasons", "[stop"),
            KeyValue::new("gen_ai.system_instructions", "be brief"),
            KeyValue::new("gen_ai.input.messages", "{not json"),
        ];
        let mut attrs = original.clone();
        normalize(&mut attrs);
        assert_eq!(attrs, original);
    }
}

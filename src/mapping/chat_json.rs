//! An LLM span's request and reply as OpenAI chat JSON, rebuilt from its flattened messages.
//!
//! Langfuse and MLflow read `input.value` / `output.value` before (MLflow: instead of) the
//! flattened `llm.input_messages.*`: a chat view needs the whole conversation there. The
//! request becomes `{"messages": [...], "tools": [...], <invocation parameters>}` and the reply
//! a list of messages, `[{"role": "assistant", "content": ..., "tool_calls": [...]}]`, the pair
//! that renders as a chat in both. The JSON is rebuilt from the attributes the flattening
//! emitted (whatever shape the user recorded them in), on the export thread.

use crate::privacy::Privacy;
use opentelemetry::{KeyValue, Value};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// What the hide flags leave of the request or reply.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ChatMask {
    /// Message text (`content`, text parts) becomes [`crate::privacy::REDACTED`].
    pub(crate) redact_text: bool,
    /// Image parts are left out.
    pub(crate) drop_images: bool,
    /// `tools` is left out.
    pub(crate) drop_tools: bool,
    /// The invocation parameters are left out.
    pub(crate) drop_params: bool,
    /// The invocation parameters' prompt-carrying keys (`prompt`, `system`, ...) are left out.
    pub(crate) drop_prompt_params: bool,
    /// Texts and tool-call arguments longer than this many bytes are cut (0: none are), so
    /// that a long conversation still fits the value length cap as valid JSON.
    pub(crate) max_text: usize,
}

/// `text` cut to at most `max` bytes (at a UTF-8 boundary) with a marker saying how long it
/// was; as it is when `max` is 0 or it fits.
pub(crate) fn cut(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if max == 0 || text.len() <= max {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!(
        "{}…[truncated, {} bytes]",
        &text[..end],
        text.len()
    ))
}

/// Keys of invocation parameters that carry prompt text (see [`ChatMask::drop_prompt_params`]).
const PROMPT_PARAMS: &[&str] = &[
    "prompt",
    "prompts",
    "input",
    "inputs",
    "system",
    "instructions",
    "contents",
    "system_instruction",
    "system_prompt",
];

/// The prefixes of the input and output message lists.
pub(crate) const INPUT: &str = "llm.input_messages";
/// See [`INPUT`].
pub(crate) const OUTPUT: &str = "llm.output_messages";

/// One tool call being rebuilt.
#[derive(Default)]
struct Call<'a> {
    id: Option<&'a Value>,
    name: Option<&'a Value>,
    arguments: Option<&'a Value>,
}

/// One content part being rebuilt.
#[derive(Default)]
struct Part<'a> {
    kind: Option<&'a Value>,
    text: Option<&'a Value>,
    image: Option<&'a Value>,
    audio: Option<&'a Value>,
    /// A video's or document's fields.
    media: super::content_parts::Media<'a>,
    /// A `tool_use` part's call.
    call: Call<'a>,
}

/// One message being rebuilt.
#[derive(Default)]
struct Msg<'a> {
    role: Option<&'a Value>,
    content: Option<&'a Value>,
    name: Option<&'a Value>,
    tool_call_id: Option<&'a Value>,
    function_name: Option<&'a Value>,
    function_arguments: Option<&'a Value>,
    tool_calls: BTreeMap<usize, Call<'a>>,
    parts: BTreeMap<usize, Part<'a>>,
}

/// Whether any attribute is a flattened message of `prefix`.
pub(crate) fn has_messages(attrs: &[KeyValue], prefix: &str) -> bool {
    attrs
        .iter()
        .any(|kv| under(kv.key.as_str(), prefix).is_some())
}

/// `key` after `prefix.`, if it is under it.
fn under<'k>(key: &'k str, prefix: &str) -> Option<&'k str> {
    // The dot after the prefix first: it rules out most keys without comparing them.
    if key.as_bytes().get(prefix.len()) != Some(&b'.') {
        return None;
    }
    key.strip_prefix(prefix)?.strip_prefix('.')
}

/// `"<index>.<rest>"` split, the index parsed.
fn index_and_rest(s: &str) -> Option<(usize, &str)> {
    let (index, rest) = s.split_once('.')?;
    Some((index.parse().ok()?, rest))
}

/// Sets a tool call's field from its key after `tool_call.`.
fn set_call<'a>(call: &mut Call<'a>, field: &str, value: &'a Value) {
    match field {
        "id" => call.id = Some(value),
        "function.name" => call.name = Some(value),
        "function.arguments" => call.arguments = Some(value),
        _ => {}
    }
}

/// The messages under `prefix`, by index.
fn messages<'a>(attrs: &'a [KeyValue], prefix: &str) -> BTreeMap<usize, Msg<'a>> {
    let mut messages: BTreeMap<usize, Msg<'a>> = BTreeMap::new();
    for kv in attrs {
        let Some(rest) = under(kv.key.as_str(), prefix) else {
            continue;
        };
        let Some((index, field)) = index_and_rest(rest) else {
            continue;
        };
        let Some(field) = field.strip_prefix("message.") else {
            continue;
        };
        let value = &kv.value;
        let m = messages.entry(index).or_default();
        match field {
            "role" => m.role = Some(value),
            "content" => m.content = Some(value),
            "name" => m.name = Some(value),
            "tool_call_id" => m.tool_call_id = Some(value),
            "function_call_name" => m.function_name = Some(value),
            "function_call_arguments_json" => m.function_arguments = Some(value),
            _ => {
                if let Some((k, f)) = field.strip_prefix("tool_calls.").and_then(index_and_rest) {
                    if let Some(f) = f.strip_prefix("tool_call.") {
                        set_call(m.tool_calls.entry(k).or_default(), f, value);
                    }
                } else if let Some((k, f)) =
                    field.strip_prefix("contents.").and_then(index_and_rest)
                {
                    let part = m.parts.entry(k).or_default();
                    if let Some(f) = f.strip_prefix("tool_call.") {
                        set_call(&mut part.call, f, value);
                    } else {
                        match f {
                            "message_content.type" => part.kind = Some(value),
                            "message_content.text" => part.text = Some(value),
                            "message_content.image.image.url" => part.image = Some(value),
                            "message_content.audio.audio.url" => part.audio = Some(value),
                            f => part
                                .media
                                .set(f.trim_start_matches("message_content."), value),
                        }
                    }
                }
            }
        }
    }
    messages
}

/// An attribute value as JSON: strings as strings, numbers and booleans as themselves.
fn json_of(value: &Value) -> Json {
    match value {
        Value::String(s) => Json::String(s.as_str().to_owned()),
        Value::I64(i) => Json::from(*i),
        Value::F64(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Value::Bool(b) => Json::Bool(*b),
        other => Json::String(other.to_string()),
    }
}

/// The text of a message or part, redacted if asked.
fn text_of(value: &Value, mask: ChatMask) -> Json {
    match value {
        _ if mask.redact_text => Json::String(crate::privacy::REDACTED.to_owned()),
        Value::String(s) => Json::String(cut(s.as_str(), mask.max_text).into_owned()),
        other => json_of(other),
    }
}

/// A JSON value whose objects keep their keys in the order written (`role` before `content`,
/// as people read a message), for the values built here.
pub(crate) enum Ordered {
    /// Any JSON value, as it is.
    Json(Json),
    /// An object, its keys in this order.
    Object(Vec<(&'static str, Ordered)>),
    /// An array.
    Array(Vec<Ordered>),
}

impl serde::Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Ordered::Json(json) => json.serialize(serializer),
            Ordered::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Ordered::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

/// A tool call in the OpenAI shape; `None` when it has neither id nor name.
fn call_json(call: &Call<'_>, p: &Privacy, max_text: usize) -> Option<Ordered> {
    if call.id.is_none() && call.name.is_none() {
        return None;
    }
    let name = call
        .name
        .map(json_of)
        .unwrap_or(Json::String(String::new()));
    // Arguments are a JSON string in the OpenAI shape.
    let arguments = match call.arguments {
        Some(Value::String(s)) => {
            super::secret_keys::redact_text(s.as_str(), p).unwrap_or_else(|| s.as_str().to_owned())
        }
        Some(other) => other.to_string(),
        None => "{}".to_owned(),
    };
    let arguments = cut(&arguments, max_text).into_owned();
    let mut fields = Vec::with_capacity(3);
    if let Some(id) = call.id {
        fields.push(("id", Ordered::Json(json_of(id))));
    }
    fields.push(("type", Ordered::Json(Json::String("function".into()))));
    fields.push((
        "function",
        Ordered::Object(vec![
            ("name", Ordered::Json(name)),
            ("arguments", Ordered::Json(Json::String(arguments))),
        ]),
    ));
    Some(Ordered::Object(fields))
}

/// One message in the OpenAI shape.
fn message_json(m: &Msg<'_>, mask: ChatMask, default_role: &str, p: &Privacy) -> Ordered {
    let role = m
        .role
        .map(json_of)
        .unwrap_or_else(|| Json::String(default_role.into()));
    let mut calls: Vec<Ordered> = Vec::new();
    let mut parts: Vec<Json> = Vec::new();
    for part in m.parts.values() {
        let kind = match part.kind {
            Some(Value::String(s)) => s.as_str(),
            _ => "",
        };
        match kind {
            "tool_use" => calls.extend(call_json(&part.call, p, mask.max_text)),
            "image" if mask.drop_images => {}
            "image" => {
                if let Some(url) = part.image {
                    parts.push(serde_json::json!({"type": "image_url", "image_url": {"url": json_of(url)}}));
                }
            }
            "audio" => {
                if let Some(url) = part.audio {
                    parts.push(serde_json::json!({"type": "input_audio", "input_audio": {"url": json_of(url)}}));
                }
            }
            "video" | "document" => {
                parts.extend(super::content_parts::part_json(kind, &part.media, mask))
            }
            // Visible reasoning is not part of a chat request or reply.
            "reasoning" => {}
            _ => {
                if let Some(text) = part.text {
                    parts.push(serde_json::json!({"type": "text", "text": text_of(text, mask)}));
                }
            }
        }
    }
    let content = match (m.content, parts.is_empty()) {
        (Some(text), _) => text_of(text, mask),
        (None, false) => Json::Array(parts),
        (None, true) => Json::Null,
    };
    calls.extend(
        m.tool_calls
            .values()
            .filter_map(|c| call_json(c, p, mask.max_text)),
    );
    if m.function_name.is_some() {
        // A legacy function call is shown as the one tool call it is.
        let legacy = Call {
            id: None,
            name: m.function_name,
            arguments: m.function_arguments,
        };
        calls.extend(call_json(&legacy, p, mask.max_text));
    }
    let mut fields = vec![
        ("role", Ordered::Json(role)),
        ("content", Ordered::Json(content)),
    ];
    if !calls.is_empty() {
        fields.push(("tool_calls", Ordered::Array(calls)));
    }
    if let Some(id) = m.tool_call_id {
        fields.push(("tool_call_id", Ordered::Json(json_of(id))));
    }
    if let Some(name) = m.name {
        fields.push(("name", Ordered::Json(json_of(name))));
    }
    Ordered::Object(fields)
}

/// The messages under `prefix` as a JSON array.
fn messages_json(attrs: &[KeyValue], prefix: &str, mask: ChatMask, p: &Privacy) -> Ordered {
    let default_role = if prefix == OUTPUT {
        "assistant"
    } else {
        "user"
    };
    Ordered::Array(
        messages(attrs, prefix)
            .values()
            .map(|m| message_json(m, mask, default_role, p))
            .collect(),
    )
}

/// The tools offered (`llm.tools.N.tool.json_schema`) in the OpenAI shape.
fn tools_json(attrs: &[KeyValue]) -> Vec<Json> {
    let mut tools: BTreeMap<usize, Json> = BTreeMap::new();
    for kv in attrs {
        let Some((index, "tool.json_schema")) =
            under(kv.key.as_str(), "llm.tools").and_then(index_and_rest)
        else {
            continue;
        };
        let Value::String(s) = &kv.value else {
            continue;
        };
        let Ok(Json::Object(schema)) = serde_json::from_str::<Json>(s.as_str()) else {
            continue;
        };
        let tool = if schema.contains_key("function") || schema.contains_key("type") {
            Json::Object(schema)
        } else {
            // A bare function schema (`{name, description, parameters}`).
            serde_json::json!({"type": "function", "function": schema})
        };
        tools.insert(index, tool);
    }
    tools.into_values().collect()
}

/// The request as `{"messages": [...], "tools": [...], <parameters>}`, if the span has input
/// messages.
pub(crate) fn request(attrs: &[KeyValue], mask: ChatMask, p: &Privacy) -> Option<String> {
    if !has_messages(attrs, INPUT) {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"messages\":");
    write_json(&mut out, &messages_json(attrs, INPUT, mask, p));
    let tools = if mask.drop_tools {
        Vec::new()
    } else {
        tools_json(attrs)
    };
    if !tools.is_empty() {
        out.extend_from_slice(b",\"tools\":");
        write_json(&mut out, &tools);
    }
    if !mask.drop_params {
        if let Some(Value::String(params)) = super::genai::get(attrs, "llm.invocation_parameters") {
            if let Ok(Json::Object(params)) = serde_json::from_str::<Json>(params.as_str()) {
                for (key, value) in &params {
                    let ours = key == "messages" || key == "tools";
                    let prompt = mask.drop_prompt_params && PROMPT_PARAMS.contains(&key.as_str());
                    if ours || prompt {
                        continue;
                    }
                    out.push(b',');
                    write_json(&mut out, key);
                    out.push(b':');
                    write_json(&mut out, value);
                }
            }
        }
    }
    out.push(b'}');
    String::from_utf8(out).ok()
}

/// The reply as a JSON list of messages, if the span has output messages.
pub(crate) fn reply(attrs: &[KeyValue], mask: ChatMask, p: &Privacy) -> Option<String> {
    if !has_messages(attrs, OUTPUT) {
        return None;
    }
    serde_json::to_string(&messages_json(attrs, OUTPUT, mask, p)).ok()
}

/// Writes `value` as JSON (serde_json cannot fail writing these into memory).
fn write_json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    let _ = serde_json::to_writer(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::flatten::flatten_semantic_text;
    use proptest::prelude::*;

    fn flattened(key: &str, json: &str) -> Vec<KeyValue> {
        let mut out = Vec::new();
        assert!(flatten_semantic_text(key, json, &mut out), "{json}");
        out
    }

    #[test]
    fn a_conversation_with_a_tool_round_trip_is_rebuilt() {
        let mut attrs = flattened(
            "llm.input_messages",
            r#"[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather?"},
               {"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
               {"role":"tool","tool_call_id":"c1","name":"get_weather","content":"rain"}]"#,
        );
        attrs.extend(flattened(
            "llm.tools",
            r#"[{"type":"function","function":{"name":"get_weather","parameters":{}}}]"#,
        ));
        attrs.push(KeyValue::new(
            "llm.invocation_parameters",
            r#"{"temperature":0.2,"messages":"x"}"#,
        ));
        let text = request(&attrs, ChatMask::default(), &Privacy::default()).unwrap();
        // Keys in the order people read them: the role first.
        assert!(
            text.starts_with(r#"{"messages":[{"role":"system","content":"Be brief."}"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"#
            ),
            "{text}"
        );
        let json: Json = serde_json::from_str(&text).unwrap();
        let messages = json["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 4);
        assert_eq!(
            messages[0],
            serde_json::json!({"role": "system", "content": "Be brief."})
        );
        assert_eq!(
            messages[2]["tool_calls"][0]["function"]["name"],
            "get_weather"
        );
        assert_eq!(
            messages[2]["tool_calls"][0]["function"]["arguments"],
            r#"{"city":"Paris"}"#
        );
        assert_eq!(messages[2]["content"], Json::Null);
        assert_eq!(messages[3]["tool_call_id"], "c1");
        assert_eq!(messages[3]["name"], "get_weather");
        assert_eq!(json["tools"][0]["function"]["name"], "get_weather");
        assert_eq!(json["temperature"], 0.2);
        // The parameters never replace the messages.
        assert!(json["messages"].is_array());
    }

    #[test]
    fn the_reply_is_a_list_and_parts_and_masks_apply() {
        let attrs = flattened(
            "llm.output_messages",
            r#"[{"role":"assistant","content":[{"type":"text","text":"see"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]"#,
        );
        let reply: Json =
            serde_json::from_str(&reply(&attrs, ChatMask::default(), &Privacy::default()).unwrap())
                .unwrap();
        assert_eq!(
            reply[0]["content"][0],
            serde_json::json!({"type": "text", "text": "see"})
        );
        assert_eq!(
            reply[0]["content"][1]["image_url"]["url"],
            "https://x/y.png"
        );
        let mask = ChatMask {
            redact_text: true,
            drop_images: true,
            ..ChatMask::default()
        };
        let masked: Json =
            serde_json::from_str(&super::reply(&attrs, mask, &Privacy::default()).unwrap())
                .unwrap();
        assert_eq!(
            masked[0]["content"],
            serde_json::json!([{"type": "text", "text": crate::privacy::REDACTED}])
        );
        assert!(request(&attrs, ChatMask::default(), &Privacy::default()).is_none());
    }

    proptest! {
        /// Whatever the messages hold, the request and the reply parse as JSON and keep every
        /// message's text.
        #[test]
        fn the_derived_json_always_parses(
            turns in proptest::collection::vec((".*", "[a-z]{0,8}", proptest::option::of(".*")), 1..6),
            params in ".*",
        ) {
            let messages: Vec<Json> = turns
                .iter()
                .map(|(content, role, args)| match args {
                    Some(args) => serde_json::json!({"role": role, "content": content,
                        "tool_calls": [{"id": "c", "function": {"name": role, "arguments": args}}]}),
                    None => serde_json::json!({"role": role, "content": content}),
                })
                .collect();
            let text = Json::Array(messages).to_string();
            let mut attrs = flattened("llm.input_messages", &text);
            attrs.extend(flattened("llm.output_messages", &text));
            attrs.push(KeyValue::new("llm.invocation_parameters", params));
            let req: Json = serde_json::from_str(&request(&attrs, ChatMask::default(), &Privacy::default()).unwrap()).unwrap();
            let rep: Json = serde_json::from_str(&reply(&attrs, ChatMask::default(), &Privacy::default()).unwrap()).unwrap();
            for (i, (content, _, _)) in turns.iter().enumerate() {
                prop_assert_eq!(req["messages"][i]["content"].as_str(), Some(content.as_str()));
                prop_assert_eq!(rep[i]["content"].as_str(), Some(content.as_str()));
            }
        }
    }
}

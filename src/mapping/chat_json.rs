//! An LLM span's request and reply as OpenAI chat JSON, rebuilt from its flattened messages.
//!
//! Langfuse and MLflow read `input.value` / `output.value` before (MLflow: instead of) the
//! flattened `llm.input_messages.*`: a chat view needs the whole conversation there. The
//! request becomes `{"messages": [...], "tools": [...], <invocation parameters>}` and the reply
//! a list of messages, `[{"role": "assistant", "content": ..., "tool_calls": [...]}]`, the pair
//! that renders as a chat in both. The JSON is rebuilt on the export thread from the attributes
//! the flattening emitted (whatever shape the user recorded them in), once the privacy stage has
//! cleaned them ([`crate::privacy::Privacy::clean`]): every text in it has had its credentials,
//! hide flags and length cap applied, so the JSON is not scanned again. Its text is written
//! straight out ([`super::json_text`]), keys in reading order (`role` before `content`).

use super::json_text::{cut, push_serde, push_str, push_value};
use opentelemetry::{KeyValue, Value};
use serde_json::Value as Json;

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

/// Items by index, in the order of their indices: a span's flattened attributes come in index
/// order, so the item an attribute belongs to is nearly always the last one (a vector beats a
/// tree here).
struct ByIndex<T>(Vec<(usize, T)>);

impl<T: Default> ByIndex<T> {
    fn new() -> Self {
        ByIndex(Vec::new())
    }

    /// The item at `index`, added if new.
    fn entry(&mut self, index: usize) -> &mut T {
        let at = match self.0.last() {
            Some((last, _)) if *last == index => self.0.len() - 1,
            _ => match self.0.iter().position(|(i, _)| *i == index) {
                Some(at) => at,
                None => {
                    self.0.push((index, T::default()));
                    self.0.len() - 1
                }
            },
        };
        &mut self.0[at].1
    }

    /// The items in the order of their indices.
    fn sorted(mut self) -> Vec<(usize, T)> {
        // Stable and already sorted in the common case: one pass.
        self.0.sort_by_key(|(i, _)| *i);
        self.0
    }
}

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
    tool_calls: Vec<(usize, Call<'a>)>,
    parts: Vec<(usize, Part<'a>)>,
}

/// Whether any attribute is a flattened message of `prefix`.
pub(crate) fn has_messages(attrs: &[KeyValue], prefix: &str) -> bool {
    attrs.iter().any(|kv| is_under(kv.key.as_str(), prefix))
}

/// Whether `key` is under `prefix.` (a flattened message of `prefix`).
pub(crate) fn is_under(key: &str, prefix: &str) -> bool {
    under(key, prefix).is_some()
}

/// `key` after `prefix.`, if it is under it.
fn under<'k>(key: &'k str, prefix: &str) -> Option<&'k str> {
    // The dot after the prefix first: it rules out most keys without comparing them.
    if key.as_bytes().get(prefix.len()) != Some(&b'.') {
        return None;
    }
    key.strip_prefix(prefix)?.strip_prefix('.')
}

/// `"<index>.<rest>"` split, the index (decimal digits) parsed. The digits are counted in
/// place: `split_once('.')` set up a `memchr` search for the dot of every key (≈ 700 more
/// instructions per 2 KB LLM span, callgrind).
fn index_and_rest(s: &str) -> Option<(usize, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || s.as_bytes().get(digits) != Some(&b'.') {
        return None;
    }
    Some((s[..digits].parse().ok()?, &s[digits + 1..]))
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

/// The messages under `prefix`, in the order of their indices, and about how long their
/// values are as JSON (to size the text once).
fn messages<'a>(attrs: &'a [KeyValue], prefix: &str) -> (Vec<Msg<'a>>, usize) {
    /// A message with its calls and parts still by index.
    #[derive(Default)]
    struct Building<'a> {
        msg: Msg<'a>,
        tool_calls: Option<ByIndex<Call<'a>>>,
        parts: Option<ByIndex<Part<'a>>>,
    }
    let mut messages: ByIndex<Building<'a>> = ByIndex::new();
    let mut size = 0;
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
        size += match value {
            Value::String(s) => s.as_str().len() + 16,
            _ => 32,
        };
        let b = messages.entry(index);
        let m = &mut b.msg;
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
                        let calls = b.tool_calls.get_or_insert_with(ByIndex::new);
                        set_call(calls.entry(k), f, value);
                    }
                } else if let Some((k, f)) =
                    field.strip_prefix("contents.").and_then(index_and_rest)
                {
                    let part = b.parts.get_or_insert_with(ByIndex::new).entry(k);
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
    let messages = messages
        .sorted()
        .into_iter()
        .map(|(_, b)| {
            let mut msg = b.msg;
            msg.tool_calls = b.tool_calls.map(ByIndex::sorted).unwrap_or_default();
            msg.parts = b.parts.map(ByIndex::sorted).unwrap_or_default();
            msg
        })
        .collect();
    (messages, size)
}

/// Writes the text of a message or part, redacted or cut if asked.
fn push_text(out: &mut String, value: &Value, mask: ChatMask) {
    match value {
        _ if mask.redact_text => push_str(out, crate::privacy::REDACTED),
        Value::String(s) => push_str(out, &cut(s.as_str(), mask.max_text)),
        other => push_value(out, other),
    }
}

/// Writes a tool call in the OpenAI shape, after a comma unless `first`; nothing when it has
/// neither id nor name. Returns whether it wrote one.
fn push_call(out: &mut String, call: &Call<'_>, max_text: usize, first: bool) -> bool {
    if call.id.is_none() && call.name.is_none() {
        return false;
    }
    if !first {
        out.push(',');
    }
    out.push('{');
    if let Some(id) = call.id {
        out.push_str("\"id\":");
        push_value(out, id);
        out.push(',');
    }
    out.push_str("\"type\":\"function\",\"function\":{\"name\":");
    match call.name {
        Some(name) => push_value(out, name),
        None => out.push_str("\"\""),
    }
    // Arguments are a JSON string in the OpenAI shape.
    out.push_str(",\"arguments\":");
    match call.arguments {
        Some(Value::String(s)) => push_str(out, &cut(s.as_str(), max_text)),
        Some(other) => push_str(out, &cut(&other.to_string(), max_text)),
        None => push_str(out, "{}"),
    }
    out.push_str("}}");
    true
}

/// A content part's type (`text`, `image`, `tool_use`, ...), empty when it has none.
fn kind_of<'a>(part: &Part<'a>) -> &'a str {
    match part.kind {
        Some(Value::String(s)) => s.as_str(),
        _ => "",
    }
}

/// Writes one message in the OpenAI shape.
fn push_message(out: &mut String, m: &Msg<'_>, mask: ChatMask, default_role: &str) {
    out.push_str("{\"role\":");
    match m.role {
        Some(role) => push_value(out, role),
        None => push_str(out, default_role),
    }
    out.push_str(",\"content\":");
    match m.content {
        Some(text) => push_text(out, text, mask),
        None => {
            let mut any = false;
            for (_, part) in &m.parts {
                let start = out.len();
                out.push(if any { ',' } else { '[' });
                let wrote = match kind_of(part) {
                    "tool_use" | "reasoning" => false,
                    "image" if mask.drop_images => false,
                    "image" => part.image.is_some_and(|url| {
                        out.push_str("{\"type\":\"image_url\",\"image_url\":{\"url\":");
                        push_value(out, url);
                        out.push_str("}}");
                        true
                    }),
                    "audio" => part.audio.is_some_and(|url| {
                        out.push_str("{\"type\":\"input_audio\",\"input_audio\":{\"url\":");
                        push_value(out, url);
                        out.push_str("}}");
                        true
                    }),
                    // Rare: written through a JSON value (see `content_parts`).
                    kind @ ("video" | "document") => super::content_parts::part_json(
                        kind,
                        &part.media,
                        mask.redact_text,
                        mask.max_text,
                    )
                    .is_some_and(|json| {
                        out.push_str(&json.to_string());
                        true
                    }),
                    _ => part.text.is_some_and(|text| {
                        out.push_str("{\"type\":\"text\",\"text\":");
                        push_text(out, text, mask);
                        out.push('}');
                        true
                    }),
                };
                if wrote {
                    any = true;
                } else {
                    out.truncate(start);
                }
            }
            out.push_str(if any { "]" } else { "null" });
        }
    }
    // The calls: `tool_use` parts, then `tool_calls`, then a legacy function call (shown as
    // the one tool call it is).
    let legacy = m.function_name.map(|name| Call {
        id: None,
        name: Some(name),
        arguments: m.function_arguments,
    });
    let calls = m
        .parts
        .iter()
        .filter(|(_, part)| kind_of(part) == "tool_use")
        .map(|(_, part)| &part.call)
        .chain(m.tool_calls.iter().map(|(_, call)| call))
        .chain(legacy.as_ref());
    let start = out.len();
    out.push_str(",\"tool_calls\":[");
    let mut any = false;
    for call in calls {
        any |= push_call(out, call, mask.max_text, !any);
    }
    if any {
        out.push(']');
    } else {
        out.truncate(start);
    }
    if let Some(id) = m.tool_call_id {
        out.push_str(",\"tool_call_id\":");
        push_value(out, id);
    }
    if let Some(name) = m.name {
        out.push_str(",\"name\":");
        push_value(out, name);
    }
    out.push('}');
}

/// `head`, then the messages under `prefix` as a JSON array, in a text sized once for them
/// and `room` more bytes (growing it from a guess cost a `realloc` per span).
fn messages_json(
    attrs: &[KeyValue],
    prefix: &str,
    mask: ChatMask,
    head: &str,
    room: usize,
) -> String {
    let default_role = if prefix == OUTPUT {
        "assistant"
    } else {
        "user"
    };
    let (messages, size) = messages(attrs, prefix);
    let mut out = String::with_capacity(head.len() + size + 2 + room);
    out.push_str(head);
    out.push('[');
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_message(&mut out, m, mask, default_role);
    }
    out.push(']');
    out
}

/// The tools offered (`llm.tools.N.tool.json_schema`) in the OpenAI shape.
fn tools_json(attrs: &[KeyValue]) -> Vec<Json> {
    let mut tools: ByIndex<Option<Json>> = ByIndex::new();
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
        *tools.entry(index) = Some(tool);
    }
    tools.sorted().into_iter().filter_map(|(_, t)| t).collect()
}

/// The request as `{"messages": [...], "tools": [...], <parameters>}`, if the span has input
/// messages. `attrs` are the span's attributes as the privacy stage left them.
pub(crate) fn request(attrs: &[KeyValue], mask: ChatMask) -> Option<String> {
    if !has_messages(attrs, INPUT) {
        return None;
    }
    // Room for the closing brace and a few parameters.
    let mut out = messages_json(attrs, INPUT, mask, "{\"messages\":", 64);
    let tools = if mask.drop_tools {
        Vec::new()
    } else {
        tools_json(attrs)
    };
    if !tools.is_empty() {
        out.push_str(",\"tools\":");
        push_serde(&mut out, &tools);
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
                    out.push(',');
                    push_str(&mut out, key);
                    out.push(':');
                    push_serde(&mut out, value);
                }
            }
        }
    }
    out.push('}');
    Some(out)
}

/// The reply as a JSON list of messages, if the span has output messages. `attrs` are the
/// span's attributes as the privacy stage left them.
pub(crate) fn reply(attrs: &[KeyValue], mask: ChatMask) -> Option<String> {
    if !has_messages(attrs, OUTPUT) {
        return None;
    }
    Some(messages_json(attrs, OUTPUT, mask, "", 0))
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
        let text = request(&attrs, ChatMask::default()).unwrap();
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
            serde_json::from_str(&reply(&attrs, ChatMask::default()).unwrap()).unwrap();
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
        let masked: Json = serde_json::from_str(&super::reply(&attrs, mask).unwrap()).unwrap();
        assert_eq!(
            masked[0]["content"],
            serde_json::json!([{"type": "text", "text": crate::privacy::REDACTED}])
        );
        assert!(request(&attrs, ChatMask::default()).is_none());
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
            let req: Json = serde_json::from_str(&request(&attrs, ChatMask::default()).unwrap()).unwrap();
            let rep: Json = serde_json::from_str(&reply(&attrs, ChatMask::default()).unwrap()).unwrap();
            for (i, (content, _, _)) in turns.iter().enumerate() {
                prop_assert_eq!(req["messages"][i]["content"].as_str(), Some(content.as_str()));
                prop_assert_eq!(rep[i]["content"].as_str(), Some(content.as_str()));
            }
        }
    }
}

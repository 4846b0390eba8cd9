//! Flattening of list- and JSON-shaped semantic fields into OpenInference attributes.
//!
//! Users hand the layer values such as `llm.input_messages` as a JSON string. This module
//! takes the parsed JSON and turns it into the flattened, typed attributes the
//! OpenInference conventions describe (`<prefix>.<i>.<suffix>`), for example
//! `llm.input_messages.0.message.role` or
//! `retrieval.documents.2.document.score`.
//!
//! Rules that hold for every key:
//! - Nothing here panics, whatever the JSON. Recursion is bounded by the fixed shape of each
//!   key; anything nested deeper than the shape is serialized back to a JSON string.
//! - At most [`MAX_LIST_ITEMS`] items are emitted per list (messages, documents, tools, tool
//!   calls and content parts of one message, ...). Items of the wrong type are skipped and do
//!   not take an index, so the emitted indexes are always `0..n` without gaps.
//! - When the value has no shape the key accepts (or a non-empty list has no usable item),
//!   nothing is pushed and `false` is returned so the caller can keep the raw string. An empty
//!   list is an accepted shape: it returns `true` and pushes nothing.

use opentelemetry::{Array, KeyValue, StringValue, Value};
use serde_json::{Map, Value as Json};

/// The most items flattened from one list: messages, documents, tools, embeddings, tags,
/// prompts, choices, and per message its tool calls, content parts and tool responses.
mod media;
mod messages;
mod plain;
use messages::*;
use plain::{plain_messages, PlainMessage};

pub(crate) const MAX_LIST_ITEMS: usize = 1000;

/// Flattens the parsed JSON value of a semantic list/JSON field into typed OpenInference attributes,
/// pushing them onto `out`. Returns false (pushing nothing) when the shape is not one this key accepts,
/// so the caller can keep the raw string instead.
pub(crate) fn flatten_semantic(key: &str, json: &Json, out: &mut Vec<KeyValue>) -> bool {
    let Some((prefix, shape)) = canonical(key) else {
        return false;
    };
    let start = out.len();
    let accepted = match shape {
        Shape::Messages => flatten_messages(prefix, json, out),
        Shape::Documents => flatten_documents(prefix, json, out),
        Shape::Tools => flatten_tools(prefix, json, out),
        Shape::Embeddings => flatten_embeddings(prefix, json, out),
        Shape::Tags => flatten_tags(prefix, json, out),
        Shape::Prompts => flatten_texts(prefix, "prompt.text", json, out),
        Shape::Choices => flatten_texts(prefix, "completion.text", json, out),
    };
    if !accepted {
        out.truncate(start);
    }
    accepted
}

/// Flattens a semantic value given as JSON text, as [`flatten_semantic`] does with it parsed.
/// The common message list, objects of a string `role` and a string `content` and nothing
/// else, is read straight from the text, strings borrowed where they have no escapes: no
/// JSON tree is built. Any other text is parsed and handed to [`flatten_semantic`].
pub(crate) fn flatten_semantic_text(key: &str, text: &str, out: &mut Vec<KeyValue>) -> bool {
    if let Some((prefix, Shape::Messages)) = canonical(key) {
        if let Some(messages) = plain_messages(text) {
            // Room for the derived and GenAI attributes added after, too.
            out.reserve(2 * messages.len().min(MAX_LIST_ITEMS) + 16);
            for (index, m) in messages.into_iter().take(MAX_LIST_ITEMS).enumerate() {
                emit_plain_message(prefix, index, m, out);
            }
            return true;
        }
    }
    match serde_json::from_str::<Json>(text) {
        Ok(json) => flatten_semantic(key, &json, out),
        Err(_) => false,
    }
}

/// How many messages of each list have shared keys (see [`shared_message_keys`]).
const SHARED_KEY_MESSAGES: usize = 64;

/// The `role` and `content` keys of message `index` of `prefix` (the input or output list),
/// built once for the first [`SHARED_KEY_MESSAGES`] messages and shared: pushing a plain
/// message then allocates no key.
fn shared_message_keys(prefix: &str, index: usize) -> Option<&'static [opentelemetry::Key; 2]> {
    type Keys = [Vec<[opentelemetry::Key; 2]>; 2];
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    let list = match prefix {
        "llm.input_messages" => 0,
        "llm.output_messages" => 1,
        _ => return None,
    };
    let keys = KEYS.get_or_init(|| {
        ["llm.input_messages", "llm.output_messages"].map(|prefix| {
            (0..SHARED_KEY_MESSAGES)
                .map(|i| {
                    let base = indexed(prefix, i, ".message.");
                    ["role", "content"].map(|field| {
                        opentelemetry::Key::from(std::sync::Arc::<str>::from(cat(&base, field)))
                    })
                })
                .collect()
        })
    });
    keys[list].get(index)
}

/// A role as a value: the usual ones static, so they are not copied.
fn role_value(role: std::borrow::Cow<'_, str>) -> StringValue {
    match &*role {
        "system" => "system".into(),
        "user" => "user".into(),
        "assistant" => "assistant".into(),
        "tool" => "tool".into(),
        "developer" => "developer".into(),
        _ => role.into_owned().into(),
    }
}

/// Pushes message `index` of a plain list as [`emit_message`] would.
fn emit_plain_message(prefix: &str, index: usize, m: PlainMessage<'_>, out: &mut Vec<KeyValue>) {
    let Some([role, content]) = shared_message_keys(prefix, index) else {
        let message = Message {
            role: Some(m.role.into_owned()),
            content: Some(m.content.into_owned()),
            ..Message::default()
        };
        return emit_message(prefix, index, message, out);
    };
    out.push(KeyValue::new(
        role.clone(),
        Value::String(role_value(m.role)),
    ));
    // Shared, not owned: `input.value` is often this same text (see `Mapper::map_span`).
    let text = std::sync::Arc::<str>::from(&*m.content);
    out.push(KeyValue::new(content.clone(), Value::String(text.into())));
}

/// Whether `key` is one whose value flatten_semantic understands (list or JSON shaped keys).
pub(crate) fn is_flattened_key(key: &str) -> bool {
    canonical(key).is_some()
}

/// The kinds of value shapes this module knows how to flatten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Chat messages (`llm.input_messages`, `llm.output_messages`).
    Messages,
    /// Documents (`retrieval.documents`, `reranker.*_documents`).
    Documents,
    /// Tool definitions (`llm.tools`).
    Tools,
    /// Embeddings (`embedding.embeddings`).
    Embeddings,
    /// A list of strings kept as one attribute (`tag.tags`).
    Tags,
    /// Completions-API prompts (`llm.prompts`).
    Prompts,
    /// Completions-API choices (`llm.choices`).
    Choices,
}

/// Maps a key (or its `gen_ai.*` alias) to the OpenInference prefix it flattens under and
/// its shape.
fn canonical(key: &str) -> Option<(&'static str, Shape)> {
    let found = match key {
        "llm.input_messages" | "gen_ai.input.messages" => ("llm.input_messages", Shape::Messages),
        "llm.output_messages" | "gen_ai.output.messages" => {
            ("llm.output_messages", Shape::Messages)
        }
        "retrieval.documents" | "gen_ai.retrieval.documents" => {
            ("retrieval.documents", Shape::Documents)
        }
        "reranker.input_documents" => ("reranker.input_documents", Shape::Documents),
        "reranker.output_documents" => ("reranker.output_documents", Shape::Documents),
        "llm.tools" | "gen_ai.tool.definitions" => ("llm.tools", Shape::Tools),
        "embedding.embeddings" => ("embedding.embeddings", Shape::Embeddings),
        "tag.tags" => ("tag.tags", Shape::Tags),
        "llm.prompts" => ("llm.prompts", Shape::Prompts),
        "llm.choices" => ("llm.choices", Shape::Choices),
        _ => return None,
    };
    Some(found)
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// `base` followed by `suffix`, without the formatting machinery.
fn cat(base: &str, suffix: &str) -> String {
    let mut key = String::with_capacity(base.len() + suffix.len());
    key.push_str(base);
    key.push_str(suffix);
    key
}

/// `prefix`, the decimal `index`, then `tail` (which starts with `.`): `llm.input_messages` `.0` `.message.`.
fn indexed(prefix: &str, index: usize, tail: &str) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = index;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut key = String::with_capacity(prefix.len() + 1 + (digits.len() - at) + tail.len());
    key.push_str(prefix);
    key.push('.');
    for &d in &digits[at..] {
        key.push(char::from(d));
    }
    key.push_str(tail);
    key
}

/// Pushes a string attribute.
fn push_str(out: &mut Vec<KeyValue>, key: String, value: String) {
    out.push(KeyValue::new(key, Value::String(StringValue::from(value))));
}

/// Serializes any JSON value to a string; `None` only if serialization fails (it does not
/// for values built by serde_json, but the error is not unwrapped).
fn to_json_string(value: &Json) -> Option<String> {
    serde_json::to_string(value).ok()
}

/// A "JSON String" value: strings are kept as they are, null is absent, anything else is
/// serialized.
fn json_or_string(value: &Json) -> Option<String> {
    match value {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => to_json_string(other),
    }
}

/// An identifier as a string: strings as they are, numbers in their JSON form; other types
/// are not identifiers.
fn id_string(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first field among `names` that holds a string.
fn str_field<'a>(obj: &'a Map<String, Json>, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|name| obj.get(*name).and_then(Json::as_str))
}

/// The first field among `names` that is present and not null.
fn non_null_field<'a>(obj: &'a Map<String, Json>, names: &[&str]) -> Option<&'a Json> {
    names
        .iter()
        .find_map(|name| obj.get(*name).filter(|v| !v.is_null()))
}

/// A URL given either as a string or as an object with a string `url`.
fn url_of(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Object(obj) => str_field(obj, &["url"]).map(str::to_owned),
        _ => None,
    }
}

/// Builds a `data:` URL from a MIME type (if known) and base64 data.
fn data_url(mime: Option<&str>, data: &str) -> String {
    format!(
        "data:{};base64,{}",
        mime.unwrap_or("application/octet-stream"),
        data
    )
}

/// A finite f64 from a JSON number, or from a string holding one.
fn finite_f64(value: &Json) -> Option<f64> {
    let f = match value {
        Json::Number(n) => n.as_f64()?,
        Json::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    f.is_finite().then_some(f)
}

/// Treats a single object as a one-element list; a list as itself; anything else as no list.
fn as_items(json: &Json) -> Option<&[Json]> {
    match json {
        Json::Array(items) => Some(items.as_slice()),
        Json::Object(_) => Some(std::slice::from_ref(json)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/// Flattens documents (`{id, content|page_content|text, score|relevance_score, metadata}` or
/// bare strings) under `prefix`.
fn flatten_documents(prefix: &str, json: &Json, out: &mut Vec<KeyValue>) -> bool {
    let Some(items) = as_items(json) else {
        return false;
    };
    if items.is_empty() {
        return true;
    }
    let mut index = 0usize;
    for item in items {
        if index >= MAX_LIST_ITEMS {
            break;
        }
        let base = indexed(prefix, index, ".document.");
        let before = out.len();
        match item {
            Json::String(s) => push_str(out, cat(&base, "content"), s.clone()),
            Json::Object(obj) => emit_document(&base, obj, out),
            _ => {}
        }
        if out.len() > before {
            index += 1;
        }
    }
    index > 0
}

/// Pushes the attributes of one document object under `base` (which ends with `.`).
fn emit_document(base: &str, obj: &Map<String, Json>, out: &mut Vec<KeyValue>) {
    match obj.get("id") {
        None | Some(Json::Null) => {}
        Some(Json::Number(n)) if n.as_i64().is_some() => {
            if let Some(id) = n.as_i64() {
                out.push(KeyValue::new(cat(base, "id"), Value::I64(id)));
            }
        }
        Some(other) => {
            if let Some(id) = json_or_string(other) {
                push_str(out, cat(base, "id"), id);
            }
        }
    }
    if let Some(content) =
        non_null_field(obj, &["content", "page_content", "text"]).and_then(json_or_string)
    {
        push_str(out, cat(base, "content"), content);
    }
    if let Some(score) = non_null_field(obj, &["score", "relevance_score"]).and_then(finite_f64) {
        out.push(KeyValue::new(cat(base, "score"), Value::F64(score)));
    }
    if let Some(metadata) = obj.get("metadata").and_then(json_or_string) {
        push_str(out, cat(base, "metadata"), metadata);
    }
}

// ---------------------------------------------------------------------------------------------
// Tools, embeddings, tags, prompts and choices
// ---------------------------------------------------------------------------------------------

/// Flattens tool definitions: each object becomes `tool.json_schema` (serialized). A string
/// item is kept if it already holds a JSON object.
fn flatten_tools(prefix: &str, json: &Json, out: &mut Vec<KeyValue>) -> bool {
    let Json::Array(items) = json else {
        return false;
    };
    if items.is_empty() {
        return true;
    }
    let mut index = 0usize;
    for item in items {
        if index >= MAX_LIST_ITEMS {
            break;
        }
        let schema = match item {
            Json::Object(_) => to_json_string(item),
            Json::String(s) => serde_json::from_str::<Json>(s)
                .ok()
                .filter(Json::is_object)
                .map(|_| s.clone()),
            _ => None,
        };
        if let Some(schema) = schema {
            push_str(out, indexed(prefix, index, ".tool.json_schema"), schema);
            index += 1;
        }
    }
    index > 0
}

/// A vector from a JSON array whose items are all numbers; `None` if any item is not a
/// number (or not finite), or the array is empty.
fn vector_of(value: &Json) -> Option<Vec<f64>> {
    let items = value.as_array()?;
    if items.is_empty() {
        return None;
    }
    items.iter().map(finite_number).collect()
}

/// A finite f64 from a JSON number only (strings are not vector components).
fn finite_number(value: &Json) -> Option<f64> {
    value.as_f64().filter(|f| f.is_finite())
}

/// Flattens embeddings: `{text, vector|embedding}` objects, vectors (arrays of numbers) or
/// texts (strings). A single object, or a single flat vector, counts as one embedding.
fn flatten_embeddings(prefix: &str, json: &Json, out: &mut Vec<KeyValue>) -> bool {
    let items: &[Json] = match json {
        Json::Array(items) if items.is_empty() => return true,
        Json::Array(items) if items.iter().all(Json::is_number) => std::slice::from_ref(json),
        Json::Array(items) => items.as_slice(),
        Json::Object(_) => std::slice::from_ref(json),
        _ => return false,
    };
    let mut index = 0usize;
    for item in items {
        if index >= MAX_LIST_ITEMS {
            break;
        }
        let (text, vector) = match item {
            Json::String(s) => (Some(s.clone()), None),
            Json::Array(_) => (None, vector_of(item)),
            Json::Object(obj) => (
                str_field(obj, &["text"]).map(str::to_owned),
                non_null_field(obj, &["vector", "embedding"]).and_then(vector_of),
            ),
            _ => (None, None),
        };
        if text.is_none() && vector.is_none() {
            continue;
        }
        let base = indexed(prefix, index, ".embedding.");
        if let Some(text) = text {
            push_str(out, cat(&base, "text"), text);
        }
        if let Some(vector) = vector {
            out.push(KeyValue::new(
                cat(&base, "vector"),
                Value::Array(Array::F64(vector)),
            ));
        }
        index += 1;
    }
    index > 0
}

/// Flattens tags into one string-array attribute. Strings are kept, numbers and booleans
/// stringified, objects and arrays serialized, nulls dropped. A bare string is one tag.
fn flatten_tags(key: &str, json: &Json, out: &mut Vec<KeyValue>) -> bool {
    let items: &[Json] = match json {
        Json::Array(items) if items.is_empty() => return true,
        Json::Array(items) => items.as_slice(),
        Json::String(_) => std::slice::from_ref(json),
        _ => return false,
    };
    let tags: Vec<StringValue> = items
        .iter()
        .filter_map(json_or_string)
        .take(MAX_LIST_ITEMS)
        .map(StringValue::from)
        .collect();
    if tags.is_empty() {
        return false;
    }
    out.push(KeyValue::new(
        key.to_owned(),
        Value::Array(Array::String(tags)),
    ));
    true
}

/// Flattens `llm.prompts` / `llm.choices`: strings or `{text}` objects, each under
/// `<prefix>.<i>.<suffix>`. A bare string is one item.
fn flatten_texts(prefix: &str, suffix: &str, json: &Json, out: &mut Vec<KeyValue>) -> bool {
    let items: &[Json] = match json {
        Json::Array(items) if items.is_empty() => return true,
        Json::Array(items) => items.as_slice(),
        Json::String(_) => std::slice::from_ref(json),
        _ => return false,
    };
    let mut index = 0usize;
    for item in items {
        if index >= MAX_LIST_ITEMS {
            break;
        }
        let text = match item {
            Json::String(s) => Some(s.as_str()),
            Json::Object(obj) => str_field(obj, &["text", "prompt"]),
            _ => None,
        };
        if let Some(text) = text {
            push_str(
                out,
                indexed(prefix, index, &cat(".", suffix)),
                text.to_owned(),
            );
            index += 1;
        }
    }
    index > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use std::collections::HashMap;

    /// The text path gives what the parsed path gives, for plain message lists (read without
    /// a JSON tree) and for anything else.
    #[test]
    fn text_and_parsed_paths_agree() {
        let texts = [
            r#"[{"role":"user","content":"hi"},{"content":"yo \" \u00e9 \n","role":"assistant"}]"#,
            r#"[]"#,
            r#"[{"role":"user","content":""}]"#,
            r#"[{"role":"user","content":"a","role":"system"}]"#,
            r#"[{"role":"user","content":null}]"#,
            r#"[{"role":"user","content":"x","name":"bob"}]"#,
            r#"{"role":"user","content":"one object"}"#,
            r#"[{"role":"tool","content":[{"type":"text","text":"t"}]}]"#,
            r#"[1, {"role":"user","content":"after a number"}]"#,
            r#"not json"#,
        ];
        for text in texts {
            for key in [
                "llm.input_messages",
                "gen_ai.output.messages",
                "retrieval.documents",
            ] {
                let mut fast = Vec::new();
                let fast_ok = flatten_semantic_text(key, text, &mut fast);
                let mut slow = Vec::new();
                let slow_ok = serde_json::from_str::<Json>(text)
                    .is_ok_and(|json| flatten_semantic(key, &json, &mut slow));
                assert_eq!(fast_ok, slow_ok, "{key} {text}");
                if slow_ok {
                    assert_eq!(fast, slow, "{key} {text}");
                }
            }
        }
        let many: Vec<_> = (0..MAX_LIST_ITEMS + 5)
            .map(|i| json!({"role": "user", "content": i.to_string()}))
            .collect();
        let text = serde_json::to_string(&many).unwrap();
        let mut fast = Vec::new();
        assert!(flatten_semantic_text(
            "llm.input_messages",
            &text,
            &mut fast
        ));
        let mut slow = Vec::new();
        assert!(flatten_semantic(
            "llm.input_messages",
            &json!(many),
            &mut slow
        ));
        assert_eq!(fast, slow);
    }

    proptest! {
        /// Any list of role/content messages, whatever their text, flattens the same way.
        #[test]
        fn plain_messages_flatten_as_parsed(
            messages in prop::collection::vec((".{0,12}", ".{0,40}"), 0..6),
        ) {
            let json = Json::Array(
                messages
                    .iter()
                    .map(|(role, content)| json!({"role": role, "content": content}))
                    .collect(),
            );
            let text = serde_json::to_string(&json).unwrap();
            let mut fast = Vec::new();
            prop_assert!(flatten_semantic_text("llm.input_messages", &text, &mut fast));
            let mut slow = Vec::new();
            prop_assert!(flatten_semantic("llm.input_messages", &json, &mut slow));
            prop_assert_eq!(fast, slow);
        }
    }

    /// Flattens and returns (accepted, attributes by key).
    fn run(key: &str, json: &Json) -> (bool, HashMap<String, Value>) {
        let mut out = Vec::new();
        let ok = flatten_semantic(key, json, &mut out);
        let len = out.len();
        let map: HashMap<String, Value> = out
            .into_iter()
            .map(|kv| (kv.key.as_str().to_owned(), kv.value))
            .collect();
        assert_eq!(map.len(), len, "duplicate keys emitted");
        (ok, map)
    }

    /// A string attribute value.
    fn s(v: &str) -> Value {
        Value::String(StringValue::from(v.to_owned()))
    }

    #[test]
    fn key_recognition() {
        for key in [
            "llm.input_messages",
            "llm.output_messages",
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "retrieval.documents",
            "gen_ai.retrieval.documents",
            "reranker.input_documents",
            "reranker.output_documents",
            "llm.tools",
            "gen_ai.tool.definitions",
            "embedding.embeddings",
            "tag.tags",
            "llm.prompts",
            "llm.choices",
        ] {
            assert!(is_flattened_key(key), "{key}");
        }
        for key in [
            "llm.function_call",
            "llm.invocation_parameters",
            "embedding.invocation_parameters",
            "metadata",
            "tool.parameters",
            "llm.prompt_template.variables",
            "input.value",
            "",
        ] {
            assert!(!is_flattened_key(key), "{key}");
            let mut out = Vec::new();
            assert!(!flatten_semantic(key, &json!([{"a": 1}]), &mut out));
            assert!(out.is_empty());
        }
    }

    #[test]
    fn openai_message_with_tool_calls() {
        let v = json!([
            {"role": "system", "content": "be brief"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function",
                 "function": {"name": "time", "arguments": {"tz": "UTC"}}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "name": "weather", "content": "22C"}
        ]);
        let (ok, m) = run("llm.input_messages", &v);
        assert!(ok);
        let p = "llm.input_messages";
        assert_eq!(m[&format!("{p}.0.message.role")], s("system"));
        assert_eq!(m[&format!("{p}.0.message.content")], s("be brief"));
        assert_eq!(m[&format!("{p}.1.message.role")], s("assistant"));
        assert!(!m.contains_key(&format!("{p}.1.message.content")));
        let tc = format!("{p}.1.message.tool_calls");
        assert_eq!(m[&format!("{tc}.0.tool_call.id")], s("call_1"));
        assert_eq!(m[&format!("{tc}.0.tool_call.function.name")], s("weather"));
        assert_eq!(
            m[&format!("{tc}.0.tool_call.function.arguments")],
            s("{\"city\":\"Paris\"}")
        );
        assert_eq!(
            m[&format!("{tc}.1.tool_call.function.arguments")],
            s("{\"tz\":\"UTC\"}")
        );
        assert_eq!(m[&format!("{p}.2.message.tool_call_id")], s("call_1"));
        assert_eq!(m[&format!("{p}.2.message.name")], s("weather"));
        assert_eq!(m[&format!("{p}.2.message.content")], s("22C"));
        assert_eq!(m.len(), 13);
    }

    #[test]
    fn multipart_content_with_image_and_audio() {
        let v = json!([{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
            {"type": "image_url", "image_url": "data:image/png;base64,AAA"},
            {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "QQ"}},
            42,
            {"type": "unknown_thing"},
            "plain"
        ]}]);
        let (ok, m) = run("gen_ai.input.messages", &v);
        assert!(ok);
        let c = "llm.input_messages.0.message.contents";
        assert_eq!(m[&format!("{c}.0.message_content.type")], s("text"));
        assert_eq!(
            m[&format!("{c}.0.message_content.text")],
            s("what is this?")
        );
        assert_eq!(m[&format!("{c}.1.message_content.type")], s("image"));
        assert_eq!(
            m[&format!("{c}.1.message_content.image.image.url")],
            s("https://x/y.png")
        );
        assert_eq!(
            m[&format!("{c}.2.message_content.image.image.url")],
            s("data:image/png;base64,AAA")
        );
        assert_eq!(m[&format!("{c}.3.message_content.type")], s("audio"));
        assert_eq!(
            m[&format!("{c}.3.message_content.audio.audio.url")],
            s("data:audio/wav;base64,UklG")
        );
        assert_eq!(
            m[&format!("{c}.4.message_content.image.image.url")],
            s("data:image/jpeg;base64,QQ")
        );
        assert_eq!(m[&format!("{c}.5.message_content.text")], s("plain"));
        assert!(!m.contains_key(&format!("{c}.6.message_content.type")));
        assert!(!m.contains_key("llm.input_messages.0.message.content"));
    }

    #[test]
    fn all_text_parts_use_contents_only() {
        let v = json!({"role": "user", "content": [
            {"type": "text", "text": "a"}, {"type": "text", "text": "b"}
        ]});
        let (ok, m) = run("llm.input_messages", &v);
        assert!(ok);
        assert!(!m.contains_key("llm.input_messages.0.message.content"));
        assert_eq!(
            m["llm.input_messages.0.message.contents.1.message_content.text"],
            s("b")
        );
    }

    #[test]
    fn anthropic_tool_use_thinking_and_tool_result() {
        let v = json!([
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "checking"},
                {"type": "tool_use", "id": "tu_1", "name": "weather", "input": {"city": "Oslo"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "tu_1",
                 "content": [{"type": "text", "text": "cold"}]},
                {"type": "tool_result", "tool_use_id": "tu_2", "content": "warm"}
            ]}
        ]);
        let (ok, m) = run("llm.output_messages", &v);
        assert!(ok);
        let c = "llm.output_messages.0.message.contents";
        assert_eq!(m[&format!("{c}.0.message_content.type")], s("reasoning"));
        assert_eq!(m[&format!("{c}.0.message_content.text")], s("hmm"));
        assert_eq!(m[&format!("{c}.0.message_content.signature")], s("sig"));
        assert_eq!(m[&format!("{c}.1.message_content.data")], s("opaque"));
        assert_eq!(m[&format!("{c}.3.message_content.type")], s("tool_use"));
        assert_eq!(m[&format!("{c}.3.tool_call.id")], s("tu_1"));
        assert_eq!(
            m[&format!("{c}.3.tool_call.function.arguments")],
            s("{\"city\":\"Oslo\"}")
        );
        let tc = "llm.output_messages.0.message.tool_calls.0.tool_call";
        assert_eq!(m[&format!("{tc}.function.name")], s("weather"));
        // The two tool results: the first fills message 1, the second follows as message 2.
        assert_eq!(m["llm.output_messages.1.message.role"], s("user"));
        assert_eq!(m["llm.output_messages.1.message.tool_call_id"], s("tu_1"));
        assert_eq!(m["llm.output_messages.1.message.content"], s("cold"));
        assert_eq!(m["llm.output_messages.2.message.role"], s("user"));
        assert_eq!(m["llm.output_messages.2.message.tool_call_id"], s("tu_2"));
        assert_eq!(m["llm.output_messages.2.message.content"], s("warm"));
        assert!(!m.contains_key("llm.output_messages.3.message.role"));
    }

    #[test]
    fn genai_parts_format() {
        let v = json!([
            {"role": "user", "parts": [{"type": "text", "content": "weather in Paris?"}]},
            {"role": "assistant", "parts": [
                {"type": "reasoning", "content": "need a tool"},
                {"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Paris"}}
            ]},
            {"role": "tool", "parts": [
                {"type": "tool_call_response", "id": "c1", "response": {"temp": 22}}
            ]},
            {"role": "user", "parts": [
                {"type": "uri", "modality": "image", "uri": "https://img"},
                {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "AA=="},
                {"type": "uri", "modality": "video", "uri": "https://vid"}
            ]}
        ]);
        let (ok, m) = run("gen_ai.input.messages", &v);
        assert!(ok);
        let p = "llm.input_messages";
        assert_eq!(
            m[&format!("{p}.0.message.contents.0.message_content.text")],
            s("weather in Paris?")
        );
        assert_eq!(
            m[&format!("{p}.1.message.contents.0.message_content.type")],
            s("reasoning")
        );
        assert_eq!(
            m[&format!("{p}.1.message.tool_calls.0.tool_call.function.arguments")],
            s("{\"city\":\"Paris\"}")
        );
        assert_eq!(m[&format!("{p}.2.message.tool_call_id")], s("c1"));
        assert_eq!(m[&format!("{p}.2.message.content")], s("{\"temp\":22}"));
        assert_eq!(
            m[&format!("{p}.3.message.contents.0.message_content.image.image.url")],
            s("https://img")
        );
        assert_eq!(
            m[&format!("{p}.3.message.contents.1.message_content.image.image.url")],
            s("data:image/png;base64,AA==")
        );
        assert_eq!(
            m[&format!("{p}.3.message.contents.2.message_content.video.video.url")],
            s("https://vid")
        );
        // Output messages carry finish_reason, which is accepted and not emitted.
        let out = json!([{"role": "assistant", "finish_reason": "stop",
                          "parts": [{"type": "text", "content": "hi"}]}]);
        let (ok, m) = run("gen_ai.output.messages", &out);
        assert!(ok);
        assert_eq!(m["llm.output_messages.0.message.role"], s("assistant"));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn message_odd_content_and_skips() {
        let v = json!([
            7,
            {"role": "user", "content": {"k": [1, 2]}},
            null,
            {"unrelated": true},
            {"role": "user", "content": 3.5},
            {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}}
        ]);
        let (ok, m) = run("llm.input_messages", &v);
        assert!(ok);
        assert_eq!(
            m["llm.input_messages.0.message.content"],
            s("{\"k\":[1,2]}")
        );
        assert_eq!(m["llm.input_messages.1.message.content"], s("3.5"));
        assert_eq!(m["llm.input_messages.2.message.function_call_name"], s("f"));
        assert_eq!(
            m["llm.input_messages.2.message.function_call_arguments_json"],
            s("{}")
        );
        assert_eq!(m.len(), 7);
    }

    #[test]
    fn deep_nesting_is_serialized() {
        let mut text = String::new();
        for _ in 0..120 {
            text.push_str("{\"a\":");
        }
        text.push('1');
        for _ in 0..120 {
            text.push('}');
        }
        let nested: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
        assert!(nested.is_object());
        let v = json!([{"role": "user", "content": nested.clone(),
                        "tool_calls": [{"id": "x", "function": {"name": "f", "arguments": nested}}]}]);
        let (ok, m) = run("llm.input_messages", &v);
        assert!(ok);
        assert_eq!(m["llm.input_messages.0.message.content"], s(&text));
    }

    #[test]
    fn lists_are_capped_and_contiguous() {
        let mut messages = Vec::new();
        for i in 0..(MAX_LIST_ITEMS + 500) {
            if i % 3 == 0 {
                messages.push(json!("not a message"));
            }
            messages.push(json!({"role": "user", "content": format!("m{i}")}));
        }
        let (ok, m) = run("llm.input_messages", &Json::Array(messages));
        assert!(ok);
        assert_eq!(m.len(), 2 * MAX_LIST_ITEMS);
        for i in 0..MAX_LIST_ITEMS {
            assert_eq!(
                m[&format!("llm.input_messages.{i}.message.content")],
                s(&format!("m{i}"))
            );
        }
        let parts: Vec<Json> = (0..(MAX_LIST_ITEMS + 5))
            .map(|i| json!({"type": "text", "text": i.to_string()}))
            .collect();
        let calls: Vec<Json> = (0..(MAX_LIST_ITEMS + 5))
            .map(|i| json!({"id": i.to_string()}))
            .collect();
        let v = json!({"role": "user", "content": parts, "tool_calls": calls});
        let (ok, m) = run("llm.input_messages", &v);
        assert!(ok);
        assert_eq!(m.len(), 1 + 2 * MAX_LIST_ITEMS + MAX_LIST_ITEMS);
        let tags: Vec<Json> = (0..5000).map(Json::from).collect();
        let (ok, m) = run("tag.tags", &Json::Array(tags));
        assert!(ok);
        match &m["tag.tags"] {
            Value::Array(Array::String(v)) => assert_eq!(v.len(), MAX_LIST_ITEMS),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn documents() {
        let v = json!([
            {"id": 7, "content": "alpha", "score": 1, "metadata": {"source": "wiki"}},
            {"id": "doc-2", "page_content": "beta", "score": 0.25},
            "gamma",
            true,
            {"id": 1.5, "text": "delta", "score": "0.5", "metadata": "{\"a\":1}"},
            {"id": 18446744073709551615u64, "relevance_score": 2}
        ]);
        let (ok, m) = run("retrieval.documents", &v);
        assert!(ok);
        let p = "retrieval.documents";
        assert_eq!(m[&format!("{p}.0.document.id")], Value::I64(7));
        assert_eq!(m[&format!("{p}.0.document.score")], Value::F64(1.0));
        assert_eq!(m[&format!("{p}.0.document.content")], s("alpha"));
        assert_eq!(
            m[&format!("{p}.0.document.metadata")],
            s("{\"source\":\"wiki\"}")
        );
        assert_eq!(m[&format!("{p}.1.document.id")], s("doc-2"));
        assert_eq!(m[&format!("{p}.1.document.content")], s("beta"));
        assert_eq!(m[&format!("{p}.1.document.score")], Value::F64(0.25));
        assert_eq!(m[&format!("{p}.2.document.content")], s("gamma"));
        assert_eq!(m[&format!("{p}.3.document.id")], s("1.5"));
        assert_eq!(m[&format!("{p}.3.document.score")], Value::F64(0.5));
        assert_eq!(m[&format!("{p}.3.document.metadata")], s("{\"a\":1}"));
        assert_eq!(m[&format!("{p}.4.document.id")], s("18446744073709551615"));
        assert_eq!(m[&format!("{p}.4.document.score")], Value::F64(2.0));
        let (ok, m) = run(
            "gen_ai.retrieval.documents",
            &json!([{"id": "a", "score": 3}]),
        );
        assert!(ok);
        assert_eq!(m["retrieval.documents.0.document.score"], Value::F64(3.0));
        let (ok, m) = run("reranker.output_documents", &json!({"id": 1}));
        assert!(ok);
        assert_eq!(m["reranker.output_documents.0.document.id"], Value::I64(1));
    }

    #[test]
    fn tools() {
        let v = json!([
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}},
            "{\"name\":\"g\"}",
            "not json",
            5
        ]);
        let (ok, m) = run("gen_ai.tool.definitions", &v);
        assert!(ok);
        assert_eq!(
            m["llm.tools.0.tool.json_schema"],
            s("{\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}},\"type\":\"function\"}")
        );
        assert_eq!(m["llm.tools.1.tool.json_schema"], s("{\"name\":\"g\"}"));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn embeddings() {
        let v = json!([
            {"text": "hello", "vector": [1, 2.5, -3]},
            {"object": "embedding", "embedding": [0.5]},
            [4, 5],
            "just text",
            [1, "x"],
            {}
        ]);
        let (ok, m) = run("embedding.embeddings", &v);
        assert!(ok);
        let p = "embedding.embeddings";
        assert_eq!(m[&format!("{p}.0.embedding.text")], s("hello"));
        assert_eq!(
            m[&format!("{p}.0.embedding.vector")],
            Value::Array(Array::F64(vec![1.0, 2.5, -3.0]))
        );
        assert_eq!(
            m[&format!("{p}.1.embedding.vector")],
            Value::Array(Array::F64(vec![0.5]))
        );
        assert_eq!(
            m[&format!("{p}.2.embedding.vector")],
            Value::Array(Array::F64(vec![4.0, 5.0]))
        );
        assert_eq!(m[&format!("{p}.3.embedding.text")], s("just text"));
        assert_eq!(m.len(), 5);
        let (ok, m) = run("embedding.embeddings", &json!([0.1, 2]));
        assert!(ok);
        assert_eq!(
            m[&format!("{p}.0.embedding.vector")],
            Value::Array(Array::F64(vec![0.1, 2.0]))
        );
    }

    #[test]
    fn tags_prompts_choices() {
        let (ok, m) = run("tag.tags", &json!(["a", 1, true, null, {"x": 1}]));
        assert!(ok);
        assert_eq!(
            m["tag.tags"],
            Value::Array(Array::String(vec![
                StringValue::from("a"),
                StringValue::from("1"),
                StringValue::from("true"),
                StringValue::from("{\"x\":1}"),
            ]))
        );
        let (ok, m) = run("llm.prompts", &json!(["p0", 3, "p1"]));
        assert!(ok);
        assert_eq!(m["llm.prompts.0.prompt.text"], s("p0"));
        assert_eq!(m["llm.prompts.1.prompt.text"], s("p1"));
        let (ok, m) = run("llm.choices", &json!([{"text": "c0", "index": 0}, "c1"]));
        assert!(ok);
        assert_eq!(m["llm.choices.0.completion.text"], s("c0"));
        assert_eq!(m["llm.choices.1.completion.text"], s("c1"));
    }

    #[test]
    fn wrong_shapes_return_false_and_push_nothing() {
        let cases = [
            ("llm.input_messages", json!(42)),
            ("llm.input_messages", json!("hello")),
            ("llm.input_messages", json!([1, "x", null, []])),
            ("llm.input_messages", json!({"foo": "bar"})),
            ("llm.output_messages", json!([{"content": [7, null]}])),
            ("retrieval.documents", json!(3)),
            ("retrieval.documents", json!([1, null, {"other": 1}])),
            ("llm.tools", json!({"type": "function"})),
            ("llm.tools", json!([1, 2])),
            ("embedding.embeddings", json!("text")),
            ("embedding.embeddings", json!([[], ["a"], {"vector": "x"}])),
            ("tag.tags", json!({"a": 1})),
            ("tag.tags", json!([null])),
            ("llm.prompts", json!(1)),
            ("llm.choices", json!([{"no": "text"}])),
        ];
        for (key, v) in cases {
            let mut out = vec![KeyValue::new("keep", 1)];
            assert!(!flatten_semantic(key, &v, &mut out), "{key} {v}");
            assert_eq!(out.len(), 1, "{key} {v}");
        }
        // An empty list is accepted and pushes nothing.
        let mut out = Vec::new();
        assert!(flatten_semantic("llm.input_messages", &json!([]), &mut out));
        assert!(out.is_empty());
    }

    /// Object keys the flattener looks at, so generated objects often hit real paths.
    const FIELD_NAMES: &[&str] = &[
        "role",
        "content",
        "parts",
        "type",
        "text",
        "tool_calls",
        "function",
        "arguments",
        "args",
        "input",
        "id",
        "name",
        "image_url",
        "url",
        "input_audio",
        "audio_url",
        "data",
        "format",
        "source",
        "media_type",
        "response",
        "tool_call_id",
        "tool_use_id",
        "thinking",
        "signature",
        "summary",
        "score",
        "relevance_score",
        "metadata",
        "page_content",
        "vector",
        "embedding",
        "modality",
        "uri",
        "mime_type",
        "function_call",
        "value",
        "output",
        "call_id",
        "finish_reason",
    ];

    /// String values that select branches of the flattener.
    const TYPE_NAMES: &[&str] = &[
        "text",
        "input_text",
        "refusal",
        "image_url",
        "input_image",
        "image",
        "input_audio",
        "audio",
        "uri",
        "blob",
        "thinking",
        "reasoning",
        "redacted_thinking",
        "tool_use",
        "tool_call",
        "function_call",
        "tool_call_response",
        "tool_result",
        "base64",
        "url",
        "user",
        "mp3",
        "image/png",
    ];

    /// Arbitrary JSON, biased towards the field names and type values the flattener reads.
    fn arb_json() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(Json::from),
            any::<u64>().prop_map(Json::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
                .map(Json::Number)
                .unwrap_or(Json::Null)),
            prop::sample::select(TYPE_NAMES).prop_map(Json::from),
            ".{0,8}".prop_map(Json::String),
        ];
        leaf.prop_recursive(6, 96, 8, |inner| {
            let key = prop_oneof![
                3 => prop::sample::select(FIELD_NAMES).prop_map(str::to_owned),
                1 => "[a-z_]{0,6}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Json::Array),
                prop::collection::vec((key, inner), 0..8)
                    .prop_map(|kv| Json::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// Every key flatten_semantic accepts.
    const ALL_KEYS: &[&str] = &[
        "llm.input_messages",
        "llm.output_messages",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "retrieval.documents",
        "gen_ai.retrieval.documents",
        "reranker.input_documents",
        "reranker.output_documents",
        "llm.tools",
        "gen_ai.tool.definitions",
        "embedding.embeddings",
        "tag.tags",
        "llm.prompts",
        "llm.choices",
        "metadata",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn never_panics_on_any_json(v in arb_json()) {
            for key in ALL_KEYS {
                let mut out = vec![KeyValue::new("sentinel", true)];
                let ok = flatten_semantic(key, &v, &mut out);
                if !ok {
                    prop_assert_eq!(out.len(), 1);
                }
                let prefix = canonical(key).map(|(p, _)| p).unwrap_or("");
                let mut seen = std::collections::HashSet::new();
                for kv in &out[1..] {
                    prop_assert!(kv.key.as_str().starts_with(prefix));
                    prop_assert!(seen.insert(kv.key.as_str().to_owned()));
                    if let Value::F64(f) = kv.value {
                        prop_assert!(f.is_finite());
                    }
                }
            }
            // Wrapping the value in a list or a message must not panic either.
            let wrapped = json!([{"role": "user", "content": [v.clone()], "parts": [v.clone()],
                                  "tool_calls": [v.clone()]}, v]);
            let mut out = Vec::new();
            prop_assert!(flatten_semantic("llm.input_messages", &wrapped, &mut out));
        }
    }
}

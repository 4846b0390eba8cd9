//! A span's `input.value` and `output.value`, derived where the user gave none.
//!
//! Input, first that applies: an explicit `input.value`; the chat request (a span with input
//! messages, see [`super::chat_json`]); an EMBEDDING span's texts; a TOOL span's arguments as
//! a JSON object (whatever their number); the bare arguments `#[instrument]` records (one as
//! text, several as a JSON object). Output: an explicit `output.value` (or the `ret` value);
//! the reply messages as a JSON list; a RETRIEVER's or RERANKER's documents.

use super::chat_json::{self, ChatMask};
use super::documents;
use crate::kind::SpanKind;
use crate::privacy::{Privacy, REDACTED};
use opentelemetry::{KeyValue, Value};

/// What [`derive`] added.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Derived {
    /// `input.value` is the arguments' JSON object (built from names checked for secrets).
    pub(crate) args_json: bool,
    /// `input.value` is a placeholder for the chat request, built by [`build_chat`].
    pub(crate) chat_input: bool,
    /// `output.value` is a placeholder for the chat reply, built by [`build_chat`].
    pub(crate) chat_output: bool,
    /// The span has an `output.value` (given, derived or a placeholder).
    pub(crate) has_output: bool,
}

/// Adds `input.value` / `output.value` (and their mime types) to `out`, consuming the bare
/// arguments `args` (already redacted as the privacy settings ask). An LLM span's chat JSON
/// is only a placeholder here: it is built from the attributes once the privacy stage has
/// cleaned them ([`build_chat`]).
pub(crate) fn derive(
    out: &mut Vec<KeyValue>,
    mut args: Vec<KeyValue>,
    kind: SpanKind,
    p: &Privacy,
) -> Derived {
    let seen = Seen::of(out);
    let mut derived = Derived::default();
    if seen.input.is_some() {
        out.append(&mut args);
    } else if let Some((value, mime)) = kind_input(out, kind, p, seen.input_messages, &mut derived)
    {
        out.push(KeyValue::new("input.value", value));
        out.push(KeyValue::new("input.mime_type", mime));
        out.append(&mut args);
    } else if let Some(input) = input_from_args(&args, kind == SpanKind::Tool) {
        derived.args_json = input.1 == "application/json";
        out.push(KeyValue::new("input.value", input.0));
        out.push(KeyValue::new("input.mime_type", input.1));
    }
    derived.has_output = seen.output.is_some();
    if seen.output.is_none() {
        if let Some(output) = kind_output(out, kind, p, seen.output_messages, &mut derived) {
            out.push(KeyValue::new("output.value", output));
            out.push(KeyValue::new("output.mime_type", "application/json"));
            derived.has_output = true;
        }
    }
    // A value the user gave without its mime type.
    for (at, has_mime, mime_key) in [
        (seen.output, seen.output_mime, "output.mime_type"),
        (seen.input, seen.input_mime, "input.mime_type"),
    ] {
        if let (Some(at), false) = (at, has_mime) {
            let mime = mime_of(&out[at].value);
            out.push(KeyValue::new(mime_key, mime));
        }
    }
    derived
}

/// Where the keys [`derive`] reads are among a span's attributes, found in one pass (a
/// lookup per key would read them all six times).
#[derive(Default)]
struct Seen {
    input: Option<usize>,
    output: Option<usize>,
    input_mime: bool,
    output_mime: bool,
    input_messages: bool,
    output_messages: bool,
}

impl Seen {
    fn of(attrs: &[KeyValue]) -> Seen {
        let mut seen = Seen::default();
        for (i, kv) in attrs.iter().enumerate() {
            let key = kv.key.as_str();
            match key {
                "input.value" => seen.input = seen.input.or(Some(i)),
                "output.value" => seen.output = seen.output.or(Some(i)),
                "input.mime_type" => seen.input_mime = true,
                "output.mime_type" => seen.output_mime = true,
                _ => {
                    seen.input_messages |= chat_json::is_under(key, chat_json::INPUT);
                    seen.output_messages |= chat_json::is_under(key, chat_json::OUTPUT);
                }
            }
        }
        seen
    }
}

/// Writes the chat request and reply into their placeholders (`waiting`: where
/// [`crate::privacy::Privacy::clean`] left the `input.value` and `output.value` that still
/// wait for their value) from the attributes as the privacy stage cleaned them, with what the
/// hide flags leave of them and within the value length cap.
pub(crate) fn build_chat(out: &mut [KeyValue], waiting: [Option<usize>; 2], p: &Privacy) {
    for (slot, at) in waiting.into_iter().enumerate() {
        let Some(at) = at else {
            continue;
        };
        let built = if slot == 0 {
            let mask = ChatMask {
                redact_text: p.hide_input_text,
                drop_images: p.hide_input_images,
                drop_tools: p.hide_llm_tools,
                drop_params: p.hide_llm_invocation_parameters,
                drop_prompt_params: p.hide_input_text || p.hide_input_images || p.hide_prompts,
                max_text: 0,
            };
            within_cap(p, mask, |mask| chat_json::request(out, mask))
                .unwrap_or_else(|| r#"{"messages":[]}"#.to_owned())
        } else {
            let mask = ChatMask {
                redact_text: p.hide_output_text,
                ..ChatMask::default()
            };
            within_cap(p, mask, |mask| chat_json::reply(out, mask)).unwrap_or_else(|| "[]".into())
        };
        if let Some(kv) = out.get_mut(at) {
            kv.value = Value::from(p.clean_built(built));
        }
    }
}

/// The input an LLM (chat request: a placeholder) or EMBEDDING (texts) span shows, and its
/// mime type.
fn kind_input(
    attrs: &[KeyValue],
    kind: SpanKind,
    p: &Privacy,
    has_messages: bool,
    derived: &mut Derived,
) -> Option<(Value, &'static str)> {
    if has_messages {
        if p.hide_input_messages && !p.hides_inputs() {
            return None;
        }
        if p.hides_inputs() {
            // Redacted by the privacy stage anyway: not built.
            return Some((Value::from(REDACTED), "application/json"));
        }
        derived.chat_input = true;
        return Some((Value::from(""), "application/json"));
    }
    if kind == SpanKind::Embedding && !p.hide_embeddings_text && !p.hide_all {
        return documents::embedding_input(attrs);
    }
    None
}

/// The output an LLM (reply messages: a placeholder) or RETRIEVER / RERANKER (documents) span shows.
fn kind_output(
    attrs: &[KeyValue],
    kind: SpanKind,
    p: &Privacy,
    has_messages: bool,
    derived: &mut Derived,
) -> Option<String> {
    if has_messages {
        let hides_outputs = p.hide_outputs || p.hide_all;
        if p.hide_output_messages && !hides_outputs {
            return None;
        }
        if hides_outputs {
            return Some(REDACTED.to_owned());
        }
        derived.chat_output = true;
        return Some(String::new());
    }
    let prefix = match kind {
        SpanKind::Retriever => "retrieval.documents",
        SpanKind::Reranker => "reranker.output_documents",
        _ => return None,
    };
    within_cap(p, ChatMask::default(), |mask| {
        documents::documents_json(attrs, prefix, mask.max_text)
    })
}

/// The JSON `build` makes, its texts cut shorter until it fits the value length cap (a cut
/// JSON text would no longer parse): halving the longest text allowed, a few times at most.
fn within_cap(
    p: &Privacy,
    mut mask: ChatMask,
    build: impl Fn(ChatMask) -> Option<String>,
) -> Option<String> {
    let json = build(mask)?;
    let cap = p.max_value_len;
    if cap == 0 || json.len() <= cap {
        return Some(json);
    }
    let mut best = json;
    mask.max_text = cap / 2;
    for _ in 0..MAX_REBUILDS {
        best = build(mask)?;
        if best.len() <= cap || mask.max_text < 64 {
            break;
        }
        mask.max_text /= 2;
    }
    Some(best)
}

/// How many times [`within_cap`] rebuilds a JSON value at most.
const MAX_REBUILDS: usize = 12;

/// `input.value` and its mime type from the bare arguments: one argument as text (unless
/// `object`), several as a JSON object with the keys in order (written straight into the
/// text, without a JSON tree).
pub(crate) fn input_from_args(args: &[KeyValue], object: bool) -> Option<(String, &'static str)> {
    match args {
        [] => None,
        [one] if !object => Some(match &one.value {
            Value::String(s) => (s.as_str().to_owned(), "text/plain"),
            other => (other.to_string(), "text/plain"),
        }),
        many => {
            let mut sorted: Vec<&KeyValue> = many.iter().collect();
            sorted.sort_unstable_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
            let mut json = Vec::with_capacity(
                many.iter()
                    .map(|kv| kv.key.as_str().len() + json_len_hint(&kv.value) + 4)
                    .sum::<usize>()
                    + 2,
            );
            json.push(b'{');
            for (i, kv) in sorted.into_iter().enumerate() {
                if i > 0 {
                    json.push(b',');
                }
                write_json(&mut json, kv.key.as_str());
                json.push(b':');
                match &kv.value {
                    Value::Bool(b) => write_json(&mut json, b),
                    Value::I64(n) => write_json(&mut json, n),
                    // Not finite: `null`, as serde_json writes it.
                    Value::F64(f) => write_json(&mut json, f),
                    Value::String(s) => write_json(&mut json, s.as_str()),
                    other => write_json(&mut json, &other.to_string()),
                }
            }
            json.push(b'}');
            // serde_json writes UTF-8 only.
            let json = String::from_utf8(json).ok()?;
            Some((json, "application/json"))
        }
    }
}

/// Writes `value` as JSON (serde_json cannot fail writing these into memory). Its writer, not
/// [`super::json_text`]: for a plain span's handful of short names and numbers it costs
/// ≈ 430 instructions less per span (callgrind).
fn write_json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    let _ = serde_json::to_writer(out, value);
}

/// About how long an attribute value is as JSON, to size the text once.
fn json_len_hint(value: &Value) -> usize {
    match value {
        Value::String(s) => s.as_str().len() + 2,
        Value::Bool(_) => 5,
        _ => 20,
    }
}

/// `application/json` for a JSON object or array, else `text/plain`.
fn mime_of(value: &Value) -> &'static str {
    match value {
        Value::String(s) if looks_like_json(s.as_str()) => "application/json",
        _ => "text/plain",
    }
}

/// Whether `s` is a JSON object or array.
pub(crate) fn looks_like_json(s: &str) -> bool {
    let t = s.trim_start();
    (t.starts_with('{') || t.starts_with('['))
        && serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the arguments' JSON is: a JSON tree of them, written by serde_json.
    fn args_as_json_tree(args: &[KeyValue]) -> String {
        let mut map = serde_json::Map::new();
        for kv in args {
            let value = match &kv.value {
                Value::Bool(b) => serde_json::Value::Bool(*b),
                Value::I64(i) => serde_json::Value::from(*i),
                Value::F64(f) => serde_json::Number::from_f64(*f)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null),
                Value::String(s) => serde_json::Value::String(s.as_str().to_owned()),
                other => serde_json::Value::String(other.to_string()),
            };
            map.insert(kv.key.as_str().to_owned(), value);
        }
        serde_json::Value::Object(map).to_string()
    }

    fn arg_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-0.0)].prop_map(Value::from),
            ".*".prop_map(Value::from),
            r#"["\\\x00-\x1fé🦀]{0,8}"#.prop_map(Value::from),
            proptest::collection::vec(any::<i64>(), 0..4).prop_map(|v| Value::Array(v.into())),
        ]
    }

    proptest! {
        /// Several arguments (or one, for a tool) give the JSON object a JSON tree of them
        /// gives (keys sorted, strings escaped, non-finite floats null).
        #[test]
        fn arguments_are_the_json_object_of_their_values(
            values in proptest::collection::btree_map(r#"[a-z_"\\é]{1,6}"#, arg_value(), 1..8)
        ) {
            let args: Vec<KeyValue> =
                values.into_iter().rev().map(|(k, v)| KeyValue::new(k, v)).collect();
            let (json, mime) = input_from_args(&args, true).expect("input");
            prop_assert_eq!(mime, "application/json");
            prop_assert_eq!(&json, &args_as_json_tree(&args));
            if args.len() > 1 {
                prop_assert_eq!(input_from_args(&args, false).expect("input").0, json);
            }
        }
    }

    #[test]
    fn one_argument_is_text_except_on_a_tool() {
        let args = vec![KeyValue::new("city", "Paris")];
        assert_eq!(
            input_from_args(&args, false),
            Some(("Paris".to_owned(), "text/plain"))
        );
        assert_eq!(
            input_from_args(&args, true),
            Some((r#"{"city":"Paris"}"#.to_owned(), "application/json"))
        );
    }
}

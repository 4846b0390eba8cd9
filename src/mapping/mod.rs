//! From the bridge's raw span to the conventions, on the export thread.
//!
//! The bridge exports every field of a span verbatim. [`Mapper::map_span`] turns that into
//! what Phoenix and Langfuse read:
//!
//! - JSON fields (`llm.input_messages`, `retrieval.documents`, `llm.tools`, ...) are parsed and
//!   flattened (`llm.input_messages.0.message.role`); the raw string is not kept. JSON that does
//!   not parse, or has a shape the key does not accept, is kept as the string it was.
//! - Bare fields (no dot in the name: the arguments `#[instrument]` records) become
//!   `input.value`: one argument as text, several as a JSON object. They are not exported
//!   separately. An explicit `input.value` wins, and then the arguments stay as attributes.
//! - Dotted fields outside the conventions (`http.route`, ...) pass through unchanged.
//! - GenAI attributes are added next to the OpenInference ones ([`genai::enrich`]).
//! - An error becomes one `exception` event with `exception.type` and `exception.message`.
//! - Privacy masks and size limits apply last ([`crate::privacy`]).

pub(crate) mod flatten;
pub(crate) mod genai;

use crate::kind::SpanKind;
use crate::privacy::Privacy;
use opentelemetry::trace::{Event, Status};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use std::collections::HashSet;

/// Maps raw spans to the conventions.
#[derive(Debug, Default)]
pub(crate) struct Mapper {
    /// Masks and limits.
    pub(crate) privacy: Privacy,
    /// What the mapping of one span reuses from the last (only the export thread maps, so the
    /// lock is uncontended).
    scratch: parking_lot::Mutex<Scratch>,
}

/// What [`Mapper::map_span`] keeps between spans.
#[derive(Debug, Default)]
struct Scratch {
    /// What `privacy` does with each key seen.
    plans: crate::privacy::KeyPlans,
    /// The mapped attributes, gathered here and then moved into the span's own list (or one
    /// of their exact length): a list sized for the most a span could gain (its fields and 16
    /// more) is some 1.2 KB for a plain span, and a batch of 512 such lists grew and shrank
    /// the export thread's heap at every batch, each time faulting its pages in again.
    out: Vec<KeyValue>,
}

/// The most attributes [`Scratch::out`] keeps room for between spans.
const SCRATCH_KEEPS: usize = 1_024;

impl Mapper {
    /// A mapper applying `privacy`.
    pub(crate) fn new(privacy: Privacy) -> Mapper {
        Mapper {
            privacy,
            scratch: Default::default(),
        }
    }

    /// Maps one span in place, with `extra` added to its attributes (a root's sampling
    /// reason: added here, to the mapped attributes, it costs no growth of the span's own
    /// list, which the calling thread allocated); returns its estimated encoded size
    /// ([`crate::privacy::span_size`]).
    pub(crate) fn map_span(&self, span: &mut SpanData, extra: Option<KeyValue>) -> usize {
        let p = &self.privacy;
        let mut raw = dedupe_last_wins(std::mem::take(&mut span.attributes));
        let mut scratch = self.scratch.lock();
        let Scratch { plans, out } = &mut *scratch;
        out.clear();
        out.reserve(raw.len() + 16);
        out.extend(extra);
        let mut args: Vec<KeyValue> = Vec::new();
        let mut kind = SpanKind::Chain;
        for kv in raw.drain(..) {
            let key = kv.key.as_str();
            if key == "openinference.span.kind" {
                if let Value::String(s) = &kv.value {
                    kind = SpanKind::parse(s.as_str()).unwrap_or(SpanKind::Chain);
                }
                out.push(kv);
            } else if !key.contains('.') && key != "metadata" {
                args.push(kv);
            } else if flatten::is_flattened_key(key) {
                if let Value::String(s) = &kv.value {
                    if flatten::flatten_semantic_text(key, s.as_str(), out) {
                        continue;
                    }
                }
                out.push(kv);
            } else {
                out.push(kv);
            }
        }
        if !out
            .iter()
            .any(|kv| kv.key.as_str() == "openinference.span.kind")
        {
            out.push(KeyValue::new("openinference.span.kind", kind.as_str()));
        }

        if self.privacy.hides_inputs() {
            // The arguments are the input, whether folded into `input.value` or kept beside an explicit one.
            for kv in &mut args {
                kv.value = Value::from(crate::privacy::REDACTED);
            }
        } else {
            // One argument becomes plain text and loses its name: a secret-named one is redacted here.
            for kv in &mut args {
                if self.privacy.is_secret_field(kv.key.as_str(), &kv.value) {
                    kv.value = Value::from(crate::privacy::REDACTED);
                }
            }
        }
        // Whether `input.value` is the arguments' JSON object, built here from names checked
        // above.
        let mut built_json = false;
        if genai::get(out, "input.value").is_some() {
            out.append(&mut args);
        } else if let Some(input) = input_from_args(&args) {
            built_json = input.1 == "application/json";
            out.push(KeyValue::new("input.value", input.0));
            out.push(KeyValue::new("input.mime_type", input.1));
        } else if let Some(text) = (!p.hide_input_messages && !p.hide_input_text && !p.hide_all)
            .then(|| last_message_content(out, "llm.input_messages", Some("user")))
            .flatten()
        {
            // What Phoenix shows as the span's input: the last user turn.
            out.push(KeyValue::new("input.value", text));
            out.push(KeyValue::new("input.mime_type", "text/plain"));
        }
        let output_hidden = p.hide_output_messages || p.hide_output_text || p.hide_all;
        if !output_hidden && genai::get(out, "output.value").is_none() {
            if let Some(text) = last_message_content(out, "llm.output_messages", None) {
                out.push(KeyValue::new("output.value", text));
                out.push(KeyValue::new("output.mime_type", "text/plain"));
            }
        }
        add_mime_type(out, "output.value", "output.mime_type");
        add_mime_type(out, "input.value", "input.mime_type");

        genai::enrich(out, kind);
        normalize_error(span, out);
        // Found by key, now that nothing moves any more: the only `input.value` there is.
        let keys_checked = built_json
            .then(|| out.iter().position(|kv| kv.key.as_str() == "input.value"))
            .flatten();
        self.privacy.clean_span_strings(span);
        let content = self
            .privacy
            .apply(out, &mut span.events.events, plans, keys_checked);
        // Moved back into the span's own list when it has room (a plain span's usually has),
        // else into a new list of their exact length; `out` keeps its room for the next span.
        // The span's list came from the calling thread's heap: freeing it here, while that
        // thread allocates, contends for that heap's lock; with the batch, it is freed at once.
        if raw.capacity() < out.len() {
            raw = Vec::with_capacity(out.len());
        }
        raw.append(out);
        span.attributes = raw;
        out.shrink_to(SCRATCH_KEEPS);
        crate::privacy::span_overhead(span).saturating_add(content)
    }
}

/// The text content of the last flattened message under `prefix` (with `role`, if given).
/// One pass over the attributes, so a long conversation costs linear time.
fn last_message_content(attrs: &[KeyValue], prefix: &str, role: Option<&str>) -> Option<Value> {
    // Index of the message, whether its key is the content (else the role), and the value.
    let messages = attrs.iter().filter_map(|kv| {
        let key = kv.key.as_str();
        // The dot after the prefix first: it rules out most keys without comparing them.
        if key.as_bytes().get(prefix.len()) != Some(&b'.') {
            return None;
        }
        let rest = key.strip_prefix(prefix)?.strip_prefix('.')?;
        let (index, field) = rest.split_once('.')?;
        let is_content = match field {
            "message.content" => true,
            "message.role" => false,
            _ => return None,
        };
        Some((index.parse::<usize>().ok()?, is_content, &kv.value))
    });
    let Some(role) = role else {
        return messages
            .filter(|(_, is_content, _)| *is_content)
            .fold(
                None,
                |best: Option<(usize, &Value)>, (i, _, v)| match best {
                    Some((b, _)) if b > i => best,
                    _ => Some((i, v)),
                },
            )
            .map(|(_, v)| v.clone());
    };
    // Usually a message's role comes right before its content (the order flattening emits
    // them in): then one pass keeping only the role just seen is enough.
    let mut previous: Option<(usize, bool)> = None;
    let mut best: Option<(usize, &Value)> = None;
    let mut in_order = true;
    for (index, is_content, value) in messages.clone() {
        if !is_content {
            let matches = matches!(value, Value::String(r) if r.as_str() == role);
            previous = Some((index, matches));
            continue;
        }
        match previous.take() {
            Some((i, matches)) if i == index => {
                if matches && best.is_none_or(|(b, _)| index >= b) {
                    best = Some((index, value));
                }
            }
            _ => {
                in_order = false;
                break;
            }
        }
    }
    if in_order {
        return best.map(|(_, v)| v.clone());
    }
    // Otherwise: the role of each message index seen, and the content of the last one with
    // `role`.
    let mut roles: Vec<(usize, bool)> = Vec::new();
    let mut contents: Vec<(usize, &Value)> = Vec::new();
    for (index, is_content, value) in messages {
        if is_content {
            contents.push((index, value));
        } else {
            let matches = matches!(value, Value::String(r) if r.as_str() == role);
            roles.push((index, matches));
        }
    }
    roles.sort_unstable_by_key(|(i, _)| *i);
    let has_role = |index: usize| {
        roles
            .binary_search_by_key(&index, |(i, _)| *i)
            .is_ok_and(|at| roles[at].1)
    };
    contents
        .into_iter()
        .filter(|(index, _)| has_role(*index))
        .fold(None, |best: Option<(usize, &Value)>, (i, v)| match best {
            Some((b, _)) if b > i => best,
            _ => Some((i, v)),
        })
        .map(|(_, v)| v.clone())
}

/// Keeps the last value of each key (a field recorded twice), in first-seen order.
fn dedupe_last_wins(mut attrs: Vec<KeyValue>) -> Vec<KeyValue> {
    if attrs.len() < 2 {
        return attrs;
    }
    let drop: Vec<bool> = if attrs.len() <= 64 {
        // A span's raw fields are few: comparing each with those after it beats hashing every
        // key, and most spans have no repeat, found without allocating.
        let repeated = |i: usize| {
            let key = attrs[i].key.as_str();
            attrs[i + 1..].iter().any(|later| later.key.as_str() == key)
        };
        let Some(first) = (0..attrs.len()).find(|&i| repeated(i)) else {
            return attrs;
        };
        (0..attrs.len())
            .map(|i| i >= first && repeated(i))
            .collect()
    } else {
        let mut seen: HashSet<&str> = HashSet::with_capacity(attrs.len());
        let mut drop = vec![false; attrs.len()];
        for (i, kv) in attrs.iter().enumerate().rev() {
            drop[i] = !seen.insert(kv.key.as_str());
        }
        drop
    };
    let mut i = 0;
    attrs.retain(|_| {
        let keep = !drop[i];
        i += 1;
        keep
    });
    attrs
}

/// `input.value` and its mime type from the bare arguments: one argument as text, several as
/// a JSON object with the keys in order (written straight into the text, without a JSON tree).
fn input_from_args(args: &[KeyValue]) -> Option<(String, &'static str)> {
    match args {
        [] => None,
        [one] => Some(match &one.value {
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

/// Writes `value` as JSON (serde_json cannot fail writing these into memory).
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

/// Sets `mime_key` to `application/json` or `text/plain` for `value_key` when not given.
fn add_mime_type(attrs: &mut Vec<KeyValue>, value_key: &str, mime_key: &'static str) {
    if genai::get(attrs, mime_key).is_some() {
        return;
    }
    let Some(value) = genai::get(attrs, value_key) else {
        return;
    };
    let mime = match value {
        Value::String(s) if looks_like_json(s.as_str()) => "application/json",
        _ => "text/plain",
    };
    attrs.push(KeyValue::new(mime_key, mime));
}

/// Whether `s` is a JSON object or array.
pub(crate) fn looks_like_json(s: &str) -> bool {
    let t = s.trim_start();
    (t.starts_with('{') || t.starts_with('['))
        && serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok()
}

/// One `exception` event per failed span, with `exception.type` and `exception.message`; the
/// span keeps `error.type` and its Error status.
fn normalize_error(span: &mut SpanData, attrs: &mut Vec<KeyValue>) {
    let take = |attrs: &mut Vec<KeyValue>, key: &str| {
        let i = attrs.iter().position(|kv| kv.key.as_str() == key)?;
        Some(attrs.remove(i).value)
    };
    let ex_type = take(attrs, "exception.type");
    let ex_message = take(attrs, "exception.message");
    let failed = matches!(span.status, Status::Error { .. });
    if !failed {
        return;
    }
    let ex_type = ex_type.unwrap_or_else(|| Value::from("Error"));
    if genai::get(attrs, "error.type").is_none() {
        attrs.push(KeyValue::new("error.type", ex_type.clone()));
    }
    let events = &mut span.events.events;
    if let Some(event) = events.iter_mut().find(|e| e.name == "exception") {
        if !event
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "exception.type")
        {
            event
                .attributes
                .push(KeyValue::new("exception.type", ex_type));
        }
        return;
    }
    let message = ex_message.unwrap_or_else(|| match &span.status {
        Status::Error { description } => Value::from(description.to_string()),
        _ => Value::from(""),
    });
    events.push(Event::new(
        "exception",
        span.end_time,
        vec![
            KeyValue::new("exception.type", ex_type),
            KeyValue::new("exception.message", message),
        ],
        0,
    ));
}
/// Maps one raw field the way the exporter does, with the default [`Privacy`]: `key` set to the string `raw` on a
/// span, then [`Mapper::map_span`]. Returns the exported attributes.
///
/// This is the entry point of the `map_json` fuzz target (`tests/fuzz`) and of the hostile-input property tests; it
/// is not part of the public API and may change in any release.
///
/// ```
/// let attrs = tracing_openinference::__private::fuzz_map_field(
///     "llm.input_messages",
///     r#"[{"role":"user","content":"hi"}]"#,
/// );
/// assert!(attrs.iter().any(|kv| kv.key.as_str() == "llm.input_messages.0.message.content"));
/// ```
#[doc(hidden)]
pub fn fuzz_map_field(key: &str, raw: &str) -> Vec<KeyValue> {
    map_attributes(
        &Privacy::default(),
        vec![KeyValue::new(key.to_owned(), raw.to_owned())],
    )
}

/// Maps raw span attributes (the fields as the bridge exports them) with `privacy`, as the exporter does, and
/// returns the exported attributes. Not part of the public API (tests and fuzzing only).
///
/// ```
/// use opentelemetry::KeyValue;
/// use tracing_openinference::privacy::Privacy;
/// let attrs = tracing_openinference::__private::map_attributes(
///     &Privacy::default().with_hide_inputs(true),
///     vec![KeyValue::new("input.value", "a prompt")],
/// );
/// let input = attrs.iter().find(|kv| kv.key.as_str() == "input.value").unwrap();
/// assert_eq!(input.value.as_str(), "__REDACTED__");
/// ```
#[doc(hidden)]
pub fn map_attributes(privacy: &Privacy, attributes: Vec<KeyValue>) -> Vec<KeyValue> {
    let mapper = Mapper::new(privacy.clone());
    let mut span = raw_span(attributes);
    let size = mapper.map_span(&mut span, None);
    // The size the mapper reports is the one the batch budget would measure (checked on every
    // input the property tests and fuzzers give).
    debug_assert_eq!(size, crate::privacy::span_size(&span));
    let mut batch = vec![span];
    mapper.privacy.fit_batch(&mut batch, vec![size]);
    batch.pop().map(|s| s.attributes).unwrap_or_default()
}

/// A span as the bridge would hand it over, with `attributes`.
fn raw_span(attributes: Vec<KeyValue>) -> SpanData {
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind as OtelKind};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::SystemTime;

    SpanData {
        span_context: SpanContext::empty_context(),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: OtelKind::Internal,
        name: "fuzz".into(),
        start_time: SystemTime::UNIX_EPOCH,
        end_time: SystemTime::UNIX_EPOCH,
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::default(),
    }
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
        /// Several arguments give the JSON object a JSON tree of them gives (keys sorted,
        /// strings escaped, non-finite floats null).
        #[test]
        fn arguments_are_the_json_object_of_their_values(
            values in proptest::collection::btree_map(r#"[a-z_"\\é]{1,6}"#, arg_value(), 2..8)
        ) {
            let args: Vec<KeyValue> =
                values.into_iter().rev().map(|(k, v)| KeyValue::new(k, v)).collect();
            let (json, mime) = input_from_args(&args).expect("input");
            prop_assert_eq!(mime, "application/json");
            prop_assert_eq!(json, args_as_json_tree(&args));
        }
    }

    /// The arguments' JSON object, whose keys are not read back, still has its secret-named
    /// arguments and its credentials redacted; a JSON value the user gave (here `output.value`,
    /// behind an attribute the mapper removes) still has its keys read.
    #[test]
    fn the_arguments_json_keeps_every_redaction() {
        let token = "Bearer abc123def456ghi";
        let attrs = map_attributes(
            &Privacy::default(),
            vec![
                KeyValue::new("exception.message", "boom"),
                KeyValue::new("output.value", r#"{"password":"hunter2","n":1}"#),
                KeyValue::new("query", format!("use {token}")),
                KeyValue::new("api_key", "k-123"),
                KeyValue::new("limit", 3i64),
            ],
        );
        let text = |key: &str| {
            attrs
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.as_str().into_owned())
                .unwrap_or_default()
        };
        let input = text("input.value");
        assert_eq!(text("input.mime_type"), "application/json");
        assert!(!input.contains("abc123def456ghi"), "{input}");
        assert!(!input.contains("k-123"), "{input}");
        assert!(input.contains(r#""limit":3"#), "{input}");
        assert!(!text("output.value").contains("hunter2"));
    }

    #[test]
    fn each_mapped_span_holds_its_own_attributes_in_its_own_list_or_an_exact_one() {
        let mapper = Mapper::new(Privacy::default());
        let mut first = raw_span(vec![
            KeyValue::new("query", "a"),
            KeyValue::new("limit", 3i64),
            KeyValue::new("http.route", "/x"),
        ]);
        mapper.map_span(&mut first, None);
        let mut second = raw_span(vec![KeyValue::new("http.method", "GET")]);
        mapper.map_span(&mut second, None);
        let keys = |span: &SpanData| -> Vec<String> {
            let mut keys: Vec<String> = span
                .attributes
                .iter()
                .map(|kv| kv.key.as_str().to_owned())
                .collect();
            keys.sort();
            keys
        };
        assert_eq!(
            keys(&first),
            [
                "http.route",
                "input.mime_type",
                "input.value",
                "openinference.span.kind"
            ]
        );
        assert_eq!(keys(&second), ["http.method", "openinference.span.kind"]);
        // Lists without room for what the mapping adds were replaced by exact ones.
        for span in [&first, &second] {
            assert_eq!(span.attributes.capacity(), span.attributes.len());
        }
        // A list with room is kept.
        let mut roomy = Vec::with_capacity(8);
        roomy.extend([KeyValue::new("query", "a"), KeyValue::new("limit", 3i64)]);
        let mut third = raw_span(roomy);
        mapper.map_span(&mut third, None);
        assert_eq!(third.attributes.len(), 3);
        assert_eq!(third.attributes.capacity(), 8);
    }

    #[test]
    fn a_field_recorded_twice_keeps_its_last_value_in_first_seen_order() {
        let kv = |k: &'static str, v: i64| KeyValue::new(k, v);
        let unique = vec![kv("a", 1), kv("b", 2), kv("c", 3)];
        assert_eq!(dedupe_last_wins(unique.clone()), unique);
        assert_eq!(
            dedupe_last_wins(vec![
                kv("a", 1),
                kv("b", 2),
                kv("a", 3),
                kv("c", 4),
                kv("b", 5)
            ]),
            vec![kv("a", 3), kv("c", 4), kv("b", 5)]
        );
        let many: Vec<KeyValue> = (0..100)
            .map(|i| KeyValue::new(format!("k{}", i % 70), i as i64))
            .collect();
        let deduped = dedupe_last_wins(many);
        assert_eq!(deduped.len(), 70);
        assert_eq!(deduped[0], KeyValue::new("k30", 30i64));
        assert_eq!(deduped[69], KeyValue::new("k29", 99i64));
    }

    fn conversation(turns: usize) -> Vec<KeyValue> {
        // Keys in an unusual order: roles after contents, the last turns first.
        let mut attrs = Vec::new();
        for i in (0..turns).rev() {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            attrs.push(KeyValue::new(
                format!("llm.input_messages.{i}.message.content"),
                format!("turn {i}"),
            ));
            attrs.push(KeyValue::new(
                format!("llm.input_messages.{i}.message.role"),
                role,
            ));
        }
        attrs.push(KeyValue::new(
            "llm.input_messages.x.message.content",
            "not an index",
        ));
        attrs
    }

    #[test]
    fn messages_in_flattening_order_give_what_any_order_gives() {
        // Roles before contents, as flattening emits them; some messages lack one of the two.
        let roles = [
            "system",
            "user",
            "assistant",
            "user",
            "tool",
            "",
            "user",
            "assistant",
        ];
        let mut attrs = Vec::new();
        for (i, role) in roles.iter().enumerate() {
            if !role.is_empty() {
                attrs.push(KeyValue::new(
                    format!("llm.input_messages.{i}.message.role"),
                    *role,
                ));
            }
            if i != 6 {
                attrs.push(KeyValue::new(
                    format!("llm.input_messages.{i}.message.content"),
                    format!("turn {i}"),
                ));
            }
        }
        // Complete messages only (read in one pass), then all of them (a gap: read by index).
        let complete: Vec<KeyValue> = attrs
            .iter()
            .filter(|kv| !kv.key.as_str().contains(".5.") && !kv.key.as_str().contains(".6."))
            .cloned()
            .collect();
        for attrs in [&complete, &attrs] {
            let mut reversed = attrs.clone();
            reversed.reverse();
            for role in [
                Some("user"),
                Some("assistant"),
                Some("tool"),
                Some("system"),
                None,
            ] {
                let found = last_message_content(attrs, "llm.input_messages", role);
                assert_eq!(
                    found,
                    last_message_content(&reversed, "llm.input_messages", role)
                );
            }
        }
        assert_eq!(
            last_message_content(&complete, "llm.input_messages", Some("assistant")),
            Some(Value::from("turn 7"))
        );
        // Message 6 (user) has no content: the last user turn with one is 3.
        assert_eq!(
            last_message_content(&attrs, "llm.input_messages", Some("user")),
            Some(Value::from("turn 3"))
        );
    }

    #[test]
    fn the_last_message_of_a_role_is_found_whatever_the_order() {
        let attrs = conversation(200);
        // 199 is an assistant turn: the last user turn is 198.
        assert_eq!(
            last_message_content(&attrs, "llm.input_messages", Some("user")),
            Some(Value::from("turn 198"))
        );
        assert_eq!(
            last_message_content(&attrs, "llm.input_messages", None),
            Some(Value::from("turn 199"))
        );
        assert_eq!(
            last_message_content(&attrs, "llm.input_messages", Some("tool")),
            None
        );
        assert_eq!(
            last_message_content(&attrs, "llm.output_messages", None),
            None
        );
    }
}

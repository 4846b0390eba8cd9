//! From the bridge's raw span to the conventions, on the export thread.
//!
//! The bridge exports every field of a span verbatim. [`Mapper::map_span`] turns that into
//! what Phoenix and Langfuse read:
//!
//! - JSON fields (`llm.input_messages`, `retrieval.documents`, `llm.tools`, ...) are parsed and
//!   flattened (`llm.input_messages.0.message.role`); the raw string is not kept. JSON that does
//!   not parse, or has a shape the key does not accept, is kept as the string it was.
//! - `input.value` / `output.value` are derived where not given ([`io_values`]): an LLM span's
//!   request and reply as OpenAI chat JSON ([`chat_json`]), a retriever's documents and an
//!   embedding's texts ([`documents`]), a tool's arguments as a JSON object, else the bare
//!   fields (no dot in the name: the arguments `#[instrument]` records), one as text, several
//!   as a JSON object. Arguments folded into `input.value` are not exported separately; beside
//!   another input they stay as attributes.
//! - GenAI fields in the shapes other crates record them are first brought to the shapes read
//!   here ([`genai_fields`]), an agent's summed usage among them.
//! - Dotted fields outside the conventions (`http.route`, ...) pass through unchanged.
//! - GenAI attributes are added next to the OpenInference ones ([`genai::enrich`]); with no
//!   `output.value`, no `gen_ai.response.model` / `.id` (Phoenix would build an output of them).
//! - What Langfuse reads beyond the conventions ([`langfuse`]): completion start time, cost
//!   details, trace metadata keys, the prompt link; and the `First Token Stream Event`.
//! - A span that ended without error gets status OK, as the OpenInference instrumentations
//!   set it.
//! - An error becomes one `exception` event with `exception.type` and `exception.message`.
//! - Privacy masks and size limits apply last ([`crate::privacy`]); an LLM span's chat JSON
//!   is then written from the cleaned messages ([`io_values::build_chat`]), so its text is
//!   not scanned twice, and the span is fitted to its byte budget.

pub(crate) mod chat_json;
mod content_parts;
pub(crate) mod documents;
pub(crate) mod flatten;
pub(crate) mod genai;
pub(crate) mod genai_fields;
pub(crate) mod io_values;
pub(crate) mod json_text;
pub(crate) mod langfuse;
mod latest;
pub(crate) mod secret_keys;

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
    /// The latest GenAI attribute names instead of v1.41.0's (see [`crate::semconv`]).
    gen_ai_latest: bool,
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
            gen_ai_latest: false,
            scratch: Default::default(),
        }
    }

    /// The latest GenAI attribute names (`latest`) or v1.41.0's.
    pub(crate) fn with_gen_ai_latest(mut self, latest: bool) -> Mapper {
        self.gen_ai_latest = latest;
        self
    }

    /// Maps one span in place, with `extra` added to its attributes (a root's sampling
    /// reason: added here, to the mapped attributes, it costs no growth of the span's own
    /// list, which the calling thread allocated); returns its estimated encoded size
    /// ([`crate::privacy::span_size`]).
    pub(crate) fn map_span(&self, span: &mut SpanData, extra: Option<KeyValue>) -> usize {
        let p = &self.privacy;
        let mut raw = dedupe_last_wins(std::mem::take(&mut span.attributes));
        genai_fields::normalize(&mut raw);
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
        let derived = io_values::derive(out, args, kind, p);

        latest::to_v1_41(out);
        genai::enrich(out, kind);
        if self.gen_ai_latest {
            latest::to_latest(out, kind);
        }
        // Most spans (plain ones) have no key of either convention: nothing below applies.
        let semantic = out.iter().any(|kv| {
            let k = kv.key.as_str();
            k.starts_with("llm.") || k.starts_with("gen_ai.") || k == "metadata"
        });
        if semantic && !derived.has_output {
            // With no output, Phoenix builds one from these (`{"model": ...}`): a made-up
            // output. `llm.response.model_name` keeps the response model.
            out.retain(|kv| {
                !matches!(
                    kv.key.as_str(),
                    "gen_ai.response.model" | "gen_ai.response.id"
                )
            });
        }
        if semantic {
            langfuse::enrich(span, out, kind, p);
        }
        if span.status == Status::Unset {
            // As the OpenInference instrumentations mark a span that ended without error.
            span.status = Status::Ok;
        }
        normalize_error(span, out);
        // Found by key, now that nothing moves any more: the only `input.value` and
        // `output.value` there are.
        let at = |key: &str| out.iter().position(|kv| kv.key.as_str() == key);
        let marks = crate::privacy::Marks {
            keys_checked: derived.args_json.then(|| at("input.value")).flatten(),
            built_later: [
                derived.chat_input.then(|| at("input.value")).flatten(),
                derived.chat_output.then(|| at("output.value")).flatten(),
            ],
        };
        self.privacy.clean_span_strings(span);
        let events = &mut span.events.events;
        let waiting = self.privacy.clean(out, events, plans, marks);
        // The chat JSON, from the cleaned messages: it needs no scan of its own.
        io_values::build_chat(out, waiting, p);
        let content = self.privacy.fit_span(out, events);
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

/// One `exception` event per failed span, with `exception.type` and `exception.message`; the
/// span keeps `error.type` and its Error status.
fn normalize_error(span: &mut SpanData, attrs: &mut Vec<KeyValue>) {
    // Both found in one pass, then taken out, the later one first.
    let (mut type_at, mut message_at) = (None, None);
    for (i, kv) in attrs.iter().enumerate() {
        match kv.key.as_str() {
            "exception.type" => type_at = type_at.or(Some(i)),
            "exception.message" => message_at = message_at.or(Some(i)),
            _ => {}
        }
    }
    let mut take = |at: Option<usize>| at.map(|i| attrs.remove(i).value);
    let (ex_type, ex_message) = match (type_at, message_at) {
        (Some(t), Some(m)) if t > m => {
            let ex_type = take(type_at);
            (ex_type, take(message_at))
        }
        _ => {
            let ex_message = take(message_at);
            (take(type_at), ex_message)
        }
    };
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
}

//! No input hurts the host: arbitrary field values and JSON, through the mapper and through the whole layer.
//!
//! For every case: no panic, every exported string within the configured length cap (plus the truncation
//! marker), every span within the byte budget, and every span still exported. Deep nesting, huge strings,
//! lossily decoded bytes, NaN and infinities, and wrong-typed JSON for every semantic key.

mod common;
use common::*;
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use proptest::prelude::*;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tracing::field::Empty;
use tracing::Dispatch;
use tracing_openinference::__private::{fuzz_map_field, map_attributes};
use tracing_openinference::privacy::Privacy;
use tracing_openinference::LlmLayer;
use tracing_subscriber::prelude::*;

/// The longest truncation marker: `…[truncated, ` + 20 digits + ` bytes]`.
const MARKER_MAX: usize = "…[truncated, ".len() + 20 + " bytes]".len();

/// Every key with a meaning to the mapper, including the `gen_ai.*` aliases.
const SEMANTIC_KEYS: &[&str] = &[
    "openinference.span.kind",
    "input.value",
    "input.mime_type",
    "output.value",
    "output.mime_type",
    "session.id",
    "user.id",
    "metadata",
    "tag.tags",
    "agent.name",
    "llm.model_name",
    "llm.provider",
    "llm.system",
    "llm.invocation_parameters",
    "llm.function_call",
    "llm.finish_reason",
    "llm.input_messages",
    "llm.output_messages",
    "llm.prompts",
    "llm.choices",
    "llm.tools",
    "llm.prompt_template.template",
    "llm.prompt_template.variables",
    "llm.token_count.prompt",
    "llm.token_count.completion",
    "llm.token_count.total",
    "llm.token_count.prompt_details.cache_read",
    "llm.cost.total",
    "embedding.model_name",
    "embedding.embeddings",
    "embedding.invocation_parameters",
    "retrieval.documents",
    "reranker.input_documents",
    "reranker.output_documents",
    "reranker.query",
    "reranker.top_k",
    "tool.name",
    "tool.parameters",
    "tool.id",
    "exception.type",
    "exception.message",
    "error.type",
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.retrieval.documents",
    "gen_ai.usage.input_tokens",
    "question",
];

/// Every string the attributes carry (array items included).
fn strings(attrs: &[KeyValue]) -> impl Iterator<Item = &str> {
    attrs.iter().flat_map(|kv| -> Vec<&str> {
        match &kv.value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(Array::String(v)) => v.iter().map(|s| s.as_str()).collect(),
            _ => Vec::new(),
        }
    })
}

/// A lower bound of the encoded size of attributes, below the layer's own estimate.
fn attrs_bytes(attrs: &[KeyValue]) -> usize {
    attrs
        .iter()
        .map(|kv| {
            kv.key.as_str().len()
                + match &kv.value {
                    Value::String(x) => x.as_str().len(),
                    Value::Array(Array::String(v)) => v.iter().map(|x| x.as_str().len()).sum(),
                    Value::Array(Array::F64(v)) => v.len() * 8,
                    Value::Array(Array::I64(v)) => v.len() * 8,
                    Value::Array(Array::Bool(v)) => v.len(),
                    _ => 8,
                }
        })
        .sum()
}

fn span_bytes(s: &SpanData) -> usize {
    attrs_bytes(&s.attributes)
        + s.events
            .iter()
            .map(|e| e.name.len() + attrs_bytes(&e.attributes))
            .sum::<usize>()
}

/// Asserts the length cap and the byte budget on one exported span.
fn check_limits(s: &SpanData, cap: usize, budget: usize) -> Result<(), TestCaseError> {
    let all = strings(&s.attributes).chain(s.events.iter().flat_map(|e| strings(&e.attributes)));
    if cap > 0 {
        for v in all {
            prop_assert!(
                v.len() <= cap + MARKER_MAX,
                "{} bytes over cap {cap}",
                v.len()
            );
        }
    }
    if budget > 0 {
        prop_assert!(
            span_bytes(s) <= budget,
            "{} bytes over budget {budget}",
            span_bytes(s)
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
        "data:image/png;base64,[A-Za-z0-9+/]{0,300}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        let key = prop_oneof![
            Just("role".to_string()),
            Just("content".to_string()),
            Just("text".to_string()),
            Just("type".to_string()),
            Just("tool_calls".to_string()),
            Just("function".to_string()),
            Just("arguments".to_string()),
            Just("name".to_string()),
            Just("id".to_string()),
            Just("score".to_string()),
            Just("metadata".to_string()),
            Just("vector".to_string()),
            Just("image_url".to_string()),
            Just("url".to_string()),
            Just("parts".to_string()),
            Just("api_key".to_string()),
            ".{0,10}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::vec((key, inner), 0..6)
                .prop_map(|v| serde_json::Value::Object(v.into_iter().collect())),
        ]
    })
}

/// Text that may or may not be JSON: valid JSON, JSON cut anywhere, lossily decoded bytes, deep brackets.
fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        arb_json().prop_map(|v| v.to_string()),
        (arb_json(), any::<prop::sample::Index>()).prop_map(|(v, cut)| {
            let s = v.to_string();
            let b = s.as_bytes();
            String::from_utf8_lossy(&b[..cut.index(b.len() + 1)]).into_owned()
        }),
        prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        any::<String>(),
        (1usize..3000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        (1usize..3000).prop_map(|n| "{\"a\":".repeat(n)),
        "(\u{1F600}|\u{0301}|\u{200D}|\u{FEFF}|a|€){0,400}",
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => arb_text().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            any::<f64>()
        ]
        .prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::from),
        1 => prop::collection::vec(any::<f64>(), 0..50).prop_map(|v| Value::Array(v.into())),
    ]
}

fn arb_privacy() -> impl Strategy<Value = Privacy> {
    (
        prop::collection::vec(any::<bool>(), 4),
        prop_oneof![Just(0usize), 1usize..300],
        prop_oneof![Just(0usize), 512usize..8192],
        0usize..400,
    )
        .prop_map(|(f, cap, budget, b64)| {
            Privacy::default()
                .with_hide_inputs(f[0])
                .with_hide_output_text(f[1])
                .with_hide_all(f[2])
                .with_redact_secrets(f[3])
                .with_max_value_len(cap)
                .with_max_span_bytes(budget)
                .with_base64_image_max_len(b64)
        })
}

// ---------------------------------------------------------------------------------------------
// Through the mapper
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mapper_survives_any_value_for_any_semantic_key(
        fields in prop::collection::vec((prop::sample::select(SEMANTIC_KEYS), arb_value()), 1..8),
        privacy in arb_privacy(),
    ) {
        let attrs: Vec<KeyValue> = fields.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect();
        let out = map_attributes(&privacy, attrs);
        prop_assert!(out.iter().any(|kv| kv.key.as_str() == "openinference.span.kind"));
        let cap = privacy.max_value_len;
        if cap > 0 {
            for v in strings(&out) {
                prop_assert!(v.len() <= cap + MARKER_MAX, "{} bytes over cap {cap}", v.len());
            }
        }
        if privacy.max_span_bytes > 0 {
            prop_assert!(attrs_bytes(&out) <= privacy.max_span_bytes, "{} bytes", attrs_bytes(&out));
        }
    }

    #[test]
    fn fuzz_entry_point_survives_any_text(key in prop::sample::select(SEMANTIC_KEYS), raw in arb_text()) {
        let out = fuzz_map_field(key, &raw);
        for v in strings(&out) {
            prop_assert!(v.len() <= Privacy::default().max_value_len + MARKER_MAX);
        }
    }
}

/// Runs `f` on a thread with a small stack, to prove the work does not depend on deep recursion.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .expect("no stack overflow, no panic")
}

fn deep_inputs(depth: usize) -> Vec<String> {
    vec![
        format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
        format!("{}null{}", "{\"a\":".repeat(depth), "}".repeat(depth)),
        // Unclosed, and nested inside a message.
        "[".repeat(depth),
        format!(
            r#"[{{"role":"user","content":{}"x"{}}}]"#,
            "[".repeat(depth),
            "]".repeat(depth)
        ),
        // Just under serde_json's recursion limit, so it parses and reaches the flattener.
        format!(
            r#"[{{"role":"user","content":{}"x"{},"tool_calls":[{{"function":{{"name":"f","arguments":{}1{}}}}}]}}]"#,
            "{\"a\":".repeat(120),
            "}".repeat(120),
            "{\"k\":".repeat(120),
            "}".repeat(120)
        ),
    ]
}

#[test]
fn ten_thousand_levels_of_nesting_through_the_mapper_on_a_small_stack() {
    on_small_stack(|| {
        for raw in deep_inputs(10_000) {
            for key in SEMANTIC_KEYS {
                let out = fuzz_map_field(key, &raw);
                assert!(!out.is_empty(), "{key}");
                let cap = Privacy::default().max_value_len;
                assert!(strings(&out).all(|v| v.len() <= cap + MARKER_MAX), "{key}");
            }
        }
    });
}

#[test]
fn deep_messages_below_the_parse_limit_are_flattened_on_a_small_stack() {
    on_small_stack(|| {
        let raw = deep_inputs(10).pop().unwrap();
        let out = fuzz_map_field("llm.input_messages", &raw);
        let get = |k: &str| {
            out.iter()
                .find(|kv| kv.key.as_str() == k)
                .map(|kv| kv.value.as_str().into_owned())
        };
        assert_eq!(
            get("llm.input_messages.0.message.role").as_deref(),
            Some("user")
        );
        let content = get("llm.input_messages.0.message.content").unwrap();
        assert!(
            content.starts_with(r#"{"a":{"a":"#) && content.contains(r#""x""#),
            "{content}"
        );
        assert!(
            get("llm.input_messages.0.message.tool_calls.0.tool_call.function.arguments").is_some()
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Through the whole layer
// ---------------------------------------------------------------------------------------------

/// One layer for the whole test binary (building a pipeline per proptest case is slow).
struct Shared {
    dispatch: Dispatch,
    handle: tracing_openinference::LlmHandle,
    exporter: InMemorySpanExporter,
    lock: parking_lot::Mutex<()>,
}

const LAYER_CAP: usize = 200;
const LAYER_BUDGET: usize = 16 * 1024;

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let layer: LlmLayer<_> = quiet_builder()
            .with_privacy(
                Privacy::default()
                    .with_max_value_len(LAYER_CAP)
                    .with_max_span_bytes(LAYER_BUDGET),
            )
            .with_span_exporter(exporter.clone())
            .build();
        let handle = layer.handle();
        Shared {
            dispatch: Dispatch::new(tracing_subscriber::registry().with(layer)),
            handle,
            exporter,
            lock: parking_lot::Mutex::new(()),
        }
    })
}

/// Runs `f` under the shared layer and returns the spans it exported.
fn run_layer(f: impl FnOnce()) -> Vec<SpanData> {
    let s = shared();
    let _one_at_a_time = s.lock.lock();
    s.exporter.reset();
    tracing::dispatcher::with_default(&s.dispatch, f);
    s.handle
        .force_flush(Duration::from_secs(30))
        .expect("flush");
    s.exporter.get_finished_spans().unwrap()
}

/// Records `value` into the field `key` of `span`, whatever its type.
fn record(span: &tracing::Span, key: &str, value: &Value) {
    match value {
        Value::String(s) => span.record(key, s.as_str()),
        Value::I64(i) => span.record(key, *i),
        Value::F64(f) => span.record(key, *f),
        Value::Bool(b) => span.record(key, *b),
        other => span.record(key, tracing::field::display(other)),
    };
}

/// A span declaring 30 of the semantic keys (a callsite holds at most 32 fields).
fn wide_span(part: usize) -> tracing::Span {
    if part == 0 {
        tracing::info_span!(
            "hostile_llm",
            openinference.span.kind = Empty, input.value = Empty, output.value = Empty,
            session.id = Empty, user.id = Empty, metadata = Empty, tag.tags = Empty,
            llm.model_name = Empty, llm.provider = Empty, llm.system = Empty,
            llm.invocation_parameters = Empty, llm.function_call = Empty, llm.finish_reason = Empty,
            llm.input_messages = Empty, llm.output_messages = Empty, llm.prompts = Empty,
            llm.choices = Empty, llm.tools = Empty, llm.prompt_template.variables = Empty,
            llm.token_count.prompt = Empty, llm.token_count.completion = Empty,
            llm.token_count.total = Empty, llm.cost.total = Empty, gen_ai.input.messages = Empty,
            gen_ai.output.messages = Empty, gen_ai.operation.name = Empty,
            gen_ai.usage.input_tokens = Empty, error.type = Empty, question = Empty,
        )
    } else {
        tracing::info_span!(
            "hostile_other",
            openinference.span.kind = Empty, input.value = Empty, output.value = Empty,
            embedding.model_name = Empty, embedding.embeddings = Empty,
            embedding.invocation_parameters = Empty, retrieval.documents = Empty,
            reranker.input_documents = Empty, reranker.output_documents = Empty,
            reranker.query = Empty, reranker.top_k = Empty, tool.name = Empty,
            tool.parameters = Empty, tool.id = Empty, gen_ai.tool.definitions = Empty,
            gen_ai.tool.call.arguments = Empty, gen_ai.tool.call.result = Empty,
            gen_ai.retrieval.documents = Empty, exception.type = Empty,
            exception.message = Empty, agent.name = Empty, llm.tools = Empty,
            metadata = Empty, tag.tags = Empty, session.id = Empty,
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn layer_survives_any_field_values(
        part in 0usize..2,
        fields in prop::collection::vec((prop::sample::select(SEMANTIC_KEYS), arb_value()), 1..10),
        event_text in arb_text(),
        fail in any::<bool>(),
    ) {
        let spans = run_layer(|| {
            let span = wide_span(part);
            for (key, value) in &fields {
                // Keys the callsite did not declare are ignored by `record`, as tracing does.
                record(&span, key, value);
            }
            span.in_scope(|| {
                tracing::info!(detail = event_text.as_str(), "{event_text}");
                if fail {
                    tracing::error!(error = event_text.as_str(), "failed");
                }
            });
        });
        prop_assert_eq!(spans.len(), 1, "the span was exported");
        check_limits(&spans[0], LAYER_CAP, LAYER_BUDGET)?;
    }
}

#[test]
fn deep_nesting_through_the_layer() {
    for raw in deep_inputs(10_000) {
        let spans = run_layer(|| {
            let span = wide_span(0);
            for key in SEMANTIC_KEYS {
                span.record(*key, raw.as_str());
            }
            span.in_scope(|| {});
            let span = wide_span(1);
            for key in SEMANTIC_KEYS {
                span.record(*key, raw.as_str());
            }
            span.in_scope(|| {});
        });
        assert_eq!(spans.len(), 2);
        for s in &spans {
            check_limits(s, LAYER_CAP, LAYER_BUDGET).unwrap();
        }
    }
}

#[test]
fn nan_and_infinite_numbers_through_the_layer() {
    let spans = run_layer(|| {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 1e308] {
            let span = wide_span(0);
            span.record("llm.model_name", "gpt-4o");
            span.record("llm.token_count.prompt", bad);
            span.record("llm.token_count.completion", bad);
            span.record("llm.cost.total", bad);
            span.record("gen_ai.usage.input_tokens", bad);
            span.in_scope(|| {});
            let span = wide_span(1);
            span.record("reranker.top_k", bad);
            // JSON has no NaN: this does not parse and is kept as text.
            span.record(
                "retrieval.documents",
                r#"[{"id":"d","content":"c","score":NaN},{"id":"e","score":Infinity}]"#,
            );
            span.record(
                "reranker.output_documents",
                r#"[{"id":"d","score":1e400},{"id":"e","score":"NaN"},{"id":"f","score":-1e-400}]"#,
            );
            span.in_scope(|| {});
        }
    });
    assert_eq!(spans.len(), 10);
    for s in &spans {
        check_limits(s, LAYER_CAP, LAYER_BUDGET).unwrap();
        for kv in &s.attributes {
            if kv.key.as_str().ends_with(".document.score") {
                assert!(matches!(kv.value, Value::F64(f) if f.is_finite()), "{kv:?}");
            }
        }
    }
}

#[test]
fn forty_megabyte_values_through_the_layer() {
    let huge = "é".repeat(20 << 20); // 40 MiB, two bytes per char: every odd cut is inside a char
    let messages = format!(r#"[{{"role":"user","content":"{huge}"}}]"#);
    let started = Instant::now();
    let spans = run_layer(|| {
        let span = wide_span(0);
        span.record("llm.model_name", "gpt-4o");
        span.record("input.value", huge.as_str());
        span.record("llm.input_messages", messages.as_str());
        span.record("question", huge.as_str());
        span.in_scope(|| tracing::info!(prompt = huge.as_str(), "sending"));
    });
    let elapsed = started.elapsed();
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    check_limits(s, LAYER_CAP, LAYER_BUDGET).unwrap();
    let input = str_attr(s, "input.value");
    let marker = format!("…[truncated, {} bytes]", huge.len());
    assert!(input.ends_with(&marker), "{input}");
    assert!(input[..input.len() - marker.len()]
        .chars()
        .all(|c| c == 'é'));
    let content = str_attr(s, "llm.input_messages.0.message.content");
    assert!(content.ends_with(&marker), "{content}");
    eprintln!("40 MiB value x3 + event through the layer: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
}

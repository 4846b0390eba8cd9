//! Unit tests of the privacy stage, by concern: hide flags (`masks`), secret keys and
//! free-text credentials, caps and data URIs (`scans`), budgets and settings (`limits`), and
//! properties over generated input (`props`).

mod limits;
mod masks;
mod props;
mod scans;

use super::json::*;
use super::keys::*;
use super::limits::*;
use super::masks::*;
use super::secrets::*;
use super::*;
use opentelemetry::trace::Event;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
use opentelemetry::InstrumentationScope;
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
use std::time::SystemTime;

fn kv(k: &'static str, v: impl Into<Value>) -> KeyValue {
    KeyValue::new(k, v)
}

fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn get_str(attrs: &[KeyValue], key: &str) -> Option<String> {
    get(attrs, key).map(|v| v.as_str().into_owned())
}

fn sample() -> Vec<KeyValue> {
    vec![
        kv("openinference.span.kind", "LLM"),
        kv("llm.model_name", "gpt-4o"),
        kv("input.value", "what is 2+2?"),
        kv("input.mime_type", "text/plain"),
        kv("output.value", "4"),
        kv("output.mime_type", "text/plain"),
        kv("llm.input_messages.0.message.role", "user"),
        kv("llm.input_messages.0.message.content", "what is 2+2?"),
        kv(
            "llm.input_messages.1.message.contents.0.message_content.text",
            "look",
        ),
        kv(
            "llm.input_messages.1.message.contents.1.message_content.image.image.url",
            "https://x/y.png",
        ),
        kv("llm.output_messages.0.message.role", "assistant"),
        kv("llm.output_messages.0.message.content", "4"),
        kv("llm.tools.0.tool.json_schema", r#"{"type":"function"}"#),
        kv("llm.prompts.0.prompt.text", "complete me"),
        kv("llm.choices.0.completion.text", "done"),
        kv(
            "llm.invocation_parameters",
            r#"{"temperature":0.2,"max_tokens":100,"messages":[{"content":"hi"}]}"#,
        ),
        kv("embedding.embeddings.0.embedding.text", "embed me"),
        kv(
            "embedding.embeddings.0.embedding.vector",
            Value::Array(vec![0.1f64, 0.2].into()),
        ),
        kv("retrieval.documents.0.document.id", "d1"),
        kv("retrieval.documents.0.document.content", "secret plans"),
        kv("retrieval.documents.0.document.score", 0.9),
        kv(
            "retrieval.documents.0.document.metadata",
            r#"{"source":"wiki"}"#,
        ),
        kv("tool.parameters", r#"{"city":"Paris"}"#),
        kv("gen_ai.tool.call.arguments", r#"{"city":"Paris"}"#),
        kv("gen_ai.tool.call.result", "sunny"),
        kv("gen_ai.input.messages", r#"[{"role":"user","parts":[]}]"#),
        kv("llm.prompt_template.variables", r#"{"name":"Ann"}"#),
        kv("llm.token_count.prompt", 10i64),
        kv("session.id", "s1"),
    ]
}

fn run(p: &Privacy, mut attrs: Vec<KeyValue>) -> Vec<KeyValue> {
    p.apply(&mut attrs, &mut [], &mut KeyPlans::default(), None);
    attrs
}

fn redacted(attrs: &[KeyValue], key: &str) -> bool {
    get_str(attrs, key).as_deref() == Some(REDACTED)
}

fn span(attrs: Vec<KeyValue>) -> SpanData {
    SpanData {
        span_context: SpanContext::empty_context(),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: "chat".into(),
        start_time: SystemTime::UNIX_EPOCH,
        end_time: SystemTime::UNIX_EPOCH,
        attributes: attrs,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::default(),
    }
}

fn fit(p: &Privacy, batch: &mut [SpanData]) {
    let sizes = batch.iter().map(span_size).collect();
    p.fit_batch(batch, sizes);
}

use opentelemetry::StringValue;

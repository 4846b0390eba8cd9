//! Spans of the LLM crates that record GenAI fields themselves, with no glue: the exact field
//! sets, span names and value shapes of
//! - `rig-core` / `rig-agent` 0.42.0 (`telemetry/mod.rs`: the `chat` completion span and its
//!   `SpanCombinator::record_token_usage`; `agent/runner.rs`: `invoke_agent` and
//!   `execute_tool`), and
//! - `genai` 0.7.0-beta.19 with its `otel` feature (`otel/span.rs`: `genai.chat` and
//!   `genai.embeddings`; `otel/events.rs`: `gen_ai.evaluation.result`; `otel/attrs.rs`: the
//!   JSON shapes),
//!
//! written here with `tracing` (neither crate builds with this crate's `rust-version`-aligned
//! dependency set without adding its HTTP stack to the build).
//!
//! What a Phoenix or Langfuse user checks: the agent's summed usage is not counted again (span
//! attributes both backends sum, and the GenAI metrics), reasoning tokens are kept, and the
//! messages, system instructions, tools and results render.

mod common;
use common::*;
use opentelemetry::{Array, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use std::time::Duration;
use tracing::field::Empty;
use tracing_openinference::LlmLayer;
use tracing_subscriber::prelude::*;

/// Runs `f` under a layer exporting spans and metrics to memory.
fn run(f: impl FnOnce()) -> (Vec<SpanData>, Vec<ResourceMetrics>) {
    let spans = InMemorySpanExporter::default();
    let metrics = InMemoryMetricExporter::default();
    let layer: LlmLayer<_> = quiet_builder()
        .with_span_exporter(spans.clone())
        .with_metric_reader(PeriodicReader::builder(metrics.clone()).build())
        .build();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    handle.force_flush(Duration::from_secs(10)).expect("flush");
    (
        spans.get_finished_spans().expect("spans"),
        metrics.get_finished_metrics().expect("metrics"),
    )
}

/// The sum of the metric `name`'s points (histogram sums, counter values) whose attributes
/// include `attr = value`, from the last (cumulative) collection.
fn metric_sum(metrics: &[ResourceMetrics], name: &str, attr: (&str, &str)) -> f64 {
    let Some(rm) = metrics.last() else { return 0.0 };
    fn has<'a>(
        mut attrs: impl Iterator<Item = &'a opentelemetry::KeyValue>,
        (key, value): (&str, &str),
    ) -> bool {
        attrs.any(|kv| kv.key.as_str() == key && kv.value.as_str() == value)
    }
    let mut sum = 0.0;
    for sm in rm.scope_metrics() {
        for m in sm.metrics().filter(|m| m.name() == name) {
            match m.data() {
                AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                    for p in h.data_points() {
                        if has(p.attributes(), attr) {
                            sum += p.sum() as f64;
                        }
                    }
                }
                AggregatedMetrics::U64(MetricData::Sum(s)) => {
                    for p in s.data_points() {
                        if has(p.attributes(), attr) {
                            sum += p.value() as f64;
                        }
                    }
                }
                _ => {}
            }
        }
    }
    sum
}

/// The sum of integer attribute `key` over every exported span: what a backend summing a
/// trace's token counts shows.
fn summed(spans: &[SpanData], key: &str) -> i64 {
    spans
        .iter()
        .filter_map(|s| match attr(s, key) {
            Some(Value::I64(n)) => Some(*n),
            _ => None,
        })
        .sum()
}

/// rig's completion span (`new_completion_span!`), as `CompletionSpanBuilder::build` opens it.
fn rig_chat_span(system_instructions: Option<&str>) -> tracing::Span {
    tracing::info_span!(
        target: "rig::completions",
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "openai",
        gen_ai.request.model = "gpt-4o-mini",
        gen_ai.system_instructions = system_instructions,
        gen_ai.response.id = Empty,
        gen_ai.response.model = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.usage.cache_read.input_tokens = Empty,
        gen_ai.usage.cache_creation.input_tokens = Empty,
        gen_ai.usage.tool_use_prompt_tokens = Empty,
        gen_ai.usage.reasoning_tokens = Empty,
        gen_ai.input.messages = Empty,
        gen_ai.output.messages = Empty
    )
}

/// rig's `SpanCombinator::record_token_usage`: every count, as `u64`.
fn rig_record_usage(span: &tracing::Span, usage: [u64; 5]) {
    let [input, output, cached, reasoning, tool_use] = usage;
    span.record("gen_ai.usage.input_tokens", input);
    span.record("gen_ai.usage.output_tokens", output);
    span.record("gen_ai.usage.cache_read.input_tokens", cached);
    span.record("gen_ai.usage.cache_creation.input_tokens", 0u64);
    span.record("gen_ai.usage.tool_use_prompt_tokens", tool_use);
    span.record("gen_ai.usage.reasoning_tokens", reasoning);
}

/// A rig agent run as `rig-agent` 0.42.0 traces it with content telemetry on: the
/// `invoke_agent` span, a model turn asking for a tool, the tool, a final model turn, then
/// the run's summed usage and output on the agent span.
fn rig_agent_run() {
    const SYSTEM: &str = r#"[{"type":"text","content":"You answer weather questions."}]"#;
    let agent = tracing::info_span!(
        "invoke_agent",
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = "weather-agent",
        gen_ai.system_instructions = SYSTEM,
        gen_ai.prompt = Empty,
        gen_ai.completion = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.usage.cache_read.input_tokens = Empty,
        gen_ai.usage.cache_creation.input_tokens = Empty,
        gen_ai.usage.tool_use_prompt_tokens = Empty,
        gen_ai.usage.reasoning_tokens = Empty,
    );
    agent.record("gen_ai.prompt", "Weather in Paris?");
    agent.in_scope(|| {
        let first = rig_chat_span(Some(SYSTEM));
        first.record(
            "gen_ai.input.messages",
            r#"[{"role":"system","parts":[{"type":"text","content":"You answer weather questions."}]},{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]"#,
        );
        first.record(
            "gen_ai.output.messages",
            r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}],"finish_reason":"tool_call"}]"#,
        );
        first.record("gen_ai.response.id", "resp_1");
        first.record("gen_ai.response.model", "gpt-4o-mini-2024-07-18");
        rig_record_usage(&first, [100, 20, 40, 8, 0]);
        drop(first);

        let tool = tracing::info_span!(
            "execute_tool",
            gen_ai.operation.name = "execute_tool",
            gen_ai.tool.type = "function",
            gen_ai.tool.name = Empty,
            gen_ai.tool.call.id = Empty,
            gen_ai.tool.call.arguments = Empty,
            gen_ai.tool.call.result = Empty,
            gen_ai.tool.call.outcome = Empty,
            gen_ai.tool.error.type = Empty
        );
        tool.record("gen_ai.tool.name", "get_weather");
        tool.record("gen_ai.tool.call.id", "call_1");
        tool.record("gen_ai.tool.call.arguments", r#"{"city":"Paris"}"#);
        tool.record("gen_ai.tool.call.result", "22 °C, sunny");
        tool.record("gen_ai.tool.call.outcome", "success");
        drop(tool);

        let second = rig_chat_span(Some(SYSTEM));
        second.record(
            "gen_ai.input.messages",
            r#"[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]},{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}]},{"role":"user","parts":[{"type":"tool_call_response","id":"call_1","response":"22 °C, sunny"}]}]"#,
        );
        second.record(
            "gen_ai.output.messages",
            r#"[{"role":"assistant","parts":[{"type":"text","content":"It is 22 °C and sunny in Paris."}],"finish_reason":"unknown"}]"#,
        );
        rig_record_usage(&second, [150, 30, 100, 12, 0]);
    });
    // `record_run_level_telemetry`: the run's usage, summed over its turns.
    agent.record("gen_ai.completion", "It is 22 °C and sunny in Paris.");
    rig_record_usage(&agent, [250, 50, 140, 20, 0]);
}

#[test]
fn a_rig_agent_run_counts_each_token_once_and_keeps_reasoning() {
    let (spans, metrics) = run(rig_agent_run);
    assert_eq!(
        spans.len(),
        4,
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let agent = span(&spans, "invoke_agent");
    assert_eq!(str_attr(agent, "openinference.span.kind"), "AGENT");

    // Phoenix sums `llm.token_count.*`, Langfuse `gen_ai.usage.*` and `llm.token_count.*`,
    // cost too: over the trace, each counts the two model calls once.
    for (key, calls) in [
        ("llm.token_count.prompt", 250),
        ("llm.token_count.completion", 50),
        ("llm.token_count.total", 300),
        ("llm.token_count.prompt_details.cache_read", 140),
        ("llm.token_count.completion_details.reasoning", 20),
        ("gen_ai.usage.input_tokens", 250),
        ("gen_ai.usage.output_tokens", 50),
        ("gen_ai.usage.reasoning.output_tokens", 20),
    ] {
        assert_eq!(summed(&spans, key), calls, "{key} over the trace");
    }
    assert!(keys_with_prefix(agent, "llm.token_count").is_empty());
    assert!(keys_with_prefix(agent, "gen_ai.usage").is_empty());
    assert!(keys_with_prefix(agent, "llm.cost").is_empty());
    // The agent's own numbers stay visible, under keys nothing sums.
    assert_eq!(int_attr(agent, "agent.usage.input_tokens"), 250);
    assert_eq!(int_attr(agent, "agent.usage.output_tokens"), 50);
    assert_eq!(int_attr(agent, "agent.usage.reasoning.output_tokens"), 20);
    assert_eq!(int_attr(agent, "agent.usage.total_tokens"), 300);
    assert_eq!(str_attr(agent, "input.value"), "Weather in Paris?");
    assert_eq!(
        str_attr(agent, "output.value"),
        "It is 22 °C and sunny in Paris."
    );
    assert_eq!(str_attr(agent, "agent.name"), "weather-agent");

    // Each model call: reasoning tokens under both conventions, and priced.
    let chats: Vec<&SpanData> = spans.iter().filter(|s| s.name == "chat").collect();
    let reasoning: Vec<i64> = chats
        .iter()
        .map(|s| int_attr(s, "llm.token_count.completion_details.reasoning"))
        .collect();
    assert_eq!(reasoning, [8, 12]);
    for chat in &chats {
        assert_eq!(str_attr(chat, "openinference.span.kind"), "LLM");
        assert!(attr(chat, "gen_ai.usage.reasoning_tokens").is_none());
        assert!(float_attr(chat, "llm.cost.total") > 0.0);
    }

    // The GenAI metrics count the model calls only.
    let tokens = "gen_ai.client.token.usage";
    assert_eq!(
        metric_sum(&metrics, tokens, ("gen_ai.token.type", "input")),
        250.0
    );
    assert_eq!(
        metric_sum(&metrics, tokens, ("gen_ai.token.type", "output")),
        50.0
    );
    let own = "openinference.llm.tokens";
    assert_eq!(
        metric_sum(&metrics, own, ("gen_ai.token.type", "reasoning")),
        20.0
    );
    assert_eq!(
        metric_sum(&metrics, own, ("gen_ai.token.type", "cache_read")),
        140.0
    );
}

#[test]
fn a_rig_agent_run_renders_its_messages_and_tool() {
    let (spans, _) = run(rig_agent_run);
    let chats: Vec<&SpanData> = spans.iter().filter(|s| s.name == "chat").collect();
    let (first, second) = (chats[0], chats[1]);
    // The flattened messages Phoenix renders.
    assert_eq!(
        str_attr(first, "llm.input_messages.0.message.role"),
        "system"
    );
    assert_eq!(str_attr(first, "llm.input_messages.1.message.role"), "user");
    assert_eq!(
        str_attr(
            first,
            "llm.input_messages.1.message.contents.0.message_content.text"
        ),
        "Weather in Paris?"
    );
    let call = "llm.output_messages.0.message.tool_calls.0.tool_call";
    assert_eq!(
        str_attr(first, &format!("{call}.function.name")),
        "get_weather"
    );
    assert_eq!(
        str_attr(first, &format!("{call}.function.arguments")),
        r#"{"city":"Paris"}"#
    );
    // The system instructions lead a conversation that did not repeat them.
    assert_eq!(
        str_attr(second, "llm.input_messages.0.message.role"),
        "system"
    );
    assert_eq!(
        str_attr(
            second,
            "llm.input_messages.0.message.contents.0.message_content.text"
        ),
        "You answer weather questions."
    );
    // rig sends a tool's result in a `user` message, as Anthropic's API does.
    assert_eq!(
        str_attr(second, "llm.input_messages.3.message.role"),
        "user"
    );
    assert_eq!(
        str_attr(second, "llm.input_messages.3.message.tool_call_id"),
        "call_1"
    );
    assert_eq!(
        str_attr(second, "llm.input_messages.3.message.content"),
        "22 °C, sunny"
    );
    assert!(attr(second, "gen_ai.system_instructions").is_none());
    // The chat JSON Langfuse's chat view reads.
    let input: serde_json::Value =
        serde_json::from_str(&str_attr(second, "input.value")).expect("input JSON");
    assert_eq!(input["messages"][0]["role"], "system");
    assert_eq!(
        input["messages"][2]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    let output: serde_json::Value =
        serde_json::from_str(&str_attr(second, "output.value")).expect("output JSON");
    assert!(output.to_string().contains("sunny in Paris"), "{output}");

    let tool = span(&spans, "execute_tool");
    assert_eq!(str_attr(tool, "openinference.span.kind"), "TOOL");
    assert_eq!(str_attr(tool, "tool.name"), "get_weather");
    assert_eq!(str_attr(tool, "tool.id"), "call_1");
    assert_eq!(str_attr(tool, "input.value"), r#"{"city":"Paris"}"#);
    assert_eq!(str_attr(tool, "input.mime_type"), "application/json");
    assert_eq!(str_attr(tool, "output.value"), "22 °C, sunny");
}

/// genai's `genai.chat` span (`otel/span.rs`), with content capture on, as a call asking for a
/// tool's result to be summed up ends it.
fn genai_chat() {
    let span = tracing::info_span!(
        "genai.chat",
        "otel.name" = "chat gpt-4o-mini",
        "otel.kind" = "client",
        "otel.status_code" = Empty,
        "error.type" = Empty,
        "gen_ai.operation.name" = "chat",
        "gen_ai.provider.name" = "openai",
        "gen_ai.request.model" = "gpt-4o-mini",
        "gen_ai.request.stream" = false,
        "gen_ai.request.temperature" = Empty,
        "gen_ai.request.max_tokens" = Empty,
        "gen_ai.request.top_p" = Empty,
        "gen_ai.request.seed" = Empty,
        "gen_ai.request.stop_sequences" = Empty,
        "gen_ai.output.type" = Empty,
        "server.address" = Empty,
        "server.port" = Empty,
        "gen_ai.response.id" = Empty,
        "gen_ai.response.model" = Empty,
        "gen_ai.response.finish_reasons" = Empty,
        "gen_ai.usage.input_tokens" = Empty,
        "gen_ai.usage.output_tokens" = Empty,
        "gen_ai.usage.cache_read.input_tokens" = Empty,
        "gen_ai.usage.cache_creation.input_tokens" = Empty,
        "gen_ai.usage.reasoning.output_tokens" = Empty,
        "gen_ai.response.time_to_first_chunk" = Empty,
        "gen_ai.system_instructions" = Empty,
        "gen_ai.input.messages" = Empty,
        "gen_ai.output.messages" = Empty,
        "gen_ai.tool.definitions" = Empty,
    );
    span.record("server.address", "api.openai.com");
    span.record("server.port", 443i64);
    span.record("gen_ai.request.temperature", 0.2);
    span.record("gen_ai.request.max_tokens", 256i64);
    span.record("gen_ai.request.stop_sequences", r#"["END"]"#);
    span.record(
        "gen_ai.system_instructions",
        r#"[{"type":"text","content":"Be brief."}]"#,
    );
    span.record(
        "gen_ai.input.messages",
        r#"[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]},{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"location":"Paris"}}]},{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","result":"22 °C"}]}]"#,
    );
    span.record(
        "gen_ai.tool.definitions",
        r#"[{"type":"function","name":"get_weather","description":"Get the weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}]"#,
    );
    span.record("gen_ai.response.id", "chatcmpl-1");
    span.record("gen_ai.response.model", "gpt-4o-mini-2024-07-18");
    span.record("gen_ai.response.finish_reasons", r#"["stop"]"#);
    span.record("gen_ai.usage.input_tokens", 60i64);
    span.record("gen_ai.usage.output_tokens", 12i64);
    span.record("gen_ai.usage.cache_read.input_tokens", 0i64);
    span.record("gen_ai.usage.reasoning.output_tokens", 4i64);
    span.record(
        "gen_ai.output.messages",
        r#"[{"role":"assistant","parts":[{"type":"text","content":"22 °C in Paris."}],"finish_reason":"stop"}]"#,
    );
}

#[test]
fn a_genai_chat_renders_with_its_lists_typed() {
    let (spans, metrics) = run(genai_chat);
    let chat = span(&spans, "chat gpt-4o-mini");
    assert_eq!(str_attr(chat, "openinference.span.kind"), "LLM");
    // Lists recorded as JSON text leave as lists of strings.
    assert_eq!(
        attr(chat, "gen_ai.response.finish_reasons"),
        Some(&Value::Array(Array::String(vec!["stop".into()])))
    );
    assert_eq!(
        attr(chat, "gen_ai.request.stop_sequences"),
        Some(&Value::Array(Array::String(vec!["END".into()])))
    );
    assert_eq!(str_attr(chat, "llm.finish_reason"), "stop");
    assert_eq!(
        int_attr(chat, "llm.token_count.completion_details.reasoning"),
        4
    );
    assert_eq!(int_attr(chat, "llm.token_count.total"), 72);
    // System instructions, the tool call and its result, the tool definitions.
    assert_eq!(
        str_attr(chat, "llm.input_messages.0.message.role"),
        "system"
    );
    assert_eq!(
        str_attr(
            chat,
            "llm.input_messages.0.message.contents.0.message_content.text"
        ),
        "Be brief."
    );
    assert_eq!(
        str_attr(
            chat,
            "llm.input_messages.2.message.tool_calls.0.tool_call.function.name"
        ),
        "get_weather"
    );
    assert_eq!(str_attr(chat, "llm.input_messages.3.message.role"), "tool");
    assert_eq!(
        str_attr(chat, "llm.input_messages.3.message.tool_call_id"),
        "call_1"
    );
    assert_eq!(
        str_attr(chat, "llm.input_messages.3.message.content"),
        "22 °C"
    );
    assert!(str_attr(chat, "llm.tools.0.tool.json_schema").contains("get_weather"));
    assert_eq!(
        str_attr(
            chat,
            "llm.output_messages.0.message.contents.0.message_content.text"
        ),
        "22 °C in Paris."
    );
    let input: serde_json::Value =
        serde_json::from_str(&str_attr(chat, "input.value")).expect("input JSON");
    assert_eq!(input["messages"][0]["role"], "system");
    assert_eq!(input["messages"][0]["content"][0]["text"], "Be brief.");
    assert_eq!(input["messages"][3]["content"], "22 °C");
    let own = "openinference.llm.tokens";
    assert_eq!(
        metric_sum(&metrics, own, ("gen_ai.token.type", "reasoning")),
        4.0
    );
}

#[test]
fn genai_embeddings_and_evaluation_results_are_typed() {
    let (spans, _) = run(|| {
        let embed = tracing::info_span!(
            "genai.embeddings",
            "otel.name" = "embeddings text-embedding-3-small",
            "otel.kind" = "client",
            "otel.status_code" = Empty,
            "error.type" = Empty,
            "gen_ai.operation.name" = "embeddings",
            "gen_ai.provider.name" = "openai",
            "gen_ai.request.model" = "text-embedding-3-small",
            "gen_ai.embeddings.dimension.count" = Empty,
            "gen_ai.request.encoding_formats" = Empty,
            "server.address" = Empty,
            "server.port" = Empty,
            "gen_ai.response.model" = Empty,
            "gen_ai.usage.input_tokens" = Empty,
        );
        embed.record("gen_ai.request.encoding_formats", r#"["float"]"#);
        embed.record("gen_ai.embeddings.dimension.count", 1536i64);
        embed.record("gen_ai.usage.input_tokens", 8i64);
        drop(embed);
        // `EvalResult::emit`: a span opened and closed at once.
        let eval = tracing::info_span!(
            "genai.evaluation.result",
            "otel.name" = "gen_ai.evaluation.result",
            "otel.kind" = "internal",
            "otel.status_code" = Empty,
            "gen_ai.evaluation.name" = "relevance",
            "gen_ai.evaluation.score.value" = Empty,
            "gen_ai.evaluation.score.label" = Empty,
            "gen_ai.evaluation.explanation" = Empty,
            "gen_ai.response.id" = Empty,
            "error.type" = Empty,
        );
        eval.record("gen_ai.evaluation.score.value", 0.9);
        eval.record("gen_ai.evaluation.score.label", "relevant");
        eval.record("gen_ai.response.id", "chatcmpl-1");
    });
    let embed = span(&spans, "embeddings text-embedding-3-small");
    assert_eq!(str_attr(embed, "openinference.span.kind"), "EMBEDDING");
    assert_eq!(
        str_attr(embed, "embedding.model_name"),
        "text-embedding-3-small"
    );
    assert_eq!(int_attr(embed, "llm.token_count.prompt"), 8);
    assert_eq!(
        attr(embed, "gen_ai.request.encoding_formats"),
        Some(&Value::Array(Array::String(vec!["float".into()])))
    );
    let eval = span(&spans, "gen_ai.evaluation.result");
    assert_eq!(str_attr(eval, "openinference.span.kind"), "EVALUATOR");
    let result: serde_json::Value =
        serde_json::from_str(&str_attr(eval, "output.value")).expect("result JSON");
    assert_eq!(
        result,
        serde_json::json!({"name": "relevance", "score": 0.9, "label": "relevant"})
    );
}

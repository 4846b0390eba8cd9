//! The `async-openai` integration: requests, responses, streams and embeddings recorded on a
//! span, as the exported attributes show them.

use async_openai::types::chat::{
    CreateChatCompletionRequest, CreateChatCompletionResponse, CreateChatCompletionStreamResponse,
};
use async_openai::types::embeddings::{CreateEmbeddingRequest, CreateEmbeddingResponse};
use futures_util::StreamExt as _;
use opentelemetry_sdk::trace::SpanData;
use proptest::prelude::*;
use serde_json::{json, Value as Json};
use tracing_openinference::integrations::async_openai::{
    ChatStreamRecorder, OpenAiSpanExt, TracedChatStream,
};
use tracing_openinference::otel::opentelemetry;
use tracing_openinference::otel::opentelemetry::trace::Status;
use tracing_openinference::testing::Recorder;

fn attr(span: &SpanData, key: &str) -> Option<String> {
    Recorder::attribute(span, key)
}

fn int(span: &SpanData, key: &str) -> Option<i64> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| match kv.value {
            opentelemetry::Value::I64(v) => Some(v),
            _ => None,
        })
}

fn float(span: &SpanData, key: &str) -> Option<f64> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| match kv.value {
            opentelemetry::Value::F64(v) => Some(v),
            _ => None,
        })
}

fn parsed(span: &SpanData, key: &str) -> Json {
    serde_json::from_str(&attr(span, key).unwrap_or_default()).unwrap_or(Json::Null)
}

/// A conversation in its second turn: the model asked for a tool, the tool answered.
fn tool_conversation() -> CreateChatCompletionRequest {
    serde_json::from_value(json!({
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "max_completion_tokens": 256,
        "messages": [
            {"role": "system", "content": "You answer weather questions."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {"role": "assistant", "tool_calls": [{"type": "function", "id": "call_1",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18°C, sunny"},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "description": "Current weather", "parameters": {"type": "object",
            "properties": {"city": {"type": "string"}}}}}],
    }))
    .unwrap()
}

fn answer() -> CreateChatCompletionResponse {
    serde_json::from_value(json!({
        "id": "chatcmpl-42", "object": "chat.completion", "created": 0,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "It is 18°C and sunny in Paris."}}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 90, "total_tokens": 1290,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 64, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
    }))
    .unwrap()
}

#[tracing::instrument(skip_all)]
async fn chat(
    request: CreateChatCompletionRequest,
    reply: CreateChatCompletionResponse,
) -> Result<CreateChatCompletionResponse, std::io::Error> {
    tracing::Span::current().record_chat_request(&request);
    tracing::Span::current().record_chat_result(Ok(reply))
}

#[tokio::test]
async fn a_chat_exports_the_whole_conversation_usage_cost_and_response() {
    let recorder = Recorder::install();
    chat(tool_conversation(), answer()).await.unwrap();
    let spans = recorder.spans();
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert_eq!(attr(s, "openinference.span.kind").as_deref(), Some("LLM"));
    assert_eq!(attr(s, "llm.model_name").as_deref(), Some("gpt-4o-mini"));
    assert_eq!(attr(s, "llm.provider").as_deref(), Some("openai"));

    let m = "llm.input_messages";
    let roles: Vec<_> = (0..4)
        .map(|i| attr(s, &format!("{m}.{i}.message.role")))
        .collect();
    let roles: Vec<_> = roles.iter().map(|r| r.as_deref()).collect();
    assert_eq!(
        roles,
        [
            Some("system"),
            Some("user"),
            Some("assistant"),
            Some("tool")
        ]
    );
    assert_eq!(
        attr(s, &format!("{m}.0.message.content")).as_deref(),
        Some("You answer weather questions.")
    );
    assert_eq!(
        attr(s, &format!("{m}.1.message.contents.0.message_content.text")).as_deref(),
        Some("Weather in Paris?")
    );
    let call = format!("{m}.2.message.tool_calls.0.tool_call");
    assert_eq!(attr(s, &format!("{call}.id")).as_deref(), Some("call_1"));
    assert_eq!(
        attr(s, &format!("{call}.function.name")).as_deref(),
        Some("get_weather")
    );
    assert_eq!(
        attr(s, &format!("{call}.function.arguments")).as_deref(),
        Some(r#"{"city":"Paris"}"#)
    );
    assert_eq!(
        attr(s, &format!("{m}.3.message.tool_call_id")).as_deref(),
        Some("call_1")
    );
    // The tool result is named after the call it answers.
    assert_eq!(
        attr(s, &format!("{m}.3.message.name")).as_deref(),
        Some("get_weather")
    );
    assert!(attr(s, "llm.tools.0.tool.json_schema").is_some_and(|t| t.contains("get_weather")));

    // input.value: the request as chat JSON, with the whole conversation and the tools.
    let input = parsed(s, "input.value");
    let messages = input["messages"].as_array().expect("input.value messages");
    assert_eq!(messages.len(), 4);
    assert_eq!(
        messages[2]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    assert_eq!(messages[3]["tool_call_id"], "call_1");
    assert!(input["tools"].as_array().is_some_and(|t| t.len() == 1));
    let params = parsed(s, "llm.invocation_parameters");
    assert_eq!(params["max_completion_tokens"], 256);
    assert_eq!(int(s, "gen_ai.request.max_tokens"), Some(256));

    // Usage: cached and reasoning tokens stay subsets; cost follows.
    assert_eq!(int(s, "llm.token_count.prompt"), Some(1200));
    assert_eq!(int(s, "llm.token_count.completion"), Some(90));
    assert_eq!(int(s, "llm.token_count.total"), Some(1290));
    assert_eq!(
        int(s, "llm.token_count.prompt_details.cache_read"),
        Some(1024)
    );
    assert_eq!(
        int(s, "llm.token_count.completion_details.reasoning"),
        Some(64)
    );
    assert_eq!(int(s, "gen_ai.usage.cache_read.input_tokens"), Some(1024));
    assert_eq!(int(s, "gen_ai.usage.reasoning.output_tokens"), Some(64));
    // gpt-4o-mini: 176 uncached at $0.15/M, 1024 cached at $0.075/M, 90 out at $0.60/M.
    let expected = (176.0 * 0.15 + 1024.0 * 0.075 + 90.0 * 0.6) / 1e6;
    let cost = float(s, "llm.cost.total").expect("llm.cost.total");
    assert!(
        (cost - expected).abs() < 1e-12,
        "cost {cost}, expected {expected}"
    );

    // The response.
    assert_eq!(
        attr(s, "llm.output_messages.0.message.content").as_deref(),
        Some("It is 18°C and sunny in Paris.")
    );
    assert_eq!(attr(s, "llm.finish_reason").as_deref(), Some("stop"));
    assert_eq!(
        attr(s, "gen_ai.response.finish_reasons").as_deref(),
        Some("[\"stop\"]")
    );
    assert_eq!(
        attr(s, "llm.response.model_name").as_deref(),
        Some("gpt-4o-mini-2024-07-18")
    );
    assert_eq!(
        attr(s, "gen_ai.response.id").as_deref(),
        Some("chatcmpl-42")
    );
}

#[tokio::test]
async fn a_reply_asking_for_tools_exports_its_tool_calls_and_finish_reason() {
    let recorder = Recorder::install();
    let request: CreateChatCompletionRequest = serde_json::from_value(json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Weather in Paris and Rome?"}],
    }))
    .unwrap();
    let reply: CreateChatCompletionResponse = serde_json::from_value(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null, "tool_calls": [
                {"type": "function", "id": "call_p", "function": {"name": "get_weather",
                    "arguments": "{\"city\":\"Paris\"}"}},
                {"type": "function", "id": "call_r", "function": {"name": "get_weather",
                    "arguments": "{\"city\":\"Rome\"}"}}]}}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 40, "total_tokens": 70},
    }))
    .unwrap();
    chat(request, reply).await.unwrap();
    let spans = recorder.spans();
    let s = &spans[0];
    let call = "llm.output_messages.0.message.tool_calls";
    assert_eq!(
        attr(s, &format!("{call}.0.tool_call.id")).as_deref(),
        Some("call_p")
    );
    assert_eq!(
        attr(s, &format!("{call}.1.tool_call.function.arguments")).as_deref(),
        Some(r#"{"city":"Rome"}"#)
    );
    assert_eq!(attr(s, "llm.finish_reason").as_deref(), Some("tool_calls"));
    let output = parsed(s, "output.value");
    assert_eq!(output[0]["tool_calls"][1]["id"], "call_r");
}

#[test]
fn a_provider_the_span_declares_is_kept() {
    let recorder = Recorder::install();
    tracing::info_span!("chat", llm.provider = "azure").in_scope(|| {
        tracing::Span::current().record_chat_request(&tool_conversation());
    });
    let spans = recorder.spans();
    assert_eq!(attr(&spans[0], "llm.provider").as_deref(), Some("azure"));
}

/// One stream chunk with a delta for choice 0 (and optionally a finish reason or usage).
fn chunk(
    delta: Json,
    finish: Option<&str>,
    usage: Option<Json>,
) -> CreateChatCompletionStreamResponse {
    let choices = if delta.is_null() {
        json!([])
    } else {
        json!([{"index": 0, "delta": delta, "finish_reason": finish}])
    };
    serde_json::from_value(json!({
        "id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 0,
        "model": "gpt-4o-mini-2024-07-18", "choices": choices, "usage": usage,
    }))
    .unwrap()
}

/// A streamed reply: some text, two tool calls whose deltas interleave, a finish reason, and
/// the usage alone in the last chunk (`stream_options.include_usage`).
fn streamed_tool_calls() -> Vec<CreateChatCompletionStreamResponse> {
    let tc = |index: u32, id: Option<&str>, name: Option<&str>, args: &str| {
        json!({"tool_calls": [{"index": index, "id": id, "type": id.map(|_| "function"),
            "function": {"name": name, "arguments": args}}]})
    };
    vec![
        chunk(
            json!({"role": "assistant", "content": "Checking "}),
            None,
            None,
        ),
        chunk(json!({"content": "both."}), None, None),
        chunk(tc(0, Some("call_a"), Some("get_weather"), ""), None, None),
        chunk(tc(0, None, None, "{\"ci"), None, None),
        chunk(
            tc(1, Some("call_b"), Some("get_time"), "{\"tz\":"),
            None,
            None,
        ),
        chunk(tc(0, None, None, "ty\":\"Oslo\"}"), None, None),
        chunk(tc(1, None, None, "\"CET\"}"), None, None),
        chunk(json!({}), Some("tool_calls"), None),
        chunk(
            Json::Null,
            None,
            Some(
                json!({"prompt_tokens": 2048, "completion_tokens": 50, "total_tokens": 2098,
                "prompt_tokens_details": {"cached_tokens": 1536},
                "completion_tokens_details": {"reasoning_tokens": 12}}),
            ),
        ),
    ]
}

#[tokio::test]
async fn a_stream_rebuilds_tool_calls_from_deltas_with_usage_and_first_token_time() {
    let recorder = Recorder::install();
    let span = tracing::info_span!("stream chat");
    span.record_chat_request(&tool_conversation());
    let chunks = futures_util::stream::iter(
        streamed_tool_calls()
            .into_iter()
            .map(Ok::<_, std::io::Error>),
    );
    let mut stream = TracedChatStream::with_span(chunks, span);
    let mut seen = 0;
    while stream.next().await.is_some() {
        seen += 1;
    }
    assert_eq!(seen, 9);
    drop(stream);

    let spans = recorder.spans();
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    let out = "llm.output_messages.0.message";
    assert_eq!(
        attr(s, &format!("{out}.content")).as_deref(),
        Some("Checking both.")
    );
    assert_eq!(
        attr(s, &format!("{out}.role")).as_deref(),
        Some("assistant")
    );
    let call = |i: usize, k: &str| attr(s, &format!("{out}.tool_calls.{i}.tool_call.{k}"));
    assert_eq!(call(0, "id").as_deref(), Some("call_a"));
    assert_eq!(call(0, "function.name").as_deref(), Some("get_weather"));
    assert_eq!(
        call(0, "function.arguments").as_deref(),
        Some(r#"{"city":"Oslo"}"#)
    );
    assert_eq!(call(1, "id").as_deref(), Some("call_b"));
    assert_eq!(call(1, "function.name").as_deref(), Some("get_time"));
    assert_eq!(
        call(1, "function.arguments").as_deref(),
        Some(r#"{"tz":"CET"}"#)
    );
    assert_eq!(attr(s, "llm.finish_reason").as_deref(), Some("tool_calls"));
    assert_eq!(int(s, "llm.token_count.prompt"), Some(2048));
    assert_eq!(
        int(s, "llm.token_count.prompt_details.cache_read"),
        Some(1536)
    );
    assert_eq!(
        int(s, "llm.token_count.completion_details.reasoning"),
        Some(12)
    );
    assert!(float(s, "llm.cost.total").is_some_and(|c| c > 0.0));
    assert_eq!(attr(s, "gen_ai.response.id").as_deref(), Some("chatcmpl-s"));
    // Time to first token: the span event, the GenAI attribute, Langfuse's start time.
    assert!(s
        .events
        .iter()
        .any(|e| e.name == "First Token Stream Event"));
    assert!(float(s, "gen_ai.response.time_to_first_chunk").is_some_and(|t| t >= 0.0));
    assert!(attr(s, "langfuse.observation.completion_start_time").is_some());
    assert_eq!(attr(s, "openinference.stream.incomplete"), None);
    let output = parsed(s, "output.value");
    assert_eq!(
        output[0]["tool_calls"][0]["function"]["arguments"],
        r#"{"city":"Oslo"}"#
    );
}

#[tokio::test]
async fn a_traced_stream_gives_one_time_per_output_chunk_per_chunk_after_the_first() {
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
    let exporter = InMemoryMetricExporter::default();
    let recorder = Recorder::install_with(
        Recorder::builder().with_metric_reader(PeriodicReader::builder(exporter.clone()).build()),
    );
    let span = tracing::info_span!("stream chat");
    span.record_chat_request(&tool_conversation());
    let chunks = futures_util::stream::iter(
        streamed_tool_calls()
            .into_iter()
            .map(Ok::<_, std::io::Error>),
    );
    let started = std::time::Instant::now();
    let mut stream = TracedChatStream::with_span(chunks, span);
    while stream.next().await.is_some() {}
    drop(stream);
    let elapsed = started.elapsed().as_secs_f64();
    recorder
        .handle()
        .force_flush(std::time::Duration::from_secs(10))
        .unwrap();
    let metrics = exporter.get_finished_metrics().unwrap();
    let mut points = Vec::new();
    for sm in metrics.last().expect("a collection").scope_metrics() {
        for m in sm
            .metrics()
            .filter(|m| m.name() == "gen_ai.client.operation.time_per_output_chunk")
        {
            let AggregatedMetrics::F64(MetricData::Histogram(h)) = m.data() else {
                panic!("not an f64 histogram");
            };
            for p in h.data_points() {
                let attrs: Vec<String> = p
                    .attributes()
                    .map(|kv| format!("{}={}", kv.key, kv.value))
                    .collect();
                points.push((attrs, p.count(), p.sum()));
            }
        }
    }
    // Nine chunks: eight intervals, together no longer than the stream.
    assert_eq!(points.len(), 1, "{points:?}");
    let (attrs, count, sum) = &points[0];
    assert_eq!(*count, 8);
    assert!(*sum >= 0.0 && *sum <= elapsed, "sum {sum} of {elapsed}");
    assert!(attrs.contains(&"gen_ai.operation.name=chat".to_string()));
    assert!(attrs.contains(&"gen_ai.provider.name=openai".to_string()));
}

#[test]
fn a_stream_dropped_early_keeps_what_it_had_and_says_so() {
    let recorder = Recorder::install();
    tracing::info_span!("chat", llm.model_name = "gpt-4o-mini").in_scope(|| {
        let mut stream = ChatStreamRecorder::current();
        for c in streamed_tool_calls().iter().take(4) {
            stream.chunk(c);
        }
        // The consumer stops reading: the recorder is dropped, not finished.
    });
    let spans = recorder.spans();
    let s = &spans[0];
    assert_eq!(
        attr(s, "openinference.stream.incomplete").as_deref(),
        Some("true")
    );
    assert_eq!(
        attr(
            s,
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments"
        )
        .as_deref(),
        Some("{\"ci")
    );
    assert_eq!(attr(s, "llm.finish_reason"), None);
}

#[tokio::test]
async fn a_stream_error_marks_the_span_failed() {
    let recorder = Recorder::install();
    let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
    let items = vec![
        Ok(chunk(json!({"content": "Hel"}), None, None)),
        Err(std::io::Error::other("connection reset")),
    ];
    let mut stream = TracedChatStream::with_span(futures_util::stream::iter(items), span);
    while stream.next().await.is_some() {}
    drop(stream);
    let spans = recorder.spans();
    let s = &spans[0];
    assert!(
        matches!(&s.status, Status::Error { description } if description.contains("connection reset")),
        "{:?}",
        s.status
    );
    assert_eq!(
        attr(s, "llm.output_messages.0.message.content").as_deref(),
        Some("Hel")
    );
}

#[test]
fn an_embedding_exports_its_texts_model_usage_and_cost() {
    let recorder = Recorder::install();
    let request: CreateEmbeddingRequest = serde_json::from_value(json!({
        "model": "text-embedding-3-small", "input": ["green tea", "black coffee"],
    }))
    .unwrap();
    let response: CreateEmbeddingResponse = serde_json::from_value(json!({
        "object": "list", "model": "text-embedding-3-small",
        "data": [{"index": 0, "object": "embedding", "embedding": [0.1, 0.2]},
                 {"index": 1, "object": "embedding", "embedding": [0.3, 0.4]}],
        "usage": {"prompt_tokens": 5, "total_tokens": 5},
    }))
    .unwrap();
    tracing::info_span!("embed").in_scope(|| {
        let span = tracing::Span::current();
        span.record_embedding_request(&request);
        span.record_embedding_response(&response);
    });
    let spans = recorder.spans();
    let s = &spans[0];
    assert_eq!(
        attr(s, "openinference.span.kind").as_deref(),
        Some("EMBEDDING")
    );
    assert_eq!(
        attr(s, "embedding.model_name").as_deref(),
        Some("text-embedding-3-small")
    );
    assert_eq!(
        attr(s, "embedding.embeddings.0.embedding.text").as_deref(),
        Some("green tea")
    );
    assert_eq!(
        attr(s, "embedding.embeddings.1.embedding.text").as_deref(),
        Some("black coffee")
    );
    assert_eq!(int(s, "llm.token_count.prompt"), Some(5));
    assert!(float(s, "llm.cost.total").is_some_and(|c| c > 0.0));
}

/// A chunk from arbitrary parts: choice and tool-call indexes, ids, names, argument pieces,
/// finish reasons, usage.
fn arbitrary_chunk() -> impl Strategy<Value = CreateChatCompletionStreamResponse> {
    let reason = prop_oneof![
        Just(Json::Null),
        Just(json!("stop")),
        Just(json!("length")),
        Just(json!("tool_calls")),
        Just(json!("content_filter")),
    ];
    let text = ".{0,12}";
    let call = (
        0u32..4,
        proptest::option::of(text),
        proptest::option::of(text),
        proptest::option::of(text),
    )
        .prop_map(|(index, id, name, arguments)| {
            json!({"index": index, "id": id, "function": {"name": name, "arguments": arguments}})
        });
    let choice = (
        prop_oneof![0u32..3, Just(u32::MAX)],
        proptest::option::of(text),
        proptest::collection::vec(call, 0..3),
        reason,
    )
        .prop_map(|(index, content, calls, finish)| {
            json!({"index": index, "delta": {"content": content, "tool_calls": calls},
                   "finish_reason": finish})
        });
    let usage = proptest::option::of((0u32..u32::MAX, 0u32..u32::MAX, 0u32..u32::MAX).prop_map(
        |(p, c, cached)| {
            json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p / 2 + c / 2,
                   "prompt_tokens_details": {"cached_tokens": cached},
                   "completion_tokens_details": {"reasoning_tokens": cached}})
        },
    ));
    (proptest::collection::vec(choice, 0..4), usage, text).prop_map(|(choices, usage, model)| {
        serde_json::from_value(json!({"id": "c", "object": "chat.completion.chunk",
            "created": 0, "model": model, "choices": choices, "usage": usage}))
        .expect("a well-formed chunk")
    })
}

#[test]
fn arbitrary_chunk_sequences_never_panic() {
    let recorder = Recorder::install();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    });
    let chunks = proptest::collection::vec(arbitrary_chunk(), 0..24);
    let strategy = (chunks, any::<bool>());
    runner
        .run(&strategy, |(chunks, finish)| {
            let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
            let mut stream = ChatStreamRecorder::new(span);
            for c in &chunks {
                stream.chunk(c);
            }
            prop_assert_eq!(stream.chunks(), chunks.len() as u64);
            if finish {
                stream.finish();
            }
            Ok(())
        })
        .unwrap();
    let spans = recorder.spans();
    assert!(spans.len() >= 64);
    assert!(spans
        .iter()
        .all(|s| attr(s, "openinference.span.kind").as_deref() == Some("LLM")));
}

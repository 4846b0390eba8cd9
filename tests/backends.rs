//! What Langfuse, Phoenix and MLflow read from an exported span: the whole call as their own
//! instrumentations show it (`shared` conventions §3, §4).

mod common;

use common::*;
use opentelemetry::trace::Status;
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use serde_json::{json, Value as Json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing_openinference::privacy::Privacy;
use tracing_openinference::{Document, LlmSpanExt, Message, Prompt, ToolCall, Usage};

/// Attribute `key` parsed as JSON.
fn json_attr(span: &SpanData, key: &str) -> Json {
    let text = str_attr(span, key);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{key} is not JSON ({e}): {text}"))
}

/// The conversation of the second turn of a tool-using agent.
fn conversation() -> Vec<Message> {
    vec![
        Message::system("Answer with the notes."),
        Message::user("Will it rain in Paris?"),
        Message::tool_calls(vec![ToolCall::new(
            "call_1",
            "get_weather",
            json!({"city": "Paris"}),
        )]),
        Message::tool_result("call_1", "get_weather", "light rain, 14°C"),
    ]
}

/// A chat span with the conversation, a tool offered and parameters, replying `reply`.
fn chat(reply: &[Message]) {
    let span = tracing::info_span!(
        "chat",
        llm.model_name = "gpt-4o-mini",
        llm.provider = "openai",
        llm.invocation_parameters = r#"{"temperature":0.2,"max_tokens":256}"#,
    );
    span.record_input_messages(&conversation()).unwrap();
    span.record_json(
        "llm.tools",
        &json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]),
    )
    .unwrap();
    span.record_output_messages(reply).unwrap();
}

#[test]
fn an_llm_span_carries_its_request_and_reply_as_chat_json() {
    let spans = capture(|| chat(&[Message::assistant("Light rain tomorrow.")]));
    let s = span(&spans, "chat");
    let input = json_attr(s, "input.value");
    assert_eq!(str_attr(s, "input.mime_type"), "application/json");
    let messages = input["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 4);
    assert_eq!(
        messages[0],
        json!({"role": "system", "content": "Answer with the notes."})
    );
    assert_eq!(messages[1]["role"], "user");
    let call = &messages[2]["tool_calls"][0];
    assert_eq!(call["id"], "call_1");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(
        messages[3],
        json!({"role": "tool", "content": "light rain, 14°C", "tool_call_id": "call_1", "name": "get_weather"})
    );
    assert_eq!(input["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(input["temperature"], 0.2);
    assert_eq!(input["max_tokens"], 256);

    let output = json_attr(s, "output.value");
    assert_eq!(str_attr(s, "output.mime_type"), "application/json");
    assert_eq!(
        output,
        json!([{"role": "assistant", "content": "Light rain tomorrow."}])
    );
    // Phoenix still gets the flattened messages.
    assert_eq!(
        str_attr(s, "llm.input_messages.3.message.tool_call_id"),
        "call_1"
    );
    assert_eq!(
        str_attr(s, "llm.output_messages.0.message.content"),
        "Light rain tomorrow."
    );
}

#[test]
fn a_tool_call_reply_holds_the_tool_call_in_its_output() {
    let spans = capture(|| {
        let span = tracing::info_span!("ask", llm.model_name = "gpt-4o-mini");
        span.record_input_messages(&[Message::user("Weather in Paris?")])
            .unwrap();
        span.record_tool_calls(vec![ToolCall::new(
            "call_9",
            "get_weather",
            json!({"city": "Paris"}),
        )])
        .unwrap();
    });
    let output = json_attr(span(&spans, "ask"), "output.value");
    let reply = output.as_array().expect("a list of messages");
    assert_eq!(reply.len(), 1);
    assert_eq!(reply[0]["role"], "assistant");
    assert_eq!(reply[0]["content"], Json::Null);
    assert_eq!(reply[0]["tool_calls"][0]["id"], "call_9");
    assert_eq!(reply[0]["tool_calls"][0]["function"]["name"], "get_weather");
}

#[test]
fn explicit_input_and_output_values_win_over_the_derived_ones() {
    let spans = capture(|| {
        let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
        span.record_input_messages(&[Message::user("derived")])
            .unwrap();
        span.record_output_messages(&[Message::assistant("derived")])
            .unwrap();
        span.record_semantic("input.value", "given input").unwrap();
        span.record_output("given output").unwrap();
    });
    let s = span(&spans, "chat");
    assert_eq!(str_attr(s, "input.value"), "given input");
    assert_eq!(str_attr(s, "output.value"), "given output");
    assert_eq!(str_attr(s, "output.mime_type"), "text/plain");
}

#[test]
fn the_hide_flags_hide_the_derived_values() {
    let hidden = capture_with(
        quiet_builder().with_privacy(
            Privacy::default()
                .with_hide_inputs(true)
                .with_hide_outputs(true),
        ),
        || chat(&[Message::assistant("secret reply")]),
    );
    let s = span(&hidden, "chat");
    assert_eq!(str_attr(s, "input.value"), "__REDACTED__");
    assert_eq!(str_attr(s, "output.value"), "__REDACTED__");
    let all = format!("{:?}", s.attributes);
    for secret in ["Will it rain", "light rain", "secret reply"] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }

    // Hiding the text keeps the conversation's shape and its tool call.
    let text_hidden = capture_with(
        quiet_builder().with_privacy(
            Privacy::default()
                .with_hide_input_text(true)
                .with_hide_output_text(true),
        ),
        || chat(&[Message::assistant("secret reply")]),
    );
    let s = span(&text_hidden, "chat");
    let input = json_attr(s, "input.value");
    assert_eq!(input["messages"][1]["content"], "__REDACTED__");
    assert_eq!(
        input["messages"][2]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    assert_eq!(json_attr(s, "output.value")[0]["content"], "__REDACTED__");
    let all = format!("{:?}", s.attributes);
    assert!(!all.contains("Will it rain") && !all.contains("secret reply"));
}

#[test]
fn a_tool_input_is_the_arguments_object_even_with_one_argument() {
    #[tracing::instrument(fields(tool.name = "get_weather"))]
    fn get_weather(city: &str) {}
    let spans = capture(|| get_weather("Paris"));
    let s = span(&spans, "get_weather");
    assert_eq!(json_attr(s, "input.value"), json!({"city": "Paris"}));
    assert_eq!(str_attr(s, "input.mime_type"), "application/json");
}

#[test]
fn a_retriever_output_is_its_document_list() {
    #[tracing::instrument(fields(retrieval.documents), ret)]
    fn search(query: &str) -> usize {
        let docs = [
            Document::new("kb-12", "Orders ship in 2 days.", 0.91),
            Document {
                metadata: Some(json!({"source": "faq"})),
                ..Document::new("kb-7", "Free returns.", 0.5)
            },
        ];
        tracing::Span::current().record_documents(&docs).unwrap();
        docs.len()
    }
    let spans = capture(|| {
        search("shipping");
    });
    let s = span(&spans, "search");
    assert_eq!(str_attr(s, "openinference.span.kind"), "RETRIEVER");
    assert_eq!(
        json_attr(s, "output.value"),
        json!([
            {"page_content": "Orders ship in 2 days.", "metadata": {"doc_id": "kb-12", "score": 0.91}, "id": "kb-12"},
            {"page_content": "Free returns.", "metadata": {"doc_id": "kb-7", "score": 0.5, "source": "faq"}, "id": "kb-7"},
        ])
    );
    assert_eq!(str_attr(s, "output.mime_type"), "application/json");
    assert_eq!(str_attr(s, "input.value"), "shipping");
}

#[test]
fn an_embedding_input_is_its_text() {
    let spans = capture(|| {
        let one = tracing::info_span!(
            "CreateEmbeddings",
            embedding.model_name = "text-embedding-3-small"
        );
        one.record_json(
            "embedding.embeddings",
            &json!([{"text": "hello world", "vector": [0.1, 0.2]}]),
        )
        .unwrap();
        let two = tracing::info_span!("two", embedding.model_name = "text-embedding-3-small");
        two.record_json(
            "embedding.embeddings",
            &json!([{"text": "a"}, {"text": "b"}]),
        )
        .unwrap();
    });
    let one = span(&spans, "CreateEmbeddings");
    assert_eq!(str_attr(one, "input.value"), "hello world");
    assert_eq!(str_attr(one, "input.mime_type"), "text/plain");
    assert_eq!(
        json_attr(span(&spans, "two"), "input.value"),
        json!(["a", "b"])
    );
    // No output to invent: no response model that Phoenix would turn into one.
    assert!(attr(one, "gen_ai.response.model").is_none());
    assert!(attr(one, "output.value").is_none());
}

#[test]
fn the_response_model_is_only_the_recorded_one() {
    let spans = capture(|| {
        let plain = tracing::info_span!("plain", llm.model_name = "gpt-4o-mini");
        plain
            .record_output_messages(&[Message::assistant("hi")])
            .unwrap();
        let answered = tracing::info_span!("answered", llm.model_name = "gpt-4o-mini");
        answered
            .record_output_messages(&[Message::assistant("hi")])
            .unwrap();
        answered
            .record_response_model("gpt-4o-mini-2024-07-18")
            .unwrap();
        let no_output = tracing::info_span!(
            "no_output",
            llm.model_name = "gpt-4o-mini",
            gen_ai.response.model = "gpt-4o-mini-2024-07-18"
        );
        drop(no_output);
    });
    let plain = span(&spans, "plain");
    assert!(attr(plain, "gen_ai.response.model").is_none());
    assert!(attr(plain, "llm.response.model_name").is_none());
    assert_eq!(str_attr(plain, "gen_ai.request.model"), "gpt-4o-mini");
    let answered = span(&spans, "answered");
    assert_eq!(
        str_attr(answered, "gen_ai.response.model"),
        "gpt-4o-mini-2024-07-18"
    );
    assert_eq!(
        str_attr(answered, "llm.response.model_name"),
        "gpt-4o-mini-2024-07-18"
    );
    // Without an output, the response model stays only under its OpenInference name.
    let no_output = span(&spans, "no_output");
    assert!(attr(no_output, "gen_ai.response.model").is_none());
    assert_eq!(
        str_attr(no_output, "llm.response.model_name"),
        "gpt-4o-mini-2024-07-18"
    );
}

/// `2026-12-03T08:20:00.123456Z` as a time.
fn parse_iso8601(text: &str) -> SystemTime {
    let bytes = text.as_bytes();
    assert_eq!(bytes.len(), 27, "{text}");
    assert_eq!(
        (bytes[4], bytes[7], bytes[10]),
        (b'-', b'-', b'T'),
        "{text}"
    );
    assert_eq!((bytes[19], bytes[26]), (b'.', b'Z'), "{text}");
    let n = |range: std::ops::Range<usize>| -> i64 { text[range].parse().expect(text) };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    UNIX_EPOCH + Duration::from_secs(secs as u64) + Duration::from_micros(n(20..26) as u64)
}

#[test]
fn a_stream_shows_its_time_to_first_token_to_every_backend() {
    let spans = capture(|| {
        let span = tracing::info_span!("stream", llm.model_name = "gpt-4o-mini");
        span.record_output_messages(&[Message::assistant("Hello")])
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let mut guard = tracing_openinference::StreamGuard::new(span.clone());
        guard.chunk();
        std::thread::sleep(Duration::from_millis(20));
        guard.chunk();
        guard.finish();
    });
    let s = span(&spans, "stream");
    let ttfc = float_attr(s, "gen_ai.response.time_to_first_chunk");
    assert!(ttfc >= 0.015, "{ttfc}");
    let started = parse_iso8601(&str_attr(s, "langfuse.observation.completion_start_time"));
    // Microsecond text: within a microsecond of the span's own clock.
    let slack = Duration::from_micros(1);
    assert!(started + slack >= s.start_time && started <= s.end_time + slack);
    assert!(started >= s.start_time + Duration::from_millis(15));
    let events: Vec<_> = s
        .events
        .iter()
        .filter(|e| e.name == "First Token Stream Event")
        .collect();
    assert_eq!(events.len(), 1);
    assert!(events[0].timestamp >= s.start_time && events[0].timestamp <= s.end_time);
}

#[test]
fn cost_details_split_as_langfuse_splits_usage() {
    let spans = capture(|| {
        let span = tracing::info_span!(
            "chat",
            llm.model_name = "gpt-4o-mini",
            llm.provider = "openai"
        );
        span.record_usage(Usage {
            prompt: 1000,
            completion: 300,
            cache_read: 400,
            reasoning: 100,
            ..Usage::default()
        })
        .unwrap();
    });
    let s = span(&spans, "chat");
    let details = json_attr(s, "langfuse.observation.cost_details");
    let get = |k: &str| {
        details[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} in {details}"))
    };
    for key in [
        "input",
        "input_cached_tokens",
        "output",
        "output_reasoning_tokens",
        "total",
    ] {
        assert!(get(key) > 0.0, "{key} in {details}");
    }
    assert!(details.get("input_cache_creation").is_none(), "{details}");
    let parts =
        get("input") + get("input_cached_tokens") + get("output") + get("output_reasoning_tokens");
    assert!((parts - get("total")).abs() < 1e-12, "{details}");
    assert!((get("total") - float_attr(s, "llm.cost.total")).abs() < 1e-12);
    // The uncached input is priced at the input price: 600 tokens of gpt-4o-mini.
    assert!(
        (get("input") - 600.0 * 0.15 / 1e6).abs() < 1e-12,
        "{details}"
    );
}

#[test]
fn a_root_metadata_object_becomes_filterable_trace_metadata_keys() {
    let spans = capture(|| {
        let root = tracing::info_span!(
            "agent",
            metadata = r#"{"tier":"pro","attempt":2,"ratio":0.5,"beta":true,"flags":{"a":1}}"#
        );
        let _entered = root.enter();
        let child = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
        drop(child);
    });
    let root = span(&spans, "agent");
    assert_eq!(str_attr(root, "langfuse.trace.metadata.tier"), "pro");
    assert_eq!(int_attr(root, "langfuse.trace.metadata.attempt"), 2);
    assert_eq!(float_attr(root, "langfuse.trace.metadata.ratio"), 0.5);
    assert_eq!(
        attr(root, "langfuse.trace.metadata.beta"),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        json_attr(root, "langfuse.trace.metadata.flags"),
        json!({"a": 1})
    );
    // The metadata is still there as OpenInference's JSON string, and the child (which
    // inherits it) does not repeat the trace's keys.
    assert!(str_attr(root, "metadata").contains("tier"));
    let child = span(&spans, "chat");
    assert!(str_attr(child, "metadata").contains("tier"));
    assert!(keys_with_prefix(child, "langfuse.trace.metadata").is_empty());
}

#[test]
fn a_child_generation_links_the_prompt_its_parent_recorded() {
    let spans = capture(|| {
        let root = tracing::info_span!("answer_flow");
        root.record_prompt(
            &Prompt::new("support-answer", "3")
                .with_template("Answer {question}.", json!({"question": "Rain?"})),
        )
        .unwrap();
        let _entered = root.enter();
        let llm = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
        drop(llm);
        let tool = tracing::info_span!("lookup", tool.name = "lookup");
        drop(tool);
        #[tracing::instrument(fields(llm.model_name = "gpt-4o-mini", gen_ai.prompt.name = "other", gen_ai.prompt.version = "v-two"))]
        fn declared() {}
        declared();
    });
    let llm = span(&spans, "chat");
    assert_eq!(
        str_attr(llm, "langfuse.observation.prompt.name"),
        "support-answer"
    );
    assert_eq!(int_attr(llm, "langfuse.observation.prompt.version"), 3);
    assert_eq!(str_attr(llm, "gen_ai.prompt.name"), "support-answer");
    assert_eq!(
        str_attr(llm, "llm.prompt_template.template"),
        "Answer {question}."
    );
    assert_eq!(
        json_attr(llm, "llm.prompt_template.variables"),
        json!({"question": "Rain?"})
    );
    assert_eq!(str_attr(llm, "llm.prompt_template.version"), "3");
    // Only generations link a prompt.
    let tool = span(&spans, "lookup");
    assert!(attr(tool, "gen_ai.prompt.name").is_none());
    assert!(attr(tool, "langfuse.observation.prompt.name").is_none());
    let root = span(&spans, "answer_flow");
    assert!(attr(root, "langfuse.observation.prompt.name").is_none());
    // A span's own declared prompt wins over the inherited one; a non-numeric version stays text.
    let declared = span(&spans, "declared");
    assert_eq!(
        str_attr(declared, "langfuse.observation.prompt.name"),
        "other"
    );
    assert_eq!(
        str_attr(declared, "langfuse.observation.prompt.version"),
        "v-two"
    );
}

#[test]
fn spans_that_end_without_error_are_ok_and_zero_counts_stay() {
    #[tracing::instrument(fields(tool.name = "fails"), err)]
    fn fails() -> Result<(), std::io::Error> {
        Err(std::io::Error::other("down"))
    }
    let spans = capture(|| {
        let chat = tracing::info_span!(
            "chat",
            llm.model_name = "gpt-4o-mini",
            llm.token_count.prompt = 10u64,
            llm.token_count.completion = 2u64,
            llm.token_count.prompt_details.cache_read = 0u64,
            llm.token_count.completion_details.reasoning = 0u64,
        );
        drop(chat);
        let helper = tracing::info_span!("helper", llm.model_name = "gpt-4o-mini");
        helper
            .record_usage(Usage {
                prompt: 10,
                completion: 2,
                ..Usage::default()
            })
            .unwrap();
        drop(helper);
        let _ = fails();
    });
    let helper = span(&spans, "helper");
    for key in [
        "llm.token_count.prompt_details.cache_read",
        "llm.token_count.prompt_details.cache_write",
        "llm.token_count.completion_details.reasoning",
    ] {
        assert_eq!(int_attr(helper, key), 0, "{key}");
    }
    assert_eq!(int_attr(helper, "gen_ai.usage.cache_read.input_tokens"), 0);
    assert_eq!(helper.status, Status::Ok);
    let chat = span(&spans, "chat");
    assert_eq!(chat.status, Status::Ok);
    assert_eq!(
        int_attr(chat, "llm.token_count.prompt_details.cache_read"),
        0
    );
    assert_eq!(
        int_attr(chat, "llm.token_count.completion_details.reasoning"),
        0
    );
    assert!(is_error(span(&spans, "fails")));
}

#[test]
fn a_conversation_longer_than_the_value_cap_stays_valid_json() {
    let long = "x".repeat(10_000);
    let spans = capture_with(
        quiet_builder().with_privacy(Privacy::default().with_max_value_len(8_000)),
        || {
            let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
            span.record_input_messages(&[
                Message::system(long.clone()),
                Message::user("short question"),
            ])
            .unwrap();
            span.record_output_messages(&[Message::assistant(long.clone())])
                .unwrap();
            let retrieval = tracing::info_span!("retrieve", openinference.span.kind = "RETRIEVER");
            retrieval
                .record_documents(&[Document::new("d1", long.clone(), 0.5)])
                .unwrap();
        },
    );
    let s = span(&spans, "chat");
    assert!(str_attr(s, "input.value").len() <= 8_000);
    let input = json_attr(s, "input.value");
    assert_eq!(input["messages"][1]["content"], "short question");
    let system = input["messages"][0]["content"].as_str().unwrap();
    assert!(system.ends_with("…[truncated, 10000 bytes]"), "{system}");
    assert!(str_attr(s, "output.value").len() <= 8_000);
    assert_eq!(json_attr(s, "output.value")[0]["role"], "assistant");
    let r = span(&spans, "retrieve");
    assert_eq!(json_attr(r, "output.value")[0]["id"], "d1");
}

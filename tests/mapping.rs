//! The exported attributes: flattened JSON fields, types, derived values, the raw-field rule.

mod common;
use common::*;
use opentelemetry::{Array, Value};
use serde_json::json;
use tracing::field::Empty;
use tracing_openinference::{Document, LlmSpanExt, Message, ToolCall, Usage};

#[test]
fn messages_with_tool_calls_and_parts_are_flattened_with_types() {
    let input = json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is in this image?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
        ]},
        {"role": "tool", "tool_call_id": "call_1", "name": "lookup", "content": "42"}
    ]);
    let output = json!([{"role": "assistant", "tool_calls": [
        {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    ]}]);
    let spans = capture(|| {
        tracing::info_span!("chat", llm.model_name = "gpt-4o", llm.input_messages = %input, llm.output_messages = %output)
            .in_scope(|| {});
    });
    let s = &spans[0];
    assert_eq!(str_attr(s, "llm.input_messages.0.message.role"), "system");
    assert_eq!(
        str_attr(s, "llm.input_messages.0.message.content"),
        "Be brief."
    );
    assert_eq!(
        str_attr(
            s,
            "llm.input_messages.1.message.contents.0.message_content.type"
        ),
        "text"
    );
    assert_eq!(
        str_attr(
            s,
            "llm.input_messages.1.message.contents.1.message_content.image.image.url"
        ),
        "https://example.com/cat.png"
    );
    assert_eq!(
        str_attr(s, "llm.input_messages.2.message.tool_call_id"),
        "call_1"
    );
    assert_eq!(str_attr(s, "llm.input_messages.2.message.name"), "lookup");
    assert_eq!(
        str_attr(
            s,
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name"
        ),
        "get_weather"
    );
    assert_eq!(
        str_attr(
            s,
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments"
        ),
        r#"{"city":"Paris"}"#
    );
    // No value leaves twice in two shapes.
    assert!(attr(s, "llm.input_messages").is_none());
    assert!(attr(s, "llm.output_messages").is_none());
}

#[test]
fn documents_keep_integer_ids_and_float_scores() {
    let docs = json!([
        {"id": 7, "content": "a", "score": 1, "metadata": {"source": "kb"}},
        {"id": "d2", "content": "b", "score": 0.5}
    ]);
    let spans = capture(|| {
        tracing::info_span!("search", retrieval.documents = %docs).in_scope(|| {});
    });
    let s = &spans[0];
    assert_eq!(int_attr(s, "retrieval.documents.0.document.id"), 7);
    assert_eq!(float_attr(s, "retrieval.documents.0.document.score"), 1.0);
    assert_eq!(
        str_attr(s, "retrieval.documents.0.document.metadata"),
        r#"{"source":"kb"}"#
    );
    assert_eq!(str_attr(s, "retrieval.documents.1.document.id"), "d2");
    assert_eq!(float_attr(s, "retrieval.documents.1.document.score"), 0.5);
    assert!(attr(s, "retrieval.documents").is_none());
}

#[test]
fn tools_embeddings_tags_and_json_strings() {
    let tools = json!([{"type": "function", "function": {"name": "f", "parameters": {}}}]);
    let embeddings = json!([{"text": "hello", "vector": [0.5, 1, -2.25]}]);
    let spans = capture(|| {
        tracing::info_span!(
            "e",
            llm.tools = %tools,
            embedding.embeddings = %embeddings,
            tag.tags = %json!(["prod", "beta"]),
            llm.invocation_parameters = %json!({"temperature": 0.1}),
            metadata = %json!({"tier": "pro"}),
        )
        .in_scope(|| {});
    });
    let s = &spans[0];
    assert!(str_attr(s, "llm.tools.0.tool.json_schema").contains("\"name\":\"f\""));
    assert_eq!(
        str_attr(s, "embedding.embeddings.0.embedding.text"),
        "hello"
    );
    assert_eq!(
        attr(s, "embedding.embeddings.0.embedding.vector"),
        Some(&Value::Array(Array::F64(vec![0.5, 1.0, -2.25])))
    );
    assert_eq!(
        attr(s, "tag.tags"),
        Some(&Value::Array(Array::String(vec![
            "prod".into(),
            "beta".into()
        ])))
    );
    // JSON-string typed keys stay JSON strings.
    assert_eq!(
        str_attr(s, "llm.invocation_parameters"),
        r#"{"temperature":0.1}"#
    );
    assert_eq!(str_attr(s, "metadata"), r#"{"tier":"pro"}"#);
    assert_eq!(
        attr(s, "gen_ai.request.temperature"),
        Some(&Value::F64(0.1))
    );
}

#[test]
fn bad_json_is_exported_as_the_raw_string() {
    let spans = capture(|| {
        tracing::info_span!(
            "chat",
            llm.model_name = "m",
            llm.input_messages = "[{not json",
            retrieval.documents = "42"
        )
        .in_scope(|| {});
    });
    assert_eq!(str_attr(&spans[0], "llm.input_messages"), "[{not json");
    assert_eq!(str_attr(&spans[0], "retrieval.documents"), "42");
}

#[tracing::instrument(fields(llm.model_name = "gpt-4o-mini", llm.provider = "openai", llm.token_count.prompt, llm.token_count.completion), ret)]
fn answer(question: &str, max_words: u32) -> String {
    tracing::Span::current()
        .record("llm.token_count.prompt", 1000)
        .record("llm.token_count.completion", 200);
    format!("short answer to {question} in {max_words} words")
}

#[test]
fn arguments_become_input_value_and_ret_becomes_output_value() {
    let spans = capture(|| {
        answer("why", 5);
    });
    let s = &spans[0];
    assert_eq!(
        str_attr(s, "input.value"),
        r#"{"max_words":5,"question":"why"}"#
    );
    assert_eq!(str_attr(s, "input.mime_type"), "application/json");
    assert_eq!(
        str_attr(s, "output.value"),
        "short answer to why in 5 words"
    );
    assert_eq!(str_attr(s, "output.mime_type"), "text/plain");
    // The raw-field rule: bare arguments are not exported separately, and the return value
    // is not a span event.
    assert!(attr(s, "question").is_none());
    assert!(attr(s, "max_words").is_none());
    assert!(s.events.events.is_empty());
    // Integers stay integers; the total and cost are derived.
    assert_eq!(int_attr(s, "llm.token_count.prompt"), 1000);
    assert_eq!(int_attr(s, "llm.token_count.total"), 1200);
    let cost = float_attr(s, "llm.cost.total");
    assert!(
        (cost - (1000.0 * 0.15 + 200.0 * 0.6) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    // GenAI twins.
    assert_eq!(str_attr(s, "gen_ai.operation.name"), "chat");
    assert_eq!(str_attr(s, "gen_ai.provider.name"), "openai");
    assert_eq!(str_attr(s, "gen_ai.request.model"), "gpt-4o-mini");
    assert_eq!(int_attr(s, "gen_ai.usage.input_tokens"), 1000);
    assert_eq!(int_attr(s, "gen_ai.usage.output_tokens"), 200);
}

#[test]
fn single_argument_is_text_and_explicit_values_win() {
    #[tracing::instrument]
    fn echo(text: &str) {}
    #[tracing::instrument(fields(tool.name = "x", input.value = "explicit", output.value = "given", llm.cost.total = 9.5), ret)]
    fn explicit(arg: u32) -> u32 {
        arg
    }
    let spans = capture(|| {
        echo("hello");
        explicit(3);
    });
    let e = span(&spans, "echo");
    assert_eq!(str_attr(e, "input.value"), "hello");
    assert_eq!(str_attr(e, "input.mime_type"), "text/plain");
    let x = span(&spans, "explicit");
    assert_eq!(str_attr(x, "input.value"), "explicit");
    assert_eq!(str_attr(x, "output.value"), "given");
    assert_eq!(float_attr(x, "llm.cost.total"), 9.5);
    assert_eq!(
        int_attr(x, "arg"),
        3,
        "with an explicit input.value the argument stays"
    );
}

#[test]
fn dotted_non_semantic_fields_pass_through() {
    let spans = capture(|| {
        tracing::info_span!("req", http.route = "/chat", http.status_code = 200).in_scope(|| {});
    });
    assert_eq!(str_attr(&spans[0], "http.route"), "/chat");
    assert_eq!(int_attr(&spans[0], "http.status_code"), 200);
}

#[test]
fn cache_and_reasoning_tokens_are_subsets_and_never_summed_onto_parents() {
    let spans = capture(|| {
        tracing::info_span!("agent", agent.name = "a").in_scope(|| {
            tracing::info_span!(
                "chat",
                llm.model_name = "gpt-4o",
                llm.token_count.prompt = 1000,
                llm.token_count.completion = 500,
                llm.token_count.prompt_details.cache_read = 800,
                llm.token_count.completion_details.reasoning = 100,
            )
            .in_scope(|| {});
        });
    });
    let chat = span(&spans, "chat");
    assert_eq!(int_attr(chat, "llm.token_count.total"), 1500);
    let cost = float_attr(chat, "llm.cost.total");
    let expected = (200.0 * 2.5 + 800.0 * 1.25 + 500.0 * 10.0) / 1e6;
    assert!((cost - expected).abs() < 1e-12, "{cost} vs {expected}");
    assert_eq!(int_attr(chat, "gen_ai.usage.cache_read.input_tokens"), 800);
    let agent = span(&spans, "agent");
    assert!(keys_with_prefix(agent, "llm.token_count").is_empty());
    assert!(keys_with_prefix(agent, "llm.cost").is_empty());
}

#[test]
fn helpers_record_undeclared_fields() {
    let spans = capture(|| {
        let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
        span.record_input_messages(&[Message::system("s"), Message::user("u")])
            .unwrap();
        span.record_tool_calls(vec![ToolCall::new("c1", "search", json!({"q": "rust"}))])
            .unwrap();
        span.record_usage(Usage {
            prompt: 10,
            completion: 4,
            cache_read: 2,
            ..Usage::default()
        })
        .unwrap();
        let retrieval = tracing::info_span!("retrieve", openinference.span.kind = "RETRIEVER");
        retrieval
            .record_documents(&[Document::new("d", "text", 0.75)])
            .unwrap();
        retrieval.record_output("1 document").unwrap();
        assert!(span.record_semantic("not.a.key", 1i64).is_err());
    });
    let chat = span(&spans, "chat");
    assert_eq!(str_attr(chat, "llm.input_messages.1.message.content"), "u");
    assert_eq!(
        str_attr(
            chat,
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments"
        ),
        r#"{"q":"rust"}"#
    );
    assert_eq!(int_attr(chat, "llm.token_count.prompt"), 10);
    assert_eq!(int_attr(chat, "llm.token_count.total"), 14);
    assert_eq!(
        int_attr(chat, "llm.token_count.prompt_details.cache_read"),
        2
    );
    assert!(float_attr(chat, "llm.cost.total") > 0.0);
    let r = span(&spans, "retrieve");
    assert_eq!(float_attr(r, "retrieval.documents.0.document.score"), 0.75);
    assert_eq!(str_attr(r, "output.value"), "1 document");
}

#[test]
fn macros_declare_the_whole_field_set() {
    let spans = capture(|| {
        let span = tracing_openinference::llm_span!(
            "chat",
            model = "gpt-4o",
            provider = "openai",
            session.id = "s"
        );
        span.record("llm.token_count.prompt", 3);
        span.record("llm.token_count.completion", 2);
        span.in_scope(|| {});
        let tool = tracing_openinference::tool_span!("lookup");
        tool.record("output.value", "done");
        let r = tracing_openinference::retriever_span!("search", query = "rust");
        r.record(
            "retrieval.documents",
            r#"[{"id":"d1","content":"x","score":0.5}]"#,
        );
        let _ = Empty;
    });
    let chat = span(&spans, "chat");
    assert_eq!(int_attr(chat, "llm.token_count.total"), 5);
    assert_eq!(str_attr(chat, "session.id"), "s");
    let tool = span(&spans, "lookup");
    assert_eq!(str_attr(tool, "openinference.span.kind"), "TOOL");
    assert_eq!(str_attr(tool, "output.value"), "done");
    let r = span(&spans, "search");
    assert_eq!(str_attr(r, "input.value"), "rust");
    assert_eq!(float_attr(r, "retrieval.documents.0.document.score"), 0.5);
}

#[test]
fn a_long_conversation_is_not_cut_at_128_attributes() {
    let messages: Vec<Message> = (0..300)
        .map(|i| Message::user(format!("turn {i}")))
        .collect();
    let spans = capture(|| {
        let span = tracing::info_span!("chat", llm.model_name = "gpt-4o");
        span.record_input_messages(&messages).unwrap();
    });
    assert_eq!(
        str_attr(&spans[0], "llm.input_messages.299.message.content"),
        "turn 299"
    );
    assert!(spans[0].attributes.len() > 600);
    assert_eq!(spans[0].dropped_attributes_count, 0);
}

#[test]
fn llm_spans_show_the_conversation_and_the_reply_as_input_and_output() {
    use tracing_openinference::{LlmSpanExt, Message};
    let spans = capture(|| {
        let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
        let _ = span
            .record_input_messages(&[Message::system("Be brief."), Message::user("What is Rust?")]);
        let _ = span.record_output_messages(&[Message::assistant("A systems language.")]);
    });
    let chat = span(&spans, "chat");
    let input: serde_json::Value = serde_json::from_str(&str_attr(chat, "input.value")).unwrap();
    assert_eq!(
        input,
        json!({"messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is Rust?"},
        ]})
    );
    let output: serde_json::Value = serde_json::from_str(&str_attr(chat, "output.value")).unwrap();
    assert_eq!(
        output,
        json!([{"role": "assistant", "content": "A systems language."}])
    );
    assert_eq!(str_attr(chat, "output.mime_type"), "application/json");

    let hidden = capture_with(
        quiet_builder().with_privacy(
            tracing_openinference::privacy::Privacy::default().with_hide_input_messages(true),
        ),
        || {
            let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
            let _ = span.record_input_messages(&[Message::user("secret question")]);
        },
    );
    let chat = span(&hidden, "chat");
    assert!(!format!("{:?}", chat.attributes).contains("secret question"));
}

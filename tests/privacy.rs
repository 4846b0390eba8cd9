//! Privacy masks, secret redaction and size limits, checked on what the exporter receives.
//!
//! Every span here goes through the public builder (`with_span_exporter`, `with_privacy` or the
//! `OPENINFERENCE_*` variables through `LlmLayerBuilder::from_env_with`) into the SDK's in-memory
//! exporter, so the assertions hold for the attributes that actually leave the process.

mod common;
use common::*;
use opentelemetry::{Array, Value};
use opentelemetry_sdk::trace::SpanData;
use serde_json::json;
use std::collections::HashMap;
use tracing_openinference::privacy::{Privacy, REDACTED};
use tracing_openinference::LlmLayerBuilder;

/// The longest truncation marker: `…[truncated, ` + 20 digits + ` bytes]`.
const MARKER_MAX: usize = "…[truncated, ".len() + 20 + " bytes]".len();

/// A quiet builder that reads `vars` as its whole environment.
fn env_builder(vars: &[(&str, &str)]) -> LlmLayerBuilder {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    LlmLayerBuilder::from_env_with(move |k| map.get(k).cloned()).with_console_exporter(false)
}

/// One LLM span and one embedding span carrying every kind of content the hide flags talk about.
fn content_spans() {
    let input = json!([
        {"role": "system", "content": "SYSTEM-PROMPT"},
        {"role": "user", "content": [
            {"type": "text", "text": "USER-TEXT"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
        ]}
    ]);
    let output = json!([{"role": "assistant", "content": "ASSISTANT-TEXT"}]);
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    let params = json!({"temperature": 0.2, "max_tokens": 64});
    let prompts = json!(["PROMPT-TEXT"]);
    let choices = json!(["CHOICE-TEXT"]);
    tracing::info_span!(
        "chat",
        llm.model_name = "gpt-4o",
        llm.provider = "openai",
        input.value = "INPUT-VALUE",
        output.value = "OUTPUT-VALUE",
        llm.input_messages = %input,
        llm.output_messages = %output,
        llm.tools = %tools,
        llm.invocation_parameters = %params,
        llm.prompts = %prompts,
        llm.choices = %choices,
        llm.token_count.prompt = 10,
        session.id = "s-1",
    )
    .in_scope(|| {});
    let embeddings = json!([{"text": "EMBED-TEXT", "vector": [0.25, 0.5]}]);
    tracing::info_span!(
        "CreateEmbeddings",
        embedding.model_name = "text-embedding-3-small",
        embedding.embeddings = %embeddings,
    )
    .in_scope(|| {});
}

/// Runs [`content_spans`] with `vars` as the environment; returns (chat, embeddings).
fn content_with_env(vars: &[(&str, &str)]) -> (SpanData, SpanData) {
    let spans = capture_with(env_builder(vars), content_spans);
    (
        span(&spans, "chat").clone(),
        span(&spans, "CreateEmbeddings").clone(),
    )
}

fn has_prefix(s: &SpanData, prefix: &str) -> bool {
    !keys_with_prefix(s, prefix).is_empty()
}

fn is_redacted(s: &SpanData, key: &str) -> bool {
    str_attr(s, key) == REDACTED
}

/// Every string the span exports (attributes and event attributes, array items included).
fn all_strings(s: &SpanData) -> Vec<String> {
    let mut out = Vec::new();
    let values = s
        .attributes
        .iter()
        .chain(s.events.iter().flat_map(|e| e.attributes.iter()))
        .map(|kv| &kv.value);
    for v in values {
        match v {
            Value::String(x) => out.push(x.as_str().to_owned()),
            Value::Array(Array::String(items)) => {
                out.extend(items.iter().map(|x| x.as_str().to_owned()))
            }
            _ => {}
        }
    }
    out
}

fn leaks(s: &SpanData, needle: &str) -> bool {
    all_strings(s).iter().any(|v| v.contains(needle))
}

#[test]
fn nothing_hidden_by_default() {
    let (chat, emb) = content_with_env(&[]);
    assert_eq!(str_attr(&chat, "input.value"), "INPUT-VALUE");
    assert_eq!(str_attr(&chat, "output.value"), "OUTPUT-VALUE");
    assert_eq!(
        str_attr(&chat, "llm.input_messages.0.message.content"),
        "SYSTEM-PROMPT"
    );
    assert_eq!(
        str_attr(
            &chat,
            "llm.input_messages.1.message.contents.0.message_content.text"
        ),
        "USER-TEXT"
    );
    assert_eq!(
        str_attr(
            &chat,
            "llm.input_messages.1.message.contents.1.message_content.image.image.url"
        ),
        "https://example.com/cat.png"
    );
    assert_eq!(
        str_attr(&chat, "llm.output_messages.0.message.content"),
        "ASSISTANT-TEXT"
    );
    assert!(has_prefix(&chat, "llm.tools.0.tool.json_schema"));
    assert!(attr(&chat, "llm.invocation_parameters").is_some());
    assert_eq!(str_attr(&chat, "llm.prompts.0.prompt.text"), "PROMPT-TEXT");
    assert_eq!(
        str_attr(&chat, "llm.choices.0.completion.text"),
        "CHOICE-TEXT"
    );
    assert_eq!(
        str_attr(&emb, "embedding.embeddings.0.embedding.text"),
        "EMBED-TEXT"
    );
    assert_eq!(
        attr(&emb, "embedding.embeddings.0.embedding.vector"),
        Some(&Value::Array(Array::F64(vec![0.25, 0.5])))
    );
}

#[test]
fn hide_inputs() {
    let (chat, emb) = content_with_env(&[("OPENINFERENCE_HIDE_INPUTS", "true")]);
    assert!(is_redacted(&chat, "input.value"));
    assert!(attr(&chat, "input.mime_type").is_none());
    assert!(!has_prefix(&chat, "llm.input_messages"));
    assert!(!has_prefix(&chat, "llm.tools"));
    assert!(is_redacted(&chat, "llm.prompts.0.prompt.text"));
    for needle in ["SYSTEM-PROMPT", "USER-TEXT", "INPUT-VALUE", "PROMPT-TEXT"] {
        assert!(!leaks(&chat, needle), "{needle} leaked");
    }
    assert!(!leaks(&emb, "EMBED-TEXT"));
    // Outputs stay.
    assert_eq!(str_attr(&chat, "output.value"), "OUTPUT-VALUE");
    assert_eq!(
        str_attr(&chat, "llm.output_messages.0.message.content"),
        "ASSISTANT-TEXT"
    );
    assert_eq!(
        str_attr(&chat, "llm.choices.0.completion.text"),
        "CHOICE-TEXT"
    );
    // Non-content keys stay.
    assert_eq!(str_attr(&chat, "llm.model_name"), "gpt-4o");
    assert_eq!(int_attr(&chat, "llm.token_count.prompt"), 10);
    assert_eq!(str_attr(&chat, "session.id"), "s-1");
}

#[test]
fn hide_outputs() {
    let (chat, _) = content_with_env(&[("OPENINFERENCE_HIDE_OUTPUTS", "1")]);
    assert!(is_redacted(&chat, "output.value"));
    assert!(attr(&chat, "output.mime_type").is_none());
    assert!(!has_prefix(&chat, "llm.output_messages"));
    assert!(is_redacted(&chat, "llm.choices.0.completion.text"));
    assert!(!leaks(&chat, "ASSISTANT-TEXT") && !leaks(&chat, "OUTPUT-VALUE"));
    assert_eq!(str_attr(&chat, "input.value"), "INPUT-VALUE");
    assert!(has_prefix(&chat, "llm.input_messages"));
}

#[test]
fn hide_input_messages_and_output_messages() {
    let (chat, _) = content_with_env(&[("OPENINFERENCE_HIDE_INPUT_MESSAGES", "true")]);
    assert!(!has_prefix(&chat, "llm.input_messages"));
    assert!(has_prefix(&chat, "llm.output_messages"));
    assert_eq!(str_attr(&chat, "input.value"), "INPUT-VALUE");

    let (chat, _) = content_with_env(&[("OPENINFERENCE_HIDE_OUTPUT_MESSAGES", "yes")]);
    assert!(!has_prefix(&chat, "llm.output_messages"));
    assert!(has_prefix(&chat, "llm.input_messages"));
    assert_eq!(str_attr(&chat, "output.value"), "OUTPUT-VALUE");
}

#[test]
fn hide_input_text_and_output_text() {
    let (chat, _) = content_with_env(&[("OPENINFERENCE_HIDE_INPUT_TEXT", "TRUE")]);
    assert!(is_redacted(&chat, "llm.input_messages.0.message.content"));
    assert!(is_redacted(
        &chat,
        "llm.input_messages.1.message.contents.0.message_content.text"
    ));
    // Roles, types and images stay; outputs stay.
    assert_eq!(
        str_attr(&chat, "llm.input_messages.0.message.role"),
        "system"
    );
    assert_eq!(
        str_attr(
            &chat,
            "llm.input_messages.1.message.contents.1.message_content.image.image.url"
        ),
        "https://example.com/cat.png"
    );
    assert_eq!(
        str_attr(&chat, "llm.output_messages.0.message.content"),
        "ASSISTANT-TEXT"
    );

    let (chat, _) = content_with_env(&[("OPENINFERENCE_HIDE_OUTPUT_TEXT", "true")]);
    assert!(is_redacted(&chat, "llm.output_messages.0.message.content"));
    assert_eq!(
        str_attr(&chat, "llm.output_messages.0.message.role"),
        "assistant"
    );
    assert_eq!(
        str_attr(&chat, "llm.input_messages.0.message.content"),
        "SYSTEM-PROMPT"
    );
}

#[test]
fn hide_input_images_drops_image_keys() {
    let (chat, _) = content_with_env(&[("OPENINFERENCE_HIDE_INPUT_IMAGES", "true")]);
    assert!(keys_with_prefix(&chat, "llm.input_messages")
        .iter()
        .all(|k| !k.contains("message_content.image")));
    assert!(!leaks(&chat, "cat.png"));
    assert_eq!(
        str_attr(
            &chat,
            "llm.input_messages.1.message.contents.0.message_content.text"
        ),
        "USER-TEXT"
    );
}

#[test]
fn hide_invocation_parameters_and_tools() {
    let (chat, _) = content_with_env(&[("OPENINFERENCE_HIDE_LLM_INVOCATION_PARAMETERS", "true")]);
    assert!(attr(&chat, "llm.invocation_parameters").is_none());
    assert!(has_prefix(&chat, "llm.tools"));

    let (chat, _) = content_with_env(&[("OPENINFERENCE_HIDE_LLM_TOOLS", "true")]);
    assert!(!has_prefix(&chat, "llm.tools"));
    assert!(attr(&chat, "llm.invocation_parameters").is_some());
    assert!(has_prefix(&chat, "llm.input_messages"));
}

#[test]
fn hide_prompts_and_choices() {
    let (chat, _) = content_with_env(&[("OPENINFERENCE_HIDE_PROMPTS", "true")]);
    assert!(is_redacted(&chat, "llm.prompts.0.prompt.text"));
    assert_eq!(
        str_attr(&chat, "llm.choices.0.completion.text"),
        "CHOICE-TEXT"
    );

    let (chat, _) = content_with_env(&[("OPENINFERENCE_HIDE_CHOICES", "true")]);
    assert!(is_redacted(&chat, "llm.choices.0.completion.text"));
    assert_eq!(str_attr(&chat, "llm.prompts.0.prompt.text"), "PROMPT-TEXT");
}

#[test]
fn hide_embedding_vectors_and_text() {
    let vector_key = "embedding.embeddings.0.embedding.vector";
    let text_key = "embedding.embeddings.0.embedding.text";
    for var in [
        "OPENINFERENCE_HIDE_EMBEDDINGS_VECTORS",
        "OPENINFERENCE_HIDE_EMBEDDING_VECTORS",
    ] {
        let (_, emb) = content_with_env(&[(var, "true")]);
        assert!(is_redacted(&emb, vector_key), "{var}");
        assert_eq!(str_attr(&emb, text_key), "EMBED-TEXT", "{var}");
    }
    let (_, emb) = content_with_env(&[("OPENINFERENCE_HIDE_EMBEDDINGS_TEXT", "true")]);
    assert!(is_redacted(&emb, text_key));
    assert!(matches!(attr(&emb, vector_key), Some(Value::Array(_))));
}

#[test]
fn hide_all_hides_every_content_value() {
    let (chat, emb) = content_with_env(&[("OPENINFERENCE_HIDE_ALL", "true")]);
    for needle in [
        "SYSTEM-PROMPT",
        "USER-TEXT",
        "cat.png",
        "ASSISTANT-TEXT",
        "INPUT-VALUE",
        "OUTPUT-VALUE",
        "PROMPT-TEXT",
        "CHOICE-TEXT",
        "get_weather",
    ] {
        assert!(
            !leaks(&chat, needle),
            "{needle} leaked: {:#?}",
            chat.attributes
        );
    }
    assert!(!leaks(&emb, "EMBED-TEXT"));
    assert!(attr(&chat, "llm.invocation_parameters").is_none());
    assert!(is_redacted(&emb, "embedding.embeddings.0.embedding.vector"));
    // What is not content stays.
    assert_eq!(str_attr(&chat, "llm.model_name"), "gpt-4o");
    assert_eq!(str_attr(&chat, "openinference.span.kind"), "LLM");
    assert_eq!(int_attr(&chat, "llm.token_count.prompt"), 10);
    assert_eq!(str_attr(&chat, "session.id"), "s-1");

    // The tool span, the retriever span and events under hide_all.
    let spans = capture_with(env_builder(&[("OPENINFERENCE_HIDE_ALL", "true")]), || {
        let params = json!({"city": "PARIS-ARG"});
        tracing::info_span!("get_weather", tool.name = "get_weather", tool.parameters = %params,
                            input.value = "TOOL-INPUT", output.value = "TOOL-RESULT")
        .in_scope(|| {
            tracing::info!(detail = "EVENT-TEXT", "EVENT-MESSAGE");
        });
        let docs = json!([{"id": "d1", "content": "DOC-CONTENT", "score": 0.5, "metadata": {"src": "DOC-META"}}]);
        tracing::info_span!("search", retrieval.documents = %docs).in_scope(|| {});
    });
    let tool = span(&spans, "get_weather");
    for needle in [
        "PARIS-ARG",
        "TOOL-INPUT",
        "TOOL-RESULT",
        "EVENT-TEXT",
        "EVENT-MESSAGE",
    ] {
        assert!(!leaks(tool, needle), "{needle} leaked");
    }
    assert_eq!(str_attr(tool, "tool.name"), "get_weather");
    let search = span(&spans, "search");
    assert!(!leaks(search, "DOC-CONTENT") && !leaks(search, "DOC-META"));
    assert_eq!(str_attr(search, "retrieval.documents.0.document.id"), "d1");
    assert_eq!(
        float_attr(search, "retrieval.documents.0.document.score"),
        0.5
    );
}

#[test]
fn code_configuration_wins_over_the_environment() {
    let builder = env_builder(&[("OPENINFERENCE_HIDE_INPUTS", "true")])
        .with_privacy(Privacy::default().with_hide_outputs(true));
    let spans = capture_with(builder, content_spans);
    let chat = span(&spans, "chat");
    assert_eq!(str_attr(chat, "input.value"), "INPUT-VALUE");
    assert!(is_redacted(chat, "output.value"));
}

#[test]
fn invalid_environment_value_is_a_build_error() {
    let err = env_builder(&[("OPENINFERENCE_HIDE_INPUTS", "sometimes")])
        .try_build::<tracing_subscriber::Registry>()
        .unwrap_err();
    assert!(
        err.to_string().contains("OPENINFERENCE_HIDE_INPUTS"),
        "{err}"
    );
}

#[test]
fn genai_capture_message_content_false_hides_content() {
    const VAR: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";
    for off in ["false", "FALSE", "0", "off", "no"] {
        let (chat, emb) = content_with_env(&[(VAR, off)]);
        for needle in [
            "SYSTEM-PROMPT",
            "USER-TEXT",
            "ASSISTANT-TEXT",
            "INPUT-VALUE",
            "OUTPUT-VALUE",
        ] {
            assert!(!leaks(&chat, needle), "{off}: {needle} leaked");
        }
        assert!(!leaks(&emb, "EMBED-TEXT"), "{off}");
        assert_eq!(str_attr(&chat, "llm.model_name"), "gpt-4o");
        assert_eq!(int_attr(&chat, "llm.token_count.prompt"), 10);
    }
    // `true` changes nothing: the content is there as with no variable.
    let (chat, _) = content_with_env(&[(VAR, "true")]);
    let (plain, _) = content_with_env(&[]);
    assert!(leaks(&chat, "USER-TEXT") && leaks(&chat, "INPUT-VALUE"));
    assert_eq!(all_strings(&chat), all_strings(&plain));
    let err = env_builder(&[(VAR, "sometimes")])
        .try_build::<tracing_subscriber::Registry>()
        .unwrap_err();
    assert!(err.to_string().contains(VAR), "{err}");
}

#[test]
fn every_boolean_setting_takes_the_same_spellings() {
    // `on`/`off` work for the privacy flags as for `OTEL_SDK_DISABLED`.
    let (chat, _) = content_with_env(&[("OPENINFERENCE_HIDE_INPUTS", "on")]);
    assert!(is_redacted(&chat, "input.value"));
    let (chat, _) = content_with_env(&[("OPENINFERENCE_HIDE_INPUTS", "Off")]);
    assert_eq!(str_attr(&chat, "input.value"), "INPUT-VALUE");
}

// ---------------------------------------------------------------------------------------------
// Hiding must not be bypassed by the raw shapes a value can take.
// ---------------------------------------------------------------------------------------------

#[test]
fn hide_inputs_covers_instrument_arguments_next_to_an_explicit_input_value() {
    #[tracing::instrument(fields(llm.model_name = "m", input.value = "EXPLICIT-INPUT"))]
    fn ask(question: &str, user_note: &str) {}
    let spans = capture_with(
        env_builder(&[("OPENINFERENCE_HIDE_INPUTS", "true")]),
        || ask("ARG-QUESTION", "ARG-NOTE"),
    );
    let s = span(&spans, "ask");
    assert!(is_redacted(s, "input.value"));
    assert!(!leaks(s, "ARG-QUESTION"), "{:#?}", s.attributes);
    assert!(!leaks(s, "ARG-NOTE"), "{:#?}", s.attributes);
}

#[test]
fn hide_text_covers_message_values_that_could_not_be_flattened() {
    // Not JSON: the layer keeps the raw string, which must still be masked.
    let spans = capture_with(
        env_builder(&[
            ("OPENINFERENCE_HIDE_INPUT_TEXT", "true"),
            ("OPENINFERENCE_HIDE_OUTPUT_TEXT", "true"),
            ("OPENINFERENCE_HIDE_EMBEDDINGS_TEXT", "true"),
        ]),
        || {
            tracing::info_span!(
                "chat",
                llm.model_name = "m",
                llm.input_messages = "RAW-PROMPT (not json)",
                llm.output_messages = "RAW-ANSWER (not json)",
            )
            .in_scope(|| {});
            tracing::info_span!("CreateEmbeddings", embedding.embeddings = "RAW-EMBED-TEXT")
                .in_scope(|| {});
        },
    );
    let chat = span(&spans, "chat");
    assert!(!leaks(chat, "RAW-PROMPT"), "{:#?}", chat.attributes);
    assert!(!leaks(chat, "RAW-ANSWER"), "{:#?}", chat.attributes);
    let emb = span(&spans, "CreateEmbeddings");
    assert!(!leaks(emb, "RAW-EMBED-TEXT"), "{:#?}", emb.attributes);

    let spans = capture_with(env_builder(&[("OPENINFERENCE_HIDE_ALL", "true")]), || {
        tracing::info_span!("search", retrieval.documents = "RAW-DOCS (not json)").in_scope(|| {});
    });
    let search = span(&spans, "search");
    assert!(!leaks(search, "RAW-DOCS"), "{:#?}", search.attributes);
}

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

#[test]
fn secrets_are_redacted_in_parameters_metadata_and_arguments() {
    let params = json!({
        "temperature": 0.1,
        "max_tokens": 256,
        "api_key": "SECRET-API-KEY",
        "headers": {"Authorization": "Basic SECRET-AUTH", "X-Request-Id": "req-1"},
        "client": {"password": "SECRET-PASSWORD", "access_token": "SECRET-TOKEN", "client_secret": "SECRET-CLIENT"}
    });
    let metadata =
        json!({"tenant": "acme", "db_password": "SECRET-DB", "session_token": "SECRET-SESSION"});
    let tool_args = json!({"city": "Paris", "auth_token": "SECRET-TOOL-TOKEN"});
    let output = json!([{"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "call_api", "arguments": {"url": "https://x", "apiKey": "SECRET-CALL-KEY"}}}
    ]}]);
    let spans = capture(|| {
        tracing::info_span!(
            "chat",
            llm.model_name = "gpt-4o",
            llm.invocation_parameters = %params,
            metadata = %metadata,
            llm.output_messages = %output,
        )
        .in_scope(|| {});
        tracing::info_span!("call_api", tool.name = "call_api", tool.parameters = %tool_args)
            .in_scope(|| {});
    });
    let chat = span(&spans, "chat");
    for needle in [
        "SECRET-API-KEY",
        "SECRET-AUTH",
        "SECRET-PASSWORD",
        "SECRET-TOKEN",
        "SECRET-CLIENT",
        "SECRET-DB",
        "SECRET-SESSION",
        "SECRET-CALL-KEY",
    ] {
        assert!(!leaks(chat, needle), "{needle} leaked");
    }
    let params: serde_json::Value =
        serde_json::from_str(&str_attr(chat, "llm.invocation_parameters")).unwrap();
    assert_eq!(params["api_key"], REDACTED);
    assert_eq!(params["headers"]["Authorization"], REDACTED);
    assert_eq!(params["client"]["password"], REDACTED);
    // Counts and ordinary values stay.
    assert_eq!(params["max_tokens"], 256);
    assert_eq!(params["temperature"], 0.1);
    assert_eq!(params["headers"]["X-Request-Id"], "req-1");
    let metadata: serde_json::Value = serde_json::from_str(&str_attr(chat, "metadata")).unwrap();
    assert_eq!(metadata["tenant"], "acme");
    assert_eq!(metadata["db_password"], REDACTED);
    let args: serde_json::Value = serde_json::from_str(&str_attr(
        chat,
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
    ))
    .unwrap();
    assert_eq!(args["apiKey"], REDACTED);
    assert_eq!(args["url"], "https://x");

    let tool = span(&spans, "call_api");
    assert!(!leaks(tool, "SECRET-TOOL-TOKEN"));
    let args: serde_json::Value = serde_json::from_str(&str_attr(tool, "tool.parameters")).unwrap();
    assert_eq!(args["city"], "Paris");
}

#[test]
fn secrets_in_instrument_arguments_are_redacted() {
    #[tracing::instrument(fields(tool.name = "login"))]
    fn login(user: &str, password: &str) {}
    #[tracing::instrument(fields(tool.name = "rotate"))]
    fn rotate(api_key: &str) {}
    let spans = capture(|| {
        login("ann", "SECRET-PW-ARG");
        rotate("SECRET-KEY-ARG");
    });
    let s = span(&spans, "login");
    assert!(!leaks(s, "SECRET-PW-ARG"), "{:#?}", s.attributes);
    let input: serde_json::Value = serde_json::from_str(&str_attr(s, "input.value")).unwrap();
    assert_eq!(input["user"], "ann");
    assert_eq!(input["password"], REDACTED);
    // One argument becomes the plain-text input: its name is lost there, so it is redacted first.
    let s = span(&spans, "rotate");
    assert!(!leaks(s, "SECRET-KEY-ARG"), "{:#?}", s.attributes);
}

#[test]
fn api_keys_and_bearer_tokens_in_free_text_are_redacted() {
    let key = "sk-proj-1234567890abcdefghijklmnop";
    let spans = capture(|| {
        tracing::info_span!(
            "chat",
            llm.model_name = "m",
            input.value = format!("use {key} with header Bearer eyJhbGciOi.JIUzI1NiJ9").as_str(),
        )
        .in_scope(|| {});
    });
    let input = str_attr(span(&spans, "chat"), "input.value");
    assert!(
        !input.contains(key) && !input.contains("eyJhbGciOi"),
        "{input}"
    );
    assert!(input.contains(REDACTED), "{input}");
}

#[test]
fn secret_redaction_can_be_turned_off() {
    let params = json!({"api_key": "VISIBLE"});
    let spans = capture_with(
        quiet_builder().with_privacy(Privacy::default().with_redact_secrets(false)),
        || {
            tracing::info_span!("chat", llm.model_name = "m", llm.invocation_parameters = %params)
                .in_scope(|| {});
        },
    );
    assert!(leaks(span(&spans, "chat"), "VISIBLE"));
}

// ---------------------------------------------------------------------------------------------
// Size limits
// ---------------------------------------------------------------------------------------------

#[test]
fn long_values_are_truncated_at_a_char_boundary_with_marker_and_length() {
    // 3-byte characters: a cap of 100 falls inside one.
    let text = "€".repeat(1000);
    assert!(!text.is_char_boundary(100));
    let spans = capture_with(
        env_builder(&[("OPENINFERENCE_MAX_VALUE_LENGTH", "100")]),
        || {
            tracing::info_span!("chat", llm.model_name = "m", input.value = text.as_str())
                .in_scope(|| {});
        },
    );
    let input = str_attr(span(&spans, "chat"), "input.value");
    let marker = format!("…[truncated, {} bytes]", text.len());
    assert!(input.ends_with(&marker), "{input}");
    let kept = &input[..input.len() - marker.len()];
    assert_eq!(
        kept,
        "€".repeat(33),
        "cut at the boundary at or below 100 bytes"
    );
    assert!(input.len() <= 100 + MARKER_MAX);
}

#[test]
fn every_exported_string_respects_the_cap() {
    let cap = 64;
    let long = "ab€d".repeat(500);
    let messages = json!([{"role": "user", "content": long}, {"role": "user", "content": [{"type": "text", "text": long}]}]);
    let docs = json!([{"id": long, "content": long, "metadata": {"k": long}}]);
    let spans = capture_with(
        quiet_builder().with_privacy(Privacy::default().with_max_value_len(cap)),
        || {
            tracing::info_span!(
                "chat",
                llm.model_name = "m",
                llm.input_messages = %messages,
                retrieval.documents = %docs,
                output.value = long.as_str(),
                custom.field = long.as_str(),
            )
            .in_scope(|| tracing::info!(note = long.as_str(), "{long}"));
        },
    );
    let s = span(&spans, "chat");
    let strings = all_strings(s);
    assert!(strings.len() > 6);
    for v in strings {
        assert!(v.len() <= cap + MARKER_MAX, "{} bytes: {v}", v.len());
    }
    assert!(str_attr(s, "output.value").ends_with(&format!("…[truncated, {} bytes]", long.len())));
}

#[test]
fn base64_images_over_the_cap_are_redacted() {
    let big = format!("data:image/png;base64,{}", "QUJD".repeat(10_000)); // 40,022 bytes
    let small = format!("data:image/png;base64,{}", "QUJD".repeat(100));
    let messages = json!([{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": big}},
        {"type": "image_url", "image_url": {"url": small}}
    ]}]);
    let key = |i: usize| {
        format!("llm.input_messages.0.message.contents.{i}.message_content.image.image.url")
    };
    let run = |builder: LlmLayerBuilder| {
        let spans = capture_with(builder, || {
            tracing::info_span!("chat", llm.model_name = "m", llm.input_messages = %messages)
                .in_scope(|| {});
        });
        span(&spans, "chat").clone()
    };
    // Default cap 32,000, and no value length cap in the way.
    let s = run(quiet_builder().with_privacy(Privacy::default().with_max_value_len(0)));
    assert_eq!(str_attr(&s, &key(0)), REDACTED);
    assert_eq!(str_attr(&s, &key(1)), small);
    // From the environment.
    let s = run(env_builder(&[
        ("OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH", "100"),
        ("OPENINFERENCE_MAX_VALUE_LENGTH", "0"),
    ]));
    assert_eq!(str_attr(&s, &key(0)), REDACTED);
    assert_eq!(str_attr(&s, &key(1)), REDACTED);
}

/// An estimate of the encoded attribute size that is never above the layer's own.
fn content_bytes(s: &SpanData) -> usize {
    s.attributes
        .iter()
        .chain(s.events.iter().flat_map(|e| e.attributes.iter()))
        .map(|kv| {
            kv.key.as_str().len()
                + match &kv.value {
                    Value::String(x) => x.as_str().len(),
                    Value::Array(Array::String(v)) => v.iter().map(|x| x.as_str().len()).sum(),
                    Value::Array(Array::F64(v)) => v.len() * 8,
                    Value::Array(Array::I64(v)) => v.len() * 8,
                    _ => 8,
                }
        })
        .sum()
}

#[test]
fn oversized_span_is_trimmed_and_still_exported() {
    let budget = 64 * 1024;
    let spans = capture_with(
        quiet_builder().with_privacy(
            Privacy::default()
                .with_max_value_len(0)
                .with_max_span_bytes(budget),
        ),
        || {
            let messages: Vec<_> = (0..200)
                .map(|i| json!({"role": "user", "content": format!("{i}:{}", "m".repeat(2000))}))
                .collect();
            let messages = serde_json::Value::from(messages);
            tracing::info_span!(
                "chat",
                llm.model_name = "gpt-4o",
                llm.token_count.prompt = 123,
                input.value = "x".repeat(5 << 20).as_str(),
                llm.input_messages = %messages,
            )
            .in_scope(|| {});
        },
    );
    let s = span(&spans, "chat");
    assert!(content_bytes(s) <= budget, "{} bytes", content_bytes(s));
    assert_eq!(
        attr(s, "openinference.span.trimmed"),
        Some(&Value::Bool(true))
    );
    assert!(int_attr(s, "openinference.span.trimmed.original_bytes") > 5 << 20);
    // What identifies the span survives the trim.
    assert_eq!(str_attr(s, "openinference.span.kind"), "LLM");
    assert_eq!(str_attr(s, "llm.model_name"), "gpt-4o");
    assert_eq!(int_attr(s, "llm.token_count.prompt"), 123);
    // The huge input is cut with the marker, its original length kept.
    if let Some(Value::String(input)) = attr(s, "input.value") {
        assert!(
            input
                .as_str()
                .ends_with(&format!("…[truncated, {} bytes]", 5 << 20)),
            "{}",
            &input.as_str()[input.as_str().len().saturating_sub(60)..]
        );
    }
}

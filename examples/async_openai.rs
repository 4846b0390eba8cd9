//! An agent turn made with the `async-openai` client, traced with the `async-openai`
//! integration, against a fake OpenAI server this example starts on loopback: it runs offline,
//! with no key.
//!
//! ```text
//! cargo run --example async_openai --features async-openai
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:6006 cargo run --example async_openai --features async-openai
//! ```
//!
//! The trace: an AGENT root; a chat in which the model asks for a tool; the TOOL; a second chat
//! that answers from the tool's result; a streamed chat whose chunks carry text, a streamed
//! tool call and, in the last chunk, the usage; and an EMBEDDING of the answer. Usage carries
//! cached and reasoning tokens, so cost shows them. With no `OTEL_*` endpoint set, the tree is
//! printed on stderr.

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionResponseStream, CreateChatCompletionRequest, CreateChatCompletionResponse,
};
use async_openai::types::embeddings::{CreateEmbeddingRequest, CreateEmbeddingResponse};
use async_openai::Client;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures_util::StreamExt as _;
use serde_json::{json, Value as Json};
use std::time::Duration;
use tracing::instrument;
use tracing_openinference::integrations::async_openai::{OpenAiSpanExt, TracedChatStream};
use tracing_openinference::LlmLayer;
use tracing_subscriber::prelude::*;

const MODEL: &str = "o4-mini";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // reqwest, with rustls in the build, needs a process-wide crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let layer = LlmLayer::new();
    let handle = layer.handle();
    tracing_subscriber::registry().with(layer).init();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let answer = runtime.block_on(async {
        let base = fake_openai().await.map_err(BoxError::from)?;
        let client = Client::with_config(
            OpenAIConfig::new()
                .with_api_base(base)
                .with_api_key("not-a-real-key"),
        );
        weather_agent(&client, "Should I take an umbrella in Paris today?").await
    });
    let answer = answer.map_err(|e| e as Box<dyn std::error::Error>)?;
    println!("{answer}");
    drop(runtime);

    handle.shutdown(Duration::from_secs(10))?;
    Ok(())
}

/// The agent turn: ask, run the tool the model asks for, ask again, stream a summary, embed
/// the answer for the agent's memory.
#[instrument(skip(client), fields(agent.name = "weather-agent", session.id = "session-7"), ret, err)]
async fn weather_agent(client: &Client<OpenAIConfig>, question: &str) -> Result<String, BoxError> {
    let mut messages = vec![
        json!({"role": "system", "content": "You answer weather questions. Use the tools."}),
        json!({"role": "user", "content": question}),
    ];
    let first = chat(client, request(&messages, false)?).await?;
    let reply = &first.choices[0].message;
    messages.push(serde_json::to_value(reply)?);
    for call in reply.tool_calls.iter().flatten() {
        if let async_openai::types::chat::ChatCompletionMessageToolCalls::Function(call) = call {
            let result = get_weather(&call.function.arguments);
            messages.push(json!({"role": "tool", "tool_call_id": call.id, "content": result}));
        }
    }
    let second = chat(client, request(&messages, false)?).await?;
    let answer = second.choices[0]
        .message
        .content
        .clone()
        .unwrap_or_default();

    messages.push(json!({"role": "assistant", "content": answer}));
    messages.push(json!({"role": "user", "content": "Summarize that in a few words and save it."}));
    let mut stream = chat_stream(client, request(&messages, true)?).await?;
    let mut summary = String::new();
    while let Some(chunk) = stream.next().await {
        for choice in chunk?.choices {
            summary.push_str(choice.delta.content.as_deref().unwrap_or(""));
        }
    }
    drop(stream);

    embed(client, &answer).await?;
    Ok(format!("{answer} ({summary})"))
}

/// A traced chat: the `#[instrument]` line and two lines.
#[instrument(skip_all, err)]
async fn chat(
    client: &Client<OpenAIConfig>,
    request: CreateChatCompletionRequest,
) -> Result<CreateChatCompletionResponse, OpenAIError> {
    tracing::Span::current().record_chat_request(&request);
    tracing::Span::current().record_chat_result(client.chat().create(request).await)
}

/// A traced streamed chat: the span stays open until the stream is read to its end.
#[instrument(skip_all, err)]
async fn chat_stream(
    client: &Client<OpenAIConfig>,
    request: CreateChatCompletionRequest,
) -> Result<TracedChatStream<ChatCompletionResponseStream>, OpenAIError> {
    tracing::Span::current().record_chat_request(&request);
    Ok(TracedChatStream::new(
        client.chat().create_stream(request).await?,
    ))
}

/// A traced embedding.
#[instrument(skip_all, err)]
async fn embed(
    client: &Client<OpenAIConfig>,
    text: &str,
) -> Result<CreateEmbeddingResponse, BoxError> {
    let request: CreateEmbeddingRequest =
        serde_json::from_value(json!({"model": "text-embedding-3-small", "input": [text]}))?;
    tracing::Span::current().record_embedding_request(&request);
    let response = client.embeddings().create(request).await?;
    tracing::Span::current().record_embedding_response(&response);
    Ok(response)
}

/// The tool the model asks for.
#[instrument(fields(tool.name = "get_weather", tool.description = "Current weather of a city"), ret)]
fn get_weather(arguments: &str) -> String {
    let city = serde_json::from_str::<Json>(arguments)
        .ok()
        .and_then(|a| a["city"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    format!("{city}: 14°C, light rain from 15:00")
}

/// The request for `messages`, with the tools the model may call.
fn request(
    messages: &[Json],
    stream: bool,
) -> Result<CreateChatCompletionRequest, serde_json::Error> {
    let tool = |name: &str, description: &str, arg: &str| {
        json!({"type": "function", "function": {"name": name, "description": description,
            "parameters": {"type": "object", "properties": {arg: {"type": "string"}},
                           "required": [arg]}}})
    };
    let mut request = json!({
        "model": MODEL,
        "messages": messages,
        "max_completion_tokens": 512,
        "reasoning_effort": "low",
        "tools": [tool("get_weather", "Current weather of a city", "city"),
                  tool("save_note", "Saves a note for later", "text")],
    });
    if stream {
        request["stream"] = json!(true);
        request["stream_options"] = json!({"include_usage": true});
    }
    serde_json::from_value(request)
}

// ---------------------------------------------------------------------------------------------
// The fake OpenAI server: loopback only, canned answers.

/// Starts the server on a free loopback port; its API base URL.
async fn fake_openai() -> std::io::Result<String> {
    let app = Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/embeddings", post(embeddings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/v1"))
}

/// Usage with cached prompt tokens and reasoning tokens, as a reasoning model reports it.
fn usage(prompt: u32, completion: u32, cached: u32, reasoning: u32) -> Json {
    json!({"prompt_tokens": prompt, "completion_tokens": completion,
           "total_tokens": prompt + completion,
           "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
           "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
               "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}})
}

/// `/v1/chat/completions`: a tool call for a new question, an answer once the tool replied,
/// and a stream when asked for one.
async fn chat_completions(body: Bytes) -> Response {
    let request: Json = serde_json::from_slice(&body).unwrap_or_default();
    if request["stream"] == json!(true) {
        return stream_reply();
    }
    let last_role = request["messages"]
        .as_array()
        .and_then(|m| m.last())
        .map(|m| m["role"].clone());
    let (message, finish, usage) = if last_role == Some(json!("tool")) {
        (
            json!({"role": "assistant",
                   "content": "Yes: 14°C with light rain from 15:00 in Paris."}),
            "stop",
            usage(1480, 160, 1280, 128),
        )
    } else {
        (
            json!({"role": "assistant", "content": null, "tool_calls": [{
                "id": "call_weather_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}),
            "tool_calls",
            usage(1320, 210, 1024, 192),
        )
    };
    json_response(json!({
        "id": "chatcmpl-fake-1", "object": "chat.completion", "created": 1767225600,
        "model": "o4-mini-2025-04-16",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }))
}

/// A streamed reply as server-sent events, a few milliseconds apart: text, a tool call in
/// pieces, the finish reason, and the usage alone in the last chunk.
fn stream_reply() -> Response {
    let chunk = |delta: Json, finish: Option<&str>, usage: Option<Json>| {
        let choices = if delta.is_null() {
            json!([])
        } else {
            json!([{"index": 0, "delta": delta, "finish_reason": finish}])
        };
        json!({"id": "chatcmpl-fake-stream", "object": "chat.completion.chunk",
               "created": 1767225600, "model": "o4-mini-2025-04-16",
               "choices": choices, "usage": usage})
    };
    let call = |id: Option<&str>, name: Option<&str>, args: &str| {
        json!({"tool_calls": [{"index": 0, "id": id, "type": id.map(|_| "function"),
                               "function": {"name": name, "arguments": args}}]})
    };
    let events = [
        chunk(json!({"role": "assistant", "content": ""}), None, None),
        chunk(json!({"content": "Umbrella: yes, "}), None, None),
        chunk(json!({"content": "after 15:00."}), None, None),
        chunk(call(Some("call_note_1"), Some("save_note"), ""), None, None),
        chunk(call(None, None, "{\"text\":\"Umbrella"), None, None),
        chunk(call(None, None, " after 15:00\"}"), None, None),
        chunk(json!({}), Some("tool_calls"), None),
        chunk(Json::Null, None, Some(usage(1650, 48, 1536, 16))),
    ];
    let mut lines: Vec<String> = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    lines.push("data: [DONE]\n\n".to_owned());
    let body = futures_util::stream::iter(lines).then(|line| async move {
        tokio::time::sleep(Duration::from_millis(15)).await;
        Ok::<_, std::convert::Infallible>(line)
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(body),
    )
        .into_response()
}

/// `/v1/embeddings`: a small vector per input.
async fn embeddings(body: Bytes) -> Response {
    let request: Json = serde_json::from_slice(&body).unwrap_or_default();
    let inputs = match &request["input"] {
        Json::Array(items) => items.len(),
        _ => 1,
    };
    let data: Vec<Json> = (0..inputs)
        .map(|i| json!({"index": i, "object": "embedding", "embedding": [0.12, -0.03, 0.56]}))
        .collect();
    json_response(
        json!({"object": "list", "model": "text-embedding-3-small", "data": data,
                         "usage": {"prompt_tokens": 14, "total_tokens": 14}}),
    )
}

fn json_response(value: Json) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

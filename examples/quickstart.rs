//! A small, offline RAG support agent traced with `tracing-openinference`.
//!
//! The model is simulated, so it runs with no keys and no network and always prints the same
//! tree on stderr. Point it at Phoenix with the standard variable and the same spans go there:
//!
//! ```text
//! cargo run --example quickstart
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:6006 cargo run --example quickstart
//! ```
//!
//! The trace: an AGENT root made from a managed prompt, an EMBEDDING of the question, a
//! RETRIEVER with scored documents, an LLM call that asks for two tools, the TOOL, a second
//! tool that fails, a second LLM call that answers from the tool results, and a streamed LLM
//! call that writes a one-line summary (time to first token marked), all in one session.

use serde_json::json;
use std::fmt;
use std::time::Duration;
use tracing::instrument;
use tracing_openinference::{
    Document, LlmLayer, LlmSpanExt, Message, Prompt, StreamGuard, ToolCall, Usage,
};
use tracing_subscriber::prelude::*;

fn main() {
    let layer = LlmLayer::new();
    let handle = layer.handle();
    tracing_subscriber::registry().with(layer).init();

    let answer = support_agent(
        "session-42",
        "Will it rain in Paris tomorrow, and where is order A-1001?",
    );
    println!("{answer}");

    if let Err(e) = handle.shutdown(Duration::from_secs(10)) {
        eprintln!("export did not finish: {e}");
        std::process::exit(1);
    }
}

/// The agent: retrieve, ask the model, run the tools it asks for, ask again.
#[instrument(skip(session), fields(agent.name = "support-agent", session.id = %session, user.id = "user-7"), ret)]
fn support_agent(session: &str, question: &str) -> String {
    // The LLM calls below link this prompt (Langfuse's prompt management).
    let _ =
        tracing::Span::current().record_prompt(&Prompt::new("support-answer", "3").with_template(
            "Answer with these notes:\n{notes}",
            json!({"notes": "the retrieved help-center articles"}),
        ));
    embed_query(question);
    let docs = search_docs(question, 3);
    let context: Vec<&str> = docs.iter().map(|d| d.content.as_str()).collect();

    let mut messages = vec![
        Message::system(format!("Answer with these notes:\n{}", context.join("\n"))),
        Message::user(question),
    ];
    let first = chat("gpt-4o-mini", &messages);
    messages.push(first.clone());

    for call in &first.tool_calls {
        let result = match call.function.name.as_str() {
            "get_weather" => get_weather("Paris"),
            _ => check_order_status("A-1001").unwrap_or_else(|e| format!("error: {e}")),
        };
        messages.push(Message::tool_result(&call.id, &call.function.name, result));
    }
    let last = chat("gpt-4o-mini", &messages);
    let answer = last.content.unwrap_or_default();
    let summary = stream_summary("gpt-4o-mini", &answer);
    format!("{answer}\n({summary})")
}

/// The question's embedding, for the vector search (simulated, deterministic).
#[instrument(skip_all, fields(
    embedding.model_name = "text-embedding-3-small",
    llm.provider = "openai",
    llm.token_count.prompt,
))]
fn embed_query(question: &str) -> Vec<f64> {
    let vector: Vec<f64> = (0..8)
        .map(|i| ((question.len() + i) % 7) as f64 / 7.0)
        .collect();
    let span = tracing::Span::current();
    let _ = span.record_json(
        "embedding.embeddings",
        &json!([{"text": question, "vector": vector}]),
    );
    span.record("llm.token_count.prompt", question.len() as u64 / 4 + 1);
    vector
}

/// A one-line summary of the answer, streamed from the simulated model: the first chunk
/// marks time to first token.
#[instrument(skip_all, fields(
    llm.model_name = %model,
    llm.provider = "openai",
    llm.invocation_parameters = %json!({"temperature": 0.0, "max_tokens": 32, "stream": true}),
))]
fn stream_summary(model: &str, answer: &str) -> String {
    let span = tracing::Span::current();
    let messages = [
        Message::system("Summarize in one line."),
        Message::user(answer),
    ];
    let _ = span.record_input_messages(&messages);
    let mut stream = StreamGuard::new(span.clone());
    let mut summary = String::new();
    for chunk in ["Rain ", "tomorrow; ", "order lookup ", "pending."] {
        // Simulated network latency before each chunk.
        std::thread::sleep(Duration::from_millis(15));
        stream.chunk();
        summary.push_str(chunk);
    }
    stream.finish();
    let _ = span.record_usage(Usage {
        prompt: answer.len() as u64 / 4 + 12,
        completion: 8,
        ..Usage::default()
    });
    let _ = span.record_output_messages(&[Message::assistant(summary.as_str())]);
    let _ = span.record_response_model("gpt-4o-mini-2024-07-18");
    summary
}

/// Vector search over the help center (simulated, deterministic scores).
#[instrument(fields(retrieval.documents))]
fn search_docs(query: &str, top_k: usize) -> Vec<Document> {
    let corpus = [
        (
            "kb-12",
            "Orders ship within 2 business days; tracking is emailed.",
            0.91,
        ),
        (
            "kb-7",
            "Weather questions are answered with the get_weather tool.",
            0.84,
        ),
        ("kb-3", "Returns are free within 30 days.", 0.42),
        ("kb-9", "Our office is closed on public holidays.", 0.13),
    ];
    let docs: Vec<Document> = corpus
        .iter()
        .take(top_k)
        .map(|(id, text, score)| Document::new(*id, *text, *score))
        .collect();
    let _ = tracing::Span::current().record_documents(&docs);
    docs
}

/// One chat completion from the simulated model.
#[instrument(skip_all, fields(
    llm.model_name = %model,
    llm.provider = "openai",
    llm.invocation_parameters = %json!({"temperature": 0.2, "max_tokens": 256}),
    llm.token_count.prompt,
    llm.token_count.completion,
))]
fn chat(model: &str, messages: &[Message]) -> Message {
    let span = tracing::Span::current();
    let _ = span.record_input_messages(messages);
    let _ = span.record_json("llm.tools", &tools());
    // What an HTTP client logs while it connects (hyper and reqwest log at DEBUG and TRACE):
    // at the default event level it becomes no span event.
    tracing::debug!(target: "hyper_util::client::legacy::connect::http", "connecting to api.openai.com:443");
    let reply = simulated_model(messages);
    tracing::info!(tool_calls = reply.tool_calls.len(), "model replied");
    let prompt = messages
        .iter()
        .map(|m| m.content.as_deref().unwrap_or("").len() as u64 / 4 + 4)
        .sum::<u64>();
    let completion = reply.content.as_deref().unwrap_or("").len() as u64 / 4 + 12;
    let _ = span.record_usage(Usage {
        prompt,
        completion,
        cache_read: if messages.len() > 2 { prompt / 2 } else { 0 },
        ..Usage::default()
    });
    let _ = span.record_output_messages(std::slice::from_ref(&reply));
    // The model version the provider answered with.
    let _ = span.record_response_model("gpt-4o-mini-2024-07-18");
    reply
}

/// The tools the model may call, in the OpenAI tool format.
fn tools() -> serde_json::Value {
    let tool = |name: &str, description: &str, arg: &str| {
        json!({"type": "function", "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": {arg: {"type": "string"}}, "required": [arg]},
        }})
    };
    json!([
        tool("get_weather", "Weather forecast for a city", "city"),
        tool("check_order_status", "Where an order is", "order_id"),
    ])
}

/// The "model": asks for the two tools first, then answers from their results.
fn simulated_model(messages: &[Message]) -> Message {
    let tool_results: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == "tool")
        .filter_map(|m| m.content.as_deref())
        .collect();
    if tool_results.is_empty() {
        Message::tool_calls(vec![
            ToolCall::new("call_1", "get_weather", json!({"city": "Paris"})),
            ToolCall::new(
                "call_2",
                "check_order_status",
                json!({"order_id": "A-1001"}),
            ),
        ])
    } else {
        Message::assistant(format!(
            "Tomorrow in Paris: {}. I could not look up order A-1001 right now; it usually ships within 2 business days.",
            tool_results[0]
        ))
    }
}

/// A tool: tomorrow's weather (simulated).
#[instrument(fields(tool.name = "get_weather", tool.description = "Weather forecast for a city"), ret)]
fn get_weather(city: &str) -> String {
    format!("light rain, 14°C in {city}")
}

/// A tool that fails: the order service is down.
#[instrument(fields(tool.name = "check_order_status"), err)]
fn check_order_status(order_id: &str) -> Result<String, OrderError> {
    Err(OrderError::Unavailable(order_id.to_owned()))
}

/// Why an order lookup failed.
#[derive(Debug)]
enum OrderError {
    /// The order service did not answer.
    Unavailable(String),
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::Unavailable(id) => {
                write!(f, "order service unavailable while looking up {id}")
            }
        }
    }
}

impl std::error::Error for OrderError {}

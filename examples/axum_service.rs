//! An HTTP service (axum) that continues its caller's trace and session: it reads the incoming
//! `traceparent` and `baggage` (`session.id`, `user.id`), traces its LLM call under them, and
//! returns the trace id in an `X-Trace-Id` header. `examples/http_client.rs` is the other side.
//!
//! ```text
//! cargo run --example axum_service
//! curl -i -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
//!      -H 'baggage: session.id=conv-42,user.id=user-7' \
//!      'http://127.0.0.1:3000/ask?q=hello'
//! ```
//!
//! Set `AXUM_SERVICE_SELF_TEST=1` to make it send itself one request and exit (used in CI).

use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use opentelemetry::trace::TraceContextExt;
use std::collections::HashMap;
use std::time::Duration;
use tracing::Instrument;
use tracing_openinference::propagation::extract_context;
use tracing_openinference::{LlmLayer, LlmSpanExt, Message, Usage};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() {
    let layer = LlmLayer::new();
    let handle = layer.handle();
    tracing_subscriber::registry().with(layer).init();

    let app = Router::new().route("/ask", get(ask));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("address");
    eprintln!("listening on http://{addr}");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    if std::env::var_os("AXUM_SERVICE_SELF_TEST").is_some() {
        let (trace_id, session) = self_test(addr).await;
        println!("X-Trace-Id: {trace_id}\nX-Session-Id: {session}");
        assert_eq!(trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(session, "conv-42");
    } else {
        let _ = tokio::signal::ctrl_c().await;
    }
    server.abort();
    handle.shutdown(Duration::from_secs(5)).expect("flush");
}

/// `GET /ask?q=...`: continues the caller's trace and session and answers with a simulated
/// model.
async fn ask(
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    let carrier: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    // The caller's span becomes the parent; its session and user are inherited by every span
    // under this one (attach before entering the span).
    let remote = extract_context(&carrier);
    let span = tracing::info_span!("GET /ask", http.route = "/ask");
    if let Err(e) = remote.attach(&span) {
        eprintln!("could not continue the caller's trace: {e}");
    }
    let trace_id = span.context().span().span_context().trace_id().to_string();

    let question = params.get("q").cloned().unwrap_or_default();
    let answer = answer(question).instrument(span).await;

    let mut response = answer.into_response();
    if let Ok(value) = HeaderValue::from_str(&trace_id) {
        response.headers_mut().insert("x-trace-id", value);
    }
    if let Some(value) = remote
        .session_id()
        .and_then(|s| HeaderValue::from_str(s).ok())
    {
        response.headers_mut().insert("x-session-id", value);
    }
    response
}

/// The LLM call (simulated).
#[tracing::instrument(fields(llm.model_name = "gpt-4o-mini", llm.provider = "openai"))]
async fn answer(question: String) -> String {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let span = tracing::Span::current();
    let _ = span.record_input_messages(&[Message::user(question.clone())]);
    let reply = format!("You asked: {question}");
    let _ = span.record_output_messages(&[Message::assistant(reply.clone())]);
    let _ = span.record_usage(Usage {
        prompt: 9,
        completion: 6,
        ..Usage::default()
    });
    reply
}

/// Sends one request with a `traceparent` and a `baggage` over a plain TCP connection; returns
/// `X-Trace-Id` and `X-Session-Id`.
async fn self_test(addr: std::net::SocketAddr) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = "GET /ask?q=hello HTTP/1.1\r\nhost: localhost\r\n\
                   traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\
                   baggage: session.id=conv-42,user.id=user-7\r\n\
                   connection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    );
    read.await.expect("response in time").expect("read");
    let header = |name: &str| {
        response
            .lines()
            .find_map(|l| l.strip_prefix(name).map(str::to_owned))
            .unwrap_or_default()
    };
    (header("x-trace-id: "), header("x-session-id: "))
}

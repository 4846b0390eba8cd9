//! The client side of one session across services: a chat turn in session `conv-42` calls
//! another service, whose spans join the same trace and the same session and user.
//!
//! ```text
//! cargo run --example http_client
//! ```
//!
//! `inject_context` writes `traceparent` and `baggage` (`session.id`, `user.id`) for the
//! request into any string map; here they go out over a plain HTTP/1.1 connection, and with
//! any HTTP client they are headers set on the request. The service it calls runs in this
//! process so that the example runs alone, offline (`examples/axum_service.rs` is the same
//! server side as a service of its own). The console prints one trace: the client's spans, then
//! the server's (a local root whose remote parent is the client's call), all of them with
//! `session.id` and `user.id` when exported to Phoenix or Langfuse.

use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::Duration;
use tracing::Instrument;
use tracing_openinference::propagation::{extract_context, inject_context};
use tracing_openinference::{LlmLayer, LlmSpanExt, Usage};
use tracing_subscriber::prelude::*;

fn main() {
    let layer = LlmLayer::new();
    let handle = layer.handle();
    tracing_subscriber::registry().with(layer).init();

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind loopback");
    let addr = listener.local_addr().expect("address");
    let app = Router::new().route("/answer", get(answer));
    runtime.spawn(async move { axum::serve(listener, app).await });

    // The client: a chat turn of a user's session, calling the other service.
    let turn = tracing::info_span!("chat turn", session.id = "conv-42", user.id = "user-7");
    let reply = turn.in_scope(|| {
        let call = tracing::info_span!("GET /answer", otel.kind = "client");
        let _entered = call.enter();
        let mut headers = HashMap::new();
        inject_context(&call, &mut headers);
        get_text(addr, "/answer", &headers)
    });
    println!("reply: {reply}");

    drop(turn);
    handle.shutdown(Duration::from_secs(5)).expect("flush");
}

/// The server side: continues the caller's trace and session, then calls a (simulated) model.
async fn answer(headers: HeaderMap) -> String {
    let carrier: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let request = tracing::info_span!("handle /answer", http.route = "/answer");
    if let Err(e) = extract_context(&carrier).attach(&request) {
        eprintln!("could not continue the caller's trace: {e}");
    }
    async {
        let chat = tracing::info_span!(
            "chat",
            llm.model_name = "gpt-4o-mini",
            llm.provider = "openai"
        );
        let _ = chat.record_usage(Usage {
            prompt: 12,
            completion: 5,
            ..Usage::default()
        });
        let _ = chat.record_output("It is sunny.");
        "It is sunny.".to_owned()
    }
    .instrument(request)
    .await
}

/// A plain HTTP/1.1 GET with `headers`; returns the body.
fn get_text(addr: std::net::SocketAddr, path: &str, headers: &HashMap<String, String>) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

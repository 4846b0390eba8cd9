//! Credentials never leave: every exported string position × every recognized format, checked
//! on the raw bytes a loopback OTLP collector receives.
//!
//! For each position a layer exports, to its own loopback collector, one span per format with
//! the credential placed there; the received protobuf bytes must not contain the credential's
//! distinctive part, and must carry the redaction marker once per format at least.

#[path = "common/json_sink.rs"]
mod json_sink;

use json_sink::JsonSink;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use opentelemetry::KeyValue;
use std::time::Duration;
use tracing_openinference::privacy::Privacy;
use tracing_openinference::{LlmLayer, LlmLayerBuilder};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::prelude::*;

/// One credential format: its name, a text holding one, and the part that must not leave.
struct Format {
    name: &'static str,
    text: String,
    secret: String,
}

/// The credentials are put together at run time from pieces, so no line of this file is one.
fn formats() -> Vec<Format> {
    let f = |name: &'static str, text: String, secret: String| Format { name, text, secret };
    let openai = ["sk-proj-", "Xy7Qa1Bc2Dd3Ee4Ff5Gg6Hh"];
    let anthropic = ["sk-ant-", "api03-Qw9Er8Ty7Ui6Op5As4Df3Gh2Jk1Lz"];
    let aws_id = ["AKIA", "QWERTYUIOP234567"];
    let aws_secret = "Zr8kP2mN5vQ1wE7tY4uI0oPaS3dF6gH9jK2lXcVb";
    let github = ["ghp_", "R2d2C3poBb8Yoda1Luke2Leia3Han4Solo5Xy"];
    let github_pat = ["github_pat_", "11ABCDEFG0Qz9Xw8Vu7Ts6Rq5Po4"];
    let slack = ["xoxb-", "2048-1024-AbCdEfGhIjKlMnOp7"];
    let jwt = [
        "eyJhbGciOiJIUzI1NiJ9",
        "eyJzdWIiOiJ1c2VyNDIifQ",
        "c2lnbmF0dXJlX3ZhbHVlX2hlcmU",
    ];
    let stripe = ["sk_live_", "51Hq8ZpLk3vRt9WxYz"];
    let google = ["AIza", "SyD8s7Kq2LmN4pR6tV9xZ1bC3eG5hJ7kM0o"];
    let azure = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    let pem_body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
    let pem = ["-----BEGIN ", "PRIVATE KEY-----", "-----END "];
    vec![
        f(
            "openai",
            format!("key {}{} failed", openai[0], openai[1]),
            openai[1].into(),
        ),
        f(
            "bearer",
            "header Bearer tok3nV4lue9Zz1 sent".into(),
            "tok3nV4lue9Zz1".into(),
        ),
        f(
            "anthropic",
            format!("using {}{}", anthropic[0], anthropic[1]),
            anthropic[1].into(),
        ),
        f(
            "aws_key_id",
            format!("id {}{} here", aws_id[0], aws_id[1]),
            aws_id[1].into(),
        ),
        f(
            "aws_secret",
            format!("aws_secret_access_key={aws_secret} in env"),
            aws_secret.into(),
        ),
        f(
            "github",
            format!("token {}{}", github[0], github[1]),
            github[1].into(),
        ),
        f(
            "github_pat",
            format!("pat {}{}", github_pat[0], github_pat[1]),
            github_pat[1].into(),
        ),
        f(
            "slack",
            format!("slack {}{}", slack[0], slack[1]),
            slack[1].into(),
        ),
        f(
            "jwt",
            format!("session {}.{}.{} expired", jwt[0], jwt[1], jwt[2]),
            jwt[1].into(),
        ),
        f(
            "stripe",
            format!("charge with {}{}", stripe[0], stripe[1]),
            stripe[1].into(),
        ),
        f(
            "google",
            format!("maps key {}{}", google[0], google[1]),
            google[1].into(),
        ),
        f("azure_hex", format!("api-key: {azure}"), azure.into()),
        f(
            "private_key",
            format!("{}{}\n{pem_body}\n{}{}", pem[0], pem[1], pem[2], pem[1]),
            pem_body.into(),
        ),
        f(
            "url_password",
            "connect postgres://app:Pg-S3cret-77@db.internal:5432/prod".into(),
            "Pg-S3cret-77".into(),
        ),
        f(
            "query_password",
            "GET https://api.example.com/v1?user=ann&password=Qp-9zx-Lm".into(),
            "Qp-9zx-Lm".into(),
        ),
        f(
            "query_token",
            "callback https://h.example/cb?access_token=Tq81mZpVx&x=1".into(),
            "Tq81mZpVx".into(),
        ),
    ]
}

/// Where a string can leave the process.
#[derive(Debug, Clone, Copy)]
enum Position {
    Attribute,
    Argument,
    EventName,
    EventAttribute,
    StatusMessage,
    SpanName,
    LinkAttribute,
    Resource,
    /// An LLM span's messages: a message's text, a tool call's arguments and the reply, which
    /// leave flattened and in the chat JSON of `input.value` / `output.value`.
    Message,
}

const POSITIONS: [Position; 9] = [
    Position::Attribute,
    Position::Argument,
    Position::EventName,
    Position::EventAttribute,
    Position::StatusMessage,
    Position::SpanName,
    Position::LinkAttribute,
    Position::Resource,
    Position::Message,
];

#[tracing::instrument(err, skip(text), fields(llm.model_name = "gpt-4o-mini"))]
fn failing_call(text: &str) -> Result<(), String> {
    Err(format!("401 Unauthorized: {text}"))
}

#[tracing::instrument(fields(llm.model_name = "gpt-4o-mini"))]
fn call_with(prompt: &str) {}

/// One span per format with its credential at `position`.
fn emit(position: Position, formats: &[Format]) {
    for (i, f) in formats.iter().enumerate() {
        let text = f.text.as_str();
        match position {
            Position::Attribute => {
                tracing::info_span!("case", app.note = %text, llm.model_name = "m").in_scope(|| {})
            }
            Position::Argument => call_with(text),
            Position::EventName => tracing::info_span!("case", llm.model_name = "m")
                .in_scope(|| tracing::warn!("retrying with {}", text)),
            Position::EventAttribute => tracing::info_span!("case", llm.model_name = "m")
                .in_scope(|| tracing::warn!(detail = %text, "retrying")),
            Position::StatusMessage => {
                let _ = failing_call(text);
            }
            Position::SpanName => {
                let name = format!("case {i} {text}");
                tracing::info_span!("case", otel.name = %name, llm.model_name = "m").in_scope(|| {})
            }
            Position::LinkAttribute => {
                let span = tracing::info_span!("case", llm.model_name = "m");
                let linked = SpanContext::new(
                    TraceId::from(7u128 + i as u128),
                    SpanId::from(9u64),
                    TraceFlags::SAMPLED,
                    true,
                    TraceState::default(),
                );
                span.add_link_with_attributes(linked, vec![KeyValue::new("note", f.text.clone())]);
                span.in_scope(|| {});
            }
            Position::Resource => tracing::info_span!("case", llm.model_name = "m").in_scope(|| {}),
            Position::Message => {
                let arguments = serde_json::json!({ "note": text }).to_string();
                let input = serde_json::json!([
                    {"role": "user", "content": text},
                    {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                        "function": {"name": "lookup", "arguments": arguments}}]},
                ])
                .to_string();
                let output =
                    serde_json::json!([{"role": "assistant", "content": text}]).to_string();
                tracing::info_span!(
                    "case",
                    llm.model_name = "m",
                    llm.input_messages = %input,
                    llm.output_messages = %output,
                )
                .in_scope(|| {})
            }
        }
    }
}

/// The bytes a loopback collector received for `position`, with `privacy`.
fn received(position: Position, formats: &[Format], privacy: Privacy) -> Vec<u8> {
    let sink = JsonSink::start(json_sink::ok());
    let mut builder = LlmLayerBuilder::from_env_with(|_| None)
        .with_console_exporter(false)
        .with_otlp_endpoint(sink.url())
        .with_privacy(privacy);
    if let Position::Resource = position {
        for (i, f) in formats.iter().enumerate() {
            builder =
                builder.with_resource_attribute(format!("deployment.note.{i}"), f.text.clone());
        }
    }
    let layer: LlmLayer<_> = builder.build();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        emit(position, formats)
    });
    handle.shutdown(Duration::from_secs(10)).expect("shutdown");
    // Every request body, one after the other.
    sink.requests().into_iter().flat_map(|r| r.body).collect()
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[test]
fn no_credential_format_leaves_from_any_position() {
    let formats = formats();
    let mut failures = Vec::new();
    for position in POSITIONS {
        let bytes = received(position, &formats, Privacy::default());
        assert!(!bytes.is_empty(), "{position:?}: nothing received");
        for f in &formats {
            if count(&bytes, f.secret.as_bytes()) > 0 {
                failures.push(format!("{position:?} × {}", f.name));
            }
        }
        let marks = count(&bytes, b"__REDACTED__");
        assert!(
            marks >= formats.len(),
            "{position:?}: {marks} redaction markers"
        );
        // The URL's user and host stay readable.
        assert!(count(&bytes, b"postgres://app:") > 0, "{position:?}");
        assert!(count(&bytes, b"@db.internal:5432") > 0, "{position:?}");
    }
    assert!(failures.is_empty(), "leaked: {failures:?}");
}

#[test]
fn the_credentials_do_leave_with_the_scan_off() {
    // The same spans with `redact_secrets` off: the test above would see a leak.
    let formats = formats();
    for position in [
        Position::EventName,
        Position::StatusMessage,
        Position::SpanName,
    ] {
        let bytes = received(
            position,
            &formats,
            Privacy::default().with_redact_secrets(false),
        );
        for f in &formats {
            assert!(
                count(&bytes, f.secret.as_bytes()) > 0,
                "{position:?} × {}",
                f.name
            );
        }
    }
}

#[test]
fn the_user_mask_sees_every_position_after_the_scan() {
    let formats = vec![Format {
        name: "internal",
        text: "ticket ACME-4411 opened".into(),
        secret: "ACME-4411".into(),
    }];
    let privacy = Privacy::default().with_mask(|s: &str| {
        s.contains("ACME-")
            .then(|| s.replace("ACME-4411", "ACME-****"))
    });
    for position in POSITIONS {
        let bytes = received(position, &formats, privacy.clone());
        assert_eq!(count(&bytes, b"ACME-4411"), 0, "{position:?}");
        assert!(
            count(&bytes, b"ticket ACME-**** opened") > 0,
            "{position:?}"
        );
    }
}

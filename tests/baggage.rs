//! One session across services: a client service's request headers (`traceparent`,
//! `baggage`) read by a server service, each with its own layer and exporter, as two
//! processes would be.

mod common;
use common::*;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::trace::SpanData;
use std::collections::HashMap;
use tracing_openinference::propagation::{Propagation, RemoteContext};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The client service: a user's session makes a call to another service; returns the
/// headers of that request and the ids of the span that sent it.
fn client(
    propagation: Propagation,
    fields: impl FnOnce() -> tracing::Span,
) -> (Vec<SpanData>, HashMap<String, String>, String) {
    let mut headers = HashMap::new();
    let mut sent_from = String::new();
    let spans = capture(|| {
        fields().in_scope(|| {
            let call = tracing::info_span!("call answer-service", http.method = "POST");
            call.in_scope(|| {
                propagation.inject(&call, &mut headers);
                sent_from = call.context().span().span_context().span_id().to_string();
            });
        });
    });
    (spans, headers, sent_from)
}

/// The server service: the request's span, attached to what the headers carried, with a
/// model call under it.
fn server(headers: &HashMap<String, String>, propagation: Propagation) -> Vec<SpanData> {
    capture(|| {
        let remote: RemoteContext = propagation.extract(headers);
        let request = tracing::info_span!("POST /answer", http.route = "/answer");
        remote.attach(&request).expect("attached");
        request.in_scope(|| {
            tracing::info_span!(
                "chat",
                llm.model_name = "gpt-4o-mini",
                llm.token_count.prompt = 10,
                llm.token_count.completion = 2
            )
            .in_scope(|| {});
        });
    })
}

fn session_span() -> tracing::Span {
    tracing::info_span!(
        "chat turn",
        session.id = "conv 42/7",
        user.id = "user@example.com",
        tag.tags = r#"["beta","eu"]"#,
        metadata = r#"{"tier":"pro"}"#
    )
}

#[test]
fn the_session_and_user_cross_to_the_server_in_the_same_trace() {
    let (client_spans, headers, sent_from) = client(Propagation::new(), session_span);
    let baggage = &headers["baggage"];
    assert!(baggage.contains("session.id=conv%2042%2F7"), "{baggage}");
    assert!(baggage.contains("user.id=user%40example.com"), "{baggage}");

    let server_spans = server(&headers, Propagation::new());
    let call = span(&client_spans, "call answer-service");
    let request = span(&server_spans, "POST /answer");
    let chat = span(&server_spans, "chat");
    // One trace: the server's request span is the child of the client's call span.
    assert_eq!(
        request.span_context.trace_id(),
        call.span_context.trace_id()
    );
    assert_eq!(chat.span_context.trace_id(), call.span_context.trace_id());
    assert_eq!(request.parent_span_id.to_string(), sent_from);
    assert!(request.parent_span_is_remote);
    // The session, user, tags and metadata, on the server's spans as on the client's.
    for s in [request, chat] {
        assert_eq!(str_attr(s, "session.id"), "conv 42/7", "{}", s.name);
        assert_eq!(str_attr(s, "user.id"), "user@example.com", "{}", s.name);
        assert_eq!(str_attr(s, "metadata"), r#"{"tier":"pro"}"#, "{}", s.name);
        assert_eq!(str_attr(s, "gen_ai.conversation.id"), "conv 42/7");
    }
    assert_eq!(
        attr(chat, "tag.tags"),
        Some(&opentelemetry::Value::Array(opentelemetry::Array::String(
            vec!["beta".into(), "eu".into()]
        )))
    );
    assert_eq!(str_attr(call, "session.id"), "conv 42/7");
}

#[test]
fn baggage_off_carries_the_trace_only() {
    let propagation = Propagation::parse("tracecontext");
    let (client_spans, headers, _) = client(propagation, session_span);
    assert!(!headers.contains_key("baggage"));
    let server_spans = server(&headers, Propagation::new());
    let request = span(&server_spans, "POST /answer");
    assert_eq!(
        request.span_context.trace_id(),
        span(&client_spans, "chat turn").span_context.trace_id()
    );
    assert!(attr(request, "session.id").is_none());
    assert!(attr(span(&server_spans, "chat"), "user.id").is_none());
}

#[test]
fn baggage_stays_within_its_limits() {
    let huge_session = "s".repeat(9000);
    let big_metadata = format!(r#"{{"notes":"{}"}}"#, "n".repeat(2000));
    let (_, headers, _) = client(Propagation::new(), || {
        tracing::info_span!(
            "turn",
            session.id = huge_session.as_str(),
            user.id = "u-1",
            metadata = big_metadata.as_str()
        )
    });
    let baggage = &headers["baggage"];
    // What does not fit is left out whole; what fits goes.
    assert_eq!(baggage, "user.id=u-1");
    let server_spans = server(&headers, Propagation::new());
    let chat = span(&server_spans, "chat");
    assert_eq!(str_attr(chat, "user.id"), "u-1");
    assert!(attr(chat, "session.id").is_none());
    assert!(attr(chat, "metadata").is_none());

    // Many members from upstream: at most 64 pass on, within 8192 bytes.
    let upstream: String = (0..300)
        .map(|i| format!("k{i}={}", "v".repeat(40)))
        .collect::<Vec<_>>()
        .join(",");
    let incoming = HashMap::from([("baggage".to_owned(), upstream)]);
    let mut onward = HashMap::new();
    capture(|| {
        let request = tracing::info_span!("POST /relay");
        Propagation::new()
            .extract(&incoming)
            .attach(&request)
            .expect("attached");
        Propagation::new().inject(&request, &mut onward);
    });
    let onward = &onward["baggage"];
    assert!(onward.len() <= 8192, "{}", onward.len());
    assert_eq!(onward.split(',').count(), 64);
}

#[test]
fn malformed_baggage_is_ignored_and_the_trace_continues() {
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let headers = HashMap::from([
        (
            "traceparent".to_owned(),
            format!("00-{trace_id}-00f067aa0ba902b7-01"),
        ),
        (
            "baggage".to_owned(),
            "session.id=%zz, user.id=\"quoted\", =x, no-equals, tenant=acme, user.id = u%2D9 ;p=1"
                .to_owned(),
        ),
    ]);
    let server_spans = server(&headers, Propagation::new());
    let request = span(&server_spans, "POST /answer");
    assert_eq!(request.span_context.trace_id().to_string(), trace_id);
    assert!(attr(request, "session.id").is_none());
    assert_eq!(str_attr(span(&server_spans, "chat"), "user.id"), "u-9");

    // Garbage in both headers: a trace of its own, no session.
    let garbage = HashMap::from([
        ("traceparent".to_owned(), "00-zz-yy-01".to_owned()),
        ("baggage".to_owned(), "\u{1F680};;,,=".to_owned()),
    ]);
    let spans = server(&garbage, Propagation::new());
    let request = span(&spans, "POST /answer");
    assert!(request.span_context.is_valid());
    assert!(!request.parent_span_is_remote);
    assert!(attr(request, "session.id").is_none());
}

#[test]
fn a_server_passes_the_session_and_other_baggage_on() {
    let incoming = HashMap::from([(
        "baggage".to_owned(),
        "tenant=acme,session.id=s-1".to_owned(),
    )]);
    let mut onward = HashMap::new();
    let spans = capture(|| {
        let request = tracing::info_span!("POST /relay");
        Propagation::new()
            .extract(&incoming)
            .attach(&request)
            .expect("attached");
        request.in_scope(|| {
            // A span under it that sets a user of its own sends that user on.
            let call = tracing::info_span!("call next", user.id = "u-2");
            call.in_scope(|| Propagation::new().inject(&call, &mut onward));
        });
    });
    assert_eq!(onward["baggage"], "session.id=s-1,user.id=u-2,tenant=acme");
    assert_eq!(str_attr(span(&spans, "call next"), "session.id"), "s-1");
}

#[test]
fn attaching_to_a_started_span_sets_the_session_but_says_the_parent_was_not() {
    let headers = HashMap::from([
        (
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
        ),
        ("baggage".to_owned(), "session.id=s-late".to_owned()),
    ]);
    let spans = capture(|| {
        let request = tracing::info_span!("POST /late");
        let _ = request.context(); // starts the span's OpenTelemetry context
        let attached = Propagation::new().extract(&headers).attach(&request);
        assert_eq!(
            attached,
            Err(tracing_openinference::propagation::AttachError::AlreadyStarted)
        );
        request.in_scope(|| tracing::info_span!("chat", llm.model_name = "m").in_scope(|| {}));
    });
    let request = span(&spans, "POST /late");
    assert_ne!(
        request.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(str_attr(span(&spans, "chat"), "session.id"), "s-late");
}

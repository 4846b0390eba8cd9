//! How a user tests their own instrumentation with `testing::Recorder`: a synchronous test and
//! an async one on tokio's test runtime.

use tracing_openinference::testing::Recorder;
use tracing_openinference::LlmSpanExt as _;

/// The code under test: an async LLM call instrumented as the README shows.
#[tracing::instrument(fields(llm.model_name = "gpt-4o-mini", llm.provider = "openai",
                             llm.token_count.prompt, llm.token_count.completion), ret)]
async fn answer(question: &str) -> String {
    tokio::task::yield_now().await;
    tracing::Span::current()
        .record("llm.token_count.prompt", 21)
        .record("llm.token_count.completion", 7);
    "Rust is a systems programming language.".to_owned()
}

#[tokio::test]
async fn an_async_llm_call_is_exported_with_its_usage_cost_and_answer() {
    let recorder = Recorder::install();
    answer("What is Rust?").await;
    let spans = recorder.spans();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(
        Recorder::attribute(span, "openinference.span.kind").as_deref(),
        Some("LLM")
    );
    assert_eq!(
        Recorder::attribute(span, "llm.token_count.total").as_deref(),
        Some("28")
    );
    assert!(Recorder::attribute(span, "llm.cost.total").is_some());
    assert!(Recorder::attribute(span, "output.value")
        .is_some_and(|v| v.contains("systems programming")));
}

#[test]
fn documents_recorded_with_the_helper_are_exported_flattened() {
    let recorder = Recorder::install();
    let span = tracing::info_span!("retrieve", retrieval.documents = tracing::field::Empty);
    span.record_documents(&[tracing_openinference::Document::new(
        "d1",
        "Rust is fast.",
        0.9,
    )])
    .unwrap();
    span.in_scope(|| {});
    drop(span);
    let spans = recorder.spans();
    assert_eq!(
        Recorder::attribute(&spans[0], "retrieval.documents.0.document.score").as_deref(),
        Some("0.9")
    );
    assert_eq!(recorder.handle().pipeline_stats().spans_exported, 1);
}

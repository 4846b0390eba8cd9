//! Kind recognition: explicit, by field namespace, by GenAI operation, CHAIN otherwise.

mod common;
use common::*;
use tracing::field::Empty;

#[test]
fn every_span_gets_a_kind_and_none_is_unknown() {
    let spans = capture(|| {
        tracing::info_span!("explicit", openinference.span.kind = "guardrail").in_scope(|| {});
        tracing::info_span!("llm", llm.model_name = "gpt-4o").in_scope(|| {});
        tracing::info_span!("emb", embedding.model_name = "text-embedding-3-small").in_scope(|| {});
        tracing::info_span!("ret", retrieval.documents = Empty).in_scope(|| {});
        tracing::info_span!("rerank", reranker.top_k = 3).in_scope(|| {});
        tracing::info_span!("tool", tool.name = "search").in_scope(|| {});
        tracing::info_span!("agent", agent.name = "planner", llm.model_name = "gpt-4o")
            .in_scope(|| {});
        tracing::info_span!("op", gen_ai.operation.name = "execute_tool").in_scope(|| {});
        tracing::info_span!("op_chat", gen_ai.operation.name = "chat").in_scope(|| {});
        tracing::info_span!("genai_model", gen_ai.request.model = "claude-sonnet-4")
            .in_scope(|| {});
        tracing::info_span!("plain", http.route = "/x").in_scope(|| {});
    });
    let kind = |name: &str| str_attr(span(&spans, name), "openinference.span.kind");
    assert_eq!(kind("explicit"), "GUARDRAIL");
    assert_eq!(kind("llm"), "LLM");
    assert_eq!(kind("emb"), "EMBEDDING");
    assert_eq!(kind("ret"), "RETRIEVER");
    assert_eq!(kind("rerank"), "RERANKER");
    assert_eq!(kind("tool"), "TOOL");
    assert_eq!(kind("agent"), "AGENT");
    assert_eq!(kind("op"), "TOOL");
    assert_eq!(kind("op_chat"), "LLM");
    assert_eq!(kind("genai_model"), "LLM");
    assert_eq!(kind("plain"), "CHAIN");
    assert_eq!(spans.len(), 11);
}

#[test]
fn explicit_kind_beats_namespaces_and_operation() {
    let spans = capture(|| {
        tracing::info_span!(
            "x",
            openinference.span.kind = "Evaluator",
            llm.model_name = "gpt-4o",
            gen_ai.operation.name = "chat"
        )
        .in_scope(|| {});
    });
    assert_eq!(str_attr(&spans[0], "openinference.span.kind"), "EVALUATOR");
}

#[test]
fn gen_ai_operation_beats_namespaces() {
    let spans = capture(|| {
        tracing::info_span!(
            "e",
            gen_ai.operation.name = "embeddings",
            llm.token_count.prompt = 3
        )
        .in_scope(|| {});
    });
    assert_eq!(str_attr(&spans[0], "openinference.span.kind"), "EMBEDDING");
    assert_eq!(str_attr(&spans[0], "gen_ai.operation.name"), "embeddings");
}

#[test]
fn decision_spans_are_recognized_explicitly_and_by_their_fields() {
    let spans = capture(|| {
        tracing::info_span!(
            "route",
            decision.model_name = "jev-1",
            decision.provider = "typesafe",
            decision.token_count.input = 120_i64,
            decision.token_count.output = 4_i64
        )
        .in_scope(|| {});
        tracing::info_span!("explicit", openinference.span.kind = "decision").in_scope(|| {});
    });
    let route = span(&spans, "route");
    assert_eq!(str_attr(route, "openinference.span.kind"), "DECISION");
    assert_eq!(str_attr(route, "decision.model_name"), "jev-1");
    assert_eq!(int_attr(route, "decision.token_count.input"), 120);
    // No GenAI operation applies to a decision model: nothing claims it is a chat.
    assert!(attr(route, "gen_ai.operation.name").is_none());
    assert!(attr(route, "gen_ai.request.model").is_none());
    assert_eq!(
        str_attr(span(&spans, "explicit"), "openinference.span.kind"),
        "DECISION"
    );
}

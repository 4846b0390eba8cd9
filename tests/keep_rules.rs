//! Keep-rules at ratio 0: exactly the traces the rule accepts are exported, whole, with
//! `openinference.sampling.reason = rule` on the root; errors are still kept as errors.

mod common;
use common::*;
use std::collections::BTreeSet;
use tracing_openinference::keep::TraceSummary;
use tracing_openinference::SpanKind;

/// One trace: a root named `name`, an LLM call, and a tool call if `tool` is given.
fn trace(name: &str, tags: &str, prompt_tokens: u64, tool: Option<&str>) {
    tracing::info_span!("request", request = name, tag.tags = tags).in_scope(|| {
        tracing::info_span!(
            "chat",
            llm.model_name = "gpt-4o",
            llm.token_count.prompt = prompt_tokens,
            llm.token_count.completion = 10_u64
        )
        .in_scope(|| {});
        if let Some(tool) = tool {
            tracing::info_span!("tool_call", tool.name = tool).in_scope(|| {});
        }
    });
}

fn kept_requests(spans: &[opentelemetry_sdk::trace::SpanData]) -> BTreeSet<String> {
    spans
        .iter()
        .filter(|s| s.name == "request")
        .map(|s| str_attr(s, "input.value"))
        .collect()
}

#[test]
fn at_ratio_zero_exactly_the_traces_the_rule_accepts_are_exported_whole() {
    let rule = |t: &TraceSummary| {
        t.cost_usd > 0.5
            || t.tools.iter().any(|n| n == "refund")
            || t.tags.iter().any(|g| g == "tenant:acme")
    };
    let builder = quiet_builder()
        .with_sampling_ratio(0.0)
        .with_keep_rule(rule);
    let spans = capture_with(builder, || {
        trace("cheap", r#"["tenant:other"]"#, 100, None);
        trace("expensive", r#"["tenant:other"]"#, 400_000, None);
        trace("refund", r#"["tenant:other"]"#, 100, Some("refund"));
        trace("lookup", r#"["tenant:other"]"#, 100, Some("lookup"));
        trace("acme", r#"["tenant:acme"]"#, 100, None);
        for _ in 0..50 {
            trace("noise", "[]", 10, None);
        }
    });
    assert_eq!(
        kept_requests(&spans),
        ["acme", "expensive", "refund"].map(String::from).into()
    );
    // Whole: each kept root with all of its children.
    assert_eq!(spans.len(), 3 + 3 + 1);
    for root in spans.iter().filter(|s| s.name == "request") {
        assert_eq!(str_attr(root, "openinference.sampling.reason"), "rule");
        let children = spans
            .iter()
            .filter(|s| s.parent_span_id == root.span_context.span_id())
            .count();
        assert!(children >= 1);
    }
    // The kept trace's cost is there: derived when the trace was kept.
    assert!(spans
        .iter()
        .filter(|s| s.name == "chat")
        .all(|s| float_attr(s, "llm.cost.total") > 0.0));
}

#[test]
fn the_rule_sees_kinds_duration_and_the_root_name_and_errors_are_kept_first() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<TraceSummary>::new()));
    let log = std::sync::Arc::clone(&seen);
    let builder =
        quiet_builder()
            .with_sampling_ratio(0.0)
            .with_keep_rule(move |t: &TraceSummary| {
                log.lock().unwrap().push(t.clone());
                false
            });
    let spans = capture_with(builder, || {
        trace("with_tool", "[]", 5, Some("search"));
        tracing::info_span!("failing").in_scope(|| {
            tracing::info_span!("chat", llm.model_name = "gpt-4o")
                .in_scope(|| tracing::error!("boom"));
        });
    });
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        1,
        "the failing trace is decided before the rule: {seen:?}"
    );
    let summary = &seen[0];
    assert_eq!(summary.root_name, "request");
    assert_eq!(summary.spans, 3);
    assert_eq!(summary.tokens, 15);
    assert!(summary.has_kind(SpanKind::Llm) && summary.has_kind(SpanKind::Tool));
    assert_eq!(summary.tools, ["search"]);
    assert_eq!(summary.models, ["gpt-4o"]);
    assert!(summary.duration > std::time::Duration::ZERO);
    let roots: Vec<_> = spans.iter().filter(|s| s.name == "failing").collect();
    assert_eq!(roots.len(), 1);
    assert_eq!(str_attr(roots[0], "openinference.sampling.reason"), "error");
}

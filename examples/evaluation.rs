//! Evaluations and feedback on a traced LLM call: an LLM-as-a-judge scores the call's span,
//! and the user's thumbs-up goes on the whole trace.
//!
//! The model and the judge are simulated, so it runs offline. Pointed at Phoenix the two
//! results arrive as span and trace annotations; at Langfuse, as scores; anywhere else, as
//! `EVALUATOR` spans in the trace:
//!
//! ```text
//! PHOENIX_COLLECTOR_ENDPOINT=http://127.0.0.1:6006 cargo run --example evaluation
//! ```
//!
//! It prints the call's ids as one JSON line on stdout (the CI reads the annotations back
//! from Phoenix with them). An optional argument is used as the annotations' identifier.

use serde_json::json;
use std::time::Duration;
use tracing_openinference::evaluation::{Annotation, AnnotationTarget, AnnotatorKind};
use tracing_openinference::LlmLayer;
use tracing_subscriber::prelude::*;

fn main() {
    let run = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "local".to_owned());
    let layer = LlmLayer::new();
    let handle = layer.handle();
    tracing_subscriber::registry().with(layer).init();

    let question = "How long do I have to return an order?";
    let (reply, call) = answer(question);
    println!("{reply}");

    // The judge grades the reply (in a real service: a second model call, often later).
    let (score, label, why) = judge(question, &reply);
    let graded = Annotation::score(call, "correctness", score)
        .label(label)
        .explanation(why)
        .annotator(AnnotatorKind::Llm)
        .identifier(run.as_str())
        .metadata(json!({"judge_model": "gpt-4o", "rubric": "refund-policy-v2"}));
    // The user liked the answer: feedback on the whole conversation turn.
    let trace = AnnotationTarget::Trace {
        trace_id: call.trace_id(),
    };
    let feedback = Annotation::new(trace, "user_feedback")
        .label("thumbs_up")
        .with_score(1.0)
        .explanation("solved my problem")
        .annotator(AnnotatorKind::Human)
        .identifier(run.as_str());
    for annotation in [graded, feedback] {
        if let Err(e) = handle.annotate(annotation) {
            eprintln!("annotation refused: {e}");
            std::process::exit(1);
        }
    }

    let span_id = call.span_id().map(|s| s.to_string()).unwrap_or_default();
    println!(
        "{}",
        json!({"trace_id": call.trace_id().to_string(), "span_id": span_id, "run": run})
    );
    // Sends the span first, then the annotations.
    if let Err(e) = handle.shutdown(Duration::from_secs(10)) {
        eprintln!("export did not finish: {e}");
        std::process::exit(1);
    }
    let stats = handle.pipeline_stats();
    if stats.annotations_dropped.iter().any(|(_, n)| *n > 0) {
        eprintln!("annotations dropped: {:?}", stats.annotations_dropped);
        std::process::exit(1);
    }
}

/// The LLM call (simulated), and the ids of its span, kept for the evaluation.
fn answer(question: &str) -> (String, AnnotationTarget) {
    let span = tracing::info_span!(
        "chat",
        llm.model_name = "gpt-4o-mini",
        llm.provider = "openai",
        input.value = question,
        output.value = tracing::field::Empty,
        llm.token_count.prompt = 14,
        llm.token_count.completion = 12,
    );
    let _entered = span.enter();
    let reply = "You can return an order within 30 days of delivery for a full refund.";
    span.record("output.value", reply);
    (reply.to_owned(), AnnotationTarget::span(&span))
}

/// The judge (simulated): does the reply state the 30-day window?
fn judge(_question: &str, reply: &str) -> (f64, &'static str, &'static str) {
    if reply.contains("30 days") {
        (
            0.9,
            "correct",
            "states the 30-day return window from the policy",
        )
    } else {
        (0.1, "incorrect", "does not state the return window")
    }
}

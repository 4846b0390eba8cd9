//! A per-session token budget enforced in real time: the layer's running totals say how much
//! a session has spent, and the application refuses the next call once it is over budget.
//! Offline: the model is simulated.
//!
//! ```sh
//! cargo run --example budget
//! ```

use tracing_openinference::usage::{LlmCall, UsageTotals};
use tracing_openinference::LlmLayer;
use tracing_subscriber::prelude::*;

/// Each session may spend this much (USD).
const BUDGET_USD: f64 = 0.000_05;

#[derive(Debug)]
struct OverBudget(f64);

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "session over budget: ${:.6} spent", self.0)
    }
}

#[tracing::instrument(skip(totals), fields(llm.model_name = "gpt-4o-mini", llm.provider = "openai",
                     llm.token_count.prompt, llm.token_count.completion), err)]
fn ask(totals: &UsageTotals, session: &str, question: &str) -> Result<String, OverBudget> {
    let spent = totals.session(session).map_or(0.0, |t| t.cost_usd);
    if spent >= BUDGET_USD {
        return Err(OverBudget(spent));
    }
    // The simulated model: 40 tokens in, 25 out.
    tracing::Span::current()
        .record("llm.token_count.prompt", 40)
        .record("llm.token_count.completion", 25);
    Ok(format!("An answer to {question:?}"))
}

fn main() {
    let totals = UsageTotals::new(10_000);
    let layer: LlmLayer<_> = LlmLayer::builder()
        .with_console_exporter(false)
        .with_usage_totals(totals.clone())
        .with_usage_observer(|call: &LlmCall<'_>| {
            let cost = call.cost.as_ref().map_or(0.0, |c| c.total);
            println!(
                "  observed {} in session {}: {} tokens, ${cost:.6}",
                call.name,
                call.session_id.unwrap_or("-"),
                call.total_tokens
            );
        })
        .build();
    let handle = layer.handle();
    tracing_subscriber::registry().with(layer).init();

    for turn in 1..=8 {
        let session = tracing::info_span!("conversation", session.id = "s-42");
        let outcome = session.in_scope(|| ask(&totals, "s-42", &format!("question {turn}")));
        match outcome {
            Ok(answer) => println!("turn {turn}: {answer}"),
            Err(refused) => {
                println!("turn {turn}: refused ({refused})");
                break;
            }
        }
    }
    let spent = totals.session("s-42").unwrap_or_default();
    println!(
        "session s-42: {} calls, {} errors, {} tokens, ${:.6}",
        spent.calls, spent.errors, spent.tokens, spent.cost_usd
    );
    if let Err(e) = handle.shutdown(std::time::Duration::from_secs(5)) {
        eprintln!("shutdown: {e}");
    }
}

//! Keep-rules: the application decides which sampled-out traces are exported after all.
//!
//! A trace the ratio sampled out waits, whole, in the layer's bounded sampling buffer until
//! its local root ends (as for error and slow keeping). Then the rule sees a [`TraceSummary`]
//! of it: if the rule says keep, the whole trace is exported and its root carries
//! `openinference.sampling.reason = rule`.
//!
//! ```
//! use tracing_openinference::keep::TraceSummary;
//! use tracing_openinference::testing::Recorder;
//!
//! // Sample nothing by ratio, but keep every trace that cost more than a tenth of a cent.
//! let recorder = Recorder::install_with(
//!     Recorder::builder()
//!         .with_sampling_ratio(0.0)
//!         .with_keep_rule(|trace: &TraceSummary| trace.cost_usd > 0.001),
//! );
//! tracing::info_span!("cheap").in_scope(|| {
//!     tracing::info_span!("chat", llm.model_name = "gpt-4o-mini", llm.token_count.prompt = 10)
//!         .in_scope(|| {});
//! });
//! tracing::info_span!("expensive").in_scope(|| {
//!     tracing::info_span!("chat", llm.model_name = "gpt-4o", llm.token_count.prompt = 900_000)
//!         .in_scope(|| {});
//! });
//! let names: Vec<_> = recorder.spans().iter().map(|s| s.name.to_string()).collect();
//! assert_eq!(names, ["chat", "expensive"]);
//! ```

use crate::kind::SpanKind;
use std::sync::Arc;
use std::time::Duration;

/// The most distinct values each list of a [`TraceSummary`] holds.
const MAX_DISTINCT: usize = 32;

/// What a keep-rule knows of a finished local trace.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TraceSummary {
    /// The local root's name.
    pub root_name: String,
    /// How long the local root lasted.
    pub duration: Duration,
    /// Spans in the trace (this process's part of it).
    pub spans: u64,
    /// Spans that failed (with error keeping on, a failing trace is kept before any rule).
    pub errors: u64,
    /// Tokens used by the trace's calls (each call's total).
    pub tokens: u64,
    /// Cost in USD of the calls that could be priced.
    pub cost_usd: f64,
    /// The span kinds seen, each once.
    pub kinds: Vec<SpanKind>,
    /// The tool names seen, each once (at most 32).
    pub tools: Vec<String>,
    /// The models seen, each once (at most 32).
    pub models: Vec<String>,
    /// The tags seen (`tag.tags`, own or inherited), each once (at most 32).
    pub tags: Vec<String>,
}

impl TraceSummary {
    /// Whether a span of `kind` is in the trace.
    ///
    /// ```
    /// use tracing_openinference::{keep::TraceSummary, SpanKind};
    /// assert!(!TraceSummary::default().has_kind(SpanKind::Tool));
    /// ```
    pub fn has_kind(&self, kind: SpanKind) -> bool {
        self.kinds.contains(&kind)
    }

    /// Adds one span's facts (used by the buffer for each span of the trace).
    pub(crate) fn add_span(&mut self, kind: SpanKind, failed: bool) {
        self.spans += 1;
        self.errors += u64::from(failed);
        if !self.kinds.contains(&kind) {
            self.kinds.push(kind);
        }
    }

    /// Adds a call's usage.
    pub(crate) fn add_usage(&mut self, tokens: u64, cost_usd: Option<f64>) {
        self.tokens = self.tokens.saturating_add(tokens);
        self.cost_usd += cost_usd.unwrap_or(0.0);
    }

    /// Adds a tool name, a model or tags (a JSON list, or one plain tag).
    pub(crate) fn add_names(
        &mut self,
        tool: Option<&str>,
        model: Option<&str>,
        tags: Option<&str>,
    ) {
        if let Some(tool) = tool {
            add_distinct(&mut self.tools, tool);
        }
        if let Some(model) = model {
            add_distinct(&mut self.models, model);
        }
        if let Some(tags) = tags {
            match serde_json::from_str::<Vec<String>>(tags) {
                Ok(list) => list.iter().for_each(|t| add_distinct(&mut self.tags, t)),
                Err(_) => add_distinct(&mut self.tags, tags),
            }
        }
    }
}

fn add_distinct(list: &mut Vec<String>, value: &str) {
    if list.len() < MAX_DISTINCT && !list.iter().any(|v| v == value) {
        list.push(value.to_owned());
    }
}

/// Decides, from its summary, whether a sampled-out trace is exported after all. Any
/// `Fn(&TraceSummary) -> bool + Send + Sync` closure is one.
///
/// It runs on the thread that ended the trace's local root: keep it short.
///
/// ```
/// use tracing_openinference::{keep::{KeepRule, TraceSummary}, SpanKind};
///
/// struct UsedATool;
/// impl KeepRule for UsedATool {
///     fn keep(&self, trace: &TraceSummary) -> bool {
///         trace.has_kind(SpanKind::Tool)
///     }
/// }
/// let builder = tracing_openinference::LlmLayerBuilder::from_env().with_keep_rule(UsedATool);
/// # drop(builder);
/// ```
pub trait KeepRule: Send + Sync + 'static {
    /// Whether to export the trace.
    fn keep(&self, trace: &TraceSummary) -> bool;
}

impl<F> KeepRule for F
where
    F: Fn(&TraceSummary) -> bool + Send + Sync + 'static,
{
    fn keep(&self, trace: &TraceSummary) -> bool {
        self(trace)
    }
}

/// A registered rule, shared by the buffer.
#[derive(Clone)]
pub(crate) struct SharedRule(Arc<dyn KeepRule>);

impl SharedRule {
    /// Shares `rule`.
    pub(crate) fn new(rule: Arc<dyn KeepRule>) -> Self {
        SharedRule(rule)
    }

    /// Whether the rule keeps the trace of `summary`.
    pub(crate) fn keep(&self, summary: &TraceSummary) -> bool {
        self.0.keep(summary)
    }
}

impl std::fmt::Debug for SharedRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeepRule")
    }
}

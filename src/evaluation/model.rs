//! What an evaluation says and what it is about: [`Annotation`], [`AnnotationTarget`],
//! [`AnnotatorKind`], and why one was refused ([`AnnotateError`]).

use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId};
use std::fmt;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Who judged: a person, a language model, or code.
///
/// ```
/// use tracing_openinference::evaluation::AnnotatorKind;
/// assert_eq!(AnnotatorKind::Llm.as_str(), "LLM");
/// assert_eq!(AnnotatorKind::default(), AnnotatorKind::Human);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnnotatorKind {
    /// A person (user feedback, a reviewer). The default, as in Phoenix's clients.
    #[default]
    Human,
    /// A language model (LLM-as-a-judge).
    Llm,
    /// Deterministic or statistical code.
    Code,
}

impl AnnotatorKind {
    /// The OpenInference value: `HUMAN`, `LLM` or `CODE`.
    ///
    /// ```
    /// use tracing_openinference::evaluation::AnnotatorKind;
    /// assert_eq!(AnnotatorKind::Code.as_str(), "CODE");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotatorKind::Human => "HUMAN",
            AnnotatorKind::Llm => "LLM",
            AnnotatorKind::Code => "CODE",
        }
    }
}

/// What an annotation is about: one span, or a whole trace.
///
/// Take it from a `tracing` span while the span exists ([`AnnotationTarget::span`],
/// [`AnnotationTarget::current_span`]), or keep the ids (they print as hex) and build it
/// later, when the feedback arrives:
///
/// ```
/// use tracing_openinference::evaluation::AnnotationTarget;
/// use tracing_openinference::otel::opentelemetry::trace::{SpanId, TraceId};
///
/// let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
/// let span_id = SpanId::from_hex("00f067aa0ba902b7").unwrap();
/// let target = AnnotationTarget::Span { trace_id, span_id };
/// assert_eq!(target.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(target.is_valid());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnnotationTarget {
    /// One span (Phoenix: a span annotation; Langfuse: a score on the observation).
    Span {
        /// The trace the span belongs to.
        trace_id: TraceId,
        /// The span.
        span_id: SpanId,
    },
    /// A whole trace (Phoenix: a trace annotation; Langfuse: a score on the trace).
    Trace {
        /// The trace.
        trace_id: TraceId,
    },
}

impl AnnotationTarget {
    /// The OpenTelemetry span `span` became. Invalid (see [`AnnotationTarget::is_valid`])
    /// when the span is disabled or no [`crate::LlmLayer`] records it.
    ///
    /// ```
    /// use tracing_openinference::evaluation::AnnotationTarget;
    /// let target = AnnotationTarget::span(&tracing::Span::none());
    /// assert!(!target.is_valid());
    /// ```
    pub fn span(span: &tracing::Span) -> Self {
        let cx = span.context();
        let otel = cx.span();
        let sc = otel.span_context();
        AnnotationTarget::Span {
            trace_id: sc.trace_id(),
            span_id: sc.span_id(),
        }
    }

    /// The trace `span` belongs to.
    ///
    /// ```
    /// use tracing_openinference::evaluation::AnnotationTarget;
    /// let target = AnnotationTarget::trace(&tracing::Span::none());
    /// assert!(target.span_id().is_none());
    /// ```
    pub fn trace(span: &tracing::Span) -> Self {
        AnnotationTarget::Trace {
            trace_id: AnnotationTarget::span(span).trace_id(),
        }
    }

    /// The span the calling code is in ([`tracing::Span::current`]).
    ///
    /// ```
    /// use tracing_openinference::evaluation::AnnotationTarget;
    /// // Outside any span: nothing to annotate.
    /// assert!(!AnnotationTarget::current_span().is_valid());
    /// ```
    pub fn current_span() -> Self {
        AnnotationTarget::span(&tracing::Span::current())
    }

    /// The trace the calling code is in.
    ///
    /// ```
    /// use tracing_openinference::evaluation::AnnotationTarget;
    /// assert!(!AnnotationTarget::current_trace().is_valid());
    /// ```
    pub fn current_trace() -> Self {
        AnnotationTarget::trace(&tracing::Span::current())
    }

    /// The trace id.
    ///
    /// ```
    /// use tracing_openinference::evaluation::AnnotationTarget;
    /// use tracing_openinference::otel::opentelemetry::trace::TraceId;
    /// let t = AnnotationTarget::Trace { trace_id: TraceId::from(7u128) };
    /// assert_eq!(t.trace_id(), TraceId::from(7u128));
    /// ```
    pub fn trace_id(&self) -> TraceId {
        match *self {
            AnnotationTarget::Span { trace_id, .. } | AnnotationTarget::Trace { trace_id } => {
                trace_id
            }
        }
    }

    /// The span id, for a span target.
    ///
    /// ```
    /// use tracing_openinference::evaluation::AnnotationTarget;
    /// use tracing_openinference::otel::opentelemetry::trace::{SpanId, TraceId};
    /// let t = AnnotationTarget::Span { trace_id: TraceId::from(1u128), span_id: SpanId::from(2u64) };
    /// assert_eq!(t.span_id(), Some(SpanId::from(2u64)));
    /// ```
    pub fn span_id(&self) -> Option<SpanId> {
        match *self {
            AnnotationTarget::Span { span_id, .. } => Some(span_id),
            AnnotationTarget::Trace { .. } => None,
        }
    }

    /// Whether the ids are valid (not all zero).
    ///
    /// ```
    /// use tracing_openinference::evaluation::AnnotationTarget;
    /// use tracing_openinference::otel::opentelemetry::trace::TraceId;
    /// assert!(!AnnotationTarget::Trace { trace_id: TraceId::INVALID }.is_valid());
    /// ```
    pub fn is_valid(&self) -> bool {
        self.trace_id() != TraceId::INVALID && self.span_id() != Some(SpanId::INVALID)
    }
}

impl From<&tracing::Span> for AnnotationTarget {
    /// [`AnnotationTarget::span`].
    fn from(span: &tracing::Span) -> Self {
        AnnotationTarget::span(span)
    }
}

/// An evaluation result or a piece of feedback about a span or a trace: a name, and a score,
/// a label or an explanation (at least one), from a kind of annotator.
///
/// Sent with [`crate::LlmHandle::annotate`]: to Phoenix as a span (or trace) annotation, to
/// Langfuse as a score, and to any other destination as an `EVALUATOR` span in the evaluated
/// trace (see [`crate::evaluation`]).
///
/// ```
/// use tracing_openinference::evaluation::{Annotation, AnnotationTarget, AnnotatorKind};
///
/// let span = tracing::info_span!("answer");
/// let feedback = Annotation::score(&span, "relevance", 0.8)
///     .label("relevant")
///     .explanation("cites the retrieved policy")
///     .annotator(AnnotatorKind::Llm)
///     .identifier("judge-v2")
///     .metadata(serde_json::json!({"judge_model": "gpt-4o"}));
/// assert_eq!(feedback.name(), "relevance");
/// assert_eq!(feedback.target(), AnnotationTarget::span(&span));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    pub(crate) target: AnnotationTarget,
    pub(crate) name: String,
    pub(crate) score: Option<f64>,
    pub(crate) label: Option<String>,
    pub(crate) explanation: Option<String>,
    pub(crate) annotator: AnnotatorKind,
    pub(crate) identifier: Option<String>,
    pub(crate) metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Annotation {
    /// An annotation named `name` about `target`, with no result yet: add a score, a label
    /// or an explanation.
    ///
    /// ```
    /// use tracing_openinference::evaluation::{Annotation, AnnotationTarget};
    /// let a = Annotation::new(AnnotationTarget::current_trace(), "thumbs").label("down");
    /// assert_eq!(a.name(), "thumbs");
    /// ```
    pub fn new(target: impl Into<AnnotationTarget>, name: impl Into<String>) -> Self {
        Annotation {
            target: target.into(),
            name: name.into(),
            score: None,
            label: None,
            explanation: None,
            annotator: AnnotatorKind::default(),
            identifier: None,
            metadata: None,
        }
    }

    /// An annotation named `name` about `target` with a numeric score.
    ///
    /// ```
    /// use tracing_openinference::evaluation::Annotation;
    /// let a = Annotation::score(&tracing::Span::current(), "faithfulness", 1.0);
    /// # drop(a);
    /// ```
    pub fn score(target: impl Into<AnnotationTarget>, name: impl Into<String>, value: f64) -> Self {
        Annotation::new(target, name).with_score(value)
    }

    /// Sets the numeric score (its meaning and range are the evaluator's).
    ///
    /// ```
    /// use tracing_openinference::evaluation::Annotation;
    /// let a = Annotation::new(&tracing::Span::current(), "toxicity").with_score(0.02);
    /// # drop(a);
    /// ```
    pub fn with_score(mut self, value: f64) -> Self {
        self.score = Some(value);
        self
    }

    /// Sets the label, a category with few and stable values (`"correct"`, `"up"`).
    ///
    /// ```
    /// use tracing_openinference::evaluation::Annotation;
    /// let a = Annotation::new(&tracing::Span::current(), "correctness").label("correct");
    /// # drop(a);
    /// ```
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the explanation: why, in words (Langfuse shows it as the score's comment).
    ///
    /// ```
    /// use tracing_openinference::evaluation::Annotation;
    /// let a = Annotation::new(&tracing::Span::current(), "feedback").explanation("too long");
    /// # drop(a);
    /// ```
    pub fn explanation(mut self, explanation: impl Into<String>) -> Self {
        self.explanation = Some(explanation.into());
        self
    }

    /// Sets who judged (default [`AnnotatorKind::Human`]).
    ///
    /// ```
    /// use tracing_openinference::evaluation::{Annotation, AnnotatorKind};
    /// let a = Annotation::score(&tracing::Span::current(), "qa", 1.0).annotator(AnnotatorKind::Code);
    /// # drop(a);
    /// ```
    pub fn annotator(mut self, kind: AnnotatorKind) -> Self {
        self.annotator = kind;
        self
    }

    /// Sets a stable identifier: a later annotation with the same target, name and
    /// identifier replaces this one (Phoenix upserts on them; Langfuse on the score id made
    /// from them).
    ///
    /// ```
    /// use tracing_openinference::evaluation::Annotation;
    /// let a = Annotation::score(&tracing::Span::current(), "qa", 1.0).identifier("nightly-run");
    /// # drop(a);
    /// ```
    pub fn identifier(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = Some(identifier.into());
        self
    }

    /// Adds metadata: a JSON object (any other value is kept under `"value"`).
    ///
    /// ```
    /// use tracing_openinference::evaluation::Annotation;
    /// let a = Annotation::score(&tracing::Span::current(), "qa", 1.0)
    ///     .metadata(serde_json::json!({"rubric": "v3"}));
    /// # drop(a);
    /// ```
    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = Some(match metadata {
            serde_json::Value::Object(map) => map,
            other => std::iter::once(("value".to_owned(), other)).collect(),
        });
        self
    }

    /// What the annotation is about.
    ///
    /// ```
    /// use tracing_openinference::evaluation::{Annotation, AnnotationTarget};
    /// let a = Annotation::score(AnnotationTarget::current_span(), "qa", 1.0);
    /// assert_eq!(a.target(), AnnotationTarget::current_span());
    /// ```
    pub fn target(&self) -> AnnotationTarget {
        self.target
    }

    /// Its name.
    ///
    /// ```
    /// use tracing_openinference::evaluation::Annotation;
    /// assert_eq!(Annotation::score(&tracing::Span::none(), "qa", 1.0).name(), "qa");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it can be sent: a valid target, a name, a result, a finite score.
    pub(crate) fn check(&self) -> Result<(), AnnotateError> {
        if !self.target.is_valid() {
            return Err(AnnotateError::InvalidTarget);
        }
        if self.name.trim().is_empty() {
            return Err(AnnotateError::NoName);
        }
        if self.score.is_none() && self.label.is_none() && self.explanation.is_none() {
            return Err(AnnotateError::NoResult);
        }
        if self.score.is_some_and(|s| !s.is_finite()) {
            return Err(AnnotateError::NotFinite);
        }
        Ok(())
    }
}

/// Why [`crate::LlmHandle::annotate`] did not accept an annotation.
///
/// ```
/// use tracing_openinference::evaluation::{AnnotateError, Annotation};
/// use tracing_openinference::LlmLayer;
///
/// let layer: LlmLayer<tracing_subscriber::Registry> =
///     LlmLayer::builder().with_console_exporter(false).build();
/// // Outside any span there is nothing to annotate.
/// let err = layer.handle().annotate(Annotation::score(&tracing::Span::none(), "qa", 1.0));
/// assert_eq!(err, Err(AnnotateError::InvalidTarget));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnnotateError {
    /// The target's ids are not valid (a disabled span, or one no layer records).
    InvalidTarget,
    /// The name is empty.
    NoName,
    /// None of score, label and explanation is set.
    NoResult,
    /// The score is NaN or infinite.
    NotFinite,
    /// The queue to the sending thread is full; the annotation was dropped and counted.
    QueueFull,
    /// The pipeline was shut down.
    ShutDown,
}

impl fmt::Display for AnnotateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AnnotateError::InvalidTarget => "the annotation's target span or trace is not valid",
            AnnotateError::NoName => "the annotation has no name",
            AnnotateError::NoResult => "the annotation has no score, label or explanation",
            AnnotateError::NotFinite => "the annotation's score is not a finite number",
            AnnotateError::QueueFull => "the annotation queue is full; the annotation was dropped",
            AnnotateError::ShutDown => "the pipeline is shut down",
        })
    }
}

impl std::error::Error for AnnotateError {}

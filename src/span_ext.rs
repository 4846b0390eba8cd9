//! [`LlmSpanExt`]: record usage, messages, documents and outputs on any span from typed values,
//! even when the span did not declare the field.
//!
//! `Span::record` silently ignores a field the span did not declare. These helpers hand the
//! value to the layer directly instead, so a recorded semantic value never disappears.

use crate::layer::fields::role_of;
use crate::layer::state::{Seen, SpanState};
use crate::layer::synthetic::{self, OwnedValue};
use crate::span_values::{Message, Prompt, ToolCall, Usage};
use serde::Serialize;

/// Why a helper could not record a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// The span is disabled, closed, or not handled by an [`crate::LlmLayer`] on a
    /// `tracing_subscriber::Registry`.
    NoLayer,
    /// The key is not one the layer records ([`LlmSpanExt::record_semantic`]).
    UnknownKey(String),
    /// The value could not be serialized to JSON.
    Serialize(String),
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::NoLayer => f.write_str("the span is not recorded by an LlmLayer"),
            RecordError::UnknownKey(k) => write!(f, "`{k}` is not a key the layer records"),
            RecordError::Serialize(e) => write!(f, "could not serialize the value: {e}"),
        }
    }
}

impl std::error::Error for RecordError {}

/// A value for [`LlmSpanExt::record_semantic`].
///
/// ```
/// use tracing_openinference::SemanticValue;
/// let v: SemanticValue = 42i64.into();
/// assert_eq!(v, SemanticValue::Int(42));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum SemanticValue {
    /// Text (or a JSON string for JSON-typed keys).
    Text(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl From<&str> for SemanticValue {
    fn from(v: &str) -> Self {
        SemanticValue::Text(v.to_owned())
    }
}
impl From<String> for SemanticValue {
    fn from(v: String) -> Self {
        SemanticValue::Text(v)
    }
}
impl From<i64> for SemanticValue {
    fn from(v: i64) -> Self {
        SemanticValue::Int(v)
    }
}
impl From<u64> for SemanticValue {
    fn from(v: u64) -> Self {
        SemanticValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<f64> for SemanticValue {
    fn from(v: f64) -> Self {
        SemanticValue::Float(v)
    }
}
impl From<bool> for SemanticValue {
    fn from(v: bool) -> Self {
        SemanticValue::Bool(v)
    }
}

/// Records LLM values on a `tracing::Span`, declared or not.
///
/// ```
/// use tracing_openinference::{LlmLayer, LlmSpanExt, Message, Usage};
/// use tracing_subscriber::prelude::*;
///
/// let layer = LlmLayer::builder().with_console_exporter(false).build();
/// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
///     let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
///     span.record_input_messages(&[Message::user("Hi")]).unwrap();
///     span.record_output_messages(&[Message::assistant("Hello!")]).unwrap();
///     span.record_usage(Usage { prompt: 5, completion: 2, ..Usage::default() }).unwrap();
/// });
/// ```
pub trait LlmSpanExt {
    /// Records one semantic key (any key of the conventions the layer knows, such as
    /// `llm.model_name`, `tool.name`, `retrieval.documents` as JSON text).
    ///
    /// ```
    /// use tracing_openinference::LlmSpanExt;
    /// let span = tracing::Span::none();
    /// assert!(span.record_semantic("llm.model_name", "gpt-4o").is_err()); // no layer here
    /// ```
    fn record_semantic(
        &self,
        key: &str,
        value: impl Into<SemanticValue>,
    ) -> Result<(), RecordError>;

    /// Records token usage (`llm.token_count.*`); cost and metrics follow from it. Every
    /// count is recorded, zeros included: the provider's zero cache and reasoning counts are
    /// exported as the OpenInference instrumentations export them.
    ///
    /// ```
    /// use tracing_openinference::{LlmSpanExt, Usage};
    /// let _ = tracing::Span::none().record_usage(Usage { prompt: 10, completion: 5, ..Usage::default() });
    /// ```
    fn record_usage(&self, usage: Usage) -> Result<(), RecordError> {
        for (key, n) in [
            ("llm.token_count.prompt", usage.prompt),
            ("llm.token_count.completion", usage.completion),
            (
                "llm.token_count.prompt_details.cache_read",
                usage.cache_read,
            ),
            (
                "llm.token_count.prompt_details.cache_write",
                usage.cache_write,
            ),
            (
                "llm.token_count.completion_details.reasoning",
                usage.reasoning,
            ),
        ] {
            self.record_semantic(key, n)?;
        }
        Ok(())
    }

    /// Records the messages sent to the model (`llm.input_messages`).
    ///
    /// ```
    /// use tracing_openinference::{LlmSpanExt, Message};
    /// let _ = tracing::Span::none().record_input_messages(&[Message::user("Hi")]);
    /// ```
    fn record_input_messages<T: Serialize + ?Sized>(
        &self,
        messages: &T,
    ) -> Result<(), RecordError> {
        self.record_json("llm.input_messages", messages)
    }

    /// Records the messages the model returned (`llm.output_messages`).
    ///
    /// ```
    /// use tracing_openinference::{LlmSpanExt, Message};
    /// let _ = tracing::Span::none().record_output_messages(&[Message::assistant("Hello")]);
    /// ```
    fn record_output_messages<T: Serialize + ?Sized>(
        &self,
        messages: &T,
    ) -> Result<(), RecordError> {
        self.record_json("llm.output_messages", messages)
    }

    /// Records tool calls the model asked for, as one assistant output message.
    ///
    /// ```
    /// use tracing_openinference::{LlmSpanExt, ToolCall};
    /// let _ = tracing::Span::none()
    ///     .record_tool_calls(vec![ToolCall::new("c1", "search", serde_json::json!({"q": "x"}))]);
    /// ```
    fn record_tool_calls(&self, calls: Vec<ToolCall>) -> Result<(), RecordError> {
        self.record_output_messages(&[Message::tool_calls(calls)])
    }

    /// Records retrieved documents (`retrieval.documents`).
    ///
    /// ```
    /// use tracing_openinference::{Document, LlmSpanExt};
    /// let _ = tracing::Span::none().record_documents(&[Document::new("d1", "text", 0.8)]);
    /// ```
    fn record_documents<T: Serialize + ?Sized>(&self, documents: &T) -> Result<(), RecordError> {
        self.record_json("retrieval.documents", documents)
    }

    /// Records the model the provider answered with (`llm.response.model_name`, exported
    /// also as `gen_ai.response.model`). Without it no response model is exported: the
    /// request model is not copied.
    ///
    /// ```
    /// use tracing_openinference::LlmSpanExt;
    /// let _ = tracing::Span::none().record_response_model("gpt-4o-mini-2024-07-18");
    /// ```
    fn record_response_model(&self, model: impl Into<String>) -> Result<(), RecordError> {
        self.record_semantic("llm.response.model_name", model.into())
    }

    /// Records the prompt the call was made from (`gen_ai.prompt.{name,version}`,
    /// `llm.prompt_template.{template,variables,version}`). LLM spans below this one inherit
    /// it; on LLM spans it is also exported as Langfuse's prompt link
    /// (`langfuse.observation.prompt.{name,version}`).
    ///
    /// ```
    /// use tracing_openinference::{LlmSpanExt, Prompt};
    /// let _ = tracing::Span::none().record_prompt(&Prompt::new("support-answer", "3"));
    /// ```
    fn record_prompt(&self, prompt: &Prompt) -> Result<(), RecordError> {
        let texts = [
            ("gen_ai.prompt.name", prompt.name.as_ref()),
            ("gen_ai.prompt.version", prompt.version.as_ref()),
            ("llm.prompt_template.version", prompt.version.as_ref()),
            ("llm.prompt_template.template", prompt.template.as_ref()),
        ];
        for (key, value) in texts {
            if let Some(value) = value {
                self.record_semantic(key, value.as_str())?;
            }
        }
        if let Some(variables) = &prompt.variables {
            self.record_json("llm.prompt_template.variables", variables)?;
        }
        Ok(())
    }

    /// Records the span's output (`output.value`); JSON text is marked `application/json`.
    ///
    /// ```
    /// use tracing_openinference::LlmSpanExt;
    /// let _ = tracing::Span::none().record_output("42 °C");
    /// ```
    fn record_output(&self, output: impl Into<String>) -> Result<(), RecordError> {
        self.record_semantic("output.value", output.into())
    }

    /// Records any serializable value as the JSON text of `key`.
    ///
    /// ```
    /// use tracing_openinference::LlmSpanExt;
    /// let _ = tracing::Span::none().record_json("metadata", &serde_json::json!({"tier": "pro"}));
    /// ```
    fn record_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), RecordError> {
        let text =
            serde_json::to_string(value).map_err(|e| RecordError::Serialize(e.to_string()))?;
        self.record_semantic(key, text)
    }

    /// Marks the arrival of the first streamed chunk: time to first token on the span (the
    /// `First Token Stream Event` span event, `gen_ai.response.time_to_first_chunk` and
    /// `langfuse.observation.completion_start_time`) and in the metrics. Later calls are
    /// ignored.
    ///
    /// ```
    /// use tracing_openinference::LlmSpanExt;
    /// let _ = tracing::Span::none().mark_first_chunk();
    /// ```
    fn mark_first_chunk(&self) -> Result<(), RecordError>;

    /// Marks the arrival of one streamed chunk: the first is time to first token, as with
    /// [`mark_first_chunk`](Self::mark_first_chunk); each later one adds the time since the
    /// previous chunk to `gen_ai.client.operation.time_per_output_chunk`, recorded when the
    /// span ends (in fixed memory per span, however long the stream).
    ///
    /// ```
    /// use tracing_openinference::LlmSpanExt;
    /// let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
    /// for _token in ["Hel", "lo", "!"] {
    ///     let _ = span.mark_chunk(); // two intervals for three chunks
    /// }
    /// ```
    fn mark_chunk(&self) -> Result<(), RecordError>;

    /// Marks a stream that ended before its last chunk (dropped or cancelled): the span is
    /// exported with what it had and `openinference.stream.incomplete = true`.
    ///
    /// ```
    /// use tracing_openinference::LlmSpanExt;
    /// let _ = tracing::Span::none().mark_stream_incomplete();
    /// ```
    fn mark_stream_incomplete(&self) -> Result<(), RecordError>;
}

/// Runs `f` on the layer's state of `span`, if an [`crate::LlmLayer`] records it.
pub(crate) fn with_state<R>(
    span: &tracing::Span,
    f: impl FnOnce(&mut SpanState) -> R,
) -> Result<R, RecordError> {
    crate::span_state::on_state(span, f).ok_or(RecordError::NoLayer)
}

impl LlmSpanExt for tracing::Span {
    fn record_semantic(
        &self,
        key: &str,
        value: impl Into<SemanticValue>,
    ) -> Result<(), RecordError> {
        let field = synthetic::field(key).ok_or_else(|| RecordError::UnknownKey(key.to_owned()))?;
        let value = value.into();
        with_state(self, |state| {
            let role = role_of(key);
            let seen = match &value {
                SemanticValue::Text(s) => Seen::Str(s),
                SemanticValue::Int(i) => Seen::I64(*i),
                SemanticValue::Float(f) => Seen::F64(*f),
                SemanticValue::Bool(_) => Seen::Bool,
            };
            state.note(role, seen);
            let owned = match value {
                SemanticValue::Text(s) => OwnedValue::Str(s),
                SemanticValue::Int(i) => OwnedValue::I64(i),
                SemanticValue::Float(f) => OwnedValue::F64(f),
                SemanticValue::Bool(b) => OwnedValue::Bool(b),
            };
            state.pending.retain(|(f, _)| *f != field);
            state.pending.push((field, owned));
        })
    }

    fn mark_first_chunk(&self) -> Result<(), RecordError> {
        with_state(self, |state| {
            if state.first_chunk.is_none() {
                state.first_chunk = Some(std::time::Instant::now());
            }
        })
    }

    fn mark_chunk(&self) -> Result<(), RecordError> {
        let now = std::time::Instant::now();
        with_state(self, |s| {
            crate::chunk_gaps::note_chunk(&mut s.first_chunk, &mut s.chunk_gaps, now)
        })
    }

    fn mark_stream_incomplete(&self) -> Result<(), RecordError> {
        with_state(self, |state| state.stream_incomplete = true)
    }
}

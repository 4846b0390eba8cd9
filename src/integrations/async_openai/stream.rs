//! A streamed chat response rebuilt from its chunks: the text, tool calls put together from
//! their deltas, finish reasons and the usage of the last chunk, recorded when the stream ends
//! or is dropped, in bounded memory.

use super::put_json;
use super::request::{Call, Content, Function, Wire};
use super::response::{finish_name, record_identity, record_usage, role_name};
use crate::StreamGuard;
use ::async_openai::types::chat::{
    ChatChoiceStream, CompletionUsage, CreateChatCompletionStreamResponse, FinishReason,
    FunctionCallStream, Role,
};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Choices kept (a request's `n`); chunks of further choices are counted, not kept.
const MAX_CHOICES: usize = 16;
/// Tool calls kept per choice.
const MAX_CALLS: usize = 128;
/// Bytes of text kept over all choices (content, refusals, tool-call names, ids and
/// arguments): past it, further deltas are dropped. The layer's value length cap applies to
/// what is recorded in any case.
const MAX_TEXT_BYTES: usize = 4 << 20;

/// A tool call being put together from its deltas.
#[derive(Debug, Default)]
struct StreamedCall {
    index: u32,
    id: String,
    name: String,
    arguments: String,
}

/// One choice being put together.
#[derive(Debug, Default)]
struct StreamedChoice {
    index: u32,
    role: Option<Role>,
    content: String,
    refusal: String,
    calls: Vec<StreamedCall>,
    /// The legacy `function_call` of older models.
    function: Option<StreamedCall>,
    finish: Option<FinishReason>,
}

/// Rebuilds a streamed chat response from its chunks and records it on a span (see [the
/// module docs](super)): the first chunk marks time to first token and each later one adds
/// its interval to time per output chunk; [`finish`] (or a drop)
/// records the reply messages with the tool calls put together from their deltas, the
/// first choice's finish reason, the usage of the last chunk (`stream_options.include_usage`)
/// and the response model and id. Dropped before [`finish`], it records what it had and
/// marks the span `openinference.stream.incomplete = true`. Its memory is bounded (16
/// choices, 128 tool calls each, 4 MiB of text).
///
/// [`TracedChatStream`] feeds one from a client stream; feed one yourself when you consume
/// the chunks another way.
///
/// [`finish`]: ChatStreamRecorder::finish
///
/// ```
/// use async_openai::types::chat::CreateChatCompletionStreamResponse;
/// use tracing_openinference::integrations::async_openai::ChatStreamRecorder;
/// use tracing_openinference::testing::Recorder;
///
/// let chunk = |delta: serde_json::Value, finish: Option<&str>| -> CreateChatCompletionStreamResponse {
///     serde_json::from_value(serde_json::json!({
///         "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0,
///         "model": "gpt-4o-mini",
///         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
///     })).unwrap()
/// };
/// let recorder = Recorder::install();
/// tracing::info_span!("chat", llm.model_name = "gpt-4o-mini").in_scope(|| {
///     let mut stream = ChatStreamRecorder::current();
///     stream.chunk(&chunk(serde_json::json!({"role": "assistant", "content": "Hel"}), None));
///     stream.chunk(&chunk(serde_json::json!({"content": "lo"}), Some("stop")));
///     stream.finish();
/// });
/// let span = &recorder.spans()[0];
/// assert_eq!(
///     Recorder::attribute(span, "llm.output_messages.0.message.content"),
///     Some("Hello".into())
/// );
/// assert_eq!(Recorder::attribute(span, "llm.finish_reason"), Some("stop".into()));
/// ```
#[derive(Debug)]
pub struct ChatStreamRecorder {
    span: tracing::Span,
    guard: Option<StreamGuard>,
    choices: Vec<StreamedChoice>,
    usage: Option<CompletionUsage>,
    model: String,
    id: String,
    /// Text bytes kept so far (see [`MAX_TEXT_BYTES`]).
    bytes: usize,
}

impl ChatStreamRecorder {
    /// A recorder for the stream of `span`.
    ///
    /// ```
    /// use tracing_openinference::integrations::async_openai::ChatStreamRecorder;
    /// let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
    /// ChatStreamRecorder::new(span).finish();
    /// ```
    pub fn new(span: tracing::Span) -> Self {
        ChatStreamRecorder {
            guard: Some(StreamGuard::new(span.clone())),
            span,
            choices: Vec::new(),
            usage: None,
            model: String::new(),
            id: String::new(),
            bytes: 0,
        }
    }

    /// A recorder for the stream of the current span.
    ///
    /// ```
    /// use tracing_openinference::integrations::async_openai::ChatStreamRecorder;
    /// ChatStreamRecorder::current().finish();
    /// ```
    pub fn current() -> Self {
        ChatStreamRecorder::new(tracing::Span::current())
    }

    /// Takes in one chunk; the first marks time to first token, each later one the time
    /// since the previous chunk (time per output chunk).
    ///
    /// ```
    /// use async_openai::types::chat::CreateChatCompletionStreamResponse;
    /// use tracing_openinference::integrations::async_openai::ChatStreamRecorder;
    ///
    /// let mut stream = ChatStreamRecorder::new(tracing::Span::none());
    /// stream.chunk(&CreateChatCompletionStreamResponse::default());
    /// assert_eq!(stream.chunks(), 1);
    /// stream.finish();
    /// ```
    pub fn chunk(&mut self, chunk: &CreateChatCompletionStreamResponse) {
        if let Some(guard) = &mut self.guard {
            guard.chunk();
        }
        if self.model.is_empty() && !chunk.model.is_empty() {
            self.model.clone_from(&chunk.model);
        }
        if self.id.is_empty() && !chunk.id.is_empty() {
            self.id.clone_from(&chunk.id);
        }
        if let Some(usage) = &chunk.usage {
            self.usage = Some(usage.clone());
        }
        for choice in &chunk.choices {
            self.take_choice(choice);
        }
    }

    /// Chunks taken in so far.
    ///
    /// ```
    /// use tracing_openinference::integrations::async_openai::ChatStreamRecorder;
    /// let stream = ChatStreamRecorder::new(tracing::Span::none());
    /// assert_eq!(stream.chunks(), 0);
    /// # stream.finish();
    /// ```
    pub fn chunks(&self) -> u64 {
        self.guard.as_ref().map_or(0, StreamGuard::chunks)
    }

    /// Notes an error the stream returned, as an ERROR event on the span (its status
    /// becomes Error).
    ///
    /// ```
    /// use tracing_openinference::integrations::async_openai::ChatStreamRecorder;
    /// let mut stream = ChatStreamRecorder::new(tracing::Span::none());
    /// stream.error(&"connection reset");
    /// # stream.finish();
    /// ```
    pub fn error(&mut self, error: &dyn std::fmt::Display) {
        tracing::error!(parent: &self.span, error = %error, "the chat stream failed");
    }

    /// Records the whole response on the span: the stream ended normally.
    ///
    /// ```
    /// use tracing_openinference::integrations::async_openai::ChatStreamRecorder;
    /// ChatStreamRecorder::new(tracing::Span::none()).finish();
    /// ```
    pub fn finish(mut self) {
        self.record();
        if let Some(guard) = self.guard.take() {
            guard.finish();
        }
    }

    /// Puts one choice's delta into its choice, within the bounds.
    #[allow(deprecated)] // `function_call`: the streamed tool call of older models.
    fn take_choice(&mut self, choice: &ChatChoiceStream) {
        let slot = match self.choices.iter().position(|c| c.index == choice.index) {
            Some(i) => i,
            None if self.choices.len() < MAX_CHOICES => {
                self.choices.push(StreamedChoice {
                    index: choice.index,
                    ..StreamedChoice::default()
                });
                self.choices.len() - 1
            }
            None => return,
        };
        let budget = &mut self.bytes;
        let kept = &mut self.choices[slot];
        let delta = &choice.delta;
        if let Some(role) = delta.role {
            kept.role = Some(role);
        }
        if let Some(reason) = choice.finish_reason {
            kept.finish = Some(reason);
        }
        if let Some(text) = &delta.content {
            append(&mut kept.content, text, budget);
        }
        if let Some(text) = &delta.refusal {
            append(&mut kept.refusal, text, budget);
        }
        for part in delta.tool_calls.iter().flatten() {
            let at = match kept.calls.iter().position(|c| c.index == part.index) {
                Some(i) => i,
                None if kept.calls.len() < MAX_CALLS => {
                    kept.calls.push(StreamedCall {
                        index: part.index,
                        ..StreamedCall::default()
                    });
                    kept.calls.len() - 1
                }
                None => continue,
            };
            let call = &mut kept.calls[at];
            if let Some(id) = part.id.as_deref().filter(|_| call.id.is_empty()) {
                append(&mut call.id, id, budget);
            }
            if let Some(function) = &part.function {
                take_function(call, function, budget);
            }
        }
        if let Some(function) = &delta.function_call {
            take_function(
                kept.function.get_or_insert_with(Default::default),
                function,
                budget,
            );
        }
    }

    /// Records what was taken in (once).
    fn record(&mut self) {
        if self.span.is_disabled() {
            return;
        }
        let mut choices: Vec<&StreamedChoice> = self.choices.iter().collect();
        choices.sort_by_key(|c| c.index);
        let messages: Vec<Wire<'_>> = choices.iter().map(|c| wire(c)).collect();
        if !messages.is_empty() {
            put_json(&self.span, "llm.output_messages", &messages);
        }
        if let Some(reason) = choices.first().and_then(|c| c.finish) {
            super::put(&self.span, "llm.finish_reason", finish_name(reason));
        }
        if let Some(usage) = &self.usage {
            record_usage(&self.span, usage);
        }
        record_identity(&self.span, &self.model, &self.id);
    }
}

impl Drop for ChatStreamRecorder {
    fn drop(&mut self) {
        // Not finished: record what there is; the guard's drop marks the stream incomplete.
        if self.guard.is_some() {
            self.record();
        }
    }
}

/// Appends `text` to `to` if the byte budget allows.
fn append(to: &mut String, text: &str, budget: &mut usize) {
    if *budget + text.len() <= MAX_TEXT_BYTES {
        *budget += text.len();
        to.push_str(text);
    }
}

/// Takes a function delta: the name comes once (a repeated name is not doubled), the
/// arguments come in pieces.
fn take_function(call: &mut StreamedCall, delta: &FunctionCallStream, budget: &mut usize) {
    if let Some(name) = delta.name.as_deref().filter(|_| call.name.is_empty()) {
        append(&mut call.name, name, budget);
    }
    if let Some(arguments) = &delta.arguments {
        append(&mut call.arguments, arguments, budget);
    }
}

/// A rebuilt choice as a reply message.
fn wire(choice: &StreamedChoice) -> Wire<'_> {
    let text = if choice.content.is_empty() {
        &choice.refusal
    } else {
        &choice.content
    };
    let content = (!text.is_empty()).then_some(Content::Text(text));
    let mut message = Wire::new(role_name(choice.role.unwrap_or(Role::Assistant)), content);
    message.tool_calls = choice
        .calls
        .iter()
        .chain(&choice.function)
        .map(|c| Call {
            id: &c.id,
            kind: "function",
            function: Function {
                name: &c.name,
                arguments: &c.arguments,
            },
        })
        .collect();
    message.finish_reason = choice.finish.map(finish_name);
    message
}

/// A chat stream that records itself on a span as it is read: each chunk goes to a
/// [`ChatStreamRecorder`], the end of the stream finishes it, an error becomes an ERROR event,
/// and a stream dropped before its end is recorded as incomplete. The span stays open until
/// the stream is done, so its duration is the whole response's, and it is entered while the
/// stream is polled.
///
/// ```
/// use async_openai::types::chat::CreateChatCompletionStreamResponse;
/// use futures_util::StreamExt as _;
/// use tracing_openinference::integrations::async_openai::TracedChatStream;
/// use tracing_openinference::testing::Recorder;
///
/// let chunk: CreateChatCompletionStreamResponse = serde_json::from_value(serde_json::json!({
///     "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini",
///     "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}],
/// })).unwrap();
/// let recorder = Recorder::install();
/// let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(chunk)]);
/// let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
/// let mut stream = TracedChatStream::with_span(chunks, span);
/// futures_executor::block_on(async { while stream.next().await.is_some() {} });
/// drop(stream);
/// let spans = recorder.spans();
/// assert_eq!(
///     Recorder::attribute(&spans[0], "llm.output_messages.0.message.content"),
///     Some("Hi".into())
/// );
/// ```
#[derive(Debug)]
pub struct TracedChatStream<S> {
    inner: S,
    span: tracing::Span,
    recorder: Option<ChatStreamRecorder>,
}

impl<S> TracedChatStream<S> {
    /// Wraps `inner`, recording on the current span.
    ///
    /// ```
    /// use tracing_openinference::integrations::async_openai::TracedChatStream;
    /// let chunks = futures_util::stream::empty::<Result<
    ///     async_openai::types::chat::CreateChatCompletionStreamResponse, std::io::Error>>();
    /// let stream = TracedChatStream::new(chunks);
    /// # drop(stream);
    /// ```
    pub fn new(inner: S) -> Self {
        TracedChatStream::with_span(inner, tracing::Span::current())
    }

    /// Wraps `inner`, recording on `span`.
    ///
    /// ```
    /// use tracing_openinference::integrations::async_openai::TracedChatStream;
    /// let chunks = futures_util::stream::empty::<Result<
    ///     async_openai::types::chat::CreateChatCompletionStreamResponse, std::io::Error>>();
    /// let stream = TracedChatStream::with_span(chunks, tracing::info_span!("chat"));
    /// # drop(stream);
    /// ```
    pub fn with_span(inner: S, span: tracing::Span) -> Self {
        TracedChatStream {
            inner,
            recorder: Some(ChatStreamRecorder::new(span.clone())),
            span,
        }
    }
}

impl<S, E> futures_core::Stream for TracedChatStream<S>
where
    S: futures_core::Stream<Item = Result<CreateChatCompletionStreamResponse, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        let item = Pin::new(&mut this.inner).poll_next(cx);
        match &item {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(recorder) = &mut this.recorder {
                    recorder.chunk(chunk);
                }
            }
            Poll::Ready(Some(Err(error))) => {
                if let Some(recorder) = &mut this.recorder {
                    recorder.error(error);
                }
            }
            Poll::Ready(None) => {
                if let Some(recorder) = this.recorder.take() {
                    recorder.finish();
                }
            }
            Poll::Pending => {}
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chunk(choice: u32, call: u32, text: &str) -> CreateChatCompletionStreamResponse {
        serde_json::from_value(json!({
            "id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": choice, "delta": {"content": text, "tool_calls": [
                {"index": call, "id": "id", "function": {"name": "f", "arguments": text}}]}}],
        }))
        .unwrap()
    }

    /// However many choices, calls and bytes arrive, what is kept stays within the bounds.
    #[test]
    fn what_a_stream_keeps_is_bounded() {
        let mut stream = ChatStreamRecorder::new(tracing::Span::none());
        let piece = "x".repeat(64 * 1024);
        for i in 0..200u32 {
            stream.chunk(&chunk(i % 40, i, &piece));
        }
        assert_eq!(stream.chunks(), 200);
        assert!(stream.choices.len() <= MAX_CHOICES);
        assert!(stream.choices.iter().all(|c| c.calls.len() <= MAX_CALLS));
        assert!(stream.bytes <= MAX_TEXT_BYTES);
        let kept: usize = stream
            .choices
            .iter()
            .map(|c| {
                c.content.len()
                    + c.calls
                        .iter()
                        .map(|k| k.id.len() + k.name.len() + k.arguments.len())
                        .sum::<usize>()
            })
            .sum();
        assert_eq!(kept, stream.bytes);
        // The budget was reached: later pieces were dropped, earlier ones kept whole.
        assert!(stream.bytes > MAX_TEXT_BYTES - piece.len());
        stream.finish();
    }

    /// A tool call's name given again in a later delta is not doubled; its arguments are
    /// joined in order.
    #[test]
    fn a_repeated_name_is_kept_once_and_arguments_are_joined() {
        let mut stream = ChatStreamRecorder::new(tracing::Span::none());
        stream.chunk(&chunk(0, 0, "{\"a\":"));
        stream.chunk(&chunk(0, 0, "1}"));
        let call = &stream.choices[0].calls[0];
        assert_eq!(call.name, "f");
        assert_eq!(call.id, "id");
        assert_eq!(call.arguments, "{\"a\":1}");
        assert_eq!(stream.choices[0].content, "{\"a\":1}");
        stream.finish();
    }
}

//! [`async-openai`](https://docs.rs/async-openai) 0.43 calls recorded on a span: the chat
//! request (messages with their roles, tool calls and tool results, tool definitions, model,
//! parameters), its response (choices, tool calls, finish reason, usage with cached and
//! reasoning tokens, response model and id), a streamed response rebuilt from its chunks, and
//! embeddings. Feature `async-openai`; it needs async-openai's types only, so any client
//! features of your own `async-openai` dependency (0.43) work with it.
//!
//! A traced chat is the `#[instrument]` line and two calls:
//!
//! ```
//! use async_openai::{config::OpenAIConfig, error::OpenAIError, Client};
//! use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionResponse};
//! use tracing_openinference::integrations::async_openai::OpenAiSpanExt;
//!
//! #[tracing::instrument(skip_all, err)]
//! async fn chat(client: &Client<OpenAIConfig>, request: CreateChatCompletionRequest)
//!     -> Result<CreateChatCompletionResponse, OpenAIError> {
//!     tracing::Span::current().record_chat_request(&request);
//!     tracing::Span::current().record_chat_result(client.chat().create(request).await)
//! }
//! ```
//!
//! A stream is `Ok(TracedChatStream::new(client.chat().create_stream(request).await?))` after
//! the same first line (see [`TracedChatStream`]). The span becomes an LLM span (an EMBEDDING
//! span for embeddings) whatever its callsite declared. Here with a stand-in for the client,
//! and the spans it exports:
//!
//! ```
//! use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionResponse};
//! use serde_json::json;
//! use tracing_openinference::integrations::async_openai::OpenAiSpanExt;
//! use tracing_openinference::testing::Recorder;
//!
//! /// Stands in for `client.chat().create(request)`.
//! async fn create(_: CreateChatCompletionRequest)
//!     -> Result<CreateChatCompletionResponse, std::io::Error> {
//!     Ok(serde_json::from_value(json!({
//!         "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
//!         "choices": [{"index": 0, "finish_reason": "stop",
//!                      "message": {"role": "assistant", "content": "Hello!"}}],
//!         "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
//!     }))?)
//! }
//!
//! #[tracing::instrument(skip_all, err)]
//! async fn chat(request: CreateChatCompletionRequest)
//!     -> Result<CreateChatCompletionResponse, std::io::Error> {
//!     tracing::Span::current().record_chat_request(&request);
//!     tracing::Span::current().record_chat_result(create(request).await)
//! }
//!
//! let recorder = Recorder::install();
//! let request = serde_json::from_value(json!({
//!     "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}],
//! })).unwrap();
//! futures_executor::block_on(chat(request)).unwrap();
//! let span = &recorder.spans()[0];
//! assert_eq!(Recorder::attribute(span, "openinference.span.kind"), Some("LLM".into()));
//! assert_eq!(Recorder::attribute(span, "llm.input_messages.0.message.content"), Some("Hi".into()));
//! assert_eq!(Recorder::attribute(span, "llm.output_messages.0.message.content"), Some("Hello!".into()));
//! assert!(Recorder::attribute(span, "llm.cost.total").is_some());
//! ```
//!
//! Every recording method works on any span: with no [`crate::LlmLayer`] recording it, it does
//! nothing.

mod request;
mod response;
mod stream;

pub use stream::{ChatStreamRecorder, TracedChatStream};

use crate::LlmSpanExt;
use ::async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionResponse};
use ::async_openai::types::embeddings::{CreateEmbeddingRequest, CreateEmbeddingResponse};

/// Records `async-openai` requests and responses on a `tracing::Span` (see [the module
/// docs](self)). Recording never fails the call: a span no [`crate::LlmLayer`] records is left
/// as it is.
///
/// ```
/// use async_openai::types::chat::CreateChatCompletionRequest;
/// use tracing_openinference::integrations::async_openai::OpenAiSpanExt;
/// use tracing_openinference::testing::Recorder;
///
/// let request: CreateChatCompletionRequest = serde_json::from_value(serde_json::json!({
///     "model": "gpt-4o-mini",
///     "messages": [{"role": "user", "content": "Hi"}],
/// })).unwrap();
/// let recorder = Recorder::install();
/// tracing::info_span!("chat").in_scope(|| tracing::Span::current().record_chat_request(&request));
/// let span = &recorder.spans()[0];
/// assert_eq!(Recorder::attribute(span, "openinference.span.kind"), Some("LLM".into()));
/// assert_eq!(Recorder::attribute(span, "llm.input_messages.0.message.content"), Some("Hi".into()));
/// ```
pub trait OpenAiSpanExt {
    /// Records a chat request: the span becomes an LLM span with the model, the messages
    /// (`llm.input_messages`, a tool result named after the call it answers), the tool
    /// definitions (`llm.tools`) and the parameters (`llm.invocation_parameters`). The
    /// provider is recorded as `openai` unless the span declares `llm.provider` or
    /// `gen_ai.provider.name`.
    ///
    /// ```
    /// use async_openai::types::chat::CreateChatCompletionRequest;
    /// use tracing_openinference::integrations::async_openai::OpenAiSpanExt;
    ///
    /// let request: CreateChatCompletionRequest = serde_json::from_value(serde_json::json!({
    ///     "model": "gpt-4o-mini", "temperature": 0.2,
    ///     "messages": [{"role": "system", "content": "Be brief."},
    ///                  {"role": "user", "content": "Hi"}],
    /// })).unwrap();
    /// tracing::Span::none().record_chat_request(&request); // no layer: nothing happens
    /// ```
    fn record_chat_request(&self, request: &CreateChatCompletionRequest);

    /// Records a chat response: the reply messages (`llm.output_messages`, with their tool
    /// calls), the first choice's finish reason (`llm.finish_reason`), the usage with cached,
    /// cache-write and reasoning tokens (cost follows from it), the response model and id.
    ///
    /// ```
    /// use async_openai::types::chat::CreateChatCompletionResponse;
    /// use tracing_openinference::integrations::async_openai::OpenAiSpanExt;
    /// use tracing_openinference::testing::Recorder;
    ///
    /// let response: CreateChatCompletionResponse = serde_json::from_value(serde_json::json!({
    ///     "id": "chatcmpl-1", "object": "chat.completion", "created": 0,
    ///     "model": "gpt-4o-mini-2024-07-18",
    ///     "choices": [{"index": 0, "finish_reason": "stop",
    ///                  "message": {"role": "assistant", "content": "Hello!"}}],
    ///     "usage": {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23,
    ///               "prompt_tokens_details": {"cached_tokens": 16}},
    /// })).unwrap();
    /// let recorder = Recorder::install();
    /// tracing::info_span!("chat", llm.model_name = "gpt-4o-mini")
    ///     .in_scope(|| tracing::Span::current().record_chat_response(&response));
    /// let span = &recorder.spans()[0];
    /// assert_eq!(Recorder::attribute(span, "llm.finish_reason"), Some("stop".into()));
    /// assert_eq!(
    ///     Recorder::attribute(span, "llm.token_count.prompt_details.cache_read"),
    ///     Some("16".into())
    /// );
    /// ```
    fn record_chat_response(&self, response: &CreateChatCompletionResponse);

    /// Records the response of a successful call and hands the result back unchanged, so
    /// that the call and its recording are one line. An error is left to `#[instrument(err)]`.
    ///
    /// ```
    /// use async_openai::types::chat::CreateChatCompletionResponse;
    /// use tracing_openinference::integrations::async_openai::OpenAiSpanExt;
    ///
    /// let result: Result<CreateChatCompletionResponse, String> = Err("timeout".into());
    /// let same = tracing::Span::none().record_chat_result(result);
    /// assert_eq!(same, Err("timeout".to_string()));
    /// ```
    fn record_chat_result<E>(
        &self,
        result: Result<CreateChatCompletionResponse, E>,
    ) -> Result<CreateChatCompletionResponse, E> {
        if let Ok(response) = &result {
            self.record_chat_response(response);
        }
        result
    }

    /// Records an embedding request: the span becomes an EMBEDDING span with the model
    /// (`embedding.model_name`) and the input texts (`embedding.embeddings.N.embedding.text`;
    /// token-id inputs have no text and are not recorded).
    ///
    /// ```
    /// use async_openai::types::embeddings::CreateEmbeddingRequest;
    /// use tracing_openinference::integrations::async_openai::OpenAiSpanExt;
    /// use tracing_openinference::testing::Recorder;
    ///
    /// let request: CreateEmbeddingRequest = serde_json::from_value(serde_json::json!({
    ///     "model": "text-embedding-3-small", "input": ["tea", "coffee"],
    /// })).unwrap();
    /// let recorder = Recorder::install();
    /// tracing::info_span!("embed")
    ///     .in_scope(|| tracing::Span::current().record_embedding_request(&request));
    /// let span = &recorder.spans()[0];
    /// assert_eq!(Recorder::attribute(span, "openinference.span.kind"), Some("EMBEDDING".into()));
    /// assert_eq!(
    ///     Recorder::attribute(span, "embedding.embeddings.1.embedding.text"),
    ///     Some("coffee".into())
    /// );
    /// ```
    fn record_embedding_request(&self, request: &CreateEmbeddingRequest);

    /// Records an embedding response: its usage and the response model. The vectors are not
    /// recorded (they are large and rarely read in a trace).
    ///
    /// ```
    /// use async_openai::types::embeddings::CreateEmbeddingResponse;
    /// use tracing_openinference::integrations::async_openai::OpenAiSpanExt;
    ///
    /// let response: CreateEmbeddingResponse = serde_json::from_value(serde_json::json!({
    ///     "object": "list", "model": "text-embedding-3-small",
    ///     "data": [{"index": 0, "object": "embedding", "embedding": [0.1, 0.2]}],
    ///     "usage": {"prompt_tokens": 2, "total_tokens": 2},
    /// })).unwrap();
    /// tracing::Span::none().record_embedding_response(&response);
    /// ```
    fn record_embedding_response(&self, response: &CreateEmbeddingResponse);
}

impl OpenAiSpanExt for tracing::Span {
    fn record_chat_request(&self, request: &CreateChatCompletionRequest) {
        request::record_chat(self, request);
    }

    fn record_chat_response(&self, response: &CreateChatCompletionResponse) {
        response::record_chat(self, response);
    }

    fn record_embedding_request(&self, request: &CreateEmbeddingRequest) {
        request::record_embedding(self, request);
    }

    fn record_embedding_response(&self, response: &CreateEmbeddingResponse) {
        response::record_embedding(self, response);
    }
}

/// Records `value` under `key`; a span no layer records is skipped (see [`OpenAiSpanExt`]).
fn put(span: &tracing::Span, key: &str, value: impl Into<crate::SemanticValue>) {
    // Errors are `NoLayer` (nothing to record on) or a key of this module's own choosing.
    let _ = span.record_semantic(key, value);
}

/// Records `value` as the JSON text of `key` (see [`put`]).
fn put_json<T: serde::Serialize + ?Sized>(span: &tracing::Span, key: &str, value: &T) {
    let _ = span.record_json(key, value);
}

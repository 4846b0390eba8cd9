//! A chat or embedding response as the layer's fields: the reply messages with their tool
//! calls and finish reasons, usage, response model and id.

use super::request::{call, Content, Wire};
use super::{put, put_json};
use crate::{LlmSpanExt, Usage};
use ::async_openai::types::chat::{
    CompletionUsage, CreateChatCompletionResponse, FinishReason, Role,
};
use ::async_openai::types::embeddings::CreateEmbeddingResponse;

/// The wire name of a role.
pub(super) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Developer => "developer",
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
        Role::Function => "function",
    }
}

/// The wire name of a finish reason.
pub(super) fn finish_name(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::FunctionCall => "function_call",
    }
}

/// The token counts of `usage`: cached prompt tokens are cache reads, `cache_write_tokens`
/// cache writes, and reasoning tokens stay part of the completion.
pub(super) fn usage_of(usage: &CompletionUsage) -> Usage {
    let prompt = usage.prompt_tokens_details.as_ref();
    let completion = usage.completion_tokens_details.as_ref();
    Usage {
        prompt: u64::from(usage.prompt_tokens),
        completion: u64::from(usage.completion_tokens),
        cache_read: prompt.and_then(|d| d.cached_tokens).map_or(0, u64::from),
        cache_write: prompt
            .and_then(|d| d.cache_write_tokens)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0),
        reasoning: completion
            .and_then(|d| d.reasoning_tokens)
            .map_or(0, u64::from),
    }
}

/// Records `usage`, and the provider's total when it gave one.
pub(super) fn record_usage(span: &tracing::Span, usage: &CompletionUsage) {
    let _ = span.record_usage(usage_of(usage));
    if usage.total_tokens > 0 {
        put(span, "llm.token_count.total", u64::from(usage.total_tokens));
    }
}

/// Records the response model and id (empty ones are not recorded).
pub(super) fn record_identity(span: &tracing::Span, model: &str, id: &str) {
    if !model.is_empty() {
        let _ = span.record_response_model(model);
    }
    if !id.is_empty() {
        put(span, "gen_ai.response.id", id);
    }
}

/// See [`super::OpenAiSpanExt::record_chat_response`].
#[allow(deprecated)] // `function_call`: the tool call of older models.
pub(super) fn record_chat(span: &tracing::Span, response: &CreateChatCompletionResponse) {
    if span.is_disabled() {
        return;
    }
    let mut choices: Vec<_> = response.choices.iter().collect();
    choices.sort_by_key(|c| c.index);
    let messages: Vec<Wire<'_>> = choices
        .iter()
        .map(|choice| {
            let m = &choice.message;
            let content = m
                .content
                .as_deref()
                .or(m.refusal.as_deref())
                .map(Content::Text);
            let mut wire = Wire::new(role_name(m.role), content);
            wire.tool_calls = m.tool_calls.iter().flatten().map(call).collect();
            if let Some(f) = &m.function_call {
                wire.tool_calls.push(super::request::Call {
                    id: "",
                    kind: "function",
                    function: super::request::Function {
                        name: &f.name,
                        arguments: &f.arguments,
                    },
                });
            }
            wire.finish_reason = choice.finish_reason.map(finish_name);
            wire
        })
        .collect();
    if !messages.is_empty() {
        put_json(span, "llm.output_messages", &messages);
    }
    if let Some(reason) = choices.first().and_then(|c| c.finish_reason) {
        put(span, "llm.finish_reason", finish_name(reason));
    }
    if let Some(usage) = &response.usage {
        record_usage(span, usage);
    }
    record_identity(span, &response.model, &response.id);
}

/// See [`super::OpenAiSpanExt::record_embedding_response`].
pub(super) fn record_embedding(span: &tracing::Span, response: &CreateEmbeddingResponse) {
    if span.is_disabled() {
        return;
    }
    put(
        span,
        "llm.token_count.prompt",
        u64::from(response.usage.prompt_tokens),
    );
    put(
        span,
        "llm.token_count.total",
        u64::from(response.usage.total_tokens),
    );
    if !response.model.is_empty() {
        let _ = span.record_response_model(response.model.as_str());
    }
}

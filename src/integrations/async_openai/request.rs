//! A chat or embedding request as the layer's fields: the conversation in the OpenAI message
//! shape the mapping flattens, tool definitions, model and parameters.

use super::{put, put_json};
use ::async_openai::types::chat::{
    ChatCompletionMessageToolCalls, ChatCompletionRequestAssistantMessage,
    ChatCompletionRequestAssistantMessageContent, ChatCompletionRequestDeveloperMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessageContent,
    ChatCompletionRequestToolMessageContent, ChatCompletionRequestUserMessageContent,
    CreateChatCompletionRequest,
};
use ::async_openai::types::embeddings::{CreateEmbeddingRequest, EmbeddingInput};
use serde::Serialize;
use serde_json::{Map, Value as Json};

/// A message's content: text, or the request's own content parts (which serialize in the
/// OpenAI shape: `{"type": "text", "text": ...}`, `{"type": "image_url", ...}`).
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum Content<'a> {
    Text(&'a str),
    Developer(&'a ChatCompletionRequestDeveloperMessageContent),
    System(&'a ChatCompletionRequestSystemMessageContent),
    User(&'a ChatCompletionRequestUserMessageContent),
    Assistant(&'a ChatCompletionRequestAssistantMessageContent),
    Tool(&'a ChatCompletionRequestToolMessageContent),
}

/// A tool call in the OpenAI shape.
#[derive(Serialize)]
pub(super) struct Call<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(super) id: &'a str,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) function: Function<'a>,
}

/// The function of a [`Call`].
#[derive(Serialize)]
pub(super) struct Function<'a> {
    pub(super) name: &'a str,
    pub(super) arguments: &'a str,
}

/// The legacy `function_call` of a message.
#[derive(Serialize)]
struct LegacyCall<'a> {
    name: &'a str,
    arguments: &'a str,
}

/// One message in the OpenAI shape the mapping flattens.
#[derive(Serialize)]
pub(super) struct Wire<'a> {
    pub(super) role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) content: Option<Content<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) tool_calls: Vec<Call<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_call: Option<LegacyCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) finish_reason: Option<&'static str>,
}

impl<'a> Wire<'a> {
    pub(super) fn new(role: &'static str, content: Option<Content<'a>>) -> Self {
        Wire {
            role,
            content,
            tool_calls: Vec::new(),
            function_call: None,
            tool_call_id: None,
            name: None,
            finish_reason: None,
        }
    }
}

/// A tool call of a message (a custom tool's input stands as its arguments).
pub(super) fn call(call: &ChatCompletionMessageToolCalls) -> Call<'_> {
    match call {
        ChatCompletionMessageToolCalls::Function(c) => Call {
            id: &c.id,
            kind: "function",
            function: Function {
                name: &c.function.name,
                arguments: &c.function.arguments,
            },
        },
        ChatCompletionMessageToolCalls::Custom(c) => Call {
            id: &c.id,
            kind: "custom",
            function: Function {
                name: &c.custom_tool.name,
                arguments: &c.custom_tool.input,
            },
        },
    }
}

/// The messages of a request; a tool result carries the name of the function whose call it
/// answers, found among the earlier assistant messages.
pub(super) fn messages(list: &[ChatCompletionRequestMessage]) -> Vec<Wire<'_>> {
    let mut out = Vec::with_capacity(list.len());
    // (call id, function name) of the calls seen so far.
    let mut names: Vec<(&str, &str)> = Vec::new();
    for message in list {
        let wire = match message {
            ChatCompletionRequestMessage::Developer(m) => Wire {
                name: m.name.as_deref(),
                ..Wire::new("developer", Some(Content::Developer(&m.content)))
            },
            ChatCompletionRequestMessage::System(m) => Wire {
                name: m.name.as_deref(),
                ..Wire::new("system", Some(Content::System(&m.content)))
            },
            ChatCompletionRequestMessage::User(m) => Wire {
                name: m.name.as_deref(),
                ..Wire::new("user", Some(Content::User(&m.content)))
            },
            ChatCompletionRequestMessage::Assistant(m) => {
                let wire = assistant(m);
                names.extend(wire.tool_calls.iter().map(|c| (c.id, c.function.name)));
                wire
            }
            ChatCompletionRequestMessage::Tool(m) => Wire {
                tool_call_id: Some(&m.tool_call_id),
                name: names
                    .iter()
                    .rev()
                    .find(|(id, _)| *id == m.tool_call_id)
                    .map(|(_, name)| *name),
                ..Wire::new("tool", Some(Content::Tool(&m.content)))
            },
            ChatCompletionRequestMessage::Function(m) => Wire {
                name: Some(&m.name),
                ..Wire::new("function", m.content.as_deref().map(Content::Text))
            },
        };
        out.push(wire);
    }
    out
}

/// An assistant message of the conversation so far.
#[allow(deprecated)] // `function_call`: still sent by older code, still part of the conversation.
fn assistant(m: &ChatCompletionRequestAssistantMessage) -> Wire<'_> {
    let content = match (&m.content, &m.refusal) {
        (Some(content), _) => Some(Content::Assistant(content)),
        (None, Some(refusal)) => Some(Content::Text(refusal)),
        (None, None) => None,
    };
    Wire {
        tool_calls: m.tool_calls.iter().flatten().map(call).collect(),
        function_call: m.function_call.as_ref().map(|f| LegacyCall {
            name: &f.name,
            arguments: &f.arguments,
        }),
        name: m.name.as_deref(),
        ..Wire::new("assistant", content)
    }
}

/// The request's parameters: everything but the conversation, the model and the tools.
/// The end user's id and the metadata are left out (they are not parameters of the model).
#[allow(deprecated)] // `max_tokens`, `seed`: deprecated by OpenAI, still sent.
fn parameters(r: &CreateChatCompletionRequest) -> Map<String, Json> {
    let mut map = Map::new();
    let mut add = |key: &str, value: Option<Json>| {
        if let Some(value) = value {
            map.insert(key.to_owned(), value);
        }
    };
    fn json<T: Serialize>(v: &Option<T>) -> Option<Json> {
        v.as_ref().and_then(|v| serde_json::to_value(v).ok())
    }
    add("temperature", json(&r.temperature));
    add("top_p", json(&r.top_p));
    add("max_completion_tokens", json(&r.max_completion_tokens));
    add("max_tokens", json(&r.max_tokens));
    add("frequency_penalty", json(&r.frequency_penalty));
    add("presence_penalty", json(&r.presence_penalty));
    add("seed", json(&r.seed));
    add("n", json(&r.n));
    add("stop", json(&r.stop));
    add("stream", json(&r.stream));
    add("stream_options", json(&r.stream_options));
    add("response_format", json(&r.response_format));
    add("tool_choice", json(&r.tool_choice));
    add("parallel_tool_calls", json(&r.parallel_tool_calls));
    add("reasoning_effort", json(&r.reasoning_effort));
    add("verbosity", json(&r.verbosity));
    add("logprobs", json(&r.logprobs));
    add("top_logprobs", json(&r.top_logprobs));
    add("logit_bias", json(&r.logit_bias));
    add("service_tier", json(&r.service_tier));
    add("modalities", json(&r.modalities));
    add("store", json(&r.store));
    add("prompt_cache_key", json(&r.prompt_cache_key));
    map
}

/// Whether the span's callsite declares any of `keys` (a value the user set stays).
fn declares(span: &tracing::Span, keys: &[&str]) -> bool {
    span.metadata()
        .is_some_and(|m| keys.iter().any(|k| m.fields().field(k).is_some()))
}

/// Records the provider unless the span declares one.
fn provider(span: &tracing::Span) {
    if !declares(span, &["llm.provider", "gen_ai.provider.name"]) {
        put(span, "llm.provider", "openai");
    }
    if !declares(span, &["llm.system", "gen_ai.system"]) {
        put(span, "llm.system", "openai");
    }
}

/// See [`super::OpenAiSpanExt::record_chat_request`].
#[allow(deprecated)] // `functions`: the tools of older code.
pub(super) fn record_chat(span: &tracing::Span, request: &CreateChatCompletionRequest) {
    if span.is_disabled() {
        return;
    }
    put(span, "openinference.span.kind", "LLM");
    put(span, "llm.model_name", request.model.as_str());
    provider(span);
    put_json(span, "llm.input_messages", &messages(&request.messages));
    match (&request.tools, &request.functions) {
        (Some(tools), _) if !tools.is_empty() => put_json(span, "llm.tools", tools),
        (_, Some(functions)) if !functions.is_empty() => {
            put_json(span, "llm.tools", functions);
        }
        _ => {}
    }
    let params = parameters(request);
    if !params.is_empty() {
        put_json(span, "llm.invocation_parameters", &params);
    }
    if request.stream == Some(true) {
        put(span, "gen_ai.request.stream", true);
    }
}

/// See [`super::OpenAiSpanExt::record_embedding_request`].
pub(super) fn record_embedding(span: &tracing::Span, request: &CreateEmbeddingRequest) {
    if span.is_disabled() {
        return;
    }
    put(span, "openinference.span.kind", "EMBEDDING");
    put(span, "embedding.model_name", request.model.as_str());
    provider(span);
    let texts: &[String] = match &request.input {
        EmbeddingInput::String(text) => std::slice::from_ref(text),
        EmbeddingInput::StringArray(texts) => texts,
        EmbeddingInput::IntegerArray(_) | EmbeddingInput::ArrayOfIntegerArray(_) => &[],
    };
    if !texts.is_empty() {
        put_json(span, "embedding.embeddings", texts);
    }
}

//! The OpenTelemetry GenAI attributes, derived from the OpenInference ones and back.

use crate::kind::SpanKind;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use std::sync::Arc;

/// OpenInference provider (`llm.provider`) to GenAI `gen_ai.provider.name`.
pub(crate) fn gen_ai_provider(oi: &str) -> &str {
    renamed_gen_ai_provider(oi).unwrap_or(oi)
}

/// The GenAI name of an OpenInference provider when it is not the same name.
fn renamed_gen_ai_provider(oi: &str) -> Option<&'static str> {
    Some(match oi {
        "mistralai" | "mistral" => "mistral_ai",
        "xai" => "x_ai",
        "google" | "gemini" => "gcp.gemini",
        "vertexai" => "gcp.vertex_ai",
        "aws" | "bedrock" => "aws.bedrock",
        "azure" => "azure.ai.openai",
        "moonshot" => "moonshot_ai",
        _ => return None,
    })
}

/// GenAI `gen_ai.provider.name` to the OpenInference `llm.provider`.
pub(crate) fn oi_provider(gen_ai: &str) -> &str {
    match gen_ai {
        "mistral_ai" => "mistralai",
        "x_ai" => "xai",
        "aws.bedrock" => "aws",
        "moonshot_ai" => "moonshot",
        s if s.starts_with("gcp.") => "google",
        s if s.starts_with("azure.") => "azure",
        other => other,
    }
}

/// The metric label for a provider as the span gave it (either convention).
pub(crate) fn provider_name_arc(provider: &Arc<str>) -> Arc<str> {
    let mapped = gen_ai_provider(provider);
    if mapped == &**provider {
        Arc::clone(provider)
    } else {
        Arc::from(mapped)
    }
}

/// The `llm.system` (API shape) implied by a provider, where it is unambiguous.
fn oi_system(provider: &str) -> Option<&'static str> {
    Some(match provider {
        "openai" | "azure" => "openai",
        "anthropic" => "anthropic",
        "google" => "vertexai",
        "cohere" => "cohere",
        "mistralai" => "mistralai",
        "xai" => "xai",
        "deepseek" => "deepseek",
        _ => return None,
    })
}

/// Declares the keys [`enrich`] reads: the enum [`Known`] and the table [`ALL`].
macro_rules! read_keys {
    ($($name:ident = $key:literal),* $(,)?) => {
        /// A key [`enrich`] reads.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Known { $($name),* }

        /// Every key [`enrich`] reads, with its [`Known`].
        const ALL: &[(&str, Known)] = &[$(($key, Known::$name)),*];
    };
}

read_keys! {
    TokensPrompt = "llm.token_count.prompt",
    TokensCompletion = "llm.token_count.completion",
    TokensCacheRead = "llm.token_count.prompt_details.cache_read",
    TokensCacheWrite = "llm.token_count.prompt_details.cache_write",
    TokensReasoning = "llm.token_count.completion_details.reasoning",
    UsageInput = "gen_ai.usage.input_tokens",
    UsageOutput = "gen_ai.usage.output_tokens",
    UsageCacheRead = "gen_ai.usage.cache_read.input_tokens",
    UsageCacheCreation = "gen_ai.usage.cache_creation.input_tokens",
    UsageReasoning = "gen_ai.usage.reasoning.output_tokens",
    SessionId = "session.id",
    ConversationId = "gen_ai.conversation.id",
    ToolName = "tool.name",
    GenAiToolName = "gen_ai.tool.name",
    ToolDescription = "tool.description",
    GenAiToolDescription = "gen_ai.tool.description",
    ToolId = "tool.id",
    ToolCallId = "gen_ai.tool.call.id",
    AgentName = "agent.name",
    GenAiAgentName = "gen_ai.agent.name",
    ResponseModelName = "llm.response.model_name",
    ResponseModel = "gen_ai.response.model",
    OperationName = "gen_ai.operation.name",
    LlmModelName = "llm.model_name",
    EmbeddingModelName = "embedding.model_name",
    RerankerModelName = "reranker.model_name",
    RequestModel = "gen_ai.request.model",
    RequestModelName = "llm.request.model_name",
    Provider = "llm.provider",
    ProviderName = "gen_ai.provider.name",
    GenAiSystem = "gen_ai.system",
    LlmSystem = "llm.system",
    InvocationParameters = "llm.invocation_parameters",
    Temperature = "gen_ai.request.temperature",
    TopP = "gen_ai.request.top_p",
    TopK = "gen_ai.request.top_k",
    FrequencyPenalty = "gen_ai.request.frequency_penalty",
    PresencePenalty = "gen_ai.request.presence_penalty",
    MaxTokens = "gen_ai.request.max_tokens",
    Seed = "gen_ai.request.seed",
    StopSequences = "gen_ai.request.stop_sequences",
    FinishReason = "llm.finish_reason",
    FinishReasons = "gen_ai.response.finish_reasons",
}

impl Known {
    /// The key's name.
    fn key(self) -> &'static str {
        ALL[self as usize].0
    }
}

/// The keys [`enrich`] reads by length: a key of any other length is passed over without
/// comparing a byte, and one of a listed length is compared with the few of that length.
struct ByLength(Vec<Vec<(&'static str, Known)>>);

impl ByLength {
    fn get() -> &'static ByLength {
        static TABLE: std::sync::OnceLock<ByLength> = std::sync::OnceLock::new();
        TABLE.get_or_init(|| {
            let longest = ALL.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            let mut by_length = vec![Vec::new(); longest + 1];
            for &(key, known) in ALL {
                by_length[key.len()].push((key, known));
            }
            ByLength(by_length)
        })
    }

    fn find(&self, key: &str) -> Option<Known> {
        self.0
            .get(key.len())?
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, known)| *known)
    }
}

/// The values of the keys [`enrich`] reads, found in one pass over a span's attributes (the
/// first of a repeated key, as a search would find it).
struct Found<'a>([Option<&'a Value>; ALL.len()]);

impl<'a> Found<'a> {
    fn of(attrs: &'a [KeyValue]) -> Self {
        let table = ByLength::get();
        let mut found = [None; ALL.len()];
        for kv in attrs {
            if let Some(known) = table.find(kv.key.as_str()) {
                found[known as usize].get_or_insert(&kv.value);
            }
        }
        Found(found)
    }

    fn get(&self, k: Known) -> Option<&'a Value> {
        self.0[k as usize]
    }

    fn has(&self, k: Known) -> bool {
        self.0[k as usize].is_some()
    }

    /// Whether no key of either convention is on the span.
    fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

/// Pairs of keys that carry the same value in both conventions, as (OpenInference, GenAI).
const SAME_VALUE: &[(Known, Known)] = &[
    (Known::TokensPrompt, Known::UsageInput),
    (Known::TokensCompletion, Known::UsageOutput),
    (Known::TokensCacheRead, Known::UsageCacheRead),
    (Known::TokensCacheWrite, Known::UsageCacheCreation),
    (Known::TokensReasoning, Known::UsageReasoning),
    (Known::SessionId, Known::ConversationId),
    (Known::ToolName, Known::GenAiToolName),
    (Known::ToolDescription, Known::GenAiToolDescription),
    (Known::ToolId, Known::ToolCallId),
    (Known::AgentName, Known::GenAiAgentName),
    (Known::ResponseModelName, Known::ResponseModel),
];

/// Invocation parameters copied to `gen_ai.request.*`, with whether they are integers.
const REQUEST_PARAMS: &[(&str, Known, bool)] = &[
    ("temperature", Known::Temperature, false),
    ("top_p", Known::TopP, false),
    ("top_k", Known::TopK, false),
    ("frequency_penalty", Known::FrequencyPenalty, false),
    ("presence_penalty", Known::PresencePenalty, false),
    ("max_tokens", Known::MaxTokens, true),
    ("max_completion_tokens", Known::MaxTokens, true),
    ("seed", Known::Seed, true),
];

/// The value of `key` in `attrs`, if present.
pub(crate) fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

/// Adds the GenAI attributes implied by the OpenInference ones (and the OpenInference ones
/// implied by GenAI aliases), never overwriting a key that is present.
pub(crate) fn enrich(attrs: &mut Vec<KeyValue>, kind: SpanKind) {
    let found = Found::of(attrs);
    if found.is_empty() && kind.gen_ai_operation().is_none() {
        // Nothing to mirror and no operation to name (most CHAIN spans): nothing to add.
        return;
    }
    let mut add: Vec<KeyValue> = Vec::with_capacity(12);
    for &(oi, gen_ai) in SAME_VALUE {
        match (found.get(oi), found.get(gen_ai)) {
            (Some(v), None) => add.push(KeyValue::new(gen_ai.key(), v.clone())),
            (None, Some(v)) => add.push(KeyValue::new(oi.key(), v.clone())),
            _ => {}
        }
    }

    if let Some(op) = kind.gen_ai_operation() {
        if !found.has(Known::OperationName) {
            add.push(KeyValue::new(Known::OperationName.key(), op));
        }
    }

    let model_key = match kind {
        SpanKind::Embedding => Known::EmbeddingModelName,
        SpanKind::Reranker => Known::RerankerModelName,
        _ => Known::LlmModelName,
    };
    let model = found
        .get(model_key)
        .or_else(|| found.get(Known::LlmModelName))
        .and_then(text);
    // A key present with a value of another type is not added again.
    let request_model = found.get(Known::RequestModel);
    match (model, request_model.and_then(text)) {
        (Some(m), None) if request_model.is_none() && !found.has(Known::RequestModelName) => {
            // `gen_ai.response.model` comes only from a recorded response model (its twin
            // `llm.response.model_name`), never from the request.
            add.push(KeyValue::new(Known::RequestModel.key(), m.to_owned()));
        }
        (None, Some(m)) if !found.has(model_key) => {
            add.push(KeyValue::new(model_key.key(), m.to_owned()))
        }
        _ => {}
    }

    let provider = found.get(Known::Provider).and_then(text);
    let gen_ai_provider_name = found
        .get(Known::ProviderName)
        .or_else(|| found.get(Known::GenAiSystem))
        .and_then(text);
    let oi_provider_name = match (provider, gen_ai_provider_name) {
        (Some(p), None) if !found.has(Known::ProviderName) => {
            let name = match renamed_gen_ai_provider(p) {
                Some(renamed) => StringValue::from(renamed),
                None => StringValue::from(p.to_owned()),
            };
            add.push(KeyValue::new(Known::ProviderName.key(), name));
            Some(p)
        }
        (None, Some(g)) if !found.has(Known::Provider) => {
            let p = oi_provider(g);
            add.push(KeyValue::new(Known::Provider.key(), p.to_owned()));
            Some(p)
        }
        (p, _) => p,
    };
    if kind == SpanKind::Llm && !found.has(Known::LlmSystem) {
        if let Some(system) = oi_provider_name.and_then(oi_system) {
            add.push(KeyValue::new(Known::LlmSystem.key(), system));
        }
    }

    if let Some(Value::String(params)) = found.get(Known::InvocationParameters) {
        if let Ok(serde_json::Value::Object(map)) =
            serde_json::from_str::<serde_json::Value>(params.as_str())
        {
            for &(name, k, integer) in REQUEST_PARAMS {
                if found.has(k) || add.iter().any(|kv| kv.key.as_str() == k.key()) {
                    continue;
                }
                match map.get(name) {
                    Some(serde_json::Value::Number(n)) if integer => {
                        if let Some(i) = n.as_i64() {
                            add.push(KeyValue::new(k.key(), i));
                        }
                    }
                    Some(serde_json::Value::Number(n)) => {
                        if let Some(f) = n.as_f64() {
                            add.push(KeyValue::new(k.key(), f));
                        }
                    }
                    _ => {}
                }
            }
            if let Some(serde_json::Value::Array(stop)) = map.get("stop") {
                let stops: Vec<StringValue> = stop
                    .iter()
                    .filter_map(|s| s.as_str().map(|s| StringValue::from(s.to_owned())))
                    .collect();
                if !stops.is_empty() && !found.has(Known::StopSequences) {
                    add.push(KeyValue::new(
                        Known::StopSequences.key(),
                        Value::Array(Array::String(stops)),
                    ));
                }
            }
        }
    }

    if let Some(Value::String(reason)) = found.get(Known::FinishReason) {
        if !found.has(Known::FinishReasons) {
            add.push(KeyValue::new(
                Known::FinishReasons.key(),
                Value::Array(Array::String(vec![reason.clone()])),
            ));
        }
    }
    attrs.extend(add);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A span with neither convention's keys gains nothing; one such key is enough to be
    /// mirrored.
    #[test]
    fn a_chain_span_gains_only_the_twins_of_what_it_has() {
        let plain = vec![
            KeyValue::new("http.method", "GET"),
            KeyValue::new("input.value", "{}"),
        ];
        let mut attrs = plain.clone();
        enrich(&mut attrs, SpanKind::Chain);
        assert_eq!(attrs, plain);
        attrs.push(KeyValue::new("session.id", "s-1"));
        enrich(&mut attrs, SpanKind::Chain);
        assert_eq!(
            get(&attrs, "gen_ai.conversation.id"),
            Some(&Value::from("s-1"))
        );
        assert_eq!(attrs.len(), plain.len() + 2);
    }

    #[test]
    fn oi_values_gain_gen_ai_twins_and_back() {
        let mut attrs = vec![
            KeyValue::new("llm.model_name", "gpt-4o"),
            KeyValue::new("llm.provider", "mistralai"),
            KeyValue::new("llm.token_count.prompt", 10i64),
            KeyValue::new("gen_ai.usage.output_tokens", 5i64),
            KeyValue::new(
                "llm.invocation_parameters",
                r#"{"temperature":0.2,"max_tokens":100}"#,
            ),
        ];
        enrich(&mut attrs, SpanKind::Llm);
        assert_eq!(
            get(&attrs, "gen_ai.usage.input_tokens"),
            Some(&Value::I64(10))
        );
        assert_eq!(
            get(&attrs, "llm.token_count.completion"),
            Some(&Value::I64(5))
        );
        assert_eq!(
            get(&attrs, "gen_ai.provider.name"),
            Some(&Value::from("mistral_ai"))
        );
        assert_eq!(
            get(&attrs, "gen_ai.request.model"),
            Some(&Value::from("gpt-4o"))
        );
        assert_eq!(
            get(&attrs, "gen_ai.operation.name"),
            Some(&Value::from("chat"))
        );
        assert_eq!(
            get(&attrs, "gen_ai.request.temperature"),
            Some(&Value::F64(0.2))
        );
        assert_eq!(
            get(&attrs, "gen_ai.request.max_tokens"),
            Some(&Value::I64(100))
        );
        assert_eq!(get(&attrs, "llm.system"), Some(&Value::from("mistralai")));
    }

    proptest::proptest! {
        /// The one-pass index finds what a search of the attributes finds, for every key it
        /// knows, among duplicates, flattened messages and unrelated keys; and enriching never
        /// adds a key that was there.
        #[test]
        fn the_index_agrees_with_a_search(
            picks in proptest::collection::vec((0usize..ALL.len() + 4, proptest::bool::ANY), 0..40),
        ) {
            let others = [
                "llm.input_messages.0.message.role",
                "llm.output_messages.3.message.content",
                "http.route",
                "llm.model",
            ];
            let attrs: Vec<KeyValue> = picks
                .iter()
                .enumerate()
                .map(|(n, &(i, is_text))| {
                    let key = ALL.get(i).map(|(k, _)| *k).unwrap_or_else(|| others[i - ALL.len()]);
                    let value = if is_text { Value::from(format!("v{n}")) } else { Value::I64(n as i64) };
                    KeyValue::new(key, value)
                })
                .collect();
            let found = Found::of(&attrs);
            for &(key, k) in ALL {
                proptest::prop_assert_eq!(found.get(k), get(&attrs, key), "{}", key);
            }
            let mut enriched = attrs.clone();
            enrich(&mut enriched, SpanKind::Llm);
            let added = &enriched[attrs.len()..];
            for kv in added {
                proptest::prop_assert!(get(&attrs, kv.key.as_str()).is_none(), "{} overwritten", kv.key);
            }
        }
    }

    #[test]
    fn gen_ai_only_spans_gain_oi_names() {
        let mut attrs = vec![
            KeyValue::new("gen_ai.request.model", "text-embedding-3-small"),
            KeyValue::new("gen_ai.provider.name", "gcp.vertex_ai"),
        ];
        enrich(&mut attrs, SpanKind::Embedding);
        assert_eq!(
            get(&attrs, "embedding.model_name"),
            Some(&Value::from("text-embedding-3-small"))
        );
        assert_eq!(get(&attrs, "llm.provider"), Some(&Value::from("google")));
        assert_eq!(
            get(&attrs, "gen_ai.operation.name"),
            Some(&Value::from("embeddings"))
        );
    }
}

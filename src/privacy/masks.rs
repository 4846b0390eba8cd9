//! The hide flags, turned into one plan per attribute key.
//!
//! A span's keys mostly repeat those of the spans before it, so what the flags, the secret-key
//! words and the JSON rules do with a key is worked out once ([`KeyPlans`]).

use super::keys::{is_secret_key, Kind};
use super::Privacy;
use std::collections::HashMap;
use std::sync::Arc;

/// What [`Privacy::apply`] does with one attribute key, decided once per distinct key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyPlan {
    pub(super) action: Action,
    pub(super) scan: JsonScan,
    /// The key names a secret: a string value is redacted.
    pub(super) secret_if_string: bool,
}

const MAX_KEY_PLANS: usize = 4096;

/// The plans of the keys [`Privacy::apply`] has seen, for one configuration: a span's keys
/// mostly repeat those of the spans before it, and the hide flags, secret-key words and JSON
/// rules then cost one hash lookup per attribute. Mostly they also come in the same order, so
/// the key last seen at each position of a span is compared first, which costs less than
/// hashing it.
#[derive(Debug, Default)]
pub(crate) struct KeyPlans {
    plans: HashMap<Arc<str>, KeyPlan, crate::fnv::WordsBuild>,
    /// The key and plan last looked up at each position of a span (the first [`MAX_RECENT`]).
    recent: Vec<(Arc<str>, KeyPlan)>,
}

/// Positions of a span whose last key [`KeyPlans`] keeps.
const MAX_RECENT: usize = 128;

impl KeyPlans {
    /// The plan of `key`, the attribute at position `at` of the span.
    pub(super) fn get(&mut self, privacy: &Privacy, key: &str, at: usize) -> KeyPlan {
        if let Some((last, plan)) = self.recent.get(at) {
            if **last == *key {
                return *plan;
            }
        }
        let (shared, plan) = match self.plans.get_key_value(key) {
            Some((shared, plan)) => (Some(shared.clone()), *plan),
            None => {
                let plan = privacy.plan(key);
                let shared = (self.plans.len() < MAX_KEY_PLANS).then(|| Arc::<str>::from(key));
                if let Some(shared) = &shared {
                    self.plans.insert(shared.clone(), plan);
                }
                (shared, plan)
            }
        };
        if let Some(shared) = shared.filter(|_| at < MAX_RECENT) {
            if at < self.recent.len() {
                self.recent[at] = (shared, plan);
            } else if at == self.recent.len() {
                self.recent.push((shared, plan));
            }
        }
        plan
    }
}

/// What the hide flags do with one attribute.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Keep,
    Redact,
    Drop,
    /// Invocation parameters while inputs are hidden: redact the prompt-carrying keys inside the JSON.
    RedactPromptKeys,
}

/// How the JSON scan treats one string value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JsonScan {
    None,
    Secrets,
    PromptKeys,
}

impl Privacy {
    /// What [`Privacy::process_kv`] does with `key`, whatever its value.
    pub(super) fn plan(&self, key: &str) -> KeyPlan {
        let action = self.action(key);
        let scan = match action {
            Action::RedactPromptKeys => JsonScan::PromptKeys,
            Action::Keep if self.redact_secrets && json_scan_key(key) => JsonScan::Secrets,
            _ => JsonScan::None,
        };
        KeyPlan {
            action,
            scan,
            secret_if_string: self.redact_secrets
                && !is_plain_message_key(key)
                && is_secret_key(key, Kind::Str),
        }
    }

    /// Whether any hide flag is set; with none, [`Privacy::action`] keeps every key.
    pub(super) fn hides_any(&self) -> bool {
        // Every field is named, so a new flag cannot be forgotten here.
        let Privacy {
            hide_inputs,
            hide_outputs,
            hide_input_messages,
            hide_output_messages,
            hide_input_text,
            hide_output_text,
            hide_input_images,
            hide_llm_invocation_parameters,
            hide_llm_tools,
            hide_prompts,
            hide_choices,
            hide_embeddings_vectors,
            hide_embeddings_text,
            hide_all,
            redact_secrets: _,
            mask: _,
            max_value_len: _,
            base64_image_max_len: _,
            max_span_bytes: _,
            max_request_bytes: _,
        } = *self;
        hide_inputs
            || hide_outputs
            || hide_input_messages
            || hide_output_messages
            || hide_input_text
            || hide_output_text
            || hide_input_images
            || hide_llm_invocation_parameters
            || hide_llm_tools
            || hide_prompts
            || hide_choices
            || hide_embeddings_vectors
            || hide_embeddings_text
            || hide_all
    }

    /// What the hide flags do with `key`.
    fn action(&self, key: &str) -> Action {
        if !self.hides_any() {
            return Action::Keep;
        }
        self.action_by_flags(key)
    }

    /// [`Privacy::action`] when some flag is set.
    pub(super) fn action_by_flags(&self, key: &str) -> Action {
        let all = self.hide_all;
        let inputs = all || self.hide_inputs;
        let outputs = all || self.hide_outputs;
        let input_messages = inputs || self.hide_input_messages;
        let output_messages = outputs || self.hide_output_messages;
        let is_text = |k: &str| {
            k.ends_with(".message.content")
                || k.ends_with(".message_content.text")
                || k.ends_with(".message_content.document.document.content")
        };
        let under = |k: &str, prefix: &str| {
            k.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        };
        let redact_if = |hide: bool| if hide { Action::Redact } else { Action::Keep };
        let drop_if = |hide: bool| if hide { Action::Drop } else { Action::Keep };

        match key {
            "input.value" => return redact_if(inputs),
            "input.mime_type" => return drop_if(inputs),
            "output.value" => return redact_if(outputs),
            "output.mime_type" => return drop_if(outputs),
            "llm.invocation_parameters" | "embedding.invocation_parameters" => {
                if all || (self.hide_llm_invocation_parameters && key.starts_with("llm.")) {
                    return Action::Drop;
                }
                if input_messages
                    || self.hide_input_text
                    || self.hide_input_images
                    || self.hide_prompts
                {
                    return Action::RedactPromptKeys;
                }
                return Action::Keep;
            }
            "gen_ai.input.messages" | "gen_ai.system_instructions" => {
                if input_messages {
                    return Action::Drop;
                }
                return redact_if(self.hide_input_text || self.hide_input_images);
            }
            "gen_ai.output.messages" => {
                if output_messages {
                    return Action::Drop;
                }
                return redact_if(self.hide_output_text);
            }
            "gen_ai.tool.definitions" => return drop_if(inputs || self.hide_llm_tools),
            "gen_ai.tool.call.arguments" => return redact_if(inputs),
            "gen_ai.tool.call.result" => return redact_if(outputs),
            "gen_ai.prompt" => return redact_if(inputs || self.hide_prompts),
            "gen_ai.completion" => return redact_if(outputs || self.hide_choices),
            "gen_ai.retrieval.documents"
            | "tool.parameters"
            | "llm.function_call"
            | "llm.prompt_template.template"
            | "llm.prompt_template.variables"
            | "reranker.query" => return redact_if(all),
            _ => {}
        }
        if under(key, "llm.input_messages") {
            if input_messages || (self.hide_input_images && key.contains(".message_content.image"))
            {
                return Action::Drop;
            }
            if key == "llm.input_messages" {
                // The raw value, kept because it could not be flattened: it may hold text and images.
                return redact_if(self.hide_input_text || self.hide_input_images);
            }
            return redact_if(self.hide_input_text && is_text(key));
        }
        if under(key, "llm.output_messages") {
            if output_messages {
                return Action::Drop;
            }
            if key == "llm.output_messages" {
                return redact_if(self.hide_output_text);
            }
            return redact_if(self.hide_output_text && is_text(key));
        }
        if under(key, "llm.tools") {
            return drop_if(inputs || self.hide_llm_tools);
        }
        if under(key, "llm.prompts") {
            return redact_if(inputs || self.hide_prompts);
        }
        if under(key, "llm.choices") {
            return redact_if(outputs || self.hide_choices);
        }
        if key == "embedding.embeddings" {
            // The raw value, kept because it could not be flattened: texts, vectors or both.
            return redact_if(inputs || self.hide_embeddings_text || self.hide_embeddings_vectors);
        }
        if all
            && matches!(
                key,
                "retrieval.documents" | "reranker.input_documents" | "reranker.output_documents"
            )
        {
            return Action::Redact;
        }
        if under(key, "embedding.embeddings") {
            if key.ends_with(".embedding.vector") {
                return redact_if(all || self.hide_embeddings_vectors);
            }
            if key.ends_with(".embedding.text") {
                return redact_if(inputs || self.hide_embeddings_text);
            }
        }
        if all
            && (key.ends_with(".document.content")
                || key.ends_with(".document.metadata")
                || is_text(key)
                || (key.contains("message_content.") && !key.ends_with(".type"))
                || key.ends_with(".function.arguments")
                || key.ends_with(".function_call_arguments_json")
                || key.ends_with("audio.transcript")
                || key.ends_with("image.url")
                || key.ends_with("audio.url"))
        {
            return Action::Redact;
        }
        Action::Keep
    }
}

/// Attributes whose JSON text is scanned for secret keys.
pub(super) fn json_scan_key(key: &str) -> bool {
    matches!(
        key,
        "llm.invocation_parameters"
            | "embedding.invocation_parameters"
            | "metadata"
            | "tool.parameters"
            | "input.value"
            | "output.value"
            | "llm.function_call"
            | "llm.prompt_template.variables"
            | "gen_ai.tool.call.arguments"
            | "gen_ai.tool.call.result"
            | "gen_ai.input.messages"
            | "gen_ai.output.messages"
    ) || key.ends_with(".tool_call.function.arguments")
        || key.ends_with(".message.function_call_arguments_json")
        || key.ends_with(".document.metadata")
        || key.ends_with(".evaluation.metadata")
        || key.ends_with(".annotation.metadata")
}

/// `llm.{input,output}_messages.<i>.message.{role,content,name}`: the most common keys, made only of words that are
/// not secret words (so [`is_secret_key`] is false for them), recognised without scanning them.
pub(super) fn is_plain_message_key(key: &str) -> bool {
    let Some(rest) = key
        .strip_prefix("llm.input_messages.")
        .or_else(|| key.strip_prefix("llm.output_messages."))
    else {
        return false;
    };
    let Some((index, field)) = rest.split_once('.') else {
        return false;
    };
    !index.is_empty()
        && index.bytes().all(|c| c.is_ascii_digit())
        && matches!(field, "message.role" | "message.content" | "message.name")
}

//! Privacy masks and size limits, applied to every exported span.
//!
//! [`Privacy`] runs on the export thread, after the span's fields were mapped and flattened to OpenInference
//! attributes (`llm.input_messages.0.message.content`, `retrieval.documents.2.document.content`, ...). For every
//! attribute, in this order:
//!
//! 1. **Hide flags** (`OPENINFERENCE_HIDE_*`, conventions 1.4): the value is replaced with [`REDACTED`] or the
//!    attribute is dropped, exactly as the OpenInference reference does; [`Privacy::hide_all`] hides every content
//!    value at once. Event attributes get the same treatment; with `hide_all` the string values of events other
//!    than `exception` are redacted too.
//!    While any input-hiding flag is set (`hide_inputs`, `hide_input_messages`, `hide_input_text`,
//!    `hide_input_images`, `hide_prompts`), the prompt-carrying keys inside `llm.invocation_parameters` and
//!    `embedding.invocation_parameters` (`messages`, `prompt`, `prompts`, `input`, `inputs`, `system`,
//!    `instructions`, `contents`, `system_instruction`, `system_prompt`, at any depth) are redacted too, so the
//!    prompt cannot leak through the request parameters; a non-JSON parameters value is redacted whole.
//! 2. **Base64 data**: a value that starts with `data:image/`, contains `base64` and is longer than
//!    [`Privacy::base64_image_max_len`] becomes [`REDACTED`] (the reference behaviour). Inside longer strings (a JSON
//!    `input.value` carrying a message with an inline file), any `data:<mime>;base64,<payload>` URI longer than that
//!    cap is replaced by [`REDACTED`], so the rest of the JSON stays readable and valid.
//! 3. **Value length cap** ([`Privacy::max_value_len`], 32 KiB): longer strings are cut at a UTF-8 boundary and end
//!    with `…[truncated, N bytes]`, N being the original length. Numeric arrays (embedding vectors) keep at most
//!    `max_value_len / 8` elements.
//! 4. **Secrets** ([`Privacy::redact_secrets`], on by default): inside the JSON-string attributes that carry
//!    parameters, metadata or arguments (`llm.invocation_parameters`, `embedding.invocation_parameters`,
//!    `metadata`, `tool.parameters`, `input.value`, `output.value`, `llm.function_call`,
//!    `llm.prompt_template.variables`, `gen_ai.tool.call.arguments`, `gen_ai.tool.call.result`,
//!    `gen_ai.input.messages`, `gen_ai.output.messages`, `*.tool_call.function.arguments`,
//!    `*.message.function_call_arguments_json`, `*.document.metadata`), the value of every object key that looks
//!    secret is replaced with `"__REDACTED__"`. A key looks secret when, lower-cased and with `-`, `_`, `.` and
//!    spaces removed, it contains `apikey`, `authorization`, `password`, `passwd`, `secret`, `accesskey`,
//!    `privatekey`, `cookie`, `bearer` or `credential`, or equals `auth`; or when it contains `token` and its value
//!    is not a number or boolean and it is not a count or a vocabulary token (`max_tokens`, `prompt_tokens`,
//!    `tokens`, `token_count`, `eos_token`, ...). A string attribute whose own key looks secret is redacted whole.
//!    Every exported string (attribute values, event names and attributes, the span name, its status message,
//!    link attributes and the resource) is scanned for credentials in free text, and each one found is replaced
//!    by [`REDACTED`]; the formats recognized are listed in the README's privacy section and on
//!    [`Privacy::redact_secrets`]. The JSON scan works on the text (it never builds a tree, so deep nesting costs
//!    nothing and a truncated JSON value is still scanned), keeps the key order and formatting, and only runs when
//!    the value contains one of the secret words at all.
//! 5. **User mask** ([`Privacy::with_mask`]): a function of the application's, given every exported string after
//!    the built-in scan; what it returns replaces the string (cut to the length cap again).
//! 6. **Span byte budget** ([`Privacy::max_span_bytes`], 1 MiB): when the estimated encoded size is over budget,
//!    the cap on the largest values is halved until the span fits, then the largest attributes are dropped (not the
//!    model names, token counts, costs or `error.type`), then the largest events are emptied; only if the span still
//!    does not fit (a budget smaller than its identity) do those protected attributes go too, never
//!    `openinference.span.kind`. A trimmed span carries
//!    `openinference.span.trimmed = true`, `openinference.span.trimmed.dropped_attributes` and
//!    `openinference.span.trimmed.original_bytes`. A span is never rejected.
//!
//! Finally, before each export request, the batch is fitted under [`Privacy::max_request_bytes`] (3.5 MiB, below
//! gRPC's 4 MiB default) by trimming the biggest spans the same way. No span is dropped.
//!
//! The parts, by concern: `env` reads the settings from the environment, `masks` turns the hide
//! flags into one plan per key, `keys` says which key names are secret, `json` scans JSON text for
//! those keys, `secrets` finds credentials in free text (each format's check in `formats`),
//! `clean` runs the steps above on one string or attribute, `span` covers a span's other strings
//! and the resource, `custom` holds the user mask, and `limits` estimates sizes and trims to
//! budgets.

mod clean;
mod custom;
mod env;
mod formats;
mod json;
mod keys;
mod limits;
mod masks;
mod secrets;
mod span;
#[cfg(test)]
mod tests;

pub(crate) use clean::Marks;
pub use custom::Mask;
pub(crate) use limits::{recut, span_overhead, span_size};
pub(crate) use masks::KeyPlans;

use keys::{is_secret_key, Kind};
use opentelemetry::Value;

/// The placeholder that replaces hidden values, as in the OpenInference reference.
///
/// ```
/// assert_eq!(tracing_openinference::privacy::REDACTED, "__REDACTED__");
/// ```
pub const REDACTED: &str = "__REDACTED__";

/// Default [`Privacy::max_value_len`]: 32 KiB.
///
/// ```
/// assert_eq!(tracing_openinference::privacy::DEFAULT_MAX_VALUE_LEN, 32_768);
/// ```
pub const DEFAULT_MAX_VALUE_LEN: usize = 32 * 1024;

/// Default [`Privacy::base64_image_max_len`]: 32,000, as `OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH`.
///
/// ```
/// assert_eq!(tracing_openinference::privacy::DEFAULT_BASE64_IMAGE_MAX_LEN, 32_000);
/// ```
pub const DEFAULT_BASE64_IMAGE_MAX_LEN: usize = 32_000;

/// Default [`Privacy::max_span_bytes`]: 1 MiB.
///
/// ```
/// assert_eq!(tracing_openinference::privacy::DEFAULT_MAX_SPAN_BYTES, 1 << 20);
/// ```
pub const DEFAULT_MAX_SPAN_BYTES: usize = 1 << 20;

/// Default [`Privacy::max_request_bytes`]: 3.5 MiB, below gRPC's 4 MiB message limit.
///
/// ```
/// assert_eq!(tracing_openinference::privacy::DEFAULT_MAX_REQUEST_BYTES, 3_670_016);
/// ```
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 7 << 19;

/// Masks and limits for exported content.
///
/// `Privacy::default()` hides nothing, redacts secrets and applies the default limits. Build a configuration with
/// the `with_*` setters, or read it from the `OPENINFERENCE_*` variables with [`Privacy::from_env`].
///
/// ```
/// use tracing_openinference::privacy::Privacy;
/// let privacy = Privacy::default().with_hide_inputs(true).with_max_value_len(4096);
/// assert!(privacy.hide_inputs);
/// assert!(privacy.redact_secrets);
/// assert_eq!(privacy.max_value_len, 4096);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Privacy {
    /// `OPENINFERENCE_HIDE_INPUTS`: `input.value`, `llm.prompts.*` → redacted; `input.mime_type`,
    /// `llm.input_messages.*`, `llm.tools.*` dropped. Beyond the reference, it also redacts embedding texts, the GenAI
    /// twins (`gen_ai.input.messages`, `gen_ai.system_instructions` and `gen_ai.tool.definitions` dropped,
    /// `gen_ai.tool.call.arguments` and `gen_ai.prompt` redacted) and the prompt inside invocation parameters.
    pub hide_inputs: bool,
    /// `OPENINFERENCE_HIDE_OUTPUTS`: `output.value`, `llm.choices.*` → redacted; `output.mime_type`,
    /// `llm.output_messages.*` dropped; also `gen_ai.output.messages` dropped and `gen_ai.tool.call.result`,
    /// `gen_ai.completion` redacted.
    pub hide_outputs: bool,
    /// `OPENINFERENCE_HIDE_INPUT_MESSAGES`: drop `llm.input_messages.*` (and `gen_ai.input.messages`).
    pub hide_input_messages: bool,
    /// `OPENINFERENCE_HIDE_OUTPUT_MESSAGES`: drop `llm.output_messages.*` (and `gen_ai.output.messages`).
    pub hide_output_messages: bool,
    /// `OPENINFERENCE_HIDE_INPUT_TEXT`: redact `message.content` and `message_content.text` in the input messages
    /// (`gen_ai.input.messages`, which cannot be masked part by part, is redacted whole).
    pub hide_input_text: bool,
    /// `OPENINFERENCE_HIDE_OUTPUT_TEXT`: redact `message.content` and `message_content.text` in the output messages
    /// (`gen_ai.output.messages` is redacted whole).
    pub hide_output_text: bool,
    /// `OPENINFERENCE_HIDE_INPUT_IMAGES`: drop `message_content.image.*` in the input messages (the reference
    /// implementation drops them; `gen_ai.input.messages` is redacted whole).
    pub hide_input_images: bool,
    /// `OPENINFERENCE_HIDE_LLM_INVOCATION_PARAMETERS`: drop `llm.invocation_parameters`.
    pub hide_llm_invocation_parameters: bool,
    /// `OPENINFERENCE_HIDE_LLM_TOOLS`: drop `llm.tools.*` (and `gen_ai.tool.definitions`).
    pub hide_llm_tools: bool,
    /// `OPENINFERENCE_HIDE_PROMPTS`: redact `llm.prompts.*` (and `gen_ai.prompt`).
    pub hide_prompts: bool,
    /// `OPENINFERENCE_HIDE_CHOICES`: redact `llm.choices.*` (and `gen_ai.completion`).
    pub hide_choices: bool,
    /// `OPENINFERENCE_HIDE_EMBEDDINGS_VECTORS` (deprecated alias `OPENINFERENCE_HIDE_EMBEDDING_VECTORS`): redact
    /// `embedding.embeddings.*.embedding.vector`.
    pub hide_embeddings_vectors: bool,
    /// `OPENINFERENCE_HIDE_EMBEDDINGS_TEXT`: redact `embedding.embeddings.*.embedding.text`.
    pub hide_embeddings_text: bool,
    /// `OPENINFERENCE_HIDE_ALL`: hide every content value. Everything the other flags hide, plus tool parameters,
    /// arguments and results, document content and metadata, embeddings, invocation parameters (dropped), prompt
    /// templates and their variables, `llm.function_call`, `reranker.query`, any message-shaped key, and the string
    /// values of events other than `exception`. Ids, names, scores, token counts, costs, span `metadata` (still
    /// scanned for secrets), tags and errors are kept.
    pub hide_all: bool,
    /// Redact secret-looking keys and credentials in free text (on by default): `sk-…` (OpenAI, `sk-proj-…`,
    /// Anthropic `sk-ant-…`), `pk-`/`rk-` keys, `Bearer <credential>`, AWS access key ids (`AKIA…`, `ASIA…`) and
    /// the secret next to a label such as `aws_secret_access_key=`, GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`,
    /// `ghr_`, `github_pat_`), Slack (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xapp-`), Stripe (`sk_live_`,
    /// `sk_test_`, `rk_live_`, `rk_test_`), Google (`AIza…`), JSON Web Tokens (`eyJ….eyJ….sig`), 32-hex keys
    /// after a key-like label (`api-key: …`, `AZURE_OPENAI_API_KEY=…`), private key blocks
    /// (`-----BEGIN … PRIVATE KEY-----` to the `-----END …-----` line), the password of a URL
    /// (`postgres://user:pass@host`: the password only) and the values of `password`, `passwd`, `pwd`, `token`,
    /// `access_token`, `refresh_token`, `id_token`, `api_key`, `apikey`, `key`, `secret`, `client_secret`,
    /// `signature` and `sig` in a URL query.
    pub redact_secrets: bool,
    /// A function of the application's applied to every exported string after the built-in scan
    /// ([`Privacy::with_mask`]); `None` by default.
    pub mask: Option<Mask>,
    /// `OPENINFERENCE_MAX_VALUE_LENGTH`: longest string value in bytes before truncation; 0 = no cap.
    pub max_value_len: usize,
    /// `OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH`: longest `data:...;base64,` value kept (longer ones are redacted).
    pub base64_image_max_len: usize,
    /// Estimated encoded size one span may reach before it is trimmed; 0 = no budget.
    pub max_span_bytes: usize,
    /// Estimated encoded size of one export request before its largest spans are trimmed; 0 = no budget.
    pub max_request_bytes: usize,
}

impl Default for Privacy {
    fn default() -> Self {
        Privacy {
            hide_inputs: false,
            hide_outputs: false,
            hide_input_messages: false,
            hide_output_messages: false,
            hide_input_text: false,
            hide_output_text: false,
            hide_input_images: false,
            hide_llm_invocation_parameters: false,
            hide_llm_tools: false,
            hide_prompts: false,
            hide_choices: false,
            hide_embeddings_vectors: false,
            hide_embeddings_text: false,
            hide_all: false,
            redact_secrets: true,
            mask: None,
            max_value_len: DEFAULT_MAX_VALUE_LEN,
            base64_image_max_len: DEFAULT_BASE64_IMAGE_MAX_LEN,
            max_span_bytes: DEFAULT_MAX_SPAN_BYTES,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
        }
    }
}

impl Privacy {
    /// Sets [`Privacy::hide_inputs`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_hide_inputs(true);
    /// assert!(p.hide_inputs);
    /// ```
    pub fn with_hide_inputs(mut self, hide: bool) -> Self {
        self.hide_inputs = hide;
        self
    }

    /// Sets [`Privacy::hide_outputs`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_hide_outputs(true);
    /// assert!(p.hide_outputs);
    /// ```
    pub fn with_hide_outputs(mut self, hide: bool) -> Self {
        self.hide_outputs = hide;
        self
    }

    /// Sets [`Privacy::hide_input_messages`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_hide_input_messages(true);
    /// assert!(p.hide_input_messages);
    /// ```
    pub fn with_hide_input_messages(mut self, hide: bool) -> Self {
        self.hide_input_messages = hide;
        self
    }

    /// Sets [`Privacy::hide_output_messages`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_hide_output_messages(true);
    /// assert!(p.hide_output_messages);
    /// ```
    pub fn with_hide_output_messages(mut self, hide: bool) -> Self {
        self.hide_output_messages = hide;
        self
    }

    /// Sets [`Privacy::hide_input_text`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_hide_input_text(true);
    /// assert!(p.hide_input_text);
    /// ```
    pub fn with_hide_input_text(mut self, hide: bool) -> Self {
        self.hide_input_text = hide;
        self
    }

    /// Sets [`Privacy::hide_output_text`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_hide_output_text(true);
    /// assert!(p.hide_output_text);
    /// ```
    pub fn with_hide_output_text(mut self, hide: bool) -> Self {
        self.hide_output_text = hide;
        self
    }

    /// Sets [`Privacy::hide_input_images`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_hide_input_images(true);
    /// assert!(p.hide_input_images);
    /// ```
    pub fn with_hide_input_images(mut self, hide: bool) -> Self {
        self.hide_input_images = hide;
        self
    }

    /// Sets [`Privacy::hide_llm_invocation_parameters`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_hide_llm_invocation_parameters(true);
    /// assert!(p.hide_llm_invocation_parameters);
    /// ```
    pub fn with_hide_llm_invocation_parameters(mut self, hide: bool) -> Self {
        self.hide_llm_invocation_parameters = hide;
        self
    }

    /// Sets [`Privacy::hide_llm_tools`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_hide_llm_tools(true);
    /// assert!(p.hide_llm_tools);
    /// ```
    pub fn with_hide_llm_tools(mut self, hide: bool) -> Self {
        self.hide_llm_tools = hide;
        self
    }

    /// Sets [`Privacy::hide_prompts`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_hide_prompts(true);
    /// assert!(p.hide_prompts);
    /// ```
    pub fn with_hide_prompts(mut self, hide: bool) -> Self {
        self.hide_prompts = hide;
        self
    }

    /// Sets [`Privacy::hide_choices`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_hide_choices(true);
    /// assert!(p.hide_choices);
    /// ```
    pub fn with_hide_choices(mut self, hide: bool) -> Self {
        self.hide_choices = hide;
        self
    }

    /// Sets [`Privacy::hide_embeddings_vectors`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_hide_embeddings_vectors(true);
    /// assert!(p.hide_embeddings_vectors);
    /// ```
    pub fn with_hide_embeddings_vectors(mut self, hide: bool) -> Self {
        self.hide_embeddings_vectors = hide;
        self
    }

    /// Sets [`Privacy::hide_embeddings_text`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_hide_embeddings_text(true);
    /// assert!(p.hide_embeddings_text);
    /// ```
    pub fn with_hide_embeddings_text(mut self, hide: bool) -> Self {
        self.hide_embeddings_text = hide;
        self
    }

    /// Sets [`Privacy::hide_all`]: one switch that hides every content value.
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_hide_all(true);
    /// assert!(p.hide_all);
    /// ```
    pub fn with_hide_all(mut self, hide: bool) -> Self {
        self.hide_all = hide;
        self
    }

    /// Sets [`Privacy::redact_secrets`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_redact_secrets(false);
    /// assert!(!p.redact_secrets);
    /// ```
    pub fn with_redact_secrets(mut self, redact: bool) -> Self {
        self.redact_secrets = redact;
        self
    }

    /// Sets [`Privacy::mask`]: `mask` is given every exported string (attribute values, event names and
    /// attributes, span names, status messages, link attributes, the resource) after the built-in credential
    /// scan; a `Some` it returns replaces the string, `None` keeps it. It runs on the export thread, never on the
    /// thread that records the span, and also when [`Privacy::redact_secrets`] is off.
    ///
    /// ```
    /// use tracing_openinference::privacy::Privacy;
    /// // Hide the company's internal ticket ids, `ACME-` and digits.
    /// let privacy = Privacy::default().with_mask(|s: &str| {
    ///     s.contains("ACME-").then(|| {
    ///         s.split(' ')
    ///             .map(|w| if w.starts_with("ACME-") { "ACME-***" } else { w })
    ///             .collect::<Vec<_>>()
    ///             .join(" ")
    ///     })
    /// });
    /// assert!(privacy.mask.is_some());
    /// let layer = tracing_openinference::LlmLayer::builder()
    ///     .with_console_exporter(false)
    ///     .with_privacy(privacy)
    ///     .build::<tracing_subscriber::Registry>();
    /// # drop(layer);
    /// ```
    pub fn with_mask(
        mut self,
        mask: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.mask = Some(Mask::new(mask));
        self
    }

    /// Sets [`Privacy::max_value_len`] (bytes; 0 = no cap).
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_max_value_len(1024);
    /// assert_eq!(p.max_value_len, 1024);
    /// ```
    pub fn with_max_value_len(mut self, len: usize) -> Self {
        self.max_value_len = len;
        self
    }

    /// Sets [`Privacy::base64_image_max_len`].
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_base64_image_max_len(1000);
    /// assert_eq!(p.base64_image_max_len, 1000);
    /// ```
    pub fn with_base64_image_max_len(mut self, len: usize) -> Self {
        self.base64_image_max_len = len;
        self
    }

    /// Sets [`Privacy::max_span_bytes`] (0 = no budget).
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_max_span_bytes(256 * 1024);
    /// assert_eq!(p.max_span_bytes, 262_144);
    /// ```
    pub fn with_max_span_bytes(mut self, bytes: usize) -> Self {
        self.max_span_bytes = bytes;
        self
    }

    /// Sets [`Privacy::max_request_bytes`] (0 = no budget).
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::default().with_max_request_bytes(1 << 20);
    /// assert_eq!(p.max_request_bytes, 1_048_576);
    /// ```
    pub fn with_max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes;
        self
    }

    /// Whether `input.value` is hidden (by [`Privacy::hide_inputs`] or [`Privacy::hide_all`]).
    pub(crate) fn hides_inputs(&self) -> bool {
        self.hide_inputs || self.hide_all
    }

    /// Whether a field named `key` holding `value` looks like a secret (and secrets are redacted).
    pub(crate) fn is_secret_field(&self, key: &str, value: &Value) -> bool {
        let kind = match value {
            Value::I64(_) | Value::F64(_) => Kind::Number,
            Value::Bool(_) => Kind::Bool,
            _ => Kind::Str,
        };
        self.redact_secrets && is_secret_key(key, kind)
    }
}

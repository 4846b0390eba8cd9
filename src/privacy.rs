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
//!    In every string value, API keys shaped like `sk-…`, `pk-…` or `rk-…` (at least 16 key characters after the
//!    dash, with a digit or at least 32 of them) and the credential after `Bearer ` are replaced by
//!    [`REDACTED`]. The JSON scan works on the text (it never builds a tree, so deep nesting costs nothing and a
//!    truncated JSON value is still scanned), keeps the key order and formatting, and only runs when the value
//!    contains one of the secret words at all.
//! 5. **Span byte budget** ([`Privacy::max_span_bytes`], 1 MiB): when the estimated encoded size is over budget,
//!    the cap on the largest values is halved until the span fits, then the largest attributes are dropped (not the
//!    model names, token counts, costs or `error.type`), then the largest events are emptied; only if the span still
//!    does not fit (a budget smaller than its identity) do those protected attributes go too, never
//!    `openinference.span.kind`. A trimmed span carries
//!    `openinference.span.trimmed = true`, `openinference.span.trimmed.dropped_attributes` and
//!    `openinference.span.trimmed.original_bytes`. A span is never rejected.
//!
//! Finally, before each export request, the batch is fitted under [`Privacy::max_request_bytes`] (3.5 MiB, below
//! gRPC's 4 MiB default) by trimming the biggest spans the same way. No span is dropped.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry::trace::Event;
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

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

/// The end of a truncated value: `…[truncated, ` + original length + ` bytes]`.
const MARKER_PREFIX: &str = "…[truncated, ";
const MARKER_SUFFIX: &str = " bytes]";
/// The longest marker (a 20-digit length).
const MARKER_MAX: usize = MARKER_PREFIX.len() + 20 + MARKER_SUFFIX.len();
/// The budget trimmer never cuts values below this many bytes; it drops attributes instead.
const MIN_TRIM_CAP: usize = 64;
/// Room kept for the `openinference.span.trimmed*` attributes.
const TRIM_RESERVE: usize = 160;
/// The smallest per-span budget `fit_batch` hands out.
const MIN_SPAN_BUDGET: usize = 2048;
/// Estimated encoding overhead of one attribute (tags, lengths, the `AnyValue` wrapper).
const KV_OVERHEAD: usize = 8;
/// Estimated fixed size of an event (timestamp, tags).
const EVENT_OVERHEAD: usize = 24;
/// Estimated fixed size of a span (ids, times, kind, status, scope reference).
const SPAN_OVERHEAD: usize = 128;

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
    /// Redact secret-looking keys, `sk-…` keys and bearer credentials (on by default).
    pub redact_secrets: bool,
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
            max_value_len: DEFAULT_MAX_VALUE_LEN,
            base64_image_max_len: DEFAULT_BASE64_IMAGE_MAX_LEN,
            max_span_bytes: DEFAULT_MAX_SPAN_BYTES,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
        }
    }
}

/// What [`Privacy::apply`] does with one attribute key, decided once per distinct key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyPlan {
    action: Action,
    scan: JsonScan,
    /// The key names a secret: a string value is redacted.
    secret_if_string: bool,
}

/// The long strings of one span found unchanged by [`Privacy::clean_str`], by address,
/// length and scan. A value shared between two attributes (`input.value` shares the text of
/// the last user message) is then scanned once. Addresses are compared only while the span's
/// attributes, which own the strings, are alive and unchanged.
#[derive(Debug, Default)]
struct FoundClean(Vec<(usize, usize, JsonScan)>);

impl FoundClean {
    /// Strings shorter than this are scanned again: cheaper than looking them up.
    const MIN_LEN: usize = 256;
    /// Strings remembered per span.
    const MAX: usize = 8;
}

/// Distinct keys whose plan is kept; past this, plans are worked out each time.
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
    fn get(&mut self, privacy: &Privacy, key: &str, at: usize) -> KeyPlan {
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
enum Action {
    Keep,
    Redact,
    Drop,
    /// Invocation parameters while inputs are hidden: redact the prompt-carrying keys inside the JSON.
    RedactPromptKeys,
}

/// How the JSON scan treats one string value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonScan {
    None,
    Secrets,
    PromptKeys,
}

/// The kind of a JSON value, read from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Number,
    Bool,
    Null,
    Container,
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

    /// Reads the configuration from the process environment; see [`Privacy::from_env_with`].
    ///
    /// ```
    /// use tracing_openinference::privacy::Privacy;
    /// let privacy = Privacy::from_env().unwrap_or_default();
    /// assert!(privacy.max_request_bytes > 0);
    /// ```
    pub fn from_env() -> Result<Privacy, String> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `get` (a variable's value, or `None` when unset).
    ///
    /// Booleans (`OPENINFERENCE_HIDE_INPUTS`, `_OUTPUTS`, `_INPUT_MESSAGES`, `_OUTPUT_MESSAGES`, `_INPUT_TEXT`,
    /// `_OUTPUT_TEXT`, `_INPUT_IMAGES`, `_LLM_INVOCATION_PARAMETERS`, `_LLM_TOOLS`, `_PROMPTS`, `_CHOICES`,
    /// `_EMBEDDINGS_VECTORS` (or the deprecated `_EMBEDDING_VECTORS`), `_EMBEDDINGS_TEXT`, and this crate's
    /// `OPENINFERENCE_HIDE_ALL`) accept `true`/`false`/`1`/`0`/`yes`/`no` in any case. Integers:
    /// `OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH` and `OPENINFERENCE_MAX_VALUE_LENGTH` (bytes, 0 = no cap). Unset or
    /// empty variables keep the defaults; an invalid value is an error naming the variable.
    ///
    /// ```
    /// use tracing_openinference::privacy::Privacy;
    /// let env = |name: &str| match name {
    ///     "OPENINFERENCE_HIDE_INPUTS" => Some("TRUE".to_string()),
    ///     "OPENINFERENCE_MAX_VALUE_LENGTH" => Some("4096".to_string()),
    ///     _ => None,
    /// };
    /// let privacy = Privacy::from_env_with(env).unwrap();
    /// assert!(privacy.hide_inputs && !privacy.hide_outputs);
    /// assert_eq!(privacy.max_value_len, 4096);
    ///
    /// let err = Privacy::from_env_with(|n| (n == "OPENINFERENCE_HIDE_ALL").then(|| "maybe".into()));
    /// assert!(err.unwrap_err().contains("OPENINFERENCE_HIDE_ALL"));
    /// ```
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<Privacy, String> {
        let read = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let flag = |name: &str, default: bool| -> Result<bool, String> {
            match read(name) {
                None => Ok(default),
                Some(v) => parse_bool(&v).ok_or_else(|| {
                    format!("{name}: invalid boolean {v:?} (expected true/false/1/0/yes/no)")
                }),
            }
        };
        let int = |name: &str, default: usize| -> Result<usize, String> {
            match read(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| format!("{name}: invalid non-negative integer {v:?}")),
            }
        };
        let d = Privacy::default();
        let deprecated_vectors = flag(
            "OPENINFERENCE_HIDE_EMBEDDING_VECTORS",
            d.hide_embeddings_vectors,
        )?;
        Ok(Privacy {
            hide_inputs: flag("OPENINFERENCE_HIDE_INPUTS", d.hide_inputs)?,
            hide_outputs: flag("OPENINFERENCE_HIDE_OUTPUTS", d.hide_outputs)?,
            hide_input_messages: flag("OPENINFERENCE_HIDE_INPUT_MESSAGES", d.hide_input_messages)?,
            hide_output_messages: flag(
                "OPENINFERENCE_HIDE_OUTPUT_MESSAGES",
                d.hide_output_messages,
            )?,
            hide_input_text: flag("OPENINFERENCE_HIDE_INPUT_TEXT", d.hide_input_text)?,
            hide_output_text: flag("OPENINFERENCE_HIDE_OUTPUT_TEXT", d.hide_output_text)?,
            hide_input_images: flag("OPENINFERENCE_HIDE_INPUT_IMAGES", d.hide_input_images)?,
            hide_llm_invocation_parameters: flag(
                "OPENINFERENCE_HIDE_LLM_INVOCATION_PARAMETERS",
                d.hide_llm_invocation_parameters,
            )?,
            hide_llm_tools: flag("OPENINFERENCE_HIDE_LLM_TOOLS", d.hide_llm_tools)?,
            hide_prompts: flag("OPENINFERENCE_HIDE_PROMPTS", d.hide_prompts)?,
            hide_choices: flag("OPENINFERENCE_HIDE_CHOICES", d.hide_choices)?,
            hide_embeddings_vectors: flag(
                "OPENINFERENCE_HIDE_EMBEDDINGS_VECTORS",
                deprecated_vectors,
            )?,
            hide_embeddings_text: flag(
                "OPENINFERENCE_HIDE_EMBEDDINGS_TEXT",
                d.hide_embeddings_text,
            )?,
            hide_all: flag("OPENINFERENCE_HIDE_ALL", d.hide_all)?,
            base64_image_max_len: int(
                "OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH",
                d.base64_image_max_len,
            )?,
            max_value_len: int("OPENINFERENCE_MAX_VALUE_LENGTH", d.max_value_len)?,
            ..d
        })
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

    /// Applies the masks and limits to one span's (already flattened) attributes and its events;
    /// `plans` must have been used with this configuration only. Returns the estimated encoded
    /// size of what is left.
    ///
    /// `keys_checked` is the position of a JSON object the mapper built from fields it had
    /// already checked for secret names ([`Privacy::is_secret_field`]), the arguments'
    /// `input.value`: its text is scanned for credentials and cut to the limits as any other,
    /// but its keys are not read back (they would find what the check found, at about 500
    /// instructions for a handful of arguments).
    pub(crate) fn apply(
        &self,
        attrs: &mut Vec<KeyValue>,
        events: &mut [Event],
        plans: &mut KeyPlans,
        keys_checked: Option<usize>,
    ) -> usize {
        let mut clean = FoundClean::default();
        let mut at = 0;
        attrs.retain_mut(|kv| {
            let mut plan = plans.get(self, kv.key.as_str(), at);
            if keys_checked == Some(at) && plan.scan == JsonScan::Secrets {
                plan.scan = JsonScan::None;
            }
            at += 1;
            self.process_kv(kv, plan, false, &mut clean)
        });
        for event in events.iter_mut() {
            let redact_strings = self.hide_all && event.name != "exception";
            event.attributes.retain_mut(|kv| {
                let plan = plans.get(self, kv.key.as_str(), at);
                at += 1;
                self.process_kv(kv, plan, redact_strings, &mut clean)
            });
        }
        let size = content_size(attrs, events, usize::MAX);
        let budget = self.max_span_bytes;
        if budget == 0 || size <= budget {
            return size;
        }
        trim_to_budget(attrs, events, budget, 0);
        content_size(attrs, events, usize::MAX)
    }

    /// What [`Privacy::process_kv`] does with `key`, whatever its value.
    fn plan(&self, key: &str) -> KeyPlan {
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

    /// Trims a batch so its encoded size stays under the per-request byte budget; `sizes` are
    /// the spans' [`span_size`]s.
    pub(crate) fn fit_batch(&self, batch: &mut [SpanData], mut sizes: Vec<usize>) {
        let budget = self.max_request_bytes;
        if budget == 0 || batch.is_empty() {
            return;
        }
        if sizes.len() != batch.len() {
            sizes = batch.iter().map(span_size).collect();
        }
        let mut total = sizes.iter().fold(0usize, |a, s| a.saturating_add(*s));
        let mut rounds = 0;
        while total > budget && rounds < 16 {
            rounds += 1;
            let level = water_level(&sizes, budget).max(MIN_SPAN_BUDGET);
            let mut shrunk = false;
            for (span, size) in batch.iter_mut().zip(sizes.iter_mut()) {
                if *size <= level {
                    continue;
                }
                let overhead = span_overhead(span);
                let dropped = trim_to_budget(
                    &mut span.attributes,
                    &mut span.events.events,
                    level,
                    overhead,
                );
                span.dropped_attributes_count =
                    span.dropped_attributes_count.saturating_add(dropped);
                let new = span_size(span);
                shrunk |= new < *size;
                *size = new;
            }
            total = sizes.iter().fold(0usize, |a, s| a.saturating_add(*s));
            if !shrunk {
                break;
            }
        }
    }

    /// Masks, caps and scans one attribute by its key's `plan`; returns whether to keep it.
    fn process_kv(
        &self,
        kv: &mut KeyValue,
        plan: KeyPlan,
        redact_strings: bool,
        clean: &mut FoundClean,
    ) -> bool {
        match plan.action {
            Action::Drop => return false,
            Action::Redact => {
                kv.value = Value::String(REDACTED.into());
                return true;
            }
            Action::RedactPromptKeys | Action::Keep => {}
        }
        let scan = plan.scan;
        let is_string = matches!(kv.value, Value::String(_) | Value::Array(Array::String(_)));
        if is_string && (redact_strings || plan.secret_if_string) {
            kv.value = Value::String(REDACTED.into());
            return true;
        }
        match &mut kv.value {
            Value::String(s) => {
                if let Some(new) = self.clean_str_once(s.as_str(), scan, clean) {
                    *s = new.into();
                }
            }
            Value::Array(Array::String(items)) => {
                for s in items.iter_mut() {
                    if let Some(new) = self.clean_str_once(s.as_str(), scan, clean) {
                        *s = new.into();
                    }
                }
            }
            other => cap_numeric(other, self.max_value_len),
        }
        true
    }

    /// Whether any hide flag is set; with none, [`Privacy::action`] keeps every key.
    fn hides_any(&self) -> bool {
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
    fn action_by_flags(&self, key: &str) -> Action {
        let all = self.hide_all;
        let inputs = all || self.hide_inputs;
        let outputs = all || self.hide_outputs;
        let input_messages = inputs || self.hide_input_messages;
        let output_messages = outputs || self.hide_output_messages;
        let is_text =
            |k: &str| k.ends_with(".message.content") || k.ends_with(".message_content.text");
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

    /// [`Privacy::clean_str`], skipped for a long string of this span already found clean
    /// under the same scan (see [`FoundClean`]).
    fn clean_str_once(&self, s: &str, scan: JsonScan, clean: &mut FoundClean) -> Option<String> {
        if s.len() < FoundClean::MIN_LEN {
            return self.clean_str(s, scan);
        }
        // A JSON scan of text that is not JSON scans nothing.
        let scan = match scan {
            JsonScan::Secrets if !looks_json(s) => JsonScan::None,
            other => other,
        };
        let at = (s.as_ptr() as usize, s.len(), scan);
        if clean.0.contains(&at) {
            return None;
        }
        let cleaned = self.clean_str(s, scan);
        if cleaned.is_none() && clean.0.len() < FoundClean::MAX {
            clean.0.push(at);
        }
        cleaned
    }

    /// Base64 data, length cap and secret scans for one string; `None` when it is unchanged.
    fn clean_str(&self, s: &str, scan: JsonScan) -> Option<String> {
        if self.leaves_short(s, scan) {
            return None;
        }
        self.clean_str_scanned(s, scan)
    }

    /// Whether [`Privacy::clean_str`] leaves `s` as it is without reading it: shorter than any
    /// credential [`scan_tokens`] finds, within the cap and the data-URI limit, and not JSON
    /// to scan. Most values of a span are that short (roles, model names, ids).
    #[inline]
    fn leaves_short(&self, s: &str, scan: JsonScan) -> bool {
        let n = s.len();
        n < MIN_TOKEN_LEN
            && (self.max_value_len == 0 || n <= self.max_value_len)
            && n <= self.base64_image_max_len
            && match scan {
                JsonScan::None => true,
                JsonScan::Secrets => !looks_json(s),
                JsonScan::PromptKeys => false,
            }
    }

    /// [`Privacy::clean_str`], reading the whole string.
    fn clean_str_scanned(&self, s: &str, scan: JsonScan) -> Option<String> {
        let b64_max = self.base64_image_max_len;
        if s.len() > b64_max && s.starts_with("data:image/") && s.contains("base64") {
            return Some(REDACTED.to_string());
        }
        let cap = self.max_value_len;
        // Only the start of a long value can survive the cap, so only that much is scanned: a data URI that starts
        // before the cap and runs past this window is longer than `b64_max` and is redacted either way. This keeps
        // the cost of a 100 MB value at the cost of its first `cap` bytes.
        let window = if cap > 0 {
            cap.saturating_add(b64_max).saturating_add(512)
        } else {
            usize::MAX
        };
        let windowed = s.len() > window;
        let src = if windowed {
            &s[..floor_boundary(s, window)]
        } else {
            s
        };
        let mut changed = windowed;
        let mut cur: Cow<'_, str> = Cow::Borrowed(src);
        if src.len() > b64_max {
            if let Some(new) = redact_data_uris(src, b64_max) {
                cur = Cow::Owned(new);
                changed = true;
            }
        }
        let cut = windowed || (cap > 0 && cur.len() > cap);
        let kept = if cut {
            &cur[..floor_boundary(&cur, cap)]
        } else {
            &cur[..]
        };
        let mut out: Cow<'_, str> = Cow::Borrowed(kept);
        if self.redact_secrets {
            if let Some(new) = scan_tokens(&out, cut) {
                out = Cow::Owned(new);
            }
        }
        // Only keys decide (`is_secret_key`), and the JSON scan skips string values with a
        // vectorized search, so it reads a long text faster than a word search would.
        let (json, secrets) = match scan {
            JsonScan::None => (false, false),
            JsonScan::Secrets => {
                let hit = looks_json(&out);
                (hit, hit)
            }
            JsonScan::PromptKeys => (true, self.redact_secrets),
        };
        if json {
            if !looks_json(&out) {
                // Prompt keys requested but the value is not JSON: hide it whole.
                return Some(REDACTED.to_string());
            }
            if let Some(new) = scan_json(&out, secrets, scan == JsonScan::PromptKeys) {
                out = Cow::Owned(new);
            }
        }
        if !cut && !changed && matches!(out, Cow::Borrowed(_)) {
            return None;
        }
        let mut out = out.into_owned();
        let mut cut = cut;
        if cap > 0 && out.len() > cap {
            // A redaction placeholder made the kept part longer than the cap.
            out.truncate(floor_boundary(&out, cap));
            cut = true;
        }
        if cut {
            push_marker(&mut out, s.len());
        }
        Some(out)
    }
}

/// Parses `true/false/1/0/yes/no` in any case.
fn parse_bool(v: &str) -> Option<bool> {
    let v = v.trim();
    if ["true", "1", "yes"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t))
    {
        Some(true)
    } else if ["false", "0", "no"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t))
    {
        Some(false)
    } else {
        None
    }
}

/// Attributes whose JSON text is scanned for secret keys.
fn json_scan_key(key: &str) -> bool {
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
}

/// `llm.{input,output}_messages.<i>.message.{role,content,name}`: the most common keys, made only of words that are
/// not secret words (so [`is_secret_key`] is false for them), recognised without scanning them.
fn is_plain_message_key(key: &str) -> bool {
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

/// Lower-cases `key` and removes `-`, `_`, `.` and spaces; `None` for implausibly long keys.
fn normalize_key(key: &str) -> Option<String> {
    if key.len() > 128 {
        return None;
    }
    Some(
        key.chars()
            .filter(|c| !matches!(c, '-' | '_' | '.' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect(),
    )
}

/// Whether a key (an attribute key or a JSON object key) names a secret, given the kind of its value.
fn is_secret_key(key: &str, kind: Kind) -> bool {
    if kind == Kind::Null || !contains_secret_word(key) {
        return false;
    }
    let Some(n) = normalize_key(key) else {
        return false;
    };
    const STRONG: [&str; 10] = [
        "apikey",
        "authorization",
        "password",
        "passwd",
        "secret",
        "accesskey",
        "privatekey",
        "cookie",
        "bearer",
        "credential",
    ];
    if n == "auth" || n == "pwd" || STRONG.iter().any(|w| n.contains(w)) {
        return true;
    }
    if !n.contains("token") || matches!(kind, Kind::Number | Kind::Bool) {
        return false;
    }
    const NOT_SECRET: [&str; 14] = [
        "tokencount",
        "tokenscount",
        "tokenlimit",
        "tokenizer",
        "tokentype",
        "tokenid",
        "tokenusage",
        "stoptoken",
        "eostoken",
        "bostoken",
        "padtoken",
        "unktoken",
        "septoken",
        "specialtoken",
    ];
    let counted = n.ends_with("tokens")
        || n.starts_with("max")
        || n.starts_with("num")
        || n.starts_with("min");
    let credential_word = ["access", "refresh", "session", "auth", "api", "id"]
        .iter()
        .any(|w| n.contains(w));
    if (counted && !credential_word) || NOT_SECRET.iter().any(|w| n.contains(w)) {
        return false;
    }
    true
}

/// Keys inside invocation parameters that carry the prompt.
fn is_prompt_key(key: &str) -> bool {
    normalize_key(key).is_some_and(|n| {
        matches!(
            n.as_str(),
            "messages"
                | "prompt"
                | "prompts"
                | "input"
                | "inputs"
                | "system"
                | "instructions"
                | "contents"
                | "systeminstruction"
                | "systemprompt"
        )
    })
}

/// Cheap pre-check: does `s` contain any word a secret key is made of (ASCII case-insensitive)?
fn contains_secret_word(s: &str) -> bool {
    // One look at each byte: the words start with distinct letters (`pass` and `pwd` share `p`, `cookie` and
    // `credential` share `c`), so a byte decides which word to compare.
    let b = s.as_bytes();
    (0..b.len()).any(|i| {
        let rest = &b[i + 1..];
        match b[i] | 0x20 {
            b'k' => starts_with_ci(rest, b"ey"),
            b'a' => starts_with_ci(rest, b"uth"),
            b'p' => starts_with_ci(rest, b"ass") || starts_with_ci(rest, b"wd"),
            b's' => starts_with_ci(rest, b"ecret"),
            b't' => starts_with_ci(rest, b"oken"),
            b'c' => starts_with_ci(rest, b"ookie") || starts_with_ci(rest, b"redential"),
            b'b' => starts_with_ci(rest, b"earer"),
            _ => false,
        }
    })
}

fn starts_with_ci(hay: &[u8], word: &[u8]) -> bool {
    hay.len() >= word.len() && hay[..word.len()].eq_ignore_ascii_case(word)
}

/// Whether the first non-blank character opens a JSON object or array.
fn looks_json(s: &str) -> bool {
    matches!(s.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

/// Index after the string starting at `b[i] == '"'`, and whether it was closed.
fn skip_string(b: &[u8], i: usize) -> (usize, bool) {
    let mut k = i + 1;
    // Long runs of text are skipped by a vectorized search for the two bytes that matter.
    while let Some(off) = b
        .get(k..)
        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
    {
        k += off;
        if b[k] == b'"' {
            return (k + 1, true);
        }
        k += 2;
    }
    (b.len(), false)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Index after the object or array starting at `b[i]` (or the end of the text when it is cut).
fn skip_container(b: &[u8], i: usize) -> usize {
    let mut depth = 0usize;
    let mut k = i;
    while k < b.len() {
        match b[k] {
            b'"' => {
                k = skip_string(b, k).0;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
        k += 1;
    }
    b.len()
}

fn skip_scalar(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && !matches!(b[i], b',' | b'}' | b']') && !b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Replaces the values of secret keys (and, with `prompt_keys`, of prompt keys) in JSON text.
///
/// Works on the text in one pass, without building a tree: valid, truncated or deeply nested JSON all cost linear
/// time. Returns `None` when nothing was replaced.
fn scan_json(s: &str, secrets: bool, prompt_keys: bool) -> Option<String> {
    let b = s.as_bytes();
    let n = b.len();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < n {
        match memchr::memchr(b'"', &b[i..]) {
            Some(off) => i += off,
            None => break,
        }
        let (end, closed) = skip_string(b, i);
        if !closed {
            break;
        }
        let mut j = skip_ws(b, end);
        if j >= n || b[j] != b':' {
            i = end;
            continue;
        }
        let key = &s[i + 1..end - 1];
        j = skip_ws(b, j + 1);
        if j >= n {
            break;
        }
        let kind = match b[j] {
            b'"' => Kind::Str,
            b'{' | b'[' => Kind::Container,
            b'-' | b'0'..=b'9' => Kind::Number,
            b'n' => Kind::Null,
            _ => Kind::Bool,
        };
        let hit = (prompt_keys && kind != Kind::Null && is_prompt_key(key))
            || (secrets && is_secret_key(key, kind));
        if hit {
            let value_end = match kind {
                Kind::Str => skip_string(b, j).0,
                Kind::Container => skip_container(b, j),
                _ => skip_scalar(b, j),
            };
            let o = out.get_or_insert_with(|| String::with_capacity(n));
            o.push_str(&s[copied..j]);
            o.push('"');
            o.push_str(REDACTED);
            o.push('"');
            copied = value_end;
            i = value_end;
            continue;
        }
        i = j;
    }
    out.map(|mut o| {
        o.push_str(&s[copied..]);
        o
    })
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

fn is_bearer_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// The first index at or after `i` where a key (`b[j + 2] == '-'`) or a bearer credential (`b[j]` is `b` or `B`)
/// could start, or `b.len()`.
///
/// The next eight starts are tested a word at a time; past them, a vectorized search for the three bytes takes
/// over. Text without them (code, JSON, most languages) is then skipped many bytes an instruction, and text dense
/// with them (adversarial, or `b`-rich prose) finds its next start in the word test without paying to set the
/// vector search up.
fn next_token_candidate(b: &[u8], i: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const CASE: u64 = u64::from_le_bytes([0x20; 8]);
    const LOWER_B: u64 = u64::from_le_bytes([b'b'; 8]);
    const DASHES: u64 = u64::from_le_bytes([b'-'; 8]);
    // The high bit of each zero byte of `v`; the lowest set bit always marks the first zero byte (a borrow can only
    // mark bytes above a real zero).
    let zero_bytes = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let word = |k: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[k..k + 8]);
        u64::from_le_bytes(w)
    };
    let mut start = i;
    if i + 10 <= b.len() {
        // Byte `k` of the mask: `b[i + k]` is `b`/`B`, or `b[i + k + 2]` is `-`.
        let hits = zero_bytes((word(i) | CASE) ^ LOWER_B) | zero_bytes(word(i + 2) ^ DASHES);
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        start = i + 8;
    }
    let mut from = start;
    while let Some(off) = b
        .get(from..)
        .and_then(|rest| memchr::memchr3(b'-', b'b', b'B', rest))
    {
        let p = from + off;
        if b[p] != b'-' {
            // A dash right after it marks a key starting one byte earlier.
            return if p > start && b.get(p + 1) == Some(&b'-') {
                p - 1
            } else {
                p
            };
        }
        if p >= start + 2 {
            return p - 2;
        }
        // A dash at `start` or `start + 1` marks a start already ruled out.
        from = p + 1;
    }
    b.len()
}

/// The shortest text [`scan_tokens`] can change when it was not cut: `bearer`, a blank and an
/// 8-character credential (a key, `sk-` and 16 characters, is longer).
const MIN_TOKEN_LEN: usize = 15;

/// Replaces `sk-…`/`pk-…`/`rk-…` API keys and `Bearer <credential>` in plain text.
///
/// A key needs at least 16 key characters (`[A-Za-z0-9_-]`) after the dash, one of them a digit (or 32 of them); a
/// bearer credential at least 8 characters, not all letters. When `cut` is set the text was truncated, and a match
/// running into its end is redacted whatever its length.
fn scan_tokens(s: &str, cut: bool) -> Option<String> {
    let b = s.as_bytes();
    let n = b.len();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < n {
        i = next_token_candidate(b, i);
        if i >= n {
            break;
        }
        let c = b[i];
        if !matches!(c, b's' | b'p' | b'r' | b'b' | b'B') || (i > 0 && is_key_char(b[i - 1])) {
            i += 1;
            continue;
        }
        let (start, end) = if c != b'b' && c != b'B' {
            if b.get(i + 1) != Some(&b'k') || b.get(i + 2) != Some(&b'-') {
                i += 1;
                continue;
            }
            let start = i + 3;
            let mut j = start;
            let mut digit = false;
            while j < n && is_key_char(b[j]) {
                digit |= b[j].is_ascii_digit();
                j += 1;
            }
            let run = j - start;
            if !((run >= 16 && (digit || run >= 32)) || (cut && j == n && run > 0)) {
                i = j;
                continue;
            }
            (i, j)
        } else {
            if !starts_with_ci(&b[i..], b"bearer") || !matches!(b.get(i + 6), Some(b' ' | b'\t')) {
                i += 1;
                continue;
            }
            let mut t = i + 6;
            while t < n && matches!(b[t], b' ' | b'\t') {
                t += 1;
            }
            let mut j = t;
            let mut non_alpha = false;
            while j < n && is_bearer_char(b[j]) {
                non_alpha |= !b[j].is_ascii_alphabetic();
                j += 1;
            }
            let run = j - t;
            if !((run >= 8 && non_alpha) || (cut && j == n && run > 0)) {
                i = t.max(i + 1);
                continue;
            }
            (t, j)
        };
        let o = out.get_or_insert_with(|| String::with_capacity(n));
        o.push_str(&s[copied..start]);
        o.push_str(REDACTED);
        copied = end;
        i = end;
    }
    out.map(|mut o| {
        o.push_str(&s[copied..]);
        o
    })
}

/// Replaces every `data:<mime>;base64,<payload>` URI longer than `max` bytes inside `s`.
fn redact_data_uris(s: &str, max: usize) -> Option<String> {
    let b = s.as_bytes();
    let n = b.len();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i + 5 <= n {
        if !starts_with_ci(&b[i..], b"data:") {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i + 5;
        while j < n
            && j - start < 256
            && (b[j].is_ascii_alphanumeric()
                || matches!(b[j], b'/' | b'+' | b'.' | b'-' | b'_' | b';' | b'='))
        {
            j += 1;
        }
        if j >= n || b[j] != b',' || !b[start..j].to_ascii_lowercase().ends_with(b";base64") {
            i = start + 5;
            continue;
        }
        let mut k = j + 1;
        while k < n && (b[k].is_ascii_alphanumeric() || matches!(b[k], b'+' | b'/' | b'=')) {
            k += 1;
        }
        if k - start > max {
            let o = out.get_or_insert_with(|| String::with_capacity(n.min(1 << 16)));
            o.push_str(&s[copied..start]);
            o.push_str(REDACTED);
            copied = k;
        }
        i = k;
    }
    out.map(|mut o| {
        o.push_str(&s[copied..]);
        o
    })
}

/// The largest char boundary of `s` at or below `i`.
fn floor_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    let mut i = i;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn push_marker(out: &mut String, original_len: usize) {
    out.push_str(MARKER_PREFIX);
    out.push_str(&original_len.to_string());
    out.push_str(MARKER_SUFFIX);
}

/// Splits a value already carrying a truncation marker into its kept text and original length.
fn split_marker(s: &str) -> Option<(&str, usize)> {
    let rest = s.strip_suffix(MARKER_SUFFIX)?;
    let pos = rest.rfind(MARKER_PREFIX)?;
    let len = rest[pos + MARKER_PREFIX.len()..].parse().ok()?;
    Some((&s[..pos], len))
}

/// Cuts `s` to about `cap` bytes plus the marker, keeping an earlier marker's original length. `None` unless that
/// makes it shorter.
fn recut(s: &str, cap: usize) -> Option<String> {
    if s.len() <= cap.saturating_add(MARKER_MAX) {
        return None;
    }
    let (content, original) = split_marker(s).unwrap_or((s, s.len()));
    let mut out = String::with_capacity(cap + MARKER_MAX);
    out.push_str(&content[..floor_boundary(content, cap)]);
    push_marker(&mut out, original);
    Some(out)
}

/// Caps numeric arrays at `max_bytes / element size` elements (0 = no cap).
fn cap_numeric(value: &mut Value, max_bytes: usize) {
    if max_bytes == 0 {
        return;
    }
    let keep = (max_bytes / 8).max(1);
    match value {
        Value::Array(Array::F64(v)) => v.truncate(keep),
        Value::Array(Array::I64(v)) => v.truncate(keep),
        Value::Array(Array::Bool(v)) => v.truncate(max_bytes),
        _ => {}
    }
}

/// Estimated encoded size of a string of `len` bytes once cut at `cap`.
fn capped_len(len: usize, cap: usize) -> usize {
    if len > cap.saturating_add(MARKER_MAX) {
        cap + MARKER_MAX
    } else {
        len
    }
}

/// Estimated encoded size of a value once its strings are cut at `cap` (`usize::MAX` = as is).
fn value_size(value: &Value, cap: usize) -> usize {
    match value {
        // Every scalar as 9 bytes (a boolean's 2 rounded up: one size to check for them all).
        Value::Bool(_) | Value::I64(_) | Value::F64(_) => 9,
        Value::String(s) => capped_len(s.as_str().len(), cap) + 2,
        Value::Array(Array::String(v)) => v.iter().fold(4usize, |a, s| {
            a.saturating_add(capped_len(s.as_str().len(), cap) + 2)
        }),
        Value::Array(Array::F64(v)) => 4 + numeric_len(v.len(), 9, cap),
        Value::Array(Array::I64(v)) => 4 + numeric_len(v.len(), 9, cap),
        Value::Array(Array::Bool(v)) => 4 + numeric_len(v.len(), 2, cap),
        _ => 16,
    }
}

fn numeric_len(count: usize, each: usize, cap: usize) -> usize {
    let bytes = count.saturating_mul(each);
    if bytes > cap {
        (cap / each).max(1) * each
    } else {
        bytes
    }
}

fn kv_size(kv: &KeyValue, cap: usize) -> usize {
    kv.key.as_str().len() + KV_OVERHEAD + value_size(&kv.value, cap)
}

fn event_size(event: &Event, cap: usize) -> usize {
    event
        .attributes
        .iter()
        .fold(event.name.len() + EVENT_OVERHEAD, |a, kv| {
            a.saturating_add(kv_size(kv, cap))
        })
}

fn content_size(attrs: &[KeyValue], events: &[Event], cap: usize) -> usize {
    let a = attrs
        .iter()
        .fold(0usize, |a, kv| a.saturating_add(kv_size(kv, cap)));
    events
        .iter()
        .fold(a, |a, e| a.saturating_add(event_size(e, cap)))
}

/// Estimated size of a span apart from its attributes and events.
pub(crate) fn span_overhead(span: &SpanData) -> usize {
    (SPAN_OVERHEAD + span.name.len()).saturating_add(links_and_status_size(span))
}

/// The size of a span's links and error status description.
fn links_and_status_size(span: &SpanData) -> usize {
    let links = span.links.links.iter().fold(0usize, |a, l| {
        a.saturating_add(
            64 + l
                .attributes
                .iter()
                .fold(0usize, |a, kv| a.saturating_add(kv_size(kv, usize::MAX))),
        )
    });
    let status = match &span.status {
        opentelemetry::trace::Status::Error { description } => description.len() + 4,
        _ => 0,
    };
    links.saturating_add(status)
}

/// Estimated encoded size of a span, in bytes. It runs for every span queued, on the thread
/// that ends it, so the common case is kept small: strings and scalars inline, arrays, events,
/// links and an error status out of line.
pub(crate) fn span_size(span: &SpanData) -> usize {
    let mut size = SPAN_OVERHEAD + span.name.len();
    for kv in span.attributes.iter() {
        let value = match &kv.value {
            Value::String(s) => s.as_str().len() + 2,
            Value::I64(_) | Value::F64(_) | Value::Bool(_) => 9,
            other => other_value_size(other),
        };
        size = size.saturating_add(kv.key.as_str().len() + KV_OVERHEAD + value);
    }
    if span.events.events.is_empty()
        && span.links.links.is_empty()
        && !matches!(span.status, opentelemetry::trace::Status::Error { .. })
    {
        return size;
    }
    size.saturating_add(span_extras_size(span))
}

/// The size of a value that is neither a string nor a scalar, for [`span_size`].
#[cold]
#[inline(never)]
fn other_value_size(value: &Value) -> usize {
    value_size(value, usize::MAX)
}

/// The size of a span's events, links and error status, for [`span_size`].
#[cold]
#[inline(never)]
fn span_extras_size(span: &SpanData) -> usize {
    let events = span.events.events.iter().fold(0usize, |size, e| {
        size.saturating_add(event_size(e, usize::MAX))
    });
    links_and_status_size(span).saturating_add(events)
}

/// The per-span size `level` such that `Σ min(size, level)` fits `budget`.
fn water_level(sizes: &[usize], budget: usize) -> usize {
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable();
    let mut remaining = budget;
    let n = sorted.len();
    for (i, &s) in sorted.iter().enumerate() {
        let k = n - i;
        if s.saturating_mul(k) > remaining {
            return remaining / k;
        }
        remaining -= s;
    }
    usize::MAX
}

/// Attributes the trimmer never drops.
fn protected(key: &str) -> bool {
    matches!(
        key,
        "openinference.span.kind"
            | "llm.model_name"
            | "llm.provider"
            | "llm.system"
            | "embedding.model_name"
            | "error.type"
            | "gen_ai.operation.name"
            | "gen_ai.provider.name"
            | "gen_ai.request.model"
            | "gen_ai.response.model"
    ) || key.starts_with("llm.token_count.")
        || key.starts_with("llm.cost.")
        || key.starts_with("gen_ai.usage.")
        || key.starts_with("openinference.span.trimmed")
}

/// Applies `f` to every value of the span (attributes and event attributes).
fn for_each_value(attrs: &mut [KeyValue], events: &mut [Event], mut f: impl FnMut(&mut Value)) {
    for kv in attrs.iter_mut() {
        f(&mut kv.value);
    }
    for event in events.iter_mut() {
        for kv in event.attributes.iter_mut() {
            f(&mut kv.value);
        }
    }
}

/// Trims a span's content to `budget` bytes (with `overhead` bytes of fixed cost): halves the cap on the largest
/// values, then drops the largest unprotected attributes, then the largest events' attributes. Returns the number of
/// attributes dropped.
fn trim_to_budget(
    attrs: &mut Vec<KeyValue>,
    events: &mut [Event],
    budget: usize,
    overhead: usize,
) -> u32 {
    if budget == 0 {
        return 0;
    }
    let before = overhead.saturating_add(content_size(attrs, events, usize::MAX));
    if before <= budget {
        return 0;
    }
    let target = budget.saturating_sub(TRIM_RESERVE).max(1);

    // 1. Halve the cap on the largest values until the span fits.
    let mut largest = 0usize;
    for_each_value(attrs, events, |v| {
        largest = largest.max(value_size(v, usize::MAX))
    });
    let mut cap = largest;
    while cap > MIN_TRIM_CAP {
        cap = (cap / 2).max(MIN_TRIM_CAP);
        if overhead.saturating_add(content_size(attrs, events, cap)) <= target {
            break;
        }
    }
    if cap < largest {
        for_each_value(attrs, events, |v| match v {
            Value::String(s) => {
                if let Some(new) = recut(s.as_str(), cap) {
                    *s = new.into();
                }
            }
            Value::Array(Array::String(items)) => {
                for s in items.iter_mut() {
                    if let Some(new) = recut(s.as_str(), cap) {
                        *s = new.into();
                    }
                }
            }
            other => cap_numeric(other, cap),
        });
    }

    // 2. Drop the largest unprotected attributes.
    let mut size = overhead.saturating_add(content_size(attrs, events, usize::MAX));
    let mut dropped = drop_largest(attrs, &mut size, target, |key| !protected(key));

    // 3. Empty the largest events (an exception keeps its type and message).
    if size > target {
        let mut order: Vec<(usize, usize)> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (event_size(e, usize::MAX), i))
            .collect();
        order.sort_unstable_by(|a, b| b.cmp(a));
        for (sz, i) in order {
            if size <= target {
                break;
            }
            let event = &mut events[i];
            let count = event.attributes.len();
            event
                .attributes
                .retain(|kv| matches!(kv.key.as_str(), "exception.type" | "exception.message"));
            let removed = count - event.attributes.len();
            event.dropped_attributes_count = event
                .dropped_attributes_count
                .saturating_add(u32::try_from(removed).unwrap_or(u32::MAX));
            dropped = dropped.saturating_add(u32::try_from(removed).unwrap_or(u32::MAX));
            size = size
                .saturating_sub(sz)
                .saturating_add(event_size(event, usize::MAX));
        }
    }

    // 4. Last resort, when the budget is smaller than the span's identity (or protected keys carry wrong-typed,
    //    bulky values): drop protected attributes too, never the span kind.
    if size > target {
        dropped = dropped.saturating_add(drop_largest(attrs, &mut size, target, |key| {
            key != "openinference.span.kind" && !key.starts_with("openinference.span.trimmed")
        }));
    }

    mark_trimmed(attrs, dropped, before);
    dropped
}

/// Drops the largest attributes whose key passes `eligible` until `size` is at most `target`; returns how many.
fn drop_largest(
    attrs: &mut Vec<KeyValue>,
    size: &mut usize,
    target: usize,
    eligible: impl Fn(&str) -> bool,
) -> u32 {
    if *size <= target {
        return 0;
    }
    let mut order: Vec<(usize, usize)> = attrs
        .iter()
        .enumerate()
        .filter(|(_, kv)| eligible(kv.key.as_str()))
        .map(|(i, kv)| (kv_size(kv, usize::MAX), i))
        .collect();
    order.sort_unstable_by(|a, b| b.cmp(a));
    let mut remove = vec![false; attrs.len()];
    let mut dropped = 0u32;
    for (sz, i) in order {
        if *size <= target {
            break;
        }
        remove[i] = true;
        *size = size.saturating_sub(sz);
        dropped = dropped.saturating_add(1);
    }
    let mut idx = 0;
    attrs.retain(|_| {
        let keep = !remove[idx];
        idx += 1;
        keep
    });
    dropped
}

/// Sets `openinference.span.trimmed = true` and adds to the dropped-attribute count.
fn mark_trimmed(attrs: &mut Vec<KeyValue>, dropped: u32, before: usize) {
    let mut previous_dropped = 0i64;
    let mut original = i64::try_from(before).unwrap_or(i64::MAX);
    attrs.retain(|kv| match kv.key.as_str() {
        "openinference.span.trimmed" => false,
        "openinference.span.trimmed.dropped_attributes" => {
            if let Value::I64(n) = kv.value {
                previous_dropped = n;
            }
            false
        }
        "openinference.span.trimmed.original_bytes" => {
            if let Value::I64(n) = kv.value {
                original = original.max(n);
            }
            false
        }
        _ => true,
    });
    attrs.push(KeyValue::new("openinference.span.trimmed", true));
    attrs.push(KeyValue::new(
        "openinference.span.trimmed.dropped_attributes",
        previous_dropped.saturating_add(i64::from(dropped)),
    ));
    attrs.push(KeyValue::new(
        "openinference.span.trimmed.original_bytes",
        original,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::SystemTime;

    fn kv(k: &'static str, v: impl Into<Value>) -> KeyValue {
        KeyValue::new(k, v)
    }

    fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
        attrs
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    fn get_str(attrs: &[KeyValue], key: &str) -> Option<String> {
        get(attrs, key).map(|v| v.as_str().into_owned())
    }

    fn sample() -> Vec<KeyValue> {
        vec![
            kv("openinference.span.kind", "LLM"),
            kv("llm.model_name", "gpt-4o"),
            kv("input.value", "what is 2+2?"),
            kv("input.mime_type", "text/plain"),
            kv("output.value", "4"),
            kv("output.mime_type", "text/plain"),
            kv("llm.input_messages.0.message.role", "user"),
            kv("llm.input_messages.0.message.content", "what is 2+2?"),
            kv(
                "llm.input_messages.1.message.contents.0.message_content.text",
                "look",
            ),
            kv(
                "llm.input_messages.1.message.contents.1.message_content.image.image.url",
                "https://x/y.png",
            ),
            kv("llm.output_messages.0.message.role", "assistant"),
            kv("llm.output_messages.0.message.content", "4"),
            kv("llm.tools.0.tool.json_schema", r#"{"type":"function"}"#),
            kv("llm.prompts.0.prompt.text", "complete me"),
            kv("llm.choices.0.completion.text", "done"),
            kv(
                "llm.invocation_parameters",
                r#"{"temperature":0.2,"max_tokens":100,"messages":[{"content":"hi"}]}"#,
            ),
            kv("embedding.embeddings.0.embedding.text", "embed me"),
            kv(
                "embedding.embeddings.0.embedding.vector",
                Value::Array(vec![0.1f64, 0.2].into()),
            ),
            kv("retrieval.documents.0.document.id", "d1"),
            kv("retrieval.documents.0.document.content", "secret plans"),
            kv("retrieval.documents.0.document.score", 0.9),
            kv(
                "retrieval.documents.0.document.metadata",
                r#"{"source":"wiki"}"#,
            ),
            kv("tool.parameters", r#"{"city":"Paris"}"#),
            kv("gen_ai.tool.call.arguments", r#"{"city":"Paris"}"#),
            kv("gen_ai.tool.call.result", "sunny"),
            kv("gen_ai.input.messages", r#"[{"role":"user","parts":[]}]"#),
            kv("llm.prompt_template.variables", r#"{"name":"Ann"}"#),
            kv("llm.token_count.prompt", 10i64),
            kv("session.id", "s1"),
        ]
    }

    fn run(p: &Privacy, mut attrs: Vec<KeyValue>) -> Vec<KeyValue> {
        p.apply(&mut attrs, &mut [], &mut KeyPlans::default(), None);
        attrs
    }

    fn redacted(attrs: &[KeyValue], key: &str) -> bool {
        get_str(attrs, key).as_deref() == Some(REDACTED)
    }

    /// Plans remembered by position are checked against the key: spans whose keys come in
    /// another order, or are new at a position, get each key's own plan.
    #[test]
    fn plans_follow_the_key_not_its_position() {
        let p = Privacy::default().with_hide_inputs(true);
        let mut plans = KeyPlans::default();
        let kv = |k: &'static str| KeyValue::new(k, "some text");
        let shown = |attrs: &[KeyValue]| -> Vec<String> {
            attrs
                .iter()
                .map(|kv| format!("{}={}", kv.key, kv.value))
                .collect()
        };
        for order in [
            ["input.value", "output.value", "tag.a"],
            ["output.value", "input.value", "tag.b"],
            ["tag.a", "output.value", "input.value"],
        ] {
            let mut attrs: Vec<KeyValue> = order.iter().map(|k| kv(k)).collect();
            p.apply(&mut attrs, &mut [], &mut plans, None);
            let mut expected: Vec<String> = order
                .iter()
                .map(|k| match *k {
                    "input.value" => format!("{k}={REDACTED}"),
                    _ => format!("{k}=some text"),
                })
                .collect();
            let mut got = shown(&attrs);
            got.sort();
            expected.sort();
            assert_eq!(got, expected, "{order:?}");
        }
    }

    #[test]
    fn secret_words_and_token_candidates() {
        assert!(contains_secret_word("llm.input_messages.0.message.api_key"));
        assert!(contains_secret_word("metadata.Authorization"));
        assert!(!contains_secret_word(
            "llm.input_messages.0.message.content"
        ));
        for key in [
            "llm.input_messages.12.message.content",
            "llm.output_messages.0.message.role",
            "llm.input_messages.3.message.name",
        ] {
            assert!(is_plain_message_key(key), "{key}");
            assert!(!is_secret_key(key, Kind::Str), "{key}");
        }
        assert!(!is_plain_message_key(
            "llm.input_messages.0.message.api_key"
        ));
        assert!(!is_plain_message_key("llm.input_messages..message.content"));
        let mut generated = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in [1usize, 2, 3, 7, 31, 32, 33, 64, 100] {
            for _ in 0..20 {
                let text: String = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        ['b', 'B', '-', 'x', 's', 'k', 'e', 'A', 'a'][(seed % 9) as usize]
                    })
                    .collect();
                generated.push(text);
            }
        }
        let texts = [
            "Retrieval-augmented generation combines a search step with a language model. ",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxB-xxxxxxxx--xxxxbxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "é€ sk-ĀĀĀĀĀĀĀĀĀĀĀĀĀĀ bearer \u{80}\u{ff}-b",
            "",
            "-",
        ];
        for text in texts
            .iter()
            .copied()
            .chain(generated.iter().map(String::as_str))
        {
            let b = text.as_bytes();
            for i in 0..=b.len() {
                let naive = (i..b.len())
                    .find(|&j| matches!(b[j], b'b' | b'B') || b.get(j + 2) == Some(&b'-'))
                    .unwrap_or(b.len());
                assert_eq!(next_token_candidate(b, i), naive, "{text:?} at {i}");
            }
        }
        let cases = [
            ("key sk-abcdefghijklmnop1234 end", "key __REDACTED__ end"),
            ("x Bearer abc123def456", "x Bearer __REDACTED__"),
            ("é sk-ĀĀ b pk-abcdefghijklmnopq9", "é sk-ĀĀ b __REDACTED__"),
            ("bb-sk-abcdefghijklmnop1234", "bb-sk-abcdefghijklmnop1234"),
        ];
        for (input, expected) in cases {
            let got = scan_tokens(input, false).unwrap_or_else(|| input.to_owned());
            assert_eq!(got, expected, "{input}");
        }
    }

    #[test]
    fn default_keeps_content() {
        let out = run(&Privacy::default(), sample());
        assert_eq!(out, sample());
    }

    #[test]
    fn hide_inputs() {
        let out = run(&Privacy::default().with_hide_inputs(true), sample());
        assert!(redacted(&out, "input.value"));
        assert!(get(&out, "input.mime_type").is_none());
        assert!(!out
            .iter()
            .any(|kv| kv.key.as_str().starts_with("llm.input_messages.")));
        assert!(!out
            .iter()
            .any(|kv| kv.key.as_str().starts_with("llm.tools.")));
        assert!(redacted(&out, "llm.prompts.0.prompt.text"));
        assert!(redacted(&out, "gen_ai.tool.call.arguments"));
        assert!(get(&out, "gen_ai.input.messages").is_none());
        // The prompt inside the invocation parameters is hidden too; the parameters stay.
        let params = get_str(&out, "llm.invocation_parameters").unwrap();
        assert_eq!(
            params,
            r#"{"temperature":0.2,"max_tokens":100,"messages":"__REDACTED__"}"#
        );
        // Outputs untouched.
        assert_eq!(get_str(&out, "output.value").unwrap(), "4");
        assert_eq!(
            get_str(&out, "llm.choices.0.completion.text").unwrap(),
            "done"
        );
    }

    #[test]
    fn hide_outputs() {
        let out = run(&Privacy::default().with_hide_outputs(true), sample());
        assert!(redacted(&out, "output.value"));
        assert!(get(&out, "output.mime_type").is_none());
        assert!(!out
            .iter()
            .any(|kv| kv.key.as_str().starts_with("llm.output_messages.")));
        assert!(redacted(&out, "llm.choices.0.completion.text"));
        assert!(redacted(&out, "gen_ai.tool.call.result"));
        assert_eq!(get_str(&out, "input.value").unwrap(), "what is 2+2?");
    }

    #[test]
    fn hide_messages_text_images() {
        let out = run(&Privacy::default().with_hide_input_messages(true), sample());
        assert!(!out
            .iter()
            .any(|kv| kv.key.as_str().starts_with("llm.input_messages.")));
        assert!(get(&out, "llm.output_messages.0.message.content").is_some());
        assert!(get(&out, "input.value").is_some());

        let out = run(
            &Privacy::default().with_hide_output_messages(true),
            sample(),
        );
        assert!(!out
            .iter()
            .any(|kv| kv.key.as_str().starts_with("llm.output_messages.")));
        assert!(get(&out, "llm.input_messages.0.message.content").is_some());

        let out = run(&Privacy::default().with_hide_input_text(true), sample());
        assert!(redacted(&out, "llm.input_messages.0.message.content"));
        assert!(redacted(
            &out,
            "llm.input_messages.1.message.contents.0.message_content.text"
        ));
        assert_eq!(
            get_str(&out, "llm.input_messages.0.message.role").unwrap(),
            "user"
        );
        assert_eq!(
            get_str(&out, "llm.output_messages.0.message.content").unwrap(),
            "4"
        );
        assert!(redacted(&out, "gen_ai.input.messages"));

        let out = run(&Privacy::default().with_hide_output_text(true), sample());
        assert!(redacted(&out, "llm.output_messages.0.message.content"));
        assert_eq!(
            get_str(&out, "llm.input_messages.0.message.content").unwrap(),
            "what is 2+2?"
        );

        let out = run(&Privacy::default().with_hide_input_images(true), sample());
        assert!(get(
            &out,
            "llm.input_messages.1.message.contents.1.message_content.image.image.url"
        )
        .is_none());
        assert!(get(
            &out,
            "llm.input_messages.1.message.contents.0.message_content.text"
        )
        .is_some());
    }

    #[test]
    fn hide_params_tools_prompts_choices_embeddings() {
        let out = run(
            &Privacy::default().with_hide_llm_invocation_parameters(true),
            sample(),
        );
        assert!(get(&out, "llm.invocation_parameters").is_none());

        let out = run(&Privacy::default().with_hide_llm_tools(true), sample());
        assert!(get(&out, "llm.tools.0.tool.json_schema").is_none());
        assert!(get(&out, "llm.input_messages.0.message.content").is_some());

        let out = run(&Privacy::default().with_hide_prompts(true), sample());
        assert!(redacted(&out, "llm.prompts.0.prompt.text"));
        assert!(!redacted(&out, "llm.choices.0.completion.text"));

        let out = run(&Privacy::default().with_hide_choices(true), sample());
        assert!(redacted(&out, "llm.choices.0.completion.text"));
        assert!(!redacted(&out, "llm.prompts.0.prompt.text"));

        let out = run(
            &Privacy::default().with_hide_embeddings_vectors(true),
            sample(),
        );
        assert!(redacted(&out, "embedding.embeddings.0.embedding.vector"));
        assert!(!redacted(&out, "embedding.embeddings.0.embedding.text"));

        let out = run(
            &Privacy::default().with_hide_embeddings_text(true),
            sample(),
        );
        assert!(redacted(&out, "embedding.embeddings.0.embedding.text"));
        assert!(matches!(
            get(&out, "embedding.embeddings.0.embedding.vector"),
            Some(Value::Array(Array::F64(_)))
        ));
    }

    #[test]
    fn hide_all_hides_every_content_value() {
        let p = Privacy::default().with_hide_all(true);
        let mut attrs = sample();
        let mut events = vec![
            Event::new(
                "exception",
                SystemTime::UNIX_EPOCH,
                vec![
                    kv("exception.type", "IoError"),
                    kv("exception.message", "boom"),
                ],
                0,
            ),
            Event::new(
                "log",
                SystemTime::UNIX_EPOCH,
                vec![kv("message", "user said hi"), kv("n", 3i64)],
                0,
            ),
        ];
        p.apply(&mut attrs, &mut events, &mut KeyPlans::default(), None);
        for key in [
            "input.value",
            "output.value",
            "llm.prompts.0.prompt.text",
            "llm.choices.0.completion.text",
            "tool.parameters",
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
            "retrieval.documents.0.document.content",
            "retrieval.documents.0.document.metadata",
            "embedding.embeddings.0.embedding.text",
            "embedding.embeddings.0.embedding.vector",
            "llm.prompt_template.variables",
        ] {
            assert!(redacted(&attrs, key), "{key} not redacted");
        }
        for key in [
            "input.mime_type",
            "output.mime_type",
            "llm.invocation_parameters",
            "gen_ai.input.messages",
        ] {
            assert!(get(&attrs, key).is_none(), "{key} not dropped");
        }
        assert!(!attrs.iter().any(|kv| {
            let k = kv.key.as_str();
            k.starts_with("llm.input_messages")
                || k.starts_with("llm.output_messages")
                || k.starts_with("llm.tools")
        }));
        for key in [
            "openinference.span.kind",
            "llm.model_name",
            "retrieval.documents.0.document.id",
            "session.id",
        ] {
            assert!(
                get(&attrs, key).is_some() && !redacted(&attrs, key),
                "{key} lost"
            );
        }
        assert_eq!(
            get(&attrs, "retrieval.documents.0.document.score"),
            Some(&Value::F64(0.9))
        );
        assert_eq!(get(&attrs, "llm.token_count.prompt"), Some(&Value::I64(10)));
        assert_eq!(
            get_str(&events[0].attributes, "exception.message").unwrap(),
            "boom"
        );
        assert!(redacted(&events[1].attributes, "message"));
        assert_eq!(get(&events[1].attributes, "n"), Some(&Value::I64(3)));
    }

    #[test]
    fn secrets_in_json_attributes() {
        let p = Privacy::default();
        let attrs = vec![
            kv(
                "llm.invocation_parameters",
                r#"{"model":"gpt-4o","api_key":"abc123","max_tokens":256,"extra_headers":{"Authorization":"Basic xyz","X-Api-Key":"k"},"prompt_tokens":3,"access_token":"tok","tokens":5}"#,
            ),
            kv(
                "metadata",
                r#"{"user":"ann","password":"hunter2","db":{"client_secret":{"a":[1,2]}}}"#,
            ),
            kv(
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
                r#"{"session_token":"s3cr3t","limit":5}"#,
            ),
            kv(
                "gen_ai.tool.call.arguments",
                r#"{"Private-Key":"-----BEGIN"}"#,
            ),
            kv(
                "retrieval.documents.0.document.metadata",
                r#"{"cookie":"c=1","max_token_count":4}"#,
            ),
            kv("http.request.header.authorization", "Basic Zm9vOmJhcg=="),
            kv(
                "tag.tags",
                Value::Array(vec![StringValue::from("x")].into()),
            ),
        ];
        let out = run(&p, attrs);
        let params: serde_json::Value =
            serde_json::from_str(&get_str(&out, "llm.invocation_parameters").unwrap()).unwrap();
        assert_eq!(params["api_key"], REDACTED);
        assert_eq!(params["max_tokens"], 256);
        assert_eq!(params["prompt_tokens"], 3);
        assert_eq!(params["tokens"], 5);
        assert_eq!(params["access_token"], REDACTED);
        assert_eq!(params["extra_headers"]["Authorization"], REDACTED);
        assert_eq!(params["extra_headers"]["X-Api-Key"], REDACTED);
        assert_eq!(params["model"], "gpt-4o");
        let meta: serde_json::Value =
            serde_json::from_str(&get_str(&out, "metadata").unwrap()).unwrap();
        assert_eq!(meta["password"], REDACTED);
        assert_eq!(meta["db"]["client_secret"], REDACTED);
        assert_eq!(meta["user"], "ann");
        let args = get_str(
            &out,
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
        )
        .unwrap();
        assert_eq!(args, r#"{"session_token":"__REDACTED__","limit":5}"#);
        assert_eq!(
            get_str(&out, "gen_ai.tool.call.arguments").unwrap(),
            r#"{"Private-Key":"__REDACTED__"}"#
        );
        assert_eq!(
            get_str(&out, "retrieval.documents.0.document.metadata").unwrap(),
            r#"{"cookie":"__REDACTED__","max_token_count":4}"#
        );
        assert!(redacted(&out, "http.request.header.authorization"));

        // Off: untouched.
        let plain = r#"{"api_key":"abc"}"#;
        let out = run(
            &Privacy::default().with_redact_secrets(false),
            vec![kv("metadata", plain)],
        );
        assert_eq!(get_str(&out, "metadata").unwrap(), plain);
    }

    #[test]
    fn secrets_in_plain_text() {
        let key = "sk-proj-AbCdEf0123456789xyzXYZ";
        let msg = format!("Incorrect API key provided: {key}. Header was Bearer eyJhbGciOi.J9x and task-runner-abcdefghijklmnop0");
        let out = run(
            &Privacy::default(),
            vec![kv("exception.message", msg.clone())],
        );
        let text = get_str(&out, "exception.message").unwrap();
        assert_eq!(
            text,
            "Incorrect API key provided: __REDACTED__. Header was Bearer __REDACTED__ and task-runner-abcdefghijklmnop0"
        );
        // Short or word-only lookalikes survive.
        let fine = "sk-learn is great; Bearer responsibilities";
        assert_eq!(scan_tokens(fine, false), None);
    }

    #[test]
    fn truncation_at_utf8_boundary() {
        let p = Privacy::default().with_max_value_len(10);
        // 'é' is 2 bytes: "aaaaaaaaa" + 'é' puts byte 10 inside the 'é'.
        let value = format!("{}é{}", "a".repeat(9), "z".repeat(20));
        let out = run(&p, vec![kv("input.value", value.clone())]);
        let text = get_str(&out, "input.value").unwrap();
        assert_eq!(
            text,
            format!("{}…[truncated, {} bytes]", "a".repeat(9), value.len())
        );
        // Emoji (4 bytes) at the cut.
        let value = format!("ab{}", "😀".repeat(5));
        let out = run(&p, vec![kv("output.value", value.clone())]);
        assert_eq!(
            get_str(&out, "output.value").unwrap(),
            format!("ab😀😀…[truncated, {} bytes]", value.len())
        );
        // Arrays per element; float vectors by count.
        let out = run(
            &p,
            vec![
                kv(
                    "tag.tags",
                    Value::Array(Array::String(vec!["short".into(), "x".repeat(30).into()])),
                ),
                kv(
                    "embedding.embeddings.0.embedding.vector",
                    Value::Array(vec![1.0f64; 100].into()),
                ),
            ],
        );
        match get(&out, "tag.tags") {
            Some(Value::Array(Array::String(v))) => {
                assert_eq!(v[0].as_str(), "short");
                assert_eq!(
                    v[1].as_str(),
                    format!("{}…[truncated, 30 bytes]", "x".repeat(10))
                );
            }
            other => panic!("{other:?}"),
        }
        match get(&out, "embedding.embeddings.0.embedding.vector") {
            Some(Value::Array(Array::F64(v))) => assert_eq!(v.len(), 1),
            other => panic!("{other:?}"),
        }
        // No cap.
        let long = "y".repeat(100_000);
        let out = run(
            &Privacy::default().with_max_value_len(0),
            vec![kv("input.value", long.clone())],
        );
        assert_eq!(get_str(&out, "input.value").unwrap(), long);
    }

    #[test]
    fn long_values_are_scanned_only_as_far_as_the_cap_can_keep() {
        let p = Privacy::default()
            .with_max_value_len(100)
            .with_base64_image_max_len(50);
        // A data URI that starts inside the cap and runs far past the scanned window: redacted, no part of it kept.
        let v = format!("see data:image/png;base64,{} end", "A".repeat(10_000));
        let out = run(&p, vec![kv("output.value", v.clone())]);
        assert_eq!(
            get_str(&out, "output.value").unwrap(),
            format!("see {REDACTED}…[truncated, {} bytes]", v.len())
        );
        // A huge plain value: cut at the cap, with the full original length.
        let huge = "é".repeat(5_000_000);
        let out = run(&p, vec![kv("input.value", huge.clone())]);
        let text = get_str(&out, "input.value").unwrap();
        assert_eq!(
            text,
            format!("{}…[truncated, {} bytes]", "é".repeat(50), huge.len())
        );
    }

    #[test]
    fn truncated_json_still_scanned() {
        let p = Privacy::default().with_max_value_len(40);
        let v = format!(r#"{{"password":"{}"}}"#, "p".repeat(100));
        let out = run(&p, vec![kv("metadata", v.clone())]);
        let text = get_str(&out, "metadata").unwrap();
        assert!(!text.contains("ppp"), "{text}");
        assert!(text.ends_with(&format!("…[truncated, {} bytes]", v.len())));
    }

    #[test]
    fn base64_image_cap() {
        let p = Privacy::default();
        let big = format!("data:image/png;base64,{}", "A".repeat(40_000));
        let small = format!("data:image/png;base64,{}", "A".repeat(100));
        let out = run(
            &p,
            vec![
                kv(
                    "llm.input_messages.0.message.contents.0.message_content.image.image.url",
                    big.clone(),
                ),
                kv(
                    "llm.input_messages.0.message.contents.1.message_content.image.image.url",
                    small.clone(),
                ),
            ],
        );
        assert!(redacted(
            &out,
            "llm.input_messages.0.message.contents.0.message_content.image.image.url"
        ));
        assert_eq!(
            get_str(
                &out,
                "llm.input_messages.0.message.contents.1.message_content.image.image.url"
            )
            .unwrap(),
            small
        );
        // Inline in a JSON input: the data URI goes, the JSON stays valid.
        let json = format!(r#"{{"messages":[{{"role":"user","image":"{big}","text":"hi"}}]}}"#);
        let out = run(
            &Privacy::default().with_max_value_len(0),
            vec![kv("input.value", json)],
        );
        let v: serde_json::Value =
            serde_json::from_str(&get_str(&out, "input.value").unwrap()).unwrap();
        assert_eq!(v["messages"][0]["image"], REDACTED);
        assert_eq!(v["messages"][0]["text"], "hi");
    }

    #[test]
    fn span_budget_trims_huge_value() {
        let p = Privacy::default().with_max_value_len(0);
        let huge = "x".repeat(50 * 1024 * 1024);
        let mut attrs = vec![
            kv("openinference.span.kind", "LLM"),
            kv("llm.model_name", "gpt-4o"),
            kv("llm.token_count.total", 42i64),
            kv("input.value", huge),
            kv("output.value", "ok"),
        ];
        p.apply(&mut attrs, &mut [], &mut KeyPlans::default(), None);
        let size = content_size(&attrs, &[], usize::MAX);
        assert!(size <= DEFAULT_MAX_SPAN_BYTES, "{size}");
        assert_eq!(get_str(&attrs, "openinference.span.kind").unwrap(), "LLM");
        assert_eq!(get_str(&attrs, "llm.model_name").unwrap(), "gpt-4o");
        assert_eq!(get(&attrs, "llm.token_count.total"), Some(&Value::I64(42)));
        assert_eq!(
            get(&attrs, "openinference.span.trimmed"),
            Some(&Value::Bool(true))
        );
        let input = get_str(&attrs, "input.value").unwrap();
        assert!(
            input.ends_with(&format!("…[truncated, {} bytes]", 50 * 1024 * 1024)),
            "{}",
            &input[input.len() - 40..]
        );
    }

    #[test]
    fn span_budget_drops_largest_when_cutting_is_not_enough() {
        let p = Privacy::default().with_max_span_bytes(4096);
        let mut attrs = vec![
            kv("openinference.span.kind", "CHAIN"),
            kv("error.type", "Timeout"),
        ];
        for i in 0..200 {
            attrs.push(KeyValue::new(format!("custom.attr.{i}"), "v".repeat(50)));
        }
        p.apply(&mut attrs, &mut [], &mut KeyPlans::default(), None);
        assert!(content_size(&attrs, &[], usize::MAX) <= 4096);
        assert!(get(&attrs, "openinference.span.kind").is_some());
        assert!(get(&attrs, "error.type").is_some());
        match get(&attrs, "openinference.span.trimmed.dropped_attributes") {
            Some(Value::I64(n)) => assert!(*n > 0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn span_budget_holds_even_below_the_protected_attributes() {
        let p = Privacy::default()
            .with_max_value_len(0)
            .with_max_span_bytes(512);
        let mut attrs = vec![
            kv("openinference.span.kind", "LLM"),
            kv("llm.model_name", "m".repeat(300)),
            kv("llm.token_count.prompt", "[".repeat(400)),
            kv("llm.token_count.completion", 7i64),
            kv("gen_ai.request.model", "g".repeat(300)),
        ];
        p.apply(&mut attrs, &mut [], &mut KeyPlans::default(), None);
        let size = content_size(&attrs, &[], usize::MAX);
        assert!(size <= 512, "{size}: {attrs:?}");
        assert_eq!(get_str(&attrs, "openinference.span.kind").unwrap(), "LLM");
        assert_eq!(
            get(&attrs, "openinference.span.trimmed"),
            Some(&Value::Bool(true))
        );
    }

    fn span(attrs: Vec<KeyValue>) -> SpanData {
        SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "chat".into(),
            start_time: SystemTime::UNIX_EPOCH,
            end_time: SystemTime::UNIX_EPOCH,
            attributes: attrs,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::default(),
        }
    }

    #[test]
    fn fit_batch_keeps_every_span_under_budget() {
        let p = Privacy::default();
        let mut batch: Vec<SpanData> = (0..8)
            .map(|i| {
                span(vec![
                    kv("openinference.span.kind", "LLM"),
                    kv("llm.model_name", "m"),
                    kv("input.value", "i".repeat(900_000 + i * 1000)),
                    kv("output.value", "o".repeat(10)),
                ])
            })
            .collect();
        batch.push(span(vec![
            kv("openinference.span.kind", "TOOL"),
            kv("tool.name", "t"),
        ]));
        let before_small = batch[8].clone();
        fit(&p, &mut batch);
        assert_eq!(batch.len(), 9);
        let total: usize = batch.iter().map(span_size).sum();
        assert!(total <= DEFAULT_MAX_REQUEST_BYTES, "{total}");
        assert_eq!(batch[8], before_small, "small span untouched");
        for s in &batch[..8] {
            assert_eq!(
                get_str(&s.attributes, "openinference.span.kind").unwrap(),
                "LLM"
            );
            assert_eq!(
                get(&s.attributes, "openinference.span.trimmed"),
                Some(&Value::Bool(true))
            );
        }
        // Under budget: nothing changes.
        let mut small = vec![before_small.clone()];
        fit(&p, &mut small);
        assert_eq!(small[0], before_small);
    }

    #[test]
    fn env_parsing() {
        let vars = [
            ("OPENINFERENCE_HIDE_INPUTS", "true"),
            ("OPENINFERENCE_HIDE_OUTPUTS", "YES"),
            ("OPENINFERENCE_HIDE_INPUT_MESSAGES", "1"),
            ("OPENINFERENCE_HIDE_OUTPUT_MESSAGES", "False"),
            ("OPENINFERENCE_HIDE_INPUT_TEXT", "no"),
            ("OPENINFERENCE_HIDE_EMBEDDING_VECTORS", "true"),
            ("OPENINFERENCE_HIDE_ALL", " 0 "),
            ("OPENINFERENCE_HIDE_PROMPTS", ""),
            ("OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH", "1000"),
            ("OPENINFERENCE_MAX_VALUE_LENGTH", "0"),
        ];
        let get = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let p = Privacy::from_env_with(get).unwrap();
        assert!(p.hide_inputs && p.hide_outputs && p.hide_input_messages);
        assert!(!p.hide_output_messages && !p.hide_input_text && !p.hide_all && !p.hide_prompts);
        assert!(p.hide_embeddings_vectors, "deprecated alias");
        assert_eq!(p.base64_image_max_len, 1000);
        assert_eq!(p.max_value_len, 0);
        assert!(p.redact_secrets);
        assert_eq!(
            Privacy::from_env_with(|_| None).unwrap(),
            Privacy::default()
        );

        let err = Privacy::from_env_with(|n| {
            (n == "OPENINFERENCE_HIDE_LLM_TOOLS").then(|| "sure".to_string())
        });
        assert!(err.unwrap_err().contains("OPENINFERENCE_HIDE_LLM_TOOLS"));
        let err = Privacy::from_env_with(|n| {
            (n == "OPENINFERENCE_MAX_VALUE_LENGTH").then(|| "-5".to_string())
        });
        assert!(err.unwrap_err().contains("OPENINFERENCE_MAX_VALUE_LENGTH"));
        let err = Privacy::from_env_with(|n| {
            (n == "OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH").then(|| "1e3".to_string())
        });
        assert!(err
            .unwrap_err()
            .contains("OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH"));
    }

    #[test]
    fn deep_and_broken_json_is_safe() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let broken = r#"{"api_key": "abc", "x": [1, {"password"#;
        let out = run(
            &Privacy::default().with_max_value_len(0),
            vec![
                kv("metadata", deep.clone()),
                kv("llm.invocation_parameters", broken),
            ],
        );
        assert_eq!(get_str(&out, "metadata").unwrap(), deep);
        assert!(get_str(&out, "llm.invocation_parameters")
            .unwrap()
            .starts_with(r#"{"api_key": "__REDACTED__""#));
    }

    use opentelemetry::StringValue;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            ".{0,40}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("api_key".to_string()),
                            Just("Password".to_string()),
                            Just("max_tokens".to_string()),
                            Just("access-token".to_string()),
                            Just("messages".to_string()),
                            ".{0,12}"
                        ],
                        inner
                    ),
                    0..6
                )
                .prop_map(|v| serde_json::Value::Object(v.into_iter().collect())),
            ]
        })
    }

    fn attr_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<String>().prop_map(Value::from),
            ".{0,300}".prop_map(Value::from),
            json_value().prop_map(|v| Value::from(v.to_string())),
            "[a-zA-Z0-9+/=]{0,200}".prop_map(|s| Value::from(format!("data:image/png;base64,{s}"))),
            "[a-zA-Z0-9_-]{0,40}".prop_map(|s| Value::from(format!("Bearer {s} sk-{s}"))),
            prop::collection::vec(any::<f64>(), 0..100).prop_map(|v| Value::Array(v.into())),
            prop::collection::vec(".{0,80}", 0..8).prop_map(|v| Value::Array(Array::String(
                v.into_iter().map(StringValue::from).collect()
            ))),
            any::<i64>().prop_map(Value::from),
            Just(Value::F64(f64::NAN)),
        ]
    }

    fn attr_key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("input.value".to_string()),
            Just("output.value".to_string()),
            Just("metadata".to_string()),
            Just("llm.invocation_parameters".to_string()),
            Just("llm.input_messages.0.message.content".to_string()),
            Just(
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments"
                    .to_string()
            ),
            Just("embedding.embeddings.0.embedding.vector".to_string()),
            Just("retrieval.documents.0.document.metadata".to_string()),
            Just("openinference.span.kind".to_string()),
            ".{0,30}",
        ]
    }

    fn all_strings(attrs: &[KeyValue], events: &[Event]) -> Vec<String> {
        let mut out = Vec::new();
        let mut push = |v: &Value| match v {
            Value::String(s) => out.push(s.as_str().to_string()),
            Value::Array(Array::String(items)) => {
                out.extend(items.iter().map(|s| s.as_str().to_string()))
            }
            _ => {}
        };
        attrs.iter().for_each(|kv| push(&kv.value));
        events
            .iter()
            .flat_map(|e| e.attributes.iter())
            .for_each(|kv| push(&kv.value));
        out
    }

    fn fit(p: &Privacy, batch: &mut [SpanData]) {
        let sizes = batch.iter().map(span_size).collect();
        p.fit_batch(batch, sizes);
    }

    /// Every key `action_by_flags` names, and a few under its prefixes.
    const NAMED_KEYS: &[&str] = &[
        "input.value",
        "input.mime_type",
        "output.value",
        "output.mime_type",
        "llm.invocation_parameters",
        "embedding.invocation_parameters",
        "gen_ai.input.messages",
        "gen_ai.system_instructions",
        "gen_ai.output.messages",
        "gen_ai.tool.definitions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.retrieval.documents",
        "tool.parameters",
        "llm.function_call",
        "llm.prompt_template.template",
        "llm.prompt_template.variables",
        "reranker.query",
        "llm.input_messages",
        "llm.input_messages.0.message.content",
        "llm.input_messages.0.message.contents.1.message_content.image.image.url",
        "llm.output_messages",
        "llm.output_messages.2.message.content",
        "llm.tools.0.tool.json_schema",
        "llm.prompts.0.prompt.text",
        "llm.choices.0.completion.text",
        "embedding.embeddings",
        "embedding.embeddings.0.embedding.vector",
        "embedding.embeddings.0.embedding.text",
        "retrieval.documents",
        "retrieval.documents.0.document.content",
        "retrieval.documents.0.document.metadata",
        "reranker.input_documents",
        "reranker.output_documents",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
        "message.function_call_arguments_json",
        "x.audio.transcript",
        "x.image.url",
        "x.audio.url",
    ];

    #[test]
    fn with_no_hide_flag_the_flags_keep_every_named_key() {
        let p = Privacy::default();
        assert!(!p.hides_any());
        for key in NAMED_KEYS {
            assert_eq!(p.action_by_flags(key), Action::Keep, "{key}");
        }
        // And each flag alone counts.
        let setters: [fn(Privacy, bool) -> Privacy; 14] = [
            Privacy::with_hide_inputs,
            Privacy::with_hide_outputs,
            Privacy::with_hide_input_messages,
            Privacy::with_hide_output_messages,
            Privacy::with_hide_input_text,
            Privacy::with_hide_output_text,
            Privacy::with_hide_input_images,
            Privacy::with_hide_llm_invocation_parameters,
            Privacy::with_hide_llm_tools,
            Privacy::with_hide_prompts,
            Privacy::with_hide_choices,
            Privacy::with_hide_embeddings_vectors,
            Privacy::with_hide_embeddings_text,
            Privacy::with_hide_all,
        ];
        for set in setters {
            assert!(set(Privacy::default(), true).hides_any());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The shortcut taken when no hide flag is set gives what the flags would.
        #[test]
        fn with_no_hide_flag_the_flags_keep_any_key(key in attr_key()) {
            prop_assert_eq!(Privacy::default().action_by_flags(&key), Action::Keep);
        }

        /// A string the short path leaves alone is one the full scan would leave alone.
        #[test]
        fn short_strings_left_alone_are_clean(
            s in prop_oneof![
                ".{0,16}",
                "(Bearer|bearer) [a-z0-9]{6,10}",
                "sk-[a-z0-9]{12,18}",
                "(\\{|\\[|data:)[a-zA-Z0-9 \"{}:,_-]{0,12}",
            ],
            flags in prop::collection::vec(any::<bool>(), 2),
            cap in 0usize..20,
            b64 in 0usize..20,
        ) {
            let p = Privacy {
                redact_secrets: flags[0], hide_inputs: flags[1], max_value_len: cap,
                base64_image_max_len: b64, ..Privacy::default()
            };
            for scan in [JsonScan::None, JsonScan::Secrets, JsonScan::PromptKeys] {
                if p.leaves_short(&s, scan) {
                    prop_assert_eq!(p.clean_str_scanned(&s, scan), None, "{:?} {:?}", s, scan);
                }
            }
        }

        #[test]
        fn apply_never_panics_and_respects_cap(
            attrs in prop::collection::vec((attr_key(), attr_value()), 0..12),
            flags in prop::collection::vec(any::<bool>(), 15),
            cap in 0usize..200,
            b64 in 0usize..120,
            span_budget in prop_oneof![Just(0usize), 200usize..5000],
        ) {
            let p = Privacy {
                hide_inputs: flags[0], hide_outputs: flags[1], hide_input_messages: flags[2],
                hide_output_messages: flags[3], hide_input_text: flags[4], hide_output_text: flags[5],
                hide_input_images: flags[6], hide_llm_invocation_parameters: flags[7], hide_llm_tools: flags[8],
                hide_prompts: flags[9], hide_choices: flags[10], hide_embeddings_vectors: flags[11],
                hide_embeddings_text: flags[12], hide_all: flags[13], redact_secrets: flags[14],
                max_value_len: cap, base64_image_max_len: b64, max_span_bytes: span_budget,
                max_request_bytes: 10_000,
            };
            let mut attrs: Vec<KeyValue> = attrs.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect();
            let mut events = vec![Event::new("log", SystemTime::UNIX_EPOCH, attrs.clone(), 0)];
            // Plans kept from an earlier span give what fresh ones give.
            let mut plans = KeyPlans::default();
            let (mut again, mut again_events) = (attrs.clone(), events.clone());
            p.apply(&mut attrs, &mut events, &mut plans, None);
            p.apply(&mut again, &mut again_events, &mut plans, None);
            // (Compared as text: a NaN is not equal to itself.)
            prop_assert_eq!(format!("{again:?}"), format!("{attrs:?}"));
            let attributes = |events: &[Event]| format!("{:?}", events.iter().map(|e| &e.attributes).collect::<Vec<_>>());
            prop_assert_eq!(attributes(&again_events), attributes(&events));
            if cap > 0 {
                for s in all_strings(&attrs, &events) {
                    prop_assert!(s.len() <= cap + MARKER_MAX, "len {} > cap {}", s.len(), cap);
                }
            }
            let mut batch = vec![span(attrs.clone()), span(attrs)];
            fit(&p, &mut batch);
            prop_assert_eq!(batch.len(), 2);
        }

        #[test]
        fn json_scan_keeps_json_valid_and_hides_secrets(v in json_value()) {
            let text = v.to_string();
            let out = scan_json(&text, true, false).unwrap_or_else(|| text.clone());
            let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
            fn check(v: &serde_json::Value) -> bool {
                match v {
                    serde_json::Value::Object(m) => m.iter().all(|(k, v)| {
                        let secret = matches!(k.as_str(), "api_key" | "Password") && !v.is_null();
                        (!secret || v == REDACTED) && (k != "max_tokens" || v != REDACTED) && check(v)
                    }),
                    serde_json::Value::Array(a) => a.iter().all(check),
                    _ => true,
                }
            }
            prop_assert!(check(&parsed), "{}", out);
        }
    }
}

//! The privacy settings read from the environment (`OPENINFERENCE_HIDE_*`, the length caps and
//! the OpenTelemetry GenAI content switch).

use super::Privacy;
use crate::flag::{parse_bool, SPELLINGS};

impl Privacy {
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
    /// `OPENINFERENCE_HIDE_ALL`) accept `true`/`false`, `1`/`0`, `yes`/`no` and `on`/`off` in any case (the syntax
    /// of every boolean setting of the crate). `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=false` (the
    /// OpenTelemetry GenAI switch) hides content as `OPENINFERENCE_HIDE_ALL=true` does; `true` changes nothing.
    /// Integers:
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
    /// let off = |n: &str| (n == "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT").then(|| "false".into());
    /// assert!(Privacy::from_env_with(off).unwrap().hide_all);
    ///
    /// let err = Privacy::from_env_with(|n| (n == "OPENINFERENCE_HIDE_ALL").then(|| "maybe".into()));
    /// assert!(err.unwrap_err().contains("OPENINFERENCE_HIDE_ALL"));
    /// ```
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<Privacy, String> {
        let read = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let flag = |name: &str, default: bool| -> Result<bool, String> {
            match read(name) {
                None => Ok(default),
                Some(v) => parse_bool(&v)
                    .ok_or_else(|| format!("{name}: invalid boolean {v:?} (expected {SPELLINGS})")),
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
        let capture_content = flag("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", true)?;
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
            hide_all: flag("OPENINFERENCE_HIDE_ALL", d.hide_all)? || !capture_content,
            base64_image_max_len: int(
                "OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH",
                d.base64_image_max_len,
            )?,
            max_value_len: int("OPENINFERENCE_MAX_VALUE_LENGTH", d.max_value_len)?,
            ..d
        })
    }
}

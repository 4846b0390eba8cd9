//! The attributes Langfuse reads where the conventions give it nothing it understands, and the
//! time to first token as OpenInference records it.
//!
//! - Time to first token: the `First Token Stream Event` span event (OpenInference) and
//!   `langfuse.observation.completion_start_time` (ISO 8601 UTC), from
//!   `gen_ai.response.time_to_first_chunk` and the span's start.
//! - Cost: `langfuse.observation.cost_details`, a JSON object keyed as Langfuse's usage details
//!   (`input`, `input_cached_tokens`, `input_cache_creation`, `output`,
//!   `output_reasoning_tokens`, `total`), so its cost view splits as its token view does.
//! - Trace metadata: a root's `metadata` object also as `langfuse.trace.metadata.<key>`, the
//!   only form whose keys Langfuse can filter on.
//! - Prompt link: `gen_ai.prompt.{name,version}` on an LLM span as
//!   `langfuse.observation.prompt.{name,version}`.

use super::genai::get;
use super::json_text::{push_str, push_value};
use crate::kind::SpanKind;
use crate::privacy::Privacy;
use opentelemetry::trace::Event;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use serde_json::Value as Json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The name OpenInference gives the time-to-first-token span event.
pub(crate) const FIRST_TOKEN_EVENT: &str = "First Token Stream Event";

/// The most `langfuse.trace.metadata.<key>` attributes one root carries.
pub(crate) const MAX_METADATA_KEYS: usize = 32;

/// Adds what Langfuse reads to `attrs` (and the first-token event to `span`).
pub(crate) fn enrich(span: &mut SpanData, attrs: &mut Vec<KeyValue>, kind: SpanKind, p: &Privacy) {
    let has = gather(attrs);
    if has.first_token {
        first_token(span, attrs);
    }
    if !has.cost_details {
        cost_details(attrs, has.cost);
    }
    if kind == SpanKind::Llm && has.prompt {
        prompt_link(attrs);
    }
    let root =
        span.parent_span_id == opentelemetry::trace::SpanId::INVALID || span.parent_span_is_remote;
    if root && has.metadata {
        trace_metadata(attrs, p);
    }
}

/// One pass over the span's attributes: which of the parts of [`enrich`] have anything to
/// read, and the costs (a lookup per key would read them all a dozen times).
fn gather(attrs: &[KeyValue]) -> Has {
    let mut has = Has::default();
    for kv in attrs {
        let key = kv.key.as_str();
        if let Some(rest) = key.strip_prefix("llm.cost.") {
            if let Some(i) = COST_KEYS.iter().position(|k| *k == rest) {
                has.cost[i] = has.cost[i].or_else(|| float(&kv.value));
            }
            continue;
        }
        match key {
            "gen_ai.response.time_to_first_chunk" => has.first_token = true,
            "langfuse.observation.cost_details" => has.cost_details = true,
            "gen_ai.prompt.name" => has.prompt = true,
            "metadata" => has.metadata = true,
            _ => {}
        }
    }
    has
}

/// What [`enrich`] found in a span's attributes.
#[derive(Default)]
struct Has {
    first_token: bool,
    cost_details: bool,
    prompt: bool,
    metadata: bool,
    /// The `llm.cost.*` values, in the order of [`COST_KEYS`].
    cost: [Option<f64>; 8],
}

/// The first-token event and `langfuse.observation.completion_start_time`.
fn first_token(span: &mut SpanData, attrs: &mut Vec<KeyValue>) {
    let Some(Value::F64(seconds)) = get(attrs, "gen_ai.response.time_to_first_chunk") else {
        return;
    };
    let Ok(after) = Duration::try_from_secs_f64(*seconds) else {
        return;
    };
    let Some(at) = span.start_time.checked_add(after) else {
        return;
    };
    if get(attrs, "langfuse.observation.completion_start_time").is_none() {
        attrs.push(KeyValue::new(
            "langfuse.observation.completion_start_time",
            iso8601(at),
        ));
    }
    let events = &mut span.events.events;
    if !events.iter().any(|e| e.name == FIRST_TOKEN_EVENT) {
        events.push(Event::new(FIRST_TOKEN_EVENT, at, Vec::new(), 0));
    }
}

/// `at` as ISO 8601 UTC with microseconds: `2026-12-03T08:20:00.123456Z`.
pub(crate) fn iso8601(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_micros()
    )
}

/// The calendar date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A numeric attribute value as a finite float.
fn float(value: &Value) -> Option<f64> {
    match value {
        Value::F64(f) if f.is_finite() => Some(*f),
        Value::I64(i) => Some(*i as f64),
        _ => None,
    }
}

/// The `llm.cost.*` keys [`cost_details`] reads, in the order of its `cost` values.
const COST_KEYS: [&str; 8] = [
    "prompt",
    "completion",
    "total",
    "prompt_details.cache_read",
    "prompt_details.cache_write",
    "completion_details.reasoning",
    "prompt_details.input",
    "completion_details.output",
];

/// `langfuse.observation.cost_details` from the `llm.cost.*` values `cost` (in the order of
/// [`COST_KEYS`]): input and output without the cache and reasoning parts, as Langfuse's usage
/// normalisation counts tokens.
fn cost_details(attrs: &mut Vec<KeyValue>, cost: [Option<f64>; 8]) {
    let [prompt, completion, total, cache_read, cache_write, reasoning, input, output] = cost;
    if prompt.is_none() && completion.is_none() && total.is_none() {
        return;
    }
    let input = input.or_else(|| {
        prompt.map(|p| (p - cache_read.unwrap_or(0.0) - cache_write.unwrap_or(0.0)).max(0.0))
    });
    let output = output.or_else(|| completion.map(|c| (c - reasoning.unwrap_or(0.0)).max(0.0)));
    let total = total.or_else(|| match (prompt, completion) {
        (None, None) => None,
        (p, c) => Some(p.unwrap_or(0.0) + c.unwrap_or(0.0)),
    });
    // Written straight out, keys sorted (as a JSON object tree would write them): a tree
    // and its `Display` cost ≈ 4,000 instructions per span here (callgrind).
    let mut details = String::with_capacity(96);
    for (key, value) in [
        ("input", input),
        ("input_cache_creation", cache_write),
        ("input_cached_tokens", cache_read),
        ("output", output),
        ("output_reasoning_tokens", reasoning),
        ("total", total),
    ] {
        let Some(n) = value.filter(|n| n.is_finite()) else {
            continue;
        };
        details.push(if details.is_empty() { '{' } else { ',' });
        push_str(&mut details, key);
        details.push(':');
        push_value(&mut details, &Value::F64(n));
    }
    details.push_str(if details.is_empty() { "{}" } else { "}" });
    attrs.push(KeyValue::new("langfuse.observation.cost_details", details));
}

/// `langfuse.observation.prompt.{name,version}` from `gen_ai.prompt.{name,version}` (the
/// version also from `llm.prompt_template.version`); Langfuse's versions are integers.
fn prompt_link(attrs: &mut Vec<KeyValue>) {
    let Some(Value::String(name)) = get(attrs, "gen_ai.prompt.name") else {
        return;
    };
    let name = name.clone();
    let version = get(attrs, "gen_ai.prompt.version")
        .or_else(|| get(attrs, "llm.prompt_template.version"))
        .map(|v| match v {
            Value::String(s) => s
                .as_str()
                .trim()
                .parse::<i64>()
                .map(Value::I64)
                .unwrap_or_else(|_| v.clone()),
            other => other.clone(),
        });
    if get(attrs, "langfuse.observation.prompt.name").is_none() {
        attrs.push(KeyValue::new("langfuse.observation.prompt.name", name));
    }
    if let Some(version) = version {
        if get(attrs, "langfuse.observation.prompt.version").is_none() {
            attrs.push(KeyValue::new(
                "langfuse.observation.prompt.version",
                version,
            ));
        }
    }
}

/// A root's `metadata` object's top-level keys as `langfuse.trace.metadata.<key>`: strings,
/// numbers and booleans as they are, anything else as JSON text (secret-named keys inside
/// redacted), at most [`MAX_METADATA_KEYS`].
fn trace_metadata(attrs: &mut Vec<KeyValue>, p: &Privacy) {
    let Some(Value::String(text)) = get(attrs, "metadata") else {
        return;
    };
    let Ok(Json::Object(map)) = serde_json::from_str::<Json>(text.as_str()) else {
        return;
    };
    let mut added = Vec::new();
    for (key, mut value) in map.into_iter().take(MAX_METADATA_KEYS) {
        let full = format!("langfuse.trace.metadata.{key}");
        if get(attrs, &full).is_some() {
            continue;
        }
        let value = match value {
            Json::String(s) => Value::from(s),
            Json::Bool(b) => Value::Bool(b),
            Json::Number(ref n) => match n.as_i64() {
                Some(i) => Value::I64(i),
                None => Value::F64(n.as_f64().unwrap_or(0.0)),
            },
            Json::Null => continue,
            _ => {
                super::secret_keys::redact(&mut value, p);
                Value::from(value.to_string())
            }
        };
        added.push(KeyValue::new(full, value));
    }
    attrs.extend(added);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_formats_utc_dates() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let at = UNIX_EPOCH + Duration::from_micros(1_709_251_199_123_456);
        // 2024-02-29 (a leap day), 23:59:59.
        assert_eq!(iso8601(at), "2024-02-29T23:59:59.123456Z");
        let at = UNIX_EPOCH + Duration::from_secs(4_102_444_800);
        assert_eq!(iso8601(at), "2100-01-01T00:00:00.000000Z");
    }

    #[test]
    fn cost_details_split_like_langfuse_usage() {
        let mut attrs = vec![
            KeyValue::new("llm.cost.prompt", 0.5),
            KeyValue::new("llm.cost.completion", 0.3),
            KeyValue::new("llm.cost.total", 0.8),
            KeyValue::new("llm.cost.prompt_details.cache_read", 0.1),
            KeyValue::new("llm.cost.completion_details.reasoning", 0.2),
        ];
        let has = gather(&attrs);
        cost_details(&mut attrs, has.cost);
        let Some(Value::String(s)) = get(&attrs, "langfuse.observation.cost_details") else {
            panic!("no cost details");
        };
        let json: Json = serde_json::from_str(s.as_str()).unwrap();
        assert_eq!(json["input"].as_f64().unwrap(), 0.4);
        assert_eq!(json["input_cached_tokens"].as_f64().unwrap(), 0.1);
        assert!((json["output"].as_f64().unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(json["output_reasoning_tokens"].as_f64().unwrap(), 0.2);
        assert_eq!(json["total"].as_f64().unwrap(), 0.8);
        assert!(json.get("input_cache_creation").is_none());
    }

    #[test]
    fn nested_metadata_keeps_no_secret() {
        let mut attrs = vec![KeyValue::new(
            "metadata",
            r#"{"tier":"pro","n":3,"ok":true,"cfg":{"api_key":"k-1","region":"eu"},"none":null}"#,
        )];
        trace_metadata(&mut attrs, &Privacy::default());
        assert_eq!(
            get(&attrs, "langfuse.trace.metadata.tier"),
            Some(&Value::from("pro"))
        );
        assert_eq!(
            get(&attrs, "langfuse.trace.metadata.n"),
            Some(&Value::I64(3))
        );
        assert_eq!(
            get(&attrs, "langfuse.trace.metadata.ok"),
            Some(&Value::Bool(true))
        );
        let Some(Value::String(cfg)) = get(&attrs, "langfuse.trace.metadata.cfg") else {
            panic!("no cfg");
        };
        assert!(!cfg.as_str().contains("k-1"), "{cfg}");
        assert!(cfg.as_str().contains("eu"));
        assert!(get(&attrs, "langfuse.trace.metadata.none").is_none());
    }
}

//! Size limits: the value length cap's marker, the estimated encoded size of a span, and
//! trimming a span or a batch to its byte budget.

use super::Privacy;
use opentelemetry::trace::Event;
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// The end of a truncated value: `…[truncated, ` + original length + ` bytes]`.
const MARKER_PREFIX: &str = "…[truncated, ";
const MARKER_SUFFIX: &str = " bytes]";
/// The longest marker (a 20-digit length).
pub(super) const MARKER_MAX: usize = MARKER_PREFIX.len() + 20 + MARKER_SUFFIX.len();
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

impl Privacy {
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
}

/// The largest char boundary of `s` at or below `i`.
pub(super) fn floor_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    let mut i = i;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

pub(super) fn push_marker(out: &mut String, original_len: usize) {
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
pub(crate) fn recut(s: &str, cap: usize) -> Option<String> {
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
pub(super) fn cap_numeric(value: &mut Value, max_bytes: usize) {
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

pub(super) fn content_size(attrs: &[KeyValue], events: &[Event], cap: usize) -> usize {
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
pub(super) fn trim_to_budget(
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

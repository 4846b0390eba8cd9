//! The steps every exported string goes through: base64 data, the length cap, the credential
//! scans, the user mask; [`Privacy::clean`], which runs them over a span's attributes and
//! events by each key's plan; and [`Privacy::fit_span`], which trims a span to its budget.

use super::json::{looks_json, scan_json};
use super::keys::starts_with_ci;
use super::limits::{
    cap_numeric, content_size, floor_boundary, push_marker, recut, trim_to_budget,
};
use super::masks::{Action, JsonScan, KeyPlan, KeyPlans};
use super::secrets::{scan_tokens, MIN_TOKEN_LEN};
use super::{Privacy, REDACTED};
use opentelemetry::trace::Event;
use opentelemetry::{Array, KeyValue, Value};
use std::borrow::Cow;

/// The long strings of one span found unchanged by [`Privacy::clean_str`], by address,
/// length and scan. A value shared between two attributes (`input.value` shares the text of
/// the last user message) is then scanned once. Addresses are compared only while the span's
/// attributes, which own the strings, are alive and unchanged.
#[derive(Debug, Default)]
pub(super) struct FoundClean(Vec<(usize, usize, JsonScan)>);

impl FoundClean {
    /// Strings shorter than this are scanned again: cheaper than looking them up.
    const MIN_LEN: usize = 256;
    /// Strings remembered per span.
    const MAX: usize = 8;
}

/// Attributes [`Privacy::clean`] treats apart, by their position in the span's attributes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Marks {
    /// A JSON object whose keys were checked for secret names before it was built.
    pub(crate) keys_checked: Option<usize>,
    /// Placeholders of values built from the cleaned attributes (`input.value`,
    /// `output.value`).
    pub(crate) built_later: [Option<usize>; 2],
}

impl Privacy {
    /// Applies the masks and limits to one span's (already flattened) attributes and its events;
    /// `plans` must have been used with this configuration only. Returns the estimated encoded
    /// size of what is left. [`Privacy::clean`] then [`Privacy::fit_span`].
    #[cfg(test)]
    pub(crate) fn apply(
        &self,
        attrs: &mut Vec<KeyValue>,
        events: &mut [Event],
        plans: &mut KeyPlans,
        keys_checked: Option<usize>,
    ) -> usize {
        let marks = Marks {
            keys_checked,
            ..Marks::default()
        };
        self.clean(attrs, events, plans, marks);
        self.fit_span(attrs, events)
    }

    /// Applies the hide flags, the base64 and length caps, the credential scans and the user
    /// mask to one span's (already flattened) attributes and its events, by each key's plan;
    /// `plans` must have been used with this configuration only.
    ///
    /// `marks` names attributes by their position in `attrs`:
    /// - `keys_checked`: a JSON object the mapper built from fields it had already checked for
    ///   secret names ([`Privacy::is_secret_field`]), the arguments' `input.value`: its text is
    ///   scanned for credentials and cut to the limits as any other, but its keys are not read
    ///   back (they would find what the check found, at about 500 instructions for a handful
    ///   of arguments).
    /// - `built_later`: a value the mapper builds from the other attributes once they are
    ///   clean (an LLM span's chat JSON), held by a placeholder here: only its key's hide flag
    ///   applies (dropped or redacted); the mapper then writes it and hands it to
    ///   [`Privacy::clean_built`]. Returned: where each one that still waits for its value is
    ///   now (`None` when its hide flag dropped or redacted it).
    pub(crate) fn clean(
        &self,
        attrs: &mut Vec<KeyValue>,
        events: &mut [Event],
        plans: &mut KeyPlans,
        marks: Marks,
    ) -> [Option<usize>; 2] {
        let mut clean = FoundClean::default();
        let mut waiting = [None; 2];
        let mut at = 0;
        let mut kept = 0;
        attrs.retain_mut(|kv| {
            let mut plan = plans.get(self, kv.key.as_str(), at);
            if marks.keys_checked == Some(at) && plan.scan == JsonScan::Secrets {
                plan.scan = JsonScan::None;
            }
            let later = marks.built_later.iter().position(|m| *m == Some(at));
            at += 1;
            let keep = match later {
                None => self.process_kv(kv, plan, false, &mut clean),
                Some(slot) => match plan.action {
                    Action::Drop => false,
                    Action::Redact => {
                        kv.value = Value::String(REDACTED.into());
                        true
                    }
                    Action::RedactPromptKeys | Action::Keep => {
                        waiting[slot] = Some(kept);
                        true
                    }
                },
            };
            kept += usize::from(keep);
            keep
        });
        for event in events.iter_mut() {
            let redact_strings = self.hide_all && event.name != "exception";
            event.attributes.retain_mut(|kv| {
                let plan = plans.get(self, kv.key.as_str(), at);
                at += 1;
                self.process_kv(kv, plan, redact_strings, &mut clean)
            });
        }
        waiting
    }

    /// A value the mapper built from attributes [`Privacy::clean`] had cleaned (see
    /// [`Marks::built_later`]): every text in it was scanned and capped in its own attribute,
    /// so it is not scanned again; it gets the length cap (a value too long for it even with
    /// its texts cut) and the user mask, which sees every exported string.
    pub(crate) fn clean_built(&self, built: String) -> String {
        let built = match self.max_value_len {
            cap if cap > 0 && built.len() > cap => {
                let mut out = built[..floor_boundary(&built, cap)].to_owned();
                push_marker(&mut out, built.len());
                out
            }
            _ => built,
        };
        match &self.mask {
            None => built,
            Some(mask) => match mask.apply(&built) {
                None => built,
                Some(new) if self.max_value_len > 0 => {
                    recut(&new, self.max_value_len).unwrap_or(new)
                }
                Some(new) => new,
            },
        }
    }

    /// Trims one span's cleaned attributes and events to [`Privacy::max_span_bytes`]; returns
    /// the estimated encoded size of what is left.
    pub(crate) fn fit_span(&self, attrs: &mut Vec<KeyValue>, events: &mut [Event]) -> usize {
        let size = content_size(attrs, events, usize::MAX);
        let budget = self.max_span_bytes;
        if budget == 0 || size <= budget {
            return size;
        }
        trim_to_budget(attrs, events, budget, 0);
        content_size(attrs, events, usize::MAX)
    }

    /// Masks, caps and scans one attribute by its key's `plan`; returns whether to keep it.
    pub(super) fn process_kv(
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

    /// Base64 data, length cap, secret scans and the user mask for one string; `None` when it is
    /// unchanged.
    pub(super) fn clean_str(&self, s: &str, scan: JsonScan) -> Option<String> {
        let cleaned = if self.leaves_short(s, scan) {
            None
        } else {
            self.clean_str_scanned(s, scan)
        };
        match &self.mask {
            None => cleaned,
            Some(mask) => {
                let masked = mask.apply(cleaned.as_deref().unwrap_or(s));
                match masked {
                    None => cleaned,
                    // The mask's text is held to the same cap (with the marker).
                    Some(new) if self.max_value_len > 0 => {
                        Some(recut(&new, self.max_value_len).unwrap_or(new))
                    }
                    Some(new) => Some(new),
                }
            }
        }
    }

    /// Whether [`Privacy::clean_str`] leaves `s` as it is without reading it: shorter than any
    /// credential [`scan_tokens`] finds, within the cap and the data-URI limit, and not JSON
    /// to scan. Most values of a span are that short (roles, model names, ids).
    #[inline]
    pub(super) fn leaves_short(&self, s: &str, scan: JsonScan) -> bool {
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
    pub(super) fn clean_str_scanned(&self, s: &str, scan: JsonScan) -> Option<String> {
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

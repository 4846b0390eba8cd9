//! The thin state the layer keeps per span, in the registry's span extensions.

use super::capture::{Capture, CaptureVisitor};
use super::fields::{CallsiteInfo, Role, TokenSlot};
pub(crate) use super::seen::Seen;
use super::synthetic::OwnedValue;
use crate::kind::SpanKind;
use crate::pipeline::identity::Identity;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;
use tracing_core::field::{Field, Visit};

/// Context values a span hands down to its descendants: `session.id`, `user.id`, `metadata`,
/// `tag.tags` and the prompt identity (in [`super::fields::ContextSlot::ALL`] order). Shared, so
/// a child costs one reference count.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Inherited(pub(crate) [Option<Arc<str>>; 9]);

/// Token counts seen on a span.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tokens {
    /// Prompt tokens, cache included.
    pub(crate) prompt: Option<u64>,
    /// Completion tokens, reasoning included.
    pub(crate) completion: Option<u64>,
    /// Total tokens.
    pub(crate) total: Option<u64>,
    /// Prompt tokens read from cache.
    pub(crate) cache_read: Option<u64>,
    /// Prompt tokens written to cache.
    pub(crate) cache_write: Option<u64>,
    /// Reasoning tokens.
    pub(crate) reasoning: Option<u64>,
    /// Counts recorded that were not used (over 10⁹, negative, not a number).
    pub(crate) invalid: super::token_check::InvalidTokens,
}

impl Tokens {
    /// Sets one count.
    pub(crate) fn set(&mut self, slot: TokenSlot, value: u64) {
        let place = match slot {
            TokenSlot::Prompt => &mut self.prompt,
            TokenSlot::Completion => &mut self.completion,
            TokenSlot::Total => &mut self.total,
            TokenSlot::CacheRead => &mut self.cache_read,
            TokenSlot::CacheWrite => &mut self.cache_write,
            TokenSlot::Reasoning => &mut self.reasoning,
        };
        *place = Some(value);
    }

    /// Whether any count was seen.
    pub(crate) fn any(&self) -> bool {
        self.prompt.is_some() || self.completion.is_some() || self.total.is_some()
    }

    /// The counts as a usage, absent ones as 0.
    pub(crate) fn usage(&self) -> crate::pricing::TokenUsage {
        crate::pricing::TokenUsage {
            prompt: self.prompt.unwrap_or(0),
            completion: self.completion.unwrap_or(0),
            cache_read: self.cache_read.unwrap_or(0),
            cache_write: self.cache_write.unwrap_or(0),
            reasoning: self.reasoning.unwrap_or(0),
        }
    }

    /// The total: as recorded, else prompt + completion (`None` if neither was recorded).
    pub(crate) fn total_or_sum(&self) -> Option<u64> {
        self.total.or_else(|| match (self.prompt, self.completion) {
            (None, None) => None,
            (p, c) => Some(p.unwrap_or(0).saturating_add(c.unwrap_or(0))),
        })
    }
}

/// An error seen on a span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ErrorInfo {
    /// `error.type` / `exception.type`.
    pub(crate) kind: String,
    /// `exception.message`.
    pub(crate) message: String,
}

/// What the layer keeps in the registry of a plain span (no field the layer reads, no context
/// to hand down, nothing to capture) whose trace is known to be sampled, for its children to
/// find; other plain spans keep nothing there (see [`super::plain`]). A state is made from it
/// if the span turns out to need one (an error or return event, a panic, a helper's record).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Started {
    /// When the span was created.
    pub(crate) at: Instant,
    /// Whether its trace is known to be sampled (an ancestor's sampled context, parent-based):
    /// then so are its children's.
    pub(crate) known_sampled: bool,
}

impl Inherited {
    /// Whether no value is handed down.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

/// Collects the unsigned integers of a span that keeps no state (re-recorded as `i64`, as
/// [`StateVisitor`] does), and counts the values it saw.
#[derive(Default)]
pub(crate) struct UnsignedVisitor(pub(crate) Vec<(Field, i64)>, pub(crate) usize);

impl Visit for UnsignedVisitor {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0
            .push((field.clone(), i64::try_from(value).unwrap_or(i64::MAX)));
        self.1 += 1;
    }
    fn record_debug(&mut self, _field: &Field, _value: &dyn fmt::Debug) {
        self.1 += 1;
    }
}

impl SpanState {
    /// The usage the price table prices for this span: its tokens, unless the caller gave a
    /// cost, no model is known, a count was invalid, or the span is an agent's (its usage is
    /// its model calls', priced on their spans).
    pub(crate) fn priced_usage(&self) -> Option<crate::pricing::TokenUsage> {
        let t = self.tokens;
        let priced = !self.cost_given
            && t.any()
            && !t.invalid.any()
            && self.model.is_some()
            && self.kind() != SpanKind::Agent;
        priced.then(|| t.usage())
    }
}

/// The span's state, made now if the layer kept none so far: it started as its [`Started`]
/// says, else at `start()` (see [`super::plain`]).
pub(crate) fn state_or_upgrade<'a>(
    ext: &'a mut tracing_subscriber::registry::ExtensionsMut<'_>,
    info: impl FnOnce() -> &'static CallsiteInfo,
    start: impl FnOnce() -> Instant,
) -> Option<&'a mut SpanState> {
    if ext.get_mut::<Box<SpanState>>().is_none() {
        let at = match ext.remove::<Started>() {
            Some(started) => started.at,
            None => start(),
        };
        // Its context to hand down was empty when it was created, which is why it kept none.
        let mut state = SpanState::new(info(), Arc::default());
        state.start = at;
        ext.insert(Box::new(state));
    }
    ext.get_mut::<Box<SpanState>>().map(|state| &mut **state)
}

/// The layer's per-span state.
#[derive(Debug)]
pub(crate) struct SpanState {
    /// The callsite's classification.
    pub(crate) info: &'static CallsiteInfo,
    /// An explicit kind (`openinference.span.kind`) or one from `gen_ai.operation.name`.
    pub(crate) explicit_kind: Option<SpanKind>,
    /// Whether the explicit kind came from `openinference.span.kind` (it beats the operation).
    pub(crate) kind_is_oi: bool,
    /// When the span was created.
    pub(crate) start: Instant,
    /// The model, if known.
    pub(crate) model: Option<Arc<str>>,
    /// The provider, if known.
    pub(crate) provider: Option<Arc<str>>,
    /// The tool name, if known.
    pub(crate) tool_name: Option<Arc<str>>,
    /// Token counts.
    pub(crate) tokens: Tokens,
    /// Whether the caller gave a cost.
    pub(crate) cost_given: bool,
    /// Context values set on this span itself.
    pub(crate) own: Inherited,
    /// Context values from the ancestors.
    pub(crate) inherited: Arc<Inherited>,
    /// Whether `output.value` was given explicitly.
    pub(crate) output_given: bool,
    /// Whether reply messages were recorded (they are the output, not the `ret` value).
    pub(crate) output_messages: bool,
    /// The `return` value from `#[instrument(ret)]`.
    pub(crate) returned: Option<String>,
    /// The first error seen.
    pub(crate) error: Option<ErrorInfo>,
    /// An `error.type` given as a field.
    pub(crate) error_type: Option<String>,
    /// Values recorded through [`crate::LlmSpanExt`], applied at close.
    pub(crate) pending: Vec<(Field, OwnedValue)>,
    /// When the first streamed chunk arrived.
    pub(crate) first_chunk: Option<Instant>,
    /// The previous chunk and the intervals between chunks, from the second chunk on.
    pub(crate) chunk_gaps: Option<Box<crate::chunk_gaps::ChunkGaps>>,
    /// Whether the span is a stream that was dropped before its end.
    pub(crate) stream_incomplete: bool,
    /// How many documents the span returned, if it recorded any.
    pub(crate) documents: Option<u64>,
    /// Whether a panic unwound through the span.
    pub(crate) panicked: bool,
    /// The OpenTelemetry span it became, once known (only while error or slow capture is on).
    pub(crate) identity: Option<Identity>,
    /// Its fields and events, kept while it may be sampled out (see [`super::capture`]).
    pub(crate) capture: Option<Box<Capture>>,
    /// Whether the bridge was not given the span's fields, which the capture holds: they
    /// are handed over if the span turns out sampled.
    pub(crate) withheld: bool,
    /// Whether its context was sampled when it was entered (while only a remote parent can
    /// make a span unsampled): then its identity is not needed.
    pub(crate) sampled_at_enter: bool,
}

impl SpanState {
    /// A fresh state for a span of the given callsite.
    pub(crate) fn new(info: &'static CallsiteInfo, inherited: Arc<Inherited>) -> SpanState {
        SpanState {
            info,
            explicit_kind: None,
            kind_is_oi: false,
            start: Instant::now(),
            model: None,
            provider: None,
            tool_name: None,
            tokens: Tokens::default(),
            cost_given: false,
            own: Inherited::default(),
            inherited,
            output_given: false,
            output_messages: false,
            returned: None,
            error: None,
            error_type: None,
            pending: Vec::new(),
            first_chunk: None,
            chunk_gaps: None,
            stream_incomplete: false,
            panicked: false,
            documents: None,
            identity: None,
            capture: None,
            withheld: false,
            sampled_at_enter: false,
        }
    }

    /// Whether the span is known to be sampled out: the bridge's span records nothing.
    pub(crate) fn sampled_out(&self) -> bool {
        self.identity.as_ref().is_some_and(|i| !i.sampled())
    }

    /// Whether values recorded now would be lost on the bridge: it has a non-recording span,
    /// or lacks the fields the capture holds (they go over together later).
    pub(crate) fn bypasses_bridge(&self) -> bool {
        self.withheld || self.sampled_out()
    }

    /// The span's kind: explicit, else by operation, else by field namespace, else CHAIN.
    pub(crate) fn kind(&self) -> SpanKind {
        self.explicit_kind
            .or(self.info.inferred)
            .unwrap_or(SpanKind::Chain)
    }

    /// The context this span's children inherit: its own values over its ancestors'.
    pub(crate) fn context_for_children(&self) -> Arc<Inherited> {
        if self.own.0.iter().all(Option::is_none) {
            return Arc::clone(&self.inherited);
        }
        let mut merged = (*self.inherited).clone();
        for (slot, own) in merged.0.iter_mut().zip(&self.own.0) {
            if own.is_some() {
                slot.clone_from(own);
            }
        }
        Arc::new(merged)
    }

    /// Whether a text value of this role is kept as shared text (see [`Self::note_shared`]).
    pub(crate) fn shares_text(role: Role) -> bool {
        matches!(
            role,
            Role::Model | Role::Provider | Role::ToolName | Role::Context(_)
        )
    }

    /// Notes a text value of a role that keeps it shared: model, provider, tool name,
    /// context values. The capture can hold the same text.
    pub(crate) fn note_shared(&mut self, role: Role, text: Arc<str>) {
        match role {
            Role::Model => self.model = Some(text),
            // An empty provider does not replace a known one.
            Role::Provider if self.provider.is_none() || !text.is_empty() => {
                self.provider = Some(text)
            }
            Role::ToolName => self.tool_name = Some(text),
            Role::Context(slot) => self.own.0[slot.position()] = Some(text),
            _ => {}
        }
    }

    /// Notes a value by its field's role. Used for declared fields and helper records alike.
    pub(crate) fn note(&mut self, role: Role, value: Seen<'_>) {
        match role {
            Role::Kind => {
                if let Some(kind) = value.as_str().and_then(|s| SpanKind::parse(&s)) {
                    self.explicit_kind = Some(kind);
                    self.kind_is_oi = true;
                }
            }
            Role::Operation => {
                if !self.kind_is_oi {
                    if let Some(kind) = value
                        .as_str()
                        .and_then(|s| SpanKind::from_gen_ai_operation(&s))
                    {
                        self.explicit_kind = Some(kind);
                    }
                }
            }
            Role::Model | Role::Provider | Role::ToolName => {
                if let Some(s) = value.as_str() {
                    self.note_shared(role, shared_text(&s));
                }
            }
            Role::Tokens(slot) => match super::token_check::token_count(&value) {
                Ok(n) => self.tokens.set(slot, n),
                Err(reason) => self.tokens.invalid.add(reason),
            },
            Role::CostGiven => self.cost_given = true,
            Role::Context(slot) => {
                let text = match value {
                    Seen::I64(v) => Some(shared_text(&v.to_string())),
                    Seen::U64(v) => Some(shared_text(&v.to_string())),
                    other => other.as_str().map(|s| shared_text(&s)),
                };
                match text {
                    Some(text) => self.note_shared(role, text),
                    None => self.own.0[slot.position()] = None,
                }
            }
            Role::Output => self.output_given = true,
            Role::OutputMessages => self.output_messages = true,
            Role::ErrorType => {
                if let Some(s) = value.as_str() {
                    self.error_type = Some(s.into_owned());
                }
            }
            Role::Documents => {
                if let Some(text) = value.as_str() {
                    self.documents = count_json_items(&text);
                }
            }
            Role::Other => {}
        }
    }
}

/// Texts this thread shared last, by a hash of their bytes: a span's model, provider and
/// context values are usually those of the span before, and sharing them saves an allocation
/// and a copy each.
const RECENT_SLOTS: usize = 16;

/// Longer texts are not kept in [`RECENT_SLOTS`].
const RECENT_MAX_LEN: usize = 64;

thread_local! {
    static RECENT: std::cell::RefCell<[Option<Arc<str>>; RECENT_SLOTS]> =
        const { std::cell::RefCell::new([const { None }; RECENT_SLOTS]) };
}

/// `text` as a shared string: the one this thread made last for the same text, if still kept.
pub(crate) fn shared_text(text: &str) -> Arc<str> {
    let b = text.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return Arc::from(text);
    };
    if b.len() > RECENT_MAX_LEN {
        return Arc::from(text);
    }
    let slot = (b.len() * 31
        + usize::from(first) * 7
        + usize::from(last)
        + usize::from(b[b.len() / 2]) * 3)
        % RECENT_SLOTS;
    let kept = crate::thread_cache::read(&RECENT, |recent| match &recent[slot] {
        Some(kept) if **kept == *text => Some(Arc::clone(kept)),
        _ => None,
    });
    kept.unwrap_or_else(|| {
        let made: Arc<str> = Arc::from(text);
        crate::thread_cache::write(&RECENT, |recent| recent[slot] = Some(Arc::clone(&made)));
        made
    })
}

/// The number of items of a JSON array, without building it.
fn count_json_items(text: &str) -> Option<u64> {
    serde_json::from_str::<Vec<serde::de::IgnoredAny>>(text)
        .ok()
        .map(|v| v.len() as u64)
}

/// Feeds a span's field values into its state, by the roles of its callsite, and collects the
/// unsigned integers (the bridge would export them as strings) to re-record as `i64`.
pub(crate) struct StateVisitor<'a> {
    /// The state to update.
    pub(crate) state: &'a mut SpanState,
    /// Unsigned integer fields seen, as `i64`.
    pub(crate) unsigned: Vec<(Field, i64)>,
    /// Whether values also go to the state's capture (when it keeps one).
    to_capture: bool,
}

impl<'a> StateVisitor<'a> {
    /// A visitor for `state` that also feeds its capture.
    pub(crate) fn new(state: &'a mut SpanState) -> Self {
        StateVisitor {
            state,
            unsigned: Vec::new(),
            to_capture: true,
        }
    }

    /// A visitor for `state` alone: the caller recorded the values into a capture already.
    pub(crate) fn without_capture(state: &'a mut SpanState) -> Self {
        StateVisitor {
            to_capture: false,
            ..StateVisitor::new(state)
        }
    }

    /// The state's capture, if values go to it.
    fn capture(&mut self) -> Option<&mut Capture> {
        if self.to_capture {
            self.state.capture.as_deref_mut()
        } else {
            None
        }
    }
}

impl StateVisitor<'_> {
    fn role(&self, field: &Field) -> Role {
        self.state
            .info
            .roles
            .get(field.index())
            .copied()
            .unwrap_or(Role::Other)
    }

    fn see(&mut self, field: &Field, value: Seen<'_>) {
        let role = self.role(field);
        if role != Role::Other {
            self.state.note(role, value);
        }
    }
}

// Each value also goes to the span's capture, when it keeps one.
impl Visit for StateVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let role = self.role(field);
        if SpanState::shares_text(role) {
            // One copy of the text for the state and the capture.
            let text = shared_text(value);
            if let Some(c) = self.capture() {
                c.record_shared(field, Arc::clone(&text));
            }
            self.state.note_shared(role, text);
            return;
        }
        if let Some(c) = self.capture() {
            CaptureVisitor(c).record_str(field, value);
        }
        if role != Role::Other {
            self.state.note(role, Seen::Str(value));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Some(c) = self.capture() {
            CaptureVisitor(c).record_i64(field, value);
        }
        self.see(field, Seen::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if let Some(c) = self.capture() {
            CaptureVisitor(c).record_u64(field, value);
        }
        if !self.state.bypasses_bridge() {
            self.unsigned
                .push((field.clone(), i64::try_from(value).unwrap_or(i64::MAX)));
        }
        self.see(field, Seen::U64(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        if let Some(c) = self.capture() {
            CaptureVisitor(c).record_f64(field, value);
        }
        self.see(field, Seen::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if let Some(c) = self.capture() {
            CaptureVisitor(c).record_bool(field, value);
        }
        self.see(field, Seen::Bool);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if let Some(c) = self.capture() {
            CaptureVisitor(c).record_debug(field, value);
        }
        self.see(field, Seen::Debug(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if let Some(c) = self.capture() {
            CaptureVisitor(c).record_error(field, value);
        }
        self.see(field, Seen::Debug(&tracing_core::field::display(value)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_short_text_is_shared_and_others_are_copied() {
        let model = shared_text("gpt-4o-mini");
        assert!(Arc::ptr_eq(&model, &shared_text("gpt-4o-mini")));
        // Another text (even one in the same slot) is never handed out for it.
        for other in ["gpt-4o-mino", "gpt-4o-mini ", "", "x"] {
            assert_eq!(&*shared_text(other), other);
        }
        let long = "l".repeat(RECENT_MAX_LEN + 1);
        assert_eq!(*shared_text(&long), *long);
        assert!(!Arc::ptr_eq(&shared_text(&long), &shared_text(&long)));
    }
}

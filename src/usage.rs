//! Usage as it happens: a callback for each finished LLM call, and running totals per session
//! and per user, so that an application can react (enforce a budget, refuse the next call).
//!
//! The observer runs on the thread that ended the call, right after the span closed, for every
//! LLM and embedding span whatever the sampling decision. With no observer and no totals
//! registered, the layer does nothing more than one `Option` check per recognized span.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use tracing_openinference::usage::{LlmCall, UsageTotals};
//! use tracing_openinference::testing::Recorder;
//!
//! let tokens = Arc::new(AtomicU64::new(0));
//! let seen = Arc::clone(&tokens);
//! let totals = UsageTotals::new(1_000);
//! let _recorder = Recorder::install_with(
//!     Recorder::builder()
//!         .with_usage_observer(move |call: &LlmCall<'_>| {
//!             seen.fetch_add(call.total_tokens, Ordering::Relaxed);
//!         })
//!         .with_usage_totals(totals.clone()),
//! );
//! tracing::info_span!("chat", llm.model_name = "gpt-4o-mini", session.id = "s-1",
//!                     llm.token_count.prompt = 12, llm.token_count.completion = 4)
//!     .in_scope(|| {});
//! assert_eq!(tokens.load(Ordering::Relaxed), 16);
//! let session = totals.session("s-1").unwrap();
//! assert_eq!((session.calls, session.tokens), (1, 16));
//! assert!(session.cost_usd > 0.0);
//! ```

use crate::kind::SpanKind;
use crate::pricing::{Cost, TokenUsage};
use opentelemetry::trace::{SpanId, TraceId};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// One finished LLM or embedding call, as a [`UsageObserver`] receives it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LlmCall<'a> {
    /// [`SpanKind::Llm`] or [`SpanKind::Embedding`].
    pub kind: SpanKind,
    /// The span's name.
    pub name: &'a str,
    /// The model, if recorded.
    pub model: Option<&'a str>,
    /// The provider, if recorded.
    pub provider: Option<&'a str>,
    /// Token counts by type (absent counts are 0).
    pub usage: TokenUsage,
    /// The total token count (recorded, else prompt + completion).
    pub total_tokens: u64,
    /// The cost in USD: recorded on the span is not read back; computed from the price table
    /// when the model is known.
    pub cost: Option<Cost>,
    /// From the span's creation to its close.
    pub duration: Duration,
    /// The error type, if the call failed.
    pub error: Option<&'a str>,
    /// `session.id`, own or inherited.
    pub session_id: Option<&'a str>,
    /// `user.id`, own or inherited.
    pub user_id: Option<&'a str>,
    /// `tag.tags` (a JSON list), own or inherited.
    pub tags: Option<&'a str>,
    /// The OpenTelemetry trace id, when the span has one.
    pub trace_id: Option<TraceId>,
    /// The OpenTelemetry span id, when the span has one.
    pub span_id: Option<SpanId>,
}

/// Receives each finished LLM call (see [the module docs](self)). Any
/// `Fn(&LlmCall<'_>) + Send + Sync` closure is one.
///
/// It runs on the application's thread, inside `tracing`'s span close: keep it short, and do
/// not block. It may emit `tracing` events (they go to the enclosing span, if any).
///
/// ```
/// use tracing_openinference::usage::{LlmCall, UsageObserver};
///
/// struct PrintCost;
/// impl UsageObserver for PrintCost {
///     fn on_call(&self, call: &LlmCall<'_>) {
///         if let Some(cost) = &call.cost {
///             println!("{} cost ${:.6}", call.name, cost.total);
///         }
///     }
/// }
/// let builder = tracing_openinference::LlmLayerBuilder::from_env().with_usage_observer(PrintCost);
/// # drop(builder);
/// ```
pub trait UsageObserver: Send + Sync + 'static {
    /// Called once per finished call.
    fn on_call(&self, call: &LlmCall<'_>);
}

impl<F> UsageObserver for F
where
    F: Fn(&LlmCall<'_>) + Send + Sync + 'static,
{
    fn on_call(&self, call: &LlmCall<'_>) {
        self(call)
    }
}

/// Running totals of one session or user.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct Totals {
    /// Calls seen.
    pub calls: u64,
    /// Calls that failed.
    pub errors: u64,
    /// Tokens (each call's total).
    pub tokens: u64,
    /// Cost in USD (of the calls that could be priced).
    pub cost_usd: f64,
}

/// Running [`Totals`] per session and per user, in bounded memory: past `capacity` keys of
/// either kind, the key updated longest ago is forgotten. Clone it freely: clones share the
/// totals. Register it with [`crate::LlmLayerBuilder::with_usage_totals`].
///
/// ```
/// use tracing_openinference::usage::UsageTotals;
///
/// let totals = UsageTotals::new(10_000);
/// assert_eq!(totals.session("nobody"), None);
/// ```
#[derive(Clone, Default)]
pub struct UsageTotals(Arc<Mutex<TotalsTable>>);

#[derive(Default)]
struct TotalsTable {
    capacity: usize,
    /// Updates so far: a key's last update, to find the oldest.
    clock: u64,
    sessions: HashMap<Arc<str>, (Totals, u64)>,
    users: HashMap<Arc<str>, (Totals, u64)>,
}

impl fmt::Debug for UsageTotals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0.lock();
        f.debug_struct("UsageTotals")
            .field("capacity", &t.capacity)
            .field("sessions", &t.sessions.len())
            .field("users", &t.users.len())
            .finish()
    }
}

impl UsageTotals {
    /// Totals for at most `capacity` sessions and `capacity` users (at least 1).
    ///
    /// ```
    /// let totals = tracing_openinference::usage::UsageTotals::new(100);
    /// # drop(totals);
    /// ```
    pub fn new(capacity: usize) -> UsageTotals {
        UsageTotals(Arc::new(Mutex::new(TotalsTable {
            capacity: capacity.max(1),
            ..TotalsTable::default()
        })))
    }

    /// The totals of session `id`, if it is remembered.
    ///
    /// ```
    /// let totals = tracing_openinference::usage::UsageTotals::new(100);
    /// assert!(totals.session("s-1").is_none());
    /// ```
    pub fn session(&self, id: &str) -> Option<Totals> {
        self.0.lock().sessions.get(id).map(|(t, _)| *t)
    }

    /// The totals of user `id`, if it is remembered.
    ///
    /// ```
    /// let totals = tracing_openinference::usage::UsageTotals::new(100);
    /// assert!(totals.user("u-1").is_none());
    /// ```
    pub fn user(&self, id: &str) -> Option<Totals> {
        self.0.lock().users.get(id).map(|(t, _)| *t)
    }

    /// Adds one call.
    fn add(&self, call: &LlmCall<'_>) {
        let mut table = self.0.lock();
        let TotalsTable {
            capacity,
            clock,
            sessions,
            users,
        } = &mut *table;
        *clock += 1;
        for (map, key) in [(sessions, call.session_id), (users, call.user_id)] {
            if let Some(key) = key {
                add_to(map, key, call, *clock, *capacity);
            }
        }
    }
}

/// Adds `call` to `key`'s totals in `map`, forgetting the oldest key if `map` is full.
fn add_to(
    map: &mut HashMap<Arc<str>, (Totals, u64)>,
    key: &str,
    call: &LlmCall<'_>,
    now: u64,
    capacity: usize,
) {
    if !map.contains_key(key) && map.len() >= capacity {
        // A linear scan, only when a new key arrives at a full table.
        if let Some(oldest) = map
            .iter()
            .min_by_key(|(_, (_, at))| *at)
            .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
    }
    let (totals, at) = map.entry(Arc::from(key)).or_default();
    totals.calls += 1;
    totals.errors += u64::from(call.error.is_some());
    totals.tokens = totals.tokens.saturating_add(call.total_tokens);
    totals.cost_usd += call.cost.as_ref().map_or(0.0, |c| c.total);
    *at = now;
}

/// What the layer calls at each finished call: the observer and the totals, either optional.
#[derive(Default, Clone)]
pub(crate) struct Observation {
    observer: Option<Arc<dyn UsageObserver>>,
    totals: Option<UsageTotals>,
}

impl fmt::Debug for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observation")
            .field("observer", &self.observer.is_some())
            .field("totals", &self.totals)
            .finish()
    }
}

impl Observation {
    /// Calls `observer` for each finished call.
    pub(crate) fn set_observer(&mut self, observer: Arc<dyn UsageObserver>) {
        self.observer = Some(observer);
    }

    /// Adds each finished call to `totals`.
    pub(crate) fn set_totals(&mut self, totals: UsageTotals) {
        self.totals = Some(totals);
    }

    /// Whether nothing is registered (then the layer builds no [`LlmCall`]).
    pub(crate) fn is_empty(&self) -> bool {
        self.observer.is_none() && self.totals.is_none()
    }

    /// Hands `call` to the observer and the totals.
    pub(crate) fn observe(&self, call: &LlmCall<'_>) {
        if let Some(totals) = &self.totals {
            totals.add(call);
        }
        if let Some(observer) = &self.observer {
            observer.on_call(call);
        }
    }
}

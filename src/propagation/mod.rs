//! One session across services: the trace context and the session, user, tags and metadata
//! carried on HTTP requests (W3C `traceparent` and `baggage`).
//!
//! On the client, [`inject_context`] writes the headers of an outgoing request from the span
//! that makes it: `traceparent` from its OpenTelemetry context, and `baggage` with the
//! `session.id`, `user.id`, `tag.tags` and `metadata` the span has (its own or inherited),
//! plus whatever baggage its trace carried in. On the server, [`extract_context`] reads them
//! back, and [`RemoteContext::attach`] makes the request's span a child of the caller's and
//! hands the session, user, tags and metadata down to every span under it, as a local
//! `session.id` field would.
//!
//! As with the OpenTelemetry SDK, both headers are on by default and `OTEL_PROPAGATORS`
//! (`tracecontext,baggage` when unset) turns them off: `tracecontext` alone carries no
//! baggage, `none` carries nothing. [`Propagation`] sets them in code instead.
//!
//! Baggage stays within the W3C limits (8192 bytes, 64 members; a member that does not fit is
//! left out whole, never cut); values are percent-encoded. Tags and metadata go only when
//! small (at most [`SMALL_MEMBER`] bytes each). Baggage is sent as it is, not through the
//! exporter's privacy settings: inject it on requests to your own services, not to a model
//! provider's API.
//!
//! ```
//! use std::collections::HashMap;
//! use tracing_openinference::propagation::{extract_context, inject_context};
//! use tracing_openinference::testing::Recorder;
//!
//! let recorder = Recorder::install();
//! // Client side: the request's headers, from the span that sends it.
//! let mut headers = HashMap::new();
//! tracing::info_span!("ask", session.id = "s-42", user.id = "u-7").in_scope(|| {
//!     inject_context(&tracing::Span::current(), &mut headers);
//! });
//! assert!(headers["baggage"].contains("session.id=s-42"));
//!
//! // Server side: the request's span continues the trace, in the same session.
//! let remote = extract_context(&headers);
//! assert_eq!(remote.session_id(), Some("s-42"));
//! let request = tracing::info_span!("POST /answer");
//! remote.attach(&request).unwrap();
//! request.in_scope(|| {
//!     tracing::info_span!("chat", llm.model_name = "gpt-4o-mini").in_scope(|| {});
//! });
//! drop(request);
//! let spans = recorder.spans();
//! let chat = spans.iter().find(|s| s.name == "chat").unwrap();
//! assert_eq!(Recorder::attribute(chat, "session.id"), Some("s-42".into()));
//! assert_eq!(Recorder::attribute(chat, "user.id"), Some("u-7".into()));
//! ```

mod baggage;

use crate::layer::fields::ContextSlot;
use crate::layer::state::SpanState;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::sync::Arc;
use tracing_opentelemetry::{OpenTelemetrySpanExt, SetParentError};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Registry;

/// The most bytes a `tag.tags` or `metadata` baggage member takes (encoded); a larger one is
/// not sent. `session.id` and `user.id` are sent up to the header's own limit.
///
/// ```
/// use std::collections::HashMap;
/// use tracing_openinference::propagation::{Propagation, SMALL_MEMBER};
/// use tracing_openinference::testing::Recorder;
///
/// let _recorder = Recorder::install();
/// let big = format!(r#"{{"notes":"{}"}}"#, "n".repeat(SMALL_MEMBER));
/// let span = tracing::info_span!("call", user.id = "u-1", metadata = big.as_str());
/// let mut headers = HashMap::new();
/// Propagation::new().inject(&span, &mut headers);
/// assert_eq!(headers["baggage"], "user.id=u-1");
/// ```
pub const SMALL_MEMBER: usize = 1024;

/// The context values carried in baggage, by baggage key, with the most bytes each member
/// may take.
const CARRIED: [(&str, ContextSlot, usize); 4] = [
    ("session.id", ContextSlot::Session, baggage::MAX_BYTES),
    ("user.id", ContextSlot::User, baggage::MAX_BYTES),
    ("tag.tags", ContextSlot::Tags, SMALL_MEMBER),
    ("metadata", ContextSlot::Metadata, SMALL_MEMBER),
];

/// Which headers are written and read: `traceparent` (W3C Trace Context) and `baggage` (W3C
/// Baggage).
///
/// ```
/// use tracing_openinference::propagation::Propagation;
///
/// assert_eq!(Propagation::new(), Propagation::parse("tracecontext,baggage"));
/// let no_baggage = Propagation::new().with_baggage(false);
/// assert_eq!(no_baggage, Propagation::parse("tracecontext"));
/// assert!(!no_baggage.baggage());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Propagation {
    trace_context: bool,
    baggage: bool,
}

impl Default for Propagation {
    fn default() -> Self {
        Propagation::new()
    }
}

impl Propagation {
    /// Both headers, the OpenTelemetry default.
    ///
    /// ```
    /// let p = tracing_openinference::propagation::Propagation::new();
    /// assert!(p.trace_context() && p.baggage());
    /// ```
    pub const fn new() -> Propagation {
        Propagation {
            trace_context: true,
            baggage: true,
        }
    }

    /// The headers `OTEL_PROPAGATORS` names (see [`Propagation::parse`]); both when it is
    /// unset or empty.
    ///
    /// ```
    /// let p = tracing_openinference::propagation::Propagation::from_env();
    /// # let _ = p;
    /// ```
    pub fn from_env() -> Propagation {
        match std::env::var("OTEL_PROPAGATORS") {
            Ok(list) if !list.trim().is_empty() => Propagation::parse(&list),
            _ => Propagation::new(),
        }
    }

    /// The headers a comma-separated `OTEL_PROPAGATORS` list names: `tracecontext` and
    /// `baggage` (any case); `none` (or a list of neither) turns both off. Other propagators
    /// (`b3`, `jaeger`, ...) are not written by this module and are passed over.
    ///
    /// ```
    /// use tracing_openinference::propagation::Propagation;
    /// let p = Propagation::parse("baggage, b3");
    /// assert!(p.baggage() && !p.trace_context());
    /// assert_eq!(Propagation::parse("none"), Propagation::new().with_trace_context(false).with_baggage(false));
    /// ```
    pub fn parse(list: &str) -> Propagation {
        let has = |name: &str| {
            list.split(',')
                .any(|item| item.trim().eq_ignore_ascii_case(name))
        };
        Propagation {
            trace_context: has("tracecontext"),
            baggage: has("baggage"),
        }
    }

    /// Turns `traceparent` on or off.
    ///
    /// ```
    /// let p = tracing_openinference::propagation::Propagation::new().with_trace_context(false);
    /// assert!(!p.trace_context());
    /// ```
    pub const fn with_trace_context(mut self, on: bool) -> Propagation {
        self.trace_context = on;
        self
    }

    /// Turns `baggage` on or off.
    ///
    /// ```
    /// let p = tracing_openinference::propagation::Propagation::new().with_baggage(false);
    /// assert!(!p.baggage());
    /// ```
    pub const fn with_baggage(mut self, on: bool) -> Propagation {
        self.baggage = on;
        self
    }

    /// Whether `traceparent` is written and read.
    ///
    /// ```
    /// assert!(tracing_openinference::propagation::Propagation::new().trace_context());
    /// ```
    pub const fn trace_context(&self) -> bool {
        self.trace_context
    }

    /// Whether `baggage` is written and read.
    ///
    /// ```
    /// assert!(tracing_openinference::propagation::Propagation::new().baggage());
    /// ```
    pub const fn baggage(&self) -> bool {
        self.baggage
    }

    /// Writes the headers of a request that `span` makes into `carrier` (see the
    /// [module](self) documentation). Reading the span's OpenTelemetry context starts it:
    /// call this from the span that sends the request, not from one whose parent is still to
    /// be set.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracing_openinference::propagation::Propagation;
    /// use tracing_openinference::testing::Recorder;
    ///
    /// let _recorder = Recorder::install();
    /// let span = tracing::info_span!("call", user.id = "u-1");
    /// let mut headers = HashMap::new();
    /// Propagation::new().with_trace_context(false).inject(&span, &mut headers);
    /// assert_eq!(headers.get("baggage").map(String::as_str), Some("user.id=u-1"));
    /// assert!(!headers.contains_key("traceparent"));
    /// ```
    pub fn inject(&self, span: &tracing::Span, carrier: &mut dyn Injector) {
        if !self.trace_context && !self.baggage {
            return;
        }
        let cx = outgoing(span.context());
        if self.trace_context {
            TraceContextPropagator::new().inject_context(&cx, carrier);
        }
        if self.baggage {
            if let Some(header) = baggage_header(span, &cx) {
                carrier.set("baggage", header);
            }
        }
    }

    /// Reads the headers of an incoming request from `carrier` (see the [module](self)
    /// documentation). Headers that are absent or malformed give an empty context: the
    /// request's span then starts a trace of its own.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracing_openinference::propagation::Propagation;
    ///
    /// let headers = HashMap::from([("baggage".to_owned(), "session.id=s%201, other=x".to_owned())]);
    /// let remote = Propagation::new().extract(&headers);
    /// assert_eq!(remote.session_id(), Some("s 1"));
    /// assert_eq!(Propagation::new().with_baggage(false).extract(&headers).session_id(), None);
    /// ```
    pub fn extract(&self, carrier: &dyn Extractor) -> RemoteContext {
        let mut context = if self.trace_context {
            TraceContextPropagator::new().extract_with_context(&Context::new(), carrier)
        } else {
            Context::new()
        };
        let mut values: [Option<Arc<str>>; 4] = Default::default();
        if self.baggage {
            let header = carrier
                .get_all("baggage")
                .map(|all| all.join(","))
                .unwrap_or_default();
            let members = baggage::parse(&header);
            for (key, value) in &members {
                let carried = CARRIED.iter().position(|(k, _, _)| k == key);
                if let Some(i) = carried.filter(|_| !value.trim().is_empty()) {
                    values[i] = Some(Arc::from(value.trim()));
                }
            }
            if !members.is_empty() {
                let kvs = members
                    .into_iter()
                    .map(|(k, v)| opentelemetry::KeyValue::new(k, v));
                context = context.with_baggage(kvs);
            }
        }
        RemoteContext { context, values }
    }
}

/// Writes the headers of a request that `span` makes, as `OTEL_PROPAGATORS` says (read once;
/// both headers when unset): `traceparent`, and `baggage` with the span's session, user, tags
/// and metadata. See the [module](self) documentation.
///
/// ```
/// use std::collections::HashMap;
/// use tracing_openinference::propagation::inject_context;
/// use tracing_openinference::testing::Recorder;
///
/// let _recorder = Recorder::install();
/// let mut headers = HashMap::new();
/// tracing::info_span!("call", session.id = "s-1").in_scope(|| {
///     inject_context(&tracing::Span::current(), &mut headers);
/// });
/// assert!(headers["traceparent"].starts_with("00-"));
/// ```
pub fn inject_context(span: &tracing::Span, carrier: &mut dyn Injector) {
    from_env().inject(span, carrier)
}

/// Reads the headers of an incoming request, as `OTEL_PROPAGATORS` says (read once; both
/// headers when unset). See the [module](self) documentation.
///
/// ```
/// use std::collections::HashMap;
/// use tracing_openinference::propagation::extract_context;
///
/// let headers = HashMap::from([("baggage".to_owned(), "user.id=u-7".to_owned())]);
/// assert_eq!(extract_context(&headers).user_id(), Some("u-7"));
/// ```
pub fn extract_context(carrier: &dyn Extractor) -> RemoteContext {
    from_env().extract(carrier)
}

/// `cx` as it may leave the process: without the note the sampler keeps on a sampled-out
/// span's trace state (its remote parent, for error capture), which is this process's own.
fn outgoing(cx: Context) -> Context {
    use opentelemetry::trace::{SpanContext, TraceContextExt as _};
    let sc = cx.span().span_context().clone();
    if sc
        .trace_state()
        .get(crate::pipeline::identity::PARENT_KEY)
        .is_none()
    {
        return cx;
    }
    let state = crate::pipeline::identity::without_note(sc.trace_state());
    let sc = SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags(),
        sc.is_remote(),
        state,
    );
    cx.with_remote_span_context(sc)
}

/// [`Propagation::from_env`], read once for the process.
fn from_env() -> Propagation {
    static FROM_ENV: std::sync::OnceLock<Propagation> = std::sync::OnceLock::new();
    *FROM_ENV.get_or_init(Propagation::from_env)
}

/// What an incoming request carried: the caller's trace context and baggage, and the session,
/// user, tags and metadata among it.
///
/// ```
/// use std::collections::HashMap;
/// use tracing_openinference::propagation::extract_context;
///
/// let remote = extract_context(&HashMap::<String, String>::new());
/// assert_eq!(remote.session_id(), None);
/// ```
#[derive(Debug, Clone)]
pub struct RemoteContext {
    context: Context,
    /// The carried values, in [`CARRIED`] order.
    values: [Option<Arc<str>>; 4],
}

impl RemoteContext {
    /// The OpenTelemetry context: the caller's span as a remote parent, and the baggage.
    ///
    /// ```
    /// use opentelemetry::trace::TraceContextExt;
    /// use std::collections::HashMap;
    /// use tracing_openinference::propagation::extract_context;
    ///
    /// let headers = HashMap::from([(
    ///     "traceparent".to_owned(),
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    /// )]);
    /// let remote = extract_context(&headers);
    /// let parent = remote.context().span().span_context().clone();
    /// assert_eq!(parent.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// assert!(parent.is_remote());
    /// ```
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The caller's `session.id`, if it sent one.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let headers = HashMap::from([("baggage".to_owned(), "session.id=s-1".to_owned())]);
    /// let remote = tracing_openinference::propagation::extract_context(&headers);
    /// assert_eq!(remote.session_id(), Some("s-1"));
    /// ```
    pub fn session_id(&self) -> Option<&str> {
        self.values[0].as_deref()
    }

    /// The caller's `user.id`, if it sent one.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let headers = HashMap::from([("baggage".to_owned(), "user.id=u-1".to_owned())]);
    /// let remote = tracing_openinference::propagation::extract_context(&headers);
    /// assert_eq!(remote.user_id(), Some("u-1"));
    /// ```
    pub fn user_id(&self) -> Option<&str> {
        self.values[1].as_deref()
    }

    /// Makes `span` (the incoming request's, not yet entered) a child of the caller's span,
    /// and gives it the session, user, tags and metadata the caller sent as if an ancestor had
    /// them: the span and every span under it record them, unless a span sets its own.
    ///
    /// Call it before the span is entered or its context read, and before spans under it
    /// are made. The carried values are set even when the parent could not be.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracing_openinference::propagation::{extract_context, AttachError};
    ///
    /// let headers = HashMap::from([("baggage".to_owned(), "session.id=s-1".to_owned())]);
    /// // With no LlmLayer installed, nothing can be attached.
    /// let span = tracing::info_span!("request");
    /// assert_eq!(extract_context(&headers).attach(&span), Err(AttachError::NoLayer));
    /// ```
    pub fn attach(&self, span: &tracing::Span) -> Result<(), AttachError> {
        let carried = self.values.iter().any(Option::is_some);
        let set = !carried
            || crate::span_ext::with_state(span, |state| hand_down(state, &self.values)).is_ok();
        match span.set_parent(self.context.clone()) {
            Ok(()) if set => Ok(()),
            Ok(()) => Err(AttachError::NoLayer),
            Err(SetParentError::AlreadyStarted) if set => Err(AttachError::AlreadyStarted),
            Err(_) => Err(AttachError::NoLayer),
        }
    }
}

/// Why [`RemoteContext::attach`] could not attach everything.
///
/// ```
/// use tracing_openinference::propagation::AttachError;
/// assert!(AttachError::AlreadyStarted.to_string().contains("started"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttachError {
    /// The span is disabled, closed, or not recorded by an [`crate::LlmLayer`] on a
    /// `tracing_subscriber::Registry`: the carried values were not set (the parent was if
    /// another `tracing-opentelemetry` layer records the span).
    NoLayer,
    /// The span was entered, or its context read, before: the carried values were set, the
    /// parent was not.
    AlreadyStarted,
}

impl std::fmt::Display for AttachError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttachError::NoLayer => f.write_str("the span is not recorded by an LlmLayer"),
            AttachError::AlreadyStarted => {
                f.write_str("the span had started: its remote parent could not be set")
            }
        }
    }
}

impl std::error::Error for AttachError {}

/// Gives `state` the carried values as inherited ones, over what its ancestors hand down (the
/// remote caller is its parent now).
fn hand_down(state: &mut SpanState, values: &[Option<Arc<str>>; 4]) {
    let mut inherited = (*state.inherited).clone();
    for ((_, slot, _), value) in CARRIED.iter().zip(values) {
        if let Some(value) = value {
            inherited.0[slot.position()] = Some(Arc::clone(value));
        }
    }
    state.inherited = Arc::new(inherited);
}

/// The `baggage` header for a request `span` makes: its carried values first (its own, else
/// inherited, else as its trace's baggage has them), then the rest of that baggage.
fn baggage_header(span: &tracing::Span, cx: &Context) -> Option<String> {
    let values = carried_values(span);
    let incoming = cx.baggage();
    let mut writer = baggage::Writer::default();
    for ((key, _, max), value) in CARRIED.iter().zip(&values) {
        let value = value
            .as_deref()
            .or_else(|| incoming.get(*key).map(|v| v.as_str()));
        if let Some(value) = value {
            writer.add(key, value, *max);
        }
    }
    for (key, (value, _)) in incoming {
        if !CARRIED.iter().any(|(k, _, _)| *k == key.as_str()) {
            writer.add(key.as_str(), value.as_str(), baggage::MAX_BYTES);
        }
    }
    writer.finish()
}

/// The span's carried values (own, else inherited), in [`CARRIED`] order, read without
/// changing anything: a span the layer keeps no state for has none.
fn carried_values(span: &tracing::Span) -> [Option<Arc<str>>; 4] {
    let mut out: [Option<Arc<str>>; 4] = Default::default();
    span.with_subscriber(|(id, dispatch)| {
        let Some(registry) = dispatch.downcast_ref::<Registry>() else {
            return;
        };
        let Some(data) = registry.span(id) else {
            return;
        };
        let ext = data.extensions();
        let Some(state) = ext.get::<Box<SpanState>>() else {
            return;
        };
        for ((_, slot, _), value) in CARRIED.iter().zip(&mut out) {
            let i = slot.position();
            *value = state.own.0[i]
                .clone()
                .or_else(|| state.inherited.0[i].clone());
        }
    });
    out
}

//! [`LlmLayer`]: the `tracing` layer that recognizes LLM spans and hands them to OpenTelemetry.
//!
//! The layer owns a `tracing-opentelemetry` layer (the *bridge*) and forwards every callback to
//! it, so `OpenTelemetrySpanExt` keeps working. Before the bridge closes a span, the layer adds
//! what it derived: the kind, inherited context, `output.value`, token totals, cost and errors.
//! Mapping to the conventions (flattening JSON, GenAI attributes, masking, limits) happens later,
//! off the calling thread, in the exporter pipeline.

pub(crate) mod capture;
pub(crate) mod coexist;
pub(crate) mod derived;
pub(crate) mod event;
pub(crate) mod fields;
pub(crate) mod held;
pub(crate) mod held_traces;
mod observe;
pub(crate) mod per_thread;
pub(crate) mod plain;
pub(crate) mod plain_table;
pub(crate) mod seen;
pub(crate) mod state;
mod stateful;
pub(crate) mod synthetic;
pub(crate) mod token_check;

use crate::handle::LlmHandle;
use crate::metrics::Metrics;
use crate::pipeline::identity::Identity;
use crate::pricing::PriceCache;
pub(crate) use derived::{derived_values, price};
use fields::classification;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::trace::Tracer as SdkTracer;
use per_thread::NewSpan;
use state::{SpanState, Started, StateVisitor, UnsignedVisitor};
use std::any::TypeId;
use std::marker::PhantomData;
use std::sync::Arc;
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Metadata, Subscriber};
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// What every span of one layer shares: prices, metrics, capture settings.
#[derive(Debug)]
pub(crate) struct Core {
    /// Model prices for cost (shared with the span processor, which prices a kept trace's
    /// spans).
    pub(crate) prices: Arc<PriceCache>,
    /// GenAI and self metrics.
    pub(crate) metrics: Metrics,
    /// Set while error or slow capture is on: sampled-out spans are kept by the layer.
    pub(crate) capture: Option<CaptureSettings>,
    /// Events more verbose than this become no span event (semantic ones excepted).
    pub(crate) event_level: tracing_core::LevelFilter,
    /// The application's usage observer and totals, if any ([`crate::usage`]).
    pub(crate) observation: crate::usage::Observation,
}

/// How the layer keeps sampled-out spans (see [`capture`]).
#[derive(Debug)]
pub(crate) struct CaptureSettings {
    /// Where sampled-out spans wait for their trace's decision.
    pub(crate) held: Arc<held_traces::HeldTraces>,
    /// Whether a span without a known sampled parent may be sampled out (a ratio under 1,
    /// or no parent-based sampling); if not, only an unsampled current context says so.
    pub(crate) roots_may_be_unsampled: bool,
    /// Whether spans follow their parent's decision.
    pub(crate) parent_based: bool,
}

impl CaptureSettings {
    /// Whether a new span may end up sampled out, given its parent's identity if known.
    fn may_be_unsampled(&self, parent: Option<&Identity>) -> bool {
        match parent {
            Some(p) if self.parent_based => !p.sampled(),
            _ => {
                self.roots_may_be_unsampled
                    || opentelemetry::Context::map_current(|cx| {
                        let span = cx.span();
                        let sc = span.span_context();
                        sc.is_valid() && !sc.is_sampled()
                    })
            }
        }
    }
}

/// A `tracing` layer that exports LLM, tool, retriever, embedding, reranker and agent spans as
/// OpenTelemetry spans with OpenInference and GenAI attributes, and records GenAI metrics.
///
/// ```
/// use tracing_openinference::LlmLayer;
/// use tracing_subscriber::prelude::*;
///
/// let layer = LlmLayer::builder().with_console_exporter(false).build();
/// let handle = layer.handle();
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || {
///     let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini", llm.token_count.prompt = 12);
///     span.in_scope(|| {});
/// });
/// handle.shutdown(std::time::Duration::from_secs(5)).unwrap();
/// ```
pub struct LlmLayer<S> {
    bridge: OpenTelemetryLayer<S, SdkTracer>,
    /// Whether another `tracing-opentelemetry` layer shares the subscriber (see [`coexist`]).
    coexist: coexist::Coexistence,
    core: Arc<Core>,
    handle: LlmHandle,
    _subscriber: PhantomData<fn(S)>,
}

impl<S> std::fmt::Debug for LlmLayer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmLayer")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl<S> LlmLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    pub(crate) fn from_parts(tracer: SdkTracer, core: Arc<Core>, handle: LlmHandle) -> Self {
        let bridge = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_level(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_error_events_to_exceptions(true)
            .with_error_events_to_status(true)
            .with_error_fields_to_exceptions(true);
        LlmLayer {
            bridge,
            coexist: coexist::Coexistence::default(),
            core,
            handle,
            _subscriber: PhantomData,
        }
    }
}

impl<S> LlmLayer<S> {
    /// A handle to flush and shut the pipeline down; clone it freely.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tracing_openinference::LlmLayer;
    ///
    /// let layer: LlmLayer<tracing_subscriber::Registry> = LlmLayer::builder().with_console_exporter(false).build();
    /// let handle = layer.handle();
    /// handle.force_flush(Duration::from_secs(1)).unwrap();
    /// ```
    pub fn handle(&self) -> LlmHandle {
        self.handle.clone()
    }
}

impl<S> LlmLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// Hands a record to the bridge, its unsigned integers as `i64` (see
    /// [`LlmLayer::rerecord_unsigned`]). A record of unsigned integers only (token counts,
    /// usually) goes to the bridge once, as `i64`: it would turn each into a formatted string
    /// first. (Not `otel.*` fields, whose text the bridge reads as a name, kind or status.)
    /// `meta` is looked up if needed and not given.
    fn forward_record(
        &self,
        id: &Id,
        values: &Record<'_>,
        unsigned: &[(tracing_core::field::Field, i64)],
        meta: Option<&'static Metadata<'static>>,
        ctx: &Context<'_, S>,
    ) {
        let only_unsigned = unsigned.len() == values.len()
            && unsigned.iter().all(|(f, _)| !f.name().starts_with("otel."));
        if !only_unsigned {
            self.bridge.on_record(id, values, ctx.clone());
        }
        if unsigned.is_empty() {
            return;
        }
        if let Some(meta) = meta.or_else(|| ctx.metadata(id)) {
            self.rerecord_unsigned(id, meta, unsigned, ctx);
        }
    }

    /// The bridge exports unsigned integers as strings; hand them over again as `i64`, through
    /// the span's own fields, so token counts and other integers stay integers. Up to eight
    /// values go in one record.
    fn rerecord_unsigned(
        &self,
        id: &Id,
        meta: &'static Metadata<'static>,
        unsigned: &[(tracing_core::field::Field, i64)],
        ctx: &Context<'_, S>,
    ) {
        const BATCH: usize = 8;
        for chunk in unsigned.chunks(BATCH) {
            let Some((first, _)) = chunk.first() else {
                continue;
            };
            // Unused slots repeat the first field with no value, which `record` skips.
            let mut values: [(
                &tracing_core::field::Field,
                Option<&dyn tracing_core::field::Value>,
            ); BATCH] = [(first, None); BATCH];
            for (slot, (field, value)) in values.iter_mut().zip(chunk) {
                *slot = (field, Some(value as &dyn tracing_core::field::Value));
            }
            let set = meta.fields().value_set(&values);
            self.bridge.on_record(id, &Record::new(&set), ctx.clone());
        }
    }
}

impl<S> LlmLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// Notes which OpenTelemetry span `span` became, once; a sampled span keeps no capture.
    /// A plain span is given a state first if `upgrade` (its context may be sampled out), unless
    /// its trace is known to be sampled. Returns the capture whose fields the bridge still
    /// lacks (to replay, with no lock held).
    fn learn_identity(
        &self,
        id: &Id,
        span: &tracing_subscriber::registry::SpanRef<'_, S>,
        sc: &opentelemetry::trace::SpanContext,
        upgrade: bool,
    ) -> Option<Box<capture::Capture>> {
        let stateless = {
            let ext = span.extensions();
            match ext.get::<Box<SpanState>>() {
                Some(state) if state.identity.is_some() => return None,
                Some(_) => false,
                None if !upgrade || ext.get::<Started>().is_some_and(|s| s.known_sampled) => {
                    return None
                }
                None => true,
            }
        };
        if stateless {
            // A remote parent attached after it was created may have sampled it out: it needs
            // a state, to be kept if its trace is.
            let mut ext = span.extensions_mut();
            let _ = state::state_or_upgrade(
                &mut ext,
                || classification(span.metadata()),
                || plain::start_of(id),
            );
        }
        let identity = Identity::of(sc, || stateful::local_parent(span.parent()))?;
        let mut ext = span.extensions_mut();
        let state = ext.get_mut::<Box<SpanState>>()?;
        let sampled = identity.sampled();
        state.identity = Some(identity);
        if !sampled {
            return None;
        }
        let capture = state.capture.take();
        std::mem::take(&mut state.withheld)
            .then_some(capture)
            .flatten()
    }

    /// The identity of a span never entered, asked of the bridge at close (no lock held),
    /// with the span's context.
    fn identity_at_close(
        &self,
        id: &Id,
        ctx: &Context<'_, S>,
    ) -> Option<(Identity, opentelemetry::Context)> {
        let cx =
            tracing::dispatcher::get_default(|d| tracing_opentelemetry::get_otel_context(id, d))?;
        let sc = cx.span().span_context().clone();
        let parent = || stateful::local_parent(ctx.span(id)?.parent());
        Identity::of(&sc, parent).map(|identity| (identity, cx.clone()))
    }
}

/// The parent of the new span `id` as this layer sees it (the nearest ancestor its filter
/// lets through), found from `attrs` and the current span: a root needs no lookup.
fn parent_of<'a, S>(
    attrs: &Attributes<'_>,
    id: &Id,
    ctx: &'a Context<'_, S>,
) -> Option<tracing_subscriber::registry::SpanRef<'a, S>>
where
    S: Subscriber + for<'l> LookupSpan<'l>,
{
    // As the registry chose the parent.
    let parent = if attrs.is_root() {
        None
    } else if attrs.is_contextual() {
        ctx.current_span().id().cloned()
    } else {
        attrs.parent().cloned()
    }?;
    // A parent this layer's filter does not let through: the registry finds the nearest that
    // it does.
    ctx.span(&parent)
        .or_else(|| ctx.span(id).and_then(|span| span.parent()))
}

impl<S> Layer<S> for LlmLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &tracing_core::Dispatch) {
        self.coexist.check(dispatch);
    }

    fn register_callsite(&self, meta: &'static Metadata<'static>) -> tracing_core::Interest {
        if meta.is_span() {
            classification(meta);
        }
        tracing_core::Interest::always()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !self.coexist.active() {
            return;
        }
        let meta = attrs.metadata();
        let settings = self.core.capture.as_ref();
        let may_be_unsampled =
            |parent: Option<&Identity>| settings.is_some_and(|c| c.may_be_unsampled(parent));
        let parent_based = settings.is_some_and(|c| c.parent_based);
        // From the parent: the context to hand down (none: empty), whether this span may end
        // up sampled out, and whether its trace is known to be sampled.
        let (inherited, capture, known_sampled) = match parent_of(attrs, id, &ctx) {
            Some(p) => {
                let ext = p.extensions();
                if let Some(parent) = ext.get::<Box<SpanState>>() {
                    let context = parent.context_for_children();
                    let sampled = parent.identity.as_ref().is_some_and(Identity::sampled);
                    (
                        (!context.is_empty()).then_some(context),
                        may_be_unsampled(parent.identity.as_ref()),
                        sampled && parent_based,
                    )
                } else if let Some(started) = ext.get::<Started>().filter(|s| s.known_sampled) {
                    (None, false, started.known_sampled)
                } else {
                    (None, may_be_unsampled(None), false)
                }
            }
            None => (None, may_be_unsampled(None), false),
        };
        let stateless = !capture && inherited.is_none();
        let info = match per_thread::new_span(meta, id, stateless, !known_sampled) {
            NewSpan::Classified(info) => info,
            NewSpan::Plain {
                at,
                noted,
                may_have_unsigned,
                info,
            } => {
                // Nothing to read, hand down or capture: nothing in the registry, only this
                // thread's note of when it started (see `plain`); but a span whose trace is known
                // to be sampled says so to its children.
                if !noted {
                    if let Some(span) = ctx.span(id) {
                        span.extensions_mut().insert(Started { at, known_sampled });
                    }
                }
                if !may_have_unsigned {
                    self.bridge.on_new_span(attrs, id, ctx);
                    return;
                }
                self.new_plain_span_searched(attrs, id, ctx, info);
                return;
            }
        };
        self.new_span_with_state(attrs, id, ctx, info, inherited, capture);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if !self.coexist.active() {
            return;
        }
        if plain::is_plain(id) {
            // No state to update: only unsigned integers to hand over as integers.
            let mut unsigned = UnsignedVisitor::default();
            values.record(&mut unsigned);
            self.forward_record(id, values, &unsigned.0, None, &ctx);
            return;
        }
        let Some(span) = ctx.span(id) else {
            self.bridge.on_record(id, values, ctx);
            return;
        };
        // A span that keeps a capture gets `Debug` and error values formatted with no lock held
        // (formatting runs the caller's code, which may emit events of its own), then added
        // under the lock. Plain values go straight in.
        let recorded = (capture::formats_caller_values(values)
            && span
                .extensions()
                .get::<Box<SpanState>>()
                .is_some_and(|s| s.capture.is_some()))
        .then(|| {
            let mut scratch = capture::Capture::scratch(values.len());
            values.record(&mut capture::CaptureVisitor(&mut scratch));
            scratch
        });
        let (forward, unsigned) = {
            let mut ext = span.extensions_mut();
            match ext.get_mut::<Box<SpanState>>() {
                Some(state) => {
                    let forward = !state.bypasses_bridge();
                    let mut visitor = match recorded {
                        Some(recorded) => {
                            if let Some(capture) = state.capture.as_deref_mut() {
                                capture.merge(recorded);
                            }
                            StateVisitor::without_capture(state)
                        }
                        None => StateVisitor::new(state),
                    };
                    values.record(&mut visitor);
                    (forward, visitor.unsigned)
                }
                None => {
                    let mut unsigned = UnsignedVisitor::default();
                    values.record(&mut unsigned);
                    (true, unsigned.0)
                }
            }
        };
        if forward {
            self.forward_record(id, values, &unsigned, Some(span.metadata()), &ctx);
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        if !self.coexist.active() {
            return;
        }
        self.bridge.on_follows_from(id, follows, ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !self.coexist.active() {
            return;
        }
        // A level comparison first: a dependency's DEBUG/TRACE chatter ends here, on the
        // calling thread, unless it means something to the span (see `event::is_semantic`).
        let meta = event.metadata();
        if *meta.level() > self.core.event_level && !event::is_semantic(meta) {
            return;
        }
        if self.event_to_state(event, &ctx) {
            self.bridge.on_event(event, ctx);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if !self.coexist.active() {
            return;
        }
        self.bridge.on_enter(id, ctx.clone());
        let Some(settings) = &self.core.capture else {
            return;
        };
        let sampled_context = !settings.roots_may_be_unsampled
            && opentelemetry::Context::map_current(|cx| cx.span().span_context().is_sampled());
        if sampled_context && plain::is_plain(id) {
            // No state to mark, nothing withheld.
            return;
        }
        self.enter_with_state(id, &ctx, sampled_context);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if !self.coexist.active() {
            return;
        }
        if std::thread::panicking() {
            self.exit_panicking(id, &ctx);
        }
        self.bridge.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if !self.coexist.active() {
            return;
        }
        let known = plain::closed(&id);
        if known == plain::AtClose::Plain {
            // Nothing of it to look up.
            self.bridge.on_close(id, ctx);
            return;
        }
        self.close_with_state(id, ctx, known);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        if !self.coexist.active() {
            return;
        }
        self.bridge.on_id_change(old, new, ctx);
    }

    // Forwarding the downcast is what lets `tracing_opentelemetry::OpenTelemetrySpanExt`
    // (`set_parent`, `context()`) reach the bridge inside this layer.
    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        if id == TypeId::of::<Installed>() {
            return Some(&INSTALLED as *const Installed as *const ());
        }
        if !self.coexist.active() {
            // Another bridge answers `OpenTelemetrySpanExt`: this one holds none of the spans.
            return None;
        }
        // SAFETY: the bridge lives as long as `self`; the pointer it returns for `id` points
        // into it, exactly as when the bridge is used as a layer on its own.
        unsafe { self.bridge.downcast_raw(id) }
    }
}

/// What a dispatch answers, when asked for it, if an [`LlmLayer`] is in it (whatever its
/// subscriber type): [`crate::LlmSpanExt`] asks.
#[derive(Debug)]
pub(crate) struct Installed;

static INSTALLED: Installed = Installed;

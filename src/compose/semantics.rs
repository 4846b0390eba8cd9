//! [`LlmSemantics`]: the LLM semantics of [`LlmLayer`](crate::LlmLayer) (recognition,
//! inheritance, derived values, GenAI metrics) for the spans of a service's own
//! `tracing-opentelemetry` layer.
//!
//! It keeps the same per-span state as [`LlmLayer`](crate::LlmLayer), made by the same parts,
//! and records what it derives onto the service's bridge through the dispatch, as fields of a
//! record (the only way to reach a bridge's span from another layer). Which of its callbacks
//! reaches the bridge's span depends on where the bridge is: a bridge before this layer already
//! has the span when it is created and has ended it when this layer sees it close; a bridge
//! after this layer is the other way round. The inherited context is recorded at both moments
//! (exactly one lands), the values derived at close at close.

use crate::layer::derived::push_inherited;
use crate::layer::event::{is_return_event, EventFields};
use crate::layer::fields::classification;
use crate::layer::state::{state_or_upgrade, SpanState, StateVisitor};
use crate::layer::synthetic::{self, OwnedValue};
use crate::layer::Core;
use crate::metrics::Metrics;
use crate::pricing::{PriceCache, PriceTable};
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::InstrumentationScope;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tracing_core::dispatcher::WeakDispatch;
use tracing_core::field::Field;
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A `tracing` layer that gives the spans of a service's own `tracing-opentelemetry` layer
/// the LLM semantics of [`LlmLayer`](crate::LlmLayer): `session.id`, `user.id`, `metadata`,
/// `tag.tags` (and, on LLM spans, the prompt template) inherited from ancestor spans, the
/// derived values (kind, token total, cost, `output.value` from `#[instrument(ret)]`, errors,
/// time to first chunk), and the GenAI metrics of every recognized span, sampled or not.
///
/// It exports nothing itself: the service's provider does, with
/// [`OpenInferenceExporter`](super::OpenInferenceExporter) in front of its exporters for the
/// mapping, privacy and limits. Put it before the service's layer
/// (`registry().with(LlmSemantics::new()).with(bridge)`) for every value; after it, the
/// inherited context and the metrics still apply, and the exporter derives the kind, total
/// and cost.
///
/// ```
/// use opentelemetry::trace::TracerProvider as _;
/// use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
/// use tracing_openinference::compose::{LlmSemantics, OpenInferenceExporter};
/// use tracing_subscriber::prelude::*;
///
/// let spans = InMemorySpanExporter::default();
/// let provider = SdkTracerProvider::builder()
///     .with_simple_exporter(OpenInferenceExporter::new(spans.clone()))
///     .build();
/// let metrics = InMemoryMetricExporter::default();
/// let meters = SdkMeterProvider::builder()
///     .with_reader(PeriodicReader::builder(metrics.clone()).build())
///     .build();
/// let subscriber = tracing_subscriber::registry()
///     .with(LlmSemantics::new().with_meter_provider(&meters))
///     .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("svc")));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("GET /chat", session.id = "s-1").in_scope(|| {
///         tracing::info_span!("chat", llm.model_name = "gpt-4o-mini", llm.token_count.prompt = 12)
///             .in_scope(|| {});
///     });
/// });
/// let chat = spans.get_finished_spans().unwrap().into_iter().find(|s| s.name == "chat").unwrap();
/// assert!(chat.attributes.iter().any(|kv| kv.key.as_str() == "session.id"));
/// meters.force_flush().unwrap();
/// assert!(!metrics.get_finished_metrics().unwrap().is_empty());
/// ```
#[derive(Debug)]
pub struct LlmSemantics {
    core: Core,
    /// Where the metrics go.
    meter: Meter,
    /// The dispatch this layer is part of, once registered: where the service's bridge is.
    dispatch: OnceLock<WeakDispatch>,
}

impl Default for LlmSemantics {
    fn default() -> Self {
        LlmSemantics::new()
    }
}

impl LlmSemantics {
    /// The semantics with the built-in prices, recording metrics into the global meter
    /// provider (`opentelemetry::global::set_meter_provider`, set before this call; a no-op
    /// until one is set).
    ///
    /// ```
    /// let semantics = tracing_openinference::compose::LlmSemantics::new();
    /// # drop(semantics);
    /// ```
    pub fn new() -> Self {
        LlmSemantics::build(Arc::new(PriceCache::new(PriceTable::builtin())), None)
    }

    /// Records the GenAI metrics (and the crate's `openinference.llm.*`, `.tool.*` and
    /// `.retrieval.*` metrics) into `provider`.
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use tracing_openinference::compose::LlmSemantics;
    ///
    /// let meters = SdkMeterProvider::builder().build();
    /// let semantics = LlmSemantics::new().with_meter_provider(&meters);
    /// # drop(semantics);
    /// ```
    pub fn with_meter_provider<P: MeterProvider + ?Sized>(self, provider: &P) -> Self {
        let meter = provider.meter_with_scope(scope());
        LlmSemantics::build(self.core.prices, Some(meter))
    }

    /// The prices that cost is computed from, on spans and in metrics (USD per million
    /// tokens).
    ///
    /// ```
    /// use tracing_openinference::compose::LlmSemantics;
    /// use tracing_openinference::pricing::{ModelPrice, PriceTable};
    ///
    /// let prices = PriceTable::builtin().with_price("my-model", ModelPrice::new(0.5, 1.5));
    /// let semantics = LlmSemantics::new().with_price_table(prices);
    /// # drop(semantics);
    /// ```
    pub fn with_price_table(self, prices: PriceTable) -> Self {
        LlmSemantics::build(Arc::new(PriceCache::new(prices)), Some(self.meter))
    }

    /// The semantics with `prices`, recording metrics with `meter` (`None`: the global meter
    /// provider's).
    fn build(prices: Arc<PriceCache>, meter: Option<Meter>) -> Self {
        let meter = meter
            .unwrap_or_else(|| opentelemetry::global::meter_provider().meter_with_scope(scope()));
        let core = Core {
            metrics: Metrics::unbatched(&meter, Arc::clone(&prices)),
            prices,
            capture: None,
            event_level: crate::layer::event::DEFAULT_EVENT_LEVEL,
            observation: Default::default(),
        };
        LlmSemantics {
            core,
            meter,
            dispatch: OnceLock::new(),
        }
    }
}

/// The instrumentation scope of the metrics.
fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("tracing-openinference")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

impl LlmSemantics {
    /// Hands `values` to every layer of this layer's dispatch as records of span `id`: the
    /// service's bridge turns them into attributes. No extensions lock is held here. (The
    /// dispatch is the one this layer was registered with: inside `new_span`, the current
    /// default dispatch is not reachable.)
    fn record_on_bridge(&self, id: &Id, values: &[(Field, OwnedValue)]) {
        if values.is_empty() {
            return;
        }
        if let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) {
            synthetic::record_all(values, |record| dispatch.record(id, record));
        }
    }
}

impl<S> Layer<S> for LlmSemantics
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let info = classification(attrs.metadata());
        let Some(span) = ctx.span(id) else { return };
        let inherited = span
            .parent()
            .and_then(|p| {
                p.extensions()
                    .get::<Box<SpanState>>()
                    .map(|s| s.context_for_children())
            })
            .filter(|context| !context.is_empty());
        if info.plain && inherited.is_none() {
            // Nothing to read and nothing to hand down.
            return;
        }
        let mut state = Box::new(SpanState::new(info, inherited.unwrap_or_default()));
        attrs.record(&mut StateVisitor::new(&mut state));
        let mut handed_down = Vec::new();
        push_inherited(&state, state.kind(), &mut handed_down);
        span.extensions_mut().insert(state);
        // A bridge before this layer has the span now; one after it gets them at close.
        self.record_on_bridge(id, &handed_down);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if synthetic::is_own_record(values) {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(state) = ext.get_mut::<Box<SpanState>>() {
            values.record(&mut StateVisitor::new(state));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let is_return = is_return_event(meta);
        if !is_return && *meta.level() != Level::ERROR {
            return;
        }
        let span = event.parent().and_then(|id| ctx.span(id)).or_else(|| {
            event
                .is_contextual()
                .then(|| ctx.lookup_current())
                .flatten()
        });
        let Some(span) = span else { return };
        // Formatted with no lock held: their `Debug` may emit events of its own.
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let mut ext = span.extensions_mut();
        let info = || classification(span.metadata());
        let Some(state) = state_or_upgrade(&mut ext, info, Instant::now) else {
            return;
        };
        if is_return {
            state.returned = fields.returned;
        } else if state.error.is_none() {
            state.error = Some(fields.into_error(meta.name()));
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if !std::thread::panicking() {
            return;
        }
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            let info = || classification(span.metadata());
            if let Some(state) = state_or_upgrade(&mut ext, info, Instant::now) {
                state.panicked = true;
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(mut state) = ctx
            .span(&id)
            .and_then(|span| span.extensions_mut().remove::<Box<SpanState>>())
        else {
            return;
        };
        let ended = Instant::now();
        if std::thread::panicking() {
            state.panicked = true;
        }
        let finished = self.core.finish(&mut state);
        self.record_on_bridge(&id, &finished.values);
        self.core
            .metrics
            .record_span(&state, finished.kind, ended, finished.priced);
    }
}

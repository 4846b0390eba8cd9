//! Living next to another `tracing-opentelemetry` layer in the same subscriber.
//!
//! Every `tracing-opentelemetry` layer keeps its span in the same registry extension, and
//! tracing-subscriber panics when a second one is inserted for a span. So before the first
//! span, when the subscriber becomes a dispatch, [`LlmLayer`](super::LlmLayer) asks whether
//! another bridge is present, and if it is, stands aside: it forwards nothing to its own bridge
//! and exports nothing, and says so once on stderr. The service's own layer then exports every
//! span as it did before; [`crate::compose::OpenInferenceExporter`] in front of its exporters
//! gives those spans the OpenInference and GenAI attributes.
//!
//! The question is asked with one probe span created through the dispatch while this layer
//! ignores it: if any layer gave it OpenTelemetry data, another bridge is there. The probe's
//! parent is a remote, unsampled span context, so a parent-based sampler (the SDK's default)
//! drops it and nothing reaches the other layer's exporter.

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use std::sync::atomic::{AtomicU8, Ordering};
use tracing_core::callsite::{Callsite, DefaultCallsite};
use tracing_core::field::FieldSet;
use tracing_core::span::Attributes;
use tracing_core::{Dispatch, Kind, Level, Metadata};

/// The layer works as usual.
const ACTIVE: u8 = 0;
/// The probe span is being created and closed: the layer ignores every callback.
const PROBING: u8 = 1;
/// Another bridge was found: the layer ignores every callback from now on.
const STANDING_ASIDE: u8 = 2;

/// Whether the layer drives its own bridge, or stands aside for another one.
#[derive(Debug, Default)]
pub(crate) struct Coexistence(AtomicU8);

impl Coexistence {
    /// Whether callbacks go to this layer's own bridge (one relaxed load per callback).
    #[inline]
    pub(crate) fn active(&self) -> bool {
        self.0.load(Ordering::Relaxed) == ACTIVE
    }

    /// Looks for another `tracing-opentelemetry` layer in `dispatch` (see the module docs);
    /// stands aside if there is one. Runs once per layer, when its subscriber becomes a dispatch.
    pub(crate) fn check(&self, dispatch: &Dispatch) {
        if self
            .0
            .compare_exchange(ACTIVE, PROBING, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let found = another_bridge(dispatch);
        self.0.store(
            if found { STANDING_ASIDE } else { ACTIVE },
            Ordering::Relaxed,
        );
        if found {
            crate::error::warn_once(
                "this subscriber already has a tracing-opentelemetry layer; LlmLayer stands \
                 aside and exports nothing (two bridges cannot share a span). Keep your own \
                 layer and provider and put `tracing_openinference::compose::OpenInferenceExporter` \
                 in front of its exporters, or remove the other layer and let LlmLayer export.",
            );
        }
    }
}

static PROBE_CALLSITE: DefaultCallsite = DefaultCallsite::new(&PROBE_META);
static PROBE_META: Metadata<'static> = Metadata::new(
    "tracing_openinference.bridge_probe",
    "tracing_openinference::bridge_probe",
    Level::TRACE,
    None,
    None,
    None,
    FieldSet::new(&[], tracing_core::identify_callsite!(&PROBE_CALLSITE)),
    Kind::SPAN,
);

/// Whether a layer other than the caller (which ignores the probe) gives a new span
/// OpenTelemetry data in `dispatch`.
fn another_bridge(dispatch: &Dispatch) -> bool {
    let _ = PROBE_CALLSITE.metadata();
    let unsampled = SpanContext::new(
        TraceId::from_bytes([0x5a; 16]),
        SpanId::from_bytes([0x5a; 8]),
        TraceFlags::default(),
        true,
        TraceState::default(),
    );
    let _cx = opentelemetry::Context::current()
        .with_remote_span_context(unsampled)
        .attach();
    let values = PROBE_META.fields().value_set(&[]);
    let id = dispatch.new_span(&Attributes::new(&PROBE_META, &values));
    let found = tracing_opentelemetry::get_otel_context(&id, dispatch).is_some();
    dispatch.try_close(id);
    found
}

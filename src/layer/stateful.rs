//! The parts of [`LlmLayer`]'s callbacks for spans that keep a state (LLM and other
//! recognized spans, spans of a sampled-out context): kept out of line, in a file of their own,
//! so that the plain span's path stays short.

use super::*;

/// The parts of the callbacks a plain span never runs, kept out of line so that the plain
/// path stays short in the instruction cache (a span's path through the bridge already
/// overflows it: every line the layer adds there is fetched again for each span).
impl<S> LlmLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// A new plain span whose values may hold unsigned integers: found and handed to the
    /// bridge as integers.
    #[inline(never)]
    pub(super) fn new_plain_span_searched(
        &self,
        attrs: &Attributes<'_>,
        id: &Id,
        ctx: Context<'_, S>,
        info: &'static fields::CallsiteInfo,
    ) {
        let meta = attrs.metadata();
        let mut unsigned = UnsignedVisitor::default();
        attrs.record(&mut unsigned);
        info.searched(unsigned.1, !unsigned.0.is_empty());
        self.bridge.on_new_span(attrs, id, ctx.clone());
        self.rerecord_unsigned(id, meta, &unsigned.0, &ctx);
    }

    /// A new span that gets a state: its fields read, its context inherited, its capture.
    #[inline(never)]
    pub(super) fn new_span_with_state(
        &self,
        attrs: &Attributes<'_>,
        id: &Id,
        ctx: Context<'_, S>,
        info: &'static fields::CallsiteInfo,
        inherited: Option<Arc<state::Inherited>>,
        capture: bool,
    ) {
        let meta = attrs.metadata();
        let Some(span) = ctx.span(id) else {
            self.bridge.on_new_span(attrs, id, ctx);
            return;
        };
        let inherited = inherited.unwrap_or_default();
        // Boxed, so that the state moves as a pointer into the registry, out at close and
        // into the held-trace buffer (it is some 600 bytes).
        let mut state = Box::new(SpanState::new(info, inherited));
        if capture {
            state.capture = Some(capture::Capture::new(attrs.fields().len()));
            // The capture holds the fields; the bridge gets them only if the span turns out
            // sampled. Not for `otel.kind`, which only the bridge's span builder can set.
            state.withheld = !state.info.sets_otel_kind;
        }
        let mut visitor = StateVisitor::new(&mut state);
        attrs.record(&mut visitor);
        let unsigned = visitor.unsigned;
        let withheld = state.withheld;
        span.extensions_mut().insert(state);
        if withheld {
            let none: [(
                &tracing_core::field::Field,
                Option<&dyn tracing_core::field::Value>,
            ); 0] = [];
            let values = meta.fields().value_set(&none);
            let bare = match attrs.parent() {
                Some(parent) => Attributes::child_of(parent.clone(), meta, &values),
                None if attrs.is_root() => Attributes::new_root(meta, &values),
                None => Attributes::new(meta, &values),
            };
            self.bridge.on_new_span(&bare, id, ctx.clone());
        } else {
            self.bridge.on_new_span(attrs, id, ctx.clone());
            self.rerecord_unsigned(id, meta, &unsigned, &ctx);
        }
    }

    /// A span left by a panic unwinding through it: its state (made if it had none) says so.
    #[cold]
    #[inline(never)]
    pub(super) fn exit_panicking(&self, id: &Id, ctx: &Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            let info = || classification(span.metadata());
            if let Some(state) = state::state_or_upgrade(&mut ext, info, || plain::start_of(id)) {
                state.panicked = true;
            }
        }
    }

    /// Enter, for a span that may have a state.
    #[inline(never)]
    pub(super) fn enter_with_state(&self, id: &Id, ctx: &Context<'_, S>, sampled_context: bool) {
        let Some(span) = ctx.span(id) else { return };
        if sampled_context {
            // Every root is sampled and so are their children, unless a remote parent says
            // otherwise: a span entered in a sampled context needs no identity. One that
            // withheld its fields (its parent looked unsampled) hands them over below.
            let mut ext = span.extensions_mut();
            match ext.get_mut::<Box<SpanState>>() {
                Some(state) if state.withheld => {}
                Some(state) => {
                    state.sampled_at_enter = true;
                    return;
                }
                None => return,
            }
        }
        // The bridge has made the span's context current: learn which span it became.
        let sc = opentelemetry::Context::map_current(|cx| cx.span().span_context().clone());
        if let Some(withheld) = self.learn_identity(id, &span, &sc, !sampled_context) {
            opentelemetry::Context::map_current(|cx| withheld.replay(&cx.span()));
        }
    }

    /// Close, for a span the thread's plain-span table did not know as plain.
    #[inline(never)]
    pub(super) fn close_with_state(&self, id: Id, ctx: Context<'_, S>, known: plain::AtClose) {
        let Some((state, name)) = ctx.span(&id).map(|span| {
            let mut ext = span.extensions_mut();
            let state = ext.remove::<Box<SpanState>>();
            if state.is_none()
                && known == plain::AtClose::Unknown
                && ext.get_mut::<Started>().is_none()
            {
                // A plain span another thread's table may still name.
                plain::closed_unseen();
            }
            (state, span.metadata().name())
        }) else {
            self.bridge.on_close(id, ctx);
            return;
        };
        if let Some(mut state) = state {
            let ended = std::time::Instant::now();
            if std::thread::panicking() {
                state.panicked = true;
            }
            if self.core.capture.is_some() && state.identity.is_none() && !state.sampled_at_enter {
                if let Some((identity, cx)) = self.identity_at_close(&id, &ctx) {
                    if identity.sampled() && std::mem::take(&mut state.withheld) {
                        if let Some(capture) = state.capture.take() {
                            capture.replay(&cx.span());
                        }
                    }
                    state.identity = Some(identity);
                }
            }
            match (&self.core.capture, state.identity.take()) {
                (Some(settings), Some(identity)) if !identity.sampled() => {
                    let mut capture = state
                        .capture
                        .take()
                        .unwrap_or_else(|| capture::Capture::since(state.start));
                    let kind = state.kind();
                    if self.core.observes(kind) {
                        self.core.observe(&id, &state, name, ended, Some(&identity));
                    }
                    let held =
                        if state.error.is_none() && !state.panicked && state.pending.is_empty() {
                            // Nothing derived can fail the trace: the values, the cost among
                            // them, are derived only if it is kept (most sampled-out traces end
                            // clean and are freed).
                            let priced = state.priced_usage();
                            self.core.metrics.record_span(&state, kind, ended, priced);
                            let lasted = ended.saturating_duration_since(state.start);
                            held::HeldSpan::deferred(capture, identity, name, state, lasted)
                        } else {
                            let priced = state.priced_usage();
                            let cost = price(&self.core.prices, &state, priced.as_ref());
                            for (field, value) in derived_values(&mut state, cost) {
                                capture.record_owned(&field, value);
                            }
                            self.core.metrics.record_span(&state, kind, ended, priced);
                            let lasted = ended.saturating_duration_since(state.start);
                            held::HeldSpan::new(capture, identity, name, lasted)
                        };
                    settings.held.hold(held);
                }
                _ => {
                    let finished = self.core.finish(&mut state);
                    // No extensions lock is held here: the bridge takes its own.
                    synthetic::record_all(&finished.values, |record| {
                        self.bridge.on_record(&id, record, ctx.clone())
                    });
                    self.core
                        .metrics
                        .record_span(&state, finished.kind, ended, finished.priced);
                    if self.core.observes(finished.kind) {
                        self.core.observe(&id, &state, name, ended, None);
                    }
                }
            }
        }
        self.bridge.on_close(id, ctx);
    }
}

/// The OpenTelemetry trace and span of `parent`, a span's parent `tracing` span: the identity
/// the layer learned, else asked of the bridge (no lock is held here).
pub(super) fn local_parent<S>(
    parent: Option<tracing_subscriber::registry::SpanRef<'_, S>>,
) -> Option<(opentelemetry::trace::TraceId, opentelemetry::trace::SpanId)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let parent = parent?;
    let learned = parent.extensions().get::<Box<SpanState>>().and_then(|s| {
        let sc = &s.identity.as_ref()?.context;
        Some((sc.trace_id(), sc.span_id()))
    });
    learned.or_else(|| {
        let id = parent.id();
        let cx =
            tracing::dispatcher::get_default(|d| tracing_opentelemetry::get_otel_context(&id, d))?;
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid().then(|| (sc.trace_id(), sc.span_id()))
    })
}

//! [`LlmSampler`]: parent-based trace-id ratio sampling that records what it does not sample.
//!
//! The decision is the OpenTelemetry one: a span with a parent follows the parent's sampled
//! flag (local or remote); a root span is sampled when its trace id falls under the ratio,
//! by the SDK's own `TraceIdRatioBased` algorithm, so services that share a ratio agree.
//!
//! An unsampled span is `Drop`: the SDK records nothing for it, as with the plain bridge.
//! While error or slow capture is on, the layer keeps such a span's fields itself, and
//! [`super::traces::TraceBuffer`] decides at the end of its local root whether the whole
//! trace is exported after all. For that the sampler hands on a sampled-out span's remote
//! parent in the span's trace state ([`super::identity::note_remote_parent`]); a local parent
//! the layer knows. The flag propagated downstream stays off: other services see the ratio's
//! decision, not the later rescue.

use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};

/// The sampler the layer installs in its tracer provider.
#[derive(Debug, Clone)]
pub(crate) struct LlmSampler {
    /// The ratio for root spans (`0.0..=1.0`), applied by the SDK's algorithm.
    ratio: Sampler,
    /// Whether spans with a parent follow the parent's sampled flag.
    parent_based: bool,
    /// Whether each sampled-out span's remote parent is noted for the layer (error or slow
    /// capture is on).
    note_parents: bool,
}

impl LlmSampler {
    /// A sampler with root ratio `ratio`, parent-based or not; each sampled-out span's parent is
    /// noted for the layer when `note_parents`.
    pub(crate) fn new(ratio: f64, parent_based: bool, note_parents: bool) -> Self {
        LlmSampler {
            ratio: Sampler::TraceIdRatioBased(ratio.clamp(0.0, 1.0)),
            parent_based,
            note_parents,
        }
    }

    /// Whether the ratio samples `trace_id`.
    fn ratio_samples(&self, trace_id: TraceId) -> bool {
        if matches!(self.ratio, Sampler::TraceIdRatioBased(r) if r >= 1.0) {
            return true;
        }
        let result = self
            .ratio
            .should_sample(None, trace_id, "", &SpanKind::Internal, &[], &[]);
        result.decision == SamplingDecision::RecordAndSample
    }
}

impl ShouldSample for LlmSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let mut trace_state = TraceState::NONE;
        let mut parent_sampled = None;
        let mut remote_parent = None;
        if let Some(cx) = parent_context.filter(|cx| cx.has_active_span()) {
            let span = cx.span();
            let sc = span.span_context();
            if sc.is_valid() {
                // A parent's noted parent is not the child's.
                trace_state = super::identity::without_note(sc.trace_state());
                parent_sampled = Some(sc.is_sampled());
                remote_parent = sc.is_remote().then(|| sc.span_id());
            }
        }
        let sampled = match parent_sampled {
            Some(flag) if self.parent_based => flag,
            _ => self.ratio_samples(trace_id),
        };
        // Only a sampled-out span's parent is ever looked up (its trace may be kept later);
        // the layer knows a local one.
        if let Some(parent) = remote_parent.filter(|_| self.note_parents && !sampled) {
            trace_state = super::identity::note_remote_parent(&trace_state, parent);
        }
        let decision = if sampled {
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::Drop
        };
        SamplingResult {
            decision,
            attributes: Vec::new(),
            trace_state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags};

    fn decide(s: &LlmSampler, parent: Option<&Context>, id: u128) -> SamplingDecision {
        s.should_sample(
            parent,
            TraceId::from(id),
            "x",
            &SpanKind::Internal,
            &[],
            &[],
        )
        .decision
    }

    fn remote(sampled: bool) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(9u64),
            flags,
            true,
            TraceState::default(),
        ))
    }

    #[test]
    fn agrees_with_the_sdk_ratio_sampler() {
        let ours = LlmSampler::new(0.3, true, false);
        let sdk = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.3)));
        let mut x: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834;
        for _ in 0..5_000 {
            x = x
                .wrapping_mul(0x2545_f491_4f6c_dd1d)
                .wrapping_add(1442695040888963407);
            let theirs = sdk
                .should_sample(None, TraceId::from(x), "x", &SpanKind::Internal, &[], &[])
                .decision;
            assert_eq!(decide(&ours, None, x), theirs);
        }
    }

    #[test]
    fn unsampled_is_dropped_even_while_capturing() {
        let capture = LlmSampler::new(0.0, true, true);
        assert_eq!(decide(&capture, None, 1), SamplingDecision::Drop);
        let plain = LlmSampler::new(0.0, true, false);
        assert_eq!(decide(&plain, None, 1), SamplingDecision::Drop);
    }

    #[test]
    fn remote_parent_flag_wins_over_the_ratio() {
        let never = LlmSampler::new(0.0, true, true);
        assert_eq!(
            decide(&never, Some(&remote(true)), 1),
            SamplingDecision::RecordAndSample
        );
        let always = LlmSampler::new(1.0, true, true);
        assert_eq!(
            decide(&always, Some(&remote(false)), 1),
            SamplingDecision::Drop
        );
        let not_parent_based = LlmSampler::new(1.0, false, true);
        assert_eq!(
            decide(&not_parent_based, Some(&remote(false)), 1),
            SamplingDecision::RecordAndSample
        );
    }
}

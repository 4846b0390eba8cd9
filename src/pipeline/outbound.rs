//! [`Outbound`]: the batches waiting for a collector, oldest first, bounded in bytes.
//!
//! Every batch for a collector (an exporter whose refusals are retried) goes through it:
//! the export thread appends the batch it just formed and sends the oldest waiting one in
//! the background, one request at a time, while it goes on draining the calling threads'
//! queue. A refused batch stays first in line; the next attempt waits for a short backoff
//! (250 ms doubling to [`MAX_BACKOFF`], with jitter), or the collector's longer `Retry-After`
//! (up to [`MAX_RETRY_AFTER`]), and that attempt is the probe: once it succeeds the rest follow at
//! once. Past the byte bound the *oldest* waiting batch is dropped (counted as
//! `retry_full`), so a long outage costs the oldest spans, never the fresh ones.

use opentelemetry_sdk::trace::SpanData;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The longest wait between attempts while batches wait: export resumes within about this
/// long (plus jitter) after a collector comes back.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_millis(900);
/// The first wait after a failure.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest `Retry-After` honoured.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// A batch waiting for exporter `exporter`.
#[derive(Debug)]
pub(crate) struct Waiting {
    pub(crate) exporter: usize,
    pub(crate) spans: Vec<SpanData>,
    pub(crate) bytes: usize,
    /// An earlier attempt timed out or broke after sending: the collector may hold it.
    pub(crate) maybe_delivered: bool,
}

/// What the worker needs to know of the batch being posted in the background.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InFlight {
    pub(crate) exporter: usize,
    pub(crate) spans: u64,
    pub(crate) bytes: usize,
    pub(crate) maybe_delivered: bool,
}

impl Waiting {
    pub(crate) fn in_flight(&self) -> InFlight {
        InFlight {
            exporter: self.exporter,
            spans: self.spans.len() as u64,
            bytes: self.bytes,
            maybe_delivered: self.maybe_delivered,
        }
    }
}

/// The batches waiting for collectors, and when the next attempt may be made.
#[derive(Debug)]
pub(crate) struct Outbound {
    batches: VecDeque<Waiting>,
    bytes: usize,
    /// Most bytes waiting (the batch in flight included).
    bound: usize,
    /// No attempt before this (after a failure).
    not_before: Option<Instant>,
    backoff: Duration,
    seed: u64,
    /// The batch being posted in the background.
    pub(crate) in_flight: Option<InFlight>,
}

impl Outbound {
    /// An empty line bounded to `bound` bytes.
    pub(crate) fn new(bound: usize) -> Self {
        Outbound {
            batches: VecDeque::new(),
            bytes: 0,
            bound,
            not_before: None,
            backoff: Duration::ZERO,
            seed: 0x9E37_79B9_7F4A_7C15,
            in_flight: None,
        }
    }

    /// Appends a fresh batch; returns the oldest batches dropped to stay under the bound.
    pub(crate) fn push(&mut self, batch: Waiting) -> Vec<Waiting> {
        self.bytes += batch.bytes;
        self.batches.push_back(batch);
        self.trim()
    }

    /// Puts a refused batch back first in line; returns what the bound drops (oldest first).
    pub(crate) fn push_front(&mut self, batch: Waiting) -> Vec<Waiting> {
        self.bytes += batch.bytes;
        self.batches.push_front(batch);
        self.trim()
    }

    fn trim(&mut self) -> Vec<Waiting> {
        let in_flight = self.in_flight.map_or(0, |f| f.bytes);
        let mut dropped = Vec::new();
        while self.bytes + in_flight > self.bound && self.batches.len() > 1 {
            if let Some(old) = self.batches.pop_front() {
                self.bytes -= old.bytes;
                dropped.push(old);
            }
        }
        dropped
    }

    /// The oldest batch, if an attempt may be made now (or `force`).
    pub(crate) fn next(&mut self, force: bool) -> Option<Waiting> {
        if !force && self.not_before.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        let batch = self.batches.pop_front()?;
        self.bytes -= batch.bytes;
        Some(batch)
    }

    /// Whether batches wait.
    pub(crate) fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Takes every waiting batch.
    pub(crate) fn take_all(&mut self) -> Vec<Waiting> {
        self.bytes = 0;
        self.batches.drain(..).collect()
    }

    /// Spans waiting.
    pub(crate) fn spans(&self) -> usize {
        self.batches.iter().map(|b| b.spans.len()).sum()
    }

    /// When the next attempt is due, if batches wait and none is in flight.
    pub(crate) fn due_at(&self) -> Option<Instant> {
        if self.batches.is_empty() || self.in_flight.is_some() {
            return None;
        }
        Some(self.not_before.unwrap_or_else(Instant::now))
    }

    /// An attempt succeeded: the next goes at once.
    pub(crate) fn succeeded(&mut self) {
        self.not_before = None;
        self.backoff = Duration::ZERO;
    }

    /// An attempt failed: the next waits for the backoff, or longer when the collector's
    /// `Retry-After` asks (up to [`MAX_RETRY_AFTER`]; a shorter one, `0` included, does not
    /// shorten the backoff).
    pub(crate) fn failed(&mut self, retry_after: Option<Duration>) {
        self.backoff = if self.backoff.is_zero() {
            FIRST_BACKOFF
        } else {
            (self.backoff * 2).min(MAX_BACKOFF)
        };
        // xorshift jitter: up to a tenth of the backoff, so that many processes that lost
        // the same collector do not come back in step.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let tenth = self.backoff.as_millis() as u64 / 10 + 1;
        let backoff = self.backoff + Duration::from_millis(self.seed % tenth);
        let wait = match retry_after {
            Some(asked) => asked.min(MAX_RETRY_AFTER).max(backoff),
            None => backoff,
        };
        self.not_before = Some(Instant::now() + wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(bytes: usize) -> Waiting {
        Waiting {
            exporter: 0,
            spans: Vec::new(),
            bytes,
            maybe_delivered: false,
        }
    }

    #[test]
    fn the_oldest_batches_go_first_past_the_bound() {
        let mut out = Outbound::new(100);
        assert!(out.push(batch(40)).is_empty());
        assert!(out.push(batch(40)).is_empty());
        let dropped = out.push(batch(41));
        assert_eq!(dropped.iter().map(|b| b.bytes).collect::<Vec<_>>(), [40]);
        assert_eq!(out.next(false).map(|b| b.bytes), Some(40));
        assert_eq!(out.next(false).map(|b| b.bytes), Some(41));
    }

    #[test]
    fn backoff_is_capped_and_retry_after_is_honoured_up_to_its_bound() {
        let mut out = Outbound::new(100);
        for _ in 0..10 {
            out.failed(None);
        }
        let wait = out.not_before.unwrap() - Instant::now();
        assert!(wait <= MAX_BACKOFF + MAX_BACKOFF / 10 + Duration::from_millis(1));
        out.push(batch(1));
        assert!(out.next(false).is_none(), "an attempt waits for its time");
        assert!(out.next(true).is_some(), "a flush does not wait");
        out.failed(Some(Duration::from_secs(3600)));
        let wait = out.not_before.unwrap() - Instant::now();
        assert!(wait <= MAX_RETRY_AFTER && wait > MAX_RETRY_AFTER - Duration::from_secs(1));
    }
}

//! Plain spans, which the layer keeps nothing for in the registry.
//!
//! Most spans of a service are plain: no field the layer reads, no context to hand down,
//! nothing to capture. Writing even a marker into such a span's registry entry costs more than
//! everything else the layer does for it (an extension is a lock, a map insert and, with data,
//! an allocation), so the layer writes nothing: the thread that created the span remembers its
//! id and start in a small table. The table answers, without a registry lookup, what later
//! callbacks ask: at enter, record and close, "is this a span with no state?"; when the span needs a
//! state after all (an error or return event, a helper's record, a sampled-out context found
//! at enter), "when did it start?".
//!
//! The table never answers wrongly, it may only not know:
//! - a span created on another thread, or pushed out by [`super::plain_table::SLOTS`] newer spans still open on
//!   this thread, is looked up in the registry as usual, and if it needs a state, that state
//!   starts when it was made (the only precision lost: see [`upgraded`]);
//! - a span that gains a state, or a plain span that closes, on a thread whose table does not
//!   know it raises a process-wide count, and a table entry older than the latest raise is not
//!   trusted. So a trusted entry names a span that is still open and still has no state: its
//!   id cannot have been given to another span since (an entry left behind by a span that
//!   closed on another thread would be, once the registry reuses its slot).
//!
//! (Spans of a trace known to be sampled keep a [`super::state::Started`] extension instead:
//! their children must find that out from the registry.)

use super::per_thread;
#[cfg(test)]
use super::plain_table::{Entry, SLOTS};
use super::plain_table::{Table, UNSEEN};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tracing_core::span::Id;

/// Runs `f` on this thread's table; `None` while the thread is being torn down or the table
/// is in use (a callback run from inside another).
fn with_table<R>(f: impl FnOnce(&mut Table) -> R) -> Option<R> {
    per_thread::with(|thread| f(&mut thread.plain))
}

#[cfg(test)]
fn opened_counting(id: &Id, at: Instant, upgrades: &AtomicU64) -> bool {
    with_table(|table| table.push(Entry::counting(id, at, upgrades))).is_some()
}

/// Whether this thread knows `id` as a span with no state.
pub(crate) fn is_plain(id: &Id) -> bool {
    is_plain_counting(id, &UNSEEN)
}

fn is_plain_counting(id: &Id, upgrades: &AtomicU64) -> bool {
    let id = id.into_u64();
    with_table(|table| {
        table
            .position(id)
            .and_then(|i| table.at(i))
            .is_some_and(|e| e.trusted(upgrades))
    })
    .unwrap_or(false)
}

/// What this thread's table knew of a span at its close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtClose {
    /// A span with no state: nothing needs looking up.
    Plain,
    /// A span the table knew but no longer trusts: look it up.
    Forgotten,
    /// A span the table did not know: look it up, and if it turns out plain, call
    /// [`closed_unseen`] (another thread's table may still name it).
    Unknown,
}

/// At the close of `id`: what this thread's table knew of it. It forgets it either way.
pub(crate) fn closed(id: &Id) -> AtClose {
    closed_counting(id, &UNSEEN)
}

fn closed_counting(id: &Id, unseen: &AtomicU64) -> AtClose {
    let id = id.into_u64();
    with_table(|table| {
        let i = table.position(id)?;
        let trusted = table.at(i)?.trusted(unseen);
        table.forget(i);
        Some(if trusted {
            AtClose::Plain
        } else {
            AtClose::Forgotten
        })
    })
    .flatten()
    .unwrap_or(AtClose::Unknown)
}

/// A plain span closed that this thread's table did not know (made on another thread, or
/// pushed out of this one's): no table entry made before now is trusted any longer.
pub(crate) fn closed_unseen() {
    UNSEEN.fetch_add(1, Ordering::AcqRel);
}

/// The span `id` gains a state: when it started, if this thread's table knows (it then
/// forgets it). If not, another thread's table may name it, and no table entry made before
/// now is trusted any longer.
pub(crate) fn upgraded(id: &Id) -> Option<Instant> {
    upgraded_counting(id, &UNSEEN)
}

fn upgraded_counting(id: &Id, upgrades: &AtomicU64) -> Option<Instant> {
    let key = id.into_u64();
    let at = with_table(|table| {
        let i = table.position(key)?;
        let at = table.at(i)?.at;
        table.forget(i);
        // Trusted or not: an entry that is not names this span unless the registry reused a
        // stale entry's id, which takes a slot's generation wrapping; a start time is all that
        // could be wrong then.
        Some(at)
    })
    .flatten();
    if at.is_none() {
        upgrades.fetch_add(1, Ordering::AcqRel);
    }
    at
}

/// When the span `id`, which gains a state now, started: as this thread noted, or now.
pub(crate) fn start_of(id: &Id) -> Instant {
    upgraded(id).unwrap_or_else(Instant::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each test counts unseen changes on its own (the process-wide count moves with other
    // tests' spans).
    fn id(n: u64) -> Id {
        Id::from_u64(n)
    }

    /// Whether this thread's table has an entry for `id`, trusted or not.
    fn knows(id: &Id) -> bool {
        let id = id.into_u64();
        with_table(|table| table.position(id).is_some()).unwrap_or(false)
    }

    #[test]
    fn spans_are_known_until_closed_in_any_order() {
        let c = AtomicU64::new(0);
        let t = Instant::now();
        assert!(opened_counting(&id(1), t, &c));
        assert!(opened_counting(&id(2), t, &c));
        assert!(opened_counting(&id(3), t, &c));
        assert!(is_plain_counting(&id(2), &c));
        assert_eq!(
            closed_counting(&id(2), &c),
            AtClose::Plain,
            "closed out of order"
        );
        assert!(!is_plain_counting(&id(2), &c));
        assert_eq!(
            closed_counting(&id(2), &c),
            AtClose::Unknown,
            "already forgotten"
        );
        assert_eq!(closed_counting(&id(3), &c), AtClose::Plain);
        assert_eq!(closed_counting(&id(1), &c), AtClose::Plain);
        assert_eq!(with_table(|t| t.len), Some(0), "nothing left behind");
    }

    #[test]
    fn the_oldest_open_span_is_forgotten_past_the_slots() {
        let c = AtomicU64::new(0);
        let t = Instant::now();
        for n in 1..=SLOTS as u64 + 1 {
            opened_counting(&id(100 + n), t, &c);
        }
        assert!(!knows(&id(101)), "pushed out");
        assert!(knows(&id(102)));
        assert!(is_plain_counting(&id(100 + SLOTS as u64 + 1), &c));
        for n in 2..=SLOTS as u64 + 1 {
            assert_eq!(closed_counting(&id(100 + n), &c), AtClose::Plain);
        }
        assert_eq!(with_table(|t| t.len), Some(0));
    }

    #[test]
    fn an_upgrade_here_returns_the_start_and_one_elsewhere_distrusts_older_entries() {
        let c = AtomicU64::new(0);
        let t = Instant::now();
        opened_counting(&id(201), t, &c);
        opened_counting(&id(202), t, &c);
        assert_eq!(upgraded_counting(&id(202), &c), Some(t));
        assert!(!knows(&id(202)));
        assert!(
            is_plain_counting(&id(201), &c),
            "an upgrade this thread saw changes no other entry"
        );
        // A span this thread does not know gains a state (it may be in another table).
        assert_eq!(upgraded_counting(&id(999), &c), None);
        assert!(knows(&id(201)));
        assert!(!is_plain_counting(&id(201), &c), "no longer trusted");
        assert_eq!(
            closed_counting(&id(201), &c),
            AtClose::Forgotten,
            "looked up at close"
        );
        assert!(!knows(&id(201)));
        opened_counting(&id(203), t, &c);
        assert!(is_plain_counting(&id(203), &c), "newer entries are trusted");
        assert_eq!(closed_counting(&id(203), &c), AtClose::Plain);
    }

    #[test]
    fn a_busy_table_answers_that_it_does_not_know() {
        let c = AtomicU64::new(0);
        let t = Instant::now();
        opened_counting(&id(301), t, &c);
        per_thread::with(|_| {
            assert!(!is_plain_counting(&id(301), &c));
            assert_eq!(closed_counting(&id(301), &c), AtClose::Unknown);
            assert!(!opened_counting(&id(302), t, &c));
        });
        assert_eq!(closed_counting(&id(301), &c), AtClose::Plain);
    }
}

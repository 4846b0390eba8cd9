//! What the layer keeps per thread, in one thread-local: the thread's open plain spans
//! ([`super::plain`]) and its recent callsite classifications. A new span is classified and,
//! if plain, remembered in one access: each thread-local access is a check that the thread
//! is not being torn down and a borrow flag, and a plain span's path is short enough that
//! they showed.

use super::fields::{classification, recent_slot, CallsiteInfo, RecentCallsites};
use super::plain_table::{Entry, Table};
use std::cell::RefCell;
use std::time::Instant;
use tracing_core::span::Id;
use tracing_core::Metadata;

/// The layer's per-thread data.
pub(crate) struct PerThread {
    /// Open plain spans.
    pub(crate) plain: Table,
    /// Recent callsite classifications (a classification depends on the callsite alone, so
    /// they serve every layer).
    callsites: RecentCallsites,
    /// Plain spans whose values were not searched for unsigned integers (see
    /// [`CallsiteInfo::may_have_unsigned`]).
    unsigned_skips: u32,
}

thread_local! {
    static PER_THREAD: RefCell<PerThread> = const {
        RefCell::new(PerThread {
            plain: Table::EMPTY,
            callsites: [const { None }; super::fields::RECENT_CALLSITES],
            unsigned_skips: 0,
        })
    };
}

/// Runs `f` on this thread's data; `None` while the thread is being torn down or the data is
/// in use (a callback run from inside another).
#[inline(always)]
pub(crate) fn with<R>(f: impl FnOnce(&mut PerThread) -> R) -> Option<R> {
    crate::thread_cache::write(&PER_THREAD, f)
}

/// What a new span is, by its callsite and what its parent hands down.
pub(crate) enum NewSpan {
    /// A plain span that needs no state.
    Plain {
        /// When it started.
        at: Instant,
        /// Whether this thread's table remembers it.
        noted: bool,
        /// Whether its values must be searched for unsigned integers.
        may_have_unsigned: bool,
        /// Its callsite's classification (told what a search found).
        info: &'static CallsiteInfo,
    },
    /// A span that needs a state: its callsite's classification.
    Classified(&'static CallsiteInfo),
}

/// Classifies the new span `id` of the callsite of `meta`. It is plain if its callsite is and
/// it is `stateless` (nothing handed down, nothing to capture); a plain span is remembered in
/// this thread's table if `note`.
pub(crate) fn new_span(
    meta: &'static Metadata<'static>,
    id: &Id,
    stateless: bool,
    note: bool,
) -> NewSpan {
    let (slot, key) = recent_slot(meta);
    let found = with(|thread| {
        let info = match thread.callsites[slot] {
            Some((at, info)) if at == key => info,
            _ => {
                let info = not_at_hand(meta);
                thread.callsites[slot] = Some((key, info));
                info
            }
        };
        classify(
            &mut thread.plain,
            &mut thread.unsigned_skips,
            info,
            id,
            stateless,
            note,
        )
    });
    found.unwrap_or_else(|| out_of_reach(not_at_hand(meta), stateless))
}

/// The classification of a callsite this thread has not seen lately.
#[cold]
#[inline(never)]
fn not_at_hand(meta: &'static Metadata<'static>) -> &'static CallsiteInfo {
    classification(meta)
}

/// A new span while the thread's data is out of reach (torn down, or in use): a plain span
/// is not remembered, and its values are searched.
#[cold]
#[inline(never)]
fn out_of_reach(info: &'static CallsiteInfo, stateless: bool) -> NewSpan {
    if stateless && info.plain {
        NewSpan::Plain {
            at: Instant::now(),
            noted: false,
            may_have_unsigned: true,
            info,
        }
    } else {
        NewSpan::Classified(info)
    }
}

/// Classifies a new span of a callsite classified as `info`, with this thread's table and
/// count of unsearched spans.
#[inline(always)]
fn classify(
    plain: &mut Table,
    unsigned_skips: &mut u32,
    info: &'static CallsiteInfo,
    id: &Id,
    stateless: bool,
    note: bool,
) -> NewSpan {
    if !(stateless && info.plain) {
        return NewSpan::Classified(info);
    }
    let may_have_unsigned = info.may_have_unsigned(unsigned_skips);
    let at = Instant::now();
    if note {
        plain.push(Entry::new(id, at));
    }
    NewSpan::Plain {
        at,
        noted: note,
        may_have_unsigned,
        info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::plain::{closed, AtClose};

    /// The metadata of the span `make` makes (under a subscriber that enables it).
    fn meta_of(make: impl Fn() -> tracing::Span) -> &'static Metadata<'static> {
        tracing::subscriber::with_default(tracing_subscriber::registry(), make)
            .metadata()
            .expect("a callsite's metadata")
    }

    #[test]
    fn a_plain_span_is_remembered_and_others_are_classified() {
        let plain = meta_of(|| tracing::info_span!("plain", attempt = 1));
        let llm = meta_of(|| tracing::info_span!("llm", llm.model_name = "m"));
        let id = Id::from_u64(424_201);
        match new_span(plain, &id, true, true) {
            NewSpan::Plain { noted, .. } => assert!(noted),
            NewSpan::Classified(_) => panic!("a plain callsite with nothing handed down"),
        }
        // (Trusted or not, depending on other tests' spans: either way the table knew it.)
        assert_ne!(closed(&id), AtClose::Unknown, "remembered by this thread");
        let not_noted = Id::from_u64(424_202);
        match new_span(plain, &not_noted, true, false) {
            NewSpan::Plain { noted, .. } => assert!(!noted),
            NewSpan::Classified(_) => panic!("still plain"),
        }
        assert_eq!(closed(&not_noted), AtClose::Unknown, "not remembered");
        assert!(matches!(
            new_span(plain, &Id::from_u64(424_203), false, true),
            NewSpan::Classified(info) if info.plain
        ));
        assert!(matches!(
            new_span(llm, &Id::from_u64(424_204), true, true),
            NewSpan::Classified(info) if !info.plain
        ));
        // While the thread's data is in use (a callback inside another), a plain span is not
        // remembered and its values are searched.
        let inner = with(|_| new_span(plain, &Id::from_u64(424_205), true, true));
        match inner {
            Some(NewSpan::Plain {
                noted,
                may_have_unsigned,
                ..
            }) => assert!(!noted && may_have_unsigned),
            _ => panic!("plain, out of reach"),
        }
    }
}

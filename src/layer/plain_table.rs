//! The table of open plain spans each thread keeps (see [`super::plain`]): ids and start
//! times, with the process-wide count of changes a table could not see.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tracing_core::span::Id;

/// Open plain spans a thread remembers.
pub(crate) const SLOTS: usize = 32;

/// How many changes a table could not see have happened: a span gaining a state, or a plain
/// span closing, where the thread's table did not know it (see the module docs).
pub(crate) static UNSEEN: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    /// The span's id.
    id: u64,
    /// When it was created.
    pub(crate) at: Instant,
    /// [`UNSEEN`] when it was created.
    upgrades: u64,
}

impl Entry {
    /// The entry of the plain span `id`, created at `at`.
    pub(crate) fn new(id: &Id, at: Instant) -> Entry {
        Entry::counting(id, at, &UNSEEN)
    }

    pub(crate) fn counting(id: &Id, at: Instant, upgrades: &AtomicU64) -> Entry {
        Entry {
            id: id.into_u64(),
            at,
            upgrades: upgrades.load(Ordering::Acquire),
        }
    }

    /// Whether no span may have gained a state unseen since this one was created.
    pub(crate) fn trusted(&self, upgrades: &AtomicU64) -> bool {
        self.upgrades == upgrades.load(Ordering::Acquire)
    }
}

/// A thread's open plain spans, oldest first, in a fixed array (no allocation, nothing to
/// drop at thread exit); spans usually close last-opened first, so they are found and
/// removed at the end.
pub(crate) struct Table {
    slots: [Option<Entry>; SLOTS],
    pub(crate) len: usize,
}

impl Table {
    /// No open plain span.
    pub(crate) const EMPTY: Table = Table {
        slots: [None; SLOTS],
        len: 0,
    };

    /// The position of `id`, searching from the newest.
    pub(crate) fn position(&self, id: u64) -> Option<usize> {
        self.slots[..self.len]
            .iter()
            .rposition(|e| e.is_some_and(|e| e.id == id))
    }

    /// The entry at `i`, which [`Table::position`] found.
    pub(crate) fn at(&self, i: usize) -> Option<Entry> {
        self.slots.get(i).copied().flatten()
    }

    /// Removes the entry at `i`; entries removed out of order are dropped once they are last.
    pub(crate) fn forget(&mut self, i: usize) {
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = None;
        }
        while self.len > 0 && self.slots[self.len - 1].is_none() {
            self.len -= 1;
        }
    }

    /// Remembers a plain span.
    pub(crate) fn push(&mut self, entry: Entry) {
        if self.len == SLOTS {
            self.make_room();
        }
        if let Some(slot) = self.slots.get_mut(self.len) {
            *slot = Some(entry);
            self.len += 1;
        }
    }

    /// Closes the gaps; if there are none, the oldest open span is looked up in the registry
    /// from now on.
    #[cold]
    #[inline(never)]
    pub(crate) fn make_room(&mut self) {
        let mut kept = 0;
        for i in 0..SLOTS {
            if let Some(e) = self.slots[i] {
                self.slots[kept] = Some(e);
                kept += 1;
            }
        }
        if kept == SLOTS {
            self.slots.copy_within(1.., 0);
            kept -= 1;
        }
        self.slots[kept..].fill(None);
        self.len = kept;
    }
}

//! [`PriceCache`]: a [`PriceTable`] that remembers its answers for the models seen.

use super::{Cost, ModelPrice, PriceTable, TokenUsage};

/// A [`PriceTable`] with the answers for the models seen so far remembered: a span's cost
/// then costs one hash of the model name instead of a lowercased copy and a prefix search.
/// At most [`PriceCache::CAPACITY`] models are remembered; others are looked up each time.
#[derive(Debug)]
pub(crate) struct PriceCache {
    table: PriceTable,
    /// This cache among those a thread's [`LAST_PRICE`] may have answered for.
    id: u64,
    pub(super) seen: parking_lot::RwLock<
        std::collections::HashMap<std::sync::Arc<str>, Option<ModelPrice>, crate::fnv::FnvBuild>,
    >,
}

/// The price a thread looked up last: which cache, the model text (the layer shares a
/// repeated model name, so the next span's is usually the same allocation) and its price.
type LastPrice = Option<(u64, std::sync::Arc<str>, Option<ModelPrice>)>;

thread_local! {
    static LAST_PRICE: std::cell::RefCell<LastPrice> = const { std::cell::RefCell::new(None) };
}

impl PriceCache {
    /// Most models remembered.
    pub(crate) const CAPACITY: usize = 1_024;

    /// A cache over `table`.
    pub(crate) fn new(table: PriceTable) -> Self {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        PriceCache {
            table,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            seen: Default::default(),
        }
    }

    /// The cost of one call to `model`, as [`PriceTable::cost`].
    pub(crate) fn cost(&self, model: &std::sync::Arc<str>, usage: &TokenUsage) -> Option<Cost> {
        self.price(model).map(|p| p.cost(usage))
    }

    /// The price of `model`: this thread's last answer when it is for the same text, else
    /// the shared cache's.
    pub(crate) fn price(&self, model: &std::sync::Arc<str>) -> Option<ModelPrice> {
        let last = crate::thread_cache::read(&LAST_PRICE, |last| match last {
            Some((id, text, price)) if *id == self.id && std::sync::Arc::ptr_eq(text, model) => {
                Some(*price)
            }
            _ => None,
        });
        if let Some(price) = last {
            return price;
        }
        let price = self.price_shared(model);
        crate::thread_cache::write(&LAST_PRICE, |last| {
            *last = Some((self.id, std::sync::Arc::clone(model), price))
        });
        price
    }

    /// The price of `model` from the cache shared by all threads.
    fn price_shared(&self, model: &std::sync::Arc<str>) -> Option<ModelPrice> {
        // The read guard is dropped before the lookup can take the write lock.
        let known = self.seen.read().get(model).copied();
        let price = match known {
            Some(known) => known,
            None => {
                let found = self.table.lookup(model);
                let mut seen = self.seen.write();
                if seen.len() < Self::CAPACITY {
                    seen.insert(std::sync::Arc::clone(model), found);
                }
                found
            }
        };
        price
    }
}

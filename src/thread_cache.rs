//! Access to the crate's small per-thread caches (recent texts, callsite classifications,
//! the last price) that never panics: while a thread is being torn down, or if a cache is
//! already borrowed, the caller simply gets no cached answer and works it out.

use std::cell::RefCell;
use std::thread::LocalKey;

/// `f`'s answer from the thread's cache, if the cache can be read now.
#[inline(always)]
pub(crate) fn read<T: 'static, R>(
    cache: &'static LocalKey<RefCell<T>>,
    f: impl FnOnce(&T) -> Option<R>,
) -> Option<R> {
    cache
        .try_with(|c| c.try_borrow().ok().and_then(|c| f(&c)))
        .ok()
        .flatten()
}

/// Runs `f` on the thread's cache and returns its answer, if the cache can be written now.
#[inline(always)]
pub(crate) fn write<T: 'static, R>(
    cache: &'static LocalKey<RefCell<T>>,
    f: impl FnOnce(&mut T) -> R,
) -> Option<R> {
    cache
        .try_with(|c| c.try_borrow_mut().ok().map(|mut c| f(&mut c)))
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static CACHE: RefCell<Option<u32>> = const { RefCell::new(None) };
    }

    #[test]
    fn a_busy_cache_answers_nothing_and_takes_nothing() {
        assert_eq!(read(&CACHE, |c| *c), None);
        write(&CACHE, |c| *c = Some(7));
        assert_eq!(read(&CACHE, |c| *c), Some(7));
        // While the cache is borrowed (as from inside another access), neither call panics.
        CACHE.with_borrow_mut(|_| {
            assert_eq!(read(&CACHE, |c| *c), None);
            write(&CACHE, |c| *c = Some(9));
        });
        assert_eq!(read(&CACHE, |c| *c), Some(7));
    }
}

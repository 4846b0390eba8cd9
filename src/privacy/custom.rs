//! The application's own mask, run on every exported string after the built-in scan.

use std::fmt;
use std::sync::Arc;

/// A function that may rewrite an exported string: `Some(new)` replaces it, `None` keeps it.
///
/// Set it with [`Privacy::with_mask`](super::Privacy::with_mask). Two masks compare equal only
/// when they are the same function object (clones of one [`Mask`]).
///
/// ```
/// use tracing_openinference::privacy::Mask;
/// let mask = Mask::new(|s: &str| s.contains("internal.example").then(|| "[host]".to_owned()));
/// assert_eq!(mask.apply("see db.internal.example"), Some("[host]".to_owned()));
/// assert_eq!(mask.apply("nothing here"), None);
/// assert_eq!(mask.clone(), mask);
/// ```
#[derive(Clone)]
pub struct Mask(Arc<MaskFn>);

/// The function a [`Mask`] holds.
type MaskFn = dyn Fn(&str) -> Option<String> + Send + Sync;

impl Mask {
    /// Wraps `f`.
    ///
    /// ```
    /// let mask = tracing_openinference::privacy::Mask::new(|_: &str| None);
    /// assert_eq!(mask.apply("kept"), None);
    /// ```
    pub fn new(f: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Mask {
        Mask(Arc::new(f))
    }

    /// Runs the mask on `s`. A panic inside it is caught and the string is replaced by
    /// [`REDACTED`](super::REDACTED): a mask that fails must not let the text through unmasked.
    ///
    /// ```
    /// let mask = tracing_openinference::privacy::Mask::new(|s: &str| Some(s.to_uppercase()));
    /// assert_eq!(mask.apply("abc").as_deref(), Some("ABC"));
    /// ```
    pub fn apply(&self, s: &str) -> Option<String> {
        let f = &self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(s))) {
            Ok(out) => out,
            Err(_) => Some(super::REDACTED.to_owned()),
        }
    }
}

impl fmt::Debug for Mask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mask(..)")
    }
}

impl PartialEq for Mask {
    fn eq(&self, other: &Mask) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Mask {}

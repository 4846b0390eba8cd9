//! The errors of building a layer, and the one-time warning that reports problems the layer
//! goes on past.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// Why the layer could not be built as configured.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BuildError {
    /// An endpoint is not an `http://` or `https://` URL with a host.
    InvalidUrl(String),
    /// An OTLP header is not `name=value` with a valid name.
    InvalidHeader(String),
    /// A variable or setting has a value outside what it accepts.
    InvalidValue {
        /// The variable or setting.
        var: String,
        /// The value given.
        value: String,
    },
    /// The sampling ratio is outside `0..=1`.
    InvalidRatio(f64),
    /// The price file could not be read.
    PriceFile(String),
    /// The exporter could not be created.
    Exporter(String),
    /// The setting needs a cargo feature that is off.
    Unsupported(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::InvalidUrl(u) => write!(
                f,
                "invalid endpoint URL `{u}` (expected http:// or https:// and a host)"
            ),
            BuildError::InvalidHeader(h) => {
                write!(f, "invalid OTLP header `{h}` (expected name=value)")
            }
            BuildError::InvalidValue { var, value } => {
                write!(f, "invalid value for {var}: `{value}`")
            }
            BuildError::InvalidRatio(r) => write!(f, "sampling ratio {r} is outside 0..=1"),
            BuildError::PriceFile(e) => write!(f, "price file: {e}"),
            BuildError::Exporter(e) => write!(f, "exporter: {e}"),
            BuildError::Unsupported(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BuildError {}

static WARNED: AtomicBool = AtomicBool::new(false);

/// Prints `message` on stderr, once per process.
pub(crate) fn warn_once(message: &str) {
    if !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!("tracing-openinference: {message}");
    }
}

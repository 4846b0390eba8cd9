//! What an export attempt comes to: a typed error the export thread decides retries on.

use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::trace::SpanData;
use std::fmt;
use std::time::Duration;

/// Why an export attempt failed.
// Which variants a build makes depends on its transports.
#[cfg_attr(not(all(feature = "otlp-http", feature = "grpc")), allow(dead_code))]
#[derive(Debug)]
pub(crate) enum ExportError {
    /// No connection could be made (refused, unreachable, name not resolved): the collector
    /// did not get the request, so retrying cannot duplicate spans.
    Unreachable(String),
    /// The connection broke after the request went out: the collector may have stored it.
    Network(String),
    /// No answer within the timeout: the collector may have stored the request.
    Timeout,
    /// The collector answered with an error status.
    Status {
        /// The HTTP status code.
        code: u16,
        /// Its `Retry-After`, if it gave one.
        retry_after: Option<Duration>,
        /// The start of its answer.
        message: String,
    },
    /// A collector said it is unavailable in a protocol without status codes (gRPC).
    Unavailable(String),
    /// Abandoned at a shutdown's deadline.
    Cancelled,
    /// Another exporter's error (never retried).
    Sdk(OTelSdkError),
}

impl ExportError {
    /// Whether the same request may succeed later: no answer, a timeout, 408, 429 or a 5xx
    /// gateway or availability answer. Other 4xx will not change.
    pub(crate) fn retryable(&self) -> bool {
        match self {
            ExportError::Unreachable(_)
            | ExportError::Network(_)
            | ExportError::Timeout
            | ExportError::Unavailable(_) => true,
            ExportError::Status { code, .. } => matches!(code, 408 | 429 | 502 | 503 | 504),
            ExportError::Cancelled | ExportError::Sdk(_) => false,
        }
    }

    /// Whether the collector may have stored the request although it failed (a retry may
    /// deliver its spans a second time).
    pub(crate) fn maybe_delivered(&self) -> bool {
        matches!(self, ExportError::Timeout | ExportError::Network(_))
    }

    /// How long the collector asked to be left alone.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            ExportError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::Unreachable(e) => write!(f, "collector unreachable: {e}"),
            ExportError::Network(e) => write!(f, "network error: {e}"),
            ExportError::Timeout => write!(f, "the collector did not answer within the timeout"),
            ExportError::Status { code, message, .. } => {
                write!(f, "the collector answered {code}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            ExportError::Unavailable(e) => write!(f, "collector unavailable: {e}"),
            ExportError::Cancelled => write!(f, "abandoned at the shutdown deadline"),
            ExportError::Sdk(e) => write!(f, "{e}"),
        }
    }
}

impl From<OTelSdkError> for ExportError {
    fn from(e: OTelSdkError) -> Self {
        ExportError::Sdk(e)
    }
}

#[cfg_attr(not(feature = "otlp-http"), allow(dead_code))]
/// Parses a `Retry-After` value: seconds, or an HTTP date (as seconds from `now`).
pub(crate) fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The outcome of an export started in the background, and the batch back when it failed.
pub(crate) type Posted = (Vec<SpanData>, Result<Option<Rejected>, ExportError>);

/// Spans a collector accepted the request for but did not store (an OTLP partial success).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejected {
    /// How many spans it rejected.
    pub(crate) spans: u64,
    /// Its explanation.
    pub(crate) message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        // RFC 9110's example date is 784111777 s after the epoch.
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(parse_retry_after(date, now), Some(Duration::ZERO));
        let earlier = now - Duration::from_secs(5);
        assert_eq!(
            parse_retry_after(date, earlier),
            Some(Duration::from_secs(5))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn only_passing_failures_are_retried() {
        let status = |code| ExportError::Status {
            code,
            retry_after: None,
            message: String::new(),
        };
        assert!(status(503).retryable());
        assert!(status(429).retryable());
        assert!(!status(400).retryable());
        assert!(!status(413).retryable());
        assert!(ExportError::Timeout.retryable() && ExportError::Timeout.maybe_delivered());
        assert!(!ExportError::Unreachable("refused".into()).maybe_delivered());
        assert!(!ExportError::Cancelled.retryable());
    }
}

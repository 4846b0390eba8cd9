//! Token counts past any sane bound: recorded on the span as given, but neither priced nor
//! added to the metrics, and counted by reason.

use super::seen::Seen;

/// The most tokens one call can plausibly report; larger counts are invalid.
pub(crate) const MAX_TOKENS_PER_CALL: u64 = 1_000_000_000;

/// Why a token count was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvalidReason {
    /// Over [`MAX_TOKENS_PER_CALL`].
    TooLarge,
    /// Below zero.
    Negative,
    /// Not a number (text, a boolean, NaN or an infinity).
    NotANumber,
}

impl InvalidReason {
    /// Every reason, in the order of [`InvalidTokens`]' counts.
    pub(crate) const ALL: [InvalidReason; 3] = [
        InvalidReason::TooLarge,
        InvalidReason::Negative,
        InvalidReason::NotANumber,
    ];

    /// The `reason` label of `openinference.llm.tokens.invalid`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InvalidReason::TooLarge => "too_large",
            InvalidReason::Negative => "negative",
            InvalidReason::NotANumber => "not_a_number",
        }
    }
}

/// The invalid token counts of one span, by reason.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidTokens(pub(crate) [u8; 3]);

impl InvalidTokens {
    /// Counts one invalid value.
    pub(crate) fn add(&mut self, reason: InvalidReason) {
        let i = reason as usize;
        self.0[i] = self.0[i].saturating_add(1);
    }

    /// Whether any count of the span was invalid.
    pub(crate) fn any(&self) -> bool {
        self.0 != [0; 3]
    }
}

/// A token count from an unsigned integer.
pub(crate) fn from_u64(v: u64) -> Result<u64, InvalidReason> {
    if v > MAX_TOKENS_PER_CALL {
        Err(InvalidReason::TooLarge)
    } else {
        Ok(v)
    }
}

/// A token count from a signed integer.
pub(crate) fn from_i64(v: i64) -> Result<u64, InvalidReason> {
    u64::try_from(v).map_or(Err(InvalidReason::Negative), from_u64)
}

/// A token count from a float (the fraction is dropped).
pub(crate) fn from_f64(v: f64) -> Result<u64, InvalidReason> {
    if !v.is_finite() {
        Err(InvalidReason::NotANumber)
    } else if v < 0.0 {
        Err(InvalidReason::Negative)
    } else if v > MAX_TOKENS_PER_CALL as f64 {
        Err(InvalidReason::TooLarge)
    } else {
        Ok(v as u64)
    }
}

/// A token count from any recorded value: integers and integral text as they are, floats
/// without their fraction.
pub(crate) fn token_count(value: &Seen<'_>) -> Result<u64, InvalidReason> {
    match *value {
        Seen::U64(v) => from_u64(v),
        Seen::I64(v) => from_i64(v),
        Seen::F64(v) => from_f64(v),
        Seen::Str(s) => from_text(s),
        Seen::Debug(d) => from_text(&format!("{d:?}")),
        Seen::Bool => Err(InvalidReason::NotANumber),
    }
}

/// A token count from text: an integer, possibly signed, with blanks around.
pub(crate) fn from_text(s: &str) -> Result<u64, InvalidReason> {
    let s = s.trim();
    if let Ok(v) = s.parse::<u64>() {
        return from_u64(v);
    }
    match s.parse::<i128>() {
        Ok(v) if v < 0 => Err(InvalidReason::Negative),
        Ok(_) => Err(InvalidReason::TooLarge),
        Err(_) => Err(InvalidReason::NotANumber),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_past_the_bound_are_invalid_by_reason() {
        assert_eq!(from_u64(1_000_000_000), Ok(1_000_000_000));
        assert_eq!(from_u64(1_000_000_001), Err(InvalidReason::TooLarge));
        assert_eq!(from_u64(u64::MAX), Err(InvalidReason::TooLarge));
        assert_eq!(from_i64(-1), Err(InvalidReason::Negative));
        assert_eq!(from_i64(12), Ok(12));
        assert_eq!(from_f64(12.9), Ok(12));
        assert_eq!(from_f64(f64::NAN), Err(InvalidReason::NotANumber));
        assert_eq!(from_f64(-0.5), Err(InvalidReason::Negative));
        assert_eq!(from_f64(1e12), Err(InvalidReason::TooLarge));
        assert_eq!(from_text(" 42 "), Ok(42));
        assert_eq!(from_text("-3"), Err(InvalidReason::Negative));
        assert_eq!(
            from_text("99999999999999999999999"),
            Err(InvalidReason::TooLarge)
        );
        assert_eq!(from_text("many"), Err(InvalidReason::NotANumber));
        let mut seen = InvalidTokens::default();
        assert!(!seen.any());
        seen.add(InvalidReason::Negative);
        assert!(seen.any());
        assert_eq!(seen.0, [0, 1, 0]);
    }
}

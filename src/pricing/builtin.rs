//! The built-in price table: providers' list prices (USD per 1M tokens).

use super::ModelPrice;

/// Shorthand for the built-in table: input, output (USD per 1M tokens).
pub(super) const fn price(input: f64, output: f64) -> ModelPrice {
    ModelPrice::new(input, output)
}

/// Shorthand for the built-in table: input, output, cache read (USD per 1M tokens).
pub(super) const fn cached(input: f64, output: f64, cache_read: f64) -> ModelPrice {
    ModelPrice::new(input, output).with_cache_read(cache_read)
}

/// Shorthand for the built-in table: input, output, cache read, cache write (USD per 1M tokens).
pub(super) const fn cached_rw(
    input: f64,
    output: f64,
    cache_read: f64,
    cache_write: f64,
) -> ModelPrice {
    ModelPrice::new(input, output)
        .with_cache_read(cache_read)
        .with_cache_write(cache_write)
}

/// List prices in USD per 1M tokens (standard tier, short context, no batch discount), keyed by
/// lowercase model name or name prefix. Dated snapshots and aliases reach these through the
/// prefix rule; a key exists for every variant whose price differs from its prefix's.
///
/// Reasoning tokens are billed as output tokens by every provider listed, so no entry sets a
/// reasoning price. OpenAI and Google do not charge extra for cache writes, so their entries leave
/// the cache-write price at the input price; Anthropic's is the 5-minute cache write.
pub(super) const BUILTIN_PRICES: &[(&str, ModelPrice)] = &[
    // OpenAI
    ("gpt-4o", cached(2.5, 10.0, 1.25)),
    ("gpt-4o-2024-05-13", price(5.0, 15.0)),
    ("chatgpt-4o-latest", price(5.0, 15.0)),
    ("gpt-4o-realtime-preview", cached(5.0, 20.0, 2.5)),
    ("gpt-4o-mini", cached(0.15, 0.6, 0.075)),
    ("gpt-4o-mini-realtime-preview", cached(0.6, 2.4, 0.3)),
    ("gpt-4.1", cached(2.0, 8.0, 0.5)),
    ("gpt-4.1-mini", cached(0.4, 1.6, 0.1)),
    ("gpt-4.1-nano", cached(0.1, 0.4, 0.025)),
    ("o1", cached(15.0, 60.0, 7.5)),
    ("o1-mini", cached(1.1, 4.4, 0.55)),
    ("o1-pro", price(150.0, 600.0)),
    ("o3", cached(2.0, 8.0, 0.5)),
    ("o3-mini", cached(1.1, 4.4, 0.55)),
    ("o3-pro", price(20.0, 80.0)),
    ("o3-deep-research", cached(10.0, 40.0, 2.5)),
    ("o4-mini", cached(1.1, 4.4, 0.275)),
    ("o4-mini-deep-research", cached(2.0, 8.0, 0.5)),
    ("gpt-5", cached(1.25, 10.0, 0.125)),
    ("gpt-5-mini", cached(0.25, 2.0, 0.025)),
    ("gpt-5-nano", cached(0.05, 0.4, 0.005)),
    ("gpt-5-pro", price(15.0, 120.0)),
    ("gpt-5.1", cached(1.25, 10.0, 0.125)),
    ("gpt-5.1-codex-mini", cached(0.25, 2.0, 0.025)),
    ("gpt-5.2", cached(1.75, 14.0, 0.175)),
    ("gpt-5.2-pro", price(21.0, 168.0)),
    ("gpt-5.3", cached(1.75, 14.0, 0.175)),
    ("gpt-5.4", cached(2.5, 15.0, 0.25)),
    ("gpt-5.4-mini", cached(0.75, 4.5, 0.075)),
    ("gpt-5.4-nano", cached(0.2, 1.25, 0.02)),
    ("gpt-5.4-pro", cached(30.0, 180.0, 3.0)),
    ("gpt-5.5", cached(5.0, 30.0, 0.5)),
    ("gpt-5.5-pro", cached(30.0, 180.0, 3.0)),
    ("text-embedding-3-small", price(0.02, 0.0)),
    ("text-embedding-3-large", price(0.13, 0.0)),
    ("text-embedding-ada-002", price(0.1, 0.0)),
    // Anthropic (the `x.y` spellings are OpenRouter's)
    ("claude-3-haiku", cached_rw(0.25, 1.25, 0.03, 0.3)),
    ("claude-3-opus", cached_rw(15.0, 75.0, 1.5, 18.75)),
    ("claude-3-5-haiku", cached_rw(0.8, 4.0, 0.08, 1.0)),
    ("claude-3.5-haiku", cached_rw(0.8, 4.0, 0.08, 1.0)),
    ("claude-3-5-sonnet", cached_rw(3.0, 15.0, 0.3, 3.75)),
    ("claude-3.5-sonnet", cached_rw(3.0, 15.0, 0.3, 3.75)),
    ("claude-3-7-sonnet", cached_rw(3.0, 15.0, 0.3, 3.75)),
    ("claude-3.7-sonnet", cached_rw(3.0, 15.0, 0.3, 3.75)),
    ("claude-sonnet-4", cached_rw(3.0, 15.0, 0.3, 3.75)),
    ("claude-sonnet-4-5", cached_rw(3.0, 15.0, 0.3, 3.75)),
    ("claude-sonnet-4.5", cached_rw(3.0, 15.0, 0.3, 3.75)),
    ("claude-sonnet-4.6", cached_rw(3.0, 15.0, 0.3, 3.75)),
    ("claude-opus-4", cached_rw(15.0, 75.0, 1.5, 18.75)),
    ("claude-opus-4.1", cached_rw(15.0, 75.0, 1.5, 18.75)),
    ("claude-opus-4-5", cached_rw(5.0, 25.0, 0.5, 6.25)),
    ("claude-opus-4.5", cached_rw(5.0, 25.0, 0.5, 6.25)),
    ("claude-opus-4-6", cached_rw(5.0, 25.0, 0.5, 6.25)),
    ("claude-opus-4.6", cached_rw(5.0, 25.0, 0.5, 6.25)),
    ("claude-opus-4-7", cached_rw(5.0, 25.0, 0.5, 6.25)),
    ("claude-opus-4.7", cached_rw(5.0, 25.0, 0.5, 6.25)),
    ("claude-opus-4-8", cached_rw(5.0, 25.0, 0.5, 6.25)),
    ("claude-haiku-4-5", cached_rw(1.0, 5.0, 0.1, 1.25)),
    ("claude-haiku-4.5", cached_rw(1.0, 5.0, 0.1, 1.25)),
    // Google (Gemini API, prompts up to 128k / 200k tokens)
    ("gemini-1.5-flash", cached(0.075, 0.3, 0.01875)),
    ("gemini-1.5-flash-8b", cached(0.0375, 0.15, 0.01)),
    ("gemini-1.5-pro", cached(1.25, 5.0, 0.3125)),
    ("gemini-2.0-flash", cached(0.1, 0.4, 0.025)),
    ("gemini-2.0-flash-lite", cached(0.075, 0.3, 0.01875)),
    ("gemini-2.5-flash", cached(0.3, 2.5, 0.03)),
    ("gemini-2.5-flash-lite", cached(0.1, 0.4, 0.01)),
    ("gemini-2.5-pro", cached(1.25, 10.0, 0.125)),
    ("gemini-3-flash", cached(0.5, 3.0, 0.05)),
    ("gemini-3-pro", cached(2.0, 12.0, 0.2)),
    ("gemini-3.1-flash-lite", cached(0.25, 1.5, 0.025)),
    ("gemini-3.1-pro", cached(2.0, 12.0, 0.2)),
    // Mistral
    ("mistral-large", price(2.0, 6.0)),
    ("mistral-large-2512", price(0.5, 1.5)),
    ("mistral-medium", price(0.4, 2.0)),
    ("mistral-small", price(0.1, 0.3)),
    ("codestral", price(0.3, 0.9)),
    ("mistral-embed", price(0.1, 0.0)),
];

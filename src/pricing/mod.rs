//! Model prices and the cost of one LLM call, in USD.
//!
//! A [`PriceTable`] maps model names to a [`ModelPrice`] (USD per one million tokens). Given the
//! [`TokenUsage`] of a call it computes a [`Cost`] split the way the OpenInference `llm.cost.*`
//! attributes are: `prompt` (= `input` + `cache_read` + `cache_write`), `completion`
//! (= `output` + `reasoning`) and `total`.
//!
//! **Nothing is counted twice.** Cache-read and cache-write tokens are *part of* the prompt
//! tokens, and reasoning tokens are *part of* the completion tokens. Each token is priced exactly
//! once: cached prompt tokens at the cache price instead of the input price, reasoning tokens at
//! the reasoning price instead of the output price.
//!
//! **Built-in prices** ([`PriceTable::builtin`]) are the providers' public list prices as of the
//! release of this crate: standard tier, short context, no batch discount. Long-context surcharges,
//! batch, flex or priority tiers, regional endpoints and negotiated rates are not modelled:
//! override the models you use with [`PriceTable::with_price`] or a JSON price file
//! ([`PriceTable::load_json_file`]) whenever your invoice differs. A model that is not in the table
//! gets no cost rather than a guessed one.
//!
//! # Example
//!
//! ```
//! use tracing_openinference::pricing::{ModelPrice, PriceTable, TokenUsage};
//!
//! let table = PriceTable::builtin()
//!     // A negotiated rate for one model.
//!     .with_price("my-fine-tune", ModelPrice::new(1.0, 4.0));
//!
//! // 1M prompt tokens of which 400k were cache hits, 100k completion tokens.
//! let usage = TokenUsage {
//!     prompt: 1_000_000,
//!     completion: 100_000,
//!     cache_read: 400_000,
//!     ..TokenUsage::default()
//! };
//! // gpt-4o lists $2.50/M input, $1.25/M cached input and $10/M output.
//! let cost = table.cost("openai/gpt-4o-2024-08-06", &usage).unwrap();
//! assert_eq!(cost.input, 1.5); // 600k uncached × $2.50/M
//! assert_eq!(cost.cache_read, 0.5); // 400k cached × $1.25/M
//! assert_eq!(cost.prompt, 2.0);
//! assert_eq!(cost.completion, 1.0);
//! assert_eq!(cost.total, 3.0);
//!
//! assert!(table.cost("some-unknown-model", &usage).is_none());
//! ```

/// Price of one model in USD per one million tokens.
///
/// `cache_read` and `cache_write` default to the `input` price and `reasoning` defaults to the
/// `output` price when they are `None`.
///
/// In a JSON price file the optional fields may be left out; unknown fields are rejected so that a
/// misspelt key cannot silently fall back to a default price.
///
/// # Example
///
/// ```
/// use tracing_openinference::pricing::ModelPrice;
///
/// let literal = ModelPrice {
///     input: 3.0,
///     output: 15.0,
///     cache_read: Some(0.3),
///     cache_write: Some(3.75),
///     reasoning: None,
/// };
/// let built = ModelPrice::new(3.0, 15.0)
///     .with_cache_read(0.3)
///     .with_cache_write(3.75);
/// assert_eq!(literal, built);
///
/// let parsed: ModelPrice =
///     serde_json::from_str(r#"{"input": 3.0, "output": 15.0, "cache_read": 0.3, "cache_write": 3.75}"#)
///         .unwrap();
/// assert_eq!(parsed, built);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// USD per 1M uncached prompt tokens.
    pub input: f64,
    /// USD per 1M completion tokens that are not reasoning tokens.
    pub output: f64,
    /// USD per 1M prompt tokens read from the prompt cache; `None` means the `input` price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
    /// USD per 1M prompt tokens written to the prompt cache; `None` means the `input` price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
    /// USD per 1M reasoning (thinking) tokens; `None` means the `output` price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<f64>,
}

impl ModelPrice {
    /// A price with only an input and an output price (USD per 1M tokens); the cache prices
    /// default to `input` and the reasoning price to `output`.
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::ModelPrice;
    ///
    /// let price = ModelPrice::new(2.5, 10.0);
    /// assert_eq!(price.input, 2.5);
    /// assert_eq!(price.output, 10.0);
    /// assert_eq!(price.cache_read, None);
    /// ```
    #[must_use]
    pub const fn new(input: f64, output: f64) -> Self {
        Self {
            input,
            output,
            cache_read: None,
            cache_write: None,
            reasoning: None,
        }
    }

    /// The same price with a cache-read price (USD per 1M tokens).
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::ModelPrice;
    ///
    /// let price = ModelPrice::new(2.5, 10.0).with_cache_read(1.25);
    /// assert_eq!(price.cache_read, Some(1.25));
    /// ```
    #[must_use]
    pub const fn with_cache_read(self, price: f64) -> Self {
        Self {
            cache_read: Some(price),
            ..self
        }
    }

    /// The same price with a cache-write price (USD per 1M tokens).
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::ModelPrice;
    ///
    /// let price = ModelPrice::new(3.0, 15.0).with_cache_write(3.75);
    /// assert_eq!(price.cache_write, Some(3.75));
    /// ```
    #[must_use]
    pub const fn with_cache_write(self, price: f64) -> Self {
        Self {
            cache_write: Some(price),
            ..self
        }
    }

    /// The same price with a reasoning-token price (USD per 1M tokens).
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::ModelPrice;
    ///
    /// let price = ModelPrice::new(1.0, 4.0).with_reasoning(8.0);
    /// assert_eq!(price.reasoning, Some(8.0));
    /// ```
    #[must_use]
    pub const fn with_reasoning(self, price: f64) -> Self {
        Self {
            reasoning: Some(price),
            ..self
        }
    }

    /// The cost of one call with this price.
    ///
    /// Cache-read and cache-write tokens are taken out of the prompt tokens and reasoning tokens
    /// out of the completion tokens, so each token is priced once. Subsets larger than their total
    /// are clamped to it (cache reads first, then cache writes), so no part is ever negative.
    ///
    /// A price that is negative or not finite (possible only through [`PriceTable::set_price`] or
    /// [`PriceTable::with_price`]; price files reject them) is treated as missing: an optional
    /// price falls back to its default and an `input` or `output` price counts as zero.
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::{ModelPrice, TokenUsage};
    ///
    /// // Anthropic-style prices: cache reads at 10%, cache writes at 125% of input.
    /// let price = ModelPrice::new(3.0, 15.0)
    ///     .with_cache_read(0.3)
    ///     .with_cache_write(3.75);
    /// let usage = TokenUsage {
    ///     prompt: 3_000_000, // includes the 1M cache reads and 1M cache writes
    ///     completion: 2_000_000, // includes the 1M reasoning tokens
    ///     cache_read: 1_000_000,
    ///     cache_write: 1_000_000,
    ///     reasoning: 1_000_000,
    /// };
    /// let cost = price.cost(&usage);
    /// assert_eq!(cost.input, 3.0);
    /// assert_eq!(cost.cache_read, 0.3);
    /// assert_eq!(cost.cache_write, 3.75);
    /// assert_eq!(cost.prompt, 3.0 + 0.3 + 3.75);
    /// assert_eq!(cost.output, 15.0);
    /// assert_eq!(cost.reasoning, 15.0); // reasoning defaults to the output price
    /// assert_eq!(cost.completion, 30.0);
    /// assert_eq!(cost.total, cost.prompt + cost.completion);
    /// ```
    #[must_use]
    pub fn cost(&self, usage: &TokenUsage) -> Cost {
        let parts = usage.clamped();
        let cache_read_tokens = parts.cache_read;
        let cache_write_tokens = parts.cache_write;
        let input_tokens = parts.prompt - cache_read_tokens - cache_write_tokens;
        let reasoning_tokens = parts.reasoning;
        let output_tokens = parts.completion - reasoning_tokens;

        let input_rate = valid_price(self.input).unwrap_or(0.0);
        let output_rate = valid_price(self.output).unwrap_or(0.0);
        let cache_read_rate = self.cache_read.and_then(valid_price).unwrap_or(input_rate);
        let cache_write_rate = self.cache_write.and_then(valid_price).unwrap_or(input_rate);
        let reasoning_rate = self.reasoning.and_then(valid_price).unwrap_or(output_rate);

        let input = per_million(input_tokens, input_rate);
        let cache_read = per_million(cache_read_tokens, cache_read_rate);
        let cache_write = per_million(cache_write_tokens, cache_write_rate);
        let output = per_million(output_tokens, output_rate);
        let reasoning = per_million(reasoning_tokens, reasoning_rate);

        let prompt = input + cache_read + cache_write;
        let completion = output + reasoning;
        Cost {
            prompt,
            completion,
            total: prompt + completion,
            input,
            cache_read,
            cache_write,
            output,
            reasoning,
        }
    }

    /// `Err` names the first field that is negative or not finite.
    fn check(&self) -> Result<(), String> {
        let fields = [
            ("input", Some(self.input)),
            ("output", Some(self.output)),
            ("cache_read", self.cache_read),
            ("cache_write", self.cache_write),
            ("reasoning", self.reasoning),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                if valid_price(value).is_none() {
                    return Err(format!(
                        "`{name}` must be a finite, non-negative number of USD per 1M tokens, got {value}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `Some(price)` when it is usable as a price: finite and not negative.
fn valid_price(price: f64) -> Option<f64> {
    (price.is_finite() && price >= 0.0).then_some(price)
}

/// Cost in USD of `tokens` at `rate` USD per 1M tokens.
fn per_million(tokens: u64, rate: f64) -> f64 {
    tokens as f64 * rate / 1_000_000.0
}

/// Token usage of one call.
///
/// `prompt` **includes** `cache_read` and `cache_write`; `completion` **includes** `reasoning`.
/// Providers that report cached or reasoning tokens separately (Anthropic's `input_tokens`
/// excludes cache reads and writes; Gemini's `candidatesTokenCount` excludes thoughts) must be
/// added up before building this value.
///
/// # Example
///
/// ```
/// use tracing_openinference::pricing::TokenUsage;
///
/// // OpenAI: prompt_tokens = 1200 with 1000 cached_tokens,
/// // completion_tokens = 300 with 250 reasoning_tokens.
/// let usage = TokenUsage {
///     prompt: 1200,
///     completion: 300,
///     cache_read: 1000,
///     reasoning: 250,
///     ..TokenUsage::default()
/// };
/// assert_eq!(usage.cache_write, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// All prompt (input) tokens, including the cache reads and cache writes.
    pub prompt: u64,
    /// All completion (output) tokens, including the reasoning tokens.
    pub completion: u64,
    /// Prompt tokens read from the prompt cache (a subset of `prompt`).
    pub cache_read: u64,
    /// Prompt tokens written to the prompt cache (a subset of `prompt`).
    pub cache_write: u64,
    /// Reasoning (thinking) tokens (a subset of `completion`).
    pub reasoning: u64,
}

impl TokenUsage {
    /// The same usage with each subset clamped to its total, as [`ModelPrice::cost`] prices
    /// it. Costs are linear in clamped usages, so the cost of a sum of clamped usages is the sum
    /// of their costs (up to rounding): the metrics price a batch of calls at once.
    pub(crate) fn clamped(&self) -> TokenUsage {
        let cache_read = self.cache_read.min(self.prompt);
        TokenUsage {
            prompt: self.prompt,
            completion: self.completion,
            cache_read,
            cache_write: self.cache_write.min(self.prompt - cache_read),
            reasoning: self.reasoning.min(self.completion),
        }
    }

    /// Adds `other` part by part, saturating.
    pub(crate) fn add(&mut self, other: &TokenUsage) {
        self.prompt = self.prompt.saturating_add(other.prompt);
        self.completion = self.completion.saturating_add(other.completion);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
        self.cache_write = self.cache_write.saturating_add(other.cache_write);
        self.reasoning = self.reasoning.saturating_add(other.reasoning);
    }
}

/// Cost of one call in USD, split the OpenInference way.
///
/// `prompt` = `input` + `cache_read` + `cache_write`, `completion` = `output` + `reasoning` and
/// `total` = `prompt` + `completion`. They map to `llm.cost.prompt`, `llm.cost.completion`,
/// `llm.cost.total`, `llm.cost.prompt_details.{input,cache_read,cache_write}` and
/// `llm.cost.completion_details.{output,reasoning}`.
///
/// # Example
///
/// ```
/// use tracing_openinference::pricing::{ModelPrice, TokenUsage};
///
/// let cost = ModelPrice::new(1.0, 2.0).cost(&TokenUsage {
///     prompt: 1_000_000,
///     completion: 1_000_000,
///     ..TokenUsage::default()
/// });
/// assert_eq!(cost.prompt, cost.input + cost.cache_read + cost.cache_write);
/// assert_eq!(cost.completion, cost.output + cost.reasoning);
/// assert_eq!(cost.total, 3.0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    /// Cost of all prompt tokens: `input` + `cache_read` + `cache_write`.
    pub prompt: f64,
    /// Cost of all completion tokens: `output` + `reasoning`.
    pub completion: f64,
    /// `prompt` + `completion`.
    pub total: f64,
    /// Cost of the uncached prompt tokens.
    pub input: f64,
    /// Cost of the prompt tokens read from the cache.
    pub cache_read: f64,
    /// Cost of the prompt tokens written to the cache.
    pub cache_write: f64,
    /// Cost of the completion tokens that are not reasoning tokens.
    pub output: f64,
    /// Cost of the reasoning tokens.
    pub reasoning: f64,
}

mod builtin;
mod cache;
mod table;

pub(crate) use cache::PriceCache;
pub use table::{PriceFileError, PriceTable};

#[cfg(test)]
mod tests {
    use super::builtin::{cached, cached_rw, price, BUILTIN_PRICES};
    use super::table::{lowercase, normalize_key, strip_provider};
    use std::borrow::Cow;
    #[test]
    fn two_caches_on_one_thread_answer_from_their_own_tables() {
        use std::sync::Arc;
        let model: Arc<str> = Arc::from("gpt-4o-mini");
        let usage = TokenUsage {
            prompt: 1_000_000,
            ..TokenUsage::default()
        };
        let builtin = PriceCache::new(PriceTable::builtin());
        let custom = PriceCache::new(
            PriceTable::empty().with_price("gpt-4o-mini", ModelPrice::new(7.0, 0.0)),
        );
        let empty = PriceCache::new(PriceTable::empty());
        for _ in 0..2 {
            assert_eq!(
                builtin.cost(&model, &usage),
                PriceTable::builtin().cost(&model, &usage)
            );
            assert_eq!(custom.cost(&model, &usage).map(|c| c.total), Some(7.0));
            assert_eq!(empty.cost(&model, &usage), None);
        }
    }

    #[test]
    fn the_cache_answers_as_the_table_and_stays_bounded() {
        use std::sync::Arc;
        let table = PriceTable::builtin();
        let cache = PriceCache::new(PriceTable::builtin());
        let usage = TokenUsage {
            prompt: 1_000,
            completion: 200,
            ..TokenUsage::default()
        };
        for model in [
            "gpt-4o-mini",
            "GPT-4o-mini",
            "openai/gpt-4o",
            "no-such-model",
            "",
        ] {
            let model: Arc<str> = Arc::from(model);
            for _ in 0..2 {
                assert_eq!(
                    cache.cost(&model, &usage),
                    table.cost(&model, &usage),
                    "{model}"
                );
            }
        }
        for i in 0..PriceCache::CAPACITY + 10 {
            let _ = cache.cost(&Arc::from(format!("model-{i}")), &usage);
        }
        assert_eq!(cache.seen.read().len(), PriceCache::CAPACITY);
        let late: Arc<str> = Arc::from("gpt-4o");
        assert_eq!(cache.cost(&late, &usage), table.cost("gpt-4o", &usage));
    }

    use super::*;

    fn assert_close(actual: f64, expected: f64) {
        let tolerance = 1e-12 * expected.abs().max(1.0);
        assert!(
            (actual - expected).abs() <= tolerance,
            "expected {expected}, got {actual}"
        );
    }

    fn input_of(table: &PriceTable, model: &str) -> Option<f64> {
        table.lookup(model).map(|p| p.input)
    }

    fn openai_like() -> PriceTable {
        PriceTable::empty()
            .with_price("gpt-4", ModelPrice::new(30.0, 60.0))
            .with_price("gpt-4o", ModelPrice::new(2.5, 10.0))
            .with_price("gpt-4o-mini", ModelPrice::new(0.15, 0.6))
    }

    #[test]
    fn builtin_keys_are_normalized_unique_and_valid() {
        let mut seen = std::collections::HashSet::new();
        for &(model, price) in BUILTIN_PRICES {
            assert_eq!(
                model,
                normalize_key(model),
                "key {model:?} is not normalized"
            );
            assert!(seen.insert(model), "duplicate built-in key {model:?}");
            assert!(
                price.check().is_ok(),
                "invalid built-in price for {model:?}"
            );
            assert!(price.reasoning.is_none());
        }
        assert_eq!(PriceTable::builtin().len(), BUILTIN_PRICES.len());
    }

    #[test]
    fn builtin_has_the_required_models() {
        let table = PriceTable::builtin();
        for model in [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "gpt-4.1-mini",
            "gpt-4.1-nano",
            "o1",
            "o3",
            "o3-mini",
            "o4-mini",
            "gpt-5",
            "gpt-5-mini",
            "gpt-5-nano",
            "text-embedding-3-small",
            "text-embedding-3-large",
            "claude-3-5-haiku",
            "claude-3-5-sonnet",
            "claude-3-7-sonnet",
            "claude-sonnet-4",
            "claude-opus-4",
            "claude-haiku-4-5",
            "claude-sonnet-4-5",
            "gemini-1.5-flash",
            "gemini-1.5-pro",
            "gemini-2.0-flash",
            "gemini-2.5-flash",
            "gemini-2.5-pro",
            "mistral-large",
            "mistral-small",
        ] {
            assert!(table.prices.contains_key(model), "{model} missing");
        }
    }

    #[test]
    fn builtin_list_prices() {
        let table = PriceTable::builtin();
        let check = |model: &str, expected: ModelPrice| {
            assert_eq!(table.lookup(model), Some(expected), "{model}");
        };
        check("gpt-4o", cached(2.5, 10.0, 1.25));
        check("gpt-4o-mini", cached(0.15, 0.6, 0.075));
        check("gpt-5", cached(1.25, 10.0, 0.125));
        check("o4-mini", cached(1.1, 4.4, 0.275));
        check("claude-sonnet-4-5", cached_rw(3.0, 15.0, 0.3, 3.75));
        check("claude-opus-4", cached_rw(15.0, 75.0, 1.5, 18.75));
        check("claude-haiku-4-5", cached_rw(1.0, 5.0, 0.1, 1.25));
        check("gemini-2.5-pro", cached(1.25, 10.0, 0.125));
        check("text-embedding-3-small", price(0.02, 0.0));
    }

    #[test]
    fn exact_lookup_is_case_insensitive_and_trims() {
        let table = openai_like();
        assert_eq!(input_of(&table, "gpt-4o"), Some(2.5));
        assert_eq!(input_of(&table, "GPT-4O"), Some(2.5));
        assert_eq!(input_of(&table, "  Gpt-4o-Mini\n"), Some(0.15));
        assert_eq!(input_of(&table, "gpt-4"), Some(30.0));
        let upper_key = PriceTable::empty().with_price(" My-Model ", ModelPrice::new(7.0, 7.0));
        assert_eq!(input_of(&upper_key, "my-model"), Some(7.0));
        assert_eq!(input_of(&upper_key, "MY-MODEL"), Some(7.0));
    }

    #[test]
    fn prefix_lookup_respects_boundaries() {
        let table = openai_like();
        assert_eq!(input_of(&table, "gpt-4o-2024-08-06"), Some(2.5));
        assert_eq!(input_of(&table, "gpt-4o-mini"), Some(0.15));
        assert_eq!(input_of(&table, "gpt-4o-mini-2024-07-18"), Some(0.15));
        assert_eq!(input_of(&table, "GPT-4o-Mini-2024-07-18"), Some(0.15));
        assert_eq!(input_of(&table, "gpt-4-0613"), Some(30.0));
        // Not at a boundary: `gpt-4` must not price `gpt-4o…`, `gpt-4.1` or `gpt-4oo`.
        assert_eq!(input_of(&table, "gpt-4.1"), None);
        let no_gpt_4 = PriceTable::empty().with_price("gpt-4o", ModelPrice::new(2.5, 10.0));
        assert_eq!(input_of(&no_gpt_4, "gpt-4"), None);
        assert_eq!(input_of(&no_gpt_4, "gpt-4oo"), None);
        assert_eq!(input_of(&no_gpt_4, "gpt"), None);
        let only_gpt_4 = PriceTable::empty().with_price("gpt-4", ModelPrice::new(30.0, 60.0));
        assert_eq!(input_of(&only_gpt_4, "gpt-4o"), None);
        assert_eq!(input_of(&only_gpt_4, "gpt-4o-mini"), None);
        // `:` and `@` are boundaries too.
        let tags = PriceTable::empty()
            .with_price("llama3.1", ModelPrice::new(0.1, 0.1))
            .with_price("llama3.1:70b", ModelPrice::new(0.9, 0.9));
        assert_eq!(input_of(&tags, "llama3.1:8b"), Some(0.1));
        assert_eq!(input_of(&tags, "llama3.1:70b"), Some(0.9));
        assert_eq!(input_of(&tags, "llama3.1:70b-instruct-q4"), Some(0.9));
        assert_eq!(input_of(&tags, "llama3.10"), None);
    }

    #[test]
    fn builtin_prefix_lookups() {
        let table = PriceTable::builtin();
        let cases: &[(&str, Option<f64>)] = &[
            ("gpt-4o-2024-08-06", Some(2.5)),
            ("gpt-4o-2024-05-13", Some(5.0)),
            ("gpt-4o-mini-2024-07-18", Some(0.15)),
            ("gpt-4o-realtime-preview-2024-12-17", Some(5.0)),
            ("gpt-4.1-2025-04-14", Some(2.0)),
            ("gpt-4.1-mini-2025-04-14", Some(0.4)),
            ("gpt-4", None),
            ("gpt-4-turbo", None),
            ("gpt-3.5-turbo", None),
            ("o1-2024-12-17", Some(15.0)),
            ("o1-mini-2024-09-12", Some(1.1)),
            ("o3-2025-04-16", Some(2.0)),
            ("o3-mini-2025-01-31", Some(1.1)),
            ("o3-pro-2025-06-10", Some(20.0)),
            ("o4-mini-2025-04-16", Some(1.1)),
            ("gpt-5-2025-08-07", Some(1.25)),
            ("gpt-5-chat-latest", Some(1.25)),
            ("gpt-5-mini-2025-08-07", Some(0.25)),
            ("gpt-5-nano-2025-08-07", Some(0.05)),
            ("gpt-5-pro-2025-10-06", Some(15.0)),
            ("gpt-5.1-codex", Some(1.25)),
            ("gpt-5.1-codex-mini", Some(0.25)),
            ("gpt-5.4-mini-2026-03-17", Some(0.75)),
            ("gpt-5.9", None),
            ("claude-3-5-sonnet-latest", Some(3.0)),
            ("claude-3-5-sonnet-20241022", Some(3.0)),
            ("claude-3-5-haiku-latest", Some(0.8)),
            ("claude-3-7-sonnet-20250219", Some(3.0)),
            ("claude-3-haiku-20240307", Some(0.25)),
            ("claude-sonnet-4-20250514", Some(3.0)),
            ("claude-sonnet-4-0", Some(3.0)),
            ("claude-sonnet-4-5-20250929", Some(3.0)),
            ("claude-opus-4-20250514", Some(15.0)),
            ("claude-opus-4-1-20250805", Some(15.0)),
            ("claude-opus-4-5-20251101", Some(5.0)),
            ("claude-haiku-4-5-20251001", Some(1.0)),
            ("gemini-1.5-flash-002", Some(0.075)),
            ("gemini-1.5-flash-8b-001", Some(0.0375)),
            ("gemini-2.0-flash-001", Some(0.1)),
            ("gemini-2.0-flash-lite-001", Some(0.075)),
            ("gemini-2.5-flash-preview-05-20", Some(0.3)),
            ("gemini-2.5-flash-lite-preview-09-2025", Some(0.1)),
            ("gemini-2.5-pro-preview-06-05", Some(1.25)),
            ("gemini-3-pro-preview", Some(2.0)),
            ("mistral-large-latest", Some(2.0)),
            ("mistral-large-2411", Some(2.0)),
            ("mistral-small-latest", Some(0.1)),
            ("text-embedding-3-small", Some(0.02)),
        ];
        for &(model, expected) in cases {
            assert_eq!(input_of(&table, model), expected, "{model}");
        }
    }

    #[test]
    fn provider_prefixes_are_stripped() {
        let table = PriceTable::builtin();
        let cases: &[(&str, Option<f64>)] = &[
            ("openai/gpt-4o", Some(2.5)),
            ("OpenAI/GPT-4o-Mini", Some(0.15)),
            ("azure/gpt-4.1-mini", Some(0.4)),
            ("anthropic/claude-3.5-sonnet", Some(3.0)),
            ("anthropic/claude-sonnet-4.5", Some(3.0)),
            ("anthropic.claude-3-5-sonnet-20241022-v2:0", Some(3.0)),
            ("anthropic.claude-3-haiku-20240307-v1:0", Some(0.25)),
            ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", Some(3.0)),
            ("eu.anthropic.claude-sonnet-4-20250514-v1:0", Some(3.0)),
            (
                "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0",
                Some(0.8),
            ),
            ("claude-3-5-sonnet-v2@20241022", Some(3.0)),
            ("claude-sonnet-4@20250514", Some(3.0)),
            ("models/gemini-2.5-pro", Some(1.25)),
            ("vertex_ai/gemini-2.0-flash-001", Some(0.1)),
            (
                "projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash",
                Some(0.3),
            ),
            ("mistralai/mistral-small-2503", Some(0.1)),
            ("openai/", None),
            ("anthropic.", None),
            ("us.anthropic.unknown-model", None),
        ];
        for &(model, expected) in cases {
            assert_eq!(input_of(&table, model), expected, "{model}");
        }
        // Segments with digits are part of the name.
        assert_eq!(strip_provider("gpt-4.1-mini"), "gpt-4.1-mini");
        assert_eq!(strip_provider("gemini-2.5-pro"), "gemini-2.5-pro");
        assert_eq!(
            strip_provider("us.anthropic.claude-3-5-haiku"),
            "claude-3-5-haiku"
        );
        assert_eq!(strip_provider("a/b/c"), "c");
        assert_eq!(strip_provider("x/"), "x/");
    }

    #[test]
    fn provider_specific_keys_win() {
        let table = PriceTable::builtin()
            .with_price("azure/gpt-4o", ModelPrice::new(2.75, 11.0))
            .with_price("openai/gpt-4o", ModelPrice::new(2.6, 10.5));
        assert_eq!(input_of(&table, "azure/gpt-4o"), Some(2.75));
        assert_eq!(input_of(&table, "openai/gpt-4o"), Some(2.6));
        assert_eq!(input_of(&table, "gpt-4o"), Some(2.5));
        // Exact bare name beats a shorter provider-specific prefix.
        assert_eq!(input_of(&table, "azure/gpt-4o-mini"), Some(0.15));
        assert_eq!(input_of(&table, "azure/gpt-4o-2024-08-06"), Some(2.75));
    }

    #[test]
    fn cache_and_reasoning_are_never_double_counted() {
        // OpenAI style: cache reads at half price, reasoning at the output price.
        let price = cached(2.5, 10.0, 1.25);
        let usage = TokenUsage {
            prompt: 1000,
            completion: 500,
            cache_read: 400,
            cache_write: 0,
            reasoning: 200,
        };
        let cost = price.cost(&usage);
        assert_close(cost.input, 600.0 * 2.5 / 1e6);
        assert_close(cost.cache_read, 400.0 * 1.25 / 1e6);
        assert_close(cost.cache_write, 0.0);
        assert_close(cost.prompt, 0.002);
        assert_close(cost.output, 300.0 * 10.0 / 1e6);
        assert_close(cost.reasoning, 200.0 * 10.0 / 1e6);
        assert_close(cost.completion, 0.005);
        assert_close(cost.total, 0.007);
        // The double-counting bug (cache reads added on top of the full prompt) would give more.
        let double_counted = (1000.0 * 2.5 + 400.0 * 1.25 + 500.0 * 10.0 + 200.0 * 10.0) / 1e6;
        assert!(cost.total < double_counted);

        // Anthropic style with an explicit reasoning price.
        let price = cached_rw(3.0, 15.0, 0.3, 3.75).with_reasoning(20.0);
        let usage = TokenUsage {
            prompt: 4_000_000,
            completion: 3_000_000,
            cache_read: 2_000_000,
            cache_write: 1_000_000,
            reasoning: 1_000_000,
        };
        let cost = price.cost(&usage);
        assert_eq!(cost.input, 3.0);
        assert_eq!(cost.cache_read, 0.6);
        assert_eq!(cost.cache_write, 3.75);
        assert_close(cost.prompt, 7.35);
        assert_eq!(cost.output, 30.0);
        assert_eq!(cost.reasoning, 20.0);
        assert_eq!(cost.completion, 50.0);
        assert_close(cost.total, 57.35);
        assert_eq!(cost.prompt, cost.input + cost.cache_read + cost.cache_write);
        assert_eq!(cost.completion, cost.output + cost.reasoning);
        assert_eq!(cost.total, cost.prompt + cost.completion);
    }

    #[test]
    fn missing_detail_prices_default_to_input_and_output() {
        let price = ModelPrice::new(2.0, 8.0);
        let usage = TokenUsage {
            prompt: 3_000_000,
            completion: 2_000_000,
            cache_read: 1_000_000,
            cache_write: 1_000_000,
            reasoning: 1_000_000,
        };
        let cost = price.cost(&usage);
        assert_eq!(cost.input, 2.0);
        assert_eq!(cost.cache_read, 2.0);
        assert_eq!(cost.cache_write, 2.0);
        assert_eq!(cost.output, 8.0);
        assert_eq!(cost.reasoning, 8.0);
        // Without details the total is the same as with them at default prices.
        let plain = price.cost(&TokenUsage {
            prompt: 3_000_000,
            completion: 2_000_000,
            ..TokenUsage::default()
        });
        assert_eq!(plain.total, cost.total);
        assert_eq!(plain.total, 22.0);
    }

    #[test]
    fn oversized_subsets_are_clamped() {
        let price = cached_rw(1.0, 2.0, 0.5, 1.5).with_reasoning(3.0);
        // cache_read > prompt.
        let cost = price.cost(&TokenUsage {
            prompt: 1_000_000,
            cache_read: 5_000_000,
            cache_write: 1_000_000,
            ..TokenUsage::default()
        });
        assert_eq!(cost.input, 0.0);
        assert_eq!(cost.cache_read, 0.5);
        assert_eq!(cost.cache_write, 0.0);
        assert_eq!(cost.prompt, 0.5);
        // cache_read + cache_write > prompt: reads first, writes get the rest.
        let cost = price.cost(&TokenUsage {
            prompt: 3_000_000,
            cache_read: 2_000_000,
            cache_write: 2_000_000,
            ..TokenUsage::default()
        });
        assert_eq!(cost.input, 0.0);
        assert_eq!(cost.cache_read, 1.0);
        assert_eq!(cost.cache_write, 1.5);
        // reasoning > completion.
        let cost = price.cost(&TokenUsage {
            completion: 1_000_000,
            reasoning: 9_000_000,
            ..TokenUsage::default()
        });
        assert_eq!(cost.output, 0.0);
        assert_eq!(cost.reasoning, 3.0);
        assert_eq!(cost.total, 3.0);
        // Zero usage costs nothing; huge usage does not panic.
        assert_eq!(price.cost(&TokenUsage::default()), Cost::default());
        let huge = price.cost(&TokenUsage {
            prompt: u64::MAX,
            completion: u64::MAX,
            cache_read: u64::MAX,
            cache_write: u64::MAX,
            reasoning: u64::MAX,
        });
        assert!(huge.total.is_finite() && huge.total > 0.0);
        for part in [
            huge.input,
            huge.cache_read,
            huge.cache_write,
            huge.output,
            huge.reasoning,
        ] {
            assert!(part >= 0.0);
        }
    }

    #[test]
    fn invalid_prices_set_in_code_never_give_nan_or_negative_costs() {
        let price = ModelPrice {
            input: f64::NAN,
            output: -1.0,
            cache_read: Some(f64::INFINITY),
            cache_write: Some(-2.0),
            reasoning: Some(f64::NAN),
        };
        let cost = price.cost(&TokenUsage {
            prompt: 10,
            completion: 10,
            cache_read: 3,
            cache_write: 3,
            reasoning: 3,
        });
        assert_eq!(cost, Cost::default());
        // An invalid optional price falls back to its default.
        let price = ModelPrice {
            cache_read: Some(f64::NAN),
            ..ModelPrice::new(1.0, 2.0)
        };
        let cost = price.cost(&TokenUsage {
            prompt: 1_000_000,
            cache_read: 1_000_000,
            ..TokenUsage::default()
        });
        assert_eq!(cost.cache_read, 1.0);
    }

    #[test]
    fn table_cost_uses_lookup() {
        let table = PriceTable::builtin();
        let usage = TokenUsage {
            prompt: 1_000_000,
            completion: 1_000_000,
            cache_read: 500_000,
            cache_write: 250_000,
            reasoning: 100_000,
        };
        let cost = table
            .cost("anthropic.claude-sonnet-4-5-20250929-v1:0", &usage)
            .unwrap();
        assert_close(cost.input, 0.25 * 3.0);
        assert_close(cost.cache_read, 0.5 * 0.3);
        assert_close(cost.cache_write, 0.25 * 3.75);
        assert_close(cost.output, 0.9 * 15.0);
        assert_close(cost.reasoning, 0.1 * 15.0);
        assert_close(cost.total, 0.75 + 0.15 + 0.9375 + 13.5 + 1.5);
        assert_eq!(table.cost("unknown-model", &usage), None);
        assert_eq!(PriceTable::empty().cost("gpt-4o", &usage), None);
    }

    #[test]
    fn json_wrapped_and_bare_shapes() {
        let wrapped = PriceTable::from_json_str(
            r#"{"models": {
                "gpt-4o": {"input": 2.5, "output": 10.0, "cache_read": 1.25},
                "Claude-X": {"input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75, "reasoning": null}
            }}"#,
        )
        .unwrap();
        assert_eq!(wrapped.len(), 2);
        assert_eq!(wrapped.lookup("gpt-4o"), Some(cached(2.5, 10.0, 1.25)));
        assert_eq!(
            wrapped.lookup("claude-x-latest"),
            Some(cached_rw(3.0, 15.0, 0.3, 3.75))
        );

        let bare = PriceTable::from_json_str(
            r#"{"gpt-4o": {"input": 2.5, "output": 10.0, "cache_read": 1.25},
                "o-thing": {"input": 1, "output": 4, "reasoning": 8}}"#,
        )
        .unwrap();
        assert_eq!(bare.len(), 2);
        assert_eq!(bare.lookup("gpt-4o"), wrapped.lookup("gpt-4o"));
        assert_eq!(
            bare.lookup("o-thing"),
            Some(ModelPrice::new(1.0, 4.0).with_reasoning(8.0))
        );

        // A model literally called "models" in a bare map.
        let odd = PriceTable::from_json_str(r#"{"models": {"input": 1, "output": 2}}"#).unwrap();
        assert_eq!(odd.lookup("models"), Some(ModelPrice::new(1.0, 2.0)));

        // Empty tables are fine.
        assert!(PriceTable::from_json_str("{}").unwrap().is_empty());
        assert!(PriceTable::from_json_str(r#"{"models": {}}"#)
            .unwrap()
            .is_empty());

        // Serialization round-trips and leaves out unset prices.
        let json = serde_json::to_string(&cached(2.5, 10.0, 1.25)).unwrap();
        assert_eq!(json, r#"{"input":2.5,"output":10.0,"cache_read":1.25}"#);
        let back: ModelPrice = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cached(2.5, 10.0, 1.25));
    }

    #[test]
    fn json_invalid_files_are_rejected() {
        let invalid = |json: &str| match PriceTable::from_json_str(json) {
            Err(PriceFileError::Invalid(msg)) => msg,
            other => panic!("expected Invalid for {json}, got {other:?}"),
        };
        assert!(invalid(r#"{"m": {"input": -0.5, "output": 1}}"#).contains("input"));
        assert!(invalid(r#"{"m": {"input": 1, "output": -1}}"#).contains("output"));
        assert!(
            invalid(r#"{"m": {"input": 1, "output": 1, "cache_read": -1}}"#).contains("cache_read")
        );
        assert!(
            invalid(r#"{"models": {"m": {"input": 1, "output": 1, "cache_write": -1}}}"#)
                .contains("cache_write")
        );
        assert!(
            invalid(r#"{"m": {"input": 1, "output": 1, "reasoning": -3}}"#).contains("reasoning")
        );
        assert!(invalid(r#"{"m": {"input": 1}}"#).contains("output"));
        assert!(
            invalid(r#"{"m": {"input": 1, "output": 1, "cached_input": 0.5}}"#)
                .contains("cached_input")
        );
        assert!(invalid(r#"{"m": {"input": "1", "output": 1}}"#).contains("\"m\""));
        assert!(invalid(r#"{"m": 3}"#).contains("\"m\""));
        assert!(
            invalid(r#"{"models": {"m": {"input": 1, "output": 1}, "n": 2}}"#).contains("\"n\"")
        );
        assert!(invalid(r#"{" ": {"input": 1, "output": 1}}"#).contains("empty"));
        assert!(invalid(
            r#"{"GPT-4o": {"input": 1, "output": 1}, "gpt-4o": {"input": 2, "output": 2}}"#
        )
        .contains("more than once"));
        assert!(invalid("[1, 2]").contains("object"));
        assert!(invalid("null").contains("object"));

        for bad_json in [
            "",
            "{",
            "{\"m\": {\"input\": 1e400, \"output\": 1}}",
            "{\"m\": NaN}",
        ] {
            assert!(
                matches!(
                    PriceTable::from_json_str(bad_json),
                    Err(PriceFileError::Parse(_))
                ),
                "{bad_json:?}"
            );
        }
        // Deep nesting is an error, not a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(PriceTable::from_json_str(&deep).is_err());
    }

    #[test]
    fn json_file_loading() {
        let dir = std::env::temp_dir();
        let unique = format!(
            "tracing-openinference-pricing-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        )
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "");
        let path = dir.join(format!("{unique}.json"));
        std::fs::write(
            &path,
            r#"{"models": {"gpt-4o": {"input": 2.0, "output": 8.0}}}"#,
        )
        .unwrap();
        let loaded = PriceTable::load_json_file(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(input_of(&loaded, "gpt-4o-2024-08-06"), Some(2.0));

        let missing = dir.join(format!("{unique}-missing.json"));
        match PriceTable::load_json_file(&missing) {
            Err(err @ PriceFileError::Io(_)) => {
                assert!(err.to_string().contains(&unique), "{err}");
                assert!(std::error::Error::source(&err).is_some());
            }
            other => panic!("expected Io, got {other:?}"),
        }
    }

    #[test]
    fn overrides_win() {
        let custom = ModelPrice::new(1.0, 1.0);
        let table = PriceTable::builtin().with_price("gpt-4o", custom);
        assert_eq!(table.lookup("gpt-4o"), Some(custom));
        assert_eq!(table.lookup("openai/gpt-4o-2024-08-06"), Some(custom));
        // A more specific built-in key still wins over the overridden prefix.
        assert_eq!(input_of(&table, "gpt-4o-mini"), Some(0.15));

        let mut table = PriceTable::builtin();
        let len = table.len();
        table.set_price("GPT-4O", custom);
        assert_eq!(table.len(), len);
        assert_eq!(table.lookup("gpt-4o"), Some(custom));

        let mut base = PriceTable::builtin();
        let file = PriceTable::from_json_str(
            r#"{"claude-sonnet-4": {"input": 2, "output": 10}, "new-model-with-a-long-name": {"input": 9, "output": 9}}"#,
        )
        .unwrap();
        base.merge(file);
        assert_eq!(base.len(), len + 1);
        assert_eq!(input_of(&base, "claude-sonnet-4-20250514"), Some(2.0));
        assert_eq!(input_of(&base, "new-model-with-a-long-name-v2"), Some(9.0));
        // Merging into an empty table keeps the prefix search working for long keys.
        let mut empty = PriceTable::empty();
        assert!(empty.is_empty());
        empty.merge(PriceTable::builtin());
        assert_eq!(
            input_of(&empty, "gpt-4o-mini-realtime-preview-2024-12-17"),
            Some(0.6)
        );
    }

    #[test]
    fn hostile_model_names_do_not_panic_or_match() {
        let table = PriceTable::builtin();
        let long_dashes = "-".repeat(1_000_000);
        let long_prefixed = format!("gpt-4o-{}", "x".repeat(10_000));
        let names = [
            "",
            " ",
            "-",
            "@",
            ":",
            "/",
            ".",
            "..",
            "./.",
            "gpt-4o\u{0}",
            "ǅ-Ǆ-ǆ",
            "İstanbul-gpt-4o",
            "gpt‑4o", // non-ASCII hyphen
            "\u{1F600}-gpt-4o",
            long_dashes.as_str(),
            long_prefixed.as_str(),
        ];
        for name in names {
            assert_eq!(table.lookup(name), None, "{name:?}");
        }
        // Non-ASCII case folding still finds ASCII keys.
        let table = PriceTable::empty().with_price("ÉLAN-1", ModelPrice::new(1.0, 1.0));
        assert_eq!(input_of(&table, "élan-1-preview"), Some(1.0));
        assert_eq!(input_of(&table, "ÉLAN-1"), Some(1.0));
    }

    #[test]
    fn lowercase_borrows_lowercase_ascii() {
        assert!(matches!(lowercase("gpt-4o-mini"), Cow::Borrowed(_)));
        assert!(matches!(lowercase("GPT-4o"), Cow::Owned(ref s) if s == "gpt-4o"));
        assert!(matches!(lowercase("ÉLAN"), Cow::Owned(ref s) if s == "élan"));
    }

    #[test]
    fn error_display_and_source() {
        let parse = PriceTable::from_json_str("{").unwrap_err();
        assert!(parse
            .to_string()
            .starts_with("the price file is not valid JSON"));
        assert!(std::error::Error::source(&parse).is_some());
        let invalid = PriceFileError::Invalid("bad".to_owned());
        assert_eq!(invalid.to_string(), "invalid price file: bad");
        assert!(std::error::Error::source(&invalid).is_none());
        let io = PriceFileError::Io(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        assert_eq!(io.to_string(), "could not read the price file: gone");
    }
}

//! [`PriceTable`]: model names to prices, with the built-in list, overrides and JSON price
//! files, and how a model name finds its price.

use super::builtin::BUILTIN_PRICES;
use super::{Cost, ModelPrice, TokenUsage};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// Model names longer than this (in bytes, after trimming) are never priced.
const MAX_MODEL_NAME_LEN: usize = 512;

/// How many `region.` / `provider.` segments [`strip_provider`] removes at most.
const MAX_DOT_PREFIXES: usize = 3;

/// A table of model prices: built-in defaults plus overrides.
///
/// Model names are matched case-insensitively, in this order:
///
/// 1. the exact name;
/// 2. the name without a provider prefix: everything up to the last `/` (`openai/gpt-4o`,
///    `models/gemini-2.5-pro`, a Bedrock ARN), then leading `word.` segments made of letters only
///    (Bedrock's `anthropic.claude-…`, `us.anthropic.claude-…`);
/// 3. the longest table key that is a prefix of the name and ends at a `-`, `:` or `@` in it,
///    tried on the full name and then on the name without provider prefix. So
///    `gpt-4o-2024-08-06` gets the `gpt-4o` price, `gpt-4o-mini` its own, and `gpt-4` or
///    `gpt-4.1` never get the `gpt-4o` price.
///
/// # Example
///
/// ```
/// use tracing_openinference::pricing::{ModelPrice, PriceTable};
///
/// let table = PriceTable::empty()
///     .with_price("gpt-4o", ModelPrice::new(2.5, 10.0))
///     .with_price("gpt-4o-mini", ModelPrice::new(0.15, 0.6));
///
/// assert_eq!(table.lookup("GPT-4o").map(|p| p.input), Some(2.5));
/// assert_eq!(table.lookup("gpt-4o-2024-08-06").map(|p| p.input), Some(2.5));
/// assert_eq!(table.lookup("gpt-4o-mini-2024-07-18").map(|p| p.input), Some(0.15));
/// assert_eq!(table.lookup("azure/gpt-4o-mini").map(|p| p.input), Some(0.15));
/// assert_eq!(table.lookup("gpt-4"), None);
/// ```
#[derive(Debug, Clone)]
pub struct PriceTable {
    /// Keyed by the trimmed, lowercased model name.
    pub(super) prices: HashMap<String, ModelPrice>,
    /// Length in bytes of the longest key, to bound the prefix search.
    max_key_len: usize,
}

impl PriceTable {
    /// The built-in table: public list prices of common OpenAI, Anthropic, Google and Mistral
    /// models as of the release of this crate (see the [module documentation](super) for what
    /// they do not cover).
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::PriceTable;
    ///
    /// let table = PriceTable::builtin();
    /// let sonnet = table.lookup("claude-3-5-sonnet-latest").unwrap();
    /// assert_eq!((sonnet.input, sonnet.output), (3.0, 15.0));
    /// assert_eq!(sonnet.cache_read, Some(0.3));
    /// assert_eq!(sonnet.cache_write, Some(3.75));
    /// assert!(table.lookup("anthropic.claude-3-5-sonnet-20241022-v2:0").is_some());
    /// ```
    #[must_use]
    pub fn builtin() -> Self {
        let mut table = Self {
            prices: HashMap::with_capacity(BUILTIN_PRICES.len()),
            max_key_len: 0,
        };
        for &(model, price) in BUILTIN_PRICES {
            table.set_price(model, price);
        }
        table
    }

    /// A table with no prices at all.
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::PriceTable;
    ///
    /// let table = PriceTable::empty();
    /// assert!(table.is_empty());
    /// assert_eq!(table.lookup("gpt-4o"), None);
    /// ```
    #[must_use]
    pub fn empty() -> Self {
        Self {
            prices: HashMap::new(),
            max_key_len: 0,
        }
    }

    /// The table with `model` priced at `price`, replacing any price it had. Keys are
    /// case-insensitive.
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::{ModelPrice, PriceTable};
    ///
    /// // A negotiated rate overrides the list price.
    /// let table = PriceTable::builtin().with_price("GPT-4o", ModelPrice::new(2.0, 8.0));
    /// assert_eq!(table.lookup("gpt-4o").map(|p| p.output), Some(8.0));
    /// ```
    #[must_use]
    pub fn with_price(mut self, model: impl Into<String>, price: ModelPrice) -> Self {
        self.set_price(model, price);
        self
    }

    /// Prices `model` at `price`, replacing any price it had. Keys are case-insensitive.
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::{ModelPrice, PriceTable};
    ///
    /// let mut table = PriceTable::empty();
    /// table.set_price("my-model", ModelPrice::new(1.0, 2.0));
    /// table.set_price("My-Model", ModelPrice::new(3.0, 4.0));
    /// assert_eq!(table.len(), 1);
    /// assert_eq!(table.lookup("my-model").map(|p| p.input), Some(3.0));
    /// ```
    pub fn set_price(&mut self, model: impl Into<String>, price: ModelPrice) {
        let key = normalize_key(model.into());
        self.max_key_len = self.max_key_len.max(key.len());
        self.prices.insert(key, price);
    }

    /// A table holding only the prices of a JSON price file (no built-in prices; combine with
    /// [`merge`](Self::merge) to override the built-in table).
    ///
    /// The file is either `{"models": {"<model>": <price>, …}}` or the bare map
    /// `{"<model>": <price>, …}`, where `<price>` is a [`ModelPrice`] object in USD per 1M tokens
    /// such as `{"input": 2.5, "output": 10.0, "cache_read": 1.25}`.
    ///
    /// # Errors
    ///
    /// [`PriceFileError::Parse`] when the text is not JSON; [`PriceFileError::Invalid`] when it is
    /// not of that shape, a price is negative or not finite, a field is unknown or missing, a
    /// model name is empty, or two names differ only in case.
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::PriceTable;
    ///
    /// let wrapped = PriceTable::from_json_str(
    ///     r#"{"models": {"gpt-4o": {"input": 2.0, "output": 8.0, "cache_read": 1.0}}}"#,
    /// )?;
    /// let bare = PriceTable::from_json_str(r#"{"gpt-4o": {"input": 2.0, "output": 8.0, "cache_read": 1.0}}"#)?;
    /// assert_eq!(wrapped.lookup("gpt-4o"), bare.lookup("gpt-4o"));
    /// assert_eq!(wrapped.len(), 1);
    ///
    /// assert!(PriceTable::from_json_str(r#"{"gpt-4o": {"input": -1.0, "output": 8.0}}"#).is_err());
    /// # Ok::<(), tracing_openinference::pricing::PriceFileError>(())
    /// ```
    pub fn from_json_str(json: &str) -> Result<Self, PriceFileError> {
        let document: serde_json::Value =
            serde_json::from_str(json).map_err(PriceFileError::Parse)?;
        let serde_json::Value::Object(top) = document else {
            return Err(PriceFileError::Invalid(
                "expected a JSON object: {\"models\": {\"<model>\": {\"input\": …, \"output\": …}}}"
                    .to_owned(),
            ));
        };
        // `{"models": {...}}`, unless "models" is itself a model priced in a bare map.
        let models = match top.get("models") {
            Some(serde_json::Value::Object(inner)) if !inner.contains_key("input") => inner,
            _ => &top,
        };

        let mut table = Self {
            prices: HashMap::with_capacity(models.len()),
            max_key_len: 0,
        };
        for (name, value) in models {
            let key = normalize_key(name.as_str());
            if key.is_empty() {
                return Err(PriceFileError::Invalid("empty model name".to_owned()));
            }
            let price = ModelPrice::deserialize(value)
                .map_err(|err| PriceFileError::Invalid(format!("model {name:?}: {err}")))?;
            price
                .check()
                .map_err(|msg| PriceFileError::Invalid(format!("model {name:?}: {msg}")))?;
            if table.prices.contains_key(&key) {
                return Err(PriceFileError::Invalid(format!(
                    "model {name:?} is listed more than once (names are case-insensitive)"
                )));
            }
            table.max_key_len = table.max_key_len.max(key.len());
            table.prices.insert(key, price);
        }
        Ok(table)
    }

    /// Reads a JSON price file; see [`from_json_str`](Self::from_json_str) for the format.
    ///
    /// # Errors
    ///
    /// [`PriceFileError::Io`] when the file cannot be read (the message names the path), and the
    /// errors of [`from_json_str`](Self::from_json_str).
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::{PriceFileError, PriceTable};
    ///
    /// let path = std::env::temp_dir().join(format!("prices-doctest-{}.json", std::process::id()));
    /// std::fs::write(&path, r#"{"models": {"my-model": {"input": 1.0, "output": 2.0}}}"#).unwrap();
    ///
    /// let mut table = PriceTable::builtin();
    /// table.merge(PriceTable::load_json_file(&path)?);
    /// assert_eq!(table.lookup("my-model").map(|p| p.output), Some(2.0));
    /// std::fs::remove_file(&path).unwrap();
    ///
    /// assert!(matches!(
    ///     PriceTable::load_json_file("/no/such/prices.json"),
    ///     Err(PriceFileError::Io(_))
    /// ));
    /// # Ok::<(), PriceFileError>(())
    /// ```
    pub fn load_json_file(path: impl AsRef<Path>) -> Result<Self, PriceFileError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|err| {
            PriceFileError::Io(std::io::Error::new(
                err.kind(),
                format!("{}: {err}", path.display()),
            ))
        })?;
        Self::from_json_str(&text)
    }

    /// Adds every price of `other` to this table; where both have a model, `other`'s price wins.
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::{ModelPrice, PriceTable};
    ///
    /// let mut table = PriceTable::builtin();
    /// let before = table.len();
    /// table.merge(
    ///     PriceTable::empty()
    ///         .with_price("gpt-4o", ModelPrice::new(2.0, 8.0))
    ///         .with_price("my-model", ModelPrice::new(1.0, 1.0)),
    /// );
    /// assert_eq!(table.lookup("gpt-4o").map(|p| p.input), Some(2.0));
    /// assert_eq!(table.len(), before + 1);
    /// ```
    pub fn merge(&mut self, other: PriceTable) {
        self.max_key_len = self.max_key_len.max(other.max_key_len);
        self.prices.extend(other.prices);
    }

    /// The price of `model`, matched as described on [`PriceTable`]; `None` when no key matches.
    ///
    /// Cheap enough to call for every LLM span: it does not allocate when the name is lowercase
    /// ASCII, and the prefix search is bounded by the longest key.
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::PriceTable;
    ///
    /// let table = PriceTable::builtin();
    /// let gpt_4o = table.lookup("gpt-4o").unwrap();
    /// assert_eq!(table.lookup("openai/gpt-4o-2024-11-20"), Some(gpt_4o));
    /// assert_ne!(table.lookup("gpt-4o-mini"), Some(gpt_4o));
    /// assert_eq!(table.lookup("us.anthropic.claude-3-7-sonnet-20250219-v1:0").map(|p| p.input), Some(3.0));
    /// assert_eq!(table.lookup("claude-sonnet-4@20250514").map(|p| p.input), Some(3.0));
    /// assert_eq!(table.lookup("not-a-model"), None);
    /// ```
    #[must_use]
    pub fn lookup(&self, model: &str) -> Option<ModelPrice> {
        let model = model.trim();
        if model.is_empty() || model.len() > MAX_MODEL_NAME_LEN || self.prices.is_empty() {
            return None;
        }
        let lowered = lowercase(model);
        let full: &str = &lowered;
        let bare = strip_provider(full);
        let stripped = bare.len() != full.len();

        self.exact(full)
            .or_else(|| stripped.then(|| self.exact(bare)).flatten())
            .or_else(|| self.longest_prefix(full))
            .or_else(|| stripped.then(|| self.longest_prefix(bare)).flatten())
    }

    /// The cost of one call to `model`, or `None` when the model has no price. See
    /// [`ModelPrice::cost`] for how it is computed.
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::{PriceTable, TokenUsage};
    ///
    /// let table = PriceTable::builtin();
    /// // o3 lists $2/M input, $0.50/M cached input, $8/M output; reasoning is billed as output.
    /// let usage = TokenUsage {
    ///     prompt: 2_000_000,
    ///     completion: 1_000_000,
    ///     cache_read: 1_000_000,
    ///     reasoning: 500_000,
    ///     ..TokenUsage::default()
    /// };
    /// let cost = table.cost("o3-2025-04-16", &usage).unwrap();
    /// assert_eq!(cost.input, 2.0);
    /// assert_eq!(cost.cache_read, 0.5);
    /// assert_eq!(cost.output, 4.0);
    /// assert_eq!(cost.reasoning, 4.0);
    /// assert_eq!(cost.total, 10.5);
    /// ```
    #[must_use]
    pub fn cost(&self, model: &str, usage: &TokenUsage) -> Option<Cost> {
        self.lookup(model).map(|price| price.cost(usage))
    }

    /// The number of models in the table.
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::{ModelPrice, PriceTable};
    ///
    /// assert_eq!(PriceTable::empty().len(), 0);
    /// let table = PriceTable::empty().with_price("a", ModelPrice::new(1.0, 1.0));
    /// assert_eq!(table.len(), 1);
    /// assert!(PriceTable::builtin().len() > 30);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.prices.len()
    }

    /// Whether the table has no prices.
    ///
    /// # Example
    ///
    /// ```
    /// use tracing_openinference::pricing::PriceTable;
    ///
    /// assert!(PriceTable::empty().is_empty());
    /// assert!(!PriceTable::builtin().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    fn exact(&self, name: &str) -> Option<ModelPrice> {
        if name.len() > self.max_key_len {
            return None;
        }
        self.prices.get(name).copied()
    }

    /// The price of the longest key that equals `name[..i]` where `name[i]` is `-`, `:` or `@`.
    fn longest_prefix(&self, name: &str) -> Option<ModelPrice> {
        let bytes = name.as_bytes();
        // Only prefixes no longer than the longest key can match.
        let last = self.max_key_len.min(bytes.len().saturating_sub(1));
        (1..=last)
            .rev()
            .filter(|&i| matches!(bytes[i], b'-' | b':' | b'@'))
            // `i` indexes an ASCII byte, so it is a char boundary.
            .find_map(|i| self.prices.get(&name[..i]).copied())
    }
}

/// Why a price file could not be read.
///
/// # Example
///
/// ```
/// use tracing_openinference::pricing::{PriceFileError, PriceTable};
///
/// let err = PriceTable::from_json_str("{not json").unwrap_err();
/// assert!(matches!(err, PriceFileError::Parse(_)));
///
/// let err = PriceTable::from_json_str(r#"{"gpt-4o": {"input": 2.5}}"#).unwrap_err();
/// assert!(matches!(err, PriceFileError::Invalid(_)));
/// assert!(err.to_string().contains("output"));
/// ```
#[derive(Debug)]
pub enum PriceFileError {
    /// The file could not be read.
    Io(std::io::Error),
    /// The text is not valid JSON.
    Parse(serde_json::Error),
    /// The JSON is not a valid price table; the message says what is wrong and where.
    Invalid(String),
}

impl fmt::Display for PriceFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(err) => write!(f, "could not read the price file: {err}"),
            Self::Parse(err) => write!(f, "the price file is not valid JSON: {err}"),
            Self::Invalid(msg) => write!(f, "invalid price file: {msg}"),
        }
    }
}

impl std::error::Error for PriceFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(err) => Some(err),
            Self::Parse(err) => Some(err),
            Self::Invalid(_) => None,
        }
    }
}

/// The table key for a model name: trimmed and lowercased.
pub(super) fn normalize_key(model: impl AsRef<str>) -> String {
    model.as_ref().trim().to_lowercase()
}

/// `s` lowercased the same way as the keys, borrowing when it already is lowercase ASCII.
pub(super) fn lowercase(s: &str) -> Cow<'_, str> {
    if !s.is_ascii() {
        Cow::Owned(s.to_lowercase())
    } else if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// `name` without a provider prefix: everything up to the last `/`, then up to
/// [`MAX_DOT_PREFIXES`] leading segments of letters (and `-`, `_`) that end in `.`, such as
/// Bedrock's `us.anthropic.`. A segment with a digit (`gpt-4.1`, `gemini-2.5-pro`) is part of the
/// model name and stays.
pub(super) fn strip_provider(name: &str) -> &str {
    let mut rest = match name.rfind('/') {
        Some(slash) => &name[slash + 1..],
        None => name,
    };
    for _ in 0..MAX_DOT_PREFIXES {
        let Some(dot) = rest.find('.') else { break };
        let segment = &rest[..dot];
        let is_prefix = !segment.is_empty()
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_')
            && dot + 1 < rest.len();
        if !is_prefix {
            break;
        }
        rest = &rest[dot + 1..];
    }
    if rest.is_empty() {
        name
    } else {
        rest
    }
}

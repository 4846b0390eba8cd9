//! Recording values the layer derives onto the bridge's span.
//!
//! `tracing-opentelemetry` keeps its span data private; the only way to add an attribute from
//! inside a layer is to hand the bridge a `Record` whose fields it turns into attributes. The
//! fields here belong to one static callsite that lists every key the layer may add itself.

use tracing_core::callsite::{Callsite, Identifier};
use tracing_core::field::{Field, FieldSet, Value};
use tracing_core::metadata::{Kind, Level, Metadata};
use tracing_core::subscriber::Interest;

/// Every key the layer can record on a span by itself (derived, inherited or from the helpers).
pub(crate) const KEYS: &[&str] = &[
    "openinference.span.kind",
    "session.id",
    "user.id",
    "metadata",
    "tag.tags",
    "llm.prompt_template.template",
    "llm.prompt_template.variables",
    "llm.prompt_template.version",
    "gen_ai.prompt.name",
    "gen_ai.prompt.version",
    "input.value",
    "input.mime_type",
    "output.value",
    "output.mime_type",
    "llm.model_name",
    "llm.response.model_name",
    "llm.provider",
    "llm.system",
    "llm.invocation_parameters",
    "llm.input_messages",
    "llm.output_messages",
    "llm.tools",
    "llm.finish_reason",
    "llm.token_count.prompt",
    "llm.token_count.completion",
    "llm.token_count.total",
    "llm.token_count.prompt_details.cache_read",
    "llm.token_count.prompt_details.cache_write",
    "llm.token_count.completion_details.reasoning",
    "llm.cost.prompt",
    "llm.cost.completion",
    "llm.cost.total",
    "llm.cost.prompt_details.input",
    "llm.cost.prompt_details.cache_read",
    "llm.cost.prompt_details.cache_write",
    "llm.cost.completion_details.output",
    "llm.cost.completion_details.reasoning",
    "retrieval.documents",
    "reranker.input_documents",
    "reranker.output_documents",
    "embedding.embeddings",
    "embedding.model_name",
    "tool.name",
    "tool.id",
    "tool.description",
    "tool.parameters",
    "agent.name",
    "error.type",
    "exception.type",
    "exception.message",
    "otel.status_code",
    "otel.status_description",
    "gen_ai.response.time_to_first_chunk",
    "gen_ai.request.stream",
    "openinference.stream.incomplete",
    "gen_ai.response.id",
];

/// The callsite the layer's own fields belong to. It is never registered or enabled: its
/// metadata only gives the fields a home.
pub(crate) struct LayerCallsite;

static CALLSITE: LayerCallsite = LayerCallsite;

static META: Metadata<'static> = Metadata::new(
    "tracing_openinference",
    "tracing_openinference",
    Level::TRACE,
    None,
    None,
    None,
    FieldSet::new(KEYS, Identifier(&CALLSITE)),
    Kind::SPAN,
);

impl Callsite for LayerCallsite {
    fn set_interest(&self, _interest: Interest) {}

    fn metadata(&self) -> &Metadata<'_> {
        &META
    }
}

/// The field for `key`, if the layer may record it.
pub(crate) fn field(key: &str) -> Option<Field> {
    META.fields().field(key)
}

/// The fields of [`KEYS`], resolved once.
fn fields() -> &'static [Field] {
    static FIELDS: std::sync::OnceLock<Vec<Field>> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| META.fields().iter().collect())
}

/// The field at position `index` of [`KEYS`].
pub(crate) fn field_at(index: usize) -> Field {
    // KEYS is non-empty and indexes come from KEYS itself.
    let all = fields();
    all.get(index)
        .or_else(|| all.first())
        .cloned()
        .expect("KEYS is not empty")
}

/// The position of `key` in [`KEYS`], for use in `const` context (see [`key_index!`]): a key
/// that is not in [`KEYS`] fails to compile.
pub(crate) const fn index_of(key: &str) -> usize {
    let mut i = 0;
    while i < KEYS.len() {
        if str_eq(KEYS[i], key) {
            return i;
        }
        i += 1;
    }
    panic!("not a key the layer records")
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The position of a literal key in [`KEYS`], computed at compile time.
macro_rules! key_index {
    ($key:literal) => {
        const { $crate::layer::synthetic::index_of($key) }
    };
}
pub(crate) use key_index;

/// An owned field value the layer records later, at span close.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OwnedValue {
    /// A string.
    Str(String),
    /// A static string.
    Static(&'static str),
    /// An integer.
    I64(i64),
    /// A float.
    F64(f64),
    /// A boolean.
    Bool(bool),
}

impl OwnedValue {
    /// The value as a `tracing` value.
    pub(crate) fn as_value(&self) -> &dyn Value {
        match self {
            OwnedValue::Str(s) => s,
            OwnedValue::Static(s) => s,
            OwnedValue::I64(v) => v,
            OwnedValue::F64(v) => v,
            OwnedValue::Bool(v) => v,
        }
    }
}

/// How many values go into one `Record` handed to the bridge.
const CHUNK: usize = 16;

/// Hands `values` to `record` in `Record`s of up to [`CHUNK`] values each.
pub(crate) fn record_all(
    values: &[(Field, OwnedValue)],
    mut record: impl FnMut(&tracing_core::span::Record<'_>),
) {
    for chunk in values.chunks(CHUNK) {
        let mut slots: [(&Field, Option<&dyn Value>); CHUNK] = [(&chunk[0].0, None); CHUNK];
        for (slot, (field, value)) in slots.iter_mut().zip(chunk) {
            *slot = (field, Some(value.as_value()));
        }
        let set = META.fields().value_set(&slots);
        record(&tracing_core::span::Record::new(&set));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_field() {
        for (i, key) in KEYS.iter().enumerate() {
            assert_eq!(field(key).map(|f| f.name()), Some(*key));
            assert_eq!(field_at(i).name(), *key);
        }
        assert!(field("not.a.key").is_none());
    }
}

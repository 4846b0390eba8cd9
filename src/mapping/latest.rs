//! The GenAI span attributes whose names changed after semantic-conventions v1.41.0 (see
//! `crate::semconv`): a span may record either name; it leaves under the v1.41.0 name by
//! default and under the latest one when the layer opts in.

use opentelemetry::{Key, KeyValue};

/// The renamed attributes, as (v1.41.0 name, latest name).
const RENAMED: [(&str, &str); 1] = [(
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
)];

/// Gives each renamed attribute its v1.41.0 name, which the rest of the mapping reads (an
/// attribute already present under that name wins and the other is dropped).
pub(super) fn to_v1_41(attrs: &mut Vec<KeyValue>) {
    for (old, new) in RENAMED {
        rename(attrs, new, old);
    }
}

/// Gives each renamed attribute its latest name.
pub(super) fn to_latest(attrs: &mut Vec<KeyValue>) {
    for (old, new) in RENAMED {
        rename(attrs, old, new);
    }
}

/// Renames `from` to `to`, unless `to` is present: then `from` is dropped.
fn rename(attrs: &mut Vec<KeyValue>, from: &'static str, to: &'static str) {
    let Some(i) = attrs.iter().position(|kv| kv.key.as_str() == from) else {
        return;
    };
    if attrs.iter().any(|kv| kv.key.as_str() == to) {
        attrs.remove(i);
    } else {
        attrs[i].key = Key::from_static_str(to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(attrs: &[KeyValue]) -> Vec<&str> {
        attrs.iter().map(|kv| kv.key.as_str()).collect()
    }

    #[test]
    fn either_name_leaves_under_the_chosen_one_once() {
        let mut a = vec![KeyValue::new(
            "gen_ai.usage.cache_write.input_tokens",
            7_i64,
        )];
        to_v1_41(&mut a);
        assert_eq!(keys(&a), ["gen_ai.usage.cache_creation.input_tokens"]);
        to_latest(&mut a);
        assert_eq!(keys(&a), ["gen_ai.usage.cache_write.input_tokens"]);
        assert_eq!(a[0].value, opentelemetry::Value::I64(7));

        let mut both = vec![
            KeyValue::new("gen_ai.usage.cache_creation.input_tokens", 1_i64),
            KeyValue::new("gen_ai.usage.cache_write.input_tokens", 1_i64),
        ];
        to_latest(&mut both);
        assert_eq!(keys(&both), ["gen_ai.usage.cache_write.input_tokens"]);
    }
}

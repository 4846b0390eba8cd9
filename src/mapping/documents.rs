//! A retriever's or reranker's documents as its `output.value`, and an embedding's input
//! texts as its `input.value`, rebuilt from the flattened attributes.
//!
//! MLflow's document view and scorers read a retriever's `output.value` as a list of
//! `{"page_content", "metadata": {"doc_id", "score", ...}, "id"}` (LangChain's document shape);
//! Langfuse shows it as it is. Neither reads the flattened `retrieval.documents.*`.

use super::json_text::{push_serde, push_str, push_value};
use opentelemetry::{KeyValue, Value};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

/// One document being rebuilt.
#[derive(Default)]
struct Doc<'a> {
    id: Option<&'a Value>,
    content: Option<&'a Value>,
    score: Option<&'a Value>,
    metadata: Option<&'a Value>,
}

/// An attribute value as JSON.
fn json_of(value: &Value) -> Json {
    match value {
        Value::String(s) => Json::String(s.as_str().to_owned()),
        Value::I64(i) => Json::from(*i),
        Value::F64(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Value::Bool(b) => Json::Bool(*b),
        other => Json::String(other.to_string()),
    }
}

/// `<prefix>.<i>.<rest>` split into the index and the rest.
fn indexed_field<'k>(key: &'k str, prefix: &str) -> Option<(usize, &'k str)> {
    if key.as_bytes().get(prefix.len()) != Some(&b'.') {
        return None;
    }
    let rest = key.strip_prefix(prefix)?.strip_prefix('.')?;
    let (index, field) = rest.split_once('.')?;
    Some((index.parse().ok()?, field))
}

/// The documents under `prefix` (`retrieval.documents`, `reranker.output_documents`) as a
/// JSON list of `{"page_content", "metadata": {"doc_id", "score", ...}, "id"}`; `None` when
/// there are none.
/// Contents longer than `max_text` bytes are cut (0: none are).
pub(crate) fn documents_json(attrs: &[KeyValue], prefix: &str, max_text: usize) -> Option<String> {
    let mut docs: BTreeMap<usize, Doc<'_>> = BTreeMap::new();
    for kv in attrs {
        let Some((index, field)) = indexed_field(kv.key.as_str(), prefix) else {
            continue;
        };
        let doc = docs.entry(index).or_default();
        match field {
            "document.id" => doc.id = Some(&kv.value),
            "document.content" => doc.content = Some(&kv.value),
            "document.score" => doc.score = Some(&kv.value),
            "document.metadata" => doc.metadata = Some(&kv.value),
            _ => {}
        }
    }
    if docs.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(64);
    out.push('[');
    for (i, d) in docs.values().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut metadata = Map::new();
        if let Some(id) = d.id {
            metadata.insert("doc_id".into(), json_of(id));
        }
        if let Some(score) = d.score {
            metadata.insert("score".into(), json_of(score));
        }
        match d.metadata {
            Some(Value::String(s)) => match serde_json::from_str::<Json>(s.as_str()) {
                Ok(Json::Object(user)) => {
                    for (k, v) in user {
                        metadata.entry(k).or_insert(v);
                    }
                }
                _ => {
                    metadata.insert("metadata".into(), Json::String(s.as_str().to_owned()));
                }
            },
            Some(other) => {
                metadata.insert("metadata".into(), json_of(other));
            }
            None => {}
        }
        out.push_str("{\"page_content\":");
        match d.content {
            Some(Value::String(s)) => {
                push_str(&mut out, &super::json_text::cut(s.as_str(), max_text))
            }
            Some(other) => push_value(&mut out, other),
            None => out.push_str("\"\""),
        }
        out.push_str(",\"metadata\":");
        push_serde(&mut out, &metadata);
        out.push_str(",\"id\":");
        match d.id {
            Some(id) => push_value(&mut out, id),
            None => out.push_str("null"),
        }
        out.push('}');
    }
    out.push(']');
    Some(out)
}

/// An embedding span's input texts (`embedding.embeddings.N.embedding.text`): one as it is
/// (`text/plain`), several as a JSON list of strings; `None` when there are none.
pub(crate) fn embedding_input(attrs: &[KeyValue]) -> Option<(Value, &'static str)> {
    let mut texts: BTreeMap<usize, &Value> = BTreeMap::new();
    for kv in attrs {
        if let Some((index, "embedding.text")) =
            indexed_field(kv.key.as_str(), "embedding.embeddings")
        {
            texts.insert(index, &kv.value);
        }
    }
    match texts.len() {
        0 => None,
        1 => texts
            .into_values()
            .next()
            .map(|v| (v.clone(), "text/plain")),
        _ => {
            let list: Vec<Json> = texts.into_values().map(json_of).collect();
            let text = serde_json::to_string(&list).ok()?;
            Some((Value::from(text), "application/json"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::flatten::flatten_semantic_text;

    #[test]
    fn documents_become_page_content_with_their_id_and_score() {
        let mut attrs = Vec::new();
        assert!(flatten_semantic_text(
            "retrieval.documents",
            r#"[{"id":"kb-1","content":"Ships in 2 days.","score":0.9,"metadata":{"source":"faq"}},
                {"id":7,"content":"Free returns."}]"#,
            &mut attrs,
        ));
        let json: Json =
            serde_json::from_str(&documents_json(&attrs, "retrieval.documents", 0).unwrap())
                .unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"page_content": "Ships in 2 days.", "metadata": {"doc_id": "kb-1", "score": 0.9, "source": "faq"}, "id": "kb-1"},
                {"page_content": "Free returns.", "metadata": {"doc_id": 7}, "id": 7},
            ])
        );
        assert!(documents_json(&attrs, "reranker.output_documents", 0).is_none());
    }

    #[test]
    fn one_embedding_text_is_plain_and_several_are_a_list() {
        let one = vec![KeyValue::new("embedding.embeddings.0.embedding.text", "hi")];
        assert_eq!(
            embedding_input(&one),
            Some((Value::from("hi"), "text/plain"))
        );
        let two = vec![
            KeyValue::new("embedding.embeddings.1.embedding.text", "b"),
            KeyValue::new("embedding.embeddings.0.embedding.text", "a"),
        ];
        assert_eq!(
            embedding_input(&two),
            Some((Value::from(r#"["a","b"]"#), "application/json"))
        );
        assert!(embedding_input(&[]).is_none());
    }
}

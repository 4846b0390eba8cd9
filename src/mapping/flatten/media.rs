//! Video and document (file) content parts of a message, as OpenInference 0.1.42 flattens
//! them: `message_content.type = video` with `message_content.video.video.url`, and
//! `message_content.type = document` with `message_content.document.document.{url, id, name,
//! mime_type, content}`. Read from the OpenAI (`file`, `input_file`, `video_url`), Anthropic
//! (`document`) and GenAI (`uri` / `blob` / `file` with a modality) shapes.

use super::*;

/// A document given to the model: a PDF, an uploaded file or an inline text.
#[derive(Clone, Debug, Default)]
pub(super) struct Document {
    /// `document.url`: an http URL, an object-store URI or a `data:` URL.
    pub(super) url: Option<String>,
    /// `document.id`: the provider's file id.
    pub(super) id: Option<String>,
    /// `document.name`: a file name or title.
    pub(super) name: Option<String>,
    /// `document.mime_type`.
    pub(super) mime_type: Option<String>,
    /// `document.content`: the text of an inline text document.
    pub(super) content: Option<String>,
}

impl Document {
    fn is_empty(&self) -> bool {
        self.url.is_none() && self.id.is_none() && self.content.is_none()
    }
}

/// A video part: `video_url` (string or `{url}`) or a plain `url`.
pub(super) fn video_part(obj: &Map<String, Json>) -> Option<Part> {
    obj.get("video_url")
        .and_then(url_of)
        .or_else(|| str_field(obj, &["url"]).map(str::to_owned))
        .map(Part::Video)
}

/// A document part: OpenAI `file: {file_id | file_data, filename}` (or the same keys flat, as
/// the Responses API's `input_file` has them, with `file_url`), Anthropic `document` with a
/// `source` (`base64`, `url`, `text`, `file`) and a `title`.
pub(super) fn document_part(obj: &Map<String, Json>) -> Option<Part> {
    let fields = obj.get("file").and_then(Json::as_object).unwrap_or(obj);
    let mut doc = Document {
        url: str_field(fields, &["file_data", "file_url", "url"]).map(str::to_owned),
        id: str_field(fields, &["file_id"]).map(str::to_owned),
        name: str_field(fields, &["filename", "name", "title"])
            .or_else(|| str_field(obj, &["title"]))
            .map(str::to_owned),
        mime_type: str_field(fields, &["mime_type", "media_type"]).map(str::to_owned),
        content: None,
    };
    if let Some(source) = obj.get("source").and_then(Json::as_object) {
        let media_type = str_field(source, &["media_type"]);
        match str_field(source, &["type"]) {
            Some("url") => doc.url = str_field(source, &["url"]).map(str::to_owned),
            Some("text") => doc.content = str_field(source, &["data", "text"]).map(str::to_owned),
            Some("file") => doc.id = str_field(source, &["file_id"]).map(str::to_owned),
            _ => doc.url = str_field(source, &["data"]).map(|d| data_url(media_type, d)),
        }
        doc.mime_type = doc.mime_type.or(media_type.map(str::to_owned));
    }
    if doc.mime_type.is_none() {
        doc.mime_type = doc
            .url
            .as_deref()
            .and_then(data_url_mime)
            .map(str::to_owned);
    }
    (!doc.is_empty()).then_some(Part::Document(doc))
}

/// The MIME type of a `data:<mime>;base64,...` URL.
fn data_url_mime(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("data:")?;
    let end = rest.find([';', ','])?;
    Some(&rest[..end]).filter(|m| !m.is_empty())
}

/// A GenAI media part whose modality is neither image nor audio: video, else a document.
pub(super) fn genai_other_part(modality: &str, url: String, mime_type: Option<&str>) -> Part {
    if modality == "video" {
        return Part::Video(url);
    }
    Part::Document(Document {
        url: Some(url),
        mime_type: mime_type.map(str::to_owned),
        ..Document::default()
    })
}

/// Pushes the attributes of a video or document part under `mc` (which ends with
/// `message_content.`); other parts push nothing.
pub(super) fn emit_media(mc: &str, part: Part, out: &mut Vec<KeyValue>) {
    match part {
        Part::Video(url) => {
            push_str(out, cat(mc, "type"), "video".to_owned());
            push_str(out, cat(mc, "video.video.url"), url);
        }
        Part::Document(doc) => {
            push_str(out, cat(mc, "type"), "document".to_owned());
            let fields = [
                ("document.document.url", doc.url),
                ("document.document.id", doc.id),
                ("document.document.name", doc.name),
                ("document.document.mime_type", doc.mime_type),
                ("document.document.content", doc.content),
            ];
            for (suffix, value) in fields {
                if let Some(value) = value {
                    push_str(out, cat(mc, suffix), value);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn flat(json: Json) -> BTreeMap<String, String> {
        let mut out = Vec::new();
        assert!(flatten_messages("llm.input_messages", &json, &mut out));
        out.into_iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect()
    }

    #[test]
    fn video_and_document_parts_in_every_shape() {
        let m = flat(serde_json::json!([{"role": "user", "content": [
            {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
            {"type": "input_file", "file_id": "file-123"},
            {"type": "document", "source": {"type": "url", "url": "https://x/b.pdf"}, "title": "B"},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello"}},
            {"type": "uri", "modality": "video", "uri": "gs://b/v.mp4"},
            {"type": "blob", "mime_type": "application/pdf", "content": "JVBE"},
        ]}]));
        let c = "llm.input_messages.0.message.contents";
        let get = |k: usize, s: &str| {
            m.get(&format!("{c}.{k}.message_content.{s}"))
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(get(0, "type"), "video");
        assert_eq!(get(0, "video.video.url"), "https://x/v.mp4");
        assert_eq!(get(1, "type"), "document");
        assert_eq!(
            get(1, "document.document.url"),
            "data:application/pdf;base64,JVBE"
        );
        assert_eq!(get(1, "document.document.name"), "a.pdf");
        assert_eq!(get(1, "document.document.mime_type"), "application/pdf");
        assert_eq!(get(2, "document.document.id"), "file-123");
        assert_eq!(get(3, "document.document.url"), "https://x/b.pdf");
        assert_eq!(get(3, "document.document.name"), "B");
        assert_eq!(get(4, "document.document.content"), "hello");
        assert_eq!(get(4, "document.document.mime_type"), "text/plain");
        assert_eq!(get(5, "type"), "video");
        assert_eq!(get(5, "video.video.url"), "gs://b/v.mp4");
        assert_eq!(
            get(6, "document.document.url"),
            "data:application/pdf;base64,JVBE"
        );
        assert_eq!(m.len(), 2 + 18);
    }
}

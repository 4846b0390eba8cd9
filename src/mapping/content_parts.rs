//! The video and document content parts of a message in the chat JSON (`input.value` /
//! `output.value`), rebuilt from their flattened `message_content.*` attributes in the shapes
//! OpenAI-compatible APIs take: `{"type": "video_url", "video_url": {"url": ...}}` and
//! `{"type": "file", "file": {"file_data" | "file_url" | "file_id", "filename"}}`. Text, image
//! and audio parts are rebuilt by [`super::chat_json`] itself.

use super::json_text::cut;
use opentelemetry::Value;
use serde_json::{Map, Value as Json};

/// The flattened fields of one video or document part.
#[derive(Default)]
pub(crate) struct Media<'a> {
    /// `message_content.video.video.url`.
    video_url: Option<&'a Value>,
    /// `message_content.document.document.url`.
    document_url: Option<&'a Value>,
    /// `message_content.document.document.id`.
    document_id: Option<&'a Value>,
    /// `message_content.document.document.name`.
    document_name: Option<&'a Value>,
    /// `message_content.document.document.content`.
    document_content: Option<&'a Value>,
}

impl<'a> Media<'a> {
    /// Keeps `value` if `field` (the key after `message_content.`) is one of a video's or a
    /// document's.
    pub(crate) fn set(&mut self, field: &str, value: &'a Value) {
        let slot = match field {
            "video.video.url" => &mut self.video_url,
            "document.document.url" => &mut self.document_url,
            "document.document.id" => &mut self.document_id,
            "document.document.name" => &mut self.document_name,
            "document.document.content" => &mut self.document_content,
            _ => return,
        };
        *slot = Some(value);
    }
}

fn text(value: &Value) -> Json {
    match value {
        Value::String(s) => Json::String(s.as_str().to_owned()),
        other => Json::String(other.to_string()),
    }
}

/// The part of type `kind` (`video` or `document`) as chat JSON; `None` for any other type,
/// or when the part has nothing to show. An inline text document becomes a text part,
/// redacted (`redact_text`) or cut (`max_text`) as message text is.
pub(crate) fn part_json(
    kind: &str,
    media: &Media<'_>,
    redact_text: bool,
    max_text: usize,
) -> Option<Json> {
    match kind {
        "video" => {
            let url = text(media.video_url?);
            Some(serde_json::json!({"type": "video_url", "video_url": {"url": url}}))
        }
        "document" => {
            let mut file = Map::new();
            if let Some(url) = media.document_url.map(text) {
                let is_data = url.as_str().is_some_and(|u| u.starts_with("data:"));
                let key = if is_data { "file_data" } else { "file_url" };
                file.insert(key.to_owned(), url);
            }
            if let Some(id) = media.document_id {
                file.insert("file_id".to_owned(), text(id));
            }
            if file.is_empty() {
                let content = match media.document_content? {
                    _ if redact_text => crate::privacy::REDACTED.to_owned(),
                    Value::String(s) => cut(s.as_str(), max_text).into_owned(),
                    other => other.to_string(),
                };
                return Some(serde_json::json!({"type": "text", "text": content}));
            }
            if let Some(name) = media.document_name {
                file.insert("filename".to_owned(), text(name));
            }
            Some(serde_json::json!({"type": "file", "file": file}))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn videos_and_documents_take_the_openai_part_shapes() {
        let (url, data, name, id) = (
            Value::from("https://x/v.mp4"),
            Value::from("data:application/pdf;base64,JVBE"),
            Value::from("a.pdf"),
            Value::from("file-1"),
        );
        let mut video = Media::default();
        video.set("video.video.url", &url);
        assert_eq!(
            part_json("video", &video, false, 0),
            Some(serde_json::json!({"type": "video_url", "video_url": {"url": "https://x/v.mp4"}}))
        );
        let mut doc = Media::default();
        doc.set("document.document.url", &data);
        doc.set("document.document.name", &name);
        assert_eq!(
            part_json("document", &doc, false, 0),
            Some(serde_json::json!({"type": "file", "file": {
                "file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}}))
        );
        let mut uploaded = Media::default();
        uploaded.set("document.document.id", &id);
        assert_eq!(
            part_json("document", &uploaded, false, 0),
            Some(serde_json::json!({"type": "file", "file": {"file_id": "file-1"}}))
        );
        assert_eq!(part_json("document", &Media::default(), false, 0), None);
        assert_eq!(part_json("image", &doc, false, 0), None);

        let inline = Value::from("the whole contract");
        let mut text_doc = Media::default();
        text_doc.set("document.document.content", &inline);
        assert_eq!(
            part_json("document", &text_doc, true, 0),
            Some(serde_json::json!({"type": "text", "text": crate::privacy::REDACTED}))
        );
    }
}

//! Messages with ordered content parts (text, images, audio, video, documents), recorded
//! with [`crate::LlmSpanExt::record_input_messages`] / `record_output_messages` like any
//! [`crate::Message`].

use crate::span_values::{Message, ToolCall};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// One content part of a [`MultipartMessage`].
///
/// It is exported as OpenInference flattens it (`message.contents.K.message_content.type` =
/// `text`, `image`, `audio`, `video` or `document`, with `.text`, `.image.image.url`,
/// `.audio.audio.url`, `.video.video.url`, `.document.document.{url, id, name, mime_type}`),
/// and in the chat JSON of `input.value` / `output.value` as the OpenAI content part
/// (`{"type": "image_url", "image_url": {"url": ...}}`, ...). `OPENINFERENCE_HIDE_INPUT_IMAGES`
/// leaves images out; a `data:` image URL longer than `OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH`
/// is redacted.
///
/// ```
/// use tracing_openinference::ContentPart;
///
/// let parts = [
///     ContentPart::text("What is in this picture?"),
///     ContentPart::image_url("https://example.com/cat.png"),
/// ];
/// assert_eq!(
///     serde_json::to_value(&parts[1]).unwrap(),
///     serde_json::json!({"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}})
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ContentPart {
    /// Text.
    Text(String),
    /// An image, by http URL or `data:image/...;base64,...` URL.
    ImageUrl(String),
    /// Audio, by URL or `data:` URL, with its MIME type when known.
    Audio {
        /// The URL.
        url: String,
        /// The MIME type, such as `audio/wav`.
        mime_type: Option<String>,
    },
    /// A video, by URL, object-store URI or `data:` URL.
    Video(String),
    /// A document or file (a PDF, an uploaded file): by URL or `data:` URL, or by the
    /// provider's file id.
    Document {
        /// The URL, object-store URI or `data:` URL.
        url: Option<String>,
        /// The provider's file id (OpenAI or Anthropic Files API).
        file_id: Option<String>,
        /// A file name or title.
        name: Option<String>,
    },
}

impl ContentPart {
    /// A text part.
    ///
    /// ```
    /// let p = tracing_openinference::ContentPart::text("hi");
    /// assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"type":"text","text":"hi"}"#);
    /// ```
    pub fn text(text: impl Into<String>) -> Self {
        ContentPart::Text(text.into())
    }

    /// An image part.
    ///
    /// ```
    /// let p = tracing_openinference::ContentPart::image_url("data:image/png;base64,iVBO");
    /// assert!(matches!(p, tracing_openinference::ContentPart::ImageUrl(_)));
    /// ```
    pub fn image_url(url: impl Into<String>) -> Self {
        ContentPart::ImageUrl(url.into())
    }

    /// An audio part.
    ///
    /// ```
    /// let p = tracing_openinference::ContentPart::audio("https://x/a.wav", Some("audio/wav"));
    /// assert!(serde_json::to_string(&p).unwrap().contains("audio/wav"));
    /// ```
    pub fn audio(url: impl Into<String>, mime_type: Option<&str>) -> Self {
        ContentPart::Audio {
            url: url.into(),
            mime_type: mime_type.map(str::to_owned),
        }
    }

    /// A video part.
    ///
    /// ```
    /// let p = tracing_openinference::ContentPart::video("https://x/clip.mp4");
    /// assert!(serde_json::to_string(&p).unwrap().contains("video_url"));
    /// ```
    pub fn video(url: impl Into<String>) -> Self {
        ContentPart::Video(url.into())
    }

    /// A document by URL (or `data:` URL), with a file name.
    ///
    /// ```
    /// let p = tracing_openinference::ContentPart::document("https://x/a.pdf", Some("a.pdf"));
    /// assert!(serde_json::to_string(&p).unwrap().contains(r#""filename":"a.pdf""#));
    /// ```
    pub fn document(url: impl Into<String>, name: Option<&str>) -> Self {
        ContentPart::Document {
            url: Some(url.into()),
            file_id: None,
            name: name.map(str::to_owned),
        }
    }

    /// A document uploaded to the provider, by its file id.
    ///
    /// ```
    /// let p = tracing_openinference::ContentPart::file_id("file-abc123");
    /// assert!(serde_json::to_string(&p).unwrap().contains("file-abc123"));
    /// ```
    pub fn file_id(id: impl Into<String>) -> Self {
        ContentPart::Document {
            url: None,
            file_id: Some(id.into()),
            name: None,
        }
    }
}

/// `{"url": url}`.
struct Url<'a>(&'a str);

impl Serialize for Url<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("url", self.0)?;
        map.end()
    }
}

/// An OpenAI `file` object: `file_data` (a `data:` URL) or `file_url`, `file_id`, `filename`.
struct File<'a> {
    url: Option<&'a str>,
    file_id: Option<&'a str>,
    name: Option<&'a str>,
}

impl Serialize for File<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(url) = self.url {
            let key = if url.starts_with("data:") {
                "file_data"
            } else {
                "file_url"
            };
            map.serialize_entry(key, url)?;
        }
        if let Some(id) = self.file_id {
            map.serialize_entry("file_id", id)?;
        }
        if let Some(name) = self.name {
            map.serialize_entry("filename", name)?;
        }
        map.end()
    }
}

impl Serialize for ContentPart {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            ContentPart::Text(text) => {
                map.serialize_entry("type", "text")?;
                map.serialize_entry("text", text)?;
            }
            ContentPart::ImageUrl(url) => {
                map.serialize_entry("type", "image_url")?;
                map.serialize_entry("image_url", &Url(url))?;
            }
            ContentPart::Audio { url, mime_type } => {
                map.serialize_entry("type", "audio")?;
                map.serialize_entry("audio_url", &Url(url))?;
                if let Some(mime) = mime_type {
                    map.serialize_entry("mime_type", mime)?;
                }
            }
            ContentPart::Video(url) => {
                map.serialize_entry("type", "video_url")?;
                map.serialize_entry("video_url", &Url(url))?;
            }
            ContentPart::Document { url, file_id, name } => {
                map.serialize_entry("type", "file")?;
                let file = File {
                    url: url.as_deref(),
                    file_id: file_id.as_deref(),
                    name: name.as_deref(),
                };
                map.serialize_entry("file", &file)?;
            }
        }
        map.end()
    }
}

/// A chat message whose content is a list of [`ContentPart`]s, in the OpenAI shape. A
/// [`Message`] converts into one, so a conversation mixing both records as one list.
///
/// ```
/// use tracing_openinference::{ContentPart, LlmLayer, LlmSpanExt, Message, MultipartMessage};
/// use tracing_subscriber::prelude::*;
///
/// let layer = LlmLayer::builder().with_console_exporter(false).build();
/// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
///     let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
///     span.record_input_messages(&[
///         Message::system("Describe images briefly.").into(),
///         MultipartMessage::user(vec![
///             ContentPart::text("What is this?"),
///             ContentPart::image_url("https://example.com/cat.png"),
///         ]),
///     ])
///     .unwrap();
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultipartMessage {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The content parts, in order (one text part is sent as plain text content).
    #[serde(serialize_with = "content_json")]
    pub content: Vec<ContentPart>,
    /// Tool calls the model asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool result: the call it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// For a tool result: the function's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl MultipartMessage {
    /// A message with a role and parts.
    ///
    /// ```
    /// use tracing_openinference::{ContentPart, MultipartMessage};
    /// let m = MultipartMessage::new("assistant", vec![ContentPart::text("Here it is:")]);
    /// assert_eq!(m.role, "assistant");
    /// ```
    pub fn new(role: impl Into<String>, content: Vec<ContentPart>) -> Self {
        MultipartMessage {
            role: role.into(),
            content,
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }

    /// A user message with parts.
    ///
    /// ```
    /// use tracing_openinference::{ContentPart, MultipartMessage};
    /// let m = MultipartMessage::user(vec![ContentPart::video("https://x/clip.mp4")]);
    /// assert_eq!(m.content.len(), 1);
    /// ```
    pub fn user(content: Vec<ContentPart>) -> Self {
        MultipartMessage::new("user", content)
    }
}

/// The content as a string when it is one text part (as a [`Message`]'s), else the parts.
fn content_json<S: Serializer>(parts: &[ContentPart], serializer: S) -> Result<S::Ok, S::Error> {
    match parts {
        [ContentPart::Text(text)] => serializer.serialize_str(text),
        parts => parts.serialize(serializer),
    }
}

impl From<Message> for MultipartMessage {
    /// The message's text, if any, becomes its one text part.
    fn from(m: Message) -> Self {
        MultipartMessage {
            role: m.role,
            content: m.content.map(ContentPart::Text).into_iter().collect(),
            tool_calls: m.tool_calls,
            tool_call_id: m.tool_call_id,
            name: m.name,
        }
    }
}

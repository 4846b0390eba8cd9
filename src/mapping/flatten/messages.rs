//! Messages: OpenAI-style, GenAI `parts` and provider shapes, flattened to
//! `llm.*_messages.N.message.*`.

use super::*;

/// A tool call, from an OpenAI `tool_calls` entry, an Anthropic `tool_use` part or a GenAI
/// `tool_call` part.
#[derive(Clone, Debug, Default)]
pub(super) struct ToolCall {
    /// `tool_call.id`.
    pub(super) id: Option<String>,
    /// `tool_call.function.name`.
    pub(super) name: Option<String>,
    /// `tool_call.function.arguments`, always a JSON string.
    pub(super) arguments: Option<String>,
}

/// A tool result carried inside a message's parts (GenAI `tool_call_response`, Anthropic
/// `tool_result`).
#[derive(Clone, Debug, Default)]
pub(super) struct ToolResponse {
    /// Becomes `message.tool_call_id`.
    pub(super) id: Option<String>,
    /// Becomes `message.content`.
    pub(super) content: Option<String>,
}

/// One ordered content part of a message (`message.contents.K`).
#[derive(Clone, Debug)]
pub(super) enum Part {
    /// `message_content.type = text`.
    Text(String),
    /// `message_content.type = image`, with the image URL.
    Image(String),
    /// `message_content.type = audio`.
    Audio {
        /// `audio.url` (possibly a `data:` URL).
        url: String,
        /// `audio.mime_type`, when known.
        mime_type: Option<String>,
    },
    /// `message_content.type = video`, with the video URL.
    Video(String),
    /// `message_content.type = document`: a file or document given to the model.
    Document(super::media::Document),
    /// `message_content.type = reasoning`.
    Reasoning(Reasoning),
    /// `message_content.type = tool_use`, with the call under `tool_call.*`.
    ToolUse(ToolCall),
}

/// The fields of a reasoning (thinking) part.
#[derive(Clone, Debug, Default)]
pub(super) struct Reasoning {
    /// Visible reasoning or summary text.
    pub(super) text: Option<String>,
    /// Vendor signature (Anthropic `signature`).
    pub(super) signature: Option<String>,
    /// Opaque data (Anthropic `redacted_thinking.data`).
    pub(super) data: Option<String>,
    /// Provider item id (OpenAI reasoning item id).
    pub(super) id: Option<String>,
    /// OpenAI `encrypted_content`.
    pub(super) encrypted_content: Option<String>,
}

impl Reasoning {
    /// Whether no field is set.
    fn is_empty(&self) -> bool {
        self.text.is_none()
            && self.signature.is_none()
            && self.data.is_none()
            && self.id.is_none()
            && self.encrypted_content.is_none()
    }
}

/// A message as read from any of the accepted shapes, before emission.
#[derive(Clone, Debug, Default)]
pub(super) struct Message {
    /// `message.role`.
    pub(super) role: Option<String>,
    /// `message.name`.
    pub(super) name: Option<String>,
    /// `message.tool_call_id`.
    pub(super) tool_call_id: Option<String>,
    /// `message.content`.
    pub(super) content: Option<String>,
    /// `message.contents.K`.
    pub(super) contents: Vec<Part>,
    /// `message.tool_calls.K`.
    pub(super) tool_calls: Vec<ToolCall>,
    /// Legacy `function_call`: name and arguments.
    pub(super) function_call: Option<ToolCall>,
    /// Tool results found among the parts.
    pub(super) responses: Vec<ToolResponse>,
}

impl Message {
    /// Whether the message has nothing to emit.
    fn is_empty(&self) -> bool {
        self.role.is_none()
            && self.name.is_none()
            && self.tool_call_id.is_none()
            && self.content.is_none()
            && self.contents.is_empty()
            && self.tool_calls.is_empty()
            && self.function_call.is_none()
    }

    /// Adds a content part, up to the cap.
    fn add_part(&mut self, part: Part) {
        if self.contents.len() < MAX_LIST_ITEMS {
            self.contents.push(part);
        }
    }

    /// Adds a tool call, up to the cap.
    fn add_tool_call(&mut self, call: ToolCall) {
        if self.tool_calls.len() < MAX_LIST_ITEMS {
            self.tool_calls.push(call);
        }
    }

    /// Adds a tool response, up to the cap.
    fn add_response(&mut self, response: ToolResponse) {
        if self.responses.len() < MAX_LIST_ITEMS {
            self.responses.push(response);
        }
    }
}

/// Flattens a list of messages (or one message object) under `prefix`.
pub(super) fn flatten_messages(prefix: &str, json: &Json, out: &mut Vec<KeyValue>) -> bool {
    let Some(items) = as_items(json) else {
        return false;
    };
    if items.is_empty() {
        return true;
    }
    let mut index = 0usize;
    for item in items {
        if index >= MAX_LIST_ITEMS {
            break;
        }
        let Some(obj) = item.as_object() else {
            continue;
        };
        let mut message = parse_message(obj);
        let responses = std::mem::take(&mut message.responses);
        let mut responses = responses.into_iter();
        // The first tool result fills the message itself when it has no content of its own;
        // any others follow as messages of their own, with the same role.
        if message.tool_call_id.is_none()
            && message.content.is_none()
            && message.contents.is_empty()
        {
            if let Some(first) = responses.next() {
                message.tool_call_id = first.id;
                message.content = first.content;
            }
        }
        let role = message.role.clone();
        if !message.is_empty() {
            emit_message(prefix, index, message, out);
            index += 1;
        }
        for response in responses {
            if index >= MAX_LIST_ITEMS {
                break;
            }
            let extra = Message {
                role: role.clone(),
                tool_call_id: response.id,
                content: response.content,
                ..Message::default()
            };
            emit_message(prefix, index, extra, out);
            index += 1;
        }
    }
    index > 0
}

/// Reads one message object in OpenAI, Anthropic or GenAI shape.
pub(super) fn parse_message(obj: &Map<String, Json>) -> Message {
    let mut message = Message {
        role: str_field(obj, &["role"]).map(str::to_owned),
        name: str_field(obj, &["name"]).map(str::to_owned),
        tool_call_id: obj.get("tool_call_id").and_then(id_string),
        ..Message::default()
    };
    match obj.get("content") {
        None | Some(Json::Null) => {}
        Some(Json::String(s)) => message.content = Some(s.clone()),
        Some(Json::Array(parts)) => {
            for part in parts {
                parse_part(part, &mut message);
            }
        }
        Some(other) => message.content = to_json_string(other),
    }
    if let Some(Json::Array(parts)) = obj.get("parts") {
        for part in parts {
            parse_part(part, &mut message);
        }
    }
    if let Some(Json::Array(calls)) = obj.get("tool_calls") {
        for call in calls {
            if message.tool_calls.len() >= MAX_LIST_ITEMS {
                break;
            }
            if let Some(call) = call.as_object().and_then(parse_tool_call) {
                message.add_tool_call(call);
            }
        }
    }
    if let Some(call) = obj
        .get("function_call")
        .and_then(Json::as_object)
        .and_then(parse_tool_call)
    {
        message.function_call = Some(call);
    }
    message
}

/// Reads a tool call: OpenAI `{id, function:{name, arguments}}`, or flat
/// `{id, name, arguments|args|input}`. `None` when none of id, name or arguments is there.
pub(super) fn parse_tool_call(obj: &Map<String, Json>) -> Option<ToolCall> {
    const ARGUMENT_FIELDS: [&str; 3] = ["arguments", "args", "input"];
    let function = obj.get("function").and_then(Json::as_object);
    let name = function
        .and_then(|f| str_field(f, &["name"]))
        .or_else(|| str_field(obj, &["name"]))
        .map(str::to_owned);
    let arguments = function
        .and_then(|f| non_null_field(f, &ARGUMENT_FIELDS))
        .or_else(|| non_null_field(obj, &ARGUMENT_FIELDS))
        .and_then(json_or_string);
    let id = obj.get("id").and_then(id_string);
    if id.is_none() && name.is_none() && arguments.is_none() {
        return None;
    }
    Some(ToolCall {
        id,
        name,
        arguments,
    })
}

/// Reads one content part (OpenAI, Anthropic or GenAI) into `message`. Unknown or malformed
/// parts are skipped.
pub(super) fn parse_part(part: &Json, message: &mut Message) {
    let obj = match part {
        Json::String(s) => {
            message.add_part(Part::Text(s.clone()));
            return;
        }
        Json::Object(obj) => obj,
        _ => return,
    };
    let kind = str_field(obj, &["type"]).unwrap_or("");
    match kind {
        "text" | "input_text" | "output_text" => {
            if let Some(text) = part_text(obj) {
                message.add_part(Part::Text(text));
            }
        }
        "refusal" => {
            if let Some(text) = str_field(obj, &["refusal", "text"]) {
                message.add_part(Part::Text(text.to_owned()));
            }
        }
        "image_url" | "input_image" | "image" => {
            if let Some(url) = image_url(obj) {
                message.add_part(Part::Image(url));
            }
        }
        "input_audio" | "audio" => {
            if let Some(part) = audio_part(obj) {
                message.add_part(part);
            }
        }
        "video_url" | "input_video" | "video" => {
            if let Some(part) = super::media::video_part(obj) {
                message.add_part(part);
            }
        }
        "file" | "input_file" | "document" => {
            if let Some(part) = super::media::document_part(obj) {
                message.add_part(part);
            }
        }
        "uri" | "blob" => {
            if let Some(part) = genai_media_part(kind, obj) {
                message.add_part(part);
            }
        }
        "thinking" | "reasoning" | "redacted_thinking" => {
            let reasoning = reasoning_part(obj);
            if !reasoning.is_empty() {
                message.add_part(Part::Reasoning(reasoning));
            }
        }
        "tool_use" => {
            if let Some(call) = parse_tool_call(obj) {
                message.add_part(Part::ToolUse(call.clone()));
                message.add_tool_call(call);
            }
        }
        "tool_call" | "function_call" => {
            if let Some(call) = parse_tool_call(obj) {
                message.add_tool_call(call);
            }
        }
        "tool_call_response" | "tool_result" | "function_call_output" => {
            let id = non_null_field(obj, &["id", "tool_use_id", "call_id"]).and_then(id_string);
            // `result`: the name the `genai` crate gives the response.
            let content = non_null_field(obj, &["response", "content", "output", "result"])
                .and_then(response_text);
            if id.is_some() || content.is_some() {
                message.add_response(ToolResponse { id, content });
            }
        }
        _ => {
            // Untyped parts (for example Gemini's `{text}`) and unknown types that still
            // carry text keep that text.
            if let Some(text) = str_field(obj, &["text"]) {
                message.add_part(Part::Text(text.to_owned()));
            }
        }
    }
}

/// The text of a text part: `text` as a string (or an object with a string `value`, as the
/// Assistants API sends), else GenAI's `content`.
pub(super) fn part_text(obj: &Map<String, Json>) -> Option<String> {
    match obj.get("text") {
        Some(Json::String(s)) => return Some(s.clone()),
        Some(Json::Object(inner)) => {
            if let Some(value) = str_field(inner, &["value"]) {
                return Some(value.to_owned());
            }
        }
        _ => {}
    }
    str_field(obj, &["content"]).map(str::to_owned)
}

/// The URL of an image part: OpenAI `image_url` (string or `{url}`), a plain `url`, or an
/// Anthropic `source` (`base64` or `url`).
pub(super) fn image_url(obj: &Map<String, Json>) -> Option<String> {
    if let Some(url) = obj.get("image_url").and_then(url_of) {
        return Some(url);
    }
    if let Some(url) = str_field(obj, &["url"]) {
        return Some(url.to_owned());
    }
    let source = obj.get("source").and_then(Json::as_object)?;
    match str_field(source, &["type"]) {
        Some("url") => str_field(source, &["url"]).map(str::to_owned),
        _ => {
            let data = str_field(source, &["data"])?;
            Some(data_url(str_field(source, &["media_type"]), data))
        }
    }
}

/// The MIME type for an OpenAI `input_audio.format`.
pub(super) fn audio_mime(format: &str) -> String {
    match format {
        "mp3" => "audio/mpeg".to_owned(),
        other => format!("audio/{other}"),
    }
}

/// An audio part: OpenAI `input_audio:{data, format}` becomes a `data:` URL; otherwise an
/// `audio_url` (string or `{url}`) or a plain `url`.
pub(super) fn audio_part(obj: &Map<String, Json>) -> Option<Part> {
    if let Some(input) = obj.get("input_audio").and_then(Json::as_object) {
        let data = str_field(input, &["data"])?;
        let mime_type = str_field(input, &["format"]).map(audio_mime);
        return Some(Part::Audio {
            url: data_url(mime_type.as_deref(), data),
            mime_type,
        });
    }
    let url = obj
        .get("audio_url")
        .and_then(url_of)
        .or_else(|| str_field(obj, &["url"]).map(str::to_owned))?;
    Some(Part::Audio {
        url,
        mime_type: str_field(obj, &["mime_type"]).map(str::to_owned),
    })
}

/// A GenAI `uri` or `blob` part by its `modality` (image, audio, video; anything else is a
/// document). Blobs (base64 in `content`, or `data` in older drafts) become `data:` URLs.
pub(super) fn genai_media_part(kind: &str, obj: &Map<String, Json>) -> Option<Part> {
    let mime_type = str_field(obj, &["mime_type"]);
    let url = if kind == "uri" {
        str_field(obj, &["uri"])?.to_owned()
    } else {
        data_url(mime_type, str_field(obj, &["content", "data"])?)
    };
    let modality = str_field(obj, &["modality"])
        .or_else(|| mime_type.and_then(|m| m.split('/').next()))
        .unwrap_or("");
    match modality {
        "image" => Some(Part::Image(url)),
        "audio" => Some(Part::Audio {
            url,
            mime_type: mime_type.map(str::to_owned),
        }),
        _ => Some(super::media::genai_other_part(modality, url, mime_type)),
    }
}

/// A reasoning part: `text`, `thinking` or GenAI `content` as the text (else the OpenAI
/// `summary` texts joined by newlines), plus the replay fields.
pub(super) fn reasoning_part(obj: &Map<String, Json>) -> Reasoning {
    let text = str_field(obj, &["text", "thinking", "content"])
        .map(str::to_owned)
        .or_else(|| {
            let summary = obj.get("summary")?.as_array()?;
            let texts: Vec<&str> = summary
                .iter()
                .take(MAX_LIST_ITEMS)
                .filter_map(|item| match item {
                    Json::String(s) => Some(s.as_str()),
                    Json::Object(o) => str_field(o, &["text"]),
                    _ => None,
                })
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        });
    Reasoning {
        text,
        signature: str_field(obj, &["signature"]).map(str::to_owned),
        data: str_field(obj, &["data"]).map(str::to_owned),
        id: str_field(obj, &["id"]).map(str::to_owned),
        encrypted_content: str_field(obj, &["encrypted_content"]).map(str::to_owned),
    }
}

/// The content of a tool result: a string as is; a list of text parts joined; anything else
/// serialized as JSON.
pub(super) fn response_text(value: &Json) -> Option<String> {
    if let Json::Array(items) = value {
        let texts: Option<Vec<&str>> = items
            .iter()
            .map(|item| {
                let obj = item.as_object()?;
                if str_field(obj, &["type"]) != Some("text") {
                    return None;
                }
                str_field(obj, &["text", "content"])
            })
            .collect();
        if let Some(texts) = texts.filter(|t| !t.is_empty()) {
            return Some(texts.concat());
        }
    }
    json_or_string(value)
}

/// Pushes the attributes of one tool call under `base` (which ends with `.`).
pub(super) fn emit_tool_call(base: &str, call: ToolCall, out: &mut Vec<KeyValue>) {
    if let Some(id) = call.id {
        push_str(out, cat(base, "tool_call.id"), id);
    }
    if let Some(name) = call.name {
        push_str(out, cat(base, "tool_call.function.name"), name);
    }
    if let Some(arguments) = call.arguments {
        push_str(out, cat(base, "tool_call.function.arguments"), arguments);
    }
}

/// Pushes the attributes of one message at `prefix.index`.
pub(super) fn emit_message(prefix: &str, index: usize, message: Message, out: &mut Vec<KeyValue>) {
    let base = indexed(prefix, index, ".message.");
    if let Some(role) = message.role {
        push_str(out, cat(&base, "role"), role);
    }
    if let Some(name) = message.name {
        push_str(out, cat(&base, "name"), name);
    }
    if let Some(id) = message.tool_call_id {
        push_str(out, cat(&base, "tool_call_id"), id);
    }
    if let Some(content) = message.content {
        push_str(out, cat(&base, "content"), content);
    }
    if let Some(call) = message.function_call {
        if let Some(name) = call.name {
            push_str(out, cat(&base, "function_call_name"), name);
        }
        if let Some(arguments) = call.arguments {
            push_str(out, cat(&base, "function_call_arguments_json"), arguments);
        }
    }
    for (k, part) in message.contents.into_iter().enumerate() {
        let part_base = indexed(&cat(&base, "contents"), k, ".");
        let mc = cat(&part_base, "message_content.");
        match part {
            Part::Text(text) => {
                push_str(out, cat(&mc, "type"), "text".to_owned());
                push_str(out, cat(&mc, "text"), text);
            }
            Part::Image(url) => {
                push_str(out, cat(&mc, "type"), "image".to_owned());
                push_str(out, cat(&mc, "image.image.url"), url);
            }
            Part::Audio { url, mime_type } => {
                push_str(out, cat(&mc, "type"), "audio".to_owned());
                push_str(out, cat(&mc, "audio.audio.url"), url);
                if let Some(mime) = mime_type {
                    push_str(out, cat(&mc, "audio.audio.mime_type"), mime);
                }
            }
            Part::Reasoning(r) => {
                push_str(out, cat(&mc, "type"), "reasoning".to_owned());
                let fields = [
                    ("text", r.text),
                    ("signature", r.signature),
                    ("data", r.data),
                    ("id", r.id),
                    ("encrypted_content", r.encrypted_content),
                ];
                for (suffix, value) in fields {
                    if let Some(value) = value {
                        push_str(out, cat(&mc, suffix), value);
                    }
                }
            }
            Part::ToolUse(call) => {
                push_str(out, cat(&mc, "type"), "tool_use".to_owned());
                emit_tool_call(&part_base, call, out);
            }
            media @ (Part::Video(_) | Part::Document(_)) => {
                super::media::emit_media(&mc, media, out)
            }
        }
    }
    for (k, call) in message.tool_calls.into_iter().enumerate() {
        emit_tool_call(&indexed(&cat(&base, "tool_calls"), k, "."), call, out);
    }
}

// ---------------------------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------------------------

//! Messages with content parts recorded through `LlmSpanExt`: flattened for Phoenix, as
//! OpenAI content parts in the chat JSON, under the image mask and the base64 cap.

mod common;
use common::*;
use opentelemetry_sdk::trace::SpanData;
use serde_json::{json, Value as Json};
use tracing_openinference::privacy::{Privacy, REDACTED};
use tracing_openinference::{ContentPart, LlmLayerBuilder, LlmSpanExt, Message, MultipartMessage};

const PDF: &str = "data:application/pdf;base64,JVBERi0xLjQK";

fn record(builder: LlmLayerBuilder, image: &str) -> SpanData {
    let image = image.to_owned();
    let spans = capture_with(builder, move || {
        let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
        span.record_input_messages(&[
            Message::system("Describe what you are shown.").into(),
            MultipartMessage::user(vec![
                ContentPart::text("What is in these?"),
                ContentPart::image_url(image),
                ContentPart::audio("https://x/question.wav", Some("audio/wav")),
                ContentPart::video("https://x/clip.mp4"),
                ContentPart::document(PDF, Some("invoice.pdf")),
                ContentPart::file_id("file-abc"),
            ]),
        ])
        .unwrap();
        span.record_output_messages(&[Message::assistant("A cat and an invoice.")])
            .unwrap();
    });
    span(&spans, "chat").clone()
}

fn part(s: &SpanData, k: usize, field: &str) -> Option<String> {
    let key = format!("llm.input_messages.1.message.contents.{k}.message_content.{field}");
    attr(s, &key).map(|v| v.as_str().into_owned())
}

fn input_json(s: &SpanData) -> Json {
    serde_json::from_str(&str_attr(s, "input.value")).expect("input.value is JSON")
}

#[test]
fn recorded_parts_are_flattened_for_phoenix_and_become_openai_parts_in_the_chat_json() {
    let s = record(quiet_builder(), "https://x/cat.png");
    assert_eq!(
        str_attr(&s, "llm.input_messages.0.message.content"),
        "Describe what you are shown."
    );
    assert_eq!(str_attr(&s, "llm.input_messages.1.message.role"), "user");
    let expected = [
        (0, "type", "text"),
        (0, "text", "What is in these?"),
        (1, "type", "image"),
        (1, "image.image.url", "https://x/cat.png"),
        (2, "type", "audio"),
        (2, "audio.audio.url", "https://x/question.wav"),
        (2, "audio.audio.mime_type", "audio/wav"),
        (3, "type", "video"),
        (3, "video.video.url", "https://x/clip.mp4"),
        (4, "type", "document"),
        (4, "document.document.url", PDF),
        (4, "document.document.name", "invoice.pdf"),
        (4, "document.document.mime_type", "application/pdf"),
        (5, "type", "document"),
        (5, "document.document.id", "file-abc"),
    ];
    for (k, field, value) in expected {
        assert_eq!(
            part(&s, k, field).as_deref(),
            Some(value),
            "part {k} {field}"
        );
    }
    // No raw JSON string left beside the flattened keys.
    assert!(attr(&s, "llm.input_messages").is_none());

    let input = input_json(&s);
    assert_eq!(
        input["messages"][0],
        json!({"role": "system", "content": "Describe what you are shown."})
    );
    assert_eq!(
        input["messages"][1]["content"],
        json!([
            {"type": "text", "text": "What is in these?"},
            {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
            {"type": "input_audio", "input_audio": {"url": "https://x/question.wav"}},
            {"type": "video_url", "video_url": {"url": "https://x/clip.mp4"}},
            {"type": "file", "file": {"file_data": PDF, "filename": "invoice.pdf"}},
            {"type": "file", "file": {"file_id": "file-abc"}},
        ])
    );
}

#[test]
fn the_image_mask_drops_image_parts_from_both_shapes() {
    let builder = quiet_builder().with_privacy(Privacy::default().with_hide_input_images(true));
    let s = record(builder, "https://x/cat.png");
    assert!(
        keys_with_prefix(&s, "llm.input_messages")
            .iter()
            .all(|k| !k.contains("message_content.image")),
        "{:?}",
        keys_with_prefix(&s, "llm.input_messages")
    );
    assert_eq!(part(&s, 0, "text").as_deref(), Some("What is in these?"));
    assert_eq!(
        part(&s, 3, "video.video.url").as_deref(),
        Some("https://x/clip.mp4")
    );
    let parts = input_json(&s)["messages"][1]["content"].clone();
    let types: Vec<&str> = parts
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["text", "input_audio", "video_url", "file", "file"]);
}

#[test]
fn a_data_uri_image_over_the_cap_is_redacted_in_both_shapes() {
    let big = format!("data:image/png;base64,{}", "QUJD".repeat(10_000));
    let builder = quiet_builder().with_privacy(Privacy::default().with_max_value_len(0));
    let s = record(builder, &big);
    assert_eq!(part(&s, 1, "image.image.url").as_deref(), Some(REDACTED));
    let input = str_attr(&s, "input.value");
    assert!(
        !input.contains("QUJDQUJD"),
        "the image data left in input.value"
    );
    assert!(input.contains("What is in these?"));
    // A small one is kept as it is.
    let small = "data:image/png;base64,iVBORw0KGgo=";
    let s = record(quiet_builder(), small);
    assert_eq!(part(&s, 1, "image.image.url").as_deref(), Some(small));
}

#[test]
fn hidden_input_text_covers_an_inline_text_document() {
    let messages = json!([{"role": "user", "content": [
        {"type": "text", "text": "Summarize this."},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "the whole contract"}},
    ]}]);
    let builder = quiet_builder().with_privacy(Privacy::default().with_hide_input_text(true));
    let spans = capture_with(builder, || {
        tracing::info_span!("chat", llm.model_name = "m", llm.input_messages = %messages)
            .in_scope(|| {});
    });
    let s = span(&spans, "chat");
    let key = "llm.input_messages.0.message.contents.1.message_content.document.document.content";
    assert_eq!(str_attr(s, key), REDACTED);
    let input = str_attr(s, "input.value");
    assert!(!input.contains("contract"), "{input}");
}

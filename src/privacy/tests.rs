//! Unit tests of the privacy stage: hide flags, secret keys, free-text credentials, caps and budgets.

use super::json::*;
use super::keys::*;
use super::limits::*;
use super::masks::*;
use super::secrets::*;
use super::*;
use opentelemetry::trace::Event;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
use opentelemetry::InstrumentationScope;
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
use std::time::SystemTime;

fn kv(k: &'static str, v: impl Into<Value>) -> KeyValue {
    KeyValue::new(k, v)
}

fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn get_str(attrs: &[KeyValue], key: &str) -> Option<String> {
    get(attrs, key).map(|v| v.as_str().into_owned())
}

fn sample() -> Vec<KeyValue> {
    vec![
        kv("openinference.span.kind", "LLM"),
        kv("llm.model_name", "gpt-4o"),
        kv("input.value", "what is 2+2?"),
        kv("input.mime_type", "text/plain"),
        kv("output.value", "4"),
        kv("output.mime_type", "text/plain"),
        kv("llm.input_messages.0.message.role", "user"),
        kv("llm.input_messages.0.message.content", "what is 2+2?"),
        kv(
            "llm.input_messages.1.message.contents.0.message_content.text",
            "look",
        ),
        kv(
            "llm.input_messages.1.message.contents.1.message_content.image.image.url",
            "https://x/y.png",
        ),
        kv("llm.output_messages.0.message.role", "assistant"),
        kv("llm.output_messages.0.message.content", "4"),
        kv("llm.tools.0.tool.json_schema", r#"{"type":"function"}"#),
        kv("llm.prompts.0.prompt.text", "complete me"),
        kv("llm.choices.0.completion.text", "done"),
        kv(
            "llm.invocation_parameters",
            r#"{"temperature":0.2,"max_tokens":100,"messages":[{"content":"hi"}]}"#,
        ),
        kv("embedding.embeddings.0.embedding.text", "embed me"),
        kv(
            "embedding.embeddings.0.embedding.vector",
            Value::Array(vec![0.1f64, 0.2].into()),
        ),
        kv("retrieval.documents.0.document.id", "d1"),
        kv("retrieval.documents.0.document.content", "secret plans"),
        kv("retrieval.documents.0.document.score", 0.9),
        kv(
            "retrieval.documents.0.document.metadata",
            r#"{"source":"wiki"}"#,
        ),
        kv("tool.parameters", r#"{"city":"Paris"}"#),
        kv("gen_ai.tool.call.arguments", r#"{"city":"Paris"}"#),
        kv("gen_ai.tool.call.result", "sunny"),
        kv("gen_ai.input.messages", r#"[{"role":"user","parts":[]}]"#),
        kv("llm.prompt_template.variables", r#"{"name":"Ann"}"#),
        kv("llm.token_count.prompt", 10i64),
        kv("session.id", "s1"),
    ]
}

fn run(p: &Privacy, mut attrs: Vec<KeyValue>) -> Vec<KeyValue> {
    p.apply(&mut attrs, &mut [], &mut KeyPlans::default(), None);
    attrs
}

fn redacted(attrs: &[KeyValue], key: &str) -> bool {
    get_str(attrs, key).as_deref() == Some(REDACTED)
}

/// Plans remembered by position are checked against the key: spans whose keys come in
/// another order, or are new at a position, get each key's own plan.
#[test]
fn plans_follow_the_key_not_its_position() {
    let p = Privacy::default().with_hide_inputs(true);
    let mut plans = KeyPlans::default();
    let kv = |k: &'static str| KeyValue::new(k, "some text");
    let shown = |attrs: &[KeyValue]| -> Vec<String> {
        attrs
            .iter()
            .map(|kv| format!("{}={}", kv.key, kv.value))
            .collect()
    };
    for order in [
        ["input.value", "output.value", "tag.a"],
        ["output.value", "input.value", "tag.b"],
        ["tag.a", "output.value", "input.value"],
    ] {
        let mut attrs: Vec<KeyValue> = order.iter().map(|k| kv(k)).collect();
        p.apply(&mut attrs, &mut [], &mut plans, None);
        let mut expected: Vec<String> = order
            .iter()
            .map(|k| match *k {
                "input.value" => format!("{k}={REDACTED}"),
                _ => format!("{k}=some text"),
            })
            .collect();
        let mut got = shown(&attrs);
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "{order:?}");
    }
}

#[test]
fn secret_words_and_token_candidates() {
    assert!(contains_secret_word("llm.input_messages.0.message.api_key"));
    assert!(contains_secret_word("metadata.Authorization"));
    assert!(!contains_secret_word(
        "llm.input_messages.0.message.content"
    ));
    for key in [
        "llm.input_messages.12.message.content",
        "llm.output_messages.0.message.role",
        "llm.input_messages.3.message.name",
    ] {
        assert!(is_plain_message_key(key), "{key}");
        assert!(!is_secret_key(key, Kind::Str), "{key}");
    }
    assert!(!is_plain_message_key(
        "llm.input_messages.0.message.api_key"
    ));
    assert!(!is_plain_message_key("llm.input_messages..message.content"));
    let mut generated = Vec::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for len in [1usize, 2, 3, 7, 31, 32, 33, 64, 100] {
        for _ in 0..20 {
            let text: String = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    [
                        'b', 'B', '-', 'x', 's', 'k', 'e', 'A', 'a', '=', '_', ':', '@',
                    ][(seed % 13) as usize]
                })
                .collect();
            generated.push(text);
        }
    }
    let texts = [
        "Retrieval-augmented generation combines a search step with a language model. ",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxB-xxxxxxxx--xxxxbxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "é€ sk-ĀĀĀĀĀĀĀĀĀĀĀĀĀĀ bearer \u{80}\u{ff}-b",
        "",
        "-",
    ];
    for text in texts
        .iter()
        .copied()
        .chain(generated.iter().map(String::as_str))
    {
        let b = text.as_bytes();
        for set in [[b'b', b'B', b'-'], [b'A', b'=', b':'], [b'-', b'_', b'@']] {
            for i in 0..b.len() {
                let naive = (i..b.len())
                    .find(|&j| set.contains(&b[j]))
                    .unwrap_or(b.len());
                assert_eq!(next_in(b, i, set), naive, "{text:?} at {i}");
            }
        }
    }
    let cases = [
        ("key sk-abcdefghijklmnop1234 end", "key __REDACTED__ end"),
        ("x Bearer abc123def456", "x Bearer __REDACTED__"),
        ("é sk-ĀĀ b pk-abcdefghijklmnopq9", "é sk-ĀĀ b __REDACTED__"),
        ("bb-sk-abcdefghijklmnop1234", "bb-sk-abcdefghijklmnop1234"),
    ];
    for (input, expected) in cases {
        let got = scan_tokens(input, false).unwrap_or_else(|| input.to_owned());
        assert_eq!(got, expected, "{input}");
    }
}

#[test]
fn default_keeps_content() {
    let out = run(&Privacy::default(), sample());
    assert_eq!(out, sample());
}

#[test]
fn hide_inputs() {
    let out = run(&Privacy::default().with_hide_inputs(true), sample());
    assert!(redacted(&out, "input.value"));
    assert!(get(&out, "input.mime_type").is_none());
    assert!(!out
        .iter()
        .any(|kv| kv.key.as_str().starts_with("llm.input_messages.")));
    assert!(!out
        .iter()
        .any(|kv| kv.key.as_str().starts_with("llm.tools.")));
    assert!(redacted(&out, "llm.prompts.0.prompt.text"));
    assert!(redacted(&out, "gen_ai.tool.call.arguments"));
    assert!(get(&out, "gen_ai.input.messages").is_none());
    // The prompt inside the invocation parameters is hidden too; the parameters stay.
    let params = get_str(&out, "llm.invocation_parameters").unwrap();
    assert_eq!(
        params,
        r#"{"temperature":0.2,"max_tokens":100,"messages":"__REDACTED__"}"#
    );
    // Outputs untouched.
    assert_eq!(get_str(&out, "output.value").unwrap(), "4");
    assert_eq!(
        get_str(&out, "llm.choices.0.completion.text").unwrap(),
        "done"
    );
}

#[test]
fn hide_outputs() {
    let out = run(&Privacy::default().with_hide_outputs(true), sample());
    assert!(redacted(&out, "output.value"));
    assert!(get(&out, "output.mime_type").is_none());
    assert!(!out
        .iter()
        .any(|kv| kv.key.as_str().starts_with("llm.output_messages.")));
    assert!(redacted(&out, "llm.choices.0.completion.text"));
    assert!(redacted(&out, "gen_ai.tool.call.result"));
    assert_eq!(get_str(&out, "input.value").unwrap(), "what is 2+2?");
}

#[test]
fn hide_messages_text_images() {
    let out = run(&Privacy::default().with_hide_input_messages(true), sample());
    assert!(!out
        .iter()
        .any(|kv| kv.key.as_str().starts_with("llm.input_messages.")));
    assert!(get(&out, "llm.output_messages.0.message.content").is_some());
    assert!(get(&out, "input.value").is_some());

    let out = run(
        &Privacy::default().with_hide_output_messages(true),
        sample(),
    );
    assert!(!out
        .iter()
        .any(|kv| kv.key.as_str().starts_with("llm.output_messages.")));
    assert!(get(&out, "llm.input_messages.0.message.content").is_some());

    let out = run(&Privacy::default().with_hide_input_text(true), sample());
    assert!(redacted(&out, "llm.input_messages.0.message.content"));
    assert!(redacted(
        &out,
        "llm.input_messages.1.message.contents.0.message_content.text"
    ));
    assert_eq!(
        get_str(&out, "llm.input_messages.0.message.role").unwrap(),
        "user"
    );
    assert_eq!(
        get_str(&out, "llm.output_messages.0.message.content").unwrap(),
        "4"
    );
    assert!(redacted(&out, "gen_ai.input.messages"));

    let out = run(&Privacy::default().with_hide_output_text(true), sample());
    assert!(redacted(&out, "llm.output_messages.0.message.content"));
    assert_eq!(
        get_str(&out, "llm.input_messages.0.message.content").unwrap(),
        "what is 2+2?"
    );

    let out = run(&Privacy::default().with_hide_input_images(true), sample());
    assert!(get(
        &out,
        "llm.input_messages.1.message.contents.1.message_content.image.image.url"
    )
    .is_none());
    assert!(get(
        &out,
        "llm.input_messages.1.message.contents.0.message_content.text"
    )
    .is_some());
}

#[test]
fn hide_params_tools_prompts_choices_embeddings() {
    let out = run(
        &Privacy::default().with_hide_llm_invocation_parameters(true),
        sample(),
    );
    assert!(get(&out, "llm.invocation_parameters").is_none());

    let out = run(&Privacy::default().with_hide_llm_tools(true), sample());
    assert!(get(&out, "llm.tools.0.tool.json_schema").is_none());
    assert!(get(&out, "llm.input_messages.0.message.content").is_some());

    let out = run(&Privacy::default().with_hide_prompts(true), sample());
    assert!(redacted(&out, "llm.prompts.0.prompt.text"));
    assert!(!redacted(&out, "llm.choices.0.completion.text"));

    let out = run(&Privacy::default().with_hide_choices(true), sample());
    assert!(redacted(&out, "llm.choices.0.completion.text"));
    assert!(!redacted(&out, "llm.prompts.0.prompt.text"));

    let out = run(
        &Privacy::default().with_hide_embeddings_vectors(true),
        sample(),
    );
    assert!(redacted(&out, "embedding.embeddings.0.embedding.vector"));
    assert!(!redacted(&out, "embedding.embeddings.0.embedding.text"));

    let out = run(
        &Privacy::default().with_hide_embeddings_text(true),
        sample(),
    );
    assert!(redacted(&out, "embedding.embeddings.0.embedding.text"));
    assert!(matches!(
        get(&out, "embedding.embeddings.0.embedding.vector"),
        Some(Value::Array(Array::F64(_)))
    ));
}

#[test]
fn hide_all_hides_every_content_value() {
    let p = Privacy::default().with_hide_all(true);
    let mut attrs = sample();
    let mut events = vec![
        Event::new(
            "exception",
            SystemTime::UNIX_EPOCH,
            vec![
                kv("exception.type", "IoError"),
                kv("exception.message", "boom"),
            ],
            0,
        ),
        Event::new(
            "log",
            SystemTime::UNIX_EPOCH,
            vec![kv("message", "user said hi"), kv("n", 3i64)],
            0,
        ),
    ];
    p.apply(&mut attrs, &mut events, &mut KeyPlans::default(), None);
    for key in [
        "input.value",
        "output.value",
        "llm.prompts.0.prompt.text",
        "llm.choices.0.completion.text",
        "tool.parameters",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "retrieval.documents.0.document.content",
        "retrieval.documents.0.document.metadata",
        "embedding.embeddings.0.embedding.text",
        "embedding.embeddings.0.embedding.vector",
        "llm.prompt_template.variables",
    ] {
        assert!(redacted(&attrs, key), "{key} not redacted");
    }
    for key in [
        "input.mime_type",
        "output.mime_type",
        "llm.invocation_parameters",
        "gen_ai.input.messages",
    ] {
        assert!(get(&attrs, key).is_none(), "{key} not dropped");
    }
    assert!(!attrs.iter().any(|kv| {
        let k = kv.key.as_str();
        k.starts_with("llm.input_messages")
            || k.starts_with("llm.output_messages")
            || k.starts_with("llm.tools")
    }));
    for key in [
        "openinference.span.kind",
        "llm.model_name",
        "retrieval.documents.0.document.id",
        "session.id",
    ] {
        assert!(
            get(&attrs, key).is_some() && !redacted(&attrs, key),
            "{key} lost"
        );
    }
    assert_eq!(
        get(&attrs, "retrieval.documents.0.document.score"),
        Some(&Value::F64(0.9))
    );
    assert_eq!(get(&attrs, "llm.token_count.prompt"), Some(&Value::I64(10)));
    assert_eq!(
        get_str(&events[0].attributes, "exception.message").unwrap(),
        "boom"
    );
    assert!(redacted(&events[1].attributes, "message"));
    assert_eq!(get(&events[1].attributes, "n"), Some(&Value::I64(3)));
}

#[test]
fn secrets_in_json_attributes() {
    let p = Privacy::default();
    let attrs = vec![
        kv(
            "llm.invocation_parameters",
            r#"{"model":"gpt-4o","api_key":"abc123","max_tokens":256,"extra_headers":{"Authorization":"Basic xyz","X-Api-Key":"k"},"prompt_tokens":3,"access_token":"tok","tokens":5}"#,
        ),
        kv(
            "metadata",
            r#"{"user":"ann","password":"hunter2","db":{"client_secret":{"a":[1,2]}}}"#,
        ),
        kv(
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
            r#"{"session_token":"s3cr3t","limit":5}"#,
        ),
        kv(
            "gen_ai.tool.call.arguments",
            r#"{"Private-Key":"-----BEGIN"}"#,
        ),
        kv(
            "retrieval.documents.0.document.metadata",
            r#"{"cookie":"c=1","max_token_count":4}"#,
        ),
        kv("http.request.header.authorization", "Basic Zm9vOmJhcg=="),
        kv(
            "tag.tags",
            Value::Array(vec![StringValue::from("x")].into()),
        ),
    ];
    let out = run(&p, attrs);
    let params: serde_json::Value =
        serde_json::from_str(&get_str(&out, "llm.invocation_parameters").unwrap()).unwrap();
    assert_eq!(params["api_key"], REDACTED);
    assert_eq!(params["max_tokens"], 256);
    assert_eq!(params["prompt_tokens"], 3);
    assert_eq!(params["tokens"], 5);
    assert_eq!(params["access_token"], REDACTED);
    assert_eq!(params["extra_headers"]["Authorization"], REDACTED);
    assert_eq!(params["extra_headers"]["X-Api-Key"], REDACTED);
    assert_eq!(params["model"], "gpt-4o");
    let meta: serde_json::Value =
        serde_json::from_str(&get_str(&out, "metadata").unwrap()).unwrap();
    assert_eq!(meta["password"], REDACTED);
    assert_eq!(meta["db"]["client_secret"], REDACTED);
    assert_eq!(meta["user"], "ann");
    let args = get_str(
        &out,
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
    )
    .unwrap();
    assert_eq!(args, r#"{"session_token":"__REDACTED__","limit":5}"#);
    assert_eq!(
        get_str(&out, "gen_ai.tool.call.arguments").unwrap(),
        r#"{"Private-Key":"__REDACTED__"}"#
    );
    assert_eq!(
        get_str(&out, "retrieval.documents.0.document.metadata").unwrap(),
        r#"{"cookie":"__REDACTED__","max_token_count":4}"#
    );
    assert!(redacted(&out, "http.request.header.authorization"));

    // Off: untouched.
    let plain = r#"{"api_key":"abc"}"#;
    let out = run(
        &Privacy::default().with_redact_secrets(false),
        vec![kv("metadata", plain)],
    );
    assert_eq!(get_str(&out, "metadata").unwrap(), plain);
}

#[test]
fn secrets_in_plain_text() {
    let key = "sk-proj-AbCdEf0123456789xyzXYZ";
    let msg = format!("Incorrect API key provided: {key}. Header was Bearer eyJhbGciOi.J9x and task-runner-abcdefghijklmnop0");
    let out = run(
        &Privacy::default(),
        vec![kv("exception.message", msg.clone())],
    );
    let text = get_str(&out, "exception.message").unwrap();
    assert_eq!(
        text,
        "Incorrect API key provided: __REDACTED__. Header was Bearer __REDACTED__ and task-runner-abcdefghijklmnop0"
    );
    // Short or word-only lookalikes survive.
    let fine = "sk-learn is great; Bearer responsibilities";
    assert_eq!(scan_tokens(fine, false), None);
}

#[test]
fn truncation_at_utf8_boundary() {
    let p = Privacy::default().with_max_value_len(10);
    // 'é' is 2 bytes: "aaaaaaaaa" + 'é' puts byte 10 inside the 'é'.
    let value = format!("{}é{}", "a".repeat(9), "z".repeat(20));
    let out = run(&p, vec![kv("input.value", value.clone())]);
    let text = get_str(&out, "input.value").unwrap();
    assert_eq!(
        text,
        format!("{}…[truncated, {} bytes]", "a".repeat(9), value.len())
    );
    // Emoji (4 bytes) at the cut.
    let value = format!("ab{}", "😀".repeat(5));
    let out = run(&p, vec![kv("output.value", value.clone())]);
    assert_eq!(
        get_str(&out, "output.value").unwrap(),
        format!("ab😀😀…[truncated, {} bytes]", value.len())
    );
    // Arrays per element; float vectors by count.
    let out = run(
        &p,
        vec![
            kv(
                "tag.tags",
                Value::Array(Array::String(vec!["short".into(), "x".repeat(30).into()])),
            ),
            kv(
                "embedding.embeddings.0.embedding.vector",
                Value::Array(vec![1.0f64; 100].into()),
            ),
        ],
    );
    match get(&out, "tag.tags") {
        Some(Value::Array(Array::String(v))) => {
            assert_eq!(v[0].as_str(), "short");
            assert_eq!(
                v[1].as_str(),
                format!("{}…[truncated, 30 bytes]", "x".repeat(10))
            );
        }
        other => panic!("{other:?}"),
    }
    match get(&out, "embedding.embeddings.0.embedding.vector") {
        Some(Value::Array(Array::F64(v))) => assert_eq!(v.len(), 1),
        other => panic!("{other:?}"),
    }
    // No cap.
    let long = "y".repeat(100_000);
    let out = run(
        &Privacy::default().with_max_value_len(0),
        vec![kv("input.value", long.clone())],
    );
    assert_eq!(get_str(&out, "input.value").unwrap(), long);
}

#[test]
fn long_values_are_scanned_only_as_far_as_the_cap_can_keep() {
    let p = Privacy::default()
        .with_max_value_len(100)
        .with_base64_image_max_len(50);
    // A data URI that starts inside the cap and runs far past the scanned window: redacted, no part of it kept.
    let v = format!("see data:image/png;base64,{} end", "A".repeat(10_000));
    let out = run(&p, vec![kv("output.value", v.clone())]);
    assert_eq!(
        get_str(&out, "output.value").unwrap(),
        format!("see {REDACTED}…[truncated, {} bytes]", v.len())
    );
    // A huge plain value: cut at the cap, with the full original length.
    let huge = "é".repeat(5_000_000);
    let out = run(&p, vec![kv("input.value", huge.clone())]);
    let text = get_str(&out, "input.value").unwrap();
    assert_eq!(
        text,
        format!("{}…[truncated, {} bytes]", "é".repeat(50), huge.len())
    );
}

#[test]
fn truncated_json_still_scanned() {
    let p = Privacy::default().with_max_value_len(40);
    let v = format!(r#"{{"password":"{}"}}"#, "p".repeat(100));
    let out = run(&p, vec![kv("metadata", v.clone())]);
    let text = get_str(&out, "metadata").unwrap();
    assert!(!text.contains("ppp"), "{text}");
    assert!(text.ends_with(&format!("…[truncated, {} bytes]", v.len())));
}

#[test]
fn base64_image_cap() {
    let p = Privacy::default();
    let big = format!("data:image/png;base64,{}", "A".repeat(40_000));
    let small = format!("data:image/png;base64,{}", "A".repeat(100));
    let out = run(
        &p,
        vec![
            kv(
                "llm.input_messages.0.message.contents.0.message_content.image.image.url",
                big.clone(),
            ),
            kv(
                "llm.input_messages.0.message.contents.1.message_content.image.image.url",
                small.clone(),
            ),
        ],
    );
    assert!(redacted(
        &out,
        "llm.input_messages.0.message.contents.0.message_content.image.image.url"
    ));
    assert_eq!(
        get_str(
            &out,
            "llm.input_messages.0.message.contents.1.message_content.image.image.url"
        )
        .unwrap(),
        small
    );
    // Inline in a JSON input: the data URI goes, the JSON stays valid.
    let json = format!(r#"{{"messages":[{{"role":"user","image":"{big}","text":"hi"}}]}}"#);
    let out = run(
        &Privacy::default().with_max_value_len(0),
        vec![kv("input.value", json)],
    );
    let v: serde_json::Value =
        serde_json::from_str(&get_str(&out, "input.value").unwrap()).unwrap();
    assert_eq!(v["messages"][0]["image"], REDACTED);
    assert_eq!(v["messages"][0]["text"], "hi");
}

#[test]
fn span_budget_trims_huge_value() {
    let p = Privacy::default().with_max_value_len(0);
    let huge = "x".repeat(50 * 1024 * 1024);
    let mut attrs = vec![
        kv("openinference.span.kind", "LLM"),
        kv("llm.model_name", "gpt-4o"),
        kv("llm.token_count.total", 42i64),
        kv("input.value", huge),
        kv("output.value", "ok"),
    ];
    p.apply(&mut attrs, &mut [], &mut KeyPlans::default(), None);
    let size = content_size(&attrs, &[], usize::MAX);
    assert!(size <= DEFAULT_MAX_SPAN_BYTES, "{size}");
    assert_eq!(get_str(&attrs, "openinference.span.kind").unwrap(), "LLM");
    assert_eq!(get_str(&attrs, "llm.model_name").unwrap(), "gpt-4o");
    assert_eq!(get(&attrs, "llm.token_count.total"), Some(&Value::I64(42)));
    assert_eq!(
        get(&attrs, "openinference.span.trimmed"),
        Some(&Value::Bool(true))
    );
    let input = get_str(&attrs, "input.value").unwrap();
    assert!(
        input.ends_with(&format!("…[truncated, {} bytes]", 50 * 1024 * 1024)),
        "{}",
        &input[input.len() - 40..]
    );
}

#[test]
fn span_budget_drops_largest_when_cutting_is_not_enough() {
    let p = Privacy::default().with_max_span_bytes(4096);
    let mut attrs = vec![
        kv("openinference.span.kind", "CHAIN"),
        kv("error.type", "Timeout"),
    ];
    for i in 0..200 {
        attrs.push(KeyValue::new(format!("custom.attr.{i}"), "v".repeat(50)));
    }
    p.apply(&mut attrs, &mut [], &mut KeyPlans::default(), None);
    assert!(content_size(&attrs, &[], usize::MAX) <= 4096);
    assert!(get(&attrs, "openinference.span.kind").is_some());
    assert!(get(&attrs, "error.type").is_some());
    match get(&attrs, "openinference.span.trimmed.dropped_attributes") {
        Some(Value::I64(n)) => assert!(*n > 0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn span_budget_holds_even_below_the_protected_attributes() {
    let p = Privacy::default()
        .with_max_value_len(0)
        .with_max_span_bytes(512);
    let mut attrs = vec![
        kv("openinference.span.kind", "LLM"),
        kv("llm.model_name", "m".repeat(300)),
        kv("llm.token_count.prompt", "[".repeat(400)),
        kv("llm.token_count.completion", 7i64),
        kv("gen_ai.request.model", "g".repeat(300)),
    ];
    p.apply(&mut attrs, &mut [], &mut KeyPlans::default(), None);
    let size = content_size(&attrs, &[], usize::MAX);
    assert!(size <= 512, "{size}: {attrs:?}");
    assert_eq!(get_str(&attrs, "openinference.span.kind").unwrap(), "LLM");
    assert_eq!(
        get(&attrs, "openinference.span.trimmed"),
        Some(&Value::Bool(true))
    );
}

fn span(attrs: Vec<KeyValue>) -> SpanData {
    SpanData {
        span_context: SpanContext::empty_context(),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: "chat".into(),
        start_time: SystemTime::UNIX_EPOCH,
        end_time: SystemTime::UNIX_EPOCH,
        attributes: attrs,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::default(),
    }
}

#[test]
fn fit_batch_keeps_every_span_under_budget() {
    let p = Privacy::default();
    let mut batch: Vec<SpanData> = (0..8)
        .map(|i| {
            span(vec![
                kv("openinference.span.kind", "LLM"),
                kv("llm.model_name", "m"),
                kv("input.value", "i".repeat(900_000 + i * 1000)),
                kv("output.value", "o".repeat(10)),
            ])
        })
        .collect();
    batch.push(span(vec![
        kv("openinference.span.kind", "TOOL"),
        kv("tool.name", "t"),
    ]));
    let before_small = batch[8].clone();
    fit(&p, &mut batch);
    assert_eq!(batch.len(), 9);
    let total: usize = batch.iter().map(span_size).sum();
    assert!(total <= DEFAULT_MAX_REQUEST_BYTES, "{total}");
    assert_eq!(batch[8], before_small, "small span untouched");
    for s in &batch[..8] {
        assert_eq!(
            get_str(&s.attributes, "openinference.span.kind").unwrap(),
            "LLM"
        );
        assert_eq!(
            get(&s.attributes, "openinference.span.trimmed"),
            Some(&Value::Bool(true))
        );
    }
    // Under budget: nothing changes.
    let mut small = vec![before_small.clone()];
    fit(&p, &mut small);
    assert_eq!(small[0], before_small);
}

#[test]
fn env_parsing() {
    let vars = [
        ("OPENINFERENCE_HIDE_INPUTS", "true"),
        ("OPENINFERENCE_HIDE_OUTPUTS", "YES"),
        ("OPENINFERENCE_HIDE_INPUT_MESSAGES", "1"),
        ("OPENINFERENCE_HIDE_OUTPUT_MESSAGES", "False"),
        ("OPENINFERENCE_HIDE_INPUT_TEXT", "no"),
        ("OPENINFERENCE_HIDE_EMBEDDING_VECTORS", "true"),
        ("OPENINFERENCE_HIDE_ALL", " 0 "),
        ("OPENINFERENCE_HIDE_PROMPTS", ""),
        ("OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH", "1000"),
        ("OPENINFERENCE_MAX_VALUE_LENGTH", "0"),
    ];
    let get = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let p = Privacy::from_env_with(get).unwrap();
    assert!(p.hide_inputs && p.hide_outputs && p.hide_input_messages);
    assert!(!p.hide_output_messages && !p.hide_input_text && !p.hide_all && !p.hide_prompts);
    assert!(p.hide_embeddings_vectors, "deprecated alias");
    assert_eq!(p.base64_image_max_len, 1000);
    assert_eq!(p.max_value_len, 0);
    assert!(p.redact_secrets);
    assert_eq!(
        Privacy::from_env_with(|_| None).unwrap(),
        Privacy::default()
    );

    let err = Privacy::from_env_with(|n| {
        (n == "OPENINFERENCE_HIDE_LLM_TOOLS").then(|| "sure".to_string())
    });
    assert!(err.unwrap_err().contains("OPENINFERENCE_HIDE_LLM_TOOLS"));
    let err = Privacy::from_env_with(|n| {
        (n == "OPENINFERENCE_MAX_VALUE_LENGTH").then(|| "-5".to_string())
    });
    assert!(err.unwrap_err().contains("OPENINFERENCE_MAX_VALUE_LENGTH"));
    let err = Privacy::from_env_with(|n| {
        (n == "OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH").then(|| "1e3".to_string())
    });
    assert!(err
        .unwrap_err()
        .contains("OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH"));
}

#[test]
fn deep_and_broken_json_is_safe() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let broken = r#"{"api_key": "abc", "x": [1, {"password"#;
    let out = run(
        &Privacy::default().with_max_value_len(0),
        vec![
            kv("metadata", deep.clone()),
            kv("llm.invocation_parameters", broken),
        ],
    );
    assert_eq!(get_str(&out, "metadata").unwrap(), deep);
    assert!(get_str(&out, "llm.invocation_parameters")
        .unwrap()
        .starts_with(r#"{"api_key": "__REDACTED__""#));
}

use opentelemetry::StringValue;
use proptest::prelude::*;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("api_key".to_string()),
                        Just("Password".to_string()),
                        Just("max_tokens".to_string()),
                        Just("access-token".to_string()),
                        Just("messages".to_string()),
                        ".{0,12}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|v| serde_json::Value::Object(v.into_iter().collect())),
        ]
    })
}

fn attr_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::from),
        ".{0,300}".prop_map(Value::from),
        json_value().prop_map(|v| Value::from(v.to_string())),
        "[a-zA-Z0-9+/=]{0,200}".prop_map(|s| Value::from(format!("data:image/png;base64,{s}"))),
        "[a-zA-Z0-9_-]{0,40}".prop_map(|s| Value::from(format!("Bearer {s} sk-{s}"))),
        prop::collection::vec(any::<f64>(), 0..100).prop_map(|v| Value::Array(v.into())),
        prop::collection::vec(".{0,80}", 0..8).prop_map(|v| Value::Array(Array::String(
            v.into_iter().map(StringValue::from).collect()
        ))),
        any::<i64>().prop_map(Value::from),
        Just(Value::F64(f64::NAN)),
    ]
}

fn attr_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("input.value".to_string()),
        Just("output.value".to_string()),
        Just("metadata".to_string()),
        Just("llm.invocation_parameters".to_string()),
        Just("llm.input_messages.0.message.content".to_string()),
        Just("llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments".to_string()),
        Just("embedding.embeddings.0.embedding.vector".to_string()),
        Just("retrieval.documents.0.document.metadata".to_string()),
        Just("openinference.span.kind".to_string()),
        ".{0,30}",
    ]
}

fn all_strings(attrs: &[KeyValue], events: &[Event]) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |v: &Value| match v {
        Value::String(s) => out.push(s.as_str().to_string()),
        Value::Array(Array::String(items)) => {
            out.extend(items.iter().map(|s| s.as_str().to_string()))
        }
        _ => {}
    };
    attrs.iter().for_each(|kv| push(&kv.value));
    events
        .iter()
        .flat_map(|e| e.attributes.iter())
        .for_each(|kv| push(&kv.value));
    out
}

fn fit(p: &Privacy, batch: &mut [SpanData]) {
    let sizes = batch.iter().map(span_size).collect();
    p.fit_batch(batch, sizes);
}

/// Every key `action_by_flags` names, and a few under its prefixes.
const NAMED_KEYS: &[&str] = &[
    "input.value",
    "input.mime_type",
    "output.value",
    "output.mime_type",
    "llm.invocation_parameters",
    "embedding.invocation_parameters",
    "gen_ai.input.messages",
    "gen_ai.system_instructions",
    "gen_ai.output.messages",
    "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.retrieval.documents",
    "tool.parameters",
    "llm.function_call",
    "llm.prompt_template.template",
    "llm.prompt_template.variables",
    "reranker.query",
    "llm.input_messages",
    "llm.input_messages.0.message.content",
    "llm.input_messages.0.message.contents.1.message_content.image.image.url",
    "llm.output_messages",
    "llm.output_messages.2.message.content",
    "llm.tools.0.tool.json_schema",
    "llm.prompts.0.prompt.text",
    "llm.choices.0.completion.text",
    "embedding.embeddings",
    "embedding.embeddings.0.embedding.vector",
    "embedding.embeddings.0.embedding.text",
    "retrieval.documents",
    "retrieval.documents.0.document.content",
    "retrieval.documents.0.document.metadata",
    "reranker.input_documents",
    "reranker.output_documents",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
    "message.function_call_arguments_json",
    "x.audio.transcript",
    "x.image.url",
    "x.audio.url",
];

#[test]
fn with_no_hide_flag_the_flags_keep_every_named_key() {
    let p = Privacy::default();
    assert!(!p.hides_any());
    for key in NAMED_KEYS {
        assert_eq!(p.action_by_flags(key), Action::Keep, "{key}");
    }
    // And each flag alone counts.
    let setters: [fn(Privacy, bool) -> Privacy; 14] = [
        Privacy::with_hide_inputs,
        Privacy::with_hide_outputs,
        Privacy::with_hide_input_messages,
        Privacy::with_hide_output_messages,
        Privacy::with_hide_input_text,
        Privacy::with_hide_output_text,
        Privacy::with_hide_input_images,
        Privacy::with_hide_llm_invocation_parameters,
        Privacy::with_hide_llm_tools,
        Privacy::with_hide_prompts,
        Privacy::with_hide_choices,
        Privacy::with_hide_embeddings_vectors,
        Privacy::with_hide_embeddings_text,
        Privacy::with_hide_all,
    ];
    for set in setters {
        assert!(set(Privacy::default(), true).hides_any());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The shortcut taken when no hide flag is set gives what the flags would.
    #[test]
    fn with_no_hide_flag_the_flags_keep_any_key(key in attr_key()) {
        prop_assert_eq!(Privacy::default().action_by_flags(&key), Action::Keep);
    }

    /// A string the short path leaves alone is one the full scan would leave alone.
    #[test]
    fn short_strings_left_alone_are_clean(
        s in prop_oneof![
            ".{0,16}",
            "(Bearer|bearer) [a-z0-9]{6,10}",
            "sk-[a-z0-9]{12,18}",
            "(\\{|\\[|data:)[a-zA-Z0-9 \"{}:,_-]{0,12}",
        ],
        flags in prop::collection::vec(any::<bool>(), 2),
        cap in 0usize..20,
        b64 in 0usize..20,
    ) {
        let p = Privacy {
            redact_secrets: flags[0], hide_inputs: flags[1], max_value_len: cap,
            base64_image_max_len: b64, ..Privacy::default()
        };
        for scan in [JsonScan::None, JsonScan::Secrets, JsonScan::PromptKeys] {
            if p.leaves_short(&s, scan) {
                prop_assert_eq!(p.clean_str_scanned(&s, scan), None, "{:?} {:?}", s, scan);
            }
        }
    }

    #[test]
    fn apply_never_panics_and_respects_cap(
        attrs in prop::collection::vec((attr_key(), attr_value()), 0..12),
        flags in prop::collection::vec(any::<bool>(), 15),
        cap in 0usize..200,
        b64 in 0usize..120,
        span_budget in prop_oneof![Just(0usize), 200usize..5000],
    ) {
        let p = Privacy {
            hide_inputs: flags[0], hide_outputs: flags[1], hide_input_messages: flags[2],
            hide_output_messages: flags[3], hide_input_text: flags[4], hide_output_text: flags[5],
            hide_input_images: flags[6], hide_llm_invocation_parameters: flags[7], hide_llm_tools: flags[8],
            hide_prompts: flags[9], hide_choices: flags[10], hide_embeddings_vectors: flags[11],
            hide_embeddings_text: flags[12], hide_all: flags[13], redact_secrets: flags[14],
            max_value_len: cap, base64_image_max_len: b64, max_span_bytes: span_budget,
            max_request_bytes: 10_000, mask: None,
        };
        let mut attrs: Vec<KeyValue> = attrs.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect();
        let mut events = vec![Event::new("log", SystemTime::UNIX_EPOCH, attrs.clone(), 0)];
        // Plans kept from an earlier span give what fresh ones give.
        let mut plans = KeyPlans::default();
        let (mut again, mut again_events) = (attrs.clone(), events.clone());
        p.apply(&mut attrs, &mut events, &mut plans, None);
        p.apply(&mut again, &mut again_events, &mut plans, None);
        // (Compared as text: a NaN is not equal to itself.)
        prop_assert_eq!(format!("{again:?}"), format!("{attrs:?}"));
        let attributes = |events: &[Event]| format!("{:?}", events.iter().map(|e| &e.attributes).collect::<Vec<_>>());
        prop_assert_eq!(attributes(&again_events), attributes(&events));
        if cap > 0 {
            for s in all_strings(&attrs, &events) {
                prop_assert!(s.len() <= cap + MARKER_MAX, "len {} > cap {}", s.len(), cap);
            }
        }
        let mut batch = vec![span(attrs.clone()), span(attrs)];
        fit(&p, &mut batch);
        prop_assert_eq!(batch.len(), 2);
    }

    #[test]
    fn json_scan_keeps_json_valid_and_hides_secrets(v in json_value()) {
        let text = v.to_string();
        let out = scan_json(&text, true, false).unwrap_or_else(|| text.clone());
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        fn check(v: &serde_json::Value) -> bool {
            match v {
                serde_json::Value::Object(m) => m.iter().all(|(k, v)| {
                    let secret = matches!(k.as_str(), "api_key" | "Password") && !v.is_null();
                    (!secret || v == REDACTED) && (k != "max_tokens" || v != REDACTED) && check(v)
                }),
                serde_json::Value::Array(a) => a.iter().all(check),
                _ => true,
            }
        }
        prop_assert!(check(&parsed), "{}", out);
    }
}

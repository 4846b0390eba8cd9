//! Secret keys, free-text credentials, the length cap and data URIs.

use super::*;

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
    for len in [1usize, 2, 3, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100] {
        for _ in 0..20 {
            let text: String = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    [
                        'b', 'B', '-', 'x', 's', 'k', 'e', 'A', 'a', '=', '_', ':', '@', 'J',
                    ][(seed % 14) as usize]
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
        let naive = |i: usize| {
            (i..b.len())
                .find(|&j| b"bB-_@JA=:".contains(&b[j]))
                .unwrap_or(b.len())
        };
        // Every start, and every stride the scan can take (one past an anchor, or past a match).
        for step in [1, 2, 5, 16, 17, 32, 33, 40] {
            for first in 0..b.len().min(step) {
                let mut anchors = Anchors::new(b);
                let mut i = first;
                while i < b.len() {
                    assert_eq!(anchors.next(i), naive(i), "{text:?} at {i}");
                    i += step;
                }
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

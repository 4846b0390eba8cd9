//! The hide flags and the key plans.

use super::*;

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

//! Span and request byte budgets, and the settings read from the environment.

use super::*;

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

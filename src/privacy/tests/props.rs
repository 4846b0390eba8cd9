//! Properties over generated attributes, keys and JSON.

use super::*;

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

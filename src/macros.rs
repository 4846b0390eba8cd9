//! Macros that declare a span's whole field set up front, so `Span::record` never hits an
//! undeclared field.

/// An LLM span (`info_span!`) with the model, provider and every usage, message and output
/// field declared. Extra fields follow after a comma, as in `info_span!`.
///
/// ```
/// use tracing_openinference::llm_span;
/// let span = llm_span!("chat", model = "gpt-4o-mini", provider = "openai", session.id = "s-1");
/// span.record("llm.token_count.prompt", 12);
/// span.record("llm.token_count.completion", 3);
/// ```
#[macro_export]
macro_rules! llm_span {
    ($name:expr, model = $model:expr, provider = $provider:expr $(, $($rest:tt)*)?) => {
        $crate::__private::tracing::info_span!(
            $name,
            openinference.span.kind = "LLM",
            llm.model_name = $model,
            llm.provider = $provider,
            llm.token_count.prompt = $crate::__private::tracing::field::Empty,
            llm.token_count.completion = $crate::__private::tracing::field::Empty,
            llm.token_count.total = $crate::__private::tracing::field::Empty,
            llm.token_count.prompt_details.cache_read = $crate::__private::tracing::field::Empty,
            llm.token_count.prompt_details.cache_write = $crate::__private::tracing::field::Empty,
            llm.token_count.completion_details.reasoning = $crate::__private::tracing::field::Empty,
            llm.input_messages = $crate::__private::tracing::field::Empty,
            llm.output_messages = $crate::__private::tracing::field::Empty,
            llm.invocation_parameters = $crate::__private::tracing::field::Empty,
            llm.finish_reason = $crate::__private::tracing::field::Empty,
            input.value = $crate::__private::tracing::field::Empty,
            output.value = $crate::__private::tracing::field::Empty
            $(, $($rest)*)?
        )
    };
}

/// A TOOL span with the tool's name and its arguments, output and call id declared.
///
/// ```
/// use tracing_openinference::tool_span;
/// let span = tool_span!("get_weather", tool.id = "call_1");
/// span.record("output.value", "18°C");
/// ```
#[macro_export]
macro_rules! tool_span {
    ($tool:expr $(, $($rest:tt)*)?) => {
        $crate::__private::tracing::info_span!(
            "tool",
            otel.name = $tool,
            openinference.span.kind = "TOOL",
            tool.name = $tool,
            tool.parameters = $crate::__private::tracing::field::Empty,
            input.value = $crate::__private::tracing::field::Empty,
            output.value = $crate::__private::tracing::field::Empty
            $(, $($rest)*)?
        )
    };
}

/// A RETRIEVER span with the query and documents declared.
///
/// ```
/// use tracing_openinference::retriever_span;
/// let span = retriever_span!("search_docs", query = "what is rust");
/// span.record("retrieval.documents", r#"[{"id":"d1","content":"...","score":0.9}]"#);
/// ```
#[macro_export]
macro_rules! retriever_span {
    ($name:expr, query = $query:expr $(, $($rest:tt)*)?) => {
        $crate::__private::tracing::info_span!(
            $name,
            openinference.span.kind = "RETRIEVER",
            input.value = $query,
            retrieval.documents = $crate::__private::tracing::field::Empty
            $(, $($rest)*)?
        )
    };
}

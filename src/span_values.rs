//! The typed values [`crate::LlmSpanExt`] records: usage, messages, tool calls, documents and
//! the prompt a call was made from.

use serde::Serialize;

/// Token usage of one LLM call. `prompt` includes the cache counts; `completion` includes
/// reasoning.
///
/// ```
/// use tracing_openinference::Usage;
/// let usage = Usage { prompt: 1200, completion: 80, cache_read: 1000, ..Usage::default() };
/// assert_eq!(usage.prompt + usage.completion, 1280);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt (input) tokens, cache reads and writes included.
    pub prompt: u64,
    /// Completion (output) tokens, reasoning included.
    pub completion: u64,
    /// Prompt tokens read from the provider's cache.
    pub cache_read: u64,
    /// Prompt tokens written to the provider's cache.
    pub cache_write: u64,
    /// Reasoning tokens.
    pub reasoning: u64,
}

/// A tool call the model asked for.
///
/// ```
/// use tracing_openinference::ToolCall;
/// let call = ToolCall::new("call_1", "get_weather", serde_json::json!({"city": "Paris"}));
/// assert_eq!(call.function.name, "get_weather");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCall {
    /// The call id (`tool_call.id`).
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The function called.
    pub function: FunctionCall,
}

/// The function of a [`ToolCall`].
///
/// ```
/// let f = tracing_openinference::FunctionCall { name: "add".into(), arguments: "{\"a\":1}".into() };
/// assert_eq!(f.name, "add");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionCall {
    /// The function name.
    pub name: String,
    /// The arguments, as a JSON string.
    pub arguments: String,
}

impl ToolCall {
    /// A function call with JSON arguments.
    ///
    /// ```
    /// let call = tracing_openinference::ToolCall::new("c1", "search", serde_json::json!({"q": "rust"}));
    /// assert_eq!(call.function.arguments, r#"{"q":"rust"}"#);
    /// ```
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: serde_json::Value,
    ) -> Self {
        ToolCall {
            id: id.into(),
            kind: "function",
            function: FunctionCall {
                name: name.into(),
                arguments: arguments.to_string(),
            },
        }
    }
}

/// A chat message in the OpenAI shape the layer flattens.
///
/// ```
/// use tracing_openinference::Message;
/// let m = Message::user("What is Rust?");
/// assert_eq!(m.role, "user");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The text content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
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

impl Message {
    /// A message with a role and text.
    ///
    /// ```
    /// let m = tracing_openinference::Message::new("system", "Be brief.");
    /// assert_eq!(m.content.as_deref(), Some("Be brief."));
    /// ```
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            role: role.into(),
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }

    /// A `system` message.
    ///
    /// ```
    /// assert_eq!(tracing_openinference::Message::system("x").role, "system");
    /// ```
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    /// A `user` message.
    ///
    /// ```
    /// assert_eq!(tracing_openinference::Message::user("x").role, "user");
    /// ```
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    /// An `assistant` message.
    ///
    /// ```
    /// assert_eq!(tracing_openinference::Message::assistant("x").role, "assistant");
    /// ```
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }

    /// An `assistant` message that asks for tool calls.
    ///
    /// ```
    /// use tracing_openinference::{Message, ToolCall};
    /// let m = Message::tool_calls(vec![ToolCall::new("c1", "f", serde_json::json!({}))]);
    /// assert_eq!(m.tool_calls.len(), 1);
    /// ```
    pub fn tool_calls(calls: Vec<ToolCall>) -> Self {
        Message {
            role: "assistant".into(),
            content: None,
            tool_calls: calls,
            tool_call_id: None,
            name: None,
        }
    }

    /// A `tool` message carrying a tool's result.
    ///
    /// ```
    /// let m = tracing_openinference::Message::tool_result("c1", "get_weather", "18°C");
    /// assert_eq!(m.tool_call_id.as_deref(), Some("c1"));
    /// ```
    pub fn tool_result(
        call_id: impl Into<String>,
        name: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        Message {
            role: "tool".into(),
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.into()),
            name: Some(name.into()),
        }
    }
}

/// A retrieved document.
///
/// ```
/// use tracing_openinference::Document;
/// let d = Document::new("doc-1", "Rust is a systems language.", 0.92);
/// assert_eq!(d.score, Some(0.92));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    /// The document id.
    pub id: String,
    /// The content.
    pub content: String,
    /// The relevance score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

impl Document {
    /// A document with an id, content and score.
    ///
    /// ```
    /// let d = tracing_openinference::Document::new("a", "text", 0.5);
    /// assert_eq!(d.id, "a");
    /// ```
    pub fn new(id: impl Into<String>, content: impl Into<String>, score: f64) -> Self {
        Document {
            id: id.into(),
            content: content.into(),
            score: Some(score),
            metadata: None,
        }
    }
}

/// The managed prompt an LLM call was made from: its name and version (the Langfuse prompt
/// link), and the template and variables it was filled with. Recorded on a span with
/// [`crate::LlmSpanExt::record_prompt`], it is inherited by the LLM spans below it.
///
/// ```
/// use tracing_openinference::Prompt;
/// let prompt = Prompt::new("support-answer", "3")
///     .with_template("Answer {question} briefly.", serde_json::json!({"question": "Rain?"}));
/// assert_eq!(prompt.version.as_deref(), Some("3"));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prompt {
    /// `gen_ai.prompt.name`: the prompt's name in the prompt store.
    pub name: Option<String>,
    /// `gen_ai.prompt.version` and `llm.prompt_template.version`.
    pub version: Option<String>,
    /// `llm.prompt_template.template`: the template text.
    pub template: Option<String>,
    /// `llm.prompt_template.variables`: the values filled in (a JSON object).
    pub variables: Option<serde_json::Value>,
}

impl Prompt {
    /// A prompt known by name and version.
    ///
    /// ```
    /// let p = tracing_openinference::Prompt::new("greeting", "1");
    /// assert_eq!(p.name.as_deref(), Some("greeting"));
    /// ```
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Prompt {
            name: Some(name.into()),
            version: Some(version.into()),
            ..Prompt::default()
        }
    }

    /// The same prompt with its template and the variables filled in.
    ///
    /// ```
    /// let p = tracing_openinference::Prompt::new("greeting", "1")
    ///     .with_template("Hello {name}", serde_json::json!({"name": "Ada"}));
    /// assert_eq!(p.template.as_deref(), Some("Hello {name}"));
    /// ```
    pub fn with_template(
        mut self,
        template: impl Into<String>,
        variables: serde_json::Value,
    ) -> Self {
        self.template = Some(template.into());
        self.variables = Some(variables);
        self
    }
}

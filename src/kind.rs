//! The OpenInference span kinds and how a span's kind is recognized.

use std::fmt;

/// The OpenInference kind of a span (`openinference.span.kind`).
///
/// Every span the layer exports carries one; spans with no LLM fields are [`SpanKind::Chain`],
/// so nothing shows as `UNKNOWN` in Phoenix.
///
/// ```
/// use tracing_openinference::SpanKind;
///
/// assert_eq!(SpanKind::parse("llm"), Some(SpanKind::Llm));
/// assert_eq!(SpanKind::Retriever.as_str(), "RETRIEVER");
/// assert_eq!(SpanKind::from_gen_ai_operation("execute_tool"), Some(SpanKind::Tool));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanKind {
    /// A call to a language model.
    Llm,
    /// A call to an embedding model.
    Embedding,
    /// Any other step: the default.
    Chain,
    /// A retrieval of documents.
    Retriever,
    /// A reranking of documents.
    Reranker,
    /// The execution of a tool.
    Tool,
    /// An agent's run.
    Agent,
    /// A guardrail check.
    Guardrail,
    /// An evaluator run.
    Evaluator,
    /// The rendering of a prompt template.
    Prompt,
    /// A call to a decision model: state and typed questions in, a typed, probabilistic answer
    /// per question out (the `decision.*` attributes).
    Decision,
}

impl SpanKind {
    /// Every kind, in a fixed order.
    pub const ALL: [SpanKind; 11] = [
        SpanKind::Llm,
        SpanKind::Embedding,
        SpanKind::Chain,
        SpanKind::Retriever,
        SpanKind::Reranker,
        SpanKind::Tool,
        SpanKind::Agent,
        SpanKind::Guardrail,
        SpanKind::Evaluator,
        SpanKind::Prompt,
        SpanKind::Decision,
    ];

    /// The value of `openinference.span.kind`.
    ///
    /// ```
    /// assert_eq!(tracing_openinference::SpanKind::Llm.as_str(), "LLM");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            SpanKind::Llm => "LLM",
            SpanKind::Embedding => "EMBEDDING",
            SpanKind::Chain => "CHAIN",
            SpanKind::Retriever => "RETRIEVER",
            SpanKind::Reranker => "RERANKER",
            SpanKind::Tool => "TOOL",
            SpanKind::Agent => "AGENT",
            SpanKind::Guardrail => "GUARDRAIL",
            SpanKind::Evaluator => "EVALUATOR",
            SpanKind::Prompt => "PROMPT",
            SpanKind::Decision => "DECISION",
        }
    }

    /// Parses a kind in any letter case; `None` for anything else (including `UNKNOWN`).
    ///
    /// ```
    /// use tracing_openinference::SpanKind;
    /// assert_eq!(SpanKind::parse("Tool"), Some(SpanKind::Tool));
    /// assert_eq!(SpanKind::parse("unknown"), None);
    /// ```
    pub fn parse(s: &str) -> Option<SpanKind> {
        let s = s.trim();
        SpanKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }

    /// The kind for a GenAI `gen_ai.operation.name` value.
    ///
    /// ```
    /// use tracing_openinference::SpanKind;
    /// assert_eq!(SpanKind::from_gen_ai_operation("chat"), Some(SpanKind::Llm));
    /// assert_eq!(SpanKind::from_gen_ai_operation("embeddings"), Some(SpanKind::Embedding));
    /// ```
    pub fn from_gen_ai_operation(op: &str) -> Option<SpanKind> {
        Some(match op.trim() {
            // `chat_streaming`, `interactions` and `interactions_streaming`: rig's names.
            "chat"
            | "text_completion"
            | "generate_content"
            | "completion"
            | "generate"
            | "chat_streaming"
            | "interactions"
            | "interactions_streaming" => SpanKind::Llm,
            "embeddings" => SpanKind::Embedding,
            "retrieval" => SpanKind::Retriever,
            "rerank" => SpanKind::Reranker,
            "execute_tool" => SpanKind::Tool,
            "invoke_agent" | "create_agent" => SpanKind::Agent,
            "invoke_workflow" | "plan" => SpanKind::Chain,
            _ => return None,
        })
    }

    /// The GenAI `gen_ai.operation.name` this kind is exported with, if any.
    ///
    /// ```
    /// use tracing_openinference::SpanKind;
    /// assert_eq!(SpanKind::Tool.gen_ai_operation(), Some("execute_tool"));
    /// assert_eq!(SpanKind::Chain.gen_ai_operation(), None);
    /// ```
    pub const fn gen_ai_operation(self) -> Option<&'static str> {
        match self {
            SpanKind::Llm => Some("chat"),
            SpanKind::Embedding => Some("embeddings"),
            SpanKind::Retriever => Some("retrieval"),
            SpanKind::Tool => Some("execute_tool"),
            SpanKind::Agent => Some("invoke_agent"),
            _ => None,
        }
    }

    /// Infers a kind from the name of one declared field, by its namespace.
    ///
    /// Returns the kind and a rank: when a span declares fields of several namespaces, the
    /// lowest rank wins (an agent that names its model is still an agent).
    pub(crate) fn from_field_name(name: &str) -> Option<(SpanKind, u8)> {
        let (prefix, _) = name.split_once('.')?;
        Some(match prefix {
            "embedding" => (SpanKind::Embedding, 0),
            "reranker" => (SpanKind::Reranker, 1),
            "retrieval" => (SpanKind::Retriever, 2),
            "tool" => (SpanKind::Tool, 3),
            "agent" => (SpanKind::Agent, 4),
            "decision" => (SpanKind::Decision, 5),
            "llm" => (SpanKind::Llm, 6),
            "gen_ai" if name.starts_with("gen_ai.tool.") => (SpanKind::Tool, 3),
            "gen_ai" if name.starts_with("gen_ai.agent.") => (SpanKind::Agent, 4),
            "gen_ai" if name.starts_with("gen_ai.evaluation.") => (SpanKind::Evaluator, 3),
            "gen_ai"
                if name.starts_with("gen_ai.request.")
                    || name.starts_with("gen_ai.usage.")
                    || name.starts_with("gen_ai.response.") =>
            {
                (SpanKind::Llm, 7)
            }
            _ => return None,
        })
    }
}

impl fmt::Display for SpanKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_in_any_case() {
        for k in SpanKind::ALL {
            assert_eq!(SpanKind::parse(&k.as_str().to_lowercase()), Some(k));
        }
    }

    #[test]
    fn namespace_ranks_prefer_the_specific_kind() {
        let (agent, ra) = SpanKind::from_field_name("agent.name").unwrap();
        let (llm, rl) = SpanKind::from_field_name("llm.model_name").unwrap();
        assert_eq!((agent, llm), (SpanKind::Agent, SpanKind::Llm));
        assert!(ra < rl);
        assert_eq!(SpanKind::from_field_name("session.id"), None);
        assert_eq!(SpanKind::from_field_name("question"), None);
    }

    #[test]
    fn decision_fields_make_a_decision_span_with_no_gen_ai_operation() {
        let (decision, rd) = SpanKind::from_field_name("decision.model_name").unwrap();
        let (_, rl) = SpanKind::from_field_name("llm.model_name").unwrap();
        assert_eq!(decision, SpanKind::Decision);
        assert!(
            rd < rl,
            "a decision span that also names an llm.* field stays DECISION"
        );
        assert_eq!(SpanKind::parse("decision"), Some(SpanKind::Decision));
        assert_eq!(SpanKind::Decision.gen_ai_operation(), None);
    }
}

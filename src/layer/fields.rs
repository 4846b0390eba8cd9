//! What the layer learns from a callsite's declared fields, decided once per callsite.

use crate::kind::SpanKind;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use tracing_core::callsite::Identifier;
use tracing_core::Metadata;

/// The part a field plays for the layer itself (the exporter maps every field by name later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// `openinference.span.kind`: an explicit kind.
    Kind,
    /// `gen_ai.operation.name`: a kind by the GenAI mapping.
    Operation,
    /// The model (`llm.model_name`, `gen_ai.request.model`, `embedding.model_name`, ...).
    Model,
    /// The provider (`llm.provider`, `gen_ai.provider.name`, `llm.system`, ...).
    Provider,
    /// A token count.
    Tokens(TokenSlot),
    /// A cost given by the caller: the layer computes none.
    CostGiven,
    /// A context value that descendants inherit.
    Context(ContextSlot),
    /// An explicit `output.value`.
    Output,
    /// The tool name.
    ToolName,
    /// An error type given by the caller.
    ErrorType,
    /// Documents a retriever or reranker returned (counted for metrics).
    Documents,
    /// The reply messages (`llm.output_messages`): then they, not the `ret` value, are the
    /// span's output.
    OutputMessages,
    /// Anything else: exported as it is by the bridge and mapped by name later.
    Other,
}

/// Which token count a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenSlot {
    /// Prompt (input) tokens, cache included.
    Prompt,
    /// Completion (output) tokens, reasoning included.
    Completion,
    /// The total.
    Total,
    /// Prompt tokens read from cache.
    CacheRead,
    /// Prompt tokens written to cache.
    CacheWrite,
    /// Reasoning tokens.
    Reasoning,
}

/// Which inherited context value a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContextSlot {
    /// `session.id`.
    Session,
    /// `user.id`.
    User,
    /// `metadata`.
    Metadata,
    /// `tag.tags`.
    Tags,
    /// `llm.prompt_template.template` (LLM spans only).
    PromptTemplate,
    /// `llm.prompt_template.variables` (LLM spans only).
    PromptVariables,
    /// `llm.prompt_template.version` (LLM spans only).
    PromptTemplateVersion,
    /// `gen_ai.prompt.name` (LLM spans only).
    PromptName,
    /// `gen_ai.prompt.version` (LLM spans only).
    PromptVersion,
}

impl ContextSlot {
    /// Every slot, in the order of [`crate::layer::state::Inherited`]'s array.
    pub(crate) const ALL: [ContextSlot; 9] = [
        ContextSlot::Session,
        ContextSlot::User,
        ContextSlot::Metadata,
        ContextSlot::Tags,
        ContextSlot::PromptTemplate,
        ContextSlot::PromptVariables,
        ContextSlot::PromptTemplateVersion,
        ContextSlot::PromptName,
        ContextSlot::PromptVersion,
    ];

    /// Whether only LLM descendants record the value (the prompt they were made from); the
    /// others are recorded by every descendant.
    pub(crate) const fn llm_only(self) -> bool {
        self.position() >= 4
    }

    /// The slot's position in [`ContextSlot::ALL`].
    pub(crate) const fn position(self) -> usize {
        match self {
            ContextSlot::Session => 0,
            ContextSlot::User => 1,
            ContextSlot::Metadata => 2,
            ContextSlot::Tags => 3,
            ContextSlot::PromptTemplate => 4,
            ContextSlot::PromptVariables => 5,
            ContextSlot::PromptTemplateVersion => 6,
            ContextSlot::PromptName => 7,
            ContextSlot::PromptVersion => 8,
        }
    }

    /// The slot's position among the keys the layer records (its attribute key's index in
    /// `synthetic::KEYS`).
    pub(crate) const fn index(self) -> usize {
        use crate::layer::synthetic::key_index;
        match self {
            ContextSlot::Session => key_index!("session.id"),
            ContextSlot::User => key_index!("user.id"),
            ContextSlot::Metadata => key_index!("metadata"),
            ContextSlot::Tags => key_index!("tag.tags"),
            ContextSlot::PromptTemplate => key_index!("llm.prompt_template.template"),
            ContextSlot::PromptVariables => key_index!("llm.prompt_template.variables"),
            ContextSlot::PromptTemplateVersion => key_index!("llm.prompt_template.version"),
            ContextSlot::PromptName => key_index!("gen_ai.prompt.name"),
            ContextSlot::PromptVersion => key_index!("gen_ai.prompt.version"),
        }
    }
}

/// The role of a field with this name.
pub(crate) fn role_of(name: &str) -> Role {
    use TokenSlot::*;
    match name {
        "openinference.span.kind" => Role::Kind,
        "gen_ai.operation.name" => Role::Operation,
        "llm.model_name"
        | "llm.response.model_name"
        | "llm.request.model_name"
        | "gen_ai.request.model"
        | "gen_ai.response.model"
        | "embedding.model_name"
        | "reranker.model_name" => Role::Model,
        "llm.provider" | "gen_ai.provider.name" | "llm.system" | "gen_ai.system" => Role::Provider,
        // `gen_ai.usage.prompt_tokens` / `completion_tokens`: the names before GenAI 1.27.
        "llm.token_count.prompt" | "gen_ai.usage.input_tokens" | "gen_ai.usage.prompt_tokens" => {
            Role::Tokens(Prompt)
        }
        "llm.token_count.completion"
        | "gen_ai.usage.output_tokens"
        | "gen_ai.usage.completion_tokens" => Role::Tokens(Completion),
        "llm.token_count.total" | "gen_ai.usage.total_tokens" => Role::Tokens(Total),
        "llm.token_count.prompt_details.cache_read" | "gen_ai.usage.cache_read.input_tokens" => {
            Role::Tokens(CacheRead)
        }
        "llm.token_count.prompt_details.cache_write"
        | "gen_ai.usage.cache_creation.input_tokens"
        | "gen_ai.usage.cache_write.input_tokens" => Role::Tokens(CacheWrite),
        // `gen_ai.usage.reasoning_tokens`: the name `rig` records.
        "llm.token_count.completion_details.reasoning"
        | "gen_ai.usage.reasoning.output_tokens"
        | "gen_ai.usage.reasoning_tokens" => Role::Tokens(Reasoning),
        "llm.cost.total" | "llm.cost.prompt" | "llm.cost.completion" => Role::CostGiven,
        "session.id" | "gen_ai.conversation.id" => Role::Context(ContextSlot::Session),
        "user.id" => Role::Context(ContextSlot::User),
        "metadata" => Role::Context(ContextSlot::Metadata),
        "tag.tags" => Role::Context(ContextSlot::Tags),
        "llm.prompt_template.template" => Role::Context(ContextSlot::PromptTemplate),
        "llm.prompt_template.variables" => Role::Context(ContextSlot::PromptVariables),
        "llm.prompt_template.version" => Role::Context(ContextSlot::PromptTemplateVersion),
        "gen_ai.prompt.name" => Role::Context(ContextSlot::PromptName),
        "gen_ai.prompt.version" => Role::Context(ContextSlot::PromptVersion),
        "llm.output_messages" | "gen_ai.output.messages" => Role::OutputMessages,
        "output.value" => Role::Output,
        "tool.name" | "gen_ai.tool.name" => Role::ToolName,
        "error.type" => Role::ErrorType,
        "retrieval.documents" | "reranker.output_documents" | "gen_ai.retrieval.documents" => {
            Role::Documents
        }
        _ => Role::Other,
    }
}

/// What the layer knows about one callsite.
#[derive(Debug)]
pub(crate) struct CallsiteInfo {
    /// The kind inferred from the declared field names, if any namespace matched.
    pub(crate) inferred: Option<SpanKind>,
    /// The role of each field, by field index.
    pub(crate) roles: Box<[Role]>,
    /// Whether a field sets the OpenTelemetry span kind (`otel.kind`), which only the
    /// bridge's span builder can: such spans always give the bridge their fields.
    pub(crate) sets_otel_kind: bool,
    /// Whether no declared field means anything to the layer (no kind, no role): such a
    /// span needs no state unless it has context to hand down or may be sampled out.
    pub(crate) plain: bool,
    /// What searches of this callsite's values for unsigned integers found: [`UNSIGNED_UNKNOWN`],
    /// [`UNSIGNED_NONE`] or [`UNSIGNED_SEEN`] (see [`CallsiteInfo::may_have_unsigned`]).
    unsigned: AtomicU8,
}

/// No span of the callsite has given every field a value yet.
const UNSIGNED_UNKNOWN: u8 = 0;
/// A span gave every field a value, none unsigned.
const UNSIGNED_NONE: u8 = 1;
/// A span had an unsigned value: for good.
const UNSIGNED_SEEN: u8 = 2;

/// One span in this many per thread is searched for unsigned integers even at a callsite
/// whose values have shown none (see [`CallsiteInfo::may_have_unsigned`]).
const UNSIGNED_RECHECK: u32 = 64;

impl CallsiteInfo {
    /// Classifies a callsite from its metadata.
    pub(crate) fn new(meta: &Metadata<'_>) -> CallsiteInfo {
        let mut best: Option<(SpanKind, u8)> = None;
        let roles: Box<[Role]> = meta
            .fields()
            .iter()
            .map(|f| {
                if let Some((kind, rank)) = SpanKind::from_field_name(f.name()) {
                    if best.is_none_or(|(_, r)| rank < r) {
                        best = Some((kind, rank));
                    }
                }
                role_of(f.name())
            })
            .collect();
        CallsiteInfo {
            inferred: best.map(|(k, _)| k),
            plain: best.is_none() && roles.iter().all(|r| *r == Role::Other),
            roles,
            sets_otel_kind: meta.fields().field("otel.kind").is_some(),
            unsigned: AtomicU8::new(UNSIGNED_UNKNOWN),
        }
    }

    /// Whether the values of a new plain span of this callsite must be searched for unsigned
    /// integers (the bridge would export them as strings; the layer hands them over again
    /// as integers).
    ///
    /// The type of each field's value is fixed where the span is written, so once one span
    /// gave every field a value and none was unsigned, later spans have none either. Except in
    /// a generic function, whose one callsite serves every type it is used with: a field whose
    /// value has the function's type parameter can be unsigned in one use and not in another.
    /// So one span in [`UNSIGNED_RECHECK`] per thread is searched anyway (`skips` counts the
    /// thread's spans), and a callsite found with an unsigned value is searched from then on.
    pub(crate) fn may_have_unsigned(&self, skips: &mut u32) -> bool {
        if self.unsigned.load(Ordering::Relaxed) != UNSIGNED_NONE {
            return true;
        }
        *skips = skips.wrapping_add(1);
        (*skips).is_multiple_of(UNSIGNED_RECHECK)
    }

    /// Notes what a search of a new span's values found: how many of the callsite's fields
    /// had a value, and whether one was unsigned.
    pub(crate) fn searched(&self, valued: usize, any_unsigned: bool) {
        if any_unsigned {
            self.unsigned.store(UNSIGNED_SEEN, Ordering::Relaxed);
        } else if valued == self.roles.len() {
            // Not over a sighting of an unsigned value.
            let _ = self.unsigned.compare_exchange(
                UNSIGNED_UNKNOWN,
                UNSIGNED_NONE,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }
}

/// Callsites whose classification a thread keeps at hand, by the address of their metadata
/// (static, one per callsite).
pub(crate) const RECENT_CALLSITES: usize = 64;

/// A thread's recent callsite classifications (see [`super::per_thread`]).
pub(crate) type RecentCallsites = [Option<(usize, &'static CallsiteInfo)>; RECENT_CALLSITES];

/// The slot of `meta` among a thread's [`RecentCallsites`], and its key there.
pub(crate) fn recent_slot(meta: &'static Metadata<'static>) -> (usize, usize) {
    let key = meta as *const Metadata<'static> as usize;
    ((key >> 4) % RECENT_CALLSITES, key)
}

/// Every classification made, by callsite (see [`classification`]).
static CLASSIFIED: std::sync::LazyLock<
    parking_lot::RwLock<HashMap<Identifier, &'static CallsiteInfo, crate::fnv::FnvBuild>>,
> = std::sync::LazyLock::new(Default::default);

/// The classification of the callsite of `meta`, computed on first sight. Classifications
/// are made once per callsite for the whole process (one depends on the callsite alone) and
/// kept for its life: callsites are static, so there are only as many as the program has,
/// and a classification is a few dozen bytes. Being `'static`, a thread can keep them at hand
/// with nothing to drop (see [`super::per_thread`]).
pub(crate) fn classification(meta: &'static Metadata<'static>) -> &'static CallsiteInfo {
    let id = meta.callsite();
    if let Some(info) = CLASSIFIED.read().get(&id) {
        return info;
    }
    CLASSIFIED
        .write()
        .entry(id)
        .or_insert_with(|| Box::leak(Box::new(CallsiteInfo::new(meta))))
}

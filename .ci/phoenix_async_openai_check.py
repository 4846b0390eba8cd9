#!/usr/bin/env python3
"""End-to-end check: the async_openai example's trace, as Arize Phoenix stored it.

Stdlib only; the REST helpers are phoenix_check.py's. Polls Phoenix (bounded in time) until
the example's trace (root `weather_agent`) has arrived in its project, then asserts what the
`async-openai` integration recorded: the whole conversation with the tool call and its
result, the tool definitions, the reply's tool calls and finish reasons, the streamed tool
call rebuilt from its deltas, cached and reasoning tokens, cost, the first-token event, and
the embedding's texts and usage.

    python3 .ci/phoenix_async_openai_check.py --url http://127.0.0.1:6006 --project async-openai
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phoenix_check import (  # noqa: E402
    dump_json, normalize, phoenix_args, phoenix_checker, report, trace_id, wait_for_trace,
)

ROOT_NAME = "weather_agent"
SESSION_ID = "session-7"
FIRST_TOKEN_EVENT = "First Token Stream Event"
MIN_SPANS = 6  # the agent, two chats, the tool, the streamed chat, the embedding
TOOL_CALL_ID = "call_weather_1"
STREAMED_CALL = ("call_note_1", "save_note", {"text": "Umbrella after 15:00"})
# Usage the fake server reports, per LLM span name and order: (prompt, completion, cached, reasoning).
USAGE = [(1320, 210, 1024, 192), (1480, 160, 1280, 128), (1650, 48, 1536, 16)]


def pick_trace(spans):
    """The spans of the newest trace whose root is `weather_agent`."""
    roots = [s for s in spans if s.get("name") == ROOT_NAME and not s.get("parent_id")]
    if not roots:
        return []
    root = max(roots, key=lambda s: s.get("start_time") or "")
    tid = trace_id(root)
    return [s for s in spans if trace_id(s) == tid]


def parsed(span, key):
    value = span["_attrs"].get(key)
    if isinstance(value, (dict, list)):
        return value
    try:
        return json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None


def messages(span, prefix):
    """The flattened messages under `prefix` as a list of dicts with dotted keys."""
    out, i = [], 0
    a = span["_attrs"]
    while any(k.startswith(f"{prefix}.{i}.") for k in a):
        head = f"{prefix}.{i}.message."
        out.append({k[len(head):]: v for k, v in a.items() if k.startswith(head)})
        i += 1
    return out


def run_checks(trace):
    c = phoenix_checker()
    spans = sorted((normalize(s) for s in trace), key=lambda s: s.get("start_time") or "")
    kinds = {}
    for s in spans:
        kinds.setdefault(s["_kind"], []).append(s)
    llms = kinds.get("LLM", [])
    c.check(
        "the trace has the AGENT root, 3 LLM spans, the TOOL and the EMBEDDING",
        len(kinds.get("AGENT", [])) == 1 and len(llms) == 3 and len(kinds.get("TOOL", [])) == 1
        and len(kinds.get("EMBEDDING", [])) == 1,
        f"kinds: { {k: len(v) for k, v in kinds.items()} }",
        spans,
    )
    if len(llms) != 3:
        return c
    first, second, streamed = llms

    # --- the conversation -------------------------------------------------------------------
    conv = messages(second, "llm.input_messages")
    roles = [m.get("role") for m in conv]
    c.check(
        "the second chat's llm.input_messages hold the whole conversation: system, user, assistant, tool",
        roles == ["system", "user", "assistant", "tool"],
        f"roles {roles}",
        [second],
    )
    assistant = conv[2] if len(conv) > 2 else {}
    tool = conv[3] if len(conv) > 3 else {}
    c.check(
        "the assistant message carries the tool call (id, name, arguments) and the tool message answers it",
        assistant.get("tool_calls.0.tool_call.id") == TOOL_CALL_ID
        and assistant.get("tool_calls.0.tool_call.function.name") == "get_weather"
        and json.loads(assistant.get("tool_calls.0.tool_call.function.arguments") or "null") == {"city": "Paris"}
        and tool.get("tool_call_id") == TOOL_CALL_ID
        and tool.get("name") == "get_weather"
        and "14°C" in str(tool.get("content")),
        f"assistant {assistant}, tool {tool}",
        [second],
    )
    value = parsed(second, "input.value") or {}
    sent = value.get("messages") if isinstance(value, dict) else None
    c.check(
        "input.value is the request as chat JSON: the 4 messages with the tool call and result, and the 2 tools",
        isinstance(sent, list)
        and [m.get("role") for m in sent] == roles
        and (sent[2].get("tool_calls") or [{}])[0].get("id") == TOOL_CALL_ID
        and sent[3].get("tool_call_id") == TOOL_CALL_ID
        and len(value.get("tools") or []) == 2,
        f"input.value {str(second['_attrs'].get('input.value'))[:300]}",
        [second],
    )
    tools = [second["_attrs"].get(f"llm.tools.{i}.tool.json_schema") for i in range(2)]
    c.check(
        "the tool definitions are in llm.tools.N.tool.json_schema",
        all(isinstance(t, str) and "function" in t for t in tools) and "save_note" in str(tools[1]),
        f"tools {tools}",
        [second],
    )
    params = parsed(second, "llm.invocation_parameters") or {}
    c.check(
        "the request parameters are in llm.invocation_parameters",
        params.get("max_completion_tokens") == 512 and params.get("reasoning_effort") == "low",
        f"parameters {params}",
        [second],
    )

    # --- the replies ------------------------------------------------------------------------
    reply = (messages(first, "llm.output_messages") or [{}])[0]
    c.check(
        "the first chat's reply is the tool call, finish reason tool_calls",
        reply.get("tool_calls.0.tool_call.function.name") == "get_weather"
        and reply.get("tool_calls.0.tool_call.id") == TOOL_CALL_ID
        and first["_attrs"].get("llm.finish_reason") == "tool_calls",
        f"reply {reply}, finish {first['_attrs'].get('llm.finish_reason')}",
        [first],
    )
    answer = (messages(second, "llm.output_messages") or [{}])[0]
    c.check(
        "the second chat's reply is the answer, finish reason stop, response model and id",
        "14°C" in str(answer.get("content"))
        and second["_attrs"].get("llm.finish_reason") == "stop"
        and second["_attrs"].get("llm.response.model_name") == "o4-mini-2025-04-16"
        and second["_attrs"].get("gen_ai.response.id") == "chatcmpl-fake-1",
        f"answer {answer}",
        [second],
    )
    call_id, call_name, call_args = STREAMED_CALL
    out = (messages(streamed, "llm.output_messages") or [{}])[0]
    try:
        args = json.loads(out.get("tool_calls.0.tool_call.function.arguments") or "null")
    except ValueError:
        args = None
    c.check(
        "the streamed chat's reply: its text, and the tool call rebuilt from its deltas",
        out.get("content") == "Umbrella: yes, after 15:00."
        and out.get("tool_calls.0.tool_call.id") == call_id
        and out.get("tool_calls.0.tool_call.function.name") == call_name
        and args == call_args
        and streamed["_attrs"].get("llm.finish_reason") == "tool_calls",
        f"streamed reply {out}",
        [streamed],
    )
    c.check(
        f"the streamed chat has its '{FIRST_TOKEN_EVENT}' event and time to first chunk",
        any(ev.get("name") == FIRST_TOKEN_EVENT for ev in streamed.get("events") or [])
        and isinstance(streamed["_attrs"].get("gen_ai.response.time_to_first_chunk"), (int, float)),
        "no first-token event or time",
        [streamed],
    )

    # --- usage and cost ---------------------------------------------------------------------
    def usage_of(s):
        a = s["_attrs"]
        return (
            a.get("llm.token_count.prompt"),
            a.get("llm.token_count.completion"),
            a.get("llm.token_count.prompt_details.cache_read"),
            a.get("llm.token_count.completion_details.reasoning"),
        )

    got = [usage_of(s) for s in llms]
    c.check(
        "each LLM span has its prompt, completion, cached and reasoning tokens (the last chunk's, when streamed)",
        [tuple(u) for u in got] == USAGE,
        f"usage {got}",
        llms,
    )

    def positive(v):
        return type(v) in (int, float) and v > 0

    c.check(
        "each LLM span has llm.cost.total > 0 and a cache-read cost",
        all(positive(s["_attrs"].get("llm.cost.total"))
            and positive(s["_attrs"].get("llm.cost.prompt_details.cache_read")) for s in llms),
        f"costs {[(s['_attrs'].get('llm.cost.total'), s['_attrs'].get('llm.cost.prompt_details.cache_read')) for s in llms]}",
        llms,
    )

    # --- embedding, tool, session -----------------------------------------------------------
    embeddings = kinds.get("EMBEDDING", [])
    e = embeddings[0]["_attrs"] if embeddings else {}
    c.check(
        "the EMBEDDING span has its input text, model and usage",
        "14°C" in str(e.get("embedding.embeddings.0.embedding.text"))
        and e.get("embedding.model_name") == "text-embedding-3-small"
        and e.get("llm.token_count.prompt") == 14,
        f"embedding attributes {[(k, v) for k, v in e.items() if k.startswith(('embedding', 'llm'))]}",
        embeddings,
    )
    tools = kinds.get("TOOL", [])
    c.check(
        "the TOOL span is get_weather",
        bool(tools) and tools[0]["_attrs"].get("tool.name") == "get_weather",
        "no get_weather TOOL span",
        tools,
    )
    bad = [s for s in spans if s["_attrs"].get("session.id") != SESSION_ID]
    c.check(f"session.id == {SESSION_ID!r} on every span", not bad, f"{len(bad)} spans without it", bad)
    return c


def main():
    args = phoenix_args("async-openai")
    trace = wait_for_trace(args, pick_trace, MIN_SPANS, ROOT_NAME)
    return report(trace, run_checks, args, "Phoenix async-openai checks",
                  f"the '{ROOT_NAME}' trace never arrived in Phoenix project '{args.project}'", dump_json)


if __name__ == "__main__":
    sys.exit(main())

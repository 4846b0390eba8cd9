#!/usr/bin/env python3
"""End-to-end check: the quickstart example's trace, as an MLflow tracking server stored it.

Run with the Python of a venv that has `mlflow` installed (the MLflow client reads the trace
back the way MLflow's own UI and scorers see it: span types, inputs and outputs, token usage,
trace tags and metadata). Polls, bounded in time, until the quickstart's trace (root
`support_agent`) has arrived, then asserts it. Each check prints one line as it passes or
fails; on a failure the offending span is printed (truncated) and the exit code is 1.

    python .ci/mlflow_check.py --url http://127.0.0.1:5000 --experiment-id 1 [--timeout 60]

What MLflow does with OTLP spans (3.17): the span type comes from `openinference.span.kind`,
inputs and outputs from `input.value` / `output.value` (JSON parsed), token usage from
`llm.token_count.*` into `mlflow.chat.tokenUsage` and the trace's `mlflow.trace.tokenUsage`,
`session.id` / `user.id` into the trace metadata `mlflow.trace.session` / `mlflow.trace.user`,
and the root's `mlflow.traceTag.<k>` attributes into trace tags (the name column reads
`mlflow.traceName`). It never reads the flattened `llm.*_messages.*` or
`retrieval.documents.*`: the chat view and the documents come from `input.value` and
`output.value` alone.
"""

import argparse
import json
import logging
import sys
import warnings

from check_report import Checker, add_report_args, log, report, wait_for

ROOT_NAME = "support_agent"
SESSION_ID = "session-42"
USER_ID = "user-7"
FAILING_TOOL = "check_order_status"
WEATHER_TOOL = "get_weather"
EXPECTED_SCORES = [0.91, 0.84, 0.42]
MIN_SPANS = 6
SPAN_TEXT_LIMIT = 2000  # characters of a span shown on a failure
OWN_TARGET = "quickstart"
CHAT_SPAN = "chat"  # the quickstart's chat calls emit the events below
OWN_EVENT = "model replied"
DEPENDENCY_EVENT = "connecting to api.openai.com:443"


def parsed(value):
    """A JSON string parsed; anything else as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def show(span):
    raw = {
        "name": span.name,
        "span_type": span.span_type,
        "status": str(span.status.status_code),
        "inputs": span.inputs,
        "outputs": span.outputs,
        "attributes": span.attributes,
        "events": [{"name": e.name, "attributes": e.attributes} for e in span.events],
    }
    text = json.dumps(raw, indent=1, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > SPAN_TEXT_LIMIT:
        text = text[:SPAN_TEXT_LIMIT] + f"\n... ({len(text) - SPAN_TEXT_LIMIT} more characters)"
    return text


def is_message(m):
    return isinstance(m, dict) and isinstance(m.get("role"), str)


def tool_call_names(message):
    names = []
    for call in (message or {}).get("tool_calls") or []:
        fn = call.get("function") or {}
        names.append(fn.get("name"))
    return names


def run_checks(trace):
    c = Checker(lambda sp: f"{sp.name!r} [{sp.span_type}]", show)
    spans = list(trace.data.spans)
    info = trace.info
    by_type = {}
    for s in spans:
        by_type.setdefault(s.span_type, []).append(s)
    llms = by_type.get("LLM", [])

    # --- the trace ------------------------------------------------------------------------
    c.check(f"trace has at least {MIN_SPANS} spans (got {len(spans)})", len(spans) >= MIN_SPANS)
    name = (info.tags or {}).get("mlflow.traceName")
    c.check(f"trace name (tag mlflow.traceName) is {ROOT_NAME!r}", name == ROOT_NAME, f"got {name!r}")
    state = str(getattr(info, "state", "")).split(".")[-1]
    c.check("trace state is OK (the root span did not fail)", state == "OK", f"got {state!r}")
    meta = info.trace_metadata or {}
    c.check(
        f"trace session (mlflow.trace.session) is {SESSION_ID!r}",
        meta.get("mlflow.trace.session") == SESSION_ID,
        f"got {meta.get('mlflow.trace.session')!r}",
    )
    c.check(
        f"trace user (mlflow.trace.user) is {USER_ID!r}",
        meta.get("mlflow.trace.user") == USER_ID,
        f"got {meta.get('mlflow.trace.user')!r}",
    )

    # --- span types -------------------------------------------------------------------------
    roots = [s for s in spans if s.parent_id is None]
    c.check(
        f"the root is '{ROOT_NAME}' of type AGENT",
        len(roots) == 1 and roots[0].name == ROOT_NAME and roots[0].span_type == "AGENT",
        f"roots: {[(s.name, s.span_type) for s in roots]}",
        roots,
    )
    counts = {t: len(v) for t, v in by_type.items()}
    c.check(
        f"span types AGENT, RETRIEVER, at least 2 LLM, 2 TOOL and no UNKNOWN (seen: {counts})",
        counts.get("AGENT") == 1
        and counts.get("RETRIEVER") == 1
        and counts.get("LLM", 0) >= 2
        and counts.get("TOOL") == 2
        and not {"UNKNOWN", None, ""} & set(counts),
    )

    # --- token usage ------------------------------------------------------------------------
    def usage(s):
        u = parsed(s.get_attribute("mlflow.chat.tokenUsage"))
        return u if isinstance(u, dict) else {}

    token_keys = ("input_tokens", "output_tokens", "total_tokens")
    bad = [s for s in llms if not all(type(usage(s).get(k)) is int and usage(s)[k] > 0 for k in token_keys)]
    c.check("every LLM span has token usage (input, output, total > 0)", bool(llms) and not bad, "", bad)
    trace_usage = parsed(meta.get("mlflow.trace.tokenUsage")) or {}
    span_total = sum(usage(s).get("total_tokens", 0) for s in spans)
    c.check(
        f"the trace's token usage is the sum of its spans' ({span_total})",
        isinstance(trace_usage, dict) and trace_usage.get("total_tokens") == span_total and span_total > 0,
        f"trace usage {trace_usage!r}",
    )

    # --- chat inputs and outputs on LLM spans -----------------------------------------------
    def messages_in(s):
        inputs = parsed(s.inputs)
        if isinstance(inputs, dict) and isinstance(inputs.get("messages"), list):
            return inputs["messages"]
        return None

    bad = [
        s
        for s in llms
        if not (messages_in(s) and all(is_message(m) for m in messages_in(s)))
        or not {"system", "user"} <= {m["role"] for m in messages_in(s)}
    ]
    c.check(
        "every LLM span's input is a chat request {\"messages\": [...]} with the system prompt and the question",
        bool(llms) and not bad,
        "input is not a chat request",
        bad,
    )
    bad = [
        s
        for s in llms
        if not (isinstance(parsed(s.outputs), list) and parsed(s.outputs) and all(is_message(m) for m in parsed(s.outputs)))
    ]
    c.check(
        "every LLM span's output is a list of messages [{\"role\": ...}]",
        bool(llms) and not bad,
        "output is not a list of messages",
        bad,
    )
    asking = [
        s
        for s in llms
        if isinstance(parsed(s.outputs), list)
        and any(WEATHER_TOOL in tool_call_names(m) for m in parsed(s.outputs) if isinstance(m, dict))
    ]
    c.check(
        f"the first LLM span's output holds the model's tool call ({WEATHER_TOOL}, {FAILING_TOOL})",
        len(asking) == 1
        and all(
            {WEATHER_TOOL, FAILING_TOOL} <= set(tool_call_names(m))
            for m in parsed(asking[0].outputs)
            if isinstance(m, dict) and m.get("tool_calls")
        ),
        "no LLM output with the tool calls",
        llms,
    )
    def whole_conversation(s):
        convo = messages_in(s) or []
        return any(is_message(m) and m["role"] == "assistant" and tool_call_names(m) for m in convo) and (
            sum(1 for m in convo if is_message(m) and m["role"] == "tool") == 2
        )

    answering = [s for s in llms if s not in asking]
    c.check(
        "the LLM span after the tools has the whole conversation as input: the assistant's tool calls and both tool results",
        any(whole_conversation(s) for s in answering),
        "tool call or tool results missing from the input",
        answering or llms,
    )

    # --- tools ------------------------------------------------------------------------------
    tools = {s.name: s for s in by_type.get("TOOL", [])}
    weather = tools.get(WEATHER_TOOL)
    c.check(
        f"the TOOL span '{WEATHER_TOOL}' has the arguments object as input and the result as output",
        weather is not None
        and parsed(weather.inputs) == {"city": "Paris"}
        and "light rain" in str(parsed(weather.outputs)),
        "",
        [weather] if weather else [],
    )
    failing = tools.get(FAILING_TOOL)
    c.check(
        f"the TOOL span '{FAILING_TOOL}' failed with its message",
        failing is not None
        and str(failing.status.status_code).endswith("ERROR")
        and "unavailable" in (failing.status.description or ""),
        "",
        [failing] if failing else [],
    )

    # --- documents --------------------------------------------------------------------------
    retrievers = by_type.get("RETRIEVER", [])
    docs = parsed(retrievers[0].outputs) if retrievers else None
    ok = (
        isinstance(docs, list)
        and len(docs) == len(EXPECTED_SCORES)
        and all(
            isinstance(d, dict)
            and isinstance(d.get("page_content"), str)
            and d["page_content"]
            and isinstance(d.get("metadata"), dict)
            and d["metadata"].get("doc_id")
            and d.get("id")
            for d in docs
        )
    )
    c.check(
        "the RETRIEVER span's output is its 3 documents [{page_content, metadata: {doc_id, score}, id}]",
        ok,
        f"output {str(docs)[:200]!r}",
        retrievers,
    )
    scores = [d["metadata"].get("score") for d in docs] if ok else []
    c.check(
        f"the documents' scores are {EXPECTED_SCORES}",
        ok and all(isinstance(g, float) and abs(g - e) < 1e-9 for g, e in zip(scores, EXPECTED_SCORES)),
        f"scores {scores}",
        retrievers,
    )

    # --- span events: the event level -------------------------------------------------------
    def events_of(s):
        return [(e.name, e.attributes or {}) for e in s.events]

    chats = [s for s in llms if s.name == CHAT_SPAN]
    bad = [s for s in chats if not any(n == OWN_EVENT and a.get("target") == OWN_TARGET for n, a in events_of(s))]
    c.check(
        f"every '{CHAT_SPAN}' LLM span has the quickstart's INFO event {OWN_EVENT!r} with target {OWN_TARGET!r}",
        bool(chats) and not bad,
        "",
        bad,
    )
    bad = [
        s
        for s in spans
        if any(
            n == DEPENDENCY_EVENT or (a.get("target") is not None and not str(a["target"]).startswith(OWN_TARGET))
            for n, a in events_of(s)
        )
    ]
    c.check("no span event from a dependency's target", not bad, "", bad)
    return c


def find_trace(client, experiment_id):
    """The newest trace of the experiment whose root is `support_agent`, or None."""
    traces = client.search_traces(locations=[experiment_id], max_results=50, order_by=["timestamp_ms DESC"])
    for t in traces:
        if any(s.name == ROOT_NAME and s.parent_id is None for s in t.data.spans):
            return t
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="MLflow tracking server URL")
    ap.add_argument("--experiment-id", required=True)
    add_report_args(ap, "trace")
    args = ap.parse_args()

    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=args.url)
    log(f"Waiting (at most {args.timeout:.0f} s) for the quickstart trace in experiment {args.experiment_id} at {args.url} ...")
    trace, last_err, polls = wait_for(
        lambda: find_trace(client, args.experiment_id),
        lambda t: t is not None and len(t.data.spans) >= MIN_SPANS,
        args.timeout,
        Exception,  # report and retry, bounded
    )
    log(f"Found {len(trace.data.spans) if trace else 0} spans of the '{ROOT_NAME}' trace after {polls} polls.")
    if last_err is not None:
        log(f"  last error: {last_err}")
    return report(trace, run_checks, args, "MLflow checks",
                  f"the '{ROOT_NAME}' trace never arrived in MLflow", lambda t: t.to_json(pretty=True))


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end check: the quickstart example's trace, as Arize Phoenix stored it.

Stdlib only (urllib, json). Polls Phoenix's REST API, bounded in time, until the
quickstart's trace (root `support_agent`) has arrived, then asserts the OpenInference
shape of every span. Each check prints one line as it passes or fails; on a failure the
offending span JSON is printed (truncated) and the exit code is 1.

    python3 .ci/phoenix_check.py --url http://127.0.0.1:6006 [--timeout 60]

The REST API (`GET /v1/projects/{project}/spans`) moves `openinference.span.kind`
out of `attributes` into `span_kind`, and returns attributes as a flat dict with
dotted keys (Phoenix 20.x). Older or newer versions may nest them
(`{"llm": {"model_name": ...}}`, lists of messages): both are flattened here into
dotted keys (`llm.input_messages.0.message.role`) before any check.
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from check_report import Checker, add_report_args, log, report, wait_for  # noqa: F401 (re-exported)

SESSION_ID = "session-42"
ROOT_NAME = "support_agent"
FAILING_TOOL = "check_order_status"
REQUIRED_KINDS = ("AGENT", "RETRIEVER", "LLM", "TOOL")
STREAMED_LLM = "stream_summary"
FIRST_TOKEN_EVENT = "First Token Stream Event"
EXPECTED_SCORES = [0.91, 0.84, 0.42]
MIN_SPANS = 6
MAX_PAGES = 20  # bound on pagination per poll
SPAN_JSON_LIMIT = 2000  # characters of span JSON shown on a failure
# The quickstart's `chat` emits, inside its LLM span, a DEBUG event from a dependency's target
# (what hyper logs while connecting) and an INFO event of its own; the bridge exports an
# event's `target` and `level` as attributes.
OWN_TARGET = "quickstart"
CHAT_SPAN = "chat"
OWN_EVENT = "model replied"
DEPENDENCY_EVENT = "connecting to api.openai.com:443"


def flatten(value, prefix=""):
    """Nested dicts and lists -> one flat dict with dotted keys. Flat input stays as is."""
    out = {}
    if isinstance(value, dict):
        for k, v in value.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, (dict, list)) and v:
                out.update(flatten(v, key))
            else:
                out[key] = v
    elif isinstance(value, list):
        for i, v in enumerate(value):
            key = f"{prefix}.{i}" if prefix else str(i)
            if isinstance(v, (dict, list)) and v:
                out.update(flatten(v, key))
            else:
                out[key] = v
    else:
        out[prefix] = value
    return out


def get_json(url, timeout=10):
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read().decode("utf-8"))


def fetch_spans(base, project, limit):
    """All spans of the project (follows next_cursor, at most MAX_PAGES pages)."""
    spans = []
    cursor = None
    for _ in range(MAX_PAGES):
        query = {"limit": str(limit)}
        if cursor:
            query["cursor"] = cursor
        url = f"{base}/v1/projects/{urllib.parse.quote(project)}/spans?{urllib.parse.urlencode(query)}"
        body = get_json(url)
        if isinstance(body, list):  # tolerate a bare list
            spans.extend(body)
            break
        spans.extend(body.get("data") or [])
        cursor = body.get("next_cursor")
        if not cursor:
            break
    return spans


def trace_id(span):
    ctx = span.get("context") or {}
    return ctx.get("trace_id") or span.get("trace_id")


def span_id(span):
    ctx = span.get("context") or {}
    return ctx.get("span_id") or span.get("span_id")


def pick_trace(spans):
    """The spans of the newest trace whose root is `support_agent`."""
    roots = [s for s in spans if s.get("name") == ROOT_NAME and not s.get("parent_id")]
    if not roots:
        return []
    root = max(roots, key=lambda s: s.get("start_time") or "")
    tid = trace_id(root)
    return [s for s in spans if trace_id(s) == tid]


def normalize(span):
    """Adds `_attrs` (flattened attributes) and `_kind` to a copy of the span."""
    s = dict(span)
    attrs = flatten(span.get("attributes") or {})
    s["_attrs"] = attrs
    kind = span.get("span_kind") or attrs.get("openinference.span.kind") or "UNKNOWN"
    s["_kind"] = str(kind).upper()
    return s


def show(span):
    raw = {k: v for k, v in span.items() if not k.startswith("_")}
    text = json.dumps(raw, indent=1, sort_keys=True, ensure_ascii=False)
    if len(text) > SPAN_JSON_LIMIT:
        text = text[:SPAN_JSON_LIMIT] + f"\n... ({len(text) - SPAN_JSON_LIMIT} more characters)"
    return text


def phoenix_checker():
    """A `Checker` that prints offending Phoenix spans as their JSON."""
    return Checker(lambda sp: f"{sp.get('name')!r} [{sp.get('_kind')}]", show)


def is_int(v):
    return type(v) is int  # not bool, not float, not str


def is_float(v):
    return type(v) is float


def run_checks(spans):
    c = phoenix_checker()
    spans = [normalize(s) for s in spans]
    by_kind = {}
    for s in spans:
        by_kind.setdefault(s["_kind"], []).append(s)
    llms = by_kind.get("LLM", [])

    # --- the trace and its shape ------------------------------------------------------
    c.check(f"trace has at least {MIN_SPANS} spans (got {len(spans)})", len(spans) >= MIN_SPANS)

    root = [s for s in spans if s.get("name") == ROOT_NAME and not s.get("parent_id")]
    root_ok = len(root) == 1 and root[0]["_kind"] == "AGENT"
    children_bad = []
    if root_ok:
        rid = span_id(root[0])
        children_bad = [s for s in spans if s is not root[0] and s.get("parent_id") != rid]
    c.check(
        f"'{ROOT_NAME}' is the AGENT root and every other span is its child",
        root_ok and not children_bad,
        "root missing or not AGENT" if not root_ok else "spans not parented to the root",
        root if not root_ok else children_bad,
    )

    unknown = [s for s in spans if s["_kind"] in ("UNKNOWN", "")]
    c.check("no span has span_kind UNKNOWN", not unknown, f"{len(unknown)} UNKNOWN spans", unknown)

    missing = [k for k in REQUIRED_KINDS if k not in by_kind]
    c.check(
        "span kinds AGENT, RETRIEVER, LLM, TOOL all present "
        f"(seen: {', '.join(sorted(f'{k}x{len(v)}' for k, v in by_kind.items()))})",
        not missing,
        f"missing {missing}",
    )

    # --- LLM spans --------------------------------------------------------------------
    c.check("at least one LLM span", bool(llms), "no LLM span")

    bad = [s for s in llms if not isinstance(s["_attrs"].get("llm.model_name"), str) or not s["_attrs"]["llm.model_name"]]
    c.check("every LLM span has llm.model_name", bool(llms) and not bad, "llm.model_name missing", bad)

    token_keys = ("llm.token_count.prompt", "llm.token_count.completion", "llm.token_count.total")
    bad = [s for s in llms if not all(is_int(s["_attrs"].get(k)) for k in token_keys)]
    detail = ""
    if bad:
        a = bad[0]["_attrs"]
        detail = ", ".join(f"{k}={a.get(k)!r} ({type(a.get(k)).__name__})" for k in token_keys)
    c.check(
        "every LLM span has integer llm.token_count.prompt/completion/total",
        bool(llms) and not bad,
        detail,
        bad,
    )

    def has_prefix(s, prefix):
        return any(k.startswith(prefix) for k in s["_attrs"])

    bad = [s for s in llms if not (has_prefix(s, "llm.input_messages.") and has_prefix(s, "llm.output_messages."))]
    c.check(
        "every LLM span has flattened llm.input_messages.* and llm.output_messages.*",
        bool(llms) and not bad,
        "messages missing",
        bad,
    )

    def output_tool_call(s):
        return any(
            k.startswith("llm.output_messages.")
            and k.endswith(".message.tool_calls.0.tool_call.function.name")
            and s["_attrs"][k]
            for k in s["_attrs"]
        )

    with_calls = [s for s in llms if output_tool_call(s)]
    c.check(
        "an LLM span's output messages carry a tool call (...tool_calls.0.tool_call.function.name)",
        bool(with_calls),
        "no output tool call on any LLM span",
        llms,
    )

    # --- what Langfuse and MLflow read first: input.value / output.value -----------------
    def parsed(s, key):
        raw = s.get("attributes") or {}
        text = raw.get(key)
        if text is None:
            # Nested attributes (`{"input": {"value": ...}}`), as some versions return them.
            node = raw
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            text = node
        if isinstance(text, (dict, list)):
            return text  # a version that loads JSON strings
        if not isinstance(text, str):
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None

    def message_count(s, prefix):
        indexes = set()
        for k in s["_attrs"]:
            if k.startswith(prefix + "."):
                head = k[len(prefix) + 1 :].split(".", 1)[0]
                if head.isdigit():
                    indexes.add(int(head))
        return len(indexes)

    def whole_conversation(s):
        value = parsed(s, "input.value")
        if not isinstance(value, dict) or not isinstance(value.get("messages"), list):
            return False
        messages = value["messages"]
        return (
            len(messages) == message_count(s, "llm.input_messages")
            and all(isinstance(m, dict) and m.get("role") for m in messages)
            and messages[0].get("role") == "system"
        )

    bad = [s for s in llms if not whole_conversation(s)]
    c.check(
        "every LLM span's input.value parses as chat JSON {\"messages\": [...]} with the whole conversation, system prompt first",
        bool(llms) and not bad,
        "input.value is not the conversation",
        bad,
    )

    def tool_round_trip(s):
        value = parsed(s, "input.value")
        messages = value.get("messages") if isinstance(value, dict) else None
        if not isinstance(messages, list):
            return False
        calls = [
            c_
            for m in messages
            if isinstance(m, dict)
            for c_ in (m.get("tool_calls") or [])
            if isinstance(c_, dict) and (c_.get("function") or {}).get("name")
        ]
        call_ids = {c_.get("id") for c_ in calls}
        results = [m for m in messages if isinstance(m, dict) and m.get("role") == "tool" and m.get("tool_call_id") in call_ids]
        return bool(calls) and bool(results)

    round_trips = [s for s in llms if tool_round_trip(s)]
    c.check(
        "an LLM span's input.value holds the tool call and its tool result (tool_call_id)",
        bool(round_trips),
        "no LLM input with a tool call and its result",
        llms,
    )

    def reply_tool_call(s):
        value = parsed(s, "output.value")
        if not isinstance(value, list) or not value or not isinstance(value[0], dict):
            return None
        calls = value[0].get("tool_calls") or []
        if not calls or not isinstance(calls[0], dict):
            return None
        return (calls[0].get("function") or {}).get("name")

    bad = [
        s
        for s in with_calls
        if reply_tool_call(s) != s["_attrs"].get("llm.output_messages.0.message.tool_calls.0.tool_call.function.name")
    ]
    c.check(
        "the tool-call chat's output.value is a message list whose tool_calls hold the tool call",
        bool(with_calls) and not bad,
        "output.value lacks the tool call",
        bad or with_calls,
    )

    def synthesized(s):
        value = parsed(s, "output.value")
        return isinstance(value, dict) and value and set(value) <= {"model", "id"}

    bad = [s for s in spans if synthesized(s)]
    c.check(
        "no span has an output Phoenix synthesized from gen_ai.response.* ({\"model\": ...})",
        not bad,
        f"{len(bad)} spans with a made-up output",
        bad,
    )

    streamed = [s for s in llms if s.get("name") == STREAMED_LLM]
    c.check(
        f"the streamed LLM span '{STREAMED_LLM}' has its '{FIRST_TOKEN_EVENT}' event",
        bool(streamed) and all(any(ev.get("name") == FIRST_TOKEN_EVENT for ev in (s.get("events") or [])) for s in streamed),
        "no first-token event" if streamed else f"no LLM span '{STREAMED_LLM}'",
        streamed,
    )

    bad = [s for s in spans if s.get("name") != FAILING_TOOL and str(s.get("status_code", "")).upper() != "OK"]
    c.check(
        "every span that ended without error has status_code OK",
        not bad,
        f"{len(bad)} spans not OK",
        bad,
    )

    def positive_number(v):
        return type(v) in (int, float) and v > 0

    bad = [s for s in llms if not positive_number(s["_attrs"].get("llm.cost.total"))]
    c.check("every LLM span has llm.cost.total > 0", bool(llms) and not bad, "llm.cost.total missing or not > 0", bad)

    bad = [
        s
        for s in llms
        if not s["_attrs"].get("gen_ai.request.model") or not is_int(s["_attrs"].get("gen_ai.usage.input_tokens"))
    ]
    c.check(
        "every LLM span has the GenAI twins gen_ai.request.model and integer gen_ai.usage.input_tokens",
        bool(llms) and not bad,
        "GenAI attributes missing",
        bad,
    )

    # --- RETRIEVER --------------------------------------------------------------------
    retrievers = by_kind.get("RETRIEVER", [])
    bad = []
    detail = "no RETRIEVER span"
    for s in retrievers:
        a = s["_attrs"]
        scores, contents, i = [], [], 0
        while f"retrieval.documents.{i}.document.score" in a or f"retrieval.documents.{i}.document.content" in a:
            scores.append(a.get(f"retrieval.documents.{i}.document.score"))
            contents.append(a.get(f"retrieval.documents.{i}.document.content"))
            i += 1
        problems = []
        if not scores:
            problems.append("no retrieval.documents.N.document.* keys")
        if not all(is_float(v) for v in scores):
            problems.append("scores not all float: " + ", ".join(f"{v!r} ({type(v).__name__})" for v in scores))
        if not all(isinstance(v, str) and v for v in contents):
            problems.append("document.content missing or empty")
        if problems:
            bad.append(s)
            detail = "; ".join(problems)
    c.check(
        "the RETRIEVER span has float retrieval.documents.N.document.score and document.content",
        bool(retrievers) and not bad,
        detail,
        bad,
    )
    if retrievers and not bad:
        a = retrievers[0]["_attrs"]
        got = [a.get(f"retrieval.documents.{i}.document.score") for i in range(len(EXPECTED_SCORES) + 1)]
        got = [v for v in got if v is not None]
        c.check(
            f"the RETRIEVER span holds the 3 documents with scores {EXPECTED_SCORES}",
            len(got) == len(EXPECTED_SCORES) and all(abs(g - e) < 1e-9 for g, e in zip(got, EXPECTED_SCORES)),
            f"scores {got}",
            retrievers,
        )

    # --- session ----------------------------------------------------------------------
    bad = [s for s in spans if s["_attrs"].get("session.id") != SESSION_ID]
    c.check(f"session.id == {SESSION_ID!r} on every span of the trace", not bad, f"{len(bad)} spans without it", bad)

    # --- errors -----------------------------------------------------------------------
    errors = [s for s in spans if str(s.get("status_code", "")).upper() == "ERROR"]
    c.check(
        f"exactly one span has status_code ERROR, the tool '{FAILING_TOOL}'",
        len(errors) == 1 and errors[0].get("name") == FAILING_TOOL and errors[0]["_kind"] == "TOOL",
        f"ERROR spans: {[s.get('name') for s in errors]}",
        errors or [s for s in spans if s.get("name") == FAILING_TOOL],
    )
    failing = [s for s in spans if s.get("name") == FAILING_TOOL]

    def exception_event(s):
        for ev in s.get("events") or []:
            if ev.get("name") == "exception":
                attrs = flatten(ev.get("attributes") or {})
                if attrs.get("exception.message"):
                    return True
        return False

    c.check(
        f"'{FAILING_TOOL}' has an 'exception' event with exception.message",
        bool(failing) and all(exception_event(s) for s in failing),
        "no exception event with a message",
        failing,
    )

    # --- span events: the event level -----------------------------------------------
    def events_of(s):
        return [(ev.get("name"), flatten(ev.get("attributes") or {})) for ev in s.get("events") or []]

    chats = [s for s in llms if s.get("name") == CHAT_SPAN]
    bad = [
        s
        for s in chats
        if not any(n == OWN_EVENT and a.get("target") == OWN_TARGET for n, a in events_of(s))
    ]
    c.check(
        f"every '{CHAT_SPAN}' LLM span has the quickstart's INFO event {OWN_EVENT!r} with target {OWN_TARGET!r}",
        bool(chats) and not bad,
        "events or their targets are not exported",
        bad,
    )

    def foreign(s):
        return [
            (n, a.get("target"))
            for n, a in events_of(s)
            if n == DEPENDENCY_EVENT
            or (a.get("target") is not None and not str(a.get("target")).startswith(OWN_TARGET))
        ]

    bad = [s for s in spans if foreign(s)]
    c.check(
        "no span event from a dependency's target (the DEBUG event the quickstart emits as "
        f"hyper_util inside each LLM span, {DEPENDENCY_EVENT!r}, is on no span)",
        not bad,
        f"foreign events: {[foreign(s) for s in bad][:3]}",
        bad,
    )
    return c


HTTP_ERRORS = (urllib.error.URLError, OSError, ValueError)


def phoenix_args(project):
    """The options of a Phoenix trace check, parsed."""
    ap = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:6006", help="Phoenix base URL")
    ap.add_argument("--project", default=project)
    ap.add_argument("--limit", type=int, default=1000)
    add_report_args(ap, "spans")
    return ap.parse_args()


def wait_for_trace(args, pick, min_spans, root_name):
    """The spans of the trace `pick` chooses, once it has `min_spans` (or the time is up; []
    when none came), read once more a second later for stragglers."""
    base = args.url.rstrip("/")
    log(f"Waiting (at most {args.timeout:.0f} s) for the '{root_name}' trace in project '{args.project}' at {base} ...")
    fetch = lambda: pick(fetch_spans(base, args.project, args.limit))  # noqa: E731
    trace, last_err, polls = wait_for(fetch, lambda t: len(t or []) >= min_spans, args.timeout, HTTP_ERRORS)
    trace = trace or []
    if trace:
        # Let stragglers of the same trace land, then read it once more.
        time.sleep(1)
        try:
            again = fetch()
            if len(again) >= len(trace):
                trace = again
        except HTTP_ERRORS as e:
            log(f"  (re-read failed, keeping the first read: {e})")
    log(f"Found {len(trace)} spans of the '{root_name}' trace after {polls} polls.")
    if last_err is not None:
        log(f"  last HTTP error: {last_err}")
    return trace


def dump_json(trace):
    return json.dumps(trace, indent=1, ensure_ascii=False)


def main():
    args = phoenix_args("default")
    trace = wait_for_trace(args, pick_trace, MIN_SPANS, ROOT_NAME)
    return report(trace, run_checks, args, "Phoenix checks",
                  f"the '{ROOT_NAME}' trace never arrived in Phoenix", dump_json)


if __name__ == "__main__":
    sys.exit(main())

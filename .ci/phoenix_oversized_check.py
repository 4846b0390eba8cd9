#!/usr/bin/env python3
"""End-to-end check: a 50 MB prompt (examples/oversized_prompt.rs) as Arize Phoenix stored it.

Stdlib only. Polls Phoenix's REST API, bounded in time, for the LLM span `summarize` whose
`session.id` is the run id given to the example, then asserts that the export was accepted and the
huge values arrived truncated: cut at a UTF-8 boundary, ending with the layer's marker
`…[truncated, N bytes]` where N is the original length, and small enough for any collector. With
--phoenix-log, it also asserts Phoenix answered no OTLP request with 413 (payload too large).

    python3 .ci/phoenix_oversized_check.py --url http://127.0.0.1:6006 --run-id RUN \
        --original-bytes 52428800 [--phoenix-log phoenix.log]
"""

import argparse
import json
import re
import sys

from phoenix_check import HTTP_ERRORS, fetch_spans, flatten, log, normalize, phoenix_checker, wait_for

SPAN_NAME = "summarize"
MAX_VALUE_BYTES = 32 * 1024  # the layer's default value cap
MARKER_MAX = len("…[truncated, ".encode()) + 20 + len(" bytes]")


def find_span(spans, run_id):
    for s in spans:
        if s.get("name") != SPAN_NAME:
            continue
        attrs = flatten(s.get("attributes") or {})
        if attrs.get("session.id") == run_id:
            return s
    return None


def check_truncated(c, attrs, key, original, expect_prefix):
    value = attrs.get(key)
    ok_type = isinstance(value, str)
    c.check(f"{key} arrived as a string", ok_type, f"got {type(value).__name__}")
    if not ok_type:
        return
    size = len(value.encode("utf-8"))
    marker = f"…[truncated, {original} bytes]"
    c.check(
        f"{key} ends with the marker {marker!r}",
        value.endswith(marker),
        f"ends with {value[-60:]!r}",
    )
    c.check(
        f"{key} is truncated to at most {MAX_VALUE_BYTES} bytes + marker (got {size} of {original})",
        size <= MAX_VALUE_BYTES + MARKER_MAX,
        f"{size} bytes",
    )
    kept = value[: -len(marker)] if value.endswith(marker) else value
    c.check(
        f"{key} keeps the start of the original text ({len(kept.encode('utf-8'))} bytes)",
        len(kept) > 0 and kept.startswith(expect_prefix) and "\ufffd" not in kept,
        f"starts with {kept[:60]!r}",
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:6006")
    ap.add_argument("--project", default="default")
    ap.add_argument("--run-id", required=True)
    ap.add_argument("--original-bytes", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--phoenix-log", help="Phoenix's log, to look for 413 answers")
    ap.add_argument("--summary-file", help="write 'PASSED FAILED' here")
    ap.add_argument("--dump", help="write the span JSON here")
    args = ap.parse_args()
    base = args.url.rstrip("/")

    log(f"Waiting (at most {args.timeout:.0f} s) for span '{SPAN_NAME}' with session.id={args.run_id!r} ...")
    fetch = lambda: find_span(fetch_spans(base, args.project, 1000), args.run_id)  # noqa: E731
    span, last_err, polls = wait_for(fetch, lambda sp: sp is not None, args.timeout, HTTP_ERRORS)
    if last_err is not None:
        log(f"  last HTTP error: {last_err}")

    c = phoenix_checker()
    c.check(f"the 50 MB prompt's span arrived in Phoenix (after {polls} polls)", span is not None, "never arrived")
    if span is not None:
        if args.dump:
            with open(args.dump, "w", encoding="utf-8") as f:
                json.dump(span, f, indent=1, ensure_ascii=False)
        s = normalize(span)
        attrs = s["_attrs"]
        c.check("its span_kind is LLM", s["_kind"] == "LLM", f"got {s['_kind']}")
        c.check(
            "llm.model_name survived the trim",
            attrs.get("llm.model_name") == "gpt-4o-mini",
            repr(attrs.get("llm.model_name")),
        )
        c.check(
            "llm.token_count.prompt survived the trim",
            attrs.get("llm.token_count.prompt") == 12_000_000,
            repr(attrs.get("llm.token_count.prompt")),
        )
        check_truncated(c, attrs, "input.value", args.original_bytes, "Résumé of the contract")
        check_truncated(
            c, attrs, "llm.input_messages.1.message.content", args.original_bytes, "Résumé of the contract"
        )
        c.check(
            "the small system message is intact",
            attrs.get("llm.input_messages.0.message.content") == "Summarize the document.",
            repr(attrs.get("llm.input_messages.0.message.content")),
        )
    if args.phoenix_log:
        with open(args.phoenix_log, encoding="utf-8", errors="replace") as f:
            lines = [l.rstrip() for l in f if "POST /v1/traces" in l]
        too_large = [l for l in lines if re.search(r"\b413\b", l)]
        rejected = [l for l in lines if not re.search(r"\b200\b", l)]
        c.check(
            f"Phoenix accepted every OTLP trace request, none with 413 ({len(lines)} POST /v1/traces, "
            f"{len(lines) - len(rejected)} with 200)",
            bool(lines) and not too_large and not rejected,
            "; ".join((too_large or rejected)[:3]) or "no POST /v1/traces in the log",
        )
    log(f"Phoenix oversized-prompt checks: {c.passed} passed, {c.failed} failed")
    if args.summary_file:
        with open(args.summary_file, "w", encoding="utf-8") as f:
            f.write(f"{c.passed} {c.failed}\n")
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

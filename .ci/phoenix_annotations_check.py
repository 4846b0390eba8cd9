#!/usr/bin/env python3
"""Reads back, through Phoenix's REST API, the annotations examples/evaluation.rs sent.

The example prints one JSON line with the call's trace and span ids; this script polls
GET /v1/projects/{project}/span_annotations?span_ids=... and .../trace_annotations?trace_ids=...
until both annotations are there (Phoenix inserts them asynchronously), then asserts their
name, score, label, explanation, annotator kind, identifier and metadata.
"""
import argparse
import json
import sys
import time
import urllib.parse
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def poll(url, name, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = get(url).get("data", [])
            found = [a for a in last if a.get("name") == name]
            if found:
                return found[0]
        except Exception as e:  # noqa: BLE001 - reported and retried, bounded by the deadline
            last = f"poll failed: {e}"
        time.sleep(1)
    print(f"FAIL: no annotation {name!r} at {url} within {timeout} s (last answer: {last})")
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--ids", required=True, help="the example's stdout")
    p.add_argument("--project", default="default")
    p.add_argument("--timeout", type=int, default=60)
    args = p.parse_args()

    ids = None
    with open(args.ids, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                ids = json.loads(line)
    if not ids:
        print(f"FAIL: no JSON line with the ids in {args.ids}")
        return 1
    project = urllib.parse.quote(args.project, safe="")
    base = f"{args.url}/v1/projects/{project}"
    failed = 0

    def expect(what, got, want):
        nonlocal failed
        if got == want:
            print(f"PASS: {what} = {got!r}")
        else:
            print(f"FAIL: {what} = {got!r}, expected {want!r}")
            failed += 1

    span = poll(f"{base}/span_annotations?span_ids={ids['span_id']}", "correctness", args.timeout)
    if span is None:
        return 1
    expect("span annotation span_id", span.get("span_id"), ids["span_id"])
    expect("span annotation annotator_kind", span.get("annotator_kind"), "LLM")
    result = span.get("result") or {}
    expect("span annotation score", result.get("score"), 0.9)
    expect("span annotation label", result.get("label"), "correct")
    expect("span annotation explanation", result.get("explanation"),
           "states the 30-day return window from the policy")
    expect("span annotation identifier", span.get("identifier"), ids["run"])
    expect("span annotation metadata", span.get("metadata"),
           {"judge_model": "gpt-4o", "rubric": "refund-policy-v2"})
    expect("span annotation source", span.get("source"), "API")

    trace = poll(f"{base}/trace_annotations?trace_ids={ids['trace_id']}", "user_feedback",
                 args.timeout)
    if trace is None:
        return 1
    expect("trace annotation trace_id", trace.get("trace_id"), ids["trace_id"])
    expect("trace annotation annotator_kind", trace.get("annotator_kind"), "HUMAN")
    result = trace.get("result") or {}
    expect("trace annotation score", result.get("score"), 1.0)
    expect("trace annotation label", result.get("label"), "thumbs_up")
    expect("trace annotation explanation", result.get("explanation"), "solved my problem")
    expect("trace annotation identifier", trace.get("identifier"), ids["run"])
    print(f"Phoenix annotations: {'all checks passed' if failed == 0 else f'{failed} checks failed'}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

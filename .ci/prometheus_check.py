#!/usr/bin/env python3
"""Runs every PromQL expression of a Grafana dashboard against a real Prometheus.

Each expression of every panel (also inside rows) is taken from examples/grafana/dashboard.json,
its Grafana variables are replaced with concrete values ($__rate_interval, $__interval,
$__range -> --range; ${DS_PROMETHEUS}-style datasource references are not in expressions),
and it is sent to Prometheus's HTTP API (/api/v1/query). Every expression must return a
non-empty result with at least one finite value. Prints PASS/FAIL per panel and expression.

The dashboard's query variables (`label_values(selector, label)`, such as $job and $instance)
are resolved first, in order, through /api/v1/label/<label>/values: each must list at least one
value, and its first value (regex-escaped, as Grafana does) replaces the variable in the
expressions; `--var job=.*` sets a value instead. Every metric selector of every expression
must filter on every query variable (`label=~"$name"`), so no panel sums several services.

    prometheus_check.py --url http://127.0.0.1:9090 --dashboard examples/grafana/dashboard.json

Exit status: 0 when all pass, 1 when any fails, 2 on usage errors. With --summary-file, writes
"<passed> <failed>" (counted per panel) there.
"""

import argparse
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

VARIABLES = ("__rate_interval", "__interval", "__range", "__range_s", "__range_ms")


def panels(node):
    """Every panel, including those nested in rows."""
    for p in node.get("panels", []) or []:
        yield p
        yield from panels(p)


def substitute(expr, rng):
    seconds = parse_duration(rng)
    values = {
        "__rate_interval": rng,
        "__interval": rng,
        "__range": rng,
        "__range_s": str(seconds),
        "__range_ms": str(seconds * 1000),
    }
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace("${%s}" % name, values[name]).replace("$" + name, values[name])
    return expr


LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.*),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$")
# A metric name of this crate (or a __name__ matcher) and its label matchers, if any.
SELECTOR = re.compile(r"\b((?:openinference|gen_ai)_[a-zA-Z0-9_]*)\s*(\{[^}]*\})?|(\{[^}]*__name__[^}]*\})")
# Label lists of aggregations and vector matching, which hold label names, not metric names.
LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def query_variables(dashboard):
    """(name, selector or None, label) of every `label_values` query variable, in order."""
    out = []
    for v in (dashboard.get("templating") or {}).get("list", []) or []:
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = LABEL_VALUES.match(q or "")
        if not m:
            raise SystemExit("variable $%s: only label_values(...) queries are supported, got %r" % (v.get("name"), q))
        out.append((v["name"], m.group(1), m.group(2)))
    return out


def replace_variables(expr, values):
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${%s}" % name, values[name]).replace("$" + name, values[name])
    return expr


def promql_regex(value):
    """A label value as Grafana puts it in a =~ matcher: regex-escaped, inside a PromQL string."""
    return re.escape(value).replace("\\", "\\\\")


def label_values(url, label, selector, timeout):
    params = {"match[]": selector} if selector else {}
    full = url.rstrip("/") + "/api/v1/label/%s/values" % label
    if params:
        full += "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(full, timeout=timeout) as r:
            reply = json.load(r)
    except Exception as e:  # connection refused, timeout, HTTP error
        return None, str(e)
    if reply.get("status") != "success":
        return None, reply.get("error")
    return reply.get("data") or [], None


def unfiltered_selectors(expr, names):
    """The metric selectors of `expr` that do not filter on every variable in `names`."""
    bare = LABEL_LISTS.sub("", expr)
    missing = []
    for m in SELECTOR.finditer(bare):
        matchers = m.group(2) or m.group(3) or ""
        if not all(re.search(r'\b%s\s*=~\s*"\$%s"' % (n, n), matchers) for n in names):
            missing.append(m.group(0))
    return missing


def parse_duration(text):
    m = re.fullmatch(r"(\d+)([smhd])", text)
    if not m:
        raise SystemExit("--range must look like 1m, 90s, 2h")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def query(url, expr, timeout):
    body = urllib.parse.urlencode({"query": expr}).encode()
    req = urllib.request.Request(url.rstrip("/") + "/api/v1/query", data=body, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        try:
            return json.load(e)
        except Exception:
            return {"status": "error", "error": "HTTP %s" % e.code}
    except Exception as e:  # connection refused, timeout
        return {"status": "error", "error": str(e)}


def finite_values(data):
    """The finite numbers in a query result (vector, matrix or scalar)."""
    kind, result = data.get("resultType"), data.get("result")
    out = []
    if kind == "vector":
        out = [float(s["value"][1]) for s in result]
    elif kind == "matrix":
        out = [float(v[1]) for s in result for v in s["values"]]
    elif kind == "scalar":
        out = [float(result[1])]
    return [v for v in out if math.isfinite(v)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="Prometheus base URL (loopback)")
    ap.add_argument("--dashboard", default="examples/grafana/dashboard.json")
    ap.add_argument("--range", default="1m", help="value for $__rate_interval / $__range (default 1m)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per query")
    ap.add_argument("--summary-file", help="write '<passed> <failed>' panels here")
    ap.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                    help="value (a regex) for a dashboard variable instead of its first label value")
    args = ap.parse_args()
    overrides = dict(v.split("=", 1) for v in args.var if "=" in v)

    host = urllib.parse.urlparse(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        print("refusing a non-loopback Prometheus URL: %s" % args.url, file=sys.stderr)
        return 2
    with open(args.dashboard, encoding="utf-8") as f:
        dashboard = json.load(f)

    passed = failed = expressions = 0
    chosen = {}
    for name, selector, label in query_variables(dashboard):
        selector = replace_variables(selector, chosen) if selector else None
        found, error = label_values(args.url, label, selector, args.timeout)
        if name in overrides:
            chosen[name] = overrides[name]
        elif found:
            chosen[name] = promql_regex(found[0])
        ok = bool(found)
        print("%s  variable $%s = label_values(%s%s): %s" % (
            "PASS" if ok else "FAIL", name, selector + ", " if selector else "", label,
            "error: %s" % error if error else "%d values, using %s" % (len(found), chosen.get(name))))
        if ok:
            passed += 1
        else:
            failed += 1
            chosen.setdefault(name, ".*")
    variable_names = [n for n, _, _ in query_variables(dashboard)]

    for panel in panels(dashboard):
        targets = [t for t in panel.get("targets", []) or [] if t.get("expr")]
        if not targets:
            continue
        panel_ok = True
        lines = []
        for t in targets:
            expressions += 1
            unfiltered = unfiltered_selectors(t["expr"], variable_names)
            if unfiltered:
                panel_ok = False
                lines.append("    FAIL [%s] selectors not filtered by %s: %s" % (
                    t.get("refId"), ", ".join("$" + n for n in variable_names), "; ".join(unfiltered)))
                continue
            expr = replace_variables(substitute(t["expr"], args.range), chosen)
            if "$" in expr:
                panel_ok = False
                lines.append("    FAIL [%s] unreplaced variable: %s" % (t.get("refId"), expr))
                continue
            started = time.monotonic()
            reply = query(args.url, expr, args.timeout)
            took = (time.monotonic() - started) * 1000
            if reply.get("status") != "success":
                ok, why = False, "error: %s" % reply.get("error")
            else:
                values = finite_values(reply["data"])
                series = len(reply["data"].get("result") or [])
                ok = bool(values)
                why = "%d series, e.g. %.6g" % (series, values[0]) if ok else "no data (%d series, none finite)" % series
            panel_ok &= ok
            lines.append("    %s [%s] %s (%.0f ms): %s" % ("pass" if ok else "FAIL", t.get("refId"), why, took, expr))
        print("%s  %s" % ("PASS" if panel_ok else "FAIL", panel.get("title", "(untitled)")))
        print("\n".join(lines))
        if panel_ok:
            passed += 1
        else:
            failed += 1

    print("\n%d panels and variables passed, %d failed (%d expressions, range %s)" % (passed, failed, expressions, args.range))
    if args.summary_file:
        with open(args.summary_file, "w", encoding="utf-8") as f:
            f.write("%d %d\n" % (passed, failed))
    if passed + failed == 0:
        print("no PromQL expression found in %s" % args.dashboard, file=sys.stderr)
        return 1
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""What the end-to-end check scripts share: logging, the checker that counts and prints each
check, the bounded wait for a trace, and the final report. Stdlib only, so both the Phoenix
checks (any Python) and the MLflow check (the MLflow venv's Python) import it.
"""

import time


def log(msg):
    print(msg, flush=True)


class Checker:
    """Counts checks and prints one line each; on a failure, up to three offending spans.

    `describe(span)` names a span in one line, `show(span)` gives its text (truncated).
    """

    def __init__(self, describe, show):
        self.passed = 0
        self.failed = 0
        self.describe = describe
        self.show = show

    def check(self, name, ok, detail="", offenders=()):
        if ok:
            self.passed += 1
            log(f"  PASS  {name}")
            return
        self.failed += 1
        log(f"  FAIL  {name}" + (f": {detail}" if detail else ""))
        offenders = list(offenders)
        for sp in offenders[:3]:
            log(f"  offending span {self.describe(sp)}:")
            for line in self.show(sp).splitlines():
                log(f"    {line}")
        if len(offenders) > 3:
            log(f"  ... and {len(offenders) - 3} more offending spans")


def add_report_args(ap, what):
    """The options every check has: `--timeout`, `--summary-file`, `--dump`."""
    ap.add_argument("--timeout", type=float, default=60.0, help=f"seconds to wait for the {what} (max)")
    ap.add_argument("--summary-file", help="write 'PASSED FAILED' here")
    ap.add_argument("--dump", help="write the trace's JSON here")


def wait_for(fetch, ready, timeout, errors):
    """Calls `fetch()` once a second until `ready(result)` or `timeout` seconds, bounded by
    count as well as by time. A failure of a type in `errors` is kept and retried; the result
    is then `None`. Returns (result, last error or None, polls)."""
    deadline = time.monotonic() + timeout
    result, last_err, polls = None, None, 0
    while polls < int(timeout) + 5:
        polls += 1
        try:
            result, last_err = fetch(), None
        except errors as e:
            result, last_err = None, e
        if ready(result) or time.monotonic() >= deadline:
            break
        time.sleep(1)
    return result, last_err, polls


def report(trace, run_checks, args, label, missing, dump_text):
    """Runs `run_checks` on `trace` (if it came), logs and writes the counts (`--dump` with
    `dump_text(trace)`, `--summary-file`); returns the exit status."""
    if args.dump and trace:
        with open(args.dump, "w", encoding="utf-8") as f:
            f.write(dump_text(trace))
    if not trace:
        log(f"  FAIL  {missing}")
        passed, failed = 0, 1
    else:
        c = run_checks(trace)
        passed, failed = c.passed, c.failed
    log(f"{label}: {passed} passed, {failed} failed")
    if args.summary_file:
        with open(args.summary_file, "w", encoding="utf-8") as f:
            f.write(f"{passed} {failed}\n")
    return 0 if failed == 0 else 1

#!/usr/bin/env python3
"""Checks that `rust-version` in Cargo.toml is at least what every resolved dependency needs.

Runs `cargo metadata --format-version 1 --all-features` (the lock file's versions, every
feature on, every target platform) and walks the dependency graph from this package through
normal and build dependencies: what a user compiles. Dev-dependencies (tests, benches,
examples) are not part of the promise. Fails when a dependency declares a `rust-version`
newer than the package's, and lists the dependencies that need the most.

    python3 .ci/msrv_check.py            # from the repository root

Exit status: 0 when `rust-version` holds, 1 when a dependency needs a newer Rust, 2 when
`rust-version` is missing or cargo metadata fails. The crate's own code is checked against
`rust-version` by clippy's `incompatible_msrv` lint (step 2 of .ci/run).
"""

import json
import subprocess
import sys


def version(text):
    """'1.85' or '1.85.0' as a comparable tuple of three numbers."""
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def shown(v):
    return "%d.%d" % v[:2] if v[2] == 0 else "%d.%d.%d" % v


def metadata():
    """cargo metadata for every platform; for the host alone when the other platforms'
    packages cannot be downloaded (an offline machine)."""
    command = ["cargo", "metadata", "--format-version", "1", "--all-features"]
    try:
        return json.loads(subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout)
    except (OSError, subprocess.CalledProcessError) as e:
        print("cargo metadata for every platform failed (%s); checking the host's dependencies" % e)
    try:
        host = next(line.split(": ", 1)[1] for line in subprocess.run(
            ["rustc", "-vV"], check=True, stdout=subprocess.PIPE, text=True).stdout.splitlines()
            if line.startswith("host: "))
        command += ["--filter-platform", host]
        return json.loads(subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout)
    except (OSError, StopIteration, subprocess.CalledProcessError) as e:
        print("cargo metadata failed: %s" % e, file=sys.stderr)
        return None


def main():
    meta = metadata()
    if meta is None:
        return 2
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = meta["resolve"]["root"]
    declared = packages[root].get("rust_version")
    if not declared:
        print("Cargo.toml has no rust-version", file=sys.stderr)
        return 2
    msrv = version(declared)

    # Normal and build dependencies, transitively (a dependency's own dev-dependencies are
    # never in the resolve graph).
    seen, stack = set(), [root]
    while stack:
        for dep in nodes[stack.pop()]["deps"]:
            kinds = {k.get("kind") for k in dep.get("dep_kinds", [])}
            if kinds & {None, "build"} and dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                stack.append(dep["pkg"])

    needs = sorted(
        ((version(packages[i]["rust_version"]), packages[i]["name"], packages[i]["version"])
         for i in seen if packages[i].get("rust_version")),
        reverse=True,
    )
    too_new = [n for n in needs if n[0] > msrv]
    highest = needs[0][0] if needs else (0, 0, 0)
    print("rust-version = %s; %d dependencies (normal and build, all features), the newest "
          "Rust any of them needs: %s" % (declared, len(seen), shown(highest) if needs else "none declared"))
    for v, name, ver in (too_new or needs)[:8]:
        print("  %-8s %s %s" % (shown(v), name, ver))
    if too_new:
        print("FAIL: %d dependencies need a newer Rust than rust-version = %s: raise it to %s"
              % (len(too_new), declared, shown(highest)), file=sys.stderr)
        return 1
    print("PASS: rust-version %s holds for every resolved dependency" % declared)
    return 0


if __name__ == "__main__":
    sys.exit(main())

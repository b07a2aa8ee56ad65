#!/usr/bin/env python3
"""Checks each workspace crate's declared `rust-version` against what the lockfile needs:
no locked dependency it builds or tests with (normal or build, transitively; its own dev
dependencies; any target) may declare a newer one.

The one toolchain on the build machines cannot build with an older compiler; this check and
clippy's `incompatible_msrv` (std APIs newer than `rust-version`) are what `make lint` can
verify. Language features newer than the MSRV are not caught (CONTRIBUTING.md).
"""

import json
import subprocess
import sys


def version(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True, capture_output=True, text=True).stdout)
    packages = {p["id"]: p for p in meta["packages"]}
    deps, dev = {}, {}
    for node in meta["resolve"]["nodes"]:
        deps[node["id"]] = [d["pkg"] for d in node["deps"]
                            if any(k["kind"] in (None, "build") for k in d["dep_kinds"])]
        dev[node["id"]] = [d["pkg"] for d in node["deps"]
                           if any(k["kind"] == "dev" for k in d["dep_kinds"])]
    failures = []
    for member in meta["workspace_members"]:
        declared = packages[member].get("rust_version")
        if declared is None:
            failures.append(f"{packages[member]['name']}: no rust-version")
            continue
        seen, todo = set(), deps[member] + dev[member]  # its tests too
        while todo:
            pkg = todo.pop()
            if pkg in seen:
                continue
            seen.add(pkg)
            todo.extend(deps[pkg])
            needs = packages[pkg].get("rust_version")
            if needs and version(needs) > version(declared):
                failures.append(f"{packages[member]['name']} declares rust-version {declared}, "
                                f"but {packages[pkg]['name']} {packages[pkg]['version']} "
                                f"needs {needs}")
    for line in failures:
        print(line, file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"msrv: {len(meta['workspace_members'])} crates, every locked dependency fits "
          "their rust-version")


if __name__ == "__main__":
    main()

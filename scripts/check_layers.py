#!/usr/bin/env python3
"""Checks that every target imports only targets below it (DESIGN: dependencies point one way).

The layers, lowest first. A file in Sources/<Target>/ may import a CrocBot target only when that
target is lower in this list (and, for CrocAgent, only CrocSupport: the agent reads the logs and
metrics the runtime writes, never its types). Exits 1 naming every file and import that breaks it.

Usage: python3 scripts/check_layers.py   (from anywhere; no dependencies)
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = [
    "CrocKernels",  # C: the RL networks' dense kernels (no Swift files, no imports)
    "CrocSupport",
    "CrocCore",
    "CrocData",
    "CrocModels",
    "CrocStrategies",
    "CrocEngine",
    "CrocExecution",
    "CrocRuntime",
    "CrocPipelines",
    "CrocSweepPostgres",
]
# Targets that may use only some of the layers below them.
ONLY = {
    "CrocAgent": {"CrocSupport"},
    # Backtests, training and sweeps never link the live side (NIO, HTTP): the engine is enough.
    "CrocPipelines": {"CrocKernels", "CrocSupport", "CrocCore", "CrocData", "CrocModels", "CrocStrategies", "CrocEngine"},
    "CrocEngine": {"CrocKernels", "CrocSupport", "CrocCore", "CrocData", "CrocModels", "CrocStrategies"},
}
IMPORT = re.compile(r"^\s*(?:@testable\s+|@_exported\s+)?import\s+(?:struct\s+|enum\s+|class\s+)?(Croc\w+)", re.M)


def allowed(target: str) -> set:
    if target in ONLY:
        return ONLY[target]
    if target in LAYERS:
        return set(LAYERS[: LAYERS.index(target)])
    return set(LAYERS) | {"CrocAgent"}  # executables (crocbot) sit on top


def main() -> int:
    problems = []
    sources = os.path.join(ROOT, "Sources")
    for target in sorted(os.listdir(sources)):
        base = os.path.join(sources, target)
        if not os.path.isdir(base):
            continue
        ok = allowed(target)
        for folder, _, files in os.walk(base):
            for name in files:
                if not name.endswith(".swift"):
                    continue
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for m in IMPORT.finditer(text):
                    imported = m.group(1)
                    if imported != target and imported not in ok:
                        line = text.count("\n", 0, m.start()) + 1
                        problems.append(f"{os.path.relpath(path, ROOT)}:{line}: {target} imports {imported}, which is not below it")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} import(s) against the layering (scripts/check_layers.py)")
        return 1
    print(f"layers ok: {len(LAYERS)} library targets, imports point one way")
    return 0


if __name__ == "__main__":
    sys.exit(main())

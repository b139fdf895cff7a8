#!/usr/bin/env python3
"""Fail unless every Autobahn|Testsuite case passed strictly.

Usage: check.py INDEX_JSON [--agents A,B,...] [--min-cases N]

INDEX_JSON is the index.json the fuzzingclient (reports/servers/) or the
fuzzingserver (reports/clients/) writes: {agent: {case: {"behavior": ...,
"behaviorClose": ...}}}. The check exits 1 when any case's behavior or
close behavior is other than OK or INFORMATIONAL: NON-STRICT,
UNIMPLEMENTED (a feature such as permessage-deflate not negotiated),
FAILED, WRONG CODE, UNCLEAN and the rest all fail. It also fails when an
agent named in --agents is missing, when an agent has fewer than
--min-cases cases (default 1), or when the report is empty, so a run that
tested little or nothing cannot pass.
"""
import argparse
import json
import sys
from collections import Counter

ACCEPTED = {"OK", "INFORMATIONAL"}


def case_key(case):
    return tuple(int(p) if p.isdigit() else p for p in case.split("."))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index", nargs="?", default="reports/servers/index.json")
    ap.add_argument("--agents", default="", help="comma-separated agents that must be in the report")
    ap.add_argument("--min-cases", type=int, default=1, help="fewest cases each agent must have")
    args = ap.parse_args()
    with open(args.index) as f:
        index = json.load(f)

    failed = False
    for agent in filter(None, args.agents.split(",")):
        if agent not in index:
            print(f"FAIL: agent {agent} is not in the report", file=sys.stderr)
            failed = True
    if not index:
        print("FAIL: the report has no agents", file=sys.stderr)
        return 1

    for agent, cases in sorted(index.items()):
        counts = Counter()
        bad = []
        for case in sorted(cases, key=case_key):
            result = cases[case]
            behavior = result.get("behavior", "MISSING")
            close = result.get("behaviorClose", "MISSING")
            counts[behavior] += 1
            if behavior not in ACCEPTED or close not in ACCEPTED:
                bad.append((case, behavior, close, result.get("remoteCloseCode")))
        total = sum(counts.values())
        print(f"{agent}: {total} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        if total < args.min_cases:
            print(f"FAIL {agent}: {total} cases, want at least {args.min_cases}", file=sys.stderr)
            failed = True
        for case, behavior, close, code in bad:
            print(f"FAIL {agent} {case}: behavior={behavior} behaviorClose={close} "
                  f"remoteCloseCode={code}", file=sys.stderr)
        if bad:
            print(f"FAIL {agent}: {len(bad)} of {total} cases not OK or INFORMATIONAL", file=sys.stderr)
            failed = True
    if failed:
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

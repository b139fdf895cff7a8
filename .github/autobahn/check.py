#!/usr/bin/env python3
"""Fail unless every Autobahn|Testsuite case passed.

Usage: check.py [reports/servers/index.json]

Reads the fuzzingclient's index.json ({agent: {case: {"behavior": ...,
"behaviorClose": ...}}}) and exits 1 if any case's behavior or close
behavior is other than OK, NON-STRICT, INFORMATIONAL or UNIMPLEMENTED
(UNIMPLEMENTED: a feature, such as permessage-deflate, not negotiated).
It also fails on an empty report, so a run that tested nothing cannot pass.
"""
import json
import sys
from collections import Counter

ACCEPTED = {"OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED"}


def case_key(case):
    return tuple(int(p) if p.isdigit() else p for p in case.split("."))


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "reports/servers/index.json"
    with open(path) as f:
        index = json.load(f)

    total = 0
    counts = Counter()
    bad = []
    for agent, cases in sorted(index.items()):
        for case in sorted(cases, key=case_key):
            result = cases[case]
            total += 1
            behavior = result.get("behavior", "MISSING")
            close = result.get("behaviorClose", "MISSING")
            counts[behavior] += 1
            if behavior not in ACCEPTED or close not in ACCEPTED:
                bad.append((agent, case, behavior, close, result.get("remoteCloseCode")))

    print(f"{total} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if total == 0:
        print("FAIL: the report has no cases", file=sys.stderr)
        return 1
    for agent, case, behavior, close, code in bad:
        print(f"FAIL {agent} {case}: behavior={behavior} behaviorClose={close} "
              f"remoteCloseCode={code}", file=sys.stderr)
    if bad:
        print(f"FAIL: {len(bad)} of {total} cases not accepted", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Count individual test results in a meson test log.

A Criterion binary is one meson test but holds many tests: its
"Synthesis: Tested: N | Passing: P | Failing: F | Crashing: C" line gives
the real counts (skipped tests are those neither passing nor failing).
Any other meson test counts as one. Prints "PASSED FAILED SKIPPED".
"""
import json
import re
import sys

SYN = re.compile(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)")

passed = failed = skipped = 0
with open(sys.argv[1]) as f:
    for line in f:
        t = json.loads(line)
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        m = SYN.search(out)
        if m and t["result"] in ("OK", "FAIL", "EXPECTEDFAIL", "UNEXPECTEDPASS"):
            tested, ok, bad, crash = map(int, m.groups())
            passed += ok
            failed += bad + crash
            skipped += max(out.count("[SKIP]"), tested - ok - bad - crash)
            if t["result"] == "FAIL" and bad + crash == 0:
                failed += 1  # the binary failed outside any test (a crash at start-up)
        elif t["result"] == "OK":
            passed += 1
        elif t["result"] == "SKIP":
            skipped += 1
        else:
            failed += 1
print(passed, failed, skipped)

"""Print what HypoFuzz has done so far, per fuzz target: examples run, behaviours
(coverage) found, time spent and failures, read from the Hypothesis example database.

    python -m fuzz.hypofuzz_report            # after (or during) `hypothesis fuzz -- fuzz/`
"""

from __future__ import annotations

import sys
from collections import defaultdict

from hypofuzz.collection import collect_tests
from hypofuzz.database import FailureState, HypofuzzDatabase, Report
from hypothesis import settings


def latest_per_worker(reports: list[Report]) -> list[Report]:
    latest: dict[str, Report] = {}
    for report in reports:
        seen = latest.get(report.worker_uuid)
        if seen is None or report.elapsed_time > seen.elapsed_time:
            latest[report.worker_uuid] = report
    return list(latest.values())


def main(argv: list[str]) -> int:
    database = settings().database
    assert database is not None, "no Hypothesis example database configured"
    db = HypofuzzDatabase(database)
    targets = collect_tests(argv or ["fuzz/", "-p", "no:cov", "-o", "addopts="]).fuzz_targets
    per_file: defaultdict[str, int] = defaultdict(int)
    failing = 0
    print(f"{'test':72s} {'examples':>9s} {'behaviours':>10s} {'seconds':>8s}  failures")
    for target in sorted(targets, key=lambda t: t.nodeid):
        reports = latest_per_worker(db.reports.fetch(target.database_key))
        examples = sum(sum(r.status_counts.values()) for r in reports)
        behaviours = max((r.behaviors for r in reports), default=0)
        seconds = sum(r.elapsed_time for r in reports)
        failures = sum(
            len(list(db.failures(state=state).fetch(target.database_key)))
            for state in (FailureState.SHRUNK, FailureState.UNSHRUNK)
        )
        failing += bool(failures)
        per_file[target.nodeid.split("::")[0]] += examples
        print(f"{target.nodeid:72s} {examples:9d} {behaviours:10d} {seconds:8.0f}  {failures}")
    print()
    for path, examples in sorted(per_file.items()):
        print(f"{path:72s} {examples:9d}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

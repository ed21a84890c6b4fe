"""Hostile clients, faults and load against a real ``python -m driver`` (issue 11).

Runs every scenario of ``tests/stress_scenarios.py`` (with those of
``tests/stress_files.py``, issue 14: the file system, listings, logs, the connection
cap) against servers it starts on 127.0.0.1 (port 0), each bounded in count and
time, and prints one table: scenario,
target, the figure measured, and whether the target is met. Rows marked ``~`` depend
on the machine's speed (throughput ratios, latency percentiles): compare them only
within one run on an idle machine.

Usage::

    python bench/stress.py                      # full size: 10,000 connections, ...
    python bench/stress.py --scale 0.1          # a tenth of every count
    python bench/stress.py --only c10k storm    # some scenarios

Needs wrk and curl. Raises this process's ``RLIMIT_NOFILE`` to its hard limit (the
C10K scenario needs twice its connection count in descriptors across both sides).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from stress_harness import raise_fd_limit
from stress_scenarios import SCENARIOS, Row, Scale


def run(names: list[str], scale: Scale, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        scenario, triggers = SCENARIOS[name]
        for trigger in triggers:
            start = time.monotonic()
            try:
                got = scenario(scale, workdir, trigger)
            except Exception as exc:
                traceback.print_exc()
                got = [Row(name, "runs", f"crashed: {exc!r}"[:120], False)]
            rows += got
            print(f"  {name} ({trigger}): {time.monotonic() - start:.0f} s", file=sys.stderr)
    return rows


def table(rows: list[Row]) -> str:
    headers = ("scenario", "target", "figure", "met?")
    cells = [
        (r.scenario, r.target, r.figure, ("yes" if r.met else "NO") + (" ~" if r.timing else ""))
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(cell, widths)) + " |" for cell in cells]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fraction of the full counts (default 1.0)"
    )
    parser.add_argument(
        "--only", nargs="+", choices=sorted(SCENARIOS), default=list(SCENARIOS), metavar="NAME"
    )
    args = parser.parse_args()
    if args.scale <= 0:
        parser.error("--scale must be > 0")
    raise_fd_limit()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="h10-stress-") as tmp:
        rows = run(args.only, Scale(args.scale), Path(tmp))
    print(table(rows))
    met = sum(r.met for r in rows)
    print(
        f"\n{met}/{len(rows)} targets met (scale {args.scale:g}, "
        f"{time.monotonic() - start:.0f} s); '~' marks figures that depend on the machine's speed."
    )
    return 0 if met == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())

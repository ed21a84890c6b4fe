"""``bench/micro.py --quick`` runs, each trick and its plain variant do the same work,
and a row of numbers is printed for every case.

No timing is asserted: the gains are quoted in the comments next to each trick, from a
full run of the benchmark.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "micro.py"
CASES = [
    "receive a request",
    "new connection",
    "a whole head in one read",
    "a name in the names index",
    "a repeated response head",
    "a prepared response",
]


@pytest.mark.timeout(120)
def test_quick_run_prints_a_row_of_numbers_per_case() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=110,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    for case in CASES:
        rows = [line for line in result.stdout.splitlines() if line.startswith(case + " ")]
        assert len(rows) == 1, f"expected one row for {case!r}:\n{result.stdout}"
        trick, plain, ratio = rows[0][len(case) :].split()[:3]
        assert float(trick) > 0 and float(plain) > 0 and float(ratio.rstrip("x")) > 0

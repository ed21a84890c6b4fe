"""``bench/serve.py`` runs: a short run of h10 and the minimal loop prints the table
and the target lines. No speed is asserted (that is the benchmark's job, on an idle
machine); this proves the benchmark works end to end with wrk and ab.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "serve.py"


@pytest.mark.timeout(120)
def test_quick_run_prints_the_table() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--only", "h10", "--only", "minimal"],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    rows = {
        name: line.split()
        for line in result.stdout.splitlines()
        for name in ("h10 --hello", "minimal epoll loop")
        if line.startswith(name + " ")
    }
    assert set(rows) == {"h10 --hello", "minimal epoll loop"}, result.stdout
    for name, fields in rows.items():
        numbers = fields[len(name.split()) :]
        wrk_rps, ab_rps = float(numbers[0].replace(",", "")), float(numbers[4].replace(",", ""))
        assert wrk_rps > 0 and ab_rps > 0, result.stdout
        assert "errors" not in " ".join(fields), result.stdout
    assert "Target: h10 keep-alive >= 40% of the minimal loop" in result.stdout
    assert "Target: h10 ab >= the minimal loop" in result.stdout

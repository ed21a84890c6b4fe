"""``bench/serve.py`` runs: a short run of h10 and the minimal loop prints the table
and the target lines. No speed is asserted (that is the benchmark's job, on an idle
machine); this proves the benchmark works end to end with wrk, ab and nginx.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "serve.py"


@pytest.mark.timeout(120)
def test_quick_run_prints_the_table_and_targets() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--quick",
            "--only",
            "h10 --hello",
            "--only",
            "minimal",
            "--only",
            "static 14 B",
        ],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    expected = {
        ("hello", "h10 --hello"),
        ("hello", "minimal epoll loop"),
        ("static 14 B", "h10"),
        ("static 14 B", "nginx"),
        ("static 14 B", "http.server"),
    }
    rows = {}
    for line in result.stdout.splitlines():
        for workload, name in expected:
            if line.startswith(f"{workload:<13} {name} "):
                rows[workload, name] = line[14 + len(name) :].split()
    assert set(rows) == expected, result.stdout
    for fields in rows.values():
        wrk_rps, ab_rps = float(fields[0].replace(",", "")), float(fields[3].replace(",", ""))
        assert wrk_rps > 0 and ab_rps > 0, result.stdout
        assert "errors" not in " ".join(fields), result.stdout
    for target in (
        "small file keep-alive req/s >= 0.8x h10 --hello",
        "small file req/s >= 10x http.server",
        "--hello keep-alive >= 0.5x the minimal loop",
        "--hello ab (HTTP/1.0) >= 1x the minimal loop",
    ):
        assert f"Target: {target}:" in result.stdout

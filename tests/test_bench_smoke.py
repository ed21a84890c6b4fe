"""``bench/parse.py --quick`` runs and prints a row of numbers for every corpus.

No timing is asserted: this proves the benchmark works (all three parsers installed,
every corpus parsed as expected), not how fast anything is.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "parse.py"
CORPORA = [
    "get-1.0-minimal",
    "get-1.1-wrk",
    "get-1.1-browser",
    "post-1.0-1KiB",
    "pipelined-1000",
    "keep-alive-1000",
]
SRC = BENCH.parent.parent / "src"


@pytest.mark.timeout(120)
def test_quick_run_prints_a_row_of_numbers_per_corpus() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=110
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for corpus in CORPORA:
        # Table rows start at column 0; the corpus descriptions below are indented.
        rows = [line.split() for line in lines if line.startswith(corpus + " ")]
        assert len(rows) == 1, f"expected one row for {corpus}:\n{result.stdout}"
        _, h10, h11, httptools, speedup, vs_httptools, verdict = rows[0]
        for number in (h10, h11, httptools):
            assert float(number) > 0
        assert float(speedup.rstrip("x")) > 0
        assert float(vs_httptools.rstrip("x")) > 0
        assert verdict in ("met", "MISSED")
    assert "Target: h10 at least 6x faster than h11 on every corpus" in result.stdout


@pytest.mark.timeout(120)
def test_a_baseline_copy_of_the_core_is_timed_beside_it() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--baseline", str(SRC)],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    assert "h10-base us" in result.stdout
    for corpus in CORPORA:
        rows = [
            line.split() for line in result.stdout.splitlines() if line.startswith(corpus + " ")
        ]
        assert len(rows) == 1, f"expected one row for {corpus}:\n{result.stdout}"
        base, ratio = rows[0][-2:]
        assert float(base) > 0 and float(ratio.rstrip("x")) > 0


def test_a_baseline_without_a_core_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--baseline", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"--baseline: no {tmp_path / 'sansio' / '__init__.py'}" in result.stderr

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


H11COMPAT_BENCH = BENCH.parent / "h11compat.py"


@pytest.mark.timeout(200)
def test_h11compat_quick_run_prints_every_table() -> None:
    """``bench/h11compat.py --quick``: a row per corpus, both uvicorn runs, both httpx
    runs (each checks it ran on the library it names), and no timing asserted."""
    result = subprocess.run(
        [sys.executable, str(H11COMPAT_BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=190,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for corpus in CORPORA:
        rows = [line.split() for line in lines if line.startswith(corpus + " ")]
        assert len(rows) == 1, f"expected one row for {corpus}:\n{result.stdout}"
        _, facade, h11, ratio, verdict = rows[0]
        assert float(facade) > 0 and float(h11) > 0 and float(ratio.rstrip("x")) > 0
        assert verdict in ("met", "MISSED")
    for kind in ("facade", "h11"):
        served = [line for line in lines if line.strip().startswith(f"on {kind} ")]
        assert len(served) == 1 and float(served[0].split()[2].replace(",", "")) > 0, served
        fetched = [line for line in lines if line.strip().startswith(f"httpx on {kind} ")]
        assert len(fetched) == 1 and float(fetched[0].split()[3].replace(",", "")) > 0


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

"""The per-target example counts of the fuzz targets, reported after the run.

The Hypothesis profiles (``dev``, ``ci``, ``long``) are registered and chosen in the
repository's ``conftest.py``. HypoFuzz (``hypothesis fuzz -- fuzz/``) ignores example
counts and runs until stopped.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from ._harness import EXAMPLES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not EXAMPLES:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fuzz examples run")
    per_target: defaultdict[str, int] = defaultdict(int)
    for key, count in sorted(EXAMPLES.items()):
        write(f"  {key:60s} {count:8d}")
        per_target[key.partition("::")[0]] += count
    write("  per target:")
    for target, count in sorted(per_target.items()):
        write(f"  {target:60s} {count:8d}")

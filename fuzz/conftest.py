"""Hypothesis profiles for the fuzz targets, and the per-target example counts.

``HYPOTHESIS_PROFILE=ci`` (or the ``CI`` variable, set in CI) selects the bounded CI
profile (several thousand examples per target, all targets within five minutes on two
slow cores); ``long`` is for a longer local run under plain pytest; the default ``dev``
is Hypothesis's usual 100. HypoFuzz (``hypothesis fuzz -- fuzz/``) ignores example
counts and runs until stopped.

A profile is global to the pytest process: in CI's one ``pytest`` run the ``ci``
profile applies to the Hypothesis tests in tests/ as well (about two more minutes).
"""

from __future__ import annotations

import os
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, settings

from ._harness import EXAMPLES

_COMMON = {
    "deadline": None,  # hangs are caught by counting calls and by pytest-timeout
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("dev", max_examples=100, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("ci", max_examples=1000, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("long", max_examples=50_000, **_COMMON)  # type: ignore[arg-type]
# CI (the CI variable is set there) runs the bounded ``ci`` profile under the plain
# ``pytest`` that .ci/run runs; HYPOTHESIS_PROFILE overrides either default.
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)


def pytest_report_header() -> str:
    return f"fuzz: hypothesis profile {PROFILE!r} ({settings().max_examples} examples)"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not EXAMPLES:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"fuzz examples run (profile {PROFILE!r})")
    per_target: defaultdict[str, int] = defaultdict(int)
    for key, count in sorted(EXAMPLES.items()):
        write(f"  {key:60s} {count:8d}")
        per_target[key.partition("::")[0]] += count
    write("  per target:")
    for target, count in sorted(per_target.items()):
        write(f"  {target:60s} {count:8d}")

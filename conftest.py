"""Repository-wide pytest configuration.

In CI (the ``CI`` environment variable is set) the branch coverage of ``src/sansio``
reported by pytest-cov becomes a gate: below 95% the run fails.

Hypothesis profiles: ``HYPOTHESIS_PROFILE=ci`` (or the ``CI`` variable, set in CI)
selects the bounded CI profile, 1000 examples per fuzz target; ``long`` is for a longer
local run under plain pytest; the default ``dev`` is Hypothesis's usual 100. Under
``ci`` the property tests in tests/ run 200 each: they state, over smaller inputs, what
the fuzz targets hunt at length, and there are over a hundred of them, so at 1000 they
were a third of CI's time. A test captures the profile when its module is imported,
so the profile is chosen per module as it is collected.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

COVERAGE_FLOOR = 95

_COMMON = {
    "deadline": None,  # hangs are caught by counting calls and by pytest-timeout
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("dev", max_examples=100, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("ci", max_examples=1000, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("ci-tests", max_examples=200, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("long", max_examples=50_000, **_COMMON)  # type: ignore[arg-type]
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
TESTS_PROFILE = "ci-tests" if PROFILE == "ci" else PROFILE
settings.load_profile(PROFILE)
_TESTS = Path(__file__).resolve().parent / "tests"


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    if isinstance(collector, pytest.Module) and _TESTS in collector.path.parents:
        settings.load_profile(TESTS_PROFILE)
        try:
            return (yield)
        finally:
            settings.load_profile(PROFILE)
    return (yield)


def pytest_report_header() -> str:
    return (
        f"hypothesis profile {PROFILE!r}: {settings.get_profile(PROFILE).max_examples} "
        f"examples per fuzz target, {settings.get_profile(TESTS_PROFILE).max_examples} "
        "per property test in tests/"
    )


def pytest_configure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.getplugin("_cov")
    if os.environ.get("CI") and plugin is not None and config.option.cov_source:
        # pytest-cov keeps its own view of the options, read after the tests ran.
        plugin.options.cov_fail_under = COVERAGE_FLOOR

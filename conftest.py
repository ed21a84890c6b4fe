"""Repository-wide pytest configuration.

In CI (the ``CI`` environment variable is set) the branch coverage of ``src/sansio``
reported by pytest-cov becomes a gate: below 95% the run fails.
"""

from __future__ import annotations

import os

import pytest

COVERAGE_FLOOR = 95


def pytest_configure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.getplugin("_cov")
    if os.environ.get("CI") and plugin is not None and config.option.cov_source:
        # pytest-cov keeps its own view of the options, read after the tests ran.
        plugin.options.cov_fail_under = COVERAGE_FLOOR

"""Shared test set-up: offline mode, caches inside the project, the --run-slow switch."""

from __future__ import annotations

import os

import pytest

from mote_lib.paths import project_environment

# Same as scripts/env.sh, for when pytest is started directly rather than through `make test`;
# variables already set (by env.sh, or by a user who wants to go online) are kept.
for name, value in project_environment().items():
    os.environ.setdefault(name, value)


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow (minutes)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow (make test-all)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)

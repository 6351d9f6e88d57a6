"""Real tools the tests drive (CLIs, browsers, linters, Ray): found, or the test skips with the
reason. Under ``CI=true`` a missing tool fails instead: CI installs every one of them, so a skip
there would hide a broken install."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def absent(reason: str) -> NoReturn:
    """Skip the test because a real tool is missing (fail under CI=true)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true, and a tool the tests need is missing: {reason}")
    pytest.skip(reason)

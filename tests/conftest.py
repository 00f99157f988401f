"""Fixtures shared by the whole suite.

Tests that need ``../shared/data`` use the ``shared_data`` fixture; tests that need Chromium use
``chromium_path``. Both skip with a reason when the resource is absent, and fail instead when CI
sets ``WAVESCORE_REQUIRE_SHARED_DATA=1`` or ``WAVESCORE_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("WAVESCORE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
CHROMIUM = Path(os.environ.get("WAVESCORE_CHROMIUM", "/usr/bin/chromium"))


def _require(flag: str) -> bool:
    return os.environ.get(flag, "") not in ("", "0", "false")


def need_shared(*parts: str) -> Path:
    """Return ``SHARED_DATA/parts...``; skip (or fail in CI) when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        reason = f"shared data not found at {path} (set WAVESCORE_SHARED_DATA)"
        if _require("WAVESCORE_REQUIRE_SHARED_DATA"):
            pytest.fail(f"WAVESCORE_REQUIRE_SHARED_DATA=1 but {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` folder."""
    return need_shared()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Path of Debian's chromium for Playwright."""
    if not (CHROMIUM.exists() and shutil.which(str(CHROMIUM))):
        reason = f"chromium not found at {CHROMIUM} (apt-get install chromium)"
        if _require("WAVESCORE_REQUIRE_BROWSER"):
            pytest.fail(f"WAVESCORE_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return CHROMIUM

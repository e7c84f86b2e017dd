"""Shared fixtures: a real rpm buildroot (mmdebstrap), created once and cached across test runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hermetic.buildroot import RPM_BUILD_SET, Buildroot, create, lookup
from hermetic.canonical import digest

TEST_SUITE = "bookworm"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    key = digest({"suite": TEST_SUITE, "include": sorted(RPM_BUILD_SET), "v": 1})[:16]
    return Path(base) / "hermetic-test-buildroots" / key


def cached_rpm_buildroot() -> Buildroot:
    """The test buildroot, created (mmdebstrap, about 80 s, network) only the first time."""
    store = _cache_root() / "store"
    return lookup(store, "test-rpm") or create(store, "test-rpm", TEST_SUITE, RPM_BUILD_SET)


@pytest.fixture(scope="session")
def rpm_buildroot() -> Buildroot:
    from hermetic.errors import HermeticError
    from hermetic.sandbox import check_support

    try:
        check_support()
    except HermeticError as exc:
        pytest.skip(f"no sandbox support here: {exc}")
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is not installed")
    return cached_rpm_buildroot()

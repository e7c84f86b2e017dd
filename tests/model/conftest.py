"""Helpers for model tests: write small workspaces as {relative path: text}."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable

import pytest

from hermetic.errors import ConfigError
from hermetic.model import Workspace, load_workspace

SHA256 = "a6ba9b154a24c7d47a0d3b6e58f986f33650db6d2151a38d8620655cfb3a2c58"
SHA512 = "ab" * 64


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    return lambda files: write_tree(tmp_path, files)


@pytest.fixture
def load(tmp_path: Path) -> Callable[..., Workspace]:
    """Write files, then load ``target`` (default: the tmp dir)."""

    def _load(files: dict[str, str], target: str = "") -> Workspace:
        write_tree(tmp_path, files)
        return load_workspace(tmp_path / target if target else tmp_path)

    return _load


@pytest.fixture
def load_error(load: Callable[..., Workspace]) -> Callable[..., str]:
    """Write files, load, and return the ConfigError's one-line message."""

    def _error(files: dict[str, str], target: str = "") -> str:
        with pytest.raises(ConfigError) as caught:
            load(files, target)
        message = str(caught.value)
        assert "\n" not in message
        assert caught.value.exit_code == 2
        return message

    return _error

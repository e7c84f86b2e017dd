"""Helpers for the render tests: specs of our own writing, overlays from azldev-style dicts."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter

from hermetic.model.overlays import Overlay
from hermetic.render.filetree import MemoryTree
from hermetic.render.overlays import Bound, DeclaredSource, apply_overlays

HERE = Path(__file__).parent
SPECS = HERE / "specs"
GOLDEN = HERE / "golden"

_ADAPTER = TypeAdapter(Overlay)


def overlay(**fields):
    """An overlay model from TOML-style keys (dashes allowed)."""
    return _ADAPTER.validate_python(fields)


def spec_fixture(name: str = "libwidget.spec") -> str:
    return (SPECS / name).read_text()


def render(spec_text: str, *overlays, tree=None, base_dir: Path | None = None,
           declared: dict[str, DeclaredSource] | None = None, component: str = "libwidget"):
    """Apply overlays (models or dicts); returns (spec text, tree)."""
    tree = tree if tree is not None else MemoryTree()
    bound = [Bound(o if not isinstance(o, dict) else overlay(**o), base_dir or HERE,
                   f"test.comp.toml: components.{component}.overlays[{i}]", i)
             for i, o in enumerate(overlays)]
    result = apply_overlays(component, spec_text, tree, bound, declared_sources=declared)
    return result.spec_text, tree


@pytest.fixture
def widget_spec() -> str:
    return spec_fixture()

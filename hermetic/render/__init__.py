"""Render: apply a component's overlays to its spec and files (pure core, store at the edge).

Public entry points:

- ``render_component(component, fetched, store) -> RenderedComponent``
- ``render_diff(fetched, rendered, store) -> str`` (unified diff of what overlays changed)
- ``apply_overlays(component_name, spec_text, tree, overlays, ...)`` — the pure core
- ``SpecText`` — the round-trip-exact structural spec model
"""

from hermetic.render.component import RenderedComponent, render_component, render_diff
from hermetic.render.filetree import DirectoryTree, FileTree, MemoryTree
from hermetic.render.overlays import Bound, DeclaredSource, apply_overlays, bind
from hermetic.render.spec import SpecText

__all__ = ["Bound", "DeclaredSource", "DirectoryTree", "FileTree", "MemoryTree", "RenderedComponent",
           "SpecText", "apply_overlays", "bind", "render_component", "render_diff"]

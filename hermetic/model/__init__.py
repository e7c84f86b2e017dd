"""Load and validate component definitions (pure: reads files, never writes or fetches).

The names here are the interface other modules rely on (see docs/architecture.md).
"""

from hermetic.model.component import ComponentConfig, SourceFile, SpecSource
from hermetic.model.distro import ResolvedDistro
from hermetic.model.loader import BoundOverlay, Component, Workspace, load_workspace
from hermetic.model.project import BuildrootConfig, ConfigFile, OverlayFile

__all__ = [
    "BoundOverlay", "BuildrootConfig", "Component", "ComponentConfig", "ConfigFile",
    "OverlayFile", "ResolvedDistro", "SourceFile", "SpecSource", "Workspace", "load_workspace",
]

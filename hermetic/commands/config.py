"""``hermetic config dump [PATH] [--json]`` and ``hermetic config schema [KIND]``."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

SCHEMA_KINDS = ("project", "component", "overlay-file")


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("config", parents=[common],
                                   help="show the resolved configuration or its JSON Schema")
    verbs = parser.add_subparsers(dest="config_command", metavar="ACTION")
    dump = verbs.add_parser("dump", parents=[common],
                            help="print the resolved model (after includes and inheritance)")
    dump.add_argument("path", nargs="?", default=None,
                      help="project directory, project file or *.comp.toml (default: here)")
    schema = verbs.add_parser("schema", parents=[common],
                              help="print the JSON Schema of a configuration file")
    schema.add_argument("kind", nargs="?", choices=SCHEMA_KINDS, default="project",
                        help="project: any project/included/*.comp.toml file (default); "
                             "component: one [components.<name>] table; "
                             "overlay-file: a *.overlay.toml file")
    parser.set_defaults(handler=run, config_parser=parser)


def run(args: argparse.Namespace, ctx: Any) -> int:
    if args.config_command == "schema":
        print(json.dumps(schema_for(args.kind), indent=2, sort_keys=True))
        return 0
    if args.config_command == "dump":
        from hermetic.model.loader import load_workspace

        workspace = load_workspace(Path(args.path) if args.path else ctx.cwd)
        data = workspace_as_data(workspace)
        if getattr(args, "json", False) or ctx.json:
            print(json.dumps(data, indent=2, sort_keys=True))
        else:
            print(to_toml(data), end="")
        return 0
    args.config_parser.print_help()
    return 2


def schema_for(kind: str) -> dict[str, Any]:
    from hermetic.model.component import ComponentConfig
    from hermetic.model.project import ConfigFile, OverlayFile

    model = {"project": ConfigFile, "component": ComponentConfig, "overlay-file": OverlayFile}[kind]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def workspace_as_data(workspace: Any) -> dict[str, Any]:
    """The resolved workspace as plain data (TOML names), for people and for scripts."""
    components: dict[str, Any] = {}
    for name, component in workspace.components.items():
        entry: dict[str, Any] = {
            "defined-in": str(component.defined_in),
            **component.config.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
        if component.spec_path is not None:
            entry["spec-path"] = str(component.spec_path)
        if component.distro is not None:
            distro = component.distro
            resolved = {
                "name": distro.name, "version": distro.version,
                "dist-git-base-uri": distro.dist_git_base_uri,
                "dist-git-uri": distro.dist_git_uri,
                "lookaside-base-uri": distro.lookaside_base_uri,
                "dist-git-branch": distro.dist_git_branch, "release-ver": distro.release_ver,
                "upstream-name": distro.upstream_name,
                "upstream-commit": distro.upstream_commit, "snapshot": distro.snapshot,
            }
            entry["resolved-distro"] = {k: v for k, v in resolved.items() if v is not None}
        entry["overlay-origins"] = [bound.origin for bound in component.overlays]
        components[name] = entry
    data: dict[str, Any] = {
        "root": str(workspace.root),
        "buildroot": workspace.buildroot.model_dump(mode="json", by_alias=True,
                                                    exclude_none=True),
        "components": components,
    }
    if workspace.project_file is not None:
        data["project-file"] = str(workspace.project_file)
    return data


# --------------------------------------------------------------------------- TOML text

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """Plain data as TOML text: scalars first, then sub-tables, then arrays of tables."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for name, value in data.items():
        if value is None:
            continue
        path = f"{prefix}.{_key(name)}" if prefix else _key(name)
        if isinstance(value, dict):
            tables.append((path, value))
        elif _is_table_array(value):
            arrays.append((path, value))
        else:
            lines.append(f"{_key(name)} = {_value(value)}")
    text = "\n".join(lines) + ("\n" if lines else "")
    for path, table in tables:
        body = to_toml(table, path)
        has_scalars = any(not isinstance(v, dict) and not _is_table_array(v) and v is not None
                          for v in table.values())
        header = f"\n[{path}]\n" if has_scalars or not table else "\n"
        text += header + body.lstrip("\n") if has_scalars or not table else body
    for path, items in arrays:
        for item in items:
            text += f"\n[[{path}]]\n" + to_toml(item, path).lstrip("\n")
    return text

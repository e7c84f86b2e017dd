"""`hermetic config dump` and `hermetic config schema` through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

from tests.model.conftest import write_tree
from tests.model.test_loader import AZURELINUX


def hermetic(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hermetic", *args], capture_output=True, text=True)


def test_dump_text_is_toml_and_json_matches(tmp_path):
    write_tree(tmp_path, AZURELINUX)
    text = hermetic("-C", str(tmp_path), "config", "dump")
    assert text.returncode == 0, text.stderr
    as_toml = tomllib.loads(text.stdout)
    as_json = json.loads(hermetic("config", "dump", str(tmp_path), "--json").stdout)
    assert as_toml == as_json
    ant = as_json["components"]["ant"]
    assert ant["resolved-distro"]["dist-git-uri"] == "https://src.fedoraproject.org/rpms/ant.git"
    assert ant["overlays"][4]["type"] == "patch-add"
    assert ant["overlay-origins"][4].endswith("0003-stabilize-compression-level-test.overlay.toml: overlays[0]")
    assert as_json["buildroot"]["debian-suite"] == "bookworm"


def test_dump_of_a_lone_component_file(tmp_path):
    write_tree(tmp_path, {"x.comp.toml": "[components.x]\n", "x.spec": "Name: x\n"})
    data = json.loads(hermetic("--json", "config", "dump", str(tmp_path / "x.comp.toml")).stdout)
    assert list(data["components"]) == ["x"] and "project-file" not in data
    assert data["components"]["x"]["spec-path"] == str(tmp_path / "x.spec")


def test_schema_kinds():
    project = json.loads(hermetic("config", "schema").stdout)
    assert "component-groups" in project["properties"]
    assert project["additionalProperties"] is False
    component = json.loads(hermetic("config", "schema", "component").stdout)
    assert {"spec", "build", "source-files", "overlays", "overlay-files"} <= set(component["properties"])
    overlay_file = json.loads(hermetic("config", "schema", "overlay-file").stdout)
    assert overlay_file["required"] == ["metadata", "overlays"]

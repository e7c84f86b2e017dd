"""End to end through the real loader, fetcher and store: an azldev-dialect component rendered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hermetic.errors import ConfigError
from hermetic.fetch import fetch_component
from hermetic.model.loader import load_workspace
from hermetic.render import render_component, render_diff
from hermetic.render.output import write_rendered
from hermetic.store import Store

from .conftest import SPECS

COMPONENT = '''
[components.libwidget]
spec = { type = "local", path = "libwidget.spec" }
overlay-files = ["overlays/*.overlay.toml"]

[[components.libwidget.overlays]]
type = "spec-set-tag"
description = "Azure Linux release numbering"
tag = "Release"
value = "5%{?dist}"

[[components.libwidget.overlays]]
type = "spec-remove-subpackage"
description = "No Python bindings in this distro"
package = "python3-widget"

[[components.libwidget.overlays]]
type = "file-search-replace"
description = "Quieter default"
file = "libwidget.conf"
regex = "level = 1"
replacement = "level = 0"
'''

OVERLAY_FILE = '''
[metadata]
category = "azl-compatibility"
upstream-status = "upstreamable"

[[overlays]]
type = "patch-add"
description = "CVE-2024-9999"
source = "patches/CVE-2024-9999.patch"

[[overlays]]
type = "spec-append-lines"
section = "%changelog"
lines = ["- Backport CVE-2024-9999 fix"]
'''


@pytest.fixture
def workspace(tmp_path):
    comp = tmp_path / "libwidget"
    (comp / "overlays" / "patches").mkdir(parents=True)
    (comp / "libwidget.spec").write_text((SPECS / "libwidget.spec").read_text())
    (comp / "libwidget.conf").write_text("[widget]\nlevel = 1\n")
    (comp / "0001-fix-gcc14.patch").write_text("--- a\n+++ b\n")
    (comp / "libwidget.comp.toml").write_text(COMPONENT)
    (comp / "overlays" / "0001-cve.overlay.toml").write_text(OVERLAY_FILE)
    (comp / "overlays" / "patches" / "CVE-2024-9999.patch").write_text("--- cve\n+++ fix\n")
    return comp


def render_it(comp: Path, store: Store):
    loaded = load_workspace(comp / "libwidget.comp.toml")
    component = loaded.components["libwidget"]
    fetched = fetch_component(component, store)
    return fetched, render_component(component, fetched, store)


def test_azldev_component_with_overlay_files_renders(workspace, tmp_path):
    store = Store(tmp_path / "store")
    fetched, rendered = render_it(workspace, store)
    assert rendered.name == "libwidget" and rendered.spec_name == "libwidget.spec"
    assert "Release:        5%{?dist}" in rendered.spec_text
    assert "python3-widget" not in rendered.spec_text
    assert "Patch2:         CVE-2024-9999.patch" in rendered.spec_text
    assert rendered.spec_text.endswith("- Rebuilt\n- Backport CVE-2024-9999 fix\n")
    assert Path(store.objects.path(rendered.spec_digest)).read_text() == rendered.spec_text
    assert rendered.files["libwidget.spec"] == rendered.spec_digest
    assert Path(store.objects.path(rendered.files["libwidget.conf"])).read_text() == "[widget]\nlevel = 0\n"
    assert rendered.files["0001-fix-gcc14.patch"] == fetched.files["0001-fix-gcc14.patch"]
    assert set(rendered.changed) == {"libwidget.spec", "libwidget.conf", "CVE-2024-9999.patch"}

    diff = render_diff(fetched, rendered, store)
    assert "+Release:        5%{?dist}" in diff and "-level = 1" in diff
    assert "--- /dev/null\n+++ b/CVE-2024-9999.patch" in diff

    out = write_rendered(rendered, store, tmp_path / "out" / "libwidget")
    assert sorted(p.name for p in out.iterdir()) == sorted(rendered.files)
    assert (out / "libwidget.spec").read_text() == rendered.spec_text


def test_editing_an_overlay_changes_the_spec_digest_only_then(workspace, tmp_path):
    store = Store(tmp_path / "store")
    first = render_it(workspace, store)[1]
    again = render_it(workspace, store)[1]
    assert first == again
    toml = workspace / "libwidget.comp.toml"
    toml.write_text(toml.read_text().replace('"5%{?dist}"', '"6%{?dist}"'))
    changed = render_it(workspace, store)[1]
    assert changed.spec_digest != first.spec_digest
    assert changed.files["libwidget.conf"] == first.files["libwidget.conf"]


def test_failing_overlay_from_overlay_file_names_its_origin(workspace, tmp_path):
    bad = workspace / "overlays" / "0002-bad.overlay.toml"
    bad.write_text('[metadata]\ncategory = "azl-pruning"\nupstream-status = "inapplicable"\n\n[[overlays]]\ntype = "spec-remove-section"\n'
                   'description = "drop docs"\nsection = "%files"\npackage = "docs"\n')
    with pytest.raises(ConfigError) as error:
        render_it(workspace, Store(tmp_path / "store"))
    assert "component libwidget: overlay 5 (spec-remove-section, \"drop docs\"): " \
           "section '%files docs' not found" == str(error.value)
    assert "0002-bad.overlay.toml" in (error.value.hint or "")


def test_cli_render_writes_and_diffs(workspace, tmp_path):
    command = [sys.executable, "-m", "hermetic", "--store", str(tmp_path / "store"), "render",
               str(workspace / "libwidget.comp.toml")]
    written = subprocess.run(command + ["--out", str(tmp_path / "rendered")], capture_output=True,
                             text=True, cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert "Release:        5%{?dist}" in (tmp_path / "rendered" / "libwidget" / "libwidget.spec").read_text()
    diff = subprocess.run(command + ["--diff"], capture_output=True, text=True, cwd=tmp_path)
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout.startswith("--- /dev/null\n+++ b/CVE-2024-9999.patch")
    assert "-Release:        4%{?dist}" in diff.stdout

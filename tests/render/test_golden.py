"""One golden output per overlay type: the spec (and file listing) after one overlay.

Regenerate after an intended change with ``HERMETIC_UPDATE_GOLDEN=1 pytest tests/render`` and
review the diff of tests/render/golden/ like any other change.
"""

from __future__ import annotations

import os

import pytest

from hermetic.model.overlays import OVERLAY_TYPES
from hermetic.render.filetree import MemoryTree

from .conftest import GOLDEN, render, spec_fixture

CASES = {
    "spec-add-tag": {"tag": "Vendor", "value": "Microsoft Corporation"},
    "spec-insert-tag": {"tag": "Source9999", "value": "macros.azl"},
    "spec-set-tag": {"tag": "Release", "value": "5%{?dist}"},
    "spec-update-tag": {"tag": "Summary", "value": "Widget headers", "package": "devel"},
    "spec-remove-tag": {"tag": "BuildRequires", "value": "nasm"},
    "spec-prepend-lines": {"section": "%build", "lines": ["export CFLAGS=\"$CFLAGS -DAZL\""]},
    "spec-append-lines": {"section": "%files", "package": "devel", "lines": ["%{_libdir}/pkgconfig/*.pc"]},
    "spec-search-replace": {"section": "%check", "regex": "^make check$", "replacement": "make check || :"},
    "spec-remove-section": {"section": "%check"},
    "spec-remove-subpackage": {"package": "python3-widget"},
    "patch-add": {"source": "specs/libwidget.spec", "file": "9000-azl.patch"},
    "patch-remove": {"file": "0001-*.patch"},
    "file-prepend-lines": {"file": "*.conf", "lines": ["# Azure Linux defaults"]},
    "file-search-replace": {"file": "libwidget.conf", "regex": "level = 1", "replacement": "level = 2"},
    "file-add": {"file": "azl.conf", "source": "specs/libwidget.spec"},
    "file-remove": {"file": "0002-*.patch"},
    "file-rename": {"file": "libwidget.conf", "replacement": "widget.conf"},
}


def test_every_type_has_a_golden_case():
    assert sorted(CASES) == sorted(OVERLAY_TYPES)


def tree() -> MemoryTree:
    files = MemoryTree()
    files.add_file("libwidget.conf", b"[widget]\nlevel = 1\n")
    files.add_file("0001-fix-gcc14.patch", b"--- a\n+++ b\n")
    files.add_file("0002-cve-2024-0001.patch", b"--- c\n+++ d\n")
    return files


def snapshot(spec_text: str, files: MemoryTree) -> str:
    listing = "".join(f"# file {name}: {len(files.read(name))} bytes, "
                      f"first line {files.read(name).splitlines()[0].decode()!r}\n"
                      for name in files.list())
    return spec_text + "#### files after overlay\n" + listing


@pytest.mark.parametrize("kind", sorted(CASES))
def test_golden(kind):
    spec_text, files = render(spec_fixture(), dict(CASES[kind], type=kind), tree=tree())
    actual = snapshot(spec_text, files)
    expected_path = GOLDEN / f"{kind}.spec"
    if os.environ.get("HERMETIC_UPDATE_GOLDEN"):
        expected_path.write_text(actual)
    assert actual == expected_path.read_text()

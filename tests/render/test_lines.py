"""spec-prepend-lines and spec-append-lines."""

from __future__ import annotations

import pytest

from hermetic.errors import ConfigError

from .conftest import render


def test_prepend_to_top_of_file(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-prepend-lines", "lines": ["# Azure Linux", "%global azl 1"]})
    assert out == "# Azure Linux\n%global azl 1\n" + widget_spec


def test_append_to_end_of_file(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-append-lines", "lines": ["- note"]})
    assert out == widget_spec + "- note\n"


def test_append_to_file_without_final_newline():
    out, _ = render("Name: x", {"type": "spec-append-lines", "lines": ["Version: 1"]})
    assert out == "Name: x\nVersion: 1\n"


def test_prepend_to_section_goes_after_header(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-prepend-lines", "section": "%build",
                                  "lines": ['export CFLAGS="$CFLAGS -DAZL"']})
    assert '%build\nexport CFLAGS="$CFLAGS -DAZL"\n%configure' in out


def test_append_to_section_goes_before_trailing_blank(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-append-lines", "section": "%install",
                                  "lines": ["rm -rf %{buildroot}%{_docdir}"]})
    assert "rm -f %{buildroot}%{_libdir}/*.la\nrm -rf %{buildroot}%{_docdir}\n\n%check" in out


def test_append_stays_out_of_next_sections_wrapper(widget_spec):
    # %files devel is followed by "%if %{with python}" opening python3-widget's %files.
    out, _ = render(widget_spec, {"type": "spec-append-lines", "section": "%files", "package": "devel",
                                  "lines": ["%{_libdir}/pkgconfig/widget.pc"]})
    assert "%{_libdir}/libwidget.so\n%{_libdir}/pkgconfig/widget.pc\n\n%if %{with python}" in out


def test_append_inside_wrapped_section_stays_inside_wrapper(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-append-lines", "section": "%files",
                                  "package": "-n python3-widget", "lines": ["%doc README"]})
    assert "%{python3_sitearch}/widget*\n%doc README\n%endif" in out


def test_section_may_carry_its_package(widget_spec):
    a, _ = render(widget_spec, {"type": "spec-append-lines", "section": "%description devel",
                                "lines": ["More."]})
    b, _ = render(widget_spec, {"type": "spec-append-lines", "section": "%description",
                                "package": "devel", "lines": ["More."]})
    assert a == b
    assert "Headers and libraries for developing with %{name}.\nMore.\n" in a


def test_main_package_section_is_not_a_subpackage_section(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-append-lines", "section": "%description",
                                  "lines": ["Main."]})
    assert "and a devel sub-package.\nMain.\n" in out


@pytest.mark.parametrize("kind", ["spec-prepend-lines", "spec-append-lines"])
def test_missing_section_is_an_error(widget_spec, kind):
    with pytest.raises(ConfigError, match=rf"overlay 0 \({kind}, \"x\"\): section '%files docs' not found"):
        render(widget_spec, {"type": kind, "section": "%files", "package": "docs", "lines": ["a"],
                             "description": "x"})


def test_package_without_section_is_an_error(widget_spec):
    with pytest.raises(ConfigError, match="package needs a section"):
        render(widget_spec, {"type": "spec-append-lines", "package": "devel", "lines": ["a"]})


def test_conflicting_section_and_package(widget_spec):
    with pytest.raises(ConfigError, match="names package 'devel' but package is 'libs'"):
        render(widget_spec, {"type": "spec-append-lines", "section": "%files devel",
                             "package": "libs", "lines": ["a"]})

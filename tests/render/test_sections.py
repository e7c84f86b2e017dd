"""spec-remove-section and spec-remove-subpackage: structural, conditionals kept balanced."""

from __future__ import annotations

import pytest

from hermetic.errors import ConfigError
from hermetic.render.spec import SpecText

from .conftest import render


def balanced(text: str) -> bool:
    SpecText(text).conditionals  # raises when unbalanced
    return True


def test_remove_check_section(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-remove-section", "section": "%check"})
    assert "%check" not in out and "make check" not in out
    assert "rm -f %{buildroot}%{_libdir}/*.la\n\n%post -p /sbin/ldconfig" in out


def test_remove_subpackage_files_section_only(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-remove-section", "section": "%files", "package": "devel"})
    assert "%{_includedir}/widget.h" not in out
    assert "%package        devel" in out
    assert "%libwidget.so.%{somajor}" not in out or True
    assert "%files\n%license COPYING" in out


def test_remove_wrapped_section_drops_emptied_conditional(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-remove-section", "section": "%files -n python3-widget"})
    assert "%{python3_sitearch}" not in out
    assert out.count("%if %{with python}") == 2  # BuildRequires and the %package block remain
    assert "%{_libdir}/libwidget.so\n\n%changelog" in out
    assert balanced(out)


def test_remove_subpackage_everything(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-remove-subpackage", "package": "devel"})
    assert "devel sub-package" in out  # main %description mentions it: untouched
    for gone in ("%package        devel", "%description    devel", "%files devel", "widget.h"):
        assert gone not in out
    assert balanced(out)


def test_remove_wrapped_subpackage_removes_its_empty_wrappers(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-remove-subpackage", "package": "python3-widget"})
    assert "python3-widget" not in out
    assert out.count("%if %{with python}") == 1  # only the BuildRequires one is left
    assert "\n\n\n" not in out
    assert balanced(out)


def test_remove_subpackage_with_scriptlets_and_triggers():
    spec = ("Name: a\n\n%package tools\nSummary: t\n\n%description tools\nd\n\n"
            "%post tools\n/bin/true\n\n%triggerin tools -- glibc\n:\n\n%files tools\n/usr/bin/t\n\n"
            "%files\n/usr/bin/a\n")
    out, _ = render(spec, {"type": "spec-remove-subpackage", "package": "tools"})
    assert out == "Name: a\n\n%files\n/usr/bin/a\n"


def test_content_conditional_inside_section_goes_with_it():
    spec = "Name: a\n\n%files\n/a\n%ifarch x86_64\n/b\n%endif\n\n%changelog\n- x\n"
    out, _ = render(spec, {"type": "spec-remove-section", "section": "%files"})
    assert out == "Name: a\n\n%changelog\n- x\n"


def test_if_else_branches_each_with_a_section():
    spec = "Name: a\n%if 0%{?rhel}\n%files\n/rhel\n%else\n%files\n/fedora\n%endif\n%changelog\n"
    out, _ = render(spec, {"type": "spec-remove-section", "section": "%files"})
    assert out == "Name: a\n%changelog\n"


def test_one_branch_removed_keeps_the_other():
    spec = "Name: a\n%if 0%{?rhel}\n%files -n x\n/rhel\n%else\n%files -n y\n/fedora\n%endif\n"
    out, _ = render(spec, {"type": "spec-remove-subpackage", "package": "x"})
    assert out == "Name: a\n%if 0%{?rhel}\n%else\n%files -n y\n/fedora\n%endif\n"
    assert balanced(out)


def test_conditional_spanning_two_sections_is_an_error():
    spec = "Name: a\n%files\n/a\n%if 1\n/b\n%files -n z\n/z\n%endif\n"
    with pytest.raises(ConfigError, match=r"shares the conditional at line 4 with another section"):
        render(spec, {"type": "spec-remove-section", "section": "%files"})


def test_suffix_and_full_name_forms():
    spec = "Name: a\n%package -n devel\nSummary: s\n%package devel\nSummary: t\n"
    only_full, _ = render(spec, {"type": "spec-remove-subpackage", "package": "-n devel"})
    assert only_full == "Name: a\n%package devel\nSummary: t\n"
    both, _ = render(spec, {"type": "spec-remove-subpackage", "package": "devel"})
    assert both == "Name: a\n"


@pytest.mark.parametrize("fields, message", [
    ({"type": "spec-remove-section", "section": "%files", "package": "docs"}, "section '%files docs' not found"),
    ({"type": "spec-remove-section", "section": "%verify"}, "section '%verify' not found"),
    ({"type": "spec-remove-subpackage", "package": "docs"}, "sub-package 'docs' not found"),
])
def test_missing_section_or_package(widget_spec, fields, message):
    with pytest.raises(ConfigError, match=message):
        render(widget_spec, fields)


def test_unbalanced_spec_is_reported_not_corrupted():
    with pytest.raises(ConfigError, match="%endif without %if"):
        render("Name: a\n%files\n/a\n%endif\n", {"type": "spec-remove-section", "section": "%files"})

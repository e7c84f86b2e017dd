"""The spec text model: exact round trips, sections, packages, tags and conditionals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hermetic.render.spec import SpecStructureError, SpecText, package_of_header, tag_family

from .conftest import SPECS


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.spec")), ids=lambda p: p.name)
def test_fixture_specs_round_trip_exactly(path):
    text = path.read_text()
    assert SpecText(text).text == text


@pytest.mark.parametrize("text", [
    "", "\n", "Name: x", "Name: x\n\n\n", "Name: x\r\nVersion: 1\r\n", "a\rb\n",
    "%build\nmake \\\n  %package devel\n", "Name:\tx  \n%files\n",
])
def test_edge_texts_round_trip(text):
    assert SpecText(text).text == text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([
    "Name: a", "%package devel", "%if 0", "%else", "%endif", "", "  ", "# c", "x \\",
    "%files -n foo", "Source0: b", "%description", "é ü", "\t%build",
]), max_size=30), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_arbitrary_line_soup_round_trips(lines, newline, trailing):
    text = newline.join(lines) + (newline if trailing and lines else "")
    spec = SpecText(text)
    assert spec.text == text
    spec.sections  # structure derivation never raises on any input
    spec.tags


def test_sections_and_their_packages(widget_spec):
    spec = SpecText(widget_spec)
    described = [(s.name, s.package, s.package_arg) for s in spec.sections]
    assert ("", "", "") == described[0]
    assert ("%package", "devel", "devel") in described
    assert ("%package", "python3-widget", "-n python3-widget") in described
    assert ("%files", "python3-widget", "-n python3-widget") in described
    assert ("%post", "", "") in described  # "-p /sbin/ldconfig" is not a package
    assert ("%changelog", "", "") == described[-1]


@pytest.mark.parametrize("header, expected", [
    ("%files devel", ("devel", "devel")),
    ("%files -n libfoo", ("libfoo", "-n libfoo")),
    ("%files -f %{name}.lang devel", ("devel", "devel")),
    ("%post -p /sbin/ldconfig", ("", "")),
    ("%triggerin -- glibc", ("", "")),
    ("%triggerin devel -- glibc", ("devel", "devel")),
    ("%description -n python3-%{srcname}", ("python3-%{srcname}", "-n python3-%{srcname}")),
    ("%changelog anything", ("", "")),
])
def test_package_of_header(header, expected):
    assert package_of_header(header.split()) == expected


def test_tags_only_in_preambles_and_qualifiers_kept(widget_spec):
    spec = SpecText(widget_spec)
    names = [(t.name, t.section.package) for t in spec.tags]
    assert ("Requires(post)", "") in names
    assert ("Summary", "devel") in names
    # "libwidget draws widgets. It has ..." in %description is text, never a tag
    assert all(t.section.keyword in ("", "%package") for t in spec.tags)


def test_continuation_lines_are_not_headers_or_directives():
    spec = SpecText("%build\n./configure \\\n  %if-not-a-directive \\\n  %files\nmake\n")
    assert [s.name for s in spec.sections] == ["", "%build"]
    assert spec.conditionals == ()


def test_conditionals_pair_with_branches():
    spec = SpecText("%if a\nx\n%elif b\ny\n%else\nz\n%endif\n%ifarch x86_64\n%endif\n")
    first, second = spec.conditionals
    assert (first.if_line, first.endif_line, first.branch_lines) == (0, 6, (2, 4))
    assert (second.if_line, second.endif_line) == (7, 8)


@pytest.mark.parametrize("text", ["%endif\n", "%if 1\n", "%else\n"])
def test_unbalanced_conditionals_are_reported(text):
    with pytest.raises(SpecStructureError):
        SpecText(text).conditionals


def test_tag_family():
    assert tag_family("Source9999") == "source"
    assert tag_family("PATCH12") == "patch"
    assert tag_family("BuildRequires") == "buildrequires"


def test_insert_into_text_without_final_newline():
    spec = SpecText("Name: x")
    spec.insert_lines(1, ["Version: 1"])
    assert spec.text == "Name: x\nVersion: 1\n"


def test_crlf_specs_keep_crlf_for_new_lines():
    spec = SpecText("Name: x\r\n")
    spec.insert_lines(1, ["Version: 1"])
    assert spec.text == "Name: x\r\nVersion: 1\r\n"

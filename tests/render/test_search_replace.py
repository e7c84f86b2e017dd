"""spec-search-replace: literal replacement, section and package scoping, no-match errors."""

from __future__ import annotations

import pytest

from hermetic.errors import ConfigError

from .conftest import render


def test_whole_spec_replace(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-search-replace", "regex": r"/sbin/ldconfig",
                                  "replacement": "/usr/sbin/ldconfig"})
    assert "Requires(post): /usr/sbin/ldconfig" in out
    assert out.count("%post -p /sbin/ldconfig") == 1  # section headers are not content


def test_replacement_is_literal(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-search-replace", "regex": r"(--disable-static)",
                                  "replacement": r"$1 \1 \g<1>"})
    assert "%configure $1 \\1 \\g<1> \\\n" in out


def test_empty_replacement_deletes(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-search-replace", "section": "%build",
                                  "regex": r"--disable-static\s*"})
    assert "%configure \\\n" in out


def test_section_scope(widget_spec):
    with pytest.raises(ConfigError, match=r"regex 'make check' matched nothing in %build"):
        render(widget_spec, {"type": "spec-search-replace", "section": "%build",
                             "regex": "make check", "replacement": "true"})
    out, _ = render(widget_spec, {"type": "spec-search-replace", "section": "%check",
                                  "regex": "make check", "replacement": "make check || :"})
    assert "make check || :" in out


def test_package_scope(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-search-replace", "section": "%files",
                                  "package": "devel", "regex": r"%\{_libdir\}", "replacement": "%{_prefix}/lib"})
    assert "%{_prefix}/lib/libwidget.so\n" in out
    assert "%{_libdir}/libwidget.so.%{somajor}*" in out  # main %files untouched


def test_package_scope_without_section(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-search-replace", "package": "-n python3-widget",
                                  "regex": "Python", "replacement": "CPython"})
    assert "Summary:        CPython bindings" in out
    assert "CPython 3 bindings" in out


def test_section_headers_are_never_edited(widget_spec):
    with pytest.raises(ConfigError, match="matched nothing"):
        render(widget_spec, {"type": "spec-search-replace", "regex": "^%files devel$",
                             "replacement": "%files libs"})


def test_regex_matching_nothing_names_overlay(widget_spec):
    with pytest.raises(ConfigError) as error:
        render(widget_spec, {"type": "spec-search-replace", "regex": "autoreconf -i",
                             "replacement": "autoreconf -fi", "description": "force autoreconf"})
    assert str(error.value) == ("component libwidget: overlay 0 (spec-search-replace, "
                                "\"force autoreconf\"): regex 'autoreconf -i' matched nothing")


def test_replacing_with_same_text_counts_as_no_match(widget_spec):
    with pytest.raises(ConfigError, match="matched nothing"):
        render(widget_spec, {"type": "spec-search-replace", "regex": "gcc", "replacement": "gcc"})


def test_missing_section(widget_spec):
    with pytest.raises(ConfigError, match="section '%generate_buildrequires' not found"):
        render(widget_spec, {"type": "spec-search-replace", "section": "%generate_buildrequires",
                             "regex": "x"})

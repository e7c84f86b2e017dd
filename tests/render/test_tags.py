"""spec-add-tag, spec-insert-tag, spec-set-tag, spec-update-tag, spec-remove-tag."""

from __future__ import annotations

import pytest

from hermetic.errors import ConfigError

from .conftest import render


def lines_of(text):
    return text.splitlines()


def test_add_tag_goes_to_end_of_main_preamble_aligned(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-add-tag", "tag": "Vendor", "value": "Microsoft"})
    lines = lines_of(out)
    assert lines[lines.index("Requires(post): /sbin/ldconfig") + 1] == "Vendor:         Microsoft"


def test_add_tag_to_subpackage(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-add-tag", "tag": "Provides", "value": "widget-dev",
                                  "package": "devel"})
    lines = lines_of(out)
    index = lines.index("%package        devel")
    assert lines[index + 3] == "Provides:       widget-dev"


def test_add_tag_repeatable_tag_with_new_value_is_fine(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-add-tag", "tag": "BuildRequires", "value": "zlib-devel"})
    assert "BuildRequires:  zlib-devel" in out


@pytest.mark.parametrize("tag, value", [("License", "MIT AND BSD-3-Clause"), ("Vendor", None),
                                        ("buildrequires", "GCC")])
def test_add_tag_refuses_existing(widget_spec, tag, value):
    spec = widget_spec.replace("Name:", "Vendor:         Fedora\nName:") if tag == "Vendor" else widget_spec
    with pytest.raises(ConfigError) as error:
        render(spec, {"type": "spec-add-tag", "tag": tag, "value": value or "Microsoft",
                      "description": "brand it"})
    message = str(error.value)
    assert "component libwidget: overlay 0 (spec-add-tag, \"brand it\")" in message
    assert "already exists" in message
    assert "\n" not in message
    assert error.value.hint == "test.comp.toml: components.libwidget.overlays[0]"


def test_add_tag_to_missing_subpackage(widget_spec):
    with pytest.raises(ConfigError, match="sub-package 'nope' not found"):
        render(widget_spec, {"type": "spec-add-tag", "tag": "Provides", "value": "x", "package": "nope"})


def test_insert_tag_after_last_of_family(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-insert-tag", "tag": "Source9999", "value": "macros.azl"})
    lines = lines_of(out)
    assert lines[lines.index("Source1:        %{name}.conf") + 1] == "Source9999:     macros.azl"


def test_insert_tag_moves_past_endif(widget_spec):
    spec = widget_spec.replace("BuildRequires:  nasm\n%endif\n", "BuildRequires:  nasm\n%endif\n# tail\n")
    out, _ = render(spec, {"type": "spec-insert-tag", "tag": "BuildRequires", "value": "zlib-devel"})
    lines = lines_of(out)
    # The last BuildRequires is inside %ifarch; the new one lands right after its %endif.
    assert lines[lines.index("BuildRequires:  nasm") + 1] == "%endif"
    assert lines[lines.index("BuildRequires:  nasm") + 2] == "BuildRequires:  zlib-devel"


def test_insert_tag_unknown_family_goes_after_last_tag(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-insert-tag", "tag": "Vendor", "value": "X"})
    lines = lines_of(out)
    assert lines[lines.index("Requires(post): /sbin/ldconfig") + 1] == "Vendor:         X"


def test_insert_tag_in_subpackage(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-insert-tag", "tag": "Summary", "value": "S",
                                  "package": "python3-widget"})
    lines = lines_of(out)
    assert lines[lines.index("Summary:        Python bindings for %{name}") + 1] == "Summary:        S"


def test_insert_tag_into_empty_preamble_appends():
    out, _ = render("%package -n x\n%description -n x\nd\n",
                    {"type": "spec-insert-tag", "tag": "Summary", "value": "S", "package": "x"})
    assert out == "%package -n x\nSummary: S\n%description -n x\nd\n"


def test_set_tag_replaces_keeping_alignment(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-set-tag", "tag": "release", "value": "5%{?dist}"})
    assert "Release:        5%{?dist}\n" in out
    assert "4%{?dist}" not in out


def test_set_tag_adds_when_absent(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-set-tag", "tag": "Vendor", "value": "Microsoft"})
    assert "Vendor:         Microsoft\n" in out


def test_set_tag_only_touches_the_named_package(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-set-tag", "tag": "Summary", "value": "Headers",
                                  "package": "devel"})
    assert "Summary:        A small widget toolkit" in out
    assert "Summary:        Headers" in out
    assert "Summary:        Python bindings for %{name}" in out


def test_update_tag_requires_the_tag(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-update-tag", "tag": "Version", "value": "3.3.0"})
    assert "Version:        3.3.0\n" in out
    with pytest.raises(ConfigError, match=r"overlay 0 \(spec-update-tag, \"no description\"\): "
                                          r"tag 'Epoch' not found"):
        render(widget_spec, {"type": "spec-update-tag", "tag": "Epoch", "value": "1"})


def test_update_tag_updates_every_instance_in_package():
    spec = "Name: a\n%if 0%{?rhel}\nVersion: 1\n%else\nVersion: 2\n%endif\n"
    out, _ = render(spec, {"type": "spec-update-tag", "tag": "Version", "value": "3"})
    assert out.count("Version: 3") == 2


def test_remove_tag_by_value_case_insensitive(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-remove-tag", "tag": "buildrequires", "value": "NASM"})
    assert "nasm" not in out
    assert "BuildRequires:  gcc" in out
    assert "%ifarch x86_64\n%endif\n" in out  # tag edits never touch conditionals


def test_remove_tag_without_value_removes_all(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-remove-tag", "tag": "BuildRequires"})
    assert "BuildRequires" not in out


def test_remove_tag_errors(widget_spec):
    with pytest.raises(ConfigError, match=r"tag 'BuildRequires: cmake' not found"):
        render(widget_spec, {"type": "spec-remove-tag", "tag": "BuildRequires", "value": "cmake"})
    with pytest.raises(ConfigError, match=r"tag 'Requires' not found"):
        render(widget_spec, {"type": "spec-remove-tag", "tag": "Requires"})  # main package has none


def test_macros_in_tags_are_kept_verbatim(widget_spec):
    out, _ = render(widget_spec, {"type": "spec-update-tag", "tag": "URL",
                                  "value": "https://mirror.example/%{name}-%{version}"})
    assert "URL:            https://mirror.example/%{name}-%{version}\n" in out


def test_tag_overlays_apply_in_declaration_order(widget_spec):
    out, _ = render(widget_spec,
                    {"type": "spec-set-tag", "tag": "Vendor", "value": "A"},
                    {"type": "spec-update-tag", "tag": "Vendor", "value": "B"},
                    {"type": "spec-remove-tag", "tag": "Vendor", "value": "B"})
    assert "Vendor" not in out
    with pytest.raises(ConfigError, match="overlay 1 "):
        render(widget_spec,
               {"type": "spec-remove-tag", "tag": "Release"},
               {"type": "spec-update-tag", "tag": "Release", "value": "1"})

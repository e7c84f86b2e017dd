"""Pure parts of hermetic.rpm: options file, injection, release, epoch, unknown macros, header."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hermetic.errors import ConfigError
from hermetic.rpm import (OPTIONS_FILE_NAME, apply_release, build_options_macros,
                          changelog_epoch, find_unknown_macros, inject_options, read_rpm_header,
                          reproducibility_fingerprint, source_date_epoch)
from hermetic.rpm.options import injected_line_count, options_source_number

DATA = Path(__file__).parent / "data"
SPEC = (DATA / "greet.spec").read_text()
HAVE_RPMBUILD = shutil.which("rpmbuild") is not None


def test_options_file_covers_every_option() -> None:
    text = build_options_macros({"with": ["tests"], "without": ["docs"],
                                 "defines": {"dist": ".azl4", "vendor": "Me"},
                                 "undefines": ["_hardened_build"], "check": {"skip": True}},
                                release_bump=3)
    assert "%_with_tests --with-tests\n" in text
    assert "%_without_docs --without-docs\n" in text
    assert "%dist .azl4\n" in text and "%vendor Me\n" in text
    assert "%_hermetic_apply_options %{undefine:_hardened_build}\n" in text
    assert "%_hermetic_release_bump 3\n" in text
    assert "exit 0" in text  # check.skip
    assert "exit 0" not in build_options_macros({})


@pytest.mark.parametrize("config, where", [
    ({"defines": {"bad name": "x"}}, "build.defines"),
    ({"defines": {"ok": "two\nlines"}}, "build.defines.ok"),
    ({"with": ["a b"]}, "build.with"),
    ({"undefines": ["%x"]}, "build.undefines"),
])
def test_bad_options_name_the_key(config, where) -> None:
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        build_options_macros(config)


def test_injection_picks_a_free_source_number_and_is_idempotent() -> None:
    injected = inject_options(SPEC)
    assert injected.startswith(f"Source9999: {OPTIONS_FILE_NAME}\n%{{load:%{{SOURCE9999}}}}")
    assert inject_options(injected) == injected
    assert injected_line_count(injected) == 2 and injected_line_count(SPEC) == 0
    crowded = "Source: a\nSource9999: b\nsource10020 : c\n" + SPEC
    assert options_source_number(crowded) == 10021


@pytest.mark.skipif(not HAVE_RPMBUILD, reason="rpmbuild is not installed")
def test_options_reach_rpmbuild_through_the_srpm(tmp_path: Path) -> None:
    spec = ("%bcond_with feature\nName: opt\nVersion: 1\nRelease: %autorelease\nSummary: s\n"
            "License: MIT\n%description\nd\n%build\n"
            "echo \"feature=%{with feature} value=%{value}\" > %{_topdir}/out.txt\n"
            "%check\necho ran > %{_topdir}/check.txt\n%files\n%changelog\n")
    for name in ("SPECS", "SOURCES"):
        (tmp_path / name).mkdir()
    (tmp_path / "SPECS/opt.spec").write_text(inject_options(spec))
    (tmp_path / "SOURCES" / OPTIONS_FILE_NAME).write_text(build_options_macros(
        {"with": ["feature"], "defines": {"value": "42"}, "check": {"skip": True}},
        release_bump=1))
    compat = Path(__file__).parents[2] / "hermetic/rpm/compat.macros"
    proc = subprocess.run(["rpmbuild", "-bb", "--nodeps", "--load", str(compat),
                           "--define", f"_topdir {tmp_path}", str(tmp_path / "SPECS/opt.spec")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.txt").read_text() == "feature=1 value=42\n"
    assert not (tmp_path / "check.txt").exists()
    assert [p.name.rsplit(".", 2)[0] for p in (tmp_path / "RPMS").glob("*/*.rpm")] == ["opt-1-2"]


@pytest.mark.parametrize("calculation, release, bump, expected, mode", [
    ("manual", "7%{?dist}", 3, "7%{?dist}", "manual"),
    ("auto", "7%{?dist}", 2, "9%{?dist}", "static"),
    ("static", "7%{?dist}", 0, "7%{?dist}", "static"),
    ("auto", "%autorelease", 2, "%autorelease", "autorelease"),
    ("autorelease", "%{autorelease -b 3}", 1, "%{autorelease -b 3}", "autorelease"),
])
def test_release_calculation(calculation, release, bump, expected, mode) -> None:
    spec = f"Name: x\nRelease: {release}\n"
    decision = apply_release(spec, calculation, bump)
    assert decision.spec_text == f"Name: x\nRelease: {expected}\n"
    assert decision.mode == mode
    assert decision.autorelease_bump == (bump if mode == "autorelease" else 0)


@pytest.mark.parametrize("calculation, release, message", [
    ("static", "%autorelease", "but Release uses %autorelease"),
    ("autorelease", "3", "but Release is"),
    ("sometimes", "3", "not one of"),
    ("auto", "alpha1", "does not start with a number"),
])
def test_release_calculation_errors(calculation, release, message) -> None:
    with pytest.raises(ConfigError, match=message):
        apply_release(f"Release: {release}\n", calculation, bump=1, where="c.comp.toml")


def test_source_date_epoch_sources() -> None:
    assert changelog_epoch(SPEC) == 1709596800  # Tue Mar 05 2024 00:00 UTC, the newest entry
    assert source_date_epoch(SPEC) == 1709596800
    assert source_date_epoch(SPEC, override=1234) == 1234
    with pytest.raises(ConfigError, match="positive"):
        source_date_epoch(SPEC, override=0)


def test_source_date_epoch_falls_back_to_sources_and_is_never_zero(tmp_path: Path) -> None:
    source = tmp_path / "a.c"
    source.write_text("int x;\n")
    import os
    os.utime(source, (1_600_000_000, 1_600_000_000))
    no_changelog = "Name: x\n%changelog\n%autochangelog\n"
    assert source_date_epoch(no_changelog, [source]) == 1_600_000_000
    os.utime(source, (0, 0))
    assert source_date_epoch(no_changelog, [source]) == 1


def test_unknown_macros_are_named_with_their_line() -> None:
    raw = inject_options("Name: x\nSummary: a %{mystery}\n%build\nprintf '%s %lu' a 1\n"
                         "date +%Y\n%py3_build\necho 100%% %%done\n%changelog\n- %oops\n")
    parsed = ("Name: x\nSummary: a %{mystery}\n%build\nprintf '%s %lu' a 1\ndate +%Y\n"
              "%py3_build\necho 100% %done\n%changelog\n- %oops\n")
    found = find_unknown_macros(raw, parsed, injected_line_count(raw))
    assert [(u.name, u.line_number) for u in found] == [("mystery", 2), ("py3_build", 6)]
    assert found[0].describe("x.spec") == "x.spec:2: unknown macro %mystery: Summary: a %{mystery}"


def test_fingerprint_follows_the_pinned_cpu_count() -> None:
    assert reproducibility_fingerprint(2) == reproducibility_fingerprint(2)
    assert reproducibility_fingerprint(2) != reproducibility_fingerprint(4)


@pytest.mark.skipif(not HAVE_RPMBUILD, reason="rpmbuild is not installed")
def test_read_rpm_header(tmp_path: Path) -> None:
    spec = tmp_path / "h.spec"
    spec.write_text("Name: h\nVersion: 2.0\nRelease: 3\nEpoch: 1\nSummary: s\nLicense: MIT\n"
                    "BuildArch: noarch\nProvides: virtual-h = 5\nRequires: bash\n"
                    "%description\nd\n%files\n%changelog\n")
    subprocess.run(["rpmbuild", "-bb", "--nodeps", "--define", f"_topdir {tmp_path}", str(spec)],
                   check=True, capture_output=True)
    rpm = next((tmp_path / "RPMS").glob("noarch/*.rpm"))
    header = read_rpm_header(rpm)
    assert header["nevra"] == "h-1:2.0-3.noarch"
    assert (header["epoch"], header["arch"]) == (1, "noarch")
    assert {"name": "virtual-h", "flags": "=", "version": "5"} in header["provides"]
    assert "bash" in [dep["name"] for dep in header["requires"]]
    assert header["sourcerpm"].startswith("h-2.0-3")


def test_rootless_builds_refuse_a_tree_another_user_owns(tmp_path: Path) -> None:
    from hermetic.buildroot import Buildroot
    from hermetic.errors import SandboxError
    from hermetic.rpm.driver import check_tree_owner

    tree = tmp_path / "tree"
    tree.mkdir()
    owner = tree.stat().st_uid
    stored = Buildroot("team", "ab" * 32, tree, "image")
    check_tree_owner(stored, euid=owner)  # one's own tree
    check_tree_owner(stored, euid=0)      # root maps every uid
    check_tree_owner(Buildroot("host", "cd" * 32, None, "host"), euid=owner + 1)
    with pytest.raises(SandboxError) as refused:
        check_tree_owner(stored, euid=owner + 1)
    assert f"belongs to uid {owner}" in str(refused.value) and str(tree) in str(refused.value)
    assert "--store" in refused.value.hint
    check_tree_owner(stored)  # the real euid: root, or the tree's owner, running the suite

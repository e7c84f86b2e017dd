"""End to end: real rpmbuild in the sandbox on a created buildroot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hermetic.buildroot import Buildroot
from hermetic.rpm import (OPTIONS_FILE_NAME, build_in_sandbox, build_options_macros,
                          inject_options, read_rpm_header, shipped_macros, source_date_epoch)

pytestmark = pytest.mark.slow
DATA = Path(__file__).parent / "data"
GREET_SOURCES = ("greet.c", "greet.h", "greet.3")


def lay_out(workdir: Path, spec_text: str, spec_name: str, sources: dict[str, bytes],
            options: dict | None = None) -> None:
    (workdir / "SPECS").mkdir(parents=True)
    (workdir / "SOURCES").mkdir()
    for name, data in sources.items():
        (workdir / "SOURCES" / name).write_bytes(data)
    (workdir / "SOURCES" / OPTIONS_FILE_NAME).write_text(build_options_macros(options or {}))
    (workdir / "SPECS" / spec_name).write_text(inject_options(spec_text))


def build_greet(workdir: Path, buildroot: Buildroot, macros=None):
    spec = (DATA / "greet.spec").read_text()
    lay_out(workdir, spec, "greet.spec", {n: (DATA / n).read_bytes() for n in GREET_SOURCES})
    return build_in_sandbox(workdir, "greet.spec", buildroot, [],
                            source_date_epoch=source_date_epoch(spec),
                            log_path=workdir / "build.log", macros=macros)


def outputs(result) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in [result.srpm, *result.rpms]}


# Runs a build in a separate process with another cwd, umask, TZ, locale and environment.
_OTHER_PROCESS = """
import json, os, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
os.umask(0o077)
from test_build_sandbox import build_greet
from hermetic.buildroot import Buildroot
br = Buildroot(**json.loads({buildroot!r}))
br = Buildroot(br.name, br.digest, Path(br.path), br.kind, br.impure)
result = build_greet(Path({workdir!r}), br)
print(json.dumps({{"ok": result.ok, "error": result.error}}))
"""


def test_greet_builds_with_compat_macros(tmp_path: Path, rpm_buildroot: Buildroot) -> None:
    result = build_greet(tmp_path / "w", rpm_buildroot)
    assert result.ok, f"{result.error}\n{result.log_path.read_text()[-3000:]}"
    assert result.srpm.name == "greet-1.2-1.src.rpm"  # %autorelease -> 1
    names = sorted(path.name for path in result.rpms)
    assert names == ["greet-1.2-1.x86_64.rpm", "greet-devel-1.2-1.x86_64.rpm"]
    main, devel = sorted(result.rpms)
    header = read_rpm_header(main)
    assert header["buildhost"] == "hermetic" and header["buildtime"] == 1709596800
    assert "libgreet.so.1()(64bit)" in [p["name"] for p in header["provides"]]
    scripts = subprocess.run(["rpm", "-qp", "--scripts", str(main)], capture_output=True,
                             text=True).stdout
    assert "postinstall program: /sbin/ldconfig" in scripts  # %ldconfig_scriptlets
    files = subprocess.run(["rpm", "-qlp", str(devel)], capture_output=True, text=True).stdout
    assert "/usr/share/man/man3/greet.3.gz" in files.split()  # brp-compress through bash
    sources = subprocess.run(["rpm", "-qlp", str(result.srpm)], capture_output=True,
                             text=True).stdout.split()
    assert OPTIONS_FILE_NAME in sources and "greet.spec" in sources


def test_rebuild_elsewhere_is_byte_identical(tmp_path: Path, rpm_buildroot: Buildroot) -> None:
    first = build_greet(tmp_path / "a", rpm_buildroot)
    assert first.ok, first.error
    other = tmp_path / "some" / "other" / "checkout"
    env = {key: value for key, value in os.environ.items() if not key.startswith("LC_")}
    env.update(TZ="Pacific/Auckland", LANG="de_DE.UTF-8", HERMETIC_TEST_NOISE="1",
               HOME=str(tmp_path))
    script = _OTHER_PROCESS.format(
        tests=str(Path(__file__).parent), workdir=str(other),
        buildroot=json.dumps({**rpm_buildroot.__dict__, "path": str(rpm_buildroot.path)}))
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["ok"]
    second_files = {p.name: p.read_bytes() for p in
                    [*(other / "SRPMS").glob("*.rpm"), *(other / "RPMS").glob("*/*.rpm")]}
    assert second_files == outputs(first)


def test_dropping_one_setting_brings_differences_back(tmp_path: Path,
                                                      rpm_buildroot: Buildroot) -> None:
    """Proves the identity test above can fail: without the buildtime pin, two builds differ."""
    texts = shipped_macros()
    texts["reproducible.macros"] = texts["reproducible.macros"].replace(
        "%use_source_date_epoch_as_buildtime 1", "%use_source_date_epoch_as_buildtime 0")
    first = build_greet(tmp_path / "a", rpm_buildroot, macros=texts)
    time.sleep(1.1)  # BUILDTIME has one-second resolution
    second = build_greet(tmp_path / "b", rpm_buildroot, macros=texts)
    assert first.ok and second.ok
    assert outputs(first) != outputs(second)


def test_unknown_macro_fails_with_the_spec_line(tmp_path: Path,
                                                rpm_buildroot: Buildroot) -> None:
    spec = (DATA / "greet.spec").read_text().replace(
        "%build\n", "%build\n%{?bogus_optional}\n%py3_fancy_build\n", 1)
    line = spec.splitlines().index("%py3_fancy_build") + 1
    workdir = tmp_path / "w"
    lay_out(workdir, spec, "greet.spec", {n: (DATA / n).read_bytes() for n in GREET_SOURCES})
    result = build_in_sandbox(workdir, "greet.spec", rpm_buildroot, [],
                              source_date_epoch=source_date_epoch(spec),
                              log_path=tmp_path / "log")
    assert not result.ok
    assert result.error.startswith(f"greet.spec:{line}: unknown macro %py3_fancy_build")
    assert "unknown macro %py3_fancy_build" in result.log_path.read_text()


HELLO_SPEC = """\
Name: hello
Version: 1.0
Release: 1%{?dist}
Summary: Links against libgreet
License: MIT
Source0: hello.c
BuildRequires: greet-devel

%description
Says hello through libgreet.

%prep
%setup -q -c -T
cp %{SOURCE0} .

%build
gcc %{optflags} -o hello hello.c -lgreet
%if %{with extra}
echo extra > extra.txt
%endif

%install
install -D -m 0755 hello %{buildroot}%{_bindir}/hello

%check
# Debian's ld.so does not search %{_libdir} (/usr/lib64).
LD_LIBRARY_PATH=%{_libdir} ./hello tests

%files
%{_bindir}/hello

%changelog
* Wed Mar 06 2024 Hermetic Tests <tests@hermetic.invalid> - 1.0-1
- First
"""


def test_dependency_rpms_are_installed_before_the_build(tmp_path: Path,
                                                        rpm_buildroot: Buildroot) -> None:
    greet = build_greet(tmp_path / "greet", rpm_buildroot)
    assert greet.ok, greet.error
    workdir = tmp_path / "hello"
    hello_c = b'#include <greet.h>\nint main(int c, char **v) { greet(v[1]); return 0; }\n'
    lay_out(workdir, HELLO_SPEC, "hello.spec", {"hello.c": hello_c},
            options={"defines": {"dist": ".hm1"}, "with": ["extra"]})
    result = build_in_sandbox(workdir, "hello.spec", rpm_buildroot, greet.rpms,
                              source_date_epoch=source_date_epoch(HELLO_SPEC),
                              log_path=tmp_path / "hello.log")
    assert result.ok, f"{result.error}\n{result.log_path.read_text()[-3000:]}"
    assert [p.name for p in result.rpms] == ["hello-1.0-1.hm1.x86_64.rpm"]
    assert "hello, tests" in result.log_path.read_text()  # %check ran the linked program
    requires = [d["name"] for d in read_rpm_header(result.rpms[0])["requires"]]
    assert "libgreet.so.1()(64bit)" in requires
    # The buildroot itself was not touched by the dependency install.
    assert not list(Path(rpm_buildroot.path, "usr/include").glob("greet.h"))


def test_failed_compile_reports_the_log_tail(tmp_path: Path, rpm_buildroot: Buildroot) -> None:
    workdir = tmp_path / "hello"
    lay_out(workdir, HELLO_SPEC, "hello.spec", {"hello.c": b"int main( { broken\n"})
    result = build_in_sandbox(workdir, "hello.spec", rpm_buildroot, [],
                              source_date_epoch=1, log_path=tmp_path / "fail.log")
    assert not result.ok and result.rpms == []
    assert "failed (exit 1)" in result.error
    assert "error" in result.log_path.read_text()

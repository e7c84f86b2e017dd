"""The sandbox's features: overlay root, binds, environment, logs, errors, rpm -i into it."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from hermetic.errors import SandboxError
from hermetic.sandbox import Bind, SandboxSpec, run
from hermetic.sandbox.mounts import overlay_workdir
from tests.sandbox.conftest import needs_sandbox

pytestmark = needs_sandbox


def _output(spec: SandboxSpec) -> tuple[object, str]:
    output = bytearray()
    result = run(spec, on_output=output.extend)
    return result, output.decode()


def test_deterministic_environment() -> None:
    script = "hostname; domainname; umask; echo $TZ $LC_ALL $HOME $PATH $RPM_BUILD_NCPUS; id -u"
    result, text = _output(SandboxSpec(argv=["sh", "-c", script], cpu_count=7,
                                       env={"EXTRA": "1"}))
    assert result.ok
    lines = text.splitlines()
    assert lines[:3] == ["hermetic", "hermetic", "0022"]
    assert lines[3] == "UTC C.UTF-8 /tmp /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin 7"
    assert lines[4] == "0"


def test_exit_status_and_log_file(tmp_path) -> None:
    log = tmp_path / "logs" / "build.log"
    result, text = _output(SandboxSpec(argv=["sh", "-c", "echo out; echo err >&2; exit 3"],
                                       log_path=str(log)))
    assert result.exit_code == 3 and not result.ok
    assert sorted(log.read_text().split()) == ["err", "out"] and "out" in text


def test_writable_bind_and_overlay_upper(tmp_path) -> None:
    lower = tmp_path / "lower"
    for name in ("usr", "etc", "proc", "dev", "tmp", "builddir"):
        (lower / name).mkdir(parents=True)
    for name in ("usr", "etc"):
        shutil.rmtree(lower / name)
    upper = tmp_path / "upper"
    upper.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    binds = [Bind(p, p, readonly=True) for p in ("/usr", "/etc")]
    binds += [Bind(p, p, readonly=True) for p in ("/bin", "/lib", "/lib64", "/sbin")
              if os.path.isdir(p) and not os.path.islink(p)]
    links = {p: os.readlink(p) for p in ("/bin", "/lib", "/lib64", "/sbin") if os.path.islink(p)}
    for path, dest in links.items():
        os.symlink(dest, lower / path.lstrip("/"))
    script = "echo data > /builddir/new && echo r > /out/result && cat /builddir/new"
    result, text = _output(SandboxSpec(argv=["sh", "-c", script], root=str(lower),
                                       overlay_upper=str(upper), binds=binds +
                                       [Bind(str(out), "/out", readonly=False)]))
    assert result.ok, text
    assert (upper / "builddir" / "new").read_text() == "data\n"
    assert not (lower / "builddir" / "new").exists()
    assert (out / "result").read_text() == "r\n"
    assert os.path.isdir(overlay_workdir(str(upper)))


def test_missing_command_is_one_clear_error() -> None:
    with pytest.raises(SandboxError, match="cannot run 'no-such-command'"):
        run(SandboxSpec(argv=["no-such-command"]))


def test_missing_bind_source_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(SandboxError, match="does not exist"):
        run(SandboxSpec(argv=["true"], binds=[Bind(str(tmp_path / "nope"), "/x")]))


@pytest.mark.skipif(shutil.which("rpmbuild") is None, reason="rpmbuild is missing")
def test_rpm_install_into_overlay_root(tmp_path) -> None:
    """rpm -i --nodeps of a dependency RPM lands in the overlay upper, as uid 0 inside."""
    top = tmp_path / "rpmbuild"
    spec = tmp_path / "dep.spec"
    spec.write_text("Name: dep\nVersion: 1\nRelease: 1\nSummary: s\nLicense: MIT\n"
                    "BuildArch: noarch\n%description\nd\n%install\nmkdir -p %{buildroot}/opt/dep\n"
                    "echo hi > %{buildroot}/opt/dep/file\n%files\n/opt/dep\n")
    subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}", str(spec)], check=True,
                   capture_output=True)
    rpm = next(top.glob("RPMS/noarch/*.rpm"))
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    for name in ("proc", "dev", "tmp", "opt", "var/lib/rpm", "pkgs"):
        (lower / name).mkdir(parents=True)
    upper.mkdir()
    binds = [Bind(p, p) for p in ("/usr", "/etc") ] + [Bind(str(rpm.parent), "/pkgs")]
    links = {p: os.readlink(p) for p in ("/bin", "/lib", "/lib64", "/sbin") if os.path.islink(p)}
    for path, dest in links.items():
        os.symlink(dest, lower / path.lstrip("/"))
    result, text = _output(SandboxSpec(
        argv=["rpm", "-i", "--nodeps", "--dbpath", "/var/lib/rpm", f"/pkgs/{rpm.name}"],
        root=str(lower), overlay_upper=str(upper), binds=binds))
    assert result.ok, text
    assert (upper / "opt" / "dep" / "file").read_text() == "hi\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="overlaying root-owned host dirs needs root")
def test_host_dirs_as_overlay_lowers_take_writes_and_leave_the_host_alone(tmp_path) -> None:
    upper = tmp_path / "upper"
    marker = "/usr/share/hermetic-overlay-test"
    script = (f"mkdir -p {marker} && echo hi > {marker}/file && cat {marker}/file && "
              "mkdir -p /var/lib/rpm && echo ok")
    result, text = _output(SandboxSpec(argv=["sh", "-c", script], overlay_upper=str(upper)))
    assert result.ok, text
    assert text.split() == ["hi", "ok"]
    assert not os.path.exists(marker)  # the host's /usr is untouched
    assert (upper / "usr/share/hermetic-overlay-test/file").read_text() == "hi\n"
    # Without an upper, the same write fails: the host dirs are read-only binds.
    result, text = _output(SandboxSpec(argv=["sh", "-c", f"mkdir {marker}"]))
    assert not result.ok and "Read-only file system" in text

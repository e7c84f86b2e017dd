"""`hermetic build` end to end: real rpmbuild in the sandbox, the real store, the real CLI."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.build.conftest import Hermetic, copy_workspace, seed_store

pytestmark = pytest.mark.slow


def rpm_digests(summary: dict) -> dict[str, str]:
    digests = {}
    for component in summary["components"]:
        for output in component["outputs"]:
            digests[Path(output).name] = hashlib.sha256(Path(output).read_bytes()).hexdigest()
    return digests


def entry_count(store: Path) -> int:
    actions = store / "actions"
    return sum(1 for bucket in actions.iterdir() for _ in bucket.iterdir()) if actions.exists() else 0


def test_builds_library_then_program_linked_against_it_then_hits_the_cache(workspace, hermetic):
    first = hermetic.build_json(workspace)
    assert first["statuses"] == {"libgreet": "built", "greeter": "built"}
    outputs = {Path(p).name for c in first["components"] for p in c["outputs"]}
    assert outputs == {"libgreet-1.0-1.x86_64.rpm", "libgreet-devel-1.0-1.x86_64.rpm",
                       "libgreet-1.0-1.src.rpm", "greeter-1.0-1.x86_64.rpm",
                       "greeter-1.0-1.src.rpm"}
    greeter = workspace / "out/greeter/greeter-1.0-1.x86_64.rpm"
    requires = subprocess.run(["rpm", "-qp", "--requires", str(greeter)], capture_output=True,
                              text=True, check=True).stdout
    assert "libgreet.so.1()(64bit)" in requires  # really linked against the library component
    info = subprocess.run(["rpm", "-qp", "--qf", "%{SUMMARY}|%{BUILDHOST}", str(greeter)],
                          capture_output=True, text=True, check=True).stdout
    assert info == "A program that prints greetings (built by hermetic)|hermetic"  # the overlay
    docs = subprocess.run(["rpm", "-qlp", str(workspace / "out/libgreet/libgreet-1.0-1.x86_64.rpm")],
                          capture_output=True, text=True, check=True).stdout
    assert "/usr/share/doc/libgreet/README" in docs  # build.with = ["docs"] reached the build

    entries = entry_count(hermetic.store)
    repo = workspace / "repo"
    second = hermetic.build_json(workspace, "--repo", str(repo))
    assert second["statuses"] == {"libgreet": "cached", "greeter": "cached"}
    assert entry_count(hermetic.store) == entries
    primary = next((repo / "repodata").glob("*primary.xml*"))
    listed = subprocess.run(["zcat", "-f", str(primary)], capture_output=True, text=True).stdout
    assert "<name>greeter</name>" in listed and "<name>libgreet-devel</name>" in listed
    assert "building" not in hermetic.run("build", str(workspace), "--json").stdout
    shown = hermetic.run("show", str(workspace), "--json").stdout
    assert '"plan": "cached"' in shown and '"plan": "build"' not in shown


def test_rebuild_elsewhere_with_another_environment_is_byte_identical(tmp_path, workspace,
                                                                       hermetic, rpm_buildroot):
    first_summary = hermetic.build_json(workspace)
    first = rpm_digests(first_summary)
    other_ws = copy_workspace(tmp_path / "elsewhere" / "deeper" / "checkout")
    other = Hermetic(seed_store(tmp_path / "other-store", rpm_buildroot))
    env = {"TZ": "Pacific/Kiritimati", "LANG": "de_DE.UTF-8", "LC_ALL": "de_DE.UTF-8",
           "HOME": str(tmp_path), "SOURCE_DATE_EPOCH": "12345", "MAKEFLAGS": "-j7",
           "RPM_BUILD_NCPUS": "5"}
    code = ("import os, sys, runpy; os.umask(0o077); sys.argv = sys.argv[1:];"
            "runpy.run_module('hermetic', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code, "hermetic", "--store", str(other.store),
                             "build", str(other_ws), "--json"], env={**os.environ, **env},
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    other_summary = json.loads(result.stdout.splitlines()[-1])
    keys = {c["name"]: c["key"] for c in first_summary["components"]}
    assert {c["name"]: c["key"] for c in other_summary["components"]} == keys
    second = {}
    for name in first:
        path = next(other_ws.glob(f"out/*/{name}"))
        second[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    assert second == first


def test_changes_rebuild_exactly_what_they_affect(workspace, hermetic):
    base = hermetic.build_json(workspace)
    assert base["statuses"] == {"libgreet": "built", "greeter": "built"}

    # Only the program changes: only the program rebuilds.
    greeter_toml = workspace / "components/greeter/greeter.comp.toml"
    greeter_toml.write_text(greeter_toml.read_text().replace("(built by hermetic)",
                                                             "(rebuilt by hermetic)"))
    assert hermetic.build_json(workspace)["statuses"] == {"libgreet": "cached",
                                                          "greeter": "built"}

    # A library change that leaves its RPMs byte-identical keeps the program cached (early
    # cutoff): release.calculation "static" with nothing to bump changes the key, not the RPMs.
    lib_toml = workspace / "components/libgreet/libgreet.comp.toml"
    lib_toml.write_text(lib_toml.read_text() + '\n[components.libgreet.release]\n'
                        'calculation = "static"\n')
    cutoff = hermetic.build_json(workspace)
    assert cutoff["statuses"] == {"libgreet": "built", "greeter": "cached"}

    # A library change that changes its RPMs rebuilds both.
    lib_toml.write_text(lib_toml.read_text().replace('with = ["docs"]', "with = []"))
    assert hermetic.build_json(workspace)["statuses"] == {"libgreet": "built",
                                                          "greeter": "built"}
    explained = hermetic.run("explain", str(workspace)).stdout
    assert "libgreet: cached" in explained and "greeter: cached" in explained


def test_compile_error_fails_cleanly_and_caches_nothing(workspace, hermetic):
    greeter_toml = workspace / "components/greeter/greeter.comp.toml"
    greeter_toml.write_text(greeter_toml.read_text() + """
[[components.greeter.overlays]]
description = "break the build"
type = "spec-prepend-lines"
section = "%build"
lines = ["echo 'int main( {' > broken.c", "gcc -c broken.c"]
""")
    summary = hermetic.build_json(workspace, check=False)
    assert summary["returncode"] == 5
    assert summary["statuses"] == {"libgreet": "built", "greeter": "failed"}
    assert "hermetic: error: greeter: rpmbuild of greeter.spec failed" in summary["stderr"]
    assert "broken.c" in summary["stderr"]  # the log's tail is shown
    log = hermetic.store / "failed/greeter/build.log"
    assert f"hermetic: log: {log}" in summary["stderr"]
    assert entry_count(hermetic.store) == 1  # libgreet only: failures are never results
    again = hermetic.build_json(workspace, check=False)
    assert again["statuses"] == {"libgreet": "cached", "greeter": "failed"}
    assert "broken.c" in hermetic.run("log", "greeter", str(workspace)).stdout


def test_concurrent_builds_of_one_workspace_build_each_key_once(workspace, hermetic):
    command = [sys.executable, "-m", "hermetic", "--store", str(hermetic.store), "build",
               str(workspace), "--json"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [first.communicate(timeout=600), second.communicate(timeout=600)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    built = [line for out, _ in outputs for line in out.splitlines()
             if '"event": "component"' in line and '"state": "built"' in line]
    assert sorted('"libgreet"' in line for line in built) == [False, True]  # once each
    assert entry_count(hermetic.store) == 2


def _verify_store_is_clean(hermetic: Hermetic) -> None:
    result = hermetic.run("store", "verify", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("delay", [0.5, 2.0, 3.5])
def test_kill_9_mid_build_leaves_no_visible_entry(workspace, hermetic, delay):
    command = [sys.executable, "-m", "hermetic", "--store", str(hermetic.store), "build",
               str(workspace), "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, start_new_session=True)
    time.sleep(delay)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    # Whatever moment the kill hit, every visible entry is complete and the store verifies.
    _verify_store_is_clean(hermetic)
    summary = hermetic.build_json(workspace)
    assert set(summary["statuses"].values()) <= {"built", "cached"}
    _verify_store_is_clean(hermetic)


def test_unchanged_workspace_takes_the_fast_path_until_an_input_changes(workspace, hermetic):
    from tests.workspaces import age

    assert hermetic.build_json(workspace)["statuses"] == {"libgreet": "built", "greeter": "built"}
    age(workspace)
    hermetic.build_json(workspace)  # full pipeline, all cached: records the keys
    fast = hermetic.run("build", str(workspace), "--json").stdout
    assert fast.count("no input changed since the last build") == 2
    assert (workspace / "out/greeter/greeter-1.0-1.x86_64.rpm").exists()

    spec = workspace / "components/greeter/greeter.spec"
    spec.write_text(spec.read_text().replace("prints a greeting", "prints a greeting!"))
    changed = hermetic.build_json(workspace)
    assert changed["statuses"] == {"libgreet": "cached", "greeter": "built"}
    assert "no input changed" not in hermetic.run("build", str(workspace), "--json").stdout


def test_image_buildroot_is_imported_once_then_reused(tmp_path, workspace, rpm_buildroot):
    project = workspace / "hermetic.toml"
    text = project.read_text()
    start, end = text.index("[buildroot]"), text.index("\n[default-component-config")
    project.write_text(text[:start] + '[buildroot]\ntype = "image"\nname = "imported"\n'
                       f'path = "{rpm_buildroot.path}"\n' + text[end:])
    hermetic = Hermetic(tmp_path / "fresh-store")  # no buildroot seeded: the build imports it
    first = hermetic.build_json(workspace)
    assert first["statuses"] == {"libgreet": "built", "greeter": "built"}
    names = tmp_path / "fresh-store/buildroots/names/imported"
    assert names.read_text().strip() == rpm_buildroot.digest  # same tree, same digest
    assert hermetic.build_json(workspace)["statuses"] == {"libgreet": "cached",
                                                          "greeter": "cached"}


def test_show_plans_pull_when_a_trusted_cache_has_the_result(tmp_path, workspace, hermetic,
                                                             rpm_buildroot):
    hermetic.build_json(workspace)
    public = (hermetic.store / "keys/local.public").read_text().strip()
    other = Hermetic(seed_store(tmp_path / "other-store", rpm_buildroot))
    cache = f"file://{hermetic.store}"
    shown = json.loads(other.run("show", str(workspace), "--json", "--substituter", cache,
                                 "--trusted-key", public).stdout)
    assert {item["name"]: item["plan"] for item in shown} == {"libgreet": "pull",
                                                              "greeter": "pull"}
    untrusted = json.loads(other.run("show", str(workspace), "--json", "--substituter",
                                     cache).stdout)
    assert {item["plan"] for item in untrusted} == {"build"}


def test_pinned_buildroot_is_pulled_from_the_team_cache(tmp_path, workspace, rpm_buildroot):
    """A team shares one buildroot digest: a store without it pulls the tree from the cache."""
    from hermetic.remote import open_remote, push_buildroot

    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    source = seed_store(tmp_path / "source-store", rpm_buildroot)
    push_buildroot(source, rpm_buildroot.digest, [open_remote(f"file://{cache_dir}")],
                   name="test-rpm")
    project = workspace / "hermetic.toml"
    project.write_text(project.read_text().replace(
        'debian-suite = "bookworm"', f'debian-suite = "bookworm"\ndigest = "{rpm_buildroot.digest}"'))

    empty = Hermetic(tmp_path / "empty-store")
    refused = empty.run("show", str(workspace), "--json")
    assert '"key": null' in refused.stdout  # show never creates or pulls a buildroot
    summary = empty.build_json(workspace, "--substituter", f"file://{cache_dir}",
                               "--no-build", check=False)
    pulled = tmp_path / "empty-store/buildroots" / rpm_buildroot.digest
    assert pulled.is_dir()
    assert summary["statuses"]["libgreet"] == "failed"  # --no-build, and no results cached

    wrong = workspace / "hermetic.toml"
    wrong.write_text(wrong.read_text().replace(rpm_buildroot.digest, "0" * 64))
    mismatch = Hermetic(seed_store(tmp_path / "seeded", rpm_buildroot)).run(
        "build", str(workspace), check=False)
    assert mismatch.returncode == 2
    assert "buildroot.digest pins 0000000000000000…" in mismatch.stderr


def test_example_workspace_builds_on_the_host_buildroot(tmp_path, workspace):
    if os.geteuid() != 0:
        pytest.skip("host directories owned by root can only be overlaid by root")
    project = workspace / "hermetic.toml"
    text = project.read_text()
    start, end = text.index("[buildroot]"), text.index("\n[default-component-config")
    project.write_text(text[:start] + '[buildroot]\ntype = "host"\n' + text[end:])
    hermetic = Hermetic(tmp_path / "host-store")
    summary = hermetic.build_json(workspace)
    assert summary["statuses"] == {"libgreet": "built", "greeter": "built"}
    entries = list((tmp_path / "host-store/actions").rglob("*"))
    assert entries
    greeter = workspace / "out/greeter/greeter-1.0-1.x86_64.rpm"
    requires = subprocess.run(["rpm", "-qp", "--requires", str(greeter)], capture_output=True,
                              text=True, check=True).stdout
    assert "libgreet.so.1()(64bit)" in requires
    assert not os.path.exists("/usr/include/greet.h")  # the host was never written

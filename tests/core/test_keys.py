import os
import subprocess
import sys

import pytest

from hermetic.canonical import NonCanonicalValue, canonical
from hermetic.keys import DependencyOutputs, component_manifest, compute_key, diff_manifests


def manifest(**overrides):
    args = dict(
        name="libgreet",
        model={"build": {"with": ["docs"], "check": {"skip": False}}},
        spec_name="libgreet.spec",
        spec_digest="a" * 64,
        files={"libgreet-1.0.tar.gz": "b" * 64},
        buildroot="c" * 64,
        sandbox_profile="seccomp-1",
        arch="x86_64",
        toolchain={"source_date_epoch": 1700000000},
        dependencies=[],
    )
    args.update(overrides)
    return component_manifest(**args)


def test_key_ignores_dict_order():
    a = manifest(files={"x": "1" * 64, "y": "2" * 64})
    b = manifest(files={"y": "2" * 64, "x": "1" * 64})
    assert compute_key(a) == compute_key(b)


@pytest.mark.parametrize("override", [
    {"spec_digest": "d" * 64},
    {"files": {"libgreet-1.0.tar.gz": "e" * 64}},
    {"buildroot": "f" * 64},
    {"sandbox_profile": "seccomp-2"},
    {"arch": "aarch64"},
    {"toolchain": {"source_date_epoch": 1700000001}},
    {"model": {"build": {"with": [], "check": {"skip": False}}}},
    {"dependencies": [DependencyOutputs("dep", (("dep-1.rpm", "0" * 64),))]},
])
def test_every_input_changes_the_key(override):
    assert compute_key(manifest(**override)) != compute_key(manifest())


def test_key_is_stable_across_processes_and_hash_seeds():
    code = ("from tests.core.test_keys import manifest; from hermetic.keys import compute_key;"
            "print(compute_key(manifest()))")
    keys = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
        keys.add(out.stdout.strip())
    assert keys == {compute_key(manifest())}


def test_floats_are_refused():
    with pytest.raises(NonCanonicalValue, match="floats"):
        canonical({"a": 1.5})


def test_diff_names_each_changed_input():
    old = manifest()
    new = manifest(files={"libgreet-1.0.tar.gz": "e" * 64, "new.patch": "9" * 64},
                   toolchain={"source_date_epoch": 1700000001})
    lines = diff_manifests(old, new)
    assert "files.libgreet-1.0.tar.gz: bbbbbbbbbbbb -> eeeeeeeeeeee" in lines
    assert "files.new.patch: added (999999999999)" in lines
    assert "toolchain.source_date_epoch: 1700000000 -> 1700000001" in lines
    assert len(lines) == 3
    assert diff_manifests(old, old) == []

"""Overlays inside source archives: strip the top dir, edit, repack deterministically, verify."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from hermetic.errors import ConfigError
from hermetic.render.archive import ArchiveError, compress, repack, unpack
from hermetic.render.filetree import MemoryTree
from hermetic.render.overlays import DeclaredSource

from .conftest import render

SPEC = "Name: pkg\nSource0: pkg-1.0.tar.gz\n"
KINDS = ["gz", "xz", "bz2", "tar"] + (["zst"] if shutil.which("zstd") else [])
SUFFIX = {"gz": ".tar.gz", "xz": ".tar.xz", "bz2": ".tar.bz2", "tar": ".tar", "zst": ".tar.zst"}


def make_archive(kind: str, extra_member=None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:", format=tarfile.PAX_FORMAT) as out:
        def add(name, data=None, mode=0o644, kind=tarfile.REGTYPE, link=""):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime, info.uid, info.uname = kind, mode, 1700000000, 1000, "dev"
            info.linkname = link
            if data is not None:
                info.size = len(data)
            out.addfile(info, io.BytesIO(data) if data is not None else None)
        add("pkg-1.0", kind=tarfile.DIRTYPE, mode=0o755)
        add("pkg-1.0/configure", b"#!/bin/sh\necho configure\n", mode=0o755)
        add("pkg-1.0/src/main.c", b'int main(void) { return 1; }\n')
        add("pkg-1.0/tests/net.test", b"needs network\n")
        add("pkg-1.0/COPYING.link", kind=tarfile.SYMTYPE, link="COPYING")
        if extra_member:
            add(*extra_member[0], **extra_member[1])
    return compress(kind, buffer.getvalue())


def overlays(archive):
    return ({"type": "file-search-replace", "archive": archive, "file": "src/*.c",
             "regex": "return 1", "replacement": "return 0", "description": "fix exit code"},
            {"type": "file-remove", "archive": archive, "file": "tests/net.test"},
            {"type": "file-prepend-lines", "archive": archive, "file": "configure", "lines": ["#!/bin/sh -e"]})


def apply(kind: str, declared=None):
    name = "pkg-1.0" + SUFFIX[kind]
    tree = MemoryTree()
    tree.add_file(name, make_archive(kind))
    if declared is None:  # first pass: learn the hash, then declare it
        try:
            render(SPEC, *overlays(name), tree=tree, declared={})
        except ConfigError as error:
            sha512 = error.hint.split('hash = "')[1].split('"')[0]
            return apply(kind, {name: DeclaredSource(name, "SHA512", sha512, "overlay")})
        raise AssertionError("an undeclared edited archive must be an error")
    render(SPEC, *overlays(name), tree=tree, declared=declared)
    return name, tree.read(name), declared


@pytest.mark.parametrize("kind", KINDS)
def test_edit_inside_archive_and_repack(kind):
    name, data, _ = apply(kind)
    result = unpack(name, data)
    assert result.compression == kind
    assert result.top == "pkg-1.0"
    assert result.tree.read("src/main.c") == b"int main(void) { return 0; }\n"
    assert result.tree.read("configure").startswith(b"#!/bin/sh -e\n#!/bin/sh\n")
    assert "tests/net.test" not in result.tree.list()
    with tarfile.open(fileobj=io.BytesIO(data if kind == "tar" else _raw(kind, data))) as archive:
        members = archive.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names) and names[0] == "pkg-1.0"
    assert "pkg-1.0/src" in names  # implied parent directories get their own entry
    assert all(m.mtime == members[0].mtime and m.uid == 0 and m.uname == "" for m in members)
    assert next(m for m in members if m.name.endswith("configure")).mode == 0o755
    assert next(m for m in members if m.name.endswith(".link")).linkname == "COPYING"


def _raw(kind, data):
    from hermetic.render.archive import decompress
    return decompress(kind, data)


@pytest.mark.parametrize("kind", KINDS)
def test_repack_is_byte_identical_across_runs(kind):
    assert apply(kind)[1] == apply(kind)[1]


def test_gzip_header_has_no_name_and_zero_mtime():
    _, data, _ = apply("gz")
    assert data[:4] == b"\x1f\x8b\x08\x00"  # no FNAME flag
    assert data[4:8] == b"\0\0\0\0"


REPACK_SCRIPT = """
import sys
from hermetic.render.archive import unpack, repack
name = sys.argv[1]
data = open(sys.argv[2], 'rb').read()
unpacked = unpack(name, data)
unpacked.tree.write('added.txt', b'new\\n')
sys.stdout.buffer.write(repack(unpacked))
"""


@pytest.mark.parametrize("kind", ["gz", "xz"])
def test_repack_identical_across_processes_with_different_umask_and_tz(kind, tmp_path):
    source = tmp_path / "in"
    source.write_bytes(make_archive(kind))
    outputs = []
    for umask, tz in (("0022", "UTC"), ("0077", "Pacific/Auckland")):
        env = dict(os.environ, TZ=tz, PYTHONHASHSEED="random")
        result = subprocess.run(
            ["sh", "-c", f'umask {umask}; exec "$0" -c "$1" "$2" "$3"', sys.executable, REPACK_SCRIPT,
             "pkg-1.0" + SUFFIX[kind], str(source)],
            env=env, capture_output=True, check=True, cwd=tmp_path)
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1] and len(outputs[0]) > 0


def test_hash_mismatch_names_both_hashes():
    name, _, declared = apply("gz")
    wrong = {name: DeclaredSource(name, "SHA512", "0" * 128, "overlay")}
    with pytest.raises(ConfigError) as error:
        apply("gz", wrong)
    assert declared[name].hash in str(error.value) and "0" * 128 in str(error.value)


def test_sha256_and_origin_type_checked():
    name, data, _ = apply("gz")
    good = hashlib.sha256(data).hexdigest()
    apply("gz", {name: DeclaredSource(name, "SHA256", good, "overlay")})
    with pytest.raises(ConfigError, match='must have origin type "overlay"'):
        apply("gz", {name: DeclaredSource(name, "SHA256", good, "download")})


def test_overlays_in_a_row_share_one_repack(monkeypatch):
    import hermetic.render.overlays as module
    calls = []
    real = module.repack
    monkeypatch.setattr(module, "repack", lambda unpacked: calls.append(1) or real(unpacked))
    apply("gz")
    assert len(calls) == 2  # one per apply() pass (learn hash, then verify), not one per overlay


def test_unsupported_members_are_errors():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as out:
        info = tarfile.TarInfo("pkg/fifo")
        info.type = tarfile.FIFOTYPE
        out.addfile(info)
    with pytest.raises(ArchiveError, match="special file"):
        unpack("x.tar", buffer.getvalue())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as out:
        info = tarfile.TarInfo("../evil")
        info.size = 0
        out.addfile(info, io.BytesIO(b""))
    with pytest.raises(ArchiveError, match="outside"):
        unpack("x.tar", buffer.getvalue())


def test_archive_errors_name_the_overlay():
    tree = MemoryTree()
    tree.add_file("pkg-1.0.tar.gz", make_archive("gz"))
    with pytest.raises(ConfigError, match=r"overlay 0 \(file-remove, \"no description\"\): "
                                          r"in archive pkg-1.0.tar.gz: no file matches 'missing'"):
        render(SPEC, {"type": "file-remove", "archive": "pkg-1.0.tar.gz", "file": "missing"}, tree=tree)
    with pytest.raises(ConfigError, match="archive other.tar.gz is not among the component's files"):
        render(SPEC, {"type": "file-remove", "archive": "other.tar.gz", "file": "x"}, tree=tree)
    tree.add_file("notes.tar.gz", b"plain text")
    with pytest.raises(ConfigError, match="gz magic"):
        render(SPEC, {"type": "file-remove", "archive": "notes.tar.gz", "file": "x"}, tree=tree)

"""Buildroot digests, imports and the name index (no network, no sandbox)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from hermetic.buildroot import (digest_tree, ensure_buildroot, host_buildroot, import_tree,
                                list_buildroots, lookup)
from hermetic.errors import ConfigError


def make_tree(root: Path) -> Path:
    (root / "usr/bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    (root / "usr/bin/tool").write_bytes(b"#!/bin/sh\necho tool\n")
    os.chmod(root / "usr/bin/tool", 0o755)
    (root / "etc/config").write_text("key = value\n")
    os.chmod(root / "etc/config", 0o644)
    (root / "bin").symlink_to("usr/bin")
    big = bytes(range(256)) * 1024  # above the mmap threshold
    (root / "usr/big.bin").write_bytes(big)
    return root


def test_digest_ignores_mtimes_but_sees_modes_bytes_and_links(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t")
    original = digest_tree(tree)
    os.utime(tree / "etc/config", (1, 1))
    assert digest_tree(tree) == original

    os.chmod(tree / "etc/config", 0o664)
    assert digest_tree(tree) != original
    os.chmod(tree / "etc/config", 0o644)
    assert digest_tree(tree) == original

    data = bytearray((tree / "usr/big.bin").read_bytes())
    data[100_000] ^= 1
    (tree / "usr/big.bin").write_bytes(bytes(data))
    assert digest_tree(tree) != original
    data[100_000] ^= 1
    (tree / "usr/big.bin").write_bytes(bytes(data))
    assert digest_tree(tree) == original

    (tree / "bin").unlink()
    (tree / "bin").symlink_to("/usr/bin")
    assert digest_tree(tree) != original


def test_directory_and_tarball_imports_digest_the_same(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t")
    store = tmp_path / "store"
    from_dir = import_tree(store, tree, "from-dir")
    for suffix, mode in ((".tar.gz", "w:gz"), (".tar.xz", "w:xz")):
        tarball = tmp_path / f"root{suffix}"
        with tarfile.open(tarball, mode) as archive:
            archive.add(tree, arcname=".")
        imported = import_tree(store, tarball, f"from{suffix.replace('.', '-')}")
        assert imported.digest == from_dir.digest
    assert from_dir.path == store / "buildroots" / from_dir.digest
    assert from_dir.kind == "image" and not from_dir.impure
    assert digest_tree(from_dir.path) == from_dir.digest
    info = os.lstat(from_dir.path / "usr/bin/tool")
    assert info.st_uid == os.getuid()
    assert os.readlink(from_dir.path / "bin") == "usr/bin"
    assert oct(os.stat(from_dir.path / "tmp").st_mode & 0o7777) == oct(0o1777)
    # The same content again is not stored twice; an edited tree is.
    assert [b.name for b in list_buildroots(store)] == ["from-dir", "from-tar-gz", "from-tar-xz"]
    (tree / "etc/config").write_text("key = other\n")
    changed = import_tree(store, tree, "from-dir")
    assert changed.digest != from_dir.digest
    assert lookup(store, "from-dir").digest == changed.digest


def test_zstd_tarball_import(tmp_path: Path) -> None:
    if subprocess.run(["which", "zstd"], capture_output=True).returncode != 0:
        pytest.skip("zstd is not installed")
    tree = make_tree(tmp_path / "t")
    plain = tmp_path / "root.tar"
    with tarfile.open(plain, "w") as archive:
        archive.add(tree, arcname=".")
    subprocess.run(["zstd", "-q", str(plain), "-o", str(tmp_path / "root.tar.zst")], check=True)
    store = tmp_path / "store"
    assert (import_tree(store, tmp_path / "root.tar.zst", "z").digest
            == import_tree(store, tree, "d").digest)


def _tar_with(members: list[tuple[tarfile.TarInfo, bytes | None]], path: Path) -> Path:
    with tarfile.open(path, "w") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.uid, info.gid = len(data), mode, 12345, 54321
    return info, data


def test_import_squashes_owner_skips_devices_and_drops_setuid(tmp_path: Path) -> None:
    device = tarfile.TarInfo("dev/null")
    device.type, device.devmajor, device.devminor, device.mode = tarfile.CHRTYPE, 1, 3, 0o666
    tarball = _tar_with([_file("usr/bin/su", b"x", 0o4755), (device, None),
                         _file("etc/os-release", b"ID=test\n")], tmp_path / "r.tar")
    buildroot = import_tree(tmp_path / "store", tarball, "squashed")
    assert not (buildroot.path / "dev/null").exists()
    su = os.stat(buildroot.path / "usr/bin/su")
    assert su.st_mode & 0o7777 == 0o755
    assert su.st_uid == os.getuid()


@pytest.mark.parametrize("members, message", [
    ([_file("../escape", b"x")], "outside the tree"),
])
def test_import_refuses_escaping_members(tmp_path: Path, members, message) -> None:
    tarball = _tar_with(members, tmp_path / "bad.tar")
    with pytest.raises(ConfigError, match=message):
        import_tree(tmp_path / "store", tarball, "bad")
    assert not (tmp_path / "escape").exists()
    assert list_buildroots(tmp_path / "store") == []
    assert not any((tmp_path / "store" / "tmp").iterdir())


def test_import_refuses_writing_through_a_symlink(tmp_path: Path) -> None:
    link = tarfile.TarInfo("etc")
    link.type, link.linkname = tarfile.SYMTYPE, str(tmp_path / "outside")
    (tmp_path / "outside").mkdir()
    tarball = _tar_with([(link, None), _file("etc/passwd", b"root\n")], tmp_path / "bad.tar")
    with pytest.raises(ConfigError, match="not a directory"):
        import_tree(tmp_path / "store", tarball, "bad")
    assert not (tmp_path / "outside" / "passwd").exists()


def test_bad_names_and_sources_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid"):
        import_tree(tmp_path / "store", tmp_path, "../evil")
    with pytest.raises(ConfigError, match="no such file"):
        import_tree(tmp_path / "store", tmp_path / "missing.tar", "x")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ConfigError, match="not a directory or a tarball"):
        import_tree(tmp_path / "store", tmp_path / "notes.txt", "x")


def test_ensure_buildroot_imports_once_then_reuses(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t")
    store = tmp_path / "store"
    config = {"type": "image", "name": "img", "path": "t"}
    first = ensure_buildroot(config, store, base_dir=tmp_path)
    marker = store / "buildroots" / "names" / "img"
    before = marker.stat().st_mtime_ns
    again = ensure_buildroot(config, store, base_dir=tmp_path)
    assert again == first and marker.stat().st_mtime_ns == before
    with pytest.raises(ConfigError, match="type 'nope'"):
        ensure_buildroot({"type": "nope", "name": "x"}, store)


def test_host_buildroot_is_impure_and_stable() -> None:
    if subprocess.run(["which", "dpkg-query"], capture_output=True).returncode != 0:
        pytest.skip("dpkg-query is not available")
    first, second = host_buildroot(), host_buildroot()
    assert first.digest == second.digest and len(first.digest) == 64
    assert first.impure and first.kind == "host" and first.path is None


def test_cli_import_and_list(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t")
    store = tmp_path / "store"
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "hermetic", "--store", str(store), *args],
        capture_output=True, text=True, cwd=tmp_path)
    imported = run("buildroot", "import", str(tree), "--name", "cli-root")
    assert imported.returncode == 0, imported.stderr
    listed = run("buildroot", "list", "--json")
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["kind"]) for r in rows] == [("cli-root", "image")]
    assert rows[0]["digest"] == digest_tree(tree)
    bad = run("buildroot", "import", str(tmp_path / "missing"), "--name", "x")
    assert bad.returncode == 2 and "no such file" in bad.stderr

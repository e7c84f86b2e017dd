from __future__ import annotations

import json
import stat
from pathlib import Path

from hermetic.cli import main
from hermetic.store import Store

from .conftest import make_entry


def test_store_verify_command(store: Store, capsys) -> None:
    entry = make_entry(store, "hello", "k", {"a.rpm": b"rpm"})
    store.actions.put(entry.key, entry)
    assert main(["--store", str(store.root), "store", "verify"]) == 0
    assert "ok" in capsys.readouterr().out
    path = store.objects.path(entry.outputs[0].digest)
    path.chmod(0o644)
    path.write_bytes(b"RPM")
    assert main(["store", "verify", "--json", "--store", str(store.root)]) == 6
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and len(report["damage"]) == 3


def test_gc_command_dry_run_and_json(store: Store, capsys) -> None:
    old = make_entry(store, "hello", "old", {"a.rpm": b"old"})
    store.actions.put(old.key, old)
    new = make_entry(store, "hello", "new", {"a.rpm": b"new"})
    store.actions.put(new.key, new)
    assert main(["--store", str(store.root), "gc", "--dry-run", "--grace", "0"]) == 0
    out = capsys.readouterr().out
    assert f"would evict entry {old.key}" in out and store.actions.has(old.key)
    assert main(["--store", str(store.root), "--json", "gc", "--grace", "0",
                 "--max-size", "1G"]) == 0
    assert json.loads(capsys.readouterr().out)["evicted"] == []
    assert main(["--store", str(store.root), "gc", "--grace", "0"]) == 0
    assert not store.actions.has(old.key) and store.actions.has(new.key)


def test_gc_rejects_a_bad_size(store: Store, capsys) -> None:
    assert main(["--store", str(store.root), "gc", "--max-size", "big"]) == 6
    assert "--max-size 'big'" in capsys.readouterr().err


def test_signing_generate_key_command(tmp_path: Path, capsys) -> None:
    assert main(["signing", "generate-key", "team-1", "--dir", str(tmp_path)]) == 0
    assert stat.S_IMODE((tmp_path / "team-1.secret").stat().st_mode) == 0o600
    public = (tmp_path / "team-1.public").read_text().strip()
    assert public.startswith("team-1:") and public in capsys.readouterr().out
    assert main(["signing", "generate-key", "team-1", "--dir", str(tmp_path)]) == 2


def test_signing_local_key_command(store: Store, capsys) -> None:
    assert main(["--store", str(store.root), "signing", "local-key"]) == 0
    assert capsys.readouterr().out.strip() == store.local_public_key().text()

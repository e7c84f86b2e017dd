"""End to end on the test buildroot: audits, verify, challenge and provenance with real rpmbuild."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.audit.conftest import copy_examples, hermetic, seed_store, write_leaky_workspace

pytestmark = pytest.mark.slow

# leak component → the payload file that must be named
LEAKED_FILES = {
    "leak-date": "/usr/share/leak-date/date.txt",
    "leak-nproc": "/usr/share/leak-nproc/nproc.txt",
    "leak-random": "/usr/share/leak-random/random.txt",
    "leak-order": "/usr/share/leak-order/listing.txt",
    "leak-path": "/usr/share/leak-path/path.txt",
}


def _prepare(workspace: Path, store: Path, names=None):
    from hermetic.pipeline import prepare
    from hermetic.store import Store

    return prepare(workspace, Store(store), names)


def test_each_leak_is_caught_and_named(leaky, tmp_path) -> None:
    from hermetic.audit import audit
    from hermetic.audit.report import markdown, terminal_text
    from hermetic.audit.rounds import find_faketime

    workspace, store = leaky
    prepared = _prepare(workspace, store)
    report = audit(prepared, report_dir=tmp_path / "report")
    by_name = {c.name: c for c in report.components}
    assert by_name["stable"].status == "reproducible", terminal_text(report)
    if find_faketime(prepared.buildroot) is None:
        pytest.skip("libfaketime is not installed: the date leak cannot be provoked")
    for name, leaked in LEAKED_FILES.items():
        component = by_name[name]
        assert component.status == "unreproducible", f"{name}:\n{terminal_text(report)}"
        differing = component.differing()
        # The binary RPM differs; the SRPM (same inputs) does not.
        assert [item.name for _, item in differing] == [f"{name}-1.0-1.noarch.rpm"]
        rpm = differing[0][1].rpm
        filedigests = [t for t in rpm.tags if t.tag == "FILEDIGESTS"]
        assert filedigests and filedigests[0].tag_class == "content"
        assert filedigests[0].files == [leaked]
        assert [(f.path, f.change) for f in rpm.files] == [(leaked, "content")]
        assert rpm.files[0].digest_a != rpm.files[0].digest_b
    applied = by_name["stable"].rounds[1].applied
    assert applied["time"].startswith("clock moved")
    assert applied["hostname"] == "host name audit-round-1.invalid"
    text = markdown(report)
    assert "leak-path-1.0-1.noarch.rpm" in text and LEAKED_FILES["leak-path"] in text
    assert (tmp_path / "report" / "leak-random" / "round-1" / "leak-random-1.0-1.noarch.rpm").is_file()


def test_cli_exit_codes_and_report_files(leaky, tmp_path) -> None:
    workspace, store = leaky
    clean = hermetic(store, "audit", str(workspace), "stable", "--vary", "all,-time")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "stable: reproducible" in clean.stdout
    dirty = hermetic(store, "audit", str(workspace), "leak-random", "--report",
                     str(tmp_path / "r"), "--json")
    assert dirty.returncode == 1, dirty.stdout + dirty.stderr
    data = json.loads(dirty.stdout.splitlines()[-1])
    assert data["ok"] is False and data["components"][0]["status"] == "unreproducible"
    for name in ("audit.md", "audit.html", "audit.json"):
        assert (tmp_path / "r" / name).is_file()
    assert "NOT REPRODUCIBLE" in (tmp_path / "r" / "audit.html").read_text()
    bad = hermetic(store, "audit", str(workspace), "--vary", "sunspots")
    assert bad.returncode == 2 and "unknown variation 'sunspots'" in bad.stderr


def test_example_workspace_passes_every_variation(tmp_path, rpm_buildroot) -> None:
    workspace = copy_examples(tmp_path / "ws")
    store = seed_store(tmp_path / "store", rpm_buildroot)
    result = hermetic(store, "audit", str(workspace), "--report", str(tmp_path / "report"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 of 2 components reproducible" in result.stdout
    assert "varied: time, build-path, env, locale, tz, umask, hostname, cpus, file-order, user" \
        in result.stdout


def _rpm_built_differently(prepared, name: str, tmp_path: Path) -> Path:
    """The component's RPM built with a different build host macro (a real, other build)."""
    from hermetic.rpm import build_in_sandbox, shipped_macros

    item = prepared.components[name]
    workdir = tmp_path / "other"
    (workdir / "SPECS").mkdir(parents=True)
    (workdir / "SOURCES").mkdir()
    for file_name, digest in item.files.items():
        folder = "SPECS" if file_name == item.spec_name else "SOURCES"
        shutil.copyfile(prepared.store.objects.path(digest), workdir / folder / file_name)
    macros = shipped_macros()
    macros["reproducible.macros"] = macros["reproducible.macros"].replace(
        "%_buildhost hermetic", "%_buildhost elsewhere.example")
    result = build_in_sandbox(workdir, item.spec_name, prepared.buildroot, [],
                              source_date_epoch=item.source_date_epoch,
                              log_path=workdir / "log", macros=macros)
    assert result.ok, result.error
    return result.rpms[0]


@pytest.fixture(scope="module")
def built_stable(tmp_path_factory, rpm_buildroot):
    """A store holding a normal build of `stable`, and a forged entry with another RPM."""
    base = tmp_path_factory.mktemp("stable")
    workspace = write_leaky_workspace(base / "ws", ["stable"])
    store = seed_store(base / "store", rpm_buildroot)
    assert hermetic(store, "build", str(workspace)).returncode == 0
    prepared = _prepare(workspace, store)
    from hermetic.audit.check import stored_entries

    [(_, key, entry)] = stored_entries(prepared)
    other = _rpm_built_differently(prepared, "stable", base)
    digest = prepared.store.objects.put_file(other)
    outputs = tuple(dataclasses.replace(o, digest=digest, size=other.stat().st_size)
                    if o.kind == "rpm" else o for o in entry.outputs)
    forged = dataclasses.replace(entry, outputs=outputs, signatures=())
    return workspace, store, prepared, key, entry, forged


def test_verify_matches_then_catches_a_differently_built_entry(built_stable) -> None:
    from hermetic.store import Store

    workspace, store, prepared, key, entry, forged = built_stable
    good = hermetic(store, "verify", str(workspace))
    assert good.returncode == 0 and "stable: match" in good.stdout, good.stdout + good.stderr
    Store(store).actions.put(key, forged)
    try:
        bad = hermetic(store, "verify", str(workspace), "--json")
        assert bad.returncode == 1, bad.stdout + bad.stderr
        [result] = json.loads(bad.stdout)["results"]
        assert result["status"] == "mismatch"
        [diff] = [c for c in result["comparisons"] if c["status"] != "identical"]
        assert diff["name"] == "stable-1.0-1.noarch.rpm"
        tags = {t["tag"]: t for t in diff["rpm"]["tags"]}
        assert tags["BUILDHOST"]["tag_class"] == "volatile"
        assert tags["BUILDHOST"]["a"] == "elsewhere.example" and tags["BUILDHOST"]["b"] == "hermetic"
        assert diff["rpm"]["files"] == []       # only the header differs
    finally:
        Store(store).actions.put(key, entry)


def test_challenge_match_mismatch_and_not_available(built_stable, tmp_path) -> None:
    from hermetic.remote import open_remote
    from hermetic.store import Store

    workspace, store, prepared, key, entry, forged = built_stable
    objects = Store(store).objects

    def remote_with(path: Path, served) -> str:
        remote = open_remote(f"file://{path}")
        for output in served.outputs:
            remote.put_object(output.digest, objects.path(output.digest))
        remote.put_entry(key, served.encode())
        return f"file://{path}"

    honest = remote_with(tmp_path / "honest", entry)
    lying = remote_with(tmp_path / "lying", forged)
    (tmp_path / "empty").mkdir()
    result = hermetic(store, "challenge", str(workspace), "--cache", honest, "--cache", lying,
                      "--cache", f"file://{tmp_path / 'empty'}", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    statuses = {r["source"]: r for r in json.loads(result.stdout)["results"]}
    assert statuses[honest]["status"] == "match"
    assert statuses[f"file://{tmp_path / 'empty'}"]["status"] == "not-available"
    mismatch = statuses[lying]
    assert mismatch["status"] == "mismatch"
    [diff] = [c for c in mismatch["comparisons"] if c["status"] != "identical"]
    assert diff["name"] == "stable-1.0-1.noarch.rpm"
    assert any(t["tag"] == "BUILDHOST" for t in diff["rpm"]["tags"])


def test_provenance_is_signed_and_names_inputs_and_outputs(built_stable) -> None:
    from hermetic.audit.provenance import verify_envelope
    from hermetic.store import Store

    workspace, store, prepared, key, entry, forged = built_stable
    result = hermetic(store, "provenance", str(workspace))
    assert result.returncode == 0, result.stderr
    envelope = json.loads(result.stdout)
    public = Store(store).local_public_key()
    statement = verify_envelope(envelope, public)
    assert statement is not None
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    objects = Store(store).objects
    subjects = {s["name"]: s["digest"] for s in statement["subject"]}
    for output in entry.outputs:
        if output.kind in ("rpm", "srpm"):
            assert subjects[output.name]["blake3"] == output.digest
            sha = hashlib.sha256(objects.path(output.digest).read_bytes()).hexdigest()
            assert subjects[output.name]["sha256"] == sha
    inputs = {d["name"]: d["digest"]["blake3"]
              for d in statement["predicate"]["buildDefinition"]["resolvedDependencies"]}
    assert inputs["spec:stable.spec"] == entry.manifest["spec"]["digest"]
    assert inputs["buildroot"] == entry.buildroot
    assert statement["predicate"]["runDetails"]["metadata"]["invocationId"] == key
    tampered = dict(envelope, payload=base64.b64encode(
        base64.b64decode(envelope["payload"]).replace(b"stable", b"stab1e")).decode())
    assert verify_envelope(tampered, public) is None

"""``verify`` (rebuild and compare with the stored entry, like ``nix-build --check``) and
``challenge`` (compare stored results with what remote caches serve for the same keys, like
``guix challenge``). Both explain a mismatch with the same layers as an audit.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from hermetic.audit.compare import OutputComparison, compare_outputs

COMPARED_KINDS = ("rpm", "srpm")


@dataclass
class CheckResult:
    name: str
    key: str | None
    source: str            # "rebuild" or the remote's URL
    status: str            # match | mismatch | not-available | not-built | failed
    detail: str = ""
    comparisons: list[OutputComparison] = field(default_factory=list)
    signed_by: list[str] = field(default_factory=list)

    def differing(self) -> list[OutputComparison]:
        return [c for c in self.comparisons if c.status != "identical"]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "key": self.key, "source": self.source,
                "status": self.status, "detail": self.detail, "signed_by": self.signed_by,
                "comparisons": [c.to_dict() for c in self.comparisons]}


def _stored_outputs(store: Any, entry: Any) -> dict[str, Path]:
    return {o.name: store.objects.path(o.digest) for o in entry.outputs
            if o.kind in COMPARED_KINDS}


def _stored_digests(store: Any, entry: Any) -> dict[Path, str]:
    return {store.objects.path(o.digest): o.digest for o in entry.outputs
            if o.kind in COMPARED_KINDS}


def verify(prepared: Any, names: Iterable[str] | None = None, *, renderer: Any = None,
           timeout: float | None = None) -> list[CheckResult]:
    """Rebuild each component PATH designates (bypassing the cache, storing nothing) and
    compare with its stored entry; components without one are built normally first."""
    from hermetic.audit.rounds import run_round
    from hermetic.audit.run import dependency_rpms, ensure_dependencies
    from hermetic.audit.variations import plan_round
    from hermetic.pipeline import BUILD_CPU_COUNT, select

    wanted = [n for n in prepared.selected if n in set(select(prepared.workspace, names))]
    # Everything up to and including the wanted components, through the store as usual.
    builder, results = ensure_dependencies(prepared, wanted, renderer)
    store = prepared.store
    checks: list[CheckResult] = []
    for name in wanted:
        if name not in results:
            builder.build_one(name)
        result = results[name]
        if result.entry is None:
            checks.append(CheckResult(name, result.key, "rebuild", "failed",
                                      f"the first build failed: {result.error}"))
            continue
        base = Path(tempfile.mkdtemp(prefix=f"verify-{name}-", dir=store.tmp_dir()))
        try:
            rebuilt = run_round(prepared.components[name], store, prepared.buildroot,
                                dependency_rpms(prepared, results, name), plan_round(0, ()),
                                base, cpu_count=BUILD_CPU_COUNT, timeout=timeout)
            if not rebuilt.ok:
                checks.append(CheckResult(name, result.key, "rebuild", "failed",
                                          f"the rebuild failed: {rebuilt.error}"))
                continue
            comparisons = compare_outputs(_stored_outputs(store, result.entry), rebuilt.outputs,
                                          digests=_stored_digests(store, result.entry))
            status = "match" if all(c.status == "identical" for c in comparisons) \
                else "mismatch"
            checks.append(CheckResult(name, result.key, "rebuild", status,
                                      f"stored entry ({result.status})",
                                      comparisons,
                                      [s.key_name for s in result.entry.signatures]))
        finally:
            shutil.rmtree(base, ignore_errors=True)
    return checks


def stored_entries(prepared: Any, names: Iterable[str] | None = None
                   ) -> list[tuple[str, str | None, Any]]:
    """(name, key, entry or None) for the components PATH designates, from the store only:
    nothing is built. A component whose dependency has no entry has no key either."""
    from hermetic.keys import compute_key
    from hermetic.pipeline import manifest_for, select

    wanted = set(select(prepared.workspace, names))
    entries: dict[str, Any] = {}
    found: list[tuple[str, str | None, Any]] = []
    for name in prepared.selected:
        deps = prepared.graph.dependencies[name]
        if prepared.buildroot is None or any(dep not in entries for dep in deps):
            if name in wanted:
                found.append((name, None, None))
            continue
        key = compute_key(manifest_for(prepared, name, {d: entries[d] for d in deps}))
        entry = prepared.store.actions.get(key, record_use=False)
        if entry is not None:
            entries[name] = entry
        if name in wanted:
            found.append((name, key, entry))
    return found


def challenge(prepared: Any, urls: Iterable[str], names: Iterable[str] | None = None,
              *, token: str | None = None) -> list[CheckResult]:
    """Compare each local result with what every remote serves under the same key."""
    from hermetic.errors import HermeticError
    from hermetic.remote import open_remote
    from hermetic.store import ActionEntry

    store = prepared.store
    local = stored_entries(prepared, names)
    checks: list[CheckResult] = []
    for url in urls:
        remote = open_remote(url, token)
        try:
            for name, key, entry in local:
                if entry is None:
                    checks.append(CheckResult(name, key, url, "not-built",
                                              "no local result to compare (run hermetic build)"))
                    continue
                try:
                    raw = remote.get_entry(key)
                except HermeticError as error:
                    checks.append(CheckResult(name, key, url, "not-available", error.message))
                    continue
                if raw is None:
                    checks.append(CheckResult(name, key, url, "not-available",
                                              "the remote has no entry for this key"))
                    continue
                try:
                    theirs = ActionEntry.decode(raw, f"{url} entry {key}")
                except HermeticError as error:
                    checks.append(CheckResult(name, key, url, "failed", error.message))
                    continue
                checks.append(_compare_with_remote(store, remote, url, name, key, entry, theirs))
        finally:
            remote.close()
    return checks


def _compare_with_remote(store: Any, remote: Any, url: str, name: str, key: str, ours: Any,
                         theirs: Any) -> CheckResult:
    from hermetic.errors import HermeticError

    signed_by = [s.key_name for s in theirs.signatures]
    ours_by_name = {o.name: o for o in ours.outputs if o.kind in COMPARED_KINDS}
    theirs_by_name = {o.name: o for o in theirs.outputs if o.kind in COMPARED_KINDS}
    if {n: o.digest for n, o in ours_by_name.items()} == \
            {n: o.digest for n, o in theirs_by_name.items()}:
        comparisons = [OutputComparison(n, "identical", o.digest, o.digest, o.size, o.size)
                       for n, o in sorted(ours_by_name.items())]
        return CheckResult(name, key, url, "match", "", comparisons, signed_by)
    scratch = Path(tempfile.mkdtemp(prefix=f"challenge-{name}-", dir=store.tmp_dir()))
    try:
        remote_paths: dict[str, Path] = {}
        digests = _stored_digests(store, ours)
        for output_name, output in theirs_by_name.items():
            if store.objects.has(output.digest):
                remote_paths[output_name] = store.objects.path(output.digest)
                continue
            dest = scratch / output_name
            try:
                remote.get_object(output.digest, dest)
            except HermeticError as error:
                return CheckResult(name, key, url, "failed",
                                   f"{output_name}: {error.message}", [], signed_by)
            remote_paths[output_name] = dest
            digests[dest] = output.digest
        comparisons = compare_outputs(_stored_outputs(store, ours), remote_paths,
                                      digests=digests)
        return CheckResult(name, key, url, "mismatch", "the remote serves different outputs",
                           comparisons, signed_by)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def check_lines(result: CheckResult) -> list[str]:
    """Terminal lines for one verify/challenge result."""
    from hermetic.audit.report import _difference_lines

    head = f"{result.name}: {result.status}"
    if result.source != "rebuild":
        head += f" ({result.source})"
    if result.detail and result.status != "match":
        head += f": {result.detail}"
    lines = [head]
    for item in result.differing():
        lines.extend("  " + line.replace("round 1: ", "", 1)
                     for line in _difference_lines(1, item))
    return lines

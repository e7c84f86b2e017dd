"""``audit``: build each component N times under varied conditions and explain any difference.

Dependencies are built (or reused) the normal way, through the builder and the store, so the
audited component sees exactly the dependency RPMs its key names. The audited builds
themselves bypass the cache and never write results to the store.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from hermetic.audit.compare import OutputComparison, compare_outputs
from hermetic.audit.rounds import RoundResult, run_round
from hermetic.audit.variations import DEFAULT_VARIATIONS, VARIATIONS, plan_rounds


@dataclass
class ComponentAudit:
    name: str
    key: str | None
    status: str                                   # reproducible | unreproducible | failed
    rounds: list[RoundResult] = field(default_factory=list)
    # round index (≥ 1) → that round's outputs compared with round 0's
    comparisons: dict[int, list[OutputComparison]] = field(default_factory=dict)
    error: str | None = None

    def differing(self) -> list[tuple[int, OutputComparison]]:
        return [(index, item) for index, items in sorted(self.comparisons.items())
                for item in items if item.status != "identical"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "key": self.key, "status": self.status, "error": self.error,
            "rounds": [r.summary() for r in self.rounds],
            "comparisons": {str(i): [c.to_dict() for c in items]
                            for i, items in sorted(self.comparisons.items())},
        }


@dataclass
class AuditReport:
    rounds: int
    variations: tuple[str, ...]
    components: list[ComponentAudit]
    report_dir: Path | None = None
    started: int = 0
    elapsed_ms: int = 0

    @property
    def ok(self) -> bool:
        return all(c.status == "reproducible" for c in self.components)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "rounds": self.rounds,
            "variations": {name: VARIATIONS[name] for name in self.variations},
            "started": self.started, "elapsed_ms": self.elapsed_ms,
            "report_dir": str(self.report_dir) if self.report_dir else None,
            "components": [c.to_dict() for c in self.components],
        }


class _Quiet:
    """A renderer that drops events (library callers that pass none)."""

    def emit(self, event: Any) -> None:
        pass

    def close(self) -> None:
        pass


def ensure_dependencies(prepared: Any, audited: Iterable[str], renderer: Any = None,
                        rebuild: bool = False) -> tuple[Any, dict[str, Any]]:
    """Build or reuse, through the store, every dependency of ``audited`` (and, with
    ``rebuild=False``, nothing else). Returns (builder, name → result)."""
    from hermetic.builder import Builder, BuildSettings
    from hermetic.errors import BuildError

    audited = list(audited)
    needed: set[str] = set()
    for name in audited:
        needed |= prepared.graph.closure([name]) - {name}
    builder = Builder(prepared, renderer or _Quiet(), BuildSettings(rebuild=rebuild))
    for name in prepared.selected:
        if name not in needed:
            continue
        if any(dep not in builder.results or builder.results[dep].entry is None
               for dep in prepared.graph.dependencies[name]):
            continue
        if not builder.build_one(name):
            result = builder.results[name]
            raise BuildError(f"dependency {name} failed to build: {result.error}",
                             hint=f"see {result.log_path}" if result.log_path else None)
    return builder, builder.results


def dependency_rpms(prepared: Any, results: dict[str, Any], name: str) -> list[Path]:
    store = prepared.store
    return [store.objects.path(output.digest)
            for dep in sorted(prepared.graph.dependencies[name])
            for output in results[dep].entry.outputs if output.kind == "rpm"]


def component_key(prepared: Any, results: dict[str, Any], name: str) -> str:
    from hermetic.keys import compute_key
    from hermetic.pipeline import manifest_for

    deps = {dep: results[dep].entry for dep in prepared.graph.dependencies[name]}
    return compute_key(manifest_for(prepared, name, deps))


def audit(prepared: Any, names: Iterable[str] | None = None, *, rounds: int = 2,
          vary: tuple[str, ...] = DEFAULT_VARIATIONS, report_dir: Path | None = None,
          renderer: Any = None, timeout: float | None = None,
          max_silent_time: float | None = None,
          on_round: Callable[[str, RoundResult], None] | None = None) -> AuditReport:
    """Audit ``names`` (default: what the PATH designates) of a ``pipeline.prepare`` result."""
    from hermetic.pipeline import BUILD_CPU_COUNT, select
    from hermetic.errors import BuildError

    if prepared.buildroot is None:
        raise BuildError("an audit needs the buildroot; it does not exist yet")
    plans = plan_rounds(rounds, vary)
    wanted = [n for n in prepared.selected if n in set(select(prepared.workspace, names))]
    started = time.time()
    _, results = ensure_dependencies(prepared, wanted, renderer)
    report = AuditReport(rounds, tuple(vary), [], report_dir, int(started))
    store = prepared.store
    for name in wanted:
        item = prepared.components[name]
        key = component_key(prepared, results, name)
        base = Path(tempfile.mkdtemp(prefix=f"audit-{name}-", dir=store.tmp_dir()))
        component = ComponentAudit(name, key, "reproducible")
        try:
            deps = dependency_rpms(prepared, results, name)
            for plan in plans:
                result = run_round(item, store, prepared.buildroot, deps, plan, base,
                                   cpu_count=BUILD_CPU_COUNT, timeout=timeout,
                                   max_silent_time=max_silent_time)
                component.rounds.append(result)
                if on_round is not None:
                    on_round(name, result)
                if not result.ok:
                    component.status = "failed"
                    component.error = f"round {plan.index}: {result.error}"
                    break
            if component.status != "failed":
                baseline = component.rounds[0].outputs
                for result in component.rounds[1:]:
                    diffoscope_dir = (report_dir / "diffoscope" / name / f"round-{result.index}"
                                      if report_dir is not None else None)
                    component.comparisons[result.index] = compare_outputs(
                        baseline, result.outputs, diffoscope_dir=diffoscope_dir)
                if component.differing():
                    component.status = "unreproducible"
            if report_dir is not None:
                _keep_evidence(component, report_dir / name)
        finally:
            shutil.rmtree(base, ignore_errors=True)
        report.components.append(component)
    report.elapsed_ms = int((time.time() - started) * 1000)
    return report


def _keep_evidence(component: ComponentAudit, target: Path) -> None:
    """Logs of every round, and the outputs that differ, next to the report."""
    target.mkdir(parents=True, exist_ok=True)
    differing = {item.name for _, item in component.differing()}
    for result in component.rounds:
        if result.log_path.exists():
            shutil.copyfile(result.log_path, target / f"round-{result.index}.log")
            result.log_path = target / f"round-{result.index}.log"
        for name, path in result.outputs.items():
            if name in differing:
                keep = target / f"round-{result.index}" / name
                keep.parent.mkdir(exist_ok=True)
                shutil.copyfile(path, keep)
                result.outputs[name] = keep

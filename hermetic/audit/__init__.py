"""Reproducibility audits: varied rebuilds, layered explanations, verify, challenge, provenance.

Public interface::

    audit(prepared, names=None, *, rounds=2, vary=DEFAULT_VARIATIONS, report_dir=None,
          renderer=None, timeout=None, max_silent_time=None) -> AuditReport
    parse_vary(text) -> tuple[str, ...]            # --vary LIST
    compare_outputs(a: dict[name, Path], b: dict[name, Path]) -> list[OutputComparison]
    compare_rpm_files(a: Path, b: Path) -> RpmDiff  # header tags + payload files
    verify(prepared, names=None) -> list[CheckResult]
    challenge(prepared, urls, names=None) -> list[CheckResult]
    provenance_for(entry, prepared_component=None) -> dict   # in-toto Statement v1, SLSA v1
    sign_statement(statement, secret_key) -> dict            # DSSE envelope
    write_provenance(store, entry) -> Path
"""

from __future__ import annotations

from hermetic.audit.compare import OutputComparison, RpmDiff, compare_outputs, compare_rpm_files
from hermetic.audit.run import AuditReport, ComponentAudit, audit
from hermetic.audit.variations import DEFAULT_VARIATIONS, VARIATIONS, parse_vary

__all__ = [
    "AuditReport", "ComponentAudit", "DEFAULT_VARIATIONS", "OutputComparison", "RpmDiff",
    "VARIATIONS", "audit", "compare_outputs", "compare_rpm_files", "parse_vary",
]

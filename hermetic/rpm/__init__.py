"""rpm: reproducibility and compatibility macros, build options, the rpmbuild driver.

Public interface::

    build_options_macros(build_config, release_bump=0) -> str
    inject_options(spec_text) -> str          # + OPTIONS_FILE_NAME, to be placed in SOURCES
    apply_release(spec_text, calculation="auto", bump=0, where="spec") -> ReleaseDecision
    source_date_epoch(spec_text, source_paths=(), override=None) -> int
    build_in_sandbox(workdir, spec_name, buildroot, dep_rpms, *, source_date_epoch, log_path,
                     cpu_count=2, check_skip=False, timeout=None, ...) -> RpmBuildResult
    read_rpm_header(path) -> dict
    reproducibility_fingerprint(cpu_count) -> str
"""

from __future__ import annotations

from hermetic.rpm.driver import RpmBuildResult, build_in_sandbox, rpmbuild_argv
from hermetic.rpm.epoch import changelog_epoch, source_date_epoch
from hermetic.rpm.header import read_rpm_header
from hermetic.rpm.macros import pinned_macros, reproducibility_fingerprint, shipped_macros
from hermetic.rpm.options import OPTIONS_FILE_NAME, build_options_macros, inject_options
from hermetic.rpm.release import ReleaseDecision, apply_release
from hermetic.rpm.unknown import UnknownMacro, find_unknown_macros

__all__ = [
    "OPTIONS_FILE_NAME", "ReleaseDecision", "RpmBuildResult", "UnknownMacro", "apply_release",
    "build_in_sandbox", "build_options_macros", "changelog_epoch", "find_unknown_macros",
    "inject_options", "pinned_macros", "read_rpm_header", "reproducibility_fingerprint",
    "rpmbuild_argv", "shipped_macros", "source_date_epoch",
]

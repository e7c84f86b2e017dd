"""The macro files every build loads, shipped as package data, and the values pinned per build."""

from __future__ import annotations

from importlib import resources

import blake3

# Load order matters: later files win. Build options (loaded by the spec itself) come last.
SHIPPED_MACRO_FILES: tuple[str, ...] = ("reproducible.macros", "compat.macros")


def shipped_macros() -> dict[str, str]:
    """File name -> text of the shipped macro files, in load order."""
    package = resources.files("hermetic.rpm")
    return {name: package.joinpath(name).read_text(encoding="utf-8")
            for name in SHIPPED_MACRO_FILES}


def pinned_macros(cpu_count: int) -> str:
    """Per-build values that must not depend on the machine (the -jN lands in the SRPM)."""
    if cpu_count < 1:
        raise ValueError("cpu_count must be at least 1")
    return (
        "# hermetic: values pinned for this build\n"
        f"%_smp_build_ncpus {cpu_count}\n"
        f"%_smp_build_nthreads {cpu_count}\n"
    )


def reproducibility_fingerprint(cpu_count: int) -> str:
    """blake3 over everything this module makes rpmbuild load: part of every build key."""
    hasher = blake3.blake3()
    for name, text in shipped_macros().items():
        hasher.update(name.encode() + b"\0" + text.encode() + b"\0")
    hasher.update(pinned_macros(cpu_count).encode())
    return hasher.hexdigest()

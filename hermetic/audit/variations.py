"""What changes between audit rounds, in the spirit of reprotest (pure: no I/O).

Round 0 is the baseline: the caller's own environment, umask 022, the real date, sources laid
out in sorted order on the store's filesystem, uid 0 inside, every CPU. Each later round applies
every selected variation with values that depend on the round, so round 2 differs from round 1
as well as from round 0. Several variations are normalised by the sandbox (environment, locale,
TZ, umask, host name, host-side path): they are exercised anyway, so a clean audit *proves*
the normalisation instead of assuming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hermetic.errors import ConfigError

# name → what it varies (shown in reports and `hermetic audit --help`).
VARIATIONS: dict[str, str] = {
    "time": "wall-clock date: a later date through libfaketime (LD_PRELOAD inside the sandbox)",
    "build-path": "host-side build directory: another, deeper path (and working directory)",
    "env": "the caller's environment: extra variables, another PATH, HOME and SHELL",
    "locale": "the caller's LANG and LC_ALL",
    "tz": "the caller's TZ",
    "umask": "the caller's umask",
    "hostname": "the machine's host name (a private uts namespace around the build)",
    "cpus": "CPUs offered to the build (CPU affinity: what nproc and sysconf see)",
    "file-order": "creation order of the sources, and another filesystem (tmpfs) for them "
                  "when one is available: directory listing order changes",
    "user": "the uid and gid the build runs as inside the sandbox",
}
DEFAULT_VARIATIONS = tuple(VARIATIONS)

_LOCALES = ("fr_FR.UTF-8", "de_DE.ISO-8859-1")
_ZONES = ("Pacific/Kiritimati", "America/Adak")       # UTC+14 and UTC-10: different dates
_UMASKS = (0o077, 0o002)


@dataclass(frozen=True)
class RoundPlan:
    """The caller-side settings of one round (0 = baseline)."""

    index: int
    env_overrides: dict[str, str] = field(default_factory=dict)
    env_removed: tuple[str, ...] = ()
    umask: int = 0o022
    faketime_offset: str | None = None      # libfaketime FAKETIME, e.g. "+400d"
    deep_path: bool = False
    hostname: str | None = None
    cpu_divisor: int = 1                    # offer total // divisor CPUs (at least 1)
    file_order: str = "sorted"              # sorted | reversed | shuffled
    other_filesystem: bool = False
    uid: int = 0
    gid: int = 0
    varied: tuple[str, ...] = ()            # the variation names this round applies


def parse_vary(text: str | None) -> tuple[str, ...]:
    """``--vary``: a comma list of names, ``all`` (default), or ``all,-name`` to drop some."""
    if text is None or not text.strip():
        return DEFAULT_VARIATIONS
    chosen: list[str] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        if item == "all":
            chosen.extend(n for n in DEFAULT_VARIATIONS if n not in chosen)
            continue
        name = item[1:] if item.startswith("-") else item
        if name not in VARIATIONS:
            raise ConfigError(f"--vary: unknown variation {name!r}",
                              hint=f"choose from: all, {', '.join(VARIATIONS)}")
        if item.startswith("-"):
            chosen = [n for n in chosen if n != name]
        elif name not in chosen:
            chosen.append(name)
    return tuple(chosen)


def plan_round(index: int, vary: tuple[str, ...]) -> RoundPlan:
    if index == 0:
        return RoundPlan(0)
    pick = (index - 1) % 2
    env: dict[str, str] = {}
    removed: tuple[str, ...] = ()
    if "env" in vary:
        env.update({f"HERMETIC_AUDIT_NOISE_{index}": "x" * (7 * index),
                    "PATH": f"/nonexistent/audit-{index}/bin:/usr/local/sbin:/usr/sbin:/usr/bin:"
                            "/sbin:/bin",
                    "HOME": f"/nonexistent/home-{index}", "SHELL": "/bin/false",
                    "CFLAGS": "-O0 -DAUDIT_LEAK", "MAKEFLAGS": "-j17",
                    "SOURCE_DATE_EPOCH": "1", "RPM_BUILD_NCPUS": "33"})
        removed = ("USER", "LOGNAME")
    if "locale" in vary:
        env.update({"LANG": _LOCALES[pick], "LC_ALL": _LOCALES[pick]})
    if "tz" in vary:
        env["TZ"] = _ZONES[pick]
    return RoundPlan(
        index=index,
        env_overrides=env,
        env_removed=removed,
        umask=_UMASKS[pick] if "umask" in vary else 0o022,
        faketime_offset=f"+{400 * index}d" if "time" in vary else None,
        deep_path="build-path" in vary,
        hostname=f"audit-round-{index}.invalid" if "hostname" in vary else None,
        cpu_divisor=index + 1 if "cpus" in vary else 1,
        file_order=("reversed", "shuffled")[pick] if "file-order" in vary else "sorted",
        other_filesystem="file-order" in vary and index % 2 == 1,
        uid=1000 + index if "user" in vary else 0,
        gid=1000 + index if "user" in vary else 0,
        varied=tuple(vary),
    )


def plan_rounds(rounds: int, vary: tuple[str, ...]) -> list[RoundPlan]:
    if rounds < 2:
        raise ConfigError(f"--rounds {rounds}: an audit needs at least 2 rounds to compare")
    return [plan_round(index, vary) for index in range(rounds)]


def order_names(names: list[str], order: str, seed: int) -> list[str]:
    """Sorted, reversed or a deterministic shuffle of ``names``."""
    ordered = sorted(names)
    if order == "reversed":
        return ordered[::-1]
    if order == "shuffled":
        import random
        random.Random(seed).shuffle(ordered)
    return ordered

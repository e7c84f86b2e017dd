"""The last steps before ``execve`` of the payload: environment, umask, rlimits, capabilities,
NO_NEW_PRIVS and seccomp. Runs in the payload's own process, inside the finished sandbox.
"""

from __future__ import annotations

import os
import resource

from hermetic.sandbox import libc, profile
from hermetic.sandbox.spec import SandboxSpec

FIXED_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Kept (inside the user namespace only) when the payload runs as uid 0: what rpm needs to install
# dependency RPMs into the overlay and to act as root on files it owns. Everything else, including
# CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_PTRACE and CAP_MKNOD, leaves the bounding set.
# Part of the profile: changing this list means bumping profile.PROFILE_VERSION.
ROOT_CAPABILITIES = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
                     "CAP_FSETID", "CAP_KILL", "CAP_SETUID", "CAP_SETGID")
# Their numbers (linux/capability.h); fixed by the kernel ABI.
CAPABILITY_NUMBERS = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2,
                      "CAP_FOWNER": 3, "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6,
                      "CAP_SETUID": 7}
ROOT_CAPABILITY_NUMBERS = frozenset(CAPABILITY_NUMBERS[name] for name in ROOT_CAPABILITIES)


def payload_environment(spec: SandboxSpec, home: str) -> dict[str, str]:
    """The whole environment: deterministic defaults, then the spec's overrides."""
    env = {
        "PATH": FIXED_PATH,
        "HOME": home,
        "TZ": "UTC",
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "SHELL": "/bin/sh",
        "USER": "root" if spec.uid == 0 else "builder",
        "LOGNAME": "root" if spec.uid == 0 else "builder",
        "HOSTNAME": spec.hostname,
        "TMPDIR": "/tmp",
        # The pinned CPU count: rpm's %_smp_build_ncpus reads RPM_BUILD_NCPUS.
        "RPM_BUILD_NCPUS": str(spec.cpu_count),
        "HERMETIC_CPU_COUNT": str(spec.cpu_count),
    }
    env.update(spec.env or {})
    return env


def set_rlimits(spec: SandboxSpec) -> None:
    unlimited = resource.RLIM_INFINITY
    limits = {
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_NOFILE: spec.nofile,
        resource.RLIMIT_NPROC: spec.nproc,
        resource.RLIMIT_FSIZE: spec.fsize if spec.fsize is not None else unlimited,
    }
    for which, value in limits.items():
        soft, hard = resource.getrlimit(which)
        # Never raise above an inherited hard limit: that would fail, and the caller's cap wins.
        if hard != unlimited and (value == unlimited or value > hard):
            value = hard
        resource.setrlimit(which, (value, value))


def drop_privileges(spec: SandboxSpec) -> None:
    """NO_NEW_PRIVS, then the capability sets, then seccomp (which needs NNP).

    Direct prctl/capset calls: one capset for all three sets, where a per-capability API
    would make hundreds of capget/capset round trips per sandbox.
    """
    libc.set_no_new_privs()
    libc.limit_capabilities(ROOT_CAPABILITY_NUMBERS if spec.uid == 0 else frozenset())
    profile.install(spec.profile)

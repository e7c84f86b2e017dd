"""The network: a private namespace in which only the loopback interface is up."""

from __future__ import annotations


def preload() -> None:
    """Import pyroute2 now (~0.2 s, done once in the fork server; needed before the pivot)."""
    from pyroute2 import IPRoute  # noqa: F401


def bring_up_loopback() -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname="lo")[0]
        ipr.link("set", index=index, state="up")

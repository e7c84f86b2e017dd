"""Typed progress events and the renderers that show them (tty table, plain lines, JSON lines).

Builders emit events; they never print. The CLI picks one renderer: a live table on a terminal,
one line per state change otherwise, or one JSON object per line with ``--json``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import IO, Protocol

# States a component moves through during `hermetic build`.
STATES = ("waiting", "building", "cached", "pulled", "built", "failed", "skipped")
FINAL_STATES = frozenset({"cached", "pulled", "built", "failed", "skipped"})


@dataclass(frozen=True)
class ComponentEvent:
    name: str
    state: str
    key: str | None = None
    detail: str = ""
    elapsed: float = 0.0
    event: str = field(default="component", init=False)


class Renderer(Protocol):
    def emit(self, event: ComponentEvent) -> None: ...
    def close(self) -> None: ...


class PlainRenderer:
    """One line per change of state: what logs and CI systems want."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stderr
        self._lock = threading.Lock()

    def emit(self, event: ComponentEvent) -> None:
        if event.state == "waiting":
            return
        parts = [f"{event.name}:", event.state]
        if event.key and event.state in FINAL_STATES:
            parts.append(event.key[:16])
        if event.elapsed and event.state in FINAL_STATES:
            parts.append(f"({event.elapsed:.1f}s)")
        if event.detail:
            parts.append(f"- {event.detail}")
        with self._lock:
            print(" ".join(parts), file=self._stream, flush=True)

    def close(self) -> None:
        pass


class JsonLinesRenderer:
    """One JSON object per line on stdout, for machines."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()

    def emit(self, event: ComponentEvent) -> None:
        with self._lock:
            print(json.dumps(asdict(event), sort_keys=True), file=self._stream, flush=True)

    def close(self) -> None:
        pass


class LiveTableRenderer:
    """A table of components with their state and elapsed time, redrawn in place (rich)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self._rows: dict[str, ComponentEvent] = {}
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()
        self._console = Console(stderr=True)
        self._live = Live(self._table(), console=self._console, refresh_per_second=4,
                          transient=False, get_renderable=self._table)
        self._live.start()

    def _table(self):  # type: ignore[no-untyped-def]
        from rich.table import Table

        table = Table(box=None, show_header=True, header_style="bold")
        table.add_column("component")
        table.add_column("state")
        table.add_column("time", justify="right")
        table.add_column("detail", overflow="fold")
        now = time.monotonic()
        for name in sorted(self._rows):
            event = self._rows[name]
            if event.state in FINAL_STATES:
                elapsed = event.elapsed
            else:
                elapsed = now - self._started.get(name, now)
            style = {"failed": "red", "built": "green", "cached": "cyan", "pulled": "cyan",
                     "building": "yellow"}.get(event.state, "")
            table.add_row(name, f"[{style}]{event.state}[/]" if style else event.state,
                          f"{elapsed:.1f}s" if elapsed else "", event.detail)
        return table

    def emit(self, event: ComponentEvent) -> None:
        with self._lock:
            if event.state == "building":
                self._started[event.name] = time.monotonic()
            self._rows[event.name] = event

    def close(self) -> None:
        self._live.refresh()
        self._live.stop()


def make_renderer(json_output: bool) -> Renderer:
    if json_output:
        return JsonLinesRenderer()
    if sys.stderr.isatty():
        return LiveTableRenderer()
    return PlainRenderer()

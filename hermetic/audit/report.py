"""Audit reports for people: a terminal summary, and Markdown + HTML files for --report DIR.

The order is the order a release engineer reads in: verdict per component; for a difference,
which RPM, which content tags (with the files they point at), which payload files with sizes,
digests and changed lines; then volatile and digest tags; then what each round varied.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from hermetic.audit.compare import OutputComparison
from hermetic.audit.run import AuditReport, ComponentAudit

VERDICT = {"reproducible": "reproducible", "unreproducible": "NOT REPRODUCIBLE",
           "failed": "FAILED"}


def _short(digest: str | None) -> str:
    return (digest or "-")[:16]


def _tag_line(item: OutputComparison, klass: str) -> str | None:
    if item.rpm is None:
        return None
    tags = [t for t in item.rpm.tags if t.tag_class == klass]
    if not tags:
        return None
    parts = [t.tag + (f" ({', '.join(t.files[:3])})" if t.files else "") for t in tags]
    return f"{klass} tags: " + ", ".join(parts)


def _difference_lines(index: int, item: OutputComparison) -> list[str]:
    if item.status == "only-in-a":
        return [f"round {index}: {item.name} was not produced (round 0 made it)"]
    if item.status == "only-in-b":
        return [f"round {index}: {item.name} was produced only in this round"]
    lines = [f"round {index}: {item.name} differs ({item.size_a} -> {item.size_b} bytes, "
             f"blake3 {_short(item.digest_a)} -> {_short(item.digest_b)})"]
    if item.rpm is None:
        return lines
    if item.rpm.error:
        lines.append(f"  could not look inside: {item.rpm.error}")
    for klass in ("content", "volatile", "digest"):
        line = _tag_line(item, klass)
        if line:
            lines.append("  " + line)
    for change in item.rpm.files:
        lines.append(f"  file {change.path}: {change.change}"
                     + (f" {change.detail}" if change.detail else "")
                     + f" ({change.size_a} -> {change.size_b} bytes, "
                       f"blake3 {_short(change.digest_a)} -> {_short(change.digest_b)})")
        lines.extend("      " + text for text in change.text_diff)
    if item.rpm.diffoscope:
        lines.append(f"  diffoscope: {item.rpm.diffoscope}")
    return lines


def component_lines(component: ComponentAudit) -> list[str]:
    outputs = len(component.rounds[0].outputs) if component.rounds else 0
    head = f"{component.name}: {VERDICT[component.status]}"
    if component.status == "reproducible":
        head += f" ({outputs} outputs byte-identical in all {len(component.rounds)} rounds)"
    lines = [head]
    if component.error:
        lines.append(f"  {component.error}")
    for index, item in component.differing():
        lines.extend("  " + line for line in _difference_lines(index, item))
    return lines


def round_lines(report: AuditReport) -> list[str]:
    """What each round varied (from the first component that ran it)."""
    lines = []
    seen: set[int] = set()
    for component in report.components:
        for result in component.rounds:
            if result.index in seen or result.index == 0:
                continue
            seen.add(result.index)
            lines.append(f"round {result.index} varied:")
            for name in report.variations:
                lines.append(f"  {name}: {result.applied.get(name, 'not applied')}")
    return lines


def terminal_text(report: AuditReport) -> str:
    good = sum(c.status == "reproducible" for c in report.components)
    lines = [f"audit: {good} of {len(report.components)} components reproducible "
             f"({report.rounds} rounds; varied: {', '.join(report.variations) or 'nothing'})"]
    for component in report.components:
        lines.extend(component_lines(component))
    if report.report_dir is not None:
        lines.append(f"report: {report.report_dir / 'audit.html'}")
    return "\n".join(lines) + "\n"


def markdown(report: AuditReport) -> str:
    good = sum(c.status == "reproducible" for c in report.components)
    out = ["# hermetic audit", "",
           f"**{good} of {len(report.components)} components reproducible** — "
           f"{report.rounds} rounds, varied: {', '.join(report.variations)}.", "",
           "| component | verdict | key |", "|---|---|---|"]
    for component in report.components:
        out.append(f"| {component.name} | {VERDICT[component.status]} | "
                   f"`{_short(component.key)}` |")
    for component in report.components:
        if component.status == "reproducible":
            continue
        out += ["", f"## {component.name}", ""]
        if component.error:
            out.append(f"Build failed: {component.error}")
        for index, item in component.differing():
            out += ["", f"### round {index}: `{item.name}` ({item.status})", ""]
            if item.rpm is None:
                continue
            if item.rpm.tags:
                out += ["| class | header | tag | round 0 | round " + str(index) + " | files |",
                        "|---|---|---|---|---|---|"]
                for tag in item.rpm.tags:
                    out.append(f"| {tag.tag_class} | {tag.header} | {tag.tag} | "
                               f"`{_cell(tag.a)}` | `{_cell(tag.b)}` | "
                               f"{', '.join(tag.files[:5])} |")
            if item.rpm.files:
                out += ["", "| file | change | sizes | blake3 |", "|---|---|---|---|"]
                for change in item.rpm.files:
                    out.append(f"| `{change.path}` | {change.change} {change.detail} | "
                               f"{change.size_a} → {change.size_b} | "
                               f"`{_short(change.digest_a)}` → `{_short(change.digest_b)}` |")
                for change in item.rpm.files:
                    if change.text_diff:
                        out += ["", "```diff", *change.text_diff, "```"]
            if item.rpm.diffoscope:
                out += ["", f"diffoscope report: `{item.rpm.diffoscope}`"]
    rounds = round_lines(report)
    if rounds:
        out += ["", "## What the rounds varied", "", "```", *rounds, "```"]
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")[:80]


def html_page(report: AuditReport) -> str:
    """One self-contained page: a verdict table, then each difference."""
    esc = html.escape
    good = sum(c.status == "reproducible" for c in report.components)
    rows = "".join(
        f"<tr class='{c.status}'><td>{esc(c.name)}</td><td>{esc(VERDICT[c.status])}</td>"
        f"<td><code>{esc(_short(c.key))}</code></td></tr>" for c in report.components)
    details = []
    for component in report.components:
        if component.status == "reproducible":
            continue
        text = "\n".join(component_lines(component))
        details.append(f"<h2>{esc(component.name)}</h2><pre>{esc(text)}</pre>")
    rounds = "\n".join(round_lines(report))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>hermetic audit</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:.2em .8em;text-align:left}}
tr.reproducible td:nth-child(2){{color:#060}} tr.unreproducible td:nth-child(2),
tr.failed td:nth-child(2){{color:#b00;font-weight:bold}} pre{{background:#f4f4f4;padding:1em}}
</style></head><body>
<h1>hermetic audit: {good} of {len(report.components)} components reproducible</h1>
<p>{report.rounds} rounds; varied: {esc(', '.join(report.variations))}</p>
<table><tr><th>component</th><th>verdict</th><th>key</th></tr>{rows}</table>
{''.join(details)}
<h2>What the rounds varied</h2><pre>{esc(rounds)}</pre>
</body></html>
"""


def write_report(report: AuditReport, directory: Path) -> list[Path]:
    """audit.md, audit.html and audit.json in ``directory`` (each temp + rename)."""
    from hermetic.store.fsutil import atomic_write

    directory.mkdir(parents=True, exist_ok=True)
    files = {"audit.md": markdown(report), "audit.html": html_page(report),
             "audit.json": json.dumps(report.to_dict(), indent=2, sort_keys=True, default=str)}
    written = []
    for name, text in files.items():
        atomic_write(directory / name, text.encode(), directory, mode=0o644)
        written.append(directory / name)
    return written


def as_json(report: AuditReport) -> dict[str, Any]:
    return report.to_dict()
